"""Fragments (docs/scale-out.md): ``h.fragments()`` on stores and sharded datasets, without Dask or Ray.

Covered here, with exact expected values:

- coverage: every row exactly once, in order, for arrays and frames, single stores and
  sharded datasets (empty shards included), with the default and explicit sizes;
- alignment: no fragment crosses a shard; fragment ends sit on inner-chunk boundaries of
  the row-level leaves (the default is one shard file of rows; sizes are rounded down to
  whole chunks, and sizes below a chunk cut chunks without straddling them);
- reading: ``to_arrow`` (lowered and native unions; arrays as one ``values`` column),
  ``to_grumpy`` (all columns, a subset, a column view's fragments) equal slicing
  ``gr.load``; fragments pickle and read in a spawned process and from ``memory://``;
- errors: bad ``rows_per_fragment``, unknown columns, columns of an array store, bad
  ``unions``.
"""

from __future__ import annotations

import multiprocessing
import pickle
import uuid
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import fsspec
import numpy as np
import pyarrow as pa
import pytest

import grumpy_arrow as gr
from grumpy_arrow.errors import ColumnNotFoundError, SchemaError
from grumpy_arrow.storage import fragments as fr

SCHEMA = ["mol", "atom"]


def make_frame(n: int) -> gr.DataFrame:
    """Row ``i`` encodes ``i``: a float, a nullable string, a union, ragged atoms."""
    return gr.dataframe(
        {
            "mol_w": gr.array([i / 4 for i in range(n)], gr.float64),
            "mol_name": gr.array([f"m{i}" if i % 5 else None for i in range(n)], gr.string),
            "mol_tag": gr.array([i if i % 3 else [i, i + 1] for i in range(n)]),
            "atom_x": gr.array([[i + j / 10 for j in range(i % 4)] for i in range(n)], gr.float32),
        },
        schema=SCHEMA,
    )


def make_array(n: int) -> gr.GrumpyArray:
    return gr.array([None if i % 7 == 3 else i if i % 2 else [i] * (i % 4) for i in range(n)])


def assert_frames_equal(got: Any, want: Any) -> None:
    """Same kind, schema, columns, Arrow types and values (unions compared natively)."""
    if isinstance(want, gr.GrumpyArray):
        assert isinstance(got, gr.GrumpyArray)
        assert got.to_arrow().type == want.to_arrow().type
        assert got.to_arrow().equals(want.to_arrow())
        return
    assert isinstance(got, gr.DataFrame)
    assert (got.columns, got.schema, len(got)) == (want.columns, want.schema, len(want))
    for name in want.columns:
        assert_frames_equal(got[name], want[name])


def spans(fragments: list[gr.Fragment]) -> list[tuple[int, int]]:
    return [(f.start, f.stop) for f in fragments]


@pytest.fixture(scope="module")
def frame() -> gr.DataFrame:
    return make_frame(100)


