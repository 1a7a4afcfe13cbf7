"""Dask (docs/scale-out.md): ``gr.dask.read`` and ``gr.dask.write`` on a local two-process cluster.

Covered here, with exact expected values:

- a 1M-row sharded store (a float column, a ragged float32 column, a scalar-or-list union)
  read by a ``distributed.LocalCluster`` of two worker processes: partitions are the
  store's fragments, divisions are global row numbers, columns and dtypes are the lowered
  Arrow ones; ``len``, ``compute`` and ``map_partitions`` (per-row list sums plus a scalar
  column) equal the in-memory computation on ``gr.load``; column selections are pushed
  into the reads; the ``unions="grumpy"`` form gives ``GrumpyDtype`` columns;
- ``gr.dask.write`` of 4-partition collections (both union forms, nested lists, strings
  with nulls, ``shard_rows``, array stores, user-built pandas partitions) gives a dataset
  ``gr.load`` reads back exactly, in partition order;
- fragments pickled to the workers read what slicing the loaded data gives;
- errors: missing store, bad ``rows_per_fragment`` / ``unions`` / ``shard_rows`` /
  ``mode``, unknown columns, non-Dask input, ``mode="w-"`` on an existing store.

Skipped without dask and distributed.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

import grumpy_arrow as gr
from grumpy_arrow.errors import ColumnNotFoundError, StoreError, StoreFormatError
from grumpy_arrow.interop.partitions import from_partition
from grumpy_arrow.testing import assert_arrow_equal as assert_same

dask = pytest.importorskip("dask")
dd = pytest.importorskip("dask.dataframe")
distributed = pytest.importorskip("distributed")

pytestmark = [pytest.mark.dask]

N = 1_000_000
SHARD_ROWS = 250_000


# -- data -------------------------------------------------------------------------------


def make_big(n: int, seed: int = 0) -> gr.DataFrame:
    """``n`` rows built with NumPy: ``mol_w`` floats, ``atom_x`` ragged float32 lists
    (0..4 per row), ``mol_u`` a union of int64 scalars (70 %) and int64 lists (30 %)."""
    rng = np.random.default_rng(seed)
    lengths = rng.integers(0, 5, n)
    offsets = np.concatenate([[0], np.cumsum(lengths)])
    atoms = pa.LargeListArray.from_arrays(
        pa.array(offsets), pa.array(rng.random(int(offsets[-1]), dtype=np.float32))
    )
    is_list = rng.random(n) < 0.3
    value_offsets = np.empty(n, dtype=np.int32)
    value_offsets[~is_list] = np.arange(int((~is_list).sum()))
    value_offsets[is_list] = np.arange(int(is_list.sum()))
    list_lengths = rng.integers(0, 3, int(is_list.sum()))
    list_offsets = np.concatenate([[0], np.cumsum(list_lengths)])
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


def make_nested(n: int) -> gr.DataFrame:
    """Three levels, strings with nulls, a union, lists of lists, a nullable float."""
    return gr.dataframe(
        {
            "mol_id": gr.array(np.arange(n)),
            "mol_name": gr.array([f"m{i}" if i % 7 else None for i in range(n)], gr.string),
            "mol_tag": gr.array([i if i % 3 else [i, i + 1] for i in range(n)]),
            "mol_rings": gr.array([[[i] * (j + 1) for j in range(i % 3)] for i in range(n)]),
            "res_w": gr.array(
                [[None if (i + j) % 5 == 0 else float(j) for j in range(i % 4)] for i in range(n)],
                gr.float32,
            ),
            "atom_z": gr.array([[[j] * (i % 2 + 1) for j in range(i % 4)] for i in range(n)]),
        },
        schema=["mol", "res", "atom"],
    )


# -- fixtures ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def client() -> Iterator[Any]:
    """Two worker processes, one thread each."""
    cluster = distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    )
    with distributed.Client(cluster) as c:
        yield c
    cluster.close()


@pytest.fixture(scope="module")
def big() -> gr.DataFrame:
    return make_big(N)


@pytest.fixture(scope="module")
def big_path(big: gr.DataFrame, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("dask") / "big.gr"
    # zstd for every leaf: "auto" would keep the row-level leaves raw (4 MiB shard files:
    # one fragment per dataset shard); compressed ones give several fragments per shard.
    gr.save(big, path, shard_rows=SHARD_ROWS, compressor="zstd")
    return path


@pytest.fixture(scope="module")
def loaded(big_path: Path) -> gr.DataFrame:
    return gr.load(big_path)


@pytest.fixture(scope="module")
def nested_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """4000 nested rows in one store with inner chunks and shard files of 1000 elements:
    four fragments."""
    path = tmp_path_factory.mktemp("dask") / "nested.gr"
    gr.save(make_nested(4000), path, chunk_size=1000, shard_size=1000)
    return path


# -- reading ----------------------------------------------------------------------------


def test_partitions_are_fragments_indexed_by_global_row(client: Any, big_path: Path) -> None:
    # A default fragment is one shard file of the row-level leaves: the int64 offsets
    # leaves are compressed (zstd), so their inner chunks hold 512 values and their shard
    # files 128 of them, 65 536 rows; fragment ends are whole inner chunks of the largest
    # (the int8 union type ids, 4096), and never cross a shard of the dataset.
    ddf = gr.dask.read(big_path)
    assert ddf.npartitions == 16
    assert ddf.divisions == (
        0,
        65_536,
        131_072,
        196_608,
        250_000,
        315_536,
        381_072,
        446_608,
        500_000,
        565_536,
        631_072,
        696_608,
        750_000,
        815_536,
        881_072,
        946_608,
        999_999,
    )
    assert list(ddf.columns) == ["mol_w", "atom_x", "mol_u", "mol_u__is_scalar"]
    assert [str(t) for t in ddf.dtypes] == [
        "double[pyarrow]",
        "large_list<item: float>[pyarrow]",
        "large_list<item: int64>[pyarrow]",
        "bool[pyarrow]",
    ]
    assert ddf._meta.attrs == {"grumpy_schema": ["mol", "atom"]}
    assert len(ddf) == N
    small = gr.dask.read(big_path, rows_per_fragment=100_000)
    # 100 000 rows round down to whole inner chunks of 4096: 98 304.
    assert small.divisions == (
        0,
        98_304,
        196_608,
        250_000,
        348_304,
        446_608,
        500_000,
        598_304,
        696_608,
        750_000,
        848_304,
        946_608,
        999_999,
    )


def test_compute_equals_the_loaded_frame(client: Any, big_path: Path, loaded: gr.DataFrame) -> None:
    pdf = gr.dask.read(big_path).compute()
    assert pdf.index.equals(pd.RangeIndex(N))
    type_codes = loaded["mol_u"].to_arrow().type_codes.to_numpy(zero_copy_only=False)
    assert int(pdf["mol_u__is_scalar"].sum()) == int((type_codes == 0).sum())
    assert_same(from_partition(pdf, schema=["mol", "atom"]), loaded)


def _row_sums(part: pd.DataFrame) -> pd.Series:
    """Per-row sums of the atoms (float32, as the kernel sums them) plus the row's weight."""
    sums = part["atom_x"].gr.sum(dim=-1).to_numpy(dtype=np.float64, na_value=0.0)
    return pd.Series(sums + part["mol_w"].to_numpy(dtype=np.float64), index=part.index)


