"""Savers as raygent users reach for them (issue 15).

- Strings of any length (``str`` and ``bytes``) in ``ZarrSaver`` and ``HDF5Saver`` (stored
  as ``value_offsets`` + ``data``) and ``NumpySaver`` (fixed width), beyond the round trips
  and updates of :class:`grumpy_arrow.testing.savers.SaverTests` (run on each saver in
  test_savers.py): ``ragged=True``, runs, remote groups, ragged updates that keep row
  lengths, the layout as plain zarr / h5py read it, crash and failure behaviour,
  compression, and the exact errors (nulls, mixed kinds, numbers into text, too long for
  a fixed width).
- ``ZarrSaver.save(compressor=, filters=)`` with numcodecs objects: the codec in the
  array's metadata, exact data back, and exact errors for bad values.
- A ``Saver`` subclass implementing only ``save``.
"""

from __future__ import annotations

import itertools
import json
import os
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import fsspec
import numcodecs
import numpy as np
import pytest
import zarr
import zarr.codecs

import grumpy_arrow as gr
from grumpy_arrow.errors import SchemaError
from grumpy_arrow.savers import HDF5Saver, NumpySaver, Saver, ZarrSaver

try:
    import h5py
except ImportError:  # pragma: no cover - h5py is in the test extra
    h5py = None

NUMCODECS_WARNING = "ignore:Numcodecs codecs are not in the Zarr version 3 specification"
HDF5 = [pytest.mark.h5py, pytest.mark.skipif(h5py is None, reason="needs h5py")]

New = Callable[..., Any]


def zarr_new(tmp_path: Path) -> New:
    path = str(tmp_path / "results.zarr")
    return lambda approach="append", **kw: ZarrSaver(path, "dataset", approach, **kw)


def hdf5_new(tmp_path: Path) -> New:
    path = str(tmp_path / "results.h5")
    return lambda approach="append", **kw: HDF5Saver(path, "dataset", approach, **kw)


def npy_new(tmp_path: Path) -> New:
    path = str(tmp_path / "results.npy")
    return lambda approach="append", **kw: NumpySaver(path, approach, **kw)


ANY_LENGTH = [
    pytest.param(zarr_new, id="zarr"),
    pytest.param(hdf5_new, id="hdf5", marks=HDF5),
]
ALL = [*ANY_LENGTH, pytest.param(npy_new, id="npy")]


def files(root: Path) -> dict[str, bytes]:
    """Every file under ``root`` with its bytes (lock files aside)."""
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and not p.name.endswith(".lock") and ".locks" not in p.parts
    }


# -- strings: ragged=, runs, remote groups ------------------------------------------


@pytest.mark.parametrize("make", ALL)
def test_ragged_true_keeps_equal_length_string_rows_ragged(make: Any, tmp_path: Path) -> None:
    new = make(tmp_path)
    gr.run(lambda i: ["w"] * (i % 2 + 1), range(3), saver=new(ragged=True), save_interval=1)
    assert new().load().to_list() == [["w"], ["w", "w"], ["w"]]


def test_runs_save_strings_in_item_order(tmp_path: Path) -> None:
    new = zarr_new(tmp_path)
    saved = gr.run(lambda i: "é" * i, range(6), saver=new(), save_interval=4, cpu=2)
    assert saved == 6
    assert new().load().tolist() == ["", "é", "éé", "ééé", "éééé", "ééééé"]


def test_strings_in_a_remote_zarr_group(tmp_path: Path) -> None:
    url = f"memory://savers-{uuid.uuid4().hex}/results.zarr"
    try:
        ZarrSaver(url, "t").save(["a", "bb"])
        ZarrSaver(url, "t").save(["ccc"])
        ZarrSaver(url, "t", approach="update").save(["héllo"], indices=[0])
        assert ZarrSaver(url, "t").load().tolist() == ["héllo", "bb", "ccc"]
        ZarrSaver(url, "r").save([["a"], ["b", "c"]])
        ZarrSaver(url, "r", approach="update").save([["xyz", ""]], indices=[1])
        assert ZarrSaver(url, "r").load().to_list() == [["a"], ["xyz", ""]]
    finally:
        fsspec.filesystem("memory").rm(url.split("://")[1].split("/")[0], recursive=True)


