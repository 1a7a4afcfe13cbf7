"""Row gathers and slices on layout nodes, all vectorised over offsets."""

from __future__ import annotations

from typing import Any, cast

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from grumpy_arrow import _native
from grumpy_arrow import layout as lay

__all__ = [
    "Ranges",
    "as_union",
    "child_ranks",
    "empty_like",
    "expand_ranges",
    "leaf_rows",
    "leaf_values",
    "offsets_from_lengths",
    "slice_rows",
    "take_primitive_lists",
    "take_ranges",
    "take_rows",
]


def offsets_from_lengths(lens: np.ndarray) -> np.ndarray:
    """``[0, cumsum(lens)]`` as int64."""
    offsets = np.empty(len(lens) + 1, dtype=np.int64)
    offsets[0] = 0
    np.add.accumulate(lens, out=offsets[1:])  # (np.cumsum's Python wrapper costs ~1 us)
    return offsets


def expand_ranges(starts: np.ndarray, lens: np.ndarray) -> np.ndarray:
    """Concatenation of ``arange(s, s + l)`` for every (start, length), without a loop."""
    lens = np.asarray(lens, dtype=np.int64)
    total = int(lens.sum())
    if total == 0:
        return np.zeros(0, dtype=np.int64)
    # int64 throughout: np.take converts narrower index arrays first, which costs more than
    # the memory traffic int32 positions would save.
    new_off = offsets_from_lengths(lens)
    shift = np.repeat(np.asarray(starts, dtype=np.int64) - new_off[:-1], lens)
    shift += np.arange(total, dtype=np.int64)
    return shift


BLOCK_RANGES = 64
"""Ranges of at least this many values on average are copied as blocks by
:func:`take_ranges` (below it, a gather of the expanded positions is faster)."""
_EXACT_LENGTHS = 8  # lengths spanning fewer values than this: one block per range
_BLOCK_BYTES = 1 << 20  # the temporary of one block copy, at most (stays in cache)


def take_ranges(x: np.ndarray, starts: np.ndarray, lens: np.ndarray) -> np.ndarray:
    """``x[s : s + l]`` for every (start, length), concatenated (a copy).

    Long ranges are copied as whole blocks, not value by value. Ranges of one length ``w``
    are one fancy index of the ``w``-wide sliding windows of ``x`` (a zero-copy strided
    view) and one fancy assignment into those of the output, so NumPy copies whole rows,
    as for a rectangular ``A[idx]`` (when every range has the same length, the gathered
    windows are the result). When the lengths span fewer than 8 values every length is
    its own group; otherwise the ranges are grouped by ``floor(log2(length))`` and each copies
    two blocks of its group's shortest length, from its start and from its end (they
    overlap in the middle, which writes the same values twice). The loops run once per
    group (at most 64 times) and per 1 MB of copied values, never per range. On 1000 rows
    of ~256 int32 this takes 0.11 ms where the expanded positions take 0.39 ms; short
    ranges (fewer than :data:`BLOCK_RANGES` values on average) use the positions.

    With the compiled kernels (:mod:`grumpy_arrow._native`) every range is one ``memcpy``
    instead, whatever the lengths: 0.04 ms for those 1000 rows.
    """
    lens = np.asarray(lens, dtype=np.int64)
    starts = np.asarray(starts, dtype=np.int64)
    total = int(lens.sum())
    fast = _native.take_ranges(x, starts, lens, total)
    if fast is not None:
        return cast("np.ndarray", fast)
    if total == 0 or total < BLOCK_RANGES * len(lens) or x.ndim != 1 or not x.flags.c_contiguous:
        return cast("np.ndarray", x[expand_ranges(starts, lens)])
    shortest, longest = int(lens.min()), int(lens.max())
    if shortest == longest:  # all of one length: the gathered windows are the result
        return cast("np.ndarray", _windows(x, longest)[starts].reshape(-1))
    new_starts = offsets_from_lengths(lens)[:-1]
    out = np.empty(total, dtype=x.dtype)
    if longest - shortest < _EXACT_LENGTHS:
        for w in (shortest + np.flatnonzero(np.bincount(lens - shortest))).tolist():
            if w:
                picked = np.flatnonzero(lens == w)
                _copy_blocks(out, x, starts[picked], new_starts[picked], w)
        return out
    group = np.frexp(lens.astype(np.float64))[1]  # floor(log2(length)) + 1; 0 if empty
    for g in np.flatnonzero(np.bincount(group)).tolist():
        if g == 0:
            continue
        picked = np.flatnonzero(group == g)
        src, dst, n = starts[picked], new_starts[picked], lens[picked]
        w = int(n.min())
        longer = n > w
        tail = n[longer] - w
        src = np.concatenate([src, src[longer] + tail])
        dst = np.concatenate([dst, dst[longer] + tail])
        _copy_blocks(out, x, src, dst, w)
    return out


