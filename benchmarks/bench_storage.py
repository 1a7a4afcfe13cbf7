"""Storage benchmark (docs/performance.md): Zarr v3 stores vs peers.

Workload: N rows (100 000 by default) of a frame with schema ``["sample"]``:

* ``sample_values``: a ragged ``large_list<float32>`` of 50..150 values per row (uniform,
  fixed seed; about 10^7 standard-normal values in all);
* ``sample_id``: int64 (random);
* ``sample_name``: short ``large_string`` (4..12 random lowercase letters).

MB/s always counts the bytes of the Arrow buffers of that table (offsets, values, ids,
string offsets and bytes: about 43 MB), whatever a format writes to disk. Every peer is
measured in the same run, on files under one temporary directory (``--dir``, /tmp by
default) that is deleted at the end:

1. **Save / full load**: ``gr.save`` / ``gr.load`` (default settings) against ``np.save``
   / ``np.load`` of the same five buffers (one ``.npy`` each: the raw limit), Parquet
   (``pyarrow.parquet``; default snappy and uncompressed), the Arrow IPC file format (write,
   then read into memory like ``memory_map=False``; and a memory-mapped open, zero-copy, on
   a line of its own) and Lance when ``pylance`` is installed. Loads are timed with the OS
   page cache warm (the files were just written) and cold (dropped before every call with
   ``posix_fadvise(POSIX_FADV_DONTNEED)`` after an ``fsync``, which needs no root). Saves
   are timed into the page cache: every peer's files are synced after the timed call, so
   write-back never lands in the next measurement. A grid of inner ``chunk_size`` (the
   default by bytes, 2^9, 2^11, 2^13 values) x compressor (auto, none, zstd, blosc) shows
   the choice of defaults, with random-access
   times of each store. Bars: load >= 50 % of ``np.load`` and faster than Parquet.
2. **Random access**: 200 batches of 32 random rows (distinct within a batch, random order;
   the same index sets for every peer). *Cold*: a fresh handle after the page cache of the
   peer's files was dropped (the pass warms it as it goes). *Cold handle*: a fresh handle,
   page cache warm (it is after one pass). *Warm*: the same handle after one untimed pass
   (grumpy: the default chunk cache). Opening is timed apart. Peers: Parquet ``read_table``
   + ``take`` and a naive per-row zarr-python read (``zarr.open_array`` on grumpy's leaves,
   offsets read once at open, then one slice per leaf and row), both on a few batches only
   (they are slow); an Arrow IPC memory map + ``take``; ``take`` on the in-memory table; Lance
   ``take``. Bars: cold faster than Lance; warm within 2x of the in-memory Arrow take; warm
   >= 10x Parquet and the naive read.
3. **Append**: 200 ``gr.append`` calls of 1000 rows each to a store created empty; every
   call is timed. Bar: last / first <= 1.5 (the median of the last 10 over that of the first
   10 is shown too: one call is noisy). Total vs one ``gr.save`` of the same rows (and vs
   ``gr.save`` of an iterator of the batches).

Before timing, grumpy's loads (every store of the grid) and all random batches are checked
against the in-memory table, and every peer's results are checked too. Times are the best
of several calls or passes (the garbage collector is paused, as :mod:`timeit` does).

Usage::

    python benchmarks/bench_storage.py                       # full run, a few minutes
    python benchmarks/bench_storage.py --quick               # fewer calls, no grid, ~40 s
    python benchmarks/bench_storage.py --smoke               # tiny sizes, seconds (CI)
    python benchmarks/bench_storage.py --markdown out.md     # also write Markdown tables
    python benchmarks/bench_storage.py --profile             # + pools vs serial, cProfile
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import io
import os
import pstats
import shutil
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import zarr
from _common import (
    CAN_DROP,
    Report,
    Table,
    best_of,
    check,
    drop_page_cache,
    files_under,
    filesystem,
    host_info,
    optional_version,
    run_in_scratch,
    tables_equal,
    timed,
    version_info,
)

import grumpy_arrow as gr

os.environ.setdefault("LANCE_LOG", "error")  # no "creating a new dataset" warnings

SCHEMA = ["sample"]
MB = 1e6
# Inner-chunk lengths (values) of the grid; None: the default (16 KiB of raw values, 4 KiB
# of compressed ones, per leaf).
CHUNK_SIZES: tuple[int | None, ...] = (None, 2**9, 2**11, 2**13)
COMPRESSORS = ("auto", "none", "zstd", "blosc")
DEFAULT_CHUNK = None  # grumpy's default (writer.DEFAULT_CHUNK); checked against the manifest

Take = Callable[[np.ndarray], Any]


def import_lance() -> Any:
    """The ``lance`` module, or None when ``pylance`` is not installed."""
    try:
        import lance
    except ImportError:
        return None
    return lance


# ---------------------------------------------------------------------------------------
# workload


@dataclass(frozen=True)
class Sizes:
    """How big the workload is and how often things are timed."""

    rows: int
    mean_len: int  # values per row: mean_len // 2 .. mean_len * 3 // 2
    batches: int  # random batches per pass
    batch_rows: int
    slow_batches: int  # batches per pass for Parquet and the naive zarr read
    grid_batches: int  # batches per pass for the chunk/compressor grid
    grid_budget_s: float  # ... or fewer when a pass takes longer than this
    appends: int
    append_rows: int
    repeat: int  # calls per load (best of)
    save_repeat: int
    passes: int  # timed passes per random-access mode


FULL = Sizes(
    rows=100_000,
    mean_len=100,
    batches=200,
    batch_rows=32,
    slow_batches=5,
    grid_batches=100,
    grid_budget_s=1.0,
    appends=200,
    append_rows=1000,
    repeat=5,
    save_repeat=3,
    passes=3,
)
# the same table, fewer batches, calls and appends, and no chunk/codec grid (run_all.py
# --quick): the bars' ratios are real, only noisier
QUICK = Sizes(
    rows=100_000,
    mean_len=100,
    batches=100,
    batch_rows=32,
    slow_batches=3,
    grid_batches=30,
    grid_budget_s=0.25,
    appends=100,
    append_rows=1000,
    repeat=3,
    save_repeat=1,
    passes=2,
)
SMOKE = Sizes(
    rows=2000,
    mean_len=10,
    batches=10,
    batch_rows=8,
    slow_batches=2,
    grid_batches=5,
    grid_budget_s=0.05,
    appends=5,
    append_rows=50,
    repeat=1,
    save_repeat=1,
    passes=1,
)


@dataclass(frozen=True)
class Workload:
    """The table, its grumpy frame, its Arrow buffers and the random batches."""

    table: pa.Table
    frame: Any
    buffers: dict[str, np.ndarray]
    batches: list[np.ndarray] = field(repr=False)

    @property
    def nbytes(self) -> int:
        return sum(b.nbytes for b in self.buffers.values())

    @property
    def values(self) -> int:
        return len(self.buffers["sample_values.values"])


def make_table(rows: int, mean_len: int, rng: np.random.Generator) -> pa.Table:
    """The three columns, built from NumPy buffers (no Python lists)."""
    lens = rng.integers(mean_len // 2, mean_len * 3 // 2 + 1, size=rows)
    offsets = np.zeros(rows + 1, dtype=np.int64)
    np.cumsum(lens, out=offsets[1:])
    values = rng.standard_normal(int(offsets[-1]), dtype=np.float32)
    ids = rng.integers(0, 2**62, size=rows, dtype=np.int64)
    name_lens = rng.integers(4, 13, size=rows)
    name_offsets = np.zeros(rows + 1, dtype=np.int64)
    np.cumsum(name_lens, out=name_offsets[1:])
    letters = rng.integers(ord("a"), ord("z") + 1, size=int(name_offsets[-1]), dtype=np.uint8)
    names = pa.LargeStringArray.from_buffers(
        rows, pa.py_buffer(name_offsets), pa.py_buffer(letters)
    )
    return pa.table(
        {
            "sample_id": pa.array(ids),
            "sample_name": names,
            "sample_values": pa.LargeListArray.from_arrays(pa.array(offsets), pa.array(values)),
        }
    )


def table_buffers(table: pa.Table) -> dict[str, np.ndarray]:
    """The Arrow buffers of the table as NumPy arrays (zero-copy)."""
    names = table.column("sample_name").combine_chunks()
    lists = table.column("sample_values").combine_chunks()
    _, name_off, name_data = names.buffers()
    return {
        "sample_id": table.column("sample_id").combine_chunks().to_numpy(),
        "sample_name.offsets": np.frombuffer(name_off, dtype=np.int64),
        "sample_name.data": np.frombuffer(name_data, dtype=np.uint8),
        "sample_values.offsets": lists.offsets.to_numpy(),
        "sample_values.values": lists.values.to_numpy(),
    }


def make_workload(sizes: Sizes, seed: int) -> Workload:
    rng = np.random.default_rng(seed)
    table = make_table(sizes.rows, sizes.mean_len, rng)
    batches = [
        rng.choice(sizes.rows, size=sizes.batch_rows, replace=False).astype(np.int64)
        for _ in range(sizes.batches)
    ]
    frame = gr.from_arrow(table, schema=SCHEMA)
    return Workload(table, frame, table_buffers(table), batches)


# ---------------------------------------------------------------------------------------
# files, page cache, checks


def disk_bytes(path: Path) -> int:
    """Bytes allocated on disk (sparse chunk files count what they hold)."""
    return sum(f.stat().st_blocks * 512 for f in files_under(path))


def sync(path: Path) -> None:
    """fsync every file under ``path`` (write-back now, not during the next timing)."""
    from grumpy_arrow.storage.atomic import fsync_file

    for f in files_under(path):
        fsync_file(str(f))


def remove(path: Path) -> None:
    if path.is_dir():
        shutil.rmtree(path)
    elif path.exists():
        path.unlink()


def as_table(x: Any) -> pa.Table:
    if isinstance(x, pa.Table):
        return x
    return x.to_arrow()


def same_table(got: Any, want: pa.Table) -> bool:
    """Same columns with equal values (types cast to the wanted ones; metadata ignored)."""
    return tables_equal(as_table(got), want)


# ---------------------------------------------------------------------------------------
# timing


def run_pass(take: Take, batches: list[np.ndarray]) -> float:
    """Seconds for one pass of ``take`` over the batches."""

    def go() -> None:
        for idx in batches:
            take(idx)

    return timed(go)


def budget_pass(take: Take, batches: list[np.ndarray], budget_s: float) -> int:
    """How many batches fit in ``budget_s`` (at least 3, at most all), measured once."""
    start = time.perf_counter()
    for n, idx in enumerate(batches, 1):
        take(idx)
        if time.perf_counter() - start > budget_s and n >= 3:
            return n
    return len(batches)


# ---------------------------------------------------------------------------------------
# 1. save and full load


@dataclass
class Format:
    """A way to write the table and read all of it back."""

    name: str
    path: Path
    save: Callable[[Path], Any] | None  # None: reads the file another format wrote
    load: Callable[[Path], Any]
    check: Callable[[Any], bool]
    note: str = ""


@dataclass
class IORow:
    name: str
    save_s: float | None
    load_s: float
    cold_s: float | None
    disk: int
    note: str = ""


def npy_save(buffers: dict[str, np.ndarray]) -> Callable[[Path], None]:
    def save(path: Path) -> None:
        path.mkdir()
        for key, arr in buffers.items():
            np.save(path / f"{key}.npy", arr)

    return save


def npy_load(keys: list[str]) -> Callable[[Path], dict[str, np.ndarray]]:
    def load(path: Path) -> dict[str, np.ndarray]:
        return {key: np.load(path / f"{key}.npy") for key in keys}

    return load


def ipc_save(table: pa.Table) -> Callable[[Path], None]:
    def save(path: Path) -> None:
        with pa.OSFile(str(path), "wb") as sink, pa.ipc.new_file(sink, table.schema) as writer:
            writer.write_table(table)

    return save


def ipc_read(path: Path) -> pa.Table:
    """Read into memory (what ``memory_map=False`` does)."""
    with pa.OSFile(str(path)) as source:
        return pa.ipc.open_file(source).read_all()


def ipc_mmap(path: Path) -> pa.Table:
    return pa.ipc.open_file(pa.memory_map(str(path))).read_all()


def formats(w: Workload, root: Path, lance: Any) -> list[Format]:
    table, buffers = w.table, w.buffers

    def same(x: Any) -> bool:
        return same_table(x, table)

    def same_npy(x: dict[str, np.ndarray]) -> bool:
        return all(np.array_equal(x[k], v) for k, v in buffers.items())

    out = [
        Format(
            "np.save / np.load",
            root / "npy",
            npy_save(buffers),
            npy_load(list(buffers)),
            same_npy,
            "raw limit: 5 .npy files",
        ),
        Format(
            "grumpy (default)",
            root / "default.gr",
            lambda p: gr.save(w.frame, p),
            gr.load,
            same,
            "gr.save / gr.load",
        ),
        Format(
            "Parquet (snappy)",
            root / "snappy.parquet",
            lambda p: pq.write_table(table, p),
            pq.read_table,
            same,
            "default compression",
        ),
        Format(
            "Parquet (none)",
            root / "none.parquet",
            lambda p: pq.write_table(table, p, compression="none"),
            pq.read_table,
            same,
        ),
        Format(
            "Arrow IPC file",
            root / "table.arrow",
            ipc_save(table),
            ipc_read,
            same,
            "read into memory",
        ),
        Format(
            "Arrow IPC memory map",
            root / "table.arrow",
            None,
            ipc_mmap,
            same,
            "zero-copy open: no bytes read",
        ),
    ]
    if lance is not None:
        out.append(
            Format(
                "Lance",
                root / "table.lance",
                lambda p: lance.write_dataset(table, str(p), mode="create"),
                lambda p: lance.dataset(str(p)).to_table(),
                same,
                "to_table()",
            )
        )
    return out


def measure_format(fmt: Format, sizes: Sizes) -> IORow:
    """Save (best of, synced after each), check, load warm and cold (best of)."""
    save_s = None
    if fmt.save is not None:
        save = fmt.save
        save_s = best_of(
            lambda: save(fmt.path),
            sizes.save_repeat,
            before=lambda: remove(fmt.path),
            after=lambda: sync(fmt.path),
        )
    check(fmt.check(fmt.load(fmt.path)), f"{fmt.name} load")
    load_s = best_of(lambda: fmt.load(fmt.path), sizes.repeat)
    cold_s = best_of(
        lambda: fmt.load(fmt.path),
        min(sizes.repeat, 3),
        before=lambda: drop_page_cache(fmt.path),
    )
    return IORow(fmt.name, save_s, load_s, cold_s, disk_bytes(fmt.path), fmt.note)


@dataclass
class GridRow:
    chunk: int
    compressor: str
    save_s: float
    load_s: float
    disk: int
    handle_ms: float  # random batch, fresh handle, cache="none", page cache warm
    warm_ms: float  # random batch, default chunk cache, after one pass
    batches: int


def measure_config(
    w: Workload, path: Path, chunk: int | None, compressor: str, sizes: Sizes
) -> GridRow:
    """Save, check, load and random batches of one ``chunk_size`` / compressor store."""
    want = w.table

    def save() -> None:
        gr.save(w.frame, path, chunk_size=chunk, compressor=compressor)

    save_s = best_of(save, sizes.save_repeat, before=lambda: remove(path), after=lambda: sync(path))
    check(same_table(gr.load(path), want), f"gr.load of chunk {chunk} {compressor}")
    load_s = best_of(lambda: gr.load(path), sizes.repeat)
    # random access: how many batches fit the budget, then best of two passes
    handle = gr.open(path, cache="none")
    for idx in w.batches[:3]:
        check(same_table(handle.take(idx), want.take(idx)), f"take {chunk} {compressor}")
    n = budget_pass(gr.open(path, cache="none").take, w.batches, sizes.grid_budget_s)
    n = min(n, sizes.grid_batches)
    batches = w.batches[:n]
    handle_s = min(run_pass(gr.open(path, cache="none").take, batches) for _ in range(2))
    warm = gr.open(path)
    run_pass(warm.take, batches)
    warm_s = min(run_pass(warm.take, batches) for _ in range(2))
    return GridRow(
        chunk,
        compressor,
        save_s,
        load_s,
        disk_bytes(path),
        handle_s / n * 1e3,
        warm_s / n * 1e3,
        n,
    )


def measure_grid(
    w: Workload, root: Path, sizes: Sizes, log: Callable[[str], None]
) -> list[GridRow]:
    rows = []
    for compressor in COMPRESSORS:
        for chunk in CHUNK_SIZES:
            path = root / f"grid-{chunk}-{compressor}.gr"
            rows.append(measure_config(w, path, chunk, compressor, sizes))
            log(f"  grid chunk_size={chunk} compressor={compressor}: done")
            remove(path)
    return rows


# ---------------------------------------------------------------------------------------
# 2. random access


@dataclass
class Access:
    """A peer that opens something and then takes batches of rows."""

    name: str
    open: Callable[[], Take]
    files: Path | None  # what the cold pass evicts; None: in memory, no cold pass
    limit: int  # batches per pass
    note: str = ""
    open_warm: Callable[[], Take] | None = None  # the warm handle, when not ``open``


@dataclass
class AccessRow:
    name: str
    batches: int
    open_ms: float | None
    cold_ms: float | None  # per batch, page cache dropped before the pass
    handle_ms: float | None  # per batch, fresh handle, page cache warm
    warm_ms: float  # per batch, after one pass with the same handle
    note: str = ""


class NaiveZarr:
    """zarr-python on grumpy's leaves: offsets read once, then one slice per leaf and row."""

    def __init__(self, path: Path) -> None:
        manifest = gr.open(path).manifest
        ids: Any = manifest.column("sample_id").layout  # a LeafLayout
        names: Any = manifest.column("sample_name").layout  # a LeafLayout of strings
        lists: Any = manifest.column("sample_values").layout  # a ListLayout of a leaf

        def leaf(name: str) -> Any:
            return zarr.open_array(store=str(path), path=name, mode="r")

        self.ids = leaf(ids.values)
        self.name_data = leaf(names.data)
        self.values = leaf(lists.content.values)
        self.name_offsets = np.asarray(leaf(names.offsets)[:])
        self.value_offsets = np.asarray(leaf(lists.offsets)[:])

    def take(self, idx: np.ndarray) -> pa.Table:
        no, vo = self.name_offsets, self.value_offsets
        ids = [int(self.ids[int(i)]) for i in idx]
        names = [bytes(np.asarray(self.name_data[no[i] : no[i + 1]])).decode() for i in idx]
        parts = [np.asarray(self.values[vo[i] : vo[i + 1]]) for i in idx]
        offsets = np.zeros(len(idx) + 1, dtype=np.int64)
        np.cumsum([len(p) for p in parts], out=offsets[1:])
        values = np.concatenate(parts) if parts else np.zeros(0, np.float32)
        return pa.table(
            {
                "sample_id": pa.array(ids, pa.int64()),
                "sample_name": pa.array(names, pa.large_string()),
                "sample_values": pa.LargeListArray.from_arrays(pa.array(offsets), pa.array(values)),
            }
        )


