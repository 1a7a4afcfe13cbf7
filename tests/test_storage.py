"""Storage (docs/storage.md, docs/format.md): Zarr v3 stores with a ``grumpy.json`` manifest.

Covered here, with exact expected values:

- round trips ``gr.save`` -> ``gr.load`` of arrays (every dtype, unions at the root and inside
  lists, leaf nulls, null lists, null union scalars, empty and sliced arrays) and of frames
  (levels, aliases, union columns, feature axes), local and ``memory://``, with every
  compressor and chunk sizes that force many chunks;
- the issue's must-shows (the union string array, ``chunk_dim`` by level and by depth, a
  generator of one-row batches);
- lazy access through ``gr.open`` (selections, column views, ranges inside a ragged row,
  caches, I/O counters, pickling, a spawned process);
- compatibility with plain zarr-python and the manifest's shape;
- append (schema checks that leave the store byte-for-byte unchanged, validity created on
  the first null, union columns, modes, the writer lock, no rewrite of earlier chunks);
- corrupt and foreign stores (``StoreFormatError`` naming the store and the leaf or field).

Property tests are in ``test_storage_properties.py``, the kill-the-writer test in
``test_storage_crash.py``.
"""

from __future__ import annotations

import json
import math
import multiprocessing
import os
import pickle
import shutil
import subprocess
import sys
import threading
import time
import uuid
import warnings
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path
from typing import Any

import fsspec
import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
import zarr
from _locks import is_locked

import grumpy_arrow as gr
from grumpy_arrow.errors import (
    ColumnNotFoundError,
    OutOfBoundsError,
    SchemaError,
    StoreError,
    StoreFormatError,
    StoreLockedError,
)
from grumpy_arrow.storage.writer import lock_file
from grumpy_arrow.storage.zarr import LeafStore
from grumpy_arrow.testing import assert_values_equal, values_equal

MANIFEST = "grumpy.json"
LOCK = "grumpy.lock"
# The documented default inner chunk, by the leaf's codec: 32 KiB of raw values, 4 KiB of
# compressed ones.
INNER_BYTES = {"raw": 32_768, "zstd": 4_096, "blosc": 4_096}


def leaf_codec(path: Path, name: str) -> str:
    """The codec of a leaf's inner chunks (``raw``, ``zstd`` or ``blosc``), from the
    sharding codec's chain in its ``zarr.json``."""
    doc = json.loads((path / name / "zarr.json").read_text())
    (sharding,) = doc["codecs"]
    assert sharding["name"] == "sharding_indexed", name
    names = [c["name"] for c in sharding["configuration"]["codecs"]]
    assert names[0] == "bytes" and names[-1] == "crc32c", names
    return names[1] if len(names) == 3 else "raw"


def default_chunk(path: Path, name: str) -> int:
    """The documented default inner-chunk length of a leaf: 32 KiB of its values when they
    are stored raw, 4 KiB when compressed."""
    itemsize = zarr.open_array(str(path), path=name, mode="r").dtype.itemsize
    return INNER_BYTES[leaf_codec(path, name)] // itemsize


COMPRESSORS = ["none", "zstd", "blosc"]
SCHEMA = ["molecule", ("residue", "group"), "atom"]

# -- helpers ------------------------------------------------------------------------------


def wide_type(typ: pa.DataType) -> pa.DataType:
    """``typ`` with string/binary leaves as their large (int64-offset) forms."""
    if pa.types.is_string(typ):
        return pa.large_string()
    if pa.types.is_binary(typ):
        return pa.large_binary()
    if pa.types.is_large_list(typ):
        field = typ.value_field
        return pa.large_list(field.with_type(wide_type(field.type)))
    if pa.types.is_union(typ):
        fields = [typ.field(i).with_type(wide_type(typ.field(i).type)) for i in range(2)]
        return pa.dense_union(fields, list(typ.type_codes))
    return typ


def has_text_leaf(typ: pa.DataType) -> bool:
    return wide_type(typ) != typ


def assert_same_array(got: Any, want: gr.GrumpyArray) -> None:
    """``got`` holds exactly ``want``: dtype, layout, nulls and values.

    ``to_arrow().equals`` where the Arrow types agree; string/binary leaves come back with
    int64 offsets (see ``test_string_leaves_keep_their_arrow_type``), so there the widened
    type and the values (which tell null lists, empty lists and null leaves apart) are
    compared.
    """
    assert isinstance(got, gr.GrumpyArray), type(got)
    assert got.dtype == want.dtype
    assert len(got) == len(want)
    g, w = got.to_arrow(), want.to_arrow()
    g.validate(full=True)
    if has_text_leaf(w.type) and g.type != w.type:
        assert g.type == wide_type(w.type), (g.type, w.type)
        assert_values_equal(got.to_list(), want.to_list())
        assert got.null_count == want.null_count
    else:
        assert g.type == w.type, (g.type, w.type)
        assert g.equals(w), (got.to_list(), want.to_list())


def assert_same_frame(got: Any, want: gr.DataFrame) -> None:
    assert isinstance(got, gr.DataFrame), type(got)
    assert got.columns == want.columns
    assert got.schema == want.schema
    assert len(got) == len(want)
    for name in want.columns:
        assert_same_array(got[name], want[name])
    assert_values_equal(got.to_dict(), want.to_dict())


def assert_same(got: Any, want: Any) -> None:
    if isinstance(want, gr.DataFrame):
        assert_same_frame(got, want)
    elif isinstance(want, gr.GrumpyArray):
        assert_same_array(got, want)
    else:
        assert values_equal(got, want), (got, want)


def snapshot(url: Any) -> dict[str, bytes]:
    """Every file of a store (local or fsspec) and its bytes, the lock file excepted."""
    fs, root = fsspec.core.url_to_fs(str(url))
    out = {}
    for path in fs.find(root):
        rel = path[len(root) :]
        if not rel.endswith(LOCK):
            out[rel] = bytes(fs.cat_file(path))
    return out


def manifest(path: Path) -> dict[str, Any]:
    return json.loads((path / MANIFEST).read_text())


def write_manifest(path: Path, doc: dict[str, Any]) -> None:
    (path / MANIFEST).write_text(json.dumps(doc))


def leaf_chunks(path: Path, name: str) -> int:
    return int(zarr.open_array(str(path), path=name, mode="r").chunks[0])


@pytest.fixture
def memory_base() -> Iterator[str]:
    """A fresh ``memory://`` directory, removed afterwards."""
    base = f"grumpy-tests-{uuid.uuid4().hex}"
    yield f"memory://{base}"
    fs = fsspec.filesystem("memory")
    if fs.exists(f"/{base}"):
        fs.rm(f"/{base}", recursive=True)


@pytest.fixture(params=["local", "memory"])
def where(request: pytest.FixtureRequest, tmp_path: Path, memory_base: str) -> Callable[[str], str]:
    """``where(name)`` -> a store location, a local path or a ``memory://`` URL."""
    if request.param == "local":
        return lambda name: str(tmp_path / name)
    return lambda name: f"{memory_base}/{name}"


def levels_frame() -> gr.DataFrame:
    """Three levels (one with an alias), unions at the molecule and atom levels, a feature
    axis, nulls at every depth, every leaf kind; molecule 2 has no residues."""
    return gr.dataframe(
        {
            "molecule_id": gr.array([1, 2, 3, 4], dtype=gr.int32),
            "molecule_name": ["water", None, "", "ünï"],
            "molecule_tag": [7, [8, 9], None, []],
            "residue_name": [["ALA", "GLY"], [None], [], ["SER"]],
            "group_weight": [[1.5, 2.5], [None], [], [3.0]],
            "atom_x": [[[0.1, 0.2], [0.3]], [[]], [], [[0.4, None, 0.6]]],
            "atom_xyz": [
                [[[0.0, 0.0, 0.0], [1.0, 1.0, 1.0]], [[2.0, 2.0, 2.0]]],
                [[]],
                [],
                [[[3.0, 3.0, 3.0], [4.0, 4.0, 4.0], [5.0, 5.0, 5.0]]],
            ],
            "atom_flag": [[[True, False], [None]], [[]], [], [[False, True, True]]],
            "atom_alt": [[[1, [2, 3]], [None]], [[]], [], [[[4], 5, 6]]],
            "atom_label": gr.array(
                [[[b"a", b""], [None]], [[]], [], [[b"x", b"y", b"z"]]], dtype=gr.binary
            ),
        },
        schema=SCHEMA,
    )


def molecules(n: int, seed: int = 0, atoms: int = 100) -> gr.DataFrame:
    """``n`` molecules -> atoms with about ``atoms`` atoms each; atom values encode their
    molecule and position (``atom_x[i][a] == 1000 * i + a``)."""
    rng = np.random.default_rng(seed)
    counts = rng.integers(max(0, atoms - 10), atoms + 11, n)
    return gr.dataframe(
        {
            "molecule_id": list(range(n)),
            "molecule_name": [f"m{i}" for i in range(n)],
            "molecule_tag": [i if i % 3 else [i, -i] for i in range(n)],
            "atom_x": [[float(1000 * i + a) for a in range(c)] for i, c in enumerate(counts)],
            "atom_name": [[f"a{a}" if a % 7 else None for a in range(c)] for c in counts],
        },
        schema=["molecule", "atom"],
    )


# -- 1. round trips -----------------------------------------------------------------------

