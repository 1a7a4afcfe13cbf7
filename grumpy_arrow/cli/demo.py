"""``grumpy-arrow demo``: the library's main job, end to end, on an embedded dataset.

Builds a seeded molecule → residue → atom frame (coordinates, elements, B-factors with
nulls, a UniProt accession that is one string in some rows and a list in others), computes
on it at every level, saves it to a Zarr v3 store, opens it lazily, reads batches of 32
random molecules, streams a shuffled epoch through ``apply(cpu=2)``, and computes results
into the savers (``Stream.save`` into a ``NumpySaver`` and a ``GrumpySaver``, ``gr.run``
into a ``ZarrSaver``), which it reads back and checks. Every step prints its time; sizes
on disk and throughput follow.
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

import grumpy_arrow as gr
from grumpy_arrow.cli.formats import file_size
from grumpy_arrow.savers import GrumpySaver, NumpySaver, ZarrSaver

__all__ = ["DEMO_OUTPUTS", "build_demo_arrays", "build_demo_frame", "demo_command", "run_demo"]

SCHEMA: list[Any] = ["molecule", ("residue", "group"), "atom"]
DEMO_OUTPUTS = ("demo.gr", "features.npy", "results.zarr", "residue_centres.gr")
FEATURES = ("residues", "atoms", "centre_x", "centre_y", "centre_z", "radius_of_gyration")
_AMINO = "ALA ARG ASN ASP CYS GLN GLU GLY HIS ILE LEU LYS MET PHE PRO SER THR TRP TYR VAL"
_ELEMENTS, _ELEMENT_P = ["C", "N", "O", "S", "H"], [0.50, 0.15, 0.20, 0.02, 0.13]


def build_demo_frame(molecules: int, seed: int = 0) -> Any:
    """A realistic molecule -> residue -> atom frame, built from NumPy buffers and offsets
    as a loader of structure files would (no Python loop over residues or atoms).

    Residues follow a random walk of 3.8 Å steps and atoms scatter around their residue;
    ``molecule_uniprot`` is one accession, a list of them (complexes) or null;
    ``molecule_resolution`` is null for NMR structures and ``atom_b_factor`` has nulls.

    Parameters
    ----------
    molecules : int
        Rows (20 to 59 residues each, 5 to 14 atoms per residue).
    seed : int
        The same seed gives the same frame.

    Returns
    -------
    DataFrame
        Levels ``molecule → residue(group) → atom``.

    Examples
    --------
    >>> from grumpy_arrow.cli import build_demo_frame
    >>> df = build_demo_frame(3)
    >>> len(df), df.count("residue"), df.count("atom")
    (3, 139, 1336)
    >>> df.dtypes["molecule_uniprot"], df.dtypes["atom_x"]
    ('3 * union[string, var * string]', '3 * var * var * float32')
    """
    rng = np.random.default_rng(seed)
    residues = rng.integers(20, 60, molecules)
    atoms = rng.integers(5, 15, int(residues.sum()))
    residue_off, atom_off = _offsets(residues), _offsets(atoms)
    n_res, n_atoms = len(atoms), int(atoms.sum())
    walk = np.cumsum(rng.normal(0.0, 3.8 / np.sqrt(3), (n_res, 3)), axis=0)
    walk -= np.repeat(walk[residue_off[:-1]], residues, axis=0)  # each molecule from 0
    coords = (np.repeat(walk, atoms, axis=0) + rng.normal(0.0, 1.5, (n_atoms, 3))).astype(
        np.float32
    )

    def residue_col(values: Any) -> Any:
        return gr.from_offsets(values, residue_off)

    def atom_col(values: Any) -> Any:
        return gr.from_offsets(gr.from_offsets(values, atom_off), residue_off)

    first = np.repeat(residue_off[:-1], residues)
    b_factor = rng.gamma(4.0, 5.0, n_atoms).astype(np.float32)
    element = rng.choice(len(_ELEMENTS), n_atoms, p=_ELEMENT_P)
    resolution = rng.uniform(1.0, 3.5, molecules).astype(np.float32)
    return gr.dataframe(
        {
            "molecule_id": pc.binary_join_element_wise(
                "mol",
                pc.utf8_lpad(pc.cast(pa.array(np.arange(molecules)), pa.string()), 6, "0"),
                "",
            ),
            "molecule_uniprot": gr.array(_accessions(rng, molecules)),
            "molecule_resolution": pa.array(resolution, mask=rng.random(molecules) < 0.15),
            "residue_name": residue_col(
                pc.take(pa.array(_AMINO.split()), rng.integers(0, 20, n_res))
            ),
            "residue_number": residue_col((np.arange(n_res) - first + 1).astype(np.int32)),
            "residue_weight": residue_col(rng.uniform(75.0, 204.0, n_res)),
            "atom_element": atom_col(pc.take(pa.array(_ELEMENTS), element)),
            **{f"atom_{axis}": atom_col(coords[:, i]) for i, axis in enumerate("xyz")},
            "atom_b_factor": atom_col(pa.array(b_factor, mask=rng.random(n_atoms) < 0.02)),
        },
        schema=SCHEMA,
    )


def _accessions(rng: np.random.Generator, molecules: int) -> pa.Array:
    """UniProt accessions as a dense union: one (70 %), a list for complexes (20 %) or
    null (10 %) per molecule. Built from its children and type ids, so the column is a
    union at any size (``gr.array`` of Python rows would give plain lists when no row
    happens to be a scalar)."""
    codes = np.array(
        [
            f"{'OPQ'[a]}{b}{c:03X}{d}"  # one formatted code per value: no Arrow kernel for hex
            for a, b, c, d in zip(
                rng.integers(0, 3, 4 * molecules),
                rng.integers(0, 10, 4 * molecules),
                rng.integers(0, 4096, 4 * molecules),
                rng.integers(0, 10, 4 * molecules),
                strict=True,
            )
        ],
        dtype=object,
    ).reshape(max(molecules, 0), 4)
    kind = rng.random(molecules)
    size = rng.integers(2, 5, molecules)
    is_list = (kind >= 0.7) & (kind < 0.9)
    scalar_rows, list_rows = np.flatnonzero(~is_list), np.flatnonzero(is_list)
    scalars = pa.array(codes[scalar_rows, 0], pa.string(), mask=kind[scalar_rows] >= 0.9)
    lengths = size[list_rows]
    within = np.arange(int(lengths.sum())) - np.repeat(_offsets(lengths)[:-1], lengths)
    values = pa.array(codes[np.repeat(list_rows, lengths), within], pa.string())
    lists = pa.LargeListArray.from_arrays(pa.array(_offsets(lengths)), values)
    positions = np.where(is_list, np.cumsum(is_list) - 1, np.cumsum(~is_list) - 1)
    return pa.UnionArray.from_dense(
        pa.array(is_list.astype(np.int8)), pa.array(positions.astype(np.int32)), [scalars, lists]
    )


def build_demo_arrays(molecules: int, seed: int = 0) -> dict[str, Any]:
    """The demo frame's main columns as plain arrays (for array-only use).

    Examples
    --------
    >>> from grumpy_arrow.cli import build_demo_arrays
    >>> sorted(build_demo_arrays(2))
    ['atom_x', 'residue_weight', 'uniprot']
    """
    df = build_demo_frame(molecules, seed)
    return {
        "atom_x": df["atom_x"],
        "residue_weight": df["residue_weight"],
        "uniprot": df["molecule_uniprot"],
    }


def _offsets(lengths: np.ndarray) -> np.ndarray:
    out = np.zeros(len(lengths) + 1, dtype=np.int64)
    np.cumsum(lengths, out=out[1:])
    return out


# -- the report -------------------------------------------------------------------------------


class _Report:
    """Collects the demo's lines; ``timed`` runs a step and prints its time."""

    def __init__(self, echo: Callable[[str], None] | None) -> None:
        self.lines: list[str] = []
        self.echo = echo

    def add(self, line: str) -> None:
        self.lines.append(line)
        if self.echo is not None:
            self.echo(line)

    def timed(
        self, label: str, fn: Callable[[], Any], extra: Callable[[Any, float], str] | None = None
    ) -> Any:
        start = time.perf_counter()
        result = fn()
        seconds = time.perf_counter() - start
        note = f"  {extra(result, seconds)}" if extra else ""
        self.add(f"  {label:<46} {seconds * 1e3:9.1f} ms{note}")
        return result


