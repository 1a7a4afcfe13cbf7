"""Union lowering, Parquet, Polars and DuckDB (docs/interop.md)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import grumpy_arrow as gr
from grumpy_arrow.compute.lowering import lower_node, raise_node

SCHEMA = ["molecule", "residue", "atom"]


@pytest.fixture
def frame() -> gr.DataFrame:
    return gr.dataframe(
        {
            "molecule_id": ["1abc", "2xyz", "3pqr"],
            "molecule_go_term": ["GO:0003674", ["GO:0003674", "GO:0005524"], None],
            "residue_alt": [[1, [2, 3]], [None], []],
            "atom_x": [[[1.0, 2.0], [3.0]], [[4.0]], []],
        },
        schema=SCHEMA,
    )


@pytest.mark.parametrize(
    "value",
    [
        [7, [1, 2], None, []],
        ["a", ["b", "c"], None],
        [[1, 2, 3], [[None, 5], [6]]],
        [1, [[2, 3], [4]], None],
        [[[1, [2]]], [[3]], None],
    ],
    ids=["root", "strings", "inside-list", "deep-list-child", "two-deep"],
)
def test_lowering_round_trips_exactly(value: list[object]) -> None:
    x = gr.array(value)
    values, flags = lower_node(x.node)
    assert flags is not None
    assert gr.GrumpyArray._wrap(raise_node(values, flags)).to_arrow().equals(x.to_arrow())
    exported = x.to_arrow(unions="lowered")
    assert exported.type.names == ["values", "is_scalar"]
    back = gr.array(exported)
    assert back.to_arrow().equals(x.to_arrow())


def test_lowered_form_of_a_root_union() -> None:
    exported = gr.array([7, [1, 2], None]).to_arrow(unions="lowered")
    assert exported.field(0).to_pylist() == [[7], [1, 2], [None]]
    assert exported.field(1).to_pylist() == [True, False, True]
    assert exported.type.field(0).metadata == {b"grumpy_arrow.lowered": b"union"}


def test_arrays_without_unions_export_unchanged() -> None:
    x = gr.array([[1, 2], [3]])
    assert x.to_arrow(unions="lowered") is x.to_arrow()
    assert pa.array(x).equals(x.to_arrow())


def test_union_inside_union_cannot_be_lowered_but_exports_native() -> None:
    x = gr.array([1, [2, [3]]])
    with pytest.raises(gr.LayoutError, match="another union"):
        x.to_arrow(unions="lowered")
    assert pa.array(x).equals(x.to_arrow())


def test_bad_unions_argument() -> None:
    with pytest.raises(ValueError, match="unions must be 'native' or 'lowered'"):
        gr.array([1]).to_arrow(unions="flat")
    with pytest.raises(ValueError, match="unions must be 'native' or 'lowered'"):
        gr.dataframe({"a": [1]}).to_arrow(unions="flat")


def test_consumer_requesting_the_native_type_gets_it() -> None:
    x = gr.array([1, [2]])
    native = x.to_arrow()
    got = pa.Array._import_from_c_capsule(*x.__arrow_c_array__(native.type.__arrow_c_schema__()))
    assert got.equals(native)


def test_corrupt_flags_are_refused() -> None:
    values = gr.array([[1, 2], [3]]).node
    with pytest.raises(
        gr.LayoutError, match="row 0 is flagged scalar but is not a one-element list"
    ):
        raise_node(values, gr.array([True, False]).node)
    with pytest.raises(gr.LayoutError, match="is_scalar has 1 rows but its values column has 2"):
        raise_node(values, gr.array([True]).node)


def test_frame_export_lowers_union_columns(frame: gr.DataFrame) -> None:
    table = pa.table(frame)
    assert table.column_names == [
        "molecule_id",
        "molecule_go_term",
        "molecule_go_term__is_scalar",
        "residue_alt",
        "residue_alt__is_scalar",
        "atom_x",
    ]
    assert table.column("molecule_go_term").to_pylist() == [
        ["GO:0003674"],
        ["GO:0003674", "GO:0005524"],
        [None],
    ]
    assert table.column("residue_alt__is_scalar").to_pylist() == [[True, False], [True], []]
    assert table.schema.field("molecule_go_term").metadata[b"grumpy_arrow.union_flags"] == (
        b"molecule_go_term__is_scalar"
    )
    back = gr.from_arrow(table)
    assert back.columns == frame.columns
    for name in frame.columns:
        assert back[name].to_arrow().equals(frame[name].to_arrow()), name
    assert frame.to_arrow(unions="native").column("molecule_go_term").type == (
        frame["molecule_go_term"].to_arrow().type
    )


def test_parquet_round_trip_of_frames_and_arrays(frame: gr.DataFrame, tmp_path: Path) -> None:
    path = tmp_path / "frame.parquet"
    gr.to_parquet(frame, path)
    back = gr.from_parquet(path)
    assert back.schema == frame.schema
    assert back.to_dict() == frame.to_dict()
    for name in frame.columns:
        assert back[name].to_arrow().equals(frame[name].to_arrow()), name
    arr = gr.array(["P1", ["P1-1", "P1-2"], None], dtype=gr.string)
    gr.to_parquet(arr, tmp_path / "array.parquet", compression="zstd")
    got = gr.from_parquet(tmp_path / "array.parquet")
    assert isinstance(got, gr.GrumpyArray)
    assert got.to_arrow().equals(arr.to_arrow())


def test_parquet_column_selection_brings_the_flags(frame: gr.DataFrame, tmp_path: Path) -> None:
    path = tmp_path / "frame.parquet"
    gr.to_parquet(frame, path)
    sub = gr.from_parquet(path, columns=["molecule_go_term", "atom_x"])
    assert sub.columns == ["molecule_go_term", "atom_x"]
    assert sub.molecule_go_term.to_list() == ["GO:0003674", ["GO:0003674", "GO:0005524"], None]
    with pytest.raises(gr.errors.ColumnNotFoundError, match="no column 'nope'"):
        gr.from_parquet(path, columns=["nope"])


def test_plain_parquet_files_read_as_frames(tmp_path: Path) -> None:
    path = tmp_path / "plain.parquet"
    pq.write_table(pa.table({"m_x": [1.0, 2.0], "r_v": [[1], [2, 3]]}), path)
    frame = gr.from_parquet(path, schema=["m", "r"])
    assert frame.r.r_v.to_list() == [1, 2, 3]
    assert frame["r_v"].to_arrow().type == pa.large_list(pa.int64())


def test_parquet_refuses_unions_it_cannot_hold(tmp_path: Path) -> None:
    with pytest.raises(gr.LayoutError, match="another union"):
        gr.to_parquet(gr.array([1, [2, [3]]]), tmp_path / "x.parquet")


@pytest.mark.polars
def test_polars_takes_frames_with_union_and_nested_columns(frame: gr.DataFrame) -> None:
    pl = pytest.importorskip("polars")
    out = pl.DataFrame(frame)
    assert out.columns[:3] == ["molecule_id", "molecule_go_term", "molecule_go_term__is_scalar"]
    assert out["atom_x"].to_list() == [[[1.0, 2.0], [3.0]], [[4.0]], []]
    back = gr.from_arrow(out, schema=SCHEMA)  # Polars drops Arrow metadata: name the schema
    assert back.to_dict() == frame.to_dict()
    for name in frame.columns:
        assert back[name].to_list() == frame[name].to_list(), name
    assert back["molecule_go_term"].is_union


@pytest.mark.polars
def test_polars_series_round_trip() -> None:
    pl = pytest.importorskip("polars")
    x = gr.array([1, [2, 3], None])
    series = pl.Series(x)
    assert series.dtype == pl.Struct({"values": pl.List(pl.Int64), "is_scalar": pl.Boolean})
    assert gr.array(series).to_arrow().equals(x.to_arrow())
    y = gr.array([[1.5, None], [], [2.5]])
    assert gr.array(pl.Series(y)).to_list() == [[1.5, None], [], [2.5]]


@pytest.mark.polars
def test_to_polars_never_lets_a_polars_failure_escape(frame: gr.DataFrame) -> None:
    pytest.importorskip("polars")
    assert gr.to_polars(frame).shape == (3, 6)
    assert gr.to_polars(gr.array([1, [2]])).len() == 2
    with pytest.raises(gr.LayoutError, match="polars cannot take this data"):
        gr.to_polars(frame, unions="native")


@pytest.mark.duckdb
def test_duckdb_queries_frames_and_round_trips(frame: gr.DataFrame) -> None:
    duckdb = pytest.importorskip("duckdb")
    con = duckdb.connect()
    con.register("frame", pa.table(frame))
    counts = con.sql("select molecule_id, len(atom_x) as n from frame order by molecule_id")
    assert counts.fetchall() == [("1abc", 2), ("2xyz", 1), ("3pqr", 0)]
    back = gr.from_arrow(con.sql("select * from frame"), schema=SCHEMA)
    assert back.to_dict() == frame.to_dict()
    assert back["residue_alt"].to_arrow().equals(frame["residue_alt"].to_arrow())


@pytest.mark.duckdb
def test_duckdb_replacement_scan_takes_the_pycapsule_stream(frame: gr.DataFrame) -> None:
    duckdb = pytest.importorskip("duckdb")
    df = frame  # noqa: F841 - duckdb finds Python variables by name
    rows = duckdb.sql("select molecule_id, molecule_go_term__is_scalar from df").fetchall()
    assert rows == [("1abc", True), ("2xyz", False), ("3pqr", True)]
    x = gr.array(np.arange(5))  # arrays are scanned through their Arrow export too
    assert duckdb.sql("select sum(x) from (select unnest([1, 2]) as x)").fetchall() == [(3,)]
    assert len(x) == 5