ARRAYS: dict[str, Callable[[], gr.GrumpyArray]] = {
    "int8": lambda: gr.array([[1, -128, 127], [], None, [0]], dtype=gr.int8),
    "int16": lambda: gr.array([[-32768, 32767], [None]], dtype=gr.int16),
    "int32": lambda: gr.array([-(2**31), 2**31 - 1, None], dtype=gr.int32),
    "int64": lambda: gr.array([[-(2**63), 2**63 - 1], [5]], dtype=gr.int64),
    "uint8": lambda: gr.array([[0, 255], [None, 1]], dtype=gr.uint8),
    "uint16": lambda: gr.array([0, 65535, 7], dtype=gr.uint16),
    "uint32": lambda: gr.array([[2**32 - 1], None], dtype=gr.uint32),
    "uint64": lambda: gr.array([[0, 2**64 - 1], [2**63], None], dtype=gr.uint64),
    "float16": lambda: gr.array([[1.5, -0.0, None], [65504.0, -math.inf]], dtype=gr.float16),
    "float32": lambda: gr.array([[0.25, None], [], [3.5e38]], dtype=gr.float32),
    "float64": lambda: gr.array([1e-300, None, -2.5, math.inf], dtype=gr.float64),
    "bool": lambda: gr.array([[True, False, None], [], None, [True]], dtype=gr.bool_),
    "bool_flat": lambda: gr.array([True, None, False, True, True], dtype=gr.bool_),
    "string": lambda: gr.array(["", "ünïcödé", None, "a" * 100, "x"], dtype=gr.string),
    "string_nested": lambda: gr.array([[["a", None], []], None, [[""]]], dtype=gr.string),
    "binary": lambda: gr.array([b"\x00\xff", None, b"", b"abc"], dtype=gr.binary),
    "binary_nested": lambda: gr.array([[b"ab", None], [], None], dtype=gr.binary),
    "union_root": lambda: gr.array([1, [2, 3], 4, None, []]),
    "union_root_string": lambda: gr.array(
        ["P12345", ["P12345-1", "P12345-2"], None], dtype=gr.string
    ),
    "union_in_list": lambda: gr.array([[1, 2, 3], [[None, 5], [6]]]),
    "union_deep": lambda: gr.array([1.5, [[2.0], [3.0, None]], None, [[]]]),
    "union_list_nulls": lambda: gr.array([[None, 1], 2, [], None]),
    "null_lists": lambda: gr.array([[1, 2], None, [], None]),
    "leaf_nulls": lambda: gr.array([[None, 1], [None]]),
    "all_null_rows": lambda: gr.array([None, None, None], dtype=gr.int32),
    "deep": lambda: gr.array([[[[1]]], [[[2, 3], []]], [[None]]]),
    "empty": lambda: gr.array([], dtype=gr.int64),
    "empty_strings": lambda: gr.array([], dtype=gr.string),
    "empty_lists": lambda: gr.array([[], []], dtype=gr.float32),
    "empty_nested": lambda: gr.array([[[1]]])[:0],
    "sliced": lambda: gr.array([[1, 2], [3], [4, 5, 6], [7]])[1:3],
    "sliced_strings": lambda: gr.array([["aa", "b"], ["bbb"], ["c"]])[1:],
    "sliced_union": lambda: gr.array([1, [2, 3], 4, [5]])[1:3],
    "many_rows": lambda: gr.array([[i] * (i % 5) if i % 11 else None for i in range(60)]),
}


@pytest.mark.parametrize("compressor", COMPRESSORS)
@pytest.mark.parametrize("case", ARRAYS)
def test_array_round_trip_small_chunks(
    case: str, compressor: str, where: Callable[[str], str]
) -> None:
    x = ARRAYS[case]()
    path = where(case)
    gr.save(x, path, chunk_size=3, compressor=compressor)
    assert_same_array(gr.load(path), x)


@pytest.mark.parametrize("chunk_size", [1, 64, None])
@pytest.mark.parametrize("case", ARRAYS)
def test_array_round_trip_chunk_sizes(case: str, chunk_size: int | None, tmp_path: Path) -> None:
    x = ARRAYS[case]()
    gr.save(x, tmp_path / "s", chunk_size=chunk_size)
    assert_same_array(gr.load(tmp_path / "s"), x)
    assert manifest(tmp_path / "s")["chunking"]["chunk_size"] == chunk_size
    for name in manifest(tmp_path / "s")["leaves"]:
        assert leaf_chunks(tmp_path / "s", name) == (
            chunk_size or default_chunk(tmp_path / "s", name)
        )


def test_round_trip_exact_values(where: Callable[[str], str]) -> None:
    path = where("s")
    gr.save(gr.array([[1, None], None, [], [2**64 - 1]], dtype=gr.uint64), path, chunk_size=2)
    got = gr.load(path)
    assert got.dtype == gr.uint64
    assert got.to_list() == [[1, None], None, [], [2**64 - 1]]
    assert got.null_count == 1
    assert got.to_arrow().type == pa.large_list(pa.uint64())


@pytest.mark.parametrize("dtype", [gr.float16, gr.float32, gr.float64])
def test_nan_round_trips(dtype: Any, tmp_path: Path) -> None:
    x = gr.array([[1.0, math.nan], [None, -math.inf]], dtype=dtype)
    gr.save(x, tmp_path / "s", chunk_size=3)
    got = gr.load(tmp_path / "s")
    assert got.dtype == dtype
    assert_values_equal(got.to_list(), [[1.0, math.nan], [None, -math.inf]])


@pytest.mark.parametrize("case", ["string", "string_nested", "binary", "binary_nested"])
def test_string_leaves_keep_their_arrow_type(case: str, tmp_path: Path) -> None:
    x = ARRAYS[case]()
    gr.save(x, tmp_path / "s")
    assert gr.load(tmp_path / "s").to_arrow().equals(x.to_arrow())


FRAMES: dict[str, Callable[[], gr.DataFrame]] = {
    "levels": levels_frame,
    "no_schema": lambda: gr.dataframe(
        {"x": [[1, 2], [], None], "name": ["a", None, "c"], "u": [1, [2], None]}
    ),
    "one_level": lambda: gr.dataframe(
        {"molecule": [1.5, None], "molecule_name": ["a", "b"]}, schema=["molecule"]
    ),
    "two_levels_sliced": lambda: molecules(12, atoms=5)[3:9],
    "empty": lambda: gr.dataframe(
        {"molecule_id": gr.array([], dtype=gr.int64), "atom_x": gr.array([[1.0]])[:0]},
        schema=["molecule", "atom"],
    ),
}


@pytest.mark.parametrize("compressor", COMPRESSORS)
@pytest.mark.parametrize("case", FRAMES)
def test_frame_round_trip(case: str, compressor: str, where: Callable[[str], str]) -> None:
    df = FRAMES[case]()
    path = where(case)
    gr.save(df, path, chunk_size=3, compressor=compressor)
    got = gr.load(path)
    assert_same_frame(got, df)
    if df.schema is not None and len(df.schema.levels) > 1:
        assert got.shape(1).to_list() == df.shape(1).to_list()


def test_frame_round_trip_exact_values(where: Callable[[str], str]) -> None:
    path = where("s")
    gr.save(levels_frame(), path, chunk_size=2)
    got = gr.load(path)
    assert got.columns == [
        "molecule_id",
        "molecule_name",
        "molecule_tag",
        "residue_name",
        "group_weight",
        "atom_x",
        "atom_xyz",
        "atom_flag",
        "atom_alt",
        "atom_label",
    ]
    assert got.schema == gr.dataframe({"molecule": [1]}, schema=SCHEMA).schema
    assert got["molecule_id"].dtype == gr.int32
    assert got["molecule_tag"].is_union
    assert got["molecule_tag"].to_list() == [7, [8, 9], None, []]
    assert got["group_weight"].to_list() == [[1.5, 2.5], [None], [], [3.0]]
    assert got.atom_x.to_list() == [0.1, 0.2, 0.3, 0.4, None, 0.6]
    assert got.residue.atom_x.to_list() == [[0.1, 0.2], [0.3], [], [0.4, None, 0.6]]
    assert got.shape("residue").to_list() == [2, 1, 0, 1]
    assert got.shape("atom").to_list() == [[2, 1], [0], [], [3]]
    assert got["atom_alt"].to_list() == [[[1, [2, 3]], [None]], [[]], [], [[[4], 5, 6]]]
    assert got["atom_label"].to_list() == [[[b"a", b""], [None]], [[]], [], [[b"x", b"y", b"z"]]]


def test_load_columns(tmp_path: Path) -> None:
    df = levels_frame()
    gr.save(df, tmp_path / "s")
    got = gr.load(tmp_path / "s", columns=["atom_x", "molecule_id"])
    assert got.columns == ["atom_x", "molecule_id"]
    assert got["atom_x"].to_list() == df["atom_x"].to_list()
    assert got["molecule_id"].to_list() == [1, 2, 3, 4]
    with pytest.raises(ColumnNotFoundError, match="'nope'"):
        gr.load(tmp_path / "s", columns=["nope"])
    gr.save(gr.array([1]), tmp_path / "a")
    with pytest.raises(SchemaError, match="array"):
        gr.load(tmp_path / "a", columns=["x"])


def test_save_arrow_table_and_pandas(where: Callable[[str], str]) -> None:
    table = pa.table({"a": [1, 2, 3], "b": pa.array([[1.0], [], None])})
    gr.save(table, where("t"))
    assert gr.load(where("t")).to_dict() == {"a": [1, 2, 3], "b": [[1.0], [], None]}
    frame = pd.DataFrame({"a": [1, 2], "s": ["x", "y"]})
    gr.save(frame, where("p"))
    assert gr.load(where("p")).to_dict() == {"a": [1, 2], "s": ["x", "y"]}


def test_save_python_lists(where: Callable[[str], str]) -> None:
    gr.save([[1, 2], [3]], where("s"))
    assert gr.load(where("s")).to_list() == [[1, 2], [3]]


