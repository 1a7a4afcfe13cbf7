"""The pandas integration, registered whenever pandas is there, without importing it.

``import grumpy_arrow`` does not import pandas (it takes longer to import than numpy and
pyarrow together). But ``GrumpyDtype`` must be registered with pandas and the ``.gr``
accessors attached before a user touches them, in whichever order the two packages are
imported. So: when pandas is already imported, :mod:`grumpy_arrow.pandas` is imported at
once (cheap then); otherwise a one-shot import hook imports it right after pandas finishes
importing, and removes itself.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import sys
from collections.abc import Sequence
from types import ModuleType
from typing import Any

__all__ = ["load_with_pandas"]


def _register() -> None:
    importlib.import_module("grumpy_arrow.pandas")


class _AfterPandas(importlib.abc.MetaPathFinder):
    """Finds nothing itself: wraps the loader of ``pandas`` so that
    :mod:`grumpy_arrow.pandas` is imported when pandas is."""

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname != "pandas":
            return None
        sys.meta_path.remove(self)
        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        if spec is None or spec.loader is None:
            return spec
        loader = spec.loader
        real_exec = loader.exec_module

        def exec_module(module: ModuleType) -> Any:
            out = real_exec(module)
            _register()
            return out

        loader.exec_module = exec_module  # type: ignore[method-assign]
        return spec


def load_with_pandas() -> None:
    """Register the pandas integration now if pandas is imported, else when it is."""
    if "pandas" in sys.modules:
        _register()
    elif not any(isinstance(f, _AfterPandas) for f in sys.meta_path):
        sys.meta_path.insert(0, _AfterPandas())
