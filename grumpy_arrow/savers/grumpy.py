"""``GrumpySaver``: ragged, union and dataframe results in a grumpy store.

``append`` is the store's true append (only the new rows are written; the manifest is
its atomic commit). ``overwrite``, ``update`` and the first save of a local store write a
complete new store beside the target (``.<name>.new-<hex>``) and swap it in with
:func:`~grumpy_arrow.storage.atomic.swap_in` (one ``renameat2`` exchange on Linux), so a
failure or a kill leaves the old store, whole, or the new one. Every save and load first
calls :func:`~grumpy_arrow.storage.atomic.recover` (a swap cut between its two renames,
where there is no exchange), and a replace first sweeps what killed replaces left beside
the store. ``update`` may change row lengths and nesting (it costs one read and one write of
the store: for frequent updates of rectangular data, ``ZarrSaver`` rewrites only the
touched chunks).
"""

from __future__ import annotations

import os
import shutil
from typing import Any

import numpy as np

from grumpy_arrow import layout as lay
from grumpy_arrow._typing import Approach
from grumpy_arrow.array import GrumpyArray
from grumpy_arrow.compute.gather import leaf_values
from grumpy_arrow.dtypes import can_cast
from grumpy_arrow.errors import DatasetNotFoundError, SchemaError
from grumpy_arrow.frame.dataframe import DataFrame
from grumpy_arrow.functions import concat
from grumpy_arrow.savers.base import Saver, _target_lock, parse_indices, process_lock
from grumpy_arrow.savers.files import translate_no_space
from grumpy_arrow.storage import api, stores
from grumpy_arrow.storage.atomic import recover, sibling, swap_in, sweep
from grumpy_arrow.storage.manifest import MANIFEST_NAME
from grumpy_arrow.storage.widening import first_inexact, holds_values
from grumpy_arrow.storage.zarr import LeafStore

__all__ = ["GrumpySaver"]


