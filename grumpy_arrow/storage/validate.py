"""``gr.validate``: check every leaf of a store against its manifest.

Examples
--------
>>> import os, tempfile, grumpy_arrow as gr
>>> tmp = tempfile.TemporaryDirectory()
>>> dataset = os.path.join(tmp.name, "ds.gr")
>>> gr.save(gr.array([[1, 2], [3], [4, 5]]), dataset, shard_rows=2)  # two shards
>>> gr.validate(dataset)
[]
>>> tmp.cleanup()
"""

from __future__ import annotations

import os
import re
from typing import Any

import numpy as np

from grumpy_arrow.errors import GrumpyError, SchemaError, StoreError, StoreFormatError
from grumpy_arrow.storage import sharding as sh
from grumpy_arrow.storage.manifest import Manifest, ShardedManifest
from grumpy_arrow.storage.shards import check_same, read_any, shard_store
from grumpy_arrow.storage.stores import load_manifest, read_manifest
from grumpy_arrow.storage.zarr import LeafStore

__all__ = ["store_info", "validate"]

_CHUNK_KEY = re.compile(r"0|[1-9][0-9]{0,17}")


def validate(path: Any, *, storage_options: dict[str, Any] | None = None) -> list[str]:
    """Problems found in the store at ``path`` (an empty list when it is sound).

    Checks the manifest, that every leaf exists with at least its committed length and the
    expected dtype, that chunk files are present and whole, that offsets start at 0, never
    decrease and end where their content ends, and that every column has the committed
    number of rows. The work is bounded by the data present: chunk files are listed, not
    probed one name at a time, and a leaf is read only once all its chunks are there.

    For a sharded dataset every listed shard (or, without a top-level manifest, every
    committed one) is checked so, and also that it commits at least the rows the dataset
    lists and holds the same columns and layouts as the first shard.

    Parameters
    ----------
    path : str or path
        A store or sharded dataset: a local path or an fsspec URL.
    storage_options : dict, optional
        Passed to fsspec for URLs.

    Returns
    -------
    list of str
        One message per problem, naming the store, the leaf or shard and what is wrong;
        ``[]`` for a sound store. A path without a store is a problem too, not an error.

    Examples
    --------
    >>> import os, tempfile, grumpy_arrow as gr
    >>> tmp = tempfile.TemporaryDirectory()
    >>> path = os.path.join(tmp.name, "x.gr")
    >>> gr.save(gr.array([[1, 2], [3]]), path)
    >>> os.remove(os.path.join(path, "array", "r.c-values", "c", "0"))  # a lost chunk file
    >>> gr.validate(path)
    ["...: leaf 'array/r.c-values' is missing shard 0 (...)"]
    >>> tmp.cleanup()
    """
    store = LeafStore(path, storage_options, read_only=True)
    try:
        found = read_any(store)
    except (StoreError, SchemaError) as err:
        return [str(err)]
    if isinstance(found, ShardedManifest):
        return _validate_sharded(store, found)
    return _validate_store(store, found)


def _validate_store(store: LeafStore, manifest: Manifest) -> list[str]:
    problems: list[str] = []
    for name, spec in sorted(manifest.leaves.items()):
        problems += _check_leaf(store, name, spec.length, spec.dtype, spec.last)
    if not problems:
        try:
            load_manifest(store, manifest, None)
        except (GrumpyError, ValueError, OSError, MemoryError) as err:
            problems.append(str(err) or type(err).__name__)
    return problems


def _validate_sharded(store: LeafStore, top: ShardedManifest) -> list[str]:
    problems: list[str] = []
    first: tuple[str, Manifest] | None = None
    for spec in top.shards:
        try:
            child = shard_store(store, spec.name, read_only=True)
            manifest = read_manifest(child)
        except StoreFormatError as err:
            problems.append(f"{store.url}: shard {spec.name!r}: {err}")
            continue
        found = _validate_store(child, manifest)
        problems += [f"{store.url}: shard {spec.name!r}: {p}" for p in found]
        if manifest.rows < spec.rows:
            problems.append(
                f"{store.url}: shard {spec.name!r} commits {manifest.rows} rows; the dataset "
                f"lists {spec.rows}"
            )
        if first is None:
            first = (spec.name, manifest)
            continue
        try:
            check_same(store.url, first, (spec.name, manifest))
        except SchemaError as err:
            problems.append(str(err))
    return problems


