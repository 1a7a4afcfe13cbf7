"""Named types shared by the package: the option strings as ``Literal`` aliases and the
signatures of generated methods.

Each alias lists the values its option accepts; the functions still check them at run
time (with a message naming the values), since callers need not run a type checker.
Like ``_optional`` and ``_validate`` this module imports nothing of the package, so
every layer may use it.
"""

from __future__ import annotations

from typing import Any, Literal, Protocol, TypeAlias

__all__ = [
    "Approach",
    "CacheMode",
    "Casting",
    "Compressor",
    "CompileBackend",
    "CompileFallback",
    "DaskUnions",
    "FrameUnions",
    "Dictionaries",
    "ExecutorKind",
    "MixStop",
    "NaPosition",
    "QuantileMethod",
    "ReductionMethod",
    "RenameErrors",
    "SaveMode",
    "SpreadMethod",
    "TorchLayout",
    "Unions",
]

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
