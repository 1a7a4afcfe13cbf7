"""Arrow columns as JSON text, whole buffers at a time (``convert`` writes JSONL and CSV).

pyarrow reads JSON but does not write it. Encoding a column is a handful of
``pyarrow.compute`` string kernels over its buffers — never a Python loop over rows:
numbers are cast to text, strings escaped and quoted, and each list level is joined with
``binary_join`` over its offsets. A row becomes ``{"name": value, ...}`` by element-wise
concatenation, and the lines are written straight from the result's data buffer.

Floats are written at their exact float64 value with a decimal point or an exponent
(``1.0``, ``0.10000000149011612`` for float32 0.1), so reading the text back gives the
same numbers and infers a float column even when a block holds only integral values.
NaN and infinities are written as ``NaN``, ``Infinity`` and ``-Infinity`` (as Python's
``json`` module does; pyarrow reads them).

Examples
--------
>>> import pyarrow as pa
>>> from grumpy_arrow.cli.jsontext import to_json_text
>>> to_json_text(pa.array([[1.5, None], None, []]), "x").to_pylist()
['[1.5,null]', 'null', '[]']
>>> to_json_text(pa.array(['say "hi"\\n', None]), "s").to_pylist()
['"say \\\\"hi\\\\"\\\\n"', 'null']
"""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import IO, Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pj

from grumpy_arrow.errors import ConversionError, LayoutError
from grumpy_arrow.layout import is_list_type

__all__ = [
    "MAX_JSON_DEPTH",
    "DepthScanner",
    "JSONDepthError",
    "float_text",
    "from_json_text",
    "is_nested",
    "json_lines",
    "to_json_text",
    "write_text",
]

# pyarrow's JSON parser recurses once per nested array or object, and overflows the C
# stack (a segfault, not an exception) somewhere between 10,000 and 50,000 levels. Text is
# scanned before it reaches the parser and refused past this depth.
MAX_JSON_DEPTH = 1000


def _s(text: str) -> pa.Scalar:
    """A ``large_string`` literal (kernels do not mix ``string`` and ``large_string``)."""
    return pa.scalar(text, pa.large_string())


_SHORT_ESCAPES = {"\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t"}


def is_nested(typ: pa.DataType) -> bool:
    """Whether a column type is a list, struct, map or union (which CSV cannot hold)."""
    return bool(
        is_list_type(typ)
        or pa.types.is_struct(typ)
        or pa.types.is_map(typ)
        or pa.types.is_union(typ)
    )


def to_json_text(arr: Any, where: str) -> pa.Array:
    """Each value of ``arr`` as JSON text (``"null"`` for nulls), a ``large_string`` array.

    Raises
    ------
    LayoutError
        For binary data or a type with no JSON form, naming ``where`` (the column).
    """
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    typ = arr.type
    if pa.types.is_dictionary(typ):
        return to_json_text(arr.dictionary_decode(), where)
    if pa.types.is_null(typ):
        text = pa.nulls(len(arr), pa.large_string())
    elif pa.types.is_boolean(typ):
        text = pc.if_else(arr, _s("true"), _s("false"))
    elif pa.types.is_integer(typ):
        text = pc.cast(arr, pa.large_string())
    elif pa.types.is_floating(typ):
        text = float_text(arr)
    elif pa.types.is_string(typ) or pa.types.is_large_string(typ) or pa.types.is_string_view(typ):
        text = _quoted(pc.cast(arr, pa.large_string()))
    elif (
        pa.types.is_binary(typ)
        or pa.types.is_large_binary(typ)
        or (pa.types.is_fixed_size_binary(typ) or pa.types.is_binary_view(typ))
    ):
        raise LayoutError(f"column {where!r} holds binary data ({typ}), which JSON cannot hold")
    elif is_list_type(typ):
        text = _lists(arr, where)
    elif pa.types.is_struct(typ):
        text = _structs(arr, where)
    else:
        try:  # dates, timestamps, decimals...: their text, as JSON strings
            text = _quoted(pc.cast(arr, pa.large_string()))
        except (pa.ArrowNotImplementedError, pa.ArrowInvalid) as err:
            raise LayoutError(f"column {where!r} has type {typ}, which has no JSON form") from err
    return pc.fill_null(pc.cast(text, pa.large_string()), _s("null"))


