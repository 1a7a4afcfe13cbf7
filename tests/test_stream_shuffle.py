"""Sample-level shuffles (issue 14, item 1): ``shuffle=True`` cuts a new row permutation
into batches every epoch; ``shuffle_block`` permutes contiguous blocks and shuffles rows
within windows of blocks; ``shuffle="batches"`` keeps the fixed batches of 0.1.

Orders are checked exactly against permutations computed once from the plan's generator
(``numpy.random.default_rng([seed, epoch])``), and structurally: every row once per epoch
across ranks and workers, new compositions every epoch, no contiguous batches.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import grumpy_arrow as gr
from grumpy_arrow.streaming import plan as pl

# numpy default_rng([0, 0]).permutation(24) and default_rng([0, 1]).permutation(24).
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


def numbers(n: int) -> gr.GrumpyArray:
    return gr.array(list(range(n)))


def ids(stream: Any) -> list[list[int]]:
    out = []
    for b in stream:
        out.append(b["mol_id"].to_list() if isinstance(b, gr.DataFrame) else b.to_list())
    return out


def cut(order: list[int], size: int) -> list[list[int]]:
    return [order[i : i + size] for i in range(0, len(order), size)]


def molecules(n: int) -> gr.DataFrame:
    """Molecule ``i`` has ``i % 4`` residues (``res_a == 10 * i + r``)."""
    return gr.dataframe(
        {"mol_id": list(range(n)), "res_a": [[10 * i + r for r in range(i % 4)] for i in range(n)]},
        schema=["mol", "res"],
    )


@pytest.fixture(params=["memory", "store"])
def source(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Any]:
    """Run a test on an in-memory object and on a store path."""

    def make(obj: Any) -> Any:
        if request.param == "memory":
            return obj
        path = tmp_path / f"s{len(list(tmp_path.iterdir()))}.gr"
        gr.save(obj, path, chunk_size=16, shard_size=64)  # many chunks and shard files
        return str(path)

    yield make


def test_rows_are_permuted_every_epoch_and_cut_into_batches(source: Any) -> None:
    src = source(numbers(24))
    st = gr.stream(src, 3, shuffle=True, seed=0)
    assert len(st) == 8
    assert ids(st) == cut(ROWS_SEED0_EPOCH0, 3)
    assert ids(st) == cut(ROWS_SEED0_EPOCH0, 3)  # the same epoch again
    st.set_epoch(1)
    assert ids(st) == cut(ROWS_SEED0_EPOCH1, 3)
    assert ids(gr.stream(src, 3, shuffle=True, seed=0, epoch=1)) == cut(ROWS_SEED0_EPOCH1, 3)
    assert ids(gr.stream(src, 5, shuffle=True, seed=0, drop_last=True)) == cut(
        ROWS_SEED0_EPOCH0[:20], 5
    )
    # shuffle="batches" keeps 0.1's fixed batches (consecutive rows), permuted.
    fixed = ids(gr.stream(src, 3, shuffle="batches", seed=0))
    assert sorted(fixed) == cut(list(range(24)), 3) and fixed != cut(list(range(24)), 3)


def test_batches_are_new_compositions_every_epoch() -> None:
    n, size = 4000, 32
    st = gr.stream(numbers(n), size, shuffle=True, seed=11)
    seen: list[set[frozenset[int]]] = []
    for epoch in range(3):
        st.set_epoch(epoch)
        batches = ids(st)
        assert len(batches) == len(st) == 125
        flat = [v for b in batches for v in b]
        assert sorted(flat) == list(range(n))  # every row once
        contiguous = sum(b == list(range(b[0], b[0] + len(b))) for b in batches)
        assert contiguous == 0  # (0.1: 125 of 125 batches were row ranges)
        seen.append({frozenset(b) for b in batches})
    assert not seen[0] & seen[1] and not seen[1] & seen[2]


@pytest.mark.parametrize("workers", [0, 2])
def test_ranks_and_workers_see_every_row_once_per_epoch(tmp_path: Path, workers: int) -> None:
    path = tmp_path / "s.gr"
    gr.save(molecules(1000), path, chunk_size=64, shard_size=256)
    for epoch in (0, 1):
        per_rank = [
            ids(
                gr.stream(
                    path,
                    16,
                    shuffle=True,
                    seed=3,
                    world_size=3,
                    rank=r,
                    epoch=epoch,
                    workers=workers,
                )
            )
            for r in range(3)
        ]
        assert [len(b) for b in per_rank] == [21, 21, 21]  # 63 batches of 16 (the last 8)
        rows = [v for batches in per_rank for b in batches for v in b]
        assert sorted(rows) == list(range(1000))
        order = np.random.default_rng([3, epoch]).permutation(1000).tolist()
        assert per_rank[1][0] == order[16:32] and per_rank[2][20] == order[992:]


def test_batch_on_packs_the_permuted_rows(source: Any) -> None:
    df = molecules(40)
    st = gr.stream(source(df), 5, batch_on="res", shuffle=True, seed=2)
    order = np.random.default_rng([2, 0]).permutation(40).tolist()
    # Greedy packing of whole molecules in the permuted order: at most 5 residues a batch,
    # a molecule with more alone (none has: at most 3).
    want: list[list[int]] = [[]]
    total = 0
    for m in order:
        if want[-1] and total + m % 4 > 5:
            want.append([])
            total = 0
        want[-1].append(m)
        total += m % 4
    got = ids(st)
    assert got == want and len(st) == len(want)
    for b in st:
        assert sum(len(r) for r in b["res_a"].to_list()) <= 5
    # The batch count follows the epoch's permutation; len() says it for the current epoch.
    st.set_epoch(1)
    assert len(st) == len(ids(st))


def test_block_shuffle_reads_blocks_and_mixes_rows_within_windows(source: Any) -> None:
    n, block, window = 100, 10, 3
    src = source(numbers(n))
    st = gr.stream(src, 4, shuffle=True, seed=5, shuffle_block=block, shuffle_window=window)
    got = [v for b in ids(st) for v in b]
    assert got == pl.block_order(n, block, window, 5, 0).tolist()
    assert sorted(got) == list(range(n))
    # Windows of 3 blocks (30 rows; the last holds one block): each is the rows of 3
    # whole blocks, in a mixed order.
    blocks = np.random.default_rng([5, 0]).permutation(10)
    for w in range(4):
        part = got[30 * w : 30 * w + 30]
        want = sorted(v for k in blocks[3 * w : 3 * w + 3] for v in range(10 * k, 10 * k + 10))
        assert sorted(part) == want
        assert part != want
    st.set_epoch(1)
    other = [v for b in ids(st) for v in b]
    assert sorted(other) == list(range(n)) and other != got


def test_resume_mid_epoch_of_a_sample_shuffle(tmp_path: Path) -> None:
    path = tmp_path / "s.gr"
    gr.save(molecules(300), path, chunk_size=32, shard_size=128)
    kw: dict[str, Any] = {"batch_on": "res", "shuffle": True, "seed": 9, "epoch": 2}
    st = gr.stream(path, 20, workers=2, **kw)
    full = ids(gr.stream(path, 20, **kw))
    it = iter(st)
    head = [next(it)["mol_id"].to_list() for _ in range(7)]
    state = st.state_dict()
    assert state["batches_consumed"] == 7 and state["shuffle_block"] is None
    fresh = gr.stream(path, 20, batch_on="res", shuffle=True, seed=9, workers=2)  # epoch 0
    fresh.load_state_dict(state)
    assert fresh.epoch == 2
    assert head + ids(fresh) == full


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"shuffle_block": 10}, "shuffle_block needs shuffle=True"),
        ({"shuffle": "batches", "seed": 0, "shuffle_block": 10}, "shuffle_block needs"),
        ({"shuffle": True, "seed": 0, "shuffle_block": 0}, "shuffle_block must be an int >= 1"),
        (
            {"shuffle": True, "seed": 0, "shuffle_block": 4, "shuffle_window": 0},
            "shuffle_window must be an int >= 1",
        ),
        ({"shuffle": "batches"}, "shuffle needs a seed"),
    ],
)
def test_invalid_shuffle_parameters_are_refused(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        gr.stream(numbers(10), 2, **kwargs)


def test_a_state_from_another_block_size_is_refused() -> None:
    st = gr.stream(numbers(50), 5, shuffle=True, seed=1, shuffle_block=10)
    other = gr.stream(numbers(50), 5, shuffle=True, seed=1, shuffle_block=5)
    with pytest.raises(ValueError, match="shuffle_block=10; this stream has shuffle_block=5"):
        other.load_state_dict(st.state_dict())


@pytest.mark.parametrize(("old", "new"), [(2, 3), (4, 1), (1, 2), (3, 2)])
@pytest.mark.parametrize("shuffle", [True, None, "batches"])
def test_elastic_resume_splits_the_unseen_batches(old: int, new: int, shuffle: Any) -> None:
    kw: dict[str, Any] = {"shuffle": shuffle, "seed": 8, "epoch": 1}
    src = numbers(101)
    full = ids(gr.stream(src, 4, **kw))
    ranks = [gr.stream(src, 4, world_size=old, rank=r, **kw) for r in range(old)]
    iterators = [iter(s) for s in ranks]
    steps = 3
    seen = [next(it) for _ in range(steps) for it in iterators]  # lockstep
    state = ranks[-1].state_dict()
    assert state["batches_consumed"] == steps and state["start"] == 0
    rest: list[list[list[int]]] = []
    for r in range(new):
        st = gr.stream(src, 4, world_size=new, rank=r, **kw)
        st.load_state_dict(state)
        assert st.epoch == 1 and st.state_dict()["start"] == steps * old
        left = len(st)
        rest.append(ids(st))
        assert left == len(rest[-1])
        assert len(st) == len(gr.stream(src, 4, world_size=new, rank=r, **kw))  # then whole
    # The new ranks take the plan's batches after the first steps * old, round-robin.
    assert [b.to_list() for b in seen] == [
        full[i * old + r] for i in range(steps) for r in range(old)
    ]
    for r in range(new):
        assert rest[r] == full[steps * old + r :: new]
    rows = [v for b in seen for v in b.to_list()] + [v for part in rest for b in part for v in b]
    assert sorted(rows) == list(range(101))
    # A second elastic resume, from the new world back to the old one.
    st = gr.stream(src, 4, world_size=new, rank=0, **kw)
    st.load_state_dict(state)
    next(iter(st))
    again = st.state_dict()
    back = gr.stream(src, 4, world_size=old, rank=0, **kw)
    back.load_state_dict(again)
    assert ids(back) == full[steps * old + new :: old]
