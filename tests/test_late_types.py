"""Appends and saved results whose types appear late (issue 15): the first batch of a run
fixes a store's layout, and a later batch widens it in a committed, crash-safe step.

- scalar rows into a list column (and list rows into a scalar one, at any depth) make a
  scalar-or-list union; a union column takes plain scalars or lists as they are;
- integers meeting floats make the column float where every integer stays exact, else a
  ``SchemaError`` with the store untouched;
- lists that were all empty (and union children never used) take the first real dtype;
- the same through ``GrumpySaver`` and ``gr.run``;
- a writer killed (SIGKILL) during widening appends leaves each store old or new, whole.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import fsspec
import numpy as np
import pytest
from _locks import is_locked
from _store_probes import kill_when_ready

import grumpy_arrow as gr
from grumpy_arrow.errors import SchemaError
from grumpy_arrow.savers import GrumpySaver
from grumpy_arrow.storage.stores import load_manifest, read_manifest
from grumpy_arrow.storage.zarr import LeafStore
from grumpy_arrow.testing import assert_values_equal

MANIFEST = "grumpy.json"
LOCK = "grumpy.lock"


def snapshot(path: Path) -> dict[str, bytes]:
    """Every file of a local store and its bytes, the lock file excepted."""
    fs, root = fsspec.core.url_to_fs(str(path))
    return {p[len(root) :]: bytes(fs.cat_file(p)) for p in fs.find(root) if not p.endswith(LOCK)}


def leaves(path: Path) -> list[str]:
    return sorted(json.loads((path / MANIFEST).read_text())["leaves"])


def leaf_folders(path: Path) -> list[str]:
    """Every leaf (Zarr array) on disk, by name."""
    out = []
    for folder, _, files in os.walk(path):
        rel = os.path.relpath(folder, path)
        if "zarr.json" in files and rel.count(os.sep) == 1:
            out.append(rel.replace(os.sep, "/"))
    return sorted(out)


def check_store(path: Path, want: list[Any], typ: str) -> None:
    """The store holds exactly ``want`` (loaded, and read lazily) with type ``typ``."""
    got = gr.load(path)
    assert got.to_list() == want
    assert got.type == typ
    assert gr.validate(path) == []
    h = gr.open(path)
    picks = list(range(len(want)))[::-1]
    assert h[picks].to_list() == [want[i] for i in picks]
    assert leaf_folders(path) == [n for n in leaves(path)]  # retired leaves are deleted


# -- gr.append: scalars and lists ------------------------------------------------------------


def test_scalar_rows_make_a_list_column_a_union(tmp_path: Path) -> None:
    path = tmp_path / "s.gr"
    gr.save(gr.array([[1, 2], [], None, [3]]), path)
    before = {n: spec for n, spec in json.loads((path / MANIFEST).read_text())["leaves"].items()}
    gr.append(gr.array([4, None, 5]), path)
    check_store(path, [[1, 2], [], None, [3], 4, None, 5], "7 * union[int64, var * int64]")
    doc = json.loads((path / MANIFEST).read_text())
    layout = doc["columns"][0]["layout"]
    assert layout["kind"] == "union"
    # The committed lists are re-described, not copied: the union's list child is the old
    # list node, its leaves unchanged and only appended to.
    assert layout["list"]["offsets"] == "array/r-offsets"
    assert layout["list"]["content"]["values"] == "array/r.c-values"
    assert doc["leaves"]["array/r.c-values"]["length"] == before["array/r.c-values"]["length"]
    assert doc["leaves"]["array/r-type_ids"]["length"] == 7
    gr.append(gr.array([[6], 7]), path)  # a union now: both kinds go in as they are
    check_store(path, [[1, 2], [], None, [3], 4, None, 5, [6], 7], "9 * union[int64, var * int64]")


def test_list_rows_make_a_scalar_column_a_union(tmp_path: Path) -> None:
    path = tmp_path / "s.gr"
    gr.save(gr.array(["a", None, "b"]), path)
    gr.append(gr.array([["c", "d"], None, []]), path)
    check_store(path, ["a", None, "b", ["c", "d"], None, []], "6 * union[string, var * string]")


def test_lists_inside_lists_widen_at_their_depth(tmp_path: Path) -> None:
    path = tmp_path / "s.gr"
    gr.save(gr.array([[1, 2], [3]]), path)
    gr.append(gr.array([[[4], 5], []]), path)
    check_store(path, [[1, 2], [3], [[4], 5], []], "4 * var * union[int64, var * int64]")
    gr.append(gr.array([[6, [7, 8]]]), path)
    check_store(
        path, [[1, 2], [3], [[4], 5], [], [6, [7, 8]]], "5 * var * union[int64, var * int64]"
    )


@pytest.mark.parametrize(
    ("first", "later", "want"),
    [
        pytest.param([1, [2, 3]], [[4], [5, 6]], [1, [2, 3], [4], [5, 6]], id="plain-lists"),
        pytest.param([1, [2, 3]], [4, None], [1, [2, 3], 4, None], id="plain-scalars"),
        pytest.param([[1, [2]], [3]], [[4, 5]], [[1, [2]], [3], [4, 5]], id="inside-lists"),
    ],
)
def test_a_union_column_takes_plain_rows_as_they_are(
    first: list[Any], later: list[Any], want: list[Any], tmp_path: Path
) -> None:
    path = tmp_path / "s.gr"
    gr.save(gr.array(first), path)
    names = leaves(path)
    typ = gr.load(path).type.split(" * ", 1)[1]
    gr.append(gr.array(later), path)
    check_store(path, want, f"{len(want)} * {typ}")
    added = set(leaves(path)) - set(names)  # none converted; a validity leaf for nulls
    assert set(names) <= set(leaves(path)) and all(n.endswith("-validity") for n in added)


def test_a_fixed_axis_becomes_the_list_child_of_a_union(tmp_path: Path) -> None:
    path = tmp_path / "s.gr"
    gr.save(gr.array(np.arange(6).reshape(3, 2)), path)
    gr.append(gr.array([7, None]), path)
    check_store(path, [[0, 1], [2, 3], [4, 5], 7, None], "5 * union[int64, 2 * int64]")


def test_rows_of_nulls_join_a_list_column_as_null_lists(tmp_path: Path) -> None:
    path = tmp_path / "s.gr"
    gr.save(gr.array([[1], [2, 3]]), path)
    gr.append(gr.array([None, None], dtype=gr.float64), path)
    check_store(path, [[1], [2, 3], None, None], "4 * var * int64")


# -- gr.append: integers and floats ----------------------------------------------------------


@pytest.mark.parametrize("dtype", ["int8", "int16", "int32", "uint8", "uint16", "uint32"])
def test_small_integers_become_float64_exactly(dtype: str, tmp_path: Path) -> None:
    info = np.iinfo(dtype)
    ints = [int(info.min), 0, int(info.max)]
    path = tmp_path / "s.gr"
    gr.save(gr.array(ints, dtype=dtype), path)
    gr.append(gr.array([0.5]), path)
    check_store(path, [float(i) for i in ints] + [0.5], "4 * float64")


def test_int64_becomes_float64_when_every_value_is_exact(tmp_path: Path) -> None:
    path = tmp_path / "s.gr"
    gr.save(gr.array([[2**53, -(2**53)], [None, 7]]), path)
    gr.append(gr.array([[0.25]]), path)
    want = [[9007199254740992.0, -9007199254740992.0], [None, 7.0], [0.25]]
    check_store(path, want, "3 * var * float64")


@pytest.mark.parametrize(
    ("first", "later", "where"),
    [
        pytest.param(
            gr.array([[1, 2**53 + 1]]),
            gr.array([[0.5]]),
            "int64 value 9007199254740993 (value 1 of leaf 'array/r.c-values')",
            id="stored-int64",
        ),
        pytest.param(
            gr.array([[0.5]]),
            gr.array([[1], [-(2**53) - 1]]),
            "int64 value -9007199254740993 (value 1 of the batch's int64 values)",
            id="batch-int64",
        ),
        pytest.param(
            gr.array([2**60], dtype=gr.uint64),
            gr.array([1.5]),
            "uint64 value 1152921504606846976 (value 0 of leaf 'array/r-values')",
            id="stored-uint64",
        ),
    ],
)
def test_integers_a_float_cannot_hold_are_refused_and_nothing_is_written(
    first: gr.GrumpyArray, later: gr.GrumpyArray, where: str, tmp_path: Path
) -> None:
    path = tmp_path / "s.gr"
    gr.save(first, path)
    before = snapshot(path)
    with pytest.raises(SchemaError) as info:
        gr.append(later, path)
    message = str(info.value)
    assert message.startswith(f"{path}: column 'array' holds ")
    assert f"so the column would become float64; but {where} is not exact as a float64" in message
    assert "up to 2**53 in magnitude" in message
    assert snapshot(path) == before
    assert not is_locked(path / LOCK)
    assert gr.load(path).to_list() == first.to_list()
    gr.append(first[:1], path)  # the store still takes batches of its types
    assert gr.load(path).to_list() == first.to_list() + first[:1].to_list()


@pytest.mark.parametrize(
    ("stored", "batch", "typ", "want"),
    [
        pytest.param(
            gr.array([0.5], dtype=gr.float64),
            gr.array([3], dtype=gr.int64),
            "float64",
            [0.5, 3.0],
            id="int64-into-float64",
        ),
        pytest.param(
            gr.array([1], dtype=gr.int16),
            gr.array([0.5], dtype=gr.float32),
            "float32",
            [1.0, 0.5],
            id="int16-float32",
        ),
        pytest.param(
            gr.array([1], dtype=gr.int32),
            gr.array([0.5], dtype=gr.float32),
            "float64",
            [1.0, 0.5],
            id="int32-float32",
        ),
        pytest.param(
            gr.array([0.5], dtype=gr.float32),
            gr.array([2**20 + 1], dtype=gr.int32),
            "float64",
            [0.5, 1048577.0],
            id="float32-int32",
        ),
    ],
)
def test_integers_and_floats_meet_at_numpys_float(
    stored: gr.GrumpyArray, batch: gr.GrumpyArray, typ: str, want: list[Any], tmp_path: Path
) -> None:
    path = tmp_path / "s.gr"
    gr.save(stored, path)
    gr.append(batch, path)
    check_store(path, want, f"2 * {typ}")


def test_a_union_widens_its_scalars_and_its_lists_together(tmp_path: Path) -> None:
    path = tmp_path / "s.gr"
    gr.save(gr.array([1, [2, 3]]), path)
    gr.append(gr.array([0.5]), path)  # only scalars come, but the lists' values follow
    check_store(path, [1.0, [2.0, 3.0], 0.5], "3 * union[float64, var * float64]")
    assert gr.load(path).sum() == 6.5
    gr.append(gr.array([[7]]), path)  # int64 into the float64 column: cast
    check_store(path, [1.0, [2.0, 3.0], 0.5, [7.0]], "4 * union[float64, var * float64]")


def test_other_dtypes_do_not_meet(tmp_path: Path) -> None:
    path = tmp_path / "s.gr"
    gr.save(gr.array([[1, 2]], dtype=gr.int32), path)
    before = snapshot(path)
    for batch, got in [
        (gr.array([["a"]]), "list<string>"),
        (gr.array([[1]], dtype=gr.int64), "list<int64>"),
        (gr.array([[True]]), "list<bool_>"),
    ]:
        with pytest.raises(SchemaError) as info:
            gr.append(batch, path)
        assert str(info.value) == (
            f"{path}: column 'array' has layout {got}; the store holds list<int32> (appends "
            "widen scalars and lists to a union, integers to floats and columns without "
            "values, not this)"
        )
    assert snapshot(path) == before


# -- gr.append: types that appear late ------------------------------------------------------


def test_all_empty_lists_take_the_first_real_dtype(tmp_path: Path) -> None:
    path = tmp_path / "s.gr"
    gr.save(gr.array([[], []]), path)  # float64 by default, without a value
    gr.append(gr.array([[], None]), path)
    assert gr.load(path).type == "4 * var * float64"
    gr.append(gr.array([[1, 2]], dtype=gr.int8), path)
    check_store(path, [[], [], [], None, [1, 2]], "5 * var * int8")
    other = tmp_path / "t.gr"
    gr.save(gr.array([[], []]), other)
    gr.append(gr.array([["x"], ["y", None]]), other)
    check_store(other, [[], [], ["x"], ["y", None]], "4 * var * string")


def test_a_store_without_rows_takes_the_first_batch_layout(tmp_path: Path) -> None:
    path = tmp_path / "s.gr"
    gr.save(gr.array([], dtype=gr.float64), path)
    gr.append(gr.array([[1, 2], [3]]), path)
    check_store(path, [[1, 2], [3]], "2 * var * int64")


def test_a_union_child_never_used_takes_the_first_real_dtype(tmp_path: Path) -> None:
    path = tmp_path / "s.gr"
    gr.save(gr.array([[], [], 1]), path)  # union[int64, var * float64]: lists without values
    gr.append(gr.array([[2, 3]]), path)
    check_store(path, [[], [], 1, [2, 3]], "4 * union[int64, var * int64]")


@pytest.mark.parametrize(
    ("first", "later", "want", "typ"),
    [
        pytest.param(
            gr.array([None, None], dtype=gr.float64),
            gr.array(["x", None]),
            [None, None, "x", None],
            "4 * string",
            id="nulls-then-strings",
        ),
        pytest.param(
            gr.array([[None], None], dtype=gr.float64),
            gr.array([[True]]),
            [[None], None, [True]],
            "3 * var * bool_",
            id="null-values-then-bools",
        ),
        pytest.param(
            gr.array([None, [None]], dtype=gr.int64),
            gr.array([["a"], "b"]),
            [None, [None], ["a"], "b"],
            "4 * union[string, var * string]",
            id="null-lists-then-a-union",
        ),
    ],
)
def test_a_column_of_nulls_takes_the_first_real_dtype(
    first: gr.GrumpyArray, later: gr.GrumpyArray, want: list[Any], typ: str, tmp_path: Path
) -> None:
    path = tmp_path / "s.gr"
    gr.save(first, path)
    gr.append(later, path)
    check_store(path, want, typ)


def test_empty_and_null_batches_take_the_store_types(tmp_path: Path) -> None:
    path = tmp_path / "s.gr"
    gr.save(gr.array([["a"], "b"]), path)
    names = leaves(path)
    gr.append(gr.array([[], None]), path)  # float64, without a value
    gr.append(gr.array([None], dtype=gr.int64), path)
    check_store(path, [["a"], "b", [], None, None], "5 * union[string, var * string]")
    added = set(leaves(path)) - set(names)  # validity leaves for the nulls, nothing else
    assert set(names) <= set(leaves(path)) and all(n.endswith("-validity") for n in added)


# -- frames ----------------------------------------------------------------------------------

SCHEMA = ["molecule", "atom"]


def test_a_frame_widens_each_column_on_its_own(tmp_path: Path) -> None:
    path = tmp_path / "s.gr"
    first = gr.dataframe(
        {
            "molecule_id": [1, 2],
            "molecule_tags": [["a"], []],
            "molecule_empty": [[], []],
            "atom_x": gr.array([[1, 2], [3]]),
            "atom_bonds": gr.array([[[1], [0]], [[]]]),
        },
        schema=SCHEMA,
    )
    later = gr.dataframe(
        {
            "molecule_id": [2.5],
            "molecule_tags": ["b"],
            "molecule_empty": [[7]],
            "atom_x": gr.array([[4]]),
            "atom_bonds": gr.array([[[5, [6]]]]),
        },
        schema=SCHEMA,
    )
    gr.save(first, path)
    gr.append(later, path)
    got = gr.load(path)
    assert got.schema == first.schema
    assert got.to_dict() == {
        "molecule_id": [1.0, 2.0, 2.5],
        "molecule_tags": [["a"], [], "b"],
        "molecule_empty": [[], [], [7]],
        "atom_x": [[1, 2], [3], [4]],
        "atom_bonds": [[[1], [0]], [[]], [[5, [6]]]],
    }
    assert got.dtypes == {
        "molecule_id": "3 * float64",
        "molecule_tags": "3 * union[string, var * string]",
        "molecule_empty": "3 * var * int64",
        "atom_x": "3 * var * int64",
        "atom_bonds": "3 * var * var * union[int64, var * int64]",
    }
    assert gr.validate(path) == []
    h = gr.open(path)
    assert_values_equal(h[[2, 0]].to_dict(), {k: [v[2], v[0]] for k, v in got.to_dict().items()})


def test_a_frame_level_does_not_widen(tmp_path: Path) -> None:
    """A level's lists are shared by its columns: scalars cannot join them."""
    path = tmp_path / "s.gr"
    gr.save(gr.dataframe({"molecule_id": [1], "atom_x": gr.array([[1.5]])}, schema=SCHEMA), path)
    before = snapshot(path)
    with pytest.raises(SchemaError, match="schema"):
        gr.append(gr.dataframe({"molecule_id": [2], "atom_x": [2.5]}), path)
    assert snapshot(path) == before


