"""The two engines that run a traced program on one call's buffers.

* ``numba``: the kernels of :mod:`~grumpy_arrow.compiler.kernels` compiled with
  ``@njit(nogil=True, cache=True)`` (``parallel=True`` with ``prange`` over rows for calls of
  at least :data:`PARALLEL_MIN` values). The source goes to a cache directory and is
  imported from there, so numba's disk cache works in a read-only installation.
* ``numpy``: no dependency. Every operation runs eager code's leaf kernel on whole flat
  buffers (no nesting, no per-operation layout work); parents are broadcast with one
  index per level. Its results are eager code's, bit for bit.

Both return ``{op id: Arrow leaf}`` for the materialized array values and ``{op id: Python
value}`` for the scalars.
"""

from __future__ import annotations

import hashlib
import importlib.util
import math
import os
import sys
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

import numpy as np
import pyarrow as pa

from grumpy_arrow import dtypes as dt
from grumpy_arrow import layout as lay
from grumpy_arrow._optional import require
from grumpy_arrow.array import GrumpyArray
from grumpy_arrow.compiler.buffers import Bound, Mismatch, leaf_array, leaf_buffers
from grumpy_arrow.compiler.graph import PY_OPS, Op, Program
from grumpy_arrow.compiler.kernels import (
    Kernel,
    acc_dtype,
    materialized,
    nullable,
    plan,
    source,
)
from grumpy_arrow.compiler.trace import eager_binary, eager_unary
from grumpy_arrow.functions import where

__all__ = ["PARALLEL_MIN", "KernelFlag", "NumbaEngine", "NumpyEngine", "cache_dir", "scalar_value"]

PARALLEL_MIN = 1 << 18
"""Calls over at least this many values run the ``prange`` kernels (below, the serial ones:
handing work to threads costs more than it saves)."""


class KernelFlag(Exception):
    """A kernel met a value eager code raises on (an integer division by zero...)."""


def scalar_value(op: Op, scalars: dict[int, Any]) -> Any:
    """The Python value of a scalar op (a total, a constant or Python arithmetic)."""
    if op.id in scalars:
        return scalars[op.id]
    if op.kind == "const" and not op.args:
        value = op.attrs["value"]
    elif op.kind == "const":
        value = scalar_value(op.args[0], scalars)
    elif op.kind == "pyop":
        a, b = (scalar_value(x, scalars) for x in op.args)
        if a is None or b is None:
            raise Mismatch("a reduction was empty (None)")
        value = PY_OPS[op.name](a, b)
    else:
        raise KeyError(op.id)
    scalars[op.id] = value
    return value


def _total_value(op: Op, acc: np.ndarray, cnt: np.ndarray) -> Any:
    """A reduction to one value from a total kernel's accumulators, as eager code types it."""
    n, pos = int(cnt[0]), int(cnt[1])
    ddof = int(op.attrs.get("ddof", 0))
    name = op.name
    value: Any
    if name in ("mean", "min", "max", "ptp", "argmin", "argmax") and n == 0:
        return None
    if name in ("var", "std") and n <= ddof:
        return None
    if name == "mean":
        value = float(acc[0]) / n
    elif name in ("var", "std"):
        value = float(acc[0]) / (n - ddof)
        value = math.sqrt(value) if name == "std" else value
    elif name == "count":
        value = n
    elif name in ("argmin", "argmax"):
        value = pos
    elif name == "ptp":
        value = acc[1] - acc[0]
    else:
        value = acc[0]
    pytype = op.attrs.get("pytype")
    src = op.args[0].dtype
    if pytype is None or pytype is type(None):
        pytype = _default_pytype(name, src)
    if pytype in (int, float, bool):
        return pytype(value)
    return pytype(value) if isinstance(pytype, type) else value


def _default_pytype(name: str, src: dt.DType | None) -> type:
    if name in ("count", "count_nonzero", "argmin", "argmax"):
        return int
    if name in ("any", "all"):
        return bool
    if name in ("mean", "var", "std") or (src is not None and src.kind == "f"):
        return float
    return int


# ---------------------------------------------------------------------------------------
# numba


def cache_dir() -> Path:
    """Where generated kernel sources (and numba's cache next to them) live:
    ``$GR_COMPILE_CACHE``, else ``$XDG_CACHE_HOME/grumpy_arrow/kernels``, else a
    temporary directory when neither is writable."""
    numba = require("numba", what="gr.compile's numba engine", install="'grumpy_arrow[compile]'")
    root = os.environ.get("GR_COMPILE_CACHE")
    if root:
        base = Path(root)
    else:
        xdg = os.environ.get("XDG_CACHE_HOME") or os.path.join(Path.home(), ".cache")
        base = Path(xdg) / "grumpy_arrow" / "kernels"
    path = base / f"numba-{numba.__version__}"
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe = path / ".write-test"
        probe.write_text("")
        probe.unlink()
    except OSError:
        path = Path(tempfile.gettempdir()) / f"grumpy_arrow-kernels-{os.getuid()}"
        path.mkdir(parents=True, exist_ok=True)
    return path


