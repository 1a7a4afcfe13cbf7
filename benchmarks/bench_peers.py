"""Peers benchmark: grumpy stores against the tools ML users pick instead, on molecules.

Workload (fixed seed): N molecules (20 000 by default) in a frame with schema
``["molecule", "residue", "atom"]``; each molecule has 2..8 residues (uniform) of 50..150
atoms (uniform), about 500 atoms per molecule (about 10^7 atoms in all). Columns:

* ``molecule_id`` int64, ``molecule_name`` string (6..14 random lowercase letters);
* ``residue_name``: one of the 20 amino-acid codes (3 letters) per residue;
* ``atom_element``: an element symbol (1-2 letters, 10 symbols, weighted) per atom;
* ``atom_x`` / ``atom_y`` / ``atom_z``: float32 rounded to 3 decimals; ``atom_charge``:
  float32.

The same data goes to every peer as its users would write it: a grumpy frame
(``gr.from_arrow``) saved with ``gr.save`` three times (the default compressor,
``compressor="none"`` and ``compressor="zstd"``); the pyarrow Table of nested
``large_list`` columns for Parquet, HuggingFace ``datasets`` (``datasets.Dataset(table)``,
``save_to_disk`` / ``load_from_disk``, memory-mapped, format ``"arrow"``: a batch is a
``pa.Table``, no conversion to Python) and Lance (``lance.write_dataset``, ``take``); one
record per molecule for MosaicML ``streaming`` (``MDSWriter``: ids ``int64``, names and
the space-joined residue names and element symbols ``str``, atoms per residue
``ndarray:int32``, coordinates and charges ``ndarray:float32``; read with
``StreamingDataset(local=...)[i]``) and Granular (``DatasetWriter`` with the same fields as
``i64`` / ``utf8`` / ``array``; read with ``DatasetReader[i]``); and the flat Arrow
buffers (ids, offsets, string bytes, floats) as ``.npy`` files, read through
``np.load(mmap_mode="r")`` with a per-molecule slice gather: the raw reference. MDS and
Granular batches are lists of per-molecule dicts (decoded NumPy arrays and strings), the
raw reference gives flat buffers; grumpy gives a frame, HF and Lance an Arrow table.

MB/s always counts the bytes of the Arrow buffers of the rows (offsets once per level,
string bytes, values), whatever a format writes to disk. All peers run in the same run, on
files under one temporary directory (``--dir``, /tmp by default), deleted at the end.
Missing peers (not installed, or failing to import) are skipped with a note, as n/a.

1. **Size on disk**: allocated (``du``: st_blocks x 512) and apparent bytes of each store,
   against the Parquet file (pyarrow's default, snappy), and of a 3-molecule store (the
   fixed cost of a small store).
2. **Open + one batch**: open the store and read one batch of 32 random molecules, page
   cache warm (median over a few batches, after one untimed call).
3. **Random access**: batches of 32 random molecules (median ms over many batches; grumpy
   with the chunk cache off, ``gr.open(path, cache="none")``; page cache warm) and single
   rows (``h[i]`` against Lance ``take([i])``, HF ``ds[i]``, MDS / Granular ``[i]``).
4. **Shuffled epoch**: 32 random molecules per batch over a permutation of all of them,
   with a handle opened before the clock starts (grumpy: its default chunk cache, and one
   line with the cache off); warm (page cache warm) and cold (the peer's files dropped from
   the page cache with fsync + ``posix_fadvise(POSIX_FADV_DONTNEED)`` before the run, no
   root needed). A run stops after ``epoch_budget_s`` (20 s): rows/s counts what it read.
   Medians of 3 runs (full mode).
5. **Cost per row vs store size**: µs per molecule of the same random-row epoch (page cache
   warm) on stores of 2 000, 20 000 and 100 000 molecules for grumpy (default and ``none``
   stores, with and without the chunk cache) and the raw reference; the largest / smallest
   ratio; the peak RSS growth while streaming (``VmHWM`` reset through
   ``/proc/self/clear_refs`` before each run; memory-mapped file pages count). Each size
   runs in a fresh subprocess.
6. **Full read into memory**: ``gr.load`` against ``np.load`` of the same buffers (the
   raw limit), HF ``load_from_disk(keep_in_memory=True)``, Parquet ``read_table`` and Lance
   ``to_table``, warm and cold (best of several calls).
7. **Append**: 200 batches of 1 000 molecules (cycled from 10 generated batches) with
   ``gr.append(..., durable=False)`` (each compressor), ``gr.append`` with its default
   (durable: fsync per commit) and ``GrumpySaver.save`` against raw h5py appends (one
   resizable 1-D dataset per buffer, file kept open, offsets shifted): MB/s, and the median
   of the last 10 calls over the first 10.

Every peer's batches, rows and full reads are checked against the in-memory table before
timing (a few batches), appended stores after. The garbage collector is paused while
timing.

Usage::

    python benchmarks/bench_peers.py                       # full run, about 8 minutes
    python benchmarks/bench_peers.py --quick               # 5 000 molecules, about 1.5 min
    python benchmarks/bench_peers.py --smoke               # tiny sizes, seconds (CI)
    python benchmarks/bench_peers.py --markdown out.md     # also write Markdown tables
    python benchmarks/bench_peers.py --skip mds granular   # leave peers out (as n/a)
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import gc
import importlib.machinery
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
import types
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import partial
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
    check,
    drop_page_cache,
    files_under,
    filesystem,
    host_info,
    run_in_scratch,
    tables_equal,
    version_info,
)

import grumpy_arrow as gr

os.environ.setdefault("LANCE_LOG", "error")  # no "creating a new dataset" warnings

SCHEMA = ["molecule", "residue", "atom"]
MB = 1e6
RESIDUES = [
    "ALA",
    "ARG",
    "ASN",
    "ASP",
    "CYS",
    "GLN",
    "GLU",
    "GLY",
    "HIS",
    "ILE",
    "LEU",
    "LYS",
    "MET",
    "PHE",
    "PRO",
    "SER",
    "THR",
    "TRP",
    "TYR",
    "VAL",
]
ELEMENTS = ["C", "N", "O", "S", "H", "P", "Fe", "Zn", "Mg", "Cl"]
ELEMENT_P = [0.45, 0.12, 0.14, 0.02, 0.20, 0.02, 0.01, 0.01, 0.01, 0.02]
FLOATS = ("atom_x", "atom_y", "atom_z", "atom_charge")
COMPRESSORS = ("default", "none", "zstd")
PEER_KEYS = ("grumpy", "memmap", "parquet", "hf", "lance", "mds", "granular", "h5py")

# ---------------------------------------------------------------------------------------
# optional peers


@dataclass
class Mods:
    """The optional peer modules (None when missing) and why each is missing or special."""

    datasets: Any = None
    lance: Any = None
    streaming: Any = None
    granular: Any = None
    h5py: Any = None
    notes: dict[str, str] = field(default_factory=dict)


def import_optional(name: str) -> tuple[Any, str]:
    """The module, or None and the reason (not installed, or failing to import)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return __import__(name), ""
    except ImportError as err:
        return None, f"not installed ({err})"
    except Exception as err:  # a broken install: skip the peer, say why
        return None, f"import failed ({type(err).__name__}: {err})"


def _stub(name: str, package: bool = False, **attrs: Any) -> types.ModuleType:
    module = types.ModuleType(name)
    module.__spec__ = importlib.machinery.ModuleSpec(name, None, is_package=package)
    if package:
        module.__path__ = []
    module.__dict__.update(attrs)
    return module


def import_streaming() -> tuple[Any, str]:
    """MosaicML ``streaming``; without torchvision (which its *vision* datasets import when
    the package loads, and whose CPU build has no wheel here) it is imported with
    placeholder ``torchvision`` modules, removed right after: MDS does not use them."""
    module, why = import_optional("streaming")
    if module is not None or "torchvision" not in why:
        return module, why
    for name in [m for m in sys.modules if m == "streaming" or m.startswith("streaming.")]:
        del sys.modules[name]
    stubs = [
        _stub("torchvision", package=True),
        _stub("torchvision.datasets", VisionDataset=type("VisionDataset", (), {})),
        _stub("torchvision.transforms", package=True),
        _stub("torchvision.transforms.functional", to_tensor=lambda x: x),
    ]
    sys.modules.update({m.__name__: m for m in stubs})
    try:
        module, why = import_optional("streaming")
    finally:
        for m in stubs:
            sys.modules.pop(m.__name__, None)
    if module is None:
        return None, why
    return module, "imported with placeholder torchvision modules: torchvision is not installed"


def import_mods(skip: set[str]) -> Mods:
    mods = Mods()
    for key, name in (("hf", "datasets"), ("lance", "lance"), ("granular", "granular")):
        if key in skip:
            mods.notes[key] = "skipped (--skip)"
            continue
        module, why = import_optional(name)
        setattr(mods, name, module)
        if why:
            mods.notes[key] = why
    if "h5py" in skip:
        mods.notes["h5py"] = "skipped (--skip)"
    else:
        mods.h5py, why = import_optional("h5py")
        if why:
            mods.notes["h5py"] = why
    if "mds" in skip:
        mods.notes["mds"] = "skipped (--skip)"
    else:
        mods.streaming, why = import_streaming()
        if why:
            mods.notes["mds"] = why
    if mods.datasets is not None:
        mods.datasets.disable_progress_bars()
        mods.datasets.logging.set_verbosity_error()
    return mods


