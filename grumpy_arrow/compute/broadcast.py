"""Broadcasting of two layout nodes to one common structure (docs/array-model.md, "Broadcasting").

Rules, applied at every level from the outside in:

1. same structure -> nothing to do (offsets are shared, values are combined leafwise);
2. and 3. (scalars, length-1 outer axes) are handled by the caller before this module;
4. a leaf against a list repeats the leaf value over the list; two lists with different
   lengths broadcast a length-1 list against the other; other length mismatches fail;
5. union rows combine per row: scalar with scalar stays scalar, anything with a list is a
   list (the scalar repeats over it);
6. everything else raises :class:`~grumpy_arrow.errors.BroadcastError`.

Both results share the very same offsets arrays, so later structure checks are identity
checks.
"""

from __future__ import annotations

from typing import cast

import numpy as np
import pyarrow as pa

from grumpy_arrow import layout as lay
from grumpy_arrow.compute.gather import (
    as_union,
    child_ranks,
    offsets_from_lengths,
    take_rows,
)
from grumpy_arrow.errors import BroadcastError

__all__ = ["broadcast_nodes", "broadcast_pair", "node_type", "same_structure"]


def same_structure(a: lay.Node, b: lay.Node) -> bool:
    """True when both nodes have identical offsets, validity and union type ids."""
    if isinstance(a, lay.Leaf) and isinstance(b, lay.Leaf):
        return len(a) == len(b)
    if isinstance(a, lay.ListNode) and isinstance(b, lay.ListNode):
        return (
            _same_array(a.offsets, b.offsets)
            and _same_validity(a.validity, b.validity)
            and same_structure(a.content, b.content)
        )
    if isinstance(a, lay.UnionNode) and isinstance(b, lay.UnionNode):
        return (
            _same_array(a.type_ids, b.type_ids)
            and same_structure(a.scalars, b.scalars)
            and same_structure(a.lists, b.lists)
        )
    return False


def _same_array(x: np.ndarray, y: np.ndarray) -> bool:
    return x is y or (len(x) == len(y) and bool(np.array_equal(x, y)))


def _same_validity(x: np.ndarray | None, y: np.ndarray | None) -> bool:
    if x is None or y is None:
        return x is None and y is None
    return _same_array(x, y)


def broadcast_pair(a: lay.Node, b: lay.Node, path: str = "") -> tuple[lay.Node, lay.Node]:
    """Return ``(a', b')`` with a common structure; both inputs have the same length.

    Raises
    ------
    BroadcastError
        Naming the row (and path of inner axes) where lengths disagree.
    """
    if same_structure(a, b):
        return a, b
    if isinstance(a, lay.UnionNode) or isinstance(b, lay.UnionNode):
        return _broadcast_union(as_union(a), as_union(b), path)
    if isinstance(a, lay.Leaf) and isinstance(b, lay.Leaf):
        return a, b
    if isinstance(a, lay.Leaf) and isinstance(b, lay.ListNode):
        return _leaf_vs_list(a, b, path)
    if isinstance(a, lay.ListNode) and isinstance(b, lay.Leaf):
        bb, aa = _leaf_vs_list(b, a, path)
        return aa, bb
    assert isinstance(a, lay.ListNode) and isinstance(b, lay.ListNode)
    return _list_vs_list(a, b, path)


def _leaf_vs_list(a: lay.Leaf, b: lay.ListNode, path: str) -> tuple[lay.Node, lay.Node]:
    parents = np.repeat(np.arange(len(b), dtype=np.int64), np.diff(b.offsets))
    ca, cb = broadcast_pair(take_rows(a, parents), b.content, path + "[*]")
    return b.with_content(ca), b.with_content(cb)


def _merge_validity(x: np.ndarray | None, y: np.ndarray | None) -> np.ndarray | None:
    if x is None:
        return y
    if y is None:
        return x
    return cast("np.ndarray | None", x & y)


