"""``gr.mix`` (issue 14, item 6): several streams interleaved by weight, deterministically.

Schedules are checked against draws worked out by hand from the documented generator
(``numpy.random.default_rng([seed, epoch, 2])``), and structurally: every batch of every
source once under ``stop="all"``, proportions under ``stop="first"``, resume equality,
new schedules per epoch, refused parameters and states.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

import grumpy_arrow as gr
from grumpy_arrow.streaming.mix import schedule


def numbers(start: int, n: int) -> gr.GrumpyArray:
    return gr.array(list(range(start, start + n)))


def firsts(batches: Any) -> list[int]:
    return [b.to_list()[0] for b in batches]


def reference(
    lengths: list[int], weights: list[float], seed: int, epoch: int, stop: str
) -> list[int]:
    """The schedule drawn one batch at a time (the definition the vectorised one meets)."""
    rng = np.random.default_rng([seed, epoch, 2])
    w = np.asarray(weights, dtype=float) / sum(weights)
    left = list(lengths)
    live = [x > 0 and n > 0 for x, n in zip(w, left, strict=True)]
    if stop == "first" and any(x > 0 and n == 0 for x, n in zip(w, left, strict=True)):
        return []
    out: list[int] = []
    while any(live):
        p = np.where(live, w, 0.0)
        edges = np.cumsum(p / p.sum())
        block = rng.random(sum(n for n, a in zip(left, live, strict=True) if a))
        ended = False
        for u in block:
            k = min(int(np.searchsorted(edges, u, side="right")), len(p) - 1)
            out.append(k)
            left[k] -= 1
            if left[k] == 0:
                ended = True
                break
        if stop == "first" and ended:
            return out
        live = [a and n > 0 for a, n in zip(live, left, strict=True)]
    return out


@pytest.mark.parametrize("stop", ["first", "all"])
@pytest.mark.parametrize(
    ("lengths", "weights"),
    [
        ([10, 5], [0.7, 0.3]),
        ([40, 40, 3], [1, 1, 1]),
        ([7, 0, 9], [2, 5, 1]),
        ([3], [1]),
        ([30, 30], [1, 0]),
    ],
)
def test_schedule_matches_the_draw_by_draw_definition(
    lengths: list[int], weights: list[float], stop: str
) -> None:
    for seed, epoch in ((0, 0), (5, 3)):
        w = np.asarray(weights, dtype=float) / sum(weights)
        got = schedule(lengths, w, seed, epoch, stop).tolist()
        assert got == reference(lengths, weights, seed, epoch, stop)
        counts = np.bincount(got, minlength=len(lengths)).tolist() if got else [0] * len(lengths)
        assert all(c <= n for c, n in zip(counts, lengths, strict=True))
        if stop == "all":  # every batch of every source with a weight, once
            assert counts == [n if x > 0 else 0 for n, x in zip(lengths, weights, strict=True)]


def test_every_batch_once_and_in_each_sources_order(tmp_path: Path) -> None:
    path = tmp_path / "b.gr"
    gr.save(numbers(1000, 60), path, chunk_size=8, shard_size=32)
    a = gr.stream(numbers(0, 40), batch_size=4, shuffle=True, seed=1)
    b = gr.stream(str(path), batch_size=3)
    m = gr.mix([a, b], [0.2, 0.8], seed=9, stop="all")
    got = [b_.to_list() for b_ in m]
    assert len(got) == len(m) == 10 + 20
    from_a = [x for x in got if x[0] < 1000]
    from_b = [x for x in got if x[0] >= 1000]
    assert from_a == [x.to_list() for x in gr.stream(numbers(0, 40), 4, shuffle=True, seed=1)]
    assert from_b == [[1000 + 3 * i + j for j in range(3)] for i in range(20)]
    sched = m.schedule().tolist()
    assert [0 if x[0] < 1000 else 1 for x in got] == sched
    assert sched == reference([10, 20], [0.2, 0.8], 9, 0, "all")


def test_first_stop_keeps_the_proportions() -> None:
    a = gr.stream(numbers(0, 4000), batch_size=1)
    b = gr.stream(numbers(10_000, 4000), batch_size=1)
    m = gr.mix([a, b], [0.75, 0.25], seed=4)
    sched = m.schedule()
    assert np.bincount(sched).tolist()[0] == 4000  # a ran out first, with its last batch
    share = float(np.mean(sched == 0))
    assert 0.72 < share < 0.78
    assert len(list(m)) == len(sched)


def test_epochs_resume_and_random_access() -> None:
    def make() -> Any:
        a = gr.stream(numbers(0, 30), batch_size=2, shuffle=True, seed=3)
        b = gr.stream(numbers(100, 21), batch_size=3)
        return gr.mix([a, b], [0.5, 0.5], seed=11, stop="all")

    m = make()
    e0 = firsts(m)
    assert firsts(m) == e0  # iterating again replays the epoch
    m.set_epoch(1)
    e1 = firsts(m)
    assert sorted(e0) != e0 and e1 != e0 and m.epoch == 1
    assert [a.to_list() for a in (m.batch(0), m.batch(5), m.batch(-1))] == [
        [x.to_list() for x in m][i] for i in (0, 5, -1)
    ]
    # Resume mid-epoch from a fresh mix.
    m.set_epoch(2)
    it = iter(m)
    head = [next(it).to_list()[0] for _ in range(6)]
    state = m.state_dict()
    assert state["batches_consumed"] == 6 and len(state["sources"]) == 2
    fresh = make()
    fresh.load_state_dict(state)
    assert fresh.epoch == 2
    m2 = make()
    m2.set_epoch(2)
    assert head + firsts(fresh) == firsts(m2)


@pytest.mark.parametrize(
    ("args", "kwargs", "error", "message"),
    [
        ((), {"seed": 0}, ValueError, "at least one stream"),
        ((["x"],), {"seed": 0}, TypeError, "mix takes gr.stream objects, got str"),
        (("two", [1.0]), {"seed": 0}, ValueError, "2 streams but 1 weights"),
        (("two", [1.0, -1.0]), {"seed": 0}, ValueError, "weights must be finite, >= 0"),
        (("two", [0.0, 0.0]), {"seed": 0}, ValueError, "not all 0"),
        (("two", None), {}, ValueError, "mix needs a seed"),
        (("two", None), {"seed": 0, "stop": "longest"}, ValueError, "stop must be 'first'"),
    ],
)
def test_invalid_parameters_are_refused(
    args: tuple[Any, ...], kwargs: dict[str, Any], error: type, message: str
) -> None:
    two = [gr.stream(numbers(0, 4), 2), gr.stream(numbers(10, 4), 2)]
    args = tuple(two if a == "two" else a for a in args)
    if not args:
        args = ([],)
    with pytest.raises(error, match=message):
        gr.mix(*args, **kwargs)


def test_a_state_of_another_mix_is_refused() -> None:
    two = [gr.stream(numbers(0, 4), 2), gr.stream(numbers(10, 4), 2)]
    m = gr.mix(two, [1, 3], seed=1)
    state = m.state_dict()
    with pytest.raises(ValueError, match="seed=1; this mix has seed=2"):
        gr.mix(two, [1, 3], seed=2).load_state_dict(state)
    with pytest.raises(ValueError, match="weights="):
        gr.mix(two, [1, 1], seed=1).load_state_dict(state)
    with pytest.raises(ValueError, match="holds 2 sources; this mix has 1"):
        gr.mix(two[:1], seed=1).load_state_dict(state)
