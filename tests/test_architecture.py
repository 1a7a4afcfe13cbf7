"""The architecture rules of docs/architecture.md that a linter does not check: which imports
may sit inside functions, where modules are imported by name, and the clean-ups of issue 17
(no ``# fmt: skip``, no citations of a document outside the repository)."""

from __future__ import annotations

import ast
import pathlib

ROOT = pathlib.Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "grumpy_arrow"


def _functions(tree: ast.AST) -> list[ast.FunctionDef | ast.AsyncFunctionDef]:
    return [n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]


def _inner_imports() -> set[tuple[str, str, str]]:
    """(module file, function, imported module) of every import statement in a function."""
    found = set()
    for path in sorted(PACKAGE.rglob("*.py")):
        for fn in _functions(ast.parse(path.read_text())):
            for node in ast.walk(fn):
                if isinstance(node, ast.ImportFrom):
                    found.add((str(path.relative_to(ROOT)), fn.name, node.module or ""))
                elif isinstance(node, ast.Import):
                    for alias in node.names:
                        found.add((str(path.relative_to(ROOT)), fn.name, alias.name))
    return found


def test_the_only_imports_inside_functions_are_the_documented_conversions() -> None:
    # GrumpyArray / DataFrame .to_pandas and .to_torch reach up to the layer that owns the
    # conversion (pandas and torch are optional): the four exceptions of the import-linter
    # contract in pyproject.toml. Optional dependencies go through _optional.require.
    assert _inner_imports() == {
        ("grumpy_arrow/array.py", "to_pandas", "grumpy_arrow.pandas.convert"),
        ("grumpy_arrow/array.py", "to_torch", "grumpy_arrow.interop.torch"),
        ("grumpy_arrow/frame/dataframe.py", "to_pandas", "grumpy_arrow.pandas.convert"),
        ("grumpy_arrow/frame/dataframe.py", "to_torch", "grumpy_arrow.interop.torch"),
    }


def test_modules_imported_by_name_only_in_the_listed_places() -> None:
    # importlib.import_module: the package's lazy attributes (PEP 562), the pandas import
    # hook, _optional.require, the command line's subcommands, zarr's numcodecs wrappers
    # (whose module moved between zarr releases) and the optional compiled kernels (by name,
    # so the import layers see no import of the package's root from the bottom layer).
    calls = set()
    for path in sorted(PACKAGE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr == "import_module"
            ):
                calls.add(str(path.relative_to(ROOT)))
    assert calls == {
        "grumpy_arrow/__init__.py",
        "grumpy_arrow/_lazy.py",
        "grumpy_arrow/_native.py",
        "grumpy_arrow/_optional.py",
        "grumpy_arrow/cli/__init__.py",
        "grumpy_arrow/savers/zarr_codecs.py",
    }


def test_no_formatter_escapes_and_no_outside_spec_citations() -> None:
    offenders = []
    for folder in ("grumpy_arrow", "tests", "benchmarks", "docs"):
        for path in sorted((ROOT / folder).rglob("*")):
            if path.suffix not in (".py", ".md") or path == pathlib.Path(__file__):
                continue
            text = path.read_text()
            for marker in ("# fmt: " + "skip", "# fmt: " + "off", "SPEC " + "§"):
                if marker in text:
                    offenders.append(f"{path.relative_to(ROOT)}: {marker}")
    assert offenders == []
