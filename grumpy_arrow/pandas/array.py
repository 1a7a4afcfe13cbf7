"""``GrumpyExtensionArray``: a pandas ExtensionArray over one grumpy Arrow array.

Rows are boxed as Python scalars (scalar rows), :class:`~grumpy_arrow.pandas.GrumpyList`
(list rows) or ``pd.NA`` (null rows). Positional work — take, slicing, concatenation,
filling, missing values — runs on the Arrow data through the layout nodes; hashing and
ordering go through per-row keys (:mod:`~grumpy_arrow.pandas.ordering`); operators work
inside the rows like ``GrumpyArray``'s or compare whole rows (:mod:`~grumpy_arrow.pandas.ops`).

Arrow consumers (``pa.array(arr)``, ``pa.Table.from_pandas``, ``DataFrame.to_parquet``) get
union columns lowered to ``struct<values, is_scalar>`` (docs/interop.md), and
``GrumpyDtype.__from_arrow__`` raises them again, so ``to_parquet`` / ``read_parquet``
round-trip every GrumpyDtype column exactly.

The Arrow data are immutable, so an array and its views (``arr[a:b]``, ``arr.view()``)
share a small mutable buffer: writing a row replaces the buffer's Arrow array, and every
view sees the write, as with NumPy views. ``copy()`` is O(1) for the same reason.

Examples
--------
>>> import pandas as pd
>>> import pyarrow as pa
>>> import grumpy_arrow as gr
>>> from grumpy_arrow.pandas import GrumpyExtensionArray
>>> s = pd.Series(GrumpyExtensionArray(gr.array([[1, 2], [], None, [1, 2]])))
>>> s.dtype
GrumpyDtype('var * int64')
>>> s.isna().tolist(), s.value_counts().tolist()
([False, False, True, False], [2, 1])
>>> s[0]
GrumpyList([1, 2])
>>> gr.from_pandas(s * 10).to_list(), pa.array(s.array).type == s.dtype.arrow_type
([[10, 20], [], None, [10, 20]], True)
"""

from __future__ import annotations

import ast
import contextlib
import math
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
from pandas.api.extensions import ExtensionArray, no_default, take
from pandas.api.indexers import check_array_indexer
from pandas.api.types import is_integer, is_list_like, pandas_dtype

from grumpy_arrow import layout as lay
from grumpy_arrow.array import GrumpyArray, from_lowered
from grumpy_arrow.compute.gather import take_rows
from grumpy_arrow.compute.lowering import has_union
from grumpy_arrow.construct import parse_object
from grumpy_arrow.errors import LayoutError
from grumpy_arrow.pandas import ordering
from grumpy_arrow.pandas.cast import fit_array, null_node
from grumpy_arrow.pandas.convert import explode
from grumpy_arrow.pandas.dtype import ARRAY_TYPE, GrumpyDtype
from grumpy_arrow.pandas.format import format_scalar
from grumpy_arrow.pandas.ops import GrumpyOpsMixin
from grumpy_arrow.pandas.scalar import GrumpyList, is_na, unbox

__all__ = ["GrumpyExtensionArray"]

_BAD_INDEX = (
    "only integers, slices (`:`), ellipsis (`...`), numpy.newaxis (`None`) and integer or "
    "boolean arrays are valid indices"
)


class _Buffer:
    """The Arrow array an array and its views share; a write replaces it."""

    __slots__ = ("array",)

    def __init__(self, array: pa.Array) -> None:
        self.array = array


