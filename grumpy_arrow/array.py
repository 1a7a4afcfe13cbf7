"""``GrumpyArray``: a thin shell over one Arrow array that validates and delegates.

Examples
--------
>>> import grumpy_arrow as gr
>>> x = gr.array([[1, 2, 3], [4, 5]], dtype=gr.int32)
>>> x
<GrumpyArray [[1, 2, 3], [4, 5]] type='2 * var * int32'>
>>> x.mean(dim=1).to_list()
[2.0, 4.5]
>>> (gr.array([1, [2, 3], 4]) * gr.array([10, 20, 30])).to_list()
[10, [40, 60], 120]
"""

from __future__ import annotations

import builtins
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, cast

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from grumpy_arrow import dtypes as dt
from grumpy_arrow import layout as lay
from grumpy_arrow._docstrings import name_method, operator_doc, reduction_doc, shared
from grumpy_arrow._typing import (
    Casting,
    Dictionaries,
    DTypeLike,
    ReductionMethod,
    SpreadMethod,
    TorchLayout,
    Unions,
)
from grumpy_arrow.compute import assign as asn
from grumpy_arrow.compute import index as ix
from grumpy_arrow.compute import lowering, stats
from grumpy_arrow.compute import reduce as rd
from grumpy_arrow.compute import sort as so
from grumpy_arrow.compute import structure as st
from grumpy_arrow.compute.broadcast import broadcast_nodes
from grumpy_arrow.compute.elementwise import (
    BINARY,
    UNARY,
    compare_scalar,
    map_leaves,
    round_kernel,
    scalar_operand,
    zip_leaves,
)
from grumpy_arrow.compute.gather import leaf_values, take_primitive_lists, take_rows
from grumpy_arrow.construct import parse_object
from grumpy_arrow.display import preview
from grumpy_arrow.statistics import Statistics

if TYPE_CHECKING:
    from grumpy_arrow.strings import StringMethods

from grumpy_arrow.compute import lookup
from grumpy_arrow.errors import (
    ConversionError,
    DTypeError,
    LayoutError,
    OutOfBoundsError,
)
from grumpy_arrow.strings import StringMethods

__all__ = [
    "FRAMES",
    "NUMPY_PROTOCOL",
    "GrumpyArray",
    "asarray",
    "from_lowered",
    "is_lowered_type",
    "is_scalar",
    "parse_index",
    "operand_like",
    "where_arrays",
]

_SCALARS = (bool, int, float, str, bytes, np.generic)


def is_scalar(obj: Any) -> bool:
    """True for Python/NumPy scalars and None (operands that broadcast everywhere)."""
    return obj is None or isinstance(obj, _SCALARS)


def asarray(obj: Any, dtype: DTypeLike | None = None) -> GrumpyArray:
    """``obj`` as a GrumpyArray (no copy when it already is one of the requested dtype)."""
    if isinstance(obj, GrumpyArray) and dtype is None:
        return obj
    target = None if dtype is None else dt.dtype(dtype)
    obj = _import_capsule(obj)
    raised = from_lowered(obj)
    if raised is not None:
        return raised if target is None else raised.astype(target, casting="same_kind")
    return GrumpyArray(parse_object(obj, target))


LOWERED_FIELDS = ("values", "is_scalar")
LOWERED_KEY = b"grumpy_arrow.lowered"


def is_lowered_type(typ: pa.DataType) -> bool:
    """Whether an Arrow type is the lowered form of a union array (struct values/is_scalar)."""
    return bool(
        pa.types.is_struct(typ)
        and typ.num_fields == 2
        and tuple(typ.field(i).name for i in range(2)) == LOWERED_FIELDS
    )


def _import_capsule(obj: Any) -> Any:
    """Arrow PyCapsule exporters (Polars, DuckDB, nanoarrow...) as pyarrow objects, read once."""
    if isinstance(obj, (pa.Array, pa.ChunkedArray, GrumpyArray, np.ndarray, list, tuple)):
        return obj
    if hasattr(obj, "__arrow_c_array__"):
        return pa.array(obj)
    if hasattr(obj, "__arrow_c_stream__"):
        return pa.chunked_array(obj)
    return obj


def from_lowered(obj: Any) -> GrumpyArray | None:
    """The union array behind a lowered export (``struct<values, is_scalar>``), else None."""
    if not isinstance(obj, (pa.Array, pa.ChunkedArray)) or not is_lowered_type(obj.type):
        return None
    arr = obj.combine_chunks() if isinstance(obj, pa.ChunkedArray) else obj
    if arr.null_count:
        raise LayoutError("a lowered union (struct<values, is_scalar>) cannot have null rows")
    values = GrumpyArray(parse_object(arr.field(0), None))
    flags = GrumpyArray(parse_object(arr.field(1), dt.bool_))
    return GrumpyArray._wrap(lowering.raise_node(values.node, flags.node))


def _reduction(name: str) -> ReductionMethod:
    """The method ``GrumpyArray.<name>``: the reduction kernel ``name`` over ``dim``,
    documented from ``_docstrings.REDUCTIONS``."""

    def method(self: GrumpyArray, dim: int | None = None) -> Any:
        return self._reduce(name, dim)

    name_method(method, "GrumpyArray", name, reduction_doc(name))
    return cast(ReductionMethod, method)


def _spread_reduction(name: str) -> SpreadMethod:
    """The method ``GrumpyArray.std`` or ``var`` (``ddof`` delta degrees of freedom)."""

    def method(self: GrumpyArray, dim: int | None = None, *, ddof: int = 0) -> Any:
        return self._spread(name, dim, ddof)

    name_method(method, "GrumpyArray", name, reduction_doc(name))
    return cast(SpreadMethod, method)


# The binary operators: kernel of compute.elementwise.BINARY -> (method stem, symbol).
_OPERATORS: dict[str, tuple[str, str]] = {
    "add": ("add", "+"),
    "subtract": ("sub", "-"),
    "multiply": ("mul", "*"),
    "true_divide": ("truediv", "/"),
    "floor_divide": ("floordiv", "//"),
    "remainder": ("mod", "%"),
    "power": ("pow", "**"),
    "equal": ("eq", "=="),
    "not_equal": ("ne", "!="),
    "less": ("lt", "<"),
    "less_equal": ("le", "<="),
    "greater": ("gt", ">"),
    "greater_equal": ("ge", ">="),
    "and": ("and", "&"),
    "or": ("or", "|"),
    "xor": ("xor", "^"),
}


_COMPARISONS = frozenset({"equal", "not_equal", "less", "less_equal", "greater", "greater_equal"})


def _operator(kernel: str, *, reflected: bool = False) -> Callable[[GrumpyArray, Any], GrumpyArray]:
    """A binary operator method: the ``compute.elementwise.BINARY`` kernel ``kernel``,
    with ``self`` on the right when ``reflected`` (``__radd__``...)."""

    def method(self: GrumpyArray, other: Any) -> GrumpyArray:
        return self._binary(other, kernel, reflected)

    stem, symbol = _OPERATORS[kernel]
    name = f"__{'r' if reflected else ''}{stem}__"
    name_method(method, "GrumpyArray", name, operator_doc(kernel, symbol, reflected))
    return method


