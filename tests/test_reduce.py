"""Reductions with dim=None|int and the empty-segment rules of docs/array-model.md ("Reductions")."""

from __future__ import annotations

import math

import pytest

import grumpy_arrow as gr


def test_mean_of_int32_rows_is_float() -> None:
    assert gr.array([[1, 2, 3], [4, 5]], dtype=gr.int32).mean(dim=1).to_list() == [2.0, 4.5]


def test_union_mean_over_everything() -> None:
    assert gr.array([1, [2, 3], 4]).mean() == 2.5


@pytest.mark.parametrize(
    ("op", "everything", "inner"),
    [
        ("sum", 15, [6, 0, 9]),
        ("prod", 120, [6, 1, 20]),
        ("mean", 3.0, [2.0, None, 4.5]),
        ("min", 1, [1, None, 4]),
        ("max", 5, [3, None, 5]),
        ("count", 5, [3, 0, 2]),
        ("count_nonzero", 5, [3, 0, 2]),
        ("any", True, [True, False, True]),
        ("all", True, [True, True, True]),
        ("argmin", 0, [0, None, 0]),
        ("argmax", 4, [2, None, 1]),
        ("ptp", 4, [2, None, 1]),
        ("var", 2.0, [2 / 3, None, 0.25]),
        ("std", math.sqrt(2.0), [math.sqrt(2 / 3), None, 0.5]),
    ],
)
def test_every_reduction_with_dim_none_and_innermost(
    ragged: gr.GrumpyArray, op: str, everything: object, inner: list[object]
) -> None:
    assert getattr(ragged, op)() == pytest.approx(everything)
    got = getattr(ragged, op)(dim=1).to_list()
    assert (
        got == pytest.approx(inner)
        if None not in inner
        else got == [pytest.approx(v) if v is not None else None for v in inner]
    )
    assert getattr(ragged, op)(dim=-1).to_list() == got


@pytest.mark.parametrize(
    ("op", "expected"),
    [
        ("sum", [0, 0]),
        ("prod", [1, 1]),
        ("count", [0, 0]),
        ("any", [False, False]),
        ("all", [True, True]),
        ("mean", [None, None]),
        ("min", [None, None]),
        ("max", [None, None]),
        ("std", [None, None]),
        ("var", [None, None]),
        ("ptp", [None, None]),
        ("argmin", [None, None]),
        ("argmax", [None, None]),
    ],
)
def test_empty_and_all_null_segments(op: str, expected: list[object]) -> None:
    x = gr.array([[], [None, None]], dtype=gr.float64)
    assert getattr(x, op)(dim=1).to_list() == expected


def test_nulls_are_skipped() -> None:
    x = gr.array([[1, None, 3], [None, 4]])
    assert x.sum(dim=1).to_list() == [4, 4]
    assert x.mean(dim=1).to_list() == [2.0, 4.0]
    assert x.min(dim=1).to_list() == [1, 4]
    assert x.max(dim=1).to_list() == [3, 4]
    assert x.argmin(dim=1).to_list() == [0, 1]
    assert x.argmax(dim=1).to_list() == [2, 1]
    assert x.count(dim=1).to_list() == [2, 1]
    assert x.ptp(dim=1).to_list() == [2, 0]
    assert x.sum() == 8


def test_null_lists_reduce_to_null() -> None:
    assert gr.array([[1, 2], None]).sum(dim=1).to_list() == [3, None]


def test_nan_is_a_value_in_reductions() -> None:
    x = gr.array([[1.0, math.nan, 0.5]])
    assert math.isnan(x.sum(dim=1).to_list()[0])
    assert math.isnan(x.min(dim=1).to_list()[0])
    assert x.argmin(dim=1).to_list() == [1]


def test_result_dtypes_follow_numpy() -> None:
    x = gr.array([[1, 2]], dtype=gr.int8)
    assert x.sum(dim=1).dtype is gr.int64
    assert x.max(dim=1).dtype is gr.int8
    assert x.mean(dim=1).dtype is gr.float64
    assert gr.array([[1, 2]], dtype=gr.uint16).sum(dim=1).dtype is gr.uint64
    f = gr.array([[1.0, 2.0]], dtype=gr.float32)
    assert f.sum(dim=1).dtype is gr.float32
    assert f.mean(dim=1).dtype is gr.float32
    assert gr.array([[True, True, False]]).sum(dim=1).to_list() == [2]
    assert x.argmax(dim=1).dtype is gr.int64
    assert gr.array([[True, False]]).min(dim=1).to_list() == [False]


def test_outer_dims_are_positional() -> None:
    x = gr.array([[1, 2, 3], [4, 5]])
    assert x.sum(dim=0).to_list() == [5, 7, 3]
    assert x.max(dim=0).to_list() == [4, 5, 3]
    assert x.argmax(dim=0).to_list() == [1, 1, 0]
    assert x.count(dim=0).to_list() == [2, 2, 1]


