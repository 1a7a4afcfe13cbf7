"""``gr.stream``: deterministic, resumable, rank-aware batches from a store or memory.

Examples
--------
>>> import grumpy_arrow as gr
>>> st = gr.stream(gr.array([[i] for i in range(10)]), batch_size=4)
>>> len(st), [b.to_list() for b in st][-1]
(3, [[8], [9]])
>>> len(gr.stream(gr.array(list(range(10))), batch_size=4, drop_last=True))
2
"""

from __future__ import annotations

import inspect
import os
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass
from functools import partial
from typing import Any, cast

import numpy as np
import pyarrow as pa

from grumpy_arrow import layout as lay
from grumpy_arrow._typing import CompileFallback, ExecutorKind
from grumpy_arrow._validate import check_int
from grumpy_arrow.array import GrumpyArray
from grumpy_arrow.compiler import CompiledFunction, compile
from grumpy_arrow.compute.gather import offsets_from_lengths
from grumpy_arrow.errors import OutOfBoundsError, SchemaError
from grumpy_arrow.frame.dataframe import DataFrame
from grumpy_arrow.storage.api import open_store
from grumpy_arrow.storage.buffers import arrow_type
from grumpy_arrow.storage.handle import Handle
from grumpy_arrow.storage.shards import ShardedHandle
from grumpy_arrow.streaming import megabatch as mb
from grumpy_arrow.streaming import plan as pl
from grumpy_arrow.streaming.collect import collect
from grumpy_arrow.streaming.ordered import ordered_map

__all__ = ["Stream", "stream"]


@dataclass(frozen=True)
class _Params:
    batch_size: int
    drop_last: bool
    batch_on: Any
    shuffle: Any
    seed: int | None
    world_size: int
    rank: int
    even: bool
    in_memory: bool
    columns: tuple[str, ...] | None
    shuffle_block: int | None = None
    shuffle_window: int = 8


def stream(
    source: Any,
    batch_size: int = 32,
    *,
    drop_last: bool = False,
    batch_on: Any = None,
    shuffle: Any = None,
    seed: int | None = None,
    workers: int = 0,
    world_size: int = 1,
    rank: int = 0,
    in_memory: bool = False,
    columns: list[str] | None = None,
    epoch: int = 0,
    even: bool = False,
    shuffle_block: int | None = None,
    shuffle_window: int = 8,
) -> Stream:
    """Batches of a store (path or open handle) or of an in-memory array or frame.

    Parameters
    ----------
    source : str, path, Handle, ShardedHandle, GrumpyArray or DataFrame
        A store (its path, read lazily) or an open handle, or data in memory.
    batch_size : int
        Rows per batch, or with ``batch_on`` entities per batch.
    drop_last : bool
        Drop a final under-full batch.
    batch_on : str or int, optional
        Pack whole rows until the entity count at this level (name, or depth for arrays)
        would pass ``batch_size``; a row with more entities forms its own batch.
    shuffle : bool, str or int, optional
        ``True`` shuffles rows: every epoch a new permutation of the rows (a function of
        ``(seed, epoch)``) is cut into batches, so batches are new compositions each
        epoch. ``"batches"`` keeps the batches fixed (consecutive rows) and permutes their
        order each epoch. A level name (or depth) permutes the batch order and the
        entities of that level within each batch (rows for the outer level, children
        within their parent below it), the same permutation for every column at or below
        the level. Needs ``seed``.
    seed : int, optional
        The seed; the order is a pure function of ``(seed, epoch)``.
    workers : int
        Batches read ahead on background threads (order preserved).
    world_size, rank : int
        Data-parallel ranks: rank ``r`` takes plan positions ``i % world_size == r``.
    in_memory : bool
        Load a store once and yield zero-copy slices (every epoch slices the same buffers:
        ``to_numpy`` views are read-only and ``to_torch`` copies unless ``copy=False``).
    columns : list of str, optional
        Read only these columns (frames).
    epoch : int
        The starting epoch (see :meth:`Stream.set_epoch`).
    even : bool
        Give every rank the same number of batches (drops up to ``world_size - 1`` batches
        at the end of the plan); the default keeps every batch (exactly-once coverage).
    shuffle_block : int, optional
        With ``shuffle=True``: cut the rows into contiguous blocks of this many rows,
        permute the blocks, and shuffle rows only within each window of
        ``shuffle_window`` consecutive blocks (in the permuted order). Reads stay local (a
        window's blocks are read while its batches are made, through the handle's chunk
        cache) while each batch mixes rows from ``shuffle_window`` places.
    shuffle_window : int
        Blocks per window of ``shuffle_block``.

    Returns
    -------
    Stream
        The batches (arrays or frames, like the source), lazily: nothing is read until a
        batch is asked for.

    Raises
    ------
    ValueError
        For invalid parameters, naming them (a shuffle without a seed among them).

    Examples
    --------
    >>> import grumpy_arrow as gr
    >>> x = gr.array([[1, 2], [3], [4, 5, 6], [], [7]])
    >>> [b.to_list() for b in gr.stream(x, batch_size=2)]
    [[[1, 2], [3]], [[4, 5, 6], []], [[7]]]
    >>> [b.to_list() for b in gr.stream(x, batch_size=2, shuffle=True, seed=0)]
    [[[4, 5, 6], [7]], [[], [1, 2]], [[3]]]
    >>> df = gr.dataframe({"mol_id": [1, 2, 3], "atom_q": [[0.5, -0.5], [1.0], [0.1, 0.2, 0.3]]},
    ...                   schema=["mol", "atom"])
    >>> [b.to_dict()["mol_id"] for b in gr.stream(df, batch_size=3, batch_on="atom")]
    [[1, 2], [3]]
    """
    check_int(batch_size, "batch_size", minimum=1)
    check_int(world_size, "world_size", minimum=1)
    check_int(workers, "workers", minimum=0)
    if not isinstance(rank, int) or not 0 <= rank < world_size:
        raise ValueError(f"rank must be in [0, world_size={world_size}), got {rank!r}")
    if _shuffles(shuffle) and seed is None:
        raise ValueError("shuffle needs a seed (seed=...): batches must be reproducible")
    if seed is not None:
        check_int(seed, "seed", minimum=0)
    check_int(epoch, "epoch", minimum=0)
    check_int(shuffle_window, "shuffle_window", minimum=1)
    if shuffle_block is not None:
        check_int(shuffle_block, "shuffle_block", minimum=1)
        if shuffle is not True:
            raise ValueError(
                "shuffle_block needs shuffle=True (a sample-level shuffle), got "
                f"shuffle={shuffle!r}"
            )
    data = _Source.of(source, in_memory=in_memory, columns=columns)
    for name, level in (("batch_on", batch_on), ("shuffle", shuffle)):
        if level is not None and not isinstance(level, bool) and level != _BATCHES:
            _check_level(data, level, name)
    params = _Params(
        batch_size,
        bool(drop_last),
        batch_on,
        shuffle,
        seed,
        world_size,
        rank,
        bool(even),
        bool(in_memory),
        None if columns is None else tuple(columns),
        shuffle_block,
        shuffle_window,
    )
    return Stream(data, params, epoch=epoch, workers=workers)


