"""Property tests for streams (docs/streaming.md): random data and random plans.

For random frames (molecules -> residues, 0..4 residues each), batch sizes, packing, shuffles
(rows, batch order, rows within batches, residues within molecules), seeds, epochs, world sizes,
ranks, ``even``, ``drop_last`` and prefetching:

- resuming: consuming ``k`` batches, saving ``state_dict()`` and loading it into a fresh
  stream yields exactly the remaining batches (the uninterrupted sequence), for every ``k``;
- ranks: every batch of the plan is seen by exactly one rank per epoch (``even=False``), all
  ranks yield the same count with ``even=True``, ``len`` equals what iteration yields;
- contents: a batch is one plan batch with its rows (and their residues) permuted only as
  asked, columns at the shuffled level stay aligned; packing keeps rows whole, greedily;
- a store (handle) streams exactly like the in-memory frame.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import grumpy_arrow as gr

SETTINGS = settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def frame(counts: list[int]) -> gr.DataFrame:
    """Molecule ``m`` has ``counts[m]`` residues ``100 * m + r``; ``residue_b == 10 * a``."""
    res = [[100 * m + r for r in range(k)] for m, k in enumerate(counts)]
    lists = pa.large_list(pa.int64())  # typed: an empty frame has nothing to infer from
    return gr.dataframe(
        {
            "molecule_id": pa.array(range(len(counts)), pa.int64()),
            "residue_a": pa.array(res, lists),
            "residue_b": pa.array([[10 * v for v in r] for r in res], lists),
        },
        schema=["molecule", "residue"],
    )


@st.composite
def plan_kwargs(draw: st.DrawFn) -> dict[str, Any]:
    """Keyword arguments of ``gr.stream`` (besides the source)."""
    shuffle = draw(st.sampled_from([None, True, "batches", "molecule", "residue"]))
    world_size = draw(st.integers(1, 4))
    return {
        "batch_size": draw(st.integers(1, 6)),
        "batch_on": draw(st.sampled_from([None, "residue"])),
        "shuffle": shuffle,
        "seed": None if shuffle is None else draw(st.integers(0, 2**32 - 1)),
        "epoch": draw(st.integers(0, 5)),
        "world_size": world_size,
        "rank": draw(st.integers(0, world_size - 1)),
        "even": draw(st.booleans()),
        "drop_last": draw(st.booleans()),
        "workers": draw(st.sampled_from([0, 0, 2])),
    }


COUNTS = st.lists(st.integers(0, 4), max_size=24)


def contents(stream: Any) -> list[dict[str, Any]]:
    return [b.to_dict() for b in stream]


def ids(batches: list[dict[str, Any]]) -> list[list[int]]:
    return [b["molecule_id"] for b in batches]


# -- resume -------------------------------------------------------------------------------


@SETTINGS
@given(counts=COUNTS, kw=plan_kwargs(), data=st.data())
def test_resume_reproduces_the_uninterrupted_sequence(
    counts: list[int], kw: dict[str, Any], data: st.DataObject
) -> None:
    df = frame(counts)
    full = contents(gr.stream(df, **kw))
    k = data.draw(st.integers(0, len(full)), label="k")
    st_a = gr.stream(df, **kw)
    it = iter(st_a)
    head = [next(it).to_dict() for _ in range(k)]
    state = st_a.state_dict()
    assert state["batches_consumed"] == k
    assert state["epoch"] == kw["epoch"]
    state = json.loads(json.dumps(state))  # it survives a checkpoint file
    fresh_kw = {**kw, "epoch": 0, "workers": data.draw(st.sampled_from([0, 2]), label="workers")}
    st_b = gr.stream(df, **fresh_kw)
    st_b.load_state_dict(state)
    assert st_b.epoch == kw["epoch"]
    assert head + contents(st_b) == full


@SETTINGS
@given(counts=COUNTS, kw=plan_kwargs(), data=st.data())
def test_resume_through_a_selection_and_apply(
    counts: list[int], kw: dict[str, Any], data: st.DataObject
) -> None:
    df = frame(counts)
    base = gr.stream(df, **kw)
    n = len(base)
    start = data.draw(st.integers(0, n), label="start")
    step = data.draw(st.integers(1, 3), label="step")
    cpu = data.draw(st.sampled_from([1, 3]), label="cpu")

    def ids_of(batch: gr.DataFrame) -> list[int]:
        return batch["molecule_id"].to_list()

    full = list(base[start::step].apply(ids_of, cpu=cpu))
    assert full == ids(contents(base))[start::step]
    k = data.draw(st.integers(0, len(full)), label="k")
    first = gr.stream(df, **kw)[start::step].apply(ids_of, cpu=cpu)
    it = iter(first)
    head = [next(it) for _ in range(k)]
    second = gr.stream(df, **kw)[start::step].apply(ids_of)
    second.load_state_dict(first.state_dict())
    assert head + list(second) == full


# -- ranks --------------------------------------------------------------------------------


@SETTINGS
@given(counts=COUNTS, kw=plan_kwargs())
def test_ranks_partition_the_plan(counts: list[int], kw: dict[str, Any]) -> None:
    df = frame(counts)
    world = kw["world_size"]
    one = {**kw, "world_size": 1, "rank": 0, "even": False}
    plan = ids(contents(gr.stream(df, **one)))  # every batch of the epoch, shuffled order
    per_rank = []
    for r in range(world):
        s = gr.stream(df, **{**kw, "rank": r})
        got = ids(contents(s))
        assert len(s) == len(got)
        assert got == plan[r::world][: len(got)]
        per_rank.append(got)
    if kw["even"]:
        assert {len(g) for g in per_rank} == {len(plan) // world}
    else:
        assert sorted(b for g in per_rank for b in g) == sorted(plan)
        if not kw["drop_last"]:
            assert sorted(m for g in per_rank for b in g for m in b) == list(range(len(counts)))


# -- contents -----------------------------------------------------------------------------


@SETTINGS
@given(counts=COUNTS, kw=plan_kwargs())
def test_batches_are_plan_batches_permuted_as_asked(counts: list[int], kw: dict[str, Any]) -> None:
    df = frame(counts)
    got = contents(gr.stream(df, **kw))
    again = contents(gr.stream(df, **kw))
    assert got == again  # same seed and epoch: same batches
    plain = {**kw, "shuffle": None, "seed": None}
    plan = ids(contents(gr.stream(df, **{**plain, "world_size": 1, "rank": 0, "even": False})))
    plan_sets = sorted(sorted(b) for b in plan)
    shuffle = kw["shuffle"]
    for batch in got:
        ms = batch["molecule_id"]
        if shuffle is True:  # rows of the epoch's permutation, packed whole
            total = sum(counts[m] for m in ms) if kw["batch_on"] else len(ms)
            assert len(ms) == len(set(ms)) and (total <= kw["batch_size"] or len(ms) == 1)
        else:  # a plan batch; its rows in order unless the molecule level is shuffled
            assert sorted(ms) in plan_sets
            if shuffle != "molecule":
                assert ms == sorted(ms)
        for m, ra, rb in zip(ms, batch["residue_a"], batch["residue_b"], strict=True):
            original = [100 * m + r for r in range(counts[m])]
            assert rb == [10 * v for v in ra]  # aligned at the residue level
            if shuffle == "residue":
                assert sorted(ra) == original
            else:
                assert ra == original
    if shuffle is None:
        mine = plan[kw["rank"] :: kw["world_size"]]
        assert ids(got) == mine[: len(got)]


@SETTINGS
@given(counts=COUNTS, batch_size=st.integers(1, 6), drop_last=st.booleans())
def test_packing_keeps_rows_whole_and_is_greedy(
    counts: list[int], batch_size: int, drop_last: bool
) -> None:
    df = frame(counts)
    batches = ids(contents(gr.stream(df, batch_size, batch_on="residue", drop_last=drop_last)))
    flat = [m for b in batches for m in b]
    assert flat == list(range(len(flat)))  # consecutive rows, none split or repeated
    dropped = list(range(len(flat), len(counts)))
    for b in batches:
        total = sum(counts[m] for m in b)
        assert len(b) == 1 or total <= batch_size
        nxt = b[-1] + 1
        if nxt < len(counts) and nxt not in dropped:
            assert total + counts[nxt] > batch_size  # greedy: the next row did not fit
    if dropped:
        assert drop_last
        assert sum(counts[m] for m in dropped) < batch_size
    elif drop_last and batches:
        assert sum(counts[m] for m in batches[-1]) >= batch_size


# -- stores -------------------------------------------------------------------------------

STORE_COUNTS = [int(c) for c in np.random.default_rng(7).integers(0, 5, 30)]


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("stream") / "s"
    gr.save(frame(STORE_COUNTS), path, chunk_size=16)
    return path


@SETTINGS
@given(kw=plan_kwargs(), data=st.data())
def test_a_store_streams_like_memory(store: Path, kw: dict[str, Any], data: st.DataObject) -> None:
    df = frame(STORE_COUNTS)
    expected = contents(gr.stream(df, **kw))
    source = data.draw(st.sampled_from(["path", "handle", "in_memory"]), label="source")
    if source == "path":
        s = gr.stream(str(store), **kw)
    elif source == "handle":
        s = gr.stream(gr.open(store), **kw)
    else:
        s = gr.stream(store, in_memory=True, **kw)
    assert len(s) == len(expected)
    k = data.draw(st.integers(0, len(expected)), label="k")
    it = iter(s)
    head = [next(it).to_dict() for _ in range(k)]
    fresh = gr.stream(gr.open(store), **kw)
    fresh.load_state_dict(s.state_dict())
    assert head + contents(fresh) == expected
