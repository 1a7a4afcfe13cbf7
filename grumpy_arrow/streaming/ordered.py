"""One in-order parallel executor, shared by ``Stream`` iteration and ``gr.run``.

``ordered_map(fn, items, ahead=k, ...)`` keeps a window of futures, oldest first: while
it waits for the result of item ``i`` it has already started items ``i + 1`` ...
``i + k``, so workers may finish in any order and results still come out strictly in
item order::

    items ──► i  i+1  …  i+k      started on a thread or process pool
              │
              ▼
    yields fn(i), then fn(i+1), …  (a raise surfaces at its own position)

Items are drawn from ``items`` lazily, on the consuming thread. When the consumer stops
early (``break``, ``close()``, garbage collection) or a call raises, the calls not yet
started are cancelled and the pool is shut down; results of later items that finished
anyway are dropped.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Generator, Iterable
from concurrent.futures import Executor, Future, ProcessPoolExecutor, ThreadPoolExecutor
from functools import partial
from typing import Any, TypeVar

from grumpy_arrow._typing import ExecutorKind
from grumpy_arrow._validate import check_int

__all__ = ["ordered_map"]

T = TypeVar("T")
R = TypeVar("R")

_END: Any = object()  # the end of ``items`` (an item may be None)


def ordered_map(
    fn: Callable[[Any], R],
    items: Iterable[T],
    *,
    ahead: int,
    workers: int,
    executor: ExecutorKind = "thread",
    load: Callable[[T], Any] | None = None,
    wait: bool = False,
    name: str = "grumpy",
) -> Generator[R, None, None]:
    """Yield ``fn(item)`` (or ``fn(load(item))``) for each item, strictly in item order.

    Parameters
    ----------
    fn : callable
        One item (or one loaded item) → one result. With ``executor="process"`` it runs
        in a worker process and must pickle, as must its argument and result. An
        exception it raises is re-raised at its item's place in the output.
    items : iterable
        The inputs, drawn lazily on the consuming thread as the window moves.
    ahead : int
        How many items are started beyond the one whose result is awaited (at most
        ``ahead + 1`` are in flight). ``0`` starts no pool: each item is computed on the
        consuming thread when its result is requested.
    workers : int
        Threads or processes of the pool.
    executor : {"thread", "process"}
        Threads suit work that releases the GIL (pyarrow, NumPy, I/O); processes suit
        GIL-bound Python.
    load : callable, optional
        Runs in this process before ``fn``: with processes, on reader threads
        (``max(2, workers)`` of them) that hand each loaded item to a process as soon
        as it is loaded, so that loading overlaps with ``fn``; otherwise in the same
        call as ``fn``.
    wait : bool
        When the iterator is closed early or a call raises, wait for the calls already
        running before returning (``gr.run``: none of ``fn``'s work goes on after it
        returns); by default they finish in the background.
    name : str
        Prefix of the pool's thread names.

    Returns
    -------
    generator
        The results in item order; close it (or let it be collected) to cancel the
        work not yet started.

    Raises
    ------
    ValueError
        When ``ahead`` is not an int >= 0, ``workers`` not an int >= 1, or
        ``executor`` neither ``"thread"`` nor ``"process"``.

    Examples
    --------
    >>> import time
    >>> from grumpy_arrow.streaming.ordered import ordered_map
    >>> def slow_first(i):
    ...     time.sleep(0.05 if i == 0 else 0.0)  # item 0 finishes last
    ...     return i * i
    >>> list(ordered_map(slow_first, range(6), ahead=3, workers=4))
    [0, 1, 4, 9, 16, 25]
    >>> list(ordered_map(len, ["a", "bb"], ahead=0, workers=1, load=str.upper))
    [1, 2]
    """
    check_int(ahead, "ahead", minimum=0)
    check_int(workers, "workers", minimum=1)
    if executor not in ("thread", "process"):
        raise ValueError(f"executor must be 'thread' or 'process', got {executor!r}")
    if ahead == 0:
        return _on_demand(fn, items, load)
    # The pools start with the first result requested (a generator never started
    # has no ``finally`` to shut them down).
    start = partial(_submitter, fn, load, workers=workers, executor=executor, name=name)
    return _windowed(start, items, ahead=ahead, wait=wait)


def _on_demand(
    fn: Callable[[Any], R], items: Iterable[T], load: Callable[[T], Any] | None
) -> Generator[R, None, None]:
    """Each result computed on the consuming thread when it is requested."""
    for item in items:
        yield fn(item) if load is None else fn(load(item))


def _windowed(
    start: Callable[[], tuple[Callable[[T], Future[R]], tuple[Executor, ...]]],
    items: Iterable[T],
    *,
    ahead: int,
    wait: bool,
) -> Generator[R, None, None]:
    """The window of futures (see the module docstring) on the pools ``start`` makes."""
    submit, pools = start()
    pending: deque[Future[R]] = deque()
    source = iter(items)
    try:
        for item in source:
            pending.append(submit(item))
            if len(pending) == ahead:
                break
        while pending:
            future = pending.popleft()
            # Start the next item before waiting: ``ahead`` run beyond the awaited one.
            nxt = next(source, _END)
            if nxt is not _END:
                pending.append(submit(nxt))
            yield future.result()
    finally:
        for future in pending:
            future.cancel()
        for pool in pools:
            pool.shutdown(wait=wait, cancel_futures=True)


def _submitter(
    fn: Callable[[Any], R],
    load: Callable[[T], Any] | None,
    *,
    workers: int,
    executor: str,
    name: str,
) -> tuple[Callable[[T], Future[R]], tuple[Executor, ...]]:
    """How one item is started, and the pools to shut down (in that order)."""
    if executor == "thread":
        threads = ThreadPoolExecutor(max_workers=workers, thread_name_prefix=name)
        if load is None:
            return lambda item: threads.submit(fn, item), (threads,)
        return lambda item: threads.submit(_load_then_call, load, fn, item), (threads,)
    processes = ProcessPoolExecutor(max_workers=workers)
    if load is None:
        return lambda item: processes.submit(fn, item), (processes,)
    readers = ThreadPoolExecutor(max_workers=max(2, workers), thread_name_prefix=name)

    def load_then_send(item: T) -> R:
        return processes.submit(fn, load(item)).result()

    return lambda item: readers.submit(load_then_send, item), (processes, readers)


def _load_then_call(load: Callable[[T], Any], fn: Callable[[Any], R], item: T) -> R:
    return fn(load(item))