_BATCHES = "batches"  # shuffle="batches": fixed batches, permuted order (never a level)


def _shuffles(shuffle: Any) -> bool:
    """Whether ``shuffle`` asks for any shuffle (``0`` is a depth, not False)."""
    return shuffle is not None and shuffle is not False


def _within(shuffle: Any) -> bool:
    """Whether ``shuffle`` names a level (a name or a depth) to shuffle within batches."""
    if isinstance(shuffle, str):
        return shuffle != _BATCHES
    return isinstance(shuffle, (int, np.integer)) and not isinstance(shuffle, bool)


def _check_level(data: _Source, level: Any, name: str) -> None:
    """A level name or depth that exists in the data, or a ValueError naming ``name``."""
    schema = data.schema
    try:
        if schema is not None:
            schema.index(level)
            return
    except (SchemaError, TypeError) as err:
        raise ValueError(f"{name}={level!r}: {err}") from None
    if not isinstance(level, (int, np.integer)) or isinstance(level, bool):
        raise ValueError(f"{name}={level!r} names a level, but the data has no schema")
    depth = data.ndim() - 1
    if not 0 <= int(level) <= depth:
        raise ValueError(f"{name}={level!r} is not a depth of this data (0 to {depth})")


class _Source:
    """What batches are read from: an in-memory object or a store handle."""

    def __init__(self, obj: Any, handle: Any) -> None:
        self.obj, self.handle = obj, handle

    @classmethod
    def of(cls, source: Any, *, in_memory: bool, columns: list[str] | None) -> _Source:
        if isinstance(source, (GrumpyArray, DataFrame)):
            obj = source if columns is None else source[list(columns)]
            return cls(obj, None)
        handle = source if isinstance(source, (Handle, ShardedHandle)) else None
        if handle is None:
            if not isinstance(source, (str, os.PathLike)):
                raise TypeError(
                    "stream needs a store path, a gr.open handle, a GrumpyArray or a "
                    f"DataFrame, got {type(source).__name__}"
                )
            handle = open_store(source)
        if columns is not None:
            handle = handle[list(columns)]
        if in_memory:
            return cls(handle.load(), None)
        return cls(None, handle)

    def __len__(self) -> int:
        return len(self.obj if self.obj is not None else self.handle)

    @property
    def schema(self) -> Any:
        if self.obj is not None:
            return self.obj.schema if isinstance(self.obj, DataFrame) else None
        return self.handle.schema

    def counts(self, level: Any) -> np.ndarray:
        """Entities per row at ``level`` (union rows count as one)."""
        schema = self.schema
        if schema is not None:
            k = schema.index(level)
        elif isinstance(level, int) and not isinstance(level, bool):
            k = level
        else:
            raise SchemaError(f"batch_on={level!r} names a level, but the data has no schema")
        if k == 0:
            return np.ones(len(self), dtype=np.int64)
        shape = self.shape(k)
        return _per_row_totals(shape, k)

    def ndim(self) -> int:
        """Nesting depth + 1 of the data (arrays; frames report their deepest column)."""
        if self.obj is not None:
            if isinstance(self.obj, DataFrame):
                return max((self.obj[c].ndim for c in self.obj.columns), default=1)
            return int(self.obj.ndim)
        return 1 + max(lay.arrow_depth(arrow_type(c.layout)) for c in self.handle.manifest.columns)

    def shape(self, k: int) -> Any:
        obj = self.obj if self.obj is not None else self.handle
        return obj.shape(k)

    def rows(self, rows: np.ndarray) -> Any:
        """The rows (sorted, or any order) as an in-memory batch."""
        if self.obj is not None:
            contiguous = (
                len(rows)
                and int(rows[-1]) - int(rows[0]) == len(rows) - 1
                and bool(np.all(np.diff(rows) == 1))
            )
            if contiguous:
                return self.obj[int(rows[0]) : int(rows[-1]) + 1]
            return self.obj[rows]
        return self.handle.take(rows)


