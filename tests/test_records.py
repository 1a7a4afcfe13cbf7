"""Records (Arrow ``struct``): construction, type strings, ``field``, row selection,
refusals of value operations, frames, pandas, Parquet and Polars round trips, and stores
(tests/test_store_records.py tests them in depth)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

import grumpy_arrow as gr
from grumpy_arrow.errors import DTypeError, LayoutError, OutOfBoundsError, SchemaError

ATOMS = [[{"x": 1.0, "el": "C"}, {"x": 2.0, "el": "H"}], [], [{"x": 3.0, "el": None}, None]]


def test_records_from_dicts_and_from_arrow_structs() -> None:
    flat = gr.array([{"x": 1.5, "tags": ["a"]}, None, {"x": 2}])
    assert flat.type == "3 * {x: float64, tags: var * string}"
    assert flat.to_list() == [{"x": 1.5, "tags": ["a"]}, None, {"x": 2.0, "tags": None}]
    assert flat.dtype is gr.dtypes.record and flat.ndim == 1 and flat.fields == ["x", "tags"]
    nested = gr.array(ATOMS)
    assert nested.type == "3 * var * {x: float64, el: string}" and nested.ndim == 2
    from_arrow = gr.array(pa.array(ATOMS))
    assert from_arrow.to_list() == nested.to_list() == ATOMS
    sliced = gr.array(pa.array(ATOMS).slice(1, 2))
    assert sliced.to_list() == ATOMS[1:]


@pytest.mark.parametrize(
    ("make", "error", "match"),
    [
        (lambda: gr.array([{}]), LayoutError, "at least one field"),
        (lambda: gr.array([{"x": 1}, {"x": "a"}]), DTypeError, "cannot build records"),
        (lambda: gr.array([{"x": 1}], dtype="int64"), DTypeError, "records take no dtype"),
    ],
    ids=["no-fields", "mixed-field-types", "dtype"],
)
def test_bad_records_are_refused(make: object, error: type[Exception], match: str) -> None:
    with pytest.raises(error, match=match):
        make()  # type: ignore[operator]


def test_duplicate_field_names_are_refused() -> None:
    struct = pa.StructArray.from_arrays([pa.array([1]), pa.array([2])], names=["a", "a"])
    with pytest.raises(LayoutError, match="field names must be distinct"):
        gr.array(struct)


def test_field_keeps_the_lists_above_and_nulls_records() -> None:
    atoms = gr.array(ATOMS)
    assert atoms.field("x").to_list() == [[1.0, 2.0], [], [3.0, None]]
    assert atoms["el"].to_list() == [["C", "H"], [], [None, None]]
    assert atoms.field("x").type == "3 * var * float64"
    assert atoms.field("x").sum(dim=1).to_list() == [3.0, 0.0, 3.0]
    flat = gr.array([{"v": [1, 2]}, None, {"v": [3]}])
    assert flat.field("v").to_list() == [[1, 2], None, [3]]
    assert flat.field("v").null_count == 1
    with pytest.raises(DTypeError, match=r"no field 'y'; the fields are \['x', 'el'\]"):
        atoms.field("y")
    with pytest.raises(DTypeError, match="needs an array of records, got 2 \\* int64"):
        gr.array([1, 2]).field("x")
    assert gr.array([1, 2]).fields == []


def test_rows_slices_masks_and_gathers_of_records() -> None:
    atoms = gr.array(ATOMS)
    assert atoms[0].to_list() == ATOMS[0]
    assert atoms[2][0] == {"x": 3.0, "el": None}
    assert atoms[[2, 0]].to_list() == [ATOMS[2], ATOMS[0]]
    assert atoms[1:].to_list() == ATOMS[1:]
    assert atoms[::2].to_list() == [ATOMS[0], ATOMS[2]]
    assert atoms[gr.array([True, False, True])].to_list() == [ATOMS[0], ATOMS[2]]
    assert atoms[:, :1].to_list() == [[ATOMS[0][0]], [], [ATOMS[2][0]]]
    assert atoms[atoms["x"] > 1.5].to_list() == [[ATOMS[0][1]], [], [ATOMS[2][0]]]
    assert atoms.take(gr.array([[1], [], [1, 0]])).to_list() == [
        [ATOMS[0][1]],
        [],
        [None, ATOMS[2][0]],
    ]
    with pytest.raises(OutOfBoundsError, match="too many indices"):
        gr.array([ATOMS[0]])[:, 0, 0]
    flat = gr.array([{"a": 1}, None])
    assert flat.is_null().to_list() == [False, True]
    assert flat.dropna().to_list() == [{"a": 1}]
    assert gr.concat([flat, flat]).to_list() == [{"a": 1}, None, {"a": 1}, None]
    assert repr(flat) == "<GrumpyArray [{'a': 1}, None] type='2 * {a: int64}'>"


@pytest.mark.parametrize(
    "op",
    [
        lambda r: r + 1,
        lambda r: r == r,
        lambda r: r.sum(),
        lambda r: r.sort(),
        lambda r: r.unique(),
        lambda r: np.sqrt(r),
        lambda r: r.median(),
        lambda r: r.value_counts(),
        lambda r: r.isin([1]),
        lambda r: r.map({1: 2}),
        lambda r: r.cumsum(),
        lambda r: r.astype("int64"),
        lambda r: r.flatten(),
    ],
    ids=[
        "add",
        "eq",
        "sum",
        "sort",
        "unique",
        "sqrt",
        "median",
        "value_counts",
        "isin",
        "map",
        "cumsum",
        "astype",
        "flatten",
    ],
)
def test_value_operations_on_records_say_to_select_a_field(op: object) -> None:
    with pytest.raises(DTypeError, match=r"select a field first: x.field\(name\)|record"):
        op(gr.array(ATOMS))  # type: ignore[operator]


def test_record_columns_in_frames() -> None:
    df = gr.dataframe({"mol_id": [1, 2, 3], "atom_pos": gr.array(ATOMS)}, schema=["mol", "atom"])
    assert df.dtypes["atom_pos"] == "3 * var * {x: float64, el: string}"
    assert df.atom_pos.to_list() == ATOMS[0] + ATOMS[2]
    assert df[[2]].to_dict() == {"mol_id": [3], "atom_pos": [ATOMS[2]]}
    heavy = df[df["atom_pos"]["el"] != "H"]  # (a null element compares null: dropped)
    assert heavy["atom_pos"].to_list() == [[ATOMS[0][0]], [], []]
    assert df.groupby("mol_id").agg(n=("mol_id", "size")).to_dict()["n"] == [1, 1, 1]


def test_records_round_trip_through_pandas_parquet_and_polars(tmp_path: object) -> None:
    from pathlib import Path

    df = gr.dataframe(
        {
            "mol_id": [1, 2, 3],
            "atom_pos": gr.array(ATOMS),
            "mol_info": gr.array([{"name": "a", "tags": ["p"]}, None, {"name": "c", "tags": []}]),
        },
        schema=["mol", "atom"],
    )
    pdf = df.to_pandas()
    assert isinstance(pdf["atom_pos"].dtype, pd.ArrowDtype)
    assert gr.from_pandas(pdf).to_dict() == df.to_dict()
    path = Path(str(tmp_path)) / "records.parquet"
    gr.to_parquet(df, path)
    back = gr.from_parquet(path)
    assert back.to_dict() == df.to_dict() and back.dtypes == df.dtypes
    pl = pytest.importorskip("polars")
    frame = gr.to_polars(df)
    assert isinstance(frame.schema["mol_info"], pl.Struct)
    again = gr.from_arrow(frame.to_arrow(), schema=["mol", "atom"])
    assert again.to_dict() == df.to_dict()


def test_a_union_inside_a_record_stays_native_and_is_refused_by_lowering(tmp_path: object) -> None:
    from pathlib import Path

    mixed = gr.array([1, [2, 3]]).to_arrow()
    records = gr.array(pa.StructArray.from_arrays([mixed], names=["v"]))
    assert records.type == "2 * {v: union[int64, var * int64]}"
    assert records.field("v").to_list() == [1, [2, 3]]
    with pytest.raises(LayoutError, match="cannot lower a union inside a record's field"):
        gr.to_parquet(gr.dataframe({"r": records}), Path(str(tmp_path)) / "u.parquet")


def test_stores_hold_record_columns_and_refuse_other_fields(tmp_path: object) -> None:
    from pathlib import Path

    base = Path(str(tmp_path))
    df = gr.dataframe({"mol_id": [1, 2, 3], "atom_pos": gr.array(ATOMS)}, schema=["mol", "atom"])
    gr.save(df, base / "new.gr")
    assert gr.load(base / "new.gr").to_dict() == df.to_dict()
    good = gr.dataframe({"mol_id": [1], "atom_pos": [[1.0]]}, schema=["mol", "atom"])
    gr.save(good, base / "old.gr")
    before = sorted(p.name for p in (base / "old.gr").rglob("*"))
    with pytest.raises(SchemaError, match="has layout list@atom<record<x: float64, el: string>>"):
        gr.append(df, base / "old.gr")
    assert sorted(p.name for p in (base / "old.gr").rglob("*")) == before
    assert gr.load(base / "old.gr").to_dict() == {"mol_id": [1], "atom_pos": [[1.0]]}


def test_records_are_found_behind_empty_and_null_first_rows() -> None:
    assert gr.array([[], None, [{"x": 1}]]).to_list() == [[], None, [{"x": 1}]]
    assert gr.array([[], None, [{"x": 1}]]).type == "3 * var * {x: int64}"
    assert gr.array([[], [1]]).type == "2 * var * int64"
