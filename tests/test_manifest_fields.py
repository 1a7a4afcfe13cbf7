"""Every field of ``grumpy.json`` is parsed with its type and bounds (issue 12).

The matrix takes real stores — an array of scalar-or-list strings with nulls, an array of
int lists with nulls, a frame with levels, and a sharded dataset (its top-level manifest
and a shard's) — sets one manifest field at a time to a hostile value (a wrong type,
-1, 2**62, missing, null, 5,000 levels of nested JSON) and checks that ``gr.open(...)
.load()``, ``gr.load`` and the CLI's ``validate`` each fail with a ``StoreFormatError``
naming the store and the field, and that ``gr.validate`` lists the problem — never
another exception type, a hang or a signal. Every case runs in one worker subprocess
with a timeout; a case that hangs or kills the worker is reported by name.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import grumpy_arrow as gr
from grumpy_arrow.errors import StoreFormatError
from grumpy_arrow.storage.manifest import MAX_DEPTH, MAX_LENGTH, parse_manifest

MANIFEST = "grumpy.json"
DEEP = "@@deep@@"  # replaced by 5,000 nested JSON lists in the manifest text
MISSING = object()
WRONG_TYPE = object()  # 7 where a string belongs, "7" anywhere else
HOSTILE: dict[str, Any] = {
    "wrong_type": WRONG_TYPE,
    "negative": -1,
    "huge": 2**62,
    "missing": MISSING,
    "null": None,
    "deep": DEEP,
}
STORES = ("strings", "lists", "frame", "sharded", "shard")

Path_ = tuple[str | int, ...]


def _strings() -> gr.GrumpyArray:
    return gr.array(["P1", ["a", "bc"], None, "xyz", []], dtype=gr.string)


def _lists() -> gr.GrumpyArray:
    return gr.array([[1, None, 3], None, [], [4]])


def _frame() -> gr.DataFrame:
    return gr.dataframe(
        {
            "molecule_id": gr.array([1, 2, 3], dtype=gr.int32),
            "molecule_name": ["water", None, "ünï"],
            "residue_x": [[1.5, None], [], [2.5]],
            "residue_tag": [[1, [2, 3]], [], [None]],
        },
        schema=["molecule", "residue"],
    )


def _fields(doc: Any, path: Path_ = ()) -> Iterator[Path_]:
    """Every field path of a JSON document (objects and lists included)."""
    if isinstance(doc, dict):
        for key, value in doc.items():
            yield (*path, key)
            yield from _fields(value, (*path, key))
    elif isinstance(doc, list):
        for i, value in enumerate(doc):
            yield (*path, i)
            yield from _fields(value, (*path, i))


def _label(path: Path_) -> str:
    """A field path as the parser names it: ``columns[0].layout.scalar``."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else f".{part}" if out else str(part)
    return out


def _get(doc: Any, path: Path_) -> Any:
    for part in path:
        doc = doc[part]
    return doc


def _set(doc: Any, path: Path_, value: Any) -> None:
    parent = _get(doc, path[:-1])
    if value is MISSING:
        del parent[path[-1]]
    else:
        parent[path[-1]] = value


# Fields a manifest may omit or set to null (so those mutations are not hostile), by the
# label they have in any store, plus validity leaves (absent: every row is valid).
OPTIONAL = {"creator", "attrs", "shard_rows", "attrs.shard_rows"}
NULLABLE = {"schema", "chunking.chunk_dim", "shard_rows"}
# Null in a version-2 manifest only (inner chunks sized by bytes); a version-1 manifest
# must give an int (checked one by one below).
NULLABLE_V2 = {"chunking.chunk_size"}


def _benign(doc: dict[str, Any], path: Path_, hostile: str) -> bool:
    label, original = _label(path), _get(doc, path)
    if hostile == "missing":
        return (
            label in OPTIONAL
            or path[-1] == "arrow"
            or (path[0] == "leaves" and len(path) == 2 and str(path[1]).endswith("-validity"))
        )
    if hostile == "null":
        return (
            original is None
            or (label in NULLABLE and doc.get("kind") != "dataframe")
            or (label in NULLABLE_V2 and doc.get("version") == 2)
        )
    return False


