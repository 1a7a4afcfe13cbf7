"""``GrumpyDtype``: the pandas extension dtype of grumpy columns, and its type-string parser.

The dtype's name is ``grumpy[<type>]`` where ``<type>`` is the array's type string without
its length (:func:`grumpy_arrow.layout.describe`): ``grumpy[var * int64]``,
``grumpy[union[string, var * string]]``. :func:`parse_type` reads such a string back into
the Arrow type, so ``pandas.api.types.pandas_dtype`` round-trips every name.

Examples
--------
>>> import pandas as pd
>>> from grumpy_arrow.pandas import GrumpyDtype
>>> dtype = pd.api.types.pandas_dtype("grumpy[var * int64]")
>>> dtype
GrumpyDtype('var * int64')
>>> dtype.arrow_type
LargeListType(large_list<item: int64>)
>>> GrumpyDtype("union[int64, var * var * float32]").name
'grumpy[union[int64, var * var * float32]]'
"""

from __future__ import annotations

import builtins
import re
from typing import TYPE_CHECKING, Any, TypeGuard

import pandas as pd
import pyarrow as pa
from pandas.api.extensions import ExtensionDtype, register_extension_dtype

from grumpy_arrow import dtypes as dt
from grumpy_arrow import layout as lay
from grumpy_arrow.errors import DTypeError, LayoutError
from grumpy_arrow.pandas.scalar import GrumpyList

if TYPE_CHECKING:
    from grumpy_arrow.pandas.array import GrumpyExtensionArray

__all__ = ["ARRAY_TYPE", "GrumpyDtype", "is_grumpy_array", "normalize_type", "parse_type"]

_NAME = re.compile(r"grumpy\[(?P<inner>.*)\]", re.DOTALL)
_TOKEN = re.compile(r"\s*(?:(?P<punct>[\[\],*])|(?P<word>[A-Za-z_][A-Za-z0-9_]*))")


def parse_type(text: str) -> pa.DataType:
    """The Arrow type of a grumpy type string (``var * int64``, ``union[A, B]``, a leaf name).

    Raises
    ------
    ValueError
        For text that is not a type string, naming the offending position.

    Examples
    --------
    >>> parse_type("var * union[int64, var * int64]")
    LargeListType(large_list<item: dense_union<scalar: int64=0, list: large_list<item: int64>=1>>)
    """
    tokens = _tokenize(text)
    typ, pos = _parse(tokens, 0, text)
    if pos != len(tokens):
        raise ValueError(f"unexpected {tokens[pos]!r} after a complete type in {text!r}")
    try:
        return lay.canonical_type(typ, where=f"type {text!r}")
    except LayoutError as err:
        raise ValueError(str(err)) from err


def _tokenize(text: str) -> list[str]:
    tokens, pos = [], 0
    while pos < len(text.rstrip()):
        match = _TOKEN.match(text, pos)
        if match is None:
            raise ValueError(f"cannot read {text[pos:]!r} at position {pos} of {text!r}")
        tokens.append(match.group("punct") or match.group("word"))
        pos = match.end()
    return tokens


def _parse(tokens: list[str], pos: int, text: str) -> tuple[pa.DataType, int]:
    if pos >= len(tokens):
        raise ValueError(f"type string {text!r} ends where a type was expected")
    head = tokens[pos]
    if head == "var":
        _expect(tokens, pos + 1, "*", text)
        inner, pos = _parse(tokens, pos + 2, text)
        return lay.list_of(inner), pos
    if head == "union":
        _expect(tokens, pos + 1, "[", text)
        scalar, pos = _parse(tokens, pos + 2, text)
        _expect(tokens, pos, ",", text)
        lst, pos = _parse(tokens, pos + 1, text)
        _expect(tokens, pos, "]", text)
        return lay.union_type(scalar, lst), pos + 1
    try:
        return dt.dtype(head).arrow, pos + 1
    except DTypeError as err:
        raise ValueError(f"unknown leaf type {head!r} in {text!r}") from err