_LOADED: dict[str, Callable[..., Any]] = {}
_LOAD_LOCK = threading.Lock()
_PARALLEL_LOCK = threading.Lock()  # numba's workqueue threading layer is not reentrant


def load_kernel(text: str, parallel: bool) -> Callable[..., Any]:
    """The numba function of a kernel's source (written once per source, then cached)."""
    header = (
        "import numpy as np\nfrom numba import njit, prange\n\n\n"
        f"@njit(nogil=True, cache=True, parallel={parallel}, error_model='numpy')\n"
    )
    full = header + text.replace("def k(", "def kernel(", 1)
    key = hashlib.sha1(full.encode()).hexdigest()[:20]
    with _LOAD_LOCK:
        fn = _LOADED.get(key)
        if fn is not None:
            return fn
        folder = cache_dir()
        path = folder / f"grk_{key}.py"
        if not path.exists() or path.read_text() != full:
            tmp = folder / f".grk_{key}.{os.getpid()}.{threading.get_ident()}.tmp"
            tmp.write_text(full)
            os.replace(tmp, path)
        name = f"grumpy_arrow_kernels.grk_{key}"
        spec = importlib.util.spec_from_file_location(name, path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
        fn = module.kernel
        _LOADED[key] = fn
        return cast("Callable[..., Any]", fn)


class _Prepared:
    """One kernel ready to call: the function and how to find each argument."""

    def __init__(
        self,
        kernel: Kernel,
        text: str,
        args: list[tuple[str, Any]],
        parallel: bool,
    ) -> None:
        self.kernel, self.text, self.args, self.parallel = kernel, text, args, parallel
        self.fn: Callable[..., Any] | None = None


class NumbaEngine:
    """Runs a program as numba loop nests (see the module docstring)."""

    name = "numba"

    def __init__(self, program: Program) -> None:
        self.program = program
        self._outputs = materialized(program)
        self._plans: dict[tuple[Any, ...], list[_Prepared]] = {}
        self._lock = threading.Lock()

    def prepared(self, bound: Bound, parallel: bool) -> list[_Prepared]:
        """The kernels for this call's buffers (planned and written once per signature)."""
        key = (bound.signature(), parallel)
        found = self._plans.get(key)
        if found is not None:
            return found
        with self._lock:
            out = []
            earlier: set[int] = set()
            for kernel in plan(self.program, bound):
                text, args = source(bound, kernel, "k", parallel, earlier)
                out.append(_Prepared(kernel, text, args, parallel))
                earlier |= {op.id for op in kernel.members}
            self._plans[key] = out
            return out

    def sources(self, bound: Bound, parallel: bool) -> list[str]:
        """The kernel sources for ``bound`` (for ``explain()``)."""
        return [p.text for p in self.prepared(bound, parallel)]

    def run(self, bound: Bound, scalars: dict[int, Any]) -> dict[int, pa.Array]:
        parallel = _values_in(bound) >= PARALLEL_MIN
        arrays: dict[int, tuple[np.ndarray, np.ndarray | None]] = {}
        for prep in self.prepared(bound, parallel):
            if prep.fn is None:
                prep.fn = load_kernel(prep.text, prep.parallel)
            flag = np.zeros(1, dtype=np.int64)
            values = [self._argument(what, bound, arrays, scalars, flag) for _, what in prep.args]
            if prep.parallel:
                with _PARALLEL_LOCK:
                    prep.fn(*values)
            else:
                prep.fn(*values)
            if flag[0]:
                raise KernelFlag("a kernel met a value eager code refuses")
            total = prep.kernel.total
            if total is not None:
                acc, cnt = arrays.pop(-1)
                assert cnt is not None
                scalars[total.id] = _total_value(total, acc, cnt)
        out = {}
        for op in self._outputs:
            values_, validity = arrays[op.id]
            assert op.dtype is not None
            out[op.id] = leaf_array(values_, validity, op.dtype)
        return out

    def _argument(
        self,
        what: tuple[str, Any],
        bound: Bound,
        arrays: dict[int, tuple[np.ndarray, np.ndarray | None]],
        scalars: dict[int, Any],
        flag: np.ndarray,
    ) -> Any:
        kind, ref = what
        if kind == "rows":
            return np.int64(bound.rows[ref])
        if kind == "offsets":
            return bound.axes[ref].offsets
        if kind == "axis_validity":
            return bound.axes[ref].validity
        if kind == "flag":
            return flag
        if kind == "scalar":
            value = scalar_value(ref.args[0], scalars)
            if value is None:
                raise Mismatch("a reduction was empty (None)")
            try:
                return ref.dtype.numpy.type(value)
            except (OverflowError, ValueError, TypeError) as err:
                raise Mismatch(str(err)) from err
        if kind in ("values", "validity"):
            pair = bound.leaves[ref.attrs["index"]] if ref.kind == "input" else arrays[ref.id]
            return pair[0] if kind == "values" else pair[1]
        if kind in ("out", "out_validity"):
            n = bound.length(ref.shape)
            if ref.id not in arrays:
                validity = np.ones(n, dtype=bool) if nullable(ref, bound, {}) else None
                arrays[ref.id] = (np.empty(n, dtype=ref.dtype.numpy), validity)
            pair = arrays[ref.id]
            return pair[0] if kind == "out" else pair[1]
        if kind == "total_acc":
            acc = np.zeros(2, dtype=_acc_numpy(ref))
            cnt = np.zeros(2, dtype=np.int64)
            arrays[-1] = (acc, cnt)
            return acc
        if kind == "total_cnt":
            return arrays[-1][1]
        raise AssertionError(kind)


def _acc_numpy(op: Op) -> np.dtype[Any]:
    return np.dtype(acc_dtype(op).removeprefix("np."))


def _values_in(bound: Bound) -> int:
    return sum(len(values) for values, _ in bound.leaves)


# ---------------------------------------------------------------------------------------
# numpy


class NumpyEngine:
    """Runs a program on flat buffers with eager code's leaf kernels (no numba needed)."""

    name = "numpy"

    def __init__(self, program: Program) -> None:
        self.program = program
        self._outputs = materialized(program)

    def sources(self, bound: Bound, parallel: bool) -> list[str]:
        return []

    def run(self, bound: Bound, scalars: dict[int, Any]) -> dict[int, pa.Array]:
        state = _NumpyRun(bound, scalars)
        for op in self.program.ops:
            if op.shape is None:
                if op.kind == "total":
                    flat = state.values[op.args[0].id]
                    ddof = op.attrs.get("ddof", 0)
                    fn = getattr(flat, op.name)
                    scalars[op.id] = fn(ddof=ddof) if op.name in ("var", "std") else fn()
                continue
            state.values[op.id] = state.op(op)
        return {op.id: state.values[op.id].to_arrow() for op in self._outputs}


class _NumpyRun:
    """One run of :class:`NumpyEngine`: the bound buffers, the scalars so far, each op's
    values and the parent values broadcast so far (computed once per op and axes)."""

    def __init__(self, bound: Bound, scalars: dict[int, Any]) -> None:
        self.bound = bound
        self.scalars = scalars
        self.values: dict[int, GrumpyArray] = {}
        self.parents: dict[Any, GrumpyArray] = {}

    def op(self, op: Op) -> GrumpyArray:
        """The values of ``op`` (its arguments' values are already in :attr:`values`)."""
        bound = self.bound
        if op.kind == "input":
            return GrumpyArray(bound.arrow[op.attrs["index"]])
        if op.kind == "reduce":
            arg = op.args[0]
            assert arg.shape is not None
            axis = bound.axes[bound.axes_of(arg.shape)[-1]]
            leaf = self.values[arg.id].node
            lists = GrumpyArray._wrap(lay.ListNode(axis.offsets, axis.validity, leaf))
            fn = getattr(lists, op.name)
            return cast(
                "GrumpyArray",
                (fn(dim=1, ddof=op.attrs["ddof"]) if op.name in ("var", "std") else fn(dim=1)),
            )
        operands = [self.operand(a, op) for a in op.args]
        if op.kind == "cast":
            assert op.dtype is not None
            return cast("GrumpyArray", operands[0].astype(op.dtype))
        if op.kind == "where":
            return cast("GrumpyArray", where(*operands))
        if op.kind == "unary":
            return eager_unary(operands[0], op.name)
        a, b = operands
        return eager_binary(a, b, op.name)

    def operand(self, arg: Op, op: Op) -> Any:
        """``arg`` as an operand of ``op``: a scalar, or values broadcast to ``op``'s axes."""
        if arg.kind == "const":
            value = scalar_value(arg, self.scalars)
            if value is None:
                raise Mismatch("a reduction was empty (None)")
            return value
        flat = self.values[arg.id]
        assert arg.shape is not None and op.shape is not None
        have, want = self.bound.axes_of(arg.shape), self.bound.axes_of(op.shape)
        if len(have) == len(want):
            return flat
        key = (arg.id, want)
        if key not in self.parents:
            self.parents[key] = _broadcast(flat, self.bound, want[len(have) :])
        return self.parents[key]


def _broadcast(flat: GrumpyArray, bound: Bound, axes: tuple[Any, ...]) -> GrumpyArray:
    """Parent values repeated onto the values below ``axes`` (one ``np.repeat`` per axis:
    faster than gathering with an index)."""
    values, validity = leaf_buffers(lay.Leaf(flat.to_arrow()))
    for axis_id in axes:
        lengths = np.diff(bound.axes[axis_id].offsets)
        values = np.repeat(values, lengths)
        validity = None if validity is None else np.repeat(validity, lengths)
    return GrumpyArray(leaf_array(values, validity, flat.dtype))
