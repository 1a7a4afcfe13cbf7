"""Partitions of parallel engines (Dask, Ray): grumpy data <-> pandas / Arrow partitions,
and partitions written as the shards of a dataset.

Reading gives each engine partition one of two pandas forms (``to_partition``):

- ``unions="lowered"``: the fragment's Arrow table with unions lowered (a list column ``c``
  plus a boolean ``c__is_scalar``, docs/interop.md), every column a ``pd.ArrowDtype``;
- ``unions="grumpy"``: :func:`~grumpy_arrow.pandas.frame_to_pandas` (``GrumpyDtype`` for
  nested and union columns, nullable dtypes for flat ones).

Both come back exactly through :func:`from_partition` (which also takes Arrow tables, Ray's
blocks): Arrow types and ``GrumpyDtype`` columns keep their types, and lowered unions are
raised again from the ``__is_scalar`` columns.

Writing: partition (or task) ``k`` writes shards ``k * stride``, ``k * stride + 1``, ...,
each with its own :class:`~grumpy_arrow.storage.ShardedWriter`, so the dataset's row order
(shard number order) is the partitions' order whatever order the tasks finish in. A final
:func:`~grumpy_arrow.consolidate` lists the shards.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

import pandas as pd
import pyarrow as pa

from grumpy_arrow._typing import Compressor
from grumpy_arrow._validate import check_int
from grumpy_arrow.array import GrumpyArray
from grumpy_arrow.errors import StoreError
from grumpy_arrow.frame.dataframe import METADATA_KEY, DataFrame, from_arrow_table
from grumpy_arrow.pandas.convert import SCHEMA_ATTR, as_grumpy, frame_to_pandas
from grumpy_arrow.storage.fragments import TABLE_COLUMN, table_of
from grumpy_arrow.storage.manifest import MANIFEST_NAME
from grumpy_arrow.storage.shard_writer import ShardedWriter
from grumpy_arrow.storage.shards import list_shards
from grumpy_arrow.storage.stores import clear as _clear
from grumpy_arrow.storage.writer import lock
from grumpy_arrow.storage.zarr import LeafStore

__all__ = [
    "KIND_ATTR",
    "SHARD_STRIDE",
    "check_mode",
    "check_shard_rows",
    "from_partition",
    "location",
    "prepare_directory",
    "to_partition",
    "write_shards",
]

KIND_ATTR = "grumpy_kind"  # pandas attrs: "array" for the one-column frame of an array store
SHARD_STRIDE = 10_000  # shard numbers reserved per partition when partitions are split
_ALONE = 1 << 40  # a shard_step no writer reaches: each ShardedWriter writes one shard


def to_partition(obj: Any, *, unions: str, start: int = 0) -> pd.DataFrame:
    """A pandas partition of an array or frame, indexed by global row (from ``start``)."""
    if unions == "lowered":
        out: pd.DataFrame = table_of(obj, unions="lowered").to_pandas(types_mapper=pd.ArrowDtype)
    else:
        frame = obj if isinstance(obj, DataFrame) else DataFrame({TABLE_COLUMN: obj}, None)
        out = frame_to_pandas(frame)
    out.index = pd.RangeIndex(start, start + len(out))
    if isinstance(obj, DataFrame):
        if obj.schema is not None:
            out.attrs[SCHEMA_ATTR] = obj.schema.to_json()
    else:
        out.attrs[KIND_ATTR] = "array"
    return out


def from_partition(part: Any, *, schema: Any = None, kind: str | None = None) -> Any:
    """A frame (or, for ``kind="array"``, the array) from a pandas partition or an Arrow
    table; lowered union columns are raised. The index is not kept.

    ``schema`` and ``kind`` default to the partition's ``attrs`` (pandas) or metadata (Arrow).
    """
    if isinstance(part, pa.RecordBatch):
        part = pa.Table.from_batches([part])
    if isinstance(part, pd.DataFrame):
        if schema is None:
            schema = part.attrs.get(SCHEMA_ATTR)
        kind = kind or part.attrs.get(KIND_ATTR)
        names = [str(c) for c in part.columns]
        arrays = [as_grumpy(part.iloc[:, i]).to_arrow() for i in range(len(names))]
        table = pa.Table.from_arrays(arrays, names=names) if names else pa.table({})
        frame = from_arrow_table(table, schema)
    elif isinstance(part, pa.Table):
        frame = from_arrow_table(part, schema)
        if kind is None:
            kind = _table_kind(part)
    else:
        raise TypeError(f"a partition must be a pandas DataFrame or a pa.Table, got {type(part)}")
    if kind == "array" and frame.columns == [TABLE_COLUMN]:
        column: GrumpyArray = frame[TABLE_COLUMN]
        return column
    return frame


def _table_kind(table: pa.Table) -> str | None:
    raw = (table.schema.metadata or {}).get(METADATA_KEY)
    try:
        kind = json.loads(raw)["kind"] if raw else None
    except (ValueError, KeyError, TypeError):
        return None
    return kind if isinstance(kind, str) else None


# -- writing ----------------------------------------------------------------------------


def check_mode(mode: str) -> str:
    """``mode`` checked: ``"w"`` (replace what is there) or ``"w-"`` (refuse a store)."""
    if mode not in ("w", "w-"):
        raise ValueError(f"mode must be 'w' or 'w-', got {mode!r}")
    return mode


def check_shard_rows(value: Any) -> int | None:
    """``shard_rows`` checked: None or an int >= 1."""
    return check_int(value, "shard_rows", minimum=1, optional=True)


def location(path: Any, storage_options: dict[str, Any] | None) -> str:
    """Where tasks in other processes find ``path``: absolute for local paths (workers may
    run in another directory), the URL otherwise."""
    store = LeafStore(path, storage_options)
    return store.root if store.local else store.url


def prepare_directory(path: Any, storage_options: dict[str, Any] | None, mode: str) -> str:
    """Make ``path`` ready for shards written by tasks: clear what is there (``mode="w"``)
    or refuse (``"w-"``). Returns :func:`location`."""
    check_mode(mode)
    store = LeafStore(path, storage_options)
    exists = store.exists(MANIFEST_NAME) or bool(list_shards(store))
    if exists and mode == "w-":
        raise StoreError(f"{store.url}: a store exists already (mode='w-')")
    with lock(store):
        if exists:
            _clear(store)
        else:
            store.fs.makedirs(store.root, exist_ok=True)
    return store.root if store.local else store.url


def write_shards(
    path: str,
    first: int,
    parts: Iterable[Any],
    *,
    shard_rows: int | None,
    limit: int = SHARD_STRIDE,
    chunk_size: int | None = None,
    compressor: Compressor = "default",
    storage_options: dict[str, Any] | None = None,
) -> int:
    """Write arrays/frames, in order, into shards ``first``, ``first + 1``, ...

    Without ``shard_rows`` all parts go into one shard (of their total rows: the parts are
    held until then, as an engine's task holds its blocks); with it, shards are filled
    with up to ``shard_rows`` rows (parts are split and joined). When every part is empty,
    one empty shard records the columns. Returns the rows written.

    Raises
    ------
    ValueError
        If more than ``limit`` shards would be needed (they would collide with the next
        partition's shard numbers).
    """
    options = {
        "chunk_size": chunk_size,
        "compressor": compressor,
        "storage_options": storage_options,
    }
    if shard_rows is None:
        parts = list(parts)
        shard_rows = max(sum(len(p) for p in parts), 1)
    state = _Run(path, first, limit, options)
    rows = 0
    last = None
    try:
        for part in parts:
            last = part
            if len(part):
                state.fill(part, shard_rows)
                rows += len(part)
        if state.number == first and last is not None:
            state.one(last, 1)  # only empty parts: an empty shard keeps the columns
    finally:
        state.close()
    return rows


class _Run:
    """Consecutive shards written one ShardedWriter each (see :func:`write_shards`)."""

    def __init__(self, path: str, first: int, limit: int, options: dict[str, Any]) -> None:
        self.path, self.first, self.limit, self.options = path, first, limit, options
        self.number = first
        self.writer: ShardedWriter | None = None
        self.room = 0

    def _open(self, cap: int) -> ShardedWriter:
        if self.number - self.first >= self.limit:
            raise ValueError(
                f"{self.path}: one partition needs more than {self.limit} shards; use a "
                "larger shard_rows or more partitions"
            )
        self.close()
        # mode="w" replaces this shard only (a retried task rewrites its own shard).
        self.writer = ShardedWriter(self.path, self.number, _ALONE, cap, mode="w", **self.options)
        self.number += 1
        self.room = cap
        return self.writer

    def one(self, part: Any, cap: int) -> None:
        self._open(max(cap, 1)).write(part)
        self.close()

    def fill(self, part: Any, shard_rows: int) -> None:
        pos, n = 0, len(part)
        while pos < n:
            writer = self.writer if self.writer is not None and self.room else None
            if writer is None:
                writer = self._open(shard_rows)
            take = min(self.room, n - pos)
            writer.write(part if take == n else part[pos : pos + take])
            pos += take
            self.room -= take

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            self.writer = None
