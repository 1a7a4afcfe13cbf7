"""Text and binary elements of saver batches: variable-length strings as offsets + bytes.

In a :class:`~grumpy_arrow.savers.batch.Batch`, strings are NumPy ``object`` arrays of
Python ``str`` (dtype :data:`TEXT`) or ``bytes`` (:data:`BINARY`); ``TEXT`` and ``BINARY``
are NumPy's unsized ``"U"`` and ``"S"`` dtypes, which no array of fixed-width strings has,
so a stored dataset's dtype says "strings of any length". Zarr and HDF5 store them as Arrow
does: ``value_offsets`` (``strings + 1`` int64 from 0) and ``data`` (uint8): string ``j``
is ``data[value_offsets[j]:value_offsets[j + 1]]``, UTF-8 for text. A ``.npy`` file has
fixed-width strings only (``<U5``): :func:`fixed_width` makes them, :func:`fit_strings`
refuses strings longer than a stored width instead of cutting them.

Conversions go through pyarrow (C loops over whole buffers); only a batch inferred as
bytes is checked element by element, because pyarrow would take ``str`` into a binary
array (as UTF-8) and the round trip would give ``bytes`` back.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from grumpy_arrow.errors import SchemaError, StoreFormatError

if TYPE_CHECKING:
    from collections.abc import Callable

    from grumpy_arrow.savers.batch import Batch, Info

__all__ = [
    "BINARY",
    "TEXT",
    "append",
    "decode",
    "element_size",
    "describe",
    "encode",
    "fit_strings",
    "fixed_width",
    "from_name",
    "is_strings",
    "is_variable",
    "name_of",
    "parse_strings",
    "splice",
    "to_arrow",
]


def element_size(shape: tuple[int, ...]) -> int:
    """Strings in one element of shape ``shape``."""
    return int(np.prod(shape, dtype=np.int64))


def append(
    node: Any, batch: Batch, info: Info, put: Callable[[Any, int, np.ndarray], None]
) -> None:
    """Append a batch's strings to a saver's string group ``node`` (``data``,
    ``value_offsets`` and, for ragged rows, ``offsets``) after the committed rows, in the
    savers' crash order: bytes first, then their ``value_offsets``, then the row
    ``offsets``. ``put(array, start, values)`` writes and ends an array (Zarr or HDF5)."""
    elements = int(node["offsets"][info.rows]) if info.ragged else info.rows
    first = elements * element_size(info.shape)
    base = int(node["value_offsets"][first])
    value_offsets, data = batch.strings
    put(node["data"], base, data)
    put(node["value_offsets"], first + 1, value_offsets[1:] + base)
    if batch.offsets is not None:
        put(node["offsets"], info.rows + 1, batch.offsets[1:] + elements)


TEXT = np.dtype("U")  # str of any length (values: object arrays of str)
BINARY = np.dtype("S")  # bytes of any length (values: object arrays of bytes)
_NAMES: dict[str, np.dtype[Any]] = {"text": TEXT, "binary": BINARY}


def is_strings(dtype: np.dtype[Any]) -> bool:
    """Whether ``dtype`` holds strings (fixed-width or of any length)."""
    return dtype.kind in "US"


def is_variable(dtype: np.dtype[Any]) -> bool:
    """Whether ``dtype`` is :data:`TEXT` or :data:`BINARY` (strings of any length).

    Examples
    --------
    >>> import numpy as np
    >>> from grumpy_arrow.savers.text import TEXT, is_variable
    >>> is_variable(TEXT), is_variable(np.dtype("<U5")), is_variable(np.dtype("int64"))
    (True, False, False)
    """
    return dtype.kind in "US" and dtype.itemsize == 0


def name_of(dtype: np.dtype[Any]) -> str:
    """``"text"`` or ``"binary"``: how a stored dataset names :data:`TEXT` / :data:`BINARY`."""
    return "text" if dtype.kind == "U" else "binary"


def from_name(name: Any, where: str) -> np.dtype[Any]:
    """The dtype a stored ``"text"`` / ``"binary"`` attribute names.

    Raises
    ------
    StoreFormatError
        For any other name (a damaged or foreign attribute).
    """
    if isinstance(name, bytes):
        name = name.decode()
    if name not in _NAMES:
        raise StoreFormatError(
            f"{where}: expected the element kind 'text' or 'binary'; got {name!r}"
        )
    return _NAMES[str(name)]


def describe(dtype: np.dtype[Any]) -> str:
    """A dtype in words, for messages (``"text (str of any length)"``, ``"<U5 text ..."``)."""
    if not is_strings(dtype):
        return str(dtype)
    word = "text" if dtype.kind == "U" else "bytes"
    if is_variable(dtype):
        return f"{word} ({'str' if dtype.kind == 'U' else 'bytes'} of any length)"
    unit = "characters" if dtype.kind == "U" else "bytes"
    return f"{word} of at most {_width(dtype)} {unit} ({dtype.str})"


def _width(dtype: np.dtype[Any]) -> int:
    return dtype.itemsize // 4 if dtype.kind == "U" else dtype.itemsize


def _arrow_type(dtype: np.dtype[Any]) -> pa.DataType:
    return pa.large_string() if dtype.kind == "U" else pa.large_binary()


def parse_strings(values: np.ndarray) -> tuple[np.ndarray, np.dtype[Any]]:
    """Strings of a batch as an ``object`` array and :data:`TEXT` or :data:`BINARY`.

    Fixed-width NumPy strings (``<U5``, ``|S3``) become objects; an ``object`` array must
    hold only ``str`` or only ``bytes``, without ``None``.

    Raises
    ------
    SchemaError
        For nulls, other objects, or ``str`` mixed with ``bytes``.

    Examples
    --------
    >>> import numpy as np
    >>> from grumpy_arrow.savers.text import parse_strings
    >>> values, dtype = parse_strings(np.array(["a", "héllo"]))
    >>> values.dtype, dtype, values.tolist()
    (dtype('O'), dtype('<U'), ['a', 'héllo'])
    """
    if values.dtype.kind in "US":
        return values.astype(object), TEXT if values.dtype.kind == "U" else BINARY
    flat = values.reshape(-1)
    try:
        arr = pa.array(flat, from_pandas=False)
    except (pa.ArrowInvalid, pa.ArrowTypeError) as err:
        raise SchemaError(
            "expected numbers, str or bytes of one kind; got objects that Arrow cannot "
            f"type ({err}); use GrumpySaver for mixed values"
        ) from err
    if arr.null_count:
        raise SchemaError(
            f"expected strings without nulls; got {arr.null_count} None value(s) "
            "(use GrumpySaver for nulls)"
        )
    if pa.types.is_string(arr.type) or (len(arr) == 0 and arr.type == pa.null()):
        return values, TEXT
    # pyarrow takes str into a binary array (as UTF-8): check the elements (see module notes)
    if pa.types.is_binary(arr.type) and all(isinstance(v, bytes) for v in flat):
        return values, BINARY
    found = "str mixed with bytes" if pa.types.is_binary(arr.type) else f"Arrow type {arr.type}"
    raise SchemaError(
        f"expected numbers, or strings of one kind (str or bytes); got {found} "
        "(use GrumpySaver for mixed values)"
    )


def encode(values: np.ndarray, dtype: np.dtype[Any]) -> tuple[np.ndarray, np.ndarray]:
    """``value_offsets`` (int64 from 0) and ``data`` (uint8) of strings, in C order.

    Examples
    --------
    >>> import numpy as np
    >>> from grumpy_arrow.savers.text import TEXT, encode
    >>> offsets, data = encode(np.array(["a", "", "é"], dtype=object), TEXT)
    >>> offsets.tolist(), data.tobytes()
    ([0, 1, 1, 3], b'a\\xc3\\xa9')
    """
    arr = pa.array(values.reshape(-1), type=_arrow_type(dtype), from_pandas=False)
    bufs = arr.buffers()
    offsets = np.frombuffer(bufs[1], dtype=np.int64)[arr.offset : arr.offset + len(arr) + 1]
    start, stop = int(offsets[0]), int(offsets[-1])
    data = np.frombuffer(bufs[2], np.uint8)[start:stop] if bufs[2] else np.zeros(0, np.uint8)
    return offsets - start, data


def to_arrow(
    value_offsets: np.ndarray, data: np.ndarray, dtype: np.dtype[Any], where: str = "strings"
) -> pa.Array:
    """The strings of ``value_offsets`` + ``data`` as one flat Arrow array.

    Raises
    ------
    StoreFormatError
        When text bytes are not valid UTF-8 (or offsets do not fit the data): a damaged store.
    """
    offsets = np.ascontiguousarray(value_offsets, dtype=np.int64)
    offsets = offsets - offsets[0] if len(offsets) and offsets[0] else offsets
    buffers = [None, pa.py_buffer(offsets), pa.py_buffer(np.ascontiguousarray(data, np.uint8))]
    arr = pa.Array.from_buffers(_arrow_type(dtype), len(offsets) - 1, buffers)
    try:
        arr.validate(full=True)
    except pa.ArrowInvalid as err:
        raise StoreFormatError(
            f"{where}: expected valid {name_of(dtype)} strings; got {err}"
        ) from err
    return arr


def decode(
    value_offsets: np.ndarray,
    data: np.ndarray,
    dtype: np.dtype[Any],
    shape: tuple[int, ...],
    where: str = "strings",
    *,
    count: int | None = None,
) -> np.ndarray:
    """Strings of ``value_offsets`` + ``data`` as an ``object`` array ``(n, *shape)``.

    ``count`` is ``n``, the number of elements (needed when ``shape`` holds no string).

    Examples
    --------
    >>> import numpy as np
    >>> from grumpy_arrow.savers.text import TEXT, decode
    >>> decode(np.array([0, 1, 1, 3]), np.frombuffer("aé".encode(), np.uint8), TEXT, ()).tolist()
    ['a', '', 'é']
    """
    flat: np.ndarray = to_arrow(value_offsets, data, dtype, where).to_numpy(zero_copy_only=False)
    if not shape:
        return flat
    if count is None:
        size = int(np.prod(shape, dtype=np.int64))
        count = len(flat) // size if size else 0
    return flat.reshape((count, *shape))


def fixed_width(values: np.ndarray, dtype: np.dtype[Any]) -> np.ndarray:
    """Strings as NumPy's fixed-width ``<U{n}`` / ``|S{n}`` (n: the longest, at least 1)."""
    width = max(1, _longest(values, dtype))
    return values.astype(f"{dtype.kind}{width}")