def _check_leaf(
    store: LeafStore, name: str, length: int, dtype: str, last: int | None
) -> list[str]:
    where = f"{store.url}: leaf {name!r}"
    try:
        arr = store.array(name)
    except StoreFormatError as err:
        return [str(err)]
    except Exception as err:  # zarr metadata that does not parse
        return [f"{where} cannot be opened by zarr ({type(err).__name__}: {err})"]
    out = []
    if arr.shape[0] < length:
        out.append(f"{where} holds {arr.shape[0]} values; the manifest commits {length}")
    try:
        fmt = store.format(name)
    except (GrumpyError, ValueError, OSError) as err:
        return [*out, str(err)]
    if str(fmt.logical) != dtype:  # a decimal-scaled leaf's integers read as its floats
        out.append(f"{where} has dtype {fmt.logical}; the manifest says {dtype}")
    if store.local and length:
        count = -(-length // fmt.shard)
        least = sh.index_bytes(fmt) if fmt.sharded else 1
        out += _check_chunk_files(
            store, name, where, count, least, "shard" if fmt.sharded else "chunk"
        )
    if out:
        return out
    try:
        values = store.read_whole(name, length)
    except (GrumpyError, ValueError, OSError, MemoryError) as err:
        return [str(err) or type(err).__name__]
    if name.endswith("-offsets") and length:  # not union value_offsets: they go up per child
        if int(values[0]) != 0:
            out.append(f"{where} starts at {int(values[0])} (position 0); offsets start at 0")
        if np.any(np.diff(values) < 0):
            at = int(np.flatnonzero(np.diff(values) < 0)[0]) + 1
            out.append(f"{where} decreases at position {at}")
        if last is not None and int(values[-1]) != last:
            out.append(
                f"{where} ends at {int(values[-1])} (position {length - 1}); the manifest says "
                f"{last}"
            )
    return out


def _check_chunk_files(
    store: LeafStore, name: str, where: str, count: int, size: int, noun: str
) -> list[str]:
    """Files ``0 .. count - 1`` (shards, or version-1 chunks) of a local leaf exist with at
    least ``size`` bytes.

    Lists the leaf's chunk folder once, so the work is bounded by the files present
    however large ``count`` (a manifest's claim) is.
    """
    folder = os.path.join(store.root, name, "c")
    try:
        with os.scandir(folder) as entries:
            present = {int(e.name): e.path for e in entries if _CHUNK_KEY.fullmatch(e.name)}
    except FileNotFoundError:
        present = {}
    except OSError as err:
        return [f"{where}: its chunk folder {folder} cannot be listed ({err.strerror})"]
    out = []
    have = sorted(k for k in present if k < count)
    if len(have) < count:
        first = next(k for k, got in enumerate([*have, count]) if k != got)
        path = os.path.join(folder, str(first))
        if count - len(have) == 1:
            out.append(f"{where} is missing {noun} {first} ({path})")
        else:
            out.append(
                f"{where} is missing {count - len(have)} of its {count} {noun}s, the "
                f"first {noun} {first} ({path})"
            )
    for k in have:
        try:
            got = os.path.getsize(present[k])
        except OSError as err:
            out.append(f"{where} {noun} {k} cannot be read ({err.strerror})")
            continue
        if got < size:
            out.append(f"{where} {noun} {k} is truncated: {got} bytes, expected at least {size}")
    return out


def store_info(path: Any, *, storage_options: dict[str, Any] | None = None) -> dict[str, Any]:
    """What ``grumpy-arrow info`` prints: kind, rows, schema, columns, leaves, bytes, chunks.

    For a sharded dataset the columns and chunking are the first shard's, ``rows`` and
    ``leaves`` are totals, and ``shards`` lists each shard's name and (listed) rows;
    ``consolidated`` says whether a top-level manifest lists them (else they were
    discovered).
    """
    store = LeafStore(path, storage_options, read_only=True)
    found = read_any(store)
    if isinstance(found, ShardedManifest):
        return _sharded_info(store, found)
    return _store_info(store, found)


def _sharded_info(store: LeafStore, top: ShardedManifest) -> dict[str, Any]:
    parts = []
    for spec in top.shards:
        child = shard_store(store, spec.name, read_only=True)
        parts.append(_store_info(child, read_manifest(child), sizes=False))
    info = dict(parts[0])
    info.update(
        path=store.url,
        rows=top.rows,
        leaves=sum(p["leaves"] for p in parts),
        bytes_on_disk=_bytes_on_disk(store),
        leaf_chunks=sorted({c for p in parts for c in p["leaf_chunks"]}),
        creator=top.creator or info["creator"],
        shards=[{"name": s.name, "rows": s.rows} for s in top.shards],
        shard_rows=top.shard_rows,
        consolidated=top.consolidated,
    )
    return info


def _bytes_on_disk(store: LeafStore) -> int:
    try:
        if store.local:  # allocated blocks: chunk files past the data are sparse
            nbytes = sum(
                os.stat(os.path.join(d, f)).st_blocks * 512
                for d, _, files in os.walk(store.root)
                for f in files
            )
        else:
            nbytes = int(store.fs.du(store.root))
    except (OSError, ValueError):
        nbytes = -1
    return nbytes


def _store_info(store: LeafStore, manifest: Manifest, *, sizes: bool = True) -> dict[str, Any]:
    nbytes = _bytes_on_disk(store) if sizes else -1
    chunks = {}
    for name in manifest.leaves:
        chunks[name] = store.format(name).chunk
    return {
        "path": store.url,
        "kind": manifest.kind,
        "rows": manifest.rows,
        "schema": manifest.schema,
        "columns": {
            c.name: {"level": c.level, "layout": c.layout.signature()} for c in manifest.columns
        },
        "leaves": len(manifest.leaves),
        "bytes_on_disk": nbytes,
        "chunk_size": manifest.chunk_size,
        "chunk_dim": manifest.chunk_dim,
        "leaf_chunks": sorted(set(chunks.values())),
        "compressor": manifest.compressor,
        "creator": manifest.creator,
    }