def _check(ok: bool, what: str) -> None:
    if not ok:
        raise RuntimeError(f"demo check failed: {what}")


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}{'es' if word.endswith('h') else 's'}"


def _batches(n: int) -> str:
    return _plural(n, "batch")


def _rate(count: float, seconds: float) -> float:
    return count / max(seconds, 1e-9)


def _size(path: str) -> int:
    """Bytes on disk (allocated: chunk files may be sparse past their data)."""
    return file_size(path)


def run_demo(
    molecules: int,
    out: str | None = None,
    *,
    seed: int = 0,
    echo: Callable[[str], None] | None = None,
) -> str:
    """Run the demo and return its report (each line also goes to ``echo`` as it is made).

    With ``out`` the outputs (:data:`DEMO_OUTPUTS`) are written there, replacing earlier
    ones, and kept; otherwise they go to a temporary directory.
    """
    report = _Report(echo)
    start = time.perf_counter()
    report.add(
        f"grumpy-arrow demo: {molecules} molecules (molecule -> residue -> atom), seed {seed}"
    )
    df = report.timed("build frame", lambda: build_demo_frame(molecules, seed))
    _describe(report, df)
    _compute(report, df)
    if out is not None:
        os.makedirs(out, exist_ok=True)
        for name in DEMO_OUTPUTS:
            _remove(os.path.join(out, name))
        _pipeline(report, df, out, seed)
    else:
        with tempfile.TemporaryDirectory(prefix="grumpy-demo-") as scratch:
            _pipeline(report, df, scratch, seed)
    where = f"outputs kept in {out}" if out else "outputs removed (--out DIR keeps them)"
    report.add(f"done in {time.perf_counter() - start:.2f} s; {where}")
    return "\n".join(report.lines)