def _expect(tokens: list[str], pos: int, token: str, text: str) -> None:
    found = tokens[pos] if pos < len(tokens) else "the end"
    if found != token:
        raise ValueError(f"expected {token!r} in {text!r}, found {found!r}")


def normalize_type(typ: pa.DataType) -> pa.DataType:
    """The canonical grumpy type with every leaf as its dtype's Arrow type.

    ``large_string`` / ``large_binary`` leaves become ``string`` / ``binary`` so that a
    dtype's name (which does not tell them apart) determines its Arrow type.

    Raises
    ------
    LayoutError
        For Arrow types grumpy_arrow cannot represent.
    """
    typ = lay.canonical_type(typ, where="GrumpyDtype")
    if pa.types.is_large_list(typ) or pa.types.is_fixed_size_list(typ):
        # pandas columns hold variable lists: a fixed axis is a var one there.
        return lay.list_of(normalize_type(typ.value_type))
    if pa.types.is_union(typ):
        return lay.union_type(normalize_type(typ.field(0).type), normalize_type(typ.field(1).type))
    if pa.types.is_struct(typ):
        return pa.struct(
            [
                pa.field(typ.field(i).name, normalize_type(typ.field(i).type))
                for i in range(typ.num_fields)
            ]
        )
    return dt.from_arrow_type(typ).arrow


ARRAY_TYPE: list[builtins.type[GrumpyExtensionArray]] = []
"""The array class of ``GrumpyDtype`` (``construct_array_type``):
:mod:`grumpy_arrow.pandas.array` registers ``GrumpyExtensionArray`` when it is imported (the
package imports it), so this module, which that one imports, needs no import of it."""

_PY_TYPES: dict[str, builtins.type] = {
    "b": bool,
    "i": int,
    "u": int,
    "f": float,
    "U": str,
    "S": bytes,
}


