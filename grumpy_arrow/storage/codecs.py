"""Per-column codecs: each row of a column is stored as the bytes its codec encodes, and
decoded again when it is read (``gr.save(..., codecs={"image": "png"})``).

A codec is a name, an ``encode`` and a ``decode``, and a kind:

- ``"array"`` codecs encode one ``numpy.ndarray`` per row (an image, a spectrum) and
  decode back to one; the rows come back as one axis per array axis, of the decoded
  arrays' dtype, fixed where every row has the same length (``n * 60 * 80 * 3 * uint8``
  for colour images of one size, ``n * var * var * 3 * uint8`` for sizes that vary);
- ``"object"`` codecs encode the row's Python value (numbers, strings, lists of them)
  and decode back to such a value.

Built in: ``png`` and ``jpeg`` (Pillow, the ``codecs`` extra; JPEG is lossy), ``npy`` (any
array, bit for bit; never pickles), ``json`` and ``msgpack`` (the ``codecs`` extra). Stores
record codecs by name only: a store naming a codec this process has not registered opens
with an error saying how to register it. Nothing is ever pickled.

Examples
--------
>>> import zlib
>>> import grumpy_arrow as gr
>>> codec = gr.codecs.register("zlib-text", encode=lambda s: zlib.compress(s.encode()),
...                            decode=lambda b: zlib.decompress(b).decode())
>>> "zlib-text" in gr.codecs.names(), codec.kind
(True, 'object')
"""

from __future__ import annotations

import io
import json
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, cast

import numpy as np
import pyarrow as pa

from grumpy_arrow import layout as lay
from grumpy_arrow._optional import require
from grumpy_arrow.array import GrumpyArray
from grumpy_arrow.compute.gather import offsets_from_lengths
from grumpy_arrow.errors import SchemaError, StoreFormatError
from grumpy_arrow.frame.dataframe import DataFrame
from grumpy_arrow.functions import array as build

__all__ = [
    "Codec",
    "arrays_column",
    "check_codecs",
    "decode_column",
    "decode_columns",
    "encode_batch",
    "encode_column",
    "get",
    "names",
    "register",
]

KINDS = ("array", "object")


@dataclass(frozen=True)
class Codec:
    """A registered codec (see the module docstring)."""

    name: str
    encode: Callable[[Any], bytes]
    decode: Callable[[bytes], Any]
    kind: str = "object"


_LOCK = threading.Lock()
_REGISTRY: dict[str, Codec] = {}


def register(
    name: str,
    *,
    encode: Callable[[Any], bytes],
    decode: Callable[[bytes], Any],
    kind: str = "object",
    replace: bool = False,
) -> Codec:
    """Register a codec under ``name`` for this process.

    Parameters
    ----------
    name : str
        What stores record (letters, digits, ``-``, ``_`` and ``.``).
    encode : callable
        One row's value -> ``bytes`` (an ``numpy.ndarray`` for ``kind="array"``, the
        row's Python value for ``kind="object"``).
    decode : callable
        ``bytes`` -> the row's value.
    kind : {"object", "array"}
        What ``encode`` takes and ``decode`` gives (see the module docstring).
    replace : bool
        Replace a codec registered under that name (built-ins included).

    Returns
    -------
    Codec

    Raises
    ------
    ValueError
        For a bad name or kind, or a name taken (without ``replace=True``).
    TypeError
        When ``encode`` or ``decode`` is not callable.
    """
    if not isinstance(name, str) or not name or not all(c.isalnum() or c in "-_." for c in name):
        raise ValueError(f"a codec name is letters, digits, '-', '_' and '.', got {name!r}")
    if kind not in KINDS:
        raise ValueError(f"kind must be 'object' or 'array', got {kind!r}")
    for what, fn in (("encode", encode), ("decode", decode)):
        if not callable(fn):
            raise TypeError(f"{what} must be callable, got {fn!r}")
    codec = Codec(name, encode, decode, kind)
    with _LOCK:
        if name in _REGISTRY and not replace:
            raise ValueError(
                f"a codec {name!r} is registered already; pass replace=True to replace it"
            )
        _REGISTRY[name] = codec
    return codec


def names() -> list[str]:
    """The registered codec names, sorted."""
    with _LOCK:
        return sorted(_REGISTRY)


def get(name: str, where: str = "", column: str = "") -> Codec:
    """The codec registered as ``name``.

    Raises
    ------
    StoreFormatError
        When no codec of that name is registered (``where``/``column`` name the store
        and the column that record it), saying how to register one.
    """
    with _LOCK:
        found = _REGISTRY.get(name)
    if found is None:
        place = f"{where}: column {column!r} is stored with codec" if where else "codec"
        raise StoreFormatError(
            f"{place} {name!r}, which this process has not registered (registered: "
            f"{', '.join(names())}); register it before opening the store with "
            f"gr.codecs.register({name!r}, encode=..., decode=...)"
        )
    return found


