"""``gr.save``, ``gr.append``, ``gr.load``, ``gr.open``: arrays and frames in Zarr v3 stores.

Examples
--------
>>> import os, tempfile, grumpy_arrow as gr
>>> tmp = tempfile.TemporaryDirectory()
>>> path = os.path.join(tmp.name, "union.gr")
>>> x = gr.array(["P12345", ["P12345-1", "P12345-2"], None], dtype=gr.string)
>>> gr.save(x, path, chunk_size=64)
>>> gr.load(path).to_list() == x.to_list()
True
>>> gr.append(gr.array(["Q9"]), path)
>>> len(gr.open(path))
4
>>> tmp.cleanup()
"""

from __future__ import annotations

import itertools
import shutil
from collections.abc import Iterable, Iterator
from typing import Any

from grumpy_arrow._typing import CacheMode, Compressor, SaveMode
from grumpy_arrow.errors import StoreError
from grumpy_arrow.storage import atomic
from grumpy_arrow.storage.codecs import check_codecs, encode_batch
from grumpy_arrow.storage.handle import DEFAULT_CACHE, Handle
from grumpy_arrow.storage.manifest import MANIFEST_NAME, Manifest
from grumpy_arrow.storage.shard_writer import append_sharded, save_sharded
from grumpy_arrow.storage.shards import ShardedHandle, is_sharded, load_sharded, read_any
from grumpy_arrow.storage.stores import (
    as_batch,
    check_chunk_dim,
    check_chunk_dim_type,
    clear,
    is_stream,
    load_manifest,
    read_manifest,
    refuse_foreign,
)
from grumpy_arrow.storage.writer import (
    Batch,
    commit,
    lock,
    manifest_options,
    new_manifest,
)
from grumpy_arrow.storage.zarr import LeafStore, parse_compressor

__all__ = ["append", "load", "open_store", "save"]

_MODES = ("w", "w-", "a")


