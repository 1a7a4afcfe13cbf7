"""pandas benchmark (docs/performance.md): the ``s.gr`` accessor against ``pd.ArrowDtype``'s
``s.list`` accessor, measured in the same run.

Workload: 1,000,000 rows of int64 lists, lengths drawn uniformly from 1..19 (about 10 values
a row, 10M values; fixed seed), held once as a ``GrumpyDtype`` Series and once as a
``pd.ArrowDtype(pa.large_list(pa.int64()))`` Series over the same Arrow buffers. No row is
empty, because pandas' ``s.list[0]`` raises on empty rows (shown at the end); grumpy's
accessor gives NA there.

Operations and their pandas peers:

* ``len``: ``s.gr.len()`` vs ``s.list.len()``;
* ``flatten``: ``s.gr.flatten()`` vs ``s.list.flatten()`` (both repeat the row labels);
* ``first``: ``s.gr[0]`` vs ``s.list[0]``;
* ``row sums``: ``s.gr.sum(dim=-1)`` vs ``s.list.flatten().groupby(level=0).sum()`` (pandas
  has no per-row list reduction);
* ``row means``: ``s.gr.mean(dim=-1)`` vs ``s.list.flatten().groupby(level=0).mean()``.

A second table times pandas operations on whole rows (``==``, ``unique``, ``value_counts``,
``sort_values``, ``groupby`` by the list column) on the GrumpyDtype Series; ArrowDtype lists
have no Arrow kernels for them, so the table shows what pandas raises instead.

The grumpy accessor is timed on the GrumpyDtype Series and on the ArrowDtype Series (where
it first views the data as a GrumpyArray). Every result is checked against the pandas peer
before timing. Timings are the best of N calls in milliseconds (N = 5, 3 in quick mode, 1 in
smoke mode), with the garbage collector paused; ratio = pandas time / grumpy time (> 1:
grumpy faster).

Usage::

    python benchmarks/bench_pandas.py                    # full run (about a minute)
    python benchmarks/bench_pandas.py --quick            # 200,000 rows, 3 calls (~10 s)
    python benchmarks/bench_pandas.py --smoke            # 2,000 rows, 1 call (CI)
    python benchmarks/bench_pandas.py --markdown out.md  # also write Markdown tables
"""

from __future__ import annotations

import argparse
import gc
import platform
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
from _common import host_info, machine_markdown, markdown_table, version_info

import grumpy_arrow as gr
from grumpy_arrow.pandas import GrumpyExtensionArray

OPS: dict[str, tuple[Callable[[pd.Series], Any], Callable[[pd.Series], Any]]] = {
    "len": (lambda s: s.gr.len(), lambda s: s.list.len()),
    "flatten": (lambda s: s.gr.flatten(), lambda s: s.list.flatten()),
    "first s[0]": (lambda s: s.gr[0], lambda s: s.list[0]),
    "row sums": (
        lambda s: s.gr.sum(dim=-1),
        lambda s: s.list.flatten().groupby(level=0).sum(),
    ),
    "row means": (
        lambda s: s.gr.mean(dim=-1),
        lambda s: s.list.flatten().groupby(level=0).mean(),
    ),
}


# pandas operations on whole rows (hashing, ordering, comparing): GrumpyDtype only, since
# pd.ArrowDtype lists have no Arrow kernels for them (the table shows what pandas raises).
ROW_OPS: dict[str, Callable[[pd.Series], Any]] = {
    "s == s[0]": lambda s: s == s.iloc[0],
    "unique": lambda s: s.unique(),
    "value_counts": lambda s: s.value_counts(),
    "sort_values": lambda s: s.sort_values(),
    "groupby(rows)": lambda s: pd.DataFrame({"k": s, "v": 1}).groupby("k").v.sum(),
}