def dist_version(dist: str) -> str:
    from importlib import metadata

    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "not installed"


# ---------------------------------------------------------------------------------------
# workload


@dataclass(frozen=True)
class Sizes:
    """How big the workload is and how often things are timed."""

    molecules: int
    residues: tuple[int, int]  # per molecule, inclusive
    atoms: tuple[int, int]  # per residue, inclusive
    batch_rows: int
    batches: int  # random batches of section 3
    batch_budget_s: float  # ... or fewer when a peer takes longer (at least 5)
    single_rows: int  # single-row reads of section 3
    open_repeat: int  # open + batch calls (median)
    epoch_runs: int  # runs per epoch mode (median)
    epoch_budget_s: float  # a run stops after this long
    scale: tuple[int, ...]  # molecules of the cost-per-row stores
    scale_budget_s: float
    load_repeat: int  # full reads (best of)
    appends: int
    append_rows: int
    append_pool: int  # distinct generated batches, cycled


FULL = Sizes(
    molecules=20_000,
    residues=(2, 8),
    atoms=(50, 150),
    batch_rows=32,
    batches=200,
    batch_budget_s=5.0,
    single_rows=200,
    open_repeat=7,
    epoch_runs=3,
    epoch_budget_s=20.0,
    scale=(2_000, 20_000, 100_000),
    scale_budget_s=10.0,
    load_repeat=5,
    appends=200,
    append_rows=1000,
    append_pool=10,
)
# a quarter of the molecules, one run per epoch mode, fewer batches and appends (run_all.py
# --quick): real ratios, noisier
QUICK = Sizes(
    molecules=5_000,
    residues=(2, 8),
    atoms=(50, 150),
    batch_rows=32,
    batches=60,
    batch_budget_s=1.5,
    single_rows=60,
    open_repeat=3,
    epoch_runs=1,
    epoch_budget_s=4.0,
    scale=(1_000, 5_000, 25_000),
    scale_budget_s=3.0,
    load_repeat=3,
    appends=30,
    append_rows=1000,
    append_pool=5,
)
SMOKE = Sizes(
    molecules=60,
    residues=(2, 4),
    atoms=(2, 6),
    batch_rows=8,
    batches=4,
    batch_budget_s=0.1,
    single_rows=4,
    open_repeat=1,
    epoch_runs=1,
    epoch_budget_s=0.3,
    scale=(30, 90),
    scale_budget_s=0.2,
    load_repeat=1,
    appends=3,
    append_rows=10,
    append_pool=2,
)

Buffers = dict[str, np.ndarray]
OFFSETS = (
    "molecule_name.offsets",
    "residue.offsets",
    "residue_name.offsets",
    "atom.offsets",
    "atom_element.offsets",
)


def lengths_to_offsets(lengths: Any) -> np.ndarray:
    lengths = np.asarray(lengths, dtype=np.int64)
    out = np.zeros(len(lengths) + 1, dtype=np.int64)
    np.cumsum(lengths, out=out[1:])
    return out


