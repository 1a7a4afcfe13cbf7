"""The ``grumpy-arrow`` command line, run as users run it: ``python -m grumpy_arrow ...``.

Every command runs at least once in a subprocess (exit status, one-line errors on stderr,
no tracebacks); the format matrix of ``convert`` runs in-process through ``main`` to keep
the file fast (a subprocess costs about a second of imports).
"""

from __future__ import annotations

import argparse
import io
import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import fsspec
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import grumpy_arrow as gr
import grumpy_arrow.cli as cli
from grumpy_arrow.cli import build_demo_arrays, build_demo_frame, build_parser, main
from grumpy_arrow.cli.convert import _progress_bar
from grumpy_arrow.cli.jsontext import from_json_text, json_lines, to_json_text

SCHEMA = "molecule,residue,atom"


def _run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "grumpy_arrow", *args],
        capture_output=True,
        text=True,
        check=False,
        timeout=180,
        env={**os.environ, "GRUMPY_DEBUG": "", **(env or {})},
    )


def _one_error_line(proc: subprocess.CompletedProcess[str], status: int) -> str:
    """The single stderr line of a failed command (asserting the status and the shape)."""
    assert proc.returncode == status, (proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("grumpy-arrow: error: "), proc.stderr
    return lines[0].removeprefix("grumpy-arrow: error: ")


def _frame() -> Any:
    """Strings with separators, quotes and newlines, nulls everywhere, a union with a null
    and an empty list, float32/int32/bool, nested lists two levels deep."""
    return gr.dataframe(
        {
            "molecule_id": ["a", None, 'c,"q"\n', ""],
            "molecule_uniprot": ["P1", ["P2", "P3"], None, []],
            "molecule_score": gr.array([1.5, None, 0.1, -2.0], dtype="float32"),
            "molecule_n": gr.array([1, 2, None, 4], dtype="int32"),
            "molecule_ok": [True, None, False, True],
            "residue_w": [[1.0, 2.0], [], None, [3.25]],
            "atom_xyz": [[[0.1, 0.2], [0.3]], [], None, [[1e300, -0.0, None]]],
        },
        schema=["molecule", "residue", "atom"],
    )


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("cli") / "frame.gr"
    gr.save(_frame(), path)
    return path


# -- demo -----------------------------------------------------------------------------------


def test_demo_saves_streams_fills_the_savers_and_checks_them(tmp_path: Path) -> None:
    out = tmp_path / "demo"
    proc = _run("demo", "--rows", "40", "--out", str(out), "--seed", "3")
    assert proc.returncode == 0, proc.stderr
    text = proc.stdout
    assert text.startswith("grumpy-arrow demo: 40 molecules (molecule -> residue -> atom), seed 3")
    for expected in (
        "    molecule_uniprot     40 * union[string, var * string]  [molecule]",
        "    atom_x               40 * var * var * float32  [atom]",
        "  gr.open (manifest only)",
        "    round trip exact (schema, unions, nulls)",
        "  first batch of 32 random molecules (cold)",
        "  63 more batches of 32 (chunk cache)",
        "stream (shuffled epoch, batches of 32 molecules, apply(cpu=2))",
        "  2 batches ",
        "    every molecule seen exactly once",
        "  Stream.apply(cpu=2).save(NumpySaver)",
        "    features.npy: 40 x 6 float64",
        "  gr.run(cpu=2, saver=ZarrSaver) (ragged rows)",
        "    results.zarr/residue_distance: 40 rows, ",
        "  Stream.apply(cpu=2).save(GrumpySaver) (ragged)",
        "    residue_centres.gr: 40 molecules",
        f"; outputs kept in {out}",
    ):
        assert expected in text, expected
    assert " MB on disk" in text and " rows/s" in text and " MB/s" in text
    # Lock files and the Zarr saver's hidden staging folder stay (shared, never deleted).
    outputs = [e for e in os.listdir(out) if not e.startswith(".") and not e.endswith(".lock")]
    assert sorted(outputs) == ["demo.gr", "features.npy", "residue_centres.gr", "results.zarr"]
    saved = gr.load(out / "demo.gr")
    assert len(saved) == 40
    assert saved.to_arrow().equals(build_demo_frame(40, seed=3).to_arrow())
    assert np.load(out / "features.npy").shape == (40, 6)
    assert len(gr.load(out / "residue_centres.gr")) == 40
    distances = gr.savers.ZarrSaver(out / "results.zarr", dataset_name="residue_distance").load()
    assert len(distances) == 40
    assert len(distances.flatten()) == saved.count("residue")


def test_demo_frame_is_seeded_and_has_the_documented_layouts() -> None:
    df = build_demo_frame(30, seed=1)
    assert df.schema is not None and df.schema.names == ["molecule", "residue", "atom"]
    assert df.to_arrow().equals(build_demo_frame(30, seed=1).to_arrow())
    assert not df.to_arrow().equals(build_demo_frame(30, seed=2).to_arrow())
    assert df.dtypes["atom_element"] == "30 * var * var * string"
    assert df.count("residue") == int(df.shape("residue").sum())
    assert df.count("atom") == len(df.atom_x)
    assert df.atom_b_factor.null_count > 0 and df["molecule_uniprot"].is_union
    data = build_demo_arrays(30, seed=1)
    assert data["atom_x"].type == "30 * var * var * float32"
    assert data["residue_weight"].type == "30 * var * float64"
    kinds = {type(v).__name__ for v in data["uniprot"].to_list()}
    assert kinds == {"str", "list", "NoneType"}


def test_demo_in_process_prints_as_it_goes(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--rows", "5"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("grumpy-arrow demo: 5 molecules")
    assert "outputs removed (--out DIR keeps them)" in out.splitlines()[-1]


# -- info / head / validate -----------------------------------------------------------------


def test_info_head_and_validate_on_a_store(store: Path) -> None:
    info = _run("info", str(store))
    assert info.returncode == 0, info.stderr
    lines = info.stdout.splitlines()
    assert lines[:4] == [
        f"{store}: dataframe, 4 rows",
        "  schema: molecule → residue → atom",
        "  entities: molecule 4, residue 3, atom 6",
        "  columns (7): name, dtype, [level], layout, leaves, MB on disk",
    ]
    assert lines[5].split() == [
        "molecule_uniprot",
        "union[string,",
        "var",
        "*",
        "string]",
        "[molecule]",
        "union<string,",
        "list<string>>",
        "8",
        "0.07",
    ]
    assert lines[10].split()[:6] == ["atom_xyz", "var", "*", "var", "*", "float64"]
    assert lines[-2].startswith("  chunking: chunk_size=None chunk_dim=None (leaf chunks [")
    head = _run(
        "head", str(store), "-n", "2", "--columns", "molecule_id,molecule_uniprot", "atom_xyz"
    )
    assert head.returncode == 0, head.stderr
    assert head.stdout == (
        "0: molecule_id='a', molecule_uniprot='P1', atom_xyz=[[0.1, 0.2], [0.3]]\n"
        "1: molecule_id=None, molecule_uniprot=['P2', 'P3'], atom_xyz=[]\n"
    )
    ok = _run("validate", str(store))
    assert (ok.returncode, ok.stdout, ok.stderr) == (0, f"{store}: ok\n", "")


def test_info_json_and_head_shorten_long_rows(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "long.gr"
    floats = gr.array([0.1, 2.0], dtype="float32")
    gr.save(gr.dataframe({"m_v": [list(range(20)), [7]], "m_f": floats}), path)
    assert main(["info", "--json", str(path)]) == 0
    info = json.loads(capsys.readouterr().out)
    assert (info["rows"], info["kind"], info["schema"]) == (2, "dataframe", None)
    assert info["columns"]["m_v"]["type"] == "var * int64"
    assert main(["head", str(path)]) == 0
    assert capsys.readouterr().out == (
        "0: m_v=[0, 1, 2, 3, 4, 5, ... +14], m_f=0.1\n1: m_v=[7], m_f=2.0\n"
    )


def test_info_head_and_convert_work_on_fsspec_urls(capsys: pytest.CaptureFixture[str]) -> None:
    gr.save(_frame(), "memory://cli/frame.gr")
    assert main(["info", "memory://cli/frame.gr"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[3] == "  columns (7): name, dtype, [level], layout, leaves"
    assert lines[4].split() == ["molecule_id", "string", "[molecule]", "string", "3"]
    assert main(["head", "memory://cli/frame.gr", "-n", "1", "--columns", "residue_w"]) == 0
    assert capsys.readouterr().out == "0: residue_w=[1.0, 2.0]\n"
    for ext in ("parquet", "jsonl"):  # files behind URLs convert too
        _convert_to("memory://cli/frame.gr", f"memory://cli/frame.{ext}")
        back = f"memory://cli/back-{ext}.gr"
        _convert_to(f"memory://cli/frame.{ext}", back, "--schema", SCHEMA)
        assert gr.load(back).to_dict() == _frame().to_dict()
    fsspec.filesystem("memory").rm("/cli", recursive=True)


def test_sharded_store_info_head_and_validate(tmp_path: Path) -> None:
    path = tmp_path / "sharded.gr"
    gr.save(_frame(), path, shard_rows=3)
    info = _run("info", str(path))
    assert info.stdout.splitlines()[:3] == [
        f"{path}: dataframe, 4 rows",
        "  shards: 2 of up to 3 rows (consolidated)",
        "  schema: molecule → residue → atom",
    ]
    head = _run("head", str(path), "-n", "9", "--columns", "molecule_n")
    assert head.stdout == "0: molecule_n=1\n1: molecule_n=2\n2: molecule_n=None\n3: molecule_n=4\n"
    ok = _run("validate", str(path))
    assert (ok.returncode, ok.stdout) == (0, f"{path}: ok\n")


def test_validate_names_a_truncated_leaf(tmp_path: Path) -> None:
    path = tmp_path / "x.gr"
    gr.save(gr.array([[1.0, 2.0], [3.0]]), path)
    chunk = path / "array" / "r.c-values" / "c" / "0"
    chunk.write_bytes(chunk.read_bytes()[:8])
    bad = _run("validate", str(path))
    assert bad.returncode == 1 and "Traceback" not in bad.stderr
    assert bad.stderr.splitlines() == [
        # A shard file ends with its index: 64 entries of 16 bytes (a small first batch:
        # shards of 64 inner chunks) and a checksum.
        f"grumpy-arrow: corrupt: {path}: leaf 'array/r.c-values' shard 0 is truncated: 8 "
        "bytes, expected at least 1028",
        f"grumpy-arrow: error: {path}: 1 problem found",
    ]


def test_validate_names_a_deleted_leaf_and_a_garbled_manifest(tmp_path: Path) -> None:
    deleted, garbled = tmp_path / "deleted.gr", tmp_path / "garbled.gr"
    for path in (deleted, garbled):
        gr.save(_frame(), path)
    for leaf in (deleted / "residue_w" / "r.c-values").rglob("*"):
        if leaf.is_file():
            leaf.unlink()
    (garbled / "grumpy.json").write_text('{"format": "grumpy_arrow", "version": 1, "rows": ')
    proc = _run("validate", str(deleted))
    assert proc.returncode == 1
    assert f"grumpy-arrow: corrupt: {deleted}: leaf 'residue_w/r.c-values' is missing" in (
        proc.stderr
    )
    proc = _run("validate", str(garbled))
    assert proc.returncode == 1
    assert proc.stderr.splitlines()[0] == (
        f"grumpy-arrow: corrupt: {garbled}: grumpy.json is not valid JSON (Expecting value: "
        "line 1 column 50 (char 49))"
    )
    message = _one_error_line(_run("info", str(garbled)), 1)
    assert message.startswith(f"{garbled}: grumpy.json is not valid JSON")


@pytest.mark.parametrize("command", ["info", "head", "validate"])
def test_commands_on_a_path_that_is_not_a_store(
    command: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "missing"
    message = _one_error_line(_run(command, str(missing)), 1)
    not_a_store = (
        "not a grumpy_arrow store (no grumpy.json); expected a directory written by gr.save"
    )
    if command == "validate":
        assert message == f"{missing}: no such file or directory"
    else:
        assert message == f"{missing}: {not_a_store}"
    assert main([command, str(tmp_path)]) == 1  # a directory, but no store
    assert capsys.readouterr().err == f"grumpy-arrow: error: {tmp_path}: {not_a_store}\n"


# -- convert --------------------------------------------------------------------------------

BINARY = ["parquet", "arrow", "feather", "ipc", "arrows"]
TEXT = ["jsonl", "ndjson.gz", "csv", "csv.zst"]


@pytest.mark.parametrize("ext", BINARY + TEXT)
def test_convert_round_trips_a_store_through_every_format(
    ext: str, store: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = ext in TEXT
    extra = ["--nested-as-json"] if ext.startswith("csv") else []
    out, back = tmp_path / f"frame.{ext}", tmp_path / "back.gr"
    assert main(["convert", str(store), str(out), *extra]) == 0
    assert (
        main(["convert", str(out), str(back), *extra, *(["--schema", SCHEMA] if text else [])]) == 0
    )
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith(f"{store} (store) -> {out} (")
    assert ": 4 rows in 1 batch, " in lines[1]
    original, copy = _frame(), gr.load(back)
    assert copy.schema == original.schema
    assert copy.to_dict() == original.to_dict()  # values exact, nulls and unions included
    if text:  # text carries no types: ints come back int64, floats float64
        assert copy.dtypes["molecule_n"] == "4 * int64"
        assert copy.dtypes["molecule_score"] == "4 * float64"
    else:
        assert copy.to_arrow().equals(original.to_arrow())
    assert [p.name for p in tmp_path.iterdir() if ".partial" in p.name] == []


def test_convert_writes_lowered_unions_and_json_arrays(store: Path, tmp_path: Path) -> None:
    assert main(["convert", str(store), str(tmp_path / "f.jsonl")]) == 0
    rows = [json.loads(line) for line in (tmp_path / "f.jsonl").read_text().splitlines()]
    assert [(r["molecule_uniprot"], r["molecule_uniprot__is_scalar"]) for r in rows] == [
        (["P1"], True),
        (["P2", "P3"], False),
        ([None], True),
        ([], False),
    ]
    assert rows[2]["molecule_score"] == 0.10000000149011612  # the float32 value, exactly
    assert rows[3]["atom_xyz"] == [[1e300, -0.0, None]]
    table = pq.read_table(_convert_to(store, tmp_path / "f.parquet"))
    assert table.column_names[1:3] == ["molecule_uniprot", "molecule_uniprot__is_scalar"]


def _convert_to(src: Path | str, dst: Path | str, *extra: str) -> Path | str:
    assert main(["convert", str(src), str(dst), *extra]) == 0
    return dst


def test_convert_lowers_native_unions_between_files(tmp_path: Path) -> None:
    native = _frame().to_arrow()  # a dense union column, as another Arrow writer may leave
    with pa.ipc.new_file(tmp_path / "native.arrow", native.schema) as writer:
        writer.write_table(native)
    _convert_to(tmp_path / "native.arrow", tmp_path / "lowered.parquet", "--compressor", "zstd")
    assert gr.from_parquet(tmp_path / "lowered.parquet").to_dict() == _frame().to_dict()


def test_convert_keeps_an_array_an_array(tmp_path: Path) -> None:
    x = gr.array(["P12345", ["P12345-1", "P12345-2"], None], dtype=gr.string)
    gr.save(x, tmp_path / "x.gr")
    _convert_to(tmp_path / "x.gr", tmp_path / "x.parquet")
    back = gr.load(_convert_to(tmp_path / "x.parquet", tmp_path / "back.gr"))
    assert isinstance(back, gr.GrumpyArray) and back.to_list() == x.to_list()
    # JSONL has no metadata: the array comes back as a frame with its one column.
    _convert_to(tmp_path / "x.gr", tmp_path / "x.jsonl")
    frame = gr.load(_convert_to(tmp_path / "x.jsonl", tmp_path / "frame.gr"))
    assert frame.columns == ["values"] and frame["values"].to_list() == x.to_list()


def test_convert_copies_stores_with_new_shards_chunks_and_compressor(
    store: Path, tmp_path: Path
) -> None:
    copy = _convert_to(
        store,
        tmp_path / "copy.gr",
        "--shard-rows",
        "3",
        "--chunk-size",
        "16",
        "--compressor",
        "zstd",
        "--batch-rows",
        "2",
    )
    info = gr.storage.store_info(copy)
    assert (info["rows"], len(info["shards"]), info["compressor"]) == (4, 2, "zstd")
    assert info["chunk_size"] == 16 and gr.validate(copy) == []
    assert gr.load(copy).to_arrow().equals(_frame().to_arrow())
    _convert_to(store, copy, "--append")
    assert gr.load(copy).to_dict() == {k: v * 2 for k, v in _frame().to_dict().items()}


def test_convert_refuses_to_clobber_and_overwrites_on_request(
    store: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    dst = tmp_path / "out.parquet"
    dst.write_text("precious")
    assert main(["convert", str(store), str(dst)]) == 1
    assert capsys.readouterr().err == (
        f"grumpy-arrow: error: {dst} exists; pass --overwrite to replace it\n"
    )
    assert dst.read_text() == "precious"
    _convert_to(store, dst, "--overwrite")
    assert pq.read_table(dst).num_rows == 4
    shelf = tmp_path / "old.gr"
    gr.save(gr.array([1, 2, 3]), shelf)
    _convert_to(store, shelf, "--overwrite")  # a store replaced by another, atomically
    assert len(gr.load(shelf)) == 4
    assert sorted(p.name for p in tmp_path.iterdir()) == ["old.gr", "out.parquet"]


def test_a_failed_conversion_leaves_no_output(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    src = tmp_path / "drift.jsonl"
    src.write_text('{"a": 1}\n' * 3000 + '{"a": "x"}\n')
    assert main(["convert", str(src), str(tmp_path / "out.gr"), "--block-size", "4096"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("grumpy-arrow: error: ") and err.count("\n") == 1
    assert "a larger --block-size widens it" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["drift.jsonl"]


def test_convert_streams_a_large_parquet_file_in_batches(tmp_path: Path) -> None:
    n = 200_000
    rng = np.random.default_rng(0)
    lengths = rng.integers(0, 5, n)
    offsets = np.concatenate([[0], np.cumsum(lengths)])
    table = pa.table(
        {
            "id": np.arange(n),
            "tag": pa.array(np.char.add("t", np.arange(n).astype(str)).astype(object)),
            "v": pa.LargeListArray.from_arrays(offsets, rng.normal(size=offsets[-1])),
        }
    )
    pq.write_table(table, tmp_path / "big.parquet", row_group_size=30_000)
    proc = _run(
        "convert",
        str(tmp_path / "big.parquet"),
        str(tmp_path / "big.gr"),
        "--batch-rows",
        "50000",
        "--progress",
    )
    assert proc.returncode == 0, proc.stderr
    assert ": 200000 rows in 4 batches, " in proc.stdout
    assert "100%" in proc.stderr and "rows" in proc.stderr  # the tqdm bar, on stderr
    handle = gr.open(tmp_path / "big.gr")
    assert len(handle) == n
    picked = handle[[0, 49_999, 50_000, 199_999]]
    assert picked["id"].to_list() == [0, 49_999, 50_000, 199_999]
    assert picked["tag"].to_list() == ["t0", "t49999", "t50000", "t199999"]
    assert picked["v"].to_list() == table.column("v").take([0, 49_999, 50_000, 199_999]).to_pylist()


def test_convert_errors_are_one_line(store: Path, tmp_path: Path) -> None:
    nested = _one_error_line(_run("convert", str(store), str(tmp_path / "x.csv")), 1)
    assert nested == (
        "CSV cannot hold nested column 'molecule_uniprot' (large_list<item: string>); convert "
        "to JSONL, Parquet or IPC, or pass --nested-as-json"
    )
    usage = _one_error_line(
        _run("convert", str(store), str(tmp_path / "x.parquet"), "--shard-rows", "5"), 2
    )
    assert usage == "--shard-rows applies when DST is a store, not parquet"
    assert not (tmp_path / "x.csv").exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["x.txt", "y.gr"], "cannot tell the format of SRC 'x.txt' from its name; pass --from"),
        (
            ["a.gr", "b.parquet", "--to", "excel"],
            "--to 'excel' is not a format; use one of store, parquet, ipc, ipc-stream, jsonl, csv",
        ),
        (
            ["a.gr", "b.jsonl", "--compressor", "zstd"],
            "--compressor does not apply to jsonl; name the file .gz, .zst or .bz2 to compress it",
        ),
        (
            ["a.gr", "b.gr", "--compressor", "lzma"],
            "--compressor 'lzma' is not one of default, none, zstd, blosc (for store)",
        ),
        (["a.gr", "b.gr", "--schema", "m,r"], "--schema gives levels to a file read into a store"),
        (
            ["a.gr", "b.gr", "--append", "--chunk-size", "8"],
            "--append keeps the store's own chunking, compressor and shards",
        ),
        (
            ["a.gr", "b.gr", "--batch-rows", "0"],
            "argument --batch-rows: must be at least 1, got 0 (see 'grumpy-arrow convert --help')",
        ),
        (
            ["a.gr", "b.gr", "--append", "--overwrite"],
            "argument --overwrite: not allowed with argument --append (see 'grumpy-arrow convert "
            "--help')",
        ),
    ],
    ids=[
        "unknown-extension",
        "unknown-format",
        "text-compressor",
        "bad-compressor",
        "schema-from-store",
        "append-options",
        "zero-batch",
        "append-and-overwrite",
    ],
)
def test_convert_usage_errors_exit_2(
    args: list[str],
    message: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["convert", *args]) == 2
    assert capsys.readouterr().err == f"grumpy-arrow: error: {message}\n"


def test_json_text_is_exact_and_escaped() -> None:
    floats = pa.array([0.1, 1.0, 1e300, -0.0, float("nan"), float("inf"), float("-inf"), None])
    assert to_json_text(floats, "f").to_pylist() == [
        "0.1",
        "1.0",
        "1e+300",
        "-0.0",
        "NaN",
        "Infinity",
        "-Infinity",
        "null",
    ]
    wild = pa.array(['q"b\\s', "\x01\t\n", "é", None])
    assert [json.loads(t) for t in to_json_text(wild, "s").to_pylist()] == [
        'q"b\\s',
        "\x01\t\n",
        "é",
        None,
    ]
    values = np.random.default_rng(0).normal(size=1000).astype(np.float32)
    back = from_json_text(to_json_text(pa.array(values), "v"), None, "v")
    assert back.type == pa.float64() and np.array_equal(back.to_numpy(), values.astype(float))
    nested = pa.array([[[1, None], []], None, [[2]]]).slice(1)
    assert to_json_text(nested, "n").to_pylist() == ["null", "[[2]]"]
    rows = json_lines(pa.table({"a b": [1], "s": pa.array([{"x": 1.5}])}))
    assert rows.to_pylist() == ['{"a b":1,"s":{"x":1.5}}\n']
    with pytest.raises(gr.errors.LayoutError, match="column 'b' holds binary data"):
        to_json_text(pa.array([b"x"]), "b")


# -- bench, help, version, errors -------------------------------------------------------------


def test_bench_runs_run_all_with_this_python(tmp_path: Path) -> None:
    fake = tmp_path / "benchmarks"
    fake.mkdir()
    (fake / "run_all.py").write_text(
        f"import sys\nprint('ran', sys.executable == {sys.executable!r}, sys.argv[1:])\n"
    )
    proc = _run(
        "bench", "--benchmarks-dir", str(fake), "--out", str(tmp_path / "t.md"), "--only", "compute"
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == (
        f"ran True ['--quick', '--markdown', '{tmp_path / 't.md'}', '--only', 'compute']\n"
    )
    full = _run("bench", "--full", env={"GRUMPY_BENCHMARKS_DIR": str(fake)})
    assert full.stdout == "ran True []\n"


def test_bench_without_benchmarks_exits_2(tmp_path: Path) -> None:
    message = _one_error_line(_run("bench", "--benchmarks-dir", str(tmp_path)), 2)
    assert message.startswith(
        f"no benchmarks/run_all.py in {tmp_path}: the benchmarks ship with the source checkout"
    )


def test_a_failing_benchmark_run_exits_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "run_all.py").write_text("raise SystemExit(3)\n")
    assert main(["bench", "--benchmarks-dir", str(tmp_path)]) == 1
    assert capsys.readouterr().err == "grumpy-arrow: error: the benchmarks exited with status 3\n"


def test_help_and_version() -> None:
    top = _run("--help")
    assert top.returncode == 0
    for command in ("demo", "info", "head", "validate", "convert", "bench"):
        assert f"    {command} " in top.stdout
    version = _run("--version")
    assert version.returncode == 0
    assert version.stdout.startswith(f"grumpy-arrow {gr.__version__} (pyarrow ")


def test_version_loads_no_command_module() -> None:
    """``--version`` imports the dispatcher and ``cli.common`` only: no command module, and
    neither pandas, zarr, fsspec, tqdm nor pyarrow's file formats (a fresh interpreter)."""
    code = """
import contextlib, io, sys
from grumpy_arrow.cli import main
with contextlib.redirect_stdout(io.StringIO()):
    status = main(["--version"])
watched = ("pandas", "zarr", "fsspec", "tqdm", "pyarrow.parquet", "pyarrow.json",
           "pyarrow.csv", "grumpy_arrow.cli", "grumpy_arrow.savers", "grumpy_arrow.storage")
print(status, sorted(m for m in sys.modules if m.startswith(tuple(w + "." for w in watched))
                     or m in watched))
"""
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    assert proc.stdout == "0 ['grumpy_arrow.cli', 'grumpy_arrow.cli.common']\n"


def test_every_command_runs_through_the_commands_table() -> None:
    parser = build_parser()
    commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    names = ["bench", "convert", "demo", "head", "info", "upgrade", "validate"]
    assert sorted(commands.choices) == sorted(cli._COMMANDS) == names
    assert [cli._load(cli._COMMANDS[name]).__name__ for name in names] == [
        f"{name}_command" for name in names
    ]


def test_demo_builders_are_exported_on_first_use() -> None:
    import grumpy_arrow.cli.demo as demo

    assert (cli.build_demo_arrays, cli.build_demo_frame, cli.run_demo) == (
        demo.build_demo_arrays,
        demo.build_demo_frame,
        demo.run_demo,
    )
    assert {"build_demo_arrays", "build_demo_frame", "run_demo"} <= set(dir(cli))
    with pytest.raises(AttributeError) as info:
        _ = cli.no_such_name
    assert str(info.value) == "module 'grumpy_arrow.cli' has no attribute 'no_such_name'"


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_without_tqdm(
    store: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without tqdm the default (a bar when stderr is a terminal) shows none; --progress
    fails with one line naming the extra, and leaves no output."""
    monkeypatch.setitem(sys.modules, "tqdm", None)  # `import tqdm` raises ImportError
    with monkeypatch.context() as terminal:
        terminal.setattr(sys, "stderr", _Terminal())
        assert _progress_bar(None, 10, "x.parquet") is None
        assert _progress_bar(False, 10, "x.parquet") is None
    assert main(["convert", str(store), str(tmp_path / "x.parquet"), "--progress"]) == 1
    assert capsys.readouterr().err == (
        "grumpy-arrow: error: --progress needs tqdm: pip install 'grumpy_arrow[progress]' "
        "(or pip install tqdm)\n"
    )
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("command", ["demo", "info", "head", "validate", "convert", "bench"])
def test_every_command_has_help(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main([command, "--help"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"usage: grumpy-arrow {command} ")
    assert "--debug" in out


def test_usage_errors_exit_2_with_one_line() -> None:
    assert _one_error_line(_run(), 2) == (
        "the following arguments are required: COMMAND (see 'grumpy-arrow --help')"
    )
    assert _one_error_line(_run("demo", "--rows", "0"), 2) == (
        "argument --rows: must be at least 1, got 0 (see 'grumpy-arrow demo --help')"
    )


def test_debug_shows_the_traceback(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    proc = _run("head", str(tmp_path / "missing"), "--debug")
    assert proc.returncode == 1
    assert proc.stderr.startswith("Traceback (most recent call last):")
    assert "StoreFormatError" in proc.stderr.splitlines()[-1]
    monkeypatch.setenv("GRUMPY_DEBUG", "1")
    with pytest.raises(gr.errors.StoreFormatError, match="not a grumpy_arrow store"):
        main(["info", str(tmp_path / "missing")])


def test_ctrl_c_exits_130_with_one_line() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "grumpy_arrow", "demo", "--rows", "30000"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "GRUMPY_DEBUG": ""},
    )
    assert proc.stdout is not None
    assert proc.stdout.readline().startswith("grumpy-arrow demo: 30000 molecules")
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert (proc.returncode, err) == (130, "grumpy-arrow: interrupted\n")
