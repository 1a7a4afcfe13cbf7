"""JSON Lines read block by block, with field types that may change from one block to
the next the ways a store widens (``grumpy-arrow convert``; docs/cli.md, "Fields whose
type changes in JSON Lines").

pyarrow's streaming JSON reader infers types from its first block and refuses a field that
changes later ("changed from array to string"). :func:`read_json_lines` cuts the text into
blocks of whole lines itself and parses each with pyarrow's reader under the types seen so
far; only a block pyarrow refuses is parsed again with Python's ``json``, each field built
as grumpy builds it (a scalar-or-list union where scalars and lists mix).
:func:`merge_types` says which changes a column can take, and :func:`rebatch_tables` cuts
the tables, whose schemas may differ, into batches.

Examples
--------
>>> import io
>>> text = b'{"id": ["P1"], "n": 1}\\n{"id": "P2", "n": 2.5}\\n'
>>> table = next(read_json_lines(io.BytesIO(text), block_size=1 << 20, locate=str))
>>> table.column("id").to_pylist(), table.column("n").to_pylist()
([['P1'], 'P2'], [1.0, 2.5])
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.json as pj

from grumpy_arrow.array import asarray
from grumpy_arrow.cli.jsontext import DepthScanner
from grumpy_arrow.errors import GrumpyError, LayoutError
from grumpy_arrow.layout import arrow_leaf_type, describe, is_list_type, union_type

__all__ = ["json_text", "merge_types", "read_json_lines", "rebatch_tables", "show_type"]


_WIDENS = (
    "a JSON Lines field may change between scalars and lists of them (a union), from "
    "integers to floats, and from nulls to values (column types are inferred from the "
    "first block a field appears in; a larger --block-size widens it)"
)


def read_json_lines(
    stream: Any, *, block_size: int, locate: Callable[[int], str]
) -> Iterator[pa.Table]:
    """JSON Lines (one object a line) as tables, one per block of whole lines, whose
    field types may change from block to block the ways a store widens them.

    Each block (about ``block_size`` bytes, cut after a newline) is checked for depth
    (:class:`DepthScanner`) and parsed by pyarrow's JSON reader with the types the fields
    had so far. A block pyarrow refuses — a field that is an array on some lines and a
    string on others, a float in an integer field — is parsed again line by line with
    Python's ``json`` module (a loop over its lines, which only blocks with such a change
    pay) and each field built as the grumpy array of its values: a scalar-or-list union
    where scalars and lists mix. Blank lines are skipped.

    Parameters
    ----------
    stream : binary stream
        The (decompressed) text; ``stream.read(n)`` gives bytes.
    block_size : int
        Bytes per block (a longer line makes its block longer).
    locate : callable
        ``locate(line)`` (1-based) names a line in messages, e.g. the file and line.

    Yields
    ------
    pyarrow.Table
        One per block with rows, columns in the order fields first appeared.

    Raises
    ------
    pyarrow.ArrowInvalid
        For a line that is not a JSON object, or a field whose values change in a way no
        column holds (an integer field meeting strings), naming the line.
    JSONDepthError
        For a line nested deeper than :data:`MAX_JSON_DEPTH`.

    Examples
    --------
    >>> import io
    >>> text = b'{"id": "P1", "n": 1}\\n{"id": ["P2", "P3"], "n": 2}\\n'
    >>> [t.column("id").type for t in read_json_lines(io.BytesIO(text), block_size=64,
    ...                                                locate=str)]
    [DenseUnionType(dense_union<scalar: string=0, list: large_list<item: string>=1>)]
    """
    scanner = DepthScanner(locate)
    known: dict[str, pa.DataType] = {}
    for line, block in _line_blocks(stream, block_size):
        scanner.feed(block)
        table = _parse_block(block, line, known, locate)
        if table.num_rows:
            yield table


def _line_blocks(stream: Any, block_size: int) -> Iterator[tuple[int, bytes]]:
    """``(number of its first line, block)``: the text cut after newlines."""
    carry, line = b"", 1
    while chunk := stream.read(block_size):
        data = carry + bytes(chunk)
        cut = data.rfind(b"\n") + 1
        if not cut:  # a line longer than a block: read on
            carry = data
            continue
        carry = data[cut:]
        yield line, data[:cut]
        line += data.count(b"\n", 0, cut)
    if carry.strip():
        yield line, carry


def _parse_block(
    block: bytes, line: int, known: dict[str, pa.DataType], locate: Callable[[int], str]
) -> pa.Table:
    """One block as a table; ``known`` (field -> type so far) widened by it."""
    explicit = pa.schema([(n, _small(t)) for n, t in known.items() if _pyarrow_can_parse(t)])
    options = pj.ParseOptions(explicit_schema=explicit, unexpected_field_behavior="infer")
    # pyarrow parses pieces of 1 MiB on its threads; a line must fit in one.
    ends = np.flatnonzero(np.frombuffer(block, dtype=np.uint8) == 10)
    longest = int(np.diff(ends, prepend=-1, append=len(block)).max())
    pieces = pj.ReadOptions(block_size=max(1 << 20, 2 * longest))
    try:
        table = pj.read_json(io.BytesIO(block), parse_options=options, read_options=pieces)
    except pa.ArrowInvalid:
        table = _parse_lines(block, line, known, locate)
    for field in table.schema:
        try:
            known[field.name] = merge_types(known.get(field.name), field.type)
        except TypeError:
            raise _changed(block, line, field.name, known.get(field.name), locate) from None
    return table


def _small(typ: pa.DataType) -> pa.DataType:
    """``typ`` with 32-bit lists and strings (pyarrow's JSON reader takes no large ones)."""
    if pa.types.is_large_string(typ):
        return pa.string()
    if is_list_type(typ):
        return pa.list_(_small(typ.value_type))
    return typ


def _pyarrow_can_parse(typ: pa.DataType) -> bool:
    """Whether pyarrow's JSON reader takes ``typ`` in an explicit schema (no unions)."""
    if pa.types.is_null(typ) or pa.types.is_union(typ):
        return False
    if is_list_type(typ):
        return _pyarrow_can_parse(typ.value_type)
    if pa.types.is_struct(typ):
        return all(_pyarrow_can_parse(f.type) for f in typ)
    return True


def _rows(block: bytes, line: int, locate: Callable[[int], str]) -> Iterator[tuple[int, Any]]:
    """``(line number, object)`` of each non-blank line (Python's parser)."""
    for k, raw in enumerate(block.split(b"\n")):
        if not raw.strip():
            continue
        try:
            obj = json.loads(raw)
        except ValueError as err:
            raise pa.ArrowInvalid(f"{locate(line + k)}: not JSON: {err}") from None
        if not isinstance(obj, dict):
            raise pa.ArrowInvalid(
                f"{locate(line + k)}: expected a JSON object, got {type(obj).__name__}"
            )
        yield line + k, obj


def _parse_lines(
    block: bytes, line: int, known: dict[str, pa.DataType], locate: Callable[[int], str]
) -> pa.Table:
    """A block pyarrow refused, line by line: each field as the grumpy array of its
    values (a union where scalars and lists mix), or under its known type."""
    rows = [obj for _, obj in _rows(block, line, locate)]
    names = list(known) + [n for n in dict.fromkeys(k for r in rows for k in r) if n not in known]
    columns = {}
    for name in names:
        values = [row.get(name) for row in rows]
        try:
            columns[name] = _column(values, known.get(name))
        except TypeError:
            raise _changed(block, line, name, known.get(name), locate) from None
    return pa.table(columns)


def _column(values: list[Any], typ: pa.DataType | None) -> pa.Array:
    """Python values as an Arrow array: under ``typ`` if they have its shape, else as
    pyarrow infers them, else as grumpy builds them (unions of scalars and lists).

    Raises
    ------
    TypeError
        When no column holds them together (``[1, "x"]``).
    """
    if typ is not None and _pyarrow_can_parse(typ) and all(_fits(v, typ) for v in values):
        try:
            return pa.array(values, type=typ)
        except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError):
            pass
    try:  # as pyarrow's JSON reader infers (``[]`` stays list<null>: no type yet)
        return pa.array(values)
    except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError):
        pass
    try:
        return asarray(values).to_arrow()
    except (GrumpyError, ValueError, TypeError, OverflowError) as err:
        raise TypeError(f"mixes types: {err}") from None


