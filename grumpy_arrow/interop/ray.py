"""Ray Data: stores as Ray Datasets, and Datasets written as sharded datasets.

``read`` goes through :class:`GrumpyDatasource` (a ``ray.data.Datasource``): the store's
fragments (see :mod:`grumpy_arrow.storage.fragments`) are grouped into as many read tasks
as the parallelism asks for, and every fragment becomes one block, a ``pa.Table`` with
union columns lowered (``c`` plus ``c__is_scalar``, docs/interop.md).

``write`` goes through :class:`GrumpyDatasink` (a ``ray.data.Datasink``): Ray hands each
write task at least ``shard_rows`` rows (default 65 536), and task ``k`` writes them as
shard ``k * 10000`` (or, with ``shard_rows``, shards ``k * 10000``, ``k * 10000 + 1``, ...
of at most ``shard_rows`` rows); the driver consolidates when every task is done. The
dataset's row order is the order of the write tasks, which is the block order when Ray
preserves order (``DataContext.execution_options.preserve_order``, which ``write`` sets
for the dataset it writes unless told not to).

Needs the ``ray`` extra: ``pip install 'grumpy_arrow[ray]'``. The two classes are built
on first use (this module imports without Ray).
"""

from __future__ import annotations

import functools
import itertools
import types
from collections.abc import Iterator
from typing import Any

import numpy as np
import pyarrow as pa

from grumpy_arrow._optional import require
from grumpy_arrow._typing import Compressor, SaveMode
from grumpy_arrow.interop.partitions import (
    SHARD_STRIDE,
    check_mode,
    check_shard_rows,
    from_partition,
    location,
    prepare_directory,
    write_shards,
)
from grumpy_arrow.storage.api import open_store
from grumpy_arrow.storage.fragments import Fragment, table_of
from grumpy_arrow.storage.manifest import ShardedManifest
from grumpy_arrow.storage.shards import DEFAULT_SHARD_ROWS, consolidate

# Also ``GrumpyDatasource`` and ``GrumpyDatasink``, defined on first use (``__getattr__``).
__all__ = ["read", "write"]

_INSTALL = "'grumpy_arrow[ray]'"


def _ray_data() -> Any:
    return require("ray.data", what="gr.ray", install=_INSTALL)


def read(
    path: Any,
    columns: list[str] | None = None,
    *,
    parallelism: int = -1,
    rows_per_fragment: int | None = None,
    storage_options: dict[str, Any] | None = None,
    **read_args: Any,
) -> Any:
    """A store (or sharded dataset) as a Ray Dataset of Arrow blocks (unions lowered).

    Parameters
    ----------
    path : str or path
        A store or sharded dataset every Ray worker can reach.
    columns : list of str, optional
        Columns to read (frames only).
    parallelism : int
        Read tasks (``-1``: Ray decides). When it asks for more tasks than there are
        fragments and ``rows_per_fragment`` is not given, fragments are made smaller.
    rows_per_fragment : int, optional
        See :meth:`grumpy_arrow.Handle.fragments`.
    **read_args :
        Passed to ``ray.data.read_datasource`` (``concurrency``, ``ray_remote_args``...).

    Returns
    -------
    ray.data.Dataset
        An array store gives one column, ``values``.
    """
    rd = _ray_data()
    source = _class("GrumpyDatasource")(
        path,
        columns=columns,
        rows_per_fragment=rows_per_fragment,
        storage_options=storage_options,
        parallelism=parallelism,
    )
    if parallelism > 0:
        read_args.setdefault("override_num_blocks", parallelism)  # Ray's name since 2.10
    return rd.read_datasource(source, **read_args)


def _read_group(fragments: tuple[Fragment, ...]) -> Iterator[pa.Table]:
    """A read task: one block per fragment."""
    for fragment in fragments:
        yield fragment.to_arrow(unions="lowered")


def _groups(fragments: list[Fragment], parallelism: int) -> list[list[Fragment]]:
    """Consecutive groups of fragments with about the same rows, at most ``parallelism``."""
    count = min(max(parallelism, 1), len(fragments))
    rows = np.cumsum([len(f) for f in fragments])
    targets = rows[-1] * np.arange(1, count) / count
    cuts = np.unique(np.searchsorted(rows, targets, side="left") + 1)
    cuts = cuts[(cuts > 0) & (cuts < len(fragments))]
    edges = [0, *cuts.tolist(), len(fragments)]
    return [fragments[a:b] for a, b in itertools.pairwise(edges)]