def test_save_argument_errors(tmp_path: Path) -> None:
    x = gr.array([[1, 2]])
    with pytest.raises(ValueError, match="compressor"):
        gr.save(x, tmp_path / "a", compressor="lz77")
    for bad in (0, -3, 1.5):
        with pytest.raises(ValueError, match="chunk_size"):
            gr.save(x, tmp_path / "b", chunk_size=bad)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="mode"):
        gr.save(x, tmp_path / "c", mode="x")
    with pytest.raises(ValueError, match="empty iterator"):
        gr.save(iter([]), tmp_path / "d")
    with pytest.raises(SchemaError, match="'nope'"):
        gr.save(levels_frame(), tmp_path / "e", chunk_dim="nope")
    with pytest.raises(SchemaError, match="schema"):
        gr.save(x, tmp_path / "f", chunk_dim="atom")
    with pytest.raises(ValueError, match="chunk_dim"):
        gr.save(x, tmp_path / "g", chunk_dim=-1)
    with pytest.raises(TypeError, match="chunk_dim"):
        gr.save(x, tmp_path / "h", chunk_dim=1.5)
    assert not (tmp_path / "a" / MANIFEST).exists()
    assert not (tmp_path / "e" / MANIFEST).exists()


# -- 2. the must-shows ------------------------------------------------------------


def test_must_show_union_strings(where: Callable[[str], str]) -> None:
    x = gr.array(["P12345", ["P12345-1", "P12345-2"], None], dtype=gr.string)
    path = where("union.gr")
    gr.save(x, path, chunk_size=64)
    assert gr.load(path).to_list() == x.to_list()
    assert gr.load(path).to_list() == ["P12345", ["P12345-1", "P12345-2"], None]
    assert_same_array(gr.load(path), x)


def test_must_show_chunk_dim_level(tmp_path: Path) -> None:
    df = levels_frame()
    path = tmp_path / "s"
    gr.save(df, path, chunk_size=3, chunk_dim="atom")
    assert_same_frame(gr.load(path), df)
    chunks = {name: leaf_chunks(path, name) for name in manifest(path)["leaves"]}
    # One element per atom: the atom columns' values / validity / per-atom feature and
    # union buffers. Everything else (offsets of the levels above, molecule and residue
    # columns, the content below a feature axis) keeps the default.
    at_atoms = {
        "atom_x/r.c.c-values",
        "atom_x/r.c.c-validity",
        "atom_xyz/r.c.c-offsets",
        "atom_flag/r.c.c-values",
        "atom_flag/r.c.c-validity",
        "atom_alt/r.c.c-type_ids",
        "atom_alt/r.c.c-value_offsets",
        "atom_alt/r.c.c.s-values",
        "atom_alt/r.c.c.s-validity",
        "atom_alt/r.c.c.l-offsets",
        "atom_label/r.c.c-offsets",
        "atom_label/r.c.c-data",
        "atom_label/r.c.c-validity",
    }
    assert {n for n, c in chunks.items() if c == 3} == at_atoms
    assert all(c == default_chunk(path, n) for n, c in chunks.items() if n not in at_atoms)
    # "auto" compresses leaves of fewer than 32 KiB of values: 4 KiB inner chunks.
    assert {leaf_codec(path, n) for n in chunks} == {"zstd"}
    assert chunks["_levels/atom-offsets"] == 512  # int64
    assert chunks["molecule_id/r-values"] == default_chunk(path, "molecule_id/r-values")
    assert manifest(path)["chunking"] == {"chunk_size": 3, "shard_size": None, "chunk_dim": "atom"}


def test_must_show_chunk_dim_depth(tmp_path: Path) -> None:
    x = gr.array([[[1, 2], [3]], [[4, 5, 6]], [], None])
    path = tmp_path / "s"
    gr.save(x, path, chunk_size=3, chunk_dim=1)
    assert_same_array(gr.load(path), x)
    chunks = {name: leaf_chunks(path, name) for name in manifest(path)["leaves"]}
    # "auto" compresses leaves of fewer than 32 KiB of values: 4 KiB inner chunks.
    assert {leaf_codec(path, n) for n in chunks} == {"zstd"}
    assert chunks == {
        "array/r-offsets": 512,  # int64: 4 KiB
        "array/r-validity": 4096,  # bool
        "array/r.c-offsets": 3,
        "array/r.c.c-values": 512,
    }


def test_chunk_dim_level_equals_its_depth(tmp_path: Path) -> None:
    df = levels_frame()
    gr.save(df, tmp_path / "name", chunk_size=3, chunk_dim="residue")
    gr.save(df, tmp_path / "depth", chunk_size=3, chunk_dim=1)
    by_name = {n: leaf_chunks(tmp_path / "name", n) for n in manifest(tmp_path / "name")["leaves"]}
    by_depth = {
        n: leaf_chunks(tmp_path / "depth", n) for n in manifest(tmp_path / "depth")["leaves"]
    }
    assert by_name == by_depth
    assert by_name["group_weight/r.c-values"] == 3
    assert by_name["_levels/atom-offsets"] == 3  # one entry per residue (+1)
    assert by_name["atom_x/r.c.c-values"] == default_chunk(tmp_path / "name", "atom_x/r.c.c-values")


def test_chunk_dim_alias(tmp_path: Path) -> None:
    df = levels_frame()
    gr.save(df, tmp_path / "s", chunk_size=3, chunk_dim="group")
    assert leaf_chunks(tmp_path / "s", "group_weight/r.c-values") == 3
    assert leaf_chunks(tmp_path / "s", "molecule_id/r-values") == default_chunk(
        tmp_path / "s", "molecule_id/r-values"
    )


def test_must_show_generator_of_one_row_batches(where: Callable[[str], str]) -> None:
    def gen() -> Iterator[gr.GrumpyArray]:
        for i in range(10):
            yield gr.array([[i] * (i + 1)])

    path = where("g")
    gr.save(gen(), path, chunk_size=4)
    assert len(gr.load(path)) == 10
    assert len(gr.open(path)) == 10
    assert gr.load(path).to_list() == [[i] * (i + 1) for i in range(10)]


def test_generator_of_frames(where: Callable[[str], str]) -> None:
    schema = ["molecule", "atom"]

    def gen() -> Iterator[gr.DataFrame]:
        # The first batch makes molecule_tag a union; later scalar-only and list-only
        # batches join it.
        yield gr.dataframe(
            {"molecule_id": [0, 1], "molecule_tag": [0, [1]], "atom_x": [[], [0.5]]}, schema=schema
        )
        for i in range(2, 10):
            yield gr.dataframe(
                {
                    "molecule_id": [i],
                    "molecule_tag": [i if i % 2 else [i]],
                    "atom_x": [[i / 2] * i],
                },
                schema=schema,
            )

    path = where("g")
    gr.save(gen(), path, chunk_size=3)
    got = gr.load(path)
    assert len(got) == 10
    assert got["molecule_id"].to_list() == list(range(10))
    assert got["molecule_tag"].to_list() == [0, [1], [2], 3, [4], 5, [6], 7, [8], 9]
    assert got["atom_x"].to_list() == [[i / 2] * i for i in range(10)]


def test_generator_keeps_committed_batches_on_a_bad_one(tmp_path: Path) -> None:
    def gen() -> Iterator[gr.GrumpyArray]:
        yield gr.array([[1], [2, 3]])
        yield gr.array([[4]])
        yield gr.array([["x"]])  # strings into an int64 store: nothing widens to that

    with pytest.raises(SchemaError, match="string"):
        gr.save(gen(), tmp_path / "s")
    assert gr.load(tmp_path / "s").to_list() == [[1], [2, 3], [4]]
    assert not is_locked(tmp_path / "s" / LOCK)


# -- 3. lazy access -----------------------------------------------------------------------


@pytest.fixture
def frame_store(tmp_path: Path) -> tuple[gr.DataFrame, Path]:
    df = molecules(60)
    gr.save(df, tmp_path / "m", chunk_size=64)
    return df, tmp_path / "m"


def test_handle_metadata(frame_store: tuple[gr.DataFrame, Path]) -> None:
    df, path = frame_store
    h = gr.open(path)
    assert len(h) == 60
    assert h.columns == df.columns
    assert h.schema == df.schema
    assert h.kind == "dataframe"
    assert h.shape(0) == 60
    assert h.shape("molecule") == 60
    assert h.shape("atom").to_list() == df.shape("atom").to_list()
    assert h.shape(1).to_list() == df.shape(1).to_list()
    assert str(path) in repr(h)


def test_handle_metadata_three_levels(where: Callable[[str], str]) -> None:
    df = levels_frame()
    gr.save(df, where("s"), chunk_size=2)
    h = gr.open(where("s"))
    assert (len(h), h.columns, h.schema) == (4, df.columns, df.schema)
    assert h.shape("residue").to_list() == [2, 1, 0, 1]
    assert h.shape("group").to_list() == [2, 1, 0, 1]
    assert h.shape("atom").to_list() == [[2, 1], [0], [], [3]]
    assert h.shape(2).to_list() == [[2, 1], [0], [], [3]]


def test_handle_shape_of_a_null_level_list(tmp_path: Path) -> None:
    df = gr.dataframe({"residue_x": [None, [1.0]]}, schema=["molecule", "residue"])
    gr.save(df, tmp_path / "s")
    # A null molecule has a null residue count (as df["residue_x"].shape(1) says).
    assert df.shape("residue").to_list() == [None, 1]
    assert gr.load(tmp_path / "s").shape("residue").to_list() == [None, 1]
    assert gr.open(tmp_path / "s").shape("residue").to_list() == [None, 1]


