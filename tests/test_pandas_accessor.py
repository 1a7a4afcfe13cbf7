"""The ``s.gr`` / ``df.gr`` accessors and the grumpy <-> pandas conversions."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import given, settings

import grumpy_arrow as gr
from grumpy_arrow.pandas import (
    GrumpyList,
    frame_to_pandas,
    from_pandas,
    to_pandas,
)
from grumpy_arrow.testing import assert_array_equal, assert_values_equal
from grumpy_arrow.testing.strategies import arrays, dataframes

NA = pd.NA


def arrow_series(rows: list[Any], typ: pa.DataType, **kwargs: Any) -> pd.Series:
    return pd.Series(rows, dtype=pd.ArrowDtype(typ), **kwargs)


@pytest.fixture(params=["grumpy", "arrow-list", "arrow-large_list"])
def ragged(request: pytest.FixtureRequest) -> pd.Series:
    """Rows [1, 2, 3], [], null, [4, 5] with index a..d, as each supported dtype."""
    rows = [[1, 2, 3], [], None, [4, 5]]
    index = list("abcd")
    if request.param == "grumpy":
        return to_pandas(gr.array(rows), index=index, name="x")
    typ = pa.list_(pa.int64()) if request.param == "arrow-list" else pa.large_list(pa.int64())
    return arrow_series(rows, typ, index=index, name="x")


def check(result: pd.Series, values: list[Any], dtype: str, index: Any = tuple("abcd")) -> None:
    assert str(result.dtype) == dtype
    assert result.tolist() == values
    assert result.index.tolist() == list(index)


# -- structure -----------------------------------------------------------------------------


def test_len_gives_nullable_lengths_with_na_for_null_rows(ragged: pd.Series) -> None:
    result = ragged.gr.len()
    check(result, [3, 0, NA, 2], "Int64")
    assert result.name == "x"


def test_to_array_returns_the_values_as_a_grumpy_array(ragged: pd.Series) -> None:
    arr = ragged.gr.to_array()
    assert isinstance(arr, gr.GrumpyArray)
    assert arr.type == "4 * var * int64"
    assert arr.to_list() == [[1, 2, 3], [], None, [4, 5]]


def test_flatten_repeats_each_row_label_once_per_value(ragged: pd.Series) -> None:
    check(ragged.gr.flatten(), [1, 2, 3, 4, 5], "Int64", index="aaadd")


def test_flatten_dims_of_a_nested_arrow_column() -> None:
    s = arrow_series([[[1.0, 2.0], []], [], [[3.0]]], pa.list_(pa.list_(pa.float64())))
    check(s.gr.flatten(), [1.0, 2.0, 3.0], "Float64", index=[0, 0, 2])
    out = s.gr.flatten(dim=1)
    assert out.map(lambda r: r.to_list()).tolist() == [[1.0, 2.0], [], [3.0]]
    assert out.index.tolist() == [0, 0, 2]
    assert str(out.dtype) == "grumpy[var * float64]"
    merged = s.gr.flatten(dim=2)
    assert merged.map(lambda r: r.to_list()).tolist() == [[1.0, 2.0], [], [3.0]]
    assert merged.index.tolist() == [0, 1, 2]


def test_flatten_of_a_union_keeps_scalar_rows_in_place() -> None:
    s = to_pandas(gr.array([7, [1, 2], None, []]))
    check(s.gr.flatten(), [7, 1, 2, NA], "Int64", index=[0, 1, 1, 2])


def test_fixed_size_lists_are_read_as_lists() -> None:
    s = arrow_series([[1, 2], [3, 4]], pa.list_(pa.int32(), 2))
    check(s.gr.sum(dim=1), [3, 7], "Int64", index=[0, 1])  # int32 sums to int64, as in NumPy
    assert s.gr.to_array().type == "2 * var * int32"


# -- reductions ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("op", "values", "dtype", "total"),
    [
        ("sum", [6, 0, NA, 9], "Int64", 15),
        ("prod", [6, 1, NA, 20], "Int64", 120),
        ("mean", [2.0, NA, NA, 4.5], "Float64", 3.0),
        ("min", [1, NA, NA, 4], "Int64", 1),
        ("max", [3, NA, NA, 5], "Int64", 5),
        ("var", [2 / 3, NA, NA, 0.25], "Float64", 2.0),
        ("count", [3, 0, NA, 2], "Int64", 5),
        ("count_nonzero", [3, 0, NA, 2], "Int64", 5),
        ("any", [True, False, NA, True], "boolean", True),
        ("all", [True, True, NA, True], "boolean", True),
        ("argmin", [0, NA, NA, 0], "Int64", 0),
        ("argmax", [2, NA, NA, 1], "Int64", 4),
        ("ptp", [2, NA, NA, 1], "Int64", 4),
    ],
)
def test_reductions_per_row_and_over_everything(
    ragged: pd.Series, op: str, values: list[Any], dtype: str, total: Any
) -> None:
    check(getattr(ragged.gr, op)(dim=-1), values, dtype)
    check(getattr(ragged.gr, op)(dim=1), values, dtype)
    assert getattr(ragged.gr, op)() == total


def test_std_per_row_is_the_population_deviation(ragged: pd.Series) -> None:
    result = ragged.gr.std(dim=-1)
    assert str(result.dtype) == "Float64"
    assert result.iloc[0] == pytest.approx(math.sqrt(2 / 3))
    assert result.iloc[3] == pytest.approx(0.5)
    assert result.isna().tolist() == [False, True, True, False]


def test_reduction_across_rows_is_positional_with_a_new_index(ragged: pd.Series) -> None:
    result = ragged.gr.sum(dim=0)
    check(result, [5, 7, 3], "Int64", index=[0, 1, 2])
    assert result.name == "x"


def test_inner_reduction_of_nested_lists_keeps_the_outer_rows() -> None:
    s = arrow_series([[[1.0, 2.0], []], [], [[3.0]]], pa.large_list(pa.list_(pa.float64())))
    result = s.gr.sum(dim=-1)
    assert str(result.dtype) == "grumpy[var * float64]"
    assert result.map(lambda r: r.to_list()).tolist() == [[3.0, 0.0], [], [3.0]]


def test_union_reductions_pass_scalar_rows_through_and_keep_null_rows_null() -> None:
    s = to_pandas(gr.array([7, [1, 2], None, []]), index=list("wxyz"))
    check(s.gr.sum(dim=-1), [7, 3, NA, 0], "Int64", index="wxyz")
    check(s.gr.count(dim=-1), [1, 2, NA, 0], "Int64", index="wxyz")
    check(s.gr.max(dim=-1), [7, 2, NA, NA], "Int64", index="wxyz")
    check(s.gr.len(), [1, 2, NA, 0], "Int64", index="wxyz")


# -- per-row indexing ----------------------------------------------------------------------


def test_getitem_int_gives_each_rows_element_and_na_for_short_rows(ragged: pd.Series) -> None:
    check(ragged.gr[0], [1, NA, NA, 4], "Int64")
    check(ragged.gr[2], [3, NA, NA, NA], "Int64")
    check(ragged.gr[-1], [3, NA, NA, 5], "Int64")
    check(ragged.gr[-3], [1, NA, NA, NA], "Int64")
    check(ragged.gr[9], [NA, NA, NA, NA], "Int64")


def test_getitem_slice_slices_every_row(ragged: pd.Series) -> None:
    result = ragged.gr[1:]
    assert str(result.dtype) == "grumpy[var * int64]"
    assert result.tolist() == [[2, 3], [], NA, [5]]
    assert isinstance(result.iloc[0], GrumpyList)
    assert ragged.gr[::-1].tolist() == [[3, 2, 1], [], NA, [5, 4]]


def test_getitem_with_a_ragged_mask_filters_inside_rows(ragged: pd.Series) -> None:
    result = ragged.gr[ragged.gr.to_array() > 2]
    assert result.tolist() == [[3], [], NA, [4, 5]]


def test_getitem_of_string_lists_gives_a_string_column() -> None:
    s = arrow_series([["a", "b"], [], None], pa.large_list(pa.large_string()))
    check(s.gr[0], ["a", NA, NA], "string", index=[0, 1, 2])


def test_getitem_of_nested_lists_gives_inner_lists() -> None:
    s = arrow_series([[[1], [2, 3]], []], pa.list_(pa.list_(pa.int64())))
    result = s.gr[-1]
    assert str(result.dtype) == "grumpy[var * int64]"
    assert result.tolist() == [[2, 3], NA]


def test_getitem_of_a_union_treats_scalar_rows_as_length_one() -> None:
    s = to_pandas(gr.array([7, [1, 2], None, []]))
    check(s.gr[0], [7, 1, NA, NA], "Int64", index=range(4))
    check(s.gr[1], [NA, 2, NA, NA], "Int64", index=range(4))


@pytest.mark.parametrize("key", ["a", 1.5, True, [0, 1]], ids=["str", "float", "bool", "list"])
def test_getitem_refuses_other_keys(ragged: pd.Series, key: Any) -> None:
    with pytest.raises(TypeError, match=r"s\.gr\[\.\.\.\] takes an int, a slice"):
        ragged.gr[key]


# -- where the accessor applies ------------------------------------------------------------


@pytest.mark.parametrize(
    "series",
    [pd.Series([1, 2]), pd.Series(["a"]), pd.Series([1], dtype=pd.ArrowDtype(pa.int64()))],
    ids=["int64", "object", "arrow-int64"],
)
def test_accessor_is_absent_on_columns_without_lists(series: pd.Series) -> None:
    assert not hasattr(series, "gr")
    with pytest.raises(AttributeError, match=r"needs a Series of GrumpyDtype or of pd\.ArrowDtype"):
        series.gr  # noqa: B018


def test_frame_accessor_builds_a_grumpy_frame_with_a_schema() -> None:
    pdf = pd.DataFrame(
        {
            "mol_id": ["m1", "m2"],
            "atom_z": pd.Series([[6, 1, 1], [8]], dtype=pd.ArrowDtype(pa.list_(pa.int8()))),
        }
    )
    frame = pdf.gr.to_grumpy(schema=["mol", "atom"])
    assert isinstance(frame, gr.DataFrame)
    assert frame.columns == ["mol_id", "atom_z"]
    assert frame.atom_z.to_list() == [6, 1, 1, 8]
    assert frame["atom_z"].type == "2 * var * int8"
    assert frame.shape("atom").to_list() == [3, 1]


# -- conversions ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("values", "dtype", "expected"),
    [
        (gr.array([1, None], dtype="int8"), "Int8", [1, NA]),
        (gr.array([1, None], dtype="uint64"), "UInt64", [1, NA]),
        (gr.array([1.5, None], dtype="float32"), "Float32", [1.5, NA]),
        (gr.array([True, None]), "boolean", [True, NA]),
        (gr.array(["a", None]), "string", ["a", NA]),
        (gr.array([1.5, None], dtype="float16"), "grumpy[float16]", [1.5, NA]),
        (gr.array([b"a", None]), "grumpy[binary]", [b"a", NA]),
        (gr.array([[1], None]), "grumpy[var * int64]", [[1], NA]),
        (gr.array(["a", ["b"], None]), "grumpy[union[string, var * string]]", ["a", ["b"], NA]),
    ],
    ids=["int8", "uint64", "float32", "bool", "string", "float16", "binary", "list", "union"],
)
def test_to_pandas_picks_the_matching_pandas_dtype(
    values: gr.GrumpyArray, dtype: str, expected: list[Any]
) -> None:
    s = to_pandas(values)
    assert str(s.dtype) == dtype
    assert s.tolist() == expected
    assert_array_equal(from_pandas(s), values)
    assert from_pandas(s).to_arrow().type == values.to_arrow().type


def test_nan_stays_a_value_and_null_a_null_through_pandas() -> None:
    arr = gr.array([1.0, math.nan, None])
    s = to_pandas(arr)
    assert s.isna().tolist() == [False, False, True]
    assert math.isnan(s.iloc[1])
    back = from_pandas(s)
    assert back.null_count == 1
    assert_values_equal(back.to_list(), [1.0, math.nan, None])


def test_frame_round_trip_keeps_dtypes_nulls_unions_and_schema() -> None:
    frame = gr.dataframe(
        {
            "molecule_id": ["m1", None, "m3"],
            "molecule_charge": gr.array([1, None, -1], dtype="int8"),
            "molecule_tag": [1, [2, 3], None],
            "atom_x": gr.array([[1.0, math.nan], [], None], dtype="float32"),
        },
        schema=["molecule", "atom"],
    )
    pdf = frame_to_pandas(frame)
    assert pdf.attrs["grumpy_schema"] == ["molecule", "atom"]
    assert [str(t) for t in pdf.dtypes] == [
        "string",
        "Int8",
        "grumpy[union[int64, var * int64]]",
        "grumpy[var * float32]",
    ]
    back = from_pandas(pdf)
    assert back.schema == frame.schema
    for name in frame.columns:
        assert back[name].to_arrow().type == frame[name].to_arrow().type, name
        assert_array_equal(back[name], frame[name])


def test_from_pandas_reads_numpy_arrow_and_object_columns() -> None:
    pdf = pd.DataFrame(
        {
            "a": np.array([1, 2], dtype=np.int32),
            "b": [0.5, np.nan],
            "c": [[1, 2], []],
            "d": pd.Series([["x"], None], dtype=pd.ArrowDtype(pa.list_(pa.string()))),
            "e": pd.array(["p", None], dtype="string[pyarrow]"),
        }
    )
    frame = from_pandas(pdf)
    assert frame.schema is None
    assert [frame[c].type for c in "abcde"] == [
        "2 * int32",
        "2 * float64",
        "2 * var * int64",
        "2 * var * string",
        "2 * string",
    ]
    assert frame["b"].null_count == 0  # NumPy NaN is a value, not a null
    assert frame["d"].to_list() == [["x"], None]
    assert frame["e"].to_list() == ["p", None]


def test_from_pandas_takes_the_schema_argument_over_attrs() -> None:
    pdf = pd.DataFrame({"a_x": [1, 2]})
    pdf.attrs["grumpy_schema"] = ["b"]
    with pytest.raises(gr.SchemaError, match="column 'a_x' matches no level"):
        from_pandas(pdf)  # the schema in attrs applies when none is given
    assert from_pandas(pdf, schema=["a"]).schema.names == ["a"]


@pytest.mark.parametrize(
    ("obj", "kwargs", "message"),
    [
        (pd.Series([1]), {"schema": ["a"]}, "schema= applies to DataFrames"),
        ([1, 2], {}, "needs a pandas DataFrame or Series, got list"),
        (pd.Series(pd.to_datetime(["2024-01-01"])), {}, "dtype datetime64.* cannot become"),
        (pd.Series([None, None], dtype=object), {}, "dtype object cannot become.*all-null"),
        (pd.Series(["a", 1], dtype=object), {}, "cannot mix strings with 1 at position"),
    ],
    ids=["series-with-schema", "list", "datetime", "all-null-objects", "mixed-objects"],
)
def test_from_pandas_refuses_what_it_cannot_convert(obj: Any, kwargs: Any, message: str) -> None:
    with pytest.raises(TypeError, match=message):
        from_pandas(obj, **kwargs)


def test_categorical_columns_are_read_as_their_values() -> None:
    assert from_pandas(pd.Series(pd.Categorical(["b", "a", None]))).to_list() == ["b", "a", None]


def test_arrow_tables_from_pandas_come_back_as_grumpy_columns() -> None:
    pdf = pd.DataFrame({"u": to_pandas(gr.array([1, [2], None])), "n": [1, 2, 3]})
    table = pa.Table.from_pandas(pdf)
    # The union leaves lowered (Parquet, Polars and DuckDB cannot take dense unions)...
    assert table.schema.field("u").type == pa.struct(
        [
            pa.field(
                "values", pa.large_list(pa.int64()), metadata={b"grumpy_arrow.lowered": b"union"}
            ),
            pa.field("is_scalar", pa.bool_()),
        ]
    )
    assert table.column("u").to_pylist() == [
        {"values": [1], "is_scalar": True},
        {"values": [2], "is_scalar": False},
        {"values": [None], "is_scalar": True},
    ]
    # ...and comes back as the union through the dtype named in pandas' metadata.
    back = table.to_pandas()
    assert back["u"].dtype == pdf["u"].dtype
    assert back["u"].tolist() == [1, [2], NA]


@settings(max_examples=60, deadline=None)
@given(arrays())
def test_array_round_trip_through_pandas_is_exact(arr: gr.GrumpyArray) -> None:
    back = from_pandas(to_pandas(arr))
    assert back.to_arrow().type == arr.to_arrow().type
    assert_array_equal(back, arr)


@settings(max_examples=30, deadline=None)
@given(dataframes())
def test_frame_round_trip_through_pandas_is_exact(frame: gr.DataFrame) -> None:
    back = from_pandas(frame_to_pandas(frame))
    assert back.columns == frame.columns
    assert back.schema == frame.schema
    for name in frame.columns:
        assert back[name].to_arrow().type == frame[name].to_arrow().type
        assert_array_equal(back[name], frame[name])


# -- s.gr.str -------------------------------------------------------------------------------


@pytest.fixture(params=["grumpy", "arrow-large_list"])
def elements(request: pytest.FixtureRequest) -> pd.Series:
    """Element symbols per molecule, index m1..m4, with an empty and a null row."""
    rows = [["C", "h", "Cl"], [], None, ["O"]]
    index = ["m1", "m2", "m3", "m4"]
    if request.param == "grumpy":
        return to_pandas(gr.array(rows), index=index, name="el")
    return arrow_series(rows, pa.large_list(pa.string()), index=index, name="el")


@pytest.mark.parametrize(
    ("call", "dtype", "expected"),
    [
        (lambda s: s.gr.str.upper(), "grumpy[var * string]", [["C", "H", "CL"], [], None, ["O"]]),
        (lambda s: s.gr.str.len(), "grumpy[var * int64]", [[1, 1, 2], [], None, [1]]),
        (
            lambda s: s.gr.str.contains("l"),
            "grumpy[var * bool_]",
            [[False, False, True], [], None, [False]],
        ),
        (
            lambda s: s.gr.str.startswith("C"),
            "grumpy[var * bool_]",
            [[True, False, True], [], None, [False]],
        ),
        (
            lambda s: s.gr.str.replace("C", "K"),
            "grumpy[var * string]",
            [["K", "h", "Kl"], [], None, ["O"]],
        ),
    ],
    ids=["upper", "len", "contains", "startswith", "replace"],
)
def test_str_methods_work_on_every_string_and_keep_index_and_name(
    elements: pd.Series, call: Any, dtype: str, expected: list[Any]
) -> None:
    out = call(elements)
    assert str(out.dtype) == dtype
    assert out.index.tolist() == ["m1", "m2", "m3", "m4"] and out.name == "el"
    assert from_pandas(out).to_list() == expected


def test_str_finds_every_method_of_grumpy_string_methods_by_name() -> None:
    from grumpy_arrow.strings import StringMethods

    s = to_pandas(gr.array([["a b", "c"], ["d"]]), index=["x", "y"])
    public = {n for n in dir(StringMethods) if not n.startswith("_")}
    assert public <= set(dir(s.gr.str))
    for name in public:  # the same function, documented the same way
        assert getattr(s.gr.str, name).__doc__ == getattr(StringMethods, name).__doc__
    assert from_pandas(s.gr.str.split()).to_list() == [[["a", "b"], ["c"]], [["d"]]]


def test_str_results_that_are_dicts_of_arrays_become_frames() -> None:
    s = to_pandas(gr.array([["C12", "N3"], ["H"]]), index=["x", "y"])
    out = s.gr.str.extract_all(r"(?P<el>[A-Z])(\d+)")
    assert isinstance(out, pd.DataFrame) and out.index.tolist() == ["x", "y"]
    assert out.columns.tolist() == ["el", "_1"]
    assert from_pandas(out["el"]).to_list() == [["C", "N"], [None]]
    assert from_pandas(out["_1"]).to_list() == [["12", "3"], [None]]


def test_str_on_a_union_column_returns_a_union_column() -> None:
    s = to_pandas(gr.array(["GO:1", ["GO:2", "go:3"], None]), index=[10, 20, 30])
    out = s.gr.str.upper()
    assert str(out.dtype) == "grumpy[union[string, var * string]]"
    assert from_pandas(out).to_list() == ["GO:1", ["GO:2", "GO:3"], None]
    assert out.index.tolist() == [10, 20, 30]


def test_str_refuses_unknown_methods_and_non_string_data() -> None:
    s = to_pandas(gr.array([["a"]]))
    with pytest.raises(AttributeError, match=r"s\.gr\.str has no method 'nope'; it has byte_len, "):
        s.gr.str.nope  # noqa: B018
    ints = to_pandas(gr.array([[1, 2]]))
    assert hasattr(ints.gr.str, "upper")  # looking a method up never reads the data
    with pytest.raises(TypeError, match=r"\.str needs a string array, got int64"):
        ints.gr.str.upper()
