"""Named types shared by the package: the option strings as ``Literal`` aliases and the
signatures of generated methods.

Like ``_optional`` and ``_validate`` this module imports nothing of the package at run
time, so every layer may use it.
"""

from __future__ import annotations

from typing import Any, Protocol

__all__ = ["ReductionMethod", "SpreadMethod"]


class ReductionMethod(Protocol):
    """A generated reduction method as seen from an instance (``self`` is bound):
    ``x.sum(dim=None)``."""

    def __call__(self, dim: int | None = None) -> Any: ...


class SpreadMethod(Protocol):
    """A generated ``std``/``var`` method as seen from an instance:
    ``x.std(dim=None, *, ddof=0)``."""

    def __call__(self, dim: int | None = None, *, ddof: int = 0) -> Any: ...
