"""Union lowering: scalar-or-list data as plain lists plus ``is_scalar`` flags, and back.

Many Arrow consumers cannot take dense unions (Polars panics, DuckDB refuses, Parquet cannot
write them). The lowered form of a column with a union somewhere in its nesting is:

* ``values``: the same column with every scalar row of the union wrapped into a list (as
  deep as the union's list child, so ``7`` next to ``[[1, 2]]`` becomes ``[[7]]``);
* ``is_scalar``: booleans with the nesting *above* the union, True where a row was a
  scalar.

Raising reverses it exactly (nulls included: a null scalar row becomes ``[null]`` with flag
True). One union per column is supported (at the root or inside lists); a union inside a
union's list child cannot be lowered and raises :class:`~grumpy_arrow.errors.LayoutError`.

Examples
--------
>>> import grumpy_arrow as gr
>>> from grumpy_arrow.compute.lowering import lower_node, raise_node
>>> values, flags = lower_node(gr.array([7, [1, 2], None]).node)
>>> gr.GrumpyArray._wrap(values).to_list(), gr.GrumpyArray._wrap(flags).to_list()
([[7], [1, 2], [None]], [True, False, True])
>>> gr.GrumpyArray._wrap(raise_node(values, flags)).to_list()
[7, [1, 2], None]
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from grumpy_arrow import layout as lay
from grumpy_arrow.compute.gather import take_rows
from grumpy_arrow.compute.structure import lift_union
from grumpy_arrow.errors import LayoutError

__all__ = ["FLAG_SUFFIX", "has_union", "lower_node", "raise_node"]

FLAG_SUFFIX = "__is_scalar"


def has_union(typ: pa.DataType) -> bool:
    """Whether an Arrow type contains a union anywhere."""
    if pa.types.is_union(typ):
        return True
    if pa.types.is_large_list(typ) or pa.types.is_list(typ) or pa.types.is_fixed_size_list(typ):
        return has_union(typ.value_type)
    if pa.types.is_struct(typ):
        return any(has_union(typ.field(i).type) for i in range(typ.num_fields))
    return False


def lower_node(node: lay.Node) -> tuple[lay.Node, lay.Node | None]:
    """``(values, is_scalar)`` for a node with a union; ``(node, None)`` without one.

    Raises
    ------
    LayoutError
        For a union inside a union's list child (two union levels in one column).
    """
    if isinstance(node, lay.Leaf):
        return node, None
    if isinstance(node, lay.RecordNode):
        if any(lower_node(f)[1] is not None for f in node.fields):
            raise LayoutError(
                "cannot lower a union inside a record's field (Parquet and pandas get the "
                "lowered form); select the field (x.field(name)) or export with "
                "unions='native'"
            )
        return node, None
    if isinstance(node, lay.ListNode):
        values, flags = lower_node(node.content)
        if flags is None:
            return node, None
        return (
            node.with_content(values),
            node.with_content(flags),
        )
    if lower_node(node.lists)[1] is not None:
        raise LayoutError(
            "cannot lower a union whose list rows contain another union; export it with "
            "unions='native'"
        )
    flags = lay.Leaf(pa.array(node.type_ids == 0, type=pa.bool_()))
    return lift_union(node), flags


def raise_node(values: lay.Node, flags: lay.Node) -> lay.Node:
    """Rebuild the union from its lowered form (the inverse of :func:`lower_node`).

    Raises
    ------
    LayoutError
        When the flags do not fit the values (different offsets, or a row flagged scalar
        that is not a one-element list).
    """
    if isinstance(flags, lay.ListNode):
        if not isinstance(values, lay.ListNode) or not np.array_equal(
            values.offsets, flags.offsets
        ):
            raise LayoutError("is_scalar flags do not follow the lists of their values column")
        return lay.ListNode(
            values.offsets, values.validity, raise_node(values.content, flags.content)
        )
    if not isinstance(flags, lay.Leaf) or not pa.types.is_boolean(flags.values.type):
        raise LayoutError(f"is_scalar flags must be booleans, got {flags}")
    if len(flags) != len(values):
        raise LayoutError(
            f"is_scalar has {len(flags)} rows but its values column has {len(values)}"
        )
    is_scalar = np.asarray(flags.values.fill_null(False).to_numpy(zero_copy_only=False))
    scalar_rows = np.flatnonzero(is_scalar)
    list_rows = np.flatnonzero(~is_scalar)
    # Walk each scalar row down its one-element lists to the value.
    position, node = scalar_rows.astype(np.int64), values
    while isinstance(node, lay.ListNode):
        lens = np.diff(node.offsets)[position]
        if np.any(lens != 1):
            bad = int(scalar_rows[np.flatnonzero(lens != 1)[0]])
            raise LayoutError(f"row {bad} is flagged scalar but is not a one-element list")
        position = node.offsets[:-1][position]
        node = node.content
    if not isinstance(node, lay.Leaf):
        raise LayoutError("lowered values must be lists of plain values")
    scalars = lay.Leaf(pc.take(node.values, pa.array(position)))
    lists = take_rows(values, list_rows)
    if not isinstance(lists, lay.ListNode):
        raise LayoutError("the non-scalar rows of a lowered union must be lists")
    return lay.UnionNode((~is_scalar).astype(np.int8), scalars, lists)
