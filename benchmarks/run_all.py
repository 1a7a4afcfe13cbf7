"""Run every benchmark suite, one after another, and report every performance bar.

The suites (``bench_compute``, ``bench_frame``, ``bench_storage``, ``bench_stream``,
``bench_pandas``, ``bench_savers``, ``bench_peers``, ``bench_geometry``,
``bench_compile``, ``bench_import``) run as
subprocesses of the same Python, in sequence and never in parallel: each suite measures its
peers in the same run, and a second suite running beside it would disturb them. Their
output streams through as they run. Each suite writes its tables as Markdown
(``--markdown``); the performance bars are read from those tables and printed at the end as
one summary table (bar, measured value, peer, verdict), with the machine and the date; the
peers suite (the tools ML users pick instead) gives issue 13's storage bars (size, random
batches and rows, the shuffled epoch, cost per row, full read, appends) and issue 14's
shuffle bars; the geometry suite (issue 16's per-row neighbours against a per-row cKDTree
loop) adds lines reported without a bar; the compile suite adds issue 16's bars (compiled
against eager), the import suite issue 17's (start-up time).

Verdicts: ``met`` / ``NOT MET`` for the project's performance bars, the same for the bars a suite
adds of its own (marked "suite bar"), and ``no bar`` for what is reported
without a bar. A missed bar is reported, never an error: the exit status is non-zero only
when a suite crashes (or writes no tables).

Modes: the default runs every suite at full size (about 15 minutes on a 2-core machine, 4
GB of memory at the peak: the peers suite's 100 000-molecule store); ``--quick`` runs each
suite's ``--quick`` mode (reduced sizes or fewer calls: real ratios, noisier; about 2.5
minutes); ``--smoke`` runs each suite's ``--smoke`` mode (tiny sizes: it checks that the
scripts work, its timings mean nothing; for CI, under 30 seconds).

``--write-docs`` rewrites the generated parts of ``docs/performance.md``: each suite's
tables between ``<!-- BEGIN GENERATED: NAME -->`` and ``<!-- END GENERATED: NAME -->``
and the summary of all bars between the ``summary`` markers, each with its machine and
date. The hand-written text around the markers stays. With ``--only``, the other suites'
blocks are kept, and the summary is rebuilt from all the blocks in the page.

Usage::

    python benchmarks/run_all.py                          # full run, about 15 minutes
    python benchmarks/run_all.py --quick                  # reduced sizes, about 2.5 minutes
    python benchmarks/run_all.py --smoke                  # tiny sizes (CI), under 30 s
    python benchmarks/run_all.py --markdown out.md        # also write all tables
    python benchmarks/run_all.py --write-docs             # rewrite docs/performance.md
    python benchmarks/run_all.py --only storage --write-docs   # rerun one suite
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from _common import host_info, markdown_table, text_table, version_info

HERE = Path(__file__).resolve().parent
DOCS = HERE.parent / "docs" / "performance.md"
SUITES = (
    "compute",
    "frame",
    "storage",
    "stream",
    "pandas",
    "savers",
    "peers",
    "geometry",
    "compile",
    "import",
)
OPTIONAL = ("awkward", "h5py", "lance", "torch", "datasets", "streaming", "granular", "polars")

# ---------------------------------------------------------------------------------------
# running the suites


@dataclass
class SuiteRun:
    """One suite's subprocess: how it went and the Markdown it wrote."""

    name: str
    mode: str
    command: list[str]
    returncode: int
    seconds: float
    date: str
    load_before: str
    markdown: str | None

    @property
    def ok(self) -> bool:
        return self.returncode == 0 and self.markdown is not None


def now() -> str:
    return datetime.datetime.now(datetime.UTC).astimezone().strftime("%Y-%m-%d %H:%M %Z")


def load_average() -> str:
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "unknown"


def duration(seconds: float) -> str:
    minutes, s = divmod(round(seconds), 60)
    return f"{minutes} min {s:02d} s" if minutes else f"{seconds:.1f} s"


def run_suite(name: str, mode: str, out_dir: Path) -> SuiteRun:
    """Run ``bench_<name>.py`` in ``mode``, its output streaming through to ours."""
    md = out_dir / f"{name}.md"
    flags = [] if mode == "full" else [f"--{mode}"]
    command = [sys.executable, str(HERE / f"bench_{name}.py"), *flags, "--markdown", str(md)]
    shown = " ".join(["python", f"benchmarks/bench_{name}.py", *flags])
    print(f"\n{'=' * 88}\n== {name}: {shown}\n{'=' * 88}", flush=True)
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    date, load = now(), load_average()
    start = time.perf_counter()
    try:
        code = subprocess.run(command, env=env, check=False).returncode
    except OSError as err:
        print(f"== {name}: could not start: {err}", file=sys.stderr, flush=True)
        code = 127
    seconds = time.perf_counter() - start
    text = md.read_text(encoding="utf-8") if md.exists() else None
    status = "ok" if code == 0 and text is not None else f"FAILED (exit {code})"
    print(f"== {name}: {status} in {duration(seconds)}", flush=True)
    return SuiteRun(name, mode, command, code, seconds, date, load, text)


