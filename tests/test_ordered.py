"""The in-order parallel executor (``grumpy_arrow.streaming.ordered.ordered_map``).

Results come out strictly in item order although workers finish out of order (checked by
recording when each call finished); at most ``ahead`` items are started beyond the one
awaited (checked by counting the items drawn while a call is held back); an error
surfaces at its own position; closing early or an error cancels the calls not yet
started (checked after joining the pool's threads, found by their name); threads and
processes behave alike, and ``ahead=0`` runs each call on the consuming thread.
"""

from __future__ import annotations

import os
import re
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from grumpy_arrow.streaming.ordered import ordered_map

FORK_WARNING = "ignore:.*fork.*:DeprecationWarning"  # Python >= 3.12 warns on fork + threads
EXECUTORS = ["thread", "process"]


class Recorder:
    """``fn(i)``: sleeps ``delays.get(i, 0)`` seconds, fails at ``fail_at``, holds item
    ``held`` until ``gate`` is set, and records which items started and finished."""

    def __init__(
        self,
        *,
        delays: dict[int, float] | None = None,
        fail_at: int | None = None,
        held: int | None = None,
    ) -> None:
        self.delays = delays or {}
        self.fail_at = fail_at
        self.held = held
        self.gate = threading.Event()
        self.started: list[int] = []
        self.finished: list[int] = []
        self.threads: set[int] = set()
        self.lock = threading.Lock()

    def __call__(self, i: int) -> int:
        with self.lock:
            self.started.append(i)
            self.threads.add(threading.get_ident())
        if i == self.held:
            assert self.gate.wait(30)
        time.sleep(self.delays.get(i, 0.0))
        if i == self.fail_at:
            raise RuntimeError(f"boom at {i}")
        with self.lock:
            self.finished.append(i)
        return i * i


class Source:
    """The items ``0 .. n - 1``, counting how many were drawn."""

    def __init__(self, n: int) -> None:
        self.n = n
        self.drawn = 0

    def __iter__(self) -> Iterator[int]:
        for i in range(self.n):
            self.drawn += 1
            yield i


def wait_started(fn: Recorder, i: int) -> None:
    """Wait until item ``i`` has started on the pool."""
    deadline = time.monotonic() + 30
    while i not in fn.started:
        assert time.monotonic() < deadline
        time.sleep(0.001)


def join_pool(name: str) -> None:
    """Wait for every thread of the pools named ``name`` to exit."""
    for thread in threading.enumerate():
        if thread.name.startswith(name):
            thread.join(30)
            assert not thread.is_alive()


# module-level functions for the process executor (they must pickle)
def square_and_when(i: int) -> tuple[int, float]:
    time.sleep(0.2 if i == 0 else 0.0)  # item 0 finishes last
    return i * i, time.monotonic()


def square_or_fail_at_3(i: int) -> int:
    if i == 3:
        err = KeyError("no square for 3")
        err.add_note("noted in the worker process")
        raise err
    return i * i


def pid_of(item: Any) -> tuple[Any, int]:
    return item, os.getpid()


# -- order ------------------------------------------------------------------------------


@pytest.mark.parametrize("ahead", [1, 3, 10])
def test_results_keep_item_order_when_later_items_finish_first(ahead: int) -> None:
    fn = Recorder(delays={0: 0.1, 2: 0.05})
    got = list(ordered_map(fn, range(12), ahead=ahead, workers=4, name="test-ordered"))
    assert got == [i * i for i in range(12)]
    assert fn.finished.index(0) > fn.finished.index(1)  # item 1 finished before item 0
    assert sorted(fn.finished) == list(range(12))


@pytest.mark.filterwarnings(FORK_WARNING)
def test_process_results_keep_item_order_when_later_items_finish_first() -> None:
    got = list(ordered_map(square_and_when, range(6), ahead=3, workers=3, executor="process"))
    assert [square for square, _ in got] == [0, 1, 4, 9, 16, 25]
    assert got[0][1] > got[1][1]  # item 1 finished before item 0


