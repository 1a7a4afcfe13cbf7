"""The whole-buffer fast paths of the compute kernels (issue 15, compute speed) give exactly
what the general paths and NumPy / pyarrow give: narrow-accumulator segment sums, bool
totals from the bitmap, table and hash membership, block copies of row gathers and ragged
masks by one filter of the values. Every test runs the sizes where a path switches on or
off (the overflow bound, block sizes, table spans) and the layouts that trip offsets
(empty rows, null rows, slices with non-zero offsets)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

import grumpy_arrow as gr
from grumpy_arrow.compute import elementwise as ew
from grumpy_arrow.compute import gather

RNG_SEED = 20240917


def _ragged(values: np.ndarray, lens: np.ndarray) -> gr.GrumpyArray:
    return gr.from_offsets(values, np.concatenate([[0], np.cumsum(lens)]).astype(np.int64))


def _rows(x: gr.GrumpyArray) -> list[Any]:
    return x.to_list()


# ---------------------------------------------------------------------------------------
# bools as NumPy: the bitmap unpacked


@pytest.mark.parametrize("offset", [0, 1, 7, 8, 9, 13])
@pytest.mark.parametrize("fill", [False, True], ids=["nulls-false", "nulls-true"])
def test_bool_to_numpy_reads_sliced_bitmaps_and_fills_nulls(offset: int, fill: bool) -> None:
    rng = np.random.default_rng(RNG_SEED)
    arr = pa.array(rng.random(300) < 0.5, mask=rng.random(300) < 0.2).slice(offset, 250)
    want = np.array([fill if v is None else v for v in arr.to_pylist()], dtype=bool)
    got = ew.bool_to_numpy(arr, fill=fill)
    assert got.dtype == np.bool_ and np.array_equal(got, want)
    assert ew.bool_to_numpy(pa.array([], pa.bool_())).shape == (0,)


# ---------------------------------------------------------------------------------------
# membership: table for narrow integers, perfect hash for the rest


_INT_DTYPES = ["int8", "uint8", "int16", "uint16", "int32", "uint32", "int64", "uint64"]


@pytest.mark.parametrize("dtype", _INT_DTYPES)
@pytest.mark.parametrize("span", ["narrow", "full"])
@pytest.mark.parametrize("n", [1, 65535, 65537, 3 * 65536 + 5])
def test_isin_numpy_equals_np_isin_for_integers(dtype: str, span: str, n: int) -> None:
    rng = np.random.default_rng(RNG_SEED)
    info = np.iinfo(dtype)
    if span == "narrow":  # a small span near the dtype's minimum: the table with a shift
        x = (info.min + rng.integers(0, 1000, n)).astype(dtype)
    else:
        x = rng.integers(info.min, info.max, n, dtype=dtype, endpoint=True)
    wanted = np.concatenate([rng.choice(x, 20), np.array([info.min, info.max], dtype)])
    assert np.array_equal(ew.isin_numpy(x, wanted), np.isin(x, wanted))


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("n", [3, 65536, 65537, 200_001])
def test_isin_numpy_floats_match_nan_nothing_and_zero_both_signs(dtype: str, n: int) -> None:
    rng = np.random.default_rng(RNG_SEED)
    x = rng.standard_normal(n).astype(dtype)
    x[::5], x[1::7], x[2::11] = 0.0, -0.0, np.nan
    x[3::13] = np.inf
    wanted = np.concatenate([rng.choice(x, 30), [0.0, np.nan, np.inf, 1e30]]).astype(dtype)
    got = ew.isin_numpy(x, wanted)
    assert np.array_equal(got, np.isin(x, wanted))
    assert got[1] and not got[2]  # -0.0 is 0.0; NaN matches nothing (as in NumPy)
    only_negative_zero = ew.isin_numpy(np.array([0.0, -0.0, 1.0], dtype), np.array([-0.0]))
    assert only_negative_zero.tolist() == [True, True, False]


def test_isin_numpy_mixed_dtypes_empty_sets_and_large_sets() -> None:
    rng = np.random.default_rng(RNG_SEED)
    small = np.array([1, 2, 300, -5], dtype=np.int16)
    # members beyond int16 can never match and are dropped, not wrapped around
    assert ew.isin_numpy(small, np.array([300, 2**40 + 300, -1], np.int64)).tolist() == [
        False,
        False,
        True,
        False,
    ]
    assert ew.isin_numpy(np.arange(4), np.array([1.0, 2.5])).tolist() == [
        False,
        True,
        False,
        False,
    ]
    assert ew.isin_numpy(np.arange(3.0), np.array([], np.float64)).tolist() == [False] * 3
    assert ew.isin_numpy(np.zeros(0, np.int32), np.array([1], np.int32)).shape == (0,)
    assert ew.isin_numpy(np.arange(3.0), np.array([np.nan])).tolist() == [False] * 3
    x = rng.standard_normal(50_000)
    many = rng.choice(x, 5000)  # too many members for a 2**16-slot perfect hash
    assert np.array_equal(ew.isin_numpy(x, many), np.isin(x, many))
    wide = rng.integers(-(2**40), 2**40, 70_000)  # a span beyond the table: hashed
    assert np.array_equal(ew.isin_numpy(wide, wide[:99]), np.isin(wide, wide[:99]))


@pytest.mark.parametrize("dtype", ["int32", "float64", "uint8"])
def test_array_isin_on_ragged_sliced_rows_keeps_structure(dtype: str) -> None:
    rng = np.random.default_rng(RNG_SEED)
    lens = rng.integers(0, 300, 400)
    lens[[0, 7, 399]] = 0
    x = _ragged(rng.integers(0, 200, int(lens.sum())).astype(dtype), lens)[3:397]
    members = [5, 17, 199, 250]
    got = x.isin(members)
    assert got.to_list() == [[v in members for v in row] for row in _rows(x)]
    with_nulls = gr.array([[1, None, 3], [], None, [3]])
    assert with_nulls.isin([3, 1]).to_list() == [[True, False, True], [], None, [True]]


# ---------------------------------------------------------------------------------------
# sums and means per row: a 32-bit accumulator when the bound proves it cannot overflow


def _row_sums(rows: list[list[int]]) -> list[int]:
    return [sum(int(v) for v in row) for row in rows]


@pytest.mark.parametrize(
    ("dtype", "lo", "hi"),
    [
        ("int32", -1000, 1000),  # the int32 accumulator
        ("int32", 2**31 - 64, 2**31),  # the bound fails: int64, sums beyond int32
        ("int32", -(2**31), -(2**31) + 64),
        ("uint32", 0, 1000),
        ("uint32", 2**32 - 64, 2**32),  # beyond uint32: uint64
        ("int8", -128, 128),
        ("uint16", 0, 2**16),
        ("int64", -(2**40), 2**40),
    ],
)
def test_row_sums_are_exact_whatever_the_accumulator(dtype: str, lo: int, hi: int) -> None:
    rng = np.random.default_rng(RNG_SEED)
    lens = rng.integers(0, 40, 300)
    lens[[0, 1, 150, 298, 299]] = 0  # empty rows first, in the middle and last
    values = rng.integers(lo, hi, int(lens.sum())).astype(dtype)
    for x in (_ragged(values, lens), _ragged(values, lens)[5:290]):
        rows = _rows(x)
        sums = x.sum(dim=1)
        assert sums.to_list() == _row_sums(rows)
        assert sums.dtype is (gr.uint64 if dtype.startswith("u") else gr.int64)
        means = x.mean(dim=1)
        assert means.dtype is gr.float64
        want = [np.mean(np.array(row, dtype=np.float64)) if row else None for row in rows]
        assert means.to_list() == want


def test_row_sums_of_one_long_row_cross_the_bound() -> None:
    # 70 000 values of 40 000: each fits, the row's partial sums do not fit int32
    x = gr.from_offsets(np.full(70_000, 40_000, np.int32), np.array([0, 70_000, 70_000]))
    assert x.sum(dim=1).to_list() == [70_000 * 40_000, 0]
    assert x.mean(dim=1).to_list() == [40_000.0, None]


def test_row_sums_of_bools_count_true_values() -> None:
    rng = np.random.default_rng(RNG_SEED)
    lens = rng.integers(0, 70, 500)
    lens[[0, 499]] = 0
    mask = _ragged(rng.random(int(lens.sum())) < 0.3, lens)[1:]
    rows = _rows(mask)
    assert mask.sum(dim=1).to_list() == [sum(row) for row in rows]
    assert mask.sum(dim=1).dtype is gr.int64
    assert mask.mean(dim=1).to_list() == [sum(row) / len(row) if row else None for row in rows]
    assert mask.count_nonzero(dim=1).to_list() == [sum(row) for row in rows]


def test_row_sums_with_nulls_and_null_rows() -> None:
    x = gr.array([[1, None, 3], None, [], [2**31 - 1, 2**31 - 1]], dtype=gr.int32)
    assert x.sum(dim=1).to_list() == [4, None, 0, 2**32 - 2]
    assert x.mean(dim=1).to_list() == [2.0, None, None, 2**31 - 1.0]


def test_float_row_sums_equal_numpy_reduceat() -> None:
    rng = np.random.default_rng(RNG_SEED)
    lens = rng.integers(1, 300, 200)
    values = rng.standard_normal(int(lens.sum()))
    starts = np.concatenate([[0], np.cumsum(lens)[:-1]])
    x = _ragged(values, lens)
    assert x.sum(dim=1).to_list() == np.add.reduceat(values, starts).tolist()
    assert x.mean(dim=1).to_list() == (np.add.reduceat(values, starts) / lens).tolist()


# ---------------------------------------------------------------------------------------
# totals: Arrow's sum for integers and the bitmap for bools


def test_integer_totals_wrap_like_numpy() -> None:
    big = np.full(3, 2**62, np.int64)
    assert gr.array(big).sum() == int(np.sum(big))  # wraps around, as in NumPy
    assert gr.array(np.full(3, 2**63, np.uint64)).sum() == int(np.sum(np.full(3, 2**63, np.uint64)))
    assert gr.array(np.full(300, 100, np.int8)).sum() == 30_000
    assert gr.array([[1, 2], [], [3]], dtype=gr.uint16).sum() == 6


@pytest.mark.parametrize("offset", [0, 3, 8])
def test_bool_totals_skip_nulls_on_sliced_bitmaps(offset: int) -> None:
    rng = np.random.default_rng(RNG_SEED)
    raw = pa.array(rng.random(70_000) < 0.4, mask=rng.random(70_000) < 0.1)
    arr = raw.slice(offset, 65_541)
    valid = [v for v in arr.to_pylist() if v is not None]
    x = gr.array(arr)
    assert x.sum() == sum(valid) and isinstance(x.sum(), int)
    assert x.count_nonzero() == sum(valid)
    assert x.count() == len(valid)
    assert x.mean() == sum(valid) / len(valid)
    assert x.any() is True and x.all() is False
    ragged = gr.from_offsets(arr.fill_null(False), np.array([0, 10, 10, len(arr)]))
    assert ragged.sum() == sum(valid)


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ([], {"sum": 0, "count": 0, "mean": None, "any": False, "all": True}),
        ([None, None], {"sum": 0, "count": 0, "mean": None, "any": False, "all": True}),
        ([True, None], {"sum": 1, "count": 1, "mean": 1.0, "any": True, "all": True}),
    ],
    ids=["empty", "all-null", "one-true"],
)
def test_bool_totals_of_empty_and_null_leaves(values: list[Any], expected: dict[str, Any]) -> None:
    x = gr.array(pa.array(values, pa.bool_()))
    for op, want in expected.items():
        assert getattr(x, op)() == want, op


# ---------------------------------------------------------------------------------------
# row gathers: block copies


@pytest.mark.parametrize(
    "lengths",
    ["one-length", "three-lengths", "many-lengths", "short"],
)
@pytest.mark.parametrize("dtype", ["int16", "int32", "float64"])
def test_take_ranges_equals_the_gather_of_expanded_positions(lengths: str, dtype: str) -> None:
    rng = np.random.default_rng(RNG_SEED)
    n = 3000
    lens = {
        "one-length": np.full(n, 300),
        "three-lengths": rng.integers(255, 258, n),
        "many-lengths": rng.integers(0, 1000, n),
        "short": rng.integers(0, 8, n),
    }[lengths]
    offsets = np.concatenate([[0], np.cumsum(lens)])
    x = rng.integers(-1000, 1000, int(offsets[-1]) + 9).astype(dtype)[4:-5]  # not at 0
    idx = rng.integers(0, n, 2000)
    starts, picked = offsets[idx], lens[idx]
    got = gather.take_ranges(x, starts, picked)
    assert got.dtype == x.dtype
    assert np.array_equal(got, x[gather.expand_ranges(starts, picked)])
    none = np.zeros(0, np.int64)
    assert gather.take_ranges(x, none, none).shape == (0,)
    assert gather.take_ranges(x, starts[:3], np.zeros(3, np.int64)).shape == (0,)


@pytest.mark.parametrize("dtype", ["int32", "float64", "uint8"])
def test_row_gather_of_long_rows_matches_arrow_take(dtype: str) -> None:
    rng = np.random.default_rng(RNG_SEED)
    lens = rng.integers(200, 203, 600)
    lens[[3, 10]] = 0
    values = rng.integers(0, 100, int(lens.sum())).astype(dtype)
    x = _ragged(values, lens)[2:590]
    idx = np.array([1, 1, -1, 0, 8, 587, 300, 300, -588] * 40, dtype=np.int64)
    want = pc.take(x.to_arrow(), pa.array(np.where(idx < 0, idx + 588, idx)))
    assert x[idx].to_arrow().equals(want)
    assert x[np.arange(0, 588, 3)].to_list() == _rows(x)[::3]
    assert x[::3].to_list() == _rows(x)[::3]  # the node gather of take_rows


@pytest.mark.parametrize("kernels", [True, False], ids=["kernels", "numpy"])
@pytest.mark.parametrize("index", ["int8", "int32", "int64", "uint8", "uint32", "uint64"])
def test_row_gather_bounds_for_every_index_dtype(
    index: str, kernels: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The row gather runs first and checks every row itself (the kernel, or the NumPy
    path without it): a row out of bounds in any index dtype is named as NumPy would
    (uint64 rows past int64's range do not wrap to negative ones), negative rows count
    from the end, and rows in bounds read exactly."""
    from grumpy_arrow import _native

    if not kernels:
        monkeypatch.setattr(_native, "kernels", None)
    x = _ragged(np.arange(10, dtype=np.int32), np.array([3, 0, 2, 5]))
    rows = [[0, 1, 2], [], [3, 4], [5, 6, 7, 8, 9]]
    ok = np.array([3, 0, 2, 2], dtype=index)
    assert x[ok].to_list() == [rows[3], rows[0], rows[2], rows[2]]
    if index.startswith("int"):
        assert x[np.array([-1, -4], dtype=index)].to_list() == [rows[3], rows[0]]
        with pytest.raises(gr.OutOfBoundsError, match="index -5 is out of bounds"):
            x[np.array([0, -5], dtype=index)]
    with pytest.raises(gr.OutOfBoundsError, match="index 4 is out of bounds for axis 0"):
        x[np.array([1, 4], dtype=index)]
    if index == "uint64":
        with pytest.raises(gr.OutOfBoundsError, match=f"index {2**64 - 1} is out of bounds"):
            x[np.array([2**64 - 1], dtype=index)]