@pytest.mark.parametrize(
    "x",
    [
        gr.array([[1, 2], [3], None, []]),
        gr.array([[[1], [2, 3]], [[4]], [], None]),
        gr.array([1, [2, 3], None, []]),
        gr.array([[1, [2, 3]], [[4]], [], None]),
    ],
    ids=["list", "list2", "union", "union_in_list"],
)
def test_handle_shape_of_arrays(x: gr.GrumpyArray, tmp_path: Path) -> None:
    gr.save(x, tmp_path / "s", chunk_size=2)
    h = gr.open(tmp_path / "s")
    assert h.kind == "array"
    assert h.columns == ["array"]
    assert h.schema is None
    for d in range(x.ndim):
        got, want = h.shape(d), x.shape(d)
        if d == 0:
            assert got == want == len(x)
        else:
            assert_same_array(got, want)


def _selections(n: int) -> list[Any]:
    """Slices, gathers (repeats, negatives, any order) and masks of ``n`` >= 1 rows."""
    mask = np.arange(n) % 3 == 1
    return [
        slice(2, 9),
        slice(None, None, -1),
        slice(5, 40, 7),
        slice(0, 0),
        [5 % n, 2 % n, 2 % n, 9 % n],
        [-1, 0],
        [],
        np.array([n - 1, 3 % n, 3 % n, 0]),
        mask,
        list(mask),
    ]


@pytest.mark.parametrize("cache", ["chunks", "none"])
def test_handle_selections_frame(cache: str, frame_store: tuple[gr.DataFrame, Path]) -> None:
    df, path = frame_store
    h = gr.open(path, cache=cache)
    for sel in _selections(len(df)):
        assert_same_frame(h[sel], df[sel])
        assert_same_frame(h.take(sel if not isinstance(sel, slice) else range(60)[sel]), df[sel])
    for i in (0, 7, 59, -1, -60):
        assert_same_frame(h[i], df[i])
        assert_same_frame(h[np.int64(i)], df[i])


def test_handle_selections_levels_frame(where: Callable[[str], str]) -> None:
    df = levels_frame()
    gr.save(df, where("s"), chunk_size=2)
    h = gr.open(where("s"))
    for sel in ([3, 0, 0, 2], slice(1, None), [True, False, False, True], [2], [1]):
        assert_same_frame(h[sel], df[sel])
    for i in range(4):
        assert_same_frame(h[i], df[i])


def test_handle_columns(frame_store: tuple[gr.DataFrame, Path]) -> None:
    df, path = frame_store
    h = gr.open(path)
    sub = df[["atom_x", "molecule_id"]]
    assert_same_frame(h.take([7, 1, 7], columns=["atom_x", "molecule_id"]), sub[[7, 1, 7]])
    view = h["atom_x"]
    assert isinstance(view, gr.Handle)
    assert view.columns == ["atom_x"]
    assert len(view) == 60
    assert_same_frame(view[[4, 5]], df[["atom_x"]][[4, 5]])
    assert_same_frame(view.load(), df[["atom_x"]])
    pair = h[["molecule_tag", "molecule_id"]]
    assert pair.columns == ["molecule_tag", "molecule_id"]
    assert_same_frame(pair[10:13], df[["molecule_tag", "molecule_id"]][10:13])
    assert_same_frame(h.load(), df)
    with pytest.raises(ColumnNotFoundError, match="'nope'"):
        h["nope"]
    with pytest.raises(ColumnNotFoundError, match="'nope'"):
        h.take([0], columns=["nope"])


@pytest.mark.parametrize("case", ["many_rows", "union_root", "union_in_list", "string_nested"])
def test_handle_selections_array(case: str, where: Callable[[str], str]) -> None:
    x = ARRAYS[case]()
    gr.save(x, where("s"), chunk_size=3)
    h = gr.open(where("s"))
    assert len(h) == len(x)
    for sel in _selections(len(x)):
        assert_same_array(h[sel], x[sel])
        assert_same_array(h.take(sel if not isinstance(sel, slice) else range(len(x))[sel]), x[sel])
    assert_same_array(h.load(), x)


def test_handle_int_index_on_array_is_the_row(tmp_path: Path) -> None:
    x = gr.array([[1, 2], [3], None])
    gr.save(x, tmp_path / "s")
    h = gr.open(tmp_path / "s")
    assert h[0].to_list() == [1, 2]
    gr.save(gr.array([1.5, 2.5]), tmp_path / "f")
    assert gr.open(tmp_path / "f")[1] == 2.5


def test_handle_index_errors(frame_store: tuple[gr.DataFrame, Path]) -> None:
    _, path = frame_store
    h = gr.open(path)
    for bad in (60, -61, [0, 60], np.array([-61])):
        with pytest.raises(OutOfBoundsError, match="60 rows"):
            h[bad]
    with pytest.raises(IndexError, match="length 3"):
        h[[True, False, True]]
    with pytest.raises(ValueError, match="cache"):
        gr.open(path, cache="lru")


def test_read_range_inside_a_row(tmp_path: Path) -> None:
    df = molecules(40)
    gr.save(df, tmp_path / "s", chunk_size=64)
    h = gr.open(tmp_path / "s", cache="none")
    row = 7
    assert len(df["atom_x"][row]) >= 42
    before = h.stats()["bytes_read"]
    got = h.read(row, ranges={"atom_x": slice(32, 42)}, columns=["atom_x"])
    assert got["atom_x"].to_list() == [[float(7000 + a) for a in range(32, 42)]]
    # The inner chunks (64 values) holding two offsets and ten float64 values: at most
    # two of each, decoded; the other columns and the rest of the store are not read.
    assert h.stats()["bytes_read"] - before <= 4 * 64 * 8
    full = h.read(row, ranges={"atom_x": slice(32, 42)})
    assert full.columns == df.columns
    assert full["atom_x"].to_list() == [df["atom_x"].to_list()[row][32:42]]
    assert full["molecule_id"].to_list() == [7]
    assert full["atom_name"].to_list() == [df["atom_name"].to_list()[row]]
    assert h.read(row, ranges={"atom_x": slice(-3, None)})["atom_x"].to_list() == [
        df["atom_x"].to_list()[row][-3:]
    ]
    assert h.read(row, ranges={"atom_x": slice(500, 600)})["atom_x"].to_list() == [[]]
    assert_same_frame(h.read(row), df[row])
    with pytest.raises(ColumnNotFoundError, match="'nope'"):
        h.read(row, ranges={"nope": slice(0, 1)})
    with pytest.raises(ValueError, match="step"):
        h.read(row, ranges={"atom_x": slice(0, 10, 2)})


def test_read_range_on_array_rows(tmp_path: Path) -> None:
    x = gr.array([[float(i * 100 + j) for j in range(50)] for i in range(5)])
    gr.save(x, tmp_path / "s", chunk_size=16)
    h = gr.open(tmp_path / "s")
    assert h.read(3, ranges={"array": slice(32, 42)}).to_list() == [
        [float(300 + j) for j in range(32, 42)]
    ]


def test_read_range_on_union_list_row(tmp_path: Path) -> None:
    gr.save(gr.array([1, [2, 3, 4], None]), tmp_path / "s")
    assert gr.open(tmp_path / "s").read(1, ranges={"array": slice(1, 2)}).to_list() == [[3]]


@pytest.fixture(scope="module")
def big_store(tmp_path_factory: pytest.TempPathFactory) -> tuple[gr.GrumpyArray, Path]:
    """20 000 rows of 90..110 float64 values, chunk_size 512, zstd (every leaf goes
    through the chunk cache; raw leaves are gathered from mapped files instead)."""
    rng = np.random.default_rng(42)
    lengths = rng.integers(90, 111, 20_000)
    offsets = np.concatenate([[0], np.cumsum(lengths)])
    x = gr.from_offsets(rng.random(int(offsets[-1])), offsets)
    path = tmp_path_factory.mktemp("big") / "s"
    gr.save(x, path, chunk_size=512, compressor="zstd")
    return x, path


def _logical_bytes(path: Path) -> int:
    doc = manifest(path)
    return sum(s["length"] * np.dtype(s["dtype"]).itemsize for s in doc["leaves"].values())


@pytest.mark.parametrize("cache", ["chunks", "none"])
def test_partial_io_reads_a_small_fraction(
    cache: str, big_store: tuple[gr.GrumpyArray, Path]
) -> None:
    x, path = big_store
    h = gr.open(path, cache=cache)
    assert h.stats() == {"bytes_read": 0, "chunks_read": 0, "calls": 0, "cache_hits": 0}
    assert len(h) == 20_000  # from the manifest: no leaf read
    assert h.stats()["bytes_read"] == 0
    rows = np.random.default_rng(1).choice(20_000, 32, replace=False)
    got = h[rows]
    assert_same_array(got, x[rows])
    stats = h.stats()
    total = _logical_bytes(path)
    assert total > 16_000_000
    assert 0 < stats["bytes_read"] < 0.05 * total
    assert stats["chunks_read"] > 0


def test_chunk_cache_serves_repeated_reads(big_store: tuple[gr.GrumpyArray, Path]) -> None:
    x, path = big_store
    # A budget too small for the values leaf to become resident: its chunks are cached one
    # by one (the offsets leaf, 20,001 int64, fits: it is read whole at its third read).
    h = gr.open(path, cache="chunks", cache_bytes=4_000_000)
    rows = np.random.default_rng(2).choice(20_000, 32, replace=False)
    first = h[rows]
    h[rows]  # the second touch of a chunk keeps it in the cache
    reads = []
    for _ in range(3):
        before = h.stats()
        again = h[rows]
        after = h.stats()
        reads.append(after["bytes_read"] - before["bytes_read"])
        assert after["cache_hits"] > before["cache_hits"]
        assert_same_array(again, x[rows])
    assert reads == [20_001 * 8, 0, 0]
    assert_same_array(first, x[rows])


