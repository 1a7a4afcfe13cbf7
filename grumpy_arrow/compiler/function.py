"""``gr.compile``: a function traced once per input type and run as fused kernels.

A :class:`CompiledFunction` keeps one traced program per *signature* (the arguments' layout
types and frame schemas, without lengths). A call reads the inputs, binds their buffers,
runs the engine and builds the results; frame assignments are applied to the caller's
frame last, so a call that falls back has changed nothing. It falls back to calling the
function eagerly when tracing fails (one warning per signature, with the reason), when a
call does not fit the traced structure, or when a kernel meets a value eager code raises on
(the eager call then raises eager code's error).
"""

from __future__ import annotations

import functools
import os
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from grumpy_arrow._optional import require
from grumpy_arrow._typing import CompileBackend, CompileFallback
from grumpy_arrow.array import GrumpyArray
from grumpy_arrow.compiler.buffers import Mismatch, bind, read_inputs, to_array
from grumpy_arrow.compiler.engines import KernelFlag, NumbaEngine, NumpyEngine, scalar_value
from grumpy_arrow.compiler.graph import FrameRef, Op, Program, TraceError
from grumpy_arrow.compiler.trace import trace
from grumpy_arrow.compute.compare import first_difference
from grumpy_arrow.errors import GrumpyError
from grumpy_arrow.frame.dataframe import DataFrame

__all__ = ["CompileWarning", "CompiledFunction", "compile", "numba_available", "signature_of"]

MAX_SIGNATURES = 16
"""Traced programs kept per function (the oldest is dropped beyond this)."""


class CompileWarning(UserWarning):
    """A compiled function runs eagerly (the message says why)."""


class CompileCheckError(GrumpyError, AssertionError):
    """``check=True``: the compiled result differs from the eager one."""


@functools.cache
def numba_available() -> bool:
    """Whether numba imports (the ``compile`` extra)."""
    try:
        require("numba", what="gr.compile's numba engine", install="'grumpy_arrow[compile]'")
    except ImportError:
        return False
    return True


def signature_of(args: tuple[Any, ...]) -> tuple[Any, ...]:
    """The part of the arguments a trace depends on: layout types without lengths."""
    out: list[Any] = []
    for arg in args:
        if isinstance(arg, GrumpyArray):
            out.append(("array", _typ(arg)))
        elif isinstance(arg, DataFrame):
            cols = tuple((name, _typ(arg[name])) for name in arg.columns)
            out.append(("frame", repr(arg.schema), cols))
        else:
            out.append(("other", type(arg).__name__))
    return tuple(out)


def _typ(x: GrumpyArray) -> str:
    text = x.type
    return text.split(" * ", 1)[1] if " * " in text else text


@dataclass
class _Entry:
    """One signature: its program and engine, or why it runs eagerly."""

    program: Program | None
    engine: Any
    error: str | None


