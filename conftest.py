"""Collection rules for the whole run (the package's doctests included)."""

from __future__ import annotations

import importlib.util

import pytest

# Doctests of modules whose examples need an optional dependency: skipped without it.
_NEEDS = {"grumpy_arrow.interop.torch": "torch"}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if not isinstance(item, pytest.DoctestItem):
            continue
        for module, package in _NEEDS.items():
            if item.name.startswith(f"{module}.") and importlib.util.find_spec(package) is None:
                item.add_marker(pytest.mark.skip(reason=f"this example needs {package}"))
