"""Helpers shared by the benchmark scripts in this folder.

The scripts are run as ``python benchmarks/bench_x.py``, which puts this folder first on
``sys.path``, so they import these helpers with ``from _common import ...``. Here: the
machine and version lines of a report, best-of timing, page-cache eviction, and plain-text
and Markdown tables.
"""

from __future__ import annotations

import datetime
import gc
import os
import platform
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

import grumpy_arrow as gr

Op = Callable[[], Any]

# ---------------------------------------------------------------------------------------
# optional imports


def import_awkward(enabled: bool) -> Any:
    """The ``awkward`` module, or None when it is not installed (or disabled)."""
    if not enabled:
        return None
    try:
        import awkward
    except ImportError:
        return None
    return awkward


def import_polars(enabled: bool) -> Any:
    """The ``polars`` module, or None when it is not installed (or disabled)."""
    if not enabled:
        return None
    try:
        import polars
    except ImportError:
        return None
    return polars


# ---------------------------------------------------------------------------------------
# timing


def best_ms(fns: dict[str, Op], repeat: int, budget_s: float, passes: int) -> dict[str, float]:
    """Best time of one call of every library's op, in ms.

    After a warm-up call of each, every library gets a block of back-to-back calls (warm
    caches, as with :mod:`timeit`): at least ``repeat`` calls, and for fast ops as many as
    fit in ``budget_s / passes`` (at most 100). The blocks run in ``passes`` passes over the
    libraries, so a burst of other work on a shared machine during one block does not decide
    the result: the fastest call is the least disturbed one.
    """
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        first, best = {}, {}
        for lib, fn in fns.items():
            start = time.perf_counter()
            fn()
            first[lib] = best[lib] = time.perf_counter() - start
        for _ in range(passes):
            for lib, fn in fns.items():
                calls = max(repeat, min(100, int(budget_s / passes / max(first[lib], 1e-9))))
                for _ in range(calls):
                    start = time.perf_counter()
                    fn()
                    best[lib] = min(best[lib], time.perf_counter() - start)
    finally:
        if gc_was_enabled:
            gc.enable()
    return {lib: t * 1e3 for lib, t in best.items()}


def timed(fn: Op) -> float:
    """Seconds of one call, garbage collector paused; the result is freed after timing."""
    was = gc.isenabled()
    gc.disable()
    try:
        start = time.perf_counter()
        out = fn()
        elapsed = time.perf_counter() - start
    finally:
        if was:
            gc.enable()
    del out
    return elapsed


def best_of(fn: Op, repeat: int, before: Op | None = None, after: Op | None = None) -> float:
    """Best seconds of ``repeat`` calls; ``before`` / ``after`` run untimed around each."""
    best = float("inf")
    for _ in range(max(1, repeat)):
        if before is not None:
            before()
        best = min(best, timed(fn))
        if after is not None:
            after()
    return best


# ---------------------------------------------------------------------------------------
# files and page cache


def files_under(path: Path) -> list[Path]:
    if path.is_file():
        return [path]
    return [Path(root) / f for root, _, files in os.walk(path) for f in files]


CAN_DROP = hasattr(os, "posix_fadvise") and hasattr(os, "POSIX_FADV_DONTNEED")


def drop_page_cache(*paths: Path) -> None:
    """Evict the files under ``paths`` from the OS page cache (fsync, then DONTNEED)."""
    for path in paths:
        for f in files_under(path):
            fd = os.open(f, os.O_RDONLY)
            try:
                os.fsync(fd)
                if CAN_DROP:
                    os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
            finally:
                os.close(fd)


# ---------------------------------------------------------------------------------------
# tables


def text_table(
    header: Sequence[str], body: Sequence[Sequence[str]], left: tuple[int, ...] = (0,)
) -> str:
    """A fixed-width table for the terminal (columns in ``left`` left-aligned, others right)."""
    table = [list(header), *(list(line) for line in body)]
    widths = [max(len(line[i]) for line in table) for i in range(len(header))]
    lines = []
    for k, line in enumerate(table):
        parts = [
            c.ljust(widths[i]) if i in left else c.rjust(widths[i]) for i, c in enumerate(line)
        ]
        lines.append(" | ".join(parts).rstrip())
        if k == 0:
            lines.append("-+-".join("-" * wd for wd in widths))
    return "\n".join(lines)


def markdown_table(
    header: Sequence[str], body: Sequence[Sequence[str]], left: tuple[int, ...] = (0,)
) -> str:
    """A Markdown table (columns in ``left`` left-aligned, the others right-aligned)."""
    align = [" --- " if i in left else " ---: " for i in range(len(header))]
    lines = [
        "| " + " | ".join(header) + " |",
        "|" + "|".join(align) + "|",
        *("| " + " | ".join(row) + " |" for row in body),
    ]
    return "\n".join(lines)