def _longest(values: np.ndarray, dtype: np.dtype[Any]) -> int:
    if not values.size:
        return 0
    arr = pa.array(values.reshape(-1), type=_arrow_type(dtype), from_pandas=False)
    lengths = pc.utf8_length(arr) if dtype.kind == "U" else pc.binary_length(arr)
    return int(pc.max(lengths).as_py())


def fit_strings(batch: Batch, stored: np.dtype[Any], where: str) -> Batch:
    """A string batch in the stored string dtype, or a SchemaError saying why not.

    Strings of any length fit :data:`TEXT` / :data:`BINARY`; a fixed width ``<U5`` takes
    strings of at most 5 characters (NumPy would cut longer ones).
    """
    if batch.dtype.kind != stored.kind:
        raise SchemaError(
            f"{where}: the dataset holds {describe(stored)}; the batch is {describe(batch.dtype)}"
        )
    if is_variable(stored):
        return batch
    longest = _longest(batch.values, batch.dtype)
    if longest > _width(stored):
        unit = "characters" if stored.kind == "U" else "bytes"
        raise SchemaError(
            f"{where}: the dataset holds {describe(stored)}; the batch has a string of "
            f"{longest} {unit}. Fixed-width strings cannot grow: rewrite the dataset with "
            "approach 'overwrite', or use ZarrSaver or HDF5Saver (strings of any length)"
        )
    return dataclasses.replace(batch, values=batch.values.astype(stored), dtype=stored)


def splice(
    value_offsets: np.ndarray,
    data: np.ndarray,
    positions: np.ndarray,
    values: np.ndarray,
    dtype: np.dtype[Any],
    where: str = "strings",
) -> tuple[np.ndarray, np.ndarray]:
    """Stored strings with those at ``positions`` replaced by ``values``.

    ``value_offsets`` and ``data`` are a stored tail (``value_offsets`` may start past 0:
    the new offsets start at the same value); ``positions`` count from the tail's first
    string. Returns the new ``value_offsets`` (same length) and ``data``.

    Examples
    --------
    >>> import numpy as np
    >>> from grumpy_arrow.savers.text import TEXT, splice
    >>> offsets, data = splice(np.array([4, 5, 7]), np.frombuffer(b"abc", np.uint8),
    ...                        np.array([0]), np.array(["xyz"], dtype=object), TEXT)
    >>> offsets.tolist(), data.tobytes()
    ([4, 7, 9], b'xyzbc')
    """
    strings = decode(value_offsets, data, dtype, (), where)
    strings[positions] = values
    offsets, out = encode(strings, dtype)
    return offsets + int(value_offsets[0]), out
