"""Leaves: 1-D Zarr v3 arrays. Version-2 leaves use the sharding codec (see
:mod:`.sharding`); local ones are read and written by :mod:`.local` directly, everything
else (remote stores, version-1 leaves, codecs :mod:`.sharding` does not decode) through
zarr-python.

Both paths give the same values (tests check them against each other and against plain
``zarr.open_array``) and verify the crc32c checksum of every chunk they decode.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import shutil
import threading
import weakref
from collections.abc import Iterator
from typing import Any, Protocol, cast

import fsspec
import numpy as np
import zarr
import zarr.codecs
import zstandard
from fsspec.implementations.local import LocalFileSystem
from numcodecs import blosc
from zarr.storage import FsspecStore, LocalStore

from grumpy_arrow._typing import Compressor
from grumpy_arrow.compute.gather import Ranges
from grumpy_arrow.errors import StoreError, StoreFormatError
from grumpy_arrow.storage import decimals
from grumpy_arrow.storage import sharding as sh
from grumpy_arrow.storage.atomic import fsync_dir, fsync_file, write_file
from grumpy_arrow.storage.cache import ChunkCache, ChunkKey, IOStats, chunk_key
from grumpy_arrow.storage.local import READ_THREADS, LocalShards, unique_inverse, write_doc

__all__ = [
    "COMPRESSORS",
    "ChunkCache",
    "IOStats",
    "LeafBackend",
    "LeafStore",
    "ZarrLeaves",
    "NotDecimal",
    "choose_codec",
    "choose_decimals",
    "compressor_codecs",
    "parse_compressor",
]

COMPRESSORS = ("auto", "none", "zstd", "blosc")
RESIDENT_AFTER = 3
"""Reads of a leaf (through a cache) after which it is read whole and kept resident."""
RESIDENT_SHARE = 4
"""A resident leaf takes at most this share (1/n) of the cache's byte budget."""
AUTO_RATIO = 0.8  # "auto" compresses a leaf when zstd makes its first values this small
DECIMAL_SAMPLE = 64 * 1024
"""Bytes of first values :func:`choose_decimals` judges (the writes check every value)."""
DECIMAL_MIN = 256
"""Values a new float leaf's first batch needs before :func:`choose_decimals` judges it."""
AUTO_SAMPLE = sh.INNER_BYTES["raw"]  # bytes of first values "auto" needs to judge (fewer:
# zstd, whose frames hold the zero padding of a leaf's last, partly filled inner chunk in
# a few bytes, where a raw chunk would store it)


def parse_compressor(name: Any) -> Compressor:
    """A compressor name, with ``"default"`` resolved to ``"auto"`` (zstd for every leaf
    it shrinks, raw bytes for the others: measured in docs/performance.md)."""
    if name == "default":
        return "auto"
    if name not in COMPRESSORS:
        raise ValueError(
            f"compressor must be one of default, {', '.join(COMPRESSORS)}, got {name!r}"
        )
    return cast(Compressor, name)


