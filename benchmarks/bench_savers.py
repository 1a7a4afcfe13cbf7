"""Savers benchmark (docs/performance.md): append throughput of the savers vs raw writes.

Workloads (fixed seed), written as ``--batches`` batches (200 by default) of 1000 rows:

* **rectangular**: float32 rows of 64 values (256 bytes a row, 51.2 MB in all);
* **ragged**: float32 rows of 32..96 values (uniform, mean 64; about 51 MB of values plus
  the int64 offsets).

MB/s always counts the bytes of the data handed over (values, plus offsets for ragged),
whatever a format writes to disk. Every method is measured in the same run, on files under
one temporary directory (``--dir``, /tmp by default) that is deleted at the end. Writes go
into the OS page cache: each method's files are fsynced and dropped from the page cache
after its run, untimed, so write-back never lands in the next measurement.

1. **Append throughput**: the savers (``ZarrSaver``, ``HDF5Saver``, ``NumpySaver``,
   ``GrumpySaver``, approach ``"append"``; the first call creates the dataset) against
   raw writes of the same batches: h5py with the file kept open (a resizable dataset,
   ``maxshape=(None, 64)``; per batch ``resize`` + slice write), h5py reopening the file
   per batch (the fair peer of ``HDF5Saver``, which opens the file on every call), zarr v3
   (``zarr.create_array(shape=(0, 64))`` then ``arr.append(batch)``; also reopening the
   array per batch) and ``np.save`` of the concatenated data once (the limit). Ragged
   batches go to raw h5py / zarr as a values array and an offsets array, both appended.
   Every method uses the same chunks (1 MiB: 4096 rows of 64 float32, or 262 144 values)
   and no compression. Savers get ragged batches as ``GrumpyArray``\\ s (values + offsets,
   no conversion work); one more line feeds ``NumpySaver`` lists of NumPy rows.
   Ratios = method MB/s / peer MB/s (> 1: the method is faster).
2. **Growth**: every call is timed; last / first = median of the last 5 appends over the
   median of the first 5 appends to an existing dataset (calls 2..6: call 1 creates it),
   per call the best over the repeats. Bar: ``NumpySaver`` <= 1.5x.
3. **Update**: 1000 distinct random rows (random order) of the rectangular dataset
   rewritten with approach ``"update"`` vs raw h5py (file reopened, rows sorted as h5py
   needs), raw zarr ``oindex`` and a ``np.load(mmap_mode="r+")`` write.

Every method's result is read back and checked (untimed). Totals are the best of a few
rounds; methods run round-robin within a round.

Usage::

    python benchmarks/bench_savers.py                    # full run, about a minute
    python benchmarks/bench_savers.py --quick            # 50 batches, 2 rounds, ~20 s
    python benchmarks/bench_savers.py --smoke            # tiny sizes, seconds (CI)
    python benchmarks/bench_savers.py --markdown out.md  # also write Markdown tables
    python benchmarks/bench_savers.py --profile          # + cProfile of each saver's appends
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import io
import pstats
import shutil
import statistics
import sys
import time
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import _common
import h5py
import numpy as np
import zarr
from _common import (
    CAN_DROP,
    Table,
    drop_page_cache,
    filesystem,
    host_info,
    version_info,
)

import grumpy_arrow as gr
from grumpy_arrow.savers import GrumpySaver, HDF5Saver, NumpySaver, Saver, ZarrSaver

MB = 1e6
DTYPE = np.dtype(np.float32)
# ZarrSaver's default chunk of the int64 offsets array; the raw peers use it too (h5py's
# chunks=True would guess 1 element from the initial shape (1,): one chunk per row)
OFFSETS_CHUNK = (1 << 20) // 8
BAR = 1.5  # NumpySaver append: last / first

# ---------------------------------------------------------------------------------------
# workload


@dataclass(frozen=True)
class Sizes:
    """How big the workload is and how often things are timed."""

    batches: int
    batch_rows: int
    width: int  # values per rectangular row; mean values per ragged row
    chunk_rows: int  # rows per chunk (rectangular); chunk_rows * width values (ragged)
    rounds: int  # append rounds (best total, per-call best)
    window: int  # appends in the first / last median of the growth ratio
    update_rows: int
    update_repeat: int


FULL = Sizes(
    batches=200,
    batch_rows=1000,
    width=64,
    chunk_rows=4096,
    rounds=3,
    window=5,
    update_rows=1000,
    update_repeat=3,
)
# a quarter of the batches, 2 rounds (run_all.py --quick): real ratios, noisier
QUICK = Sizes(
    batches=50,
    batch_rows=1000,
    width=64,
    chunk_rows=4096,
    rounds=2,
    window=5,
    update_rows=1000,
    update_repeat=2,
)
SMOKE = Sizes(
    batches=6,
    batch_rows=20,
    width=4,
    chunk_rows=16,
    rounds=1,
    window=2,
    update_rows=5,
    update_repeat=1,
)


@dataclass(frozen=True)
class Ragged:
    """One ragged batch: values, offsets from 0, the same as a GrumpyArray and as rows."""

    values: np.ndarray
    offsets: np.ndarray
    array: Any
    rows: list[np.ndarray]


@dataclass(frozen=True)
class Workload:
    rect: list[np.ndarray]
    ragged: list[Ragged]

    @property
    def rect_bytes(self) -> int:
        return sum(b.nbytes for b in self.rect)

    @property
    def ragged_bytes(self) -> int:
        # the offsets handed over: one per row (plus the leading 0 once)
        return sum(b.values.nbytes + b.offsets[1:].nbytes for b in self.ragged) + 8

    def rect_all(self) -> np.ndarray:
        return np.concatenate(self.rect)

    def ragged_all(self) -> tuple[np.ndarray, np.ndarray]:
        values = np.concatenate([b.values for b in self.ragged])
        lengths = np.concatenate([np.diff(b.offsets) for b in self.ragged])
        offsets = np.zeros(len(lengths) + 1, dtype=np.int64)
        np.cumsum(lengths, out=offsets[1:])
        return values, offsets


def make_workload(sizes: Sizes, seed: int) -> Workload:
    rng = np.random.default_rng(seed)
    n, w = sizes.batch_rows, sizes.width
    rect = [rng.standard_normal((n, w), dtype=np.float32) for _ in range(sizes.batches)]
    ragged = []
    for _ in range(sizes.batches):
        lengths = rng.integers(w // 2, w * 3 // 2 + 1, size=n)
        offsets = np.zeros(n + 1, dtype=np.int64)
        np.cumsum(lengths, out=offsets[1:])
        values = rng.standard_normal(int(offsets[-1]), dtype=np.float32)
        rows = [values[offsets[i] : offsets[i + 1]] for i in range(n)]
        ragged.append(Ragged(values, offsets, gr.from_offsets(values, offsets), rows))
    return Workload(rect, ragged)


# ---------------------------------------------------------------------------------------
# methods

Loaded = tuple[np.ndarray, np.ndarray | None]


@dataclass
class Run:
    """One run of a method: the time of every call, and the total (with any setup)."""

    calls: list[float]
    total: float


@dataclass
class Method:
    """A way to write all the batches into ``path``; ``load`` reads the result back."""

    name: str
    kind: str  # "saver", "peer" or "limit"
    write: Callable[[Path], Run]
    load: Callable[[Path], Loaded]
    note: str = ""


@contextmanager
def no_gc() -> Iterator[None]:
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def timed_calls(batches: list[Any], call: Callable[[Any], None]) -> Run:
    """Time ``call(batch)`` for every batch; the total is the sum."""
    calls = []
    with no_gc():
        for b in batches:
            start = time.perf_counter()
            call(b)
            calls.append(time.perf_counter() - start)
    return Run(calls, sum(calls))


def as_loaded(obj: Any, ragged: bool) -> Loaded:
    """A saver's ``load()`` as (values, offsets) or (rows array, None)."""
    if not ragged:
        return np.asarray(obj if isinstance(obj, np.ndarray) else obj.to_numpy()), None
    arrow = obj.to_arrow()
    offsets = arrow.offsets.to_numpy().astype(np.int64)
    return arrow.flatten().to_numpy(), offsets - offsets[0]


