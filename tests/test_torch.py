"""PyTorch (docs/streaming.md, PyTorch): ``gr.torch.to_torch``, ``gr.torch.Dataset`` and
``gr.torch.IterableDataset``, with exact values.

- ``to_torch`` padded (values + mask), jagged (``torch.nested`` offsets are the Arrow
  offsets, values the Arrow values), unions (length-1 rows + ``is_scalar``), frames (a dict);
- ``Dataset`` (map-style, ``__getitems__``) through a ``DataLoader`` with a ``BatchSampler``:
  every row exactly once, in-process and in worker processes;
- ``IterableDataset(stream)`` through ``DataLoader(num_workers=2, batch_size=None)``: every
  row exactly once per epoch, per-epoch shuffles, two ranks covering every row once, with the
  default (fork) start method and with ``spawn`` (the stream over a store path pickles).

Skipped without torch.
"""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pytest

import grumpy_arrow as gr
from grumpy_arrow.errors import LayoutError

pytestmark = pytest.mark.torch
torch = pytest.importorskip("torch")
import grumpy_arrow.interop.torch as grt  # noqa: E402  (what gr.torch is; typed for mypy)

BatchSampler = torch.utils.data.BatchSampler
DataLoader = torch.utils.data.DataLoader
RandomSampler = torch.utils.data.RandomSampler
SequentialSampler = torch.utils.data.SequentialSampler

to_torch = grt.to_torch

# fork in a process with threads warns on Python >= 3.12; DataLoader warns when the machine
# has fewer CPUs than workers. Neither is what these tests check.
LOADER_WARNINGS = [
    pytest.mark.filterwarnings("ignore:.*fork.*:DeprecationWarning"),
    pytest.mark.filterwarnings("ignore:This DataLoader will create:UserWarning"),
]


def loader_marks(fn: Any) -> Any:
    for mark in LOADER_WARNINGS:
        fn = mark(fn)
    return fn


def tensor_equal(got: Any, want: Any, dtype: Any = None) -> None:
    assert isinstance(got, torch.Tensor), type(got)
    expected = torch.tensor(want, dtype=dtype if dtype is not None else got.dtype)
    assert got.dtype == expected.dtype
    assert got.shape == expected.shape, (got.shape, expected.shape)
    assert torch.equal(got, expected), (got, expected)


# -- to_torch: padded ----------------------------------------------------------------------


def test_gr_torch_is_the_interop_module() -> None:
    assert gr.torch is grt
    assert gr.torch.to_torch is to_torch


def test_padded_values_and_mask() -> None:
    values, mask = to_torch(gr.array([[1, 2, 3], [], [4, 5]]))
    tensor_equal(values, [[1, 2, 3], [0, 0, 0], [4, 5, 0]], torch.int64)
    tensor_equal(mask, [[True, True, True], [False, False, False], [True, True, False]])
    values, mask = to_torch(gr.array([[1, 2, 3], [], [4, 5]]), pad=-1)
    tensor_equal(values, [[1, 2, 3], [-1, -1, -1], [4, 5, -1]], torch.int64)
    tensor_equal(mask, [[True, True, True], [False, False, False], [True, True, False]])


def test_padded_keeps_dtype_and_depth() -> None:
    values, mask = to_torch(gr.array([[1.5, 2.5], [3.5]], dtype=gr.float32))
    tensor_equal(values, [[1.5, 2.5], [3.5, 0.0]], torch.float32)
    tensor_equal(mask, [[True, True], [True, False]])
    values, mask = to_torch(gr.array([[[1, 2], [3]], [[5, 6]]]))
    tensor_equal(values, [[[1, 2], [3, 0]], [[5, 6], [0, 0]]], torch.int64)
    tensor_equal(mask, [[[True, True], [True, False]], [[True, True], [False, False]]])


def test_padded_nulls_are_masked() -> None:
    values, mask = to_torch(gr.array([[1, None], [3]]))
    tensor_equal(values, [[1, 0], [3, 0]], torch.int64)
    tensor_equal(mask, [[True, False], [True, False]])


def test_flat_array_is_one_tensor() -> None:
    tensor_equal(to_torch(gr.array([1, 2, 3])), [1, 2, 3], torch.int64)
    tensor_equal(to_torch(gr.array([1.0, 2.0], dtype=gr.float32)), [1.0, 2.0], torch.float32)
    tensor_equal(to_torch(gr.array([True, False])), [True, False], torch.bool)


