"""DataFrames with a schema of nested levels (docs/dataframes.md)."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

import grumpy_arrow as gr

SCHEMA = ["molecule", ("residue", "group"), "atom"]


@pytest.fixture
def df() -> gr.DataFrame:
    """Two molecules, five residues, nine atoms."""
    return gr.dataframe(
        {
            "molecule_id": ["m1", "m2"],
            "residue_name": [["ALA", "GLY", "SER"], ["LYS", "HIS"]],
            "residue_weight": [[0.1, 0.2, 0.3], [0.4, 0.5]],
            "atom_number": [[[1, 2], [3, 4, 5], [6]], [[7, 8], [9]]],
            "atom_x": [[[1.0, 2.0], [3.0, 4.0, 5.0], [6.0]], [[7.0, 8.0], [9.0]]],
        },
        schema=SCHEMA,
    )


def test_column_flattened_to_its_own_level(df: gr.DataFrame) -> None:
    assert df.atom_number.to_list() == [1, 2, 3, 4, 5, 6, 7, 8, 9]
    assert df.residue_name.to_list() == ["ALA", "GLY", "SER", "LYS", "HIS"]
    assert df.molecule_id.to_list() == ["m1", "m2"]


def test_level_views_peel_to_that_level(df: gr.DataFrame) -> None:
    expected = [[1, 2], [3, 4, 5], [6], [7, 8], [9]]
    assert df.residue.atom_number.to_list() == expected
    assert df.group.atom_number.to_list() == expected
    assert df.molecule.atom_number.to_list() == [[[1, 2], [3, 4, 5], [6]], [[7, 8], [9]]]
    assert df.atom.atom_number.to_list() == [1, 2, 3, 4, 5, 6, 7, 8, 9]
    assert len(df.residue) == 5
    assert len(df.atom) == 9


def test_full_nesting_by_name(df: gr.DataFrame) -> None:
    assert df["atom_number"].to_list() == [[[1, 2], [3, 4, 5], [6]], [[7, 8], [9]]]


def test_re_nesting_assignment(df: gr.DataFrame) -> None:
    df.residue.residue_weight = [0.5, 0.7, 0.8, 0.9, 1.0]
    assert df["residue_weight"].to_list() == [[0.5, 0.7, 0.8], [0.9, 1.0]]
    df.atom.atom_charge = np.arange(9) * 0.5
    assert df["atom_charge"].to_list() == [
        [[0.0, 0.5], [1.0, 1.5, 2.0], [2.5]],
        [[3.0, 3.5], [4.0]],
    ]
    df.residue.residue_tag = [["a", "b", "c"], ["d", "e"]]  # already nested: one per molecule
    assert df["residue_tag"].to_list() == [["a", "b", "c"], ["d", "e"]]


def test_compute_through_the_array_api(df: gr.DataFrame) -> None:
    df.residue.residue_center = df.residue.atom_x.mean(dim=-1)
    assert df["residue_center"].to_list() == [[1.5, 4.0, 6.0], [7.5, 9.0]]
    df["atom_dx"] = df["atom_x"] - df["residue_center"]
    assert df.residue.atom_dx.to_list() == [
        [-0.5, 0.5],
        [-1.0, 0.0, 1.0],
        [0.0],
        [-0.5, 0.5],
        [0.0],
    ]


def test_assignment_with_wrong_length_names_both_lengths(df: gr.DataFrame) -> None:
    with pytest.raises(gr.SchemaError) as info:
        df.residue.residue_weight = [1.0, 2.0, 3.0]
    assert str(info.value) == (
        "cannot assign 3 values to 'residue_weight' at level 'residue': expected 2 (one per "
        "molecule, nested) or 5 (one per residue)"
    )
    assert df["residue_weight"].to_list() == [[0.1, 0.2, 0.3], [0.4, 0.5]]


def test_shared_offsets_are_stored_once_per_level(df: gr.DataFrame) -> None:
    residue_offsets = df["residue_name"].to_arrow().offsets
    assert (
        df["atom_x"].to_arrow().offsets.buffers()[1].address == residue_offsets.buffers()[1].address
    )
    atom_offsets = [
        df[c].to_arrow().values.offsets.buffers()[1].address for c in ("atom_x", "atom_number")
    ]
    assert atom_offsets[0] == atom_offsets[1]


def test_shape_count_and_level_of(df: gr.DataFrame) -> None:
    assert len(df) == 2
    assert df.shape(0) == 2
    assert df.shape("residue").to_list() == [3, 2]
    assert df.shape("group").to_list() == [3, 2]
    assert df.shape("atom").to_list() == [[2, 3, 1], [2, 1]]
    assert df.shape(2).to_list() == [[2, 3, 1], [2, 1]]
    assert [df.count(level) for level in ("molecule", "residue", "atom")] == [2, 5, 9]
    assert df.level_of("atom_x") == "atom"
    assert df.columns == ["molecule_id", "residue_name", "residue_weight", "atom_number", "atom_x"]
    assert df.dtypes["atom_x"] == "2 * var * var * float64"
    assert df.schema is not None and df.schema.names == ["molecule", "residue", "atom"]


def test_row_selection_preserves_the_schema(df: gr.DataFrame) -> None:
    one = df[1]
    assert len(one) == 1 and one.schema == df.schema
    assert one.to_dict()["atom_number"] == [[[7, 8], [9]]]
    assert df[-1].molecule_id.to_list() == ["m2"]
    assert df[0:1].residue_name.to_list() == ["ALA", "GLY", "SER"]
    assert df[[1, 0]].molecule_id.to_list() == ["m2", "m1"]
    assert df[np.array([False, True])].atom_number.to_list() == [7, 8, 9]
    assert df[[True, False]].shape("atom").to_list() == [[2, 3, 1]]
    with pytest.raises(gr.OutOfBoundsError, match="row 2 is out of bounds for a frame with 2 rows"):
        df[2]


def test_drill_down_one_level_at_a_time(df: gr.DataFrame) -> None:
    residue = df.molecule[0].residue[1]
    assert residue.schema is not None and residue.schema.names == ["residue", "atom"]
    assert residue.to_dict() == {
        "residue_name": ["GLY"],
        "residue_weight": [0.2],
        "atom_number": [[3, 4, 5]],
        "atom_x": [[3.0, 4.0, 5.0]],
    }
    assert df.residue[3].residue_name.to_list() == ["LYS"]
    assert df.molecule[1].residue[0].atom[1].atom_number.to_list() == [8]


def test_sub_frames_and_missing_columns(df: gr.DataFrame) -> None:
    sub = df[["molecule_id", "atom_x"]]
    assert sub.columns == ["molecule_id", "atom_x"]
    assert sub.schema == df.schema
    with pytest.raises(gr.errors.ColumnNotFoundError) as info:
        df["nope"]
    assert str(info.value).startswith("no column 'nope'; the columns are molecule_id, residue_name")
    assert isinstance(info.value, KeyError)
    with pytest.raises(AttributeError, match="DataFrame has no column or level 'nope'"):
        _ = df.nope
    assert "atom_x" in df and "nope" not in df
    del df["atom_x"]
    assert "atom_x" not in df


def test_feature_axes_below_a_level_are_kept() -> None:
    frame = gr.dataframe(
        {"atom_xyz": [[[[0.0, 1.0, 2.0]], [[3.0, 4.0, 5.0], [6.0, 7.0, 8.0]]]]}, schema=SCHEMA
    )
    assert frame.atom_xyz.to_list() == [[0.0, 1.0, 2.0], [3.0, 4.0, 5.0], [6.0, 7.0, 8.0]]
    assert frame.residue.atom_xyz.to_list() == [
        [[0.0, 1.0, 2.0]],
        [[3.0, 4.0, 5.0], [6.0, 7.0, 8.0]],
    ]


def test_four_level_frame_with_drill_down_and_shape_by_name() -> None:
    frame = gr.dataframe(
        {
            "scene_name": ["s0", "s1"],
            "molecule_id": [["a", "b"], ["c"]],
            "residue_n": [[[1, 2], [3]], [[4, 5, 6]]],
            "atom_x": [[[[0.1], [0.2, 0.3]], [[0.4]]], [[[0.5], [0.6], [0.7, 0.8]]]],
        },
        schema=["scene", "molecule", "residue", "atom"],
    )
    assert frame.shape("scene") == 2
    assert frame.shape("molecule").to_list() == [2, 1]
    assert frame.shape("residue").to_list() == [[2, 1], [3]]
    assert frame.shape("atom").to_list() == [[[1, 2], [1]], [[1, 1, 2]]]
    assert [frame.count(k) for k in range(4)] == [2, 3, 6, 8]
    assert frame.molecule.atom_x.to_list() == [
        [[0.1], [0.2, 0.3]],
        [[0.4]],
        [[0.5], [0.6], [0.7, 0.8]],
    ]
    assert frame.residue.atom_x.to_list() == [[0.1], [0.2, 0.3], [0.4], [0.5], [0.6], [0.7, 0.8]]
    assert frame.atom_x.to_list() == [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8]
    drilled = frame.scene[1].molecule[0].residue[2]
    assert drilled.to_dict() == {"residue_n": [6], "atom_x": [[0.7, 0.8]]}
    assert drilled.schema is not None and drilled.schema.names == ["residue", "atom"]
    frame.residue.residue_mean = frame.residue.atom_x.mean(dim=-1)
    assert frame["residue_mean"].to_list() == [[[0.1, 0.25], [0.4]], [[0.5, 0.6, 0.75]]]


def test_union_columns_are_one_element_per_row() -> None:
    go = ["GO:0003674", ["GO:0003674", "GO:0005524"], []]
    frame = gr.dataframe(
        {"molecule_go_term": go, "residue_n": [[1], [2, 3], []]}, schema=["molecule", "residue"]
    )
    assert frame["molecule_go_term"].is_union
    assert frame.molecule_go_term.to_list() == go
    with pytest.raises(gr.SchemaError, match="column 'molecule_go_term' has 2 rows; expected 3"):
        frame["molecule_go_term"] = go[:2]
    with pytest.raises(gr.SchemaError, match="column 'go_term' matches no level"):
        frame["go_term"] = go


def test_union_level_named_after_the_column() -> None:
    go = ["GO:0003674", ["GO:0003674", "GO:0005524"], []]
    frame = gr.dataframe({"go_term": go}, schema=["go"])
    assert frame.go_term.to_list() == go


def test_union_content_below_a_level_skips_the_offset_check_there() -> None:
    frame = gr.dataframe(
        {"residue_alt": [[1, [2, 3]], [4]], "atom_q": [[[1], [2, 3]], [[4]]]},
        schema=["molecule", "residue", "atom"],
    )
    assert frame.residue.residue_alt.to_list() == [1, [2, 3], 4]
    assert frame.residue_alt.to_list() == [1, [2, 3], 4]


def test_peeling_a_union_row_counts_it_as_one_element() -> None:
    frame = gr.dataframe({"m_x": [[1, [2, 3]], [[4]]]}, schema=["m", "r"])
    assert frame.r.m_x.to_list() == [1, [2, 3], [4]]
    go = gr.dataframe({"m_go": ["a", ["b", "c"], []], "r_n": [[1], [2], []]}, schema=["m", "r"])
    assert go.r.m_go.to_list() == ["a", "b", "c"]


def test_schema_error_bad_prefix() -> None:
    with pytest.raises(gr.SchemaError) as info:
        gr.dataframe({"id": [1, 2]}, schema=SCHEMA)
    assert str(info.value) == (
        "column 'id' matches no level of the schema (molecule → residue(group) → atom): a "
        "column name must equal a level name or alias, or start with one followed by '_' "
        "(e.g. 'molecule_id'), or be placed by name with levels={'id': 'molecule'}"
    )


def test_schema_error_wrong_depth() -> None:
    with pytest.raises(gr.SchemaError) as info:
        gr.dataframe({"atom_x": [[1.0, 2.0], [3.0]]}, schema=SCHEMA)
    assert str(info.value) == (
        "column 'atom_x' at level 'atom' needs nesting depth >= 2 (a list per residue); got "
        "depth 1 (2 * var * float64)"
    )
    with pytest.raises(gr.SchemaError, match="needs a list per molecule at depth 1"):
        gr.dataframe({"residue_x": [1, [2]]}, schema=SCHEMA)


def test_schema_error_mismatched_offsets_names_the_first_row(df: gr.DataFrame) -> None:
    with pytest.raises(gr.SchemaError) as info:
        df["residue_q"] = [[1, 2, 3], [4]]
    assert str(info.value) == (
        "column 'residue_q' does not match the offsets of level 'residue': molecule 1 has 1 "
        "residue entries, expected 2"
    )
    with pytest.raises(gr.SchemaError) as info:
        df["atom_q"] = [[[1, 2], [3, 4], [6]], [[7, 8], [9]]]
    assert str(info.value) == (
        "column 'atom_q' does not match the offsets of level 'atom': residue 1 has 2 atom "
        "entries, expected 3"
    )
    assert "residue_q" not in df and "atom_q" not in df


def test_schema_error_wrong_length() -> None:
    with pytest.raises(gr.SchemaError) as info:
        gr.dataframe({"molecule_a": [1, 2], "molecule_b": [1, 2, 3]}, schema=SCHEMA)
    assert str(info.value) == "column 'molecule_b' has 3 rows; expected 2 (one per molecule)"


def test_schema_error_unknown_level(df: gr.DataFrame) -> None:
    with pytest.raises(gr.SchemaError, match="unknown level 'chain'"):
        df.shape("chain")
    with pytest.raises(gr.SchemaError, match="unknown level 'chain'"):
        df.peel("atom_x", "chain")


def test_schema_error_column_without_an_axis_at_the_view_level(df: gr.DataFrame) -> None:
    with pytest.raises(gr.SchemaError) as info:
        _ = df.atom.residue_weight
    assert str(info.value) == (
        "column 'residue_weight' (level 'residue', 2 * var * float64) has no axis to peel down "
        "to level 'atom': it ends after 1 peel step(s)"
    )


def test_level_without_columns_has_unknown_offsets() -> None:
    frame = gr.dataframe({"molecule_id": ["a"]}, schema=SCHEMA)
    with pytest.raises(gr.SchemaError, match="level 'residue' has no columns yet"):
        frame.residue.residue_w = [1.0, 2.0, 3.0]
    frame.residue.residue_w = [[1.0, 2.0, 3.0]]
    assert frame.count("residue") == 3


def test_failed_assignment_leaves_the_frame_unchanged(df: gr.DataFrame) -> None:
    before = df.to_dict()
    with pytest.raises(gr.SchemaError):
        df["atom_bad"] = [[[1], [2], [3]], [[4], [5, 6, 7]]]
    assert df.to_dict() == before
    df["atom_ok"] = df["atom_number"] * 2
    assert df.atom_ok.to_list() == [2, 4, 6, 8, 10, 12, 14, 16, 18]


def test_frames_without_a_schema() -> None:
    frame = gr.dataframe({"a": [1, 2], "b": [[1], [2, 3]]})
    assert frame.schema is None
    assert frame.b.to_list() == [[1], [2, 3]]
    assert frame.shape(0) == 2
    assert frame.level_of("a") is None
    with pytest.raises(gr.SchemaError, match="level 1 needs a schema; this frame has none"):
        frame.shape(1)
    with pytest.raises(gr.SchemaError, match="column 'c' has 1 rows; expected 2"):
        frame["c"] = [1]
    assert frame[1].to_dict() == {"a": [2], "b": [[2, 3]]}
    assert gr.from_arrow(frame.to_arrow()).schema is None


def test_to_arrow_keeps_schema_and_levels_in_metadata(df: gr.DataFrame) -> None:
    table = df.to_arrow()
    assert isinstance(table, pa.Table)
    assert table.schema.field("atom_x").metadata == {b"grumpy_arrow.level": b"atom"}
    back = gr.from_arrow(table)
    assert back.schema == df.schema
    assert back.to_dict() == df.to_dict()
    assert back["atom_x"].to_arrow().type == df["atom_x"].to_arrow().type


def test_from_arrow_is_zero_copy_for_large_lists(df: gr.DataFrame) -> None:
    table = df.to_arrow()
    back = gr.from_arrow(table)
    leaf = table.column("atom_x").chunk(0).values.values
    assert back["atom_x"].to_arrow().values.values.buffers()[1].address == leaf.buffers()[1].address


def test_from_arrow_with_an_explicit_schema_and_32_bit_lists() -> None:
    table = pa.table(
        {"m_id": ["x", "y"], "r_v": pa.array([[1, 2], [3]], type=pa.list_(pa.int32()))}
    )
    frame = gr.from_arrow(table, schema=["m", "r"])
    assert frame.r.r_v.to_list() == [1, 2, 3]
    assert frame["r_v"].to_arrow().type == pa.large_list(pa.int32())
    with pytest.raises(gr.SchemaError, match="column 'r_v' matches no level"):
        gr.from_arrow(table, schema=["m"])


def test_record_batches_and_the_pycapsule_stream(df: gr.DataFrame) -> None:
    batch = df.to_arrow().to_batches()[0]
    assert gr.from_arrow(batch).to_dict() == df.to_dict()
    assert pa.table(df).equals(df.to_arrow())
    again = gr.from_arrow(df)
    assert again.schema == df.schema and again.to_dict() == df.to_dict()
    reader = pa.RecordBatchReader.from_batches(batch.schema, [batch])
    assert gr.from_arrow(reader).to_dict() == df.to_dict()


def test_to_dict_round_trip(df: gr.DataFrame) -> None:
    rebuilt = gr.dataframe(df.to_dict(), schema=SCHEMA)
    assert rebuilt.to_dict() == df.to_dict()


def test_concat_frames_row_wise(df: gr.DataFrame) -> None:
    both = gr.concat([df, df[0]])
    assert len(both) == 3
    assert both.molecule_id.to_list() == ["m1", "m2", "m1"]
    assert both.shape("residue").to_list() == [3, 2, 3]
    other = gr.dataframe({"molecule_id": ["z"]}, schema=SCHEMA)
    with pytest.raises(gr.SchemaError, match="different columns"):
        gr.concat([df, other])
    with pytest.raises(gr.SchemaError, match="different schemas"):
        gr.concat([df, gr.dataframe(df.to_dict(), schema=["molecule", "residue", "atom"])])
    with pytest.raises(gr.LayoutError, match="frames concatenate row-wise"):
        gr.concat([df, gr.array([1])])


def test_repr_is_bounded_and_html_is_escaped(df: gr.DataFrame) -> None:
    text = repr(df)
    assert text.splitlines()[0] == "<DataFrame 2 rows; levels molecule → residue(group) → atom"
    assert "  atom_x          2 * var * var * float64  [atom]" in text
    wide = gr.dataframe({f"c{i}": [i] for i in range(30)})
    assert "... 10 more columns" in repr(wide)
    assert len(repr(wide).splitlines()) == 22
    html_text = gr.dataframe({"m_<b>": ["<i>"]}, schema=["m"])._repr_html_()
    assert "&lt;b&gt;" in html_text and "<b>" not in html_text.replace("<tbody>", "")


def test_attributes_are_read_only(df: gr.DataFrame) -> None:
    with pytest.raises(AttributeError, match=r"set columns with df\['atom_y'\] = \.\.\."):
        df.atom_y = 1


def test_dataframe_needs_a_mapping() -> None:
    with pytest.raises(TypeError, match="dataframe needs a mapping"):
        gr.dataframe([1, 2])  # type: ignore[arg-type]


def test_flat_assignment_when_entities_equal_rows() -> None:
    frame = gr.dataframe({"residue_w": [[1.0], [2.0]]}, schema=SCHEMA)
    frame.residue.residue_v = [5.0, 6.0]
    assert frame["residue_v"].to_list() == [[5.0], [6.0]]
    frame.molecule.molecule_n = [1, 2]
    assert frame["molecule_n"].to_list() == [1, 2]


def test_assignment_through_another_levels_view_is_refused(df: gr.DataFrame) -> None:
    with pytest.raises(gr.SchemaError) as info:
        df.atom.residue_foo = list(range(9))
    assert str(info.value) == (
        "column 'residue_foo' belongs to level 'residue' by its name; assign it through "
        "df.residue.residue_foo (or df['residue_foo'] = nested values), not through level 'atom'"
    )
    assert "residue_foo" not in df


def test_levels_are_names_or_ints(df: gr.DataFrame) -> None:
    with pytest.raises(TypeError, match=r"a level is a name or an int, got 1\.5"):
        df.shape(1.5)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="a level is a name or an int, got True"):
        df.shape(True)
