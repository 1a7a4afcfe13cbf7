"""``grumpy-arrow upgrade``: rewrite a version-1 store (or every shard of a sharded
dataset) in the current format.

A local store is rewritten batch by batch from a read-only handle of the old one into a
new store built beside it, then swapped in whole (what ``gr.save`` does over a store), so
a failure or a crash leaves the old store, whole, and memory stays bounded by one batch.
Remote stores are read into memory first (they cannot be swapped atomically).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Any

from grumpy_arrow._typing import Compressor
from grumpy_arrow.errors import StoreError
from grumpy_arrow.storage.api import save
from grumpy_arrow.storage.handle import Handle
from grumpy_arrow.storage.manifest import MANIFEST_NAME, VERSION, Manifest, ShardedManifest
from grumpy_arrow.storage.shards import list_shards, read_any, shard_store
from grumpy_arrow.storage.stores import read_manifest
from grumpy_arrow.storage.writer import lock
from grumpy_arrow.storage.zarr import LeafStore

__all__ = ["UpgradeReport", "upgrade"]

BATCH_BYTES = 64 * 2**20  # rows are copied in batches of about this many bytes of leaves


@dataclass(frozen=True)
class UpgradeReport:
    """What :func:`upgrade` did: the stores it rewrote and those already current."""

    path: str
    upgraded: tuple[str, ...]
    current: tuple[str, ...]

    def __str__(self) -> str:
        if not self.upgraded:
            return f"{self.path}: already format version {VERSION}; nothing to do"
        return f"{self.path}: rewrote {len(self.upgraded)} store(s) in format version {VERSION}" + (
            f" ({len(self.current)} already current)" if self.current else ""
        )


def upgrade(
    path: Any,
    *,
    compressor: Compressor = "default",
    storage_options: dict[str, Any] | None = None,
    durable: bool = True,
) -> UpgradeReport:
    """Rewrite the store at ``path`` in format version :data:`VERSION` (every shard of a
    sharded dataset), keeping its rows, schema, columns and attributes.

    Parameters
    ----------
    path : str or path
        A store or sharded dataset (local path or fsspec URL).
    compressor : str
        The new store's compressor (see :func:`grumpy_arrow.save`).
    storage_options : dict, optional
        Passed to fsspec for URLs.
    durable : bool
        Flush the new store to the disk before it replaces the old one (default).

    Returns
    -------
    UpgradeReport
        The stores rewritten (``upgraded``) and those already current (``current``).

    Raises
    ------
    StoreFormatError
        If ``path`` holds no store.
    StoreLockedError
        If a writer holds a store's lock.

    Examples
    --------
    >>> import os, tempfile, grumpy_arrow as gr
    >>> from grumpy_arrow.storage.upgrade import upgrade
    >>> tmp = tempfile.TemporaryDirectory()
    >>> path = os.path.join(tmp.name, "x.gr")
    >>> gr.save(gr.array([[1, 2], [3]]), path)
    >>> upgrade(path).upgraded  # written by this version: nothing to do
    ()
    >>> tmp.cleanup()
    """
    store = LeafStore(path, storage_options, read_only=True)
    found = read_any(store)
    options = {"compressor": compressor, "storage_options": storage_options, "durable": durable}
    if isinstance(found, Manifest):
        done = _upgrade_one(store.url, found, options)
        return UpgradeReport(store.url, (store.url,) if done else (), () if done else (store.url,))
    upgraded: list[str] = []
    current: list[str] = []
    for _, name in list_shards(store):
        child = shard_store(store, name, read_only=True)
        if not child.exists(MANIFEST_NAME):
            continue  # a writer died before its first commit: nothing committed to keep
        done = _upgrade_one(child.url, read_manifest(child), options)
        (upgraded if done else current).append(child.url)
    if isinstance(found, ShardedManifest) and found.consolidated and found.version < VERSION:
        top = LeafStore(path, storage_options, durable=durable)
        top.write_atomic(MANIFEST_NAME, replace(found, version=VERSION).to_json().encode())
    return UpgradeReport(store.url, tuple(upgraded), tuple(current))


def _upgrade_one(url: str, manifest: Manifest, options: dict[str, Any]) -> bool:
    """Rewrite one store if it is older than :data:`VERSION`; whether it was."""
    if manifest.version >= VERSION:
        return False
    handle = Handle(url, cache="none", storage_options=options["storage_options"])
    if not handle._store.local:
        batches: Any = [handle.load()]
    else:
        batches = _batches(handle)
    # Version-1 chunk sizes (whole chunks of 2**18 values) do not carry over: the new
    # store's inner chunks and shards are sized by bytes.
    save(
        batches,
        url,
        compressor=options["compressor"],
        mode="w",
        storage_options=options["storage_options"],
        durable=options["durable"],
    )
    if manifest.attrs:
        store = LeafStore(url, options["storage_options"], durable=options["durable"])
        with lock(store):
            new = read_manifest(store)
            if new.rows != manifest.rows:
                raise StoreError(f"{url}: the upgrade wrote {new.rows} rows of {manifest.rows}")
            text = replace(new, attrs=dict(manifest.attrs)).to_json()
            store.write_atomic(MANIFEST_NAME, text.encode())
    return True


def _batches(handle: Handle) -> Iterator[Any]:
    """The handle's rows in order, in batches of about :data:`BATCH_BYTES` (one empty
    batch for an empty store, so the new store has the old one's columns)."""
    manifest = handle.manifest
    total = sum(
        spec.length * handle._store.format(name).dtype.itemsize
        for name, spec in manifest.leaves.items()
    )
    rows = manifest.rows
    step = max(1, int(rows * BATCH_BYTES / total)) if total else max(rows, 1)
    if rows == 0:
        yield handle[0:0]
        return
    for start in range(0, rows, step):
        yield handle[start : start + step]
