"""The ``Saver`` contract: append / overwrite / update of rectangular or ragged batches.

A saver turns each batch into one of two forms before anything is written:

* **rectangular**: one array of shape ``(rows, *shape)`` (any rank);
* **ragged**: ``values`` of shape ``(total, *shape)`` plus ``offsets`` (``rows + 1``
  int64 from 0): row ``i`` is ``values[offsets[i]:offsets[i + 1]]``.

Strings of any length (``str`` or ``bytes``) are elements like numbers: a batch holds them
as an ``object`` array with the dtype :data:`~grumpy_arrow.savers.text.TEXT` or
:data:`~grumpy_arrow.savers.text.BINARY`, and a backend stores them as ``value_offsets`` +
``data`` (Zarr, HDF5) or as fixed-width NumPy strings (``.npy``); see
:mod:`grumpy_arrow.savers.text`.

Backends (``ZarrSaver``, ``HDF5Saver``, ``NumpySaver``) store those one or two arrays and
implement a handful of primitives; the rules (approach parsing, dtype and shape checks,
index forms, locking, "nothing is written on bad input") live here, once.

Commit order makes a crash harmless: data first, the row count last (the zarr shape, the
``.npy`` header, the offsets). The next append starts at the committed length, so an
uncommitted tail is overwritten, never read. Overwrites and updates are all or nothing
(each backend says how); whatever a killed save left is recovered or swept by the next
open (:meth:`BufferSaver._recover`). A full disk (ENOSPC) raises :class:`StoreError`
naming the target (:func:`~grumpy_arrow.savers.files.translate_no_space`).
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import threading
from abc import ABC, abstractmethod
from collections.abc import Iterator
from typing import Any, ClassVar

import numpy as np

from grumpy_arrow._typing import Approach
from grumpy_arrow.compute.gather import expand_ranges
from grumpy_arrow.errors import DatasetNotFoundError, OutOfBoundsError, SchemaError, StoreError
from grumpy_arrow.functions import array, from_offsets
from grumpy_arrow.savers import text
from grumpy_arrow.savers.batch import Batch, Info, fit, strings_arrow, to_batch
from grumpy_arrow.savers.files import translate_no_space
from grumpy_arrow.storage.writer import lock_file

__all__ = [
    "APPROACHES",
    "Batch",
    "BufferSaver",
    "Info",
    "Saver",
    "parse_approach",
    "parse_dataset_name",
    "parse_indices",
    "process_lock",
]

APPROACHES = ("append", "overwrite", "update")
OPTIONS = ("dtype", "compression", "compression_opts", "chunks")


def parse_approach(approach: Any) -> str:
    """``" Append "`` → ``"append"``; anything but the three approaches is a ValueError."""
    if isinstance(approach, str):
        key = "".join(approach.split()).lower()
        if key in APPROACHES:
            return key
    raise ValueError(f"approach must be one of {', '.join(APPROACHES)}, got {approach!r}")


def parse_dataset_name(name: Any) -> str:
    """A dataset's path inside its file or group (``/`` makes groups), without outer ``/``."""
    if not isinstance(name, str) or not name.strip("/"):
        raise ValueError(f"dataset_name must be a non-empty string, got {name!r}")
    return name.strip("/")


