"""Indexing with NumPy/Awkward semantics (docs/array-model.md, "Indexing")."""

from __future__ import annotations

import numpy as np
import pytest

import grumpy_arrow as gr


def test_integer_gives_a_row_or_a_scalar(ragged: gr.GrumpyArray) -> None:
    assert ragged[0].to_list() == [1, 2, 3]
    assert ragged[-1].to_list() == [4, 5]
    assert gr.array([1, 2, 3])[1] == 2
    assert gr.array([1, None])[1] is None
    assert gr.array([[1], None])[1] is None


def test_union_rows_are_scalars_or_arrays(union: gr.GrumpyArray) -> None:
    assert union[0] == 1
    assert union[1].to_list() == [2, 3]
    assert union[3] is None


def test_out_of_range_row_names_index_and_length(ragged: gr.GrumpyArray) -> None:
    with pytest.raises(gr.OutOfBoundsError) as info:
        ragged[3]
    assert str(info.value) == "index 3 is out of bounds for axis 0 with length 3"
    assert isinstance(info.value, IndexError)
    with pytest.raises(gr.OutOfBoundsError, match="index -4 is out of bounds"):
        ragged[-4]


def test_slices_are_zero_copy_with_step_one(ragged: gr.GrumpyArray) -> None:
    part = ragged[1:]
    assert part.to_list() == [[], [4, 5]]
    assert part.to_arrow().values.buffers()[1].address == (
        ragged.to_arrow().values.buffers()[1].address
    )
    assert ragged[::2].to_list() == [[1, 2, 3], [4, 5]]
    assert ragged[::-1].to_list() == [[4, 5], [], [1, 2, 3]]
    assert ragged[5:9].to_list() == []


def test_slices_of_unions(union: gr.GrumpyArray) -> None:
    assert union[1:3].to_list() == [[2, 3], 4]
    assert union[1:3].sum(dim=-1).to_list() == [5, 4]


def test_gather_and_mask(ragged: gr.GrumpyArray) -> None:
    assert ragged[[2, 0, 2]].to_list() == [[4, 5], [1, 2, 3], [4, 5]]
    assert ragged[np.array([-1])].to_list() == [[4, 5]]
    assert ragged[[True, False, True]].to_list() == [[1, 2, 3], [4, 5]]
    assert ragged[np.array([False, True, False])].to_list() == [[]]
    assert ragged[gr.array([True, False, False])].to_list() == [[1, 2, 3]]
    assert ragged[[]].to_list() == []


def test_gather_and_mask_errors(ragged: gr.GrumpyArray) -> None:
    with pytest.raises(
        gr.OutOfBoundsError, match="index 7 is out of bounds for axis 0 with length 3"
    ):
        ragged[[0, 7]]
    with pytest.raises(
        gr.OutOfBoundsError, match="boolean index has length 2 but axis 0 has length 3"
    ):
        ragged[np.array([True, False])]
    with pytest.raises(gr.DTypeError, match="index arrays must be integer or boolean, got float64"):
        ragged[[0.5]]
    with pytest.raises(gr.DTypeError, match="indexed by position, got the string 'a'"):
        ragged["a"]


def test_union_gather(union: gr.GrumpyArray) -> None:
    assert union[[4, 1, 0]].to_list() == [[], [2, 3], 1]


def test_tuple_index_per_axis() -> None:
    x = gr.array([[1, 2, 3], [4, 5], [6]])
    assert x[1, 0] == 4
    assert x[1, -1] == 5
    assert x[:, 0].to_list() == [1, 4, 6]
    assert x[:, -1].to_list() == [3, 5, 6]
    assert x[:, 1:].to_list() == [[2, 3], [5], []]
    assert x[:, ::-1].to_list() == [[3, 2, 1], [5, 4], [6]]
    assert x[:2, [0, -1]].to_list() == [[1, 3], [4, 5]]
    assert x[[0, 2], 0].to_list() == [1, 6]
    assert x[..., 0].to_list() == [1, 4, 6]


