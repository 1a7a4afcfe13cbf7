"""Whole-buffer checks of leaves read from a store, before Arrow sees them.

Data read from disk is untrusted: offsets that decrease or point past their content, or
union type ids outside {0, 1}, make Arrow read out of bounds (a crash, or silently wrong
values). Every array assembled from a store passes these checks first; each is a few
NumPy passes over the buffer (no Python loop per element), and a violation raises
:class:`~grumpy_arrow.errors.StoreFormatError` naming the store, the leaf and the first
bad position.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from grumpy_arrow.errors import StoreFormatError

__all__ = [
    "check_dtype",
    "check_fixed",
    "check_indices",
    "check_length",
    "check_offsets",
    "check_positions",
    "check_range_bounds",
    "check_type_ids",
]


Locate = Callable[[int], int]
"""Maps a position in the values read to the position in the leaf (lazy reads)."""


def _same(i: int) -> int:
    return i


def _fail(where: str, leaf: str, what: str) -> StoreFormatError:
    return StoreFormatError(f"{where}: leaf {leaf!r} {what}")


def check_dtype(values: np.ndarray, want: Any, where: str, leaf: str) -> None:
    """The leaf's stored dtype is the one its manifest entry and role call for."""
    if values.dtype != np.dtype(want):
        raise _fail(where, leaf, f"holds {values.dtype} values; the manifest says {want}")


def check_length(values: np.ndarray, want: int, where: str, leaf: str) -> None:
    """A leaf read for ``want`` entries (validity of a node, type ids of a union)."""
    if len(values) != want:
        raise _fail(where, leaf, f"has {len(values)} entries; its node has {want} rows")


def check_offsets(offsets: np.ndarray, content: int, where: str, leaf: str) -> None:
    """Whole-leaf offsets: at least one entry, start at 0, never decrease, end at
    ``content`` (the length of what they index)."""
    if len(offsets) == 0:
        raise _fail(where, leaf, "is empty; offsets have one entry more than rows")
    if int(offsets[0]) != 0:
        raise _fail(where, leaf, f"starts at {int(offsets[0])} (position 0); offsets start at 0")
    _check_steps(offsets, where, leaf)
    if int(offsets[-1]) != content:
        past = np.flatnonzero(offsets > content)
        at = int(past[0]) if len(past) else len(offsets) - 1
        raise _fail(
            where,
            leaf,
            f"reaches {int(offsets[at])} at position {at}, but its content has {content} "
            f"entries (the last offset must be {content})",
        )


def check_fixed(
    offsets: np.ndarray, validity: np.ndarray | None, size: int, where: str, leaf: str
) -> None:
    """Offsets of a fixed axis: ``size`` entries for every valid row, none for a null one."""
    lengths = np.diff(offsets)
    want = np.full(len(lengths), size, dtype=np.int64)
    if validity is not None and len(validity) == len(lengths):
        want[~validity] = 0
    bad = np.flatnonzero(lengths != want)
    if len(bad):
        at = int(bad[0])
        raise _fail(
            where,
            leaf,
            f"gives row {at} {int(lengths[at])} entries; the axis is "
            f"fixed at {size} (0 for a null row)",
        )


def check_range_bounds(
    bounds: np.ndarray,
    seams: np.ndarray,
    content: int,
    where: str,
    leaf: str,
    locate: Locate = _same,
) -> None:
    """Offsets gathered for several row ranges (a lazy read): each range's offsets never
    decrease and lie in ``[0, content]``. ``seams`` are the positions where one range
    ends and the next begins (the step across a seam is not a row)."""
    if len(bounds) == 0:
        return
    low = int(bounds.min())
    if low < 0 or int(bounds.max()) > content:
        bad = int(np.flatnonzero((bounds < 0) | (bounds > content))[0])
        raise _fail(
            where,
            leaf,
            f"holds {int(bounds[bad])} at position {locate(bad)}; offsets lie in [0, {content}]",
        )
    _check_steps(bounds, where, leaf, seams, locate)


def check_indices(
    indices: np.ndarray, size: int, where: str, leaf: str, locate: Locate = _same
) -> None:
    """Dictionary indices lie in ``[0, size)`` (the dictionary's entries)."""
    if len(indices) == 0:
        return
    if int(indices.min()) < 0 or int(indices.max()) >= size:
        bad = int(np.flatnonzero((indices < 0) | (indices >= size))[0])
        raise _fail(
            where,
            leaf,
            f"holds {int(indices[bad])} at position {locate(bad)}; the dictionary has "
            f"{size} entries",
        )


def _check_steps(
    offsets: np.ndarray,
    where: str,
    leaf: str,
    seams: np.ndarray | None = None,
    locate: Locate = _same,
) -> None:
    """Offsets never decrease, but across ``seams`` (see :func:`check_range_bounds`)."""
    steps_down = offsets[1:] < offsets[:-1]
    if seams is not None:
        steps_down[seams[seams < len(steps_down)]] = False
    down = np.flatnonzero(steps_down)
    if len(down):
        at = int(down[0]) + 1
        raise _fail(
            where,
            leaf,
            f"decreases at position {locate(at)} ({int(offsets[at - 1])} then "
            f"{int(offsets[at])}); offsets never decrease",
        )


def check_type_ids(type_ids: np.ndarray, where: str, leaf: str, locate: Locate = _same) -> None:
    """Union type ids are 0 (scalar) or 1 (list)."""
    bad = np.flatnonzero((type_ids != 0) & (type_ids != 1))
    if len(bad):
        at = int(bad[0])
        raise _fail(
            where, leaf, f"holds {int(type_ids[at])} at position {locate(at)}; type ids are 0 or 1"
        )


def check_positions(
    type_ids: np.ndarray,
    positions: np.ndarray,
    where: str,
    leaf: str,
    *,
    whole: bool,
    locate: Locate = _same,
    children: tuple[int, int] | None = None,
) -> None:
    """Union value offsets: each child's rows are compact and in row order.

    For a whole leaf (``whole``) the positions are exactly ``0, 1, 2, ...`` per child; for
    rows read lazily (sorted, distinct) they lie in ``[0, rows of the child)`` (given by
    ``children``) and strictly increase per child.
    """
    for tid in (0, 1):
        mine = positions[type_ids == tid]
        checks = []
        if children is not None:
            out = np.flatnonzero((mine < 0) | (mine >= children[tid]))
            checks.append((out, f"child {tid} has {children[tid]} rows"))
        if whole:
            bad = np.flatnonzero(mine != np.arange(len(mine)))
        else:
            bad = np.flatnonzero(np.diff(mine) <= 0) + 1
            if len(mine) and mine[0] < 0:
                bad = np.zeros(1, dtype=np.int64)
        checks.append(
            (bad, f"out of order for child {tid} (a child's rows are stored compact, in row order)")
        )
        for found, why in checks:
            if len(found):
                at = int(np.flatnonzero(type_ids == tid)[int(found[0])])
                raise _fail(
                    where, leaf, f"holds {int(positions[at])} at position {locate(at)}; {why}"
                )