def test_padded_batches_of_a_stream() -> None:
    x = gr.array([[float(i)] * (i % 3 + 1) for i in range(6)])
    got = list(gr.stream(x, 4).apply(to_torch))
    assert len(got) == 2
    tensor_equal(got[1][0], [[4.0, 4.0, 0.0], [5.0, 5.0, 5.0]], torch.float64)
    tensor_equal(got[1][1], [[True, True, False], [True, True, True]])
    tensor_equal(got[0][1].sum(dim=1), [1, 2, 3, 1])


# -- to_torch: jagged ----------------------------------------------------------------------


def test_jagged_offsets_are_the_arrow_offsets() -> None:
    x = gr.array([[1, 2, 3], [], [4, 5], [6]])
    arrow = x.to_arrow()
    nt = to_torch(x, layout="jagged", copy=False)
    assert nt.is_nested
    tensor_equal(nt.offsets(), arrow.offsets.to_pylist(), torch.int64)
    tensor_equal(nt.offsets(), [0, 3, 3, 5, 6], torch.int64)
    tensor_equal(nt.values(), arrow.values.to_pylist(), torch.int64)
    assert nt.values().data_ptr() == arrow.values.buffers()[1].address  # no copy
    assert [t.tolist() for t in nt.unbind()] == x.to_list()


def test_jagged_of_a_sliced_array_rebases_the_offsets() -> None:
    x = gr.array([[1, 2, 3], [], [4, 5], [6]])[1:3]
    arrow = x.to_arrow()
    offsets = np.asarray(arrow.offsets.to_pylist())
    nt = to_torch(x, layout="jagged")
    tensor_equal(nt.offsets(), (offsets - offsets[0]).tolist(), torch.int64)
    tensor_equal(nt.values(), [4, 5], torch.int64)
    assert [t.tolist() for t in nt.unbind()] == [[], [4, 5]]


def test_jagged_with_fixed_inner_rows() -> None:
    x = gr.array([[[1.0, 2.0], [3.0, 4.0]], [[5.0, 6.0]], []])
    nt = to_torch(x, layout="jagged")
    tensor_equal(nt.offsets(), [0, 2, 3, 3], torch.int64)
    tensor_equal(nt.values(), [[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]], torch.float64)
    assert [t.tolist() for t in nt.unbind()] == x.to_list()


def test_jagged_refusals() -> None:
    with pytest.raises(LayoutError, match="one ragged dim"):
        to_torch(gr.array([[[1, 2], [3]], [[4, 5]]]), layout="jagged")
    with pytest.raises(LayoutError, match="null"):
        to_torch(gr.array([[1, None], [3]]), layout="jagged")
    with pytest.raises(LayoutError, match="list rows"):
        to_torch(gr.array([1, 2, 3]), layout="jagged")
    with pytest.raises(LayoutError, match="strings"):
        to_torch(gr.array([["a", "b"], ["c"]]))
    with pytest.raises(ValueError, match="layout"):
        to_torch(gr.array([[1]]), layout="dense")


# -- to_torch: unions and frames -----------------------------------------------------------


def test_union_rows_are_length_one_rows_with_is_scalar() -> None:
    values, mask, is_scalar = to_torch(gr.array([1, [2, 3], 4, None, []]))
    tensor_equal(values, [[1, 0], [2, 3], [4, 0], [0, 0], [0, 0]], torch.int64)
    tensor_equal(mask, [[True, False], [True, True], [True, False], [False, False], [False, False]])
    tensor_equal(is_scalar, [True, False, True, True, False])


def test_union_rows_jagged() -> None:
    nt, is_scalar = to_torch(gr.array([1, [2, 3], 4, []]), layout="jagged")
    tensor_equal(nt.offsets(), [0, 1, 3, 4, 4], torch.int64)
    tensor_equal(nt.values(), [1, 2, 3, 4], torch.int64)
    assert [t.tolist() for t in nt.unbind()] == [[1], [2, 3], [4], []]
    tensor_equal(is_scalar, [True, False, True, False])
    values, mask, is_scalar = to_torch(gr.array([1, [2, 3], 4, [5], 7])[1:4])
    tensor_equal(values, [[2, 3], [4, 0], [5, 0]], torch.int64)
    tensor_equal(mask, [[True, True], [True, False], [True, False]])
    tensor_equal(is_scalar, [False, True, False])


