"""``gr.validate``: check every leaf of a store against its manifest.

Examples
--------
>>> import os, tempfile, grumpy_arrow as gr
>>> path = os.path.join(tempfile.mkdtemp(), "x.gr")
>>> gr.save(gr.array([[1, 2], [3]]), path)
>>> gr.validate(path)
[]
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from grumpy_arrow.errors import GrumpyError, StoreFormatError
from grumpy_arrow.storage.api import load_manifest, read_manifest
from grumpy_arrow.storage.manifest import Manifest
from grumpy_arrow.storage.zarr import LeafStore

__all__ = ["store_info", "validate"]


def validate(path: Any, *, storage_options: dict[str, Any] | None = None) -> list[str]:
    """Problems found in the store at ``path`` (an empty list when it is sound).

    Checks the manifest, that every leaf exists with at least its committed length and the
    expected dtype, that chunk files are present and whole, that offsets start at 0, never
    decrease and end where their content ends, and that every column has the committed
    number of rows.
    """
    store = LeafStore(path, storage_options, read_only=True)
    try:
        manifest = read_manifest(store)
    except StoreFormatError as err:
        return [str(err)]
    problems: list[str] = []
    for name, spec in sorted(manifest.leaves.items()):
        problems += _check_leaf(store, name, spec.length, spec.dtype, spec.last)
    if not problems:
        try:
            load_manifest(store, manifest, None)
        except (GrumpyError, ValueError, OSError) as err:
            problems.append(str(err))
    return problems


def _check_leaf(store: LeafStore, name: str, length: int, dtype: str, last: int | None
                ) -> list[str]:  # fmt: skip
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
    if str(arr.dtype) != dtype:
        out.append(f"{where} has dtype {arr.dtype}; the manifest says {dtype}")
    chunk, np_dtype, direct = store.leaf_meta(name)
    if direct and length:
        for k in range(-(-length // chunk)):
            file = os.path.join(store.root, name, "c", str(k))
            want = chunk * np_dtype.itemsize
            try:
                size = os.path.getsize(file)
            except FileNotFoundError:
                out.append(f"{where} is missing chunk {k} ({file})")
                continue
            if size < want:
                out.append(f"{where} chunk {k} is truncated: {size} bytes, expected {want}")
    if out:
        return out
    try:
        values = store.read_whole(name, length)
    except (GrumpyError, ValueError, OSError) as err:
        return [str(err)]
    if name.endswith("offsets") and length:
        if int(values[0]) != 0:
            out.append(f"{where} starts at {int(values[0])}; offsets start at 0")
        if np.any(np.diff(values) < 0):
            at = int(np.flatnonzero(np.diff(values) < 0)[0]) + 1
            out.append(f"{where} decreases at position {at}")
        if last is not None and int(values[-1]) != last:
            out.append(f"{where} ends at {int(values[-1])}; the manifest says {last}")
    return out


def store_info(path: Any, *, storage_options: dict[str, Any] | None = None) -> dict[str, Any]:
    """What ``grumpy-arrow info`` prints: kind, rows, schema, columns, leaves, bytes, chunks."""
    store = LeafStore(path, storage_options, read_only=True)
    manifest: Manifest = read_manifest(store)
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
    chunks = {}
    for name in manifest.leaves:
        chunks[name] = store.leaf_meta(name)[0]
    from grumpy_arrow.storage.buffers import layout_signature

    return {
        "path": store.url,
        "kind": manifest.kind,
        "rows": manifest.rows,
        "schema": manifest.schema,
        "columns": {
            c.name: {"level": c.level, "layout": layout_signature(c.layout)}
            for c in manifest.columns
        },
        "leaves": len(manifest.leaves),
        "bytes_on_disk": nbytes,
        "chunk_size": manifest.chunk_size,
        "chunk_dim": manifest.chunk_dim,
        "leaf_chunks": sorted(set(chunks.values())),
        "compressor": manifest.compressor,
        "creator": manifest.creator,
    }
