"""The leaf format of version-2 stores: 1-D Zarr v3 arrays with the sharding codec.

A leaf's values are cut into **inner chunks** of ``chunk`` elements (32 KiB of raw values,
4 KiB of compressed ones by default), each encoded on its own (raw bytes, or zstd /
blosc) and followed by its crc32c checksum; the inner chunks of ``shard`` consecutive
elements live in one **shard file**
``<leaf>/c/<k>``, which ends with the shard index (``(offset, nbytes)`` per inner chunk,
little-endian uint64, then the index's own crc32c). That is Zarr v3's
``sharding_indexed`` codec exactly, so any Zarr v3 reader opens every leaf.

This module is the format only — metadata documents, encoding and decoding of inner
chunks and shard indexes, all checked — with no file I/O; :mod:`.local` reads and writes
shard files with it, :mod:`.zarr` routes everything else through zarr-python.

Uncompressed (``raw``) shards are written **regular**: inner chunk ``j`` starts at byte
``j * (chunk_bytes + 8)`` (its values, its checksum, four bytes of padding so every chunk
starts 8-byte aligned), so a reader can map a shard and gather values without reading the
index entry of every chunk. A reader checks that an index is regular before relying on it.
"""

from __future__ import annotations

import ctypes
import functools
import struct
import threading
from dataclasses import dataclass
from typing import Any

import google_crc32c
import numpy as np
import zstandard
from numcodecs import blosc

from grumpy_arrow import _native
from grumpy_arrow.errors import StoreFormatError

__all__ = [
    "CODECS",
    "BITSHUFFLE",
    "SCALED_INNER_BYTES",
    "SMALL_FIRST",
    "WIDE_FIRST",
    "EMPTY",
    "INNER_BYTES",
    "SHARD_BYTES",
    "LeafFormat",
    "crc",
    "decode_chunk",
    "encode_chunk",
    "encode_index",
    "leaf_doc",
    "parse_index",
    "parse_leaf_doc",
    "plan_format",
]

INNER_BYTES = {"raw": 32 * 1024, "zstd": 4 * 1024, "blosc": 4 * 1024, "bitshuffle": 4 * 1024}
"""Values per inner chunk (bytes) by codec: a random row decodes whole inner chunks, so
compressed ones are small (see docs/performance.md)."""
SHARD_CHUNKS = 128  # inner chunks per shard file: an index of 2 KiB
MAX_PER_SHARD = 1024  # inner chunks per shard at most (``chunk_size=`` alone: 16 KiB index)
SHARD_BYTES = 4 * 1024 * 1024  # values per shard file at most when ``chunk_size=`` is given
WIDE_FIRST = 8 * 1024 * 1024
"""Bytes of values in a compressed leaf's first batch from which its shard files hold
:data:`SHARD_BYTES` of values (see :func:`plan_format`)."""
SMALL_FIRST = 256 * 1024
"""Bytes of values in a compressed leaf's first batch below which its shard files hold
half of :data:`SHARD_CHUNKS` inner chunks (see :func:`plan_format`)."""
CODECS = ("raw", "zstd", "blosc")
SCALED_INNER_BYTES = 8 * 1024
"""Inner chunks of decimal-scaled leaves: 3-decimal coordinates take 2.29 bytes a value in
8 KiB chunks, 2.58 in 4 KiB ones, with the same random 32-molecule batch time (5.29 ms) and
whole-leaf reads 10 % faster (half the chunks); 16 KiB chunks gain 1 % more and cost 7 %
on random batches (the peers benchmark's data)."""
BITSHUFFLE = ("lz4", 5, "bitshuffle")
"""The Blosc settings of decimal-scaled leaves and of the leaves ``auto`` bit-shuffles
(codec ``blosc`` in the leaf's format): in 4 KiB chunks, 2.56 bytes a 3-decimal
coordinate against 2.32 with LZ4HC (2.6x slower to write) and 2.17 with Blosc's zstd (5x
slower to decode)."""
EMPTY = (1 << 64) - 1  # the index entry of an inner chunk that was never written
ZSTD_LEVEL = 3
_MAX_CHUNK = 1 << 40
_PAD = 4  # bytes after a raw chunk's checksum, so the next chunk starts 8-byte aligned


