"""The ``grumpy-arrow`` command line (also ``python -m grumpy_arrow``).

Commands: ``demo``, ``info``, ``head``, ``validate``, ``upgrade``, ``convert`` and ``bench``
(docs/cli.md). Errors print one line, ``grumpy-arrow: error: ...``, and exit 1 for data
and store problems, 2 for usage mistakes, 130 on Ctrl-C; ``--debug`` (or
``GRUMPY_DEBUG=1``) shows the traceback instead.

Examples
--------
>>> from grumpy_arrow.cli import main
>>> main(["head", "no/such/store"])
1
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Callable, Sequence
from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING, Any, NoReturn

import pyarrow as pa

from grumpy_arrow._version import __version__
from grumpy_arrow.cli.common import (
    EXIT_ERROR,
    EXIT_INTERRUPTED,
    EXIT_USAGE,
    FORMATS,
    BenchmarksNotFoundError,
    UsageError,
)
from grumpy_arrow.errors import GrumpyError

if TYPE_CHECKING:
    from grumpy_arrow.cli.demo import build_demo_arrays, build_demo_frame, run_demo

__all__ = ["build_demo_arrays", "build_demo_frame", "build_parser", "main", "run_demo"]

# Each command's entry point, "module:function" (the function takes the parsed arguments
# and returns the exit status); its module is imported when the command runs (_load).
_COMMANDS: dict[str, str] = {
    "demo": "grumpy_arrow.cli.demo:demo_command",
    "info": "grumpy_arrow.cli.stores:info_command",
    "head": "grumpy_arrow.cli.stores:head_command",
    "validate": "grumpy_arrow.cli.stores:validate_command",
    "upgrade": "grumpy_arrow.cli.stores:upgrade_command",
    "convert": "grumpy_arrow.cli.convert:convert_command",
    "bench": "grumpy_arrow.cli.bench:bench_command",
}
# Names this package re-exports from the demo, imported on first use (PEP 562).
_EXPORTS: dict[str, str] = {
    "build_demo_arrays": "grumpy_arrow.cli.demo:build_demo_arrays",
    "build_demo_frame": "grumpy_arrow.cli.demo:build_demo_frame",
    "run_demo": "grumpy_arrow.cli.demo:run_demo",
}


def _load(target: str) -> Any:
    """``"module:name"``: import the module and return the name.

    The command line's one import inside a function, lazy on purpose: a command's module,
    and what it brings (zarr, fsspec, ``pyarrow.parquet``, the savers), loads only when
    that command runs (or a name of :data:`_EXPORTS` is first used), so ``grumpy-arrow
    --version`` and ``--help`` start fast.
    """
    module, _, name = target.partition(":")
    return getattr(importlib.import_module(module), name)


def __getattr__(name: str) -> object:
    """The names of :data:`_EXPORTS`, imported on first use and then kept."""
    target = _EXPORTS.get(name)
    if target is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = _load(target)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    """The module's names, with those of :data:`_EXPORTS` not loaded yet."""
    return sorted(set(globals()) | set(_EXPORTS))