def test_map_partitions_equals_the_in_memory_computation(
    client: Any, big_path: Path, loaded: gr.DataFrame
) -> None:
    ddf = gr.dask.read(big_path)
    got = ddf.map_partitions(_row_sums, meta=pd.Series([], dtype="float64")).compute()
    sums = loaded["atom_x"].sum(dim=-1).to_numpy()  # float32 sums; empty rows sum to 0
    want = sums.astype(np.float64) + loaded["mol_w"].to_numpy()
    assert got.index.equals(pd.RangeIndex(N))
    assert np.array_equal(got.to_numpy(), want)
    counts = ddf["atom_x"].map_partitions(lambda s: s.list.len(), meta=("n", "int32[pyarrow]"))
    assert int(counts.sum().compute()) == len(loaded["atom_x"].flatten())


def test_column_selections_are_pushed_into_the_reads(
    client: Any, big_path: Path, loaded: gr.DataFrame
) -> None:
    ddf = gr.dask.read(big_path)
    got = ddf[["mol_u__is_scalar", "mol_w"]].partitions[3].compute()
    assert list(got.columns) == ["mol_u__is_scalar", "mol_w"]
    assert got.index.equals(pd.RangeIndex(196_608, 250_000))
    want = loaded[196_608:250_000].to_arrow(unions="lowered")
    assert np.array_equal(got["mol_w"].to_numpy(), want.column("mol_w").to_numpy())
    assert got["mol_u__is_scalar"].tolist() == want.column("mol_u__is_scalar").to_pylist()
    # The task reads only the store columns the partition columns come from.
    fragment = gr.open(big_path).fragments()[1]
    sources = {"mol_w": "mol_w", "mol_u__is_scalar": "mol_u"}
    part = gr.dask.read_fragment(fragment, ["mol_u__is_scalar"], sources=sources)
    assert list(part.columns) == ["mol_u__is_scalar"]
    subset = gr.dask.read(big_path, columns=["mol_w"])
    assert list(subset.columns) == ["mol_w"]
    assert np.array_equal(subset["mol_w"].compute().to_numpy(), loaded["mol_w"].to_numpy())


