"""Leafwise kernels with NumPy dtype promotion, mapped over layout nodes.

Arithmetic and comparisons call ``pyarrow.compute`` on whole leaf buffers; floor division,
modulo and integer powers use NumPy on buffer views (Arrow has no modulo kernel and its
integer division truncates toward zero, unlike NumPy).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeAlias

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from grumpy_arrow import _native
from grumpy_arrow import dtypes as dt
from grumpy_arrow import layout as lay
from grumpy_arrow.errors import ConversionError, DivisionByZeroError, DTypeError

__all__ = [
    "compare_scalar",
    "BINARY",
    "UNARY",
    "binary_kernel",
    "bool_from_numpy",
    "bool_to_numpy",
    "isin_numpy",
    "leaf_dtype",
    "map_leaves",
    "numpy_view",
    "unary_kernel",
    "zip_leaves",
]

Operand: TypeAlias = Any  # a pyarrow Array or Scalar


def leaf_dtype(values: pa.Array | pa.Scalar) -> dt.DType:
    """The grumpy dtype of a leaf array or scalar."""
    return dt.from_arrow_type(values.type)


def map_leaves(node: lay.Node, fn: Callable[[pa.Array], pa.Array]) -> lay.Node:
    """Apply ``fn`` to every leaf array, keeping the structure."""
    if isinstance(node, lay.Leaf):
        return lay.Leaf(fn(node.values))
    if isinstance(node, lay.ListNode):
        return node.with_content(map_leaves(node.content, fn))
    if isinstance(node, lay.RecordNode):
        raise lay.record_error("this operation", node)
    scalars = fn(node.scalars.values)
    lists = map_leaves(node.lists, fn)
    assert isinstance(lists, lay.ListNode)
    return lay.UnionNode(node.type_ids, lay.Leaf(scalars), lists)


def zip_leaves(nodes: list[lay.Node], fn: Callable[..., pa.Array]) -> lay.Node:
    """Apply ``fn`` to corresponding leaves of nodes that share one structure."""
    first = nodes[0]
    if isinstance(first, lay.Leaf):
        return lay.Leaf(fn(*[n.values for n in nodes]))  # type: ignore[union-attr]
    if isinstance(first, lay.ListNode):
        content = zip_leaves([n.content for n in nodes], fn)  # type: ignore[union-attr]
        return first.with_content(content)
    if isinstance(first, lay.RecordNode):
        raise lay.record_error("this operation", first)
    scalars = fn(*[n.scalars.values for n in nodes])  # type: ignore[union-attr]
    lists = zip_leaves([n.lists for n in nodes], fn)  # type: ignore[union-attr]
    assert isinstance(lists, lay.ListNode)
    return lay.UnionNode(first.type_ids, lay.Leaf(scalars), lists)


def numpy_view(values: pa.Array, fill: Any) -> np.ndarray:
    """Values as NumPy (zero-copy without nulls); nulls replaced by ``fill``."""
    if pa.types.is_boolean(values.type):
        return bool_to_numpy(values, fill=bool(fill))
    if values.null_count:
        if pa.types.is_boolean(values.type):
            fill = bool(fill)
        values = pc.fill_null(values, pa.scalar(fill, type=values.type))
    return np.asarray(values.to_numpy(zero_copy_only=False))


def _cast(x: Operand, to: dt.DType) -> Operand:
    if x.type == to.arrow:
        return x
    if isinstance(x, pa.Scalar):
        value = x.as_py()
        if isinstance(value, bool) and to.kind != "b":
            value = int(value)
        try:
            return pa.scalar(value, type=to.arrow)
        except (pa.ArrowInvalid, OverflowError) as err:
            raise ConversionError(f"scalar {x.as_py()!r} does not fit {to.name}") from err
    return pc.cast(x, to.arrow, safe=False)


def _types(a: Operand, b: Operand) -> tuple[dt.DType, dt.DType]:
    return dt.from_arrow_type(a.type), dt.from_arrow_type(b.type)


def _promote(a: Operand, b: Operand, *, arithmetic: bool) -> tuple[Operand, Operand, dt.DType]:
    ta, tb = _types(a, b)
    common = dt.promote_types(ta, tb)
    if arithmetic and common.kind in "US":
        raise DTypeError(f"arithmetic is not defined for {ta.name} and {tb.name}")
    if arithmetic and common == dt.bool_:
        # Arithmetic on booleans counts, as in Python (True + True == 2).
        common = dt.int64
    if common == dt.float16:
        return _cast(a, dt.float32), _cast(b, dt.float32), dt.float16
    return _cast(a, common), _cast(b, common), common


def _back(result: pa.Array, dtype: dt.DType) -> pa.Array:
    return result if result.type == dtype.arrow else pc.cast(result, dtype.arrow, safe=False)


def bool_from_numpy(mask: np.ndarray) -> pa.Array:
    """A NumPy bool vector as an Arrow boolean array (one bit-packing pass, no nulls).

    Faster than ``pa.array(mask)``, which converts element by element.
    """
    bits = np.packbits(mask, bitorder="little")
    return pa.Array.from_buffers(pa.bool_(), len(mask), [None, pa.py_buffer(bits)])


def bool_to_numpy(values: pa.Array, *, fill: bool = False) -> np.ndarray:
    """An Arrow boolean array as a NumPy bool vector, nulls as ``fill``.

    One ``np.unpackbits`` over the bitmap (and one over the validity bitmap when there are
    nulls): about 20x faster than ``to_numpy(zero_copy_only=False)``, which converts value
    by value (1 M values: 0.05 ms against 1 ms).
    """
    n = len(values)
    if n == 0:
        return np.zeros(0, dtype=bool)
    validity, data = values.buffers()[:2]
    out = _unpack_bits(data, values.offset, n)
    if values.null_count:
        valid = _unpack_bits(validity, values.offset, n)
        out = out | ~valid if fill else out & valid
    return out


def _unpack_bits(buf: pa.Buffer, offset: int, n: int) -> np.ndarray:
    """Bits ``offset .. offset + n`` of an Arrow bitmap (least significant bit first)."""
    first, shift = divmod(offset, 8)
    raw = np.frombuffer(buf, dtype=np.uint8, count=(shift + n + 7) // 8, offset=first)
    return np.unpackbits(raw, count=shift + n, bitorder="little")[shift:].view(bool)


# -- membership ---------------------------------------------------------------------------

ISIN_TABLE = 1 << 20
"""Integers whose values span at most this many numbers are looked up in a bool table."""
_BLOCK = 1 << 16  # values per block of the hash lookup
_HASH_BITS = 16  # the largest perfect-hash table: 2**16 slots (512 kB of int64)
_MULTIPLIERS = (
    0x9E3779B97F4A7C15,
    0xC2B2AE3D27D4EB4F,
    0x165667B19E3779F9,
    0xD6E8FEB86659FD93,
    0xFF51AFD7ED558CCD,
    0xC4CEB9FE1A85EC53,
    0x94D049BB133111EB,
    0xBF58476D1CE4E5B9,
)
"""Odd 64-bit constants for multiplicative hashing (the low 32 bits serve 32-bit keys)."""


def isin_numpy(x: np.ndarray, wanted: np.ndarray) -> np.ndarray:
    """``np.isin(x, wanted)`` for null-free numbers, by lookup instead of sorting.

    Integers spanning at most :data:`ISIN_TABLE` values index a bool table of that span
    (one ``np.take``); other integers and floats look their bit patterns up in a
    collision-free multiplicative hash of the members (one multiply, shift, ``np.take`` and
    compare per value). On 1 M values and 50 members that is 0.8 ms for int32 and 1.4 ms
    for float64, where ``np.isin`` takes 3.5 ms and 6.7 ms. Sets too large for a hash
    table of 2**16 slots go to ``np.isin``. As in NumPy, NaN matches nothing and -0.0
    matches 0.0. ``x`` is cast to ``wanted``'s dtype when they differ, except that integer
    members outside ``x``'s dtype are dropped instead.

    Examples
    --------
    >>> import numpy as np
    >>> isin_numpy(np.array([1, 5, -3, 7]), np.array([7, 1]))
    array([ True, False, False,  True])
    """
    x, wanted = _same_dtype(np.asarray(x), np.asarray(wanted))
    if x.dtype.kind == "f":
        wanted = wanted[~np.isnan(wanted)]
        if np.any(wanted == 0):
            wanted = np.concatenate([wanted, np.array([0.0, -0.0], dtype=x.dtype)])
    if len(x) == 0 or len(wanted) == 0:
        return np.zeros(len(x), dtype=bool)
    if x.dtype.kind in "iu":
        lo, hi = (int(v) for v in pc.min_max(pa.array(x)).values())
        if hi - lo < ISIN_TABLE:
            return _isin_table(x, wanted, lo, hi)
    found = _isin_hash(x, wanted) if x.dtype.itemsize in (4, 8) else None
    return np.isin(x, wanted) if found is None else found


def _same_dtype(x: np.ndarray, wanted: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    if x.dtype == wanted.dtype:
        return x, wanted
    if x.dtype.kind in "iu" and wanted.dtype.kind in "iu":
        info = np.iinfo(x.dtype)
        return x, wanted[(wanted >= info.min) & (wanted <= info.max)].astype(x.dtype)
    return x.astype(wanted.dtype), wanted


def _isin_table(x: np.ndarray, wanted: np.ndarray, lo: int, hi: int) -> np.ndarray:
    """Membership of integers in ``[lo, hi]`` by a bool table (no shift when ``lo >= 0``)."""
    base = 0 if lo >= 0 and hi < ISIN_TABLE else lo
    table = np.zeros(hi - base + 1, dtype=bool)
    members = wanted.astype(np.int64) if wanted.dtype != np.uint64 else wanted
    members = members[(members >= lo) & (members <= hi)]
    table[members - base] = True
    index = x
    if base != 0:  # x - lo wraps around in the unsigned view to the right number
        unsigned = np.dtype(f"u{x.itemsize}")
        index = x.view(unsigned) - unsigned.type(base % (1 << (8 * x.itemsize)))
    if index.dtype == np.uint64:
        index = index.view(np.int64)  # below ISIN_TABLE: the same numbers
    return np.take(table, index)


def _isin_hash(x: np.ndarray, members: np.ndarray) -> np.ndarray | None:
    """Membership by the bits of 4- or 8-byte values in a perfect hash of ``members``
    (None when no multiplier spreads them over at most 2**16 slots without collision).

    The values go through in blocks of 64 Ki (a loop of ``len(x) / 65536`` steps, never
    per value) so that the hash and lookup temporaries stay in cache.
    """
    unsigned = np.dtype(f"u{x.itemsize}")
    width = 8 * x.itemsize
    keys = np.unique(members.view(unsigned))  # of the bits: 0.0 and -0.0 stay apart
    found = _perfect_hash(keys, width)
    if found is None:
        return None
    mult, bits, slots = found
    table = np.full(1 << bits, keys[0], dtype=unsigned)  # key 0 never hashes elsewhere
    table[slots] = keys
    xbits = x.view(unsigned)
    shift = unsigned.type(width - bits)
    out = np.empty(len(x), dtype=bool)
    # Blocks of _BLOCK values reuse two small temporaries that stay in cache: one pass
    # over 1 M float64 takes 5.5 ms with whole-vector temporaries (fresh pages every
    # call), 1.4 ms this way. The loop runs len(x) / _BLOCK times, never per value.
    h = np.empty(min(len(x), _BLOCK), dtype=unsigned)
    looked = np.empty_like(h)
    for start in range(0, len(x), _BLOCK):
        block = xbits[start : start + _BLOCK]
        hb, lb = h[: len(block)], looked[: len(block)]
        np.multiply(block, mult, out=hb)
        hb >>= shift
        np.take(table, hb.view(f"i{x.itemsize}"), out=lb, mode="clip")  # always in range
        np.equal(lb, block, out=out[start : start + len(block)])
    return out


def _perfect_hash(keys: np.ndarray, width: int) -> tuple[Any, int, np.ndarray] | None:
    """A multiplier and a table size that give every key its own slot."""
    utype = keys.dtype.type
    first = max(4, 2 * int(len(keys) - 1).bit_length())
    for bits in range(min(first, _HASH_BITS), _HASH_BITS + 1):
        for const in _MULTIPLIERS:
            mult = utype(const & ((1 << width) - 1))
            slots = ((keys * mult) >> utype(width - bits)).astype(np.intp)
            if len(np.unique(slots)) == len(keys):
                return mult, bits, slots
    return None


def _numpy_views(a: Operand, b: Operand, out: dt.DType) -> list[np.ndarray] | None:
    """Both operands as NumPy (zero-copy), or None if either has nulls or is not numeric."""
    if out.kind not in "iuf" or out == dt.float16:
        return None
    xs = []
    for x in (a, b):
        if isinstance(x, pa.Scalar):
            if not x.is_valid:
                return None
            xs.append(np.asarray(x.as_py(), dtype=out.numpy))
        elif x.null_count:
            return None
        else:
            xs.append(x.to_numpy(zero_copy_only=True))
    return xs


def _numpy_fast(ufunc: np.ufunc, a: Operand, b: Operand, out: dt.DType) -> pa.Array | None:
    """NumPy on buffer views when neither side has nulls: NumPy's speed, Arrow's memory.

    The result array wraps NumPy's output buffer without a copy.
    """
    views = _numpy_views(a, b, out)
    return None if views is None else pa.array(ufunc(views[0], views[1]))


def _arith(
    fn: Callable[..., pa.Array], ufunc: np.ufunc | None = None
) -> Callable[[Operand, Operand], pa.Array]:
    def kernel(a: Operand, b: Operand) -> pa.Array:
        a2, b2, out = _promote(a, b, arithmetic=True)
        if ufunc is not None:
            fast = _numpy_fast(ufunc, a2, b2, out)
            if fast is not None:
                return fast
        return _back(fn(a2, b2), out)

    return kernel


def _true_divide(a: Operand, b: Operand) -> pa.Array:
    a2, b2, out = _promote(a, b, arithmetic=True)
    if out.kind in "iu":
        a2, b2, out = _cast(a2, dt.float64), _cast(b2, dt.float64), dt.float64
    with np.errstate(all="ignore"):
        return _back(pc.divide(a2, b2), out)


def _numpy_binary(ufunc: np.ufunc, name: str) -> Callable[[Operand, Operand], pa.Array]:
    def kernel(a: Operand, b: Operand) -> pa.Array:
        a2, b2, out = _promote(a, b, arithmetic=True)
        work = dt.float32 if out == dt.float16 else out
        xa, va = _np_operand(a2, 1)
        xb, vb = _np_operand(b2, 1)
        if work.kind in "iu" and name in ("floor_divide", "remainder"):
            # Only divisions that produce a value count: a null on either side gives null.
            zero = xb == 0
            for v in (va, vb):
                if v is not None:
                    zero = zero & (v if len(v) > 1 else v[0])
            if np.any(zero):
                pos = int(np.flatnonzero(np.broadcast_to(zero, np.shape(zero) or (1,)))[0])
                raise DivisionByZeroError(
                    f"integer {name.replace('_', ' ')} by zero (divisor at leaf position {pos})"
                )
        with np.errstate(all="ignore"):
            res = ufunc(xa, xb)
        res = np.asarray(res, dtype=work.numpy)
        valid = _and_valid(va, vb, len(res) if res.ndim else 1)
        arr = pa.array(np.atleast_1d(res), type=work.arrow, mask=None if valid is None else ~valid)
        return _back(arr, out)

    return kernel


def _np_operand(x: Operand, fill: Any) -> tuple[Any, np.ndarray | None]:
    if isinstance(x, pa.Scalar):
        if not x.is_valid:
            return fill, np.zeros(1, dtype=bool)
        return x.as_py(), None
    valid = lay.is_valid_mask(x)
    return numpy_view(x, fill), valid


def _and_valid(va: np.ndarray | None, vb: np.ndarray | None, n: int) -> np.ndarray | None:
    if va is None and vb is None:
        return None
    out = np.ones(n, dtype=bool)
    for v in (va, vb):
        if v is not None:
            out &= v if len(v) == n else v[0]
    return out


def _power(a: Operand, b: Operand) -> pa.Array:
    a2, b2, out = _promote(a, b, arithmetic=True)
    if out.kind in "iu":
        exps = b2.as_py() if isinstance(b2, pa.Scalar) else pc.min(b2).as_py()
        if exps is not None and exps < 0:
            raise ConversionError(
                "integers to negative integer powers are not allowed; cast to float first"
            )
        return _numpy_binary(np.power, "power")(a2, b2)
    return _back(pc.power(a2, b2), out)


def _compare(
    fn: Callable[..., pa.Array], ufunc: np.ufunc
) -> Callable[[Operand, Operand], pa.Array]:
    def kernel(a: Operand, b: Operand) -> pa.Array:
        ta, tb = _types(a, b)
        common = ta
        if ta != tb or ta == dt.float16:  # (Arrow has no float16 comparison: float32 does)
            a, b, common = _promote(a, b, arithmetic=False)
            common = dt.float32 if common == dt.float16 else common
        views = _numpy_views(a, b, common)
        if views is not None:
            bits = _native.compare_bits(views[0], views[1], ufunc.__name__)
            if bits is not None:  # (compared straight into the bitmap: one pass)
                n = max(len(v) for v in views if v.ndim)
                return pa.Array.from_buffers(pa.bool_(), n, [None, pa.py_buffer(bits)])
            return bool_from_numpy(np.atleast_1d(ufunc(views[0], views[1])))
        return fn(a, b)

    return kernel


def compare_scalar(
    data: pa.Array, value: Any, name: str, like: dt.DType, *, reflected: bool = False
) -> pa.Array | None:
    """``data <name> value`` (``value <name> data`` when ``reflected``) for lists (any
    depth) of integers or floats without nulls at the leaf and a Python/NumPy number whose
    promotion with ``like`` (the leaf dtype) is ``like`` itself: the leaf compared by one
    compiled call into its bitmap, the lists' own validity and offsets buffers reused, no
    layout nodes. The path of ``a > t`` on a ragged array (the compute benchmark's 1M
    values: ~35 µs of Python around the kernel through the general path). None for
    anything else (the general path then compares, with the same results)."""
    if (
        name not in _native.COMPARE_OPS
        or isinstance(value, (bool, np.bool_))
        or not isinstance(value, (int, float, np.integer, np.floating))
        or like.kind not in "iuf"
        or like == dt.float16
        or dt.result_type_with_scalar(like, value) != like
    ):
        return None
    levels = []
    leaf = data
    while leaf.type.id == _LARGE_LIST:
        levels.append(leaf)
        leaf = leaf.values
    if leaf.null_count or not (pa.types.is_integer(leaf.type) or pa.types.is_floating(leaf.type)):
        return None
    x = leaf.to_numpy(zero_copy_only=True)
    try:
        y = np.asarray(value, dtype=x.dtype)
    except (OverflowError, ValueError):
        return None
    if x.dtype.kind in "iu" and int(y) != value:
        return None  # (a float that is no integer: the general path promotes)
    if (
        x.dtype.kind == "f"
        and isinstance(value, (int, np.integer))
        and abs(int(value)) > _EXACT_INTS[x.itemsize]
    ):
        return None  # (the general path says whether such an int converts)
    # (a scalar on the left: compare_bits mirrors the comparison itself)
    bits = _native.compare_bits(y, x, name) if reflected else _native.compare_bits(x, y, name)
    if bits is None:
        return None
    out = pa.Array.from_buffers(pa.bool_(), len(x), [None, pa.py_buffer(bits)])
    for lists in reversed(levels):
        validity, offsets = lists.buffers()[:2]
        out = pa.Array.from_buffers(
            lay.list_of(out.type),
            len(lists),
            [validity, offsets],
            offset=lists.offset,
            children=[out],
        )
    return out


_LARGE_LIST = pa.lib.Type_LARGE_LIST
_EXACT_INTS = {2: 2**11, 4: 2**24, 8: 2**53}  # the largest ints a float width holds exactly


def _logical(
    bool_fn: Callable[..., pa.Array], int_fn: Callable[..., pa.Array], name: str
) -> Callable[[Operand, Operand], pa.Array]:
    def kernel(a: Operand, b: Operand) -> pa.Array:
        ta, tb = _types(a, b)
        if ta == dt.bool_ and tb == dt.bool_:
            return bool_fn(a, b)
        a2, b2, out = _promote(a, b, arithmetic=False)
        if out.kind not in "iu":
            raise DTypeError(f"{name} needs bool or integer operands, got {ta.name}, {tb.name}")
        return int_fn(a2, b2)

    return kernel


def _concat_strings(a: Operand, b: Operand) -> pa.Array:
    return pc.binary_join_element_wise(a, b, "")


_ADD = _arith(pc.add, np.add)


def _add(a: Operand, b: Operand) -> pa.Array:
    ta, tb = _types(a, b)
    if ta.kind in "US" and tb.kind in "US":
        if ta != tb:
            raise DTypeError(f"cannot concatenate {ta.name} and {tb.name}")
        return _concat_strings(a, b)
    return _ADD(a, b)


BINARY: dict[str, Callable[[Operand, Operand], pa.Array]] = {
    "add": _add,
    "subtract": _arith(pc.subtract, np.subtract),
    "multiply": _arith(pc.multiply, np.multiply),
    "true_divide": _true_divide,
    "floor_divide": _numpy_binary(np.floor_divide, "floor_divide"),
    "remainder": _numpy_binary(np.remainder, "remainder"),
    "power": _power,
    "equal": _compare(pc.equal, np.equal),
    "not_equal": _compare(pc.not_equal, np.not_equal),
    "less": _compare(pc.less, np.less),
    "less_equal": _compare(pc.less_equal, np.less_equal),
    "greater": _compare(pc.greater, np.greater),
    "greater_equal": _compare(pc.greater_equal, np.greater_equal),
    "and": _logical(pc.and_, pc.bit_wise_and, "&"),
    "or": _logical(pc.or_, pc.bit_wise_or, "|"),
    "xor": _logical(pc.xor, pc.bit_wise_xor, "^"),
    # NumPy's rules on every path: a null gives null and NaN wins (Arrow's element-wise
    # max/min skip both).
    "maximum": _numpy_binary(np.maximum, "maximum"),
    "minimum": _numpy_binary(np.minimum, "minimum"),
}


def binary_kernel(name: str) -> Callable[[Operand, Operand], pa.Array]:
    """The leaf kernel of a binary operation by name."""
    return BINARY[name]


# ---------------------------------------------------------------------------------------
# unary


def _float_math(fn: Callable[[pa.Array], pa.Array]) -> Callable[[pa.Array], pa.Array]:
    def kernel(x: pa.Array) -> pa.Array:
        d = leaf_dtype(x)
        _require_numeric(d, fn)
        if d == dt.float16:
            return pc.cast(fn(pc.cast(x, pa.float32())), pa.float16())
        if d.kind != "f":
            x = pc.cast(x, pa.float64())
        return fn(x)

    return kernel


def _require_numeric(d: dt.DType, fn: Any) -> None:
    if d.kind not in "iufb":
        name = getattr(fn, "__name__", "this function")
        raise DTypeError(f"{name} needs numeric values, got {d.name}")


def _keep_int(fn: Callable[[pa.Array], pa.Array]) -> Callable[[pa.Array], pa.Array]:
    """Rounding functions: integers are already whole, keep them (and their dtype)."""
    float_fn = _float_math(fn)

    def kernel(x: pa.Array) -> pa.Array:
        d = leaf_dtype(x)
        _require_numeric(d, fn)
        return x if d.kind in "iu" else float_fn(x)

    return kernel


def _float_test(
    fn: Callable[[pa.Array], pa.Array], int_value: bool
) -> Callable[[pa.Array], pa.Array]:
    def kernel(x: pa.Array) -> pa.Array:
        d = leaf_dtype(x)
        _require_numeric(d, fn)
        if d.kind == "f":
            return fn(x if d != dt.float16 else pc.cast(x, pa.float32()))
        const = pa.array(np.full(len(x), int_value), type=pa.bool_())
        return pc.if_else(pc.is_valid(x), const, pa.scalar(None, pa.bool_()))

    return kernel


def _negative(x: pa.Array) -> pa.Array:
    d = leaf_dtype(x)
    if d == dt.bool_:
        raise DTypeError("unary - is not defined for bool; use ~ for logical not")
    _require_numeric(d, pc.negate)
    return pc.negate(x)


def _abs(x: pa.Array) -> pa.Array:
    d = leaf_dtype(x)
    _require_numeric(d, pc.abs)
    return x if d.kind in "ub" else pc.abs(x)


def _invert(x: pa.Array) -> pa.Array:
    d = leaf_dtype(x)
    if d == dt.bool_:
        return pc.invert(x)
    if d.kind in "iu":
        return pc.bit_wise_not(x)
    raise DTypeError(f"~ needs bool or integer values, got {d.name}")


def _sign(x: pa.Array) -> pa.Array:
    d = leaf_dtype(x)
    _require_numeric(d, pc.sign)
    return _back(pc.sign(x), d)


UNARY: dict[str, Callable[[pa.Array], pa.Array]] = {
    "negative": _negative,
    "absolute": _abs,
    "invert": _invert,
    "sqrt": _float_math(pc.sqrt),
    "exp": _float_math(pc.exp),
    "log": _float_math(pc.ln),
    "log2": _float_math(pc.log2),
    "log10": _float_math(pc.log10),
    "sin": _float_math(pc.sin),
    "cos": _float_math(pc.cos),
    "tan": _float_math(pc.tan),
    "arcsin": _float_math(pc.asin),
    "arccos": _float_math(pc.acos),
    "arctan": _float_math(pc.atan),
    "sign": _sign,
    "floor": _keep_int(pc.floor),
    "ceil": _keep_int(pc.ceil),
    "isnan": _float_test(pc.is_nan, False),
    "isfinite": _float_test(pc.is_finite, True),
    "isinf": _float_test(pc.is_inf, False),
}


def unary_kernel(name: str) -> Callable[[pa.Array], pa.Array]:
    """The leaf kernel of a unary operation by name."""
    return UNARY[name]


def round_kernel(decimals: int) -> Callable[[pa.Array], pa.Array]:
    """Round half to even, like NumPy; integers with ``decimals >= 0`` are unchanged."""

    def kernel(x: pa.Array) -> pa.Array:
        d = leaf_dtype(x)
        _require_numeric(d, pc.round)
        if d.kind in "iub" and decimals >= 0:
            return x
        work = x if d.kind == "f" and d != dt.float16 else pc.cast(x, pa.float64())
        out = pc.round(work, ndigits=decimals, round_mode="half_to_even")
        return _back(out, d) if d.kind == "f" else out

    return kernel


def scalar_operand(value: Any, like: dt.DType) -> pa.Scalar:
    """A Python/NumPy scalar as an Arrow scalar of the dtype it promotes to with ``like``."""
    if value is None:
        return pa.scalar(None, type=like.arrow)
    target = dt.result_type_with_scalar(like, value)
    if isinstance(value, (bool, np.bool_)) and target.kind != "b":
        value = int(value)
    try:
        return pa.scalar(
            value.item() if isinstance(value, np.generic) else value, type=target.arrow
        )
    except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError) as err:
        raise ConversionError(f"scalar {value!r} does not fit {target.name}") from err