def test_row_gather_of_fixed_rows_and_of_null_rows() -> None:
    rng = np.random.default_rng(RNG_SEED)
    rect = rng.standard_normal((500, 128))
    x = gr.from_numpy(rect)
    idx = rng.integers(0, 500, 300)
    assert np.array_equal(x[idx].to_numpy(), rect[idx])
    mask = rng.random(500) < 0.5
    assert np.array_equal(x[mask].to_numpy(), rect[mask])
    with_nulls = gr.array([[1.0] * 100, None, [2.0] * 99, []])
    assert with_nulls[np.array([2, 1, 0, 3, 1])].to_list() == [
        [2.0] * 99,
        None,
        [1.0] * 100,
        [],
        None,
    ]
    nested = gr.array([[[1, 2], [3]], [], [[4] * 80] * 3])
    assert nested[np.array([2, 0, 2])].to_list() == [[[4] * 80] * 3, [[1, 2], [3]], [[4] * 80] * 3]


# ---------------------------------------------------------------------------------------
# ragged masks: one filter of the values, offsets from the kept positions


def _filtered(rows: list[Any], masks: list[Any]) -> list[Any]:
    out = []
    for row, keep in zip(rows, masks, strict=True):
        if row is None or keep is None:
            out.append(None)
        else:
            out.append([v for v, k in zip(row, keep, strict=True) if k])
    return out


