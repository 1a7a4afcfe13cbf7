"""Module-level constructors and functions: ``gr.array``, ``gr.concat``, ``gr.where``,
``gr.sqrt``... They validate their arguments and delegate to the compute kernels.

Examples
--------
>>> import grumpy_arrow as gr
>>> gr.where(gr.array([[1, 5], [7]]) > 4, 0, 1).to_list()
[[1, 0], [0]]
>>> gr.sqrt(gr.array([[4, 9], [16]])).to_list()
[[2.0, 3.0], [4.0]]
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol, cast

import numpy as np
import pyarrow as pa

from grumpy_arrow import dtypes as dt
from grumpy_arrow import layout as lay
from grumpy_arrow._docstrings import example_section, name_method, shared, unary_function_doc
from grumpy_arrow._typing import DTypeLike
from grumpy_arrow.array import GrumpyArray, asarray, is_scalar, operand_like, where_arrays
from grumpy_arrow.compute import index as ix
from grumpy_arrow.compute import structure as st
from grumpy_arrow.compute.broadcast import broadcast_nodes
from grumpy_arrow.compute.elementwise import (
    BINARY,
    UNARY,
    map_leaves,
    round_kernel,
    zip_leaves,
)
from grumpy_arrow.construct import from_numpy_array, parse_object
from grumpy_arrow.errors import ConversionError, LayoutError, OffsetsError
from grumpy_arrow.frame.dataframe import DataFrame, concat_frames, from_arrow_table

__all__ = [
    "apply_ufunc",
    "arccos",
    "arcsin",
    "arctan",
    "array",
    "ceil",
    "clip",
    "concat",
    "cos",
    "exp",
    "floor",
    "from_arrow",
    "from_numpy",
    "from_offsets",
    "full_like",
    "isfinite",
    "isinf",
    "isnan",
    "log",
    "log2",
    "log10",
    "ones_like",
    "round",
    "sign",
    "sin",
    "sqrt",
    "tan",
    "where",
    "zeros_like",
]


def array(obj: Any, dtype: DTypeLike | None = None) -> GrumpyArray:
    """Build a GrumpyArray from Python values, NumPy, Arrow or PyCapsule objects.

    Parameters
    ----------
    obj : scalar, nested list/tuple, numpy.ndarray, pyarrow.Array, pyarrow.ChunkedArray,
        an object with ``__arrow_c_array__`` / ``__arrow_c_stream__``, or a GrumpyArray.
        Rows may mix scalars and lists (a union) at any depth; ``None`` is null.
    dtype : dtype-like, optional
        The leaf dtype. Inferred when omitted: bool, int64, float64 or string.

    Returns
    -------
    GrumpyArray

    Raises
    ------
    DTypeError
        Strings mixed with numbers, unsupported values, or all-null input without dtype.
    ConversionError
        A value that does not fit ``dtype`` (naming value, dtype and position).
    LayoutError
        An Arrow layout that is not a list-chain or a scalar-or-list union.

    Examples
    --------
    >>> import grumpy_arrow as gr
    >>> gr.array([[1, 2, 3], [4, 5]], dtype=gr.int32).type
    '2 * var * int32'
    >>> gr.array(["P12345", ["P12345-1", "P12345-2"], None], dtype=gr.string).to_list()
    ['P12345', ['P12345-1', 'P12345-2'], None]
    >>> gr.array([1.5], dtype=gr.int32)
    Traceback (most recent call last):
    ...
    grumpy_arrow.errors.ConversionError: cannot convert 1.5 at position [0] to int32
    """
    target = None if dtype is None else dt.dtype(dtype)
    if isinstance(obj, GrumpyArray):
        if target is None or obj.dtype == target:
            return obj
        return obj.astype(target, casting="same_kind")
    return asarray(obj, target)


def from_numpy(arr: np.ndarray) -> GrumpyArray:
    """A rectangular NumPy array as a list-chain (leaf values shared when contiguous).

    Parameters
    ----------
    arr : numpy.ndarray
        Any number of dimensions; an object array goes through :func:`array` (ragged
        rows, None).

    Returns
    -------
    GrumpyArray
        ``arr.ndim`` axes, every axis below the first a fixed one.

    Raises
    ------
    TypeError
        If ``arr`` is not a ``numpy.ndarray``.

    Examples
    --------
    >>> import numpy as np, grumpy_arrow as gr
    >>> x = gr.from_numpy(np.arange(6).reshape(2, 3))
    >>> x.to_list(), x.type
    ([[0, 1, 2], [3, 4, 5]], '2 * 3 * int64')
    """
    if not isinstance(arr, np.ndarray):
        raise TypeError(f"from_numpy needs a numpy.ndarray, got {type(arr).__name__}")
    if arr.dtype == object:
        return array(arr)
    return GrumpyArray(from_numpy_array(arr))


def from_arrow(obj: Any, schema: Any = None, *, levels: Any = None) -> Any:
    """Wrap Arrow data without copying values: arrays become GrumpyArrays, tables frames.

    Parameters
    ----------
    obj : pyarrow Array, ChunkedArray, Table, RecordBatch or RecordBatchReader, or any
        object with ``__arrow_c_array__`` / ``__arrow_c_stream__`` (a DataFrame too).
    schema : list of levels, optional
        For tables: the frame's schema (default: the one in the table's metadata).
    levels : dict, optional
        For tables: columns placed at levels by name, whatever their prefix
        (``{"charge": "atom"}``: a column computed in Polars or DuckDB keeps its name).

    Returns
    -------
    GrumpyArray or DataFrame
        ``list`` and ``fixed_size_list`` columns become ``large_list`` (offsets widened).

    Raises
    ------
    TypeError
        For objects that are not Arrow data, or ``schema`` / ``levels`` given for an array.

    Examples
    --------
    >>> import pyarrow as pa
    >>> import grumpy_arrow as gr
    >>> gr.from_arrow(pa.array([[1, 2], None, []]))
    <GrumpyArray [[1, 2], None, []] type='3 * var * int64'>
    >>> gr.from_arrow(pa.table({"id": [1, 2]})).to_dict()
    {'id': [1, 2]}
    """
    if isinstance(obj, (pa.Table, pa.RecordBatch)):
        return from_arrow_table(obj, schema, levels=levels)
    if isinstance(obj, pa.RecordBatchReader):
        return from_arrow_table(obj.read_all(), schema, levels=levels)
    if isinstance(obj, (pa.Array, pa.ChunkedArray)) or hasattr(obj, "__arrow_c_array__"):
        return _array_only(obj, schema, levels)
    if hasattr(obj, "__arrow_c_stream__"):
        # A stream of record batches is a table (its schema metadata kept); Arrow refuses to
        # import any other stream as batches, and that one is an array.
        try:
            reader = pa.RecordBatchReader.from_stream(obj)
        except pa.ArrowInvalid:
            return _array_only(obj, schema, levels)
        return from_arrow_table(reader.read_all(), schema, levels=levels)
    raise TypeError(
        f"from_arrow needs a pyarrow Array/ChunkedArray/Table or an Arrow PyCapsule exporter, "
        f"got {type(obj).__name__}"
    )


def _array_only(obj: Any, schema: Any, levels: Any) -> GrumpyArray:
    if schema is not None or levels is not None:
        raise TypeError("schema= and levels= apply to tables (frames), not to arrays")
    return asarray(obj)


def from_offsets(values: Any, offsets: Any, *, validity: Any = None) -> GrumpyArray:
    """Lists over ``values`` delimited by ``offsets`` (length n + 1, non-decreasing).

    Parameters
    ----------
    values : array-like
        The content (any layout).
    offsets : array-like of int
        Row ``i`` is ``values[offsets[i]:offsets[i + 1]]``.
    validity : array-like of bool, optional
        False marks a null row; null rows must be empty.

    Returns
    -------
    GrumpyArray
        ``len(offsets) - 1`` rows, one axis deeper than ``values``.

    Raises
    ------
    OffsetsError
        For offsets that decrease, are negative, or point past ``values``.

    Examples
    --------
    >>> import grumpy_arrow as gr
    >>> gr.from_offsets([1, 2, 3, 4], [0, 3, 3, 4]).to_list()
    [[1, 2, 3], [], [4]]
    >>> gr.from_offsets([1, 2], [0, 2, 2], validity=[True, False]).to_list()
    [[1, 2], None]
    """
    content = asarray(values)
    off = np.asarray(offsets)
    if off.ndim != 1 or len(off) == 0 or off.dtype.kind not in "iu":
        raise OffsetsError(f"offsets must be a non-empty 1-D integer array, got {off!r}")
    off = off.astype(np.int64)
    if off[0] < 0 or off[-1] > len(content) or np.any(np.diff(off) < 0):
        raise OffsetsError(
            f"offsets must be non-decreasing within [0, {len(content)}]; got first "
            f"{int(off[0])}, last {int(off[-1])}"
            + (
                ""
                if not np.any(np.diff(off) < 0)
                else f", decreasing at position {int(np.flatnonzero(np.diff(off) < 0)[0]) + 1}"
            )
        )
    valid = None
    if validity is not None:
        valid = np.asarray(validity, dtype=bool)
        if len(valid) != len(off) - 1:
            raise OffsetsError(f"validity has {len(valid)} entries for {len(off) - 1} rows")
        if np.any(np.diff(off)[~valid] != 0):
            raise OffsetsError("null rows must be empty (equal consecutive offsets)")
        if valid.all():
            valid = None
    sub = content[int(off[0]) : int(off[-1])]
    node = lay.ListNode(off - off[0], valid, sub.node)
    return GrumpyArray._wrap(node)


def concat(arrays: list[Any], dim: int = 0) -> Any:
    """Concatenate rows (``dim=0``) or the lists of each row (``dim=1``); frames row-wise.

    With ``dim=0`` leaf dtypes promote, and scalar rows joined with list rows make a union.

    Parameters
    ----------
    arrays : list of array-like, GrumpyArray or DataFrame
        At least one; frames only with frames.
    dim : {0, 1}
        0 joins the rows one after another; 1 joins row ``i`` of every array into one
        list (the arrays must have the same length).

    Returns
    -------
    GrumpyArray or DataFrame
        A frame when frames are concatenated.

    Raises
    ------
    ValueError
        For no arrays.
    LayoutError
        For another ``dim``, frames mixed with arrays, or frames with ``dim=1``.

    Examples
    --------
    >>> import grumpy_arrow as gr
    >>> gr.concat([gr.array([[1], [2, 3]]), gr.array([[4.5]])]).to_list()
    [[1.0], [2.0, 3.0], [4.5]]
    >>> gr.concat([gr.array([[1], [2]]), gr.array([[3], [4, 5]])], dim=1).to_list()
    [[1, 3], [2, 4, 5]]
    """
    items = list(arrays)
    if not items:
        raise ValueError("concat needs at least one array")
    if any(isinstance(a, DataFrame) for a in items):
        if dim != 0 or not all(isinstance(a, DataFrame) for a in items):
            raise LayoutError("frames concatenate row-wise (dim=0) with frames only")
        return concat_frames(items)
    parts = [asarray(a).to_arrow() for a in items]
    if dim == 0:
        return GrumpyArray(st.concat_nodes(parts))
    if dim == 1:
        return GrumpyArray(st.concat_rows(parts))
    raise LayoutError(f"concat supports dim=0 or dim=1, got {dim!r}")


def stack(arrays: list[Any], axis: int = -1) -> GrumpyArray:
    """Join arrays of one structure along a new **fixed** axis.

    ``axis=-1`` puts the new axis innermost: three ``n * var * float32`` coordinate
    columns give ``n * var * 3 * float32`` points. ``axis=0`` puts it outermost: ``k``
    arrays of ``n`` rows give ``k * n * ...``. The arrays broadcast against each other
    first (a scalar or per-row value joins every element of its row) and leaf dtypes
    promote as in arithmetic.

    Parameters
    ----------
    arrays : list of array-likes
        At least one; a union (scalar-or-list rows) cannot be stacked.
    axis : {-1, 0}
        Where the new axis goes (also ``ndim``, the same as -1).

    Returns
    -------
    GrumpyArray

    Raises
    ------
    ValueError
        For no arrays, or another ``axis``.
    LayoutError
        For unions, or ``axis=0`` over arrays of different lengths.
    BroadcastError
        When the arrays' structures do not broadcast.

    Examples
    --------
    >>> import grumpy_arrow as gr
    >>> x, y = gr.array([[1.0, 2.0], [3.0]]), gr.array([[4.0, 5.0], [6.0]])
    >>> p = gr.stack([x, y, 0.0])
    >>> p.type, p.to_list()
    ('2 * var * 3 * float64', [[[1.0, 4.0, 0.0], [2.0, 5.0, 0.0]], [[3.0, 6.0, 0.0]]])
    >>> gr.stack([gr.array([1, 2]), gr.array([3, 4])], axis=0).type
    '2 * 2 * int64'
    """
    items = list(arrays)
    if not items:
        raise ValueError("stack needs at least one array")
    parts = _stack_operands(items)
    if axis == 0:
        lengths = {len(p) for p in parts}
        if len(lengths) != 1:
            raise LayoutError(
                f"stack(axis=0) needs arrays of one length, got lengths {sorted(lengths)}"
            )
        node = lay.from_arrow(st.concat_nodes([p.to_arrow() for p in parts]))
        if lengths == {0}:  # rows of no items: an axis of length 0 is not a fixed axis
            empty = np.zeros(len(parts) + 1, dtype=np.int64)
            return GrumpyArray._wrap(lay.ListNode(empty, None, node))
        return GrumpyArray._wrap(lay.fixed_list(node, len(parts[0])))
    if axis not in (-1, max(p.ndim for p in parts)):
        raise ValueError(f"stack puts the new axis first (axis=0) or last (axis=-1), got {axis!r}")
    nodes = [p.node for p in parts]
    for _ in range(2):  # pairwise against the first until all share one structure
        for i in range(1, len(nodes)):
            nodes[0], nodes[i] = broadcast_nodes(nodes[0], nodes[i])
    k = len(nodes)

    def interleave(*leaves: pa.Array) -> pa.Array:
        # Element j of array i goes to position j * k + i: one take over the concatenation.
        n = len(leaves[0])
        order = (
            np.arange(k, dtype=np.int64)[None, :] * n + np.arange(n, dtype=np.int64)[:, None]
        ).reshape(-1)
        return pa.concat_arrays(list(leaves)).take(pa.array(order))

    return GrumpyArray._wrap(_wrap_leaves(zip_leaves(nodes, interleave), k))


def _stack_operands(items: list[Any]) -> list[GrumpyArray]:
    """The arrays to stack, scalars made arrays, all of one promoted dtype."""
    arrays = [asarray(a) for a in items if not is_scalar(a)]
    if not arrays:
        raise ValueError("stack needs at least one array (not only scalars)")
    common = arrays[0].dtype
    for a in arrays[1:]:
        common = dt.promote_types(common, a.dtype)
    for a in items:
        if is_scalar(a) and a is not None:
            common = dt.result_type_with_scalar(common, a)
    out = [
        (asarray(a) if not is_scalar(a) else operand_like(a, arrays[0])).astype(common)
        for a in items
    ]
    if any(a.is_union for a in out):
        raise LayoutError("stack cannot join unions (rows mixing scalars and lists)")
    return out


def _wrap_leaves(node: lay.Node, k: int) -> lay.Node:
    """``node`` with each leaf of ``k * n`` interleaved values made ``n`` rows of a fixed
    axis of size ``k``."""
    if isinstance(node, lay.Leaf):
        return lay.fixed_list(node, k)
    assert isinstance(node, lay.ListNode)
    return node.with_content(_wrap_leaves(node.content, k))


_NO_ARG: Any = object()


def where(condition: Any, x: Any = _NO_ARG, y: Any = _NO_ARG) -> Any:
    """Pick ``x`` where ``condition`` is true, else ``y``; all three broadcast (see
    docs/array-model.md, "Broadcasting").
    Either may be None: a null there (``gr.where(x > 0, None, x)`` blanks the rest).

    With the condition alone, NumPy's one-argument ``where``: the coordinates of every
    true value, one flat int64 array per axis (see :func:`nonzero`).

    Parameters
    ----------
    condition : array-like of bool or GrumpyArray
        Where to take ``x``.
    x : scalar, array-like or None, optional
        The values where ``condition`` is true (None: null).
    y : scalar, array-like or None, optional
        The values elsewhere (None: null).

    Returns
    -------
    GrumpyArray or tuple of GrumpyArray
        The broadcast structure with the common dtype of ``x`` and ``y``; with the
        condition alone, :func:`nonzero`'s coordinates.

    Raises
    ------
    TypeError
        If only one of ``x`` and ``y`` is given.
    DTypeError
        If the condition is not bool, or both ``x`` and ``y`` are None.
    BroadcastError
        If the operands do not broadcast.

    Examples
    --------
    >>> import grumpy_arrow as gr
    >>> x = gr.array([[1.5, -2.0], [3.0]])
    >>> gr.where(x > 0, None, x).to_list()
    [[None, -2.0], [None]]
    >>> rows, positions = gr.where(x > 0)
    >>> rows.to_list(), positions.to_list()
    ([0, 1], [0, 0])
    """
    traced = next((v for v in (condition, x, y) if getattr(v, "_gr_traced", False)), None)
    if traced is not None:  # inside gr.compile's trace: record it
        return traced._gr_where(condition, x, y)
    if x is _NO_ARG and y is _NO_ARG:
        return nonzero(condition)
    if x is _NO_ARG or y is _NO_ARG:
        raise TypeError("where takes a condition alone, or a condition, x and y")
    return where_arrays(condition, x, y)


def nonzero(condition: Any) -> tuple[GrumpyArray, ...]:
    """Coordinates of every true (non-zero, non-null) value: one flat int64 array per
    axis, as ``np.nonzero`` (row, then position in the row, and so on down).

    Parameters
    ----------
    condition : array-like or GrumpyArray
        Values at any depth; non-zero counts as true.

    Returns
    -------
    tuple of GrumpyArray
        ``ndim`` flat int64 arrays of equal length.

    Examples
    --------
    >>> import grumpy_arrow as gr
    >>> [c.to_list() for c in gr.nonzero(gr.array([[0, 3], [], [5, 0, 1]]))]
    [[0, 2, 2], [1, 0, 2]]
    """
    coords = ix.nonzero_coordinates(asarray(condition).node)
    return tuple(GrumpyArray(pa.array(c, type=pa.int64())) for c in coords)


@shared
def full_like(x: Any, fill_value: Any, dtype: DTypeLike | None = None) -> GrumpyArray:
    """Same structure as ``x``, every leaf set to ``fill_value`` (leaf nulls included).

    Parameters
    ----------
    $like_parameters
    fill_value : scalar
        The value of every leaf; it must fit the dtype.
    $like_dtype

    Raises
    ------
    ConversionError
        If ``fill_value`` does not fit the dtype.

    Examples
    --------
    >>> import grumpy_arrow as gr
    >>> gr.full_like([[1, 2], [None]], 7).to_list()
    [[7, 7], [7]]
    >>> gr.full_like([[1]], 1.5)
    Traceback (most recent call last):
    ...
    grumpy_arrow.errors.ConversionError: fill value 1.5 does not fit int64
    """
    arr = asarray(x)
    target = arr.dtype if dtype is None else dt.dtype(dtype)
    try:
        fill = parse_object([fill_value], target)[0]
    except ConversionError as err:
        raise ConversionError(f"fill value {fill_value!r} does not fit {target.name}") from err
    return GrumpyArray._wrap(map_leaves(arr.node, lambda v: pa.repeat(fill, len(v))))


class _ConstantLike(Protocol):
    def __call__(self, x: Any, dtype: DTypeLike | None = None) -> GrumpyArray: ...


def _constant_like(name: str, fill: int, example: str, output: str) -> _ConstantLike:
    """``zeros_like`` / ``ones_like``: :func:`full_like` with ``fill``; the docstring shows
    ``gr.<name>(<example>)`` printing ``output``."""

    def function(x: Any, dtype: DTypeLike | None = None) -> GrumpyArray:
        return full_like(x, fill, dtype)

    parameters = "Parameters\n----------\n$like_parameters\n$like_dtype"
    examples = example_section(f"gr.{name}({example})", output)
    doc = f"Same structure as ``x`` filled with {fill}.\n\n{parameters}\n\n{examples}"
    name_method(function, "", name, doc)
    return shared(function)


zeros_like = _constant_like(
    "zeros_like",
    0,
    "gr.array([[1, 2], [3]]), gr.float32",
    "<GrumpyArray [[0.0, 0.0], [0.0]] type='2 * var * float32'>",
)
ones_like = _constant_like(
    "ones_like",
    1,
    "gr.array([[1.5], [], None])",
    "<GrumpyArray [[1.0], [], None] type='3 * var * float64'>",
)


def _unary_function(name: str) -> Callable[[Any], GrumpyArray]:
    """The function ``grumpy_arrow.<name>``: the ``compute.elementwise.UNARY`` kernel
    ``name`` on every leaf, documented from ``_docstrings.UNARY_FUNCTIONS``."""
    kernel = UNARY[name]

    def function(x: Any) -> GrumpyArray:
        return GrumpyArray._wrap(map_leaves(asarray(x).node, kernel))

    name_method(function, "", name, unary_function_doc(name))
    return function


sqrt = _unary_function("sqrt")
exp = _unary_function("exp")
log = _unary_function("log")
log2 = _unary_function("log2")
log10 = _unary_function("log10")
sin = _unary_function("sin")
cos = _unary_function("cos")
tan = _unary_function("tan")
arcsin = _unary_function("arcsin")
arccos = _unary_function("arccos")
arctan = _unary_function("arctan")
sign = _unary_function("sign")
floor = _unary_function("floor")
ceil = _unary_function("ceil")
isnan = _unary_function("isnan")
isfinite = _unary_function("isfinite")
isinf = _unary_function("isinf")


@shared
def round(x: Any, decimals: int = 0) -> GrumpyArray:
    """Round half to even to ``decimals`` places.

    Parameters
    ----------
    $numeric_x
    decimals : int, default 0
        Decimal places to keep (negative rounds to tens, hundreds...).

    Returns
    -------
    GrumpyArray
        The same structure and dtype (integers unchanged).

    $numbers_raises

    Examples
    --------
    >>> import grumpy_arrow as gr
    >>> gr.round([[0.5, 1.5, 2.5], [-0.5]]).to_list()
    [[0.0, 2.0, 2.0], [-0.0]]
    >>> gr.round([[1.25, 3.14159]], 2).to_list()
    [[1.25, 3.14]]
    """
    return GrumpyArray._wrap(map_leaves(asarray(x).node, round_kernel(decimals)))


def clip(x: Any, lower: Any = None, upper: Any = None) -> GrumpyArray:
    """Limit values to ``[lower, upper]`` (either may be None; both broadcast).

    Parameters
    ----------
    x : array-like or GrumpyArray
        Numeric values at any depth.
    lower : scalar or array-like, optional
        The smallest value kept (None: no lower bound).
    upper : scalar or array-like, optional
        The largest value kept (None: no upper bound).

    Returns
    -------
    GrumpyArray
        The broadcast structure; nulls and NaN stay as they are.

    Raises
    ------
    BroadcastError
        If a bound does not broadcast against ``x``.

    Examples
    --------
    >>> import grumpy_arrow as gr
    >>> gr.clip([[1, 5, 9], [-2, None]], 0, 6).to_list()
    [[1, 5, 6], [0, None]]
    >>> gr.clip([[1, 5], [9]], upper=gr.array([4, 8])).to_list()
    [[1, 4], [8]]
    """
    if getattr(x, "_gr_traced", False):  # inside gr.compile's trace: record it
        return cast("GrumpyArray", x.clip(lower, upper))
    out = asarray(x)
    if lower is not None:
        out = out._binary(lower, "maximum")
    if upper is not None:
        out = out._binary(upper, "minimum")
    return out


# NumPy ufuncs whose kernel has another name; every other ufunc named like a kernel of
# compute.elementwise.UNARY / BINARY runs that kernel.
_UFUNC_ALIASES = {
    "divide": "true_divide",
    "logical_not": "invert",
    "logical_and": "and",
    "logical_or": "or",
    "logical_xor": "xor",
    "bitwise_and": "and",
    "bitwise_or": "or",
    "bitwise_xor": "xor",
}


def apply_ufunc(ufunc: np.ufunc, inputs: tuple[Any, ...]) -> Any:
    """Dispatch a NumPy ufunc call on GrumpyArrays to the matching kernel."""
    name = ufunc.__name__
    op = _UFUNC_ALIASES.get(name, name)
    if op in UNARY and len(inputs) == 1:
        return asarray(inputs[0])._unary(op)
    if name == "rint" and len(inputs) == 1:
        return round(inputs[0])
    if op in BINARY and len(inputs) == 2:
        a, b = inputs
        if isinstance(a, GrumpyArray):
            return a._binary(b, op)
        return asarray(b)._binary(a, op, True) if is_scalar(a) else asarray(a)._binary(b, op)
    return NotImplemented