def parse_indices(indices: Any, rows: int, count: int, where: str) -> np.ndarray:
    """Row positions of an update: a list, range, slice, or an int/bool NumPy array.

    Negative positions count from the end (as in NumPy). The positions must be in range,
    distinct, and as many as the batch has rows.
    """
    if indices is None:
        raise ValueError(f"{where}: approach 'update' needs indices= (the rows to write)")
    if isinstance(indices, slice):
        step = 1 if indices.step is None else int(indices.step)
        if step == 0:
            raise ValueError(f"{where}: slice step cannot be zero")
        start = 0 if indices.start is None else int(indices.start)
        start = start + rows if start < 0 else start
        if indices.stop is None:  # as many rows as the batch has, from start
            positions = start + step * np.arange(count, dtype=np.int64)
        else:
            stop = int(indices.stop)
            stop = stop + rows if stop < 0 else stop
            positions = np.arange(start, stop, step, dtype=np.int64)
    else:
        if isinstance(indices, range):  # negative positions count from the end, as in lists
            indices = np.arange(indices.start, indices.stop, indices.step, dtype=np.int64)
        arr = np.asarray(indices)
        if arr.dtype == bool:
            if arr.shape != (rows,):
                raise OutOfBoundsError(
                    f"{where}: a boolean index needs {rows} entries (one per row), got {arr.shape}"
                )
            arr = np.flatnonzero(arr)
        if arr.size and arr.dtype.kind not in "iu":
            raise TypeError(f"{where}: indices must be integers, got {arr.dtype}")
        positions = arr.astype(np.int64).reshape(-1)
        positions = np.where(positions < 0, positions + rows, positions)
    bad = (positions < 0) | (positions >= rows)
    if bad.any():
        first = int(positions[np.flatnonzero(bad)[0]])
        raise OutOfBoundsError(
            f"{where}: index {first} is out of range for a dataset of {rows} rows"
        )
    if len(positions) != count:
        raise SchemaError(f"{where}: {len(positions)} indices for a batch of {count} rows")
    if len(np.unique(positions)) != len(positions):
        raise ValueError(f"{where}: indices repeat a row; each row can be written once")
    return positions


_TARGET_LOCKS: dict[str, threading.RLock] = {}
_TARGET_LOCKS_GUARD = threading.Lock()


def _target_lock(key: str) -> threading.RLock:
    """One lock per target in this process, shared by every saver instance writing it."""
    with _TARGET_LOCKS_GUARD:
        return _TARGET_LOCKS.setdefault(key, threading.RLock())


@contextlib.contextmanager
def process_lock(path: str | None, what: str) -> Iterator[None]:
    """Hold a lock file for the length of one save; another live process gets StoreError.

    Several processes must write distinct targets (files or datasets): this turns an
    overlap that would corrupt data into an error. Locks of dead processes are taken over.
    The lock's folder is never removed: another process may be taking a lock in it (two
    processes writing different datasets of one Zarr group share it).
    """
    if path is None:
        yield
        return
    try:
        os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    except OSError as err:
        raise StoreError(f"{what}: cannot write here ({err})") from err
    busy = (
        f"{what}: another process is writing it (lock {path}); processes must write "
        "distinct files, datasets or shards"
    )
    with lock_file(path, busy):
        yield


