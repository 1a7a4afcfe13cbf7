"""Per-list sorting, unique values and membership on whole leaf buffers."""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from grumpy_arrow import layout as lay
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
            scalars = pc.if_else(pc.is_valid(scalars), pa.scalar(0, pa.int64()),
                                 pa.scalar(None, pa.int64()))  # fmt: skip
        assert isinstance(lists, lay.ListNode)
        return lay.UnionNode(node.type_ids, lay.Leaf(scalars), lists)
    if not isinstance(node.content, lay.Leaf):
        return lay.ListNode(node.offsets, node.validity,
                            sort_node(node.content, descending=descending, arg=arg))  # fmt: skip
    order = _order(node, descending)
    if arg:
        local = order - np.repeat(node.offsets[:-1], np.diff(node.offsets))
        return lay.ListNode(node.offsets, node.validity, lay.Leaf(pa.array(local)))
    return lay.ListNode(node.offsets, node.validity, take_rows(node.content, order))


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
    distinct = pc.unique(values).drop_null()
    return pc.take(distinct, pc.sort_indices(distinct))


def isin_node(node: lay.Node, value_set: pa.Array, fn: Any) -> lay.Node:
    """Leafwise membership test (``fn`` maps leaves, keeping the structure)."""
    return fn(node, lambda v: pc.is_in(v, value_set=value_set.cast(v.type)))
