"""Row-wise statistics along the innermost axis: order statistics (median, quantiles),
running totals (cumsum, cumprod), differences, distinct values, histograms and counts.

Every kernel works on one **segmented leaf**: the flat values of the innermost axis and
the offsets that cut them into rows (a flat array is one segment). Sorting within rows is
one ``lexsort`` by (value, row); counting is one ``bincount`` over ``row * k + bin``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, cast

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from grumpy_arrow import layout as lay
from grumpy_arrow.compute.gather import offsets_from_lengths
from grumpy_arrow.errors import DTypeError, LayoutError

__all__ = [
    "QUANTILE_METHODS",
    "Segmented",
    "bincount",
    "cumulative",
    "diff",
    "histogram",
    "map_innermost",
    "n_unique",
    "order_within_rows",
    "parse_quantiles",
    "quantile",
    "unique_rows",
    "value_counts",
]

QUANTILE_METHODS = ("linear", "lower", "higher", "nearest", "midpoint")


@dataclass(frozen=True)
class Segmented:
    """Flat ``values`` cut into rows by ``offsets`` (int64, from 0)."""

    values: pa.Array
    offsets: np.ndarray

    @property
    def lengths(self) -> np.ndarray:
        return np.diff(self.offsets)

    @property
    def rows(self) -> np.ndarray:
        """The row of every value."""
        return np.repeat(np.arange(len(self.offsets) - 1, dtype=np.int64), self.lengths)


def map_innermost(
    node: lay.Node, fn: Callable[[Segmented, lay.ListNode | None], lay.Node], what: str
) -> lay.Node:
    """``node`` with its innermost axis replaced by ``fn(segments, list_node)``.

    A flat array is one segment (``list_node`` None): ``fn`` returns what replaces the
    whole array. Otherwise ``fn`` gets the innermost lists and returns what replaces them
    (a leaf of one value per row, or new lists).
    """
    if isinstance(node, lay.UnionNode):
        raise LayoutError(
            f"{what} of a scalar-or-list union: select one branch first "
            "(x[x.is_list()]...) or wrap the scalars as lists"
        )
    if isinstance(node, lay.Leaf):
        return fn(Segmented(node.values, np.array([0, len(node)], dtype=np.int64)), None)
    if isinstance(node, lay.RecordNode):
        raise lay.record_error("a row statistic", node)
    if isinstance(node.content, lay.Leaf):
        return fn(Segmented(node.content.values, node.offsets), node)
    return node.with_content(map_innermost(node.content, fn, what))


def _numeric(values: pa.Array, what: str) -> np.ndarray:
    """The values as NumPy (nulls are the caller's business: filled with 0)."""
    typ = values.type
    if not (pa.types.is_integer(typ) or pa.types.is_floating(typ) or pa.types.is_boolean(typ)):
        raise DTypeError(f"{what} needs numeric values, got {typ}")
    if values.null_count:
        values = values.fill_null(False if pa.types.is_boolean(typ) else 0)
    return cast("np.ndarray", values.to_numpy(zero_copy_only=False))


def _valid(values: pa.Array) -> np.ndarray | None:
    return None if not values.null_count else values.is_valid().to_numpy(zero_copy_only=False)


def _rows_out(
    lst: lay.ListNode | None, offsets: np.ndarray, content: pa.Array, size: int | None
) -> lay.Node:
    """New innermost lists (or a new flat array) over ``content``."""
    if lst is None:
        return lay.Leaf(content)
    return lay.ListNode(offsets, lst.validity, lay.Leaf(content), size)


def _per_row(lst: lay.ListNode | None, out: pa.Array) -> lay.Node:
    """One value per row: null rows give null."""
    if lst is not None and lst.validity is not None:
        out = pc.if_else(pa.array(lst.validity), out, pa.scalar(None, out.type))
    return lay.Leaf(out)


# -- running totals and differences ----------------------------------------------------


def cumulative(seg: Segmented, lst: lay.ListNode | None, op: str) -> lay.Node:
    """Running sum or product within every row, NumPy's dtypes (small ints widen to
    int64). A null stays null and does not interrupt the total (pandas' ``skipna``).

    Rows are grouped by length and each group is one ``np.cumsum(axis=1)`` over a
    ``(rows, length)`` block, so float totals are bit-for-bit NumPy's per-row ones (a
    cumsum-difference trick would not be). The loop runs once per distinct row length:
    at most ``sqrt(2 * values)`` times.
    """
    ufunc = np.cumsum if op == "cumsum" else np.cumprod
    fill = 0 if op == "cumsum" else 1
    x = _numeric(seg.values, op)
    valid = _valid(seg.values)
    if valid is not None:
        x = np.where(valid, x, np.asarray(fill, dtype=x.dtype))
    out = np.empty(len(x), dtype=ufunc(x[:0]).dtype)
    lens = seg.lengths
    starts = seg.offsets[:-1]
    for length in np.unique(lens[lens > 0]):
        picked = starts[lens == length]
        idx = picked[:, None] + np.arange(length, dtype=np.int64)
        out[idx] = ufunc(x[idx], axis=1)
    mask = None if valid is None else ~valid
    return _rows_out(lst, seg.offsets, pa.array(out, mask=mask), lst.size if lst else None)


def diff(seg: Segmented, lst: lay.ListNode | None) -> lay.Node:
    """``x[i+1] - x[i]`` within every row (a row of n values gives n - 1; booleans give
    ``!=``, as NumPy does); null if either side is null."""
    x = _numeric(seg.values, "diff")
    valid = _valid(seg.values)
    starts = seg.offsets[:-1][seg.lengths > 0]
    keep = np.ones(max(len(x) - 1, 0), dtype=bool)
    keep[starts[1:] - 1] = False  # pairs that straddle two rows
    d = x[1:] != x[:-1] if x.dtype == np.bool_ else x[1:] - x[:-1]
    mask = None if valid is None else ~(valid[1:] & valid[:-1])[keep]
    lens = np.maximum(seg.lengths - 1, 0)
    size = None if lst is None or lst.size is None or lst.size < 2 else lst.size - 1
    return _rows_out(lst, offsets_from_lengths(lens), pa.array(d[keep], mask=mask), size)


# -- distinct values -------------------------------------------------------------------


def order_within_rows(keys: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """The permutation that sorts every row of ``keys`` (rows are consecutive runs of
    ``counts`` values) and leaves the rows in place.

    Rows are grouped by length and each group is one ``np.argsort(axis=1)`` over a
    ``(rows, length)`` block: O(values * log(row length)), against a full sort by
    (row, key). The loop runs once per distinct row length (at most ``sqrt(2 * values)``).
    """
    starts = offsets_from_lengths(counts)[:-1]
    order = np.arange(len(keys), dtype=np.int64)
    for length in np.unique(counts[counts > 1]):
        idx = starts[counts == length][:, None] + np.arange(length, dtype=np.int64)
        local = np.argsort(keys[idx], axis=1, kind="stable")
        order[idx] = np.take_along_axis(idx, local, axis=1)
    return order


def _sort_keys(values: pa.Array) -> np.ndarray:
    """NumPy keys that order like ``values`` (non-null): the numbers themselves, or for
    strings each one's rank among the distinct strings."""
    typ = values.type
    if pa.types.is_integer(typ) or pa.types.is_floating(typ):
        return cast("np.ndarray", values.to_numpy(zero_copy_only=False))
    if pa.types.is_boolean(typ):
        return cast("np.ndarray", values.to_numpy(zero_copy_only=False).astype(np.int8))
    encoded = pc.dictionary_encode(values)
    rank = np.empty(len(encoded.dictionary), dtype=np.int64)
    rank[pc.sort_indices(encoded.dictionary).to_numpy()] = np.arange(len(rank))
    return cast("np.ndarray", rank[encoded.indices.to_numpy(zero_copy_only=False)])


def _sorted_distinct(seg: Segmented) -> tuple[pa.Array, np.ndarray]:
    """Sorted distinct non-null values of every row, and each one's row."""
    values, picks, rows = _distinct_picks(seg)
    return values.take(pa.array(picks)), rows


def _distinct_picks(seg: Segmented) -> tuple[pa.Array, np.ndarray, np.ndarray]:
    """The non-null values, the positions among them of every row's sorted distinct
    values, and each one's row (the values themselves are not gathered: ``n_unique``
    needs only the rows)."""
    rows = seg.rows
    values = seg.values
    if values.null_count:
        keep = values.is_valid()
        values, rows = values.filter(keep), rows[keep.to_numpy(zero_copy_only=False)]
    if len(values) == 0:
        return values, np.zeros(0, dtype=np.int64), rows
    keys = _sort_keys(values)
    order = order_within_rows(keys, np.bincount(rows, minlength=len(seg.offsets) - 1))
    keys = keys[order]
    same = keys[1:] == keys[:-1]
    if keys.dtype.kind == "f":  # NaN != NaN: count it once per row, as np.unique does
        nan = np.isnan(keys)
        same |= nan[1:] & nan[:-1]
    first = np.ones(len(keys), dtype=bool)
    first[1:] = ~(same & (rows[1:] == rows[:-1]))
    return values, order[first], rows[first]


def unique_rows(seg: Segmented, lst: lay.ListNode | None) -> lay.Node:
    """Sorted distinct non-null values of every row."""
    values, rows = _sorted_distinct(seg)
    counts = np.bincount(rows, minlength=len(seg.offsets) - 1)
    return _rows_out(lst, offsets_from_lengths(counts), values, None)


def n_unique(seg: Segmented, lst: lay.ListNode | None) -> lay.Node:
    """How many distinct non-null values every row holds (int64).

    Few distinct values (rows x distinct codes at most 4x the values: elements, labels)
    are counted with one presence table, ``bincount(row * k + code)``; others sort
    inside rows.
    """
    n_rows = len(seg.offsets) - 1
    table = _presence_counts(seg, n_rows)
    if table is not None:
        return _per_row(lst, pa.array(table))
    _, _, rows = _distinct_picks(seg)
    counts = np.bincount(rows, minlength=n_rows).astype(np.int64)
    return _per_row(lst, pa.array(counts))


def _presence_counts(seg: Segmented, n_rows: int) -> np.ndarray | None:
    """Distinct values per row through a ``(rows, k)`` presence table of dictionary codes,
    or None when ``rows * k`` would pass four times the values (or for floats: NaN)."""
    values = seg.values
    typ = values.type
    if not (lay.is_text_type(typ) or pa.types.is_integer(typ)):
        return None
    encoded = pc.dictionary_encode(values)
    k = len(encoded.dictionary)
    if k == 0 or n_rows * k > 4 * max(len(values), 1):
        return None
    codes = encoded.indices
    rows = seg.rows
    if codes.null_count:
        keep = codes.is_valid().to_numpy(zero_copy_only=False)
        codes, rows = codes.filter(pa.array(keep)), rows[keep]
    slot = rows * k + codes.to_numpy(zero_copy_only=False).astype(np.int64)
    present = np.bincount(slot, minlength=n_rows * k).reshape(n_rows, k) > 0
    return cast("np.ndarray | None", present.sum(axis=1).astype(np.int64))


# -- order statistics ------------------------------------------------------------------


def _lerp(a: np.ndarray, b: np.ndarray, t: np.ndarray, weak: bool) -> np.ndarray:
    """NumPy's quantile interpolation, term for term, so results are bit-identical: with
    a single Python-float quantile (``weak``) a float32 row stays in float32; otherwise
    the weights are float64 and so is the result."""
    diff_b_a = b - a
    if weak:
        lo_w, hi_w = t.astype(a.dtype), (1 - t).astype(a.dtype)
    else:
        lo_w, hi_w = t, 1 - t
        a, b, diff_b_a = (v.astype(np.float64) for v in (a, b, diff_b_a))
    out = a + diff_b_a * lo_w
    upper = t >= 0.5
    out[upper] = (b - diff_b_a * hi_w)[upper]
    return cast("np.ndarray", out)


def _quantile_dtype(x: np.ndarray, method: str, weak: bool, median: bool) -> np.dtype[Any]:
    """The result dtype NumPy gives: lower/higher/nearest pick values (the input dtype);
    the others interpolate: float64 for integers, and for floats unless one Python-float
    quantile keeps float32 (``np.median`` always does)."""
    if method in ("lower", "higher", "nearest") and not median:
        return x.dtype
    if x.dtype.kind != "f":
        return np.dtype(np.float64)
    return x.dtype if (weak or median) else np.dtype(np.float64)


def quantile(
    seg: Segmented,
    lst: lay.ListNode | None,
    qs: np.ndarray,
    method: str,
    skip_nan: bool,
    median: bool,
    weak: bool = True,
) -> lay.Node:
    """Quantiles ``qs`` of every row's valid values as NumPy computes them (same dtype,
    same bits). Empty rows give null; a row holding NaN gives NaN unless ``skip_nan``.
    Several ``qs`` give a fixed axis of ``len(qs)`` per row.
    """
    x = _numeric(seg.values, "median" if median else "quantile")
    keep = _valid(seg.values)
    nan_rows = np.zeros(len(seg.offsets) - 1, dtype=bool)
    if x.dtype.kind == "f":
        nan = np.isnan(x)
        if keep is not None:
            nan &= keep
        if nan.any():  # (rows worked out only when some value is NaN)
            if skip_nan:
                keep = ~nan if keep is None else keep & ~nan
            else:
                nan_rows[seg.rows[nan]] = True
    counts = seg.lengths
    if keep is not None:
        x = x[keep]
        counts = np.bincount(seg.rows[keep], minlength=len(seg.offsets) - 1)
    dtype = _quantile_dtype(x, method, weak, median)
    x = x[order_within_rows(x, counts)]
    has = counts > 0
    n = counts[has]
    first = offsets_from_lengths(counts)[:-1][has]
    out = np.zeros((len(counts), len(qs)), dtype=dtype)
    for j, q in enumerate(qs):
        out[has, j] = _row_quantile(x, first, n, q, method, median, weak)
    if nan_rows.any():
        out[nan_rows] = np.nan
    flat = pa.array(out.reshape(-1), mask=np.repeat(~has, len(qs)))
    if len(qs) == 1:
        return _per_row(lst, flat)
    fixed = lay.fixed_list(lay.Leaf(flat), len(qs))
    if lst is not None and lst.validity is not None:
        return lay.ListNode(fixed.offsets, lst.validity, fixed.content, fixed.size)
    return fixed


def _row_quantile(
    x: np.ndarray, first: np.ndarray, n: np.ndarray, q: float, method: str, median: bool, weak: bool
) -> np.ndarray:
    """Quantile ``q`` of the sorted rows ``x[first : first + n]`` (all non-empty)."""
    if median:
        lo_i, hi_i = (n - 1) // 2, n // 2
        a, b = x[first + lo_i], x[first + hi_i]
        if x.dtype.kind != "f":
            a, b = a.astype(np.float64), b.astype(np.float64)
        return cast("np.ndarray", np.where(lo_i == hi_i, a, (a + b) / a.dtype.type(2)))
    pos = (n - 1) * q
    lo_i = np.floor(pos).astype(np.int64)
    hi_i = np.ceil(pos).astype(np.int64)
    if method == "lower":
        return cast("np.ndarray", x[first + lo_i])
    if method == "higher":
        return cast("np.ndarray", x[first + hi_i])
    if method == "nearest":
        return cast("np.ndarray", x[first + np.around(pos).astype(np.int64)])
    a, b = x[first + lo_i], x[first + np.minimum(lo_i + 1, n - 1)]
    t = pos - lo_i
    if method == "midpoint":
        t = np.where(pos % 1 == 0, 0.0, 0.5)
    return _lerp(a, b, t, weak and x.dtype.kind == "f")


# -- counting --------------------------------------------------------------------------


def _counts_out(lst: lay.ListNode | None, counts: np.ndarray, k: int) -> lay.Node:
    """Counts of shape ``(rows, k)``: a fixed axis of ``k`` per row (flat for one row of a
    flat array)."""
    if lst is None:
        return lay.Leaf(pa.array(counts.reshape(-1)))
    fixed = lay.fixed_list(lay.Leaf(pa.array(counts.reshape(-1))), k)
    return lay.ListNode(fixed.offsets, lst.validity, fixed.content, fixed.size)


def histogram(seg: Segmented, lst: lay.ListNode | None, edges: np.ndarray) -> lay.Node:
    """Counts of every row's valid values in the bins ``edges`` (the last bin closed, as
    ``np.histogram``; values outside the edges and NaN are not counted)."""
    x = _numeric(seg.values, "histogram").astype(np.float64, copy=False)
    rows = seg.rows
    keep = _valid(seg.values)
    ok = (x >= edges[0]) & (x <= edges[-1])
    if keep is not None:
        ok &= keep
    x, rows = x[ok], rows[ok]
    k = len(edges) - 1
    bins = np.searchsorted(edges, x, side="right") - 1
    bins[bins == k] = k - 1  # the last edge belongs to the last bin
    n_rows = len(seg.offsets) - 1
    counts = np.bincount(rows * k + bins, minlength=n_rows * k).astype(np.int64)
    return _counts_out(lst, counts.reshape(n_rows, k), k)


def bincount(seg: Segmented, lst: lay.ListNode | None, minlength: int) -> lay.Node:
    """How often every non-negative integer occurs in each row: ``max(minlength, largest
    value + 1)`` counts per row (a fixed axis)."""
    typ = seg.values.type
    if not (pa.types.is_integer(typ) or pa.types.is_boolean(typ)):
        raise DTypeError(f"bincount needs integer values, got {typ}")
    x = _numeric(seg.values, "bincount").astype(np.int64, copy=False)
    rows = seg.rows
    keep = _valid(seg.values)
    if keep is not None:
        x, rows = x[keep], rows[keep]
    if len(x) and x.min() < 0:
        raise DTypeError(f"bincount needs non-negative values, got {int(x.min())}")
    k = max(int(minlength), int(x.max()) + 1 if len(x) else 0)
    n_rows = len(seg.offsets) - 1
    if k == 0:
        return _rows_out(lst, np.zeros(n_rows + 1, dtype=np.int64), pa.array([], pa.int64()), None)
    counts = np.bincount(rows * k + x, minlength=n_rows * k).astype(np.int64)
    return _counts_out(lst, counts.reshape(n_rows, k), k)


def parse_quantiles(q: Any) -> tuple[np.ndarray, bool]:
    """``q`` as a float64 array in [0, 1], and whether it was a single number."""
    scalar = np.ndim(q) == 0
    try:
        qs = np.atleast_1d(np.asarray(q, dtype=np.float64))
    except (TypeError, ValueError) as err:
        raise ValueError(f"quantiles must be numbers in [0, 1], got {q!r}") from err
    if qs.ndim != 1 or len(qs) == 0 or np.isnan(qs).any() or (qs < 0).any() or (qs > 1).any():
        raise ValueError(f"quantiles must be numbers in [0, 1], got {q!r}")
    return qs, scalar


def value_counts(
    values: pa.Array, *, ascending: bool = False, dropna: bool = True
) -> tuple[pa.Array, pa.Array]:
    """``(distinct values, counts)`` of a leaf array, most frequent first (ties in order of
    first occurrence): one hash pass in Arrow (``pyarrow.compute.value_counts``); a
    dictionary-encoded leaf counts its small indices. ``dropna=False`` counts nulls too."""
    if pa.types.is_dictionary(values.type):
        counted = pc.value_counts(values.indices)
        found = values.dictionary.take(counted.field("values"))
    else:
        counted = pc.value_counts(values)
        found = counted.field("values")
    counts = counted.field("counts")
    if dropna and found.null_count:
        keep = pc.is_valid(found)
        found, counts = found.filter(keep), counts.filter(keep)
    order = np.argsort(-np.asarray(counts) if not ascending else np.asarray(counts), kind="stable")
    picks = pa.array(order, type=pa.int64())
    return found.take(picks), counts.take(picks)