# -- columns --------------------------------------------------------------------------------


def encode_column(column: GrumpyArray, codec: Codec, where: str) -> GrumpyArray:
    """Each row of ``column`` encoded to bytes (a ``large_binary`` column; null rows stay
    null).

    A step per row: a codec encodes one row's value at a time (an image, a document),
    which is what it is for.

    Raises
    ------
    SchemaError
        For a column of records (a codec encodes values; store records as they are).
    """
    if column.fields:
        raise SchemaError(
            f"{where}: codec {codec.name!r} cannot encode records (fields "
            f"{', '.join(column.fields)}); save the column without a codec (stores hold "
            "records) or give a codec to one of its fields as a column of its own"
        )
    if codec.kind == "array":
        values: list[Any] = [None if v is None else np.asarray(v) for v in _rows(column)]
    else:
        values = column.to_list()
    out: list[bytes | None] = []
    for i, value in enumerate(values):
        if value is None:
            out.append(None)
            continue
        try:
            data = codec.encode(value)
        except Exception as err:
            err.add_note(f"{where}: codec {codec.name!r} could not encode row {i}")
            raise
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise TypeError(
                f"{where}: codec {codec.name!r} encoded row {i} to a "
                f"{type(data).__name__}; encode must return bytes"
            )
        out.append(bytes(data))
    return GrumpyArray._wrap(lay.Leaf(pa.array(out, type=pa.large_binary())))


def _rows(column: GrumpyArray) -> list[Any]:
    """The rows of ``column``: NumPy arrays of rectangular list rows, the values of a flat
    column; None for null rows."""
    if column.ndim == 1:
        return column.to_list()
    valid = column.to_arrow().is_valid().to_numpy(zero_copy_only=False)
    return [column[i].to_numpy() if valid[i] else None for i in range(len(column))]


def decode_column(column: GrumpyArray, codec: Codec, where: str, name: str) -> GrumpyArray:
    """The rows of a ``large_binary`` column decoded by ``codec``.

    A step per row, as :func:`encode_column`; ``"array"`` rows are then assembled into
    nested lists with NumPy (offsets from the arrays' shapes, values concatenated once).
    """
    raw = column.to_arrow()
    blobs = raw.to_pylist()
    decoded: list[Any] = []
    for i, blob in enumerate(blobs):
        if blob is None:
            decoded.append(None)
            continue
        try:
            decoded.append(codec.decode(blob))
        except Exception as err:
            raise StoreFormatError(
                f"{where}: column {name!r}, row {i} of the rows read: codec {codec.name!r} "
                f"could not decode its {len(blob)} bytes ({type(err).__name__}: {err})"
            ) from err
    if codec.kind == "array":
        return arrays_column(decoded, where, name)
    return build(decoded)


def arrays_column(arrays: list[Any], where: str = "", name: str = "") -> GrumpyArray:
    """A column of NumPy arrays of one ndim and dtype (None: a null row): one list level
    per axis, fixed where every row has the same length (images of one shape are
    ``n * 60 * 80 * 3 * uint8``), the values of all rows in one buffer (a step per row
    reads its shape and dtype; offsets and values are whole-array NumPy).

    Raises
    ------
    StoreFormatError
        When the rows differ in ndim or dtype (naming the first that does).
    """
    rows = [None if a is None else np.asarray(a) for a in arrays]
    given = [a for a in rows if a is not None]
    if not given:
        return GrumpyArray._wrap(lay.Leaf(pa.nulls(len(rows), pa.float64())))
    ndim, dtype = given[0].ndim, given[0].dtype
    for i, a in enumerate(rows):
        if a is not None and (a.ndim != ndim or a.dtype != dtype):
            raise StoreFormatError(
                f"{where}: column {name!r}, row {i}: decoded to a {a.dtype} array of {a.ndim} "
                f"dims; row 0 gave {dtype}, {ndim} dims (a column holds one kind)"
            )
    valid = np.array([a is not None for a in rows])
    values = np.concatenate([a.reshape(-1) for a in given])
    if ndim == 0:  # one value a row: nulls where a row is None
        out = np.zeros(len(rows), dtype=values.dtype)
        out[valid] = values
        return GrumpyArray._wrap(lay.Leaf(pa.array(out, mask=~valid)))
    shapes = np.array(
        [(0,) * ndim if a is None else a.shape for a in rows], dtype=np.int64
    ).reshape(len(rows), ndim)
    node: lay.Node = lay.Leaf(pa.array(values))
    top = None if valid.all() else valid
    # Innermost axis first: list k (of axis d) holds shape[d] entries of the axis below.
    # An axis whose length is the same in every row is a fixed axis.
    for d in range(ndim - 1, -1, -1):
        outer = np.prod(shapes[:, :d], axis=1)  # lists of axis d in each row
        lengths = np.repeat(shapes[:, d], outer)
        first = int(shapes[valid][0, d])
        size = first if first > 0 and np.all(shapes[valid, d] == first) else None
        node = lay.ListNode(offsets_from_lengths(lengths), top if d == 0 else None, node, size)
    return GrumpyArray._wrap(node)


