"""Ordered runs (docs/savers.md): ``gr.run`` and ``Stream.save``.

Workers are made to finish out of order (seeded random sleeps; the completion order is
recorded and checked to be out of order), and the saved rows must still be exactly in
item order. A ``RecordingSaver`` records every ``save`` call, so the flushes are checked
exactly: ``save_interval`` results each, then one final partial flush. When the function
raises at item ``k`` the saved rows are exactly the results of items ``0 .. k-1``, even
when later items had already finished.
"""

from __future__ import annotations

import random
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import grumpy_arrow as gr
from grumpy_arrow.savers import GrumpySaver, NumpySaver, Saver

N = 40
DELAYS = [random.Random(20240611 + i).uniform(0.0, 0.012) for i in range(N)]


class RecordingSaver(Saver):
    """Records each call: the data as given and the indices."""

    def __init__(self, approach: str = "append") -> None:
        super().__init__(approach=approach)
        self.path = "<recording>"
        self.calls: list[tuple[Any, Any]] = []

    def save(self, data: Any, indices: Any = None, **kwargs: Any) -> None:
        assert kwargs == {}
        self.calls.append((data, indices))

    def load(self) -> list[Any]:
        return [row for data, _ in self.calls for row in _rows(data)]

    @property
    def sizes(self) -> list[int]:
        return [len(_rows(data)) for data, _ in self.calls]


def _rows(data: Any) -> list[Any]:
    if isinstance(data, np.ndarray):
        return data.tolist()
    if isinstance(data, gr.GrumpyArray):
        return data.to_list()
    return list(data)