class GrumpyArray(Statistics):
    """A ragged, nested or union array over one Arrow array.

    Build one with :func:`grumpy_arrow.array`. Operations return new arrays; slices share
    buffers. See ``docs/array-model.md`` for layouts, nulls, unions, dims and broadcasting.

    Parameters
    ----------
    data : pyarrow.Array
        The Arrow array to wrap, without copying: a leaf, a ``large_list`` chain, a
        ``dense_union`` of scalars and lists, or a struct of records.
    node : layout node, optional
        The layout of ``data`` when the caller already has it (it is worked out on first
        use otherwise).

    Raises
    ------
    TypeError
        If ``data`` is not a ``pyarrow.Array`` (:func:`grumpy_arrow.array` converts other
        objects).

    Examples
    --------
    >>> import pyarrow as pa
    >>> import grumpy_arrow as gr
    >>> gr.GrumpyArray(pa.array([[1, 2], [3]], type=pa.large_list(pa.int64())))
    <GrumpyArray [[1, 2], [3]] type='2 * var * int64'>
    """

    __slots__ = ("_data", "_dtype", "_node")
    __hash__ = None  # type: ignore[assignment]  # == is elementwise

    def __init__(self, data: pa.Array, *, node: lay.Node | None = None) -> None:
        if not isinstance(data, pa.Array):
            raise TypeError(
                f"GrumpyArray wraps a pyarrow.Array, got {type(data).__name__}; "
                "use gr.array(...) to build one from other objects"
            )
        self._data = data
        self._node = node
        self._dtype: dt.DType | None = None

    @classmethod
    def _wrap(cls, node: lay.Node) -> GrumpyArray:
        return cls(lay.to_arrow(node), node=node)

    @property
    def node(self) -> lay.Node:
        """The layout nodes (offsets rebased to 0, compact union children).

        Examples
        --------
        >>> import grumpy_arrow as gr
        >>> type(gr.array([[1, 2], [3]]).node).__name__
        'ListNode'
        """
        if self._node is None:
            self._node = lay.from_arrow(self._data)
        return self._node

    # -- inspection -------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self._data)

    @property
    def dtype(self) -> dt.DType:
        """The leaf dtype.

        Examples
        --------
        >>> import grumpy_arrow as gr
        >>> gr.array([[1.5], [2.0, None]]).dtype
        dtype('float64')
        """
        if self._dtype is None:  # (worked out once: the data never changes)
            self._dtype = dt.from_arrow_type(lay.arrow_leaf_type(self._data.type))
        return self._dtype

    @property
    def ndim(self) -> int:
        """Number of axes: the maximum list depth + 1.

        Examples
        --------
        >>> import grumpy_arrow as gr
        >>> gr.array([1, 2]).ndim, gr.array([[[1], []], []]).ndim
        (1, 3)
        """
        return lay.arrow_depth(self._data.type) + 1

    @property
    def is_union(self) -> bool:
        """True when the rows mix scalars and lists (a dense union at the root).

        Examples
        --------
        >>> import grumpy_arrow as gr
        >>> gr.array([1, [2, 3]]).is_union, gr.array([[1], [2, 3]]).is_union
        (True, False)
        """
        return bool(pa.types.is_union(self._data.type))

    @property
    def type(self) -> str:
        """Awkward-like type string, e.g. ``'2 * var * int64'``.

        Examples
        --------
        >>> import grumpy_arrow as gr
        >>> gr.array([[1, 2], [3]]).type, gr.array(["a", ["b"]]).type
        ('2 * var * int64', '2 * union[string, var * string]')
        """
        return f"{len(self)} * {lay.describe(self._data.type)}"

    @property
    def null_count(self) -> int:
        """Null rows: null leaves, null lists, and null scalar rows of a union.

        Examples
        --------
        >>> import grumpy_arrow as gr
        >>> gr.array([[1, None], None, [3]]).null_count, gr.array([1, None, [None]]).null_count
        (1, 1)
        """
        return lay.count_nulls(self.node)

    def is_null(self, dim: int = 0) -> GrumpyArray:
        """True where an entry of axis ``dim`` is null: rows for ``dim=0`` (a flat bool
        array; union rows from their children), the values for ``dim=-1``, the lists of a
        level in between; the result has the structure of the axes above ``dim``.

        Parameters
        ----------
        dim : int, default 0
            The axis whose entries are tested (negative counts from the innermost axis).

        Returns
        -------
        GrumpyArray
            Bool values with the structure of the axes above ``dim``.

        Raises
        ------
        OutOfBoundsError
            If ``dim`` is outside ``[-ndim, ndim)``.
        LayoutError
            For an inner ``dim`` (not 0, not the values) of rows that mix scalars and lists.

        Examples
        --------
        >>> import grumpy_arrow as gr
        >>> x = gr.array([[1, None], None, [3]])
        >>> x.is_null().to_list(), x.is_null(dim=-1).to_list()
        ([False, True, False], [[False, True], None, [False]])
        """
        k = rd.normalize_dim(dim, self.ndim)
        if k and k == self.ndim - 1:  # the values, whatever the rows hold (unions too)
            return GrumpyArray._wrap(map_leaves(self.node, pc.is_null))
        return GrumpyArray._wrap(_null_at(self.node, k))

    def fill_null(self, value: Any) -> GrumpyArray:
        """Null values (at any depth, union scalars included) replaced by ``value``, which
        must fit the leaf dtype exactly; null lists stay null (a list row has no value to
        fill), as ``is_null(dim=-1)`` shows them.

        Parameters
        ----------
        value : scalar
            The fill value, of the leaf dtype (``0`` fills float values; ``1.5`` does not fill
            int64 ones).

        Returns
        -------
        GrumpyArray
            The same structure and dtype, without null values.

        Raises
        ------
        ValueError
            If ``value`` is None.
        ConversionError
            If ``value`` does not fit the leaf dtype.

        Examples
        --------
        >>> import grumpy_arrow as gr
        >>> gr.array([[1, None], None, [3]]).fill_null(0).to_list()
        [[1, 0], None, [3]]
        """
        if value is None:
            raise ValueError("fill_null needs a value (None would leave every null in place)")
        try:
            fill = parse_object([value], self.dtype)[0]  # checked: 1.5 does not fit int64
        except (ConversionError, DTypeError) as err:
            raise ConversionError(
                f"fill_null: {value!r} does not fit {self.dtype.name} values"
            ) from err
        return GrumpyArray._wrap(map_leaves(self.node, lambda v: pc.fill_null(v, fill)))

    @property
    def fields(self) -> list[builtins.str]:
        """The field names of an array of records (``[]`` for any other array).

        Examples
        --------
        >>> import grumpy_arrow as gr
        >>> gr.array([{"x": 1.0, "el": "C"}]).fields
        ['x', 'el']
        """
        node = _records_below(self.node)
        return [] if node is None else list(node.names)

    def field(self, name: builtins.str) -> GrumpyArray:
        """Field ``name`` of an array of records, with the lists above the records kept
        (``x[name]`` does the same). A null record gives a null there.

        Parameters
        ----------
        name : str
            The field's name (one of :attr:`fields`).

        Returns
        -------
        GrumpyArray
            The field's values under the lists that held the records.

        Raises
        ------
        DTypeError
            For an array without records, or a name that is not a field.

        Examples
        --------
        >>> import grumpy_arrow as gr
        >>> atoms = gr.array([[{"x": 1.0, "el": "C"}, {"x": 2.0, "el": "H"}], []])
        >>> atoms.field("x")
        <GrumpyArray [[1.0, 2.0], []] type='2 * var * float64'>
        """
        return GrumpyArray._wrap(_field_node(self.node, name))

    def dropna(self, dim: int = 0) -> GrumpyArray:
        """Drop the null entries of axis ``dim``: null rows (``dim=0``), null lists of an
        inner axis, or null values (``dim=-1``); the rest keeps its structure.

        Parameters
        ----------
        dim : int, default 0
            The axis whose null entries are dropped (negative counts from the innermost axis).

        Returns
        -------
        GrumpyArray
            The array without those entries.

        Raises
        ------
        OutOfBoundsError
            If ``dim`` is outside ``[-ndim, ndim)``.

        Examples
        --------
        >>> import grumpy_arrow as gr
        >>> x = gr.array([[1, None], None, [3]])
        >>> x.dropna().to_list(), x.dropna(dim=-1).to_list()
        ([[1, None], [3]], [[1], None, [3]])
        """
        keep = ~self.is_null(dim=dim)
        if keep.ndim == 1:
            return cast("GrumpyArray", self[np.asarray(keep.to_numpy(), dtype=bool)])
        return cast("GrumpyArray", self[keep])

    def shape(self, dim: int = 0) -> Any:
        """Length of axis ``dim``: an int for dim 0, else a GrumpyArray of list lengths.

        Parameters
        ----------
        dim : int, default 0
            The axis (negative counts from the innermost axis).

        Returns
        -------
        int or GrumpyArray
            ``len(self)`` for ``dim=0``; else the length of every list of axis ``dim``, under
            the axes above it.

        Raises
        ------
        OutOfBoundsError
            If ``dim`` is outside ``[-ndim, ndim)``.

        Examples
        --------
        >>> import grumpy_arrow as gr
        >>> x = gr.array([[[1, 2], [3]], [[4]]])
        >>> x.shape(0), x.shape(1).to_list(), x.shape(2).to_list()
        (2, [2, 1], [[2, 1], [1]])
        """
        k = rd.normalize_dim(dim, self.ndim)
        if k == 0:
            return len(self)
        return GrumpyArray._wrap(st.shape_node(self.node, k))

    # -- export -----------------------------------------------------------------------

    def to_list(self) -> list[Any]:
        """Nested Python lists (None for nulls).

        Returns
        -------
        list
            One Python value or list per row; records become dicts.

        Examples
        --------
        >>> import grumpy_arrow as gr
        >>> gr.array([[1, 2], None, 3]).to_list()
        [[1, 2], None, 3]
        """
        return list(self._data.to_pylist())

    def tolist(self) -> list[Any]:
        """NumPy's name for :meth:`to_list`.

        Returns
        -------
        list
            The same as :meth:`to_list`.

        Examples
        --------
        >>> import grumpy_arrow as gr
        >>> gr.array([[1.5], []]).tolist()
        [[1.5], []]
        """
        return self.to_list()

    def _single(self, kind: builtins.str) -> Any:
        """The one value of a length-1 flat array (``float(x)``, ``int(x)``)."""
        if len(self) != 1 or self.ndim != 1 or self.is_union:
            raise TypeError(
                f"only a flat array of length 1 converts to a Python {kind}, got "
                f"{self.type}; reduce it first (x.sum(), x.mean(dim=...)) or pick a value"
            )
        value = self._data[0].as_py()
        if value is None:
            raise TypeError(f"cannot convert a null to a Python {kind}")
        return value

    def __float__(self) -> float:
        return float(self._single("float"))

    def __int__(self) -> int:
        return int(self._single("int"))

    def to_arrow(
        self, *, unions: Unions = "native", dictionaries: Dictionaries = "decode"
    ) -> pa.Array:
        """The Arrow array (large_list / dense_union / leaf), zero-copy.

        Parameters
        ----------
        unions : {"native", "lowered"}
            ``"lowered"`` exports a union array as ``struct<values, is_scalar>`` (scalar rows
            as one-element lists plus flags), which Polars, DuckDB and Parquet accept and
            :func:`grumpy_arrow.from_arrow` turns back into the union.
        dictionaries : {"decode", "keep"}
            String leaves held dictionary-encoded (as a store's dictionary leaves are
            read: see docs/storage.md) leave as plain strings, the type they were saved
            with (decoded once, then kept), or with ``"keep"`` as the dictionary arrays
            themselves (zero-copy: an int32 index per value).

        Returns
        -------
        pyarrow.Array
            The array itself for ``unions="native"`` (and no dictionary leaves to decode).

        Raises
        ------
        ValueError
            For an unknown ``unions`` or ``dictionaries`` option.
        LayoutError
            If ``unions="lowered"`` meets a union inside a union's list child.

        Examples
        --------
        >>> import grumpy_arrow as gr
        >>> gr.array([[1, 2], [3]]).to_arrow().type
        LargeListType(large_list<item: int64>)
        >>> gr.array([1, [2, 3]]).to_arrow(unions="lowered").to_pylist()
        [{'values': [1], 'is_scalar': True}, {'values': [2, 3], 'is_scalar': False}]
        """
        _check_unions(unions)
        if dictionaries not in ("decode", "keep"):
            raise ValueError(f"dictionaries must be 'decode' or 'keep', got {dictionaries!r}")
        keep = dictionaries == "keep"
        if unions == "native" or not lowering.has_union(self._data.type):
            if keep or not lay.has_dictionary(self._data.type):
                return self._data
            return lay.to_arrow(self.node, dictionaries=False)
        values, flags = lowering.lower_node(self.node)
        assert flags is not None
        value_arr = lay.to_arrow(values, dictionaries=keep)
        fields = [
            pa.field("values", value_arr.type, metadata={LOWERED_KEY: b"union"}),
            pa.field("is_scalar", lay.to_arrow(flags).type),
        ]
        return pa.StructArray.from_arrays([value_arr, lay.to_arrow(flags)], fields=fields)

    def to_torch(self, *, pad: Any = 0, layout: TorchLayout = "padded", copy: bool = True) -> Any:
        """Tensors: ``(values, mask)`` padded, or a ``torch.nested`` jagged tensor.

        Union rows become length-1 rows and an ``is_scalar`` mask is added. The tensors
        own their memory; ``copy=False`` shares this array's buffers where it can, and then
        writing into a tensor changes this array (see
        :func:`grumpy_arrow.interop.torch.to_torch`). Needs PyTorch.

        Parameters
        ----------
        pad : scalar, default 0
            Fill value of the padded layout.
        layout : {"padded", "jagged"}
            ``(values, mask)`` dense tensors (just the tensor for arrays without ragged axes
            or nulls), or a ``torch.nested`` jagged tensor.
        copy : bool, default True
            False shares this array's buffers where the layout allows it.

        Returns
        -------
        tensor, or tuple of tensors
            As :func:`grumpy_arrow.interop.torch.to_torch` describes.

        Raises
        ------
        ImportError
            Without PyTorch.
        LayoutError
            For strings, or a layout the chosen tensor layout cannot hold.

        Examples
        --------
        >>> import grumpy_arrow as gr
        >>> values, mask = gr.array([[1.0, 2.0], [3.0]]).to_torch()  # doctest: +SKIP
        >>> values.tolist(), mask.tolist()  # doctest: +SKIP
        ([[1.0, 2.0], [3.0, 0.0]], [[True, True], [True, False]])
        """
        from grumpy_arrow.interop.torch import to_torch

        return to_torch(self, pad=pad, layout=layout, copy=copy)

    def to_pandas(self, *, index: Any = None, name: Any = None) -> Any:
        """A pandas Series: GrumpyDtype for nested/union data, nullable dtypes for flat ones.

        Parameters
        ----------
        index : array-like, optional
            The Series' index (a RangeIndex by default).
        name : hashable, optional
            The Series' name.

        Returns
        -------
        pandas.Series
            One element per row.

        Examples
        --------
        >>> import grumpy_arrow as gr
        >>> str(gr.array([[1, 2], [], None]).to_pandas().dtype)
        'grumpy[var * int64]'
        >>> gr.array([1, None]).to_pandas(name="n").tolist()
        [1, <NA>]
        """
        from grumpy_arrow.pandas.convert import to_pandas

        return to_pandas(self, index=index, name=name)

    def to_numpy(self, pad: Any = None) -> Any:
        """A NumPy array for rectangular data without nulls (zero-copy where possible).

        Parameters
        ----------
        pad : scalar, optional
            Fill value for ragged rows and nulls; then ``(array, mask)`` is returned with
            ``mask`` True where a value exists. Union scalar rows count as length-1 lists.

        Returns
        -------
        numpy.ndarray or tuple of numpy.ndarray
            The values (of the array's shape), or ``(values, mask)`` with ``pad``.

        Raises
        ------
        LayoutError
            If the data is ragged, has nulls or is a union and ``pad`` is not given.

        Examples
        --------
        >>> import grumpy_arrow as gr
        >>> gr.array([[1, 2], [3, 4]]).to_numpy().tolist()
        [[1, 2], [3, 4]]
        >>> values, mask = gr.array([[1, 2], [3]]).to_numpy(pad=0)
        >>> values.tolist(), mask.tolist()
        ([[1, 2], [3, 0]], [[True, True], [True, False]])
        """
        if pad is not None:
            return st.pad_node(self.node, pad)
        shape = st.uniform_shape(self.node)
        leaf = _innermost_leaf(self.node)
        if shape is None or leaf is None or leaf.values.null_count:
            why = (
                "is a union"
                if self.is_union
                else ("has nulls" if shape is not None else "is ragged or has null lists")
            )
            raise LayoutError(
                f"cannot convert to a dense NumPy array: the array ({self.type}) {why}; "
                "use to_numpy(pad=value), which pads and returns (array, mask)"
            )
        values = leaf.values
        if self.dtype.kind in "US" or self.dtype == dt.bool_:
            flat = np.asarray(values.to_numpy(zero_copy_only=False))
        else:
            flat = values.to_numpy(zero_copy_only=True)
        return flat.reshape(shape)

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        out = self.to_numpy()
        return cast("np.ndarray", (out if dtype is None else out.astype(dtype)))

    def __arrow_c_array__(self, requested_schema: Any = None) -> Any:
        """Arrow PyCapsule protocol: export the array (zero-copy).

        Unions leave lowered (``struct<values, is_scalar>``) unless the consumer requests
        the native union type.
        """
        if requested_schema is None:
            return self._export().__arrow_c_array__()
        # Importing the requested schema consumes its capsule: hand pyarrow a fresh one.
        requested = pa.DataType._import_from_c_capsule(requested_schema)
        if requested.equals(self._data.type):
            return self._data.__arrow_c_array__()
        return self._export().__arrow_c_array__(requested.__arrow_c_schema__())

    def __arrow_c_schema__(self) -> Any:
        """Arrow PyCapsule protocol: export the type (lowered for unions)."""
        return self._export().type.__arrow_c_schema__()

    def _export(self) -> pa.Array:
        """What leaves through the PyCapsule protocol: unions lowered where they can be
        (one union per column); a union inside a union's list child leaves native."""
        try:
            return self.to_arrow(unions="lowered")
        except LayoutError:
            return self.to_arrow()

    def __repr__(self) -> str:
        return f"<GrumpyArray {preview(self.node)} type={self.type!r}>"

    def __iter__(self) -> Iterator[Any]:
        """Rows: Python values for scalar rows, GrumpyArrays for list rows.

        Iteration is per row by nature; flat arrays convert in blocks of 4096 rows.
        """
        if isinstance(self.node, lay.Leaf):
            for start in range(0, len(self), 4096):
                yield from self._data.slice(start, 4096).to_pylist()
            return
        for i in range(len(self)):
            yield self[i]

    def __bool__(self) -> bool:
        if len(self) == 1 and isinstance(self.node, lay.Leaf):
            return bool(self._data[0].as_py())
        raise ValueError(
            f"the truth value of an array with {len(self)} rows is ambiguous; use .any() or .all()"
        )

    # -- indexing ---------------------------------------------------------------------

    def __getitem__(self, key: Any) -> Any:
        """NumPy/Awkward indexing: rows, slices, gathers, masks, per-axis tuples, ragged."""
        if isinstance(key, np.ndarray) and key.dtype.kind in "iu" and key.ndim <= 1:
            return self._take_rows(key)  # (first: a gather has no axes to work out)
        if isinstance(key, builtins.str) and self.dtype.kind == "V":
            return self.field(key)
        keys = key if isinstance(key, tuple) else (key,)
        keys = _expand_ellipsis(keys, self.ndim)
        if len(keys) == 1 and isinstance(keys[0], slice) and keys[0].step in (None, 1):
            start, stop, _ = keys[0].indices(len(self))
            return GrumpyArray(self._data.slice(start, max(0, stop - start)))
        if (
            len(keys) == 1
            and isinstance(keys[0], np.ndarray)
            and keys[0].dtype.kind in "iu"
            and keys[0].ndim <= 1
        ):
            return self._take_rows(keys[0])
        # A 2-D NumPy index is nested, like a list of lists: a per-row (ragged) index.
        out = ix.getitem(self.node, tuple(parse_index(k) for k in keys))
        if isinstance(out, lay.NODE_TYPES):
            return GrumpyArray._wrap(out)
        return out

    def _take_rows(self, idx: np.ndarray) -> GrumpyArray:
        """Outer gather by an int array: Arrow's take on the whole array (one kernel call).
        Lists of numbers without nulls go to the compiled gather first, which takes
        negative rows and checks every row itself; a row it refuses is looked for again
        here, to say which one is out of bounds."""
        n = len(self)
        idx = idx.reshape(-1)
        if not self.is_union and (idx.dtype.kind == "i" or idx.dtype.itemsize < 8):
            try:  # (uint64 rows could wrap to negative ones in int64: checked below first)
                fast = take_primitive_lists(self._data, idx)
            except IndexError:
                fast = None  # (out of bounds: found and reported below)
            if fast is not None:
                return GrumpyArray(fast)
        if len(idx):
            low, high = int(idx.min()), int(idx.max())
            if low < -n or high >= n:
                bad = int(idx[np.flatnonzero((idx < -n) | (idx >= n))[0]])
                raise OutOfBoundsError(f"index {bad} is out of bounds for axis 0 with length {n}")
            if low < 0:
                idx = np.where(idx < 0, idx + n, idx)
        if self.is_union:  # Arrow's take keeps union children uncompacted: use the nodes
            return GrumpyArray._wrap(ix.select_rows(self.node, idx.astype(np.int64)))
        return GrumpyArray(self._data.take(pa.array(idx, type=pa.int64())))

    def __setitem__(self, key: Any, value: Any) -> None:
        """Write leaf values where the structure stays the same.

        Raises
        ------
        LayoutError
            When the value would change list lengths or the layout.
        ConversionError
            When the values do not fit the array's dtype.
        """
        keys = _expand_ellipsis(key if isinstance(key, tuple) else (key,), self.ndim)
        if value is None:
            value_node: lay.Node = lay.Leaf(pa.nulls(1, type=self.dtype.arrow))
        else:
            value_node = asarray([value] if is_scalar(value) else value).node
        node = asn.assign(
            self.node, tuple(parse_index(k) for k in keys), value_node, self.dtype, key
        )
        self._data, self._node = lay.to_arrow(node), node

    def take(self, indices: Any) -> GrumpyArray:
        """Gather rows (flat indices) or gather within rows (a ragged index array).

        Parameters
        ----------
        indices : array-like of int or GrumpyArray
            Row positions (negative count from the end), or one list of positions per row.

        Returns
        -------
        GrumpyArray
            The gathered rows, or every row's gathered values.

        Raises
        ------
        DTypeError
            If flat indices are not integers.
        OutOfBoundsError
            For a position outside its axis.

        Examples
        --------
        >>> import grumpy_arrow as gr
        >>> x = gr.array([[1, 2, 3], [4, 5]])
        >>> x.take([1, 0, -1]).to_list()
        [[4, 5], [1, 2, 3], [4, 5]]
        >>> x.take([[2, 0], [1]]).to_list()
        [[3, 1], [5]]
        """
        idx = indices if isinstance(indices, GrumpyArray) else asarray(indices)
        if idx.ndim > 1:
            return GrumpyArray._wrap(ix.ragged_index(self.node, idx.node))
        if idx.dtype.kind not in "iu":
            raise DTypeError(f"take needs integer indices, got {idx.dtype.name}")
        return cast("GrumpyArray", self[np.asarray(idx.to_numpy())])

    # -- elementwise ------------------------------------------------------------------

    def _binary(self, other: Any, name: str, reflected: bool = False) -> GrumpyArray:
        kernel = BINARY[name]
        self._values_only("arithmetic and comparisons")
        if is_scalar(other):
            if name in _COMPARISONS:  # (numbers without nulls: one compiled pass)
                fast = compare_scalar(self._data, other, name, self.dtype, reflected=reflected)
                if fast is not None:
                    return GrumpyArray(fast)
            s = scalar_operand(other, self.dtype)
            fn = (lambda v: kernel(s, v)) if reflected else (lambda v: kernel(v, s))
            return GrumpyArray._wrap(map_leaves(self.node, fn))
        if not isinstance(other, GrumpyArray):
            try:
                other = asarray(other)
            except (DTypeError, LayoutError, ConversionError):
                return cast("GrumpyArray", NotImplemented)
        a, b = (other, self) if reflected else (self, other)
        other._values_only("arithmetic and comparisons")
        return GrumpyArray._wrap(broadcast_apply([a, b], kernel))

    def _values_only(self, what: builtins.str) -> None:
        """Refuse an operation on leaf values for an array of records."""
        records = _records_below(self.node) if self.dtype.kind == "V" else None
        if records is not None:
            raise lay.record_error(what, records)

    def _unary(self, name: str) -> GrumpyArray:
        return GrumpyArray._wrap(map_leaves(self.node, UNARY[name]))

    __add__ = _operator("add")
    __radd__ = _operator("add", reflected=True)
    __sub__ = _operator("subtract")
    __rsub__ = _operator("subtract", reflected=True)
    __mul__ = _operator("multiply")
    __rmul__ = _operator("multiply", reflected=True)
    __truediv__ = _operator("true_divide")
    __rtruediv__ = _operator("true_divide", reflected=True)
    __floordiv__ = _operator("floor_divide")
    __rfloordiv__ = _operator("floor_divide", reflected=True)
    __mod__ = _operator("remainder")
    __rmod__ = _operator("remainder", reflected=True)
    __pow__ = _operator("power")
    __rpow__ = _operator("power", reflected=True)
    __eq__ = _operator("equal")  # type: ignore[assignment]
    __ne__ = _operator("not_equal")  # type: ignore[assignment]
    __lt__ = _operator("less")
    __le__ = _operator("less_equal")
    __gt__ = _operator("greater")
    __ge__ = _operator("greater_equal")
    __and__ = _operator("and")
    __rand__ = _operator("and", reflected=True)
    __or__ = _operator("or")
    __ror__ = _operator("or", reflected=True)
    __xor__ = _operator("xor")
    __rxor__ = _operator("xor", reflected=True)

    def __neg__(self) -> GrumpyArray:
        return self._unary("negative")

    def __pos__(self) -> GrumpyArray:
        return self

    def __abs__(self) -> GrumpyArray:
        return self._unary("absolute")

    def __invert__(self) -> GrumpyArray:
        return self._unary("invert")

    def round(self, decimals: int = 0) -> GrumpyArray:
        """Round half to even (NumPy's rule); integers stay as they are.

        Parameters
        ----------
        decimals : int, default 0
            Decimal places to keep (negative rounds to tens, hundreds...).

        Returns
        -------
        GrumpyArray
            The same structure and dtype.

        Examples
        --------
        >>> import grumpy_arrow as gr
        >>> gr.array([[0.5, 1.5, 2.567], [-0.5]]).round().to_list()
        [[0.0, 2.0, 3.0], [-0.0]]
        >>> gr.array([2.567]).round(2).to_list()
        [2.57]
        """
        return GrumpyArray._wrap(map_leaves(self.node, round_kernel(decimals)))

    def astype(self, dtype: DTypeLike, *, casting: Casting = "unsafe") -> GrumpyArray:
        """Cast the leaves to ``dtype`` under NumPy's ``casting`` rule.

        ``"unsafe"`` (the default, as in NumPy) truncates and wraps; the other rules check
        the dtypes first and then refuse values that do not fit.

        Parameters
        ----------
        dtype : dtype-like
            The target leaf dtype (a DType or its name).
        casting : {"unsafe", "same_kind", "safe", "equiv", "no"}
            NumPy's casting rule (see :func:`grumpy_arrow.can_cast`).

        Returns
        -------
        GrumpyArray
            The same structure with ``dtype`` leaves.

        Raises
        ------
        DTypeError
            If the cast is not allowed under ``casting``.
        ConversionError
            If values do not fit (checked casts) or do not parse (strings).

        Examples
        --------
        >>> import grumpy_arrow as gr
        >>> x = gr.array([[1.7, -2.2], [3.0]])
        >>> x.astype(gr.int32).to_list()
        [[1, -2], [3]]
        >>> x.astype("int32", casting="safe")
        Traceback (most recent call last):
        ...
        grumpy_arrow.errors.DTypeError: cannot cast float64 to int32 under casting='safe'
        """
        target = dt.dtype(dtype)
        if casting != "unsafe" and not dt.can_cast(self.dtype, target, casting):
            raise DTypeError(
                f"cannot cast {self.dtype.name} to {target.name} under casting={casting!r}"
            )
        safe = casting != "unsafe"

        def cast(values: pa.Array) -> pa.Array:
            try:
                return pc.cast(values, target.arrow, safe=safe)
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as err:
                raise ConversionError(
                    f"cannot cast {self.dtype.name} values to {target.name}: {err}"
                ) from err

        return GrumpyArray._wrap(map_leaves(self.node, cast))

    def __array_ufunc__(self, ufunc: np.ufunc, method: str, *inputs: Any, **kwargs: Any) -> Any:
        return NUMPY_PROTOCOL["ufunc"](ufunc, method, inputs, kwargs)

    def __array_function__(self, func: Any, types: Any, args: Any, kwargs: Any) -> Any:
        return NUMPY_PROTOCOL["function"](func, args, kwargs)

    @property
    def str(self) -> StringMethods:
        """String methods on string leaves (``x.str.upper()``...).

        Examples
        --------
        >>> import grumpy_arrow as gr
        >>> gr.array([["C", "ca"], ["o"]]).str.upper().to_list()
        [['C', 'CA'], ['O']]
        """
        return StringMethods(self)

    # -- reductions -------------------------------------------------------------------

    def _reduce(self, op: builtins.str, dim: int | None) -> Any:
        out = rd.reduce(self.node, op, dim, self.ndim)
        if isinstance(out, lay.NODE_TYPES):
            return GrumpyArray._wrap(out)
        return out

    sum = _reduction("sum")
    prod = _reduction("prod")
    mean = _reduction("mean")
    min = _reduction("min")
    max = _reduction("max")
    count = _reduction("count")
    count_nonzero = _reduction("count_nonzero")
    any = _reduction("any")
    all = _reduction("all")
    argmin = _reduction("argmin")
    argmax = _reduction("argmax")
    ptp = _reduction("ptp")

    std = _spread_reduction("std")
    var = _spread_reduction("var")

    def _spread(self, op: builtins.str, dim: int | None, ddof: int) -> Any:
        """``var``/``std`` at ``ddof``: the population variance times ``n / (n - ddof)``
        per segment (``n`` its valid values), null where ``n <= ddof``."""
        if isinstance(ddof, bool) or not isinstance(ddof, (int, np.integer)) or ddof < 0:
            raise ValueError(f"ddof must be a non-negative integer, got {ddof!r}")
        if ddof == 0:
            return self._reduce(op, dim)
        var, n = self._reduce("var", dim), self._reduce("count", dim)
        if not isinstance(var, GrumpyArray):  # dim=None: one value
            if var is None or n <= ddof:
                return None
            scaled = var * n / (n - ddof)
            return float(np.sqrt(scaled)) if op == "std" else scaled

        def scale(v: pa.Array, count: pa.Array) -> pa.Array:
            total = pc.cast(count, pa.float64())
            factor = pc.divide(total, pc.subtract(total, float(ddof)))
            out = pc.multiply(pc.cast(v, pa.float64()), factor)
            out = pc.sqrt(out) if op == "std" else out
            out = pc.if_else(pc.greater(count, ddof), out, pa.scalar(None, pa.float64()))
            return pc.cast(out, v.type)

        return GrumpyArray._wrap(zip_leaves([var.node, n.node], scale))

    # -- per-row operations -----------------------------------------------------------

    @shared
    def sort(self, dim: int = -1, *, descending: bool = False) -> GrumpyArray:
        """Sort the values inside every innermost list (a flat array sorts as a whole).

        Nulls go last. Union scalar rows stay as they are.

        Parameters
        ----------
        $sort_parameters

        Returns
        -------
        GrumpyArray
            The same structure, each innermost list sorted.

        $sort_raises

        Examples
        --------
        >>> import grumpy_arrow as gr
        >>> x = gr.array([[3, None, 1], [2, 5]])
        >>> x.sort().to_list(), x.sort(descending=True).to_list()
        ([[1, 3, None], [2, 5]], [[3, 1, None], [5, 2]])
        """
        self._require_innermost(dim, "sort")
        self._values_only("sort")
        return GrumpyArray._wrap(so.sort_node(self.node, descending=descending, arg=False))

    @shared
    def argsort(self, dim: int = -1, *, descending: bool = False) -> GrumpyArray:
        """Positions inside every innermost list that would sort it.

        Parameters
        ----------
        $sort_parameters

        Returns
        -------
        GrumpyArray
            int64 positions with the structure of the array (nulls' positions last).

        $sort_raises

        Examples
        --------
        >>> import grumpy_arrow as gr
        >>> x = gr.array([[3, 1, 2], [5, 4]])
        >>> order = x.argsort()
        >>> order.to_list(), x.take(order).to_list()
        ([[1, 2, 0], [1, 0]], [[1, 2, 3], [4, 5]])
        """
        self._require_innermost(dim, "argsort")
        self._values_only("argsort")
        return GrumpyArray._wrap(so.argsort_node(self.node, descending=descending))

    def _require_innermost(self, dim: int, name: builtins.str) -> None:
        k = rd.normalize_dim(dim, self.ndim)
        if k != self.ndim - 1:
            raise LayoutError(
                f"{name} works along the innermost dim ({self.ndim - 1} or -1), got dim={dim}"
            )

    def unique(self, dim: int | None = None) -> GrumpyArray:
        """Sorted distinct non-null values: of all leaves as a flat array (``dim=None``),
        or of every innermost row (``dim=-1``).

        Parameters
        ----------
        dim : int, optional
            None (all values at once) or the innermost axis.

        Returns
        -------
        GrumpyArray
            A flat array (``dim=None``), or the distinct values of every innermost row.

        Raises
        ------
        LayoutError
            For a ``dim`` that is not the innermost axis.

        Examples
        --------
        >>> import grumpy_arrow as gr
        >>> x = gr.array([[3, 1, 3], [2, 2], []])
        >>> x.unique().to_list(), x.unique(dim=1).to_list()
        ([1, 2, 3], [[1, 3], [2], []])
        """
        if dim is None:
            return GrumpyArray(so.unique_values(self.node))
        self._require_innermost(dim, "unique")
        return GrumpyArray._wrap(stats.map_innermost(self.node, stats.unique_rows, "unique"))

    def copy(self) -> GrumpyArray:
        """An independent array with the same values: assigning into either
        (``x[...] = v``) leaves the other as it was. Buffers are shared, never written.

        Returns
        -------
        GrumpyArray
            The copy.

        Examples
        --------
        >>> import grumpy_arrow as gr
        >>> x = gr.array([[1, 2], [3]])
        >>> y = x.copy()
        >>> y[0, 0] = 10
        >>> x.to_list(), y.to_list()
        ([[1, 2], [3]], [[10, 2], [3]])
        """
        return GrumpyArray._wrap(self.node)

    def where(self, cond: Any, other: Any = None) -> GrumpyArray:
        """Keep values where ``cond`` is true, ``other`` (null by default) elsewhere:
        pandas' ``Series.where``; ``cond`` broadcasts like any operand.

        Parameters
        ----------
        cond : array-like of bool or GrumpyArray
            Where to keep this array's values.
        other : scalar or array-like, optional
            The values elsewhere (broadcast; null when omitted).

        Returns
        -------
        GrumpyArray
            The broadcast structure, with the common dtype of this array and ``other``.

        Raises
        ------
        DTypeError
            If ``cond`` is not bool.
        BroadcastError
            If the operands do not broadcast.

        Examples
        --------
        >>> import grumpy_arrow as gr
        >>> x = gr.array([[1, -2], [3]])
        >>> x.where(x > 0).to_list(), x.where(x > 0, 0).to_list()
        ([[1, None], [3]], [[1, 0], [3]])
        """
        return where_arrays(cond, self, other)

    def isin(self, values: Any) -> GrumpyArray:
        """Leafwise membership in ``values`` (same structure, bool leaves).

        Parameters
        ----------
        values : array-like
            The values to look for (any nesting: their leaves are used).

        Returns
        -------
        GrumpyArray
            True where a value is in ``values``.

        Examples
        --------
        >>> import grumpy_arrow as gr
        >>> gr.array([["C", "H"], ["O"]]).isin(["H", "O"]).to_list()
        [[False, True], [True]]
        """
        try:
            value_set = asarray(values).flatten().to_arrow()
        except DTypeError:  # e.g. [None]: nothing to infer, so take this array's dtype
            value_set = asarray(values, self.dtype).flatten().to_arrow()
        return GrumpyArray._wrap(so.isin_node(self.node, value_set, map_leaves))

    def map(self, mapping: Any, *, default: Any = None) -> GrumpyArray:
        """Replace every leaf value through ``mapping``: a dict, a pandas Series (index ->
        value) or a function. Values that are not keys give ``default`` (null unless
        given); nulls stay null. The structure is kept; the result's dtype is inferred
        from the mapped-to values.

        A dict or Series is one hash lookup over each whole leaf (a dictionary-encoded
        leaf maps its distinct strings once). A function is called once per distinct
        value, never per element.

        Parameters
        ----------
        mapping : dict, pandas.Series or callable
            Old value -> new value.
        default : scalar, optional
            The value for leaves that are not keys of ``mapping`` (null by default).

        Returns
        -------
        GrumpyArray
            The same structure with the mapped values.

        Raises
        ------
        DTypeError
            For a ``mapping`` of another kind, or keys or values that are lists.

        Examples
        --------
        >>> import grumpy_arrow as gr
        >>> elements = gr.array([["C", "H", "H"], ["O", "Xx"]])
        >>> elements.map({"H": 1.008, "C": 12.011, "O": 15.999})
        <GrumpyArray [[12.011, 1.008, 1.008], [15.999, None]] type='2 * var * float64'>
        >>> elements.map(str.lower).to_list()
        [['c', 'h', 'h'], ['o', 'xx']]
        """
        self._values_only("map")
        if callable(mapping) and not hasattr(mapping, "index"):
            keys_list = lookup.distinct_values(self.node)
            mapping = {key: mapping(key) for key in keys_list}
        elif hasattr(mapping, "index") and hasattr(mapping, "to_numpy"):  # a pandas Series
            mapping = dict(zip(mapping.index, mapping.to_numpy(), strict=True))
        if not isinstance(mapping, dict):
            raise DTypeError(
                f"map takes a dict, a pandas Series or a function, got {type(mapping).__name__}"
            )
        keys = asarray(list(mapping), self.dtype if not mapping else None)
        targets = asarray(list(mapping.values()))
        if targets.ndim != 1 or keys.ndim != 1:
            raise DTypeError("map needs scalar keys and scalar values (no lists)")
        fill = None if default is None else pa.scalar(default)
        out = lookup.map_node(self.node, keys.to_arrow(), targets.to_arrow(), fill)
        return GrumpyArray._wrap(out)

    def value_counts(self, *, ascending: bool = False, dropna: bool = True) -> Any:
        """How often each leaf value occurs (pandas' ``value_counts``), at any depth: a
        frame of columns ``value`` and ``count``, most frequent first; ties keep the order
        in which the values first occur. One hash pass in Arrow; ``dropna=False`` counts
        nulls too (a ``value`` of None).

        Parameters
        ----------
        ascending : bool, default False
            Least frequent first.
        dropna : bool, default True
            Leave nulls out (False counts them as a ``value`` of None).

        Returns
        -------
        DataFrame
            Columns ``value`` (the leaf dtype) and ``count`` (int64).

        Examples
        --------
        >>> import grumpy_arrow as gr
        >>> gr.array([["C", "H", "H"], ["O", "H"]]).value_counts().to_dict()
        {'value': ['H', 'C', 'O'], 'count': [3, 1, 1]}
        """
        node = self.node
        while isinstance(node, lay.ListNode):
            node = node.content
        values = node.arrow if isinstance(node, lay.Leaf) else self.flatten().to_arrow()
        found, counts = stats.value_counts(values, ascending=ascending, dropna=dropna)
        return FRAMES[0]({"value": GrumpyArray(found), "count": GrumpyArray(counts)})

    def flatten(self, dim: int | None = None, *, but: int | None = None) -> GrumpyArray:
        """Remove nesting: ``dim=None`` gives every leaf; ``dim=k`` merges axis k into k-1;
        ``but=k`` keeps axes 0..k and merges every deeper axis into axis k + 1 (so
        ``but=0`` gives each row's leaves as one list).

        Parameters
        ----------
        dim : int, optional
            The axis merged into its parent (1 or deeper); None gives every leaf, flat.
        but : int, optional
            The deepest axis kept (see :meth:`flatten_below`); not with ``dim``.

        Returns
        -------
        GrumpyArray
            The array with fewer axes.

        Raises
        ------
        ValueError
            If both ``dim`` and ``but`` are given.
        OutOfBoundsError
            For ``dim=0`` (axis 0 has no parent) or a ``dim`` outside the array.

        Examples
        --------
        >>> import grumpy_arrow as gr
        >>> x = gr.array([[[1, 2], [3]], [[4]]])
        >>> x.flatten().to_list(), x.flatten(dim=1).to_list(), x.flatten(dim=2).to_list()
        ([1, 2, 3, 4], [[1, 2], [3], [4]], [[1, 2, 3], [4]])
        >>> x.flatten(but=0).to_list()
        [[1, 2, 3], [4]]
        """
        if but is not None:
            if dim is not None:
                raise ValueError("flatten takes dim= or but=, not both")
            return self.flatten_below(but)
        if dim is None:
            return GrumpyArray(leaf_values(self.node))
        k = rd.normalize_dim(dim, self.ndim)
        if k == 0:
            raise OutOfBoundsError("flatten needs dim >= 1 (or None): axis 0 has no parent axis")
        return GrumpyArray._wrap(st.flatten_node(self.node, k))

    def unflatten(self, lengths: Any) -> GrumpyArray:
        """Group rows into lists of the given ``lengths`` (they must sum to ``len(self)``).

        Parameters
        ----------
        lengths : array-like of int
            The length of every new list (non-negative).

        Returns
        -------
        GrumpyArray
            ``len(lengths)`` rows, one axis deeper.

        Raises
        ------
        OutOfBoundsError
            If the lengths do not sum to ``len(self)`` or one is negative.

        Examples
        --------
        >>> import grumpy_arrow as gr
        >>> gr.array([1, 2, 3, 4, 5]).unflatten([2, 0, 3]).to_list()
        [[1, 2], [], [3, 4, 5]]
        """
        lens = np.asarray(asarray(lengths).to_numpy(), dtype=np.int64)
        offsets = np.zeros(len(lens) + 1, dtype=np.int64)
        np.cumsum(lens, out=offsets[1:])
        if offsets[-1] != len(self):
            raise OutOfBoundsError(
                f"unflatten lengths sum to {int(offsets[-1])} but the array has {len(self)} rows"
            )
        if np.any(lens < 0):
            raise OutOfBoundsError(f"unflatten needs lengths >= 0, got {int(lens.min())}")
        return GrumpyArray._wrap(lay.ListNode(offsets, None, self.node))


