"""``NumpySaver``: a ``.npy`` file grown in place; ragged data adds an offsets file.

An append writes the new rows after the committed ones and then rewrites the header's
shape in place: the existing data is never read or rewritten, so the k-th append costs
the same as the first. The header is written with room for an axis-0 length of 21
digits (as NumPy's own writer does), so it never has to move. A finished file is a plain
``.npy``: ``np.load`` reads it.

Ragged data: ``<stem>.npy`` holds the values ``(total, *shape)`` and
``<stem>.offsets.npy`` holds the ``rows + 1`` int64 offsets; row ``i`` is
``values[offsets[i]:offsets[i + 1]]``. The offsets file's header is the commit.

Overwrite and update are all or nothing:

* **overwrite** stages the new file (or pair) beside the old one, then writes a commit
  record ``.<name>.npy.commit`` naming the staged files and their final names, then
  renames them in (:func:`~grumpy_arrow.savers.files.commit_files`). A kill before the
  record leaves the old files; after it, the next open finishes the renames.
* **update** first writes the rows it will change, as they are, to an undo journal
  ``.<name>.npy.undo`` (flushed to the disk), then writes the rows in place, then removes
  the journal. A kill in between leaves the journal: the next open writes the old rows
  back.

A reader (``load``) that finds a record or a journal takes the writer's lock to finish
it, so it never repairs a save that is still running.

Strings are stored as NumPy's fixed-width strings (``<U5``: ``np.load`` reads them; the
width is the first batch's longest string). A later string longer than the width is
refused with a ``SchemaError`` (NumPy would cut it); ``ZarrSaver`` and ``HDF5Saver`` store
strings of any length.
"""

from __future__ import annotations

import contextlib
import functools
import os
from typing import Any, BinaryIO

import numpy as np

from grumpy_arrow._typing import Approach
from grumpy_arrow.errors import SchemaError, StoreFormatError
from grumpy_arrow.savers import text
from grumpy_arrow.savers.base import BufferSaver, process_lock
from grumpy_arrow.savers.batch import Batch, Info
from grumpy_arrow.savers.files import (
    commit_files,
    finish_commit,
    recover_under_lock,
    stage_file,
    sweep_beside,
)
from grumpy_arrow.storage.atomic import fsync_dir, fsync_file

__all__ = ["NumpySaver", "offsets_path"]

MAGIC = b"\x93NUMPY"
GROWTH_DIGITS = 21  # room for any axis-0 length: the header never moves on append


def offsets_path(path: str) -> str:
    """The offsets file next to a ragged ``.npy``: ``a.npy`` → ``a.offsets.npy``."""
    stem = path[:-4] if path.endswith(".npy") else path
    return f"{stem}.offsets.npy"


def _header_text(dtype: np.dtype[Any], shape: tuple[int, ...]) -> str:
    descr = np.lib.format.dtype_to_descr(dtype)
    return f"{{'descr': {descr!r}, 'fortran_order': False, 'shape': {shape!r}, }}"