class GrumpyExtensionArray(GrumpyOpsMixin, ExtensionArray):
    """A pandas ExtensionArray of grumpy rows (lists, scalar-or-list unions or leaves).

    Parameters
    ----------
    values : pyarrow.Array, pyarrow.ChunkedArray, GrumpyArray or GrumpyExtensionArray
        The data (Arrow lists of any flavour are accepted and stored as ``large_list``).
        Python rows go through ``pd.array(rows, dtype=...)`` / ``_from_sequence``.
    dtype : GrumpyDtype or str, optional
        The exact type to store; inferred from ``values`` when omitted.

    Raises
    ------
    TypeError
        For data that is not Arrow/grumpy data, or that does not fit ``dtype``.
    """

    __array_priority__ = 1000
    # Above pandas' other arrays (1000), so that ``Int64 column * grumpy column`` defers to
    # this array's reflected operator instead of unpacking its rows as objects.
    __pandas_priority__ = 1500
    _readonly: bool  # ExtensionArray's flag (False by default), absent from the stubs
    _buffer: _Buffer
    _start: int
    _stop: int
    _dtype: GrumpyDtype

    def __init__(self, values: Any, dtype: Any = None, copy: bool = False) -> None:
        target = _as_dtype(dtype)
        if isinstance(values, GrumpyExtensionArray):
            arr = values._arrow
        elif isinstance(values, GrumpyArray):
            arr = values.to_arrow()
        elif isinstance(values, (pa.Array, pa.ChunkedArray)):
            arr = _parse(values, target)
        else:
            raise TypeError(
                f"GrumpyExtensionArray wraps Arrow or grumpy data, got {type(values).__name__}; "
                "use pd.array(rows, dtype=GrumpyDtype(...)) for Python rows"
            )
        if target is None:
            target = GrumpyDtype(arr.type)
        self._init(_Buffer(fit_array(arr, target.arrow_type)), 0, len(arr), target)

    def _init(self, buffer: _Buffer, start: int, stop: int, dtype: GrumpyDtype) -> None:
        self._buffer, self._start, self._stop, self._dtype = buffer, start, stop, dtype

    @classmethod
    def _from_exact(cls, arr: pa.Array, dtype: GrumpyDtype) -> GrumpyExtensionArray:
        """Wrap ``arr`` whose type is already exactly ``dtype.arrow_type``."""
        out = cls.__new__(cls)
        out._init(_Buffer(arr), 0, len(arr), dtype)
        return out

    def _view(self, start: int, stop: int) -> GrumpyExtensionArray:
        out = type(self).__new__(type(self))
        out._init(self._buffer, start, stop, self._dtype)
        out._readonly = self._readonly
        return out

    # -- constructors -----------------------------------------------------------------

    @classmethod
    def _from_sequence(
        cls, scalars: Any, *, dtype: Any = None, copy: bool = False
    ) -> GrumpyExtensionArray:
        """Build from rows: GrumpyLists, Python lists, scalars, NA, or Arrow/grumpy data."""
        target = _as_dtype(dtype)
        if isinstance(scalars, (pd.Series, pd.Index)):
            scalars = scalars.array
        if isinstance(scalars, (GrumpyExtensionArray, GrumpyArray, pa.Array, pa.ChunkedArray)):
            return cls(scalars, dtype=target)
        if hasattr(scalars, "__arrow_array__") and not isinstance(scalars, np.ndarray):
            return cls(scalars.__arrow_array__(), dtype=target)
        rows = [_to_python(v, target) for v in scalars]
        try:
            arr = parse_object(rows, None if target is None else target.leaf)
        except pa.ArrowException as err:
            raise TypeError(f"cannot build a grumpy column from these values: {err}") from err
        return cls(arr, dtype=target)

    @classmethod
    def _from_scalars(cls, scalars: Any, *, dtype: Any) -> GrumpyExtensionArray:
        """Like ``_from_sequence`` but only for values this dtype holds (pandas uses it to
        decide whether a pointwise result, e.g. of ``Series.map``, keeps the dtype)."""
        target = _as_dtype(dtype)
        if target is None:
            raise TypeError(f"expected a GrumpyDtype, got {dtype!r}")
        values = list(scalars)
        if not all(_holds(target, v) for v in values):
            raise TypeError(f"not all values are rows of {target}")
        if target.is_union and not any(isinstance(v, GrumpyList) for v in values):
            # Only scalars (e.g. ``s.map(len)``): a plain column, not a union, is expected.
            raise TypeError(f"no list rows for {target}")
        return cls._from_sequence(values, dtype=target)

    @classmethod
    def _from_sequence_of_strings(
        cls, strings: Any, *, dtype: Any, copy: bool = False
    ) -> GrumpyExtensionArray:
        """Parse rows written as Python literals (``[1, 2]``, ``'a'``), e.g. from CSV."""
        rows: list[Any] = []
        for text in strings:
            if is_na(text) or text == "":
                rows.append(None)
                continue
            try:
                rows.append(ast.literal_eval(text))
            except (ValueError, SyntaxError) as err:
                raise ValueError(f"cannot parse {text!r} as a row of {dtype}") from err
        return cls._from_sequence(rows, dtype=dtype)

    @classmethod
    def _from_factorized(cls, values: np.ndarray, original: Any) -> GrumpyExtensionArray:
        """Rebuild rows from the keys of ``_values_for_factorize``."""
        return cls._from_sequence(ordering.decode_keys(original, values), dtype=original.dtype)

    # -- basics -----------------------------------------------------------------------

    @property
    def _arrow(self) -> pa.Array:
        """The Arrow rows of this array (a zero-copy slice of the shared buffer)."""
        buf = self._buffer.array
        if self._start == 0 and self._stop == len(buf):
            return buf
        return buf.slice(self._start, self._stop - self._start)

    @property
    def dtype(self) -> GrumpyDtype:
        """The GrumpyDtype."""
        return self._dtype

    def __len__(self) -> int:
        return self._stop - self._start

    @property
    def nbytes(self) -> int:
        """Bytes held by the Arrow buffers of these rows."""
        return int(self._arrow.nbytes)

    def to_array(self) -> GrumpyArray:
        """The rows as a GrumpyArray (zero-copy)."""
        return GrumpyArray(self._arrow)

    def __arrow_array__(self, type: Any = None) -> pa.Array:
        """Arrow protocol for ``pa.array(arr)`` / ``pa.Table.from_pandas`` / ``to_parquet``.

        Columns with a union leave lowered, as ``struct<values, is_scalar>``
        (:meth:`GrumpyArray.to_arrow` with ``unions="lowered"``), which Parquet and other
        consumers take and ``GrumpyDtype.__from_arrow__`` raises again; a union inside a
        union's list child cannot be lowered and leaves native. Other columns are zero-copy.
        ``type`` asks for a type: the native union type gives the union.
        """
        arr = self._arrow
        if type is not None and arr.type.equals(type):
            return arr
        if has_union(arr.type):
            # Two union levels in one column cannot be lowered: only the native form exists.
            with contextlib.suppress(LayoutError):
                arr = self.to_array().to_arrow(unions="lowered")
        if type is not None and not arr.type.equals(type):
            return arr.cast(type)
        return arr

    def isna(self) -> np.ndarray:
        """Null rows (union rows are null when their scalar is)."""
        return np.asarray(self.to_array().is_null().to_numpy(), dtype=bool)

    def copy(self) -> GrumpyExtensionArray:
        """A new array with its own buffer (O(1): the Arrow data are immutable)."""
        return type(self)._from_exact(self._arrow, self._dtype)

    @classmethod
    def _concat_same_type(cls, to_concat: Sequence[Any]) -> GrumpyExtensionArray:
        """Rows of all arrays, in order."""
        dtype = to_concat[0].dtype
        arrays = [fit_array(a._arrow, dtype.arrow_type) for a in to_concat]
        return cls._from_exact(pa.concat_arrays(arrays), dtype)

    # -- rows out -----------------------------------------------------------------------

    def _boxed(self, start: int = 0, stop: int | None = None) -> list[Any]:
        """Rows ``start:stop`` as Python scalars, GrumpyLists and pd.NA."""
        arr = self._arrow.slice(start, (len(self) if stop is None else stop) - start)
        if pa.types.is_large_list(arr.type):
            node = lay.from_arrow(arr)
            assert isinstance(node, lay.ListNode)
            content, offsets = lay.to_arrow(node.content), node.offsets.tolist()
            valid = [True] * len(arr) if node.validity is None else node.validity.tolist()
            return [
                GrumpyList(content.slice(a, b - a)) if ok else pd.NA
                for a, b, ok in zip(offsets[:-1], offsets[1:], valid, strict=True)
            ]
        if pa.types.is_union(arr.type):
            return [_box(arr[i]) for i in range(len(arr))]
        return [pd.NA if v is None else v for v in arr.to_pylist()]

    def __iter__(self) -> Iterator[Any]:
        for start in range(0, len(self), 4096):
            yield from self._boxed(start, min(start + 4096, len(self)))

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        if copy is False:
            raise ValueError("a GrumpyExtensionArray cannot become a NumPy array without a copy")
        out = np.fromiter(self._boxed(), dtype=object, count=len(self))
        if dtype is not None and np.dtype(dtype) != object:
            return out.astype(dtype)
        return out

    def to_numpy(
        self,
        dtype: Any = None,
        copy: bool = False,
        na_value: Any = no_default,
    ) -> np.ndarray:
        """Rows as a new NumPy array (object dtype unless ``dtype`` says otherwise)."""
        out = np.asarray(self, dtype=object)  # always a new array, so always writeable
        if na_value is not no_default:
            out[self.isna()] = na_value
        if dtype is not None and np.dtype(dtype) != object:
            return out.astype(dtype)
        return out

    def _values_for_json(self) -> np.ndarray:
        return np.fromiter(self._arrow.to_pylist(), dtype=object, count=len(self))

    def _formatter(self, boxed: bool = False) -> Any:
        """Text of one row for pandas' repr: list rows as bounded previews, float32 and
        float16 values at their own precision (``-0.456``)."""
        leaf = self._dtype.leaf

        def fmt(value: Any) -> str:
            if isinstance(value, GrumpyList):
                return value.preview()
            if value is pd.NA:
                return str(value)
            if isinstance(value, float) or not boxed:
                return format_scalar(value, leaf)
            return str(value)

        return fmt

    # -- indexing -----------------------------------------------------------------------

    def __getitem__(self, item: Any) -> Any:
        item = _strip_ellipsis(item)
        if is_integer(item):
            return _box(self._arrow[self._position(item)])
        if isinstance(item, slice):
            start, stop, step = item.indices(len(self))
            if step == 1:
                return self._view(self._start + start, self._start + max(start, stop))
            return self._take_positions(np.arange(start, stop, step, dtype=np.int64))
        return self._take_positions(self._positions(item))

    def _position(self, i: Any) -> int:
        n = len(self)
        pos = int(i) + n if int(i) < 0 else int(i)
        if not 0 <= pos < n:
            raise IndexError(f"index {int(i)} is out of bounds for axis 0 with size {n}")
        return pos

    def _positions(self, key: Any) -> np.ndarray:
        """Row positions selected by a slice, a boolean mask or integer positions."""
        if isinstance(key, slice):
            return np.arange(len(self), dtype=np.int64)[key]
        if not is_list_like(key):
            raise IndexError(_BAD_INDEX)
        key = check_array_indexer(self, key)
        if key.dtype == bool:
            return np.flatnonzero(key)
        pos = np.asarray(key, dtype=np.int64)
        n = len(self)
        bad = (pos < -n) | (pos >= n)
        if bad.any():
            raise IndexError(f"index {int(pos[bad][0])} is out of bounds for axis 0 with size {n}")
        return np.where(pos < 0, pos + n, pos)

    def _take_positions(
        self, positions: np.ndarray, valid: np.ndarray | None = None
    ) -> GrumpyExtensionArray:
        if valid is not None and not valid.any():
            node = null_node(self._dtype.arrow_type, len(positions))
        else:
            node = take_rows(lay.from_arrow(self._arrow), positions, valid)
        return type(self)._from_exact(lay.to_arrow(node), self._dtype)

    def take(
        self, indices: Any, *, allow_fill: bool = False, fill_value: Any = None
    ) -> GrumpyExtensionArray:
        """Rows at ``indices``; with ``allow_fill``, -1 gives ``fill_value`` (NA default)."""
        n = len(self)
        taken = take(
            np.arange(n, dtype=np.int64),
            np.asarray(indices, dtype=np.intp),
            allow_fill=allow_fill,
            fill_value=-1,
        )
        positions = np.asarray(taken, dtype=np.int64)
        valid = positions >= 0
        if valid.all():
            return self._take_positions(positions)
        if is_na(fill_value):
            return self._take_positions(positions, valid)
        fill = type(self)._from_sequence([fill_value], dtype=self._dtype)
        both = type(self)._concat_same_type([self, fill])
        return both._take_positions(np.where(valid, positions, n))

    # -- writing ------------------------------------------------------------------------

    def __setitem__(self, key: Any, value: Any) -> None:
        """Replace whole rows (``value`` is one row to broadcast or one row per position).

        Raises
        ------
        ValueError
            For a read-only array, or when the number of values does not match.
        TypeError
            When a value does not fit the dtype.
        """
        if self._readonly:
            raise ValueError("Cannot modify read-only array")
        key = _strip_ellipsis(key)
        if is_integer(key):
            positions = np.array([self._position(key)], dtype=np.int64)
            rows = self._single_row(value)
        else:
            positions = self._positions(key)
            rows = self._rows(value, len(positions))
        if len(positions) == 0:
            return
        n = len(self)
        source = np.arange(n, dtype=np.int64)
        source[positions] = n if len(rows) == 1 else n + np.arange(len(rows), dtype=np.int64)
        merged = pa.concat_arrays([self._arrow, rows._arrow])
        self._write(lay.to_arrow(take_rows(lay.from_arrow(merged), source)))

    def _single_row(self, value: Any) -> GrumpyExtensionArray:
        if isinstance(value, (ExtensionArray, pd.Series, pd.Index)) or (
            isinstance(value, np.ndarray) and value.ndim > 0 and value.dtype == object
        ):
            raise ValueError(
                f"cannot set one row to a sequence of {len(value)} values; pass a single row"
            )
        return type(self)._from_sequence([value], dtype=self._dtype)

    def _rows(self, value: Any, count: int) -> GrumpyExtensionArray:
        cls = type(self)
        if isinstance(value, (ExtensionArray, pd.Series, pd.Index, np.ndarray)):
            rows = cls._from_sequence(value, dtype=self._dtype)
        elif isinstance(value, (list, tuple)):
            try:
                rows = cls._from_sequence(value, dtype=self._dtype)
            except (TypeError, ValueError):
                rows = cls._from_sequence([value], dtype=self._dtype)  # one row to broadcast
        else:
            rows = cls._from_sequence([value], dtype=self._dtype)
        if len(rows) not in (1, count):
            raise ValueError(f"cannot set {count} rows from {len(rows)} values")
        return rows

    def _write(self, new: pa.Array) -> None:
        buf = self._buffer.array
        if self._start == 0 and self._stop == len(buf):
            self._buffer.array = new
            return
        parts = [buf.slice(0, self._start), new, buf.slice(self._stop)]
        self._buffer.array = pa.concat_arrays(parts)

    def fillna(self, value: Any, limit: int | None = None, copy: bool = True) -> Any:
        """Replace null rows by ``value`` (one row, or one row per position)."""
        if isinstance(value, Mapping):
            raise TypeError("ExtensionArray.fillna does not support filling with a dict")
        return super().fillna(value=value, limit=limit, copy=copy)

    # -- hashing and ordering (per-row keys: see grumpy_arrow.pandas.ordering) ------------

    def _values_for_factorize(self) -> tuple[np.ndarray, Any]:
        """Hashable per-row keys (a Python loop over rows: lists have no Arrow hash)."""
        return ordering.hash_keys(self), None

    def _values_for_argsort(self) -> np.ndarray:
        """int64 ranks of the rows (equal rows share one), so that pandas sorts, ranks and
        finds extremes on plain integers. Lists have no Arrow sort kernel: flat numeric
        lists are ranked with NumPy, other rows through a Python sort of per-row keys."""
        return ordering.ranks(self)

    def factorize(self, use_na_sentinel: bool = True) -> tuple[np.ndarray, GrumpyExtensionArray]:
        """Codes and unique rows in order of appearance (null rows -1 with the sentinel)."""
        return ordering.factorize(self, use_na_sentinel=use_na_sentinel)

    def unique(self) -> GrumpyExtensionArray:
        """Distinct rows in order of appearance (one null row if any)."""
        return ordering.factorize(self, use_na_sentinel=False)[1]

    def value_counts(self, dropna: bool = True) -> pd.Series:
        """Occurrences of each distinct row (``Int64``), indexed by the rows."""
        return ordering.value_counts(self, dropna=dropna)

    def isin(self, values: Any) -> np.ndarray:
        """Whether each row equals one of ``values``."""
        return ordering.isin(self, values)

    def __contains__(self, item: object) -> bool:
        return ordering.contains(self, item)

    def searchsorted(self, value: Any, side: Any = "left", sorter: Any = None) -> Any:
        """Insertion points of ``value`` (one row or a list-like of rows) in sorted rows."""
        return ordering.searchsorted(self, value, side, sorter)

    # -- reductions and reshaping -------------------------------------------------------

    def _reduce(
        self, name: str, *, skipna: bool = True, keepdims: bool = False, **kwargs: Any
    ) -> Any:
        if name == "count":
            return super()._reduce(name, skipna=skipna, keepdims=keepdims, **kwargs)
        hint = ""
        if self._dtype.is_list or self._dtype.is_union:
            hint = f": its rows are lists; reduce inside them with s.gr.{name}(dim=-1)"
        raise TypeError(
            f"'{type(self).__name__}' with dtype {self.dtype} does not support operation "
            f"'{name}'{hint}"
        )

    def _explode(self) -> tuple[Any, np.ndarray]:
        """Elements of the rows, one per output row; empty and null rows give one NA."""
        return explode(self.to_array())


