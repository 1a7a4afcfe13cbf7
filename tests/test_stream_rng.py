"""Seeded transforms (issue 14, item 4): ``st.apply(fn)`` passes ``rng=`` to a transform
that takes it: ``numpy.random.default_rng([seed, epoch, position, 1, k])`` for the batch at
plan position ``position`` and the ``k``-th transform. Augmentations are then identical for
``cpu=1``, ``cpu=2`` (threads and processes), after a resume and in ``st.batch(i)``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

import grumpy_arrow as gr

FORK_WARNING = "ignore:.*fork.*:DeprecationWarning"


def ragged(n: int) -> gr.GrumpyArray:
    return gr.array([[float(i)] * (i % 4 + 1) for i in range(n)])


def jitter(batch: gr.GrumpyArray, rng: np.random.Generator) -> list[list[float]]:
    """Add noise drawn from ``rng`` to every value (module level: picklable)."""
    rows = batch.to_list()
    noise = rng.normal(size=sum(len(r) for r in rows)).tolist()
    out, at = [], 0
    for r in rows:
        out.append([v + noise[at + j] for j, v in enumerate(r)])
        at += len(r)
    return out


def draw(batch: Any, *, rng: np.random.Generator) -> tuple[Any, int]:
    """The batch and one integer from ``rng`` (keyword-only ``rng``)."""
    return batch, int(rng.integers(0, 2**62))


def label(pair: tuple[Any, int], rng: np.random.Generator) -> tuple[int, int]:
    """A second seeded transform: its own generator."""
    return pair[1], int(rng.integers(0, 2**62))


def plain(pair: tuple[Any, int]) -> int:
    """No ``rng`` parameter: called with the batch only."""
    return pair[1]


def expected(seed: int, epoch: int, positions: list[int], k: int) -> list[int]:
    return [
        int(np.random.default_rng([seed, epoch, p, 1, k]).integers(0, 2**62)) for p in positions
    ]


def test_the_generator_is_a_function_of_seed_epoch_position_and_transform() -> None:
    st = gr.stream(ragged(20), 4, shuffle="batches", seed=7, epoch=3)
    positions = [int(p) for p in np.random.default_rng([7, 3]).permutation(5)]
    got = list(st.apply(draw).apply(label))
    assert [g[0] for g in got] == expected(7, 3, positions, 0)
    assert [g[1] for g in got] == expected(7, 3, positions, 1)
    # A sample-level shuffle: the position is the batch's place in the epoch.
    got = [d for _, d in gr.stream(ragged(20), 4, shuffle=True, seed=7).apply(draw)]
    assert got == expected(7, 0, [0, 1, 2, 3, 4], 0)
    # No seed: seed 0.
    got = [d for _, d in gr.stream(ragged(20), 4).apply(draw)]
    assert got == expected(0, 0, [0, 1, 2, 3, 4], 0)
    # A transform without an rng parameter is called with the batch only.
    assert list(gr.stream(ragged(8), 4).apply(draw, plain)) == expected(0, 0, [0, 1], 0)


@pytest.mark.filterwarnings(FORK_WARNING)
def test_augmentations_are_the_same_for_every_cpu_and_executor(tmp_path: Path) -> None:
    path = tmp_path / "s.gr"
    gr.save(ragged(200), path, chunk_size=16, shard_size=64)
    st = gr.stream(str(path), 8, shuffle=True, seed=4)
    one = list(st.apply(jitter))
    assert len(one) == 25
    assert one == list(st.apply(jitter, cpu=2))
    assert one == list(st.apply(jitter, cpu=2, executor="process"))
    assert one == list(gr.stream(str(path), 8, shuffle=True, seed=4, workers=2).apply(jitter))
    assert [st.apply(jitter).batch(i) for i in (0, 7, 24)] == [one[0], one[7], one[24]]
    # The noise is really drawn: values moved, by different amounts per batch.
    first = st[0:1]
    rows = next(iter(first)).to_list()
    shifts = {round(a[0] - b[0], 9) for a, b in zip(one[0], rows, strict=True)}
    assert one[0] != rows and len(shifts) > 1
    # Another epoch draws other noise.
    st.set_epoch(1)
    assert list(st.apply(jitter)) != one


def test_a_resumed_stream_draws_the_same_augmentations(tmp_path: Path) -> None:
    path = tmp_path / "s.gr"
    gr.save(ragged(100), path, chunk_size=16, shard_size=64)
    st = gr.stream(str(path), 6, shuffle=True, seed=2, epoch=1).apply(jitter, cpu=2)
    full = list(gr.stream(str(path), 6, shuffle=True, seed=2, epoch=1).apply(jitter))
    it = iter(st)
    head = [next(it) for _ in range(5)]
    state = st.state_dict()
    fresh = gr.stream(str(path), 6, shuffle=True, seed=2).apply(jitter)
    fresh.load_state_dict(state)
    assert head + list(fresh) == full
