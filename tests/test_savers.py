"""Savers (docs/savers.md): the conformance suite run on every saver, and each one's own.

:class:`grumpy_arrow.testing.savers.SaverTests` (shipped, so that users' savers run it too)
is subclassed once per backend (``TestZarrSaver``, ``TestHDF5Saver``, ``TestNumpySaver``,
``TestGrumpySaver``); a subclass says how to build its saver, where its lock file is, how
to read its target with the plain library (``np.load``, ``zarr``, ``h5py``, the store's
``grumpy.json`` + Zarr leaves) and which capabilities it has. ``TestMinimalSaverSubclass``
gives only the two required hooks and turns every capability off: the suite then skips
what needs them.

Each subclass adds its backend's own tests, with exact values:

- the layout as the plain library reads it; several datasets per file; ``compression`` /
  ``chunks``; data written by other code is appended to;
- append never rewrites stored data (``.npy`` inode and bytes, Zarr chunk files), and
  interrupted appends (an uncommitted tail) are ignored by ``load`` and overwritten by the
  next append.

Then the abstract ``Saver`` (a custom saver with ``gr.run``), one lock per target across
threads, and ``ragged=`` of the buffer savers. Known bugs are marked
``xfail(strict=True)`` through ``KNOWN_BUGS`` (test id -> reason).
"""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
import threading
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, ClassVar

import fsspec
import numpy as np
import pytest
import zarr

import grumpy_arrow as gr
from grumpy_arrow.errors import SchemaError, StoreFormatError
from grumpy_arrow.savers import GrumpySaver, HDF5Saver, NumpySaver, Saver, ZarrSaver
from grumpy_arrow.testing.savers import Make, SaverTests, rows_of

try:
    import h5py
except ImportError:  # pragma: no cover - h5py is in the test extra
    h5py = None

# -- Zarr ---------------------------------------------------------------------------------