@pytest.mark.parametrize("dtype", ["int32", "float64", "int8"])
def test_ragged_mask_on_sliced_rows_with_empty_rows(dtype: str) -> None:
    rng = np.random.default_rng(RNG_SEED)
    lens = rng.integers(0, 300, 700)
    lens[[0, 1, 350, 699]] = 0
    values = rng.integers(-100, 100, int(lens.sum())).astype(dtype)
    x = _ragged(values, lens)[1:698]  # non-zero offsets into the values and the bitmap
    mask = x > 10
    got = x[mask]
    assert got.to_list() == _filtered(_rows(x), _rows(mask))
    assert got.to_arrow().type == x.to_arrow().type
    assert x[x > 100].to_list() == [[] for _ in range(len(x))]


def test_ragged_mask_with_null_values_and_null_rows() -> None:
    x = gr.array([[1, 2, 3], None, [4, 5], [], [6]])
    mask = gr.array([[True, None, True], None, [None, True], [], [False]])
    assert x[mask].to_list() == [[1, 3], None, [5], [], []]
    keep_all = gr.array([[True] * 3, [], [True] * 2, [], [True]])
    assert x[keep_all].to_list() == [[1, 2, 3], None, [4, 5], [], [6]]


def test_ragged_mask_keeps_whole_inner_lists() -> None:
    x = gr.array([[[1, 2], [3], []], [], [[4], [5, 6, 7]]])
    keep = gr.array([[False, True, True], [], [True, False]])
    assert x[keep].to_list() == [[[3], []], [], [[4]]]


