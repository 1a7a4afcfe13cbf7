"""Row-wise statistics (median, quantile, nan* reductions, cumsum, cumprod, diff, per-row
unique and n_unique, histogram, bincount) checked value for value against NumPy applied
to every row."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

import grumpy_arrow as gr
from grumpy_arrow.errors import DTypeError, LayoutError, OutOfBoundsError


def _rows(seed: int, dtype: str, n: int = 300, nan: bool = False) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    lengths = rng.integers(0, 21, n)
    lengths[:3] = [0, 1, 2]
    out = []
    for k in lengths:
        if dtype.startswith("int"):
            row = rng.integers(-50, 50, k).astype(dtype)
        else:
            row = rng.normal(size=k).round(2).astype(dtype)
            if nan and k > 3 and rng.random() < 0.2:
                row[rng.integers(0, k)] = np.nan
        out.append(row)
    return out


def _array(rows: list[np.ndarray]) -> gr.GrumpyArray:
    return gr.array([r.tolist() for r in rows], dtype=rows[0].dtype.name)


def _same(got: list, want: list) -> None:
    """Equal value for value, NaN equal to NaN, None only where None is expected."""
    assert len(got) == len(want)
    for g, w in zip(got, want, strict=True):
        if w is None or (isinstance(w, list) and None in w):
            assert g == w
        else:
            assert g is not None
            np.testing.assert_array_equal(np.asarray(g), np.asarray(w), strict=False)


@pytest.mark.parametrize("dtype", ["float64", "float32", "int32", "int64"])
@pytest.mark.parametrize("method", ["linear", "lower", "higher", "nearest", "midpoint"])
def test_quantile_per_row_is_numpys_bit_for_bit(dtype: str, method: str) -> None:
    rows = _rows(1, dtype)
    got = _array(rows).quantile(0.3, dim=1, method=method).to_list()
    want = [None if len(r) == 0 else np.quantile(r, 0.3, method=method) for r in rows]
    _same(got, want)


@pytest.mark.parametrize("dtype", ["float64", "float32", "int32"])
def test_median_per_row_and_over_all_values_are_numpys(dtype: str) -> None:
    rows = _rows(2, dtype)
    x = _array(rows)
    want = [None if len(r) == 0 else np.median(r) for r in rows]
    _same(x.median(dim=1).to_list(), want)
    assert x.median() == np.median(np.concatenate(rows))
    assert np.median(x, axis=1).to_list() == x.median(dim=1).to_list()


def test_median_result_dtypes_follow_numpy() -> None:
    assert gr.array([[1, 2]], dtype="int32").median(dim=1).dtype == gr.float64
    assert gr.array([[1.5, 2.5]], dtype="float32").median(dim=1).dtype == gr.float32


def test_nan_in_a_row_gives_nan_and_nanmedian_skips_it() -> None:
    rows = _rows(3, "float64", nan=True)
    assert any(np.isnan(r).any() for r in rows)
    x = _array(rows)
    _same(x.median(dim=1).to_list(), [None if len(r) == 0 else np.median(r) for r in rows])
    want = [None if len(r) == 0 or np.isnan(r).all() else np.nanmedian(r) for r in rows]
    _same(x.nanmedian(dim=1).to_list(), want)
    _same(
        x.nanquantile([0.1, 0.9], dim=1).to_list(),
        [[None, None] if len(r) == 0 else list(np.nanquantile(r, [0.1, 0.9])) for r in rows],
    )


def test_several_quantiles_are_a_fixed_axis_inside_each_row() -> None:
    x = gr.array([[1.0, 2.0, 3.0, 4.0], [], [10.0]])
    q = x.quantile([0.0, 0.5, 1.0], dim=1)
    assert q.type == "3 * 3 * float64"
    assert q.to_list() == [[1.0, 2.5, 4.0], [None, None, None], [10.0, 10.0, 10.0]]
    assert x.quantile([0.25, 0.75]).tolist() == [2.0, 4.0]
    assert x.quantile(0.5) == 3.0
    assert np.percentile(x, 50, axis=1).to_list() == [2.5, None, 10.0]


def test_quantiles_skip_nulls_and_null_rows_give_null() -> None:
    x = gr.array([[1.0, None, 3.0], None, [None]])
    assert x.median(dim=1).to_list() == [2.0, None, None]
    assert x.quantile(1.0, dim=1).to_list() == [3.0, None, None]


@pytest.mark.parametrize("q", [-0.1, 1.5, float("nan"), "a", []])
def test_bad_quantiles_are_refused(q: object) -> None:
    with pytest.raises(ValueError, match="quantiles must be numbers in"):
        gr.array([[1.0]]).quantile(q, dim=1)


def test_quantile_method_is_checked() -> None:
    with pytest.raises(ValueError, match="method must be one of"):
        gr.array([[1.0]]).quantile(0.5, dim=1, method="weibull")


@pytest.mark.parametrize("dtype", ["float64", "float32", "int32", "int64"])
@pytest.mark.parametrize("op", ["cumsum", "cumprod"])
def test_running_totals_are_numpys_per_row(dtype: str, op: str) -> None:
    rows = _rows(4, dtype)
    x = _array(rows)
    got = getattr(x, op)()
    want = [getattr(np, op)(r) for r in rows]
    _same(got.to_list(), [w.tolist() for w in want])
    assert got.dtype.name == getattr(np, op)(rows[5]).dtype.name


def test_cumsum_over_all_values_and_with_nulls() -> None:
    x = gr.array([[1, 2, None, 4], [], [5]])
    assert x.cumsum().to_list() == [[1, 3, None, 7], [], [5]]
    assert x.cumsum(dim=None).to_list() == [1, 3, None, 7, 12]
    assert x.cumprod().to_list() == [[1, 2, None, 8], [], [5]]
    assert gr.array([True, True, False]).cumsum().to_list() == [1, 2, 2]


def test_cumsum_keeps_fixed_axes_and_deeper_nesting() -> None:
    points = gr.array(np.arange(12, dtype=np.float32).reshape(4, 3))
    out = points.cumsum()
    assert out.type == "4 * 3 * float32"
    assert out.to_list() == np.cumsum(np.arange(12, dtype=np.float32).reshape(4, 3), 1).tolist()
    deep = gr.array([[[1, 2], [3]], [], [[4, 5, 6]]])
    assert deep.cumsum().to_list() == [[[1, 3], [3]], [], [[4, 9, 15]]]
    assert deep.cumsum(dim=2).to_list() == deep.cumsum().to_list()


def test_cumsum_of_a_long_float_row_matches_numpy_exactly() -> None:
    rng = np.random.default_rng(5)
    rows = [rng.normal(size=k) for k in (50_000, 3, 0, 7)]
    got = _array(rows).cumsum().to_list()
    for g, r in zip(got, rows, strict=True):
        np.testing.assert_array_equal(np.asarray(g), np.cumsum(r))


@pytest.mark.parametrize("dtype", ["float64", "int32", "bool"])
@pytest.mark.parametrize("n", [1, 2, 3])
def test_diff_is_numpys_per_row(dtype: str, n: int) -> None:
    rows = _rows(6, "int64") if dtype != "float64" else _rows(6, "float64")
    rows = [r.astype(dtype) if dtype != "bool" else r > 0 for r in rows]
    got = _array(rows).diff(n)
    _same(got.to_list(), [np.diff(r, n).tolist() for r in rows])
    assert got.dtype.name == ("bool_" if dtype == "bool" else dtype)


def test_diff_nulls_and_fixed_axes() -> None:
    assert gr.array([[1, None, 4, 8], None]).diff().to_list() == [[None, None, 4], None]
    fixed = gr.array(np.array([[1, 4, 9], [2, 2, 5]]))
    assert fixed.diff().type == "2 * 2 * int64"
    assert fixed.diff(2).to_list() == [[2], [3]]
    assert fixed.diff(3).type == "2 * var * int64"
    assert gr.array([3, 5, 4]).diff().to_list() == [2, -1]
    assert np.diff(gr.array([[1, 4], [2]])).to_list() == [[3], []]


def test_diff_works_along_the_innermost_axis_only() -> None:
    with pytest.raises(LayoutError, match="innermost dim"):
        gr.array([[1, 2]]).diff(dim=0)
    with pytest.raises(ValueError, match="non-negative integer"):
        gr.array([[1, 2]]).diff(-1)


def test_unique_and_n_unique_per_row() -> None:
    rows = _rows(7, "int32")
    x = _array(rows)
    assert x.unique(dim=1).to_list() == [np.unique(r).tolist() for r in rows]
    assert x.n_unique(dim=1).to_list() == [len(np.unique(r)) for r in rows]
    assert x.n_unique() == len(np.unique(np.concatenate(rows)))
    words = gr.array([["b", "a", "b", None], None, []])
    assert words.unique(dim=1).to_list() == [["a", "b"], None, []]
    assert words.n_unique(dim=1).to_list() == [2, None, 0]
    assert gr.array([[np.nan, 1.0, np.nan]]).n_unique(dim=1).to_list() == [2]


def test_histogram_per_row_and_overall_match_numpy() -> None:
    rows = _rows(8, "float64")
    x = _array(rows)
    allv = np.concatenate(rows)
    counts, edges = x.histogram(7)
    want_counts, want_edges = np.histogram(allv, 7)
    np.testing.assert_array_equal(counts, want_counts)
    np.testing.assert_array_equal(edges, want_edges)
    per_row, edges2 = x.histogram([-1.0, 0.0, 0.5, 1.0], dim=1)
    assert per_row.type == "300 * 3 * int64"
    assert per_row.to_list() == [np.histogram(r, [-1.0, 0.0, 0.5, 1.0])[0].tolist() for r in rows]
    np.testing.assert_array_equal(edges2, [-1.0, 0.0, 0.5, 1.0])
    c, _e = np.histogram(x, bins=4, range=(0, 2))
    np.testing.assert_array_equal(c, np.histogram(allv, bins=4, range=(0, 2))[0])


def test_histogram_skips_nulls_and_nan() -> None:
    counts, edges = gr.array([[0.0, np.nan, None, 1.0]]).histogram(2)
    assert counts.tolist() == [1, 1] and edges.tolist() == [0.0, 0.5, 1.0]


def test_bincount_overall_and_per_row() -> None:
    rows = [np.abs(r) for r in _rows(9, "int64")]
    x = _array(rows)
    np.testing.assert_array_equal(x.bincount(), np.bincount(np.concatenate(rows)))
    width = int(np.concatenate(rows).max()) + 1
    per_row = x.bincount(dim=1)
    assert per_row.to_list() == [np.bincount(r, minlength=width).tolist() for r in rows]
    assert x.bincount(minlength=200, dim=1).type == "300 * 200 * int64"
    np.testing.assert_array_equal(np.bincount(gr.array([1, 1, 3])), [0, 2, 0, 1])


def test_bincount_refuses_negative_and_float_values() -> None:
    with pytest.raises(DTypeError, match="non-negative values, got -1"):
        gr.array([[1, -1]]).bincount()
    with pytest.raises(DTypeError, match="integer values, got double"):
        gr.array([[1.0]]).bincount()


@pytest.mark.parametrize(
    "op", ["nansum", "nanmean", "nanmin", "nanmax", "nanstd", "nanvar", "nanprod"]
)
def test_nan_reductions_treat_nan_as_missing(op: str) -> None:
    rows = _rows(10, "float64", nan=True)
    x = _array(rows)
    got = getattr(x, op)(dim=1).to_list()
    for g, r in zip(got, rows, strict=True):
        kept = r[~np.isnan(r)]
        if len(kept) == 0:
            assert g == (0.0 if op == "nansum" else 1.0 if op == "nanprod" else None)
        else:
            assert g == pytest.approx(getattr(np, op)(r), rel=1e-12)
    assert getattr(x, op)() == pytest.approx(getattr(np, op)(np.concatenate(rows)), rel=1e-12)


def test_row_statistics_of_unions_and_other_dims_are_refused_clearly() -> None:
    mixed = gr.array([1.0, [2.0, 3.0]])
    with pytest.raises(LayoutError, match="scalar-or-list union"):
        mixed.median(dim=-1)
    with pytest.raises(LayoutError, match=r"innermost dim \(2 or -1\)"):
        gr.array([[[1.0]]]).median(dim=1)
    with pytest.raises(OutOfBoundsError):
        gr.array([[1.0]]).cumsum(dim=5)
    with pytest.raises(DTypeError, match="numeric values, got string"):
        gr.array([["a"]]).cumsum()


def test_statistics_leave_the_input_untouched() -> None:
    x = gr.array([[3.0, 1.0], [2.0]])
    before = x.to_list()
    x.median(dim=1), x.cumsum(), x.unique(dim=1), x.histogram(2, dim=1)
    assert x.to_list() == before
    assert pa.array([3.0, 1.0]).to_pylist() == before[0]


@pytest.mark.parametrize("dtype", ["float32", "int32"])
def test_quantile_dtypes_and_bits_follow_numpys_weak_scalar_rule(dtype: str) -> None:
    rows = [r for r in _rows(11, dtype) if len(r)]
    x = _array(rows)
    one = x.quantile(0.37, dim=1)
    several = x.quantile([0.37, 0.81], dim=1)
    assert one.dtype.name == np.quantile(rows[0], 0.37).dtype.name
    assert several.dtype.name == np.quantile(rows[0], [0.37, 0.81]).dtype.name
    _same(one.to_list(), [np.quantile(r, 0.37) for r in rows])
    _same(several.to_list(), [np.quantile(r, [0.37, 0.81]).tolist() for r in rows])
    lower = x.quantile(0.37, dim=1, method="lower")
    assert lower.dtype.name == dtype


@pytest.mark.parametrize("kind", ["strings", "ints"])
def test_n_unique_with_few_distinct_values_uses_the_presence_table_exactly(kind: str) -> None:
    rng = np.random.default_rng(12)
    lengths = rng.integers(0, 15, 2000)
    pool = np.array(["C", "H", "O", "N"]) if kind == "strings" else np.array([7, -3, 0, 9])
    rows = [pool[rng.integers(0, 4, k)].tolist() for k in lengths]
    rows[5] = None
    if rows[6]:
        rows[6][0] = None
    x = gr.array(rows)
    want = [None if r is None else len({v for v in r if v is not None}) for r in rows]
    assert x.n_unique(dim=1).to_list() == want
    assert x.n_unique() == 4
