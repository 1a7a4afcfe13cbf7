"""The compiled kernels (``grumpy_arrow._kernels``, built from ``_kernels.c`` when a C
compiler is present), behind functions that answer None when they are not there.

Loops NumPy needs two or more passes (or a Python loop) for:

* :func:`take_ranges` and :func:`take_rows`: many ranges of a vector, concatenated (a
  ragged gather; one ``memcpy`` per range);
* :func:`segment_sum`: integer and bool segment sums in 64 bits, in one pass (NumPy's
  ``reduceat`` widens int32 through a buffered cast);
* :func:`compare_bits`: a comparison straight into an Arrow bitmap (NumPy writes a byte
  per value, then ``np.packbits`` packs them);
* :func:`int_rows`: list-of-lists of Python ints to offsets and values in one pass over
  the objects (Arrow's builders check types, then build);
* :func:`blosc_chunks`, :func:`blosc_files` and :func:`crc32c_rows`: a store's inner
  chunks read (``pread``), checked (crc32c) and Blosc-decoded in one loop per shard, or
  per leaf across its shard files, where Python took a few steps per chunk;
  :func:`blosc_encode` compresses, checksums and packs them in one loop for writes.

Every caller keeps its NumPy path for None: the package works, with the same results,
without the extension (a source install on a machine with no compiler), and
``GRUMPY_ARROW_NATIVE=0`` in the environment turns the kernels off for a process. The
kernels check every index, length and offset they are given before they touch memory and
release the GIL while they run. docs/architecture.md ("Compiled kernels") has the decision.
"""

from __future__ import annotations

import ctypes
import importlib
import os
from types import ModuleType
from typing import Any

import numpy as np

__all__ = [
    "COMPARE_OPS",
    "available",
    "blosc_chunks",
    "blosc_encode",
    "blosc_files",
    "compare_bits",
    "crc32c_rows",
    "int_rows",
    "segment_sum",
    "take_ranges",
    "take_rows",
]


def _load() -> ModuleType | None:
    if os.environ.get("GRUMPY_ARROW_NATIVE", "1").strip() in ("0", "off", "false", "no"):
        return None
    try:  # (by name: the package's layers stay above this module)
        return importlib.import_module("grumpy_arrow._kernels")
    except ImportError:
        return None


kernels: ModuleType | None = _load()
"""The extension module, or None (not built, or turned off); tests set it to None to run
the NumPy paths."""

COMPARE_OPS = {"equal": 0, "not_equal": 1, "less": 2, "less_equal": 3, "greater": 4}
COMPARE_OPS["greater_equal"] = 5
"""The comparisons :func:`compare_bits` makes, by NumPy ufunc name."""

_MIRROR = (0, 1, 4, 5, 2, 3)  # x < y is y > x, x <= y is y >= x
_COMPARABLE = frozenset("bBhHiIlLqQfd")  # int8..uint64, float32, float64 (NumPy chars)
_SUMMABLE = frozenset("?bBhHiIlLqQ")
_WIDTHS = {1: np.uint8, 2: np.uint16, 4: np.uint32, 8: np.uint64}


def available() -> bool:
    """Whether the compiled kernels are in use in this process."""
    return kernels is not None


def take_ranges(x: np.ndarray, starts: np.ndarray, lens: np.ndarray, total: int) -> Any:
    """``x[s : s + l]`` for every (start, length), concatenated into a new array of
    ``total`` values; None without the kernels or for a non-contiguous ``x``.

    ``starts`` and ``lens`` are int64. A range outside ``x`` raises ``IndexError``
    (checked before anything is copied)."""
    k, src = kernels, _copyable(x)
    if k is None or src is None:
        return None
    out = np.empty(total, dtype=x.dtype)
    copied = k.take_ranges(src, _int64(starts), _int64(lens), out.view(src.dtype))
    if copied != total:
        raise IndexError(f"take_ranges: the ranges hold {copied} values, expected {total}")
    return out