def test_outer_mask_with_nulls_selects_nothing_there() -> None:
    x = gr.array([[1], [2, 3], [], [4]])
    outer = gr.array(pa.array([True, None, True, False]).slice(0, 4))
    assert x[outer].to_list() == [[1], []]
    sliced = gr.array(pa.array([False, True, None, True, True]).slice(1, 4))
    assert x[sliced].to_list() == [[1], [], [4]]


@pytest.mark.parametrize(
    "dtype", ["int8", "uint8", "int16", "uint16", "int32", "uint32", "int64", "uint64"]
)
def test_unique_of_narrow_integers_uses_a_presence_table_with_exact_results(dtype: str) -> None:
    info = np.iinfo(dtype)
    rng = np.random.default_rng(3)
    low = max(int(info.min), -(2**40))
    narrow = rng.integers(low, low + 5000, 20_000).astype(dtype)
    extremes = np.array([info.min, info.max, info.min], dtype=dtype)
    for values in (narrow, extremes, np.concatenate([narrow[:10], extremes])):
        got = gr.array(values).unique()
        assert got.dtype.name == dtype
        assert got.to_list() == np.unique(values).tolist()
    with_nulls = gr.array(pa.array([3, None, 1, 3], type=pa.from_numpy_dtype(np.dtype(dtype))))
    assert with_nulls.unique().to_list() == [1, 3]