def flushes(n: int, k: int) -> list[int]:
    """The expected flush sizes of ``n`` results with ``save_interval=k``."""
    return [k] * (n // k) + ([n % k] if n % k else [])


class Clock:
    """``fn(i)``: sleeps ``DELAYS[i]`` (``slow`` items sleep longer) and records completion."""

    def __init__(self, fail_at: int | None = None, slow: tuple[int, ...] = ()) -> None:
        self.fail_at = fail_at
        self.slow = slow
        self.finished: list[int] = []
        self.lock = threading.Lock()

    def __call__(self, i: int) -> int:
        time.sleep(0.05 if i in self.slow else DELAYS[i % N])
        if i == self.fail_at:
            raise RuntimeError(f"boom at {i}")
        with self.lock:
            self.finished.append(i)
        return i * i


# module-level functions for the process executor (they must pickle)
def process_square(i: int) -> int:
    time.sleep(DELAYS[i % N])
    return i * i


def process_square_or_fail(i: int) -> int:
    time.sleep(0.03 if i == 7 else DELAYS[i % N] / 4)
    if i == 7:
        raise KeyError(f"no result for {i}")
    return i * i


# -- gr.run -------------------------------------------------------------------------------


@pytest.mark.parametrize("cpu", [1, 4])
@pytest.mark.parametrize("save_interval", [1, 6, 40, 100])
def test_run_saves_in_item_order(cpu: int, save_interval: int) -> None:
    fn = Clock()
    saver = RecordingSaver()
    assert gr.run(fn, range(N), saver=saver, save_interval=save_interval, cpu=cpu) == N
    if cpu > 1:
        assert fn.finished != sorted(fn.finished)  # the workers did finish out of order
    assert sorted(fn.finished) == list(range(N))
    assert saver.load() == [i * i for i in range(N)]
    assert saver.sizes == flushes(N, save_interval)
    assert all(isinstance(data, list) and indices is None for data, indices in saver.calls)


def test_run_into_a_numpy_saver_out_of_order(tmp_path: Path) -> None:
    path = tmp_path / "squares.npy"
    fn = Clock(slow=(0, 9))
    assert gr.run(fn, range(N), saver=NumpySaver(path), save_interval=7, cpu=4) == N
    assert fn.finished.index(0) > fn.finished.index(1)
    got = np.load(path)
    assert got.dtype == np.int64 and got.tolist() == [i * i for i in range(N)]


def test_run_on_a_process_pool(tmp_path: Path) -> None:
    saver = RecordingSaver()
    assert (
        gr.run(process_square, range(24), saver=saver, save_interval=5, cpu=3, executor="process")
        == 24
    )
    assert saver.load() == [i * i for i in range(24)]
    assert saver.sizes == [5, 5, 5, 5, 4]
    path = tmp_path / "p.npy"
    gr.run(
        process_square,
        range(10),
        saver=NumpySaver(path),
        save_interval=4,
        cpu=2,
        executor="process",
    )
    assert np.load(path).tolist() == [i * i for i in range(10)]


def test_run_on_a_process_pool_error_keeps_the_prefix() -> None:
    saver = RecordingSaver()
    with pytest.raises(KeyError, match="no result for 7") as info:
        gr.run(
            process_square_or_fail,
            range(20),
            saver=saver,
            save_interval=3,
            cpu=3,
            executor="process",
        )
    assert "raised by run's function at item 7" in info.value.__notes__
    assert saver.load() == [i * i for i in range(7)]
    assert saver.sizes == [3, 3, 1]


@pytest.mark.parametrize("cpu", [1, 4])
@pytest.mark.parametrize("k", [0, 3, 4, 13, 39])
def test_error_at_item_k_saves_exactly_the_items_before(cpu: int, k: int) -> None:
    fn = Clock(fail_at=k, slow=(k,))  # item k is slow: later items finish before it fails
    saver = RecordingSaver()
    with pytest.raises(RuntimeError, match=f"^boom at {k}") as info:
        gr.run(fn, range(N), saver=saver, save_interval=4, cpu=cpu)
    assert str(info.value) == f"boom at {k}"
    assert info.value.__notes__ == [f"raised by run's function at item {k}"]
    assert saver.load() == [i * i for i in range(k)]
    assert saver.sizes == flushes(k, 4)
    if cpu == 1:
        assert fn.finished == list(range(k))  # nothing after k was even started
    elif k < N - 1:
        assert max(fn.finished) > k  # later results existed, and were dropped


def test_error_keeps_the_prefix_in_a_numpy_file(tmp_path: Path) -> None:
    path = tmp_path / "partial.npy"
    with pytest.raises(RuntimeError, match="boom at 11"):
        gr.run(
            Clock(fail_at=11, slow=(11,)), range(N), saver=NumpySaver(path), save_interval=5, cpu=4
        )
    assert np.load(path).tolist() == [i * i for i in range(11)]
    # a restart continues from len(saved)
    done = len(np.load(path))
    gr.run(Clock(), range(done, N), saver=NumpySaver(path), save_interval=5, cpu=4)
    assert np.load(path).tolist() == [i * i for i in range(N)]


def test_error_of_the_saver_propagates() -> None:
    class Full(RecordingSaver):
        def save(self, data: Any, indices: Any = None, **kwargs: Any) -> None:
            if len(self.calls) == 2:
                raise OSError("disk full")
            super().save(data, indices, **kwargs)

    saver = Full()
    with pytest.raises(OSError, match="disk full"):
        gr.run(lambda i: i, range(N), saver=saver, save_interval=3, cpu=2)
    assert saver.load() == [0, 1, 2, 3, 4, 5]


@pytest.mark.parametrize("cpu", [1, 4])
def test_run_without_saver_returns_the_results_in_order(cpu: int) -> None:
    fn = Clock()
    assert gr.run(fn, range(N), cpu=cpu) == [i * i for i in range(N)]
    assert gr.run(fn, (i for i in range(5)), cpu=cpu) == [0, 1, 4, 9, 16]  # no len()
    assert gr.run(fn, [], cpu=cpu) == []


def test_run_with_an_empty_input_saves_nothing() -> None:
    saver = RecordingSaver()
    assert gr.run(lambda i: i, [], saver=saver, cpu=2) == 0
    assert saver.calls == []


def test_run_items_are_any_objects() -> None:
    items = [{"id": i, "x": [i] * (i % 3)} for i in range(10)]
    saver = RecordingSaver()
    assert gr.run(lambda d: sum(d["x"]), items, saver=saver, save_interval=4, cpu=3) == 10
    assert saver.load() == [i * (i % 3) for i in range(10)]


def test_update_saver_gets_the_item_positions(tmp_path: Path) -> None:
    saver = RecordingSaver(" Update ")
    gr.run(lambda i: -i, range(7), saver=saver, save_interval=3, cpu=2)
    assert [indices for _, indices in saver.calls] == [range(0, 3), range(3, 6), range(6, 7)]
    assert saver.load() == [0, -1, -2, -3, -4, -5, -6]
    path = tmp_path / "u.npy"
    NumpySaver(path, approach="overwrite").save(np.zeros(9, dtype=np.int64))
    assert (
        gr.run(
            lambda i: 10 * i + 1,
            range(6),
            saver=NumpySaver(path, approach="update"),
            save_interval=4,
            cpu=3,
        )
        == 6
    )
    assert np.load(path).tolist() == [1, 11, 21, 31, 41, 51, 0, 0, 0]


def test_ragged_results_into_a_grumpy_saver(tmp_path: Path) -> None:
    path = tmp_path / "ragged.gr"
    fn = Clock()
    assert (
        gr.run(
            lambda i: [fn(i)] * (i % 4), range(N), saver=GrumpySaver(path), save_interval=9, cpu=4
        )
        == N
    )
    assert GrumpySaver(path).load().to_list() == [[i * i] * (i % 4) for i in range(N)]


def test_progress_bar(capsys: pytest.CaptureFixture[str]) -> None:
    saver = RecordingSaver()
    assert gr.run(lambda i: i, range(10), saver=saver, save_interval=3, progress=True) == 10
    err = capsys.readouterr().err
    assert "10/10" in err
    assert saver.sizes == [3, 3, 3, 1]
    assert gr.run(lambda i: i + 1, range(4), cpu=2, progress=True) == [1, 2, 3, 4]
    assert "4/4" in capsys.readouterr().err
    assert gr.run(lambda i: i, iter(range(3)), progress=True) == [0, 1, 2]
    assert "3" in capsys.readouterr().err  # no total: a count
    gr.run(lambda i: i, range(3), saver=RecordingSaver())
    assert capsys.readouterr().err == ""  # no bar unless asked


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"cpu": 0}, ValueError, "cpu must be an int >= 1, got 0"),
        ({"cpu": -2}, ValueError, "cpu must be an int >= 1"),
        ({"cpu": 1.5}, ValueError, "cpu must be an int >= 1"),
        ({"cpu": True}, ValueError, "cpu must be an int >= 1"),
        ({"save_interval": 0}, ValueError, "save_interval must be an int >= 1, got 0"),
        ({"save_interval": "10"}, ValueError, "save_interval must be an int >= 1"),
        ({"executor": "x"}, ValueError, "executor must be 'thread' or 'process', got 'x'"),
        ({"saver": object()}, TypeError, "saver must have a save"),
    ],
    ids=[
        "cpu-0",
        "cpu-negative",
        "cpu-float",
        "cpu-bool",
        "interval-0",
        "interval-str",
        "executor",
        "saver-without-save",
    ],
)
def test_bad_arguments_are_refused_before_any_work(
    kwargs: dict[str, Any], error: type[Exception], match: str
) -> None:
    called: list[int] = []
    recorder = RecordingSaver()
    with pytest.raises(error, match=match):
        gr.run(called.append, range(5), **{"saver": recorder, **kwargs})
    assert called == []
    assert recorder.calls == []


