"""Tracing: call the function once with proxy arrays and frames that record a graph.

Each proxy carries a small *sample* (the first rows of the real argument) and runs every
operation eagerly on it as it records it, so the graph gets eager code's dtypes, nulls
and errors for free: an operation eager code refuses raises here too, and the compiled
function then runs eagerly and raises the same error. What a proxy cannot follow
(``len(x)``, ``if x.sum() > 0``, ``x.to_list()``, outer-axis reductions, indexing)
raises :class:`~grumpy_arrow.compiler.graph.TraceError` saying what.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from typing import Any, cast

import numpy as np

from grumpy_arrow import dtypes as dt
from grumpy_arrow import layout as lay
from grumpy_arrow._typing import Casting, DTypeLike
from grumpy_arrow.array import GrumpyArray, is_scalar
from grumpy_arrow.compiler.graph import (
    PY_OPS,
    Assignment,
    FrameRef,
    Input,
    Op,
    Program,
    Shape,
    TraceError,
)
from grumpy_arrow.compute.elementwise import BINARY, UNARY
from grumpy_arrow.compute.reduce import REDUCERS, normalize_dim
from grumpy_arrow.frame.dataframe import DataFrame, LevelAttributes
from grumpy_arrow.functions import _UFUNC_ALIASES
from grumpy_arrow.functions import where as eager_where

__all__ = ["SAMPLE_ROWS", "TracedArray", "TracedFrame", "TracedScalar", "trace"]

SAMPLE_ROWS = 16
"""Rows of each argument the proxies compute on while tracing."""

ARG_ROWS = "args"
"""The row domain of array arguments (their lengths are checked equal at run time)."""

# NumPy ufuncs the graph records, by name -> graph name: those named like a kernel of
# compute.elementwise.UNARY / BINARY or aliased to one (as eager code dispatches them), and
# those eager code runs on the leaf buffers with NumPy's dtype rules (numpy_api).
_NUMPY_UNARY = [
    "cbrt",
    "cosh",
    "exp2",
    "expm1",
    "log1p",
    "reciprocal",
    "sinh",
    "square",
    "tanh",
    "trunc",
]
_NUMPY_BINARY = ["hypot", "arctan2"]
# The aliases eager code dispatches (np.divide runs true_divide...), and two of its own.
_ALIASES = {**_UFUNC_ALIASES, "fabs": "absolute", "mod": "remainder"}


def _ufunc_table(kernels: Collection[str], numpy_only: list[str]) -> dict[str, str]:
    """NumPy ufunc name -> graph name: each of these graph names that names a NumPy ufunc,
    and each alias of one of them."""
    names = [*kernels, *numpy_only]
    table = {name: name for name in names if isinstance(getattr(np, name, None), np.ufunc)}
    table.update({alias: op for alias, op in _ALIASES.items() if op in names})
    return table


UNARY_UFUNCS = _ufunc_table(UNARY, _NUMPY_UNARY)
BINARY_UFUNCS = _ufunc_table(BINARY, _NUMPY_BINARY)


class Tracer:
    """The graph being recorded."""

    def __init__(self) -> None:
        self.ops: list[Op] = []
        self.inputs: list[Input] = []
        self.assignments: list[Assignment] = []

    def add(
        self,
        kind: str,
        name: str,
        args: tuple[Op, ...],
        dtype: dt.DType | None,
        shape: Shape | None,
        **attrs: Any,
    ) -> Op:
        if dtype == dt.float16:
            raise TraceError(
                f"{name} gives float16 values (NumPy's rule for bools and small "
                "integers), which run eagerly"
            )
        op = Op(len(self.ops), kind, name, args, dtype, shape, attrs)
        self.ops.append(op)
        return op

    def input(self, spec: Input, sample: GrumpyArray, shape: Shape) -> TracedArray:
        _check_leaves(sample, spec)
        self.inputs.append(spec)
        op = self.add(
            "input",
            "arg" if spec.column is None else "column",
            (),
            sample.dtype,
            shape,
            index=len(self.inputs) - 1,
        )
        return TracedArray(self, op, sample)

    def const(self, value: Any, like: TracedArray) -> Op:
        """A Python number as an operand of ``like`` (its dtype: NumPy's weak-scalar rule)."""
        if isinstance(value, TracedScalar):
            target = dt.result_type_with_scalar(like.dtype, value.sample)
            return self.add("const", "runtime", (value.op,), target, None)
        target = dt.result_type_with_scalar(like.dtype, value) if value is not None else like.dtype
        return self.add("const", "value", (), target, None, value=value)


def _check_leaves(sample: GrumpyArray, spec: Input) -> None:
    """Only numbers and bools below lists or scalar-or-list unions compile."""
    node = sample.node
    while isinstance(node, (lay.ListNode, lay.UnionNode)):
        node = node.lists if isinstance(node, lay.UnionNode) else node.content
    where = f"argument {spec.arg}" + (f", column {spec.column!r}" if spec.column else "")
    if isinstance(node, lay.RecordNode):
        raise TraceError(f"{where} holds records: select a field before compiling")
    if sample.dtype.kind not in "biuf" or sample.dtype == dt.float16:
        raise TraceError(
            f"{where} holds {sample.dtype.name} values; only numbers and bools compile"
        )
    if isinstance(sample.node, lay.UnionNode):
        inner = sample.node.lists.content
        while isinstance(inner, lay.ListNode):
            inner = inner.content
        if isinstance(inner, lay.UnionNode):
            raise TraceError(f"{where} nests a union below a list")
    elif _has_union_below(sample.node):
        raise TraceError(f"{where} has a scalar-or-list union below its rows")


def _has_union_below(node: lay.Node) -> bool:
    while isinstance(node, lay.ListNode):
        node = node.content
        if isinstance(node, lay.UnionNode):
            return True
    return False


def _array_axes(node: lay.Node, prefix: tuple[Any, ...]) -> tuple[tuple[Any, ...], Any]:
    """The list axes of an argument's node (named ``prefix + (m,)``) and its union mark."""
    if isinstance(node, lay.UnionNode):
        return _array_axes(node.lists, prefix)[0], prefix
    found: list[Any] = []
    while isinstance(node, lay.ListNode):
        found.append((*prefix, len(found) + 1))
        node = node.content
    return tuple(found), None


# ---------------------------------------------------------------------------------------
# proxies


def _refuse(what: str) -> Callable[..., Any]:
    def method(self: Any, *args: Any, **kwargs: Any) -> Any:
        raise TraceError(f"{what} depends on the data; compiled functions cannot use it")

    return method


class TracedArray:
    """A proxy GrumpyArray: records operations instead of computing them (besides a sample)."""

    __slots__ = ("_tracer", "op", "sample")
    __array_priority__ = 1000
    __hash__ = None  # type: ignore[assignment]
    _gr_traced = True  # gr.where and gr.clip hand proxies back to this module

    def __init__(self, tracer: Tracer, op: Op, sample: GrumpyArray) -> None:
        self._tracer, self.op, self.sample = tracer, op, sample

    @property
    def dtype(self) -> dt.DType:
        """The leaf dtype (known while tracing)."""
        return self.sample.dtype

    @property
    def ndim(self) -> int:
        """The number of axes (known while tracing)."""
        return self.sample.ndim

    @property
    def shape_of(self) -> Shape:
        assert self.op.shape is not None
        return self.op.shape

    __len__ = _refuse("len()")
    __bool__ = _refuse("truth testing (if/while/and/or on an array)")
    __iter__ = _refuse("iterating over an array")
    __getitem__ = _refuse("indexing inside a compiled function")
    to_list = tolist = to_numpy = to_arrow = to_pandas = _refuse("converting to Python or NumPy")
    __float__ = __int__ = _refuse("converting to a number")

    def __getattr__(self, name: str) -> Any:
        raise TraceError(f"x.{name} is not supported in compiled functions")

    # -- elementwise ------------------------------------------------------------------

    def _binary(self, other: Any, name: str, reflected: bool = False) -> Any:
        t = self._tracer
        if isinstance(other, TracedArray):
            sample_other = other.sample
            shape = _combine(self.shape_of, other.shape_of, name)
            other_op = other.op
        elif isinstance(other, TracedScalar) or is_scalar(other):
            if other is None:
                raise TraceError(f"{name} with None runs eagerly")
            sample_other = other.sample if isinstance(other, TracedScalar) else other
            shape = self.shape_of
            other_op = t.const(other, self)
        else:
            raise TraceError(
                f"{name} with a {type(other).__name__} captured from outside; pass "
                "arrays as arguments of the compiled function"
            )
        a, b = (sample_other, self.sample) if reflected else (self.sample, sample_other)
        sample = eager_binary(a, b, name)
        args = (other_op, self.op) if reflected else (self.op, other_op)
        op = t.add("binary", name, args, sample.dtype, shape)
        return TracedArray(t, op, sample)

    def __neg__(self) -> TracedArray:
        return self._unary("negative")

    def __abs__(self) -> TracedArray:
        return self._unary("absolute")

    def __invert__(self) -> TracedArray:
        return self._unary("invert")

    def __pos__(self) -> TracedArray:
        return self

    def _unary(self, name: str) -> TracedArray:
        sample = eager_unary(self.sample, name)
        op = self._tracer.add("unary", name, (self.op,), sample.dtype, self.shape_of)
        return TracedArray(self._tracer, op, sample)

    def __array_ufunc__(self, ufunc: np.ufunc, method: str, *inputs: Any, **kwargs: Any) -> Any:
        if method != "__call__" or kwargs:
            raise TraceError(f"np.{ufunc.__name__}.{method} with {sorted(kwargs)} runs eagerly")
        name = ufunc.__name__
        if len(inputs) == 1 and name in UNARY_UFUNCS:
            return self._unary(UNARY_UFUNCS[name])
        if len(inputs) == 2 and name in BINARY_UFUNCS:
            a, b = inputs
            if isinstance(a, TracedArray):
                return a._binary(b, BINARY_UFUNCS[name])
            return b._binary(a, BINARY_UFUNCS[name], True)
        raise TraceError(f"np.{name} is not in the compiled ufunc table")

    def __array_function__(self, func: Any, types: Any, args: Any, kwargs: Any) -> Any:
        name = getattr(func, "__name__", str(func))
        if name == "where" and len(args) == 3 and not kwargs:
            return where(*args)
        if name == "clip":
            return clip(*args, **kwargs)
        if name in REDUCERS or name in ("amin", "amax", "nanmean"):
            axis = kwargs.pop("axis", None)
            if kwargs or len(args) != 1:
                raise TraceError(f"np.{name} with these arguments runs eagerly")
            op = {"amin": "min", "amax": "max"}.get(name, name)
            return getattr(args[0], op)(dim=axis)
        raise TraceError(f"np.{name} is not supported in compiled functions")

    def astype(self, dtype: DTypeLike, *, casting: Casting = "unsafe") -> TracedArray:
        """A cast of the leaves (float to integer casts run eagerly)."""
        sample = self.sample.astype(dtype, casting=casting)
        if self.dtype.kind == "f" and sample.dtype.kind in "iu":
            raise TraceError("float to integer casts run eagerly (NaN and out-of-range values)")
        op = self._tracer.add("cast", sample.dtype.name, (self.op,), sample.dtype, self.shape_of)
        return TracedArray(self._tracer, op, sample)

    @staticmethod
    def _gr_where(cond: Any, x: Any, y: Any) -> Any:
        return where(cond, x, y)

    def where(self, cond: Any, other: Any = None) -> Any:
        """``self`` where ``cond``, else ``other`` (as ``GrumpyArray.where``)."""
        return where(cond, self, other)

    def clip(self, lower: Any = None, upper: Any = None) -> Any:
        """Values limited to ``[lower, upper]``."""
        return clip(self, lower, upper)

    # -- reductions -------------------------------------------------------------------

    def _reduce(self, name: str, dim: int | None, ddof: int = 0) -> Any:
        shape = self.shape_of
        if shape.union is not None:
            raise TraceError("reductions of scalar-or-list unions run eagerly")
        if name in ("std", "var"):
            sample = getattr(self.sample, name)(dim=dim, ddof=ddof)
        else:
            sample = getattr(self.sample, name)(dim=dim)
        t = self._tracer
        if dim is None or not isinstance(sample, GrumpyArray):
            op = t.add("total", name, (self.op,), None, None, ddof=ddof, pytype=type(sample))
            return TracedScalar(t, op, sample)
        k = normalize_dim(dim, self.ndim)
        if k != self.ndim - 1 or shape.depth == 0:
            raise TraceError(
                f"{name}(dim={dim}) reduces an outer axis (positionally); only "
                "the innermost axis and dim=None compile"
            )
        op = t.add("reduce", name, (self.op,), sample.dtype, shape.parent(), ddof=ddof)
        return TracedArray(t, op, sample)

    def std(self, dim: int | None = None, *, ddof: int = 0) -> Any:
        return self._reduce("std", dim, ddof)

    def var(self, dim: int | None = None, *, ddof: int = 0) -> Any:
        return self._reduce("var", dim, ddof)


def _reduction(name: str) -> Callable[[TracedArray, int | None], Any]:
    def method(self: TracedArray, dim: int | None = None) -> Any:
        return self._reduce(name, dim)

    method.__name__ = name
    return method


for _name in REDUCERS:
    if _name not in ("std", "var"):
        setattr(TracedArray, _name, _reduction(_name))


def _operator(name: str, reflected: bool = False) -> Callable[[TracedArray, Any], Any]:
    def method(self: TracedArray, other: Any) -> Any:
        return self._binary(other, name, reflected)

    return method


# Python operator (method stem) -> graph name. Arithmetic works on arrays and on reduced
# scalars (the ``pyop`` names of graph.PY_OPS), the bitwise operators on arrays only.
_ARITHMETIC = [
    ("add", "add"),
    ("sub", "subtract"),
    ("mul", "multiply"),
    ("truediv", "true_divide"),
    ("floordiv", "floor_divide"),
    ("mod", "remainder"),
    ("pow", "power"),
]
for _dunder, _name in [*_ARITHMETIC, ("and", "and"), ("or", "or"), ("xor", "xor")]:
    setattr(TracedArray, f"__{_dunder}__", _operator(_name))
    setattr(TracedArray, f"__r{_dunder}__", _operator(_name, True))
_COMPARISONS = [
    ("eq", "equal"),
    ("ne", "not_equal"),
    ("lt", "less"),
    ("le", "less_equal"),
    ("gt", "greater"),
    ("ge", "greater_equal"),
]
for _dunder, _name in _COMPARISONS:
    setattr(TracedArray, f"__{_dunder}__", _operator(_name))


def eager_unary(x: Any, name: str) -> GrumpyArray:
    """Eager code's result of the unary op ``name`` (raises what eager code raises)."""
    if name == "invert":
        return cast("GrumpyArray", ~x)
    if name == "negative":
        return cast("GrumpyArray", -x)
    if name == "absolute":
        return cast("GrumpyArray", abs(x))
    return cast("GrumpyArray", getattr(np, name)(x))


def eager_binary(a: Any, b: Any, name: str) -> GrumpyArray:
    """Eager code's result of the binary op ``name`` (raises what eager code raises)."""
    if name in BINARY:
        if isinstance(a, GrumpyArray):
            return a._binary(b, name)
        return cast("GrumpyArray", b._binary(a, name, True))
    fn = getattr(np, name)
    return cast("GrumpyArray", fn(a, b))


def _combine(a: Shape, b: Shape, what: str) -> Shape:
    if a.covers(b):
        return a
    if b.covers(a):
        return b
    raise TraceError(
        f"{what} combines values of different structures (rows {a.rows!r} / {b.rows!r}, "
        f"{a.depth} / {b.depth} list axes); only values of one argument's or one frame's "
        "structure, and parents broadcast onto children, compile"
    )


class TracedScalar:
    """A proxy of a Python scalar that a reduction to one value gives at run time."""

    __slots__ = ("_tracer", "op", "sample")
    __hash__ = None  # type: ignore[assignment]

    def __init__(self, tracer: Tracer, op: Op, sample: Any) -> None:
        self._tracer, self.op, self.sample = tracer, op, sample

    __bool__ = _refuse("truth testing of a reduced value")
    __lt__ = __le__ = __gt__ = __ge__ = _refuse("truth testing of a reduced value (a comparison)")
    __float__ = __int__ = __index__ = _refuse("converting a reduced value to a number")

    def __getattr__(self, name: str) -> Any:
        raise TraceError(f"scalar.{name} is not supported in compiled functions")

    def _py(self, other: Any, name: str, reflected: bool = False) -> Any:
        if isinstance(other, TracedArray):
            return other._binary(self, name, not reflected)
        if not (isinstance(other, TracedScalar) or is_scalar(other)):
            raise TraceError(f"{name} of a reduced value with a {type(other).__name__}")
        t = self._tracer
        if isinstance(other, TracedScalar):
            other_op, other_sample = other.op, other.sample
        else:
            other_op = t.add("const", "value", (), None, None, value=other)
            other_sample = other
        a, b = (other_sample, self.sample) if reflected else (self.sample, other_sample)
        if a is None or b is None:
            raise TraceError("arithmetic on an empty reduction (None) runs eagerly")
        sample = PY_OPS[name](a, b)
        args = (other_op, self.op) if reflected else (self.op, other_op)
        return TracedScalar(t, t.add("pyop", name, args, None, None), sample)


def _py_operator(name: str, reflected: bool = False) -> Callable[[TracedScalar, Any], Any]:
    def method(self: TracedScalar, other: Any) -> Any:
        return self._py(other, name, reflected)

    return method


for _dunder, _name in _ARITHMETIC:
    setattr(TracedScalar, f"__{_dunder}__", _py_operator(_name))
    setattr(TracedScalar, f"__r{_dunder}__", _py_operator(_name, True))


def where(cond: Any, x: Any, y: Any) -> Any:
    """``gr.where(cond, x, y)`` on proxies (``x``/``y`` arrays or numbers, not None)."""
    if not isinstance(cond, TracedArray):
        raise TraceError("where needs a traced condition")
    t = cond._tracer
    shape = cond.shape_of
    samples, ops = [], []
    arrays = [v for v in (x, y) if isinstance(v, TracedArray)]
    for v in (x, y):
        if isinstance(v, TracedArray):
            shape = _combine(shape, v.shape_of, "where")
    like = arrays[0] if arrays else None
    for v in (x, y):
        if isinstance(v, TracedArray):
            samples.append(v.sample)
            ops.append(v.op)
        elif v is None or not (is_scalar(v) or isinstance(v, TracedScalar)):
            raise TraceError("where with None or a captured array runs eagerly")
        elif like is None:
            raise TraceError("where of two numbers runs eagerly")
        else:
            samples.append(v.sample if isinstance(v, TracedScalar) else v)
            ops.append(t.const(v, like))
    sample = eager_where(cond.sample, samples[0], samples[1])
    op = t.add("where", "where", (cond.op, ops[0], ops[1]), sample.dtype, shape)
    return TracedArray(t, op, sample)


def clip(x: Any, lower: Any = None, upper: Any = None) -> Any:
    """``gr.clip`` on a proxy: maximum with ``lower``, then minimum with ``upper``."""
    if not isinstance(x, TracedArray):
        raise TraceError("clip needs a traced array")
    out = x
    if lower is not None:
        out = out._binary(lower, "maximum")
    if upper is not None:
        out = out._binary(upper, "minimum")
    return out


# ---------------------------------------------------------------------------------------
# frames


class TracedFrame:
    """A proxy DataFrame: level views, column reads and assignments are recorded."""

    __slots__ = ("_arg", "_assigned", "_sample", "_tracer")

    def __init__(self, tracer: Tracer, arg: int, sample: DataFrame) -> None:
        object.__setattr__(self, "_tracer", tracer)
        object.__setattr__(self, "_arg", arg)
        object.__setattr__(self, "_sample", sample)
        object.__setattr__(self, "_assigned", {})

    @property
    def schema(self) -> Any:
        return self._sample.schema

    @property
    def columns(self) -> list[str]:
        return cast("list[str]", self._sample.columns)

    def __len__(self) -> int:
        raise TraceError("len() of a frame depends on the data")

    def _level(self, name: str) -> int | None:
        schema = self._sample.schema
        if schema is None:
            return None
        try:
            return int(schema.index(name))
        except Exception:
            return None

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        k = self._level(name)
        if k is not None:
            return TracedLevel(self, k)
        if name in self._sample.columns:
            return self.peel(name, self._sample._own_level(name))
        raise TraceError(f"frame.{name} is not supported in compiled functions")

    def __setattr__(self, name: str, value: Any) -> None:
        getattr(self._sample, name)  # raises eager's error for a bad name
        raise TraceError(f"setting frame.{name} runs eagerly")

    def __getitem__(self, key: Any) -> Any:
        if isinstance(key, str):
            return self.peel(key, 0)
        raise TraceError("selecting frame rows inside a compiled function runs eagerly")

    def __setitem__(self, name: str, value: Any) -> None:
        self.assign_at(None, name, value)

    def peel(self, name: str, level: int) -> TracedArray:
        """Column ``name`` seen from level ``level`` (recorded as an input)."""
        assigned = self._assigned.get(name)
        if assigned is not None:
            if assigned[0] != level:
                raise TraceError(f"column {name!r} is assigned and then read at another level")
            return cast("TracedArray", assigned[1])
        sample = self._sample.peel(name, level)
        own = self._sample._own_level(name)
        axes: tuple[Any, ...] = tuple(("frame", self._arg, j) for j in range(level + 1, own + 1))
        node = self._sample[name].node
        for _ in range(own):
            assert isinstance(node, lay.ListNode)
            node = node.content
        own_axes, union = _array_axes(node, ("col", self._arg, name))
        shape = Shape(("frame", self._arg, level), axes + own_axes, union)
        return cast("TracedArray", self._tracer.input(Input(self._arg, name, level), sample, shape))

    def assign_at(self, level: int | None, name: str, value: Any) -> None:
        """Record ``value`` assigned to column ``name`` at ``level`` (None: the rows)."""
        if not isinstance(value, TracedArray):
            raise TraceError(f"assigning a {type(value).__name__} to {name!r} runs eagerly")
        view = 0 if level is None else level
        if value.shape_of.rows != ("frame", self._arg, view):
            raise TraceError(f"the value assigned to {name!r} is not of this frame's level")
        if level is None:
            self._sample[name] = value.sample
        else:
            self._sample.assign_at(level, name, value.sample)
        self._tracer.assignments.append(Assignment(self._arg, level, name, value.op))
        # Later reads at this view get the value (peel refuses reads at other levels).
        reread = TracedArray(self._tracer, value.op, self._sample.peel(name, view))
        self._assigned[name] = (view, reread)


class TracedLevel(LevelAttributes):
    """``df.<level>`` on a proxy frame."""

    __slots__ = ()

    def __len__(self) -> int:
        raise TraceError("len() of a level depends on the data")


# ---------------------------------------------------------------------------------------
# the driver


def trace(fn: Callable[..., Any], args: tuple[Any, ...]) -> Program:
    """Trace ``fn(*args)`` on samples of its array and frame arguments.

    Raises
    ------
    TraceError
        If the function does something the compiler cannot follow.
    Exception
        Whatever eager code raises on the samples.
    """
    tracer = Tracer()
    proxies: list[Any] = []
    for i, arg in enumerate(args):
        if isinstance(arg, GrumpyArray):
            sample = arg[:SAMPLE_ROWS]
            axes, union = _array_axes(arg.node, ("arg", i))
            shape = Shape(ARG_ROWS, axes, union)
            proxies.append(tracer.input(Input(i), sample, shape))
        elif isinstance(arg, DataFrame):
            proxies.append(TracedFrame(tracer, i, arg[:SAMPLE_ROWS].copy()))
        else:
            raise TraceError(
                f"argument {i} is a {type(arg).__name__}; compiled functions take "
                "GrumpyArrays and DataFrames"
            )
    out = fn(*proxies)
    result = _template(out)
    return Program(
        tracer.inputs, tracer.ops, tracer.assignments, result, _row_local(tracer, result)
    )


def _template(out: Any) -> Any:
    """The return value with proxies replaced by their ops (tuples, lists, dicts kept)."""
    if isinstance(out, (TracedArray, TracedScalar)):
        return out.op
    if isinstance(out, TracedFrame):
        return FrameRef(out._arg)
    if isinstance(out, TracedLevel):
        raise TraceError("returning a level view runs eagerly; return the frame")
    if isinstance(out, tuple):
        return tuple(_template(o) for o in out)
    if isinstance(out, list):
        return [_template(o) for o in out]
    if isinstance(out, dict):
        return {k: _template(v) for k, v in out.items()}
    if out is None or is_scalar(out):
        return out
    raise TraceError(f"the function returns a {type(out).__name__} built outside the trace")


def _row_local(tracer: Tracer, result: Any) -> bool:
    """Whether consecutive batches can run as one call (see ``Program.row_local``)."""
    if any(op.kind == "total" for op in tracer.ops):
        return False
    outer = {ARG_ROWS} | {("frame", i.arg, 0) for i in tracer.inputs}

    def ok(item: Any) -> bool:
        if isinstance(item, Op):
            return item.shape is not None and item.shape.rows in outer
        if isinstance(item, (tuple, list)):
            return all(ok(v) for v in item)
        if isinstance(item, dict):
            return all(ok(v) for v in item.values())
        return isinstance(item, FrameRef)

    return ok(result)
