"""Decimal-scaled float leaves (``storage/decimals.py``).

- the codec: which floats scale, at how many places, and that what scales comes back bit
  for bit (``-0.0`` included, NaN, infinities and too many digits refused);
- stores: ``compressor="auto"`` scales float leaves of a few decimals (int32 / int64 in
  the Zarr array, the scale in its attributes, plain Zarr reads the integers), loads and
  lazy reads give back the exact floats through both backends;
- an append the leaf cannot hold converts it once, under a new name, and a failed or
  killed conversion leaves the committed store whole;
- hostile attributes and Blosc frames are refused with the leaf named.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pytest
import zarr

import grumpy_arrow as gr
from grumpy_arrow.errors import StoreFormatError
from grumpy_arrow.storage import decimals
from grumpy_arrow.storage import sharding as sh
from grumpy_arrow.storage.zarr import LeafStore, choose_decimals

I32_MIN = -(2**31)


def bits(x: np.ndarray) -> list[int]:
    return x.view(f"u{x.dtype.itemsize}").tolist()


def coords(n: int, seed: int = 0, dtype: str = "float32") -> np.ndarray:
    """Coordinates of three decimals, as a PDB file has them."""
    rng = np.random.default_rng(seed)
    return np.round(rng.uniform(-50.0, 50.0, n), 3).astype(dtype)


def ragged(values: np.ndarray, per_row: int = 10) -> gr.GrumpyArray:
    offsets = np.arange(0, len(values) + 1, per_row, dtype=np.int64)
    assert offsets[-1] == len(values)
    return gr.from_arrow(pa.LargeListArray.from_arrays(pa.array(offsets), pa.array(values)))


def flat_values(x: Any) -> np.ndarray:
    return np.asarray(x.to_arrow().flatten().to_numpy(zero_copy_only=False))


def leaf_doc(path: Path, name: str) -> dict[str, Any]:
    return json.loads((path / name / "zarr.json").read_text())


def manifest(path: Path) -> dict[str, Any]:
    return json.loads((path / "grumpy.json").read_text())


# -- the codec ------------------------------------------------------------------------------


def test_encode_gives_the_scaled_integers() -> None:
    x = np.array([1.5, -0.0, 0.0, 2.25, -3.75, 1e6], dtype=np.float32)
    assert decimals.find(x) == 2
    assert decimals.encode(x, 2).tolist() == [150, I32_MIN, 0, 225, -375, 100_000_000]
    assert decimals.encode(x, 1) is None  # 2.25 needs two places
    assert bits(decimals.decode(decimals.encode(x, 2), 2, "float32")) == bits(x)
    assert decimals.encode(x, 2).dtype == np.dtype("<i4")
    assert decimals.encode(x.astype(np.float64), 2).dtype == np.dtype("<i8")


def test_negative_zero_is_kept() -> None:
    x = np.array([-0.0, 0.0, -0.0], dtype=np.float64)
    q = decimals.encode(x, 0)
    assert q.tolist() == [-(2**63), 0, -(2**63)]
    back = decimals.decode(q, 0, "float64")
    assert np.signbit(back).tolist() == [True, False, True]


@pytest.mark.parametrize(
    "value",
    [np.nan, np.inf, -np.inf, 1e-40, 0.1234567, 3e9],
    ids=["nan", "inf", "-inf", "subnormal", "7-places", "past-int32"],
)
def test_floats_that_do_not_scale(value: float) -> None:
    x = np.array([1.5, value], dtype=np.float32)
    assert decimals.find(x) is None
    assert all(decimals.encode(x, d) is None for d in range(decimals.MAX_DECIMALS + 1))


def test_float64_beyond_2_to_53_does_not_scale() -> None:
    assert decimals.find(np.array([2.0**53], dtype=np.float64)) == 0
    assert decimals.find(np.array([2.0**54], dtype=np.float64)) is None
    assert decimals.find(np.array([1, 2], dtype=np.int64)) is None  # not a float


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("places", [0, 1, 3, 6])
def test_whatever_scales_comes_back_bit_for_bit(dtype: str, places: int) -> None:
    rng = np.random.default_rng(places)
    scale = 10.0 ** rng.integers(-2, 3, 20_000)  # float32 at 6 places: |q| < 2**31
    x = (np.round(rng.standard_normal(20_000) * scale, places)).astype(dtype)
    x[::997] = -0.0
    found = decimals.find(x)
    assert found is not None and found <= places
    q = decimals.encode(x, found)
    assert q is not None
    assert bits(decimals.decode(q, found, dtype)) == bits(x)
    # One value with a digit more: the leaf no longer scales at those places.
    y = x.copy()
    y[123] = np.asarray(0.5 * 10.0**-found + 1.0, dtype=dtype)
    if decimals.encode(y[123:124], found) is None:
        assert decimals.encode(y, found) is None


def test_random_floats_never_scale() -> None:
    rng = np.random.default_rng(5)
    assert decimals.find(rng.standard_normal(4096).astype(np.float32)) is None
    assert decimals.find(rng.uniform(0, 1, 4096)) is None


def test_choose_decimals_rules() -> None:
    x = coords(4096)
    assert choose_decimals("auto", x) == 3
    assert choose_decimals("auto", x, row_level=True) is None  # a row reads a few bytes
    for other in ("none", "zstd", "blosc"):
        assert choose_decimals(other, x) is None
    assert choose_decimals("auto", x[:255]) is None  # too few to judge
    assert choose_decimals("auto", x[:256]) == 3
    rng = np.random.default_rng(0)
    # float32 in [99, 100) scale at 6 places, to 20 bits of 32: worth it.
    assert choose_decimals("auto", rng.uniform(99, 100, 4096).astype(np.float32)) == 6
    # float32 in [1000, 2000) scale at 5 places, but their integers do not compress.
    wide = rng.uniform(1000, 2000, 4096).astype(np.float32)
    assert decimals.find(wide) == 5
    assert choose_decimals("auto", wide) is None


# -- stores -----------------------------------------------------------------------------


@pytest.fixture(params=["direct", "zarr"])
def backend(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    if request.param == "zarr":
        monkeypatch.setattr(LeafStore, "direct", lambda self, name: False)
    return str(request.param)


def test_a_coordinate_column_is_stored_scaled(tmp_path: Path, backend: str) -> None:
    x = coords(50_000)
    x[7] = -0.0
    path = tmp_path / "s"
    gr.save(ragged(x), path)
    doc = leaf_doc(path, "array/r.c-values")
    assert doc["data_type"] == "int32"
    assert doc["attributes"] == {
        "grumpy": {"decimal_scaled": {"dtype": "float32", "decimals": 3, "negative_zero": I32_MIN}}
    }
    inner = doc["codecs"][0]["configuration"]["codecs"]
    assert [c["name"] for c in inner] == ["bytes", "blosc", "crc32c"]
    assert inner[1]["configuration"]["shuffle"] == "bitshuffle"
    assert manifest(path)["leaves"]["array/r.c-values"] == {"dtype": "float32", "length": 50_000}
    assert bits(flat_values(gr.load(path))) == bits(x)
    for cache in ("none", "chunks"):
        h = gr.open(path, cache=cache)
        for rows in ([4999, 0, 17], [0], list(range(0, 5000, 7))):
            want = np.concatenate([x[10 * r : 10 * r + 10] for r in rows])
            assert bits(flat_values(h[rows])) == bits(want), (cache, rows)
    # Plain Zarr reads the integers; the attributes say how to make them floats.
    q = zarr.open_group(str(path), mode="r")["array/r.c-values"][:50_000]
    assert q.tolist() == decimals.encode(x, 3).tolist()
    assert q[7] == I32_MIN and q[0] == round(float(x[0]) * 1000)
    assert gr.validate(path) == []


def test_scaled_leaves_are_much_smaller(tmp_path: Path) -> None:
    x = coords(200_000)
    gr.save(ragged(x), tmp_path / "auto")
    gr.save(ragged(x), tmp_path / "zstd", compressor="zstd")

    def size(p: Path) -> int:
        return sum(f.stat().st_size for f in (p / "array" / "r.c-values" / "c").iterdir())

    assert size(tmp_path / "auto") < 0.7 * size(tmp_path / "zstd")
    assert size(tmp_path / "zstd") > 0.85 * x.nbytes  # bytes of floats barely compress


def test_float64_and_nulls(tmp_path: Path) -> None:
    x = np.round(np.linspace(-1000, 1000, 3000), 2)
    arr = pa.LargeListArray.from_arrays(
        pa.array(np.arange(0, 3001, 12)), pa.array(x, mask=np.arange(3000) % 7 == 0)
    )  # 12 values a row: more than writer.FEW_PER_ROW, so "auto" compresses them
    gr.save(gr.from_arrow(arr), tmp_path / "s")
    doc = leaf_doc(tmp_path / "s", "array/r.c-values")
    assert doc["data_type"] == "int64"
    assert doc["attributes"]["grumpy"]["decimal_scaled"]["decimals"] == 2
    got = gr.load(tmp_path / "s").to_arrow()
    assert got.equals(arr)
    assert gr.open(tmp_path / "s")[[249, 0]].to_arrow().equals(arr.take([249, 0]))


def test_columns_that_stay_floats(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    noisy = rng.standard_normal(5000).astype(np.float32)
    with_nan = coords(5000)
    with_nan[10] = np.nan
    df = gr.dataframe(
        {
            "row_top": coords(500),
            "item_noisy": ragged(noisy, 10),
            "item_nan": ragged(with_nan, 10),
        },
        schema=["row", "item"],
    )
    gr.save(df, tmp_path / "s")
    for name in ("row_top/r-values", "item_noisy/r.c-values", "item_nan/r.c-values"):
        assert leaf_doc(tmp_path / "s", name)["data_type"] == "float32", name
    gr.save(df, tmp_path / "z", compressor="zstd")
    for name in ("row_top/r-values", "item_noisy/r.c-values", "item_nan/r.c-values"):
        assert leaf_doc(tmp_path / "z", name)["data_type"] == "float32", name
    got = gr.load(tmp_path / "s")
    assert bits(got["row_top"].to_numpy()) == bits(df["row_top"].to_numpy())
    assert bits(flat_values(got["item_noisy"])) == bits(noisy)
    assert bits(flat_values(got["item_nan"])) == bits(with_nan)


def test_memory_store_scaled() -> None:
    x = coords(3000)
    url = f"memory://decimals-{os.getpid()}/s"
    gr.save(ragged(x), url)
    assert zarr.open_group(url, mode="r")["array/r.c-values"].dtype == np.dtype("int32")
    assert bits(flat_values(gr.load(url))) == bits(x)
    assert bits(flat_values(gr.open(url)[[299, 3]])) == bits(
        np.concatenate([x[2990:3000], x[30:40]])
    )


# -- appends ----------------------------------------------------------------------------


def test_appends_that_scale_keep_the_leaf(tmp_path: Path) -> None:
    path = tmp_path / "s"
    x = coords(5000)
    gr.save(ragged(x), path)
    more = coords(2000, seed=1)
    gr.append(ragged(more), path)
    assert "array/r.c-values" in manifest(path)["leaves"]
    assert bits(flat_values(gr.load(path))) == bits(np.concatenate([x, more]))


def test_an_append_with_more_places_converts_the_leaf_once(tmp_path: Path) -> None:
    path = tmp_path / "s"
    x = coords(5000)
    gr.save(ragged(x), path)
    finer = np.round(np.linspace(-1, 1, 1000), 4).astype(np.float32)
    gr.append(ragged(finer), path)
    doc = manifest(path)
    assert doc["columns"][0]["layout"]["content"]["values"] == "array/r.c~1-values"
    assert sorted(doc["leaves"]) == ["array/r-offsets", "array/r.c~1-values"]
    assert sorted(os.listdir(path / "array")) == ["r-offsets", "r.c~1-values", "zarr.json"]
    assert leaf_doc(path, "array/r.c~1-values")["attributes"]["grumpy"]["decimal_scaled"] == {
        "dtype": "float32",
        "decimals": 4,
        "negative_zero": I32_MIN,
    }
    # Noise next: no places hold it, so the leaf becomes plain floats (a second rename).
    noise = np.random.default_rng(2).standard_normal(1000).astype(np.float32)
    gr.append(ragged(noise), path)
    doc = manifest(path)
    assert doc["columns"][0]["layout"]["content"]["values"] == "array/r.c~2-values"
    assert leaf_doc(path, "array/r.c~2-values")["data_type"] == "float32"
    assert leaf_doc(path, "array/r.c~2-values")["attributes"] == {}
    # ...and later appends go to that leaf as they are.
    gr.append(ragged(coords(100, seed=3)), path)
    assert manifest(path)["columns"][0]["layout"]["content"]["values"] == "array/r.c~2-values"
    want = np.concatenate([x, finer, noise, coords(100, seed=3)])
    assert bits(flat_values(gr.load(path))) == bits(want)
    h = gr.open(path, cache="none")
    assert bits(flat_values(h[[500, 0, 709]])) == bits(
        np.concatenate([want[5000:5010], want[:10], want[7090:7100]])
    )
    assert gr.validate(path) == []


def test_a_frame_column_converted_among_others(tmp_path: Path) -> None:
    path = tmp_path / "s"
    n = 400
    df = gr.dataframe(
        {
            "mol_id": list(range(n)),
            "atom_x": ragged(coords(n * 10), 10),
            "atom_y": ragged(coords(n * 10, 1), 10),
        },
        schema=["mol", "atom"],
    )
    gr.save(df, path)
    odd = gr.dataframe(
        {
            "mol_id": [n],
            "atom_x": ragged(np.full(10, 0.1234567, dtype=np.float32)),
            "atom_y": ragged(np.full(10, 1.5, dtype=np.float32)),
        },
        schema=["mol", "atom"],
    )
    gr.append(odd, path)
    names = {c["name"]: c["layout"]["content"]["values"] for c in manifest(path)["columns"][1:]}
    assert names == {"atom_x": "atom_x/r.c~1-values", "atom_y": "atom_y/r.c-values"}
    assert gr.load(path).to_dict() == gr.concat([df, odd]).to_dict()


def test_a_failed_conversion_leaves_the_store_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "s"
    x = coords(5000)
    gr.save(ragged(x), path)
    before = (path / "grumpy.json").read_bytes()

    def refuse(self: LeafStore, name: str, data: bytes, **kw: Any) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(LeafStore, "write_atomic", refuse)
    with pytest.raises(Exception, match="disk full"):
        gr.append(ragged(np.full(10, 0.1234567, dtype=np.float32)), path)
    monkeypatch.undo()
    assert (path / "grumpy.json").read_bytes() == before
    assert bits(flat_values(gr.load(path))) == bits(x)
    assert gr.validate(path) == []
    # The next append converts again, over what the failed one left.
    gr.append(ragged(np.full(10, 0.1234567, dtype=np.float32)), path)
    want = np.concatenate([x, np.full(10, 0.1234567, dtype=np.float32)])
    assert bits(flat_values(gr.load(path))) == bits(want)
    assert gr.validate(path) == []


_KILLED_CHILD = """
import sys, numpy as np, pyarrow as pa, grumpy_arrow as gr
path, seed = sys.argv[1], int(sys.argv[2])
rng = np.random.default_rng(seed)
print("ready", flush=True)
for i in range(1000):
    n = 20_000
    if i == 0:
        values = rng.standard_normal(n).astype(np.float32)  # converts the scaled leaf
    else:
        values = np.round(rng.uniform(-50, 50, n), 3).astype(np.float32)
    offsets = pa.array(np.arange(0, n + 1, 10))
    gr.append(gr.from_arrow(pa.LargeListArray.from_arrays(offsets, pa.array(values))), path)
    print(i, flush=True)
