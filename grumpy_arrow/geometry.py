"""Per-row geometry: neighbour lists and distance matrices of the points of each row.

Every row holds points of ``d`` coordinates (``n * var * d * float``: the atoms of a
molecule, the points of a cloud); neighbours are searched inside the row only, and their
indices are positions inside the row, as graph-building code wants them.

Examples
--------
>>> import grumpy_arrow as gr
>>> from grumpy_arrow.geometry import neighbors
>>> points = gr.array([[[0.0, 0.0], [1.0, 0.0], [3.0, 0.0]], [[5.0, 5.0]]])
>>> neighbors(points, k=1).to_list()
[[[1], [0], [1]], [[]]]
"""

from __future__ import annotations

from typing import Any, Literal, overload

import numpy as np
import pyarrow as pa

from grumpy_arrow import layout as lay
from grumpy_arrow.array import GrumpyArray, asarray
from grumpy_arrow.compute import neighbors as nb
from grumpy_arrow.errors import DTypeError, LayoutError

__all__ = ["neighbors", "pairwise_distances"]

Engine = Literal["auto", "numba", "numpy"]


@overload
def neighbors(
    points: Any,
    k: int | None = ...,
    radius: float | None = ...,
    *,
    loop: bool = ...,
    return_distances: Literal[False] = ...,
    engine: Engine = ...,
) -> GrumpyArray: ...


@overload
def neighbors(
    points: Any,
    k: int | None = ...,
    radius: float | None = ...,
    *,
    loop: bool = ...,
    return_distances: Literal[True],
    engine: Engine = ...,
) -> tuple[GrumpyArray, GrumpyArray]: ...


@overload
def neighbors(
    points: Any,
    k: int | None = ...,
    radius: float | None = ...,
    *,
    loop: bool = ...,
    return_distances: bool,
    engine: Engine = ...,
) -> GrumpyArray | tuple[GrumpyArray, GrumpyArray]: ...


def neighbors(
    points: Any,
    k: int | None = None,
    radius: float | None = None,
    *,
    loop: bool = False,
    return_distances: bool = False,
    engine: Engine = "auto",
) -> GrumpyArray | tuple[GrumpyArray, GrumpyArray]:
    """The neighbours of every point among the points of its row.

    Parameters
    ----------
    points : GrumpyArray or array-like
        Rows of points, ``n * var * d * float`` (float32 or float64; integers are
        converted to float64). ``n * var * var * float`` is accepted when every point has
        the same number of coordinates.
    k : int, optional
        Keep the ``k`` nearest neighbours of each point (fewer when the row has fewer
        points).
    radius : float, optional
        Keep the neighbours at a euclidean distance ``<= radius``. With ``k`` too: the
        ``k`` nearest of those. At least one of ``k`` and ``radius`` is needed.
    loop : bool, default False
        Count each point among its own neighbours (at distance 0).
    return_distances : bool, default False
        Also return the distance to each neighbour.
    engine : {"auto", "numba", "numpy"}, default "auto"
        ``"auto"`` runs compiled numba kernels when numba imports (compiled on the first
        call, then cached on disk; the GIL is released while they run), else the NumPy
        engine. The NumPy engine works on whole buffers, in one batch of distance rows
        per distinct row length (a Python loop over the distinct lengths, and over blocks
        of at most about a million distances, never over rows or points). Both engines
        give identical results.

    Returns
    -------
    GrumpyArray or tuple of GrumpyArray
        ``n * var * var * int64``: per row, per point, the positions (inside the row, from
        0) of its neighbours, nearest first, equal distances by position. Null rows stay
        null. With ``return_distances``, also the distances, ``n * var * var * float64``.

    Raises
    ------
    ValueError
        Neither ``k`` nor ``radius``; ``k`` not an integer >= 0; ``radius`` not a number
        >= 0 (or NaN); a coordinate that is NaN or infinite; an unknown ``engine``.
    LayoutError
        ``points`` not rows of points (``n * var * d``), points of different numbers of
        coordinates, a null point or a null coordinate.
    DTypeError
        Coordinates that are not numbers.
    ImportError
        ``engine="numba"`` without numba.

    Notes
    -----
    Distances are computed in float64, so float32 points give the same neighbours as
    their float64 conversion. Neighbours are ordered by the distances returned (compared
    exactly), equal distances by position inside the row. Each row costs ``O(L ** 2)`` for
    ``L`` points (a brute-force search, the fastest for rows of up to a few thousand
    points).

    Examples
    --------
    >>> import grumpy_arrow as gr
    >>> from grumpy_arrow.geometry import neighbors
    >>> points = gr.array([[[0.0, 0.0], [1.0, 0.0], [0.0, 2.0]], None, []])
    >>> neighbors(points, k=1).to_list()
    [[[1], [0], [0]], None, []]
    >>> neighbors(points, radius=1.5, loop=True).to_list()
    [[[0, 1], [1, 0], [2]], None, []]
    >>> index, distance = neighbors(points, k=2, return_distances=True)
    >>> index.type, distance[0].to_list()
    ('3 * var * var * int64', [[1.0, 2.0], [1.0, 2.23606797749979], [2.0, 2.23606797749979]])
    """
    arr = asarray(points)
    bound = _parse_k(k)
    reach = _parse_radius(radius)
    if bound is None and reach is None:
        raise ValueError("neighbors needs k, radius or both; got neither")
    rows, coords = _parse_points(arr, "neighbors")
    found = nb.neighbor_lists(
        coords,
        rows.offsets,
        k=bound,
        radius=reach,
        loop=bool(loop),
        engine=nb.resolve_engine(engine),
    )
    indices = _nested(rows, found.offsets, found.indices)
    if not return_distances:
        return indices
    return indices, _nested(rows, found.offsets, found.distances)


