"""``ZarrSaver``'s codec options: names, zarr v3 codecs and numcodecs objects.

``compression="zstd"`` (with ``compression_opts``, the level) names a compressor; the
raygent / zarr-v2 style ``compressor=`` and ``filters=`` take codec objects:

* a numcodecs codec that has a zarr v3 equivalent becomes it, so any v3 reader can read
  the array: ``numcodecs.Blosc`` → ``blosc`` (``shuffle`` ``-1``, numcodecs'
  ``AUTOSHUFFLE``, is zarr's own automatic choice: bit shuffle for 1-byte items),
  ``numcodecs.Zstd`` → ``zstd``, ``numcodecs.GZip`` → ``gzip``;
* any other numcodecs codec becomes zarr's wrapper of it (:mod:`zarr.codecs.numcodecs`,
  named ``numcodecs.<id>`` in the metadata): ``Zlib``, ``LZ4``, ``BZ2``, ``LZMA``,
  ``Shuffle`` and checksums as compressors; ``Delta``, ``FixedScaleOffset``,
  ``Quantize``, ``BitRound``, ``PackBits``, ``AsType`` as filters. Zarr warns
  (``ZarrUserWarning``) when it builds these: they are not in the v3 specification;
* zarr v3 codec objects (``zarr.codecs.ZstdCodec()``...) are taken as they are.

A compressor is a bytes-to-bytes codec, a filter an array-to-array codec; anything else
is refused before anything is written, naming what was expected.
"""

from __future__ import annotations

import functools
import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import zarr
import zarr.codecs
from numcodecs.abc import Codec
from zarr.abc.codec import ArrayArrayCodec, ArrayBytesCodec, BytesBytesCodec

__all__ = ["COMPRESSIONS", "Codecs", "parse_codecs", "zarr_compressors"]

COMPRESSIONS = ("none", "zstd", "gzip", "blosc")
_SHUFFLES = {-1: None, 0: "noshuffle", 1: "shuffle", 2: "bitshuffle"}

# A codec to build: zarr's wrappers warn when built, so they are built once, at creation.
Factory = Callable[[], Any]


@dataclass(frozen=True)
class Codecs:
    """The compressors and filters of a new dataset's values (as codec factories)."""

    compressors: tuple[Factory, ...]
    filters: tuple[Factory, ...]
    #: the filters' declared dtypes (``Delta(dtype=...)``), by filter name
    filter_dtypes: tuple[tuple[str, np.dtype[Any]], ...] = ()

    def build(self) -> tuple[tuple[Any, ...], tuple[Any, ...]]:
        """The zarr v3 codec objects: ``(compressors, filters)``."""
        return tuple(f() for f in self.compressors), tuple(f() for f in self.filters)

    def check_dtype(self, dtype: np.dtype[Any], where: str) -> None:
        """Refuse filters declared for another dtype than the values' (they would
        reinterpret the bytes)."""
        for name, declared in self.filter_dtypes:
            if declared != dtype:
                raise ValueError(
                    f"{where}: filter {name} is declared for {declared} values; the "
                    f"dataset's values are {dtype} (build it with dtype={dtype.str!r})"
                )


def zarr_compressors(compression: Any, level: Any) -> Any:
    """The zarr ``compressors=`` value for a compression name and level."""
    if compression is None or compression == "none":
        return None
    if compression == "zstd":
        return zarr.codecs.ZstdCodec(level=3 if level is None else int(level))
    if compression == "gzip":
        return zarr.codecs.GzipCodec(level=5 if level is None else int(level))
    if compression == "blosc":
        clevel = 5 if level is None else int(level)
        return zarr.codecs.BloscCodec(cname="lz4", clevel=clevel, shuffle="shuffle")
    raise ValueError(
        f"compression must be one of {', '.join(COMPRESSIONS)} or None for ZarrSaver, "
        f"got {compression!r}"
    )


def parse_codecs(options: dict[str, Any], where: str) -> Codecs:
    """The codecs the options ask for, checked (nothing is built that warns).

    Raises
    ------
    TypeError
        For a ``compressor`` or filter that is not a codec object.
    ValueError
        For an unknown compression name, a codec of the wrong kind, ``compression=``
        together with ``compressor=``, or ``compression_opts`` with ``compressor=``.

    Examples
    --------
    >>> import numcodecs
    >>> from grumpy_arrow.savers.zarr_codecs import parse_codecs
    >>> compressors, filters = parse_codecs({"compressor": numcodecs.Zstd(level=5)}, "x").build()
    >>> compressors, filters
    ((ZstdCodec(level=5, checksum=False),), ())
    """
    compression, level = options.get("compression"), options.get("compression_opts")
    if options.get("compressor") is None and "compressor" not in options:
        named = zarr_compressors(compression, level)
        return _with_filters(() if named is None else (lambda: named,), options, where)
    if compression is not None and compression != "none":
        raise ValueError(
            f"{where}: give compression= (a name) or compressor= (a codec), not both; got "
            f"compression={compression!r} and compressor={options['compressor']!r}"
        )
    if level is not None:
        raise ValueError(
            f"{where}: compression_opts is the level of compression=; a compressor= codec "
            f"carries its own (got compression_opts={level!r})"
        )
    codec = options["compressor"]
    compressors = () if codec is None else (_factory(codec, "compressor", where)[0],)
    return _with_filters(compressors, options, where)