def saver_method(
    name: str,
    make: Callable[[Path], Saver],
    batches: list[Any],
    options: dict[str, Any],
    ragged: bool,
) -> Method:
    def write(path: Path) -> Run:
        saver = make(path)
        return timed_calls(batches, lambda b: saver.save(b, **options))

    return Method(name, "saver", write, lambda path: as_loaded(make(path).load(), ragged))


def savers(w: Workload, sizes: Sizes, ragged: bool) -> list[Method]:
    """The four savers, chunked like the peers (no compression)."""
    chunk_values = sizes.chunk_rows * sizes.width
    chunks = (chunk_values,) if ragged else (sizes.chunk_rows, sizes.width)
    batches: list[Any] = [b.array for b in w.ragged] if ragged else w.rect
    zarr_saver = saver_method(
        "ZarrSaver", lambda p: ZarrSaver(p / "data.zarr"), batches, {"chunks": chunks}, ragged
    )
    hdf5_saver = saver_method(
        "HDF5Saver", lambda p: HDF5Saver(p / "data.h5"), batches, {"chunks": chunks}, ragged
    )
    numpy_saver = saver_method(
        "NumpySaver", lambda p: NumpySaver(p / "data.npy"), batches, {}, ragged
    )
    grumpy_saver = saver_method(
        "GrumpySaver",
        lambda p: GrumpySaver(p / "data.gr"),
        batches,
        {"chunks": chunk_values},
        ragged,
    )
    grumpy_saver.note = f"chunks={chunk_values} (elements per chunk)"
    out = [zarr_saver, hdf5_saver, numpy_saver, grumpy_saver]
    if ragged:
        rows = [b.rows for b in w.ragged]
        extra = saver_method(
            "NumpySaver (lists of rows)", lambda p: NumpySaver(p / "data.npy"), rows, {}, True
        )
        extra.note = "each batch a list of NumPy rows"
        out.insert(3, extra)
    return out


