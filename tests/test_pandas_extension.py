"""pandas' own ExtensionArray conformance suite (``pandas.tests.extension.base``) run on
``GrumpyDtype``: once for lists (``var * int64``, rows of different lengths including an
empty one) and once for scalar-or-list unions (``union[int64, var * int64]``).

Rows order lexicographically with scalars before lists, so the sorting fixtures below are
``[B, C, A]`` with ``A < B < C`` under that order.

No test of the suite is marked xfail here; the only xfails are the 4 pandas marks itself
(``test_getitem_series_integer_with_missing_raises``). 2-D tests skip (the array is 1-D, like
every Arrow-backed array), and the plotting tests need matplotlib.

The same suite can be run on ``pd.ArrowDtype(pa.large_list(pa.int64()))`` for comparison
(``GRUMPY_PANDAS_ARROWDTYPE_BASELINE=1 pytest tests/test_pandas_extension.py -k ArrowDtype``);
it is not collected by default because pandas' list support fails many of these tests
(with pandas 3.1.1 and pyarrow 26: 406 passed, 165 failed, 69 skipped, 2 xfailed).
"""

from __future__ import annotations

import ast
import graphlib
import os
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pandas.tests.extension import base
from pandas.tests.extension import conftest as pandas_fixtures

import grumpy_arrow as gr
import grumpy_arrow.pandas
from grumpy_arrow.errors import BroadcastError
from grumpy_arrow.pandas import GrumpyDtype, GrumpyExtensionArray, GrumpyList

# pandas' generic fixtures (box_in_series, as_frame, all_arithmetic_operators, ...) live in
# its extension conftest; bind them here so pytest finds them for this module.
all_data = pandas_fixtures.all_data
data_repeated = pandas_fixtures.data_repeated
data_for_twos = pandas_fixtures.data_for_twos
na_value = pandas_fixtures.na_value
box_in_series = pandas_fixtures.box_in_series
groupby_apply_op = pandas_fixtures.groupby_apply_op
as_frame = pandas_fixtures.as_frame
as_series = pandas_fixtures.as_series
use_numpy = pandas_fixtures.use_numpy
fillna_method = pandas_fixtures.fillna_method
as_array = pandas_fixtures.as_array
invalid_scalar = pandas_fixtures.invalid_scalar
all_reductions = pandas_fixtures.all_reductions
all_numeric_reductions = pandas_fixtures.all_numeric_reductions
all_boolean_reductions = pandas_fixtures.all_boolean_reductions
all_numeric_accumulations = pandas_fixtures.all_numeric_accumulations
all_arithmetic_operators = pandas_fixtures.all_arithmetic_operators
comparison_op = pandas_fixtures.comparison_op
using_nan_is_na = pandas_fixtures.using_nan_is_na

CASES: dict[str, dict[str, list[Any]]] = {
    "var * int64": {
        "data": [[1, 2], [3], [], [4, 5, 6], [7], [8, 9], [10], [11, 12, 13, 14], [0], [5, 5]],
        "data_missing": [None, [1, 2]],
        # B, C, A with A < B < C
        "data_for_sorting": [[1, 2], [3], []],
        "data_missing_for_sorting": [[1, 2], None, []],
        # B, B, NA, NA, A, A, B, C
        "data_for_grouping": [[1, 2], [1, 2], None, None, [], [], [1, 2], [3]],
    },
    "union[int64, var * int64]": {
        "data": [[1, 2], 3, [], 4, [5, 6, 7], 8, [9], [10, 11], 12, [0]],
        "data_missing": [None, [1, 2]],
        "data_for_sorting": [[], [1, 2], 5],
        "data_missing_for_sorting": [[], None, 5],
        "data_for_grouping": [[], [], None, None, 5, 5, [], [1, 2]],
    },
}


def _array(dtype: GrumpyDtype, name: str) -> GrumpyExtensionArray:
    return GrumpyExtensionArray._from_sequence(CASES[dtype.type_string][name], dtype=dtype)


@pytest.fixture(params=list(CASES), ids=["list", "union"])
def dtype(request: pytest.FixtureRequest) -> GrumpyDtype:
    return GrumpyDtype(request.param)


@pytest.fixture
def data(dtype: GrumpyDtype) -> GrumpyExtensionArray:
    return _array(dtype, "data")