def _list_vs_list(a: lay.ListNode, b: lay.ListNode, path: str) -> tuple[lay.Node, lay.Node]:
    la, lb = np.diff(a.offsets), np.diff(b.offsets)
    validity = _merge_validity(a.validity, b.validity)
    if _same_array(la, lb):
        # Null rows are empty on both sides, so contents line up row for row.
        ca, cb = broadcast_pair(a.content, b.content, path + "[*]")
        offsets = a.offsets
        size = a.size if a.size is not None else b.size  # equal lengths: either's
        return lay.ListNode(offsets, validity, ca, size), lay.ListNode(offsets, validity, cb, size)
    valid = np.ones(len(a), dtype=bool) if validity is None else validity
    bad = valid & (la != lb) & (la != 1) & (lb != 1)
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise BroadcastError(
            f"cannot broadcast lists of length {int(la[row])} and {int(lb[row])} "
            f"at row {row}{path} (lists broadcast only when lengths are equal or one is 1)"
        )
    res = np.where(la == lb, la, np.where(la == 1, lb, la))
    res = np.where(valid, res, 0)
    offsets = offsets_from_lengths(res)
    rows = np.repeat(np.arange(len(a), dtype=np.int64), res)
    j = np.arange(len(rows), dtype=np.int64) - offsets[:-1][rows]
    ia = a.offsets[:-1][rows] + np.where(la[rows] == 1, 0, j)
    ib = b.offsets[:-1][rows] + np.where(lb[rows] == 1, 0, j)
    ca, cb = broadcast_pair(take_rows(a.content, ia), take_rows(b.content, ib), path + "[*]")
    # A fixed axis against lists of one: every valid row has the fixed length.
    size = a.size if a.size is not None and a.size != 1 else b.size
    if size is not None and not lay.fits_size(res, validity, size):
        size = None
    return lay.ListNode(offsets, validity, ca, size), lay.ListNode(offsets, validity, cb, size)


def _broadcast_union(a: lay.UnionNode, b: lay.UnionNode, path: str) -> tuple[lay.Node, lay.Node]:
    a_list, b_list = a.type_ids.astype(bool), b.type_ids.astype(bool)
    res_list = a_list | b_list
    ra, rb = child_ranks(a.type_ids), child_ranks(b.type_ids)
    both_scalar = np.flatnonzero(~res_list)
    sa = take_rows(a.scalars, ra[both_scalar])
    sb = take_rows(b.scalars, rb[both_scalar])
    groups = []
    for a_is, b_is in ((True, True), (False, True), (True, False)):
        rows = np.flatnonzero((a_list == a_is) & (b_list == b_is))
        if len(rows) == 0:
            continue
        na = take_rows(a.lists if a_is else a.scalars, ra[rows])
        nb = take_rows(b.lists if b_is else b.scalars, rb[rows])
        ga, gb = broadcast_pair(na, nb, path)
        groups.append((rows, ga, gb))
    if not groups:
        la = take_rows(a.lists, np.zeros(0, dtype=np.int64))
        lb = take_rows(b.lists, np.zeros(0, dtype=np.int64))
        la, lb = broadcast_pair(la, lb, path)
    else:
        la, lb = _merge_groups(groups, path)
    tids = res_list.astype(np.int8)
    assert isinstance(sa, lay.Leaf) and isinstance(sb, lay.Leaf)
    assert isinstance(la, lay.ListNode) and isinstance(lb, lay.ListNode)
    return lay.UnionNode(tids, sa, la), lay.UnionNode(tids, sb, lb)


def _merge_groups(
    groups: list[tuple[np.ndarray, lay.Node, lay.Node]], path: str
) -> tuple[lay.Node, lay.Node]:
    """Concatenate per-group results and restore row order."""
    if len(groups) == 1:
        return groups[0][1], groups[0][2]
    rows = np.concatenate([g[0] for g in groups])
    order = np.argsort(rows, kind="stable")
    merged = []
    for side in (1, 2):
        arrays = [lay.to_arrow(g[1] if side == 1 else g[2]) for g in groups]
        types = {str(arr.type) for arr in arrays}
        if len(types) != 1:
            raise BroadcastError(
                f"cannot broadcast union rows{path}: the list rows combine into different "
                f"layouts {sorted(types)}"
            )
        merged.append(take_rows(lay.from_arrow(pa.concat_arrays(arrays)), order))
    return merged[0], merged[1]


def node_type(node: lay.Node) -> str:
    """The type string of a node as users see it: ``'3 * var * int64'``."""
    return f"{len(node)} * {lay.describe(lay.to_arrow(node).type)}"


def broadcast_nodes(na: lay.Node, nb: lay.Node) -> tuple[lay.Node, lay.Node]:
    """Outer-length rules (equal, or 1 against n) then per-row broadcasting.

    Raises
    ------
    BroadcastError
        Naming both operands as they were given.
    """
    given = (na, nb)
    if len(na) != len(nb):
        if len(nb) == 1:
            nb = take_rows(nb, np.zeros(len(na), dtype=np.int64))
        elif len(na) == 1:
            na = take_rows(na, np.zeros(len(nb), dtype=np.int64))
        else:
            raise BroadcastError(
                f"cannot broadcast {node_type(na)} with {node_type(nb)}: outer lengths "
                f"{len(na)} and {len(nb)} differ and neither is 1"
            )
    try:
        return broadcast_pair(na, nb)
    except BroadcastError as err:
        raise BroadcastError(
            f"cannot broadcast {node_type(given[0])} with {node_type(given[1])}: {err}"
        ) from None
