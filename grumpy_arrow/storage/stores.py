"""A store's basics, below the handles and writers: reading and cutting its manifest,
loading its columns, checking that a folder is a store before it is replaced or cleared,
and turning what ``gr.save`` accepts into a batch.

``storage.api`` (``gr.save``, ``gr.append``, ``gr.load``, ``gr.open``) sits on top of
this module, the handles and the sharded writers.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from typing import Any

import numpy as np
import pyarrow as pa

from grumpy_arrow._validate import check_int
from grumpy_arrow.array import GrumpyArray, asarray
from grumpy_arrow.errors import ColumnNotFoundError, SchemaError, StoreError, StoreFormatError
from grumpy_arrow.frame.dataframe import CONVERTERS, DataFrame, from_arrow_table
from grumpy_arrow.frame.schema import parse_schema
from grumpy_arrow.storage import buffers as bf
from grumpy_arrow.storage import checks as ck
from grumpy_arrow.storage import layouts as ly
from grumpy_arrow.storage.codecs import decode_columns
from grumpy_arrow.storage.codecs import get as get_codec
from grumpy_arrow.storage.manifest import MANIFEST_NAME, LeafSpec, Manifest, parse_manifest
from grumpy_arrow.storage.writer import ARRAY_COLUMN
from grumpy_arrow.storage.zarr import LeafStore

__all__ = [
    "as_batch",
    "check_chunk_dim",
    "check_chunk_dim_type",
    "check_column_names",
    "clear",
    "codecs_of",
    "is_stream",
    "load_manifest",
    "manifest_at",
    "read_manifest",
    "refuse_foreign",
    "select_columns",
]


def as_batch(obj: Any) -> GrumpyArray | DataFrame:
    """Arrays, frames, ``pa.Table`` and ``pandas.DataFrame`` as what the writer takes."""
    if isinstance(obj, (GrumpyArray, DataFrame)):
        return obj
    if isinstance(obj, (pa.Table, pa.RecordBatch)):
        return from_arrow_table(obj)
    for convert in CONVERTERS:
        converted = convert(obj)
        if converted is not None:
            return converted
    return asarray(obj)


def is_stream(obj: Any) -> bool:
    return isinstance(obj, Iterator) or (
        isinstance(obj, Iterable)
        and not isinstance(obj, (list, tuple, str, bytes, np.ndarray, dict))
        and not hasattr(obj, "__arrow_c_array__")
        and not hasattr(obj, "__arrow_c_stream__")
        and not isinstance(obj, (GrumpyArray, DataFrame))
    )


def read_manifest(store: LeafStore) -> Manifest:
    """The committed manifest of a store.

    Raises
    ------
    StoreFormatError
        When the path holds no grumpy store or a malformed manifest.
    """
    try:
        text = store.read_text(MANIFEST_NAME)
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError) as err:
        raise StoreFormatError(
            f"{store.url}: not a grumpy_arrow store (no {MANIFEST_NAME}); expected a "
            "directory written by gr.save"
        ) from err
    return parse_manifest(text, store.url)


_OWN_FILES = frozenset({MANIFEST_NAME, "grumpy.lock", "zarr.json"})


def refuse_foreign(store: LeafStore) -> None:
    """Refuse to overwrite a local folder that holds anything a store would not: files
    other than the store's own, links, folders that are not Zarr nodes or shards.

    Raises
    ------
    StoreError
        Naming the first few foreign entries.
    """
    try:
        entries = sorted(os.listdir(store.root))
    except FileNotFoundError:
        return
    except NotADirectoryError as err:
        raise StoreError(f"{store.url}: is a file, not a folder for a store") from err
    foreign = [e for e in entries if not _is_own(store.root, e)]
    if foreign:
        shown = ", ".join(foreign[:5]) + (", ..." if len(foreign) > 5 else "")
        what = "a store and other files" if _OWN_FILES & set(entries) else "files"
        raise StoreError(
            f"{store.url}: the folder holds {what} ({shown}); gr.save replaces only a "
            "grumpy store or an empty folder, so nothing was written or deleted"
        )


def _is_own(root: str, entry: str) -> bool:
    full = os.path.join(root, entry)
    if os.path.islink(full):
        return False
    if entry in _OWN_FILES or entry.startswith(f"{MANIFEST_NAME}.tmp-"):
        return os.path.isfile(full)
    if not os.path.isdir(full):
        return False
    return os.path.isfile(os.path.join(full, "zarr.json")) or (
        entry.startswith("shard-") and entry[6:].isdigit()
    )


def check_chunk_dim_type(chunk_dim: Any) -> None:
    if chunk_dim is None:
        return
    if isinstance(chunk_dim, bool) or not isinstance(chunk_dim, (str, int)):
        raise TypeError(f"chunk_dim must be a level name or a depth, got {chunk_dim!r}")
    if isinstance(chunk_dim, int) and chunk_dim < 0:
        raise ValueError(f"chunk_dim must be a depth >= 0, got {chunk_dim}")


def check_chunk_dim(chunk_dim: Any, batch: GrumpyArray | DataFrame) -> None:
    check_chunk_dim_type(chunk_dim)
    if isinstance(chunk_dim, str):
        if not isinstance(batch, DataFrame) or batch.schema is None:
            raise SchemaError(f"chunk_dim={chunk_dim!r} names a level, but there is no schema")
        batch.schema.index(chunk_dim)  # unknown level -> SchemaError


def clear(store: LeafStore) -> None:
    """Remove a store's own entries (the lock file stays); a folder with anything else is
    refused first (:func:`refuse_foreign`)."""
    if store.local:
        refuse_foreign(store)
        for entry in os.listdir(store.root):
            full = os.path.join(store.root, entry)
            if os.path.isdir(full) and not os.path.islink(full):
                shutil.rmtree(full)
            elif entry != "grumpy.lock":
                os.remove(full)
    else:
        for entry in store.fs.ls(store.root, detail=False):
            store.fs.rm(entry, recursive=True)
    store.reset()


def load_manifest(
    store: LeafStore, manifest: Manifest, columns: list[str] | None, *, rows: int | None = None
) -> Any:
    """Read the committed content of a store (leaves concurrently).

    With ``rows`` the store is read at that committed row count (at most the manifest's),
    as :func:`manifest_at` describes.
    """
    if rows is not None:
        manifest = manifest_at(store, manifest, rows)
    specs = select_columns(manifest, columns, store.url)
    names = sorted(
        {name for c in specs for name in c.layout.leaf_names() if name in manifest.leaves}
    )
    # One thread per core: more make the per-chunk steps of compressed leaves fight for
    # the GIL (the molecule benchmark's load: 270 ms with 2 threads on 2 cores, 390 with 8).
    with ThreadPoolExecutor(max_workers=max(1, min(_cores(), len(names)))) as pool:
        arrays = dict(
            zip(
                names,
                pool.map(lambda n: store.read_whole(n, manifest.leaves[n].length), names),
                strict=True,
            )
        )
    result = {}
    for name, values in arrays.items():
        ck.check_dtype(values, manifest.leaves[name].dtype, store.url, name)
    verified = frozenset(n for n in arrays if store.checksummed(n))
    for spec in specs:
        node = bf.assemble(
            spec.layout, arrays.__getitem__, arrays.__contains__, store.url, verified
        )
        if len(node) != manifest.rows:
            raise StoreFormatError(
                f"{store.url}: column {spec.name!r} has {len(node)} rows; the manifest "
                f"commits {manifest.rows}"
            )
        result[spec.name] = GrumpyArray._wrap(node)
    result = decode_columns(result, codecs_of(manifest, store.url), store.url)
    if manifest.kind == "array":
        return result[ARRAY_COLUMN]
    return DataFrame(result, parse_schema(manifest.schema), manifest.rows)


def codecs_of(manifest: Manifest, where: str) -> dict[str, Any]:
    """The codecs of a store's columns, by column (a StoreFormatError naming how to
    register one this process lacks)."""
    return {name: get_codec(codec, where, name) for name, codec in manifest.codecs.items()}


def _cores() -> int:
    """The CPU cores this process may run on."""
    affinity = getattr(os, "sched_getaffinity", None)
    return len(affinity(0)) if affinity is not None else os.cpu_count() or 1


def select_columns(manifest: Manifest, columns: list[str] | None, where: str) -> list[Any]:
    if columns is None:
        return list(manifest.columns)
    if manifest.kind == "array":
        raise SchemaError(f"{where}: columns= applies to frames; this store holds an array")
    check_column_names([c.name for c in manifest.columns], columns, where)
    return [manifest.column(c) for c in columns]


def check_column_names(names: list[str], columns: Iterable[str], where: str) -> None:
    """Raise a ColumnNotFoundError naming the first of ``columns`` not in ``names`` (the
    columns of the store ``where``)."""
    for c in columns:
        if c not in names:
            raise ColumnNotFoundError(
                f"{where}: no column {c!r}; the columns are {', '.join(names)}"
            )


def manifest_at(store: LeafStore, manifest: Manifest, rows: int) -> Manifest:
    """The manifest of the store's first ``rows`` committed rows.

    Appends never rewrite committed values, so cutting every leaf at the length it had
    when the store held ``rows`` rows gives exactly that earlier state. The cut lengths
    come from one offset value per list and string node and two values per union
    (``type_ids`` and ``value_offsets`` of the last row); nothing else is read (the
    rules, the inverse of an append's: :func:`grumpy_arrow.storage.layouts.cut`).

    Raises
    ------
    StoreFormatError
        If the store commits fewer than ``rows`` rows.
    """
    rows = check_int(rows, "rows", minimum=0)
    if rows == manifest.rows:
        return manifest
    if rows > manifest.rows:
        raise StoreFormatError(
            f"{store.url}: the store commits {manifest.rows} rows; {rows} were expected"
        )

    def value(name: str, i: int) -> int:
        return int(store.read(name, i, i + 1)[0])

    cut: dict[str, tuple[int, int | None]] = {}
    for column in manifest.columns:
        ly.cut(column.layout, rows, value, manifest.leaves, cut)
    leaves = {
        name: LeafSpec(spec.dtype, *cut[name]) if name in cut else spec
        for name, spec in manifest.leaves.items()
    }
    return replace(manifest, rows=rows, leaves=leaves)
