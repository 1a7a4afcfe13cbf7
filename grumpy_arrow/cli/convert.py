"""``grumpy-arrow convert``: Parquet / Arrow IPC / JSONL / CSV <-> grumpy stores, streamed.

Batches flow one at a time from a reader (:mod:`.formats`, or slices of an opened store)
to a writer (``gr.save`` of a generator — a true append per batch — or a file writer), so
neither side has to fit in memory. Union columns leave a store lowered
(``<col>`` + ``<col>__is_scalar``) and are raised again when a file is read into a store.
JSON Lines fields that mix scalars and arrays are read as unions, and a field whose type
changes after the first block widens the store as its batches come
(:func:`.jsonlines.read_json_lines`, docs/storage.md "Appends that widen types").

A new local destination is written under a temporary name next to it and renamed into
place at the end, so a failed or interrupted conversion leaves no half-written output.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, cast

import pyarrow as pa

import grumpy_arrow as gr
from grumpy_arrow._optional import require
from grumpy_arrow._typing import Compressor
from grumpy_arrow.cli.formats import (
    IPC_COMPRESSORS,
    PARQUET_COMPRESSORS,
    FileSink,
    FileSource,
    UsageError,
    _text_input,
    detect_format,
    file_size,
    is_local,
    local_path,
    parse_format,
    read_file,
)
from grumpy_arrow.cli.jsonlines import read_json_lines, rebatch_tables, show_type
from grumpy_arrow.compute.lowering import has_union
from grumpy_arrow.frame.dataframe import METADATA_KEY, DataFrame, from_arrow_table
from grumpy_arrow.interop.parquet import ARRAY_COLUMN

__all__ = [
    "STORE_COMPRESSORS",
    "ConvertOptions",
    "convert",
    "convert_command",
    "parse_levels",
    "store_table",
]

STORE_COMPRESSORS = ("default", "none", "zstd", "blosc")


@dataclass(frozen=True)
class ConvertOptions:
    """The ``convert`` command line, parsed."""

    src: str
    dst: str
    src_format: str | None = None
    dst_format: str | None = None
    shard_rows: int | None = None
    chunk_size: int | None = None
    compressor: str | None = None
    batch_rows: int = 65536
    block_size: int = 8 << 20
    progress: bool | None = None
    schema: list[Any] | None = None
    nested_as_json: bool = False
    overwrite: bool = False
    append: bool = False


def parse_levels(text: str) -> list[Any]:
    """``"molecule,residue/group,atom"`` -> ``["molecule", ("residue", "group"), "atom"]``."""
    levels: list[Any] = []
    for part in text.split(","):
        names = tuple(n.strip() for n in part.split("/"))
        if not all(names):
            raise UsageError(f"--schema {text!r}: empty level name (write levels as a,b/alias,c)")
        levels.append(names[0] if len(names) == 1 else names)
    return levels


def convert(opts: ConvertOptions) -> str:
    """Run one conversion and return the summary line.

    Raises
    ------
    UsageError
        For options that do not fit the formats.
    FileNotFoundError, FileExistsError
        For a missing source, or a destination that exists (without ``--overwrite``).
    """
    src_fmt = _format(opts.src_format, opts.src, "SRC", "--from")
    dst_fmt = _format(opts.dst_format, opts.dst, "DST", "--to")
    _check_options(opts, src_fmt, dst_fmt)
    _check_paths(opts)
    start = time.perf_counter()
    source = _open_source(opts, src_fmt, dst_fmt)
    bar = _progress_bar(opts.progress, source.rows, opts.src)
    counted = _Counter(source.items, bar)
    try:
        _write(counted, opts, dst_fmt)
    finally:
        if bar is not None:
            bar.close()
    seconds = time.perf_counter() - start
    return _summary(opts, src_fmt, dst_fmt, counted, seconds)


def convert_command(args: argparse.Namespace) -> int:
    """``grumpy-arrow convert``: run the parsed command line and print the summary."""
    options = ConvertOptions(
        src=args.src,
        dst=args.dst,
        src_format=args.src_format,
        dst_format=args.dst_format,
        shard_rows=args.shard_rows,
        chunk_size=args.chunk_size,
        compressor=args.compressor,
        batch_rows=args.batch_rows,
        block_size=args.block_size,
        progress=args.progress,
        schema=parse_levels(args.schema) if args.schema else None,
        nested_as_json=args.nested_as_json,
        overwrite=args.overwrite,
        append=args.append,
    )
    print(convert(options))
    return 0


def _format(given: str | None, path: str, role: str, option: str) -> str:
    return parse_format(given, option) if given else detect_format(path, role=role)


def _check_options(opts: ConvertOptions, src_fmt: str, dst_fmt: str) -> None:
    store_out = dst_fmt == "store"
    if not store_out:
        for value, flag in (
            (opts.shard_rows, "--shard-rows"),
            (opts.chunk_size, "--chunk-size"),
            (opts.append or None, "--append"),
        ):
            if value is not None:
                raise UsageError(f"{flag} applies when DST is a store, not {dst_fmt}")
    if opts.append and (opts.shard_rows or opts.chunk_size or opts.compressor):
        raise UsageError("--append keeps the store's own chunking, compressor and shards")
    if opts.schema is not None and (src_fmt == "store" or not store_out):
        raise UsageError("--schema gives levels to a file read into a store")
    if opts.nested_as_json and "csv" not in (src_fmt, dst_fmt):
        raise UsageError("--nested-as-json applies to CSV files")
    if opts.compressor is not None:
        allowed = {
            "store": STORE_COMPRESSORS,
            "parquet": PARQUET_COMPRESSORS,
            "ipc": IPC_COMPRESSORS,
            "ipc-stream": IPC_COMPRESSORS,
        }.get(dst_fmt)
        if allowed is None:
            raise UsageError(
                f"--compressor does not apply to {dst_fmt}; name the file .gz, .zst or .bz2 "
                "to compress it"
            )
        if opts.compressor not in allowed:
            raise UsageError(
                f"--compressor {opts.compressor!r} is not one of {', '.join(allowed)} "
                f"(for {dst_fmt})"
            )


def _check_paths(opts: ConvertOptions) -> None:
    if os.path.abspath(opts.src) == os.path.abspath(opts.dst):
        raise UsageError("SRC and DST are the same path")
    if is_local(opts.src) and not os.path.exists(local_path(opts.src)):
        raise FileNotFoundError(f"{opts.src}: no such file or directory")
    if opts.overwrite or opts.append:
        return
    if is_local(opts.dst) and os.path.exists(local_path(opts.dst)):
        raise FileExistsError(f"{opts.dst} exists; pass --overwrite to replace it")


# -- the source -----------------------------------------------------------------------------


@dataclass
class _Source:
    """The batches — grumpy arrays or frames for a store destination, Arrow tables (unions
    lowered) for a file — and the row count when the source records it."""

    items: Iterator[Any]
    rows: int | None


def _open_source(opts: ConvertOptions, src_fmt: str, dst_fmt: str) -> _Source:
    if src_fmt == "store":
        handle = gr.open(opts.src, cache="none")
        n = len(handle)
        slices = (
            handle[a : min(a + opts.batch_rows, n)] for a in range(0, max(n, 1), opts.batch_rows)
        )
        if dst_fmt == "store":
            return _Source(slices, n)
        return _Source((store_table(obj) for obj in slices), n)
    if src_fmt == "jsonl":
        found = _read_jsonl(opts)
    else:
        found = read_file(
            opts.src,
            src_fmt,
            batch_rows=opts.batch_rows,
            block_size=opts.block_size,
            nested_as_json=opts.nested_as_json,
        )
    batches = _or_empty(found.batches, found.schema)
    if dst_fmt == "store":
        info = _grumpy_info(found.schema)
        levels = opts.schema if opts.schema is not None else info.get("schema")
        kind = info.get("kind", "dataframe")
        items = (_grumpy_batch(b, levels, kind) for b in batches)
        return _Source(items, found.rows)
    if src_fmt == "jsonl":
        batches = _one_schema(batches, opts.src, dst_fmt)
    tables = (_lowered(pa.Table.from_batches([b])) for b in batches)
    return _Source(tables, found.rows)


def _one_schema(
    batches: Iterator[pa.RecordBatch], src: str, dst_fmt: str
) -> Iterator[pa.RecordBatch]:
    """The batches, refused from the first whose field types differ from the first
    batch's: a file holds one schema (a store widens instead)."""
    first: pa.Schema | None = None
    rows = 0
    for batch in batches:
        if first is None:
            first = batch.schema
        elif not batch.schema.equals(first):
            raise pa.ArrowInvalid(
                f"{src}: {_schema_change(first, batch.schema)} in the rows from {rows + 1} "
                f"on; a {dst_fmt} file holds the one schema of its first rows: convert to "
                "a store, which widens, or give a --block-size large enough for the first "
                "block to show every type"
            )
        rows += batch.num_rows
        yield batch