@pytest.mark.parametrize("offset", [0, 1, 3, 8, 13])
@pytest.mark.parametrize("length", [1, 7, 8, 9, 100, 1001])
def test_validity_masks_unpack_sliced_bitmaps_exactly(offset: int, length: int) -> None:
    from grumpy_arrow import layout as lay

    rng = np.random.default_rng(offset * 1000 + length)
    flags = rng.random(length + 20) < 0.7
    values = pa.array(np.arange(length + 20), mask=~flags).slice(offset, length)
    lists = pa.array([[1] if f else None for f in flags]).slice(offset, length)
    for arr in (values, lists):
        want = flags[offset : offset + length]
        got = lay.is_valid_mask(arr)
        assert (got is None and want.all()) or got.tolist() == want.tolist()


# ---------------------------------------------------------------------------------------
# comparisons with a scalar: the leaf's bitmap in one call, the lists' buffers reused


def _compare_cases() -> list[gr.GrumpyArray]:
    rng = np.random.default_rng(RNG_SEED)
    lens = rng.integers(0, 9, 300)
    ints = rng.integers(-50, 50, int(lens.sum()))
    nested = pa.LargeListArray.from_arrays(
        pa.array(np.concatenate([[0], np.cumsum(rng.integers(0, 4, 80))]), pa.int64()),
        pa.LargeListArray.from_arrays(
            pa.array(np.concatenate([[0], np.cumsum(lens)])[: 1 + 200], pa.int64()),
            pa.array(ints[: int(lens[:200].sum())].astype(np.int16)),
        ),
    )
    nested = nested.slice(0, int(np.searchsorted(nested.offsets.to_numpy(), 200, "right")) - 1)
    floats = rng.standard_normal(int(lens.sum()))
    floats[::17] = np.nan
    with_null_rows = pa.LargeListArray.from_arrays(
        pa.array(np.concatenate([[0], np.cumsum(lens)]), pa.int64()),
        pa.array(floats.astype(np.float32)),
        mask=pa.array(rng.random(300) < 0.2),
    )
    return [
        _ragged(ints.astype(np.int32), lens),
        _ragged(ints.astype(np.int32), lens)[7:250],  # sliced rows
        _ragged((ints + 50).astype(np.uint8), lens),
        _ragged(floats, lens),
        gr.array(with_null_rows),
        gr.array(nested),
        gr.array(ints.astype(np.int64)),  # flat
        gr.array(pa.array([1.5, None, -2.0, 0.0])),  # a null leaf: the general path
    ]


