"""The everyday pandas verbs of a frame: ``head``, ``tail``, ``copy``, ``rename``, ``drop``,
``sort_values``, ``describe`` and, for arrays, ``value_counts``.

They follow pandas' names and semantics where those apply to nested data:

- row verbs (``head``, ``tail``, ``sort_values``) select **outer rows**, and every column
  keeps its lists (a molecule keeps its atoms);
- column verbs (``rename``, ``drop``) keep the schema's rules: a renamed column must still
  name its level;
- statistics (``describe``, ``value_counts``) pool the **leaf values** of a column, at
  whatever depth (``describe()["atom_x"]`` describes every atom's x).

Examples
--------
>>> import grumpy_arrow as gr
>>> df = gr.dataframe({"mol_id": [3, 1, 2], "atom_x": [[1.0, 2.0], [], [4.0]]},
...                   schema=["mol", "atom"])
>>> df.sort_values("mol_id")["atom_x"].to_list()
[[], [4.0], [1.0, 2.0]]
>>> df.head(2).to_dict()
{'mol_id': [3, 1], 'atom_x': [[1.0, 2.0], []]}
>>> gr.array([["C", "H", "H"], ["O", "H"]]).value_counts().to_dict()
{'value': ['H', 'C', 'O'], 'count': [3, 1, 1]}
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any, cast

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from grumpy_arrow import layout as lay
from grumpy_arrow._typing import NaPosition, RenameErrors
from grumpy_arrow.array import GrumpyArray, asarray
from grumpy_arrow.errors import ColumnNotFoundError, LayoutError

if TYPE_CHECKING:
    from grumpy_arrow.frame.dataframe import DataFrame

__all__ = [
    "DESCRIBE_STATS",
    "describe",
    "drop",
    "dropna",
    "nested_key",
    "rename",
    "select_within",
    "sort_values",
]

DESCRIBE_STATS = ("count", "mean", "std", "min", "25%", "50%", "75%", "max")
"""The rows of :func:`describe`, as pandas names them."""


def _names(columns: str | Iterable[str], frame: DataFrame, verb: str) -> list[str]:
    """Column names from one name or several, each checked to exist."""
    names = [columns] if isinstance(columns, str) else list(columns)
    for name in names:
        if not isinstance(name, str):
            raise TypeError(f"{verb}: column names are strings, got {name!r}")
        if name not in frame:
            raise ColumnNotFoundError(
                f"{verb}: no column {name!r}; the columns are {', '.join(frame.columns)}"
            )
    return names


def rename(
    frame: DataFrame, columns: Mapping[str, str], errors: RenameErrors = "ignore"
) -> DataFrame:
    """The frame with columns renamed: the kernel of
    :meth:`grumpy_arrow.DataFrame.rename`, which documents it (parameters, result, errors).
    """
    if errors not in ("ignore", "raise"):
        raise ValueError(f"rename(errors=...) takes 'ignore' or 'raise', got {errors!r}")
    if errors == "raise":
        _names(list(columns), frame, "rename")
    out: dict[str, GrumpyArray] = {}
    for name in frame.columns:
        new = columns.get(name, name)
        if new in out:
            raise ValueError(f"rename: two columns would be named {new!r}")
        out[new] = frame[name]
    return type(frame)(out, frame.schema, len(frame))


def drop(frame: DataFrame, columns: str | Iterable[str]) -> DataFrame:
    """The frame without ``columns``: the kernel of
    :meth:`grumpy_arrow.DataFrame.drop`, which documents it (parameters, result, errors).
    """
    gone = set(_names(columns, frame, "drop"))
    kept = {name: frame[name] for name in frame.columns if name not in gone}
    return type(frame)._from_valid(kept, frame.schema, len(frame))


def sort_values(
    frame: DataFrame,
    by: str | Iterable[str],
    ascending: bool | Iterable[bool] = True,
    na_position: NaPosition = "last",
) -> DataFrame:
    """Outer rows ordered by flat columns, stably: the kernel of
    :meth:`grumpy_arrow.DataFrame.sort_values`, which documents it (parameters, result, errors).
    """
    names = _names(by, frame, "sort_values")
    orders = [ascending] * len(names) if isinstance(ascending, bool) else list(ascending)
    if len(orders) != len(names):
        raise ValueError(
            f"sort_values: {len(names)} columns to sort by and {len(orders)} ascending flags"
        )
    if na_position not in ("first", "last"):
        raise ValueError(
            f"sort_values(na_position=...) takes 'first' or 'last', got {na_position!r}"
        )
    keys = {}
    for name in names:
        column = frame[name]
        if column.ndim != 1 or column.is_union:
            raise LayoutError(
                f"sort_values: column {name!r} ({column.type}) is not one value per row; "
                "sort by a flat column (a statistic of a list column, for example)"
            )
        keys[name] = column.to_arrow()
    table = pa.table(keys)
    placement = "at_start" if na_position == "first" else "at_end"
    directions = ["ascending" if a else "descending" for a in orders]
    try:  # pyarrow >= 25: null placement per key (Arrow's sort is stable)
        keys_3 = [(n, d, placement) for n, d in zip(names, directions, strict=True)]
        order = pc.sort_indices(table, sort_keys=keys_3)
    except (TypeError, ValueError, pa.ArrowInvalid):  # older pyarrow: one for all keys
        keys_2 = list(zip(names, directions, strict=True))
        order = pc.sort_indices(table, sort_keys=keys_2, null_placement=placement)
    return cast("DataFrame", frame[np.asarray(order, dtype=np.int64)])


def _leaves(column: GrumpyArray) -> pa.Array:
    """Every leaf value of a column, at any depth (union scalars and list values); a
    dictionary-encoded leaf stays encoded (its content is compact: exactly the values)."""
    node = column.node
    while isinstance(node, lay.ListNode):
        node = node.content
    if isinstance(node, lay.Leaf):
        return node.arrow
    return column.flatten().to_arrow()


def describe(frame: DataFrame) -> DataFrame:
    """Summary statistics of each numeric column: the kernel of
    :meth:`grumpy_arrow.DataFrame.describe`, which documents it (parameters, result, errors).
    """
    out: dict[str, GrumpyArray] = {"statistic": GrumpyArray(pa.array(list(DESCRIBE_STATS)))}
    for name in frame.columns:
        column = frame[name]
        if column.dtype.kind not in "iuf":
            continue
        out[name] = GrumpyArray(pa.array(_stats(_leaves(column)), type=pa.float64()))
    if len(out) == 1:
        raise ValueError(
            f"describe: no numeric column to describe (columns: {', '.join(frame.columns)})"
        )
    return type(frame)(out, None)


def _stats(values: pa.Array) -> list[float | None]:
    """The :data:`DESCRIBE_STATS` of numbers, nulls and NaN left out."""
    x = np.asarray(values.drop_null().to_numpy(zero_copy_only=False), dtype=np.float64)
    x = x[~np.isnan(x)]
    if len(x) == 0:
        return [0.0] + [None] * (len(DESCRIBE_STATS) - 1)
    std = float(np.std(x, ddof=1)) if len(x) > 1 else None
    q25, q50, q75 = (float(q) for q in np.quantile(x, [0.25, 0.5, 0.75]))
    return [float(len(x)), float(np.mean(x)), std, float(x.min()), q25, q50, q75, float(x.max())]


def nested_key(key: Any) -> GrumpyArray | None:
    """``key`` as an array when it is a ragged (per-row) key of a frame: a GrumpyArray with
    list rows, or a list holding lists; None for row keys."""
    if isinstance(key, GrumpyArray):
        return key if key.ndim > 1 else None
    if isinstance(key, list) and any(isinstance(k, list) for k in key):
        arr = asarray(key)
        return arr if arr.ndim > 1 else None
    return None


def select_within(frame: DataFrame, key: GrumpyArray) -> DataFrame:
    """``df[mask]`` for a ragged mask (or per-row index) of some level's entities: every
    column of that level and below keeps the selected entities (an atom column keeps
    the atoms, a column of each atom's bonds keeps those atoms' bonds); outer columns
    are kept whole. A null in a mask selects nothing (pandas' rule). An integer key
    gathers entities inside each row (``[[2, 0], [], [1]]``), in any order and number.
    """
    schema = frame.schema
    depth = key.ndim - 1
    if schema is None or depth >= len(schema):
        raise LayoutError(
            f"a {key.type} key selects entities {depth} levels down, but this frame has "
            f"{len(schema) if schema else 1} level(s)"
        )
    if key.dtype.kind == "b" and key.null_count + _inner_nulls(key):
        key = key.fill_null(False)
    if len(key) != len(frame):
        raise LayoutError(
            f"a ragged key has one entry per row: got {len(key)} for a frame of {len(frame)} rows"
        )
    node = key.node
    # A mask matches its level's lists; an index (a per-row gather) may have any length
    # there, but matches the levels above.
    last = depth if key.dtype.kind == "b" else depth - 1
    for k in range(1, depth + 1):
        if not isinstance(node, lay.ListNode):
            raise LayoutError(f"a frame key must be lists down to its level, got {key.type}")
        want = frame._level_offsets(k)
        if k <= last and (
            len(node.offsets) != len(want)
            or not np.array_equal(np.diff(node.offsets), np.diff(want))
        ):
            raise LayoutError(
                f"the key's lists at level {schema.levels[k].name!r} do not match the "
                f"frame's (a mask must come from a column of that level, e.g. "
                f"df[col] != value)"
            )
        node = node.content
    columns = {
        name: column[key] if schema.level_of(name) >= depth else column
        for name, column in frame._columns.items()
    }
    return type(frame)(columns, schema, len(frame))


def _inner_nulls(key: GrumpyArray) -> int:
    leaf = key.node
    while isinstance(leaf, lay.ListNode):
        leaf = leaf.content
    return leaf.values.null_count if isinstance(leaf, lay.Leaf) else 0


def dropna(
    frame: DataFrame, *, level: str | int = 0, subset: str | Iterable[str] | None = None
) -> DataFrame:
    """Drop the entities of ``level`` where any column of that level (or of ``subset``)
    is null; deeper columns lose the dropped entities' lists too."""
    k = frame._level_index(level)
    schema = frame.schema
    names = (
        _names(subset, frame, "dropna")
        if subset is not None
        else [n for n in frame.columns if (schema.level_of(n) if schema else 0) == k]
    )
    missing: GrumpyArray | None = None
    for name in names:
        here = schema.level_of(name) if schema else 0
        if here != k:
            raise LayoutError(f"dropna(level={level!r}): column {name!r} is at level {here}")
        nulls = frame[name].is_null(dim=k)
        missing = nulls if missing is None else missing | nulls
    if missing is None:
        return frame.copy()
    keep = ~missing
    if k == 0:
        return cast("DataFrame", frame[np.asarray(keep.to_numpy(), dtype=bool)])
    return select_within(frame, keep)
