from __future__ import annotations

import subprocess
import sys
from pathlib import Path

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
    assert "gr.open (manifest only)" in out
    assert "shuffled epoch, " in out and "apply(cpu=2)" in out
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


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "grumpy_arrow", *args],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


def test_info_head_and_validate_on_a_store(tmp_path: Path) -> None:
    import grumpy_arrow as gr

    path = str(tmp_path / "f.gr")
    df = gr.dataframe(
        {"molecule_id": ["a", "b"], "residue_w": [[1.0, 2.0], [3.0]], "molecule_go": ["x", ["y"]]},
        schema=["molecule", "residue"],
    )
    gr.save(df, path)
    info = _run("info", path)
    assert info.returncode == 0, info.stderr
    assert info.stdout.splitlines()[0] == f"{path}: dataframe, 2 rows"
    assert "  residue_w: list@residue<float64>  [residue]" in info.stdout
    assert "  molecule_go: union<string, list<string>>  [molecule]" in info.stdout
    head = _run("head", path, "-n", "1")
    assert head.returncode == 0
    assert head.stdout == "0: molecule_id='a', residue_w=[1.0, 2.0], molecule_go='x'\n"
    ok = _run("validate", path)
    assert (ok.returncode, ok.stdout) == (0, f"{path}: ok\n")


def test_validate_exits_non_zero_on_a_corrupt_store(tmp_path: Path) -> None:
    import grumpy_arrow as gr

    path = tmp_path / "x.gr"
    gr.save(gr.array([[1.0, 2.0], [3.0]]), path)
    chunk = path / "array" / "r.c-values" / "c" / "0"
    chunk.write_bytes(chunk.read_bytes()[:8])
    bad = _run("validate", str(path))
    assert bad.returncode == 1
    assert "leaf 'array/r.c-values' chunk 0 is truncated" in bad.stderr
    assert "Traceback" not in bad.stderr


@pytest.mark.parametrize("command", ["info", "head", "validate"])
def test_commands_on_a_path_that_is_not_a_store(command: str, tmp_path: Path) -> None:
    proc = _run(command, str(tmp_path / "missing"))
    if command == "validate":
        assert proc.returncode == 1
        assert "not a grumpy_arrow store (no grumpy.json)" in proc.stderr
    else:
        assert proc.returncode == 1
        assert proc.stderr.startswith("grumpy-arrow: error: ")
        assert "not a grumpy_arrow store" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_every_command_has_help() -> None:
    for command in ("demo", "info", "head", "validate"):
        proc = _run(command, "--help")
        assert proc.returncode == 0
        assert "usage: grumpy-arrow " + command in proc.stdout
