"""Per-column codecs (issue 14, item 3): ``gr.save(..., codecs={column: name})`` encodes
each row on write and decodes it on read (``gr.load``, ``gr.open``, ``take``, ``h[i]``,
``stream``, appends), recorded in the manifest by name; an unknown codec is a clear error;
nothing is pickled."""

from __future__ import annotations

import json
import pickle
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import grumpy_arrow as gr
from grumpy_arrow.errors import StoreFormatError
from grumpy_arrow.storage.codecs import arrays_column


def images(n: int, seed: int = 0, shape: tuple[int, ...] = (6, 8, 3)) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.integers(0, 256, shape, dtype=np.uint8) for _ in range(n)]


def frame(n: int, seed: int = 0) -> gr.DataFrame:
    pics = images(n, seed)
    return gr.dataframe(
        {
            "id": list(range(n)),
            "image": arrays_column(pics),
            "spectrum": arrays_column([np.linspace(0, i, 5 + i % 3) for i in range(n)]),
            "meta": [[i, i * 2] if i % 2 else [i] for i in range(n)],
        }
    )


def test_arrays_column_builds_nested_lists_of_the_arrays_dtype() -> None:
    col = arrays_column(
        [
            np.arange(6, dtype=np.uint8).reshape(2, 3),
            None,
            np.arange(2, dtype=np.uint8).reshape(1, 2),
        ]
    )
    assert col.type == "3 * var * var * uint8"
    assert col.to_list() == [[[0, 1, 2], [3, 4, 5]], None, [[0, 1]]]
    assert arrays_column([np.float32(1.5), None]).to_list() == [1.5, None]
    with pytest.raises(StoreFormatError, match="row 1: decoded to a int64 array"):
        arrays_column([np.zeros(2, np.uint8), np.zeros(2, np.int64)], "s", "c")


@pytest.mark.parametrize("compressor", ["auto", "none"])
def test_round_trips_through_save_load_open_take_and_stream(
    tmp_path: Path, compressor: str
) -> None:
    df = frame(40)
    path = tmp_path / "s.gr"
    codecs = {"image": "png", "spectrum": "npy", "meta": "json"}
    gr.save(df, path, codecs=codecs, compressor=compressor, chunk_size=8, shard_size=32)
    manifest = json.loads((path / "grumpy.json").read_text())
    assert {c["name"]: c.get("codec") for c in manifest["columns"]} == {
        "id": None,
        "image": "png",
        "spectrum": "npy",
        "meta": "json",
    }
    want = df.to_dict()
    assert gr.load(path).to_dict() == want
    back = gr.load(path)
    assert back["image"].type == df["image"].type == "40 * 6 * 8 * 3 * uint8"
    h = gr.open(path)
    rows = [39, 0, 7, 7, 21]
    assert h.take(rows).to_dict() == df[rows].to_dict()
    assert h[5].to_dict() == df[[5]].to_dict()
    assert gr.load(path, columns=["image"]).to_dict() == {"image": want["image"]}
    batches = [
        b.to_dict() for b in gr.stream(str(path), batch_size=16, shuffle=True, seed=1, workers=2)
    ]
    got = {k: [v for b in batches for v in b[k]] for k in want}
    order = got["id"]
    assert sorted(order) == list(range(40))
    assert got["image"] == [want["image"][i] for i in order]
    # The bytes on disk are the codec's: PNG files, one per row.
    import zarr

    raw = gr.open(path)
    assert raw.manifest.column("image").codec == "png"
    leaves = raw.manifest.leaves
    data = bytes(
        np.asarray(
            zarr.open_array(str(path / "image/r-data"), mode="r")[: leaves["image/r-data"].length]
        )
    )
    assert data.count(b"\x89PNG\r\n\x1a\n") == 40


def test_appends_encode_with_the_stores_codecs(tmp_path: Path) -> None:
    path = tmp_path / "s.gr"
    gr.save(frame(10), path, codecs={"image": "png"})
    gr.append(frame(5, seed=1), path)
    both = gr.load(path).to_dict()
    assert both["image"] == frame(10).to_dict()["image"] + frame(5, seed=1).to_dict()["image"]
    # A row the codec cannot encode fails the append and leaves the store as it was.
    bad = gr.dataframe(
        {
            "id": [99],
            "image": arrays_column([np.zeros((2, 2), np.float64)]),
            "spectrum": arrays_column([np.zeros(5)]),
            "meta": [[1]],
        }
    )
    with pytest.raises(ValueError, match="PNG encodes uint8 images"):
        gr.append(bad, path)
    assert gr.load(path).to_dict() == both