# -- strings: updates -----------------------------------------------------------------


@pytest.mark.parametrize("make", ANY_LENGTH)
def test_ragged_string_updates_keep_row_lengths_not_string_lengths(
    make: Any, tmp_path: Path
) -> None:
    new = make(tmp_path)
    new().save([["a", "b"], [], ["c"], ["d", "e", "f"]])
    new("update").save([["LONG", ""], ["ü" * 10]], indices=[0, 2])
    assert new().load().to_list() == [["LONG", ""], [], ["ü" * 10], ["d", "e", "f"]]
    where = f"{new().path}::dataset"
    with pytest.raises(SchemaError) as info:
        new("update").save([["x"]], indices=[3])
    assert str(info.value) == (
        f"{where}: row 3 holds 3 values; the update gives 1. Ragged updates keep row "
        "lengths (rewrite the dataset with approach 'overwrite' to change them)"
    )
    assert new().load().to_list() == [["LONG", ""], [], ["ü" * 10], ["d", "e", "f"]]


def test_zarr_string_update_rewrites_only_the_tail_chunks(tmp_path: Path) -> None:
    new = zarr_new(tmp_path)
    new().save([f"s{i:02d}" for i in range(40)], chunks=8)  # value_offsets: 8 per chunk
    folder = tmp_path / "results.zarr" / "dataset" / "value_offsets" / "c"
    before = {name: (folder / name).read_bytes() for name in sorted(os.listdir(folder))}
    assert sorted(before) == ["0", "1", "2", "3", "4", "5"]
    new("update").save(["longer string"], indices=[30])
    after = {name: (folder / name).read_bytes() for name in sorted(os.listdir(folder))}
    assert {k: after[k] for k in ["0", "1", "2"]} == {k: before[k] for k in ["0", "1", "2"]}
    assert after["3"] != before["3"]  # string 30's end is offset 31, in chunk 3
    expected = [f"s{i:02d}" for i in range(40)]
    expected[30] = "longer string"
    assert new().load().tolist() == expected


