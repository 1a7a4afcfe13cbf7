"""Structural operations: shape, flatten/unflatten, concatenation, lifting and padding."""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from grumpy_arrow import dtypes as dt
from grumpy_arrow import layout as lay
from grumpy_arrow.compute.elementwise import numpy_view
from grumpy_arrow.compute.gather import (
    as_union,
    child_ranks,
    offsets_from_lengths,
    take_rows,
)
from grumpy_arrow.errors import LayoutError, OutOfBoundsError

__all__ = [
    "concat_nodes",
    "concat_rows",
    "flatten_node",
    "lift_union",
    "pad_node",
    "shape_node",
    "uniform_shape",
]


def shape_node(node: lay.Node, d: int) -> lay.Node:
    """List lengths at axis ``d - 1`` (``d >= 1``), nested like the axes above it."""
    if isinstance(node, (lay.Leaf, lay.RecordNode)):
        raise OutOfBoundsError(f"dim {d} is out of range: the values have no axis {d}")
    if isinstance(node, lay.ListNode):
        if d == 1:
            lens = pa.array(
                np.diff(node.offsets), mask=None if node.validity is None else ~node.validity
            )
            return lay.Leaf(lens)
        return node.with_content(shape_node(node.content, d - 1))
    is_list = node.type_ids.astype(bool)
    inner = shape_node(node.lists, d)
    if d == 1:
        assert isinstance(inner, lay.Leaf)
        ones = pa.array(np.ones(len(node.scalars), dtype=np.int64))
        values = pa.concat_arrays([ones, inner.values])
        ranks = child_ranks(node.type_ids)
        order = np.where(is_list, ranks + len(ones), ranks)
        return lay.Leaf(pc.take(values, pa.array(order)))
    # Scalar rows have no axis below their own: they become empty lists here.
    assert isinstance(inner, lay.ListNode)
    lens = np.zeros(len(node), dtype=np.int64)
    lens[is_list] = np.diff(inner.offsets)
    return lay.ListNode(offsets_from_lengths(lens), None, inner.content)


def _merge_level(node: lay.Node) -> tuple[lay.Node, np.ndarray]:
    """The elements of every row, concatenated, and how many each row has."""
    if isinstance(node, (lay.Leaf, lay.RecordNode)):
        raise OutOfBoundsError("cannot flatten: the rows are scalars with no axis below")
    if isinstance(node, lay.ListNode):
        return node.content, np.diff(node.offsets)
    is_list = node.type_ids.astype(bool)
    list_lens = np.diff(node.lists.offsets)
    counts = np.ones(len(node), dtype=np.int64)
    counts[is_list] = list_lens
    new_off = offsets_from_lengths(counts)
    content = as_union(node.lists.content)
    dest = np.concatenate(
        [
            new_off[:-1][~is_list],
            np.repeat(new_off[:-1][is_list], list_lens)
            + (
                np.arange(int(list_lens.sum()), dtype=np.int64)
                - np.repeat(node.lists.offsets[:-1], list_lens)
            ),
        ]
    )
    combined = lay.UnionNode(
        np.concatenate([np.zeros(int((~is_list).sum()), dtype=np.int8), content.type_ids]),
        lay.Leaf(pa.concat_arrays([node.scalars.values, content.scalars.values])),
        content.lists,
    )
    inverse = np.empty(len(dest), dtype=np.int64)
    inverse[dest] = np.arange(len(dest), dtype=np.int64)
    elements = take_rows(combined, inverse)
    if isinstance(node.lists.content, lay.Leaf):
        assert isinstance(elements, lay.UnionNode)
        return elements.scalars, counts
    return elements, counts


def flatten_node(node: lay.Node, k: int) -> lay.Node:
    """Merge axis ``k`` into axis ``k - 1`` (``k >= 1``)."""
    if k == 1:
        return node.content if isinstance(node, lay.ListNode) else _merge_level(node)[0]
    if isinstance(node, (lay.Leaf, lay.RecordNode)):
        raise OutOfBoundsError(f"cannot flatten dim {k}: the values have no such axis")
    if isinstance(node, lay.UnionNode):
        lists = flatten_node(node.lists, k)
        assert isinstance(lists, lay.ListNode)
        return lay.UnionNode(node.type_ids, node.scalars, lists)
    if k == 2:
        elements, counts = _merge_level(node.content)
        cum = offsets_from_lengths(counts)
        return lay.ListNode(cum[node.offsets], node.validity, elements)
    return node.with_content(flatten_node(node.content, k - 1))


