"""Per-row neighbour lists and distance matrices (grumpy_arrow.geometry): exact values on
hand-made rows, both engines equal bit for bit, and agreement with brute-force NumPy and
scipy's cKDTree row by row."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pyarrow as pa
import pytest

import grumpy_arrow as gr
from grumpy_arrow.compute import neighbors as nb
from grumpy_arrow.errors import DTypeError, LayoutError
from grumpy_arrow.geometry import neighbors, pairwise_distances

ENGINES = [
    pytest.param(
        "numba",
        marks=pytest.mark.skipif(not nb.has_numba(), reason="numba is not installed"),
        id="numba",
    ),
    pytest.param("numpy", id="numpy"),
]

# four points on a line and one above; from point 1, points 2 and 3 tie at distance 2
LINE = [[[0.0, 0.0], [1.0, 0.0], [-1.0, 0.0], [3.0, 0.0], [0.0, 2.0]]]


def _rows(seed: int, n: int, dims: int, dtype: str, *, most: int = 60) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    lengths = rng.integers(0, most + 1, n)
    lengths[:3] = [0, 1, 2]
    return [rng.uniform(-3, 3, (k, dims)).astype(dtype) for k in lengths]


def _points(rows: list[np.ndarray]) -> gr.GrumpyArray:
    return gr.array(rows)


# ---------------------------------------------------------------------------------------
# exact values


@pytest.mark.parametrize("engine", ENGINES)
def test_k_nearest_are_sorted_by_distance_then_position(engine: str) -> None:
    got = neighbors(gr.array(LINE), k=3, engine=engine)
    assert got.type == "1 * var * var * int64"
    assert got.to_list() == [[[1, 2, 4], [0, 2, 3], [0, 1, 4], [1, 0, 4], [0, 1, 2]]]


@pytest.mark.parametrize("engine", ENGINES)
def test_radius_keeps_every_point_within_it_inclusive(engine: str) -> None:
    got = neighbors(gr.array(LINE), radius=2.0, engine=engine)
    assert got.to_list() == [[[1, 2, 4], [0, 2, 3], [0, 1], [1], [0]]]


@pytest.mark.parametrize("engine", ENGINES)
def test_k_and_radius_keep_the_k_nearest_within_the_radius(engine: str) -> None:
    got = neighbors(gr.array(LINE), k=1, radius=1.5, engine=engine)
    assert got.to_list() == [[[1], [0], [0], [], []]]


@pytest.mark.parametrize("engine", ENGINES)
def test_loop_counts_the_point_itself_first(engine: str) -> None:
    got = neighbors(gr.array(LINE), k=2, loop=True, engine=engine)
    assert got.to_list() == [[[0, 1], [1, 0], [2, 0], [3, 1], [4, 0]]]


@pytest.mark.parametrize("engine", ENGINES)
def test_distances_come_with_the_indices(engine: str) -> None:
    index, distance = neighbors(gr.array(LINE), k=2, return_distances=True, engine=engine)
    assert index.to_list() == [[[1, 2], [0, 2], [0, 1], [1, 0], [0, 1]]]
    assert distance.type == "1 * var * var * float64"
    five = float(np.sqrt(5.0))
    assert distance.to_list() == [[[1.0, 1.0], [1.0, 2.0], [1.0, 2.0], [2.0, 3.0], [2.0, five]]]


@pytest.mark.parametrize("engine", ENGINES)
def test_duplicates_tie_by_position(engine: str) -> None:
    points = gr.array([[[0.0, 0.0], [1.0, 0.0], [0.0, 0.0], [0.0, 0.0]]])
    got = neighbors(points, k=3, engine=engine)
    assert got.to_list() == [[[2, 3, 1], [0, 2, 3], [0, 3, 1], [0, 2, 1]]]
    got = neighbors(points, k=2, loop=True, engine=engine)
    assert got.to_list() == [[[0, 2], [1, 0], [0, 2], [0, 2]]]


@pytest.mark.parametrize("engine", ENGINES)
def test_radius_zero_keeps_duplicates_only(engine: str) -> None:
    points = gr.array([[[0.0, 0.0], [1.0, 0.0], [0.0, 0.0]], [[2.0, 2.0]]])
    assert neighbors(points, radius=0, engine=engine).to_list() == [[[2], [], [0]], [[]]]
    assert neighbors(points, radius=0.0, loop=True, engine=engine).to_list() == [
        [[0, 2], [1], [0, 2]],
        [[0]],
    ]


@pytest.mark.parametrize("engine", ENGINES)
def test_k_larger_than_the_row_gives_every_other_point(engine: str) -> None:
    points = gr.array([[[0.0], [5.0], [2.0]], [[1.0]]])
    assert neighbors(points, k=10, engine=engine).to_list() == [[[2, 1], [2, 0], [0, 1]], [[]]]
    assert neighbors(points, k=0, engine=engine).to_list() == [[[], [], []], [[]]]


@pytest.mark.parametrize("engine", ENGINES)
def test_infinite_radius_gives_every_point_by_distance(engine: str) -> None:
    rows = _rows(8, 20, 3, "float64", most=70)  # more than the 16 a point first reserved
    points = _points(rows)
    everything = neighbors(points, radius=np.inf, engine=engine)
    assert everything.to_arrow().equals(neighbors(points, k=70, engine=engine).to_arrow())
    assert [len(p) for p in everything.to_list()[5]] == [len(rows[5]) - 1] * len(rows[5])


@pytest.mark.parametrize("engine", ENGINES)
def test_empty_single_and_null_rows_keep_their_shape(engine: str) -> None:
    points = gr.array([[], [[1.0, 2.0, 3.0]], None, [[0.0, 0.0, 0.0], [0.0, 0.0, 1.0]]])
    got = neighbors(points, k=2, engine=engine)
    assert got.to_list() == [[], [[]], None, [[1], [0]]]
    assert got.null_count == 1
    assert neighbors(points, k=2, loop=True, engine=engine).to_list() == [
        [],
        [[0]],
        None,
        [[0, 1], [1, 0]],
    ]
    dist = pairwise_distances(points, engine=engine)
    assert dist.to_list() == [[], [[0.0]], None, [[0.0, 1.0], [1.0, 0.0]]]


@pytest.mark.parametrize("engine", ENGINES)
def test_pairwise_distances_are_the_full_matrix_per_row(engine: str) -> None:
    points = gr.array([[[0.0, 0.0], [3.0, 4.0], [0.0, 1.0]], [[1.0, 1.0]]])
    got = pairwise_distances(points, engine=engine)
    assert got.type == "2 * var * var * float64"
    two = float(np.sqrt(18.0))
    assert got.to_list() == [
        [[0.0, 5.0, 1.0], [5.0, 0.0, two], [1.0, two, 0.0]],
        [[0.0]],
    ]


@pytest.mark.parametrize("engine", ENGINES)
def test_no_rows_and_no_points(engine: str) -> None:
    none = gr.from_arrow(pa.array([], pa.large_list(pa.list_(pa.float64(), 3))))
    assert neighbors(none, k=1, engine=engine).to_list() == []
    assert pairwise_distances(none, engine=engine).to_list() == []
    empty = gr.from_arrow(pa.array([[], []], pa.large_list(pa.list_(pa.float64(), 3))))
    assert neighbors(empty, radius=1.0, engine=engine).to_list() == [[], []]


# ---------------------------------------------------------------------------------------
# accepted inputs


@pytest.mark.parametrize(
    "points",
    [
        pytest.param([np.array([[0, 0, 0], [0, 0, 2], [0, 0, 1]], np.float32)], id="var*3*f32"),
        pytest.param([[[0.0, 0.0, 0.0], [0.0, 0.0, 2.0], [0.0, 0.0, 1.0]]], id="var*var*f64"),
        pytest.param(np.array([[[0, 0, 0], [0, 0, 2], [0, 0, 1]]], np.float64), id="1*3*3"),
        pytest.param([[[0, 0, 0], [0, 0, 2], [0, 0, 1]]], id="var*var*int64"),
    ],
)
def test_point_layouts_give_the_same_neighbours(points: object) -> None:
    assert neighbors(points, k=1).to_list() == [[[2], [2], [0]]]


def test_fixed_outer_rows_give_variable_lists() -> None:
    points = gr.array(np.zeros((2, 3, 2)))
    assert points.type == "2 * 3 * 2 * float64"
    assert neighbors(points, k=1).type == "2 * var * var * int64"


def test_float32_points_are_measured_in_float64() -> None:
    points = gr.array([np.array([[0.1, 0.0], [0.0, 0.2]], np.float32)])
    _, distance = neighbors(points, k=1, return_distances=True)
    a, b = np.float64(np.float32(0.1)), np.float64(np.float32(0.2))
    assert distance.to_list() == [[[np.sqrt(a * a + b * b)]] * 2]


# ---------------------------------------------------------------------------------------
# errors


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        pytest.param({}, "neighbors needs k, radius or both; got neither", id="neither"),
        pytest.param({"k": -1}, "k must be an integer >= 0 or None, got -1", id="k<0"),
        pytest.param({"k": 2.0}, "k must be an integer >= 0 or None, got 2.0", id="k-float"),
        pytest.param({"k": True}, "k must be an integer >= 0 or None, got True", id="k-bool"),
        pytest.param(
            {"radius": float("nan")},
            "radius must be a number >= 0 (not NaN) or None, got nan",
            id="radius-nan",
        ),
        pytest.param(
            {"radius": -0.5},
            "radius must be a number >= 0 (not NaN) or None, got -0.5",
            id="radius<0",
        ),
        pytest.param(
            {"radius": "1"},
            "radius must be a number >= 0 (not NaN) or None, got '1'",
            id="radius-str",
        ),
        pytest.param(
            {"k": 1, "engine": "cuda"},
            "engine must be one of ('auto', 'numba', 'numpy'), got 'cuda'",
            id="engine",
        ),
    ],
)
def test_bad_arguments_say_what_was_expected(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError) as err:
        neighbors(gr.array(LINE), **kwargs)
    assert str(err.value) == message


@pytest.mark.parametrize(
    ("points", "error", "message"),
    [
        pytest.param(
            [[1.0, 2.0]],
            LayoutError,
            "neighbors: expected rows of points of d coordinates (n * var * d * float), "
            "got 1 * var * float64",
            id="not-points",
        ),
        pytest.param(
            [[[1.0, 2.0]], [[0.0, 1.0], [3.0, 4.0, 5.0]]],
            LayoutError,
            "neighbors: every point needs the same number of coordinates: expected 2 (as "
            "point 0 of row 0), got 3 at point 1 of row 1",
            id="ragged-points",
        ),
        pytest.param(
            [[[1.0, 2.0]], [[0.0, 1.0], None]],
            LayoutError,
            "neighbors: point 1 of row 1 is null; expected coordinates",
            id="null-point",
        ),
        pytest.param(
            [[], [[1.0, 2.0], [0.0, None]]],
            LayoutError,
            "neighbors: coordinate 1 of point 1 of row 1 is null; expected a number",
            id="null-coordinate",
        ),
        pytest.param(
            [[[1.0, 2.0]], [[np.inf, 1.0]]],
            ValueError,
            "neighbors: expected finite coordinates, got inf at coordinate 0 of point 0 of row 1",
            id="infinite",
        ),
        pytest.param(
            [[["a", "b"]]],
            DTypeError,
            "neighbors: expected float coordinates, got string",
            id="strings",
        ),
    ],
)
def test_bad_points_say_what_and_where(points: list, error: type, message: str) -> None:
    with pytest.raises(error) as err:
        neighbors(points, k=1)
    assert str(err.value) == message


def test_null_point_of_a_fixed_axis_is_refused() -> None:
    typ = pa.large_list(pa.list_(pa.float32(), 3))
    points = gr.from_arrow(pa.array([[[0.0, 0.0, 0.0], None]], typ))
    with pytest.raises(LayoutError, match="point 1 of row 0 is null"):
        pairwise_distances(points)


def test_engine_numba_without_numba_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(nb, "has_numba", lambda: False)
    assert nb.resolve_engine("auto") == "numpy"
    with pytest.raises(ImportError, match="engine='numba' needs numba: pip install numba"):
        neighbors(gr.array(LINE), k=1, engine="numba")


def test_import_does_not_import_numba_or_scipy() -> None:
    code = "import sys, grumpy_arrow; print('numba' in sys.modules, 'scipy' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]


# ---------------------------------------------------------------------------------------
# random rows: engines, brute force, cKDTree


SEARCHES = [
    pytest.param({"k": 8}, id="k8"),
    pytest.param({"k": 40, "loop": True}, id="k40-loop"),
    pytest.param({"radius": 1.5}, id="r1.5"),
    pytest.param({"radius": 4.0, "loop": True}, id="r4-loop"),
    pytest.param({"k": 5, "radius": 1.0}, id="k5-r1"),
]


@pytest.mark.skipif(not nb.has_numba(), reason="numba is not installed")
@pytest.mark.parametrize("dims", [2, 3])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("search", SEARCHES)
def test_engines_agree_bit_for_bit(dims: int, dtype: str, search: dict) -> None:
    rows = _rows(dims * 7 + len(dtype), 300, dims, dtype)
    rows[5] = np.repeat(rows[5][:3], 4, axis=0) if len(rows[5]) >= 3 else rows[5]  # ties
    points = _points(rows)
    a_index, a_dist = neighbors(points, **search, return_distances=True, engine="numba")
    b_index, b_dist = neighbors(points, **search, return_distances=True, engine="numpy")
    assert a_index.to_arrow().equals(b_index.to_arrow())
    assert a_dist.to_arrow().equals(b_dist.to_arrow())


@pytest.mark.skipif(not nb.has_numba(), reason="numba is not installed")
def test_engines_agree_on_rows_with_many_ties_and_large_rows() -> None:
    rng = np.random.default_rng(3)
    rows = [rng.integers(0, 3, (k, 2)).astype(np.float64) for k in (0, 1, 70, 1100, 33)]
    points = _points(rows)
    for search in ({"k": 50}, {"radius": 1.0}, {"k": 3, "radius": 2.0, "loop": True}):
        a = neighbors(points, **search, engine="numba")
        b = neighbors(points, **search, engine="numpy")
        assert a.to_arrow().equals(b.to_arrow()), search
    a = pairwise_distances(points, engine="numba")
    b = pairwise_distances(points, engine="numpy")
    assert a.to_arrow().equals(b.to_arrow())


def test_numpy_engine_blocks_may_cut_rows(monkeypatch: pytest.MonkeyPatch) -> None:
    rows = _rows(5, 40, 3, "float64")
    points = _points(rows)
    whole = neighbors(points, k=4, radius=2.0, engine="numpy")
    matrices = pairwise_distances(points, engine="numpy")
    monkeypatch.setattr(nb, "BLOCK", 7 * 13)  # blocks of a few points, starting inside rows
    assert neighbors(points, k=4, radius=2.0, engine="numpy").to_arrow().equals(whole.to_arrow())
    assert pairwise_distances(points, engine="numpy").to_arrow().equals(matrices.to_arrow())


def _brute(row: np.ndarray, k: int | None, radius: float | None, loop: bool) -> list:
    """Neighbours of one row by the definition, with NumPy."""
    x = row.astype(np.float64)
    d = np.sqrt(((x[:, None, :] - x[None, :, :]) ** 2).sum(-1))
    out = []
    for i in range(len(x)):
        order = [j for j in np.argsort(d[i], kind="stable") if loop or j != i]
        if radius is not None:
            order = [j for j in order if d[i, j] <= radius]
        out.append(order[:k] if k is not None else order)
    return out


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("search", SEARCHES)
def test_neighbours_match_brute_force_numpy(engine: str, search: dict) -> None:
    rows = _rows(11, 120, 3, "float64")
    index, dist = neighbors(_points(rows), **search, return_distances=True, engine=engine)
    k, radius, loop = search.get("k"), search.get("radius"), search.get("loop", False)
    assert index.to_list() == [_brute(r, k, radius, loop) for r in rows]
    for row, got in zip(rows, dist.to_list(), strict=True):
        want = np.sqrt(((row[:, None, :] - row[None, :, :]) ** 2).sum(-1))
        for i, (js, ds) in enumerate(zip(_brute(row, k, radius, loop), got, strict=True)):
            np.testing.assert_allclose(ds, want[i, js], rtol=1e-12)


@pytest.mark.parametrize("engine", ENGINES)
def test_pairwise_distances_match_scipy_cdist(engine: str) -> None:
    spatial = pytest.importorskip("scipy.spatial")
    rows = _rows(12, 150, 3, "float32")
    got = pairwise_distances(_points(rows), engine=engine).to_list()
    for row, matrix in zip(rows, got, strict=True):
        want = spatial.distance.cdist(row.astype(np.float64), row.astype(np.float64))
        np.testing.assert_allclose(np.array(matrix).reshape(want.shape), want, rtol=1e-12)


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("dims", [2, 3])
def test_k_nearest_match_ckdtree(engine: str, dims: int) -> None:
    spatial = pytest.importorskip("scipy.spatial")
    rows = _rows(20 + dims, 200, dims, "float64")
    index, dist = neighbors(_points(rows), k=6, return_distances=True, engine=engine)
    for row, got_i, got_d in zip(rows, index.to_list(), dist.to_list(), strict=True):
        if len(row) < 2:
            assert got_i == [[]] * len(row)
            continue
        k = min(7, len(row))  # the point itself comes first
        d, i = spatial.cKDTree(row).query(row, k=k)
        assert got_i == [list(x[1:]) for x in i.reshape(len(row), k)]
        np.testing.assert_allclose(got_d, d.reshape(len(row), k)[:, 1:], rtol=1e-12)


@pytest.mark.parametrize("engine", ENGINES)
def test_radius_neighbours_match_ckdtree(engine: str) -> None:
    spatial = pytest.importorskip("scipy.spatial")
    rows = _rows(30, 200, 3, "float64")
    got = neighbors(_points(rows), radius=1.2, engine=engine).to_list()
    for row, lists in zip(rows, got, strict=True):
        if len(row) == 0:
            assert lists == []
            continue
        balls = spatial.cKDTree(row).query_ball_point(row, r=1.2)
        assert [sorted(x) for x in lists] == [sorted(set(b) - {i}) for i, b in enumerate(balls)]
