"""Comparisons, hashing and ordering of grumpy rows for pandas.

Lists have no Arrow hash or sort kernel, so everything here works on per-row Python keys
(:mod:`grumpy_arrow.pandas.keys`): one Python loop over the rows per call, which is what
pandas itself does for object columns. Rows are equal when their ``to_list()`` are equal
(NaN equal to NaN inside a row), and order lexicographically with scalars before lists and
nulls inside a row last. :class:`~grumpy_arrow.pandas.GrumpyExtensionArray` delegates its
``factorize``, ``value_counts``, ``isin``, ``searchsorted`` and comparison operators here.

Examples
--------
>>> import pandas as pd
>>> s = pd.Series(pd.array([[3], [1, 2], None, [1]], dtype="grumpy[var * int64]"))
>>> s.sort_values().index.tolist()
[3, 1, 0, 2]
>>> (s == s[1]).tolist()
[False, True, <NA>, False]
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import pyarrow as pa
from pandas.api.types import is_list_like

from grumpy_arrow import layout as lay
from grumpy_arrow.pandas.keys import decode_key, encoding, numeric_ranks, row_keys, tag_value
from grumpy_arrow.pandas.scalar import GrumpyList

if TYPE_CHECKING:
    from grumpy_arrow.pandas.array import GrumpyExtensionArray

__all__ = [
    "compare",
    "contains",
    "decode_keys",
    "factorize",
    "hash_keys",
    "isin",
    "ranks",
    "searchsorted",
    "value_counts",
]


def _arrow(arr: GrumpyExtensionArray) -> pa.Array:
    return arr.to_array().to_arrow()


def hash_keys(arr: GrumpyExtensionArray) -> np.ndarray:
    """Hashable per-row keys (``None`` for null rows): equal rows, equal keys."""
    data = _arrow(arr)
    return row_keys(data, encoding([data], order=False))


def decode_keys(arr: GrumpyExtensionArray, values: np.ndarray) -> list[Any]:
    """The Python rows behind keys made by :func:`hash_keys` of ``arr``."""
    data = _arrow(arr)
    kind, leaf = encoding([data], order=False), lay.arrow_leaf_type(data.type)
    return [decode_key(k, kind, leaf) for k in values]


def ranks(arr: GrumpyExtensionArray) -> np.ndarray:
    """int64 ranks of the rows in row order: equal rows share a rank, and ranks follow the
    row order (null rows get 0; pandas masks them).

    Flat numeric lists are ranked with NumPy (:func:`~grumpy_arrow.pandas.keys.
    numeric_ranks`); other rows by a Python sort (timsort) over per-row keys.
    """
    data = _arrow(arr)
    fast = numeric_ranks(data)
    if fast is not None:
        return fast
    keys = row_keys(data, encoding([data], order=True)).tolist()
    valid = [i for i, k in enumerate(keys) if k is not None]
    valid.sort(key=keys.__getitem__)
    out = np.zeros(len(keys), dtype=np.int64)
    rank, previous = 0, None
    for i in valid:
        key = keys[i]
        if rank == 0 or key != previous:
            rank, previous = rank + 1, key
        out[i] = rank
    return out


def pair_keys(
    arr: GrumpyExtensionArray, other: Any, *, order: bool
) -> tuple[np.ndarray, np.ndarray]:
    """Keys of ``arr`` and of ``other`` (a sequence of rows) in one shared encoding."""
    data = _arrow(arr)
    try:
        rows = type(arr)._from_sequence(other, dtype=arr.dtype)
    except (TypeError, ValueError):
        # Values this dtype cannot hold still compare, through their Python values.
        values = list(other)
        theirs = np.fromiter((_python_key(v) for v in values), dtype=object, count=len(values))
        return row_keys(data, "tagged"), theirs
    kind = encoding([data, _arrow(rows)], order=order)
    return row_keys(data, kind), row_keys(_arrow(rows), kind)


def _python_key(value: Any) -> Any:
    if isinstance(value, GrumpyList):
        return value.key
    if value is None or value is pd.NA:
        return None
    if isinstance(value, tuple):
        value = list(value)
    return tag_value(value)


def factorize(
    arr: GrumpyExtensionArray, *, use_na_sentinel: bool = True
) -> tuple[np.ndarray, GrumpyExtensionArray]:
    """Codes and unique rows in order of appearance (null rows -1 with the sentinel)."""
    codes, uniques = pd.factorize(hash_keys(arr), use_na_sentinel=use_na_sentinel)
    codes = np.asarray(codes, dtype=np.intp)
    seen = np.flatnonzero(codes >= 0)
    first = np.empty(len(uniques), dtype=np.int64)
    first[codes[seen][::-1]] = seen[::-1]
    return codes, arr._take_positions(first)


def value_counts(arr: GrumpyExtensionArray, *, dropna: bool = True) -> pd.Series:
    """Occurrences of each distinct row (nullable counts), indexed by the rows."""
    codes, uniques = factorize(arr, use_na_sentinel=dropna)
    counts = np.bincount(codes[codes >= 0], minlength=len(uniques)).astype(np.int64)
    # Nullable counts, as for pandas' other NA-valued dtypes (masked and Arrow arrays).
    values = pd.arrays.IntegerArray(counts, np.zeros(len(counts), dtype=bool))
    return pd.Series(values, index=pd.Index(uniques), name="count", copy=False)


def isin(arr: GrumpyExtensionArray, values: Any) -> np.ndarray:
    """Whether each row equals one of ``values`` (a null row matches a null value)."""
    mine, theirs = pair_keys(arr, values, order=False)
    wanted = set(theirs.tolist())
    return np.fromiter((k in wanted for k in mine), dtype=bool, count=len(mine))


def contains(arr: GrumpyExtensionArray, item: Any) -> bool:
    """``item in arr``: a Python list is one row here, and only ``pd.NA`` finds nulls."""
    if not isinstance(item, (list, tuple, GrumpyList)) and pd.isna(item):
        return item is pd.NA and bool(arr.isna().any())
    return bool(isin(arr, [item]).any())


def searchsorted(arr: GrumpyExtensionArray, value: Any, side: Any, sorter: Any) -> Any:
    """Insertion points of ``value`` (one row, or a list-like of rows) in sorted rows."""
    many = is_list_like(value)
    mine, theirs = pair_keys(arr, value if many else [value], order=True)
    out = np.searchsorted(mine, theirs, side=side, sorter=sorter)
    return out if many else out[0]


def compare(arr: GrumpyExtensionArray, other: Any, op: Callable[[Any, Any], Any]) -> Any:
    """Rows ``op`` other (one row, or one per row) as a nullable boolean array.

    Returns NotImplemented for pandas containers, which unbox and call again.
    """
    if isinstance(other, (pd.Series, pd.Index, pd.DataFrame)):
        return NotImplemented
    n = len(arr)
    ordered = op not in (operator.eq, operator.ne)
    if is_list_like(other):  # as in pandas, a list-like holds one value per row
        if len(other) != n:
            raise ValueError(f"Lengths must match to compare: {n} rows and {len(other)}")
        mine, theirs = pair_keys(arr, other, order=ordered)
    else:
        mine, theirs = pair_keys(arr, [other], order=ordered)
        theirs = np.repeat(theirs, n)
    pairs = zip(mine, theirs, strict=True)
    valid = np.fromiter((a is not None and b is not None for a, b in pairs), dtype=bool, count=n)
    values = np.zeros(n, dtype=bool)
    values[valid] = [op(a, b) for a, b in zip(mine[valid], theirs[valid], strict=True)]
    return pd.arrays.BooleanArray(values, ~valid)
