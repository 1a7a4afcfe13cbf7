"""Hypothesis strategies for grumpy_arrow: dtypes, leaf values, nested values, arrays.

Needs the optional ``hypothesis`` dependency: ``pip install 'grumpy_arrow[test]'``.

The nested values are what :func:`grumpy_arrow.array` takes: a list of rows, where a row is
a scalar, ``None`` or a list nested to any depth up to ``max_depth``. Where scalars and lists
meet at one level the array gets a union there. Every leaf value converts to its dtype
exactly, so ``gr.array(value, dtype=dtype).to_list() == value``; tuples are never generated.

Examples
--------
>>> import grumpy_arrow as gr
>>> from hypothesis import given, settings
>>> from grumpy_arrow.testing import assert_values_equal
>>> from grumpy_arrow.testing.strategies import nested_values
>>> @settings(max_examples=10, deadline=None, database=None)
... @given(nested_values(gr.int8, max_depth=2))
... def test_round_trip(value):
...     assert_values_equal(gr.array(value, dtype=gr.int8).to_list(), value)
>>> test_round_trip()
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, TypedDict, Unpack

import numpy as np

try:
    from hypothesis import strategies as st
except ImportError as err:  # pragma: no cover - exercised by a test with hypothesis hidden
    raise ImportError(
        "grumpy_arrow.testing.strategies needs hypothesis; install it with "
        "pip install 'grumpy_arrow[test]'"
    ) from err

from grumpy_arrow import dtypes as dt
from grumpy_arrow.array import GrumpyArray
from grumpy_arrow.frame.dataframe import DataFrame, dataframe
from grumpy_arrow.functions import array

__all__ = [
    "ALL_DTYPES",
    "COLUMN_SUFFIXES",
    "LEVEL_NAMES",
    "FrameSpec",
    "arrays",
    "column_level",
    "dataframes",
    "dtype_and_values",
    "dtypes",
    "frames",
    "leaf_values",
    "nested_values",
]

ALL_DTYPES: tuple[dt.DType, ...] = (
    dt.int8,
    dt.int16,
    dt.int32,
    dt.int64,
    dt.uint8,
    dt.uint16,
    dt.uint32,
    dt.uint64,
    dt.float16,
    dt.float32,
    dt.float64,
    dt.bool_,
    dt.string,
    dt.binary,
)
"""Every leaf dtype, in the order :func:`dtypes` draws (and shrinks towards) them."""

_KINDS = "iufbUS"
_FLOAT_WIDTH: dict[str, Literal[16, 32, 64]] = {"float16": 16, "float32": 32, "float64": 64}


def dtypes(kinds: str = _KINDS) -> st.SearchStrategy[dt.DType]:
    """Leaf dtypes whose NumPy kind character is in ``kinds``.

    Parameters
    ----------
    kinds : str
        Any of ``i`` (signed), ``u`` (unsigned), ``f`` (float), ``b`` (bool), ``U`` (string)
        and ``S`` (binary); all of them by default.

    Raises
    ------
    ValueError
        If ``kinds`` is empty or holds an unknown kind.
    """
    unknown = sorted(set(kinds) - set(_KINDS))
    if unknown or not kinds:
        raise ValueError(f"kinds must be a non-empty string of {_KINDS!r}, got {kinds!r}")
    return st.sampled_from([d for d in ALL_DTYPES if d.kind in kinds])


def leaf_values(
    dtype: Any,
    *,
    min_value: int | float | None = None,
    max_value: int | float | None = None,
    allow_nan: bool = False,
    allow_infinity: bool = True,
) -> st.SearchStrategy[Any]:
    """Non-null Python scalars that a ``dtype`` leaf stores exactly.

    Integers stay in the dtype's range, floats are exactly representable at the dtype's
    width (so float16/float32 values round-trip unchanged), strings are arbitrary text and
    binary values arbitrary bytes.

    Parameters
    ----------
    dtype : dtype-like
    min_value, max_value : number, optional
        Narrower bounds for integer and float dtypes (ignored for the others).
    allow_nan : bool, default False
        Whether floats may be NaN (compare with :func:`grumpy_arrow.testing.values_equal`).
    allow_infinity : bool, default True
        Whether floats may be infinite (only without bounds on that side).
    """
    d = dt.dtype(dtype)
    if d.kind in "iu":
        info = np.iinfo(d.numpy)
        lo = int(info.min) if min_value is None else max(int(info.min), int(min_value))
        hi = int(info.max) if max_value is None else min(int(info.max), int(max_value))
        return st.integers(lo, hi)
    if d.kind == "f":
        bounded = min_value is not None or max_value is not None
        return st.floats(
            min_value=min_value,
            max_value=max_value,
            allow_nan=allow_nan and not bounded,
            allow_infinity=allow_infinity and not bounded,
            width=_FLOAT_WIDTH[d.name],
        )
    if d.kind == "b":
        return st.booleans()
    if d.kind == "U":
        return st.text()
    return st.binary()


def nested_values(
    dtype: Any,
    max_depth: int = 3,
    *,
    unions: bool = True,
    nulls: bool = True,
    min_size: int = 0,
    max_size: int = 6,
    max_list_size: int = 4,
    leaves: st.SearchStrategy[Any] | None = None,
) -> st.SearchStrategy[list[Any]]:
    """Nested Python lists of ``dtype`` leaves: the rows of one array.

    Parameters
    ----------
    dtype : dtype-like
        The leaf dtype (values come from :func:`leaf_values` unless ``leaves`` is given).
    max_depth : int, default 3
        The deepest list nesting inside a row (the array's ``ndim`` is at most
        ``max_depth + 1``).
    unions : bool, default True
        Whether scalars and lists may meet at one level (which makes a union). Without
        unions every row nests to the same depth, giving a plain list-chain.
    nulls : bool, default True
        Whether ``None`` may stand for a row, a list or a leaf value. All-null values come
        up too: they need an explicit ``dtype=`` in :func:`grumpy_arrow.array`.
    min_size, max_size : int
        Bounds on the number of rows.
    max_list_size : int, default 4
        The longest list below the rows.
    leaves : SearchStrategy, optional
        Custom non-null leaf values (e.g. ``leaf_values(gr.int64, min_value=-9,
        max_value=9)``).
    """
    if max_depth < 0:
        raise ValueError(f"max_depth must be >= 0, got {max_depth}")
    leaf = leaf_values(dtype) if leaves is None else leaves
    item = st.none() | leaf if nulls else leaf
    if unions:
        node = item
        for _ in range(max_depth):
            node = item | st.lists(node, max_size=max_list_size)
        return st.lists(node, min_size=min_size, max_size=max_size)

    def chain(depth: int) -> st.SearchStrategy[list[Any]]:
        node = item
        for _ in range(depth):
            lists = st.lists(node, max_size=max_list_size)
            node = st.none() | lists if nulls else lists
        return st.lists(node, min_size=min_size, max_size=max_size)

    return st.integers(0, max_depth).flatmap(chain)


class _NestedOptions(TypedDict, total=False):
    """The keyword options of :func:`nested_values` that :func:`dtype_and_values` and
    :func:`arrays` pass on to it (its defaults apply to those not given)."""

    unions: bool
    nulls: bool
    min_size: int
    max_size: int
    max_list_size: int


def dtype_and_values(
    kinds: str = _KINDS, max_depth: int = 3, **options: Unpack[_NestedOptions]
) -> st.SearchStrategy[tuple[dt.DType, list[Any]]]:
    """Pairs ``(dtype, value)``: a dtype from :func:`dtypes` and :func:`nested_values` of it
    (``max_depth`` and ``options`` as there)."""

    def values_of(d: dt.DType) -> st.SearchStrategy[tuple[dt.DType, list[Any]]]:
        return st.tuples(st.just(d), nested_values(d, max_depth, **options))

    return dtypes(kinds).flatmap(values_of)


def arrays(
    dtype: Any = None, max_depth: int = 3, **options: Unpack[_NestedOptions]
) -> st.SearchStrategy[GrumpyArray]:
    """GrumpyArrays built from :func:`nested_values` (the dtype is drawn when not given)."""
    if dtype is None:
        pairs = dtype_and_values(_KINDS, max_depth, **options)
    else:
        d = dt.dtype(dtype)
        pairs = nested_values(d, max_depth, **options).map(lambda value: (d, value))
    return pairs.map(lambda pair: array(pair[1], dtype=pair[0]))


# -- frames -------------------------------------------------------------------------------

LEVEL_NAMES: tuple[str, ...] = (
    "molecule",
    "residue",
    "atom",
    "group",
    "chain",
    "model",
    "site",
    "bond",
    "ring",
    "side",
    "side_chain",
    "res",
    "a",
    "b",
)
"""Names :func:`frames` gives levels (and aliases). ``side`` / ``side_chain`` exercise the
first-match rule: ``side_chain_x`` belongs to ``side`` when that level comes first."""

COLUMN_SUFFIXES: tuple[str, ...] = ("x", "y", "id", "name", "number", "weight", "tags")
"""What :func:`frames` appends to a level name (after ``_``) to name a column."""


@dataclass(frozen=True)
class FrameSpec:
    """A drawn frame as plain Python data: what :func:`frames` returns.

    Attributes
    ----------
    columns : dict of str to list
        Each column's nested Python values (one item per outer row), as
        :func:`grumpy_arrow.array` takes them.
    dtypes : dict of str to DType
        Each column's leaf dtype (pass it to ``gr.array``: all-null columns need it).
    schema : list or None
        The levels, outermost first: a name or a tuple of aliases; None for no schema.
    levels : dict of str to int
        The index of the level each column belongs to (0 without a schema).
    counts : tuple of list of int
        ``counts[k - 1]`` holds, for each entity at level ``k - 1`` in order, how many
        entities of level ``k`` it has (a null list has 0), for levels ``k = 1, 2, ...``.
        Every level has its counts, also levels no column reaches.
    nrows : int
        The number of outer rows.
    """

    columns: dict[str, list[Any]]
    dtypes: dict[str, dt.DType]
    schema: list[str | tuple[str, ...]] | None
    levels: dict[str, int]
    counts: tuple[list[int], ...]
    nrows: int

    def arrays(self) -> dict[str, GrumpyArray]:
        """The columns as GrumpyArrays built with their dtypes."""
        return {name: array(v, dtype=self.dtypes[name]) for name, v in self.columns.items()}

    def build(self) -> DataFrame:
        """``gr.dataframe(self.arrays(), schema=self.schema)``."""
        return dataframe(self.arrays(), schema=self.schema)


def column_level(schema: list[str | tuple[str, ...]], column: str) -> int:
    """The first level whose name or alias equals ``column`` or prefixes it with ``_``.

    A plain-Python statement of the rule in docs/dataframes.md (-1 when no level matches).
    """
    for i, item in enumerate(schema):
        names = (item,) if isinstance(item, str) else item
        if any(column == n or column.startswith(n + "_") for n in names):
            return i
    return -1


def _column(
    d: dt.DType, depth: int, rows: int, unions: bool, nulls: bool, max_list_size: int
) -> st.SearchStrategy[list[Any]]:
    """A frame column's own values: :func:`nested_values` of exactly ``rows`` rows."""
    return nested_values(
        d,
        depth,
        unions=unions,
        nulls=nulls,
        min_size=rows,
        max_size=rows,
        max_list_size=max_list_size,
    )