@pytest.fixture
def data_missing(dtype: GrumpyDtype) -> GrumpyExtensionArray:
    return _array(dtype, "data_missing")


@pytest.fixture
def data_for_sorting(dtype: GrumpyDtype) -> GrumpyExtensionArray:
    return _array(dtype, "data_for_sorting")


@pytest.fixture
def data_missing_for_sorting(dtype: GrumpyDtype) -> GrumpyExtensionArray:
    return _array(dtype, "data_missing_for_sorting")


@pytest.fixture
def data_for_grouping(dtype: GrumpyDtype) -> GrumpyExtensionArray:
    return _array(dtype, "data_for_grouping")


@pytest.fixture
def na_cmp() -> Any:
    return lambda a, b: a is pd.NA and b is pd.NA


class TestGrumpyExtension(base.ExtensionTests):
    """Every base class of pandas' suite (``ExtensionTests`` bundles them; its 2-D tests
    skip themselves because the array is 1-D, as every Arrow-backed array is)."""

    def _get_expected_exception(self, op_name: str, obj: Any, other: Any) -> Any:
        # Arithmetic works inside the rows (GrumpyArray's broadcasting). The suite adds a
        # single row (a GrumpyList: TypeError, no arithmetic with a whole row), a Series
        # repeating data[0] = [1, 2] (its rows do not broadcast with rows of other lengths:
        # BroadcastError) or the data itself (works); divmod is not implemented.
        if op_name in ("__divmod__", "__rdivmod__"):
            return TypeError
        if isinstance(other, GrumpyExtensionArray):
            return None
        if isinstance(other, pd.Series):
            return BroadcastError
        return TypeError

    @pytest.mark.parametrize("periods", [1, -2])
    def test_diff(self, data: GrumpyExtensionArray, periods: int) -> None:
        if data.dtype.is_union and periods == 1:
            # [1, 2], 3, [], 4, [5, 6, 7]: each row broadcasts with the previous one.
            super().test_diff(data, periods)
            return
        # Otherwise some row and its neighbour are lists of different lengths, so the
        # elementwise difference cannot broadcast: it raises, as data - data.shift() does.
        with pytest.raises(BroadcastError, match="cannot broadcast lists of length"):
            pd.Series(data[:5]).diff(periods)
        with pytest.raises(BroadcastError, match="cannot broadcast lists of length"):
            data[:5] - data[:5].shift(periods)
        # List rows of equal lengths have a difference (shifted-in rows are null).
        same = pd.Series(pd.array([[1, 2], [4, 8], [5, 5]], dtype="grumpy[var * int64]"))
        expected = [pd.NA, [3, 6], [1, -3]] if periods == 1 else [[-4, -3], pd.NA, pd.NA]
        assert same.diff(periods).tolist() == expected

    def _cast_pointwise_result(self, op_name: str, obj: Any, other: Any, pointwise: Any) -> Any:
        # Row comparisons return pandas' nullable boolean (NA where a row is null); the
        # pointwise reference is built from Python bools and NA, i.e. object dtype.
        if op_name in ("eq", "ne", "lt", "le", "gt", "ge"):
            return pointwise.astype("boolean")
        return pointwise

    def test_plot_on_x_axis(self, plot_data: Any) -> None:
        pytest.importorskip("matplotlib")
        super().test_plot_on_x_axis(plot_data)

    def test_plot_on_y_axis(self, plot_data: Any) -> None:
        pytest.importorskip("matplotlib")
        with pytest.raises(TypeError, match="no numeric data to plot"):
            super().test_plot_on_y_axis(plot_data)


# ---------------------------------------------------------------------------------------
# Comparison baseline: the same suite on pd.ArrowDtype(large_list<int64>) (opt-in).