def take_rows(
    values: np.ndarray, offsets: np.ndarray, rows: np.ndarray
) -> tuple[np.ndarray, np.ndarray] | None:
    """Rows ``rows`` of a list array (row ``r`` is ``values[offsets[r] : offsets[r + 1]]``)
    as new offsets (from 0) and their values, copied one ``memcpy`` per row; None without
    the kernels or for values it cannot copy. Negative rows count from the end; a row
    outside the array raises ``IndexError``."""
    k, src = kernels, _copyable(values)
    if k is None or src is None:
        return None
    offsets, rows = _int64(offsets), _int64(rows)
    new = np.empty(len(rows) + 1, dtype=np.int64)
    total = k.take_rows(src, offsets, rows, new, None)
    out = np.empty(total, dtype=values.dtype)
    k.take_rows(src, offsets, rows, new, out.view(src.dtype))
    return new, out


def segment_sum(x: np.ndarray, offsets: np.ndarray) -> np.ndarray | None:
    """Sums of ``x[offsets[i] : offsets[i + 1]]`` in 64 bits (int64 for signed and bool
    values, uint64 for unsigned; wrapping as NumPy's sums do); None without the kernels
    or for other dtypes. Offsets outside ``x`` or decreasing raise ``ValueError``."""
    k = kernels
    if k is None or x.ndim != 1 or x.dtype.char not in _SUMMABLE or not x.flags.c_contiguous:
        return None
    out = np.empty(max(len(offsets) - 1, 0), dtype=np.uint64 if x.dtype.kind == "u" else np.int64)
    if len(offsets) == 0:
        return out
    k.segment_sum(x, _int64(offsets), out)
    return out