@dataclass
class Table:
    """A titled table of text cells (first column left-aligned, the others right)."""

    title: str
    header: list[str]
    rows: list[list[str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    left: tuple[int, ...] = (0,)

    def text(self) -> str:
        table = text_table(self.header, self.rows, self.left)
        return "\n".join([self.title, "", table, *self.notes])

    def markdown(self) -> str:
        lines = [f"### {self.title}", "", markdown_table(self.header, self.rows, self.left)]
        if self.notes:
            lines += ["", *self.notes]
        return "\n".join(lines)


@dataclass
class Report:
    """The tables of one benchmark run (printed as they come) and its machine facts."""

    info: list[tuple[str, str]]
    tables: list[Table] = field(default_factory=list)
    extra: list[str] = field(default_factory=list)

    def add(self, table: Table) -> None:
        self.tables.append(table)
        print()
        print(table.text(), flush=True)

    def write_markdown(self, path: Path) -> None:
        out = machine_markdown(self.info)
        for t in self.tables:
            out += [t.markdown(), ""]
        if self.extra:
            out += ["```", *self.extra, "```", ""]
        path.write_text("\n".join(out), encoding="utf-8")


# ---------------------------------------------------------------------------------------
# machine


def cpu_model() -> str:
    """The CPU model from /proc/cpuinfo (falls back to platform.processor())."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def git_revision() -> str:
    """The commit the benchmark runs on, noting changes to tracked files of the package."""
    here = Path(__file__).resolve().parent
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=here,
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        )
        status = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no", "--", "grumpy_arrow"],
            cwd=here.parent,
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        )
    except (OSError, subprocess.SubprocessError):
        return "commit unknown"
    return head.stdout.strip() + (" + local changes" if status.stdout.strip() else "")


def filesystem(path: Path) -> str:
    """The filesystem type and device of ``path`` (from /proc/mounts, best match)."""
    best = ("", "unknown", "unknown")
    try:
        with open("/proc/mounts", encoding="utf-8") as f:
            for line in f:
                dev, mount, kind = line.split()[:3]
                if str(path).startswith(mount) and len(mount) >= len(best[0]):
                    best = (mount, kind, dev)
    except OSError:
        pass
    return f"{best[1]} on {best[2]}"


def host_info() -> list[tuple[str, str]]:
    """Date, platform, CPU and core count: the first lines of every report's machine."""
    now = datetime.datetime.now(datetime.UTC).astimezone()
    return [
        ("date", now.strftime("%Y-%m-%d %H:%M %Z")),
        ("platform", platform.platform()),
        ("cpu", cpu_model()),
        ("cores", str(os.cpu_count())),
    ]


def version_info() -> list[tuple[str, str]]:
    """The versions of Python, grumpy_arrow (with its commit), NumPy and PyArrow."""
    return [
        ("python", platform.python_version()),
        ("grumpy_arrow", f"{gr.__version__} ({git_revision()})"),
        ("numpy", np.__version__),
        ("pyarrow", pa.__version__),
    ]


def optional_version(module: Any) -> str:
    """A module's version, or a note that it is not installed."""
    return "not installed (n/a)" if module is None else module.__version__


def machine_markdown(info: list[tuple[str, str]]) -> list[str]:
    """The machine as the lines of a two-column Markdown table, then a blank line."""
    return ["| machine | |", "| --- | --- |", *(f"| {k} | {v} |" for k, v in info), ""]


def tables_equal(got: pa.Table, want: pa.Table) -> bool:
    """Same rows and wanted columns with equal values (types cast to the wanted ones;
    metadata and extra columns ignored)."""
    if got.num_rows != want.num_rows:
        return False
    for name in want.column_names:
        if name not in got.column_names:
            return False
        a = got.column(name).combine_chunks()
        b = want.column(name).combine_chunks()
        if a.type != b.type:
            a = a.cast(b.type)
        if not a.equals(b):
            return False
    return True


def check(ok: bool, what: str) -> None:
    """Stop a benchmark whose result differs from the in-memory data."""
    if not ok:
        raise AssertionError(f"{what}: the result differs from the in-memory data")


def run_in_scratch(run: Callable[[Any, Path], Any], args: Any, prefix: str) -> int:
    """A suite's ``main``: ``run(args, root)`` in a scratch folder under ``args.dir``
    (removed afterwards), then the report written as Markdown when ``--markdown`` asks."""
    args.dir.mkdir(parents=True, exist_ok=True)
    root = Path(tempfile.mkdtemp(prefix=prefix, dir=args.dir))
    try:
        report = run(args, root)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    if args.markdown is not None:
        report.write_markdown(args.markdown)
        print(f"Markdown written to {args.markdown}")
    return 0
