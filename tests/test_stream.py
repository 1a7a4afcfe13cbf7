"""Streaming (docs/streaming.md): ``gr.stream`` and ``Stream``, with exact expected batches.

Every must-show runs on in-memory sources and on stores (a local path, a ``gr.open`` handle
and a ``memory://`` URL), parametrized by the ``source`` fixture:

- row batches (``10 / 4 -> 3``, ``drop_last -> 2``, ``7 / 3 -> [[0,1,2],[3,4,5],[6]]``) and
  frame batches that keep the schema;
- seeded shuffles (exact orders, computed once and checked to be genuine permutations),
  epochs, a shuffle without a seed and other invalid parameters;
- data-parallel ranks (disjoint, covering, ``even=True``);
- ``batch_on`` packing (whole molecules, an oversized row alone, union rows as one entity,
  ``drop_last``);
- ``shuffle="<level>"`` (rows within batches, children within parents, aligned columns);
- selections ``st[i]``, ``st[a:b]``, ``st[[i, j]]`` and their composition;
- ``apply`` (ordered, parallel on threads, errors with the batch index, process executor),
  ``workers`` prefetch;
- resume through ``state_dict`` / ``load_state_dict``, ``set_epoch``;
- ``len`` from metadata (no value leaf read), ``in_memory=True``, pickling.

Speed is never asserted (benchmarks/ and docs/performance.md): parallelism is checked by the threads a transform ran on.
The resume property (random plans) is in ``test_stream_properties.py``; PyTorch in
``test_torch.py``.
"""

from __future__ import annotations

import itertools
import json
import pickle
import threading
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import fsspec
import numpy as np
import pytest

import grumpy_arrow as gr
from grumpy_arrow.errors import OutOfBoundsError

SCHEMA2 = ["molecule", "residue"]
SCHEMA3 = ["molecule", "residue", "atom"]
FORK_WARNING = "ignore:.*fork.*:DeprecationWarning"  # Python >= 3.12 warns on fork + threads

# -- data and helpers ---------------------------------------------------------------------


def numbers(n: int) -> gr.GrumpyArray:
    """``n`` flat rows ``0 .. n-1``."""
    return gr.array(list(range(n)))


def ragged(n: int) -> gr.GrumpyArray:
    """``n`` ragged float rows: row ``i`` holds ``i % 5 + 1`` copies of ``i``."""
    return gr.array([[float(i)] * (i % 5 + 1) for i in range(n)])


RESIDUES8 = [3, 1, 4, 2, 5, 0, 3, 2]


def frame8() -> gr.DataFrame:
    """8 molecules -> residues -> 2 atoms. ``residue_a[m][r] == 100 * m + r``,
    ``residue_b == residue_a * 10`` and ``atom_x[m][r] == [residue_a, residue_a + 0.5]``."""
    res = [[100 * m + r for r in range(k)] for m, k in enumerate(RESIDUES8)]
    return gr.dataframe(
        {
            "molecule_id": list(range(8)),
            "molecule_name": [f"m{m}" for m in range(8)],
            "residue_a": res,
            "residue_b": [[10 * v for v in r] for r in res],
            "atom_x": [[[float(v), v + 0.5] for v in r] for r in res],
        },
        schema=SCHEMA3,
    )


def packing_frame() -> gr.DataFrame:
    """5 molecules with 2, 3, 6, 1, 1 residues (``residue_a[m] == [10 * m + r ...]``)."""
    counts = [2, 3, 6, 1, 1]
    return gr.dataframe(
        {
            "molecule_id": list(range(5)),
            "molecule_tag": [0, [1, -1], 2, [3, -3], 4],  # a union column at the molecule level
            "residue_a": [[10 * m + r for r in range(k)] for m, k in enumerate(counts)],
        },
        schema=SCHEMA2,
    )


def content(batch: Any) -> Any:
    """A batch as comparable Python values."""
    if isinstance(batch, gr.DataFrame):
        return batch.to_dict()
    assert isinstance(batch, gr.GrumpyArray), type(batch)
    return batch.to_list()


def contents(stream: Any) -> list[Any]:
    return [content(b) for b in stream]


def ids(stream: Any) -> list[list[int]]:
    """The molecule ids (frames) or the rows (flat arrays) of every batch."""
    out = []
    for b in stream:
        out.append(b["molecule_id"].to_list() if isinstance(b, gr.DataFrame) else b.to_list())
    return out


SOURCE_KINDS = ["memory", "path", "handle", "url"]


@pytest.fixture(params=SOURCE_KINDS)
def source(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Callable[[Any], Any]]:
    """``source(obj)``: ``obj`` itself, or a store of it as a path, a handle or a URL."""
    kind = request.param
    counter = itertools.count()
    urls: list[str] = []

    def make(obj: Any) -> Any:
        if kind == "memory":
            return obj
        if kind == "url":
            where = f"memory://grumpy-stream-{uuid.uuid4().hex}"
            urls.append(where)
        else:
            where = str(tmp_path / f"store{next(counter)}")
        gr.save(obj, where)
        return gr.open(where) if kind == "handle" else where

    yield make
    fs = fsspec.filesystem("memory")
    for url in urls:
        fs.rm(url, recursive=True)


# -- 1. row batches -----------------------------------------------------------------------


def test_ten_rows_batches_of_four(source: Callable[[Any], Any]) -> None:
    src = source(numbers(10))
    st = gr.stream(src, batch_size=4)
    assert len(st) == 3
    assert ids(st) == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
    dropped = gr.stream(src, batch_size=4, drop_last=True)
    assert len(dropped) == 2
    assert ids(dropped) == [[0, 1, 2, 3], [4, 5, 6, 7]]