class _Parser(argparse.ArgumentParser):
    """An argument parser whose mistakes raise :class:`UsageError` (one line, exit 2)."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{message} (see '{self.prog} --help')")


def _count(minimum: int) -> Any:
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be at least {minimum}, got {value}")
        return value

    parse.__name__ = "int"
    return parse


def _versions() -> str:
    parts = []
    for name in ("pyarrow", "zarr", "numpy"):
        try:
            parts.append(f"{name} {version(name)}")
        except PackageNotFoundError:  # pragma: no cover - they are dependencies
            continue
    python = ".".join(str(v) for v in sys.version_info[:3])
    return f"grumpy-arrow {__version__} ({', '.join(parts)}, Python {python})"


# Each command's one-line summary (the list in ``--help``) and description (its own
# ``--help``), in the order ``--help`` lists them (that of :data:`_COMMANDS`).
_HELP: dict[str, tuple[str, str]] = {
    "demo": (
        "the main job, end to end, on a built-in dataset",
        "Build a seeded molecule -> residue -> atom dataset, compute on it, save it, read "
        "random molecules lazily, stream a shuffled epoch through apply, compute results "
        "into the savers, and print timings, sizes and throughput.",
    ),
    "info": (
        "describe a store",
        "Schema, entities per level, columns with dtypes, layouts and bytes, rows, shards, "
        "bytes on disk and chunking of a store (metadata only).",
    ),
    "head": (
        "print the first rows of a store",
        "Print the first rows of a store, one line per row (long lists shortened); only "
        "those rows are read.",
    ),
    "validate": (
        "check every leaf of a store",
        "Check the manifest and every leaf of a store (or of every shard); list the problems "
        "and exit 1 if there are any.",
    ),
    "upgrade": (
        "rewrite a store in the current format",
        "Rewrite a version-1 store (or every shard of a sharded dataset) in the current "
        "format version, batch by batch, swapping the new store in whole; stores already "
        "current are left alone.",
    ),
    "convert": (
        "convert between files and stores (streaming)",
        "Convert between Parquet, Arrow IPC (file and stream), JSONL, CSV and "
        "grumpy stores in either direction, batch by batch. Formats follow from the "
        "extensions (.parquet .arrow .feather .ipc .arrows .jsonl .csv; a directory or no "
        "extension is a store; .gz/.zst/.bz2 compress text) unless --from/--to say. Union "
        "columns are written lowered (<col> + <col>__is_scalar) and rebuilt on import.",
    ),
    "bench": (
        "run the benchmark suite (quick)",
        "Run benchmarks/run_all.py of the source checkout with this Python and print its "
        "tables (quick sizes unless --full or --smoke).",
    ),
}
# The commands on one store: their first argument is its path.
_STORE_COMMANDS = frozenset({"info", "head", "validate", "upgrade"})


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every command."""
    parser = _Parser(
        prog="grumpy-arrow",
        description="Ragged, nested and union arrays on Apache Arrow, stored as Zarr v3.",
        epilog="Exit status: 0 ok, 1 data or store error, 2 usage error, 130 interrupted. "
        "See docs/cli.md.",
    )
    parser.add_argument("--version", action="version", version=_versions())
    parser.add_argument(
        "--debug", action="store_true", help="show tracebacks (also GRUMPY_DEBUG=1)"
    )
    common = _Parser(add_help=False)
    common.add_argument(
        "--debug",
        action="store_true",
        default=argparse.SUPPRESS,
        help="show tracebacks (also GRUMPY_DEBUG=1)",
    )
    sub = parser.add_subparsers(
        dest="command", metavar="COMMAND", required=True, parser_class=_Parser
    )
    commands = {name: _command(sub, common, name) for name in _COMMANDS}
    _demo_options(commands["demo"])
    _store_options(commands)
    _convert_options(commands["convert"])
    _bench_options(commands["bench"])
    return parser


def _command(sub: Any, common: _Parser, name: str) -> argparse.ArgumentParser:
    """A command's parser, with its :data:`_HELP`, the options every command takes
    (``common``: ``--debug``) and, for a command on one store, the store's ``path``."""
    summary, description = _HELP[name]
    parser: argparse.ArgumentParser = sub.add_parser(
        name, parents=[common], help=summary, description=description
    )
    if name in _STORE_COMMANDS:
        parser.add_argument("path", help="a store path or fsspec URL")
    return parser


def _demo_options(demo: argparse.ArgumentParser) -> None:
    demo.add_argument(
        "--rows", type=_count(1), default=2000, help="molecules to build (default 2000)"
    )
    demo.add_argument(
        "--out", metavar="DIR", help="write the outputs here and keep them (replacing earlier ones)"
    )
    demo.add_argument("--seed", type=_count(0), default=0, help="random seed (default 0)")


def _store_options(commands: dict[str, argparse.ArgumentParser]) -> None:
    commands["info"].add_argument("--json", action="store_true", help="print the facts as JSON")
    head = commands["head"]
    head.add_argument("-n", type=_count(0), default=5, help="rows to print (default 5)")
    head.add_argument(
        "--columns", nargs="+", metavar="COL", help="only these columns (space- or comma-separated)"
    )
    commands["upgrade"].add_argument(
        "--compressor",
        default="default",
        choices=["default", "auto", "none", "zstd", "blosc"],
        help="the new store's compressor (default: auto)",
    )


