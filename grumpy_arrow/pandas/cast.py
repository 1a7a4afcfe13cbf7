"""Fit layout nodes to one exact Arrow type (the type a ``GrumpyDtype`` promises).

Values built from Python rows come out with whatever structure they have: all-list rows as
a list-chain, all-scalar rows as a leaf, all-null rows as nulls of the leaf. A column of
dtype ``union[int64, var * int64]`` must still hold a dense union, and one of
``var * float64`` float leaves; :func:`fit_node` does that conversion without copying values
when nothing changes.

Examples
--------
>>> import pyarrow as pa
>>> import grumpy_arrow as gr
>>> from grumpy_arrow import layout as lay
>>> from grumpy_arrow.pandas.cast import fit_array
>>> target = lay.union_type(pa.int64(), pa.large_list(pa.int64()))
>>> fit_array(gr.array([[1], [2, 3]]).to_arrow(), target).type == target
True
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from grumpy_arrow import layout as lay
from grumpy_arrow.compute.gather import child_ranks, take_rows

__all__ = ["empty_node", "fit_array", "fit_node", "null_node"]


def fit_array(arr: pa.Array, target: pa.DataType) -> pa.Array:
    """``arr`` with exactly the Arrow type ``target`` (see :func:`fit_node`)."""
    if arr.type.equals(target):
        return arr
    return lay.to_arrow(fit_node(lay.from_arrow(arr), target))


def fit_node(node: lay.Node, target: pa.DataType) -> lay.Node:
    """Convert ``node`` to the canonical Arrow type ``target``.

    Leaves are cast safely; list rows and scalar rows are wrapped into a union when the
    target is one; all-null rows take any structure.

    Raises
    ------
    TypeError
        When the structures differ (list rows for a leaf dtype, scalar rows for a list
        dtype) or the leaf values cannot be cast.
    ValueError
        When a leaf value does not fit the target leaf type (overflow, lost precision).
    """
    if _all_null(node):
        return null_node(target, len(node))
    if pa.types.is_union(target):
        return _fit_union(node, target)
    if pa.types.is_large_list(target):
        return _fit_list(node, target)
    if not isinstance(node, lay.Leaf):
        raise TypeError(f"list rows cannot be stored as {lay.describe(target)} values")
    return lay.Leaf(_cast_leaf(node.values, target))


def _fit_union(node: lay.Node, target: pa.DataType) -> lay.UnionNode:
    scalar_type, list_type = target.field(0).type, target.field(1).type
    if isinstance(node, lay.ListNode):
        node = lay.UnionNode(
            np.ones(len(node), dtype=np.int8), lay.Leaf(pa.array([], type=scalar_type)), node
        )
    elif isinstance(node, lay.Leaf):
        empty = empty_node(list_type)
        assert isinstance(empty, lay.ListNode)
        node = lay.UnionNode(np.zeros(len(node), dtype=np.int8), node, empty)
    if isinstance(node, lay.RecordNode):
        raise TypeError("records cannot be stored as a scalar-or-list union")
    node = _nulls_as_scalars(node)
    return lay.UnionNode(
        node.type_ids,
        lay.Leaf(_cast_leaf(node.scalars.values, scalar_type)),
        _fit_list(node.lists, list_type),
    )


def _nulls_as_scalars(node: lay.UnionNode) -> lay.UnionNode:
    """Null rows of a union are null scalars (the union itself has no validity)."""
    validity = node.lists.validity
    if validity is None or validity.all():
        return node
    ranks = child_ranks(node.type_ids)
    is_list = node.type_ids.astype(bool)
    moved = np.zeros(len(node), dtype=bool)
    moved[np.flatnonzero(is_list)[~validity]] = True
    type_ids = np.where(moved, 0, node.type_ids).astype(np.int8)
    scalar_rows = type_ids == 0
    scalars = take_rows(node.scalars, np.where(is_list, 0, ranks)[scalar_rows], ~moved[scalar_rows])
    lists = take_rows(node.lists, ranks[type_ids == 1])
    assert isinstance(scalars, lay.Leaf) and isinstance(lists, lay.ListNode)
    return lay.UnionNode(type_ids, scalars, lists)


def _fit_list(node: lay.Node, target: pa.DataType) -> lay.ListNode:
    if isinstance(node, lay.ListNode):
        # The target is a large_list: a fixed axis becomes a variable one.
        return lay.ListNode(node.offsets, node.validity, fit_node(node.content, target.value_type))
    if isinstance(node, lay.UnionNode):
        scalar_rows = node.type_ids == 0
        if node.scalars.values.null_count != len(node.scalars):
            raise TypeError(f"scalar rows cannot be stored in a column of {lay.describe(target)}")
        # Only null scalar rows: they become null lists.
        lists = take_rows(node.lists, child_ranks(node.type_ids), ~scalar_rows)
        assert isinstance(lists, lay.ListNode)
        return _fit_list(lists, target)
    if len(node):
        raise TypeError(f"scalar rows cannot be stored in a column of {lay.describe(target)}")
    empty = empty_node(target)
    assert isinstance(empty, lay.ListNode)
    return empty


def _cast_leaf(values: pa.Array, target: pa.DataType) -> pa.Array:
    if values.type.equals(target):
        return values
    try:
        return pc.cast(values, target, safe=True)
    except pa.ArrowInvalid as err:
        raise ValueError(f"values of type {values.type} do not fit {target}: {err}") from err
    except (pa.ArrowNotImplementedError, pa.ArrowTypeError) as err:
        raise TypeError(f"cannot store {values.type} values as {target}") from err


def _all_null(node: lay.Node) -> bool:
    if isinstance(node, lay.Leaf):
        return bool(pa.types.is_null(node.values.type) or node.values.null_count == len(node))
    if isinstance(node, lay.ListNode):
        return node.validity is not None and not node.validity.any()
    if isinstance(node, lay.RecordNode):
        return node.validity is not None and not node.validity.any()
    return bool(np.all(node.type_ids == 0)) and node.scalars.values.null_count == len(node)


def empty_node(typ: pa.DataType) -> lay.Node:
    """A zero-row node of the canonical type ``typ``."""
    return null_node(typ, 0)


def null_node(typ: pa.DataType, n: int) -> lay.Node:
    """``n`` null rows of the canonical type ``typ`` (null lists, null union scalars)."""
    if pa.types.is_large_list(typ):
        return lay.ListNode(
            np.zeros(n + 1, dtype=np.int64), np.zeros(n, dtype=bool), empty_node(typ.value_type)
        )
    if pa.types.is_union(typ):
        lists = empty_node(typ.field(1).type)
        assert isinstance(lists, lay.ListNode)
        return lay.UnionNode(
            np.zeros(n, dtype=np.int8), lay.Leaf(pa.nulls(n, typ.field(0).type)), lists
        )
    return lay.Leaf(pa.nulls(n, typ))
