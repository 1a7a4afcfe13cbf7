from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

import grumpy_arrow as gr


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("int32", gr.int32),
        ("bool", gr.bool_),
        ("bool_", gr.bool_),
        ("str", gr.string),
        ("float", gr.float64),
        (np.dtype("uint16"), gr.uint16),
        (np.float32, gr.float32),
        (pa.large_string(), gr.string),
        (pa.binary(), gr.binary),
        (int, gr.int64),
        (gr.float16, gr.float16),
    ],
    ids=str,
)
def test_dtype_parses_names_numpy_arrow_and_python_types(spec: object, expected: gr.DType) -> None:
    assert gr.dtype(spec) is expected


def test_unknown_dtype_name_lists_the_valid_ones() -> None:
    with pytest.raises(gr.DTypeError, match="unknown dtype 'int31'; expected one of int8"):
        gr.dtype("int31")


def test_dtype_singletons_have_names_and_repr() -> None:
    assert [d.name for d in (gr.int8, gr.uint64, gr.float16, gr.bool_, gr.string, gr.binary)] == [
        "int8",
        "uint64",
        "float16",
        "bool_",
        "string",
        "binary",
    ]
    assert repr(gr.int32) == "dtype('int32')"


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        ("int32", "float32", "float64"),
        ("int8", "uint8", "int16"),
        ("int64", "uint64", "float64"),
        ("bool", "int8", "int8"),
        ("float16", "float32", "float32"),
        ("string", "string", "string"),
    ],
)
def test_promote_types_follows_numpy(a: str, b: str, expected: str) -> None:
    assert gr.promote_types(a, b).name == expected


def test_promote_string_with_number_is_refused() -> None:
    with pytest.raises(gr.DTypeError, match="cannot combine dtypes string and int64"):
        gr.promote_types(gr.string, gr.int64)


@pytest.mark.parametrize(
    ("src", "dst", "casting", "expected"),
    [
        ("int32", "int64", "safe", True),
        ("int64", "int32", "safe", False),
        ("int64", "int32", "same_kind", True),
        ("float64", "int32", "same_kind", False),
        ("float64", "int32", "unsafe", True),
        ("string", "int32", "unsafe", False),
    ],
)
def test_can_cast_rules(src: str, dst: str, casting: str, expected: bool) -> None:
    assert gr.can_cast(src, dst, casting) is expected


def test_can_cast_rejects_unknown_rule() -> None:
    with pytest.raises(ValueError, match="casting must be"):
        gr.can_cast("int8", "int16", "sometimes")
