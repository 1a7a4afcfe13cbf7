"""Version-2 leaves: the sharding codec, both read backends, appends, dictionaries, upgrade.

- the leaf documents are what zarr-python writes for the same arrays, and plain zarr reads
  every leaf; stores written through either backend read back exactly through both;
- a reader test suite runs against the direct local backend and the zarr-python path
  (forced for local stores), over every compressor, several shard files per leaf, appends,
  caches and threads;
- an append rewrites at most the last shard file of a leaf, never a committed inner
  chunk's bytes, and rewrites a leaf's ``zarr.json`` only when its shape doubles;
- small stores stay small; damaged shard indexes and chunks are reported, never read;
- dictionary-encoded string leaves; ``grumpy-arrow upgrade`` of the golden version-1 stores.
"""

from __future__ import annotations

import json
import os
import struct
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import fsspec
import numpy as np
import pytest
import zarr
import zarr.codecs
from _threads import run_threads
from test_format_v1 import STORES, golden_copy

import grumpy_arrow as gr
from grumpy_arrow.cli import main
from grumpy_arrow.errors import StoreFormatError
from grumpy_arrow.storage import sharding as sh
from grumpy_arrow.storage.zarr import LeafStore


def molecules(n: int, seed: int = 0) -> gr.DataFrame:
    """``n`` molecules with ragged atoms: floats with nulls, element symbols (few distinct
    values: dictionary-encoded once there are enough), a scalar-or-list union."""
    rng = np.random.default_rng(seed)
    sizes = rng.integers(0, 9, n)
    elements = np.array(["C", "H", "O", "N", "S"])
    return gr.dataframe(
        {
            "mol_id": list(range(n)),
            "mol_tag": [int(i) if i % 3 else [int(i), int(i) + 1] for i in range(n)],
            "atom_x": [
                [None if (i + j) % 11 == 0 else float(i * 10 + j) / 4 for j in range(int(k))]
                for i, k in enumerate(sizes)
            ],
            "atom_el": [
                [str(elements[(i + j) % 5]) for j in range(int(k))] for i, k in enumerate(sizes)
            ],
        },
        schema=["mol", "atom"],
    )


def rows_of(df: gr.DataFrame, rows: Any) -> dict[str, list[Any]]:
    return df[np.asarray(rows, dtype=np.int64)].to_dict()