@pytest.mark.parametrize("case", range(8))
@pytest.mark.parametrize("op", ["==", "!=", "<", "<=", ">", ">="])
@pytest.mark.parametrize("value", [0, 7, -3, 0.5, float("nan"), 300, 2**40, np.int64(3)])
def test_comparisons_with_a_scalar_equal_the_general_path(
    case: int, op: str, value: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every layout the scalar path takes (flat, ragged, nested, sliced, null rows, NaN,
    narrow and unsigned integers) and those it leaves (null leaves, scalars that promote):
    the same Arrow array as the general path, both ways round."""
    import importlib
    import operator

    array_module = importlib.import_module("grumpy_arrow.array")

    a = _compare_cases()[case]
    fn = {"==": operator.eq, "!=": operator.ne, "<": operator.lt, "<=": operator.le}
    fn |= {">": operator.gt, ">=": operator.ge}

    def outcomes() -> list[Any]:
        out: list[Any] = []
        for left, right in ((a, value), (value, a)):
            try:
                out.append(fn[op](left, right).to_arrow())
            except gr.ConversionError as err:  # (a scalar outside an unsigned dtype)
                out.append(str(err))
        return out

    got = outcomes()
    monkeypatch.setattr(array_module, "compare_scalar", lambda *args, **kw: None)
    want = outcomes()
    for g, w in zip(got, want, strict=True):
        if isinstance(w, str):
            assert g == w
            continue
        assert g.type == w.type
        assert g.to_pylist() == w.to_pylist()
        assert g.equals(w)


def test_comparisons_with_a_scalar_take_the_bitmap_path() -> None:
    """The layouts above that the scalar path covers do not go through the layout nodes
    (their result carries no node yet); a null leaf or a promoting scalar does."""
    from grumpy_arrow import _native
    from grumpy_arrow.compute import elementwise

    if _native.kernels is None:
        pytest.skip("the compiled kernels are off: comparisons take the general path")
    cases = _compare_cases()
    for a in cases[:7]:
        assert elementwise.compare_scalar(a.to_arrow(), 3, "greater", a.dtype) is not None
        assert (a > 3)._node is None
    assert elementwise.compare_scalar(cases[7].to_arrow(), 3, "greater", cases[7].dtype) is None
    assert elementwise.compare_scalar(cases[0].to_arrow(), 2**40, "less", cases[0].dtype) is None
    assert elementwise.compare_scalar(cases[0].to_arrow(), True, "equal", cases[0].dtype) is None
