"""``grumpy-arrow bench``: run the benchmark suite of a source checkout.

The benchmarks are not part of the package: they live in ``benchmarks/`` next to
``grumpy_arrow/`` in a checkout (an editable install finds them there). ``bench`` runs
``benchmarks/run_all.py`` with the same Python interpreter.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

from grumpy_arrow.cli.common import EXIT_ERROR, BenchmarksNotFoundError

__all__ = [
    "BENCHMARKS_ENV",
    "BenchmarksNotFoundError",
    "bench_command",
    "find_benchmarks",
    "run_benchmarks",
]

BENCHMARKS_ENV = "GRUMPY_BENCHMARKS_DIR"


def find_benchmarks(folder: str | None) -> Path:
    """``run_all.py`` in ``folder``, in ``$GRUMPY_BENCHMARKS_DIR``, or in the checkout the
    package was imported from.

    Raises
    ------
    BenchmarksNotFoundError
        When there is none.
    """
    chosen = folder or os.environ.get(BENCHMARKS_ENV)
    base = Path(chosen) if chosen else Path(__file__).resolve().parents[2] / "benchmarks"
    script = base / "run_all.py"
    if not script.is_file():
        where = f"{base}" if chosen else "this installation"
        raise BenchmarksNotFoundError(
            f"no benchmarks/run_all.py in {where}: the benchmarks ship with the source "
            "checkout (git clone, then pip install -e .), or pass --benchmarks-dir"
        )
    return script


def run_benchmarks(
    folder: str | None,
    *,
    size: str = "quick",
    markdown: str | None = None,
    only: list[str] | None = None,
) -> int:
    """Run the suite (its tables go to stdout); returns its exit status.

    ``size`` is ``"quick"`` (``--quick``), ``"smoke"`` (``--smoke``) or ``"full"``.
    """
    script = find_benchmarks(folder)
    command = [sys.executable, str(script)]
    if size != "full":
        command.append(f"--{size}")
    if markdown:
        command += ["--markdown", os.path.abspath(markdown)]
    if only:
        command += ["--only", *only]
    sys.stdout.flush()
    return subprocess.run(command, cwd=script.parent.parent, check=False).returncode


def bench_command(args: argparse.Namespace) -> int:
    """``grumpy-arrow bench``: run the suite; a failing suite is exit status 1."""
    status = run_benchmarks(args.benchmarks_dir, size=args.size, markdown=args.out, only=args.only)
    if status:
        print(f"grumpy-arrow: error: the benchmarks exited with status {status}", file=sys.stderr)
        return EXIT_ERROR
    return 0