def test_frames_give_a_dict_by_column() -> None:
    df = gr.dataframe(
        {
            "molecule_id": [0, 1, 2],
            "molecule_tag": [7, [8, 9], 10],
            "residue_a": [[1.0], [2.0, 3.0], []],
        },
        schema=["molecule", "residue"],
    )
    got = to_torch(df)
    assert list(got) == ["molecule_id", "molecule_tag", "residue_a"]
    tensor_equal(got["molecule_id"], [0, 1, 2], torch.int64)
    values, mask, is_scalar = got["molecule_tag"]
    tensor_equal(values, [[7, 0], [8, 9], [10, 0]], torch.int64)
    tensor_equal(mask, [[True, False], [True, True], [True, False]])
    tensor_equal(is_scalar, [True, False, True])
    values, mask = got["residue_a"]
    tensor_equal(values, [[1.0, 0.0], [2.0, 3.0], [0.0, 0.0]], torch.float64)
    tensor_equal(mask, [[True, False], [True, True], [False, False]])
    jagged = to_torch(df[["residue_a"]], layout="jagged")
    tensor_equal(jagged["residue_a"].offsets(), [0, 1, 3, 3], torch.int64)


# -- stores for the datasets ---------------------------------------------------------------

N = 37


def molecules(n: int = N) -> gr.DataFrame:
    return gr.dataframe(
        {
            "molecule_id": list(range(n)),
            "residue_x": [[float(m)] * (m % 4) for m in range(n)],
        },
        schema=["molecule", "residue"],
    )


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("torch") / "s"
    gr.save(molecules(), path, chunk_size=8)
    return path


def check_rows(batch: Any) -> list[int]:
    """The molecule ids of a batch, after checking each row kept its residues."""
    assert isinstance(batch, gr.DataFrame), type(batch)
    ms = batch["molecule_id"].to_list()
    assert batch["residue_x"].to_list() == [[float(m)] * (m % 4) for m in ms]
    return ms


def identity(items: Any) -> Any:
    return items


# -- gr.torch.Dataset ----------------------------------------------------------------------


def test_dataset_rows_and_batches(store: Path) -> None:
    ds = grt.Dataset(store)
    assert isinstance(ds, torch.utils.data.Dataset)
    assert len(ds) == N
    assert check_rows(ds[5]) == [5]
    assert check_rows(ds.__getitems__([9, 2, 9])) == [9, 2, 9]
    with_columns = grt.Dataset(gr.open(store), columns=["residue_x"])
    assert with_columns.__getitems__([3]).columns == ["residue_x"]
    tensors = grt.Dataset(store, columns=["residue_x"], transform=to_torch)
    values, mask = tensors.__getitems__([1, 3])["residue_x"]
    tensor_equal(values, [[1.0, 0.0, 0.0], [3.0, 3.0, 3.0]], torch.float64)
    tensor_equal(mask, [[True, False, False], [True, True, True]])
    again = pickle.loads(pickle.dumps(ds))
    assert len(pickle.dumps(ds)) < 2000
    assert check_rows(again.__getitems__([4, 0])) == [4, 0]


def test_dataset_item_of_an_array_store_is_the_row(tmp_path: Path) -> None:
    x = gr.array([[1.0, 2.0], [3.0]])
    gr.save(x, tmp_path / "a")
    ds = grt.Dataset(tmp_path / "a")
    assert ds[1].to_list() == [3.0]
    assert ds.__getitems__([1]).to_list() == [[3.0]]


@loader_marks
@pytest.mark.parametrize("num_workers", [0, 2])
def test_dataset_batch_sampler_sees_every_row_once(store: Path, num_workers: int) -> None:
    ds = grt.Dataset(str(store))
    sampler = BatchSampler(
        RandomSampler(ds, generator=torch.Generator().manual_seed(0)), batch_size=5, drop_last=False
    )
    loader = DataLoader(ds, batch_sampler=sampler, collate_fn=identity, num_workers=num_workers)
    batches = [check_rows(b) for b in loader]
    assert [len(b) for b in batches] == [5] * 7 + [2]  # one __getitems__ read per batch
    seen = [m for b in batches for m in b]
    assert sorted(seen) == list(range(N))
    assert seen != list(range(N))  # the random sampler really permuted the rows


