"""NaN-aware equality assertions for GrumpyArrays and the nested Python values they hold.

Examples
--------
>>> import grumpy_arrow as gr
>>> from grumpy_arrow.testing import assert_array_equal, assert_values_equal, values_equal
>>> nan = float("nan")
>>> values_equal([1.0, [nan, None]], [1.0, [nan, None]])
True
>>> values_equal([True], [1])  # a bool never equals a number
False
>>> assert_values_equal([[1, 2], [3]], [[1, 2], [4]])
Traceback (most recent call last):
...
AssertionError: values differ at [1][0]: 3 != 4
>>> assert_array_equal(gr.array([1, 2], dtype=gr.int32), gr.array([1, 2], dtype=gr.int64))
Traceback (most recent call last):
...
AssertionError: types differ: '2 * int32' != '2 * int64'
"""

from __future__ import annotations

from typing import Any

from grumpy_arrow.array import GrumpyArray
from grumpy_arrow.compute.compare import first_difference
from grumpy_arrow.frame.dataframe import DataFrame

__all__ = ["assert_array_equal", "assert_arrow_equal", "assert_values_equal", "values_equal"]


def values_equal(actual: Any, expected: Any, *, rtol: float = 0.0) -> bool:
    """Whether two nested Python values are equal, with NaN equal to NaN.

    Lists and tuples compare element by element (a list equals a tuple of the same values),
    ``None`` only equals ``None``, a bool never equals a number, and other scalars use
    ``==`` (so ``1 == 1.0`` and ``0.0 == -0.0``). With ``rtol``, numbers may differ by
    ``rtol`` times the larger magnitude (at least 1): for float results computed in
    another order (compiled against eager code).
    """
    return first_difference(actual, expected, "", rtol) is None


def assert_values_equal(actual: Any, expected: Any, *, rtol: float = 0.0) -> None:
    """Assert :func:`values_equal`, naming the path of the first difference.

    Raises
    ------
    AssertionError
        When the values differ.
    """
    found = first_difference(actual, expected, "", rtol)
    if found is not None:
        raise AssertionError(found)


def assert_array_equal(
    actual: GrumpyArray, expected: GrumpyArray, *, check_type: bool = True, rtol: float = 0.0
) -> None:
    """Assert two GrumpyArrays have the same type string and the same values (NaN-aware).

    Parameters
    ----------
    actual, expected : GrumpyArray
    check_type : bool, default True
        Also compare the type strings (``'2 * var * int64'``); with False only the values
        (``to_list()``) are compared.
    rtol : float, default 0
        Tolerance for numbers (see :func:`values_equal`).

    Raises
    ------
    AssertionError
        When the types or values differ.
    TypeError
        When either argument is not a GrumpyArray.
    """
    for name, arr in (("actual", actual), ("expected", expected)):
        if not isinstance(arr, GrumpyArray):
            raise TypeError(f"{name} must be a GrumpyArray, got {type(arr).__name__}")
    if check_type and actual.type != expected.type:
        raise AssertionError(f"types differ: {actual.type!r} != {expected.type!r}")
    assert_values_equal(actual.to_list(), expected.to_list(), rtol=rtol)


def assert_arrow_equal(actual: Any, expected: Any) -> None:
    """Assert two arrays (or frames, column by column) have equal Arrow types and data.

    Stricter than :func:`assert_array_equal`: the Arrow types must match exactly (offset
    widths, string widths, union children), and unions are compared natively. Frames
    must also have the same columns, schema and length.

    Raises
    ------
    AssertionError
        At the first difference.

    Examples
    --------
    >>> import grumpy_arrow as gr
    >>> from grumpy_arrow.testing import assert_arrow_equal
    >>> assert_arrow_equal(gr.array([1, [2, 3]]), gr.array([1, [2, 3]]))
    """
    if isinstance(expected, GrumpyArray):
        assert isinstance(actual, GrumpyArray), type(actual)
        assert actual.to_arrow().type == expected.to_arrow().type
        assert actual.to_arrow().equals(expected.to_arrow())
        return
    assert isinstance(actual, DataFrame), type(actual)
    assert (actual.columns, actual.schema, len(actual)) == (
        expected.columns,
        expected.schema,
        len(expected),
    )
    for name in expected.columns:
        assert_arrow_equal(actual[name], expected[name])
