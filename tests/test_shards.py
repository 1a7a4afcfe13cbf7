"""Sharded datasets (docs/storage.md, sharded datasets): shard stores plus a top-level manifest, read as one.

Covered here, with exact expected values:

- ``gr.save(..., shard_rows=N)`` of arrays and frames (schema, union, string and null
  columns): the shard directories, the top-level manifest, ``gr.load`` and every ``gr.open``
  selection against the in-memory equivalent;
- ``gr.stream`` over shards yields the batches it yields over one store; ``gr.append`` and
  ``gr.save(mode="a")`` fill the last shard, then add shards;
- discovery without a top-level manifest, snapshot semantics, ``Handle(rows=...)``;
- ``ShardedWriter`` modes and arguments, several writer processes, a killed writer;
- errors: mismatched shards, overlapping writers, missing and truncated shards;
- ``gr.validate``, ``store_info`` and the CLI on sharded datasets.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import pickle
import shutil
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import fsspec
import numpy as np
import pytest
from _locks import is_locked

import grumpy_arrow as gr
from grumpy_arrow.cli import main as cli_main
from grumpy_arrow.errors import (
    ColumnNotFoundError,
    DTypeError,
    OutOfBoundsError,
    SchemaError,
    StoreError,
    StoreFormatError,
)
from grumpy_arrow.storage import store_info
from grumpy_arrow.storage.handle import Handle
from grumpy_arrow.storage.shards import ShardedHandle
from grumpy_arrow.storage.stores import load_manifest, read_manifest
from grumpy_arrow.storage.zarr import LeafStore
from grumpy_arrow.testing import assert_values_equal

SCHEMA = ["molecule", "atom"]
COLUMNS = ["molecule_id", "molecule_name", "molecule_tag", "atom_x"]

# -- data ---------------------------------------------------------------------------------


def make_frame(ids: Any) -> gr.DataFrame:
    """Rows whose values encode their id: strings with nulls, a scalar-or-list union, atoms.

    Every batch of ids holding a multiple of 3 has list rows in ``molecule_tag``, so it is a
    union column (a batch of scalar rows only would be a plain int64 column).
    """
    ids = [int(i) for i in ids]
    if not ids:
        return make_frame([0, 1])[0:0]
    return gr.dataframe(
        {
            "molecule_id": gr.array(ids, dtype=gr.int64),
            "molecule_name": gr.array([f"m{i}" if i % 5 else None for i in ids], dtype=gr.string),
            "molecule_tag": gr.array([i if i % 3 else [i, i + 1] for i in ids]),
            "atom_x": gr.array([[i + j / 10 for j in range(i % 4)] for i in ids], gr.float64),
        },
        schema=SCHEMA,
    )


def make_array(n: int) -> gr.GrumpyArray:
    """A union array at the root with null scalars and empty lists."""
    return gr.array([None if i % 7 == 3 else i if i % 2 else [i] * (i % 4) for i in range(n)])


def assert_same(got: Any, want: Any) -> None:
    """Same kind, columns, schema, dtypes, union-ness and values."""
    if isinstance(want, gr.DataFrame):
        assert isinstance(got, gr.DataFrame), type(got)
        assert got.columns == want.columns
        assert got.schema == want.schema
        assert len(got) == len(want)
        for name in want.columns:
            assert_same(got[name], want[name])
        return
    assert isinstance(got, gr.GrumpyArray), type(got)
    assert got.dtype == want.dtype
    assert got.is_union == want.is_union
    assert len(got) == len(want)
    assert_values_equal(got.to_list(), want.to_list())


def shard_dirs(path: Path) -> list[str]:
    return sorted(p.name for p in path.iterdir() if p.name.startswith("shard-"))


def top_manifest(path: Path) -> dict[str, Any]:
    return json.loads((path / "grumpy.json").read_text())


def shard_rows_on_disk(path: Path) -> dict[str, int]:
    return {
        name: json.loads((path / name / "grumpy.json").read_text())["rows"]
        for name in shard_dirs(path)
    }


@pytest.fixture(scope="module")
def frame23() -> gr.DataFrame:
    return make_frame(range(23))


@pytest.fixture(scope="module")
def sharded23(frame23: gr.DataFrame, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``frame23`` saved in shards of 5 rows (read-only for the tests that use it)."""
    path = tmp_path_factory.mktemp("shards") / "frame.gr"
    gr.save(frame23, path, shard_rows=5)
    return path


@pytest.fixture
def memory_base() -> Iterator[str]:
    base = f"grumpy-shard-tests-{uuid.uuid4().hex}"
    yield f"memory://{base}"
    fs = fsspec.filesystem("memory")
    if fs.exists(f"/{base}"):
        fs.rm(f"/{base}", recursive=True)


# -- save, load, the layout on disk ------------------------------------------------------


