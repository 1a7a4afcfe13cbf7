"""Pure description of list-chain and union structure over Arrow arrays.

A grumpy array is an Arrow array of one of three node kinds, nested:

* :class:`Leaf` — a flat Arrow array of a supported dtype (its validity holds leaf nulls);
* :class:`ListNode` — ``large_list``: int64 ``offsets`` (length ``n + 1``, starting at 0),
  an optional boolean ``validity`` (``True`` = valid) and a ``content`` node; with a
  ``size`` it is a **fixed axis** (Arrow ``fixed_size_list``): every valid row holds
  exactly ``size`` values, a null row none, and the offsets are still materialised so
  kernels need no case of their own;
* :class:`UnionNode` — ``dense_union`` "scalar or list per row": ``type_ids`` (0 = scalar,
  1 = list) with the ``scalars`` leaf and the ``lists`` node holding, in row order, only the
  rows of their kind (so the dense union's ``value_offsets`` are implied);
* :class:`RecordNode` — ``struct``: named ``fields`` (nodes of the record's length) and an
  optional ``validity``. A record is where the axes stop: its fields may nest further, but
  ``ndim`` counts the lists above it.

Nodes are the compute view: offsets are NumPy arrays rebased to 0 and children are
compact, so kernels never deal with Arrow slice offsets. :func:`from_arrow` and
:func:`to_arrow` convert without copying values.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa

from grumpy_arrow import dtypes as dt
from grumpy_arrow.errors import DTypeError, LayoutError

__all__ = [
    "Leaf",
    "ListNode",
    "NODE_TYPES",
    "Node",
    "RecordNode",
    "UnionNode",
    "UNION_FIELDS",
    "arrow_depth",
    "arrow_leaf_type",
    "canonical_type",
    "describe",
    "fits_size",
    "fixed_list",
    "fixed_list_of",
    "fixed_sizes",
    "from_arrow",
    "has_dictionary",
    "has_record",
    "is_list_type",
    "is_text_type",
    "is_valid_mask",
    "leaves",
    "lengths",
    "count_nulls",
    "list_of",
    "to_arrow",
    "tensor_storage",
    "record_error",
    "union_type",
    "variable",
]

UNION_FIELDS = ("scalar", "list")


@dataclass(frozen=True, eq=False)
class Leaf:
    """Flat values (an Arrow array of a leaf dtype).

    A string or binary leaf may be **dictionary-encoded**: built from a
    ``pa.DictionaryArray`` (as a store's dictionary leaves are read), it keeps that array
    (one small index per value, the distinct strings once), and :func:`to_arrow` gives it
    as it is. ``values`` is the decoded array, worked out on first use and kept: compute
    sees plain strings and needs no case of its own. Dictionaries of other value types
    are decoded at once.
    """

    arrow: pa.Array
    """The leaf as built and exported: the values, or the dictionary array."""
    _decoded: list[pa.Array] = field(default_factory=list, init=False, repr=False)

    def __post_init__(self) -> None:
        typ = self.arrow.type
        if pa.types.is_dictionary(typ) and not is_text_type(typ.value_type):
            object.__setattr__(self, "arrow", self.arrow.dictionary_decode())

    @property
    def encoded(self) -> pa.DictionaryArray | None:
        """The dictionary array of a dictionary-encoded leaf, else None."""
        return self.arrow if pa.types.is_dictionary(self.arrow.type) else None

    @property
    def values(self) -> pa.Array:
        """The values, decoded if the leaf is dictionary-encoded (once; then kept)."""
        if not pa.types.is_dictionary(self.arrow.type):
            return self.arrow
        if not self._decoded:  # two threads may decode at once: both get equal arrays
            self._decoded.append(self.arrow.dictionary_decode())
        return self._decoded[0]

    def __len__(self) -> int:
        return len(self.arrow)


@dataclass(frozen=True, eq=False)
class ListNode:
    """Lists: ``offsets`` (int64, from 0), ``validity`` or None, ``content``.

    ``size`` (at least 1) makes the axis fixed: every valid row has ``size`` values and
    a null row none (content is compact, as for variable lists), exported as
    ``fixed_size_list``. An axis of length 0 stays a variable list of empty lists.
    """

    offsets: np.ndarray
    validity: np.ndarray | None
    content: Node
    size: int | None = None

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def with_content(self, content: Node) -> ListNode:
        """The same lists (offsets, validity, size) over new content of equal length."""
        return ListNode(self.offsets, self.validity, content, self.size)


@dataclass(frozen=True, eq=False)
class UnionNode:
    """Scalar-or-list rows: ``type_ids`` (int8: 0 scalar, 1 list), compact children."""

    type_ids: np.ndarray
    scalars: Leaf
    lists: ListNode

    def __len__(self) -> int:
        return len(self.type_ids)


@dataclass(frozen=True, eq=False)
class RecordNode:
    """Records (Arrow ``struct``): ``names`` and ``fields`` (one node per name, each of
    ``length`` rows) and ``validity`` or None (a null record's field rows are there but
    never shown)."""

    names: tuple[str, ...]
    fields: tuple[Node, ...]
    validity: np.ndarray | None
    length: int

    def __len__(self) -> int:
        return self.length

    def field(self, name: str) -> Node:
        """The node of field ``name``."""
        return self.fields[self.names.index(name)]

    def with_fields(
        self, fields: tuple[Node, ...], validity: np.ndarray | None, length: int
    ) -> RecordNode:
        """The same names over new field nodes."""
        return RecordNode(self.names, fields, validity, length)


Node = Leaf | ListNode | UnionNode | RecordNode
NODE_TYPES = (Leaf, ListNode, UnionNode, RecordNode)
"""The node classes, for ``isinstance`` checks of what a kernel returned."""


def is_text_type(typ: pa.DataType) -> bool:
    """Whether an Arrow type is a string or binary type (large or not)."""
    return bool(
        pa.types.is_string(typ)
        or pa.types.is_large_string(typ)
        or pa.types.is_binary(typ)
        or pa.types.is_large_binary(typ)
    )


# ---------------------------------------------------------------------------------------
# Arrow types


def list_of(typ: pa.DataType) -> pa.DataType:
    """``large_list<typ>``: the list type every new grumpy list uses."""
    return pa.large_list(typ)


def fixed_list_of(typ: pa.DataType, size: int) -> pa.DataType:
    """``fixed_size_list<typ>[size]``: the type of a fixed axis (``size`` >= 1)."""
    if size < 1:
        raise LayoutError(f"a fixed axis has a size of at least 1, got {size}")
    return pa.list_(typ, size)


def fixed_sizes(typ: pa.DataType) -> tuple[int, ...]:
    """The sizes of the fixed axes directly below the top of a type (``(60, 80, 3)`` for
    ``60 * 80 * 3 * uint8``; ``()`` when the outermost list is variable)."""
    sizes: list[int] = []
    while pa.types.is_fixed_size_list(typ):
        sizes.append(typ.list_size)
        typ = typ.value_type
    return tuple(sizes)


def union_type(scalar: pa.DataType, lst: pa.DataType) -> pa.DataType:
    """The dense union type of a scalar-or-list node."""
    return pa.dense_union([pa.field(UNION_FIELDS[0], scalar), pa.field(UNION_FIELDS[1], lst)])


_LIST_IDS = frozenset(
    getattr(pa.lib, f"Type_{name}")
    for name in ("LIST", "LARGE_LIST", "FIXED_SIZE_LIST", "LIST_VIEW", "LARGE_LIST_VIEW")
)


def is_list_type(typ: pa.DataType) -> bool:
    """Whether an Arrow type is any list: list, large, fixed-size or a list view (one
    look-up of its type id: every elementwise call asks this of each level)."""
    return typ.id in _LIST_IDS


def canonical_type(typ: pa.DataType, *, where: str = "array") -> pa.DataType:
    """The grumpy form of an Arrow type: lists become ``large_list``, leaves are checked.

    Raises
    ------
    LayoutError
        For maps, sparse unions, unions not of the scalar-or-list form, records without
        fields or with repeated names, and unsupported leaf types.
    """
    if isinstance(typ, pa.FixedShapeTensorType):
        return _tensor_type(typ, where)
    if pa.types.is_fixed_size_list(typ) and typ.list_size > 0:
        return fixed_list_of(canonical_type(typ.value_type, where=where), typ.list_size)
    if is_list_type(typ):  # (a fixed size of 0 is a variable list of empty lists)
        return list_of(canonical_type(typ.value_type, where=where))
    if pa.types.is_union(typ):
        if typ.mode != "dense" or typ.num_fields != 2 or list(typ.type_codes) != [0, 1]:
            raise LayoutError(
                f"{where}: expected a dense union with type codes [0, 1] (scalar, list), got {typ}"
            )
        scalar, lst = typ.field(0).type, typ.field(1).type
        if is_list_type(scalar) or pa.types.is_union(scalar) or not is_list_type(lst):
            raise LayoutError(
                f"{where}: expected union child 0 to be a scalar and child 1 a list, got {typ}"
            )
        return union_type(canonical_type(scalar, where=where), canonical_type(lst, where=where))
    if pa.types.is_dictionary(typ):
        return canonical_type(typ.value_type, where=where)
    if pa.types.is_struct(typ):
        return _record_type(typ, where)
    # View layouts (Polars, DuckDB) become the offset-based layouts grumpy computes on.
    if pa.types.is_string_view(typ):
        return pa.large_string()
    if pa.types.is_binary_view(typ):
        return pa.large_binary()
    try:
        dt.from_arrow_type(typ)
    except Exception as err:
        raise LayoutError(
            f"{where}: Arrow type {typ} is not supported; expected list-chains or scalar-or-list "
            "dense unions over int, uint, float, bool, string or binary leaves"
        ) from err
    return typ


def _record_type(typ: pa.StructType, where: str) -> pa.DataType:
    """A struct with canonical field types: at least one field, names distinct."""
    names = [typ.field(i).name for i in range(typ.num_fields)]
    if not names:
        raise LayoutError(f"{where}: a record (struct) needs at least one field, got {typ}")
    if len(set(names)) != len(names):
        raise LayoutError(f"{where}: record field names must be distinct, got {names}")
    return pa.struct(
        [
            pa.field(n, canonical_type(typ.field(i).type, where=f"{where}.{n}"))
            for i, n in enumerate(names)
        ]
    )


def _tensor_type(typ: pa.FixedShapeTensorType, where: str) -> pa.DataType:
    """Arrow's ``fixed_shape_tensor`` extension as nested fixed axes (row-major)."""
    permutation = typ.permutation
    if permutation is not None and list(permutation) != sorted(permutation):
        raise LayoutError(
            f"{where}: a fixed_shape_tensor with permutation {list(permutation)} is not "
            "supported; expected row-major tensors (no permutation)"
        )
    out = canonical_type(typ.value_type, where=where)
    for size in reversed(typ.shape):
        out = fixed_list_of(out, int(size))
    return out


def tensor_storage(arr: pa.Array) -> pa.Array:
    """A ``fixed_shape_tensor`` extension array as nested ``fixed_size_list`` arrays
    (zero-copy: the same values, one fixed axis per tensor dimension)."""
    typ = arr.type
    storage = arr.storage
    values = storage.values.slice(
        storage.offset * storage.type.list_size, len(storage) * storage.type.list_size
    )
    for size in reversed(typ.shape[1:]):
        values = pa.FixedSizeListArray.from_arrays(values, int(size))
    mask = None if storage.null_count == 0 else storage.is_null()
    return pa.FixedSizeListArray.from_arrays(values, int(typ.shape[0]), mask=mask)


def arrow_depth(typ: pa.DataType) -> int:
    """Maximum list depth of a (canonical) type: 0 for a leaf."""
    if is_list_type(typ):
        return 1 + arrow_depth(typ.value_type)
    if pa.types.is_union(typ):
        return max(arrow_depth(typ.field(0).type), arrow_depth(typ.field(1).type))
    return 0


def arrow_leaf_type(typ: pa.DataType) -> pa.DataType:
    """The Arrow type at the bottom of a list-chain / union type (a dictionary's value
    type for dictionary-encoded leaves)."""
    if is_list_type(typ):
        return arrow_leaf_type(typ.value_type)
    if pa.types.is_union(typ):
        return arrow_leaf_type(typ.field(0).type)
    if pa.types.is_dictionary(typ):
        return typ.value_type
    return typ


def describe(typ: pa.DataType) -> str:
    """Awkward-like type string: ``var * int64``, ``3 * float32`` for a fixed axis,
    ``union[int64, var * int64]``."""
    if pa.types.is_fixed_size_list(typ):
        return f"{typ.list_size} * {describe(typ.value_type)}"
    if is_list_type(typ):
        return f"var * {describe(typ.value_type)}"
    if pa.types.is_union(typ):
        return f"union[{describe(typ.field(0).type)}, {describe(typ.field(1).type)}]"
    if pa.types.is_struct(typ):
        fields = (
            f"{typ.field(i).name}: {describe(typ.field(i).type)}" for i in range(typ.num_fields)
        )
        return "{" + ", ".join(fields) + "}"
    return dt.from_arrow_type(arrow_leaf_type(typ)).name


# ---------------------------------------------------------------------------------------
# Arrow <-> nodes


def is_valid_mask(arr: pa.Array) -> np.ndarray | None:
    """Boolean validity of ``arr`` (True = valid) or None when it has no nulls."""
    if arr.null_count == 0:
        return None
    bitmap = arr.buffers()[0] if not pa.types.is_union(arr.type) else None
    if bitmap is None:  # unions and null arrays have no validity bitmap of their own
        return np.asarray(arr.is_valid().to_numpy(zero_copy_only=False), dtype=bool)
    # One unpackbits pass: ~20x faster than converting the boolean is_valid() array.
    bits = np.frombuffer(bitmap, dtype=np.uint8)
    stop = arr.offset + len(arr)
    return np.unpackbits(bits, count=stop, bitorder="little")[arr.offset :].astype(bool)


def from_arrow(arr: pa.Array) -> Node:
    """Decompose a canonical Arrow array into nodes (zero-copy for values).

    Raises
    ------
    LayoutError
        If the array is not of a supported layout (call :func:`canonical_type` first).
    """
    typ = arr.type
    if pa.types.is_large_list(typ) or pa.types.is_list(typ):
        return _list_from_arrow(arr)
    if pa.types.is_fixed_size_list(typ) and typ.list_size > 0:
        return _fixed_from_arrow(arr)
    if pa.types.is_union(typ):
        return _union_from_arrow(arr)
    if pa.types.is_struct(typ):
        names = tuple(typ.field(i).name for i in range(typ.num_fields))
        fields = tuple(from_arrow(arr.field(i)) for i in range(typ.num_fields))
        return RecordNode(names, fields, is_valid_mask(arr), len(arr))
    return Leaf(arr)  # a dictionary of strings stays encoded (see Leaf)


def _list_from_arrow(arr: pa.Array) -> ListNode:
    validity = is_valid_mask(arr)
    offsets = np.asarray(arr.offsets).astype(np.int64, copy=False)
    if validity is not None:
        lens = np.diff(offsets)
        if np.any(lens[~validity] != 0):
            # Null lists backed by values: drop those values (flatten does exactly that).
            lens = np.where(validity, lens, 0)
            offsets = np.zeros(len(arr) + 1, dtype=np.int64)
            np.cumsum(lens, out=offsets[1:])
            return ListNode(offsets, validity, from_arrow(arr.flatten()))
    start, stop = int(offsets[0]), int(offsets[-1])
    values = arr.values
    if start != 0 or stop != len(values):
        values = values.slice(start, stop - start)
    if start != 0:
        offsets = offsets - start
    return ListNode(offsets, validity, from_arrow(values))


def _fixed_from_arrow(arr: pa.Array) -> ListNode:
    size = arr.type.list_size
    validity = is_valid_mask(arr)
    if validity is None:
        return fixed_list(from_arrow(arr.values.slice(arr.offset * size, len(arr) * size)), size)
    # A null row's slots hold no values in grumpy (flatten drops them).
    offsets = np.zeros(len(arr) + 1, dtype=np.int64)
    np.cumsum(validity * size, out=offsets[1:])
    return ListNode(offsets, validity, from_arrow(arr.flatten()), size)


def _union_from_arrow(arr: pa.Array) -> UnionNode:
    # UnionArray.type_codes / .offsets ignore the slice offset (pyarrow 26), so read the
    # buffers directly.
    buffers = arr.buffers()
    start, stop = arr.offset, arr.offset + len(arr)
    type_ids = np.frombuffer(buffers[1], dtype=np.int8)[start:stop]
    value_offsets = np.frombuffer(buffers[2], dtype=np.int32)[start:stop]
    children = []
    for code in (0, 1):
        child = arr.field(code)
        picks = value_offsets[type_ids == code]
        if len(picks) != len(child) or (len(picks) and not _is_arange(picks)):
            child = child.take(pa.array(picks)) if len(picks) else child.slice(0, 0)
        children.append(from_arrow(child))
    scalars, lists = children
    if not isinstance(scalars, Leaf) or not isinstance(lists, ListNode):
        raise LayoutError(f"union children must be (scalar, list), got {arr.type}")
    return UnionNode(type_ids, scalars, lists)


def _is_arange(picks: np.ndarray) -> bool:
    return bool(picks[0] == 0 and picks[-1] == len(picks) - 1 and np.all(np.diff(picks) == 1))


def record_error(what: str, node: RecordNode) -> DTypeError:
    """The error for an operation that needs leaf values, met on records."""
    return DTypeError(
        f"{what} needs values, got records with fields {list(node.names)}; select a field "
        "first: x.field(name) (or x[name])"
    )


def leaves(node: Node, what: str) -> list[Leaf]:
    """Every leaf of ``node`` in order (a union's scalars before the leaves below its
    lists); records raise :func:`record_error` for the operation ``what``."""
    found: list[Leaf] = []
    while not isinstance(node, Leaf):
        if isinstance(node, RecordNode):
            raise record_error(what, node)
        if isinstance(node, UnionNode):
            found.append(node.scalars)
            node = node.lists
        else:
            node = node.content
    found.append(node)
    return found


def _validity_buffer(validity: np.ndarray | None) -> pa.Buffer | None:
    if validity is None or validity.all():
        return None
    return pa.py_buffer(np.packbits(validity, bitorder="little"))


def has_record(typ: pa.DataType) -> bool:
    """Whether a type holds a struct (records) anywhere."""
    if pa.types.is_struct(typ):
        return True
    if is_list_type(typ):
        return has_record(typ.value_type)
    if pa.types.is_union(typ):
        return any(has_record(typ.field(i).type) for i in range(typ.num_fields))
    return False


def has_dictionary(typ: pa.DataType) -> bool:
    """Whether a list-chain / union / record type holds a dictionary-encoded leaf."""
    if is_list_type(typ):
        return has_dictionary(typ.value_type)
    if pa.types.is_union(typ) or pa.types.is_struct(typ):
        return any(has_dictionary(typ.field(i).type) for i in range(typ.num_fields))
    return bool(pa.types.is_dictionary(typ))


def to_arrow(node: Node, *, dictionaries: bool = True) -> pa.Array:
    """Assemble an Arrow array from nodes without copying values (dictionary-encoded
    leaves as dictionary arrays, or decoded with ``dictionaries=False``)."""
    if isinstance(node, Leaf):
        return node.arrow if dictionaries else node.values
    if isinstance(node, ListNode) and node.size is not None:
        return _fixed_to_arrow(node, dictionaries)
    if isinstance(node, ListNode):
        content = to_arrow(node.content, dictionaries=dictionaries)
        offsets = np.ascontiguousarray(node.offsets, dtype=np.int64)
        return pa.Array.from_buffers(
            list_of(content.type),
            len(node),
            [_validity_buffer(node.validity), pa.py_buffer(offsets)],
            children=[content],
        )
    if isinstance(node, RecordNode):
        children = [to_arrow(f, dictionaries=dictionaries) for f in node.fields]
        mask = None if node.validity is None else pa.array(~node.validity)
        return pa.StructArray.from_arrays(children, names=list(node.names), mask=mask)
    scalars = to_arrow(node.scalars, dictionaries=dictionaries)
    lists = to_arrow(node.lists, dictionaries=dictionaries)
    is_list = node.type_ids.astype(bool)
    value_offsets = np.where(is_list, np.cumsum(is_list) - 1, np.cumsum(~is_list) - 1)
    return pa.UnionArray.from_dense(
        pa.array(node.type_ids, pa.int8()),
        pa.array(value_offsets.astype(np.int32)),
        [scalars, lists],
        list(UNION_FIELDS),
        [0, 1],
    )


def _fixed_to_arrow(node: ListNode, dictionaries: bool) -> pa.Array:
    """A fixed axis as ``fixed_size_list``; null rows get ``size`` null slots (Arrow's
    layout reserves them)."""
    size = node.size
    assert size is not None
    content = to_arrow(node.content, dictionaries=dictionaries)
    valid = len(node) if node.validity is None else int(node.validity.sum())
    if len(content) != valid * size:
        raise LayoutError(
            f"a fixed axis of size {size} over {valid} valid rows needs {valid * size} "
            f"values, got {len(content)}"
        )
    if node.validity is None or valid == len(node):
        return pa.FixedSizeListArray.from_arrays(content, size)
    # Slots of null rows: null picks; those of valid rows: their values in order.
    slots = np.repeat(node.validity, size)
    picks = np.full(len(slots), -1, dtype=np.int64)
    picks[slots] = np.arange(len(content), dtype=np.int64)
    padded = content.take(pa.array(picks, mask=~slots))
    return pa.FixedSizeListArray.from_arrays(padded, size, mask=pa.array(~node.validity))


def fixed_list(content: Node, size: int, validity: np.ndarray | None = None) -> ListNode:
    """``len(content) // size`` rows of a fixed axis, ``size`` content rows each (with
    ``validity``, a null row still owns its slots: the padding a store's reader drops
    again)."""
    assert size >= 1, size
    offsets = np.arange(len(content) // size + 1, dtype=np.int64) * size
    return ListNode(offsets, validity, content, size)


def fits_size(lengths: np.ndarray, validity: np.ndarray | None, size: int) -> bool:
    """Whether every valid row of these list ``lengths`` holds ``size`` items (so the
    lists can be a fixed axis of that size; True when no row is valid)."""
    valid = lengths if validity is None else lengths[validity]
    return not np.any(valid != size)


def variable(node: Node) -> Node:
    """``node`` with every fixed axis made a variable list (the same offsets and values)."""
    if isinstance(node, Leaf):
        return node
    if isinstance(node, ListNode):
        return ListNode(node.offsets, node.validity, variable(node.content))
    if isinstance(node, RecordNode):
        return node.with_fields(tuple(variable(f) for f in node.fields), node.validity, node.length)
    lists = variable(node.lists)
    assert isinstance(lists, ListNode)
    return UnionNode(node.type_ids, node.scalars, lists)


def lengths(node: ListNode) -> np.ndarray:
    """Per-row list lengths (0 for null lists)."""
    return np.diff(node.offsets)


def count_nulls(node: Node) -> int:
    """Null rows at this node: null leaves, null lists, null scalar rows of a union."""
    if isinstance(node, Leaf):
        return int(node.values.null_count)
    if isinstance(node, (ListNode, RecordNode)):
        return 0 if node.validity is None else int((~node.validity).sum())
    return int(node.scalars.values.null_count)