def _as_dtype(dtype: Any) -> GrumpyDtype | None:
    if dtype is None:
        return None
    if isinstance(dtype, str):
        dtype = pandas_dtype(dtype)
    if isinstance(dtype, pd.ArrowDtype):
        return GrumpyDtype(dtype.pyarrow_dtype)
    if not isinstance(dtype, GrumpyDtype):
        raise TypeError(f"expected a GrumpyDtype, got {dtype!r}")
    return dtype


def _parse(values: pa.Array | pa.ChunkedArray, target: GrumpyDtype | None) -> pa.Array:
    raised = from_lowered(values)  # a union as __arrow_array__ lowered it (read_parquet...)
    if raised is not None:
        return raised.to_arrow()
    try:
        return parse_object(values, None if target is None else target.leaf)
    except pa.ArrowException as err:
        raise TypeError(f"cannot store Arrow data of type {values.type}: {err}") from err


def _box(value: pa.Scalar) -> Any:
    """A Python scalar, a GrumpyList or pd.NA for one Arrow scalar of a grumpy array."""
    if isinstance(value, pa.UnionScalar):
        value = value.value
    if value is None or not value.is_valid:
        return pd.NA
    if isinstance(value, pa.LargeListScalar):
        return GrumpyList(value.values)
    return value.as_py()