class TestZarrSaver(SaverTests):
    saver_cls = ZarrSaver
    KNOWN_BUGS: ClassVar[dict[str, str]] = {}

    def target(self, tmp_path: Path) -> str:
        return str(tmp_path / "results.zarr")

    def new(self, target: str, approach: str, name: str) -> Saver:
        return ZarrSaver(target, dataset_name=name, approach=approach)

    def lock_file(self, saver: Saver) -> str:
        name = saver.dataset_name.replace("/", "%2F")  # type: ignore[attr-defined]
        parent, group = os.path.split(saver.path)  # type: ignore[attr-defined]
        return os.path.join(parent, f".{group}.locks", f"{name}.lock")

    def plain(self, make: Make, name: str = "dataset") -> tuple[list[Any], np.dtype[Any]]:
        node = zarr.open_group(make().path, mode="r")[name]
        meta = dict(node.attrs)["grumpy_saver"]
        if meta["form"] == "ragged":
            values, offsets = node["values"][...], node["offsets"][...]
            assert meta["rows"] == len(offsets) - 1 and offsets[-1] == len(values)
            return rows_of(values, offsets), values.dtype
        assert meta == {"form": "rectangular", "rows": node.shape[0]}
        return rows_of(node[...], None), node.dtype

    def test_layout_read_by_plain_zarr(self, make: Make) -> None:
        make(name="scores").save(np.array([[1, 2], [3, 4]], dtype=np.int32))
        make(name="coords").save([[1.5], [], [2.5, 3.5]])
        group = zarr.open_group(make().path, mode="r")
        scores = group["scores"]
        assert isinstance(scores, zarr.Array)
        assert scores[...].tolist() == [[1, 2], [3, 4]] and scores.dtype == np.int32
        assert dict(scores.attrs) == {"grumpy_saver": {"form": "rectangular", "rows": 2}}
        coords = group["coords"]
        assert isinstance(coords, zarr.Group)
        assert coords["values"][...].tolist() == [1.5, 2.5, 3.5]
        assert coords["offsets"][...].tolist() == [0, 1, 1, 3]
        assert coords["offsets"].dtype == np.int64
        assert dict(coords.attrs) == {"grumpy_saver": {"form": "ragged", "rows": 3}}

    def test_several_datasets_and_nested_groups(self, make: Make) -> None:
        make(name="raw_data").save([[1.0, 2.0], [3.0, 4.0]])
        make(name="processed_data").save([3.0, 7.0])
        make(name="metadata/run").save([42])
        make(name="experiments/trial_1/data").save([[1], [2, 3]])
        make(name="raw_data").save([[5.0, 6.0]])
        self.expect(make, [[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]], "float64", name="raw_data")
        self.expect(make, [3.0, 7.0], "float64", name="processed_data")
        self.expect(make, [42], "int64", name="metadata/run")
        self.expect(make, [[1], [2, 3]], "int64", ragged=True, name="experiments/trial_1/data")
        group = zarr.open_group(make().path, mode="r")
        assert isinstance(group["metadata"], zarr.Group)
        assert isinstance(group["experiments/trial_1"], zarr.Group)

    def test_group_members_list_without_warnings(self, make: Make) -> None:
        make(name="raw_data").save([1.0])
        make(name="metadata/run").save([42])
        group = zarr.open_group(make().path, mode="r")
        assert sorted(group.keys()) == ["metadata", "raw_data"]

    def test_dataset_name_slashes_are_stripped_and_empty_is_refused(self, make: Make) -> None:
        make(name="/a/b/").save([1])
        self.expect(make, [1], "int64", name="a/b")
        for bad in ["", "/", "//"]:
            with pytest.raises(ValueError, match="dataset_name must be a non-empty string"):
                make(name=bad)

    @pytest.mark.parametrize(
        ("compression", "opts", "codec"),
        [
            ("zstd", None, {"name": "zstd", "level": 3}),
            ("zstd", 7, {"name": "zstd", "level": 7}),
            ("gzip", None, {"name": "gzip", "level": 5}),
            ("gzip", 9, {"name": "gzip", "level": 9}),
            ("blosc", 2, {"name": "blosc", "clevel": 2}),
        ],
        ids=["zstd", "zstd-7", "gzip", "gzip-9", "blosc-2"],
    )
    def test_compression_is_in_the_zarr_metadata(
        self, make: Make, compression: str, opts: Any, codec: dict[str, Any]
    ) -> None:
        make().save(np.arange(1000), compression=compression, compression_opts=opts)
        make(name="ragged").save([[1, 2], [3]], compression=compression, compression_opts=opts)
        root = Path(make().path)

        def compressors(array_dir: Path) -> list[dict[str, Any]]:
            codecs = json.loads((array_dir / "zarr.json").read_text())["codecs"]
            return [
                {"name": c["name"], **{k: c["configuration"][k] for k in codec if k != "name"}}
                for c in codecs
                if c["name"] not in ("bytes", "transpose")
            ]

        assert compressors(root / "dataset") == [codec]
        assert compressors(root / "ragged" / "values") == [codec]
        assert compressors(root / "ragged" / "offsets") == []
        make().save(np.arange(1000, 1010))  # appends keep the codec
        self.expect(make, list(range(1010)), "int64")
        assert compressors(root / "dataset") == [codec]

    def test_no_compression_by_default(self, make: Make) -> None:
        make().save([1, 2])
        group = zarr.open_group(make().path, mode="r")
        assert group["dataset"].compressors == ()

    @pytest.mark.parametrize(
        ("data", "chunks", "expected"),
        [
            (np.arange(1000), (100,), (100,)),
            (np.arange(1000), 250, (250,)),
            (np.zeros((50, 3)), (10,), (10, 3)),
            (np.zeros((50, 3, 2)), [5, 3, 1], (5, 3, 1)),
        ],
        ids=["tuple", "int", "2d-rows", "3d-full-shape"],
    )
    def test_chunks_option(self, make: Make, data: Any, chunks: Any, expected: Any) -> None:
        make().save(data, chunks=chunks)
        assert zarr.open_group(make().path, mode="r")["dataset"].chunks == expected
        self.expect(make, data.tolist(), data.dtype)

    def test_default_chunks_hold_about_one_mib_of_rows(self, make: Make) -> None:
        make().save(np.zeros((3, 4)))
        assert zarr.open_group(make().path, mode="r")["dataset"].chunks == (32768, 4)

    @pytest.mark.parametrize("approach", ["append", "overwrite"])
    def test_bad_compression_is_refused_before_writing(
        self, make: Make, tmp_path: Path, approach: str
    ) -> None:
        with pytest.raises(ValueError, match="compression must be one of none, zstd, gzip, blosc"):
            make(approach).save([1, 2], compression="lz77")
        assert self.state(make) == "missing"
        make().save([1, 2])
        with self.unchanged(make, tmp_path), pytest.raises(ValueError, match="'lz77'"):
            make(approach).save([3], compression="lz77")

    def test_append_never_rewrites_full_chunks(self, make: Make) -> None:
        make().save(np.arange(8), chunks=(4,))
        chunk_dir = Path(make().path) / "dataset" / "c"
        assert sorted(os.listdir(chunk_dir)) == ["0", "1"]
        before = {
            k: (
                os.stat(chunk_dir / k).st_mtime_ns,
                os.stat(chunk_dir / k).st_ino,
                (chunk_dir / k).read_bytes(),
            )
            for k in ("0", "1")
        }
        make().save(np.arange(8, 13))
        make().save(np.arange(13, 16))
        assert sorted(os.listdir(chunk_dir)) == ["0", "1", "2", "3"]
        after = {
            k: (
                os.stat(chunk_dir / k).st_mtime_ns,
                os.stat(chunk_dir / k).st_ino,
                (chunk_dir / k).read_bytes(),
            )
            for k in ("0", "1")
        }
        assert after == before
        self.expect(make, list(range(16)), "int64")

    def test_uncommitted_tail_is_ignored_then_overwritten(self, make: Make) -> None:
        make().save([1, 2, 3])
        arr = zarr.open_group(make().path, mode="a")["dataset"]
        arr.resize((6,))
        arr[3:] = [97, 98, 99]  # a crash after the data, before the "rows" commit
        assert dict(arr.attrs)["grumpy_saver"]["rows"] == 3
        assert make().load().tolist() == [1, 2, 3]
        make().save([4])
        self.expect(make, [1, 2, 3, 4], "int64")
        make("update").save([5], indices=[-1])
        self.expect(make, [1, 2, 3, 5], "int64")

    def test_interrupted_ragged_append_keeps_the_committed_rows(
        self, make: Make, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        import grumpy_arrow.savers.zarr as zarr_saver

        make().save([[1, 2], [3]])
        real_put, calls = zarr_saver._put, []

        def crash_on_offsets(arr: Any, start: int, data: np.ndarray) -> None:
            calls.append(start)
            if len(calls) == 2:  # values written; the offsets and the commit are not
                raise KeyboardInterrupt("killed")
            real_put(arr, start, data)

        monkeypatch.setattr(zarr_saver, "_put", crash_on_offsets)
        with pytest.raises(KeyboardInterrupt):
            make().save([[7, 7, 7, 7]])
        monkeypatch.setattr(zarr_saver, "_put", real_put)
        node = zarr.open_group(make().path, mode="r")["dataset"]
        assert node["values"][...].tolist() == [1, 2, 3, 7, 7, 7, 7]  # the uncommitted tail
        assert make().load().to_list() == [[1, 2], [3]]
        make().save([[4], [5, 6]])
        self.expect(make, [[1, 2], [3], [4], [5, 6]], "int64", ragged=True)

    def test_array_written_by_other_code_is_appended_to(self, make: Make) -> None:
        group = zarr.open_group(make().path, mode="w")
        group.create_array("external", data=np.array([1, 2, 3]))
        group.create_group("folder")
        make(name="external").save([4])
        self.expect(make, [1, 2, 3, 4], "int64", name="external")
        with pytest.raises(StoreFormatError, match="not written by a grumpy_arrow saver"):
            make(name="folder").save([1])
        make("overwrite", name="folder").save([1])
        self.expect(make, [1], "int64", name="folder")

    def test_fsspec_memory_url(self) -> None:
        url = f"memory://savers-{uuid.uuid4().hex}/results.zarr"
        try:
            ZarrSaver(url, "d").save([1, 2])
            ZarrSaver(url, "d").save(np.array([3]))
            ZarrSaver(url, "d", approach="update").save([9], indices=[0])
            assert ZarrSaver(url, "d").load().tolist() == [9, 2, 3]
            ZarrSaver(url, "r").save([[1], [2, 3]])
            ZarrSaver(url, "r").save([[4, 5, 6]])
            assert ZarrSaver(url, "r").load().to_list() == [[1], [2, 3], [4, 5, 6]]
            ZarrSaver(url, "d", approach="overwrite").save([[0.5], []])
            assert ZarrSaver(url, "d").load().to_list() == [[0.5], []]
            assert ZarrSaver(url, "r").load().to_list() == [[1], [2, 3], [4, 5, 6]]
        finally:
            fsspec.filesystem("memory").rm(url.split("://")[1].split("/")[0], recursive=True)


# -- HDF5 ---------------------------------------------------------------------------------


@pytest.mark.h5py
@pytest.mark.skipif(h5py is None, reason="needs h5py (the hdf5 extra)")
class TestHDF5Saver(SaverTests):
    saver_cls = HDF5Saver
    KNOWN_BUGS: ClassVar[dict[str, str]] = {}

    def target(self, tmp_path: Path) -> str:
        return str(tmp_path / "project_data.h5")

    def new(self, target: str, approach: str, name: str) -> Saver:
        return HDF5Saver(target, dataset_name=name, approach=approach)

    def lock_file(self, saver: Saver) -> str:
        return f"{saver.path}.lock"

    def plain(self, make: Make, name: str = "dataset") -> tuple[list[Any], np.dtype[Any]]:
        with h5py.File(make().path, "r") as fh:
            node = fh[name]
            form = node.attrs["grumpy_saver_form"]
            rows = int(node.attrs["grumpy_saver_rows"])
            if form == "ragged":
                values, offsets = node["values"][()], node["offsets"][()]
                assert rows == len(offsets) - 1 and offsets[-1] == len(values)
                return rows_of(values, offsets), values.dtype
            assert form == "rectangular" and rows == node.shape[0]
            return rows_of(node[()], None), node.dtype

    def test_layout_read_by_plain_h5py(self, make: Make) -> None:
        make(name="scores").save(np.array([[1, 2], [3, 4]], dtype=np.int32))
        make(name="coords").save([[1.5], [], [2.5, 3.5]])
        with h5py.File(make().path, "r") as fh:
            scores = fh["scores"]
            assert isinstance(scores, h5py.Dataset)
            assert scores[()].tolist() == [[1, 2], [3, 4]] and scores.dtype == np.int32
            assert scores.maxshape == (None, 2)
            assert scores.attrs["grumpy_saver_form"] == "rectangular"
            assert scores.attrs["grumpy_saver_rows"] == 2
            coords = fh["coords"]
            assert isinstance(coords, h5py.Group)
            assert coords["values"][()].tolist() == [1.5, 2.5, 3.5]
            assert coords["offsets"][()].tolist() == [0, 1, 1, 3]
            assert coords["offsets"].dtype == np.int64
            assert coords.attrs["grumpy_saver_form"] == "ragged"
            assert coords.attrs["grumpy_saver_rows"] == 3

    def test_several_datasets_and_nested_groups(self, make: Make) -> None:
        make(name="raw_data").save([[1.0, 2.0], [3.0, 4.0]])
        make(name="processed_data").save([3.0, 7.0])
        make(name="metadata/run").save([42])
        make(name="experiments/trial_1/data").save([[1], [2, 3]])
        make(name="a/b/c").save(np.arange(4).reshape(2, 2))
        make(name="raw_data").save([[5.0, 6.0]])
        make("update", name="processed_data").save([8.0], indices=[0])
        self.expect(make, [[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]], "float64", name="raw_data")
        self.expect(make, [8.0, 7.0], "float64", name="processed_data")
        self.expect(make, [42], "int64", name="metadata/run")
        self.expect(make, [[1], [2, 3]], "int64", ragged=True, name="experiments/trial_1/data")
        self.expect(make, [[0, 1], [2, 3]], "int64", name="a/b/c")
        with h5py.File(make().path, "r") as fh:
            assert sorted(fh.keys()) == [
                "a",
                "experiments",
                "metadata",
                "processed_data",
                "raw_data",
            ]
            assert isinstance(fh["a"], h5py.Group) and isinstance(fh["a/b"], h5py.Group)
            assert isinstance(fh["a/b/c"], h5py.Dataset)
            assert isinstance(fh["experiments/trial_1"], h5py.Group)

    def test_threads_write_two_datasets_of_one_file(self, make: Make) -> None:
        def work(name: str, start: int) -> None:
            for j in range(20):
                make(name=name).save([start + j])

        with ThreadPoolExecutor(4) as pool:
            futures = [
                pool.submit(work, n, s)
                for n, s in [("a", 0), ("b", 100), ("g/c", 200), ("g/d", 300)]
            ]
            for future in futures:
                future.result()
        for name, start in [("a", 0), ("b", 100), ("g/c", 200), ("g/d", 300)]:
            self.expect(make, list(range(start, start + 20)), "int64", name=name)

    @pytest.mark.parametrize(
        ("options", "compression", "opts"),
        [
            ({"compression": "gzip", "compression_opts": 9}, "gzip", 9),
            ({"compression": "gzip"}, "gzip", 4),
            ({"compression": "lzf"}, "lzf", None),
            ({}, None, None),
        ],
        ids=["gzip-9", "gzip", "lzf", "none"],
    )
    def test_compression_is_passed_to_h5py(
        self, make: Make, options: dict[str, Any], compression: Any, opts: Any
    ) -> None:
        make().save(np.arange(1000.0), **options)
        make(name="ragged").save([[1, 2], [3]], **options)
        make().save([1000.0])
        with h5py.File(make().path, "r") as fh:
            for dset in (fh["dataset"], fh["ragged/values"]):
                assert (dset.compression, dset.compression_opts) == (compression, opts)
            assert fh["ragged/offsets"].compression is None
        self.expect(make, [float(v) for v in range(1001)], "float64")

    def test_chunks_option(self, make: Make) -> None:
        make().save(np.arange(1000), chunks=(100,))
        make(name="two").save(np.zeros((10, 3)), chunks=(5, 3))
        make(name="auto").save([1, 2, 3])
        with h5py.File(make().path, "r") as fh:
            assert fh["dataset"].chunks == (100,)
            assert fh["two"].chunks == (5, 3)
            assert fh["auto"].chunks is not None and fh["auto"].maxshape == (None,)

    def test_bad_compression_is_a_value_error(self, make: Make, tmp_path: Path) -> None:
        with pytest.raises(ValueError, match="h5py refused the dataset options"):
            make().save([1, 2], compression="bogus")
        assert self.state(make) == "missing"
        make().save([1, 2])
        make().save([3], compression="bogus")  # options apply when a dataset is created
        self.expect(make, [1, 2, 3], "int64")
        with pytest.raises(ValueError, match="h5py refused the dataset options"):
            make("overwrite").save([4], compression="bogus")
        self.expect(make, [1, 2, 3], "int64")

    def test_failed_overwrite_leaves_no_temporary_node(self, make: Make) -> None:
        make().save([1, 2])
        with pytest.raises(ValueError, match="h5py refused"):
            make("overwrite").save([[1], [2, 3]], compression="bogus")
        self.expect(make, [1, 2], "int64")
        with h5py.File(make().path, "r") as fh:
            assert list(fh.keys()) == ["dataset"]

    def test_uncommitted_tail_is_ignored_then_overwritten(self, make: Make) -> None:
        make().save([1, 2, 3])
        with h5py.File(make().path, "a") as fh:
            dset = fh["dataset"]
            dset.resize(6, axis=0)
            dset[3:] = [97, 98, 99]  # a crash after the data, before the rows commit
        assert make().load().tolist() == [1, 2, 3]
        make().save([4])
        self.expect(make, [1, 2, 3, 4], "int64")

    def test_interrupted_ragged_append_keeps_the_committed_rows(
        self, make: Make, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        import grumpy_arrow.savers.hdf5 as hdf5_saver

        make().save([[1, 2], [3]])
        real_put, calls = hdf5_saver._put, []

        def crash_after_values(dset: Any, start: int, data: np.ndarray) -> None:
            calls.append(start)
            real_put(dset, start, data)
            if len(calls) == 1:  # values written; offsets and rows not
                raise KeyboardInterrupt("killed")

        monkeypatch.setattr(hdf5_saver, "_put", crash_after_values)
        with pytest.raises(KeyboardInterrupt):
            make().save([[7, 7, 7, 7]])
        monkeypatch.setattr(hdf5_saver, "_put", real_put)
        assert make().load().to_list() == [[1, 2], [3]]
        make().save([[4], [5, 6]])
        self.expect(make, [[1, 2], [3], [4], [5, 6]], "int64", ragged=True)

    def test_resizable_dataset_written_by_other_code_is_appended_to(self, make: Make) -> None:
        with h5py.File(make().path, "w") as fh:
            fh.create_dataset("external", data=[1, 2, 3], maxshape=(None,))
        make(name="external").save([4])
        make("update", name="external").save([9], indices=[0])
        with h5py.File(make().path, "r") as fh:
            assert fh["external"][()].tolist() == [9, 2, 3, 4]
        assert make(name="external").load().tolist() == [9, 2, 3, 4]


# -- .npy ---------------------------------------------------------------------------------


class TestNumpySaver(SaverTests):
    saver_cls = NumpySaver
    strings = "fixed-width"
    KNOWN_BUGS: ClassVar[dict[str, str]] = {}

    def target(self, tmp_path: Path) -> str:
        return str(tmp_path / "results.npy")

    def new(self, target: str, approach: str, name: str) -> Saver:
        return NumpySaver(target, approach=approach)

    def lock_file(self, saver: Saver) -> str:
        return f"{saver.path}.lock"

    def plain(self, make: Make, name: str = "dataset") -> tuple[list[Any], np.dtype[Any]]:
        path = make().path
        values = np.load(path)
        side = path[: -len(".npy")] + ".offsets.npy"
        offsets = np.load(side) if os.path.exists(side) else None
        if offsets is not None:
            assert offsets.dtype == np.int64 and offsets[0] == 0 and offsets[-1] == len(values)
        return rows_of(values, offsets), values.dtype

    @staticmethod
    def header_size(path: str) -> int:
        with open(path, "rb") as fh:
            np.lib.format.read_magic(fh)
            np.lib.format.read_array_header_1_0(fh)
            return fh.tell()

    def test_layout_read_by_np_load(self, make: Make, tmp_path: Path) -> None:
        make().save(np.array([[1, 2], [3, 4]], dtype=np.int32))
        make().save([[5, 6]])
        loaded = np.load(tmp_path / "results.npy")
        assert loaded.dtype == np.int32 and loaded.tolist() == [[1, 2], [3, 4], [5, 6]]
        ragged = NumpySaver(tmp_path / "coords.npy")
        ragged.save([[1.5], [], [2.5, 3.5]])
        NumpySaver(tmp_path / "coords.npy").save([[4.5]])
        assert np.load(tmp_path / "coords.npy").tolist() == [1.5, 2.5, 3.5, 4.5]
        offsets = np.load(tmp_path / "coords.offsets.npy")
        assert offsets.dtype == np.int64 and offsets.tolist() == [0, 1, 1, 3, 4]
        files = sorted(p for p in os.listdir(tmp_path) if not p.endswith(".lock"))
        assert files == ["coords.npy", "coords.offsets.npy", "results.npy"]

    def test_overwrite_switches_the_offsets_file(self, make: Make, tmp_path: Path) -> None:
        side = tmp_path / "results.offsets.npy"
        make().save([[1, 2], [3]])
        assert side.exists()
        make("overwrite").save([1.0, 2.0])
        assert not side.exists()
        self.expect(make, [1.0, 2.0], "float64")
        make("overwrite").save([[1], [2, 3]])
        assert np.load(side).tolist() == [0, 1, 3]
        self.expect(make, [[1], [2, 3]], "int64", ragged=True)

    @pytest.mark.parametrize(
        "options",
        [{"compression": "gzip"}, {"compression_opts": 4}, {"chunks": (100,)}],
        ids=["compression", "compression_opts", "chunks"],
    )
    def test_storage_options_are_refused(
        self, make: Make, tmp_path: Path, options: dict[str, Any]
    ) -> None:
        with pytest.raises(ValueError, match=r"plain \.npy files") as info:
            make().save([1, 2], **options)
        assert info.type is ValueError
        assert self.state(make) == "missing"
        make().save([1, 2])
        with self.unchanged(make, tmp_path), pytest.raises(ValueError, match=r"plain \.npy"):
            make("overwrite").save([3], **options)

    def test_append_grows_the_file_in_place(self, make: Make) -> None:
        make().save(np.arange(5, dtype=np.int64))
        path = make().path
        first = Path(path).read_bytes()
        size = self.header_size(path)
        inode = os.stat(path).st_ino
        for k in range(3):
            make().save(np.arange(5 + 2 * k, 7 + 2 * k))
        after = Path(path).read_bytes()
        assert os.stat(path).st_ino == inode  # not a new file renamed over the old one
        assert self.header_size(path) == size  # the header never moves
        assert after[size : len(first)] == first[size:]  # the stored rows are untouched
        assert after[size:] == np.arange(11, dtype=np.int64).tobytes()
        assert len(after) == size + 11 * 8
        self.expect(make, list(range(11)), "int64")

    def test_ragged_append_grows_both_files_in_place(self, make: Make, tmp_path: Path) -> None:
        make().save([[1, 2], [3]])
        paths = [tmp_path / "results.npy", tmp_path / "results.offsets.npy"]
        before = [(os.stat(p).st_ino, p.read_bytes(), self.header_size(str(p))) for p in paths]
        make().save([[4, 5, 6]])
        for p, (inode, data, size) in zip(paths, before, strict=True):
            assert os.stat(p).st_ino == inode
            assert p.read_bytes()[size : len(data)] == data[size:]
        self.expect(make, [[1, 2], [3], [4, 5, 6]], "int64", ragged=True)

    def test_file_written_by_np_save_is_appended_to(self, make: Make) -> None:
        np.save(make().path, np.arange(3.0))
        make().save([3.0, 4.0])
        self.expect(make, [0.0, 1.0, 2.0, 3.0, 4.0], "float64")

    def test_uncommitted_tail_is_ignored_then_overwritten(self, make: Make) -> None:
        make().save(np.array([1, 2, 3], dtype=np.int64))
        path = make().path
        size = self.header_size(path)
        with open(path, "ab") as fh:  # a crash after the data, before the header
            fh.write(np.array([97, 98], dtype=np.int64).tobytes())
        assert np.load(path).tolist() == [1, 2, 3]
        assert make().load().tolist() == [1, 2, 3]
        make().save([4])
        assert os.path.getsize(path) == size + 4 * 8  # the tail was overwritten
        self.expect(make, [1, 2, 3, 4], "int64")

    def test_interrupted_header_rewrite_keeps_the_committed_rows(
        self, make: Make, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        import grumpy_arrow.savers.npy as npy_saver

        make().save([1.5, 2.5])
        real_header = npy_saver._header

        def crash_on_rewrite(dtype: Any, shape: Any, size: int | None = None) -> bytes:
            if size is not None:  # data written, header not
                raise KeyboardInterrupt("killed")
            return real_header(dtype, shape, size)

        monkeypatch.setattr(npy_saver, "_header", crash_on_rewrite)
        with pytest.raises(KeyboardInterrupt):
            make().save([7.5, 8.5, 9.5])
        monkeypatch.setattr(npy_saver, "_header", real_header)
        assert np.load(make().path).tolist() == [1.5, 2.5]
        assert make().load().tolist() == [1.5, 2.5]
        make().save([3.5])
        self.expect(make, [1.5, 2.5, 3.5], "float64")

    def test_interrupted_ragged_append_keeps_the_committed_rows(
        self, make: Make, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        import grumpy_arrow.savers.npy as npy_saver

        make().save([[1, 2], [3]])
        real_grow, calls = npy_saver._grow, []

        def crash_on_offsets(path: str, start: int, values: np.ndarray) -> int:
            calls.append(path)
            if len(calls) == 2:  # the values file grew (and committed); offsets did not
                raise KeyboardInterrupt("killed")
            return real_grow(path, start, values)

        monkeypatch.setattr(npy_saver, "_grow", crash_on_offsets)
        with pytest.raises(KeyboardInterrupt):
            make().save([[7, 7, 7, 7]])
        monkeypatch.setattr(npy_saver, "_grow", real_grow)
        assert calls[1].endswith("results.offsets.npy")
        assert np.load(tmp_path / "results.npy").tolist() == [1, 2, 3, 7, 7, 7, 7]
        assert make().load().to_list() == [[1, 2], [3]]
        make().save([[4], [5, 6]])
        self.expect(make, [[1, 2], [3], [4], [5, 6]], "int64", ragged=True)

    def test_zero_d_and_nested_batches_are_refused(self, make: Make, tmp_path: Path) -> None:
        make().save([1.0, 2.0])
        cases = [
            (np.float64(3.0), "a batch is a sequence of rows"),
            ([np.ones((2, 3)), np.ones((1, 4))], "share their trailing shape"),
            ([1.0, [2.0, 3.0]], "use GrumpySaver"),
            ([[1.0], None], "null rows"),
            ([[[1.0], [2.0, 3.0]], [[4.0]]], "use GrumpySaver"),
        ]
        for data, match in cases:
            with self.unchanged(make, tmp_path), pytest.raises(SchemaError, match=match):
                make().save(data)


class TestMinimalSaverSubclass(SaverTests):
    """Only the required hooks, every capability off: what needs one is skipped."""

    saver_cls = NumpySaver
    supports_overwrite = False
    supports_update = False
    supports_ragged = False
    strings = None

    def target(self, tmp_path: Path) -> str:
        return str(tmp_path / "results.npy")

    def new(self, target: str, approach: str, name: str) -> Saver:
        return NumpySaver(target, approach=approach)


# -- grumpy stores ------------------------------------------------------------------------


def _decode(group: Any, node: dict[str, Any], leaves: dict[str, Any], lo: int, hi: int) -> Any:
    """Rows ``lo:hi`` of a layout node of a grumpy store, read with plain zarr."""
    if node["kind"] == "leaf":
        return group[node["values"]][lo:hi]
    assert node["kind"] == "list", node
    if "offsets" not in node:  # a fixed axis: row i owns content [i * size, (i + 1) * size)
        k = node["size"]
        return [_decode(group, node["content"], leaves, i * k, (i + 1) * k) for i in range(lo, hi)]
    offsets = group[node["offsets"]][lo : hi + 1]
    return [
        _decode(group, node["content"], leaves, int(a), int(b))
        for a, b in itertools.pairwise(offsets)
    ]


def _leaf_dtype(node: dict[str, Any]) -> np.dtype[Any]:
    return np.dtype(node["dtype"]) if node["kind"] == "leaf" else _leaf_dtype(node["content"])


def _to_list(x: Any) -> Any:
    return x.tolist() if isinstance(x, np.ndarray) else [_to_list(v) for v in x]


class TestGrumpySaver(SaverTests):
    saver_cls = GrumpySaver
    strings = None  # loaded as grumpy arrays: see test_unions_nulls_and_strings
    strict_shapes = False
    ragged_update_resizes = True
    KNOWN_BUGS: ClassVar[dict[str, str]] = {}
    WIDENED: ClassVar[dict[str, list[Any]]] = {
        "append-not-same-kind": [1.0, 2.0, 3.0, 1.5],
        "append-rank-mismatch": [1, 2, 3, [1, 2]],
        "append-ragged-into-scalars": [1, 2, 3, [1], [2, 3]],
    }

    def target(self, tmp_path: Path) -> str:
        return str(tmp_path / "results.gr")

    def new(self, target: str, approach: str, name: str) -> Saver:
        return GrumpySaver(target, approach=approach)

    def lock_file(self, saver: Saver) -> str:
        return f"{saver.path}.saver.lock"

    def as_numpy(self, loaded: Any) -> np.ndarray:
        assert isinstance(loaded, gr.GrumpyArray), type(loaded)
        return loaded.to_numpy()

    def plain(self, make: Make, name: str = "dataset") -> tuple[list[Any], np.dtype[Any]]:
        path = make().path
        manifest = json.loads(Path(path, "grumpy.json").read_text())
        assert manifest["format"] == "grumpy_arrow" and manifest["kind"] == "array"
        layout = manifest["columns"][0]["layout"]
        group = zarr.open_group(path, mode="r")
        rows = _decode(group, layout, manifest["leaves"], 0, manifest["rows"])
        return _to_list(rows), _leaf_dtype(layout)

    def test_layout_read_by_plain_zarr(self, make: Make) -> None:
        make().save([[1, 2], [3]])
        make().save([[4, 5, 6]])
        path = make().path
        manifest = json.loads(Path(path, "grumpy.json").read_text())
        assert manifest["rows"] == 3
        assert manifest["leaves"]["array/r-offsets"] == {"dtype": "int64", "length": 4, "last": 6}
        assert manifest["leaves"]["array/r.c-values"] == {"dtype": "int64", "length": 6}
        group = zarr.open_group(path, mode="r")
        assert group["array/r-offsets"][:4].tolist() == [0, 2, 3, 6]
        assert group["array/r.c-values"][:6].tolist() == [1, 2, 3, 4, 5, 6]

    def test_compression_and_chunks_options(self, make: Make) -> None:
        make().save([1.0, 2.0], compression="zstd", chunks=(100,))
        make().save([3.0])
        path = make().path
        manifest = json.loads(Path(path, "grumpy.json").read_text())
        assert manifest["compressor"] == "zstd"
        assert manifest["chunking"]["chunk_size"] == 100
        leaf = zarr.open_group(path, mode="r")["array/r-values"]
        assert leaf.chunks == (100,)
        # zstd compresses; the store may add its checksum codec (crc32c) after it
        codecs = [type(c).__name__ for c in leaf.compressors]
        assert codecs[0] == "ZstdCodec" and set(codecs[1:]) <= {"Crc32cCodec"}
        self.expect(make, [1.0, 2.0, 3.0], "float64")

    def test_compression_opts_and_bad_compression_are_refused(
        self, make: Make, tmp_path: Path
    ) -> None:
        with pytest.raises(ValueError, match="takes no compression_opts"):
            make().save([1], compression="zstd", compression_opts=3)
        with pytest.raises(ValueError, match="compressor must be one of"):
            make().save([1], compression="lz77")
        assert self.state(make) == "missing"
        make().save([1, 2])
        with self.unchanged(make, tmp_path), pytest.raises(ValueError, match="compressor"):
            make("overwrite").save([3], compression="lz77")

    def test_unions_nulls_and_strings(self, make: Make) -> None:
        make().save(["P1", ["P2-1", "P2-2"]])
        make().save([None, "P4"])
        make("update").save([["a", "b", "c"]], indices=[0])
        assert make().load().to_list() == [["a", "b", "c"], ["P2-1", "P2-2"], None, "P4"]
        assert gr.load(make().path).to_list() == [["a", "b", "c"], ["P2-1", "P2-2"], None, "P4"]

    def test_frames(self, make: Make) -> None:
        def frame(start: int, n: int) -> gr.DataFrame:
            ids = list(range(start, start + n))
            return gr.dataframe(
                {
                    "molecule_id": ids,
                    "residue_a": [[10 * m + r for r in range(m % 3)] for m in ids],
                },
                schema=["molecule", "residue"],
            )

        make().save(frame(0, 3))
        make().save(frame(3, 2))
        loaded = make().load()
        assert isinstance(loaded, gr.DataFrame)
        assert loaded.to_dict() == frame(0, 5).to_dict()
        make("update").save(frame(7, 1), indices=[1])
        assert make().load()["molecule_id"].to_list() == [0, 7, 2, 3, 4]
        assert make().load()["residue_a"].to_list() == [[], [70], [20, 21], [], [40]]


# -- the abstract base --------------------------------------------------------------------


class ListSaver(Saver):
    """A minimal custom saver: rows kept in a list."""

    def __init__(self, approach: str = "append") -> None:
        super().__init__(approach=approach)
        self.path = "<memory>"
        self.rows: list[Any] = []
        self.calls: list[tuple[list[Any], Any]] = []

    def save(self, data: Any, indices: Any = None, **kwargs: Any) -> None:
        self.calls.append((list(data), indices))
        if self.approach == "update":
            for i, row in zip(indices, data, strict=True):
                self.rows[i] = row
        elif self.approach == "overwrite":
            self.rows = list(data)
        else:
            self.rows.extend(data)

    def load(self) -> list[Any]:
        return list(self.rows)


def test_saver_is_abstract_in_save_only() -> None:
    with pytest.raises(TypeError, match="abstract"):
        Saver()  # type: ignore[abstract]

    class OnlySave(Saver):
        def save(self, data: Any, indices: Any = None, **kwargs: Any) -> None:
            pass

    saver = OnlySave()  # load is optional (raygent's Saver has save only)
    with pytest.raises(NotImplementedError, match=r"^OnlySave\.load is not implemented"):
        saver.load()
    assert gr.savers.Saver is Saver
    assert gr.savers.APPROACHES == ("append", "overwrite", "update")


IMPORT_WITHOUT_PYTEST = """
import sys
import grumpy_arrow.testing
print("pytest" in sys.modules)
sys.modules["pytest"] = None  # as if pytest were not installed
try:
    import grumpy_arrow.testing.savers
except ImportError as err:
    print(err)
"""


def test_saver_suite_needs_pytest_only_once_imported() -> None:
    """``grumpy_arrow.testing`` never imports pytest; the suite names the extra it needs."""
    out = subprocess.run(
        [sys.executable, "-c", IMPORT_WITHOUT_PYTEST], capture_output=True, text=True, check=True
    )
    assert out.stdout.splitlines() == [
        "False",
        "grumpy_arrow.testing.savers needs pytest; install it with pip install "
        "'grumpy_arrow[test]'",
    ]


def test_custom_saver_works_with_run() -> None:
    saver = ListSaver(" Append")
    assert repr(saver) == "ListSaver('<memory>', approach='append')"
    assert gr.run(lambda i: i * 10, range(7), saver=saver, save_interval=3) == 7
    assert saver.load() == [0, 10, 20, 30, 40, 50, 60]
    assert [len(batch) for batch, _ in saver.calls] == [3, 3, 1]
    updater = ListSaver("update")
    updater.rows = [None] * 5
    gr.run(lambda i: -i, range(5), saver=updater, save_interval=2)
    assert updater.load() == [0, -1, -2, -3, -4]
    assert [indices for _, indices in updater.calls] == [range(0, 2), range(2, 4), range(4, 5)]


def test_saver_threads_use_one_lock_per_target(tmp_path: Path) -> None:
    """A reader thread (load) never sees a half-written batch of a concurrent append."""
    path = tmp_path / "x.npy"
    NumpySaver(path).save(np.zeros((1, 4)))
    stop = threading.Event()
    seen: list[int] = []
    torn: list[Any] = []

    def reader() -> None:
        while not stop.is_set():
            arr = NumpySaver(path).load()
            seen.append(len(arr))
            if len(arr) % 2 != 1 or not (arr == arr[:, :1]).all():
                torn.append(arr)  # a half-written batch or row

    thread = threading.Thread(target=reader)
    thread.start()
    try:
        for k in range(1, 40):
            NumpySaver(path).save(np.full((2, 4), float(k)))
    finally:
        stop.set()
        thread.join()
    assert torn == []
    assert len(seen) > 0 and seen == sorted(seen)
    assert NumpySaver(path).load()[:, 0].tolist() == [0.0] + [
        float(k) for k in range(1, 40) for _ in range(2)
    ]


# -- ragged= (buffer savers) --------------------------------------------------------------

BUFFER_SAVERS = [
    pytest.param(lambda p, **kw: ZarrSaver(p + ".zarr", **kw), id="zarr"),
    pytest.param(
        lambda p, **kw: HDF5Saver(p + ".h5", **kw),
        id="hdf5",
        marks=[pytest.mark.h5py, pytest.mark.skipif(h5py is None, reason="needs h5py")],
    ),
    pytest.param(lambda p, **kw: NumpySaver(p + ".npy", **kw), id="npy"),
]


@pytest.mark.parametrize("new", BUFFER_SAVERS)
def test_ragged_true_keeps_a_first_batch_of_equal_lengths_ragged(
    new: Callable[..., Saver], tmp_path: Path
) -> None:
    target = str(tmp_path / "out")
    gr.run(
        lambda i: np.arange(i % 3 + 1, dtype=np.float32) + i,
        range(7),
        saver=new(target, ragged=True),
        save_interval=1,
    )
    rows = new(target).load().to_list()
    assert rows == [[float(i + j) for j in range(i % 3 + 1)] for i in range(7)]


@pytest.mark.parametrize("new", BUFFER_SAVERS)
def test_ragged_false_refuses_rows_of_different_lengths(
    new: Callable[..., Saver], tmp_path: Path
) -> None:
    target = str(tmp_path / "out")
    with pytest.raises(SchemaError, match="ragged=False"):
        new(target, ragged=False).save([[1, 2], [3]])
    with pytest.raises(SchemaError, match="ragged=True stores rows"):
        new(target, ragged=True).save([1, 2])
    with pytest.raises(ValueError, match="ragged must be"):
        new(target, ragged="yes")
    assert not any(tmp_path.iterdir()) or all(p.name.startswith(".") for p in tmp_path.iterdir())
