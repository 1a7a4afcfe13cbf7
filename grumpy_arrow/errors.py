"""The exceptions grumpy_arrow raises.

Every exception derives from :class:`GrumpyError` and also from the builtin it refines,
so ``except ValueError`` keeps working for code that does not know about grumpy_arrow::

    GrumpyError(Exception)
    ├── DTypeError(TypeError)           unknown dtype, values that cannot share one dtype
    ├── ConversionError(ValueError)     a value that does not fit the requested dtype
    ├── LayoutError(TypeError)          an Arrow layout grumpy_arrow cannot represent or use
    ├── OffsetsError(ValueError)        offsets that are not a valid list structure
    ├── BroadcastError(ValueError)      operand structures that do not broadcast
    ├── SchemaError(ValueError)         a dataframe column that breaks its schema
    ├── ColumnNotFoundError(KeyError)   a column or level name that does not exist
    ├── OutOfBoundsError(IndexError)    an index outside an axis
    ├── DivisionByZeroError(ZeroDivisionError)   integer division or modulo by zero
    └── StoreError(OSError)             a store that cannot be read or written
        ├── StoreFormatError(ValueError)   a store whose manifest or leaves are malformed
        ├── StoreLockedError(TimeoutError)   another writer holds the store's lock
        └── DatasetNotFoundError(FileNotFoundError)   a saver's dataset that does not exist

Messages say what was expected, what was received, and where (position, column, level,
row, leaf or store).
"""

from __future__ import annotations

__all__ = [
    "BroadcastError",
    "ColumnNotFoundError",
    "ConversionError",
    "DTypeError",
    "DatasetNotFoundError",
    "DivisionByZeroError",
    "GrumpyError",
    "LayoutError",
    "OffsetsError",
    "OutOfBoundsError",
    "SchemaError",
    "StoreError",
    "StoreFormatError",
    "StoreLockedError",
]


class GrumpyError(Exception):
    """Base class of every error raised by grumpy_arrow."""


class DTypeError(GrumpyError, TypeError):
    """A dtype name is unknown, or values cannot share one dtype."""


class ConversionError(GrumpyError, ValueError):
    """A value does not fit the requested dtype (``1.5`` into ``int32``, ``300`` into ``int8``)."""


class LayoutError(GrumpyError, TypeError):
    """An Arrow layout that grumpy_arrow cannot represent, or an operation a layout lacks."""


class OffsetsError(GrumpyError, ValueError):
    """Offsets that do not describe lists: decreasing, negative, or past the values."""


class BroadcastError(GrumpyError, ValueError):
    """Two operand structures cannot be broadcast against each other."""


class SchemaError(GrumpyError, ValueError):
    """A dataframe column breaks the schema (prefix, depth, offsets or length)."""


class ColumnNotFoundError(GrumpyError, KeyError):
    """A column or level name that does not exist."""

    def __str__(self) -> str:
        # KeyError quotes its argument; a sentence reads better unquoted.
        return str(self.args[0]) if self.args else ""


class OutOfBoundsError(GrumpyError, IndexError):
    """An index outside the length of the axis it indexes."""


class DivisionByZeroError(GrumpyError, ZeroDivisionError):
    """Integer division or modulo by zero (floats give inf/nan as in NumPy)."""


class StoreError(GrumpyError, OSError):
    """A store cannot be opened, read or written."""


class StoreFormatError(StoreError, ValueError):
    """A store's manifest or leaves are malformed, missing, truncated or of unknown version."""


class DatasetNotFoundError(StoreError, FileNotFoundError):
    """A saver was asked to update (or load) a dataset that does not exist."""


class StoreLockedError(StoreError, TimeoutError):
    """Another writer held the store's (or dataset's) lock for longer than the timeout."""
