"""Record columns in stores: save, load, append, lazy reads, streams, refused appends of
other fields, and hostile manifests (docs/format.md, "Record nodes")."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pytest

import grumpy_arrow as gr
from grumpy_arrow.errors import SchemaError, StoreFormatError

ATOMS = [[{"x": 1.0, "el": "C"}, {"x": 2.0, "el": "H"}], [], [{"x": 3.0, "el": None}, None]]
MIXED = gr.array([1, [2, 3], 0, [4]]).to_arrow()  # a scalar-or-list union


def _records(n: int) -> list[Any]:
    """``n`` records with lists, strings and nulls: every fifth record null."""
    return [
        None
        if i % 5 == 3
        else {
            "id": i,
            "tags": [f"t{j}" for j in range(i % 4)] or None,
            "pos": [[float(i), float(j)] for j in range(i % 3)],
        }
        for i in range(n)
    ]


def _snapshot(path: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(path)): p.read_bytes() for p in sorted(path.rglob("*")) if p.is_file()
    }


@pytest.mark.parametrize(
    "data",
    [
        [{"x": 1, "y": "a"}, None, {"x": 3, "y": None}],
        ATOMS,
        [[{"a": [1, 2], "b": {"c": b"z"}}], [None, {"a": None, "b": None}]],
        _records(23),
    ],
    ids=["root", "below-lists", "nested", "lists-strings"],
)
def test_arrays_of_records_round_trip(tmp_path: Path, data: list[Any]) -> None:
    arr = gr.array(data)
    gr.save(arr, tmp_path / "a.gr")
    back = gr.load(tmp_path / "a.gr")
    assert back.to_list() == data
    assert back.type == arr.type
    assert gr.validate(tmp_path / "a.gr") == []


def test_a_record_of_a_union_and_a_fixed_axis_round_trips(tmp_path: Path) -> None:
    fixed = pa.array([[1, 2], None, [5, 6], [7, 8]], type=pa.list_(pa.int32(), 2))
    rec = pa.StructArray.from_arrays(
        [MIXED, fixed], names=["u", "f"], mask=pa.array([False, False, True, False])
    )
    arr = gr.array(rec)
    gr.save(arr, tmp_path / "u.gr")
    back = gr.load(tmp_path / "u.gr")
    assert back.to_list() == [
        {"u": 1, "f": [1, 2]},
        {"u": [2, 3], "f": None},
        None,
        {"u": [4], "f": [7, 8]},
    ]
    assert back.field("f").to_list() == [[1, 2], None, None, [7, 8]]
    doc = json.loads((tmp_path / "u.gr" / "grumpy.json").read_text())
    layout = doc["columns"][0]["layout"]
    assert [f["name"] for f in layout["fields"]] == ["u", "f"]
    assert layout["validity"] == "array/r-validity"
    assert [f["layout"]["kind"] for f in layout["fields"]] == ["union", "list"]
    h = gr.open(tmp_path / "u.gr")
    assert h.take([3, 0, 2]).to_list() == [back.to_list()[i] for i in (3, 0, 2)]


def test_frames_with_record_columns_round_trip_and_read_lazily(tmp_path: Path) -> None:
    df = gr.dataframe({"mol_id": [1, 2, 3], "atom_pos": gr.array(ATOMS)}, schema=["mol", "atom"])
    gr.save(df, tmp_path / "f.gr")
    assert gr.load(tmp_path / "f.gr").to_dict() == df.to_dict()
    h = gr.open(tmp_path / "f.gr")
    assert h.take([2, 0, 2]).to_dict() == df[[2, 0, 2]].to_dict()
    assert h[1:3].to_dict() == df[1:3].to_dict()
    assert gr.validate(tmp_path / "f.gr") == []


def test_no_null_records_write_no_validity_leaf(tmp_path: Path) -> None:
    gr.save(gr.array([{"x": 1}, {"x": 2}]), tmp_path / "n.gr")
    doc = json.loads((tmp_path / "n.gr" / "grumpy.json").read_text())
    assert sorted(doc["leaves"]) == ["array/r.f0-values"]
    assert doc["columns"][0]["layout"]["fields"][0]["layout"]["values"] == "array/r.f0-values"
    gr.append(gr.array([None, {"x": 3}]), tmp_path / "n.gr")
    assert gr.load(tmp_path / "n.gr").to_list() == [{"x": 1}, {"x": 2}, None, {"x": 3}]


def test_appends_in_hundreds_of_chunks_equal_one_save(tmp_path: Path) -> None:
    data = _records(400)
    for k, path in enumerate(("once.gr", "many.gr")):
        if k == 0:
            gr.save(gr.array(data), tmp_path / path, chunk_size=4)
            continue
        for start in range(0, 400, 37):
            if start == 0:
                gr.save(gr.array(data[:37]), tmp_path / path, chunk_size=4)
                continue
            gr.append(gr.array(data[start : start + 37]), tmp_path / path)
    once, many = gr.load(tmp_path / "once.gr"), gr.load(tmp_path / "many.gr")
    assert many.to_list() == once.to_list() == data
    h = gr.open(tmp_path / "many.gr")
    rng = np.random.default_rng(7)
    rows = rng.integers(0, 400, 60)
    assert h.take(rows.tolist()).to_list() == [data[i] for i in rows]
    assert h[123] == data[123] and h[3] is None
    assert h[250:260].to_list() == data[250:260]
    assert gr.validate(tmp_path / "many.gr") == []


def test_streams_batch_a_record_column(tmp_path: Path) -> None:
    data = _records(50)
    gr.save(gr.dataframe({"r": gr.array(data)}), tmp_path / "s.gr", chunk_size=8)
    seen = [
        row
        for batch in gr.stream(str(tmp_path / "s.gr"), batch_size=7)
        for row in batch["r"].to_list()
    ]
    assert seen == data


@pytest.mark.parametrize(
    "other",
    [[{"x": 1, "z": "a"}], [{"y": "a", "x": 1}], [{"x": 1.5, "y": "a"}], [1], [[{"x": 1}]]],
    ids=["renamed", "reordered", "retyped", "scalar", "listed"],
)
def test_appends_of_other_layouts_are_refused_leaving_the_store(
    tmp_path: Path, other: list[Any]
) -> None:
    path = tmp_path / "r.gr"
    gr.save(gr.array([{"x": 1, "y": "a"}, None]), path)
    before = _snapshot(path)
    with pytest.raises(SchemaError, match=r"the store holds record<x: int64, y: string>"):
        gr.append(gr.array(other), path)
    assert _snapshot(path) == before


def test_a_record_stores_where_a_leaf_was_refused(tmp_path: Path) -> None:
    gr.save(gr.array([1, 2]), tmp_path / "l.gr")
    with pytest.raises(SchemaError, match=r"has layout record<x: int64>; the store holds int64"):
        gr.append(gr.array([{"x": 1}]), tmp_path / "l.gr")


def test_codecs_refuse_record_columns(tmp_path: Path) -> None:
    with pytest.raises(SchemaError, match="codec 'json' cannot encode records"):
        gr.save(gr.array([{"x": 1}]), tmp_path / "c.gr", codecs={"array": "json"})


def test_field_names_that_need_quoting_round_trip(tmp_path: Path) -> None:
    data = [{"a b": 1, "x/../y": "s", "%": 5}]
    gr.save(gr.array(data), tmp_path / "q.gr")
    assert gr.load(tmp_path / "q.gr").to_list() == data


# -- hostile manifests ------------------------------------------------------------------

_READER = """
import sys, grumpy_arrow as gr
from grumpy_arrow.errors import StoreFormatError
try:
    gr.load(sys.argv[1]); gr.open(sys.argv[1]).take([0, 2])