def _copy_blocks(out: np.ndarray, x: np.ndarray, src: np.ndarray, dst: np.ndarray, w: int) -> None:
    """``out[d : d + w] = x[s : s + w]`` for every (s, d), about 1 MB per NumPy call (a
    larger temporary costs fresh pages on every call)."""
    into, rows = _windows(out, w), _windows(x, w)
    step = max(1, _BLOCK_BYTES // (w * x.itemsize))
    for i in range(0, len(src), step):
        into[dst[i : i + step]] = rows[src[i : i + step]]


def _windows(buf: np.ndarray, w: int) -> np.ndarray:
    """Every ``w`` consecutive values of a contiguous vector as the rows of a strided view
    (row i starts at value i; writable when ``buf`` is)."""
    step = buf.itemsize
    return np.ndarray((len(buf) - w + 1, w), dtype=buf.dtype, buffer=buf, strides=(step, step))


LONG_RANGES = 256
"""Ranges of at least this many values on average are copied as slices (see
:meth:`Ranges.take_from`; measured on 32 ranges of ~500 float32: 11 us as slices, 18 us
as a gather plus 23 us to expand the positions)."""


class Ranges:
    """Ranges ``[starts[i], stops[i])`` read from several leaves of one level: their
    bounds and their expanded positions are worked out once, on first use, for all of
    them (the level walk of a store's random reads). ``lo`` and ``hi`` (the bounds) are
    worked out when first asked for: reads from resident leaves never need them."""

    __slots__ = ("_bounds", "_lens", "_pairs", "_positions", "memo", "starts", "stops", "total")

    def __init__(self, starts: np.ndarray, stops: np.ndarray) -> None:
        self.starts, self.stops = starts, stops
        self._bounds: tuple[int, int] | None = None
        if len(starts) == 1:  # one range (a run of rows, a single row): no reductions
            self._bounds = int(starts[0]), int(stops[0])
            self.total = self._bounds[1] - self._bounds[0]
        elif len(starts):
            self.total = int(np.add.reduce(stops - starts))
        else:
            self._bounds = (0, 0)
            self.total = 0
        self._positions: np.ndarray | None = None
        self._lens: np.ndarray | None = None
        self._pairs: list[tuple[int, int]] | None = None
        self.memo: dict[Any, Any] = {}
        """What readers work out once for all the leaves of the level (read plans)."""

    @classmethod
    def one(cls, a: int, b: int) -> Ranges:
        """The single range ``[a, b)`` (a run of rows, one leaf's window)."""
        return cls(np.array([a], dtype=np.int64), np.array([b], dtype=np.int64))

    @property
    def lo(self) -> int:
        """The first position of any range (0 for no range)."""
        return self._bounds_of()[0]

    @property
    def hi(self) -> int:
        """The end of the last position of any range (0 for no range)."""
        return self._bounds_of()[1]

    def _bounds_of(self) -> tuple[int, int]:
        if self._bounds is None:
            self._bounds = int(np.minimum.reduce(self.starts)), int(np.maximum.reduce(self.stops))
        return self._bounds

    def positions(self) -> np.ndarray:
        """Every position of the ranges, in order (int64)."""
        if self._positions is None:
            if len(self.starts) == 1:  # one range (a run of consecutive rows)
                self._positions = np.arange(self.lo, self.hi, dtype=np.int64)
            elif self.total == len(self.starts) > 0 and np.minimum.reduce(self.stops - self.starts):
                self._positions = self.starts  # ranges of one position each (random rows)
            else:
                self._positions = expand_ranges(self.starts, self.stops - self.starts)
        return self._positions

    def take_from(self, values: np.ndarray) -> np.ndarray:
        """The values of the ranges from a whole array, in order (a copy): one ``memcpy``
        per range with the compiled kernels (:func:`._native.take_ranges`); without them,
        slices concatenated when the ranges are long (a few hundred values on average,
        where that costs about half of a gather of the expanded positions), else one
        gather."""
        n = len(self.starts)
        if n <= 1:
            return values[self.lo : self.hi].copy()  # (lo = hi = 0 for no range)
        if self.total > n and _native.kernels is not None:  # (one position each: a gather)
            if self._lens is None:
                self._lens = self.stops - self.starts
            fast = _native.take_ranges(values, self.starts, self._lens, self.total)
            if fast is not None:
                return cast("np.ndarray", fast)
        if self.total >= LONG_RANGES * n:
            if self._pairs is None:
                self._pairs = list(zip(self.starts.tolist(), self.stops.tolist(), strict=True))
            return np.concatenate([values[a:b] for a, b in self._pairs])
        return cast("np.ndarray", values[self.positions()])


def take_primitive_lists(arr: pa.Array, rows: np.ndarray) -> pa.Array | None:
    """Rows of a ``large_list<fixed-width>`` without nulls, gathered with NumPy.

    The values of the chosen rows are copied by the compiled kernels
    (:func:`._native.take_rows`: new offsets, then a ``memcpy`` per row) or, without them,
    by :func:`take_ranges` (as blocks: 4x faster than Arrow's list ``take`` on 4096 x 256
    int32, 1000 rows). Returns None for any other layout (the caller uses Arrow's
    ``take``).
    """
    typ = arr.type
    if not pa.types.is_large_list(typ) or arr.null_count:
        return None
    value_type = typ.value_type
    if not (pa.types.is_integer(value_type) or pa.types.is_floating(value_type)):
        return None
    values = arr.values
    if values.null_count:
        return None
    offsets = np.frombuffer(arr.buffers()[1], dtype=np.int64)[
        arr.offset : arr.offset + len(arr) + 1
    ]
    flat = np.frombuffer(values.buffers()[1], dtype=value_type.to_pandas_dtype())[
        values.offset : values.offset + len(values)
    ]
    fast = _native.take_rows(flat, offsets, rows)
    if fast is not None:  # (new offsets and values in two compiled calls)
        # Built on the buffers: the offsets are the kernel's own, from 0 and checked, so
        # none of ``from_arrays``' checks (~20 us of the 1000-row take's ~90).
        new, picked = fast
        content = pa.Array.from_buffers(value_type, len(picked), [None, pa.py_buffer(picked)])
        return pa.Array.from_buffers(typ, len(rows), [None, pa.py_buffer(new)], children=[content])
    # (without the kernels: rows counted from the end and checked here, as the kernel
    # does; a row outside the array raises IndexError, which the caller reports)
    n = len(offsets) - 1
    rows = np.asarray(rows, dtype=np.int64)
    if len(rows) and (int(rows.min()) < -n or int(rows.max()) >= n):
        raise IndexError("take_primitive_lists: a row is outside the array")
    rows = np.where(rows < 0, rows + n, rows)
    starts = offsets[rows]
    lens = offsets[rows + 1] - starts
    picked = take_ranges(flat, starts, lens)
    return pa.LargeListArray.from_arrays(
        pa.array(offsets_from_lengths(lens)), pa.array(picked, type=value_type)
    )


def child_ranks(type_ids: np.ndarray) -> np.ndarray:
    """For each union row, its position inside its own child."""
    is_list = type_ids.astype(bool)
    return np.where(is_list, np.cumsum(is_list) - 1, np.cumsum(~is_list) - 1)


def slice_rows(node: lay.Node, start: int, stop: int) -> lay.Node:
    """Rows ``start:stop`` (zero-copy for values)."""
    if isinstance(node, lay.Leaf):
        return lay.Leaf(node.values.slice(start, stop - start))
    if isinstance(node, lay.ListNode):
        offsets = node.offsets[start : stop + 1]
        base, end = int(offsets[0]), int(offsets[-1])
        validity = None if node.validity is None else node.validity[start:stop]
        content = slice_rows(node.content, base, end)
        return lay.ListNode(offsets - base, validity, content, node.size)
    if isinstance(node, lay.RecordNode):
        fields = tuple(slice_rows(f, start, stop) for f in node.fields)
        validity = None if node.validity is None else node.validity[start:stop]
        return node.with_fields(fields, validity, stop - start)
    tids = node.type_ids[start:stop]
    is_list = node.type_ids.astype(bool)
    lists_before = int(is_list[:start].sum())
    lists_in = int(tids.astype(bool).sum())
    scalars_before = start - lists_before
    scalars_in = (stop - start) - lists_in
    scalars = slice_rows(node.scalars, scalars_before, scalars_before + scalars_in)
    lists = slice_rows(node.lists, lists_before, lists_before + lists_in)
    assert isinstance(scalars, lay.Leaf) and isinstance(lists, lay.ListNode)
    return lay.UnionNode(tids, scalars, lists)


def take_rows(node: lay.Node, indices: np.ndarray, valid: np.ndarray | None = None) -> lay.Node:
    """Rows at non-negative int64 ``indices`` (any order, repeats allowed).

    Where ``valid`` is False the result row is null (its index is ignored).
    """
    indices = np.asarray(indices)
    if indices.dtype.kind not in "iu":
        indices = indices.astype(np.int64)
    if valid is not None:
        indices = np.where(valid, indices, 0)
    if isinstance(node, lay.Leaf):
        return lay.Leaf(_take_leaf(node.values, indices, valid))
    if isinstance(node, lay.ListNode):
        lens = np.diff(node.offsets)[indices]
        validity = None if node.validity is None else node.validity[indices]
        if valid is not None:
            lens = np.where(valid, lens, 0)
            validity = valid if validity is None else validity & valid
        offsets = offsets_from_lengths(lens)
        starts = node.offsets[:-1][indices]
        content = node.content
        if isinstance(content, lay.Leaf) and (flat := _plain_numbers(content.values)) is not None:
            picked = take_ranges(flat, starts, lens)  # copied as blocks where rows are long
            leaf = lay.Leaf(pa.array(picked, content.values.type))
            return lay.ListNode(offsets, validity, leaf, node.size)
        child = expand_ranges(starts, lens)
        return lay.ListNode(offsets, validity, take_rows(content, child), node.size)
    if isinstance(node, lay.RecordNode):
        fields = tuple(take_rows(f, indices) for f in node.fields)
        validity = None if node.validity is None else node.validity[indices]
        if valid is not None:
            validity = valid if validity is None else validity & valid
        return node.with_fields(fields, validity, len(indices))
    tids = node.type_ids[indices]
    ranks = child_ranks(node.type_ids)[indices]
    if valid is not None:
        tids = np.where(valid, tids, 0).astype(np.int8)
    is_list = tids.astype(bool)
    scalar_valid = None if valid is None else valid[~is_list]
    scalars = take_rows(node.scalars, ranks[~is_list], scalar_valid)
    lists = take_rows(node.lists, ranks[is_list])
    assert isinstance(scalars, lay.Leaf) and isinstance(lists, lay.ListNode)
    return lay.UnionNode(tids, scalars, lists)


def _plain_numbers(values: pa.Array) -> np.ndarray | None:
    """Null-free integer or float values as a zero-copy NumPy view, else None."""
    typ = values.type
    if values.null_count or not (pa.types.is_integer(typ) or pa.types.is_floating(typ)):
        return None
    return cast("np.ndarray | None", values.to_numpy(zero_copy_only=True))


def _take_leaf(values: pa.Array, indices: np.ndarray, valid: np.ndarray | None) -> pa.Array:
    """Gather leaf values; null-free numbers use ``np.take`` on the buffer (about twice as
    fast as Arrow's take, measured in benchmarks/bench_compute.py)."""
    typ = values.type
    numeric = pa.types.is_integer(typ) or pa.types.is_floating(typ)
    if valid is None and numeric and not values.null_count:
        return pa.array(np.take(values.to_numpy(zero_copy_only=True), indices))
    mask = None if valid is None else ~valid
    return pc.take(values, pa.array(indices, mask=mask))


def as_union(node: lay.Node, list_type_from: lay.Node | None = None) -> lay.UnionNode:
    """View a leaf (all scalar rows) or a list node (all list rows) as a union."""
    if isinstance(node, lay.UnionNode):
        return node
    n = len(node)
    if isinstance(node, lay.Leaf):
        lists = (
            empty_like(list_type_from)
            if list_type_from is not None
            else lay.ListNode(np.zeros(1, dtype=np.int64), None, lay.Leaf(node.values.slice(0, 0)))
        )
        assert isinstance(lists, lay.ListNode)
        return lay.UnionNode(np.zeros(n, dtype=np.int8), node, lists)
    if isinstance(node, lay.RecordNode):
        raise lay.record_error("a scalar-or-list union", node)
    scalar_type = lay.arrow_leaf_type(lay.to_arrow(node).type)
    scalars = lay.Leaf(pa.array([], type=scalar_type))
    return lay.UnionNode(np.ones(n, dtype=np.int8), scalars, node)


def empty_like(node: lay.Node) -> lay.Node:
    """A zero-row node of the same type."""
    return slice_rows(node, 0, 0)


def leaf_rows(node: lay.Node) -> tuple[pa.Array, np.ndarray]:
    """Every leaf value (null lists contribute none) with the row it belongs to.

    Leaves come back ordered by row and, within a row, in row-major order.
    """
    if isinstance(node, lay.Leaf):
        return node.values, np.arange(len(node), dtype=np.int64)
    if isinstance(node, lay.ListNode):
        values, rows = leaf_rows(node.content)
        parents = np.repeat(np.arange(len(node), dtype=np.int64), np.diff(node.offsets))
        return values, parents[rows]
    if isinstance(node, lay.RecordNode):
        raise lay.record_error("this operation", node)
    is_list = node.type_ids.astype(bool)
    scalar_rows = np.flatnonzero(~is_list)
    list_values, list_rows = leaf_rows(node.lists)
    list_rows = np.flatnonzero(is_list)[list_rows]
    rows = np.concatenate([scalar_rows, list_rows])
    order = np.argsort(rows, kind="stable")
    values = pa.concat_arrays([node.scalars.values, list_values])
    return pc.take(values, pa.array(order)), rows[order]


def leaf_values(node: lay.Node) -> pa.Array:
    """Every leaf value in row-major order (zero-copy for list-chains)."""
    while isinstance(node, lay.ListNode):
        node = node.content
    if isinstance(node, lay.Leaf):
        return node.values
    if isinstance(node, lay.RecordNode):
        raise lay.record_error("this operation", node)
    return leaf_rows(node)[0]
