"""numpydoc validation of the public surface (issue 17, item 4).

Every function and class of ``gr.__all__``, and every public method and property of
``GrumpyArray``, ``DataFrame``, ``Handle`` and ``Stream``, is run through numpydoc's own
validator (``numpydoc.validate.validate``), one test per object so that a failure names it.

The codes checked (:data:`CHECKED`) are those the issue asks for:

- ``GL08``: there is a docstring;
- ``SS01`` / ``SS02`` / ``SS03``: a summary that starts with a capital and ends with a
  period;
- ``PR01`` / ``PR02``: every parameter documented, none that does not exist (for a class:
  its constructor's); private parameters (a leading ``_``, such as ``Handle(_manifest=)``)
  are internal plumbing and need no entry;
- ``RT01``: a Returns section when the function returns something;
- ``EX01``: an Examples section (the package's doctests run those examples, so each one
  also has to run and show the exact output).

Left out, by decision:

- ``SS05`` (summary starts with an infinitive verb). Our summaries name what a function
  gives, as noun phrases ("Lists over ``values`` delimited by ``offsets``.", "Counts of the
  valid values..."), the style of the existing docstrings and of the docs. numpydoc's check
  is a heuristic (the first word ends in "s"), so it flags exactly those plural nouns and
  lets every other noun phrase pass: it would enforce nothing but a spelling accident.
- Raises sections: numpydoc has no code for them (it cannot tell which exceptions a function
  raises), so they are written where a function raises but not checked here.
- The layout and wording codes (``GL01``-``GL03``, ``SS06``, ``ES01``, ``PR03``-``PR10``,
  ``RT02``-``RT05``, ``SA01``-``SA04``): not part of the issue; ``SA01`` would ask for a See
  Also section everywhere.

Scope:

- Dunder and operator methods (``__add__``, ``__getitem__``...) are excluded, as is
  everything starting with ``_``: they are documented by the operators' pages
  (docs/array-model.md), not one by one.
- Properties need only a summary and an example (``GL08``, ``SS01``-``SS03``, ``EX01``): a
  property has no parameters and its summary says what it is.
- The exception classes are checked without ``EX01``: an exception has no behaviour of its
  own to show; the examples of the functions that raise it show it raised.
- Names of ``gr.__all__`` that are neither functions nor classes are skipped, each kind for
  its reason in :data:`SKIPPED_KINDS`.
"""

from __future__ import annotations

import importlib
import inspect
from typing import Any

import numpydoc.validate
import pytest
from numpydoc.docscrape import get_doc_object

import grumpy_arrow as gr
from grumpy_arrow.dtypes import DType

CHECKED = frozenset({"GL08", "SS01", "SS02", "SS03", "PR01", "PR02", "RT01", "EX01"})
PROPERTY_CODES = frozenset({"GL08", "SS01", "SS02", "SS03", "EX01"})
EXCEPTION_CODES = CHECKED - {"EX01"}

SKIPPED_KINDS = {
    # documented by their module docstrings and their docs pages (docs/errors.md,
    # docs/savers.md, docs/storage.md), not validated as callables
    "module": lambda obj: inspect.ismodule(obj),
    # the dtype singletons (gr.int64...) are values: DType itself is validated
    "dtype singleton": lambda obj: isinstance(obj, DType),
    # gr.__version__: a string
    "version string": lambda obj: isinstance(obj, str),
}

# The classes whose public methods and properties are validated one by one, under the name
# numpydoc loads them from.
CLASSES = (
    "grumpy_arrow.GrumpyArray",
    "grumpy_arrow.DataFrame",
    "grumpy_arrow.storage.handle.Handle",
    "grumpy_arrow.streaming.stream.Stream",
)


def _skipped_kind(obj: Any) -> str | None:
    return next((kind for kind, test in SKIPPED_KINDS.items() if test(obj)), None)


