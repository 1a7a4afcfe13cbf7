"""The ``grumpy-arrow`` command line (also ``python -m grumpy_arrow``)."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from grumpy_arrow.errors import GrumpyError

__all__ = ["build_demo_arrays", "build_demo_frame", "main"]


def build_demo_frame(molecules: int, seed: int = 0) -> Any:
    """A realistic molecule -> residue -> atom frame.

    Residues per molecule and atoms per residue vary; ``molecule_go_term`` holds one
    annotation for some molecules and a list for others (a scalar-or-list union). Built
    from NumPy buffers and offsets, as a loader from a structure file would.
    """
    import grumpy_arrow as gr

    rng = np.random.default_rng(seed)
    residues = rng.integers(20, 60, molecules)
    atoms = rng.integers(5, 15, int(residues.sum()))
    n_atoms = int(atoms.sum())
    coords = rng.normal(0.0, 10.0, (n_atoms, 3)).astype(np.float32)
    residue_off, atom_off = _offsets(residues), _offsets(atoms)
    per_atom = {
        f"atom_{axis}": gr.from_offsets(gr.from_offsets(coords[:, i], atom_off), residue_off)
        for i, axis in enumerate("xyz")
    }
    names = np.array(["ALA", "GLY", "SER", "LYS", "HIS", "TRP"], dtype=object)
    go_rows: list[Any] = [
        f"GO:{rng.integers(0, 10**7):07d}" if i % 3 else [f"GO:{i:07d}", f"GO:{i + 1:07d}"]
        for i in range(molecules)
    ]
    return gr.dataframe(
        {
            "molecule_id": [f"mol{i:06d}" for i in range(molecules)],
            "molecule_go_term": gr.array(go_rows, dtype=gr.string),
            "residue_name": gr.from_offsets(names[rng.integers(0, 6, len(atoms))], residue_off),
            "residue_weight": gr.from_offsets(rng.uniform(50, 200, len(atoms)), residue_off),
            **per_atom,
        },
        schema=["molecule", ("residue", "group"), "atom"],
    )


def build_demo_arrays(molecules: int, seed: int = 0) -> dict[str, Any]:
    """The demo frame's main columns as plain arrays (for array-only use)."""
    df = build_demo_frame(molecules, seed)
    return {"atom_x": df["atom_x"], "residue_weight": df["residue_weight"],
            "go_term": df["molecule_go_term"]}  # fmt: skip


def _offsets(lengths: np.ndarray) -> np.ndarray:
    out = np.zeros(len(lengths) + 1, dtype=np.int64)
    np.cumsum(lengths, out=out[1:])
    return out


def _timed(label: str, fn: Callable[[], Any], out: list[str]) -> Any:
    start = time.perf_counter()
    result = fn()
    ms = (time.perf_counter() - start) * 1e3
    out.append(f"  {label:<48} {ms:9.2f} ms")
    return result


def run_demo(molecules: int, out: str | None = None) -> str:
    """Build the demo frame, compute on it at every level, and return the report text."""
    lines: list[str] = [f"grumpy-arrow demo: {molecules} molecules (molecule -> residue -> atom)"]
    df = _timed("build frame", lambda: build_demo_frame(molecules), lines)
    n_res, n_atoms = df.count("residue"), df.count("atom")
    lines.append(f"  {n_res} residues, {n_atoms} atoms; levels {df.schema}")
    for name, col in df.dtypes.items():
        lines.append(f"    {name:<18} {col}  [{df.level_of(name)}]")
    centre = _timed("per-residue mean of atom_x (df.residue...)",
                    lambda: df.residue.atom_x.mean(dim=-1), lines)  # fmt: skip
    _timed("store it: df.residue.residue_cx = ...",
           lambda: setattr(df.residue, "residue_cx", centre), lines)  # fmt: skip
    _timed("centre atoms on their residue (broadcast)",
           lambda: df.__setitem__("atom_dx", df["atom_x"] - df["residue_cx"]), lines)  # fmt: skip
    _timed("per-molecule max residue weight (dim=1)",
           lambda: df["residue_weight"].max(dim=1), lines)  # fmt: skip
    far = _timed("count atoms with |dx| > 10", lambda: (abs(df.atom_dx) > 10).sum(), lines)
    go_len = _timed("molecule_go_term.str.len() on a union",
                    lambda: df["molecule_go_term"].str.len(), lines)  # fmt: skip
    table = _timed("df.to_arrow() (zero-copy)", lambda: df.to_arrow(), lines)
    first = ", ".join(f"{v:.2f}" for v in df["residue_cx"][0][:3].to_list())
    lines.append(f"  first molecule residue centres: [{first}, ...]; atoms far out: {far}")
    lines.append(f"  go_term lengths, first 3 rows: {go_len[:3].to_list()}")
    lines.append(f"  Arrow table: {table.num_columns} columns, {table.nbytes / 1e6:.1f} MB")
    rate = n_atoms / max(1e-9, _seconds(lambda: df.residue.atom_x.sum(dim=-1)))
    lines.append(f"  segmented sum throughput: {rate / 1e6:.1f} M values/s")
    lines += _store_and_stream(df, out)
    return "\n".join(lines)