# ---------------------------------------------------------------------------------------
# reading the suites' Markdown tables


@dataclass(frozen=True)
class MdTable:
    """A Markdown table and the heading above it."""

    title: str
    header: list[str]
    rows: list[list[str]]

    def row(self, first: str | Callable[[str], bool]) -> dict[str, str] | None:
        """The row whose first cell (backticks removed) is ``first`` (or passes it)."""
        for cells in self.rows:
            key = cells[0].replace("`", "").strip()
            if (first(key) if callable(first) else key == first) and len(cells) == len(self.header):
                return dict(zip(self.header, cells, strict=True))
        return None


def parse_tables(md: str) -> list[MdTable]:
    """Every table of a Markdown text, titled by the heading above it."""
    tables: list[MdTable] = []
    title, block = "", []
    for line in [*md.splitlines(), ""]:
        stripped = line.strip()
        if stripped.startswith("|"):
            block.append([c.strip() for c in stripped.strip("|").split("|")])
            continue
        if len(block) >= 2:
            tables.append(MdTable(title, block[0], block[2:]))
        block = []
        heading = re.match(r"#{1,6}\s+(.*)", stripped)
        if heading:
            title = heading.group(1).strip()
    return tables


def find(tables: Sequence[MdTable], prefix: str) -> MdTable | None:
    return next((t for t in tables if t.title.startswith(prefix)), None)


def cell(row: dict[str, str] | None, key: str) -> str:
    return "n/a" if row is None else row.get(key, "n/a") or "n/a"


# ---------------------------------------------------------------------------------------
# the bars


@dataclass(frozen=True)
class Bar:
    """One line of the summary."""

    area: str
    bar: str
    measured: str
    peer: str
    verdict: str  # met, NOT MET (...), n/a, no bar
    kind: str = "spec"  # spec: a project performance bar; suite: the suite's own; report: no bar

    def cells(self) -> list[str]:
        name = self.bar + (" (suite bar)" if self.kind == "suite" else "")
        return [self.area, name, self.measured, self.peer, self.verdict]

    def markdown_cells(self) -> list[str]:
        """The cells with ``*`` escaped (``(a*b).sum()`` is not emphasis)."""
        return [c.replace("*", "\\*").replace("|", "\\|") for c in self.cells()]


def verdict(text: str) -> str:
    """A suite's verdict cell as ``met`` / ``NOT MET (...)`` / ``n/a``."""
    text = text.strip()
    if text.lower().startswith("not met"):
        rest = text[len("not met") :].lstrip(": ").strip()
        return f"NOT MET ({rest})" if rest else "NOT MET"
    return text if text else "n/a"


def missing(area: str, bar: str, kind: str = "spec") -> Bar:
    return Bar(area, bar, "not measured", "", "n/a", kind)


def compute_bars(md: str) -> list[Bar]:
    tables = parse_tables(md)
    out = []
    for dtype in ("int32", "float64"):
        table = find(tables, dtype)
        if table is None:
            out.append(missing(f"compute {dtype}", "every op <= 1.5x NumPy and Polars, < Awkward"))
            continue
        for cells in table.rows:
            row = dict(zip(table.header, cells, strict=False))
            op = cells[0].replace("`", "")
            g = f"{row['grumpy ms']} ms"
            if op.startswith("construction"):
                out.append(
                    Bar(
                        f"compute {dtype}",
                        "construction from lists <= 1.3x pa.array, < Awkward",
                        f"{g} ({row['grumpy/pyarrow']} pa.array, {row['grumpy/awkward']} Awkward)",
                        f"pa.array {row['pyarrow ms']} ms, Awkward {row['awkward ms']} ms",
                        verdict(row["verdict"]),
                    )
                )
                continue
            polars = row.get("grumpy/polars", "n/a")
            out.append(
                Bar(
                    f"compute {dtype}",
                    f"{op} <= 1.5x NumPy and Polars, < Awkward",
                    f"{g} ({row['grumpy/numpy']} NumPy, {row['grumpy/awkward']} Awkward, "
                    f"{polars} Polars)",
                    f"NumPy {row['numpy ms']} ms, Awkward {row['awkward ms']} ms, "
                    f"Polars {row.get('polars ms', 'n/a')} ms",
                    verdict(row["verdict"]),
                )
            )
    return out


