"""Atomic commit (docs/format.md, commits): a writer killed with SIGKILL in the middle of appends.

A child process saves a store, signals readiness, then appends batches in a tight loop
(printing the number of each append it finished) until the parent kills it after a short
random delay. The parent then checks that

- the store opens, and its length is a committed length (a whole number of batches, at
  least every batch the child reported, at most one more);
- its content is exactly the first batches, in order (loaded whole and read lazily);
- ``gr.append`` works afterwards: the dead writer's lock is taken over, the uncommitted
  tail is overwritten, and every leaf ends exactly at its committed length.
"""

from __future__ import annotations

import json
import random
import signal
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import zarr
from _locks import is_locked
from _store_probes import kill_when_ready

import grumpy_arrow as gr
from grumpy_arrow.testing import assert_values_equal

ROWS = 200  # rows per batch
SCHEMA = ["molecule", "atom"]

pytestmark = pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")


def make_batch(k: int) -> gr.DataFrame:
    """Batch ``k``: every value encodes its batch and row, so order and content show."""
    ids = np.arange(k * ROWS, (k + 1) * ROWS)
    counts = (ids * 7 + k) % 60
    offsets = np.concatenate([[0], np.cumsum(counts)])
    atoms = np.concatenate([i + np.arange(c) / 1000 for i, c in zip(ids, counts, strict=True)])
    return gr.dataframe(
        {
            "molecule_id": ids,
            "molecule_name": [f"m{i}" if i % 5 else None for i in ids.tolist()],
            "molecule_tag": [i if i % 3 else [i, k] for i in ids.tolist()],
            "atom_x": gr.from_offsets(atoms, offsets),
        },
        schema=SCHEMA,
    )


def expected(batches: int) -> dict[str, list[Any]]:
    out: dict[str, list[Any]] = {}
    for k in range(batches):
        for name, values in make_batch(k).to_dict().items():
            out.setdefault(name, []).extend(values)
    return out


CHILD = """
import sys
sys.path.insert(0, sys.argv[3])
import grumpy_arrow as gr
from test_storage_crash import make_batch

path, compressor = sys.argv[1], sys.argv[2]
gr.save(make_batch(0), path, chunk_size=1000, compressor=compressor)
batches = [make_batch(k) for k in range(1, 200)]
print("ready", flush=True)
for k, batch in enumerate(batches, start=1):
    gr.append(batch, path)
    print(k, flush=True)
"""


def _short_leaves(path: Path) -> dict[str, tuple[int, int]]:
    """Leaves whose Zarr shape is below the committed length: (shape, committed). (Shapes
    grow geometrically, so a longer one is normal; only the manifest's length is data.)"""
    doc = json.loads((path / "grumpy.json").read_text())
    out = {}
    for name, spec in doc["leaves"].items():
        size = zarr.open_array(str(path), path=name, mode="r").shape[0]
        if size < spec["length"]:
            out[name] = (size, spec["length"])
    return out


_rng = random.Random(20240611)
RUNS = [("none", _rng.uniform(0.02, 0.5)) for _ in range(2)] + [("zstd", _rng.uniform(0.05, 0.4))]


@pytest.mark.parametrize(("compressor", "delay"), RUNS, ids=[f"{c}-{d:.2f}s" for c, d in RUNS])
def test_writer_killed_mid_append(compressor: str, delay: float, tmp_path: Path) -> None:
    path = tmp_path / "store"
    tests_dir = str(Path(__file__).resolve().parent)
    reported = kill_when_ready(CHILD, [str(path), compressor, tests_dir], delay, 30)
    done = reported[-1] if reported else 0  # appends the child finished (and said so)
    assert done < 199, "the child ran out of batches before it was killed"

    # The store is at a committed state: whole batches, in order.
    h = gr.open(path)
    assert len(h) % ROWS == 0
    batches = len(h) // ROWS
    assert done + 1 <= batches <= done + 2  # the save, every reported append, maybe one more
    got = gr.load(path)
    assert got.columns == ["molecule_id", "molecule_name", "molecule_tag", "atom_x"]
    assert got.schema == make_batch(0).schema
    assert got["molecule_tag"].is_union
    want = expected(batches)
    assert_values_equal(got.to_dict(), want)
    rows = np.random.default_rng(int(delay * 1000)).choice(len(h), 16, replace=False)
    assert_values_equal(h[rows].to_dict(), {c: [want[c][i] for i in rows] for c in want})

    # The next writer takes the dead writer's lock over and overwrites the tail.
    gr.append(make_batch(batches), path)
    assert not is_locked(path / "grumpy.lock")
    got = gr.load(path)
    assert len(got) == (batches + 1) * ROWS
    assert_values_equal(got.to_dict(), expected(batches + 1))
    assert _short_leaves(path) == {}
    h = gr.open(path)
    last = np.arange(batches * ROWS, (batches + 1) * ROWS)
    assert_values_equal(h[last].to_dict(), make_batch(batches).to_dict())
