"""How long ``import grumpy_arrow`` and the command line take to start (issue 17).

Each figure is the fastest of N fresh interpreter processes (interleaved, so a busy moment
hits every variant alike): ``import numpy, pyarrow, pyarrow.compute`` (what grumpy_arrow
needs at least), ``import grumpy_arrow``, the heavier packages it loads on first use
(pandas, zarr, fsspec, pyarrow.parquet), and ``grumpy-arrow --version`` as a whole command.
It also lists which heavy modules ``import grumpy_arrow`` left unloaded.

Bars: ``import grumpy_arrow`` at most 2x ``import numpy, pyarrow``; ``grumpy-arrow
--version`` under 0.5 s.

Usage::

    python benchmarks/bench_import.py                    # 15 processes per variant
    python benchmarks/bench_import.py --quick            # 7
    python benchmarks/bench_import.py --smoke            # 2 (CI)
    python benchmarks/bench_import.py --markdown out.md  # also write Markdown tables
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from _common import Report, Table, host_info, run_in_scratch, version_info

IMPORT_BAR = 2.0
VERSION_BAR_MS = 500.0
HEAVY = (
    "pandas",
    "zarr",
    "fsspec",
    "pyarrow.parquet",
    "h5py",
    "numba",
    "polars",
    "torch",
    "dask",
    "scipy",
)
VARIANTS = {
    "import numpy, pyarrow, pyarrow.compute": "import numpy, pyarrow, pyarrow.compute",
    "import grumpy_arrow": "import grumpy_arrow",
    "import grumpy_arrow, then gr.save (zarr, fsspec)": "import grumpy_arrow as gr; gr.save",
    "import pandas": "import pandas",
    "import zarr": "import zarr",
}


def _time_import(code: str) -> float:
    """Seconds ``code`` takes in a fresh interpreter, measured inside it."""
    probe = f"import time; t = time.perf_counter(); {code}; print(time.perf_counter() - t)"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    return float(out.stdout.strip().splitlines()[-1])


def _time_command(argv: list[str]) -> float:
    """Wall seconds of a whole command (interpreter start included)."""
    start = time.perf_counter()
    subprocess.run(argv, capture_output=True, check=True)
    return time.perf_counter() - start


def _left_unloaded() -> dict[str, bool]:
    code = (
        "import sys, json, grumpy_arrow; "
        f"print(json.dumps({{m: m in sys.modules for m in {HEAVY!r}}}))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return dict(json.loads(out.stdout))


def _cli() -> list[str]:
    found = shutil.which("grumpy-arrow", path=os.path.dirname(sys.executable))
    return [found, "--version"] if found else [sys.executable, "-m", "grumpy_arrow", "--version"]


def run(args: argparse.Namespace, root: Path) -> Report:
    n = 2 if args.smoke else 7 if args.quick else 15
    report = Report([*host_info(), *version_info(), ("processes", f"{n} per variant")])
    for key, value in report.info:
        print(f"{key:>15}: {value}")
    best = {name: float("inf") for name in [*VARIANTS, "grumpy-arrow --version"]}
    cli = _cli()
    for _ in range(n):  # interleaved
        for name, code in VARIANTS.items():
            best[name] = min(best[name], _time_import(code))
        best["grumpy-arrow --version"] = min(best["grumpy-arrow --version"], _time_command(cli))
    base = best["import numpy, pyarrow, pyarrow.compute"]
    times = Table("Import and start-up times", ["what", "ms (best)", "vs numpy + pyarrow"])
    for name, seconds in best.items():
        times.rows.append([name, f"{seconds * 1e3:.1f}", f"{seconds / base:.2f}x"])
    times.notes = ["`grumpy-arrow --version` is the whole command (interpreter start included)."]
    report.add(times)
    loaded = _left_unloaded()
    mods = Table("Heavy modules after `import grumpy_arrow`", ["module", "loaded"])
    mods.rows = [[m, "yes" if v else "no"] for m, v in loaded.items()]
    report.add(mods)
    ratio = best["import grumpy_arrow"] / base
    version_ms = best["grumpy-arrow --version"] * 1e3
    bars = Table("Bars (issue 17)", ["bar", "measured", "peer", "verdict"], left=(0, 1, 2, 3))
    bars.rows = [
        [
            f"import grumpy_arrow <= {IMPORT_BAR:g}x import numpy, pyarrow",
            f"{best['import grumpy_arrow'] * 1e3:.1f} ms = {ratio:.2f}x",
            f"import numpy, pyarrow, pyarrow.compute {base * 1e3:.1f} ms",
            "met" if ratio <= IMPORT_BAR else f"NOT MET: {ratio:.2f}x > {IMPORT_BAR:g}x",
        ],
        [
            f"grumpy-arrow --version under {VERSION_BAR_MS:g} ms",
            f"{version_ms:.0f} ms",
            "",
            "met" if version_ms < VERSION_BAR_MS else f"NOT MET: {version_ms:.0f} ms",
        ],
        [
            "import grumpy_arrow leaves pandas, zarr, fsspec, pyarrow.parquet unloaded",
            ", ".join(m for m, v in loaded.items() if v) or "none of them loaded",
            "",
            "met" if not any(loaded[m] for m in HEAVY[:4]) else "NOT MET",
        ],
    ]
    report.add(bars)
    if args.smoke:
        print("smoke run: 2 processes per variant, so the verdicts above mean little")
    return report


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--smoke", action="store_true", help="2 processes per variant (CI)")
    mode.add_argument("--quick", action="store_true", help="7 processes per variant")
    parser.add_argument("--markdown", type=Path, metavar="PATH", help="also write Markdown")
    parser.add_argument("--dir", type=Path, default=Path("/tmp"), help="scratch folder")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    return run_in_scratch(run, parse_args(argv), "bench_import_")


if __name__ == "__main__":
    sys.exit(main())