def test_grumpy_form_keeps_grumpy_dtypes(client: Any, nested_path: Path) -> None:
    ddf = gr.dask.read(nested_path, unions="grumpy")
    assert ddf.npartitions == 4
    assert {c: str(t) for c, t in ddf.dtypes.items()} == {
        "mol_id": "Int64",
        "mol_name": "string",
        "mol_tag": "grumpy[union[int64, var * int64]]",
        "mol_rings": "grumpy[var * var * int64]",
        "res_w": "grumpy[var * float32]",
        "atom_z": "grumpy[var * var * int64]",
    }
    lens = ddf["mol_rings"].map_partitions(lambda s: s.gr.len(), meta=("n", "Int64"))
    assert lens.compute().tolist() == [i % 3 for i in range(4000)]
    pdf = ddf.partitions[2].compute()
    want = gr.load(nested_path)[2000:3000].to_pandas()
    want.index = pd.RangeIndex(2000, 3000)
    pd.testing.assert_frame_equal(pdf, want)


def test_array_stores_read_as_one_values_column(client: Any, tmp_path: Path) -> None:
    x = gr.array([i if i % 2 else [i] * (i % 5) for i in range(3000)])
    gr.save(x, tmp_path / "a.gr", chunk_size=1000, shard_size=1000)
    ddf = gr.dask.read(tmp_path / "a.gr")
    assert (ddf.npartitions, list(ddf.columns)) == (3, ["values", "values__is_scalar"])
    assert ddf._meta.attrs == {"grumpy_kind": "array"}
    gr.dask.write(ddf, tmp_path / "b.gr")
    assert_same(gr.load(tmp_path / "b.gr"), x)


def test_empty_stores_read_as_one_empty_partition(client: Any, tmp_path: Path) -> None:
    gr.save(make_nested(3)[0:0], tmp_path / "e.gr")
    ddf = gr.dask.read(tmp_path / "e.gr")
    assert (ddf.npartitions, len(ddf)) == (1, 0)
    assert list(ddf.columns) == [
        "mol_id",
        "mol_name",
        "mol_tag",
        "mol_tag__is_scalar",
        "mol_rings",
        "res_w",
        "atom_z",
    ]


def test_fragments_pickled_to_workers_read_the_loaded_slices(
    client: Any, big_path: Path, loaded: gr.DataFrame
) -> None:
    fragments = gr.open(big_path)[["atom_x", "mol_u"]].fragments(150_000)
    # 150 000 rows round down to whole inner chunks of 4096 (the int8 type ids): 147 456.
    assert [(f.start, f.stop) for f in fragments][:3] == [
        (0, 147_456),
        (147_456, 250_000),
        (250_000, 397_456),
    ]
    tables = client.gather(client.map(gr.Fragment.to_arrow, fragments, unions="native"))
    for fragment, table in zip(fragments, tables, strict=True):
        want = loaded[["atom_x", "mol_u"]][fragment.start : fragment.stop].to_arrow()
        assert table.equals(want)


# -- writing ----------------------------------------------------------------------------


@pytest.mark.parametrize("unions", ["lowered", "grumpy"])
def test_write_round_trips_a_read_collection(
    client: Any, nested_path: Path, tmp_path: Path, unions: str
) -> None:
    ddf = gr.dask.read(nested_path, unions=unions)
    info = gr.dask.write(ddf, tmp_path / "out.gr")
    assert [(s.name, s.rows) for s in info.shards] == [(f"shard-00000{k}", 1000) for k in range(4)]
    back = gr.load(tmp_path / "out.gr")
    assert_same(back, gr.load(nested_path))
    assert back.mol_tag.is_union


def test_write_the_million_rows_back_in_parallel(
    client: Any, big_path: Path, loaded: gr.DataFrame, tmp_path: Path
) -> None:
    info = gr.dask.write(gr.dask.read(big_path), tmp_path / "big.gr")
    assert (info.rows, len(info.shards)) == (N, 16)  # one shard per partition
    assert_same(gr.load(tmp_path / "big.gr"), loaded)