# -- helpers ----------------------------------------------------------------------------

NUMPY_PROTOCOL: dict[str, Callable[..., Any]] = {}
"""``__array_ufunc__`` / ``__array_function__`` handlers (``"ufunc"``, ``"function"``):
:mod:`grumpy_arrow.numpy_api` registers them when it is imported (the package imports it),
so this module needs no import of the layer above it."""

FRAMES: list[Callable[[dict[str, GrumpyArray]], Any]] = []
"""How to make a frame of columns (``value_counts`` returns one): the frame module registers
its ``DataFrame`` when it is imported (the package imports it)."""


def where_arrays(condition: Any, x: Any, y: Any) -> GrumpyArray:
    """``x`` where ``condition`` is true, else ``y``; all three broadcast, and either may
    be None (a null there). See :func:`grumpy_arrow.where`.

    Raises
    ------
    DTypeError
        If the condition is not bool, or both ``x`` and ``y`` are None.
    """
    cond = asarray(condition)
    if cond.dtype != dt.bool_:
        raise DTypeError(f"where needs a bool condition, got {cond.dtype.name}")
    xs = operand_like(x, y)
    ys = operand_like(y, x)
    common = dt.promote_types(xs.dtype, ys.dtype)
    xs, ys = xs.astype(common), ys.astype(common)
    nodes = [cond.node, xs.node, ys.node]
    # Broadcast pairwise against the condition until all three share one structure.
    for _ in range(2):
        for i in (1, 2):
            nodes[0], nodes[i] = broadcast_nodes(nodes[0], nodes[i])
    return GrumpyArray._wrap(zip_leaves(nodes, lambda c, a, b: pc.if_else(c, a, b)))