def pairwise_distances(points: Any, *, engine: Engine = "auto") -> GrumpyArray:
    """The euclidean distance matrix of the points of every row.

    Parameters
    ----------
    points : GrumpyArray or array-like
        Rows of points, ``n * var * d * float`` (as for :func:`neighbors`).
    engine : {"auto", "numba", "numpy"}, default "auto"
        As for :func:`neighbors`; the NumPy engine loops in Python over the distinct row
        lengths (and blocks of about a million distances), never over rows.

    Returns
    -------
    GrumpyArray
        ``n * var * var * float64``: row ``r`` holds an ``L x L`` matrix for its ``L``
        points (``[i][j]`` is the distance of points ``i`` and ``j``). Null rows stay
        null.

    Raises
    ------
    LayoutError
        ``points`` not rows of points, points of different numbers of coordinates, a null
        point or a null coordinate.
    ValueError
        A coordinate that is NaN or infinite; an unknown ``engine``.
    DTypeError
        Coordinates that are not numbers.
    ImportError
        ``engine="numba"`` without numba.

    Examples
    --------
    >>> import grumpy_arrow as gr
    >>> from grumpy_arrow.geometry import pairwise_distances
    >>> points = gr.array([[[0.0, 0.0], [3.0, 4.0]], [], [[1.0, 1.0]]])
    >>> pairwise_distances(points).to_list()
    [[[0.0, 5.0], [5.0, 0.0]], [], [[0.0]]]
    """
    arr = asarray(points)
    rows, coords = _parse_points(arr, "pairwise_distances")
    values = nb.distance_matrices(coords, rows.offsets, engine=nb.resolve_engine(engine))
    lengths = np.diff(rows.offsets)
    per_point = np.repeat(lengths, lengths)
    offsets = np.zeros(len(per_point) + 1, dtype=np.int64)
    np.cumsum(per_point, out=offsets[1:])
    return _nested(rows, offsets, values)


# ---------------------------------------------------------------------------------------
# arguments


