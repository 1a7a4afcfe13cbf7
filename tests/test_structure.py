"""Per-row operations: sort, argsort, unique, isin, flatten, unflatten, concat."""

from __future__ import annotations

import pytest

import grumpy_arrow as gr


def test_sort_within_rows_nulls_last() -> None:
    x = gr.array([[3, 1, 2], [None, 5, 4], []])
    assert x.sort().to_list() == [[1, 2, 3], [4, 5, None], []]
    assert x.sort(descending=True).to_list() == [[3, 2, 1], [5, 4, None], []]
    assert x.sort(dim=1).to_list() == [[1, 2, 3], [4, 5, None], []]


def test_sort_flat_strings_deep_and_unions() -> None:
    assert gr.array(["b", None, "a"]).sort().to_list() == ["a", "b", None]
    assert gr.array([[[3, 1]], [[2, 0], [9, 8]]]).sort().to_list() == [[[1, 3]], [[0, 2], [8, 9]]]
    assert gr.array([5, [3, 1]]).sort().to_list() == [5, [1, 3]]


def test_argsort_gives_positions_within_rows() -> None:
    x = gr.array([[3, 1, 2], [5, 4]])
    assert x.argsort().to_list() == [[1, 2, 0], [1, 0]]
    assert x.argsort(descending=True).to_list() == [[0, 2, 1], [0, 1]]
    assert x[x.argsort()].to_list() == [[1, 2, 3], [4, 5]]
    assert gr.array([7, [2, 1]]).argsort().to_list() == [0, [1, 0]]


def test_sort_along_outer_dims_is_refused() -> None:
    with pytest.raises(gr.LayoutError, match="sort works along the innermost dim"):
        gr.array([[1], [2]]).sort(dim=0)


def test_unique_is_sorted_flat_and_without_nulls() -> None:
    assert gr.array([[3, 1, 2], [3, None], []]).unique().to_list() == [1, 2, 3]
    assert gr.array(["b", ["a", "b"]]).unique().to_list() == ["a", "b"]


def test_isin_keeps_structure() -> None:
    x = gr.array([[1, 2, 3], [], [4, None]])
    assert x.isin([1, 4]).to_list() == [[True, False, False], [], [True, False]]
    assert gr.array([1, [2, 3]]).isin(gr.array([3])).to_list() == [False, [False, True]]
    assert x.isin([2.0]).to_list() == [[False, True, False], [], [False, False]]


def test_flatten_everything_and_by_dim() -> None:
    y = gr.array([[[1, 2], [3]], [[4]], []])
    assert y.flatten().to_list() == [1, 2, 3, 4]
    assert y.flatten(dim=1).to_list() == [[1, 2], [3], [4]]
    assert y.flatten(dim=2).to_list() == [[1, 2, 3], [4], []]
    assert y.flatten(dim=-1).to_list() == [[1, 2, 3], [4], []]


def test_flatten_skips_null_lists_and_keeps_null_leaves() -> None:
    assert gr.array([[1, None], None, [3]]).flatten().to_list() == [1, None, 3]


def test_flatten_unions() -> None:
    u = gr.array([1, [2, 3], None, []])
    assert u.flatten().to_list() == [1, 2, 3, None]
    assert u.flatten(dim=1).to_list() == [1, 2, 3, None]
    deep = gr.array([1, [[2], [3, 4]]])
    assert deep.flatten(dim=1).to_list() == [1, [2], [3, 4]]
    assert deep.flatten(dim=1).is_union
    assert deep.flatten(dim=2).to_list() == [1, [2, 3, 4]]
    inner = gr.array([[1, [2, 3]], [[4]]])
    assert inner.flatten(dim=2).to_list() == [[1, 2, 3], [4]]
    assert inner.flatten().to_list() == [1, 2, 3, 4]


def test_flatten_dim_zero_is_refused() -> None:
    with pytest.raises(gr.OutOfBoundsError, match="flatten needs dim >= 1"):
        gr.array([[1]]).flatten(dim=0)


def test_unflatten_groups_rows() -> None:
    assert gr.array([1, 2, 3, 4]).unflatten([1, 0, 3]).to_list() == [[1], [], [2, 3, 4]]
    with pytest.raises(gr.OutOfBoundsError, match="lengths sum to 2 but the array has 4 rows"):
        gr.array([1, 2, 3, 4]).unflatten([1, 1])


