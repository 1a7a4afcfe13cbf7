"""Per-row geometry benchmark (issue 16 item 3): ``neighbors`` and ``pairwise_distances``
against a per-row ``scipy.spatial.cKDTree`` loop and brute-force NumPy per row.

Workloads (fixed seed, float64 coordinates in Å):

* **molecules**: 2,000 molecules of 10..60 atoms (uniform), each a random walk of steps of
  1.0..1.6 Å (bond lengths; a chain-like molecule), about 70,000 atoms;
* **clouds**: 5 point clouds of 2,000 points uniform in a 40 Å cube, to show where a
  brute-force search per row stops paying (it is ``O(L ** 2)`` a row; a tree is
  ``O(L log L)``). Its ops take seconds in NumPy: one timed call each, after the warm-up.

Searches: the 8 nearest neighbours (``k=8``), every neighbour within 4 Å (``radius=4``),
both (``k=8, radius=4``), and the full distance matrix of every row.

Measured in the same run, on the same coordinates:

* ``grumpy (numba)``: ``neighbors(points, ..., engine="numba")`` (compiled kernels; the
  first call compiles or loads the cache, and is not timed);
* ``grumpy (numpy)``: ``engine="numpy"``, the vectorised fallback without numba;
* ``cKDTree loop``: per row, ``cKDTree(x)`` then ``tree.query(x, k + 1)`` (sorted),
  ``tree.query_ball_point(x, r)`` (unsorted lists, self included: less work than ours),
  ``tree.query(x, k + 1, distance_upper_bound=r)`` for both; ``cdist(x, x)`` per row for
  matrices;
* ``NumPy loop``: per row, the ``(L, L)`` distance matrix, a stable ``argsort`` and masks
  (whole-row NumPy, no loop per point).

The peers get the rows already split into a list of ``(L, 3)`` NumPy arrays and return
NumPy arrays per row (cKDTree's radius search: a list per point); grumpy takes the ragged
array and returns ragged arrays (``n * var * var``), so building its result is timed and
the peers' split is not. Every result is checked against the cKDTree peer (and the NumPy
peer) before anything is timed. Timings are the best single call (ms) after a warm-up, in
blocks of back-to-back calls per library (at least ``--repeat``) in two passes; ratios are
peer ms / grumpy ms (> 1: grumpy faster). A last table gives the numba kernels' cold
compile and cached load, each in a fresh Python process (not in ``--smoke`` mode). Without
numba or scipy their columns read n/a (the suite still runs).

Usage::

    python benchmarks/bench_geometry.py                    # full run, about 2 minutes
    python benchmarks/bench_geometry.py --quick            # 500 molecules, 2 smaller clouds
    python benchmarks/bench_geometry.py --smoke            # tiny sizes, 1 call (CI)
    python benchmarks/bench_geometry.py --markdown out.md  # also write Markdown tables
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib
import os
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from _common import Report, Table, best_ms, host_info, optional_version, version_info

import grumpy_arrow as gr
from grumpy_arrow.geometry import neighbors, pairwise_distances

LIBS = ("grumpy (numba)", "grumpy (numpy)", "cKDTree loop", "NumPy loop")
K, RADIUS = 8, 4.0


@dataclass(frozen=True)
class Sizes:
    """How big the workloads are and how often each op is timed."""

    molecules: int
    atoms: tuple[int, int]  # per molecule, inclusive
    clouds: int
    cloud_points: int
    repeat: int  # calls per block at least
    budget_s: float  # more calls for fast ops, up to this many seconds per library and op
    passes: int


FULL = Sizes(2_000, (10, 60), 5, 2_000, repeat=5, budget_s=1.0, passes=2)
QUICK = Sizes(500, (10, 60), 2, 1_000, repeat=3, budget_s=0.3, passes=2)
SMOKE = Sizes(30, (0, 12), 2, 50, repeat=1, budget_s=0.0, passes=1)


# ---------------------------------------------------------------------------------------
# workloads


@dataclass(frozen=True)
class Workload:
    """One ragged array of points and the same rows as a list of NumPy arrays."""

    name: str
    points: gr.GrumpyArray
    rows: list[np.ndarray]

    @property
    def atoms(self) -> int:
        return sum(len(r) for r in self.rows)


def _workload(name: str, lengths: np.ndarray, coords: np.ndarray) -> Workload:
    offsets = np.zeros(len(lengths) + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    flat = gr.from_offsets(gr.from_numpy(coords), offsets)
    return Workload(name, flat, np.split(coords, offsets[1:-1]))


def molecules(sizes: Sizes, seed: int) -> Workload:
    """Chain-like molecules: random walks of 1.0..1.6 Å steps (NumPy only, no Python
    rows)."""
    rng = np.random.default_rng(seed)
    lengths = rng.integers(sizes.atoms[0], sizes.atoms[1] + 1, sizes.molecules)
    steps = rng.standard_normal((int(lengths.sum()), 3))
    bonds = rng.uniform(1.0, 1.6, (len(steps), 1))
    steps *= bonds / np.linalg.norm(steps, axis=1, keepdims=True)
    walk = np.cumsum(steps, axis=0)
    starts = np.repeat(np.cumsum(lengths) - lengths, lengths)
    coords = walk - walk[starts]  # every molecule starts at the origin
    name = f"{sizes.molecules:,} molecules of {sizes.atoms[0]}..{sizes.atoms[1]} atoms"
    return _workload(name, lengths, coords)


def clouds(sizes: Sizes, seed: int) -> Workload:
    rng = np.random.default_rng(seed + 1)
    lengths = np.full(sizes.clouds, sizes.cloud_points)
    coords = rng.uniform(0.0, 40.0, (int(lengths.sum()), 3))
    return _workload(f"{sizes.clouds} clouds of {sizes.cloud_points:,} points", lengths, coords)


# ---------------------------------------------------------------------------------------
# peers


def ckdtree_search(rows: list[np.ndarray], k: int | None, r: float | None) -> list[Any]:
    from scipy.spatial import cKDTree

    out: list[Any] = []
    for x in rows:
        if len(x) == 0:
            out.append(np.zeros((0, 0), dtype=np.int64))
            continue
        tree = cKDTree(x)
        if k is None:
            out.append(tree.query_ball_point(x, r))
            continue
        kk = min(k + 1, len(x))
        bound = np.inf if r is None else r
        _, idx = tree.query(x, k=kk, distance_upper_bound=bound)
        out.append(idx.reshape(len(x), kk)[:, 1:])
    return out


def numpy_search(rows: list[np.ndarray], k: int | None, r: float | None) -> list[Any]:
    """Per row: (flat neighbour positions, per-point counts), whole-row NumPy."""
    out = []
    for x in rows:
        d = np.sqrt(((x[:, None, :] - x[None, :, :]) ** 2).sum(-1))
        np.fill_diagonal(d, np.inf)
        order = np.argsort(d, axis=1, kind="stable")
        keep = np.isfinite(np.take_along_axis(d, order, axis=1))
        if r is not None:
            keep &= np.take_along_axis(d, order, axis=1) <= r
        if k is not None:
            keep &= np.cumsum(keep, axis=1) <= k
        out.append((order[keep], keep.sum(axis=1)))
    return out


def ckdtree_matrices(rows: list[np.ndarray]) -> list[np.ndarray]:
    from scipy.spatial.distance import cdist

    return [cdist(x, x) for x in rows]


def numpy_matrices(rows: list[np.ndarray]) -> list[np.ndarray]:
    return [np.sqrt(((x[:, None, :] - x[None, :, :]) ** 2).sum(-1)) for x in rows]


# ---------------------------------------------------------------------------------------
# checks


def _flat(result: gr.GrumpyArray) -> tuple[np.ndarray, np.ndarray]:
    """Neighbour positions and per-point counts of an ``n * var * var`` result."""
    per_point = result.to_arrow().values
    return np.asarray(per_point.values), np.diff(np.asarray(per_point.offsets))


def check_search(
    w: Workload, ours: gr.GrumpyArray, k: int | None, r: float | None, libs: tuple[str, ...]
) -> None:
    """Ours against both peers: the same lists (as sets for cKDTree's unsorted balls)."""
    idx, counts = _flat(ours)
    theirs = numpy_search(w.rows, k, r)
    if not (
        np.array_equal(idx, np.concatenate([t[0] for t in theirs] + [idx[:0]]))
        and np.array_equal(counts, np.concatenate([t[1] for t in theirs] + [counts[:0]]))
    ):
        raise AssertionError(f"{w.name}, k={k}, radius={r}: differs from the NumPy peer")
    if "cKDTree loop" not in libs:
        return
    tree = ckdtree_search(w.rows, k, r)
    starts = np.concatenate([[0], np.cumsum(counts)])
    point = 0
    for x, found in zip(w.rows, tree, strict=True):
        for i in range(len(x)):
            mine = idx[starts[point] : starts[point + 1]]
            want = np.asarray(found[i])
            want = np.sort(want[(want != i) & (want < len(x))]) if k is None else want
            want = want[want < len(x)]
            if not np.array_equal(np.sort(mine) if k is None else mine, want):
                raise AssertionError(f"{w.name}, k={k}, radius={r}: differs from cKDTree")
            point += 1


def check_matrices(w: Workload, ours: gr.GrumpyArray, libs: tuple[str, ...]) -> None:
    got = np.asarray(ours.to_arrow().values.values)
    peer = ckdtree_matrices if "cKDTree loop" in libs else numpy_matrices
    want = np.concatenate([m.ravel() for m in peer(w.rows)] + [got[:0]])
    if not np.allclose(got, want, rtol=1e-12, atol=1e-12):
        raise AssertionError(f"{w.name}: distance matrices differ from the peer's")


# ---------------------------------------------------------------------------------------
# timing


Op = Callable[[], Any]


def optional(name: str) -> Any:
    """The module ``name``, or None when it is not installed."""
    try:
        return importlib.import_module(name)
    except ImportError:
        return None


def search_ops(w: Workload, k: int | None, r: float | None) -> dict[str, Op]:
    return {
        "grumpy (numba)": lambda: neighbors(w.points, k, r, engine="numba"),
        "grumpy (numpy)": lambda: neighbors(w.points, k, r, engine="numpy"),
        "cKDTree loop": lambda: ckdtree_search(w.rows, k, r),
        "NumPy loop": lambda: numpy_search(w.rows, k, r),
    }


def matrix_ops(w: Workload) -> dict[str, Op]:
    return {
        "grumpy (numba)": lambda: pairwise_distances(w.points, engine="numba"),
        "grumpy (numpy)": lambda: pairwise_distances(w.points, engine="numpy"),
        "cKDTree loop": lambda: ckdtree_matrices(w.rows),
        "NumPy loop": lambda: numpy_matrices(w.rows),
    }


SEARCHES: tuple[tuple[str, int | None, float | None], ...] = (
    (f"neighbors k={K}", K, None),
    (f"neighbors radius={RADIUS:g}", None, RADIUS),
    (f"neighbors k={K}, radius={RADIUS:g}", K, RADIUS),
)


def _ms(x: float) -> str:
    return f"{x:.3f}" if x < 1 else f"{x:.2f}" if x < 10 else f"{x:.1f}"


HEADER = [
    "op",
    *(f"{lib} ms" for lib in LIBS),
    "cKDTree / numba",
    "NumPy loop / numba",
    "cKDTree / grumpy numpy",
    "NumPy loop / grumpy numpy",
]


def _ratio(ms: dict[str, float], peer: str, mine: str) -> str:
    return f"{ms[peer] / ms[mine]:.2f}x" if peer in ms and mine in ms else "n/a"


def time_workload(w: Workload, sizes: Sizes, matrices: bool, libs: tuple[str, ...]) -> Table:
    """Every op of ``libs`` (the installed ones), checked, then timed."""
    engines = ["numba", "numpy"] if "grumpy (numba)" in libs else ["numpy"]
    rows = []
    ops: list[tuple[str, dict[str, Op]]] = []
    for label, k, r in SEARCHES:
        for engine in engines:
            check_search(w, neighbors(w.points, k, r, engine=engine), k, r, libs)
        ops.append((label, search_ops(w, k, r)))
    if matrices:
        for engine in engines:
            check_matrices(w, pairwise_distances(w.points, engine=engine), libs)
        ops.append(("pairwise_distances", matrix_ops(w)))
    for label, fns in ops:
        fns = {lib: fn for lib, fn in fns.items() if lib in libs}
        ms = best_ms(fns, sizes.repeat, sizes.budget_s, sizes.passes)
        rows.append(
            [
                label,
                *(_ms(ms[lib]) if lib in ms else "n/a" for lib in LIBS),
                *(_ratio(ms, p, "grumpy (numba)") for p in ("cKDTree loop", "NumPy loop")),
                *(_ratio(ms, p, "grumpy (numpy)") for p in ("cKDTree loop", "NumPy loop")),
            ]
        )
    mean = len(_flat(neighbors(w.points, radius=RADIUS))[0]) / max(w.atoms, 1)
    return Table(
        f"{w.name} ({w.atoms:,} points; {mean:.1f} neighbours within {RADIUS:g} Å a point)",
        HEADER,
        rows,
        notes=["", "ratio = peer ms / grumpy ms (> 1: grumpy faster)."],
    )


COMPILE = """
import time
import numpy as np
start = time.perf_counter()
from grumpy_arrow.compute import neighbors as nb
nb.has_numba()
imported = time.perf_counter()
x, offsets = np.zeros((3, 3)), np.array([0, 3])
nb.neighbor_lists(x, offsets, k=1, radius=None, loop=False, engine="numba")
nb.distance_matrices(x, offsets, engine="numba")
print(imported - start, time.perf_counter() - imported)
"""


def compile_times() -> Table:
    """numba's first call in fresh processes: cold (empty cache), then cached."""
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench_geometry_numba_") as cache:
        env = {**os.environ, "NUMBA_CACHE_DIR": cache}
        for label in ("cold compile (empty cache)", "cached load"):
            out = subprocess.run(
                [sys.executable, "-c", COMPILE],
                env=env,
                capture_output=True,
                text=True,
                check=True,
            )
            imported, first = (float(x) for x in out.stdout.split())
            rows.append([label, _ms(imported * 1e3), _ms(first * 1e3)])
    return Table(
        "numba kernels: first call in a fresh process (both kernels)",
        ["first call", "import ms (grumpy_arrow, numba)", "compile or load ms"],
        rows,
    )


# ---------------------------------------------------------------------------------------
# main


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--smoke", action="store_true", help="tiny sizes, 1 call (for CI)")
    mode.add_argument("--quick", action="store_true", help="500 molecules, 2 smaller clouds")
    parser.add_argument("--molecules", type=int, metavar="N", help="molecules (default 2000)")
    parser.add_argument("--repeat", type=int, help="calls per block at least (default 5)")
    parser.add_argument("--markdown", type=Path, metavar="PATH", help="also write Markdown")
    parser.add_argument("--seed", type=int, default=20260616, help="seed of the data")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    sizes = SMOKE if args.smoke else QUICK if args.quick else FULL
    if args.molecules is not None:
        sizes = dataclasses.replace(sizes, molecules=args.molecules)
    if args.repeat is not None:
        sizes = dataclasses.replace(sizes, repeat=args.repeat)
    numba, scipy = optional("numba"), optional("scipy")
    info = [*host_info(), *version_info()]
    info += [("numba", optional_version(numba)), ("scipy", optional_version(scipy))]
    libs = tuple(
        lib
        for lib in LIBS
        if not (lib == "grumpy (numba)" and numba is None)
        and not (lib == "cKDTree loop" and scipy is None)
    )
    report = Report(info)
    for key, value in info:
        print(f"{key:>12}: {value}")
    report.add(time_workload(molecules(sizes, args.seed), sizes, True, libs))
    once = dataclasses.replace(sizes, repeat=1, budget_s=0.0, passes=1)
    report.add(time_workload(clouds(sizes, args.seed), once, False, libs))
    if numba is not None and not args.smoke:  # a cold compile takes seconds: not for CI
        report.add(compile_times())
    if args.smoke:
        print("\nsmoke run: the sizes are tiny, so timings measure call overhead")
    if args.markdown is not None:
        report.write_markdown(args.markdown)
        print(f"Markdown written to {args.markdown}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