def test_save_with_shard_rows_writes_shards_and_the_top_level_manifest(tmp_path: Path) -> None:
    path = tmp_path / "a.gr"
    gr.save(make_array(10), path, shard_rows=4)
    assert shard_dirs(path) == ["shard-000000", "shard-000001", "shard-000002"]
    assert top_manifest(path) == {
        "format": "grumpy_arrow",
        "version": 2,
        "kind": "sharded",
        "rows": 10,
        "shard_rows": 4,
        "shards": [
            {"name": "shard-000000", "rows": 4},
            {"name": "shard-000001", "rows": 4},
            {"name": "shard-000002", "rows": 2},
        ],
        "creator": f"grumpy_arrow {gr.__version__}",
    }
    assert shard_rows_on_disk(path) == {"shard-000000": 4, "shard-000001": 4, "shard-000002": 2}
    shard = json.loads((path / "shard-000001" / "grumpy.json").read_text())
    assert shard["kind"] == "array" and shard["attrs"] == {"shard_rows": 4}
    # The lock file stays (an flock, released: never deleted, so never raced for).
    assert sorted(os.listdir(path)) == ["grumpy.json", "grumpy.lock", *shard_dirs(path)]
    assert not is_locked(path / "grumpy.lock")


@pytest.mark.parametrize("shard_rows", [1, 5, 22, 23, 100], ids=lambda n: f"shard_rows={n}")
def test_load_of_a_sharded_frame_equals_the_original(
    shard_rows: int, frame23: gr.DataFrame, tmp_path: Path
) -> None:
    path = tmp_path / "f.gr"
    gr.save(frame23, path, shard_rows=shard_rows)
    assert len(shard_dirs(path)) == -(-23 // shard_rows)
    assert sum(shard_rows_on_disk(path).values()) == 23
    got = gr.load(path)
    assert_same(got, frame23)
    assert got["molecule_tag"].is_union
    assert_same(
        gr.load(path, columns=["atom_x", "molecule_id"]), frame23[["atom_x", "molecule_id"]]
    )


def test_load_of_a_sharded_array_equals_the_original(tmp_path: Path) -> None:
    x = make_array(31)
    gr.save(x, tmp_path / "a.gr", shard_rows=8, chunk_size=4, compressor="zstd")
    assert_same(gr.load(tmp_path / "a.gr"), x)
    with pytest.raises(SchemaError, match="columns= applies to frames"):
        gr.load(tmp_path / "a.gr", columns=["x"])


def test_save_of_a_generator_and_of_tables_in_shards(tmp_path: Path) -> None:
    pieces = [make_frame(range(k, k + 3)) for k in range(0, 15, 3)]
    gr.save(iter(pieces), tmp_path / "g.gr", shard_rows=4)
    assert shard_rows_on_disk(tmp_path / "g.gr") == {
        "shard-000000": 4,
        "shard-000001": 4,
        "shard-000002": 4,
        "shard-000003": 3,
    }
    assert_same(gr.load(tmp_path / "g.gr"), make_frame(range(15)))
    table = make_frame(range(6)).to_arrow()
    gr.save(table, tmp_path / "t.gr", shard_rows=4)
    assert_same(gr.load(tmp_path / "t.gr"), make_frame(range(6)))


def test_save_of_an_empty_array_in_shards_keeps_its_type(tmp_path: Path) -> None:
    gr.save(gr.array([[1.5]])[0:0], tmp_path / "e.gr", shard_rows=4)
    assert top_manifest(tmp_path / "e.gr")["shards"] == [{"name": "shard-000000", "rows": 0}]
    h = gr.open(tmp_path / "e.gr")
    assert len(h) == 0
    assert_same(h.load(), gr.array([[1.5]])[0:0])
    assert_same(h[0:0], gr.array([[1.5]])[0:0])
    with pytest.raises(ValueError, match="empty iterator"):
        gr.save(iter([]), tmp_path / "none.gr", shard_rows=4)


def test_save_modes_on_sharded_datasets(tmp_path: Path) -> None:
    path = tmp_path / "m.gr"
    gr.save(make_frame(range(7)), path, shard_rows=3)
    with pytest.raises(StoreError, match="exists already"):
        gr.save(make_frame(range(2)), path, shard_rows=3, mode="w-")
    gr.save(make_frame(range(7, 10)), path, shard_rows=3, mode="a")  # fills shard 2, then 3
    assert shard_rows_on_disk(path) == {
        "shard-000000": 3,
        "shard-000001": 3,
        "shard-000002": 3,
        "shard-000003": 1,
    }
    assert_same(gr.load(path), make_frame(range(10)))
    gr.save(make_frame(range(3)), path, shard_rows=2)  # "w" replaces everything
    assert shard_dirs(path) == ["shard-000000", "shard-000001"]
    assert_same(gr.load(path), make_frame(range(3)))
    gr.save(make_frame(range(4)), path)  # a plain store replaces the shards
    assert shard_dirs(path) == []
    assert_same(gr.load(path), make_frame(range(4)))
    gr.save(make_frame(range(5)), path, shard_rows=2)  # and shards replace a plain store
    assert not (path / "array").exists() and len(shard_dirs(path)) == 3
    assert_same(gr.load(path), make_frame(range(5)))


def test_sharded_dataset_in_memory_filesystem(memory_base: str) -> None:
    url = f"{memory_base}/ds"
    gr.save(make_frame(range(11)), url, shard_rows=4)
    fs = fsspec.filesystem("memory")
    names = sorted(p.rsplit("/", 1)[-1] for p in fs.ls(url.removeprefix("memory:/"), detail=False))
    assert names == ["grumpy.json", "shard-000000", "shard-000001", "shard-000002"]
    h = gr.open(url)
    assert_same(h[[10, 0, 4, 4]], make_frame([10, 0, 4, 4]))
    gr.append(make_frame(range(11, 13)), url)
    assert_same(gr.load(url), make_frame(range(13)))
    assert [s.rows for s in gr.open(url).shards] == [4, 4, 4, 1]
    assert gr.validate(url) == []


# -- lazy reads ---------------------------------------------------------------------------


def test_open_reports_metadata_of_the_whole_dataset(sharded23: Path, frame23: gr.DataFrame) -> None:
    h = gr.open(sharded23)
    assert isinstance(h, ShardedHandle)
    assert len(h) == 23 and h.kind == "dataframe"
    assert h.columns == COLUMNS and h.schema == frame23.schema
    assert h.manifest.rows == 23 and [c.name for c in h.manifest.columns] == COLUMNS
    assert [(s.name, s.rows) for s in h.shards] == [
        ("shard-000000", 5),
        ("shard-000001", 5),
        ("shard-000002", 5),
        ("shard-000003", 5),
        ("shard-000004", 3),
    ]
    assert h.shape(0) == 23 and h.shape("molecule") == 23
    assert h.shape("atom").to_list() == frame23.shape("atom").to_list()
    assert repr(h) == (
        f"<grumpy sharded dataset {str(sharded23)!r}: dataframe, 23 rows in 5 shards, "
        f"columns {COLUMNS}>"
    )


def test_take_in_any_order_across_shard_boundaries(sharded23: Path, frame23: gr.DataFrame) -> None:
    h = gr.open(sharded23, cache="none")
    rng = np.random.default_rng(7)
    for _ in range(5):
        idx = rng.integers(0, 23, 40)  # repeats, every shard, any order
        assert_same(h.take(idx), frame23[idx])
    boundary = np.array([4, 5, 5, 4, 9, 10, 22, 0, 19, 20])
    assert_same(h.take(boundary), frame23[boundary])
    assert_same(h.take([-1, -23]), frame23[np.array([22, 0])])
    assert_same(h.take(boundary, columns=["atom_x"]), frame23[["atom_x"]][boundary])
    assert_same(h.take(np.array([6, 7, 8])), frame23[6:9])  # one shard, in order
    assert_same(h.take([]), frame23[0:0])


def test_getitem_matches_the_in_memory_frame(sharded23: Path, frame23: gr.DataFrame) -> None:
    h = gr.open(sharded23)
    assert_same(h[3:17], frame23[3:17])
    assert_same(h[::4], frame23[::4])
    assert_same(h[20:2:-3], frame23[20:2:-3])
    assert_same(h[12], frame23[12])
    assert_same(h[-1], frame23[22])
    mask = np.arange(23) % 3 == 1
    assert_same(h[mask], frame23[mask])
    assert_same(h[[22, 1, 1]], frame23[[22, 1, 1]])
    view = h[["atom_x", "molecule_id"]]
    assert isinstance(view, ShardedHandle) and view.columns == ["atom_x", "molecule_id"]
    assert_same(view[4:12], frame23[["atom_x", "molecule_id"]][4:12])
    assert_same(view.load(), frame23[["atom_x", "molecule_id"]])
    assert_same(h["molecule_tag"][[9, 10]], frame23[["molecule_tag"]][[9, 10]])
    with pytest.raises(OutOfBoundsError, match="row 23 is out of bounds"):
        h[23]
    with pytest.raises(ColumnNotFoundError, match="no column 'nope'"):
        h["nope"]


def test_read_ranges_inside_a_row_of_any_shard(sharded23: Path, frame23: gr.DataFrame) -> None:
    h = gr.open(sharded23)
    row = h.read(19, ranges={"atom_x": slice(1, 3)})
    assert row["atom_x"].to_list() == [[19.1, 19.2]]
    assert row["molecule_id"].to_list() == [19]
    assert h.read(7, columns=["molecule_name"]).to_dict() == {"molecule_name": ["m7"]}
    assert_same(h.read(-2), frame23[21:22])


def test_array_dataset_selections(tmp_path: Path) -> None:
    x = make_array(30)
    gr.save(x, tmp_path / "a.gr", shard_rows=7)
    h = gr.open(tmp_path / "a.gr")
    idx = np.array([29, 0, 6, 7, 7, 13, 14, 28, 3])
    assert_same(h.take(idx), x[idx])
    assert h[3] is None and x[3] is None  # a null scalar row
    assert h[8].to_list() == x[8].to_list() == [] and h[9] == x[9] == 9
    assert h.shape(1).to_list() == x.shape(1).to_list()
    with pytest.raises(DTypeError, match="column views apply to frames"):
        h["array"]


def test_stats_sum_over_shards_and_the_cache_serves_repeats(sharded23: Path) -> None:
    cold = gr.open(sharded23, cache="none")
    assert cold.stats() == {"bytes_read": 0, "chunks_read": 0, "calls": 0, "cache_hits": 0}
    cold.take([1, 8, 21])
    first = cold.stats()
    assert first["bytes_read"] > 0 and first["calls"] > 0 and first["cache_hits"] == 0
    assert cold.stats() == {  # the shards' counters, summed
        key: sum(cold._shard(k).stats()[key] for k in (0, 1, 4)) for key in first
    }
    cold.take([1, 8, 21])
    assert cold.stats()["bytes_read"] == 2 * first["bytes_read"]
    h = gr.open(sharded23)  # small shards: after a few selections they stay in memory
    for _ in range(3):
        h.take([1, 8, 21])
    warm = h.stats()
    assert_same(h.take([1, 8, 21]), make_frame([1, 8, 21]))
    assert h.stats()["bytes_read"] == warm["bytes_read"]
    assert h.stats()["cache_hits"] > warm["cache_hits"]


def test_handle_pickles_with_its_snapshot(sharded23: Path, frame23: gr.DataFrame) -> None:
    h = gr.open(sharded23)["molecule_id"]
    back = pickle.loads(pickle.dumps(h))
    assert isinstance(back, ShardedHandle) and back.columns == ["molecule_id"]
    assert back.shards == h.shards
    assert_same(back[[22, 0]], frame23[["molecule_id"]][[22, 0]])


def read_in_child(h: Any, rows: list[int]) -> dict[str, Any]:
    """Runs in a spawned process: the unpickled handle reopens its shards there."""
    return {"len": len(h), "rows": h.take(rows).to_dict()}


def test_stream_over_shards_yields_the_batches_of_one_store(
    sharded23: Path, frame23: gr.DataFrame, tmp_path: Path
) -> None:
    gr.save(frame23, tmp_path / "plain.gr")
    options: list[dict[str, Any]] = [
        {"batch_size": 4},
        {"batch_size": 6, "shuffle": True, "seed": 3},
        {"batch_size": 5, "shuffle": "atom", "seed": 11},
        {"batch_size": 7, "batch_on": "atom", "shuffle": "molecule", "seed": 5},
        {"batch_size": 4, "world_size": 2, "rank": 1, "workers": 2},
    ]
    for kwargs in options:
        sharded = list(gr.stream(sharded23, **kwargs))
        plain = list(gr.stream(tmp_path / "plain.gr", **kwargs))
        assert len(sharded) == len(plain) > 0, kwargs
        for a, b in zip(sharded, plain, strict=True):
            assert_same(a, b)
            assert a.to_arrow().equals(b.to_arrow()), kwargs
    handle_stream = gr.stream(gr.open(sharded23), batch_size=10, columns=["atom_x"])
    assert [len(b) for b in handle_stream] == [10, 10, 3]
    assert_same(gr.stream(sharded23, batch_size=50, in_memory=True).batch(0), frame23)


@pytest.mark.torch
def test_torch_dataset_over_shards(sharded23: Path, frame23: gr.DataFrame) -> None:
    pytest.importorskip("torch")
    ds = gr.torch.Dataset(sharded23, columns=["molecule_id"])
    assert len(ds) == 23
    assert ds[17].to_dict() == {"molecule_id": [17]}
    assert ds.__getitems__([22, 3, 9]).to_dict() == {"molecule_id": [22, 3, 9]}
    ds = gr.torch.Dataset(gr.open(sharded23))
    assert_same(ds.__getitems__([4, 5]), frame23[4:6])


# -- append, discovery, snapshots ---------------------------------------------------------


def test_append_fills_the_last_shard_then_adds_shards(tmp_path: Path) -> None:
    path = tmp_path / "ap.gr"
    gr.save(make_frame(range(5)), path, shard_rows=3)
    gr.append(make_frame([5]), path)
    assert shard_rows_on_disk(path) == {"shard-000000": 3, "shard-000001": 3}
    gr.append(make_frame(range(6, 14)), path)
    assert shard_rows_on_disk(path) == {
        "shard-000000": 3,
        "shard-000001": 3,
        "shard-000002": 3,
        "shard-000003": 3,
        "shard-000004": 2,
    }
    assert top_manifest(path)["rows"] == 14
    assert_same(gr.load(path), make_frame(range(14)))
    # A batch of scalar rows only joins the union column, in a new shard too.
    gr.append(make_frame([14, 16]), path)
    gr.append(make_frame([17, 19, 20, 22]), path)
    got = gr.load(path)
    assert got["molecule_tag"].is_union
    assert_values_equal(got.to_dict(), make_frame([*range(15), 16, 17, 19, 20, 22]).to_dict())


def test_append_refuses_a_batch_that_does_not_fit(tmp_path: Path) -> None:
    path = tmp_path / "ap.gr"
    gr.save(make_frame(range(6)), path, shard_rows=3)  # the last shard is full
    before = {p: p.read_bytes() for p in path.rglob("*") if p.is_file()}
    with pytest.raises(SchemaError, match="the batch has columns"):
        gr.append(gr.dataframe({"molecule_id": [1]}, schema=SCHEMA), path)
    assert {p: p.read_bytes() for p in path.rglob("*") if p.is_file()} == before


def test_reader_discovers_committed_shards_without_consolidate(tmp_path: Path) -> None:
    path = tmp_path / "d.gr"
    for k in range(3):
        with gr.ShardedWriter(path, shard_start=k, shard_step=3, shard_rows=4) as w:
            w.write(make_frame(range(100 * k, 100 * k + 6)))
    (path / "shard-000009").mkdir()  # a writer that died before its first commit
    (path / "shard-000009" / "zarr.json").write_text("{}")
    assert not (path / "grumpy.json").exists()
    order = [
        *range(0, 4),
        *range(100, 104),
        *range(200, 204),
        *range(4, 6),
        *range(104, 106),
        *range(204, 206),
    ]
    h = gr.open(path)
    assert [s.rows for s in h.shards] == [4, 4, 4, 2, 2, 2]
    assert not h.sharded_manifest.consolidated
    assert_same(gr.load(path), make_frame(order))
    assert_same(h[[13, 0, 6]], make_frame([order[13], order[0], order[6]]))
    info = gr.consolidate(path)
    assert info.rows == 18 and info.shard_rows == 4
    assert [s.name for s in info.shards] == [f"shard-00000{k}" for k in range(6)]
    assert top_manifest(path)["rows"] == 18
    assert_same(gr.load(path), make_frame(order))


def test_readers_keep_the_consolidated_snapshot(tmp_path: Path) -> None:
    path = tmp_path / "s.gr"
    gr.save(make_frame(range(5)), path, shard_rows=3)  # shards of 3 and 2 rows
    h = gr.open(path)
    with gr.ShardedWriter(path, 0, 1, 3, mode="a") as w:  # fills shard 1, adds shard 2
        w.write(make_frame(range(5, 9)))
    assert shard_rows_on_disk(path) == {"shard-000000": 3, "shard-000001": 3, "shard-000002": 3}
    for reader in (h, gr.open(path)):
        assert len(reader) == 5 and [s.rows for s in reader.shards] == [3, 2]
        assert_same(reader.load(), make_frame(range(5)))
        for _ in range(4):  # planned reads, then cached leaves, then the resident store
            assert_same(reader[[4, 3, 0]], make_frame([4, 3, 0]))
        assert reader.shape("atom").to_list() == make_frame(range(5)).shape("atom").to_list()
    assert_same(gr.load(path), make_frame(range(5)))
    gr.consolidate(path)
    assert_same(gr.load(path), make_frame(range(9)))
    assert len(gr.open(path)) == 9


def test_handle_reads_a_store_at_an_earlier_row_count(tmp_path: Path) -> None:
    path = tmp_path / "plain.gr"
    gr.save(make_frame(range(4)), path)
    for k in range(4, 20, 4):
        gr.append(make_frame(range(k, k + 4)), path)
    whole = make_frame(range(20))
    for rows in (0, 1, 3, 4, 9, 19, 20):
        h = Handle(path, rows=rows)
        assert len(h) == rows
        assert_same(h.load(), whole[0:rows])
        assert h.shape("atom").to_list() == whole[0:rows].shape("atom").to_list()
        if rows:
            assert_same(h[[rows - 1, 0]], whole[[rows - 1, 0]])
        assert pickle.loads(pickle.dumps(h)).manifest == h.manifest
    with pytest.raises(StoreFormatError, match="commits 20 rows; 21 were expected"):
        Handle(path, rows=21)


EARLIER = {
    "union": make_array(12),
    "union_in_lists": gr.array([[1, [2, 3]], [], [[4], 5, None], None, [[6, 7], 8], [9]]),
    "strings": gr.array(["a", None, "bcd", "", "ef", None, "g"], dtype=gr.string),
    "late_nulls": gr.array([[1.5], [2.5, 3.5], [], None, [4.5, None], [6.5]]),
    "nested": gr.array([[[1], [2, 3]], [], [[4, 5, 6]], [[], [7]], [[8]]]),
}


@pytest.mark.parametrize("name", list(EARLIER))
def test_handle_rows_cut_every_layout_at_an_earlier_commit(name: str, tmp_path: Path) -> None:
    x = EARLIER[name]
    path = tmp_path / "x.gr"
    gr.save(x[0:2], path, chunk_size=3)
    for a in range(2, len(x), 2):  # one commit per two rows; nulls arrive late
        gr.append(x[a : a + 2], path)
    for rows in range(len(x) + 1):
        h = Handle(path, rows=rows)
        assert_same(h.load(), x[0:rows])
        assert_same(h[0:rows], x[0:rows])
        store = LeafStore(str(path), read_only=True)
        assert_same(load_manifest(store, read_manifest(store), None, rows=rows), x[0:rows])


# -- ShardedWriter ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"shard_start": -1}, "shard_start must be an int >= 0, got -1"),
        ({"shard_start": 1.5}, "shard_start must be an int >= 0, got 1.5"),
        ({"shard_step": 0}, "shard_step must be an int >= 1, got 0"),
        ({"shard_step": True}, "shard_step must be an int >= 1, got True"),
        ({"shard_rows": 0}, "shard_rows must be an int >= 1, got 0"),
        ({"mode": "x"}, "mode must be one of w, w-, a, got 'x'"),
        (
            {"compressor": "lzma"},
            "compressor must be one of default, auto, none, zstd, blosc, got 'lzma'",
        ),
        ({"chunk_size": 0}, "chunk_size must be an int >= 1, got 0"),
        ({"shard_size": 0}, "shard_size must be an int >= 1, got 0"),
        ({"shard_size": True}, "shard_size must be an int >= 1, got True"),
    ],
    ids=[
        "start<0",
        "start-float",
        "step=0",
        "step-bool",
        "rows=0",
        "mode",
        "compr",
        "chunk",
        "shard",
        "shard-bool",
    ],
)
def test_writer_rejects_bad_arguments(kwargs: dict[str, Any], message: str, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=message.replace("(", r"\(")):
        gr.ShardedWriter(tmp_path / "w.gr", **kwargs)
    with pytest.raises(ValueError, match="shard_rows must be an int >= 1, got 0"):
        gr.save(make_array(3), tmp_path / "s.gr", shard_rows=0)
    assert not (tmp_path / "w.gr").exists()