def _cases(name: str, doc: dict[str, Any]) -> list[tuple[str, Path_, str, str]]:
    """``(case id, path, hostile, manifest text)`` of every hostile single-field edit."""
    out = []
    for path in _fields(doc):
        for hostile, value in HOSTILE.items():
            if _benign(doc, path, hostile) or (hostile == "deep" and len(path) > 1):
                continue  # (JSON nested too deeply fails the same way at any depth)
            if value is WRONG_TYPE:
                value = 7 if isinstance(_get(doc, path), str) else "7"
            edited = json.loads(json.dumps(doc))
            _set(edited, path, value)
            text = json.dumps(edited).replace(f'"{DEEP}"', "[" * 5000 + "]" * 5000)
            out.append((f"{name}:{_label(path)}:{hostile}", path, hostile, text))
    return out


WORKER = textwrap.dedent(
    """
    import contextlib, io, json, os, sys, traceback
    import grumpy_arrow as gr
    from grumpy_arrow.cli import main
    from grumpy_arrow.errors import StoreFormatError

    def outcome(call):
        try:
            call()
        except StoreFormatError as err:
            return ["StoreFormatError", str(err)]
        except BaseException as err:
            return [type(err).__name__, "".join(traceback.format_exception(err))[-3000:]]
        return ["ok", ""]

    def validate(store):
        problems = gr.validate(store)
        if not problems or not all(isinstance(p, str) for p in problems):
            raise AssertionError(f"gr.validate returned {problems!r}")
        raise StoreFormatError("\\n".join(problems))

    def cli(store):
        err, out = io.StringIO(), io.StringIO()
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(out):
            status = main(["validate", store])
        if status != 1 or "Traceback" in err.getvalue():
            raise AssertionError(f"status {status}: {err.getvalue()}")
        raise StoreFormatError(err.getvalue())

    root = sys.argv[1]
    for line in sys.stdin:
        case = json.loads(line)
        print(json.dumps({"start": case["id"]}), flush=True)
        manifest, store = os.path.join(root, case["manifest"]), os.path.join(root, case["store"])
        with open(manifest, "rb") as fh:
            original = fh.read()
        with open(manifest, "w") as fh:
            fh.write(case["text"])
        result = {
            "id": case["id"],
            "store": store,
            "open": outcome(lambda: gr.open(store).load()),
            "load": outcome(lambda: gr.load(store)),
            "validate": outcome(lambda: validate(store)),
            "cli": outcome(lambda: cli(store)),
        }
        with open(manifest, "wb") as fh:
            fh.write(original)
        print(json.dumps(result), flush=True)
    """
)


WORKERS = 2  # each with its own copy of the stores, to use both cores