def _per_row_totals(shape: GrumpyArray, k: int) -> np.ndarray:
    """Sum the (nested) counts of ``shape(k)`` per outer row; null counts count 0."""
    node = shape
    for _ in range(k - 1):
        node = node.sum(dim=-1)
    values = node.to_arrow().fill_null(0).to_numpy(zero_copy_only=False)
    return np.asarray(values, dtype=np.int64)


class Stream:
    """A sequence of batches; iterate it, index it, ``apply`` transforms, save its state.

    Make one with :func:`grumpy_arrow.stream`. ``len(s)`` is the number of batches this
    rank yields this epoch, ``s[i]`` / ``s[a:b]`` / ``s[[i, j]]`` a stream over some of
    them (selections compose); see docs/streaming.md.

    Parameters
    ----------
    data : _Source
        The rows (internal: the store or in-memory data :func:`grumpy_arrow.stream` wraps).
    params : _Params
        The plan parameters (internal: batch size, shuffle, seed, ranks...).
    epoch : int, default 0
        The current epoch.
    workers : int, default 0
        Batches read ahead on background threads.
    positions : numpy.ndarray, optional
        The plan positions this stream yields (a selection of another stream's).
    transforms : tuple of callable, default ()
        The transforms of :meth:`apply`, in order.
    cpu : int, default 1
        Batches transformed in parallel.
    prefetch : int, optional
        Batches produced ahead of the consumer.
    executor : {"thread", "process"}
        Where parallel transforms run.

    Examples
    --------
    >>> import grumpy_arrow as gr
    >>> s = gr.stream(gr.array([[1, 2], [3], [4, 5, 6], [], [7]]), batch_size=2)
    >>> s
    <Stream 3 batches of 2 rows, epoch 0, rank 0/1, shuffle=None>
    >>> len(s), [b.to_list() for b in s]
    (3, [[[1, 2], [3]], [[4, 5, 6], []], [[7]]])
    >>> [b.to_list() for b in s[1:]]
    [[[4, 5, 6], []], [[7]]]
    """

    def __init__(
        self,
        data: _Source,
        params: _Params,
        *,
        epoch: int = 0,
        workers: int = 0,
        positions: np.ndarray | None = None,
        transforms: tuple[Callable[..., Any], ...] = (),
        cpu: int = 1,
        prefetch: int | None = None,
        executor: ExecutorKind = "thread",
    ) -> None:
        self._data, self._params = data, params
        self._epoch = int(epoch)
        self._workers = workers
        self._selection = positions  # positions into this rank's list, composed
        self._transforms, self._cpu, self._prefetch, self._executor = (
            transforms,
            cpu,
            prefetch,
            executor,
        )
        self._consumed = 0
        # Batches of the epoch's plan consumed before this stream took over (an elastic
        # resume from another world size): its ranks split the plan from there.
        self._start = 0
        self._plan_cache: tuple[int, list[tuple[int, int]]] | None = None
        self._epoch_plan: tuple[int, pl.EpochPlan] | None = None
        self._counts: np.ndarray | None = None
        self._seeded = tuple(_takes_rng(fn) for fn in transforms)  # see _transform

    # -- the plan ---------------------------------------------------------------------

    def _batches(self) -> list[tuple[int, int]]:
        """Row ranges of the plan (before shuffling), computed once."""
        if self._plan_cache is None:
            p = self._params
            if p.batch_on is None:
                ranges = pl.row_batches(len(self._data), p.batch_size, drop_last=p.drop_last)
            else:
                counts = self._data.counts(p.batch_on)
                ranges = pl.packed_batches(counts, p.batch_size, drop_last=p.drop_last)
            self._plan_cache = (0, ranges)
        return self._plan_cache[1]

    def _plan(self) -> pl.EpochPlan:
        """This epoch's batches, in the order they are yielded (worked out once per epoch).

        ``shuffle=True`` permutes the rows (or, with ``shuffle_block``, blocks of rows
        and rows within windows of blocks) and cuts the permutation into batches (packed
        by ``batch_on`` counts in that order); every other mode takes the fixed batches,
        in order or permuted."""
        cached = self._epoch_plan
        if cached is not None and cached[0] == self._epoch:
            return cached[1]
        p = self._params
        seed = p.seed or 0
        if p.shuffle is True:
            n = len(self._data)
            if p.shuffle_block is not None:
                order = pl.block_order(n, p.shuffle_block, p.shuffle_window, seed, self._epoch)
            else:
                order = pl.sample_order(n, seed, self._epoch)
            counts = None if p.batch_on is None else self._entity_counts()
            bounds = pl.cut(order, p.batch_size, drop_last=p.drop_last, counts=counts)
            plan = pl.EpochPlan(order=order, bounds=bounds)
        else:
            ranges = self._batches()
            ids = (
                pl.shuffled_order(len(ranges), seed, self._epoch) if _shuffles(p.shuffle) else None
            )
            plan = pl.EpochPlan(ranges=ranges, ids=ids)
        self._epoch_plan = (self._epoch, plan)
        return plan

    def _entity_counts(self) -> np.ndarray:
        """Entities per row at the ``batch_on`` level (read once)."""
        if self._counts is None:
            self._counts = self._data.counts(self._params.batch_on)
        return self._counts

    def _positions(self) -> np.ndarray:
        """Batches of this epoch's plan this stream yields, in order."""
        p = self._params
        n = len(self._plan())
        start = min(self._start, n)
        mine = start + pl.rank_positions(n - start, p.world_size, p.rank, even=p.even)
        return mine if self._selection is None else mine[self._selection]

    def __len__(self) -> int:
        """Batches this rank yields this epoch (from metadata, and for a shuffle packed by
        ``batch_on`` from the epoch's permutation: its batch count varies by epoch)."""
        p = self._params
        if self._selection is not None:
            return len(self._selection)
        if p.shuffle is True and p.batch_on is None:
            n = len(self._data)
            total = n // p.batch_size if p.drop_last else -(-n // p.batch_size)
        else:
            total = len(self._plan())
        total -= min(self._start, total)
        return len(pl.rank_positions(total, p.world_size, p.rank, even=p.even))

    def __getitem__(self, key: Any) -> Stream:
        """A stream over some of this stream's batch positions (selections compose)."""
        n = len(self)
        if isinstance(key, (int, np.integer)) and not isinstance(key, bool):
            i = int(key)
            if not -n <= i < n:
                raise OutOfBoundsError(f"batch {i} is out of range for a stream of {n} batches")
            chosen = np.array([i % n], dtype=np.int64)
        elif isinstance(key, slice):
            chosen = np.arange(*key.indices(n), dtype=np.int64)
        else:
            chosen = np.asarray(key, dtype=np.int64).reshape(-1)
            bad = (chosen < -n) | (chosen >= n)
            if bad.any():
                raise OutOfBoundsError(
                    f"batch {int(chosen[np.flatnonzero(bad)[0]])} is out of range for a "
                    f"stream of {n} batches"
                )
            chosen = np.where(chosen < 0, chosen + n, chosen)
        base = np.arange(n, dtype=np.int64) if self._selection is None else self._selection
        return self._copy(positions=base[chosen])

    def _copy(self, **changes: Any) -> Stream:
        out = Stream(
            self._data,
            self._params,
            epoch=self._epoch,
            workers=self._workers,
            positions=changes.get("positions", self._selection),
            transforms=changes.get("transforms", self._transforms),
            cpu=changes.get("cpu", self._cpu),
            prefetch=changes.get("prefetch", self._prefetch),
            executor=changes.get("executor", self._executor),
        )
        out._plan_cache, out._epoch_plan = self._plan_cache, self._epoch_plan
        out._start = self._start
        out._counts = self._counts
        return out

    # -- reading ----------------------------------------------------------------------

    def _rows(self, k: int, plan: pl.EpochPlan) -> np.ndarray:
        """The rows of batch ``k`` of the plan, shuffled when the rows shuffle within it."""
        rows = plan.rows(k)
        p = self._params
        if _within(p.shuffle) and self._level(p.shuffle) == 0:
            position = int(plan.ids[k])
            rows = rows[pl.epoch_rng(p.seed or 0, self._epoch, position).permutation(len(rows))]
        return rows

    def _read(self, k: int, plan: pl.EpochPlan | None = None) -> Any:
        """Batch ``k`` of the epoch's plan (in-batch shuffles applied)."""
        plan = self._plan() if plan is None else plan
        position = int(plan.ids[k])
        p = self._params
        within = _within(p.shuffle)
        batch = self._data.rows(self._rows(k, plan))
        if within and self._level(p.shuffle) > 0:
            batch = _shuffle_inner(
                batch, self._level(p.shuffle), pl.epoch_rng(p.seed or 0, self._epoch, position)
            )
        return batch

    def _level(self, level: Any) -> int:
        schema = self._data.schema
        if schema is not None:
            return cast("int", schema.index(level))
        if isinstance(level, int) and not isinstance(level, bool):
            return level
        raise SchemaError(f"shuffle={level!r} names a level, but the data has no schema")

    def batch(self, i: int) -> Any:
        """Batch ``i`` of this stream (transforms applied).

        Parameters
        ----------
        i : int
            The batch's position in this stream (negative counts from the end).

        Returns
        -------
        GrumpyArray, DataFrame or object
            The batch, as iteration gives it (what the last transform returns).

        Raises
        ------
        IndexError
            For a position outside the stream.

        Examples
        --------
        >>> import grumpy_arrow as gr
        >>> s = gr.stream(gr.array([[1, 2], [3], [4, 5, 6], [], [7]]), batch_size=2)
        >>> s.batch(1).to_list(), s.apply(lambda b: b.sum(dim=1)).batch(-1).to_list()
        ([[4, 5, 6], []], [7])
        """
        plan = self._plan()
        k = int(self._positions()[i])
        out = self._read(k, plan)
        for j in range(len(self._transforms)):
            out = self._transform(j, out, int(plan.ids[k]))
        return out

    def _transform(self, j: int, batch: Any, position: int) -> Any:
        """Transform ``j`` on the batch at plan ``position``: with ``rng=`` (see
        :meth:`apply`) when it takes one."""
        return _call(
            self._transforms[j],
            self._seeded[j],
            batch,
            (self._params.seed or 0, self._epoch, position, j),
        )

    def __iter__(self) -> Iterator[Any]:
        """Yield the remaining batches of this epoch, in order (then start over at 0)."""
        positions = self._positions()
        start = self._consumed
        todo = range(start, len(positions))
        if (
            self._executor == "thread"
            and len(todo) > 1
            and mb.leading_compiled(self._transforms, self._seeded)
        ):
            done = yield from self._megabatched(positions, todo)
            if done:
                self._consumed = self._start = 0
                return
        yield from self._ordered(positions, todo)
        self._consumed = self._start = 0  # the next pass is the whole epoch

    def _megabatched(self, positions: np.ndarray, todo: range) -> Generator[Any, None, bool]:
        """Yield the batches with the leading compiled transforms run over megabatches
        (:mod:`grumpy_arrow.streaming.megabatch`); returns False, having yielded nothing,
        when they cannot be joined (then every batch runs on its own)."""
        plan = self._plan()

        def read(i: int) -> Any:
            return self._read(int(positions[i]), plan)

        first = read(todo[0])
        lead = mb.leading_compiled(self._transforms, self._seeded)
        joined = mb.joinable(self._transforms[:lead], first)
        if not joined:
            return False
        parts = mb.megabatches(
            todo,
            self._group_reader(positions, plan),
            self._transforms[:joined],
            first=first,
            overlap=self._cpu > 1,
        )
        while True:
            try:
                i, out = next(parts)
            except StopIteration:
                break
            except Exception as err:
                err.add_note(
                    f"raised by a compiled transform of the megabatch starting at "
                    f"batch {self._consumed} (epoch {self._epoch})"
                )
                raise
            out = self._transforms_from(joined, out, i, int(plan.ids[positions[i]]))
            self._consumed = i + 1
            yield out
        return True

    def _group_reader(
        self, positions: np.ndarray, plan: pl.EpochPlan
    ) -> Callable[[range], tuple[Any, list[int]]]:
        """Reads the batches ``group`` of ``positions`` as one batch: one read of all their
        rows (a slice when they are contiguous in memory), or, with a shuffle inside the
        batches below the rows, each batch read on its own and joined."""
        p = self._params
        inner = _within(p.shuffle) and self._level(p.shuffle) > 0

        def read_group(group: range) -> tuple[Any, list[int]]:
            if inner:
                batches = [self._read(int(positions[i]), plan) for i in group]
                return mb.join(batches), [len(b) for b in batches]
            rows = [self._rows(int(positions[i]), plan) for i in group]
            return self._data.rows(np.concatenate(rows)), [len(r) for r in rows]

        return read_group

    def _producer(self, positions: np.ndarray) -> Callable[[int], Any]:
        plan = self._plan()

        def produce(i: int) -> Any:
            out = self._read(int(positions[i]), plan)
            return self._transforms_from(0, out, i, int(plan.ids[positions[i]]))

        return produce

    def _transforms_from(self, first: int, out: Any, i: int, position: int) -> Any:
        """Transforms ``first``, ``first + 1``... on batch ``i`` (an error names the batch)."""
        for j in range(first, len(self._transforms)):
            try:
                out = self._transform(j, out, position)
            except Exception as err:
                err.add_note(
                    f"raised by a transform of batch {i} (plan position "
                    f"{position}, epoch {self._epoch})"
                )
                raise
        return out

    def _in_processes(
        self, positions: np.ndarray
    ) -> tuple[Callable[[Any], Any], Callable[[int], Any]]:
        """The transforms as a picklable job for a worker process, and the read of batch
        ``i`` (on a reader thread of this process) that feeds it."""
        plan = self._plan()
        seeds = (self._params.seed or 0, self._seeded)

        def load(i: int) -> tuple[Any, int, int]:
            k = int(positions[i])
            return self._read(k, plan), i, int(plan.ids[k])

        return partial(_apply_all, self._transforms, self._epoch, seeds), load

    def _ordered(self, positions: np.ndarray, todo: range) -> Iterator[Any]:
        """Batches ``todo``, produced ahead on a pool and yielded strictly in order
        (:func:`~grumpy_arrow.streaming.ordered.ordered_map`)."""
        ahead = max(self._workers, self._cpu if self._cpu > 1 else 0) + (self._prefetch or 0)
        load: Callable[[int], Any] | None = None
        if self._executor == "process" and self._transforms:
            fn, load = self._in_processes(positions)
        else:
            fn = self._producer(positions)
        # While batch i is awaited, batches i + 1 ... i + ahead + 1 are started (the
        # stream's ``ahead`` has always counted the queue behind the batch submitted last).
        results = ordered_map(
            fn,
            todo,
            ahead=ahead + 1 if ahead > 0 else 0,
            workers=max(1, self._cpu, self._workers),
            executor=self._executor,
            load=load,
            name="grumpy-stream",
        )
        try:
            for i, item in zip(todo, results, strict=True):
                self._consumed = i + 1
                yield item
        finally:
            results.close()  # a consumer that stops early cancels the batches queued

    # -- transforms, epochs, state ----------------------------------------------------

    def apply(
        self,
        *fns: Callable[[Any], Any],
        cpu: int = 1,
        prefetch: int | None = None,
        executor: ExecutorKind = "thread",
        compile: bool | str | None = None,
    ) -> Stream:
        """A lazy stream whose batches pass through ``fns`` in order.

        Transforms compiled with :func:`grumpy_arrow.compile` run over *megabatches*
        (consecutive batches joined, one kernel call, results cut back into the batches;
        see ``docs/compile.md``). ``compile=True`` compiles plain functions too (with a
        warning for those that run eagerly), ``"auto"`` does so quietly, ``False`` runs
        compiled ones eagerly; the default (None) takes each function as given.

        A transform with a parameter named ``rng`` is called as ``fn(batch, rng=...)``
        with a ``numpy.random.Generator`` of its own for each batch:
        ``numpy.random.default_rng([seed, epoch, position, 1, k])``, where ``position``
        is the batch's plan position and ``k`` the transform's place among the stream's
        transforms (the stream's ``seed``, 0 without one). Random augmentations are then
        the same for any ``cpu`` and executor, after a resume and in :meth:`batch`.

        ``cpu > 1`` runs batches in parallel (threads: pyarrow and NumPy release the GIL;
        ``executor="process"`` for GIL-bound Python transforms, which must be picklable)
        and still yields them strictly in batch order. An exception in a transform
        surfaces at iteration with a note naming the batch.

        Parameters
        ----------
        *fns : callable
            The transforms, each taking a batch (and ``rng=`` when it names it).
        cpu : int, default 1
            Batches transformed in parallel.
        prefetch : int, optional
            Batches produced ahead of the consumer (default: enough for the workers).
        executor : {"thread", "process"}
            Where parallel transforms run.
        compile : bool or "auto", optional
            Compile the transforms with :func:`grumpy_arrow.compile` (see above).

        Returns
        -------
        Stream
            A new stream; this one is unchanged.

        Raises
        ------
        ValueError
            For a ``cpu`` below 1, a negative ``prefetch`` or an unknown ``executor``.
        TypeError
            For a transform that is not callable.

        Examples
        --------
        >>> import grumpy_arrow as gr
        >>> s = gr.stream(gr.array([[1, 2], [3], [4, 5, 6], [], [7]]), batch_size=2)
        >>> [b.to_list() for b in s.apply(lambda b: b * 10)]
        [[[10, 20], [30]], [[40, 50, 60], []], [[70]]]
        >>> s.apply(lambda b: b.sum(dim=1), lambda b: b.to_list(), cpu=2)[:2].batch(1)
        [15, 0]
        """
        check_int(cpu, "cpu", minimum=1)
        if executor not in ("thread", "process"):
            raise ValueError(f"executor must be 'thread' or 'process', got {executor!r}")
        if prefetch is not None:
            check_int(prefetch, "prefetch", minimum=0)
        for fn in fns:
            if not callable(fn):
                raise TypeError(f"apply needs callables, got {fn!r}")
        fns = _compiled(fns, compile)
        return self._copy(
            transforms=self._transforms + fns, cpu=cpu, prefetch=prefetch, executor=executor
        )

    def save(self, saver: Any, *, save_interval: int = 1, progress: bool = False) -> int:
        """Iterate the stream and hand its batches (after ``apply``) to ``saver``.

        Every ``save_interval`` batches are joined and saved as one, in batch order even
        when ``apply(cpu=N)`` workers finish out of order; the rest is flushed at the end
        and when a transform raises (the batches before it are kept). With an ``update``
        saver, rows are written at their positions in the stream's output.

        Parameters
        ----------
        saver : Saver
            Where the batches go (see :mod:`grumpy_arrow.savers`).
        save_interval : int, default 1
            Batches joined into each save.
        progress : bool, default False
            Show a progress bar (needs tqdm).

        Returns
        -------
        int
            The number of batches saved.

        Examples
        --------
        >>> import grumpy_arrow as gr
        >>> from grumpy_arrow.savers import ZarrSaver
        >>> saver = ZarrSaver("memory://sums.zarr")
        >>> x = gr.array([[1, 2], [3], [4, 5, 6], []])
        >>> gr.stream(x, batch_size=2).apply(lambda b: b.sum(dim=1).to_numpy(), cpu=2).save(
        ...     saver, save_interval=2)
        2
        >>> saver.load().tolist()
        [3, 3, 15, 0]
        """
        return collect(
            iter(self), saver, save_interval=save_interval, progress=progress, total=len(self)
        )

    def set_epoch(self, epoch: int) -> None:
        """Start epoch ``epoch`` (a new shuffle) from its first batch.

        Parameters
        ----------
        epoch : int
            The epoch; the order is a function of ``(seed, epoch)``.

        Examples
        --------
        >>> import grumpy_arrow as gr
        >>> s = gr.stream(gr.array([[1, 2], [3], [4, 5, 6], [], [7]]), batch_size=2, shuffle=True,
        ...               seed=0)
        >>> [b.to_list() for b in s]
        [[[4, 5, 6], [7]], [[], [1, 2]], [[3]]]
        >>> s.set_epoch(1)
        >>> s.epoch, [b.to_list() for b in s]
        (1, [[[3], [7]], [[], [1, 2]], [[4, 5, 6]]])
        """
        self._epoch = int(epoch)
        self._consumed = self._start = 0

    @property
    def epoch(self) -> int:
        """The current epoch.

        Examples
        --------
        >>> import grumpy_arrow as gr
        >>> s = gr.stream(gr.array([[1, 2], [3], [4, 5, 6], [], [7]]), batch_size=2)
        >>> s.epoch
        0
        >>> s.set_epoch(3)
        >>> s.epoch
        3
        """
        return self._epoch

    def state_dict(self) -> dict[str, Any]:
        """A small dict to resume from: epoch, batches consumed, seed and plan parameters.

        Returns
        -------
        dict
            Plain values (JSON-serialisable): ``epoch``, ``batches_consumed``, ``start``, the
            plan parameters and ``batches`` (this epoch's count).

        Examples
        --------
        >>> import grumpy_arrow as gr
        >>> s = gr.stream(gr.array([[1, 2], [3], [4, 5, 6], [], [7]]), batch_size=2)
        >>> batches = iter(s)
        >>> _ = next(batches)
        >>> state = s.state_dict()
        >>> state["epoch"], state["batches_consumed"], state["batches"]
        (0, 1, 3)
        """
        p = self._params
        return {
            "epoch": self._epoch,
            "batches_consumed": self._consumed,
            "start": self._start,
            "seed": p.seed,
            "batch_size": p.batch_size,
            "drop_last": p.drop_last,
            "batch_on": p.batch_on,
            "shuffle": p.shuffle,
            "world_size": p.world_size,
            "rank": p.rank,
            "even": p.even,
            "shuffle_block": p.shuffle_block,
            "shuffle_window": p.shuffle_window,
            "batches": len(self),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Resume at the next batch after ``state`` (plan parameters must match).

        A state saved with another ``world_size`` is an **elastic resume**: every rank
        of the old world is taken to have consumed as many batches as the saving rank
        (data-parallel steps run in lockstep), so the first ``start + batches_consumed *
        world_size`` batches of the epoch's plan are done, and this stream's ranks split
        the rest. Any rank's state will do.

        Parameters
        ----------
        state : dict
            What :meth:`state_dict` returned (of this stream or of an identical one).

        Raises
        ------
        ValueError
            When the state belongs to a stream with other plan parameters.

        Examples
        --------
        >>> import grumpy_arrow as gr
        >>> x = gr.array([[1, 2], [3], [4, 5, 6], [], [7]])
        >>> s = gr.stream(x, batch_size=2)
        >>> next(iter(s)).to_list()
        [[1, 2], [3]]
        >>> resumed = gr.stream(x, batch_size=2)
        >>> resumed.load_state_dict(s.state_dict())
        >>> [b.to_list() for b in resumed]
        [[[4, 5, 6], []], [[7]]]
        """
        mine = self.state_dict()
        elastic = state.get("world_size", mine["world_size"]) != mine["world_size"]
        keys = [
            "seed",
            "batch_size",
            "drop_last",
            "batch_on",
            "shuffle",
            "even",
            "shuffle_block",
            "shuffle_window",
        ]
        if not elastic:
            keys += ["world_size", "rank"]
        for key in keys:
            if key in state and state[key] != mine[key]:
                raise ValueError(
                    f"state_dict was saved with {key}={state[key]!r}; this stream has "
                    f"{key}={mine[key]!r}"
                )
        epoch, before = int(state.get("epoch", 0)), (self._epoch, self._start)
        consumed = int(state.get("batches_consumed", 0))
        start = int(state.get("start", 0))
        if elastic:
            start, consumed = start + consumed * int(state["world_size"]), 0
        # (the batch count of a packed shuffle depends on the epoch)
        self._epoch, self._start = epoch, start
        batches = len(self)
        problem = None
        if start < 0 or consumed < 0:
            problem = f"state_dict has start={start}, batches_consumed={consumed}: below 0"
        elif not elastic and "batches" in state and state["batches"] != batches:
            problem = (
                f"state_dict was saved with batches={state['batches']!r}; this stream "
                f"has batches={batches!r} in epoch {epoch}"
            )
        elif not 0 <= consumed <= batches:
            problem = f"batches_consumed={consumed} is outside [0, {batches}]"
        if problem is not None:
            self._epoch, self._start = before
            raise ValueError(problem)
        self._consumed = consumed

    def __repr__(self) -> str:
        p = self._params
        return (
            f"<Stream {len(self)} batches of {p.batch_size}"
            f"{' ' + str(p.batch_on) if p.batch_on is not None else ' rows'}, epoch "
            f"{self._epoch}, rank {p.rank}/{p.world_size}, shuffle={p.shuffle!r}>"
        )


def _compiled(
    fns: tuple[Callable[..., Any], ...], mode: bool | str | None
) -> tuple[Callable[..., Any], ...]:
    """``fns`` under ``apply(compile=mode)`` (see :meth:`Stream.apply`)."""
    if mode is None:
        return fns
    if mode not in (True, False, "auto"):
        raise ValueError(f"compile must be True, False, 'auto' or None, got {mode!r}")
    if mode is False:
        return tuple(fn.fn if isinstance(fn, CompiledFunction) else fn for fn in fns)
    fallback: CompileFallback = "warn" if mode is True else "silent"
    return tuple(
        fn if isinstance(fn, CompiledFunction) or _takes_rng(fn) else compile(fn, fallback=fallback)
        for fn in fns
    )


def _takes_rng(fn: Callable[..., Any]) -> bool:
    """Whether ``fn`` has a parameter ``rng`` that can be passed by keyword."""
    try:
        params = inspect.signature(fn).parameters
    except (TypeError, ValueError):  # no signature (some builtins): none
        return False
    found = params.get("rng")
    return found is not None and found.kind in (found.POSITIONAL_OR_KEYWORD, found.KEYWORD_ONLY)


def _call(
    fn: Callable[..., Any], seeded: bool, batch: Any, where: tuple[int, int, int, int]
) -> Any:
    """``fn(batch)``, with ``rng=`` the generator of ``where`` (seed, epoch, plan position,
    transform) when ``fn`` takes one (``seeded``)."""
    return fn(batch, rng=pl.transform_rng(*where)) if seeded else fn(batch)


def _apply_all(
    fns: tuple[Callable[..., Any], ...],
    epoch: int,
    seeds: tuple[int, tuple[bool, ...]],
    job: tuple[Any, int, int],
) -> Any:
    """Run the transforms on ``job`` (a batch, its index ``i`` in the stream and its plan
    position) in a worker process (the note matches the thread executor's; ``seeds``: the
    stream's seed and which transforms take ``rng=``)."""
    seed, seeded = seeds
    batch, i, position = job
    for j, fn in enumerate(fns):
        try:
            batch = _call(fn, seeded[j], batch, (seed, epoch, position, j))
        except Exception as err:
            err.add_note(
                f"raised by a transform of batch {i} (plan position {position}, epoch {epoch})"
            )
            raise
    return batch


def _shuffle_inner(batch: Any, level: int, rng: np.random.Generator) -> Any:
    """Permute the entities of ``level`` within each parent, for every column reaching it."""
    index = _inner_permutation(batch.shape(level), rng)
    if isinstance(batch, DataFrame):
        schema = batch.schema
        out = {}
        for name in batch.columns:
            column = batch[name]
            reaches = (
                schema.level_of(name) >= level if schema is not None else (column.ndim - 1 >= level)
            )
            out[name] = column[index] if reaches else column
        return DataFrame(out, schema, len(batch))
    return batch[index]


def _inner_permutation(counts: GrumpyArray, rng: np.random.Generator) -> GrumpyArray:
    """A ragged index, nested like ``counts``, shuffling each parent's children."""
    flat = np.asarray(
        counts.flatten().to_arrow().fill_null(0).to_numpy(zero_copy_only=False), dtype=np.int64
    )
    parent = np.repeat(np.arange(len(flat), dtype=np.int64), flat)
    order = np.lexsort((rng.random(len(parent)), parent))
    offsets = offsets_from_lengths(flat)
    local = order - np.repeat(offsets[:-1], flat)
    per_parent = lay.ListNode(offsets, None, lay.Leaf(pa.array(local)))

    def rebuild(node: lay.Node) -> lay.Node:
        if isinstance(node, lay.ListNode):
            return node.with_content(rebuild(node.content))
        return per_parent

    return GrumpyArray._wrap(rebuild(counts.node))