# -- what widening leaves on disk -----------------------------------------------------------


def test_reading_a_widened_store_at_earlier_row_counts(tmp_path: Path) -> None:
    path = tmp_path / "s.gr"
    gr.save(gr.array([[1, 2], [3]]), path)
    gr.append(gr.array([4.5, [5]]), path)
    gr.append(gr.array([[6]]), path)
    store = LeafStore(path)
    manifest = read_manifest(store)
    want = [[1.0, 2.0], [3.0], 4.5, [5.0], [6.0]]
    for rows in range(6):
        assert load_manifest(store, manifest, None, rows=rows).to_list() == want[:rows]


def test_converted_leaves_are_deleted_after_the_commit(tmp_path: Path) -> None:
    path = tmp_path / "s.gr"
    gr.save(gr.array([[1, 2], [3]]), path)
    assert leaf_folders(path) == ["array/r-offsets", "array/r.c-values"]
    gr.append(gr.array([[0.5]]), path)
    assert leaf_folders(path) == ["array/r-offsets", "array/r.c~1-values"]
    gr.append(gr.array([7.5]), path)
    assert (
        leaf_folders(path)
        == leaves(path)
        == [
            "array/r-offsets",
            "array/r-type_ids",
            "array/r-value_offsets",
            "array/r.c~1-values",
            "array/r.s-values",
        ]
    )
    check_store(path, [[1.0, 2.0], [3.0], [0.5], 7.5], "4 * union[float64, var * float64]")