def _schema_change(old: pa.Schema, new: pa.Schema) -> str:
    for name in dict.fromkeys([*old.names, *new.names]):
        if name not in new.names:
            return f"field {name!r} is missing"
        if name not in old.names:
            return f"field {name!r} appears"
        a, b = old.field(name).type, new.field(name).type
        if not a.equals(b):
            return f"field {name!r} changes from {show_type(a)} to {show_type(b)}"
    return "the fields change order"


def _read_jsonl(opts: ConvertOptions) -> FileSource:
    """JSON Lines in batches whose field types may change from one block to the next
    (:func:`.jsonlines.read_json_lines`): a field that is a string on some lines and a list
    on others becomes a union, even when the lists come after the first block; the store
    widens as the batches come (docs/storage.md, "Appends that widen types")."""
    stream = _text_input(opts.src)
    tables = read_json_lines(
        stream, block_size=opts.block_size, locate=lambda line: f"{opts.src}: line {line}"
    )
    try:
        first = next(tables, None)
    except BaseException:
        stream.close()
        raise
    if first is None:
        stream.close()
        raise pa.ArrowInvalid(f"{opts.src}: cannot be read as jsonl: Empty JSON stream")

    def every() -> Iterator[pa.Table]:
        try:
            yield first
            yield from tables
        finally:
            stream.close()

    return FileSource(first.schema, None, rebatch_tables(every(), opts.batch_rows))


