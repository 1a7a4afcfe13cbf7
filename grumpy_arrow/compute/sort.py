"""Per-list sorting, unique values and membership on whole leaf buffers."""

from __future__ import annotations

from typing import Any, cast

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from grumpy_arrow import dtypes as dt
from grumpy_arrow import layout as lay
from grumpy_arrow.compute.elementwise import bool_from_numpy, isin_numpy
from grumpy_arrow.compute.gather import leaf_values, take_rows

__all__ = ["argsort_node", "isin_node", "sort_node", "unique_values"]


_PER_KEY_NULLS = int(pa.__version__.split(".")[0]) >= 25


def _sort_indices(data: pa.Array | pa.Table, keys: list[tuple[str, str]]) -> np.ndarray:
    """Sort indices with nulls last (pyarrow >= 25 takes null placement per key)."""
    if _PER_KEY_NULLS:
        idx = pc.sort_indices(data, sort_keys=[(k, o, "at_end") for k, o in keys])
    else:  # pragma: no cover - older pyarrow
        idx = pc.sort_indices(data, sort_keys=keys, null_placement="at_end")
    return np.asarray(idx, dtype=np.int64)


def _order(node: lay.Node, descending: bool) -> np.ndarray:
    """Positions that sort the leaves of every innermost list (nulls last)."""
    assert isinstance(node, lay.ListNode) and isinstance(node.content, lay.Leaf)
    segment = np.repeat(np.arange(len(node), dtype=np.int64), np.diff(node.offsets))
    table = pa.table({"s": pa.array(segment), "v": node.content.values})
    order = "descending" if descending else "ascending"
    return _sort_indices(table, [("s", "ascending"), ("v", order)])


def _flat_order(values: pa.Array, descending: bool) -> np.ndarray:
    return _sort_indices(values, [("", "descending" if descending else "ascending")])


def sort_node(node: lay.Node, *, descending: bool, arg: bool) -> lay.Node:
    """Sort (or argsort) every list of leaves; a flat array sorts as one list.

    Union scalar rows are left as they are (a single value is sorted).
    """
    if isinstance(node, lay.Leaf):
        order = _flat_order(node.values, descending)
        return lay.Leaf(pa.array(order)) if arg else take_rows(node, order)
    if isinstance(node, lay.UnionNode):
        lists = sort_node(node.lists, descending=descending, arg=arg)
        scalars = node.scalars.values
        if arg:
            scalars = pc.if_else(
                pc.is_valid(scalars), pa.scalar(0, pa.int64()), pa.scalar(None, pa.int64())
            )
        assert isinstance(lists, lay.ListNode)
        return lay.UnionNode(node.type_ids, lay.Leaf(scalars), lists)
    if isinstance(node, lay.RecordNode):
        raise lay.record_error("sort", node)
    if not isinstance(node.content, lay.Leaf):
        return node.with_content(sort_node(node.content, descending=descending, arg=arg))
    dense = _dense_sort(node, descending=descending, arg=arg)
    if dense is not None:
        return node.with_content(lay.Leaf(dense))
    order = _order(node, descending)
    if arg:
        local = order - np.repeat(node.offsets[:-1], np.diff(node.offsets))
        return node.with_content(lay.Leaf(pa.array(local)))
    return node.with_content(take_rows(node.content, order))


def _dense_sort(node: lay.ListNode, *, descending: bool, arg: bool) -> pa.Array | None:
    """Sort nearly-uniform rows of null-free numbers as a padded 2-D NumPy array.

    ``np.sort(axis=1)`` on a padded block beats a two-key Arrow sort by far when rows are
    of similar length; ragged data with a long tail (padding over 2x) takes the Arrow path.
    """
    assert isinstance(node.content, lay.Leaf)
    values = node.content.values
    typ = values.type
    numeric = pa.types.is_integer(typ) or pa.types.is_floating(typ)
    lens = np.diff(node.offsets)
    if not numeric or pa.types.is_float16(typ) or values.null_count or len(lens) == 0:
        return None
    width = int(lens.max())
    if width == 0 or len(lens) * width > 2 * len(values) + 1024:
        return None
    x = values.to_numpy(zero_copy_only=True)
    # Descending order sorts an order-reversing key ascending: -x keeps NaN last (as Arrow
    # does) and ~x cannot overflow; both keep ties in their original order.
    flip = (lambda v: -v) if x.dtype.kind == "f" else np.invert
    key = flip(x) if descending else x
    pad = np.nan if x.dtype.kind == "f" else np.iinfo(x.dtype).max  # pads sort last
    if np.all(lens == width):
        block = key.reshape(len(lens), width)
        flat = None
    else:
        block = np.full(len(lens) * width, pad, dtype=x.dtype)
        # Flat positions row * width + column of every value in the padded block.
        flat = np.arange(len(x), dtype=np.int64)
        flat += np.repeat(np.arange(len(lens), dtype=np.int64) * width - node.offsets[:-1], lens)
        block[flat] = key
        block = block.reshape(len(lens), width)
    ranked = np.argsort(block, axis=1, kind="stable") if arg else np.sort(block, axis=1)
    out = ranked.reshape(-1) if flat is None else ranked.reshape(-1)[flat]
    if arg:
        return pa.array(out)
    return pa.array(flip(out) if descending else out)


