"""String kernels behind ``GrumpyArray.str`` (pyarrow.compute on whole leaf buffers).

Most methods map one string leaf to one leaf of the same length (:func:`string_kernel`);
``split`` adds an innermost list axis and ``join`` removes one (:func:`split_node`,
:func:`join_node`).
"""

from __future__ import annotations

import re
from collections.abc import Callable

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from grumpy_arrow import layout as lay
from grumpy_arrow.compute.gather import offsets_from_lengths
from grumpy_arrow.errors import DTypeError, LayoutError

__all__ = ["join_node", "name_groups", "split_node", "string_kernel"]


def _require_text(values: pa.Array, name: str) -> None:
    typ = values.type
    if not (pa.types.is_string(typ) or pa.types.is_large_string(typ)):
        raise DTypeError(f".str.{name} needs string values, got {typ}")


def _strip(values: pa.Array, side: str, chars: object) -> pa.Array:
    if chars is None:
        fn = {
            "both": pc.utf8_trim_whitespace,
            "left": pc.utf8_ltrim_whitespace,
            "right": pc.utf8_rtrim_whitespace,
        }[side]
        return fn(values)
    fn = {"both": pc.utf8_trim, "left": pc.utf8_ltrim, "right": pc.utf8_rtrim}[side]
    return fn(values, characters=chars)


def _extract(values: pa.Array, pattern: str) -> pa.Array:
    named, names = name_groups(pattern)
    if len(names) != 1:
        raise DTypeError(
            f".str.extract needs a pattern with exactly one group (got {len(names)} in "
            f"{pattern!r}); use .str.extract_all for several"
        )
    return pc.extract_regex(values, pattern=named).flatten()[0]


_SIMPLE: dict[str, Callable[[pa.Array], pa.Array]] = {
    "upper": pc.utf8_upper,
    "lower": pc.utf8_lower,
    "title": pc.utf8_title,
    "capitalize": pc.utf8_capitalize,
    "swapcase": pc.utf8_swapcase,
    "reverse": pc.utf8_reverse,
    "len": lambda v: pc.cast(pc.utf8_length(v), pa.int64()),
    "byte_len": lambda v: pc.cast(pc.binary_length(v), pa.int64()),
    "isdigit": pc.utf8_is_digit,
    "isalpha": pc.utf8_is_alpha,
    "isalnum": pc.utf8_is_alnum,
    "isspace": pc.utf8_is_space,
    "islower": pc.utf8_is_lower,
    "isupper": pc.utf8_is_upper,
}


def string_kernel(name: str, **options: object) -> Callable[[pa.Array], pa.Array]:
    """A leaf kernel for one ``.str`` method with its options bound."""

    def kernel(values: pa.Array) -> pa.Array:
        _require_text(values, name)
        if name in _SIMPLE:
            return _SIMPLE[name](values)
        if name in ("strip", "lstrip", "rstrip"):
            side = {"strip": "both", "lstrip": "left", "rstrip": "right"}[name]
            return _strip(values, side, options.get("chars"))
        if name == "contains":
            fn = pc.match_substring_regex if options["regex"] else pc.match_substring
            return fn(values, pattern=options["pattern"], ignore_case=options["case"] is False)
        if name == "match":
            # pandas' rule (re.match): the pattern must match at the start of the string.
            pattern = f"^(?:{options['pattern']})"
            return pc.match_substring_regex(
                values, pattern=pattern, ignore_case=options["case"] is False
            )
        if name == "fullmatch":
            pattern = f"^(?:{options['pattern']})$"
            return pc.match_substring_regex(
                values, pattern=pattern, ignore_case=options["case"] is False
            )
        if name == "startswith":
            return pc.starts_with(values, pattern=options["prefix"])
        if name == "endswith":
            return pc.ends_with(values, pattern=options["suffix"])
        if name == "replace":
            fn = pc.replace_substring_regex if options["regex"] else pc.replace_substring
            return fn(values, pattern=options["pattern"], replacement=options["repl"])
        if name == "count":
            fn = pc.count_substring_regex if options["regex"] else pc.count_substring
            return pc.cast(fn(values, pattern=options["pattern"]), pa.int64())
        if name == "find":
            return pc.cast(pc.find_substring(values, pattern=options["sub"]), pa.int64())
        if name == "slice":
            return pc.utf8_slice_codeunits(
                values, start=options["start"], stop=options["stop"], step=options["step"]
            )
        if name == "extract":
            return _extract(values, str(options["pattern"]))
        raise AttributeError(f".str has no method {name!r}")

    return kernel


