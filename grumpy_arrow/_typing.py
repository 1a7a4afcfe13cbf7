"""Named types shared by the package: the option strings as ``Literal`` aliases and the
signatures of generated methods.

Each alias lists the values its option accepts; the functions still check them at run
time (with a message naming the values), since callers need not run a type checker.
Like ``_optional`` and ``_validate`` this module imports nothing of the package, so
every layer may use it.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any, Literal, Protocol, TypeAlias, Union

import numpy as np
import pyarrow as pa

if TYPE_CHECKING:  # for the checker only: this module imports nothing of the package
    from grumpy_arrow.dtypes import DType

__all__ = [
    "Approach",
    "CacheMode",
    "Casting",
    "Compressor",
    "CompileBackend",
    "CompileFallback",
    "DaskUnions",
    "FrameUnions",
    "DTypeLike",
    "Dictionaries",
    "ExecutorKind",
    "MixStop",
    "NaPosition",
    "PathLike",
    "QuantileMethod",
    "ReductionMethod",
    "RenameErrors",
    "SaveMode",
    "SpreadMethod",
    "TorchLayout",
    "Unions",
]

DTypeLike: TypeAlias = Union["DType", str, np.dtype[Any], type, pa.DataType]
"""What :func:`grumpy_arrow.dtype` parses: a DType, its name, a NumPy dtype or scalar type,
a Python type or an Arrow type."""
PathLike: TypeAlias = Union[str, "os.PathLike[str]"]
"""A store's location: a local path or an fsspec URL (``memory://``, ``s3://``...)."""

Approach: TypeAlias = Literal["append", "overwrite", "update"]
"""How a saver writes a batch where data exists (docs/savers.md)."""
CacheMode: TypeAlias = Literal["chunks", "none"]
"""A handle's chunk cache: an LRU of decoded chunks, or none."""
Casting: TypeAlias = Literal["no", "equiv", "safe", "same_kind", "unsafe"]
"""NumPy's casting rules."""
Compressor: TypeAlias = Literal["default", "auto", "none", "zstd", "blosc"]
"""A store's compressor (``"default"`` is ``"auto"``)."""
CompileBackend: TypeAlias = Literal["auto", "numba", "numpy"]
"""The engine ``gr.compile`` runs a traced program on."""
CompileFallback: TypeAlias = Literal["warn", "error", "silent"]
"""What ``gr.compile`` does when a function cannot be traced."""
DaskUnions: TypeAlias = Literal["lowered", "grumpy"]
"""Union columns of a Dask frame: lowered structs, or the grumpy pandas dtype."""
Dictionaries: TypeAlias = Literal["decode", "keep"]
"""Dictionary-encoded leaves in an Arrow export: plain values, or Arrow dictionaries."""
ExecutorKind: TypeAlias = Literal["thread", "process"]
"""Where parallel work runs."""
MixStop: TypeAlias = Literal["first", "all"]
"""When ``gr.mix`` stops: with its first exhausted source, or its last."""
NaPosition: TypeAlias = Literal["first", "last"]
"""Where a sort puts nulls."""
QuantileMethod: TypeAlias = Literal["linear", "lower", "higher", "nearest", "midpoint"]
"""NumPy's interpolation between the two nearest values."""
RenameErrors: TypeAlias = Literal["ignore", "raise"]
"""What ``DataFrame.rename`` does with a name the frame lacks (pandas' ``errors=``)."""
SaveMode: TypeAlias = Literal["w", "w-", "a"]
"""Overwrite, fail if the store exists, or append."""
TorchLayout: TypeAlias = Literal["padded", "jagged"]
"""Ragged axes in a tensor: padded to the longest row, or a nested (jagged) tensor."""
Unions: TypeAlias = Literal["native", "lowered"]
"""Union columns in an Arrow export: Arrow dense unions, or ``struct<values, is_scalar>``."""
FrameUnions: TypeAlias = Literal["native", "lowered", "auto"]
"""``Unions``, or ``"auto"``: lowered where a union can be lowered (the Arrow stream
protocol's choice)."""


class ReductionMethod(Protocol):
    """A generated reduction method as seen from an instance (``self`` is bound):
    ``x.sum(dim=None)``."""

    def __call__(self, dim: int | None = None) -> Any: ...


class SpreadMethod(Protocol):
    """A generated ``std``/``var`` method as seen from an instance:
    ``x.std(dim=None, *, ddof=0)``."""

    def __call__(self, dim: int | None = None, *, ddof: int = 0) -> Any: ...
