"""Run-time binding: a call's arguments as flat NumPy buffers, and results back as arrays.

A compiled call reads each input as its leaf values (a NumPy view, no copy for numbers),
its leaf validity (a bool vector, or None without nulls) and, per list axis, the offsets
and validity. Every axis id of the program's shapes maps to one axis: inputs that share
an axis (frame columns of one level) share its offsets, which the frame guarantees. A
scalar-or-list union is bound one *pool* at a time: pool 0 is its scalar rows (no axes),
pool 1 its list rows (its list axes); the same graph runs on both and the results are put
back together by ``type_ids``.
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa

from grumpy_arrow import dtypes as dt
from grumpy_arrow import layout as lay
from grumpy_arrow.array import GrumpyArray
from grumpy_arrow.compiler.graph import Input, Op, Program, Shape
from grumpy_arrow.compute.elementwise import bool_from_numpy, bool_to_numpy, numpy_view
from grumpy_arrow.frame.dataframe import DataFrame

__all__ = ["Axis", "Bound", "Mismatch", "bind", "leaf_array", "leaf_buffers", "to_array"]


class Mismatch(Exception):
    """The call does not fit the compiled structure (eager code decides what happens)."""


@dataclass(frozen=True)
class Axis:
    """One list axis: offsets (int64, from 0), validity (or None) and a fixed ``size``."""

    offsets: np.ndarray
    validity: np.ndarray | None
    size: int | None

    @property
    def count(self) -> int:
        """Values below the axis."""
        return int(self.offsets[-1])


@dataclass
class Bound:
    """The buffers of one call (for one union pool)."""

    pool: int | None
    axes: dict[Hashable, Axis] = field(default_factory=dict)
    rows: dict[Hashable, int] = field(default_factory=dict)
    leaves: list[tuple[np.ndarray, np.ndarray | None]] = field(default_factory=list)
    arrow: list[pa.Array] = field(default_factory=list)  # the same leaves as Arrow arrays
    unions: dict[Hashable, np.ndarray] = field(default_factory=dict)  # union id -> type_ids

    def axes_of(self, shape: Shape) -> tuple[Hashable, ...]:
        """The axes of ``shape`` in this pool (none in a union's scalar pool)."""
        if shape.union is not None and self.pool == 0:
            return ()
        return shape.axes

    def rows_of(self, shape: Shape) -> Hashable:
        """The row domain of ``shape`` in this pool."""
        if shape.union is not None and self.pool is not None:
            return ("pool", self.pool, shape.union)
        return shape.rows

    def length(self, shape: Shape) -> int:
        """How many values a value of ``shape`` holds (its deepest axis's count)."""
        axes = self.axes_of(shape)
        if axes:
            return self.axes[axes[-1]].count
        return self.rows[self.rows_of(shape)]

    def signature(self) -> tuple[Any, ...]:
        """What the generated code depends on beyond the graph: which buffers have nulls."""
        leaf = tuple(v is not None for _, v in self.leaves)
        axes = tuple(sorted((repr(k), a.validity is not None) for k, a in self.axes.items()))
        return (self.pool, leaf, axes)


def read_inputs(program: Program, args: tuple[Any, ...]) -> list[GrumpyArray]:
    """Each input of ``program`` read from the call's arguments."""
    out = []
    for spec in program.inputs:
        arg = args[spec.arg]
        out.append(_read(spec, arg))
    return out


def _read(spec: Input, arg: Any) -> GrumpyArray:
    if spec.column is None:
        if not isinstance(arg, GrumpyArray):
            raise Mismatch(f"argument {spec.arg} is no longer an array")
        return arg
    if not isinstance(arg, DataFrame):
        raise Mismatch(f"argument {spec.arg} is no longer a frame")
    return arg.peel(spec.column, spec.level)


def bind(program: Program, arrays: list[GrumpyArray], pool: int | None) -> Bound:
    """The buffers of ``arrays`` (the program's inputs, in order) for one pool.

    Raises
    ------
    Mismatch
        When inputs that the trace saw as one structure differ (lengths, offsets).
    """
    bound = Bound(pool)
    input_ops = [op for op in program.ops if op.kind == "input"]
    for op, array in zip(input_ops, arrays, strict=True):
        assert op.shape is not None
        node = array.node
        if op.shape.union is not None:
            if not isinstance(node, lay.UnionNode):
                raise Mismatch("a union input is no longer a union")
            _same(bound.unions, op.shape.union, node.type_ids, "union rows")
            _same_rows(bound, op.shape.rows, len(node))
            key = ("pool", pool, op.shape.union)
            if pool == 0:
                _same_rows(bound, key, len(node.scalars))
                bound.leaves.append(leaf_buffers(node.scalars))
                bound.arrow.append(node.scalars.values)
                continue
            _same_rows(bound, key, len(node.lists))
            node = node.lists
        else:
            _same_rows(bound, op.shape.rows, len(node))
        for axis_id in op.shape.axes:
            if not isinstance(node, lay.ListNode):
                raise Mismatch("an input has fewer list axes than when it was traced")
            axis = Axis(node.offsets, node.validity, node.size)
            known = bound.axes.get(axis_id)
            if known is None:
                bound.axes[axis_id] = axis
            elif known.offsets is not axis.offsets and not np.array_equal(
                known.offsets, axis.offsets
            ):
                raise Mismatch("inputs of one structure have different offsets")
            node = node.content
        if not isinstance(node, lay.Leaf):
            raise Mismatch("an input has more list axes than when it was traced")
        bound.leaves.append(leaf_buffers(node))
        bound.arrow.append(node.values)
    return bound


def _same(table: dict[Hashable, Any], key: Hashable, value: np.ndarray, what: str) -> None:
    known = table.get(key)
    if known is None:
        table[key] = value
    elif known is not value and not np.array_equal(known, value):
        raise Mismatch(f"{what} differ between inputs")


def _same_rows(bound: Bound, key: Hashable, n: int) -> None:
    known = bound.rows.setdefault(key, n)
    if known != n:
        raise Mismatch(f"inputs of one row domain have {known} and {n} rows")


def leaf_buffers(leaf: lay.Leaf) -> tuple[np.ndarray, np.ndarray | None]:
    """A leaf's values (a view where possible; nulls hold arbitrary values) and validity."""
    values = leaf.values
    if pa.types.is_boolean(values.type):
        data = bool_to_numpy(values, fill=False)
    elif values.null_count:
        data = numpy_view(values, 0)
    else:
        data = np.asarray(values.to_numpy(zero_copy_only=True))
    if not values.null_count:
        return data, None
    return data, ~bool_to_numpy(values.is_null(), fill=False)


def leaf_array(values: np.ndarray, validity: np.ndarray | None, dtype: dt.DType) -> pa.Array:
    """An Arrow leaf over ``values`` (no copy for numbers) with ``validity`` (True = valid)."""
    values = np.ascontiguousarray(values, dtype=dtype.numpy)
    n = len(values)
    bitmap = None
    null_count = 0
    if validity is not None:
        null_count = n - int(np.count_nonzero(validity))
        if null_count:
            bitmap = bool_from_numpy(validity).buffers()[1]
    data = bool_from_numpy(values).buffers()[1] if dtype == dt.bool_ else pa.py_buffer(values)
    return pa.Array.from_buffers(dtype.arrow, n, [bitmap, data], null_count=null_count)


def to_array(op: Op, pools: dict[int | None, tuple[Bound, pa.Array]]) -> GrumpyArray:
    """The array result ``op`` from each pool's ``(bound, leaf values)``."""
    assert op.shape is not None and op.dtype is not None
    if op.shape.union is None:
        bound, leaf = pools[next(iter(pools))]
        return GrumpyArray._wrap(_nest(bound, op.shape, leaf))
    b0, leaf0 = pools[0]
    b1, leaf1 = pools[1]
    lists = _nest(b1, op.shape, leaf1)
    assert isinstance(lists, lay.ListNode)
    type_ids = b0.unions[op.shape.union]
    return GrumpyArray._wrap(lay.UnionNode(type_ids, lay.Leaf(leaf0), lists))


def _nest(bound: Bound, shape: Shape, leaf: pa.Array) -> lay.Node:
    node: lay.Node = lay.Leaf(leaf)
    for axis_id in reversed(bound.axes_of(shape)):
        axis = bound.axes[axis_id]
        node = lay.ListNode(axis.offsets, axis.validity, node, axis.size)
    return node