def _header(dtype: np.dtype[Any], shape: tuple[int, ...], size: int | None = None) -> bytes:
    """A version-1.0 header of ``size`` bytes (default: the size that fits any length)."""
    text = _header_text(dtype, shape)
    if size is None:
        widest = len(text) + GROWTH_DIGITS + 1
        size = -(-(len(MAGIC) + 4 + widest) // 64) * 64
    room = size - len(MAGIC) - 4 - 1
    if len(text) > room or room > 0xFFFF:
        raise StoreFormatError(
            f"the .npy header for shape {shape} does not fit its {size}-byte slot"
        )
    body = text.ljust(room) + "\n"
    return MAGIC + bytes([1, 0]) + (room + 1).to_bytes(2, "little") + body.encode("latin1")


def _read_header(fh: Any, path: str) -> tuple[np.dtype[Any], tuple[int, ...], int]:
    """dtype, shape and header size of an open ``.npy`` (any version)."""
    try:
        version = np.lib.format.read_magic(fh)
        if version == (1, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_1_0(fh)
        else:
            shape, fortran, dtype = np.lib.format.read_array_header_2_0(fh)
    except ValueError as err:
        raise StoreFormatError(f"{path}: not a readable .npy file ({err})") from err
    if fortran and len(shape) > 1:
        raise StoreFormatError(f"{path}: a Fortran-ordered .npy cannot be appended to")
    return np.dtype(dtype), tuple(shape), fh.tell()


def _stage_npy(path: str, values: np.ndarray) -> str:
    """A complete ``.npy`` with a growable header, staged beside ``path`` (flushed)."""
    values = np.ascontiguousarray(values)

    def write(fh: BinaryIO) -> None:
        fh.write(_header(values.dtype, tuple(values.shape)))
        fh.write(values.tobytes())

    return stage_file(path, write)


def _record_path(path: str) -> str:
    """The commit record of an overwrite of ``path`` (and its offsets file)."""
    folder, name = os.path.split(path)
    return os.path.join(folder, f".{name}.commit")


def _journal_path(path: str) -> str:
    """The undo journal of an update of ``path``."""
    folder, name = os.path.split(path)
    return os.path.join(folder, f".{name}.undo")


def _write_journal(path: str, rows: np.ndarray, old: np.ndarray) -> None:
    """Save the rows an update is about to change, durably, before it changes them."""
    journal = _journal_path(path)
    staged = stage_file(journal, lambda fh: np.savez(fh, rows=rows, values=old))
    os.replace(staged, journal)
    fsync_dir(os.path.dirname(journal))


def _roll_back(path: str) -> None:
    """Write the rows of an interrupted update's journal back, then drop the journal."""
    journal = _journal_path(path)
    try:
        with np.load(journal) as doc:
            rows, old = doc["rows"], doc["values"]
    except FileNotFoundError:
        return
    except (OSError, ValueError, KeyError) as err:
        raise StoreFormatError(
            f"{journal}: expected the undo journal of an interrupted update (rows and "
            f"values); got unreadable content ({err})"
        ) from err
    if len(rows):
        target = np.load(path, mmap_mode="r+")
        target[rows] = old
        target.flush()
        del target
        fsync_file(path)
    os.remove(journal)
    fsync_dir(os.path.dirname(journal))


def _grow(path: str, start: int, values: np.ndarray) -> int:
    """Write ``values`` from row ``start`` (dropping rows past it), then the new shape.

    Returns the new row count.
    """
    with open(path, "r+b") as fh:
        dtype, shape, size = _read_header(fh, path)
        if values.dtype != dtype or tuple(values.shape[1:]) != shape[1:]:
            raise SchemaError(
                f"{path}: holds {dtype} rows of shape {shape[1:]}; got {values.dtype} "
                f"{tuple(values.shape[1:])}"
            )
        row_bytes = dtype.itemsize * int(np.prod(shape[1:], dtype=np.int64))
        fh.seek(size + start * row_bytes)
        fh.write(np.ascontiguousarray(values).tobytes())
        fh.truncate()
        rows = start + len(values)
        text = _header_text(dtype, (rows, *shape[1:]))
        if len(text) + 1 > size - len(MAGIC) - 4:
            raise StoreFormatError(
                f"{path}: its header has no room for {rows} rows (a file from another "
                "writer?); save it once with approach 'overwrite' to append to it"
            )
        fh.seek(0)
        fh.write(_header(dtype, (rows, *shape[1:]), size))
    return rows


def _shape_of(path: str) -> tuple[np.dtype[Any], tuple[int, ...]]:
    with open(path, "rb") as fh:
        dtype, shape, _ = _read_header(fh, path)
    return dtype, shape


class NumpySaver(BufferSaver):
    """Save batches to a ``.npy`` file, appending in place.

    Parameters
    ----------
    path : str or path
        The ``.npy`` file (local). Ragged data also writes ``<stem>.offsets.npy``.
    approach : {"append", "overwrite", "update"}
        See :class:`~grumpy_arrow.savers.Saver`.
    ragged : bool, optional
        ``True`` stores rows as values + offsets even when a batch's rows happen to have
        one length (results whose lengths vary from batch to batch); ``False`` refuses
        ragged batches; ``None`` (default) takes the form of the first batch.

    Notes
    -----
    ``compression`` and ``chunks`` are refused: a ``.npy`` file is neither. Strings are
    stored fixed-width (``<U{n}``, ``|S{n}``), ``n`` the first batch's longest: a longer
    string later is a ``SchemaError`` (NumPy's fixed-width bytes also drop trailing
    ``b"\\x00"``).

    Examples
    --------
    >>> import os, tempfile, numpy as np
    >>> from grumpy_arrow.savers import NumpySaver
    >>> path = os.path.join(tempfile.mkdtemp(), "results.npy")
    >>> saver = NumpySaver(path)
    >>> saver.save([1, 2, 3, 4, 5])
    >>> saver.save([6, 7, 8, 9, 10])
    >>> np.load(path).tolist()
    [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]
    """

    def __init__(
        self, path: Any, approach: Approach = "append", *, ragged: bool | None = None
    ) -> None:
        super().__init__(approach=approach, ragged=ragged)
        self.path = os.path.abspath(os.fspath(path))

    def _where(self) -> str:
        return self.path

    def _key(self) -> str:
        return f"npy:{self.path}"

    def _lock_path(self) -> str | None:
        return f"{self.path}.lock"

    def _check_options(self, options: dict[str, Any]) -> None:
        for name in ("compression", "compression_opts", "chunks"):
            if options.get(name) is not None:
                raise ValueError(
                    f"{self.path}: NumpySaver writes plain .npy files, which have no "
                    f"{name}; use ZarrSaver or HDF5Saver for it"
                )

    def _pending(self) -> bool:
        """Whether a killed save left a commit record or an undo journal."""
        return os.path.exists(_record_path(self.path)) or os.path.exists(_journal_path(self.path))

    def _finish(self) -> None:
        finish_commit(_record_path(self.path))
        _roll_back(self.path)

    def _recover(self, *, locked: bool) -> None:
        if not locked:
            lock = functools.partial(process_lock, self._lock_path(), self.path)
            recover_under_lock(lock, self.path, self._pending, self._finish)
            return
        if self._pending():
            self._finish()

    def _sweep(self) -> None:
        """Remove what killed overwrites and updates staged (before staging anew)."""
        path = self.path
        sweep_beside(path, offsets_path(path), _record_path(path), _journal_path(path))

    def _info(self) -> Info | None:
        if not os.path.exists(self.path):
            return None
        dtype, shape = _shape_of(self.path)
        if not shape:
            raise StoreFormatError(f"{self.path}: holds a 0-d array; a dataset needs rows")
        side = offsets_path(self.path)
        if os.path.exists(side):
            _, offsets_shape = _shape_of(side)
            return Info(offsets_shape[0] - 1, True, shape[1:], dtype)
        return Info(shape[0], False, shape[1:], dtype)

    def _create(self, batch: Batch, options: dict[str, Any], *, replace: bool) -> None:
        """Stage the new file (and offsets), then commit them as one step."""
        self._sweep()
        side = offsets_path(self.path)
        values = batch.values
        if text.is_variable(batch.dtype):
            values = text.fixed_width(values, batch.dtype)
        moves: dict[str, str] = {}
        try:
            moves[_stage_npy(self.path, values)] = self.path
            if batch.offsets is not None:
                moves[_stage_npy(side, batch.offsets)] = side
        except BaseException:
            for staged in moves:
                os.remove(staged)
            raise
        removals = [side] if batch.offsets is None and os.path.exists(side) else []
        commit_files(_record_path(self.path), moves, removals)

    def _append(self, batch: Batch, info: Info) -> None:
        if batch.offsets is None:
            _grow(self.path, info.rows, batch.values)
            return
        side = offsets_path(self.path)
        base = int(np.load(side, mmap_mode="r")[info.rows])
        _grow(self.path, base, batch.values)
        _grow(side, info.rows + 1, batch.offsets[1:] + base)

    def _write_rows(self, rows: np.ndarray, values: np.ndarray) -> None:
        """Journal the old rows, write the new ones in place, then drop the journal."""
        self._sweep()
        target = np.load(self.path, mmap_mode="r+")
        _write_journal(self.path, rows, np.asarray(target[rows]))
        try:
            target[rows] = values
            target.flush()
            del target
            fsync_file(self.path)
        except BaseException:
            with contextlib.suppress(Exception):  # else the next open rolls it back
                _roll_back(self.path)
            raise
        os.remove(_journal_path(self.path))

    def _write_values(self, positions: np.ndarray, values: np.ndarray) -> None:
        self._write_rows(positions, values)

    def _offsets_at(self, rows: np.ndarray) -> np.ndarray:
        offsets = np.load(offsets_path(self.path), mmap_mode="r")
        return np.stack([offsets[rows], offsets[rows + 1]], axis=1).astype(np.int64)

    def _read(self, info: Info) -> tuple[np.ndarray, np.ndarray | None]:
        if not info.ragged:
            return np.load(self.path)[: info.rows], None
        offsets = np.load(offsets_path(self.path))[: info.rows + 1].astype(np.int64)
        return np.load(self.path)[: int(offsets[-1])], offsets
