"""Compute benchmark (docs/performance.md): grumpy_arrow against NumPy, Awkward, Polars, pyarrow.

Workload: 4096 rows of ~256 values (row lengths 255..257 drawn with a fixed seed), once with
int32 leaves (uniform in [0, 1000): 1000 distinct values) and once with float64 leaves
(standard normal: nearly all distinct); ``b`` has the same row lengths as ``a`` and other
values. ``isin`` tests 50 values, ``a > t`` compares with the median-ish 500 / 0.0,
``a[a > t]`` keeps the leaves above it (a ragged mask), and the fancy get gathers 1000
random rows (with repeats, in random order). ``m.sum()`` counts the True leaves of a bool
array ``m`` of 5x as many rows (about 5.2 M leaves, half of them True). Every peer is
measured in the same run:

* NumPy on a rectangular 4096 x 256 array (the first 4096 * 256 leaves: about as many), and
  ``np.count_nonzero`` on a rectangular bool array for ``m.sum()`` (``M.sum()`` casts every
  bool to int64 and takes 7x longer);
* Awkward on an ``ak.Array`` with the same ragged data (optional: ``n/a`` when missing);
* Polars on a ``pl.Series`` of ``List`` with the same ragged data (optional, ``n/a`` when
  missing): per-row ops with the ``.list`` namespace (``list.sum``, ``list.mean``,
  ``list.eval``, ``list.filter``), totals and ``unique`` on ``.explode()``, the gather with
  ``Series.gather``. Polars sums Int32 in Int32 (wrapping on overflow), so ``(a*b).sum()``,
  whose int32 total does not fit, casts to Int64 first; its other int32 sums fit.
* raw pyarrow (``pyarrow.compute``) on the same ``pa.large_list`` array.

Bars: every op <= 1.5x NumPy and faster than Awkward, and <= 1.5x Polars (issue
15: <= 1.5x the best of NumPy, Awkward and Polars); construction from nested Python lists
within 1.3x of ``pa.array(rows, type=...)``, faster than Awkward and <= 1.5x Polars.

Before timing, every result is checked: grumpy and its peers against a NumPy reference
computed on the very same ragged leaves, and grumpy on the rectangular data against NumPy's
own results. grumpy arrays are materialised with ``to_arrow()``.

Timings are the best single call (milliseconds) after a warm-up call. Each library runs
blocks of back-to-back calls (warm caches, as with :mod:`timeit`) of at least N calls (7 by
default, 5 for construction; fast ops get as many as fit in 0.1 s, at most 100), in two
passes over the libraries, so a burst of other work on a shared machine during one block
does not decide the result: at least 14 calls per op and library (10 for construction).
The garbage collector is paused while timing, as :mod:`timeit` does.

Usage::

    python benchmarks/bench_compute.py                       # full run, about 30 s
    python benchmarks/bench_compute.py --quick               # full sizes, fewer calls, ~10 s
    python benchmarks/bench_compute.py --smoke               # tiny sizes, 1 repeat (CI)
    python benchmarks/bench_compute.py --markdown out.md     # also write Markdown tables
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from _common import (
    Op,
    best_ms,
    host_info,
    import_awkward,
    import_polars,
    machine_markdown,
    optional_version,
    version_info,
)
from _common import markdown_table as md_table
from _common import text_table as plain_table

import grumpy_arrow as gr

LIBS = ("grumpy", "numpy", "awkward", "polars", "pyarrow")
PEERS = ("numpy", "awkward", "polars", "pyarrow")
CONSTRUCTION = "construction"
MASK_SUM = "m.sum() (bool, 5M)"
OPS = (
    "(a*b).sum()",
    "(a+b).sum()",
    "(a*2).sum()",
    "a.sum()",
    "a.sum(dim=1)",
    "a.mean(dim=1)",
    "isin (50 values)",
    "unique",
    "fancy get a[idx]",
    "a > t",
    "a[a > t]",
    MASK_SUM,
    CONSTRUCTION,
)


# ---------------------------------------------------------------------------------------
# workload


@dataclass(frozen=True)
class Sizes:
    """How big the workload is and how often each op is timed."""

    rows: int
    row_len: int
    gathers: int
    members: int
    repeat: int
    construction_repeat: int
    budget_s: float  # more calls for fast ops, up to this many seconds per library and op
    passes: int  # blocks of calls per library and op


FULL = Sizes(
    rows=4096,
    row_len=256,
    gathers=1000,
    members=50,
    repeat=7,
    construction_repeat=5,
    budget_s=0.2,
    passes=2,
)
# the full workload with fewer calls per op (run_all.py --quick): the same ratios, noisier
QUICK = Sizes(
    rows=4096,
    row_len=256,
    gathers=1000,
    members=50,
    repeat=3,
    construction_repeat=2,
    budget_s=0.05,
    passes=2,
)
SMOKE = Sizes(
    rows=64,
    row_len=16,
    gathers=16,
    members=50,
    repeat=1,
    construction_repeat=1,
    budget_s=0.0,
    passes=1,
)


@dataclass(frozen=True)
class Workload:
    """The ragged data of one dtype, in the form every library wants it."""

    dtype: str
    offsets: np.ndarray  # int64, n + 1
    a_values: np.ndarray
    b_values: np.ndarray
    rect_a: np.ndarray  # rows x row_len, the NumPy peer
    rect_b: np.ndarray
    idx: np.ndarray  # int64 row indices for the fancy get
    members: np.ndarray  # the values of isin
    threshold: int | float
    m_offsets: np.ndarray  # the bool array of m.sum(): 5x the rows
    m_values: np.ndarray
    rect_m: np.ndarray
    rows: list[list[Any]] = field(repr=False)  # nested Python lists for construction

    @property
    def leaves(self) -> int:
        return len(self.a_values)


def make_workload(dtype: str, sizes: Sizes, seed: int) -> Workload:
    """Row lengths ``row_len - 1 .. row_len + 1`` and values, all from ``seed``."""
    rng = np.random.default_rng(seed)
    n, m = sizes.rows, sizes.row_len
    lens = rng.integers(m - 1, m + 2, size=n)
    offsets = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(lens, out=offsets[1:])
    total = int(offsets[-1])
    threshold: int | float
    a_values: np.ndarray
    b_values: np.ndarray
    if dtype == "int32":
        a_values = rng.integers(0, 1000, size=total).astype(np.int32)
        b_values = rng.integers(0, 1000, size=total).astype(np.int32)
        members = rng.choice(1000, size=sizes.members, replace=False).astype(np.int32)
        threshold = 500
    else:
        a_values = rng.standard_normal(total)
        b_values = rng.standard_normal(total)
        members = rng.choice(a_values, size=sizes.members, replace=False)
        threshold = 0.0
    m_lens = rng.integers(m - 1, m + 2, size=5 * n)
    m_offsets = np.zeros(5 * n + 1, dtype=np.int64)
    np.cumsum(m_lens, out=m_offsets[1:])
    m_values = rng.random(int(m_offsets[-1])) < 0.5
    return Workload(
        dtype=dtype,
        offsets=offsets,
        a_values=a_values,
        b_values=b_values,
        rect_a=_first_leaves(a_values, n, m),
        rect_b=_first_leaves(b_values, n, m),
        idx=rng.integers(0, n, size=sizes.gathers).astype(np.int64),
        members=members,
        threshold=threshold,
        m_offsets=m_offsets,
        m_values=m_values,
        rect_m=_first_leaves(m_values, 5 * n, m),
        rows=[a_values[offsets[i] : offsets[i + 1]].tolist() for i in range(n)],
    )


def _first_leaves(values: np.ndarray, n: int, m: int) -> np.ndarray:
    """The first ``n * m`` leaves as an ``n x m`` view (repeated, should there be fewer)."""
    if len(values) >= n * m:
        return values[: n * m].reshape(n, m)
    return np.resize(values, (n, m))


def large_list(offsets: np.ndarray, values: np.ndarray) -> pa.Array:
    """``pa.large_list`` array over NumPy buffers (zero-copy)."""
    return pa.LargeListArray.from_arrays(pa.array(offsets), pa.array(values))


# ---------------------------------------------------------------------------------------
# the ops of every library: name -> zero-argument callable returning a computed result


def grumpy_ops(w: Workload) -> dict[str, Op]:
    """grumpy_arrow; arrays are materialised with ``to_arrow()``."""
    a = gr.array(large_list(w.offsets, w.a_values))
    b = gr.array(large_list(w.offsets, w.b_values))
    m = gr.array(large_list(w.m_offsets, w.m_values))
    dtype = gr.dtype(w.dtype)
    idx, members, t, rows = w.idx, w.members, w.threshold, w.rows
    return {
        "(a*b).sum()": lambda: (a * b).sum(),
        "(a+b).sum()": lambda: (a + b).sum(),
        "(a*2).sum()": lambda: (a * 2).sum(),
        "a.sum()": lambda: a.sum(),
        "a.sum(dim=1)": lambda: a.sum(dim=1).to_arrow(),
        "a.mean(dim=1)": lambda: a.mean(dim=1).to_arrow(),
        "isin (50 values)": lambda: a.isin(members).to_arrow(),
        "unique": lambda: a.unique().to_arrow(),
        "fancy get a[idx]": lambda: a[idx].to_arrow(),
        "a > t": lambda: (a > t).to_arrow(),
        "a[a > t]": lambda: a[a > t].to_arrow(),
        MASK_SUM: lambda: m.sum(),
        CONSTRUCTION: lambda: gr.array(rows, dtype=dtype).to_arrow(),
    }


def numpy_ops(w: Workload) -> dict[str, Op]:
    """NumPy on the rectangular array (there is no ragged construction to compare)."""
    a, b, m = w.rect_a, w.rect_b, w.rect_m
    idx, members, t = w.idx, w.members, w.threshold
    return {
        "(a*b).sum()": lambda: (a * b).sum(),
        "(a+b).sum()": lambda: (a + b).sum(),
        "(a*2).sum()": lambda: (a * 2).sum(),
        "a.sum()": lambda: a.sum(),
        "a.sum(dim=1)": lambda: a.sum(axis=1),
        "a.mean(dim=1)": lambda: a.mean(axis=1),
        "isin (50 values)": lambda: np.isin(a, members),
        "unique": lambda: np.unique(a),
        "fancy get a[idx]": lambda: a[idx],
        "a > t": lambda: a > t,
        "a[a > t]": lambda: a[a > t],
        MASK_SUM: lambda: np.count_nonzero(m),
    }


def awkward_ops(w: Workload, ak: Any) -> dict[str, Op]:
    """Awkward: isin and unique go through NumPy on the flattened leaves."""
    if ak is None:
        return {}

    def ragged(values: np.ndarray) -> Any:
        content = ak.contents.NumpyArray(values)
        return ak.Array(ak.contents.ListOffsetArray(ak.index.Index64(w.offsets), content))

    a, b = ragged(w.a_values), ragged(w.b_values)
    content = ak.contents.NumpyArray(w.m_values)
    m = ak.Array(ak.contents.ListOffsetArray(ak.index.Index64(w.m_offsets), content))
    idx, members, t, rows = w.idx, w.members, w.threshold, w.rows
    counts = ak.num(a, axis=1)

    def isin() -> Any:
        flat = ak.to_numpy(ak.flatten(a, axis=None))
        return ak.unflatten(np.isin(flat, members), counts)

    def construct() -> Any:
        out = ak.from_iter(rows)  # infers int64 / float64, like ak.Array(rows)
        return ak.values_astype(out, np.int32) if w.dtype == "int32" else out

    return {
        "(a*b).sum()": lambda: ak.sum(a * b, axis=None),
        "(a+b).sum()": lambda: ak.sum(a + b, axis=None),
        "(a*2).sum()": lambda: ak.sum(a * 2, axis=None),
        "a.sum()": lambda: ak.sum(a, axis=None),
        "a.sum(dim=1)": lambda: ak.sum(a, axis=1),
        "a.mean(dim=1)": lambda: ak.mean(a, axis=1),
        "isin (50 values)": isin,
        "unique": lambda: np.unique(ak.to_numpy(ak.flatten(a, axis=None))),
        "fancy get a[idx]": lambda: a[idx],
        "a > t": lambda: a > t,
        "a[a > t]": lambda: a[a > t],
        MASK_SUM: lambda: ak.count_nonzero(m, axis=None),
        CONSTRUCTION: construct,
    }


def polars_ops(w: Workload, pl: Any) -> dict[str, Op]:
    """Polars on ``pl.Series`` of ``List``: ``.list`` for per-row work, ``.explode()`` for
    totals (zero-copy here: no row is empty or null)."""
    if pl is None:
        return {}
    a = pl.Series("a", large_list(w.offsets, w.a_values))
    b = pl.Series("b", large_list(w.offsets, w.b_values))
    m = pl.Series("m", large_list(w.m_offsets, w.m_values))
    idx, t, rows = pl.Series(w.idx), w.threshold, w.rows
    members = w.members.tolist()
    el = pl.element()
    dtype = pl.List(pl.Int32 if w.dtype == "int32" else pl.Float64)
    wide = pl.Int64 if w.dtype == "int32" else pl.Float64  # Int32 totals wrap in Polars

    return {
        "(a*b).sum()": lambda: (a.explode() * b.explode()).cast(wide).sum(),
        "(a+b).sum()": lambda: (a.explode() + b.explode()).sum(),
        "(a*2).sum()": lambda: (a.explode() * 2).sum(),
        "a.sum()": lambda: a.explode().sum(),
        "a.sum(dim=1)": lambda: a.list.sum(),
        "a.mean(dim=1)": lambda: a.list.mean(),
        "isin (50 values)": lambda: a.list.eval(el.is_in(members)),
        "unique": lambda: a.explode().unique().sort(),
        "fancy get a[idx]": lambda: a.gather(idx),
        "a > t": lambda: a.list.eval(el > t),
        "a[a > t]": lambda: a.list.filter(el > t),
        MASK_SUM: lambda: m.explode().sum(),
        CONSTRUCTION: lambda: pl.Series(rows, dtype=dtype),
    }


def pyarrow_ops(w: Workload) -> dict[str, Op]:
    """Raw ``pyarrow.compute`` on ``pa.large_list`` arrays; per-row reductions use group_by."""
    a = large_list(w.offsets, w.a_values)
    b = large_list(w.offsets, w.b_values)
    typ = pa.large_list(pa.from_numpy_dtype(w.a_values.dtype))
    idx = pa.array(w.idx)
    members = pa.array(w.members)
    t = pa.scalar(w.threshold, type=typ.value_type)
    rows = w.rows

    def per_row(agg: str) -> pa.Array:
        # Rows are never empty here, and one thread keeps the groups in row order.
        table = pa.table({"row": pc.list_parent_indices(a), "v": pc.list_flatten(a)})
        out = table.group_by("row", use_threads=False).aggregate([("v", agg)])
        return out.column(f"v_{agg}").combine_chunks()

    m = large_list(w.m_offsets, w.m_values)

    def rewrap(values: pa.Array) -> pa.Array:
        return pa.LargeListArray.from_arrays(a.offsets, values)

    def unique() -> pa.Array:  # sorted, like np.unique and gr.unique
        distinct = pc.unique(pc.list_flatten(a))
        return pc.take(distinct, pc.sort_indices(distinct))

    return {
        "(a*b).sum()": lambda: pc.sum(pc.multiply(a.values, b.values)).as_py(),
        "(a+b).sum()": lambda: pc.sum(pc.add(a.values, b.values)).as_py(),
        "(a*2).sum()": lambda: pc.sum(pc.multiply(a.values, pa.scalar(2, t.type))).as_py(),
        "a.sum()": lambda: pc.sum(a.values).as_py(),
        "a.sum(dim=1)": lambda: per_row("sum"),
        "a.mean(dim=1)": lambda: per_row("mean"),
        "isin (50 values)": lambda: rewrap(pc.is_in(pc.list_flatten(a), value_set=members)),
        "unique": unique,
        "fancy get a[idx]": lambda: pc.take(a, idx),
        "a > t": lambda: rewrap(pc.greater(pc.list_flatten(a), t)),
        # a[a > t]: pyarrow.compute has no per-list filter (n/a)
        MASK_SUM: lambda: pc.sum(m.values).as_py(),
        CONSTRUCTION: lambda: pa.array(rows, type=typ),
    }


# ---------------------------------------------------------------------------------------
# correctness: every result against NumPy on the same leaves, before anything is timed


def _flat(x: Any, ak: Any) -> np.ndarray:
    """Leaf values of any library's result as one NumPy array."""
    if isinstance(x, np.ndarray):
        return x.reshape(-1)
    if hasattr(x, "to_arrow") and type(x).__module__.startswith("polars"):
        return _flat(x.to_arrow(), ak)
    if isinstance(x, pa.Array):
        return np.asarray(pc.list_flatten(x) if pa.types.is_large_list(x.type) else x)
    if ak is not None and isinstance(x, ak.Array):
        return np.asarray(ak.to_numpy(ak.flatten(x, axis=None)))
    return np.asarray(x).reshape(-1)