def accesses(w: Workload, root: Path, sizes: Sizes, lance: Any) -> list[Access]:
    """The peers of the random-access table (their files were written by section 1)."""
    table = w.table
    store = root / "default.gr"
    parquet = root / "snappy.parquet"
    arrow = root / "table.arrow"
    out = [
        Access(
            "grumpy",
            lambda: gr.open(store, cache="none").take,
            store,
            sizes.batches,
            'gr.open(cache="none") cold; default chunk cache warm',
            lambda: gr.open(store).take,
        ),
        Access("in-memory Arrow take", lambda: table.take, None, sizes.batches, "pa.Table.take"),
        Access(
            "Arrow IPC memory map",
            lambda: ipc_mmap(arrow).take,
            arrow,
            sizes.batches,
            "open_file(memory_map).read_all().take",
        ),
        Access(
            "Parquet read_table + take",
            lambda: lambda idx: pq.read_table(parquet).take(idx),
            parquet,
            sizes.slow_batches,
            "snappy file; every batch reads the file",
        ),
        Access(
            "naive zarr per-row read",
            lambda: NaiveZarr(store).take,
            store,
            sizes.slow_batches,
            "zarr.open_array, one slice per leaf and row",
        ),
    ]
    if lance is not None:
        path = root / "table.lance"
        out.append(Access("Lance take", lambda: lance.dataset(str(path)).take, path, sizes.batches))
    return out


