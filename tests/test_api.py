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


def _run(code: str) -> str:
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return out.stdout.strip()


def test_import_loads_neither_pandas_nor_zarr_nor_the_optional_extras() -> None:
    heavy = ("pandas", "zarr", "fsspec", "pyarrow.parquet", "h5py", "numba", "polars", "torch")
    code = f"import sys, grumpy_arrow; print([m for m in {heavy!r} if m in sys.modules])"
    assert _run(code) == "[]"


def test_lazy_names_load_on_first_use_and_are_listed() -> None:
    code = (
        "import sys, grumpy_arrow as gr; s = gr.save; "
        "print(s.__module__, 'zarr' in sys.modules, 'save' in dir(gr), gr.open.__name__)"
    )
    assert _run(code) == "grumpy_arrow.storage.api True True open_store"


def test_pandas_integration_registers_in_either_import_order() -> None:
    check = (
        "print(pd.api.types.pandas_dtype('grumpy[var * int64]'), "
        "pd.Series(pd.array([[1, 2], [3]], dtype='grumpy[var * int64]')).gr.sum(dim=-1).tolist())"
    )
    want = "grumpy[var * int64] [3, 3]"
    assert _run("import grumpy_arrow; import pandas as pd; " + check) == want
    assert _run("import pandas as pd; import grumpy_arrow; " + check) == want


def test_unknown_attributes_raise_attribute_error() -> None:
    import pytest

    with pytest.raises(AttributeError, match="has no attribute 'nope'"):
        gr.nope  # noqa: B018