@pytest.fixture(scope="module")
def store(frame: gr.DataFrame, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``frame`` in one store with inner chunks and shard files of 16 elements."""
    path = tmp_path_factory.mktemp("fragments") / "frame.gr"
    gr.save(frame, path, chunk_size=16, shard_size=16)
    return path


@pytest.fixture(scope="module")
def sharded(frame: gr.DataFrame, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``frame`` in shards of 40 rows, inner chunks and shard files of 16 elements."""
    path = tmp_path_factory.mktemp("fragments") / "sharded.gr"
    gr.save(frame, path, shard_rows=40, chunk_size=16, shard_size=16)
    return path


# -- planning ---------------------------------------------------------------------------


def test_default_fragments_are_one_shard_file_of_rows(store: Path) -> None:
    frags = gr.open(store).fragments()
    assert spans(frags) == [(0, 16), (16, 32), (32, 48), (48, 64), (64, 80), (80, 96), (96, 100)]
    assert [len(f) for f in frags] == [16] * 6 + [4]
    assert {(f.shard, f.offset, f.rows, f.kind) for f in frags} == {(None, 0, 100, "dataframe")}


def test_fragments_of_a_sharded_dataset_never_cross_a_shard(sharded: Path) -> None:
    frags = gr.open(sharded).fragments()
    assert spans(frags) == [
        (0, 16),
        (16, 32),
        (32, 40),
        (40, 56),
        (56, 72),
        (72, 80),
        (80, 96),
        (96, 100),
    ]
    assert [f.shard for f in frags] == ["shard-000000"] * 3 + ["shard-000001"] * 3 + [
        "shard-000002"
    ] * 2
    assert [f.offset for f in frags] == [0] * 3 + [40] * 3 + [80] * 2
    assert [f.rows for f in frags] == [40] * 6 + [20] * 2


# Pieces of 5 rows inside each chunk of 16: none straddles a chunk boundary.
BELOW_A_CHUNK = [
    (0, 5),
    (5, 10),
    (10, 15),
    (15, 16),
    (16, 21),
    (21, 26),
    (26, 31),
    (31, 32),
    (32, 37),
    (37, 40),
]


@pytest.mark.parametrize(
    ("size", "expected"),
    [
        (16, [(0, 16), (16, 32), (32, 40)]),
        (31, [(0, 16), (16, 32), (32, 40)]),  # rounded down to whole chunks
        (32, [(0, 32), (32, 40)]),
        (1000, [(0, 40)]),
        (5, BELOW_A_CHUNK),
        (8, [(0, 8), (8, 16), (16, 24), (24, 32), (32, 40)]),
    ],
    ids=["one-chunk", "rounded-down", "two-chunks", "whole-shard", "below-a-chunk", "half-chunk"],
)
def test_rows_per_fragment_is_aligned_to_chunks(
    sharded: Path, size: int, expected: list[tuple[int, int]]
) -> None:
    first_shard = [f for f in gr.open(sharded).fragments(size) if f.shard == "shard-000000"]
    assert spans(first_shard) == expected


@pytest.mark.parametrize("size", [None, 1, 3, 16, 17, 50, 10_000], ids=lambda s: f"size-{s}")
@pytest.mark.parametrize("kind", ["store", "sharded"])
def test_fragments_cover_every_row_once_in_order(
    store: Path, sharded: Path, kind: str, size: int | None
) -> None:
    h = gr.open(store if kind == "store" else sharded)
    frags = h.fragments(size)
    starts = np.array([f.start for f in frags])
    stops = np.array([f.stop for f in frags])
    assert starts[0] == 0 and stops[-1] == len(h) == 100
    assert np.array_equal(starts[1:], stops[:-1])
    assert np.all(stops > starts)
    chunk = 16
    for f in frags:  # inside one store or shard, not straddling a chunk boundary when small
        assert f.offset <= f.start < f.stop <= f.offset + f.rows
        local = f.start - f.offset
        if size is None or size >= chunk:
            assert local % chunk == 0
        else:
            assert local // chunk == (f.stop - f.offset - 1) // chunk


def test_the_outer_chunk_is_that_of_the_row_level_leaves(tmp_path: Path) -> None:
    # chunk_dim="atom" chunks the atom values by 8; row-level leaves keep the default.
    path = tmp_path / "dim.gr"
    gr.save(make_frame(50), path, chunk_size=8, chunk_dim="atom")
    h = gr.open(path)
    # "auto" compresses these small leaves, so their inner chunks hold 4 KiB of values:
    # the largest is that of the bool and int8 leaves, 4096; the smallest shard file that
    # of the float64 and int64 leaves, 64 inner chunks of 512 (a small first batch).
    assert {h._store.format(n).codec for n in h.manifest.leaves} == {"zstd"}
    assert fr.outer_chunk(h) == (4096, 32_768)
    assert spans(h.fragments()) == [(0, 50)]


def test_empty_stores_and_empty_shards_have_no_fragments(tmp_path: Path) -> None:
    gr.save(make_frame(1)[0:0], tmp_path / "empty.gr")
    assert gr.open(tmp_path / "empty.gr").fragments() == []
    path = tmp_path / "gaps.gr"
    for k, n in enumerate([3, 0, 2]):
        with gr.ShardedWriter(path, shard_start=k, shard_step=3, shard_rows=5) as w:
            w.write(make_frame(3)[0:n])
    gr.consolidate(path)
    frags = gr.open(path).fragments()
    assert [(f.start, f.stop, f.shard) for f in frags] == [
        (0, 3, "shard-000000"),
        (3, 5, "shard-000002"),
    ]


@pytest.mark.parametrize("bad", [0, -3, 2.5, True, "8"], ids=repr)
def test_bad_rows_per_fragment_is_a_value_error(store: Path, sharded: Path, bad: Any) -> None:
    message = f"rows_per_fragment must be an int >= 1 or None, got {bad!r}"
    for path in (store, sharded):
        with pytest.raises(ValueError, match="rows_per_fragment must be an int") as info:
            gr.open(path).fragments(bad)
        assert str(info.value) == message


# -- reading ----------------------------------------------------------------------------


@pytest.mark.parametrize("size", [10, 1000], ids=["ranges", "whole-stores"])
@pytest.mark.parametrize("kind", ["store", "sharded"])
def test_to_grumpy_equals_slicing_the_loaded_data(
    frame: gr.DataFrame, store: Path, sharded: Path, kind: str, size: int
) -> None:
    for f in gr.open(store if kind == "store" else sharded).fragments(size):
        assert_frames_equal(f.to_grumpy(), frame[f.start : f.stop])
        assert_frames_equal(f.to_grumpy(["atom_x"]), frame[["atom_x"]][f.start : f.stop])


@pytest.mark.parametrize("unions", ["lowered", "native"])
def test_to_arrow_equals_the_slice_as_arrow(
    frame: gr.DataFrame, sharded: Path, unions: str
) -> None:
    for f in gr.open(sharded).fragments():
        table = f.to_arrow(unions=unions)
        want = frame[f.start : f.stop].to_arrow(unions=unions)
        assert table.column_names == want.column_names
        assert table.equals(want, check_metadata=True)
        assert_frames_equal(gr.from_arrow(table), frame[f.start : f.stop])
    lowered = gr.open(sharded).fragments()[0].to_arrow()
    assert lowered.column_names == ["mol_w", "mol_name", "mol_tag", "mol_tag__is_scalar", "atom_x"]
    assert lowered.column("mol_tag").to_pylist()[:4] == [[0, 1], [1], [2], [3, 4]]
    assert lowered.column("mol_tag__is_scalar").to_pylist()[:4] == [False, True, True, False]


def test_column_subsets(frame: gr.DataFrame, sharded: Path) -> None:
    h = gr.open(sharded)
    f = h.fragments()[4]
    assert (f.start, f.stop) == (56, 72)
    assert_frames_equal(f.to_grumpy(["atom_x", "mol_w"]), frame[["atom_x", "mol_w"]][56:72])
    assert f.to_arrow("mol_tag", unions="native").column_names == ["mol_tag"]
    view = h[["mol_tag", "mol_name"]].fragments()
    assert {v.columns for v in view} == {("mol_tag", "mol_name")}
    assert_frames_equal(view[4].to_grumpy(), frame[["mol_tag", "mol_name"]][56:72])
    assert view[4].to_arrow().column_names == ["mol_tag", "mol_tag__is_scalar", "mol_name"]


def test_array_stores_give_one_values_column(tmp_path: Path) -> None:
    x = make_array(50)
    gr.save(x, tmp_path / "a.gr", chunk_size=16, shard_size=16, shard_rows=20)
    frags = gr.open(tmp_path / "a.gr").fragments()
    assert spans(frags) == [(0, 16), (16, 20), (20, 36), (36, 40), (40, 50)]
    assert {f.kind for f in frags} == {"array"}
    for f in frags:
        assert_frames_equal(f.to_grumpy(), x[f.start : f.stop])
        table = f.to_arrow()
        assert table.column_names == ["values", "values__is_scalar"]
        assert_frames_equal(gr.from_arrow(table)["values"], x[f.start : f.stop])
    native = frags[2].to_arrow(unions="native")
    assert native.column_names == ["values"]
    assert native.column(0).combine_chunks().equals(x[20:36].to_arrow())


def test_fragments_pickle_as_small_values(sharded: Path, frame: gr.DataFrame) -> None:
    frags = gr.open(sharded)[["atom_x"]].fragments()
    blob = pickle.dumps(frags)
    assert len(blob) < 2000
    back = pickle.loads(blob)
    assert back == frags
    assert_frames_equal(back[3].to_grumpy(), frame[["atom_x"]][40:56])


def _read(fragment: gr.Fragment) -> pa.Table:
    return fragment.to_arrow()


def test_fragments_read_in_a_spawned_process(sharded: Path) -> None:
    frags = gr.open(sharded).fragments(20)
    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=1, mp_context=ctx) as pool:
        tables = list(pool.map(_read, frags))
    assert pa.concat_tables(tables).equals(gr.load(sharded).to_arrow(unions="lowered"))


