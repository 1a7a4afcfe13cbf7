"""Nulls at any depth and NumPy / pandas habits (issue 15): ``is_null(dim=)``,
``fill_null``, masks with nulls, ``std/var(ddof=)``, ``float(x)``, ``int(x)``, ``tolist``."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import grumpy_arrow as gr
from grumpy_arrow.errors import ConversionError, LayoutError


def test_is_null_at_each_dim() -> None:
    x = gr.array([[[1, None], None], [], [[3]], None])
    assert x.is_null().to_list() == [False, False, False, True]
    assert x.is_null(dim=1).to_list() == [[False, True], [], [False], None]
    assert x.is_null(dim=2).to_list() == [[[False, True], None], [], [[False]], None]
    assert x.is_null(dim=-1).to_list() == x.is_null(dim=2).to_list()
    u = gr.array([1.0, [2.0, None], None])
    assert u.is_null().to_list() == [False, False, True]
    assert u.is_null(dim=-1).to_list() == [False, [False, True], True]


def test_is_null_of_a_union_below_its_rows_is_refused() -> None:
    deep = gr.array([[1, [2, None]], [3]])  # a union inside lists
    assert deep.is_null(dim=-1).to_list() == [[False, [False, True]], [False]]
    with pytest.raises(LayoutError, match="union"):
        gr.array([1, [[2]]]).is_null(dim=1)


def test_fill_null_at_any_depth_keeps_null_lists() -> None:
    x = gr.array([[1, None], None, [None, 4]])
    assert x.fill_null(0).to_list() == [[1, 0], None, [0, 4]]
    assert x.fill_null(0).type == x.type
    assert gr.array([1, None, [2, None]]).fill_null(9).to_list() == [1, 9, [2, 9]]
    assert gr.array(["a", None]).fill_null("z").to_list() == ["a", "z"]
    assert gr.array([0.5, None], dtype=gr.float32).fill_null(2).type == "2 * float32"
    with pytest.raises(ConversionError, match=r"1\.5 does not fit int64"):
        x.fill_null(1.5)
    with pytest.raises(ConversionError, match="'x' does not fit int64"):
        x.fill_null("x")
    with pytest.raises(ValueError, match="needs a value"):
        x.fill_null(None)


def test_a_mask_with_nulls_selects_nothing_there() -> None:
    x = gr.array([[1], [2, 3], [4], [5]])
    mask = gr.array([True, None, False, True])
    assert x[mask].to_list() == [[1], [5]]
    want = pd.Series([10, 20, 30, 40])[pd.array([True, None, False, True], dtype="boolean")]
    assert gr.array([10, 20, 30, 40])[mask].to_list() == want.tolist()
    df = gr.dataframe({"a": [1, 2, 3, 4]})
    assert df[mask]["a"].to_list() == [1, 4]


@pytest.mark.parametrize("ddof", [0, 1, 2])
def test_std_and_var_with_ddof_match_pandas_per_row(ddof: int) -> None:
    rows = [[1.0, 3.0, 4.0], [2.0], [], [5.0, None, 7.0], [1.5, 2.5, 3.5, 9.0]]
    x = gr.array(rows)
    for op in ("std", "var"):
        got = getattr(x, op)(dim=1, ddof=ddof).to_list()
        want = [getattr(pd.Series(r, dtype="float64"), op)(ddof=ddof) for r in rows]
        for g, w in zip(got, want, strict=True):
            if np.isnan(w) or np.isinf(w):
                assert g is None
            else:
                assert g == pytest.approx(w, rel=1e-12)
        flat = [v for r in rows for v in r if v is not None]
        whole = getattr(x, op)(ddof=ddof)
        assert whole == pytest.approx(getattr(np, op)(flat, ddof=ddof), rel=1e-12)


def test_std_ddof_keeps_float32_and_checks_ddof() -> None:
    f = gr.array(np.array([[1, 2, 3], [4, 5, 6]], np.float32))
    got = f.std(dim=0, ddof=1)
    assert got.type == "3 * float32"
    np.testing.assert_allclose(got.to_list(), np.std([[1, 2, 3], [4, 5, 6]], axis=0, ddof=1))
    assert gr.array([1.0]).std(ddof=1) is None
    with pytest.raises(ValueError, match="ddof"):
        f.std(ddof=-1)


def test_float_int_and_tolist() -> None:
    assert float(gr.array([2.5])) == 2.5
    assert int(gr.array([3])) == 3
    assert float(gr.array([[1.0, 2.0]]).sum()) == 3.0  # a reduction gives a Python float
    assert gr.array([[1], [2, 3]]).tolist() == [[1], [2, 3]]
    with pytest.raises(TypeError, match="length 1"):
        float(gr.array([1.0, 2.0]))
    with pytest.raises(TypeError, match="length 1"):
        float(gr.array([[1.0]]))
    with pytest.raises(TypeError, match="null"):
        int(gr.array([None], dtype=gr.int64))
