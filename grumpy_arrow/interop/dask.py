"""Dask: stores as ``dask.dataframe`` collections, and collections written as sharded datasets.

``read`` builds a collection with ``dd.from_map`` over the store's fragments (one
partition per fragment, see :mod:`grumpy_arrow.storage.fragments`), with known divisions:
the index is the global row number. Column selections are pushed into the reads (Dask's
optimizer passes ``columns=`` to each partition), so ``ddf[["a"]]`` reads only ``a``.

``write`` writes every partition as its own shard(s) in parallel, on whatever scheduler is
active (a ``distributed.Client`` included), then consolidates. Rows keep the collection's
order. A collection read with ``read`` (either ``unions`` form) is written back exactly:
dtypes, nulls, nested lists and unions.

Needs the ``dask`` extra: ``pip install 'grumpy_arrow[dask]'``.

Examples
--------
>>> import os, tempfile, grumpy_arrow as gr
>>> root = tempfile.mkdtemp()
>>> frame = gr.dataframe({"mol_go": [1, [2, 3], 4, [5]], "atom_z": [[6], [], [7, 8], [9]]},
...                      schema=["mol", "atom"])
>>> gr.save(frame, os.path.join(root, "in.gr"), chunk_size=2, shard_size=2)
>>> ddf = gr.dask.read(os.path.join(root, "in.gr"))
>>> ddf.npartitions, ddf.divisions, list(ddf.columns)
(2, (0, 2, 3), ['mol_go', 'mol_go__is_scalar', 'atom_z'])
>>> ddf["mol_go__is_scalar"].compute().tolist()
[True, False, True, False]
>>> info = gr.dask.write(ddf, os.path.join(root, "out.gr"))
>>> [(s.name, s.rows) for s in info.shards]
[('shard-000000', 2), ('shard-000001', 2)]
>>> gr.load(os.path.join(root, "out.gr")).to_dict() == frame.to_dict()
True
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from grumpy_arrow._optional import require
from grumpy_arrow._typing import Compressor, DaskUnions, SaveMode
from grumpy_arrow.compute.lowering import FLAG_SUFFIX
from grumpy_arrow.interop.partitions import (
    KIND_ATTR,
    SHARD_STRIDE,
    check_shard_rows,
    from_partition,
    prepare_directory,
    to_partition,
    write_shards,
)
from grumpy_arrow.pandas.convert import SCHEMA_ATTR
from grumpy_arrow.pandas.dtype import GrumpyDtype
from grumpy_arrow.storage.api import open_store
from grumpy_arrow.storage.fragments import Fragment
from grumpy_arrow.storage.manifest import ShardedManifest
from grumpy_arrow.storage.shards import consolidate

__all__ = ["read", "read_fragment", "write"]

_REGISTERED: list[bool] = []


def _dask() -> Any:
    """``dask.dataframe`` (with ``GrumpyDtype`` taught to Dask's meta machinery)."""
    dd = require("dask.dataframe", what="gr.dask", install="'grumpy_arrow[dask]'")
    if not _REGISTERED:
        make_array_nonempty = dd.extensions.make_array_nonempty

        # Dask builds non-empty stand-ins of ``meta`` to infer the output of user functions;
        # it knows no values of a third-party extension dtype, so give it two nulls.
        make_array_nonempty.register(GrumpyDtype)(_nonempty)
        _REGISTERED.append(True)
    return dd


def _nonempty(dtype: Any) -> Any:
    return pd.array([None, None], dtype=dtype)


def read(
    path: Any,
    columns: list[str] | None = None,
    *,
    unions: DaskUnions = "lowered",
    rows_per_fragment: int | None = None,
    storage_options: dict[str, Any] | None = None,
) -> Any:
    """A store (or sharded dataset) as a ``dask.dataframe.DataFrame``, one partition per
    fragment, indexed by global row number (known divisions).

    Parameters
    ----------
    path : str or path
        A store or a sharded dataset (local or an fsspec URL).
    columns : list of str, optional
        Columns to read (frames only); default all.
    unions : {"lowered", "grumpy"}
        ``"lowered"``: every column a ``pd.ArrowDtype``, a union column ``c`` as a list
        column plus a boolean ``c__is_scalar`` column (docs/interop.md). ``"grumpy"``:
        partitions as ``df.to_pandas()`` gives them (``GrumpyDtype`` for nested and union
        columns, nullable dtypes for flat ones).
    rows_per_fragment : int, optional
        Rows per partition (see :meth:`grumpy_arrow.Handle.fragments`); default one
        chunk of rows.

    Returns
    -------
    dask.dataframe.DataFrame
        An array store gives one column, ``values``.

    Raises
    ------
    StoreFormatError
        If ``path`` holds no store.
    ColumnNotFoundError
        For a column the store does not have.
    ValueError
        For an unknown ``unions`` or a bad ``rows_per_fragment``.
    ImportError
        Without Dask.
    """
    dd = _dask()
    if unions not in ("lowered", "grumpy"):
        raise ValueError(f"unions must be 'lowered' or 'grumpy', got {unions!r}")
    handle = open_store(path, storage_options=storage_options)
    if columns is not None:
        handle = handle[list(columns)]
    fragments = handle.fragments(rows_per_fragment)
    meta = to_partition(handle.take(np.zeros(0, dtype=np.int64)), unions=unions)
    if not fragments:
        return dd.from_pandas(meta, npartitions=1)
    names = [str(c) for c in meta.columns]
    own = set(handle.columns) if handle.kind == "dataframe" else set()
    sources = {n: n if n in own else n.removesuffix(FLAG_SUFFIX) for n in names}
    divisions = (*[f.start for f in fragments], fragments[-1].stop - 1)
    return dd.from_map(
        read_fragment,
        fragments,
        unions=unions,
        sources=sources,
        meta=meta,
        divisions=divisions,
        label="grumpy-read",
    )


def read_fragment(
    fragment: Fragment,
    columns: list[str] | None = None,
    *,
    unions: DaskUnions = "lowered",
    sources: dict[str, str] | None = None,
) -> pd.DataFrame:
    """One partition: the fragment's rows as pandas (the task of :func:`read`).

    ``columns`` are partition columns (a flags column included); ``sources`` maps each to
    the store column it comes from.
    """
    if columns is None or fragment.kind == "array":
        part = to_partition(fragment.to_grumpy(), unions=unions, start=fragment.start)
        return part if columns is None else part[list(columns)]
    sources = sources or {}
    wanted = list(dict.fromkeys(sources.get(c, c) for c in columns))
    part = to_partition(fragment.to_grumpy(wanted), unions=unions, start=fragment.start)
    return part[list(columns)]


def write(
    ddf: Any,
    path: Any,
    *,
    shard_rows: int | None = None,
    schema: Any = None,
    mode: SaveMode = "w",
    chunk_size: int | None = None,
    compressor: Compressor = "default",
    storage_options: dict[str, Any] | None = None,
) -> ShardedManifest:
    """Write a Dask DataFrame as a sharded dataset, one task per partition, in parallel.

    Partition ``k`` becomes shard ``k`` (with ``shard_rows``: shards ``k * 10000``,
    ``k * 10000 + 1``, ... of at most ``shard_rows`` rows), so the dataset's rows are the
    collection's rows in order; then the dataset is consolidated. Partitions are converted
    with :func:`grumpy_arrow.from_pandas` rules (``GrumpyDtype``, ``pd.ArrowDtype``,
    nullable and NumPy columns; the index is dropped), and lowered unions (``c`` plus
    ``c__is_scalar``) become union columns again.

    Parameters
    ----------
    ddf : dask.dataframe.DataFrame
    path : str or path
        The dataset directory (local or an fsspec URL every worker can reach).
    shard_rows : int, optional
        Rows per shard; default one shard per partition.
    schema : list of levels, optional
        The frames' schema; default the one :func:`read` recorded in ``ddf.attrs``.
    mode : {"w", "w-"}
        Replace what is at ``path``, or fail if a store is there.
    chunk_size, compressor :
        As for :func:`grumpy_arrow.save`.

    Returns
    -------
    ShardedManifest
        The consolidated dataset: ``rows`` and the ``shards`` with their rows.

    Raises
    ------
    SchemaError
        If partitions hold different columns or types (the shards disagree).
    StoreError
        For ``mode="w-"`` on an existing store.
    """
    dd = _dask()
    if isinstance(ddf, dd.Series):
        ddf = ddf.to_frame()
    if not isinstance(ddf, dd.DataFrame):
        raise TypeError(f"write needs a dask DataFrame, got {type(ddf).__name__}")
    shard_rows = check_shard_rows(shard_rows)
    attrs = ddf._meta.attrs
    url = prepare_directory(path, storage_options, mode)
    task = {
        "path": url,
        "stride": 1 if shard_rows is None else SHARD_STRIDE,
        "shard_rows": shard_rows,
        "schema": schema if schema is not None else attrs.get(SCHEMA_ATTR),
        "kind": attrs.get(KIND_ATTR),
        "chunk_size": chunk_size,
        "compressor": compressor,
        "storage_options": storage_options,
    }
    rows = ddf.map_partitions(
        _write_partition,
        **task,
        meta=pd.Series([], dtype="int64"),
        enforce_metadata=False,
        align_dataframes=False,
    )
    rows.compute()
    return consolidate(url, storage_options=storage_options)


def _write_partition(
    part: pd.DataFrame,
    *,
    partition_info: dict[str, Any] | None = None,
    path: str,
    stride: int,
    shard_rows: int | None,
    schema: Any,
    kind: str | None,
    **options: Any,
) -> pd.Series:
    """Task of :func:`write`: partition ``number`` as shards ``number * stride``, ..."""
    number = 0 if partition_info is None else int(partition_info["number"])
    data = from_partition(part, schema=schema, kind=kind)
    rows = write_shards(
        path, number * stride, [data], shard_rows=shard_rows, limit=stride, **options
    )
    return pd.Series([rows], dtype="int64")