def compare_bits(x: np.ndarray, y: np.ndarray, op: str) -> np.ndarray | None:
    """``x <op> y`` as a little-endian bitmap (``(len(x) + 7) // 8`` bytes, the bits past
    ``len(x)`` zero), ``y`` of ``x``'s dtype with ``x``'s length or one value; None
    without the kernels or for dtypes they do not cover (bool, float16, objects)."""
    k = kernels
    code = COMPARE_OPS.get(op)
    if k is None or code is None or x.dtype.char not in _COMPARABLE or y.dtype != x.dtype:
        return None
    if x.ndim == 0 and y.ndim == 1:  # scalar <op> array: array <mirrored op> scalar
        x, y, code = y, x, _MIRROR[code]
    if x.ndim != 1 or y.ndim > 1 or not x.flags.c_contiguous:
        return None
    y = np.ascontiguousarray(y).reshape(-1)
    if len(y) != len(x) and len(y) != 1:
        return None
    out = np.empty((len(x) + 7) // 8, dtype=np.uint8)
    k.compare_bits(x, y, code, out)
    return out


def int_rows(rows: Any, dtype: np.dtype[Any]) -> tuple[np.ndarray, np.ndarray] | None:
    """A list (or tuple) of lists (or tuples) of Python ints as int64 offsets and values of
    the integer ``dtype``; None without the kernels, or when anything is not exactly that
    (a null, a bool, a float, a NumPy scalar, a deeper list, an int outside the dtype's
    range): the caller's general path builds those, and names what it cannot take."""
    k = kernels
    if k is None or dtype.kind not in "iu":
        return None
    built = k.int_rows(rows, dtype.itemsize, dtype.kind == "i")
    if built is None:
        return None
    offsets, values = built
    return np.frombuffer(offsets, dtype=np.int64), np.frombuffer(values, dtype=dtype)


def crc32c_rows(data: Any, width: int) -> np.ndarray | None:
    """The crc32c (as ``google_crc32c.value`` gives it) of every whole ``width``-byte row
    of the bytes ``data``, as uint32; None without the kernels."""
    k = kernels
    if k is None:
        return None
    out = np.empty(len(memoryview(data).cast("B")) // width, dtype=np.uint32)
    k.crc32c_rows(data, width, out)
    return out


def blosc_chunks(
    source: Any, offsets: np.ndarray, sizes: np.ndarray, out: np.ndarray, want: int, decode: Any
) -> np.ndarray | None:
    """Check and decode Blosc inner chunks (each a frame and its 4-byte crc32c) into
    consecutive ``want``-byte places of ``out``: chunk ``j`` is ``sizes[j]`` bytes at
    ``offsets[j]`` of ``source``, the bytes of a shard already read or the open file
    descriptor of one (read with ``pread``). ``decode`` is c-blosc's
    ``blosc_decompress_ctx`` as a ctypes function. Returns a flag per chunk (uint8): 1
    where the chunk was left alone because it lies outside ``source``, its read came back
    short, its checksum or header does not match, or c-blosc did not give exactly
    ``want`` bytes (the caller then says which and why); None without the kernels (or,
    for a file, without ``pread``). One loop with the GIL released."""
    k = kernels
    if k is None or (isinstance(source, int) and os.name != "posix"):
        return None
    address = _address_of(decode)
    if not address:
        return None
    bad = np.empty(len(offsets), dtype=np.uint8)
    k.blosc_chunks(source, _int64(offsets), _int64(sizes), out, want, address, bad)
    return bad


def blosc_files(
    fds: np.ndarray, offsets: np.ndarray, sizes: np.ndarray, out: np.ndarray, want: int, decode: Any
) -> np.ndarray | None:
    """As :func:`blosc_chunks`, chunk ``j`` read from the open file descriptor ``fds[j]``:
    the chunks of many shard files of a leaf in one call (the caller keeps them open).
    None without the kernels or without ``pread``."""
    k = kernels
    if k is None or os.name != "posix" or not hasattr(k, "blosc_files"):
        return None  # (no kernels, or an extension built from older source)
    address = _address_of(decode)
    if not address:
        return None
    bad = np.empty(len(offsets), dtype=np.uint8)
    k.blosc_files(_int64(fds), _int64(offsets), _int64(sizes), out, want, address, bad)
    return bad


def blosc_encode(
    rows: np.ndarray, clevel: int, shuffle: int, typesize: int, cname: str, encode: Any
) -> tuple[memoryview, np.ndarray] | None:
    """Each row of the 2-D uint8 ``rows`` (an inner chunk's bytes) compressed by c-blosc
    (``encode``: ``blosc_compress_ctx`` as a ctypes function) and followed by its crc32c,
    packed one after the other: ``(bytes, sizes)``, the inner chunks of a shard and each
    one's size with its checksum. None without the kernels (or an extension built from
    older source). Raises ValueError when c-blosc fails on a row. One loop with the GIL
    released."""
    k = kernels
    if k is None or not hasattr(k, "blosc_encode"):
        return None
    address = _address_of(encode)
    if not address:
        return None
    m, width = rows.shape
    out = np.empty(m * (width + 20), dtype=np.uint8)
    sizes = np.empty(m, dtype=np.int64)
    n = k.blosc_encode(rows, width, out, sizes, clevel, shuffle, typesize, cname, address)
    if n < 0:
        raise ValueError(f"c-blosc could not compress inner chunk {-1 - n} ({cname!r})")
    return out.data[:n], sizes


def scaled_floats(q: np.ndarray, scale: float, out: np.ndarray) -> bool:
    """``out[:] = q / scale`` for a decimal-scaled leaf's integers (int32 into float32,
    int64 into float64, one length; ``q``'s smallest integer gives ``-0.0``), divided in
    float64 and rounded to ``out``'s width, as NumPy's divide and cast give it. ``out``
    may be ``q``'s own memory (each value is read before its place is written). False
    without the kernels (or from an extension built from older source)."""
    k = kernels
    if k is None or not hasattr(k, "scaled_floats"):
        return False
    k.scaled_floats(q, scale, out)
    return True


def _copyable(x: np.ndarray) -> np.ndarray | None:
    """``x`` as the copy kernels take it: numbers as they are, other fixed-width items
    (datetimes...) as unsigned integers of their width; None for what they do not copy
    (objects, other widths, not one contiguous vector)."""
    if x.ndim != 1 or not x.flags.c_contiguous or x.dtype.hasobject:
        return None
    if x.dtype.itemsize not in _WIDTHS:
        return None
    return x if x.dtype.kind in "biuf" else x.view(_WIDTHS[x.dtype.itemsize])


_ADDRESSES: dict[int, tuple[Any, int]] = {}


def _address_of(function: Any) -> int:
    """The address of a ctypes function (worked out once per function: a single row's
    read calls the Blosc loops a few times, and ``ctypes.cast`` costs ~2 us each time).
    The function is kept with its address, so its id cannot be reused."""
    found = _ADDRESSES.get(id(function))
    if found is None or found[0] is not function:
        address = ctypes.cast(function, ctypes.c_void_p).value or 0
        found = _ADDRESSES[id(function)] = (function, address)
    return found[1]


def _int64(a: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(a, dtype=np.int64)