def test_generator_saves_widen_as_appends_do(tmp_path: Path) -> None:
    def batches() -> Iterator[gr.GrumpyArray]:
        yield gr.array([[], []])
        yield gr.array([[1], [2, 3]])
        yield gr.array([4, [0.5]])

    gr.save(batches(), tmp_path / "s.gr")
    want = [[], [], [1.0], [2.0, 3.0], 4.0, [0.5]]
    check_store(tmp_path / "s.gr", want, "6 * union[float64, var * float64]")


def test_sharded_datasets_keep_one_layout(tmp_path: Path) -> None:
    path = tmp_path / "d.gr"
    gr.save(gr.array([[1], [2, 3], [4]]), path, shard_rows=2)
    before = snapshot(path)
    with pytest.raises(SchemaError) as info:
        gr.append(gr.array([5]), path)
    assert str(info.value).endswith(
        "column 'array' has layout int64; the store holds list<int64> (the shards of a "
        "dataset keep one layout)"
    )
    assert snapshot(path) == before
    assert gr.load(path).to_list() == [[1], [2, 3], [4]]


# -- GrumpySaver and gr.run ------------------------------------------------------------------


def test_grumpy_saver_takes_scalars_after_lists(tmp_path: Path) -> None:
    saver = GrumpySaver(tmp_path / "s.gr")
    saver.save([[1, 2], [3]])
    saver.save([4, None])
    saver.save([[5.5], 6])
    got = saver.load()
    assert got.to_list() == [[1.0, 2.0], [3.0], 4.0, None, [5.5], 6.0]
    assert got.type == "6 * union[float64, var * float64]"