@pytest.mark.filterwarnings(FORK_WARNING)
@pytest.mark.parametrize("executor", EXECUTORS)
def test_none_items_are_items(executor: str) -> None:
    items = [None, 1, None, None]
    got = list(ordered_map(pid_of, items, ahead=2, workers=2, executor=executor))
    assert [item for item, _ in got] == items


@pytest.mark.filterwarnings(FORK_WARNING)
@pytest.mark.parametrize("executor", EXECUTORS)
def test_empty_items_yield_nothing(executor: str) -> None:
    assert list(ordered_map(pid_of, [], ahead=2, workers=2, executor=executor)) == []


# -- the window ---------------------------------------------------------------------------


@pytest.mark.parametrize("ahead", [1, 2, 5])
def test_ahead_items_are_started_beyond_the_awaited_one(ahead: int) -> None:
    fn = Recorder(held=1)  # item 1 holds its worker until the gate opens
    source = Source(20)
    results = ordered_map(fn, source, ahead=ahead, workers=8, name="test-ordered-ahead")
    assert next(results) == 0
    # the window moved past item 0: items 1 .. ahead + 1 are started, no more drawn
    assert source.drawn == ahead + 1
    fn.gate.set()
    assert next(results) == 1
    assert source.drawn == ahead + 2
    assert list(results) == [i * i for i in range(2, 20)]
    assert source.drawn == 20


def test_ahead_0_runs_each_call_on_the_consuming_thread_when_requested() -> None:
    fn = Recorder()
    source = Source(5)
    results = ordered_map(fn, source, ahead=0, workers=4, executor="process")
    assert source.drawn == 0
    assert next(results) == 0
    assert next(results) == 1
    assert source.drawn == 2 and fn.started == [0, 1]
    assert list(results) == [4, 9, 16]
    assert fn.threads == {threading.get_ident()}


def test_threads_run_calls_in_parallel_on_the_pool() -> None:
    fn = Recorder()
    both = threading.Barrier(2, timeout=30)  # items 0 and 1 must run at the same time

    def meet(i: int) -> int:
        if i < 2:
            both.wait()
        return fn(i)

    assert list(ordered_map(meet, range(6), ahead=2, workers=2)) == [0, 1, 4, 9, 16, 25]
    assert len(fn.threads) == 2 and threading.get_ident() not in fn.threads


# -- errors and cancellation --------------------------------------------------------------


@pytest.mark.parametrize("k", [0, 1, 4])
def test_an_error_surfaces_at_its_position_after_the_results_before_it(k: int) -> None:
    fn = Recorder(fail_at=k, delays={k: 0.1})  # later items finish before k fails
    results = ordered_map(fn, range(12), ahead=4, workers=4, wait=True)
    assert [next(results) for _ in range(k)] == [i * i for i in range(k)]
    with pytest.raises(RuntimeError, match=f"^boom at {k}$"):
        next(results)
    assert max(fn.finished) > k  # later results existed, and were dropped
    assert list(results) == []  # the generator is finished


def test_an_error_cancels_the_calls_not_started() -> None:
    # One worker: item 2 runs (held) while items 3 .. 5 wait in the pool's queue.
    fn = Recorder(fail_at=1, held=2)
    source = Source(40)
    results = ordered_map(fn, source, ahead=4, workers=1, name="test-ordered-error")
    assert next(results) == 0
    wait_started(fn, 2)
    with pytest.raises(RuntimeError, match="boom at 1"):
        next(results)
    fn.gate.set()
    join_pool("test-ordered-error")
    assert sorted(fn.started) == [0, 1, 2]  # 3, 4 and 5 were cancelled
    assert source.drawn == 6  # nothing drawn after the error


def test_closing_early_cancels_the_calls_not_started_without_waiting() -> None:
    fn = Recorder(held=1)
    source = Source(40)
    results = ordered_map(fn, source, ahead=5, workers=1, name="test-ordered-close")
    assert next(results) == 0
    wait_started(fn, 1)
    began = time.monotonic()
    results.close()  # returns while item 1 is still held: the pool is not awaited
    assert time.monotonic() - began < 10  # (waiting would take the gate's 30 s)
    assert fn.started == [0, 1] and fn.finished == [0]
    fn.gate.set()
    join_pool("test-ordered-close")
    assert fn.started == [0, 1] and fn.finished == [0, 1]  # 2 .. 6 were cancelled
    assert source.drawn == 6


