"""The docstrings of the generated surface: reductions, unary functions and operators.

``GrumpyArray``'s reductions and operator methods and the unary functions of
``grumpy_arrow`` are made from the kernel tables (``compute.elementwise.UNARY`` /
``BINARY``, ``compute.reduce``'s operations) by small factories in the modules that own
them; their docstrings are filled from the tables here, one template per family, so that
every member documents its parameters, result, errors and a doctested example without
the same paragraphs being written out a dozen times.

Like ``_optional`` and ``_validate`` this module imports nothing of the package.
"""

from __future__ import annotations

import inspect
import textwrap
from collections.abc import Callable
from typing import Any, NamedTuple, TypeVar

__all__ = [
    "NAN_REDUCTIONS",
    "REDUCTIONS",
    "SECTIONS",
    "UNARY_FUNCTIONS",
    "Reduction",
    "UnaryFunction",
    "example_section",
    "name_method",
    "nan_reduction_doc",
    "operator_doc",
    "reduction_doc",
    "shared",
    "unary_function_doc",
]


_WIDTH = 88  # the docstrings' line width
_F = TypeVar("_F", bound=Callable[..., Any])


class Reduction(NamedTuple):
    """One reduction's documentation: what it computes and an example."""

    summary: str
    verb: str  # "The axis to <verb> ..."
    result: str  # a key of _RESULTS
    example: str  # the array of the example
    calls: str  # the example's expression, ``x`` being that array
    output: str  # what the expression prints
    ddof: bool = False  # takes ``ddof`` (std, var)


class UnaryFunction(NamedTuple):
    """One unary function's documentation: what it computes and an example."""

    summary: str
    result: str  # a key of _UNARY_RESULTS
    example: str  # the argument of the example
    output: str  # ``gr.<name>(example).to_list()``


# What a reduction gives: the Python scalar for ``dim=None``, and the dtype of the array.
_RESULTS: dict[str, tuple[str, str]] = {
    "widened": (
        "int or float",
        "integers widened to int64 / uint64 as in NumPy, floats as they are",
    ),
    "float": ("float", "float64 for integers, the float dtype for floats"),
    "leaf": ("scalar", "the leaf dtype"),
    "count": ("int", "int64"),
    "bool": ("bool", "bool"),
    "position": ("int or None", "int64 positions within each list"),
}

REDUCTIONS: dict[str, Reduction] = {
    "sum": Reduction(
        "Sum of valid values (empty segments give 0); see ``docs/array-model.md``.",
        "sum",
        "widened",
        "[[1, 2, 3], [], [4, 5]]",
        "x.sum(), x.sum(dim=1).to_list(), x.sum(dim=0).to_list()",
        "(15, [6, 0, 9], [5, 7, 3])",
    ),
    "prod": Reduction(
        "Product of valid values (empty segments give 1).",
        "multiply",
        "widened",
        "[[1, 2, 3], [], [4, None]]",
        "x.prod(), x.prod(dim=1).to_list()",
        "(24, [6, 1, 4])",
    ),
    "mean": Reduction(
        "Mean of valid values (empty segments give null).",
        "average",
        "float",
        "[[1, 2], [], [4, None]]",
        "x.mean(), x.mean(dim=1).to_list()",
        "(2.3333333333333335, [1.5, None, 4.0])",
    ),
    "min": Reduction(
        "Minimum (empty segments give null).",
        "take the minimum along",
        "leaf",
        "[[3, 1], [], [4]]",
        "x.min(), x.min(dim=1).to_list()",
        "(1, [1, None, 4])",
    ),
    "max": Reduction(
        "Maximum (empty segments give null).",
        "take the maximum along",
        "leaf",
        "[[3, 1], [], [4]]",
        "x.max(), x.max(dim=1).to_list()",
        "(4, [3, None, 4])",
    ),
    "std": Reduction(
        "Standard deviation with ``ddof`` delta degrees of freedom (0: population, as"
        " NumPy; 1: sample, as pandas). Segments of ``ddof`` values or fewer give null.",
        "take the standard deviation along",
        "float",
        "[[1.0, 3.0], [2.0], []]",
        "x.std(), x.std(dim=1, ddof=1).to_list()",
        "(0.816496580927726, [1.4142135623730951, None, None])",
        ddof=True,
    ),
    "var": Reduction(
        "Variance with ``ddof`` delta degrees of freedom (see :meth:`std`).",
        "take the variance along",
        "float",
        "[[1.0, 3.0], [2.0], []]",
        "x.var(), x.var(dim=1).to_list(), x.var(dim=1, ddof=1).to_list()",
        "(0.6666666666666666, [1.0, 0.0, None], [2.0, None, None])",
        ddof=True,
    ),
    "count": Reduction(
        "Number of valid values.",
        "count along",
        "count",
        "[[1, None, 3], [], None]",
        "x.count(), x.count(dim=1).to_list()",
        "(2, [2, 0, None])",
    ),
    "count_nonzero": Reduction(
        "Number of valid non-zero values.",
        "count along",
        "count",
        "[[1, 0, 3], [0, None]]",
        "x.count_nonzero(), x.count_nonzero(dim=1).to_list()",
        "(2, [2, 0])",
    ),
    "any": Reduction(
        "Whether any valid value is non-zero (empty segments give False).",
        "test along",
        "bool",
        "[[0, 2], [0], []]",
        "x.any(), x.any(dim=1).to_list()",
        "(True, [True, False, False])",
    ),
    "all": Reduction(
        "Whether every valid value is non-zero (empty segments give True).",
        "test along",
        "bool",
        "[[1, 2], [0], []]",
        "x.all(), x.all(dim=1).to_list()",
        "(False, [True, False, True])",
    ),
    "argmin": Reduction(
        "Position of the first minimum along ``dim`` (empty segments give null).",
        "search along",
        "position",
        "[[5, 1, 1], [], [7]]",
        "x.argmin(), x.argmin(dim=1).to_list()",
        "(1, [1, None, 0])",
    ),
    "argmax": Reduction(
        "Position of the first maximum along ``dim`` (empty segments give null).",
        "search along",
        "position",
        "[[5, 1, 5], [], [7]]",
        "x.argmax(), x.argmax(dim=1).to_list()",
        "(3, [0, None, 0])",
    ),
    "ptp": Reduction(
        "Peak to peak: max - min (empty segments give null).",
        "take the range along",
        "leaf",
        "[[5, 1, 3], [], [7]]",
        "x.ptp(), x.ptp(dim=1).to_list()",
        "(6, [4, None, 0])",
    ),
}