def test_grumpy_saver_widens_integers_and_empty_lists(tmp_path: Path) -> None:
    saver = GrumpySaver(tmp_path / "s.gr")
    saver.save([np.zeros(0), np.zeros(0)])  # float64 lists without a value
    saver.save([np.array([1, 2], dtype=np.int32)])
    saver.save([np.array([3.5])])
    got = saver.load()
    assert got.to_list() == [[], [], [1.0, 2.0], [3.5]]
    assert got.type == "4 * var * float64"
    scalars = GrumpySaver(tmp_path / "t.gr")
    scalars.save(np.array([1, 2]))
    scalars.save(np.array([2.5]))
    assert scalars.load().to_list() == [1.0, 2.0, 2.5]


def test_grumpy_saver_refuses_inexact_integers_and_keeps_the_store(tmp_path: Path) -> None:
    saver = GrumpySaver(tmp_path / "s.gr")
    saver.save(np.array([2**53 + 1, 1]))
    before = snapshot(tmp_path / "s.gr")
    with pytest.raises(SchemaError, match="9007199254740993"):
        saver.save(np.array([0.5]))
    assert snapshot(tmp_path / "s.gr") == before
    assert saver.load().to_list() == [2**53 + 1, 1]


def _late(i: int) -> Any:
    """Lists for the first items, then a scalar every third item, floats from item 10."""
    if i < 4 or i % 3:
        return [i] * (i % 3) if i < 10 else [i + 0.5]
    return i if i < 10 else i + 0.25