def build(rows: int, seed: int = 0) -> tuple[pd.Series, pd.Series]:
    """The same ragged int64 lists as a GrumpyDtype and as an ArrowDtype Series."""
    rng = np.random.default_rng(seed)
    lengths = rng.integers(1, 20, size=rows)
    offsets = np.zeros(rows + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    values = rng.integers(0, 1000, size=int(offsets[-1]), dtype=np.int64)
    arrow = pa.LargeListArray.from_arrays(pa.array(offsets), pa.array(values))
    grumpy = pd.Series(GrumpyExtensionArray(gr.from_arrow(arrow)), name="x")
    arrow_series = pd.Series(pd.arrays.ArrowExtensionArray(arrow), name="x")
    return grumpy, arrow_series


def best_ms(fn: Callable[[], Any], repeats: int) -> float:
    """Best wall time of ``repeats`` calls after one warm-up, in milliseconds."""
    fn()
    gc.disable()
    try:
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            fn()
            times.append(time.perf_counter() - start)
    finally:
        gc.enable()
    return min(times) * 1e3


def check(op: str, ours: pd.Series, theirs: pd.Series) -> None:
    """Fail loudly when the accessor and its pandas peer disagree."""
    got = ours.to_numpy(dtype=float, na_value=np.nan)
    want = theirs.to_numpy(dtype=float, na_value=np.nan)
    if not np.allclose(got, want, equal_nan=True):
        raise AssertionError(f"{op}: grumpy and pandas results differ")
    if not ours.index.equals(theirs.index):
        raise AssertionError(f"{op}: grumpy and pandas indexes differ")


def run(rows: int, repeats: int) -> list[Timing]:
    """(op, grumpy on GrumpyDtype, grumpy on ArrowDtype, pandas ArrowDtype) timings."""
    s_gr, s_arrow = build(rows)
    results = []
    for op, (ours, theirs) in OPS.items():
        check(op, ours(s_gr), theirs(s_arrow))
        check(op, ours(s_arrow), theirs(s_arrow))
        results.append(
            (
                op,
                best_ms(lambda f=ours: f(s_gr), repeats),  # type: ignore[misc]
                best_ms(lambda f=ours: f(s_arrow), repeats),  # type: ignore[misc]
                best_ms(lambda f=theirs: f(s_arrow), repeats),  # type: ignore[misc]
            )
        )
    return results


Timing = tuple[str, float, float, float]
RowOp = tuple[str, float, str]  # (op, GrumpyDtype ms, what pandas ArrowDtype does)


def table(results: list[Timing]) -> str:
    head = (
        f"{'op':<12} {'gr on Grumpy':>13} {'gr on Arrow':>12} {'pandas .list':>13} "
        f"{'ratio':>7} {'ratio (Arrow)':>14}"
    )
    lines = [head, "-" * len(head)]
    for op, ours, ours_arrow, theirs in results:
        lines.append(
            f"{op:<12} {ours:>10.1f} ms {ours_arrow:>9.1f} ms {theirs:>10.1f} ms "
            f"{theirs / ours:>6.1f}x {theirs / ours_arrow:>13.1f}x"
        )
    return "\n".join(lines)


def row_ops(rows: int, repeats: int) -> list[RowOp]:
    """Timings of whole-row pandas operations, and what ArrowDtype does with them."""
    s_gr, s_arrow = build(rows)
    out = []
    for op, fn in ROW_OPS.items():
        ours = best_ms(lambda f=fn: f(s_gr), repeats)  # type: ignore[misc]
        try:
            fn(s_arrow)
            theirs = f"{best_ms(lambda f=fn: f(s_arrow), repeats):.1f} ms"  # type: ignore[misc]
        except (pa.ArrowException, TypeError, ValueError) as err:
            theirs = f"raises {type(err).__name__}"
        out.append((op, ours, theirs))
    return out


def row_ops_table(results: list[RowOp]) -> str:
    lines = [f"{'row op':<14} {'GrumpyDtype':>12}  pandas ArrowDtype", "-" * 60]
    lines += [f"{op:<14} {ours:>9.1f} ms  {theirs}" for op, ours, theirs in results]
    return "\n".join(lines)


def _ms(x: float) -> str:
    return f"{x:.3f}" if x < 1 else f"{x:.2f}" if x < 10 else f"{x:.1f}"


def write_markdown(
    path: Path,
    rows: int,
    repeats: int,
    results: list[Timing],
    whole_rows: list[RowOp],
    note: str,
) -> None:
    """The machine and both tables, as Markdown."""
    info = [*host_info(), *version_info(), ("pandas", pd.__version__)]
    header = [
        "op",
        "`.gr` on GrumpyDtype ms",
        "`.gr` on ArrowDtype ms",
        "pandas `.list` ms",
        "ratio",
        "ratio (ArrowDtype)",
    ]
    body = [
        [
            op,
            _ms(ours),
            _ms(ours_arrow),
            _ms(theirs),
            f"{theirs / ours:.2f}x",
            f"{theirs / ours_arrow:.2f}x",
        ]
        for op, ours, ours_arrow, theirs in results
    ]
    out = machine_markdown(info)
    out += [
        f"### Accessor ops: {rows:,} rows of int64 lists (lengths 1..19), best of {repeats} "
        "call(s)",
        "",
        markdown_table(header, body),
        "",
        "ratio = pandas `.list` time / grumpy `.gr` time (> 1: grumpy faster).",
        "",
        f"### Whole-row operations ({rows:,} rows)",
        "",
        markdown_table(
            ["row op", "GrumpyDtype ms", "pandas ArrowDtype"],
            [[op, _ms(ours), theirs] for op, ours, theirs in whole_rows],
            left=(0, 2),
        ),
        "",
        f"Empty rows: `{note}`.",
        "",
    ]
    path.write_text("\n".join(out), encoding="utf-8")


def empty_rows_note() -> str:
    """What each accessor does with an empty row (pandas' s.list[0] raises)."""
    s = pd.Series([[1, 2], [], [3]], dtype=pd.ArrowDtype(pa.large_list(pa.int64())))
    ours = s.gr[0].tolist()
    try:
        theirs: Any = s.list[0].tolist()
    except (pa.ArrowInvalid, IndexError) as err:
        theirs = f"{type(err).__name__}: {err}"
    return f"rows [[1, 2], [], [3]]: s.gr[0] -> {ours}; s.list[0] -> {theirs}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--smoke", action="store_true", help="2,000 rows, 1 call (for CI)")
    mode.add_argument("--quick", action="store_true", help="200,000 rows, 3 calls")
    parser.add_argument("--rows", type=int, default=None, help="rows (default 1,000,000)")
    parser.add_argument("--repeats", type=int, default=None, help="calls per timing (5)")
    parser.add_argument("--markdown", type=Path, metavar="PATH", help="also write Markdown")
    args = parser.parse_args(argv)
    rows = args.rows or (2_000 if args.smoke else 200_000 if args.quick else 1_000_000)
    repeats = args.repeats or (1 if args.smoke else 3 if args.quick else 5)
    print(
        f"pandas {pd.__version__}, pyarrow {pa.__version__}, numpy {np.__version__}, "
        f"Python {platform.python_version()}, {platform.machine()}"
    )
    print(f"{rows:,} rows of int64 lists (lengths 1..19), best of {repeats} call(s)")
    print("ratio = pandas .list time / grumpy .gr time (> 1: grumpy faster)\n")
    results = run(rows, repeats)
    print(table(results))
    print()
    whole_rows = row_ops(rows, max(1, repeats // 2))
    print(row_ops_table(whole_rows))
    print()
    note = empty_rows_note()
    print(note)
    if args.smoke:
        print("smoke run: sizes are tiny, timings measure call overhead only")
    if args.markdown is not None:
        write_markdown(args.markdown, rows, repeats, results, whole_rows, note)
        print(f"Markdown written to {args.markdown}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
