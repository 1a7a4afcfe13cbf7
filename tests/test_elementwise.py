from __future__ import annotations

import math

import numpy as np
import pyarrow as pa
import pytest

import grumpy_arrow as gr
from grumpy_arrow.testing import assert_values_equal


@pytest.mark.parametrize(
    ("op", "expected"),
    [
        (lambda a, b: a + b, [[11, 22], [33]]),
        (lambda a, b: b - a, [[9, 18], [27]]),
        (lambda a, b: a * b, [[10, 40], [90]]),
        (lambda a, b: b / a, [[10.0, 10.0], [10.0]]),
        (lambda a, b: b // (a + 2), [[3, 5], [6]]),
        (lambda a, b: b % (a + 2), [[1, 0], [0]]),
        (lambda a, b: a**a, [[1, 4], [27]]),
    ],
    ids=["add", "sub", "mul", "truediv", "floordiv", "mod", "pow"],
)
def test_arithmetic_on_same_structure(op: object, expected: list[object]) -> None:
    a = gr.array([[1, 2], [3]])
    b = gr.array([[10, 20], [30]])
    assert op(a, b).to_list() == expected  # type: ignore[operator]


def test_reflected_operators_with_scalars() -> None:
    x = gr.array([[1, 2], [4]])
    assert (10 - x).to_list() == [[9, 8], [6]]
    assert (2 * x).to_list() == [[2, 4], [8]]
    assert (8 / x).to_list() == [[8.0, 4.0], [2.0]]
    assert (9 // x).to_list() == [[9, 4], [2]]
    assert (9 % x).to_list() == [[0, 1], [1]]
    assert (2**x).to_list() == [[2, 4], [16]]
    assert (1 + x).to_list() == [[2, 3], [5]]


def test_unary_operators() -> None:
    x = gr.array([[1, -2], [3]])
    assert (-x).to_list() == [[-1, 2], [-3]]
    assert abs(x).to_list() == [[1, 2], [3]]
    assert (+x).to_list() == [[1, -2], [3]]
    assert (~gr.array([[True, False]])).to_list() == [[False, True]]
    assert (~gr.array([0, 1], dtype=gr.uint8)).to_list() == [255, 254]


@pytest.mark.parametrize(
    ("a_dtype", "scalar", "expected"),
    [
        (gr.int32, 1, gr.int32),
        (gr.int32, 1.5, gr.float64),
        (gr.float32, 1.5, gr.float32),
        (gr.uint8, 3, gr.uint8),
        (gr.int8, True, gr.int8),
        (gr.bool_, 1, gr.int64),
    ],
    ids=str,
)
def test_python_scalars_promote_like_numpy_2(
    a_dtype: gr.DType, scalar: object, expected: gr.DType
) -> None:
    assert (gr.array([[1, 0]]).astype(a_dtype) + scalar).dtype is expected


def test_array_promotion_and_true_division() -> None:
    i32 = gr.array([[1, 2]], dtype=gr.int32)
    f32 = gr.array([[1.0, 2.0]], dtype=gr.float32)
    assert (i32 + f32).dtype is gr.float64
    assert (i32 / i32).dtype is gr.float64
    assert (f32 / f32).dtype is gr.float32
    assert (gr.array([1], dtype=gr.uint64) + gr.array([1], dtype=gr.int64)).dtype is gr.float64
    assert (gr.array([1.0], dtype=gr.float16) * 2).dtype is gr.float16
    assert (gr.array([True, True]) + gr.array([True, False])).to_list() == [2, 1]


def test_integer_arithmetic_wraps_like_numpy() -> None:
    assert (gr.array([127], dtype=gr.int8) + 1).to_list() == [-128]


def test_scalar_that_does_not_fit_raises() -> None:
    with pytest.raises(gr.ConversionError, match="scalar 300 does not fit uint8"):
        gr.array([1], dtype=gr.uint8) + 300


def test_integer_division_and_modulo_by_zero_raise() -> None:
    x = gr.array([[1, 2], [3]])
    with pytest.raises(gr.errors.DivisionByZeroError, match="integer floor divide by zero"):
        x // 0
    with pytest.raises(gr.errors.DivisionByZeroError, match="leaf position 2"):
        x % gr.array([[1, 1], [0]])
    with pytest.raises(ZeroDivisionError):
        x // gr.array([[1, 0], [1]])


def test_division_by_zero_of_floats_gives_inf_and_nan() -> None:
    out = (gr.array([1.0, -1.0, 0.0]) / 0).to_list()
    assert out[:2] == [math.inf, -math.inf] and math.isnan(out[2])
    assert (gr.array([1, 2]) / 0).to_list() == [math.inf, math.inf]
    assert (gr.array([7.5]) // 2).to_list() == [3.0]
    assert (gr.array([-7]) // 2).to_list() == [-4]  # floor, not truncation
    assert (gr.array([-7]) % 3).to_list() == [2]


def test_negative_integer_power_is_refused() -> None:
    with pytest.raises(gr.ConversionError, match="integers to negative integer powers"):
        gr.array([2]) ** -1
    assert (gr.array([2.0]) ** -1).to_list() == [0.5]


def test_nulls_propagate_and_nan_is_a_value() -> None:
    x = gr.array([[1.0, None, math.nan]])
    out = (x + 1).to_list()[0]
    assert out[0] == 2.0 and out[1] is None and math.isnan(out[2])
    assert (x == 1.0).to_list() == [[True, None, False]]
    assert (gr.array([4, None]) // 2).to_list() == [2, None]
    assert (gr.array([4, None]) % gr.array([3, 0])).to_list() == [1, None]


def test_comparisons_return_bool_arrays() -> None:
    x = gr.array([[1, 5], [3]])
    assert (x > 2).to_list() == [[False, True], [True]]
    assert (x <= 3).to_list() == [[True, False], [True]]
    assert (x == gr.array([[1, 1], [3]])).to_list() == [[True, False], [True]]
    assert (x != 5).to_list() == [[True, False], [True]]
    assert (x >= 5).dtype is gr.bool_
    assert (x < 2.5).to_list() == [[True, False], [False]]


def test_logical_and_bitwise_operators() -> None:
    a = gr.array([[True, False], [True]])
    b = gr.array([[True, True], [False]])
    assert (a & b).to_list() == [[True, False], [False]]
    assert (a | b).to_list() == [[True, True], [True]]
    assert (a ^ b).to_list() == [[False, True], [True]]
    assert (gr.array([6]) & 3).to_list() == [2]
    assert (gr.array([6]) | 1).to_list() == [7]
    with pytest.raises(gr.DTypeError, match="& needs bool or integer operands"):
        gr.array([1.5]) & gr.array([1.0])


def test_arithmetic_on_strings_is_a_dtype_error() -> None:
    with pytest.raises(gr.DTypeError, match="cannot combine an array of string with the number 1"):
        gr.array(["a"]) - 1
    with pytest.raises(gr.DTypeError, match="arithmetic is not defined for string and string"):
        gr.array(["a"]) * gr.array(["b"])


def test_string_concatenation_and_comparison() -> None:
    s = gr.array([["ab", "c"], ["d"]])
    assert (s + "!").to_list() == [["ab!", "c!"], ["d!"]]
    assert ("<" + s).to_list() == [["<ab", "<c"], ["<d"]]
    assert (s + s).to_list() == [["abab", "cc"], ["dd"]]
    assert (s == "c").to_list() == [[False, True], [False]]
    assert (s < "b").to_list() == [[True, False], [False]]


def test_string_namespace() -> None:
    s = gr.array([["Ab", " c "], None, ["DNA"]])
    assert s.str.upper().to_list() == [["AB", " C "], None, ["DNA"]]
    assert s.str.lower().to_list() == [["ab", " c "], None, ["dna"]]
    assert s.str.len().to_list() == [[2, 3], None, [3]]
    assert s.str.len().dtype is gr.int64
    assert s.str.strip().to_list() == [["Ab", "c"], None, ["DNA"]]
    assert s.str.contains("b").to_list() == [[True, False], None, [False]]
    assert s.str.contains("^d", regex=True, case=False).to_list() == [[False, False], None, [True]]
    assert s.str.startswith("A").to_list() == [[True, False], None, [False]]
    assert s.str.endswith("A").to_list() == [[False, False], None, [True]]
    assert s.str.replace("A", "a").to_list() == [["ab", " c "], None, ["DNa"]]
    assert s.str.replace("[A-Z]", "_", regex=True).to_list() == [["_b", " c "], None, ["___"]]


def test_string_namespace_on_unions() -> None:
    u = gr.array(["P1", ["P1-1", "P1-22"]])
    assert u.str.len().to_list() == [2, [4, 5]]


def test_string_namespace_needs_strings() -> None:
    with pytest.raises(gr.DTypeError, match=r"\.str needs a string array, got int64"):
        _ = gr.array([1]).str


@pytest.mark.parametrize(
    ("fn", "values", "expected"),
    [
        (gr.sqrt, [4, 9], [2.0, 3.0]),
        (gr.exp, [0.0], [1.0]),
        (gr.log, [1.0, 0.0], [0.0, -math.inf]),
        (gr.log2, [8], [3.0]),
        (gr.log10, [100], [2.0]),
        (gr.sin, [0.0], [0.0]),
        (gr.cos, [0.0], [1.0]),
        (gr.tan, [0.0], [0.0]),
        (gr.arcsin, [1.0], [math.pi / 2]),
        (gr.arccos, [1.0], [0.0]),
        (gr.arctan, [0.0], [0.0]),
        (gr.sign, [-3, 0, 2], [-1, 0, 1]),
        (gr.floor, [1.5, -1.5], [1.0, -2.0]),
        (gr.ceil, [1.5, -1.5], [2.0, -1.0]),
        (gr.isnan, [1.0, math.nan], [False, True]),
        (gr.isfinite, [1.0, math.inf, math.nan], [True, False, False]),
        (gr.isinf, [1.0, -math.inf], [False, True]),
    ],
    ids=lambda v: getattr(v, "__name__", None),
)
def test_math_functions(fn: object, values: list[object], expected: list[object]) -> None:
    assert fn(gr.array([values])).to_list() == [expected]  # type: ignore[operator]


def test_math_functions_keep_dtypes_and_nulls() -> None:
    assert gr.sqrt(gr.array([4.0], dtype=gr.float32)).dtype is gr.float32
    assert gr.sqrt(gr.array([4.0], dtype=gr.float16)).dtype is gr.float16
    assert gr.sqrt(gr.array([4])).dtype is gr.float64
    assert gr.floor(gr.array([3])).to_list() == [3]
    assert gr.sign(gr.array([-2], dtype=gr.int8)).dtype is gr.int8
    assert gr.isnan(gr.array([1, None])).to_list() == [False, None]
    assert math.isnan(gr.sqrt(gr.array([-1.0])).to_list()[0])
    with pytest.raises(gr.DTypeError, match="needs numeric values, got string"):
        gr.sqrt(gr.array(["a"]))


def test_round_and_clip() -> None:
    assert gr.round(gr.array([0.5, 1.5, 2.5, 2.567])).to_list() == [0.0, 2.0, 2.0, 3.0]
    assert gr.array([2.567]).round(2).to_list() == [2.57]
    assert gr.round(gr.array([5])).to_list() == [5]
    x = gr.array([[1, 5], [9]])
    assert gr.clip(x, 2, 6).to_list() == [[2, 5], [6]]
    assert gr.clip(x, upper=gr.array([3, 4])).to_list() == [[1, 3], [4]]


def test_numpy_ufuncs_dispatch_to_grumpy() -> None:
    x = gr.array([[1.0, 4.0], [9.0]])
    out = np.sqrt(x)
    assert isinstance(out, gr.GrumpyArray)
    assert out.to_list() == [[1.0, 2.0], [3.0]]
    assert np.add(x, 1).to_list() == [[2.0, 5.0], [10.0]]
    assert np.multiply(2, x).to_list() == [[2.0, 8.0], [18.0]]
    assert np.maximum(x, 3.0).to_list() == [[3.0, 4.0], [9.0]]
    assert np.greater(x, 2.0).to_list() == [[False, True], [True]]
    assert np.logical_not(x > 2).to_list() == [[True, False], [False]]
    assert (np.float64(2.0) * x).to_list() == [[2.0, 8.0], [18.0]]
    assert np.rint(gr.array([1.5])).to_list() == [2.0]


def test_numpy_reduce_methods_map_to_reductions_and_others_are_refused() -> None:
    assert np.add.reduce(gr.array([[1, 2], [3]])).to_list() == [4, 2]  # axis=0, NumPy's
    with pytest.raises(TypeError):
        np.subtract.reduce(gr.array([[1, 2]]))


def test_astype_rules() -> None:
    x = gr.array([[1.7, -2.2]])
    assert x.astype(gr.int32).to_list() == [[1, -2]]
    assert x.astype("float32").dtype is gr.float32
    with pytest.raises(gr.DTypeError, match="cannot cast float64 to int32 under casting='safe'"):
        x.astype(gr.int32, casting="safe")
    with pytest.raises(gr.ConversionError, match="cannot cast int64 values to int8"):
        gr.array([300]).astype(gr.int8, casting="same_kind")
    assert gr.array(["5", "7"]).astype(gr.int64).to_list() == [5, 7]
    assert gr.array([1, [2]]).astype(gr.float64).to_list() == [1.0, [2.0]]


def test_results_are_new_arrays_and_share_offsets() -> None:
    a = gr.array([[1, 2], [3]])
    b = a * 2
    assert a.to_list() == [[1, 2], [3]]
    assert b.to_arrow().offsets.equals(a.to_arrow().offsets)
    assert b.to_arrow().type == pa.large_list(pa.int64())


def test_bool_array_plus_python_bool_counts() -> None:
    assert (gr.array([True, False]) + True).to_list() == [2, 1]


@pytest.mark.parametrize("op", ["__gt__", "__lt__", "__eq__", "__ne__", "__ge__", "__le__"])
def test_float16_compares_like_numpy(op: str) -> None:
    values = np.array([1.5, -2.0, 0.0, 65504.0], dtype=np.float16)
    x = gr.array([values[:2].tolist(), values[2:].tolist()], dtype="float16")
    for other in (0, np.float16(1.5), gr.array([1.5, 0.0], dtype="float16")):
        right = other if not isinstance(other, gr.GrumpyArray) else np.array([1.5, 1.5, 0.0, 0.0])
        want = getattr(values, op)(right).tolist()
        assert getattr(x, op)(other).to_list() == [want[:2], want[2:]]


def test_maximum_minimum_and_clip_keep_nulls_and_nan() -> None:
    x = gr.array([[1.0, None], [float("nan"), 3.0]])
    assert_values_equal(np.maximum(x, 2.0).to_list(), [[2.0, None], [float("nan"), 3.0]])
    assert_values_equal(np.minimum(x, 2.0).to_list(), [[1.0, None], [float("nan"), 2.0]])
    assert_values_equal(gr.clip(x, 0.0, 1.5).to_list(), [[1.0, None], [float("nan"), 1.5]])
    i = gr.array([[5, None]], dtype=gr.int32)
    assert np.maximum(i, 7).to_list() == [[7, None]]
    assert np.maximum(i, 7).type == "1 * var * int32"