except StoreFormatError as err:
    print("StoreFormatError:", err)
else:
    print("OK")
"""


def _damaged(tmp_path: Path, edit: Any) -> str:
    """What loading the store says after ``edit(layout, doc)`` of its record column (in a
    subprocess: a reader that crashes fails the test instead of the run)."""
    path = tmp_path / "d.gr"
    gr.save(gr.array([{"x": 1, "y": "a"}, None, {"x": 3, "y": "c"}]), path)
    doc = json.loads((path / "grumpy.json").read_text())
    edit(doc["columns"][0]["layout"], doc)
    (path / "grumpy.json").write_text(json.dumps(doc))
    done = subprocess.run(
        [sys.executable, "-c", _READER, str(path)], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def _set(key: str, value: Any) -> Any:
    return lambda layout, doc: layout.__setitem__(key, value)


def _shorten(name: str, length: int) -> Any:
    return lambda layout, doc: doc["leaves"][name].__setitem__("length", length)


def _drop_row(layout: dict[str, Any], doc: dict[str, Any]) -> None:
    doc["leaves"]["array/r.f0-values"]["length"] = 2


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda layout, doc: layout.pop("fields"), "is missing field 'columns[0].layout.fields'"),
        (
            lambda layout, doc: layout.pop("validity"),
            "is missing field 'columns[0].layout.validity'",
        ),
        (_set("extra", 1), "field 'columns[0].layout' has an unknown key 'extra'"),
        (_set("fields", []), "field 'columns[0].layout.fields' must be a list of 1 to"),
        (_set("fields", {"x": 1}), "field 'columns[0].layout.fields' must be a list"),
        (
            lambda layout, doc: layout["fields"][1].__setitem__("name", "x"),
            "field 'columns[0].layout.fields[1].name' is 'x', a name an earlier field has",
        ),
        (
            lambda layout, doc: layout["fields"][0].__setitem__("name", ""),
            "field 'columns[0].layout.fields[0].name' must be a non-empty string",
        ),
        (
            lambda layout, doc: layout["fields"][0].__setitem__("name", 7),
            "field 'columns[0].layout.fields[0].name' must be a non-empty string",
        ),
        (
            lambda layout, doc: layout["fields"][0].pop("layout"),
            "is missing field 'columns[0].layout.fields[0].layout'",
        ),
        (
            lambda layout, doc: layout["fields"][0].__setitem__("extra", 1),
            "field 'columns[0].layout.fields[0]' has an unknown key 'extra'",
        ),
        (
            lambda layout, doc: layout["fields"][0]["layout"].__setitem__("kind", "struct"),
            "field 'columns[0].layout.fields[0].layout.kind' must be 'leaf', 'list', 'union'",
        ),
        (_set("validity", "../x-validity"), "not a leaf name inside the store"),
        (
            _drop_row,
            "leaf 'array/r.f0-values', the values of 'columns[0].layout.fields[0]"
            ".layout', has length 2",
        ),
        (
            _shorten("array/r-validity", 2),
            "leaf 'array/r-validity', the validity of 'columns[0].layout', has length 2",
        ),
    ],
    ids=[
        "no-fields",
        "no-validity",
        "extra-key",
        "zero-fields",
        "fields-object",
        "duplicate",
        "empty-name",
        "name-int",
        "no-field-layout",
        "field-extra",
        "field-kind",
        "escape",
        "field-rows",
        "validity-length",
    ],
)
def test_hostile_record_manifests_name_the_field(tmp_path: Path, edit: Any, message: str) -> None:
    said = _damaged(tmp_path, edit)
    assert said.startswith("StoreFormatError:") and message in said, said


def test_deep_records_hit_the_depth_limit(tmp_path: Path) -> None:
    def deepen(layout: dict[str, Any], doc: dict[str, Any]) -> None:
        node = layout
        for _ in range(70):
            node["fields"] = [
                {
                    "name": "x",
                    "layout": {"kind": "record", "validity": "a/r-validity", "fields": []},
                }
            ]
            node = node["fields"][0]["layout"]

    said = _damaged(tmp_path, deepen)
    assert "nests layout nodes deeper than 64" in said, said


def test_a_field_of_other_rows_is_refused_when_assembling(tmp_path: Path) -> None:
    from grumpy_arrow.storage import buffers as bf
    from grumpy_arrow.storage.layouts import from_dict

    layout, buffers = bf.column_buffers(gr.array([{"x": 1, "y": 2}, None]).node, "a")
    layout = from_dict(layout.to_dict())
    buffers["a/r.f1-values"] = buffers["a/r.f1-values"][:1]
    with pytest.raises(StoreFormatError, match="2 rows in field 'x' and 1 in field 'y'"):
        bf.assemble(layout, buffers.__getitem__, buffers.__contains__)
    buffers["a/r.f1-values"] = np.array([2, 0])
    buffers["a/r-validity"] = np.array([True])
    with pytest.raises(StoreFormatError, match="a/r-validity"):
        bf.assemble(layout, buffers.__getitem__, buffers.__contains__)


def test_records_in_sharded_datasets_and_grumpy_saver(tmp_path: Path) -> None:
    from grumpy_arrow.savers import GrumpySaver

    rows = [[{"x": float(i), "el": "C"}] * (i % 3) for i in range(10)]
    df = gr.dataframe(
        {"mol_id": list(range(10)), "atom_pos": gr.array(rows)}, schema=["mol", "atom"]
    )
    gr.save(df, tmp_path / "sharded.gr", shard_rows=4)
    handle = gr.open(tmp_path / "sharded.gr")
    assert handle.take([9, 0, 5]).to_dict() == df[[9, 0, 5]].to_dict()
    gr.append(df, tmp_path / "sharded.gr")
    assert gr.load(tmp_path / "sharded.gr")["atom_pos"].to_list() == rows + rows
    saver = GrumpySaver(str(tmp_path / "saved.gr"))
    saver.save(gr.array([{"a": 1.0}]))
    saver.save(gr.array([{"a": 2.0}, None]))
    assert saver.load().to_list() == [{"a": 1.0}, {"a": 2.0}, None]