def test_writer_splits_batches_and_reports_rows_and_shards(tmp_path: Path) -> None:
    path = tmp_path / "w.gr"
    w = gr.ShardedWriter(path, shard_start=2, shard_step=5, shard_rows=4)
    w.write(make_frame(range(3)))
    assert is_locked(path / "shard-000002" / "grumpy.lock")  # held while it fills the shard
    w.write(make_frame(range(3, 13)))  # 1 + 4 + 4 + 1 rows
    w.write(make_frame(range(13, 13)))  # nothing
    assert (w.rows, w.shards) == (
        13,
        ("shard-000002", "shard-000007", "shard-000012", "shard-000017"),
    )
    assert repr(w) == (
        f"<ShardedWriter {str(path)!r}: shards 2, 7, ... of 4 rows; 13 rows written to 4 shards>"
    )
    w.close()
    assert not any(is_locked(lock) for lock in path.rglob("grumpy.lock"))
    with pytest.raises(StoreError, match="closed"):
        w.write(make_frame([1]))
    assert shard_rows_on_disk(path) == {
        "shard-000002": 4,
        "shard-000007": 4,
        "shard-000012": 4,
        "shard-000017": 1,
    }
    assert_same(gr.load(path), make_frame(range(13)))


def test_writer_modes_touch_only_their_own_shards(tmp_path: Path) -> None:
    path = tmp_path / "w.gr"
    for k in range(2):
        with gr.ShardedWriter(path, k, 2, 2) as w:
            w.write(make_frame(range(10 * k, 10 * k + 3)))  # shards k and k + 2
    gr.consolidate(path)
    with pytest.raises(StoreError, match="shard 'shard-000001' of this writer exists already"):
        gr.ShardedWriter(path, 1, 2, 2, mode="w-")
    with gr.ShardedWriter(path, 1, 2, 2, mode="a") as w:  # fills shard 3, then shard 5
        w.write(make_frame(range(13, 16)))
    assert shard_rows_on_disk(path) == {
        "shard-000000": 2,
        "shard-000001": 2,
        "shard-000002": 1,
        "shard-000003": 2,
        "shard-000005": 2,
    }
    assert (path / "grumpy.json").exists()  # "a" leaves the snapshot alone
    with gr.ShardedWriter(path, 1, 2, 2, mode="w") as w:  # drops shards 1, 3, 5 only
        w.write(make_frame([30, 31, 32]))
    assert not (path / "grumpy.json").exists()  # it listed dropped shards: discovery now
    assert shard_rows_on_disk(path) == {
        "shard-000000": 2,
        "shard-000001": 2,
        "shard-000002": 1,
        "shard-000003": 1,
    }
    assert_same(gr.load(path), make_frame([0, 1, 30, 31, 2, 32]))