# The body of ``GrumpyDatasource``: :func:`_class` mixes in Ray's class on first use.
class _DatasourceBody:
    """A ``ray.data.Datasource`` over a store's fragments (see :func:`read`)."""

    def __init__(
        self,
        path: Any,
        *,
        columns: list[str] | None = None,
        rows_per_fragment: int | None = None,
        storage_options: dict[str, Any] | None = None,
        parallelism: int = -1,
    ) -> None:
        super().__init__()
        handle = open_store(path, storage_options=storage_options)
        if columns is not None:
            handle = handle[list(columns)]
        fragments = handle.fragments(rows_per_fragment)
        if rows_per_fragment is None and 0 < len(fragments) < parallelism:
            fragments = handle.fragments(-(-len(handle) // parallelism))
        self.fragments = fragments
        self.empty = table_of(handle.take(np.zeros(0, dtype=np.int64)), unions="lowered")

    def estimate_inmemory_data_size(self) -> int:
        return sum(f.nbytes for f in self.fragments)

    def get_read_tasks(
        self, parallelism: int, per_task_row_limit: int | None = None, data_context: Any = None
    ) -> list[Any]:
        rd = _ray_data()
        if not self.fragments:
            meta = _metadata([])
            return [
                rd.ReadTask(functools.partial(list, [self.empty]), meta, schema=self.empty.schema)
            ]
        return [
            rd.ReadTask(
                functools.partial(_read_group, tuple(group)),
                _metadata(group),
                schema=self.empty.schema,
                per_task_row_limit=per_task_row_limit,
            )
            for group in _groups(self.fragments, parallelism)
        ]


def _metadata(fragments: list[Fragment]) -> Any:
    """Ray's ``BlockMetadata`` of a read task over ``fragments``."""
    block = require("ray.data.block", what="gr.ray", install=_INSTALL)
    return block.BlockMetadata(
        num_rows=sum(len(f) for f in fragments),
        size_bytes=sum(f.nbytes for f in fragments),
        exec_stats=None,
        input_files=None,
    )


def write(
    ds: Any,
    path: Any,
    *,
    shard_rows: int | None = None,
    schema: Any = None,
    mode: SaveMode = "w",
    preserve_order: bool = True,
    chunk_size: int | None = None,
    compressor: Compressor = "default",
    storage_options: dict[str, Any] | None = None,
    **write_args: Any,
) -> ShardedManifest:
    """Write a Ray Dataset as a sharded dataset (one write task per block bundle).

    Blocks (Arrow tables or pandas frames) are converted as
    :func:`grumpy_arrow.from_arrow` / :func:`grumpy_arrow.from_pandas` do, raising lowered
    unions again; the dataset is consolidated once every task is done.

    Parameters
    ----------
    shard_rows : int, optional
        Rows per shard (Ray bundles at least this many rows per write task); default one
        shard per write task, each given at least 65 536 rows.
    schema : list of levels, optional
        The frames' schema; default the one in the blocks' Arrow metadata.
    mode : {"w", "w-"}
        Replace what is at ``path``, or fail if a store is there.
    preserve_order : bool
        Write rows in the dataset's order (sets the dataset's
        ``context.execution_options.preserve_order``); False lets blocks land in the order
        tasks finish.
    **write_args :
        Passed to ``Dataset.write_datasink`` (``concurrency``, ``ray_remote_args``).

    Returns
    -------
    ShardedManifest
        The consolidated dataset.
    """
    _ray_data()
    if preserve_order:
        ds.context.execution_options.preserve_order = True
    sink = _class("GrumpyDatasink")(
        path,
        shard_rows=shard_rows,
        schema=schema,
        mode=mode,
        chunk_size=chunk_size,
        compressor=compressor,
        storage_options=storage_options,
    )
    ds.write_datasink(sink, **write_args)
    result: ShardedManifest | None = sink.result
    if result is None:  # on_write_complete ran on a copy of the sink
        result = consolidate(sink.location, storage_options=storage_options)
    return result


# The body of ``GrumpyDatasink``: :func:`_class` mixes in Ray's class on first use.
class _DatasinkBody:
    """A ``ray.data.Datasink`` writing a sharded dataset (see :func:`write`)."""

    def __init__(
        self,
        path: Any,
        *,
        shard_rows: int | None = None,
        schema: Any = None,
        mode: SaveMode = "w",
        chunk_size: int | None = None,
        compressor: Compressor = "default",
        storage_options: dict[str, Any] | None = None,
    ) -> None:
        self.path, self.mode, self.schema = path, check_mode(mode), schema
        self.shard_rows = check_shard_rows(shard_rows)
        self.options: dict[str, Any] = {
            "chunk_size": chunk_size,
            "compressor": compressor,
            "storage_options": storage_options,
        }
        self.location = location(path, storage_options)  # what the tasks write to
        self.result: ShardedManifest | None = None

    @property
    def min_rows_per_write(self) -> int:
        # Ray may cut a read into many small blocks: bundle them into fuller shards.
        return self.shard_rows or DEFAULT_SHARD_ROWS

    def on_write_start(self, schema: Any = None) -> None:
        prepare_directory(self.path, self.options["storage_options"], self.mode)

    def write(self, blocks: Any, ctx: Any) -> int:
        parts = (from_partition(b, schema=self.schema) for b in blocks)
        return write_shards(
            self.location,
            ctx.task_idx * SHARD_STRIDE,
            parts,
            shard_rows=self.shard_rows,
            **self.options,
        )

    def on_write_complete(self, write_result: Any) -> None:
        self.result = consolidate(self.location, storage_options=self.options["storage_options"])


# The classes defined on first use: their body, and the ``ray.data`` class they extend.
_BODIES: dict[str, tuple[type, str]] = {
    "GrumpyDatasource": (_DatasourceBody, "Datasource"),
    "GrumpyDatasink": (_DatasinkBody, "Datasink"),
}
_CLASSES: dict[str, type] = {}


def _class(name: str) -> Any:
    """``GrumpyDatasource`` or ``GrumpyDatasink``: its body with Ray's class mixed in."""
    if name not in _CLASSES:
        body, base = _BODIES[name]
        namespace = {"__module__": __name__, "__qualname__": name, "__doc__": body.__doc__}
        bases = (body, getattr(_ray_data(), base))
        # Pickled by name: a worker unpickling one defines it through __getattr__.
        _CLASSES[name] = types.new_class(name, bases, exec_body=lambda ns: ns.update(namespace))
    return _CLASSES[name]


def __getattr__(name: str) -> Any:
    """``GrumpyDatasource`` and ``GrumpyDatasink`` are defined on first use (they subclass
    Ray's classes; pickles name them, and a worker defines them when unpickling)."""
    if name not in _BODIES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return _class(name)
