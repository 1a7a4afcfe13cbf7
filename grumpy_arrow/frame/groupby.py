"""``df.groupby(keys).agg(...)``: group the entities of one level by key columns and
aggregate columns of that level or deeper.

The keys are columns of one level (``"mol_kind"`` groups molecules, ``"atom_element"``
groups atoms). An aggregated column of the same level gives one value per entity; a
deeper column pools every leaf value under each entity (``atom_x`` grouped by molecule
kind: every atom of every molecule of the kind). Groups come out sorted by key, null
keys are dropped (pandas' ``sort=True, dropna=True``), and the result is a flat frame: the
key columns, then one column per aggregation.

The aggregation itself is Arrow's hash ``group_by`` over (group code, value) — one pass
over each column's leaf buffer; ``median`` sorts by (group, value) once.

Examples
--------
>>> import grumpy_arrow as gr
>>> df = gr.dataframe({"mol_kind": ["a", "b", "a"], "mol_mass": [10.0, 20.0, 30.0],
...                    "atom_x": [[1.0, 2.0], [3.0], []]}, schema=["mol", "atom"])
>>> out = df.groupby("mol_kind").agg({"mol_mass": "sum", "atom_x": ["mean", "count"]})
>>> out.to_dict()  # doctest: +NORMALIZE_WHITESPACE
{'mol_kind': ['a', 'b'], 'mol_mass': [40.0, 20.0], 'atom_x_mean': [1.5, 3.0],
 'atom_x_count': [2, 1]}
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from grumpy_arrow import layout as lay
from grumpy_arrow._docstrings import name_method
from grumpy_arrow.array import GrumpyArray
from grumpy_arrow.compute import stats
from grumpy_arrow.compute.gather import leaf_rows, offsets_from_lengths
from grumpy_arrow.errors import ColumnNotFoundError, LayoutError, SchemaError

if TYPE_CHECKING:
    from grumpy_arrow.frame.dataframe import DataFrame

__all__ = ["AGGREGATIONS", "GroupBy"]

_ARROW = {
    "sum": "sum",
    "mean": "mean",
    "min": "min",
    "max": "max",
    "count": "count",
    "first": "first",
    "last": "last",
    "nunique": "count_distinct",
    "prod": "product",
    "any": "any",
    "all": "all",
    "std": "stddev",
    "var": "variance",
}
_EMPTY: dict[str, Any] = {"sum": 0, "prod": 1, "count": 0, "nunique": 0, "any": False, "all": True}
"""What a group without values gives (pandas' rule); other aggregations give null."""
AGGREGATIONS = (*_ARROW, "size", "median")
"""The aggregation names :meth:`GroupBy.agg` takes (pandas' names; ``std`` and ``var``
use ``ddof=1`` as pandas does; ``count`` counts valid values, ``size`` every value)."""


def _aggregate_all(how: str, what: str) -> Callable[[GroupBy], DataFrame]:
    """The ``GroupBy.<how>()`` shortcut: ``agg(how)`` of every non-key column."""

    def method(self: GroupBy) -> DataFrame:
        return self.agg(how)

    name_method(method, "GroupBy", how, f"{what} of every other column per group.")
    return method


class GroupBy:
    """The groups of ``df.groupby(keys)``; aggregate with :meth:`agg` or a shortcut."""

    def __init__(self, frame: DataFrame, keys: str | Iterable[str]) -> None:
        names = [keys] if isinstance(keys, str) else list(keys)
        if not names:
            raise ValueError("groupby needs at least one key column")
        for name in names:
            if name not in frame:
                raise ColumnNotFoundError(
                    f"groupby: no column {name!r}; the columns are {', '.join(frame.columns)}"
                )
        levels = {frame.level_of(n) for n in names}
        if len(levels) != 1:
            raise SchemaError(
                f"groupby keys must be columns of one level, got {names} at "
                f"levels {sorted(str(v) for v in levels)}"
            )
        self._frame = frame
        self._names = names
        self._depth = frame[names[0]].ndim - 1
        keys_flat = []
        for name in names:
            column = frame[name]
            if column.ndim - 1 != self._depth or column.is_union:
                raise LayoutError(
                    f"groupby key {name!r} must hold one scalar per entity of "
                    f"its level, got {column.type}"
                )
            keys_flat.append(column.flatten().to_arrow() if column.ndim > 1 else column.to_arrow())
        self._codes, self._keys = _group_codes(keys_flat)

    @property
    def ngroups(self) -> int:
        """How many groups (distinct non-null keys)."""
        return len(self._keys[0]) if self._keys else 0

    def _values(self, name: str) -> tuple[pa.Array, np.ndarray]:
        """``name``'s leaf values under the key level's entities, with their group codes
        (values of entities whose key is null are dropped)."""
        column = self._frame[name]
        node = column.node
        if column.ndim - 1 < self._depth:
            raise SchemaError(
                f"cannot aggregate {name!r} (level {self._frame.level_of(name)}) "
                f"by keys of the deeper level "
                f"{self._frame.level_of(self._names[0])}"
            )
        for _ in range(self._depth):
            assert isinstance(node, lay.ListNode)
            node = node.content
        values, entity = leaf_rows(node)
        groups = self._codes[entity]
        keep = groups >= 0
        if not keep.all():
            values, groups = values.filter(pa.array(keep)), groups[keep]
        return values, groups

    def agg(self, spec: Any = None, **named: tuple[str, str]) -> DataFrame:
        """Aggregate: ``{"col": "sum"}``, ``{"col": ["sum", "mean"]}`` (columns named
        ``col_sum``...), one name for every non-key column, or pandas' named form
        ``agg(total=("col", "sum"))``. See :data:`AGGREGATIONS`.
        """
        plan = _plan(spec, named, [c for c in self._frame.columns if c not in self._names])
        out: dict[str, GrumpyArray] = {
            n: GrumpyArray(k) for n, k in zip(self._names, self._keys, strict=True)
        }
        for result, column, how in plan:
            values, groups = self._values(column)
            out[result] = GrumpyArray(_aggregate(values, groups, how, self.ngroups))
        return type(self._frame)(out, None, self.ngroups)

    sum = _aggregate_all("sum", "Sum")
    mean = _aggregate_all("mean", "Mean")
    min = _aggregate_all("min", "Minimum")
    max = _aggregate_all("max", "Maximum")
    count = _aggregate_all("count", "Valid values")
    median = _aggregate_all("median", "Median")

    def size(self) -> DataFrame:
        """Entities of the key level per group: the key columns and ``size``."""
        counts = np.bincount(self._codes[self._codes >= 0], minlength=self.ngroups)
        out = {n: GrumpyArray(k) for n, k in zip(self._names, self._keys, strict=True)}
        out["size"] = GrumpyArray(pa.array(counts.astype(np.int64)))
        return type(self._frame)(out, None, self.ngroups)


def _plan(
    spec: Any, named: Mapping[str, tuple[str, str]], others: list[str]
) -> list[tuple[str, str, str]]:
    """(result name, column, aggregation) triples from ``agg``'s arguments."""
    plan: list[tuple[str, str, str]] = []
    if isinstance(spec, str):
        spec = dict.fromkeys(others, spec)
    elif isinstance(spec, (list, tuple)):
        spec = {key: list(spec) for key in others}
    elif spec is None:
        spec = {}
    if not isinstance(spec, Mapping):
        raise TypeError(
            f"agg takes a dict, an aggregation name or a list of names, got {type(spec).__name__}"
        )
    for column, hows in spec.items():
        several = not isinstance(hows, str)
        for how in [hows] if isinstance(hows, str) else list(hows):
            plan.append((f"{column}_{how}" if several else column, column, how))
    for result, pair in named.items():
        if not (isinstance(pair, tuple) and len(pair) == 2):
            raise TypeError(
                f"named aggregation {result}= needs (column, aggregation), got {pair!r}"
            )
        plan.append((result, pair[0], pair[1]))
    if not plan:
        raise ValueError("agg needs at least one aggregation")
    for _, _, how in plan:
        if how not in AGGREGATIONS:
            raise ValueError(f"unknown aggregation {how!r}; use one of {', '.join(AGGREGATIONS)}")
    return plan


def _group_codes(keys: list[pa.Array]) -> tuple[np.ndarray, list[pa.Array]]:
    """Every entity's group (-1 where a key is null), groups numbered in key order, and
    the distinct keys of each group."""
    n = len(keys[0])
    combined = np.zeros(n, dtype=np.int64)
    null = np.zeros(n, dtype=bool)
    for key in keys:
        encoded = pc.dictionary_encode(key)
        dictionary = encoded.dictionary
        rank = np.empty(len(dictionary), dtype=np.int64)  # dictionary code -> sorted rank
        rank[pc.sort_indices(dictionary).to_numpy()] = np.arange(len(dictionary))
        idx = encoded.indices
        null |= idx.is_null().to_numpy(zero_copy_only=False)
        codes = rank[idx.fill_null(0).to_numpy(zero_copy_only=False).astype(np.int64)]
        combined = combined * max(len(dictionary), 1) + codes
    _, first, inverse = np.unique(combined[~null], return_index=True, return_inverse=True)
    out = np.full(n, -1, dtype=np.int64)
    out[~null] = inverse
    first = np.flatnonzero(~null)[first]  # the first entity of every group
    return out, [key.take(pa.array(first)) for key in keys]


def _aggregate(values: pa.Array, groups: np.ndarray, how: str, ngroups: int) -> pa.Array:
    """One value per group (groups without values get Arrow's empty result)."""
    if how == "size":
        return pa.array(np.bincount(groups, minlength=ngroups).astype(np.int64))
    if how == "median":
        order = np.argsort(groups, kind="stable")
        offsets = offsets_from_lengths(np.bincount(groups, minlength=ngroups))
        seg = stats.Segmented(values.take(pa.array(order)), offsets)
        node = stats.quantile(seg, None, np.array([0.5]), "linear", False, True)
        assert isinstance(node, lay.Leaf)
        return node.values
    options = pc.VarianceOptions(ddof=1) if how in ("std", "var") else None
    table = pa.table({"g": pa.array(groups), "v": values})
    agg = table.group_by("g", use_threads=False).aggregate([("v", _ARROW[how], options)])
    # groups with no values at all (empty lists) are absent: put them back as Arrow's
    # empty result (0 for sum/count, null otherwise)
    found = agg.column("g").to_numpy()
    result = agg.column(f"v_{_ARROW[how]}").combine_chunks()
    fill = _EMPTY.get(how)
    slots = np.full(ngroups, -1, dtype=np.int64)
    slots[found] = np.arange(len(found))
    taken = result.take(pa.array(slots, mask=slots < 0))
    if fill is not None:
        taken = taken.fill_null(pa.scalar(fill, taken.type))
    return taken
