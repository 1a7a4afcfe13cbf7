"""Ray Data (docs/scale-out.md): ``gr.ray.read`` through a ``Datasource`` and ``gr.ray.write`` through a
``Datasink``, on a local Ray with two CPUs.

Covered here, with exact expected values:

- a 200k-row sharded store (a float column, ragged float32 lists, a scalar-or-list union):
  ``count()`` from block metadata, the blocks (Arrow tables, unions lowered) equal the
  loaded data in order, ``parallelism`` and ``columns``;
- a ``map_batches`` round trip (a column added) written with ``gr.ray.write`` reads back
  with ``gr.load`` exactly, unions included; ``shard_rows``; array stores;
- errors: a missing store, ``mode="w-"`` on an existing store.

Skipped without ray. Ray's own ``DataContext`` warns about its deprecated fields
(``use_push_based_shuffle``, ``use_polars``) when it is created: DeprecationWarnings from
``ray.data.context`` are filtered here, nothing else.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

import grumpy_arrow as gr
from grumpy_arrow.errors import StoreError, StoreFormatError
from grumpy_arrow.testing import assert_arrow_equal as assert_same

ray = pytest.importorskip("ray")
pytest.importorskip("ray.data")

pytestmark = [
    pytest.mark.ray,
    # Ray's DataContext() assigns its own deprecated fields, each of which warns.
    pytest.mark.filterwarnings("ignore::DeprecationWarning:ray.data.context"),
]

N = 200_000


def make_frame(n: int, seed: int = 1) -> gr.DataFrame:
    """``n`` rows built with NumPy: weights, ragged float32 atoms, an int union."""
    rng = np.random.default_rng(seed)
    offsets = np.concatenate([[0], np.cumsum(rng.integers(0, 5, n))])
    atoms = pa.LargeListArray.from_arrays(
        pa.array(offsets), pa.array(rng.random(int(offsets[-1]), dtype=np.float32))
    )
    is_list = rng.random(n) < 0.3
    value_offsets = np.empty(n, dtype=np.int32)
    value_offsets[~is_list] = np.arange(int((~is_list).sum()))
    value_offsets[is_list] = np.arange(int(is_list.sum()))
    list_offsets = np.concatenate([[0], np.cumsum(rng.integers(0, 3, int(is_list.sum())))])
    union = pa.UnionArray.from_dense(
        pa.array(is_list.astype(np.int8)),
        pa.array(value_offsets),
        [
            pa.array(rng.integers(0, 100, int((~is_list).sum()))),
            pa.LargeListArray.from_arrays(
                pa.array(list_offsets), pa.array(rng.integers(0, 100, int(list_offsets[-1])))
            ),
        ],
        ["scalar", "list"],
        [0, 1],
    )
    return gr.dataframe(
        {"mol_w": rng.random(n), "atom_x": gr.array(atoms), "mol_u": gr.array(union)},
        schema=["mol", "atom"],
    )


@pytest.fixture(scope="module")
def session() -> Iterator[None]:
    ray.init(
        num_cpus=2,
        include_dashboard=False,
        log_to_driver=False,
        configure_logging=False,
        logging_level=logging.WARNING,
    )
    context = ray.data.DataContext.get_current()
    context.enable_progress_bars = False
    context.execution_options.preserve_order = True  # blocks in order for exact comparisons
    yield
    ray.shutdown()


@pytest.fixture(scope="module")
def frame() -> gr.DataFrame:
    return make_frame(N)


@pytest.fixture(scope="module")
def path(frame: gr.DataFrame, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("ray") / "frame.gr"
    gr.save(frame, out, shard_rows=50_000, chunk_size=1 << 15)
    return out


def test_count_comes_from_block_metadata(session: None, path: Path) -> None:
    ds = gr.ray.read(path)
    assert ds.count() == N
    assert ds.schema().names == ["mol_w", "atom_x", "mol_u", "mol_u__is_scalar"]


def test_blocks_are_lowered_tables_equal_to_the_loaded_data(
    session: None, path: Path, frame: gr.DataFrame
) -> None:
    ds = gr.ray.read(path)
    table = pa.concat_tables(ray.get(ds.to_arrow_refs()))
    want = frame.to_arrow(unions="lowered")
    assert table.column_names == want.column_names
    for name in want.column_names:
        assert table.column(name).equals(want.column(name)), name
    assert_same(gr.from_arrow(table), frame)


def test_parallelism_groups_fragments_into_read_tasks(session: None, path: Path) -> None:
    # 4 fragments: by default a fragment reads whole shard files, and each 50000-row
    # store's leaves fit one shard file (chunks of 32768 rows).
    source = gr.ray.GrumpyDatasource(path)
    assert [len(f) for f in source.fragments] == [50000] * 4
    tasks = source.get_read_tasks(3)
    assert [t.metadata.num_rows for t in tasks] == [100000, 50000, 50000]
    assert source.estimate_inmemory_data_size() == sum(t.metadata.size_bytes for t in tasks)
    assert len(source.get_read_tasks(100)) == 4
    # Asking read() for more tasks than fragments cuts the fragments smaller: pieces of
    # 12500 rows (200000 / 16) inside each chunk, 5 per shard.
    smaller = gr.ray.GrumpyDatasource(path, parallelism=16).fragments
    assert [len(f) for f in smaller[:5]] == [12500, 12500, 7768, 12500, 4732]
    assert len(smaller) == 20
    ds = gr.ray.read(path, parallelism=16)
    assert ds.materialize().num_blocks() == 16
    assert ds.count() == N


def test_columns(session: None, path: Path, frame: gr.DataFrame) -> None:
    ds = gr.ray.read(path, columns=["mol_u"])
    table = pa.concat_tables(ray.get(ds.to_arrow_refs()))
    assert table.column_names == ["mol_u", "mol_u__is_scalar"]
    assert_same(gr.from_arrow(table)["mol_u"], frame["mol_u"])


def test_map_batches_then_write_round_trips(
    session: None, path: Path, frame: gr.DataFrame, tmp_path: Path
) -> None:
    def add_scaled(batch: pa.Table) -> pa.Table:  # local: Ray ships it by value
        return batch.append_column("mol_w2", pc.multiply(batch["mol_w"], 2.0))

    ds = gr.ray.read(path).map_batches(add_scaled, batch_format="pyarrow", batch_size=None)
    info = gr.ray.write(ds, tmp_path / "out.gr")
    assert info.rows == N
    # Every write task but the last gets >= 65536 rows and writes them as one shard.
    assert 1 <= len(info.shards) <= N // 65_536 + 1
    back = gr.load(tmp_path / "out.gr")
    assert back.columns == ["mol_w", "atom_x", "mol_u", "mol_w2"]
    assert_same(back[["mol_w", "atom_x", "mol_u"]], frame)
    assert back["mol_u"].is_union
    assert np.array_equal(back["mol_w2"].to_numpy(), frame["mol_w"].to_numpy() * 2.0)


def test_shard_rows_caps_every_shard(
    session: None, path: Path, frame: gr.DataFrame, tmp_path: Path
) -> None:
    info = gr.ray.write(gr.ray.read(path), tmp_path / "out.gr", shard_rows=60_000)
    assert info.rows == N
    assert max(s.rows for s in info.shards) <= 60_000
    assert info.shard_rows == 60_000
    assert_same(gr.load(tmp_path / "out.gr"), frame)


def test_array_stores_round_trip(session: None, tmp_path: Path) -> None:
    x = gr.array([i if i % 2 else [i] * (i % 5) for i in range(5000)])
    gr.save(x, tmp_path / "a.gr", chunk_size=1000)
    ds = gr.ray.read(tmp_path / "a.gr")
    assert ds.schema().names == ["values", "values__is_scalar"]
    gr.ray.write(ds, tmp_path / "b.gr")
    assert_same(gr.load(tmp_path / "b.gr"), x)


def test_errors(session: None, path: Path, tmp_path: Path) -> None:
    with pytest.raises(StoreFormatError, match="not a grumpy_arrow store"):
        gr.ray.read(tmp_path / "missing.gr")
    with pytest.raises(StoreError, match=r"a store exists already \(mode='w-'\)"):
        gr.ray.write(gr.ray.read(path), path, mode="w-")
    with pytest.raises(ValueError, match="mode must be 'w' or 'w-', got 'a'"):
        gr.ray.write(gr.ray.read(path), tmp_path / "x.gr", mode="a")
