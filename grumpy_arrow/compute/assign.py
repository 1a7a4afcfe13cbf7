"""Leaf assignment (``x[key] = value``) where the structure does not change.

The trick: number every leaf value, index the numbered copy with the same key, broadcast
the value against what was selected, and scatter into the leaf buffers at those numbers.
Indexing and broadcasting rules are thus exactly those of reading.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from grumpy_arrow import dtypes as dt
from grumpy_arrow import layout as lay
from grumpy_arrow.compute import index as ix
from grumpy_arrow.compute.broadcast import broadcast_nodes, node_type
from grumpy_arrow.compute.gather import leaf_rows, take_rows
from grumpy_arrow.errors import BroadcastError, ConversionError, LayoutError

__all__ = ["assign"]


def assign(
    node: lay.Node, keys: tuple[Any, ...], value: lay.Node, dtype: dt.DType, shown_key: Any
) -> lay.Node:
    """A copy of ``node`` with the leaves selected by ``keys`` replaced by ``value``.

    Raises
    ------
    LayoutError
        When the value does not fit the selection without changing its structure.
    ConversionError
        When the values do not fit ``dtype``.
    """
    leaves = lay.leaves(node, "assignment")
    sizes = [len(leaf) for leaf in leaves]
    selected = ix.getitem(_replace_leaves(node, _numbers(sizes)), keys)
    if selected is None:
        raise LayoutError(f"cannot assign into the null row selected by {shown_key!r}")
    if not isinstance(selected, lay.NODE_TYPES):
        selected = lay.Leaf(pa.array([selected], pa.int64()))
    new_values = _values_for(selected, value, dtype, shown_key)
    ids = np.asarray(leaf_rows(selected)[0].to_numpy(zero_copy_only=False), dtype=np.int64)
    if len(ids) == 0:
        return node
    flat = pa.concat_arrays([leaf.values for leaf in leaves])
    order = np.argsort(ids, kind="stable")
    sorted_ids = ids[order]
    last = np.ones(len(ids), dtype=bool)
    last[:-1] = sorted_ids[1:] != sorted_ids[:-1]  # later writes win, as in NumPy
    mask = np.zeros(len(flat), dtype=bool)
    mask[sorted_ids[last]] = True
    repl = pc.take(new_values, pa.array(order[last]))
    updated = pc.replace_with_mask(flat, pa.array(mask), repl)
    starts = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
    pieces = (updated.slice(int(starts[i]), sizes[i]) for i in range(len(sizes)))
    return _replace_leaves(node, pieces)


def _replace_leaves(node: lay.Node, pieces: Iterator[pa.Array]) -> lay.Node:
    if isinstance(node, lay.Leaf):
        return lay.Leaf(next(pieces))
    if isinstance(node, lay.ListNode):
        return node.with_content(_replace_leaves(node.content, pieces))
    if isinstance(node, lay.RecordNode):
        raise lay.record_error("assignment", node)
    scalars = lay.Leaf(next(pieces))
    lists = _replace_leaves(node.lists, pieces)
    assert isinstance(lists, lay.ListNode)
    return lay.UnionNode(node.type_ids, scalars, lists)


def _numbers(sizes: list[int]) -> Iterator[pa.Array]:
    start = 0
    for size in sizes:
        yield pa.array(np.arange(start, start + size, dtype=np.int64))
        start += size


def _values_for(target: lay.Node, value: lay.Node, dtype: dt.DType, key: Any) -> pa.Array:
    """The assigned values, broadcast to the selected structure, as one leaf array."""
    if len(value) == 1 and isinstance(value, lay.Leaf):
        value = take_rows(value, np.zeros(len(target), dtype=np.int64))
    try:
        bt, bv = broadcast_nodes(target, value)
    except BroadcastError as err:
        raise LayoutError(
            f"cannot assign {node_type(value)} into the selection {key!r}: {err}"
        ) from None
    if lay.to_arrow(bt).type != lay.to_arrow(target).type or len(leaf_rows(bt)[0]) != len(
        leaf_rows(target)[0]
    ):
        raise LayoutError(
            f"assignment to {key!r} would change the structure (value {node_type(value)}, "
            f"selection {node_type(target)}); only leaf values can be written"
        )
    values = leaf_rows(bv)[0]
    try:
        return pc.cast(values, dtype.arrow, safe=True)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as err:
        got = dt.from_arrow_type(values.type).name
        raise ConversionError(f"cannot store {got} values in an array of {dtype.name}") from err