def storage_bars(md: str) -> list[Bar]:
    tables = parse_tables(md)
    io, acc = find(tables, "Save and full load"), find(tables, "Random access")
    app, bars = find(tables, "Append"), find(tables, "Bars")

    def judged(name: str) -> str:
        return verdict(cell(bars.row(name) if bars else None, "verdict"))

    out = []
    if io is None:
        out += [missing("storage", "load >= 50 % of np.load"), missing("storage", "load > Parquet")]
    else:
        me, npy = io.row("grumpy (default)"), io.row("np.save / np.load")
        parquet = [r for r in (io.row("Parquet (snappy)"), io.row("Parquet (none)")) if r]
        pq = min(parquet, key=lambda r: float(r["load ms"].replace(",", "")), default=None)
        out.append(
            Bar(
                "storage",
                "full load >= 50 % of the raw limit",
                f"{cell(me, 'load MB/s')} MB/s = {cell(me, 'vs np.load')} "
                f"(cold {cell(me, 'cold MB/s')} MB/s)",
                f"np.load {cell(npy, 'load MB/s')} MB/s (cold {cell(npy, 'cold MB/s')})",
                judged("load >= 50 % of np.load"),
            )
        )
        out.append(
            Bar(
                "storage",
                "full load faster than Parquet",
                f"{cell(me, 'load ms')} ms",
                f"{cell(pq, 'format')} {cell(pq, 'load ms')} ms",
                judged("load faster than Parquet"),
            )
        )
    if acc is None:
        out.append(missing("random access", "warm >= 10x Parquet and the naive read"))
    else:
        me = acc.row("grumpy")
        mine = f"{cell(me, 'warm ms')} ms/batch ({cell(me, 'warm b/s')} b/s)"
        for peer, label, bar in (
            (
                "Parquet read_table + take",
                "Parquet read_table + take",
                "random warm >= 10x Parquet",
            ),
            ("naive zarr per-row read", "naive per-row zarr read", "random warm >= 10x naive read"),
        ):
            p = acc.row(peer)
            out.append(
                Bar(
                    "random access",
                    f"warm 32-row batch >= 10x {label}",
                    f"{mine}: {cell(p, 'grumpy speed-up warm')}",
                    f"{cell(p, 'warm ms')} ms/batch",
                    judged(bar),
                )
            )
        ipc, lance = acc.row("Arrow IPC memory map"), acc.row("Lance take")
        out.append(
            Bar(
                "random access",
                "warm batches/s vs Arrow IPC memory map, Lance take",
                f"{cell(me, 'warm b/s')} b/s",
                f"IPC mmap {cell(ipc, 'warm b/s')} b/s, Lance {cell(lance, 'warm b/s')} b/s",
                "no bar",
                "report",
            )
        )
        out.append(
            Bar(
                "random access",
                "cold batch faster than Lance take",
                f"{cell(me, 'cold ms')} ms/batch",
                f"Lance {cell(lance, 'cold ms')} ms/batch",
                judged("random cold faster than Lance take"),
                "suite",
            )
        )
        mem = acc.row("in-memory Arrow take")
        out.append(
            Bar(
                "random access",
                "warm batch within 2x of in-memory Arrow take",
                f"{cell(me, 'warm ms')} ms/batch",
                f"pa.Table.take {cell(mem, 'warm ms')} ms/batch",
                judged("random warm within 2x of in-memory Arrow take"),
                "suite",
            )
        )
    if app is None:
        out.append(missing("append", "last / first <= 1.5x"))
    else:
        n = re.match(r"Append: (\d+) x gr.append of (\d+) rows", app.title)
        count, rows = n.groups() if n else ("?", "?")
        out.append(
            Bar(
                "append",
                f"{count} appends of {rows} rows: last / first <= 1.5x",
                f"{cell(app.row('last / first'), 'value')} (median of last 10 / first 10: "
                f"{cell(app.row('median of last 10 / median of first 10'), 'value')})",
                f"first append {cell(app.row('first append ms'), 'value')} ms",
                judged("append last / first <= 1.5"),
            )
        )
        once = app.row(lambda k: k.startswith("one gr.save of the same"))
        total = app.row(lambda k: k.startswith("total of"))
        out.append(
            Bar(
                "append",
                "appends total vs one save",
                f"{cell(total, 'value')} ms = "
                f"{cell(app.row('appends total / save once'), 'value')}",
                f"one gr.save {cell(once, 'value')} ms",
                "no bar",
                "report",
            )
        )
    return out


def stream_bars(md: str) -> list[Bar]:
    tables = parse_tables(md)
    epochs, apply = find(tables, "Epochs"), find(tables, "apply")
    out = []
    if epochs is None:
        out.append(missing("streaming", "shuffled epoch vs read limit", "report"))
    else:
        warm = epochs.row("shuffled, warm (same stream, set_epoch)")
        cold = epochs.row("shuffled, cold (page cache dropped)")
        raw = epochs.row("np.load of the buffers (raw limit), warm")
        seq = epochs.row("Parquet iter_batches, sequential, warm")
        out.append(
            Bar(
                "streaming",
                "shuffled epoch of 32-row batches: rows/s vs the sequential read limit",
                f"warm {cell(warm, 'rows/s')} rows/s = {cell(warm, 'vs raw limit')} of the "
                f"limit, {cell(warm, 'vs Parquet seq')} Parquet seq; cold "
                f"{cell(cold, 'rows/s')} rows/s",
                f"np.load {cell(raw, 'rows/s')} rows/s; Parquet iter_batches "
                f"{cell(seq, 'rows/s')} rows/s",
                "no bar",
                "report",
            )
        )
    if apply is None:
        out.append(missing("streaming", "apply(cpu=2) speed-up", "report"))
    else:
        two = apply.row("st.apply(f, cpu=2)")
        pool = apply.row("transform only, 2 threads")
        out.append(
            Bar(
                "streaming",
                "apply(cpu=2) speed-up on a GIL-releasing transform",
                f"{cell(two, 'speed-up vs cpu=1')} vs cpu=1",
                f"bare 2-thread pool: {cell(pool, 'vs serial loop')} vs a serial loop",
                "no bar",
                "report",
            )
        )
    return out