def test_seven_rows_batches_of_three(source: Callable[[Any], Any]) -> None:
    st = gr.stream(source(numbers(7)), batch_size=3)
    batches = list(st)
    assert all(isinstance(b, gr.GrumpyArray) for b in batches)
    assert [b.to_list() for b in batches] == [[0, 1, 2], [3, 4, 5], [6]]
    assert len(st) == 3
    # a full final batch is kept by drop_last
    assert ids(gr.stream(source(numbers(6)), 3, drop_last=True)) == [[0, 1, 2], [3, 4, 5]]


def test_ragged_rows_and_frames_keep_kind_and_schema(source: Callable[[Any], Any]) -> None:
    x = ragged(7)
    assert contents(gr.stream(source(x), 3)) == [x[0:3].to_list(), x[3:6].to_list(), [[6.0] * 2]]
    df = frame8()
    batches = list(gr.stream(source(df), 3))
    assert [len(b) for b in batches] == [3, 3, 2]
    for b, (start, stop) in zip(batches, [(0, 3), (3, 6), (6, 8)], strict=True):
        assert isinstance(b, gr.DataFrame)
        assert b.schema == df.schema
        assert b.columns == df.columns
        assert b.to_dict() == df[start:stop].to_dict()


def test_batch_size_larger_than_the_data_and_empty_data(source: Callable[[Any], Any]) -> None:
    assert ids(gr.stream(source(numbers(3)), 10)) == [[0, 1, 2]]
    assert len(gr.stream(source(numbers(3)), 10, drop_last=True)) == 0
    assert list(gr.stream(source(numbers(3)), 10, drop_last=True)) == []


def test_columns_selects_frame_columns(source: Callable[[Any], Any]) -> None:
    df = frame8()
    batches = list(gr.stream(source(df), 4, columns=["residue_a", "molecule_id"]))
    assert [sorted(b.columns) for b in batches] == [["molecule_id", "residue_a"]] * 2
    assert [b["residue_a"].to_list() for b in batches] == [
        df["residue_a"][0:4].to_list(),
        df["residue_a"][4:8].to_list(),
    ]


# -- 2. shuffles, seeds, epochs, invalid parameters ---------------------------------------

# Batch-order permutations of 8 batches (24 rows, batch 3), computed once from the plan's
# generator (numpy default_rng([seed, epoch])) and checked to be non-identity.
ORDER_SEED0_EPOCH0 = [2, 4, 3, 6, 5, 0, 1, 7]
ORDER_SEED0_EPOCH1 = [1, 3, 7, 6, 0, 4, 2, 5]
ORDER_SEED1_EPOCH0 = [5, 0, 1, 4, 2, 6, 3, 7]

# Row permutations of 24 rows (sample-level shuffle=True), computed once from the same
# generator (numpy default_rng([seed, epoch]).permutation(24)).
ROWS_SEED0_EPOCH0 = [
    18,
    4,
    21,
    10,
    11,
    2,
    22,
    6,
    23,
    3,
    20,
    8,
    0,
    16,
    12,
    19,
    13,
    7,
    5,
    17,
    14,
    9,
    1,
    15,
]
ROWS_SEED0_EPOCH1 = [
    11,
    17,
    19,
    16,
    20,
    14,
    1,
    23,
    3,
    4,
    0,
    15,
    22,
    13,
    10,
    18,
    9,
    7,
    21,
    6,
    8,
    12,
    2,
    5,
]


def batches_of(order: list[int], size: int = 3) -> list[list[int]]:
    return [list(range(size * p, size * p + size)) for p in order]


def test_hard_coded_orders_are_genuine_permutations() -> None:
    for order in (ORDER_SEED0_EPOCH0, ORDER_SEED0_EPOCH1, ORDER_SEED1_EPOCH0):
        assert sorted(order) == list(range(8))
        assert order != list(range(8))
    orders = {tuple(ORDER_SEED0_EPOCH0), tuple(ORDER_SEED0_EPOCH1), tuple(ORDER_SEED1_EPOCH0)}
    assert len(orders) == 3


def test_same_seed_same_order_other_seed_or_epoch_other_order(
    source: Callable[[Any], Any],
) -> None:
    src = source(numbers(24))
    first = ids(gr.stream(src, 3, shuffle="batches", seed=0))
    again = ids(gr.stream(src, 3, shuffle="batches", seed=0))
    assert first == again == batches_of(ORDER_SEED0_EPOCH0)
    assert ids(gr.stream(src, 3, shuffle="batches", seed=0, epoch=1)) == batches_of(
        ORDER_SEED0_EPOCH1
    )
    assert ids(gr.stream(src, 3, shuffle="batches", seed=1)) == batches_of(ORDER_SEED1_EPOCH0)
    # iterating the same stream twice gives the same epoch again
    st = gr.stream(src, 3, shuffle="batches", seed=0)
    assert ids(st) == ids(st) == first


def test_set_epoch_changes_the_order(source: Callable[[Any], Any]) -> None:
    st = gr.stream(source(numbers(24)), 3, shuffle="batches", seed=0)
    assert st.epoch == 0
    st.set_epoch(1)
    assert st.epoch == 1
    assert ids(st) == batches_of(ORDER_SEED0_EPOCH1)
    st.set_epoch(0)
    assert ids(st) == batches_of(ORDER_SEED0_EPOCH0)


def test_many_epochs_are_permutations_of_the_plan() -> None:
    st = gr.stream(numbers(24), 3, shuffle="batches", seed=123)
    seen = set()
    for epoch in range(6):
        st.set_epoch(epoch)
        got = ids(st)
        assert sorted(got) == batches_of(list(range(8)))
        seen.add(tuple(map(tuple, got)))
    assert len(seen) == 6


