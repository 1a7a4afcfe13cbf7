"""Bounded text previews of layout nodes (``repr`` never materialises a huge array)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pyarrow as pa

from grumpy_arrow import layout as lay
from grumpy_arrow.compute.index import row

__all__ = ["format_scalar", "preview"]

_ITEMS = 5  # items shown per list before "..."


def preview(node: lay.Node, width: int = 72) -> str:
    """``[1, 2, ...]``-style text of at most about ``width`` characters; float32 and
    float16 values show at their own precision (``-0.456``, not ``-0.4560000002384186``).

    Examples
    --------
    >>> import grumpy_arrow as gr
    >>> gr.array([[-0.456, 1.1]], dtype="float32")
    <GrumpyArray [[-0.456, 1.1]] type='1 * var * float32'>
    """
    text = _rows(node, width + 1, _formatter(node))
    return text if len(text) <= width else text[: width - 4] + "...]"


_NARROW = {pa.float32(): np.float32, pa.float16(): np.float16}


def format_scalar(value: object, leaf: pa.DataType) -> str:
    """``repr`` of one leaf value of Arrow type ``leaf``; a float16/float32 value as the
    shortest text that reads back to it (``-0.456``, not the float64 it widens to).

    Examples
    --------
    >>> import pyarrow as pa
    >>> format_scalar(-0.4560000002384186, pa.float32()), format_scalar("H", pa.string())
    ('-0.456', "'H'")
    """
    narrow = _NARROW.get(leaf)
    if narrow is not None and isinstance(value, float):
        return str(narrow(value))
    return repr(value)


def _formatter(node: lay.Node) -> Callable[[object], str]:
    """How the leaf values of ``node`` are written."""
    while isinstance(node, lay.ListNode):
        node = node.content
    if isinstance(node, lay.RecordNode):
        return repr
    leaf = node.scalars if isinstance(node, lay.UnionNode) else node
    typ = leaf.arrow.type
    if pa.types.is_dictionary(typ):
        typ = typ.value_type
    return lambda v: format_scalar(v, typ)


def _rows(node: lay.Node, budget: int, fmt: Callable[[object], str] = repr) -> str:
    n = len(node)
    shown = n if n <= _ITEMS + 1 else _ITEMS
    parts: list[str] = []
    used = 1
    for i in range(shown):
        part = _value(row(node, i), budget - used, fmt)
        parts.append(part)
        used += len(part) + 2
        if used > budget:
            break
    if len(parts) < n:
        parts.append("...")
    return "[" + ", ".join(parts) + "]"


def _value(value: object, budget: int, fmt: Callable[[object], str]) -> str:
    if isinstance(value, lay.NODE_TYPES):
        return _rows(value, budget, fmt)
    return fmt(value)