def float_text(arr: pa.Array) -> pa.Array:
    """Floats as exact JSON numbers (``1.0``, ``NaN``, ``-Infinity``); nulls stay null."""
    wide = pc.cast(arr, pa.float64())
    text = pc.cast(wide, pa.large_string())
    # "1" -> "1.0", so a reader infers a float column from any block of it.
    bare = pc.invert(pc.match_substring_regex(text, "[.eEna]"))
    text = pc.if_else(bare, pc.binary_join_element_wise(text, _s(".0"), _s("")), text)
    text = pc.if_else(pc.is_nan(wide), _s("NaN"), text)
    return pc.if_else(
        pc.is_inf(wide), pc.if_else(pc.greater(wide, 0), _s("Infinity"), _s("-Infinity")), text
    )


def _quoted(text: pa.Array) -> pa.Array:
    text = pc.replace_substring(text, "\\", "\\\\")
    text = pc.replace_substring(text, '"', '\\"')
    if len(text) and pc.any(pc.match_substring_regex(text, r"[\x00-\x1f]")).as_py():
        for code in range(32):
            char = chr(code)
            text = pc.replace_substring(text, char, _SHORT_ESCAPES.get(char, f"\\u{code:04x}"))
    return pc.binary_join_element_wise(_s('"'), text, _s('"'), _s(""))