def test_writer_refuses_a_single_store(tmp_path: Path) -> None:
    gr.save(make_array(3), tmp_path / "plain.gr")
    with pytest.raises(StoreFormatError, match="holds a single store, not a sharded dataset"):
        gr.ShardedWriter(tmp_path / "plain.gr")
    with pytest.raises(StoreFormatError, match="holds a single store, not a sharded dataset"):
        gr.consolidate(tmp_path / "plain.gr")


def test_overlapping_writers_get_the_shard_lock_error(tmp_path: Path) -> None:
    path = tmp_path / "o.gr"
    a = gr.ShardedWriter(path, 0, 2, 3)
    a.write(make_frame(range(2)))
    b = gr.ShardedWriter(path, 0, 1, 10, mode="a")  # its sequence runs into shard 0
    with pytest.raises(StoreError, match="another writer holds the lock"):
        b.write(make_frame([7]))
    b.close()
    c = gr.ShardedWriter(path, 2, 2, 3)  # starts where writer a goes next
    c.write(make_frame([9, 10]))
    c.close()
    with pytest.raises(StoreError, match="shard sequences must not overlap"):
        a.write(make_frame(range(2, 6)))  # fills shard 0, then finds c's rows in shard 2
    a.close()
    assert_same(gr.load(path), make_frame([0, 1, 2, 9, 10]))


