"""Leaves: 1-D Zarr v3 arrays, written and read through zarr-python, with a direct path.

Every leaf is a plain Zarr v3 array (any Zarr reader opens it). For uncompressed leaves on
a local filesystem the chunk files are raw little-endian values at ``<leaf>/c/<k>``, so
this module reads and writes the needed byte ranges of those files directly (``pread`` /
``pwrite``) instead of decoding whole chunks through zarr-python, which charges a fixed
cost per chunk and per call; everything else goes through zarr-python. Tests check both
paths against each other and against plain ``zarr.open_array``.
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import fsspec
import numpy as np
import zarr
import zarr.codecs
from fsspec.implementations.local import LocalFileSystem
from zarr.storage import FsspecStore, LocalStore

from grumpy_arrow.errors import StoreError, StoreFormatError

__all__ = [
    "COMPRESSORS",
    "ChunkCache",
    "IOStats",
    "LeafStore",
    "compressor_codecs",
    "parse_compressor",
]

COMPRESSORS = ("none", "zstd", "blosc")


def parse_compressor(name: Any) -> str:
    """A compressor name, with ``"default"`` resolved (to ``"none"``: measured fastest)."""
    if name == "default":
        return "none"
    if name not in COMPRESSORS:
        raise ValueError(
            f"compressor must be one of default, {', '.join(COMPRESSORS)}, got {name!r}"
        )
    return str(name)


def compressor_codecs(name: str) -> Any:
    """The zarr ``compressors=`` value for a compressor name."""
    if name == "none":
        return None
    if name == "zstd":
        return zarr.codecs.ZstdCodec(level=3)
    if name == "blosc":
        return zarr.codecs.BloscCodec(cname="lz4", clevel=5, shuffle="shuffle")
    raise ValueError(f"compressor must be one of {', '.join(COMPRESSORS)}, got {name!r}")


@dataclass
class IOStats:
    """What a handle has read: bytes, chunks and read calls (for partial-I/O checks)."""

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

    def as_dict(self) -> dict[str, int]:
        return {
            "bytes_read": self.bytes_read,
            "chunks_read": self.chunks_read,
            "calls": self.calls,
            "cache_hits": self.cache_hits,
        }


class _LRU:
    """The state scoped :class:`ChunkCache` views share: items, their sizes, the byte budget."""

    def __init__(self, budget: int) -> None:
        self.budget = budget
        self.used = 0
        self.items: OrderedDict[tuple[str, int], tuple[np.ndarray, int]] = OrderedDict()
        self.seen: OrderedDict[tuple[str, int], None] = OrderedDict()
        self.lock = threading.Lock()


class ChunkCache:
    """An LRU of decoded chunks, bounded by bytes (0 disables it).

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

    def scoped(self, scope: str) -> ChunkCache:
        """A view of this cache whose keys do not meet those of other scopes."""
        return ChunkCache(0, _lru=self._lru, _scope=f"{self._scope}{scope}\x00")

    def _key(self, key: tuple[str, int]) -> tuple[str, int]:
        return (self._scope + key[0], key[1]) if self._scope else key

    def seen(self, key: tuple[str, int]) -> bool:
        """Whether ``key`` was touched before (and remember that it now was)."""
        key, lru = self._key(key), self._lru
        with lru.lock:
            if key in lru.seen:
                return True
            lru.seen[key] = None
            if len(lru.seen) > 1 << 16:
                lru.seen.popitem(last=False)
            return False

    def get(self, key: tuple[str, int]) -> np.ndarray | None:
        key, lru = self._key(key), self._lru
        with lru.lock:
            found = lru.items.get(key)
            if found is None:
                return None
            lru.items.move_to_end(key)
            return found[0]

    def put(self, key: tuple[str, int], value: np.ndarray, *, nbytes: int | None = None) -> None:
        """Keep ``value``; ``nbytes`` is what it holds when its own ``nbytes`` cannot see
        that (an object array holding a loaded store)."""
        size = value.nbytes if nbytes is None else int(nbytes)
        key, lru = self._key(key), self._lru
        if size > lru.budget:
            return
        with lru.lock:
            old = lru.items.pop(key, None)
            if old is not None:
                lru.used -= old[1]
            lru.items[key] = (value, size)
            lru.used += size
            while lru.used > lru.budget and lru.items:
                _, (_, dropped) = lru.items.popitem(last=False)
                lru.used -= dropped

    def clear(self) -> None:
        """Empty the whole cache (every scope)."""
        lru = self._lru
        with lru.lock:
            lru.items.clear()
            lru.seen.clear()
            lru.used = 0


