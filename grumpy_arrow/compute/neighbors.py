"""Per-row neighbour lists and distance matrices over flat point buffers.

The points of every row are one float64 buffer ``coords`` of shape ``(points, d)`` and
int64 ``offsets`` (``rows + 1``, from 0): row ``r`` holds the points
``offsets[r]:offsets[r + 1]``. Nothing here knows about layouts or arrays; the public
functions are in :mod:`grumpy_arrow.geometry`.

Two engines give bit-identical results:

* **numba**: the ``_*_kernel`` functions below, plain Python source compiled on first use
  with ``numba.njit(nogil=True, cache=True)`` (numba is imported then, never at import
  time). One pass over the rows; the GIL is released while they run.
* **numpy**: per distinct row length, batched blocks of distances (one row of
  candidates per query point), a stable ``argsort`` and boolean masks. It loops in Python
  once per distinct row length (and per block of at most ``BLOCK`` distances), never per
  row or per point.

Identical results need one arithmetic and one order. The distance of query ``i`` and
candidate ``j`` is ``sqrt(s)`` with ``s = 0.0; s += (x[i, c] - x[j, c]) ** 2`` over the
coordinates in order, in float64 (no fused multiply-add: numba does not contract without
``fastmath``; IEEE square roots are correctly rounded in both engines); a radius keeps
``distance <= radius``; neighbours are ordered by that distance, then by index. The
order is total, so the engines' different selection algorithms return the same lists.
Distances, not squared distances, are compared: two squared distances one unit in the
last place apart can share a square root (bonds of one length do), and the order must
follow the distances a caller sees.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from grumpy_arrow._optional import require

__all__ = [
    "BLOCK",
    "ENGINES",
    "Neighbors",
    "distance_matrices",
    "has_numba",
    "neighbor_lists",
    "resolve_engine",
]

ENGINES = ("auto", "numba", "numpy")
BLOCK = 1 << 20
"""Most distances the NumPy engine holds in one block (some 50 MB of temporaries)."""
_INSERT = 32
"""Up to this many kept neighbours a point selects by insertion; beyond, a stable sort."""
_MATRIX = 1024
"""Rows of up to this many points get a scratch matrix of distances (8 MB)."""


@dataclass(frozen=True)
class Neighbors:
    """Neighbour lists of every point, in point order.

    ``offsets`` (int64, ``points + 1``) delimit each point's list in ``indices`` (int64,
    positions inside the point's row) and ``distances`` (float64).
    """

    offsets: np.ndarray
    indices: np.ndarray
    distances: np.ndarray


# ---------------------------------------------------------------------------------------
# engines


@functools.cache
def _numba_kernels() -> dict[str, Any] | None:
    """The compiled kernels, or None when numba does not import."""
    try:
        numba = require("numba", what="compiled neighbours", install="'grumpy_arrow[compile]'")
    except ImportError:
        return None
    jit = numba.njit(nogil=True, cache=True)
    return {"neighbors": jit(_neighbors_kernel), "matrices": jit(_matrices_kernel)}


def has_numba() -> bool:
    """Whether numba imports (and so ``engine="auto"`` compiles kernels)."""
    return _numba_kernels() is not None


def resolve_engine(engine: str) -> str:
    """``"numba"`` or ``"numpy"`` for an ``engine`` argument of :data:`ENGINES`.

    Raises
    ------
    ValueError
        For an engine outside :data:`ENGINES`.
    ImportError
        For ``engine="numba"`` when numba does not import.
    """
    if engine not in ENGINES:
        raise ValueError(f"engine must be one of {ENGINES}, got {engine!r}")
    if engine == "numpy":
        return "numpy"
    if has_numba():
        return "numba"
    if engine == "numba":
        raise ImportError("engine='numba' needs numba: pip install numba (or use engine='auto')")
    return "numpy"


def neighbor_lists(
    coords: np.ndarray,
    offsets: np.ndarray,
    *,
    k: int | None,
    radius: float | None,
    loop: bool,
    engine: str,
) -> Neighbors:
    """The neighbours of every point inside its row.

    ``k`` bounds each list (the nearest first), ``radius`` keeps the points within that
    distance; ``loop`` keeps the point itself. ``engine`` is ``"numba"`` or ``"numpy"``
    (see :func:`resolve_engine`).
    """
    coords = np.ascontiguousarray(coords, dtype=np.float64)
    offsets = np.ascontiguousarray(offsets, dtype=np.int64)
    bound = -1 if k is None else int(k)
    if engine == "numba":
        kernels = _numba_kernels()
        assert kernels is not None
        has_radius = radius is not None
        r = math.inf if radius is None else float(radius)
        counts, indices, distances = kernels["neighbors"](
            coords,
            offsets,
            bound,
            r,
            has_radius,
            bool(loop),
            _capacity(offsets, bound, loop, has_radius),
        )
        return Neighbors(_offsets_of(counts), indices, distances)
    return _numpy_neighbors(coords, offsets, bound, radius, loop)


def distance_matrices(coords: np.ndarray, offsets: np.ndarray, *, engine: str) -> np.ndarray:
    """Every row's full distance matrix, row-major, one after the other (float64)."""
    coords = np.ascontiguousarray(coords, dtype=np.float64)
    offsets = np.ascontiguousarray(offsets, dtype=np.int64)
    lengths = np.diff(offsets)
    starts = _offsets_of(lengths * lengths)
    if engine == "numba":
        kernels = _numba_kernels()
        assert kernels is not None
        out: np.ndarray = kernels["matrices"](coords, offsets, starts)
        return out
    return _numpy_matrices(coords, lengths, offsets, starts)