def test_a_leaf_read_three_times_becomes_resident(
    big_store: tuple[gr.GrumpyArray, Path],
) -> None:
    x, path = big_store
    h = gr.open(path, cache="chunks")  # 256 MB: every leaf fits in a quarter of it
    store = h._store
    leaves = h.manifest.leaves
    whole = sum(v.length * store.format(k).dtype.itemsize for k, v in leaves.items())
    picks = [np.random.default_rng(seed).choice(20_000, 32, replace=False) for seed in range(5)]
    read = []
    for rows in picks:
        before = h.stats()["bytes_read"]
        assert_same_array(h[rows], x[rows])
        read.append(h.stats()["bytes_read"] - before)
    # Reads 1 and 2 read chunks, read 3 reads every leaf whole, reads 4 and 5 nothing.
    assert 0 < read[0] < 0.05 * whole and 0 < read[1] < 0.05 * whole
    assert read[2] >= whole - read[0] - read[1]
    assert read[3:] == [0, 0]
    # The resident leaves are the cache's: a selection of many rows comes from them too.
    assert_same_array(h[5_000:15_000], x[5_000:15_000])
    assert h.stats()["bytes_read"] == sum(read)


def test_second_read_hits_the_cache(big_store: tuple[gr.GrumpyArray, Path]) -> None:
    _, path = big_store
    h = gr.open(path, cache="chunks")
    rows = np.random.default_rng(3).choice(20_000, 32, replace=False)
    h[rows]
    before = h.stats()
    h[rows]
    after = h.stats()
    assert after["cache_hits"] > before["cache_hits"]
    assert after["bytes_read"] - before["bytes_read"] <= before["bytes_read"]


def test_every_selection_reads_a_small_fraction(big_store: tuple[gr.GrumpyArray, Path]) -> None:
    x, path = big_store
    h = gr.open(path)  # the default cache="chunks"
    total = _logical_bytes(path)
    rng = np.random.default_rng(6)
    # Two: the third read of a leaf reads it whole, on purpose (it becomes resident, see
    # test_a_leaf_read_three_times_becomes_resident); cache="none" never does.
    for _ in range(2):
        rows = rng.choice(20_000, 32, replace=False)
        before = h.stats()["bytes_read"]
        assert_same_array(h[rows], x[rows])
        assert h.stats()["bytes_read"] - before < 0.05 * total


def test_no_cache_rereads(big_store: tuple[gr.GrumpyArray, Path]) -> None:
    x, path = big_store
    h = gr.open(path, cache="none")
    rows = np.random.default_rng(4).choice(20_000, 32, replace=False)
    a = h[rows]
    once = h.stats()["bytes_read"]
    b = h[rows]
    assert h.stats()["bytes_read"] == 2 * once
    assert h.stats()["cache_hits"] == 0
    assert_same_array(a, x[rows])
    assert_same_array(b, x[rows])


def test_cache_modes_agree(frame_store: tuple[gr.DataFrame, Path]) -> None:
    df, path = frame_store
    cached, uncached = gr.open(path, cache="chunks"), gr.open(path, cache="none")
    tiny = gr.open(path, cache="chunks", cache_bytes=1000)
    rng = np.random.default_rng(5)
    for _ in range(6):
        rows = rng.choice(60, 8)
        want = df[rows]
        for h in (cached, uncached, tiny):
            assert_same_frame(h[rows], want)


@pytest.mark.parametrize("compressor", ["none", "zstd"])
def test_handle_is_a_snapshot(compressor: str, where: Callable[[str], str]) -> None:
    """A handle reads the rows committed when it was opened, also after later appends
    (which rewrite at most the partial last chunk)."""
    path = where("s")
    first = gr.array([[float(i)] * (i % 4) for i in range(10)])
    gr.save(first, path, chunk_size=4, compressor=compressor)
    h = gr.open(path, cache="none")
    h[[1, 2]]
    for k in range(3):
        gr.append(gr.array([[100.0 + k, 200.0 + k]] * 5), path)
    assert len(h) == 10
    assert_same_array(h[::-1], first[::-1])
    assert_same_array(h.load(), first)
    assert len(gr.open(path)) == 25
    assert gr.open(path)[[9, 10, 24]].to_list() == [[9.0], [100.0, 200.0], [102.0, 202.0]]


def test_handle_pickles(frame_store: tuple[gr.DataFrame, Path]) -> None:
    df, path = frame_store
    h = gr.open(path, cache="none")
    h[[1, 2]]
    clone = pickle.loads(pickle.dumps(h))
    assert_same_frame(clone[3], h[3])
    assert_same_frame(clone[3], df[3])
    assert clone.stats()["bytes_read"] > 0  # it read row 3, with its own counters
    view = pickle.loads(pickle.dumps(h[["atom_x"]]))
    assert view.columns == ["atom_x"]
    assert_same_frame(view[[0, 59]], df[["atom_x"]][[0, 59]])


def test_memory_handle_pickles(memory_base: str) -> None:
    x = ARRAYS["union_in_list"]()
    gr.save(x, f"{memory_base}/s")
    h = gr.open(f"{memory_base}/s")
    assert_same_array(pickle.loads(pickle.dumps(h))[[1]], x[[1]])


def read_rows_in_child(h: Any, rows: list[int]) -> dict[str, Any]:
    """Runs in a spawned process: the unpickled handle reopens the store there."""
    return {"len": len(h), "rows": h[rows].to_dict(), "row": h[rows[0]].to_dict()}


def test_handle_in_spawned_process(frame_store: tuple[gr.DataFrame, Path]) -> None:
    df, path = frame_store
    h = gr.open(path)
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(1) as pool:
        got = pool.apply(read_rows_in_child, (h, [3, 41, 3]))
    assert got["len"] == 60
    assert_values_equal(got["rows"], df[[3, 41, 3]].to_dict())
    assert_values_equal(got["row"], df[3].to_dict())


# -- 4. zarr compatibility and the manifest -----------------------------------------------


@pytest.mark.parametrize("compressor", COMPRESSORS)
def test_plain_zarr_reads_every_leaf(compressor: str, tmp_path: Path) -> None:
    df = levels_frame()
    path = tmp_path / "s"
    gr.save(df, path, chunk_size=3, compressor=compressor)
    gr.append(df[[3, 0]], path)
    doc = manifest(path)
    group = zarr.open_group(str(path), mode="r")
    ours = LeafStore(path, read_only=True)
    assert len(doc["leaves"]) == 32
    for name, spec in doc["leaves"].items():
        arr = group[name]
        assert isinstance(arr, zarr.Array), name
        assert arr.ndim == 1
        assert arr.dtype == np.dtype(spec["dtype"])
        assert arr.dtype.kind in "biuf", name  # no Zarr variable-length strings
        # Shapes grow geometrically: only the manifest's length is data.
        assert arr.shape[0] >= spec["length"], name
        assert arr.chunks == (3,) and arr.shards is not None, name  # sharded inner chunks
        (sharding,) = arr.metadata.codecs
        inner = [type(c).__name__ for c in sharding.codecs]
        assert inner[-1] == "Crc32cCodec", name  # every inner chunk carries a checksum
        if compressor == "none":
            assert inner == ["BytesCodec", "Crc32cCodec"], name
        else:
            assert inner[1] == {"zstd": "ZstdCodec", "blosc": "BloscCodec"}[compressor], name
        assert_values_equal(
            arr[: spec["length"]].tolist(), ours.read_whole(name, spec["length"]).tolist()
        )
    # The leaves hold what load returns, e.g. the residue offsets of 6 molecules.
    assert group["_levels/residue-offsets"][
        : doc["leaves"]["_levels/residue-offsets"]["length"]
    ].tolist() == [
        0,
        2,
        3,
        3,
        4,
        5,
        7,
    ]
    assert group["molecule_id/r-values"][:6].tolist() == [1, 2, 3, 4, 4, 1]
    name = "molecule_name/r-data"
    assert bytes(group[name][: doc["leaves"][name]["length"]]) == "waterünïünïwater".encode()
    assert group["molecule_name/r-offsets"][:7].tolist() == [0, 5, 5, 5, 10, 15, 20]
    assert group["molecule_name/r-validity"][:6].tolist() == [True, False, True, True, True, True]
    assert group["molecule_tag/r-type_ids"][:6].tolist() == [0, 1, 0, 1, 1, 0]


def test_plain_zarr_lists_the_group(tmp_path: Path) -> None:
    gr.save(levels_frame(), tmp_path / "s")
    group = zarr.open_group(str(tmp_path / "s"), mode="r")
    # zarr-python 3.1 warns about grumpy.json and grumpy.lock, the non-Zarr objects at the
    # root.
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*grumpy.(json|lock).*", category=UserWarning)
        names = sorted(group.group_keys())
    assert names == sorted(
        {
            "_levels",
            "molecule_id",
            "molecule_name",
            "molecule_tag",
            "residue_name",
            "group_weight",
            "atom_x",
            "atom_xyz",
            "atom_flag",
            "atom_alt",
            "atom_label",
        }
    )


def test_plain_zarr_reads_memory_store(memory_base: str) -> None:
    x = ARRAYS["union_root_string"]()
    url = f"{memory_base}/s"
    gr.save(x, url, compressor="zstd")
    group = zarr.open_group(url, mode="r")
    assert group["array/r-type_ids"][:].tolist() == [0, 1, 0]
    assert bytes(group["array/r.l.c-data"][:]) == b"P12345-1P12345-2"
    assert group["array/r.l.c-offsets"][:].tolist() == [0, 8, 16]