def operand_like(value: Any, other: Any) -> GrumpyArray:
    """``value`` as an array for an operation with ``other``: None is a null of the other's
    dtype, a Python scalar takes NumPy's weak-scalar dtype against it."""
    if value is None:  # a null of the other operand's dtype (all-null: no dtype to infer)
        if other is None:
            raise DTypeError("where needs x or y to be something other than None")
        known = asarray([other]) if is_scalar(other) else asarray(other)
        return GrumpyArray(pa.nulls(1, type=known.dtype.arrow))
    if not is_scalar(value):
        return asarray(value)
    like = asarray(other).dtype if not is_scalar(other) else None
    if like is None:
        return asarray([value])
    return GrumpyArray(
        pa.array(
            [scalar_operand(value, like).as_py()],
            type=dt.result_type_with_scalar(like, value).arrow,
        )
    )


def broadcast_apply(arrays: list[GrumpyArray], kernel: Callable[..., pa.Array]) -> lay.Node:
    """Broadcast two arrays (docs/array-model.md, "Broadcasting") and combine their leaves."""
    a, b = arrays
    na, nb = a.node, b.node
    if len(nb) == 1 and len(na) != 1 and isinstance(nb, lay.Leaf):
        s = nb.values[0]
        return map_leaves(na, lambda v: kernel(v, s))
    if len(na) == 1 and len(nb) != 1 and isinstance(na, lay.Leaf):
        s = na.values[0]
        return map_leaves(nb, lambda v: kernel(s, v))
    na, nb = broadcast_nodes(na, nb)
    return zip_leaves([na, nb], kernel)


