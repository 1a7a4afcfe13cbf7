"""Keys of lazy handles: ``h[key]`` accepts what the in-memory array or frame accepts.

A handle reads the rows the first axis of a key selects, through the read planner, and
applies the rest of the key in memory to those rows, with the same parsing as
``GrumpyArray.__getitem__`` and ``DataFrame.__getitem__`` (so ``h[key]`` equals
``gr.load(path)[key]``, or raises the same error type). Keys whose first axis needs every
row (an ellipsis, a per-row ragged index, the empty tuple) read every row first.

Examples
--------
>>> import os, tempfile, grumpy_arrow as gr
>>> path = os.path.join(tempfile.mkdtemp(), "x.gr")
>>> gr.save(gr.array([[1, 2], [3], [4, 5, 6]]), path)
>>> h = gr.open(path)
>>> h[2, 0], h[[2, 0], -1].to_list(), h[::2, :1].to_list()
(4, [6, 2], [[1], [4]])
>>> h[1.9]
Traceback (most recent call last):
...
grumpy_arrow.errors.DTypeError: index arrays must be integer or boolean, got float64
"""

from __future__ import annotations

from typing import Any

import numpy as np

from grumpy_arrow.array import parse_index
from grumpy_arrow.compute.index import normalize_index
from grumpy_arrow.errors import DTypeError, OutOfBoundsError
from grumpy_arrow.frame.dataframe import parse_row_key
from grumpy_arrow.frame.verbs import nested_key

__all__ = ["parse_rows", "select"]


def select(handle: Any, key: Any) -> Any:
    """``handle[key]`` of a store or sharded dataset.

    Column names give a lazy view of a frame store; anything else is an in-memory
    selection equal to ``handle.load()[key]``.

    Parameters
    ----------
    handle : Handle or ShardedHandle
        The store (it has ``kind``, ``__len__``, ``take``, ``load`` and ``_view``).
    key : Any
        What ``handle[key]`` was given.

    Raises
    ------
    DTypeError, OutOfBoundsError, ValueError
        As the in-memory array or frame raises them for the same key.
    ColumnNotFoundError
        For a column a frame store does not have.
    """
    n = len(handle)
    if handle.kind == "dataframe":
        if isinstance(key, str):
            return handle._view([key])
        if isinstance(key, list) and key and all(isinstance(k, str) for k in key):
            return handle._view(key)

        if nested_key(key) is not None:  # a mask inside rows needs every row
            return handle.load()[key]
        rows = parse_row_key(key, n)
        if isinstance(rows, slice):
            rows = np.arange(*rows.indices(n), dtype=np.int64)
        return handle.take(rows)
    return _select_array(handle, key, n)


def _select_array(handle: Any, key: Any, n: int) -> Any:
    """``x[key]`` of an array store: the first axis read lazily, the rest in memory."""
    keys = key if isinstance(key, tuple) else (key,)
    if not keys or any(k is Ellipsis for k in keys):
        return handle.load()[key]
    head, rest = keys[0], keys[1:]
    if isinstance(head, str):
        raise DTypeError(
            f"arrays are indexed by position, got the string {head!r} (column views apply "
            "to frames)"
        )
    entry = parse_index(head)
    for k in rest:  # every entry's type is checked before any bound, as in memory
        parse_index(k)
    if isinstance(entry, int):
        i = normalize_index(entry, n)
        return handle.take(np.array([i], dtype=np.int64))[(0, *rest)]
    if isinstance(entry, slice):
        rows = np.arange(*entry.indices(n), dtype=np.int64)
    elif isinstance(entry, np.ndarray) and entry.dtype == bool:
        if len(entry) != n:
            raise OutOfBoundsError(
                f"boolean index has length {len(entry)} but axis 0 has length {n}"
            )
        rows = np.flatnonzero(entry)
    elif isinstance(entry, np.ndarray):
        rows = _resolve(entry, n, "index {} is out of bounds for axis 0 with length " + str(n))
    else:  # a per-row (ragged) index has one entry per row: it needs every row
        if len(entry) != n:
            raise OutOfBoundsError(f"ragged index has {len(entry)} rows but the array has {n}")
        return handle.load()[key]
    out = handle.take(rows)
    return out[(slice(None), *rest)] if rest else out


