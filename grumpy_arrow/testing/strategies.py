"""Hypothesis strategies for grumpy_arrow: dtypes, leaf values, nested values, arrays.

Needs the optional ``hypothesis`` dependency: ``pip install 'grumpy_arrow[test]'``.

The nested values are what :func:`grumpy_arrow.array` takes: a list of rows, where a row is
a scalar, ``None`` or a list nested to any depth up to ``max_depth``. Where scalars and lists
meet at one level the array gets a union there. Every leaf value converts to its dtype
exactly, so ``gr.array(value, dtype=dtype).to_list() == value``; tuples are never generated.

Examples
--------
>>> import grumpy_arrow as gr
>>> from hypothesis import given, settings
>>> from grumpy_arrow.testing import assert_values_equal
>>> from grumpy_arrow.testing.strategies import nested_values
>>> @settings(max_examples=10, deadline=None, database=None)
... @given(nested_values(gr.int8, max_depth=2))
... def test_round_trip(value):
...     assert_values_equal(gr.array(value, dtype=gr.int8).to_list(), value)
>>> test_round_trip()
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np

try:
    from hypothesis import strategies as st
except ImportError as err:  # pragma: no cover - exercised by a test with hypothesis hidden
    raise ImportError(
        "grumpy_arrow.testing.strategies needs hypothesis; install it with "
        "pip install 'grumpy_arrow[test]'"
    ) from err

from grumpy_arrow import dtypes as dt
from grumpy_arrow.array import GrumpyArray
from grumpy_arrow.functions import array

__all__ = [
    "ALL_DTYPES",
    "arrays",
    "dtype_and_values",
    "dtypes",
    "leaf_values",
    "nested_values",
]

ALL_DTYPES: tuple[dt.DType, ...] = (
    dt.int8, dt.int16, dt.int32, dt.int64, dt.uint8, dt.uint16, dt.uint32, dt.uint64,
    dt.float16, dt.float32, dt.float64, dt.bool_, dt.string, dt.binary,
)  # fmt: skip
"""Every leaf dtype, in the order :func:`dtypes` draws (and shrinks towards) them."""

_KINDS = "iufbUS"
_FLOAT_WIDTH: dict[str, Literal[16, 32, 64]] = {"float16": 16, "float32": 32, "float64": 64}


def dtypes(kinds: str = _KINDS) -> st.SearchStrategy[dt.DType]:
    """Leaf dtypes whose NumPy kind character is in ``kinds``.

    Parameters
    ----------
    kinds : str
        Any of ``i`` (signed), ``u`` (unsigned), ``f`` (float), ``b`` (bool), ``U`` (string)
        and ``S`` (binary); all of them by default.

    Raises
    ------
    ValueError
        If ``kinds`` is empty or holds an unknown kind.
    """
    unknown = sorted(set(kinds) - set(_KINDS))
    if unknown or not kinds:
        raise ValueError(f"kinds must be a non-empty string of {_KINDS!r}, got {kinds!r}")
    return st.sampled_from([d for d in ALL_DTYPES if d.kind in kinds])


def leaf_values(
    dtype: Any,
    *,
    min_value: int | float | None = None,
    max_value: int | float | None = None,
    allow_nan: bool = False,
    allow_infinity: bool = True,
) -> st.SearchStrategy[Any]:
    """Non-null Python scalars that a ``dtype`` leaf stores exactly.

    Integers stay in the dtype's range, floats are exactly representable at the dtype's
    width (so float16/float32 values round-trip unchanged), strings are arbitrary text and
    binary values arbitrary bytes.

    Parameters
    ----------
    dtype : dtype-like
    min_value, max_value : number, optional
        Narrower bounds for integer and float dtypes (ignored for the others).
    allow_nan : bool, default False
        Whether floats may be NaN (compare with :func:`grumpy_arrow.testing.values_equal`).
    allow_infinity : bool, default True
        Whether floats may be infinite (only without bounds on that side).
    """
    d = dt.dtype(dtype)
    if d.kind in "iu":
        info = np.iinfo(d.numpy)
        lo = int(info.min) if min_value is None else max(int(info.min), int(min_value))
        hi = int(info.max) if max_value is None else min(int(info.max), int(max_value))
        return st.integers(lo, hi)
    if d.kind == "f":
        bounded = min_value is not None or max_value is not None
        return st.floats(
            min_value=min_value,
            max_value=max_value,
            allow_nan=allow_nan and not bounded,
            allow_infinity=allow_infinity and not bounded,
            width=_FLOAT_WIDTH[d.name],
        )
    if d.kind == "b":
        return st.booleans()
    if d.kind == "U":
        return st.text()
    return st.binary()


def nested_values(
    dtype: Any,
    max_depth: int = 3,
    *,
    unions: bool = True,
    nulls: bool = True,
    min_size: int = 0,
    max_size: int = 6,
    max_list_size: int = 4,
    leaves: st.SearchStrategy[Any] | None = None,
) -> st.SearchStrategy[list[Any]]:
    """Nested Python lists of ``dtype`` leaves: the rows of one array.

    Parameters
    ----------
    dtype : dtype-like
        The leaf dtype (values come from :func:`leaf_values` unless ``leaves`` is given).
    max_depth : int, default 3
        The deepest list nesting inside a row (the array's ``ndim`` is at most
        ``max_depth + 1``).
    unions : bool, default True
        Whether scalars and lists may meet at one level (which makes a union). Without
        unions every row nests to the same depth, giving a plain list-chain.
    nulls : bool, default True
        Whether ``None`` may stand for a row, a list or a leaf value. All-null values come
        up too: they need an explicit ``dtype=`` in :func:`grumpy_arrow.array`.
    min_size, max_size : int
        Bounds on the number of rows.
    max_list_size : int, default 4
        The longest list below the rows.
    leaves : SearchStrategy, optional
        Custom non-null leaf values (e.g. ``leaf_values(gr.int64, min_value=-9,
        max_value=9)``).
    """
    if max_depth < 0:
        raise ValueError(f"max_depth must be >= 0, got {max_depth}")
    leaf = leaf_values(dtype) if leaves is None else leaves
    item = st.none() | leaf if nulls else leaf
    if unions:
        node = item
        for _ in range(max_depth):
            node = item | st.lists(node, max_size=max_list_size)
        return st.lists(node, min_size=min_size, max_size=max_size)

    def chain(depth: int) -> st.SearchStrategy[list[Any]]:
        node = item
        for _ in range(depth):
            lists = st.lists(node, max_size=max_list_size)
            node = st.none() | lists if nulls else lists
        return st.lists(node, min_size=min_size, max_size=max_size)

    return st.integers(0, max_depth).flatmap(chain)


def dtype_and_values(
    kinds: str = _KINDS,
    max_depth: int = 3,
    *,
    unions: bool = True,
    nulls: bool = True,
    min_size: int = 0,
    max_size: int = 6,
    max_list_size: int = 4,
) -> st.SearchStrategy[tuple[dt.DType, list[Any]]]:
    """Pairs ``(dtype, value)``: a dtype from :func:`dtypes` and :func:`nested_values` of it."""

    def values_of(d: dt.DType) -> st.SearchStrategy[tuple[dt.DType, list[Any]]]:
        values = nested_values(
            d,
            max_depth,
            unions=unions,
            nulls=nulls,
            min_size=min_size,
            max_size=max_size,
            max_list_size=max_list_size,
        )
        return st.tuples(st.just(d), values)

    return dtypes(kinds).flatmap(values_of)


@st.composite
def arrays(
    draw: st.DrawFn,
    dtype: Any = None,
    max_depth: int = 3,
    *,
    unions: bool = True,
    nulls: bool = True,
    min_size: int = 0,
    max_size: int = 6,
    max_list_size: int = 4,
) -> GrumpyArray:
    """GrumpyArrays built from :func:`nested_values` (the dtype is drawn when not given)."""
    d = draw(dtypes()) if dtype is None else dt.dtype(dtype)
    value = draw(
        nested_values(
            d,
            max_depth,
            unions=unions,
            nulls=nulls,
            min_size=min_size,
            max_size=max_size,
            max_list_size=max_list_size,
        )
    )
    return array(value, dtype=d)