class Saver(ABC):
    """Persist results batch by batch: ``save(data, indices=None, **kwargs)``.

    A subclass implements :meth:`save`; :meth:`load` is optional (the base raises
    ``NotImplementedError`` naming the subclass), as in raygent, so a saver that only
    writes is complete. Such a subclass may skip ``super().__init__``: its approach is
    then ``"append"``.

    Parameters
    ----------
    approach : {"append", "overwrite", "update"}
        ``append`` adds rows after the stored ones (creating the dataset on first use)
        and never rewrites stored data; ``overwrite`` replaces the dataset; ``update``
        writes rows at ``indices`` of an existing dataset. Case and spaces are ignored.

    Notes
    -----
    One instance may be called from several threads (calls are serialized). Several
    processes must write distinct targets; an overlap is refused with ``StoreError``
    where a lock file can detect it (local paths).

    Examples
    --------
    >>> import grumpy_arrow as gr
    >>> from grumpy_arrow.savers import Saver
    >>> class PrintSaver(Saver):
    ...     def save(self, data, indices=None, **kwargs):
    ...         print(list(data))
    >>> gr.run(lambda i: i * i, range(5), saver=PrintSaver(), save_interval=3)
    [0, 1, 4]
    [9, 16]
    5
    >>> PrintSaver().load()
    Traceback (most recent call last):
    ...
    NotImplementedError: PrintSaver.load is not implemented: PrintSaver only saves ...
    """

    path: str
    #: The storage options ``save`` takes (others are a TypeError listing these).
    options: ClassVar[tuple[str, ...]] = OPTIONS

    def __init__(self, *, approach: Approach = "append") -> None:
        self.approach = approach
        self._lock = threading.RLock()

    @property
    def approach(self) -> str:
        """The approach (settable; parsed on assignment)."""
        return getattr(self, "_approach", "append")

    @approach.setter
    def approach(self, value: str) -> None:
        self._approach = parse_approach(value)

    @abstractmethod
    def save(self, data: Any, indices: Any = None, **kwargs: Any) -> None:
        """Write ``data`` by the saver's approach (``indices``: the rows of an update)."""

    def _check_call(self, indices: Any, options: dict[str, Any]) -> str:
        """The approach of this call, after refusing unknown options and stray indices."""
        unknown = sorted(set(options) - set(self.options))
        if unknown:
            raise TypeError(
                f"{type(self).__name__}.save got unknown option(s) {', '.join(unknown)}; "
                f"the options are {', '.join(self.options)}"
            )
        approach = self.approach
        if indices is not None and approach != "update":
            raise ValueError(
                f"{self._where()}: indices= applies to approach 'update', not {approach!r}"
            )
        return approach

    def _where(self) -> str:
        """The target, for messages."""
        return self.path

    def load(self) -> Any:
        """Everything saved so far.

        Raises
        ------
        NotImplementedError
            In a subclass that only saves (it does not override ``load``).
        """
        name = type(self).__name__
        raise NotImplementedError(
            f"{name}.load is not implemented: {name} only saves (implement load() in "
            f"{name} to read its results back)"
        )

    def __repr__(self) -> str:
        path = getattr(self, "path", None)
        where = "" if path is None else f"{path!r}, "
        return f"{type(self).__name__}({where}approach={self.approach!r})"