def _group(items: list[Any], counts: list[int]) -> list[list[Any]]:
    out, pos = [], 0
    for c in counts:
        out.append(items[pos : pos + c])
        pos += c
    return out


@st.composite
def frames(
    draw: st.DrawFn,
    max_levels: int = 3,
    max_columns: int = 4,
    unions: bool = True,
    nulls: bool = True,
    *,
    with_schema: bool | None = True,
    null_levels: bool = False,
    max_rows: int = 4,
    max_list_size: int = 3,
    max_feature_depth: int = 2,
) -> FrameSpec:
    """Random frames as :class:`FrameSpec`: a schema, a consistent level tree, columns.

    With a schema, 1 to ``max_levels`` levels are drawn (some with an alias), a row count
    and, for each level below the first, how many entities each parent entity has. Each
    column is named after a level name or alias (``residue``, ``group_x``...), belongs to the
    first level that name matches, has a random leaf dtype and one value per entity of its
    level, nested in the lists of the levels above. Those values may carry feature axes
    (lists below the level), a union (scalar-or-list) below the level and nulls.

    Without a schema the columns are any :func:`nested_values` of a shared row count.

    Parameters
    ----------
    max_levels : int, default 3
    max_columns : int, default 4
    unions : bool, default True
        Whether a column may hold scalar-or-list unions below its level.
    nulls : bool, default True
        Whether leaves, feature lists and rows below the level may be ``None``.
    with_schema : bool or None, default True
        True: always a schema; False: never; None: either.
    null_levels : bool, default False
        Whether a column may hold ``None`` for an empty list of a level (a null list there;
        the level's offsets are unchanged, but re-nesting flat values gives ``[]`` back).
    max_rows : int, default 4
        At least one row is drawn with a schema (so Python values of deep columns have
        their nesting depth); without a schema the frame may be empty.
    max_list_size : int, default 3
        The most entities of a level per parent entity, and the longest feature list.
    max_feature_depth : int, default 2
        The deepest nesting of a column's values below its level.

    Raises
    ------
    ValueError
        If ``max_levels`` is not in 1..7 or ``max_columns`` is below 1.

    Examples
    --------
    >>> from hypothesis import given, settings
    >>> from grumpy_arrow.testing import assert_values_equal
    >>> from grumpy_arrow.testing.strategies import frames
    >>> @settings(max_examples=10, deadline=None, database=None)
    ... @given(frames())
    ... def test_to_dict(spec):
    ...     assert_values_equal(spec.build().to_dict(), spec.columns)
    >>> test_to_dict()
    """
    if not 1 <= max_levels <= len(LEVEL_NAMES) // 2:
        raise ValueError(f"max_levels must be in 1..{len(LEVEL_NAMES) // 2}, got {max_levels}")
    if max_columns < 1:
        raise ValueError(f"max_columns must be >= 1, got {max_columns}")
    schema_drawn = draw(st.booleans()) if with_schema is None else with_schema
    if not schema_drawn:
        return draw(
            _schemaless_frames(
                max_columns, unions, nulls, max_rows, max_list_size, max_feature_depth
            )
        )
    nlevels = draw(st.integers(1, max_levels))
    alias_counts = [draw(st.integers(1, 2)) for _ in range(nlevels)]
    pool = draw(st.permutations(LEVEL_NAMES))
    schema: list[str | tuple[str, ...]] = []
    pos = 0
    for n in alias_counts:
        names = tuple(pool[pos : pos + n])
        pos += n
        schema.append(names[0] if n == 1 else names)
    nrows = draw(st.integers(1, max(1, max_rows)))
    totals = [nrows]
    counts: list[list[int]] = []
    for k in range(1, nlevels):
        c = draw(st.lists(st.integers(0, max_list_size), min_size=totals[-1], max_size=totals[-1]))
        # Keep every level but the last non-empty: a level-k column needs an entity at
        # level k - 1 for its Python values to have their nesting depth.
        if k < nlevels - 1 and sum(c) == 0:
            c[0] = 1
        counts.append(c)
        totals.append(sum(c))
    prefixes = [n for item in schema for n in ((item,) if isinstance(item, str) else item)]
    ncols = draw(st.integers(1, max_columns))
    columns: dict[str, list[Any]] = {}
    dtypes_: dict[str, dt.DType] = {}
    levels: dict[str, int] = {}
    for _ in range(ncols):
        prefix = draw(st.sampled_from(prefixes))
        suffix = draw(st.sampled_from(("", *COLUMN_SUFFIXES)))
        name = f"{prefix}_{suffix}" if suffix else prefix
        if name in columns:
            continue
        level = column_level(schema, name)
        d = draw(dtypes())
        union = unions and draw(st.booleans())
        depth = draw(st.integers(0, max_feature_depth))
        values: list[Any] = draw(_column(d, depth, totals[level], union, nulls, max_list_size))
        for k in range(level, 0, -1):
            grouped: list[Any] = _group(values, counts[k - 1])
            empty = [i for i, g in enumerate(grouped) if not g]
            if null_levels and empty:
                # A null list, but never all of them: then the Python values would lose
                # this list axis (all-None items are null leaves).
                nulled = draw(st.sets(st.sampled_from(empty)))
                if len(nulled) < len(grouped):
                    grouped = [None if i in nulled else g for i, g in enumerate(grouped)]
            values = grouped
        columns[name], dtypes_[name], levels[name] = values, d, level
    return FrameSpec(columns, dtypes_, schema, levels, tuple(counts), nrows)