if os.environ.get("GRUMPY_PANDAS_ARROWDTYPE_BASELINE"):
    _ARROW_LIST = pd.ArrowDtype(pa.large_list(pa.int64()))

    def _arrow_array(name: str) -> Any:
        return pd.array(CASES["var * int64"][name], dtype=_ARROW_LIST)

    class TestArrowDtypeBaseline(base.ExtensionTests):
        """pandas' own list dtype on the same data (run for comparison, not asserted)."""

        @pytest.fixture
        def dtype(self) -> Any:
            return _ARROW_LIST

        @pytest.fixture
        def data(self) -> Any:
            return _arrow_array("data")

        @pytest.fixture
        def data_missing(self) -> Any:
            return _arrow_array("data_missing")

        @pytest.fixture
        def data_for_sorting(self) -> Any:
            return _arrow_array("data_for_sorting")

        @pytest.fixture
        def data_missing_for_sorting(self) -> Any:
            return _arrow_array("data_missing_for_sorting")

        @pytest.fixture
        def data_for_grouping(self) -> Any:
            return _arrow_array("data_for_grouping")


# ---------------------------------------------------------------------------------------
# grumpy-specific behaviour of the dtype, the scalar and the array


@pytest.mark.parametrize(
    "type_string",
    [
        "int64",
        "var * int64",
        "var * var * float32",
        "union[string, var * string]",
        "var * union[int8, var * int8]",
        "union[bool_, var * var * bool_]",
    ],
)
def test_dtype_names_round_trip_through_pandas_dtype(type_string: str) -> None:
    dtype = pd.api.types.pandas_dtype(f"grumpy[{type_string}]")
    assert isinstance(dtype, GrumpyDtype)
    assert dtype.name == f"grumpy[{type_string}]"
    assert dtype == GrumpyDtype(dtype.arrow_type)
    assert hash(dtype) == hash(GrumpyDtype(type_string))


@pytest.mark.parametrize(
    ("arrow_type", "name"),
    [
        (pa.list_(pa.int32()), "grumpy[var * int32]"),
        (pa.list_(pa.large_string()), "grumpy[var * string]"),
        (pa.list_(pa.float64(), 3), "grumpy[var * float64]"),
    ],
    ids=["list", "large_string", "fixed_size_list"],
)
def test_dtype_of_any_arrow_list_flavour_is_the_canonical_large_list(
    arrow_type: pa.DataType, name: str
) -> None:
    dtype = GrumpyDtype(arrow_type)
    assert dtype.name == name
    assert dtype.arrow_type == pd.api.types.pandas_dtype(name).arrow_type
    assert pa.types.is_large_list(dtype.arrow_type)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("grumpy[var int64]", "expected '\\*'"),
        ("grumpy[union[int64]]", "expected ','"),
        ("grumpy[var * int128]", "unknown leaf type 'int128'"),
        ("grumpy[int64 int64]", "unexpected 'int64' after a complete type"),
        ("grumpy[union[var * int64, int64]]", "child 0 to be a scalar"),
    ],
)
def test_bad_dtype_names_raise_type_error_saying_why(text: str, message: str) -> None:
    with pytest.raises(TypeError, match=f"Cannot construct a 'GrumpyDtype' from .*{message}"):
        GrumpyDtype.construct_from_string(text)


def test_dtype_refuses_arrow_types_grumpy_cannot_hold() -> None:
    with pytest.raises(TypeError, match="not supported"):
        GrumpyDtype(pa.map_(pa.string(), pa.int64()))
    with pytest.raises(TypeError, match=r"records .* are not supported by GrumpyDtype"):
        GrumpyDtype(pa.large_list(pa.struct([("a", pa.int64())])))


def test_list_rows_are_grumpy_lists_that_pandas_does_not_unpack() -> None:
    s = pd.Series(pd.array([[1, 2], [], None], dtype="grumpy[var * int64]"))
    row = s[0]
    assert isinstance(row, GrumpyList)
    assert not pd.api.types.is_list_like(row)
    assert row == [1, 2] and row == s[0] and row != [2, 1]
    assert hash(row) == hash(pd.array([[1, 2]], dtype=s.dtype)[0])
    assert repr(row) == "GrumpyList([1, 2])" and str(row) == "[1, 2]"
    assert row.to_list() == [1, 2] and row.size == 2
    assert s[1] < row < [3]
    assert s[2] is pd.NA
    # One object per row, even when the rows have equal lengths.
    assert np.asarray(s).shape == (3,)


def test_union_rows_are_python_scalars_or_grumpy_lists() -> None:
    arr = pd.array(["P1", ["P1-1", "P1-2"], None], dtype="grumpy[union[string, var * string]]")
    assert arr[0] == "P1"
    assert isinstance(arr[1], GrumpyList) and arr[1] == ["P1-1", "P1-2"]
    assert arr[2] is pd.NA
    assert arr.isna().tolist() == [False, False, True]


