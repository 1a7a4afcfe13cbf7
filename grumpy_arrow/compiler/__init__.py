"""``gr.compile``: trace a transform once per input type, run it as fused kernels.

See ``docs/compile.md``. :func:`compile` wraps a function; :func:`compile_pipeline` fuses a
list of them; :class:`~grumpy_arrow.compiler.function.CompiledFunction` tells whether it
compiled (``is_compiled``, ``compile_error``, ``explain()``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from grumpy_arrow.compiler.function import (
    CompiledFunction,
    CompileWarning,
    compile,
    numba_available,
)
from grumpy_arrow.compiler.graph import TraceError

__all__ = [
    "CompileWarning",
    "CompiledFunction",
    "PipelineInfo",
    "TraceError",
    "compile",
    "compile_pipeline",
    "compile_pipeline_info",
    "numba_available",
]


def _plain(fn: Callable[..., Any]) -> Callable[..., Any]:
    return fn.fn if isinstance(fn, CompiledFunction) else fn


def compile_pipeline(fns: Sequence[Callable[..., Any]], **options: Any) -> CompiledFunction:
    """One compiled function running ``fns`` in order (each takes the previous result).

    Options are those of :func:`compile`. The stages trace into one graph, so values
    flow between them without being written.

    Parameters
    ----------
    fns : sequence of callable
        The stages, in order (plain or already compiled functions); the first takes the
        call's arguments, each other one the previous result.
    **options
        The options of :func:`compile` (``backend``, ``fallback``, ``check``).

    Returns
    -------
    CompiledFunction
        The fused pipeline.

    Raises
    ------
    ValueError
        For no stage, or an unknown option value.

    Examples
    --------
    >>> import grumpy_arrow as gr
    >>> both = gr.compile_pipeline([lambda x: x * 2.0, lambda x: x.sum(dim=1)],
    ...                            backend="numpy")
    >>> both(gr.array([[1.0, 2.0], [3.0]])).to_list()
    [6.0, 6.0]
    """
    stages = [_plain(f) for f in fns]
    if not stages:
        raise ValueError("compile_pipeline needs at least one function")

    def pipeline(*args: Any) -> Any:
        out = stages[0](*args)
        for stage in stages[1:]:
            out = stage(out)
        return out

    pipeline.__qualname__ = (
        "pipeline[" + ", ".join(getattr(s, "__qualname__", repr(s)) for s in stages) + "]"
    )
    return CompiledFunction(pipeline, **options)


@dataclass(frozen=True)
class PipelineInfo:
    """What :func:`compile_pipeline_info` found.

    Attributes
    ----------
    run_all : CompiledFunction
        The fused pipeline (call it on a batch).
    fully_compiled : bool
        Whether the whole pipeline compiles for the example arguments.
    fused_ops : int
        Operations in the traced graph (0 when it runs eagerly).
    reason : str or None
        Why it runs eagerly, if it does.
    """

    run_all: CompiledFunction
    fully_compiled: bool
    fused_ops: int
    reason: str | None


def compile_pipeline_info(
    fns: Sequence[Callable[..., Any]], *example: Any, **options: Any
) -> PipelineInfo:
    """Trace ``compile_pipeline(fns)`` on ``example`` arguments and report what compiled.

    Parameters
    ----------
    fns : sequence of callable
        The stages, as for :func:`compile_pipeline`.
    *example : object
        Arguments to trace with (a batch of the stream the pipeline will run on).
    **options
        The options of :func:`compile` (``backend``, ``fallback``, ``check``);
        ``fallback`` defaults to ``"silent"`` here.

    Returns
    -------
    PipelineInfo
        The fused pipeline (``run_all``), whether it compiled, its graph's size and why
        it runs eagerly if it does.

    Raises
    ------
    TypeError
        Without example arguments.

    Examples
    --------
    >>> import grumpy_arrow as gr
    >>> info = gr.compile_pipeline_info([lambda x: x - x.mean(dim=1)],
    ...                                 gr.array([[1.0, 2.0]]), backend="numpy")
    >>> info.fully_compiled, info.fused_ops
    (True, 3)
    """
    options.setdefault("fallback", "silent")
    run_all = compile_pipeline(fns, **options)
    if not example:
        raise TypeError("compile_pipeline_info needs example arguments to trace with")
    entry = run_all._entry(example)
    ops = 0 if entry.program is None else len(entry.program.ops)
    return PipelineInfo(run_all, entry.program is not None, ops, entry.error)
