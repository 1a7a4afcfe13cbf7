"""The ``.gr`` accessors: grumpy operations on pandas Series and DataFrames.

``s.gr`` works on Series of :class:`GrumpyDtype` and of ``pd.ArrowDtype`` lists
(``list``, ``large_list``, ``fixed_size_list``, also nested). Results keep the Series' index
and name: flat results get nullable dtypes (``Int64``, ``Float64``, ``boolean``...) so that
empty and null rows can give ``pd.NA``, nested results ``GrumpyDtype``. Reductions with
``dim=None`` return one Python scalar; ``dim=0`` reduces across rows position by position
and so gets a fresh RangeIndex.

Examples
--------
>>> import pandas as pd
>>> import pyarrow as pa
>>> import grumpy_arrow.pandas  # registers the accessors
>>> s = pd.Series([[1, 2, 3], [], [4, 5]], index=list("abc"),
...               dtype=pd.ArrowDtype(pa.large_list(pa.int64())))
>>> s.gr.sum(dim=-1).tolist(), s.gr.len().tolist()
([6, 0, 9], [3, 0, 2])
>>> s.gr[0].tolist()
[1, <NA>, 4]
>>> s.gr.flatten().index.tolist()
['a', 'a', 'a', 'c', 'c']

``s.gr.str`` has the string methods of :class:`~grumpy_arrow.GrumpyArray` (``upper``,
``len``, ``contains``, ``split``... every method of :class:`grumpy_arrow.strings.
StringMethods`, looked up by name) on every string inside the rows:

>>> names = pd.Series([["C1", "h2"], [], ["O"]], dtype="grumpy[var * string]", name="el")
>>> up = names.gr.str.upper()
>>> up.name, up.dtype, up.tolist()[2]
('el', GrumpyDtype('var * string'), GrumpyList(['O']))
>>> names.gr.str.len().gr.sum(dim=-1).tolist()
[4, 0, 1]
"""

from __future__ import annotations

import builtins
import functools
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
from pandas.api.extensions import register_dataframe_accessor, register_series_accessor

from grumpy_arrow import layout as lay
from grumpy_arrow.array import GrumpyArray
from grumpy_arrow.compute.gather import leaf_rows, take_rows
from grumpy_arrow.compute.reduce import normalize_dim
from grumpy_arrow.frame import DataFrame
from grumpy_arrow.pandas.cast import null_node
from grumpy_arrow.pandas.convert import (
    as_grumpy,
    from_pandas,
    row_lengths,
    to_pandas,
    to_pandas_array,
)
from grumpy_arrow.pandas.dtype import GrumpyDtype
from grumpy_arrow.strings import StringMethods

__all__ = ["GrumpyFrameAccessor", "GrumpySeriesAccessor", "GrumpyStringAccessor"]


def _supported(dtype: Any) -> bool:
    if isinstance(dtype, GrumpyDtype):
        return True
    if not isinstance(dtype, pd.ArrowDtype):
        return False
    typ = dtype.pyarrow_dtype
    return bool(lay.arrow_depth(typ) > 0 or pa.types.is_union(typ))