def test_groupby_value_counts_sort_and_factorize_use_row_contents() -> None:
    s = pd.Series(pd.array([[1, 2], [3], [1, 2], None, []], dtype="grumpy[var * int64]"))
    df = pd.DataFrame({"k": s, "v": [1, 2, 3, 4, 5]})
    sums = df.groupby("k").v.sum()
    assert [r.to_list() for r in sums.index] == [[], [1, 2], [3]]
    assert sums.tolist() == [5, 4, 2]
    counts = s.value_counts()
    assert [r.to_list() for r in counts.index] == [[1, 2], [3], []]
    assert counts.tolist() == [2, 1, 1]
    assert s.sort_values().index.tolist() == [4, 0, 2, 1, 3]
    codes, uniques = pd.factorize(s)
    assert codes.tolist() == [0, 1, 0, -1, 2]
    assert uniques.tolist() == [[1, 2], [3], []]


def test_union_rows_sort_scalars_first_and_nulls_last() -> None:
    s = pd.Series(pd.array([[2], 5, None, [1, 9], 1], dtype="grumpy[union[int64, var * int64]]"))
    assert s.sort_values().tolist() == [1, 5, [1, 9], [2], pd.NA]


def test_views_share_writes_and_copies_do_not() -> None:
    arr = pd.array([[1], [2], [3], [4]], dtype="grumpy[var * int64]")
    view, part, copy = arr.view(), arr[1:3], arr.copy()
    arr[1] = [7, 7]
    assert view[1] == [7, 7] and part[0] == [7, 7]
    assert copy[1] == [2]
    part[1] = []
    assert arr.tolist() == [[1], [7, 7], [], [4]]


def test_setitem_takes_one_row_or_one_row_per_position() -> None:
    arr = pd.array([[1], [2], [3]], dtype="grumpy[var * int64]")
    arr[[0, 2]] = [5, 6]  # a Python list that is no sequence of rows is one row
    assert arr.tolist() == [[5, 6], [2], [5, 6]]
    arr[[0, 1]] = [[8], None]
    assert arr.tolist() == [[8], pd.NA, [5, 6]]
    with pytest.raises(ValueError, match="cannot set 2 rows from 3 values"):
        arr[:2] = [[1], [2], [3]]
    with pytest.raises(TypeError, match="scalar rows cannot be stored"):
        arr[0] = 5


def test_rows_written_as_text_parse_back() -> None:
    arr = GrumpyExtensionArray._from_sequence_of_strings(
        ["[1, 2]", "", "[]", "3"], dtype=GrumpyDtype("union[int64, var * int64]")
    )
    assert arr.tolist() == [[1, 2], pd.NA, [], 3]


def test_explode_gives_elements_and_one_na_per_empty_or_null_row() -> None:
    s = pd.Series(pd.array([[1, 2], [], None, [3]], dtype="grumpy[var * int64]"))
    out = s.explode()
    assert out.tolist() == [1, 2, pd.NA, pd.NA, 3]
    assert out.index.tolist() == [0, 0, 1, 2, 3]
    assert str(out.dtype) == "Int64"


def test_reductions_over_rows_raise_a_type_error_pointing_to_the_accessor() -> None:
    s = pd.Series(pd.array([[1, 2]], dtype="grumpy[var * int64]"))
    with pytest.raises(TypeError, match=r"reduce inside them with s\.gr\.sum\(dim=-1\)"):
        s.sum()


_INT_ROWS = st.lists(
    st.one_of(st.none(), st.lists(st.integers(-3, 3), max_size=4)), min_size=1, max_size=12
)
_FLOAT_ROWS = st.lists(
    st.one_of(st.none(), st.lists(st.sampled_from([-1.5, -0.0, 0.0, 2.0]), max_size=3)),
    min_size=1,
    max_size=12,
)
_NESTED_ROWS = st.lists(
    st.one_of(st.none(), st.lists(st.lists(st.integers(-2, 2), max_size=2), max_size=3)),
    min_size=1,
    max_size=12,
)
_UNION_ROWS = st.lists(
    st.one_of(
        st.none(),
        st.integers(-2, 2),
        st.lists(st.one_of(st.none(), st.integers(-2, 2)), max_size=3),
    ),
    min_size=1,
    max_size=12,
)


