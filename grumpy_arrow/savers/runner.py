"""Ordered runs that save as they go: ``gr.run`` and ``Stream.save``.

Workers may finish in any order; results are consumed strictly in item order (a window
of futures, oldest first: :mod:`grumpy_arrow.streaming.ordered`), buffered, and handed
to the saver every ``save_interval`` results. When the function raises at item ``k``,
every result before ``k`` is flushed before the error propagates: what finished is never
lost. Results of items after ``k`` that happened to finish are dropped, so the saved rows
are always a prefix of the items.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sized
from functools import partial
from typing import Any

from grumpy_arrow._typing import ExecutorKind
from grumpy_arrow._validate import check_int
from grumpy_arrow.streaming.collect import _close, _tick, collect, progress_bar
from grumpy_arrow.streaming.ordered import ordered_map

__all__ = ["run"]


def run(
    fn: Callable[[Any], Any],
    items: Iterable[Any],
    *,
    saver: Any = None,
    save_interval: int = 100,
    cpu: int = 1,
    executor: ExecutorKind = "thread",
    progress: bool = False,
) -> Any:
    """Apply ``fn`` to every item on ``cpu`` workers, saving results in item order.

    Parameters
    ----------
    fn : callable
        One item → one result (a row: a number, a list, a NumPy array...).
    items : iterable
        The inputs (consumed lazily: with ``cpu > 1``, ``4 * cpu`` items are started
        beyond the one whose result is awaited).
    saver : Saver, optional
        Where results go: every ``save_interval`` results are saved as one batch (with
        an ``update`` saver, at the items' positions). Without a saver the results are
        returned as a list.
    save_interval : int, default 100
        Results joined into each save (with a saver).
    cpu : int
        Parallel workers; results are still saved and returned in item order.
    executor : {"thread", "process"}
        ``"thread"`` for GIL-releasing work, ``"process"`` when ``fn`` is Python-bound
        (``fn`` and the items must pickle).
    progress : bool
        Show a tqdm progress bar (the ``progress`` extra).

    Returns
    -------
    list or int
        The results (no saver) or the number of results saved.

    Raises
    ------
    TypeError
        If ``fn`` is not callable.
    ValueError
        For a ``cpu`` below 1 or an unknown ``executor``.

    Examples
    --------
    >>> import os, tempfile, numpy as np, grumpy_arrow as gr
    >>> from grumpy_arrow.savers import NumpySaver
    >>> tmp = tempfile.TemporaryDirectory()
    >>> path = os.path.join(tmp.name, "squares.npy")
    >>> gr.run(lambda i: i * i, range(10), saver=NumpySaver(path), save_interval=4, cpu=2)
    10
    >>> np.load(path).tolist()
    [0, 1, 4, 9, 16, 25, 36, 49, 64, 81]
    >>> gr.run(len, [[1, 2], [], [3]])
    [2, 0, 1]
    >>> tmp.cleanup()
    """
    if not callable(fn):
        raise TypeError(f"run needs a callable, got {fn!r}")
    check_int(cpu, "cpu", minimum=1)
    if executor not in ("thread", "process"):
        raise ValueError(f"executor must be 'thread' or 'process', got {executor!r}")
    total = len(items) if isinstance(items, Sized) else None
    results = ordered_map(
        partial(_call, fn),
        enumerate(items),
        ahead=0 if cpu == 1 else 4 * cpu,
        workers=cpu,
        executor=executor,
        wait=True,  # when run returns or raises, none of fn's calls is still running
        name="grumpy-run",
    )
    if saver is None:
        bar = progress_bar(progress, total, "item")
        out = []
        for result in results:
            out.append(result)
            _tick(bar)
        _close(bar)
        return out
    return collect(
        results, saver, save_interval=save_interval, progress=progress, total=total, rows=True
    )


def _call(fn: Callable[[Any], Any], job: tuple[int, Any]) -> Any:
    """``fn`` on item ``job = (i, item)``; an error is noted with the item's index."""
    i, item = job
    try:
        return fn(item)
    except Exception as err:
        err.add_note(f"raised by run's function at item {i}")
        raise