"""
BASE_ROWS = 200_000  # 2M values: a conversion rewrites 8 MB


@pytest.mark.parametrize(
    "kills", [pytest.param(3, id="3"), pytest.param(25, marks=pytest.mark.slow, id="25")]
)
def test_killed_conversions_leave_a_committed_state(tmp_path: Path, kills: int) -> None:
    """A writer whose first append converts a scaled leaf of 2M values (then appends more)
    is SIGKILLed at a random moment of its first ~0.3 s of work; the store always loads the
    rows of whole appends, and validates."""
    rng = np.random.default_rng(kills)
    base = coords(10 * BASE_ROWS)
    for k in range(kills):
        path = tmp_path / f"s{k}"
        gr.save(ragged(base), path)
        child = subprocess.Popen(
            [sys.executable, "-c", _KILLED_CHILD, str(path), str(k)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert child.stdout is not None
        assert child.stdout.readline() == "ready\n"
        time.sleep(float(rng.uniform(0.0, 0.3)))
        child.send_signal(signal.SIGKILL)
        out, err = child.communicate()
        assert "Traceback" not in err, err
        done = len(out.split())
        check = subprocess.run(
            [
                sys.executable,
                "-c",
                "import sys, grumpy_arrow as gr; x = gr.load(sys.argv[1]); "
                "print(len(x), len(x.to_arrow().flatten())); "
                "print(gr.validate(sys.argv[1]))",
                str(path),
            ],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert check.returncode == 0, check.stderr
        counts, problems = check.stdout.split("\n")[:2]
        rows, values = (int(v) for v in counts.split())
        assert problems == "[]"
        assert values == 10 * rows
        appended, rest = divmod(rows - BASE_ROWS, 2000)
        assert rest == 0 and appended in (done, done + 1)  # the last may be unreported
        if appended == 0:
            assert bits(flat_values(gr.load(path))) == bits(base)


# -- hostile files ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("scaled", "message"),
    [
        ({"dtype": "float64", "decimals": 3}, "expected dtype float32 over int32"),
        ({"dtype": "float32", "decimals": 99}, "by 99 decimal places; expected 0 to 6"),
        ({"dtype": "float32", "decimals": True}, "by True decimal places"),
        ("yes", "expected dtype float32 over int32"),
    ],
)
def test_hostile_scale_attributes(tmp_path: Path, scaled: Any, message: str) -> None:
    path = tmp_path / "s"
    gr.save(ragged(coords(3000)), path)
    doc = leaf_doc(path, "array/r.c-values")
    doc["attributes"]["grumpy"]["decimal_scaled"] = scaled
    (path / "array" / "r.c-values" / "zarr.json").write_text(json.dumps(doc))
    with pytest.raises(StoreFormatError, match="leaf 'array/r.c-values'.*" + message):
        gr.load(path)


def test_a_blosc_frame_claiming_more_is_refused() -> None:
    fmt = sh.plan_format("float32", "auto", decimals=3)
    body = bytearray(sh.encode_chunk(fmt, np.arange(fmt.chunk, dtype=np.int32))[:-4])
    body[4:8] = (1 << 30).to_bytes(4, "little")  # claims 1 GiB
    data = bytes(body) + sh.crc(bytes(body)).to_bytes(4, "little")
    with pytest.raises(StoreFormatError, match="chunk 0: its Blosc frame claims 1073741824"):
        sh.decode_chunk(fmt, data, "chunk 0")
    with pytest.raises(StoreFormatError, match="cannot hold a Blosc frame"):
        sh.decode_chunk(fmt, b"abc" + sh.crc(b"abc").to_bytes(4, "little"), "chunk 0")


def test_blosc_through_ctypes_matches_numcodecs(monkeypatch: pytest.MonkeyPatch) -> None:
    """c-blosc called by ctypes writes the frames numcodecs writes, and either decodes
    them (numcodecs is the path where the library does not export the functions)."""
    fmt = sh.plan_format("float32", "raw", decimals=3)
    ints = np.random.default_rng(0).integers(-50_000, 50_000, 10_000).astype(np.int32)
    assert sh.blosc_encoder() is not None and sh.blosc_decoder() is not None
    fast = sh.encode_chunks(fmt, ints)
    one = sh.encode_chunk(fmt, ints[: fmt.chunk])
    assert bytes(fast[0])[: int(fast[2][0])] == one
    decoded = sh.decode_chunk(fmt, one, "chunk 0")
    monkeypatch.setattr(sh, "blosc_encoder", lambda: None)
    monkeypatch.setattr(sh, "blosc_decoder", lambda: None)
    slow = sh.encode_chunks(fmt, ints)
    assert bytes(fast[0]) == bytes(slow[0])
    assert fast[1].tolist() == slow[1].tolist() and fast[2].tolist() == slow[2].tolist()
    assert sh.decode_chunk(fmt, one, "chunk 0").tolist() == decoded.tolist()
    assert decoded.tolist() == ints[: fmt.chunk].tolist()


@pytest.mark.parametrize("read", ["row", "rows", "load"])
def test_a_damaged_blosc_frame_in_a_store_is_named(tmp_path: Path, read: str) -> None:
    """A frame whose checksum holds but whose header lies is refused by random reads and
    whole-leaf reads alike (the fast paths fall back to the checked decoder)."""
    path = tmp_path / "s"
    x = coords(5000)
    gr.save(ragged(x), path)
    shard = path / "array" / "r.c-values" / "c" / "0"
    fmt = sh.parse_leaf_doc(leaf_doc(path, "array/r.c-values"), "leaf")
    data = bytearray(shard.read_bytes())
    offsets, sizes = sh.parse_index(fmt, data[-sh.index_bytes(fmt) :], len(data), "shard")
    a, n = int(offsets[1]), int(sizes[1])
    data[a + 4 : a + 8] = (fmt.chunk_bytes * 2).to_bytes(4, "little")  # claims two chunks
    data[a + n - 4 : a + n] = sh.crc(bytes(data[a : a + n - 4])).to_bytes(4, "little")
    shard.write_bytes(bytes(data))
    want = rf"leaf 'array/r.c-values' shard 0 chunk 1: its Blosc frame claims {fmt.chunk_bytes * 2}"
    with pytest.raises(StoreFormatError, match=want):
        if read == "row":
            gr.open(path, cache="none")[fmt.chunk // 10 + 1]  # a row in chunk 1
        elif read == "rows":  # chunks 0 to 2, read as one run of adjacent chunks
            gr.open(path, cache="none")[0 : 2 * fmt.chunk // 10 + 5]
        else:
            gr.load(path)
    # The rows of chunk 0 still read.
    assert bits(flat_values(gr.open(path, cache="none")[[0, 5]])) == bits(
        np.concatenate([x[:10], x[50:60]])
    )


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("threads", [2, 3])
def test_decode_on_threads_gives_the_same_bits(dtype: str, threads: int) -> None:
    """A leaf decoded alone cuts its values into parts, one per thread: the floats are
    bit for bit those of one call, -0.0 included in every part."""
    n = decimals.PARALLEL_VALUES + 12_345
    rng = np.random.default_rng(threads)
    values = np.round(rng.uniform(-500, 500, n), 3).astype(dtype)
    values[[0, n // 3, n // 2, n - 1]] = -0.0  # in each part (and at the seams' sides)
    q = decimals.encode(values, 3)
    assert q is not None
    one = decimals.decode(q, 3, dtype)
    many = decimals.decode(q, 3, dtype, threads=threads)
    assert many.dtype == np.dtype(dtype)
    assert np.array_equal(many.view(f"u{values.itemsize}"), values.view(f"u{values.itemsize}"))
    assert np.array_equal(many.view(f"u{values.itemsize}"), one.view(f"u{values.itemsize}"))
    assert np.signbit(many[[0, n // 3, n // 2, n - 1]]).all()
    # Below the threshold, one call whatever ``threads`` says.
    small = decimals.decode(q[:1000], 3, dtype, threads=threads)
    assert np.array_equal(small, one[:1000])


def test_a_leaf_read_alone_decodes_on_threads(tmp_path: Path) -> None:
    """``alone`` (a leaf becoming resident) decodes a decimal-scaled leaf's floats on
    threads: the values are bit for bit those of a plain read, and a damaged chunk is
    still reported by name."""
    n = 3_000_000
    rng = np.random.default_rng(5)
    x = np.round(rng.uniform(-50, 50, n), 3).astype(np.float32)
    x[[0, n // 2, n - 1]] = -0.0
    # A float leaf below the rows' level (row-level leaves stay raw): 100 values a row.
    offsets = pa.array(np.arange(0, n + 1, 100, dtype=np.int64))
    rows = gr.GrumpyArray(pa.LargeListArray.from_arrays(offsets, pa.array(x)))
    path = tmp_path / "s.gr"
    gr.save(gr.dataframe({"x": rows}), path)
    store = gr.open(path)._store
    name = "x/r.c-values"
    assert store.format(name).decimals == 3
    calls: list[tuple[int, bool]] = []
    real = decimals.decode

    def counted(
        q: np.ndarray, places: int, logical: Any, *, threads: int = 1, inplace: bool = False
    ) -> np.ndarray:
        calls.append((threads, inplace))
        return real(q, places, logical, threads=threads, inplace=inplace)

    import unittest.mock

    from grumpy_arrow.storage import local

    with unittest.mock.patch.object(decimals, "decode", counted):
        alone = store.read_whole(name, n, alone=True)
        in_turn = store.read_whole(name, n)
    # (a whole leaf's integers are a fresh array: its floats are written over them)
    assert calls == [(local.READ_THREADS, True), (1, True)]
    assert np.array_equal(alone.view(np.uint32), x.view(np.uint32))
    assert np.array_equal(in_turn.view(np.uint32), x.view(np.uint32))
    # A damaged chunk in the second shard: the read names it.
    shard = path / name / "c" / "1"
    blob = bytearray(shard.read_bytes())
    blob[100] ^= 0xFF
    shard.write_bytes(bytes(blob))
    fresh = gr.open(path)._store
    with pytest.raises(StoreFormatError, match=r"shard 1 chunk 0"):
        fresh.read_whole(name, n, alone=True)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("places", [0, 2, 3, 6])
def test_the_compiled_decode_equals_numpys_bit_for_bit(
    dtype: str, places: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``_native.scaled_floats`` (the compiled decode) gives exactly NumPy's divide and
    cast, ``-0.0`` included, over every length around its vector width; written over the
    integers themselves (``inplace``, a whole leaf's read) it gives the same floats and
    no second array."""
    from grumpy_arrow import _native

    if not hasattr(_native.kernels, "scaled_floats"):
        pytest.skip("the compiled kernels are not built")
    rng = np.random.default_rng(places + 10)
    stored = decimals.STORED[dtype]
    high = 2**31 - 1 if stored.itemsize == 4 else 2**53
    q = rng.integers(-high, high, 70_001, dtype=stored)
    q[::101] = decimals.negative_zero(stored)
    q[:5] = [0, 1, -1, high, -high]
    fast = decimals.decode(q, places, dtype)
    monkeypatch.setattr(_native, "kernels", None)
    slow = decimals.decode(q, places, dtype)
    monkeypatch.undo()
    assert bits(fast) == bits(slow)
    assert np.signbit(fast[101::101]).all() and (fast[101::101] == 0).all()
    for n in (0, 1, 3, 4, 7, 8, 9, 15, 16, 17, 33):
        assert bits(decimals.decode(q[:n], places, dtype)) == bits(slow[:n]), n
    mine = q.copy()
    over = decimals.decode(mine, places, dtype, inplace=True)
    assert np.shares_memory(over, mine) and bits(over) == bits(slow)
    # Without the kernels ``inplace`` is ignored: a new array, the integers untouched.
    monkeypatch.setattr(_native, "kernels", None)
    mine = q.copy()
    apart = decimals.decode(mine, places, dtype, inplace=True)
    assert not np.shares_memory(apart, mine) and bits(apart) == bits(slow)
    assert np.array_equal(mine, q)