def _want(n: int) -> list[Any]:
    return [
        [float(x) for x in v] if isinstance(v, list) else float(v) for v in map(_late, range(n))
    ]


@pytest.mark.parametrize("cpu", [1, 2])
def test_run_saves_results_whose_types_appear_late(cpu: int, tmp_path: Path) -> None:
    path = tmp_path / "run.gr"
    saved = gr.run(_late, range(20), saver=GrumpySaver(path), save_interval=4, cpu=cpu)
    assert saved == 20
    got = gr.load(path)
    assert got.to_list() == _want(20)
    assert got.type == "20 * union[float64, var * float64]"
    assert gr.validate(path) == []


def test_run_widens_a_store_of_empty_results(tmp_path: Path) -> None:
    path = tmp_path / "run.gr"

    def fn(i: int) -> list[int]:
        return list(range(i - 5)) if i > 5 else []

    assert gr.run(fn, range(9), saver=GrumpySaver(path), save_interval=3) == 9
    got = gr.load(path)
    assert got.to_list() == [fn(i) for i in range(9)]
    assert got.type == "9 * var * int64"


def test_stream_save_widens_too(tmp_path: Path) -> None:
    def lists_later(batch: gr.GrumpyArray) -> gr.GrumpyArray:
        values = batch.to_list()
        return batch if values[0] < 4 else gr.array([[v, 0.5] for v in values])

    stream = gr.stream(gr.array(list(range(12))), batch_size=4).apply(lists_later)
    assert stream.save(GrumpySaver(tmp_path / "s.gr"), save_interval=1) == 3
    got = gr.load(tmp_path / "s.gr")
    assert got.to_list() == [0.0, 1.0, 2.0, 3.0] + [[v, 0.5] for v in range(4, 12)]
    assert got.type == "12 * union[float64, var * float64]"