def test_closing_early_with_wait_returns_after_the_running_calls() -> None:
    fn = Recorder(delays={1: 0.2})
    results = ordered_map(fn, range(40), ahead=5, workers=1, wait=True)
    assert next(results) == 0
    wait_started(fn, 1)
    results.close()
    assert fn.finished == [0, 1]  # the running call ended before close returned


def test_breaking_out_of_a_for_loop_cancels() -> None:
    fn = Recorder(held=1)
    for got in ordered_map(fn, range(40), ahead=3, workers=1, name="test-ordered-break"):
        assert got == 0
        wait_started(fn, 1)
        break
    fn.gate.set()
    join_pool("test-ordered-break")
    assert fn.started == [0, 1]


def test_a_pool_starts_only_when_a_result_is_requested() -> None:
    fn = Recorder()
    ordered_map(fn, range(5), ahead=2, workers=2, name="test-ordered-lazy").close()
    assert fn.started == []
    assert not [t for t in threading.enumerate() if t.name.startswith("test-ordered-lazy")]


# -- processes, and ``load`` ---------------------------------------------------------------


@pytest.mark.filterwarnings(FORK_WARNING)
def test_process_error_surfaces_at_its_position_with_its_notes() -> None:
    results = ordered_map(square_or_fail_at_3, range(10), ahead=3, workers=2, executor="process")
    assert [next(results) for _ in range(3)] == [0, 1, 4]
    with pytest.raises(KeyError, match="no square for 3") as info:
        next(results)
    assert info.value.__notes__ == ["noted in the worker process"]


@pytest.mark.filterwarnings(FORK_WARNING)
def test_process_load_runs_on_reader_threads_here_and_fn_in_workers() -> None:
    loaded: list[tuple[int, int]] = []

    def load(i: int) -> int:
        loaded.append((os.getpid(), threading.get_ident()))
        return i * 10

    results = ordered_map(pid_of, range(8), ahead=3, workers=2, executor="process", load=load)
    got = list(results)
    assert [item for item, _ in got] == [i * 10 for i in range(8)]
    assert all(pid != os.getpid() for _, pid in got)
    assert {pid for pid, _ in loaded} == {os.getpid()}
    assert threading.get_ident() not in {thread for _, thread in loaded}


def test_thread_load_runs_in_the_same_call_as_fn() -> None:
    calls: list[tuple[str, int, int]] = []

    def load(i: int) -> int:
        calls.append(("load", i, threading.get_ident()))
        return i + 100

    def fn(x: int) -> int:
        calls.append(("fn", x, threading.get_ident()))
        return -x

    assert list(ordered_map(fn, range(4), ahead=2, workers=2, load=load)) == [
        -100,
        -101,
        -102,
        -103,
    ]
    loaded_on = {i: thread for kind, i, thread in calls if kind == "load"}
    called_on = {x - 100: thread for kind, x, thread in calls if kind == "fn"}
    assert called_on == loaded_on and len(loaded_on) == 4
    assert threading.get_ident() not in loaded_on.values()


# -- arguments ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kw", "message"),
    [
        ({"ahead": -1}, "ahead must be an int >= 0, got -1"),
        ({"ahead": True}, "ahead must be an int >= 0, got True"),
        ({"workers": 0}, "workers must be an int >= 1, got 0"),
        ({"workers": 1.5}, "workers must be an int >= 1, got 1.5"),
        ({"executor": "fiber"}, "executor must be 'thread' or 'process', got 'fiber'"),
    ],
    ids=["ahead-negative", "ahead-bool", "workers-0", "workers-float", "executor"],
)
def test_bad_arguments_raise_at_the_call(kw: dict[str, Any], message: str) -> None:
    args: dict[str, Any] = {"ahead": 2, "workers": 2, **kw}
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        ordered_map(pid_of, range(3), **args)  # raises before any result is requested