def _same(got: np.ndarray, want: np.ndarray) -> bool:
    if got.shape != want.shape:
        return False
    if want.dtype.kind == "f":
        return bool(np.allclose(got, want, rtol=1e-9, atol=1e-9))
    return bool(np.array_equal(got, want))


def references(w: Workload) -> dict[str, np.ndarray]:
    """What every op must give on the ragged data, computed with NumPy on the flat leaves."""
    va, vb, off = w.a_values, w.b_values, w.offsets
    acc = np.int64 if w.dtype == "int32" else np.float64
    sums = np.add.reduceat(va, off[:-1], dtype=acc)
    gathered = np.concatenate([va[off[i] : off[i + 1]] for i in w.idx])
    return {
        "(a*b).sum()": np.array([(va * vb).sum(dtype=acc)]),
        "(a+b).sum()": np.array([(va + vb).sum(dtype=acc)]),
        "(a*2).sum()": np.array([(va * 2).sum(dtype=acc)]),
        "a.sum()": np.array([va.sum(dtype=acc)]),
        "a.sum(dim=1)": sums,
        "a.mean(dim=1)": sums / np.diff(off),
        "isin (50 values)": np.isin(va, w.members),
        "unique": np.unique(va),
        "fancy get a[idx]": gathered,
        "a > t": va > w.threshold,
        "a[a > t]": va[va > w.threshold],
        MASK_SUM: np.array([np.count_nonzero(w.m_values)]),
        CONSTRUCTION: va,
    }


