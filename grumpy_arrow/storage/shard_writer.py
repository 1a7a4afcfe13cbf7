"""Writing sharded datasets: :class:`ShardedWriter`, ``gr.save(..., shard_rows=N)`` and
``gr.append`` on a sharded dataset (the layout is described in :mod:`.shards`).

Each writer fills its own shards, one at a time, holding that shard's writer lock while it
does; every write is an ordinary atomic commit to the shard store. Writers never touch the
top-level manifest except that ``mode="w"`` removes one listing a shard it deletes.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Any

from grumpy_arrow._typing import Compressor, SaveMode
from grumpy_arrow._validate import check_int
from grumpy_arrow.array import GrumpyArray
from grumpy_arrow.errors import StoreError, StoreFormatError
from grumpy_arrow.frame.dataframe import DataFrame
from grumpy_arrow.storage import atomic
from grumpy_arrow.storage.codecs import check_codecs, encode_batch
from grumpy_arrow.storage.manifest import (
    MANIFEST_NAME,
    Manifest,
    ShardedManifest,
    is_shard_name,
    parse_any_manifest,
)
from grumpy_arrow.storage.shards import (
    DEFAULT_SHARD_ROWS,
    _clear_shard,
    _committed,
    _consolidate,
    _refuse_link,
    _refuse_single,
    _remove,
    is_sharded,
    list_shards,
    read_any,
    shard_name,
    shard_store,
)
from grumpy_arrow.storage.stores import (
    as_batch,
    check_chunk_dim,
    clear,
    is_stream,
    read_manifest,
    refuse_foreign,
)
from grumpy_arrow.storage.writer import (
    LOCK_NAME,
    Batch,
    commit,
    lock,
    manifest_options,
    new_manifest,
)
from grumpy_arrow.storage.zarr import LeafStore, parse_compressor

__all__ = ["ShardedWriter", "append_sharded", "save_sharded"]


@dataclass
class _Open:
    """The shard a writer is filling: its store, manifest (None before the first
    commit) and the exit stack holding its lock."""

    number: int
    store: LeafStore
    manifest: Manifest | None
    held: contextlib.ExitStack


class ShardedWriter:
    """Write shards ``shard_start, shard_start + shard_step, ...`` of a sharded dataset.

    Writer ``k`` of ``K`` uses ``shard_start=k, shard_step=K``, so no two writers share a
    shard; each fills a shard up to ``shard_rows`` rows, then moves on to its next one.
    Every :meth:`write` is committed (a batch that spans shards once per shard), so a
    killed writer leaves all rows it committed readable. Run :func:`consolidate` once the
    writers are done (readers also discover unconsolidated shards).

    Parameters
    ----------
    path : str or path
        The dataset directory (local or an fsspec URL).
    shard_start, shard_step : int
        This writer's first shard number (>= 0) and the distance to its next (>= 1).
    shard_rows : int
        Rows per shard (>= 1).
    mode : {"w", "w-", "a"}
        ``"w"`` deletes this writer's own existing shards (only those in its sequence)
        first, and the top-level manifest if it lists one of them (it refuses a directory
        that holds anything but shards, ``grumpy.json`` and ``grumpy.lock``, and shard
        directories that are links); ``"w-"`` fails if one
        exists; ``"a"`` continues after this writer's last existing shard, filling it if
        it holds fewer than ``shard_rows`` rows. New shards of ``"a"`` take the columns,
        chunking and compressor of the dataset's existing shards.
    chunk_size, chunk_dim, compressor, shard_size, dictionary, codecs :
        As for :func:`grumpy_arrow.save` (codecs: of new datasets; appends and later
        shards take the dataset's).
    storage_options : dict, optional
        Passed to fsspec for URLs.
    like : array or frame, optional
        An object (an empty slice is enough) whose columns and layouts the new shards
        take, instead of those of this writer's first batch. Independent writers pass the
        same ``like`` so a scalar-or-list column is a union in every shard, even in one
        whose rows happen to be all scalars.

    Raises
    ------
    ValueError
        For invalid arguments, naming them.
    StoreError
        If another writer holds the lock of a shard this one writes (shard sequences that
        collide), ``mode="w-"`` finds a shard of this writer, or ``mode="w"`` finds files
        that are not part of a sharded dataset.
    StoreFormatError
        If ``path`` holds a single (unsharded) store, or a shard directory is a symbolic
        link.

    Examples
    --------
    >>> import os, tempfile, grumpy_arrow as gr
    >>> tmp = tempfile.TemporaryDirectory()
    >>> path = os.path.join(tmp.name, "ds.gr")
    >>> with gr.ShardedWriter(path, shard_rows=2) as w:
    ...     w.write(gr.array([1, 2, 3]))
    ...     w.write(gr.array([4]))
    >>> w.rows, w.shards
    (4, ('shard-000000', 'shard-000001'))
    >>> gr.load(path).to_list()
    [1, 2, 3, 4]
    >>> tmp.cleanup()
    """

    def __init__(
        self,
        path: Any,
        shard_start: int = 0,
        shard_step: int = 1,
        shard_rows: int = DEFAULT_SHARD_ROWS,
        *,
        mode: SaveMode = "w",
        chunk_size: int | None = None,
        chunk_dim: Any = None,
        compressor: Compressor = "default",
        storage_options: dict[str, Any] | None = None,
        like: Any = None,
        shard_size: int | None = None,
        dictionary: Any = None,
        codecs: dict[str, str] | None = None,
    ) -> None:
        self._start = check_int(shard_start, "shard_start", minimum=0)
        self._codecs = codecs
        self._step = check_int(shard_step, "shard_step", minimum=1)
        self._shard_rows = check_int(shard_rows, "shard_rows", minimum=1)
        if mode not in ("w", "w-", "a"):
            raise ValueError(f"mode must be one of w, w-, a, got {mode!r}")
        compressor = parse_compressor(compressor)
        if chunk_size is not None:
            check_int(chunk_size, "chunk_size", minimum=1)
        if shard_size is not None:
            check_int(shard_size, "shard_size", minimum=1)
        self._options = manifest_options(chunk_size, chunk_dim, compressor, shard_size, dictionary)
        self._top = LeafStore(path, storage_options)
        _refuse_single(self._top)
        self._template: Manifest | None = None
        self._like = None if like is None else as_batch(like)
        self._current: _Open | None = None
        self._next = self._start
        self._fill: int | None = None  # the existing shard mode "a" continues
        self._rows = 0
        self._names: list[str] = []
        self._closed = False
        if mode == "w":
            _check_dataset_dir(self._top)
        own = self._own()
        if mode == "w-" and own:
            raise StoreError(
                f"{self._top.url}: shard {own[0][1]!r} of this writer exists already (mode='w-')"
            )
        if mode == "w":
            self._remove_own(own)
        elif mode == "a":
            self._resume(own)

    def _own(self) -> list[tuple[int, str]]:
        return [
            (k, n)
            for k, n in list_shards(self._top)
            if k >= self._start and (k - self._start) % self._step == 0
        ]

    def _remove_own(self, own: list[tuple[int, str]]) -> None:
        if not own:
            return
        names = {n for _, n in own}
        try:
            top = parse_any_manifest(self._top.read_text(MANIFEST_NAME), self._top.url)
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError, StoreFormatError):
            top = None
        if isinstance(top, ShardedManifest) and names & {s.name for s in top.shards}:
            # It lists shards about to go: readers fall back to discovering the shards.
            with contextlib.suppress(FileNotFoundError):
                self._top.fs.rm(self._top.file_path(MANIFEST_NAME))
        for _, name in own:
            _remove(shard_store(self._top, name, read_only=False))

    def _resume(self, own: list[tuple[int, str]]) -> None:
        committed = _committed(self._top)
        if committed:
            self._template = committed[0][2]
        if not own:
            return
        number, name = own[-1]
        child = shard_store(self._top, name, read_only=True)
        full = child.exists(MANIFEST_NAME) and read_manifest(child).rows >= self._shard_rows
        self._next = number + self._step if full else number
        self._fill = None if full else number

    # -- public -----------------------------------------------------------------------

    @property
    def rows(self) -> int:
        """Rows this writer has committed so far."""
        return self._rows

    @property
    def shards(self) -> tuple[str, ...]:
        """Names of the shards this writer has written to, in order."""
        return tuple(self._names)

    def write(self, obj: Any) -> None:
        """Append ``obj`` (an array, a frame, a ``pa.Table``, a pandas frame...).

        Raises
        ------
        SchemaError
            If ``obj`` does not fit the shards written before; what was committed stays.
        StoreError
            If the writer is closed or another writer holds a shard's lock.
        """
        if self._closed:
            raise StoreError(f"{self._top.url}: this ShardedWriter is closed")
        batch = as_batch(obj)
        n = len(batch)
        if n == 0 and (self._names or self._template is not None):
            return  # nothing to add; an empty batch still records the columns of a new dataset
        start = 0
        while start < n or (n == 0 and not self._names):
            shard = self._shard()
            have = 0 if shard.manifest is None else shard.manifest.rows
            take = min(self._shard_rows - have, n - start)
            piece = batch if take == n else batch[start : start + take]
            self._commit(shard, piece)
            self._rows += take
            start += take
            if shard.manifest is not None and shard.manifest.rows >= self._shard_rows:
                self._finish()
            if n == 0:
                break

    def close(self) -> None:
        """Release the lock of the shard being filled; later writes raise StoreError."""
        self._finish()
        self._closed = True

    def __enter__(self) -> ShardedWriter:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __repr__(self) -> str:
        return (
            f"<ShardedWriter {self._top.url!r}: shards {self._start}, "
            f"{self._start + self._step}, ... of {self._shard_rows} rows; {self._rows} rows "
            f"written to {len(self._names)} shards>"
        )

    # -- shards -----------------------------------------------------------------------

    def _shard(self) -> _Open:
        """The open shard (taking the next one's lock when there is none)."""
        if self._current is not None:
            return self._current
        number = self._next
        store = shard_store(self._top, shard_name(number), read_only=False)
        held = contextlib.ExitStack()
        held.enter_context(lock(store))  # StoreError if another writer is at work here
        try:
            manifest = read_manifest(store) if store.exists(MANIFEST_NAME) else None
            if manifest is None:
                if store.fs.exists(store.root):
                    _clear_shard(store)  # what a writer that died before its first commit left
            elif number != self._fill:
                raise StoreError(
                    f"{store.url}: another writer has committed to this shard since this "
                    f"writer started; shard sequences must not overlap (shard_start="
                    f"{self._start}, shard_step={self._step})"
                )
        except BaseException:
            held.close()
            raise
        self._current = _Open(number, store, manifest, held)
        return self._current

    def _commit(self, shard: _Open, piece: GrumpyArray | DataFrame) -> None:
        try:
            manifest = shard.manifest
            encoded = False
            if manifest is None:
                if self._template is None and self._codecs is not None:
                    # The dataset's first piece: encoded once, for its layout and its commit.
                    where = self._top.url
                    piece = encode_batch(piece, check_codecs(piece, self._codecs, where), where)
                    encoded = True
                manifest = self._new_manifest(piece)
                shard.store.group()
            # Every shard keeps the dataset's one layout: no widening appends here.
            shard.manifest = commit(shard.store, manifest, piece, encoded=encoded, widen=False)
        except BaseException:
            if shard.manifest is None:  # nothing committed: leave no empty shard behind
                self._current = None
                shard.held.close()
                _remove(shard.store)
            raise
        if self._template is None:
            self._template = shard.manifest
        name = shard_name(shard.number)
        if name not in self._names:
            self._names.append(name)

    def _new_manifest(self, piece: GrumpyArray | DataFrame) -> Manifest:
        attrs = {"shard_rows": self._shard_rows}
        if self._template is not None:
            # Every shard of a dataset stores the same columns the same way (a batch of
            # scalar rows joins a union column, as an append does).
            return replace(self._template, rows=0, leaves={}, attrs=attrs)
        # ``like`` (or else the first batch) fixes the columns and layouts of the shards.
        model = piece if self._like is None else self._like
        check_chunk_dim(self._options["chunk_dim"], model)
        if self._like is not None and self._codecs:
            where = self._top.url
            model = encode_batch(model, check_codecs(model, self._codecs, where), where)
        manifest = new_manifest(Batch.of(model), **self._options, codecs=self._codecs)
        return replace(manifest, attrs=attrs)

    def _finish(self) -> None:
        shard, self._current = self._current, None
        if shard is not None:
            shard.held.close()
            self._next = shard.number + self._step


def _is_dataset_entry(name: str) -> bool:
    return (
        name in (MANIFEST_NAME, LOCK_NAME)
        or name.startswith(f"{MANIFEST_NAME}.tmp-")  # an interrupted atomic write
        or is_shard_name(name)
    )


def _check_dataset_dir(store: LeafStore) -> None:
    """Refuse to delete shards in a directory that holds more than a sharded dataset."""
    try:
        if store.local:
            names = os.listdir(store.root)
        else:
            names = [
                e.rstrip("/").rsplit("/", 1)[-1] for e in store.fs.ls(store.root, detail=False)
            ]
    except (FileNotFoundError, NotADirectoryError):
        return
    strange = sorted(n for n in names if not _is_dataset_entry(n))
    if strange:
        raise StoreError(
            f"{store.url}: holds {strange[0]!r}"
            f"{f' (and {len(strange) - 1} more)' if len(strange) > 1 else ''}, which is not "
            f"part of a sharded dataset (only shard-NNNNNN directories, {MANIFEST_NAME} and "
            f"{LOCK_NAME} are); ShardedWriter(mode='w') deletes shards only in a dataset's "
            "own directory"
        )


def save_sharded(
    obj: Any,
    path: Any,
    *,
    shard_rows: int,
    chunk_size: int | None,
    chunk_dim: Any,
    compressor: str,
    mode: str,
    storage_options: dict[str, Any] | None,
    timeout: float | None = None,
    shard_size: int | None = None,
    dictionary: Any = None,
    codecs: dict[str, str] | None = None,
) -> None:
    """``gr.save(..., shard_rows=N)``: one writer, then :func:`consolidate`."""
    check_int(shard_rows, "shard_rows", minimum=1)
    if mode not in ("w", "w-", "a"):
        raise ValueError(f"mode must be one of w, w-, a, got {mode!r}")
    items: Iterable[Any] = obj if is_stream(obj) else [obj]
    store = LeafStore(path, storage_options)
    exists = store.exists(MANIFEST_NAME) or bool(list_shards(store))
    if exists and mode == "w-":
        raise StoreError(f"{store.url}: a store exists already (mode='w-')")
    if exists and mode == "a":
        if not is_sharded(store):
            _refuse_single(store)
        append_sharded(items, store, timeout=timeout)
        return
    single = exists and not is_sharded(store)
    # Before a lock file appears in someone's folder: a store being replaced holds only
    # its own entries, a dataset only shards and its manifest.
    if single and store.local:
        refuse_foreign(store)
    elif not single:
        _check_dataset_dir(store)
        if store.local:
            for _, name in list_shards(store):
                _refuse_link(store, name)
    options = manifest_options(chunk_size, chunk_dim, compressor, shard_size, dictionary)
    options["codecs"] = codecs
    with lock(store, timeout=timeout):
        if exists and store.local:
            # Built beside the old dataset (or store) and swapped in whole: bad input, an
            # empty iterator or a kill leaves the old one.
            atomic.sweep(store.root)
            tmp = atomic.sibling(store.root)
            try:
                _write_shards(tmp, items, shard_rows, options, None)
                with store.translate("the new dataset"):
                    atomic.swap_in(tmp, store.root)
            finally:
                shutil.rmtree(tmp, ignore_errors=True)
            return
        if single:
            clear(store)  # a remote single store that mode="w" replaces
        # The writer (shards 0, 1, ...) deletes the dataset's shards, refusing a directory
        # that holds anything else.
        _write_shards(path, items, shard_rows, options, storage_options)


def _write_shards(
    path: Any,
    items: Iterable[Any],
    shard_rows: int,
    options: dict[str, Any],
    storage_options: dict[str, Any] | None,
) -> None:
    """One writer filling shards 0, 1, ... of a new dataset at ``path``, then consolidate."""
    with ShardedWriter(
        path, 0, 1, shard_rows, mode="w", storage_options=storage_options, **options
    ) as writer:
        for item in items:
            writer.write(item)
    if not writer.shards:
        raise ValueError("save got an empty iterator: nothing to write")
    _consolidate(LeafStore(path, storage_options))


def append_sharded(items: Iterable[Any], store: LeafStore, *, timeout: float | None = None) -> None:
    """``gr.append`` on a sharded dataset: fill the last shard, then new ones; consolidate."""
    with lock(store, timeout=timeout):  # one appender or consolidator at a time
        top = read_any(store)
        assert isinstance(top, ShardedManifest)
        committed = _committed(store)
        if not committed:
            raise StoreFormatError(f"{store.url}: no shard has a committed {MANIFEST_NAME}")
        last_number, _, last = committed[-1]
        size = (
            top.shard_rows
            or last.attrs.get("shard_rows")
            or max(s.rows for s in top.shards)
            or DEFAULT_SHARD_ROWS
        )
        with ShardedWriter(
            store.url,
            last_number,
            1,
            max(int(size), 1),
            mode="a",
            storage_options=store.storage_options,
        ) as writer:
            for item in items:
                writer.write(item)
        _consolidate(store)