# The NaN-ignoring reductions: the summary's note and the example's output (the example
# passes ``ddof=1`` along rows where the reduction takes ``ddof``).
NAN_REDUCTIONS: dict[str, tuple[str, str]] = {
    "sum": (" (as ``np.nansum``)", "(4.0, [4.0, 0.0])"),
    "prod": ("", "(3.0, [3.0, 1.0])"),
    "mean": (" (rows of only NaN give null)", "(2.0, [2.0, None])"),
    "min": ("", "(1.0, [1.0, None])"),
    "max": ("", "(3.0, [3.0, None])"),
    "std": ("", "(1.0, [1.4142135623730951, None])"),
    "var": ("", "(1.0, [2.0, None])"),
}

_NAN_EXAMPLE = '[[1.0, float("nan"), 3.0], [float("nan")]]'

_UNARY_RESULTS = {
    "float": "The same structure; floats give floats, integers float64.",
    "same": "The same structure and dtype.",
    "bool": "The same structure, bool leaves.",
}

UNARY_FUNCTIONS: dict[str, UnaryFunction] = {
    "sqrt": UnaryFunction(
        "Square root (integers compute in float64; negative values give nan).",
        "float",
        "[[4, 9], [-1]]",
        "[[2.0, 3.0], [nan]]",
    ),
    "exp": UnaryFunction(
        "Exponential.", "float", "[[0.0, 1.0], []]", "[[1.0, 2.718281828459045], []]"
    ),
    "log": UnaryFunction(
        "Natural logarithm (0 gives -inf, negative values nan).",
        "float",
        "[[1.0, 0.0], [-1.0]]",
        "[[0.0, -inf], [nan]]",
    ),
    "log2": UnaryFunction("Base-2 logarithm.", "float", "[[1, 8], [0.5]]", "[[0.0, 3.0], [-1.0]]"),
    "log10": UnaryFunction(
        "Base-10 logarithm.", "float", "[[1, 1000], [0.1]]", "[[0.0, 3.0], [-1.0]]"
    ),
    "sin": UnaryFunction("Sine.", "float", "[[0.0], [-0.0]]", "[[0.0], [-0.0]]"),
    "cos": UnaryFunction("Cosine.", "float", "[[0.0], []]", "[[1.0], []]"),
    "tan": UnaryFunction("Tangent.", "float", "[[0.0], []]", "[[0.0], []]"),
    "arcsin": UnaryFunction(
        "Inverse sine.", "float", "[[0.0, 1.0], [2.0]]", "[[0.0, 1.5707963267948966], [nan]]"
    ),
    "arccos": UnaryFunction(
        "Inverse cosine.", "float", "[[1.0], [0.0]]", "[[0.0], [1.5707963267948966]]"
    ),
    "arctan": UnaryFunction(
        "Inverse tangent.", "float", "[[0.0, 1.0], []]", "[[0.0, 0.7853981633974483], []]"
    ),
    "sign": UnaryFunction(
        "-1, 0 or 1 with the input dtype.", "same", "[[-3, 0, 2], [-7]]", "[[-1, 0, 1], [-1]]"
    ),
    "floor": UnaryFunction(
        "Round down (integers unchanged).", "same", "[[1.5, -1.5], [2.0]]", "[[1.0, -2.0], [2.0]]"
    ),
    "ceil": UnaryFunction(
        "Round up (integers unchanged).", "same", "[[1.5, -1.5], [2.0]]", "[[2.0, -1.0], [2.0]]"
    ),
    "isnan": UnaryFunction(
        "True where a float value is NaN (integers: False; nulls stay null).",
        "bool",
        '[[1.0, float("nan"), None], []]',
        "[[False, True, None], []]",
    ),
    "isfinite": UnaryFunction(
        "True where a value is neither inf nor NaN.",
        "bool",
        '[[1.0, float("inf"), float("nan")]]',
        "[[True, False, False]]",
    ),
    "isinf": UnaryFunction(
        "True where a value is +inf or -inf.",
        "bool",
        '[[1.0, float("-inf"), float("nan")]]',
        "[[False, True, False]]",
    ),
}