def check_results(w: Workload, ops: dict[str, dict[str, Op]], ak: Any) -> None:
    """Raise AssertionError when a ragged result differs from the NumPy reference."""
    want = references(w)
    for lib in ("grumpy", "awkward", "polars", "pyarrow"):
        for name, fn in ops[lib].items():
            got = _flat(fn(), ak)
            if not _same(got, want[name]):
                raise AssertionError(f"{lib} {name} on {w.dtype} differs from the reference")
    built = ops["grumpy"][CONSTRUCTION]()
    if not built.equals(large_list(w.offsets, w.a_values)):
        raise AssertionError(f"gr.array(rows) on {w.dtype} is not the expected Arrow array")


def check_rectangular(w: Workload, ops: dict[str, Op]) -> None:
    """grumpy on NumPy's rectangular data must give NumPy's own results."""
    a, b, m = gr.from_numpy(w.rect_a), gr.from_numpy(w.rect_b), gr.from_numpy(w.rect_m)
    mine: dict[str, Any] = {
        "(a*b).sum()": (a * b).sum(),
        "(a+b).sum()": (a + b).sum(),
        "(a*2).sum()": (a * 2).sum(),
        "a.sum()": a.sum(),
        "a.sum(dim=1)": a.sum(dim=1).to_numpy(),
        "a.mean(dim=1)": a.mean(dim=1).to_numpy(),
        "isin (50 values)": a.isin(w.members).to_numpy(),
        "unique": a.unique().to_numpy(),
        "fancy get a[idx]": a[w.idx].to_numpy(),
        "a > t": (a > w.threshold).to_numpy(),
        "a[a > t]": a[a > w.threshold].flatten().to_numpy(),
        MASK_SUM: m.sum(),
    }
    for name, fn in ops.items():
        want, got = np.asarray(fn()), np.asarray(mine[name])
        if not _same(got.reshape(want.shape) if got.size == want.size else got, want):
            raise AssertionError(f"grumpy {name} on rectangular {w.dtype} differs from NumPy")