def _python_order(rows: list[Any]) -> list[int]:
    """Stable sort by Python list order, nulls last; scalars (tagged 0) before lists."""

    def key(i: int) -> Any:
        row = rows[i]
        if row is None:
            return (1,)
        if isinstance(row, list):  # None inside a row sorts after every value
            return (0, 1, [(v is None, 0 if v is None else v) for v in row])
        return (0, 0, row)

    return sorted(range(len(rows)), key=key)


@pytest.mark.parametrize(
    ("rows_strategy", "type_string"),
    [
        (_INT_ROWS, "var * int64"),
        (_FLOAT_ROWS, "var * float64"),
        (_NESTED_ROWS, "var * var * int64"),
        (_UNION_ROWS, "union[int64, var * int64]"),
    ],
    ids=["int-lists", "float-lists", "nested-lists", "union"],
)
@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_sorting_and_grouping_follow_python_semantics(
    data: st.DataObject, rows_strategy: Any, type_string: str
) -> None:
    rows = data.draw(rows_strategy)
    s = pd.Series(pd.array(rows, dtype=f"grumpy[{type_string}]"))
    assert s.sort_values(kind="stable").index.tolist() == _python_order(rows)
    codes, _ = pd.factorize(s)
    seen: dict[str, int] = {}  # rows by their repr, with -0.0 equal to 0.0 as in Python
    expected = [
        -1 if r is None else seen.setdefault(repr(r).replace("-0.0", "0.0"), len(seen))
        for r in rows
    ]
    assert codes.tolist() == expected
    valid = [i for i, r in enumerate(rows) if r is not None]
    if valid:
        row = rows[valid[0]]
        expected_eq = [pd.NA if r is None else r == row for r in rows]
        assert (s == s[valid[0]]).tolist() == expected_eq


@pytest.mark.parametrize(
    ("rows", "type_string"),
    [
        ([[1, 2], None, [], [1, 2]], "var * int16"),
        ([[0.5, -0.0], None, [float("nan")]], "var * float32"),
        ([[[1], []], None, [[2, 3]]], "var * var * int64"),
        ([["a", None], ["b"]], "var * string"),
        ([1, [2, None], None, []], "union[int64, var * int64]"),
    ],
    ids=["bytes-keys", "float-keys", "plain-keys", "string-keys", "tagged-keys"],
)
def test_factorize_keys_decode_back_to_the_rows(rows: list[Any], type_string: str) -> None:
    arr = pd.array(rows, dtype=f"grumpy[{type_string}]")
    keys, na_key = arr._values_for_factorize()
    assert na_key is None
    rebuilt = type(arr)._from_factorized(keys, arr)
    assert rebuilt.dtype == arr.dtype
    assert rebuilt.equals(arr)  # row equality: -0.0 equals 0.0 and NaN equals NaN


# ---------------------------------------------------------------------------------------
# Operators: inside the rows (GrumpyArray's), or row by row for row operands


def _series(rows: list[Any], type_string: str) -> pd.Series:
    return pd.Series(pd.array(rows, dtype=f"grumpy[{type_string}]"), index=list("abc")[: len(rows)])


def _rows(s: pd.Series) -> list[Any]:
    return gr.from_pandas(s).to_list()


_A, _B = np.float32(1.5), np.float32(-0.456)  # the float32 values of the rows below