_REDUCTION = """{summary}

Parameters
----------
dim : int, optional
{dim_text}{ddof_parameter}

Returns
-------
{scalar} or GrumpyArray
    A Python {scalar} for ``dim=None`` (or a flat array); else an array without axis
    ``dim``, of {dtype}.

Raises
------
OutOfBoundsError
    If ``dim`` is outside ``[-ndim, ndim)``.{ddof_error}

Examples
--------
>>> import grumpy_arrow as gr
>>> x = gr.array({example})
>>> {calls}
{output}
"""

_UNARY_FUNCTION = """{summary}

Parameters
----------
$numeric_x

Returns
-------
GrumpyArray
    {result}

$numbers_raises

{examples}"""

_OPERATOR = """``{expression}``, element-wise (the ``{kernel}`` kernel).

A scalar applies to every value; two arrays broadcast over their list levels (a value
meets every element of the list at the same position; see ``docs/array-model.md``).

Parameters
----------
other : scalar, array-like or GrumpyArray
    The other operand.

Returns
-------
GrumpyArray
    The broadcast structure; the dtype follows NumPy's promotion.
"""


_DDOF_PARAMETER = """
ddof : int, default 0
    Delta degrees of freedom: 0 gives the population statistic (NumPy's default), 1 the
    sample one (pandas' default)."""

_DDOF_ERROR = """
ValueError
    If ``ddof`` is not a non-negative integer."""


def reduction_doc(name: str) -> str:
    """The docstring of ``GrumpyArray.<name>`` (a key of :data:`REDUCTIONS`)."""
    r = REDUCTIONS[name]
    return _fill(r, summary=r.summary, example=r.example, calls=r.calls, output=r.output)


def nan_reduction_doc(name: str) -> str:
    """The docstring of ``GrumpyArray.nan<name>``: :meth:`<name>` with NaN as missing."""
    r = REDUCTIONS[name]
    note, output = NAN_REDUCTIONS[name]
    along = "dim=1, ddof=1" if r.ddof else "dim=1"
    return _fill(
        r,
        summary=f":meth:`{name}` treating NaN as missing{note}.",
        example=_NAN_EXAMPLE,
        calls=f"x.nan{name}(), x.nan{name}({along}).to_list()",
        output=output,
    )


def _fill(r: Reduction, summary: str, **parts: str) -> str:
    scalar, dtype = _RESULTS[r.result]
    dim_text = (
        f"The axis to {r.verb} (negative counts from the innermost axis); None (the"
        " default) takes every valid value at once."
    )
    return _REDUCTION.format(
        **parts,
        summary=textwrap.fill(summary, _WIDTH),
        dim_text=textwrap.indent(textwrap.fill(dim_text, _WIDTH - 4), "    "),
        scalar=scalar,
        dtype=dtype,
        ddof_parameter=_DDOF_PARAMETER if r.ddof else "",
        ddof_error=_DDOF_ERROR if r.ddof else "",
    )


def unary_function_doc(name: str) -> str:
    """The docstring of ``grumpy_arrow.<name>`` (a key of :data:`UNARY_FUNCTIONS`)."""
    f = UNARY_FUNCTIONS[name]
    doc = _UNARY_FUNCTION.format(
        summary=f.summary,
        result=_UNARY_RESULTS[f.result],
        examples=example_section(f"gr.{name}({f.example}).to_list()", f.output),
    )
    return _fill_sections(doc)


