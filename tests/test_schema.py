from __future__ import annotations

import pytest

import grumpy_arrow as gr
from grumpy_arrow.frame import Level, Schema, parse_schema


def test_levels_with_aliases_and_prefix_rule() -> None:
    schema = parse_schema(["molecule", ("residue", "group"), "atom"])
    assert schema is not None
    assert schema.names == ["molecule", "residue", "atom"]
    assert [schema.level_of(c) for c in ("molecule_id", "residue", "group_x", "atom_xyz")] == [
        0,
        1,
        1,
        2,
    ]
    assert schema.index("group") == 1
    assert schema.index(-1) == 2
    assert str(schema) == "molecule → residue(group) → atom"
    assert schema.to_json() == ["molecule", ["residue", "group"], "atom"]


def test_first_matching_level_wins() -> None:
    schema = parse_schema(["a", "a_b"])
    assert schema is not None
    # "a_b_x" starts with "a_" so it belongs to level "a", the first match.
    assert schema.level_of("a_b_x") == 0


def test_prefix_needs_an_underscore() -> None:
    schema = parse_schema(["atom"])
    assert schema is not None
    with pytest.raises(gr.SchemaError, match="column 'atomic' matches no level"):
        schema.level_of("atomic")


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ([], "a schema is a non-empty list of levels"),
        ("molecule", "a schema is a non-empty list of levels"),
        (["a", "a"], "level name 'a' is used twice in the schema \\(levels 0 and 1\\)"),
        (["a", ("b", "a")], "level name 'a' is used twice"),
        (["a", 3], "schema level 1 must be a name or a tuple of names, got 3"),
        (["a", ("",)], "schema level 1 must be a name"),
    ],
    ids=["empty", "string", "duplicate", "duplicate-alias", "not-a-name", "empty-name"],
)
def test_bad_schemas_raise_schema_error(spec: object, message: str) -> None:
    with pytest.raises(gr.SchemaError, match=message):
        parse_schema(spec)


def test_unknown_and_out_of_range_levels() -> None:
    schema = Schema((Level(("m",)), Level(("r",))))
    with pytest.raises(gr.SchemaError, match="unknown level 'x'; the schema's levels are m → r"):
        schema.index("x")
    with pytest.raises(
        gr.SchemaError, match="level 2 is out of range: the schema \\(m → r\\) has 2"
    ):
        schema.index(2)
    assert schema.below(1).names == ["r"]
