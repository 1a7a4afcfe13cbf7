"""Compile benchmark (issue 16): ``gr.compile`` against eager grumpy_arrow and NumPy.

Workloads (docs/compile.md; the prototype of design/compile.md §2): float64 ragged arrays,
rows of 50..450 values (uniform, mean 250; standard-normal values; fixed seed; no nulls),
built with ``gr.from_offsets(gr.array(values), offsets)``:

* **P1**, per-row centring then RMS: ``c = x - x.mean(dim=1); ((c * c).mean(dim=1)) ** 0.5``;
* **P2**, an elementwise chain with a row sum:
  ``(np.sqrt(x * x + 1) * 0.5 + np.sin(x)).sum(dim=1)``.

1. **Whole arrays** of about 1 M and 8 M values (4,096 and 32,768 rows): eager
   grumpy_arrow; ``gr.compile(f)`` on numba; ``gr.compile(f, backend="numpy")`` (the NumPy
   engine, no numba); and the same algebra in NumPy on the flat values and offsets
   (``np.add.reduceat`` / ``np.repeat``). Bar: compiled (numba) >= 2x eager, per workload
   and size.
2. **Streams**: ``gr.stream(x, batch_size=b)`` over an in-memory array of 16,384 rows
   (about 4.1 M values), b = 32 and 512, ms per epoch: the bare stream (no transform);
   ``apply(f, cpu=1)`` (eager); ``apply(gr.compile(f))`` (megabatches: consecutive batches
   joined, one kernel call, the results cut back into the batches); the same compiled
   function called on each batch (``apply(lambda b: cf(b))``: a plain function, so no
   megabatch); and ``apply(gr.compile(f, backend="numpy"))``. Bar: compiled apply >= 3x
   eager apply at b = 32 (b = 512 reported).
3. **Compile times**, each process fresh: *cold* (a new, empty ``GR_COMPILE_CACHE``
   directory: the first call minus the best warm call) and *cached reload* (a second
   process on the same directory: first call minus warm), for each workload's serial kernel
   (a 32-row array, the first kernel of its process) and its ``prange`` kernel (4,096 rows,
   above the engine's parallel threshold); ``import numba`` is timed apart, before the
   first call. The same processes check that ``import grumpy_arrow``, and wrapping a
   function with ``gr.compile`` (default backend), do not import numba (a bar), and time
   ``import grumpy_arrow``.

Before timing, every variant is checked against the eager result (floats within 1e-9
relative): the compiled functions use ``fallback="error"`` and must report
``is_compiled`` on the expected engine; every stream epoch yields every row once with the
eager values; the compiled apply must run over megabatches (far fewer calls of the compiled
function than batches); ``apply(f, compile=True)`` gives the same epoch.

Timings are min-of-N, interleaved: after a warm-up call of each, the variants run in passes
(one block of calls each per pass; whole arrays: at least N calls per block, fast ones as
many as fit in the budget; results taken ``to_arrow()``), garbage collector paused; a
stream epoch is one call. Main process kernels go to a scratch ``GR_COMPILE_CACHE``
(removed at the end).

``--smoke`` uses tiny sizes and the NumPy engine only (no numba compile: CI), so its
"compiled" columns are the NumPy engine and its verdicts mean nothing.

Usage::

    python benchmarks/bench_compile.py                    # full run, about 1-2 minutes
    python benchmarks/bench_compile.py --quick            # 1 M / 4 M arrays, 8,192-row
                                                          # streams; about 40 s
    python benchmarks/bench_compile.py --smoke            # tiny sizes, numpy engine (CI)
    python benchmarks/bench_compile.py --markdown out.md  # also write Markdown tables
"""

from __future__ import annotations

import argparse
import functools
import importlib.util
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
from _common import (
    Op,
    Report,
    Table,
    best_ms,
    files_under,
    host_info,
    run_in_scratch,
    version_info,
)

import grumpy_arrow as gr