def example_section(call: str, output: str) -> str:
    """An Examples section whose doctest imports ``gr`` and runs ``call``, printing
    ``output``."""
    return f"Examples\n--------\n>>> import grumpy_arrow as gr\n>>> {call}\n{output}\n"


def operator_doc(kernel: str, symbol: str, reflected: bool) -> str:
    """The docstring of a binary operator method (``__add__`` ... ``__rxor__``)."""
    expression = f"other {symbol} self" if reflected else f"self {symbol} other"
    return _OPERATOR.format(expression=expression, kernel=kernel)


def name_method(method: Callable[..., Any], owner: str, name: str, doc: str) -> None:
    """Name a generated method or function as if it were written in ``owner``'s body
    (``owner=""`` for a module-level function) and give it its docstring."""
    method.__name__ = name
    method.__qualname__ = f"{owner}.{name}" if owner else name
    method.__doc__ = doc


# Docstring sections that several members share word for word: a member's docstring names
# one as ``$name`` on a line of its own, and :func:`shared` puts the text there.
SECTIONS: dict[str, str] = {
    "rowwise_dim": """\
dim : int, optional
    None (the default): every valid value at once; the innermost axis (-1): one result
    per innermost row.""",
    "median_result": """\
Returns
-------
scalar or GrumpyArray
    One number for ``dim=None`` (or a flat array), else one per innermost row (empty
    rows give null).

$rowwise_raises""",
    "median_parameters": """\
Parameters
----------
$rowwise_dim

$median_result""",
    "rowwise_raises": """\
Raises
------
$rowwise_layout_error""",
    "rowwise_layout_error": """\
LayoutError
    For a ``dim`` that is neither None nor the innermost axis.""",
    "quantile_parameters": """\
Parameters
----------
q : float or sequence of float
    The quantile(s), each in [0, 1].
dim : int, optional
    None (the default): every valid value at once; the innermost axis (-1): per
    innermost row.
method : {"linear", "lower", "higher", "nearest", "midpoint"}
    NumPy's interpolation between the two nearest values.

Returns
-------
float, numpy.ndarray or GrumpyArray
    A float for one ``q`` over all values, a NumPy vector for several; per row, a
    float per row (one ``q``) or a fixed axis of ``len(q)`` inside every row.

Raises
------
ValueError
    For an unknown ``method``, or a ``q`` outside [0, 1].
$rowwise_layout_error""",
    "sort_parameters": """\
dim : int, default -1
    The innermost axis (the only one sorted along).
descending : bool, default False
    Largest first.""",
    "sort_raises": """\
Raises
------
LayoutError
    For a ``dim`` that is not the innermost axis, or an array of records.""",
    "numeric_x": """\
x : array-like or GrumpyArray
    Numeric values at any depth (converted with :func:`grumpy_arrow.array`).""",
    "numbers_raises": """\
Raises
------
DTypeError
    For values that are not numbers (strings, records).""",
    "like_parameters": """\
x : array-like or GrumpyArray
    The array whose structure (lists, nulls of lists) is copied.""",
    "like_dtype": """\
dtype : dtype-like, optional
    The leaf dtype (default: that of ``x``).

Returns
-------
GrumpyArray
    The structure of ``x`` with ``dtype`` leaves.""",
    "set_operands": """\
Parameters
----------
a, b : array-like or GrumpyArray
    Values at any depth: every leaf counts.

Returns
-------
GrumpyArray
    A flat array, sorted.""",
    "head_tail": """\
Parameters
----------
n : int, default 5
    How many rows.

Returns
-------
DataFrame
    The rows, with every column's lists.""",
    "running": """\
Parameters
----------
dim : int, optional
    The innermost axis (-1, the default); None runs over all values, flat.

Returns
-------
GrumpyArray
    The same structure (flat for ``dim=None``).

$rowwise_raises""",
}


def shared(fn: _F) -> _F:
    """Decorator: fill the ``$name`` lines of ``fn``'s docstring from :data:`SECTIONS`
    (the docstring is dedented first, as ``inspect.cleandoc`` does)."""
    fn.__doc__ = _fill_sections(inspect.cleandoc(fn.__doc__ or "")) + "\n"
    return fn


def _fill_sections(doc: str) -> str:
    """``doc`` (dedented) with each ``$name`` line replaced by ``SECTIONS[name]``, indented
    like the line."""
    out = []
    for line in doc.split("\n"):
        name = line.strip()[1:] if line.strip().startswith("$") else None
        if name is None:
            out.append(line)
            continue
        indent = line[: len(line) - len(line.lstrip())]
        section = _fill_sections(SECTIONS[name])  # sections may name sections
        out += [indent + part if part else "" for part in section.split("\n")]
    return "\n".join(out)