class BufferSaver(Saver):
    """A saver storing one array (rectangular) or values + offsets (ragged) per dataset.

    Subclasses implement the storage primitives; the rules live here.
    """

    def __init__(self, *, approach: Approach = "append", ragged: bool | None = None) -> None:
        super().__init__(approach=approach)
        if ragged not in (None, True, False):
            raise ValueError(f"ragged must be None, True or False, got {ragged!r}")
        self.ragged = ragged

    def _form(self, batch: Batch) -> Batch:
        """Apply the ``ragged=`` choice: True stores even equal-length rows as values +
        offsets (so a first batch of equal lengths cannot fix a rectangular dataset)."""
        if self.ragged and not batch.ragged and batch.values.ndim >= 2:
            k = batch.values.shape[1]
            flat = batch.values.reshape((-1, *batch.values.shape[2:]))
            offsets = np.arange(len(batch) + 1, dtype=np.int64) * k
            return dataclasses.replace(batch, values=flat, offsets=offsets)
        if self.ragged and not batch.ragged and len(batch):
            raise SchemaError(
                f"{self._where()}: ragged=True stores rows of values; the batch is 1-D "
                f"scalars {batch.values.shape}"
            )
        if self.ragged is False and batch.ragged:
            raise SchemaError(
                f"{self._where()}: ragged=False stores rectangular rows; the batch's rows "
                "have different lengths"
            )
        return batch

    def save(self, data: Any, indices: Any = None, **kwargs: Any) -> None:
        """Write ``data`` by the saver's approach.

        Parameters
        ----------
        data : list, NumPy array or GrumpyArray
            Rectangular rows of any rank, or ragged rows (stored as values + offsets), of
            numbers or strings (``str`` or ``bytes`` of any length).
        indices : list, range, slice or integer/boolean NumPy array, optional
            The rows to write (``update`` only).
        **kwargs
            Storage options ``dtype``, ``compression``, ``compression_opts`` and ``chunks``
            (``ZarrSaver`` also ``compressor`` and ``filters``: the class's ``options``);
            all but ``dtype`` apply when a dataset is created.

        Raises
        ------
        ValueError
            For an unknown approach or option, or indices outside ``update``.
        DatasetNotFoundError
            For ``update`` of a dataset that does not exist.
        OutOfBoundsError
            For an update index out of range.
        SchemaError
            When the batch does not fit the stored dataset (shape, form, dtype). Nothing
            is written in any of these cases.
        """
        approach = self._check_call(indices, kwargs)
        batch = self._form(self._prepare(data, kwargs))
        with (
            translate_no_space(self._where()),
            self._lock,
            _target_lock(self._key()),
            process_lock(self._lock_path(), self._where()),
        ):
            self._recover(locked=True)
            with self._session():
                self._save(approach, batch, indices, kwargs)

    def _save(self, approach: str, batch: Batch, indices: Any, kwargs: dict[str, Any]) -> None:
        """The body of :meth:`save`, holding the locks and the session."""
        if approach == "overwrite":
            self._create(batch, kwargs, replace=True)
            return
        info = self._info()
        if approach == "append":
            if not len(batch):
                return  # nothing to add (and an empty list carries no shape)
            if info is None:
                self._create(batch, kwargs, replace=False)
            else:
                self._append(fit(batch, info, self._where()), info)
            return
        if info is None:
            raise DatasetNotFoundError(
                f"{self._where()}: update needs an existing dataset; there is none "
                "(save with approach 'append' or 'overwrite' first)"
            )
        rows = parse_indices(indices, info.rows, len(batch), self._where())
        if len(rows):
            self._update(fit(batch, info, self._where()), rows, info)

    def _prepare(self, data: Any, options: dict[str, Any]) -> Batch:
        self._check_options(options)
        try:
            return to_batch(data, options.get("dtype"))
        except SchemaError as err:
            raise SchemaError(f"{type(self).__name__} {self._where()}: {err}") from err

    def _check_options(self, options: dict[str, Any]) -> None:
        """Backends refuse options they cannot honour."""

    def _update(self, batch: Batch, rows: np.ndarray, info: Info) -> None:
        positions = self._element_positions(batch, rows) if batch.ragged else rows
        order = np.argsort(positions, kind="stable")
        if text.is_variable(info.dtype):
            self._update_strings(positions[order], batch.values[order], info)
        elif batch.ragged:
            self._write_values(positions[order], batch.values[order])
        else:
            self._write_rows(positions[order], batch.values[order])

    def _element_positions(self, batch: Batch, rows: np.ndarray) -> np.ndarray:
        """The stored positions of the elements of ragged ``rows`` (same lengths only)."""
        old = self._offsets_at(rows)  # (len(rows), 2): start and stop of each stored row
        lengths = old[:, 1] - old[:, 0]
        differ = np.flatnonzero(lengths != batch.lengths)
        if len(differ):
            k = int(differ[0])
            raise SchemaError(
                f"{self._where()}: row {int(rows[k])} holds {int(lengths[k])} values; the "
                f"update gives {int(batch.lengths[k])}. Ragged updates keep row lengths "
                "(rewrite the dataset with approach 'overwrite' to change them)"
            )

        return expand_ranges(old[:, 0], lengths)

    def _update_strings(self, elements: np.ndarray, values: np.ndarray, info: Info) -> None:
        """Replace strings (any new lengths): the stored strings from the first one
        replaced on are rewritten (``data`` and ``value_offsets``), those before it kept."""
        k = int(np.prod(info.shape, dtype=np.int64))
        strings = (elements[:, None] * k + np.arange(k, dtype=np.int64)).reshape(-1)
        first = int(strings[0])
        value_offsets, data = self._read_strings(info, first)
        new = text.splice(
            value_offsets, data, strings - first, values.reshape(-1), info.dtype, self._where()
        )
        self._write_strings(first, *new)

    def load(self) -> Any:
        """The stored dataset: a NumPy array, or a ``GrumpyArray`` for ragged data.

        Raises
        ------
        DatasetNotFoundError
            If nothing has been saved yet.
        """
        with self._lock, _target_lock(self._key()):
            self._recover(locked=False)
            info = self._info()
            if info is None:
                raise DatasetNotFoundError(f"{self._where()}: there is no dataset to load")
            values, offsets = self._read(info)
        if offsets is None:
            return values

        if text.is_variable(info.dtype):
            return from_offsets(array(strings_arrow(values, info.dtype)), offsets)
        return from_offsets(values, offsets)

    # -- what a backend implements ------------------------------------------------------

    def _recover(self, *, locked: bool) -> None:
        """Finish or undo what a killed save left, so the target reads as a whole state.

        Called at the start of every save (holding the target's locks: ``locked=True``)
        and every load (``locked=False``: a backend that must write to recover takes the
        lock itself, see :func:`~grumpy_arrow.savers.files.recover_under_lock`). Staged
        leftovers are swept later, by the next overwrite or update.
        """

    def _session(self) -> contextlib.AbstractContextManager[Any]:
        """Held around one save or load: backends keep their file or group open in it."""
        return contextlib.nullcontext()

    @abstractmethod
    def _where(self) -> str:
        """The target, for messages (path and dataset)."""

    @abstractmethod
    def _key(self) -> str:
        """A string naming the target uniquely in this process."""

    @abstractmethod
    def _lock_path(self) -> str | None:
        """The lock file guarding the target across processes (None: no lock)."""

    @abstractmethod
    def _info(self) -> Info | None:
        """The stored dataset's committed state, or None when there is none."""

    @abstractmethod
    def _create(self, batch: Batch, options: dict[str, Any], *, replace: bool) -> None:
        """Write ``batch`` as the whole dataset (replacing any existing one)."""

    @abstractmethod
    def _append(self, batch: Batch, info: Info) -> None:
        """Add ``batch`` after the committed rows (data first, the row count last)."""

    @abstractmethod
    def _write_rows(self, rows: np.ndarray, values: np.ndarray) -> None:
        """Rectangular update: ``dataset[rows] = values`` with ``rows`` increasing."""

    @abstractmethod
    def _write_values(self, positions: np.ndarray, values: np.ndarray) -> None:
        """Ragged update: ``values[positions] = values`` with ``positions`` increasing."""

    @abstractmethod
    def _offsets_at(self, rows: np.ndarray) -> np.ndarray:
        """``(len(rows), 2)`` start/stop of stored ragged rows."""

    @abstractmethod
    def _read(self, info: Info) -> tuple[np.ndarray, np.ndarray | None]:
        """Committed values (and offsets for ragged data); strings as ``object`` arrays."""

    def _read_strings(self, info: Info, first: int) -> tuple[np.ndarray, np.ndarray]:
        """Stored strings from string ``first`` on: ``value_offsets[first:]`` (as stored,
        committed ones only) and the ``data`` they delimit (backends storing strings of
        any length implement it)."""
        raise NotImplementedError(
            f"{type(self).__name__}._read_strings is not implemented: "
            f"{type(self).__name__} does not store strings of any length"
        )

    def _read_text(self, info: Info, offsets: np.ndarray | None) -> np.ndarray:
        """Every committed string, decoded (``offsets``: the committed ragged offsets)."""
        value_offsets, data = self._read_strings(info, 0)
        count = info.rows if offsets is None else int(offsets[-1])
        return text.decode(value_offsets, data, info.dtype, info.shape, self._where(), count=count)

    def _write_strings(self, first: int, value_offsets: np.ndarray, data: np.ndarray) -> None:
        """Replace the stored strings from string ``first`` on: ``value_offsets`` from
        position ``first`` and ``data`` from ``value_offsets[0]``; both end there."""
        raise NotImplementedError(
            f"{type(self).__name__}._write_strings is not implemented: "
            f"{type(self).__name__} does not store strings of any length"
        )
