"""Per-row Python keys: hashable and totally ordered stand-ins for rows.

pandas hashes rows to factorize, group and count them, and compares rows to sort them.
Arrow has no hash or sort kernel for list values, so these functions build one Python key
per row. That is a Python loop over the rows, by necessity; it runs only where pandas asks
for hashing or ordering, and costs about a microsecond per row plus the values' conversion.

Three encodings, all with the same equality (NaN equals NaN, ``-0.0`` equals ``0.0``):

* *bytes* (equality only): a row of a flat numeric list column without inner nulls is the
  bytes of its values: built from one buffer, hashed and compared at C speed;
* *plain*: a list row is the tuple of its values (nested tuples for nested lists), used
  when there are no unions and no nulls or NaN below the rows;
* *tagged*: every value ``v`` becomes ``(0, v)``, NaN ``(1,)``, a list ``(2, tuple)`` and a
  null ``(3,)``. Scalars sort before lists, NaN after numbers and nulls last, so any two
  rows compare.

Plain and tagged keys give the same order: lexicographic, shorter prefixes first. Null rows
get the key ``None``; callers mask them.

Examples
--------
>>> import grumpy_arrow as gr
>>> from grumpy_arrow.pandas.keys import encoding, row_keys
>>> x = gr.array([[1, 2], None, []]).to_arrow()
>>> encoding([x], order=True), row_keys(x, "plain").tolist()
('plain', [(1, 2), None, ()])
>>> row_keys(gr.array([3, [1, None]]).to_arrow(), "tagged").tolist()
[(0, 3), (2, ((0, 1), (3,)))]
>>> row_keys(gr.array([[1], None], dtype="int8").to_arrow(), "bytes").tolist()
[b'\\x01', None]
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from grumpy_arrow import layout as lay

__all__ = ["decode_key", "encoding", "numeric_ranks", "row_keys", "tag_value"]


def encoding(arrays: Sequence[pa.Array], *, order: bool) -> str:
    """The encoding keys of ``arrays`` (compared with each other) can share.

    ``order=True`` asks for orderable keys (plain or tagged), otherwise bytes are allowed.
    """
    if not order and all(_bytes_ok(a) for a in arrays):
        return "bytes"
    return "tagged" if any(_needs_tags(lay.from_arrow(a), top=True) for a in arrays) else "plain"


def _bytes_ok(arr: pa.Array) -> bool:
    node = lay.from_arrow(arr)
    if not isinstance(node, lay.ListNode) or not isinstance(node.content, lay.Leaf):
        return False
    values = node.content.values
    numeric = pa.types.is_integer(values.type) or pa.types.is_floating(values.type)
    return bool(numeric and values.null_count == 0)


def _needs_tags(node: lay.Node, *, top: bool) -> bool:
    if isinstance(node, lay.UnionNode):
        return True
    if isinstance(node, lay.ListNode):
        if not top and node.validity is not None:
            return True
        return _needs_tags(node.content, top=False)
    if isinstance(node, lay.RecordNode):
        return True
    values = node.values
    if not top and values.null_count:
        return True
    return bool(pa.types.is_floating(values.type) and pc.any(pc.is_nan(values)).as_py())


def row_keys(arr: pa.Array, kind: str) -> np.ndarray:
    """One key per row of ``arr`` in encoding ``kind``, as a 1-D object array.

    ``kind`` comes from :func:`encoding`; arrays whose keys are compared must share it.
    """
    if kind == "bytes":
        keys: list[Any] = _bytes_keys(arr)
    else:
        rows = arr.to_pylist()
        if kind == "tagged":
            keys = [None if v is None else tag_value(v) for v in rows]
        elif lay.arrow_depth(arr.type):
            keys = [None if v is None else _plain(v) for v in rows]
        else:
            keys = rows
    # fromiter keeps each tuple as one element (assigning a list of tuples would not).
    return np.fromiter(keys, dtype=object, count=len(keys))


def _bytes_keys(arr: pa.Array) -> list[Any]:
    node = lay.from_arrow(arr)
    assert isinstance(node, lay.ListNode) and isinstance(node.content, lay.Leaf)
    values = node.content.values.to_numpy(zero_copy_only=False)
    if values.dtype.kind == "f":
        # One bit pattern per value: -0.0 as 0.0 and every NaN as the same NaN.
        values = np.where(np.isnan(values), np.nan, values).astype(
            values.dtype
        ) + values.dtype.type(0)
    data, width = np.ascontiguousarray(values).tobytes(), values.dtype.itemsize
    offsets = (node.offsets * width).tolist()
    keys: list[Any] = [data[a:b] for a, b in itertools.pairwise(offsets)]
    if node.validity is not None:
        for i in np.flatnonzero(~node.validity).tolist():
            keys[i] = None
    return keys


def numeric_ranks(arr: pa.Array) -> np.ndarray | None:
    """Ranks of the rows of a flat numeric list column, without a Python loop over rows.

    Rows are sorted position by position (a bucket refinement, as in suffix sorting): at
    step ``j`` only the rows still tied on their first ``j`` values are re-sorted by their
    value ``j`` (rows that end sort first). A row's rank is the start of its bucket in the
    sorted order, so equal rows share a rank and the order is the lexicographic one.
    Null rows get rank 0 (pandas masks them). Returns None when the column is not a list
    of numbers without inner nulls and NaN (the callers then sort Python keys).
    """
    node = lay.from_arrow(arr)
    if not _bytes_ok(arr) or _needs_tags(node, top=True):
        return None
    assert isinstance(node, lay.ListNode) and isinstance(node.content, lay.Leaf)
    values = node.content.values.to_numpy(zero_copy_only=False)
    starts, lens = node.offsets[:-1], np.diff(node.offsets)
    rows = np.arange(len(lens)) if node.validity is None else np.flatnonzero(node.validity)
    rank = np.zeros(len(lens), dtype=np.int64)
    j = 0
    while len(rows) > 1:
        has = lens[rows] > j
        value = np.zeros(len(rows), dtype=values.dtype)
        value[has] = values[starts[rows[has]] + j]
        order = np.lexsort((value, has, rank[rows]))
        rows, has, value, bucket = rows[order], has[order], value[order], rank[rows[order]]
        new = np.ones(len(rows), dtype=bool)
        new[1:] = (bucket[1:] != bucket[:-1]) | (has[1:] != has[:-1]) | (value[1:] != value[:-1])
        first = np.maximum.accumulate(np.where(new, np.arange(len(rows)), 0))
        bucket_first = np.maximum.accumulate(
            np.where(np.r_[True, bucket[1:] != bucket[:-1]], np.arange(len(rows)), 0)
        )
        rank[rows] = bucket + (first - bucket_first)
        # Rows alone in their bucket, or tied rows that have ended, are placed for good.
        counts = np.bincount(rank[rows] - rank[rows].min(), minlength=1)
        tied = counts[rank[rows] - rank[rows].min()] > 1
        rows = rows[tied & has]
        j += 1
    return rank


def _plain(value: Any) -> Any:
    if isinstance(value, list):
        if value and isinstance(value[0], list):
            return tuple(_plain(v) for v in value)
        return tuple(value)
    return value


def tag_value(value: Any) -> Any:
    """The tagged key of one Python value (see the module docstring)."""
    if value is None:
        return (3,)
    if isinstance(value, list):
        return (2, tuple(tag_value(v) for v in value))
    if isinstance(value, float) and math.isnan(value):
        return (1,)
    return (0, value)


def decode_key(key: Any, kind: str, leaf: pa.DataType) -> Any:
    """The Python value (nested lists, scalars, None) a key of encoding ``kind`` stands for."""
    if key is None:
        return None
    if kind == "bytes":
        return np.frombuffer(key, dtype=leaf.to_pandas_dtype()).tolist()
    if kind == "plain":
        return _unplain(key)
    tag = key[0]
    if tag == 0:
        return key[1]
    if tag == 1:
        return math.nan
    if tag == 2:
        return [decode_key(k, kind, leaf) for k in key[1]]
    return None


def _unplain(key: Any) -> Any:
    if isinstance(key, tuple):
        return [_unplain(k) for k in key]
    return key