def _bench_options(bench: argparse.ArgumentParser) -> None:
    size = bench.add_mutually_exclusive_group()
    size.add_argument(
        "--quick",
        dest="size",
        action="store_const",
        const="quick",
        default="quick",
        help="reduced sizes, real ratios (default, ~2 min)",
    )
    size.add_argument(
        "--smoke",
        dest="size",
        action="store_const",
        const="smoke",
        help="tiny sizes: checks the scripts run; timings mean nothing",
    )
    size.add_argument(
        "--full", dest="size", action="store_const", const="full", help="full sizes (10-20 min)"
    )
    bench.add_argument(
        "--only",
        nargs="+",
        metavar="SUITE",
        help="run only these suites (compute, frame, storage, ...)",
    )
    bench.add_argument("--out", metavar="FILE", help="also write the tables as Markdown here")
    bench.add_argument(
        "--benchmarks-dir",
        metavar="DIR",
        help="the benchmarks folder (default: $GRUMPY_BENCHMARKS_DIR, else "
        "benchmarks/ of the checkout)",
    )


def _convert_options(conv: argparse.ArgumentParser) -> None:
    conv.add_argument("src", metavar="SRC", help="the input file or store")
    conv.add_argument("dst", metavar="DST", help="the output file or store")
    conv.add_argument(
        "--from", dest="src_format", metavar="FMT", help=f"the input format: {', '.join(FORMATS)}"
    )
    conv.add_argument(
        "--to", dest="dst_format", metavar="FMT", help=f"the output format: {', '.join(FORMATS)}"
    )
    conv.add_argument(
        "--shard-rows",
        type=_count(1),
        metavar="N",
        help="write a sharded store of at most N rows per shard",
    )
    conv.add_argument(
        "--chunk-size", type=_count(1), metavar="N", help="elements per chunk of every store leaf"
    )
    conv.add_argument(
        "--compressor",
        metavar="NAME",
        help="store: default, none, zstd, blosc; Parquet: none, snappy, zstd, "
        "gzip, brotli, lz4; IPC: none, zstd, lz4",
    )
    conv.add_argument(
        "--batch-rows",
        type=_count(1),
        default=65536,
        metavar="N",
        help="rows per batch read and written (default 65536)",
    )
    conv.add_argument(
        "--block-size",
        type=_count(1024),
        default=8 << 20,
        metavar="BYTES",
        help="CSV/JSONL read block; column types are inferred from the first (default 8 MiB)",
    )
    conv.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="a progress bar on stderr (default: when stderr is a terminal)",
    )
    conv.add_argument(
        "--schema",
        metavar="LEVELS",
        help="levels for a file read into a store, e.g. molecule,residue/group,atom",
    )
    conv.add_argument(
        "--nested-as-json",
        action="store_true",
        help="CSV: write list and union columns as JSON text, and read such text back into lists",
    )
    mode = conv.add_mutually_exclusive_group()
    mode.add_argument("--overwrite", action="store_true", help="replace DST if it exists")
    mode.add_argument("--append", action="store_true", help="append to the store DST")


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: parse ``argv``, run the command; errors print one line.

    Returns the exit status: 0, 1 (data or store error), 2 (usage error) or 130 (Ctrl-C).
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv or os.environ.get("GRUMPY_DEBUG", "") not in ("", "0")
    try:
        try:
            args = build_parser().parse_args(argv)
        except SystemExit as done:  # --help, --version
            return int(done.code or 0)
        return _run(args)
    except KeyboardInterrupt:
        if debug:
            raise
        print("grumpy-arrow: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # `grumpy-arrow head ... | head -1`: the reader left
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_ERROR
    except Exception as err:
        if debug:
            raise
        print(f"grumpy-arrow: error: {one_line(err)}", file=sys.stderr)
        return EXIT_USAGE if _is_usage(err) else EXIT_ERROR


def _is_usage(err: BaseException) -> bool:
    return isinstance(err, (UsageError, BenchmarksNotFoundError))


def one_line(err: BaseException) -> str:
    """An exception as one line: its message (with its type when it is not one of ours or
    a builtin data error) and its notes."""
    text = str(err).strip() or type(err).__name__
    known = (GrumpyError, UsageError, ValueError, OSError, ImportError, pa.ArrowException)
    if not isinstance(err, known):
        text = f"{type(err).__name__}: {text} (--debug shows the traceback)"
    notes = getattr(err, "__notes__", None)
    if notes:
        text += f" ({'; '.join(notes)})"
    return " ".join(text.split())


def _run(args: argparse.Namespace) -> int:
    """Run the parsed command through its entry point in :data:`_COMMANDS`."""
    command: Callable[[argparse.Namespace], int] = _load(_COMMANDS[args.command])
    return command(args)