def check_access(acc: Access, w: Workload, batches: list[np.ndarray]) -> None:
    take = acc.open()
    for idx in batches:
        check(same_table(take(idx), w.table.take(idx)), f"{acc.name} batch")


def measure_access(acc: Access, w: Workload, sizes: Sizes) -> AccessRow:
    """Cold (page cache dropped), cold handle and warm passes; per-batch ms (best pass)."""
    batches = w.batches[: acc.limit]
    n = len(batches)
    opens: list[float] = []

    def fresh() -> Take:
        start = time.perf_counter()
        take = acc.open()
        opens.append(time.perf_counter() - start)
        return take

    cold = handle = None
    if acc.files is not None:
        best = float("inf")
        for _ in range(sizes.passes):
            drop_page_cache(acc.files)
            best = min(best, run_pass(fresh(), batches))
        cold = best / n * 1e3
        best = float("inf")
        for _ in range(sizes.passes):
            best = min(best, run_pass(fresh(), batches))
        handle = best / n * 1e3
    take = (acc.open_warm or acc.open)()
    run_pass(take, batches)
    warm = min(run_pass(take, batches) for _ in range(sizes.passes)) / n * 1e3
    open_ms = min(opens) * 1e3 if opens else None
    return AccessRow(acc.name, n, open_ms, cold, handle, warm, acc.note)