SAVER_PEERS = {
    "ZarrSaver": "raw zarr (reopen)",
    "HDF5Saver": "raw h5py (reopen)",
    "NumpySaver": "raw h5py (reopen)",
    "GrumpySaver": "raw zarr (reopen)",
}


def savers_bars(md: str) -> list[Bar]:
    tables = parse_tables(md)
    rect, ragged = (
        find(tables, "Append throughput, rectangular"),
        find(tables, "Append throughput, ragged"),
    )
    bars = find(tables, "Bars")
    out = []
    if rect is None or ragged is None:
        out.append(missing("savers", "append throughput vs raw h5py / zarr", "report"))
    else:
        for saver, peer in SAVER_PEERS.items():
            column = "vs " + peer.removeprefix("raw ").replace("(", "").replace(")", "")
            mine = [rect.row(saver), ragged.row(saver)]
            theirs = [rect.row(peer), ragged.row(peer)]
            out.append(
                Bar(
                    "savers",
                    f"{saver} append MB/s vs {peer} (rect / ragged)",
                    " / ".join(cell(r, "MB/s") for r in mine)
                    + " MB/s = "
                    + " / ".join(cell(r, column) for r in mine),
                    " / ".join(cell(r, "MB/s") for r in theirs) + " MB/s",
                    "no bar",
                    "report",
                )
            )
    for label in ("rectangular", "ragged"):
        name = f"NumpySaver append last / first <= 1.5 ({label})"
        row = bars.row(name) if bars else None
        measured = cell(row, "measured")
        out.append(
            Bar(
                "savers",
                name.replace(" <= 1.5", " <= 1.5x"),
                measured.split(" (")[0],
                "its own first appends",
                verdict(cell(row, "verdict")),
                "suite",
            )
        )
    return out


def pandas_bars(md: str) -> list[Bar]:
    table = find(parse_tables(md), "Accessor ops")
    if table is None:
        return [missing("pandas", "accessor ops vs pd.ArrowDtype .list", "report")]
    out = []
    for cells in table.rows:
        row = dict(zip(table.header, cells, strict=False))
        out.append(
            Bar(
                "pandas",
                f"s.gr {cells[0]} vs ArrowDtype s.list",
                f"{row['`.gr` on GrumpyDtype ms']} ms (pandas / grumpy = {row['ratio']})",
                f"{row['pandas `.list` ms']} ms",
                "no bar",
                "report",
            )
        )
    return out


def stream_shuffle_bars(epoch: MdTable, me: str) -> list[Bar]:
    """Issue 14's bars: ``gr.stream`` shuffles against its sequential epoch on the
    molecule store (warm rows/s of the peers' epoch table)."""
    seq = epoch.row(f"{me}, gr.stream sequential")
    base = _number(cell(seq, "warm rows/s"))
    out = []
    for mode, label, least in (
        ("shuffle_block", "block shuffle (shuffle_block)", 0.6),
        ("shuffle=True", "global shuffle (shuffle=True)", 0.2),
    ):
        row = epoch.row(f"{me}, gr.stream {mode}")
        rate = _number(cell(row, "warm rows/s"))
        if rate is None or base is None:
            measured, verdict_ = "n/a", "n/a"
        else:
            ratio = rate / base
            measured = f"{cell(row, 'warm rows/s')} rows/s = {ratio:.2f}x sequential"
            verdict_ = "met" if ratio >= least else f"NOT MET ({ratio:.2f}x < {least}x)"
        out.append(
            Bar(
                "streaming",
                f"{label} of 32 molecules a batch: >= {least}x the "
                "sequential gr.stream epoch (warm)",
                measured,
                f"sequential {cell(seq, 'warm rows/s')} rows/s",
                verdict_,
            )
        )
    return out


def _number(text: str) -> float | None:
    """A table cell such as ``12,345`` or ``0.52x`` as a float (None for n/a)."""
    try:
        return float(text.replace(",", "").removesuffix("x"))
    except ValueError:
        return None


