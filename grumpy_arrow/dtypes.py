"""Leaf dtypes: public singletons, parsing, NumPy-style promotion and casting rules.

Examples
--------
>>> import grumpy_arrow as gr
>>> gr.dtype("int32")
dtype('int32')
>>> gr.promote_types(gr.int32, gr.float32).name
'float64'
>>> gr.can_cast(gr.int64, gr.int8)
False
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa

from grumpy_arrow._typing import Casting
from grumpy_arrow.errors import DTypeError

__all__ = [
    "DType",
    "binary",
    "bool_",
    "can_cast",
    "dtype",
    "float16",
    "float32",
    "float64",
    "from_arrow_type",
    "int8",
    "int16",
    "int32",
    "int64",
    "promote_types",
    "result_type_with_scalar",
    "string",
    "uint8",
    "uint16",
    "uint32",
    "uint64",
]


@dataclass(frozen=True)
class DType:
    """A leaf dtype: the element type at the bottom of every list-chain or union.

    Use the singletons (``gr.int64``, ``gr.string``...) or :func:`dtype` rather than
    building one. Each parameter is also an attribute of the same name.

    Parameters
    ----------
    name : str
        The public name (``"int32"``, ``"string"``...).
    arrow : pyarrow.DataType
        The Arrow type used for new leaves.
    kind : str
        NumPy's kind character: ``b`` bool, ``i`` signed, ``u`` unsigned, ``f`` float,
        ``U`` string, ``S`` binary, ``V`` record (the "dtype" of an array of records,
        which has no single leaf dtype: compute works on its fields).

    Examples
    --------
    >>> import grumpy_arrow as gr
    >>> gr.int32, gr.int32.arrow, gr.int32.kind, gr.int32.numpy
    (dtype('int32'), DataType(int32), 'i', dtype('int32'))
    >>> gr.dtype("int32") == gr.int32, gr.string.is_numeric
    (True, False)
    """

    name: str
    arrow: pa.DataType = field(compare=False, repr=False)
    kind: str = field(compare=False, repr=False)

    @property
    def numpy(self) -> np.dtype[Any]:
        """The NumPy dtype of the values (object for string and binary)."""
        if self.kind in "USV":
            return np.dtype(object)
        return np.dtype(self.name.rstrip("_"))

    @property
    def is_numeric(self) -> bool:
        """True for integer and floating dtypes (not bool, string, binary)."""
        return self.kind in "iuf"

    def __repr__(self) -> str:
        return f"dtype({self.name!r})"

    def __str__(self) -> str:
        return self.name


int8 = DType("int8", pa.int8(), "i")
int16 = DType("int16", pa.int16(), "i")
int32 = DType("int32", pa.int32(), "i")
int64 = DType("int64", pa.int64(), "i")
uint8 = DType("uint8", pa.uint8(), "u")
uint16 = DType("uint16", pa.uint16(), "u")
uint32 = DType("uint32", pa.uint32(), "u")
uint64 = DType("uint64", pa.uint64(), "u")
float16 = DType("float16", pa.float16(), "f")
float32 = DType("float32", pa.float32(), "f")
float64 = DType("float64", pa.float64(), "f")
bool_ = DType("bool_", pa.bool_(), "b")
string = DType("string", pa.string(), "U")
binary = DType("binary", pa.binary(), "S")
record = DType("record", pa.struct([]), "V")
"""The dtype of an array of records (Arrow ``struct``); not a leaf dtype."""

_ALL = (
    int8,
    int16,
    int32,
    int64,
    uint8,
    uint16,
    uint32,
    uint64,
    float16,
    float32,
    float64,
    bool_,
    string,
    binary,
)
_BY_NAME: dict[str, DType] = {d.name: d for d in _ALL}
_BY_NAME.update(
    {
        "bool": bool_,
        "boolean": bool_,
        "str": string,
        "utf8": string,
        "large_string": string,
        "large_utf8": string,
        "bytes": binary,
        "large_binary": binary,
        "int": int64,
        "float": float64,
        "double": float64,
        "halffloat": float16,
        "half": float16,
    }
)
_BY_ARROW: dict[pa.DataType, DType] = {d.arrow: d for d in _ALL}
_BY_ARROW[pa.large_string()] = string
_BY_ARROW[pa.large_binary()] = binary
_PYTYPES: dict[type, DType] = {bool: bool_, int: int64, float: float64, str: string, bytes: binary}


def dtype(obj: Any) -> DType:
    """Parse a dtype from a name, a ``DType``, a NumPy dtype, an Arrow type or a Python type.

    Parameters
    ----------
    obj : str, DType, numpy.dtype, pyarrow.DataType or type
        What to parse (``"int32"``, ``np.float32``, ``pa.string()``, ``int``...).

    Returns
    -------
    DType
        The matching singleton.

    Raises
    ------
    DTypeError
        If ``obj`` names no supported dtype.

    Examples
    --------
    >>> import numpy as np, grumpy_arrow as gr
    >>> gr.dtype(np.float32) is gr.float32
    True
    >>> gr.dtype("bool") is gr.bool_
    True
    """
    if isinstance(obj, DType):
        return obj
    if isinstance(obj, str):
        found = _BY_NAME.get(obj.lower())
        if found is None:
            raise DTypeError(f"unknown dtype {obj!r}; expected one of {', '.join(_BY_NAME)}")
        return found
    if isinstance(obj, pa.DataType):
        return from_arrow_type(obj)
    if isinstance(obj, type) and obj in _PYTYPES:
        return _PYTYPES[obj]
    try:
        npdt = np.dtype(obj)
    except TypeError as err:
        raise DTypeError(f"cannot interpret {obj!r} as a dtype") from err
    return _from_numpy(npdt)


def _from_numpy(npdt: np.dtype[Any]) -> DType:
    if npdt.kind == "U":
        return string
    if npdt.kind == "S":
        return binary
    if npdt.kind == "b":
        return bool_
    found = _BY_NAME.get(npdt.name)
    if found is None:
        raise DTypeError(f"NumPy dtype {npdt} has no grumpy_arrow equivalent")
    return found


def from_arrow_type(typ: pa.DataType) -> DType:
    """Return the leaf dtype of an Arrow primitive type.

    Raises
    ------
    DTypeError
        If the type is not a supported leaf type (lists and unions are layouts, not dtypes).
    """
    found = _BY_ARROW.get(typ)
    if found is None and pa.types.is_struct(typ):
        return record
    if found is None:
        raise DTypeError(
            f"Arrow type {typ} is not a supported leaf type; expected one of "
            f"{', '.join(d.name for d in _ALL)}"
        )
    return found


def promote_types(a: Any, b: Any) -> DType:
    """The smallest dtype both ``a`` and ``b`` cast to safely, following NumPy.

    bool with a number gives the number; string only promotes with string, binary with binary.

    Parameters
    ----------
    a, b : dtype-like
        DTypes or their names.

    Returns
    -------
    DType
        The promoted dtype.

    Raises
    ------
    DTypeError
        If one side is a string/binary and the other is not the same, or either is a
        record.

    Examples
    --------
    >>> import grumpy_arrow as gr
    >>> gr.promote_types("int64", "uint64").name
    'float64'
    >>> gr.promote_types(gr.bool_, gr.int8).name
    'int8'
    """
    da, db = dtype(a), dtype(b)
    if da.kind == "V" or db.kind == "V":
        raise DTypeError(
            f"records do not promote (got {da.name} and {db.name}); work on "
            "their fields: x.field(name)"
        )
    if da == db:
        return da
    if da.kind in "US" or db.kind in "US":
        raise DTypeError(f"cannot combine dtypes {da.name} and {db.name}")
    return _from_numpy(np.promote_types(da.numpy, db.numpy))


def can_cast(from_: Any, to: Any, casting: Casting = "safe") -> bool:
    """Whether ``from_`` casts to ``to`` under NumPy's ``casting`` rule.

    Parameters
    ----------
    from_, to : dtype-like
        The source and target dtypes (DTypes or their names).
    casting : {"no", "equiv", "safe", "same_kind", "unsafe"}
        NumPy's rule; strings and binary cast to each other only with ``"unsafe"``.

    Returns
    -------
    bool
        True when the cast is allowed.

    Raises
    ------
    ValueError
        For an unknown ``casting``.
    DTypeError
        For an unknown dtype name.

    Examples
    --------
    >>> import grumpy_arrow as gr
    >>> gr.can_cast(gr.int32, gr.float64), gr.can_cast(gr.float64, gr.int32, "same_kind")
    (True, False)
    """
    if casting not in ("no", "equiv", "safe", "same_kind", "unsafe"):
        raise ValueError(
            f"casting must be 'no', 'equiv', 'safe', 'same_kind' or 'unsafe', got {casting!r}"
        )
    da, db = dtype(from_), dtype(to)
    if da == db:
        return True
    if da.kind in "US" or db.kind in "US":
        return casting == "unsafe" and (da.kind in "US") == (db.kind in "US")
    return bool(np.can_cast(da.numpy, db.numpy, casting=casting))


def result_type_with_scalar(arr: DType, value: Any) -> DType:
    """The dtype of ``array <op> python_scalar`` under NumPy 2 (NEP 50) rules.

    A Python int keeps an integer array's dtype, a Python float keeps a float array's
    dtype and turns an integer array into float64, a bool keeps everything.
    NumPy scalars and dtyped values promote like arrays.
    """
    if isinstance(value, np.generic):
        return promote_types(arr, _from_numpy(value.dtype))
    if isinstance(value, bool):
        return arr
    if isinstance(value, int):
        return int64 if arr.kind == "b" else _require_numeric(arr, value)
    if isinstance(value, float):
        if arr.kind == "f":
            return arr
        return float64 if arr.kind in "biu" else _require_numeric(arr, value)
    if isinstance(value, str):
        if arr.kind != "U":
            raise DTypeError(f"cannot combine an array of {arr.name} with the string {value!r}")
        return arr
    if isinstance(value, bytes):
        if arr.kind != "S":
            raise DTypeError(f"cannot combine an array of {arr.name} with the bytes {value!r}")
        return arr
    raise DTypeError(f"unsupported scalar operand {value!r} of type {type(value).__name__}")


def _require_numeric(arr: DType, value: Any) -> DType:
    if arr.kind not in "iuf":
        raise DTypeError(f"cannot combine an array of {arr.name} with the number {value!r}")
    return arr
