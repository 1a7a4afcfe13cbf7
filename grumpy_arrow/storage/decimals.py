"""Decimal-scaled float leaves: floats of a few decimal places stored as integers.

Coordinates written with three decimals, prices with two, counts held as floats: such
values carry far fewer bits than their 32 or 64, but their binary mantissas look random,
so no byte compressor shrinks them (a float32 leaf of 3-decimal coordinates compresses to
93 % with zstd). Scaled by ``10**d`` they are small integers, which bit-shuffled LZ4 packs
to about 2.6 bytes a value (the molecule benchmark's coordinates: 40 MB -> 25.6 MB).

A float leaf is scaled only when every value comes back **bit for bit**:
``float(q / 10**d)`` (the division in float64, then the cast to the leaf's width) must
equal the value written, for ``q = rint(x * 10**d)``. NaN and infinities never scale;
``-0.0`` is stored as the smallest integer of the stored type (:data:`NEGATIVE_ZERO`),
which no other value uses. float32 leaves are stored as int32, float64 leaves as int64
(values beyond ``2**53`` in magnitude never scale). The scale is recorded in the leaf's
``zarr.json`` (``attributes.grumpy``); plain Zarr readers see the integers.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["MAX_DECIMALS", "STORED", "decode", "encode", "find", "negative_zero"]

MAX_DECIMALS = 6
"""The most decimal places a scaled leaf keeps (float32 values of magnitude 10 or more
round-trip at 6 places whatever their digits; their integers then barely compress)."""
STORED: dict[str, np.dtype[Any]] = {"float32": np.dtype("<i4"), "float64": np.dtype("<i8")}
"""The integer dtype a scaled float leaf is stored with."""
_LIMIT = {"float32": float(2**31 - 1), "float64": float(2**53)}


def negative_zero(stored: Any) -> int:
    """The integer that stands for ``-0.0`` in a leaf of ``stored`` integers."""
    return int(np.iinfo(np.dtype(stored)).min)


def encode(values: np.ndarray, decimals: int) -> np.ndarray | None:
    """The integers of float ``values`` at ``decimals`` places, or None when one of them
    does not come back bit for bit (whole-array NumPy: a few passes over the values)."""
    logical = values.dtype.name
    if logical not in STORED or not 0 <= decimals <= MAX_DECIMALS:
        return None
    stored = STORED[logical]
    with np.errstate(all="ignore"):
        scaled = np.rint(values.astype(np.float64) * 10.0**decimals)
        inside = np.abs(scaled) <= _LIMIT[logical]  # False for NaN and infinities too
    if not inside.all():
        return None
    q = scaled.astype(stored)
    sign = np.signbit(values)
    zeros = sign & (values == 0)
    if zeros.any():
        q[zeros] = negative_zero(stored)
    back = decode(q, decimals, values.dtype)
    unsigned = np.dtype(f"u{values.dtype.itemsize}")
    if not np.array_equal(back.view(unsigned), values.view(unsigned)):
        return None
    return q


def decode(q: np.ndarray, decimals: int, logical: Any) -> np.ndarray:
    """The floats of scaled integers ``q`` (``logical``: float32 or float64)."""
    out = np.divide(q, 10.0**decimals, dtype=np.float64).astype(logical, copy=False)
    if len(q):
        zeros = q == negative_zero(q.dtype)
        if zeros.any():
            out[zeros] = -0.0
    return out


def find(sample: np.ndarray) -> int | None:
    """The fewest decimal places at which every float of ``sample`` scales exactly, or
    None (not a float, or no places up to :data:`MAX_DECIMALS` do)."""
    if sample.dtype.name not in STORED or not len(sample):
        return None
    head = sample[:256]  # most places are refused by the first values already
    for decimals in range(MAX_DECIMALS + 1):
        if encode(head, decimals) is not None and encode(sample, decimals) is not None:
            return decimals
    return None
