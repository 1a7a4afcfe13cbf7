"""Every broadcasting rule of docs/array-model.md ("Broadcasting"), on list-chains and unions."""

from __future__ import annotations

import pytest

import grumpy_arrow as gr


def test_rule1_same_structure_is_leafwise_and_reuses_offsets() -> None:
    a = gr.array([[1, 2, 3], [4, 5]])
    out = a + a
    assert out.to_list() == [[2, 4, 6], [8, 10]]
    assert out.to_arrow().offsets.equals(a.to_arrow().offsets)


def test_rule2_scalars_and_length_one_flat_arrays_broadcast_everywhere() -> None:
    a = gr.array([[1, 2, 3], [4, 5]])
    assert (a * 10).to_list() == [[10, 20, 30], [40, 50]]
    assert (a * gr.array([10])).to_list() == [[10, 20, 30], [40, 50]]
    assert (gr.array([10]) - a).to_list() == [[9, 8, 7], [6, 5]]
    assert (gr.array([1, [2, 3]]) + gr.array([100])).to_list() == [101, [102, 103]]


def test_rule3_outer_length_one_broadcasts_against_every_row() -> None:
    a = gr.array([[1, 2], [3, 4], [5, 6]])
    assert (a + gr.array([[10, 20]])).to_list() == [[11, 22], [13, 24], [15, 26]]
    assert (gr.array([[10, 20]]) + a).to_list() == [[11, 22], [13, 24], [15, 26]]


def test_rule4_flat_array_broadcasts_one_value_per_row() -> None:
    a = gr.array([[1, 2, 3], [], [4, 5]])
    assert (a + gr.array([10, 20, 30])).to_list() == [[11, 12, 13], [], [34, 35]]
    deep = gr.array([[[1], [2, 3]], [[4]]])
    assert (deep * gr.array([10, 100])).to_list() == [[[10], [20, 30]], [[400]]]


def test_rule4_length_one_lists_broadcast_within_rows() -> None:
    a = gr.array([[1, 2, 3], [4, 5]])
    assert (a + gr.array([[10], [20]])).to_list() == [[11, 12, 13], [24, 25]]
    assert (gr.array([[10], [1, 2]]) * gr.array([[1, 2], [3]])).to_list() == [[10, 20], [3, 6]]


def test_rule4_one_level_against_a_deeper_level() -> None:
    residues = gr.array([[[1.0, 2.0], [3.0]], [[4.0, 5.0, 6.0]]])
    centre = residues.mean(dim=-1)
    assert (residues - centre).to_list() == [[[-0.5, 0.5], [0.0]], [[-1.0, 0.0, 1.0]]]


def test_rule4_null_rows_stay_null() -> None:
    a = gr.array([[1, 2], None, [3]])
    assert (a + gr.array([[1], [5, 6, 7], [1]])).to_list() == [[2, 3], None, [4]]
    assert (a + gr.array([1, 2, 3])).to_list() == [[2, 3], None, [6]]


def test_rule5_union_rows_combine_per_row() -> None:
    assert (gr.array([1, [2, 3], 4]) * gr.array([10, 20, 30])).to_list() == [10, [40, 60], 120]
    u = gr.array([1, [2, 3]])
    assert (u + gr.array([[10, 20], [30, 40]])).to_list() == [[11, 21], [32, 43]]
    assert (u + gr.array([5, [6, 7]])).to_list() == [6, [8, 10]]
    assert (u + gr.array([[5, 6], 7])).to_list() == [[6, 7], [9, 10]]
    assert (gr.array([[5, 6], 7]) - u).to_list() == [[4, 5], [5, 4]]


def test_rule5_result_stays_a_union() -> None:
    out = gr.array([1, [2, 3], 4]) * gr.array([10, 20, 30])
    assert out.is_union
    assert out.type == "3 * union[int64, var * int64]"


def test_rule5_union_null_scalar_rows_propagate() -> None:
    u = gr.array([None, 3, [1, 2]])
    assert u.is_union
    assert (u + 1).to_list() == [None, 4, [2, 3]]
    assert (u + gr.array([[1, 1], 5, 5])).to_list() == [[None, None], 8, [6, 7]]
    # Among list rows only, None is a null list and stays null.
    assert (gr.array([None, [1, 2]]) + gr.array([[1, 1], 5])).to_list() == [None, [6, 7]]


def test_rule5_unions_inside_lists() -> None:
    x = gr.array([[1, 2, 3], [[None, 5], [6]]])
    assert (x * 2).to_list() == [[2, 4, 6], [[None, 10], [12]]]
    assert (x + x).to_list() == [[2, 4, 6], [[None, 10], [12]]]
    assert (x + gr.array([100, 200])).to_list() == [[101, 102, 103], [[None, 205], [206]]]


def test_rule6_mismatched_lengths_raise_broadcast_error() -> None:
    with pytest.raises(gr.BroadcastError) as info:
        gr.array([[1, 2, 3], [4, 5]]) + gr.array([[1, 2], [3, 4, 5]])
    assert str(info.value) == (
        "cannot broadcast 2 * var * int64 with 2 * var * int64: cannot broadcast lists of "
        "length 3 and 2 at row 0 (lists broadcast only when lengths are equal or one is 1)"
    )
    assert isinstance(info.value, ValueError)


def test_rule6_outer_lengths_differ() -> None:
    with pytest.raises(gr.BroadcastError, match="outer lengths 3 and 2 differ and neither is 1"):
        gr.array([1, 2, 3]) + gr.array([1, 2])


def test_rule6_names_the_inner_row_path() -> None:
    a = gr.array([[[1, 2]], [[3]]])
    b = gr.array([[[1, 2, 3]], [[3]]])
    with pytest.raises(gr.BroadcastError, match=r"length 2 and 3 at row 0\[\*\]"):
        a + b


def test_rule6_inside_union_rows() -> None:
    with pytest.raises(gr.BroadcastError, match="length 2 and 3 at row 0"):
        gr.array([1, [2, 3]]) + gr.array([1, [1, 2, 3]])


def test_python_lists_are_accepted_as_operands() -> None:
    assert (gr.array([[1, 2], [3]]) + [[1, 1], [1]]).to_list() == [[2, 3], [4]]
    assert ([[1, 1], [1]] + gr.array([[1, 2], [3]])).to_list() == [[2, 3], [4]]


def test_where_broadcasts_all_three_operands() -> None:
    x = gr.array([[1, 5], [7]])
    assert gr.where(x > 4, x, 0).to_list() == [[0, 5], [7]]
    assert gr.where(x > 4, 1.5, x).to_list() == [[1.0, 1.5], [1.5]]
    assert gr.where(gr.array([True, False]), x, gr.array([[9], [8]])).to_list() == [[1, 5], [8]]
    with pytest.raises(gr.DTypeError, match="where needs a bool condition"):
        gr.where(x, x, x)


def test_broadcast_error_names_the_operands_as_given() -> None:
    with pytest.raises(
        gr.BroadcastError, match=r"^cannot broadcast 2 \* var \* int64 with 1 \* var \* int64: "
    ):
        gr.array([[1, 2, 3], [4, 5]]) + gr.array([[10, 20, 30]])
