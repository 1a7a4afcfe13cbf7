"""Python / NumPy / Arrow objects -> canonical Arrow arrays.

The fast path hands nested Python lists straight to Arrow's C++ builder (``pa.array``) with
the type worked out from the first values; Arrow then does the per-element work. Only when
that fails (rows that mix scalars and lists, bools mixed with ints, or bad values) does the
one-pass Python builder run: it walks the nesting once, level by level, builds unions where
scalars and lists mix, and finds the exact position of a bad value for the error message.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from itertools import chain
from typing import Any

import numpy as np
import pyarrow as pa

from grumpy_arrow import _native
from grumpy_arrow import dtypes as dt
from grumpy_arrow import layout as lay
from grumpy_arrow.errors import ConversionError, DTypeError, LayoutError

__all__ = [
    "from_arrow_array",
    "from_numpy_array",
    "from_numpy_rows",
    "from_python",
    "parse_object",
]

_SEQ = (list, tuple, np.ndarray)


def parse_object(obj: Any, dtype: dt.DType | None) -> pa.Array:
    """Turn any supported input into a canonical Arrow array of ``dtype`` (if given).

    Raises
    ------
    DTypeError, ConversionError, LayoutError
        For values that cannot be inferred, do not fit ``dtype``, or unsupported layouts.
    """
    if isinstance(obj, pa.ChunkedArray):
        return _from_arrow_input(_combine(obj), dtype)
    if isinstance(obj, pa.Array):
        return _from_arrow_input(obj, dtype)
    if isinstance(obj, np.ndarray) and obj.dtype != object:
        return _cast(from_numpy_array(obj), dtype)
    if hasattr(obj, "__arrow_c_array__"):
        return _from_arrow_input(pa.array(obj), dtype)
    if hasattr(obj, "__arrow_c_stream__"):
        return _from_arrow_input(_combine(pa.chunked_array(obj)), dtype)
    if isinstance(obj, (list, tuple)) and _same_inner_shape(obj):
        return _cast(from_numpy_rows(obj), dtype)
    if isinstance(obj, _SEQ):
        return from_python(list(obj) if isinstance(obj, np.ndarray) else obj, dtype)
    if obj is None or isinstance(obj, (bool, int, float, str, bytes, np.generic)):
        return from_python([obj], dtype)
    raise DTypeError(
        f"cannot build an array from {type(obj).__name__}; expected a list, tuple, scalar, "
        "NumPy array, pyarrow Array/ChunkedArray or an object with __arrow_c_array__"
    )


def _from_arrow_input(arr: pa.Array, dtype: dt.DType | None) -> pa.Array:
    if pa.types.is_null(lay.arrow_leaf_type(arr.type)):
        if dtype is None:
            raise DTypeError(
                f"cannot infer a dtype from an all-null Arrow array ({arr.type}); pass dtype="
            )
        arr = arr.cast(_replace_leaf(arr.type, dtype.arrow))
    return _cast(from_arrow_array(arr), dtype)


def _combine(chunked: pa.ChunkedArray) -> pa.Array:
    if chunked.num_chunks == 1:
        return chunked.chunk(0)
    if chunked.num_chunks == 0:
        return pa.array([], type=chunked.type)
    return chunked.combine_chunks()


def _cast(arr: pa.Array, dtype: dt.DType | None) -> pa.Array:
    if dtype is None:
        return arr
    leaf = lay.arrow_leaf_type(arr.type)
    if dt.from_arrow_type(leaf) == dtype:
        return arr
    target = _replace_leaf(arr.type, dtype.arrow)
    try:
        return arr.cast(target, safe=True)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError) as err:
        raise ConversionError(
            f"cannot convert {dt.from_arrow_type(leaf).name} values to {dtype.name}: {err}"
        ) from err


def _replace_leaf(typ: pa.DataType, leaf: pa.DataType) -> pa.DataType:
    if pa.types.is_fixed_size_list(typ) and typ.list_size > 0:
        return lay.fixed_list_of(_replace_leaf(typ.value_type, leaf), typ.list_size)
    if pa.types.is_large_list(typ) or pa.types.is_list(typ):
        return lay.list_of(_replace_leaf(typ.value_type, leaf))
    if pa.types.is_union(typ):
        return lay.union_type(
            _replace_leaf(typ.field(0).type, leaf), _replace_leaf(typ.field(1).type, leaf)
        )
    return leaf


# ---------------------------------------------------------------------------------------
# Arrow and NumPy


def from_arrow_array(arr: pa.Array) -> pa.Array:
    """Check an Arrow array's layout and return its canonical form (lists as large_list).

    Raises
    ------
    LayoutError
        For unsupported types (struct, map, sparse union, ...).
    """
    if isinstance(arr.type, pa.FixedShapeTensorType):
        lay.canonical_type(arr.type)  # refuses permuted tensors
        arr = lay.tensor_storage(arr)
    target = lay.canonical_type(arr.type)
    if target.equals(arr.type):
        return arr
    if lay.arrow_depth(arr.type) and pa.types.is_union(target):
        # Arrow cannot cast unions: rebuild through nodes.
        return _canonical_via_nodes(arr, None)
    try:
        return arr.cast(target)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as err:
        return _canonical_via_nodes(arr, err)


def _canonical_via_nodes(arr: pa.Array, err: Exception | None) -> pa.Array:
    typ = arr.type
    if pa.types.is_dictionary(typ):
        return from_arrow_array(arr.dictionary_decode())
    if pa.types.is_union(typ):
        node = lay.from_arrow(arr)
        assert isinstance(node, lay.UnionNode)
        scalars = from_arrow_array(lay.to_arrow(node.scalars))
        lists = from_arrow_array(lay.to_arrow(node.lists))
        return lay.to_arrow(
            lay.UnionNode(node.type_ids, lay.Leaf(scalars), _as_list(lay.from_arrow(lists)))
        )
    if pa.types.is_fixed_size_list(typ) and typ.list_size > 0:
        node = lay.from_arrow(arr)
        assert isinstance(node, lay.ListNode)
        content = lay.from_arrow(from_arrow_array(lay.to_arrow(node.content)))
        return lay.to_arrow(lay.ListNode(node.offsets, node.validity, content, node.size))
    if pa.types.is_list(typ) or pa.types.is_large_list(typ) or pa.types.is_fixed_size_list(typ):
        validity = lay.is_valid_mask(arr)
        flat = arr.flatten()
        lens = np.asarray(pa.compute.list_value_length(arr).fill_null(0), dtype=np.int64)
        offsets = np.zeros(len(arr) + 1, dtype=np.int64)
        np.cumsum(lens, out=offsets[1:])
        content = lay.from_arrow(from_arrow_array(flat))
        return lay.to_arrow(lay.ListNode(offsets, validity, content))
    raise LayoutError(f"cannot convert Arrow type {typ} to a grumpy layout") from err


def _as_list(node: lay.Node) -> lay.ListNode:
    if not isinstance(node, lay.ListNode):
        raise LayoutError("union child 1 must be a list")
    return node


def from_numpy_array(arr: np.ndarray) -> pa.Array:
    """A rectangular NumPy array as fixed axes: shape ``(n, 60, 80, 3)`` gives
    ``n * 60 * 80 * 3 * dtype`` (values zero-copy when contiguous).

    A masked array's mask becomes leaf validity. Object arrays go through the Python path.
    """
    mask = np.ma.getmaskarray(arr) if isinstance(arr, np.ma.MaskedArray) else None
    data = np.ma.getdata(arr) if mask is not None else arr
    dtype = dt.dtype(data.dtype)
    if data.ndim == 0:
        data = data.reshape(1)
        mask = None if mask is None else mask.reshape(1)
    flat = np.ascontiguousarray(data).reshape(-1)
    flat_mask = None if mask is None or not mask.any() else mask.reshape(-1)
    if dtype.kind == "U":
        values = pa.array(flat.astype(object), type=pa.string(), mask=flat_mask)
    else:
        values = pa.array(flat, type=dtype.arrow, mask=flat_mask)
    node: lay.Node = lay.Leaf(values)
    for k in range(data.ndim - 1, 0, -1):
        count = int(np.prod(data.shape[:k]))
        size = int(data.shape[k])
        node = lay.ListNode(np.arange(count + 1, dtype=np.int64) * size, None, node, size or None)
    return lay.to_arrow(node)


def _same_inner_shape(rows: Sequence[Any]) -> bool:
    """Whether ``rows`` are NumPy arrays (at least 1-D, not object) of one dtype whose
    shapes agree past the first axis: a ragged column of fixed-shape items."""
    if not rows or not all(isinstance(r, np.ndarray) for r in rows):
        return False
    first = rows[0]
    if first.ndim == 0 or first.dtype == object or isinstance(first, np.ma.MaskedArray):
        return False
    return all(
        r.ndim == first.ndim
        and r.shape[1:] == first.shape[1:]
        and r.dtype == first.dtype
        and not isinstance(r, np.ma.MaskedArray)
        for r in rows
    )


def from_numpy_rows(rows: Sequence[np.ndarray]) -> pa.Array:
    """NumPy arrays of one dtype and equal shapes past the first axis as one ragged axis
    over fixed ones: ``k`` arrays of shape ``(n_i, 3)`` give ``k * var * 3 * dtype``. One
    concatenation; no Python work per element."""
    lengths = np.fromiter((len(r) for r in rows), dtype=np.int64, count=len(rows))
    offsets = np.zeros(len(rows) + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    content = lay.from_arrow(from_numpy_array(np.concatenate(rows)))
    return lay.to_arrow(lay.ListNode(offsets, None, content))


# ---------------------------------------------------------------------------------------
# Python objects


def from_python(obj: Sequence[Any], dtype: dt.DType | None) -> pa.Array:
    """Build a canonical Arrow array from nested Python sequences.

    Tries Arrow's builder first (no Python loop per element); falls back to
    :func:`_build_python` which handles unions and reports positions of bad values.
    """
    depth, first = _peek(obj)
    if isinstance(first if first is not None else _first_leaf(obj), dict):
        return _records(obj, dtype)
    fast = _try_arrow_builder(obj, dtype, depth, first)
    if fast is not None:
        return fast
    return _build_python(obj, dtype)


def _records(obj: Any, dtype: dt.DType | None) -> pa.Array:
    """Rows of dicts (records, at any depth of lists): Arrow infers the struct type (the
    union of the keys; a missing key is null), then the type is made canonical."""
    if dtype is not None:
        raise DTypeError(f"records take no dtype (got {dtype.name}); cast their fields")
    try:
        arr = pa.array(obj)
    except (pa.ArrowInvalid, pa.ArrowTypeError) as err:
        raise DTypeError(f"cannot build records from these rows: {err}") from err
    return from_arrow_array(arr)


def _first_leaf(obj: Any) -> Any:
    """The first non-null value that is not a sequence, depth first (None if none): what
    decides records when the first rows are empty or null."""
    stack = [iter(obj)]
    while stack:
        item = next(stack[-1], _END)
        if item is _END:
            stack.pop()
        elif isinstance(item, _SEQ):
            stack.append(iter(item))
        elif item is not None:
            return item
    return None


_END = object()


def _peek(obj: Any) -> tuple[int, Any]:
    """Depth of the first non-empty path and the first leaf value found there (or None)."""
    depth, cur = 0, obj
    while isinstance(cur, _SEQ):
        nxt = next((x for x in cur if x is not None), None) if len(cur) else None
        if nxt is None:
            return depth + 1, None
        depth, cur = depth + 1, nxt
    return depth, cur


def _try_arrow_builder(obj: Any, dtype: dt.DType | None, depth: int, first: Any) -> pa.Array | None:
    if depth == 2 and (dtype.kind in "iu" if dtype is not None else type(first) is int):
        rows = _int_rows(obj, dtype if dtype is not None else dt.int64)
        if rows is not None:
            return rows
    if dtype is not None and dtype.kind in "iu" and dtype.numpy.itemsize <= 4:
        small = _small_integers(obj, dtype, depth)
        if small is not None:
            return small
    # Arrow truncates floats into integer types silently, so integers are built with type
    # inference (which keeps floats as floats) and a safe cast that rejects 1.5 -> int.
    # Given a list type, Arrow also takes a str/bytes as a sequence of characters, so text
    # leaves below lists are built with inference, which refuses to mix strings and lists.
    if dtype is not None and dtype.kind not in "iuUS":
        typ: pa.DataType | None = dtype.arrow
    elif dtype is None and isinstance(first, float):
        typ = pa.float64()
    elif (dtype is None and isinstance(first, str)) or (dtype is not None and dtype.kind == "U"):
        typ = pa.string() if depth <= 1 else None
    else:
        typ = None
    # pyarrow's type inference segfaults when a np.datetime64 precedes other NumPy scalars
    # (pyarrow 16-21), and its text builders take bytes into string columns unchecked
    # (invalid UTF-8): the leaf types are checked first, and anything else goes to the
    # Python builder, which names the value. Explicitly typed non-text builds need no check.
    text = (dtype is not None and dtype.kind in "US") or isinstance(first, (str, bytes))
    if typ is None or text:
        types = _leaf_types(obj)
        if not _arrow_safe(types, dtype):
            return None
        if typ is None and types and all(_is_integer_type(t, dtype) for t in types):
            # Only integers: the typed builder has no float to truncate, and skips the
            # inference pass (beyond int64 it raises, and inference picks uint64 below).
            typ = dtype.arrow if dtype is not None else pa.int64()
            arr = _build(obj, typ, depth)
            if arr is not None:
                return arr
            typ = None
    arr = _build(obj, typ, depth)
    if arr is None:
        return None
    leaf = lay.arrow_leaf_type(arr.type)
    if pa.types.is_null(leaf) or pa.types.is_struct(arr.type):
        return None
    try:
        arr = from_arrow_array(arr)
    except (LayoutError, DTypeError):
        return None
    inferred = dt.from_arrow_type(lay.arrow_leaf_type(arr.type))
    if dtype is not None and inferred != dtype:
        if inferred.kind in "US" and dtype.kind not in "US":
            return None  # text is not parsed into numbers here; astype() does that
        try:
            return _cast(arr, dtype)
        except ConversionError:
            return None
    return arr


def _int_rows(obj: Any, dtype: dt.DType) -> pa.Array | None:
    """Rows of Python ints, as a list of lists, built by the compiled kernel in one pass
    (:func:`._native.int_rows`: 4096 rows of ~256 int32 in about a third of
    ``pa.array``'s time); None when there is no kernel or anything else is in the rows."""
    built = _native.int_rows(obj, dtype.numpy)
    if built is None:
        return None
    offsets, values = built
    return pa.LargeListArray.from_arrays(pa.array(offsets), pa.array(values, type=dtype.arrow))


def _small_integers(obj: Any, dtype: dt.DType, depth: int) -> pa.Array | None:
    """Values asked for as integers of at most 32 bits, built by Arrow's typed float64
    builder and a safe cast; None when either refuses (the general path then builds them,
    or names the value it cannot take).

    Every such integer is exactly a float64, and the safe cast refuses fractions, NaN and
    values out of the dtype's range, so this takes what the general path takes and gives
    the same array, in one pass over the Python objects where the general path checks the
    leaf types first (Arrow's integer builder truncates floats silently) and then builds:
    about half the time. Arrow's typed builders refuse NumPy datetimes and text (its type
    inference, which the general path guards, can crash on the former).
    """
    built = _build(obj, pa.float64(), depth)
    if built is None or pa.types.is_struct(built.type):
        return None
    try:
        return _cast(from_arrow_array(built), dtype)
    except (LayoutError, DTypeError, ConversionError):
        return None


def _build(obj: Any, typ: pa.DataType | None, depth: int) -> pa.Array | None:
    """Arrow's builder with ``typ`` at the leaves (or inference), None when it refuses."""
    try:
        if typ is not None:
            for _ in range(depth - 1):
                typ = lay.list_of(typ)
            return pa.array(obj, type=typ)
        return pa.array(obj)
    except (
        pa.ArrowInvalid,
        pa.ArrowTypeError,
        pa.ArrowNotImplementedError,
        OverflowError,
        TypeError,
        ValueError,
    ):
        return None


def _leaf_types(obj: Sequence[Any]) -> set[type]:
    """The types of the leaf values of nested sequences (None and sequences excluded).

    One ``set(map(type, ...))`` per nesting level over ``chain``-ed rows; only the levels
    above the last are materialized (with a Python loop over their rows only where nulls
    or scalars sit among the lists).
    """
    found: set[type] = set()
    rows: list[Any] = [obj]
    while rows:
        types = set(map(type, chain.from_iterable(rows)))
        lists = {t for t in types if issubclass(t, _SEQ)}
        found |= types - lists
        if not lists:
            break
        level = chain.from_iterable(rows)
        rows = list(level) if types == lists else [x for x in level if isinstance(x, _SEQ)]
    found.discard(type(None))
    return found


def _is_integer_type(t: type, dtype: dt.DType | None) -> bool:
    """Python ints (NumPy integers too for an integer ``dtype``; without one, Arrow's
    inference keeps their width)."""
    if dtype is not None and dtype.kind not in "iu":
        return False
    if issubclass(t, np.integer):
        return dtype is not None
    return issubclass(t, int) and not issubclass(t, bool)


def _arrow_safe(types: set[type], dtype: dt.DType | None) -> bool:
    """Whether leaves of these types can go to Arrow's builder (see the caller)."""
    text = binary = False
    for t in types:
        kind: str
        if issubclass(t, np.generic):
            kind = np.dtype(t).kind
        else:
            kind = next((k for base, k in _KINDS.items() if issubclass(t, base)), "?")
        if kind not in "biufUS":
            return False
        text |= kind == "U"
        binary |= kind == "S"
    if dtype is not None and dtype.kind == "S":
        return True
    return not binary or (not text and (dtype is None or dtype.kind != "U"))


_NONE, _SCALAR, _LIST = 0, 1, 2


def _build_python(obj: Any, dtype: dt.DType | None) -> pa.Array:
    """One pass over the nesting, level by level (the fallback for unions and errors).

    The per-element Python loop is the reason this is the fallback: it runs only when Arrow's
    own builder cannot take the input (scalar/list mixes) or to locate a bad value.
    """
    leaves: list[list[Any]] = []
    plan = _plan_level(list(obj), leaves)
    values = [v for chunk in leaves for v in chunk]
    if dtype is not None:
        _check_values(values, obj, dtype)
    leaf_dtype = dtype if dtype is not None else _infer_leaf_dtype(values, obj)
    converted = _convert_leaves(values, leaf_dtype, obj)
    cursor = [0]
    return lay.to_arrow(_assemble(plan, converted, cursor, leaf_dtype))


def _kind(x: Any) -> int:
    if x is None:
        return _NONE
    return _LIST if isinstance(x, _SEQ) else _SCALAR


def _plan_level(items: list[Any], leaves: list[list[Any]]) -> tuple[Any, ...]:
    """Describe one level: ('leaf', n) | ('list', lens, validity, child) | ('union', ...)."""
    kinds = [_kind(x) for x in items]
    has_list = _LIST in kinds
    has_scalar = _SCALAR in kinds
    if not has_list:
        leaves.append(items)
        return ("leaf", len(items))
    if not has_scalar:
        validity = np.fromiter((k != _NONE for k in kinds), dtype=bool, count=len(kinds))
        lens = np.fromiter(
            (len(x) if k else 0 for x, k in zip(items, kinds, strict=True)),
            dtype=np.int64,
            count=len(kinds),
        )
        children = [y for x in items if x is not None for y in x]
        return ("list", lens, validity, _plan_level(children, leaves))
    type_ids = np.fromiter((k == _LIST for k in kinds), dtype=np.int8, count=len(kinds))
    scalars = [x for x, k in zip(items, kinds, strict=True) if k != _LIST]
    lists = [x for x, k in zip(items, kinds, strict=True) if k == _LIST]
    scalar_plan = _plan_level(scalars, leaves)
    list_plan = _plan_level(lists, leaves)
    return ("union", type_ids, scalar_plan, list_plan)


def _assemble(plan: tuple[Any, ...], values: pa.Array, cursor: list[int], dtype: dt.DType) -> Any:
    tag = plan[0]
    if tag == "leaf":
        n = plan[1]
        start = cursor[0]
        cursor[0] += n
        return lay.Leaf(values.slice(start, n))
    if tag == "list":
        _, lens, validity, child = plan
        offsets = np.zeros(len(lens) + 1, dtype=np.int64)
        np.cumsum(lens, out=offsets[1:])
        content = _assemble(child, values, cursor, dtype)
        return lay.ListNode(offsets, None if validity.all() else validity, content)
    _, type_ids, scalar_plan, list_plan = plan
    scalars = _assemble(scalar_plan, values, cursor, dtype)
    lists = _assemble(list_plan, values, cursor, dtype)
    return lay.UnionNode(type_ids, scalars, lists)


_KINDS = {bool: "b", int: "i", float: "f", str: "U", bytes: "S"}
_GROUPS = {"U": "strings", "S": "bytes"}  # kinds that mix with nothing else ("numbers" do)


def _value_kind(v: Any) -> str | None:
    kind = _KINDS.get(type(v))
    if kind is not None:
        return kind
    if isinstance(v, np.generic):
        return dt.dtype(v.dtype).kind if v.dtype.kind in "biufUS" else None
    for typ, k in _KINDS.items():
        if isinstance(v, typ):
            return k
    return None


def _unsupported(v: Any, obj: Any, i: int) -> DTypeError:
    return DTypeError(
        f"unsupported value {v!r} of type {type(v).__name__} at position "
        f"{_leaf_path(obj, i)}; expected bool, int, float, str or bytes"
    )


def _value_kinds(values: list[Any], obj: Any) -> Iterator[tuple[int, Any, str]]:
    """The position, value and kind of every non-null value, in order; a value of no
    supported kind raises when it is reached."""
    for i, v in enumerate(values):
        if v is None:
            continue
        k = _value_kind(v)
        if k is None:
            raise _unsupported(v, obj, i)
        yield i, v, k


def _check_values(values: list[Any], obj: Any, dtype: dt.DType) -> None:
    """Refuse values of no supported kind, and bytes for a string dtype, before Arrow sees
    them (its inference crashes on some NumPy scalar mixes, and it would store the bytes
    as unchecked UTF-8)."""
    for i, v, k in _value_kinds(values, obj):
        if k == "S" and dtype.kind == "U":
            raise DTypeError(
                f"cannot put bytes {v!r} at position {_leaf_path(obj, i)} into a string "
                "array: expected str; decode the bytes first, or pass dtype=gr.binary"
            )


def _infer_leaf_dtype(values: list[Any], obj: Any) -> dt.DType:
    kinds: dict[str, int] = {}
    for i, _, k in _value_kinds(values, obj):
        kinds.setdefault(k, i)
    if not kinds:
        if values:
            raise DTypeError(
                "cannot infer a dtype from all-null values; pass dtype=, e.g. "
                "gr.array(..., dtype=gr.float64)"
            )
        return dt.float64
    text = [k for k in kinds if k in "US"]
    if text and len(kinds) > 1:
        first_kind = min(kinds, key=kinds.__getitem__)
        # Strings, bytes and numbers are three kinds that do not mix (str and bytes too:
        # pass dtype=gr.binary to store text as bytes).
        group = _GROUPS.get(first_kind, "numbers")
        bad = min(i for k, i in kinds.items() if _GROUPS.get(k, "numbers") != group)
        hint = "; pass dtype=gr.binary to store text as bytes" if set("US") <= kinds.keys() else ""
        raise DTypeError(
            f"cannot mix {group} with {values[bad]!r} at position {_leaf_path(obj, bad)}; "
            f"all values of an array share one dtype{hint}"
        )
    if text:
        return dt.string if text[0] == "U" else dt.binary
    if "f" in kinds:
        return dt.float64
    if "i" in kinds or "u" in kinds:
        return dt.int64
    return dt.bool_


def _convert_leaves(values: list[Any], dtype: dt.DType, obj: Any) -> pa.Array:
    """Convert leaf values to ``dtype``, naming the first value that does not fit."""
    try:
        if dtype.kind in "iu":
            # bools count as 0/1 here, as in NumPy and Python.
            ints = [int(v) if isinstance(v, bool) else v for v in values]
            try:
                raw = pa.array(ints)
            except OverflowError:
                # Beyond int64 (uint64's upper half): Arrow infers nothing, so convert with
                # the target type after refusing fractional floats (which it would truncate).
                if any(isinstance(v, float) and not v.is_integer() for v in ints):
                    raise
                return pa.array(ints, type=dtype.arrow)
            if pa.types.is_null(raw.type):
                return pa.array(values, type=dtype.arrow)
            if dtype.kind in "iu" and not (
                pa.types.is_integer(raw.type)
                or pa.types.is_floating(raw.type)
                or pa.types.is_boolean(raw.type)
            ):
                raise TypeError(raw.type)
            return raw.cast(dtype.arrow, safe=True)
        if dtype.kind == "f":
            return pa.array(
                [float(v) if isinstance(v, bool) else v for v in values], type=dtype.arrow
            )
        if dtype.kind == "b":
            bad = next(
                (
                    i
                    for i, v in enumerate(values)
                    if v is not None and not isinstance(v, (bool, np.bool_))
                ),
                None,
            )
            if bad is not None:
                raise TypeError(values[bad])
        return pa.array(values, type=dtype.arrow)
    except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError, TypeError, ValueError) as err:
        bad_index = _first_bad(values, dtype)
        where = (
            f"{values[bad_index]!r} at position {_leaf_path(obj, bad_index)}"
            if bad_index is not None
            else "a value"
        )
        raise ConversionError(f"cannot convert {where} to {dtype.name}") from err