def _ratio_bar(
    bar: str, mine: float | None, theirs: float | None, most: float, fmt: str, peer: str
) -> Bar:
    """A peers bar ``mine / theirs <= most`` (the ratio printed with ``fmt``)."""
    if mine is None or theirs is None or theirs == 0:
        return Bar("peers", bar, "n/a", peer, "n/a")
    ratio = mine / theirs
    measured = fmt.format(mine=mine, ratio=ratio)
    ok = ratio <= most
    return Bar("peers", bar, measured, peer, "met" if ok else f"NOT MET ({ratio:.2f}x)")


def peers_bars(md: str) -> list[Bar]:
    """Issue 13's bars, judged on the peers suite's tables (the tools ML users pick
    instead, on the molecule store): size, random batches and rows with the chunk cache
    off, the shuffled epoch, the cost per row against the store's size, the full read and
    appends. Each compares the default store (compressed) unless the bar names another."""
    tables = parse_tables(md)
    size, access = find(tables, "On-disk size"), find(tables, "Random access")
    epoch, load = find(tables, "Shuffled epoch"), find(tables, "Full read")
    scale, app = find(tables, "Cost per row"), find(tables, "Append")
    me, raw = "grumpy (default)", "grumpy (none)"
    peers = ("HF datasets", "Lance", "MDS (mosaicml-streaming)", "Granular")
    short = {"MDS (mosaicml-streaming)": "MDS", "np.memmap (raw reference)": "raw memmap"}

    def num(table: MdTable | None, row: str, key: str) -> float | None:
        return None if table is None else _number(cell(table.row(row), key))

    def line(table: MdTable | None, names: Sequence[str], key: str, unit: str = "") -> str:
        if table is None:
            return "n/a"
        return ", ".join(f"{short.get(n, n)} {cell(table.row(n), key)}{unit}" for n in names)

    out = []
    if size is None:
        out.append(missing("peers", "3-row frame <= 64 KB; default store <= 1.2x Parquet"))
    else:
        kb = num(size, me, "3-row apparent kB")
        du = cell(size.row(me), "3-row du kB")
        out.append(
            Bar(
                "peers",
                "3-molecule frame <= 64 KB on disk (bytes of its files)",
                f"{cell(size.row(me), '3-row apparent kB')} kB ({du} kB du: a 4 KiB block "
                "per file at least)",
                "",
                "n/a" if kb is None else ("met" if kb <= 64 else f"NOT MET ({kb:.0f} kB)"),
            )
        )
        out.append(
            _ratio_bar(
                "default store <= 1.2x the Parquet file (du)",
                num(size, me, "du MB"),
                num(size, "Parquet (snappy, default)", "du MB"),
                1.2,
                "{mine:.1f} MB = {ratio:.2f}x Parquet",
                line(size, ("HF datasets", "Lance", "MDS (mosaicml-streaming)"), "du vs Parquet"),
            )
        )
    if access is None:
        out.append(missing("peers", "random 32-molecule batch, cache off: faster than Lance"))
    else:
        batch = num(access, me, "batch ms")
        out.append(
            _ratio_bar(
                "random 32-molecule batch, chunk cache off: faster than Lance take",
                batch,
                num(access, "Lance", "batch ms"),
                1.0,
                "{mine:.2f} ms = {ratio:.2f}x Lance",
                line(access, (*peers, "np.memmap (raw reference)"), "batch ms", " ms"),
            )
        )
        out.append(
            _ratio_bar(
                "random 32-molecule batch, chunk cache off: <= 3x the uncompressed store",
                batch,
                num(access, raw, "batch ms"),
                3.0,
                "{mine:.2f} ms = {ratio:.2f}x",
                f"uncompressed {cell(access.row(raw), 'batch ms')} ms",
            )
        )
        row = num(access, me, "row µs")
        for peer, most in (("Lance", 2.0), ("HF datasets", 10.0)):
            out.append(
                _ratio_bar(
                    f"single molecule h[i], chunk cache off: <= {most:g}x {peer}",
                    row,
                    num(access, peer, "row µs"),
                    most,
                    "{mine:,.1f} µs = {ratio:.2f}x",
                    f"{peer} {cell(access.row(peer), 'row µs')} µs",
                )
            )
    if epoch is None:
        out.append(missing("peers", "shuffled epoch >= HF datasets"))
    else:
        hf = num(epoch, "HF datasets", "warm rows/s")
        others = ", ".join(
            f"{short.get(n, n)} {cell(epoch.row(n), 'warm rows/s')} / "
            f"{cell(epoch.row(n), 'cold rows/s')}"
            for n in peers
        )
        for name, least, label in ((raw, 1.0, "uncompressed"), (me, 0.5, "default (compressed)")):
            rate = num(epoch, name, "warm rows/s")
            cold = cell(epoch.row(name), "cold rows/s")
            if rate is None or not hf:
                out.append(Bar("peers", f"shuffled epoch, {label}", "n/a", others, "n/a"))
                continue
            ratio = rate / hf
            out.append(
                Bar(
                    "peers",
                    f"shuffled epoch of 32 random molecules a batch, {label} store: "
                    f">= {least:g}x HF datasets' rows/s (warm)",
                    f"{rate:,.0f} rows/s = {ratio:.2f}x HF (cold {cold})",
                    f"rows/s warm / cold: {others}",
                    "met" if ratio >= least else f"NOT MET ({ratio:.2f}x < {least:g}x)",
                )
            )
        out += stream_shuffle_bars(epoch, me)
    if load is None:
        out.append(missing("peers", "full read >= 50 % of np.load"))
    else:
        share = num(load, me, "vs np.load")
        measured = f"{cell(load.row(me), 'warm MB/s')} MB/s ({cell(load.row(me), 'vs np.load')})"
        out.append(
            Bar(
                "peers",
                "full read into memory >= 50 % of np.load (warm)",
                measured,
                line(load, ("HF datasets", "Lance", "Parquet (snappy, default)"), "warm MB/s")
                + " MB/s",
                "n/a"
                if share is None
                else ("met" if share >= 0.5 else f"NOT MET ({share:.2f}x < 0.5x)"),
            )
        )
    if scale is None:
        out.append(missing("peers", "cost per row flat in the store's size"))
    else:
        ratio_key = next((h for h in scale.header if " / " in h), "")
        names = ("grumpy (default), chunk cache", "grumpy (default), cache='none'")
        mine = [
            f"{n.removeprefix('grumpy (default), ')} {cell(scale.row(n), ratio_key)}" for n in names
        ]
        growth = num(scale, names[0], ratio_key)
        out.append(
            Bar(
                "peers",
                f"cost per row flat: largest / smallest store ({ratio_key}) <= 1.5x, default cache",
                ", ".join(mine),
                line(scale, ("np.memmap (raw reference)",), ratio_key),
                "n/a"
                if growth is None
                else ("met" if growth <= 1.5 else f"NOT MET ({growth:.2f}x)"),
            )
        )
    if app is None:
        out.append(missing("peers", "append >= 0.5x raw h5py"))
    else:
        name = "gr.append, durable=False (default)"
        mine_row = app.row(name)
        flat = num(app, name, "last / first 10")
        out.append(
            Bar(
                "peers",
                "append cost flat: last / first 10 calls <= 1.5x",
                f"{cell(mine_row, 'last / first 10')}",
                "",
                "n/a" if flat is None else ("met" if flat <= 1.5 else f"NOT MET ({flat:.2f}x)"),
            )
        )
        share = num(app, name, "vs raw h5py")
        durable = cell(app.row("gr.append, durable (default)"), "MB/s")
        out.append(
            Bar(
                "peers",
                "gr.append of 1,000-molecule batches, durable=False: >= 0.5x raw h5py MB/s",
                f"{cell(mine_row, 'MB/s')} MB/s = {cell(mine_row, 'vs raw h5py')} "
                f"(durable: {durable} MB/s)",
                f"raw h5py {cell(app.row('raw h5py (file open)'), 'MB/s')} MB/s",
                "n/a"
                if share is None
                else ("met" if share >= 0.5 else f"NOT MET ({share:.2f}x < 0.5x)"),
            )
        )
    return out