@dataclass(frozen=True)
class LeafFormat:
    """How a leaf's values are stored, from its ``zarr.json``.

    ``sharded`` leaves are version-2 leaves; the others (version 1) have one chunk per
    file (``shard == chunk``). ``codec`` is ``raw``, ``zstd``, ``blosc`` or ``other`` (a
    chain this module does not decode: read through zarr-python).
    """

    dtype: np.dtype[Any]
    chunk: int
    shard: int
    codec: str
    checksum: bool
    sharded: bool
    level: int = ZSTD_LEVEL
    blosc: tuple[str, int, str] = ("lz4", 5, "shuffle")
    decimals: int | None = None

    @property
    def logical(self) -> np.dtype[Any]:
        """The dtype readers get: the stored one, or the float of a decimal-scaled leaf
        (:mod:`.decimals`; ``dtype`` is then its integers)."""
        if self.decimals is None:
            return self.dtype
        return np.dtype("float32" if self.dtype.itemsize == 4 else "float64")

    @property
    def chunk_bytes(self) -> int:
        return self.chunk * self.dtype.itemsize

    @property
    def per_shard(self) -> int:
        """Inner chunks per shard file."""
        return self.shard // self.chunk

    @property
    def direct(self) -> bool:
        """Whether :mod:`.local` reads and writes the leaf's files itself."""
        return self.sharded and self.checksum and self.codec in CODECS

    @property
    def stride(self) -> int:
        """Bytes from one inner chunk to the next in a regular raw shard."""
        return self.chunk_bytes + 4 + _PAD