def _offsets_of(counts: np.ndarray) -> np.ndarray:
    out = np.zeros(len(counts) + 1, dtype=np.int64)
    np.cumsum(counts, out=out[1:])
    return out


def _capacity(offsets: np.ndarray, bound: int, loop: bool, radius: bool) -> int:
    """Room for the kernel's output: exact for ``k`` alone; with a radius, at most 16
    neighbours a point to start with (the kernel doubles its buffers when they fill), not
    the ``L ** 2`` a row of ``L`` points could take."""
    lengths = np.diff(offsets)
    per_point = np.maximum(lengths - (0 if loop else 1), 0)
    if bound >= 0:
        per_point = np.minimum(per_point, bound)
    most = int(np.dot(lengths, per_point))
    return min(most, 16 * int(offsets[-1])) if radius else most


# ---------------------------------------------------------------------------------------
# numba kernels (plain Python source, compiled by _numba_kernels)


def _neighbors_kernel(
    coords: np.ndarray,
    offsets: np.ndarray,
    bound: int,
    radius: float,
    has_radius: bool,
    loop: bool,
    capacity: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Counts, indices and distances of every point's neighbours (``bound < 0``: no
    bound). A row of at most ``_MATRIX`` points gets its distances once per pair, in a
    scratch matrix. Candidates come in index order, so the insertion's strict ``>`` and
    the stable merge sort both order by (distance, index)."""
    dims = coords.shape[1]
    counts = np.zeros(coords.shape[0], dtype=np.int64)
    indices = np.empty(max(capacity, 16), dtype=np.int64)
    distances = np.empty(max(capacity, 16), dtype=np.float64)
    longest = 0
    for r in range(len(offsets) - 1):
        longest = max(longest, offsets[r + 1] - offsets[r])
    scratch = np.empty(min(longest, _MATRIX) ** 2, dtype=np.float64)
    cand_d = np.empty(longest, dtype=np.float64)
    cand_j = np.empty(longest, dtype=np.int64)
    keep_d = np.empty(longest, dtype=np.float64)
    keep_j = np.empty(longest, dtype=np.int64)
    pos = 0
    for r in range(len(offsets) - 1):
        start, n = offsets[r], offsets[r + 1] - offsets[r]
        small = n <= _MATRIX
        if small:
            for a in range(n):
                scratch[a * n + a] = 0.0
                for b in range(a + 1, n):
                    s = 0.0
                    for c in range(dims):
                        t = coords[start + a, c] - coords[start + b, c]
                        s += t * t
                    scratch[a * n + b] = math.sqrt(s)
                    scratch[b * n + a] = scratch[a * n + b]
        limit = n if bound < 0 else min(bound, n)
        for a in range(n):
            m = 0
            for b in range(n):
                if b == a and not loop:
                    continue
                if small:
                    d = scratch[a * n + b]
                else:
                    s = 0.0
                    for c in range(dims):
                        t = coords[start + a, c] - coords[start + b, c]
                        s += t * t
                    d = math.sqrt(s)
                if has_radius and not d <= radius:
                    continue
                cand_d[m] = d
                cand_j[m] = b
                m += 1
            take = min(m, limit)
            if take > 0 and (m <= _INSERT or take <= _INSERT):
                filled = 0
                for q in range(m):
                    d = cand_d[q]
                    if filled < take:
                        at = filled
                        filled += 1
                    elif d >= keep_d[take - 1]:
                        continue
                    else:
                        at = take - 1
                    while at > 0 and keep_d[at - 1] > d:
                        keep_d[at] = keep_d[at - 1]
                        keep_j[at] = keep_j[at - 1]
                        at -= 1
                    keep_d[at] = d
                    keep_j[at] = cand_j[q]
            elif take > 0:
                order = np.argsort(cand_d[:m], kind="mergesort")
                for q in range(take):
                    keep_d[q] = cand_d[order[q]]
                    keep_j[q] = cand_j[order[q]]
            if pos + take > len(indices):
                grown = max(2 * len(indices), pos + take)
                new_j = np.empty(grown, dtype=np.int64)
                new_d = np.empty(grown, dtype=np.float64)
                new_j[:pos] = indices[:pos]
                new_d[:pos] = distances[:pos]
                indices, distances = new_j, new_d
            for q in range(take):
                indices[pos + q] = keep_j[q]
                distances[pos + q] = keep_d[q]
            pos += take
            counts[start + a] = take
    return counts, indices[:pos], distances[:pos]


def _matrices_kernel(coords: np.ndarray, offsets: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """Every row's distance matrix, row-major; ``(a - b) ** 2 == (b - a) ** 2`` exactly,
    so each pair is computed once and written twice."""
    dims = coords.shape[1]
    out = np.empty(starts[-1], dtype=np.float64)
    for r in range(len(offsets) - 1):
        start, stop = offsets[r], offsets[r + 1]
        n = stop - start
        base = starts[r]
        for i in range(n):
            out[base + i * n + i] = 0.0
            for j in range(i + 1, n):
                s = 0.0
                for c in range(dims):
                    t = coords[start + i, c] - coords[start + j, c]
                    s += t * t
                d = math.sqrt(s)
                out[base + i * n + j] = d
                out[base + j * n + i] = d
    return out


# ---------------------------------------------------------------------------------------
# NumPy engine


def _step(per_query: int) -> int:
    """Queries per block: at most ``BLOCK`` distances, at least one query."""
    return max(1, BLOCK // max(per_query, 1))


def _distances(coords: np.ndarray, queries: np.ndarray, candidates: np.ndarray) -> np.ndarray:
    """Distances of each query point (``(q,)``) to its candidates (``(q, L)``), squares
    summed over the coordinates in the kernels' order."""
    out = np.zeros(candidates.shape, dtype=np.float64)
    for c in range(coords.shape[1]):
        column = coords[:, c]
        t = column[queries][:, None] - column[candidates]
        out += t * t
    return np.sqrt(out, out=out)