@pytest.mark.parametrize("shuffle", [True, "molecule", "residue"])
def test_shuffle_without_seed_is_refused(shuffle: Any) -> None:
    with pytest.raises(ValueError, match="seed"):
        gr.stream(frame8(), 3, shuffle=shuffle)


def test_no_shuffle_needs_no_seed() -> None:
    assert ids(gr.stream(numbers(5), 2, shuffle=False)) == [[0, 1], [2, 3], [4]]
    assert ids(gr.stream(numbers(5), 2, shuffle=None)) == [[0, 1], [2, 3], [4]]


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"batch_size": 0}, "batch_size"),
        ({"batch_size": -3}, "batch_size"),
        ({"batch_size": 2.5}, "batch_size"),
        ({"world_size": 4, "rank": 4}, "rank"),
        ({"world_size": 4, "rank": 7}, "rank"),
        ({"world_size": 2, "rank": -1}, "rank"),
        ({"world_size": 0}, "world_size"),
        ({"workers": -1}, "workers"),
    ],
)
def test_invalid_stream_parameters(kwargs: dict[str, Any], name: str) -> None:
    with pytest.raises(ValueError, match=name):
        gr.stream(numbers(10), **kwargs)


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"executor": "bogus"}, "executor"),
        ({"executor": "process", "cpu": 0}, "cpu"),
        ({"cpu": -2}, "cpu"),
        ({"prefetch": -1}, "prefetch"),
    ],
)
def test_invalid_apply_parameters(kwargs: dict[str, Any], name: str) -> None:
    with pytest.raises(ValueError, match=name):
        gr.stream(numbers(10), 3).apply(lambda b: b, **kwargs)
    with pytest.raises(TypeError, match="callable"):
        gr.stream(numbers(10), 3).apply(3)  # type: ignore[arg-type]


def test_unknown_levels_are_refused() -> None:
    with pytest.raises(ValueError, match="'nope'"):
        len(gr.stream(frame8(), 3, batch_on="nope"))
    with pytest.raises(ValueError, match="'nope'"):
        list(gr.stream(frame8(), 3, shuffle="nope", seed=0))
    with pytest.raises(ValueError, match="batch_on='residue'"):
        len(gr.stream(numbers(5), 3, batch_on="residue"))  # an array has no level names
    with pytest.raises(TypeError, match="list"):
        gr.stream([1, 2, 3], 2)


@pytest.mark.parametrize("seed", [-1, 1.7, "a"])
def test_invalid_seed_is_refused_naming_seed(seed: Any) -> None:
    with pytest.raises((ValueError, TypeError), match="seed"):
        list(gr.stream(numbers(10), 3, shuffle=True, seed=seed))


def test_shuffle_depth_out_of_range_names_shuffle() -> None:
    x = gr.array([[1, 2], [3], [4, 5, 6]])
    with pytest.raises(ValueError, match="shuffle"):
        list(gr.stream(x, 2, shuffle=2, seed=0))


# -- 3. data-parallel ranks ---------------------------------------------------------------


@pytest.mark.parametrize("shuffle", [None, "batches", True])
def test_ranks_are_disjoint_and_cover_all_rows(source: Callable[[Any], Any], shuffle: Any) -> None:
    src = source(numbers(24))
    full = ids(gr.stream(src, 3, shuffle=shuffle, seed=0))
    per_rank = [
        ids(gr.stream(src, 3, shuffle=shuffle, seed=0, world_size=4, rank=r)) for r in range(4)
    ]
    assert [len(b) for b in per_rank] == [2, 2, 2, 2]
    # rank r takes positions r, r + 4 of the (shuffled) plan
    assert per_rank == [[full[r], full[r + 4]] for r in range(4)]
    rows = sorted(v for batches in per_rank for b in batches for v in b)
    assert rows == list(range(24))
    if shuffle is None:
        assert per_rank[1] == [[3, 4, 5], [15, 16, 17]]
    elif shuffle == "batches":
        assert per_rank[1] == batches_of([ORDER_SEED0_EPOCH0[1], ORDER_SEED0_EPOCH0[5]])
    else:  # batches 1 and 5 of the epoch's row permutation
        assert per_rank[1] == [ROWS_SEED0_EPOCH0[3:6], ROWS_SEED0_EPOCH0[15:18]]


@pytest.mark.parametrize("shuffle", [None, "batches", True])
def test_uneven_ranks_and_even(source: Callable[[Any], Any], shuffle: Any) -> None:
    src = source(numbers(30))  # 10 batches of 3 over 4 ranks
    kw: dict[str, Any] = {"shuffle": shuffle, "seed": 5}
    uneven = [gr.stream(src, 3, world_size=4, rank=r, **kw) for r in range(4)]
    assert [len(s) for s in uneven] == [3, 3, 2, 2]
    assert [len(ids(s)) for s in uneven] == [3, 3, 2, 2]
    rows = sorted(v for s in uneven for b in ids(s) for v in b)
    assert rows == list(range(30))  # exactly once
    even = [gr.stream(src, 3, world_size=4, rank=r, even=True, **kw) for r in range(4)]
    assert [len(s) for s in even] == [2, 2, 2, 2]
    got = [ids(s) for s in even]
    assert [len(g) for g in got] == [2, 2, 2, 2]
    seen = [v for g in got for b in g for v in b]
    assert len(seen) == len(set(seen)) == 24
    full = ids(gr.stream(src, 3, **kw))
    assert sorted(tuple(b) for g in got for b in g) == sorted(tuple(b) for b in full[:8])