def _resolve(idx: np.ndarray, n: int, message: str) -> np.ndarray:
    """Row numbers in ``[-n, n)`` as non-negative int64, or an OutOfBoundsError."""
    if len(idx) and idx.dtype == np.int64 and idx.min() >= 0 and idx.max() < n:
        return idx.copy()  # the common case: rows already in range (two reductions)
    # Unsigned indices are never negative (and -n would wrap around in their dtype).
    bad = idx >= n if idx.dtype.kind == "u" else (idx < -n) | (idx >= n)
    if bad.any():
        raise OutOfBoundsError(message.format(int(idx[np.flatnonzero(bad)[0]])))
    idx = idx.astype(np.int64, copy=False)
    return np.where(idx < 0, idx + n, idx)


def parse_rows(key: Any, n: int) -> np.ndarray:
    """Row numbers (int64, any order) selected by an int, slice, bool mask or indices.

    What ``Handle.take`` and ``Handle.read`` accept: one axis, no tuples. Floats are never
    truncated to rows.

    Parameters
    ----------
    key : int, slice, 1-D array-like of ints or bools
        The rows.
    n : int
        The store's row count.

    Returns
    -------
    numpy.ndarray
        Non-negative int64 row numbers.

    Raises
    ------
    DTypeError
        For a bool, a float or any non-integer index array, or an index that is not 1-D.
    OutOfBoundsError
        For a row outside ``[-n, n)`` or a mask whose length is not ``n``.

    Examples
    --------
    >>> parse_rows(slice(None, None, -2), 5).tolist(), parse_rows([-1, 0], 5).tolist()
    ([4, 2, 0], [4, 0])
    """
    if isinstance(key, (int, np.integer)) and not isinstance(key, (bool, np.bool_)):
        i = int(key)
        if not -n <= i < n:
            raise OutOfBoundsError(f"row {i} is out of bounds for a store with {n} rows")
        return np.array([i % n], dtype=np.int64)
    if isinstance(key, slice):
        return np.arange(*key.indices(n), dtype=np.int64)
    idx = _as_index_array(key)
    if idx.dtype == bool:
        if idx.ndim == 0:
            raise DTypeError("a single bool is not a valid row index; use a boolean mask array")
        if len(idx) != n:
            raise OutOfBoundsError(f"boolean index has length {len(idx)}; the store has {n}")
        return np.flatnonzero(idx)
    if idx.size == 0 and idx.dtype.kind not in "iu":
        idx = idx.astype(np.int64)  # [] infers float64: it still selects no rows
    if idx.dtype.kind not in "iu":
        raise DTypeError(f"row indices must be integers or a boolean mask, got {idx.dtype}")
    return _resolve(idx.reshape(-1), n, "row {} is out of bounds for a store with " + f"{n} rows")


def _as_index_array(key: Any) -> np.ndarray:
    """``key`` as a 0-D or 1-D NumPy array, or a DTypeError saying what came."""
    if isinstance(key, tuple):
        raise DTypeError(f"rows are selected along one axis; got the tuple {key!r}")
    try:
        idx = np.asarray(key)
    except (ValueError, TypeError) as err:  # ragged nested lists
        raise DTypeError(
            f"rows are an int, a slice, a 1-D integer array or a boolean mask; got {key!r:.80}"
        ) from err
    if idx.ndim > 1:
        raise DTypeError(
            "rows are an int, a slice, a 1-D integer array or a boolean mask; got a "
            f"{idx.ndim}-D index of shape {idx.shape}"
        )
    return idx