def save(
    obj: Any,
    path: Any,
    *,
    chunk_size: int | None = None,
    chunk_dim: Any = None,
    compressor: Compressor = "default",
    mode: SaveMode = "w",
    shard_size: int | None = None,
    dictionary: Any = None,
    storage_options: dict[str, Any] | None = None,
    shard_rows: int | None = None,
    durable: bool = True,
    timeout: float | None = None,
    codecs: dict[str, str] | None = None,
) -> None:
    """Write an array or frame (or an iterator of them) to a Zarr v3 store.

    Parameters
    ----------
    obj : GrumpyArray, DataFrame, pa.Table, pandas.DataFrame, array-like, or an
        iterator/generator of those (each item is appended: a true append, see
        :func:`append`).
    path : str or path
        A local path or an fsspec URL (``memory://``, ``file://``, ``s3://``...).
    storage_options : dict, optional
        Passed to fsspec for URLs.
    chunk_size : int, optional
        Values per inner chunk of every leaf (the unit a read decodes; default: 32 KiB
        of values of a raw leaf, 4 KiB of a compressed one, so 512 for zstd int64).
    chunk_dim : str or int, optional
        Apply ``chunk_size`` and ``shard_size`` only to the leaves at this level (name)
        or depth; the others use the defaults.
    compressor : {"default", "auto", "none", "zstd", "blosc"}
        ``"default"`` is ``"auto"``: zstd for each leaf whose first values it shrinks to
        80 % or less, raw bytes for the others (measured in docs/performance.md).
        Every inner chunk also carries a crc32c checksum, verified whenever it is read.
    shard_size : int, optional
        Values per shard file of every leaf, rounded up to whole inner chunks (default:
        4 MiB of values; an append rewrites at most the last shard of each leaf).
    dictionary : bool or list of str, optional
        Store string and binary leaves dictionary-encoded (an ``int32`` index per row
        into the distinct values): ``None`` (default) where the first batch has at least
        256 values and at most one distinct value in 4, ``True`` always, ``False`` never,
        or the names of the columns to encode. Loads give back plain strings.
    mode : {"w", "w-", "a"}
        Overwrite, fail if the store exists, or append to it if it exists. Overwriting a
        local store builds the new one beside it and swaps it in whole: a failure or a
        crash leaves the old store, whole. A folder holding anything but a store is
        refused, never emptied.
    shard_rows : int, optional
        Write a sharded dataset (``shard-000000/``, ... of at most ``shard_rows`` rows
        each, then a top-level manifest; see :class:`grumpy_arrow.ShardedWriter` and
        docs/storage.md). ``mode="a"`` then appends to an existing sharded dataset as
        :func:`append` does.
    durable : bool
        Flush every commit to the disk before returning (default). ``False`` skips the
        fsyncs (scratch data: a power cut may lose recent commits, a crash of the process
        does not).
    timeout : float, optional
        Seconds to wait for another writer's lock (default
        :data:`~grumpy_arrow.storage.writer.LOCK_TIMEOUT`).
    codecs : dict, optional
        ``{column: codec name}``: store each row of these top-level columns as the bytes
        the codec encodes (``"png"``, ``"jpeg"``, ``"npy"``, ``"json"``, ``"msgpack"`` or
        one of :func:`grumpy_arrow.codecs.register`; ``"array"`` names an array store's
        values). Reads decode them; appends encode with the store's codecs.

    Raises
    ------
    ValueError
        For an unknown ``mode`` or ``compressor``, or a ``chunk_size`` / ``shard_size``
        that is not a positive int.
    StoreError
        If ``mode="w-"`` and the store exists, or the folder holds other files.
    StoreLockedError
        If another writer held the lock for ``timeout`` seconds.
    SchemaError
        If a later batch does not fit the first. Writing a new store, the committed
        batches stay; overwriting one, the old store stays.

    Examples
    --------
    >>> import os, tempfile, grumpy_arrow as gr
    >>> tmp = tempfile.TemporaryDirectory()
    >>> path = os.path.join(tmp.name, "x.gr")
    >>> gr.save(gr.array([[1, 2], [3]]), path, chunk_size=64)
    >>> gr.save(gr.array([[4]]), path, mode="a")
    >>> gr.load(path).to_list()
    [[1, 2], [3], [4]]
    >>> gr.save(gr.array([[5]]), path, mode="w-")
    Traceback (most recent call last):
    ...
    grumpy_arrow.errors.StoreError: ...: a store exists already (mode='w-')
    >>> tmp.cleanup()
    """
    if shard_rows is not None:
        save_sharded(
            obj,
            path,
            shard_rows=shard_rows,
            chunk_size=chunk_size,
            chunk_dim=chunk_dim,
            compressor=compressor,
            mode=mode,
            shard_size=shard_size,
            dictionary=dictionary,
            codecs=codecs,
            storage_options=storage_options,
            timeout=timeout,
        )
        return
    if mode not in _MODES:
        raise ValueError(f"mode must be one of {', '.join(_MODES)}, got {mode!r}")
    compressor = parse_compressor(compressor)
    for what, value in (("chunk_size", chunk_size), ("shard_size", shard_size)):
        if value is not None and (
            not isinstance(value, int) or isinstance(value, bool) or value < 1
        ):
            raise ValueError(f"{what} must be a positive int, got {value!r}")
    check_chunk_dim_type(chunk_dim)
    items: Iterable[Any] = obj if is_stream(obj) else [as_batch(obj)]  # (checked first)
    store = LeafStore(path, storage_options, durable=durable)
    if store.local:
        atomic.recover(store.root)
    exists = store.exists(MANIFEST_NAME)
    sharded = is_sharded(store)
    if (exists or sharded) and mode == "w-":
        raise StoreError(f"{store.url}: a store exists already (mode='w-')")
    if mode == "a" and sharded:
        append_sharded(items, store, timeout=timeout)
        return
    options = manifest_options(chunk_size, chunk_dim, compressor, shard_size, dictionary)
    if codecs is not None and not (exists and mode == "a"):
        items = _encoding(items, codecs, store.url)
        options["codecs"] = codecs
    if store.local and not (exists and mode == "a"):
        refuse_foreign(store)  # before the lock file is created
    with lock(store, timeout=timeout):
        if exists and mode == "a":
            manifest = read_manifest(store)
            _same_codecs(manifest, codecs, store.url)
            for item in items:
                manifest = commit(store, manifest, as_batch(item))
            return
        if store.local:
            refuse_foreign(store)
            if exists or sharded:
                _replace_local(store, items, options)
                return
        elif exists or sharded:
            items = _clear_after_first(store, items)
        if _write_new(store, items, options) is None:
            raise ValueError("save got an empty iterator: nothing to write")


