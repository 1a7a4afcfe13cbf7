"""Fixed axes: rectangular inner shapes kept as ``fixed_size_list`` through construction,
Arrow, compute, storage, streams and torch (issue 14, item 2)."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

import grumpy_arrow as gr
from grumpy_arrow import layout as lay
from grumpy_arrow.errors import BroadcastError, LayoutError, StoreFormatError


def _images(n: int = 40, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (n, 6, 8, 3), dtype=np.uint8)


def _points(n: int = 60, seed: int = 1) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    lens = rng.integers(0, 7, n)
    lens[3] = 0  # an empty molecule
    # Whole numbers: float32 sums are exact in any order.
    return [rng.integers(-50, 50, (int(k), 3)).astype(np.float32) for k in lens]


def _ragged_equal(arr: gr.GrumpyArray, rows: list[np.ndarray]) -> None:
    assert len(arr) == len(rows)
    got = arr.to_list()
    for i, row in enumerate(rows):
        assert got[i] == row.tolist(), f"row {i}"


# -- construction and Arrow ---------------------------------------------------------------


def test_numpy_shape_becomes_fixed_axes_with_the_same_values() -> None:
    imgs = _images()
    x = gr.array(imgs)
    assert x.type == "40 * 6 * 8 * 3 * uint8"
    assert x.ndim == 4
    out = x.to_numpy()
    assert out.shape == (40, 6, 8, 3) and out.dtype == np.uint8
    np.testing.assert_array_equal(out, imgs)
    assert lay.fixed_sizes(x.to_arrow().type) == (6, 8, 3)


def test_list_of_arrays_is_a_ragged_axis_over_fixed_rows() -> None:
    pts = _points()
    x = gr.array(pts)
    assert x.type == "60 * var * 3 * float32"
    _ragged_equal(x, pts)
    assert x.shape(1).to_list() == [len(p) for p in pts]


def test_list_of_arrays_of_different_inner_shapes_stays_variable() -> None:
    x = gr.array([np.zeros((2, 3)), np.zeros((1, 2))])
    assert x.type == "2 * var * var * float64"


def test_arrow_fixed_size_list_keeps_its_size_and_nulls() -> None:
    arr = pa.array([[1, 2], None, [5, 6]], type=pa.list_(pa.int16(), 2))
    x = gr.from_arrow(arr)
    assert x.type == "3 * 2 * int16"
    assert x.to_list() == [[1, 2], None, [5, 6]]
    node = x.node
    assert isinstance(node, lay.ListNode)
    assert node.size == 2 and node.offsets.tolist() == [0, 2, 2, 4]  # null rows own none
    back = x.to_arrow()
    assert back.type == pa.list_(pa.int16(), 2)
    assert back.to_pylist() == [[1, 2], None, [5, 6]]
    assert back.values.to_pylist() == [1, 2, None, None, 5, 6]  # Arrow's slots, null


def test_sliced_fixed_size_list_input() -> None:
    arr = pa.array([[1, 2], [3, 4], [5, 6], [7, 8]], type=pa.list_(pa.int64(), 2)).slice(1, 2)
    assert gr.from_arrow(arr).to_list() == [[3, 4], [5, 6]]


def test_fixed_shape_tensor_comes_in_as_nested_fixed_axes() -> None:
    data = np.arange(2 * 4 * 3, dtype=np.float32).reshape(2, 4, 3)
    tensor = pa.FixedShapeTensorArray.from_numpy_ndarray(data)
    x = gr.from_arrow(tensor)
    assert x.type == "2 * 4 * 3 * float32"
    np.testing.assert_array_equal(x.to_numpy(), data)


def test_permuted_tensor_is_refused_naming_the_permutation() -> None:
    typ = pa.fixed_shape_tensor(pa.int32(), (2, 3), permutation=[1, 0])
    storage = pa.array([list(range(6))], type=pa.list_(pa.int32(), 6))
    tensor = pa.ExtensionArray.from_storage(typ, storage)
    with pytest.raises(LayoutError, match=r"permutation \[1, 0\] is not supported"):
        gr.from_arrow(tensor)


def test_dtype_cast_keeps_fixed_axes() -> None:
    x = gr.array(np.arange(6, dtype=np.int32).reshape(3, 2), dtype=gr.float64)
    assert x.type == "3 * 2 * float64"
    assert x.astype(gr.int8).type == "3 * 2 * int8"


# -- compute --------------------------------------------------------------------------------


@pytest.mark.parametrize("dim", [0, 1, 2, 3, -1])
@pytest.mark.parametrize("op", ["sum", "max", "min", "mean"])
def test_reductions_over_fixed_axes_equal_numpy(op: str, dim: int) -> None:
    imgs = _images(5).astype(np.int64)
    got = getattr(gr.array(imgs), op)(dim=dim)
    want = getattr(np, op)(imgs, axis=dim)
    out = got.to_numpy()
    assert out.shape == want.shape
    np.testing.assert_allclose(out, want)
    assert got.type.startswith(" * ".join(str(s) for s in want.shape))


@pytest.mark.parametrize("op", ["sum", "max", "mean", "argmax"])
def test_reducing_the_ragged_axis_over_points_keeps_them_fixed(op: str) -> None:
    pts = _points()
    got = getattr(gr.array(pts), op)(dim=1)
    assert (
        got.type
        == f"60 * 3 * {'int64' if op == 'argmax' else 'float32' if op != 'mean' else got.dtype.name}"
    )
    rows = got.to_list()
    for i, p in enumerate(pts):
        if len(p) == 0:
            empty = {
                "sum": [0.0, 0.0, 0.0],
                "max": [None] * 3,
                "mean": [None] * 3,
                "argmax": [None] * 3,
            }
            assert rows[i] == empty[op], f"row {i}"
        else:
            assert rows[i] == getattr(np, op)(p, axis=0).tolist(), f"row {i}"


def test_reducing_the_fixed_axis_removes_it() -> None:
    pts = _points()
    got = gr.array(pts).sum(dim=-1)
    assert got.type == "60 * var * float32"
    for i, p in enumerate(pts):
        assert got.to_list()[i] == p.sum(axis=1).tolist()


def test_elementwise_and_broadcasting_keep_fixed_axes() -> None:
    pts = _points()
    x = gr.array(pts)
    weights = gr.array(np.arange(60, dtype=np.float32))  # one value per molecule
    y = x * weights + 1.0
    assert y.type == "60 * var * 3 * float32"
    _ragged_equal(y, [p * np.float32(i) + np.float32(1.0) for i, p in enumerate(pts)])
    z = x - x
    assert z.type == "60 * var * 3 * float32"
    one = gr.array([np.ones((len(p), 1), np.float32) for p in pts])  # lists of one
    assert (x * one).type == "60 * var * 3 * float32"


def test_fixed_axes_of_different_sizes_do_not_broadcast() -> None:
    a = gr.array(np.zeros((2, 3)))
    b = gr.array(np.zeros((2, 2)))
    with pytest.raises(BroadcastError, match="lists of length 3 and 2 at row 0"):
        _ = a + b


def test_take_slices_masks_sort_and_concat_keep_fixed_axes() -> None:
    pts = _points()
    x = gr.array(pts)
    assert x[[5, 2, 5]].type == "3 * var * 3 * float32"
    _ragged_equal(x[[5, 2, 5]], [pts[5], pts[2], pts[5]])
    assert x[10:20].type == "10 * var * 3 * float32"
    mask = gr.array(np.arange(60) % 2 == 0)
    assert x[mask].type == "30 * var * 3 * float32"
    imgs = gr.array(_images(3))
    assert imgs.sort().type == "3 * 6 * 8 * 3 * uint8"
    np.testing.assert_array_equal(imgs.sort().to_numpy(), np.sort(_images(3), axis=-1))
    both = gr.concat([x, x])
    assert both.type == "120 * var * 3 * float32"
    _ragged_equal(both, pts + pts)
    assert imgs.flatten().type == f"{3 * 6 * 8 * 3} * uint8"


@pytest.mark.parametrize(
    "key",
    [
        (slice(None), 0),
        (slice(None), slice(None), 0),
        (slice(None), slice(1, 3)),
        (0,),
        (slice(None), -1, slice(None), 1),
        (slice(None), np.array([2, 0])),
    ],
)
def test_indexing_fixed_axes_follows_numpy(key: tuple) -> None:
    a = np.arange(2 * 3 * 4 * 2).reshape(2, 3, 4, 2)
    got = gr.array(a)[key]
    want = a[key]
    np.testing.assert_array_equal(got.to_numpy(), want)
    assert got.type == " * ".join(map(str, want.shape)) + " * int64"


def test_concat_keeps_fixed_axes_of_one_size_else_makes_them_variable() -> None:
    a = gr.array(np.zeros((2, 3), np.float32))
    assert gr.concat([a, gr.array(np.ones((1, 3)))]).type == "3 * 3 * float64"
    mixed = gr.concat([a, gr.array(np.ones((1, 4), np.float32))])
    assert mixed.type == "3 * var * float32"
    assert mixed.to_list() == [[0.0] * 3, [0.0] * 3, [1.0] * 4]
    assert gr.concat([a, gr.array([[5.0]])]).type == "3 * var * float64"


def test_null_rows_of_a_fixed_axis_compute_as_nulls() -> None:
    arr = pa.array([[1.0, 2.0], None, [5.0, 7.0]], type=pa.list_(pa.float64(), 2))
    x = gr.from_arrow(arr)
    assert (x * 2).to_list() == [[2.0, 4.0], None, [10.0, 14.0]]
    assert x.sum(dim=1).to_list() == [3.0, None, 12.0]
    assert x.sum() == 15.0


# -- gr.stack --------------------------------------------------------------------------------


def test_stack_builds_points_from_three_ragged_columns() -> None:
    pts = _points()
    cols = [gr.array([p[:, j] for p in pts]) for j in range(3)]
    assert cols[0].type == "60 * var * float32"
    x = gr.stack(cols, axis=-1)
    assert x.type == "60 * var * 3 * float32"
    _ragged_equal(x, pts)


def test_stack_broadcasts_scalars_and_promotes() -> None:
    x = gr.stack([gr.array([[1, 2], [3]]), gr.array([[0.5, 0.25], [0.125]]), 7])
    assert x.type == "2 * var * 3 * float64"
    assert x.to_list() == [[[1.0, 0.5, 7.0], [2.0, 0.25, 7.0]], [[3.0, 0.125, 7.0]]]


def test_stack_axis_0_and_errors() -> None:
    x = gr.stack([gr.array([1, 2, 3]), gr.array([4, 5, 6])], axis=0)
    assert x.type == "2 * 3 * int64"
    np.testing.assert_array_equal(x.to_numpy(), [[1, 2, 3], [4, 5, 6]])
    with pytest.raises(LayoutError, match=r"lengths \[2, 3\]"):
        gr.stack([gr.array([1, 2]), gr.array([1, 2, 3])], axis=0)
    with pytest.raises(ValueError, match=r"axis=0.*axis=-1"):
        gr.stack([gr.array([[1]]), gr.array([[2]])], axis=1)
    with pytest.raises(LayoutError, match="unions"):
        gr.stack([gr.array([1, [2]]), gr.array([1, [2]])])
    with pytest.raises(ValueError, match="at least one"):
        gr.stack([])
    # Arrays of no rows: an axis of length 0 is a variable list of empty lists.
    empty = gr.stack([gr.array([], dtype=gr.int64), gr.array([], dtype=gr.int64)], axis=0)
    assert empty.type == "2 * var * int64"
    assert empty.to_list() == [[], []]


# -- storage --------------------------------------------------------------------------------


def _layout(path: Path) -> dict:
    return json.loads((path / "grumpy.json").read_text())["columns"][0]["layout"]


def _bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


@pytest.mark.parametrize("compressor", ["none", "default"])
def test_images_store_values_only_and_read_back_exactly(tmp_path: Path, compressor: str) -> None:
    imgs = _images(300)
    path = tmp_path / "imgs.gr"
    # Small chunks and shards: reads cross hundreds of inner chunks and many shards.
    gr.save(gr.array(imgs), path, compressor=compressor, chunk_size=1024, shard_size=16384)
    node = _layout(path)
    depth = 0
    while node["kind"] == "list":
        assert "offsets" not in node and node["size"] == imgs.shape[1 + depth]
        node, depth = node["content"], depth + 1
    assert depth == 3
    leaves = json.loads((path / "grumpy.json").read_text())["leaves"]
    assert list(leaves) == ["array/r.c.c.c-values"]
    if compressor == "none":
        assert _bytes(path) <= 1.1 * imgs.nbytes
    np.testing.assert_array_equal(gr.load(path).to_numpy(), imgs)
    h = gr.open(path)
    picks = np.random.default_rng(2).integers(0, 300, 64)
    np.testing.assert_array_equal(h.take(picks).to_numpy(), imgs[picks])
    np.testing.assert_array_equal(h[17].to_numpy(), imgs[17])
    assert h.take(picks).type == "64 * 6 * 8 * 3 * uint8"


def test_fixed_store_appends_and_reads_every_row(tmp_path: Path) -> None:
    path = tmp_path / "pts.gr"
    parts = [_points(40, seed) for seed in range(5)]
    gr.save(gr.array(parts[0]), path, chunk_size=64)
    for part in parts[1:]:
        gr.append(gr.array(part), path)
    everything = [p for part in parts for p in part]
    loaded = gr.load(path)
    assert loaded.type == "200 * var * 3 * float32"
    _ragged_equal(loaded, everything)
    h = gr.open(path)
    picks = [199, 0, 77, 77, 3]
    _ragged_equal(h.take(picks), [everything[i] for i in picks])


def test_null_rows_of_a_fixed_axis_survive_storage(tmp_path: Path) -> None:
    rows = [[1.0, 2.0], None, [5.0, 7.0], None, [9.0, 9.5]] * 40
    arr = gr.from_arrow(pa.array(rows, type=pa.list_(pa.float32(), 2)))
    path = tmp_path / "nulls.gr"
    gr.save(arr, path, chunk_size=16)
    assert gr.load(path).to_list() == rows
    assert gr.load(path).type == "200 * 2 * float32"
    h = gr.open(path)
    assert h.take([1, 0, 199, 3, 2]).to_list() == [None, [1.0, 2.0], [9.0, 9.5], None, [5.0, 7.0]]
    gr.append(arr[:3], path)
    assert gr.load(path).to_list() == rows + rows[:3]


def test_frame_with_fixed_points_through_save_stream_and_torch(tmp_path: Path) -> None:
    pts = _points(64)
    df = gr.dataframe(
        {
            "molecule_id": np.arange(64),
            "atom_x": gr.array([p[:, 0] for p in pts]),
            "atom_xyz": gr.array(pts),
        },
        schema=["molecule", "atom"],
    )
    path = tmp_path / "mol.gr"
    gr.save(df, path, chunk_size=32)
    back = gr.load(path)
    assert back.dtypes["atom_xyz"] == "64 * var * 3 * float32"
    _ragged_equal(back["atom_xyz"], pts)
    seen: list[int] = []
    for batch in gr.stream(path, batch_size=10, shuffle=True, seed=3):
        assert batch["atom_xyz"].type.endswith("* var * 3 * float32")
        ids = batch["molecule_id"].to_list()
        _ragged_equal(batch["atom_xyz"], [pts[i] for i in ids])
        seen += ids
    assert sorted(seen) == list(range(64))


def test_sharded_dataset_keeps_fixed_axes(tmp_path: Path) -> None:
    imgs = _images(50)
    path = tmp_path / "sharded.gr"
    gr.save(gr.array(imgs), path, shard_rows=16)
    h = gr.open(path)
    np.testing.assert_array_equal(h.take([49, 0, 20]).to_numpy(), imgs[[49, 0, 20]])
    np.testing.assert_array_equal(gr.load(path).to_numpy(), imgs)


def test_a_fixed_axis_from_another_writer_must_match_the_store(tmp_path: Path) -> None:
    path = tmp_path / "a.gr"
    gr.save(gr.array(np.zeros((4, 3), np.float32)), path)
    with pytest.raises(Exception, match=r"list\[3\]|3 \* float32|layout"):
        gr.append(gr.array(np.zeros((4, 2), np.float32)), path)
    assert gr.load(path).type == "4 * 3 * float32"  # untouched


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda n: n.update(size=-1), "size' must be an integer from 1"),
        (lambda n: n.update(size=True), "size' must be an integer from 1"),
        (lambda n: n.update(size="3"), "size' must be an integer from 1"),
        (lambda n: n.update(size=0), "size' must be an integer from 1"),
        (lambda n: n.update(level="atom"), "keeps the level's offsets leaf"),
        (lambda n: n.update(extra=1), "unknown key 'extra'"),
    ],
)
def test_hostile_fixed_layouts_are_refused(tmp_path: Path, change, message: str) -> None:
    path = tmp_path / "h.gr"
    gr.save(gr.array(np.zeros((4, 3), np.float32)), path)
    doc = json.loads((path / "grumpy.json").read_text())
    change(doc["columns"][0]["layout"])
    (path / "grumpy.json").write_text(json.dumps(doc))
    with pytest.raises(StoreFormatError, match=message):
        gr.open(path)


_DAMAGED_READER = textwrap.dedent(
    """
    import sys, grumpy_arrow as gr
    from grumpy_arrow.errors import StoreFormatError
    try:
        {action}
    except StoreFormatError as err:
        print("ERR", err)
    else:
        print("OK")
    """
)


@pytest.mark.parametrize("action", ["gr.load(sys.argv[1])", "gr.open(sys.argv[1]).take([3, 0])"])
def test_content_that_is_not_whole_rows_is_reported_in_a_child(tmp_path: Path, action: str) -> None:
    path = tmp_path / "bad.gr"
    gr.save(gr.array(np.arange(40, dtype=np.float32).reshape(10, 4)), path)
    doc = json.loads((path / "grumpy.json").read_text())
    doc["leaves"]["array/r.c-values"]["length"] = 38  # two values short of 10 rows of 4
    (path / "grumpy.json").write_text(json.dumps(doc))
    code = _DAMAGED_READER.format(action=action)
    done = subprocess.run(
        [sys.executable, "-c", code, str(path)], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("ERR"), done.stdout
    assert "array/r.c-values" in done.stdout or "multiple of 4" in done.stdout


# -- torch ------------------------------------------------------------------------------------


def test_torch_dense_and_jagged_tensors() -> None:
    torch = pytest.importorskip("torch")
    imgs = _images(8)
    t = gr.array(imgs).to_torch()
    assert isinstance(t, torch.Tensor) and tuple(t.shape) == (8, 6, 8, 3)
    assert torch.equal(t, torch.from_numpy(imgs))
    pts = _points(5)
    j = gr.array(pts).to_torch(layout="jagged")
    assert j.is_nested
    for row, p in zip(j.unbind(), pts, strict=True):
        assert tuple(row.shape) == p.shape
        assert torch.equal(row, torch.from_numpy(p))


def test_torch_loader_yields_dense_image_batches(tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    imgs = _images(40)
    path = tmp_path / "imgs.gr"
    gr.save(gr.array(imgs), path)
    ds = gr.torch.IterableDataset(gr.stream(path, batch_size=16), format="torch")
    batches = list(ds)
    assert [tuple(b.shape) for b in batches] == [(16, 6, 8, 3), (16, 6, 8, 3), (8, 6, 8, 3)]
    assert torch.equal(torch.cat(batches), torch.from_numpy(imgs))


def test_frame_points_with_null_rows_under_a_level(tmp_path: Path) -> None:
    # Null points inside the atom level: read by the per-column planner (the level walk
    # takes fixed tails without nulls), with the same values.
    points = pa.array(
        [None if i % 4 == 1 else [i, i + 0.5, -i] for i in range(30)],
        type=pa.list_(pa.float64(), 3),
    )
    offsets = pa.array([0, 3, 3, 10, 18, 30], type=pa.int64())
    atom_xyz = gr.from_arrow(pa.LargeListArray.from_arrays(offsets, points))
    assert atom_xyz.type == "5 * var * 3 * float64"
    df = gr.dataframe(
        {
            "mol_id": np.arange(5),
            "atom_xyz": atom_xyz,
            "atom_n": gr.from_offsets(np.arange(30), offsets.to_numpy()),
        },
        schema=["mol", "atom"],
    )
    path = tmp_path / "nullpts.gr"
    gr.save(df, path, chunk_size=8)
    want = atom_xyz.to_list()
    got = gr.open(path).take([4, 2, 0, 2])
    assert got["atom_xyz"].to_list() == [want[4], want[2], want[0], want[2]]
    assert got["atom_n"].to_list()[0] == list(range(18, 30))
    assert gr.load(path)["atom_xyz"].to_list() == want
