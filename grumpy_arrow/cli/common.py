"""What the dispatcher and the commands share: the exit statuses, the errors that are
usage mistakes (exit status 2) and the format names of ``convert``.

Standard library only: the dispatcher imports it to build its parser, so ``grumpy-arrow
--version`` loads no command module (and neither fsspec nor ``pyarrow.parquet``).
"""

from __future__ import annotations

__all__ = [
    "EXIT_ERROR",
    "EXIT_INTERRUPTED",
    "EXIT_USAGE",
    "FORMATS",
    "BenchmarksNotFoundError",
    "UsageError",
]

EXIT_ERROR, EXIT_USAGE, EXIT_INTERRUPTED = 1, 2, 130

FORMATS = ("store", "parquet", "ipc", "ipc-stream", "jsonl", "csv")


class UsageError(ValueError):
    """A command line that cannot work (exit status 2)."""


class BenchmarksNotFoundError(FileNotFoundError):
    """No ``benchmarks/run_all.py`` (an installed wheel ships none; exit status 2)."""