def _lists(arr: pa.Array, where: str) -> pa.Array:
    if not (pa.types.is_list(arr.type) or pa.types.is_large_list(arr.type)):
        arr = pc.cast(arr, pa.large_list(arr.type.value_type))
    lengths = pc.fill_null(pc.list_value_length(arr), 0).to_numpy(zero_copy_only=False)
    offsets = np.zeros(len(arr) + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    items = to_json_text(arr.flatten(), where)  # flatten() honours slices and null rows
    joined = pc.binary_join(pa.LargeListArray.from_arrays(pa.array(offsets), items), _s(","))
    text = pc.binary_join_element_wise(_s("["), joined, _s("]"), _s(""))
    return pc.if_else(arr.is_valid(), text, pa.scalar(None, pa.large_string()))


def _structs(arr: pa.Array, where: str) -> pa.Array:
    parts: list[Any] = [_s("{")]
    for k, child in enumerate(arr.flatten()):
        name = arr.type.field(k).name
        parts += [_s(("," if k else "") + _key(name)), to_json_text(child, f"{where}.{name}")]
    parts.append(_s("}"))
    text = pc.binary_join_element_wise(*parts, _s(""))
    if not isinstance(text, pa.Array):  # a struct without fields
        text = pa.array(["{}"] * len(arr), pa.large_string())
    return pc.if_else(arr.is_valid(), text, pa.scalar(None, pa.large_string()))


def _key(name: str) -> str:
    quoted: str = _quoted(pa.array([name], pa.large_string()))[0].as_py()
    return quoted + ":"


def json_lines(table: pa.Table | pa.RecordBatch) -> pa.Array:
    """One JSON object per row, each ending in a newline (a ``large_string`` array)."""
    parts: list[Any] = [_s("{")]
    for k, name in enumerate(table.schema.names):
        parts += [_s(("," if k else "") + _key(name)), to_json_text(table.column(k), name)]
    parts.append(_s("}\n"))
    if table.num_columns == 0:
        return pa.array(["{}\n"] * table.num_rows, pa.large_string())
    lines = pc.binary_join_element_wise(*parts, _s(""))
    return pc.cast(lines, pa.large_string())


def write_text(sink: IO[bytes] | Any, text: pa.Array) -> int:
    """Write a null-free string array's values back to back (from its data buffer).

    Returns the number of bytes written.
    """
    text = pc.cast(text, pa.large_string())
    if len(text) == 0:
        return 0
    offsets = np.frombuffer(text.buffers()[1], dtype=np.int64)[text.offset :]
    start, stop = int(offsets[0]), int(offsets[len(text)])
    data = text.buffers()[2]
    if data is None or stop == start:
        return 0
    sink.write(memoryview(data)[start:stop])
    return stop - start


def from_json_text(
    text: pa.Array,
    typ: pa.DataType | None,
    where: str,
    *,
    locate: Callable[[int], str] | None = None,
) -> pa.Array:
    """Parse a column of JSON texts (``null`` for nulls) into Arrow values.

    ``typ`` fixes the result type (a later batch must parse like the first); ``None``
    infers it. ``locate(i)`` names where value ``i`` came from in error messages (default:
    the column and the value's index).

    Raises
    ------
    pyarrow.ArrowInvalid
        For text that is not JSON or does not fit ``typ`` (with the column named).
    JSONDepthError
        For a value nested deeper than :data:`MAX_JSON_DEPTH` arrays and objects.
    """
    text = pc.fill_null(pc.cast(text, pa.large_string()), _s("null"))
    rows = pc.binary_join_element_wise(_s('{"v":'), text, _s("}\n"), _s(""))
    sink = io.BytesIO()
    write_text(sink, rows)
    # Each row adds one object around the value: the value may have MAX_JSON_DEPTH levels.
    scanner = DepthScanner(
        lambda line: (locate or (lambda i: f"column {where!r}, value {i}"))(line - 1),
        limit=MAX_JSON_DEPTH + 1,
        wrapped=True,
    )
    scanner.feed(sink.getbuffer())
    schema = None if typ is None else pa.schema([pa.field("v", typ)])
    longest = pc.max(pc.binary_length(rows)).as_py() or 0
    # A row must fit in one parser block.
    block = pj.ReadOptions(block_size=max(1 << 20, 2 * longest))
    options = pj.ParseOptions(explicit_schema=schema)
    try:
        table = pj.read_json(io.BytesIO(sink.getvalue()), read_options=block, parse_options=options)
    except pa.ArrowInvalid as err:
        raise pa.ArrowInvalid(f"column {where!r} does not hold JSON text: {err}") from err
    if table.num_rows != len(text):  # empty input: no rows at all
        return pa.nulls(len(text), typ or pa.null())
    return table.column("v").combine_chunks()


class JSONDepthError(ConversionError):
    """JSON text nested deeper than :data:`MAX_JSON_DEPTH` arrays and objects."""


class DepthScanner:
    """Checks that JSON lines fed to it in pieces nest at most ``limit`` arrays and objects.

    Brackets inside strings do not count (escaped quotes are followed); every newline ends a
    line, as in JSON Lines. The work is a few NumPy passes over each piece's bytes, then
    over the positions of its brackets and quotes, never a Python loop over characters.

    Parameters
    ----------
    locate : callable
        ``locate(line)`` (1-based) names a line in the error message, e.g. the file and line.
    limit : int
        The deepest nesting allowed (default :data:`MAX_JSON_DEPTH`).
    wrapped : bool
        Each line is one value wrapped in an object by the caller: the message then
        reports the depth of the value (one less than the line's).

    Examples
    --------
    >>> scanner = DepthScanner(lambda line: f"data.jsonl: line {line}", limit=3)
    >>> scanner.feed(b'{"a": [[1]], "s": "[[[[["}\\n')
    >>> scanner.feed(b'{"a": [[[1]]]}\\n')
    Traceback (most recent call last):
    ...
    grumpy_arrow.cli.jsontext.JSONDepthError: data.jsonl: line 2: JSON nested deeper than 3 ...
    """

    def __init__(
        self, locate: Callable[[int], str], *, limit: int = MAX_JSON_DEPTH, wrapped: bool = False
    ) -> None:
        self.locate, self.limit, self.wrapped = locate, limit, wrapped
        self.line = 1  # the line the next piece starts in
        self.depth = 0  # open arrays/objects of that line
        self.in_string = False
        self.backslashes = 0  # backslashes ending the previous piece

    def feed(self, data: Any) -> None:
        """Scan the next piece of text (bytes-like).

        Raises
        ------
        JSONDepthError
            At the first line nested deeper than the limit, naming it.
        """
        b = np.frombuffer(data, dtype=np.uint8)
        if not len(b):
            return
        newlines = np.flatnonzero(b == 10)
        opens = np.flatnonzero((b | 32) == 123)  # "[" is 0x5b, "{" 0x7b
        # Fast path: a line with at most `limit` opening brackets (in strings or not) cannot
        # nest deeper than that; then only the last line's state needs the exact scan.
        per_line = np.diff(np.searchsorted(opens, newlines), prepend=0, append=len(opens))
        per_line[0] += self.depth
        if int(per_line.max()) <= self.limit and len(newlines):
            self.line += len(newlines)
            self.depth, self.in_string, self.backslashes = 0, False, 0
            b = b[int(newlines[-1]) + 1 :]
        self._scan(b)

    def _scan(self, b: np.ndarray) -> None:
        """The exact scan, on the positions of brackets, quotes, backslashes and newlines."""
        kinds = _KINDS[b]
        pos = np.flatnonzero(kinds)
        kind = kinds[pos]
        m = len(kind)
        is_newline = kind == _NEWLINE
        real_quote = np.zeros(m, dtype=bool)
        real_quote[self._real_quotes(pos, kind)] = True
        # Index of the newline each item's line starts after (-1: the line carried in).
        after = np.maximum.accumulate(np.where(is_newline, np.arange(m), -1)) if m else pos
        carried = after < 0
        quotes = np.cumsum(real_quote)
        in_line = quotes - np.where(carried, 0, quotes[np.maximum(after, 0)])
        # Inside a string: an odd number of real quotes before the item in its line.
        inside = ((in_line - real_quote) % 2 == 1) != (carried & self.in_string)
        step = np.where(inside, 0, np.where(kind == _OPEN, 1, np.where(kind == _CLOSE, -1, 0)))
        total = np.cumsum(step)
        depth = total - np.where(carried, -self.depth, total[np.maximum(after, 0)])
        deep = np.flatnonzero(depth > self.limit)
        if len(deep):
            line = self.line + int(np.count_nonzero(is_newline[: deep[0]]))
            shown = self.limit - 1 if self.wrapped else self.limit
            raise JSONDepthError(
                f"{self.locate(line)}: JSON nested deeper than {shown} arrays/objects; at "
                f"most {shown} are read (deeper text would overflow the JSON parser)"
            )
        if m:
            self.depth = int(depth[-1])
            self.in_string = bool((in_line[-1] % 2 == 1) != (carried[-1] and self.in_string))
            self.line += int(np.count_nonzero(is_newline))
        tail = b[::-1] != 92
        self.backslashes = int(np.argmax(tail)) if tail.any() else self.backslashes + len(b)

    def _real_quotes(self, pos: np.ndarray, kind: np.ndarray) -> np.ndarray:
        """Indices (into ``pos``) of the quotes that open or close strings (not ``\\"``)."""
        quotes = np.flatnonzero(kind == _QUOTE)
        # An odd run of backslashes right before a quote escapes it; follow the (rare)
        # runs back, one backslash per round.
        run = np.zeros(len(quotes), dtype=np.int64)
        j = quotes - 1
        want = pos[quotes] - 1  # where the next backslash of the run would be
        alive = np.ones(len(quotes), dtype=bool)
        while alive.any():
            at_start = alive & (want < 0)
            run[at_start] += self.backslashes  # the run goes on in the previous piece
            alive &= (want >= 0) & (j >= 0)
            alive[alive] = (kind[j[alive]] == _BACKSLASH) & (pos[j[alive]] == want[alive])
            run[alive] += 1
            j, want = j - 1, want - 1
        real: np.ndarray = quotes[run % 2 == 0]
        return real


_OPEN, _CLOSE, _QUOTE, _BACKSLASH, _NEWLINE = 1, 2, 3, 4, 5
_KINDS = np.zeros(256, dtype=np.int8)
_KINDS[[ord("["), ord("{")]] = _OPEN
_KINDS[[ord("]"), ord("}")]] = _CLOSE
_KINDS[ord('"')] = _QUOTE
_KINDS[ord("\\")] = _BACKSLASH
_KINDS[ord("\n")] = _NEWLINE