# -- SIGKILL during widening appends --------------------------------------------------------

ROWS = 4000  # rows of each store before its widening append
STORES = 40  # widening appends of these take ~15 ms each: ~0.6 s in all


def old_frame() -> gr.DataFrame:
    """What every store holds before its widening append."""
    ids = np.arange(ROWS)
    counts = ids % 4
    offsets = np.concatenate([[0], np.cumsum(counts)])
    return gr.dataframe(
        {
            "m_id": ids * 3,
            "m_tag": gr.from_offsets(np.arange(offsets[-1]) % 97, offsets),
            "m_empty": gr.from_offsets(np.zeros(0), np.zeros(ROWS + 1, dtype=np.int64)),
            "m_name": [f"n{i}" for i in ids.tolist()],
        },
        schema=["m"],
    )


def new_batch() -> gr.DataFrame:
    """The widening append: floats, scalars among lists, the first values of m_empty."""
    n = ROWS // 2
    ids = np.arange(n)
    return gr.dataframe(
        {
            "m_id": ids + 0.5,
            "m_tag": [int(i) if i % 2 else [int(i), 1] for i in ids],
            "m_empty": gr.from_offsets(ids.astype(np.int16), np.arange(n + 1)),
            "m_name": [f"b{i}" for i in ids.tolist()],
        },
        schema=["m"],
    )


def old_values() -> dict[str, list[Any]]:
    return old_frame().to_dict()


def new_values() -> dict[str, list[Any]]:
    old, batch = old_frame().to_dict(), new_batch().to_dict()
    return {
        "m_id": [float(v) for v in old["m_id"]] + batch["m_id"],
        "m_tag": old["m_tag"] + batch["m_tag"],
        "m_empty": old["m_empty"] + batch["m_empty"],
        "m_name": old["m_name"] + batch["m_name"],
    }


OLD_TYPES = {
    "m_id": "int64",
    "m_tag": "var * int64",
    "m_empty": "var * float64",
    "m_name": "string",
}
NEW_TYPES = {
    "m_id": "float64",
    "m_tag": "union[int64, var * int64]",
    "m_empty": "var * int16",
    "m_name": "string",
}

CHILD = """
import sys
sys.path.insert(0, sys.argv[3])
import grumpy_arrow as gr
from test_late_types import new_batch

folder, count = sys.argv[1], int(sys.argv[2])
batch = new_batch()
print("ready", flush=True)
for k in range(count):
    gr.append(batch, f"{folder}/s{k:03d}.gr")
    print(k, flush=True)
"""


