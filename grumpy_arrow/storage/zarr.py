"""Leaves: 1-D Zarr v3 arrays, written through zarr-python and read with a direct path.

Every leaf is a plain Zarr v3 array (any Zarr reader opens it). New leaves end their codec
chain with Zarr's ``crc32c`` checksum. Writes always go through zarr-python, whose local
store replaces each chunk file atomically (a temporary file renamed over it), so a killed
writer never leaves a torn chunk and the checksum always matches the chunk it ends.

For uncompressed leaves on a local filesystem a chunk file is the raw little-endian values
at ``<leaf>/c/<k>`` (followed by the 4-byte checksum), so this module reads the needed
byte ranges of those files directly (``pread``) instead of decoding whole chunks through
zarr-python, which charges a fixed cost per chunk and per call. Whole-chunk reads (loads,
cached chunks, ``validate``) verify the checksum; exact-range reads of a few rows do not
(they would have to read the whole chunk). Everything else goes through zarr-python, which
verifies every chunk it decodes. Tests check both paths against each other and against
plain ``zarr.open_array``.

Descriptors of chunk files are cached and shared by threads; a descriptor is closed only
when no reader is using it (:class:`_Descriptors`), so a ``pread`` never reaches a file
number the kernel has handed to another file.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import threading
import weakref
from collections import OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import fsspec
import numpy as np
import zarr
import zarr.codecs
from fsspec.implementations.local import LocalFileSystem
from zarr.storage import FsspecStore, LocalStore

from grumpy_arrow.errors import StoreError, StoreFormatError
from grumpy_arrow.storage.atomic import fsync_dir, fsync_file

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


def compressor_codecs(name: str) -> list[Any]:
    """The zarr ``compressors=`` value for a compressor name: the compressor (if any), then
    the ``crc32c`` checksum of the encoded chunk."""
    checksum = zarr.codecs.Crc32cCodec()
    if name == "none":
        return [checksum]
    if name == "zstd":
        return [zarr.codecs.ZstdCodec(level=3), checksum]
    if name == "blosc":
        return [zarr.codecs.BloscCodec(cname="lz4", clevel=5, shuffle="shuffle"), checksum]
    raise ValueError(f"compressor must be one of {', '.join(COMPRESSORS)}, got {name!r}")


_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
VERIFY_BYTES = 64 * 1024  # a chunk this small is read whole (and verified) even for one row


class _Descriptor:
    __slots__ = ("borrows", "doomed", "fd")

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.borrows = 0
        self.doomed = False


class _Descriptors:
    """Open read-only descriptors of chunk files, an LRU of at most ``limit`` idle ones.

    ``pread`` needs no file position, so threads share a descriptor. A descriptor is closed
    only once no thread is reading through it: eviction skips borrowed ones, and
    :meth:`drop` marks a borrowed one to be closed by its last borrower. (Closing one that
    another thread was about to read let the kernel reuse its number for the next
    ``os.open``, and that thread then read another chunk file.)
    """

    def __init__(self, limit: int = 256) -> None:
        self.limit = limit
        self._open: OrderedDict[str, _Descriptor] = OrderedDict()
        self._lock = threading.Lock()
        _ALL_DESCRIPTORS.add(self)

    @contextlib.contextmanager
    def borrow(self, path: str) -> Iterator[int]:
        """The descriptor of ``path``, open until the block ends (FileNotFoundError if the
        file is missing; a symlink is refused with ``ELOOP``)."""
        with self._lock:
            entry = self._open.get(path)
            if entry is None:
                entry = _Descriptor(os.open(path, os.O_RDONLY | _NOFOLLOW))
                self._open[path] = entry
                self._evict()
            else:
                self._open.move_to_end(path)
            entry.borrows += 1
        try:
            yield entry.fd
        finally:
            with self._lock:
                entry.borrows -= 1
                if entry.doomed and entry.borrows == 0:
                    os.close(entry.fd)

    def _evict(self) -> None:
        excess = len(self._open) - self.limit
        if excess <= 0:
            return
        for path in [p for p, e in self._open.items() if e.borrows == 0][:excess]:
            os.close(self._open.pop(path).fd)

    def drop(self, prefix: str = "") -> None:
        """Close the descriptors of paths starting with ``prefix`` (now, or when their last
        borrower is done)."""
        with self._lock:
            for path in [p for p in self._open if p.startswith(prefix)]:
                entry = self._open.pop(path)
                if entry.borrows:
                    entry.doomed = True
                else:
                    os.close(entry.fd)


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


_ALL_DESCRIPTORS: weakref.WeakSet[_Descriptors] = weakref.WeakSet()


def _after_fork() -> None:
    # A thread of the parent may have held a lock at the fork: the child's copy would
    # stay locked forever. The descriptors themselves stay valid in the child.
    for pool in list(_ALL_DESCRIPTORS):
        pool._lock = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork)


class LeafStore:
    """The Zarr group of a store: leaf creation, appends, range reads, the manifest file.

    ``durable`` (default True) makes every commit reach the disk before it is
    acknowledged: :meth:`sync` flushes the leaves written since the last commit, then
    :meth:`write_atomic` flushes the manifest and the directory entry of its rename.
    """

    def __init__(
        self,
        path: Any,
        storage_options: dict[str, Any] | None = None,
        *,
        read_only: bool = False,
        durable: bool = True,
    ) -> None:
        self.url = os.fspath(path) if isinstance(path, os.PathLike) else str(path)
        self.storage_options = dict(storage_options or {})
        self.read_only = read_only
        self.durable = durable
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
        self._checksum: dict[str, bool] = {}
        self._docs: dict[str, dict[str, Any]] = {}
        self._inside: set[str] = set()
        self._unsynced: set[str] = set()
        self._fds = _Descriptors()
        self.stats = IOStats()

    # -- files ------------------------------------------------------------------------

    def file_path(self, name: str) -> str:
        return f"{self.root.rstrip('/')}/{name}"

    def exists(self, name: str) -> bool:
        return bool(self.fs.exists(self.file_path(name)))

    def read_text(self, name: str) -> bytes:
        return bytes(self.fs.cat_file(self.file_path(name)))

    def write_atomic(self, name: str, data: bytes, *, sync: bool | None = None) -> None:
        """Write a small file so readers see the old or the new content, never a mix.

        With ``sync`` (default: the store's ``durable``) the content and the directory
        entry of the rename reach the disk before this returns.
        """
        sync = self.durable if sync is None else sync
        target = self.file_path(name)
        if not self.local:
            with self.translate(f"the file {name!r}"):
                self.fs.pipe_file(target, data)
            return
        tmp = f"{target}.tmp-{os.getpid()}-{threading.get_ident()}"
        try:
            with self.translate(f"the file {name!r}"), open(tmp, "wb") as fh:
                fh.write(data)
                if sync:
                    fh.flush()
                    os.fsync(fh.fileno())
        except BaseException:
            with contextlib.suppress(OSError):
                os.remove(tmp)
            raise
        os.replace(tmp, target)
        if sync:
            fsync_dir(os.path.dirname(target))

    @contextlib.contextmanager
    def translate(self, what: str) -> Iterator[None]:
        """Turn a full disk (or quota) into a ``StoreError`` naming the store."""
        try:
            yield
        except OSError as err:
            if err.errno in (errno.ENOSPC, errno.EDQUOT) and not isinstance(err, StoreError):
                raise StoreError(
                    f"{self.url}: no space left on the device while writing {what} "
                    f"({err.strerror}); the store keeps its last commit"
                ) from err
            raise

    # -- arrays -----------------------------------------------------------------------

    def group(self) -> Any:
        return zarr.open_group(self.zstore, mode="r" if self.read_only else "a")

    def leaf_dir(self, name: str) -> str:
        """The local folder of a leaf, checked to resolve inside the store (no ``..``, no
        absolute name, no link that leaves it)."""
        path = os.path.join(self.root, name)
        if name not in self._inside:
            root = os.path.realpath(self.root)
            parts = name.split("/")
            if os.path.isabs(name) or any(p in ("", ".", "..") for p in parts) or "\\" in name:
                raise StoreFormatError(f"{self.url}: leaf name {name!r} does not name a folder "
                                       "inside the store")  # fmt: skip
            real = os.path.realpath(path)
            if not real.startswith(root.rstrip(os.sep) + os.sep):
                raise StoreFormatError(
                    f"{self.url}: leaf {name!r} resolves to {real}, outside the store (a link?)"
                )
            self._inside.add(name)
        return path

    def array(self, name: str) -> Any:
        arr = self._arrays.get(name)
        if arr is None:
            if self.local:
                self.leaf_dir(name)
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
        """``(chunk length, dtype, direct)``: direct when chunk files are raw local bytes
        (optionally followed by a crc32c checksum).

        Local leaves read their ``zarr.json`` directly (a JSON parse, no zarr round trip).
        """
        meta = self._meta.get(name)
        if meta is None:
            doc = self._zarr_json(name) if self.local else None
            if doc is not None:
                meta, self._checksum[name] = _parse_leaf_doc(doc, f"{self.url}: leaf {name!r}")
            else:
                arr = self.array(name)
                names = [type(c).__name__ for c in arr.compressors]
                self._checksum[name] = "Crc32cCodec" in names
                meta = (int(arr.chunks[0]), np.dtype(arr.dtype), False)
            self._meta[name] = meta
        return meta

    def checksummed(self, name: str) -> bool:
        """Whether a leaf's chunks carry a crc32c checksum (verified when read whole)."""
        self.leaf_meta(name)
        return self._checksum.get(name, False)

    def leaf_length(self, name: str) -> int:
        """The Zarr shape of a leaf (at least its committed length in a sound store)."""
        if self.local:
            doc = self._zarr_json(name)
            assert doc is not None
            return _parse_length(doc, f"{self.url}: leaf {name!r}")
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
            path = os.path.join(self.leaf_dir(name), "zarr.json")
            try:
                with open(path, "rb") as fh:
                    doc = json.loads(fh.read())
            except FileNotFoundError as err:
                raise StoreFormatError(f"{self.url}: leaf {name!r} is missing ({path})") from err
            except (ValueError, OSError) as err:
                raise StoreFormatError(
                    f"{self.url}: leaf {name!r} has unreadable Zarr metadata ({path}: {err})"
                ) from err
            if (
                not isinstance(doc, dict)
                or doc.get("node_type") != "array"
                or doc.get("zarr_format") != 3
            ):
                raise StoreFormatError(f"{self.url}: leaf {name!r} is not a Zarr v3 array")
            self._docs[name] = doc
        return doc

    def create(self, name: str, dtype: str, chunk: int, compressor: str) -> None:
        if self.local:
            self.leaf_dir(name)
        with self.translate(f"leaf {name!r}"):
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
        self._unsynced.add(name)

    def write(self, name: str, start: int, values: np.ndarray) -> None:
        """Write ``values`` at ``start`` and cut the leaf to end there (true append).

        Each touched chunk is written whole to a temporary file that is renamed over the
        old one (zarr-python's local store does the same), so the committed values of a
        partly filled last chunk are never torn and a chunk's checksum always matches it.
        Direct leaves do this here, without zarr's per-call cost; the others through zarr.
        """
        chunk, dtype, direct = self.leaf_meta(name)
        stop = start + len(values)
        values = np.ascontiguousarray(values, dtype=dtype)
        with self.translate(f"leaf {name!r}"):
            if direct:
                # Data first, then the shape: a crash in between leaves a shorter shape, and
                # the manifest (written after both) is what readers trust anyway.
                if len(values):
                    self._write_chunks(name, start, values, chunk)
                self._resize_direct(name, stop)
            else:
                # Every chunk is written, even one equal to the fill value, so a missing
                # chunk file always means damage (write_empty_chunks is a runtime setting).
                arr = self.array(name).with_config({"write_empty_chunks": True})
                if arr.shape[0] != stop:
                    arr.resize((stop,))
                if len(values):
                    arr[start:stop] = values
                self._arrays[name] = arr
                self._docs.pop(name, None)
        self._fds.drop(f"{self.root}/{name}/")
        if self.local and self.durable:
            self._unsynced.add(name)
            first, last = start // chunk, (stop - 1) // chunk if len(values) else -1
            for k in range(first, last + 1):
                self._unsynced.add(f"{name}/c/{k}")

    def _write_chunks(self, name: str, start: int, values: np.ndarray, chunk: int) -> None:
        """Write the chunks of a direct leaf that ``values`` (at ``start``) touch, each as a
        new whole file (values, zero padding, checksum) renamed into place. A partly
        filled first chunk keeps its committed values ``[k * chunk, start)``, read back
        with their checksum verified (damage is reported, never re-checksummed)."""
        import google_crc32c

        folder = os.path.join(self.leaf_dir(name), "c")
        os.makedirs(folder, exist_ok=True)
        checksum = self._checksum.get(name, False)
        stop = start + len(values)
        for k in range(start // chunk, (stop - 1) // chunk + 1):
            lo = k * chunk
            if start > lo:
                buf = self._chunk_file(name, k, chunk, values.dtype)
                buf[start - lo :] = 0
            else:
                buf = np.zeros(chunk, dtype=values.dtype)
            a, b = max(start, lo), min(stop, lo + chunk)
            buf[a - lo : b - lo] = values[a - start : b - start]
            path = os.path.join(folder, str(k))
            tmp = f"{path}.{os.getpid()}-{threading.get_ident()}.partial"
            try:
                raw = memoryview(buf.data).cast("B")
                with open(tmp, "wb") as fh:
                    # The zero padding after the values is a hole (sparse), as before.
                    fh.write(raw[: (b - lo) * values.dtype.itemsize])
                    fh.truncate(len(raw))
                    if checksum:
                        crc = google_crc32c.value(buf.view(np.uint8))
                        fh.seek(len(raw))
                        fh.write(int(crc).to_bytes(4, "little"))
                os.replace(tmp, path)
            except BaseException:
                with contextlib.suppress(OSError):
                    os.remove(tmp)
                raise

    def _resize_direct(self, name: str, length: int) -> None:
        """Set a local leaf's shape by rewriting its ``zarr.json`` (atomic), as zarr would."""
        doc = self._zarr_json(name)
        assert doc is not None
        if doc["shape"] == [length]:
            return
        doc = dict(doc, shape=[length])
        self._docs[name] = doc
        self._arrays.pop(name, None)
        self.write_atomic(f"{name}/zarr.json", json.dumps(doc, indent=2).encode(), sync=False)

    def sync(self) -> None:
        """Flush what was written since the last call to the disk (durable local stores):
        the chunk files, then each leaf's metadata and folders."""
        pending, self._unsynced = self._unsynced, set()
        if not (self.local and self.durable and pending):
            return
        with self.translate("the leaves"):
            folders = set()
            for entry in sorted(pending):
                path = os.path.join(self.root, entry)
                if "/c/" in entry:
                    fsync_file(path)
                    folders.add(os.path.dirname(path))
                else:
                    fsync_file(os.path.join(path, "zarr.json"))
                    while len(path) > len(self.root):  # the leaf's folder up to the root
                        folders.add(path)
                        path = os.path.dirname(path)
                    folders.add(self.root)
            for folder in sorted(folders, key=len, reverse=True):
                fsync_dir(folder)

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

    def cached(
        self, name: str, start: int, stop: int, cache: ChunkCache, length: int
    ) -> np.ndarray | None:
        """Values ``[start, stop)`` if the cache holds them all (the exact range, or every
        chunk it touches), else None; reads nothing and counts no hit."""
        chunk = self.leaf_meta(name)[0]
        if stop <= start:
            return None
        hit = cache.get((f"{name}@{start}:{stop}", -3))
        if hit is not None:
            return hit
        parts = []
        for k in range(start // chunk, (stop - 1) // chunk + 1):
            whole = cache.get((name, k))
            if whole is None:
                return None
            parts.append(
                whole[max(start, k * chunk) - k * chunk : min(stop, (k + 1) * chunk) - k * chunk]
            )
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
            values = self._chunk_file(name, k, chunk, dtype)
            if length is not None:
                values = values[: max(0, min(chunk, length - k * chunk))]
            self.stats.add(values.nbytes, 1)
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

    def _chunk_file(self, name: str, k: int, chunk: int, dtype: np.dtype[Any]) -> np.ndarray:
        """The values of a direct leaf's whole chunk file ``k``, its checksum verified."""
        out = np.empty(chunk, dtype=dtype)
        self._read_chunk_into(name, k, memoryview(out.data).cast("B"))
        return out

    def _read_chunk_into(self, name: str, k: int, dest: memoryview) -> None:
        """Read the whole chunk file ``k`` of a direct leaf into ``dest`` (its exact size)
        with one ``preadv``, and verify the crc32c checksum that follows the values."""
        checksum = self._checksum.get(name, False)
        trailer = bytearray(4 if checksum else 0)
        want = len(dest) + len(trailer)
        path, got, size = self._preadv(name, k, [dest, trailer] if checksum else [dest], 0)
        if got != want or size != want:
            raise StoreFormatError(
                f"{self.url}: leaf {name!r} chunk {k} has {size} bytes; a whole chunk has "
                f"{want} ({path})"
            )
        if checksum:
            _verify(dest, bytes(trailer), f"{self.url}: leaf {name!r} chunk {k} ({path})")

    def _preadv(self, name: str, k: int, buffers: list[Any], offset: int) -> tuple[str, int, int]:
        """``preadv`` of chunk file ``k`` into ``buffers`` from ``offset``: the file's path,
        the bytes read and the file's size."""
        path = f"{self.root}/{name}/c/{k}"
        try:
            with self._fds.borrow(path) as fd:
                return path, os.preadv(fd, buffers, offset), os.fstat(fd).st_size
        except FileNotFoundError as err:
            raise StoreFormatError(
                f"{self.url}: leaf {name!r} is missing chunk {k} ({path})"
            ) from err
        except OSError as err:
            raise StoreFormatError(
                f"{self.url}: leaf {name!r} chunk {k} cannot be read ({path}: {err})"
            ) from err

    def _pread(
        self, name: str, start: int, stop: int, chunk: int, dtype: np.dtype[Any]
    ) -> np.ndarray:
        """Values ``[start, stop)`` of a direct leaf.

        A chunk the range covers whole, or a small one (at most :data:`VERIFY_BYTES`), is
        read whole and its checksum verified; of a large chunk only the bytes asked for are
        read, unverified (verifying would read the whole chunk for a few rows).
        """
        out = np.empty(stop - start, dtype=dtype)
        view = memoryview(out.data).cast("B")
        size = dtype.itemsize
        verify = self._checksum.get(name, False)
        pos = start
        chunks = 0
        while pos < stop:
            k, within = divmod(pos, chunk)
            n = min(chunk - within, stop - pos)
            if verify and (n == chunk or chunk * size <= VERIFY_BYTES):
                if n == chunk:
                    self._read_chunk_into(
                        name, k, view[(pos - start) * size : (pos - start + n) * size]
                    )
                else:
                    out[pos - start : pos - start + n] = self._chunk_file(name, k, chunk, dtype)[
                        within : within + n
                    ]
                pos += n
                chunks += 1
                continue
            dest = view[(pos - start) * size : (pos - start + n) * size]
            path, got, found = self._preadv(name, k, [dest], within * size)
            if got != n * size:
                raise StoreFormatError(
                    f"{self.url}: leaf {name!r} chunk {k} is truncated: expected at least "
                    f"{(within + n) * size} bytes, found {found} ({path})"
                )
            pos += n
            chunks += 1
        self.stats.add(out.nbytes, chunks)
        return out

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
                    with self._fds.borrow(f"{self.root}/{name}/c/{k}") as fd:
                        os.posix_fadvise(fd, within * size, n * size, os.POSIX_FADV_WILLNEED)
                except OSError:
                    return  # the read itself reports what is wrong
                pos += n

    def forget(self, name: str) -> None:
        """Drop what is cached about a leaf (its writer changed it)."""
        self._fds.drop(f"{self.root}/{name}/")

    def close(self) -> None:
        """Close the cached descriptors (those in use close when their reader is done)."""
        self._fds.drop()

    def __del__(self) -> None:
        with contextlib.suppress(Exception):  # at interpreter shutdown nothing is left to do
            self.close()

    def read_whole(self, name: str, length: int) -> np.ndarray:
        """The committed values ``[0, length)`` of a leaf (the fast path for loads), every
        chunk's checksum verified."""
        chunk, dtype, direct = self.leaf_meta(name)
        shape = self.leaf_length(name)
        if shape < length:
            raise StoreFormatError(
                f"{self.url}: leaf {name!r} has {shape} values; the manifest commits {length}"
            )
        count = -(-length // chunk)
        if direct:
            # Whole chunks straight into one buffer (the last one's padding included), each
            # verified, then a view of the committed values.
            out = np.empty(count * chunk, dtype=dtype)
            view = memoryview(out.data).cast("B")
            step = chunk * dtype.itemsize
            for k in range(count):
                self._read_chunk_into(name, k, view[k * step : (k + 1) * step])
            self.stats.add(length * dtype.itemsize, count)
            return out[:length]
        arr = self.array(name)
        self._require_chunks(name, 0, count)
        try:
            values = np.asarray(arr[:length])
        except Exception as err:  # a codec that cannot decode a damaged chunk
            raise StoreFormatError(
                f"{self.url}: leaf {name!r} cannot be decoded ({type(err).__name__}: {err})"
            ) from err
        self.stats.add(values.nbytes, count)
        return values


def _verify(data: memoryview, trailer: bytes, where: str) -> None:
    """Check the crc32c checksum (``trailer``) that follows a chunk's bytes (Zarr's
    ``crc32c`` codec)."""
    import google_crc32c

    stored = int.from_bytes(trailer, "little")
    computed = google_crc32c.value(np.frombuffer(data, dtype=np.uint8))
    if stored != computed:
        raise StoreFormatError(
            f"{where}: checksum mismatch (stored crc32c {stored:#010x}, computed "
            f"{computed:#010x}): the chunk is damaged"
        )


_MAX_CHUNK = 1 << 40


def _parse_leaf_doc(
    doc: dict[str, Any], where: str
) -> tuple[tuple[int, np.dtype[Any], bool], bool]:
    """``((chunk, dtype, direct), checksum)`` from a leaf's ``zarr.json``, checked."""
    try:
        codecs = doc.get("codecs") or []
        names = [c.get("name") for c in codecs]
        first = (codecs[0].get("configuration") or {}) if codecs else {}
        raw = names[:1] == ["bytes"] and first.get("endian", "little") == "little"
        direct = raw and names[1:] in ([], ["crc32c"])
        checksum = bool(names) and names[-1] == "crc32c"
        chunk = doc["chunk_grid"]["configuration"]["chunk_shape"][0]
        dtype = np.dtype(doc["data_type"])
    except (KeyError, IndexError, TypeError, AttributeError, ValueError) as err:
        raise StoreFormatError(f"{where} has malformed Zarr metadata ({err!r})") from err
    if isinstance(chunk, bool) or not isinstance(chunk, int) or not 0 < chunk <= _MAX_CHUNK:
        raise StoreFormatError(f"{where} has chunk length {chunk!r}; expected an int >= 1")
    if dtype.kind not in "biuf" or dtype.itemsize > 8:
        raise StoreFormatError(f"{where} has data type {dtype}; expected a numeric type")
    return (chunk, dtype, direct), checksum


def _parse_length(doc: dict[str, Any], where: str) -> int:
    shape = doc.get("shape")
    if (
        not isinstance(shape, list)
        or len(shape) != 1
        or isinstance(shape[0], bool)
        or not isinstance(shape[0], int)
        or not 0 <= shape[0] <= 1 << 50
    ):
        raise StoreFormatError(f"{where} has shape {shape!r}; expected one length >= 0")
    return int(shape[0])


def check_writable(store: LeafStore) -> None:
    if store.read_only:
        raise StoreError(f"{store.url}: the store is open read-only")