# ---------------------------------------------------------------------------------------
# timing


@dataclass(frozen=True)
class Row:
    """One op's timings (ms; None when a peer has no such op) and its verdict."""

    op: str
    ms: dict[str, float | None]

    def ratio(self, peer: str) -> float | None:
        g, p = self.ms["grumpy"], self.ms[peer]
        return None if g is None or p is None else g / p

    def verdict(self) -> str:
        misses, missing = [], []
        first = ("pyarrow", "pa.array", 1.3) if self.op == CONSTRUCTION else ("numpy", "NumPy", 1.5)
        # (peer, label, largest ratio allowed, whether reaching it already misses)
        bars = (
            (*first, False),
            ("awkward", "Awkward", 1.0, True),
            ("polars", "Polars", 1.5, False),
        )
        for peer, label, limit, strict in bars:
            r = self.ratio(peer)
            if r is None:
                missing.append(label)
            elif r > limit or (strict and r == limit):
                misses.append(f"{r:.2f}x {label}")
        text = "met" if not misses else "NOT MET: " + ", ".join(misses)
        return text + (f" ({', '.join(missing)} n/a)" if missing else "")


def run_dtype(
    dtype: str, sizes: Sizes, seed: int, peers: tuple[Any, Any], log: Callable[[str], None]
) -> list[Row]:
    """Check, then time, every op of every library on one dtype (``peers``: the awkward
    and polars modules, or None)."""
    ak, pl = peers
    w = make_workload(dtype, sizes, seed)
    ops = {
        "grumpy": grumpy_ops(w),
        "numpy": numpy_ops(w),
        "awkward": awkward_ops(w, ak),
        "polars": polars_ops(w, pl),
        "pyarrow": pyarrow_ops(w),
    }
    check_results(w, ops, ak)
    check_rectangular(w, ops["numpy"])
    log(
        f"{dtype}: {sizes.rows} rows, {w.leaves} leaves (NumPy peer {w.rect_a.shape}); "
        "results checked against NumPy"
    )
    rows = []
    for op in OPS:
        repeat = sizes.construction_repeat if op == CONSTRUCTION else sizes.repeat
        fns = {lib: ops[lib][op] for lib in LIBS if op in ops[lib]}
        timed = best_ms(fns, repeat, sizes.budget_s, sizes.passes)
        rows.append(Row(op, {lib: timed.get(lib) for lib in LIBS}))
    return rows