HERE = Path(__file__).resolve().parent
RTOL = 1e-9  # compiled sums run in another order than eager's pairwise ones
WHOLE_BAR = 2.0
STREAM_BAR = 3.0
BAR_BATCH = 32

# ---------------------------------------------------------------------------------------
# workloads


def p1(x: Any) -> Any:
    """P1: per-row centring then RMS (four eager ops and a per-row broadcast)."""
    c = x - x.mean(dim=1)
    return ((c * c).mean(dim=1)) ** 0.5


def p2(x: Any) -> Any:
    """P2: an elementwise chain with a row sum."""
    return (np.sqrt(x * x + 1) * 0.5 + np.sin(x)).sum(dim=1)


def p1_flat(values: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """P1 in NumPy on the flat values and offsets."""
    starts, lens = offsets[:-1], np.diff(offsets)
    mean = np.add.reduceat(values, starts) / lens
    c = values - np.repeat(mean, lens)
    return np.sqrt(np.add.reduceat(c * c, starts) / lens)


def p2_flat(values: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """P2 in NumPy on the flat values and offsets."""
    return np.add.reduceat(np.sqrt(values * values + 1) * 0.5 + np.sin(values), offsets[:-1])


@dataclass(frozen=True)
class Workload:
    name: str
    label: str
    fn: Callable[[Any], Any]
    flat: Callable[[np.ndarray, np.ndarray], np.ndarray]


WORKLOADS = {
    "P1": Workload("P1", "P1 (centre, then RMS)", p1, p1_flat),
    "P2": Workload("P2", "P2 (sqrt, sin chain, row sum)", p2, p2_flat),
}


@dataclass(frozen=True)
class Data:
    """A ragged float64 array and its flat buffers."""

    offsets: np.ndarray
    values: np.ndarray
    x: gr.GrumpyArray

    @property
    def rows(self) -> int:
        return len(self.offsets) - 1


def make_data(rows: int, seed: int) -> Data:
    """``rows`` rows of 50..450 standard-normal float64 values (from ``seed`` and ``rows``)."""
    rng = np.random.default_rng([seed, rows])
    lens = rng.integers(50, 451, size=rows)
    offsets = np.zeros(rows + 1, dtype=np.int64)
    np.cumsum(lens, out=offsets[1:])
    values = rng.standard_normal(int(offsets[-1]))
    return Data(offsets, values, gr.from_offsets(gr.array(values), offsets))


@dataclass(frozen=True)
class Sizes:
    """How big the workloads are and how often things are timed."""

    whole_rows: tuple[int, ...]  # rows of each whole array
    stream_rows: int
    batch_sizes: tuple[int, ...]
    compile_rows: tuple[int, int]  # the serial kernel's array, the prange kernel's array
    repeat: int  # whole arrays: calls per block at least
    budget_s: float  # whole arrays: more calls for fast variants, up to this in all
    passes: int  # whole arrays: blocks per variant
    rounds: int  # streams: timed epochs per mode, round-robin
    warm_calls: int  # compile processes: warm calls after the first
    compile_workloads: tuple[str, ...]  # timed in fresh processes (two each)
    numba: bool  # False: the NumPy engine only (smoke)


FULL = Sizes(
    whole_rows=(4096, 32768),
    stream_rows=16384,
    batch_sizes=(32, 512),
    compile_rows=(32, 4096),
    repeat=3,
    budget_s=1.0,
    passes=3,
    rounds=5,
    warm_calls=5,
    compile_workloads=("P1", "P2"),
    numba=True,
)
# smaller arrays and streams, fewer calls (run_all.py --quick): real ratios, noisier
QUICK = Sizes(
    whole_rows=(4096, 16384),
    stream_rows=8192,
    batch_sizes=(32, 512),
    compile_rows=(32, 4096),
    repeat=2,
    budget_s=0.3,
    passes=2,
    rounds=3,
    warm_calls=3,
    compile_workloads=("P1", "P2"),
    numba=True,
)
SMOKE = Sizes(
    whole_rows=(64, 256),
    stream_rows=2048,
    batch_sizes=(32, 512),
    compile_rows=(32, 64),
    repeat=1,
    budget_s=0.0,
    passes=1,
    rounds=1,
    warm_calls=1,
    compile_workloads=("P1",),
    numba=False,
)


def numba_installed() -> bool:
    """Whether numba can be imported (found without importing it)."""
    return importlib.util.find_spec("numba") is not None


# ---------------------------------------------------------------------------------------
# checks and formatting


def check(ok: bool, what: str) -> None:
    if not ok:
        raise AssertionError(f"{what}: check failed")


def same(got: Any, want: np.ndarray, what: str) -> None:
    """``got`` (a GrumpyArray or ndarray) equals ``want`` within :data:`RTOL`."""
    arr = got.to_numpy() if isinstance(got, gr.GrumpyArray) else np.asarray(got)
    check(arr.shape == want.shape, f"{what}: shape {arr.shape} != {want.shape}")
    check(bool(np.allclose(arr, want, rtol=RTOL, atol=RTOL)), f"{what}: values differ")


def compiled(wl: Workload, engine: str) -> gr.CompiledFunction:
    return gr.compile(wl.fn, backend=engine, fallback="error")


def check_compiled(cf: gr.CompiledFunction, engine: str, what: str) -> None:
    check(cf.is_compiled, f"{what}: runs eagerly ({cf.compile_error})")
    check(cf.engine_name == engine, f"{what}: engine {cf.engine_name}, not {engine}")


def _ms(x: float | None) -> str:
    if x is None:
        return "n/a"
    return f"{x:.3f}" if x < 1 else f"{x:.2f}" if x < 100 else f"{x:,.0f}"


def _x(r: float | None) -> str:
    return "n/a" if r is None else f"{r:.2f}x" if r < 100 else f"{r:,.0f}x"


def _speedup(base: float | None, other: float | None) -> float | None:
    """How many times faster ``other`` is than ``base`` (both in ms)."""
    return None if base is None or other is None or other <= 0 else base / other


def _values(n: int) -> str:
    return f"{n / 1e6:.2f} M"


def judge(ratio: float | None, least: float, engine: str, smoke: bool) -> str:
    """A bar's verdict; judged on numba only (the NumPy engine stands in under --smoke)."""
    if ratio is None:
        return "n/a"
    if engine != "numba" and not smoke:
        return "n/a (numba not installed)"
    shown = f"{ratio:.2f}" if f"{ratio:.2f}" != f"{least:.2f}" else f"{ratio:.4f}"
    text = "met" if ratio >= least else f"NOT MET: {shown}x < {least:g}x"
    return text + (" (smoke: numpy engine)" if engine != "numba" else "")


# ---------------------------------------------------------------------------------------
# 1. whole arrays


@dataclass
class WholeRow:
    wl: Workload
    values: int
    ms: dict[str, float]


WHOLE_VARIANTS = ("eager", "compiled", "numpy engine", "NumPy flat")


def whole_ops(wl: Workload, d: Data, engine: str) -> dict[str, Op]:
    """The four variants of ``wl`` on ``d``, each checked against eager first."""
    x, values, offsets = d.x, d.values, d.offsets
    want = wl.fn(x).to_numpy()
    fast, npe = compiled(wl, engine), compiled(wl, "numpy")
    for cf, eng in ((fast, engine), (npe, "numpy")):
        same(cf(x), want, f"{wl.name} whole array, {eng} engine")
        check_compiled(cf, eng, f"{wl.name} whole array")
    same(wl.flat(values, offsets), want, f"{wl.name} NumPy flat")
    return {
        "eager": lambda: wl.fn(x).to_arrow(),
        "compiled": lambda: fast(x).to_arrow(),
        "numpy engine": lambda: npe(x).to_arrow(),
        "NumPy flat": lambda: wl.flat(values, offsets),
    }


def whole_rows(sizes: Sizes, seed: int, engine: str, log: Callable[[str], None]) -> list[WholeRow]:
    out = []
    for rows in sizes.whole_rows:
        d = make_data(rows, seed)
        for wl in WORKLOADS.values():
            ops = whole_ops(wl, d, engine)
            ms = best_ms(ops, sizes.repeat, sizes.budget_s, sizes.passes)
            out.append(WholeRow(wl, len(d.values), ms))
            log(f"whole array {wl.name}, {_values(len(d.values))} values: done")
    return out


def whole_table(rows: list[WholeRow], sizes: Sizes, engine: str, smoke: bool) -> Table:
    out = Table(
        f"Whole arrays: eager vs gr.compile ({engine}) vs NumPy on flat buffers, ms",
        [
            "workload",
            "values",
            "eager ms",
            "compiled ms",
            "numpy engine ms",
            "NumPy flat ms",
            "compiled vs eager",
            "numpy engine vs eager",
            "NumPy flat vs eager",
            "compiled vs NumPy flat",
            "verdict",
        ],
        left=(0, 10),
    )
    for r in rows:
        e, c = r.ms["eager"], r.ms["compiled"]
        out.rows.append(
            [
                r.wl.label,
                _values(r.values),
                *(_ms(r.ms[k]) for k in WHOLE_VARIANTS),
                _x(_speedup(e, c)),
                _x(_speedup(e, r.ms["numpy engine"])),
                _x(_speedup(e, r.ms["NumPy flat"])),
                _x(_speedup(r.ms["NumPy flat"], c)),
                judge(_speedup(e, c), WHOLE_BAR, engine, smoke),
            ]
        )
    out.notes = [
        f"compiled = gr.compile(f) on {engine}; numpy engine = gr.compile(f, backend='numpy'); "
        "NumPy flat = np.add.reduceat / np.repeat on the values and offsets.",
        "'A vs B' = time of B / time of A (above 1x: A is faster). Bar: compiled >= "
        f"{WHOLE_BAR:g}x eager. Best single call (ms) of at least {sizes.repeat} calls in "
        f"each of {sizes.passes} interleaved passes.",
    ]
    return out


# ---------------------------------------------------------------------------------------
# 2. streams


class CountingCompiled(gr.CompiledFunction):
    """A compiled function counting its calls (to see the megabatches)."""

    calls = 0

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        self.calls += 1
        return super().__call__(*args, **kwargs)


def drain(batches: Iterable[Any]) -> int:
    n = 0
    for _ in batches:
        n += 1
    return n


def epoch_values(st: gr.Stream) -> np.ndarray:
    return np.concatenate([b.to_numpy() for b in st])


STREAM_MODES = ("bare", "eager", "compiled", "compiled per batch", "numpy engine")


@dataclass
class StreamRow:
    wl: Workload
    batch: int
    batches: int
    rows: int
    values: int
    ms: dict[str, float]
    calls: int  # calls of the compiled function in one megabatched epoch


def stream_modes(
    wl: Workload, d: Data, batch: int, engine: str, with_compile_true: bool
) -> tuple[dict[str, Op], int]:
    """The timed modes for one workload and batch size, checked; and the calls of the
    compiled function in an epoch (megabatches, plus one probe)."""
    x = d.x
    want = wl.fn(x).to_numpy()
    st = gr.stream(x, batch_size=batch)
    n_batches = len(st)
    fast, npe = compiled(wl, engine), compiled(wl, "numpy")
    streams: dict[str, gr.Stream] = {
        "bare": st,
        "eager": st.apply(wl.fn, cpu=1),
        "compiled": st.apply(fast),
        "compiled per batch": st.apply(lambda b: fast(b)),
        "numpy engine": st.apply(npe),
    }
    what = f"{wl.name} stream, batch {batch}"
    bare = [b for b in st]
    check(len(bare) == n_batches and sum(len(b) for b in bare) == d.rows, f"{what}: rows")
    flat = np.concatenate([b.to_arrow().flatten().to_numpy() for b in bare])
    check(np.array_equal(flat, d.values), f"{what}: bare values")
    for name in STREAM_MODES[1:]:
        same(epoch_values(streams[name]), want, f"{what}, {name}")
    check_compiled(fast, engine, what)
    check_compiled(npe, "numpy", what)
    counting = CountingCompiled(wl.fn, backend=engine, fallback="error")
    same(epoch_values(st.apply(counting)), want, f"{what}, counted")
    calls = counting.calls
    check(calls < n_batches, f"{what}: no megabatches ({calls} calls, {n_batches} batches)")
    if with_compile_true:
        same(epoch_values(st.apply(wl.fn, compile=True)), want, f"{what}, compile=True")
    ops: dict[str, Op] = {k: functools.partial(drain, s) for k, s in streams.items()}
    return ops, calls


def stream_rows(
    sizes: Sizes, seed: int, engine: str, log: Callable[[str], None]
) -> list[StreamRow]:
    d = make_data(sizes.stream_rows, seed)
    out = []
    for wl in WORKLOADS.values():
        for batch in sizes.batch_sizes:
            ops, calls = stream_modes(wl, d, batch, engine, with_compile_true=sizes.numba)
            ms = best_ms(ops, 1, 0.0, sizes.rounds)
            n_batches = -(-d.rows // batch)
            out.append(StreamRow(wl, batch, n_batches, d.rows, len(d.values), ms, calls))
            log(f"stream {wl.name}, batch {batch}: done")
    return out


def stream_table(rows: list[StreamRow], sizes: Sizes, engine: str, smoke: bool) -> Table:
    r0 = rows[0]
    out = Table(
        f"Streams: gr.stream over {r0.rows:,} rows ({_values(r0.values)} values), "
        f"ms per epoch, compiled = {engine}",
        [
            "workload",
            "batch size",
            "batches",
            "bare ms",
            "eager ms",
            "compiled ms",
            "compiled per batch ms",
            "numpy engine ms",
            "compiled vs eager",
            "per batch vs eager",
            "numpy engine vs eager",
            "compiled calls",
            "verdict",
        ],
        left=(0, 12),
    )
    for r in rows:
        e = r.ms["eager"]
        ratio = _speedup(e, r.ms["compiled"])
        out.rows.append(
            [
                r.wl.label,
                str(r.batch),
                f"{r.batches:,}",
                *(_ms(r.ms[k]) for k in STREAM_MODES),
                _x(ratio),
                _x(_speedup(e, r.ms["compiled per batch"])),
                _x(_speedup(e, r.ms["numpy engine"])),
                str(r.calls),
                judge(ratio, STREAM_BAR, engine, smoke) if r.batch == BAR_BATCH else "no bar",
            ]
        )
    out.notes = [
        "bare: the stream alone; eager: apply(f, cpu=1); compiled: apply(gr.compile(f)), run "
        "over megabatches; compiled per batch: apply(lambda b: cf(b)), the same compiled",
        "function called on every batch (no megabatch); numpy engine: apply(gr.compile(f, "
        "backend='numpy')), megabatched. compiled calls: calls of the compiled function in",
        "one epoch (the first batch's probe, then one per megabatch). Bar: compiled >= "
        f"{STREAM_BAR:g}x eager at batch size {BAR_BATCH}. Best of {sizes.rounds} epochs, the "
        "modes round-robin.",
    ]
    return out


# ---------------------------------------------------------------------------------------
# 3. compile times, in fresh processes

# The child imports grumpy_arrow first (timed, numba checked), then this module.
CHILD = """
import json, sys, time
t = time.perf_counter()
import grumpy_arrow
import_s = time.perf_counter() - t
numba_after_import = "numba" in sys.modules
sys.path.insert(0, sys.argv[1])
import bench_compile
spec = json.loads(sys.argv[2])
print(json.dumps(getattr(bench_compile, spec["task"])(spec, import_s, numba_after_import)))
"""


def run_child(spec: dict[str, Any], cache: Path) -> dict[str, Any]:
    """Run ``CHILD`` on ``spec`` in a fresh Python with ``GR_COMPILE_CACHE=cache``."""
    env = {**os.environ, "GR_COMPILE_CACHE": str(cache)}
    env.pop("NUMBA_CACHE_DIR", None)  # numba's cache stays next to the kernel sources
    env.pop("GR_COMPILE", None)
    done = subprocess.run(
        [sys.executable, "-c", CHILD, str(HERE), json.dumps(spec)],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"child {spec} failed ({done.returncode}):\n{done.stderr}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def child_compile(spec: dict[str, Any], import_s: float, numba_after: bool) -> dict[str, Any]:
    """In a fresh process: whether ``import grumpy_arrow`` and ``gr.compile(f)`` imported
    numba; ``import numba`` timed; then the first and best warm call of the workload's
    compiled function on a small array (serial kernel), then a large one (prange kernel)."""
    engine = spec["engine"]
    wl = WORKLOADS[spec["workload"]]
    gr.compile(wl.fn)  # the default backend ("auto") finds numba on the first call only
    out: dict[str, Any] = {
        "import_gr_ms": import_s * 1e3,
        "numba_after_import": numba_after,
        "numba_after_compile": "numba" in sys.modules,
        "import_numba_ms": None,
    }
    if engine == "numba" and not out["numba_after_compile"]:
        t = time.perf_counter()
        import numba  # noqa: F401

        out["import_numba_ms"] = (time.perf_counter() - t) * 1e3
    cf = compiled(wl, engine)  # backend="numba" checks that numba imports
    kernels = []
    for rows in spec["rows"]:
        d = make_data(rows, spec["seed"])
        t = time.perf_counter()
        cf(d.x)
        first = time.perf_counter() - t
        check_compiled(cf, engine, f"{wl.name} in a fresh process")
        warm = float("inf")
        for _ in range(spec["warm"]):
            t = time.perf_counter()
            cf(d.x)
            warm = min(warm, time.perf_counter() - t)
        kernels.append(
            {"rows": rows, "values": len(d.values), "first_ms": first * 1e3, "warm_ms": warm * 1e3}
        )
    out["kernels"] = kernels
    out["cache_files"] = len(files_under(Path(os.environ["GR_COMPILE_CACHE"])))
    return out


@dataclass
class CompileRow:
    wl: Workload
    kernel: str
    values: int
    cold: dict[str, float]
    cached: dict[str, float]


@dataclass
class CompileResult:
    rows: list[CompileRow]
    imports: dict[str, Any]  # from every process: fastest import, numba ever imported
    import_numba_ms: list[float]  # from every process that imported numba
    cache_files: dict[str, int]
    processes: int


def compile_times(sizes: Sizes, seed: int, engine: str, root: Path) -> CompileResult:
    rows, files, children = [], {}, []
    for name in sizes.compile_workloads:
        wl = WORKLOADS[name]
        spec = {
            "task": "child_compile",
            "engine": engine,
            "workload": name,
            "rows": list(sizes.compile_rows),
            "seed": seed,
            "warm": sizes.warm_calls,
        }
        cache = root / f"kernels-{name}"
        cold = run_child(spec, cache)
        cached = run_child(spec, cache)
        children += [cold, cached]
        files[name] = cold["cache_files"]
        for kind, a, b in zip(
            ("serial", "prange"), cold["kernels"], cached["kernels"], strict=True
        ):
            rows.append(CompileRow(wl, kind, a["values"], a, b))
    imports = {
        "import_gr_ms": min(c["import_gr_ms"] for c in children),
        "numba_after_import": any(c["numba_after_import"] for c in children),
        "numba_after_compile": any(c["numba_after_compile"] for c in children),
    }
    numba_ms = [c["import_numba_ms"] for c in children if c["import_numba_ms"] is not None]
    return CompileResult(rows, imports, numba_ms, files, len(children))


def compile_table(res: CompileResult, engine: str) -> Table:
    out = Table(
        f"Compile times ({engine}), each in a fresh process, ms",
        [
            "workload",
            "kernel",
            "values",
            "cold first call ms",
            "warm call ms",
            "cold compile ms",
            "cached first call ms",
            "cached reload ms",
        ],
        left=(0, 1),
    )
    for r in res.rows:
        out.rows.append(
            [
                r.wl.label,
                r.kernel,
                f"{r.values:,}",
                _ms(r.cold["first_ms"]),
                _ms(min(r.cold["warm_ms"], r.cached["warm_ms"])),
                _ms(r.cold["first_ms"] - r.cold["warm_ms"]),
                _ms(r.cached["first_ms"]),
                _ms(r.cached["first_ms"] - r.cached["warm_ms"]),
            ]
        )
    files = ", ".join(f"{k} {v}" for k, v in res.cache_files.items())
    out.notes = [
        "cold: a fresh process and an empty GR_COMPILE_CACHE; cached: a second fresh process on "
        "the same directory. compile / reload = first call - best warm call of that process.",
        "numba is imported (timed apart) before the first call; the serial kernel (32 rows) is "
        "the first of its process, so it also pays numba's one-time start; the prange",
        f"kernel runs at >= {parallel_min():,} values. Files in each cache after the cold "
        f"run: {files}.",
    ]
    return out


def parallel_min() -> int:
    from grumpy_arrow.compiler.engines import PARALLEL_MIN

    return PARALLEL_MIN


def imports_table(res: CompileResult) -> Table:
    numba_ms = min(res.import_numba_ms) if res.import_numba_ms else None
    imp = res.imports
    out = Table("Imports, fresh processes", ["what", "value"], left=(0, 1))
    out.rows = [
        ["import grumpy_arrow ms", _ms(imp["import_gr_ms"])],
        ["numba imported by import grumpy_arrow", "yes" if imp["numba_after_import"] else "no"],
        [
            "numba imported by gr.compile(f) before its first call",
            "yes" if imp["numba_after_compile"] else "no",
        ],
        ["import numba ms (after grumpy_arrow)", _ms(numba_ms)],
    ]
    out.notes = [
        f"from the {res.processes} fresh processes of the compile times (the fastest import; "
        "numba imported in any of them); import numba is timed where the engine is numba.",
        "A compiled function imports numba on its first call (backend 'auto' or 'numba').",
    ]
    return out


# ---------------------------------------------------------------------------------------
# bars


def bars_table(
    whole: list[WholeRow], streams: list[StreamRow], res: CompileResult, engine: str, smoke: bool
) -> Table:
    out = Table("Bars (issue 16)", ["bar", "measured", "peer", "verdict"], left=(0, 1, 2, 3))
    for w in whole:
        e, c = w.ms["eager"], w.ms["compiled"]
        r = _speedup(e, c)
        out.rows.append(
            [
                f"{w.wl.name} whole array, {_values(w.values)} values: compiled >= "
                f"{WHOLE_BAR:g}x eager",
                f"{_ms(c)} ms ({engine}) = {_x(r)} eager",
                f"eager {_ms(e)} ms; NumPy flat {_ms(w.ms['NumPy flat'])} ms",
                judge(r, WHOLE_BAR, engine, smoke),
            ]
        )
    for s in streams:
        e, c = s.ms["eager"], s.ms["compiled"]
        r = _speedup(e, c)
        bar = s.batch == BAR_BATCH
        out.rows.append(
            [
                f"{s.wl.name} stream of {s.batch}-row batches ({s.rows:,} rows): compiled apply "
                + (f">= {STREAM_BAR:g}x eager apply" if bar else "vs eager apply"),
                f"{_ms(c)} ms/epoch ({engine}, {s.calls} calls) = {_x(r)} eager",
                f"eager apply(cpu=1) {_ms(e)} ms/epoch; bare stream {_ms(s.ms['bare'])} ms",
                judge(r, STREAM_BAR, engine, smoke) if bar else "no bar",
            ]
        )
    numba_ms = min(res.import_numba_ms) if res.import_numba_ms else None
    for name in dict.fromkeys(r.wl.name for r in res.rows):
        ser, par = (r for r in res.rows if r.wl.name == name)
        cold = [r.cold["first_ms"] - r.cold["warm_ms"] for r in (ser, par)]
        reload = [r.cached["first_ms"] - r.cached["warm_ms"] for r in (ser, par)]
        out.rows.append(
            [
                f"{name} cold compile / cached reload, serial; prange kernel",
                f"cold {_ms(cold[0])}; {_ms(cold[1])} ms, reload {_ms(reload[0])}; "
                f"{_ms(reload[1])} ms ({engine})",
                "import numba " + ("n/a" if numba_ms is None else f"{_ms(numba_ms)} ms"),
                "no bar",
            ]
        )
    imp = res.imports
    clean = not imp["numba_after_import"] and not imp["numba_after_compile"]
    out.rows.append(
        [
            "import grumpy_arrow does not import numba",
            f"numba in sys.modules after import grumpy_arrow: {imp['numba_after_import']}, "
            f"after gr.compile(f): {imp['numba_after_compile']}",
            f"import grumpy_arrow {_ms(imp['import_gr_ms'])} ms",
            "met" if clean else "NOT MET",
        ]
    )
    return out


# ---------------------------------------------------------------------------------------
# machine and main


def load_average() -> str:
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "unknown"


def machine(engine: str) -> list[tuple[str, str]]:
    try:
        numba_version = metadata.version("numba")
    except metadata.PackageNotFoundError:
        numba_version = "not installed (numpy engine only)"
    threads = os.environ.get("NUMBA_NUM_THREADS", f"default ({os.cpu_count()})")
    return [
        *host_info(),
        ("load avg", f"{load_average()} (1, 5, 15 min; at start)"),
        *version_info(),
        ("numba", numba_version),
        ("compiled engine", engine + ("" if engine == "numba" else " (smoke / no numba)")),
        ("numba threads", threads),
    ]


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--smoke", action="store_true", help="tiny sizes, numpy engine (CI)")
    mode.add_argument("--quick", action="store_true", help="reduced sizes, fewer calls")
    parser.add_argument("--markdown", type=Path, metavar="PATH", help="also write Markdown")
    parser.add_argument("--dir", type=Path, default=Path("/tmp"), help="where caches are made")
    parser.add_argument("--seed", type=int, default=20240917, help="seed of the data")
    return parser.parse_args(argv)


def run(args: argparse.Namespace, root: Path) -> Report:
    sizes = SMOKE if args.smoke else QUICK if args.quick else FULL
    engine = "numba" if sizes.numba and numba_installed() else "numpy"
    os.environ["GR_COMPILE_CACHE"] = str(root / "kernels-main")
    report = Report(machine(engine))
    for key, value in report.info:
        print(f"{key:>15}: {value}")

    def log(msg: str) -> None:
        print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)

    whole = whole_rows(sizes, args.seed, engine, log)
    report.add(whole_table(whole, sizes, engine, args.smoke))
    streams = stream_rows(sizes, args.seed, engine, log)
    report.add(stream_table(streams, sizes, engine, args.smoke))
    res = compile_times(sizes, args.seed, engine, root)
    log("compile times: done")
    report.add(compile_table(res, engine))
    report.add(imports_table(res))
    report.add(bars_table(whole, streams, res, engine, args.smoke))
    print(f"\n{'load avg':>15}: {load_average()} (1, 5, 15 min; at the end)")
    if args.smoke:
        print("smoke run: tiny sizes and the numpy engine, so timings and verdicts mean nothing")
    return report


def main(argv: list[str] | None = None) -> int:
    return run_in_scratch(run, parse_args(argv), "bench_compile_")


if __name__ == "__main__":
    sys.exit(main())
