"""Issue 12: tensors that wrote through, nulls lost on assignment, bytes taken as text,
NumPy scalar mixes and deep JSON that crashed the process.

- ``to_torch`` copies by default (frames, arrays, padded, plain, jagged, unions, streams);
  ``copy=False`` shares the Arrow buffers and says so; ``to_numpy`` stays read-only;
- flat values assigned through a level view keep null parents, and ``df.shape`` agrees
  with ``df[col].shape``;
- ``gr.array`` refuses bytes among text (unless ``dtype=gr.binary``) and values of no
  supported kind before pyarrow sees them;
- ``grumpy-arrow convert`` refuses JSON nested deeper than 1,000 levels, naming file and line.

Anything that could crash the interpreter runs in a child process, and the tests assert
that the child was not killed by a signal. (Lazy-handle keys: tests/test_handle_keys.py.)
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import grumpy_arrow as gr
from grumpy_arrow.cli.jsontext import MAX_JSON_DEPTH, DepthScanner, JSONDepthError


def run_child(code: str, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """Run Python ``code`` in a child process; fail if a signal killed it (a crash)."""
    proc = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code), *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=300,
    )
    assert proc.returncode >= 0, f"killed by signal {-proc.returncode}: {proc.stderr[-2000:]}"
    return proc


# -- 1. to_torch copies by default ---------------------------------------------------------


@pytest.fixture
def torch() -> Any:
    return pytest.importorskip("torch")


def frame() -> gr.DataFrame:
    return gr.dataframe(
        {
            "molecule_w": [1.0, 2.0, 3.0],
            "molecule_tag": [7, [8, 9], 10],
            "atom_x": [[1.0, 2.0], [3.0], [4.0, 5.0]],
        },
        schema=["molecule", "atom"],
    )


SOURCE = frame().to_dict()


def write_into(out: Any) -> None:
    """Write in place into every tensor of a ``to_torch`` result (numbers - 1, masks
    negated, jagged offsets + 1)."""
    if isinstance(out, dict):
        for value in out.values():
            write_into(value)
    elif isinstance(out, tuple):
        for value in out:
            write_into(value)
    elif out.is_nested:
        out.values().sub_(1)
        out.offsets().add_(1)  # the offsets of a jagged tensor are memory too
    elif str(out.dtype) == "torch.bool":
        out.logical_not_()
    else:
        out.sub_(1)


@pytest.mark.torch
@pytest.mark.parametrize(
    ("column", "layout"),
    [
        ("molecule_w", "padded"),
        ("atom_x", "padded"),
        ("atom_x", "jagged"),
        ("molecule_tag", "padded"),
        (None, "padded"),
        (None, "jagged_atoms"),
    ],
    ids=["plain", "padded", "jagged", "union", "frame", "frame-jagged"],
)
def test_writing_into_a_tensor_leaves_the_frame_unchanged(
    torch: Any, column: str | None, layout: str
) -> None:
    df = frame()
    if column is None and layout == "jagged_atoms":
        out = df[["atom_x"]].to_torch(layout="jagged")
    elif column is None:
        out = df.to_torch(pad=0)
    else:
        out = df[column].to_torch(pad=0, layout=layout)
    write_into(out)
    assert df.to_dict() == SOURCE


@pytest.mark.torch
def test_plain_and_jagged_tensors_own_their_memory(torch: Any) -> None:
    x = gr.array(pa.array(np.arange(4, dtype=np.int64)))
    t = x.to_torch()
    assert t.data_ptr() != x.to_arrow().buffers()[1].address
    t += 10
    assert t.tolist() == [10, 11, 12, 13]
    assert x.to_list() == [0, 1, 2, 3]
    ragged = gr.array([[1.0, 2.0], [], [3.0]])
    nt = ragged.to_torch(layout="jagged")
    assert nt.values().data_ptr() != ragged.to_arrow().values.buffers()[1].address
    nt.values().mul_(0)
    assert ragged.to_list() == [[1.0, 2.0], [], [3.0]]


@pytest.mark.torch
def test_copy_false_shares_the_arrow_buffers_and_writes_through(torch: Any) -> None:
    values = pa.array(np.arange(4, dtype=np.float64))
    x = gr.array(values)
    t = x.to_torch(copy=False)
    assert t.data_ptr() == values.buffers()[1].address
    t -= 1  # what the docstring warns about: the array changes
    assert x.to_list() == [-1.0, 0.0, 1.0, 2.0]
    ragged = gr.array([[1, 2], [3]])
    arrow = ragged.to_arrow()
    nt = ragged.to_torch(layout="jagged", copy=False)
    assert nt.values().data_ptr() == arrow.values.buffers()[1].address
    assert nt.offsets().data_ptr() == arrow.offsets.buffers()[1].address
    df = frame()
    shared = df.to_torch(copy=False)
    assert shared["molecule_w"].data_ptr() == df["molecule_w"].to_arrow().buffers()[1].address


@pytest.mark.torch
def test_copy_must_be_a_bool(torch: Any) -> None:
    with pytest.raises(TypeError, match=r"to_torch\(copy=...\) takes True or False, got 'no'"):
        gr.array([1.0]).to_torch(copy="no")  # type: ignore[arg-type]


@pytest.mark.torch
def test_an_in_memory_stream_gives_every_epoch_the_same_data(torch: Any, tmp_path: Path) -> None:
    gr.save(frame(), tmp_path / "s.gr")
    st = gr.stream(tmp_path / "s.gr", batch_size=2, in_memory=True)
    epochs = []
    for epoch in range(3):
        st.set_epoch(epoch)
        seen = []
        for batch in st.apply(lambda b: b.to_torch(pad=0)):
            seen.append(batch["molecule_w"].tolist())
            write_into(batch)  # an in-place step on the batch's tensors
        epochs.append(seen)
    assert epochs == [[[1.0, 2.0], [3.0]]] * 3


@pytest.mark.torch
def test_the_torch_dataset_transform_copies(torch: Any, tmp_path: Path) -> None:
    gr.save(frame(), tmp_path / "s.gr")
    st = gr.stream(tmp_path / "s.gr", batch_size=3, in_memory=True)
    ds = gr.torch.IterableDataset(st, transform=lambda b: b["atom_x"].to_torch(layout="jagged"))
    for _ in range(2):
        (nt,) = list(ds)
        assert nt.values().tolist() == [1.0, 2.0, 3.0, 4.0, 5.0]
        nt.values().mul_(-1)


def test_to_numpy_stays_read_only() -> None:
    x = gr.array([1.0, 2.0, 3.0])
    view = x.to_numpy()
    assert view.flags.writeable is False
    with pytest.raises(ValueError, match="read-only"):
        view[0] = 5.0
    assert x.to_list() == [1.0, 2.0, 3.0]


# -- 2. nulls survive assignment through a level view -------------------------------------


def test_flat_values_keep_null_molecules() -> None:
    df = gr.dataframe(
        {"molecule_id": [1, 2, 3], "atom_x": [[1.0, 2.0], None, [3.0]]},
        schema=["molecule", "atom"],
    )
    df.atom.atom_y = [10.0, 20.0, 30.0]
    assert df["atom_y"].to_list() == [[10.0, 20.0], None, [30.0]]
    nested = df.to_dict()
    df["atom_z"] = [[10.0, 20.0], None, [30.0]]  # the nested form, for comparison
    assert df["atom_z"].to_list() == nested["atom_y"]
    df.atom.atom_x = df.atom.atom_x * 2  # replacing the column that carries the nulls
    assert df["atom_x"].to_list() == [[2.0, 4.0], None, [6.0]]


def test_shape_agrees_with_the_columns_shape() -> None:
    df = gr.dataframe(
        {"molecule_id": [1, 2, 3], "atom_x": [[1.0, 2.0], None, [3.0]]},
        schema=["molecule", "atom"],
    )
    assert df.shape("atom").to_list() == [2, None, 1]
    assert df["atom_x"].shape(1).to_list() == [2, None, 1]
    assert df.count("atom") == 3


def test_nulls_at_every_level_of_a_deeper_frame() -> None:
    df = gr.dataframe(
        {
            "residue_n": [[1, 2], None, [3]],
            "atom_x": [[[1.0], [2.0, 3.0]], None, [None]],
        },
        schema=["molecule", "residue", "atom"],
    )
    assert df.shape("residue").to_list() == [2, None, 1]
    assert df.shape("atom").to_list() == [[1, 2], None, [None]]
    assert df["atom_x"].shape(2).to_list() == [[1, 2], None, [None]]
    df.atom.atom_y = [7, 8, 9]
    assert df["atom_y"].to_list() == [[[7], [8, 9]], None, [None]]
    df.residue.residue_m = [4, 5, 6]
    assert df["residue_m"].to_list() == [[4, 5], None, [6]]


def test_a_parent_is_null_only_where_every_column_is_null() -> None:
    df = gr.dataframe(
        {"atom_x": [[1.0], None, None], "atom_q": [[1.0], [], None]},
        schema=["molecule", "atom"],
    )
    assert df.shape("atom").to_list() == [1, 0, None]
    df.atom.atom_y = [5.0]
    assert df["atom_y"].to_list() == [[5.0], [], None]


# -- 4. and 5. gr.array checks value types before pyarrow sees them -----------------------


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ([["a", b"b"]], "cannot mix strings with b'b' at position [0][1]"),
        (["a", b"b"], "cannot mix strings with b'b' at position [1]"),
        ([[b"b", "a"]], "cannot mix bytes with 'a' at position [0][1]"),
        (["a", [b"\xff"]], "cannot mix strings with b'\\xff' at position [1][0]"),
    ],
    ids=["nested", "flat", "bytes-first", "union"],
)
def test_bytes_do_not_mix_with_text(value: list[Any], message: str) -> None:
    with pytest.raises(gr.DTypeError) as info:
        gr.array(value)
    assert str(info.value) == (
        f"{message}; all values of an array share one dtype; pass dtype=gr.binary to store "
        "text as bytes"
    )


def test_bytes_are_refused_by_a_string_dtype() -> None:
    with pytest.raises(gr.DTypeError) as info:
        gr.array([["a", b"b"]], dtype=gr.string)
    assert str(info.value) == (
        "cannot put bytes b'b' at position [0][1] into a string array: expected str; decode "
        "the bytes first, or pass dtype=gr.binary"
    )


def test_a_binary_dtype_takes_text_and_bytes() -> None:
    x = gr.array([["a", b"b"], [b"\xff"]], dtype=gr.binary)
    assert x.type == "2 * var * binary"
    assert x.to_list() == [[b"a", b"b"], [b"\xff"]]
    x.to_arrow().validate(full=True)
    assert gr.array(["é", "b"]).to_arrow().to_pylist() == ["é", "b"]


def test_a_datetime_among_numpy_scalars_is_a_clear_error() -> None:
    proc = run_child(
        """
        import numpy as np, grumpy_arrow as gr
        for dtype in (None, gr.int64, gr.float64):
            try:
                gr.array([np.datetime64("2020-01-01"), np.int64(3)], dtype=dtype)
            except gr.DTypeError as err:
                print(err)
        """
    )
    assert proc.returncode == 0, proc.stderr
    message = (
        "unsupported value np.datetime64('2020-01-01') of type datetime64 at position [0]; "
        "expected bool, int, float, str or bytes"
    )
    assert proc.stdout.splitlines() == [message] * 3


def test_numpy_scalar_mixes_never_crash() -> None:
    """Every pair of these values (flat, nested, after a Python int, as a union), with
    and without dtypes: a GrumpyError or a valid array, never a crash."""
    proc = run_child(
        """
        import datetime, decimal, itertools, numpy as np, grumpy_arrow as gr
        values = [np.datetime64("2020-01-01"), np.datetime64("NaT"), np.timedelta64(3, "s"),
                  np.int64(3), np.int8(1), np.uint64(2**63), np.float32(1.5), np.bool_(True),
                  np.str_("a"), np.bytes_(b"a"), np.complex128(1), np.void(b"ab"), 3, 1.5,
                  "a", b"a", True, decimal.Decimal(1), datetime.date(2020, 1, 1)]
        built = refused = 0
        for a, b in itertools.product(values, repeat=2):
            for data in ([a, b], [[a, b]], [1, a, b], [[a], b]):
                for dtype in (None, gr.int64, gr.float64, gr.string, gr.binary, gr.bool_):
                    try:
                        gr.array(data, dtype=dtype).to_arrow().validate(full=True)
                        built += 1
                    except gr.GrumpyError:
                        refused += 1
        print(built, refused)
        """
    )
    assert proc.returncode == 0, proc.stderr
    built, refused = map(int, proc.stdout.split())
    assert built + refused == 19 * 19 * 4 * 6
    assert built > 0 and refused > 0


# -- 6. convert refuses JSON nested deeper than 1,000 levels ----------------------------------


def deep(depth: int) -> str:
    return "[" * depth + "1" + "]" * depth


def convert(tmp_path: Path, src: str, *extra: str) -> subprocess.CompletedProcess[str]:
    return run_child(
        "import sys; from grumpy_arrow.cli import main; sys.exit(main(sys.argv[1:]))",
        "convert",
        src,
        "out.parquet",
        *extra,
        cwd=tmp_path,
    )


def test_a_deep_jsonl_line_is_refused_with_its_file_and_line(tmp_path: Path) -> None:
    lines = ['{"a": [[1]]}'] * 2 + ['{"a": ' + deep(100_000) + "}", '{"a": [[2]]}']
    (tmp_path / "deep.jsonl").write_text("\n".join(lines) + "\n")
    proc = convert(tmp_path, "deep.jsonl")
    assert proc.returncode == 1
    assert proc.stderr == (
        "grumpy-arrow: error: deep.jsonl: line 3: JSON nested deeper than 1000 arrays/objects; "
        "at most 1000 are read (deeper text would overflow the JSON parser)\n"
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["deep.jsonl"]


def test_a_deep_csv_cell_is_refused_with_its_file_and_line(tmp_path: Path) -> None:
    rows = ['"[[1, 2]]"', '"' + deep(100_000) + '"']
    (tmp_path / "deep.csv").write_text("a\n" + "\n".join(rows) + "\n")
    proc = convert(tmp_path, "deep.csv", "--nested-as-json")
    assert proc.returncode == 1
    assert proc.stderr == (
        "grumpy-arrow: error: deep.csv: line 3, column 'a': JSON nested deeper than 1000 "
        "arrays/objects; at most 1000 are read (deeper text would overflow the JSON parser)\n"
    )


def test_jsonl_within_the_limit_still_converts(tmp_path: Path) -> None:
    (tmp_path / "ok.jsonl").write_text(
        "\n".join(json.dumps({"a": [[i, i + 1]], "s": "[[[[" * 400}) for i in range(3)) + "\n"
    )
    proc = convert(tmp_path, "ok.jsonl")
    assert proc.returncode == 0, proc.stderr
    table = pq.read_table(tmp_path / "out.parquet")
    assert table.column("a").to_pylist() == [[[0, 1]], [[1, 2]], [[2, 3]]]
    assert table.column("s").to_pylist() == ["[[[[" * 400] * 3


@pytest.mark.parametrize(
    ("text", "line"),
    [
        ("[" * MAX_JSON_DEPTH + "]" * MAX_JSON_DEPTH, None),
        ("[" * (MAX_JSON_DEPTH + 1), 1),
        ('{"s": "' + "[" * 2000 + '"}\n' + "{" * 1001, 2),
        ('{"s": "\\"' + "[" * 2000 + '"}', None),  # an escaped quote stays in the string
        ('{"s": "\\\\"' + "[" * 1001, 1),  # an escaped backslash ends it
        ("[" * 999 + "]" * 999 + "[" * 999 + "\n" + "[" * 1000, None),
    ],
    ids=[
        "at-the-limit",
        "one-over",
        "brackets-in-a-string",
        "escaped-quote",
        "escaped-backslash",
        "lines-reset",
    ],
)
def test_the_depth_scanner_counts_brackets_outside_strings(text: str, line: int | None) -> None:
    data = text.encode()
    for size in (len(data) or 1, 7, 1):  # whole, and cut into pieces anywhere
        scanner = DepthScanner(lambda n: f"f.jsonl: line {n}")
        if line is None:
            for i in range(0, len(data), size):
                scanner.feed(data[i : i + size])
            continue
        with pytest.raises(JSONDepthError, match=f"^f.jsonl: line {line}: JSON nested deeper"):
            for i in range(0, len(data), size):
                scanner.feed(data[i : i + size])
