from __future__ import annotations

import grumpy_arrow as gr
from grumpy_arrow import errors


def test_all_is_sorted_and_complete() -> None:
    assert gr.__all__ == sorted(gr.__all__)
    for name in gr.__all__:
        assert hasattr(gr, name), name


def test_errors_all_is_sorted() -> None:
    assert errors.__all__ == sorted(errors.__all__)


def test_python_m_entry_point_module_exists() -> None:
    import importlib.util

    assert importlib.util.find_spec("grumpy_arrow.__main__") is not None