def test_a_process_reuses_one_handle_per_store(sharded: Path) -> None:
    a, b, c = gr.open(sharded).fragments()[:3]
    assert fr._handle(a) is fr._handle(b)  # same shard, same rows
    assert fr._handle(c) is fr._handle(a)
    other = gr.open(sharded).fragments()[3]
    assert fr._handle(other) is not fr._handle(a)


def test_a_rewritten_store_is_not_read_through_a_stale_handle(tmp_path: Path) -> None:
    path = tmp_path / "w.gr"
    gr.save(gr.array([1.0, 2.0, 3.0]), path)
    (old,) = gr.open(path).fragments()
    assert old.to_grumpy().to_list() == [1.0, 2.0, 3.0]
    gr.save(gr.array([7.0, 8.0, 9.0]), path)  # same manifest but for the file's identity
    (new,) = gr.open(path).fragments()
    assert new.token != old.token
    assert new.to_grumpy().to_list() == [7.0, 8.0, 9.0]


@pytest.fixture
def memory_path() -> Iterator[str]:
    base = f"grumpy-fragment-tests-{uuid.uuid4().hex}"
    yield f"memory://{base}/frame.gr"
    fsspec.filesystem("memory").rm(f"/{base}", recursive=True)


def test_fragments_of_fsspec_stores_keep_the_url(memory_path: str) -> None:
    frame = make_frame(30)
    gr.save(frame, memory_path, chunk_size=16, shard_size=16, shard_rows=20)
    frags = gr.open(memory_path).fragments()
    assert [f.path for f in frags] == [memory_path] * 3
    assert [f.store_path for f in frags] == [f"{memory_path}/shard-000000"] * 2 + [
        f"{memory_path}/shard-000001"
    ]
    for f in frags:
        assert_frames_equal(f.to_grumpy(), frame[f.start : f.stop])