def concat_nodes(arrays: list[pa.Array]) -> pa.Array:
    """Concatenate rows; leaf dtypes are promoted, list and scalar rows combine to a union,
    and fixed axes stay fixed when every array has them with one size (else they become
    variable lists).

    Raises
    ------
    LayoutError
        When list rows of different layouts would have to share one union child.
    """
    if not arrays:
        raise ValueError("concat needs at least one array")
    if len({a.type for a in arrays}) == 1:  # one type (records included): Arrow's concat
        return pa.concat_arrays(arrays)
    leaf = dt.from_arrow_type(lay.arrow_leaf_type(arrays[0].type))
    for arr in arrays[1:]:
        leaf = dt.promote_types(leaf, dt.from_arrow_type(lay.arrow_leaf_type(arr.type)))
    arrays = [_with_leaf(a, leaf.arrow) for a in arrays]
    types = {str(a.type) for a in arrays}
    if len(types) > 1 and "fixed_size_list" in "".join(types):
        # Fixed axes of other sizes (or fixed against variable): variable lists.
        arrays = [lay.to_arrow(lay.variable(lay.from_arrow(a))) for a in arrays]
        types = {str(a.type) for a in arrays}
    if len(types) == 1:
        return pa.concat_arrays(arrays)
    nodes = [lay.from_arrow(a) for a in arrays]
    list_types = {
        str(lay.to_arrow(n.lists if isinstance(n, lay.UnionNode) else n).type)
        for n in nodes
        if not isinstance(n, lay.Leaf)
    }
    if len(list_types) != 1:
        raise LayoutError(
            f"cannot concatenate arrays of layouts {sorted(types)}: their list rows differ"
        )
    template = next(n for n in nodes if not isinstance(n, lay.Leaf))
    template_list = template.lists if isinstance(template, lay.UnionNode) else template
    unions = [as_union(n, template_list) for n in nodes]
    return lay.to_arrow(
        lay.UnionNode(
            np.concatenate([u.type_ids for u in unions]),
            lay.Leaf(pa.concat_arrays([u.scalars.values for u in unions])),
            lay.from_arrow(pa.concat_arrays([lay.to_arrow(u.lists) for u in unions])),  # type: ignore[arg-type]
        )
    )


def _with_leaf(arr: pa.Array, leaf: pa.DataType) -> pa.Array:
    if lay.arrow_leaf_type(arr.type) == leaf:
        return arr
    return lay.to_arrow(_map_leaf_cast(lay.from_arrow(arr), leaf))


def _map_leaf_cast(node: lay.Node, leaf: pa.DataType) -> lay.Node:
    if isinstance(node, lay.Leaf):
        return lay.Leaf(pc.cast(node.values, leaf))
    if isinstance(node, lay.ListNode):
        return node.with_content(_map_leaf_cast(node.content, leaf))
    if isinstance(node, lay.RecordNode):
        raise lay.record_error("a cast", node)
    lists = _map_leaf_cast(node.lists, leaf)
    assert isinstance(lists, lay.ListNode)
    return lay.UnionNode(node.type_ids, lay.Leaf(pc.cast(node.scalars.values, leaf)), lists)


def concat_rows(arrays: list[pa.Array]) -> pa.Array:
    """Concatenate row by row (``dim=1``): row i of the result is every input's row i."""
    arrays = [_with_leaf(a, _common_leaf(arrays).arrow) for a in arrays]
    nodes = [lay.from_arrow(a) for a in arrays]
    n = len(nodes[0])
    for i, node in enumerate(nodes):
        if not isinstance(node, lay.ListNode):
            raise LayoutError(f"concat(dim=1) needs list rows; argument {i} has {arrays[i].type}")
        if len(node) != n:
            raise LayoutError(
                f"concat(dim=1) needs equal lengths; argument 0 has {n} rows, argument {i} "
                f"has {len(node)}"
            )
    lists = [nd for nd in nodes if isinstance(nd, lay.ListNode)]
    all_lens = np.stack([np.diff(nd.offsets) for nd in lists])
    new_off = offsets_from_lengths(all_lens.sum(axis=0))
    before = np.cumsum(all_lens, axis=0) - all_lens
    dests = []
    for s, nd in enumerate(lists):
        lens = all_lens[s]
        rows = np.repeat(np.arange(n, dtype=np.int64), lens)
        local = np.arange(len(rows), dtype=np.int64) - nd.offsets[:-1][rows]
        dests.append(new_off[:-1][rows] + before[s][rows] + local)
    dest = np.concatenate(dests)
    inverse = np.empty(len(dest), dtype=np.int64)
    inverse[dest] = np.arange(len(dest), dtype=np.int64)
    contents = [lay.to_arrow(nd.content) for nd in lists]
    if len({str(c.type) for c in contents}) != 1:
        raise LayoutError("concat(dim=1) needs the same inner layout in every argument")
    content = take_rows(lay.from_arrow(pa.concat_arrays(contents)), inverse)
    validity = None
    for nd in lists:
        if nd.validity is not None:
            validity = nd.validity if validity is None else validity & nd.validity
    return lay.to_arrow(lay.ListNode(new_off, validity, content))