@register_series_accessor("gr")
class GrumpySeriesAccessor:
    """``s.gr``: per-row grumpy operations on a Series of lists.

    Raises
    ------
    AttributeError
        On a Series whose dtype is neither GrumpyDtype nor an Arrow list type (pandas'
        convention, so that ``hasattr(s, "gr")`` is False there).
    """

    def __init__(self, series: pd.Series) -> None:
        if not _supported(series.dtype):
            raise AttributeError(
                "the .gr accessor needs a Series of GrumpyDtype or of pd.ArrowDtype lists, "
                f"got dtype {series.dtype}; convert with s.astype(GrumpyDtype(...))"
            )
        self._series = series
        self._array: GrumpyArray | None = None

    def to_array(self) -> GrumpyArray:
        """The values as a GrumpyArray (zero-copy for GrumpyDtype and large_list)."""
        if self._array is None:
            self._array = as_grumpy(self._series)
        return self._array

    def _per_row(self, result: GrumpyArray) -> pd.Series:
        s = self._series
        return to_pandas(result, index=s.index, name=s.name)

    def _per_row_masked(self, result: GrumpyArray) -> pd.Series:
        """``_per_row`` with null input rows null in the result too (a null scalar row of a
        union would otherwise reduce like an empty row)."""
        arr = self.to_array()
        if arr.null_count:
            valid = ~np.asarray(arr.is_null().to_numpy(), dtype=bool)
            rows = np.arange(len(arr), dtype=np.int64)
            result = GrumpyArray._wrap(take_rows(result.node, rows, valid))
        return self._per_row(result)

    def _wrapped(self, result: Any) -> Any:
        """A per-row result with this Series' index and name: a GrumpyArray as a Series, a
        dict of them as a DataFrame; anything else as it is."""
        if isinstance(result, GrumpyArray):
            return self._per_row(result)
        if isinstance(result, dict) and all(isinstance(v, GrumpyArray) for v in result.values()):
            index = self._series.index
            columns = {k: to_pandas_array(v) for k, v in result.items()}
            return pd.DataFrame(columns, index=index, copy=False)
        return result

    def _reduced(self, result: Any, dim: int | None) -> Any:
        if not isinstance(result, GrumpyArray):
            return result
        if dim is not None and normalize_dim(dim, self.to_array().ndim) == 0:
            return to_pandas(result, name=self._series.name)
        return self._per_row_masked(result)

    # -- structure ----------------------------------------------------------------------

    def len(self) -> pd.Series:
        """Length of each row (``Int64``; NA for null rows, 1 for scalar rows of a union)."""
        return self._per_row_masked(self.to_array().shape(1))

    def flatten(self, dim: int | None = None) -> pd.Series:
        """Remove nesting; the index repeats each row's label once per element it gives.

        ``dim=None`` gives every leaf value; ``dim=1`` the elements of the rows; ``dim=k``
        (k >= 2) merges axis k into k-1 and keeps one value per row.
        """
        arr, s = self.to_array(), self._series
        if dim is None:
            values, index = self._leaves(arr)
            return pd.Series(to_pandas_array(values), index=index, name=s.name, copy=False)
        out = arr.flatten(dim=dim)
        if normalize_dim(dim, arr.ndim) > 1:
            return self._per_row(out)
        index = s.index.repeat(row_lengths(arr))
        return pd.Series(to_pandas_array(out), index=index, name=s.name, copy=False)

    def _leaves(self, arr: GrumpyArray) -> tuple[GrumpyArray, pd.Index]:
        node = arr.node
        bounds = np.arange(len(node) + 1, dtype=np.int64)
        while isinstance(node, lay.ListNode):
            bounds = node.offsets[bounds]
            node = node.content
        if isinstance(node, lay.Leaf):  # a list-chain: counts from the offsets
            return GrumpyArray(node.values), self._series.index.repeat(np.diff(bounds))
        values, rows = leaf_rows(arr.node)
        return GrumpyArray(values), self._series.index.take(rows)

    def __getitem__(self, key: Any) -> pd.Series:
        """Per-row indexing: ``s.gr[i]`` is each row's element ``i`` (NA where a row is too
        short or null), ``s.gr[a:b]`` each row's slice. A ragged index or mask array
        (GrumpyArray) gathers or filters inside each row.

        Raises
        ------
        TypeError
            For other keys.
        """
        arr = self.to_array()
        if isinstance(key, (bool, np.bool_)) or not isinstance(
            key, (int, np.integer, slice, GrumpyArray)
        ):
            raise TypeError(
                f"s.gr[...] takes an int, a slice or a ragged GrumpyArray, got {key!r}; "
                "use s.gr.to_array()[...] for other indexing"
            )
        if isinstance(key, slice):
            return self._per_row(arr[:, key])
        if isinstance(key, GrumpyArray):
            return self._per_row(arr[key])
        return self._per_row(_element(arr, int(key)))

    # -- reductions ---------------------------------------------------------------------

    def sum(self, dim: int | None = None) -> Any:
        """Sum of valid values; ``dim=-1`` per innermost list (empty lists give 0)."""
        return self._reduced(self.to_array().sum(dim=dim), dim)

    def prod(self, dim: int | None = None) -> Any:
        """Product of valid values (empty lists give 1)."""
        return self._reduced(self.to_array().prod(dim=dim), dim)

    def mean(self, dim: int | None = None) -> Any:
        """Mean of valid values (empty lists give NA)."""
        return self._reduced(self.to_array().mean(dim=dim), dim)

    def min(self, dim: int | None = None) -> Any:
        """Minimum (empty lists give NA)."""
        return self._reduced(self.to_array().min(dim=dim), dim)

    def max(self, dim: int | None = None) -> Any:
        """Maximum (empty lists give NA)."""
        return self._reduced(self.to_array().max(dim=dim), dim)

    def std(self, dim: int | None = None) -> Any:
        """Population standard deviation, ddof=0 (empty lists give NA)."""
        return self._reduced(self.to_array().std(dim=dim), dim)

    def var(self, dim: int | None = None) -> Any:
        """Population variance, ddof=0 (empty lists give NA)."""
        return self._reduced(self.to_array().var(dim=dim), dim)

    def count(self, dim: int | None = None) -> Any:
        """Number of valid values (empty lists give 0)."""
        return self._reduced(self.to_array().count(dim=dim), dim)

    def count_nonzero(self, dim: int | None = None) -> Any:
        """Number of valid non-zero values."""
        return self._reduced(self.to_array().count_nonzero(dim=dim), dim)

    def any(self, dim: int | None = None) -> Any:
        """Whether any valid value is non-zero (empty lists give False)."""
        return self._reduced(self.to_array().any(dim=dim), dim)

    def all(self, dim: int | None = None) -> Any:
        """Whether every valid value is non-zero (empty lists give True)."""
        return self._reduced(self.to_array().all(dim=dim), dim)

    def argmin(self, dim: int | None = None) -> Any:
        """Position of the first minimum (empty lists give NA)."""
        return self._reduced(self.to_array().argmin(dim=dim), dim)

    def argmax(self, dim: int | None = None) -> Any:
        """Position of the first maximum (empty lists give NA)."""
        return self._reduced(self.to_array().argmax(dim=dim), dim)

    def ptp(self, dim: int | None = None) -> Any:
        """Peak to peak, max - min (empty lists give NA)."""
        return self._reduced(self.to_array().ptp(dim=dim), dim)

    # Last in the class body: from here on, ``str`` in this class's namespace is this.
    @property
    def str(self) -> GrumpyStringAccessor:
        """String methods on the strings inside the rows (``s.gr.str.upper()``): see
        :class:`GrumpyStringAccessor`."""
        return GrumpyStringAccessor(self)