def test_manifest_shape(tmp_path: Path) -> None:
    gr.save(levels_frame(), tmp_path / "s", chunk_size=5, compressor="zstd")
    doc = manifest(tmp_path / "s")
    assert doc["format"] == "grumpy_arrow"
    assert doc["version"] == 2
    assert doc["creator"].startswith("grumpy_arrow ")
    assert doc["kind"] == "dataframe"
    assert doc["rows"] == 4
    assert doc["schema"] == ["molecule", ["residue", "group"], "atom"]
    assert doc["chunking"] == {"chunk_size": 5, "shard_size": None, "chunk_dim": None}
    assert doc["compressor"] == "zstd"
    assert [c["name"] for c in doc["columns"]] == levels_frame().columns
    assert {c["name"]: c["level"] for c in doc["columns"]}["group_weight"] == "residue"
    assert doc["levels"] == [
        {"name": "residue", "depth": 1, "offsets": "_levels/residue-offsets"},
        {"name": "atom", "depth": 2, "offsets": "_levels/atom-offsets"},
    ]
    leaves = doc["leaves"]
    assert leaves["_levels/residue-offsets"] == {"dtype": "int64", "length": 5, "last": 4}
    assert leaves["_levels/atom-offsets"] == {"dtype": "int64", "length": 5, "last": 6}

    def check(node: Any, where: str) -> None:
        """Offsets and every other buffer are referenced by leaf name, never inline."""
        if isinstance(node, list):
            assert all(isinstance(item, dict) for item in node), f"inline list at {where}"
            for i, item in enumerate(node):
                check(item, f"{where}[{i}]")
        if isinstance(node, dict):
            for key, value in node.items():
                if key in ("values", "validity", "offsets", "data", "type_ids", "value_offsets"):
                    assert isinstance(value, str), (where, key, value)
                    assert value in leaves or key == "validity", (where, key, value)
                check(value, f"{where}.{key}")

    check(doc["columns"], "columns")
    check(doc["levels"], "levels")
    check(doc["leaves"], "leaves")
    assert len(gr.load(tmp_path / "s")) == doc["rows"]


def test_string_leaves_are_bytes_plus_offsets(tmp_path: Path) -> None:
    gr.save(gr.array([["ab", "c"], None, ["", "déf"]]), tmp_path / "s")
    doc = manifest(tmp_path / "s")
    assert doc["leaves"]["array/r.c-data"] == {"dtype": "uint8", "length": 7}
    assert doc["leaves"]["array/r.c-offsets"] == {"dtype": "int64", "length": 5, "last": 7}
    assert zarr.open_array(str(tmp_path / "s"), path="array/r.c-offsets", mode="r")[:].tolist() == [
        0,
        2,
        3,
        3,
        7,
    ]


# -- 5. append ----------------------------------------------------------------------------


def _frame(**columns: Any) -> gr.DataFrame:
    return gr.dataframe(columns, schema=SCHEMA)


GOOD = {"molecule_id": [1], "residue_name": [["A"]], "atom_x": [[[1.0]]]}
BAD_FRAMES: dict[str, tuple[Callable[[], Any], str]] = {
    "dtype": (lambda: _frame(**{**GOOD, "molecule_id": ["x"]}), "'molecule_id'"),
    "leaf_dtype": (lambda: _frame(**{**GOOD, "residue_name": [[1]]}), "'residue_name'"),
    "int32": (
        lambda: _frame(**{**GOOD, "molecule_id": gr.array([1], dtype=gr.int32)}),
        "int32",
    ),
    "missing_column": (
        lambda: _frame(molecule_id=[1], residue_name=[["A"]]),
        "columns",
    ),
    "extra_column": (lambda: _frame(**GOOD, atom_y=[[[2.0]]]), "atom_y"),
    "schema": (
        lambda: gr.dataframe(GOOD, schema=["molecule", "residue", "atom"]),
        "schema",
    ),
    "no_schema": (lambda: gr.dataframe(GOOD), "schema"),
    "kind": (lambda: gr.array([[1.0]]), "array"),
}
# (list rows into a scalar column, a union, a deeper feature axis: appends widen those;
# see tests/test_late_types.py)


@pytest.mark.parametrize("case", BAD_FRAMES)
def test_incompatible_append_to_frame(case: str, where: Callable[[str], str]) -> None:
    path = where("s")
    gr.save(_frame(**GOOD), path, chunk_size=2)
    gr.append(
        _frame(molecule_id=[2, 3], residue_name=[["B", "C"], []], atom_x=[[[2.0], []], []]), path
    )
    before = snapshot(path)
    make, needle = BAD_FRAMES[case]
    with pytest.raises(SchemaError, match=needle) as info:
        gr.append(make(), path)
    assert path in str(info.value)
    assert snapshot(path) == before
    assert gr.load(path).to_dict() == {
        "molecule_id": [1, 2, 3],
        "residue_name": [["A"], ["B", "C"], []],
        "atom_x": [[[1.0]], [[2.0], []], []],
    }
    gr.append(_frame(**GOOD), path)  # the store still takes good batches
    assert len(gr.load(path)) == 4


BAD_ARRAYS: dict[str, tuple[Callable[[], Any], str]] = {
    "dtype": (lambda: gr.array([[True]]), "bool_"),
    "int32": (lambda: gr.array([[1]], dtype=gr.int32), "int32"),
    "shallower": (lambda: gr.array(["a"]), "string"),
    "deeper": (lambda: gr.array([[["a"]]]), r"list<list<string>>"),
    "union": (lambda: gr.array(["a", ["b"]]), "union"),
    "frame": (lambda: gr.dataframe({"array": [[1]]}), "dataframe"),
    "strings": (lambda: gr.array([["a"]]), "string"),
}


@pytest.mark.parametrize("case", BAD_ARRAYS)
def test_incompatible_append_to_array(case: str, where: Callable[[str], str]) -> None:
    path = where("s")
    gr.save(gr.array([[1, 2], [3]]), path, chunk_size=2)
    text = snapshot(path)
    make, needle = BAD_ARRAYS[case]
    with pytest.raises(SchemaError, match=needle):
        gr.append(make(), path)
    assert snapshot(path) == text
    assert gr.load(path).to_list() == [[1, 2], [3]]


def test_append_nulls_to_a_store_without(where: Callable[[str], str]) -> None:
    path = where("s")
    gr.save(gr.array([[1, 2], [3], [4]]), path, chunk_size=2)
    gr.append(gr.array([[None, 5], None, []]), path)
    gr.append(gr.array([[6]]), path)
    got = gr.load(path)
    assert got.to_list() == [[1, 2], [3], [4], [None, 5], None, [], [6]]
    assert got.null_count == 1
    assert gr.open(path)[[0, 4, 3, 6]].to_list() == [[1, 2], None, [None, 5], [6]]
    fs, root = fsspec.core.url_to_fs(path)
    leaves = json.loads(fs.cat_file(f"{root}/{MANIFEST}"))["leaves"]
    assert leaves["array/r-validity"] == {"dtype": "bool", "length": 7}
    assert leaves["array/r.c-validity"] == {"dtype": "bool", "length": 7}


def test_append_without_nulls_to_a_store_with(where: Callable[[str], str]) -> None:
    path = where("s")
    gr.save(gr.array([["a", None], None]), path, chunk_size=2)
    gr.append(gr.array([["b"], [], ["c", "d"]]), path)
    assert gr.load(path).to_list() == [["a", None], None, ["b"], [], ["c", "d"]]
    assert gr.open(path)[::-1].to_list() == [["c", "d"], [], ["b"], None, ["a", None]]


def test_append_nulls_to_frame(where: Callable[[str], str]) -> None:
    path = where("s")
    gr.save(
        gr.dataframe({"molecule_id": [1], "atom_x": [[1.0]]}, schema=["molecule", "atom"]), path
    )
    gr.append(
        gr.dataframe(
            {"molecule_id": [None, 3], "atom_x": [[None], [2.0, None]]}, schema=["molecule", "atom"]
        ),
        path,
    )
    assert gr.load(path).to_dict() == {
        "molecule_id": [1, None, 3],
        "atom_x": [[1.0], [None], [2.0, None]],
    }


def test_append_scalars_and_lists_to_a_union(where: Callable[[str], str]) -> None:
    path = where("u")
    gr.save(gr.array(["a", ["b", "c"], None], dtype=gr.string), path, chunk_size=2)
    gr.append(gr.array(["d", "e"]), path)  # scalar rows only: a plain string array
    gr.append(gr.array([["f"], []]), path)  # list rows only
    gr.append(gr.array([None, "g"]), path)
    gr.append(gr.array([None, ["h", None]]), path)
    want = ["a", ["b", "c"], None, "d", "e", ["f"], [], None, "g", None, ["h", None]]
    got = gr.load(path)
    assert got.is_union
    assert got.to_list() == want
    assert gr.open(path)[::-1].to_list() == want[::-1]
    assert gr.open(path)[[3, 10, 0]].to_list() == ["d", ["h", None], "a"]


def test_append_scalars_and_lists_to_a_union_column(where: Callable[[str], str]) -> None:
    path = where("f")
    schema = ["molecule", "atom"]
    gr.save(gr.dataframe({"molecule_tag": [1, [2, 3]], "atom_x": [[1.0], []]}, schema=schema), path)
    gr.append(
        gr.dataframe({"molecule_tag": [4, None], "atom_x": [[2.0, 3.0], []]}, schema=schema), path
    )
    gr.append(gr.dataframe({"molecule_tag": [[5]], "atom_x": [[]]}, schema=schema), path)
    got = gr.load(path)
    assert got.to_dict() == {
        "molecule_tag": [1, [2, 3], 4, None, [5]],
        "atom_x": [[1.0], [], [2.0, 3.0], [], []],
    }
    assert got["molecule_tag"].is_union
    with pytest.raises(SchemaError, match="molecule_tag"):
        gr.append(gr.dataframe({"molecule_tag": ["x"], "atom_x": [[]]}, schema=schema), path)


