"""NaN-aware comparison of nested Python values (``to_list()`` results).

Shared by :mod:`grumpy_arrow.testing.asserts` (the assertions users call in their tests) and
``gr.compile(check=True)``, which compares compiled results with eager ones.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

__all__ = ["first_difference"]

_NUMBER = (int, float, np.integer, np.floating)


def _is_nan(v: Any) -> bool:
    return isinstance(v, (float, np.floating)) and math.isnan(v)


def _is_bool(v: Any) -> bool:
    return isinstance(v, (bool, np.bool_))


def first_difference(actual: Any, expected: Any, path: str, rtol: float = 0.0) -> str | None:
    """A description of the first place where ``actual`` and ``expected`` differ, or None.

    Lists and tuples compare element by element, ``None`` only equals ``None``, NaN equals
    NaN, a bool never equals a number; with ``rtol``, numbers may differ by ``rtol`` times
    the larger magnitude (at least 1).
    """
    a_seq, e_seq = isinstance(actual, (list, tuple)), isinstance(expected, (list, tuple))
    if a_seq or e_seq:
        if not (a_seq and e_seq):
            return f"values differ at {path or 'top level'}: {actual!r} != {expected!r}"
        if len(actual) != len(expected):
            return (
                f"lengths differ at {path or 'top level'}: {len(actual)} != {len(expected)} "
                f"({actual!r} != {expected!r})"
            )
        for i, (a, e) in enumerate(zip(actual, expected, strict=True)):
            found = first_difference(a, e, f"{path}[{i}]", rtol)
            if found is not None:
                return found
        return None
    if actual is None or expected is None:
        same = actual is None and expected is None
    elif _is_nan(actual) or _is_nan(expected):
        same = _is_nan(actual) and _is_nan(expected)
    elif _is_bool(actual) != _is_bool(expected):
        same = False
    elif (
        rtol
        and isinstance(actual, _NUMBER)
        and isinstance(expected, _NUMBER)
        and (actual != expected)
    ):
        scale = max(1.0, abs(float(actual)), abs(float(expected)))
        same = abs(float(actual) - float(expected)) <= rtol * scale
    else:
        same = bool(actual == expected)
    if same:
        return None
    return f"values differ at {path or 'top level'}: {actual!r} != {expected!r}"
