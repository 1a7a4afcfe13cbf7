"""Streaming benchmark (docs/performance.md): epochs of 32-row batches from a Zarr v3 store.

Workload: N rows (100 000 by default) of a frame with schema ``["sample"]``:

* ``sample_values``: a ragged ``large_list<float32>`` of 50..150 values per row (uniform,
  fixed seed; about 10^7 standard-normal values, 40 MB);
* ``sample_id``: int64, a random permutation of ``0..N-1`` (so coverage is easy to check).

The store is written once with ``gr.save`` (default settings) under a temporary directory
(``--dir``, /tmp by default) that is deleted at the end. Rows/s always counts the rows of
one epoch (every row once); MB/s counts the bytes of the Arrow buffers those rows hold
(values, offsets, ids), whatever a format reads from disk.

1. **Epochs**: ``gr.stream(path, batch_size=32)`` sequential and shuffled: "shuffled" rows
   use ``shuffle="batches", seed=...`` (the order of the 32-row batches is permuted, rows
   stay contiguous inside a batch); the sample-level shuffles are ``shuffle=True`` (a new
   permutation of the rows cut into batches) and ``shuffle_block`` (blocks of rows permuted,
   rows shuffled within windows of blocks). *Cold*: a fresh stream (so a fresh handle) after
   the page cache of the store's files was dropped (``fsync`` +
   ``posix_fadvise(POSIX_FADV_DONTNEED)``, no root needed); opening is counted. *Fresh*: a
   fresh stream, page cache warm. *Warm*: later epochs of the same stream object
   (``set_epoch``), after one untimed epoch. Variants: a handle without the chunk cache
   (``gr.open(path, cache="none")``: every batch goes through the read planner),
   ``in_memory=True`` (load once, then zero-copy slices; the load is shown apart),
   ``workers=2`` (prefetch threads), and the PyTorch adapters (``gr.torch.IterableDataset``
   and the map-style ``gr.torch.Dataset`` with the same batch plan as a ``batch_sampler``).
   Peers from the same run: the raw sequential read limit (``np.load`` of the three buffers
   saved as ``.npy``, warm and cold, expressed as rows/s), Parquet
   (``ParquetFile.iter_batches(batch_size=32)``, sequential; and a shuffled variant,
   ``read_table`` + ``take`` of each batch's rows, on a few batches as it reads the whole
   file per batch), and a torch ``DataLoader`` over a HuggingFace ``datasets`` Arrow dataset
   (``save_to_disk`` / ``load_from_disk``, memory-mapped), fed the same shuffled batch plan
   through its batched ``__getitem__`` (formats ``arrow`` and ``numpy``) when ``datasets``
   and torch are installed (n/a otherwise).
2. **apply**: a GIL-releasing transform per batch (pad the batch with ``to_numpy(pad=0)``,
   ``np.fft.rfft`` of every row zero-padded to ``fft_n`` points, sort the magnitudes, keep
   the 8 largest per row) over a warm shuffled epoch: ``apply(f, cpu=1)`` vs ``cpu=2``
   (threads) and ``cpu=2, executor="process"``; the transform alone over pre-read batches
   (serial, and on a pool of 2 threads: the speed-up this machine allows) is shown beside.
   The modes are timed round-robin on slices of the epoch (``st[a:b]``); an epoch's time
   is the sum over its slices of the best of a few rounds.

Before timing, every mode is checked: each epoch yields every row exactly once (ids),
batches hold the right values, shuffles are reproducible and differ between epochs, prefetch
and the in-memory source give the same batches as a plain stream, two ranks split an epoch
without overlap, and ``cpu=2`` / process results equal ``cpu=1``. Times are the best of
several epochs (the garbage collector is paused, as :mod:`timeit` does).

Usage::

    python benchmarks/bench_stream.py                    # full run, about 2-3 minutes
    python benchmarks/bench_stream.py --quick            # 10,000 rows, about 20 s
    python benchmarks/bench_stream.py --smoke            # tiny sizes, seconds (CI)
    python benchmarks/bench_stream.py --markdown out.md  # also write Markdown tables
"""

from __future__ import annotations

import argparse
import functools
import itertools
import os
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from _common import (
    CAN_DROP,
    Report,
    Table,
    best_of,
    drop_page_cache,
    files_under,
    filesystem,
    host_info,
    optional_version,
    run_in_scratch,
    timed,
    version_info,
)

import grumpy_arrow as gr

SCHEMA = ["sample"]
MB = 1e6
TOP = 8  # magnitudes kept per row by the apply transform


def import_optional(name: str) -> Any:
    """The module, or None when it is not installed (or fails to import)."""
    try:
        return __import__(name)
    except Exception:
        return None


# ---------------------------------------------------------------------------------------
# workload


@dataclass(frozen=True)
class Sizes:
    """How big the workload is and how often things are timed."""

    rows: int
    mean_len: int  # values per row: mean_len // 2 .. mean_len * 3 // 2
    batch_rows: int
    repeat: int  # timed epochs per mode (best of)
    slow_batches: int  # batches of the shuffled Parquet peer (it reads the whole file)
    fft_n: int  # points of the apply transform's FFT
    apply_repeat: int  # rounds of the apply modes (best of)
    apply_checked: int  # batches whose apply results are compared with f(batch)
    apply_segments: int  # slices of the epoch timed apart (best of the rounds each)