def _with_filters(compressors: tuple[Factory, ...], options: dict[str, Any], where: str) -> Codecs:
    given = options.get("filters")
    if given is None:
        return Codecs(compressors, ())
    items = list(given) if isinstance(given, (list, tuple)) else [given]
    factories, dtypes = [], []
    for item in items:
        factory, declared = _factory(item, "filter", where)
        factories.append(factory)
        if declared is not None:
            dtypes.append((type(item).__name__, declared))
    return Codecs(compressors, tuple(factories), tuple(dtypes))


def _factory(codec: Any, role: str, where: str) -> tuple[Factory, np.dtype[Any] | None]:
    """A factory of the zarr v3 codec for ``codec`` in ``role`` ("compressor" or
    "filter"), and the dtype a filter declares."""
    wanted = BytesBytesCodec if role == "compressor" else ArrayArrayCodec
    if isinstance(codec, (BytesBytesCodec, ArrayArrayCodec, ArrayBytesCodec)):
        _check_kind(type(codec), wanted, codec, role, where)
        return (lambda: codec), None
    config = _numcodecs_config(codec, role, where)
    native = _native(config) if role == "compressor" else None
    if native is not None:
        return native, None
    cls = _wrapper(config["id"])
    if cls is None:
        raise ValueError(
            f"{where}: {role} {codec!r} is a numcodecs codec that zarr 3 has no v3 codec for "
            f"(id {config['id']!r}); expected one of {', '.join(_known(wanted))}"
        )
    _check_kind(cls, wanted, codec, role, where)
    declared = config.get("dtype", config.get("decode_dtype"))
    return (lambda: cls(**config)), None if declared is None else np.dtype(declared)


def _numcodecs_config(codec: Any, role: str, where: str) -> dict[str, Any]:
    if not isinstance(codec, Codec):
        kind = "bytes-to-bytes" if role == "compressor" else "array-to-array"
        hint = " (a name goes in compression=)" if isinstance(codec, str) else ""
        raise TypeError(
            f"{where}: {role} must be a numcodecs codec or a zarr v3 {kind} codec"
            f"{' or None' if role == 'compressor' else ''}; got {codec!r}{hint}"
        )
    return dict(codec.get_config())


def _native(config: dict[str, Any]) -> Factory | None:
    """The zarr v3 codec equal to a numcodecs compressor, where the spec has one."""
    cid = config["id"]
    if cid == "blosc":
        shuffle = _SHUFFLES.get(int(config.get("shuffle", 1)), "shuffle")
        return lambda: zarr.codecs.BloscCodec(
            cname=config.get("cname", "lz4"),
            clevel=int(config.get("clevel", 5)),
            shuffle=shuffle,
            blocksize=int(config.get("blocksize", 0)),
        )
    if cid == "zstd":
        level, checksum = int(config.get("level", 0)), bool(config.get("checksum", False))
        return lambda: zarr.codecs.ZstdCodec(level=level, checksum=checksum)
    if cid == "gzip":
        level = int(config.get("level", 5))
        return lambda: zarr.codecs.GzipCodec(level=level)
    return None


@functools.cache
def _wrappers() -> dict[str, type]:
    """zarr's numcodecs wrappers by codec id (``zarr.codecs.numcodecs``, zarr >= 3.1;
    ``numcodecs.zarr3`` before)."""
    for name in ("zarr.codecs.numcodecs", "numcodecs.zarr3"):
        try:
            module = importlib.import_module(name)
        except ImportError:
            continue
        out = {}
        for attr in dir(module):
            cls = getattr(module, attr)
            codec_name = getattr(cls, "codec_name", None)
            if isinstance(cls, type) and isinstance(codec_name, str) and "." in codec_name:
                out[codec_name.split(".", 1)[1]] = cls
        return out
    return {}  # pragma: no cover


def _wrapper(cid: str) -> type | None:
    return _wrappers().get(cid)


def _known(wanted: type) -> list[str]:
    return sorted({cls.__name__ for cls in _wrappers().values() if issubclass(cls, wanted)})


def _check_kind(cls: type, wanted: type, codec: Any, role: str, where: str) -> None:
    if issubclass(cls, wanted):
        return
    if issubclass(cls, BytesBytesCodec):
        found = "a compressor (bytes to bytes): pass it as compressor="
    elif issubclass(cls, ArrayArrayCodec):
        found = "a filter (array to array): pass it in filters="
    else:
        found = "a serializer (array to bytes), which ZarrSaver does not take"
    kind = "a bytes-to-bytes" if role == "compressor" else "an array-to-array"
    raise ValueError(
        f"{where}: {role} must be {kind} codec ({', '.join(_known(wanted))}); "
        f"got {codec!r}, {found}"
    )