# -- built-ins --------------------------------------------------------------------------------


def _npy_encode(a: np.ndarray) -> bytes:
    if a.dtype == object:
        raise TypeError("npy stores numeric arrays; this row holds Python objects")
    buf = io.BytesIO()
    np.save(buf, a, allow_pickle=False)
    return buf.getvalue()


def _npy_decode(b: bytes) -> np.ndarray:
    return cast("np.ndarray", np.load(io.BytesIO(b), allow_pickle=False))


def _pil() -> Any:
    return require(
        "PIL.Image", what="the png/jpeg codec", install="'grumpy_arrow[codecs]'", package="Pillow"
    )


def _image_encoder(fmt: str, **options: Any) -> Callable[[np.ndarray], bytes]:
    def encode(a: np.ndarray) -> bytes:
        if (
            a.dtype != np.uint8
            or a.ndim not in (2, 3)
            or (a.ndim == 3 and a.shape[2] not in (1, 3, 4))
        ):
            raise ValueError(
                f"{fmt} encodes uint8 images of shape (h, w) or (h, w, 1|3|4); got "
                f"{a.dtype} {a.shape}"
            )
        image = _pil().fromarray(a[:, :, 0] if a.ndim == 3 and a.shape[2] == 1 else a)
        buf = io.BytesIO()
        image.save(buf, format=fmt, **options)
        return buf.getvalue()

    return encode


def _image_decode(b: bytes) -> np.ndarray:
    with _pil().open(io.BytesIO(b)) as image:
        return np.asarray(image)


def _msgpack() -> Any:
    return require("msgpack", what="the msgpack codec", install="'grumpy_arrow[codecs]'")


def _json_encode(v: Any) -> bytes:
    return json.dumps(v, separators=(",", ":"), allow_nan=True).encode()


register("npy", encode=_npy_encode, decode=_npy_decode, kind="array")
register("png", encode=_image_encoder("PNG"), decode=_image_decode, kind="array")
register("jpeg", encode=_image_encoder("JPEG", quality=95), decode=_image_decode, kind="array")
register("json", encode=_json_encode, decode=json.loads)
register(
    "msgpack",
    encode=lambda v: _msgpack().packb(v),
    decode=lambda b: _msgpack().unpackb(b, strict_map_key=False),
)


# -- frames and stores ------------------------------------------------------------------------


def check_codecs(obj: Any, codecs: Any, where: str) -> dict[str, str]:
    """The ``codecs=`` option of a save, checked against the data: ``{column: codec}``
    naming top-level columns of a frame (``"array"`` for an array) and registered codecs.

    Raises
    ------
    TypeError
        For a mapping that is not ``{str: str}``.
    ValueError
        For a column the data does not have, or one below the top level.
    StoreFormatError
        For a codec this process has not registered.
    """
    if codecs is None:
        return {}
    if not isinstance(codecs, dict):
        raise TypeError(f"codecs must be a dict {{column: codec name}}, got {codecs!r}")
    columns = obj.columns if isinstance(obj, DataFrame) else ["array"]
    schema = obj.schema if isinstance(obj, DataFrame) else None
    for column, name in codecs.items():
        if not isinstance(column, str) or not isinstance(name, str):
            raise TypeError(
                f"codecs maps column names to codec names (strings), got {column!r}: {name!r}"
            )
        if column not in columns:
            raise ValueError(
                f"codecs names a column {column!r}; the data's columns are {', '.join(columns)}"
            )
        if schema is not None and schema.level_of(column) != 0:
            raise ValueError(
                f"codecs encode whole rows: column {column!r} is at level "
                f"{schema.levels[schema.level_of(column)].name!r}, below the top level"
            )
        get(name, where, column)
    return dict(codecs)


def encode_batch(obj: Any, codecs: dict[str, str], where: str) -> Any:
    """A frame (or array) with the columns named in ``codecs`` encoded (the others as
    they are)."""
    if not codecs:
        return obj
    if not isinstance(obj, DataFrame):
        return encode_column(obj, get(codecs["array"], where, "array"), f"{where}: the array")
    columns = {name: obj[name] for name in obj.columns}
    for name, codec in codecs.items():
        columns[name] = encode_column(
            columns[name], get(codec, where, name), f"{where}: column {name!r}"
        )
    return DataFrame(columns, obj.schema, len(obj))


def decode_columns(
    columns: dict[str, GrumpyArray], codecs: dict[str, Codec], where: str
) -> dict[str, GrumpyArray]:
    """``columns`` with those stored with a codec decoded (a new dict when any is)."""
    if not codecs or not any(name in codecs for name in columns):
        return columns
    return {
        name: decode_column(col, codecs[name], where, name) if name in codecs else col
        for name, col in columns.items()
    }
