"""Text of grumpy rows for pandas' display: bounded previews, floats at their own precision.

A float32 value is shown as the shortest text that reads back to the same float32
(``-0.456``), not as the float64 it widens to (``-0.4560000002384186``); float16 likewise.
Lists show at most a few elements each (a long row never materialises), like
:func:`grumpy_arrow.display.preview`.

Examples
--------
>>> import grumpy_arrow as gr
>>> from grumpy_arrow.pandas.format import format_row, format_scalar
>>> x = gr.array([[1.5, -0.456], [2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0]], dtype="float32")
>>> format_row(x)
'[[1.5, -0.456], [2.0, 3.0, 4.0, 5.0, 6.0, ...]]'
>>> format_scalar(x.to_list()[0][1], gr.float32), format_scalar("H", gr.string)
('-0.456', "'H'")
"""

from __future__ import annotations

from typing import Any

import numpy as np

from grumpy_arrow import dtypes as dt
from grumpy_arrow import layout as lay
from grumpy_arrow.array import GrumpyArray
from grumpy_arrow.compute.index import row

__all__ = ["format_row", "format_scalar"]

_ITEMS = 5  # elements shown per list before "..."
_NARROW = {"float16": np.float16, "float32": np.float32}


def format_scalar(value: Any, leaf: dt.DType) -> str:
    """``repr`` of one leaf value, with float16/float32 values at their own precision."""
    narrow = _NARROW.get(leaf.name)
    if narrow is not None and isinstance(value, float):
        return str(narrow(value))
    return repr(value)


def format_row(arr: GrumpyArray, width: int = 72) -> str:
    """``[1, 2, ...]``-style text of the rows of ``arr``, at most about ``width`` long."""
    text = _rows(arr.node, arr.dtype, width + 1)
    return text if len(text) <= width else text[: width - 4] + "...]"


def _rows(node: lay.Node, leaf: dt.DType, budget: int) -> str:
    n = len(node)
    shown = n if n <= _ITEMS + 1 else _ITEMS
    parts: list[str] = []
    used = 1
    for i in range(shown):
        value = row(node, i)
        if isinstance(value, (lay.Leaf, lay.ListNode, lay.UnionNode)):
            part = _rows(value, leaf, budget - used)
        else:
            part = format_scalar(value, leaf)
        parts.append(part)
        used += len(part) + 2
        if used > budget:
            break
    if len(parts) < n:
        parts.append("...")
    return "[" + ", ".join(parts) + "]"