def _fits(value: Any, typ: pa.DataType) -> bool:
    """Whether a Python value has the shape and kind of ``typ`` (pyarrow would otherwise
    take a string for a list of its characters, or truncate a float to an integer)."""
    if value is None:
        return True
    if is_list_type(typ):
        return isinstance(value, list) and all(_fits(v, typ.value_type) for v in value)
    if pa.types.is_struct(typ):
        return isinstance(value, dict)
    if pa.types.is_boolean(typ):
        return isinstance(value, bool)
    if pa.types.is_integer(typ):  # (pyarrow would truncate a float)
        return isinstance(value, int) and not isinstance(value, bool)
    if pa.types.is_floating(typ):
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if pa.types.is_string(typ) or pa.types.is_large_string(typ):
        return isinstance(value, str)
    return not isinstance(value, (list, dict))


def json_text(value: Any) -> str:
    """A short JSON text of a value (for messages)."""
    text = json.dumps(value)
    return text if len(text) <= 40 else f"{text[:37]}..."


def merge_types(old: pa.DataType | None, new: pa.DataType) -> pa.DataType:
    """The type a field takes when its values so far (``old``, None: none yet) meet
    values of type ``new``: nulls take the other type, integers and floats make
    ``float64``, scalars and lists of the same kind of values make a scalar-or-list union
    (lists merged inside).

    Raises
    ------
    TypeError
        For types no column holds together (a string and an integer), saying both.

    Examples
    --------
    >>> import pyarrow as pa
    >>> merge_types(pa.list_(pa.string()), pa.string())
    DenseUnionType(dense_union<scalar: large_string=0, list: large_list<item: large_string>=1>)
    >>> merge_types(pa.float64(), pa.list_(pa.int64()))
    DenseUnionType(dense_union<scalar: double=0, list: large_list<item: int64>=1>)
    >>> merge_types(pa.int64(), pa.list_(pa.string()))
    Traceback (most recent call last):
    ...
    TypeError: changed from int64 to var * string
    >>> merge_types(pa.int64(), pa.string())
    Traceback (most recent call last):
    ...
    TypeError: changed from int64 to string
    """
    if old is None or pa.types.is_null(old):
        return new
    if pa.types.is_null(new) or old.equals(new):
        return old
    a, b = _canonical(old), _canonical(new)
    if a.equals(b):
        return a
    if _is_number(a) and _is_number(b):
        return pa.float64()
    (sa, la), (sb, lb) = _parts(a), _parts(b)
    if la is None and lb is None:
        raise TypeError(f"changed from {show_type(a)} to {show_type(b)}")
    scalar = sa if sb is None else sb if sa is None else merge_types(sa, sb)
    lists = la if lb is None else lb if la is None else _merge_lists(la, lb)
    if scalar is None:
        assert lists is not None
        return lists
    if lists is None or is_list_type(scalar) or pa.types.is_union(scalar):
        raise TypeError(f"changed from {show_type(a)} to {show_type(b)}")
    try:  # one leaf type under the union: scalars and the lists' values
        merge_types(scalar, arrow_leaf_type(lists))
    except TypeError:
        raise TypeError(f"changed from {show_type(a)} to {show_type(b)}") from None
    return union_type(scalar, lists)