def geometry_bars(md: str) -> list[Bar]:
    """Issue 16's per-row geometry against a per-row cKDTree loop: reported, no bar."""
    tables = [t for t in parse_tables(md) if "cKDTree / numba" in t.header]
    if not tables:
        return [missing("geometry", "neighbors vs a per-row cKDTree loop", "report")]
    out = []
    for table in tables:  # molecules (10..60 points a row), then clouds (thousands)
        for cells in table.rows:
            row = dict(zip(table.header, cells, strict=False))
            out.append(
                Bar(
                    "geometry",
                    f"{cells[0]}: {table.title.split(' (')[0]}",
                    f"numba {row['grumpy (numba) ms']} ms, NumPy engine "
                    f"{row['grumpy (numpy) ms']} ms (cKDTree / numba = "
                    f"{row['cKDTree / numba']}, cKDTree / NumPy engine = "
                    f"{row['cKDTree / grumpy numpy']})",
                    f"cKDTree loop {row['cKDTree loop ms']} ms, NumPy loop "
                    f"{row['NumPy loop ms']} ms",
                    "no bar",
                    "report",
                )
            )
    return out


def judged_bars(area: str, what: str) -> Callable[[str], list[Bar]]:
    """The bars a suite judges itself in its "Bars" table (bar, measured, peer, verdict)."""

    def bars_of(md: str) -> list[Bar]:
        bars = find(parse_tables(md), "Bars")
        if bars is None:
            return [missing(area, what, "suite")]
        out = []
        for cells in bars.rows:
            row = dict(zip(bars.header, cells, strict=False))
            v = row.get("verdict", "n/a")
            kind = "report" if v == "no bar" else "suite"
            out.append(
                Bar(
                    area,
                    row["bar"],
                    row["measured"],
                    row["peer"],
                    v if kind == "report" else verdict(v),
                    kind,
                )
            )
        return out

    return bars_of


