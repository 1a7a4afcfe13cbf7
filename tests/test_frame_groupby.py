"""Frame verbs across levels: groupby/agg, ragged masks (``df[df["atom_el"] != "H"]``),
``dropna`` at any level, columns placed at levels by name (``levels=``), and float32
shown at float32 precision. Expected values come from pandas on the exploded data."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

import grumpy_arrow as gr
from grumpy_arrow.errors import ColumnNotFoundError, LayoutError, SchemaError


def _molecules(n: int = 2000, seed: int = 0) -> gr.DataFrame:
    rng = np.random.default_rng(seed)
    counts = rng.integers(0, 12, n)
    kinds = np.array(["protein", "ligand", "water", None], dtype=object)[rng.integers(0, 4, n)]
    elements = np.array(["C", "H", "O", "N"])[rng.integers(0, 4, counts.sum())]
    x = rng.normal(size=counts.sum()).round(3)
    offsets = np.concatenate([[0], np.cumsum(counts)])
    rows = lambda a: [a[offsets[i] : offsets[i + 1]].tolist() for i in range(n)]  # noqa: E731
    return gr.dataframe(
        {
            "mol_kind": kinds.tolist(),
            "mol_mass": rng.integers(1, 500, n).astype(float).tolist(),
            "atom_element": rows(elements),
            "atom_x": rows(x),
        },
        schema=["mol", "atom"],
    )


def _atoms_pandas(df: gr.DataFrame) -> pd.DataFrame:
    counts = df["atom_x"].shape(1).to_numpy()
    return pd.DataFrame(
        {
            "mol_kind": np.repeat(np.array(df["mol_kind"].to_list(), dtype=object), counts),
            "atom_element": df["atom_element"].flatten().to_list(),
            "atom_x": df["atom_x"].flatten().to_list(),
        }
    )


def test_groupby_a_molecule_column_aggregates_molecules_and_their_atoms() -> None:
    df = _molecules()
    out = df.groupby("mol_kind").agg(
        {"mol_mass": ["sum", "mean", "median", "std"], "atom_x": ["mean", "count", "max", "median"]}
    )
    mols = pd.DataFrame(
        {"mol_kind": df["mol_kind"].to_list(), "mol_mass": df["mol_mass"].to_list()}
    )
    want_m = mols.groupby("mol_kind")["mol_mass"].agg(["sum", "mean", "median", "std"])
    want_a = _atoms_pandas(df).groupby("mol_kind")["atom_x"].agg(["mean", "count", "max", "median"])
    got = out.to_dict()
    assert got["mol_kind"] == ["ligand", "protein", "water"] == list(want_m.index)
    for how in ["sum", "mean", "median", "std"]:
        assert got[f"mol_mass_{how}"] == pytest.approx(want_m[how].tolist(), rel=1e-12)
    for how in ["mean", "count", "max", "median"]:
        assert got[f"atom_x_{how}"] == pytest.approx(want_a[how].tolist(), rel=1e-12)


def test_groupby_an_atom_column_groups_atoms() -> None:
    df = _molecules()
    out = df.groupby("atom_element").agg(x_sum=("atom_x", "sum"), n=("atom_x", "size"))
    want = _atoms_pandas(df).groupby("atom_element")["atom_x"].agg(["sum", "size"])
    assert out["atom_element"].to_list() == ["C", "H", "N", "O"]
    assert out["x_sum"].to_list() == pytest.approx(want["sum"].tolist(), rel=1e-12)
    assert out["n"].to_list() == want["size"].tolist()


def test_groupby_shortcuts_several_keys_and_empty_groups() -> None:
    df = gr.dataframe(
        {
            "mol_kind": ["a", "b", "a", None],
            "mol_charge": [1, 1, 2, 0],
            "atom_x": [[1.0, 2.0], [], [4.0], [9.0]],
        },
        schema=["mol", "atom"],
    )
    g = df.groupby("mol_kind")
    assert g.ngroups == 2
    assert g.size().to_dict() == {"mol_kind": ["a", "b"], "size": [2, 1]}
    assert g.sum().to_dict() == {"mol_kind": ["a", "b"], "mol_charge": [3, 1], "atom_x": [7.0, 0.0]}
    assert g.count().to_dict()["atom_x"] == [3, 0]
    assert g.mean().to_dict()["atom_x"] == [7.0 / 3, None]
    two = df.groupby(["mol_kind", "mol_charge"]).agg(n=("atom_x", "count"))
    assert two.to_dict() == {"mol_kind": ["a", "a", "b"], "mol_charge": [1, 2, 1], "n": [2, 1, 0]}


def test_groupby_errors_say_what_was_expected() -> None:
    df = _molecules(20)
    with pytest.raises(ColumnNotFoundError, match="no column 'nope'"):
        df.groupby("nope")
    with pytest.raises(SchemaError, match="keys must be columns of one level"):
        df.groupby(["mol_kind", "atom_element"])
    with pytest.raises(SchemaError, match="cannot aggregate 'mol_mass'"):
        df.groupby("atom_element").agg({"mol_mass": "sum"})
    with pytest.raises(ValueError, match="unknown aggregation 'mode'"):
        df.groupby("mol_kind").agg({"mol_mass": "mode"})


def test_a_ragged_mask_filters_its_level_and_below_and_keeps_the_rest() -> None:
    df = gr.dataframe(
        {
            "mol_name": ["a", "b"],
            "atom_el": [["C", "H", "H"], ["O"]],
            "atom_bonds": [[[1, 2], [0], [0]], [[]]],
            "atom_x": [[1.0, 2.0, 3.0], [4.0]],
        },
        schema=["mol", "atom"],
    )
    heavy = df[df["atom_el"] != "H"]
    assert heavy.to_dict() == {
        "mol_name": ["a", "b"],
        "atom_el": [["C"], ["O"]],
        "atom_bonds": [[[1, 2]], [[]]],
        "atom_x": [[1.0], [4.0]],
    }
    nulls = df[gr.array([[True, None, False], [None]])]
    assert nulls.to_dict()["atom_x"] == [[1.0], []]
    with pytest.raises(LayoutError, match="do not match the frame's"):
        df[gr.array([[True], [True]])]


def test_a_ragged_mask_on_a_large_frame_matches_pandas() -> None:
    df = _molecules()
    heavy = df[df["atom_element"] != "H"]
    atoms = _atoms_pandas(df)
    assert heavy["atom_x"].flatten().to_list() == atoms[atoms.atom_element != "H"].atom_x.tolist()
    assert heavy["mol_mass"].to_list() == df["mol_mass"].to_list()
    assert len(heavy) == len(df)


def test_dropna_at_each_level() -> None:
    df = gr.dataframe(
        {
            "mol_id": [1, None, 3],
            "atom_q": [[0.5, None], [1.0], []],
            "atom_xyz": [[[0.0], [1.0]], [[2.0]], []],
        },
        schema=["mol", "atom"],
    )
    assert df.dropna().to_dict() == {
        "mol_id": [1, 3],
        "atom_q": [[0.5, None], []],
        "atom_xyz": [[[0.0], [1.0]], []],
    }
    assert df.dropna(level="atom").to_dict() == {
        "mol_id": [1, None, 3],
        "atom_q": [[0.5], [1.0], []],
        "atom_xyz": [[[0.0]], [[2.0]], []],
    }
    assert df.dropna(subset="atom_q", level=1)["atom_q"].to_list() == [[0.5], [1.0], []]
    with pytest.raises(LayoutError, match="is at level 0"):
        df.dropna(subset="mol_id", level="atom")


def test_array_dropna_at_any_dim() -> None:
    x = gr.array([[[1, None], None], None, [[2]]])
    assert x.dropna().to_list() == [[[1, None], None], [[2]]]
    assert x.dropna(dim=1).to_list() == [[[1, None]], None, [[2]]]
    assert x.dropna(dim=-1).to_list() == [[[1], None], None, [[2]]]


def test_columns_placed_by_name_come_back_from_polars_and_duckdb() -> None:
    pl = pytest.importorskip("polars")
    df = gr.dataframe({"mol_id": [1, 2], "atom_x": [[1.0, 2.0], [3.0]]}, schema=["mol", "atom"])
    computed = pl.from_arrow(df.to_arrow()).with_columns(
        pl.col("atom_x").list.eval(pl.element() * 2).alias("doubled"),
        (pl.col("mol_id") * 10).alias("score"),
    )
    back = gr.from_arrow(
        computed.to_arrow(), schema=["mol", "atom"], levels={"doubled": "atom", "score": "mol"}
    )
    assert back.level_of("doubled") == "atom" and back.level_of("score") == "mol"
    assert back.to_dict()["doubled"] == [[2.0, 4.0], [6.0]]
    again = gr.from_arrow(back.to_arrow())  # the placement travels in the table's metadata
    assert again.level_of("doubled") == "atom"
    with pytest.raises(SchemaError, match=r"levels=\{'score': 'mol'\}"):
        gr.from_arrow(computed.to_arrow(), schema=["mol", "atom"], levels={"doubled": "atom"})
    with pytest.raises(SchemaError, match="give schema= too"):
        gr.from_arrow(computed.to_arrow(), levels={"score": "mol"})
    with pytest.raises(SchemaError, match="unknown level 'residue'"):
        gr.from_arrow(computed.to_arrow(), schema=["mol", "atom"], levels={"score": "residue"})
    duckdb = pytest.importorskip("duckdb")
    mols = df.to_arrow()  # noqa: F841 - read by name in the query
    result = duckdb.sql("select mol_id, atom_x, mol_id * 10 as score from mols").to_arrow_table()
    placed = gr.from_arrow(result, schema=["mol", "atom"], levels={"score": "mol"})
    assert placed.to_dict() == {"mol_id": [1, 2], "atom_x": [[1.0, 2.0], [3.0]], "score": [10, 20]}


def test_a_placed_column_with_the_wrong_depth_is_refused() -> None:
    with pytest.raises(SchemaError):
        gr.dataframe({"mol_id": [1], "x": [1.0]}, schema=["mol", "atom"], levels={"x": "atom"})


def test_schema_json_with_placed_columns_round_trips_and_is_validated() -> None:
    from grumpy_arrow.frame.schema import parse_schema

    s = parse_schema(["mol", {"names": ["atom", "a"], "columns": ["charge"]}])
    assert s.level_of("charge") == 1 and s.level_of("a_x") == 1
    assert parse_schema(s.to_json()) == s
    with pytest.raises(SchemaError, match="placed at two levels"):
        parse_schema([{"names": ["mol"], "columns": ["c"]}, {"names": ["atom"], "columns": ["c"]}])
    with pytest.raises(SchemaError, match="as a mapping has 'names' and 'columns'"):
        parse_schema([{"names": ["mol"], "other": 1}])


def test_float32_shows_at_float32_precision() -> None:
    x = gr.array([[-0.456, 1.1, None]], dtype="float32")
    assert repr(x) == "<GrumpyArray [[-0.456, 1.1, None]] type='1 * var * float32'>"
    assert "[[-0.456, 1.1, None]]" in repr(gr.dataframe({"a": x}))
    assert repr(gr.array(pa.array([0.1], pa.float16()))) == "<GrumpyArray [0.1] type='1 * float16'>"


def test_placed_columns_survive_save_append_open_and_take(tmp_path: object) -> None:
    from pathlib import Path

    path = Path(str(tmp_path)) / "placed.gr"
    df = gr.dataframe(
        {
            "mol_id": [1, 2],
            "score": [0.5, 0.25],
            "atom_x": [[1.0], [2.0, 3.0]],
            "charge": [[-1], [0, 1]],
        },
        schema=["mol", "atom"],
        levels={"score": "mol", "charge": "atom"},
    )
    gr.save(df, path, chunk_size=1)
    gr.append(df, path)
    back = gr.load(path)
    assert back.level_of("score") == "mol" and back.level_of("charge") == "atom"
    assert back.to_dict()["charge"] == [[-1], [0, 1], [-1], [0, 1]]
    handle = gr.open(path)
    assert handle.take([3, 0]).to_dict()["charge"] == [[0, 1], [-1]]
    assert handle.schema.to_json() == df.schema.to_json()
    assert gr.validate(path) == []
