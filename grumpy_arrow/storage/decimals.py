"""Decimal-scaled float leaves: floats of a few decimal places stored as integers.

Coordinates written with three decimals, prices with two, counts held as floats: such
values carry far fewer bits than their 32 or 64, but their binary mantissas look random,
so no byte compressor shrinks them (a float32 leaf of 3-decimal coordinates compresses to
93 % with zstd). Scaled by ``10**d`` they are small integers, which bit-shuffled LZ4 packs
to about 2.3 bytes a value in 8 KiB chunks (the molecule benchmark's coordinates: 40 MB
-> 22.9 MB).

A float leaf is scaled only when every value comes back **bit for bit**:
``float(q / 10**d)`` (the division in float64, then the cast to the leaf's width) must
equal the value written, for ``q = rint(x * 10**d)``. NaN and infinities never scale;
``-0.0`` is stored as the smallest integer of the stored type (:func:`negative_zero`),
which no other value uses. float32 leaves are stored as int32, float64 leaves as int64
(values beyond ``2**53`` in magnitude never scale). The scale is recorded in the leaf's
``zarr.json`` (``attributes.grumpy``); plain Zarr readers see the integers.
"""

from __future__ import annotations

import functools
import itertools
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np

from grumpy_arrow import _native

__all__ = [
    "MAX_DECIMALS",
    "PARALLEL_VALUES",
    "STORED",
    "decode",
    "encode",
    "find",
    "negative_zero",
]

MAX_DECIMALS = 6
"""The most decimal places a scaled leaf keeps (float32 values of magnitude 10 or more
round-trip at 6 places whatever their digits; their integers then barely compress)."""
STORED: dict[str, np.dtype[Any]] = {"float32": np.dtype("<i4"), "float64": np.dtype("<i8")}
"""The integer dtype a scaled float leaf is stored with."""
BLOCK = 1 << 15
"""Values per block of :func:`encode` (256 KiB of float64 quotients)."""
_LIMIT = {"float32": float(2**31 - 1), "float64": float(2**53)}
_STORED_FOR = {np.dtype(name): stored for name, stored in STORED.items()}
""":data:`STORED` by dtype (``dtype.name`` costs a few µs: a single row decodes three
leaves)."""


@functools.lru_cache(maxsize=16)
def negative_zero(stored: Any) -> int:
    """The integer that stands for ``-0.0`` in a leaf of ``stored`` integers."""
    return int(np.iinfo(np.dtype(stored)).min)


def encode(values: np.ndarray, decimals: int) -> np.ndarray | None:
    """The integers of float ``values`` at ``decimals`` places, or None when one of them
    does not come back bit for bit.

    Whole-array NumPy over blocks of :data:`BLOCK` values (a Python step per block keeps
    the float64 temporaries in cache: 10M values in ~90 ms, against ~280 ms in one pass),
    stopping at the first block that does not scale."""
    logical = values.dtype.name
    if logical not in STORED or not 0 <= decimals <= MAX_DECIMALS:
        return None
    stored, limit, scale = STORED[logical], _LIMIT[logical], 10.0**decimals
    unsigned = np.dtype(f"u{values.dtype.itemsize}")
    q = np.empty(len(values), dtype=stored)
    tmp = np.empty(min(len(values), BLOCK), dtype=np.float64)
    back = np.empty(len(tmp), dtype=values.dtype)
    for i in range(0, len(values), BLOCK):
        part, n = values[i : i + BLOCK], min(BLOCK, len(values) - i)
        t = tmp[:n]
        with np.errstate(all="ignore"):
            np.multiply(part, scale, out=t, dtype=np.float64)
            np.rint(t, out=t)
            if not (t.min() >= -limit and t.max() <= limit):  # NaN compares False too
                return None
        ints = q[i : i + n]
        ints[...] = t
        np.divide(ints, scale, out=t, dtype=np.float64)
        back[:n] = t
        differ = back[:n].view(unsigned) != part.view(unsigned)
        if differ.any():  # only -0.0 may differ (it came back as 0.0)
            at = np.flatnonzero(differ)
            if not (np.all(part[at] == 0) and np.all(np.signbit(part[at]))):
                return None
            ints[at] = negative_zero(stored)
    return q


def decode(
    q: np.ndarray, decimals: int, logical: Any, *, threads: int = 1, inplace: bool = False
) -> np.ndarray:
    """The floats of scaled integers ``q`` (``logical``: float32 or float64).

    One compiled loop (:func:`._native.scaled_floats`: 10M int32 in 7 ms, where NumPy's
    divide and cast took 15) or, without the kernels, one ufunc call: the division runs in
    float64 (as :func:`encode` checked it) and NumPy's buffered cast writes float32
    results block by block in C, with the GIL released. A Python loop over blocks took
    the same 16 ms for 10M values alone, but 110 ms while the read pool's threads decoded
    other leaves (each block waited for the GIL). With ``threads`` > 1 (a leaf read
    alone), :data:`PARALLEL_VALUES` or more values are cut into that many parts, each one
    such call on its own thread. ``inplace``: the floats are written over ``q`` (a fresh
    array the caller owns: a whole leaf just read), with no second array of its size."""
    native = hasattr(_native.kernels, "scaled_floats") and q.dtype == _STORED_FOR.get(
        np.dtype(logical)
    )
    out: np.ndarray
    if inplace and native and q.flags.c_contiguous and q.flags.writeable:
        out = q.view(logical)
    else:
        out = np.empty(len(q), dtype=logical)
    if threads > 1 and len(q) >= PARALLEL_VALUES:
        cuts = np.linspace(0, len(q), threads + 1).astype(np.int64).tolist()
        with ThreadPoolExecutor(max_workers=threads) as pool:
            done = [
                pool.submit(_decode_into, q[a:b], decimals, out[a:b])
                for a, b in itertools.pairwise(cuts)
            ]
            for future in done:
                future.result()
    else:
        _decode_into(q, decimals, out)
    return out


PARALLEL_VALUES = 1 << 20
"""Values from which :func:`decode` with ``threads`` cuts its work into parts."""


def _decode_into(q: np.ndarray, decimals: int, out: np.ndarray) -> None:
    """:func:`decode` of ``q`` into ``out`` (of the same length; ``q``'s own memory only
    with the kernels). Without them, up to :data:`BLOCK` values (a row or a few) the
    quotients go through a float64 temporary: the same floats, in a third of the time of
    the buffered cast (~4 against ~12 us for 500)."""
    if q.dtype == _STORED_FOR.get(out.dtype) and _native.scaled_floats(q, 10.0**decimals, out):
        return
    if len(q) <= BLOCK:
        out[...] = np.divide(q, 10.0**decimals, dtype=np.float64)
    else:
        np.divide(q, 10.0**decimals, out=out, dtype=np.float64, casting="unsafe")
    if len(q):
        low = negative_zero(q.dtype)
        if int(q.min()) == low:
            out[q == low] = -0.0


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