@pytest.mark.parametrize(
    ("op", "expected", "type_string"),
    [
        (lambda s: s * 2, [[_A * 2, _B * 2], [], None], "var * float32"),
        (lambda s: 2 * s, [[_A * 2, _B * 2], [], None], "var * float32"),
        (lambda s: s + s, [[_A + _A, _B + _B], [], None], "var * float32"),
        (lambda s: s - 1.5, [[_A - _A, _B - _A], [], None], "var * float32"),
        (lambda s: 1 - s, [[1 - _A, 1 - _B], [], None], "var * float32"),
        (lambda s: s / 2, [[_A / 2, _B / 2], [], None], "var * float32"),
        (lambda s: s**2, [[_A * _A, _B * _B], [], None], "var * float32"),
        (lambda s: -s, [[-_A, -_B], [], None], "var * float32"),
        (lambda s: abs(s), [[_A, -_B], [], None], "var * float32"),
        (lambda s: np.sqrt(s * s), [[_A, -_B], [], None], "var * float32"),
        (lambda s: s * np.array([2, 0, 2]), [[_A * 2, _B * 2], [], None], "var * float64"),
        (
            lambda s: s * pd.array([0, 1, 2], dtype="Int64"),
            [[0.0, -0.0], [], None],
            "var * float64",
        ),
    ],
    ids=[
        "mul",
        "rmul",
        "add-self",
        "sub",
        "rsub",
        "div",
        "pow",
        "neg",
        "abs",
        "ufunc",
        "per-row-numpy",
        "per-row-masked",
    ],
)
def test_arithmetic_works_inside_the_rows_and_keeps_raggedness(
    op: Any, expected: list[Any], type_string: str
) -> None:
    s = _series([[1.5, -0.456], [], None], "var * float32")
    out = op(s)
    assert out.dtype == GrumpyDtype(type_string)
    assert out.index.tolist() == ["a", "b", "c"]
    assert _rows(out) == [None if r is None else [float(v) for v in r] for r in expected]


def test_float32_arithmetic_stays_float32_exactly() -> None:
    s = _series([[1.5, -0.456], [], None], "var * float32")
    got = gr.from_pandas(s * 2).to_arrow().values.to_numpy()
    assert got.tolist() == (np.array([1.5, -0.456], dtype=np.float32) * np.float32(2)).tolist()


def test_arithmetic_on_unions_and_flat_columns() -> None:
    u = _series([5, [1, 2], None], "union[int64, var * int64]")
    assert (u + 1).dtype == u.dtype and _rows(u + 1) == [6, [2, 3], None]
    assert _rows(u * u) == [25, [1, 4], None]
    flat = _series([1.0, None, 3.0], "float16")
    assert (flat * 2).dtype == GrumpyDtype("float16") and _rows(flat * 2) == [2.0, None, 6.0]


def test_comparisons_of_list_rows_with_numbers_are_ragged_boolean_columns() -> None:
    s = _series([[1, 5], [], None], "var * int64")
    for out, expected in [
        (s > 2, [[False, True], [], None]),
        (s <= 1, [[True, False], [], None]),
        (s == 5, [[False, True], [], None]),
        (s != 5, [[True, False], [], None]),
        (s > gr.array([[0, 9], [], None]), [[True, False], [], None]),
    ]:
        assert out.dtype == GrumpyDtype("var * bool_")
        assert out.index.tolist() == ["a", "b", "c"]
        assert _rows(out) == expected
    strings = _series([["H", "C"], ["H"]], "var * string")
    assert _rows(strings != "H") == [[False, True], [False]]


def test_ragged_masks_combine_and_invert() -> None:
    s = _series([[1, 5, 9], [7]], "var * int64")
    assert _rows((s > 2) & (s < 8)) == [[False, True, False], [True]]
    assert _rows((s < 2) | (s > 8)) == [[True, False, True], [False]]
    assert _rows((s > 2) ^ True) == [[True, False, False], [False]]
    assert _rows(~(s > 2)) == [[True, False, False], [False]]
    with pytest.raises(
        TypeError, match=r"~ negates boolean rows; the column has dtype grumpy\[var \* int64\]"
    ):
        _ = ~s


def test_comparisons_of_flat_columns_are_pandas_booleans() -> None:
    flat = _series([1.0, None, float("nan")], "float64")
    out = flat > 0.5
    assert str(out.dtype) == "boolean"
    assert out.tolist() == [True, pd.NA, False]


def test_comparisons_with_rows_compare_whole_rows() -> None:
    s = _series([[1, 5], [], None], "var * int64")
    assert (s == s["a"]).tolist() == [True, False, pd.NA]
    assert str((s == s["a"]).dtype) == "boolean"
    assert (s == [[1, 5], [2], [3]]).tolist() == [True, False, pd.NA]
    assert (s == s).tolist() == [True, True, pd.NA]
    assert (s < s["a"]).tolist() == [False, True, pd.NA]
    assert (s == pd.NA).tolist() == [pd.NA, pd.NA, pd.NA]
    # In a union column a scalar is a row: row comparisons, as .loc relies on.
    u = _series([5, [5], None], "union[int64, var * int64]")
    assert (u == 5).tolist() == [True, False, pd.NA]
    assert u.groupby(u).size().loc[5] == 1


