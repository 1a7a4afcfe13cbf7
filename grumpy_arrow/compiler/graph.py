"""The typed graph a traced function becomes: values, where they live, and what reads them.

Every value is an :class:`Op`. Array values live on a :class:`Shape`: a *row domain* (the
rows of the arguments, or the entities of one frame level) and the list *axes* below it,
each axis named by where its offsets come from (an argument's k-th list axis, a frame
level, a frame column's own axis). Two values combine when one's axes are a prefix of the
other's: the shorter one is broadcast from its parents. A reduction over the innermost axis
drops the last axis. Scalars (``x.sum()`` and arithmetic on it) have no shape: they are
worked out in Python between kernels, as eager code does.

A :class:`Program` is the whole trace: how to read each input from the call's arguments,
the operations in creation order (a topological order), the frame assignments, and the
template of the return value.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import Any

from grumpy_arrow import dtypes as dt

__all__ = ["PY_OPS", "Assignment", "Input", "Op", "Program", "Shape", "TraceError"]

PY_OPS: dict[str, Callable[[Any, Any], Any]] = {
    "add": operator.add,
    "subtract": operator.sub,
    "multiply": operator.mul,
    "true_divide": operator.truediv,
    "floor_divide": operator.floordiv,
    "remainder": operator.mod,
    "power": operator.pow,
}
"""The Python arithmetic of a ``pyop`` op (by its name): tracing runs it on the samples,
the engines on the scalars of a call."""


class TraceError(Exception):
    """Raised while tracing when the function does something the compiler cannot follow;
    the message says what (it becomes ``compile_error``)."""


@dataclass(frozen=True)
class Shape:
    """Where an array value lives: its row domain and the list axes below the rows.

    ``union`` marks a scalar-or-list value (the input it comes from): the same loop runs
    on its scalar pool and on its list pool.
    """

    rows: Hashable
    axes: tuple[Hashable, ...] = ()
    union: Hashable | None = None

    @property
    def depth(self) -> int:
        """How many list axes lie below the rows."""
        return len(self.axes)

    def covers(self, other: Shape) -> bool:
        """Whether ``other`` broadcasts onto this shape (same rows, its axes a prefix)."""
        return (
            self.rows == other.rows
            and self.axes[: len(other.axes)] == other.axes
            and other.union == self.union
        )

    def parent(self) -> Shape:
        """The shape one axis up (where a reduction over the innermost axis lives)."""
        return Shape(self.rows, self.axes[:-1], None)


@dataclass(eq=False)
class Op:
    """One value of the graph.

    ``kind`` is one of ``input``, ``const`` (a number, or with ``args`` a runtime scalar
    used as an operand), ``unary``, ``binary``, ``where``, ``cast``, ``reduce`` (innermost
    axis), ``total`` (a reduction to one scalar) and ``pyop`` (Python arithmetic on
    scalars). ``dtype`` is the leaf dtype eager code gives (None for Python scalars).
    """

    id: int
    kind: str
    name: str
    args: tuple[Op, ...]
    dtype: dt.DType | None
    shape: Shape | None
    attrs: dict[str, Any] = field(default_factory=dict)

    @property
    def is_array(self) -> bool:
        """Whether the value is an array (has a shape)."""
        return self.shape is not None

    def label(self) -> str:
        """``%3 = add(%1, %2) : float64 @ depth 1``-style text for ``explain()``."""
        args = ", ".join(f"%{a.id}" for a in self.args)
        extra = {k: v for k, v in self.attrs.items() if k not in ("pytype",)}
        if extra:
            args = ", ".join(
                filter(None, [args, ", ".join(f"{k}={v!r}" for k, v in extra.items())])
            )
        where = "scalar" if self.shape is None else f"depth {self.shape.depth}"
        if self.shape is not None and self.shape.union is not None:
            where += ", union"
        typ = self.dtype.name if self.dtype is not None else "python"
        return f"%{self.id} = {self.kind}.{self.name}({args}) : {typ} @ {where}"


@dataclass(frozen=True)
class Input:
    """How to read one input from a call: argument ``arg`` itself, or (``column`` set)
    that frame argument's column peeled to view ``level``."""

    arg: int
    column: str | None = None
    level: int = 0


@dataclass(frozen=True)
class Assignment:
    """``df.<level>.<column> = value`` (``level`` None: ``df[column] = value``) on frame
    argument ``arg``."""

    arg: int
    level: int | None
    column: str
    value: Op


@dataclass
class Program:
    """A traced function: inputs, operations in order, assignments and the result."""

    inputs: list[Input]
    ops: list[Op]
    assignments: list[Assignment]
    result: Any
    """The return value with every traced value replaced by its Op and every traced frame
    by ``FrameRef``."""
    row_local: bool
    """True when every result row depends on its own input row only (no totals), so
    consecutive batches may run as one call and be split again."""

    def explain(self) -> str:
        """The graph as text, one operation per line."""
        lines = [f"inputs: {', '.join(_input_text(i) for i in self.inputs)}"]
        lines += [op.label() for op in self.ops]
        for a in self.assignments:
            where = f".{a.level}" if a.level is not None else ""
            lines.append(f"arg{a.arg}{where}.{a.column} = %{a.value.id}")
        return "\n".join(lines)


@dataclass(frozen=True)
class FrameRef:
    """A traced frame in the result: frame argument ``arg`` after the assignments."""

    arg: int


def _input_text(i: Input) -> str:
    if i.column is None:
        return f"arg{i.arg}"
    return f"arg{i.arg}.peel({i.column!r}, level={i.level})"
