"""Random rows of columns with lists of their own (issue 13): a list column that is not a
schema level (the tokens of a document, the bonds of an atom, the rows of an array store)
is read by the level walk like the levels above it: its offsets leaf read once per
selection for its ranges, then one gather per leaf. Every kind of own list (nested, with
null lists and null values, dictionary-encoded strings, under a level), cold, warm
(resident) and by windows, equals the frame that was saved; damaged own offsets are
reported with the leaf and the position."""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pytest
import zarr

import grumpy_arrow as gr
from grumpy_arrow.errors import StoreFormatError

N = 900


def documents(n: int, seed: int = 0) -> gr.DataFrame:
    """Documents with lists of their own: tokens (few distinct: dictionary-encoded),
    scores with null lists and null values, spans as lists of lists, and a title."""
    rng = np.random.default_rng(seed)
    words = ["the", "a", "store", "row", "list", "of", "it"]
    lengths = rng.integers(0, 12, n)
    table = pa.table(
        {
            "doc_id": pa.array(np.arange(n, dtype=np.int64) * 7),
            "doc_title": pa.array([f"t{i * 31 % 97}" for i in range(n)], type=pa.large_string()),
            "doc_tokens": pa.array(
                [[words[(i + k) % 7] for k in range(int(m))] for i, m in enumerate(lengths)],
                type=pa.large_list(pa.large_string()),
            ),
            "doc_scores": pa.array(
                [
                    None
                    if i % 19 == 3
                    else [None if (i + k) % 5 == 0 else (i * k) / 4 for k in range(int(m))]
                    for i, m in enumerate(lengths)
                ],
                type=pa.large_list(pa.float32()),
            ),
            "doc_spans": pa.array(
                [[[int(i), int(i + k)] for k in range(int(m) % 4)] for i, m in enumerate(lengths)],
                type=pa.large_list(pa.large_list(pa.int32())),
            ),
        }
    )
    df: gr.DataFrame = gr.from_arrow(table, schema=["doc"])
    return df


def molecules(n: int, seed: int = 1) -> gr.DataFrame:
    """Molecules -> atoms, each atom with a list of its own (its bonds)."""
    rng = np.random.default_rng(seed)
    counts = rng.integers(0, 7, n)
    bonds = [
        [[int(b) for b in rng.integers(0, 9, int(rng.integers(0, 4)))] for _ in range(int(c))]
        for c in counts
    ]
    df: gr.DataFrame = gr.dataframe(
        {
            "mol_id": list(range(n)),
            "atom_x": [[float(i + a) / 2 for a in range(int(c))] for i, c in enumerate(counts)],
            "atom_bonds": bonds,
        },
        schema=["mol", "atom"],
    )
    return df


@pytest.fixture(scope="module")
def saved(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Any, Path]]:
    root = tmp_path_factory.mktemp("own")
    rng = np.random.default_rng(4)
    ragged = gr.array(
        [[list(range(int(k), int(k) + int(j))) for j in rng.integers(0, 4, 3)] for k in range(N)]
    )
    out = {}
    for name, obj in [("docs", documents(N)), ("mols", molecules(N)), ("array", ragged)]:
        for compressor in ("auto", "none"):
            path = root / f"{name}-{compressor}.gr"
            gr.save(obj, path, compressor=compressor, chunk_size=64, shard_size=256)
            out[f"{name}-{compressor}"] = (obj, path)
    return out


def _same(got: Any, want: Any) -> None:
    if isinstance(want, gr.DataFrame):
        assert got.to_arrow().equals(want.to_arrow())
        assert got.to_dict() == want.to_dict()
    else:
        assert got.to_list() == want.to_list()
        assert got.type == want.type


@pytest.mark.parametrize("cache", ["none", "chunks"])
@pytest.mark.parametrize("store", ["docs", "mols", "array"])
@pytest.mark.parametrize("compressor", ["auto", "none"])
def test_own_lists_read_by_the_level_walk(
    store: str, compressor: str, cache: str, saved: dict[str, tuple[Any, Path]]
) -> None:
    obj, path = saved[f"{store}-{compressor}"]
    h = gr.open(path, cache=cache)  # type: ignore[arg-type]
    chains = h._level_chains(h._specs())
    assert chains is not None  # the level walk, not the per-column planner
    own = [c for c in chains if len(c.lists) > c.levels]
    assert own, "no column with a list of its own"
    rng = np.random.default_rng(9)
    picks = [rng.choice(N, 32, replace=False) for _ in range(10)]
    picks += [np.array([N - 1, 0, 0, 5]), np.arange(40, 90), np.array([], dtype=np.int64)]
    for _ in range(2):  # with the cache on, the second pass reads resident leaves
        for rows in picks:
            _same(h.take(rows), obj[rows])
        for i in (0, 1, N // 2, N - 1):
            _same(h[i : i + 1], obj[i : i + 1])
        _same(h[0:N], obj)
    if cache == "chunks":
        assert h._resident_batch(h._specs(), chains) is not None


@pytest.mark.parametrize("cache", ["none", "chunks"])
def test_damaged_own_offsets_are_reported(
    cache: str, saved: dict[str, tuple[Any, Path]], tmp_path: Path
) -> None:
    df, src = saved["docs-none"]
    path = tmp_path / "s.gr"
    shutil.copytree(src, path)
    leaf = "doc_spans/r.c-offsets"  # the inner of two lists of the column's own
    length = gr.open(path).manifest.leaves[leaf].length
    arr = zarr.open_array(str(path / leaf), mode="r+")
    values = np.asarray(arr[:length])
    p = int(np.flatnonzero(values[1:] > values[:-1])[-1]) + 1  # a late step up
    arr[p] = int(values[p - 1]) - 1
    h = gr.open(path, cache=cache)  # type: ignore[arg-type]
    shuffled = np.random.default_rng(2).permutation(N)
    for rows in (np.arange(N), np.arange(N)[::-1], shuffled):
        # (the whole run reads windows; the reversed and the shuffled rows, the walk)
        with pytest.raises(StoreFormatError) as err:
            h.take(rows)
        text = str(err.value)
        assert leaf in text and str(path) in text, text
        assert re.search(rf"decreases at position {p}\b", text), text
    # Rows that do not reach it read exactly.
    first = np.arange(0, 20)
    assert h.take(first).to_dict() == df[first].to_dict()
