"""The batch plan of a stream: pure functions of the data's shape and the parameters.

Every random choice is a function of ``(seed, epoch)`` (and the batch position for
within-batch shuffles), so the same parameters give the same batches on every rank and in
every run, and a resumed stream continues exactly where it stopped.

Examples
--------
>>> from grumpy_arrow.streaming.plan import row_batches, packed_batches
>>> row_batches(7, 3, drop_last=False)
[(0, 3), (3, 6), (6, 7)]
>>> packed_batches([2, 3, 9, 1, 1], 4, drop_last=False)
[(0, 1), (1, 2), (2, 3), (3, 5)]
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = [
    "EpochPlan",
    "block_order",
    "cut",
    "epoch_rng",
    "packed_batches",
    "rank_positions",
    "row_batches",
    "sample_order",
    "shuffled_order",
    "transform_rng",
]


def row_batches(rows: int, batch_size: int, *, drop_last: bool) -> list[tuple[int, int]]:
    """Consecutive ``[start, stop)`` row ranges of ``batch_size`` rows."""
    starts = range(0, rows, batch_size)
    out = [(s, min(s + batch_size, rows)) for s in starts]
    if drop_last and out and out[-1][1] - out[-1][0] < batch_size:
        out.pop()
    return out


def packed_batches(
    counts: Sequence[int] | np.ndarray, batch_size: int, *, drop_last: bool
) -> list[tuple[int, int]]:
    """Pack whole rows greedily while their entity counts stay within ``batch_size``.

    A row with more entities than ``batch_size`` forms a batch of its own; rows are never
    split. One ``searchsorted`` per batch (not per row) finds where each batch ends.
    ``drop_last`` drops a final batch that holds fewer than ``batch_size`` entities.
    """
    counts = np.asarray(counts, dtype=np.int64)
    cumulative = np.concatenate([[0], np.cumsum(counts)])
    out: list[tuple[int, int]] = []
    start, n = 0, len(counts)
    while start < n:
        limit = cumulative[start] + batch_size
        stop = int(np.searchsorted(cumulative, limit, side="right")) - 1
        stop = max(stop, start + 1)  # an oversized row goes alone
        out.append((start, min(stop, n)))
        start = min(stop, n)
    if drop_last and out:
        a, b = out[-1]
        if cumulative[b] - cumulative[a] < batch_size:
            out.pop()
    return out


def epoch_rng(seed: int, epoch: int, *extra: int) -> np.random.Generator:
    """The generator for ``(seed, epoch, *extra)``: independent streams per epoch/batch."""
    return np.random.default_rng([int(seed), int(epoch), *map(int, extra)])


def transform_rng(seed: int, epoch: int, position: int, k: int) -> np.random.Generator:
    """The generator handed to the ``k``-th transform of a stream for the batch at plan
    ``position`` (``[seed, epoch, position, 1, k]``: never the stream of a within-batch
    shuffle, ``[seed, epoch, position]``)."""
    return np.random.default_rng([int(seed), int(epoch), int(position), 1, int(k)])


def shuffled_order(n_batches: int, seed: int, epoch: int) -> np.ndarray:
    """A permutation of the batch positions for this epoch."""
    return epoch_rng(seed, epoch).permutation(n_batches)


def rank_positions(n_batches: int, world_size: int, rank: int, *, even: bool) -> np.ndarray:
    """The plan positions rank ``rank`` takes: ``i % world_size == rank``.

    With ``even=True`` every rank gets ``n_batches // world_size`` batches (the last
    ``n_batches % world_size`` plan positions are dropped), so ranks stay in step.
    """
    total = (n_batches // world_size) * world_size if even else n_batches
    return np.arange(rank, total, world_size, dtype=np.int64)


def sample_order(rows: int, seed: int, epoch: int) -> np.ndarray:
    """Every row once, in a random order that is a function of ``(seed, epoch)`` (the
    sample-level shuffle of ``shuffle=True``)."""
    return epoch_rng(seed, epoch).permutation(rows)


def block_order(rows: int, block: int, window: int, seed: int, epoch: int) -> np.ndarray:
    """Every row once, shuffled the way ``shuffle_block`` reads them.

    The rows are cut into contiguous blocks of ``block`` rows. The blocks are permuted,
    and the rows of each run of ``window`` consecutive blocks (in that permuted order)
    are shuffled among themselves. A window's rows come from ``window`` places of the
    data, each read contiguously, and no row leaves its window. The whole order is worked
    out with NumPy (a random key per row, one sort by window and key), with no step per
    block.
    """
    rng = epoch_rng(seed, epoch)
    n_blocks = -(-rows // block)
    starts = rng.permutation(n_blocks).astype(np.int64) * block
    lens = np.minimum(starts + block, rows) - starts
    members = np.repeat(starts - np.concatenate([[0], np.cumsum(lens)[:-1]]), lens)
    members += np.arange(rows, dtype=np.int64)  # the blocks' rows, block after block
    windows = np.repeat(np.arange(n_blocks, dtype=np.int64) // window, lens)
    return members[np.lexsort((rng.random(rows), windows))]


def cut(
    order: np.ndarray, batch_size: int, *, drop_last: bool, counts: np.ndarray | None = None
) -> np.ndarray:
    """Batch bounds over ``order``: batch ``k`` is ``order[bounds[k]:bounds[k + 1]]``,
    ``batch_size`` rows each, or with ``counts`` (entities per row) whole rows packed as
    :func:`packed_batches` packs them, in the order given."""
    if counts is None:
        bounds = np.append(np.arange(0, len(order), batch_size, dtype=np.int64), len(order))
        if drop_last and len(bounds) > 1 and bounds[-1] - bounds[-2] < batch_size:
            bounds = bounds[:-1]
        return bounds
    ranges = packed_batches(counts[order], batch_size, drop_last=drop_last)
    return np.array([0, *(b for _, b in ranges)], dtype=np.int64)


class EpochPlan:
    """The batches of one epoch, in the order they are yielded: each batch's rows and
    its plan position (what seeds its within-batch shuffle and names it in errors).

    Either fixed ``ranges`` taken in the order ``ids`` (no shuffle, or the batch-order
    shuffle), or an ``order`` of rows cut at ``bounds`` (sample-level shuffles: the plan
    position of a batch is its place in the epoch).
    """

    def __init__(
        self,
        *,
        ranges: list[tuple[int, int]] | None = None,
        ids: np.ndarray | None = None,
        order: np.ndarray | None = None,
        bounds: np.ndarray | None = None,
    ) -> None:
        self.ranges, self.order, self.bounds = ranges, order, bounds
        if ranges is not None:
            self.ids = np.arange(len(ranges), dtype=np.int64) if ids is None else ids
        else:
            assert order is not None and bounds is not None
            self.ids = np.arange(len(bounds) - 1, dtype=np.int64)

    def __len__(self) -> int:
        return len(self.ids)

    def rows(self, k: int) -> np.ndarray:
        """The rows of batch ``k`` (int64)."""
        if self.ranges is not None:
            start, stop = self.ranges[int(self.ids[k])]
            return np.arange(start, stop, dtype=np.int64)
        assert self.order is not None and self.bounds is not None
        return self.order[int(self.bounds[k]) : int(self.bounds[k + 1])]
