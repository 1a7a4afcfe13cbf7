"""Dictionary-encoded string and binary leaves.

A string (or binary) leaf node of a store may hold its values as an ``indices`` leaf
(``int32``, one per row) into a **dictionary**: its ``offsets`` and ``data`` leaves then
hold the distinct values (each once, in order of first appearance) instead of one entry
per row. Low-cardinality text — element symbols, residue names — then costs about a byte
per row compressed, where offsets alone cost eight. The dictionary only grows: an append
adds the values it has not seen, so committed indices never change.

A new store encodes a string leaf this way when its first batch has at least
:data:`MIN_ROWS` values and at most one distinct value in :data:`MAX_DISTINCT_RATIO`
(``dictionary=True`` always, ``False`` never). Readers give back plain strings.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from grumpy_arrow.storage import checks as ck

__all__ = ["MAX_DISTINCT_RATIO", "MIN_ROWS", "decode", "encode", "encoded", "worth_it"]

MIN_ROWS = 256
MAX_DISTINCT_RATIO = 4  # at most one distinct value per this many rows
INDEX_DTYPE = np.dtype(np.int32)


def strings(offsets: np.ndarray, data: np.ndarray, binary: bool) -> pa.Array:
    """A ``large_string`` (or ``large_binary``) array over checked offsets and data."""
    typ = pa.large_binary() if binary else pa.large_string()
    return pa.Array.from_buffers(
        typ,
        len(offsets) - 1,
        [
            None,
            pa.py_buffer(np.ascontiguousarray(offsets, np.int64)),
            pa.py_buffer(np.ascontiguousarray(data)),
        ],
    )


def worth_it(offsets: np.ndarray, data: np.ndarray, binary: bool, option: Any) -> bool:
    """Whether a new string leaf is dictionary-encoded (``option``: True, False or None
    for the rule of the module docs)."""
    if option is not None:
        return bool(option)
    rows = len(offsets) - 1
    if rows < MIN_ROWS:
        return False
    distinct = pc.count_distinct(strings(offsets, data, binary)).as_py()
    return bool(distinct * MAX_DISTINCT_RATIO <= rows)


def encode(
    offsets: np.ndarray, data: np.ndarray, binary: bool, known: pa.Array | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(indices, new_offsets, new_data)`` of a batch's values against the dictionary
    ``known`` so far: the indices of every value, and the values it adds (offsets from 0),
    in order of first appearance. Whole-array Arrow work: one ``index_in`` and one
    ``unique`` per batch."""
    values = strings(offsets, data, binary)
    if known is None or len(known) == 0:
        fresh = pc.unique(values)
        indices = pc.index_in(values, value_set=fresh).to_numpy(zero_copy_only=False)
        return _pieces(indices, fresh)
    found = pc.index_in(values, value_set=known)
    missing = pc.is_null(found)
    if not pc.any(missing).as_py():
        return found.to_numpy(zero_copy_only=False).astype(INDEX_DTYPE), *_empty()
    fresh = pc.unique(pc.filter(values, missing))
    extra = pc.index_in(values, value_set=fresh)
    indices = pc.if_else(missing, pc.add(extra, len(known)), found)
    return _pieces(indices.to_numpy(zero_copy_only=False), fresh)


def _pieces(indices: np.ndarray, fresh: pa.Array) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    fresh = fresh.cast(pa.large_binary())
    bufs = fresh.buffers()
    raw = np.frombuffer(bufs[1], dtype=np.int64)[fresh.offset : fresh.offset + len(fresh) + 1]
    start, stop = int(raw[0]), int(raw[-1])
    data = np.frombuffer(bufs[2], np.uint8)[start:stop] if bufs[2] else np.zeros(0, np.uint8)
    return indices.astype(INDEX_DTYPE), raw - start, data


def _empty() -> tuple[np.ndarray, np.ndarray]:
    return np.zeros(1, dtype=np.int64), np.zeros(0, dtype=np.uint8)


def decode(
    indices: np.ndarray,
    dictionary: pa.Array,
    validity: np.ndarray | None,
    where: str,
    leaf: str,
    locate: ck.Locate = ck._same,
) -> pa.Array:
    """The values at ``indices`` (checked to lie inside the dictionary; ``locate`` maps a
    position to the leaf's) as a ``pa.DictionaryArray`` (int32 indices) over
    ``dictionary``, null where ``validity`` is false: the strings are not copied out
    (a take of 16K short strings costs about 130 us; the dictionary array 15)."""
    ck.check_indices(indices, len(dictionary), where, leaf, locate)
    return encoded(indices, dictionary, validity)


def encoded(indices: np.ndarray, dictionary: pa.Array, validity: np.ndarray | None) -> pa.Array:
    """:func:`decode` of indices already checked to lie inside the dictionary (those of
    a resident leaf, checked whole once)."""
    indices = np.ascontiguousarray(indices, dtype=np.int32)
    if validity is None:  # no nulls: the indices are the codes' data buffer as they are
        codes = pa.Array.from_buffers(pa.int32(), len(indices), [None, pa.py_buffer(indices)])
    else:
        codes = pa.array(indices, mask=~np.asarray(validity, dtype=bool))
    return pa.DictionaryArray.from_arrays(codes, dictionary, safe=False)
