"""Ordered runs that save as they go: ``gr.run`` and ``Stream.save``.

Workers may finish in any order; results are consumed strictly in item order (a window
of futures, oldest first), buffered, and handed to the saver every ``save_interval``
results. When the function raises at item ``k``, every result before ``k`` is flushed
before the error propagates: what finished is never lost. Results of items after ``k``
that happened to finish are dropped, so the saved rows are always a prefix of the items.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sized
from concurrent.futures import Executor, Future, ProcessPoolExecutor, ThreadPoolExecutor
from typing import Any

from grumpy_arrow.streaming.collect import _check_int, _close, _tick, collect, progress_bar

__all__ = ["ordered_map", "run"]


def run(
    fn: Callable[[Any], Any],
    items: Iterable[Any],
    *,
    saver: Any = None,
    save_interval: int = 100,
    cpu: int = 1,
    executor: str = "thread",
    progress: bool = False,
) -> Any:
    """Apply ``fn`` to every item on ``cpu`` workers, saving results in item order.

    Parameters
    ----------
    fn : callable
        One item → one result (a row: a number, a list, a NumPy array...).
    items : iterable
        The inputs (consumed lazily; at most ``4 * cpu`` are in flight).
    saver : Saver, optional
        Where results go: every ``save_interval`` results are saved as one batch (with
        an ``update`` saver, at the items' positions). Without a saver the results are
        returned as a list.
    cpu : int
        Parallel workers; ``executor`` is ``"thread"`` (GIL-releasing work) or
        ``"process"`` (``fn`` and items must pickle).
    progress : bool
        Show a tqdm progress bar (the ``progress`` extra).

    Returns
    -------
    list or int
        The results (no saver) or the number of results saved.

    Examples
    --------
    >>> import os, tempfile, numpy as np, grumpy_arrow as gr
    >>> from grumpy_arrow.savers import NumpySaver
    >>> path = os.path.join(tempfile.mkdtemp(), "squares.npy")
    >>> gr.run(lambda i: i * i, range(10), saver=NumpySaver(path), save_interval=4, cpu=2)
    10
    >>> np.load(path).tolist()
    [0, 1, 4, 9, 16, 25, 36, 49, 64, 81]
    """
    if not callable(fn):
        raise TypeError(f"run needs a callable, got {fn!r}")
    _check_int(cpu, "cpu", 1)
    if executor not in ("thread", "process"):
        raise ValueError(f"executor must be 'thread' or 'process', got {executor!r}")
    total = len(items) if isinstance(items, Sized) else None
    results = ordered_map(fn, items, cpu=cpu, executor=executor)
    if saver is None:
        bar = progress_bar(progress, total, "item")
        out = []
        for result in results:
            out.append(result)
            _tick(bar)
        _close(bar)
        return out
    return collect(results, saver, save_interval=save_interval, progress=progress,
                   total=total, rows=True)  # fmt: skip


def ordered_map(
    fn: Callable[[Any], Any], items: Iterable[Any], *, cpu: int, executor: str
) -> Iterator[Any]:
    """``fn`` over ``items`` on a pool, yielding results strictly in item order."""
    if cpu == 1:
        for i, item in enumerate(items):
            yield _call(fn, item, i)
        return
    pool: Executor = (
        ProcessPoolExecutor(max_workers=cpu)
        if executor == "process"
        else ThreadPoolExecutor(max_workers=cpu, thread_name_prefix="grumpy-run")
    )
    pending: deque[Future[Any]] = deque()
    source = enumerate(items)
    try:
        for i, item in source:
            pending.append(pool.submit(_call, fn, item, i))
            if len(pending) >= 4 * cpu:
                break
        while pending:
            future = pending.popleft()
            nxt = next(source, None)
            if nxt is not None:
                pending.append(pool.submit(_call, fn, nxt[1], nxt[0]))
            yield future.result()
    finally:
        for future in pending:
            future.cancel()
        pool.shutdown(wait=True, cancel_futures=True)


def _call(fn: Callable[[Any], Any], item: Any, i: int) -> Any:
    try:
        return fn(item)
    except Exception as err:
        err.add_note(f"raised by run's function at item {i}")
        raise