class GrumpySaver(Saver):
    """Save arrays, dataframes (and anything ``gr.save`` takes) to a grumpy store.

    Parameters
    ----------
    path : str or path
        The store (a directory; fsspec URLs work for ``append``).
    approach : {"append", "overwrite", "update"}
        See :class:`~grumpy_arrow.savers.Saver`.

    Notes
    -----
    Options: ``dtype`` (cast an array batch), ``compression`` (``"auto"``, the default,
    ``"none"``, ``"zstd"``, ``"blosc"``) and ``chunks`` (values per inner chunk, or a chunk
    shape whose product is)
    apply when the store is created. Rectangular batches are stored as variable lists
    (fixed axes become ``var``), so a later batch may bring rows of another length, as
    results of a run often do; ``load()`` gives a ``GrumpyArray`` (``.to_numpy()`` makes
    it a NumPy array again). Save with :func:`grumpy_arrow.save` to keep fixed axes.

    Results whose types appear late widen the store (docs/storage.md, "Appends that
    widen types"): scalar results after list ones (or lists after scalars) make a
    scalar-or-list union, floats after integers make the column float (integers exact in
    it, else ``SchemaError`` and nothing written), and results after empty lists give
    them their first real dtype. A batch is first cast to the store's dtype where
    ``same_kind`` casting allows and no value changes (int64 results into a float32
    store), as the other savers do.

    Examples
    --------
    >>> import grumpy_arrow as gr
    >>> from grumpy_arrow.savers import GrumpySaver
    >>> saver = GrumpySaver("memory://ids.gr")
    >>> saver.save(["P1", ["P2-1", "P2-2"]])
    >>> saver.save([None, "P4"])
    >>> saver.load().to_list()
    ['P1', ['P2-1', 'P2-2'], None, 'P4']
    >>> GrumpySaver("memory://ids.gr", approach="update").save([["a", "b", "c"]], indices=[0])
    >>> gr.load("memory://ids.gr").to_list()
    [['a', 'b', 'c'], ['P2-1', 'P2-2'], None, 'P4']
    >>> late = GrumpySaver("memory://late.gr")
    >>> late.save([[1, 2], []])
    >>> late.save([3.5])
    >>> late.load().to_list()
    [[1.0, 2.0], [], 3.5]
    """

    def __init__(self, path: Any, approach: Approach = "append") -> None:
        super().__init__(approach=approach)
        self.path = os.fspath(path) if isinstance(path, os.PathLike) else str(path)
        self._local = "://" not in self.path or self.path.startswith("file://")
        if self._local:
            self.path = os.path.abspath(self.path.removeprefix("file://"))

    def save(self, data: Any, indices: Any = None, **kwargs: Any) -> None:
        """Write ``data`` (array, frame, ``pa.Table``, pandas, lists) by the approach.

        Raises
        ------
        DatasetNotFoundError
            For ``update`` without a store.
        OutOfBoundsError, SchemaError
            For bad indices, or rows that do not fit the store; nothing is written.
        """
        approach = self._check_call(indices, kwargs)
        if kwargs.get("compression_opts") is not None:
            raise ValueError(f"{self.path}: GrumpySaver takes no compression_opts")
        batch = _variable(stores.as_batch(data))
        if kwargs.get("dtype") is not None:
            if not hasattr(batch, "astype"):
                raise TypeError(f"{self.path}: dtype= applies to array batches, not frames")
            batch = batch.astype(kwargs["dtype"])
        lock = f"{self.path}.saver.lock" if self._local else None
        with (
            translate_no_space(self.path),
            self._lock,
            _target_lock(f"grumpy:{self.path}"),
            process_lock(lock, self.path),
        ):
            if self._local:
                recover(self.path)
            if approach != "overwrite" and self._exists():
                batch = self._cast_like_store(batch)
            if approach == "append":
                self._append_batch(batch, kwargs)
            elif approach == "overwrite":
                self._replace(batch, kwargs)
            else:
                self._update_rows(batch, indices)

    def _cast_like_store(self, batch: Any) -> Any:
        """Cast array columns to the store's dtypes where NumPy's ``same_kind`` allows it
        (int64 results into a float32 store) and nothing changes value (integers beyond
        what the float holds exactly are left to the store, which widens or refuses).
        Columns the store holds no value of yet (all empty lists) are not cast: they take
        the batch's dtype. Other differences are left for the store's own check."""
        template = api.open_store(self.path, cache="none")[0:0]
        manifest = stores.read_manifest(LeafStore(self.path, read_only=True))
        lengths = {name: spec.length for name, spec in manifest.leaves.items()}
        typed = {c.name for c in manifest.columns if holds_values(c.layout, lengths)}
        if isinstance(batch, GrumpyArray) and isinstance(template, GrumpyArray):
            return _cast(batch, template) if typed else batch
        if isinstance(batch, DataFrame) and isinstance(template, DataFrame):
            columns = {
                name: _cast(batch[name], template[name]) if name in typed else batch[name]
                for name in batch.columns
            }
            return DataFrame(columns, batch.schema, len(batch))
        return batch

    def _save_options(self, options: dict[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if options.get("compression") is not None:
            out["compressor"] = options["compression"]
        if options.get("chunks") is not None:
            # Leaves are 1-D: a chunk shape (rows, *row) means rows x row elements.
            out["chunk_size"] = int(np.prod(options["chunks"], dtype=np.int64))
        return out

    def _exists(self) -> bool:
        return LeafStore(self.path).exists(MANIFEST_NAME)

    def _append_batch(self, batch: Any, options: dict[str, Any]) -> None:
        if not len(batch):
            return
        if self._exists():
            api.append(batch, self.path)
        elif self._local:
            self._replace_with(batch, self._save_options(options))
        else:
            api.save(batch, self.path, **self._save_options(options))

    def _replace(self, batch: Any, options: dict[str, Any]) -> None:
        """Write a whole new store beside the old one, then swap (local paths)."""
        self._replace_with(batch, self._save_options(options))

    def _update_rows(self, batch: Any, indices: Any) -> None:
        if not self._exists():
            raise DatasetNotFoundError(
                f"{self.path}: update needs an existing store; there is none (save with "
                "approach 'append' or 'overwrite' first)"
            )
        manifest = stores.read_manifest(LeafStore(self.path, read_only=True))
        old = api.load(self.path)
        rows = parse_indices(indices, len(old), len(batch), self.path)
        if not len(rows):
            return
        try:
            combined = concat([old, batch])
        except (ValueError, TypeError) as err:
            raise SchemaError(f"{self.path}: the update rows do not fit the store: {err}") from err
        if _types(combined) != _types(old):
            raise SchemaError(
                f"{self.path}: the update rows change the store's types from {_types(old)} "
                f"to {_types(combined)}; update keeps types (use approach 'overwrite')"
            )
        order = np.arange(len(old), dtype=np.int64)
        order[rows] = len(old) + np.arange(len(batch), dtype=np.int64)
        options = {"compressor": manifest.compressor, "chunk_size": manifest.chunk_size}
        if manifest.chunk_dim is not None:
            options["chunk_dim"] = manifest.chunk_dim
        self._replace_with(combined[order], options)

    def _replace_with(self, obj: Any, save_options: dict[str, Any]) -> None:
        """Write a complete store to a sibling directory, then swap it in (local paths)."""
        if not self._local:
            api.save(obj, self.path, **save_options)
            return
        sweep(self.path)  # what killed replaces left (we hold the saver's lock)
        staged = sibling(self.path, "new")
        try:
            api.save(obj, staged, **save_options)
            swap_in(staged, self.path)
        except BaseException:
            shutil.rmtree(staged, ignore_errors=True)
            raise

    def load(self) -> Any:
        """The store's content (an array or a frame).

        Raises
        ------
        DatasetNotFoundError
            If nothing has been saved yet.
        """
        if self._local:
            recover(self.path)
        if not self._exists():
            raise DatasetNotFoundError(f"{self.path}: there is no store to load")
        return api.load(self.path)


def _variable(batch: Any) -> Any:
    """The batch with fixed axes made variable lists (see the class notes)."""
    if isinstance(batch, GrumpyArray):
        return GrumpyArray._wrap(lay.variable(batch.node))
    if isinstance(batch, DataFrame):
        columns = {name: _variable(batch[name]) for name in batch.columns}
        return DataFrame(columns, batch.schema, len(batch))
    return batch


def _cast(column: Any, like: Any) -> Any:
    """``column`` as ``like``'s dtype if ``same_kind`` casting allows it and every value
    stays the same (see :meth:`GrumpySaver._cast_like_store`)."""
    if column.dtype == like.dtype or not can_cast(column.dtype, like.dtype, "same_kind"):
        return column
    if first_inexact(leaf_values(column.node), like.dtype.name) is not None:
        return column
    return column.astype(like.dtype)


def _types(obj: Any) -> Any:
    """An array's type, or a frame's column types (without the row count)."""
    if hasattr(obj, "columns"):
        return {name: obj[name].type.split(" * ", 1)[1] for name in obj.columns}
    return str(obj.type).split(" * ", 1)[1]
