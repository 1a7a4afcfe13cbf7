"""The decoded-chunk cache (storage.cache.ChunkCache): an LRU bounded by bytes, shared by
scoped views, filled and read many items at a time."""

from __future__ import annotations

import numpy as np
import pytest
from _threads import run_threads

from grumpy_arrow.storage.cache import ChunkCache, chunk_key


def _chunk(value: int, n: int = 100) -> np.ndarray:
    return np.full(n, value, dtype=np.int64)  # 800 bytes


def test_put_many_keeps_the_most_recent_within_the_budget() -> None:
    cache = ChunkCache(2400)  # three chunks of 800 bytes
    cache.put_many([(("a", c), _chunk(c)) for c in range(5)])
    assert len(cache) == 3
    assert cache.used == 2400
    got = cache.get_many([("a", c) for c in range(5)])
    assert [None if g is None else int(g[0]) for g in got] == [None, None, 2, 3, 4]
    # get_many refreshed 2, 3, 4 in the order asked (2 the least recent of them); asking
    # for 2 again makes it the most recent
    assert cache.get_many([("a", 2)])[0] is not None
    cache.put_many([(("a", 9), _chunk(9))])  # drops the least recent: 3
    assert [k for k in range(10) if cache.get(("a", k)) is not None] == [2, 4, 9]


def test_put_many_equals_put_one_by_one() -> None:
    one, many = ChunkCache(4000), ChunkCache(4000)
    items = [(("leaf", c), _chunk(c, 50 + 25 * (c % 3))) for c in range(12)]
    for key, value in items:
        one.put(key, value.copy())
    many.put_many([(key, value.copy()) for key, value in items])
    keys = [key for key, _ in items]
    assert [g is None for g in one.get_many(keys)] == [g is None for g in many.get_many(keys)]
    assert one.used == many.used <= 4000
    assert len(one) == len(many)


def test_put_many_replaces_a_key_and_skips_what_passes_the_budget() -> None:
    cache = ChunkCache(1000)
    cache.put_many([(("a", 0), _chunk(1)), (("a", 0), _chunk(2)), (("big", 0), _chunk(3, 200))])
    assert len(cache) == 1
    assert cache.used == 800
    got = cache.get(("a", 0))
    assert got is not None
    assert int(got[0]) == 2
    assert not got.flags.writeable  # kept values are read-only
    with pytest.raises(ValueError):
        got[0] = 5
    cache.put_many([])
    assert cache.used == 800


def test_scoped_views_share_the_budget_not_the_keys() -> None:
    root = ChunkCache(2400)
    a, b = root.scoped("shard-a"), root.scoped("shard-b")
    a.put_many([(("x", 0), _chunk(1)), (("x", 1), _chunk(2))])
    b.put_many([(("x", 0), _chunk(3))])
    assert [int(g[0]) for g in a.get_many([("x", 0), ("x", 1)])] == [1, 2]  # type: ignore[index]
    assert [None if g is None else int(g[0]) for g in b.get_many([("x", 0), ("x", 1)])] == [3, None]
    assert root.get(("x", 0)) is None  # the root's own namespace is empty
    assert root.used == 2400
    b.put_many([(("x", 5), _chunk(4))])  # over budget: the least recent of all goes
    assert a.get(("x", 0)) is None
    a.drop("x")  # only a's keys
    assert b.get(("x", 0)) is not None
    assert len(root) == 2


def test_chunk_key_of_a_partly_filled_chunk_names_its_length() -> None:
    assert chunk_key("leaf", 3, 100, 1000) == ("leaf", 3)
    assert chunk_key("leaf", 9, 100, 950) == ("leaf#50", 9)


def test_threads_filling_and_reading_keep_the_byte_count() -> None:
    cache = ChunkCache(800 * 40)

    def work(t: int) -> None:
        for r in range(200):
            cache.put_many([((f"leaf{t}", (r + c) % 60), _chunk(c)) for c in range(7)])
            cache.get_many([(f"leaf{(t + 1) % 4}", c) for c in range(0, 60, 5)])

    assert run_threads(work, range(4)) == []
    assert cache.used == 800 * len(cache) <= 800 * 40