def test_tuple_index_three_levels() -> None:
    y = gr.array([[[1, 2], [3]], [[4, 5, 6]]])
    assert y[:, 0, 1].to_list() == [2, 5]
    assert y[1, 0, 2] == 6
    assert y[:, :, 0].to_list() == [[1, 3], [4]]
    assert y[0, :, -1].to_list() == [2, 3]


def test_inner_index_out_of_range_names_the_row() -> None:
    x = gr.array([[1, 2, 3], [4]])
    with pytest.raises(gr.OutOfBoundsError) as info:
        x[:, 2]
    assert str(info.value) == "index 2 is out of bounds for axis 1 with length 1 in row 1"
    with pytest.raises(
        gr.OutOfBoundsError, match="index 5 is out of bounds for axis 1 with length 3 in row 0"
    ):
        x[:, [0, 5]]


def test_too_many_indices() -> None:
    with pytest.raises(gr.OutOfBoundsError, match="too many indices"):
        gr.array([[1]])[:, 0, 0]
    with pytest.raises(gr.OutOfBoundsError, match="row 0 is a scalar with no axis 1"):
        gr.array([1, 2])[0, 0]


def test_inner_index_on_union_scalar_rows_is_refused() -> None:
    with pytest.raises(gr.OutOfBoundsError, match="row 0 is a scalar; it has no axis 1"):
        gr.array([1, [2, 3]])[:, 0]


def test_null_rows_give_null_for_inner_indices() -> None:
    x = gr.array([[1, 2], None, [3]])
    assert x[:, 0].to_list() == [1, None, 3]
    assert x[:, :1].to_list() == [[1], None, [3]]


def test_ragged_int_index_is_a_per_row_gather() -> None:
    x = gr.array([[10, 20, 30], [], [40, 50]])
    assert x[gr.array([[2, 0], [], [-1, 0, 1]])].to_list() == [[30, 10], [], [50, 40, 50]]
    assert x.take(gr.array([[1], [], [1]])).to_list() == [[20], [], [50]]
    assert x[[[0], [], [1]]].to_list() == [[10], [], [50]]


def test_ragged_int_index_out_of_range_names_the_row() -> None:
    with pytest.raises(
        gr.OutOfBoundsError, match="index 2 is out of bounds for axis 1 with length 2 in row 1"
    ):
        gr.array([[1, 2, 3], [4, 5]])[gr.array([[0], [2]])]


def test_ragged_bool_index_is_a_per_row_filter() -> None:
    x = gr.array([[1, 5, 2], [], [7, 0]])
    assert x[x > 1].to_list() == [[5, 2], [], [7]]
    with pytest.raises(
        gr.OutOfBoundsError, match="ragged index row 0 has length 1 but the array row has 3"
    ):
        x[gr.array([[True], [], [True, True]])]


def test_deep_ragged_indices() -> None:
    y = gr.array([[[1, 2], [3]], [[4, 5, 6]]])
    assert y[y > 2].to_list() == [[[], [3]], [[4, 5, 6]]]
    assert y[gr.array([[[1], [0, 0]], [[2]]])].to_list() == [[[2], [3, 3]], [[6]]]


def test_ragged_index_row_count_must_match() -> None:
    with pytest.raises(gr.OutOfBoundsError, match="ragged index has 1 rows but the array has 2"):
        gr.array([[1], [2]])[gr.array([[0]])]


def test_take_flat_indices() -> None:
    assert gr.array([[1], [2, 3]]).take([1, 1]).to_list() == [[2, 3], [2, 3]]
    with pytest.raises(gr.DTypeError, match="take needs integer indices"):
        gr.array([1]).take([0.5])


def test_leaf_assignment_keeps_structure() -> None:
    x = gr.array([[1, 2, 3], [4, 5]])
    x[0, 1] = 20
    x[1] = [7, 8]
    x[:, 0] = 0
    assert x.to_list() == [[0, 20, 3], [0, 8]]
    x[x > 7] = -1
    assert x.to_list() == [[0, -1, 3], [0, -1]]
    x[0] = None
    assert x.to_list() == [[None, None, None], [0, -1]]