def test_a_user_codec_and_an_unknown_one(tmp_path: Path) -> None:
    import zlib

    name = "test-zlib-list"
    gr.codecs.register(
        name,
        encode=lambda v: zlib.compress(json.dumps(v).encode()),
        decode=lambda b: json.loads(zlib.decompress(b)),
        replace=True,
    )
    df = gr.dataframe({"id": [0, 1, 2], "tags": [[1, 2], [], [3]]})
    path = tmp_path / "s.gr"
    gr.save(df, path, codecs={"tags": name})
    assert gr.load(path).to_dict() == df.to_dict()
    # A process without that codec: a clear error on open and load, naming how to fix it.
    manifest = json.loads((path / "grumpy.json").read_text())
    manifest["columns"][1]["codec"] = "spectra-v2"
    (path / "grumpy.json").write_text(json.dumps(manifest))
    for read in (lambda: gr.open(path), lambda: gr.load(path)):
        with pytest.raises(StoreFormatError) as err:
            read()
        text = str(err.value)
        assert "'tags'" in text and "'spectra-v2'" in text
        assert "gr.codecs.register('spectra-v2', encode=..., decode=...)" in text


def test_nothing_is_pickled(tmp_path: Path) -> None:
    obj = gr.dataframe({"id": [0], "blob": arrays_column([np.array([1.5, 2.5])])})
    path = tmp_path / "s.gr"
    gr.save(obj, path, codecs={"blob": "npy"})
    stored = gr.open(path)
    assert stored.manifest.column("blob").codec == "npy"
    # npy refuses object arrays (which would need pickle) both ways.
    with pytest.raises(TypeError, match="npy stores numeric arrays"):
        gr.codecs.get("npy").encode(np.array([{"a": 1}], dtype=object))
    payload = pickle.dumps(np.array([{"a": 1}], dtype=object))
    with pytest.raises(ValueError):
        gr.codecs.get("npy").decode(payload)


@pytest.mark.parametrize(
    ("codecs", "error", "message"),
    [
        ({"nope": "png"}, ValueError, "codecs names a column 'nope'"),
        ({"image": "webp"}, StoreFormatError, "codec 'webp'"),
        ({"image": 3}, TypeError, "codecs maps column names to codec names"),
    ],
)
def test_bad_codec_options_are_refused(
    tmp_path: Path, codecs: dict[str, Any], error: type, message: str
) -> None:
    with pytest.raises(error, match=message):
        gr.save(frame(3), tmp_path / "s.gr", codecs=codecs)
    assert not (tmp_path / "s.gr" / "grumpy.json").exists()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"name": "a b"}, "letters, digits"),
        ({"kind": "image"}, "kind must be 'object' or 'array'"),
        ({"name": "npy"}, "registered already; pass replace=True"),
    ],
)
def test_register_refuses_bad_names_and_kinds(kwargs: dict[str, Any], message: str) -> None:
    args = {"name": "ok-name", "encode": bytes, "decode": bytes, **kwargs}
    with pytest.raises(ValueError, match=message):
        gr.codecs.register(args.pop("name"), **args)


def test_image_codecs(tmp_path: Path) -> None:
    pytest.importorskip("PIL")
    pics = images(4, shape=(10, 12, 3))
    df = gr.dataframe({"id": [0, 1, 2, 3], "image": arrays_column(pics)})
    gr.save(df, tmp_path / "p.gr", codecs={"image": "png"})
    assert [
        np.array_equal(a, b)
        for a, b in zip(
            [np.asarray(r) for r in gr.load(tmp_path / "p.gr")["image"].to_list()],
            pics,
            strict=True,
        )
    ] == [True] * 4
    smooth = [np.full((16, 16, 3), 40 * i, dtype=np.uint8) for i in range(4)]
    gr.save(
        gr.dataframe({"id": [0, 1, 2, 3], "image": arrays_column(smooth)}),
        tmp_path / "j.gr",
        codecs={"image": "jpeg"},
    )
    got = [np.asarray(r, dtype=np.int64) for r in gr.load(tmp_path / "j.gr")["image"].to_list()]
    assert all(np.abs(g - s.astype(np.int64)).max() <= 2 for g, s in zip(got, smooth, strict=True))


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (7, r"field 'columns\[1\].codec'"),
        ("", r"field 'columns\[1\].codec'"),
        (["png"], r"field 'columns\[1\].codec'"),
    ],
)
def test_a_hostile_codec_field_is_a_format_error(tmp_path: Path, value: Any, message: str) -> None:
    path = tmp_path / "s.gr"
    gr.save(frame(4), path, codecs={"image": "png"})
    manifest = json.loads((path / "grumpy.json").read_text())
    manifest["columns"][1]["codec"] = value
    (path / "grumpy.json").write_text(json.dumps(manifest))
    with pytest.raises(StoreFormatError, match=message):
        gr.open(path)


