from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

import grumpy_arrow as gr


def test_len_dtype_ndim_type(ragged: gr.GrumpyArray) -> None:
    assert len(ragged) == 3
    assert ragged.dtype is gr.int64
    assert ragged.ndim == 2
    assert ragged.type == "3 * var * int64"
    assert gr.array([1, 2]).ndim == 1
    assert gr.array([[[1]]]).ndim == 3


def test_union_ndim_is_max_depth_plus_one(union: gr.GrumpyArray) -> None:
    assert union.is_union
    assert union.ndim == 2
    assert gr.array([1, [[2]]]).ndim == 3


def test_shape_by_dim() -> None:
    x = gr.array([[[1, 2], [3]], [[4], [5, 6, 7]], []])
    assert x.shape(0) == 3
    assert x.shape(1).to_list() == [2, 2, 0]
    assert x.shape(2).to_list() == [[2, 1], [1, 3], []]
    assert x.shape(-1).to_list() == [[2, 1], [1, 3], []]
    assert x.shape(1).dtype is gr.int64


def test_shape_of_union_counts_scalar_rows_as_one(union: gr.GrumpyArray) -> None:
    assert union.shape(1).to_list() == [1, 2, 1, 1, 0]
    deep = gr.array([1, [[2, 3], [4]]])
    assert deep.shape(2).to_list() == [[], [2, 1]]


def test_shape_of_null_list_is_null() -> None:
    assert gr.array([[1], None]).shape(1).to_list() == [1, None]


def test_shape_out_of_range() -> None:
    with pytest.raises(gr.OutOfBoundsError, match="dim 2 is out of range for an array with ndim 2"):
        gr.array([[1]]).shape(2)


def test_null_count_counts_null_rows_of_every_layout(union: gr.GrumpyArray) -> None:
    assert gr.array([1, None, 3]).null_count == 1
    assert gr.array([[1], None, None]).null_count == 2
    assert union.null_count == 1
    assert union.to_arrow().null_count == 0  # Arrow unions have no top-level validity
    assert union.is_null().to_list() == [False, False, False, True, False]
    assert gr.array([[1], None]).is_null().to_list() == [False, True]
    assert gr.array([1.0, None]).is_null().to_list() == [False, True]


def test_to_numpy_rectangular_is_zero_copy() -> None:
    x = gr.array([[1.0, 2.0], [3.0, 4.0]])
    out = x.to_numpy()
    assert out.shape == (2, 2)
    assert out.tolist() == [[1.0, 2.0], [3.0, 4.0]]
    assert out.ctypes.data == x.to_arrow().values.buffers()[1].address
    assert np.asarray(x).tolist() == [[1.0, 2.0], [3.0, 4.0]]


def test_to_numpy_of_strings_and_bools() -> None:
    assert gr.array([["a", "b"]]).to_numpy().tolist() == [["a", "b"]]
    assert gr.array([True, False]).to_numpy().tolist() == [True, False]


@pytest.mark.parametrize(
    ("value", "why"),
    [
        ([[1, 2], [3]], "is ragged or has null lists"),
        ([[1, None]], "has nulls"),
        ([1, [2]], "is a union"),
    ],
)
def test_to_numpy_refuses_ragged_null_and_union_data(value: list[object], why: str) -> None:
    with pytest.raises(gr.LayoutError, match=f"{why}; use to_numpy\\(pad=value\\)"):
        gr.array(value).to_numpy()


def test_to_numpy_pad_returns_values_and_mask(ragged: gr.GrumpyArray) -> None:
    values, mask = ragged.to_numpy(pad=-1)
    assert values.tolist() == [[1, 2, 3], [-1, -1, -1], [4, 5, -1]]
    assert mask.tolist() == [[True, True, True], [False, False, False], [True, True, False]]


def test_to_numpy_pad_handles_leaf_nulls_deep_nesting_and_unions() -> None:
    values, mask = gr.array([[1.5, None]]).to_numpy(pad=0.0)
    assert values.tolist() == [[1.5, 0.0]]
    assert mask.tolist() == [[True, False]]
    values, mask = gr.array([[[1], [2, 3]], [[4]]]).to_numpy(pad=0)
    assert values.tolist() == [[[1, 0], [2, 3]], [[4, 0], [0, 0]]]
    assert mask.sum() == 4
    values, mask = gr.array([7, [8, 9]]).to_numpy(pad=0)
    assert values.tolist() == [[7, 0], [8, 9]]
    assert mask.tolist() == [[True, False], [True, True]]


def test_to_arrow_and_pycapsule_are_zero_copy(ragged: gr.GrumpyArray) -> None:
    assert ragged.to_arrow() is ragged.to_arrow()
    exported = pa.array(ragged)
    assert exported.equals(ragged.to_arrow())
    assert exported.values.buffers()[1].address == ragged.to_arrow().values.buffers()[1].address
    assert pa.DataType._import_from_c_capsule(ragged.__arrow_c_schema__()) == ragged.to_arrow().type


def test_repr_is_bounded() -> None:
    big = gr.from_offsets(np.arange(1_000_000), np.arange(0, 1_000_001, 1000))
    text = repr(big)
    assert text.startswith("<GrumpyArray [[0, 1, 2, 3, 4, ...], [1000, 1001, 1002, 1003, 1004,")
    assert text.endswith("type='1000 * var * int64'>")
    assert len(text) < 140


def test_repr_of_small_arrays_shows_everything(union: gr.GrumpyArray) -> None:
    assert repr(union) == (
        "<GrumpyArray [1, [2, 3], 4, None, []] type='5 * union[int64, var * int64]'>"
    )
    assert repr(gr.array([], dtype=gr.int8)) == "<GrumpyArray [] type='0 * int8'>"


def test_iteration_yields_rows(ragged: gr.GrumpyArray, union: gr.GrumpyArray) -> None:
    assert [r.to_list() for r in ragged] == [[1, 2, 3], [], [4, 5]]
    assert list(gr.array([1, None, 3])) == [1, None, 3]
    rows = list(union)
    assert rows[0] == 1 and rows[1].to_list() == [2, 3] and rows[3] is None


def test_bool_of_one_value_and_ambiguity() -> None:
    assert bool(gr.array([True]))
    with pytest.raises(ValueError, match="ambiguous"):
        bool(gr.array([True, False]))


def test_arrays_are_unhashable() -> None:
    with pytest.raises(TypeError):
        hash(gr.array([1]))
