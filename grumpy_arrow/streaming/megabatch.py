"""Megabatch scheduling: compiled transforms run once over many consecutive batches.

A transform of a few operations on a 32-row batch spends its time in per-call overhead;
compiled, that overhead is paid per *call*, so :class:`~grumpy_arrow.stream.Stream` joins
consecutive batches of the epoch's plan into megabatches of about :data:`TARGET_VALUES`
values, runs the leading compiled transforms once on each, and cuts the results back into
the batches at their row boundaries (zero-copy slices), which then go through the rest of
the transforms one by one and are yielded in order. Only transforms whose every result row
depends on its own input row (``CompiledFunction.row_local``: no ``dim=None`` totals, results
at the batch's rows) are joined; the first batch decides. With ``cpu > 1`` the next
megabatch is read while the kernels run on this one (they release the GIL).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from grumpy_arrow import layout as lay
from grumpy_arrow.array import GrumpyArray
from grumpy_arrow.compiler import CompiledFunction
from grumpy_arrow.frame.dataframe import DataFrame, concat_frames
from grumpy_arrow.functions import concat

__all__ = ["TARGET_VALUES", "leading_compiled", "megabatches", "split_rows", "values_in"]

TARGET_VALUES = 2_000_000
"""Values per megabatch (the design measured 1-4 M as the sweet spot on two cores)."""


def leading_compiled(fns: tuple[Callable[..., Any], ...], seeded: tuple[bool, ...]) -> int:
    """How many leading transforms are compiled functions without ``rng=``."""
    n = 0
    for fn, rng in zip(fns, seeded, strict=True):
        if not isinstance(fn, CompiledFunction) or rng:
            break
        n += 1
    return n


def joinable(fns: tuple[Callable[..., Any], ...], batch: Any) -> int:
    """How many of the leading compiled ``fns`` are row-local for batches like ``batch``
    (a function runs on a copy of ``batch`` only to give the next one its input)."""
    n = 0
    for k, fn in enumerate(fns):
        row_local = getattr(fn, "row_local", None)
        if not isinstance(batch, (GrumpyArray, DataFrame)) or row_local is None:
            break
        if not row_local(batch):
            break
        n += 1
        if k + 1 < len(fns):
            batch = fn(batch.copy() if isinstance(batch, DataFrame) else batch)
    return n


def values_in(batch: Any) -> int:
    """Leaf values in a batch (of every column of a frame)."""
    if isinstance(batch, DataFrame):
        return sum(values_in(batch[name]) for name in batch.columns)
    node = batch.node
    while isinstance(node, (lay.ListNode, lay.UnionNode)):
        node = node.lists if isinstance(node, lay.UnionNode) else node.content
    return max(len(node), len(batch))


def join(batches: list[Any]) -> Any:
    """One batch of ``batches``' rows in order."""
    if len(batches) == 1:
        return batches[0]
    if isinstance(batches[0], DataFrame):
        return concat_frames(batches)
    return concat(batches)


def split_rows(out: Any, bounds: list[tuple[int, int]]) -> list[Any]:
    """``out`` cut at the row ``bounds`` of the batches (arrays, frames, tuples, dicts)."""
    if isinstance(out, (GrumpyArray, DataFrame)):
        return [out[a:b] for a, b in bounds]
    if isinstance(out, (tuple, list)):
        parts = [split_rows(item, bounds) for item in out]
        return [type(out)(p[j] for p in parts) for j in range(len(bounds))]
    if isinstance(out, dict):
        cut = {k: split_rows(v, bounds) for k, v in out.items()}
        return [{k: v[j] for k, v in cut.items()} for j in range(len(bounds))]
    raise TypeError(f"cannot split a {type(out).__name__} into batches")


def megabatches(
    todo: range,
    read_group: Callable[[range], tuple[Any, list[int]]],
    fns: tuple[Callable[..., Any], ...],
    *,
    first: Any,
    overlap: bool,
) -> Iterator[tuple[int, Any]]:
    """``(i, batch after fns)`` for every ``i`` of ``todo``, computed a megabatch at a time.

    ``first`` is batch ``todo[0]`` (it sizes the megabatches); ``read_group(group)`` reads
    the batches of ``group`` as one batch and gives their row counts.
    """
    per_batch = max(1, values_in(first))
    size = max(1, TARGET_VALUES // per_batch)
    groups = [todo[k : k + size] for k in range(0, len(todo), size)]
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="grumpy-megabatch")
    try:
        ahead: Future[tuple[Any, list[int]]] | None = None
        for g, group in enumerate(groups):
            mega, lengths = ahead.result() if ahead is not None else read_group(group)
            nxt = g + 1 < len(groups)
            ahead = pool.submit(read_group, groups[g + 1]) if overlap and nxt else None
            for fn in fns:
                mega = fn(mega)
            bounds, start = [], 0
            for n in lengths:
                bounds.append((start, start + n))
                start += n
            yield from zip(group, split_rows(mega, bounds), strict=True)
    finally:
        pool.shutdown(wait=False, cancel_futures=True)
