"""Checks of user arguments shared across the package (one message for one mistake).

Examples
--------
>>> from grumpy_arrow._validate import check_int
>>> check_int(3, "batch_size", minimum=1)
3
>>> check_int(0, "batch_size", minimum=1)
Traceback (most recent call last):
...
ValueError: batch_size must be an int >= 1, got 0
>>> check_int(None, "shard_rows", minimum=1, optional=True) is None
True
"""

from __future__ import annotations

from typing import Any, Literal, overload

import numpy as np

__all__ = ["check_int"]


@overload
def check_int(value: Any, name: str, *, minimum: int, optional: Literal[False] = False) -> int: ...


@overload
def check_int(value: Any, name: str, *, minimum: int, optional: bool) -> int | None: ...


def check_int(value: Any, name: str, *, minimum: int, optional: bool = False) -> int | None:
    """``value`` as an ``int`` when it is an integer (Python or NumPy, not a bool) of at
    least ``minimum``; None too with ``optional``.

    Parameters
    ----------
    value : object
        The argument to check.
    name : str
        Its name, for the message.
    minimum : int
        The smallest value allowed.
    optional : bool, default False
        Whether None is allowed (and returned).

    Returns
    -------
    int or None
        The value as a Python int (None when it is None and ``optional``).

    Raises
    ------
    ValueError
        ``"<name> must be an int >= <minimum>[ or None], got <value>"``.
    """
    if value is None and optional:
        return None
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        ok = False
    else:
        ok = bool(value >= minimum)
    if not ok:
        extra = " or None" if optional else ""
        raise ValueError(f"{name} must be an int >= {minimum}{extra}, got {value!r}")
    return int(value)
