"""Schemas: the named levels of a frame, outermost first, and which level a column is at.

Examples
--------
>>> from grumpy_arrow.frame import parse_schema
>>> schema = parse_schema(["molecule", ("residue", "group"), "atom"])
>>> schema
Schema(['molecule', ('residue', 'group'), 'atom'])
>>> schema.level_of("group_x"), schema.level_of("atom"), schema.level_of("molecule_id")
(1, 2, 0)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from grumpy_arrow.errors import SchemaError

__all__ = ["Level", "Schema", "parse_schema"]


@dataclass(frozen=True)
class Level:
    """One level: its name and aliases (the first name is the primary one)."""

    names: tuple[str, ...]
    columns: tuple[str, ...] = ()
    """Columns placed at this level by name, whatever their prefix (``levels=``)."""

    @property
    def name(self) -> str:
        """The primary name."""
        return self.names[0]

    def matches(self, column: str) -> bool:
        """True when ``column`` is this level's name or alias, or starts with one + ``_``."""
        return any(column == n or column.startswith(n + "_") for n in self.names)

    def to_json(self) -> str | list[str] | dict[str, list[str]]:
        """``"name"``, ``["name", "alias", ...]``, or with placed columns
        ``{"names": [...], "columns": [...]}``."""
        if self.columns:
            return {"names": list(self.names), "columns": list(self.columns)}
        return self.names[0] if len(self.names) == 1 else list(self.names)

    def __str__(self) -> str:
        return self.name if len(self.names) == 1 else f"{self.name}({', '.join(self.names[1:])})"


@dataclass(frozen=True)
class Schema:
    """The levels of a frame, outermost first.

    Build one from a list of level names with :func:`parse_schema` (what
    :func:`grumpy_arrow.dataframe` does with its ``schema=``); a frame's is ``df.schema``.

    Parameters
    ----------
    levels : tuple of Level
        The levels, outermost first; each has a primary name and aliases.

    Examples
    --------
    >>> import grumpy_arrow as gr
    >>> from grumpy_arrow.frame.schema import Level
    >>> schema = gr.Schema((Level(("mol",)), Level(("residue", "group")), Level(("atom",))))
    >>> schema, str(schema)
    (Schema(['mol', ('residue', 'group'), 'atom']), 'mol → residue(group) → atom')
    >>> schema.names, schema.level_of("group_x")
    (['mol', 'residue', 'atom'], 1)
    """

    levels: tuple[Level, ...]

    def __len__(self) -> int:
        return len(self.levels)

    def __repr__(self) -> str:
        return f"Schema({[lv.to_json() if len(lv.names) == 1 else lv.names for lv in self.levels]})"

    def __str__(self) -> str:
        return " → ".join(str(lv) for lv in self.levels)

    @property
    def names(self) -> list[str]:
        """Primary level names, outermost first."""
        return [lv.name for lv in self.levels]

    def with_columns(self, levels: Mapping[str, str | int]) -> Schema:
        """This schema with columns placed at levels by name (``{"charge": "atom"}``),
        whatever their prefix.

        Examples
        --------
        >>> from grumpy_arrow.frame.schema import parse_schema
        >>> s = parse_schema(["mol", "atom"]).with_columns({"charge": "atom"})
        >>> s.level_of("charge"), s.to_json()
        (1, ['mol', {'names': ['atom'], 'columns': ['charge']}])
        """
        if not isinstance(levels, Mapping):
            raise SchemaError(f"levels= maps column names to levels, got {levels!r}")
        placed: dict[int, list[str]] = {}
        for column, level in levels.items():
            if not isinstance(column, str) or not column:
                raise SchemaError(f"levels= keys are column names, got {column!r}")
            placed.setdefault(self.index(level), []).append(column)
        return Schema(
            tuple(
                Level(lv.names, tuple(dict.fromkeys(lv.columns + tuple(placed.get(i, ())))))
                for i, lv in enumerate(self.levels)
            )
        )

    def to_json(self) -> list[str | list[str] | dict[str, list[str]]]:
        """JSON-friendly form that :func:`parse_schema` reads back."""
        return [lv.to_json() for lv in self.levels]

    def level_of(self, column: str) -> int:
        """Index of the first level the column name belongs to.

        Raises
        ------
        SchemaError
            If no level name or alias equals the column name or prefixes it with ``_``.
        """
        for i, level in enumerate(self.levels):
            if column in level.columns:
                return i
        for i, level in enumerate(self.levels):
            if level.matches(column):
                return i
        raise SchemaError(
            f"column {column!r} matches no level of the schema ({self}): a column name must "
            "equal a level name or alias, or start with one followed by '_' "
            f"(e.g. '{self.levels[0].name}_{column}'), or be placed by name with "
            f"levels={{{column!r}: {self.levels[0].name!r}}}"
        )

    def index(self, level: str | int) -> int:
        """The index of a level given by name, alias or number.

        Raises
        ------
        SchemaError
            For an unknown name or an index outside the schema.
        """
        if isinstance(level, bool) or not isinstance(level, (str, int)):
            raise TypeError(f"a level is a name or an int, got {level!r}")
        if isinstance(level, int):
            k = level + len(self.levels) if level < 0 else level
            if not 0 <= k < len(self.levels):
                raise SchemaError(
                    f"level {level} is out of range: the schema ({self}) has "
                    f"{len(self.levels)} levels"
                )
            return k
        for i, lv in enumerate(self.levels):
            if level in lv.names:
                return i
        raise SchemaError(f"unknown level {level!r}; the schema's levels are {self}")

    def below(self, k: int) -> Schema:
        """The schema of levels ``k`` and deeper."""
        return Schema(self.levels[k:])


def parse_schema(spec: Any) -> Schema | None:
    """Validate a user schema: a list of level names or tuples of aliases.

    Raises
    ------
    SchemaError
        For an empty schema, a level that is not a name or a tuple of names, or a name used
        twice.
    """
    if spec is None:
        return None
    if isinstance(spec, Schema):
        return spec
    if isinstance(spec, str) or not isinstance(spec, Sequence) or len(spec) == 0:
        raise SchemaError(
            f"a schema is a non-empty list of levels (names or tuples of aliases), got {spec!r}"
        )
    levels = []
    seen: dict[str, int] = {}
    placed: dict[str, int] = {}
    columns_of: list[tuple[str, ...]] = []
    for i, item in enumerate(spec):
        columns: tuple[str, ...] = ()
        if isinstance(item, Mapping):
            if set(item) - {"names", "columns"} or not isinstance(item.get("columns", []), list):
                raise SchemaError(
                    f"schema level {i} as a mapping has 'names' and 'columns' "
                    f"(lists of names), got {item!r}"
                )
            columns = tuple(item.get("columns", []))
            if not all(isinstance(c, str) and c for c in columns):
                raise SchemaError(f"schema level {i}: columns are names, got {columns!r}")
            for c in columns:
                if c in placed:
                    raise SchemaError(f"column {c!r} is placed at two levels ({placed[c]} and {i})")
                placed[c] = i
            item = item.get("names")
        columns_of.append(columns)
        names = (
            (item,)
            if isinstance(item, str)
            else tuple(item)
            if isinstance(item, (tuple, list))
            else None
        )
        if not names or not all(isinstance(n, str) and n for n in names):
            raise SchemaError(f"schema level {i} must be a name or a tuple of names, got {item!r}")
        for n in names:
            if n in seen:
                raise SchemaError(
                    f"level name {n!r} is used twice in the schema (levels {seen[n]} and {i})"
                )
            seen[n] = i
        levels.append(Level(names, columns_of[i]))
    return Schema(tuple(levels))