def test_flatten_unflatten_round_trip() -> None:
    x = gr.array([[1, 2, 3], [], [4, 5]])
    assert x.flatten().unflatten(x.shape(1)).to_list() == x.to_list()


def test_concat_rows_promotes_and_builds_unions() -> None:
    assert gr.concat([gr.array([[1], [2, 3]]), gr.array([[4.5]])]).to_list() == [
        [1.0],
        [2.0, 3.0],
        [4.5],
    ]
    mixed = gr.concat([gr.array([[1, 2]]), gr.array([3, 4])])
    assert mixed.is_union
    assert mixed.to_list() == [[1, 2], 3, 4]
    assert gr.concat([gr.array([1, [2]]), gr.array([[3]])]).to_list() == [1, [2], [3]]


def test_concat_incompatible_layouts() -> None:
    with pytest.raises(gr.LayoutError, match="their list rows differ"):
        gr.concat([gr.array([[1]]), gr.array([[[1]]])])
    with pytest.raises(gr.DTypeError, match="cannot combine dtypes int64 and string"):
        gr.concat([gr.array([1]), gr.array(["a"])])
    with pytest.raises(ValueError, match="at least one array"):
        gr.concat([])


def test_concat_dim_one_joins_rows() -> None:
    a = gr.array([[1], [2], []])
    b = gr.array([[3, 4], [], [5]])
    assert gr.concat([a, b], dim=1).to_list() == [[1, 3, 4], [2], [5]]
    assert gr.concat([a, b, a], dim=1).to_list() == [[1, 3, 4, 1], [2, 2], [5]]


def test_concat_dim_one_errors() -> None:
    with pytest.raises(gr.LayoutError, match="needs equal lengths"):
        gr.concat([gr.array([[1]]), gr.array([[1], [2]])], dim=1)
    with pytest.raises(gr.LayoutError, match="needs list rows"):
        gr.concat([gr.array([1]), gr.array([2])], dim=1)
    with pytest.raises(gr.LayoutError, match="supports dim=0 or dim=1"):
        gr.concat([gr.array([1])], dim=2)


def test_isin_with_only_nulls_uses_the_array_dtype() -> None:
    assert gr.array([1, 2]).isin([None]).to_list() == [False, False]


def test_isin_promotes_and_matches_nan() -> None:
    assert gr.array([1, 2, 3]).isin([2.5, 3]).to_list() == [False, False, True]
    nan = float("nan")
    assert gr.array([1.0, nan]).isin([nan]).to_list() == [False, True]
    assert gr.array([1.0, nan, None]).isin([nan]).to_list() == [False, True, False]
    with pytest.raises(gr.DTypeError, match="cannot combine dtypes int64 and string"):
        gr.array([1]).isin(["a"])


@pytest.mark.parametrize("dtype", [gr.int8, gr.uint16, gr.int64, gr.float32, gr.float64], ids=str)
@pytest.mark.parametrize("descending", [False, True], ids=["asc", "desc"])
def test_dense_and_arrow_sort_paths_agree(dtype: gr.DType, descending: bool) -> None:
    rows = [[3, 1, 2, 1], [0], [5, 5, 4], [2, 7]]
    x = gr.array(rows, dtype=dtype)  # nearly uniform, no nulls: the padded NumPy path
    y = gr.array([*rows, [1] * 3000], dtype=dtype)  # one long row: the Arrow path
    assert x.sort(descending=descending).to_list() == y.sort(descending=descending).to_list()[:4]
    assert (
        x.argsort(descending=descending).to_list()
        == (y.argsort(descending=descending).to_list()[:4])
    )
    expected = [sorted(r, reverse=descending) for r in rows]
    assert x.sort(descending=descending).to_list() == expected


def test_sort_keeps_nan_after_numbers_in_both_orders() -> None:
    nan = float("nan")
    x = gr.array([[1.0, nan, 3.0], [2.0]])
    asc, desc = x.sort().to_list(), x.sort(descending=True).to_list()
    assert asc[0][:2] == [1.0, 3.0] and asc[0][2] != asc[0][2]
    assert desc[0][:2] == [3.0, 1.0] and desc[0][2] != desc[0][2]
    assert x.argsort(descending=True).to_list() == [[2, 0, 1], [0]]