@pytest.fixture(params=["direct", "zarr"])
def backend(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Run a test on the direct local backend, or with every leaf of local stores read and
    written through zarr-python (the generic path of remote stores)."""
    if request.param == "zarr":
        monkeypatch.setattr(LeafStore, "direct", lambda self, name: False)
    return str(request.param)


# -- the format -------------------------------------------------------------------------


@pytest.mark.parametrize("codec", ["raw", "zstd", "blosc"])
@pytest.mark.parametrize("dtype", ["bool", "int8", "int32", "float64", "uint8"])
def test_leaf_documents_are_what_zarr_writes(codec: str, dtype: str) -> None:
    fmt = sh.plan_format(dtype, codec, 64, 256)
    store = zarr.storage.MemoryStore()
    compressors = {
        "raw": [],
        "zstd": [zarr.codecs.ZstdCodec(level=3)],
        "blosc": [zarr.codecs.BloscCodec(cname="lz4", clevel=5, shuffle="shuffle")],
    }
    arr = zarr.create_array(
        store,
        shape=(7,),
        dtype=dtype,
        chunks=(64,),
        shards=(256,),
        compressors=[*compressors[codec], zarr.codecs.Crc32cCodec()],
        fill_value=0,
    )
    want = json.loads(json.dumps(arr.metadata.to_dict()))
    assert sh.leaf_doc(fmt, 7) == want
    assert sh.parse_leaf_doc(want, "x") == fmt


def test_plan_format_defaults() -> None:
    raw = sh.plan_format("float32", "raw")
    assert (raw.chunk, raw.shard, raw.per_shard) == (8192, 8192 * 128, 128)  # 32 KiB, 4 MiB
    # Compressed shards follow the first batch: 256 KiB of values below 256 KiB of them,
    # 512 KiB up to 8 MiB, then 4 MiB; raw ones hold 4 MiB whatever it is.
    for first, per_shard in [
        (0, 64),
        (256 * 1024 - 1, 64),
        (256 * 1024, 128),
        (8 * 1024 * 1024 - 1, 128),
        (8 * 1024 * 1024, 1024),
    ]:
        packed = sh.plan_format("int64", "zstd", first=first)
        assert (packed.chunk, packed.shard) == (512, 512 * per_shard), first
        assert sh.plan_format("float32", "raw", first=first).per_shard == 128
    scaled = sh.plan_format("float64", "raw", decimals=2, first=1 << 20)
    assert (scaled.dtype, scaled.logical, scaled.codec) == (
        np.dtype("<i8"),
        np.dtype("f8"),
        "blosc",
    )
    assert (scaled.chunk, scaled.per_shard, scaled.blosc) == (1024, 128, ("lz4", 5, "bitshuffle"))
    assert sh.plan_format("int8", "raw", chunk=1).shard == 1024  # at most 1024 inner chunks
    assert sh.plan_format("int64", "raw", chunk=3, shard=10).shard == 12  # whole chunks
    assert sh.plan_format("int64", "zstd", shard=100).chunk == 100  # chunk <= shard
    assert sh.index_bytes(raw) == 128 * 16 + 4


def test_raw_shards_are_regular_and_zarr_reads_them(tmp_path: Path) -> None:
    values = np.arange(10_000, dtype=np.int64)
    gr.save(gr.array(values), tmp_path / "s", compressor="none", chunk_size=1000, shard_size=4000)
    leaf = tmp_path / "s" / "array" / "r-values"
    assert sorted(os.listdir(leaf / "c")) == ["0", "1", "2"]
    fmt = sh.parse_leaf_doc(json.loads((leaf / "zarr.json").read_text()), "leaf")
    data = (leaf / "c" / "0").read_bytes()
    offsets, nbytes = sh.parse_index(fmt, data[-sh.index_bytes(fmt) :], len(data), "shard")
    assert offsets.tolist() == [0, 8008, 16016, 24032 - 8]
    assert nbytes.tolist() == [8004] * 4
    assert sh.is_regular(fmt, offsets, nbytes)
    # The values of inner chunk 1 (1000..1999), then their checksum, at byte 8008.
    assert np.frombuffer(data[8008 : 8008 + 8000], np.int64).tolist() == list(range(1000, 2000))
    arr = zarr.open_array(str(tmp_path / "s"), path="array/r-values", mode="r")
    assert arr[:10_000].tolist() == values.tolist()
    assert arr.shape[0] >= 10_000


def test_zarr_written_shards_read_through_the_direct_backend(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    df = molecules(300)
    for compressor in ("none", "zstd"):
        path = tmp_path / compressor
        with monkeypatch.context() as m:
            m.setattr(LeafStore, "direct", lambda self, name: False)
            gr.save(df[:200], path, compressor=compressor, chunk_size=16, shard_size=64)
            gr.append(df[200:], path)
        assert gr.load(path).to_dict() == df.to_dict()
        rows = np.random.default_rng(1).permutation(300)[:50]
        assert gr.open(path, cache="none")[rows].to_dict() == rows_of(df, rows)
        gr.append(df[:10], path)  # the direct writer continues a zarr-written leaf
        assert gr.load(path)[300:].to_dict() == df[:10].to_dict()


# -- the reader suite, on both backends --------------------------------------------------


@pytest.mark.parametrize("compressor", ["none", "zstd", "blosc", "auto"])
def test_reader_suite(backend: str, compressor: str, tmp_path: Path) -> None:
    df = molecules(500, seed=3)
    path = tmp_path / "s"
    gr.save(df[:100], path, compressor=compressor, chunk_size=8, shard_size=32)
    for a in range(100, 500, 130):
        gr.append(df[a : a + 130], path)
    assert gr.load(path).to_dict() == df.to_dict()
    assert gr.validate(path) == []
    rng = np.random.default_rng(7)
    for cache in ("chunks", "none"):
        h = gr.open(path, cache=cache)
        for _ in range(4):
            rows = rng.choice(500, 40, replace=True)  # any order, repeats
            assert h[rows].to_dict() == rows_of(df, rows)
        assert h[499].to_dict() == rows_of(df, [499])
        assert h[["atom_x"]][rng.permutation(500)[:9]].to_dict()["atom_x"] is not None
        row = int(np.argmax([len(r) for r in df["atom_x"].to_list()]))
        got = h.read(row, ranges={"atom_x": slice(2, 5)}, columns=["atom_x"])
        assert got["atom_x"].to_list() == [df["atom_x"].to_list()[row][2:5]]
    # At an earlier commit: the first 230 rows, whatever was appended since.
    assert gr.Handle(path, rows=230).load().to_dict() == df[:230].to_dict()


def test_reader_suite_threads(backend: str, tmp_path: Path) -> None:
    df = molecules(400, seed=5)
    path = tmp_path / "s"
    gr.save(df, path, chunk_size=8, shard_size=16)
    h = gr.open(path)

    def work(seed: int) -> None:
        rng = np.random.default_rng(seed)
        for _ in range(20):
            rows = rng.choice(400, 16, replace=False)
            assert h[rows].to_dict() == rows_of(df, rows)

    assert run_threads(work, range(6)) == []


def test_memory_stores_are_small_and_read_back(backend: str) -> None:
    base = f"memory://sharding-{backend}-{os.getpid()}"
    df = molecules(3)
    gr.save(df, f"{base}/s.gr")
    fs = fsspec.filesystem("memory")
    total = sum(fs.size(f) for f in fs.find(f"/sharding-{backend}-{os.getpid()}/s.gr"))
    try:
        assert total <= 64 * 1024
        assert gr.load(f"{base}/s.gr").to_dict() == df.to_dict()
        assert gr.open(f"{base}/s.gr")[[2, 0]].to_dict() == rows_of(df, [2, 0])
    finally:
        fs.rm(f"/sharding-{backend}-{os.getpid()}", recursive=True)


def test_a_three_row_frame_is_a_few_kilobytes(tmp_path: Path) -> None:
    gr.save(molecules(3), tmp_path / "s")
    files = [Path(r) / f for r, _, fs in os.walk(tmp_path / "s") for f in fs]
    # 9 leaves: a 2 KiB shard index, about 600 bytes of zarr.json and a few bytes each
    assert sum(f.stat().st_size for f in files) <= 32 * 1024


def _row_and_item_frame(rows: int) -> Any:
    import pyarrow as pa

    rng = np.random.default_rng(rows)
    offsets = np.concatenate([[0], np.cumsum(rng.integers(10, 30, rows))]).astype(np.int64)
    codes = pa.array(rng.integers(0, 4, int(offsets[-1])).astype(np.int64))
    table = pa.table(
        {
            "row_id": pa.array(np.arange(rows, dtype=np.int64)),
            "item_code": pa.LargeListArray.from_arrays(pa.array(offsets), codes),
        }
    )
    return gr.from_arrow(table, schema=["row", "item"])


@pytest.mark.parametrize(
    ("rows", "codecs"),
    [
        # 80 KB of ids: "auto" keeps the row-level leaves raw, compresses the items (10 to
        # 29 a row of small integers: bit-shuffled LZ4 packs them tighter than zstd).
        (
            10_000,
            {
                "row_id/r-values": "raw",
                "_levels/item-offsets": "raw",
                "item_code/r.c-values": "blosc",
            },
        ),
        # Too few first values to judge: zstd everywhere (the chunk padding compresses away).
        (
            100,
            {
                "row_id/r-values": "zstd",
                "_levels/item-offsets": "zstd",
                "item_code/r.c-values": "zstd",
            },
        ),
    ],
)
def test_auto_keeps_row_level_leaves_raw(rows: int, codecs: dict[str, str], tmp_path: Path) -> None:
    df = _row_and_item_frame(rows)
    gr.save(df, tmp_path / "s")
    h = gr.open(tmp_path / "s", cache="none")
    assert {n: h._store.format(n).codec for n in h.manifest.leaves} == codecs
    assert h[[rows - 1, 0, rows // 2]].to_dict() == df[[rows - 1, 0, rows // 2]].to_dict()
    gr.save(df, tmp_path / "z", compressor="zstd")  # explicit: every leaf
    z = gr.open(tmp_path / "z")
    assert {z._store.format(n).codec for n in z.manifest.leaves} == {"zstd"}


def test_auto_keeps_leaves_of_few_values_a_row_raw(tmp_path: Path) -> None:
    import pyarrow as pa

    from grumpy_arrow.storage.writer import FEW_PER_ROW

    # 10,000 molecules of 1 to 8 residues (FEW_PER_ROW or fewer a molecule) of 10 to 19
    # atoms: the residue-level leaves are read a few values a row, so "auto" keeps them raw.
    rng = np.random.default_rng(7)
    n = 10_000
    residues = rng.integers(1, FEW_PER_ROW + 1, n)
    r_off = np.concatenate([[0], np.cumsum(residues)]).astype(np.int64)
    atoms = rng.integers(10, 20, int(r_off[-1]))
    a_off = np.concatenate([[0], np.cumsum(atoms)]).astype(np.int64)
    codes = pa.array(rng.integers(0, 4, int(r_off[-1])).astype(np.int64))
    x = pa.array(rng.integers(0, 5, int(a_off[-1])).astype(np.int64))
    table = pa.table(
        {
            "residue_code": pa.LargeListArray.from_arrays(pa.array(r_off), codes),
            "atom_x": pa.LargeListArray.from_arrays(
                pa.array(r_off), pa.LargeListArray.from_arrays(pa.array(a_off), x)
            ),
        }
    )
    df = gr.from_arrow(table, schema=["molecule", "residue", "atom"])
    gr.save(df, tmp_path / "s")
    h = gr.open(tmp_path / "s", cache="none")
    codecs = {n: h._store.format(n).codec for n in h.manifest.leaves}
    assert codecs == {
        "_levels/residue-offsets": "raw",
        "_levels/atom-offsets": "raw",
        "residue_code/r.c-values": "raw",
        "atom_x/r.c.c-values": "blosc",
    }
    rows = [n - 1, 0, 17, 17, 2500, 9000]
    assert h[rows].to_dict() == df[rows].to_dict()


def test_auto_takes_the_smaller_of_zstd_and_bit_shuffle() -> None:
    from grumpy_arrow.storage.zarr import choose_codec

    rng = np.random.default_rng(0)
    codes = rng.integers(0, 6, 50_000).astype(np.int32)  # dictionary indices
    assert choose_codec("auto", codes) == "bitshuffle"
    fmt = sh.plan_format("int32", "bitshuffle")
    assert (fmt.codec, fmt.blosc, fmt.chunk) == ("blosc", ("lz4", 5, "bitshuffle"), 1024)
    words = np.frombuffer(b"the quick brown fox jumps over the lazy dog " * 2000, np.uint8)
    assert choose_codec("auto", words) == "zstd"  # text
    assert choose_codec("auto", rng.random(50_000)) == "raw"  # noise: neither shrinks it
    assert choose_codec("auto", codes[:100]) == "zstd"  # too few to judge
    assert choose_codec("blosc", codes) == "blosc"  # named: as named


def test_files_are_bounded_by_the_data(tmp_path: Path) -> None:
    # 32 MB of raw float64 values: 8 shard files of 4 MiB, plus a constant.
    values = np.random.default_rng(0).random(4 * 1024 * 1024)
    gr.save(gr.array(values), tmp_path / "s", compressor="none")
    shards = os.listdir(tmp_path / "s" / "array" / "r-values" / "c")
    assert len(shards) == 8
    assert sum(len(fs) for _, _, fs in os.walk(tmp_path / "s")) <= 8 + 6


# -- appends ------------------------------------------------------------------------------


def _chunks_of(path: Path, fmt: sh.LeafFormat) -> list[bytes]:
    data = path.read_bytes()
    offsets, nbytes = sh.parse_index(fmt, data[-sh.index_bytes(fmt) :], len(data), str(path))
    return [
        data[o : o + n] for o, n in zip(offsets.tolist(), nbytes.tolist(), strict=True) if n >= 0
    ]


@pytest.mark.parametrize("compressor", ["none", "zstd"])
def test_appends_keep_committed_inner_chunks_and_grow_shapes_geometrically(
    compressor: str, tmp_path: Path
) -> None:
    path = tmp_path / "s"
    leaf = path / "array" / "r-values"
    gr.save(
        gr.array(np.arange(5, dtype=np.int64)),
        path,
        compressor=compressor,
        chunk_size=4,
        shard_size=64,
    )
    fmt = sh.parse_leaf_doc(json.loads((leaf / "zarr.json").read_text()), "leaf")
    docs = set()
    seen: list[bytes] = []
    for k in range(1, 40):
        before = _chunks_of(leaf / "c" / "0", fmt) if (leaf / "c" / "0").exists() else []
        gr.append(gr.array(np.arange(5 * k, 5 * k + 5, dtype=np.int64)), path)
        after = _chunks_of(leaf / "c" / "0", fmt)
        full = (5 * k) // 4  # inner chunks that were full before this append
        assert after[:full] == before[:full]
        docs.add((leaf / "zarr.json").read_text())
        seen = after
    assert gr.load(path).to_list() == list(range(200))
    assert len(seen) == 16  # shard 0 holds 64 values: 16 chunks of 4
    # Shapes 5, 10, 20, 40, 80, 160, 320: the metadata was rewritten 6 times in 39 appends.
    assert len(docs) == 6
    shape = json.loads((leaf / "zarr.json").read_text())["shape"][0]
    assert shape == 320 and zarr.open_array(str(path), path="array/r-values").shape == (320,)


def test_a_handle_cache_stays_right_across_appends(tmp_path: Path) -> None:
    path = tmp_path / "s"
    gr.save(gr.array([[1, 2], [3]]), path, compressor="zstd", chunk_size=4)
    h = gr.open(path)
    assert h[[1, 0]].to_list() == [[3], [1, 2]]  # the partly filled chunks are cached
    gr.append(gr.array([[4], [5, 6, 7]]), path)
    fresh = gr.open(path)
    fresh._cache = h._cache  # one cache, two commits: keys tell the partial chunks apart
    assert fresh[[3, 2, 0]].to_list() == [[5, 6, 7], [4], [1, 2]]
    assert h[[1, 0]].to_list() == [[3], [1, 2]]


# -- damage ------------------------------------------------------------------------------


@pytest.fixture
def damaged(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[tuple[Path, Path]]:
    """A store with a float leaf in shard files of 8 values (inner chunks of 4)."""
    path = tmp_path / "s"
    values = np.arange(40, dtype=np.float64) / 8
    gr.save(
        gr.array(values),
        path,
        compressor=getattr(request, "param", "none"),
        chunk_size=4,
        shard_size=8,
    )
    yield path, path / "array" / "r-values" / "c" / "1"


def _expect_damage(path: Path, *words: str, row: int = 9) -> None:
    calls = (
        lambda: gr.load(path),
        lambda: gr.open(path, cache="none")[[row, 2]],
        lambda: gr.open(path, cache="none")[row],  # one range: the single-row read
    )
    for call in calls:
        with pytest.raises(StoreFormatError) as info:
            call()
        text = str(info.value)
        assert str(path) in text and "array/r-values" in text, text
        for word in words:
            assert word in text, text
    assert any("array/r-values" in p for p in gr.validate(path))


@pytest.mark.parametrize("damaged", ["none", "zstd"], indirect=True)
def test_a_flipped_bit_in_an_inner_chunk_is_caught(damaged: tuple[Path, Path]) -> None:
    path, shard = damaged
    data = bytearray(shard.read_bytes())
    data[5] ^= 0x10  # inside inner chunk 0 of shard 1 (values 8..11)
    shard.write_bytes(bytes(data))
    _expect_damage(path, "shard 1", "chunk 0")


def test_an_index_pointing_past_the_file_is_refused(damaged: tuple[Path, Path]) -> None:
    path, shard = damaged
    data = bytearray(shard.read_bytes())
    fmt = sh.plan_format("float64", "raw", 4, 8)
    index = np.frombuffer(bytes(data[-sh.index_bytes(fmt) : -4]), "<u8").copy()
    index[2] = 1 << 40  # chunk 1's offset
    body = index.tobytes()
    data[-sh.index_bytes(fmt) :] = body + struct.pack("<I", sh.crc(body))
    shard.write_bytes(bytes(data))
    _expect_damage(path, "shard 1", "index entry 1")


def test_a_damaged_index_is_reported(damaged: tuple[Path, Path]) -> None:
    path, shard = damaged
    data = bytearray(shard.read_bytes())
    data[-7] ^= 1
    shard.write_bytes(bytes(data))
    _expect_damage(path, "shard 1", "truncated or damaged")


def test_a_zstd_frame_cannot_claim_more_than_a_chunk(tmp_path: Path) -> None:
    import zstandard

    path = tmp_path / "s"
    gr.save(
        gr.array(np.arange(16, dtype=np.int64)), path, compressor="zstd", chunk_size=4, shard_size=4
    )
    shard = path / "array" / "r-values" / "c" / "1"
    fmt = sh.plan_format("int64", "zstd", 4, 4)
    bomb = zstandard.ZstdCompressor().compress(bytes(1 << 24))  # 16 MiB of zeros
    chunk = bomb + struct.pack("<I", sh.crc(bomb))
    pieces, _, _ = sh.shard_bytes(fmt, [chunk])
    shard.write_bytes(b"".join(pieces))
    _expect_damage(path, "shard 1", "chunk 0", "claims 16777216 bytes", row=5)


# -- dictionaries ---------------------------------------------------------------------------


def test_low_cardinality_strings_are_dictionary_encoded(tmp_path: Path) -> None:
    df = molecules(400)
    gr.save(df, tmp_path / "s")
    doc = json.loads((tmp_path / "s" / "grumpy.json").read_text())
    layouts = {c["name"]: c["layout"] for c in doc["columns"]}
    leaf = layouts["atom_el"]["content"]
    assert leaf["indices"] == "atom_el/r.c-indices"
    assert doc["leaves"]["atom_el/r.c-indices"]["dtype"] == "int32"
    assert doc["leaves"]["atom_el/r.c-data"]["length"] == 5  # "CHONS"
    assert doc["leaves"]["atom_el/r.c-offsets"] == {"dtype": "int64", "length": 6, "last": 5}
    assert gr.load(tmp_path / "s").to_dict() == df.to_dict()
    gr.save(df, tmp_path / "plain", dictionary=False)
    plain = json.loads((tmp_path / "plain" / "grumpy.json").read_text())
    assert "indices" not in plain["columns"][3]["layout"]["content"]
    gr.save(df[:3], tmp_path / "forced", dictionary=["atom_el"])
    forced = json.loads((tmp_path / "forced" / "grumpy.json").read_text())
    assert forced["columns"][3]["layout"]["content"]["indices"] == "atom_el/r.c-indices"
    assert gr.load(tmp_path / "forced").to_dict() == df[:3].to_dict()


def test_a_store_created_empty_decides_dictionaries_at_its_first_rows(tmp_path: Path) -> None:
    df = molecules(400)
    path = tmp_path / "s"
    gr.save(df[0:0], path)
    assert json.loads((path / "grumpy.json").read_text())["dictionary"] == "auto"
    gr.append(df[:200], path)
    doc = json.loads((path / "grumpy.json").read_text())
    assert "dictionary" not in doc  # decided
    assert doc["columns"][3]["layout"]["content"]["indices"] == "atom_el/r.c-indices"
    assert doc["leaves"]["atom_el/r.c-data"]["length"] == 5  # "CHONS", once each
    gr.append(df[200:], path)
    assert gr.load(path).to_dict() == df.to_dict()
    assert gr.open(path)[[399, 0, 201]].to_dict() == rows_of(df, [399, 0, 201])
    assert gr.validate(path) == []
    # An explicit choice is kept; too few first rows decide "plain", as a save's would.
    for name, option, first in (("off", False, 0), ("few", None, 3)):
        gr.save(df[0:first], tmp_path / name, dictionary=option)
        gr.append(df[first:], tmp_path / name)
        doc = json.loads((tmp_path / name / "grumpy.json").read_text())
        assert "indices" not in doc["columns"][3]["layout"]["content"], name
        assert "dictionary" not in doc, name
        assert gr.load(tmp_path / name).to_dict() == df.to_dict()


def test_a_hostile_pending_dictionary_field_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "s"
    gr.save(molecules(3)[0:0], path)
    doc = json.loads((path / "grumpy.json").read_text())
    doc["dictionary"] = ["atom_el"]
    (path / "grumpy.json").write_text(json.dumps(doc))
    with pytest.raises(StoreFormatError, match=r"field 'dictionary'.*'auto' \(or absent\)"):
        gr.open(path)


def test_dictionaries_grow_on_append_and_keep_their_indices(tmp_path: Path) -> None:
    path = tmp_path / "s"
    first = ["C", "H", None, "O"] * 100
    gr.save(gr.dataframe({"m_el": first}, schema=["m"]), path)
    more = ["Fe", "C", "Zn", None, "Fe"]
    gr.append(gr.dataframe({"m_el": more}, schema=["m"]), path)
    assert gr.load(path)["m_el"].to_list() == first + more
    doc = json.loads((path / "grumpy.json").read_text())
    assert bytes(zarr.open_array(str(path), path="m_el/r-data")[:7]) == b"CHOFeZn"
    assert doc["leaves"]["m_el/r-offsets"]["last"] == 7
    h = gr.open(path)
    assert h[[401, 2, 403, 0]]["m_el"].to_list() == ["C", None, None, "C"]
    assert gr.Handle(path, rows=400).load()["m_el"].to_list() == first


def _encoded_leaf(arr: gr.GrumpyArray) -> Any:
    node = arr.node
    while not hasattr(node, "encoded"):
        node = node.content
    return node.encoded


@pytest.mark.parametrize("cache", ["chunks", "none"])
def test_dictionary_leaves_stay_encoded_in_memory(cache: str, tmp_path: Path) -> None:
    import pickle

    import pyarrow as pa

    path = tmp_path / "s"
    df = molecules(800, seed=4)
    gr.save(df, path)
    h = gr.open(path, cache=cache)
    rows = [799, 3, 3, 400, 0]
    for got, want in ((h[rows], df[rows]), (gr.load(path), df)):
        el = got["atom_el"]
        enc = _encoded_leaf(el)
        assert enc.type == pa.dictionary(pa.int32(), pa.string())  # the width it was saved with
        assert enc.dictionary.to_pylist() == ["C", "H", "O", "N", "S"]
        assert str(el.dtype) == "string" and el.type == want["atom_el"].type
        # Exports give the saved type by default (equal tables), the codes on request.
        assert got.to_arrow().equals(want.to_arrow())
        kept = el.to_arrow(dictionaries="keep")
        assert kept.type == pa.large_list(enc.type)
        assert kept.to_pylist() == want["atom_el"].to_list()
        table = got.to_arrow(dictionaries="keep")
        assert table.schema.field("atom_el").type == kept.type
        assert table.schema.field("mol_id").type == pa.int64()
        # Compute sees the strings.
        assert (el == "O").to_list() == (want["atom_el"] == "O").to_list()
        assert el.unique().to_list() == want["atom_el"].unique().to_list()
        back = pickle.loads(pickle.dumps(el))
        assert _encoded_leaf(back).equals(enc) and back.to_list() == el.to_list()
    with pytest.raises(ValueError, match="dictionaries must be 'decode' or 'keep', got 'x'"):
        gr.load(path).to_arrow(dictionaries="x")
    # A loaded (encoded) frame appends like any other and reads back exactly.
    gr.append(gr.load(path)[10:20], path)
    assert gr.load(path)[800:].to_dict() == df[10:20].to_dict()


def test_only_text_dictionaries_stay_encoded() -> None:
    import pyarrow as pa

    from grumpy_arrow import layout as lay

    ints = lay.Leaf(pa.array([7, 8, 7]).dictionary_encode())
    assert ints.encoded is None and ints.values.to_pylist() == [7, 8, 7]
    words = lay.Leaf(pa.array(["a", None, "a"]).dictionary_encode())
    assert words.encoded is not None and len(words) == 3
    assert words.values.to_pylist() == ["a", None, "a"]
    assert lay.to_arrow(words).type == pa.dictionary(pa.int32(), pa.string())
    assert lay.to_arrow(words, dictionaries=False).type == pa.string()


def test_an_index_outside_the_dictionary_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "s"
    gr.save(gr.dataframe({"m_el": ["C", "H"] * 200}, schema=["m"]), path, compressor="none")
    arr = zarr.open_array(str(path), path="m_el/r-indices", mode="r+")
    arr[7] = 2  # the dictionary has 2 entries
    for call in (lambda: gr.load(path), lambda: gr.open(path)[[7]]):
        with pytest.raises(StoreFormatError, match=r"m_el/r-indices.*holds 2 at position 7"):
            call()


# -- upgrade ------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(STORES))
def test_upgrade_rewrites_golden_stores_in_version_2(name: str, tmp_path: Path) -> None:
    path = golden_copy(tmp_path, name)
    before = gr.load(path)
    report = gr.upgrade(path)
    assert report.upgraded and not report.current
    after = gr.load(path)
    assert type(after) is type(before)
    if isinstance(before, gr.DataFrame):
        assert after.schema == before.schema and after.columns == before.columns
        assert after.to_dict() == before.to_dict()
        assert [str(after[c].dtype) for c in after.columns] == [
            str(before[c].dtype) for c in before.columns
        ]
    else:
        assert after.to_list() == before.to_list() and str(after.dtype) == str(before.dtype)
    manifests = [p for p in path.rglob("grumpy.json")]
    assert all(json.loads(p.read_text())["version"] == 2 for p in manifests)
    assert gr.validate(path) == []
    assert gr.upgrade(path).upgraded == ()  # nothing left to do


def test_upgrade_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = golden_copy(tmp_path, "frame.gr")
    assert main(["upgrade", str(path)]) == 0
    assert capsys.readouterr().out == f"{path}: rewrote 1 store(s) in format version 2\n"
    assert main(["upgrade", str(path)]) == 0
    assert capsys.readouterr().out == f"{path}: already format version 2; nothing to do\n"


def test_handles_of_stores_and_sharded_datasets_are_store_readers(tmp_path: Path) -> None:
    from grumpy_arrow.storage.reader import StoreReader

    df = molecules(30)
    gr.save(df, tmp_path / "one.gr")
    gr.save(df, tmp_path / "many.gr", shard_rows=7)
    one, many = gr.open(tmp_path / "one.gr"), gr.open(tmp_path / "many.gr")
    assert isinstance(one, gr.Handle) and isinstance(many, gr.ShardedHandle)
    members = [m for m in vars(StoreReader) if not m.startswith("_")] + ["__len__"]
    for reader in (one, many):
        assert isinstance(reader, StoreReader)
        assert all(hasattr(type(reader), m) for m in members)
        assert reader[[29, 3]].to_dict() == rows_of(df, [29, 3])
        assert reader.read(3).to_dict() == rows_of(df, [3])


def test_loads_of_shards_with_more_chunks_than_one_read_call_takes(tmp_path: Path) -> None:
    # chunk_size alone: 1024 inner chunks per shard file, 2048 buffers (IOV_MAX is 1024).
    values = np.arange(3000, dtype=np.int64)
    gr.save(gr.array(values), tmp_path / "s", compressor="none", chunk_size=2)
    fmt = sh.parse_leaf_doc(
        json.loads((tmp_path / "s" / "array" / "r-values" / "zarr.json").read_text()), "leaf"
    )
    assert fmt.per_shard == 1024
    assert gr.load(tmp_path / "s").to_list() == values.tolist()


def test_threads_verify_every_mapped_chunk(tmp_path: Path) -> None:
    """Threads reading one mapped shard at once still verify each chunk: damage in the
    last chunk read is caught whatever the interleaving."""
    values = np.arange(64 * 100, dtype=np.int64)
    gr.save(gr.array(values), tmp_path / "s", compressor="none", chunk_size=64, shard_size=64 * 100)
    shard = tmp_path / "s" / "array" / "r-values" / "c" / "0"
    data = bytearray(shard.read_bytes())
    data[99 * (64 * 8 + 8) + 3] ^= 1  # inside inner chunk 99
    shard.write_bytes(bytes(data))
    h = gr.open(tmp_path / "s", cache="none")

    def work(seed: int) -> None:
        rng = np.random.default_rng(seed)
        for _ in range(30):
            h.take(rng.choice(64 * 99, 8, replace=False))  # chunks 0..98: sound

    assert run_threads(work, range(4)) == []
    with pytest.raises(StoreFormatError, match="shard 0 chunk 99"):
        h.take([64 * 99 + 5])


@pytest.mark.parametrize("compressor", ["none", "zstd"])
def test_resident_leaves_follow_appends(compressor: str, tmp_path: Path) -> None:
    path = tmp_path / "s"
    first = _row_and_item_frame(5_000)
    gr.save(first, path, compressor=compressor)
    h = gr.open(path)
    rows = [4_999, 7, 2_500, 7]
    for _ in range(4):  # the third read makes every leaf resident
        assert h[rows].to_dict() == first[rows].to_dict()
    assert h.stats()["bytes_read"] > 0 and h._cache is not None
    assert any(key[0].endswith("@all#5000") for key in h._cache._lru.items)
    more = _row_and_item_frame(300)
    gr.append(more, path)
    h2 = gr.open(path)
    h2._cache = h._cache  # one cache across the commit: resident keys hold their length
    for _ in range(4):
        got = h2[[5_299, 4_999, 5_000]]
        assert got["row_id"].to_list() == [299, 4_999, 0]
        assert got["item_code"].to_list() == [
            more["item_code"][299].to_list(),
            first["item_code"][4_999].to_list(),
            more["item_code"][0].to_list(),
        ]
    assert any(key[0].endswith("@all#5300") for key in h._cache._lru.items)


@pytest.mark.parametrize(
    "values",
    [
        [7, 3, 3, 9, 7, 4],  # a narrow span: flags and a running count
        [5, 1_000_000, 5, 12],  # a wide one: np.unique
        [42],
    ],
)
def test_unique_inverse_is_np_unique(values: list[int]) -> None:
    from grumpy_arrow.storage.local import unique_inverse

    arr = np.array(values, dtype=np.int64)
    found, inverse = unique_inverse(arr)
    want, want_inverse = np.unique(arr, return_inverse=True)
    assert found.tolist() == want.tolist() and inverse.tolist() == want_inverse.tolist()
    assert found[inverse].tolist() == values


def test_rows_in_any_order_with_repeats_read_exactly(tmp_path: Path) -> None:
    base = _row_and_item_frame(20_000)
    codes = base["item_code"]
    # Three leaves of the item level: two of one geometry (one read plan, shared), one
    # of another (float32: twice the values per chunk and shard).
    df = gr.dataframe(
        {
            "row_id": base["row_id"],
            "item_code": codes,
            "item_twice": codes * 2,
            "item_half": (codes / 2).astype("float32"),
        },
        schema=["row", "item"],
    )
    for compressor in ("none", "zstd"):
        gr.save(df, tmp_path / compressor, compressor=compressor, chunk_size=256, shard_size=1024)
        h = gr.open(tmp_path / compressor, cache="none")
        rows = [19_999, 3, 3, 15_000, 0, 19_999, 7_777, 7_778, 7_779, 2]
        assert h[rows].to_dict() == df[rows].to_dict()


@pytest.mark.parametrize(
    ("soft", "want"), [(1024, 128), (20_000, 2500), (100_000, 4096), (100, 64)]
)
def test_open_shard_limit_follows_the_descriptor_limit(
    soft: int, want: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    import resource

    from grumpy_arrow.storage.local import open_limit

    monkeypatch.setattr(resource, "getrlimit", lambda _: (soft, 1 << 20))
    assert open_limit() == want


def test_out_of_descriptors_closes_idle_shards_and_reads_on(tmp_path: Path) -> None:
    """Many stores open at once under a low descriptor limit (the shards of a sharded
    dataset): an open that finds no descriptor closes idle shards everywhere and goes on."""
    import resource

    df = _row_and_item_frame(4_000)
    paths = []
    for i in range(12):
        paths.append(tmp_path / f"s{i}")
        gr.save(df, paths[-1], compressor="none", chunk_size=64, shard_size=64)
    from grumpy_arrow.storage.local import _release_idle

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    handles = [gr.open(p, cache="none") for p in paths]  # each may keep 2500 shards open
    _release_idle()  # what earlier tests of this process left open
    used = len(os.listdir("/proc/self/fd")) if os.path.isdir("/proc/self/fd") else 64
    spare = max(400, used)
    resource.setrlimit(resource.RLIMIT_NOFILE, (used + spare, hard))
    try:
        # 12 stores of 190 shard files each (two descriptors per open shard, 2280 files):
        # an eighth of the limit, at most spare / 4 open shards in all, shared between the
        # stores that hold some, leaves half the spare descriptors free.
        for h in handles:
            assert h.load().to_dict() == df.to_dict()
        assert handles[0][[3_999, 5]].to_dict() == df[[3_999, 5]].to_dict()
        # Bounded near the budget (an eighth of the limit): a store keeps the share it had
        # when it last opened a shard; the others are trimmed to theirs by each opener.
        budget = (used + spare) // 8
        assert sum(len(h._store.shards._open) for h in handles) <= budget + budget // 4
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def test_whole_raw_leaves_read_their_shards_in_parallel(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from grumpy_arrow.storage import local

    monkeypatch.setattr(local, "PARALLEL_BYTES", 0)  # every leaf of several shards
    monkeypatch.setattr(local, "READ_THREADS", 3)
    values = np.random.default_rng(0).random(100_000)
    path = tmp_path / "s"
    gr.save(gr.array(values), path, compressor="none", chunk_size=1000, shard_size=10_000)
    assert len(os.listdir(path / "array" / "r-values" / "c")) == 10
    assert gr.load(path).to_numpy().tolist() == values.tolist()
    # A flipped byte in shard 7 is named, whichever thread read it.
    shard = path / "array" / "r-values" / "c" / "7"
    data = bytearray(shard.read_bytes())
    data[100] ^= 0xFF
    shard.write_bytes(bytes(data))
    with pytest.raises(StoreFormatError, match="leaf 'array/r-values' shard 7 chunk 0: checksum"):
        gr.load(path)


def test_single_rows_and_runs_of_raw_leaves_are_slices_of_the_map(tmp_path: Path) -> None:
    """One range of a raw leaf (a single row, a run of rows) is copied from the shard's
    map chunk by chunk: inside one inner chunk, across chunks of a shard, and across
    shard files (the planned path), every value exact."""
    from grumpy_arrow.storage import local

    values = np.arange(100, dtype=np.int32) * 3 - 50
    path = tmp_path / "raw.gr"
    gr.save(gr.array(values), path, compressor="none", chunk_size=4, shard_size=16)
    h = gr.open(path, cache="none")
    sliced: list[tuple[int, int]] = []
    real = local.LocalShards._slice_raw

    def spy(self: local.LocalShards, name: str, fmt: object, a: int, b: int, gap: int) -> object:
        out = real(self, name, fmt, a, b, gap)  # type: ignore[arg-type]
        if out is not None:
            sliced.append((a, b))
        return out

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(local.LocalShards, "_slice_raw", spy)
        for i in (0, 3, 4, 15, 16, 57, 99):
            assert h[i] == values[i]
        for a, b in ((0, 4), (1, 3), (2, 11), (16, 32), (5, 16), (14, 18), (0, 100), (40, 40)):
            got = h[a:b].to_numpy()
            assert got.dtype == np.int32 and got.tolist() == values[a:b].tolist(), (a, b)
    # Ranges inside one shard file took the slice path; those crossing one did not.
    assert (57, 58) in sliced and (2, 11) in sliced and (16, 32) in sliced
    assert (14, 18) not in sliced and (0, 100) not in sliced


@pytest.mark.parametrize("cache", ["none", "chunks"])
@pytest.mark.parametrize("compressor", ["zstd", "blosc"])
def test_single_ranges_of_compressed_leaves(compressor: str, cache: str, tmp_path: Path) -> None:
    """One range of a compressed leaf decodes the inner chunks it spans, in order, and
    copies its part of them: inside a chunk, across chunks and shard files, the last
    value, with the chunk cache on (the same range twice: hits) and off."""
    values = np.arange(203, dtype=np.float64) / 4 - 7
    path = tmp_path / f"{compressor}.gr"
    gr.save(gr.array(values), path, compressor=compressor, chunk_size=8, shard_size=32)
    h = gr.open(path, cache=cache)
    for i in (0, 7, 8, 31, 32, 100, 202):
        assert h[i] == values[i]
    for a, b in ((0, 8), (3, 5), (6, 19), (30, 34), (17, 96), (0, 203), (200, 203)):
        for _ in range(2):
            got = h[a:b].to_numpy()
            assert got.tolist() == values[a:b].tolist(), (a, b)
    if cache == "chunks":
        assert h.stats()["cache_hits"] > 0


def test_long_ranges_of_raw_leaves_are_copied_range_by_range(tmp_path: Path) -> None:
    """Rows of long lists (64 values or more on average) read from a raw leaf copy each
    range from the shard maps; a request with a range that crosses a shard file takes the
    planned path whole. Rows in any order, repeated, every value exact."""
    from grumpy_arrow.storage import local

    rng = np.random.default_rng(12)
    lengths = rng.integers(60, 140, 300)
    rows = [np.arange(int(n), dtype=np.int32) + 1000 * i for i, n in enumerate(lengths)]
    path = tmp_path / "lists.gr"
    gr.save(gr.array(rows), path, compressor="none", chunk_size=32, shard_size=1024)
    h = gr.open(path, cache="none")
    calls: list[int] = []
    real = local.LocalShards._slice_raw

    def spy(self: local.LocalShards, *args: object) -> object:
        calls.append(1)
        return real(self, *args)  # type: ignore[arg-type]

    offsets = np.concatenate([[0], np.cumsum(lengths)])
    crossing = [i for i in range(300) if offsets[i] // 1024 != (offsets[i + 1] - 1) // 1024]
    inside = [i for i in range(300) if i not in crossing]
    assert crossing and len(inside) > 200
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(local.LocalShards, "_slice_raw", spy)
        for pick in (
            rng.choice(inside, 12, replace=False),
            np.array([inside[5], inside[5], inside[0], inside[-1]]),
            np.array([inside[3], crossing[0], inside[9]]),  # crosses a shard: planned
        ):
            before = len(calls)
            got = h.take(pick)
            assert got.to_list() == [rows[i].tolist() for i in pick], pick
            assert len(calls) > before  # the value leaf went range by range first
