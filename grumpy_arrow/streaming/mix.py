"""``gr.mix``: several streams interleaved by weight, deterministically.

Each epoch's **schedule** (which source gives each batch) is drawn from ``(seed, epoch)``
and the sources' batch counts alone, before any batch is read, so a mix is reproducible,
resumable from a small ``state_dict`` and the same on every rank.

Examples
--------
>>> import grumpy_arrow as gr
>>> a = gr.stream(gr.array(list(range(8))), batch_size=2)
>>> b = gr.stream(gr.array(list(range(100, 106))), batch_size=2)
>>> m = gr.mix([a, b], weights=[0.5, 0.5], seed=0, stop="all")
>>> [x.to_list() for x in m]
[[100, 101], [0, 1], [102, 103], [104, 105], [2, 3], [4, 5], [6, 7]]
>>> m.schedule().tolist()
[1, 0, 1, 1, 0, 0, 0]
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from grumpy_arrow._typing import MixStop
from grumpy_arrow._validate import check_int
from grumpy_arrow.streaming import plan as pl
from grumpy_arrow.streaming.stream import Stream

__all__ = ["Mix", "mix"]

_MIX = 2  # the third seed word of a mix's schedule (never a plan's or a transform's)
STOPS = ("first", "all")


def mix(
    streams: Sequence[Stream],
    weights: Sequence[float] | None = None,
    *,
    seed: int | None = None,
    stop: MixStop = "first",
    epoch: int = 0,
) -> Mix:
    """Interleave the batches of several streams, each drawn with probability by weight.

    Parameters
    ----------
    streams : list of Stream
        The sources (each keeps its own batch size, shuffle and transforms).
    weights : list of float, optional
        Relative weights (not negative, at least one positive; equal by default).
    seed : int
        The schedule is a function of ``(seed, epoch)``: required.
    stop : {"first", "all"}
        ``"first"``: the epoch ends when a drawn source has no batch left, so the mix
        keeps its proportions (HF ``interleave_datasets``' default). ``"all"``: an
        exhausted source drops out and the others are drawn by their weights until every
        source has given all its batches of the epoch.
    epoch : int
        The starting epoch (``set_epoch`` moves every source to the same epoch).

    Returns
    -------
    Mix

    Raises
    ------
    ValueError
        For no stream, weights that do not match the streams, a negative weight or all
        weights zero, a missing seed, or an unknown ``stop``.
    TypeError
        When a source is not a ``gr.stream``.

    Examples
    --------
    >>> import grumpy_arrow as gr
    >>> a = gr.stream(gr.array([1, 2, 3, 4]), batch_size=1)
    >>> b = gr.stream(gr.array([10, 20]), batch_size=1)
    >>> [x.to_list() for x in gr.mix([a, b], [0.5, 0.5], seed=3)]
    [[10], [1], [2], [20]]
    """
    if not streams:
        raise ValueError("mix needs at least one stream")
    for s in streams:
        if not isinstance(s, Stream):
            raise TypeError(f"mix takes gr.stream objects, got {type(s).__name__}")
    w = [1.0] * len(streams) if weights is None else [float(x) for x in weights]
    if len(w) != len(streams):
        raise ValueError(f"mix got {len(streams)} streams but {len(w)} weights")
    if any(not np.isfinite(x) or x < 0 for x in w) or sum(w) <= 0:
        raise ValueError(f"mix weights must be finite, >= 0 and not all 0, got {w}")
    if seed is None or isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(
            f"mix needs a seed (an int >= 0): its schedule must be reproducible, got {seed!r}"
        )
    if stop not in STOPS:
        raise ValueError(f"stop must be 'first' or 'all', got {stop!r}")
    check_int(epoch, "epoch", minimum=0)
    return Mix(list(streams), np.asarray(w) / sum(w), seed, stop, epoch)


def schedule(
    lengths: Sequence[int], weights: np.ndarray, seed: int, epoch: int, stop: str
) -> np.ndarray:
    """The source of each batch of an epoch (int64).

    Draws are i.i.d. by the weights of the sources still running. A source runs out with
    the draw of its last batch: under ``stop="first"`` the epoch ends there, under
    ``"all"`` the other sources go on, their weights renormalised. Worked out with NumPy in
    at most one round per source (a block of uniform draws, cut where the first source
    runs out), with no step per batch.
    """
    rng = pl.epoch_rng(seed, epoch, _MIX)
    left = np.asarray(lengths, dtype=np.int64).copy()
    live = (weights > 0) & (left > 0)
    if stop == "first" and bool(np.any((weights > 0) & (left == 0))):
        return np.zeros(0, dtype=np.int64)  # a source with weight has nothing: done at once
    out: list[np.ndarray] = []
    while live.any():
        p = np.where(live, weights, 0.0)
        edges = np.cumsum(p / p.sum())
        # Enough draws for every live source to run out; the round ends at the first.
        u = rng.random(int(left[live].sum()))
        draws = np.minimum(np.searchsorted(edges, u, side="right"), len(p) - 1)
        ends = [
            int(where[left[j] - 1]) + 1
            for j in np.flatnonzero(live)
            if len(where := np.flatnonzero(draws == j)) >= left[j]
        ]
        cut = min(ends)  # (some source always runs out within these draws)
        taken = draws[:cut]
        out.append(taken)
        left -= np.bincount(taken, minlength=len(p))
        if stop == "first":
            break
        live &= left > 0
    return np.concatenate(out) if out else np.zeros(0, dtype=np.int64)


class Mix:
    """Batches of several streams in a seeded, weighted order (see :func:`mix`).

    Make one with :func:`grumpy_arrow.mix`. It iterates, indexes (:meth:`batch`), changes
    epoch and saves and restores its state as a stream does.

    Parameters
    ----------
    streams : list of Stream
        The sources.
    weights : numpy.ndarray
        Their weights, normalised to sum to 1.
    seed : int
        The schedule's seed.
    stop : {"first", "all"}
        When the epoch ends (see :func:`mix`).
    epoch : int
        The starting epoch (every source is moved to it).

    Examples
    --------
    >>> import grumpy_arrow as gr
    >>> a = gr.stream(gr.array([1, 2, 3, 4]), batch_size=1)
    >>> b = gr.stream(gr.array([10, 20]), batch_size=1)
    >>> m = gr.mix([a, b], [0.5, 0.5], seed=3)
    >>> m
    <Mix of 2 streams, weights [0.5, 0.5], stop='first', epoch 0>
    >>> len(m), m.schedule().tolist(), m.batch(1).to_list()
    (4, [1, 0, 0, 1], [1])
    """

    def __init__(
        self, streams: list[Stream], weights: np.ndarray, seed: int, stop: str, epoch: int
    ) -> None:
        self._streams, self._weights, self._seed, self._stop = streams, weights, seed, stop
        self._epoch = epoch
        self._draws = 0  # batches of this epoch already handed out
        self._cache: tuple[int, np.ndarray] | None = None
        for s in streams:
            s.set_epoch(epoch)

    def schedule(self) -> np.ndarray:
        """The source (index into the streams) of every batch of this epoch."""
        if self._cache is None or self._cache[0] != self._epoch:
            lengths = [len(s) for s in self._streams]
            order = schedule(lengths, self._weights, self._seed, self._epoch, self._stop)
            self._cache = (self._epoch, order)
        return self._cache[1]

    def __len__(self) -> int:
        """Batches of this epoch."""
        return len(self.schedule())

    def __iter__(self) -> Iterator[Any]:
        """The remaining batches of this epoch (then it starts over at its first batch).

        One step per batch (a source's iterator advanced), not per row."""
        order = self.schedule()
        if self._draws == 0:
            for s in self._streams:
                s.set_epoch(self._epoch)  # each source from its epoch's first batch
        iterators = [iter(s) for s in self._streams]
        try:
            for k in order[self._draws :].tolist():
                batch = next(iterators[k])
                self._draws += 1
                yield batch
        finally:
            for it in iterators:
                it.close()  # type: ignore[attr-defined]
        if self._draws == len(order):
            self._draws = 0

    def batch(self, i: int) -> Any:
        """Batch ``i`` of this epoch (random access through the sources' ``batch``)."""
        order = self.schedule()
        n = len(order)
        if not -n <= i < n:
            raise IndexError(f"batch {i} is out of range for a mix of {n} batches")
        i %= n
        k = int(order[i])
        return self._streams[k].batch(int(np.count_nonzero(order[:i] == k)))

    def set_epoch(self, epoch: int) -> None:
        """Start epoch ``epoch`` (a new schedule, every source at that epoch)."""
        self._epoch, self._draws = int(epoch), 0
        for s in self._streams:
            s.set_epoch(epoch)

    @property
    def epoch(self) -> int:
        """The current epoch."""
        return self._epoch

    def state_dict(self) -> dict[str, Any]:
        """The epoch, the batches handed out, the mix's parameters and each source's state."""
        return {
            "epoch": self._epoch,
            "batches_consumed": self._draws,
            "seed": self._seed,
            "weights": self._weights.tolist(),
            "stop": self._stop,
            "sources": [s.state_dict() for s in self._streams],
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Resume at the batch after ``state`` (the same sources and parameters).

        Raises
        ------
        ValueError
            When the state belongs to a mix of other parameters or sources.
        """
        for key, mine in (("seed", self._seed), ("stop", self._stop)):
            if state.get(key, mine) != mine:
                raise ValueError(
                    f"state_dict was saved with {key}={state[key]!r}; this mix has {key}={mine!r}"
                )
        sources = state.get("sources", [])
        if len(sources) != len(self._streams):
            raise ValueError(
                f"state_dict holds {len(sources)} sources; this mix has {len(self._streams)}"
            )
        weights = state.get("weights")
        if weights is not None and not np.allclose(weights, self._weights):
            raise ValueError(
                f"state_dict was saved with weights={weights}; this mix has "
                f"weights={self._weights.tolist()}"
            )
        for s, saved in zip(self._streams, sources, strict=True):
            s.load_state_dict(saved)
        self._epoch = int(state.get("epoch", 0))
        draws = int(state.get("batches_consumed", 0))
        if not 0 <= draws <= len(self):
            raise ValueError(f"batches_consumed={draws} is outside [0, {len(self)}]")
        self._draws = draws

    def __repr__(self) -> str:
        return (
            f"<Mix of {len(self._streams)} streams, weights "
            f"{[round(float(w), 4) for w in self._weights]}, stop={self._stop!r}, "
            f"epoch {self._epoch}>"
        )