def _or_empty(batches: Iterator[pa.RecordBatch], schema: pa.Schema) -> Iterator[pa.RecordBatch]:
    """The batches, or one empty batch when there are none (an empty file converts to
    an empty output with the same columns)."""
    empty = True
    for batch in batches:
        empty = False
        yield batch
    if empty:
        yield pa.RecordBatch.from_pylist([], schema=schema)


def _grumpy_info(schema: pa.Schema) -> dict[str, Any]:
    raw = (schema.metadata or {}).get(METADATA_KEY)
    try:
        info = json.loads(raw) if raw else {}
    except ValueError:
        return {}
    return info if isinstance(info, dict) else {}


def _grumpy_batch(batch: pa.RecordBatch, levels: Any, kind: str) -> Any:
    frame = from_arrow_table(_typed(batch), levels)
    if kind == "array" and frame.columns == [ARRAY_COLUMN]:
        return frame[ARRAY_COLUMN]
    return frame


def _typed(batch: pa.RecordBatch) -> pa.RecordBatch:
    """The batch with null-typed values (a JSON field that is null or ``[]`` on every line
    so far) as float64, grumpy's type of values never seen; the store gives such a column
    the first real dtype that comes (docs/storage.md, "Appends that widen types")."""
    fields = [pa.field(f.name, _no_null(f.type), f.nullable, f.metadata) for f in batch.schema]
    if all(f.type.equals(g.type) for f, g in zip(fields, batch.schema, strict=True)):
        return batch
    return batch.cast(pa.schema(fields, metadata=batch.schema.metadata))


def _no_null(typ: pa.DataType) -> pa.DataType:
    if pa.types.is_null(typ):
        return pa.float64()
    if pa.types.is_list(typ) or pa.types.is_large_list(typ):
        return pa.large_list(_no_null(typ.value_type))
    return typ


def store_table(obj: Any) -> pa.Table:
    """A store's frame or array slice as an Arrow table with unions lowered (an array is
    a one-column table ``values`` marked ``kind: array``, as ``gr.to_parquet`` writes)."""
    if isinstance(obj, DataFrame):
        return obj.to_arrow(unions="lowered")
    table = DataFrame({ARRAY_COLUMN: obj}, None).to_arrow(unions="lowered")
    info = json.loads(table.schema.metadata[METADATA_KEY])
    info["kind"] = "array"
    return table.replace_schema_metadata({METADATA_KEY: json.dumps(info).encode()})


def _lowered(table: pa.Table) -> pa.Table:
    """A table whose native union columns are lowered (other tables pass untouched)."""
    if not any(has_union(f.type) for f in table.schema):
        return table
    return from_arrow_table(table).to_arrow(unions="lowered")