# ---------------------------------------------------------------------------------------
# 3. append


@dataclass
class AppendResult:
    create_s: float
    times: list[float]
    save_once_s: float
    save_iter_s: float
    rows: int

    @property
    def total(self) -> float:
        return sum(self.times)

    def head_tail(self, k: int = 10) -> float:
        k = max(1, min(k, len(self.times) // 2))
        return statistics.median(self.times[-k:]) / statistics.median(self.times[:k])


def appender(frame: Any, path: Path) -> Callable[[], None]:
    def go() -> None:
        gr.append(frame, path)

    return go


def run_append(sizes: Sizes, root: Path, seed: int) -> AppendResult:
    rng = np.random.default_rng(seed + 1)
    table = make_table(sizes.appends * sizes.append_rows, sizes.mean_len, rng)
    r = sizes.append_rows
    frames = [gr.from_arrow(table.slice(k * r, r), schema=SCHEMA) for k in range(sizes.appends)]
    path = root / "append.gr"
    remove(path)
    create_s = timed(lambda: gr.save(gr.from_arrow(table.slice(0, 0), schema=SCHEMA), path))
    times = [timed(appender(frame, path)) for frame in frames]
    check(same_table(gr.load(path), table), "gr.load after the appends")
    once = root / "append-once.gr"
    whole = gr.from_arrow(table, schema=SCHEMA)
    save_once_s = best_of(
        lambda: gr.save(whole, once),
        sizes.save_repeat,
        before=lambda: remove(once),
        after=lambda: sync(once),
    )
    check(same_table(gr.load(once), table), "gr.load after one save")
    it = root / "append-iter.gr"
    save_iter_s = best_of(
        lambda: gr.save(iter(frames), it),
        1,
        before=lambda: remove(it),
        after=lambda: sync(it),
    )
    check(same_table(gr.load(it), table), "gr.load after gr.save(iterator)")
    for p in (path, once, it):
        remove(p)
    return AppendResult(create_s, times, save_once_s, save_iter_s, table.num_rows)


# ---------------------------------------------------------------------------------------
# profile (--profile)


def profile(label: str, fn: Callable[[], Any], top: int = 14, sort: str = "tottime") -> str:
    """The functions with the most time (own, or ``sort="cumulative"``) in ``fn``."""
    prof = cProfile.Profile()
    prof.enable()
    fn()
    prof.disable()
    out = io.StringIO()
    stats = pstats.Stats(prof, stream=out).strip_dirs().sort_stats(sort)
    stats.print_stats(top)
    lines = [ln for ln in out.getvalue().splitlines() if ln.strip()]
    start = next((k for k, ln in enumerate(lines) if "function calls" in ln), 0)
    return "\n".join([f"--- profile: {label}", *lines[start:]])


class SerialExecutor:
    """A stand-in for ``ThreadPoolExecutor`` that maps in the calling thread (diagnostic)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        pass

    def __enter__(self) -> SerialExecutor:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def map(self, fn: Callable[..., Any], *iterables: Any) -> Iterator[Any]:
        return iter(list(map(fn, *iterables)))


@contextlib.contextmanager
def serial_pools() -> Iterator[None]:
    """Run grumpy's per-call thread pools (take, load) serially, for this block only.

    cProfile sees only the calling thread, and the comparison shows what the pools cost.
    Only attributes of the imported modules are swapped; the library is not edited.
    """
    import grumpy_arrow.storage.api as api_mod
    import grumpy_arrow.storage.handle as handle_mod

    saved = [(m, m.ThreadPoolExecutor) for m in (api_mod, handle_mod)]
    for m, _ in saved:
        setattr(m, "ThreadPoolExecutor", SerialExecutor)  # noqa: B010
    try:
        yield
    finally:
        for m, pool in saved:
            setattr(m, "ThreadPoolExecutor", pool)  # noqa: B010


def diagnostics(w: Workload, root: Path, sizes: Sizes) -> tuple[Table, list[str]]:
    """Pools vs serial (ms), then cProfile of the serial runs and of appends."""
    store = root / "default.gr"
    batches = w.batches
    n = len(batches)

    def take_ms(cache: str, warm: bool) -> float:
        best = float("inf")
        handle = gr.open(store, cache=cache)
        run_pass(handle.take, batches)  # warm: fills the cache; cold handle: page cache
        for _ in range(sizes.passes):
            if not warm:
                handle = gr.open(store, cache=cache)
            best = min(best, run_pass(handle.take, batches))
        return best / n * 1e3

    def load_ms() -> float:
        return best_of(lambda: gr.load(store), sizes.repeat) * 1e3

    cases: list[tuple[str, Callable[[], float]]] = [
        ("take, cold handle (cache='none') ms/batch", lambda: take_ms("none", False)),
        ("take, warm chunk cache ms/batch", lambda: take_ms("chunks", True)),
        ("gr.load ms", load_ms),
    ]
    table = Table(
        "Diagnostic: grumpy with its per-call thread pools vs the same calls run serially",
        ["call", "pooled", "serial", "pooled / serial"],
    )
    for label, fn in cases:
        pooled = fn()
        with serial_pools():
            serial = fn()
        table.rows.append([label, f"{pooled:.3f}", f"{serial:.3f}", _x(pooled / serial)])
    counter = gr.open(store, cache="none")
    run_pass(counter.take, batches)
    st = counter.stats()
    table.notes = [
        f"cache='none' reads per batch: {st['calls'] / n:.0f} read calls, "
        f"{st['bytes_read'] / n / 1e3:.0f} kB (the rows' own bytes: "
        f"{w.nbytes / sizes.rows * sizes.batch_rows / 1e3:.0f} kB)",
    ]
    texts = []
    with serial_pools():
        texts.append(
            profile(
                "gr.load x3 (serial)",
                lambda: [gr.load(store) for _ in range(3)],
                sort="cumulative",
            )
        )
        cold = gr.open(store, cache="none")
        run_pass(cold.take, batches)
        texts.append(
            profile(f"{n} takes, cache='none' (serial)", lambda: run_pass(cold.take, batches))
        )
        warm = gr.open(store)
        run_pass(warm.take, batches)
        texts.append(
            profile(f"{n} takes, warm cache (serial)", lambda: run_pass(warm.take, batches))
        )
    rng = np.random.default_rng(7)
    k = min(50, sizes.appends)
    table_a = make_table(k * sizes.append_rows, sizes.mean_len, rng)
    frames = [
        gr.from_arrow(table_a.slice(i * sizes.append_rows, sizes.append_rows), schema=SCHEMA)
        for i in range(k)
    ]
    path = root / "profile-append.gr"
    gr.save(gr.from_arrow(table_a.slice(0, 0), schema=SCHEMA), path)

    def appends() -> None:
        for f in frames:
            gr.append(f, path)

    label = f"{k} x gr.append (zarr-python runs its I/O in its own thread)"
    texts.append(profile(label, appends, top=24, sort="cumulative"))
    remove(path)
    return table, texts


# ---------------------------------------------------------------------------------------
# report


def _ms(s: float | None, scale: float = 1e3) -> str:
    if s is None:
        return "n/a"
    x = s * scale
    return f"{x:.3f}" if x < 1 else f"{x:.2f}" if x < 100 else f"{x:.0f}"


def _mbs(nbytes: int, s: float | None) -> str:
    return "n/a" if s is None or s <= 0 else f"{nbytes / MB / s:,.0f}"


def _x(r: float | None) -> str:
    return "n/a" if r is None else f"{r:.2f}x" if r < 100 else f"{r:.0f}x"


def io_table(rows: list[IORow], nbytes: int) -> Table:
    npy = next(r for r in rows if r.name.startswith("np."))
    out = Table(
        f"Save and full load ({nbytes / MB:.1f} MB of Arrow buffers; MB = 10^6 bytes)",
        [
            "format",
            "save ms",
            "save MB/s",
            "load ms",
            "load MB/s",
            "vs np.load",
            "cold load ms",
            "cold MB/s",
            "on disk MB",
            "note",
        ],
        left=(0, 9),
    )
    for r in rows:
        out.rows.append(
            [
                r.name,
                _ms(r.save_s),
                _mbs(nbytes, r.save_s),
                _ms(r.load_s),
                _mbs(nbytes, r.load_s),
                f"{npy.load_s / r.load_s:.0%}",
                _ms(r.cold_s),
                _mbs(nbytes, r.cold_s),
                f"{r.disk / MB:.1f}",
                r.note,
            ]
        )
    out.notes = [
        "load: page cache warm (just written); cold load: the format's files dropped from the",
        "page cache before each call (fsync + posix_fadvise DONTNEED)"
        + ("" if CAN_DROP else " - NOT AVAILABLE here, so cold = warm")
        + "; best of several calls.",
        "save: into the page cache (files fsynced after the timed call, untimed).",
    ]
    return out


def grid_table(rows: list[GridRow], nbytes: int) -> Table:
    out = Table(
        "grumpy chunk_size x compressor (gr.save / gr.load; random batches of the store)",
        [
            "chunk_size",
            "compressor",
            "save ms",
            "save MB/s",
            "load ms",
            "load MB/s",
            "on disk MB",
            "rand cold-handle ms/batch",
            "rand warm ms/batch",
            "batches",
        ],
        left=(0, 1),
    )
    for r in rows:
        mark = " (default)" if r.chunk is None and r.compressor == "auto" else ""
        out.rows.append(
            [
                f"{_chunk(r.chunk)}{mark}",
                r.compressor,
                _ms(r.save_s),
                _mbs(nbytes, r.save_s),
                _ms(r.load_s),
                _mbs(nbytes, r.load_s),
                f"{r.disk / MB:.1f}",
                _ms(r.handle_ms, 1),
                _ms(r.warm_ms, 1),
                str(r.batches),
            ]
        )
    best_load = min(rows, key=lambda r: r.load_s)
    best_rand = min(rows, key=lambda r: r.handle_ms)
    out.notes = [
        "rand cold-handle: gr.open(cache='none') fresh per pass, page cache warm; rand warm:",
        "gr.open() default chunk cache after one pass; batches: as many as fit the time budget.",
        f"fastest load: {_chunk(best_load.chunk)} {best_load.compressor}; fastest "
        f"cold-handle batch: {_chunk(best_rand.chunk)} {best_rand.compressor}.",
    ]
    return out


def _chunk(chunk: int | None) -> str:
    return "by bytes" if chunk is None else f"2^{chunk.bit_length() - 1}"


def access_table(rows: list[AccessRow], batch_rows: int) -> Table:
    me = next(r for r in rows if r.name == "grumpy")

    def per_batch(ms: float | None) -> list[str]:
        return [_ms(ms, 1), "n/a" if ms is None else f"{1e3 / ms:,.0f}"]

    def speedup(mine: float | None, theirs: float | None) -> str:
        return _x(None if mine is None or theirs is None else theirs / mine)

    out = Table(
        f"Random access: batches of {batch_rows} random rows (ms/batch and batches/s)",
        [
            "peer",
            "open ms",
            "cold ms",
            "cold b/s",
            "cold-handle ms",
            "cold-handle b/s",
            "warm ms",
            "warm b/s",
            "grumpy speed-up cold",
            "grumpy speed-up warm",
            "batches",
            "note",
        ],
        left=(0, 11),
    )
    for r in rows:
        out.rows.append(
            [
                r.name,
                _ms(r.open_ms, 1),
                *per_batch(r.cold_ms),
                *per_batch(r.handle_ms),
                *per_batch(r.warm_ms),
                speedup(me.cold_ms, r.cold_ms),
                speedup(me.warm_ms, r.warm_ms),
                str(r.batches),
                r.note,
            ]
        )
    out.notes = [
        "cold: the peer's files dropped from the page cache, then a fresh handle (the pass",
        "warms the page cache as it goes); cold-handle: fresh handle, page cache warm (as it is",
        "after one pass); warm: same handle after one untimed pass. Best of the passes; the",
        "open is timed apart (open ms). speed-up = peer ms / grumpy ms (> 1: grumpy faster).",
    ]
    return out


@contextlib.contextmanager
def read_checks(*, buffers: bool, checksums: bool) -> Iterator[None]:
    """Turn the read-time buffer checks and chunk checksums off for a comparison (the
    library has no switch: a store read unchecked can crash the interpreter)."""
    from grumpy_arrow.storage import buffers as bf
    from grumpy_arrow.storage import checks as ck
    from grumpy_arrow.storage import sharding as sh

    def skip(*args: Any, **kwargs: Any) -> None:
        return None

    names = [
        "check_dtype",
        "check_length",
        "check_offsets",
        "check_positions",
        "check_range_bounds",
        "check_type_ids",
        "check_indices",
    ]
    saved = [(ck, n, getattr(ck, n)) for n in names]
    saved += [(bf, "_check_utf8", bf._check_utf8), (sh, "verify", sh.verify)]

    def unchecked(data: Any, where: str) -> memoryview:
        return memoryview(data).cast("B")[:-4]

    try:
        if not buffers:
            for module, name, _ in saved[:-1]:
                setattr(module, name, skip)
        if not checksums:
            sh.verify = unchecked
        yield
    finally:
        for module, name, fn in saved:
            setattr(module, name, fn)


def measure_checks(path: Path, sizes: Sizes, batches: list[np.ndarray]) -> Table:
    """What validating buffers and verifying checksums cost a load and a random batch of
    the default store (modes interleaved, medians of ``sizes.repeat * 3`` calls each)."""
    modes = {
        "checks and checksums (the default)": (True, True),
        "buffer checks only": (True, False),
        "checksums only": (False, True),
        "neither": (False, False),
    }
    loads: dict[str, list[float]] = {m: [] for m in modes}
    takes: dict[str, list[float]] = {m: [] for m in modes}
    handle = gr.open(path, cache="none")
    for i in range(sizes.repeat * 3):
        for mode, (buffers, checksums) in modes.items():
            with read_checks(buffers=buffers, checksums=checksums):
                start = time.perf_counter()
                gr.load(path)
                loads[mode].append(time.perf_counter() - start)
                start = time.perf_counter()
                handle[batches[i % len(batches)]]
                takes[mode].append(time.perf_counter() - start)
    base_load = statistics.median(loads["neither"])
    base_take = statistics.median(takes["neither"])
    out = Table(
        "Read checks: gr.load and one random batch (cache='none') of the default store",
        ["mode", "load ms", "load vs neither", "batch ms", "batch vs neither"],
    )
    for mode in modes:
        load, take = statistics.median(loads[mode]), statistics.median(takes[mode])
        out.rows.append([mode, _ms(load), _x(load / base_load), _ms(take), _x(take / base_take)])
    out.notes.append(
        "Buffer checks: offsets, union type ids and value offsets, dictionary indices, "
        "validity lengths, dtypes, UTF-8. Checksums: the crc32c of every inner chunk and "
        "shard index read (raw chunks of a mapped shard once per open shard)."
    )
    return out


def append_table(res: AppendResult, sizes: Sizes) -> Table:
    t = res.times
    out = Table(
        f"Append: {len(t)} x gr.append of {sizes.append_rows} rows (~{sizes.mean_len} values "
        "each) to an empty store",
        ["measure", "value"],
    )
    out.rows = [
        ["create empty store (gr.save of 0 rows) ms", _ms(res.create_s)],
        ["first append ms", _ms(t[0])],
        ["median append ms", _ms(statistics.median(t))],
        ["last append ms", _ms(t[-1])],
        ["slowest append ms", _ms(max(t))],
        ["last / first", _x(t[-1] / t[0])],
        ["median of last 10 / median of first 10", _x(res.head_tail())],
        [f"total of {len(t)} appends ms", _ms(res.total)],
        [f"one gr.save of the same {res.rows} rows ms", _ms(res.save_once_s)],
        ["appends total / save once", _x(res.total / res.save_once_s)],
        [f"gr.save(iterator of the {len(t)} batches) ms", _ms(res.save_iter_s)],
    ]
    return out


@dataclass
class Bar:
    name: str
    measured: str
    ok: bool | None  # None: a peer is missing

    @property
    def verdict(self) -> str:
        return "n/a" if self.ok is None else "met" if self.ok else "NOT MET"


def bars(
    io: list[IORow], access: list[AccessRow], res: AppendResult | None, nbytes: int
) -> list[Bar]:
    by = {r.name: r for r in io}
    me, npy = by["grumpy (default)"], by["np.save / np.load"]
    parquet = min((by["Parquet (snappy)"], by["Parquet (none)"]), key=lambda r: r.load_s)
    share = npy.load_s / me.load_s
    cold_share = None if npy.cold_s is None or me.cold_s is None else npy.cold_s / me.cold_s
    out = [
        Bar(
            "load >= 50 % of np.load",
            f"{_mbs(nbytes, me.load_s)} vs {_mbs(nbytes, npy.load_s)} MB/s = {share:.0%}"
            + ("" if cold_share is None else f" (cold: {cold_share:.0%})"),
            share >= 0.5,
        ),
        Bar(
            "load faster than Parquet",
            f"{_ms(me.load_s)} ms vs {_ms(parquet.load_s)} ms ({parquet.name}): "
            f"{_x(parquet.load_s / me.load_s)}",
            me.load_s < parquet.load_s,
        ),
    ]
    acc = {r.name: r for r in access}
    g = acc["grumpy"]
    lance = acc.get("Lance take")
    if lance is None or lance.cold_ms is None or g.cold_ms is None:
        out.append(Bar("random cold faster than Lance take", "Lance n/a", None))
    else:
        handle = ""
        if lance.handle_ms is not None and g.handle_ms is not None:
            handle = f"; cold-handle {g.handle_ms:.3f} vs {lance.handle_ms:.3f}"
        out.append(
            Bar(
                "random cold faster than Lance take",
                f"{g.cold_ms:.3f} vs {lance.cold_ms:.3f} ms/batch{handle}",
                g.cold_ms < lance.cold_ms,
            )
        )
    mem = acc["in-memory Arrow take"]
    out.append(
        Bar(
            "random warm within 2x of in-memory Arrow take",
            f"{g.warm_ms:.3f} vs {mem.warm_ms:.3f} ms/batch = {g.warm_ms / mem.warm_ms:.2f}x",
            g.warm_ms <= 2 * mem.warm_ms,
        )
    )
    for peer in ("Parquet read_table + take", "naive zarr per-row read"):
        p = acc[peer]
        cold = ""
        if p.cold_ms is not None and g.cold_ms is not None:
            cold = f"; cold {_x(p.cold_ms / g.cold_ms)}"
        out.append(
            Bar(
                f"random warm >= 10x {peer.split(' ')[0]} {'read' if 'naive' in peer else ''}",
                f"{_x(p.warm_ms / g.warm_ms)} ({p.warm_ms:.2f} vs {g.warm_ms:.3f} ms){cold}",
                p.warm_ms >= 10 * g.warm_ms,
            )
        )
    if res is not None:
        out.append(
            Bar(
                "append last / first <= 1.5",
                f"{_x(res.times[-1] / res.times[0])} (median last 10 / first 10: "
                f"{_x(res.head_tail())})",
                res.times[-1] <= 1.5 * res.times[0],
            )
        )
    return out


def bar_table(items: list[Bar]) -> Table:
    out = Table("Bars", ["bar", "measured", "verdict"], left=(0, 1, 2))
    out.rows = [[b.name.strip(), b.measured, b.verdict] for b in items]
    met = sum(b.ok is True for b in items)
    out.notes = [f"bars met: {met} of {sum(b.ok is not None for b in items)}"]
    return out


# ---------------------------------------------------------------------------------------
# machine


def machine(lance: Any, root: Path) -> list[tuple[str, str]]:
    """What the numbers were measured on."""
    return [
        *host_info(),
        *version_info(),
        ("zarr", zarr.__version__),
        ("pylance", optional_version(lance)),
        ("data dir", f"{root} ({filesystem(root)})"),
        ("page cache drop", "posix_fadvise DONTNEED" if CAN_DROP else "not available"),
    ]


# ---------------------------------------------------------------------------------------
# main


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--smoke", action="store_true", help="tiny sizes, seconds (for CI)")
    mode.add_argument(
        "--quick", action="store_true", help="same table, fewer calls, no chunk/codec grid"
    )
    parser.add_argument("--markdown", type=Path, metavar="PATH", help="also write Markdown")
    parser.add_argument("--dir", type=Path, default=Path("/tmp"), help="where data is written")
    parser.add_argument("--seed", type=int, default=20240917, help="seed of the data")
    parser.add_argument("--no-lance", action="store_true", help="skip Lance (as n/a)")
    parser.add_argument("--no-grid", action="store_true", help="skip the chunk/codec grid")
    parser.add_argument("--no-append", action="store_true", help="skip the append section")
    parser.add_argument(
        "--profile", action="store_true", help="diagnose: thread pools vs serial, cProfile"
    )
    return parser.parse_args(argv)


def run(args: argparse.Namespace, root: Path) -> Report:
    sizes = SMOKE if args.smoke else QUICK if args.quick else FULL
    lance = None if args.no_lance else import_lance()
    report = Report(machine(lance, root))
    for key, value in report.info:
        print(f"{key:>15}: {value}")

    def log(msg: str) -> None:
        print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)

    w = make_workload(sizes, args.seed)
    print(
        f"{'workload':>15}: {sizes.rows} rows, {w.values} float32 values "
        f"({sizes.mean_len // 2}..{sizes.mean_len * 3 // 2} per row) + int64 id + string "
        f"name, schema {SCHEMA}; {w.nbytes / MB:.1f} MB of Arrow buffers; "
        f"{sizes.batches} random batches of {sizes.batch_rows} rows",
        flush=True,
    )
    if len(w.batches) < 2:
        raise SystemExit("need at least 2 batches")

    # 1. save and load
    io_rows = []
    for fmt in formats(w, root, lance):
        io_rows.append(measure_format(fmt, sizes))
        log(f"save/load {fmt.name}: done")
    manifest = gr.open(root / "default.gr").manifest
    if manifest.chunk_size != DEFAULT_CHUNK or manifest.compressor != "auto":
        print(
            f"note: the default store uses chunk_size {manifest.chunk_size}, compressor "
            f"{manifest.compressor}; the grid marks 'by bytes' / auto as the default"
        )
    report.add(io_table(io_rows, w.nbytes))

    # 2. random access (the files of section 1 are reused)
    access_rows = []
    for acc in accesses(w, root, sizes, lance):
        batches = w.batches[: acc.limit]
        check_access(acc, w, batches if acc.name == "grumpy" else batches[:2])
        if acc.open_warm is not None:
            warm = Access(acc.name, acc.open_warm, None, acc.limit)
            check_access(warm, w, batches)
            take = acc.open_warm()
            for _ in range(2):  # first pass fills the cache, the second reads from it
                for idx in batches:
                    check(same_table(take(idx), w.table.take(idx)), "grumpy warm batch")
        access_rows.append(measure_access(acc, w, sizes))
        log(f"random access {acc.name}: done")
    report.add(access_table(access_rows, sizes.batch_rows))
    report.add(measure_checks(root / "default.gr", sizes, w.batches))
    log("read checks: done")

    # chunk size x compressor
    if not (args.no_grid or args.quick):
        report.add(grid_table(measure_grid(w, root, sizes, log), w.nbytes))

    # 3. append
    res = None
    if not args.no_append:
        res = run_append(sizes, root, args.seed)
        log("append: done")
        report.add(append_table(res, sizes))

    report.add(bar_table(bars(io_rows, access_rows, res, w.nbytes)))
    if args.smoke:
        print("smoke run: the sizes are tiny, so timings measure call overhead, not the bars")
    if args.quick:
        print("quick run: fewer calls and appends, no chunk_size x compressor grid")
    if args.profile:
        table, texts = diagnostics(w, root, sizes)
        report.add(table)
        for text in texts:
            print()
            print(text)
            report.extra.append(text)
    return report


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    return run_in_scratch(run, args, "bench_storage_")


if __name__ == "__main__":
    sys.exit(main())