@pytest.mark.parametrize("make", ANY_LENGTH)
def test_a_failed_string_update_leaves_the_old_strings(
    make: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import grumpy_arrow.savers.hdf5 as hdf5_saver
    import grumpy_arrow.savers.zarr as zarr_saver

    new = make(tmp_path)
    new().save(["a", "bb", "ccc"])
    module = zarr_saver if make is zarr_new else hdf5_saver
    real_put, calls = module._put, []

    def fail_second(arr: Any, start: int, data: np.ndarray) -> None:
        calls.append(start)
        if len(calls) == 2:  # one of value_offsets and data is rewritten, the other not
            raise OSError("disk gone")
        real_put(arr, start, data)

    monkeypatch.setattr(module, "_put", fail_second)
    with pytest.raises(OSError, match="disk gone"):
        new("update").save(["a much longer string"], indices=[1])
    monkeypatch.setattr(module, "_put", real_put)
    assert calls == [1, 1]  # value_offsets from string 1 and data from byte 1 (either first)
    assert new().load().tolist() == ["a", "bb", "ccc"]
    # nothing staged is left: the clone (Zarr) or the copy of the file (HDF5) is removed
    staging = tmp_path / ".results.zarr.staging"
    assert (os.listdir(staging) if staging.exists() else []) == []
    assert [p.name for p in tmp_path.iterdir() if ".new-" in p.name] == []
    new("update").save(["a much longer string"], indices=[1])
    assert new().load().tolist() == ["a", "a much longer string", "ccc"]


@pytest.mark.parametrize("make", ANY_LENGTH)
def test_an_interrupted_string_append_keeps_the_committed_rows(
    make: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import grumpy_arrow.savers.hdf5 as hdf5_saver
    import grumpy_arrow.savers.zarr as zarr_saver

    new = make(tmp_path)
    new().save([["a", "b"], ["c"]])
    module = zarr_saver if make is zarr_new else hdf5_saver
    real_put, calls = module._put, []

    def crash_on_offsets(arr: Any, start: int, data: np.ndarray) -> None:
        calls.append(start)
        if len(calls) == 3:  # bytes and value_offsets written; offsets and the commit not
            raise KeyboardInterrupt("killed")
        real_put(arr, start, data)

    monkeypatch.setattr(module, "_put", crash_on_offsets)
    with pytest.raises(KeyboardInterrupt):
        new().save([["zzzz", "y"]])
    monkeypatch.setattr(module, "_put", real_put)
    assert calls == [3, 4, 3]  # data from byte 3, value_offsets from 4, offsets from row 3
    assert new().load().to_list() == [["a", "b"], ["c"]]
    new().save([["d"], ["é", ""]])
    assert new().load().to_list() == [["a", "b"], ["c"], ["d"], ["é", ""]]


# -- strings: the layout as plain readers see it ---------------------------------------


def test_zarr_string_layout_read_by_plain_zarr(tmp_path: Path) -> None:
    path = tmp_path / "results.zarr"
    ZarrSaver(path, "names").save(["a", "", "é"])
    ZarrSaver(path, "rows").save([["ab"], [], ["c", "d"]])
    ZarrSaver(path, "pairs").save([["a", "b"]])
    group = zarr.open_group(str(path), mode="r")
    names = group["names"]
    assert sorted(names.keys()) == ["data", "value_offsets"]
    assert names["value_offsets"][...].tolist() == [0, 1, 1, 3]
    assert names["value_offsets"].dtype == np.int64
    assert names["data"][...].tobytes() == "aé".encode()
    assert names["data"].dtype == np.uint8
    assert dict(names.attrs) == {
        "grumpy_saver": {"form": "rectangular", "rows": 3, "dtype": "text", "shape": []}
    }
    rows = group["rows"]
    assert sorted(rows.keys()) == ["data", "offsets", "value_offsets"]
    assert rows["offsets"][...].tolist() == [0, 1, 1, 3]
    assert rows["value_offsets"][...].tolist() == [0, 2, 3, 4]
    assert rows["data"][...].tobytes() == b"abcd"
    assert dict(rows.attrs) == {
        "grumpy_saver": {"form": "ragged", "rows": 3, "dtype": "text", "shape": []}
    }
    assert dict(group["pairs"].attrs)["grumpy_saver"]["shape"] == [2]


@pytest.mark.h5py
@pytest.mark.skipif(h5py is None, reason="needs h5py")
def test_hdf5_string_layout_read_by_plain_h5py(tmp_path: Path) -> None:
    path = tmp_path / "results.h5"
    HDF5Saver(path, "rows").save([[b"ab"], [], [b"c", b"d"]])
    with h5py.File(path, "r") as fh:
        rows = fh["rows"]
        assert sorted(rows.keys()) == ["data", "offsets", "value_offsets"]
        assert rows["offsets"][()].tolist() == [0, 1, 1, 3]
        assert rows["value_offsets"][()].tolist() == [0, 2, 3, 4]
        assert rows["data"][()].tobytes() == b"abcd"
        attrs = dict(rows.attrs)
        assert sorted(attrs) == [
            "grumpy_saver_dtype",
            "grumpy_saver_form",
            "grumpy_saver_rows",
            "grumpy_saver_shape",
        ]
        assert (attrs["grumpy_saver_form"], int(attrs["grumpy_saver_rows"])) == ("ragged", 3)
        assert attrs["grumpy_saver_dtype"] == "binary"
        assert attrs["grumpy_saver_shape"].tolist() == []


def test_npy_strings_are_plain_fixed_width_npy(tmp_path: Path) -> None:
    NumpySaver(tmp_path / "rows.npy").save([["ab"], [], ["c", "dé"]])
    values = np.load(tmp_path / "rows.npy")
    assert values.dtype == np.dtype("<U2") and values.tolist() == ["ab", "c", "dé"]
    assert np.load(tmp_path / "rows.offsets.npy").tolist() == [0, 1, 1, 3]


@pytest.mark.parametrize("make", ANY_LENGTH)
def test_strings_compress_their_bytes(make: Any, tmp_path: Path) -> None:
    new = make(tmp_path)
    options = {"compression": "zstd"} if make is zarr_new else {"compression": "gzip"}
    new().save(["abc" * 100] * 50, chunks=16, **options)
    assert new().load().tolist() == ["abc" * 100] * 50
    if make is zarr_new:
        group = zarr.open_group(str(tmp_path / "results.zarr"), mode="r")
        assert [c.to_dict()["name"] for c in group["dataset/data"].compressors] == ["zstd"]
        assert group["dataset/value_offsets"].compressors == ()
        assert group["dataset/value_offsets"].chunks == (16,)
    else:
        with h5py.File(tmp_path / "results.h5", "r") as fh:
            assert fh["dataset/data"].compression == "gzip"
            assert fh["dataset/value_offsets"].compression is None
            assert fh["dataset/value_offsets"].chunks == (16,)


# -- strings: refusals ----------------------------------------------------------------


def where_of(saver: Any) -> str:
    return saver.path if isinstance(saver, NumpySaver) else f"{saver.path}::dataset"


@pytest.mark.parametrize("make", ALL)
@pytest.mark.parametrize(
    ("setup", "batch", "message"),
    [
        (["a"], [1, 2], "{where}: the dataset holds {text}; the batch is int64"),
        ([1, 2], ["a"], "{where}: the dataset holds int64; the batch is text (str of any length)"),
        (
            ["a"],
            [b"a"],
            "{where}: the dataset holds {text}; the batch is bytes (bytes of any length)",
        ),
        (
            [["a"], ["b", "c"]],
            [1, 2],
            "{where}: the dataset holds ragged rows; the batch is 1-D scalars (2,)",
        ),
        (
            None,
            ["a", None],
            "{saver} {where}: cannot store 2 * string as values + offsets: 1 of its values "
            "are null (use GrumpySaver for unions, nulls and deeper nesting)",
        ),
        (
            None,
            [["a"], ["b", None]],
            "{saver} {where}: cannot store 2 * var * string as values + offsets: 1 of its "
            "values are null (use GrumpySaver for unions, nulls and deeper nesting)",
        ),
        (
            None,
            ["a", b"b"],
            "{saver} {where}: expected numbers, or strings of one kind (str or bytes); got "
            "str mixed with bytes (use GrumpySaver for mixed values)",
        ),
        (
            None,
            [["a"], "bc"],
            "{saver} {where}: cannot store 2 * union[string, var * string] as values + offsets: *",
        ),
    ],
    ids=[
        "numbers-into-text",
        "text-into-numbers",
        "bytes-into-text",
        "scalars-into-rows",
        "null",
        "null-in-rows",
        "str-and-bytes",
        "union",
    ],
)
def test_refused_strings_write_nothing(
    make: Any, tmp_path: Path, setup: Any, batch: Any, message: str
) -> None:
    new = make(tmp_path)
    if setup is not None:
        new().save(setup)
    before = files(tmp_path)
    with pytest.raises(SchemaError) as info:
        new().save(batch)
    text = "text of at most 1 characters (<U1)" if make is npy_new else "text (str of any length)"
    expected = message.format(where=where_of(new()), saver=type(new()).__name__, text=text)
    if expected.endswith("*"):
        assert str(info.value).startswith(expected[:-1]), str(info.value)
        assert str(info.value).endswith("(use GrumpySaver for unions, nulls and deeper nesting)")
    else:
        assert str(info.value) == expected
    assert files(tmp_path) == before


@pytest.mark.parametrize("make", ALL)
def test_objects_arrow_cannot_type_are_refused(make: Any, tmp_path: Path) -> None:
    new = make(tmp_path)
    with pytest.raises(SchemaError) as info:
        new().save(["a", 1])
    assert str(info.value).startswith(
        f"{type(new()).__name__} {where_of(new())}: expected numbers, str or bytes of one "
        "kind; got objects that Arrow cannot type ("
    )
    assert str(info.value).endswith("); use GrumpySaver for mixed values")
    assert not (tmp_path / "results.zarr").exists() and not (tmp_path / "results.h5").exists()


def test_npy_refuses_strings_longer_than_its_width(tmp_path: Path) -> None:
    new = npy_new(tmp_path)
    new().save(["ab", "é"])
    before = files(tmp_path)
    for approach, indices in [("append", None), ("update", [0])]:
        with pytest.raises(SchemaError) as info:
            new(approach).save(["abc"], indices=indices)
        assert str(info.value) == (
            f"{new().path}: the dataset holds text of at most 2 characters (<U2); the batch "
            "has a string of 3 characters. Fixed-width strings cannot grow: rewrite the "
            "dataset with approach 'overwrite', or use ZarrSaver or HDF5Saver (strings of "
            "any length)"
        )
        assert files(tmp_path) == before
    new("update").save(["ü"], indices=[0])  # fits: written in place
    new().save(["cd"])
    assert new().load().tolist() == ["ü", "é", "cd"]


# -- ZarrSaver: numcodecs compressor= and filters= ------------------------------------


def zarr_codecs(array_dir: Path) -> list[dict[str, Any]]:
    return list(json.loads((array_dir / "zarr.json").read_text())["codecs"])


BYTES = {"name": "bytes", "configuration": {"endian": "little"}}


@pytest.mark.parametrize(
    ("compressor", "codec"),
    [
        (
            numcodecs.Blosc(cname="zstd", clevel=3, shuffle=numcodecs.Blosc.BITSHUFFLE),
            {
                "name": "blosc",
                "configuration": {
                    "typesize": 8,
                    "cname": "zstd",
                    "clevel": 3,
                    "shuffle": "bitshuffle",
                    "blocksize": 0,
                },
            },
        ),
        (
            numcodecs.Blosc(),
            {
                "name": "blosc",
                "configuration": {
                    "typesize": 8,
                    "cname": "lz4",
                    "clevel": 5,
                    "shuffle": "shuffle",
                    "blocksize": 0,
                },
            },
        ),
        (
            numcodecs.Blosc(cname="lz4hc", clevel=9, shuffle=numcodecs.Blosc.AUTOSHUFFLE),
            {
                "name": "blosc",
                "configuration": {
                    "typesize": 8,
                    "cname": "lz4hc",
                    "clevel": 9,
                    "shuffle": "shuffle",
                    "blocksize": 0,
                },
            },
        ),
        (
            numcodecs.Blosc(shuffle=numcodecs.Blosc.NOSHUFFLE, blocksize=1024),
            {
                "name": "blosc",
                "configuration": {
                    "typesize": 8,
                    "cname": "lz4",
                    "clevel": 5,
                    "shuffle": "noshuffle",
                    "blocksize": 1024,
                },
            },
        ),
        (
            numcodecs.Zstd(level=7),
            {"name": "zstd", "configuration": {"level": 7, "checksum": False}},
        ),
        (
            numcodecs.Zstd(level=2, checksum=True),
            {"name": "zstd", "configuration": {"level": 2, "checksum": True}},
        ),
        (numcodecs.GZip(level=9), {"name": "gzip", "configuration": {"level": 9}}),
        (
            zarr.codecs.ZstdCodec(level=4),
            {"name": "zstd", "configuration": {"level": 4, "checksum": False}},
        ),
    ],
    ids=[
        "blosc-zstd-bitshuffle",
        "blosc-default",
        "blosc-autoshuffle",
        "blosc-noshuffle",
        "zstd",
        "zstd-checksum",
        "gzip",
        "zarr-v3-codec",
    ],
)
def test_numcodecs_compressor_becomes_the_v3_codec(
    tmp_path: Path, compressor: Any, codec: dict[str, Any]
) -> None:
    path = tmp_path / "c.zarr"
    ZarrSaver(path, "flat").save(np.arange(1000), compressor=compressor)
    ZarrSaver(path, "flat").save(np.arange(1000, 1010))  # appends keep the codec
    ZarrSaver(path, "rows").save([[1.5], [], [2.5, 3.5]], compressor=compressor)
    assert zarr_codecs(path / "flat") == [BYTES, codec]
    assert zarr_codecs(path / "rows" / "values") == [BYTES, codec]
    assert zarr_codecs(path / "rows" / "offsets") == [BYTES]
    assert ZarrSaver(path, "flat").load().tolist() == list(range(1010))
    assert ZarrSaver(path, "rows").load().to_list() == [[1.5], [], [2.5, 3.5]]


def test_blosc_autoshuffle_bit_shuffles_one_byte_items(tmp_path: Path) -> None:
    path = tmp_path / "c.zarr"
    ZarrSaver(path, "b").save(
        np.arange(200, dtype=np.uint8), compressor=numcodecs.Blosc(shuffle=-1)
    )
    assert zarr_codecs(path / "b")[1]["configuration"]["shuffle"] == "bitshuffle"
    assert ZarrSaver(path, "b").load().tolist() == list(range(200))


def test_compressor_none_stores_uncompressed(tmp_path: Path) -> None:
    path = tmp_path / "c.zarr"
    ZarrSaver(path, "d").save([1.0, 2.0], compressor=None, filters=None)
    assert zarr_codecs(path / "d") == [BYTES]
    assert ZarrSaver(path, "d").load().tolist() == [1.0, 2.0]


@pytest.mark.filterwarnings(NUMCODECS_WARNING)
@pytest.mark.parametrize(
    ("data", "options", "codecs"),
    [
        (
            np.arange(500),
            {"compressor": numcodecs.LZ4(acceleration=2)},
            [BYTES, {"name": "numcodecs.lz4", "configuration": {"acceleration": 2}}],
        ),
        (
            np.arange(500),
            {"compressor": numcodecs.Zlib(level=4)},
            [BYTES, {"name": "numcodecs.zlib", "configuration": {"level": 4}}],
        ),
        (
            np.arange(500),
            {"compressor": numcodecs.BZ2(level=3)},
            [BYTES, {"name": "numcodecs.bz2", "configuration": {"level": 3}}],
        ),
        (
            np.arange(500),
            {
                "filters": [numcodecs.Delta(dtype="<i8")],
                "compressor": numcodecs.Blosc(cname="zstd"),
            },
            [
                {"name": "numcodecs.delta", "configuration": {"dtype": "<i8", "astype": "<i8"}},
                BYTES,
                {
                    "name": "blosc",
                    "configuration": {
                        "typesize": 8,
                        "cname": "zstd",
                        "clevel": 5,
                        "shuffle": "shuffle",
                        "blocksize": 0,
                    },
                },
            ],
        ),
        (
            np.arange(500),
            {"filters": numcodecs.Delta(dtype="<i8", astype="<i2")},
            [
                {"name": "numcodecs.delta", "configuration": {"dtype": "<i8", "astype": "<i2"}},
                BYTES,
            ],
        ),
        (
            1000.0 + np.arange(500) / 2,
            {
                "filters": [
                    numcodecs.FixedScaleOffset(offset=1000, scale=2, dtype="<f8", astype="<i4")
                ]
            },
            [
                {
                    "name": "numcodecs.fixedscaleoffset",
                    "configuration": {"scale": 2, "offset": 1000, "dtype": "<f8", "astype": "<i4"},
                },
                BYTES,
            ],
        ),
        (
            np.arange(500) / 4,
            {"filters": [numcodecs.AsType(encode_dtype="<f4", decode_dtype="<f8")]},
            [
                {
                    "name": "numcodecs.astype",
                    "configuration": {"encode_dtype": "<f4", "decode_dtype": "<f8"},
                },
                BYTES,
            ],
        ),
        (
            np.arange(500) % 3 == 0,
            {"filters": [numcodecs.PackBits()]},
            [{"name": "numcodecs.packbits", "configuration": {}}, {"name": "bytes"}],
        ),
    ],
    ids=[
        "lz4",
        "zlib",
        "bz2",
        "delta-and-blosc",
        "delta-single",
        "fixedscaleoffset",
        "astype",
        "packbits",
    ],
)
def test_numcodecs_wrappers_and_filters_round_trip(
    tmp_path: Path, data: np.ndarray, options: dict[str, Any], codecs: list[dict[str, Any]]
) -> None:
    path = tmp_path / "c.zarr"
    ZarrSaver(path, "d").save(data[:300], **options)
    ZarrSaver(path, "d").save(data[300:])
    ZarrSaver(path, "d", approach="update").save(data[:2][::-1], indices=[0, 1])
    expected = data.copy()
    expected[:2] = data[:2][::-1]
    assert zarr_codecs(path / "d") == codecs
    loaded = ZarrSaver(path, "d").load()
    assert loaded.dtype == data.dtype and loaded.tolist() == expected.tolist()
    assert zarr.open_array(str(path / "d"), mode="r")[...].tolist() == expected.tolist()


def test_zarr_warns_that_numcodecs_codecs_are_outside_the_v3_spec(tmp_path: Path) -> None:
    with pytest.warns(UserWarning, match="Numcodecs codecs are not in the Zarr version 3"):
        ZarrSaver(tmp_path / "c.zarr", "d").save([1, 2], compressor=numcodecs.LZ4())


@pytest.mark.parametrize(
    ("options", "error", "message"),
    [
        (
            {"compressor": "zstd"},
            TypeError,
            "{where}: compressor must be a numcodecs codec or a zarr v3 bytes-to-bytes codec "
            "or None; got 'zstd' (a name goes in compression=)",
        ),
        (
            {"compressor": numcodecs.Delta(dtype="<i8")},
            ValueError,
            "{where}: compressor must be a bytes-to-bytes codec (Adler32, BZ2, Blosc, CRC32, "
            "CRC32C, Fletcher32, GZip, JenkinsLookup3, LZ4, LZMA, Shuffle, Zlib, Zstd); got "
            "Delta(dtype='<i8'), a filter (array to array): pass it in filters=",
        ),
        (
            {"filters": [numcodecs.Blosc()]},
            ValueError,
            "{where}: filter must be an array-to-array codec (AsType, BitRound, Delta, "
            "FixedScaleOffset, PackBits, Quantize); got Blosc(cname='lz4', clevel=5, "
            "shuffle=SHUFFLE, blocksize=0), a compressor (bytes to bytes): pass it as "
            "compressor=",
        ),
        (
            {"filters": [zarr.codecs.ZstdCodec()]},
            ValueError,
            "{where}: filter must be an array-to-array codec (AsType, BitRound, Delta, "
            "FixedScaleOffset, PackBits, Quantize); got ZstdCodec(level=0, checksum=False), a "
            "compressor (bytes to bytes): pass it as compressor=",
        ),
        (
            {"compressor": numcodecs.VLenUTF8()},
            ValueError,
            "{where}: compressor VLenUTF8() is a numcodecs codec that zarr 3 has no v3 codec "
            "for (id 'vlen-utf8'); expected one of Adler32, BZ2, Blosc, CRC32, CRC32C, "
            "Fletcher32, GZip, JenkinsLookup3, LZ4, LZMA, Shuffle, Zlib, Zstd",
        ),
        (
            {"compressor": numcodecs.Zstd(), "compression": "gzip"},
            ValueError,
            "{where}: give compression= (a name) or compressor= (a codec), not both; got "
            "compression='gzip' and compressor=Zstd(level=0)",
        ),
        (
            {"compressor": numcodecs.Zstd(), "compression_opts": 3},
            ValueError,
            "{where}: compression_opts is the level of compression=; a compressor= codec "
            "carries its own (got compression_opts=3)",
        ),
        (
            {"filters": [1]},
            TypeError,
            "{where}: filter must be a numcodecs codec or a zarr v3 array-to-array codec; got 1",
        ),
        (
            {"filters": numcodecs.Delta(dtype="<i4")},
            ValueError,
            "{where}: filter Delta is declared for int32 values; the dataset's values are "
            "int64 (build it with dtype='<i8')",
        ),
    ],
    ids=[
        "name-as-compressor",
        "filter-as-compressor",
        "compressor-as-filter",
        "v3-compressor-as-filter",
        "unsupported-numcodecs",
        "compression-and-compressor",
        "opts-with-compressor",
        "not-a-codec",
        "filter-of-another-dtype",
    ],
)
def test_bad_codecs_are_refused_before_writing(
    tmp_path: Path, options: dict[str, Any], error: type[Exception], message: str
) -> None:
    saver = ZarrSaver(tmp_path / "c.zarr", "d")
    with pytest.raises(error) as info:
        saver.save(np.arange(3), **options)
    assert str(info.value) == message.format(where=f"{saver.path}::d")
    assert not (tmp_path / "c.zarr").exists()
    with pytest.raises(gr.errors.DatasetNotFoundError):
        saver.load()


def test_filters_do_not_apply_to_strings(tmp_path: Path) -> None:
    saver = ZarrSaver(tmp_path / "c.zarr", "d")
    with pytest.raises(ValueError) as info:
        saver.save(["a"], filters=[numcodecs.Delta(dtype="<i8")])
    assert str(info.value) == (
        f"{saver.path}::d: filters apply to numeric values; the batch is text (str of any "
        "length) (compressor= applies to its bytes)"
    )
    saver.save(["a", "é"], compressor=numcodecs.Zstd(level=3))
    assert zarr_codecs(tmp_path / "c.zarr" / "d" / "data") == [
        {"name": "bytes"},
        {"name": "zstd", "configuration": {"level": 3, "checksum": False}},
    ]
    assert saver.load().tolist() == ["a", "é"]


@pytest.mark.parametrize(
    "new",
    [
        pytest.param(lambda p: HDF5Saver(p / "x.h5"), id="hdf5", marks=HDF5),
        pytest.param(lambda p: NumpySaver(p / "x.npy"), id="npy"),
    ],
)
def test_other_savers_refuse_compressor_and_filters(new: Any, tmp_path: Path) -> None:
    saver = new(tmp_path)
    for option in ("compressor", "filters"):
        with pytest.raises(TypeError) as info:
            saver.save([1], **{option: numcodecs.Zstd()})
        assert str(info.value) == (
            f"{type(saver).__name__}.save got unknown option(s) {option}; the options are "
            "dtype, compression, compression_opts, chunks"
        )
    assert os.listdir(tmp_path) == []


def test_zarr_saver_lists_its_options() -> None:
    assert ZarrSaver.options == (
        "dtype",
        "compression",
        "compression_opts",
        "chunks",
        "compressor",
        "filters",
    )
    with pytest.raises(TypeError) as info:
        ZarrSaver("unused.zarr").save([1], compresor=None)
    assert str(info.value) == (
        "ZarrSaver.save got unknown option(s) compresor; the options are dtype, compression, "
        "compression_opts, chunks, compressor, filters"
    )


# -- a Saver that only saves ----------------------------------------------------------


class OnlySave(Saver):
    """raygent's shape: a constructor of its own (no super().__init__) and save."""

    def __init__(self) -> None:
        self.batches: list[tuple[list[Any], Any]] = []

    def save(self, data: Any, indices: Any = None, **kwargs: Any) -> None:
        self.batches.append((list(data), indices))


def test_a_saver_implementing_only_save_is_complete() -> None:
    saver = OnlySave()
    assert saver.approach == "append"
    assert repr(saver) == "OnlySave(approach='append')"
    assert gr.run(lambda i: i * 10, range(5), saver=saver, save_interval=2) == 5
    assert saver.batches == [([0, 10], None), ([20, 30], None), ([40], None)]
    with pytest.raises(NotImplementedError) as info:
        saver.load()
    assert str(info.value) == (
        "OnlySave.load is not implemented: OnlySave only saves (implement load() in "
        "OnlySave to read its results back)"
    )


def test_a_save_only_saver_with_the_base_constructor_takes_updates() -> None:
    class Updates(Saver):
        def __init__(self, approach: str) -> None:
            super().__init__(approach=approach)
            self.path = "<memory>"
            self.calls: list[tuple[list[Any], Any]] = []

        def save(self, data: Any, indices: Any = None, **kwargs: Any) -> None:
            self.calls.append((list(data), indices))

    saver = Updates(" UPDATE ")
    assert repr(saver) == "Updates('<memory>', approach='update')"
    gr.run(lambda i: -i, range(3), saver=saver, save_interval=2)
    assert saver.calls == [([0, -1], range(0, 2)), ([-2], range(2, 3))]
    with pytest.raises(NotImplementedError, match=r"^Updates\.load is not implemented"):
        saver.load()


def test_saver_without_save_is_still_abstract() -> None:
    class Nothing(Saver):
        pass

    with pytest.raises(TypeError, match=r"abstract method '?save"):
        Nothing()  # type: ignore[abstract]
    with pytest.raises(TypeError, match="abstract"):
        Saver()  # type: ignore[abstract]


def test_stream_save_feeds_a_save_only_saver() -> None:
    saver = OnlySave()
    x = gr.array([[1, 2], [3], [], [4, 5, 6]])
    assert gr.stream(x, batch_size=2).apply(lambda b: b.sum(dim=1).to_numpy()).save(saver) == 2
    assert [(batch, indices) for batch, indices in saver.batches] == [
        ([3, 3], None),
        ([0, 15], None),
    ]
    assert list(itertools.chain.from_iterable(b for b, _ in saver.batches)) == [3, 3, 0, 15]