def test_non_callable_is_refused() -> None:
    with pytest.raises(TypeError, match="run needs a callable, got 3"):
        gr.run(3, range(5))  # type: ignore[arg-type]


# -- Stream.save --------------------------------------------------------------------------


class SlowBatches:
    """A stream transform sleeping a seeded time per batch, recording completion order."""

    def __init__(self, fn: Any, fail_at: int | None = None) -> None:
        self.fn = fn
        self.fail_at = fail_at
        self.finished: list[int] = []
        self.lock = threading.Lock()

    def __call__(self, batch: Any) -> Any:
        first = int(_first_id(batch))
        time.sleep(DELAYS[first % N] + (0.03 if first == 0 else 0.0))
        if self.fail_at is not None and first == self.fail_at:
            raise ValueError(f"bad batch starting at row {first}")
        with self.lock:
            self.finished.append(first)
        return self.fn(batch)


def _first_id(batch: Any) -> int:
    if isinstance(batch, gr.DataFrame):
        return batch["molecule_id"].to_list()[0]
    return batch[0].to_list()[0] // 10  # numbered_ragged: row i starts with 10 * i


def numbered_ragged(n: int) -> gr.GrumpyArray:
    """Row ``i`` is ``[10 * i, 10 * i + 1 ...]`` with ``i % 3 + 1`` values."""
    return gr.array([[10 * i + j for j in range(i % 3 + 1)] for i in range(n)])


def test_stream_save_ragged_batches_in_order(tmp_path: Path) -> None:
    x = numbered_ragged(25)
    transform = SlowBatches(lambda b: b * 2)
    stream = gr.stream(x, batch_size=3).apply(transform, cpu=4)
    saver = RecordingSaver()
    assert stream.save(saver, save_interval=2) == 9
    assert transform.finished != sorted(transform.finished)  # out of order
    assert saver.sizes == [6, 6, 6, 6, 1]
    assert saver.load() == (x * 2).to_list()
    assert all(isinstance(d, gr.GrumpyArray) for d, _ in saver.calls)
    path = tmp_path / "doubled.gr"
    stream = gr.stream(x, batch_size=3).apply(SlowBatches(lambda b: b * 2), cpu=4)
    assert stream.save(GrumpySaver(path), save_interval=4) == 9
    assert GrumpySaver(path).load().to_list() == (x * 2).to_list()