def _write_new(store: LeafStore, items: Iterable[Any], options: dict[str, Any]) -> Any:
    """Commit every item to an empty store; the last manifest (None: no item). With
    ``options["codecs"]`` the items come encoded already (:func:`_encoding`)."""
    manifest = None
    for item in items:
        batch = as_batch(item)
        if manifest is None:
            check_chunk_dim(options["chunk_dim"], batch)
            manifest = new_manifest(Batch.of(batch), **options)
            with store.translate("the group"):
                store.group()
        manifest = commit(store, manifest, batch, encoded=bool(options.get("codecs")))
    return manifest


def _encoding(items: Iterable[Any], codecs: Any, where: str) -> Iterator[Any]:
    """The items with their codec columns encoded (the option checked on the first), so
    a row a codec refuses fails before anything of the old store is touched."""
    checked = None
    for item in items:
        batch = as_batch(item)
        if checked is None:
            checked = check_codecs(batch, codecs, where)
        yield encode_batch(batch, checked, where)


def _same_codecs(manifest: Manifest, codecs: Any, where: str) -> None:
    """``codecs=`` given to an append must be the store's (or absent)."""
    if codecs is None:
        return
    kept = manifest.codecs
    if dict(codecs) != kept:
        raise ValueError(f"{where}: the store keeps codecs {kept}; this append gives {codecs}")


def _replace_local(store: LeafStore, items: Iterable[Any], options: dict[str, Any]) -> None:
    """Build the new store beside the old one, then swap it in (the old store stays, whole,
    if anything fails or the process dies before the swap)."""
    atomic.sweep(store.root)
    tmp = atomic.sibling(store.root)
    try:
        new = LeafStore(tmp, durable=store.durable)
        new.url = store.url  # errors name the store being replaced, not the hidden folder
        if _write_new(new, items, options) is None:
            raise ValueError("save got an empty iterator: nothing to write")
        new.close()
        with store.translate("the new store"):
            atomic.swap_in(tmp, store.root, durable=store.durable)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    store.reset()


def _clear_after_first(store: LeafStore, items: Iterable[Any]) -> Iterator[Any]:
    """Remote stores cannot swap folders: the old store is removed once the first item has
    converted (so bad input loses nothing), then the new one is written in its place."""
    iterator = iter(items)
    try:
        first = as_batch(next(iterator))
    except StopIteration:
        raise ValueError("save got an empty iterator: nothing to write") from None
    clear(store)
    return itertools.chain([first], iterator)


def append(
    obj: Any,
    path: Any,
    *,
    storage_options: dict[str, Any] | None = None,
    durable: bool = True,
    timeout: float | None = None,
) -> None:
    """Append rows to an existing store (a true append: only new data is written).

    On a sharded dataset the rows fill its last shard up to the dataset's ``shard_rows``,
    then go into new shards, and the dataset is consolidated again.

    One writer at a time: a second one waits for the lock up to ``timeout`` seconds
    (default :data:`~grumpy_arrow.storage.writer.LOCK_TIMEOUT`), then raises
    ``StoreLockedError``. ``durable`` as in :func:`save`.

    Parameters
    ----------
    obj : GrumpyArray, DataFrame, pa.Table, pandas.DataFrame or array-like
        The rows, of the store's kind, columns, schema and layouts.
    path : str or path
        The store or sharded dataset: a local path or an fsspec URL.
    storage_options : dict, optional
        Passed to fsspec for URLs.
    durable : bool
        Flush the commit to the disk before returning (default).
    timeout : float, optional
        Seconds to wait for another writer's lock.

    Raises
    ------
    StoreFormatError
        If there is no store at ``path``.
    SchemaError
        If the batch's kind, columns, schema or layouts differ from the store's; the
        store is left unchanged.
    StoreLockedError
        If another writer held the lock for ``timeout`` seconds.

    Examples
    --------
    >>> import os, tempfile, grumpy_arrow as gr
    >>> tmp = tempfile.TemporaryDirectory()
    >>> path = os.path.join(tmp.name, "x.gr")
    >>> gr.save(gr.dataframe({"id": [1, 2], "x": [[0.5], []]}), path)
    >>> gr.append(gr.dataframe({"id": [3], "x": [[1.5, 2.5]]}), path)
    >>> gr.load(path).to_dict()
    {'id': [1, 2, 3], 'x': [[0.5], [], [1.5, 2.5]]}
    >>> gr.append(gr.dataframe({"id": [4]}), path)
    Traceback (most recent call last):
    ...
    grumpy_arrow.errors.SchemaError: ...
    >>> tmp.cleanup()
    """
    store = LeafStore(path, storage_options, durable=durable)
    if store.local:
        atomic.recover(store.root)
    if is_sharded(store):
        append_sharded([obj], store, timeout=timeout)
        return
    read_manifest(store)  # no store here: fail before creating anything
    batch = as_batch(obj)
    with lock(store, timeout=timeout):
        manifest = read_manifest(store)
        commit(store, manifest, batch)