def demo_command(args: argparse.Namespace) -> int:
    """``grumpy-arrow demo``: run the demo, printing each line as it is made."""
    run_demo(args.rows, args.out, seed=args.seed, echo=_echo)
    return 0


def _echo(line: str) -> None:
    print(line, flush=True)


def _remove(path: str) -> None:
    if os.path.isdir(path):
        shutil.rmtree(path)
    elif os.path.exists(path):
        os.remove(path)


def _describe(report: _Report, df: Any) -> None:
    report.add(f"  {df.count('residue')} residues, {df.count('atom')} atoms; levels {df.schema}")
    width = max(len(n) for n in df.columns)
    for name, dtype in df.dtypes.items():
        report.add(f"    {name:<{width}}  {dtype}  [{df.level_of(name)}]")


def _compute(report: _Report, df: Any) -> None:
    """Compute at every level on a working copy (the saved frame keeps its columns)."""
    report.add("compute (in memory)")
    work = df[df.columns]
    centre = report.timed(
        "per-residue mean of atom_x (df.residue...)", lambda: work.residue.atom_x.mean(dim=-1)
    )
    report.timed(
        "store it: df.residue.residue_cx = ...", lambda: setattr(work.residue, "residue_cx", centre)
    )
    report.timed(
        "centre atoms on their residue (broadcast)",
        lambda: work.__setitem__("atom_dx", work["atom_x"] - work["residue_cx"]),
    )
    report.timed(
        "per-molecule max residue weight (dim=1)", lambda: work["residue_weight"].max(dim=1)
    )
    far = report.timed("count atoms with |dx| > 3 Å", lambda: (abs(work.atom_dx) > 3).sum())
    b_mean = report.timed(
        "mean B-factor per molecule (nulls skipped)",
        lambda: work["atom_b_factor"].flatten(dim=2).mean(dim=-1),
    )
    ids = report.timed(
        "molecule_uniprot.str.len() on a union", lambda: work["molecule_uniprot"].str.len()
    )
    table = report.timed("df.to_arrow() (zero-copy)", lambda: df.to_arrow())
    first = ", ".join(f"{v:.2f}" for v in work["residue_cx"][0][:3].to_list())
    report.add(f"  first molecule residue centres (x): [{first}, ...]; atoms far out: {far}")
    report.add(
        f"  uniprot lengths, first 3 rows: {ids[:3].to_list()}; mean B-factor of "
        f"molecule 0: {b_mean[0]:.2f}"
    )
    report.add(f"  Arrow table: {table.num_columns} columns, {table.nbytes / 1e6:.1f} MB")
    seconds = _seconds(lambda: work.residue.atom_x.sum(dim=-1))
    report.add(
        f"  segmented sum throughput: {_rate(work.count('atom'), seconds) / 1e6:.1f} M values/s"
    )