class GrumpyStringAccessor:
    """``s.gr.str``: :class:`grumpy_arrow.strings.StringMethods` on a Series.

    Every public method of ``StringMethods`` is found by name (so methods added there
    appear here); its result comes back with the Series' index and name: a Series for an
    array result (``GrumpyDtype`` when nested, a nullable dtype when flat), a DataFrame
    for a dict of arrays (``extract_all``).

    Raises
    ------
    AttributeError
        For a name ``StringMethods`` does not have.
    DTypeError
        (a TypeError) When a method is called on a Series whose leaves are not strings.

    Examples
    --------
    >>> import grumpy_arrow as gr
    >>> s = gr.array(["GO:1", ["GO:2", "go:3"], None]).to_pandas()
    >>> s.gr.str.contains("GO").dtype
    GrumpyDtype('union[bool_, var * bool_]')
    >>> gr.from_pandas(s.gr.str.slice(3)).to_list()
    ['1', ['2', '3'], None]
    """

    def __init__(self, accessor: GrumpySeriesAccessor) -> None:
        self._accessor = accessor

    def __getattr__(self, name: builtins.str) -> Any:
        if name.startswith("_") or not callable(getattr(StringMethods, name, None)):
            methods = ", ".join(_string_methods())
            raise AttributeError(f"s.gr.str has no method {name!r}; it has {methods}")

        @functools.wraps(getattr(StringMethods, name))
        def call(*args: Any, **kwargs: Any) -> Any:
            # The data are looked at when called, so hasattr() never raises a DTypeError.
            method = getattr(self._accessor.to_array().str, name)
            return self._accessor._wrapped(method(*args, **kwargs))

        return call

    def __dir__(self) -> list[builtins.str]:
        return sorted(set(super().__dir__()) | set(_string_methods()))


def _string_methods() -> list[str]:
    """Public methods of ``GrumpyArray.str``."""
    return sorted(
        n
        for n in dir(StringMethods)
        if not n.startswith("_") and callable(getattr(StringMethods, n))
    )


def _element(arr: GrumpyArray, i: int) -> GrumpyArray:
    """Element ``i`` of every row, null where the row is null or too short.

    Scalar rows of a union count as length-1 lists (as when a frame peels a level).
    """
    lens = row_lengths(arr)
    content = arr.flatten(dim=1)
    starts = np.zeros(len(lens), dtype=np.int64)
    np.cumsum(lens[:-1], out=starts[1:])
    ok = (i < lens) if i >= 0 else (-i <= lens)
    positions = starts + (i if i >= 0 else lens + i)
    if ok.all():
        return GrumpyArray._wrap(take_rows(content.node, positions))
    if not ok.any():
        return GrumpyArray._wrap(null_node(content.to_arrow().type, len(lens)))
    return GrumpyArray._wrap(take_rows(content.node, np.where(ok, positions, 0), ok))


@register_dataframe_accessor("gr")
class GrumpyFrameAccessor:
    """``df.gr``: conversion of a pandas DataFrame to a grumpy DataFrame."""

    def __init__(self, frame: pd.DataFrame) -> None:
        self._frame = frame

    def to_grumpy(self, schema: Any = None) -> DataFrame:
        """The frame as a ``gr.DataFrame`` (schema from the argument or ``attrs``).

        See :func:`grumpy_arrow.pandas.from_pandas`.
        """
        return from_pandas(self._frame, schema=schema)