def _null_at(node: lay.Node, k: int) -> lay.Node:
    """Bool leaves marking the null entries of axis ``k`` below ``node``'s rows."""
    if k > 0:
        if isinstance(node, lay.UnionNode):
            raise LayoutError(
                "is_null(dim > 0) of rows that mix scalars and lists (a union): use "
                "is_null() for the rows, or is_null(dim=-1) for the values"
            )
        if isinstance(node, (lay.Leaf, lay.RecordNode)):
            raise OutOfBoundsError(f"dim {k} is deeper than the values")
        return lay.ListNode(node.offsets, node.validity, _null_at(node.content, k - 1))
    if isinstance(node, lay.Leaf):
        return lay.Leaf(pc.is_null(node.values))
    if isinstance(node, (lay.ListNode, lay.RecordNode)):
        return lay.Leaf(
            pa.array(np.zeros(len(node), bool) if node.validity is None else ~node.validity)
        )
    null = np.zeros(len(node), dtype=bool)
    scalar_null = np.asarray(node.scalars.values.is_null().to_numpy(zero_copy_only=False))
    null[np.flatnonzero(node.type_ids == 0)] = scalar_null
    return lay.Leaf(pa.array(null))


def _records_below(node: lay.Node) -> lay.RecordNode | None:
    while isinstance(node, lay.ListNode):
        node = node.content
    return node if isinstance(node, lay.RecordNode) else None


