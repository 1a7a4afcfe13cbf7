"""Operators of ``GrumpyDtype`` arrays: arithmetic and comparisons inside the rows, as
``GrumpyArray`` does, and comparisons of whole rows, as pandas does for object columns.

The operand decides which one runs:

* numbers, strings, bools, NumPy numeric arrays, pandas' nullable arrays (one value per row)
  and ``GrumpyArray`` operands work **inside the rows** (broadcast like ``GrumpyArray``):
  ``s * 2``, ``s + s``, ``s > 0`` keep the raggedness, so a comparison of list rows is a
  ragged boolean ``GrumpyDtype`` column (flat results become pandas' nullable dtypes);
* rows — a ``GrumpyList`` (one row for all), a list, tuple or object array of rows (one
  per row, as pandas reads list-likes), another ``GrumpyDtype`` array, ``NA`` — are
  compared **row by row** (:func:`grumpy_arrow.pandas.ordering.compare`,
  nullable booleans), and arithmetic with a single row raises ``TypeError``. Two
  ``GrumpyDtype`` arrays add elementwise but compare row by row: ``s == s`` says which rows
  are equal, as pandas' ``equals`` and its extension suite expect. In a scalar-or-list
  (union) column a scalar is a row too, so ``s == 5`` compares rows there (what ``.loc``
  on a grouped union column relies on); ``s.gr.to_array() > 0`` compares inside them.

Examples
--------
>>> import grumpy_arrow as gr
>>> s = gr.array([[1.5, 2.0], [], [3.0]]).to_pandas()
>>> gr.from_pandas(s * 2).to_list()
[[3.0, 4.0], [], [6.0]]
>>> (s > 1.8).dtype, gr.from_pandas(s > 1.8).to_list()
(GrumpyDtype('var * bool_'), [[False, True], [], [True]])
>>> (s == s[0]).tolist(), (s == [[1.5, 2.0], [], [3.5]]).tolist()
([True, False, False], [True, True, False])
>>> u = gr.array([5, [5, 6], None]).to_pandas()
>>> (u == 5).tolist(), gr.from_pandas(u + 1).to_list()
([True, False, <NA>], [6, [6, 7], None])
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, cast

import numpy as np
import pandas as pd
from pandas.api.extensions import ExtensionArray

from grumpy_arrow.array import GrumpyArray, is_scalar
from grumpy_arrow.pandas import ordering
from grumpy_arrow.pandas.scalar import GrumpyList

if TYPE_CHECKING:
    from grumpy_arrow.pandas.array import GrumpyExtensionArray

__all__ = ["GrumpyOpsMixin", "arith", "compare", "logical"]

Op = Callable[[Any, Any], Any]


def _radd(a: Any, b: Any) -> Any:
    return b + a


def _rsub(a: Any, b: Any) -> Any:
    return b - a


def _rmul(a: Any, b: Any) -> Any:
    return b * a


def _rtruediv(a: Any, b: Any) -> Any:
    return b / a


def _rfloordiv(a: Any, b: Any) -> Any:
    return b // a


def _rmod(a: Any, b: Any) -> Any:
    return b % a


def _rpow(a: Any, b: Any) -> Any:
    return b**a


def _rand(a: Any, b: Any) -> Any:
    return b & a


def _ror(a: Any, b: Any) -> Any:
    return b | a


def _rxor(a: Any, b: Any) -> Any:
    return b ^ a


_SYMBOLS: dict[Op, str] = {
    operator.add: "+",
    _radd: "+",
    operator.sub: "-",
    _rsub: "-",
    operator.mul: "*",
    _rmul: "*",
    operator.truediv: "/",
    _rtruediv: "/",
    operator.floordiv: "//",
    _rfloordiv: "//",
    operator.mod: "%",
    _rmod: "%",
    operator.pow: "**",
    _rpow: "**",
    operator.and_: "&",
    _rand: "&",
    operator.or_: "|",
    _ror: "|",
    operator.xor: "^",
    _rxor: "^",
}

_CONTAINERS = (pd.Series, pd.Index, pd.DataFrame)


def _is_na(value: Any) -> bool:
    return value is None or value is pd.NA or value is pd.NaT


def _unzero(other: Any) -> Any:
    """A 0-d NumPy array as its scalar (NumPy's and pandas' convention)."""
    if isinstance(other, np.ndarray) and other.ndim == 0:
        return other[()]
    return other


def _is_elementwise(arr: GrumpyExtensionArray, other: Any) -> bool:
    """Whether ``other`` compares inside the rows of ``arr`` (else it holds rows)."""
    if isinstance(other, GrumpyArray):
        return True
    if arr.dtype.is_union:
        return False  # a scalar (or one per row) is a row of a scalar-or-list column
    if is_scalar(other):
        return other is not None
    if isinstance(other, np.ndarray):
        return other.dtype.kind in "biufUS"
    from grumpy_arrow.pandas.array import GrumpyExtensionArray

    return isinstance(other, ExtensionArray) and not isinstance(other, GrumpyExtensionArray)


def _operand(arr: GrumpyExtensionArray, other: Any, symbol: str) -> Any:
    """``other`` as a GrumpyArray operand: a scalar, or one value per row of ``arr``.

    Raises
    ------
    TypeError
        For a single row (a GrumpyList), which has no arithmetic with a column.
    ValueError
        For arrays whose length is not the number of rows.
    """
    from grumpy_arrow.pandas.array import GrumpyExtensionArray
    from grumpy_arrow.pandas.convert import as_grumpy

    if isinstance(other, GrumpyList):
        raise TypeError(
            f"unsupported operand for {symbol}: a GrumpyDtype column ({arr.dtype}) and a single "
            f"row {other!r}; use a number, an array with one value per row, a GrumpyArray or a "
            "GrumpyDtype column"
        )
    if _is_na(other):
        return None
    if is_scalar(other):
        return other
    if isinstance(other, GrumpyExtensionArray):
        values = other.to_array()
    elif isinstance(other, GrumpyArray):
        values = other
    else:
        values = as_grumpy(other)
    if len(values) != len(arr):
        raise ValueError(
            f"Lengths must match for {symbol}: the GrumpyDtype column has {len(arr)} rows and "
            f"the other operand {len(values)}"
        )
    return values


def _to_pandas(result: Any) -> Any:
    """A GrumpyArray result as a pandas array (nullable for flat results)."""
    from grumpy_arrow.pandas.convert import to_pandas_array

    if not isinstance(result, GrumpyArray):
        raise TypeError(f"expected a GrumpyArray result, got {type(result).__name__}")
    return to_pandas_array(result)


def arith(arr: GrumpyExtensionArray, other: Any, op: Op) -> Any:
    """``arr op other`` inside the rows (``GrumpyArray``'s elementwise operators).

    Returns NotImplemented for pandas containers, which unbox and call again.

    Raises
    ------
    TypeError
        For a single row as operand, or dtypes the operator does not take.
    ValueError
        For lengths or list lengths that do not broadcast.
    """
    other = _unzero(other)
    if isinstance(other, _CONTAINERS):
        return NotImplemented
    values = _operand(arr, other, _SYMBOLS.get(op, op.__name__))
    return _to_pandas(op(arr.to_array(), values))


def compare(arr: GrumpyExtensionArray, other: Any, op: Op) -> Any:
    """``arr op other``: inside the rows for elementwise operands, else row by row (see the
    module docstring).

    Returns NotImplemented for pandas containers, which unbox and call again.
    """
    other = _unzero(other)
    if isinstance(other, _CONTAINERS):
        return NotImplemented
    if not _is_elementwise(arr, other):
        return ordering.compare(arr, other, op)
    symbol = {
        operator.eq: "==",
        operator.ne: "!=",
        operator.lt: "<",
        operator.le: "<=",
        operator.gt: ">",
        operator.ge: ">=",
    }.get(op, op.__name__)
    return _to_pandas(op(arr.to_array(), _operand(arr, other, symbol)))


def logical(arr: GrumpyExtensionArray, other: Any, op: Op) -> Any:
    """``arr & other``, ``|``, ``^`` inside the rows (for ragged boolean masks).

    Returns NotImplemented for pandas containers, which unbox and call again.
    """
    return arith(arr, other, op)


class GrumpyOpsMixin:
    """Operator dunders of :class:`~grumpy_arrow.pandas.GrumpyExtensionArray`, through
    pandas' ``_arith_method`` / ``_cmp_method`` / ``_logical_method`` hooks."""

    def _me(self) -> GrumpyExtensionArray:
        return cast("GrumpyExtensionArray", self)

    def _arith_method(self, other: Any, op: Op) -> Any:
        return arith(self._me(), other, op)

    def _cmp_method(self, other: Any, op: Op) -> Any:
        return compare(self._me(), other, op)

    def _logical_method(self, other: Any, op: Op) -> Any:
        return logical(self._me(), other, op)

    def __add__(self, other: Any) -> Any:
        return self._arith_method(other, operator.add)

    def __radd__(self, other: Any) -> Any:
        return self._arith_method(other, _radd)

    def __sub__(self, other: Any) -> Any:
        return self._arith_method(other, operator.sub)

    def __rsub__(self, other: Any) -> Any:
        return self._arith_method(other, _rsub)

    def __mul__(self, other: Any) -> Any:
        return self._arith_method(other, operator.mul)

    def __rmul__(self, other: Any) -> Any:
        return self._arith_method(other, _rmul)

    def __truediv__(self, other: Any) -> Any:
        return self._arith_method(other, operator.truediv)

    def __rtruediv__(self, other: Any) -> Any:
        return self._arith_method(other, _rtruediv)

    def __floordiv__(self, other: Any) -> Any:
        return self._arith_method(other, operator.floordiv)

    def __rfloordiv__(self, other: Any) -> Any:
        return self._arith_method(other, _rfloordiv)

    def __mod__(self, other: Any) -> Any:
        return self._arith_method(other, operator.mod)

    def __rmod__(self, other: Any) -> Any:
        return self._arith_method(other, _rmod)

    def __pow__(self, other: Any) -> Any:
        return self._arith_method(other, operator.pow)

    def __rpow__(self, other: Any) -> Any:
        return self._arith_method(other, _rpow)

    def __and__(self, other: Any) -> Any:
        return self._logical_method(other, operator.and_)

    def __rand__(self, other: Any) -> Any:
        return self._logical_method(other, _rand)

    def __or__(self, other: Any) -> Any:
        return self._logical_method(other, operator.or_)

    def __ror__(self, other: Any) -> Any:
        return self._logical_method(other, _ror)

    def __xor__(self, other: Any) -> Any:
        return self._logical_method(other, operator.xor)

    def __rxor__(self, other: Any) -> Any:
        return self._logical_method(other, _rxor)

    def __eq__(self, other: object) -> Any:
        return self._cmp_method(other, operator.eq)

    def __ne__(self, other: object) -> Any:
        return self._cmp_method(other, operator.ne)

    def __lt__(self, other: Any) -> Any:
        return self._cmp_method(other, operator.lt)

    def __le__(self, other: Any) -> Any:
        return self._cmp_method(other, operator.le)

    def __gt__(self, other: Any) -> Any:
        return self._cmp_method(other, operator.gt)

    def __ge__(self, other: Any) -> Any:
        return self._cmp_method(other, operator.ge)

    def __neg__(self) -> Any:
        return _to_pandas(-self._me().to_array())

    def __pos__(self) -> Any:
        return _to_pandas(+self._me().to_array())

    def __abs__(self) -> Any:
        return _to_pandas(abs(self._me().to_array()))

    def __invert__(self) -> Any:
        """Negate a boolean column (ragged masks included).

        Raises
        ------
        TypeError
            For other leaf dtypes (``np.invert(s)`` gives integers' bitwise NOT).
        """
        arr = self._me()
        if arr.dtype.leaf.kind != "b":
            raise TypeError(
                f"~ negates boolean rows; the column has dtype {arr.dtype} (use np.invert(s) "
                "for the bitwise NOT of integers)"
            )
        return _to_pandas(~arr.to_array())

    def __array_ufunc__(self, ufunc: np.ufunc, method: str, *inputs: Any, **kwargs: Any) -> Any:
        """NumPy ufuncs run on the leaves through ``GrumpyArray`` (``np.sqrt(s)``,
        ``np.hypot(s, s)``); other calls get pandas' default handling."""
        from grumpy_arrow.pandas.array import GrumpyExtensionArray

        if any(isinstance(x, _CONTAINERS) for x in inputs):
            return NotImplemented
        if method == "__call__" and not kwargs and ufunc.nout == 1:
            args = [x.to_array() if isinstance(x, GrumpyExtensionArray) else x for x in inputs]
            if all(isinstance(a, GrumpyArray) or is_scalar(a) for a in args):
                return _to_pandas(ufunc(*args))
        return ExtensionArray.__array_ufunc__(self._me(), ufunc, method, *inputs, **kwargs)
