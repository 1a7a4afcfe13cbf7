"""``GrumpyList``: the scalar pandas returns for a list row of a grumpy column.

pandas and NumPy treat iterable values as sequences of values in many code paths (array
construction, ``setitem``, ``fillna``, ``isin``, ``np.asarray``), so a list row comes back
as a value that is deliberately *not* a sequence: no ``__iter__`` or ``__getitem__`` (what
pandas' ``is_list_like`` and NumPy's sequence check look for). It has a length, so
``len(row)`` and ``s.map(len)`` give the row's number of elements. It holds the row as a
:class:`~grumpy_arrow.GrumpyArray` (zero-copy), compares equal to another ``GrumpyList``
or a Python list with the same contents, orders lexicographically (after every scalar,
so that scalar-or-list columns sort too), and is hashable.

Examples
--------
>>> import pandas as pd
>>> s = pd.Series(pd.array([[1, 2], [], [3]], dtype="grumpy[var * int64]"))
>>> row = s[0]
>>> row
GrumpyList([1, 2])
>>> row == [1, 2], row.to_list(), row < s[2], pd.api.types.is_list_like(row)
(True, [1, 2], True, False)
>>> len(row), s.map(len).tolist()
(2, [2, 0, 1])
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from grumpy_arrow.array import GrumpyArray
from grumpy_arrow.pandas.format import format_row
from grumpy_arrow.pandas.keys import tag_value

__all__ = ["GrumpyList", "is_na", "unbox"]


def _comparison(op: Callable[[Any, Any], bool]) -> Callable[[GrumpyList, Any], Any]:
    """A comparison method of rows: ``op`` of the two rows' keys, or NotImplemented for
    values rows do not compare with."""

    def compare(self: GrumpyList, other: Any) -> Any:
        key = self._other_key(other)
        return key if key is NotImplemented else op(self.key, key)

    return compare


class GrumpyList:
    """One list row of a grumpy column (not a sequence, so pandas never unpacks it).

    Parameters
    ----------
    values : GrumpyArray or pyarrow.Array
        The row's contents.

    Examples
    --------
    >>> import pandas as pd, grumpy_arrow as gr
    >>> row = pd.Series([[1, 2], [3]], dtype="grumpy[var * int64]")[0]
    >>> row, row.size, row.to_list()
    (GrumpyList([1, 2]), 2, [1, 2])
    >>> gr.GrumpyList(gr.array([[1], []])).to_array()
    <GrumpyArray [[1], []] type='2 * var * int64'>
    """

    __slots__ = ("_array", "_key")

    def __init__(self, values: GrumpyArray | pa.Array) -> None:
        self._array = values if isinstance(values, GrumpyArray) else GrumpyArray(values)
        self._key: Any = None

    def to_array(self) -> GrumpyArray:
        """The row's contents as a GrumpyArray (zero-copy)."""
        return self._array

    def to_list(self) -> list[Any]:
        """The row's contents as (nested) Python lists."""
        return self._array.to_list()

    @property
    def size(self) -> int:
        """Number of elements in the row (its outer length)."""
        return len(self._array)

    def __len__(self) -> int:
        """Number of elements in the row (its outer length), as ``size``."""
        return len(self._array)

    def preview(self, width: int = 72) -> str:
        """Bounded text of the row (float32 values at float32 precision)."""
        return format_row(self._array, width)

    @property
    def key(self) -> Any:
        """The row's tagged key (see :mod:`grumpy_arrow.pandas.keys`): equal rows have equal
        keys, and keys order rows lexicographically."""
        if self._key is None:
            self._key = tag_value(self.to_list())
        return self._key

    def _other_key(self, other: Any) -> Any:
        """The key of ``other`` if it is a value a row compares with, else NotImplemented."""
        if isinstance(other, GrumpyList):
            return other.key
        if isinstance(other, (list, tuple)):
            return tag_value(_as_lists(other))
        if isinstance(other, (bool, int, float, str, bytes)):
            return tag_value(other)
        return NotImplemented

    __eq__ = _comparison(operator.eq)
    __ne__ = _comparison(operator.ne)
    __lt__ = _comparison(operator.lt)
    __le__ = _comparison(operator.le)
    __gt__ = _comparison(operator.gt)
    __ge__ = _comparison(operator.ge)

    def __hash__(self) -> int:
        return hash(self.key)

    def __repr__(self) -> str:
        return f"GrumpyList({self.preview()})"

    def __str__(self) -> str:
        return str(self.to_list())

    def __reduce__(self) -> tuple[Any, ...]:
        return (GrumpyList, (self._array.to_arrow(),))


def _as_lists(value: Any) -> Any:
    if isinstance(value, (list, tuple)):
        return [_as_lists(v) for v in value]
    if isinstance(value, GrumpyList):
        return value.to_list()
    return value


def is_na(value: Any) -> bool:
    """Whether ``value`` marks a missing row: None, ``pd.NA``, ``pd.NaT`` or a float NaN."""
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    return isinstance(value, float) and math.isnan(value)


def unbox(value: Any) -> Any:
    """A row as plain Python values for the builders: GrumpyLists, NumPy arrays and tuples
    as (nested) lists, ``None`` / ``pd.NA`` / ``pd.NaT`` as None."""
    if isinstance(value, GrumpyList):
        return value.to_list()
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, np.ndarray):
        return [unbox(v) for v in value.tolist()]
    if isinstance(value, (list, tuple)):
        return [unbox(v) for v in value]
    return value