def test_local_fragments_hold_an_absolute_path(
    sharded: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(sharded.parent)
    frags = gr.open(sharded.name).fragments()
    assert {f.path for f in frags} == {str(sharded)}


# -- errors -----------------------------------------------------------------------------


def test_unknown_columns_are_column_not_found(sharded: Path) -> None:
    f = gr.open(sharded).fragments()[0]
    with pytest.raises(ColumnNotFoundError, match="no column 'nope'"):
        f.to_grumpy(["nope"])
    view = gr.open(sharded)[["mol_w"]].fragments()[0]
    with pytest.raises(ColumnNotFoundError) as info:
        view.to_arrow(["atom_x"])
    assert str(info.value) == (
        f"{sharded}: no column 'atom_x' in this fragment; its columns are mol_w"
    )


def test_columns_of_an_array_store_are_a_schema_error(tmp_path: Path) -> None:
    gr.save(make_array(5), tmp_path / "a.gr")
    f = gr.open(tmp_path / "a.gr").fragments()[0]
    with pytest.raises(SchemaError, match="column selections apply to frames"):
        f.to_grumpy(["values"])


def test_bad_unions_is_a_value_error(store: Path) -> None:
    f = gr.open(store).fragments()[0]
    with pytest.raises(ValueError, match="unions must be 'lowered' or 'native', got 'grumpy'"):
        f.to_arrow(unions="grumpy")