# ---------------------------------------------------------------------------------------
# report

HEADER = (
    "op",
    *(f"{lib} ms" for lib in LIBS),
    *(f"grumpy/{peer}" for peer in PEERS),
    "verdict",
)


def _ms(x: float | None) -> str:
    if x is None:
        return "n/a"
    return f"{x:.3f}" if x < 10 else f"{x:.1f}"


def _ratio(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.2f}x"


def cells(row: Row) -> list[str]:
    """The table cells of one row."""
    return [
        row.op,
        *(_ms(row.ms[lib]) for lib in LIBS),
        *(_ratio(row.ratio(p)) for p in PEERS),
        row.verdict(),
    ]


def text_table(rows: list[Row]) -> str:
    """A fixed-width table for the terminal."""
    return plain_table(HEADER, [cells(r) for r in rows], left=(0, len(HEADER) - 1))


def markdown_table(rows: list[Row]) -> str:
    """The same table in Markdown."""
    body = []
    for row in rows:
        c = cells(row)
        c[0] = f"`{c[0]}`" if row.op != CONSTRUCTION else "construction `gr.array(rows)`"
        body.append(c)
    return md_table(HEADER, body, left=(0, len(HEADER) - 1))


def machine(ak: Any, pl: Any) -> list[tuple[str, str]]:
    """What the numbers were measured on."""
    return [
        *host_info(),
        *version_info(),
        ("awkward", optional_version(ak)),
        ("polars", optional_version(pl)),
    ]


