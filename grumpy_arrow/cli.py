"""The ``grumpy-arrow`` command line (also ``python -m grumpy_arrow``)."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from grumpy_arrow.errors import GrumpyError

__all__ = ["build_demo_arrays", "main"]


def build_demo_arrays(molecules: int, seed: int = 0) -> dict[str, Any]:
    """A realistic molecule -> residue -> atom dataset as grumpy arrays.

    Residues per molecule and atoms per residue vary; ``go_term`` holds one annotation for
    some molecules and a list for others (a scalar-or-list union).
    """
    import grumpy_arrow as gr

    rng = np.random.default_rng(seed)
    residues = rng.integers(20, 60, molecules)
    atoms = rng.integers(5, 15, int(residues.sum()))
    n_atoms = int(atoms.sum())
    coords = rng.normal(0.0, 10.0, (n_atoms, 3)).astype(np.float32)
    atom_x = gr.from_offsets(gr.from_offsets(coords[:, 0], _offsets(atoms)), _offsets(residues))
    weight = gr.from_offsets(rng.uniform(50, 200, len(atoms)), _offsets(residues))
    terms = [f"GO:{rng.integers(0, 10**7):07d}" for _ in range(molecules)]
    go_rows: list[Any] = [
        t if i % 3 else [t, f"GO:{(i * 7919) % 10**7:07d}"] for i, t in enumerate(terms)
    ]
    go_term = gr.array(go_rows, dtype=gr.string)
    return {"atom_x": atom_x, "residue_weight": weight, "go_term": go_term}


def _offsets(lengths: np.ndarray) -> np.ndarray:
    out = np.zeros(len(lengths) + 1, dtype=np.int64)
    np.cumsum(lengths, out=out[1:])
    return out


def _timed(label: str, fn: Callable[[], Any], out: list[str]) -> Any:
    start = time.perf_counter()
    result = fn()
    ms = (time.perf_counter() - start) * 1e3
    out.append(f"  {label:<44} {ms:9.2f} ms")
    return result


def run_demo(molecules: int) -> str:
    """Build the demo arrays, compute on them, and return the report text."""
    lines: list[str] = [f"grumpy-arrow demo: {molecules} molecules (molecule -> residue -> atom)"]
    data = _timed("build arrays", lambda: build_demo_arrays(molecules), lines)
    atom_x, weight, go = data["atom_x"], data["residue_weight"], data["go_term"]
    n_atoms = len(atom_x.flatten())
    lines.append(f"  atom_x: {atom_x.type}, {n_atoms} atoms")
    lines.append(f"  go_term: {go.type} (union: {go.is_union})")
    centre = _timed("per-residue mean of atom_x (dim=-1)", lambda: atom_x.mean(dim=-1), lines)
    _timed("per-molecule max residue weight (dim=1)", lambda: weight.max(dim=1), lines)
    shifted = _timed("centre atoms on their residue (broadcast)", lambda: atom_x - centre, lines)
    _timed("count atoms with |x| > 10", lambda: (abs(shifted) > 10).sum(), lines)
    per_row = _timed("go_term.str.len() on a union", lambda: go.str.len(), lines)
    first = ", ".join(f"{v:.2f}" for v in centre[0][:3].to_list())
    lines.append(f"  first molecule residue centres: [{first}, ...]")
    lines.append(f"  go_term lengths, first 3 rows: {per_row[:3].to_list()}")
    rate = n_atoms / max(1e-9, _seconds(lambda: atom_x.sum(dim=-1)))
    lines.append(f"  segmented sum throughput: {rate / 1e6:.1f} M values/s")
    return "\n".join(lines)


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
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: parse ``argv``, run the command, print one line on error."""
    args = _parser().parse_args(argv)
    try:
        if args.command == "demo":
            if args.rows < 1:
                raise ValueError(f"--rows must be at least 1, got {args.rows}")
            print(run_demo(args.rows))
        return 0
    except (GrumpyError, ValueError, OSError) as err:
        print(f"grumpy-arrow: error: {err}", file=sys.stderr)
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
