"""Zarr backends benchmark: zarr-python's read path against zarrs and TensorStore.

The leaves of grumpy stores are plain Zarr v3 arrays, so any Zarr v3 reader can read them.
This script measures what another reader would give on the stores the current code
writes: the molecule frame of ``bench_peers.py`` (20 000 molecules, about 10^7 atoms, in
full mode) saved with ``gr.save`` three times (``compressor="none"``, ``"zstd"``,
``"blosc"``). The leaves are found by walking the store for ``zarr.json`` files of
``node_type`` ``"array"`` (generic Zarr v3, not grumpy's manifest), so the script keeps
working when the manifest changes.

Readers, each optional (skipped with a note when it does not import):

* **zarr-python**, its default codec pipeline: ``zarr.open_array(store=root, path=leaf)``;
* **zarrs**: the same calls with ``zarr.config.set({"codec_pipeline.path":
  "zarrs.ZarrsCodecPipeline", "codec_pipeline.strict": True})`` (strict: an unsupported
  codec or indexing raises instead of falling back to zarr-python's pipeline);
* **TensorStore**: ``ts.open({"driver": "zarr3", "kvstore": {"driver": "file", ...}})``,
  then ``read().result()`` (the default context: no cache pool).

Per store and reader: opening every leaf; a full read of every leaf, one leaf after the
other (best of several, page cache warm; and cold: the store's files dropped from the page
cache with fsync + ``posix_fadvise(POSIX_FADV_DONTNEED)`` before the call, handles open);
32 random 1-element reads per leaf (``a[i:i+1]``, the same positions for every reader;
median µs per read). ``gr.load`` of the whole frame is shown for reference. MB/s counts the
decoded bytes of the leaves. Every reader's full reads and random reads are checked
against zarr-python's default pipeline before timing.

Usage::

    python benchmarks/bench_zarr_backends.py                    # full run, about a minute
    python benchmarks/bench_zarr_backends.py --quick            # 5 000 molecules
    python benchmarks/bench_zarr_backends.py --smoke            # tiny sizes, seconds
    python benchmarks/bench_zarr_backends.py --markdown out.md  # also write Markdown
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import zarr
from _common import (
    CAN_DROP,
    Report,
    Table,
    best_of,
    drop_page_cache,
    filesystem,
    host_info,
    run_in_scratch,
    version_info,
)
from bench_peers import FULL, QUICK, SMOKE, dist_version, imported_from, make_workload, sync

import grumpy_arrow as gr

MB = 1e6
COMPRESSORS = ("none", "zstd", "blosc")
READS = 32  # random 1-element reads per leaf (fewer in smoke mode)

# ---------------------------------------------------------------------------------------
# the leaves of a store


def leaves(root: Path) -> list[str]:
    """Every Zarr v3 array under ``root`` (paths relative to it), sorted."""
    out = []
    for folder, _, files in os.walk(root):
        if "zarr.json" not in files:
            continue
        with open(Path(folder) / "zarr.json", encoding="utf-8") as f:
            meta = json.load(f)
        if meta.get("node_type") == "array":
            out.append(Path(folder).relative_to(root).as_posix())
    return sorted(out)


# ---------------------------------------------------------------------------------------
# readers


@dataclass
class Backend:
    """A Zarr v3 reader: open a leaf, read it whole, read ``[i:i+1]``."""

    name: str
    open: Callable[[Path, str], Any]
    read_all: Callable[[Any], np.ndarray]
    read_one: Callable[[Any, int], np.ndarray]
    context: Callable[[], AbstractContextManager[Any]] = nullcontext
    note: str = ""
    missing: str = ""


def zarr_python() -> Backend:
    def open_(root: Path, leaf: str) -> Any:
        return zarr.open_array(store=str(root), path=leaf, mode="r")

    return Backend(
        "zarr-python",
        open_,
        lambda a: a[:],
        lambda a, i: a[i : i + 1],
        note="default codec pipeline",
    )


def zarrs_backend() -> Backend:
    base = zarr_python()
    try:
        import zarrs  # noqa: F401  (registers nothing: the config below names it)
    except Exception as err:
        return Backend("zarrs", base.open, base.read_all, base.read_one, missing=f"{err}")

    def context() -> AbstractContextManager[Any]:
        return zarr.config.set(
            {"codec_pipeline.path": "zarrs.ZarrsCodecPipeline", "codec_pipeline.strict": True}
        )

    return Backend(
        "zarrs",
        base.open,
        base.read_all,
        base.read_one,
        context,
        "zarr-python API, codec_pipeline zarrs.ZarrsCodecPipeline (strict)",
    )


def tensorstore_backend() -> Backend:
    try:
        import tensorstore as ts
    except Exception as err:
        return Backend(
            "TensorStore", lambda r, leaf: None, np.asarray, np.asarray, missing=f"{err}"
        )

    def open_(root: Path, leaf: str) -> Any:
        spec = {"driver": "zarr3", "kvstore": {"driver": "file", "path": str(root / leaf)}}
        return ts.open(spec, read=True).result()

    return Backend(
        "TensorStore",
        open_,
        lambda a: a.read().result(),
        lambda a, i: a[i : i + 1].read().result(),
        note="zarr3 driver, file kvstore, default context",
    )


# ---------------------------------------------------------------------------------------
# measuring


@dataclass
class Result:
    backend: str
    compressor: str
    open_s: float | None
    read_s: float | None
    cold_s: float | None
    one_us: float | None  # median µs per 1-element read
    reads: int
    nbytes: int
    note: str = ""


def positions(root: Path, names: list[str], reads: int, seed: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    out = {}
    for name in names:
        n = zarr.open_array(store=str(root), path=name, mode="r").shape[0]
        out[name] = rng.integers(0, n, size=min(reads, n)) if n else np.zeros(0, np.int64)
    return out


def measure(
    b: Backend,
    root: Path,
    compressor: str,
    names: list[str],
    want: dict[str, np.ndarray],
    picks: dict[str, np.ndarray],
    repeat: int,
) -> Result:
    nbytes = sum(v.nbytes for v in want.values())
    if b.missing:
        return Result(b.name, compressor, None, None, None, None, 0, nbytes, b.missing)
    try:
        with b.context():
            handles = {n: b.open(root, n) for n in names}
            for n in names:  # checks before timing
                got = np.asarray(b.read_all(handles[n]))
                if not np.array_equal(got, want[n]):
                    raise AssertionError(f"{b.name}: {n} differs from zarr-python's read")
                for i in picks[n][:4]:
                    one = np.asarray(b.read_one(handles[n], int(i)))
                    if not np.array_equal(one, want[n][int(i) : int(i) + 1]):
                        raise AssertionError(f"{b.name}: {n}[{i}] differs")

            def open_all() -> None:
                for n in names:
                    b.open(root, n)

            def read_all() -> None:
                for n in names:
                    b.read_all(handles[n])

            open_s = best_of(open_all, repeat)
            read_s = best_of(read_all, repeat)
            cold_s = best_of(read_all, min(repeat, 3), before=lambda: drop_page_cache(root))
            times = []
            for n in names:
                h = handles[n]
                for i in picks[n]:
                    t0 = time.perf_counter()
                    b.read_one(h, int(i))
                    times.append(time.perf_counter() - t0)
    except AssertionError:
        raise
    except Exception as err:  # e.g. zarrs (strict) refusing a codec: report, do not crash
        why = f"failed: {type(err).__name__}: {str(err).splitlines()[0][:120]}"
        return Result(b.name, compressor, None, None, None, None, 0, nbytes, why)
    one = statistics.median(times) * 1e6 if times else None
    return Result(b.name, compressor, open_s, read_s, cold_s, one, len(times), nbytes, b.note)


def reference(root: Path, compressor: str, repeat: int, nbytes: int) -> Result:
    """``gr.load`` of the store (grumpy's own reader), for reference; a failure is reported
    as n/a (the leaves are what this script measures)."""
    name, note = "gr.load (whole frame)", "grumpy's own reader, for reference"
    try:
        gr.load(root)
    except Exception as err:
        why = f"failed: {type(err).__name__}: {str(err).splitlines()[0][:120]}"
        return Result(name, compressor, None, None, None, None, 0, nbytes, why)
    warm = best_of(lambda: gr.load(root), repeat)
    cold = best_of(lambda: gr.load(root), min(repeat, 3), before=lambda: drop_page_cache(root))
    return Result(name, compressor, None, warm, cold, None, 0, nbytes, note)


# ---------------------------------------------------------------------------------------
# report


def _ms(s: float | None) -> str:
    if s is None:
        return "n/a"
    ms = s * 1e3
    return f"{ms:.3f}" if ms < 1 else f"{ms:.2f}" if ms < 100 else f"{ms:,.0f}"


def _num(x: float | None, digits: int = 0) -> str:
    return "n/a" if x is None else f"{x:,.{digits}f}"


def _x(a: float | None, b: float | None) -> str:
    if a is None or b is None or b == 0:
        return "n/a"
    r = a / b
    return f"{r:.2f}x" if r < 100 else f"{r:,.0f}x"


def by_compressor(results: list[Result]) -> Iterator[tuple[str, list[Result], Result | None]]:
    for c in COMPRESSORS:
        rows = [r for r in results if r.compressor == c]
        base = next((r for r in rows if r.backend == "zarr-python"), None)
        yield c, rows, base


def read_table(results: list[Result], leaves_n: int) -> Table:
    out = Table(
        f"Full read of every leaf ({leaves_n} leaves, one after the other)",
        [
            "reader",
            "compressor",
            "open ms",
            "read ms",
            "MB/s",
            "speed-up",
            "cold ms",
            "cold MB/s",
            "cold speed-up",
            "note",
        ],
        left=(0, 1, 9),
    )
    for c, rows, base in by_compressor(results):
        for r in rows:
            mb = r.nbytes / MB
            out.rows.append(
                [
                    r.backend,
                    c,
                    _ms(r.open_s),
                    _ms(r.read_s),
                    _num(None if r.read_s is None else mb / r.read_s),
                    _x(base and base.read_s, r.read_s),
                    _ms(r.cold_s),
                    _num(None if r.cold_s is None else mb / r.cold_s),
                    _x(base and base.cold_s, r.cold_s),
                    r.note,
                ]
            )
    out.notes = [
        "best of several calls with the handles open (open ms: opening every leaf, apart); "
        "cold: the store's files dropped from the page cache before each call"
        + ("" if CAN_DROP else " (NOT AVAILABLE here: cold = warm)")
        + ".",
        "speed-up = zarr-python's time / this reader's (> 1: faster). MB/s: decoded bytes of "
        "the leaves (gr.load: the same bytes, assembled as a frame).",
    ]
    return out


def random_table(results: list[Result], reads: int) -> Table:
    out = Table(
        f"Random 1-element reads: {reads} per leaf, a[i:i+1], handles open (median µs per read)",
        ["reader", "compressor", "µs per read", "speed-up", "reads", "note"],
        left=(0, 1, 5),
    )
    for c, rows, base in by_compressor(results):
        for r in rows:
            if r.backend.startswith("gr.load"):
                continue
            out.rows.append(
                [
                    r.backend,
                    c,
                    _num(r.one_us, 1),
                    _x(base and base.one_us, r.one_us),
                    str(r.reads),
                    r.note,
                ]
            )
    out.notes = [
        "the same positions for every reader; each read decodes the chunk holding the element "
        "(no reader here caches chunks). speed-up = zarr-python's µs / this reader's."
    ]
    return out


def machine(root: Path) -> list[tuple[str, str]]:
    return [
        *host_info(),
        *version_info(),
        ("grumpy_arrow from", imported_from()),
        ("zarr", zarr.__version__),
        ("zarrs", dist_version("zarrs")),
        ("tensorstore", dist_version("tensorstore")),
        ("numcodecs", dist_version("numcodecs")),
        ("data dir", f"{root} ({filesystem(root)})"),
        ("page cache drop", "posix_fadvise DONTNEED" if CAN_DROP else "not available"),
    ]


# ---------------------------------------------------------------------------------------
# main


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--smoke", action="store_true", help="tiny sizes, seconds")
    mode.add_argument("--quick", action="store_true", help="5 000 molecules, fewer calls")
    parser.add_argument("--markdown", type=Path, metavar="PATH", help="also write Markdown")
    parser.add_argument("--dir", type=Path, default=Path("/tmp"), help="where data is written")
    parser.add_argument("--seed", type=int, default=20261206, help="seed of the data")
    return parser.parse_args(argv)


def run(args: argparse.Namespace, root: Path) -> Report:
    sizes = SMOKE if args.smoke else QUICK if args.quick else FULL
    repeat = sizes.load_repeat
    reads = 4 if args.smoke else READS
    report = Report(machine(root))
    for key, value in report.info:
        print(f"{key:>17}: {value}")
    backends = [zarr_python(), zarrs_backend(), tensorstore_backend()]
    for b in backends:
        if b.missing:
            print(f"note: {b.name}: {b.missing}: n/a below")
    w = make_workload(sizes, args.seed)
    print(
        f"{'workload':>17}: {w.rows:,} molecules, {w.atoms:,} atoms "
        f"({w.nbytes / MB:.1f} MB of Arrow buffers)",
        flush=True,
    )
    results: list[Result] = []
    names: list[str] = []
    for c in COMPRESSORS:
        path = root / f"{c}.gr"
        gr.save(w.frame, path, compressor=c)
        sync(path)
        names = leaves(path)
        base = zarr_python()
        handles = {n: base.open(path, n) for n in names}
        want = {n: np.asarray(base.read_all(h)) for n, h in handles.items()}
        picks = positions(path, names, reads, args.seed)
        for b in backends:
            results.append(measure(b, path, c, names, want, picks, repeat))
            print(f"[{time.strftime('%H:%M:%S')}] {c} {b.name}: done", file=sys.stderr)
        nbytes = sum(v.nbytes for v in want.values())
        results.append(reference(path, c, repeat, nbytes))
        shutil.rmtree(path)
    report.add(read_table(results, len(names)))
    report.add(random_table(results, reads))
    if args.smoke:
        print("smoke run: the sizes are tiny, so timings measure call overhead only")
    return report


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    return run_in_scratch(run, args, "bench_zarr_backends_")


if __name__ == "__main__":
    sys.exit(main())
