"""DataFrame benchmark: frames over ``pa.Table``, per-residue means, level views.

Workload: N molecules (100 000 by default) with 20..40 residues each and 5..15 atoms per
residue (uniform, fixed seed): about 3 M residues and 30 M atoms. The columns are built from
NumPy buffers with ``pa.LargeListArray.from_arrays`` (never from Python lists):

* ``molecule_id`` (string per molecule), ``residue_name`` (3-letter string per residue),
  ``residue_weight`` (float64 per residue), ``atom_x`` / ``atom_y`` / ``atom_z`` (float32
  per atom) - schema ``["molecule", "residue", "atom"]``.

Measured in the same run:

1. **Construction**: ``gr.from_arrow(table, schema=...)`` (and ``gr.dataframe`` of the same
   Arrow arrays) against ``pa.Table.from_arrays`` of those arrays and ``ak.from_arrow``.
   Zero-copy is verified, not assumed: the addresses of every leaf value buffer, offsets
   buffer and string data buffer of the frame's columns must equal the table's, and the
   resident set size (VmRSS, and the peak VmHWM where the kernel lets it be reset) must
   grow by about nothing while the frame is built.
2. **Per-residue means**: ``df.residue.atom_x.mean(dim=-1)`` against NumPy
   ``np.add.reduceat`` on the raw atom buffer divided by the counts (the physical limit),
   pyarrow (``list_parent_indices`` + ``list_flatten`` + ``group_by(...).aggregate(mean)``)
   and Awkward ``ak.mean(atoms, axis=-1)`` on the same buffers; then the re-nesting
   assignment ``df.residue.residue_center = centers`` against pyarrow
   (``LargeListArray.from_arrays`` + ``Table.append_column``) and Awkward (``ak.unflatten``),
   and the whole statement ``df.residue.residue_center = df.residue.atom_x.mean(dim=-1)``.
3. **Level views**: ``df.residue.atom_x``, ``df.atom_x``, ``df.shape("residue")`` and
   ``df.shape("atom")`` against pyarrow ``.flatten()`` / ``list_value_length`` and Awkward
   ``ak.flatten`` / ``ak.num``; then each view at N / 10 and N molecules, with the number of
   Python-level calls (cProfile) at both sizes: equal counts mean no per-row Python, and the
   time may only grow with buffer work (``np.diff`` of offsets for ``shape``).

Every result is checked against NumPy on the raw buffers before anything is timed; grumpy
arrays are materialised with ``to_arrow()``. Timings are the best single call (ms) after a
warm-up call, in blocks of back-to-back calls per library (at least ``--repeat``, fast ops
get as many as fit in the budget, at most 100) in two passes over the libraries, with the
garbage collector paused (as :mod:`timeit` does). There are no bars for frames:
the ratios are reported, not judged.

Usage::

    python benchmarks/bench_frame.py                       # full run, 100k molecules, ~2 min
    python benchmarks/bench_frame.py --quick               # 10k molecules, ~20 s
    python benchmarks/bench_frame.py --smoke               # tiny sizes, 1 repeat (CI)
    python benchmarks/bench_frame.py --molecules 20000     # another size
    python benchmarks/bench_frame.py --markdown out.md     # also write Markdown tables
"""

from __future__ import annotations

import argparse
import cProfile
import dataclasses
import gc
import pstats
import resource
import sys
from dataclasses import dataclass
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
    machine_markdown,
    optional_version,
    text_table,
    version_info,
)
from _common import markdown_table as md_table

import grumpy_arrow as gr

PEERS = ("numpy", "pyarrow", "awkward")
LIBS = ("grumpy", *PEERS)
SCHEMA = ["molecule", "residue", "atom"]
AMINO = "ALAARGASNASPCYSGLNGLUGLYHISILELEULYSMETPHEPROSERTHRTRPTYRVAL"  # 20 codes, 3 bytes

# ---------------------------------------------------------------------------------------
# sizes and workload


@dataclass(frozen=True)
class Sizes:
    """How big the workload is and how often each op is timed."""

    molecules: int
    residues: tuple[int, int]  # per molecule, inclusive
    atoms: tuple[int, int]  # per residue, inclusive
    repeat: int  # calls per block at least
    budget_s: float  # more calls for fast ops, up to this many seconds per library and op
    passes: int  # blocks of calls per library and op


