"""``HDF5Saver``: datasets in an HDF5 file (h5py, the ``hdf5`` extra).

Layout of a dataset named ``name`` (``/`` makes groups):

* rectangular: a resizable dataset ``name`` of shape ``(rows, *shape)``;
* ragged: a group ``name`` with datasets ``values`` ``(total, *shape)`` and ``offsets``
  ``(rows + 1,)`` int64.

Each carries the attributes ``grumpy_saver_form`` and ``grumpy_saver_rows`` (the commit:
written after the data). A resizable dataset written by other code is appended to as
rectangular rows. The file is opened for each call and closed after it, so other
readers see every finished save.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator
from typing import Any

import numpy as np

from grumpy_arrow.errors import SchemaError, StoreError, StoreFormatError
from grumpy_arrow.savers.base import Batch, BufferSaver, Info, default_chunks, parse_dataset_name

__all__ = ["HDF5Saver"]

FORM, ROWS = "grumpy_saver_form", "grumpy_saver_rows"


def _h5py() -> Any:
    try:
        import h5py
    except ImportError as err:  # pragma: no cover - the hdf5 extra is installed in tests
        raise ImportError(
            "HDF5Saver needs h5py: pip install 'grumpy-arrow[hdf5]' (or pip install h5py)"
        ) from err
    return h5py


class HDF5Saver(BufferSaver):
    """Save batches to a dataset of an HDF5 file.

    Parameters
    ----------
    path : str or path
        The HDF5 file (created on first save).
    dataset_name : str
        The dataset's path in the file; ``"experiments/trial_1/data"`` creates groups.
        Several savers may write different datasets of one file (from one process).
    approach : {"append", "overwrite", "update"}
        See :class:`~grumpy_arrow.savers.Saver`.
    ragged : bool, optional
        As for :class:`~grumpy_arrow.savers.NumpySaver`: ``True`` always stores values +
        offsets, ``None`` takes the form of the first batch.

    Notes
    -----
    ``compression`` (``"gzip"``, ``"lzf"``...), ``compression_opts`` and ``chunks`` are
    passed to ``h5py`` when the dataset is created. HDF5 files take one writing process
    at a time: processes write separate files.

    Examples
    --------
    >>> import os, tempfile
    >>> from grumpy_arrow.savers import HDF5Saver
    >>> path = os.path.join(tempfile.mkdtemp(), "project_data.h5")
    >>> HDF5Saver(path, dataset_name="raw_data").save([[1.0, 2.0], [3.0, 4.0]])
    >>> HDF5Saver(path, dataset_name="metadata/ids").save([7, 8])
    >>> HDF5Saver(path, dataset_name="raw_data").load().tolist()
    [[1.0, 2.0], [3.0, 4.0]]
    """

    def __init__(
        self,
        path: Any,
        dataset_name: str = "dataset",
        approach: str = "append",
        *,
        ragged: bool | None = None,
    ) -> None:
        super().__init__(approach=approach, ragged=ragged)
        self.path = os.path.abspath(os.fspath(path))
        self.dataset_name = parse_dataset_name(dataset_name)

    def _where(self) -> str:
        return f"{self.path}::{self.dataset_name}"

    def _key(self) -> str:
        return f"hdf5:{self.path}"  # one HDF5 file: one writer at a time, whatever dataset

    def _lock_path(self) -> str | None:
        return f"{self.path}.lock"

    @contextlib.contextmanager
    def _session(self) -> Iterator[None]:
        """One save opens the file at most once (and closes it at the end)."""
        self._session_file: Any = None
        self._in_session = True
        try:
            yield
        finally:
            self._in_session = False
            if self._session_file is not None:
                self._session_file.close()
            self._session_file = None

    def _file(self, mode: str) -> Any:
        """A context giving the open file: ``"r"`` reads, ``"a"`` may create the file."""
        if not getattr(self, "_in_session", False):
            return self._open(mode)
        fh = self._session_file
        if fh is None or (mode != "r" and fh.mode == "r"):
            if fh is not None:
                fh.close()
            # Inside a save, open for writing at once: the same handle serves the reads.
            fh = self._session_file = self._open("r+" if mode == "r" else mode)
        return contextlib.nullcontext(fh)

    def _open(self, mode: str) -> Any:
        h5py = _h5py()
        try:
            return h5py.File(self.path, mode)
        except FileNotFoundError:
            raise
        except OSError as err:
            raise StoreError(
                f"{self.path}: cannot open the HDF5 file (mode {mode!r}): {err}"
            ) from err

    # -- primitives ---------------------------------------------------------------------

    def _info(self) -> Info | None:
        if not os.path.exists(self.path):
            return None
        with self._file("r") as fh:
            node = fh.get(self.dataset_name)
            if node is None:
                return None
            return self._node_info(node)

    def _node_info(self, node: Any) -> Info:
        h5py = _h5py()
        form = node.attrs.get(FORM)
        if isinstance(form, bytes):
            form = form.decode()
        if form == "ragged":
            values = node["values"]
            return Info(int(node.attrs[ROWS]), True, tuple(values.shape[1:]), values.dtype)
        if isinstance(node, h5py.Dataset) and node.ndim >= 1:
            rows = int(node.attrs[ROWS]) if ROWS in node.attrs else int(node.shape[0])
            return Info(rows, False, tuple(node.shape[1:]), node.dtype)
        raise StoreFormatError(
            f"{self._where()}: this node was not written by a grumpy_arrow saver; choose "
            "another dataset_name or approach 'overwrite'"
        )

    def _create(self, batch: Batch, options: dict[str, Any], *, replace: bool) -> None:
        self._try_options(batch, options)
        with self._file("a") as fh:
            target = self.dataset_name
            swap = replace and self.dataset_name in fh
            if swap:
                target = f"{self.dataset_name}.tmp-{uuid.uuid4().hex[:8]}"
            try:
                self._write_node(fh, target, batch, options)
            except BaseException:
                if target in fh:
                    del fh[target]
                raise
            if swap:
                del fh[self.dataset_name]
                fh.move(target, self.dataset_name)

    def _try_options(self, batch: Batch, options: dict[str, Any]) -> None:
        """Create the dataset's first rows in an in-memory file: h5py's verdict on the
        options (filters, levels, chunks) comes before the real file is touched."""
        sample = Batch(batch.values[:1], None if batch.offsets is None else batch.offsets[:1] * 0)
        with _h5py().File(
            f"probe-{uuid.uuid4().hex}", "w", driver="core", backing_store=False
        ) as fh:
            self._write_node(fh, "probe", sample, options)

    def _write_node(self, fh: Any, target: str, batch: Batch, options: dict[str, Any]) -> None:
        if batch.ragged:
            node = fh.create_group(target)
            self._new(node, "values", batch.values, options)
            self._new(node, "offsets", batch.offsets, {})
            node.attrs[FORM] = "ragged"
        else:
            node = self._new(fh, target, batch.values, options)
            node.attrs[FORM] = "rectangular"
        node.attrs[ROWS] = len(batch)

    def _new(self, parent: Any, name: str, data: Any, options: dict[str, Any]) -> Any:
        kwargs = {k: options[k] for k in ("compression", "compression_opts") if k in options}
        chunks = options.get("chunks")
        if chunks is None:
            # About 1 MiB of rows, not h5py's guess from the first batch: a small first
            # batch would fix tiny chunks for every later append (4-6x slower, measured).
            chunks = default_chunks(tuple(data.shape[1:]), data.dtype)
        try:
            return parent.create_dataset(
                name, data=data, maxshape=(None, *data.shape[1:]), chunks=chunks, **kwargs
            )
        except (ValueError, TypeError) as err:
            raise ValueError(f"{self._where()}: h5py refused the dataset options: {err}") from err

    def _append(self, batch: Batch, info: Info) -> None:
        with self._file("a") as fh:
            node = fh[self.dataset_name]
            if batch.ragged:
                assert batch.offsets is not None
                base = int(node["offsets"][info.rows])
                _put(node["values"], base, batch.values)
                _put(node["offsets"], info.rows + 1, batch.offsets[1:] + base)
            else:
                _put(node, info.rows, batch.values)
            node.attrs[ROWS] = info.rows + len(batch)

    def _write_rows(self, rows: np.ndarray, values: np.ndarray) -> None:
        with self._file("a") as fh:
            fh[self.dataset_name][rows] = values

    def _write_values(self, positions: np.ndarray, values: np.ndarray) -> None:
        with self._file("a") as fh:
            fh[self.dataset_name]["values"][positions] = values

    def _offsets_at(self, rows: np.ndarray) -> np.ndarray:
        with self._file("r") as fh:
            offsets = fh[self.dataset_name]["offsets"][...]
        return np.stack([offsets[rows], offsets[rows + 1]], axis=1).astype(np.int64)

    def _read(self, info: Info) -> tuple[np.ndarray, np.ndarray | None]:
        with self._file("r") as fh:
            node = fh[self.dataset_name]
            if not info.ragged:
                return node[: info.rows], None
            offsets = node["offsets"][: info.rows + 1].astype(np.int64)
            return node["values"][: int(offsets[-1])], offsets


def _put(dataset: Any, start: int, data: np.ndarray) -> None:
    """Write ``data`` at row ``start`` and end the dataset there."""
    try:
        dataset.resize(start + len(data), axis=0)
    except TypeError as err:  # h5py: "Only chunked datasets can be resized"
        raise SchemaError(
            f"{dataset.file.filename}::{dataset.name}: cannot append, the dataset is not "
            f"resizable ({err}); rewrite it with approach 'overwrite'"
        ) from err
    if len(data):
        dataset[start:] = data