def test_stream_save_per_row_sums_into_a_numpy_saver(tmp_path: Path) -> None:
    x = numbered_ragged(20)
    path = tmp_path / "sums.npy"
    stream = gr.stream(x, batch_size=4).apply(SlowBatches(lambda b: b.sum(dim=1).to_numpy()), cpu=2)
    assert stream.save(NumpySaver(path), save_interval=2) == 5
    expected = [sum(row) for row in x.to_list()]
    got = np.load(path)
    assert got.dtype == np.int64 and got.tolist() == expected


def test_stream_save_default_interval_is_one_batch() -> None:
    saver = RecordingSaver()
    assert gr.stream(numbered_ragged(7), batch_size=3).save(saver) == 3
    assert saver.sizes == [3, 3, 1]
    assert saver.load() == numbered_ragged(7).to_list()


def frame(n: int) -> gr.DataFrame:
    ids = list(range(n))
    return gr.dataframe(
        {
            "molecule_id": ids,
            "molecule_name": [f"m{i}" for i in ids],
            "residue_a": [[100 * i + r for r in range(i % 3)] for i in ids],
        },
        schema=["molecule", "residue"],
    )


def test_stream_save_frames_in_order(tmp_path: Path) -> None:
    df = frame(11)
    path = tmp_path / "frames.gr"
    transform = SlowBatches(lambda b: b)
    stream = gr.stream(df, batch_size=2).apply(transform, cpu=3)
    assert stream.save(GrumpySaver(path), save_interval=2) == 6
    assert transform.finished != sorted(transform.finished)
    loaded = GrumpySaver(path).load()
    assert isinstance(loaded, gr.DataFrame)
    assert loaded.to_dict() == df.to_dict()
    saver = RecordingSaver()
    gr.stream(df, batch_size=4).apply(SlowBatches(lambda b: b), cpu=3).save(saver, save_interval=2)
    assert [d["molecule_id"].to_list() for d, _ in saver.calls] == [list(range(8)), [8, 9, 10]]
    assert all(isinstance(d, gr.DataFrame) for d, _ in saver.calls)


@pytest.mark.parametrize("cpu", [1, 3])
def test_stream_save_error_at_batch_j_keeps_the_batches_before(tmp_path: Path, cpu: int) -> None:
    x = numbered_ragged(20)
    path = tmp_path / "partial.gr"
    transform = SlowBatches(lambda b: b + 1, fail_at=12)  # batch 4 (rows 12 .. 14)
    stream = gr.stream(x, batch_size=3).apply(transform, cpu=cpu)
    with pytest.raises(ValueError, match="bad batch starting at row 12") as info:
        stream.save(GrumpySaver(path), save_interval=3)
    assert any("raised by a transform of batch 4" in note for note in info.value.__notes__)
    assert GrumpySaver(path).load().to_list() == (x[:12] + 1).to_list()


def test_stream_save_with_an_update_saver(tmp_path: Path) -> None:
    saver = RecordingSaver("update")
    gr.stream(numbered_ragged(10), batch_size=3).save(saver, save_interval=2)
    assert [indices for _, indices in saver.calls] == [range(0, 6), range(6, 10)]
    path = tmp_path / "u.npy"
    NumpySaver(path, approach="overwrite").save(np.full(12, -1))
    stream = gr.stream(numbered_ragged(10), batch_size=4).apply(
        lambda b: b.sum(dim=1).to_numpy(), cpu=2
    )
    assert stream.save(NumpySaver(path, approach="update"), save_interval=2) == 3
    expected = [sum(r) for r in numbered_ragged(10).to_list()] + [-1, -1]
    assert np.load(path).tolist() == expected


def test_stream_save_progress_and_bad_arguments(capsys: pytest.CaptureFixture[str]) -> None:
    stream = gr.stream(numbered_ragged(10), batch_size=3)
    assert stream.save(RecordingSaver(), progress=True) == 4
    assert "4/4" in capsys.readouterr().err
    with pytest.raises(ValueError, match="save_interval must be an int >= 1"):
        stream.save(RecordingSaver(), save_interval=0)
    with pytest.raises(TypeError, match="saver must have a save"):
        stream.save([])
