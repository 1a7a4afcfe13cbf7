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

__all__ = ["epoch_rng", "packed_batches", "rank_positions", "row_batches", "shuffled_order"]


def row_batches(rows: int, batch_size: int, *, drop_last: bool) -> list[tuple[int, int]]:
    """Consecutive ``[start, stop)`` row ranges of ``batch_size`` rows."""
    starts = range(0, rows, batch_size)
    out = [(s, min(s + batch_size, rows)) for s in starts]
    if drop_last and out and out[-1][1] - out[-1][0] < batch_size:
        out.pop()
    return out


def packed_batches(counts: Sequence[int] | np.ndarray, batch_size: int, *, drop_last: bool
                   ) -> list[tuple[int, int]]:  # fmt: skip
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