def _field_node(node: lay.Node, name: str) -> lay.Node:
    """Field ``name`` of the records below ``node``'s lists; null records give nulls."""
    if isinstance(node, lay.ListNode):
        return node.with_content(_field_node(node.content, name))
    if not isinstance(node, lay.RecordNode):
        raise DTypeError(
            f"field({name!r}) needs an array of records, got {GrumpyArray._wrap(node).type}"
        )
    if name not in node.names:
        raise DTypeError(f"no field {name!r}; the fields are {list(node.names)}")
    picked = node.field(name)
    if node.validity is None or node.validity.all():
        return picked
    # null records own nothing in the field (null rows hold no values, as everywhere)
    return take_rows(picked, np.arange(len(picked), dtype=np.int64), node.validity)


def _innermost_leaf(node: lay.Node) -> lay.Leaf | None:
    while isinstance(node, lay.ListNode):
        node = node.content
    return node if isinstance(node, lay.Leaf) else None


def _check_unions(unions: str) -> None:
    if unions not in ("native", "lowered"):
        raise ValueError(f"unions must be 'native' or 'lowered', got {unions!r}")


def _expand_ellipsis(keys: tuple[Any, ...], ndim: int) -> tuple[Any, ...]:
    if not any(k is Ellipsis for k in keys):
        return keys
    at = next(i for i, k in enumerate(keys) if k is Ellipsis)
    fill = max(0, ndim - (len(keys) - 1))
    return keys[:at] + (slice(None),) * fill + keys[at + 1 :]