def _seconds(fn: Callable[[], Any]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def _pipeline(report: _Report, df: Any, folder: str, seed: int) -> None:
    path = os.path.join(folder, "demo.gr")
    nbytes = df.to_arrow().nbytes
    _store(report, df, path, nbytes)
    _random_access(report, path, seed)
    _epoch(report, df, path, seed, nbytes)
    _savers(report, df, path, folder)


def _store(report: _Report, df: Any, path: str, nbytes: int) -> None:
    report.add("store (Zarr v3: one 1-D array per Arrow buffer + grumpy.json)")
    report.timed(
        "gr.save",
        lambda: gr.save(df, path),
        lambda _, s: f"{_size(path) / 1e6:.1f} MB on disk, {_rate(nbytes, s) / 1e6:.0f} MB/s",
    )
    handle = report.timed("gr.open (manifest only)", lambda: gr.open(path))
    report.add(
        f"    {len(handle)} molecules, {int(handle.shape('residue').sum())} residues, "
        f"{handle.stats()['bytes_read']} bytes read (level offsets only)"
    )
    back = report.timed(
        "gr.load (whole store)",
        lambda: gr.load(path),
        lambda _, s: f"{_rate(nbytes, s) / 1e6:.0f} MB/s",
    )
    _check(back.to_arrow().equals(df.to_arrow()), "gr.load(path) differs from the saved frame")
    report.add("    round trip exact (schema, unions, nulls)")


def _random_access(report: _Report, path: str, seed: int) -> None:
    report.add("random access (gr.open: only the needed leaf ranges are read)")
    handle = gr.open(path)
    rng = np.random.default_rng(seed + 1)
    batches = [rng.integers(0, len(handle), 32) for _ in range(64)]
    first = report.timed(
        "first batch of 32 random molecules (cold)", lambda: handle.take(batches[0])
    )
    cold = handle.stats()["bytes_read"]
    report.add(f"    read {cold / 1e6:.2f} MB for {first.count('atom')} atoms")

    def rest() -> int:
        return sum(len(handle.take(rows)) for rows in batches[1:])

    report.timed(
        f"{len(batches) - 1} more batches of 32 (chunk cache)",
        rest,
        lambda n, s: f"{_rate(len(batches) - 1, s):.0f} batches/s, {_rate(n, s):.0f} rows/s",
    )


def _epoch(report: _Report, df: Any, path: str, seed: int, nbytes: int) -> None:
    report.add("stream (shuffled epoch, batches of 32 molecules, apply(cpu=2))")
    stream = gr.stream(path, batch_size=32, shuffle=True, seed=seed).apply(_centre, cpu=2)
    seen: list[Any] = []

    def epoch() -> int:
        atoms = 0
        for batch in stream:
            seen.append(batch["molecule_id"].to_arrow())
            atoms += batch.count("atom")
        return atoms

    atoms = report.timed(
        _batches(len(stream)),
        epoch,
        lambda a, s: (
            f"{_rate(len(df), s):.0f} rows/s, "
            f"{_rate(a, s) / 1e6:.2f} M atoms/s, "
            f"{_rate(nbytes, s) / 1e6:.0f} MB/s"
        ),
    )
    ids = pa.concat_arrays(seen)
    _check(
        len(ids) == len(df) and len(pc.unique(ids)) == len(df) and atoms == df.count("atom"),
        "the epoch did not yield every molecule exactly once",
    )
    report.add("    every molecule seen exactly once")


def _centre(batch: Any) -> Any:
    """The epoch's transform: atom x relative to its residue's mean (pyarrow releases
    the GIL, so two threads overlap)."""
    batch["atom_dx"] = batch["atom_x"] - batch["atom_x"].mean(dim=-1)
    return batch


def features(batch: Any) -> np.ndarray:
    """Per-molecule features (:data:`FEATURES`) as a ``(rows, 6)`` float64 array."""
    xyz = [batch[f"atom_{a}"].flatten(dim=2).astype("float64") for a in "xyz"]
    centre = [c.mean(dim=-1) for c in xyz]
    squared = sum((c - m) ** 2 for c, m in zip(xyz, centre, strict=True))
    radius = squared.mean(dim=-1) ** 0.5
    columns = [batch.shape("residue"), xyz[0].shape(1), *centre, radius]
    return np.stack([np.asarray(c.to_numpy(), dtype=np.float64) for c in columns], axis=1)


def residue_centres(batch: Any) -> Any:
    """Per-residue centres as a molecule -> residue frame (ragged output)."""
    columns = {"molecule_id": batch["molecule_id"], "residue_name": batch["residue_name"]}
    for axis in "xyz":
        columns[f"residue_c{axis}"] = batch[f"atom_{axis}"].mean(dim=-1)
    return gr.dataframe(columns, schema=["molecule", "residue"])


def _savers(report: _Report, df: Any, path: str, folder: str) -> None:
    report.add("savers (results saved in order as workers finish)")
    n = len(df)
    npy = os.path.join(folder, "features.npy")
    coords = gr.stream(path, batch_size=64, columns=["atom_x", "atom_y", "atom_z"])
    report.timed(
        "Stream.apply(cpu=2).save(NumpySaver)",
        lambda: coords.apply(features, cpu=2).save(NumpySaver(npy), save_interval=4),
        lambda b, s: f"{_batches(b)}, {_rate(n, s):.0f} molecules/s",
    )
    expected = features(df)
    saved = np.load(npy)
    _check(saved.shape == (n, len(FEATURES)), f"features.npy has shape {saved.shape}")
    _check(
        bool(np.allclose(saved, expected, rtol=1e-9, atol=1e-9)),
        "features.npy differs from the features of the whole frame",
    )
    report.add(
        f"    features.npy: {n} x {len(FEATURES)} float64 (residues, atoms, centre "
        f"xyz, radius of gyration): checked; mean radius {saved[:, 5].mean():.1f} Å"
    )
    _run_saver(report, df, expected, os.path.join(folder, "results.zarr"), ZarrSaver)
    gsaver = os.path.join(folder, "residue_centres.gr")
    needed = gr.stream(
        path, batch_size=64, columns=["molecule_id", "residue_name", "atom_x", "atom_y", "atom_z"]
    )
    report.timed(
        "Stream.apply(cpu=2).save(GrumpySaver) (ragged)",
        lambda: needed.apply(residue_centres, cpu=2).save(GrumpySaver(gsaver), save_interval=8),
        lambda b, s: f"{_batches(b)}, {_size(gsaver) / 1e6:.1f} MB on disk",
    )
    back = gr.load(gsaver)
    want = residue_centres(df)
    _check(
        len(back) == n and back.to_arrow().equals(want.to_arrow()),
        "residue_centres.gr differs from the per-residue means of the whole frame",
    )
    report.add(
        f"    residue_centres.gr: {len(back)} molecules, {back.count('residue')} residues: checked"
    )


def _run_saver(report: _Report, df: Any, feats: np.ndarray, target: str, saver_cls: Any) -> None:
    """``gr.run`` over molecule indices: each result is one ragged row (the distance of
    every residue centre from its molecule's centre), saved into a Zarr dataset."""
    res_off = _offsets(np.asarray(df.shape("residue").to_numpy()))
    centres = np.stack(
        [
            np.asarray(
                getattr(df.residue, f"atom_{a}").mean(dim=-1).flatten().to_numpy(), dtype=np.float64
            )
            for a in "xyz"
        ],
        axis=1,
    )

    def distances(i: int) -> np.ndarray:
        rows = centres[res_off[i] : res_off[i + 1]]
        out: np.ndarray = np.sqrt(((rows - feats[i, 2:5]) ** 2).sum(axis=1)).astype(np.float32)
        return out

    # ragged=True: a flush whose rows happen to share one length stays values + offsets.
    saver = saver_cls(target, dataset_name="residue_distance", ragged=True)
    n = len(df)
    report.timed(
        "gr.run(cpu=2, saver=ZarrSaver) (ragged rows)",
        lambda: gr.run(distances, range(n), saver=saver, save_interval=500, cpu=2),
        lambda k, s: (
            f"{_plural(k, 'row')}, {_rate(k, s):.0f} rows/s, {_size(target) / 1e6:.2f} MB on disk"
        ),
    )
    back = saver_cls(target, dataset_name="residue_distance").load()
    flat = back.flatten().to_numpy()
    per_residue = np.repeat(feats[:, 2:5], np.diff(res_off), axis=0)
    expected = np.sqrt(((centres - per_residue) ** 2).sum(axis=1)).astype(np.float32)
    _check(
        len(back) == n and np.array_equal(flat, expected),
        "results.zarr differs from the distances computed directly",
    )
    report.add(
        f"    results.zarr/residue_distance: {_plural(n, 'row')}, {len(expected)} values: checked"
    )
