"""``GrumpyArray.map``: replace every leaf value through a lookup table.

The table is two Arrow arrays, ``keys`` and ``targets``; one ``index_in`` over a leaf
finds each value's key and one ``take`` gathers the targets. A dictionary-encoded leaf
maps its dictionary (the distinct values, once) and gathers by its indices.
"""

from __future__ import annotations

from typing import Any, cast

import pyarrow as pa
import pyarrow.compute as pc

from grumpy_arrow import layout as lay
from grumpy_arrow.errors import DTypeError

__all__ = ["map_node", "map_values"]


def map_values(
    values: pa.Array, keys: pa.Array, targets: pa.Array, default: pa.Scalar | None
) -> pa.Array:
    """``targets[position of each value in keys]``; ``default`` (or null) where the value
    is not a key. Null values stay null."""
    if values.type != keys.type:
        try:
            keys = pc.cast(keys, values.type)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as err:
            raise DTypeError(
                f"map: the keys ({keys.type}) do not match the values ({values.type}): {err}"
            ) from err
    idx = pc.index_in(values, value_set=keys)
    out = targets.take(idx)
    if default is None:
        return out
    missing = pc.and_(pc.is_null(idx), pc.is_valid(values))
    return pc.if_else(missing, default.cast(targets.type), out)


def _map_leaf(
    leaf: lay.Leaf, keys: pa.Array, targets: pa.Array, default: pa.Scalar | None
) -> lay.Leaf:
    encoded = leaf.encoded
    if encoded is None:
        return lay.Leaf(map_values(leaf.values, keys, targets, default))
    mapped = map_values(encoded.dictionary, keys, targets, default)
    return lay.Leaf(mapped.take(encoded.indices))


def map_node(
    node: lay.Node, keys: pa.Array, targets: pa.Array, default: pa.Scalar | None
) -> lay.Node:
    """Every leaf of ``node`` mapped through the table; the structure is kept."""
    if isinstance(node, lay.Leaf):
        return _map_leaf(node, keys, targets, default)
    if isinstance(node, lay.ListNode):
        return node.with_content(map_node(node.content, keys, targets, default))
    if isinstance(node, lay.RecordNode):
        raise lay.record_error("map", node)
    scalars = _map_leaf(node.scalars, keys, targets, default)
    lists = map_node(node.lists, keys, targets, default)
    assert isinstance(lists, lay.ListNode)
    return lay.UnionNode(node.type_ids, scalars, lists)


def distinct_values(node: lay.Node) -> list[Any]:
    """The distinct non-null leaf values, as Python objects (for a function ``map``)."""
    if isinstance(node, lay.Leaf):
        leaf = node.encoded.dictionary if node.encoded is not None else node.values
        return cast("list[Any]", pc.unique(leaf.drop_null()).to_pylist())
    if isinstance(node, lay.ListNode):
        return distinct_values(node.content)
    if isinstance(node, lay.RecordNode):
        raise lay.record_error("map", node)
    seen = distinct_values(node.scalars) + distinct_values(node.lists)
    return list(dict.fromkeys(seen))
