"""``HDF5Saver``: datasets in an HDF5 file (h5py, the ``hdf5`` extra).

Layout of a dataset named ``name`` (``/`` makes groups):

* rectangular: a resizable dataset ``name`` of shape ``(rows, *shape)``;
* ragged: a group ``name`` with datasets ``values`` ``(total, *shape)`` and ``offsets``
  ``(rows + 1,)`` int64;
* strings (``str`` or ``bytes`` of any length): a group ``name`` with ``value_offsets``
  ``(strings + 1,)`` int64 and ``data`` uint8 (string ``j`` is
  ``data[value_offsets[j]:value_offsets[j + 1]]``, UTF-8 for text), plus ``offsets`` when
  ragged, and the attributes ``grumpy_saver_dtype`` (``"text"`` or ``"binary"``) and
  ``grumpy_saver_shape`` (the element shape). An update rewrites them from the first
  updated string on.

Each carries the attributes ``grumpy_saver_form`` and ``grumpy_saver_rows`` (the commit:
written after the data). A resizable dataset written by other code is appended to as
rectangular rows. The file is opened for each call and closed after it, so other
readers see every finished save.

What a kill or a full disk leaves:

* **overwrite** (and the creation of a dataset) and **update** work on a copy of the file
  (a reflink where the filesystem has them), flushed and closed, then renamed over the
  file: a kill or an error leaves the old file, whole; the staged copy
  (``.<name>.h5.new-<hex>``) is removed by the next overwrite or update.
* **append** writes in place: data, flush, the row count, flush. The free space is
  checked before writing, the file is written without HDF5's chunk cache (a failed write
  raises at once instead of when h5py frees the dataset, where it is only printed) and
  each flush is checked, so a full disk raises ``StoreError`` instead of acknowledging
  rows it could not write. An HDF5 file open for writing is not crash-safe: a kill
  mid-append can damage it (keep one file per process, and copies of what matters).
"""

from __future__ import annotations

import contextlib
import dataclasses
import errno
import os
import uuid
from collections.abc import Iterator
from typing import Any

import numpy as np

from grumpy_arrow._optional import require
from grumpy_arrow._typing import Approach
from grumpy_arrow.errors import SchemaError, StoreError, StoreFormatError
from grumpy_arrow.savers import text
from grumpy_arrow.savers.base import BufferSaver, parse_dataset_name
from grumpy_arrow.savers.batch import Batch, Info, default_chunks, first_chunk
from grumpy_arrow.savers.files import check_room, copy_file, is_no_space, sweep_beside
from grumpy_arrow.storage.atomic import fsync_dir, fsync_file, sibling

__all__ = ["HDF5Saver"]

FORM, ROWS = "grumpy_saver_form", "grumpy_saver_rows"
DTYPE, SHAPE = "grumpy_saver_dtype", "grumpy_saver_shape"  # string datasets
METADATA_ROOM = 1 << 20  # bytes of free space kept for HDF5's own metadata on a save