def write_ids(path: str, k: int, step: int, ids: list[int]) -> list[str]:
    """Runs in a spawned process: writer ``k`` writes its ids in batches of 7."""
    with gr.ShardedWriter(path, shard_start=k, shard_step=step, shard_rows=10) as w:
        for a in range(0, len(ids), 7):
            w.write(make_frame(ids[a : a + 7]))
    return list(w.shards)


def test_four_writer_processes_write_every_row_once(tmp_path: Path) -> None:
    path = str(tmp_path / "mp.gr")
    jobs = {k: list(range(1000 * k, 1000 * k + 25 + 6 * k)) for k in range(4)}
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(4) as pool:
        results = [pool.apply_async(write_ids, (path, k, 4, ids)) for k, ids in jobs.items()]
        shards = {k: r.get(timeout=120) for k, r in enumerate(results)}
    assert shards[0] == ["shard-000000", "shard-000004", "shard-000008"]
    assert shards[3] == [
        "shard-000003",
        "shard-000007",
        "shard-000011",
        "shard-000015",
        "shard-000019",
    ]
    info = gr.consolidate(path)
    assert info.rows == sum(len(ids) for ids in jobs.values()) == 136
    got = gr.load(path)["molecule_id"].to_list()
    assert sorted(got) == sorted(i for ids in jobs.values() for i in ids)  # each exactly once
    # Global order: shard number, then row order inside the shard.
    want = [i for n in range(20) for i in jobs[n % 4][10 * (n // 4) : 10 * (n // 4) + 10]]
    assert got == want
    assert_same(gr.load(path), make_frame(want))
    assert gr.validate(path) == []
    rows = [0, 135, 57, 57, 10]
    with ctx.Pool(1) as pool:
        child = pool.apply(read_in_child, (gr.open(path), rows))
    assert child["len"] == 136
    assert_values_equal(child["rows"], make_frame([want[i] for i in rows]).to_dict())


KILLED = """
import sys
sys.path.insert(0, sys.argv[2])
import grumpy_arrow as gr
from test_shards import make_frame

with gr.ShardedWriter(sys.argv[1], shard_start=1, shard_step=3, shard_rows=10) as w:
    for k in range(100000):
        w.write(make_frame(range(1000 + 3 * k, 1000 + 3 * k + 3)))
        print(w.rows, flush=True)
"""


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")
def test_killed_writer_leaves_every_committed_row_readable(tmp_path: Path) -> None:
    path = tmp_path / "k.gr"
    tests_dir = str(Path(__file__).resolve().parent)
    proc = subprocess.Popen(
        [sys.executable, "-c", KILLED, str(path), tests_dir],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        reported = 0
        for line in proc.stdout:  # kill it once it has committed two shards and a bit
            reported = int(line)
            if reported >= 24:
                break
        os.kill(proc.pid, signal.SIGKILL)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == -signal.SIGKILL, err
    reported = max([reported, *(int(x) for x in out.split())])
    for k in (0, 2):  # the other writers
        with gr.ShardedWriter(path, shard_start=k, shard_step=3, shard_rows=10) as w:
            w.write(make_frame(range(10000 * (k + 1), 10000 * (k + 1) + 12)))
    info = gr.consolidate(path)
    ids = gr.load(path)["molecule_id"].to_list()
    assert len(ids) == len(set(ids)) == info.rows
    killed = sorted(i for i in ids if i < 10000)
    assert killed == list(range(1000, 1000 + len(killed)))  # a prefix, nothing lost
    assert reported <= len(killed) <= reported + 3  # every reported commit, maybe one more
    assert sorted(i for i in ids if i >= 10000) == [*range(10000, 10012), *range(30000, 30012)]
    assert gr.validate(path) == []
    # The killed writer's sequence resumes: its stale lock is taken over.
    with gr.ShardedWriter(path, shard_start=1, shard_step=3, shard_rows=10, mode="a") as w:
        w.write(make_frame(range(1000 + len(killed), 1000 + len(killed) + 13)))
    gr.consolidate(path)
    ids = gr.load(path)["molecule_id"].to_list()
    assert sorted(i for i in ids if i < 10000) == list(range(1000, 1000 + len(killed) + 13))
    assert not any(is_locked(lock) for lock in path.rglob("grumpy.lock"))


# -- errors, validation, the CLI ----------------------------------------------------------


def test_mismatched_shards_name_both(tmp_path: Path) -> None:
    path = tmp_path / "mm.gr"
    with gr.ShardedWriter(path, 0, 2, 5) as w:
        w.write(make_frame(range(3)))
    with gr.ShardedWriter(path, 1, 2, 5) as w:
        w.write(gr.dataframe({"molecule_id": [1, 2]}, schema=SCHEMA))
    message = (
        r"shard 'shard-000001' does not match shard 'shard-000000': its column list "
        r"is \['molecule_id'\]"
    )
    with pytest.raises(SchemaError, match=message):
        gr.consolidate(path)
    assert not (path / "grumpy.json").exists()
    with pytest.raises(SchemaError, match=message):
        gr.open(path)
    assert any("does not match shard 'shard-000000'" in p for p in gr.validate(path))
    shutil.rmtree(path / "shard-000001")
    with gr.ShardedWriter(path, 1, 2, 5) as w:
        w.write(
            gr.dataframe(
                {
                    "molecule_id": [1.5],
                    "molecule_name": ["x"],
                    "molecule_tag": [[1]],
                    "atom_x": [[1.0]],
                },
                schema=SCHEMA,
            )
        )
    with pytest.raises(
        SchemaError, match="its layout of column 'molecule_id' is float64; 'shard-000000' has int64"
    ):
        gr.consolidate(path)


def test_missing_and_truncated_shards_are_store_format_errors(tmp_path: Path) -> None:
    path = tmp_path / "bad.gr"
    gr.save(make_frame(range(9)), path, shard_rows=3)
    doc = top_manifest(path)
    doc["shards"][1]["rows"], doc["shards"][2]["rows"] = 2, 4  # shard 2 commits only 3
    (path / "grumpy.json").write_text(json.dumps(doc))
    h = gr.open(path)
    assert_same(h[0:5], make_frame([0, 1, 2, 3, 4]))  # shard 1 read at 2 of its 3 rows
    with pytest.raises(
        StoreFormatError,
        match=r"shard 'shard-000002', listed with 4 rows, "
        r"cannot be read: .*commits 3 rows; 4 were expected",
    ):
        h[8]
    assert gr.validate(path) == [
        f"{path}: shard 'shard-000002' commits 3 rows; the dataset lists 4"
    ]
    shutil.rmtree(path / "shard-000001")
    with pytest.raises(
        StoreFormatError,
        match=r"shard 'shard-000001', listed with 2 rows, "
        r"cannot be read: .*no grumpy.json",
    ):
        gr.load(path)
    problems = gr.validate(path)
    assert len(problems) == 2 and "shard-000001: not a grumpy_arrow store" in problems[0]
    assert cli_main(["validate", str(path)]) == 1


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        (
            {"rows": 3, "shard_rows": 2, "shards": [{"name": "shard-000000", "rows": 2}]},
            "field 'rows' is 3; the shards list 2",
        ),
        (
            {"rows": 2, "shard_rows": 0, "shards": [{"name": "shard-000000", "rows": 2}]},
            "field 'shard_rows' must be a positive int or null, got 0",
        ),
        (
            {"rows": 2, "shard_rows": None, "shards": [{"name": "x", "rows": 2}]},
            "must name a shard-NNNNNN directory",
        ),
        (
            {
                "rows": 2,
                "shards": [
                    {"name": "shard-000001", "rows": 1},
                    {"name": "shard-000000", "rows": 1},
                ],
            },
            "must list distinct shards in numeric order",
        ),
        ({"rows": 2}, "missing field 'shards'"),
    ],
    ids=["rows", "shard_rows", "name", "order", "missing"],
)
def test_malformed_top_level_manifests(doc: dict[str, Any], message: str, tmp_path: Path) -> None:
    path = tmp_path / "bad.gr"
    gr.save(make_array(2), path, shard_rows=2)
    full = {"format": "grumpy_arrow", "version": 1, "kind": "sharded", **doc}
    (path / "grumpy.json").write_text(json.dumps(full))
    with pytest.raises(StoreFormatError, match=message):
        gr.open(path)
    assert message in gr.validate(path)[0]


def test_consolidate_needs_committed_shards(tmp_path: Path) -> None:
    with pytest.raises(StoreFormatError, match="no shard-NNNNNN directories to consolidate"):
        gr.consolidate(tmp_path / "nothing")
    (tmp_path / "d" / "shard-000000").mkdir(parents=True)
    with pytest.raises(StoreFormatError, match=r"no shard has a committed grumpy\.json"):
        gr.consolidate(tmp_path / "d")
    with pytest.raises(StoreFormatError, match=r"no shard has a committed grumpy\.json yet"):
        gr.load(tmp_path / "d")
    with pytest.raises(StoreFormatError, match="not a grumpy_arrow store"):
        gr.open(tmp_path / "nothing")


def test_a_single_store_handle_refuses_a_sharded_dataset(sharded23: Path) -> None:
    with pytest.raises(StoreFormatError, match="describes a sharded dataset, not a single store"):
        Handle(sharded23)
    with pytest.raises(StoreFormatError, match="not a grumpy_arrow store"):
        Handle(sharded23 / "nope")


def test_info_and_cli_on_a_sharded_dataset(
    sharded23: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    info = store_info(sharded23)
    assert info["rows"] == 23 and info["kind"] == "dataframe"
    assert info["shards"] == [
        {"name": f"shard-00000{k}", "rows": 5 if k < 4 else 3} for k in range(5)
    ]
    assert info["shard_rows"] == 5 and info["consolidated"] is True
    assert info["leaves"] == 5 * store_info(sharded23 / "shard-000000")["leaves"]
    assert gr.validate(sharded23) == []
    assert cli_main(["info", str(sharded23)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[:2] == [
        f"{sharded23}: dataframe, 23 rows",
        "  shards: 5 of up to 5 rows (consolidated)",
    ]
    assert cli_main(["validate", str(sharded23)]) == 0
    assert capsys.readouterr().out == f"{sharded23}: ok\n"
    assert cli_main(["head", str(sharded23), "-n", "6"]) == 0
    assert capsys.readouterr().out.splitlines()[5].startswith("5: molecule_id=5, ")


def test_writers_given_like_share_the_union_layout(tmp_path: Path) -> None:
    """Independent writers whose batches hold only scalar rows or only list rows produce
    shards with the same union column when they share ``like``; without it, consolidate
    refuses the mismatch."""
    like = gr.dataframe({"id": gr.array([], dtype=gr.int64), "u": gr.array([1, [2]])[0:0]})
    path = tmp_path / "ds"
    with gr.ShardedWriter(path, 0, 2, 2, like=like) as w:
        w.write(gr.dataframe({"id": [0, 1, 2], "u": [1, 2, None]}))
    with gr.ShardedWriter(path, 1, 2, 2, like=like) as w:
        w.write(gr.dataframe({"id": [3, 4], "u": [[3], [4, 5]]}))
    top = gr.consolidate(path)
    assert [s.rows for s in top.shards] == [2, 2, 1]
    loaded = gr.load(path)
    assert loaded["id"].to_list() == [0, 1, 3, 4, 2]
    assert loaded["u"].to_list() == [1, 2, [3], [4, 5], None]
    assert loaded["u"].is_union

    plain = tmp_path / "plain"
    with gr.ShardedWriter(plain, 0, 2, 2) as w:
        w.write(gr.dataframe({"id": [0], "u": [1]}))
    with gr.ShardedWriter(plain, 1, 2, 2) as w:
        w.write(gr.dataframe({"id": [1], "u": [[2]]}))
    with pytest.raises(SchemaError, match="layout of column 'u'"):
        gr.consolidate(plain)