def test_shard_rows_splits_partitions_in_order(
    client: Any, nested_path: Path, tmp_path: Path
) -> None:
    info = gr.dask.write(gr.dask.read(nested_path), tmp_path / "out.gr", shard_rows=400)
    assert [(s.name, s.rows) for s in info.shards][:4] == [
        ("shard-000000", 400),
        ("shard-000001", 400),
        ("shard-000002", 200),
        ("shard-010000", 400),
    ]
    assert (info.rows, len(info.shards), info.shard_rows) == (4000, 12, 400)
    assert_same(gr.load(tmp_path / "out.gr"), gr.load(nested_path))
    gr.append(make_nested(3), tmp_path / "out.gr")  # fills the last shard up to shard_rows
    assert len(gr.load(tmp_path / "out.gr")) == 4003


def test_write_user_built_partitions(client: Any, tmp_path: Path) -> None:
    # Dask turns object columns into strings unless told not to (dataframe.convert-string).
    n = 2000
    values = pa.array([[i] if i % 4 else [i, i] for i in range(n)], pa.large_list(pa.int64()))
    pdf = pd.DataFrame(
        {
            "id": pd.array(np.arange(n), dtype="int64[pyarrow]"),
            "tag": pd.Series(values, dtype=pd.ArrowDtype(values.type)),
            "tag__is_scalar": pd.array([bool(i % 4) for i in range(n)], dtype="bool[pyarrow]"),
            "w": np.arange(n) / 2,
            "pts": pd.Series([[float(i)] * (i % 3) for i in range(n)], dtype=object),
        }
    )
    with dask.config.set({"dataframe.convert-string": False}):
        ddf = dd.from_pandas(pdf, npartitions=4)
    gr.dask.write(ddf, tmp_path / "user.gr")
    back = gr.load(tmp_path / "user.gr")
    assert back.columns == ["id", "tag", "w", "pts"]
    assert back.tag.is_union
    assert back.tag.to_list() == [i if i % 4 else [i, i] for i in range(n)]
    assert back.pts.to_list() == [[float(i)] * (i % 3) for i in range(n)]
    assert back.w.to_numpy().tolist() == (np.arange(n) / 2).tolist()


def test_write_with_an_explicit_schema(client: Any, tmp_path: Path) -> None:
    atoms = pa.array([[6, 1], [8], [], [7, 7]], pa.large_list(pa.int64()))
    pdf = pd.DataFrame(
        {"mol_id": [1, 2, 3, 4], "atom_z": pd.Series(atoms, dtype=pd.ArrowDtype(atoms.type))}
    )
    gr.dask.write(dd.from_pandas(pdf, npartitions=2), tmp_path / "s.gr", schema=["mol", "atom"])
    back = gr.load(tmp_path / "s.gr")
    assert back.schema is not None and back.schema.to_json() == ["mol", "atom"]
    assert back["atom_z"].to_list() == [[6, 1], [8], [], [7, 7]]


def test_write_replaces_an_existing_store_unless_mode_w_dash(
    client: Any, nested_path: Path, tmp_path: Path
) -> None:
    target = tmp_path / "t.gr"
    gr.save(gr.array([1, 2, 3]), target)
    ddf = gr.dask.read(nested_path)
    gr.dask.write(ddf, target)
    assert json.loads((target / "grumpy.json").read_text())["kind"] == "sharded"
    assert len(gr.open(target)) == 4000
    with pytest.raises(StoreError, match=r"a store exists already \(mode='w-'\)"):
        gr.dask.write(ddf, target, mode="w-")


# -- errors -----------------------------------------------------------------------------


def test_read_errors(nested_path: Path, tmp_path: Path) -> None:
    with pytest.raises(StoreFormatError, match="not a grumpy_arrow store"):
        gr.dask.read(tmp_path / "missing.gr")
    with pytest.raises(ValueError, match="rows_per_fragment must be an int >= 1 or None, got 0"):
        gr.dask.read(nested_path, rows_per_fragment=0)
    with pytest.raises(ValueError, match="unions must be 'lowered' or 'grumpy', got 'native'"):
        gr.dask.read(nested_path, unions="native")
    with pytest.raises(ColumnNotFoundError, match="no column 'nope'"):
        gr.dask.read(nested_path, columns=["nope"])


def test_write_errors(nested_path: Path, tmp_path: Path) -> None:
    ddf = gr.dask.read(nested_path)
    with pytest.raises(TypeError, match="write needs a dask DataFrame, got DataFrame"):
        gr.dask.write(ddf.compute(), tmp_path / "x.gr")
    with pytest.raises(ValueError, match="shard_rows must be an int >= 1 or None, got 0"):
        gr.dask.write(ddf, tmp_path / "x.gr", shard_rows=0)
    with pytest.raises(ValueError, match="mode must be 'w' or 'w-', got 'a'"):
        gr.dask.write(ddf, tmp_path / "x.gr", mode="a")
