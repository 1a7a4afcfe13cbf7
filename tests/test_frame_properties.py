"""Property tests for frames (docs/dataframes.md): random schemas, level trees and columns.

Frames come from :func:`grumpy_arrow.testing.strategies.frames` as plain Python values
(:class:`~grumpy_arrow.testing.strategies.FrameSpec`); every expectation below is computed
from those values alone:

- peeling ``k`` outer axes concatenates the lists of each row ``k`` times (a null list adds
  nothing, a scalar row on a union axis counts as one element);
- the entity counts of a level are the lengths of the lists at its depth in any column that
  reaches it (a null list has 0 entities), nested in the lists of the levels above;
- selecting rows selects the Python rows of every column.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import grumpy_arrow as gr
from grumpy_arrow.testing import assert_values_equal
from grumpy_arrow.testing import strategies as gst
from grumpy_arrow.testing.strategies import FrameSpec

FAST = settings(max_examples=100, deadline=None)

# Frames with a schema, null lists on level axes included; and frames with or without one.
SCHEMA_FRAMES = gst.frames(max_levels=4, null_levels=True)
ANY_FRAMES = gst.frames(with_schema=None, null_levels=True)

# -- Python references --------------------------------------------------------------------


Tagged = tuple[Any, ...]  # ("leaf", value) | ("null_list",) | ("list", [Tagged, ...])


def tag_level(items: list[Any]) -> list[Tagged]:
    """Tag the items of one depth as the arrays read them: where no list occurs they are
    leaves; among lists only, None is a null list; where scalars and lists mix (a union),
    None is a null scalar."""
    has_list = any(isinstance(x, list) for x in items)
    has_scalar = any(x is not None and not isinstance(x, list) for x in items)
    if not has_list:
        return [("leaf", x) for x in items]
    children = iter(tag_level([y for x in items if isinstance(x, list) for y in x]))
    out: list[Tagged] = []
    for x in items:
        if isinstance(x, list):
            out.append(("list", [next(children) for _ in x]))
        elif x is None and not has_scalar:
            out.append(("null_list",))
        else:
            out.append(("leaf", x))
    return out


def untag(item: Tagged) -> Any:
    if item[0] == "leaf":
        return item[1]
    return None if item[0] == "null_list" else [untag(c) for c in item[1]]


def peel_tagged(rows: list[Tagged], k: int, *, whole: bool = True) -> list[Tagged] | None:
    """Merge the ``k`` outer axes: each row's elements in order (a null list adds nothing, a
    scalar or null scalar row of a union counts as one element). None when the rows of a
    ``whole`` column run out of list axes first (some rows of a column may have no lists
    while the column's type has the axis)."""
    for _ in range(k):
        if whole and all(r[0] == "leaf" for r in rows):
            return None
        rows = [
            c for r in rows for c in ([r] if r[0] == "leaf" else r[1] if r[0] == "list" else [])
        ]
    return rows


def peel_reference(values: list[Any], k: int) -> list[Any] | None:
    """:func:`peel_tagged` on a whole column's Python values."""
    rows = peel_tagged(tag_level(values), k)
    return None if rows is None else [untag(r) for r in rows]


def entities(values: list[Any], k: int) -> list[Any]:
    """The items at depth ``k`` of a column reaching level ``k``: one per level-k entity."""
    found = peel_reference(values, k)
    assert found is not None
    return found


def counts_reference(
    levels: dict[str, int], columns: dict[str, list[Any]], k: int, j: int = 1
) -> list[Any]:
    """Entities of level ``k >= 1`` per level ``k - 1`` entity, nested like the levels
    above; a parent is null at level ``j`` when every column reaching ``j`` is null there."""
    reach = {n: v for n, v in columns.items() if levels[n] >= j}
    first = next(iter(reach.values()))
    out: list[Any] = []
    for i in range(len(first)):
        rows = {n: v[i] for n, v in reach.items()}
        if all(r is None for r in rows.values()):
            out.append(None)
        elif j == k:
            out.append(len(next(r for r in rows.values() if r is not None)))
        else:
            out.append(counts_reference(levels, {n: r or [] for n, r in rows.items()}, k, j + 1))
    return out


def with_level_nulls(
    levels: dict[str, int], columns: dict[str, list[Any]], values: list[Any], k: int, j: int = 1
) -> list[Any]:
    """``values`` (a column reaching level ``k``) with its level axes null exactly where
    every column reaching that level is null, empty elsewhere: what re-nesting one value
    per entity gives."""
    if j > k:
        return values
    reach = {n: v for n, v in columns.items() if levels[n] >= j}
    out: list[Any] = []
    for i, row in enumerate(values):
        rows = {n: v[i] for n, v in reach.items()}
        if all(r is None for r in rows.values()):
            out.append(None)
        else:
            inner = {n: r or [] for n, r in rows.items()}
            out.append(with_level_nulls(levels, inner, row or [], k, j + 1))
    return out


def level_names(spec: FrameSpec, k: int) -> tuple[str, ...]:
    assert spec.schema is not None
    item = spec.schema[k]
    return (item,) if isinstance(item, str) else item


def deepest_level(spec: FrameSpec) -> int:
    return max(spec.levels.values())


def reaching(spec: FrameSpec, columns: dict[str, list[Any]], k: int) -> list[Any]:
    """The values of a column at level ``k`` or below (the frame has one for ``k <= deepest``)."""
    name = next(n for n in columns if spec.levels[n] >= k)
    return columns[name]


def selected(spec: FrameSpec, rows: list[int]) -> dict[str, list[Any]]:
    return {name: [v[i] for i in rows] for name, v in spec.columns.items()}


def union_depths(values: list[Any]) -> int:
    """How many depths of a column are unions (scalars and lists meeting there)."""
    rows, found = tag_level(values), 0
    while rows:
        kinds = {r[0] for r in rows}
        found += {"leaf", "list"} <= kinds
        rows = [c for r in rows if r[0] == "list" for c in r[1]]
    return found


def assert_selection_peels(part: gr.DataFrame, spec: FrameSpec, rows: list[int]) -> None:
    """Every column of ``part`` (rows ``rows`` of ``spec``) peels to every level it reaches
    like the selected Python rows, tagged as parts of their whole columns."""
    assert spec.schema is not None
    for name, values in spec.columns.items():
        tagged = tag_level(values)
        for k in range(len(spec.schema)):
            if peel_reference(values, k) is None:
                with pytest.raises(gr.SchemaError, match="has no axis"):
                    part.peel(name, k)
                continue
            peeled = peel_tagged([tagged[i] for i in rows], k, whole=False)
            assert peeled is not None
            assert_values_equal(part.peel(name, k).to_list(), [untag(r) for r in peeled])


def with_length(type_string: str, n: int) -> str:
    """``'3 * var * int8'`` with the outer length replaced by ``n``."""
    return f"{n} * {type_string.split(' * ', 1)[1]}"


def assert_frames_equal(actual: gr.DataFrame, expected: gr.DataFrame) -> None:
    """Same columns in order, same schema, same column types and same values."""
    assert actual.columns == expected.columns
    assert actual.schema == expected.schema
    assert len(actual) == len(expected)
    assert actual.dtypes == expected.dtypes
    assert_values_equal(actual.to_dict(), expected.to_dict())


def assert_same_arrow(actual: gr.DataFrame, expected: gr.DataFrame) -> None:
    """Same Arrow schema (types, field and table metadata) and values."""
    a, e = actual.to_arrow(), expected.to_arrow()
    assert a.schema.equals(e.schema, check_metadata=True), (a.schema, e.schema)
    assert a.equals(e)


# -- construction and round trips -------------------------------------------------------


@FAST
@given(ANY_FRAMES)
def test_a_frame_holds_its_columns_at_their_levels(spec: FrameSpec) -> None:
    df = spec.build()
    assert df.columns == list(spec.columns)
    assert len(df) == spec.nrows
    assert_values_equal(df.to_dict(), spec.columns)
    if spec.schema is None:
        assert df.schema is None
        for name, values in spec.columns.items():  # a column as stored
            assert_values_equal(getattr(df, name).to_list(), values)
        return
    assert df.schema is not None and df.schema.to_json() == [
        list(item) if isinstance(item, tuple) else item for item in spec.schema
    ]
    table = df.to_arrow()
    for name, k in spec.levels.items():
        assert df.level_of(name) == level_names(spec, k)[0]
        field = table.schema.field(name)
        assert field.metadata == {b"grumpy_arrow.level": level_names(spec, k)[0].encode()}


@FAST
@given(ANY_FRAMES)
def test_to_arrow_and_from_arrow_round_trip(spec: FrameSpec) -> None:
    df = spec.build()
    table = df.to_arrow()
    back = gr.from_arrow(table)
    assert_frames_equal(back, df)
    assert_same_arrow(back, df)
    # An explicit schema gives the same frame as the one kept in the metadata.
    if spec.schema is not None:
        assert_frames_equal(gr.from_arrow(table, schema=spec.schema), df)


@FAST
@given(ANY_FRAMES)
def test_to_dict_and_dataframe_round_trip_with_dtypes(spec: FrameSpec) -> None:
    df = spec.build()
    d = df.to_dict()
    schema = None if df.schema is None else df.schema.to_json()
    back = gr.dataframe(
        {name: gr.array(v, dtype=spec.dtypes[name]) for name, v in d.items()}, schema=schema
    )
    assert_frames_equal(back, df)
    assert_same_arrow(back, df)


@FAST
@given(ANY_FRAMES)
def test_frames_cross_the_pycapsule_stream(spec: FrameSpec) -> None:
    """``pa.table(df)`` lowers union columns; ``gr.from_arrow`` raises them back.

    Columns with a union inside a union are left out: see
    ``test_a_union_inside_a_union_crosses_the_stream``.
    """
    names = [name for name, v in spec.columns.items() if union_depths(v) <= 1]
    if not names:
        return
    df = spec.build()[names]
    assert_frames_equal(gr.from_arrow(pa.table(df)), df)
    assert_frames_equal(gr.from_arrow(df), df)
    assert_frames_equal(gr.from_arrow(pa.RecordBatchReader.from_stream(df)), df)
    assert_frames_equal(gr.from_arrow(df.to_arrow(unions="lowered")), df)


def test_a_union_inside_a_union_crosses_the_stream() -> None:
    # It cannot be lowered, so it leaves native (consumers that take unions get it exactly).
    df = gr.dataframe({"molecule_x": [1, [2, [3]]]}, schema=["molecule"])
    assert_frames_equal(gr.from_arrow(pa.table(df)), df)


# -- levels: peeling and entity counts ----------------------------------------------------


@FAST
@given(SCHEMA_FRAMES)
def test_level_views_peel_the_outer_axes(spec: FrameSpec) -> None:
    df = spec.build()
    assert spec.schema is not None
    all_names = {n for k in range(len(spec.schema)) for n in level_names(spec, k)}
    for name, values in spec.columns.items():
        own = spec.levels[name]
        for k in range(len(spec.schema)):
            # Down to its own level a column peels its level axes; below, its feature axes
            # and unions, as long as it has list axes left.
            expected = peel_reference(values, k)
            if expected is None:
                assert k > own
                with pytest.raises(gr.SchemaError, match=f"column '{name}' .* has no axis"):
                    df.peel(name, k)
                continue
            assert_values_equal(df.peel(name, k).to_list(), expected)
            for level in level_names(spec, k):
                assert_values_equal(getattr(getattr(df, level), name).to_list(), expected)
        if name not in all_names:
            assert_values_equal(getattr(df, name).to_list(), peel_reference(values, own))


@FAST
@given(ANY_FRAMES)
def test_shape_counts_the_entities_of_each_level(spec: FrameSpec) -> None:
    df = spec.build()
    assert df.shape(0) == df.shape() == len(df) == spec.nrows
    if spec.schema is None:
        with pytest.raises(gr.SchemaError, match="needs a schema"):
            df.shape(1)
        return
    for k in range(1, len(spec.schema)):
        if k > deepest_level(spec):
            with pytest.raises(gr.SchemaError, match="has no columns yet"):
                df.shape(k)
            continue
        expected = counts_reference(spec.levels, spec.columns, k)
        dims: list[str | int] = [k, k - len(spec.schema), *level_names(spec, k)]
        for dim in dims:
            assert_values_equal(df.shape(dim).to_list(), expected)
        assert df.count(k) == len(getattr(df, level_names(spec, k)[0])) == sum(spec.counts[k - 1])
        # The strategy's level tree agrees with the columns.
        counted = [0 if c is None else c for c in entities(expected, k - 1)]
        assert_values_equal(counted, spec.counts[k - 1])


# -- row selection and drill-down ---------------------------------------------------------


@FAST
@given(ANY_FRAMES, st.data())
def test_selecting_rows_selects_the_python_rows(spec: FrameSpec, data: st.DataObject) -> None:
    df = spec.build()
    n = spec.nrows
    start = data.draw(st.none() | st.integers(-n - 1, n + 1), label="start")
    stop = data.draw(st.none() | st.integers(-n - 1, n + 1), label="stop")
    step = data.draw(st.sampled_from([None, 1, 2, -1]), label="step")
    sl = slice(start, stop, step)
    rows = list(range(n))[sl]
    part = df[sl]
    expected = selected(spec, rows)
    assert len(part) == len(rows)
    assert part.columns == df.columns and part.schema == df.schema
    assert_values_equal(part.to_dict(), expected)
    # Selection keeps the column types (a union column stays a union).
    assert part.dtypes == {name: with_length(t, len(rows)) for name, t in df.dtypes.items()}
    assert_frames_equal(gr.from_arrow(part.to_arrow()), part)
    if spec.schema is not None:
        assert_selection_peels(part, spec, rows)
    # The same frame as one built from the sliced Python values, whenever those values still
    # have their nesting depth: a non-null list at each level axis of every column.
    buildable = all(
        peel_reference(expected[name], k) is not None for name, k in spec.levels.items()
    )
    if buildable:
        rebuilt = gr.dataframe(
            {c: gr.array(v, dtype=spec.dtypes[c]) for c, v in expected.items()}, schema=spec.schema
        )
        assert_values_equal(part.to_dict(), rebuilt.to_dict())
        for k in range(1, deepest_level(spec) + 1):
            assert_values_equal(part.shape(k).to_list(), rebuilt.shape(k).to_list())


@FAST
@given(ANY_FRAMES, st.data())
def test_integer_list_and_mask_selection(spec: FrameSpec, data: st.DataObject) -> None:
    df = spec.build()
    n = spec.nrows
    if n:
        i = data.draw(st.integers(-n, n - 1), label="i")
        assert_values_equal(df[i].to_dict(), selected(spec, [i % n]))
        with pytest.raises(gr.OutOfBoundsError):
            df[n]
    picks = data.draw(
        st.lists(st.integers(-n, n - 1), max_size=6) if n else st.just([]), label="picks"
    )
    if picks:
        rows = [p % n for p in picks]
        assert_values_equal(df[picks].to_dict(), selected(spec, rows))
        if spec.schema is not None:
            assert_selection_peels(df[picks], spec, rows)
    mask = data.draw(st.lists(st.booleans(), min_size=n, max_size=n), label="mask")
    rows = [r for r in range(n) if mask[r]]
    assert_values_equal(df[np.array(mask, dtype=bool)].to_dict(), selected(spec, rows))
    if spec.schema is not None:
        assert_selection_peels(df[np.array(mask, dtype=bool)], spec, rows)
    names = data.draw(st.lists(st.sampled_from(df.columns), min_size=1, unique=True))
    sub = df[names]
    assert sub.columns == names and sub.schema == df.schema and len(sub) == n
    assert_values_equal(sub.to_dict(), {c: spec.columns[c] for c in names})


@FAST
@given(SCHEMA_FRAMES, st.data())
def test_drilling_into_a_level_selects_its_entities(spec: FrameSpec, data: st.DataObject) -> None:
    """``df.<level>[e]`` on the frame or on a slice of it (offsets not starting at 0)."""
    assert spec.schema is not None
    start = data.draw(st.integers(0, spec.nrows - 1), label="start row")
    df = spec.build()[start:]
    k = data.draw(st.integers(0, deepest_level(spec)), label="level")
    # Each column's rows from ``start``, tagged as parts of the whole column.
    rows = {name: tag_level(v)[start:] for name, v in spec.columns.items()}
    ents = {name: peel_tagged(r, k, whole=False) for name, r in rows.items()}
    count = df.count(k)
    assert count == len(ents[next(n for n in rows if spec.levels[n] >= k)] or [])
    if count == 0:
        return
    e = data.draw(st.integers(-count, count - 1), label="entity")
    level = data.draw(st.sampled_from(level_names(spec, k)), label="level name")
    picked = getattr(df, level)[e]
    expected = {
        name: [untag(ents[name][e])]  # type: ignore[index]
        for name in spec.columns
        if spec.levels[name] >= k
    }
    assert picked.columns == list(expected)
    assert picked.schema is not None and picked.schema.names == [
        level_names(spec, j)[0] for j in range(k, len(spec.schema))
    ]
    assert_values_equal(picked.to_dict(), expected)


@FAST
@given(SCHEMA_FRAMES, st.data())
def test_drilling_one_level_at_a_time(spec: FrameSpec, data: st.DataObject) -> None:
    """``df.<level 0>[i].<level k>[j]``: entity j of level k inside row i."""
    df = spec.build()
    i = data.draw(st.integers(0, spec.nrows - 1), label="row")
    k = data.draw(st.integers(1, max(1, deepest_level(spec))), label="level")
    if k > deepest_level(spec):
        return
    # Row i of each column, tagged as part of its whole column (a lone None row would read
    # as a null leaf, not a null list).
    row = {name: [tag_level(v)[i]] for name, v in spec.columns.items()}
    inside = peel_tagged(reaching(spec, row, k), k, whole=False)
    assert inside is not None
    if not inside:
        return
    j = data.draw(st.integers(0, len(inside) - 1), label="entity")
    picked = getattr(getattr(df, level_names(spec, 0)[0])[i], level_names(spec, k)[0])[j]
    expected = {
        name: [untag(peel_tagged(r, k, whole=False)[j])]  # type: ignore[index]
        for name, r in row.items()
        if spec.levels[name] >= k
    }
    assert_values_equal(picked.to_dict(), expected)


# -- concatenation ------------------------------------------------------------------------


@FAST
@given(ANY_FRAMES, st.data())
def test_concatenating_split_rows_gives_the_frame_back(
    spec: FrameSpec, data: st.DataObject
) -> None:
    df = spec.build()
    k = data.draw(st.integers(0, spec.nrows), label="split")
    joined = gr.concat([df[:k], df[k:]])
    assert isinstance(joined, gr.DataFrame)
    assert_frames_equal(joined, df)
    assert_same_arrow(joined, df)
    twice = gr.concat([df, df])
    assert isinstance(twice, gr.DataFrame)
    assert_values_equal(twice.to_dict(), {c: v + v for c, v in spec.columns.items()})
    assert twice.schema == df.schema


# -- assignment ---------------------------------------------------------------------------


@FAST
@given(SCHEMA_FRAMES, st.data())
def test_assigning_flat_values_renests_them(spec: FrameSpec, data: st.DataObject) -> None:
    """``df.<level>.<col> = flat`` (one value per entity) rebuilds the column, on the frame
    or on a slice of it.

    When the level has as many entities as the frame has rows, values through the level
    view are per entity (see ``test_flat_values_are_renested_when_entities_equal_rows``);
    nested values then go through ``df[name]``.
    """
    start = data.draw(st.integers(0, spec.nrows - 1), label="start row")
    df = spec.build()[start:]
    types = df.dtypes
    for name, whole in spec.columns.items():
        values, k, nested = whole[start:], spec.levels[name], df[name]
        level = getattr(df, level_names(spec, k)[-1])
        flat = getattr(level, name)
        tie = k > 0 and len(flat) == len(df)
        setattr(level, name, flat)
        assert df[name].type == types[name]
        sliced = {n: v[start:] for n, v in spec.columns.items()}
        assert_values_equal(df[name].to_list(), with_level_nulls(spec.levels, sliced, values, k))
        assert_values_equal(getattr(level, name).to_list(), flat.to_list())
        # Already-nested values (one per row) are taken as they are.
        if tie:
            df[name] = nested
        else:
            setattr(level, name, nested)
        assert df[name].type == types[name]
        assert_values_equal(df[name].to_list(), values)
        # Any other length is an error naming the accepted lengths.
        wrong = len(flat) + 1 if len(flat) + 1 != len(df) else len(flat) + 2
        message = f"expected {len(df)} .* or {len(flat)} " if k else f"expected {len(df)}"
        with pytest.raises(gr.SchemaError, match=message):
            setattr(level, name, gr.array([None] * wrong, dtype=spec.dtypes[name]))
        assert_values_equal(df[name].to_list(), values)
    assert df.columns == list(spec.columns)


@FAST
@given(SCHEMA_FRAMES)
def test_assigning_per_entity_values_adds_a_column_at_the_level(spec: FrameSpec) -> None:
    """A new column given one value per entity of a level is nested like the level."""
    df = spec.build()
    assert spec.schema is not None
    k = deepest_level(spec)
    name = f"{level_names(spec, k)[0]}_new"
    if k == 0 or gst.column_level(spec.schema, name) != k:
        return
    count = df.count(k)
    if count == len(df):
        return
    setattr(
        getattr(df, level_names(spec, k)[0]), name, gr.array(list(range(count)), dtype=gr.int64)
    )
    assert_values_equal(df.peel(name, k).to_list(), list(range(count)))
    levels = {n: gst.column_level(spec.schema, n) for n in df.columns}
    assert_values_equal(df.shape(k).to_list(), counts_reference(levels, df.to_dict(), k))


@pytest.mark.parametrize(
    ("column", "flat"),
    [
        # One residue per molecule, each residue value a list: read as nested, it passes the
        # offsets check and the column silently loses its feature axis.
        ({"residue_x": [[[5]], [[6]]]}, [[5], [6]]),
        # Two residues in molecule 0, none in molecule 1, a list per residue: read as nested
        # it fails the offsets check, so valid flat values are rejected.
        ({"residue_x": [[[1, 2], [3]], []]}, [[1, 2], [3]]),
    ],
)
def test_flat_values_are_renested_when_entities_equal_rows(
    column: dict[str, list[Any]], flat: list[Any]
) -> None:
    df = gr.dataframe(column, schema=["molecule", "residue"])
    assert df.count("residue") == len(df)
    ((name, values),) = column.items()
    assert_values_equal(df.residue.residue_x.to_list(), flat)
    df.residue.residue_x = gr.array(flat)
    assert_values_equal(df[name].to_list(), values)


def test_flat_scalars_are_renested_when_entities_equal_rows() -> None:
    """Flat values too shallow to be nested are re-nested even when the lengths agree."""
    df = gr.dataframe({"residue_x": [[1, 2], []]}, schema=["molecule", "residue"])
    df.residue.residue_x = gr.array([3, 4])
    assert df.to_dict() == {"residue_x": [[3, 4], []]}