def _h5py() -> Any:
    return require("h5py", what="HDF5Saver", install="'grumpy_arrow[hdf5]'")


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
    passed to ``h5py`` when the dataset is created (for strings: compression to their
    ``data`` bytes, the first entry of ``chunks`` to their ``value_offsets``). HDF5
    files take one writing process at a time: processes write separate files.

    Examples
    --------
    >>> import os, tempfile
    >>> from grumpy_arrow.savers import HDF5Saver
    >>> path = os.path.join(tempfile.mkdtemp(), "project_data.h5")
    >>> HDF5Saver(path, dataset_name="raw_data").save([[1.0, 2.0], [3.0, 4.0]])
    >>> HDF5Saver(path, dataset_name="metadata/ids").save([7, 8])
    >>> HDF5Saver(path, dataset_name="raw_data").load().tolist()
    [[1.0, 2.0], [3.0, 4.0]]
    >>> HDF5Saver(path, dataset_name="labels").save(["cat", "", "crème brûlée"])
    >>> HDF5Saver(path, dataset_name="labels").load().tolist()
    ['cat', '', 'crème brûlée']
    """

    def __init__(
        self,
        path: Any,
        dataset_name: str = "dataset",
        approach: Approach = "append",
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
        self._session_path = self.path  # a staged copy while copy-on-write
        self._in_session = True
        try:
            yield
        except RuntimeError as err:  # h5py's word for some failed writes
            self._drop_session_file()
            if is_no_space(err):
                raise self._write_error(self.path, "write", err) from err
            raise
        except BaseException:
            self._drop_session_file()
            raise
        else:
            self._close_session_file()
        finally:
            self._in_session = False
            self._session_file = None
            self._session_path = self.path

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
        """Open the file (inside a copy-on-write: the staged copy, created if need be)."""
        path = self._session_path if getattr(self, "_in_session", False) else self.path
        if mode == "r+" and path != self.path and not os.path.exists(path):
            mode = "a"
        # No raw-data chunk cache when writing: HDF5 writes a chunk at once, so a failed
        # write (a full disk) raises here, not in the dataset's __dealloc__ where h5py
        # can only print it (the save would be acknowledged). Each save reopens the file,
        # so the cache would be flushed at its end anyway.
        options = {} if mode == "r" else {"rdcc_nbytes": 0}
        try:
            return _h5py().File(path, mode, **options)
        except FileNotFoundError:
            raise
        except OSError as err:
            raise StoreError(f"{path}: cannot open the HDF5 file (mode {mode!r}): {err}") from err

    def _flush(self, fh: Any) -> None:
        """``fh.flush()``, checked: h5py reports a failed write only here (or at close)."""
        try:
            fh.flush()
        except (OSError, RuntimeError) as err:
            raise self._write_error(fh.filename, "flush", err) from err

    def _write_error(self, path: str, step: str, err: BaseException) -> StoreError:
        if is_no_space(err):
            return StoreError(
                errno.ENOSPC,
                f"{self._where()}: the save needs free space on the disk; got ENOSPC (no "
                f"space left on the device) at the {step} of {path}. The save did not "
                "complete: free some space and save again",
            )
        return StoreError(f"{self._where()}: expected the {step} of {path} to succeed; got {err}")

    def _close_session_file(self) -> None:
        """Flush (checked) and close the session's file."""
        fh, self._session_file = self._session_file, None
        if fh is None:
            return
        try:
            self._flush(fh)
        except BaseException:
            _close_quietly(fh)
            raise
        path = fh.filename
        try:
            fh.close()
        except (OSError, RuntimeError) as err:
            _UNCLOSABLE.append(fh)  # see _close_quietly
            raise self._write_error(path, "close", err) from err

    def _drop_session_file(self) -> None:
        fh, self._session_file = self._session_file, None
        if fh is not None:
            _close_quietly(fh)

    @contextlib.contextmanager
    def _copy_on_write(self, needed: int) -> Iterator[None]:
        """Point the session at a copy of the file; on success the copy replaces the file.

        A kill or an error anywhere leaves the old file as it was (the staged copy is
        removed here on an error, or by the next save after a kill).
        """
        self._drop_session_file()
        sweep_beside(self.path)  # the staged copy of a killed overwrite or update
        exists = os.path.exists(self.path)
        check_room(self.path, needed + (os.path.getsize(self.path) if exists else 0), self._where())
        staged = sibling(self.path, "new")
        try:
            if exists:
                copy_file(self.path, staged)
            self._session_path = staged
            yield
            self._close_session_file()
            fsync_file(staged)
            os.replace(staged, self.path)
            fsync_dir(os.path.dirname(self.path))
        except BaseException:
            self._drop_session_file()
            with contextlib.suppress(FileNotFoundError):
                os.remove(staged)
            raise
        finally:
            self._session_path = self.path

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
        if DTYPE in node.attrs:
            dtype = text.from_name(node.attrs[DTYPE], self._where())
            shape = tuple(int(n) for n in node.attrs.get(SHAPE, ()))
            return Info(int(node.attrs[ROWS]), form == "ragged", shape, dtype)
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
        """Write the dataset into a copy of the file, then rename the copy over it."""
        self._try_options(batch, options)
        with self._copy_on_write(_size_bound(batch)), self._file("a") as fh:
            if self.dataset_name in fh:
                del fh[self.dataset_name]
            self._write_node(fh, self.dataset_name, batch, options)

    def _update(self, batch: Batch, rows: np.ndarray, info: Info) -> None:
        """Write the rows into a copy of the file, then rename the copy over it."""
        with self._copy_on_write(_size_bound(batch)):
            super()._update(batch, rows, info)

    def _try_options(self, batch: Batch, options: dict[str, Any]) -> None:
        """Create the dataset's first rows in an in-memory file: h5py's verdict on the
        options (filters, levels, chunks) comes before the real file is touched."""
        offsets = None if batch.offsets is None else batch.offsets[:1] * 0
        sample = dataclasses.replace(batch, values=batch.values[:1], offsets=offsets)
        with _h5py().File(
            f"probe-{uuid.uuid4().hex}", "w", driver="core", backing_store=False
        ) as fh:
            self._write_node(fh, "probe", sample, options)

    def _write_node(self, fh: Any, target: str, batch: Batch, options: dict[str, Any]) -> None:
        if text.is_variable(batch.dtype):
            node = fh.create_group(target)
            value_offsets, data = batch.strings
            chunks = options.get("chunks")
            first = {} if chunks is None else {"chunks": first_chunk(chunks)}
            self._new(node, "value_offsets", value_offsets, first)
            self._new(node, "data", data, {k: v for k, v in options.items() if k != "chunks"})
            if batch.offsets is not None:
                self._new(node, "offsets", batch.offsets, {})
            node.attrs[FORM] = "ragged" if batch.ragged else "rectangular"
            node.attrs[DTYPE] = text.name_of(batch.dtype)
            node.attrs[SHAPE] = np.asarray(batch.shape, dtype=np.int64)
        elif batch.ragged:
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
        """In place: data, flush, then the row count (the commit), flush.

        The free space is checked first: HDF5 that meets a full disk leaves objects that
        cannot be closed (h5py/h5py#914, #2160), so the save should not get there.
        """
        check_room(self.path, _size_bound(batch), self._where())
        with self._file("a") as fh:
            self._append_data(fh, batch, info)
            self._flush(fh)
            fh[self.dataset_name].attrs[ROWS] = info.rows + len(batch)
            self._flush(fh)

    def _append_data(self, fh: Any, batch: Batch, info: Info) -> None:
        """Write the rows after the committed ones (the datasets are released on return:
        a failed flush then holds no dataset object, see :func:`_close_quietly`)."""
        node = fh[self.dataset_name]
        if text.is_variable(info.dtype):
            text.append(node, batch, info, _put)
        elif batch.ragged:
            assert batch.offsets is not None
            base = int(node["offsets"][info.rows])
            _put(node["values"], base, batch.values)
            _put(node["offsets"], info.rows + 1, batch.offsets[1:] + base)
        else:
            _put(node, info.rows, batch.values)

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
            offsets = node["offsets"][: info.rows + 1].astype(np.int64) if info.ragged else None
            if text.is_variable(info.dtype):
                return self._read_text(info, offsets), offsets
            if offsets is None:
                return node[: info.rows], None
            return node["values"][: int(offsets[-1])], offsets

    def _read_strings(self, info: Info, first: int) -> tuple[np.ndarray, np.ndarray]:
        with self._file("r") as fh:
            node = fh[self.dataset_name]
            elements = int(node["offsets"][info.rows]) if info.ragged else info.rows
            stop = elements * text.element_size(info.shape)
            value_offsets = node["value_offsets"][first : stop + 1].astype(np.int64)
            data = node["data"][int(value_offsets[0]) : int(value_offsets[-1])]
        return value_offsets, data

    def _write_strings(self, first: int, value_offsets: np.ndarray, data: np.ndarray) -> None:
        """In the copy of the file an update works on (see :meth:`_update`)."""
        with self._file("a") as fh:
            node = fh[self.dataset_name]
            _put(node["data"], int(value_offsets[0]), data)
            _put(node["value_offsets"], first, value_offsets)


def _size_bound(batch: Batch) -> int:
    """Bytes a save of ``batch`` may need on the disk: twice its data (HDF5 allocates
    whole chunks) and a mebibyte for a partly filled chunk and metadata."""
    return 2 * batch.nbytes + METADATA_ROOM


_UNCLOSABLE: list[Any] = []


def _close_quietly(fh: Any) -> None:
    """Close a file whose write already failed (the first error is the one reported).

    A file HDF5 could not flush (a full disk) cannot be closed either, and h5py crashes
    when such an object is freed (h5py/h5py#914, #2160): it is kept here instead, so the
    process lives on to handle the error.
    """
    try:
        fh.close()
    except Exception:  # any failure: keep the object, never free it
        _UNCLOSABLE.append(fh)


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
