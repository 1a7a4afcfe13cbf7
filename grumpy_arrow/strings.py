"""``GrumpyArray.str``: pyarrow.compute string kernels on every string leaf.

Examples
--------
>>> import grumpy_arrow as gr
>>> gr.array(["P12345", ["p1-1", "p1-2"]]).str.upper().to_list()
['P12345', ['P1-1', 'P1-2']]
"""

from __future__ import annotations

from typing import Any

from grumpy_arrow import dtypes as dt
from grumpy_arrow.array import GrumpyArray
from grumpy_arrow.compute.elementwise import map_leaves
from grumpy_arrow.compute.strings import string_kernel
from grumpy_arrow.errors import DTypeError

__all__ = ["StringMethods"]


class StringMethods:
    """``x.str``: pyarrow.compute string kernels applied to every string leaf."""

    def __init__(self, arr: GrumpyArray) -> None:
        if arr.dtype != dt.string:
            raise DTypeError(f".str needs a string array, got {arr.dtype.name}")
        self._arr = arr

    def _apply(self, name: str, **options: Any) -> GrumpyArray:
        return GrumpyArray._wrap(map_leaves(self._arr.node, string_kernel(name, **options)))

    def upper(self) -> GrumpyArray:
        """Upper-case every string."""
        return self._apply("upper")

    def lower(self) -> GrumpyArray:
        """Lower-case every string."""
        return self._apply("lower")

    def len(self) -> GrumpyArray:
        """Length in characters (int64)."""
        return self._apply("len")

    def strip(self) -> GrumpyArray:
        """Remove leading and trailing whitespace."""
        return self._apply("strip")

    def contains(self, pattern: str, *, regex: bool = False, case: bool = True) -> GrumpyArray:
        """Whether each string contains ``pattern`` (a regex when ``regex=True``)."""
        return self._apply("contains", pattern=pattern, regex=regex, case=case)

    def startswith(self, prefix: str) -> GrumpyArray:
        """Whether each string starts with ``prefix``."""
        return self._apply("startswith", prefix=prefix)

    def endswith(self, suffix: str) -> GrumpyArray:
        """Whether each string ends with ``suffix``."""
        return self._apply("endswith", suffix=suffix)

    def replace(self, pattern: str, repl: str, *, regex: bool = False) -> GrumpyArray:
        """Replace every occurrence of ``pattern`` by ``repl``."""
        return self._apply("replace", pattern=pattern, repl=repl, regex=regex)