FULL = Sizes(
    rows=100_000,
    mean_len=100,
    batch_rows=32,
    repeat=3,
    slow_batches=5,
    fft_n=4096,
    apply_repeat=3,
    apply_checked=300,
    apply_segments=6,
)
# a tenth of the rows, fewer epochs and rounds (run_all.py --quick): real ratios, noisier
QUICK = Sizes(
    rows=10_000,
    mean_len=100,
    batch_rows=32,
    repeat=2,
    slow_batches=3,
    fft_n=4096,
    apply_repeat=2,
    apply_checked=100,
    apply_segments=4,
)
SMOKE = Sizes(
    rows=2000,
    mean_len=10,
    batch_rows=8,
    repeat=1,
    slow_batches=2,
    fft_n=64,
    apply_repeat=1,
    apply_checked=50,
    apply_segments=2,
)


@dataclass(frozen=True)
class Workload:
    """The table, its buffers (offsets, values, ids) and where each id sits."""

    table: pa.Table
    offsets: np.ndarray
    values: np.ndarray
    ids: np.ndarray
    row_of_id: np.ndarray

    @property
    def rows(self) -> int:
        return len(self.ids)

    @property
    def nbytes(self) -> int:
        return self.offsets.nbytes + self.values.nbytes + self.ids.nbytes