# -- raw h5py ---------------------------------------------------------------------------


def h5_rect(sizes: Sizes, w: Workload, reopen: bool) -> Method:
    chunks = (sizes.chunk_rows, sizes.width)

    def create(fh: Any) -> Any:
        return fh.create_dataset(
            "data", shape=(0, sizes.width), maxshape=(None, sizes.width), chunks=chunks, dtype=DTYPE
        )

    def put(ds: Any, batch: np.ndarray) -> None:
        n = ds.shape[0]
        ds.resize(n + len(batch), axis=0)
        ds[n:] = batch

    def write(path: Path) -> Run:
        name = path / "data.h5"
        if reopen:
            with h5py.File(name, "w") as fh:
                create(fh)

            def call(batch: np.ndarray) -> None:
                with h5py.File(name, "a") as fh:
                    put(fh["data"], batch)

            return timed_calls(w.rect, call)
        start = time.perf_counter()
        with h5py.File(name, "w") as fh:
            ds = create(fh)
            run = timed_calls(w.rect, lambda b: put(ds, b))
        return Run(run.calls, time.perf_counter() - start)

    def load(path: Path) -> Loaded:
        with h5py.File(path / "data.h5", "r") as fh:
            return fh["data"][...], None

    which = "file reopened per batch" if reopen else "file open throughout"
    return Method(f"raw h5py ({'reopen' if reopen else 'open'})", "peer", write, load, which)


def h5_ragged(sizes: Sizes, w: Workload, reopen: bool) -> Method:
    chunk_values = sizes.chunk_rows * sizes.width

    def create(fh: Any) -> None:
        fh.create_dataset(
            "values", shape=(0,), maxshape=(None,), chunks=(chunk_values,), dtype=DTYPE
        )
        fh.create_dataset(
            "offsets", data=np.zeros(1, np.int64), maxshape=(None,), chunks=(OFFSETS_CHUNK,)
        )

    def put(fh: Any, batch: Ragged) -> None:
        values, offsets = fh["values"], fh["offsets"]
        base, rows = values.shape[0], offsets.shape[0]
        values.resize(base + len(batch.values), axis=0)
        values[base:] = batch.values
        offsets.resize(rows + len(batch.offsets) - 1, axis=0)
        offsets[rows:] = batch.offsets[1:] + base

    def write(path: Path) -> Run:
        name = path / "data.h5"
        if reopen:
            with h5py.File(name, "w") as fh:
                create(fh)

            def call(batch: Ragged) -> None:
                with h5py.File(name, "a") as fh:
                    put(fh, batch)

            return timed_calls(w.ragged, call)
        start = time.perf_counter()
        with h5py.File(name, "w") as fh:
            create(fh)
            run = timed_calls(w.ragged, lambda b: put(fh, b))
        return Run(run.calls, time.perf_counter() - start)

    def load(path: Path) -> Loaded:
        with h5py.File(path / "data.h5", "r") as fh:
            return fh["values"][...], fh["offsets"][...]

    which = "file reopened per batch" if reopen else "file open throughout"
    return Method(f"raw h5py ({'reopen' if reopen else 'open'})", "peer", write, load, which)


