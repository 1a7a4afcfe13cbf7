"""Text of grumpy rows for pandas' display: bounded previews, floats at their own precision.

A float32 value is shown as the shortest text that reads back to the same float32
(``-0.456``), not as the float64 it widens to (``-0.4560000002384186``); float16 likewise.
Lists show at most a few elements each (a long row never materialises). Both come from
:mod:`grumpy_arrow.display`, so pandas shows rows as ``repr`` does.

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

from grumpy_arrow import display
from grumpy_arrow import dtypes as dt
from grumpy_arrow.array import GrumpyArray

__all__ = ["format_row", "format_scalar"]


def format_scalar(value: Any, leaf: dt.DType) -> str:
    """``repr`` of one leaf value, with float16/float32 values at their own precision."""
    return display.format_scalar(value, leaf.arrow)


def format_row(arr: GrumpyArray, width: int = 72) -> str:
    """``[1, 2, ...]``-style text of the rows of ``arr``, at most about ``width`` long."""
    return display.preview(arr.node, width)