class CompiledFunction:
    """A function compiled by :func:`compile` (call it like the function).

    Each call traces the function once per input type (the first call of a signature) and
    runs the traced graph on the chosen engine; see ``docs/compile.md``.

    Parameters
    ----------
    fn : callable
        A function of GrumpyArrays and DataFrames.
    backend, fallback, check : str, str and bool
        As for :func:`compile`, which makes these objects.

    Attributes
    ----------
    is_compiled : bool
        Whether the last call's signature runs compiled.
    compile_error : str or None
        Why the last call's signature runs eagerly (None when it compiles).

    Raises
    ------
    TypeError
        If ``fn`` is not callable.
    ValueError, ImportError
        For the options, as :func:`compile` raises them.

    Examples
    --------
    >>> import grumpy_arrow as gr
    >>> double = gr.CompiledFunction(lambda x: x * 2.0, backend="numpy")
    >>> double(gr.array([[1.0], [2.0, 3.0]])).to_list()
    [[2.0], [4.0, 6.0]]
    >>> double.is_compiled, double.engine_name, double.compile_error
    (True, 'numpy', None)
    >>> rows = gr.CompiledFunction(lambda x: x.to_list(), fallback="silent")
    >>> rows(gr.array([[1.0]])), rows.is_compiled
    ([[1.0]], False)
    """

    def __init__(
        self,
        fn: Callable[..., Any],
        *,
        backend: CompileBackend = "auto",
        fallback: CompileFallback = "warn",
        check: bool = False,
    ) -> None:
        if backend not in ("auto", "numba", "numpy"):
            raise ValueError(f"backend must be 'auto', 'numba' or 'numpy', got {backend!r}")
        if fallback not in ("warn", "error", "silent"):
            raise ValueError(f"fallback must be 'warn', 'error' or 'silent', got {fallback!r}")
        if not callable(fn):
            raise TypeError(f"compile needs a function, got {fn!r}")
        if backend == "numba" and not numba_available():
            raise ImportError("backend='numba' needs numba: pip install 'grumpy_arrow[compile]'")
        self.fn, self.backend, self.fallback, self.check = fn, backend, fallback, check
        self._entries: dict[tuple[Any, ...], _Entry] = {}
        self._last: _Entry | None = None
        functools.update_wrapper(self, fn)

    # -- state ------------------------------------------------------------------------

    @property
    def is_compiled(self) -> bool:
        return self._last is not None and self._last.error is None

    @property
    def compile_error(self) -> str | None:
        if self._last is None:
            return "not called yet: a function is traced on its first call"
        return self._last.error

    @property
    def engine_name(self) -> str:
        """The engine the last call ran on (``numba``, ``numpy`` or ``eager``)."""
        if self._last is None or self._last.engine is None:
            return "eager"
        return str(self._last.engine.name)

    def row_local(self, *args: Any) -> bool:
        """Whether the program for ``args`` may run consecutive batches as one call."""
        entry = self._entry(args)
        return entry.program is not None and entry.program.row_local

    def explain(self, *args: Any) -> str:
        """The traced graph, the engine and (numba) the kernel sources, as text.

        With ``args`` the signature of those arguments is shown (traced if needed), else
        the last call's.
        """
        entry = self._entry(args) if args else self._last
        if entry is None:
            return "not called yet: pass example arguments to explain(...)"
        if entry.program is None:
            return f"runs eagerly: {entry.error}"
        lines = [f"engine: {entry.engine.name}", entry.program.explain()]
        if args and entry.engine.name == "numba":
            arrays = read_inputs(entry.program, args)
            pools = _pools(entry.program)
            for pool in pools:
                bound = bind(entry.program, arrays, pool)
                for text in entry.engine.sources(bound, False):
                    lines += ["", text.rstrip()]
        return "\n".join(lines)

    # -- calling ----------------------------------------------------------------------

    def _entry(self, args: tuple[Any, ...]) -> _Entry:
        key = signature_of(args)
        entry = self._entries.get(key)
        if entry is None:
            entry = self._trace(args)
            if len(self._entries) >= MAX_SIGNATURES:
                self._entries.pop(next(iter(self._entries)))
            self._entries[key] = entry
        return entry

    def _trace(self, args: tuple[Any, ...]) -> _Entry:
        if os.environ.get("GR_COMPILE", "1") == "0":
            return _Entry(None, None, "compilation is off (GR_COMPILE=0)")
        try:
            program = trace(self.fn, args)
        except TraceError as err:
            return self._refused(str(err))
        use_numba = self.backend == "numba" or (self.backend == "auto" and numba_available())
        engine = NumbaEngine(program) if use_numba else NumpyEngine(program)
        return _Entry(program, engine, None)

    def _refused(self, reason: str) -> _Entry:
        name = getattr(self.fn, "__qualname__", repr(self.fn))
        if self.fallback == "error":
            raise TraceError(f"cannot compile {name}: {reason}")
        if self.fallback == "warn":
            warnings.warn(f"{name} runs eagerly: {reason}", CompileWarning, stacklevel=4)
        return _Entry(None, None, reason)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if kwargs:
            return self.fn(*args, **kwargs)
        try:
            entry = self._entry(args)
        except TraceError:
            raise
        except Exception:
            # Eager code raised on the sample rows: the eager call raises it on the whole
            # data too (nothing is cached, so other data traces again).
            return self.fn(*args)
        self._last = entry
        if entry.program is None:
            return self.fn(*args)
        try:
            out = run_program(entry.program, entry.engine, args)
        except (Mismatch, KernelFlag):
            return self.fn(*args)
        if self.check or os.environ.get("GR_COMPILE_CHECK") == "1":
            _compare(out, self.fn(*_copies(args)))
        return out

    def __repr__(self) -> str:
        return f"<CompiledFunction {getattr(self.fn, '__qualname__', self.fn)!r}>"

    def __get__(self, obj: Any, objtype: Any = None) -> Any:
        return self if obj is None else functools.partial(self, obj)