# -- raw zarr ---------------------------------------------------------------------------


def new_zarr(path: Path, shape: tuple[int, ...], chunks: tuple[int, ...], dtype: Any) -> Any:
    return zarr.create_array(
        store=str(path), shape=shape, chunks=chunks, dtype=dtype, fill_value=0, compressors=None
    )


def zarr_rect(sizes: Sizes, w: Workload, reopen: bool) -> Method:
    chunks = (sizes.chunk_rows, sizes.width)

    def write(path: Path) -> Run:
        name = path / "data.zarr"
        if reopen:
            new_zarr(name, (0, sizes.width), chunks, DTYPE)
            return timed_calls(w.rect, lambda b: zarr.open_array(str(name), mode="a").append(b))
        start = time.perf_counter()
        arr = new_zarr(name, (0, sizes.width), chunks, DTYPE)
        run = timed_calls(w.rect, arr.append)
        return Run(run.calls, time.perf_counter() - start)

    def load(path: Path) -> Loaded:
        return zarr.open_array(str(path / "data.zarr"), mode="r")[...], None

    which = "array reopened per batch" if reopen else "array open throughout"
    return Method(f"raw zarr ({'reopen' if reopen else 'open'})", "peer", write, load, which)


def zarr_ragged(sizes: Sizes, w: Workload, reopen: bool) -> Method:
    chunk_values = sizes.chunk_rows * sizes.width

    def create(path: Path) -> tuple[Any, Any]:
        values = new_zarr(path / "values", (0,), (chunk_values,), DTYPE)
        offsets = new_zarr(path / "offsets", (1,), (OFFSETS_CHUNK,), np.int64)
        return values, offsets

    def put(values: Any, offsets: Any, batch: Ragged) -> None:
        base = values.shape[0]
        values.append(batch.values)
        offsets.append(batch.offsets[1:] + base)

    def write(path: Path) -> Run:
        name = path / "data.zarr"
        if reopen:
            create(name)

            def call(batch: Ragged) -> None:
                values = zarr.open_array(str(name / "values"), mode="a")
                offsets = zarr.open_array(str(name / "offsets"), mode="a")
                put(values, offsets, batch)

            return timed_calls(w.ragged, call)
        start = time.perf_counter()
        values, offsets = create(name)
        run = timed_calls(w.ragged, lambda b: put(values, offsets, b))
        return Run(run.calls, time.perf_counter() - start)

    def load(path: Path) -> Loaded:
        name = path / "data.zarr"
        return (
            zarr.open_array(str(name / "values"), mode="r")[...],
            zarr.open_array(str(name / "offsets"), mode="r")[...],
        )

    which = "arrays reopened per batch" if reopen else "arrays open throughout"
    return Method(f"raw zarr ({'reopen' if reopen else 'open'})", "peer", write, load, which)


# -- np.save once -------------------------------------------------------------------------


def npy_once(w: Workload, ragged: bool) -> Method:
    # concatenated up front, untimed: the limit is the write of the same bytes, once
    arrays: list[np.ndarray] = list(w.ragged_all()) if ragged else [w.rect_all()]

    def write(path: Path) -> Run:
        with no_gc():
            start = time.perf_counter()
            for i, a in enumerate(arrays):
                np.save(path / f"part{i}.npy", a)
            total = time.perf_counter() - start
        return Run([], total)

    def load(path: Path) -> Loaded:
        parts = [np.load(path / f"part{i}.npy") for i in range(len(arrays))]
        return parts[0], parts[1] if ragged else None

    return Method("np.save once (limit)", "limit", write, load, "concatenated data, one call")


