"""The direct local backend: shard files of version-2 leaves, read and written without
zarr-python.

Reads: a shard file is opened once (its index read and checked, raw shards memory-mapped)
and shared by threads; an open shard is closed only when no reader holds it. Values are
gathered per leaf with whole-array NumPy work: every position of a request at once, one
fancy index per touched shard (raw) or per request over the decoded inner chunks
(compressed). Every inner chunk a reader touches has its checksum verified (raw chunks
once per open shard).

Writes are copy-on-write: a shard touched by an append is written whole to a temporary
file (the committed inner chunks copied as they are, the partly filled one re-encoded)
and renamed over the old one, so a killed writer leaves the old shard, and a reader that
holds the old file keeps reading it.
"""

from __future__ import annotations

import bisect
import contextlib
import ctypes
import errno
import gc
import itertools
import json
import mmap
import os
import resource
import struct
import threading
import weakref
from collections import OrderedDict
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, NamedTuple, cast

import google_crc32c
import numpy as np
import zstandard

from grumpy_arrow import _native
from grumpy_arrow.compute.gather import Ranges, expand_ranges
from grumpy_arrow.errors import StoreError, StoreFormatError
from grumpy_arrow.storage import sharding as sh
from grumpy_arrow.storage.cache import ChunkCache, IOStats, chunk_key

__all__ = ["READ_THREADS", "LocalShards", "unique_inverse", "write_doc"]

_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_CLOEXEC = getattr(os, "O_CLOEXEC", 0)


READ_THREADS = min(4, os.cpu_count() or 1)
"""Threads a whole-leaf read uses: for its shards, or for the zstd frames of one shard."""
PARALLEL_BYTES = 8 << 20
"""Bytes of values from which a whole-leaf read reads its shards in parallel."""