def plan_format(
    dtype: Any,
    codec: str,
    chunk: int | None = None,
    shard: int | None = None,
    decimals: int | None = None,
    first: int = 0,
) -> LeafFormat:
    """The format of a new leaf.

    Inner chunks hold ``chunk`` values (default :data:`INNER_BYTES` of the codec; at most
    ``shard``). Shard files hold ``shard`` values rounded up to whole inner chunks; by
    default :data:`SHARD_CHUNKS` inner chunks (4 MiB of raw values, 512 KiB of compressed
    ones). A compressed leaf's shards follow its first batch (``first`` bytes of values):
    from :data:`WIDE_FIRST` on, :data:`SHARD_BYTES` of values a file (1024 inner chunks
    of 4 KiB: a 16 KiB index amortised over the big write); below :data:`SMALL_FIRST`, half of
    :data:`SHARD_CHUNKS` (a 1 KiB index: a small store stays small). With ``chunk``
    given, :data:`SHARD_BYTES` of values in at most :data:`MAX_PER_SHARD` inner chunks.

    With ``decimals``, a float leaf is stored decimal-scaled (:mod:`.decimals`): as
    integers, compressed with bit-shuffled LZ4 (:data:`BITSHUFFLE`) whatever ``codec``,
    in inner chunks of :data:`SCALED_INNER_BYTES`.
    """
    dtype = np.dtype(dtype)
    blosc = ("lz4", 5, "shuffle")
    inner_bytes = INNER_BYTES.get(codec, 0)
    if codec == "bitshuffle":  # what "auto" calls Blosc with LZ4 and bit shuffle
        codec, blosc = "blosc", BITSHUFFLE
    if decimals is not None:
        dtype = {"float32": np.dtype("<i4"), "float64": np.dtype("<i8")}[dtype.name]
        codec, blosc, inner_bytes = "blosc", BITSHUFFLE, SCALED_INNER_BYTES
    if codec not in CODECS:
        raise ValueError(f"a leaf codec is one of {', '.join(CODECS)}, got {codec!r}")
    inner = int(chunk) if chunk else max(1, inner_bytes // dtype.itemsize)
    if shard:
        inner = inner if chunk else min(inner, int(shard))
        per_shard = -(-int(shard) // inner)
    elif chunk:
        per_shard = min(MAX_PER_SHARD, max(1, SHARD_BYTES // (inner * dtype.itemsize)))
    elif codec != "raw" and first >= WIDE_FIRST:
        per_shard = min(MAX_PER_SHARD, SHARD_BYTES // (inner * dtype.itemsize))
    elif codec != "raw" and first < SMALL_FIRST:
        per_shard = SHARD_CHUNKS // 2
    else:
        per_shard = SHARD_CHUNKS
    return LeafFormat(
        dtype,
        inner,
        inner * per_shard,
        codec,
        True,
        True,
        blosc=blosc,
        decimals=None if decimals is None else int(decimals),
    )


def _bytes_codec(dtype: np.dtype[Any]) -> dict[str, Any]:
    if dtype.itemsize == 1:
        return {"name": "bytes"}
    return {"name": "bytes", "configuration": {"endian": "little"}}


def leaf_doc(fmt: LeafFormat, shape: int) -> dict[str, Any]:
    """The ``zarr.json`` document of a version-2 leaf (what zarr-python writes for the
    same array)."""
    inner: list[dict[str, Any]] = [_bytes_codec(fmt.dtype)]
    if fmt.codec == "zstd":
        inner.append({"name": "zstd", "configuration": {"level": fmt.level, "checksum": False}})
    elif fmt.codec == "blosc":
        cname, clevel, shuffle = fmt.blosc
        inner.append(
            {
                "name": "blosc",
                "configuration": {
                    "typesize": fmt.dtype.itemsize,
                    "cname": cname,
                    "clevel": clevel,
                    "shuffle": shuffle,
                    "blocksize": 0,
                },
            }
        )
    inner.append({"name": "crc32c"})
    return {
        "shape": [int(shape)],
        "data_type": "bool" if fmt.dtype.kind == "b" else fmt.dtype.name,
        "chunk_grid": {"name": "regular", "configuration": {"chunk_shape": [fmt.shard]}},
        "chunk_key_encoding": {"name": "default", "configuration": {"separator": "/"}},
        "fill_value": False if fmt.dtype.kind == "b" else 0,
        "codecs": [
            {
                "name": "sharding_indexed",
                "configuration": {
                    "chunk_shape": [fmt.chunk],
                    "codecs": inner,
                    "index_codecs": [
                        {"name": "bytes", "configuration": {"endian": "little"}},
                        {"name": "crc32c"},
                    ],
                    "index_location": "end",
                },
            }
        ],
        "attributes": {} if fmt.decimals is None else {"grumpy": _scaled_attrs(fmt)},
        "zarr_format": 3,
        "node_type": "array",
        "storage_transformers": [],
    }


def _scaled_attrs(fmt: LeafFormat) -> dict[str, Any]:
    """What a plain Zarr reader needs to turn a decimal-scaled leaf's integers back into
    its floats."""
    return {
        "decimal_scaled": {
            "dtype": fmt.logical.name,
            "decimals": fmt.decimals,
            "negative_zero": int(np.iinfo(fmt.dtype).min),
        }
    }


def _parse_scaled(doc: dict[str, Any], dtype: np.dtype[Any], where: str) -> int | None:
    """The decimal places of a decimal-scaled leaf (None for any other leaf)."""
    attrs = doc.get("attributes")
    grumpy = attrs.get("grumpy") if isinstance(attrs, dict) else None
    scaled = grumpy.get("decimal_scaled") if isinstance(grumpy, dict) else None
    if scaled is None:
        return None
    want = {"float32": "int32", "float64": "int64"}
    if not isinstance(scaled, dict) or want.get(str(scaled.get("dtype"))) != dtype.name:
        raise StoreFormatError(
            f"{where} has attributes.grumpy.decimal_scaled {scaled!r}; expected dtype "
            f"float32 over int32 or float64 over int64 values (the leaf holds {dtype})"
        )
    decimals = scaled.get("decimals")
    if isinstance(decimals, bool) or not isinstance(decimals, int) or not 0 <= decimals <= 6:
        raise StoreFormatError(
            f"{where} scales its values by {decimals!r} decimal places; expected 0 to 6"
        )
    return decimals


def _length(value: Any, where: str, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= _MAX_CHUNK:
        raise StoreFormatError(f"{where} has {what} {value!r}; expected an int in [1, 2**40]")
    return value


def _little(codec: dict[str, Any], dtype: np.dtype[Any]) -> bool:
    endian = (codec.get("configuration") or {}).get("endian", "little")
    return codec.get("name") == "bytes" and (endian == "little" or dtype.itemsize == 1)


def _inner_codec(
    chain: list[dict[str, Any]], dtype: np.dtype[Any]
) -> tuple[str, bool, dict[str, Any]]:
    """``(codec, checksum, configuration)`` of an inner codec chain."""
    names = [c.get("name") for c in chain]
    checksum = bool(names) and names[-1] == "crc32c"
    body = chain[:-1] if checksum else chain
    if not body or not _little(body[0], dtype):
        return "other", checksum, {}
    if len(body) == 1:
        return "raw", checksum, {}
    if len(body) == 2 and body[1].get("name") in ("zstd", "blosc"):
        return str(body[1]["name"]), checksum, dict(body[1].get("configuration") or {})
    return "other", checksum, {}


def parse_leaf_doc(doc: dict[str, Any], where: str) -> LeafFormat:
    """A leaf's :class:`LeafFormat` from its ``zarr.json``, every field checked."""
    try:
        dtype = np.dtype(doc["data_type"])
        chunk = doc["chunk_grid"]["configuration"]["chunk_shape"][0]
        codecs = list(doc.get("codecs") or [])
        if codecs and codecs[0].get("name") == "sharding_indexed":
            conf = codecs[0].get("configuration") or {}
            shard = _length(chunk, where, "shard length")
            chunk = _length(conf["chunk_shape"][0], where, "inner chunk length")
            index = [c.get("name") for c in conf.get("index_codecs") or []]
            codec, checksum, extra = _inner_codec(list(conf.get("codecs") or []), dtype)
            if (
                len(codecs) != 1
                or index != ["bytes", "crc32c"]
                or not _little(conf["index_codecs"][0], np.dtype("u8"))
                or conf.get("index_location", "end") != "end"
            ):
                codec = "other"
            sharded = True
        else:
            chunk = shard = _length(chunk, where, "chunk length")
            codec, checksum, extra = _inner_codec(codecs, dtype)
            sharded = False
    except (KeyError, IndexError, TypeError, AttributeError, ValueError) as err:
        raise StoreFormatError(f"{where} has malformed Zarr metadata ({err!r})") from err
    if dtype.kind not in "biuf" or dtype.itemsize > 8:
        raise StoreFormatError(f"{where} has data type {dtype}; expected a numeric type")
    if sharded and shard % chunk:
        raise StoreFormatError(
            f"{where} has shards of {shard} values, not a multiple of its inner chunks of {chunk}"
        )
    level = extra.get("level", ZSTD_LEVEL) if codec == "zstd" else ZSTD_LEVEL
    blosc = ("lz4", 5, "shuffle")
    if codec == "blosc":
        blosc = (
            str(extra.get("cname", "lz4")),
            int(extra.get("clevel", 5)),
            str(extra.get("shuffle", "shuffle")),
        )
    decimals = _parse_scaled(doc, dtype, where)
    return LeafFormat(dtype, chunk, shard, codec, checksum, sharded, int(level), blosc, decimals)


# -- inner chunks ---------------------------------------------------------------------


def crc(data: Any) -> int:
    """The crc32c of a bytes-like object."""
    if isinstance(data, (memoryview, bytearray)):
        data = np.frombuffer(data, dtype=np.uint8)
    return int(google_crc32c.value(data))


_LOCAL = threading.local()


def decompressor() -> Any:
    """This thread's zstd decompressor (one per thread: they are not thread-safe, and
    making one per chunk costs more than decoding a small chunk)."""
    found = getattr(_LOCAL, "zstd", None)
    if found is None:
        found = _LOCAL.zstd = zstandard.ZstdDecompressor()
    return found


def _compressor(level: int) -> Any:
    found = getattr(_LOCAL, "zstd_c", None)
    if found is None or found[0] != level:
        found = _LOCAL.zstd_c = (level, zstandard.ZstdCompressor(level=level))
    return found[1]


_SHUFFLES = {"noshuffle": 0, "shuffle": 1, "bitshuffle": 2}  # Blosc's codes


@functools.cache
def blosc_decoder() -> Any:
    """c-blosc's ``blosc_decompress_ctx(src, dest, destsize, nthreads)`` as a ctypes
    function (the GIL released while it runs), from the library numcodecs links in; None
    where that build does not export it. A call costs about 1 µs against about 6 µs
    through ``numcodecs.blosc.decompress`` (its buffer checks), which is most of a 4 KiB
    chunk's decode: whole-leaf reads of Blosc leaves go through it
    (:func:`.local._blosc_chunks_into`), after the chunk's checksum and
    header were checked."""
    return _blosc_function(
        "blosc_decompress_ctx", [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
    )


def _blosc_function(name: str, argtypes: list[Any]) -> Any:
    """c-blosc's function ``name`` (returning an int) as a ctypes function, from the
    library numcodecs links in; None where that build does not export it."""
    try:
        fn = getattr(ctypes.CDLL(blosc.__file__), name)
    except (OSError, AttributeError):
        return None
    fn.argtypes = argtypes
    fn.restype = ctypes.c_int
    return fn


def encode_chunk(fmt: LeafFormat, values: np.ndarray) -> bytes:
    """One inner chunk (exactly ``fmt.chunk`` values) encoded, its checksum appended."""
    values = np.ascontiguousarray(values, dtype=fmt.dtype)
    assert len(values) == fmt.chunk, (len(values), fmt.chunk)
    raw = values.view(np.uint8)
    if fmt.codec == "raw":
        body = raw.tobytes()
    elif fmt.codec == "zstd":
        body = _compressor(fmt.level).compress(raw.data)
    else:
        cname, clevel, shuffle = fmt.blosc
        body = bytes(blosc.compress(values, cname.encode(), clevel, _SHUFFLES.get(shuffle, 1)))
    return body + struct.pack("<I", crc(body))


def encode_chunks(
    fmt: LeafFormat, values: np.ndarray, threads: int = 0
) -> tuple[Any, np.ndarray, np.ndarray]:
    """``values`` cut into inner chunks (the last one zero-padded), each encoded with its
    checksum: ``(blob, offsets, nbytes)``, the bytes to write in a row and each chunk's
    place in them. Raw chunks are laid out regular (``stride`` apart) with whole-array
    NumPy; zstd chunks are compressed in one call (``threads`` of them), Blosc ones in
    one compiled loop that also adds their checksums (:func:`._native.blosc_encode`;
    without the kernels, one ctypes call each). A Python step per zstd chunk remains
    for its checksum; raw chunks' checksums are one call with the kernels."""
    values = np.ascontiguousarray(values, dtype=fmt.dtype)
    m = -(-len(values) // fmt.chunk)
    if m == 0:
        return b"", np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    body = np.zeros(m * fmt.chunk, dtype=fmt.dtype)
    body[: len(values)] = values
    rows = body.view(np.uint8).reshape(m, fmt.chunk_bytes)
    if fmt.codec == "raw":
        blob = np.zeros((m, fmt.stride), dtype=np.uint8)
        blob[:, : fmt.chunk_bytes] = rows
        sums = _native.crc32c_rows(rows, fmt.chunk_bytes)
        if sums is not None:
            sums = sums.astype("<u4", copy=False)
        else:
            sums = np.array([crc(row) for row in rows], dtype="<u4")
        blob[:, fmt.chunk_bytes : fmt.chunk_bytes + 4] = sums.view(np.uint8).reshape(m, 4)
        offsets = np.arange(m, dtype=np.int64) * fmt.stride
        return blob.reshape(-1), offsets, np.full(m, fmt.chunk_bytes + 4, dtype=np.int64)
    if fmt.codec == "zstd" and m > 1:
        segments = np.empty((m, 2), dtype=np.uint64)
        segments[:, 0] = np.arange(m, dtype=np.uint64) * fmt.chunk_bytes
        segments[:, 1] = fmt.chunk_bytes
        frames = _compressor(fmt.level).multi_compress_to_buffer(
            zstandard.BufferWithSegments(body.view(np.uint8).data, segments.tobytes()),
            threads=threads if m >= 64 else 0,  # threads start per call: worth it for many
        )
        pieces: list[Any] = []
        for frame in frames:  # one step per inner chunk: its checksum
            pieces += (frame, struct.pack("<I", crc(memoryview(frame))))
    elif fmt.codec == "blosc" and blosc_encoder() is not None:
        cname, clevel, shuffle = fmt.blosc
        packed = _native.blosc_encode(
            rows, clevel, _SHUFFLES.get(shuffle, 1), fmt.dtype.itemsize, cname, blosc_encoder()
        )
        if packed is not None:  # one compiled loop: compress, checksum, pack
            offsets = np.zeros(m, dtype=np.int64)
            np.cumsum(packed[1][:-1], out=offsets[1:])
            return packed[0], offsets, packed[1]
        pieces = _blosc_pieces(fmt, rows)
    else:
        pieces = [encode_chunk(fmt, row.view(fmt.dtype)) for row in rows]
    sizes = np.array([len(memoryview(p)) for p in pieces], dtype=np.int64)
    if len(pieces) > m:  # zstd: frame, checksum, frame, checksum...
        sizes = sizes[0::2] + 4
    offsets = np.concatenate([[0], np.cumsum(sizes[:-1])]).astype(np.int64)
    return b"".join(pieces), offsets, sizes


def _blosc_pieces(fmt: LeafFormat, rows: np.ndarray) -> list[Any]:
    """Each row of ``rows`` (one inner chunk's bytes) Blosc-compressed by c-blosc's
    ``blosc_compress_ctx`` (the frames ``numcodecs.blosc.compress`` makes), then its
    checksum: frame, checksum, frame, checksum... One ctypes call per inner chunk, the
    GIL released while it runs (numcodecs' own call costs ~10 µs more per chunk)."""
    fn = blosc_encoder()
    cname, clevel, shuffle = fmt.blosc
    cap = fmt.chunk_bytes + 16  # BLOSC_MAX_OVERHEAD
    out = np.empty(len(rows) * cap, dtype=np.uint8)
    view = memoryview(out.data)
    src, dest, width = rows.ctypes.data, out.ctypes.data, fmt.chunk_bytes
    code, name, size = _SHUFFLES.get(shuffle, 1), cname.encode(), fmt.dtype.itemsize
    pieces: list[Any] = []
    for j in range(len(rows)):
        n = fn(clevel, code, size, width, src + j * width, dest + j * cap, cap, name, 0, 1)
        if n <= 0:
            raise ValueError(f"c-blosc could not compress an inner chunk ({n}, {cname!r})")
        frame = view[j * cap : j * cap + n]
        pieces += (frame, struct.pack("<I", crc(frame)))
    return pieces


@functools.cache
def blosc_encoder() -> Any:
    """c-blosc's ``blosc_compress_ctx`` as a ctypes function (see :func:`blosc_decoder`),
    or None."""
    size, ptr, c_int = ctypes.c_size_t, ctypes.c_void_p, ctypes.c_int
    return _blosc_function(
        "blosc_compress_ctx",
        [c_int, c_int, size, size, ptr, ptr, size, ctypes.c_char_p, size, c_int],
    )


def verify(data: Any, where: str) -> memoryview:
    """The payload of an encoded inner chunk (or index) ``data`` whose last four bytes are
    its crc32c checksum, checked."""
    view = memoryview(data).cast("B")
    if len(view) < 4:
        raise StoreFormatError(f"{where}: {len(view)} bytes cannot hold a checksum")
    body = view[:-4]
    stored = int.from_bytes(view[-4:], "little")
    computed = crc(body)
    if stored != computed:
        raise StoreFormatError(
            f"{where}: checksum mismatch (stored crc32c {stored:#010x}, computed "
            f"{computed:#010x}): the chunk is damaged"
        )
    return body


def decode_chunk(
    fmt: LeafFormat, data: Any, where: str, out: np.ndarray | None = None
) -> np.ndarray:
    """The ``fmt.chunk`` values of one encoded inner chunk, its checksum verified and its
    decoded size checked (a hostile frame cannot make it allocate more). With ``out``
    (``fmt.chunk`` values, contiguous), Blosc chunks decode straight into it."""
    body = verify(data, where)
    want = fmt.chunk_bytes
    try:
        if fmt.codec == "raw":
            decoded = body
        elif fmt.codec == "zstd":
            claimed = zstandard.frame_content_size(body)
            if claimed not in (-1, want):  # refused before anything is allocated
                raise StoreFormatError(
                    f"{where}: its zstd frame claims {claimed} bytes; an inner chunk has {want}"
                )
            decoded = decompressor().decompress(body, max_output_size=want)
        else:
            if len(body) < 16:
                raise StoreFormatError(f"{where}: {len(body)} bytes cannot hold a Blosc frame")
            claimed, _, cbytes = struct.unpack_from("<III", body, 4)  # Blosc's header
            if claimed != want or cbytes != len(body):  # refused before anything is allocated
                raise StoreFormatError(
                    f"{where}: its Blosc frame claims {claimed} bytes in {cbytes}; an inner "
                    f"chunk has {want} in {len(body)}"
                )
            fn = blosc_decoder()
            if fn is not None:
                dest = out if out is not None else np.empty(fmt.chunk, dtype=fmt.dtype)
                src = np.frombuffer(body, dtype=np.uint8)
                got = fn(src.ctypes.data, dest.ctypes.data, want, 1)
                if got != want:
                    raise StoreFormatError(f"{where}: its Blosc frame cannot be decoded ({got})")
                return dest
            if out is not None:
                blosc.decompress(body, out)
                return out
            decoded = blosc.decompress(body)
    except StoreFormatError:
        raise
    except Exception as err:  # a codec's own error type for a frame it cannot decode
        raise StoreFormatError(f"{where}: cannot be decoded ({type(err).__name__}: {err})") from err
    if len(decoded) != want:
        raise StoreFormatError(
            f"{where}: decodes to {len(decoded)} bytes; an inner chunk has {want}"
        )
    if out is not None:
        out[:] = np.frombuffer(decoded, dtype=fmt.dtype)
        return out
    return np.frombuffer(decoded, dtype=fmt.dtype)


# -- shard indexes --------------------------------------------------------------------


def index_bytes(fmt: LeafFormat) -> int:
    """The size of a shard's index (with its checksum)."""
    return fmt.per_shard * 16 + 4


def encode_index(fmt: LeafFormat, offsets: np.ndarray, nbytes: np.ndarray) -> bytes:
    """A shard index (``EMPTY`` for chunks never written) with its checksum."""
    table = np.empty((fmt.per_shard, 2), dtype="<u8")
    table[:, 0] = offsets
    table[:, 1] = nbytes
    body = table.tobytes()
    return body + struct.pack("<I", crc(body))


def parse_index(fmt: LeafFormat, data: Any, size: int, where: str) -> tuple[np.ndarray, np.ndarray]:
    """``(offsets, nbytes)`` of a shard index read from the end of a file of ``size``
    bytes: checksum verified, every written chunk inside the data part of the file."""
    try:
        body = verify(data, f"{where} index")
    except StoreFormatError as err:
        raise StoreFormatError(f"{err} (a truncated or damaged shard file)") from None
    table = np.frombuffer(body, dtype="<u8").reshape(-1, 2)
    if len(table) != fmt.per_shard:
        raise StoreFormatError(
            f"{where} index has {len(table)} entries; a shard holds {fmt.per_shard} chunks"
        )
    offsets, nbytes = table[:, 0], table[:, 1]
    empty = (offsets == EMPTY) & (nbytes == EMPTY)
    limit = size - index_bytes(fmt)
    bad = ~empty & ((nbytes > limit) | (offsets > limit) | (nbytes < 4))
    fine = ~empty & ~bad
    bad[fine] = (offsets[fine] + nbytes[fine]) > limit  # both <= limit: no overflow
    if bad.any():
        j = int(np.flatnonzero(bad)[0])
        raise StoreFormatError(
            f"{where} index entry {j} points at bytes [{int(offsets[j])}, "
            f"+{int(nbytes[j])}) of a file whose chunks end at byte {limit}"
        )
    return offsets.astype(np.int64, copy=True), np.where(empty, -1, nbytes).astype(np.int64)


def is_regular(fmt: LeafFormat, offsets: np.ndarray, nbytes: np.ndarray) -> bool:
    """Whether a raw shard's written chunks sit at ``j * stride`` (mappable)."""
    if fmt.codec != "raw":
        return False
    written = nbytes >= 0
    j = np.flatnonzero(written)
    return bool(np.all(offsets[j] == j * fmt.stride) and np.all(nbytes[j] == fmt.chunk_bytes + 4))


def shard_bytes(
    fmt: LeafFormat, chunks: list[bytes | None]
) -> tuple[list[bytes], np.ndarray, np.ndarray]:
    """The pieces of a shard file holding ``chunks`` (``None``: never written), in order,
    with the index last; raw chunks are laid out regular."""
    offsets = np.full(fmt.per_shard, EMPTY, dtype=np.uint64)
    nbytes = np.full(fmt.per_shard, EMPTY, dtype=np.uint64)
    pieces: list[bytes] = []
    pos = 0
    pad = b"\0" * _PAD
    for j, chunk in enumerate(chunks):
        if chunk is None:
            continue
        if fmt.codec == "raw":
            assert pos == j * fmt.stride, "raw shards are written from their first chunk on"
        offsets[j], nbytes[j] = pos, len(chunk)
        pieces.append(chunk)
        pos += len(chunk)
        if fmt.codec == "raw":
            pieces.append(pad)
            pos += _PAD
    pieces.append(encode_index(fmt, offsets, nbytes))
    return pieces, offsets, nbytes
