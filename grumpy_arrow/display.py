"""Bounded text previews of layout nodes (``repr`` never materialises a huge array)."""

from __future__ import annotations

from grumpy_arrow import layout as lay
from grumpy_arrow.compute.index import row

__all__ = ["preview"]

_ITEMS = 5  # items shown per list before "..."


def preview(node: lay.Node, width: int = 72) -> str:
    """``[1, 2, ...]``-style text of at most about ``width`` characters."""
    text = _rows(node, width + 1)
    return text if len(text) <= width else text[: width - 4] + "...]"


def _rows(node: lay.Node, budget: int) -> str:
    n = len(node)
    shown = n if n <= _ITEMS + 1 else _ITEMS
    parts: list[str] = []
    used = 1
    for i in range(shown):
        part = _value(row(node, i), budget - used)
        parts.append(part)
        used += len(part) + 2
        if used > budget:
            break
    if len(parts) < n:
        parts.append("...")
    return "[" + ", ".join(parts) + "]"


def _value(value: object, budget: int) -> str:
    if isinstance(value, (lay.Leaf, lay.ListNode, lay.UnionNode)):
        return _rows(value, budget)
    return repr(value)