def test_a_codec_on_a_column_that_is_not_binary_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "s.gr"
    gr.save(frame(4), path)
    manifest = json.loads((path / "grumpy.json").read_text())
    manifest["columns"][0]["codec"] = "json"  # the int64 id column
    (path / "grumpy.json").write_text(json.dumps(manifest))
    with pytest.raises(StoreFormatError, match="not one binary value per row"):
        gr.load(path)


def test_bytes_a_codec_cannot_decode_are_reported_with_the_row(tmp_path: Path) -> None:
    import zarr

    path = tmp_path / "s.gr"
    gr.save(frame(6), path, codecs={"image": "png"}, compressor="none")
    leaf = "image/r-data"
    length = gr.open(path).manifest.leaves[leaf].length
    arr = zarr.open_array(str(path / leaf), mode="r+")
    data = np.asarray(arr[:length]).copy()
    starts = [i for i in range(len(data) - 8) if bytes(data[i : i + 8]) == b"\x89PNG\r\n\x1a\n"]
    assert len(starts) == 6
    data[starts[3] + 20 : starts[3] + 40] = 0  # inside row 3's header chunk
    arr[:length] = data  # through zarr: the checksums stay valid
    h = gr.open(path)
    assert h.take([0, 1, 2]).to_dict() == frame(6)[[0, 1, 2]].to_dict()
    for read in (lambda: h.take([3]), lambda: gr.load(path)):
        with pytest.raises(
            StoreFormatError,
            match=r"column 'image', row \d of the rows read: "
            r"codec 'png' could not decode its \d+ "
            "bytes",
        ):
            read()


def test_sharded_datasets_keep_codecs_in_every_shard(tmp_path: Path) -> None:
    path = tmp_path / "ds.gr"
    df = frame(25)
    gr.save(df, path, shard_rows=10, codecs={"image": "png", "spectrum": "npy"})
    shards = sorted(p.name for p in path.iterdir() if p.name.startswith("shard-"))
    assert shards == ["shard-000000", "shard-000001", "shard-000002"]
    for name in shards:
        columns = json.loads((path / name / "grumpy.json").read_text())["columns"]
        assert {c["name"]: c.get("codec") for c in columns}["image"] == "png"
    assert gr.load(path).to_dict() == df.to_dict()
    h = gr.open(path)
    assert h.take([24, 3, 11]).to_dict() == df[[24, 3, 11]].to_dict()
    more = frame(7, seed=2)
    gr.append(more, path)  # fills the last shard, then a new one: both encode
    both = gr.load(path)
    assert both["image"].to_list() == df["image"].to_list() + more["image"].to_list()
    assert both["spectrum"].to_list() == df["spectrum"].to_list() + more["spectrum"].to_list()
    # Independent writers passing `like` get the codec columns' layout from it.
    other = tmp_path / "w.gr"
    with gr.ShardedWriter(other, 0, 2, shard_rows=5, like=df[:0], codecs={"image": "png"}) as w:
        w.write(df[:8])
    with gr.ShardedWriter(other, 1, 2, shard_rows=5, like=df[:0], codecs={"image": "png"}) as w:
        w.write(df[8:12])
    gr.consolidate(other)
    assert sorted(gr.load(other)["id"].to_list()) == list(range(12))
    assert gr.load(other)["image"].to_list() == [
        df["image"].to_list()[i] for i in gr.load(other)["id"].to_list()
    ]