FULL = Sizes(molecules=100_000, residues=(20, 40), atoms=(5, 15), repeat=5, budget_s=1.0, passes=2)
# a tenth of the molecules, fewer calls (run_all.py --quick): real ratios, noisier
QUICK = Sizes(molecules=10_000, residues=(20, 40), atoms=(5, 15), repeat=3, budget_s=0.3, passes=2)
SMOKE = Sizes(molecules=200, residues=(2, 6), atoms=(1, 4), repeat=1, budget_s=0.0, passes=1)


@dataclass(frozen=True)
class Molecules:
    """The raw NumPy buffers of the workload (what every library wraps)."""

    mol_offsets: np.ndarray  # int64, molecules + 1: residues of each molecule
    res_offsets: np.ndarray  # int64, residues + 1: atoms of each residue
    mol_id: np.ndarray  # uint8, 8 bytes per molecule ("M0000042")
    res_name: np.ndarray  # uint8, 3 bytes per residue ("GLY")
    res_weight: np.ndarray  # float64 per residue
    x: np.ndarray  # float32 per atom
    y: np.ndarray
    z: np.ndarray

    @property
    def molecules(self) -> int:
        return len(self.mol_offsets) - 1

    @property
    def residues(self) -> int:
        return len(self.res_offsets) - 1

    @property
    def atoms(self) -> int:
        return len(self.x)

    @property
    def nbytes(self) -> int:
        parts = (self.mol_offsets, self.res_offsets, self.mol_id, self.res_name)
        parts += (self.res_weight, self.x, self.y, self.z)
        return sum(a.nbytes for a in parts)


def _offsets(lens: np.ndarray) -> np.ndarray:
    out = np.zeros(len(lens) + 1, dtype=np.int64)
    np.cumsum(lens, out=out[1:])
    return out


