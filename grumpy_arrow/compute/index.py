"""Indexing with NumPy/Awkward semantics (docs/array-model.md, "Indexing"), vectorised over offsets.

Keys reaching this module are normalised by the array layer into: ``int``, ``slice``,
a NumPy int64 array (gather), a NumPy bool array (filter), or a layout node (ragged
per-row gather/filter); a tuple applies one key per axis.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa

from grumpy_arrow import layout as lay
from grumpy_arrow.compute.elementwise import bool_to_numpy, numpy_view
from grumpy_arrow.compute.gather import (
    child_ranks,
    offsets_from_lengths,
    slice_rows,
    take_rows,
)
from grumpy_arrow.errors import LayoutError, OutOfBoundsError

__all__ = [
    "getitem",
    "nonzero_coordinates",
    "normalize_index",
    "ragged_index",
    "row",
    "select_rows",
    "slice_lengths",
]

Key = int | slice | np.ndarray | lay.Node


def normalize_index(i: int, length: int, axis: int = 0, where: str = "") -> int:
    """A possibly negative index as a position, or :class:`OutOfBoundsError`."""
    j = i + length if i < 0 else i
    if not 0 <= j < length:
        raise OutOfBoundsError(
            f"index {i} is out of bounds for axis {axis} with length {length}{where}"
        )
    return j


def row(node: lay.Node, i: int, axis: int = 0, where: str = "") -> Any:
    """Row ``i``: a Python value for scalar rows, a node for list rows."""
    j = normalize_index(i, len(node), axis, where)
    if isinstance(node, lay.Leaf):
        return node.values[j].as_py()
    if isinstance(node, lay.ListNode):
        if node.validity is not None and not node.validity[j]:
            return None
        return slice_rows(node.content, int(node.offsets[j]), int(node.offsets[j + 1]))
    if isinstance(node, lay.RecordNode):  # a record: a dict of its fields' values
        return lay.to_arrow(slice_rows(node, j, j + 1))[0].as_py()
    rank = int(child_ranks(node.type_ids)[j])
    if node.type_ids[j] == 0:
        return node.scalars.values[rank].as_py()
    return row(node.lists, rank, axis, where)


def select_rows(
    node: lay.Node, key: slice | np.ndarray, axis: int = 0, where: str = ""
) -> lay.Node:
    """Outer selection by slice, int array or bool mask."""
    n = len(node)
    if isinstance(key, slice):
        start, stop, step = key.indices(n)
        if step == 1:
            return slice_rows(node, start, max(start, stop))
        return take_rows(node, np.arange(start, stop, step, dtype=np.int64))
    if key.dtype == bool:
        if len(key) != n:
            raise OutOfBoundsError(f"boolean index has length {len(key)} but axis 0 has length {n}")
        return take_rows(node, np.flatnonzero(key))
    idx = key.astype(np.int64, copy=False)
    bad = (idx < -n) | (idx >= n)
    if bad.any():
        first = int(idx[np.flatnonzero(bad)[0]])
        raise OutOfBoundsError(
            f"index {first} is out of bounds for axis {axis} with length {n}{where}"
        )
    return take_rows(node, np.where(idx < 0, idx + n, idx))


def getitem(node: lay.Node, keys: tuple[Key, ...], axis: int = 0, where: str = "") -> Any:
    """Apply one key per axis, starting at ``axis`` (a row picked at ``where``)."""
    if not keys:
        return node
    head, rest = keys[0], keys[1:]
    if isinstance(head, int):
        picked = row(node, head, axis, where)
        if not rest:
            return picked
        if not isinstance(picked, lay.NODE_TYPES):
            raise OutOfBoundsError(
                f"too many indices: row {head}{where} is a scalar with no axis {axis + 1}"
            )
        path = f" in row {head}" if not where else f"{where}[{head}]"
        return getitem(picked, rest, axis + 1, path)
    if isinstance(head, lay.NODE_TYPES):
        out = ragged_index(node, head)
    else:
        out = select_rows(node, head, axis, where)
    return _inner(out, rest, axis + 1) if rest else out


def _inner(node: lay.Node, keys: tuple[Key, ...], axis: int) -> lay.Node:
    """Apply ``keys`` inside every row of ``node`` (whose elements sit at ``axis - 1``)."""
    if not keys:
        return node
    if isinstance(node, (lay.Leaf, lay.RecordNode)):
        raise OutOfBoundsError(f"too many indices: axis {axis} does not exist")
    if isinstance(node, lay.UnionNode):
        scalar_rows = np.flatnonzero(node.type_ids == 0)
        if len(scalar_rows):
            raise OutOfBoundsError(
                f"row {int(scalar_rows[0])} is a scalar; it has no axis {axis} to index"
            )
        return _inner(node.lists, keys, axis)
    head, rest = keys[0], keys[1:]
    lens = np.diff(node.offsets)
    valid = node.validity
    if isinstance(head, int):
        local = np.full(len(node), head, dtype=np.int64)
        local = np.where(local < 0, local + lens, local)
        _check_bounds(local, lens, valid, head, axis)
        picked = take_rows(
            node.content,
            node.offsets[:-1] + np.where(valid if valid is not None else True, local, 0),
            valid,
        )
        return _inner(picked, rest, axis)
    if isinstance(head, slice):
        starts, counts, step = slice_lengths(head, lens)
        if valid is not None:
            counts = np.where(valid, counts, 0)
        offsets = offsets_from_lengths(counts)
        rows = np.repeat(np.arange(len(node), dtype=np.int64), counts)
        j = np.arange(len(rows), dtype=np.int64) - offsets[:-1][rows]
        positions = node.offsets[:-1][rows] + starts[rows] + j * step
        content = take_rows(node.content, positions)
        return lay.ListNode(
            offsets, valid, _inner(content, rest, axis + 1), _fixed_count(node, counts, valid)
        )
    if isinstance(head, np.ndarray) and head.dtype != bool:
        m = len(head)
        local = np.tile(head.astype(np.int64), len(node))
        row_lens = np.repeat(lens, m)
        local = np.where(local < 0, local + row_lens, local)
        counts = np.full(len(node), m, dtype=np.int64)
        if valid is not None:
            counts = np.where(valid, counts, 0)
            keep = np.repeat(valid, m)
            local, row_lens = local[keep], row_lens[keep]
        rows = np.repeat(np.arange(len(node), dtype=np.int64), counts)
        _check_bounds(local, row_lens, None, head, axis, rows)
        content = take_rows(node.content, node.offsets[:-1][rows] + local)
        return lay.ListNode(
            offsets_from_lengths(counts),
            valid,
            _inner(content, rest, axis + 1),
            _fixed_count(node, counts, valid),
        )
    raise TypeError(
        f"unsupported index at axis {axis}: {type(head).__name__}; inner axes take ints, "
        "slices and int arrays (use a ragged array as the first index for per-row selection)"
    )


def _check_bounds(
    local: np.ndarray,
    lens: np.ndarray,
    valid: np.ndarray | None,
    key: Any,
    axis: int,
    rows: np.ndarray | None = None,
) -> None:
    bad = (local < 0) | (local >= lens)
    if valid is not None:
        bad &= valid
    if bad.any():
        k = int(np.flatnonzero(bad)[0])
        r = k if rows is None else int(rows[k])
        shown = key if isinstance(key, int) else int(np.asarray(key).ravel()[k % max(len(key), 1)])
        raise OutOfBoundsError(
            f"index {shown} is out of bounds for axis {axis} with length {int(lens[k])} in row {r}"
        )


def slice_lengths(key: slice, lens: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
    """Per-row ``slice.indices``: start offsets and counts for lists of lengths ``lens``."""
    step = 1 if key.step is None else int(key.step)
    if step == 0:
        raise ValueError("slice step cannot be zero")
    lens = lens.astype(np.int64)
    if step > 0:
        start = _bound(key.start, lens, 0, 0, lens)
        stop = _bound(key.stop, lens, lens, 0, lens)
        counts = np.maximum(0, (stop - start + step - 1) // step)
    else:
        start = _bound(key.start, lens, lens - 1, -1, lens - 1)
        stop = _bound(key.stop, lens, np.full_like(lens, -1), -1, lens - 1)
        counts = np.maximum(0, (start - stop - step - 1) // (-step))
    return start, counts, step


def _bound(value: int | None, lens: np.ndarray, default: Any, lo: int, hi: Any) -> np.ndarray:
    if value is None:
        return np.broadcast_to(np.asarray(default, dtype=np.int64), lens.shape).copy()
    v = np.full(lens.shape, int(value), dtype=np.int64)
    v = np.where(v < 0, v + lens, v)
    return np.clip(v, lo, hi)


def ragged_index(node: lay.Node, idx: lay.Node) -> lay.Node:
    """Per-row gather (int leaves) or filter (bool leaves) with a ragged index."""
    if len(idx) != len(node):
        raise OutOfBoundsError(f"ragged index has {len(idx)} rows but the array has {len(node)}")
    if isinstance(idx, lay.Leaf):
        values = idx.values
        if pa.types.is_boolean(values.type):
            return take_rows(node, np.flatnonzero(bool_to_numpy(values)))
        return select_rows(node, np.asarray(values.to_numpy(zero_copy_only=False)))
    if not isinstance(idx, lay.ListNode) or not isinstance(node, lay.ListNode):
        raise LayoutError("ragged indexing needs list rows in both the array and the index")
    lens = np.diff(node.offsets)
    ilens = np.diff(idx.offsets)
    validity = (
        idx.validity
        if node.validity is None
        else (node.validity if idx.validity is None else node.validity & idx.validity)
    )
    content = idx.content
    if isinstance(content, lay.Leaf) and not pa.types.is_boolean(content.values.type):
        rows = np.repeat(np.arange(len(node), dtype=np.int64), ilens)
        local = np.asarray(content.values.to_numpy(zero_copy_only=False)).astype(np.int64)
        row_lens = lens[rows]
        local = np.where(local < 0, local + row_lens, local)
        _check_bounds(local, row_lens, None, content.values.to_numpy(zero_copy_only=False), 1, rows)
        picked = take_rows(node.content, node.offsets[:-1][rows] + local)
        return lay.ListNode(idx.offsets, validity, picked)
    mismatch = lens != ilens
    if mismatch.any():
        r = int(np.flatnonzero(mismatch)[0])
        raise OutOfBoundsError(
            f"ragged index row {r} has length {int(ilens[r])} but the array row has {int(lens[r])}"
        )
    if isinstance(content, lay.Leaf):
        return _filter_items(node, bool_to_numpy(content.values), validity)
    inner = ragged_index(node.content, content)
    return lay.ListNode(node.offsets, validity, inner, node.size)


def _filter_items(
    node: lay.ListNode, mask: np.ndarray, validity: np.ndarray | None
) -> lay.ListNode:
    """The items of ``node`` where ``mask`` (one bool per item, nulls False) is True.

    Both offsets start at 0 and the row lengths are equal, so a mask position is the
    position of the item it selects. The kept positions are found once for the whole
    buffer; the new offsets count the kept positions before every row boundary (a
    ``searchsorted`` of the offsets, which are sorted), so no per-row count is needed.
    """
    positions = np.flatnonzero(mask)
    offsets = np.searchsorted(positions, node.offsets).astype(np.int64, copy=False)
    return lay.ListNode(offsets, validity, take_rows(node.content, positions))


def _fixed_count(node: lay.ListNode, counts: np.ndarray, valid: np.ndarray | None) -> int | None:
    """The size of a fixed axis after a slice or index list took the same number of items
    from each of its rows (None when ``node`` was variable, or nothing is left)."""
    if node.size is None:
        return None
    kept = counts if valid is None else counts[valid]
    if len(kept) == 0 or kept[0] == 0 or np.any(kept != kept[0]):
        return None
    return int(kept[0])


def nonzero_coordinates(node: lay.Node) -> list[np.ndarray]:
    """Coordinates of every true (non-zero, non-null) value: one int64 vector per axis
    (rows, then the position in each list, and so on down), as ``np.nonzero``.

    Raises
    ------
    LayoutError
        For a scalar-or-list union (its values have no common coordinates).
    """
    if isinstance(node, lay.UnionNode):
        raise LayoutError("np.nonzero of a scalar-or-list union has no coordinates")
    coords: list[np.ndarray] = []
    rows = np.arange(len(node), dtype=np.int64)
    while isinstance(node, lay.ListNode):
        lens = np.diff(node.offsets)
        coords = [np.repeat(c, lens) for c in coords] + [np.repeat(rows, lens)]
        rows = np.arange(int(node.offsets[-1]), dtype=np.int64) - np.repeat(node.offsets[:-1], lens)
        node = node.content
    coords.append(rows)
    if not isinstance(node, lay.Leaf):
        raise LayoutError("np.nonzero of records has no coordinates: select a field")
    truth = numpy_view(node.values, 0).astype(bool)
    return [c[truth] for c in coords]
