"""File formats for ``grumpy-arrow convert``: names, detection, and batch readers and writers.

Every reader yields ``pa.RecordBatch``es of bounded size (Parquet row groups through
``ParquetFile.iter_batches``, IPC batches, CSV and JSONL blocks through pyarrow's
streaming readers) and every writer takes them one at a time, so a file never has to fit
in memory. Union columns travel lowered (``<col>`` + ``<col>__is_scalar``, see
docs/interop.md); the store side raises and lowers them.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import fsspec
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as csv
import pyarrow.json as pj
import pyarrow.parquet as pq

from grumpy_arrow.cli.common import FORMATS, UsageError
from grumpy_arrow.cli.jsontext import (
    DepthScanner,
    float_text,
    from_json_text,
    is_nested,
    json_lines,
    to_json_text,
    write_text,
)
from grumpy_arrow.errors import LayoutError

__all__ = [
    "FORMATS",
    "FileSink",
    "FileSource",
    "UsageError",
    "detect_format",
    "file_size",
    "is_local",
    "local_path",
    "parse_format",
    "read_file",
    "rebatch",
]

_ALIASES = {
    "grumpy": "store",
    "zarr": "store",
    "pq": "parquet",
    "arrow": "ipc",
    "feather": "ipc",
    "arrows": "ipc-stream",
    "ndjson": "jsonl",
    "json": "jsonl",
}
_EXTENSIONS = {
    ".gr": "store",
    ".zarr": "store",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".arrow": "ipc",
    ".feather": "ipc",
    ".ipc": "ipc",
    ".arrows": "ipc-stream",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "jsonl",
    ".csv": "csv",
}
# Text files may be compressed; the codec follows from the last extension.
_CODECS = {".gz": "gzip", ".bz2": "bz2", ".zst": "zstd"}
PARQUET_COMPRESSORS = ("none", "snappy", "zstd", "gzip", "brotli", "lz4")
IPC_COMPRESSORS = ("none", "zstd", "lz4")


def parse_format(name: str, option: str) -> str:
    """A format name (or alias) as one of :data:`FORMATS`."""
    key = name.strip().lower()
    key = _ALIASES.get(key, key)
    if key not in FORMATS:
        raise UsageError(f"{option} {name!r} is not a format; use one of {', '.join(FORMATS)}")
    return key


def is_local(path: str) -> bool:
    """Whether ``path`` is a local path (not an fsspec URL other than ``file://``)."""
    return "://" not in path or path.startswith("file://")


def local_path(path: str) -> str:
    return path.removeprefix("file://")


def _codec(path: str) -> str | None:
    return _CODECS.get(os.path.splitext(path.rstrip("/"))[1].lower())


def detect_format(path: str, *, role: str) -> str:
    """The format of ``path`` from what is there or from its extension.

    A directory is a store; ``.parquet``, ``.arrow``... name files; a destination without
    an extension is a store.
    """
    if is_local(path) and os.path.isdir(local_path(path)):
        return "store"
    name = path.rstrip("/")
    if _codec(name):
        name = os.path.splitext(name)[0]
    ext = os.path.splitext(name.rsplit("/", 1)[-1])[1].lower()
    if ext in _EXTENSIONS:
        return _EXTENSIONS[ext]
    if not ext and (role == "DST" or not is_local(path) or not os.path.exists(local_path(path))):
        return "store"
    flag = "--from" if role == "SRC" else "--to"
    raise UsageError(f"cannot tell the format of {role} {path!r} from its name; pass {flag}")


def file_size(path: str) -> int:
    """Bytes of a file, or allocated bytes under a directory (-1 when unknown)."""
    if not is_local(path):
        try:
            fs, root = fsspec.core.url_to_fs(path)
            return int(fs.du(root))
        except (OSError, ValueError, ImportError):
            return -1
    path = local_path(path)
    if os.path.isfile(path):
        return os.path.getsize(path)
    total = 0
    for folder, _, files in os.walk(path):
        for f in files:
            stat = os.stat(os.path.join(folder, f))
            total += min(stat.st_size, stat.st_blocks * 512) if stat.st_blocks else stat.st_size
    return total


# -- reading ------------------------------------------------------------------------------


@dataclass
class FileSource:
    """What a reader found: the Arrow schema (with its metadata), the row count if the
    format records one, and the batches."""

    schema: pa.Schema
    rows: int | None
    batches: Iterator[pa.RecordBatch]


def _open_input(path: str) -> Any:
    if is_local(path):
        return local_path(path)
    return fsspec.open(path, "rb").open()


def read_file(
    path: str, fmt: str, *, batch_rows: int, block_size: int, nested_as_json: bool
) -> FileSource:
    """Open a Parquet, IPC, JSONL or CSV file for reading in batches of about
    ``batch_rows`` rows (text formats: blocks of ``block_size`` bytes, then re-cut)."""
    try:
        if fmt == "parquet":
            return _read_parquet(path, batch_rows)
        if fmt in ("ipc", "ipc-stream"):
            return _read_ipc(path, batch_rows)
        if fmt == "jsonl":
            return _read_jsonl(path, batch_rows, block_size)
        return _read_csv(path, batch_rows, block_size, nested_as_json)
    except pa.ArrowInvalid as err:  # not this format, or empty
        raise pa.ArrowInvalid(f"{path}: cannot be read as {fmt}: {err}") from err


def _read_parquet(path: str, batch_rows: int) -> FileSource:
    pf = pq.ParquetFile(_open_input(path))
    return FileSource(pf.schema_arrow, pf.metadata.num_rows, pf.iter_batches(batch_size=batch_rows))


def _read_ipc(path: str, batch_rows: int) -> FileSource:
    source = pa.memory_map(local_path(path)) if is_local(path) else _open_input(path)
    magic = source.read(6)
    source.seek(0)
    if magic == b"ARROW1":  # the file format (also Feather v2); else the stream format
        reader = pa.ipc.open_file(source)
        parts = [reader.get_batch(i) for i in range(reader.num_record_batches)]
        rows = sum(b.num_rows for b in parts)  # memory-mapped: no data is read here
        return FileSource(reader.schema, rows, rebatch(iter(parts), batch_rows))
    stream = pa.ipc.open_stream(source)
    return FileSource(stream.schema, None, rebatch(iter(stream), batch_rows))


def _text_input(path: str) -> Any:
    codec = _codec(path)
    raw = local_path(path) if is_local(path) else _open_input(path)
    return pa.input_stream(raw, compression=codec)


def _read_jsonl(path: str, batch_rows: int, block_size: int) -> FileSource:
    _check_json_depth(path, block_size)
    reader = pj.open_json(_text_input(path), read_options=pj.ReadOptions(block_size=block_size))
    return FileSource(reader.schema, None, rebatch(_hinted(reader, path), batch_rows))


def _check_json_depth(path: str, block_size: int) -> None:
    """Refuse a file with a line nested deeper than ``MAX_JSON_DEPTH`` before pyarrow's JSON
    reader sees it (its parser overflows the C stack on deep nesting: a segfault).

    A first pass over the (decompressed) text, read natively on this thread: a Python
    file object in front of pyarrow's reader would be called from its I/O threads, which
    hang or abort the interpreter at exit after an error.
    """
    scanner = DepthScanner(lambda line: f"{path}: line {line}")
    stream = _text_input(path)
    try:
        while chunk := stream.read(block_size):
            scanner.feed(chunk)
    finally:
        stream.close()


def _read_csv(path: str, batch_rows: int, block_size: int, nested_as_json: bool) -> FileSource:
    reader = csv.open_csv(
        _text_input(path),
        read_options=csv.ReadOptions(block_size=block_size),
        # A one-column file writes a null as an empty line: keep it as a row.
        parse_options=csv.ParseOptions(ignore_empty_lines=False),
        # Unquoted empty cells are nulls, quoted ones empty strings (what the writer does).
        convert_options=csv.ConvertOptions(
            strings_can_be_null=True, quoted_strings_can_be_null=False
        ),
    )
    batches = _hinted(reader, path)
    schema = reader.schema
    if nested_as_json:
        batches, schema = _decode_json_columns(batches, schema, path)
    return FileSource(schema, None, rebatch(batches, batch_rows))


def _hinted(reader: Any, path: str) -> Iterator[pa.RecordBatch]:
    """The reader's batches; a type that changes after the first block gets a hint."""
    try:
        yield from reader
    except pa.ArrowInvalid as err:
        raise pa.ArrowInvalid(
            f"{path}: {err} (column types are inferred from the first block; a larger "
            "--block-size widens it)"
        ) from err


def _decode_json_columns(
    batches: Iterator[pa.RecordBatch], schema: pa.Schema, path: str
) -> tuple[Iterator[pa.RecordBatch], pa.Schema]:
    """CSV cells holding JSON arrays or objects (``--nested-as-json``) parsed back into
    nested columns; which columns, and their types, follow from the first batch."""
    first = next(batches, None)
    if first is None:
        return iter(()), schema
    types: dict[str, pa.DataType] = {}
    for name, column in zip(first.schema.names, first.columns, strict=True):
        if not pa.types.is_string(column.type) or column.null_count == len(column):
            continue
        valid = column.drop_null()
        if pc.all(pc.match_substring_regex(valid, r"^\s*[\[{]")).as_py():
            types[name] = from_json_text(column, None, name, locate=_cells(path, name, 0)).type

    seen = [0]  # rows of the earlier batches

    def decode(batch: pa.RecordBatch) -> pa.RecordBatch:
        arrays = [
            from_json_text(col, types[n], n, locate=_cells(path, n, seen[0])) if n in types else col
            for n, col in zip(batch.schema.names, batch.columns, strict=True)
        ]
        seen[0] += batch.num_rows
        return pa.RecordBatch.from_arrays(arrays, names=batch.schema.names)

    def run() -> Iterator[pa.RecordBatch]:
        yield decode(first)
        for batch in batches:
            yield decode(batch)

    fields = [pa.field(f.name, types.get(f.name, f.type)) for f in schema]
    return run(), pa.schema(fields, metadata=schema.metadata)


def _cells(path: str, name: str, before: int) -> Callable[[int], str]:
    """Where value ``i`` of column ``name`` in a batch after ``before`` rows sits in a CSV
    file (line 1 is the header; JSON text in a cell holds no raw newline)."""
    return lambda i: f"{path}: line {before + i + 2}, column {name!r}"


def rebatch(batches: Iterator[pa.RecordBatch], rows: int) -> Iterator[pa.RecordBatch]:
    """Batches of exactly ``rows`` rows (the last may be shorter); small ones are joined."""
    pending: list[pa.RecordBatch] = []
    count = 0
    for batch in batches:
        pending.append(batch)
        count += batch.num_rows
        if count < rows:
            continue
        table = pa.Table.from_batches(pending).combine_chunks()
        start = 0
        while table.num_rows - start >= rows:
            yield from table.slice(start, rows).to_batches()
            start += rows
        rest = table.slice(start)
        pending, count = ([*rest.to_batches()], rest.num_rows) if rest.num_rows else ([], 0)
    if count:
        yield from pa.Table.from_batches(pending).combine_chunks().to_batches()


# -- writing ------------------------------------------------------------------------------


class FileSink:
    """Writes batches to a Parquet, IPC, JSONL or CSV file; the schema comes from the
    first batch and later ones are cast to it."""

    def __init__(
        self,
        path: str,
        fmt: str,
        *,
        target: str | None = None,
        compressor: str | None,
        batch_rows: int,
        nested_as_json: bool,
    ) -> None:
        self.path, self.fmt = path, fmt
        self.target = target or path  # where to write (a temporary name); path names it
        self.compressor = compressor
        self.batch_rows = batch_rows
        self.nested_as_json = nested_as_json
        self._out: Any = None
        self._writer: Any = None
        self._schema: pa.Schema | None = None

    def write(self, table: pa.Table) -> None:
        if self.fmt == "csv":
            table = self._csv_table(table)
        schema = self._schema if self._schema is not None else self._open(table.schema)
        if not table.schema.equals(schema):
            table = table.cast(schema)
        if self.fmt == "jsonl":
            write_text(self._out, json_lines(table))
        elif self.fmt == "parquet":
            self._writer.write_table(table, row_group_size=self.batch_rows)
        else:
            self._writer.write_table(table)

    def _open(self, schema: pa.Schema) -> pa.Schema:
        """Open the file and its writer for tables of ``schema``."""
        self._schema = schema
        codec = _codec(self.path)
        if is_local(self.target):
            self._out = pa.output_stream(local_path(self.target), compression=codec)
        else:
            self._out = pa.output_stream(fsspec.open(self.target, "wb").open(), compression=codec)
        if self.fmt == "parquet":
            self._writer = pq.ParquetWriter(
                self._out, schema, compression=self.compressor or "snappy"
            )
        elif self.fmt in ("ipc", "ipc-stream"):
            codec_name = None if self.compressor in (None, "none") else self.compressor
            options = pa.ipc.IpcWriteOptions(compression=codec_name)
            new = pa.ipc.new_file if self.fmt == "ipc" else pa.ipc.new_stream
            self._writer = new(self._out, schema, options=options)
        elif self.fmt == "csv":
            self._writer = csv.CSVWriter(self._out, schema)
        return schema

    def _csv_table(self, table: pa.Table) -> pa.Table:
        """Floats as exact text (``1.0``, not ``1``, so a reader infers floats); nested
        columns as JSON text with ``--nested-as-json``, else refused."""
        arrays, fields = [], []
        for field, column in zip(table.schema, table.columns, strict=True):
            arr = column.combine_chunks()
            if is_nested(field.type):
                if not self.nested_as_json:
                    raise LayoutError(
                        f"CSV cannot hold nested column {field.name!r} ({field.type}); "
                        "convert to JSONL, Parquet or IPC, or pass --nested-as-json"
                    )
                text = to_json_text(arr, field.name)
                arr = pc.if_else(arr.is_valid(), text, pa.scalar(None, pa.large_string()))
            elif pa.types.is_floating(field.type):
                arr = float_text(arr)
            arrays.append(arr)
            fields.append(pa.field(field.name, arr.type))
        return pa.Table.from_arrays(arrays, schema=pa.schema(fields))

    def close(self) -> None:
        """Finish the file (its footer, for Parquet and IPC files) and close it."""
        writer, out = self._writer, self._out
        self._writer = self._out = None
        try:
            if writer is not None:
                writer.close()
        finally:
            if out is not None:
                out.close()