def test_append_plain_rows_to_a_union_inside_lists(tmp_path: Path) -> None:
    gr.save(gr.array([[1, [2, 3]], [4]]), tmp_path / "s")
    gr.append(gr.array([[5, 6]]), tmp_path / "s")
    gr.append(gr.array([[[7], []]]), tmp_path / "s")
    gr.append(gr.array([[None, 8], None]), tmp_path / "s")
    assert gr.load(tmp_path / "s").to_list() == [
        [1, [2, 3]],
        [4],
        [5, 6],
        [[7], []],
        [None, 8],
        None,
    ]
    assert gr.validate(tmp_path / "s") == []
    with pytest.raises(SchemaError, match="list<string>"):
        gr.append(gr.array([[["x"]]]), tmp_path / "s")  # a dtype that does not fit: refused


def test_append_to_empty_store_and_empty_batches(where: Callable[[str], str]) -> None:
    path = where("s")
    gr.save(gr.array([], dtype=gr.int64), path)
    gr.append(gr.array([1, 2]), path)
    gr.append(gr.array([], dtype=gr.int64), path)
    gr.append(gr.array([None, 3]), path)
    assert gr.load(path).to_list() == [1, 2, None, 3]


def test_append_to_a_missing_store(tmp_path: Path) -> None:
    with pytest.raises(StoreFormatError, match="not a grumpy_arrow store"):
        gr.append(gr.array([1]), tmp_path / "nope")


def test_append_to_a_missing_store_creates_nothing(tmp_path: Path) -> None:
    with pytest.raises(StoreFormatError):
        gr.append(gr.array([1]), tmp_path / "nope")
    assert not (tmp_path / "nope").exists()


def test_save_modes(where: Callable[[str], str]) -> None:
    path = where("s")
    gr.save(gr.array([1, 2]), path)
    before = snapshot(path)
    with pytest.raises(StoreError, match="exists") as info:
        gr.save(gr.array([3]), path, mode="w-")
    assert isinstance(info.value, OSError)
    assert snapshot(path) == before
    gr.save(gr.array([3]), path, mode="a")
    assert gr.load(path).to_list() == [1, 2, 3]
    gr.save(gr.array([[4.5]]), path, mode="w")  # overwrite: any new layout
    assert gr.load(path).to_list() == [[4.5]]
    gr.save(gr.array([5]), where("new_a"), mode="a")
    gr.save(gr.array([6]), where("new_x"), mode="w-")
    assert gr.load(where("new_a")).to_list() == [5]
    assert gr.load(where("new_x")).to_list() == [6]
    with pytest.raises(SchemaError):
        gr.save(gr.array(["x"]), where("new_a"), mode="a")


def test_overwrite_removes_old_leaves(tmp_path: Path) -> None:
    gr.save(levels_frame(), tmp_path / "s")
    gr.save(gr.array([1]), tmp_path / "s")
    assert sorted(p.name for p in (tmp_path / "s").iterdir()) == ["array", MANIFEST, "zarr.json"]
    assert gr.load(tmp_path / "s").to_list() == [1]


@pytest.fixture
def lock_holder(tmp_path: Path) -> Iterator[Callable[[Path], None]]:
    """Start a process that takes the writer lock of a store and keeps it until the end."""
    procs: list[subprocess.Popen[bytes]] = []

    def hold(store: Path) -> None:
        code = (
            "import fcntl, os, sys, time\n"
            "fd = os.open(sys.argv[1], os.O_CREAT | os.O_RDWR)\n"
            "fcntl.flock(fd, fcntl.LOCK_EX)\n"
            "print('held', flush=True)\n"
            "time.sleep(60)\n"
        )
        proc = subprocess.Popen(
            [sys.executable, "-c", code, str(store / LOCK)], stdout=subprocess.PIPE
        )
        procs.append(proc)
        assert proc.stdout is not None and proc.stdout.readline() == b"held\n"

    yield hold
    for proc in procs:
        proc.kill()
        proc.wait()
        assert proc.stdout is not None
        proc.stdout.close()


def test_second_writer_is_refused_after_its_timeout(
    tmp_path: Path, lock_holder: Callable[[Path], None]
) -> None:
    path = tmp_path / "s"
    gr.save(gr.array([[1.0]]), path)
    lock_holder(path)
    before = snapshot(path)
    writers: list[Callable[[], None]] = [
        lambda: gr.append(gr.array([[2.0]]), path, timeout=0.2),
        lambda: gr.save(gr.array([[2.0]]), path, mode="a", timeout=0),
        lambda: gr.save(gr.array([3]), path, mode="w", timeout=0.1),
    ]
    for write in writers:
        started = time.monotonic()
        with pytest.raises(StoreLockedError, match="another writer holds the lock") as info:
            write()
        assert time.monotonic() - started < 5
        assert str(path) in str(info.value)
        assert isinstance(info.value, StoreError) and isinstance(info.value, TimeoutError)
        assert snapshot(path) == before
    assert is_locked(path / LOCK)
    assert gr.load(path).to_list() == [[1.0]]  # readers do not need the lock
    assert gr.open(path)[0].to_list() == [1.0]


def test_second_writer_in_the_same_process_waits_for_the_lock(tmp_path: Path) -> None:
    path = tmp_path / "s"
    gr.save(gr.array([1]), path)
    done: list[float] = []
    with lock_file(str(path / LOCK), "busy"):
        worker = threading.Thread(
            target=lambda: (
                gr.append(gr.array([2]), path, timeout=30),
                done.append(time.monotonic()),
            )
        )
        worker.start()
        time.sleep(0.3)
        assert done == []  # still waiting
        released = time.monotonic()
    worker.join(10)
    assert len(done) == 1 and done[0] >= released
    assert gr.load(path).to_list() == [1, 2]


def test_lock_file_left_by_a_dead_writer_is_free(tmp_path: Path) -> None:
    path = tmp_path / "s"
    gr.save(gr.array([[1.0]]), path)
    for content in ("12345", "", "not a pid"):
        (path / LOCK).write_text(content)  # whatever a dead writer left: no flock on it
        gr.append(gr.array([[2.0]]), path, timeout=0)
        assert not is_locked(path / LOCK)
    assert gr.load(path).to_list() == [[1.0], [2.0], [2.0], [2.0]]


def test_lock_released_after_errors(tmp_path: Path) -> None:
    path = tmp_path / "s"
    gr.save(gr.array([1]), path)
    with pytest.raises(SchemaError):
        gr.append(gr.array(["x"]), path)
    assert not is_locked(path / LOCK)
    gr.append(gr.array([2]), path, timeout=0)
    assert gr.load(path).to_list() == [1, 2]


@pytest.mark.parametrize("compressor", ["none", "zstd"])
def test_append_does_not_rewrite_earlier_shards(compressor: str, tmp_path: Path) -> None:
    """An append rewrites at most the last shard file of each leaf: full shards are never
    touched again (same bytes, same file)."""
    path = tmp_path / "s"

    def batch(k: int) -> gr.GrumpyArray:  # 3 rows, 3 values
        return gr.array([[float(k), float(k) + 0.5], [], [float(-k)]])

    names = gr.array([["ab", "c"], ["d"]])
    options = {"chunk_size": 4, "shard_size": 8, "compressor": compressor}
    gr.save(batch(0), path, **options)
    gr.save(names, tmp_path / "t", **options)
    for k in (1, 2):
        gr.append(batch(k), path)  # 9 values, 10 offsets: shard 0 of both leaves is full
        gr.append(names, tmp_path / "t")  # 12 bytes of strings: shard 0 of the data is full
    watched = [
        path / "array/r.c-values/c/0",
        path / "array/r-offsets/c/0",
        tmp_path / "t/array/r.c-data/c/0",
    ]
    before = {p: (p.read_bytes(), p.stat().st_mtime_ns, p.stat().st_ino) for p in watched}
    for k in range(3, 22):
        gr.append(batch(k), path)
        gr.append(names, tmp_path / "t")
    after = {p: (p.read_bytes(), p.stat().st_mtime_ns, p.stat().st_ino) for p in watched}
    assert after == before
    got = gr.load(path)
    assert len(got) == 3 * 22
    assert got.to_list() == [row for k in range(22) for row in batch(k).to_list()]
    assert gr.load(tmp_path / "t").to_list() == names.to_list() * 22
    assert len(list((path / "array/r.c-values/c").iterdir())) == math.ceil(66 / 8)


# -- 7. corrupt and foreign stores --------------------------------------------------------


@pytest.fixture
def store(tmp_path: Path) -> Path:
    """A frame store with inner chunks and shard files of 2 values: atom_x values
    [0.1, 0.2 | 0.3, 0.4 | None, 0.6] in shard files c/0, c/1, c/2."""
    gr.save(levels_frame(), tmp_path / "s", chunk_size=2, shard_size=2)
    return tmp_path / "s"


def _raises_format_error(call: Callable[[], Any], *needles: str) -> StoreFormatError:
    with pytest.raises(StoreFormatError) as info:
        call()
    err = info.value
    assert isinstance(err, StoreError)
    assert isinstance(err, OSError)
    assert isinstance(err, ValueError)
    for needle in needles:
        assert needle in str(err), (needle, str(err))
    return err


LEAF = "atom_x/r.c.c-values"


@pytest.mark.parametrize("size", [0, 3])
def test_truncated_chunk(size: int, store: Path) -> None:
    with open(store / LEAF / "c" / "1", "r+b") as fh:
        fh.truncate(size)
    _raises_format_error(lambda: gr.load(store), str(store), LEAF, "truncated")
    assert any(LEAF in problem and "truncated" in problem for problem in gr.validate(store))
    # Row 0 holds atoms 0..2 (chunks 0 and 1); row 2 has no atoms.
    _raises_format_error(lambda: gr.open(store)[0], str(store), LEAF)
    _raises_format_error(lambda: gr.open(store, cache="none")[[0, 3]], str(store), LEAF)
    assert gr.open(store)[2].to_dict()["molecule_id"] == [3]


