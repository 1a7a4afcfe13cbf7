"""Write the golden version-1 stores in ``tests/data/golden_v1/`` and their ``expected.json``.

These files were written ONCE, by grumpy_arrow 0.1.0 at commit
2ef0bccc47a8eb79b68ea05a1780725fb6ae6b1c (store format version 1), from a worktree of that
commit::

    git worktree add /tmp/v1tree 2ef0bccc47a8eb79b68ea05a1780725fb6ae6b1c
    PYTHONPATH=/tmp/v1tree .venv/bin/python tests/data/make_golden_v1.py

DO NOT RERUN THIS SCRIPT WITH NEWER CODE. The stores and ``expected.json`` record what the
version-1 writer wrote and what the version-1 reader loaded from it; ``tests/test_format_v1.py``
checks that later code still reads them exactly. Regenerating them with a later writer would
make that test check the new format against itself. The script refuses to run unless the
imported grumpy_arrow is that commit, unmodified, and ``golden_v1/`` does not exist yet.

The stores (small ``chunk_size`` values, so each leaf has several chunk files):

- ``frame.gr``: a molecule -> residue(group) -> atom frame, 14 rows: int64, float32 and
  string columns (nulls included), a scalar-or-list (union) column at the molecule and at
  the atom level, a list per atom (feature axis), molecules without residues.
- ``array.gr``: a ragged float64 array, nulls at three depths.
- ``union.gr``: a scalar-or-list string array (a union at the root).
- ``zstd.gr``, ``blosc.gr``: the first 8 molecules of the frame (5 of its columns, a union
  at each of two levels among them), compressed.
- ``appended.gr``: a molecule -> atom frame written by ``gr.save`` then two ``gr.append``
  (the first batch has no nulls: the appends create validity leaves).
- ``sharded.gr``: a sharded dataset, ``gr.save(..., shard_rows=4)`` of the first 10
  molecules (3 columns): shards of 4, 4 and 2 rows and a top-level manifest.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np

import grumpy_arrow as gr

COMMIT = "2ef0bccc47a8eb79b68ea05a1780725fb6ae6b1c"
PACKAGE_VERSION = "0.1.0"
FORMAT_VERSION = 1
OUT = Path(__file__).resolve().parent / "golden_v1"
SCHEMA = ["molecule", ("residue", "group"), "atom"]
RESIDUES = ["ALA", "GLY", "SER", "MET", "LYS"]


def check_writer() -> None:
    """Refuse to run with anything but the version-1 code of ``COMMIT``."""
    from grumpy_arrow.storage.manifest import VERSION

    package = Path(gr.__file__).resolve().parent
    if gr.__version__ != PACKAGE_VERSION or VERSION != FORMAT_VERSION:
        sys.exit(f"grumpy_arrow {gr.__version__} writes format {VERSION}: not the v1 writer")
    head = subprocess.run(
        ["git", "-C", str(package), "rev-parse", "HEAD"], capture_output=True, text=True, check=True
    ).stdout.strip()
    dirty = subprocess.run(
        ["git", "-C", str(package), "status", "--porcelain", "--", "."],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    if head != COMMIT or dirty:
        sys.exit(f"{package} is at {head} (modified: {bool(dirty)}), not a clean {COMMIT}")
    if OUT.exists():
        sys.exit(f"{OUT} exists: the golden stores are written once and never regenerated")


def molecule_frame(n: int) -> gr.DataFrame:
    """``n`` molecules (n <= 14) with every column kind the golden frames hold."""
    ids: list[int] = []
    scores: list[float | None] = []
    names: list[str | None] = []
    tags: list[Any] = []
    res_name: list[Any] = []
    res_weight: list[Any] = []
    atom_number: list[Any] = []
    atom_x: list[Any] = []
    atom_xyz: list[Any] = []
    atom_alt: list[Any] = []
    r = a = 0  # global residue and atom counters
    for i in range(n):
        ids.append(2**62 + 3 if i == 13 else -(2**40) if i == 6 else 1000 + 7 * i)
        scores.append(None if i % 5 == 3 else i * 0.1 + 0.05)
        names.append({4: None, 7: "", 9: "ünïcödé"}.get(i, f"mol-{i}"))
        if i == 8:
            tags.append(None)
        elif i == 11:
            tags.append([])
        elif i % 3 == 0:
            tags.append(f"GO:{i:07d}")
        else:
            tags.append([f"GO:{i + k:07d}" for k in range(i % 3)])
        mol_names, mol_weights = [], []
        mol_number, mol_x, mol_xyz, mol_alt = [], [], [], []
        for _ in range((i * 5 + 2) % 4):
            mol_names.append(None if r == 6 else RESIDUES[r % 5])
            mol_weights.append(None if r == 10 else 100.0 + r * 1.25)
            numbers, xs, xyz, alt = [], [], [], []
            for _ in range((r * 3 + 1) % 4):
                numbers.append(a + 1)
                xs.append(None if a % 11 == 5 else a * 0.3 - 1.7)
                xyz.append(None if a == 7 else [] if a == 12 else [a, a + 0.5, -a / 3])
                alt.append(None if a % 9 == 4 else [a, a + 1] if a % 4 == 0 else a)
                a += 1
            mol_number.append(numbers)
            mol_x.append(xs)
            mol_xyz.append(xyz)
            mol_alt.append(alt)
            r += 1
        res_name.append(mol_names)
        res_weight.append(mol_weights)
        atom_number.append(mol_number)
        atom_x.append(mol_x)
        atom_xyz.append(mol_xyz)
        atom_alt.append(mol_alt)
    return gr.dataframe(
        {
            "molecule_id": gr.array(ids, dtype=gr.int64),
            "molecule_score": gr.array(scores, dtype=gr.float32),
            "molecule_name": gr.array(names, dtype=gr.string),
            "molecule_tag": tags,
            "residue_name": gr.array(res_name, dtype=gr.string),
            "group_weight": gr.array(res_weight, dtype=gr.float64),
            "atom_number": gr.array(atom_number, dtype=gr.int64),
            "atom_x": gr.array(atom_x, dtype=gr.float32),
            "atom_xyz": gr.array(atom_xyz, dtype=gr.float64),
            "atom_alt": atom_alt,
        },
        schema=SCHEMA,
    )


def appended_batches() -> list[gr.DataFrame]:
    """Three molecule -> atom batches; only the later two hold nulls."""
    schema = ["molecule", "atom"]
    first = gr.dataframe(
        {
            "molecule_id": gr.array([1, 2, 3], dtype=gr.int64),
            "molecule_name": ["a", "bb", "ccc"],
            "molecule_tag": [5, [6, 7], 8],
            "atom_x": gr.array([[0.5, 1.5], [], [2.5, 3.5, 4.5]], dtype=gr.float32),
        },
        schema=schema,
    )
    second = gr.dataframe(
        {
            "molecule_id": gr.array([4, 5], dtype=gr.int64),
            "molecule_name": [None, "eeeee"],
            "molecule_tag": gr.array([None, []], dtype=gr.int64),
            "atom_x": gr.array([[None, 0.1], [0.2, 0.3, 0.4, 0.5, 0.6]], dtype=gr.float32),
        },
        schema=schema,
    )
    third = gr.dataframe(
        {
            "molecule_id": gr.array([6, 7, 8], dtype=gr.int64),
            "molecule_name": ["f", "", "h"],
            "molecule_tag": [[9], 10, [11, None, 12]],
            "atom_x": gr.array([[7.25], [1e-3, None], []], dtype=gr.float32),
        },
        schema=schema,
    )
    return [first, second, third]


def write_stores() -> dict[str, dict[str, Any]]:
    """Write every store; ``{name: what went in}`` (the in-memory objects and options)."""
    frame = molecule_frame(14)
    # Fewer columns in the other frames keep the folder small (every leaf is 2 folders and
    # 2 or more files).
    small = frame[0:8][["molecule_name", "molecule_tag", "group_weight", "atom_x", "atom_alt"]]
    sharded = frame[0:10][["molecule_id", "molecule_tag", "atom_x"]]
    array = gr.array(
        [[[1.5, None], None], [], None, [[3.0], []], [[None, -0.25, 2.25]], [[1e300]]],
        dtype=gr.float64,
    )
    union = gr.array(
        ["P12345", ["P12345-1", "P12345-2"], None, [], "Q9", [None, ""]], dtype=gr.string
    )
    batches = appended_batches()
    OUT.mkdir(parents=True)
    gr.save(frame, OUT / "frame.gr", chunk_size=8)
    gr.save(array, OUT / "array.gr", chunk_size=4)
    gr.save(union, OUT / "union.gr", chunk_size=4)
    gr.save(small, OUT / "zstd.gr", chunk_size=8, compressor="zstd")
    gr.save(small, OUT / "blosc.gr", chunk_size=8, compressor="blosc")
    gr.save(batches[0], OUT / "appended.gr", chunk_size=4)
    gr.append(batches[1], OUT / "appended.gr")
    gr.append(batches[2], OUT / "appended.gr")
    gr.save(sharded, OUT / "sharded.gr", shard_rows=4, chunk_size=8)
    return {
        "frame.gr": {"source": frame},
        "array.gr": {"source": array},
        "union.gr": {"source": union},
        "zstd.gr": {"source": small},
        "blosc.gr": {"source": small},
        "appended.gr": {"source": gr.concat(batches), "batches": [len(b) for b in batches]},
        "sharded.gr": {"source": sharded},
    }


def describe(name: str, written: dict[str, Any]) -> dict[str, Any]:
    """What the v1 reader gives for one store, as plain JSON values."""
    path = OUT / name
    loaded = gr.load(path)
    source = written["source"]
    problems = gr.validate(path)
    assert problems == [], problems
    doc = json.loads((path / "grumpy.json").read_text())
    out: dict[str, Any] = {"rows": len(loaded)}
    if doc["kind"] == "sharded":
        shard_doc = json.loads((path / doc["shards"][0]["name"] / "grumpy.json").read_text())
        out["manifest"] = {
            "version": doc["version"],
            "kind": doc["kind"],
            "shard_rows": doc["shard_rows"],
            "shards": [[s["name"], s["rows"]] for s in doc["shards"]],
            "compressor": shard_doc["compressor"],
            "chunk_size": shard_doc["chunking"]["chunk_size"],
        }
    else:
        out["manifest"] = {
            "version": doc["version"],
            "kind": doc["kind"],
            "compressor": doc["compressor"],
            "chunk_size": doc["chunking"]["chunk_size"],
        }
    if "batches" in written:
        out["batches"] = written["batches"]
    if isinstance(loaded, gr.DataFrame):
        assert loaded.schema is not None
        out["kind"] = "dataframe"
        out["schema"] = loaded.schema.to_json()
        out["columns"] = list(loaded.columns)
        out["levels"] = {c: loaded.level_of(c) for c in loaded.columns}
        out["dtypes"] = {c: str(loaded[c].dtype) for c in loaded.columns}
        out["types"] = {c: loaded[c].type for c in loaded.columns}
        out["unions"] = [c for c in loaded.columns if loaded[c].is_union]
        out["null_counts"] = {c: loaded[c].null_count for c in loaded.columns}
        out["shapes"] = {lv: loaded.shape(lv).to_list() for lv in loaded.schema.names[1:]}
        out["values"] = loaded.to_dict()
        assert out["values"] == source.to_dict(), name
        assert [str(source[c].dtype) for c in source.columns] == list(out["dtypes"].values())
    else:
        out["kind"] = "array"
        out["dtype"] = str(loaded.dtype)
        out["type"] = loaded.type
        out["is_union"] = loaded.is_union
        out["null_count"] = loaded.null_count
        out["values"] = loaded.to_list()
        assert out["values"] == source.to_list() and loaded.dtype == source.dtype, name
    return out


def floats(value: Any) -> list[float]:
    """Every float in nested lists and dicts."""
    if isinstance(value, list):
        return [f for v in value for f in floats(v)]
    if isinstance(value, dict):
        return [f for v in value.values() for f in floats(v)]
    return [value] if isinstance(value, float) else []


def check_floats(store: dict[str, Any]) -> None:
    """Every float survives JSON exactly, and float32 columns hold exact float32 values."""
    for value in floats(store):
        assert np.isfinite(value) and json.loads(json.dumps(value)) == value, value
    for column, dtype in store.get("dtypes", {}).items():
        if dtype == "float32":
            for value in floats(store["values"][column]):
                assert float(np.float32(value)) == value, (column, value)


def check_no_paths() -> None:
    """No file of the stores names where they were written."""
    needles = [os.fsencode(OUT), b"/tmp/", b"/work/", b"/home/"]
    for file in OUT.rglob("*"):
        if file.is_file():
            data = file.read_bytes()
            for needle in needles:
                assert needle not in data, (file, needle)


def main() -> None:
    check_writer()
    written = write_stores()
    stores = {name: describe(name, w) for name, w in written.items()}
    for store in stores.values():
        check_floats(store)
    expected = {
        "grumpy_arrow": PACKAGE_VERSION,
        "commit": COMMIT,
        "format_version": FORMAT_VERSION,
        "stores": stores,
    }
    text = json.dumps(expected, indent=1, ensure_ascii=False) + "\n"
    assert json.loads(text) == expected
    (OUT / "expected.json").write_text(text, encoding="utf-8")
    check_no_paths()
    print(f"wrote {len(stores)} stores and expected.json to {OUT} with {gr.__file__}")


if __name__ == "__main__":
    main()
