"""Round trips between grumpy, pandas, Arrow and Parquet, compared exactly.

Both directions of issue 15: ``df.to_pandas().to_parquet(p)`` read back with
``pd.read_parquet`` then ``gr.from_pandas``, and ``gr.to_parquet(df, p)`` read the same way,
give the frame that was written: values, nulls, unions, leaf dtypes (float32, float16,
uint8...), exact Arrow types and the schema; :func:`_assert_exact` checks all of it (NaN
equal to NaN, which Arrow's ``equals`` does not grant).

pandas (3.x, by default) reads NaN in a *flat* float column as NA; with
``future.distinguish_nan_and_na`` the NaN is kept. NaN inside lists (GrumpyDtype) is always
kept.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, assume, given, settings

import grumpy_arrow as gr
from grumpy_arrow.errors import LayoutError
from grumpy_arrow.pandas import GrumpyDtype, from_pandas
from grumpy_arrow.pandas.convert import raise_lowered
from grumpy_arrow.testing import assert_array_equal
from grumpy_arrow.testing.strategies import dataframes

SCHEMA = ["molecule", "atom"]


def _frame() -> gr.DataFrame:
    return gr.dataframe(
        {
            "molecule_id": gr.array([1, None, 3], dtype="int64"),
            "molecule_charge": gr.array([0, 255, None], dtype="uint8"),
            "molecule_w": gr.array([1.25, -0.456, None], dtype="float32"),
            "molecule_h": gr.array([0.5, None, 2.0], dtype="float16"),
            "molecule_name": ["water", None, "ethanol"],
            "molecule_ok": [True, None, False],
            "molecule_go": ["GO:1", ["GO:2", "GO:3"], None],
            "atom_x": gr.array([[1.5, -0.456, float("nan")], [], [2.0]], dtype="float32"),
            "atom_el": [["O", ["H", "H"], None], [], [["C"]]],
            "atom_bonds": [[[1, 2], [], None], [], [[0, None]]],
        },
        schema=SCHEMA,
    )


def _assert_exact(actual: Any, expected: Any) -> None:
    """Same columns, schema, rows, exact Arrow types and values (arrays: type and values)."""
    if isinstance(expected, gr.GrumpyArray):
        assert actual.to_arrow().type == expected.to_arrow().type
        assert_array_equal(actual, expected)
        return
    assert (actual.columns, actual.schema, len(actual)) == (
        expected.columns,
        expected.schema,
        len(expected),
    )
    for name in expected.columns:
        assert actual[name].to_arrow().type == expected[name].to_arrow().type, name
        assert_array_equal(actual[name], expected[name])


def _lowerable(frame: gr.DataFrame) -> bool:
    try:
        frame.to_arrow(unions="lowered")
    except LayoutError:  # a union inside a union's lists: Parquet cannot hold it
        return False
    return True


# -- pandas' to_parquet / read_parquet -----------------------------------------------------


def test_pandas_writes_union_columns_to_parquet_and_reads_them_back(tmp_path: Path) -> None:
    frame = _frame()
    pdf = frame.to_pandas()
    pdf.to_parquet(tmp_path / "f.parquet")  # used to fail on the dense union
    back = pd.read_parquet(tmp_path / "f.parquet")
    assert back.dtypes.astype(str).tolist() == pdf.dtypes.astype(str).tolist()
    assert back.dtypes["molecule_go"] == GrumpyDtype("union[string, var * string]")
    assert back.attrs == {"grumpy_schema": SCHEMA}
    _assert_exact(from_pandas(back), frame)


def test_gr_to_parquet_reads_in_pandas_with_grumpy_dtypes_and_the_schema(tmp_path: Path) -> None:
    frame = _frame()
    gr.to_parquet(frame, tmp_path / "f.parquet")
    back = pd.read_parquet(tmp_path / "f.parquet")
    # pandas sees the file's columns: a union column as its lowered pair.
    assert back.dtypes.astype(str).to_dict() == {
        "molecule_id": "Int64",
        "molecule_charge": "UInt8",
        "molecule_w": "Float32",
        "molecule_h": "grumpy[float16]",
        "molecule_name": "string",
        "molecule_ok": "boolean",
        "molecule_go": "grumpy[var * string]",
        "molecule_go__is_scalar": "boolean",
        "atom_x": "grumpy[var * float32]",
        "atom_el": "grumpy[var * var * string]",
        "atom_el__is_scalar": "grumpy[var * bool_]",
        "atom_bonds": "grumpy[var * var * int64]",
    }
    assert back.attrs == {"grumpy_schema": SCHEMA}
    assert back["molecule_go__is_scalar"].tolist() == [True, False, True]
    _assert_exact(from_pandas(back), frame)


def test_pandas_written_files_read_with_gr_from_parquet_keep_unions_and_schema(
    tmp_path: Path,
) -> None:
    frame = _frame()
    frame.to_pandas().to_parquet(tmp_path / "f.parquet")
    back = gr.from_parquet(tmp_path / "f.parquet")
    assert back.schema == frame.schema
    assert back.columns == frame.columns
    for name in frame.columns:  # pandas stores strings as large_string: same grumpy type
        assert_array_equal(back[name], frame[name])
    assert back.molecule_go.to_list() == ["GO:1", ["GO:2", "GO:3"], None]


def test_flat_float_nan_is_read_as_na_by_pandas_unless_told_apart(tmp_path: Path) -> None:
    frame = gr.dataframe({"w": gr.array([1.5, float("nan"), None], dtype="float32")})
    gr.to_parquet(frame, tmp_path / "f.parquet")
    assert math.isnan(pq.read_table(tmp_path / "f.parquet").column("w").to_pylist()[1])
    assert from_pandas(pd.read_parquet(tmp_path / "f.parquet")).w.to_list() == [1.5, None, None]
    with pd.option_context("future.distinguish_nan_and_na", True):
        back = from_pandas(pd.read_parquet(tmp_path / "f.parquet"))
    _assert_exact(back, frame)


def test_pandas_metadata_can_be_left_out(tmp_path: Path) -> None:
    gr.to_parquet(_frame(), tmp_path / "plain.parquet", pandas_metadata=False)
    metadata = pq.read_schema(tmp_path / "plain.parquet").metadata
    assert b"pandas" not in metadata and b"PANDAS_ATTRS" not in metadata
    gr.to_parquet(_frame(), tmp_path / "f.parquet")
    stored = json.loads(pq.read_schema(tmp_path / "f.parquet").metadata[b"pandas"])
    assert [c["numpy_type"] for c in stored["columns"]][6:9] == [
        "grumpy[var * string]",
        "boolean",
        "grumpy[var * float32]",
    ]
    assert stored["index_columns"] == []


def test_arrays_written_by_gr_to_parquet_read_in_pandas_as_one_column(tmp_path: Path) -> None:
    x = gr.array([[1.5, 2.0], None, []], dtype="float32")
    gr.to_parquet(x, tmp_path / "x.parquet")
    back = pd.read_parquet(tmp_path / "x.parquet")
    assert back.dtypes.astype(str).tolist() == ["grumpy[var * float32]"]
    _assert_exact(from_pandas(back["values"]), x)
    _assert_exact(gr.from_parquet(tmp_path / "x.parquet"), x)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(frame=dataframes())
def test_every_frame_round_trips_through_parquet_in_both_directions(
    frame: gr.DataFrame, tmp_path: Path
) -> None:
    assume(_lowerable(frame))
    path = tmp_path / "f.parquet"
    with pd.option_context("future.distinguish_nan_and_na", True):
        frame.to_pandas().to_parquet(path)
        _assert_exact(from_pandas(pd.read_parquet(path)), frame)
        gr.to_parquet(frame, path)
        _assert_exact(from_pandas(pd.read_parquet(path)), frame)


# -- the Arrow protocol of GrumpyDtype arrays ------------------------------------------------


def test_union_columns_leave_lowered_and_come_back_through_the_dtype() -> None:
    s = gr.array([7, [1, 2], None]).to_pandas()
    lowered = pa.array(s.array)
    assert lowered.type.names == ["values", "is_scalar"]
    assert lowered.field("values").to_pylist() == [[7], [1, 2], [None]]
    assert lowered.field("is_scalar").to_pylist() == [True, False, True]
    back = s.dtype.__from_arrow__(pa.chunked_array([lowered.slice(0, 1), lowered.slice(1)]))
    _assert_exact(back.to_array(), s.array.to_array())


def test_the_native_union_is_given_when_asked_for() -> None:
    s = gr.array([7, [1, 2], None]).to_pandas()
    native = pa.array(s.array, type=s.dtype.arrow_type)
    assert native.type == s.dtype.arrow_type
    assert native.to_pylist() == [7, [1, 2], None]


def test_list_columns_without_unions_leave_zero_copy() -> None:
    s = gr.array([[1, 2], [], [3]]).to_pandas()
    out = pa.array(s.array)
    assert out.type == pa.large_list(pa.int64())
    assert out.buffers()[1].address == s.array.to_array().to_arrow().buffers()[1].address


def test_a_union_inside_a_union_leaves_native() -> None:
    s = gr.array([1, [2, [3]]]).to_pandas()
    assert pa.types.is_union(pa.array(s.array).type)
    with pytest.raises(LayoutError, match="cannot lower a union whose list rows contain"):
        gr.to_parquet(gr.array([1, [2, [3]]]), "never-written.parquet")


def test_arrow_tables_of_pandas_frames_round_trip_in_memory() -> None:
    frame = _frame()
    table = pa.Table.from_pandas(frame.to_pandas())
    _assert_exact(from_pandas(table.to_pandas()), frame)


# -- from_pandas raises lowered pairs --------------------------------------------------------


@pytest.mark.parametrize(
    ("columns", "expected"),
    [
        ({"c": [[7], [1, 2]], "c__is_scalar": [True, False]}, {"c": [7, [1, 2]]}),
        (
            {"c": [[[7], [1]], []], "c__is_scalar": [[True, False], []], "d": [1, 2]},
            {"c": [[7, [1]], []], "d": [1, 2]},
        ),
        ({"x__is_scalar": [True, False]}, {"x__is_scalar": [True, False]}),  # no x: a column
    ],
    ids=["root", "inside-lists", "lone-flags"],
)
def test_from_pandas_raises_lowered_union_pairs(
    columns: dict[str, Any], expected: dict[str, Any]
) -> None:
    pdf = pd.DataFrame({k: gr.array(v).to_pandas() for k, v in columns.items()})
    assert from_pandas(pdf).to_dict() == expected


def test_flags_that_are_not_booleans_are_refused() -> None:
    columns = {"c": gr.array([[7], [1, 2]]), "c__is_scalar": gr.array([1, 0])}
    with pytest.raises(LayoutError, match="'c__is_scalar' holds the is_scalar flags of 'c'"):
        raise_lowered(columns)


def test_flags_that_do_not_fit_their_values_are_refused() -> None:
    pdf = pd.DataFrame({"c": gr.array([[7, 8], [1]]).to_pandas(), "c__is_scalar": [True, False]})
    with pytest.raises(LayoutError, match="row 0 is flagged scalar but is not a one-element list"):
        from_pandas(pdf)


def test_float32_inside_lists_keeps_its_bits(tmp_path: Path) -> None:
    values = np.array([-0.456, 1e-40, np.inf], dtype=np.float32)
    frame = gr.dataframe({"x": gr.array([values.tolist()], dtype="float32")})
    frame.to_pandas().to_parquet(tmp_path / "f.parquet")
    back = from_pandas(pd.read_parquet(tmp_path / "f.parquet"))
    got = back.x.to_arrow().values.to_numpy()
    assert got.dtype == np.float32
    assert got.view(np.uint32).tolist() == values.view(np.uint32).tolist()


def test_malformed_pandas_attrs_in_a_file_are_reported(tmp_path: Path) -> None:
    table = pa.table({"a": [1, 2]}).replace_schema_metadata({b"PANDAS_ATTRS": b"{not json"})
    pq.write_table(table, tmp_path / "bad.parquet")
    with pytest.raises(gr.errors.SchemaError, match=r"bad\.parquet: malformed pandas attrs"):
        gr.from_parquet(tmp_path / "bad.parquet")
    other = pa.table({"a": [1, 2]}).replace_schema_metadata({b"PANDAS_ATTRS": b'{"x": 1}'})
    pq.write_table(other, tmp_path / "other.parquet")
    assert gr.from_parquet(tmp_path / "other.parquet").schema is None
