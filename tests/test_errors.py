from __future__ import annotations

import pytest

from grumpy_arrow import errors


@pytest.mark.parametrize(
    ("cls", "builtin"),
    [
        (errors.DTypeError, TypeError),
        (errors.ConversionError, ValueError),
        (errors.LayoutError, TypeError),
        (errors.OffsetsError, ValueError),
        (errors.BroadcastError, ValueError),
        (errors.SchemaError, ValueError),
        (errors.ColumnNotFoundError, KeyError),
        (errors.OutOfBoundsError, IndexError),
        (errors.DivisionByZeroError, ZeroDivisionError),
        (errors.StoreError, OSError),
        (errors.StoreFormatError, ValueError),
        (errors.StoreLockedError, TimeoutError),
    ],
    ids=lambda c: c.__name__,
)
def test_every_error_is_a_grumpy_error_and_its_builtin(cls: type, builtin: type) -> None:
    assert issubclass(cls, errors.GrumpyError)
    assert issubclass(cls, builtin)


def test_store_format_error_is_also_a_store_error() -> None:
    assert issubclass(errors.StoreFormatError, errors.StoreError)
    assert issubclass(errors.StoreFormatError, OSError)
    assert issubclass(errors.StoreLockedError, errors.StoreError)


def test_column_not_found_message_is_not_quoted() -> None:
    err = errors.ColumnNotFoundError("no column 'x'; columns are a, b")
    assert str(err) == "no column 'x'; columns are a, b"
