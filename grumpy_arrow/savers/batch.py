"""Batches in storable form: rectangular or ragged values, numbers or strings.

:func:`to_batch` turns what a saver is given (lists, NumPy arrays, ``GrumpyArray``\\ s)
into a :class:`Batch`: one array ``(rows, *shape)``, or ``values`` ``(total, *shape)``
plus ``offsets``. :func:`fit` makes a batch match a stored dataset (:class:`Info`) or
says why it cannot. Strings of any length are elements like numbers (see
:mod:`grumpy_arrow.savers.text`).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np
import pyarrow as pa

from grumpy_arrow import layout as lay
from grumpy_arrow.array import GrumpyArray
from grumpy_arrow.errors import LayoutError, SchemaError
from grumpy_arrow.functions import array
from grumpy_arrow.savers import text

__all__ = [
    "CHUNK_BYTES",
    "Batch",
    "Info",
    "default_chunks",
    "first_chunk",
    "fit",
    "strings_arrow",
    "to_batch",
]

CHUNK_BYTES = 1 << 20  # default chunk: about 1 MiB of rows


@dataclass(frozen=True)
class Batch:
    """A batch in storable form: ``values`` and, for ragged batches, ``offsets``.

    ``dtype`` is the elements' dtype: ``values.dtype``, except for strings of any length
    (``values`` an ``object`` array), where it is ``TEXT`` or ``BINARY``.
    """

    values: np.ndarray
    offsets: np.ndarray | None
    dtype: np.dtype[Any] = None  # type: ignore[assignment]  # values.dtype when not given

    def __post_init__(self) -> None:
        if self.dtype is None:
            object.__setattr__(self, "dtype", self.values.dtype)

    @property
    def ragged(self) -> bool:
        return self.offsets is not None

    @cached_property
    def strings(self) -> tuple[np.ndarray, np.ndarray]:
        """``value_offsets`` and ``data`` of string values (encoded once per batch)."""
        return text.encode(self.values, self.dtype)

    @property
    def nbytes(self) -> int:
        """Bytes of the values and offsets as stored."""
        offsets = 0 if self.offsets is None else self.offsets.nbytes
        if text.is_variable(self.dtype):
            value_offsets, data = self.strings
            return value_offsets.nbytes + data.nbytes + offsets
        return self.values.nbytes + offsets

    def __len__(self) -> int:
        return len(self.values) if self.offsets is None else len(self.offsets) - 1

    @property
    def shape(self) -> tuple[int, ...]:
        """The shape of one row (rectangular) or one element of a row (ragged)."""
        return tuple(self.values.shape[1:])

    @property
    def lengths(self) -> np.ndarray:
        assert self.offsets is not None
        return np.diff(self.offsets)


@dataclass(frozen=True)
class Info:
    """What a stored dataset holds: committed rows, form, element shape and dtype."""

    rows: int
    ragged: bool
    shape: tuple[int, ...]
    dtype: np.dtype[Any]


def to_batch(data: Any, dtype: Any = None) -> Batch:
    """Lists, NumPy arrays and ``GrumpyArray``\\ s as a rectangular or ragged ``Batch``.

    A list of rows of different lengths (lists or arrays with equal trailing shapes)
    is ragged; so is a ``GrumpyArray`` of lists whose inner levels are regular. Strings
    (``str`` or ``bytes``, any lengths) are elements like numbers.
    """
    batch = _to_batch(data, dtype)
    if batch.values.dtype.kind not in "USO":
        return batch
    values, kind = text.parse_strings(batch.values)
    return Batch(values, batch.offsets, kind)


def _to_batch(data: Any, dtype: Any) -> Batch:
    if isinstance(data, GrumpyArray):
        return _from_grumpy(data, dtype)
    if isinstance(data, np.ndarray) and data.dtype != object:
        if data.ndim == 0:
            raise SchemaError(
                "a batch is a sequence of rows; got a 0-d array (wrap one row in a list)"
            )
        return Batch(data if dtype is None else data.astype(dtype, copy=False), None)
    if isinstance(data, (str, bytes)) or not hasattr(data, "__len__"):
        if isinstance(data, (range, tuple)) or hasattr(data, "__iter__"):
            data = list(data)
        else:
            raise SchemaError(
                f"a batch is a sequence of rows; got {type(data).__name__} ({data!r:.60})"
            )
    if len(data) == 0:
        return Batch(np.zeros(0, dtype=dtype or np.float64), None)
    try:
        values = np.asarray(data, dtype=dtype)
    except ValueError:  # rows of different lengths: NumPy refuses an inhomogeneous shape
        return _ragged_rows(data, dtype)
    if values.dtype == object:
        return _ragged_rows(data, dtype)
    if values.dtype.kind in "US" and dtype is None:
        # The Python strings themselves: NumPy's fixed width drops trailing NULs and
        # makes "1" of 1 in a list mixing numbers and strings.
        values = np.array(data, dtype=object)
    return Batch(values, None)


def _ragged_rows(rows: Any, dtype: Any) -> Batch:
    """Rows of different lengths. Python rows go through Arrow's builder (``gr.array``);
    a list of NumPy arrays is concatenated (one ``np.concatenate``, no per-element work)."""
    if all(isinstance(r, np.ndarray) for r in rows):
        arrays = [r if r.ndim else r.reshape(1) for r in rows]
        trailing = {a.shape[1:] for a in arrays}
        if len(trailing) > 1:
            raise SchemaError(
                f"ragged rows must share their trailing shape; got {sorted(trailing)}"
            )
        lengths = np.array([len(a) for a in arrays], dtype=np.int64)
        values = np.concatenate(arrays)
        if dtype is not None:
            values = values.astype(dtype, copy=False)
        return Batch(values, _offsets(lengths))

    try:
        converted = array(list(rows), dtype=dtype)
    except (TypeError, ValueError) as err:
        raise SchemaError(f"cannot store this batch as rectangular or ragged data: {err}") from err
    return _from_grumpy(converted, None)


def _from_grumpy(data: Any, dtype: Any) -> Batch:
    hint = "use GrumpySaver for unions, nulls and deeper nesting"
    node = data.node
    try:
        if isinstance(node, lay.ListNode):
            if node.validity is not None and not node.validity.all():
                raise LayoutError("it has null rows")
            offsets = np.asarray(node.offsets, dtype=np.int64)
            start, stop = int(offsets[0]), int(offsets[-1])
            content = GrumpyArray._wrap(node.content)[start:stop]
            _refuse_null_values(content.node)
            values = content.to_numpy() if len(content) else _empty_values(content)
            batch = Batch(values, offsets - start)
        else:
            _refuse_null_values(node)
            batch = Batch(data.to_numpy(), None)
    except LayoutError as err:
        raise SchemaError(f"cannot store {data.type} as values + offsets: {err} ({hint})") from err
    if dtype is not None:
        batch = Batch(batch.values.astype(dtype, copy=False), batch.offsets)
    return batch


def _refuse_null_values(node: Any) -> None:
    if isinstance(node, lay.Leaf) and node.arrow.null_count:
        raise LayoutError(f"{node.arrow.null_count} of its values are null")


def _empty_values(content: Any) -> np.ndarray:
    return np.zeros(0, dtype=content.dtype.numpy)


def _offsets(lengths: np.ndarray) -> np.ndarray:
    offsets = np.zeros(len(lengths) + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    return offsets


def default_chunks(shape: tuple[int, ...], dtype: np.dtype[Any]) -> tuple[int, ...]:
    """About ``CHUNK_BYTES`` of rows per chunk (whole rows)."""
    row_bytes = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize if shape else dtype.itemsize
    return (max(1, CHUNK_BYTES // max(1, row_bytes)), *shape)


def first_chunk(chunks: Any) -> tuple[int]:
    """The first entry of a ``chunks`` option (rows per chunk), as a 1-D chunk shape: what
    the ``value_offsets`` of strings are chunked by."""
    return (int(chunks[0]) if isinstance(chunks, (tuple, list)) else int(chunks),)


def fit(batch: Batch, info: Info, where: str) -> Batch:
    """The batch in the stored dataset's form and dtype, or a SchemaError saying why not.

    A rectangular batch ``(rows, k, *shape)`` joins a ragged dataset as rows of length
    ``k``; values are cast to the stored dtype when NumPy's ``same_kind`` rule allows it.
    Strings join strings of their kind only (``str`` or ``bytes``), and a fixed width
    only when they fit it (:func:`~grumpy_arrow.savers.text.fit_strings`).
    """
    if info.ragged and not batch.ragged and batch.values.ndim >= 1 and len(batch):
        if batch.values.ndim == 1:
            raise SchemaError(
                f"{where}: the dataset holds ragged rows; the batch is 1-D scalars "
                f"{batch.values.shape}"
            )
        k = batch.values.shape[1]
        flat = batch.values.reshape((-1, *batch.values.shape[2:]))
        offsets = np.arange(len(batch) + 1, dtype=np.int64) * k
        batch = dataclasses.replace(batch, values=flat, offsets=offsets)
    elif info.ragged and not batch.ragged:
        stored = object if text.is_variable(info.dtype) else info.dtype
        empty = np.zeros((0, *info.shape), dtype=stored)
        batch = Batch(empty, np.zeros(1, np.int64), info.dtype)
    if batch.ragged and not info.ragged:
        lengths = batch.lengths
        if info.shape and len(batch) and bool((lengths == info.shape[0]).all()):
            # Lists of one length (a GrumpyArray of a rectangular block) are rows.
            shaped = batch.values.reshape((len(batch), info.shape[0], *batch.values.shape[1:]))
            batch = dataclasses.replace(batch, values=shaped, offsets=None)
        else:
            found = np.unique(lengths)[:5].tolist()
            raise SchemaError(
                f"{where}: the dataset holds rectangular rows of shape {info.shape}; the "
                f"batch is ragged (row lengths {found}{'...' if len(found) == 5 else ''})"
            )
    if batch.shape != info.shape:
        what = "elements" if info.ragged else "rows"
        raise SchemaError(
            f"{where}: the dataset's {what} have shape {info.shape}; the batch's have {batch.shape}"
        )
    return _fit_dtype(batch, info.dtype, where)


def _fit_dtype(batch: Batch, stored: np.dtype[Any], where: str) -> Batch:
    if batch.dtype == stored:
        return batch
    if text.is_strings(batch.dtype) or text.is_strings(stored):
        if text.is_strings(batch.dtype) and text.is_strings(stored):
            return text.fit_strings(batch, stored, where)
        raise SchemaError(
            f"{where}: the dataset holds {text.describe(stored)}; the batch is "
            f"{text.describe(batch.dtype)}"
        )
    if not np.can_cast(batch.dtype, stored, casting="same_kind"):
        raise SchemaError(
            f"{where}: the dataset holds {stored}; the batch is {batch.dtype} "
            "(pass dtype= to convert)"
        )
    return dataclasses.replace(batch, values=batch.values.astype(stored), dtype=stored)


def strings_arrow(values: np.ndarray, dtype: np.dtype[Any]) -> Any:
    """String elements ``(n, *shape)`` as Arrow: strings in fixed-size lists per axis."""
    value_offsets, data = text.encode(values, dtype)
    arr = text.to_arrow(value_offsets, data, dtype)
    if len(data) < 2**31 - 1:  # the width gr.array gives Python strings
        arr = arr.cast(pa.string() if dtype.kind == "U" else pa.binary())
    for size in reversed(values.shape[1:]):
        arr = pa.FixedSizeListArray.from_arrays(arr, size)
    return arr
