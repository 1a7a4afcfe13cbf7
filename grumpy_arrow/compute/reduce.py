"""Reductions: segmented kernels on whole leaf buffers and the ``dim`` driver (the rules:
docs/array-model.md, "Reductions").

The kernel is :func:`segment_reduce`: NumPy ``ufunc.reduceat`` over the leaf buffer with
int64 offsets (strings go through Arrow's hash aggregation). Reducing an inner axis is one
``reduceat``; reducing an outer axis of a list-chain is positional (NumPy/Awkward
semantics): the leaves are regrouped by their position, sorted once, and reduced with the
same kernel.

Sums keep NumPy's result dtypes (int64 for signed integers and bools, uint64 for unsigned)
but not always its accumulator: 32-bit integers are summed in 32 bits wherever a bound
(``max |x|`` times the longest segment) proves that no partial sum can overflow, which
avoids NumPy's buffered cast to int64 (4x faster). Totals of integers and bools use Arrow's
``pc.sum`` (bitmap popcount for bools).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from grumpy_arrow import _native
from grumpy_arrow import dtypes as dt
from grumpy_arrow import layout as lay
from grumpy_arrow.compute.elementwise import leaf_dtype, numpy_view
from grumpy_arrow.compute.gather import (
    child_ranks,
    leaf_rows,
    leaf_values,
    offsets_from_lengths,
    slice_rows,
    take_rows,
)
from grumpy_arrow.errors import DTypeError, LayoutError, OutOfBoundsError

__all__ = ["REDUCERS", "normalize_dim", "reduce", "reduce_all", "segment_reduce"]

REDUCERS = (
    "sum",
    "prod",
    "mean",
    "min",
    "max",
    "std",
    "var",
    "count",
    "count_nonzero",
    "any",
    "all",
    "argmin",
    "argmax",
    "ptp",
)
_NULL_WHEN_EMPTY = {"mean", "min", "max", "std", "var", "ptp", "argmin", "argmax"}


@dataclass(frozen=True)
class _Segments:
    offsets: np.ndarray  # int64, starts at 0, ends at len(values)
    positions: np.ndarray | None  # axis index of every value (for argmin/argmax)

    @property
    def lens(self) -> np.ndarray:
        return np.diff(self.offsets)


def normalize_dim(dim: int, ndim: int) -> int:
    """A possibly negative ``dim`` as an axis in ``[0, ndim)``.

    Raises
    ------
    OutOfBoundsError
        If ``dim`` is outside ``[-ndim, ndim)``.
    """
    if not isinstance(dim, (int, np.integer)) or isinstance(dim, bool):
        raise TypeError(f"dim must be an int or None, got {dim!r}")
    k = int(dim) + ndim if dim < 0 else int(dim)
    if not 0 <= k < ndim:
        raise OutOfBoundsError(f"dim {dim} is out of range for an array with ndim {ndim}")
    return k


# ---------------------------------------------------------------------------------------
# the kernel


def segment_reduce(
    values: pa.Array, offsets: np.ndarray, op: str, positions: np.ndarray | None = None
) -> pa.Array:
    """Reduce ``values[offsets[i]:offsets[i+1]]`` for every i, skipping nulls.

    Empty or all-null segments give 0 (sum, count, count_nonzero), 1 (prod), False (any),
    True (all) and null for every other reduction.
    """
    seg = _Segments(np.asarray(offsets, dtype=np.int64), positions)
    d = leaf_dtype(values)
    if op not in REDUCERS:
        raise ValueError(f"unknown reduction {op!r}; expected one of {', '.join(REDUCERS)}")
    if d.kind in "US":
        return _segment_reduce_text(values, seg, op, d)
    fast = _fast_sum_mean(values, seg.offsets, op, d)
    if fast is not None:
        return fast
    return _segment_reduce_numeric(values, seg, op, d)


def _fast_sum_mean(values: pa.Array, offsets: np.ndarray, op: str, d: dt.DType) -> pa.Array | None:
    """sum/mean of null-free numbers and bools: one ``reduceat`` call (empty segments give
    0, and a null mean)."""
    if op not in ("sum", "mean") or values.null_count or d.kind not in "iufb" or d == dt.float16:
        return None
    seg = _Segments(offsets, None)
    lens = seg.lens
    if len(lens) == 0:
        return None
    x = numpy_view(values, 0)
    empty = lens == 0
    mask = empty if empty.any() else None
    native = _native_sum(x, seg.offsets, lens, op, d)
    if native is not None and op == "sum":
        return pa.array(native.astype(_sum_dtype(d), copy=False))
    if native is not None:  # exact integer sums: the same means as a float64 accumulator
        total = native.astype(np.float64)
    else:
        narrow = _narrow_sum_dtype(values, x, lens, d)
        if op == "sum":
            sums = _reduceat(np.add, x, seg, 0, narrow if narrow is not None else _sum_dtype(d))
            return pa.array(sums.astype(_sum_dtype(d), copy=False))
        if narrow is not None:
            total = _reduceat(np.add, x, seg, 0, narrow).astype(np.float64)
        else:
            total = _reduceat(np.add, x, seg, 0, _mean_dtype(d))
    with np.errstate(all="ignore"):
        total /= np.where(empty, 1, lens)
    return pa.array(total, mask=mask)


def _native_sum(
    x: np.ndarray, offsets: np.ndarray, lens: np.ndarray, op: str, d: dt.DType
) -> np.ndarray | None:
    """Integer and bool segment sums in one compiled pass (:func:`._native.segment_sum`),
    or None (no kernels, floats). Sums are exact int64 (uint64 for unsigned), wrapping as
    NumPy's do; a mean uses them only for values of at most 32 bits in segments of fewer
    than 2**21 values, where the exact sum is what a float64 accumulator gives too."""
    if d.kind not in "iub" or x.dtype.kind not in "iub":
        return None
    if op == "mean" and (x.dtype.itemsize > 4 or int(lens.max()) >= 1 << 21):
        return None
    return _native.segment_sum(x, offsets)


def _narrow_sum_dtype(
    values: pa.Array, x: np.ndarray, lens: np.ndarray, d: dt.DType
) -> np.dtype[Any] | None:
    """A 32-bit accumulator for segment sums of bools and 32-bit integers when no partial
    sum can overflow it (``max |x| * longest segment`` fits), else None.

    NumPy widens int32 to int64 through a buffered cast (0.27 ms on 1 M values); summing
    in int32 takes 0.08 ms, and the bound costs one ``pc.min_max`` pass (0.05 ms).
    """
    longest = int(lens.max()) if len(lens) else 0
    if d == dt.bool_:
        return np.dtype(np.int32) if longest < 2**31 else None
    if d.kind not in "iu" or x.dtype.itemsize != 4 or longest == 0:
        return None
    bounds = pc.min_max(values).as_py()
    lo, hi = bounds["min"], bounds["max"]
    if lo is None:
        return None
    if d.kind == "u":
        return np.dtype(np.uint32) if hi * longest < 2**32 else None
    return np.dtype(np.int32) if max(-lo, hi) * longest < 2**31 else None


def _reduceat(
    ufunc: np.ufunc, x: np.ndarray, seg: _Segments, identity: Any, dtype: Any = None
) -> np.ndarray:
    """``ufunc.reduceat`` over the segments, ``identity`` for the empty ones (reduceat
    would give the next value); one call on all starts when none is empty."""
    lens = seg.lens
    x = x[: seg.offsets[-1]] if len(seg.offsets) else x  # the last segment ends there
    if len(lens) and lens.all():
        out = ufunc.reduceat(x, seg.offsets[:-1], dtype=dtype)
        return out.astype(dtype, copy=False) if dtype is not None else out
    out_dtype = np.dtype(dtype) if dtype is not None else x.dtype
    out = np.full(len(lens), identity, dtype=out_dtype)
    nonempty = lens > 0
    if nonempty.any():
        starts = seg.offsets[:-1][nonempty]
        out[nonempty] = ufunc.reduceat(x, starts, dtype=dtype)
    return out


def _sum_dtype(d: dt.DType) -> np.dtype[Any]:
    if d.kind in "ib":
        return np.dtype(np.int64)
    if d.kind == "u":
        return np.dtype(np.uint64)
    return d.numpy


def _mean_dtype(d: dt.DType) -> np.dtype[Any]:
    return d.numpy if d.kind == "f" and d != dt.float16 else np.dtype(np.float64)


def _segment_reduce_numeric(values: pa.Array, seg: _Segments, op: str, d: dt.DType) -> pa.Array:
    valid = lay.is_valid_mask(values)
    lens = seg.lens
    counts = lens if valid is None else _reduceat(np.add, valid, seg, 0, np.int64)
    empty = counts == 0
    if op == "count":
        return pa.array(counts.astype(np.int64))
    if op in ("sum", "mean", "var", "std"):
        sdt = _sum_dtype(d) if op == "sum" else _mean_dtype(d)
        x = numpy_view(values, 0)
        total = _reduceat(np.add, x, seg, 0, sdt)
        if op == "sum":
            return _out(total, None, d, op)
        with np.errstate(all="ignore"):
            mean = total / np.where(empty, 1, counts)
        if op == "mean":
            return _out(mean.astype(sdt, copy=False), empty, d, op)
        dev = x.astype(sdt, copy=False) - np.repeat(mean, lens)
        sq = dev * dev if valid is None else np.where(valid, dev * dev, 0)
        var = _reduceat(np.add, sq, seg, 0, sdt) / np.where(empty, 1, counts)
        res = np.sqrt(var) if op == "std" else var
        return _out(res.astype(sdt, copy=False), empty, d, op)
    if op == "prod":
        return _out(
            _reduceat(np.multiply, numpy_view(values, 1), seg, 1, _sum_dtype(d)), None, d, op
        )
    if op in ("any", "all", "count_nonzero"):
        nz = numpy_view(values, 0) != 0
        if valid is not None:
            nz = nz & valid if op != "all" else nz | ~valid
        if op == "count_nonzero":
            return pa.array(_reduceat(np.add, nz, seg, 0, np.int64))
        ufunc = np.logical_or if op == "any" else np.logical_and
        return pa.array(_reduceat(ufunc, nz, seg, op == "all", bool), type=pa.bool_())
    return _extreme(values, valid, seg, op, d, empty)


def _extreme(
    values: pa.Array,
    valid: np.ndarray | None,
    seg: _Segments,
    op: str,
    d: dt.DType,
    empty: np.ndarray,
) -> pa.Array:
    x = numpy_view(values, 0)
    if d.kind == "b":
        x = x.astype(np.int8)
    if d.kind == "f":
        lo, hi = -np.inf, np.inf
    else:
        info = np.iinfo(x.dtype)
        lo, hi = info.min, info.max
    x_lo = x if valid is None else np.where(valid, x, hi)  # nulls never win a minimum
    x_hi = x if valid is None else np.where(valid, x, lo)  # nor a maximum
    if op in ("min", "max", "ptp"):
        mn = _reduceat(np.minimum, x_lo, seg, hi) if op != "max" else None
        mx = _reduceat(np.maximum, x_hi, seg, lo) if op != "min" else None
        if op == "ptp":
            assert mn is not None and mx is not None
            with np.errstate(all="ignore"):
                res = mx - mn
        else:
            res = mn if mn is not None else mx
        return _out(np.asarray(res), empty, d, op)
    xs = x_lo if op == "argmin" else x_hi
    extreme = _reduceat(
        np.minimum if op == "argmin" else np.maximum, xs, seg, hi if op == "argmin" else lo
    )
    rep = np.repeat(extreme, seg.lens)
    hit = (xs == rep) | (np.isnan(xs) & np.isnan(rep)) if d.kind == "f" else xs == rep
    if valid is not None:
        hit &= valid
    local = seg.positions
    if local is None:
        local = np.arange(len(x), dtype=np.int64) - np.repeat(seg.offsets[:-1], seg.lens)
    big = np.iinfo(np.int64).max
    arg = _reduceat(np.minimum, np.where(hit, local, big), seg, big)
    return _out(arg, empty, dt.int64, op)


def _out(res: np.ndarray, empty: np.ndarray | None, d: dt.DType, op: str) -> pa.Array:
    if op in ("min", "max", "ptp") and d.kind in "iufb":
        res = res.astype(d.numpy, copy=False) if d != dt.bool_ else res.astype(bool)
        if d == dt.bool_ and op == "ptp":
            res = res.astype(np.int8)
    mask = empty if empty is not None and empty.any() else None
    if d == dt.float16 and op in ("sum", "prod", "min", "max", "ptp"):
        return pa.array(res.astype(np.float16), type=pa.float16(), mask=mask)
    return pa.array(res, mask=mask)


def _segment_reduce_text(values: pa.Array, seg: _Segments, op: str, d: dt.DType) -> pa.Array:
    lens = seg.lens
    if op == "count":
        groups = np.repeat(np.arange(len(lens), dtype=np.int64), lens)
        valid = np.asarray(values.is_valid().to_numpy(zero_copy_only=False), dtype=bool)
        return pa.array(np.bincount(groups[valid], minlength=len(lens)).astype(np.int64))
    if op not in ("min", "max"):
        raise DTypeError(f"{op} is not defined for {d.name} values (only min, max, count)")
    groups = np.repeat(np.arange(len(lens), dtype=np.int64), lens)
    table = pa.table({"g": pa.array(groups), "v": values})
    agg = table.group_by("g").aggregate([("v", op)])
    out = pa.nulls(len(lens), type=values.type)
    if agg.num_rows:
        idx = np.full(len(lens), -1, dtype=np.int64)
        idx[np.asarray(agg["g"])] = np.arange(agg.num_rows)
        picked = pc.take(agg[f"v_{op}"].combine_chunks(), pa.array(np.where(idx < 0, 0, idx)))
        out = pc.if_else(pa.array(idx >= 0), picked, out)
    return out


# ---------------------------------------------------------------------------------------
# the dim driver


def reduce(node: lay.Node, op: str, dim: int | None, ndim: int) -> Any:
    """Reduce ``node`` over ``dim`` (None = everything -> Python scalar)."""
    if dim is None:
        return reduce_all(leaf_values(node), op)
    k = normalize_dim(dim, ndim)
    if k == 0:
        if isinstance(node, lay.Leaf):
            return reduce_all(node.values, op)
        if isinstance(node, lay.UnionNode):
            values, rows = leaf_rows(node)
            offsets = offsets_from_lengths(np.bincount(rows, minlength=len(node)))
            reduced = segment_reduce(values, offsets, op)
            # Scalar rows pass through: a null one stays null.
            null_rows = np.zeros(len(node), dtype=bool)
            scalar_null = np.asarray(node.scalars.values.is_null().to_numpy(zero_copy_only=False))
            null_rows[np.flatnonzero(node.type_ids == 0)] = scalar_null
            return lay.Leaf(_null_rows(reduced, ~null_rows))
        if isinstance(node, lay.RecordNode):
            raise lay.record_error(op, node)
        merged = _merge(
            node, np.zeros(len(node), dtype=np.int64), 1, _local_positions(node.offsets), op
        )
        return slice_rows(merged.content, 0, len(merged.content))
    return _reduce_below(node, op, k, 0)


def reduce_all(values: pa.Array, op: str) -> Any:
    """Reduce every value to one Python scalar (whole-buffer NumPy where possible)."""
    d = leaf_dtype(values)
    if d == dt.bool_ and op in _BOOL_TOTALS:
        return _reduce_all_bool(values, op)
    if values.null_count == 0 and d.kind in "iuf" and d != dt.float16 and len(values):
        x = values.to_numpy(zero_copy_only=True)
        if op == "sum" and d.kind in "iu":  # Arrow's SIMD sum, int64 / uint64 (wraps, as NumPy)
            return pc.sum(values).as_py()
        if op == "sum":
            return np.sum(x, dtype=_sum_dtype(d)).item()
        if op == "mean":
            return np.mean(x, dtype=_mean_dtype(d)).item()
        if op in ("min", "max"):
            return (np.min(x) if op == "min" else np.max(x)).item()
        if op == "count":
            return len(values)
        if op in ("argmin", "argmax"):
            return int(np.argmin(x) if op == "argmin" else np.argmax(x))
        if op in ("std", "var"):
            fn = np.std if op == "std" else np.var
            return fn(x, dtype=_mean_dtype(d)).item()
        if op == "prod":
            return np.prod(x, dtype=_sum_dtype(d)).item()
        if op == "ptp":
            return (np.max(x) - np.min(x)).item()
        if op in ("any", "all", "count_nonzero"):
            nonzero = int(np.count_nonzero(x))
            if op == "count_nonzero":
                return nonzero
            return nonzero > 0 if op == "any" else nonzero == len(x)
    return segment_reduce(values, np.array([0, len(values)]), op)[0].as_py()


_BOOL_TOTALS = ("sum", "count_nonzero", "count", "mean", "any", "all")


def _reduce_all_bool(values: pa.Array, op: str) -> Any:
    """Totals of a bool leaf from its bitmap (Arrow counts set bits): nulls are skipped,
    so an empty or all-null leaf gives 0, False (any), True (all) and None (mean)."""
    if op == "any":
        return pc.any(values, min_count=0).as_py()
    if op == "all":
        return pc.all(values, min_count=0).as_py()
    valid = len(values) - values.null_count
    if op == "count":
        return valid
    true = pc.sum(values, min_count=0).as_py()
    if op == "mean":
        return true / valid if valid else None
    return true


def _local_positions(offsets: np.ndarray) -> np.ndarray:
    """Index of every row within the whole array (for dim=0 all rows are one group)."""
    return np.arange(len(offsets) - 1, dtype=np.int64)


def _reduce_below(node: lay.Node, op: str, k: int, axis: int) -> lay.Node:
    """Reduce axis ``k`` of ``node`` whose rows sit at ``axis`` (``k > axis``)."""
    if isinstance(node, lay.Leaf):
        raise OutOfBoundsError(f"dim {k} is deeper than the values at axis {axis}")
    if isinstance(node, lay.UnionNode):
        return _reduce_union(node, op, k, axis)
    if isinstance(node, lay.RecordNode):
        raise lay.record_error(op, node)
    if k > axis + 1:
        inner = _reduce_below(node.content, op, k, axis + 1)
        return node.with_content(inner)
    content = node.content
    if isinstance(content, lay.Leaf):
        res = segment_reduce(content.values, node.offsets, op)
        return lay.Leaf(_null_rows(res, node.validity))
    if isinstance(content, lay.UnionNode):
        raise LayoutError(
            f"cannot reduce axis {k} positionally: its items mix scalars and lists (a union); "
            "reduce the innermost dim (dim=-1) or everything (dim=None)"
        )
    if isinstance(content, lay.RecordNode):
        raise lay.record_error(op, content)
    lens = np.diff(node.offsets)
    group = np.repeat(np.arange(len(node), dtype=np.int64), lens)
    pos = np.arange(len(group), dtype=np.int64) - np.repeat(node.offsets[:-1], lens)
    if (
        content.size is not None
        and content.validity is None
        and isinstance(content.content, lay.Leaf)
    ):
        return _reduce_fixed(node, content.content.values, content.size, pos, op)
    merged = _merge(content, group, len(node), pos, op)
    return lay.ListNode(merged.offsets, node.validity, merged.content, merged.size)


def _reduce_fixed(
    node: lay.ListNode, values: pa.Array, size: int, pos: np.ndarray, op: str
) -> lay.ListNode:
    """Reduce a variable axis over fixed rows of ``size`` values (``n * var * 3``: the
    atoms of each molecule, coordinate by coordinate): one segmented reduction over the
    values in coordinate-major order. Every valid row keeps its ``size`` results, an
    empty one too (NumPy's ``np.zeros((0, 3)).sum(axis=0)`` is three zeros)."""
    total = len(node.content)
    n = len(node)
    order = (np.arange(total, dtype=np.int64) * size)[None, :] + np.arange(size)[:, None]
    shifted = node.offsets[:-1][None, :] + (np.arange(size, dtype=np.int64) * total)[:, None]
    offsets = np.append(shifted.reshape(-1), size * total)
    picked = take_rows(lay.Leaf(values), order.reshape(-1))
    assert isinstance(picked, lay.Leaf)
    res = segment_reduce(picked.values, offsets, op, np.tile(pos, size))
    # Results come coordinate-major: row i's are at i, n + i, 2n + i, ...
    rows = np.arange(n, dtype=np.int64) if node.validity is None else np.flatnonzero(node.validity)
    back = (rows[:, None] + (np.arange(size, dtype=np.int64) * n)[None, :]).reshape(-1)
    lengths = np.full(n, size, dtype=np.int64)
    if node.validity is not None:
        lengths[~node.validity] = 0
    return lay.ListNode(
        offsets_from_lengths(lengths), node.validity, lay.Leaf(res.take(pa.array(back))), size
    )


def _null_rows(res: pa.Array, validity: np.ndarray | None) -> pa.Array:
    if validity is None or validity.all():
        return res
    return pc.if_else(pa.array(validity), res, pa.scalar(None, type=res.type))


def _reduce_union(node: lay.UnionNode, op: str, k: int, axis: int) -> lay.Node:
    reduced = _reduce_below(node.lists, op, k, axis)
    scalars = node.scalars.values
    if isinstance(reduced, lay.Leaf):
        # Scalar rows pass through; cast them to the reduction's result dtype.
        passed = _pass_scalars(scalars, op, reduced.values.type)
        is_list = node.type_ids.astype(bool)
        values = pa.concat_arrays([passed, reduced.values])
        ranks = child_ranks(node.type_ids)
        order = np.where(is_list, ranks + len(passed), ranks)
        return lay.Leaf(pc.take(values, pa.array(order)))
    assert isinstance(reduced, lay.ListNode)
    leaf_type = lay.arrow_leaf_type(lay.to_arrow(reduced).type)
    return lay.UnionNode(node.type_ids, lay.Leaf(_pass_scalars(scalars, op, leaf_type)), reduced)


def _pass_scalars(scalars: pa.Array, op: str, result_type: pa.DataType) -> pa.Array:
    """A scalar row reduced on its own: itself for value reductions, 0/1 for counts/args.

    A null scalar row stays null for every reduction, as a null list row does.
    """
    valid = pc.is_valid(scalars)
    null = pa.scalar(None, type=result_type)
    if op in ("count", "count_nonzero"):
        one = pa.scalar(1, pa.int64())
        if op == "count_nonzero":
            ones = pc.if_else(pc.not_equal(scalars, 0), one, pa.scalar(0, pa.int64()))
            return pc.if_else(valid, ones, pa.scalar(None, pa.int64()))
        return pc.if_else(valid, one, pa.scalar(None, pa.int64()))
    if op in ("argmin", "argmax"):
        return pc.if_else(valid, pa.scalar(0, pa.int64()), pa.scalar(None, pa.int64()))
    if op in ("std", "var", "ptp"):
        return pc.if_else(valid, pa.scalar(0, type=result_type), null)
    if op in ("any", "all"):
        return pc.not_equal(scalars, 0)
    return pc.cast(scalars, result_type)


def _merge(
    items: lay.ListNode, group: np.ndarray, n_groups: int, item_pos: np.ndarray, op: str
) -> lay.ListNode:
    """Positionally combine the list ``items`` that share a ``group`` into one list each.

    The j-th element of the merged list of group g combines the j-th elements of all of
    g's items (recursively for deeper lists); leaves are reduced with ``op``.
    """
    item_lens = np.diff(items.offsets)
    merged_len = np.zeros(n_groups, dtype=np.int64)
    np.maximum.at(merged_len, group, item_lens)
    merged_off = offsets_from_lengths(merged_len)
    item_of = np.repeat(np.arange(len(items), dtype=np.int64), item_lens)
    pos = np.arange(len(item_of), dtype=np.int64) - np.repeat(items.offsets[:-1], item_lens)
    new_group = merged_off[:-1][group[item_of]] + pos
    content = items.content
    total = int(merged_off[-1])
    # Fixed items merge into fixed lists (every group has at least one item).
    size = items.size if items.size is not None and np.all(merged_len == items.size) else None
    if isinstance(content, lay.ListNode):
        return lay.ListNode(
            merged_off, None, _merge(content, new_group, total, item_pos[item_of], op), size
        )
    if isinstance(content, lay.UnionNode):
        raise LayoutError("cannot reduce positionally across lists whose items are unions")
    if isinstance(content, lay.RecordNode):
        raise lay.record_error(op, content)
    counted = _bincount_reduce(content.values, new_group, total, op)
    if counted is not None:
        return lay.ListNode(merged_off, None, lay.Leaf(counted), size)
    # Small keys let NumPy's stable sort use radix sort (outer dims have few positions).
    keys = new_group.astype(np.uint16) if total <= np.iinfo(np.uint16).max else new_group
    order = np.argsort(keys, kind="stable")
    seg_off = offsets_from_lengths(np.bincount(new_group, minlength=total))
    sorted_values = take_rows(content, order)
    assert isinstance(sorted_values, lay.Leaf)
    res = segment_reduce(sorted_values.values, seg_off, op, item_pos[item_of][order])
    return lay.ListNode(merged_off, None, lay.Leaf(res), size)


def _bincount_reduce(
    values: pa.Array, group: np.ndarray, n_groups: int, op: str
) -> pa.Array | None:
    """sum / mean / count by unsorted group with ``np.bincount`` (no sort needed).

    bincount accumulates in float64, so integers take this path only when every partial sum
    is exact (``max|x| * n < 2**53``); otherwise the caller sorts and uses ``reduceat``.
    """
    d = leaf_dtype(values)
    if op not in ("sum", "mean", "count") or d.kind not in "iufb" or d == dt.float16:
        return None
    valid = lay.is_valid_mask(values)
    counts = np.bincount(group if valid is None else group[valid], minlength=n_groups)
    if op == "count":
        return pa.array(counts.astype(np.int64))
    x = numpy_view(values, 0)
    if d.kind != "f" and len(x) and float(np.abs(x).max()) * len(x) >= 2.0**53:
        return None
    sums = np.bincount(group, weights=x, minlength=n_groups)
    if op == "sum":
        return _out(sums.astype(_sum_dtype(d)), None, d, op)
    with np.errstate(all="ignore"):
        mean = sums / np.where(counts == 0, 1, counts)
    return _out(mean.astype(_mean_dtype(d)), counts == 0, d, op)