def test_ranks_with_packing_cover_all_molecules(source: Callable[[Any], Any]) -> None:
    src = source(frame8())
    kw: dict[str, Any] = {"batch_on": "residue", "shuffle": "residue", "seed": 9}
    seen = [
        v for r in range(3) for b in ids(gr.stream(src, 4, world_size=3, rank=r, **kw)) for v in b
    ]
    assert sorted(seen) == list(range(8))


# -- 4. batch_on packing ------------------------------------------------------------------


def test_batch_on_keeps_molecules_whole(source: Callable[[Any], Any]) -> None:
    df = packing_frame()  # residues per molecule: 2, 3, 6, 1, 1
    st = gr.stream(source(df), 4, batch_on="residue")
    assert len(st) == 4
    batches = list(st)
    # 2 (+3 would pass 4) | 3 | 6 (oversized, alone) | 1 + 1
    assert [b["molecule_id"].to_list() for b in batches] == [[0], [1], [2], [3, 4]]
    for b, (start, stop) in zip(batches, [(0, 1), (1, 2), (2, 3), (3, 5)], strict=True):
        assert b.to_dict() == df[start:stop].to_dict()
    assert batches[2]["residue_a"].to_list() == [[20, 21, 22, 23, 24, 25]]
    assert batches[3].to_dict() == {
        "molecule_id": [3, 4],
        "molecule_tag": [[3, -3], 4],
        "residue_a": [[30], [40]],
    }


def test_batch_on_packs_greedily_up_to_batch_size(source: Callable[[Any], Any]) -> None:
    df = packing_frame()
    assert ids(gr.stream(source(df), 5, batch_on="residue")) == [[0, 1], [2], [3, 4]]
    assert ids(gr.stream(source(df), 100, batch_on="residue")) == [[0, 1, 2, 3, 4]]
    assert ids(gr.stream(source(df), 1, batch_on="residue")) == [[0], [1], [2], [3], [4]]
    # the outer level counts rows: the plain row plan
    assert ids(gr.stream(source(df), 2, batch_on="molecule")) == [[0, 1], [2, 3], [4]]


def test_batch_on_drop_last(source: Callable[[Any], Any]) -> None:
    df = packing_frame()
    # the final batch (molecules 3, 4) holds 2 < 4 residues: dropped
    st = gr.stream(source(df), 4, batch_on="residue", drop_last=True)
    assert len(st) == 3
    assert ids(st) == [[0], [1], [2]]
    # a final batch reaching batch_size (here the oversized molecule 2 at batch 6) is kept
    st = gr.stream(source(df[0:3]), 5, batch_on="residue", drop_last=True)
    assert ids(st) == [[0, 1], [2]]


def test_batch_on_depth_with_union_rows_counting_one(source: Callable[[Any], Any]) -> None:
    u = gr.array([1, [2, 3], 4, [5, 6, 7], 8, 9, [10], [11, 12, 13, 14, 15]])
    assert u.is_union
    st = gr.stream(source(u), 3, batch_on=1)
    assert len(st) == 5
    assert contents(st) == [
        [1, [2, 3]],  # 1 + 2
        [4],  # 1 (+3 would pass 3)
        [[5, 6, 7]],  # 3
        [8, 9, [10]],  # 1 + 1 + 1
        [[11, 12, 13, 14, 15]],  # 5: oversized, alone
    ]
    # the last batch holds 5 >= 3 entities: drop_last keeps it
    assert len(gr.stream(source(u), 3, batch_on=1, drop_last=True)) == 5
    # ... and drops an under-full one
    assert contents(gr.stream(source(u[0:5]), 3, batch_on=1, drop_last=True)) == [
        [1, [2, 3]],
        [4],
        [[5, 6, 7]],
    ]


def test_batch_on_level_with_union_residues(source: Callable[[Any], Any]) -> None:
    df = gr.dataframe(
        {
            "molecule_id": [0, 1, 2, 3],
            "residue_u": [[1, [2, 3]], [[4, 5], 6, 7], [8], [[9, 10, 11, 12, 13]]],
            "atom_x": [[[1], [2, 3]], [[4, 5], [6], [7]], [[8]], [[9, 10, 11, 12, 13]]],
        },
        schema=SCHEMA3,
    )
    # residues per molecule 2, 3, 1, 1 (a scalar residue counts one); atoms 3, 4, 1, 5
    assert ids(gr.stream(source(df), 3, batch_on="residue")) == [[0], [1], [2, 3]]
    assert ids(gr.stream(source(df), 3, batch_on="atom")) == [[0], [1], [2], [3]]
    assert ids(gr.stream(source(df), 4, batch_on="atom")) == [[0], [1], [2], [3]]
    assert ids(gr.stream(source(df), 6, batch_on="atom")) == [[0], [1, 2], [3]]
    batch = gr.stream(source(df), 3, batch_on="residue")[2].batch(0)
    assert batch.to_dict() == df[2:4].to_dict()


# -- 5. shuffle="<level>" -----------------------------------------------------------------


def test_shuffle_outer_level_permutes_rows_within_batches(source: Callable[[Any], Any]) -> None:
    df = frame8()
    st = gr.stream(source(df), 3, shuffle="molecule", seed=3)
    got = ids(st)
    # computed once: the batch order is shuffled too, and rows are permuted within batches
    assert got == [[7, 6], [5, 3, 4], [2, 1, 0]]
    assert ids(gr.stream(source(df), 3, shuffle="molecule", seed=3)) == got
    assert sorted(sorted(b) for b in got) == [[0, 1, 2], [3, 4, 5], [6, 7]]
    for b in st:  # each row keeps all of its columns
        for j, m in enumerate(b["molecule_id"].to_list()):
            assert b[j].to_dict() == df[m].to_dict()
    other = ids(gr.stream(source(df), 3, shuffle="molecule", seed=3, epoch=1))
    assert other != got
    assert sorted(sorted(b) for b in other) == [[0, 1, 2], [3, 4, 5], [6, 7]]