class LeafStore:
    """The Zarr group of a store: leaf creation, appends, range reads, the manifest file."""

    def __init__(
        self, path: Any, storage_options: dict[str, Any] | None = None, *, read_only: bool = False
    ) -> None:
        self.url = os.fspath(path) if isinstance(path, os.PathLike) else str(path)
        self.storage_options = dict(storage_options or {})
        self.read_only = read_only
        self.fs, self.root = fsspec.core.url_to_fs(self.url, **self.storage_options)
        self.local = isinstance(self.fs, LocalFileSystem)
        if self.local:
            self.root = os.path.abspath(self.root)
            self.zstore: Any = LocalStore(self.root, read_only=read_only)
        else:
            self.zstore = FsspecStore.from_url(
                self.url, storage_options=self.storage_options or None, read_only=read_only
            )
        self._arrays: dict[str, Any] = {}
        self._meta: dict[str, tuple[int, np.dtype[Any], bool]] = {}
        self._docs: dict[str, dict[str, Any]] = {}
        self._fds: OrderedDict[str, int] = OrderedDict()
        self._fd_lock = threading.Lock()
        self.stats = IOStats()

    # -- files ------------------------------------------------------------------------

    def file_path(self, name: str) -> str:
        return f"{self.root.rstrip('/')}/{name}"

    def exists(self, name: str) -> bool:
        return bool(self.fs.exists(self.file_path(name)))

    def read_text(self, name: str) -> bytes:
        return bytes(self.fs.cat_file(self.file_path(name)))

    def write_atomic(self, name: str, data: bytes, *, sync: bool = True) -> None:
        """Write a small file so readers see the old or the new content, never a mix."""
        target = self.file_path(name)
        if self.local:
            tmp = f"{target}.tmp-{os.getpid()}-{threading.get_ident()}"
            with open(tmp, "wb") as fh:
                fh.write(data)
                if sync:
                    fh.flush()
                    os.fsync(fh.fileno())
            os.replace(tmp, target)
        else:
            self.fs.pipe_file(target, data)

    # -- arrays -----------------------------------------------------------------------

    def group(self) -> Any:
        return zarr.open_group(self.zstore, mode="r" if self.read_only else "a")

    def array(self, name: str) -> Any:
        arr = self._arrays.get(name)
        if arr is None:
            try:
                arr = zarr.open_array(self.zstore, path=name, mode="r" if self.read_only else "r+")
            except (FileNotFoundError, KeyError, ValueError) as err:
                raise StoreFormatError(f"{self.url}: leaf {name!r} is missing") from err
            except Exception as err:  # zarr raises several types for a missing node
                if "not found" in str(err).lower() or "NodeNotFound" in type(err).__name__:
                    raise StoreFormatError(f"{self.url}: leaf {name!r} is missing") from err
                raise
            self._arrays[name] = arr
        return arr

    def leaf_meta(self, name: str) -> tuple[int, np.dtype[Any], bool]:
        """``(chunk length, dtype, direct)``: direct when chunk files are raw local bytes.

        Local leaves read their ``zarr.json`` directly (a JSON parse, no zarr round trip).
        """
        meta = self._meta.get(name)
        if meta is None:
            doc = self._zarr_json(name) if self.local else None
            if doc is not None:
                codecs = doc.get("codecs") or []
                direct = (
                    len(codecs) == 1
                    and codecs[0].get("name") == "bytes"
                    and (codecs[0].get("configuration") or {}).get("endian", "little") == "little"
                )
                chunk = int(doc["chunk_grid"]["configuration"]["chunk_shape"][0])
                meta = (chunk, np.dtype(doc["data_type"]), direct)
            else:
                arr = self.array(name)
                meta = (int(arr.chunks[0]), np.dtype(arr.dtype), False)
            self._meta[name] = meta
        return meta

    def leaf_length(self, name: str) -> int:
        """The Zarr shape of a leaf (at least its committed length in a sound store)."""
        if self.local:
            doc = self._zarr_json(name)
            assert doc is not None
            return int(doc["shape"][0])
        return int(self.array(name).shape[0])

    def _require_chunks(self, name: str, first: int, stop: int) -> None:
        """Every chunk is written, so a missing one is damage, not fill values (local)."""
        if not self.local:
            return
        for k in range(first, stop):
            path = os.path.join(self.root, name, "c", str(k))
            if not os.path.exists(path):
                raise StoreFormatError(f"{self.url}: leaf {name!r} is missing chunk {k} ({path})")

    def _zarr_json(self, name: str) -> dict[str, Any] | None:
        """A local leaf's Zarr metadata document (cached)."""
        doc = self._docs.get(name)
        if doc is None:
            path = os.path.join(self.root, name, "zarr.json")
            try:
                with open(path, "rb") as fh:
                    doc = json.loads(fh.read())
            except FileNotFoundError as err:
                raise StoreFormatError(f"{self.url}: leaf {name!r} is missing ({path})") from err
            except ValueError as err:
                raise StoreFormatError(
                    f"{self.url}: leaf {name!r} has unreadable Zarr metadata ({path}: {err})"
                ) from err
            if doc.get("node_type") != "array" or doc.get("zarr_format") != 3:
                raise StoreFormatError(f"{self.url}: leaf {name!r} is not a Zarr v3 array")
            self._docs[name] = doc
        return doc

    def _resize_direct(self, name: str, length: int) -> None:
        """Set a local leaf's shape by rewriting its ``zarr.json`` (atomic), as zarr would."""
        doc = self._zarr_json(name)
        assert doc is not None
        if doc["shape"] == [length]:
            return
        doc = dict(doc, shape=[length])
        self._docs[name] = doc
        self.write_atomic(f"{name}/zarr.json", json.dumps(doc, indent=2).encode(), sync=False)

    def create(self, name: str, dtype: str, chunk: int, compressor: str) -> None:
        arr = self.group().create_array(
            name,
            shape=(0,),
            dtype=dtype,
            chunks=(chunk,),
            compressors=compressor_codecs(compressor),
            fill_value=0,
            overwrite=True,
            config={"write_empty_chunks": True},
        )
        self._arrays[name] = arr
        self._meta.pop(name, None)
        self._docs.pop(name, None)

    def write(self, name: str, start: int, values: np.ndarray) -> None:
        """Write ``values`` at ``start`` and cut the leaf to end there (true append)."""
        chunk, dtype, direct = self.leaf_meta(name)
        stop = start + len(values)
        values = np.ascontiguousarray(values, dtype=dtype)
        if direct:
            # Data first, then the shape: a crash in between leaves a shorter shape, and
            # the manifest (written after both) is what readers trust anyway.
            if len(values):
                self._pwrite(name, start, values, chunk)
            self._resize_direct(name, stop)
            return
        # Every chunk is written, even one equal to the fill value, so a missing chunk
        # file always means damage (zarr's write_empty_chunks is a runtime setting).
        arr = self.array(name).with_config({"write_empty_chunks": True})
        if arr.shape[0] != stop:
            arr.resize((stop,))
        if len(values):
            arr[start:stop] = values

    def _pwrite(self, name: str, start: int, values: np.ndarray, chunk: int) -> None:
        size = values.dtype.itemsize
        os.makedirs(os.path.join(self.root, name, "c"), exist_ok=True)
        pos = 0
        while pos < len(values):
            k, within = divmod(start + pos, chunk)
            n = min(chunk - within, len(values) - pos)
            path = os.path.join(self.root, name, "c", str(k))
            fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o644)
            try:
                # Chunk files are always whole chunks (zarr pads the last one with the fill
                # value); extending a file with truncate is sparse and costs nothing.
                if os.fstat(fd).st_size < chunk * size:
                    os.ftruncate(fd, chunk * size)
                os.pwrite(fd, values[pos : pos + n].tobytes(), within * size)
            finally:
                os.close(fd)
            pos += n

    # -- reads ------------------------------------------------------------------------

    def read(
        self,
        name: str,
        start: int,
        stop: int,
        cache: ChunkCache | None = None,
        length: int | None = None,
        admit: Callable[[tuple[str, int]], bool] | None = None,
    ) -> np.ndarray:
        """Values ``[start, stop)`` of a leaf whose committed length is ``length``.

        Direct leaves read exactly the bytes asked for; with a cache, a chunk touched a
        second time is read whole (up to ``length``) and kept, so one pass over a store
        costs no more than the bytes it needs while repeated reads come from memory.
        """
        chunk, dtype, direct = self.leaf_meta(name)
        if stop <= start:
            return np.zeros(0, dtype=dtype)
        if direct and cache is None:
            return self._pread(name, start, stop, chunk, dtype)
        if direct and cache is not None:
            # The exact range read before (a repeated selection) comes from memory.
            range_key = (f"{name}@{start}:{stop}", -3)
            hit = cache.get(range_key)
            if hit is not None:
                with self.stats.lock:
                    self.stats.cache_hits += 1
                return hit
        first, last = start // chunk, (stop - 1) // chunk
        if (
            direct
            and cache is not None
            and not any(
                cache.get((name, k)) is not None or (admit is not None and admit((name, k)))
                for k in range(first, last + 1)
            )
        ):
            values = self._pread(name, start, stop, chunk, dtype)
            cache.put(range_key, values)
            return values
        parts = []
        for k in range(first, last + 1):
            lo, hi = max(start, k * chunk), min(stop, (k + 1) * chunk)
            key = (name, k)
            seen = admit(key) if admit is not None else cache is not None and cache.seen(key)
            if direct and cache is not None and cache.get(key) is None and not seen:
                parts.append(self._pread(name, lo, hi, chunk, dtype))
                continue
            whole = self._chunk(name, k, chunk, dtype, direct, cache, length)
            parts.append(whole[lo - k * chunk : hi - k * chunk])
        return parts[0] if len(parts) == 1 else np.concatenate(parts)

    def _chunk(
        self,
        name: str,
        k: int,
        chunk: int,
        dtype: np.dtype[Any],
        direct: bool,
        cache: ChunkCache | None,
        length: int | None = None,
    ) -> np.ndarray:
        key = (name, k)
        if cache is not None:
            hit = cache.get(key)
            if hit is not None:
                with self.stats.lock:
                    self.stats.cache_hits += 1
                return hit
        if direct:
            end = (k + 1) * chunk if length is None else min((k + 1) * chunk, length)
            values = self._pread(name, k * chunk, end, chunk, dtype, whole=True)
        else:
            arr = self.array(name)
            stop = min((k + 1) * chunk, arr.shape[0])
            self._require_chunks(name, k, k + 1)
            try:
                values = np.asarray(arr[k * chunk : stop])
            except Exception as err:  # a codec that cannot decode a damaged chunk
                raise StoreFormatError(
                    f"{self.url}: leaf {name!r} chunk {k} cannot be decoded "
                    f"({type(err).__name__}: {err})"
                ) from err
            self.stats.add(values.nbytes, 1)
        if cache is not None:
            cache.put(key, values)
        return values

    def _pread(
        self,
        name: str,
        start: int,
        stop: int,
        chunk: int,
        dtype: np.dtype[Any],
        whole: bool = False,
    ) -> np.ndarray:
        out = np.empty(stop - start, dtype=dtype)
        view = memoryview(out.data).cast("B")
        size = dtype.itemsize
        pos = start
        chunks = 0
        while pos < stop:
            k, within = divmod(pos, chunk)
            n = min(chunk - within, stop - pos)
            path = f"{self.root}/{name}/c/{k}"
            try:
                fd = self._fd(path)
            except FileNotFoundError as err:
                if whole:  # a whole-chunk read past the written end
                    out = out[: pos - start]
                    break
                raise StoreFormatError(
                    f"{self.url}: leaf {name!r} is missing chunk {k} ({path})"
                ) from err
            got = os.preadv(
                fd, [view[(pos - start) * size : (pos - start + n) * size]], within * size
            )
            if got != n * size:
                if whole:
                    out = out[: pos - start + got // size]
                    chunks += 1
                    break
                raise StoreFormatError(
                    f"{self.url}: leaf {name!r} chunk {k} is truncated: expected at least "
                    f"{(within + n) * size} bytes, found {within * size + got}"
                )
            pos += n
            chunks += 1
        self.stats.add(out.nbytes, chunks)
        return out

    def _fd(self, path: str) -> int:
        """An open read-only descriptor for a chunk file (an LRU of at most 256).

        ``pread`` needs no file position, so descriptors are shared by threads (and by a
        forked child, whose copies stay valid).
        """
        with self._fd_lock:
            fd = self._fds.get(path)
            if fd is not None:
                self._fds.move_to_end(path)
                return fd
            fd = os.open(path, os.O_RDONLY)
            self._fds[path] = fd
            if len(self._fds) > 256:
                _, old = self._fds.popitem(last=False)
                os.close(old)
            return fd

    def advise(self, name: str, starts: np.ndarray, stops: np.ndarray) -> None:
        """Tell the kernel which byte ranges are about to be read (direct leaves), so a cold
        read fetches them in parallel instead of one ``pread`` after another."""
        chunk, dtype, direct = self.leaf_meta(name)
        if not direct or not hasattr(os, "posix_fadvise") or len(starts) < 2:
            return
        size = dtype.itemsize
        for a, b in zip(starts.tolist(), stops.tolist(), strict=True):
            pos = a
            while pos < b:
                k, within = divmod(pos, chunk)
                n = min(chunk - within, b - pos)
                try:
                    fd = self._fd(f"{self.root}/{name}/c/{k}")
                    os.posix_fadvise(fd, within * size, n * size, os.POSIX_FADV_WILLNEED)
                except OSError:
                    return  # the read itself reports what is wrong
                pos += n

    def forget(self, name: str) -> None:
        """Drop what is cached about a leaf (its writer changed it)."""
        with self._fd_lock:
            for path in [p for p in self._fds if p.startswith(f"{self.root}/{name}/")]:
                os.close(self._fds.pop(path))

    def close(self) -> None:
        """Close the cached descriptors."""
        with self._fd_lock:
            for fd in self._fds.values():
                os.close(fd)
            self._fds.clear()

    def __del__(self) -> None:
        with contextlib.suppress(Exception):  # at interpreter shutdown nothing is left to do
            self.close()

    def read_whole(self, name: str, length: int) -> np.ndarray:
        """The committed values ``[0, length)`` of a leaf (the fast path for loads)."""
        chunk, dtype, direct = self.leaf_meta(name)
        shape = self.leaf_length(name)
        if shape < length:
            raise StoreFormatError(
                f"{self.url}: leaf {name!r} has {shape} values; the manifest commits {length}"
            )
        if direct:
            return self._pread(name, 0, length, chunk, dtype)
        arr = self.array(name)
        self._require_chunks(name, 0, -(-length // chunk))
        try:
            values = np.asarray(arr[:length])
        except Exception as err:  # a codec that cannot decode a damaged chunk
            raise StoreFormatError(
                f"{self.url}: leaf {name!r} cannot be decoded ({type(err).__name__}: {err})"
            ) from err
        self.stats.add(values.nbytes, -(-length // chunk))
        return values


def check_writable(store: LeafStore) -> None:
    if store.read_only:
        raise StoreError(f"{store.url}: the store is open read-only")