def _exported() -> list[str]:
    """The functions and classes of ``gr.__all__`` (resolved through the package, which
    imports its lazy names on first use)."""
    names = []
    for name in gr.__all__:
        obj = getattr(gr, name)
        if inspect.isfunction(obj) or inspect.isclass(obj):
            names.append(name)
    return names


def _members(path: str) -> list[tuple[str, bool]]:
    """``(name, is_property)`` of the public members of a class defined in the project (in
    the class or a grumpy_arrow base such as ``Statistics``; not inherited from object)."""
    module, _, cls_name = path.rpartition(".")
    cls = getattr(importlib.import_module(module), cls_name)
    members = []
    for name in sorted(dir(cls)):
        if name.startswith("_"):
            continue
        owner = next((k for k in cls.__mro__ if name in vars(k)), None)
        if owner is None or not owner.__module__.startswith("grumpy_arrow"):
            continue
        members.append((name, isinstance(vars(owner)[name], property)))
    return members


def _codes(obj: Any, *, is_property: bool = False) -> frozenset[str]:
    if is_property:
        return PROPERTY_CODES
    if inspect.isclass(obj) and issubclass(obj, BaseException):
        return EXCEPTION_CODES
    return CHECKED


def _undocumented_public_parameters(name: str) -> set[str]:
    """The parameters of ``name``'s signature that its docstring does not document, less
    the private ones (a leading ``_``: internal plumbing such as ``Handle(_manifest=)``)."""
    doc = numpydoc.validate.Validator(get_doc_object(numpydoc.validate.Validator._load_obj(name)))
    documented = {param.replace("\\", "") for param in doc.doc_all_parameters}
    return {p for p in doc.signature_parameters if p not in documented and not p.startswith("_")}


def _failures(name: str, codes: frozenset[str]) -> list[str]:
    result = numpydoc.validate.validate(name)
    failures = []
    for code, message in result["errors"]:
        if code not in codes:
            continue
        if code == "PR01":  # numpydoc's PR01 counts private parameters too
            missing = _undocumented_public_parameters(name)
            if not missing:
                continue
            message = f"Parameters {sorted(missing)} not documented"
        failures.append(f"{code}: {message}")
    return failures


EXPORTED = _exported()
MEMBERS = [(f"{path}.{name}", prop) for path in CLASSES for name, prop in _members(path)]


def test_every_name_in_all_is_validated_or_skipped_for_a_stated_reason() -> None:
    unexplained = [
        name
        for name in gr.__all__
        if name not in EXPORTED and _skipped_kind(getattr(gr, name)) is None
    ]
    assert unexplained == []
    assert {_skipped_kind(getattr(gr, n)) for n in gr.__all__ if n not in EXPORTED} == set(
        SKIPPED_KINDS
    )


def test_the_validated_surface_is_the_whole_public_surface() -> None:
    # A guard against a collection that silently shrinks (a renamed class, a broken filter).
    assert len(EXPORTED) >= 70
    per_class = {path: len(_members(path)) for path in CLASSES}
    assert all(count >= 5 for count in per_class.values()), per_class
    assert ("grumpy_arrow.GrumpyArray.nanmean", False) in MEMBERS  # the Statistics mixin
    assert ("grumpy_arrow.GrumpyArray.dtype", True) in MEMBERS
    assert not any(name.rpartition(".")[2].startswith("_") for name, _ in MEMBERS)


@pytest.mark.parametrize("name", EXPORTED, ids=str)
def test_exported_name_has_a_numpydoc_docstring(name: str) -> None:
    codes = _codes(getattr(gr, name))
    assert _failures(f"grumpy_arrow.{name}", codes) == []


@pytest.mark.parametrize(
    ("name", "is_property"), MEMBERS, ids=[".".join(name.split(".")[-2:]) for name, _ in MEMBERS]
)
def test_public_member_has_a_numpydoc_docstring(name: str, is_property: bool) -> None:
    codes = _codes(None, is_property=is_property)
    assert _failures(name, codes) == []