def test_leaf_assignment_on_unions_and_flat_arrays() -> None:
    u = gr.array([1, [2, 3], 4])
    u[1] = 9
    u[0] = 5
    assert u.to_list() == [5, [9, 9], 4]
    flat = gr.array([1.0, 2.0, 3.0])
    flat[[0, 2]] = [10.0, 30.0]
    assert flat.to_list() == [10.0, 2.0, 30.0]


def test_structural_assignment_is_refused_and_changes_nothing() -> None:
    x = gr.array([[1, 2, 3], [4, 5]])
    with pytest.raises(gr.LayoutError, match="cannot assign"):
        x[1] = [1, 2, 3]
    with pytest.raises(
        gr.ConversionError, match="cannot store float64 values in an array of int64"
    ):
        x[0, 0] = 1.5
    assert x.to_list() == [[1, 2, 3], [4, 5]]


def test_index_errors_name_the_inner_axis_and_row() -> None:
    x = gr.array([[1, 2, 3], [4, 5]])
    with pytest.raises(gr.OutOfBoundsError) as info:
        x[0, 5]
    assert str(info.value) == "index 5 is out of bounds for axis 1 with length 3 in row 0"
    with pytest.raises(gr.OutOfBoundsError, match=r"axis 2 with length 1 in row 0\[0\]"):
        gr.array([[[1]]])[0, 0, 5]


def test_float_ragged_index_is_refused() -> None:
    with pytest.raises(gr.DTypeError, match="index arrays must be integer or boolean, got float64"):
        gr.array([[10, 20], [30]])[gr.array([[0.5], []])]


@pytest.mark.parametrize("dtype", ["int32", "float64", "uint8"])
def test_row_gather_of_primitive_lists_matches_arrow_take(dtype: str) -> None:
    """The NumPy fast path for ``large_list<number>`` rows equals Arrow's ``take``,
    on sliced arrays too (non-zero offsets), with repeats and negative indices."""
    import pyarrow as pa
    import pyarrow.compute as pc

    rng = np.random.default_rng(7)
    lengths = rng.integers(0, 6, 50)
    values = rng.integers(0, 100, int(lengths.sum())).astype(dtype)
    x = gr.from_offsets(values, np.concatenate([[0], np.cumsum(lengths)]))[5:45]
    idx = np.array([3, 3, -1, 0, 39, 17, 17, -40], dtype=np.int64)
    expected = pc.take(x.to_arrow(), pa.array(np.where(idx < 0, idx + 40, idx)))
    got = x[idx].to_arrow()
    assert got.equals(expected)
    assert got.type == pa.large_list(pa.from_numpy_dtype(np.dtype(dtype)))
    assert x[np.zeros(0, dtype=np.int64)].to_list() == []


def test_numpy_vector_keys_select_as_lists_do_and_stay_untouched() -> None:
    """A NumPy vector key (any integer width, or bools) takes the short way through
    parse_index: the same rows as the same key as a list, and the key is not changed."""
    a = gr.array([[1, 2], [3], [], [4, 5, 6]], dtype="int32")
    for key in (
        np.array([3, -1, 0], dtype=np.int8),
        np.array([1, 3], dtype=np.uint64),
        np.array([True, False, False, True]),
        np.zeros(0, dtype=np.int64),
    ):
        before = key.copy()
        assert a[key].to_list() == a[key.tolist()].to_list()
        assert key.tolist() == before.tolist() and key.dtype == before.dtype
    df = gr.dataframe({"molecule_x": [10, 20, 30]}, schema=["molecule"])
    rows = np.array([-1, 0], dtype=np.int16)
    assert df[rows]["molecule_x"].to_list() == [30, 10]
    assert rows.tolist() == [-1, 0]