def compile(
    fn: Callable[..., Any] | None = None,
    *,
    backend: CompileBackend = "auto",
    fallback: CompileFallback = "warn",
    check: bool = False,
) -> Any:
    """Compile ``fn`` (a decorator, with or without options): see ``docs/compile.md``.

    Parameters
    ----------
    fn : callable
        A function of GrumpyArrays and DataFrames.
    backend : {"auto", "numba", "numpy"}
        ``auto``: numba when it is installed, else the NumPy engine.
    fallback : {"warn", "error", "silent"}
        What happens when tracing fails: run eagerly with one warning, raise, or run
        eagerly quietly.
    check : bool
        Run the eager function as well on every call and compare the results.

    Returns
    -------
    CompiledFunction or callable
        The compiled function; without ``fn`` (``@gr.compile(...)``), a decorator that
        makes one.

    Raises
    ------
    ValueError
        For an unknown ``backend`` or ``fallback``.
    ImportError
        For ``backend="numba"`` without numba.

    Examples
    --------
    >>> import grumpy_arrow as gr
    >>> @gr.compile(backend="numpy")
    ... def rms(x):
    ...     c = x - x.mean(dim=-1)
    ...     return ((c * c).mean(dim=-1)) ** 0.5
    >>> rms(gr.array([[1.0, 3.0], [2.0], []])).to_list()
    [1.0, 0.0, None]
    >>> rms.is_compiled
    True
    """
    if fn is None:
        return lambda f: CompiledFunction(f, backend=backend, fallback=fallback, check=check)
    return CompiledFunction(fn, backend=backend, fallback=fallback, check=check)


def _pools(program: Program) -> list[int | None]:
    unions = any(op.shape is not None and op.shape.union is not None for op in program.ops)
    return [0, 1] if unions else [None]


def run_program(program: Program, engine: Any, args: tuple[Any, ...]) -> Any:
    """One compiled call: bind, run, build results, then apply frame assignments."""
    arrays = read_inputs(program, args)
    scalars: dict[int, Any] = {}
    pools: dict[int | None, tuple[Any, dict[int, Any]]] = {}
    for pool in _pools(program):
        bound = bind(program, arrays, pool)
        pools[pool] = (bound, engine.run(bound, scalars))

    def build(op: Op) -> GrumpyArray:
        return to_array(op, {p: (b, leaves[op.id]) for p, (b, leaves) in pools.items()})

    built = {a.value.id: build(a.value) for a in program.assignments}
    result = _fill(program.result, build, scalars, args)
    for a in program.assignments:
        frame = args[a.arg]
        if a.level is None:
            frame[a.column] = built[a.value.id]
        else:
            frame.assign_at(a.level, a.column, built[a.value.id])
    return result


def _fill(
    item: Any, build: Callable[[Op], GrumpyArray], scalars: dict[int, Any], args: tuple[Any, ...]
) -> Any:
    if isinstance(item, Op):
        return build(item) if item.shape is not None else scalar_value(item, scalars)
    if isinstance(item, FrameRef):
        return args[item.arg]
    if isinstance(item, tuple):
        return tuple(_fill(v, build, scalars, args) for v in item)
    if isinstance(item, list):
        return [_fill(v, build, scalars, args) for v in item]
    if isinstance(item, dict):
        return {k: _fill(v, build, scalars, args) for k, v in item.items()}
    return item


def _copies(args: tuple[Any, ...]) -> tuple[Any, ...]:
    return tuple(a.copy() if isinstance(a, DataFrame) else a for a in args)


def _compare(got: Any, want: Any, where: str = "result") -> None:
    """``check=True``: equal types and nulls; floats within :data:`CHECK_RTOL`."""
    if isinstance(want, DataFrame):
        for name in want.columns:
            _compare(got[name], want[name], f"{where} column {name!r}")
        return
    if isinstance(want, (tuple, list, dict)) and not isinstance(got, type(want)):
        raise CompileCheckError(f"check=True: {where}: compiled {got!r} != eager {want!r}")
    if isinstance(want, (tuple, list)):
        for i, (g, w) in enumerate(zip(got, want, strict=True)):
            _compare(g, w, f"{where}[{i}]")
        return
    if isinstance(want, dict):
        for k in want:
            _compare(got[k], want[k], f"{where}[{k!r}]")
        return
    if isinstance(want, GrumpyArray):
        if not isinstance(got, GrumpyArray) or got.type != want.type:
            raise CompileCheckError(f"check=True: {where}: compiled {got!r} != eager {want!r}")
        got, want = got.to_list(), want.to_list()
    found = first_difference(got, want, "", CHECK_RTOL)
    if found is not None:
        raise CompileCheckError(f"check=True: {where}: {found}")


CHECK_RTOL = 1e-5
"""``check=True`` tolerance: sums run in another order than eager code's pairwise ones
(float32 results accumulate in float64, so they can differ by float32 rounding)."""
