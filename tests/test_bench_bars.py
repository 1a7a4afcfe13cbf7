"""The storage bars of issue 13, judged by ``benchmarks/run_all.py`` on the peers suite's
tables: each verdict follows the bar's own rule (a ratio to a peer, a share of a limit,
a growth) on the figures of the table, met on one side of the threshold and not met on
the other, and n/a where a table or a peer is missing."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def run_all() -> ModuleType:
    path = ROOT / "benchmarks" / "run_all.py"
    spec = importlib.util.spec_from_file_location("_run_all_under_test", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    sys.path.insert(0, str(path.parent))  # its helper module, benchmarks/_common.py
    had_common = "_common" in sys.modules
    try:
        spec.loader.exec_module(module)
    finally:
        sys.modules.pop(spec.name, None)
        sys.path.remove(str(path.parent))
        if not had_common:
            sys.modules.pop("_common", None)
    return module


def _tables(
    *,
    kb: str = "48.9",
    batch: str = "5.00",
    lance_batch: str = "6.00",
    row: str = "900.0",
    warm_none: str = "41,000",
    warm_default: str = "20,000",
    hf: str = "40,000",
    growth: str = "1.40x",
    share: str = "0.16x",
    flat: str = "0.87x",
    h5py: str = "0.52x",
) -> str:
    return f"""
### On-disk size (20,000 molecules)

| store | du MB | apparent MB | du vs Parquet | 3-row du kB | 3-row apparent kB |
| --- | ---: | ---: | ---: | ---: | ---: |
| grumpy (default) | 117.0 | 117.0 | 1.04x | 180.2 | {kb} |
| Parquet (snappy, default) | 100.0 | 100.0 | 1.00x | 4.0 | 1.0 |
| HF datasets | 229.0 | 229.0 | 2.29x | 12.0 | 10.0 |

### Random access: batches of 32 random molecules

| peer | batch ms | row µs |
| --- | ---: | ---: |
| grumpy (default) | {batch} | {row} |
| grumpy (none) | 2.00 | 800.0 |
| HF datasets | 0.50 | 100.0 |
| Lance | {lance_batch} | 500.0 |

### Shuffled epoch: 32 random molecules per batch

| peer | warm rows/s | cold rows/s |
| --- | ---: | ---: |
| grumpy (default) | {warm_default} | 19,000 |
| grumpy (none) | {warm_none} | 30,000 |
| HF datasets | {hf} | 35,000 |

### Full read into memory

| reader | warm MB/s | vs np.load |
| --- | ---: | ---: |
| grumpy (default) | 620 | {share} |
| HF datasets | 4,711 | 1.10x |

### Cost per row vs store size

| peer | µs/row 2,000 | µs/row 100,000 | 100,000 / 2,000 |
| --- | ---: | ---: | ---: |
| grumpy (default), chunk cache | 60.0 | 84.0 | {growth} |
| grumpy (default), cache='none' | 200.0 | 230.0 | 1.15x |

### Append: 200 batches of 1,000 molecules

| method | MB/s | last / first 10 | vs raw h5py |
| --- | ---: | ---: | ---: |
| gr.append, durable=False (default) | 250 | {flat} | {h5py} |
| gr.append, durable (default) | 95 | 1.00x | 0.20x |
| raw h5py (file open) | 480 | 3.44x | 1.00x |
"""


def _verdicts(run_all: ModuleType, md: str) -> dict[str, str]:
    return {b.bar: b.verdict for b in run_all.peers_bars(md) if b.area == "peers"}


def test_every_bar_met_on_the_good_side(run_all: ModuleType) -> None:
    got = _verdicts(run_all, _tables())
    assert got == {
        "3-molecule frame <= 64 KB on disk (bytes of its files)": "met",
        "default store <= 1.2x the Parquet file (du)": "met",
        "random 32-molecule batch, chunk cache off: faster than Lance take": "met",
        "random 32-molecule batch, chunk cache off: <= 3x the uncompressed store": "met",
        "single molecule h[i], chunk cache off: <= 2x Lance": "met",
        "single molecule h[i], chunk cache off: <= 10x HF datasets": "met",
        "shuffled epoch of 32 random molecules a batch, uncompressed store: "
        ">= 1x HF datasets' rows/s (warm)": "met",
        "shuffled epoch of 32 random molecules a batch, default (compressed) store: "
        ">= 0.5x HF datasets' rows/s (warm)": "met",
        "full read into memory >= 50 % of np.load (warm)": "NOT MET (0.16x < 0.5x)",
        "cost per row flat: largest / smallest store (100,000 / 2,000) <= 1.5x, default cache": "met",
        "append cost flat: last / first 10 calls <= 1.5x": "met",
        "gr.append of 1,000-molecule batches, durable=False: >= 0.5x raw h5py MB/s": "met",
    }


def test_each_bar_not_met_past_its_threshold(run_all: ModuleType) -> None:
    got = _verdicts(
        run_all,
        _tables(
            kb="65.0",
            batch="7.20",
            row="2,400.0",
            warm_none="39,600",
            warm_default="19,000",
            growth="4.77x",
            share="0.50x",
            flat="1.60x",
            h5py="0.29x",
        ),
    )
    assert got["3-molecule frame <= 64 KB on disk (bytes of its files)"] == "NOT MET (65 kB)"
    assert (
        got["random 32-molecule batch, chunk cache off: faster than Lance take"]
        == "NOT MET (1.20x)"
    )
    assert (
        got["random 32-molecule batch, chunk cache off: <= 3x the uncompressed store"]
        == "NOT MET (3.60x)"
    )
    assert got["single molecule h[i], chunk cache off: <= 2x Lance"] == "NOT MET (4.80x)"
    assert got["single molecule h[i], chunk cache off: <= 10x HF datasets"] == "NOT MET (24.00x)"
    epoch = (
        "shuffled epoch of 32 random molecules a batch, {} store: >= {}x HF datasets' rows/s (warm)"
    )
    assert got[epoch.format("uncompressed", "1")] == "NOT MET (0.99x < 1x)"
    assert got[epoch.format("default (compressed)", "0.5")] == "NOT MET (0.47x < 0.5x)"
    assert got["full read into memory >= 50 % of np.load (warm)"] == "met"
    growth = "cost per row flat: largest / smallest store (100,000 / 2,000) <= 1.5x, default cache"
    assert got[growth] == "NOT MET (4.77x)"
    assert got["append cost flat: last / first 10 calls <= 1.5x"] == "NOT MET (1.60x)"
    append = "gr.append of 1,000-molecule batches, durable=False: >= 0.5x raw h5py MB/s"
    assert got[append] == "NOT MET (0.29x < 0.5x)"


def test_a_missing_peer_or_table_is_not_judged(run_all: ModuleType) -> None:
    md = _tables().replace("| Lance | 6.00 | 500.0 |\n", "")
    got = _verdicts(run_all, md)
    assert got["random 32-molecule batch, chunk cache off: faster than Lance take"] == "n/a"
    assert got["single molecule h[i], chunk cache off: <= 2x Lance"] == "n/a"
    assert got["single molecule h[i], chunk cache off: <= 10x HF datasets"] == "met"
    bars = run_all.peers_bars("")
    assert {b.verdict for b in bars} == {"n/a"}
    assert len(bars) == 6  # one line per table the suite writes