def summary(results: dict[str, list[Row]]) -> str:
    """How many bars are met, and which are not."""
    all_rows = [(d, r) for d, rows in results.items() for r in rows]
    met = [r for _, r in all_rows if r.verdict().startswith("met")]
    lines = [f"bars met: {len(met)} of {len(all_rows)}"]
    lines += [f"  {d} {r.op}: {r.verdict()}" for d, r in all_rows if all(r is not m for m in met)]
    return "\n".join(lines)


def write_markdown(
    path: Path, info: list[tuple[str, str]], sizes: Sizes, results: dict[str, list[Row]]
) -> None:
    """The machine and one table per dtype, as Markdown."""
    out = machine_markdown(info)
    for dtype, rows in results.items():
        out += [
            f"### {dtype} ({sizes.rows} rows x ~{sizes.row_len} values)",
            "",
            markdown_table(rows),
            "",
        ]
    path.write_text("\n".join(out), encoding="utf-8")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--smoke", action="store_true", help="tiny sizes, 1 repeat (for CI)")
    mode.add_argument("--quick", action="store_true", help="full sizes, fewer calls per op")
    parser.add_argument("--markdown", type=Path, metavar="PATH", help="also write Markdown")
    parser.add_argument("--repeat", type=int, help="calls per block (default 7, 5 to build)")
    parser.add_argument("--seed", type=int, default=20240917, help="seed of the data")
    parser.add_argument("--no-awkward", action="store_true", help="skip Awkward (as n/a)")
    parser.add_argument("--no-polars", action="store_true", help="skip Polars (as n/a)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    sizes = SMOKE if args.smoke else QUICK if args.quick else FULL
    if args.repeat is not None:
        sizes = dataclasses.replace(
            sizes,
            repeat=args.repeat,
            construction_repeat=min(args.repeat, sizes.construction_repeat),
        )
    ak = import_awkward(not args.no_awkward)
    pl = import_polars(not args.no_polars)
    info = machine(ak, pl)
    for key, value in info:
        print(f"{key:>12}: {value}")
    print(
        f"{'workload':>12}: {sizes.rows} rows x {sizes.row_len - 1}..{sizes.row_len + 1} "
        f"values, fancy get of {sizes.gathers} rows, isin of {sizes.members} values, "
        f"m.sum() of 5x the rows; "
        f"best of >= {sizes.repeat * sizes.passes} calls "
        f"({sizes.construction_repeat * sizes.passes} for construction)"
    )
    results: dict[str, list[Row]] = {}
    for dtype in ("int32", "float64"):
        print()
        results[dtype] = run_dtype(dtype, sizes, args.seed, (ak, pl), print)
        print(text_table(results[dtype]))
    print()
    print(summary(results))
    if args.smoke:
        print("smoke run: the sizes are tiny, so timings measure call overhead, not the bars")
    if args.markdown is not None:
        write_markdown(args.markdown, info, sizes, results)
        print(f"Markdown written to {args.markdown}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