def methods(w: Workload, sizes: Sizes, ragged: bool) -> list[Method]:
    h5 = h5_ragged if ragged else h5_rect
    zr = zarr_ragged if ragged else zarr_rect
    return [
        *savers(w, sizes, ragged),
        h5(sizes, w, False),
        h5(sizes, w, True),
        zr(sizes, w, False),
        zr(sizes, w, True),
        npy_once(w, ragged),
    ]


# ---------------------------------------------------------------------------------------
# measuring


@dataclass
class Result:
    method: Method
    runs: list[Run] = field(default_factory=list)
    error: str | None = None
    path: Path | None = None  # the files of the last run (kept for the update section)

    @property
    def total(self) -> float | None:
        return min(r.total for r in self.runs) if self.runs and not self.error else None

    @property
    def calls(self) -> list[float]:
        """Per call, the best over the runs."""
        return [min(c) for c in zip(*(r.calls for r in self.runs), strict=True)]

    def growth(self, window: int) -> tuple[float, float] | None:
        """(median of the first ``window`` appends after the creating call, of the last)."""
        calls = self.calls
        if self.error or len(calls) < 2:
            return None
        k = max(1, min(window, (len(calls) - 1) // 2))
        return statistics.median(calls[1 : 1 + k]), statistics.median(calls[-k:])


def check_equal(got: Loaded, want: Loaded, what: str) -> None:
    for g, e, part in ((got[0], want[0], "values"), (got[1], want[1], "offsets")):
        if e is None:
            continue
        if g is None or g.shape != e.shape or not np.array_equal(g, e):
            shape = None if g is None else g.shape
            raise AssertionError(f"{what}: {part} read back differ (shape {shape} vs {e.shape})")


def measure(
    ms: list[Method], want: Loaded, root: Path, rounds: int, log: Callable[[str], None]
) -> list[Result]:
    results = [Result(m) for m in ms]
    for r in range(rounds):
        for k, res in enumerate(results):
            if res.error:
                continue
            path = root / f"{k}-{r}"
            path.mkdir()
            try:
                res.runs.append(res.method.write(path))
                drop_page_cache(path)  # untimed: write-back done before the next method
                if r == 0:
                    check_equal(res.method.load(path), want, res.method.name)
            except Exception as err:
                res.error = f"{type(err).__name__}: {err}"
                log(f"{res.method.name}: FAILED\n{traceback.format_exc()}")
            if res.path is not None:
                shutil.rmtree(res.path, ignore_errors=True)
            res.path = path
        log(f"round {r + 1} of {rounds}: done")
    return results


# -- update -------------------------------------------------------------------------------


@dataclass
class UpdateResult:
    name: str
    seconds: float | None
    note: str = ""
    error: str | None = None


def update_methods(
    results: list[Result], rows: np.ndarray, new: np.ndarray
) -> list[tuple[Result, str, Callable[[Path], None], str]]:
    """(appended files, name, update function, note) for every method that can update."""

    def h5(path: Path) -> None:
        order = np.argsort(rows, kind="stable")
        with h5py.File(path / "data.h5", "a") as fh:
            fh["data"][rows[order]] = new[order]

    def zr(path: Path) -> None:
        order = np.argsort(rows, kind="stable")
        zarr.open_array(str(path / "data.zarr"), mode="a").oindex[rows[order]] = new[order]

    def npy(path: Path) -> None:
        target = np.load(path / "part0.npy", mmap_mode="r+")
        target[rows] = new
        target.flush()

    def saver(make: Callable[[Path], Saver]) -> Callable[[Path], None]:
        return lambda path: make(path).save(new, indices=rows)

    table: dict[str, tuple[str, Callable[[Path], None], str]] = {
        "ZarrSaver": (
            "ZarrSaver",
            saver(lambda p: ZarrSaver(p / "data.zarr", approach="update")),
            "approach 'update'",
        ),
        "HDF5Saver": (
            "HDF5Saver",
            saver(lambda p: HDF5Saver(p / "data.h5", approach="update")),
            "approach 'update'",
        ),
        "NumpySaver": (
            "NumpySaver",
            saver(lambda p: NumpySaver(p / "data.npy", approach="update")),
            "approach 'update'",
        ),
        "GrumpySaver": (
            "GrumpySaver",
            saver(lambda p: GrumpySaver(p / "data.gr", approach="update")),
            "approach 'update' (rewrites the store)",
        ),
        "raw h5py (reopen)": ("raw h5py (reopen)", h5, "file opened, rows sorted, fancy write"),
        "raw zarr (reopen)": ("raw zarr (reopen)", zr, "array opened, rows sorted, oindex"),
        "np.save once (limit)": ("np.load mmap r+", npy, "rows[...] = new, flush"),
    }
    return [
        (res, *table[res.method.name])
        for res in results
        if res.method.name in table and res.error is None and res.path is not None
    ]


def measure_updates(
    results: list[Result], sizes: Sizes, want: np.ndarray, seed: int, log: Callable[[str], None]
) -> list[UpdateResult]:
    rng = np.random.default_rng(seed + 1)
    rows = rng.choice(len(want), size=min(sizes.update_rows, len(want)), replace=False)
    new = rng.standard_normal((len(rows), want.shape[1]), dtype=np.float32)
    expected = want.copy()
    expected[rows] = new
    out = []
    for res, name, fn, note in update_methods(results, rows, new):
        assert res.path is not None
        best = float("inf")
        try:
            for _ in range(sizes.update_repeat):
                with no_gc():
                    start = time.perf_counter()
                    fn(res.path)
                    best = min(best, time.perf_counter() - start)
                drop_page_cache(res.path)
            check_equal(res.method.load(res.path), (expected, None), f"{name} update")
            out.append(UpdateResult(name, best, note))
        except Exception as err:
            out.append(UpdateResult(name, None, note, f"{type(err).__name__}: {err}"))
            log(f"update {name}: FAILED\n{traceback.format_exc()}")
    log("update: done")
    return out


# ---------------------------------------------------------------------------------------
# profile


def profile_savers(ms: list[Method], root: Path, top: int = 25) -> list[str]:
    """cProfile of each saver's appends (rectangular), by cumulative time."""
    texts = []
    for k, m in enumerate(x for x in ms if x.kind == "saver"):
        path = root / f"profile-{k}"
        path.mkdir()
        prof = cProfile.Profile()
        try:
            prof.enable()
            m.write(path)
        except Exception as err:
            texts.append(f"cProfile {m.name}: failed ({type(err).__name__}: {err})")
            continue
        finally:
            prof.disable()
            shutil.rmtree(path, ignore_errors=True)
        buf = io.StringIO()
        stats = pstats.Stats(prof, stream=buf)
        stats.strip_dirs().sort_stats("cumulative").print_stats(top)
        body = [line for line in buf.getvalue().splitlines() if line.strip()]
        texts.append(
            "\n".join([f"cProfile {m.name} (rectangular appends, by cumulative time)", *body])
        )
    return texts


# ---------------------------------------------------------------------------------------
# tables


def _ms(s: float | None) -> str:
    if s is None:
        return "n/a"
    x = s * 1e3
    return f"{x:.3f}" if x < 1 else f"{x:.2f}" if x < 100 else f"{x:,.0f}"


def _mbs(nbytes: int, s: float | None) -> str:
    return "n/a" if s is None or s <= 0 else f"{nbytes / MB / s:,.0f}"


def _x(r: float | None) -> str:
    return "n/a" if r is None else f"{r:.2f}x" if r < 100 else f"{r:,.0f}x"


def throughput_table(results: list[Result], title: str, nbytes: int, window: int) -> Table:
    by = {r.method.name: r for r in results}

    def ratio(mine: Result, peer: str) -> str:
        other = by.get(peer)
        if other is None or mine.total is None or other.total is None:
            return "n/a"
        return _x(other.total / mine.total)

    out = Table(
        title,
        [
            "method",
            "total ms",
            "MB/s",
            "vs h5py open",
            "vs h5py reopen",
            "vs zarr open",
            "vs zarr reopen",
            "1st call ms",
            "median call ms",
            "last / first",
            "note",
        ],
        left=(0, 10),
    )
    for r in results:
        calls = r.calls if r.total is not None else []
        g = r.growth(window)
        note = r.method.note if r.error is None else f"FAILED: {r.error}"[:120]
        out.rows.append(
            [
                r.method.name,
                _ms(r.total),
                _mbs(nbytes, r.total),
                ratio(r, "raw h5py (open)"),
                ratio(r, "raw h5py (reopen)"),
                ratio(r, "raw zarr (open)"),
                ratio(r, "raw zarr (reopen)"),
                _ms(calls[0]) if calls else "n/a",
                _ms(statistics.median(calls)) if calls else "n/a",
                "n/a" if g is None else _x(g[1] / g[0]),
                note,
            ]
        )
    out.notes = [
        f"MB/s: {nbytes / MB:.1f} MB handed over / total time (best of the rounds); total",
        "includes creating the dataset (the savers' 1st call, the peers' create/open/close).",
        "vs X = X's total / the method's total (> 1: the method is faster than X).",
        "The savers open the file / group on every save() call (and take a lock file): the",
        "fair peers are the 'reopen' lines; the 'open' lines keep one handle throughout.",
        f"last / first: median of the last {window} calls / median of calls 2..{window + 1}.",
    ]
    return out


def growth_table(rect: list[Result], ragged: list[Result], window: int) -> Table:
    out = Table(
        f"Append cost growth: median of the last {window} appends / median of the first "
        f"{window} (calls 2..{window + 1}; call 1 creates the dataset)",
        [
            "method",
            "rect first ms",
            "rect last ms",
            "rect last/first",
            "ragged first ms",
            "ragged last ms",
            "ragged last/first",
        ],
    )
    other = {r.method.name: r for r in ragged}
    for r in rect:
        if r.method.kind == "limit":
            continue
        cells = [r.method.name]
        for res in (r, other.get(r.method.name)):
            g = None if res is None else res.growth(window)
            cells += ["n/a"] * 3 if g is None else [_ms(g[0]), _ms(g[1]), _x(g[1] / g[0])]
        out.rows.append(cells)
    extra = [r for r in ragged if r.method.name not in {x.method.name for x in rect}]
    for r in extra:
        if r.method.kind == "limit":
            continue
        g = r.growth(window)
        out.rows.append(
            [r.method.name, "n/a", "n/a", "n/a"]
            + (["n/a"] * 3 if g is None else [_ms(g[0]), _ms(g[1]), _x(g[1] / g[0])])
        )
    out.notes = ["Per call: the best over the rounds. Bar (NumpySaver): <= 1.5x."]
    return out


def update_table(items: list[UpdateResult], rows: int) -> Table:
    base = next((u for u in items if u.name == "raw h5py (reopen)"), None)
    out = Table(
        f"Update: {rows} random rows of the rectangular dataset (best of a few calls)",
        ["method", "ms", "rows/s", "vs raw h5py (reopen)", "note"],
        left=(0, 4),
    )
    for u in items:
        ratio = None
        if base is not None and base.seconds and u.seconds:
            ratio = base.seconds / u.seconds
        out.rows.append(
            [
                u.name,
                _ms(u.seconds),
                "n/a" if not u.seconds else f"{rows / u.seconds:,.0f}",
                _x(ratio),
                u.note if u.error is None else f"FAILED: {u.error}"[:120],
            ]
        )
    out.notes = [
        "vs raw h5py (reopen) = its ms / the method's ms (> 1: faster). GrumpySaver's update",
        "writes a whole new store and swaps it in (documented: it may change row lengths).",
    ]
    return out


@dataclass
class Bar:
    name: str
    measured: str
    ok: bool | None

    @property
    def verdict(self) -> str:
        return "n/a" if self.ok is None else "met" if self.ok else "not met"


def bars(rect: list[Result], ragged: list[Result], window: int) -> list[Bar]:
    out = []
    for label, results in (("rectangular", rect), ("ragged", ragged)):
        res = next(r for r in results if r.method.name == "NumpySaver")
        g = res.growth(window)
        if g is None:
            out.append(Bar(f"NumpySaver append last / first <= {BAR} ({label})", "n/a", None))
            continue
        calls = res.calls
        out.append(
            Bar(
                f"NumpySaver append last / first <= {BAR} ({label})",
                f"{_x(g[1] / g[0])} ({_ms(g[1])} vs {_ms(g[0])} ms; single calls "
                f"{len(calls)} vs 2: {_x(calls[-1] / calls[1])})",
                g[1] <= BAR * g[0],
            )
        )
    return out


def bar_table(items: list[Bar]) -> Table:
    out = Table("Bars", ["bar", "measured", "verdict"], left=(0, 1, 2))
    out.rows = [[b.name, b.measured, b.verdict] for b in items]
    out.notes = [f"bars met: {sum(b.ok is True for b in items)} of {len(items)}"]
    return out


# ---------------------------------------------------------------------------------------
# main


def machine(root: Path) -> list[tuple[str, str]]:
    return [
        *host_info(),
        *version_info(),
        ("zarr", zarr.__version__),
        ("h5py", f"{h5py.__version__} (HDF5 {h5py.version.hdf5_version})"),
        ("data dir", f"{root} ({filesystem(root)})"),
        ("page cache drop", "posix_fadvise DONTNEED" if CAN_DROP else "not available"),
    ]


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--smoke", action="store_true", help="tiny sizes, seconds (for CI)")
    mode.add_argument("--quick", action="store_true", help="50 batches, 2 rounds")
    parser.add_argument("--markdown", type=Path, metavar="PATH", help="also write Markdown")
    parser.add_argument("--dir", type=Path, default=Path("/tmp"), help="where data is written")
    parser.add_argument("--seed", type=int, default=20240917, help="seed of the data")
    parser.add_argument("--batches", type=int, help="number of batches (default 200)")
    parser.add_argument("--profile", action="store_true", help="cProfile each saver's appends")
    return parser.parse_args(argv)


@dataclass
class Report(_common.Report):
    """The common report, plus whether a measured method failed (the run exits 1)."""

    failed: bool = False


def run(args: argparse.Namespace, root: Path) -> Report:
    sizes = SMOKE if args.smoke else QUICK if args.quick else FULL
    if args.batches is not None:
        sizes = Sizes(**{**sizes.__dict__, "batches": max(2, args.batches)})
    report = Report(machine(root))
    for key, value in report.info:
        print(f"{key:>15}: {value}")

    def log(msg: str) -> None:
        print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)

    w = make_workload(sizes, args.seed)
    n, wd = sizes.batch_rows, sizes.width
    print(
        f"{'workload':>15}: {sizes.batches} batches of {n} rows; rectangular {n} x {wd} "
        f"float32 ({w.rect_bytes / MB:.1f} MB); ragged {wd // 2}..{wd * 3 // 2} float32 per "
        f"row ({w.ragged_bytes / MB:.1f} MB with offsets); chunks {sizes.chunk_rows} rows "
        f"/ {sizes.chunk_rows * wd} values, no compression; {sizes.rounds} round(s)",
        flush=True,
    )

    rect_want = w.rect_all()
    rect_methods = methods(w, sizes, ragged=False)
    rect = measure(rect_methods, (rect_want, None), root / "rect", sizes.rounds, log)
    report.add(
        throughput_table(
            rect,
            f"Append throughput, rectangular: {sizes.batches} x {n} rows x {wd} float32",
            w.rect_bytes,
            sizes.window,
        )
    )

    ragged_methods = methods(w, sizes, ragged=True)
    ragged = measure(ragged_methods, w.ragged_all(), root / "ragged", sizes.rounds, log)
    for res in ragged:
        if res.path is not None:
            shutil.rmtree(res.path, ignore_errors=True)
    report.add(
        throughput_table(
            ragged,
            f"Append throughput, ragged: {sizes.batches} x {n} rows of {wd // 2}..{wd * 3 // 2} "
            "float32 (values + offsets)",
            w.ragged_bytes,
            sizes.window,
        )
    )
    report.add(growth_table(rect, ragged, sizes.window))

    updates = measure_updates(rect, sizes, rect_want, args.seed, log)
    report.add(update_table(updates, min(sizes.update_rows, len(rect_want))))
    report.add(bar_table(bars(rect, ragged, sizes.window)))
    report.failed = any(r.error for r in rect + ragged) or any(u.error for u in updates)
    if args.smoke:
        print("smoke run: the sizes are tiny, so timings measure call overhead, not the bars")
    if args.profile:
        for text in profile_savers(rect_methods, root):
            print()
            print(text)
            report.extra.append(text)
    return report


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    reports: list[Any] = []

    def run_in(args: Any, root: Path) -> Any:
        for sub in ("rect", "ragged"):
            (root / sub).mkdir()
        reports.append(run(args, root))
        return reports[-1]

    _common.run_in_scratch(run_in, args, "bench_savers_")
    if reports[-1].failed:
        print("some methods FAILED (see the tables and stderr)", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