def _check_residue_alignment(df: gr.DataFrame, batch: gr.DataFrame) -> list[list[int]]:
    """Each molecule of ``batch`` holds a permutation of its residues, the same for every
    residue and atom column; returns the residue positions (``residue_a % 100``)."""
    ra = batch["residue_a"].to_list()
    assert batch["residue_b"].to_list() == [[10 * v for v in r] for r in ra]
    assert batch["atom_x"].to_list() == [[[float(v), v + 0.5] for v in r] for r in ra]
    for m, r, name in zip(
        batch["molecule_id"].to_list(), ra, batch["molecule_name"].to_list(), strict=True
    ):
        assert name == f"m{m}"
        assert sorted(r) == df["residue_a"][m].to_list()
        assert all(v // 100 == m for v in r)
    return [[v % 100 for v in r] for r in ra]


def test_shuffle_inner_level_permutes_children_aligned(source: Callable[[Any], Any]) -> None:
    df = frame8()
    st = gr.stream(source(df), 3, shuffle="residue", seed=3)
    batches = list(st)
    # the molecules stay in order inside a batch; the batch order is shuffled
    assert ids(batches) == [[6, 7], [3, 4, 5], [0, 1, 2]]
    perms = [_check_residue_alignment(df, b) for b in batches]
    # computed once; at least one molecule is genuinely permuted
    assert perms == [
        [[2, 1, 0], [0, 1]],
        [[1, 0], [1, 3, 0, 2, 4], []],
        [[0, 1, 2], [0], [0, 3, 1, 2]],
    ]
    assert contents(gr.stream(source(df), 3, shuffle="residue", seed=3)) == contents(batches)
    other = list(gr.stream(source(df), 3, shuffle="residue", seed=3, epoch=1))
    assert [_check_residue_alignment(df, b) for b in other] != perms


def test_shuffle_innermost_level_leaves_residues_alone(source: Callable[[Any], Any]) -> None:
    df = frame8()
    batches = list(gr.stream(source(df), 3, shuffle="atom", seed=3))
    assert ids(batches) == [[6, 7], [3, 4, 5], [0, 1, 2]]
    flipped = 0
    for b in batches:
        ms = b["molecule_id"].to_list()
        assert b["residue_a"].to_list() == [df["residue_a"][m].to_list() for m in ms]
        assert b["residue_b"].to_list() == [df["residue_b"][m].to_list() for m in ms]
        for m, atoms in zip(ms, b["atom_x"].to_list(), strict=True):
            for r, pair in enumerate(atoms):
                v = float(100 * m + r)
                assert pair in ([v, v + 0.5], [v + 0.5, v])
                flipped += pair == [v + 0.5, v]
    assert flipped > 0


def test_shuffle_inner_level_with_union_columns(source: Callable[[Any], Any]) -> None:
    df = gr.dataframe(
        {
            "molecule_id": [0, 1, 2, 3],
            "molecule_tag": [0, [1, -1], 2, [3, -3]],
            "residue_u": [[1, [2, 3]], [[4, 5], 6, 7], [8], [[9, 10, 11, 12, 13]]],
            "atom_x": [[[1], [2, 3]], [[4, 5], [6], [7]], [[8]], [[9, 10, 11, 12, 13]]],
        },
        schema=SCHEMA3,
    )
    got = contents(gr.stream(source(df), 2, shuffle="residue", seed=7))
    # computed once: molecule 1's residues permuted, its union rows aligned with its atoms
    assert got == [
        {
            "molecule_id": [0, 1],
            "molecule_tag": [0, [1, -1]],
            "residue_u": [[1, [2, 3]], [6, 7, [4, 5]]],
            "atom_x": [[[1], [2, 3]], [[6], [7], [4, 5]]],
        },
        df[2:4].to_dict(),
    ]


def test_shuffle_depth_on_arrays() -> None:
    x = gr.array([[10 * i + j for j in range(5)] for i in range(12)])
    got = contents(gr.stream(x, 4, shuffle=1, seed=1))
    for b in got:  # rows whole and in order, elements permuted within each row
        firsts = sorted(min(r) for r in b)
        assert [sorted(r) for r in b] == [[f + j for j in range(5)] for f in firsts]
    assert any(r != sorted(r) for b in got for r in b)
    rows = contents(gr.stream(x, 4, shuffle=0, seed=1))
    assert any(b != sorted(b) for b in rows)


def test_shuffle_depth_two_on_arrays() -> None:
    x = gr.array(
        [[[10 * i + j, 10 * i + j + 100, 10 * i + j + 200] for j in range(3)] for i in range(6)]
    )
    got = contents(gr.stream(x, 3, shuffle=2, seed=1))
    flat = [row for b in got for row in b]
    assert sorted(min(t) for row in flat for t in row) == sorted(
        10 * i + j for i in range(6) for j in range(3)
    )
    for row in flat:
        for j, triple in enumerate(row):
            base = min(triple)
            assert sorted(triple) == [base, base + 100, base + 200]
            assert base % 10 == j  # the middle axis is not permuted
    assert any(list(triple) != sorted(triple) for row in flat for triple in row)


# -- 6. selections ------------------------------------------------------------------------


def test_selections_equal_batches_of_the_full_stream(source: Callable[[Any], Any]) -> None:
    st = gr.stream(source(numbers(30)), 3, shuffle=True, seed=5)
    full = ids(st)
    assert len(full) == 10
    assert ids(st[3]) == [full[3]]
    assert ids(st[-1]) == [full[9]]
    assert ids(st[2:6]) == full[2:6]
    assert ids(st[[4, 1]]) == [full[4], full[1]]
    assert ids(st[np.array([0, 0, 9])]) == [full[0], full[0], full[9]]
    assert ids(st[[-2]]) == [full[8]]
    assert ids(st[1:5][::2]) == [full[1], full[3]]
    assert ids(st[::-1]) == full[::-1]
    assert ids(st[2:8][[3, 0]][1]) == [full[2]]
    assert ids(st[20:30]) == []
    assert [len(st[3]), len(st[2:6]), len(st[[4, 1]]), len(st[1:5][::2]), len(st[20:30])] == [
        1,
        4,
        2,
        2,
        0,
    ]
    assert content(st.batch(7)) == full[7]


def test_selections_are_post_sharding(source: Callable[[Any], Any]) -> None:
    st = gr.stream(source(numbers(30)), 3, shuffle=True, seed=5, world_size=3, rank=2)
    full = ids(st)
    assert len(full) == 3
    assert ids(st[1:]) == full[1:]
    assert ids(st[[2, 0]]) == [full[2], full[0]]


@pytest.mark.parametrize("key", [10, -11, [0, 10], [-11], np.array([3, 12])], ids=repr)
def test_selection_out_of_range(key: Any) -> None:
    st = gr.stream(numbers(30), 3)
    with pytest.raises(OutOfBoundsError, match="out of range"):
        st[key]
    with pytest.raises(IndexError):
        st[key]


def test_composed_selection_out_of_range() -> None:
    st = gr.stream(numbers(30), 3)
    with pytest.raises(IndexError, match="2"):
        st[2:4][2]
    with pytest.raises(IndexError):
        st[1:5][::2][[0, 2]]


# -- 7. apply and workers -----------------------------------------------------------------


def _sums(batch: gr.GrumpyArray) -> list[float]:
    """A GIL-releasing (pyarrow/NumPy) transform, top-level so processes can pickle it."""
    return (batch * 2).sum(dim=-1).to_list()


def test_apply_cpu4_equals_cpu1_in_order(source: Callable[[Any], Any]) -> None:
    x = ragged(40)
    st = gr.stream(source(x), 3, shuffle=True, seed=2)
    expected = [_sums(b) for b in st]
    one = list(st.apply(_sums, cpu=1))
    four = list(st.apply(_sums, cpu=4))
    assert one == four == expected
    assert sorted(v for b in four for v in b) == sorted(2.0 * i * (i % 5 + 1) for i in range(40))
    chained = list(st.apply(lambda b: b * 2, lambda b: b.sum(dim=-1).to_list(), cpu=4))
    assert chained == expected
    assert list(st.apply(_sums, cpu=4, prefetch=3)) == expected


def test_apply_cpu4_runs_on_several_threads(source: Callable[[Any], Any]) -> None:
    st = gr.stream(source(ragged(40)), 4)
    seen: set[int] = set()
    lock = threading.Lock()
    both = threading.Barrier(2, timeout=30)  # batches 0 and 1 must run at the same time

    def work(batch: gr.GrumpyArray) -> list[float]:
        with lock:
            seen.add(threading.get_ident())
        if batch.to_list()[0][0] in (0.0, 4.0):
            both.wait()
        return _sums(batch)

    got = list(st.apply(work, cpu=4))
    assert got == [_sums(b) for b in st]
    assert len(seen) > 1
    assert threading.get_ident() not in seen


@pytest.mark.parametrize("cpu", [1, 4])
def test_transform_error_names_the_batch(source: Callable[[Any], Any], cpu: int) -> None:
    st = gr.stream(source(numbers(24)), 2)

    def boom(batch: gr.GrumpyArray) -> gr.GrumpyArray:
        if batch.to_list()[0] == 10:  # batch 5
            raise RuntimeError("boom")
        return batch

    it = iter(st.apply(boom, cpu=cpu))
    assert [next(it).to_list() for _ in range(5)] == [[0, 1], [2, 3], [4, 5], [6, 7], [8, 9]]
    with pytest.raises(RuntimeError, match="boom") as info:
        next(it)
    notes = getattr(info.value, "__notes__", [])
    assert any("batch 5" in note for note in notes), notes


def test_transform_error_index_is_the_stream_position() -> None:
    st = gr.stream(numbers(24), 2)[6:]  # batch 0 of this stream holds rows 12, 13

    def boom(batch: gr.GrumpyArray) -> gr.GrumpyArray:
        if batch.to_list()[0] == 14:
            raise KeyError("bad")
        return batch

    with pytest.raises(KeyError) as info:
        list(st.apply(boom, cpu=2))
    assert any("batch 1" in note for note in info.value.__notes__)


@pytest.mark.parametrize("cpu", [1, 3])
def test_iterating_again_after_a_transform_error(cpu: int) -> None:
    failed: list[int] = []

    def flaky(batch: gr.GrumpyArray) -> list[int]:
        first = batch.to_list()[0]
        if first == 6 and not failed:  # batch 3 fails once
            failed.append(first)
            raise RuntimeError("flaky")
        return batch.to_list()

    st = gr.stream(numbers(14), 2).apply(flaky, cpu=cpu)
    got = []
    with pytest.raises(RuntimeError, match="flaky"):
        for b in st:
            got.append(b)
    assert got == [[0, 1], [2, 3], [4, 5]]
    assert st.state_dict()["batches_consumed"] == 3
    # read-ahead batches were discarded; the stream goes on at the batch that failed
    assert list(st) == [[6, 7], [8, 9], [10, 11], [12, 13]]
    assert list(st) == [[2 * i, 2 * i + 1] for i in range(7)]


@pytest.mark.filterwarnings(FORK_WARNING)
def test_apply_process_executor(source: Callable[[Any], Any]) -> None:
    st = gr.stream(source(ragged(20)), 3, shuffle=True, seed=2)
    expected = [_sums(b) for b in st]
    assert list(st.apply(_sums, cpu=2, executor="process")) == expected


def _fail_on_batch_two(batch: gr.GrumpyArray) -> gr.GrumpyArray:
    if batch.to_list()[0] == 4:
        raise RuntimeError("process boom")
    return batch


@pytest.mark.filterwarnings(FORK_WARNING)
def test_apply_process_executor_error_names_the_batch() -> None:
    with pytest.raises(RuntimeError, match="process boom") as info:
        list(gr.stream(numbers(10), 2).apply(_fail_on_batch_two, cpu=2, executor="process"))
    assert any("batch 2" in note for note in info.value.__notes__)


@pytest.mark.parametrize(
    "kw",
    [
        {},
        {"shuffle": True, "seed": 1},
        {"shuffle": "residue", "seed": 2, "world_size": 2, "rank": 1},
        {"batch_on": "residue", "shuffle": "molecule", "seed": 3},
    ],
    ids=["plain", "shuffle", "level-rank", "packed"],
)
def test_workers_prefetch_gives_identical_batches(
    source: Callable[[Any], Any], kw: dict[str, Any]
) -> None:
    src = source(frame8())
    plain = contents(gr.stream(src, 3, workers=0, **kw))
    assert contents(gr.stream(src, 3, workers=2, **kw)) == plain
    assert contents(gr.stream(src, 3, workers=5, **kw)) == plain
    assert list(gr.stream(src, 3, workers=2, **kw).apply(content, cpu=3)) == plain


def test_breaking_out_of_a_prefetching_stream() -> None:
    st = gr.stream(numbers(40), 2, workers=3).apply(_sums_flat, cpu=2)
    for i, _ in enumerate(st):
        if i == 2:
            break
    # the stream resumes after the three consumed batches (documented: "the remaining
    # batches of this epoch"); batch i sums rows 2i and 2i + 1
    assert list(st) == [4 * i + 1 for i in range(3, 20)]


def _sums_flat(batch: gr.GrumpyArray) -> int:
    return int(sum(batch.to_list()))


# -- 8. resume and epochs -----------------------------------------------------------------


RESUME_KW: list[dict[str, Any]] = [
    {},
    {"shuffle": True, "seed": 11},
    {"shuffle": True, "seed": 11, "world_size": 2, "rank": 1},
    {"shuffle": "residue", "seed": 4, "world_size": 2, "rank": 0, "epoch": 3},
    {"batch_on": "residue", "shuffle": "molecule", "seed": 8, "drop_last": True},
]


@pytest.mark.parametrize("kw", RESUME_KW, ids=["plain", "shuffle", "ranks", "level", "packed"])
def test_resume_continues_with_the_remaining_batches(
    source: Callable[[Any], Any], kw: dict[str, Any]
) -> None:
    src = source(frame8())
    full = contents(gr.stream(src, 2, **kw))
    assert len(full) >= 2
    for k in range(len(full) + 1):
        st = gr.stream(src, 2, **kw)
        it = iter(st)
        head = [content(next(it)) for _ in range(k)]
        state = st.state_dict()
        assert state["batches_consumed"] == k
        assert json.loads(json.dumps(state)) == state  # small and serializable
        fresh = gr.stream(src, 2, **kw)
        fresh.load_state_dict(state)
        assert head + contents(fresh) == full, k


def test_resume_with_workers_and_apply() -> None:
    kw: dict[str, Any] = {"shuffle": True, "seed": 3, "world_size": 2, "rank": 1}
    full = list(gr.stream(ragged(50), 3, **kw).apply(_sums))
    st = gr.stream(ragged(50), 3, workers=2, **kw).apply(_sums, cpu=3)
    it = iter(st)
    head = [next(it) for _ in range(4)]
    state = st.state_dict()
    assert state["batches_consumed"] == 4  # yielded, not merely prefetched
    fresh = gr.stream(ragged(50), 3, **kw).apply(_sums, cpu=2)
    fresh.load_state_dict(state)
    assert head + list(fresh) == full


def test_resume_a_later_epoch() -> None:
    st = gr.stream(numbers(24), 3, shuffle="batches", seed=0)
    st.set_epoch(1)
    it = iter(st)
    head = [next(it).to_list() for _ in range(3)]
    state = st.state_dict()
    assert state["epoch"] == 1
    fresh = gr.stream(numbers(24), 3, shuffle="batches", seed=0)  # epoch 0
    fresh.load_state_dict(state)
    assert fresh.epoch == 1
    assert head + ids(fresh) == batches_of(ORDER_SEED0_EPOCH1)
    # after the epoch the stream starts it over; set_epoch starts a new one from its start
    assert ids(fresh) == batches_of(ORDER_SEED0_EPOCH1)
    fresh.set_epoch(0)
    assert ids(fresh) == batches_of(ORDER_SEED0_EPOCH0)


def test_set_epoch_mid_epoch_restarts() -> None:
    st = gr.stream(numbers(24), 3, shuffle="batches", seed=0)
    it = iter(st)
    next(it)
    next(it)
    st.set_epoch(1)
    assert st.state_dict()["batches_consumed"] == 0
    assert ids(st) == batches_of(ORDER_SEED0_EPOCH1)


BASE_KW: dict[str, Any] = {"batch_size": 3, "shuffle": True, "seed": 1, "world_size": 2}


@pytest.mark.parametrize(
    ("change", "name"),
    [
        ({"seed": 2}, "seed"),
        ({"batch_size": 4}, "batch_size"),
        ({"rank": 1}, "rank"),
        ({"shuffle": "molecule"}, "shuffle"),
        ({"drop_last": True}, "drop_last"),
        ({"even": True}, "even"),
        ({"batch_on": "residue"}, "batch_on"),
    ],
)
def test_state_from_other_parameters_is_refused(change: dict[str, Any], name: str) -> None:
    st = gr.stream(frame8(), **BASE_KW)
    next(iter(st))
    state = st.state_dict()
    other = gr.stream(frame8(), **{**BASE_KW, **change})
    with pytest.raises(ValueError, match=name):
        other.load_state_dict(state)
    assert contents(other) == contents(gr.stream(frame8(), **{**BASE_KW, **change}))


def test_state_from_other_data_or_out_of_range_is_refused() -> None:
    st = gr.stream(numbers(24), 3)
    next(iter(st))
    state = st.state_dict()
    with pytest.raises(ValueError, match="batches"):
        gr.stream(numbers(40), 3).load_state_dict(state)
    with pytest.raises(ValueError, match="batches_consumed"):
        gr.stream(numbers(24), 3).load_state_dict({**state, "batches_consumed": 9})
    with pytest.raises(ValueError, match="batches_consumed"):
        gr.stream(numbers(24), 3).load_state_dict({**state, "batches_consumed": -1})


# -- 9. metadata, in_memory, pickling ------------------------------------------------------


def big_frame(n: int = 60) -> gr.DataFrame:
    """Molecules with 1..4 residues of 1..5 atoms of 3 float64 coordinates each."""
    atoms = [
        [[[float(m), float(r), float(a)] for a in range(1 + (m + r) % 5)] for r in range(1 + m % 4)]
        for m in range(n)
    ]
    return gr.dataframe(
        {
            "molecule_id": list(range(n)),
            "residue_n": [list(range(1 + m % 4)) for m in range(n)],
            "atom_xyz": atoms,
        },
        schema=SCHEMA3,
    )


@pytest.mark.parametrize("cache", ["chunks", "none"])
def test_len_reads_metadata_only(tmp_path: Path, cache: str) -> None:
    df = big_frame()
    gr.save(df, tmp_path / "s")
    leaves = json.loads((tmp_path / "s" / "grumpy.json").read_text())["leaves"]
    level_offsets_bytes = sum(  # the levels' shared offsets (docs/format.md)
        spec["length"] * np.dtype(spec["dtype"]).itemsize
        for name, spec in leaves.items()
        if name.startswith("_levels/")
    )
    values_bytes = sum(
        spec["length"] * np.dtype(spec["dtype"]).itemsize
        for name, spec in leaves.items()
        if name.endswith("-values")
    )
    assert values_bytes > 2 * level_offsets_bytes
    h = gr.open(tmp_path / "s", cache=cache)
    st = gr.stream(h, 4, world_size=2, rank=1, shuffle=True, seed=0)
    assert len(st) == 7  # 15 batches; rank 1 takes positions 1, 3, ..., 13
    assert h.stats()["bytes_read"] == 0
    assert h.stats()["chunks_read"] == 0
    packed = gr.stream(h, 4, batch_on="atom")
    expected = len(list(gr.stream(df, 4, batch_on="atom")))
    assert len(packed) == expected
    # packing reads the levels' offsets, never a values leaf
    assert 0 < h.stats()["bytes_read"] <= level_offsets_bytes


def test_in_memory_gives_the_same_batches(tmp_path: Path) -> None:
    df = big_frame(30)
    gr.save(df, tmp_path / "s")
    plans: list[dict[str, Any]] = [
        {},
        {"shuffle": "residue", "seed": 1},
        {"batch_on": "atom", "shuffle": True, "seed": 2, "world_size": 2, "rank": 1},
    ]
    for kw in plans:
        from_store = contents(gr.stream(tmp_path / "s", 4, **kw))
        h = gr.open(tmp_path / "s")
        loaded = gr.stream(h, 4, in_memory=True, **kw)
        assert contents(loaded) == from_store == contents(gr.stream(df, 4, **kw))
        assert len(loaded) == len(from_store)
    # after loading, batches come from memory: reading them touches no leaf again
    h = gr.open(tmp_path / "s")
    st = gr.stream(h, 4, in_memory=True)
    read = h.stats()["bytes_read"]
    list(st)
    assert h.stats()["bytes_read"] == read


def test_stream_over_a_path_pickles_small(tmp_path: Path) -> None:
    df = big_frame(200)
    gr.save(df, tmp_path / "s")
    st = gr.stream(str(tmp_path / "s"), 8, shuffle="residue", seed=4, world_size=2, rank=1)
    st = st[1:]
    blob = pickle.dumps(st)
    assert len(blob) < 4000  # a descriptor, not the data
    again = pickle.loads(blob)
    assert len(again) == len(st)
    assert contents(again) == contents(st)
    handle_stream = gr.stream(gr.open(tmp_path / "s"), 8, shuffle=True, seed=1)
    assert contents(pickle.loads(pickle.dumps(handle_stream))) == contents(handle_stream)


def test_repr_mentions_the_plan() -> None:
    text = repr(gr.stream(frame8(), 3, batch_on="residue", shuffle=True, seed=1))
    assert "Stream" in text and "residue" in text