def make_workload(sizes: Sizes, seed: int) -> Workload:
    """The two columns, built from NumPy buffers (no Python lists)."""
    rng = np.random.default_rng(seed)
    lens = rng.integers(sizes.mean_len // 2, sizes.mean_len * 3 // 2 + 1, size=sizes.rows)
    offsets = np.zeros(sizes.rows + 1, dtype=np.int64)
    np.cumsum(lens, out=offsets[1:])
    values = rng.standard_normal(int(offsets[-1]), dtype=np.float32)
    ids = rng.permutation(sizes.rows).astype(np.int64)
    table = pa.table(
        {
            "sample_id": pa.array(ids),
            "sample_values": pa.LargeListArray.from_arrays(pa.array(offsets), pa.array(values)),
        }
    )
    row_of_id = np.empty(sizes.rows, dtype=np.int64)
    row_of_id[ids] = np.arange(sizes.rows, dtype=np.int64)
    return Workload(table, offsets, values, ids, row_of_id)


def plan(rows: int, batch_rows: int, seed: int, epoch: int) -> list[np.ndarray]:
    """The row indices of a shuffled epoch, batch by batch (the order ``gr.stream`` uses:
    contiguous ranges of ``batch_rows``, their order permuted from ``(seed, epoch)``)."""
    starts = np.arange(0, rows, batch_rows)
    order = np.random.default_rng([seed, epoch]).permutation(len(starts))
    return [np.arange(s, min(s + batch_rows, rows), dtype=np.int64) for s in starts[order]]


# ---------------------------------------------------------------------------------------
# checks


def check(ok: bool, what: str) -> None:
    if not ok:
        raise AssertionError(f"{what}: check failed")


def batch_ids(batch: Any) -> np.ndarray:
    """The ``sample_id`` values of a batch (a grumpy frame, a pa.Table or a dict)."""
    if isinstance(batch, pa.Table):
        return batch.column("sample_id").to_numpy()
    if isinstance(batch, dict):
        return np.asarray(batch["sample_id"])
    return np.asarray(batch["sample_id"].to_numpy())


def batch_values(batch: Any) -> tuple[np.ndarray, np.ndarray]:
    """Row lengths and flat values of a batch's ``sample_values``."""
    if isinstance(batch, pa.Table):
        col = batch.column("sample_values").combine_chunks()
    elif isinstance(batch, gr.DataFrame):
        col = batch["sample_values"].to_arrow()
    else:
        raise TypeError(f"cannot read values of {type(batch).__name__}")
    lens = pa.compute.list_value_length(col).to_numpy(zero_copy_only=False)
    return lens.astype(np.int64), col.flatten().to_numpy()


def check_batch(w: Workload, batch: Any, what: str, *, values: bool = True) -> np.ndarray:
    """Check one batch against the table (rows contiguous, same values); return its ids."""
    ids = batch_ids(batch)
    rows = w.row_of_id[ids]
    check(len(rows) > 0 and bool(np.all(np.diff(rows) == 1)), f"{what}: rows not a range")
    if values:
        lens, flat = batch_values(batch)
        a, b = int(rows[0]), int(rows[-1]) + 1
        check(np.array_equal(lens, np.diff(w.offsets[a : b + 1])), f"{what}: row lengths")
        check(np.array_equal(flat, w.values[w.offsets[a] : w.offsets[b]]), f"{what}: values")
    return ids


def check_rows_epoch(w: Workload, batches: Iterable[Any], what: str) -> list[list[int]]:
    """A sample-level shuffled epoch: every row exactly once, each batch's row lengths and
    values those of its rows (in the batch's order); returns the rows of each batch."""
    seen = np.zeros(w.rows, dtype=np.int64)
    out = []
    for batch in batches:
        rows = w.row_of_id[batch_ids(batch)]
        np.add.at(seen, rows, 1)
        lens, flat = batch_values(batch)
        want = w.offsets[rows + 1] - w.offsets[rows]
        check(np.array_equal(lens, want), f"{what}: row lengths")
        starts = np.repeat(w.offsets[rows] - np.concatenate([[0], np.cumsum(want)[:-1]]), want)
        check(np.array_equal(flat, w.values[starts + np.arange(len(flat))]), f"{what}: values")
        out.append(rows.tolist())
    check(bool(np.all(seen == 1)), f"{what}: not every row exactly once")
    return out


def check_epoch(
    w: Workload, batches: Iterable[Any], what: str, *, values: bool = True
) -> list[int]:
    """Every row exactly once; return the first row of each batch (the batch order)."""
    seen = np.zeros(w.rows, dtype=np.int64)
    firsts = []
    for batch in batches:
        ids = check_batch(w, batch, what, values=values)
        np.add.at(seen, ids, 1)
        firsts.append(int(w.row_of_id[ids[0]]))
    check(bool(np.all(seen == 1)), f"{what}: not every row exactly once")
    return firsts


# ---------------------------------------------------------------------------------------
# timing


def drain(batches: Iterable[Any]) -> int:
    """Consume an epoch; the number of batches."""
    n = 0
    for _ in batches:
        n += 1
    return n


# ---------------------------------------------------------------------------------------
# 1. epochs


@dataclass
class EpochRow:
    """One mode of reading an epoch (or part of one: ``rows`` says how many rows)."""

    name: str
    seconds: float | None  # None: not measured (n/a)
    rows: int
    group: str  # "grumpy" or "peer"
    open_s: float | None = None  # shown apart; counted in ``seconds`` for cold rows
    note: str = ""


def fresh_epoch(make: Callable[[], Any]) -> Callable[[], float]:
    """Open (``make``) and run an epoch; returns the opening time, the call is timed."""
    opened: list[float] = []

    def go() -> None:
        t0 = time.perf_counter()
        st = make()
        opened.append(time.perf_counter() - t0)
        drain(st)

    go.opened = opened  # type: ignore[attr-defined]
    return go  # type: ignore[return-value]


def measure_fresh(
    name: str,
    make: Callable[[], Any],
    w: Workload,
    sizes: Sizes,
    *,
    cold_paths: tuple[Path, ...] = (),
    note: str = "",
) -> EpochRow:
    """Best of ``repeat`` epochs of a fresh stream, optionally with a cold page cache."""
    go = fresh_epoch(make)
    before = (lambda: drop_page_cache(*cold_paths)) if cold_paths else None
    seconds = best_of(go, sizes.repeat, before)
    return EpochRow(name, seconds, w.rows, "grumpy", min(go.opened), note)  # type: ignore[attr-defined]


def measure_warm_stream(
    name: str, st: gr.Stream, w: Workload, sizes: Sizes, *, shuffled: bool, note: str = ""
) -> EpochRow:
    """Later epochs of one stream object after an untimed first epoch."""
    drain(st)
    epochs = iter(range(1, 10**6))

    def before() -> None:
        if shuffled:
            st.set_epoch(next(epochs))

    return EpochRow(
        name, best_of(lambda: drain(st), sizes.repeat, before), w.rows, "grumpy", note=note
    )


SAMPLE_SHUFFLES: dict[str, dict[str, Any]] = {
    "sample shuffle (shuffle=True)": {"shuffle": True},
    "block shuffle (shuffle_block=1024, 8 a window)": {
        "shuffle": True,
        "shuffle_block": 1024,
        "shuffle_window": 8,
    },
}


def stream_rows(
    w: Workload, store: Path, sizes: Sizes, seed: int, torch: Any, log: Callable[[str], None]
) -> list[EpochRow]:
    """The grumpy modes."""
    b = sizes.batch_rows
    out = [
        measure_fresh(
            "sequential, cold (page cache dropped)",
            lambda: gr.stream(str(store), batch_size=b),
            w,
            sizes,
            cold_paths=(store,),
            note="fresh stream, opening counted",
        ),
        measure_fresh(
            "sequential, fresh stream, page cache warm",
            lambda: gr.stream(str(store), batch_size=b),
            w,
            sizes,
            note="opening counted",
        ),
        measure_warm_stream(
            "sequential, warm (same stream, later epochs)",
            gr.stream(str(store), batch_size=b),
            w,
            sizes,
            shuffled=False,
        ),
        measure_fresh(
            "shuffled, cold (page cache dropped)",
            lambda: gr.stream(str(store), batch_size=b, shuffle="batches", seed=seed),
            w,
            sizes,
            cold_paths=(store,),
            note="fresh stream, opening counted",
        ),
        measure_warm_stream(
            "shuffled, warm (same stream, set_epoch)",
            gr.stream(str(store), batch_size=b, shuffle="batches", seed=seed),
            w,
            sizes,
            shuffled=True,
        ),
        measure_warm_stream(
            "shuffled, cache='none' (read planner per batch)",
            gr.stream(
                gr.open(str(store), cache="none"), batch_size=b, shuffle="batches", seed=seed
            ),
            w,
            sizes,
            shuffled=True,
            note="page cache warm, no chunk cache",
        ),
    ]
    for name, kw in SAMPLE_SHUFFLES.items():
        out.append(
            measure_warm_stream(
                f"{name}, warm (same stream, set_epoch)",
                gr.stream(str(store), batch_size=b, seed=seed, **kw),
                w,
                sizes,
                shuffled=True,
                note="rows from anywhere: batches are new compositions each epoch",
            )
        )
    log("grumpy stream modes: done")
    load_s = best_of(lambda: gr.stream(str(store), batch_size=b, in_memory=True), sizes.repeat)
    st = gr.stream(str(store), batch_size=b, shuffle="batches", seed=seed, in_memory=True)
    row = measure_warm_stream(
        "shuffled, in_memory=True",
        st,
        w,
        sizes,
        shuffled=True,
        note="load shown apart, not counted",
    )
    row.open_s = load_s
    out.append(row)
    st = gr.stream(str(store), batch_size=b, shuffle="batches", seed=seed, workers=2)
    out.append(
        measure_warm_stream("shuffled, workers=2 (prefetch threads)", st, w, sizes, shuffled=True)
    )
    if torch is not None:
        out += torch_rows(w, store, sizes, seed, torch)
    else:
        out += [
            EpochRow(
                "gr.torch.IterableDataset + DataLoader",
                None,
                w.rows,
                "grumpy",
                note="torch not installed",
            ),
            EpochRow(
                "gr.torch.Dataset + DataLoader(batch_sampler)",
                None,
                w.rows,
                "grumpy",
                note="torch not installed",
            ),
        ]
    log("grumpy in_memory / workers / torch: done")
    return out


def identity(x: Any) -> Any:
    """A picklable ``collate_fn`` that keeps a batch as it is."""
    return x


def torch_rows(w: Workload, store: Path, sizes: Sizes, seed: int, torch: Any) -> list[EpochRow]:
    """The PyTorch adapters, warm, single process (``num_workers=0``)."""
    from torch.utils.data import DataLoader

    import grumpy_arrow.interop.torch as gr_torch

    b = sizes.batch_rows
    st = gr.stream(str(store), batch_size=b, shuffle="batches", seed=seed)
    ds = gr_torch.IterableDataset(st)
    loader = DataLoader(ds, batch_size=None, num_workers=0)
    drain(loader)
    epochs = iter(range(1, 10**6))
    it_s = best_of(lambda: drain(loader), sizes.repeat, lambda: ds.set_epoch(next(epochs)))
    mds = gr_torch.Dataset(str(store))
    batches = [rows.tolist() for rows in plan(w.rows, b, seed, 0)]
    loader2 = DataLoader(mds, batch_sampler=batches, collate_fn=identity, num_workers=0)
    drain(loader2)
    map_s = best_of(lambda: drain(loader2), sizes.repeat)
    return [
        EpochRow(
            "gr.torch.IterableDataset + DataLoader",
            it_s,
            w.rows,
            "grumpy",
            note="batch_size=None, num_workers=0",
        ),
        EpochRow(
            "gr.torch.Dataset + DataLoader(batch_sampler)",
            map_s,
            w.rows,
            "grumpy",
            note="__getitems__ per batch, same plan",
        ),
    ]


# -- peers ------------------------------------------------------------------------------


def npy_paths(w: Workload, root: Path) -> list[Path]:
    """The three buffers as .npy files (the raw limit)."""
    out = []
    for name, arr in (("offsets", w.offsets), ("values", w.values), ("ids", w.ids)):
        path = root / f"raw_{name}.npy"
        np.save(path, arr)
        out.append(path)
    return out


def raw_rows(w: Workload, root: Path, sizes: Sizes) -> list[EpochRow]:
    """``np.load`` of the three buffers, warm and cold: the sequential read limit."""
    paths = npy_paths(w, root)

    def load() -> list[np.ndarray]:
        return [np.load(p) for p in paths]

    got = load()
    check(np.array_equal(got[1], w.values) and np.array_equal(got[0], w.offsets), "np.load")
    warm = best_of(load, sizes.repeat + 2)
    cold = best_of(load, sizes.repeat, lambda: drop_page_cache(*paths))
    return [
        EpochRow(
            "np.load of the buffers (raw limit), warm",
            warm,
            w.rows,
            "peer",
            note="3 .npy files, page cache warm",
        ),
        EpochRow(
            "np.load of the buffers (raw limit), cold",
            cold,
            w.rows,
            "peer",
            note="page cache dropped",
        ),
    ]


def parquet_rows(w: Workload, root: Path, sizes: Sizes, seed: int) -> list[EpochRow]:
    """Parquet: ``iter_batches`` sequential (warm, cold), ``read_table`` + ``take`` shuffled."""
    path = root / "table.parquet"
    pq.write_table(w.table, path)
    b = sizes.batch_rows

    def sequential() -> Iterator[pa.RecordBatch]:
        return pq.ParquetFile(path).iter_batches(batch_size=b)

    check_epoch(w, (pa.Table.from_batches([x]) for x in sequential()), "parquet iter_batches")
    warm = best_of(lambda: drain(sequential()), sizes.repeat)
    cold = best_of(lambda: drain(sequential()), sizes.repeat, lambda: drop_page_cache(path))
    batches = plan(w.rows, b, seed, 0)[: sizes.slow_batches]

    def shuffled() -> None:
        for rows in batches:
            pq.read_table(path).take(pa.array(rows))

    for rows in batches[:2]:
        check_batch(w, pq.read_table(path).take(pa.array(rows)), "parquet take")
    few = best_of(shuffled, sizes.repeat)
    nrows = sum(len(r) for r in batches)
    return [
        EpochRow(
            "Parquet iter_batches, sequential, warm",
            warm,
            w.rows,
            "peer",
            note="pq.ParquetFile(...).iter_batches(batch_size)",
        ),
        EpochRow(
            "Parquet iter_batches, sequential, cold",
            cold,
            w.rows,
            "peer",
            note="page cache dropped",
        ),
        EpochRow(
            "Parquet shuffled: read_table + take per batch",
            few,
            nrows,
            "peer",
            note=f"{len(batches)} batches only (whole file read per batch)",
        ),
    ]


def hf_rows(
    w: Workload, root: Path, sizes: Sizes, seed: int, torch: Any, datasets: Any
) -> list[EpochRow]:
    """A torch DataLoader over a HuggingFace ``datasets`` Arrow dataset, same batch plan."""
    names = ["HF datasets + DataLoader, format 'arrow'", "HF datasets + DataLoader, format 'numpy'"]
    if datasets is None or torch is None:
        why = "datasets not installed" if datasets is None else "torch not installed"
        return [EpochRow(n, None, w.rows, "peer", note=why) for n in names]
    from torch.utils.data import DataLoader

    datasets.disable_progress_bars()
    datasets.logging.set_verbosity_error()
    path = root / "hf"
    datasets.Dataset(w.table).save_to_disk(str(path))
    hf = datasets.load_from_disk(str(path))  # memory-mapped Arrow files
    batches = [list(map(int, rows)) for rows in plan(w.rows, sizes.batch_rows, seed, 0)]
    out = []
    for name, fmt in zip(names, ("arrow", "numpy"), strict=True):
        loader = DataLoader(hf.with_format(fmt), sampler=batches, batch_size=None)
        if fmt == "arrow":
            check_epoch(w, loader, "HF datasets (arrow)")
        else:
            check_epoch(w, loader, "HF datasets (numpy)", values=False)
        out.append(
            EpochRow(
                name,
                best_of(functools.partial(drain, loader), sizes.repeat),
                w.rows,
                "peer",
                note="memory-mapped; dataset[indices] per batch",
            )
        )
    return out


# ---------------------------------------------------------------------------------------
# 2. apply


def fft_top(batch: Any, n: int) -> np.ndarray:
    """Pad the batch, FFT every row to ``n`` points, sort the magnitudes, keep the top ones.

    NumPy's FFT and sort release the GIL, so threads can run batches side by side.
    """
    values, _ = batch["sample_values"].to_numpy(pad=0.0)
    spectrum = np.abs(np.fft.rfft(values, n=n, axis=1))
    return np.sort(spectrum, axis=1)[:, -TOP:]


@dataclass
class ApplyRow:
    name: str
    seconds: float
    batches: int
    note: str = ""


def apply_rows(store: Path, sizes: Sizes, seed: int) -> list[ApplyRow]:
    """``apply(f, cpu=1)`` vs ``cpu=2`` (threads, processes) over a warm shuffled epoch.

    The epoch is cut into ``apply_segments`` slices of the stream (``st[a:b]``); each slice
    is timed in every mode, round-robin, and an epoch's time is the sum over the slices of
    the best of ``apply_repeat`` rounds. A burst of load from other processes on this
    shared machine then spoils one short slice of one mode, not a whole epoch.
    """
    fn = functools.partial(fft_top, n=sizes.fft_n)
    st = gr.stream(str(store), batch_size=sizes.batch_rows, shuffle="batches", seed=seed)
    pre = list(st)  # warms the handle and gives the batches for the transform-only rows
    variants = {
        "cpu=1": st.apply(fn, cpu=1),
        "cpu=2": st.apply(fn, cpu=2),
        "cpu=2, executor='process'": st.apply(fn, cpu=2, executor="process"),
    }
    head = min(len(pre), sizes.apply_checked)
    want = [fn(b) for b in pre[:head]]
    for name, s in variants.items():
        check(len(s) == len(pre), f"apply {name}: batches")
        got = list(s[:head])  # a slice of the stream: the first batches, same transform
        same = all(np.array_equal(a, b) for a, b in zip(got, want, strict=True))
        check(len(got) == head and same, f"apply {name}: results differ from f(batch)")

    def serial(a: int, b: int) -> None:
        for batch in pre[a:b]:
            fn(batch)

    def pooled(a: int, b: int) -> None:
        with ThreadPoolExecutor(max_workers=2) as pool:
            for _ in pool.map(fn, pre[a:b]):
                pass

    def streamed(s: gr.Stream) -> Callable[[int, int], int]:
        return lambda a, b: drain(s[a:b])

    modes: dict[str, tuple[Callable[[int, int], Any], str]] = {
        "transform only, serial loop": (serial, "pre-read batches, no stream"),
        "transform only, 2 threads": (pooled, "ThreadPoolExecutor.map: this machine's ceiling"),
    }
    for name, s in variants.items():
        modes[f"st.apply(f, {name})"] = (streamed(s), "read + transform, in order")
    cuts = np.linspace(0, len(pre), max(1, sizes.apply_segments) + 1).astype(int)
    segments = list(itertools.pairwise(cuts.tolist()))
    best = {name: [float("inf")] * len(segments) for name in modes}
    for _ in range(max(1, sizes.apply_repeat)):
        for k, (a, b) in enumerate(segments):
            for name, (go, _) in modes.items():
                best[name][k] = min(best[name][k], timed(functools.partial(go, a, b)))
    return [ApplyRow(name, sum(best[name]), len(pre), note) for name, (_, note) in modes.items()]


# ---------------------------------------------------------------------------------------
# tables


def _ms(s: float | None) -> str:
    if s is None:
        return "n/a"
    x = s * 1e3
    return f"{x:.3f}" if x < 1 else f"{x:.2f}" if x < 100 else f"{x:,.0f}"


def _rate(n: float, s: float | None) -> str:
    return "n/a" if s is None or s <= 0 else f"{n / s:,.0f}"


def _x(r: float | None) -> str:
    return "n/a" if r is None else f"{r:.2f}x" if r < 100 else f"{r:,.0f}x"


def _pct(r: float | None) -> str:
    return "n/a" if r is None else f"{r:.0%}" if r < 10 else f"{r:,.0f}x"


def rows_per_s(r: EpochRow) -> float | None:
    return None if r.seconds is None or r.seconds <= 0 else r.rows / r.seconds


def epoch_table(rows: list[EpochRow], w: Workload, sizes: Sizes) -> Table:
    raw = next(r for r in rows if r.name.endswith("warm") and r.name.startswith("np.load"))
    seq = next(r for r in rows if r.name.startswith("Parquet iter_batches") and "warm" in r.name)
    raw_rate, seq_rate = rows_per_s(raw), rows_per_s(seq)
    out = Table(
        f"Epochs of {sizes.batch_rows}-row batches ({w.rows:,} rows, "
        f"{w.nbytes / MB:.1f} MB of Arrow buffers; MB = 10^6 bytes)",
        [
            "mode",
            "open ms",
            "rows",
            "time ms",
            "rows/s",
            "MB/s",
            "vs raw limit",
            "vs Parquet seq",
            "note",
        ],
        left=(0, 8),
    )
    for r in rows:
        rate = rows_per_s(r)
        out.rows.append(
            [
                ("  " if r.group == "peer" else "") + r.name,
                _ms(r.open_s),
                f"{r.rows:,}",
                _ms(r.seconds),
                _rate(r.rows, r.seconds),
                _rate(w.nbytes * r.rows / w.rows / MB, r.seconds),
                _pct(None if rate is None or raw_rate is None else rate / raw_rate),
                _x(None if rate is None or seq_rate is None else rate / seq_rate),
                r.note,
            ]
        )
    out.notes = [
        "peers are indented. rows/s: rows / time; time is the best of several epochs. 'cold' "
        "rows drop the page cache",
        "of the files before each epoch (fsync + posix_fadvise DONTNEED"
        + ("" if CAN_DROP else " - NOT AVAILABLE here, so cold = warm")
        + ") and count opening (open ms, included in time ms);",
        "warm rows run later epochs of an open stream (open ms: for in_memory the load, not "
        "counted). shuffled = shuffle='batches': batch order",
        "permuted from (seed, epoch); rows stay contiguous in a batch. sample / block "
        "shuffles: shuffle=True (and shuffle_block). vs raw limit: rows/s over np.load's "
        "(warm).",
    ]
    return out


def apply_table(rows: list[ApplyRow], sizes: Sizes) -> Table:
    base = next(r for r in rows if r.name.endswith("cpu=1)"))
    serial = rows[0]
    out = Table(
        f"apply: pad + rfft(n={sizes.fft_n}) + sort per batch, a shuffled epoch of "
        f"{base.batches:,} batches (warm)",
        ["mode", "time ms", "batches/s", "ms/batch", "speed-up vs cpu=1", "vs serial loop", "note"],
        left=(0, 6),
    )
    for r in rows:
        out.rows.append(
            [
                r.name,
                _ms(r.seconds),
                _rate(r.batches, r.seconds),
                _ms(r.seconds / r.batches),
                _x(base.seconds / r.seconds),
                _x(serial.seconds / r.seconds),
                r.note,
            ]
        )
    out.notes = [
        "speed-up = time of apply(f, cpu=1) / time of the row; 2 cores are the ceiling (and "
        "the machine is shared: see load avg).",
        f"time: the epoch in {sizes.apply_segments} slices (st[a:b]), each the best of "
        f"{sizes.apply_repeat} round-robin rounds, summed.",
    ]
    return out


# ---------------------------------------------------------------------------------------
# machine


# ---------------------------------------------------------------------------------------
# fixed-shape images


def make_images(n: int, seed: int) -> np.ndarray:
    """``n`` 60x80 RGB uint8 images: smooth gradients plus a little noise (so a
    compressor has something to find, as in photos)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:60, 0:80]
    base = yy[None, :, :, None] * 2 + xx[None, :, :, None] + np.arange(3) * 40
    shift = rng.integers(0, 256, (n, 1, 1, 1))
    noise = rng.integers(0, 8, (n, 60, 80, 3))
    return ((base + shift + noise) % 256).astype(np.uint8)


def image_table(root: Path, n: int, batch: int, seed: int, repeat: int) -> Table:
    """Images as fixed axes (values leaf only) against the same images as one .npy file
    (read through a memmap), sequential and shuffled epochs of ``batch`` images decoded to
    NumPy arrays; each mode's result checked equal to the source before it is timed."""
    imgs = make_images(n, seed)
    raw = imgs.nbytes
    order = np.random.default_rng(seed).permutation(n)
    out = Table(
        f"Fixed-shape images: {n:,} images of 60x80x3 uint8 ({raw / MB:.1f} MB raw), "
        f"epochs of {batch}-image batches to NumPy",
        ["store", "size / raw", "files", "sequential images/s", "shuffled images/s", "note"],
        left=(0, 5),
    )

    def best(fn: Callable[[], int]) -> float:
        times = []
        for _ in range(repeat):
            t = time.perf_counter()
            fn()
            times.append(time.perf_counter() - t)
        return min(times)

    def grumpy_epoch(path: Path, shuffle: bool) -> Callable[[], int]:
        st = gr.stream(str(path), batch_size=batch, shuffle=shuffle, seed=seed)

        def go() -> int:
            return sum(len(b.to_numpy()) for b in st)

        return go

    for name, kw in (
        ("gr fixed axes, compressor='none'", {"compressor": "none"}),
        ("gr fixed axes, default compressor", {}),
        ("gr codec 'npy' per image", {"codecs": {"array": "npy"}}),
    ):
        path = root / f"images-{len(out.rows)}.gr"
        gr.save(gr.array(imgs), str(path), **kw)
        check(np.array_equal(gr.load(str(path)).to_numpy(), imgs), f"{name}: load")
        st = gr.stream(str(path), batch_size=batch, shuffle=True, seed=seed)
        seen = np.concatenate([b.to_numpy() for b in st])
        same = sorted(map(bytes, seen)) == sorted(map(bytes, imgs))  # each image once
        check(same, f"{name}: shuffled epoch")
        size = sum(f.stat().st_size for f in files_under(path))
        files = len(list(files_under(path)))
        seq = best(grumpy_epoch(path, False))
        shuf = best(grumpy_epoch(path, True))
        out.rows.append(
            [
                name,
                f"{size / raw:.3f}",
                str(files),
                _rate(n, seq),
                _rate(n, shuf),
                f"type {n} * 60 * 80 * 3 * uint8"
                if "codec" not in name
                else "binary rows, decoded per batch",
            ]
        )
    npy = root / "images.npy"
    np.save(npy, imgs)
    mm = np.load(npy, mmap_mode="r")
    check(np.array_equal(mm[order[:batch]], imgs[order[:batch]]), "npy memmap")

    def npy_epoch(rows: np.ndarray) -> Callable[[], int]:
        def go() -> int:
            m = np.load(npy, mmap_mode="r")
            return sum(len(np.asarray(m[np.sort(rows[i : i + batch])])) for i in range(0, n, batch))

        return go

    seq = best(npy_epoch(np.arange(n)))
    shuf = best(npy_epoch(order))
    out.rows.append(
        [
            "  np.load(mmap_mode='r') of one .npy",
            f"{npy.stat().st_size / raw:.3f}",
            "1",
            _rate(n, seq),
            _rate(n, shuf),
            "peer: the raw-bytes floor",
        ]
    )
    out.notes = [
        "size / raw: bytes on disk over the images' bytes. Before fixed axes every axis was a "
        "variable list with offsets (3.7x the raw bytes, 560 images/s for a 1,000-image epoch).",
        f"images/s: best of {repeat} warm epochs; shuffled = shuffle=True (a new permutation "
        "of the images per epoch), the memmap reads each batch's rows sorted.",
    ]
    return out


def load_average() -> str:
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "unknown"


def machine(root: Path, torch: Any, datasets: Any) -> list[tuple[str, str]]:
    """What the numbers were measured on."""
    return [
        *host_info(),
        ("load avg", f"{load_average()} (1, 5, 15 min; at start)"),
        *version_info(),
        ("torch", optional_version(torch)),
        ("datasets", optional_version(datasets)),
        ("data dir", f"{root} ({filesystem(root)})"),
        ("page cache drop", "posix_fadvise DONTNEED" if CAN_DROP else "not available"),
    ]


# ---------------------------------------------------------------------------------------
# correctness


def verify(w: Workload, store: Path, sizes: Sizes, seed: int, torch: Any) -> list[str]:
    """Check every mode before timing it; returns what was checked."""
    b, path = sizes.batch_rows, str(store)
    done = []
    firsts = check_epoch(w, gr.stream(path, batch_size=b), "sequential")
    check(firsts == list(range(0, w.rows, b)), "sequential: order")
    n_batches = len(firsts)
    check(len(gr.stream(path, batch_size=b)) == n_batches, "len(stream)")
    done.append(f"sequential epoch: {n_batches} batches, every row once, values equal")

    st = gr.stream(path, batch_size=b, shuffle="batches", seed=seed)
    e0 = check_epoch(w, st, "shuffled epoch 0")
    again = check_epoch(w, st, "shuffled epoch 0, second pass", values=False)
    st.set_epoch(1)
    e1 = check_epoch(w, st, "shuffled epoch 1")
    want = [int(rows[0]) for rows in plan(w.rows, b, seed, 0)]
    check(e0 == again == want, "shuffle: same (seed, epoch) -> same order")
    check(n_batches < 3 or e0 != e1, "shuffle: epochs differ")
    fresh = gr.stream(path, batch_size=b, shuffle="batches", seed=seed)
    check(check_epoch(w, fresh, "fresh shuffled", values=False) == e0, "shuffle: reproducible")
    done.append("shuffled epochs 0 and 1: every row once, orders differ, reproducible")

    for name, kw in SAMPLE_SHUFFLES.items():
        st = gr.stream(path, batch_size=b, seed=seed, **kw)
        first = check_rows_epoch(w, st, f"{name}, epoch 0")
        check(check_rows_epoch(w, st, f"{name}, again") == first, f"{name}: reproducible")
        st.set_epoch(1)
        check(
            n_batches < 3 or check_rows_epoch(w, st, f"{name}, epoch 1") != first,
            f"{name}: epochs differ",
        )
        contiguous = sum(r == list(range(r[0], r[0] + len(r))) for r in first)
        check(n_batches < 3 or contiguous < len(first), f"{name}: batches are row ranges")
        done.append(f"{name}: every row once, values equal, reproducible, epochs differ")

    for name, kw in (("in_memory", {"in_memory": True}), ("workers=2", {"workers": 2})):
        s = gr.stream(path, batch_size=b, shuffle="batches", seed=seed, **kw)
        check(check_epoch(w, s, name) == e0, f"{name}: same batches as a plain stream")
    cold = gr.stream(gr.open(path, cache="none"), batch_size=b, shuffle="batches", seed=seed)
    check(check_epoch(w, cold, "cache='none'") == e0, "cache='none': same batches")
    done.append("in_memory=True, workers=2, cache='none': the same batches in the same order")

    ranks = [
        gr.stream(path, batch_size=b, shuffle="batches", seed=seed, world_size=2, rank=r)
        for r in range(2)
    ]
    both = check_epoch(w, itertools.chain(*ranks), "world_size=2, both ranks")
    check(sorted(both) == sorted(e0) and len(ranks[0]) + len(ranks[1]) == n_batches, "ranks")
    done.append("world_size=2: the ranks split the epoch's batches without overlap")

    st = gr.stream(path, batch_size=b, shuffle="batches", seed=seed)
    it = iter(st)
    for _ in range(min(3, n_batches - 1)):
        next(it)
    state = st.state_dict()
    resumed = gr.stream(path, batch_size=b, shuffle="batches", seed=seed)
    resumed.load_state_dict(state)
    rest = [int(w.row_of_id[batch_ids(x)[0]]) for x in resumed]
    check(rest == e0[state["batches_consumed"] :], "state_dict resume")
    done.append("state_dict / load_state_dict: the resumed stream continues the epoch")

    if torch is not None:
        from torch.utils.data import DataLoader

        import grumpy_arrow.interop.torch as gr_torch

        ds = gr_torch.IterableDataset(gr.stream(path, batch_size=b, shuffle="batches", seed=seed))
        check(
            check_epoch(w, DataLoader(ds, batch_size=None), "IterableDataset") == e0,
            "IterableDataset",
        )
        mds = gr_torch.Dataset(path)
        batches = [rows.tolist() for rows in plan(w.rows, b, seed, 0)]
        loader = DataLoader(mds, batch_sampler=batches, collate_fn=identity)
        check(check_epoch(w, loader, "Dataset") == e0, "Dataset")
        done.append("gr.torch.IterableDataset / Dataset: the same epoch through a DataLoader")
    return done


# ---------------------------------------------------------------------------------------
# main


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--smoke", action="store_true", help="tiny sizes, seconds (for CI)")
    mode.add_argument("--quick", action="store_true", help="10,000 rows, fewer epochs")
    parser.add_argument("--markdown", type=Path, metavar="PATH", help="also write Markdown")
    parser.add_argument("--dir", type=Path, default=Path("/tmp"), help="where data is written")
    parser.add_argument("--seed", type=int, default=20240917, help="seed of data and shuffles")
    parser.add_argument("--no-hf", action="store_true", help="skip HF datasets (as n/a)")
    parser.add_argument("--no-apply", action="store_true", help="skip the apply section")
    return parser.parse_args(argv)


def run(args: argparse.Namespace, root: Path) -> Report:
    sizes = SMOKE if args.smoke else QUICK if args.quick else FULL
    torch = import_optional("torch")
    datasets = None if args.no_hf else import_optional("datasets")
    report = Report(machine(root, torch, datasets))
    for key, value in report.info:
        print(f"{key:>15}: {value}")

    def log(msg: str) -> None:
        print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)

    w = make_workload(sizes, args.seed)
    store = root / "store.gr"
    gr.save(gr.from_arrow(w.table, schema=SCHEMA), str(store))
    print(
        f"{'workload':>15}: {w.rows:,} rows, {len(w.values):,} float32 values "
        f"({sizes.mean_len // 2}..{sizes.mean_len * 3 // 2} per row) + int64 id, schema "
        f"{SCHEMA}; {w.nbytes / MB:.1f} MB of Arrow buffers; batches of {sizes.batch_rows} "
        f"rows; store {sum(f.stat().st_size for f in files_under(store)) / MB:.1f} MB on disk",
        flush=True,
    )
    for line in verify(w, store, sizes, args.seed, torch):
        print(f"{'checked':>15}: {line}")
    log("checks: done")

    rows = stream_rows(w, store, sizes, args.seed, torch, log)
    rows += raw_rows(w, root, sizes)
    rows += parquet_rows(w, root, sizes, args.seed)
    log("raw and Parquet peers: done")
    rows += hf_rows(w, root, sizes, args.seed, torch, datasets)
    log("HF datasets peer: done")
    report.add(epoch_table(rows, w, sizes))

    report.add(
        image_table(
            root, 20 if args.smoke else 1000, sizes.batch_rows, args.seed, 1 if args.smoke else 3
        )
    )
    log("images: done")

    if not args.no_apply:
        before = load_average()
        apply = apply_rows(store, sizes, args.seed)
        log("apply: done")
        table = apply_table(apply, sizes)
        table.notes.append(f"load avg (1, 5, 15 min) before: {before}; after: {load_average()}")
        report.add(table)
    print(f"\n{'load avg':>15}: {load_average()} (1, 5, 15 min; at the end)")
    if args.smoke:
        print("smoke run: the sizes are tiny, so timings measure call overhead")
    return report


def main(argv: list[str] | None = None) -> int:
    return run_in_scratch(run, parse_args(argv), "bench_stream_")


if __name__ == "__main__":
    sys.exit(main())
