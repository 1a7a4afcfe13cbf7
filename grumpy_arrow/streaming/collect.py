"""Ordered collection of results into a saver: every K results, and at the end or on error.

Used by ``Stream.save`` and ``gr.run``; the saver is anything with
``save(data, indices=None)`` (and optionally an ``approach``).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np
import pyarrow as pa

from grumpy_arrow._optional import require
from grumpy_arrow._validate import check_int
from grumpy_arrow.functions import concat

__all__ = ["collect", "progress_bar"]


def collect(
    results: Iterable[Any],
    saver: Any,
    *,
    save_interval: int,
    progress: bool = False,
    total: int | None = None,
    rows: bool = False,
) -> int:
    """Save ``results`` (in order) every ``save_interval`` of them; flush at the end and
    on error. ``rows``: each result is one row (``gr.run``), else a batch of rows.

    Returns the number of results saved.
    """
    check_int(save_interval, "save_interval", minimum=1)
    if not hasattr(saver, "save"):
        raise TypeError(f"saver must have a save(data, indices=None) method, got {saver!r}")
    bar = progress_bar(progress, total, "item" if rows else "batch")
    buffer: list[Any] = []
    state = {"saved": 0, "rows": 0}

    def flush() -> None:
        data = list(buffer) if rows else _concat(buffer)
        count = len(buffer) if rows else _rows(data)
        if getattr(saver, "approach", None) == "update":
            saver.save(data, indices=range(state["rows"], state["rows"] + count))
        else:
            saver.save(data)
        state["saved"] += len(buffer)
        state["rows"] += count
        buffer.clear()

    try:
        for result in results:
            buffer.append(result)
            _tick(bar)
            if len(buffer) >= save_interval:
                flush()
    finally:
        try:
            if buffer:
                flush()  # also when the function raised: what finished is kept
        finally:
            _close(bar)
    return state["saved"]


def _concat(batches: list[Any]) -> Any:
    """Batch results joined into one batch (NumPy, grumpy, Arrow or lists)."""
    first = batches[0]
    if len(batches) == 1:
        return first
    if isinstance(first, np.ndarray):
        return np.concatenate(batches)
    if isinstance(first, list):
        return [row for batch in batches for row in batch]
    module = type(first).__module__
    if module.startswith("pyarrow"):
        return (
            pa.concat_tables(batches) if isinstance(first, pa.Table) else pa.concat_arrays(batches)
        )
    return concat(batches)


def _rows(data: Any) -> int:
    return int(data.num_rows) if hasattr(data, "num_rows") else len(data)


def progress_bar(progress: bool, total: int | None, unit: str) -> Any:
    if not progress:
        return None
    tqdm = require("tqdm.auto", what="progress=True", install="'grumpy_arrow[progress]'").tqdm
    return tqdm(total=total, unit=unit)


def _tick(bar: Any) -> None:
    if bar is not None:
        bar.update(1)


def _close(bar: Any) -> None:
    if bar is not None:
        bar.close()