@pytest.fixture(scope="module")
def stores(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The matrix stores in ``<root>/0`` (and copies in ``<root>/1``, ...)."""
    root = tmp_path_factory.mktemp("matrix")
    base = root / "0"
    gr.save(_strings(), base / "strings.gr", chunk_size=2)
    gr.save(_lists(), base / "lists.gr")
    gr.save(_frame(), base / "frame.gr", chunk_size=3)
    gr.save(_lists(), base / "sharded.gr", shard_rows=2)
    for k in range(1, WORKERS):
        shutil.copytree(base, root / str(k))
    return root


# Per matrix store: the store opened and the manifest edited, relative to a copy's root.
TARGETS = {
    "strings": ("strings.gr", "strings.gr/grumpy.json"),
    "lists": ("lists.gr", "lists.gr/grumpy.json"),
    "frame": ("frame.gr", "frame.gr/grumpy.json"),
    "sharded": ("sharded.gr", "sharded.gr/grumpy.json"),
    "shard": ("sharded.gr", "sharded.gr/shard-000001/grumpy.json"),
}


def _run_worker(root: Path, lines: list[str]) -> tuple[dict[str, Any], str | None]:
    """Results by case id, and what went wrong with the worker (None: nothing)."""
    proc = subprocess.Popen(
        [sys.executable, "-c", WORKER, str(root)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "GRUMPY_DEBUG": ""},
    )
    try:
        out, err = proc.communicate("\n".join(lines) + "\n", timeout=240)
        trouble = None if proc.returncode == 0 else f"the worker exited with {proc.returncode}"
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        trouble = "the worker hung (timeout)"
    results: dict[str, Any] = {}
    started = None
    for line in out.splitlines():
        record = json.loads(line)
        if "start" in record:
            started = record["start"]
        else:
            results[record["id"]] = record
    if trouble is not None:
        trouble = f"{trouble} in case {started!r}: {err[-2000:]}"
    return results, trouble


@pytest.fixture(scope="module")
def outcomes(stores: Path) -> dict[str, Any]:
    """Run every case (in ``WORKERS`` worker processes); the results by case id, the cases
    and what went wrong with a worker."""
    cases: dict[str, tuple[str, Path_, str]] = {}
    lines = []
    for name in STORES:
        store, manifest = TARGETS[name]
        doc = json.loads((stores / "0" / manifest).read_text())
        for case_id, path, hostile, text in _cases(name, doc):
            if name == "shard" and len(path) > 3:
                continue  # a shard manifest's layout fields are those of "lists"
            cases[case_id] = (name, path, hostile)
            lines.append(
                json.dumps({"id": case_id, "store": store, "manifest": manifest, "text": text})
            )
    with ThreadPoolExecutor(WORKERS) as pool:
        runs = list(
            pool.map(lambda k: _run_worker(stores / str(k), lines[k::WORKERS]), range(WORKERS))
        )
    results = {cid: result for found, _ in runs for cid, result in found.items()}
    trouble = "; ".join(t for _, t in runs if t) or None
    return {"results": results, "cases": cases, "trouble": trouble}


def _names_the_field(message: str, path: Path_, hostile: str) -> bool:
    """Whether an error names the edited field (or the object holding it, or for a
    deleted leaf entry the leaf)."""
    if hostile == "deep":
        return "nests JSON values too deeply" in message
    if hostile == "missing" and isinstance(path[-1], int):
        return True  # a list lost an item: the error is about what no longer fits
    if path[0] == "leaves" and len(path) == 2 and hostile == "missing":
        return repr(path[1]) in message
    return f"'{_label(path)}" in message or (len(path) > 1 and f"'{_label(path[:-1])}" in message)


@pytest.mark.parametrize("hostile", list(HOSTILE))
@pytest.mark.parametrize("name", STORES)
def test_every_hostile_field_is_a_store_format_error(
    name: str, hostile: str, outcomes: dict[str, Any]
) -> None:
    selected = [
        (cid, c) for cid, c in outcomes["cases"].items() if c[0] == name and c[2] == hostile
    ]
    assert len(selected) >= 5  # the matrix covers the store's fields
    failures = []
    for case_id, (_, path, _) in selected:
        result = outcomes["results"].get(case_id)
        if result is None:
            failures.append(f"{case_id}: no result ({outcomes['trouble']})")
            continue
        for call in ("open", "load", "validate", "cli"):
            kind, message = result[call]
            if (
                kind != "StoreFormatError"
                or not _names_the_field(message, path, hostile)
                or (call in ("open", "load") and result["store"] not in message)
            ):
                failures.append(f"{case_id}: {call} gave {kind}: {message[-600:]}")
    assert failures == []


def test_the_matrix_edits_every_field_of_each_store(outcomes: dict[str, Any]) -> None:
    labels = {_label(c[1]) for c in outcomes["cases"].values() if c[0] == "frame"}
    for field in (
        "rows",
        "chunking.chunk_size",
        "chunking.shard_size",
        "levels[0].depth",
        "levels[0].offsets",
        "columns[3].layout.content.scalar.dtype",
        "attrs",
        "compressor",
        "leaves._levels/residue-offsets.last",
        "columns[2].layout.level",
    ):
        assert field in labels
    sharded = {_label(c[1]) for c in outcomes["cases"].values() if c[0] == "sharded"}
    assert sharded == {
        "format",
        "version",
        "kind",
        "rows",
        "shard_rows",
        "shards",
        "shards[0]",
        "shards[0].name",
        "shards[0].rows",
        "shards[1]",
        "shards[1].name",
        "shards[1].rows",
        "creator",
    }


# -- the CLI as users run it ----------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "path", "value", "needle"),
    [
        ("strings", ("rows",), -1, "field 'rows' must be an int >= 0, got -1"),
        ("frame", ("levels", 0, "depth"), 2**62, "field 'levels[0].depth' is 4611686018427387904"),
        ("sharded", ("shards", 1, "rows"), "7", "field 'shards[1].rows' must be an int >= 0"),
    ],
    ids=["rows", "level-depth", "shard-rows"],
)
def test_cli_validate_reports_a_hostile_field(
    name: str, path: Path_, value: Any, needle: str, tmp_path: Path, stores: Path
) -> None:
    store = tmp_path / "copy.gr"
    shutil.copytree(stores / "0" / TARGETS[name][0], store)
    doc = json.loads((store / MANIFEST).read_text())
    _set(doc, path, value)
    (store / MANIFEST).write_text(json.dumps(doc))
    proc = subprocess.run(
        [sys.executable, "-m", "grumpy_arrow", "validate", str(store)],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "GRUMPY_DEBUG": ""},
    )
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.splitlines()
    assert len(lines) == 2, proc.stderr
    assert lines[0].startswith(f"grumpy-arrow: corrupt: {store}: grumpy.json {needle}")
    assert lines[1] == f"grumpy-arrow: error: {store}: 1 problem found"


# -- bounds and cross-checks, one by one ------------------------------------------------


@pytest.fixture
def strings_doc(tmp_path: Path) -> dict[str, Any]:
    gr.save(_strings(), tmp_path / "s.gr")
    doc: dict[str, Any] = json.loads((tmp_path / "s.gr" / MANIFEST).read_text())
    return doc


def _parse_error(doc: dict[str, Any]) -> str:
    with pytest.raises(StoreFormatError) as info:
        parse_manifest(json.dumps(doc), "s.gr")
    return str(info.value)


def test_counts_may_reach_the_documented_bound_and_no_further(strings_doc: dict[str, Any]) -> None:
    strings_doc["rows"] = MAX_LENGTH
    assert _parse_error(strings_doc).startswith("s.gr: grumpy.json fields disagree: ")
    strings_doc["rows"] = MAX_LENGTH + 1
    assert _parse_error(strings_doc) == (
        "s.gr: grumpy.json field 'rows' is 281474976710657, more than 2**48, the largest "
        "value it may have"
    )


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (True, "field 'rows' must be an int >= 0, got true"),
        (4.0, "field 'rows' must be an int >= 0, got 4.0"),
        ("4", "field 'rows' must be an int >= 0, got '4'"),
        (float("nan"), "field 'rows' must be an int >= 0, got nan"),
    ],
    ids=["bool", "float", "string", "nan"],
)
def test_rows_must_be_a_json_int(value: Any, message: str, strings_doc: dict[str, Any]) -> None:
    strings_doc["rows"] = value
    assert _parse_error(strings_doc) == f"s.gr: grumpy.json {message}"


def _chain(depth: int) -> dict[str, Any]:
    """A layout of ``depth`` nodes: lists around an int64 leaf."""
    node: dict[str, Any] = {
        "kind": "leaf",
        "dtype": "int64",
        "values": "array/r-values",
        "validity": "array/r-validity",
    }
    for _ in range(depth - 1):
        node = {
            "kind": "list",
            "offsets": "array/r-offsets",
            "validity": "array/r-validity",
            "level": None,
            "content": node,
        }
    return node


def test_layout_depth_is_bounded(strings_doc: dict[str, Any]) -> None:
    strings_doc["columns"][0]["layout"] = _chain(MAX_DEPTH + 1)
    path = "columns[0].layout" + ".content" * MAX_DEPTH
    assert _parse_error(strings_doc) == (
        f"s.gr: grumpy.json field '{path}' nests layout nodes deeper than 64, the most a "
        "layout tree may have"
    )


def test_json_nested_too_deeply_is_refused() -> None:
    text = '{"format": "grumpy_arrow", "version": 1, "attrs": ' + "[" * 5000 + "]" * 5000 + "}"
    with pytest.raises(StoreFormatError, match="nests JSON values too deeply"):
        parse_manifest(text, "s.gr")


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (
            lambda d: d["leaves"]["array/r-type_ids"].__setitem__("dtype", "int64"),
            "field 'leaves.array/r-type_ids.dtype' is 'int64'; the leaf holds the type_ids of "
            "'columns[0].layout', stored as 'int8'",
        ),
        (
            lambda d: d["leaves"]["array/r.s-validity"].__setitem__("dtype", "uint8"),
            "field 'leaves.array/r.s-validity.dtype' is 'uint8'; the leaf holds the validity "
            "of 'columns[0].layout.scalar', stored as 'bool'",
        ),
        (
            lambda d: d["leaves"]["array/r.s-offsets"].__setitem__("dtype", "int32"),
            "field 'leaves.array/r.s-offsets.dtype' is 'int32'; the leaf holds the offsets of "
            "'columns[0].layout.scalar', stored as 'int64'",
        ),
        (
            lambda d: d["leaves"]["array/r.s-data"].__setitem__("dtype", "complex128"),
            "field 'leaves.array/r.s-data.dtype' must be a Zarr dtype (bool, int8, int16, "
            "int32, int64, uint8, uint16, uint32, uint64, float16, float32, float64), got "
            "'complex128'",
        ),
        (
            lambda d: d["leaves"]["array/r-type_ids"].__setitem__("length", 4),
            "fields disagree: leaf 'array/r-type_ids', the type_ids of 'columns[0].layout', "
            "has length 4 (field 'leaves.array/r-type_ids.length'); field 'rows' is 5, so it "
            "must have 5",
        ),
        (
            lambda d: d["leaves"]["array/r.l-offsets"].__setitem__("length", 2),
            "fields disagree: the union at 'columns[0].layout' has 5 rows, but its children "
            "hold 3 scalar and 1 list rows (their leaves' lengths)",
        ),
        (
            lambda d: d["leaves"]["array/r.s-offsets"].__setitem__("last", 4),
            "fields disagree: leaf 'array/r.s-data', the data of 'columns[0].layout.scalar', "
            "has length 5 (field 'leaves.array/r.s-data.length'); the node has 3 rows, so it "
            "must have 4",
        ),
        (
            lambda d: d["leaves"]["array/r-type_ids"].__setitem__("last", 3),
            "field 'leaves.array/r-type_ids.last' is 3; only offsets leaves have one (this one "
            "holds type_ids)",
        ),
        (
            lambda d: d["leaves"]["array/r.s-offsets"].pop("last"),
            "is missing field 'leaves.array/r.s-offsets.last' (offsets leaves record their "
            "last offset)",
        ),
        (
            lambda d: d["leaves"].__setitem__("array/r-values", {"dtype": "int64", "length": 5}),
            "field 'leaves' lists leaf 'array/r-values', which no column or level uses",
        ),
        (
            lambda d: d["columns"][0]["layout"]["list"].__setitem__("offsets", "array/r.s-offsets"),
            "field 'columns[0].layout.list.offsets' names leaf 'array/r.s-offsets', which "
            "field 'columns[0].layout.scalar' uses too; leaves are not shared",
        ),
        (
            lambda d: d["columns"][0]["layout"].__setitem__("validity", "array/r-validity"),
            "field 'columns[0].layout' has an unknown key 'validity'; expected 'kind', "
            "'type_ids', 'value_offsets', 'scalar', 'list'",
        ),
        (
            lambda d: d["columns"][0]["layout"]["scalar"].pop("data"),
            "is missing field 'columns[0].layout.scalar.data'",
        ),
        (
            lambda d: d["columns"][0]["layout"].__setitem__("scalar", _chain(2)),
            "field 'columns[0].layout.scalar' must be a leaf node, got an object of 5 keys",
        ),
        (
            lambda d: d["columns"][0]["layout"]["scalar"].__setitem__("arrow", "int8"),
            "field 'columns[0].layout.scalar.arrow' must be 'string' or 'large_string', got 'int8'",
        ),
        (
            lambda d: d["columns"][0]["layout"]["list"].__setitem__("level", "atom"),
            "field 'columns[0].layout.list.level' is 'atom'; a list of a level uses that "
            "level's offsets leaf, listed in field 'levels'",
        ),
        (
            lambda d: d["columns"][0].__setitem__("name", "other"),
            "field 'columns' of an array store must hold one column, named 'array'; got 1 "
            "('other')",
        ),
        (
            lambda d: d.__setitem__("schema", ["molecule"]),
            "field 'schema' must be null for an array store, got a list of 1 items",
        ),
        (
            lambda d: d["chunking"].__setitem__("chunk_size", 2**41),
            "field 'chunking.chunk_size' is 2199023255552, more than 2**40, the largest value "
            "it may have",
        ),
        (
            lambda d: d["chunking"].__setitem__("chunk_dim", 65),
            "field 'chunking.chunk_dim' must be null, a level name of the schema or a depth "
            "in [0, 64], got 65",
        ),
        (
            lambda d: d["chunking"].__setitem__("chunk_dim", "atom"),
            "field 'chunking.chunk_dim' must be null, a level name of the schema or a depth "
            "in [0, 64], got 'atom'",
        ),
        (
            lambda d: d.__setitem__("compressor", "gzip"),
            "field 'compressor' must be one of 'auto', 'none', 'zstd', 'blosc', got 'gzip'",
        ),
        (
            lambda d: d["chunking"].__setitem__("shard_size", 0),
            "field 'chunking.shard_size' must be a positive int, got 0",
        ),
        (
            lambda d: d["chunking"].__setitem__("shard_size", 2**41),
            "field 'chunking.shard_size' is 2199023255552, more than 2**40, the largest value "
            "it may have",
        ),
        (
            lambda d: d["chunking"].pop("shard_size"),
            "is missing field 'chunking.shard_size'",
        ),
        (
            lambda d: d.update(
                version=1, compressor="zstd", chunking={"chunk_size": None, "chunk_dim": None}
            ),
            "field 'chunking.chunk_size' must be a positive int, got null",
        ),
        (
            lambda d: d.update(
                version=1, compressor="auto", chunking={"chunk_size": 2, "chunk_dim": None}
            ),
            "field 'compressor' must be one of 'none', 'zstd', 'blosc', got 'auto'",
        ),
        (
            lambda d: d.update(
                version=1,
                compressor="zstd",
                chunking={"chunk_size": 2, "shard_size": None, "chunk_dim": None},
            ),
            "field 'chunking' has an unknown key 'shard_size'; expected 'chunk_size', 'chunk_dim'",
        ),
        (
            lambda d: d.__setitem__("attrs", {"shard_rows": 0}),
            "field 'attrs.shard_rows' must be a positive int, got 0",
        ),
        (
            lambda d: d.__setitem__("version", True),
            "field 'version': unknown store version true; this grumpy_arrow reads versions 1, 2",
        ),
        (
            lambda d: d.__setitem__("version", 3),
            "field 'version': unknown store version 3; this grumpy_arrow reads versions 1, 2",
        ),
    ],
    ids=[
        "type_ids-dtype",
        "validity-dtype",
        "offsets-dtype",
        "unknown-zarr-dtype",
        "root-length",
        "union-children",
        "offsets-last",
        "last-on-type_ids",
        "last-missing",
        "unused-leaf",
        "shared-leaf",
        "unknown-node-key",
        "missing-node-key",
        "union-scalar-kind",
        "arrow-width",
        "unknown-level",
        "array-column-name",
        "array-schema",
        "chunk-size-bound",
        "chunk-dim-depth",
        "chunk-dim-level",
        "compressor",
        "shard-size-zero",
        "shard-size-bound",
        "shard-size-missing",
        "v1-chunk-size-null",
        "v1-compressor-auto",
        "v1-shard-size",
        "attrs-shard-rows",
        "version-bool",
        "version-3",
    ],
)
def test_cross_checks_name_the_field(edit: Any, message: str, strings_doc: dict[str, Any]) -> None:
    edit(strings_doc)
    assert _parse_error(strings_doc) == f"s.gr: grumpy.json {message}"


def test_a_frame_column_must_sit_at_its_schema_level(tmp_path: Path) -> None:
    gr.save(_frame(), tmp_path / "f.gr")
    doc = json.loads((tmp_path / "f.gr" / MANIFEST).read_text())
    doc["columns"][2]["level"] = "molecule"
    assert _parse_error(doc) == (
        "s.gr: grumpy.json field 'columns[2].level' must be 'residue', the level of column "
        "'residue_x', got 'molecule'"
    )
    doc["columns"][2]["level"] = "residue"
    doc["levels"][0]["name"] = "molecule"
    assert _parse_error(doc) == (
        "s.gr: grumpy.json field 'levels[0]' is level 'molecule' at depth 1; the schema's "
        "level at depth 1 is 'residue', listed once"
    )


def test_real_manifests_parse_back_to_what_was_written(tmp_path: Path) -> None:
    for name, obj in (("s", _strings()), ("l", _lists()), ("f", _frame())):
        gr.save(obj, tmp_path / name, chunk_size=2)
        text = (tmp_path / name / MANIFEST).read_text()
        assert parse_manifest(text, name).to_json() == text
        assert gr.validate(tmp_path / name) == []


# -- gr.validate's work is bounded by the data present ---------------------------------


def test_validate_lists_chunk_files_instead_of_probing_every_name(tmp_path: Path) -> None:
    store = tmp_path / "big.gr"
    # Three shard files of one value each; the edited manifest claims 2**48 of them.
    gr.save(gr.array(np.arange(3, dtype=np.int64)), store, chunk_size=1, shard_size=1)
    assert sorted(os.listdir(store / "array/r-values/c")) == ["0", "1", "2"]
    doc = json.loads((store / MANIFEST).read_text())
    doc["rows"] = MAX_LENGTH
    doc["leaves"]["array/r-values"]["length"] = MAX_LENGTH
    (store / MANIFEST).write_text(json.dumps(doc))
    meta = json.loads((store / "array/r-values/zarr.json").read_text())
    meta["shape"] = [MAX_LENGTH]
    (store / "array/r-values/zarr.json").write_text(json.dumps(meta))
    code = "import sys, grumpy_arrow as gr; print(gr.validate(sys.argv[1]))"
    proc = subprocess.run(
        [sys.executable, "-c", code, str(store)], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, proc.stderr
    leaf = store / "array/r-values/c/3"
    assert proc.stdout.strip() == repr(
        [
            f"{store}: leaf 'array/r-values' is missing {MAX_LENGTH - 3} of its {MAX_LENGTH} "
            f"shards, the first shard 3 ({leaf})"
        ]
    )
