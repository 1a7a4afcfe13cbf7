"""Sharded datasets: a directory of stores written by independent writers, read as one.

A sharded dataset is a directory holding shard stores ``shard-000000/``,
``shard-000001/``, ... (each a normal store with its own atomic commits and writer lock)
and, once consolidated, a top-level ``grumpy.json`` listing every shard with the rows it
contributes. Global row order is shard number order, then row order inside a shard.

- ``gr.ShardedWriter`` (:mod:`.shard_writer`) writes shards ``shard_start``,
  ``shard_start + shard_step``, ... of at most ``shard_rows`` rows each, so ``K`` writers
  with ``shard_start=k, shard_step=K`` never touch the same shard.
- :func:`consolidate` lists the committed shards (a shard without a committed manifest is
  a writer that died before its first commit, and is skipped), checks that they agree on
  kind, schema, columns and layouts, and writes the top-level manifest.
- :class:`ShardedHandle` (what ``gr.open`` returns for a sharded dataset) reads the rows
  the top-level manifest lists, even if writers have committed more since: a snapshot.
  Without a top-level manifest the committed shards are discovered when it opens.

Examples
--------
>>> import os, tempfile, grumpy_arrow as gr
>>> tmp = tempfile.TemporaryDirectory()
>>> path = os.path.join(tmp.name, "sharded.gr")
>>> gr.save(gr.array([[i] * (i % 3) for i in range(10)]), path, shard_rows=4)
>>> sorted(d for d in os.listdir(path) if d.startswith("shard-"))
['shard-000000', 'shard-000001', 'shard-000002']
>>> h = gr.open(path)
>>> len(h), [s.rows for s in h.shards]
(10, [4, 4, 2])
>>> h[[9, 0, 5]].to_list()
[[], [], [5, 5]]
>>> tmp.cleanup()
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import threading
from dataclasses import replace
from typing import Any

import numpy as np

from grumpy_arrow._typing import CacheMode
from grumpy_arrow._version import __version__
from grumpy_arrow.errors import SchemaError, StoreError, StoreFormatError
from grumpy_arrow.functions import concat
from grumpy_arrow.storage.cache import IO_COUNTERS
from grumpy_arrow.storage.fragments import (
    Fragment,
    location,
    parse_rows_per_fragment,
    store_fragments,
)
from grumpy_arrow.storage.handle import DEFAULT_CACHE, Handle, parse_rows
from grumpy_arrow.storage.manifest import (
    MANIFEST_NAME,
    Manifest,
    ShardedManifest,
    ShardSpec,
    is_shard_name,
    parse_any_manifest,
)
from grumpy_arrow.storage.stores import read_manifest, select_columns
from grumpy_arrow.storage.views import StoreView, chunk_cache, handle_options
from grumpy_arrow.storage.writer import LOCK_NAME, lock
from grumpy_arrow.storage.zarr import LeafStore

__all__ = [
    "DEFAULT_SHARD_ROWS",
    "ShardedHandle",
    "consolidate",
    "is_sharded",
    "list_shards",
    "load_sharded",
    "read_any",
    "shard_name",
    "shard_store",
]

DEFAULT_SHARD_ROWS = 1 << 16


def shard_name(number: int) -> str:
    """The directory name of shard ``number`` (``shard-000042``)."""
    return f"shard-{number:06d}"


# -- the directory ----------------------------------------------------------------------


def shard_store(store: LeafStore, name: str, *, read_only: bool) -> LeafStore:
    """The store of shard ``name`` of the dataset ``store``.

    Raises
    ------
    StoreFormatError
        If ``name`` is not a shard name, or (local datasets) the shard directory is a
        symbolic link: shards are read and written only inside the dataset.
    """
    if not is_shard_name(name):
        raise StoreFormatError(f"{store.url}: {name!r} is not a shard directory name")
    if store.local:
        _refuse_link(store, name)
    return LeafStore(f"{store.url.rstrip('/')}/{name}", store.storage_options, read_only=read_only)


def _refuse_link(store: LeafStore, name: str) -> None:
    path = os.path.join(store.root, name)
    if os.path.islink(path):
        raise StoreFormatError(
            f"{store.url}: shard directory {name!r} is a symbolic link (to "
            f"{os.readlink(path)!r}); a dataset's shards must be directories inside it, and "
            "nothing is read, written or deleted through a link"
        )


def list_shards(store: LeafStore) -> list[tuple[int, str]]:
    """``(number, name)`` of every ``shard-NNNNNN`` directory, in numeric order.

    Raises
    ------
    StoreFormatError
        If a shard name is a symbolic link (local datasets).
    """
    try:
        if store.local:
            names = []
            with os.scandir(store.root) as entries:
                for entry in entries:
                    if entry.is_symlink() and is_shard_name(entry.name):
                        _refuse_link(store, entry.name)
                    if entry.is_dir(follow_symlinks=False):
                        names.append(entry.name)
        else:
            entries = store.fs.ls(store.root, detail=True)
            names = [
                e["name"].rstrip("/").rsplit("/", 1)[-1]
                for e in entries
                if e.get("type") == "directory"
            ]
    except (FileNotFoundError, NotADirectoryError):
        return []
    return sorted((int(n[6:]), n) for n in names if is_shard_name(n))


def is_sharded(store: LeafStore) -> bool:
    """Whether ``store`` holds a sharded dataset (consolidated or not)."""
    try:
        text = store.read_text(MANIFEST_NAME)
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
        return bool(list_shards(store))
    try:
        doc = json.loads(text)
    except (ValueError, UnicodeDecodeError, RecursionError):  # the parser reports those
        return False
    return isinstance(doc, dict) and doc.get("kind") == "sharded"


def read_any(store: LeafStore) -> Manifest | ShardedManifest:
    """A store's manifest, a sharded dataset's top-level one, or one discovered from the
    committed shards when there is no top-level manifest.

    Raises
    ------
    StoreFormatError
        When the path holds neither, or a manifest is malformed.
    SchemaError
        When discovered shards disagree on kind, schema, columns or layouts.
    """
    try:
        text = store.read_text(MANIFEST_NAME)
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
        if not list_shards(store):
            return read_manifest(store)  # raises: not a store
        return _discover(store)
    return parse_any_manifest(text, store.url)


def _committed(store: LeafStore) -> list[tuple[int, str, Manifest]]:
    """The shards that have a committed manifest (others: a writer died before its first
    commit, or is about to make it)."""
    out = []
    for number, name in list_shards(store):
        child = shard_store(store, name, read_only=True)
        if not child.exists(MANIFEST_NAME):
            continue
        out.append((number, name, read_manifest(child)))
    return out


def _discover(store: LeafStore) -> ShardedManifest:
    committed = _committed(store)
    if not committed:
        raise StoreFormatError(
            f"{store.url}: no shard has a committed {MANIFEST_NAME} yet (shard directories "
            "exist, but no writer has committed to one)"
        )
    return _manifest_of(store, committed, consolidated=False)


def _manifest_of(
    store: LeafStore, committed: list[tuple[int, str, Manifest]], *, consolidated: bool
) -> ShardedManifest:
    first = committed[0]
    for other in committed[1:]:
        check_same(store.url, (first[1], first[2]), (other[1], other[2]))
    sizes = {m.attrs.get("shard_rows") for _, _, m in committed}
    size = sizes.pop() if len(sizes) == 1 else None
    shards = tuple(ShardSpec(name, m.rows) for _, name, m in committed)
    return ShardedManifest(
        rows=sum(s.rows for s in shards),
        shards=shards,
        shard_rows=size if isinstance(size, int) and size >= 1 else None,
        creator=f"grumpy_arrow {__version__}",
        consolidated=consolidated,
    )


def check_same(where: str, a: tuple[str, Manifest], b: tuple[str, Manifest]) -> None:
    """Raise a SchemaError naming both shards unless they hold the same kind of rows."""
    (name_a, ma), (name_b, mb) = a, b

    def fail(what: str, got: Any, want: Any) -> None:
        raise SchemaError(
            f"{where}: shard {name_b!r} does not match shard {name_a!r}: its {what} is "
            f"{got}; {name_a!r} has {want}"
        )

    if ma.kind != mb.kind:
        fail("kind", mb.kind, ma.kind)
    if ma.schema != mb.schema:
        fail("schema", mb.schema, ma.schema)
    names_a, names_b = [c.name for c in ma.columns], [c.name for c in mb.columns]
    if names_a != names_b:
        fail("column list", names_b, names_a)
    for ca, cb in zip(ma.columns, mb.columns, strict=True):
        sa, sb = ca.layout.signature(), cb.layout.signature()
        if sa != sb:
            fail(f"layout of column {ca.name!r}", sb, sa)


def consolidate(path: Any, *, storage_options: dict[str, Any] | None = None) -> ShardedManifest:
    """Write the top-level manifest of a sharded dataset, listing its committed shards.

    Takes the directory's writer lock, lists the ``shard-NNNNNN`` directories that have a
    committed manifest (skipping the others: writers that died before their first commit),
    checks they hold the same kind of rows, and writes ``grumpy.json`` atomically with each
    shard's committed row count. Readers then see exactly those rows (a snapshot) until
    the next consolidation. Running it again is safe at any time.

    Parameters
    ----------
    path : str or path
        The sharded dataset: a local path or an fsspec URL.
    storage_options : dict, optional
        Passed to fsspec for URLs.

    Returns
    -------
    ShardedManifest
        What was written: ``rows`` (the total), ``shards`` (name and rows of each) and
        ``shard_rows``.

    Raises
    ------
    StoreFormatError
        If no shard is committed, a shard's manifest is malformed, or the path holds a
        single store.
    SchemaError
        If two shards differ in kind, schema, columns or layouts (naming both).

    Examples
    --------
    >>> import os, tempfile, grumpy_arrow as gr
    >>> tmp = tempfile.TemporaryDirectory()
    >>> path = os.path.join(tmp.name, "ds.gr")
    >>> for k in range(2):
    ...     with gr.ShardedWriter(path, shard_start=k, shard_step=2, shard_rows=3) as w:
    ...         w.write(gr.array([10 * k + i for i in range(5)]))
    >>> info = gr.consolidate(path)
    >>> info.rows, [(s.name, s.rows) for s in info.shards]
    (10, [('shard-000000', 3), ('shard-000001', 3), ('shard-000002', 2), ('shard-000003', 2)])
    >>> gr.load(path).to_list()
    [0, 1, 2, 10, 11, 12, 3, 4, 13, 14]
    >>> tmp.cleanup()
    """
    store = LeafStore(path, storage_options)
    _refuse_single(store)
    if not list_shards(store):
        raise StoreFormatError(f"{store.url}: no shard-NNNNNN directories to consolidate")
    with lock(store):
        return _consolidate(store)


def _consolidate(store: LeafStore) -> ShardedManifest:
    committed = _committed(store)
    if not committed:
        raise StoreFormatError(
            f"{store.url}: no shard has a committed {MANIFEST_NAME}; nothing to consolidate"
        )
    top = _manifest_of(store, committed, consolidated=True)
    store.write_atomic(MANIFEST_NAME, top.to_json().encode())
    return top


def _refuse_single(store: LeafStore) -> None:
    if store.exists(MANIFEST_NAME) and not is_sharded(store):
        raise StoreFormatError(
            f"{store.url}: holds a single store, not a sharded dataset (write shards into "
            "a new directory, or save with mode='w' to replace it)"
        )


def _remove(store: LeafStore) -> None:
    """Delete a shard (under its lock, so a writer still at work is not pulled away).

    Never through a link: a shard directory that is one is refused, and links inside it
    are removed, not followed.
    """
    if not store.local:
        with contextlib.suppress(FileNotFoundError):
            store.fs.rm(store.root, recursive=True)
        return
    if os.path.islink(store.root):
        raise StoreError(
            f"{store.url}: is a symbolic link (to {os.readlink(store.root)!r}); a shard "
            "directory that is a link is not deleted"
        )
    with lock(store):
        _empty_dir(store.root)
    shutil.rmtree(store.root, ignore_errors=True)


def _clear_shard(store: LeafStore) -> None:
    """Empty a shard directory (what a writer that died before its first commit left)."""
    if store.local:
        _empty_dir(store.root)
    else:
        for entry in store.fs.ls(store.root, detail=False):
            store.fs.rm(entry, recursive=True)


def _empty_dir(path: str) -> None:
    """Delete everything in the local directory ``path`` but its lock file, removing links
    (to files or directories) without following them."""
    with contextlib.suppress(FileNotFoundError), os.scandir(path) as entries:
        for entry in list(entries):
            if entry.name == LOCK_NAME:
                continue
            if entry.is_dir(follow_symlinks=False):
                shutil.rmtree(entry.path)  # never follows links inside (fd-based on Linux)
            else:
                os.unlink(entry.path)


# -- reading ----------------------------------------------------------------------------


def load_sharded(store: LeafStore, top: ShardedManifest, columns: list[str] | None) -> Any:
    """``gr.load`` of a sharded dataset: every shard at its listed rows, concatenated."""
    handle = ShardedHandle(
        store.url, cache="none", storage_options=store.storage_options, _manifest=top
    )
    if columns is not None:
        select_columns(handle.manifest, columns, store.url)  # the errors gr.load gives for stores
        return handle[list(columns)].load()
    return handle.load()


def _concat(parts: list[Any]) -> Any:
    return parts[0] if len(parts) == 1 else concat(parts)


class ShardedHandle(StoreView):
    """A lazy view of a sharded dataset with the interface of
    :class:`~grumpy_arrow.storage.handle.Handle` (the members of
    :class:`~grumpy_arrow.storage.views.StoreView` they share).

    Each shard is opened on first use, at the row count the top-level manifest lists
    (rows committed after the consolidation are not seen), and checked against the first
    shard. Shards share one chunk cache of ``cache_bytes``. The handle pickles as its
    path, options and the shard list, so a worker process sees the same snapshot.
    :func:`grumpy_arrow.open` returns one for a sharded dataset.

    Parameters
    ----------
    path : str or path
        The sharded dataset: a local path or an fsspec URL.
    cache : {"chunks", "none"}
        Keep decoded chunks in an LRU of ``cache_bytes`` bytes, or read every time.
    cache_bytes : int
        The budget of the cache all shards share (default 256 MiB).
    storage_options : dict, optional
        Passed to fsspec for URLs.
    columns : list of str, optional
        The columns of this view (default: all of them).

    Raises
    ------
    StoreFormatError
        If the path holds no sharded dataset, or a shard's manifest is malformed.
    SchemaError
        If two shards differ in kind, schema, columns or layouts.

    Examples
    --------
    >>> import os, tempfile, grumpy_arrow as gr
    >>> tmp = tempfile.TemporaryDirectory()
    >>> path = os.path.join(tmp.name, "ds.gr")
    >>> gr.save(gr.dataframe({"id": list(range(5)), "x": [[0.5] * i for i in range(5)]}), path,
    ...         shard_rows=2)
    >>> h = gr.open(path)
    >>> type(h).__name__, len(h), [s.rows for s in h.shards]
    ('ShardedHandle', 5, [2, 2, 1])
    >>> h["x"][[4, 1]].to_dict()
    {'x': [[0.5, 0.5, 0.5, 0.5], [0.5]]}
    >>> tmp.cleanup()
    """

    def __init__(
        self,
        path: Any,
        *,
        cache: CacheMode = "chunks",
        cache_bytes: int = DEFAULT_CACHE,
        storage_options: dict[str, Any] | None = None,
        columns: list[str] | None = None,
        _manifest: ShardedManifest | None = None,
    ) -> None:
        super().__init__(path, handle_options(cache, cache_bytes, storage_options), columns)
        self._open(_manifest)

    def _open(self, top: ShardedManifest | None) -> None:
        self._store = LeafStore(self._path, self._options["storage_options"], read_only=True)
        if top is None:
            found = read_any(self._store)
            if not isinstance(found, ShardedManifest):
                raise StoreFormatError(
                    f"{self._store.url}: holds a single store, not a sharded dataset"
                )
            top = found
        if not top.shards:
            raise StoreFormatError(f"{self._store.url}: the dataset lists no shards")
        self._top = top
        self._bounds = np.concatenate([[0], np.cumsum([s.rows for s in top.shards])]).astype(
            np.int64
        )
        self._handles: list[Handle | None] = [None] * len(top.shards)
        self._lock = threading.RLock()
        self._cache = chunk_cache(self._options)
        template = self._shard(0).manifest
        self._manifest = replace(template, rows=top.rows, leaves={})
        if self._columns is not None:
            self._check_view(self._columns)

    def __getstate__(self) -> dict[str, Any]:
        return {**super().__getstate__(), "manifest": self._top}

    def _reopen(self, state: dict[str, Any]) -> None:
        self._open(state["manifest"])

    def _shard(self, k: int) -> Handle:
        """Shard ``k``'s handle at its listed rows (opened and checked on first use)."""
        handle = self._handles[k]
        if handle is not None:
            return handle
        with self._lock:
            handle = self._handles[k]
            if handle is None:
                handle = self._open_shard(k)
                self._handles[k] = handle
        return handle

    def _open_shard(self, k: int) -> Handle:
        spec = self._top.shards[k]
        try:
            url = shard_store(self._store, spec.name, read_only=True).url
            handle = Handle(
                url,
                cache=self._options["cache"],
                cache_bytes=self._options["cache_bytes"],
                storage_options=self._options["storage_options"],
                rows=spec.rows,
                _cache=None if self._cache is None else self._cache.scoped(spec.name),
            )
        except StoreFormatError as err:
            raise StoreFormatError(
                f"{self._store.url}: shard {spec.name!r}, listed with {spec.rows} rows, "
                f"cannot be read: {err}"
            ) from err
        if k:
            first = self._shard(0).manifest
            check_same(
                self._store.url, (self._top.shards[0].name, first), (spec.name, handle.manifest)
            )
        return handle

    # -- metadata ---------------------------------------------------------------------

    @property
    def manifest(self) -> Manifest:
        """The shards' common manifest: kind, schema, levels, columns and chunking of every
        shard, with ``rows`` the dataset's total (``leaves`` is empty: each shard has its
        own; see :attr:`shards`)."""
        return self._manifest

    @property
    def sharded_manifest(self) -> ShardedManifest:
        """The top-level manifest this handle reads (or the one discovered when it opened)."""
        return self._top

    @property
    def shards(self) -> tuple[ShardSpec, ...]:
        """Name and listed rows of every shard, in row order."""
        return self._top.shards

    def _nonempty(self) -> list[int]:
        """Shards with rows (shard 0 alone when none has any: results keep their type)."""
        ks = [k for k, s in enumerate(self._top.shards) if s.rows]
        return ks or [0]

    def shape(self, dim: Any = 0) -> Any:
        """Rows for dim 0; entity counts of a level, concatenated over the shards."""
        if dim == 0:
            return len(self)
        parts = [self._shard(k).shape(dim) for k in self._nonempty()]
        if isinstance(parts[0], (int, np.integer)):
            return len(self)
        return _concat(parts)

    def stats(self) -> dict[str, int]:
        """Bytes, chunks and read calls so far (and cache hits), summed over the shards."""
        total = dict.fromkeys(IO_COUNTERS, 0)
        for handle in self._handles:
            if handle is not None:
                for key, value in handle.stats().items():
                    total[key] += value
        return total

    def fragments(self, rows_per_fragment: int | None = None) -> list[Fragment]:
        """Picklable row ranges covering every row once, in order (as
        :meth:`Handle.fragments`); no fragment crosses a shard, empty shards have none."""
        size = parse_rows_per_fragment(rows_per_fragment)
        path = location(self)
        out: list[Fragment] = []
        offset = 0
        for k, spec in enumerate(self.shards):
            if spec.rows:
                shard = self._view_of(k)  # opened at its listed rows
                out += store_fragments(shard, size, path=path, shard=spec.name, offset=offset)
            offset += spec.rows
        return out

    def __repr__(self) -> str:
        return (
            f"<grumpy sharded dataset {self._store.url!r}: {self.kind}, {len(self)} rows in "
            f"{len(self._top.shards)} shards, columns {self.columns}>"
        )

    # -- reads ------------------------------------------------------------------------

    def load(self) -> Any:
        """Everything (or this view's columns) in memory."""
        parts = [self._view_of(k).load() for k in self._nonempty()]
        return _concat(parts)

    def _view_of(self, k: int) -> Handle:
        handle = self._shard(k)
        return handle if self._columns is None else handle[list(self._columns)]

    def _columns_of(self, columns: list[str] | None) -> list[str] | None:
        """The columns a read asks for, checked (None: this view's)."""
        if columns is None:
            return self._columns
        self._check_view(columns)
        return columns

    def _take(self, indices: Any, columns: list[str] | None) -> Any:
        """Rows in any order, repeats and shard boundaries allowed (views share the shard
        handles, the cache and the lock)."""
        return self._take_rows(parse_rows(indices, len(self)), self._columns_of(columns))

    def _take_rows(self, rows: np.ndarray, columns: list[str] | None) -> Any:
        if len(rows) == 0:
            return self._shard(self._nonempty()[0]).take(rows, columns)
        shard = np.searchsorted(self._bounds, rows, side="right") - 1
        local = rows - self._bounds[shard]
        if shard[0] == shard[-1] and bool(np.all(shard == shard[0])):
            return self._shard(int(shard[0])).take(local, columns)
        # Group the rows by shard (stable: each shard keeps the requested order), read
        # each group with one planned take, and restore the order with one gather.
        order = None if bool(np.all(np.diff(shard) >= 0)) else np.argsort(shard, kind="stable")
        if order is not None:
            shard, local = shard[order], local[order]
        cuts = np.concatenate([[0], np.flatnonzero(np.diff(shard)) + 1, [len(rows)]])
        parts = [
            self._shard(int(shard[a])).take(local[a:b], columns)
            for a, b in zip(cuts[:-1].tolist(), cuts[1:].tolist(), strict=True)
        ]
        out = _concat(parts)
        if order is not None:
            inverse = np.empty_like(order)
            inverse[order] = np.arange(len(order), dtype=order.dtype)
            out = out[inverse]
        return out

    def read(
        self, i: int, *, ranges: dict[str, slice] | None = None, columns: list[str] | None = None
    ) -> Any:
        """Row ``i``, reading only ``ranges`` of its ragged columns (as :meth:`Handle.read`)."""
        row = int(parse_rows(int(i), len(self))[0])
        k = int(np.searchsorted(self._bounds, row, side="right") - 1)
        columns = self._columns_of(columns)
        return self._shard(k).read(row - int(self._bounds[k]), ranges=ranges, columns=columns)