def test_truncated_chunk_compressed(tmp_path: Path) -> None:
    gr.save(levels_frame(), tmp_path / "s", chunk_size=2, shard_size=2, compressor="zstd")
    with open(tmp_path / "s" / LEAF / "c" / "1", "r+b") as fh:
        fh.truncate(3)
    _raises_format_error(lambda: gr.load(tmp_path / "s"), str(tmp_path / "s"), LEAF)


@pytest.mark.parametrize("compressor", ["none", "zstd"])
def test_deleted_leaf(compressor: str, tmp_path: Path) -> None:
    gr.save(levels_frame(), tmp_path / "s", chunk_size=2, compressor=compressor)
    shutil.rmtree(tmp_path / "s" / LEAF)
    _raises_format_error(lambda: gr.load(tmp_path / "s"), str(tmp_path / "s"), LEAF, "missing")
    _raises_format_error(lambda: gr.open(tmp_path / "s")[0], str(tmp_path / "s"), LEAF)
    assert any(LEAF in problem for problem in gr.validate(tmp_path / "s"))
    assert gr.load(tmp_path / "s", columns=["molecule_id"]).to_dict() == {
        "molecule_id": [1, 2, 3, 4]
    }


def test_validate_accepts_union_value_offsets_that_go_down(tmp_path: Path) -> None:
    # Union value_offsets count up per child, so they go down where the child changes:
    # [1, 2, [3]] has value_offsets [0, 1, 0]. Only list and string offsets must not.
    gr.save(gr.array([1, 2, [3], [4, 5]]), tmp_path / "u")
    assert gr.validate(tmp_path / "u") == []


def test_deleted_leaf_metadata(store: Path) -> None:
    (store / LEAF / "zarr.json").unlink()
    _raises_format_error(lambda: gr.load(store), str(store), LEAF, "missing")


def test_deleted_chunk(store: Path) -> None:
    (store / LEAF / "c" / "1").unlink()
    _raises_format_error(lambda: gr.load(store), str(store), LEAF, "shard 1")
    assert any(LEAF in problem and "shard 1" in problem for problem in gr.validate(store))
    _raises_format_error(lambda: gr.open(store)[3], str(store), LEAF, "shard 1")


def test_deleted_chunk_compressed(tmp_path: Path) -> None:
    gr.save(levels_frame(), tmp_path / "s", chunk_size=2, shard_size=2, compressor="zstd")
    (tmp_path / "s" / LEAF / "c" / "1").unlink()
    _raises_format_error(lambda: gr.load(tmp_path / "s"), str(tmp_path / "s"), LEAF)


def test_unknown_version(store: Path) -> None:
    doc = manifest(store)
    doc["version"] = 99
    write_manifest(store, doc)
    for call in (
        lambda: gr.load(store),
        lambda: gr.open(store),
        lambda: gr.append(levels_frame(), store),
    ):
        _raises_format_error(call, str(store), "version 99", MANIFEST)


def test_foreign_format(store: Path) -> None:
    doc = manifest(store)
    doc["format"] = "something_else"
    write_manifest(store, doc)
    _raises_format_error(lambda: gr.load(store), str(store), "'format'", "something_else")


@pytest.mark.parametrize("text", ["{not json", "", "\x00\x01", "[1, 2]", "null"])
def test_garbage_manifest(text: str, store: Path) -> None:
    (store / MANIFEST).write_text(text)
    for call in (lambda: gr.load(store), lambda: gr.open(store)):
        _raises_format_error(call, str(store), MANIFEST)


def test_garbage_manifest_bytes(store: Path) -> None:
    (store / MANIFEST).write_bytes(b"\xff\xfe\x00garbage")
    _raises_format_error(lambda: gr.load(store), str(store), MANIFEST)


MISSING_FIELDS: dict[str, tuple[Callable[[dict[str, Any]], Any], str]] = {
    "rows": (lambda d: d.pop("rows"), "'rows'"),
    "kind": (lambda d: d.pop("kind"), "'kind'"),
    "columns": (lambda d: d.pop("columns"), "'columns'"),
    "leaves": (lambda d: d.pop("leaves"), "'leaves'"),
    "version": (lambda d: d.pop("version"), "version"),
    "format": (lambda d: d.pop("format"), "'format'"),
    "leaf_length": (lambda d: d["leaves"][LEAF].pop("length"), f"'leaves.{LEAF}.length'"),
    "leaf_dtype": (lambda d: d["leaves"][LEAF].pop("dtype"), f"'leaves.{LEAF}.dtype'"),
    "leaf_entry": (lambda d: d["leaves"].pop(LEAF), LEAF),
    "layout": (lambda d: d["columns"][5].pop("layout"), "'columns[5].layout'"),
    "column_name": (lambda d: d["columns"][0].pop("name"), "'columns[0].name'"),
    "layout_kind": (lambda d: d["columns"][5]["layout"].pop("kind"), "columns[5].layout"),
    "level_offsets": (lambda d: d["levels"][0].pop("offsets"), "'levels[0].offsets'"),
    "rows_type": (lambda d: d.__setitem__("rows", "4"), "'rows'"),
    "kind_value": (lambda d: d.__setitem__("kind", "table"), "'kind'"),
    "column_type": (lambda d: d["columns"].__setitem__(0, 5), "'columns[0]'"),
}


@pytest.mark.parametrize("case", MISSING_FIELDS)
def test_malformed_manifest(case: str, store: Path) -> None:
    doc = manifest(store)
    mutate, field = MISSING_FIELDS[case]
    mutate(doc)
    write_manifest(store, doc)
    for call in (lambda: gr.load(store), lambda: gr.open(store)):
        _raises_format_error(call, str(store), field)


MALFORMED_BUGS: dict[str, Callable[[dict[str, Any]], Any]] = {
    # TypeError: argument of type 'int' is not iterable
    "level_entry_type": lambda d: d["levels"].__setitem__(0, 5),
    # bare KeyError: 'dtype'
    "layout_dtype_missing": lambda d: d["columns"][5]["layout"]["content"]["content"].pop("dtype"),
    # DTypeError from load; gr.open accepts it
    "layout_dtype_unknown": lambda d: d["columns"][5]["layout"]["content"]["content"].__setitem__(
        "dtype", "complex128"
    ),
    # SchemaError (not StoreFormatError) from load; gr.open accepts it
    "schema_type": lambda d: d.__setitem__("schema", 5),
}


@pytest.mark.parametrize("case", MALFORMED_BUGS)
def test_malformed_manifest_unchecked_fields(case: str, store: Path) -> None:
    doc = manifest(store)
    MALFORMED_BUGS[case](doc)
    write_manifest(store, doc)
    for call in (lambda: gr.load(store), lambda: gr.open(store)):
        _raises_format_error(call, str(store))


def test_manifest_rows_beyond_the_leaves(store: Path) -> None:
    doc = manifest(store)
    doc["rows"] = 9
    write_manifest(store, doc)
    _raises_format_error(lambda: gr.load(store), str(store), "9")


def test_manifest_leaf_length_beyond_the_data(tmp_path: Path) -> None:
    store = tmp_path / "s"
    gr.save(levels_frame(), store)  # one (sparse, whole-chunk) file per leaf
    doc = manifest(store)
    doc["leaves"][LEAF]["length"] = 50
    write_manifest(store, doc)
    _raises_format_error(lambda: gr.load(store), str(store), LEAF)


def test_not_a_store(tmp_path: Path, store: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    plain_zarr = tmp_path / "plain.zarr"
    zarr.open_group(str(plain_zarr), mode="w").create_array("x", shape=(3,), dtype="int8")
    a_file = tmp_path / "file.txt"
    a_file.write_text("hello")
    for path in (tmp_path / "missing", empty, plain_zarr, a_file, store / MANIFEST):
        for call in (gr.load, gr.open):
            _raises_format_error(
                partial(call, path), str(path), "not a grumpy_arrow store", MANIFEST
            )
    with pytest.raises(StoreFormatError, match="not a grumpy_arrow store"):
        gr.append(gr.array([1]), empty)


def test_append_to_a_file_path(tmp_path: Path) -> None:
    (tmp_path / "f").write_text("x")
    with pytest.raises(StoreError):
        gr.append(gr.array([1]), tmp_path / "f")


def test_memory_store_not_found(memory_base: str) -> None:
    url = f"{memory_base}/missing"
    _raises_format_error(lambda: gr.load(url), url, "not a grumpy_arrow store")
    _raises_format_error(lambda: gr.open(url), url, "not a grumpy_arrow store")


def test_columns_named_like_the_stores_own_files_get_folders_of_their_own(tmp_path: Path) -> None:
    df = gr.dataframe(
        {
            ".": [1, 2],
            "..": [[1], [2, 3]],
            "zarr.json": ["a", "b"],
            "_levels": [1.5, None],
            "grumpy.json": [True, False],
        }
    )
    path = tmp_path / "s"
    gr.save(df, path)
    assert sorted(os.listdir(path)) == [
        "%2E",
        "%2E.",
        "%5Flevels",
        "%67rumpy.json",
        "%7Aarr.json",
        "grumpy.json",
        "grumpy.lock",
        "zarr.json",
    ]
    assert gr.load(path).to_dict() == df.to_dict()
    assert gr.open(path)[[1, 0]].to_dict() == df[[1, 0]].to_dict()
    assert gr.validate(path) == []