def _bucket(offsets: np.ndarray, lengths: np.ndarray, length: int) -> tuple[np.ndarray, ...]:
    """The rows of ``length`` points, their points, and the points' positions in their
    rows."""
    rows = np.flatnonzero(lengths == length)
    local = np.arange(length, dtype=np.int64)
    queries = (offsets[rows][:, None] + local).reshape(-1)
    return rows, queries, np.tile(local, len(rows))


def _numpy_neighbors(
    coords: np.ndarray, offsets: np.ndarray, bound: int, radius: float | None, loop: bool
) -> Neighbors:
    """Per distinct row length ``L``: the rows' points as queries against their ``L``
    candidates, in blocks of at most ``BLOCK`` distances; then the lists put back in
    point order."""
    lengths = np.diff(offsets)
    parts: list[tuple[np.ndarray, ...]] = []
    for length in np.unique(lengths[lengths > 0]).tolist():
        _, queries, position = _bucket(offsets, lengths, length)
        step = _step(length)
        for first in range(0, len(queries), step):
            q, at = queries[first : first + step], position[first : first + step]
            parts.append((q, *_select(coords, q, at, length, bound, radius, loop)))
    return _in_point_order(len(coords), parts)


def _select(
    coords: np.ndarray,
    queries: np.ndarray,
    position: np.ndarray,
    length: int,
    bound: int,
    radius: float | None,
    loop: bool,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Counts, indices and distances of the neighbours of ``queries`` (point ids at
    ``position`` in rows of ``length`` points): a stable sort by distance orders ties by
    index; masks drop the point itself, the points beyond ``radius`` and past ``k``."""
    candidates = (queries - position)[:, None] + np.arange(length, dtype=np.int64)
    d = _distances(coords, queries, candidates)
    order = np.argsort(d, axis=1, kind="stable")
    sorted_d = np.take_along_axis(d, order, axis=1)
    keep = np.ones(order.shape, dtype=bool)
    if not loop:
        keep &= order != position[:, None]
    if radius is not None:
        keep &= sorted_d <= radius
    if bound >= 0:
        keep &= np.cumsum(keep, axis=1) <= bound
    return keep.sum(axis=1), order[keep], sorted_d[keep]


def _in_point_order(points: int, parts: list[tuple[np.ndarray, ...]]) -> Neighbors:
    """The blocks' lists (in bucket order) gathered back into point order."""
    if not parts:
        no = np.zeros(0, dtype=np.int64)
        return Neighbors(np.zeros(points + 1, dtype=np.int64), no, no.astype(np.float64))
    pids, counts, indices, distances = (np.concatenate(x) for x in zip(*parts, strict=True))
    counts = counts.astype(np.int64, copy=False)
    found_at = _offsets_of(counts)[:-1]
    per_point = np.zeros(points, dtype=np.int64)
    per_point[pids] = counts
    start = np.zeros(points, dtype=np.int64)
    start[pids] = found_at
    offsets = _offsets_of(per_point)
    gather = np.repeat(start - offsets[:-1], per_point) + np.arange(offsets[-1])
    return Neighbors(offsets, indices[gather], distances[gather])


def _numpy_matrices(
    coords: np.ndarray, lengths: np.ndarray, offsets: np.ndarray, starts: np.ndarray
) -> np.ndarray:
    """Per distinct row length ``L``: blocks of rows' ``L * L`` matrices, scattered to
    their rows' places."""
    out = np.empty(starts[-1], dtype=np.float64)
    for length in np.unique(lengths[lengths > 0]).tolist():
        rows, queries, position = _bucket(offsets, lengths, length)
        step = _step(length) // length * length or length  # whole rows a block
        for first in range(0, len(queries), step):
            q, at = queries[first : first + step], position[first : first + step]
            candidates = (q - at)[:, None] + np.arange(length, dtype=np.int64)
            d = _distances(coords, q, candidates)
            block = rows[first // length : (first + step) // length]
            where = (starts[block][:, None] + np.arange(length * length)).reshape(-1)
            out[where] = d.reshape(-1)
    return out
