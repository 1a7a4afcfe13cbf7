"""pandas' everyday verbs on nested frames: head, tail, copy, rename, drop, sort_values,
describe, and value_counts on arrays (issue 15), checked against pandas on flat data and
against exact values on nested data."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import grumpy_arrow as gr
from grumpy_arrow.errors import ColumnNotFoundError, LayoutError, SchemaError


def _frame() -> gr.DataFrame:
    return gr.dataframe(
        {
            "mol_id": [10, 11, 12, 13, 14, 15],
            "mol_w": [2.5, None, 1.0, 2.5, 0.5, 1.0],
            "mol_name": ["b", "a", None, "c", "a", "b"],
            "atom_x": [[1.0, 2.0], [], [3.0], [4.0, 5.0, 6.0], [7.0], None],
            "atom_el": [["C", "H"], [], ["O"], ["H", "H", "C"], ["N"], None],
        },
        schema=["mol", "atom"],
    )


@pytest.mark.parametrize("n", [0, 2, 5, 6, 9, -2, -6, -9])
def test_head_and_tail_match_pandas_row_counts(n: int) -> None:
    df = _frame()
    ids = pd.Series(df["mol_id"].to_list())
    assert df.head(n)["mol_id"].to_list() == ids.head(n).tolist()
    assert df.tail(n)["mol_id"].to_list() == ids.tail(n).tolist()
    # Lists travel with their rows, and the schema stays.
    want = [df["atom_x"].to_list()[i - 10] for i in ids.tail(n).tolist()]
    assert df.tail(n)["atom_x"].to_list() == want
    assert df.tail(n).schema == df.schema


def test_head_default_is_five_rows() -> None:
    assert len(_frame().head()) == 5
    assert _frame().tail()["mol_id"].to_list() == [11, 12, 13, 14, 15]


def test_copy_is_independent_of_the_original() -> None:
    df = _frame()
    other = df.copy()
    other["mol_id"] = [0, 0, 0, 0, 0, 0]
    other["atom_x"][0] = 99.0
    del other["mol_name"]
    assert df["mol_id"].to_list() == [10, 11, 12, 13, 14, 15]
    assert df["atom_x"].to_list()[0] == [1.0, 2.0]
    assert "mol_name" in df.columns
    assert other.to_dict()["atom_x"][0] == [99.0, 99.0]


def test_rename_keeps_levels_and_checks_names() -> None:
    df = _frame()
    out = df.rename({"mol_w": "mol_weight", "atom_el": "atom_element", "nope": "x"})
    assert out.columns == ["mol_id", "mol_weight", "mol_name", "atom_x", "atom_element"]
    assert out["atom_element"].to_list() == df["atom_el"].to_list()
    assert out.level_of("atom_element") == "atom"
    assert df.columns[1] == "mol_w"  # the original is unchanged
    with pytest.raises(ColumnNotFoundError, match="'nope'"):
        df.rename({"nope": "x"}, errors="raise")
    with pytest.raises(SchemaError):
        df.rename({"atom_x": "weight"})  # no level prefix
    with pytest.raises(ValueError, match="'mol_id'"):
        df.rename({"mol_w": "mol_id"})


def test_drop_one_or_several_columns() -> None:
    df = _frame()
    assert df.drop("mol_w").columns == ["mol_id", "mol_name", "atom_x", "atom_el"]
    assert df.drop(["atom_x", "atom_el"]).columns == ["mol_id", "mol_w", "mol_name"]
    with pytest.raises(ColumnNotFoundError, match="'atom_y'"):
        df.drop(["atom_x", "atom_y"])
    assert len(df.columns) == 5


@pytest.mark.parametrize(
    ("by", "ascending", "na_position"),
    [
        ("mol_w", True, "last"),
        ("mol_w", False, "last"),
        ("mol_w", True, "first"),
        ("mol_name", True, "last"),
        (["mol_w", "mol_name"], [True, False], "last"),
        (["mol_name", "mol_id"], [False, True], "first"),
    ],
)
def test_sort_values_matches_pandas_stable_sort(by, ascending, na_position: str) -> None:
    df = _frame()
    flat = pd.DataFrame({c: df[c].to_list() for c in ("mol_id", "mol_w", "mol_name")})
    want = flat.sort_values(by, ascending=ascending, na_position=na_position, kind="stable")
    got = df.sort_values(by, ascending=ascending, na_position=na_position)
    assert got["mol_id"].to_list() == want["mol_id"].tolist()
    rows = {i: x for i, x in zip(df["mol_id"].to_list(), df["atom_x"].to_list(), strict=True)}
    assert got["atom_x"].to_list() == [rows[i] for i in want["mol_id"].tolist()]


def test_sort_values_errors() -> None:
    df = _frame()
    with pytest.raises(LayoutError, match=r"'atom_x'.*not one value per row"):
        df.sort_values("atom_x")
    with pytest.raises(ColumnNotFoundError):
        df.sort_values("mol_q")
    with pytest.raises(ValueError, match="2 columns to sort by and 1 ascending"):
        df.sort_values(["mol_w", "mol_id"], ascending=[True])
    with pytest.raises(ValueError, match="na_position"):
        df.sort_values("mol_w", na_position="middle")


def test_value_counts_pools_leaf_values_like_pandas() -> None:
    el = _frame()["atom_el"]
    got = el.value_counts()
    leaves = pd.Series([v for row in el.to_list() if row for v in row])
    want = leaves.value_counts()
    assert got.columns == ["value", "count"]
    assert got["value"].to_list() == want.index.tolist() == ["H", "C", "O", "N"]
    assert got["count"].to_list() == want.tolist() == [3, 2, 1, 1]
    assert gr.array([1, None, 1, 2]).value_counts(dropna=False).to_dict() == {
        "value": [1, None, 2],
        "count": [2, 1, 1],
    }
    asc = gr.array([[3, 3, 3], [1], [2, 2]]).value_counts(ascending=True)
    assert asc.to_dict() == {"value": [1, 2, 3], "count": [1, 2, 3]}
    union = gr.array([1, [1, 2], 2, [2]])  # scalars and list values pool together
    assert union.value_counts().to_dict() == {"value": [2, 1], "count": [3, 2]}


def test_value_counts_of_a_large_ragged_column_matches_numpy() -> None:
    rng = np.random.default_rng(5)
    values = rng.integers(0, 50, 200_000)
    offsets = np.concatenate([[0], np.sort(rng.integers(0, len(values), 999)), [len(values)]])
    got = gr.from_offsets(values, offsets).value_counts()
    uniq, counts = np.unique(values, return_counts=True)
    assert dict(zip(got["value"].to_list(), got["count"].to_list(), strict=True)) == dict(
        zip(uniq.tolist(), counts.tolist(), strict=True)
    )
    assert got["count"].to_list() == sorted(counts.tolist(), reverse=True)


def test_describe_matches_pandas_on_leaf_values() -> None:
    df = _frame()
    got = df.describe()
    assert got.columns == ["statistic", "mol_id", "mol_w", "atom_x"]  # strings skipped
    assert got["statistic"].to_list() == ["count", "mean", "std", "min", "25%", "50%", "75%", "max"]
    for name in ("mol_id", "mol_w", "atom_x"):
        leaves = [
            v for row in df[name].to_list() for v in (row if isinstance(row, list) else [row])
        ]
        want = pd.Series(leaves, dtype="float64").describe()
        np.testing.assert_allclose(got[name].to_list(), want.tolist(), rtol=1e-12)
    with pytest.raises(ValueError, match="no numeric column"):
        df[["mol_name"]].describe()


def test_describe_of_an_empty_column() -> None:
    out = gr.dataframe({"x": gr.array([[], []], dtype=gr.float32)}).describe()
    assert out["x"].to_list() == [0.0, None, None, None, None, None, None, None]


def test_value_counts_of_dictionary_encoded_leaves(tmp_path) -> None:
    import pyarrow as pa

    d = gr.array(pa.array(["a", None, "b", "a", "c", "b", "a"]).dictionary_encode())
    assert d.value_counts().to_dict() == {"value": ["a", "b", "c"], "count": [3, 2, 1]}
    assert d.value_counts(dropna=False).to_dict() == {
        "value": ["a", "b", None, "c"],
        "count": [3, 2, 1, 1],
    }
    # A store's dictionary-encoded column, read back encoded: the same counts as pandas.
    rng = np.random.default_rng(3)
    rows = [
        [str(v) for v in rng.choice(list("CHONS"), int(k), p=[0.4, 0.3, 0.15, 0.1, 0.05])]
        for k in rng.integers(0, 30, 500)
    ]
    path = tmp_path / "el.gr"
    gr.save(gr.dataframe({"atom_el": rows}, schema=["mol", "atom"]), path, dictionary=True)
    loaded = gr.load(path)["atom_el"]
    assert loaded.node.content.encoded is not None  # the indices are what gets counted
    got = loaded.value_counts()
    want = pd.Series([v for row in rows for v in row]).value_counts()
    assert got["value"].to_list() == want.index.tolist()
    assert got["count"].to_list() == want.tolist()