def name_groups(pattern: str) -> tuple[str, list[str]]:
    """``pattern`` with every capture group named (Arrow's ``extract_regex`` needs names)
    and the group names in order: unnamed groups become ``_0``, ``_1``...

    The scan skips escapes (``\\(``), character classes (``[(]``) and non-capturing or
    look-around groups (``(?:``, ``(?=``), so only real capture groups are named.
    """
    try:
        groups = re.compile(pattern).groups
    except re.error as err:
        raise DTypeError(f"invalid regular expression {pattern!r}: {err}") from err
    out: list[str] = []
    names: list[str] = []
    i, in_class = 0, False
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\":
            out.append(pattern[i : i + 2])
            i += 2
            continue
        if in_class:
            in_class = ch != "]"
        elif ch == "[":
            in_class = True
            if pattern[i + 1 : i + 2] == "]":  # "[]...]": the first ] is a literal
                out.append("[]")
                i += 2
                continue
        elif ch == "(":
            if pattern.startswith("(?P<", i):
                names.append(pattern[i + 4 : pattern.index(">", i)])
            elif pattern[i + 1 : i + 2] != "?":
                name = f"_{len(names)}"
                names.append(name)
                out.append(f"(?P<{name}>")
                i += 1
                continue
        out.append(ch)
        i += 1
    if len(names) != groups:  # a syntax this scan does not know: refuse rather than guess
        raise DTypeError(
            f"could not name the {groups} groups of {pattern!r}; name them with (?P<name>...)"
        )
    return "".join(out), names


def extract_all(values: pa.Array, pattern: str) -> dict[str, pa.Array]:
    """Every capture group of ``pattern`` as one string array (null where no match)."""
    _require_text(values, "extract_all")
    named, names = name_groups(pattern)
    if not names:
        raise DTypeError(f".str.extract_all needs a pattern with groups, got {pattern!r}")
    found = pc.extract_regex(values, pattern=named)
    return dict(zip(names, found.flatten(), strict=True))


def split_node(
    node: lay.Node, pattern: str | None, max_splits: int | None, regex: bool
) -> lay.Node:
    """Every string leaf split into a list of pieces: one more (innermost) list axis."""
    if isinstance(node, lay.UnionNode):
        raise LayoutError(
            ".str.split of a scalar-or-list union would give a union of "
            "lists and lists of lists; split each branch separately"
        )
    if isinstance(node, lay.ListNode):
        return node.with_content(split_node(node.content, pattern, max_splits, regex))
    if isinstance(node, lay.RecordNode):
        raise lay.record_error(".str.split", node)
    values = node.values
    _require_text(values, "split")
    if pattern is None:
        return lay.from_arrow(_split_whitespace(values, max_splits))
    elif regex:
        pieces = pc.split_pattern_regex(values, pattern=pattern, max_splits=max_splits)
    else:
        if pattern == "":
            raise DTypeError(".str.split needs a non-empty pattern (or None for whitespace)")
        pieces = pc.split_pattern(values, pattern=pattern, max_splits=max_splits)
    return lay.from_arrow(pieces)


def _split_whitespace(values: pa.Array, max_splits: int | None) -> pa.Array:
    """Python's ``str.split()``: runs of whitespace separate, and leading or trailing
    whitespace gives no empty pieces (Arrow's kernel gives them, so they are dropped)."""
    # Arrow's utf8_split_whitespace decodes one character past the end of a string that
    # ends in whitespace; after the last string that is uninitialised buffer padding, and
    # an invalid byte there loses the trailing split ("trail " stays whole). A sentinel
    # last string puts valid text there; its row is dropped again.
    sentinel = pa.concat_arrays([values, pa.array(["x"], values.type)])
    trimmed = pc.utf8_ltrim_whitespace(sentinel)
    pieces = pc.utf8_split_whitespace(trimmed, max_splits=max_splits)[: len(values)]
    # Left-trimmed, the only empty pieces are a trailing one and that of an empty string;
    # a whitespace run ending a string leaves its last character as a piece (" " when
    # max_splits stops there), which Python drops too.
    flat = pieces.flatten()
    rest = pc.binary_length(pc.utf8_ltrim_whitespace(flat))
    keep = pc.greater(rest, 0).to_numpy(zero_copy_only=False)
    if keep.all():
        return pieces
    lengths = pc.list_value_length(pieces).fill_null(0).to_numpy(zero_copy_only=False)
    rows = np.repeat(np.arange(len(pieces), dtype=np.int64), lengths)
    counts = np.bincount(rows[keep], minlength=len(pieces))
    offsets = pa.array(offsets_from_lengths(counts))
    return pa.ListArray.from_arrays(offsets, flat.filter(pa.array(keep)), mask=pieces.is_null())


def join_node(node: lay.Node, sep: str) -> lay.Node:
    """Innermost lists of strings joined with ``sep``: one list axis fewer."""
    if isinstance(node, lay.UnionNode):
        raise LayoutError(".str.join of a scalar-or-list union: select the list rows first")
    if isinstance(node, lay.Leaf):
        raise LayoutError(
            ".str.join needs lists of strings (an array with a var axis), got flat strings"
        )
    if isinstance(node, lay.RecordNode):
        raise lay.record_error(".str.join", node)
    if isinstance(node.content, lay.Leaf):
        _require_text(node.content.values, "join")
        lists = lay.to_arrow(lay.variable(node), dictionaries=False)
        return lay.Leaf(pc.binary_join(lists, sep))
    return node.with_content(join_node(node.content, sep))
