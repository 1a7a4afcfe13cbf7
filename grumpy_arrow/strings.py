"""``GrumpyArray.str``: pyarrow.compute string kernels on every string leaf.

Examples
--------
>>> import grumpy_arrow as gr
>>> gr.array(["P12345", ["p1-1", "p1-2"]]).str.upper().to_list()
['P12345', ['P1-1', 'P1-2']]
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from grumpy_arrow import dtypes as dt
from grumpy_arrow._docstrings import name_method
from grumpy_arrow.compute.elementwise import map_leaves
from grumpy_arrow.compute.strings import (
    extract_all,
    join_node,
    name_groups,
    split_node,
    string_kernel,
)
from grumpy_arrow.errors import DTypeError

if TYPE_CHECKING:  # the arrays these methods hang off (array.py imports this module)
    from grumpy_arrow.array import GrumpyArray

__all__ = ["StringMethods"]

# The methods that take no option: one pyarrow.compute string kernel each, named alike.
_NO_OPTION_KERNELS: dict[str, str] = {
    "upper": "Upper-case every string.",
    "lower": "Lower-case every string.",
    "len": "Length in characters (int64).",
    "title": "Title-case every string.",
    "capitalize": "Upper-case the first character, lower-case the rest.",
    "byte_len": """Length in UTF-8 bytes (int64); ``len`` counts characters.

        Examples
        --------
        >>> import grumpy_arrow as gr
        >>> gr.array(["Å", "ab"]).str.byte_len().to_list()
        [2, 2]
        """,
    "isdigit": "Whether every character is a digit (and there is at least one).",
    "isalpha": "Whether every character is a letter (and there is at least one).",
    "isspace": "Whether every character is whitespace (and there is at least one).",
}


def _no_option_kernel(name: str) -> Callable[[StringMethods], GrumpyArray]:
    """The ``x.str.<name>()`` method of a kernel in :data:`_NO_OPTION_KERNELS`."""

    def method(self: StringMethods) -> GrumpyArray:
        return self._apply(name)

    name_method(method, "StringMethods", name, _NO_OPTION_KERNELS[name])
    return method


class StringMethods:
    """``x.str``: pyarrow.compute string kernels applied to every string leaf.

    Reach it as :attr:`GrumpyArray.str <grumpy_arrow.GrumpyArray.str>`; every method keeps
    the array's structure (lists, unions and nulls) and works on the leaves in one kernel call.

    Parameters
    ----------
    arr : GrumpyArray
        An array of strings (at any depth).

    Raises
    ------
    DTypeError
        If ``arr`` is not an array of strings.

    Examples
    --------
    >>> import grumpy_arrow as gr
    >>> x = gr.array([["Carbon", "helium"], [None, "neon"]])
    >>> x.str.capitalize().to_list()
    [['Carbon', 'Helium'], [None, 'Neon']]
    >>> x.str.startswith("ne").to_list()
    [[False, False], [None, True]]
    >>> gr.array([[1, 2]]).str
    Traceback (most recent call last):
    ...
    grumpy_arrow.errors.DTypeError: .str needs a string array, got int64
    """

    def __init__(self, arr: GrumpyArray) -> None:
        if arr.dtype != dt.string:
            raise DTypeError(f".str needs a string array, got {arr.dtype.name}")
        self._arr = arr

    def _apply(self, name: str, **options: Any) -> GrumpyArray:
        return type(self._arr)._wrap(map_leaves(self._arr.node, string_kernel(name, **options)))

    upper = _no_option_kernel("upper")
    lower = _no_option_kernel("lower")
    len = _no_option_kernel("len")
    title = _no_option_kernel("title")
    capitalize = _no_option_kernel("capitalize")
    byte_len = _no_option_kernel("byte_len")
    isdigit = _no_option_kernel("isdigit")
    isalpha = _no_option_kernel("isalpha")
    isspace = _no_option_kernel("isspace")

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

    def strip(self, chars: str | None = None) -> GrumpyArray:
        """Remove leading and trailing whitespace (or any of ``chars``)."""
        return self._apply("strip", chars=chars)

    def lstrip(self, chars: str | None = None) -> GrumpyArray:
        """Remove leading whitespace (or any of ``chars``)."""
        return self._apply("lstrip", chars=chars)

    def rstrip(self, chars: str | None = None) -> GrumpyArray:
        """Remove trailing whitespace (or any of ``chars``)."""
        return self._apply("rstrip", chars=chars)

    def match(self, pattern: str, *, case: bool = True) -> GrumpyArray:
        """Whether the regex ``pattern`` matches at the start of each string (pandas'
        ``str.match``; ``fullmatch`` needs the whole string).

        Examples
        --------
        >>> import grumpy_arrow as gr
        >>> gr.array([["C1", "xC"], ["Ca"]]).str.match("C").to_list()
        [[True, False], [True]]
        """
        return self._apply("match", pattern=pattern, case=case)

    def fullmatch(self, pattern: str, *, case: bool = True) -> GrumpyArray:
        """Whether the regex ``pattern`` matches each whole string."""
        return self._apply("fullmatch", pattern=pattern, case=case)

    def count(self, pattern: str, *, regex: bool = False) -> GrumpyArray:
        """Non-overlapping occurrences of ``pattern`` in each string (int64).

        Examples
        --------
        >>> import grumpy_arrow as gr
        >>> gr.array(["banana", None]).str.count("an").to_list()
        [2, None]
        """
        return self._apply("count", pattern=pattern, regex=regex)

    def find(self, sub: str) -> GrumpyArray:
        """Index of the first occurrence of ``sub`` in each string, -1 when absent."""
        return self._apply("find", sub=sub)

    def slice(
        self, start: int | None = None, stop: int | None = None, step: int = 1
    ) -> GrumpyArray:
        """Characters ``[start:stop:step]`` of every string (Python's slice rules).

        Examples
        --------
        >>> import grumpy_arrow as gr
        >>> gr.array([["hello", "ab"], ["xyz"]]).str.slice(1, 3).to_list()
        [['el', 'b'], ['yz']]
        """
        if step == 0:
            raise ValueError(".str.slice step cannot be zero")
        if start is None:
            start = 0 if step > 0 else -1
        if stop is None:
            stop = sys.maxsize if step > 0 else -sys.maxsize
        return self._apply("slice", start=start, stop=stop, step=step)

    def extract(self, pattern: str) -> GrumpyArray:
        """The text matched by the single capture group of ``pattern`` (null where the
        pattern does not match); :meth:`extract_all` gives several groups.

        Examples
        --------
        >>> import grumpy_arrow as gr
        >>> gr.array(["C12", "N3", "H"]).str.extract(r"(\\d+)").to_list()
        ['12', '3', None]
        """
        return self._apply("extract", pattern=pattern)

    def extract_all(self, pattern: str) -> dict[str, GrumpyArray]:
        """Every capture group of ``pattern``: a dict from group name (``_0``, ``_1``...
        for unnamed groups) to an array of the same structure (null where no match).

        Examples
        --------
        >>> import grumpy_arrow as gr
        >>> parts = gr.array(["C12", "N3"]).str.extract_all(r"(?P<el>[A-Z])(\\d+)")
        >>> {k: v.to_list() for k, v in parts.items()}
        {'el': ['C', 'N'], '_1': ['12', '3']}
        """
        names = name_groups(pattern)[1]
        return {
            name: self._apply_fn(lambda v, name=name: extract_all(v, pattern)[name])
            for name in names
        }

    def _apply_fn(self, fn: Any) -> GrumpyArray:
        return type(self._arr)._wrap(map_leaves(self._arr.node, fn))

    def split(
        self, pat: str | None = None, *, n: int | None = None, regex: bool = False
    ) -> GrumpyArray:
        """Split every string at ``pat`` (whitespace runs when None) into a list: the
        result has one more, innermost, ``var`` axis. ``n`` limits the splits per string.

        Examples
        --------
        >>> import grumpy_arrow as gr
        >>> lines = gr.array([["a b", "c"], ["d  e f"]])
        >>> lines.str.split()
        <GrumpyArray [[['a', 'b'], ['c']], [['d', 'e', 'f']]] type='2 * var * var * string'>
        >>> gr.array(["1,2,3"]).str.split(",", n=1).to_list()
        [['1', '2,3']]
        """
        return type(self._arr)._wrap(split_node(self._arr.node, pat, n, regex))

    def join(self, sep: str = "") -> GrumpyArray:
        """Join every innermost list of strings with ``sep``: one list axis fewer (the
        inverse of :meth:`split`; a null list gives null, an empty list ``""``).

        Examples
        --------
        >>> import grumpy_arrow as gr
        >>> gr.array([[["a", "b"], ["c"]], [[]]]).str.join("-").to_list()
        [['a-b', 'c'], ['']]
        """
        return type(self._arr)._wrap(join_node(self._arr.node, sep))