@register_extension_dtype
class GrumpyDtype(ExtensionDtype):
    """A pandas dtype for grumpy columns: list-chains, scalar-or-list unions, or leaves.

    Parameters
    ----------
    arrow_type : pyarrow.DataType or str
        The Arrow type (any list flavour is made ``large_list``) or a type string such as
        ``"var * int64"``.

    Raises
    ------
    TypeError
        For Arrow types grumpy_arrow cannot represent (structs, maps, sparse unions...).

    Examples
    --------
    >>> import pandas as pd, pyarrow as pa, grumpy_arrow as gr
    >>> dtype = gr.GrumpyDtype("var * int64")
    >>> dtype, dtype.name, dtype == gr.GrumpyDtype(pa.list_(pa.int64()))
    (GrumpyDtype('var * int64'), 'grumpy[var * int64]', True)
    >>> pd.Series([[1, 2], [], None], dtype="grumpy[var * int64]").tolist()
    [GrumpyList([1, 2]), GrumpyList([]), <NA>]
    """

    _metadata = ("arrow_type",)
    na_value = pd.NA
    kind = "O"

    def __init__(self, arrow_type: pa.DataType | str) -> None:
        if isinstance(arrow_type, str):
            try:
                arrow_type = parse_type(arrow_type)
            except ValueError as err:
                raise TypeError(f"cannot build a GrumpyDtype from {arrow_type!r}: {err}") from err
        if not isinstance(arrow_type, pa.DataType):
            raise TypeError(
                f"GrumpyDtype needs a pyarrow.DataType or a type string, got {arrow_type!r}"
            )
        if lay.has_record(arrow_type):
            raise TypeError(
                f"records ({arrow_type}) are not supported by GrumpyDtype: pandas holds them "
                "as pd.ArrowDtype struct columns (what to_pandas gives)"
            )
        self.arrow_type: pa.DataType = normalize_type(arrow_type)

    @property
    def name(self) -> str:  # type: ignore[override]  # a property here, a str upstream
        """``grumpy[<type string>]``."""
        return f"grumpy[{self.type_string}]"

    @property
    def type_string(self) -> str:
        """The type without the length: ``var * int64``."""
        return lay.describe(self.arrow_type)

    @property
    def leaf(self) -> dt.DType:
        """The leaf dtype (``gr.int64``...)."""
        return dt.from_arrow_type(lay.arrow_leaf_type(self.arrow_type))

    @property
    def is_list(self) -> bool:
        """True when every row is a list (a list-chain)."""
        return bool(pa.types.is_large_list(self.arrow_type))

    @property
    def is_union(self) -> bool:
        """True when rows may be scalars or lists."""
        return bool(pa.types.is_union(self.arrow_type))

    @property
    def type(self) -> builtins.type:  # type: ignore[override]  # a ClassVar upstream
        """The type of non-null values: ``GrumpyList`` for lists, the leaf's Python type for
        leaves, and ``object`` for unions (whose rows are either)."""
        if self.is_list:
            return GrumpyList
        if self.is_union:
            return object
        return _PY_TYPES.get(self.leaf.kind, object)

    @classmethod
    def construct_array_type(cls) -> builtins.type[GrumpyExtensionArray]:
        """The array class of this dtype (``GrumpyExtensionArray``, see :data:`ARRAY_TYPE`)."""
        return ARRAY_TYPE[0]

    @classmethod
    def construct_from_string(cls, string: str) -> GrumpyDtype:
        """Parse ``grumpy[<type string>]``.

        Raises
        ------
        TypeError
            If ``string`` is not a string or not a grumpy dtype name (pandas relies on
            ``TypeError`` to try the next registered dtype).
        """
        if not isinstance(string, str):
            raise TypeError(f"'construct_from_string' expects a string, got {type(string)}")
        match = _NAME.fullmatch(string.strip())
        if match is None:
            raise TypeError(f"Cannot construct a '{cls.__name__}' from '{string}'")
        try:
            return cls(parse_type(match.group("inner")))
        except ValueError as err:
            raise TypeError(f"Cannot construct a '{cls.__name__}' from '{string}': {err}") from err

    def __repr__(self) -> str:
        return f"GrumpyDtype({self.type_string!r})"

    def __from_arrow__(self, array: pa.Array | pa.ChunkedArray) -> GrumpyExtensionArray:
        """Build the pandas array from Arrow data (``pa.Table.to_pandas()`` and
        ``pd.read_parquet`` call this for columns whose pandas metadata names this dtype).

        A lowered union (``struct<values, is_scalar>``, what
        ``GrumpyExtensionArray.__arrow_array__`` exports) is raised back into the union.

        Raises
        ------
        TypeError
            When the data do not fit this dtype.

        Examples
        --------
        >>> import pyarrow as pa, grumpy_arrow as gr
        >>> dtype = GrumpyDtype("union[int64, var * int64]")
        >>> lowered = pa.array(gr.array([7, [1, 2], None]))
        >>> lowered.type.names, dtype.__from_arrow__(lowered).to_array().to_list()
        (['values', 'is_scalar'], [7, [1, 2], None])
        """
        return self.construct_array_type()(array, dtype=self)

    @property
    def _is_numeric(self) -> bool:
        return False

    @property
    def _is_boolean(self) -> bool:
        return False

    def _get_common_dtype(self, dtypes: list[Any]) -> Any:
        # Equal dtypes share the dtype; anything else falls back to object, as pandas does.
        if all(isinstance(d, GrumpyDtype) and d == self for d in dtypes):
            return self
        return None


def is_grumpy_array(value: object) -> TypeGuard[GrumpyExtensionArray]:
    """Whether ``value`` is a ``GrumpyExtensionArray`` (a pandas array of ``GrumpyDtype``)."""
    return isinstance(value, GrumpyDtype.construct_array_type())