def test_middle_dim_of_a_three_level_chain() -> None:
    y = gr.array([[[1, 2], [3]], [[4], [5, 6, 7]], []])
    assert y.sum(dim=2).to_list() == [[3, 3], [4, 18], []]
    assert y.sum(dim=1).to_list() == [[4, 2], [9, 6, 7], []]
    assert y.argmax(dim=1).to_list() == [[1, 0], [1, 1, 1], []]
    assert y.sum(dim=0).to_list() == [[5, 2], [8, 6, 7]]
    assert y.mean(dim=-1).to_list() == [[1.5, 3.0], [4.0, 6.0], []]


def test_flat_array_dim_zero_is_a_scalar() -> None:
    x = gr.array([3, 1, 2])
    assert x.sum(dim=0) == 6
    assert x.argmin(dim=0) == 1


def test_union_root_reductions() -> None:
    u = gr.array([1, [2, 3], 4, None, []])
    assert u.sum() == 10
    # A null scalar row stays null (as a null list row does); the empty list sums to 0.
    assert u.sum(dim=-1).to_list() == [1, 5, 4, None, 0]
    assert u.mean(dim=-1).to_list() == [1.0, 2.5, 4.0, None, None]
    assert u.count(dim=-1).to_list() == [1, 2, 1, None, 0]
    assert u.max(dim=0).to_list() == [1, 3, 4, None, None]
    assert u.sum(dim=0).to_list() == [1, 5, 4, None, 0]
    assert u.any(dim=-1).to_list() == [True, True, True, None, False]
    assert u.argmax(dim=-1).to_list() == [0, 1, 0, None, None]
    assert u.std(dim=-1).to_list() == [0.0, 0.5, 0.0, None, None]


def test_deeper_union_innermost_keeps_scalar_rows() -> None:
    u = gr.array([1, [[2, 3], [4]]])
    assert u.sum(dim=-1).to_list() == [1, [5, 4]]
    assert u.sum(dim=0).to_list() == [1, 9]


def test_union_inside_lists_innermost_and_everything() -> None:
    x = gr.array([[1, 2, 3], [[None, 5], [6]]])
    assert x.sum(dim=-1).to_list() == [[1, 2, 3], [5, 6]]
    assert x.sum() == 17


def test_positional_reduction_across_union_items_is_refused() -> None:
    with pytest.raises(gr.LayoutError, match="mix scalars and lists"):
        gr.array([[1, [2, 3]]]).sum(dim=1)


def test_string_reductions() -> None:
    s = gr.array([["b", "a"], [], ["c"]])
    assert s.min(dim=1).to_list() == ["a", None, "c"]
    assert s.max(dim=1).to_list() == ["b", None, "c"]
    assert s.count(dim=1).to_list() == [2, 0, 1]
    assert s.max() == "c"
    with pytest.raises(gr.DTypeError, match="sum is not defined for string values"):
        s.sum(dim=1)


def test_dim_out_of_range_and_bad_dim() -> None:
    with pytest.raises(gr.OutOfBoundsError, match="dim 2 is out of range for an array with ndim 2"):
        gr.array([[1]]).sum(dim=2)
    with pytest.raises(gr.OutOfBoundsError, match="dim -3 is out of range"):
        gr.array([[1]]).sum(dim=-3)
    with pytest.raises(TypeError, match="dim must be an int or None"):
        gr.array([[1]]).sum(dim=1.5)  # type: ignore[arg-type]


def test_float16_reduces_and_keeps_dtype() -> None:
    x = gr.array([[1.0, 2.0]], dtype=gr.float16)
    assert x.sum(dim=1).dtype is gr.float16
    assert x.sum(dim=1).to_list() == [3.0]
    assert x.mean(dim=1).to_list() == [1.5]


def test_positional_sum_mean_count_with_nulls_and_exactness() -> None:
    x = gr.array([[1.5, None], [2.5, 3.0], []])
    assert x.mean(dim=0).to_list() == [2.0, 3.0]
    assert x.count(dim=0).to_list() == [2, 1]
    assert x.sum(dim=0).dtype is gr.float64
    big = gr.array([[2**60, 1], [3]])  # beyond float64's exact range: the sorted path
    assert big.sum(dim=0).to_list() == [2**60 + 3, 1]
    assert gr.array([[True, False], [True]]).sum(dim=0).to_list() == [2, 0]
    assert gr.array([[1, 2]], dtype=gr.int8).sum(dim=0).dtype is gr.int64


def test_bool_reductions_with_nulls() -> None:
    x = gr.array([True, None, False])
    assert x.any() is True
    assert x.all() is False
    assert gr.isnan(gr.array([None, None], dtype=gr.float64)).any() is False