def _holds(dtype: GrumpyDtype, value: Any) -> bool:
    """Whether ``value`` is a row of ``dtype`` as returned by indexing (not a look-alike)."""
    if is_na(value):
        return True
    if isinstance(value, GrumpyList):
        return dtype.is_list or dtype.is_union
    if dtype.is_list:
        return False
    leaf = dtype.leaf
    if isinstance(value, bool):
        return leaf.kind == "b"
    return isinstance(value, GrumpyDtype(leaf.arrow).type)


def _to_python(value: Any, dtype: GrumpyDtype | None) -> Any:
    """A row as a Python value for the builder (GrumpyLists unboxed, NA as None)."""
    if isinstance(value, float) and math.isnan(value) and (dtype is None or dtype.is_list):
        return None  # NaN in place of a list row is pandas' missing marker
    return unbox(value)


def _strip_ellipsis(key: Any) -> Any:
    if not isinstance(key, tuple):
        return key
    rest = tuple(k for k in key if k is not Ellipsis)
    if len(rest) > 1:
        raise IndexError(f"too many indices for a 1-dimensional array: {key!r}")
    return rest[0] if rest else slice(None)


# GrumpyDtype.construct_array_type: the dtype module cannot import this one, which imports it.
ARRAY_TYPE[:] = [GrumpyExtensionArray]