def _parse_k(k: Any) -> int | None:
    if k is None:
        return None
    if isinstance(k, (bool, np.bool_)) or not isinstance(k, (int, np.integer)) or k < 0:
        raise ValueError(f"k must be an integer >= 0 or None, got {k!r}")
    return int(k)


def _parse_radius(radius: Any) -> float | None:
    if radius is None:
        return None
    is_number = isinstance(radius, (int, float, np.integer, np.floating))
    if isinstance(radius, (bool, np.bool_)) or not is_number or not radius >= 0:
        raise ValueError(f"radius must be a number >= 0 (not NaN) or None, got {radius!r}")
    return float(radius)


def _parse_points(arr: GrumpyArray, where: str) -> tuple[lay.ListNode, np.ndarray]:
    """The rows (outer list node) and the coordinates as float64 ``(points, d)``."""
    node = arr.node
    if not (
        isinstance(node, lay.ListNode)
        and isinstance(node.content, lay.ListNode)
        and isinstance(node.content.content, lay.Leaf)
    ):
        raise LayoutError(
            f"{where}: expected rows of points of d coordinates (n * var * d * float), "
            f"got {arr.type}"
        )
    points, leaf = node.content, node.content.content
    kind = leaf.values.type
    if not (pa.types.is_floating(kind) or pa.types.is_integer(kind)):
        raise DTypeError(f"{where}: expected float coordinates, got {lay.describe(kind)}")
    if points.validity is not None and not points.validity.all():
        at = int(np.flatnonzero(~points.validity)[0])
        raise LayoutError(f"{where}: point {_where(node, at)} is null; expected coordinates")
    dims = _dims(node, points, where)
    if leaf.values.null_count:
        _raise_null_coordinate(node, leaf, dims, where)
    values = np.asarray(leaf.values.to_numpy(zero_copy_only=False), dtype=np.float64)
    coords = values.reshape(len(points), dims)
    if not np.isfinite(values).all():
        at = int(np.flatnonzero(~np.isfinite(values))[0])
        raise ValueError(
            f"{where}: expected finite coordinates, got {values[at]} at coordinate "
            f"{at % dims} of point {_where(node, at // dims)}"
        )
    return node, coords


def _dims(rows: lay.ListNode, points: lay.ListNode, where: str) -> int:
    """The number of coordinates of every point (one for all)."""
    if points.size is not None:
        return points.size
    lengths = np.diff(points.offsets)
    if len(lengths) == 0:
        return 0
    bad = np.flatnonzero(lengths != lengths[0])
    if len(bad):
        at = int(bad[0])
        raise LayoutError(
            f"{where}: every point needs the same number of coordinates: expected "
            f"{int(lengths[0])} (as point {_where(rows, 0)}), got {int(lengths[at])} at point "
            f"{_where(rows, at)}"
        )
    return int(lengths[0])


def _raise_null_coordinate(rows: lay.ListNode, leaf: lay.Leaf, dims: int, where: str) -> None:
    valid = lay.is_valid_mask(leaf.values)
    assert valid is not None
    at = int(np.flatnonzero(~valid)[0])
    raise LayoutError(
        f"{where}: coordinate {at % dims} of point {_where(rows, at // dims)} is null; "
        "expected a number"
    )


def _where(rows: lay.ListNode, point: int) -> str:
    """``"p of row r"`` for the flat index of a point."""
    row = int(np.searchsorted(rows.offsets, point, side="right")) - 1
    return f"{point - int(rows.offsets[row])} of row {row}"


# ---------------------------------------------------------------------------------------
# results


def _nested(rows: lay.ListNode, offsets: np.ndarray, values: np.ndarray) -> GrumpyArray:
    """``n * var * var`` lists: the input's rows (offsets and validity), one list per
    point delimited by ``offsets``, over ``values``."""
    per_point = lay.ListNode(offsets, None, lay.Leaf(pa.array(values)))
    return GrumpyArray._wrap(lay.ListNode(rows.offsets, rows.validity, per_point))
