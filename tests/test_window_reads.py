"""Reads of one run of rows (``h[i]``, ``h[a:b]``, a take of consecutive rows) through
leaf windows (issue 13): each leaf the columns need is read as the one contiguous window
the rows reach in it, checked (offsets within their content and never decreasing, indices
inside the dictionary), and the rows are built from the windows as from resident leaves.
Every column kind, every codec, the cache on and off, windows across shard files, and
damaged leaves reported with the leaf and the position."""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pytest
import zarr
from _threads import run_threads

import grumpy_arrow as gr
from grumpy_arrow.errors import StoreFormatError
from grumpy_arrow.storage.handle import Handle

ROWS = 600


def molecules(n: int, seed: int = 0) -> gr.DataFrame:
    """Molecules -> residues -> atoms with every kind of column the level walk reads: an
    int id, a bool flag, narrow strings with nulls (``pa.string``), raw text residue
    names, float coordinates of three decimals (stored scaled), floats with nulls,
    dictionary-encoded element symbols, empty molecules and residues."""
    rng = np.random.default_rng(seed)
    residues = rng.integers(0, 5, n)
    atoms = [[int(a) for a in rng.integers(0, 9, int(r))] for r in residues]
    elements = ["C", "H", "O", "N", "S"]

    def per_atom(fn: Callable[[int, int, int], Any]) -> list[Any]:
        return [
            [[fn(i, j, k) for k in range(c)] for j, c in enumerate(a)] for i, a in enumerate(atoms)
        ]

    table = pa.table(
        {
            "mol_id": pa.array(np.arange(n, dtype=np.int32)),
            "mol_flag": pa.array([i % 3 == 0 for i in range(n)]),
            "mol_name": pa.array(
                [None if i % 11 == 4 else f"m{i * 7919 % 10007}" for i in range(n)],
                type=pa.string(),
            ),
            "res_name": pa.array(
                [[f"R{(i + j) % 37}x{i}" for j in range(len(a))] for i, a in enumerate(atoms)],
                type=pa.large_list(pa.large_string()),
            ),
            "atom_x": pa.array(
                per_atom(lambda i, j, k: round((i * 37 + j * 11 + k) * 0.125 - 40, 3)),
                type=pa.large_list(pa.large_list(pa.float32())),
            ),
            "atom_q": pa.array(
                per_atom(lambda i, j, k: None if (i + j + k) % 17 == 0 else (i + k) / 7),
                type=pa.large_list(pa.large_list(pa.float64())),
            ),
            "atom_el": pa.array(
                per_atom(lambda i, j, k: elements[(i + j + k) % 5]),
                type=pa.large_list(pa.large_list(pa.large_string())),
            ),
        }
    )
    df: gr.DataFrame = gr.from_arrow(table, schema=["mol", "res", "atom"])
    return df


@pytest.fixture(scope="module")
def saved(tmp_path_factory: pytest.TempPathFactory) -> tuple[gr.DataFrame, dict[str, Path]]:
    df = molecules(ROWS)
    root = tmp_path_factory.mktemp("windows")
    paths = {}
    for compressor in ("auto", "none", "zstd", "blosc"):
        paths[compressor] = root / f"{compressor}.gr"
        # Small inner chunks and shards: the windows of many rows span shard files.
        gr.save(df, paths[compressor], compressor=compressor, chunk_size=64, shard_size=256)
    return df, paths