@st.composite
def _schemaless_frames(
    draw: st.DrawFn,
    max_columns: int,
    unions: bool,
    nulls: bool,
    max_rows: int,
    max_list_size: int,
    max_depth: int,
) -> FrameSpec:
    nrows = draw(st.integers(0, max_rows))
    names = draw(
        st.lists(
            st.sampled_from(("x", "y", "name", "values", "tags", "id")),
            min_size=1,
            max_size=max_columns,
            unique=True,
        )
    )
    columns: dict[str, list[Any]] = {}
    dtypes_: dict[str, dt.DType] = {}
    for name in names:
        d = draw(dtypes())
        dtypes_[name] = d
        columns[name] = draw(_column(d, max_depth, nrows, unions, nulls, max_list_size))
    return FrameSpec(columns, dtypes_, None, dict.fromkeys(names, 0), (), nrows)


def dataframes(
    max_levels: int = 3,
    max_columns: int = 4,
    unions: bool = True,
    nulls: bool = True,
    **kwargs: Any,
) -> st.SearchStrategy[DataFrame]:
    """Built frames: :func:`frames` (same arguments) mapped through :meth:`FrameSpec.build`.

    Examples
    --------
    >>> from hypothesis import given, settings
    >>> from grumpy_arrow.testing.strategies import dataframes
    >>> @settings(max_examples=10, deadline=None, database=None)
    ... @given(dataframes(with_schema=None))
    ... def test_columns_have_the_row_count(df):
    ...     assert all(len(df[c]) == len(df) for c in df.columns)
    >>> test_columns_have_the_row_count()
    """
    return frames(max_levels, max_columns, unions, nulls, **kwargs).map(FrameSpec.build)
