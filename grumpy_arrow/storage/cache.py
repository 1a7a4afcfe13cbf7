"""The read cache of stores: decoded inner chunks in one LRU, bounded by bytes.

One key type, ``(leaf, chunk)`` — the leaf's path and the inner chunk's number within the
leaf (see :func:`chunk_key`) — and one admission rule: every inner chunk a read decodes is
kept, least recently used out first. Committed values never change (appends start after
them, and a rewrite of the last shard copies committed chunks as they are), so a cached
chunk stays right across appends. Uncompressed (raw) leaves of local stores are gathered
from memory-mapped shard files and use the operating system's page cache instead.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass, field

import numpy as np

__all__ = ["IO_COUNTERS", "ChunkCache", "ChunkKey", "IOStats", "chunk_key"]

ChunkKey = tuple[str, int]


def chunk_key(leaf: str, c: int, chunk: int, length: int) -> ChunkKey:
    """The key of inner chunk ``c`` of ``leaf`` read at committed ``length``: a full chunk
    is the same at every later length; a partly filled last chunk is keyed by how many
    committed values it holds (its first ``n`` values never change; the rest may)."""
    held = length - c * chunk
    if held >= chunk:
        return (leaf, c)
    return (f"{leaf}#{held}", c)


IO_COUNTERS = ("bytes_read", "chunks_read", "calls", "cache_hits")
"""The counters of :class:`IOStats` (what ``Handle.stats()`` returns)."""


@dataclass
class IOStats:
    """What a store's readers have read: bytes, inner chunks decoded, calls, cache hits."""

    bytes_read: int = 0
    chunks_read: int = 0
    calls: int = 0
    cache_hits: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def add(self, nbytes: int, chunks: int) -> None:
        with self.lock:
            self.bytes_read += nbytes
            self.chunks_read += chunks
            self.calls += 1

    def hit(self, count: int = 1) -> None:
        with self.lock:
            self.cache_hits += count

    def as_dict(self) -> dict[str, int]:
        return {name: getattr(self, name) for name in IO_COUNTERS}


class _LRU:
    """The state scoped :class:`ChunkCache` views share: items, their sizes, the byte budget."""

    def __init__(self, budget: int) -> None:
        self.budget = budget
        self.used = 0
        self.items: OrderedDict[ChunkKey, tuple[np.ndarray, int]] = OrderedDict()
        self.lock = threading.Lock()


class ChunkCache:
    """An LRU of decoded inner chunks, bounded by bytes (a budget of 0 keeps nothing).

    :meth:`scoped` gives a view whose keys live in their own namespace but which shares
    the items and the budget: the shards of a sharded dataset use one cache between them.
    """

    def __init__(self, budget: int, *, _lru: _LRU | None = None, _scope: str = "") -> None:
        self._lru = _LRU(budget) if _lru is None else _lru
        self._scope = _scope

    @property
    def budget(self) -> int:
        return self._lru.budget

    @property
    def used(self) -> int:
        return self._lru.used

    def __len__(self) -> int:
        return len(self._lru.items)

    def scoped(self, scope: str) -> ChunkCache:
        """A view of this cache whose keys do not meet those of other scopes."""
        return ChunkCache(0, _lru=self._lru, _scope=f"{self._scope}{scope}\x00")

    def _key(self, key: ChunkKey) -> ChunkKey:
        return (self._scope + key[0], key[1]) if self._scope else key

    def get(self, key: ChunkKey) -> np.ndarray | None:
        key, lru = self._key(key), self._lru
        with lru.lock:
            found = lru.items.get(key)
            if found is None:
                return None
            lru.items.move_to_end(key)
            return found[0]

    def get_many(self, keys: list[ChunkKey]) -> list[np.ndarray | None]:
        """:meth:`get` of several keys under one lock."""
        lru = self._lru
        out: list[np.ndarray | None] = []
        if self._scope:
            keys = [self._key(key) for key in keys]
        with lru.lock:
            for key in keys:
                found = lru.items.get(key)
                if found is None:
                    out.append(None)
                else:
                    lru.items.move_to_end(key)
                    out.append(found[0])
        return out

    def put_many(self, items: list[tuple[ChunkKey, np.ndarray]]) -> None:
        """:meth:`put` of several items, under one lock (the least recently used dropped
        once all are in: should the items alone pass the budget, the first of them go)."""
        lru = self._lru
        fresh = []
        for key, value in items:
            if value.nbytes <= lru.budget:
                value.flags.writeable = False
                fresh.append((self._key(key), value))
        if not fresh:
            return
        with lru.lock:
            for key, value in fresh:
                old = lru.items.pop(key, None)
                if old is not None:
                    lru.used -= old[1]
                lru.items[key] = (value, value.nbytes)
                lru.used += value.nbytes
            while lru.used > lru.budget and lru.items:
                _, (_, dropped) = lru.items.popitem(last=False)
                lru.used -= dropped

    def put(self, key: ChunkKey, value: np.ndarray) -> None:
        """Keep ``value`` (read-only from now on), dropping the least recently used."""
        self.put_many([(key, value)])

    def drop(self, prefix: str) -> None:
        """Forget the chunks of leaves whose path starts with ``prefix``."""
        lru, full = self._lru, self._scope + prefix
        with lru.lock:
            for key in [k for k in lru.items if k[0].startswith(full)]:
                lru.used -= lru.items.pop(key)[1]

    def clear(self) -> None:
        """Empty the whole cache (every scope)."""
        lru = self._lru
        with lru.lock:
            lru.items.clear()
            lru.used = 0