def _first_bad(values: list[Any], dtype: dt.DType) -> int | None:
    for i, v in enumerate(values):
        if v is None:
            continue
        try:
            if dtype.kind in "iu":
                if isinstance(v, float) and not float(v).is_integer():
                    return i
                if not isinstance(v, (int, float, np.integer, np.floating, np.bool_)):
                    return i
                pa.scalar(int(v), type=dtype.arrow)
            elif dtype.kind == "b":
                if not isinstance(v, (bool, np.bool_)):
                    return i
            else:
                pa.array([v], type=dtype.arrow)
        except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError, TypeError, ValueError):
            return i
    return None


def _leaf_path(obj: Any, index: int) -> str:
    """The ``[i][j]...`` path of the ``index``-th leaf in the order :func:`_plan_level` uses.

    Leaves are numbered level by level (breadth-first per node kind), so this replays the
    same walk; it runs only to build an error message.
    """
    paths: list[str] = []
    _collect_paths([(f"[{i}]", x) for i, x in enumerate(obj)], paths)
    return paths[index] if index < len(paths) else f"leaf {index}"


def _collect_paths(items: list[tuple[str, Any]], out: list[str]) -> None:
    kinds = [_kind(x) for _, x in items]
    if _LIST not in kinds:
        out.extend(p for p, _ in items)
        return
    if _SCALAR not in kinds:
        children = [(f"{p}[{j}]", y) for p, x in items if x is not None for j, y in enumerate(x)]
        _collect_paths(children, out)
        return
    _collect_paths([it for it, k in zip(items, kinds, strict=True) if k != _LIST], out)
    _collect_paths([it for it, k in zip(items, kinds, strict=True) if k == _LIST], out)