def make_molecules(sizes: Sizes, molecules: int, seed: int) -> Molecules:
    """Residue and atom counts and every value, from ``seed`` (NumPy only, no Python rows)."""
    rng = np.random.default_rng(seed)
    mol_offsets = _offsets(rng.integers(sizes.residues[0], sizes.residues[1] + 1, molecules))
    n_res = int(mol_offsets[-1])
    res_offsets = _offsets(rng.integers(sizes.atoms[0], sizes.atoms[1] + 1, n_res))
    n_atoms = int(res_offsets[-1])
    digits = (np.arange(molecules)[:, None] // 10 ** np.arange(6, -1, -1)) % 10
    mol_id = np.empty((molecules, 8), dtype=np.uint8)
    mol_id[:, 0] = ord("M")
    mol_id[:, 1:] = digits + ord("0")
    codes = np.frombuffer(AMINO.encode(), dtype=np.uint8).reshape(-1, 3)
    res_name = codes[rng.integers(0, len(codes), n_res)]
    return Molecules(
        mol_offsets=mol_offsets,
        res_offsets=res_offsets,
        mol_id=mol_id.reshape(-1),
        res_name=res_name.reshape(-1),
        res_weight=rng.uniform(50.0, 200.0, n_res),
        x=rng.standard_normal(n_atoms, dtype=np.float32),
        y=rng.standard_normal(n_atoms, dtype=np.float32),
        z=rng.standard_normal(n_atoms, dtype=np.float32),
    )


def fixed_width_strings(data: np.ndarray, width: int) -> pa.Array:
    """A string array over a buffer of ``width``-byte strings (zero-copy for the bytes)."""
    n = len(data) // width
    large = len(data) >= 2**31
    offsets = np.arange(0, n * width + 1, width, dtype=np.int64 if large else np.int32)
    typ = pa.large_string() if large else pa.string()
    return pa.Array.from_buffers(typ, n, [None, pa.py_buffer(offsets), pa.py_buffer(data)])


def arrow_arrays(m: Molecules) -> dict[str, pa.Array]:
    """The table's columns, from offsets + values with ``pa.LargeListArray.from_arrays``."""
    mol = pa.array(m.mol_offsets)
    res = pa.array(m.res_offsets)

    def per_residue(values: pa.Array) -> pa.Array:
        return pa.LargeListArray.from_arrays(mol, values)

    def per_atom(values: np.ndarray) -> pa.Array:
        return per_residue(pa.LargeListArray.from_arrays(res, pa.array(values)))

    return {
        "molecule_id": fixed_width_strings(m.mol_id, 8),
        "residue_name": per_residue(fixed_width_strings(m.res_name, 3)),
        "residue_weight": per_residue(pa.array(m.res_weight)),
        "atom_x": per_atom(m.x),
        "atom_y": per_atom(m.y),
        "atom_z": per_atom(m.z),
    }


def arrow_table(arrays: dict[str, pa.Array]) -> pa.Table:
    return pa.Table.from_arrays(list(arrays.values()), names=list(arrays))


def awkward_atoms(m: Molecules, values: np.ndarray, ak: Any) -> Any:
    """``molecules * var * var * float32`` over the same buffers (zero-copy)."""
    content = ak.contents.NumpyArray(values)
    residues = ak.contents.ListOffsetArray(ak.index.Index64(m.res_offsets), content)
    return ak.Array(ak.contents.ListOffsetArray(ak.index.Index64(m.mol_offsets), residues))


# ---------------------------------------------------------------------------------------
# memory and zero-copy evidence


def _status_kb(key: str) -> int | None:
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def rss_mb() -> float:
    """The current resident set size (VmRSS; peak ru_maxrss where /proc is missing)."""
    kb = _status_kb("VmRSS")
    if kb is None:
        kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return kb / 1024


def reset_peak_rss() -> bool:
    """Reset VmHWM to the current RSS (Linux ``clear_refs`` 5); False if not allowed."""
    try:
        with open("/proc/self/clear_refs", "w", encoding="ascii") as f:
            f.write("5")
    except OSError:
        return False
    return _status_kb("VmHWM") is not None


def peak_rss_mb() -> float | None:
    kb = _status_kb("VmHWM")
    return None if kb is None else kb / 1024


@dataclass(frozen=True)
class BufferCheck:
    """One buffer of a frame column against the same buffer of the table."""

    column: str
    buffer: str
    table_address: int
    frame_address: int

    @property
    def same(self) -> bool:
        return self.table_address == self.frame_address


def _buffers(arr: pa.Array, path: str = "") -> list[tuple[str, pa.Buffer]]:
    """``(name, buffer)`` of an array's offsets, string data and leaf values, outer first."""
    typ = arr.type
    if pa.types.is_large_list(typ) or pa.types.is_list(typ):
        return [(f"{path}offsets", arr.buffers()[1]), *_buffers(arr.values, path + "values.")]
    if pa.types.is_string(typ) or pa.types.is_large_string(typ):
        return [(f"{path}string offsets", arr.buffers()[1]), (f"{path}bytes", arr.buffers()[2])]
    return [(f"{path}values", arr.buffers()[1])]


def buffer_checks(table: pa.Table, df: Any) -> list[BufferCheck]:
    """Every buffer of every column: is the frame's the table's own memory?"""
    out = []
    for name in table.column_names:
        mine = _buffers(df[name].to_arrow())
        theirs = _buffers(table.column(name).chunk(0))
        for (label, a), (_, b) in zip(theirs, mine, strict=True):
            out.append(BufferCheck(name, label, a.address, b.address))
    return out


def view_evidence(table: pa.Table, df: Any) -> list[str]:
    """Do the level views and a re-nested column reuse the table's buffers?"""
    chunk = table.column("atom_x").chunk(0)
    x = chunk.values.values.buffers()[1].address
    per_residue = df.residue.atom_x.to_arrow()
    centers = df.residue.atom_x.mean(dim=-1)
    df.residue.residue_center = centers
    nested = df["residue_center"].to_arrow()
    checks = [
        ("df.residue.atom_x values", per_residue.values.buffers()[1].address, x),
        (
            "df.residue.atom_x offsets",
            per_residue.buffers()[1].address,
            chunk.values.buffers()[1].address,
        ),
        ("df.atom_x values", df.atom_x.to_arrow().buffers()[1].address, x),
        (
            "residue_center values",
            nested.values.buffers()[1].address,
            centers.to_arrow().buffers()[1].address,
        ),
        ("residue_center offsets", nested.buffers()[1].address, chunk.buffers()[1].address),
    ]
    del df["residue_center"]
    return [
        f"  {what:<26} 0x{got:x} vs 0x{want:x}  {'same' if got == want else 'COPIED'}"
        for what, got, want in checks
    ]


@dataclass(frozen=True)
class Memory:
    """RSS around ``gr.from_arrow`` (MB)."""

    table_mb: float
    before_mb: float
    after_mb: float
    peak_mb: float | None  # VmHWM during the call, when it could be reset first

    @property
    def growth_mb(self) -> float:
        return self.after_mb - self.before_mb

    @property
    def peak_growth_mb(self) -> float | None:
        return None if self.peak_mb is None else self.peak_mb - self.before_mb


def measure_memory(table: pa.Table) -> tuple[Any, Memory]:
    """Build the frame once, measuring the resident set around it."""
    gc.collect()
    can_peak = reset_peak_rss()
    before = rss_mb()
    df = gr.from_arrow(table, schema=SCHEMA)
    after = rss_mb()
    peak = peak_rss_mb() if can_peak else None
    return df, Memory(table.nbytes / 2**20, before, after, peak)


# ---------------------------------------------------------------------------------------
# the ops


@dataclass
class Setup:
    """Everything the ops of one frame size close over."""

    m: Molecules
    arrays: dict[str, pa.Array]
    table: pa.Table
    df: Any
    ak: Any
    atoms_ak: Any  # Awkward atom_x, or None


def make_setup(m: Molecules, ak: Any) -> Setup:
    arrays = arrow_arrays(m)
    table = arrow_table(arrays)
    df = gr.from_arrow(table, schema=SCHEMA)
    atoms_ak = None if ak is None else awkward_atoms(m, m.x, ak)
    return Setup(m, arrays, table, df, ak, atoms_ak)


def construction_ops(s: Setup) -> dict[str, dict[str, Op]]:
    arrays, table, ak = s.arrays, s.table, s.ak
    names, columns = list(arrays), list(arrays.values())
    peers: dict[str, Op] = {"pyarrow": lambda: pa.Table.from_arrays(columns, names=names)}
    if ak is not None:
        peers["awkward"] = lambda: ak.from_arrow(table)
    return {
        "gr.from_arrow(table, schema)": {
            "grumpy": lambda: gr.from_arrow(table, schema=SCHEMA),
            **peers,
        },
        "gr.dataframe(arrays, schema)": {
            "grumpy": lambda: gr.dataframe(arrays, schema=SCHEMA),
            **peers,
        },
    }


def mean_ops(s: Setup) -> dict[str, dict[str, Op]]:
    m, df, ak, atoms_ak = s.m, s.df, s.ak, s.atoms_ak
    x, res_offsets = m.x, m.res_offsets
    starts, counts = res_offsets[:-1], np.diff(res_offsets)
    by_residue = s.arrays["atom_x"].flatten()  # one list of atoms per residue (pyarrow)
    mol = pa.array(m.mol_offsets)
    res_counts = np.diff(m.mol_offsets)
    view = df.residue.atom_x
    centers = view.mean(dim=-1)
    centers_np = np.asarray(centers.to_arrow())
    centers_pa = pa.array(centers_np)
    table = s.table

    def numpy_mean() -> np.ndarray:
        return np.add.reduceat(x, starts) / counts

    def pyarrow_mean() -> pa.Array:
        # Residues are never empty, and one thread keeps the groups in residue order.
        t = pa.table({"r": pc.list_parent_indices(by_residue), "v": pc.list_flatten(by_residue)})
        return t.group_by("r", use_threads=False).aggregate([("v", "mean")])["v_mean"]

    def grumpy_assign() -> Any:
        df.residue.residue_center = centers
        return df["residue_center"].to_arrow()

    def grumpy_statement() -> Any:
        df.residue.residue_center = df.residue.atom_x.mean(dim=-1)
        return df["residue_center"].to_arrow()

    def pyarrow_assign(values: pa.Array) -> pa.Table:
        return table.append_column("residue_center", pa.LargeListArray.from_arrays(mol, values))

    ops: dict[str, dict[str, Op]] = {
        "df.residue.atom_x.mean(dim=-1)": {
            "grumpy": lambda: df.residue.atom_x.mean(dim=-1).to_arrow(),
            "numpy": numpy_mean,
            "pyarrow": pyarrow_mean,
        },
        "view.mean(dim=-1), view kept": {
            "grumpy": lambda: view.mean(dim=-1).to_arrow(),
            "numpy": numpy_mean,
            "pyarrow": pyarrow_mean,
        },
        "df.residue.residue_center = centers": {
            "grumpy": grumpy_assign,
            "pyarrow": lambda: pyarrow_assign(centers_pa),
        },
        "df.residue.residue_center = <mean>": {
            "grumpy": grumpy_statement,
            "numpy": numpy_mean,
            "pyarrow": lambda: pyarrow_assign(pyarrow_mean().combine_chunks()),
        },
    }
    if ak is not None:
        ops["df.residue.atom_x.mean(dim=-1)"]["awkward"] = lambda: ak.mean(atoms_ak, axis=-1)
        ops["view.mean(dim=-1), view kept"]["awkward"] = lambda: ak.mean(atoms_ak, axis=-1)
        ops["df.residue.residue_center = centers"]["awkward"] = lambda: ak.unflatten(
            centers_np, res_counts
        )
        # ak.mean over the last axis already gives the means nested per molecule.
        ops["df.residue.residue_center = <mean>"]["awkward"] = lambda: ak.mean(atoms_ak, axis=-1)
    return ops


VIEWS = ("df.residue.atom_x", "df.atom_x", 'df.shape("residue")', 'df.shape("atom")')


def grumpy_views(df: Any) -> dict[str, Op]:
    """The level views, materialised as Arrow arrays."""
    return {
        "df.residue.atom_x": lambda: df.residue.atom_x.to_arrow(),
        "df.atom_x": lambda: df.atom_x.to_arrow(),
        'df.shape("residue")': lambda: df.shape("residue").to_arrow(),
        'df.shape("atom")': lambda: df.shape("atom").to_arrow(),
    }


def view_ops(s: Setup) -> dict[str, dict[str, Op]]:
    m, ak, atoms_ak = s.m, s.ak, s.atoms_ak
    chunk = s.table.column("atom_x").chunk(0)
    mol = pa.array(m.mol_offsets)
    mine = grumpy_views(s.df)
    ops: dict[str, dict[str, Op]] = {
        "df.residue.atom_x": {"grumpy": mine["df.residue.atom_x"], "pyarrow": chunk.flatten},
        "df.atom_x": {
            "grumpy": mine["df.atom_x"],
            "numpy": lambda: m.x[m.res_offsets[0] : m.res_offsets[-1]],
            "pyarrow": lambda: chunk.flatten().flatten(),
        },
        'df.shape("residue")': {
            "grumpy": mine['df.shape("residue")'],
            "numpy": lambda: np.diff(m.mol_offsets),
            "pyarrow": lambda: pc.list_value_length(chunk),
        },
        'df.shape("atom")': {
            "grumpy": mine['df.shape("atom")'],
            "numpy": lambda: np.diff(m.res_offsets),
            "pyarrow": lambda: pa.LargeListArray.from_arrays(
                mol, pc.list_value_length(chunk.flatten())
            ),
        },
    }
    if ak is not None:
        ops["df.residue.atom_x"]["awkward"] = lambda: ak.flatten(atoms_ak, axis=1)
        ops["df.atom_x"]["awkward"] = lambda: ak.flatten(atoms_ak, axis=None)
        ops['df.shape("residue")']["awkward"] = lambda: ak.num(atoms_ak, axis=1)
        ops['df.shape("atom")']["awkward"] = lambda: ak.num(atoms_ak, axis=2)
    return ops


# ---------------------------------------------------------------------------------------
# correctness, before anything is timed


def _np(x: Any, ak: Any) -> np.ndarray:
    """Leaf values of any library's result as one NumPy array."""
    if isinstance(x, np.ndarray):
        return x.reshape(-1)
    if isinstance(x, pa.Table):  # the table with the re-nested column appended
        x = x.column("residue_center")
    if isinstance(x, pa.ChunkedArray):
        x = x.combine_chunks()
    if isinstance(x, pa.Array):
        while pa.types.is_large_list(x.type) or pa.types.is_list(x.type):
            x = x.flatten()
        return np.asarray(x)
    if ak is not None and isinstance(x, ak.Array):
        return np.asarray(ak.to_numpy(ak.flatten(x, axis=None)))
    return np.asarray(x).reshape(-1)


def _check(what: str, got: np.ndarray, want: np.ndarray) -> None:
    ok = got.shape == want.shape and (
        np.allclose(got, want, rtol=1e-5, atol=1e-5)
        if want.dtype.kind == "f"
        else np.array_equal(got, want)
    )
    if not ok:
        raise AssertionError(f"{what} differs from the NumPy reference")


def check_results(s: Setup, groups: dict[str, dict[str, dict[str, Op]]]) -> None:
    """Every op of every library against NumPy on the raw buffers; then the frame's columns."""
    m, ak = s.m, s.ak
    counts = np.diff(m.res_offsets)
    means = np.add.reduceat(m.x.astype(np.float64), m.res_offsets[:-1]) / counts
    want = {
        "df.residue.atom_x.mean(dim=-1)": means,
        "view.mean(dim=-1), view kept": means,
        "df.residue.residue_center = centers": means,
        "df.residue.residue_center = <mean>": means,
        "df.residue.atom_x": m.x,
        "df.atom_x": m.x,
        'df.shape("residue")': np.diff(m.mol_offsets),
        'df.shape("atom")': counts,
    }
    for group, ops in groups.items():
        if group == "construction":
            continue
        for op, fns in ops.items():
            for lib, fn in fns.items():
                _check(f"{lib} {op.strip()}", _np(fn(), ak), want[op])
    for op, fns in groups["construction"].items():
        df = fns["grumpy"]()
        if not df.to_arrow().select(s.table.column_names).equals(s.table):
            raise AssertionError(f"{op} does not hold the table's data")
    # The re-nested column has the frame's molecule -> residue offsets.
    s.df.residue.residue_center = s.df.residue.atom_x.mean(dim=-1)
    nested = s.df["residue_center"].to_arrow()
    _check("residue_center offsets", np.asarray(nested.offsets), m.mol_offsets)
    _check("residue_center values", np.asarray(nested.values), means)
    per_residue = s.df.residue.atom_x.to_arrow()
    _check("df.residue.atom_x offsets", np.asarray(per_residue.offsets), m.res_offsets)
    del s.df["residue_center"]


# ---------------------------------------------------------------------------------------
# timing


def python_calls(fn: Op) -> int:
    """Function calls (Python and builtin) made by one call of ``fn``, counted by cProfile."""
    profiler = cProfile.Profile()
    profiler.enable()
    fn()
    profiler.disable()
    return int(pstats.Stats(profiler).total_calls)  # type: ignore[attr-defined]


@dataclass(frozen=True)
class Row:
    """One op's timings (ms; None when a peer has no such op)."""

    op: str
    ms: dict[str, float | None]

    def ratio(self, peer: str) -> float | None:
        g, p = self.ms["grumpy"], self.ms[peer]
        return None if g is None or p is None or p == 0 else g / p


def time_group(ops: dict[str, dict[str, Op]], sizes: Sizes) -> list[Row]:
    rows = []
    for op, fns in ops.items():
        timed = best_ms(fns, sizes.repeat, sizes.budget_s, sizes.passes)
        rows.append(Row(op, {lib: timed.get(lib) for lib in LIBS}))
    return rows


@dataclass(frozen=True)
class Scaling:
    """One level view at the small and the full size."""

    op: str
    small_ms: float
    full_ms: float
    small_calls: int
    full_calls: int
    full_molecules: int

    @property
    def growth(self) -> float:
        return self.full_ms / self.small_ms if self.small_ms else float("nan")

    @property
    def ns_per_molecule(self) -> float:
        return self.full_ms * 1e6 / self.full_molecules


def time_scaling(small: Any, full: Any, full_molecules: int, sizes: Sizes) -> list[Scaling]:
    """Each view on both frames, timed in the same block, and its Python call count."""
    a, b = grumpy_views(small), grumpy_views(full)
    out = []
    for op in VIEWS:
        timed = best_ms({"small": a[op], "full": b[op]}, sizes.repeat, sizes.budget_s, 2)
        calls = (python_calls(a[op]), python_calls(b[op]))
        out.append(Scaling(op, timed["small"], timed["full"], *calls, full_molecules))
    return out


# ---------------------------------------------------------------------------------------
# report


def markdown_table(header: tuple[str, ...], body: list[list[str]]) -> str:
    """A Markdown table with the first cell of each row as code."""
    return md_table(header, [[f"`{line[0].strip()}`", *line[1:]] for line in body])


def _ms(x: float | None) -> str:
    if x is None:
        return "n/a"
    if x < 0.1:
        return f"{x:.4f}"
    return f"{x:.3f}" if x < 10 else f"{x:.1f}"


def _ratio(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.2f}x"


HEADER = ("op", *(f"{lib} ms" for lib in LIBS), *(f"grumpy/{p}" for p in PEERS))
SCALING_HEADER = (
    "view",
    "ms @ small",
    "ms @ full",
    "growth",
    "ns / molecule",
    "Python calls @ small",
    "Python calls @ full",
)


def cells(row: Row) -> list[str]:
    return [
        row.op,
        *(_ms(row.ms[lib]) for lib in LIBS),
        *(_ratio(row.ratio(p)) for p in PEERS),
    ]


def scaling_cells(s: Scaling) -> list[str]:
    return [
        s.op,
        _ms(s.small_ms),
        _ms(s.full_ms),
        f"{s.growth:.2f}x",
        f"{s.ns_per_molecule:.2f}",
        str(s.small_calls),
        str(s.full_calls),
    ]


def machine(ak: Any) -> list[tuple[str, str]]:
    """What the numbers were measured on."""
    return [*host_info(), *version_info(), ("awkward", optional_version(ak))]


def describe(m: Molecules) -> str:
    return (
        f"{m.molecules:,} molecules, {m.residues:,} residues, {m.atoms:,} atoms "
        f"({m.nbytes / 2**20:.0f} MB of buffers)"
    )


def zero_copy_lines(checks: list[BufferCheck], mem: Memory) -> list[str]:
    """The zero-copy evidence, as lines of text."""
    same = sum(c.same for c in checks)
    lines = [f"buffers shared with the table: {same} of {len(checks)}"]
    for c in checks:
        mark = "same" if c.same else "COPIED"
        lines.append(
            f"  {c.column:<14} {c.buffer:<30} table 0x{c.table_address:x}  "
            f"frame 0x{c.frame_address:x}  {mark}"
        )
    peak = mem.peak_growth_mb
    lines.append(
        f"RSS around gr.from_arrow: {mem.before_mb:.1f} MB -> {mem.after_mb:.1f} MB "
        f"(+{mem.growth_mb:.2f} MB; peak +"
        + ("n/a, VmHWM not resettable" if peak is None else f"{peak:.2f} MB")
        + f") for a table of {mem.table_mb:.0f} MB"
    )
    return lines


@dataclass
class Report:
    info: list[tuple[str, str]]
    workload: str
    construction: list[Row]
    arrays_ms: float
    evidence: list[str]
    means: list[Row]
    views: list[Row]
    scaling: list[Scaling]
    small: str
    full: str


def scaling_title(r: Report) -> str:
    return f"level views: small = {r.small}; full = {r.full}"


def print_report(r: Report) -> None:
    sections = (
        ("construction (zero-copy)", r.construction),
        ("per-residue means and re-nesting", r.means),
        ("level views", r.views),
    )
    for title, rows in sections:
        print(f"\n{title}")
        print(text_table(HEADER, [cells(row) for row in rows]))
        if rows is r.construction:
            print(f"(building the Arrow arrays from NumPy buffers: {_ms(r.arrays_ms)} ms)")
            print("\n".join(r.evidence))
    print(f"\n{scaling_title(r)}")
    print(text_table(SCALING_HEADER, [scaling_cells(s) for s in r.scaling]))


def write_markdown(path: Path, r: Report) -> None:
    out = machine_markdown(r.info)
    out += [f"Workload: {r.workload}", ""]
    out += [
        "### Construction (zero-copy)",
        "",
        markdown_table(HEADER, [cells(x) for x in r.construction]),
    ]
    out += ["", f"Building the Arrow arrays from NumPy buffers: {_ms(r.arrays_ms)} ms.", ""]
    out += ["```", *r.evidence, "```", ""]
    out += [
        "### Per-residue means and re-nesting",
        "",
        markdown_table(HEADER, [cells(x) for x in r.means]),
        "",
    ]
    out += ["### Level views", "", markdown_table(HEADER, [cells(x) for x in r.views]), ""]
    out += [f"### Level {scaling_title(r).removeprefix('level ')}", ""]
    out += [markdown_table(SCALING_HEADER, [scaling_cells(s) for s in r.scaling]), ""]
    path.write_text("\n".join(out), encoding="utf-8")


# ---------------------------------------------------------------------------------------
# main


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--smoke", action="store_true", help="tiny sizes, 1 repeat (for CI)")
    mode.add_argument("--quick", action="store_true", help="10,000 molecules, fewer calls")
    parser.add_argument("--molecules", type=int, metavar="N", help="molecules (default 100000)")
    parser.add_argument("--markdown", type=Path, metavar="PATH", help="also write Markdown")
    parser.add_argument("--repeat", type=int, help="calls per block at least (default 5)")
    parser.add_argument("--seed", type=int, default=20240917, help="seed of the data")
    parser.add_argument("--no-awkward", action="store_true", help="skip Awkward (as n/a)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    sizes = SMOKE if args.smoke else QUICK if args.quick else FULL
    if args.molecules is not None:
        sizes = dataclasses.replace(sizes, molecules=args.molecules)
    if args.repeat is not None:
        sizes = dataclasses.replace(sizes, repeat=args.repeat)
    ak = import_awkward(not args.no_awkward)
    info = machine(ak)
    for key, value in info:
        print(f"{key:>12}: {value}")

    m = make_molecules(sizes, sizes.molecules, args.seed)
    workload = (
        f"{describe(m)}; {sizes.residues[0]}..{sizes.residues[1]} residues per molecule, "
        f"{sizes.atoms[0]}..{sizes.atoms[1]} atoms per residue; best of >= "
        f"{sizes.repeat * sizes.passes} calls"
    )
    print(f"{'workload':>12}: {workload}")

    arrays = arrow_arrays(m)
    arrays_ms = best_ms({"pyarrow": lambda: arrow_arrays(m)}, sizes.repeat, 0.0, 1)["pyarrow"]
    table = arrow_table(arrays)
    df, mem = measure_memory(table)
    evidence = zero_copy_lines(buffer_checks(table, df), mem)
    evidence += [
        "views and re-nesting (vs the table's atom_x buffers / the centers' buffer):",
        *view_evidence(table, df),
    ]
    atoms_ak = None if ak is None else awkward_atoms(m, m.x, ak)
    s = Setup(m, arrays, table, df, ak, atoms_ak)

    groups = {"construction": construction_ops(s), "means": mean_ops(s), "views": view_ops(s)}
    check_results(s, groups)
    print(f"{'checked':>12}: every result against NumPy on the raw buffers")

    construction = time_group(groups["construction"], sizes)
    means = time_group(groups["means"], sizes)
    views = time_group(groups["views"], sizes)
    del groups

    small_m = make_molecules(sizes, max(1, sizes.molecules // 10), args.seed + 1)
    small_df = make_setup(small_m, None).df
    scaling = time_scaling(small_df, df, m.molecules, sizes)

    report = Report(
        info=info,
        workload=workload,
        construction=construction,
        arrays_ms=arrays_ms,
        evidence=evidence,
        means=means,
        views=views,
        scaling=scaling,
        small=describe(small_m),
        full=describe(m),
    )
    print_report(report)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"\npeak RSS of the whole run: {rss:.0f} MB")
    if args.smoke:
        print("smoke run: the sizes are tiny, so timings measure call overhead")
    if args.markdown is not None:
        write_markdown(args.markdown, report)
        print(f"Markdown written to {args.markdown}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