compile_bars = judged_bars("compile", "compiled >= 2x eager (whole arrays), >= 3x (streams)")
import_bars = judged_bars("import", "import grumpy_arrow <= 2x import numpy, pyarrow")


BARS: dict[str, Callable[[str], list[Bar]]] = {
    "compute": compute_bars,
    "storage": storage_bars,
    "stream": stream_bars,
    "savers": savers_bars,
    "pandas": pandas_bars,
    "peers": peers_bars,
    "geometry": geometry_bars,
    "compile": compile_bars,
    "import": import_bars,
}


def all_bars(markdown: dict[str, str]) -> list[Bar]:
    """The summary lines, in the bars' order, from each suite's Markdown (then the peers
    and geometry suites', which have only suite bars)."""
    out: list[Bar] = []
    for name in (
        "compute",
        "storage",
        "stream",
        "savers",
        "pandas",
        "peers",
        "geometry",
        "compile",
        "import",
    ):
        if name in markdown:
            out += BARS[name](markdown[name])
    return out


def tally(bars: list[Bar]) -> str:
    def count(kind: str) -> str:
        judged = [b for b in bars if b.kind == kind and b.verdict != "n/a"]
        met = sum(b.verdict.startswith("met") for b in judged)
        return f"{met} of {len(judged)}"

    return (
        f"project bars met: {count('spec')}; suite bars met: {count('suite')}; "
        f"reported without a bar: {sum(b.kind == 'report' for b in bars)}"
    )


HEADER = ["area", "bar", "measured (grumpy)", "peer", "verdict"]


# ---------------------------------------------------------------------------------------
# machine and report


def optional_versions() -> list[tuple[str, str]]:
    """Versions of the optional peers, read without importing them (installed or not)."""
    from importlib import metadata

    out = []
    dists = (
        "awkward",
        "h5py",
        "pylance",
        "torch",
        "datasets",
        "mosaicml-streaming",
        "granular",
        "polars",
    )
    for dist, name in zip(dists, OPTIONAL, strict=True):
        try:
            out.append((dist, metadata.version(dist)))
        except metadata.PackageNotFoundError:
            out.append((dist, f"not installed ({name} peers n/a)"))
    return out


def machine() -> list[tuple[str, str]]:
    """The machine, the load on it now, and the versions of grumpy_arrow and its peers."""
    load = ("load avg", f"{load_average()} (1, 5, 15 min)")
    return [*host_info(), load, *version_info(), *optional_versions()]


def runs_table(runs: list[dict[str, Any]]) -> tuple[list[str], list[list[str]]]:
    header = ["suite", "mode", "date", "time", "load avg before", "status"]
    body = [
        [
            r["name"],
            r["mode"],
            r["date"],
            duration(r["seconds"]),
            r.get("load_before", "?"),
            r.get("status", "ok"),
        ]
        for r in runs
    ]
    return header, body


def run_meta(run: SuiteRun) -> dict[str, Any]:
    return {
        "name": run.name,
        "mode": run.mode,
        "date": run.date,
        "seconds": round(run.seconds, 1),
        "load_before": run.load_before,
        "status": "ok" if run.ok else f"FAILED (exit {run.returncode})",
    }


def summary_markdown(
    bars: list[Bar], info: list[tuple[str, str]], runs: list[dict[str, Any]], note: str
) -> list[str]:
    """The summary block: tally, table of bars, runs of the suites, machine."""
    header, body = runs_table(runs)
    return [
        tally(bars) + ".",
        "",
        markdown_table(HEADER, [b.markdown_cells() for b in bars], left=(0, 1, 2, 3, 4)),
        "",
        note,
        "",
        markdown_table(header, body, left=(0, 1, 2, 4, 5)),
        "",
        "| machine (summary written) | |",
        "| --- | --- |",
        *(f"| {k} | {v} |" for k, v in info),
    ]


# ---------------------------------------------------------------------------------------
# docs/performance.md

BLOCK = re.compile(
    r"<!-- BEGIN GENERATED: (?P<name>\w+) -->\n(?P<body>.*?)<!-- END GENERATED: (?P=name) -->",
    re.DOTALL,
)
META = re.compile(r"<!-- run_all: (\{.*?\}) -->")


def suite_block(run: SuiteRun) -> str:
    """A suite's generated block: how it ran, then its own Markdown."""
    meta = run_meta(run)
    flag = "" if run.mode == "full" else f" --{run.mode}"
    return "\n".join(
        [
            f"<!-- run_all: {json.dumps(meta)} -->",
            "",
            f"Generated by `python benchmarks/run_all.py{flag} --write-docs` on {run.date} "
            f"({run.mode} sizes; the suite took {duration(run.seconds)}, load average "
            f"{run.load_before} before it). Do not edit by hand: the next run rewrites it.",
            "",
            (run.markdown or "").strip(),
            "",
        ]
    )