def _common_leaf(arrays: list[pa.Array]) -> dt.DType:
    leaf = dt.from_arrow_type(lay.arrow_leaf_type(arrays[0].type))
    for arr in arrays[1:]:
        leaf = dt.promote_types(leaf, dt.from_arrow_type(lay.arrow_leaf_type(arr.type)))
    return leaf


def lift_union(node: lay.Node) -> lay.Node:
    """Replace every union by a list-chain where scalar rows become length-1 lists."""
    if isinstance(node, (lay.Leaf, lay.RecordNode)):
        return node  # (a union inside a record's field stays: fields are not lifted)
    if isinstance(node, lay.ListNode):
        return node.with_content(lift_union(node.content))
    lists = lift_union(node.lists)
    depth = lay.arrow_depth(lay.to_arrow(lists).type)
    wrapped: lay.Node = node.scalars
    for _ in range(depth):
        wrapped = lay.ListNode(np.arange(len(node.scalars) + 1, dtype=np.int64), None, wrapped)
    arrays = [lay.to_arrow(wrapped), lay.to_arrow(lists)]
    if str(arrays[0].type) != str(arrays[1].type):
        raise LayoutError("cannot pad a union whose list rows contain further unions")
    ranks = child_ranks(node.type_ids)
    order = np.where(node.type_ids.astype(bool), ranks + len(node.scalars), ranks)
    return take_rows(lay.from_arrow(pa.concat_arrays(arrays)), order)


def uniform_shape(node: lay.Node) -> tuple[int, ...] | None:
    """The rectangular shape of a null-free list-chain, or None if ragged/nullable."""
    shape = [len(node)]
    while isinstance(node, lay.ListNode):
        if node.validity is not None:
            return None
        lens = np.diff(node.offsets)
        if len(lens) and not np.all(lens == lens[0]):
            return None
        shape.append(int(lens[0]) if len(lens) else 0)
        node = node.content
    if not isinstance(node, lay.Leaf):
        return None
    return tuple(shape)


def pad_node(node: lay.Node, pad: Any) -> tuple[np.ndarray, np.ndarray]:
    """Dense ``(values, mask)`` of shape ``(n, max_len_1, ...)``; mask is True where a value
    exists (null leaves and padding are False)."""
    node = lift_union(node)
    shape = [len(node)]
    # Flat row-major position of every element of the current level in the dense block.
    position = np.arange(len(node), dtype=np.int64)
    cur = node
    while isinstance(cur, lay.ListNode):
        lens = np.diff(cur.offsets)
        width = int(lens.max()) if len(lens) else 0
        shape.append(width)
        position = np.repeat(position * width - cur.offsets[:-1], lens)
        position += np.arange(len(position), dtype=np.int64)
        cur = cur.content
    assert isinstance(cur, lay.Leaf)
    values = cur.values
    d = dt.from_arrow_type(values.type)
    valid = lay.is_valid_mask(values)
    if d.kind in "US":
        flat = np.asarray(values.to_numpy(zero_copy_only=False), dtype=object)
        out = np.full(shape, pad, dtype=object)
    else:
        flat = numpy_view(values, False if d.kind == "b" else 0)
        kind = (
            np.result_type(flat.dtype, np.min_scalar_type(pad))
            if isinstance(pad, (int, float, bool))
            else flat.dtype
        )
        out = np.full(shape, pad, dtype=kind)
    mask = np.zeros(shape, dtype=bool)
    if valid is not None:
        position, flat = position[valid], flat[valid]
    out.reshape(-1)[position] = flat
    mask.reshape(-1)[position] = True
    return out, mask