def argsort_node(node: lay.Node, *, descending: bool) -> lay.Node:
    """Positions within each list that would sort it."""
    return sort_node(node, descending=descending, arg=True)


def unique_values(node: lay.Node) -> pa.Array:
    """Sorted distinct non-null leaf values."""
    values = leaf_values(node)
    if pa.types.is_floating(values.type) and not pa.types.is_float16(values.type):
        # Many distinct floats make Arrow's hash table slower than NumPy's sort (measured in
        # benchmarks/bench_compute.py); NaN stays a value, as in np.unique.
        valid = values.drop_null().to_numpy(zero_copy_only=False)
        return pa.array(np.unique(valid))
    if pa.types.is_integer(values.type) and len(values):
        narrow = _narrow_unique(values)
        if narrow is not None:
            return narrow
    distinct = pc.unique(values).drop_null()
    return pc.take(distinct, pc.sort_indices(distinct))


NARROW_SPAN = 1 << 20
"""Integers spanning at most this many values are made distinct by a presence table (one
``np.bincount``; int32 in [0, 1000) over 1M values: 1.4 ms against 8 ms hashing)."""


def _narrow_unique(values: pa.Array) -> pa.Array | None:
    """Sorted distinct integers by a presence table, or None when the span is too wide."""
    bounds = pc.min_max(values)
    low, high = bounds["min"].as_py(), bounds["max"].as_py()
    if low is None or high - low >= NARROW_SPAN:
        return None if low is not None else pa.array([], values.type)
    x = values.drop_null().to_numpy(zero_copy_only=False)
    base = x.dtype.type(low)
    # Unsigned values subtract in their own dtype (uint64 beyond int64 stays exact, and
    # x >= low); signed ones in int64 (int8 127 - -128 would wrap).
    shifted = x - base if x.dtype.kind == "u" else x.astype(np.int64) - np.int64(low)
    present = np.bincount(shifted.astype(np.int64, copy=False), minlength=high - low + 1)
    found = np.flatnonzero(present)
    if x.dtype.kind == "u":
        return pa.array(found.astype(x.dtype) + base)
    return pa.array((found + np.int64(low)).astype(x.dtype))


def isin_node(node: lay.Node, value_set: pa.Array, fn: Any) -> lay.Node:
    """Leafwise membership test (``fn`` maps leaves, keeping the structure).

    Null-free numbers use :func:`~grumpy_arrow.compute.elementwise.isin_numpy` on the
    buffer (a table or perfect-hash lookup: 3x to 4x faster than ``np.isin`` and Arrow's
    hash, per benchmarks/bench_compute.py).
    """

    def kernel(values: pa.Array) -> pa.Array:
        common = dt.promote_types(
            dt.from_arrow_type(values.type), dt.from_arrow_type(value_set.type)
        )
        members = value_set.cast(common.arrow)
        if common.kind in "iuf" and common != dt.float16 and not values.null_count:
            x = values.to_numpy(zero_copy_only=True)
            wanted = members.drop_null().to_numpy(zero_copy_only=False)
            found = isin_numpy(x, wanted)
            if common.kind == "f" and np.isnan(wanted).any():
                found |= np.isnan(x)  # NaN is a value: it matches NaN, as in Arrow
            return bool_from_numpy(found)
        return pc.is_in(values.cast(common.arrow), value_set=members)

    return cast("lay.Node", fn(node, kernel))