def load(
    path: Any, *, columns: list[str] | None = None, storage_options: dict[str, Any] | None = None
) -> Any:
    """Read a whole store into memory (an array or a frame).

    Parameters
    ----------
    path : str or path
        A store or sharded dataset: a local path or an fsspec URL.
    columns : list of str, optional
        For frames: only these columns.
    storage_options : dict, optional
        Passed to fsspec for URLs.

    Returns
    -------
    GrumpyArray or DataFrame
        What was saved (appends included), with its schema.

    Raises
    ------
    StoreFormatError
        For a missing, foreign, corrupt or truncated store (naming the leaf or field).
    ColumnNotFoundError
        For a name in ``columns`` the store does not have.

    Examples
    --------
    >>> import os, tempfile, grumpy_arrow as gr
    >>> tmp = tempfile.TemporaryDirectory()
    >>> path = os.path.join(tmp.name, "mols.gr")
    >>> df = gr.dataframe({"mol_id": [1, 2], "atom_q": [[0.5, -0.5], [1.0]]},
    ...                   schema=["mol", "atom"])
    >>> gr.save(df, path)
    >>> gr.load(path).schema, gr.load(path, columns=["atom_q"]).to_dict()
    (Schema(['mol', 'atom']), {'atom_q': [[0.5, -0.5], [1.0]]})
    >>> tmp.cleanup()
    """
    store = LeafStore(path, storage_options, read_only=True)
    if store.local:
        atomic.recover(store.root)
    manifest = read_any(store)
    if not isinstance(manifest, Manifest):
        return load_sharded(store, manifest, columns)
    return load_manifest(store, manifest, columns)


def open_store(
    path: Any,
    *,
    cache: CacheMode = "chunks",
    cache_bytes: int = DEFAULT_CACHE,
    storage_options: dict[str, Any] | None = None,
) -> Handle | ShardedHandle:
    """Open a store lazily: nothing but the manifest is read until rows are asked for.

    A sharded dataset (docs/storage.md, "Shards and parallel writers") opens as a
    :class:`~grumpy_arrow.storage.shards.ShardedHandle`, which has the same interface.

    Parameters
    ----------
    path : str or path
        A store or sharded dataset: a local path or an fsspec URL.
    cache : {"chunks", "none"}
        Keep decoded chunks in an LRU of ``cache_bytes`` bytes, or read every time.
    cache_bytes : int
        The cache's budget (default 256 MiB; all shards of a dataset share it).
    storage_options : dict, optional
        Passed to fsspec for URLs.

    Returns
    -------
    Handle or ShardedHandle
        The lazy view.

    Raises
    ------
    ValueError
        For an unknown ``cache``.
    StoreFormatError
        If the path holds no grumpy store or a malformed manifest.

    Examples
    --------
    >>> import os, tempfile, grumpy_arrow as gr
    >>> tmp = tempfile.TemporaryDirectory()
    >>> path = os.path.join(tmp.name, "x.gr")
    >>> gr.save(gr.array([[1, 2], [3], [4, 5, 6]]), path)
    >>> h = gr.open(path)
    >>> len(h), h[[2, 0]].to_list()
    (3, [[4, 5, 6], [1, 2]])
    >>> tmp.cleanup()
    """
    if cache not in ("chunks", "none"):
        raise ValueError(f"cache must be 'chunks' or 'none', got {cache!r}")
    store = LeafStore(path, storage_options, read_only=True)
    manifest = read_any(store)
    if isinstance(manifest, Manifest):
        return Handle(
            path,
            cache=cache,
            cache_bytes=cache_bytes,
            storage_options=storage_options,
            _manifest=manifest,
        )
    return ShardedHandle(
        path,
        cache=cache,
        cache_bytes=cache_bytes,
        storage_options=storage_options,
        _manifest=manifest,
    )