def choose_codec(compressor: str, sample: np.ndarray | None, *, row_level: bool = False) -> str:
    """The codec of a new leaf: ``auto`` tries zstd and bit-shuffled LZ4 (``bitshuffle``)
    on the first values (up to 64 KiB), takes the smaller (bit shuffle on a tie: it
    encodes about 3x and decodes about 2x faster), and keeps it when it shrinks them to
    :data:`AUTO_RATIO` or less (zstd when there are fewer than :data:`AUTO_SAMPLE` bytes
    of them). Bit shuffle wins on small integers (dictionary indices: 0.14 of their bytes
    against zstd's 0.17), zstd on offsets and text.

    A ``row_level`` leaf (a few values per outer row: a column's own values, top-level
    offsets, and any leaf whose first batch holds at most :data:`.writer.FEW_PER_ROW`
    values a row) with at least :data:`AUTO_SAMPLE` bytes of first values stays raw
    under ``auto``: a random row reads a few bytes of it, which compression would turn
    into decoding a whole inner chunk, and it holds a small share of a store's bytes."""
    if compressor == "none":
        return "raw"
    if compressor != "auto":
        return compressor
    if sample is None or len(sample) * sample.dtype.itemsize < AUTO_SAMPLE:
        return "zstd"  # too few values to judge; the padding of their chunk compresses away
    if row_level:
        return "raw"

    whole = np.ascontiguousarray(sample[: 64 * 1024 // sample.dtype.itemsize // 8 * 8])
    raw = whole.view(np.uint8)
    packed = len(zstandard.ZstdCompressor(level=sh.ZSTD_LEVEL).compress(raw.data))
    shuffled = _bitshuffled_size(whole)
    if min(packed, shuffled) > AUTO_RATIO * len(raw):
        return "raw"
    return "bitshuffle" if shuffled <= packed else "zstd"


def choose_decimals(
    compressor: str, sample: np.ndarray | None, *, row_level: bool = False
) -> int | None:
    """The decimal places a new float leaf is scaled by (:mod:`.decimals`), or None.

    Only ``auto`` scales, and only a leaf whose first values (at least
    :data:`DECIMAL_MIN` of them) come back bit for bit at some places
    and then shrink to :data:`AUTO_RATIO` or less with the scaled leaves' codec. Row-level
    leaves stay raw, as in :func:`choose_codec`. A later append that does not scale
    exactly converts the leaf (see :func:`.writer.commit`)."""
    if compressor != "auto" or row_level or sample is None:
        return None
    if sample.dtype.name not in decimals.STORED or len(sample) < DECIMAL_MIN:
        return None
    places = decimals.find(sample)
    if places is None:
        return None
    whole = min(len(sample), 64 * 1024 // sample.dtype.itemsize) // 8 * 8  # bit shuffle
    head = decimals.encode(sample[:whole], places)  # works on whole groups of 8 values
    assert head is not None  # every value scales, so the first ones do
    return places if _bitshuffled_size(head) <= AUTO_RATIO * head.nbytes else None


def _bitshuffled_size(values: np.ndarray) -> int:
    """Bytes of ``values`` (whole groups of 8) Blosc-compressed as :data:`.sharding.BITSHUFFLE`
    says: how ``auto`` judges bit shuffle."""
    cname, clevel, _ = sh.BITSHUFFLE
    return len(blosc.compress(values, cname.encode(), clevel, blosc.BITSHUFFLE))


def compressor_codecs(name: str, blosc: tuple[str, int, str] = ("lz4", 5, "shuffle")) -> list[Any]:
    """The zarr ``compressors=`` value of a leaf codec (``raw``, ``zstd``, ``blosc`` with
    ``blosc``'s cname, clevel and shuffle): the compressor (if any), then the ``crc32c``
    checksum of the encoded chunk."""
    checksum = zarr.codecs.Crc32cCodec()
    if name in ("raw", "none"):
        return [checksum]
    if name == "zstd":
        return [zarr.codecs.ZstdCodec(level=sh.ZSTD_LEVEL), checksum]
    if name == "blosc":
        cname, clevel, shuffle = blosc
        return [zarr.codecs.BloscCodec(cname=cname, clevel=clevel, shuffle=shuffle), checksum]
    raise ValueError(f"a leaf codec is one of raw, zstd, blosc, got {name!r}")


class NotDecimal(StoreError):
    """Values written to a decimal-scaled leaf do not scale exactly (the writer then
    converts the leaf; nothing was written)."""


_GROUP_DOC = {
    "attributes": {},
    "zarr_format": 3,
    "consolidated_metadata": None,
    "node_type": "group",
}


class LeafStore:
    """The Zarr group of a store: leaf creation, appends, range reads, the manifest file.

    ``durable`` (default True) makes every commit reach the disk before it is
    acknowledged: :meth:`sync` flushes the files written since the last commit, then
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
        self.stats = IOStats()
        self.shards = LocalShards(self.url, self.root, self.stats)
        self.generic = ZarrLeaves(self)
        self._arrays: dict[str, Any] = {}
        self._formats: dict[str, sh.LeafFormat] = {}
        self._docs: dict[str, dict[str, Any]] = {}
        self._inside: set[str] = set()
        self._unsynced: set[str] = set()
        self._selections: dict[str, tuple[Any, int]] = {}  # (last selection, count) per leaf
        self._resident_keys: dict[tuple[str, int], Any] = {}  # cache keys of whole leaves

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
        with self.translate(f"the file {name!r}"):
            write_file(tmp, lambda fh: fh.write(data), sync=sync)
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
                raise StoreFormatError(
                    f"{self.url}: leaf name {name!r} does not name a folder inside the store"
                )
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

    def format(self, name: str) -> sh.LeafFormat:
        """How a leaf is stored (from its ``zarr.json``, parsed once and checked)."""
        fmt = self._formats.get(name)
        if fmt is None:
            where = f"{self.url}: leaf {name!r}"
            if self.local:
                doc = self._zarr_json(name)
            else:
                try:
                    doc = self.array(name).metadata.to_dict()
                except AttributeError as err:
                    raise StoreFormatError(f"{where} is not a Zarr v3 array") from err
            fmt = sh.parse_leaf_doc(doc, where)
            self._formats[name] = fmt
        return fmt

    def direct(self, name: str) -> bool:
        """Whether a leaf's files are read and written by :mod:`.local` (version-2 leaves
        of local stores with codecs it knows)."""
        return self.local and self.format(name).direct

    def checksummed(self, name: str) -> bool:
        """Whether a leaf's chunks carry a crc32c checksum (verified whenever decoded)."""
        return self.format(name).checksum

    def leaf_length(self, name: str) -> int:
        """The Zarr shape of a leaf (at least its committed length in a sound store)."""
        if self.local:
            return _parse_length(self._zarr_json(name), f"{self.url}: leaf {name!r}")
        return int(self.array(name).shape[0])

    def _require_chunks(self, name: str, first: int, stop: int) -> None:
        """Every chunk is written, so a missing one is damage, not fill values (local)."""
        if not self.local:
            return
        for k in range(first, stop):
            path = os.path.join(self.root, name, "c", str(k))
            if not os.path.exists(path):
                raise StoreFormatError(f"{self.url}: leaf {name!r} is missing chunk {k} ({path})")

    def _zarr_json(self, name: str) -> dict[str, Any]:
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

    # -- writes -----------------------------------------------------------------------

    def create(
        self,
        name: str,
        dtype: str,
        compressor: str,
        *,
        chunk: int | None = None,
        shard: int | None = None,
        sample: np.ndarray | None = None,
        row_level: bool = False,
        exact: bool = False,
    ) -> None:
        """Create an empty version-2 leaf (see :func:`.sharding.plan_format` for ``chunk``
        and ``shard``); ``compressor`` ``auto`` picks its codec from ``sample`` (its first
        values) and ``row_level`` (see :func:`choose_codec`, :func:`choose_decimals`;
        ``exact``: ``sample`` holds every value the leaf will get, all of them judged for
        decimal scaling, not only the first)."""
        codec = choose_codec(compressor, sample, row_level=row_level)
        first = 0 if sample is None else sample.nbytes
        if sample is not None and not exact:
            sample = sample[: DECIMAL_SAMPLE // max(1, sample.dtype.itemsize)]
        places = choose_decimals(compressor, sample, row_level=row_level)
        fmt = sh.plan_format(dtype, codec, chunk, shard, decimals=places, first=first)
        with self.translate(f"leaf {name!r}"):
            if self.local:
                folder = self.leaf_dir(name)
                self._make_groups(name)
                os.makedirs(folder, exist_ok=True)
                for old in ("c", "zarr.json"):  # a leaf left by an unfinished first commit
                    target = os.path.join(folder, old)
                    if os.path.isdir(target) and not os.path.islink(target):
                        shutil.rmtree(target)
                    elif os.path.lexists(target):
                        os.remove(target)
                doc = sh.leaf_doc(fmt, 0)
                write_doc(os.path.join(folder, "zarr.json"), doc)
                self._docs[name] = doc
                self._unsynced.add(name)
            else:
                doc = sh.leaf_doc(fmt, 0)
                arr = self.group().create_array(
                    name,
                    shape=(0,),
                    dtype=fmt.dtype,
                    chunks=(fmt.chunk,),
                    shards=(fmt.shard,),
                    compressors=compressor_codecs(fmt.codec, fmt.blosc),
                    fill_value=0,
                    overwrite=True,
                    attributes=doc["attributes"],
                )
                self._arrays[name] = arr
        self._formats[name] = fmt
        self.shards.drop(f"{name}/")

    def _make_groups(self, name: str) -> None:
        """The Zarr group documents of the folders above a local leaf (plain Zarr readers
        walk them)."""
        parts = name.split("/")[:-1]
        for i in range(1, len(parts) + 1):
            doc = os.path.join(self.root, *parts[:i], "zarr.json")
            if not os.path.exists(doc):
                os.makedirs(os.path.dirname(doc), exist_ok=True)
                write_doc(doc, _GROUP_DOC)
                self._unsynced.add("/".join(parts[:i]))

    def write(self, name: str, start: int, values: np.ndarray) -> None:
        """Write ``values`` at ``start`` (a leaf's committed length): true append.

        Values past ``start`` that an interrupted writer left are replaced; the leaf's
        Zarr shape grows geometrically (doubling), so most appends rewrite no metadata.
        """
        fmt = self.format(name)
        stop = start + len(values)
        if fmt.decimals is not None:
            scaled = decimals.encode(np.ascontiguousarray(values, dtype=fmt.logical), fmt.decimals)
            if scaled is None:
                raise NotDecimal(
                    f"{self.url}: leaf {name!r} keeps {fmt.decimals} decimal "
                    "places; the values to write have more"
                )
            values = scaled
        values = np.ascontiguousarray(values, dtype=fmt.dtype)
        with self.translate(f"leaf {name!r}"):
            if self.direct(name):
                written: list[str] = []
                if len(values):
                    self.shards.write(name, fmt, start, values, written)
                if self.durable:
                    self._unsynced.update(written)
                shape = self.leaf_length(name)
                if stop > shape:
                    self._resize_local(name, max(stop, 2 * shape))
            else:
                self._write_zarr(name, fmt, start, stop, values)
        self.shards.drop(f"{name}/")

    def _write_zarr(
        self, name: str, fmt: sh.LeafFormat, start: int, stop: int, values: np.ndarray
    ) -> None:
        # Every chunk is written, even one equal to the fill value, so a missing chunk
        # file always means damage (write_empty_chunks is a runtime setting).
        arr = self.array(name).with_config({"write_empty_chunks": True})
        shape = arr.shape[0]
        if fmt.sharded and stop > shape:
            arr.resize((max(stop, 2 * shape),))
        elif not fmt.sharded and shape != stop:
            arr.resize((stop,))  # version-1 leaves keep their exact length
        if len(values):
            arr[start:stop] = values
        self._arrays[name] = arr
        self._docs.pop(name, None)
        if self.local and self.durable:
            self._unsynced.add(name)
            first, last = start // fmt.shard, (stop - 1) // fmt.shard if len(values) else -1
            self._unsynced.update(f"{self.root}/{name}/c/{k}" for k in range(first, last + 1))

    def _resize_local(self, name: str, length: int) -> None:
        """Set a local leaf's shape by rewriting its ``zarr.json`` (atomic)."""
        doc = dict(self._zarr_json(name), shape=[int(length)])
        write_doc(os.path.join(self.leaf_dir(name), "zarr.json"), doc)
        self._docs[name] = doc
        self._arrays.pop(name, None)
        if self.durable:
            self._unsynced.add(name)

    def sync(self) -> None:
        """Flush what was written since the last call to the disk (durable local stores):
        the shard files, then each leaf's metadata and the folders up to the root."""
        pending, self._unsynced = self._unsynced, set()
        if not (self.local and self.durable and pending):
            return
        with self.translate("the leaves"):
            folders = set()
            for entry in sorted(pending):
                if entry.startswith(self.root + "/"):  # a shard file
                    fsync_file(entry)
                    folders.add(os.path.dirname(entry))
                    continue
                path = os.path.join(self.root, entry)
                fsync_file(os.path.join(path, "zarr.json"))
                while len(path) > len(self.root):  # the leaf's folder up to the root
                    folders.add(path)
                    path = os.path.dirname(path)
                folders.add(self.root)
            for folder in sorted(folders, key=len, reverse=True):
                if os.path.isdir(folder):
                    fsync_dir(folder)

    # -- reads ------------------------------------------------------------------------

    def backend(self, name: str) -> LeafBackend:
        """The backend that reads a leaf: the direct local reader for version-2 leaves of
        local stores with codecs it knows, zarr-python for everything else."""
        return self.shards if self.direct(name) else self.generic

    def gather(
        self,
        name: str,
        starts: np.ndarray,
        stops: np.ndarray,
        length: int,
        cache: ChunkCache | None = None,
        *,
        selection: Any = None,
        span: Ranges | None = None,
    ) -> np.ndarray:
        """Values of ``[starts[i], stops[i])`` concatenated, in the order given (every
        range inside the committed ``[0, length)``).

        With a cache, a leaf read in :data:`RESIDENT_AFTER` selections (``selection``
        tells them apart: reads with the same one count once; None: every read counts)
        whose values fit in
        1/:data:`RESIDENT_SHARE` of the cache's budget is read whole once (every chunk
        verified) and kept in the cache as one decoded array, the **resident** form of
        the leaf: later reads are one NumPy gather from it, with no per-shard or
        per-chunk step. It is keyed by the committed length (an append makes a new one;
        the old one ages out of the LRU like any chunk).

        ``span`` (the same ranges as a :class:`.gather.Ranges`) shares their expanded
        positions with the other leaves of a level.
        """
        fmt = self.format(name)
        ranges = span if span is not None else Ranges(starts, stops)
        if cache is not None:
            whole = self.resident(name, length, cache, selection)
            if whole is not None:
                return ranges.take_from(whole)
        out = self.backend(name).gather(name, fmt, ranges, length, cache)
        return out if fmt.decimals is None else decimals.decode(out, fmt.decimals, fmt.logical)

    def window(
        self,
        name: str,
        a: int,
        b: int,
        length: int,
        cache: ChunkCache | None = None,
        *,
        selection: Any = None,
    ) -> np.ndarray:
        """Values ``[a, b)`` of a leaf (inside the committed ``[0, length)``): :meth:`gather`
        of one range, without its ranges object (the read of one row or one run of
        rows). A resident leaf gives a view of its resident form."""
        fmt = self.format(name)
        if cache is not None:
            whole = self.resident(name, length, cache, selection)
            if whole is not None:
                return whole[a:b]
        if a >= b:
            return np.zeros(0, dtype=fmt.logical)
        if self.local and fmt.direct:
            out = self.shards.window(name, fmt, a, b, length, cache)
        else:
            out = self.generic.gather(name, fmt, Ranges.one(a, b), length, cache)
        return out if fmt.decimals is None else decimals.decode(out, fmt.decimals, fmt.logical)

    def windows(
        self,
        requests: list[tuple[str, int, int, int]],
        cache: ChunkCache | None = None,
        *,
        selection: Any = None,
    ) -> list[np.ndarray]:
        """:meth:`window` of several leaves, ``(name, a, b, length)`` each: with no cache,
        the local Blosc leaves among them are read together
        (:meth:`.local.LocalShards.windows`: one compiled call for their chunks), the
        others one by one."""
        found: list[np.ndarray | None] = [None] * len(requests)
        if cache is None and self.local:
            items: list[tuple[str, sh.LeafFormat, int, int]] = []
            where: list[int] = []
            for i, (name, a, b, _length) in enumerate(requests):
                fmt = self.format(name)
                if fmt.direct and fmt.codec == "blosc" and a < b:
                    items.append((name, fmt, a, b))
                    where.append(i)
            if len(items) > 1:
                for i, (_name, fmt, _a, _b), out in zip(
                    where, items, self.shards.windows(items), strict=True
                ):
                    if out is not None and fmt.decimals is not None:
                        out = decimals.decode(out, fmt.decimals, fmt.logical)
                    found[i] = out
        return [
            out if out is not None else self.window(name, a, b, length, cache, selection=selection)
            for out, (name, a, b, length) in zip(found, requests, strict=True)
        ]

    def resident(
        self, name: str, length: int, cache: ChunkCache, selection: Any
    ) -> np.ndarray | None:
        """The resident form of a leaf (its committed values ``[0, length)``, decoded and
        verified, kept in ``cache``; see :meth:`gather`): read into the cache at the
        leaf's :data:`RESIDENT_AFTER`-th selection; None before, and None for leaves
        larger than 1/:data:`RESIDENT_SHARE` of the cache's budget."""
        if length * self.format(name).dtype.itemsize > cache.budget // RESIDENT_SHARE:
            return None
        key = self._resident_keys.get((name, length))
        if key is None:
            key = self._resident_keys[name, length] = (f"{self.file_path(name)}@all#{length}", -1)
        whole = cache.get(key)
        if whole is not None:
            self.stats.hit()
            return whole
        last, count = self._selections.get(name, (None, 0))
        if selection is None or selection != last:
            count += 1
            self._selections[name] = (selection, count)
        if count < RESIDENT_AFTER:
            return None
        whole = self.read_whole(name, length, alone=True)
        cache.put(key, whole)
        return whole

    def resident_many(
        self, leaves: list[tuple[str, int]], cache: ChunkCache
    ) -> list[np.ndarray] | None:
        """The resident forms of several leaves (``(name, committed length)`` pairs), when
        every one of them is in ``cache`` already: one look-up under the cache's lock,
        nothing read and no selection counted (see :meth:`resident`); else None."""
        keys = [self._resident_keys.get(leaf) for leaf in leaves]
        if None in keys:
            return None
        found = cache.get_many(cast("list[ChunkKey]", keys))
        if any(whole is None for whole in found):
            return None
        self.stats.hit(len(found))
        return cast("list[np.ndarray]", found)

    def read(self, name: str, start: int, stop: int) -> np.ndarray:
        """Values ``[start, stop)`` of a leaf (no cache)."""
        bounds = np.array([start], dtype=np.int64), np.array([stop], dtype=np.int64)
        return self.gather(name, *bounds, stop)

    def read_whole(self, name: str, length: int, *, alone: bool = False) -> np.ndarray:
        """The committed values ``[0, length)`` of a leaf (the path of loads), every
        chunk's checksum verified. ``alone``: no other leaf is read at the same time (a
        leaf becoming resident), so a decimal-scaled leaf decodes its floats on
        :data:`.local.READ_THREADS` threads (10M float32: 24 -> 17 ms on 2 cores);
        ``gr.load`` reads several leaves at once and decodes each on one."""
        fmt = self.format(name)
        shape = self.leaf_length(name)
        if shape < length:
            raise StoreFormatError(
                f"{self.url}: leaf {name!r} has {shape} values; the manifest commits {length}"
            )
        if length == 0:
            return np.zeros(0, dtype=fmt.logical)
        out = self.backend(name).read_whole(name, fmt, length)
        if fmt.decimals is None:
            return out
        threads = READ_THREADS if alone else 1
        # (a fresh array of the backend's: the floats are written over its integers)
        inplace = bool(out.flags.owndata)
        return decimals.decode(out, fmt.decimals, fmt.logical, threads=threads, inplace=inplace)

    def remove(self, name: str) -> None:
        """Delete a leaf no committed manifest names (best effort: what is left is only
        unreferenced bytes)."""
        self.shards.drop(f"{name}/")
        for known in (self._arrays, self._formats, self._docs):
            known.pop(name, None)
        with contextlib.suppress(OSError, FileNotFoundError):
            if self.local:
                shutil.rmtree(self.leaf_dir(name))
            else:
                self.fs.rm(self.file_path(name), recursive=True)

    def forget(self, name: str) -> None:
        """Drop what is open of a leaf (its writer changed it)."""
        self.shards.drop(f"{name}/")

    def reset(self) -> None:
        """Forget everything known about the leaves (the store was replaced)."""
        self.close()
        self._arrays.clear()
        self._formats.clear()
        self._docs.clear()
        self._inside.clear()

    def close(self) -> None:
        """Close the open shard files (those in use close when their reader is done)."""
        self.shards.drop()

    def __del__(self) -> None:
        with contextlib.suppress(Exception):  # at interpreter shutdown nothing is left to do
            self.close()


class LeafBackend(Protocol):
    """What reads the committed values of leaves: :class:`.local.LocalShards` (the direct
    local reader) and :class:`ZarrLeaves` (zarr-python, any fsspec store)."""

    def gather(
        self, name: str, fmt: sh.LeafFormat, ranges: Ranges, length: int, cache: ChunkCache | None
    ) -> np.ndarray:
        """Values of ``ranges`` concatenated, in order (every range inside ``[0,
        length)``, checked by the caller). ``ranges`` may be shared by the leaves of a
        level (:class:`.gather.Ranges`): what it works out once (expanded positions, read
        plans in ``ranges.memo``) serves them all."""
        ...

    def read_whole(self, name: str, fmt: sh.LeafFormat, length: int) -> np.ndarray: ...


class ZarrLeaves:
    """The generic backend: leaves read through zarr-python (remote stores, version-1
    leaves, codecs the direct reader does not decode), whole inner chunks (or version-1
    chunks) at a time, consecutive ones in one read, through the chunk cache."""

    def __init__(self, store: LeafStore) -> None:
        self._store = weakref.proxy(store)

    def gather(
        self, name: str, fmt: sh.LeafFormat, ranges: Ranges, length: int, cache: ChunkCache | None
    ) -> np.ndarray:
        pos = ranges.positions()
        if len(pos) == 0:
            return np.zeros(0, dtype=fmt.dtype)
        chunk_of = pos // fmt.chunk
        touched, slot = unique_inverse(chunk_of)
        blocks = self._chunks(name, fmt, touched, length, cache)
        joined = blocks[0] if len(blocks) == 1 else np.concatenate(blocks)
        return cast("np.ndarray", joined[slot * fmt.chunk + (pos - chunk_of * fmt.chunk)])

    def _chunks(
        self,
        name: str,
        fmt: sh.LeafFormat,
        touched: np.ndarray,
        length: int,
        cache: ChunkCache | None,
    ) -> list[np.ndarray]:
        """The chunks ``touched`` (sorted), each ``fmt.chunk`` values (the last one cut at
        ``length`` is padded), runs of consecutive chunks in one read. A Python step per
        chunk (a cache lookup), not per value."""
        store, c = self._store, fmt.chunk
        out: dict[int, np.ndarray] = {}
        missing = []
        keys = {k: chunk_key(store.file_path(name), k, c, length) for k in touched.tolist()}
        for k in touched.tolist():
            hit = cache.get(keys[k]) if cache is not None else None
            if hit is not None:
                store.stats.hit()
                out[k] = hit
            else:
                missing.append(k)
        cuts = [i for i in range(1, len(missing)) if missing[i] != missing[i - 1] + 1]
        for run in np.split(np.asarray(missing, dtype=np.int64), cuts):
            if len(run) == 0:
                continue
            lo, hi = int(run[0]) * c, min((int(run[-1]) + 1) * c, length)
            if not fmt.sharded:
                store._require_chunks(name, int(run[0]), int(run[-1]) + 1)
            values = self._read(name, lo, hi)
            store.stats.add(values.nbytes, len(run))
            padded = np.zeros(len(run) * c, dtype=fmt.dtype)
            padded[: len(values)] = values
            for i, k in enumerate(run.tolist()):
                block = padded[i * c : (i + 1) * c]
                if cache is not None:
                    cache.put(keys[k], block.copy())
                out[k] = block
        return [out[k] for k in touched.tolist()]

    def _read(self, name: str, lo: int, hi: int) -> np.ndarray:
        try:
            return np.asarray(self._store.array(name)[lo:hi])
        except StoreFormatError:
            raise
        except Exception as err:  # a codec that cannot decode a damaged chunk
            raise StoreFormatError(
                f"{self._store.url}: leaf {name!r} values [{lo}, {hi}) cannot be decoded "
                f"({type(err).__name__}: {err})"
            ) from err

    def read_whole(self, name: str, fmt: sh.LeafFormat, length: int) -> np.ndarray:
        store = self._store
        if not fmt.sharded:
            store._require_chunks(name, 0, -(-length // fmt.chunk))
        values = self._read(name, 0, length)
        store.stats.add(values.nbytes, -(-length // fmt.chunk))
        return values


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
