from __future__ import annotations

import subprocess
import sys

import pytest

from grumpy_arrow.cli import build_demo_arrays, build_demo_frame, main


def test_demo_arrays_have_the_documented_layouts() -> None:
    data = build_demo_arrays(30, seed=1)
    assert data["atom_x"].type == "30 * var * var * float32"
    assert data["residue_weight"].type == "30 * var * float64"
    assert data["go_term"].is_union
    assert data["go_term"][0].to_list()[0].startswith("GO:")
    assert isinstance(data["go_term"][1], str)


def test_demo_prints_its_report(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--rows", "40"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("grumpy-arrow demo: 40 molecules")
    assert "per-residue mean of atom_x (df.residue...)" in out
    assert "    molecule_go_term   40 * union[string, var * string]  [molecule]" in out


def test_demo_frame_has_the_documented_levels() -> None:
    df = build_demo_frame(5, seed=2)
    assert df.schema is not None and df.schema.names == ["molecule", "residue", "atom"]
    assert df.dtypes["atom_x"] == "5 * var * var * float32"
    assert df.count("residue") == int(df.shape("residue").sum())
    assert df.count("atom") == len(df.atom_x)


def test_demo_rejects_bad_rows(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--rows", "0"]) == 1
    assert capsys.readouterr().err == "grumpy-arrow: error: --rows must be at least 1, got 0\n"


def test_command_line_entry_point_runs_as_module() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "grumpy_arrow", "demo", "--rows", "20"],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert "segmented sum throughput" in proc.stdout


def test_help_works() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "grumpy_arrow", "--help"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0
    assert "demo" in proc.stdout