class _Shard:
    """One open shard file: what messages call it (``where``: store, leaf and shard
    number), descriptor, checked index, and for a regular raw shard a map of the file
    with a flat view of its values (chunk ``j``'s values start at element
    ``j * stride / itemsize``)."""

    __slots__ = (
        "fd",
        "flat",
        "map",
        "nbytes",
        "offsets",
        "size",
        "unverified",
        "users",
        "verified",
        "where",
        "written",
    )

    def __init__(
        self,
        where: str,
        fd: int,
        size: int,
        offsets: np.ndarray,
        nbytes: np.ndarray,
        regular: bool,
        fmt: sh.LeafFormat,
    ) -> None:
        self.where, self.fd, self.size = where, fd, size
        self.offsets, self.nbytes = offsets, nbytes
        self.users = 0
        self.written = int(np.count_nonzero(nbytes >= 0))
        self.map: mmap.mmap | None = None
        self.flat: np.ndarray | None = None
        self.verified = np.zeros(len(offsets), dtype=bool)
        self.unverified = self.written
        if size and regular:
            self.map = mmap.mmap(fd, 0, access=mmap.ACCESS_READ)
        if regular and self.map is not None:
            self.flat = np.frombuffer(self.map, dtype=fmt.dtype, count=size // fmt.dtype.itemsize)

    def close(self) -> None:
        # The map closes when the last array viewing it is gone (closing it now would
        # fail while a gathered view is alive); the descriptor can go now.
        os.close(self.fd)


def _unwritten(where: str, j: int) -> StoreFormatError:
    """The error for inner chunk ``j`` of the shard ``where`` (its index says it was never
    written) when it holds committed values."""
    return StoreFormatError(f"{where} chunk {j} was never written, but holds committed values")


def open_limit() -> int:
    """How many shard files one store keeps open: an eighth of the process's descriptor
    limit (a mapped shard holds two: ours and the map's), between 64 and 4096 (128 under
    the common soft limit of 1024). A store whose shards outnumber it reopens them (index
    read and checked, chunks verified again). Stores holding open shards at once (the
    shards of a sharded dataset) share it (:func:`_share`); should the process still run
    out of descriptors, a shard open closes the idle shards of every store and tries
    again."""
    try:
        soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    except (OSError, ValueError):
        return 256
    if soft == resource.RLIM_INFINITY or soft <= 0:
        return 4096
    return max(64, min(4096, soft // 8))


def _share() -> int:
    """Open shards one store may keep now: :func:`open_limit` split between the stores
    that hold open shards (the shards of a sharded dataset), at least 2 each."""
    active = sum(1 for pool in list(_ALL) if pool._open)
    return max(2, open_limit() // max(1, active))


def _balance(opener: LocalShards) -> None:
    """After ``opener`` opened a shard: when the stores of the process hold more open
    shards than :func:`open_limit`, the others are trimmed to an equal share. (A step
    per store with open shards, on the rare path of opening a shard file.)"""
    pools = [pool for pool in list(_ALL) if pool._open]
    budget = open_limit()
    if sum(len(pool._open) for pool in pools) <= budget:
        return
    share = max(2, budget // len(pools))
    for pool in pools:
        if pool is not opener and len(pool._open) > share:
            pool.trim(share)


def _release_idle() -> None:
    """Close the idle open shards of every store of the process (out of descriptors)."""
    for pool in list(_ALL):
        pool.release_idle()
    gc.collect()  # the map of a closed shard holds a descriptor until it is collected


def _open_read(path: str) -> int:
    """A descriptor of ``path`` for reading (never through a link). Out of descriptors
    (EMFILE, ENFILE), the idle open shards of every store are closed and the open tried
    once more; failing again, a :class:`StoreError` says what to do."""
    flags = os.O_RDONLY | _NOFOLLOW | _CLOEXEC
    try:
        return os.open(path, flags)
    except OSError as err:
        if err.errno not in (errno.EMFILE, errno.ENFILE):
            raise
    _release_idle()
    try:
        return os.open(path, flags)
    except OSError as err:
        if err.errno not in (errno.EMFILE, errno.ENFILE):
            raise
        raise StoreError(
            f"cannot open {path}: the process is out of file descriptors ({err}); raise "
            "the limit (ulimit -n) or close handles of other stores"
        ) from err


_ALL: weakref.WeakSet[LocalShards] = weakref.WeakSet()


def _after_fork() -> None:
    # A thread of the parent may have held a pool's lock at the fork: the child's copy
    # would stay locked forever. Descriptors and maps stay valid in the child.
    for pool in list(_ALL):
        pool.after_fork()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork)


class LocalShards:
    """Shard files of the version-2 leaves of one local store."""

    def __init__(self, url: str, root: str, stats: IOStats, limit: int | None = None) -> None:
        self.url, self.root, self.stats = url, root, stats
        self.limit = open_limit() if limit is None else limit
        self._open: OrderedDict[str, _Shard] = OrderedDict()
        self._retired: list[_Shard] = []
        self._lock = threading.Lock()
        _ALL.add(self)

    # -- open shards ------------------------------------------------------------------

    def path(self, name: str, k: int) -> str:
        return f"{self.root}/{name}/c/{k}"

    def where(self, name: str, k: int) -> str:
        """What messages call shard file ``k`` of leaf ``name``."""
        return f"{self.url}: leaf {name!r} shard {k}"

    def acquire(self, name: str, k: int, fmt: sh.LeafFormat) -> _Shard:
        """Shard file ``k`` of a leaf, opened (index read and checked) or found open, held
        until :meth:`release` (an evicted shard closes when its last reader releases it).
        Two plain calls, not a context manager: a random batch takes about a hundred."""
        path = self.path(name, k)
        with self._lock:
            shard = self._open.get(path)
            if shard is not None:
                self._open.move_to_end(path)
                shard.users += 1
                return shard
        fresh = self._load(name, k, fmt)
        with self._lock:
            shard = self._open.get(path)
            if shard is None:
                shard = self._open[path] = fresh
            else:
                fresh.close()
            shard.users += 1
            self._evict()
        _balance(self)
        return shard

    def release(self, shard: _Shard) -> None:
        """Give back a shard from :meth:`acquire`."""
        with self._lock:
            shard.users -= 1
            if self._retired:
                self._close_retired()

    def _evict(self) -> None:
        limit = min(self.limit, _share())
        while len(self._open) > limit:
            _, old = self._open.popitem(last=False)
            self._retired.append(old)
        self._close_retired()

    def _close_retired(self) -> None:
        keep = []
        for shard in self._retired:
            if shard.users:
                keep.append(shard)
            else:
                shard.close()
        self._retired = keep

    def drop(self, prefix: str = "") -> None:
        """Forget open shards under ``<root>/<prefix>`` (a writer replaced them)."""
        full = f"{self.root}/{prefix}"
        with self._lock:
            for path in [p for p in self._open if p.startswith(full)]:
                self._retired.append(self._open.pop(path))
            self._close_retired()

    def trim(self, keep: int) -> None:
        """Close the least recently used open shards past ``keep`` (idle ones close now,
        held ones when their readers are done)."""
        with self._lock:
            while len(self._open) > keep:
                _, old = self._open.popitem(last=False)
                self._retired.append(old)
            self._close_retired()

    def release_idle(self) -> None:
        """Close every open shard no reader holds (the process ran out of descriptors)."""
        with self._lock:
            for path in [p for p, shard in self._open.items() if not shard.users]:
                self._retired.append(self._open.pop(path))
            self._close_retired()

    def after_fork(self) -> None:
        """A child process inherits the parent's descriptors and maps, which stay valid;
        it starts with a fresh lock and forgets the parent's borrowers."""
        self._lock = threading.Lock()
        for shard in self._open.values():
            shard.users = 0
        self._retired = []

    def _load(self, name: str, k: int, fmt: sh.LeafFormat) -> _Shard:
        fd, size, offsets, nbytes = self._open_index(name, k, fmt)
        try:
            regular = sh.is_regular(fmt, offsets, nbytes) and _prefix_written(nbytes)
            where = self.where(name, k)
            try:
                return _Shard(where, fd, size, offsets, nbytes, regular, fmt)
            except OSError as err:  # the map needs a descriptor of its own
                if err.errno not in (errno.EMFILE, errno.ENFILE):
                    raise
                _release_idle()
                return _Shard(where, fd, size, offsets, nbytes, regular, fmt)
        except BaseException:
            os.close(fd)
            raise

    def _open_index(
        self, name: str, k: int, fmt: sh.LeafFormat
    ) -> tuple[int, int, np.ndarray, np.ndarray]:
        """Open shard file ``k`` of a leaf as it is on disk now (never through a link):
        ``(descriptor, size, offsets, nbytes)``, its index read and checked. The caller
        closes the descriptor."""
        path = self.path(name, k)
        where = f"{self.where(name, k)} ({path})"
        try:
            fd = _open_read(path)
        except FileNotFoundError as err:
            raise StoreFormatError(
                f"{self.url}: leaf {name!r} is missing shard {k} ({path})"
            ) from err
        except OSError as err:  # a link (ELOOP: never followed), a folder, no permission
            raise StoreFormatError(f"{where} cannot be opened ({err})") from err
        try:
            size = os.fstat(fd).st_size
            need = sh.index_bytes(fmt)
            if size < need:
                raise StoreFormatError(
                    f"{where} is truncated: {size} bytes, less than its {need}-byte index"
                )
            offsets, nbytes = sh.parse_index(fmt, os.pread(fd, need, size - need), size, where)
        except BaseException:
            os.close(fd)
            raise
        return fd, size, offsets, nbytes

    # -- reads ------------------------------------------------------------------------

    def gather(
        self, name: str, fmt: sh.LeafFormat, ranges: Ranges, length: int, cache: ChunkCache | None
    ) -> np.ndarray:
        """As :meth:`.zarr.LeafBackend.gather`; the leaves of a level share the plan of
        their raw gathers in ``ranges.memo``."""
        starts, stops = ranges.starts, ranges.stops
        lens = stops - starts
        if not lens.all():
            starts, stops, lens = starts[lens > 0], stops[lens > 0], lens[lens > 0]
        if len(starts) == 0:
            return np.zeros(0, dtype=fmt.dtype)
        if fmt.codec == "raw":
            gap = fmt.stride // fmt.dtype.itemsize - fmt.chunk  # padding between chunks
            if len(starts) == 1:  # one range (a single row, a run of rows): slices
                one = self._slice_raw(name, fmt, int(starts[0]), int(stops[0]), gap)
                if one is not None:
                    return one
            elif int(lens.sum()) >= LONG_RAW_RANGES * len(starts):
                parts = []
                for a, b in zip(starts.tolist(), stops.tolist(), strict=True):
                    part = self._slice_raw(name, fmt, a, b, gap)
                    if part is None:  # crosses a shard file: the planned path reads it all
                        break
                    parts.append(part)
                else:
                    return np.concatenate(parts)
            key = ("raw", fmt.shard, fmt.chunk, gap)
            plan = ranges.memo.get(key)
            if plan is None:
                plan = ranges.memo[key] = _raw_plan(fmt.shard, fmt.chunk, gap, starts, stops, lens)
            found = self._gather_raw(name, fmt, plan)
            if found is not None:
                return found
        return self._gather_chunks(name, fmt, starts, stops, lens, length, cache)

    def window(
        self, name: str, fmt: sh.LeafFormat, a: int, b: int, length: int, cache: ChunkCache | None
    ) -> np.ndarray:
        """Values ``[a, b)`` (not empty, inside the committed length) of a leaf: the read
        of one range (``h[i]``, ``h[a:b]``) with no :class:`.gather.Ranges` and no plan. A
        raw leaf copies them from its map (:meth:`_slice_raw`), a compressed one decodes
        the chunks they span (:meth:`_chunk_window`)."""
        if fmt.codec == "raw":
            gap = fmt.stride // fmt.dtype.itemsize - fmt.chunk
            found = self._slice_raw(name, fmt, a, b, gap)
            if found is not None:
                return found
            return self.gather(name, fmt, Ranges.one(a, b), length, cache)
        return self._chunk_window(name, fmt, a, b, length, cache)

    def windows(self, items: list[tuple[str, sh.LeafFormat, int, int]]) -> list[np.ndarray | None]:
        """Values ``[a, b)`` (not empty, committed) of several leaves, ``(name, format, a,
        b)`` each: the Blosc chunks of the leaves whose range lies in one shard file
        decoded in one compiled call per chunk size (:func:`._native.blosc_files`), each
        leaf's values a copy cut from them. None for a leaf this does not read (another
        codec, a range across shard files, no kernels): the caller reads it alone. A
        single row's atom leaves (``h[i]``: coordinates and element codes) then cost two
        calls instead of four. A chunk the call flags is read again by
        :meth:`_read_chunks`, which says what is wrong."""
        found: list[np.ndarray | None] = [None] * len(items)
        decode = sh.blosc_decoder()
        if decode is None or not _native.available():
            return found
        groups: dict[int, list[int]] = {}
        for i, (_name, fmt, a, b) in enumerate(items):
            if fmt.codec == "blosc" and (b - 1) // fmt.shard == a // fmt.shard:
                groups.setdefault(fmt.chunk_bytes, []).append(i)
        # Shard files held at once: at most half of what the store may keep open (a frame
        # of thousands of leaves would otherwise hold one file of each).
        hold = max(2, min(self.limit, _share()) // 2)
        for want, group in groups.items():
            for g in range(0, len(group), hold):
                self._windows_of(items, group[g : g + hold], want, decode, found)
        return found

    def _windows_of(
        self,
        items: list[tuple[str, sh.LeafFormat, int, int]],
        group: list[int],
        want: int,
        decode: Any,
        found: list[np.ndarray | None],
    ) -> None:
        """:meth:`windows` of the items ``group`` (Blosc chunks of ``want`` bytes, each
        item's range in one shard file), into ``found``."""
        picked: list[tuple[int, _Shard, int, int, int]] = []  # item, shard, chunks, row
        fds: list[np.ndarray] = []
        offsets: list[np.ndarray] = []
        sizes: list[np.ndarray] = []
        row = 0
        try:
            for i in group:
                name, fmt, a, b = items[i]
                k = a // fmt.shard
                c0 = (a - k * fmt.shard) // fmt.chunk
                c1 = (b - 1 - k * fmt.shard) // fmt.chunk + 1
                shard = self.acquire(name, k, fmt)
                picked.append((i, shard, c0, c1, row))
                fds.append(np.full(c1 - c0, shard.fd, dtype=np.int64))
                offsets.append(shard.offsets[c0:c1])
                sizes.append(shard.nbytes[c0:c1])
                row += c1 - c0
            block = np.empty((row, want), dtype=np.uint8)
            bad = _native.blosc_files(
                np.concatenate(fds),
                np.concatenate(offsets),
                np.concatenate(sizes),
                block,
                want,
                decode,
            )
            if bad is None:
                return
            for i, shard, c0, c1, first in picked:
                name, fmt, a, b = items[i]
                part = block[first : first + c1 - c0].view(fmt.dtype)
                for n in np.flatnonzero(bad[first : first + c1 - c0]).tolist():
                    self._read_chunks(fmt, shard, [c0 + n], part, n)
                begin = a - (a // fmt.shard) * fmt.shard - c0 * fmt.chunk
                found[i] = part.reshape(-1)[begin : begin + b - a].copy()
                self.stats.add(part.nbytes, c1 - c0)
        finally:
            for _, shard, *_rest in picked:
                self.release(shard)

    def _slice_raw(
        self, name: str, fmt: sh.LeafFormat, start: int, stop: int, gap: int
    ) -> np.ndarray | None:
        """Values ``[start, stop)`` of a raw leaf inside one shard file, copied from its
        map as one slice per inner chunk they touch (the chunks verified first, once per
        open shard): a single row's read of a raw leaf, with none of the per-value
        planning of :func:`_raw_plan`. None if the range crosses a shard file or the
        shard is not a regular raw one (then the planned path reads it)."""
        k = start // fmt.shard
        if (stop - 1) // fmt.shard != k:
            return None
        lo, hi = start - k * fmt.shard, stop - k * fmt.shard
        first, last = lo // fmt.chunk, (hi - 1) // fmt.chunk
        shard = self.acquire(name, k, fmt)
        try:
            if shard.flat is None or last >= shard.written:
                return None  # not regular, or a chunk past the written ones
            if shard.unverified:
                self._verify_run(fmt, shard, first, last + 1)
            flat, size = shard.flat, fmt.chunk
            # The part of each touched chunk, in order (one or a few; a copy).
            if first == last:
                out = flat[lo + first * gap : hi + first * gap].copy()
            else:
                out = np.concatenate(
                    [
                        flat[max(lo, c * size) + c * gap : min(hi, (c + 1) * size) + c * gap]
                        for c in range(first, last + 1)
                    ]
                )
        finally:
            self.release(shard)
        self.stats.add(out.nbytes, 0)
        return out

    def _gather_raw(self, name: str, fmt: sh.LeafFormat, plan: _RawPlan) -> np.ndarray | None:
        """The values a :func:`_raw_plan` gathers, from the maps of the leaf's raw shard
        files: one ``take`` per shard touched; None if a shard is not a regular raw one
        (then the chunk path reads the ranges)."""
        out = np.empty(plan.total, dtype=fmt.dtype)
        for k, index, chunks, dest in plan.groups:
            shard = self.acquire(name, k, fmt)
            try:
                if shard.flat is None or chunks[-1] >= shard.written:
                    return None  # not regular, or a chunk past the written ones
                if shard.unverified:
                    self._verify_mapped(fmt, shard, chunks)
                values = shard.flat.take(index)
            finally:
                self.release(shard)
            if dest is None:
                out = values
            else:
                out[dest] = values
        self.stats.add(out.nbytes, 0)
        return out

    def _verify_run(self, fmt: sh.LeafFormat, shard: _Shard, first: int, stop: int) -> None:
        """:meth:`_verify_mapped` of the inner chunks ``[first, stop)`` of a mapped shard
        (the few one range touches: no array of them)."""
        verified = shard.verified
        if stop == first + 1:  # (one chunk: a single row's window, as a rule)
            if not verified[first]:
                self._verify_chunks(fmt, shard, [first])
            return
        fresh = [c for c in range(first, stop) if not verified[c]]
        if fresh:
            self._verify_chunks(fmt, shard, fresh)

    def _verify_mapped(self, fmt: sh.LeafFormat, shard: _Shard, j: np.ndarray) -> None:
        """Verify the checksums of the inner chunks ``j`` of a mapped shard not verified
        yet (each once per open shard: a Python step per chunk, not per value)."""
        touched = _unique_sorted(j) if _ascending(j) else unique_inverse(j)[0]
        fresh = touched[~shard.verified[touched]]
        if len(fresh):
            self._verify_chunks(fmt, shard, fresh.tolist())

    def _verify_chunks(self, fmt: sh.LeafFormat, shard: _Shard, fresh: list[int]) -> None:
        """Verify the inner chunks ``fresh`` of a mapped shard and mark them verified."""
        assert shard.map is not None
        for c in fresh:
            a = c * fmt.stride
            sh.verify(shard.map[a : a + fmt.chunk_bytes + 4], f"{shard.where} chunk {c}")
        shard.verified[fresh] = True
        # Counted again, not decremented: two threads may verify the same chunk at once.
        shard.unverified = int(np.count_nonzero(~shard.verified[: shard.written]))

    def _gather_chunks(
        self,
        name: str,
        fmt: sh.LeafFormat,
        starts: np.ndarray,
        stops: np.ndarray,
        lens: np.ndarray,
        length: int,
        cache: ChunkCache | None,
    ) -> np.ndarray:
        """Values of the non-empty ranges ``[starts, stops)`` (``lens`` long) from the
        inner chunks they touch. The work is per range, not per value: each range covers
        consecutive chunks, which sit next to each other among the touched chunks
        (sorted), so it is one run of the decoded block, found by a binary search."""
        c = fmt.chunk
        if len(starts) == 1:
            return self._chunk_window(name, fmt, int(starts[0]), int(stops[0]), length, cache)
        first = starts // c
        count = (stops - 1) // c - first + 1
        touched = np.unique(first if int(count.max()) == 1 else expand_ranges(first, count))
        joined = self._joined(name, fmt, touched.tolist(), length, cache)
        begins = np.searchsorted(touched, first) * c + (starts - first * c)
        return cast("np.ndarray", joined[expand_ranges(begins, lens)])

    def _chunk_window(
        self, name: str, fmt: sh.LeafFormat, a: int, b: int, length: int, cache: ChunkCache | None
    ) -> np.ndarray:
        """Values ``[a, b)`` (not empty) of a leaf from the consecutive inner chunks they
        span, decoded into one block: one slice of it, no search."""
        c = fmt.chunk
        wanted = list(range(a // c, (b - 1) // c + 1))
        begin = a - wanted[0] * c
        return self._joined(name, fmt, wanted, length, cache)[begin : begin + b - a].copy()

    def _joined(
        self,
        name: str,
        fmt: sh.LeafFormat,
        wanted: list[int],
        length: int,
        cache: ChunkCache | None,
    ) -> np.ndarray:
        """The inner chunks ``wanted`` (sorted, distinct) decoded, one after the other in
        one array: into one block with no cache, else through it."""
        if cache is None:
            return self._decode_chunks(name, fmt, wanted).reshape(-1)
        blocks = self.chunks(name, fmt, wanted, length, cache)
        return blocks[0] if len(blocks) == 1 else np.concatenate(blocks)

    def _decode_chunks(self, name: str, fmt: sh.LeafFormat, wanted: list[int]) -> np.ndarray:
        """The inner chunks ``wanted`` (sorted, distinct) of a leaf decoded into the rows
        of one ``(len(wanted), chunk)`` block: the path of reads with no cache (one
        allocation, no list of chunks)."""
        block = np.empty((len(wanted), fmt.chunk), dtype=fmt.dtype)
        self._read_into(name, fmt, wanted, block)
        self.stats.add(block.nbytes, len(wanted))
        return block

    def _read_into(
        self, name: str, fmt: sh.LeafFormat, wanted: list[int], block: np.ndarray
    ) -> None:
        """The inner chunks ``wanted`` (sorted, distinct) of a leaf decoded into rows
        ``0, 1, ...`` of ``block``. Two or more Blosc chunks, from one shard file or
        several, go through one compiled call when the kernels are built
        (:meth:`_read_files`); otherwise shard by shard (:meth:`_read_chunks`)."""
        if len(wanted) > 1 and self._read_files(name, fmt, wanted, block):
            return
        per, i = fmt.per_shard, 0
        while i < len(wanted):
            k = wanted[i] // per
            stop = bisect.bisect_left(wanted, (k + 1) * per, i)
            shard = self.acquire(name, k, fmt)
            try:
                self._read_chunks(fmt, shard, [c - k * per for c in wanted[i:stop]], block, i)
            finally:
                self.release(shard)
            i = stop

    def _read_files(
        self, name: str, fmt: sh.LeafFormat, wanted: list[int], block: np.ndarray
    ) -> bool:
        """:meth:`_read_into` of Blosc chunks of one or more shard files, in one compiled
        call (:func:`._native.blosc_files`: per chunk a ``pread`` from its shard's
        descriptor, checksum, header, decode; the GIL released): the shards are opened
        (or found open) and held first, their indexes give every chunk's place. A chunk
        the call flags is read again by :meth:`_read_chunks`, which says what is wrong.
        False (nothing read) without the kernels or for another codec. A random batch of
        the molecule benchmark's 100,000-molecule store touches ~24 shards of each
        coordinate leaf: a Python step per shard, none per chunk."""
        decode = sh.blosc_decoder() if fmt.codec == "blosc" else None
        if decode is None or not _native.available():
            return False
        per = fmt.per_shard
        k = wanted[0] // per
        if wanted[-1] // per == k:  # one shard file (a row's window): no cutting
            local = np.asarray(wanted, dtype=np.int64) - k * per
            return self._read_group(
                name, fmt, np.array([k]), local, [(0, len(local))], block, decode
            )
        w = np.asarray(wanted, dtype=np.int64)
        ks = w // per
        local = w - ks * per
        cuts = [0, *(np.flatnonzero(ks[1:] != ks[:-1]) + 1).tolist(), len(w)]
        segments = list(itertools.pairwise(cuts))
        # Shards held at once: at most half of what the store may keep open (a request of
        # thousands of rows may touch more shard files than there are descriptors).
        hold = max(2, min(self.limit, _share()) // 2)
        for g in range(0, len(segments), hold):
            group = segments[g : g + hold]
            if not self._read_group(name, fmt, ks, local, group, block, decode):
                return False
        return True

    def _read_group(
        self,
        name: str,
        fmt: sh.LeafFormat,
        ks: np.ndarray,
        local: np.ndarray,
        group: list[tuple[int, int]],
        block: np.ndarray,
        decode: Any,
    ) -> bool:
        """The chunks ``[a, b)`` of each segment of ``group`` (those of shard ``ks[a]``,
        at ``local[a:b]`` in it) into the same rows of ``block``: one call of
        :func:`._native.blosc_files` while the shards are held."""
        lo, hi = group[0][0], group[-1][1]
        fds = np.empty(hi - lo, dtype=np.int64)
        offsets = np.empty(hi - lo, dtype=np.int64)
        sizes = np.empty(hi - lo, dtype=np.int64)
        held: list[_Shard] = []
        try:
            for a, b in group:
                shard = self.acquire(name, int(ks[a]), fmt)
                held.append(shard)
                fds[a - lo : b - lo] = shard.fd
                offsets[a - lo : b - lo] = shard.offsets[local[a:b]]
                sizes[a - lo : b - lo] = shard.nbytes[local[a:b]]
            bad = _native.blosc_files(fds, offsets, sizes, block[lo:hi], fmt.chunk_bytes, decode)
            if bad is None:
                return False
            firsts = [a for a, _ in group]
            for n in (np.flatnonzero(bad) + lo).tolist():
                shard = held[bisect.bisect_right(firsts, n) - 1]
                self._read_chunks(fmt, shard, [int(local[n])], block, n)
        finally:
            for shard in held:
                self.release(shard)
        return True

    def chunks(
        self, name: str, fmt: sh.LeafFormat, wanted: list[int], length: int, cache: ChunkCache
    ) -> list[np.ndarray]:
        """The decoded inner chunks ``wanted`` (sorted, distinct) of a leaf, in order,
        through the cache.

        The cache is asked for all of them at once; the missing ones are read shard by
        shard (one open shard, one ``pread`` per run of adjacent chunks), each verified
        and decoded, then put in the cache. One Python step per touched inner chunk, not
        per value.
        """
        leaf = f"{self.root}/{name}"
        keys = [chunk_key(leaf, c, fmt.chunk, length) for c in wanted]
        found: list[np.ndarray | None] = cache.get_many(keys)
        missing = [i for i, hit in enumerate(found) if hit is None]
        if len(missing) < len(found):
            self.stats.hit(len(found) - len(missing))
        if not missing:
            return found  # type: ignore[return-value]
        # (pread, not the map: faulting in the pages of scattered chunks costs more than
        # reading them; measured on random 32-row batches)
        block = np.empty((len(missing), fmt.chunk), dtype=fmt.dtype)
        self._read_into(name, fmt, [wanted[i] for i in missing], block)
        # What the cache keeps alive of one block is at most SHARED_ROWS chunks: a larger
        # one is cut into copies, or one chunk kept would hold the whole block's memory.
        rows = list(block) if len(missing) <= SHARED_ROWS else [row.copy() for row in block]
        fresh: list[tuple[Any, np.ndarray]] = []
        for i, values in zip(missing, rows, strict=True):
            found[i] = values
            fresh.append((keys[i], values))
        self.stats.add(len(fresh) * fmt.chunk_bytes, len(fresh))
        cache.put_many(fresh)
        return found  # type: ignore[return-value]

    def _decode_frames(
        self, fmt: sh.LeafFormat, shard: _Shard, data: bytes, js: list[int], threads: int = 0
    ) -> list[np.ndarray]:
        """Inner chunks ``js`` of a zstd shard whose bytes ``data`` were read from its
        start, decoded in one call on ``threads`` (the frames are cut from ``data`` by the
        shard index; each must decode to exactly one chunk): the path of whole-leaf reads.
        Checksums are verified once per open shard, as for raw maps: a shard file never
        changes once written (appends replace it). The chunks are views of one decoded
        buffer."""
        idx = np.asarray(js, dtype=np.int64)
        offsets, sizes = shard.offsets[idx], shard.nbytes[idx]
        if int(sizes.min()) < 4:
            bad = int(np.argmin(sizes))
            if sizes[bad] < 0:
                raise _unwritten(shard.where, js[bad])
            raise StoreFormatError(
                f"{shard.where} chunk {js[bad]}: {int(sizes[bad])} bytes cannot hold a checksum"
            )
        fresh = ~shard.verified[idx]
        if fresh.any():
            for c, a, n in zip(
                idx[fresh].tolist(), offsets[fresh].tolist(), sizes[fresh].tolist(), strict=True
            ):
                sh.verify(data[a : a + n], f"{shard.where} chunk {c}")
            shard.verified[idx[fresh]] = True
        segments = np.empty((len(idx), 2), dtype=np.uint64)
        segments[:, 0] = offsets
        segments[:, 1] = sizes - 4  # the frame, without its checksum
        want = np.full(len(idx), fmt.chunk_bytes, dtype=np.uint64)
        try:
            frames = zstandard.BufferWithSegments(data, segments.tobytes())
            out = sh.decompressor().multi_decompress_to_buffer(
                frames, decompressed_sizes=want.tobytes(), threads=threads
            )
            data = b"".join(out)
        except Exception as err:
            # Decode chunk by chunk to say which one fails and why (what it claims to hold).
            for c, a, n in zip(js, offsets.tolist(), sizes.tolist(), strict=True):
                sh.decode_chunk(fmt, data[a : a + n], f"{shard.where} chunk {c}")
            raise StoreFormatError(
                f"{shard.where}: chunks {js} cannot be decoded ({type(err).__name__}: {err})"
            ) from err
        if len(data) != len(idx) * fmt.chunk_bytes:
            raise StoreFormatError(f"{shard.where}: {len(idx)} chunks decode to {len(data)} bytes")
        blocks = np.frombuffer(data, dtype=fmt.dtype).reshape(len(idx), fmt.chunk)
        return list(blocks)

    def _read_chunks(
        self, fmt: sh.LeafFormat, shard: _Shard, js: list[int], block: np.ndarray, row: int
    ) -> None:
        """Inner chunks ``js`` (ascending) of an open shard decoded into rows ``row,
        row + 1, ...`` of ``block`` (C order), by the Python steps: runs of chunks stored
        next to each other are read with one ``pread``; Blosc chunks are checked and
        decoded in place (:func:`_blosc_into`), others through
        :func:`.sharding.decode_chunk`. (Two or more Blosc chunks take the compiled loop
        of :meth:`_read_files` instead; a single chunk, as a random row reads, comes here:
        about as fast as the call that sets up the loop.)"""
        decode = sh.blosc_decoder() if fmt.codec == "blosc" else None
        offsets, sizes = shard.offsets[js].tolist(), shard.nbytes[js].tolist()
        if min(sizes) < 0:
            raise _unwritten(shard.where, js[sizes.index(min(sizes))])
        crc, want = _crc32c(), fmt.chunk_bytes
        dest = block.ctypes.data + row * want
        i, count = 0, len(js)
        while i < count:
            stop = i + 1  # a run of chunks stored one after the other: one read
            while stop < count and offsets[stop] == offsets[stop - 1] + sizes[stop - 1]:
                stop += 1
            a, b = offsets[i], offsets[stop - 1] + sizes[stop - 1]
            data = os.pread(shard.fd, b - a, a)
            if len(data) != b - a:
                raise StoreFormatError(f"{shard.where}: read {len(data)} of {b - a} bytes at {a}")
            # (a run of one chunk, the usual case, hands c-blosc the bytes object itself:
            # ctypes passes its buffer, with no address to work out)
            base = _address(data) if decode is not None and stop > i + 1 else data
            for n in range(i, stop):
                lo, size = offsets[n] - a, sizes[n]
                if decode is not None and _blosc_into(
                    data, base, lo, size, dest + n * want, want, decode, crc
                ):
                    continue
                where = f"{shard.where} chunk {js[n]}"
                block[row + n] = sh.decode_chunk(fmt, memoryview(data)[lo : lo + size], where)
            i = stop

    def read_whole(self, name: str, fmt: sh.LeafFormat, length: int) -> np.ndarray:
        """The values ``[0, length)`` of a leaf: each shard read with one ``pread``, every
        inner chunk verified. A raw leaf of :data:`PARALLEL_BYTES` or more reads its
        shards on one thread per core (``preadv`` releases the GIL: the storage
        benchmark's load, one 40 MB raw leaf, went from 15 to 12 ms on 2 cores), and so
        does a Blosc leaf when the compiled kernels decode each shard in one call with the
        GIL released (:func:`._native.blosc_chunks`). Without them a Blosc leaf, like a
        zstd one, reads its shards in turn: its per-chunk Python steps hold the GIL, and in
        parallel the molecule benchmark's load went from 280 to 360 ms (and a leaf read
        alone, on becoming resident, from ~290 to ~400 ms for the benchmark's five large
        leaves, measured on 2026-12-07)."""
        out = np.empty(length, dtype=fmt.dtype)
        shards = -(-length // fmt.shard)
        parallel = fmt.codec == "raw" or (fmt.codec == "blosc" and _native.available())
        if parallel and shards > 1 and out.nbytes >= PARALLEL_BYTES and READ_THREADS > 1:
            # A pool per call: its tasks never wait on others (no deadlock when called
            # from a pool), and nothing is left behind for a fork.
            with ThreadPoolExecutor(max_workers=min(READ_THREADS, shards)) as pool:
                done = [pool.submit(self._read_shard, name, fmt, k, out, 0) for k in range(shards)]
                for future in done:
                    future.result()
        else:
            for k in range(shards):
                self._read_shard(name, fmt, k, out, READ_THREADS)
        self.stats.add(out.nbytes, -(-length // fmt.chunk))
        return out

    def _read_shard(
        self, name: str, fmt: sh.LeafFormat, k: int, out: np.ndarray, threads: int
    ) -> None:
        """Shard ``k``'s committed values into their place in ``out`` (the whole leaf),
        zstd frames decoded on ``threads``."""
        lo = k * fmt.shard
        n = min(fmt.shard, len(out) - lo)
        count = -(-n // fmt.chunk)
        shard = self.acquire(name, k, fmt)
        try:
            if int(np.count_nonzero(shard.nbytes[:count] >= 0)) != count:
                raise _unwritten(shard.where, int(np.flatnonzero(shard.nbytes[:count] < 0)[0]))
            if shard.flat is not None:
                self._read_mapped(fmt, shard, count, out[lo : lo + n])
                return
            end = int((shard.offsets[:count] + shard.nbytes[:count]).max())
            data = os.pread(shard.fd, end, 0)
            if len(data) != end:
                raise StoreFormatError(f"{shard.where}: short read")
            if fmt.codec == "zstd":
                blocks = self._decode_frames(fmt, shard, data, list(range(count)), threads=threads)
                out[lo : lo + n] = blocks[0].base.reshape(-1)[:n]  # type: ignore[union-attr]
                return
            self._decode_into(fmt, shard, data, count, out[lo : lo + n])
        finally:
            self.release(shard)

    def _read_mapped(self, fmt: sh.LeafFormat, shard: _Shard, count: int, dest: np.ndarray) -> None:
        """The first ``count`` inner chunks of a regular raw shard into ``dest``: one
        ``preadv`` straight into it (values) and into a buffer of checksums, then each
        chunk verified (a Python step per inner chunk of 32 KiB, not per value)."""
        full = len(dest) // fmt.chunk
        view = dest.view(np.uint8).data
        cb = fmt.chunk_bytes
        trailers = bytearray(8 * count)
        tail = bytearray(cb) if full < count else None
        buffers: list[Any] = []
        for j in range(count):
            buffers.append(view[j * cb : (j + 1) * cb] if j < full else tail)
            buffers.append(memoryview(trailers)[8 * j : 8 * j + 8])
        # At most 512 chunks (1024 buffers: IOV_MAX) and 256 MiB per call.
        step = max(1, min(512, (256 << 20) // fmt.stride))
        for first in range(0, count, step):
            last = min(count, first + step)
            want = (last - first) * fmt.stride
            got = os.preadv(shard.fd, buffers[2 * first : 2 * last], first * fmt.stride)
            if got != want:
                raise StoreFormatError(
                    f"{shard.where}: read {got} of {want} bytes at {first * fmt.stride}"
                )

        value = google_crc32c.value
        sums = _native.crc32c_rows(dest.view(np.uint8)[: full * cb], cb)  # (GIL released)
        if sums is None:
            rows = dest.view(np.uint8)[: full * cb].reshape(full, cb)
            sums = np.array([value(row) for row in rows], dtype=np.uint32)  # a step per chunk
        if tail is not None:
            sums = np.append(sums, np.uint32(value(bytes(tail))))
        stored = np.frombuffer(trailers, dtype="<u4")[0::2]
        for j in np.flatnonzero(sums.astype(np.uint64) != stored).tolist():
            body = bytes(buffers[2 * j])
            sh.verify(body + trailers[8 * j : 8 * j + 4], f"{shard.where} chunk {j}")
        if tail is not None:
            rest = len(dest) - full * fmt.chunk
            dest[full * fmt.chunk :] = np.frombuffer(tail, dtype=fmt.dtype, count=rest)
        shard.verified[:count] = True
        shard.unverified = int(np.count_nonzero(~shard.verified[: shard.written]))

    def _decode_into(
        self, fmt: sh.LeafFormat, shard: _Shard, data: bytes, count: int, dest: np.ndarray
    ) -> None:
        """The first ``count`` inner chunks of a shard whose bytes ``data`` were read from
        its start, each verified and decoded into its place in ``dest`` (one step per
        inner chunk, each a whole-buffer decode). Blosc chunks go straight in
        (:func:`_blosc_chunks_into`); the chunks of other codecs, and the Blosc ones it
        leaves, go through :func:`.sharding.decode_chunk`, which says what is wrong."""
        left: Iterable[int] = range(count)
        if fmt.codec == "blosc":
            left = _blosc_chunks_into(data, shard.offsets[:count], shard.nbytes[:count], dest, fmt)
        if left:  # (as lists only for the chunks the steps below take)
            offsets, sizes = shard.offsets[:count].tolist(), shard.nbytes[:count].tolist()
        view = memoryview(data)
        for j in left:
            a = offsets[j]
            raw = view[a : a + sizes[j]]
            where = f"{shard.where} chunk {j}"
            lo = j * fmt.chunk
            hi = min(len(dest), lo + fmt.chunk)
            if fmt.codec == "raw":
                body = sh.verify(raw, where)
                if len(body) != fmt.chunk_bytes:
                    raise StoreFormatError(
                        f"{where}: {len(body)} bytes; a chunk has {fmt.chunk_bytes}"
                    )
                dest[lo:hi] = np.frombuffer(body, dtype=fmt.dtype, count=hi - lo)
            elif hi - lo == fmt.chunk:
                sh.decode_chunk(fmt, raw, where, out=dest[lo:hi])
            else:
                dest[lo:hi] = sh.decode_chunk(fmt, raw, where)[: hi - lo]
        shard.verified[:count] = True
        shard.unverified = int(np.count_nonzero(~shard.verified[: shard.written]))

    # -- writes -----------------------------------------------------------------------

    def write(
        self, name: str, fmt: sh.LeafFormat, start: int, values: np.ndarray, written: list[str]
    ) -> None:
        """Write ``values`` at ``start`` (the committed length): every shard they touch
        is replaced by a new file; the paths written are added to ``written``."""
        stop = start + len(values)
        folder = f"{self.root}/{name}/c"
        os.makedirs(folder, exist_ok=True)
        for k in range(start // fmt.shard, (stop - 1) // fmt.shard + 1):
            lo = k * fmt.shard
            a, b = max(start, lo), min(stop, lo + fmt.shard)
            path = f"{folder}/{k}"
            tmp = _partial(path)
            try:
                fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | _CLOEXEC, 0o666)
                try:
                    self._write_shard(name, fmt, k, a - lo, values[a - start : b - start], fd)
                finally:
                    os.close(fd)
                os.replace(tmp, path)
            except BaseException:
                with contextlib.suppress(OSError):
                    os.remove(tmp)
                raise
            written.append(path)
        self.drop(f"{name}/")

    def _write_shard(
        self, name: str, fmt: sh.LeafFormat, k: int, committed: int, values: np.ndarray, fd: int
    ) -> None:
        """Shard ``k`` holding its first ``committed`` values (from the file on disk now)
        then ``values``, written to the new file ``fd``.

        The inner chunks holding only committed values are copied byte for byte (one
        ``copy_file_range`` of the file's head when they lie in order, as this writer
        lays them out), never decoded or re-checksummed; the partly filled one is decoded
        (checksum verified) and encoded again with the new values.
        """
        count, n = divmod(committed, fmt.chunk)
        offsets = np.full(fmt.per_shard, -1, dtype=np.int64)
        nbytes = np.full(fmt.per_shard, -1, dtype=np.int64)
        tail = np.zeros(0, dtype=fmt.dtype)
        pos = 0
        if committed:
            src, _, old_offsets, old_nbytes = self._open_index(name, k, fmt)
            try:
                pos, tail = self._keep(name, fmt, k, src, old_offsets, old_nbytes, count, n, fd)
            finally:
                os.close(src)
            offsets[:count] = _packed(fmt, old_nbytes[:count])  # where _keep put them
            nbytes[:count] = old_nbytes[:count]
        body = np.concatenate([tail, values]) if len(tail) else values
        blob, at, sizes = sh.encode_chunks(fmt, body, threads=READ_THREADS)
        used = count + len(at)
        offsets[count:used], nbytes[count:used] = at + pos, sizes
        _pwrite_all(fd, blob, pos)
        empty = nbytes < 0
        table = np.stack([offsets, nbytes]).astype(np.uint64)
        table[:, empty] = sh.EMPTY
        index = sh.encode_index(fmt, table[0], table[1])
        _pwrite_all(fd, index, pos + len(memoryview(blob).cast("B")))

    def _keep(
        self,
        name: str,
        fmt: sh.LeafFormat,
        k: int,
        src: int,
        old_offsets: np.ndarray,
        old_nbytes: np.ndarray,
        count: int,
        n: int,
        fd: int,
    ) -> tuple[int, np.ndarray]:
        """Copy the ``count`` full committed chunks of an old shard (descriptor ``src``)
        to the head of ``fd``; return where the next chunk goes and the ``n`` committed
        values of the partly filled chunk."""
        used = count + (1 if n else 0)
        if np.any(old_nbytes[:used] < 0):
            j = int(np.flatnonzero(old_nbytes[:used] < 0)[0])
            raise _unwritten(self.where(name, k), j)
        packed = _packed(fmt, old_nbytes[:count])
        end = int(packed[-1] + old_nbytes[count - 1]) if count else 0
        if fmt.codec == "raw" and count:
            end = count * fmt.stride
        if count and np.array_equal(old_offsets[:count], packed):
            _copy_range(src, fd, end)  # in order, as written here: one copy of the head
        elif count:
            for j, at in enumerate(packed.tolist()):  # laid out otherwise: chunk by chunk
                piece = os.pread(src, int(old_nbytes[j]), int(old_offsets[j]))
                if len(piece) != int(old_nbytes[j]):
                    raise StoreFormatError(f"{self.where(name, k)} chunk {j}: short read")
                _pwrite_all(fd, piece, at)  # (gaps between raw chunks read as zeros)
        tail = np.zeros(0, dtype=fmt.dtype)
        if n:
            where = f"{self.where(name, k)} chunk {count}"
            data = os.pread(src, int(old_nbytes[count]), int(old_offsets[count]))
            tail = sh.decode_chunk(fmt, data, where)[:n].copy()
        return end, tail


def _packed(fmt: sh.LeafFormat, nbytes: np.ndarray) -> np.ndarray:
    """Where this writer puts chunks of ``nbytes`` from a shard's first byte on."""
    if fmt.codec == "raw":
        return np.arange(len(nbytes), dtype=np.int64) * fmt.stride
    return np.concatenate([[0], np.cumsum(nbytes[:-1])]).astype(np.int64)


def _copy_range(src: int, dst: int, length: int) -> None:
    """Bytes ``[0, length)`` of ``src`` to the same place in ``dst``: in the kernel where
    it can (``copy_file_range``), else through a buffer."""
    done = 0
    copy = getattr(os, "copy_file_range", None)
    if copy is not None:
        with contextlib.suppress(OSError):  # not supported here (e.g. across file systems)
            while done < length:
                got = copy(src, dst, length - done, done, done)
                if got <= 0:
                    break
                done += got
    while done < length:
        data = os.pread(src, min(length - done, 64 << 20), done)
        if not data:
            raise StoreFormatError(f"a shard file ends at byte {done}, before {length}")
        _pwrite_all(dst, data, done)
        done += len(data)


def _pwrite_all(fd: int, data: Any, at: int) -> None:
    view = memoryview(data).cast("B")
    while len(view):
        got = os.pwrite(fd, view, at)
        view, at = view[got:], at + got


def _partial(path: str) -> str:
    return f"{path}.{os.getpid()}-{threading.get_ident()}.partial"


def write_doc(path: str, doc: dict[str, Any]) -> None:
    """Write a small JSON document atomically (temporary file, rename)."""
    _replace(path, [json.dumps(doc, separators=(",", ":")).encode()])


def _replace(path: str, pieces: list[bytes]) -> None:
    tmp = _partial(path)
    try:
        with open(tmp, "wb") as fh:
            fh.write(b"".join(pieces))  # one write call: pieces are small inner chunks
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.remove(tmp)
        raise


def _prefix_written(nbytes: np.ndarray) -> bool:
    """Whether the written chunks of a shard are a prefix (what regular maps assume)."""
    written = nbytes >= 0
    count = int(np.count_nonzero(written))
    return bool(written[:count].all())


_HEADER = struct.Struct("<III").unpack_from  # a Blosc frame's sizes: raw, block, compressed
_TRAILER = struct.Struct("<I").unpack_from  # a chunk's crc32c


def _blosc_into(
    data: bytes, base: int | bytes, lo: int, size: int, dest: int, want: int, decode: Any, crc: Any
) -> bool:
    """Decode the Blosc inner chunk ``data[lo : lo + size]`` (frame and checksum; ``base``
    the address of ``data``'s bytes, or ``data`` itself when ``lo`` is 0: ctypes passes
    its buffer) into the ``want`` bytes at address ``dest`` if its
    checksum and header check out and c-blosc decodes exactly one chunk; False otherwise
    (then :func:`.sharding.decode_chunk` says what is wrong). ``crc`` is
    ``google_crc32c.value``. The few steps a read takes per compressed chunk, with no
    NumPy call and no allocation but the checksum's slice (about 5 us a chunk, 3 of them
    c-blosc's)."""
    end = lo + size - 4
    if size < 20 or _HEADER(data, lo + 4)[::2] != (want, size - 4):
        return False
    if crc(data[lo:end]) != _TRAILER(data, end)[0]:
        return False
    source = base if isinstance(base, bytes) else base + lo
    return bool(decode(source, dest, want, 1) == want)


def _blosc_chunks_into(
    data: bytes, offsets: np.ndarray, sizes: np.ndarray, dest: np.ndarray, fmt: sh.LeafFormat
) -> list[int]:
    """The Blosc inner chunks of a shard whose bytes ``data`` were read from its start
    (``offsets`` and ``sizes`` from its index), each verified and decoded straight into
    its place in ``dest``. Returns the chunks it leaves, in order: a chunk that fails a
    check, the partly filled last one, and every chunk where c-blosc's own functions are
    not exported.

    With the compiled kernels the whole shard is one call with the GIL released
    (:func:`._native.blosc_chunks`: checksum, header and decode per chunk in C); without
    them, a few Python steps per inner chunk (:func:`_blosc_into`; a whole-leaf read of
    decimal-scaled coordinates is ~5,000 of them)."""
    decode = sh.blosc_decoder()
    count = len(offsets)
    if decode is None:
        return list(range(count))
    full = min(count, len(dest) // fmt.chunk)
    bad = _native.blosc_chunks(
        data, offsets[:full], sizes[:full], dest[: full * fmt.chunk], fmt.chunk_bytes, decode
    )
    if bad is not None:
        return [*np.flatnonzero(bad).tolist(), *range(full, count)]
    crc, want = _crc32c(), fmt.chunk_bytes
    base, out = _address(data), dest.ctypes.data
    return [
        j
        for j, (a, n) in enumerate(zip(offsets.tolist(), sizes.tolist(), strict=True))
        if j >= full or not _blosc_into(data, base, a, n, out + j * want, want, decode, crc)
    ]


def _crc32c() -> Any:
    """``google_crc32c.value`` (imported on first use)."""
    return google_crc32c.value


def _address(data: bytes) -> int:
    """The address of a bytes object's buffer (for c-blosc; ``data`` must stay alive)."""
    return int(ctypes.cast(data, ctypes.c_void_p).value or 0)  # type: ignore[arg-type]


SHARED_ROWS = 4
"""Chunks decoded by one read that the cache may keep as views of one block (more are
copied apart: a chunk kept alive keeps its whole block, which the cache's byte budget
does not see)."""

LONG_RAW_RANGES = 64
"""Ranges of a raw leaf at least this long on average are copied range by range from
the shard maps (:meth:`LocalShards._slice_raw`), not through a :func:`_raw_plan` of every
value: 32 random molecules of the molecule benchmark (~470 atoms each) took 0.18-0.3 ms
of one atom leaf that way against 1.0-1.3 ms planned; 32 or 160 ranges of 1-6 values
took 0.10 ms against 0.07 planned."""


class _RawPlan(NamedTuple):
    """How ranges of a raw leaf are gathered from its shard files' maps (see
    :func:`_raw_plan`)."""

    total: int
    groups: list[tuple[int, np.ndarray, np.ndarray, np.ndarray | None]]
    """Per shard ``k`` touched: ``(k, index into its flat map, the inner chunks read
    (sorted), where the values go in the output or None for all of it)``."""


def _raw_plan(
    size: int, chunk: int, gap: int, starts: np.ndarray, stops: np.ndarray, lens: np.ndarray
) -> _RawPlan:
    """The :class:`_RawPlan` of non-empty ranges ``[starts, stops)`` of a raw leaf with
    ``size`` values per shard file and ``chunk`` per inner chunk (``gap`` padding values
    between two chunks in a shard's map). The ranges, not their values, are cut at shard
    boundaries and grouped by shard: no pass over every value per shard (32 random
    molecules touch 10 shards of each 40 MB atom leaf), and the leaves of a level with
    the same geometry share one plan."""
    first, last = starts // size, (stops - 1) // size
    if bool((last > first).any()):  # cut the ranges crossing a shard boundary
        pieces = last - first + 1
        keys = expand_ranges(first, pieces)
        owner = np.repeat(np.arange(len(starts)), pieces)
        cut = np.maximum(starts[owner], keys * size)
        stops = np.minimum(stops[owner], (keys + 1) * size)
        starts, first, lens = cut, keys, stops - cut
    ends = np.cumsum(lens)
    groups: list[tuple[int, np.ndarray, np.ndarray, np.ndarray | None]] = []
    if int(first.min()) == int(first.max()):
        picks: list[tuple[int, Any]] = [(int(first[0]), slice(None))]
    else:
        order = np.argsort(first, kind="stable")
        cuts = np.flatnonzero(np.diff(first[order])) + 1
        picks = [(int(first[g[0]]), g) for g in np.split(order, cuts)]
    for k, sel in picks:
        local = expand_ranges(starts[sel] - k * size, lens[sel])
        j = local // chunk
        chunks = _unique_sorted(j) if _ascending(j) else np.unique(j)
        dest = None if isinstance(sel, slice) else expand_ranges(ends[sel] - lens[sel], lens[sel])
        groups.append((k, j * gap + local, chunks, dest))
    return _RawPlan(int(ends[-1]), groups)


def _ascending(values: np.ndarray) -> bool:
    return len(values) < 2 or bool(np.all(values[1:] >= values[:-1]))


def _unique_sorted(values: np.ndarray) -> np.ndarray:
    if len(values) == 0:
        return values
    keep = np.empty(len(values), dtype=bool)
    keep[0] = True
    np.not_equal(values[1:], values[:-1], out=keep[1:])
    return values[keep]


def unique_inverse(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``np.unique(values, return_inverse=True)`` for integers in a narrow span (chunk
    numbers of a request), without sorting the values: a flag per value of the span, then
    a running count as the lookup table (a request's positions come in the order rows
    were asked for, and sorting thousands of them cost more than the read)."""
    if len(values) == 0:
        return values, values
    low, high = int(values.min()), int(values.max())
    span = high - low + 1
    if span > 8 * len(values) + 4096:
        found, inverse = np.unique(values, return_inverse=True)
        return found, inverse
    flags = np.zeros(span, dtype=bool)
    flags[values - low] = True
    lookup = np.cumsum(flags) - 1
    return np.flatnonzero(flags) + low, lookup[values - low]