# -- the destination ------------------------------------------------------------------------


class _Counter:
    """Counts rows and batches as they pass, and ticks the progress bar."""

    def __init__(self, items: Iterator[Any], bar: Any) -> None:
        self.items, self.bar = items, bar
        self.rows = self.batches = 0

    def __iter__(self) -> Iterator[Any]:
        for item in self.items:
            n = item.num_rows if isinstance(item, pa.Table) else len(item)
            yield item
            self.rows += n
            self.batches += 1
            if self.bar is not None:
                self.bar.update(n)


def _write(items: _Counter, opts: ConvertOptions, dst_fmt: str) -> None:
    local = is_local(opts.dst) and not opts.append
    target = _temporary(opts.dst) if local else opts.dst
    try:
        if dst_fmt == "store":
            _write_store(items, target, opts)
        else:
            _write_file(items, target, opts, dst_fmt)
    except BaseException:
        if local:
            _remove(target)
        raise
    if local:
        _move_into_place(target, local_path(opts.dst))


def _write_store(items: _Counter, target: str, opts: ConvertOptions) -> None:
    gr.save(
        iter(items),
        target,
        chunk_size=opts.chunk_size,
        compressor=cast("Compressor", opts.compressor or "default"),  # checked in _check_options
        shard_rows=opts.shard_rows,
        mode="a" if opts.append else "w",
    )


def _write_file(items: _Counter, target: str, opts: ConvertOptions, fmt: str) -> None:
    """Every source yields at least one table (an empty one for an empty source), so the
    file always gets its schema."""
    sink = FileSink(
        opts.dst,
        fmt,
        target=target,
        compressor=opts.compressor,
        batch_rows=opts.batch_rows,
        nested_as_json=opts.nested_as_json,
    )
    try:
        for table in items:
            sink.write(table)
    finally:
        sink.close()


def _temporary(dst: str) -> str:
    folder, name = os.path.split(os.path.abspath(local_path(dst)))
    return os.path.join(folder, f".{name}.partial-{os.getpid()}")


def _remove(path: str) -> None:
    if os.path.isdir(path):
        shutil.rmtree(path, ignore_errors=True)
    elif os.path.exists(path):
        os.remove(path)


def _move_into_place(tmp: str, dst: str) -> None:
    """Rename the finished output over ``dst`` (an old one is moved aside first, since a
    directory cannot be renamed over another)."""
    if not os.path.lexists(dst):
        os.replace(tmp, dst)
        return
    old = f"{_temporary(dst)}.old"
    os.replace(dst, old)
    try:
        os.replace(tmp, dst)
    except OSError:
        os.replace(old, dst)
        raise
    _remove(old)


# -- progress and the summary ----------------------------------------------------------------


def _progress_bar(enabled: bool | None, total: int | None, what: str) -> Any:
    """A tqdm bar on stderr: forced on or off, or by default when stderr is a terminal."""
    if enabled is False or (enabled is None and not sys.stderr.isatty()):
        return None
    try:
        tqdm = require(
            "tqdm", what="--progress", install="'grumpy_arrow[progress]' (or pip install tqdm)"
        )
    except ImportError:
        if enabled is None:  # only asked for by default: no bar
            return None
        raise
    name = os.path.basename(what.rstrip("/")) or what
    return tqdm.tqdm(
        total=total, unit="rows", unit_scale=True, file=sys.stderr, desc=name, dynamic_ncols=True
    )


def _summary(
    opts: ConvertOptions, src_fmt: str, dst_fmt: str, counted: _Counter, seconds: float
) -> str:
    read = file_size(opts.src)
    wrote = file_size(opts.dst)
    rate = counted.rows / max(seconds, 1e-9)
    speed = f", {read / 1e6 / max(seconds, 1e-9):.1f} MB/s" if read >= 0 else ""
    sizes = f"; {_mb(read)} -> {_mb(wrote)}" if read >= 0 and wrote >= 0 else ""
    batches = "batch" if counted.batches == 1 else "batches"
    return (
        f"{opts.src} ({src_fmt}) -> {opts.dst} ({dst_fmt}): {counted.rows} rows in "
        f"{counted.batches} {batches}, {seconds:.2f} s ({rate:,.0f} rows/s{speed}){sizes}"
    )


def _mb(n: int) -> str:
    return f"{n / 1e6:.2f} MB"