def state_of(path: Path, old: dict[str, list[Any]], new: dict[str, list[Any]]) -> str:
    """'old' or 'new' when the store holds one of them whole (else the test fails)."""
    got = gr.load(path)
    types = {name: t.split(" * ", 1)[1] for name, t in got.dtypes.items()}
    state = "old" if len(got) == ROWS else "new"
    assert types == (OLD_TYPES if state == "old" else NEW_TYPES)
    want = old if state == "old" else new
    assert_values_equal(got.to_dict(), want)
    rows = np.random.default_rng(len(str(path))).choice(len(got), 12, replace=False)
    assert_values_equal(
        gr.open(path)[rows].to_dict(), {c: [want[c][i] for i in rows] for c in want}
    )
    assert gr.validate(path) == []
    return state


def _kill_run(tmp_path: Path, delay: float, old: Any, new: Any) -> tuple[int, str, list[str]]:
    template = tmp_path / "template.gr"
    gr.save(old_frame(), template, compressor="none")
    for k in range(STORES):
        shutil.copytree(template, tmp_path / f"s{k:03d}.gr")
    tests_dir = str(Path(__file__).resolve().parent)
    reported = kill_when_ready(CHILD, [str(tmp_path), str(STORES), tests_dir], delay, 60)
    done = reported[-1] + 1 if reported else 0  # stores the child finished (and said so)
    assert done < STORES, "the child ran out of stores before it was killed"
    # Stores before the one being widened are new, those after it old; that one is
    # either, whole.
    states = [state_of(tmp_path / f"s{k:03d}.gr", old, new) for k in (0, done, done + 1)]
    if done == 0:
        states[0] = states[1]
    assert states[0] == "new" or done == 0
    assert states[2] == "old" or done + 1 >= STORES
    for k in range(STORES):  # cheap checks of all the others
        rows = read_manifest(LeafStore(tmp_path / f"s{k:03d}.gr")).rows
        assert rows == (ROWS + ROWS // 2 if k < done else ROWS) or k == done
    # The next writer takes the dead one's lock over and widens (or appends to) the store,
    # writing over what the dead one left unreferenced.
    path = tmp_path / f"s{done:03d}.gr"
    left = sorted(set(leaf_folders(path)) - set(leaves(path)))
    gr.append(new_batch(), path)
    assert not is_locked(path / LOCK)
    got = gr.load(path)
    assert len(got) == ROWS + ROWS // 2 * (2 if states[1] == "new" else 1)
    assert gr.validate(path) == []
    if states[1] == "old":  # widened now, over what the dead writer left
        assert leaf_folders(path) == leaves(path)
    return done, states[1], left


_rng = random.Random(20250115)
DELAYS = [_rng.uniform(0.01, 0.4) for _ in range(3)]
SLOW_DELAYS = [_rng.uniform(0.0, 0.5) for _ in range(12)]


@pytest.fixture(scope="module")
def expected() -> tuple[dict[str, list[Any]], dict[str, list[Any]]]:
    return old_values(), new_values()


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")
@pytest.mark.parametrize("delay", DELAYS, ids=[f"{d:.2f}s" for d in DELAYS])
def test_writer_killed_during_widening_appends(
    delay: float, tmp_path: Path, expected: tuple[dict[str, list[Any]], dict[str, list[Any]]]
) -> None:
    _kill_run(tmp_path, delay, *expected)


@pytest.mark.slow
@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")
@pytest.mark.parametrize("delay", SLOW_DELAYS, ids=[f"{d:.2f}s" for d in SLOW_DELAYS])
def test_writer_killed_during_widening_appends_many_times(
    delay: float, tmp_path: Path, expected: tuple[dict[str, list[Any]], dict[str, list[Any]]]
) -> None:
    _kill_run(tmp_path, delay, *expected)


# -- grumpy-arrow convert: JSON Lines whose fields change type ------------------------------


def _jsonl(path: Path, rows: list[dict[str, Any]]) -> Path:
    text = "".join(json.dumps(row) + "\n" for row in rows)
    if path.suffix == ".gz":
        import gzip

        path.write_bytes(gzip.compress(text.encode()))
    else:
        path.write_text(text)
    return path


def _convert(*args: str) -> None:
    from grumpy_arrow.cli import main

    assert main(["convert", *args]) == 0


def test_convert_builds_a_union_of_strings_and_lists(tmp_path: Path) -> None:
    rows = [
        {"id": "P1", "n": 1},
        {"id": ["P2-1", "P2-2"], "n": 2},
        {"id": None, "n": 3},
        {"id": [], "n": 4},
        {"id": "P5", "n": 5},
    ]
    src = _jsonl(tmp_path / "ids.jsonl", rows)
    _convert(str(src), str(tmp_path / "ids.gr"))
    got = gr.load(tmp_path / "ids.gr")
    assert got.to_dict() == {"id": ["P1", ["P2-1", "P2-2"], None, [], "P5"], "n": [1, 2, 3, 4, 5]}
    assert got.dtypes == {"id": "5 * union[string, var * string]", "n": "5 * int64"}


@pytest.mark.parametrize("name", ["late.jsonl", "late.jsonl.gz"])
def test_convert_widens_when_types_change_after_the_first_block(
    name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The switch comes after the first block (4 KiB) and the first batches (500 rows)
    were written to the store: the store widens as later batches come."""
    n = 3000

    def row(i: int) -> dict[str, Any]:
        return {
            "i": i,
            "tag": [f"t{i}", "x"] if i < 2000 else f"s{i}",  # lists, then strings
            "score": i if i < 2500 else i + 0.5,  # integers, then floats
            "hits": [] if i < 2800 else [i, i + 1],  # empty lists, then integers
            "note": None if i < 2900 else f"n{i}",  # nulls, then strings
        }

    src = _jsonl(tmp_path / name, [row(i) for i in range(n)])
    dst = tmp_path / "late.gr"
    _convert(str(src), str(dst), "--block-size", "4096", "--batch-rows", "500")
    assert ": 3000 rows in " in capsys.readouterr().out
    got = gr.load(dst)
    want = [row(i) for i in range(n)]
    assert got.to_dict() == {
        "i": list(range(n)),
        "tag": [r["tag"] for r in want],
        "score": [float(r["score"]) for r in want],
        "hits": [r["hits"] for r in want],
        "note": [r["note"] for r in want],
    }
    assert got.dtypes == {
        "i": "3000 * int64",
        "tag": "3000 * union[string, var * string]",
        "score": "3000 * float64",
        "hits": "3000 * var * int64",
        "note": "3000 * string",
    }
    assert gr.validate(dst) == []


def test_convert_lowers_a_json_union_into_parquet(tmp_path: Path) -> None:
    import pyarrow.parquet as pq

    src = _jsonl(tmp_path / "u.jsonl", [{"id": "P1"}, {"id": ["P2", "P3"]}, {"id": None}])
    _convert(str(src), str(tmp_path / "u.parquet"))
    table = pq.read_table(tmp_path / "u.parquet")
    assert table.column_names == ["id", "id__is_scalar"]
    assert gr.from_parquet(tmp_path / "u.parquet").to_dict() == {"id": ["P1", ["P2", "P3"], None]}


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        pytest.param(
            [{"a": 1}] * 300 + [{"a": "x"}],
            "line 301: field 'a' (\"x\") changed from int64 to string",
            id="int-then-string",
        ),
        pytest.param(
            [{"a": [1]}] * 300 + [{"a": ["x"]}],
            "line 301: field 'a' ([\"x\"]) changed from var * int64 to var * string",
            id="lists-of-another-type",
        ),
        pytest.param(
            [{"a": 1}, {"a": [1, "x"]}],
            "line 2: field 'a' ([1, \"x\"]) mixes types: cannot mix numbers with 'x'",
            id="mixed-list",
        ),
    ],
)
def test_convert_refuses_a_field_that_changes_in_another_way(
    rows: list[dict[str, Any]],
    message: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from grumpy_arrow.cli import main

    src = _jsonl(tmp_path / "bad.jsonl", rows)
    assert main(["convert", str(src), str(tmp_path / "bad.gr"), "--block-size", "2048"]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"grumpy-arrow: error: {src}: {message}")
    assert err.count("\n") == 1 and "a larger --block-size widens it" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.jsonl"]


def test_convert_to_a_file_refuses_a_type_that_changes_after_the_first_batch(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from grumpy_arrow.cli import main

    rows = [{"tag": ["t"]}] * 1000 + [{"tag": "s"}]
    src = _jsonl(tmp_path / "late.jsonl", rows)
    dst = tmp_path / "late.parquet"
    assert main(["convert", str(src), str(dst), "--block-size", "2048"]) == 1
    err = capsys.readouterr().err
    assert err.startswith(
        f"grumpy-arrow: error: {src}: field 'tag' changes from var * string to "
        "union[string, var * string] in the rows from "
    )
    assert "a parquet file holds the one schema of its first rows: convert to a store" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["late.jsonl"]
    _convert(str(src), str(dst), "--block-size", str(1 << 20))  # one block shows both
    assert gr.from_parquet(dst).to_dict() == {"tag": [["t"]] * 1000 + ["s"]}