def _store_and_stream(df: Any, out: str | None) -> list[str]:
    """Save the frame, open it lazily, read random rows, stream a shuffled epoch."""
    import os
    import tempfile

    import grumpy_arrow as gr

    lines: list[str] = []
    with tempfile.TemporaryDirectory() as scratch:
        path = os.path.join(out or scratch, "demo.gr")
        _timed("gr.save (Zarr v3 store)", lambda: gr.save(df, path), lines)
        handle = _timed("gr.open (manifest only)", lambda: gr.open(path), lines)
        rows = np.random.default_rng(1).integers(0, len(handle), 32)
        batch = _timed("read 32 random molecules (cold)", lambda: handle.take(rows), lines)
        lines.append(f"    read {handle.stats()['bytes_read'] / 1e6:.2f} MB for "
                     f"{batch.count('atom')} atoms")  # fmt: skip
        stream = gr.stream(path, batch_size=64, batch_on="residue", shuffle=True, seed=0)
        centred = stream.apply(_centre_residues, cpu=2)
        start = time.perf_counter()
        atoms = sum(int(b.count("atom")) for b in centred)
        seconds = time.perf_counter() - start
        lines.append(
            f"  shuffled epoch, {len(stream)} batches of <= 64 residues, apply(cpu=2): "
            f"{atoms / max(seconds, 1e-9) / 1e6:.1f} M atoms/s ({seconds * 1e3:.0f} ms)"
        )
        if out:
            lines.append(f"  store kept at {path}")
    return lines


def _centre_residues(batch: Any) -> Any:
    """The demo's per-batch transform: atom x relative to its residue's mean."""
    batch["atom_dx"] = batch["atom_x"] - batch["atom_x"].mean(dim=-1)
    return batch


def _seconds(fn: Callable[[], Any]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="grumpy-arrow",
        description="Ragged, nested and union arrays on Apache Arrow.",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo", help="build a nested dataset and compute on it")
    demo.add_argument("--rows", type=int, default=2000, help="molecules to build (default 2000)")
    demo.add_argument("--out", default=None, help="keep the demo store in this directory")
    info = sub.add_parser("info", help="describe a store: schema, columns, rows, bytes, chunks")
    info.add_argument("path", help="a store path or fsspec URL")
    head = sub.add_parser("head", help="print the first rows of a store")
    head.add_argument("path", help="a store path or fsspec URL")
    head.add_argument("-n", type=int, default=5, help="rows to print (default 5)")
    check = sub.add_parser("validate", help="check every leaf of a store (exit 1 on problems)")
    check.add_argument("path", help="a store path or fsspec URL")
    return parser


def _info(path: str) -> str:
    from grumpy_arrow.storage.validate import store_info

    info = store_info(path)
    lines = [f"{info['path']}: {info['kind']}, {info['rows']} rows"]
    if "shards" in info:
        how = "consolidated" if info["consolidated"] else "not consolidated: discovered"
        size = f" of up to {info['shard_rows']} rows" if info["shard_rows"] else ""
        lines.append(f"  shards: {len(info['shards'])}{size} ({how})")
    if info["schema"] is not None:
        lines.append(f"  schema: {info['schema']}")
    for name, col in info["columns"].items():
        level = f"  [{col['level']}]" if col["level"] else ""
        lines.append(f"  {name}: {col['layout']}{level}")
    size = info["bytes_on_disk"]
    lines.append(f"  leaves: {info['leaves']}; on disk: {size / 1e6:.2f} MB" if size >= 0
                 else f"  leaves: {info['leaves']}")  # fmt: skip
    lines.append(
        f"  chunking: chunk_size={info['chunk_size']} chunk_dim={info['chunk_dim']} "
        f"(leaf chunks {info['leaf_chunks']}); compressor: {info['compressor']}"
    )
    lines.append(f"  written by {info['creator']}")
    return "\n".join(lines)


def _head(path: str, n: int) -> str:
    import grumpy_arrow as gr

    if n < 0:
        raise ValueError(f"-n must be >= 0, got {n}")
    handle = gr.open(path, cache="none")
    rows = handle[: min(n, len(handle))]
    if isinstance(rows, gr.GrumpyArray):
        return "\n".join(f"{i}: {row!r}" for i, row in enumerate(rows.to_list()))
    table = rows.to_dict()
    lines = []
    for i in range(len(rows)):
        cells = ", ".join(f"{k}={v[i]!r}" for k, v in table.items())
        lines.append(f"{i}: {cells}")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: parse ``argv``, run the command, print one line on error."""
    args = _parser().parse_args(argv)
    try:
        if args.command == "demo":
            if args.rows < 1:
                raise ValueError(f"--rows must be at least 1, got {args.rows}")
            print(run_demo(args.rows, args.out))
        elif args.command == "info":
            print(_info(args.path))
        elif args.command == "head":
            print(_head(args.path, args.n))
        elif args.command == "validate":
            from grumpy_arrow.storage.validate import validate

            problems = validate(args.path)
            if problems:
                for problem in problems:
                    print(f"grumpy-arrow: corrupt: {problem}", file=sys.stderr)
                return 1
            print(f"{args.path}: ok")
        return 0
    except (GrumpyError, ValueError, OSError) as err:
        print(f"grumpy-arrow: error: {err}", file=sys.stderr)
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