def test_arithmetic_refuses_a_single_row_and_other_lengths() -> None:
    s = _series([[1, 5], [], None], "var * int64")
    with pytest.raises(
        TypeError, match=r"unsupported operand for \+: a GrumpyDtype column .* single row"
    ):
        s + s["a"]
    with pytest.raises(
        ValueError,
        match="Lengths must match for \\*: the GrumpyDtype column has 3 rows and the other operand 2",
    ):
        s.array * np.array([1, 2])
    with pytest.raises(BroadcastError, match="cannot broadcast lists of length 2 and 3 at row 0"):
        s + pd.array([[1, 2, 3], [], None], dtype=s.dtype)


def test_operators_defer_to_pandas_containers() -> None:
    arr = pd.array([[1]], dtype="grumpy[var * int64]")
    for other in (pd.Series(arr), pd.Index(arr), pd.DataFrame({"a": arr})):
        assert arr.__add__(other) is NotImplemented
        assert arr.__gt__(other) is NotImplemented


# ---------------------------------------------------------------------------------------
# len() of list rows, and float32 at float32 precision in reprs


def test_list_rows_have_a_length_and_map_len_gives_row_lengths() -> None:
    s = _series([[1, 2, 3], [], [4]], "var * int64")
    assert len(s["a"]) == 3 and len(s["b"]) == 0
    lengths = s.map(len)
    assert lengths.tolist() == [3, 0, 1] and lengths.index.tolist() == ["a", "b", "c"]
    nested = _series([[[1, 2], [3]], []], "var * var * int64")
    assert nested.map(len).tolist() == [2, 0]
    assert not pd.api.types.is_list_like(s["a"])  # still never unpacked by pandas


def test_float32_shows_at_float32_precision() -> None:
    s = _series([[1.5, -0.456], [], None], "var * float32")
    assert repr(s) == (
        "a    [1.5, -0.456]\nb               []\nc             <NA>\ndtype: grumpy[var * float32]"
    )
    assert repr(s["a"]) == "GrumpyList([1.5, -0.456])"
    u = _series([-0.456, [0.1, 2.0]], "union[float32, var * float32]")
    assert repr(u.to_frame("u")) == "            u\na      -0.456\nb  [0.1, 2.0]"
    wide = _series([[-0.456]], "var * float64")
    assert "-0.4560000002384186" not in repr(wide) and "-0.456" in repr(wide)
    as_64 = pd.Series(pd.array([[float(np.float32(-0.456))]], dtype="grumpy[var * float64]"))
    assert repr(as_64).splitlines()[0] == "0    [-0.4560000002384186]"


def test_the_pandas_modules_import_one_way_at_module_level() -> None:
    """grumpy_arrow.pandas has no import inside a function, and its modules' imports of each
    other form no cycle (issue 17): the array class reaches the dtype by registration."""
    root = Path(grumpy_arrow.pandas.__file__).parent
    inside: list[str] = []
    graph: dict[str, set[str]] = {}
    for path in sorted(root.glob("*.py")):
        tree = ast.parse(path.read_text())
        for fn in ast.walk(tree):
            if isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
                found = (n for n in ast.walk(fn) if isinstance(n, (ast.Import, ast.ImportFrom)))
                inside += [f"{path.name}:{n.lineno}" for n in found]
        graph[path.stem] = set()
        for node in tree.body:  # module level (TYPE_CHECKING blocks are ast.If: not counted)
            if not isinstance(node, ast.ImportFrom) or node.module is None:
                continue
            if node.module == "grumpy_arrow.pandas":  # from grumpy_arrow.pandas import ordering
                graph[path.stem] |= {alias.name for alias in node.names}
            elif node.module.startswith("grumpy_arrow.pandas."):
                graph[path.stem].add(node.module.rsplit(".", 1)[-1])
    assert inside == []
    order = list(graphlib.TopologicalSorter(graph).static_order())  # raises on a cycle
    assert order.index("ordering") < order.index("ops") < order.index("array")
    assert order.index("dtype") < order.index("convert") < order.index("array")
    assert GrumpyDtype("var * int64").construct_array_type() is GrumpyExtensionArray