RUNS = [(0, 1), (1, 2), (ROWS // 2, ROWS // 2 + 1), (ROWS - 1, ROWS), (0, 7), (90, 170)]
RUNS += [(ROWS - 5, ROWS), (0, ROWS), (5, 5), (ROWS, ROWS)]


@pytest.mark.parametrize("cache", ["none", "chunks"])
@pytest.mark.parametrize("compressor", ["auto", "none", "zstd", "blosc"])
def test_runs_of_rows_equal_the_saved_rows(
    compressor: str,
    cache: str,
    saved: tuple[gr.DataFrame, dict[str, Path]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    df, paths = saved
    windows: list[tuple[int, int]] = []
    real = Handle._windows

    def counted(self, *args):  # type: ignore[no-untyped-def]
        windows.append(args[-2:])  # (lo, hi)
        return real(self, *args)

    monkeypatch.setattr(Handle, "_windows", counted)
    h = gr.open(paths[compressor], cache=cache)  # type: ignore[arg-type]
    assert h.manifest.leaves["atom_x/r.c.c-values"] is not None
    for rep in range(2):  # the second time from verified chunks (and the cache, if on)
        for a, b in RUNS:
            want = df[a:b].to_arrow()
            assert h[a:b].to_arrow().equals(want), (a, b, rep)
            assert h.take(np.arange(a, b)).to_arrow().equals(want), (a, b, rep)
            if b == a + 1:
                got = h[a]
                assert got.to_arrow().equals(want), (a, rep)
                assert got.to_dict() == df[[a]].to_dict()
    # Every non-empty run went through the windows (empty ones read nothing).
    assert sorted(set(windows)) == sorted({(a, b) for a, b in RUNS if b > a})
    # Narrow strings keep their width; the coordinates are stored scaled (by default).
    assert h[3].to_arrow().schema.field("mol_name").type == pa.string()
    scaled = h._store.format("atom_x/r.c.c-values").decimals
    assert scaled == (3 if compressor == "auto" else None)


def test_fixed_axes_and_no_nulls(tmp_path: Path) -> None:
    """A fixed axis under the atom level (``var * 3`` points): its window is the rows'
    points, three values each."""
    rng = np.random.default_rng(8)
    n = 300
    counts = rng.integers(0, 6, n)
    points = [rng.integers(-9, 9, (int(c), 3)).astype(np.float32) for c in counts]
    df = gr.dataframe(
        {"mol_id": np.arange(n, dtype=np.int64), "atom_xyz": gr.array(points)},
        schema=["mol", "atom"],
    )
    path = tmp_path / "fixed.gr"
    gr.save(df, path, chunk_size=32, shard_size=128)
    for cache in ("none", "chunks"):
        h = gr.open(path, cache=cache)
        for a, b in [(0, 1), (7, 8), (n - 1, n), (10, 60), (0, n)]:
            got = h[a:b]
            assert got.to_arrow().equals(df[a:b].to_arrow()), (a, b)
            assert got["atom_xyz"].type == f"{b - a} * var * 3 * float32"
            assert h.take(np.arange(a, b)).to_dict() == df[a:b].to_dict()


def _copy(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    return dst


@pytest.mark.parametrize("cache", ["none", "chunks"])
@pytest.mark.parametrize(
    ("leaf", "damage", "message"),
    [
        ("_levels/atom-offsets", "decrease", r"decreases at position {p} "),
        ("_levels/atom-offsets", "past", r"holds 999999 at position {p}; offsets lie in "),
        ("_levels/res-offsets", "negative", r"holds -3 at position 0; offsets lie in "),
        ("atom_el/r.c.c-indices", "outside", r"holds 99 at position {p}; the dictionary has 5"),
        ("res_name/r.c-offsets", "decrease", r"decreases at position {p} "),
    ],
)
def test_a_damaged_window_is_reported(
    leaf: str,
    damage: str,
    message: str,
    cache: str,
    saved: tuple[gr.DataFrame, dict[str, Path]],
    tmp_path: Path,
) -> None:
    """A value written through zarr (its checksum stays valid) that breaks what the
    window check looks for: the rows whose windows hold it report the leaf and the
    position; rows whose windows do not read exactly."""
    df, paths = saved
    path = _copy(paths["none"], tmp_path / "s")
    length = gr.open(path).manifest.leaves[leaf].length
    arr = zarr.open_array(str(path / leaf), mode="r+")
    values = np.asarray(arr[:length])
    p = length // 2
    if damage == "decrease":
        p = int(np.flatnonzero(values[1:] > values[:-1])[-1]) + 1  # a late step up
        arr[p] = int(values[p - 1]) - 1
    elif damage == "past":
        arr[p] = 999999
    elif damage == "negative":
        p = 0
        arr[p] = -3
    else:
        p = length - 1
        arr[p] = 99
    h = gr.open(path, cache=cache)  # type: ignore[arg-type]
    for _ in range(3):  # (with the cache on, the leaf becomes resident on the way)
        with pytest.raises(StoreFormatError) as err:
            h[0:ROWS]
        text = str(err.value)
        assert str(path) in text and leaf in text, text
        assert re.search(message.format(p=p), text), text
    # A single row away from the damage reads exactly (the damage at position 0 of the
    # residue offsets is on the way of row 0 only).
    far = ROWS - 1 if p < length // 4 else 1
    assert h[far].to_dict() == df[[far]].to_dict()


def test_a_rows_blosc_leaves_are_decoded_together(
    saved: tuple[gr.DataFrame, dict[str, Path]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """With the cache off, the Blosc leaves of one level of a row's walk whose windows lie
    in one shard file are decoded in one compiled call per chunk size
    (``LocalShards.windows``); a window across shard files is read alone. Every row
    reads exactly either way."""
    from grumpy_arrow import _native
    from grumpy_arrow.storage.local import LocalShards

    if not _native.available():
        pytest.skip("the compiled kernels are not built")
    df, paths = saved
    groups: list[list[str]] = []
    real = LocalShards._windows_of

    def spied(self, items, group, want, decode, found):  # type: ignore[no-untyped-def]
        groups.append(sorted(items[i][0] for i in group))
        return real(self, items, group, want, decode, found)

    monkeypatch.setattr(LocalShards, "_windows_of", spied)
    h = gr.open(paths["blosc"], cache="none")
    want = df.to_dict()
    for i in range(ROWS):
        assert h[i].to_dict() == {k: v[i : i + 1] for k, v in want.items()}, i
    # atom_x (float32), atom_el's codes and mol_id (int32) share a chunk size: one call
    # for the three whenever their windows lie in one shard (as 457 of the 600 rows'
    # do; the others read the leaves whose windows cross shard files alone).
    together = ["atom_el/r.c.c-indices", "atom_x/r.c.c-values", "mol_id/r-values"]
    assert sum(g == together for g in groups) == 457
    sizes = [{h._store.format(name).chunk_bytes for name in g} for g in groups]
    assert all(len(s) == 1 for s in sizes)


def test_a_damaged_chunk_read_together_is_reported(
    saved: tuple[gr.DataFrame, dict[str, Path]], tmp_path: Path
) -> None:
    """A Blosc chunk whose bytes were damaged, read with the other leaves of its row's
    level in one call: the call flags it and the Python steps say which chunk of which
    shard is wrong, as a read of that leaf alone does; rows elsewhere read exactly."""
    df, paths = saved
    path = _copy(paths["blosc"], tmp_path / "s")
    h = gr.open(path, cache="none")
    leaf = "atom_x/r.c.c-values"
    fmt = h._store.format(leaf)
    shard = h._store.shards.acquire(leaf, 0, fmt)
    at, size = int(shard.offsets[1]), int(shard.nbytes[1])  # inner chunk 1 of shard 0
    h._store.shards.release(shard)
    with open(h._store.shards.path(leaf, 0), "r+b") as f:
        f.seek(at + size // 2)
        f.write(b"\xff\xfe\xfd\xfc")
    # The rows whose atoms lie in values [64, 128) of the leaf: chunk 1 of shard 0.
    h = gr.open(path, cache="none")
    bounds = np.cumsum([0] + [sum(len(r) for r in row) for row in df["atom_x"].tolist()])
    hit = [i for i in range(ROWS) if bounds[i] < 128 and bounds[i + 1] > 64]
    miss = [i for i in range(ROWS) if bounds[i] >= 256][:5]
    assert hit and miss
    for i in hit:
        with pytest.raises(StoreFormatError, match=r"shard 0 chunk 1") as err:
            h[i]
        assert leaf in str(err.value)
    for i in miss:
        assert h[i].to_dict() == df[[i]].to_dict()


@pytest.mark.parametrize("limit", [2, 1000])
def test_rows_read_together_from_many_threads(
    saved: tuple[gr.DataFrame, dict[str, Path]], limit: int
) -> None:
    """Six threads reading single rows and short runs of one handle with the cache off
    (each row's Blosc leaves decoded together, several shard files held at once), with
    room for 2 open shard files (evicted ones close when their last reader is done) or
    plenty: every row exact, nothing raised."""
    df, paths = saved
    h = gr.open(paths["blosc"], cache="none")
    h._store.shards.limit = limit
    want = df.to_dict()

    def work(seed: int) -> None:
        rng = np.random.default_rng(seed)
        for i in rng.integers(0, ROWS, 120).tolist():
            b = min(ROWS, i + int(rng.integers(1, 4)))
            got = h[i] if b == i + 1 else h[i:b]
            assert got.to_dict() == {k: v[i:b] for k, v in want.items()}, (i, b)

    assert run_threads(work, range(6)) == []
    assert all(shard.users == 0 for shard in h._store.shards._open.values())