def parse_index(key: Any) -> Any:
    """One axis of an index key, validated and normalized for :mod:`grumpy_arrow.compute.index`.

    Parameters
    ----------
    key : int, slice, array-like of ints or bools, or GrumpyArray
        What ``x[key]`` (or one entry of a tuple key) was given.

    Returns
    -------
    int, slice, numpy.ndarray or layout node
        An ``int``; the slice itself; an int64 array (a gather) or bool array (a mask)
        for 1-D keys; the key's layout node for nested keys (a per-row, ragged index).

    Raises
    ------
    DTypeError
        For a bool or a string, an index array that is not integer or boolean (floats
        are never truncated), or a boolean mask with nulls.

    Examples
    --------
    >>> from grumpy_arrow.array import parse_index
    >>> parse_index(2), parse_index([0, -1]).tolist()
    (2, [0, -1])
    >>> parse_index([1.9])
    Traceback (most recent call last):
    ...
    grumpy_arrow.errors.DTypeError: index arrays must be integer or boolean, got float64
    """
    if isinstance(key, (bool, np.bool_)):
        raise DTypeError("a single bool is not a valid index; use a boolean mask array")
    if isinstance(key, (int, np.integer)):
        return int(key)
    if isinstance(key, slice):
        return key
    if isinstance(key, str):
        raise DTypeError(f"arrays are indexed by position, got the string {key!r}")
    if key is None:
        raise LayoutError(
            "None (np.newaxis) is not a supported index: a new length-1 axis cannot be "
            "added by indexing. Supported keys: ints, slices, int or bool arrays, ragged "
            "arrays and '...'; to compare every value with its row's value, index the row "
            "values directly (x - x.mean(dim=1) broadcasts per row), or use gr.stack"
        )
    if isinstance(key, np.ndarray) and key.ndim == 1 and key.dtype.kind in "iub":
        # A NumPy vector of ints or bools: what the trip through an array below gives,
        # without it (about 50 us of a random batch's rows).
        return key.astype(bool if key.dtype.kind == "b" else np.int64, copy=False)
    arr = key if isinstance(key, GrumpyArray) else asarray(key)
    if len(arr) == 0 and arr.ndim == 1:
        return np.zeros(0, dtype=np.int64)
    if arr.dtype.kind not in "iub":
        raise DTypeError(f"index arrays must be integer or boolean, got {arr.dtype.name}")
    if arr.ndim > 1:
        return arr.node
    if arr.dtype == dt.bool_:
        # pandas' rule: a null in a mask selects nothing there.
        valid = arr._data.fill_null(False) if arr.null_count else arr._data
        return np.asarray(valid.to_numpy(zero_copy_only=False), dtype=bool)
    return np.asarray(arr.to_numpy(), dtype=np.int64)