def replace_block(text: str, name: str, body: str) -> str:
    """``text`` with the block ``name`` replaced (appended as a new section if missing)."""
    # a blank line before the END marker: a comment right under a table would be a row
    body = body.rstrip("\n") + "\n\n"
    new = f"<!-- BEGIN GENERATED: {name} -->\n{body}<!-- END GENERATED: {name} -->"
    for m in BLOCK.finditer(text):
        if m.group("name") == name:
            return text[: m.start()] + new + text[m.end() :]
    return text.rstrip("\n") + f"\n\n## {name} (generated)\n\n{new}\n"


def write_docs(path: Path, runs: list[SuiteRun]) -> None:
    """Rewrite the blocks of the suites that ran, then the summary from every block."""
    text = path.read_text(encoding="utf-8")
    for run in runs:
        if run.ok:
            text = replace_block(text, run.name, suite_block(run))
    blocks = {m.group("name"): m.group("body") for m in BLOCK.finditer(text)}
    markdown, metas = {}, []
    for name in SUITES:
        body = blocks.get(name)
        if body is None:
            continue
        markdown[name] = body
        meta = META.search(body)
        if meta:
            metas.append(json.loads(meta.group(1)))
    note = (
        "Each suite's tables, machine and date are in its section below; the suites ran one "
        "after another, never side by side. Other work on the machine (see the load average "
        "before each suite) moves the milliseconds far more than the ratios; ratios within "
        "about 10 % of a bar can land on either side of it from run to run."
    )
    lines = [
        f"Generated by `python benchmarks/run_all.py --write-docs` on {now()} from the suite "
        "sections below. Do not edit by hand: the next run rewrites it.",
        "",
        *summary_markdown(all_bars(markdown), machine(), metas, note),
        "",
    ]
    text = replace_block(text, "summary", "\n".join(lines))
    path.write_text(text, encoding="utf-8")


# ---------------------------------------------------------------------------------------
# main


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--quick", action="store_true", help="each suite's --quick (~2.5 min)")
    mode.add_argument("--smoke", action="store_true", help="each suite's --smoke (for CI)")
    parser.add_argument("--markdown", type=Path, metavar="FILE", help="also write Markdown")
    parser.add_argument(
        "--write-docs", action="store_true", help=f"rewrite the generated parts of {DOCS.name}"
    )
    parser.add_argument(
        "--only", nargs="+", choices=SUITES, metavar="NAME", help=f"run these of {SUITES}"
    )
    args = parser.parse_args(argv)
    if args.write_docs and args.smoke:
        parser.error("--write-docs with --smoke: smoke timings are not results")
    return args


def print_summary(runs: list[SuiteRun], bars: list[Bar], info: list[tuple[str, str]]) -> None:
    print(f"\n{'=' * 88}\nSummary: every performance bar\n{'=' * 88}")
    for key, value in info:
        print(f"{key:>15}: {value}")
    print()
    header, body = runs_table([run_meta(r) for r in runs])
    print(text_table(header, body, left=(0, 1, 2, 4, 5)))
    print()
    print(text_table(HEADER, [b.cells() for b in bars], left=(0, 1, 2, 3, 4)))
    print()
    print(tally(bars))
    if runs and runs[0].mode == "smoke":
        print("smoke run: tiny sizes, so the verdicts above mean nothing (the scripts work)")


def write_markdown(path: Path, runs: list[SuiteRun], bars: list[Bar], info: Any) -> None:
    note = "The suites ran one after another in this run; each section has its machine."
    out = [
        "# grumpy_arrow benchmarks",
        "",
        "## All performance bars",
        "",
        *summary_markdown(bars, info, [run_meta(r) for r in runs], note),
        "",
    ]
    for run in runs:
        out += [f"## {run.name}", ""]
        out += [run.markdown.strip() if run.markdown else f"FAILED (exit {run.returncode})", ""]
    path.write_text("\n".join(out), encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    mode = "quick" if args.quick else "smoke" if args.smoke else "full"
    names = [n for n in SUITES if args.only is None or n in args.only]
    info = machine()
    start = time.perf_counter()
    runs = []
    with tempfile.TemporaryDirectory(prefix="run_all_") as tmp:
        for name in names:
            runs.append(run_suite(name, mode, Path(tmp)))
    markdown = {r.name: r.markdown for r in runs if r.markdown is not None}
    bars = all_bars(markdown)
    print_summary(runs, bars, info)
    print(f"all suites: {duration(time.perf_counter() - start)}")
    if args.markdown is not None:
        write_markdown(args.markdown, runs, bars, info)
        print(f"Markdown written to {args.markdown}")
    if args.write_docs:
        write_docs(DOCS, runs)
        print(f"{DOCS} rewritten (generated blocks only)")
    failed = [r.name for r in runs if not r.ok]
    if failed:
        print(f"FAILED suites: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