def decoded(codes: np.ndarray, words: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Offsets and UTF-8 bytes of ``words[codes]`` (a string column from codes)."""
    arr = pa.DictionaryArray.from_arrays(pa.array(codes), pa.array(words, pa.large_string()))
    strings = arr.dictionary_decode()
    _, offsets, data = strings.buffers()
    off = np.frombuffer(offsets, dtype=np.int64)[: len(codes) + 1]
    return off.copy(), np.frombuffer(data, dtype=np.uint8)[: int(off[-1])].copy()


def make_buffers(
    molecules: int, sizes: Sizes, rng: np.random.Generator, first_id: int = 0
) -> Buffers:
    """The flat Arrow buffers of the dataset (NumPy, no Python lists)."""
    n_res = rng.integers(sizes.residues[0], sizes.residues[1] + 1, size=molecules)
    residue_off = lengths_to_offsets(n_res)
    residues = int(residue_off[-1])
    atom_off = lengths_to_offsets(rng.integers(sizes.atoms[0], sizes.atoms[1] + 1, residues))
    atoms = int(atom_off[-1])
    name_off = lengths_to_offsets(rng.integers(6, 15, size=molecules))
    letters = rng.integers(ord("a"), ord("z") + 1, size=int(name_off[-1]), dtype=np.uint8)
    res_off, res_data = decoded(rng.integers(0, len(RESIDUES), residues, dtype=np.int32), RESIDUES)
    codes = rng.choice(len(ELEMENTS), size=atoms, p=ELEMENT_P).astype(np.int32)
    el_off, el_data = decoded(codes, ELEMENTS)
    out: Buffers = {
        "molecule_id": np.arange(first_id, first_id + molecules, dtype=np.int64),
        "molecule_name.offsets": name_off,
        "molecule_name.data": letters,
        "residue.offsets": residue_off,
        "residue_name.offsets": res_off,
        "residue_name.data": res_data,
        "atom.offsets": atom_off,
        "atom_element.offsets": el_off,
        "atom_element.data": el_data,
    }
    for name in ("atom_x", "atom_y", "atom_z"):
        out[name] = np.round(rng.uniform(-50.0, 50.0, atoms), 3).astype(np.float32)
    out["atom_charge"] = (rng.standard_normal(atoms) * 0.3).astype(np.float32)
    return out


def string_array(offsets: np.ndarray, data: np.ndarray) -> pa.Array:
    return pa.LargeStringArray.from_buffers(
        len(offsets) - 1,
        pa.py_buffer(np.ascontiguousarray(offsets, dtype=np.int64)),
        pa.py_buffer(np.ascontiguousarray(data, dtype=np.uint8)),
    )


def buffers_to_table(b: Buffers) -> pa.Table:
    """The nested table of flat buffers (offsets start at 0)."""
    ro = pa.array(np.asarray(b["residue.offsets"], dtype=np.int64))
    ao = pa.array(np.asarray(b["atom.offsets"], dtype=np.int64))

    def atoms(values: pa.Array) -> pa.Array:
        return pa.LargeListArray.from_arrays(ro, pa.LargeListArray.from_arrays(ao, values))

    columns = {
        "molecule_id": pa.array(np.asarray(b["molecule_id"], dtype=np.int64)),
        "molecule_name": string_array(b["molecule_name.offsets"], b["molecule_name.data"]),
        "residue_name": pa.LargeListArray.from_arrays(
            ro, string_array(b["residue_name.offsets"], b["residue_name.data"])
        ),
        "atom_element": atoms(string_array(b["atom_element.offsets"], b["atom_element.data"])),
    }
    for name in FLOATS:
        columns[name] = atoms(pa.array(np.ascontiguousarray(b[name], dtype=np.float32)))
    return pa.table(columns)


def gather(b: Buffers, idx: Any) -> Buffers:
    """The buffers of molecules ``idx`` (in that order), one slice per molecule and buffer;
    works on memory maps (the raw reference's batch) and on arrays."""
    idx = np.asarray(idx, dtype=np.int64)
    ro, ao, eo = b["residue.offsets"], b["atom.offsets"], b["atom_element.offsets"]
    no, rno = b["molecule_name.offsets"], b["residue_name.offsets"]
    r0, r1 = ro[idx], ro[idx + 1]
    a0, a1 = ao[r0], ao[r1]
    n0, n1 = no[idx], no[idx + 1]

    def cat(name: str, starts: np.ndarray, stops: np.ndarray) -> np.ndarray:
        src = b[name]
        return np.concatenate([src[s:e] for s, e in zip(starts, stops, strict=True)])

    def offsets(name: str, starts: np.ndarray, stops: np.ndarray) -> np.ndarray:
        src = b[name]
        parts = [np.diff(src[s : e + 1]) for s, e in zip(starts, stops, strict=True)]
        return lengths_to_offsets(np.concatenate(parts))

    out = {
        "molecule_id": np.asarray(b["molecule_id"][idx]),
        "molecule_name.offsets": lengths_to_offsets(n1 - n0),
        "molecule_name.data": cat("molecule_name.data", n0, n1),
        "residue.offsets": lengths_to_offsets(r1 - r0),
        "residue_name.offsets": offsets("residue_name.offsets", r0, r1),
        "residue_name.data": cat("residue_name.data", rno[r0], rno[r1]),
        "atom.offsets": offsets("atom.offsets", r0, r1),
        "atom_element.offsets": offsets("atom_element.offsets", a0, a1),
        "atom_element.data": cat("atom_element.data", eo[a0], eo[a1]),
    }
    for name in FLOATS:
        out[name] = cat(name, a0, a1)
    return out


@dataclass(frozen=True)
class Workload:
    """The buffers, their table and grumpy frame, and the random batches."""

    buffers: Buffers
    table: pa.Table
    frame: Any
    batches: list[np.ndarray] = field(repr=False)
    singles: np.ndarray = field(repr=False)

    @property
    def rows(self) -> int:
        return len(self.buffers["molecule_id"])

    @property
    def atoms(self) -> int:
        return len(self.buffers["atom_x"])

    @property
    def residues(self) -> int:
        return len(self.buffers["residue_name.offsets"]) - 1

    @property
    def nbytes(self) -> int:
        return sum(v.nbytes for v in self.buffers.values())


def workload_of(b: Buffers, batches: list[np.ndarray], singles: np.ndarray) -> Workload:
    table = buffers_to_table(b)
    return Workload(b, table, gr.from_arrow(table, schema=SCHEMA), batches, singles)


def make_workload(sizes: Sizes, seed: int, molecules: int | None = None) -> Workload:
    rng = np.random.default_rng(seed)
    n = sizes.molecules if molecules is None else molecules
    b = make_buffers(n, sizes, rng)
    k = min(sizes.batch_rows, n)
    batches = [rng.choice(n, size=k, replace=False).astype(np.int64) for _ in range(sizes.batches)]
    singles = rng.integers(0, n, size=sizes.single_rows).astype(np.int64)
    return workload_of(b, batches, singles)


def epoch_plan(rows: int, batch_rows: int, seed: int) -> list[np.ndarray]:
    """A permutation of every molecule, cut into batches (each a random set)."""
    perm = np.random.default_rng([seed, rows]).permutation(rows).astype(np.int64)
    return [perm[k : k + batch_rows] for k in range(0, rows, batch_rows)]


# -- per-molecule records (MDS, Granular) --------------------------------------------------


def spaced(offsets: np.ndarray, data: np.ndarray) -> Callable[[int, int], str]:
    """``text(k0, k1)``: strings k0..k1-1 joined by spaces, sliced from one spaced buffer."""
    lengths = np.diff(offsets)
    n = len(lengths)
    joined = np.full(len(data) + n, ord(" "), dtype=np.uint8)
    joined[np.arange(len(data)) + np.repeat(np.arange(n), lengths)] = data

    def text(k0: int, k1: int) -> str:
        if k1 <= k0:
            return ""
        return joined[offsets[k0] + k0 : offsets[k1] + k1 - 1].tobytes().decode()

    return text


def records(b: Buffers) -> Iterator[dict[str, Any]]:
    """One record per molecule: ids, names, space-joined residue names and elements, atoms
    per residue, coordinates and charges (what MDS and Granular store)."""
    ro, ao = b["residue.offsets"], b["atom.offsets"]
    no, nd = b["molecule_name.offsets"], b["molecule_name.data"]
    residue_text = spaced(b["residue_name.offsets"], b["residue_name.data"])
    element_text = spaced(b["atom_element.offsets"], b["atom_element.data"])
    for i in range(len(b["molecule_id"])):
        r0, r1 = int(ro[i]), int(ro[i + 1])
        a0, a1 = int(ao[r0]), int(ao[r1])
        rec = {
            "molecule_id": int(b["molecule_id"][i]),
            "molecule_name": nd[no[i] : no[i + 1]].tobytes().decode(),
            "residue_name": residue_text(r0, r1),
            "residue_atoms": np.diff(ao[r0 : r1 + 1]).astype(np.int32),
            "atom_element": element_text(a0, a1),
        }
        for name in FLOATS:
            rec[name] = np.ascontiguousarray(b[name][a0:a1])
        yield rec


def records_to_table(recs: list[dict[str, Any]]) -> pa.Table:
    """The nested table of per-molecule records (for the checks)."""

    def words(s: str) -> list[str]:
        return s.split(" ") if s else []

    res = [words(r["residue_name"]) for r in recs]
    els = [words(r["atom_element"]) for r in recs]
    ro = pa.array(lengths_to_offsets([len(x) for x in res]))
    ao = pa.array(
        lengths_to_offsets(np.concatenate([np.asarray(r["residue_atoms"]) for r in recs]))
    )

    def atoms(values: pa.Array) -> pa.Array:
        return pa.LargeListArray.from_arrays(ro, pa.LargeListArray.from_arrays(ao, values))

    columns = {
        "molecule_id": pa.array([int(r["molecule_id"]) for r in recs], pa.int64()),
        "molecule_name": pa.array([r["molecule_name"] for r in recs], pa.large_string()),
        "residue_name": pa.LargeListArray.from_arrays(
            ro, pa.array([w for x in res for w in x], pa.large_string())
        ),
        "atom_element": atoms(pa.array([w for x in els for w in x], pa.large_string())),
    }
    for name in FLOATS:
        flat = np.concatenate([np.asarray(r[name], dtype=np.float32) for r in recs])
        columns[name] = atoms(pa.array(flat))
    return pa.table(columns)


# ---------------------------------------------------------------------------------------
# files and checks


def disk_bytes(path: Path) -> int:
    """Bytes allocated on disk (``du``; sparse files count what they hold)."""
    return sum(f.stat().st_blocks * 512 for f in files_under(path))


def apparent_bytes(path: Path) -> int:
    return sum(f.stat().st_size for f in files_under(path))


def sync(path: Path) -> None:
    """fsync every file under ``path`` (write-back now, not during the next timing)."""
    for f in files_under(path):
        fd = os.open(f, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def remove(path: Path) -> None:
    if path.is_dir():
        shutil.rmtree(path)
    elif path.exists():
        path.unlink()


def as_table(x: Any) -> pa.Table:
    if isinstance(x, pa.Table):
        return x
    if hasattr(x, "to_arrow"):
        return as_table(x.to_arrow())
    if hasattr(x, "data") and hasattr(x.data, "table"):  # datasets.Dataset
        return x.data.table
    if isinstance(x, dict) and "atom.offsets" in x:
        return buffers_to_table(x)
    if isinstance(x, dict):
        return records_to_table([x])
    if isinstance(x, list):
        return records_to_table(x)
    raise TypeError(f"cannot compare a {type(x).__name__}")


def same_table(got: Any, want: pa.Table) -> bool:
    """Same columns with equal values (types cast to the wanted ones; metadata ignored)."""
    return tables_equal(as_table(got), want)


def no_gc() -> Callable[[], None]:
    """Pause the garbage collector; returns the function that restores it."""
    was = gc.isenabled()
    gc.disable()
    return gc.enable if was else (lambda: None)


# ---------------------------------------------------------------------------------------
# peers


@dataclass
class Reader:
    """An open store: a batch of molecules, one molecule."""

    take: Callable[[np.ndarray], Any]
    row: Callable[[int], Any]


@dataclass(frozen=True)
class Line:
    """One way to read a store at random: a line of the random-access or epoch table."""

    name: str
    open: Callable[[Path], Reader]
    note: str = ""
    stream: bool = False  # take() yields a gr.stream's next batch, whatever it is given


@dataclass
class Peer:
    """A way to store the molecules, read them back at random, and read them whole."""

    name: str
    key: str  # for --skip
    dirname: str
    write: Callable[[Workload, Path], None]
    open: Callable[[Path], Reader] | None  # None: no random access (Parquet)
    load: Callable[[Path], Any] | None  # full read into memory; None: not offered
    note: str = ""
    missing: str = ""  # why the peer is n/a
    # the lines of the random-access and epoch tables, when not just (name, open, note)
    access: list[Line] = field(default_factory=list)
    epoch: list[Line] = field(default_factory=list)

    def lines(self, section: str) -> list[Line]:
        given = self.access if section == "access" else self.epoch
        if given or self.open is None:
            return given
        return [Line(self.name, self.open, self.note)]

    def path(self, root: Path) -> Path:
        return root / self.dirname


def grumpy_reader(cache: str) -> Callable[[Path], Reader]:
    def open_(path: Path) -> Reader:
        h = gr.open(path, cache=cache)
        return Reader(h.take, lambda i: h[i])

    return open_


STREAM_BLOCK, STREAM_WINDOW = 256, 8  # the block shuffle's blocks (molecules) and window


def grumpy_stream(**options: Any) -> Callable[[Path], Reader]:
    """An epoch through ``gr.stream`` (its own batch plan, not the peers' permutation):
    each ``take`` yields the stream's next batch, of as many molecules as the peers' batch
    (the stream is made at the first call, with that batch size)."""

    def open_(path: Path) -> Reader:
        h = gr.open(path)
        batches: list[Iterator[Any]] = []

        def take(idx: np.ndarray) -> Any:
            if not batches:
                batches.append(iter(gr.stream(h, batch_size=len(idx), seed=1, **options)))
            return next(batches[0])

        return Reader(take, lambda i: h[i])

    return open_


def grumpy_peer(compressor: str) -> Peer:
    def write(w: Workload, path: Path) -> None:
        if compressor == "default":
            gr.save(w.frame, path)  # whatever the library's default is
        else:
            gr.save(w.frame, path, compressor=compressor)

    name = f"grumpy ({compressor})"
    bare, cached = grumpy_reader("none"), grumpy_reader("chunks")
    access = [Line(name, bare, "gr.open(path, cache='none')")]
    epoch = [Line(name, cached, "gr.open(path): the default chunk cache")]
    if compressor == "default":
        access.append(
            Line(f"{name}, chunk cache", cached, "gr.open(path), warmed by 3 untimed batches")
        )
        epoch.append(Line(f"{name}, cache='none'", bare, "gr.open(path, cache='none')"))
        epoch += [
            Line(
                f"{name}, gr.stream sequential",
                grumpy_stream(),
                "gr.stream(h, 32): consecutive molecules",
                stream=True,
            ),
            Line(
                f"{name}, gr.stream shuffle=True",
                grumpy_stream(shuffle=True),
                "gr.stream(h, 32, shuffle=True): a new permutation of the molecules",
                stream=True,
            ),
            Line(
                f"{name}, gr.stream shuffle_block",
                grumpy_stream(
                    shuffle=True, shuffle_block=STREAM_BLOCK, shuffle_window=STREAM_WINDOW
                ),
                f"shuffle_block={STREAM_BLOCK}, shuffle_window={STREAM_WINDOW}",
                stream=True,
            ),
        ]
    return Peer(
        name,
        "grumpy",
        f"{compressor}.gr",
        write,
        bare,
        gr.load,
        "gr.save()" if compressor == "default" else f'gr.save(compressor="{compressor}")',
        access=access,
        epoch=epoch,
    )


def npy_write(w: Workload, path: Path) -> None:
    path.mkdir()
    for key, arr in w.buffers.items():
        np.save(path / f"{key}.npy", arr)


def npy_load(path: Path, mmap: bool = False) -> Buffers:
    return {
        f.name.removesuffix(".npy"): np.load(f, mmap_mode="r" if mmap else None)
        for f in sorted(path.glob("*.npy"))
    }


def memmap_open(path: Path) -> Reader:
    mm = npy_load(path, mmap=True)
    return Reader(lambda idx: gather(mm, idx), lambda i: gather(mm, [i]))


def parquet_peer(compression: str) -> Peer:
    def write(w: Workload, path: Path) -> None:
        pq.write_table(w.table, path, compression=compression)

    label = "snappy, default" if compression == "snappy" else compression
    return Peer(
        f"Parquet ({label})",
        "parquet",
        f"{compression}.parquet",
        write,
        None,
        pq.read_table,
        "pq.write_table / pq.read_table",
    )


def hf_peer(datasets: Any) -> Peer:
    def write(w: Workload, path: Path) -> None:
        datasets.Dataset(w.table).save_to_disk(str(path))

    def open_(path: Path) -> Reader:
        # format "arrow": a batch is a pa.Table of one zero-copy slice of the memory map per
        # row (no byte is read until used); combine_chunks() copies the rows into one
        # contiguous table, as every other peer returns them
        ds = datasets.load_from_disk(str(path)).with_format("arrow")
        return Reader(
            lambda idx: ds[idx.tolist()].combine_chunks(), lambda i: ds[int(i)].combine_chunks()
        )

    def open_lazy(path: Path) -> Reader:
        ds = datasets.load_from_disk(str(path)).with_format("arrow")
        return Reader(lambda idx: ds[idx.tolist()], lambda i: ds[int(i)])

    def load(path: Path) -> Any:
        return datasets.load_from_disk(str(path), keep_in_memory=True).data.table

    name = "HF datasets"
    lines = [
        Line(name, open_, "format 'arrow': ds[indices].combine_chunks()"),
        Line(
            f"{name}, zero-copy slices",
            open_lazy,
            "format 'arrow': ds[indices], slices of the memory map: no byte read",
        ),
    ]
    return Peer(
        name,
        "hf",
        "hf",
        write,
        open_,
        load,
        "save_to_disk; load_from_disk (memory-mapped Arrow)",
        access=lines,
        epoch=lines,
    )


def lance_peer(lance: Any) -> Peer:
    def write(w: Workload, path: Path) -> None:
        lance.write_dataset(w.table, str(path), mode="create")

    def open_(path: Path) -> Reader:
        ds = lance.dataset(str(path))
        return Reader(ds.take, lambda i: ds.take([int(i)]))

    return Peer(
        "Lance",
        "lance",
        "table.lance",
        write,
        open_,
        lambda p: lance.dataset(str(p)).to_table(),
        "lance.write_dataset defaults; ds.take(indices)",
    )


MDS_COLUMNS = {
    "molecule_id": "int64",
    "molecule_name": "str",
    "residue_name": "str",
    "residue_atoms": "ndarray:int32",
    "atom_element": "str",
    **{name: "ndarray:float32" for name in FLOATS},
}


def mds_peer(streaming: Any, batch_rows: int) -> Peer:
    def write(w: Workload, path: Path) -> None:
        with streaming.MDSWriter(out=str(path), columns=MDS_COLUMNS) as writer:
            for rec in records(w.buffers):
                writer.write(rec)

    def open_(path: Path) -> Reader:
        ds = streaming.StreamingDataset(local=str(path), shuffle=False, batch_size=batch_rows)
        return Reader(lambda idx: [ds[int(i)] for i in idx], lambda i: ds[int(i)])

    return Peer(
        "MDS (mosaicml-streaming)",
        "mds",
        "mds",
        write,
        open_,
        None,
        "MDSWriter (no compression); StreamingDataset(local)[i] per molecule",
    )


GRANULAR_SPEC = {
    "molecule_id": "i64",
    "molecule_name": "utf8",
    "residue_name": "utf8",
    "residue_atoms": "array",
    "atom_element": "utf8",
    **{name: "array" for name in FLOATS},
}


def granular_peer(granular: Any) -> Peer:
    def write(w: Workload, path: Path) -> None:
        with granular.DatasetWriter(path, GRANULAR_SPEC, granular.encoders) as writer:
            for rec in records(w.buffers):
                writer.append(rec, flush=False)

    def open_(path: Path) -> Reader:
        rd = granular.DatasetReader(path, granular.decoders, cache_index=True)
        return Reader(lambda idx: [rd[int(i)] for i in idx], lambda i: rd[int(i)])

    return Peer(
        "Granular",
        "granular",
        "granular",
        write,
        open_,
        None,
        "DatasetWriter; DatasetReader(cache_index=True)[i] per molecule",
    )


def make_peers(mods: Mods, sizes: Sizes, skip: set[str]) -> list[Peer]:
    """Every peer, the missing ones marked with why (shown as n/a)."""

    def absent(name: str, key: str, dirname: str) -> Peer:
        return Peer(name, key, dirname, npy_write, None, None, missing=mods.notes.get(key, ""))

    out: list[Peer] = []
    if "grumpy" not in skip:
        out += [grumpy_peer(c) for c in COMPRESSORS]
    if "memmap" not in skip:
        out.append(
            Peer(
                "np.memmap (raw reference)",
                "memmap",
                "npy",
                npy_write,
                memmap_open,
                npy_load,
                "flat buffers as .npy; np.load(mmap_mode='r') + slice per molecule",
            )
        )
    if "parquet" not in skip:
        out += [parquet_peer("snappy"), parquet_peer("zstd")]
    out.append(hf_peer(mods.datasets) if mods.datasets else absent("HF datasets", "hf", "hf"))
    out.append(lance_peer(mods.lance) if mods.lance else absent("Lance", "lance", "l"))
    if mods.streaming:
        out.append(mds_peer(mods.streaming, sizes.batch_rows))
    else:
        out.append(absent("MDS (mosaicml-streaming)", "mds", "mds"))
    out.append(
        granular_peer(mods.granular) if mods.granular else absent("Granular", "granular", "g")
    )
    return out


def default_peer(peers: list[Peer]) -> Peer | None:
    return next((p for p in peers if p.name == "grumpy (default)"), None)


# ---------------------------------------------------------------------------------------
# 1. size on disk


@dataclass
class SizeRow:
    name: str
    disk: int | None
    apparent: int | None
    files: int | None
    tiny_disk: int | None
    tiny_apparent: int | None
    note: str


def write_all(
    peers: list[Peer], w: Workload, tiny: Workload, root: Path, log: Any
) -> list[SizeRow]:
    """Write every peer's store (and its 3-molecule store), synced; their sizes."""
    rows = []
    for p in peers:
        if p.missing:
            rows.append(SizeRow(p.name, None, None, None, None, None, p.missing))
            continue
        path, small = p.path(root), p.path(root / "tiny")
        (root / "tiny").mkdir(exist_ok=True)
        start = time.perf_counter()
        p.write(w, path)
        sync(path)
        p.write(tiny, small)
        sync(small)
        log(f"write {p.name}: {time.perf_counter() - start:.1f} s")
        rows.append(
            SizeRow(
                p.name,
                disk_bytes(path),
                apparent_bytes(path),
                len(files_under(path)),
                disk_bytes(small),
                apparent_bytes(small),
                p.note,
            )
        )
    return rows


# ---------------------------------------------------------------------------------------
# checks before timing


def check_stream(line: Line, r: Reader, w: Workload) -> None:
    """A stream line's epoch: every molecule once, each batch equal to its molecules."""
    seen = np.zeros(w.rows, dtype=np.int64)
    plan = epoch_plan(w.rows, len(w.batches[0]), 0)
    for k, idx in enumerate(plan):
        batch = as_table(r.take(idx))
        ids = batch.column("molecule_id").to_numpy()
        np.add.at(seen, ids - int(w.table.column("molecule_id")[0].as_py()), 1)
        if k < 3:
            check(same_table(batch, w.table.take(ids)), f"{line.name} batch {k}")
    check(bool(np.all(seen == 1)), f"{line.name}: not every molecule exactly once")


def check_peer(p: Peer, w: Workload, root: Path) -> None:
    """A few batches, rows and the full read of a peer against the table."""
    path = p.path(root)
    for line in {line.name: line for line in p.lines("access") + p.lines("epoch")}.values():
        r = line.open(path)
        if line.stream:
            check_stream(line, r, w)
            continue
        for idx in w.batches[:3]:
            check(same_table(r.take(idx), w.table.take(idx)), f"{line.name} batch")
        for i in w.singles[:3]:
            check(same_table(r.row(int(i)), w.table.take([int(i)])), f"{line.name} row")
    if p.load is not None:
        got = p.load(path)
        ok = (
            all(np.array_equal(got[k], v) for k, v in w.buffers.items())
            if isinstance(got, dict)
            else same_table(got, w.table)
        )
        check(ok, f"{p.name} full read")


# ---------------------------------------------------------------------------------------
# 2. open + one batch


@dataclass
class OpenRow:
    name: str
    open_ms: float | None
    batch_ms: float | None
    note: str = ""

    @property
    def total_ms(self) -> float | None:
        if self.open_ms is None or self.batch_ms is None:
            return None
        return self.open_ms + self.batch_ms


def measure_open(p: Peer, w: Workload, root: Path, sizes: Sizes) -> OpenRow:
    """Median open and first-batch ms (page cache warm), after one untimed call."""
    if p.missing or p.open is None:
        return OpenRow(p.name, None, None, p.missing)
    path, open_ = p.path(root), p.open
    open_(path).take(w.batches[-1])  # lazy imports, first-use setup
    opens, takes = [], []
    restore = no_gc()
    try:
        for k in range(sizes.open_repeat):
            t0 = time.perf_counter()
            r = open_(path)
            t1 = time.perf_counter()
            r.take(w.batches[k % len(w.batches)])
            t2 = time.perf_counter()
            opens.append(t1 - t0)
            takes.append(t2 - t1)
            del r
    finally:
        restore()
    return OpenRow(p.name, statistics.median(opens) * 1e3, statistics.median(takes) * 1e3)


# ---------------------------------------------------------------------------------------
# 3. random access


@dataclass
class AccessRow:
    name: str
    batch_ms: float | None  # median
    batches: int
    row_us: float | None  # median
    rows: int
    note: str = ""


def timed_calls(fn: Callable[[Any], Any], args: list[Any], budget_s: float) -> list[float]:
    """Seconds of ``fn(a)`` for each ``a`` until the budget is spent (at least 5 calls)."""
    out: list[float] = []
    restore = no_gc()
    try:
        start = time.perf_counter()
        for a in args:
            t0 = time.perf_counter()
            fn(a)
            out.append(time.perf_counter() - t0)
            if len(out) >= 5 and time.perf_counter() - start > budget_s:
                break
    finally:
        restore()
    return out


def measure_access(
    name: str, open_: Callable[[], Reader], w: Workload, sizes: Sizes, note: str = ""
) -> AccessRow:
    r = open_()
    for idx in w.batches[:3]:  # warm-up (page cache, lazy setup)
        r.take(idx)
    batches = timed_calls(r.take, w.batches, sizes.batch_budget_s)
    singles = timed_calls(r.row, [int(i) for i in w.singles], sizes.batch_budget_s / 2)
    return AccessRow(
        name,
        statistics.median(batches) * 1e3,
        len(batches),
        statistics.median(singles) * 1e6,
        len(singles),
        note,
    )


def access_rows(
    peers: list[Peer], w: Workload, root: Path, sizes: Sizes, log: Any
) -> list[AccessRow]:
    out = []
    for p in peers:
        if p.open is None and not p.missing:
            continue  # Parquet: no random access
        if p.missing:
            out.append(AccessRow(p.name, None, 0, None, 0, p.missing))
            continue
        path = p.path(root)
        for line in p.lines("access"):
            out.append(measure_access(line.name, partial(line.open, path), w, sizes, line.note))
        log(f"random access {p.name}: done")
    return out


# ---------------------------------------------------------------------------------------
# 4. shuffled epoch


def run_epoch(
    take: Callable[[np.ndarray], Any], plan: list[np.ndarray], budget_s: float
) -> tuple[int, float]:
    """Rows read and seconds: the plan's batches until done or past the budget."""
    rows = 0
    restore = no_gc()
    try:
        start = time.perf_counter()
        for idx in plan:
            take(idx)
            rows += len(idx)
            if time.perf_counter() - start > budget_s:
                break
        seconds = time.perf_counter() - start
    finally:
        restore()
    return rows, seconds


@dataclass
class EpochRow:
    name: str
    warm: list[tuple[int, float]]
    cold: list[tuple[int, float]]
    total: int
    note: str = ""

    @staticmethod
    def rate(runs: list[tuple[int, float]]) -> float | None:
        return statistics.median(r / s for r, s in runs) if runs else None

    @staticmethod
    def done(runs: list[tuple[int, float]]) -> int | None:
        return min(r for r, _ in runs) if runs else None


def epoch_rows(
    peers: list[Peer], w: Workload, root: Path, sizes: Sizes, seed: int, log: Any
) -> list[EpochRow]:
    """Every epoch line's runs, in rounds: each round runs every line once (warm rounds
    first, then cold ones), so a slow moment of the shared machine falls on the lines of
    one round, not on every run of one peer (the median of the rounds is reported)."""
    plan = epoch_plan(w.rows, sizes.batch_rows, seed)
    out: list[EpochRow] = []
    lines: list[tuple[EpochRow, Callable[[], Reader], Path]] = []
    for p in peers:
        if p.open is None and not p.missing:
            continue
        if p.missing:
            out.append(EpochRow(p.name, [], [], w.rows, p.missing))
            continue
        path = p.path(root)
        for line in p.lines("epoch"):
            row = EpochRow(line.name, [], [], w.rows, line.note)
            out.append(row)
            lines.append((row, partial(line.open, path), path))
    for cold in (False, True):
        for k in range(sizes.epoch_runs):
            for row, open_, path in lines:
                if cold:
                    drop_page_cache(path)
                r = open_()
                (row.cold if cold else row.warm).append(
                    run_epoch(r.take, plan, sizes.epoch_budget_s)
                )
                del r
            log(f"epoch round {k + 1} of {sizes.epoch_runs} ({'cold' if cold else 'warm'}): done")
    return out


# ---------------------------------------------------------------------------------------
# 5. cost per row vs store size (one subprocess per size)


SCALE_PEERS = (
    ("np.memmap (raw reference)", "npy", "memmap"),
    ("grumpy (default), chunk cache", "default.gr", "chunks"),
    ("grumpy (default), cache='none'", "default.gr", "none"),
    ("grumpy (none), chunk cache", "none.gr", "chunks"),
    ("grumpy (none), cache='none'", "none.gr", "none"),
)


def proc_status() -> dict[str, int]:
    """VmRSS, VmHWM, RssAnon, RssFile of this process in bytes (empty where unavailable)."""
    out = {}
    try:
        with open("/proc/self/status", encoding="utf-8") as f:
            for line in f:
                key, _, value = line.partition(":")
                if key in ("VmRSS", "VmHWM", "RssAnon", "RssFile"):
                    out[key] = int(value.split()[0]) * 1024
    except OSError:
        pass
    return out


def reset_peak() -> bool:
    """Reset VmHWM to the current RSS (Linux >= 4.0, own process; no root needed)."""
    try:
        with open("/proc/self/clear_refs", "w", encoding="utf-8") as f:
            f.write("5")
        return True
    except OSError:
        return False


def trim_heap() -> None:
    """Give freed memory back to the system (glibc), so the next peer starts clean."""
    gc.collect()
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)


def scale_child(spec: dict[str, Any]) -> dict[str, Any]:
    """In a fresh process: every SCALE_PEERS epoch on one size; µs/row and RSS growth."""
    root = Path(spec["root"])
    plan = epoch_plan(spec["rows"], spec["batch_rows"], spec["seed"])
    out = {}
    for name, dirname, mode in SCALE_PEERS:
        path = root / dirname
        if not path.exists():
            continue
        trim_heap()
        reader = memmap_open(path) if mode == "memmap" else grumpy_reader(mode)(path)
        reader.take(plan[0])  # open the leaves, read the offsets: not the steady state
        trim_heap()
        can_reset = reset_peak()
        before = proc_status()
        rows, seconds = run_epoch(reader.take, plan, spec["budget_s"])
        after = proc_status()
        del reader
        growth = None
        if can_reset and "VmHWM" in after and "VmRSS" in before:
            growth = after["VmHWM"] - before["VmRSS"]
        anon = None
        if "RssAnon" in after and "RssAnon" in before:
            anon = after["RssAnon"] - before["RssAnon"]
        out[name] = {"rows": rows, "seconds": seconds, "peak_growth": growth, "anon": anon}
    return out


@dataclass
class ScaleRow:
    name: str
    per_size: dict[int, dict[str, Any]]  # molecules -> child result


def write_scale_stores(w: Workload, root: Path) -> None:
    root.mkdir(parents=True, exist_ok=True)
    npy_write(w, root / "npy")
    gr.save(w.frame, root / "default.gr")
    gr.save(w.frame, root / "none.gr", compressor="none")
    for dirname in ("npy", "default.gr", "none.gr"):
        sync(root / dirname)


def run_child(spec: dict[str, Any]) -> dict[str, Any]:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child-scale", json.dumps(spec)]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"cost-per-row subprocess failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def scale_rows(w: Workload, root: Path, sizes: Sizes, seed: int, log: Any) -> list[ScaleRow]:
    results: dict[int, dict[str, Any]] = {}
    for n in sizes.scale:
        if n == w.rows:
            where, made = root / "scale-main", w
        else:
            where, made = root / f"scale-{n}", make_workload(sizes, seed + n, molecules=n)
        write_scale_stores(made, where)
        h = gr.open(where / "default.gr", cache="none")
        idx = np.arange(min(3, n), dtype=np.int64)
        check(same_table(h.take(idx), made.table.take(idx)), f"scale store {n}")
        spec = {
            "root": str(where),
            "rows": n,
            "batch_rows": sizes.batch_rows,
            "seed": seed,
            "budget_s": sizes.scale_budget_s,
        }
        del made, h
        results[n] = run_child(spec)
        shutil.rmtree(where, ignore_errors=True)
        log(f"cost per row at {n:,} molecules: done")
    return [
        ScaleRow(name, {n: results[n][name] for n in sizes.scale if name in results[n]})
        for name, _, _ in SCALE_PEERS
    ]


# ---------------------------------------------------------------------------------------
# 6. full read


@dataclass
class LoadRow:
    name: str
    warm_s: float | None
    cold_s: float | None
    note: str = ""


def load_rows(peers: list[Peer], root: Path, sizes: Sizes, log: Any) -> list[LoadRow]:
    out = []
    for p in peers:
        if p.missing:
            if p.key in ("hf", "lance"):
                out.append(LoadRow(p.name, None, None, p.missing))
            continue
        if p.load is None:
            continue
        path, load = p.path(root), p.load
        load(path)
        warm = best_of(partial(load, path), sizes.load_repeat)
        cold = best_of(
            partial(load, path), min(sizes.load_repeat, 3), before=partial(drop_page_cache, path)
        )
        notes = {
            "memmap": "np.load of every .npy (the raw limit)",
            "hf": "load_from_disk(keep_in_memory=True)",
            "lance": "lance.dataset().to_table()",
            "parquet": "pq.read_table",
            "grumpy": "gr.load",
        }
        out.append(LoadRow(p.name, warm, cold, notes.get(p.key, "")))
        log(f"full read {p.name}: done")
    return out


# ---------------------------------------------------------------------------------------
# 7. append


@dataclass
class AppendRow:
    name: str
    times: list[float]
    nbytes: int
    note: str = ""
    finish: float = 0.0  # seconds after the last call (h5py's close), counted in the total

    @property
    def total(self) -> float:
        return sum(self.times) + self.finish

    def head_tail(self, k: int = 10) -> tuple[float, float] | None:
        if len(self.times) < 2:
            return None
        k = max(1, min(k, len(self.times) // 2))
        return statistics.median(self.times[:k]), statistics.median(self.times[-k:])


@dataclass
class AppendPool:
    """Distinct generated batches, cycled to the number of appends."""

    buffers: list[Buffers]
    tables: list[pa.Table]
    frames: list[Any]
    appends: int

    def batch(self, k: int) -> int:
        return k % len(self.frames)

    @property
    def rows(self) -> int:
        return sum(t.num_rows for t in (self.tables[self.batch(k)] for k in range(self.appends)))

    @property
    def nbytes(self) -> int:
        return sum(
            sum(v.nbytes for v in self.buffers[self.batch(k)].values()) for k in range(self.appends)
        )


def make_pool(sizes: Sizes, seed: int) -> AppendPool:
    rng = np.random.default_rng(seed + 7)
    buffers = [make_buffers(sizes.append_rows, sizes, rng) for _ in range(sizes.append_pool)]
    tables = [buffers_to_table(b) for b in buffers]
    frames = [gr.from_arrow(t, schema=SCHEMA) for t in tables]
    return AppendPool(buffers, tables, frames, sizes.appends)


def check_appended(h: Any, pool: AppendPool, what: str) -> None:
    """Row count, and rows from the first, middle and last batches."""
    check(len(h) == pool.rows, f"{what}: {len(h)} rows, expected {pool.rows}")
    r = pool.tables[0].num_rows
    for k in sorted({0, pool.appends // 2, pool.appends - 1}):
        want = pool.tables[pool.batch(k)]
        local = np.array([0, want.num_rows // 2, want.num_rows - 1], dtype=np.int64)
        got = h.take(local + k * r)
        check(same_table(got, want.take(local)), f"{what}: rows of batch {k}")


def append_grumpy(pool: AppendPool, path: Path, compressor: str, durable: bool) -> list[float]:
    empty = gr.from_arrow(pool.tables[0].slice(0, 0), schema=SCHEMA)
    if compressor == "default":
        gr.save(empty, path)
    else:
        gr.save(empty, path, compressor=compressor)
    times = []
    restore = no_gc()
    try:
        for k in range(pool.appends):
            frame = pool.frames[pool.batch(k)]
            t0 = time.perf_counter()
            gr.append(frame, path, durable=durable)
            times.append(time.perf_counter() - t0)
    finally:
        restore()
    check_appended(gr.open(path, cache="none"), pool, f"gr.append {compressor}")
    return times


def append_saver(pool: AppendPool, path: Path) -> list[float]:
    saver_cls = getattr(gr, "GrumpySaver", None) or gr.savers.GrumpySaver
    saver = saver_cls(path)
    times = []
    restore = no_gc()
    try:
        for k in range(pool.appends):
            frame = pool.frames[pool.batch(k)]
            t0 = time.perf_counter()
            saver.save(frame)
            times.append(time.perf_counter() - t0)
    finally:
        restore()
    check_appended(gr.open(path, cache="none"), pool, "GrumpySaver")
    return times


def append_h5py(pool: AppendPool, path: Path, h5py: Any) -> tuple[list[float], float]:
    """Raw h5py: one resizable 1-D dataset per buffer (1 MiB chunks), the file kept open;
    offsets shifted by the stored totals. Returns the calls' seconds and the close's."""
    shift = dict.fromkeys(OFFSETS, 0)
    times = []
    fh = h5py.File(path, "w")
    sets = {}
    for key, arr in pool.buffers[0].items():
        chunk = max(1, (1 << 20) // arr.dtype.itemsize)
        sets[key] = fh.create_dataset(
            key,
            shape=(1 if key in shift else 0,),  # offsets start with their 0
            maxshape=(None,),
            chunks=(chunk,),
            dtype=arr.dtype,
        )
    restore = no_gc()
    try:
        for k in range(pool.appends):
            b = pool.buffers[pool.batch(k)]
            t0 = time.perf_counter()
            for key, arr in b.items():
                data = arr[1:] + shift[key] if key in shift else arr
                ds = sets[key]
                n = ds.shape[0]
                ds.resize((n + len(data),))
                ds[n:] = data
            for key in shift:
                shift[key] += int(b[key][-1])
            times.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        fh.close()  # writes what the chunk cache holds
        close_s = time.perf_counter() - t0
    finally:
        restore()
        if fh:
            fh.close()
    with h5py.File(path, "r") as fh:
        batches = [pool.buffers[pool.batch(k)] for k in range(pool.appends)]
        ids = np.concatenate([b["molecule_id"] for b in batches])
        check(np.array_equal(fh["molecule_id"][:], ids), "h5py molecule_id")
        xs = np.concatenate([b["atom_x"] for b in batches])
        check(np.array_equal(fh["atom_x"][:], xs), "h5py atom_x")
        check(int(fh["atom.offsets"][-1]) == fh["atom_element.offsets"].shape[0] - 1, "h5py")
    return times, close_s


def append_rows(
    pool: AppendPool, root: Path, mods: Mods, log: Any, skip: set[str]
) -> list[AppendRow]:
    out = []
    nbytes = pool.nbytes
    Run = Callable[[Path], tuple[list[float], float]]
    methods: list[tuple[str, str, Run | None, str]] = []
    if "grumpy" not in skip:
        for c in COMPRESSORS:
            methods.append(
                (
                    f"gr.append, durable=False ({c})",
                    f"append-{c}.gr",
                    lambda p, c=c: (append_grumpy(pool, p, c, durable=False), 0.0),
                    "no fsync; a crash of the process loses nothing",
                )
            )
        methods.append(
            (
                "gr.append, durable (default)",
                "append-durable.gr",
                lambda p: (append_grumpy(pool, p, "default", durable=True), 0.0),
                "fsync per commit (the default)",
            )
        )
        methods.append(
            (
                "GrumpySaver.save",
                "saver.gr",
                lambda p: (append_saver(pool, p), 0.0),
                "approach 'append'; the first call creates the store; durable",
            )
        )
    if mods.h5py is not None:
        h5 = mods.h5py
        methods.append(
            (
                "raw h5py (file open)",
                "append.h5",
                lambda p: append_h5py(pool, p, h5),
                "one resizable dataset per buffer; close counted; not fsynced",
            )
        )
    else:
        methods.append(("raw h5py (file open)", "append.h5", None, mods.notes.get("h5py", "")))
    for name, dirname, run, note in methods:
        if run is None:
            out.append(AppendRow(name, [], nbytes, note))
            continue
        path = root / dirname
        times, finish = run(path)
        sync(path)
        drop_page_cache(path)  # write-back now, and no dirty pages left for the next method
        remove(path)
        out.append(AppendRow(name, times, nbytes, note, finish))
        log(f"append {name}: done")
    return out


# ---------------------------------------------------------------------------------------
# report


def _ms(ms: float | None) -> str:
    if ms is None:
        return "n/a"
    return f"{ms:.3f}" if ms < 1 else f"{ms:.2f}" if ms < 100 else f"{ms:,.0f}"


def _num(x: float | None, digits: int = 0) -> str:
    return "n/a" if x is None else f"{x:,.{digits}f}"


def _x(r: float | None) -> str:
    return "n/a" if r is None else f"{r:.2f}x" if r < 100 else f"{r:,.0f}x"


def _mb(n: int | None) -> str:
    return "n/a" if n is None else f"{n / MB:,.1f}"


def _kb(n: int | None) -> str:
    return "n/a" if n is None else f"{n / 1e3:,.1f}"


def _ratio(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None or b == 0 else a / b


def store_settings(path: Path) -> str:
    """The default store's compressor and chunk size, as its manifest records them."""
    try:
        manifest = gr.open(path).manifest
    except Exception as err:  # a changed format: say so, do not fail the run
        return f"unknown ({type(err).__name__})"
    keys = ("compressor", "chunk_size")
    return ", ".join(f"{k}={getattr(manifest, k)!r}" for k in keys if hasattr(manifest, k))


def size_table(rows: list[SizeRow], w: Workload, default_settings: str) -> Table:
    ref = next((r for r in rows if r.name.startswith("Parquet (snappy") and r.disk), None)
    out = Table(
        f"On-disk size ({w.rows:,} molecules, {w.residues:,} residues, {w.atoms:,} atoms; "
        f"{w.nbytes / MB:.1f} MB of Arrow buffers; MB = 10^6 bytes)",
        [
            "store",
            "du MB",
            "apparent MB",
            "du vs Parquet",
            "vs Arrow bytes",
            "files",
            "3-row du kB",
            "3-row apparent kB",
            "note",
        ],
        left=(0, 8),
    )
    for r in rows:
        out.rows.append(
            [
                r.name,
                _mb(r.disk),
                _mb(r.apparent),
                _x(_ratio(r.disk, ref.disk if ref else None)),
                _x(_ratio(r.disk, w.nbytes)),
                _num(r.files),
                _kb(r.tiny_disk),
                _kb(r.tiny_apparent),
                r.note,
            ]
        )
    out.notes = [
        "du: allocated bytes (st_blocks x 512); apparent: the files' sizes. du vs Parquet: "
        "this store / the default (snappy) Parquet file (< 1: smaller).",
        "3-row: the same writer on the first 3 molecules (the fixed cost of a small store).",
        f"grumpy (default) wrote {default_settings} (its manifest).",
    ]
    return out


def open_table(rows: list[OpenRow], batch_rows: int) -> Table:
    me = next((r for r in rows if r.name == "grumpy (default)"), None)
    out = Table(
        f"Open + one random batch of {batch_rows} molecules (ms, page cache warm)",
        ["peer", "open ms", "batch ms", "open + batch ms", "grumpy speed-up", "note"],
        left=(0, 5),
    )
    for r in rows:
        out.rows.append(
            [
                r.name,
                _ms(r.open_ms),
                _ms(r.batch_ms),
                _ms(r.total_ms),
                _x(_ratio(r.total_ms, me.total_ms if me else None)),
                r.note,
            ]
        )
    out.notes = [
        "medians over a few calls, each a fresh open then one batch of different molecules "
        "(after one untimed call); grumpy opens with cache='none'.",
        "grumpy speed-up = peer ms / grumpy (default) ms (> 1: grumpy faster).",
    ]
    return out


def access_table(rows: list[AccessRow], batch_rows: int) -> Table:
    me = next((r for r in rows if r.name == "grumpy (default)"), None)
    out = Table(
        f"Random access: batches of {batch_rows} random molecules and single molecules "
        "(page cache warm)",
        [
            "peer",
            "batch ms",
            "molecules/s",
            "grumpy speed-up batch",
            "batches",
            "row µs",
            "grumpy speed-up row",
            "rows",
            "note",
        ],
        left=(0, 8),
    )
    for r in rows:
        out.rows.append(
            [
                r.name,
                _ms(r.batch_ms),
                _num(None if r.batch_ms is None else batch_rows / r.batch_ms * 1e3),
                _x(_ratio(r.batch_ms, me.batch_ms if me else None)),
                str(r.batches),
                _num(r.row_us, 1),
                _x(_ratio(r.row_us, me.row_us if me else None)),
                str(r.rows),
                r.note,
            ]
        )
    out.notes = [
        "medians of per-call times (each peer after 3 untimed batches; batches: how many "
        "were timed, fewer when a peer exceeds its time budget).",
        "grumpy: gr.open(path, cache='none') (the chunk cache off) unless noted; single row: "
        "h[i], Lance take([i]), HF ds[i], MDS / Granular [i], raw: a 1-molecule gather.",
        "grumpy speed-up = peer time / grumpy (default) time (> 1: grumpy faster). Parquet has "
        "no random access (a batch reads the file): see the full read.",
    ]
    return out


def epoch_table(rows: list[EpochRow], w: Workload, sizes: Sizes) -> Table:
    me = next((r for r in rows if r.name == "grumpy (default)"), None)
    per_row = w.nbytes / w.rows
    out = Table(
        f"Shuffled epoch: {sizes.batch_rows} random molecules per batch over a permutation of "
        f"{w.rows:,} (molecules/s; median of {sizes.epoch_runs} run(s))",
        [
            "peer",
            "warm rows/s",
            "warm MB/s",
            "cold rows/s",
            "cold MB/s",
            "cold / warm",
            "grumpy speed-up warm",
            "grumpy speed-up cold",
            "read (warm / cold)",
            "note",
        ],
        left=(0, 9),
    )
    for r in rows:
        warm, cold = EpochRow.rate(r.warm), EpochRow.rate(r.cold)
        done_w, done_c = EpochRow.done(r.warm), EpochRow.done(r.cold)
        read = (
            "n/a"
            if done_w is None or done_c is None
            else (f"{done_w / r.total:.0%} / {done_c / r.total:.0%}")
        )
        out.rows.append(
            [
                r.name,
                _num(warm),
                _num(None if warm is None else warm * per_row / MB, 1),
                _num(cold),
                _num(None if cold is None else cold * per_row / MB, 1),
                _x(_ratio(cold, warm)),
                _x(_ratio(me and EpochRow.rate(me.warm), warm)),
                _x(_ratio(me and EpochRow.rate(me.cold), cold)),
                read,
                r.note,
            ]
        )
    out.notes = [
        "the runs go in rounds, each round every line once (warm rounds, then cold "
        "ones), so a slow moment of the machine does not fall on one peer's runs only",
        f"a handle is opened before each run (not timed); a run stops after "
        f"{sizes.epoch_budget_s:g} s (read: the share of the epoch the slowest run "
        "completed). cold: the peer's files dropped from the page cache before the open",
        "(fsync + posix_fadvise DONTNEED"
        + ("" if CAN_DROP else " - NOT AVAILABLE here, so cold = warm")
        + "); the run warms it as it goes. MB/s: Arrow buffer bytes of the rows read.",
        "grumpy speed-up = grumpy (default) rows/s / peer rows/s (> 1: grumpy faster).",
    ]
    return out


def scale_table(rows: list[ScaleRow], sizes: Sizes) -> Table:
    small, large = sizes.scale[0], sizes.scale[-1]
    header = ["peer"]
    header += [f"µs/row {n:,}" for n in sizes.scale]
    header += [f"{large:,} / {small:,}", f"peak RSS growth MB ({large:,})", "anon MB"]
    out = Table(
        f"Cost per row vs store size: µs per molecule of the random-row epoch "
        f"({sizes.batch_rows} per batch, page cache warm)",
        header,
    )

    def us(d: dict[str, Any] | None) -> float | None:
        if d is None or not d["rows"]:
            return None
        return d["seconds"] / d["rows"] * 1e6

    for r in rows:
        costs = [us(r.per_size.get(n)) for n in sizes.scale]
        big = r.per_size.get(large) or {}
        growth, anon = big.get("peak_growth"), big.get("anon")
        out.rows.append(
            [
                r.name,
                *(_num(c, 1) for c in costs),
                _x(_ratio(costs[-1], costs[0])),
                _num(None if growth is None else growth / MB, 1),
                _num(None if anon is None else anon / MB, 1),
            ]
        )
    out.notes = [
        "each size runs in a fresh subprocess on stores just written (page cache warm); a "
        f"run stops after {sizes.scale_budget_s:g} s. µs/row = seconds / molecules read.",
        "peak RSS growth: VmHWM (reset via /proc/self/clear_refs after the first batch) "
        "minus VmRSS before the run; memory-mapped file pages count in it.",
        "anon MB: RssAnon after the run minus before (heap kept).",
    ]
    return out


def load_table(rows: list[LoadRow], nbytes: int) -> Table:
    npy = next((r for r in rows if r.name.startswith("np.memmap")), None)
    out = Table(
        f"Full read into memory ({nbytes / MB:.1f} MB of Arrow buffers)",
        [
            "reader",
            "warm ms",
            "warm MB/s",
            "vs np.load",
            "cold ms",
            "cold MB/s",
            "cold vs np.load",
            "note",
        ],
        left=(0, 7),
    )
    for r in rows:
        name = "np.load (raw limit)" if r.name.startswith("np.memmap") else r.name
        out.rows.append(
            [
                name,
                _ms(None if r.warm_s is None else r.warm_s * 1e3),
                _num(_ratio(nbytes / MB, r.warm_s)),
                _x(_ratio(npy.warm_s if npy else None, r.warm_s)),
                _ms(None if r.cold_s is None else r.cold_s * 1e3),
                _num(_ratio(nbytes / MB, r.cold_s)),
                _x(_ratio(npy.cold_s if npy else None, r.cold_s)),
                r.note,
            ]
        )
    out.notes = [
        "best of several calls; cold: the files dropped from the page cache before each call. "
        "vs np.load = np.load time / this time (1.00x: the raw limit).",
        "MDS and Granular have no bulk read (a full pass is the epoch above).",
    ]
    return out


def append_table(rows: list[AppendRow], pool: AppendPool, sizes: Sizes) -> Table:
    h5 = next((r for r in rows if r.name.startswith("raw h5py") and r.times), None)
    out = Table(
        f"Append: {sizes.appends} batches of {sizes.append_rows:,} molecules "
        f"({pool.nbytes / MB:,.0f} MB of Arrow buffers in all)",
        [
            "method",
            "MB/s",
            "total s",
            "first 10 ms",
            "last 10 ms",
            "last / first 10",
            "vs raw h5py",
            "note",
        ],
        left=(0, 7),
    )
    for r in rows:
        if not r.times:
            out.rows.append([r.name, "n/a", "n/a", "n/a", "n/a", "n/a", "n/a", r.note])
            continue
        ht = r.head_tail()
        mbs = r.nbytes / MB / r.total
        out.rows.append(
            [
                r.name,
                _num(mbs),
                _num(r.total, 2),
                _ms(None if ht is None else ht[0] * 1e3),
                _ms(None if ht is None else ht[1] * 1e3),
                _x(None if ht is None else ht[1] / ht[0]),
                _x(_ratio(mbs, h5.nbytes / MB / h5.total if h5 else None)),
                r.note,
            ]
        )
    out.notes = [
        f"batches cycle through {len(pool.frames)} generated ones; MB/s = Arrow buffer bytes "
        "/ the sum of the timed calls; first / last 10: medians of the first and last 10 calls.",
        "grumpy stores start empty (gr.save of 0 rows, untimed); vs raw h5py = MB/s / h5py's "
        "(> 1: faster). Writes land in the page cache unless durable.",
    ]
    return out


def imported_from() -> str:
    """Where grumpy_arrow was imported from (PYTHONPATH can point at an export of a commit)."""
    here = Path(gr.__file__).resolve().parent
    tree = Path(__file__).resolve().parent.parent / "grumpy_arrow"
    return str(here) + ("" if here == tree else " (not this work tree: its commit line is moot)")


def machine(root: Path, mods: Mods) -> list[tuple[str, str]]:
    import zarr

    def peer(dist: str, key: str) -> str:
        version = dist_version(dist)
        note = mods.notes.get(key)
        return f"{version} ({note})" if note else version

    try:
        load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        load = "unknown"
    return [
        *host_info(),
        ("load avg", f"{load} (1, 5, 15 min; at start)"),
        *version_info(),
        ("grumpy_arrow from", imported_from()),
        ("zarr", zarr.__version__),
        ("datasets", peer("datasets", "hf")),
        ("pylance", peer("pylance", "lance")),
        ("mosaicml-streaming", peer("mosaicml-streaming", "mds")),
        ("granular", peer("granular", "granular")),
        ("h5py", peer("h5py", "h5py")),
        ("torch", dist_version("torch")),
        ("data dir", f"{root} ({filesystem(root)})"),
        ("page cache drop", "posix_fadvise DONTNEED" if CAN_DROP else "not available"),
    ]


# ---------------------------------------------------------------------------------------
# main


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--smoke", action="store_true", help="tiny sizes, seconds (for CI)")
    mode.add_argument("--quick", action="store_true", help="5 000 molecules, fewer runs")
    parser.add_argument("--markdown", type=Path, metavar="PATH", help="also write Markdown")
    parser.add_argument("--dir", type=Path, default=Path("/tmp"), help="where data is written")
    parser.add_argument("--seed", type=int, default=20261206, help="seed of the data")
    parser.add_argument(
        "--skip",
        nargs="+",
        default=[],
        choices=PEER_KEYS,
        metavar="PEER",
        help=f"leave these peers out (as n/a): {', '.join(PEER_KEYS)}",
    )
    parser.add_argument("--no-scale", action="store_true", help="skip cost per row vs size")
    parser.add_argument("--no-append", action="store_true", help="skip the append section")
    parser.add_argument("--child-scale", metavar="JSON", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def run(args: argparse.Namespace, root: Path) -> Report:
    sizes = SMOKE if args.smoke else QUICK if args.quick else FULL
    skip = set(args.skip)
    mods = import_mods(skip)
    report = Report(machine(root, mods))
    for key, value in report.info:
        print(f"{key:>18}: {value}")

    def log(msg: str) -> None:
        print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)

    for key, why in sorted(mods.notes.items()):
        print(f"note: peer {key}: {why}" + ("" if "placeholder" in why else ": n/a below"))
    w = make_workload(sizes, args.seed)
    tiny = workload_of(gather(w.buffers, np.arange(3)), [], np.zeros(0, np.int64))
    print(
        f"{'workload':>18}: {w.rows:,} molecules, {w.residues:,} residues, {w.atoms:,} atoms "
        f"({w.nbytes / MB:.1f} MB of Arrow buffers), schema {SCHEMA}; batches of "
        f"{sizes.batch_rows} random molecules",
        flush=True,
    )
    peers = make_peers(mods, sizes, skip)

    # 1. sizes (writes every store)
    sized = write_all(peers, w, tiny, root, log)
    report.add(size_table(sized, w, store_settings(root / "default.gr")))
    for p in peers:
        if not p.missing:
            check_peer(p, w, root)
    log("checks: every peer's batches, rows and full read match the table")

    # 2. open + one batch
    opened = [measure_open(p, w, root, sizes) for p in peers if p.open or p.missing]
    report.add(open_table(opened, sizes.batch_rows))
    log("open + batch: done")

    # 3. random access
    report.add(access_table(access_rows(peers, w, root, sizes, log), sizes.batch_rows))

    # 4. shuffled epoch
    report.add(epoch_table(epoch_rows(peers, w, root, sizes, args.seed, log), w, sizes))

    # 6. full read (before the scaling section, which writes more stores)
    report.add(load_table(load_rows(peers, root, sizes, log), w.nbytes))

    # 5. cost per row vs store size
    if not args.no_scale and "grumpy" not in skip and "memmap" not in skip:
        report.add(scale_table(scale_rows(w, root / "scale", sizes, args.seed, log), sizes))

    # 7. append
    if not args.no_append:
        pool = make_pool(sizes, args.seed)
        report.add(append_table(append_rows(pool, root, mods, log, skip), pool, sizes))

    if args.smoke:
        print("smoke run: the sizes are tiny, so timings measure call overhead only")
    if args.quick:
        print("quick run: 5 000 molecules, one run per epoch mode, fewer batches and appends")
    return report


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.child_scale:
        print(json.dumps(scale_child(json.loads(args.child_scale))))
        return 0
    return run_in_scratch(run, args, "bench_peers_")


if __name__ == "__main__":
    sys.exit(main())
