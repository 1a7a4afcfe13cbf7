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
from grumpy_arrow.pandas.convert import as_grumpy, to_pandas_array
from grumpy_arrow.pandas.dtype import is_grumpy_array
from grumpy_arrow.pandas.scalar import GrumpyList

if TYPE_CHECKING:
    from grumpy_arrow.pandas.array import GrumpyExtensionArray

__all__ = ["GrumpyOpsMixin", "arith", "compare", "logical"]

Op = Callable[[Any, Any], Any]


def _reflected(op: Op) -> Op:
    """``op`` with its operands swapped: ``__radd__`` runs ``other + self``."""

    def reflected(a: Any, b: Any) -> Any:
        return op(b, a)

    reflected.__name__ = reflected.__qualname__ = f"r{op.__name__.strip('_')}"
    return reflected


# Each operator with its symbol (error messages name operators by these symbols).
_BINARY: dict[str, Op] = {
    "+": operator.add,
    "-": operator.sub,
    "*": operator.mul,
    "/": operator.truediv,
    "//": operator.floordiv,
    "%": operator.mod,
    "**": operator.pow,
    "&": operator.and_,
    "|": operator.or_,
    "^": operator.xor,
}
_REFLECTED: dict[Op, Op] = {op: _reflected(op) for op in _BINARY.values()}
_COMPARISONS: dict[str, Op] = {
    "==": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}
_SYMBOLS: dict[Op, str] = {
    **{op: symbol for symbol, op in (_BINARY | _COMPARISONS).items()},
    **{_REFLECTED[op]: symbol for symbol, op in _BINARY.items()},
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
    return isinstance(other, ExtensionArray) and not is_grumpy_array(other)


def _operand(arr: GrumpyExtensionArray, other: Any, symbol: str) -> Any:
    """``other`` as a GrumpyArray operand: a scalar, or one value per row of ``arr``.

    Raises
    ------
    TypeError
        For a single row (a GrumpyList), which has no arithmetic with a column.
    ValueError
        For arrays whose length is not the number of rows.
    """
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
    values = other if isinstance(other, GrumpyArray) else as_grumpy(other)
    if len(values) != len(arr):
        raise ValueError(
            f"Lengths must match for {symbol}: the GrumpyDtype column has {len(arr)} rows and "
            f"the other operand {len(values)}"
        )
    return values


def _to_pandas(result: Any) -> Any:
    """A GrumpyArray result as a pandas array (nullable for flat results)."""
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
    symbol = _SYMBOLS.get(op, op.__name__)
    return _to_pandas(op(arr.to_array(), _operand(arr, other, symbol)))


def logical(arr: GrumpyExtensionArray, other: Any, op: Op) -> Any:
    """``arr & other``, ``|``, ``^`` inside the rows (for ragged boolean masks).

    Returns NotImplemented for pandas containers, which unbox and call again.
    """
    return arith(arr, other, op)


def _dunder(hook: str, op: Op) -> Callable[[Any, Any], Any]:
    """An operator method that runs ``self.<hook>(other, op)`` (pandas' operator hooks)."""

    def dunder(self: Any, other: Any) -> Any:
        return getattr(self, hook)(other, op)

    return dunder


def _dunders(hook: str, op: Op) -> tuple[Callable[[Any, Any], Any], Callable[[Any, Any], Any]]:
    """``__op__`` and ``__rop__`` through ``self.<hook>``."""
    return _dunder(hook, op), _dunder(hook, _REFLECTED[op])


def _unary(op: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """A unary operator method that runs ``op`` on the rows as a GrumpyArray."""

    def dunder(self: GrumpyOpsMixin) -> Any:
        return _to_pandas(op(self._me().to_array()))

    return dunder


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

    __add__, __radd__ = _dunders("_arith_method", operator.add)
    __sub__, __rsub__ = _dunders("_arith_method", operator.sub)
    __mul__, __rmul__ = _dunders("_arith_method", operator.mul)
    __truediv__, __rtruediv__ = _dunders("_arith_method", operator.truediv)
    __floordiv__, __rfloordiv__ = _dunders("_arith_method", operator.floordiv)
    __mod__, __rmod__ = _dunders("_arith_method", operator.mod)
    __pow__, __rpow__ = _dunders("_arith_method", operator.pow)
    __and__, __rand__ = _dunders("_logical_method", operator.and_)
    __or__, __ror__ = _dunders("_logical_method", operator.or_)
    __xor__, __rxor__ = _dunders("_logical_method", operator.xor)
    __eq__ = _dunder("_cmp_method", operator.eq)
    __ne__ = _dunder("_cmp_method", operator.ne)
    __lt__ = _dunder("_cmp_method", operator.lt)
    __le__ = _dunder("_cmp_method", operator.le)
    __gt__ = _dunder("_cmp_method", operator.gt)
    __ge__ = _dunder("_cmp_method", operator.ge)
    __neg__ = _unary(operator.neg)
    __pos__ = _unary(operator.pos)
    __abs__ = _unary(operator.abs)

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
        if any(isinstance(x, _CONTAINERS) for x in inputs):
            return NotImplemented
        if method == "__call__" and not kwargs and ufunc.nout == 1:
            args = [x.to_array() if is_grumpy_array(x) else x for x in inputs]
            if all(isinstance(a, GrumpyArray) or is_scalar(a) for a in args):
                return _to_pandas(ufunc(*args))
        return ExtensionArray.__array_ufunc__(self._me(), ufunc, method, *inputs, **kwargs)