def test_dataset_sequential_batches_in_order(store: Path) -> None:
    ds = grt.Dataset(store)
    loader = DataLoader(
        ds, batch_sampler=BatchSampler(SequentialSampler(ds), 10, False), collate_fn=identity
    )
    assert [check_rows(b) for b in loader] == [
        list(range(0, 10)),
        list(range(10, 20)),
        list(range(20, 30)),
        list(range(30, 37)),
    ]


# -- gr.torch.IterableDataset --------------------------------------------------------------


def run_epoch(dataset: Any, **loader_kw: Any) -> list[list[int]]:
    loader = DataLoader(dataset, batch_size=None, **loader_kw)
    return [check_rows(b) for b in loader]


def test_iterable_dataset_in_process(store: Path) -> None:
    st = gr.stream(str(store), 4, shuffle=True, seed=3)
    ds = grt.IterableDataset(st)
    assert isinstance(ds, torch.utils.data.IterableDataset)
    assert len(ds) == len(st) == 10
    expected = [check_rows(b) for b in st]
    assert run_epoch(ds) == expected
    tensors = grt.IterableDataset(gr.stream(store, 4), transform=to_torch)
    first = next(iter(DataLoader(tensors, batch_size=None)))
    tensor_equal(first["molecule_id"], [0, 1, 2, 3], torch.int64)


@loader_marks
def test_iterable_dataset_two_workers_every_row_once_per_epoch(store: Path) -> None:
    st = gr.stream(str(store), 4, shuffle=True, seed=3)
    ds = grt.IterableDataset(st)
    orders = []
    for epoch in range(2):
        ds.set_epoch(epoch)
        batches = run_epoch(ds, num_workers=2)
        assert len(batches) == 10
        seen = [m for b in batches for m in b]
        assert sorted(seen) == list(range(N))
        reference = gr.stream(str(store), 4, shuffle=True, seed=3, epoch=epoch)
        assert sorted(batches) == sorted(check_rows(b) for b in reference)
        orders.append(batches)
    assert orders[0] != orders[1]  # a new shuffle each epoch


@loader_marks
def test_iterable_dataset_two_ranks_cover_every_row_once(store: Path) -> None:
    seen: list[int] = []
    counts = []
    for rank in range(2):
        st = gr.stream(gr.open(store), 3, shuffle="molecule", seed=5, world_size=2, rank=rank)
        batches = run_epoch(grt.IterableDataset(st), num_workers=2)
        counts.append(len(batches))
        seen += [m for b in batches for m in b]
    assert counts == [7, 6]  # 13 batches of 3 rows
    assert sorted(seen) == list(range(N))


@loader_marks
def test_iterable_dataset_more_workers_than_batches(store: Path) -> None:
    st = gr.stream(str(store), 20)  # 2 batches, 3 workers
    batches = run_epoch(grt.IterableDataset(st), num_workers=3)
    assert sorted(batches) == [list(range(20)), list(range(20, N))]


@loader_marks
def test_iterable_dataset_spawned_workers(store: Path) -> None:
    st = gr.stream(str(store), 4, shuffle="residue", seed=8, world_size=2, rank=1)
    ds = grt.IterableDataset(st)
    pickle.loads(pickle.dumps(ds))  # what spawn does to it
    expected = [check_rows(b) for b in st]
    batches = run_epoch(ds, num_workers=2, multiprocessing_context="spawn")
    assert sorted(batches) == sorted(expected)
    assert len(batches) == 5
    rank0 = gr.stream(str(store), 4, shuffle="residue", seed=8, world_size=2, rank=0)
    other = [check_rows(b) for b in rank0]
    assert sorted(m for b in batches + other for m in b) == list(range(N))


def test_to_torch_shares_arrow_memory() -> None:
    values = pa.array(np.arange(6, dtype=np.int64))
    x = gr.array(values)
    t = to_torch(x, copy=False)
    tensor_equal(t, list(range(6)), torch.int64)
    assert t.data_ptr() == values.buffers()[1].address


@loader_marks
def test_iterable_dataset_workers_resume_from_a_state(store: Path) -> None:
    st = gr.stream(str(store), 4)
    st.load_state_dict({"batches_consumed": 6})
    batches = run_epoch(grt.IterableDataset(st), num_workers=2)
    assert sorted(batches) == [list(range(a, min(a + 4, N))) for a in range(24, N, 4)]