def _merge_lists(a: pa.DataType, b: pa.DataType) -> pa.DataType:
    try:
        return pa.large_list(merge_types(a.value_type, b.value_type))
    except TypeError:
        raise TypeError(f"changed from {show_type(a)} to {show_type(b)}") from None


def show_type(typ: pa.DataType) -> str:
    """A type as grumpy writes it, or Arrow's name for types grumpy has none for.

    Examples
    --------
    >>> show_type(pa.list_(pa.string())), show_type(pa.map_(pa.string(), pa.int8()))
    ('var * string', 'map<string, int8>')
    """
    try:
        return describe(typ)
    except (ValueError, TypeError, KeyError, LayoutError):
        return str(typ)


def _canonical(typ: pa.DataType) -> pa.DataType:
    """``typ`` with lists ``large_list`` and strings ``large_string`` (as grumpy builds)."""
    if pa.types.is_string(typ):
        return pa.large_string()
    if is_list_type(typ):
        return pa.large_list(_canonical(typ.value_type))
    if pa.types.is_union(typ):
        return union_type(_canonical(typ.field(0).type), _canonical(typ.field(1).type))
    return typ


def _is_number(typ: pa.DataType) -> bool:
    return bool(pa.types.is_integer(typ) or pa.types.is_floating(typ))


def _parts(typ: pa.DataType) -> tuple[pa.DataType | None, pa.DataType | None]:
    """``(scalar part, list part)`` of a type (a union has both)."""
    if pa.types.is_union(typ):
        return typ.field(0).type, typ.field(1).type
    return (None, typ) if is_list_type(typ) else (typ, None)


def _changed(
    block: bytes, line: int, name: str, typ: pa.DataType | None, locate: Callable[[int], str]
) -> pa.ArrowInvalid:
    """The error for field ``name`` of ``block``, at the first line whose value does not
    merge with ``typ`` and the values before it (a second pass, for the message only)."""
    for number, row in _rows(block, line, locate):
        value = row.get(name)
        try:
            typ = merge_types(typ, _column([value], None).type)
        except TypeError as err:
            where = f"{locate(number)}: field {name!r} ({json_text(value)})"
            return pa.ArrowInvalid(f"{where} {err}; {_WIDENS}")
    return pa.ArrowInvalid(f"{locate(line)}: field {name!r} changes type; {_WIDENS}")


def rebatch_tables(tables: Iterator[pa.Table], rows: int) -> Iterator[pa.RecordBatch]:
    """Record batches of ``rows`` rows (fewer at the end, and where the schema changes)
    from tables that may change schema between them (consecutive equal ones are joined).

    Examples
    --------
    >>> t = pa.table({"a": [1, 2, 3]})
    >>> [b.num_rows for b in rebatch_tables(iter([t, t, pa.table({"a": ["x"]})]), 4)]
    [4, 2, 1]
    """
    pending: pa.Table | None = None
    for table in tables:
        if pending is not None and not pending.schema.equals(table.schema):
            yield from _slices(pending, rows)
            pending = None
        pending = table if pending is None else pa.concat_tables([pending, table])
        whole = pending.num_rows // rows * rows
        if whole:
            yield from _slices(pending.slice(0, whole), rows)
            pending = pending.slice(whole)
    if pending is not None and pending.num_rows:
        yield from _slices(pending, rows)


def _slices(table: pa.Table, rows: int) -> Iterator[pa.RecordBatch]:
    table = table.combine_chunks()
    for start in range(0, table.num_rows, rows):
        yield from table.slice(start, rows).to_batches()
