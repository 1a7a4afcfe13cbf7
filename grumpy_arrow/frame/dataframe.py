"""``DataFrame``: columns of GrumpyArrays living at the named levels of a schema.

A column belongs to the first level whose name or alias equals its name or prefixes it with
``_``. A column at level k is a list per row at each of the levels 1..k (their offsets are
shared by every column reaching that level and stored once per level); anything below is the
column's own (feature axes, unions).

Examples
--------
>>> import grumpy_arrow as gr
>>> df = gr.dataframe(
...     {
...         "molecule_id": ["m1", "m2"],
...         "residue_weight": [[0.5, 0.7, 0.8], [0.9, 1.0]],
...         "atom_number": [[[1, 2], [3, 4, 5], [6]], [[7, 8], [9]]],
...     },
...     schema=["molecule", ("residue", "group"), "atom"],
... )
>>> df.atom_number.to_list()
[1, 2, 3, 4, 5, 6, 7, 8, 9]
>>> df.residue.atom_number.to_list()
[[1, 2], [3, 4, 5], [6], [7, 8], [9]]
>>> df.shape("residue").to_list()
[3, 2]
"""

from __future__ import annotations

import html
import json
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa

from grumpy_arrow import layout as lay
from grumpy_arrow._docstrings import shared
from grumpy_arrow._typing import Dictionaries, FrameUnions, NaPosition, RenameErrors, TorchLayout
from grumpy_arrow.array import FRAMES, GrumpyArray, asarray, parse_index
from grumpy_arrow.compute import lowering
from grumpy_arrow.compute.structure import concat_nodes, flatten_node
from grumpy_arrow.errors import (
    ColumnNotFoundError,
    DTypeError,
    LayoutError,
    OutOfBoundsError,
    SchemaError,
)
from grumpy_arrow.frame import verbs
from grumpy_arrow.frame.groupby import GroupBy
from grumpy_arrow.frame.schema import Schema, parse_schema

if TYPE_CHECKING:
    from grumpy_arrow.frame.groupby import GroupBy

__all__ = [
    "DataFrame",
    "LevelView",
    "concat_frames",
    "dataframe",
    "from_arrow_table",
    "parse_row_key",
]

METADATA_KEY = b"grumpy_arrow"
LEVEL_KEY = b"grumpy_arrow.level"
UNION_KEY = b"grumpy_arrow.union_flags"  # on a lowered union column: its flags column
FLAGS_KEY = b"grumpy_arrow.flags_of"  # on a flags column: the column it belongs to


def dataframe(mapping: Mapping[str, Any], schema: Any = None, *, levels: Any = None) -> DataFrame:
    """Build a frame from ``{name: array-like}`` with an optional schema of levels.

    Parameters
    ----------
    mapping : mapping of str to array-like
        Columns: GrumpyArrays, nested lists, NumPy or Arrow arrays.
    schema : list of str or tuple of str, optional
        Levels outermost first; a tuple gives a level aliases (``("residue", "group")``).
    levels : dict, optional
        Columns placed at levels by name, whatever their prefix (``{"charge": "atom"}``);
        needs ``schema``.

    Returns
    -------
    DataFrame
        The frame; its columns share the offsets of each level.

    Raises
    ------
    TypeError
        If ``mapping`` is not a mapping.
    SchemaError
        A column whose name matches no level, that is not nested deeply enough for its
        level, whose offsets differ from its level's, or whose row count differs.

    Examples
    --------
    >>> import grumpy_arrow as gr
    >>> df = gr.dataframe({"mol_id": [1, 2], "atom_q": [[0.5, -0.5], [1.0]]},
    ...                   schema=["mol", "atom"])
    >>> df
    <DataFrame 2 rows; levels mol → atom
      mol_id  2 * int64  [mol]  [1, 2]
      atom_q  2 * var * float64  [atom]  [[0.5, -0.5], [1.0]]>
    >>> charged = gr.dataframe({"mol_id": [1, 2], "charge": [[1], [-1, 0]]},
    ...                        schema=["mol", "atom"], levels={"charge": "atom"})
    >>> charged.level_of("charge")
    'atom'
    """
    if not isinstance(mapping, Mapping):
        raise TypeError(
            f"dataframe needs a mapping of column names to arrays, got {type(mapping).__name__}"
        )
    return DataFrame(
        {str(k): asarray(v) for k, v in mapping.items()}, _placed(parse_schema(schema), levels)
    )


class DataFrame:
    """Columns of equal outer length; with a schema, each at a named nested level.

    Build one with :func:`grumpy_arrow.dataframe` (which converts the columns and parses
    the schema); see ``docs/dataframes.md``.

    Parameters
    ----------
    columns : dict of str to GrumpyArray
        The columns, in order.
    schema : Schema or None
        The levels (None: a frame without levels, whose columns need only equal lengths).
    nrows : int, optional
        The number of outer rows (default: the first column's length; 0 without columns).

    Raises
    ------
    SchemaError
        For a column whose length is not ``nrows``, that matches no level, or whose
        offsets differ from its level's.

    Examples
    --------
    >>> import grumpy_arrow as gr
    >>> df = gr.DataFrame({"x": gr.array([[1], [2, 3]]), "y": gr.array([0.5, 1.5])}, None)
    >>> len(df), df.columns
    (2, ['x', 'y'])
    >>> gr.DataFrame({"x": gr.array([1, 2])}, None, nrows=3)
    Traceback (most recent call last):
    ...
    grumpy_arrow.errors.SchemaError: column 'x' has 2 rows; expected 3 (one per row)
    """

    __slots__ = ("_columns", "_nrows", "_offsets", "_schema")

    def __init__(
        self, columns: dict[str, GrumpyArray], schema: Schema | None, nrows: int | None = None
    ) -> None:
        self._schema = schema
        self._columns: dict[str, GrumpyArray] = {}
        self._offsets: dict[int, np.ndarray] = {}
        first = next(iter(columns.values()), None)
        self._nrows = nrows if nrows is not None else (len(first) if first is not None else 0)
        for name, column in columns.items():
            self._set(name, column)

    @classmethod
    def _of_levels(
        cls,
        columns: dict[str, GrumpyArray],
        schema: Schema,
        nrows: int,
        offsets: dict[int, np.ndarray],
    ) -> DataFrame:
        """A frame whose columns were built on ``offsets`` (level -> the level's offsets
        array, shared by every column reaching it) by a reader that placed each column at
        its schema level: the checks of ``__init__`` hold by construction and are not run
        again (the store's random-row path)."""
        out = cls.__new__(cls)
        out._schema, out._columns, out._nrows, out._offsets = schema, columns, nrows, offsets
        return out

    # -- validation -------------------------------------------------------------------

    def _level_name(self, k: int) -> str:
        return self._schema.levels[k].name if self._schema is not None else f"axis {k}"

    def _set(self, name: str, column: GrumpyArray) -> None:
        """Validate ``column`` against the schema and store it sharing the level offsets."""
        if len(column) != self._nrows:
            parent = self._level_name(0) if self._schema is not None else "row"
            raise SchemaError(
                f"column {name!r} has {len(column)} rows; expected {self._nrows} (one per {parent})"
            )
        if self._schema is None:
            self._columns[name] = column
            return
        level = self._schema.level_of(name)
        node = self._check_levels(name, column, level)
        self._columns[name] = column if node is None else GrumpyArray._wrap(node)

    def _check_levels(self, name: str, column: GrumpyArray, level: int) -> lay.Node | None:
        """Check the list axes above ``level``; return the column rebuilt on shared offsets."""
        assert self._schema is not None
        if column.ndim - 1 < level:
            raise SchemaError(
                f"column {name!r} at level {self._level_name(level)!r} needs nesting depth >= "
                f"{level} (a list per {self._level_name(level - 1)}); got depth "
                f"{column.ndim - 1} ({column.type})"
            )
        pending: dict[int, np.ndarray] = {}
        shells: list[lay.ListNode] = []
        node = column.node
        for k in range(1, level + 1):
            if not isinstance(node, lay.ListNode):
                raise SchemaError(
                    f"column {name!r} at level {self._level_name(level)!r} needs a list per "
                    f"{self._level_name(k - 1)} at depth {k} (nesting depth >= {level}); got "
                    f"{column.type}"
                )
            expected = self._offsets.get(k, pending.get(k))
            if expected is None:
                pending[k] = node.offsets
            elif not _same_offsets(expected, node.offsets):
                raise SchemaError(self._mismatch(name, k, expected, node.offsets))
            shells.append(node)
            node = node.content
        self._offsets.update(pending)
        if not shells:
            return None
        # Rebuild on the level's own offsets array so each level's offsets live once.
        for k in range(level, 0, -1):
            shell = shells[k - 1]
            node = lay.ListNode(self._offsets[k], shell.validity, node)
        return node

    def _mismatch(self, name: str, k: int, expected: np.ndarray, got: np.ndarray) -> str:
        want, have = np.diff(expected), np.diff(got)
        if len(want) != len(have):
            return (
                f"column {name!r} has {len(have)} {self._level_name(k - 1)} entries at depth "
                f"{k}; the frame's level {self._level_name(k)!r} has {len(want)}"
            )
        row = int(np.flatnonzero(want != have)[0])
        return (
            f"column {name!r} does not match the offsets of level {self._level_name(k)!r}: "
            f"{self._level_name(k - 1)} {row} has {int(have[row])} "
            f"{self._level_name(k)} entries, expected {int(want[row])}"
        )

    # -- inspection -------------------------------------------------------------------

    def __len__(self) -> int:
        return self._nrows

    @property
    def columns(self) -> list[str]:
        """Column names in order.

        Examples
        --------
        >>> import grumpy_arrow as gr
        >>> df = gr.dataframe({"mol_id": [1, 2], "atom_q": [[0.5, -0.5], [1.0]]},
        ...                   schema=["mol", "atom"])
        >>> df.columns
        ['mol_id', 'atom_q']
        """
        return list(self._columns)

    @property
    def schema(self) -> Schema | None:
        """The levels, or None for a frame without a schema.

        Examples
        --------
        >>> import grumpy_arrow as gr
        >>> df = gr.dataframe({"mol_id": [1, 2], "atom_q": [[0.5, -0.5], [1.0]]},
        ...                   schema=["mol", "atom"])
        >>> df.schema, gr.dataframe({"x": [1]}).schema
        (Schema(['mol', 'atom']), None)
        """
        return self._schema

    @property
    def dtypes(self) -> dict[str, str]:
        """Each column's type string (``'3 * var * float64'``...).

        Examples
        --------
        >>> import grumpy_arrow as gr
        >>> df = gr.dataframe({"mol_id": [1, 2], "atom_q": [[0.5, -0.5], [1.0]]},
        ...                   schema=["mol", "atom"])
        >>> df.dtypes
        {'mol_id': '2 * int64', 'atom_q': '2 * var * float64'}
        """
        return {name: col.type for name, col in self._columns.items()}

    def level_of(self, column: str) -> str | None:
        """The primary name of the level a column is at (None without a schema).

        Parameters
        ----------
        column : str
            A column of the frame.

        Returns
        -------
        str or None
            The level's primary name.

        Raises
        ------
        ColumnNotFoundError
            For a column the frame does not have.

        Examples
        --------
        >>> import grumpy_arrow as gr
        >>> df = gr.dataframe({"mol_id": [1, 2], "atom_q": [[0.5, -0.5], [1.0]]},
        ...                   schema=["mol", "atom"])
        >>> df.level_of("atom_q"), gr.dataframe({"x": [1]}).level_of("x")
        ('atom', None)
        """
        self._column(column)
        return None if self._schema is None else self._level_name(self._schema.level_of(column))

    def count(self, level: str | int) -> int:
        """How many entities the frame has at ``level`` (rows for the outer level).

        Parameters
        ----------
        level : str or int
            A level's name (or alias) or position.

        Returns
        -------
        int
            The number of entities.

        Raises
        ------
        SchemaError
            For an unknown level, or a level no column reaches yet.

        Examples
        --------
        >>> import grumpy_arrow as gr
        >>> df = gr.dataframe({"mol_id": [1, 2], "atom_q": [[0.5, -0.5], [1.0]]},
        ...                   schema=["mol", "atom"])
        >>> df.count("mol"), df.count("atom"), df.count(1)
        (2, 3, 3)
        """
        k = self._level_index(level)
        return self._nrows if k == 0 else int(self._level_offsets(k)[-1])

    def shape(self, dim: str | int = 0) -> Any:
        """Rows for dim 0; for a level below, its entity counts nested like the levels above.

        A parent that is null in every column reaching the level has a null count (as
        ``df[col].shape(k)`` gives for each column), not 0.

        Parameters
        ----------
        dim : str or int, default 0
            A level's name (or alias) or position.

        Returns
        -------
        int or GrumpyArray
            The row count for level 0; else the number of entities of ``dim`` in each entity
            of the level above, nested like the levels above.

        Raises
        ------
        SchemaError
            For an unknown level, or a level no column reaches yet.

        Examples
        --------
        >>> import grumpy_arrow as gr
        >>> df = gr.dataframe({"a_x": [[[1], [2, 3]], [[4]]]}, schema=["m", "r", "a"])
        >>> df.shape(0), df.shape("r").to_list(), df.shape("a").to_list()
        (2, [2, 1], [[1, 2], [1]])
        """
        k = self._level_index(dim)
        if k == 0:
            return self._nrows
        valid = self._level_validity(k)
        counts = pa.array(np.diff(self._level_offsets(k)), mask=None if valid is None else ~valid)
        node: lay.Node = lay.Leaf(counts)
        for j in range(k - 1, 0, -1):
            node = lay.ListNode(self._level_offsets(j), self._level_validity(j), node)
        return GrumpyArray._wrap(node)

    def _level_validity(self, k: int) -> np.ndarray | None:
        """Which parents (entities of level ``k - 1``) have a list at level ``k``.

        A parent is null at level ``k`` when every column reaching the level is null
        there (as ``df[col].shape(k)`` says for each of them); None when none is.
        """
        if self._schema is None:
            return None
        valid: np.ndarray | None = None
        for name, column in self._columns.items():
            if self._schema.level_of(name) < k:
                continue
            node = column.node
            for _ in range(k - 1):
                assert isinstance(node, lay.ListNode)
                node = node.content
            assert isinstance(node, lay.ListNode)
            if node.validity is None:
                return None
            valid = node.validity.copy() if valid is None else valid | node.validity
        return None if valid is None or valid.all() else valid

    def _level_index(self, level: str | int) -> int:
        if isinstance(level, bool) or not isinstance(level, (str, int)):
            raise TypeError(f"a level is a name or an int, got {level!r}")
        if self._schema is None:
            if level == 0:
                return 0
            raise SchemaError(f"level {level!r} needs a schema; this frame has none")
        return self._schema.index(level)

    def _level_offsets(self, k: int) -> np.ndarray:
        found = self._offsets.get(k)
        if found is None:
            raise SchemaError(
                f"level {self._level_name(k)!r} has no columns yet, so its offsets are unknown"
            )
        return found

    # -- access -----------------------------------------------------------------------

    def _column(self, name: str) -> GrumpyArray:
        try:
            return self._columns[name]
        except KeyError:
            raise ColumnNotFoundError(
                f"no column {name!r}; the columns are {', '.join(self._columns) or '(none)'}"
            ) from None

    def __contains__(self, name: object) -> bool:
        return name in self._columns

    def __getitem__(self, key: Any) -> Any:
        """``df["col"]`` a column, ``df[["a", "b"]]`` a sub-frame, else outer-row selection."""
        if isinstance(key, str):
            return self._column(key)
        if isinstance(key, list) and key and all(isinstance(k, str) for k in key):
            return DataFrame._from_valid(
                {k: self._column(k) for k in key}, self._schema, self._nrows
            )
        return self._select(key)

    def _select(self, key: Any) -> DataFrame:
        nested = verbs.nested_key(key)
        if nested is not None:
            return verbs.select_within(self, nested)
        rows = parse_row_key(key, self._nrows)
        picked = {name: col[rows] for name, col in self._columns.items()}
        nrows = len(range(self._nrows)[rows]) if isinstance(rows, slice) else len(rows)
        return DataFrame._from_valid(picked, self._schema, nrows)

    @classmethod
    def _from_valid(
        cls, columns: dict[str, GrumpyArray], schema: Schema | None, nrows: int
    ) -> DataFrame:
        """A frame of columns known to fit ``schema`` (the same row selection of a valid
        frame's columns): the level offsets are read off, not checked again."""
        frame = cls.__new__(cls)
        frame._schema, frame._columns, frame._nrows = schema, dict(columns), nrows
        frame._offsets = {}
        if schema is not None:
            for name, column in columns.items():
                level = schema.level_of(name)
                if all(k in frame._offsets for k in range(1, level + 1)):
                    continue
                node = column.node
                for k in range(1, level + 1):
                    assert isinstance(node, lay.ListNode)
                    frame._offsets.setdefault(k, node.offsets)
                    node = node.content
        return frame

    def __setitem__(self, name: str, values: Any) -> None:
        """Add or replace a column (validated against the schema; nothing changes on error)."""
        if not isinstance(name, str):
            raise TypeError(f"column names are strings, got {name!r}")
        column = asarray(values)
        saved = dict(self._offsets)
        try:
            self._set(name, column)
        except SchemaError:
            self._offsets = saved
            raise

    def __delitem__(self, name: str) -> None:
        self._column(name)
        del self._columns[name]

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        if self._schema is not None:
            try:
                return LevelView(self, self._schema.index(name))
            except SchemaError:
                pass
        if name in self._columns:
            return self.peel(name, self._own_level(name))
        raise AttributeError(
            f"DataFrame has no column or level {name!r}; columns: "
            f"{', '.join(self._columns) or '(none)'}"
            + (f"; levels: {self._schema}" if self._schema is not None else "")
        )

    def __setattr__(self, name: str, value: Any) -> None:
        if name in self.__slots__:
            object.__setattr__(self, name, value)
            return
        raise AttributeError(
            f"set columns with df[{name!r}] = ... or df.<level>.{name} = ...; "
            "attributes of a DataFrame are read-only"
        )

    # -- pandas verbs (see :mod:`grumpy_arrow.frame.verbs`) ------------------------------

    @shared
    def head(self, n: int = 5) -> DataFrame:
        """The first ``n`` outer rows (all but the last ``-n`` for negative ``n``), each
        with its lists.

        $head_tail

        Examples
        --------
        >>> import grumpy_arrow as gr
        >>> gr.dataframe({"x": [[1], [2, 3], []]}).head(2).to_dict()
        {'x': [[1], [2, 3]]}
        """
        return self._select(slice(None, int(n)))

    @shared
    def tail(self, n: int = 5) -> DataFrame:
        """The last ``n`` outer rows (all but the first ``-n`` for negative ``n``).

        $head_tail

        Examples
        --------
        >>> import grumpy_arrow as gr
        >>> gr.dataframe({"x": [[1], [2, 3], []]}).tail(2).to_dict()
        {'x': [[2, 3], []]}
        """
        n = int(n)
        return self._select(slice(max(self._nrows - n, 0), None) if n >= 0 else slice(-n, None))

    def copy(self) -> DataFrame:
        """A frame of its own: adding, replacing or assigning into its columns leaves this
        one unchanged (the Arrow buffers, which nothing writes to, are shared).

        Returns
        -------
        DataFrame
            The copy.

        Examples
        --------
        >>> import grumpy_arrow as gr
        >>> df = gr.dataframe({"mol_id": [1, 2], "atom_q": [[0.5, -0.5], [1.0]]},
        ...                   schema=["mol", "atom"])
        >>> copy = df.copy()
        >>> copy["mol_n"] = copy["atom_q"].count(dim=1)
        >>> df.columns, copy.columns
        (['mol_id', 'atom_q'], ['mol_id', 'atom_q', 'mol_n'])
        """
        columns = {
            name: GrumpyArray(col._data, node=col._node) for name, col in self._columns.items()
        }
        return DataFrame._from_valid(columns, self._schema, self._nrows)

    def rename(self, columns: Mapping[str, str], *, errors: RenameErrors = "ignore") -> DataFrame:
        """Columns renamed (pandas' ``rename(columns=...)``).

        Names not in the frame are ignored (``errors="raise"``: refused). Each new name must
        fit the schema as any column does (its level prefix), and names must stay distinct.

        Parameters
        ----------
        columns : mapping of str to str
            Old name -> new name; each new name must fit the schema (its level prefix).
        errors : {"ignore", "raise"}
            What to do with a name the frame does not have.

        Returns
        -------
        DataFrame
            The frame with the new names, in the same column order.

        Raises
        ------
        ColumnNotFoundError
            With ``errors="raise"``, for a name the frame does not have.
        SchemaError
            When a new name matches no level, or a column of another level.
        ValueError
            For two columns renamed to one name, or an unknown ``errors``.

        Examples
        --------
        >>> import grumpy_arrow as gr
        >>> df = gr.dataframe({"mol_id": [1, 2], "atom_q": [[0.5, -0.5], [1.0]]},
        ...                   schema=["mol", "atom"])
        >>> df.rename({"mol_id": "mol_key"}).columns
        ['mol_key', 'atom_q']
        """
        return verbs.rename(self, columns, errors)

    def drop(self, columns: str | Iterable[str]) -> DataFrame:
        """The frame without ``columns`` (pandas' ``drop(columns=...)``).

        Parameters
        ----------
        columns : str or iterable of str
            The column(s) to leave out.

        Returns
        -------
        DataFrame
            The other columns, with the same schema.

        Raises
        ------
        ColumnNotFoundError
            For a name the frame does not have (nothing is dropped then).

        Examples
        --------
        >>> import grumpy_arrow as gr
        >>> df = gr.dataframe({"mol_id": [1, 2], "atom_q": [[0.5, -0.5], [1.0]]},
        ...                   schema=["mol", "atom"])
        >>> df.drop("mol_id").columns
        ['atom_q']
        """
        return verbs.drop(self, columns)

    def sort_values(
        self,
        by: str | Iterable[str],
        *,
        ascending: bool | Iterable[bool] = True,
        na_position: NaPosition = "last",
    ) -> DataFrame:
        """Outer rows ordered by flat columns (pandas' ``sort_values``), stably: rows with
        equal keys keep their order. Every column keeps its lists with its row.

        Parameters
        ----------
        by : str or iterable of str
            The column(s) to sort by, each one value per row.
        ascending : bool or iterable of bool, default True
            The direction, for all keys or one per key.
        na_position : {"last", "first"}
            Where null keys go.

        Returns
        -------
        DataFrame
            The rows in order, each column keeping its lists with its row.

        Raises
        ------
        ColumnNotFoundError
            For a ``by`` name the frame does not have.
        LayoutError
            For a ``by`` column that is not one value per row (a list column; sort by a
            statistic of it, e.g. ``df["n"] = df["atom_x"].count(dim=1)``).
        ValueError
            For ``ascending`` of another length than ``by``, or an unknown ``na_position``.

        Examples
        --------
        >>> import grumpy_arrow as gr
        >>> df = gr.dataframe({"mol_id": [1, 2], "atom_q": [[0.5, -0.5], [1.0]]},
        ...                   schema=["mol", "atom"])
        >>> df.sort_values("mol_id", ascending=False).to_dict()
        {'mol_id': [2, 1], 'atom_q': [[1.0], [0.5, -0.5]]}
        """
        return verbs.sort_values(self, by, ascending, na_position)

    def dropna(
        self, *, level: str | int = 0, subset: str | Iterable[str] | None = None
    ) -> DataFrame:
        """Drop the entities of ``level`` (outer rows by default) where a column of that
        level (or of ``subset``) is null; deeper columns drop those entities' lists.

        Parameters
        ----------
        level : str or int, default 0
            The level whose entities are dropped.
        subset : str or iterable of str, optional
            The columns tested (default: every column of ``level``).

        Returns
        -------
        DataFrame
            The frame without those entities.

        Raises
        ------
        SchemaError
            For an unknown level.
        ColumnNotFoundError
            For a ``subset`` name the frame does not have.

        Examples
        --------
        >>> import grumpy_arrow as gr
        >>> df = gr.dataframe({"mol_id": [1, None], "atom_q": [[0.5, None], [1.0]],
        ...                    "atom_xyz": [[[0.0], [1.0]], [[2.0]]]}, schema=["mol", "atom"])
        >>> df.dropna().to_dict()
        {'mol_id': [1], 'atom_q': [[0.5, None]], 'atom_xyz': [[[0.0], [1.0]]]}
        >>> df.dropna(level="atom").to_dict()
        {'mol_id': [1, None], 'atom_q': [[0.5], [1.0]], 'atom_xyz': [[[0.0]], [[2.0]]]}
        """
        return verbs.dropna(self, level=level, subset=subset)

    def groupby(self, by: str | Iterable[str]) -> GroupBy:
        """Group the entities of ``by``'s level by its values (see
        :mod:`grumpy_arrow.frame.groupby`): ``df.groupby("mol_kind").agg({"mol_mass":
        "mean"})``.

        Parameters
        ----------
        by : str or iterable of str
            The key column(s), all at one level.

        Returns
        -------
        GroupBy
            The groups, to aggregate with ``agg``.

        Raises
        ------
        ColumnNotFoundError
            For a key the frame does not have.

        Examples
        --------
        >>> import grumpy_arrow as gr
        >>> df = gr.dataframe({"mol_kind": ["a", "b", "a"], "mol_mass": [1.0, 2.0, 4.0]},
        ...                   schema=["mol"])
        >>> df.groupby("mol_kind").agg({"mol_mass": "mean"}).to_dict()
        {'mol_kind': ['a', 'b'], 'mol_mass': [2.5, 2.0]}
        """
        return GroupBy(self, by)

    def describe(self) -> DataFrame:
        """Summary statistics of each numeric column over its leaf values (pandas'
        ``describe``).

        Nulls and NaN are left out; ``std`` has ``ddof=1`` and the quantiles interpolate
        linearly, as in pandas. Columns of strings, bytes and bools are skipped.

        Returns
        -------
        DataFrame
            A ``statistic`` column (``count``, ``mean``, ``std``, ``min``, ``25%``, ``50%``,
            ``75%``, ``max``) and one float64 column per numeric column.

        Raises
        ------
        ValueError
            When the frame has no numeric column.

        Examples
        --------
        >>> import grumpy_arrow as gr
        >>> df = gr.dataframe({"mol_id": [1, 2], "atom_q": [[0.5, -0.5], [1.0]]},
        ...                   schema=["mol", "atom"])
        >>> df.describe().to_dict()["atom_q"]
        [3.0, 0.3333333333333333, 0.7637626158259733, -0.5, 0.0, 0.5, 0.75, 1.0]
        """
        return verbs.describe(self)

    def _own_level(self, name: str) -> int:
        return 0 if self._schema is None else self._schema.level_of(name)

    def peel(self, name: str, level: str | int) -> GrumpyArray:
        """Column ``name`` with the outer axes down to ``level`` merged into one.

        Each peel step concatenates the rows; union rows on a peeled axis count as one
        element (a length-1 list), so a scalar-or-list column peels too.

        Parameters
        ----------
        name : str
            A column of the frame.
        level : str or int
            The level whose entities become the rows (``df.<level>.<name>`` peels to it).

        Returns
        -------
        GrumpyArray
            One row per entity of ``level``.

        Raises
        ------
        SchemaError
            If the column runs out of axes before ``level`` (a flat column at a level above).
        ColumnNotFoundError
            For a column the frame does not have.

        Examples
        --------
        >>> import grumpy_arrow as gr
        >>> df = gr.dataframe({"mol_id": [1, 2], "atom_q": [[0.5, -0.5], [1.0]]},
        ...                   schema=["mol", "atom"])
        >>> df.peel("atom_q", "atom").to_list()
        [0.5, -0.5, 1.0]
        """
        k = self._level_index(level)
        column = self._column(name)
        node = column.node
        for step in range(k):
            if isinstance(node, lay.Leaf):
                own = self._level_name(self._own_level(name))
                raise SchemaError(
                    f"column {name!r} (level {own!r}, {column.type}) has no axis to peel down "
                    f"to level {self._level_name(k)!r}: it ends after {step} peel step(s)"
                )
            node = flatten_node(node, 1)
        return column if k == 0 else GrumpyArray._wrap(node)

    def assign_at(self, level: str | int, name: str, values: Any) -> None:
        """``df.<level>.<name> = values``: nested values (one per row) or one per entity.

        Flat per-entity values are re-nested with the stored offsets of the levels above; a
        parent that is null at a level (in every column reaching it, see :meth:`shape`)
        stays null, as it does when the same values are given nested.

        Parameters
        ----------
        level : str or int
            The level the column belongs to (by its name).
        name : str
            The column's name.
        values : array-like
            One value per entity of ``level``, or nested values with one row per outer row.

        Raises
        ------
        SchemaError
            If the length is neither the row count nor the entity count at ``level``, or the
            name belongs to another level.

        Examples
        --------
        >>> import grumpy_arrow as gr
        >>> df = gr.dataframe({"mol_id": [1, 2], "atom_q": [[0.5, -0.5], [1.0]]},
        ...                   schema=["mol", "atom"])
        >>> df.assign_at("atom", "atom_z", [1, 2, 3])
        >>> df["atom_z"].to_list()
        [[1, 2], [3]]
        """
        k = self._level_index(level)
        if self._schema is not None and self._own_level(name) != k:
            own = self._level_name(self._own_level(name))
            raise SchemaError(
                f"column {name!r} belongs to level {own!r} by its name; assign it through "
                f"df.{own}.{name} (or df[{name!r}] = nested values), not through level "
                f"{self._level_name(k)!r}"
            )
        column = asarray(values)
        # Per-entity values win a tie (as many entities as rows): that is what a level view
        # holds; nested values of that length go through df[name] = values.
        tie = k > 0 and k in self._offsets and self.count(k) == self._nrows
        nested = len(column) == self._nrows and column.ndim - 1 >= k and not tie
        if not nested and k > 0:
            entities = self.count(k)
            if len(column) != entities:
                raise SchemaError(
                    f"cannot assign {len(column)} values to {name!r} at level "
                    f"{self._level_name(k)!r}: expected {self._nrows} (one per "
                    f"{self._level_name(0)}, nested) or {entities} (one per "
                    f"{self._level_name(k)})"
                )
            # Null parents stay null, as they do when the same values come nested.
            node = column.node
            for j in range(k, 0, -1):
                node = lay.ListNode(self._level_offsets(j), self._level_validity(j), node)
            column = GrumpyArray._wrap(node)
        self[name] = column

    # -- conversion -------------------------------------------------------------------

    def to_numpy(self, *, pad: Any = 0) -> dict[str, Any]:
        """``{column: (values, mask)}`` padded NumPy arrays (see ``GrumpyArray.to_numpy``).

        Parameters
        ----------
        pad : scalar, default 0
            The fill value of ragged rows and nulls.

        Returns
        -------
        dict of str to (numpy.ndarray, numpy.ndarray)
            Every column's padded values and its mask (True where a value exists).

        Examples
        --------
        >>> import grumpy_arrow as gr
        >>> df = gr.dataframe({"mol_id": [1, 2], "atom_q": [[0.5, -0.5], [1.0]]},
        ...                   schema=["mol", "atom"])
        >>> values, mask = df.to_numpy(pad=-1)["atom_q"]
        >>> values.tolist(), mask.tolist()
        ([[0.5, -0.5], [1.0, -1.0]], [[True, True], [True, False]])
        """
        return {name: col.to_numpy(pad=pad) for name, col in self._columns.items()}

    def to_torch(
        self, *, pad: Any = 0, layout: TorchLayout = "padded", copy: bool = True
    ) -> dict[str, Any]:
        """``{column: tensors}`` (see ``GrumpyArray.to_torch``). Needs PyTorch.

        The tensors own their memory; with ``copy=False`` they share the columns' buffers
        where they can, and writing into them changes this frame.

        Parameters
        ----------
        pad : scalar, default 0
            Fill value of the padded layout.
        layout : {"padded", "jagged"}
            Padded ``(values, mask)`` tensors, or ``torch.nested`` jagged tensors.
        copy : bool, default True
            False shares the columns' buffers where the layout allows it.

        Returns
        -------
        dict of str to tensors
            Every column as :meth:`GrumpyArray.to_torch <grumpy_arrow.GrumpyArray.to_torch>`
            converts it.

        Raises
        ------
        ImportError
            Without PyTorch.
        LayoutError
            For string columns, or a layout the chosen tensor layout cannot hold.

        Examples
        --------
        >>> import grumpy_arrow as gr
        >>> df = gr.dataframe({"mol_id": [1, 2], "atom_q": [[0.5, -0.5], [1.0]]},
        ...                   schema=["mol", "atom"])
        >>> values, mask = df.to_torch()["atom_q"]  # doctest: +SKIP
        >>> values.tolist(), mask.tolist()  # doctest: +SKIP
        ([[0.5, -0.5], [1.0, 0.0]], [[True, True], [True, False]])
        """
        from grumpy_arrow.interop.torch import to_torch

        out: dict[str, Any] = to_torch(self, pad=pad, layout=layout, copy=copy)
        return out

    def to_pandas(self) -> Any:
        """A pandas DataFrame (GrumpyDtype columns; the schema in ``attrs["grumpy_schema"]``).

        Returns
        -------
        pandas.DataFrame
            One pandas column per column; flat ones get pandas' nullable dtypes.

        Examples
        --------
        >>> import grumpy_arrow as gr
        >>> df = gr.dataframe({"mol_id": [1, 2], "atom_q": [[0.5, -0.5], [1.0]]},
        ...                   schema=["mol", "atom"])
        >>> pdf = df.to_pandas()
        >>> {name: str(dtype) for name, dtype in pdf.dtypes.items()}
        {'mol_id': 'Int64', 'atom_q': 'grumpy[var * float64]'}
        """
        from grumpy_arrow.pandas.convert import frame_to_pandas

        return frame_to_pandas(self)

    def to_dict(self) -> dict[str, list[Any]]:
        """``{name: nested Python lists}``; ``gr.dataframe(df.to_dict(), schema)`` rebuilds.

        Returns
        -------
        dict of str to list
            Every column's :meth:`~grumpy_arrow.GrumpyArray.to_list`.

        Examples
        --------
        >>> import grumpy_arrow as gr
        >>> df = gr.dataframe({"mol_id": [1, 2], "atom_q": [[0.5, -0.5], [1.0]]},
        ...                   schema=["mol", "atom"])
        >>> df.to_dict()
        {'mol_id': [1, 2], 'atom_q': [[0.5, -0.5], [1.0]]}
        """
        return {name: col.to_list() for name, col in self._columns.items()}

    def to_arrow(
        self, *, unions: FrameUnions = "native", dictionaries: Dictionaries = "decode"
    ) -> pa.Table:
        """A ``pa.Table`` (zero-copy); schema and levels are kept in the metadata.

        Parameters
        ----------
        unions : {"native", "lowered"}
            ``"lowered"`` writes each union column ``c`` as a list column ``c`` (scalar rows
            as one-element lists) plus a boolean ``c__is_scalar`` column, the form Polars,
            DuckDB and Parquet accept; :func:`grumpy_arrow.from_arrow` restores the union.
        dictionaries : {"decode", "keep"}
            Dictionary-encoded string columns (a store's, as read) leave as plain strings,
            or with ``"keep"`` as dictionary arrays (see :meth:`GrumpyArray.to_arrow`).

        Returns
        -------
        pyarrow.Table
            One Arrow column per column (two per lowered union column).

        Raises
        ------
        ValueError
            For an option value other than those above.
        LayoutError
            For a column holding a union inside a union's list child, with
            ``unions="lowered"`` (Parquet, Polars and DuckDB cannot take it).

        Examples
        --------
        >>> import grumpy_arrow as gr
        >>> df = gr.dataframe({"mol_id": [1, 2], "atom_q": [[0.5, -0.5], [1.0]]},
        ...                   schema=["mol", "atom"])
        >>> table = df.to_arrow()
        >>> table.column_names, table.schema.field("atom_q").metadata
        (['mol_id', 'atom_q'], {b'grumpy_arrow.level': b'atom'})
        >>> gr.from_arrow(table).to_dict()
        {'mol_id': [1, 2], 'atom_q': [[0.5, -0.5], [1.0]]}
        """
        if unions not in ("native", "lowered", "auto"):
            raise ValueError(f"unions must be 'native' or 'lowered', got {unions!r}")
        if dictionaries not in ("decode", "keep"):
            raise ValueError(f"dictionaries must be 'decode' or 'keep', got {dictionaries!r}")
        keep = dictionaries == "keep"
        fields, arrays = [], []
        for name, col in self._columns.items():
            meta = {}
            if self._schema is not None:
                meta[LEVEL_KEY] = self._level_name(self._schema.level_of(name)).encode()
            flags = None
            node = col.node
            if unions != "native" and lowering.has_union(col.to_arrow(dictionaries="keep").type):
                try:
                    node, flags = lowering.lower_node(node)
                except LayoutError:
                    if unions == "lowered":
                        raise
                    node, flags = col.node, None  # "auto": a union in a union leaves native
                if flags is not None:
                    meta[UNION_KEY] = (name + lowering.FLAG_SUFFIX).encode()
            arr = lay.to_arrow(node, dictionaries=keep)
            fields.append(pa.field(name, arr.type, metadata=meta or None))
            arrays.append(arr)
            if flags is not None:
                flag_arr = lay.to_arrow(flags)
                fields.append(
                    pa.field(
                        name + lowering.FLAG_SUFFIX,
                        flag_arr.type,
                        metadata={FLAGS_KEY: name.encode()},
                    )
                )
                arrays.append(flag_arr)
        info = {
            "kind": "dataframe",
            "version": 1,
            "schema": None if self._schema is None else self._schema.to_json(),
        }
        schema = pa.schema(fields, metadata={METADATA_KEY: json.dumps(info).encode()})
        return pa.Table.from_arrays(arrays, schema=schema) if arrays else schema.empty_table()

    def __arrow_c_stream__(self, requested_schema: Any = None) -> Any:
        """Arrow PyCapsule stream protocol: ``pa.table(df)``, Polars, DuckDB...

        Union columns leave lowered (see :meth:`to_arrow`), since most consumers cannot
        take dense unions; a union inside a union's list child, which cannot be lowered,
        leaves native.
        """
        return self.to_arrow(unions="auto").__arrow_c_stream__(requested_schema)

    # -- display ----------------------------------------------------------------------

    def __repr__(self) -> str:
        head = f"<DataFrame {self._nrows} rows"
        head += f"; levels {self._schema}" if self._schema is not None else "; no schema"
        lines = [head]
        width = max((len(n) for n in self._columns), default=0)
        for i, (name, col) in enumerate(self._columns.items()):
            if i == 20:
                lines.append(f"  ... {len(self._columns) - 20} more columns")
                break
            level = f"  [{self.level_of(name)}]" if self._schema is not None else ""
            preview = repr(col[:3]).split(" type=")[0].removeprefix("<GrumpyArray ")
            lines.append(f"  {name:<{width}}  {col.type}{level}  {preview[:60]}")
        return "\n".join(lines) + ">"

    def _repr_html_(self) -> str:
        rows = []
        for name, col in list(self._columns.items())[:50]:
            level = self.level_of(name) or ""
            preview = repr(col[:3]).split(" type=")[0].removeprefix("<GrumpyArray ")[:80]
            cells = (name, level, col.type, preview)
            rows.append(
                "<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in cells) + "</tr>"
            )
        levels = f"levels {html.escape(str(self._schema))}" if self._schema else "no schema"
        return (
            f"<div><p>DataFrame: {self._nrows} rows; {levels}</p>"
            "<table><thead><tr><th>column</th><th>level</th><th>type</th><th>first rows</th>"
            f"</tr></thead><tbody>{''.join(rows)}</tbody></table></div>"
        )


def parse_row_key(key: Any, nrows: int) -> slice | np.ndarray:
    """The rows of a frame that ``df[key]`` selects (a frame is indexed by rows only).

    Parameters
    ----------
    key : int, slice, Ellipsis, 1-D array-like of ints or bools, or GrumpyArray
        An int keeps its row as a one-row frame; ``...`` is every row.
    nrows : int
        The frame's row count.

    Returns
    -------
    slice or numpy.ndarray
        A slice, or row numbers (int64, non-negative, any order, repeats allowed).

    Raises
    ------
    DTypeError
        For a tuple (frames have one axis; index a column to reach inside rows), a nested
        (per-row) index, or a key that :func:`grumpy_arrow.array.parse_index` refuses.
    OutOfBoundsError
        For a row outside ``[-nrows, nrows)`` or a mask whose length is not ``nrows``.
    ValueError
        For a slice with step 0.

    Examples
    --------
    >>> import numpy as np
    >>> parse_row_key(-1, 3)
    slice(2, 3, None)
    >>> parse_row_key([0, -1], 3).tolist(), parse_row_key(np.array([True, False, True]), 3).tolist()
    ([0, 2], [0, 2])
    """
    if isinstance(key, (int, np.integer)) and not isinstance(key, (bool, np.bool_)):
        i = int(key)
        if not -nrows <= i < nrows:
            raise OutOfBoundsError(f"row {i} is out of bounds for a frame with {nrows} rows")
        return slice(i % nrows, i % nrows + 1)
    if key is Ellipsis:
        return slice(None)
    if isinstance(key, slice):
        key.indices(nrows)  # a step of 0 raises here, as it does for arrays
        return key
    if isinstance(key, tuple):
        raise DTypeError(
            f"a frame is indexed by rows (an int, a slice, an integer array or a boolean "
            f"mask), got the tuple {key!r}; to index inside rows, index a column: "
            "df[name][rows, ...]"
        )
    entry = parse_index(key)
    if not isinstance(entry, np.ndarray):
        raise DTypeError(
            "a frame is indexed by rows with a 1-D key; got a nested (per-row) index of "
            f"type {GrumpyArray._wrap(entry).type}; per-row selection applies to a column: "
            "df[name][index]"
        )
    if entry.dtype == bool:
        if len(entry) != nrows:
            raise OutOfBoundsError(
                f"boolean index has length {len(entry)} but the frame has {nrows} rows"
            )
        return np.flatnonzero(entry)
    bad = (entry < -nrows) | (entry >= nrows)
    if bad.any():
        raise OutOfBoundsError(
            f"row {int(entry[np.flatnonzero(bad)[0]])} is out of bounds for a frame with "
            f"{nrows} rows"
        )
    return np.where(entry < 0, entry + nrows, entry)


def _same_offsets(a: np.ndarray, b: np.ndarray) -> bool:
    """Equal offsets; views of one buffer (columns of one Arrow table) compare in O(1)."""
    if a is b:
        return True
    if (
        a.shape == b.shape
        and a.dtype == b.dtype
        and (a.__array_interface__["data"][0] == b.__array_interface__["data"][0])
    ):
        return True
    return bool(np.array_equal(a, b))


class LevelAttributes:
    """Attribute access of a level view: reading ``view.<column>`` peels the column to the
    level (``frame.peel(name, level)``), assigning one places a value per entity
    (``frame.assign_at(level, name, value)``). Shared by :class:`LevelView` and the
    compiler's traced frames."""

    __slots__ = ("_frame", "_level")
    _frame: Any
    _level: int

    def __init__(self, frame: Any, level: int) -> None:
        object.__setattr__(self, "_frame", frame)
        object.__setattr__(self, "_level", level)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        return self._frame.peel(name, self._level)

    def __setattr__(self, name: str, value: Any) -> None:
        self._frame.assign_at(self._level, name, value)


class LevelView(LevelAttributes):
    """``df.<level>``: columns peeled to that level, assignment and drill-down.

    Reach one as an attribute of a frame named after a level (``df.atom``); reading
    ``df.atom.atom_q`` peels the column to the level (:meth:`DataFrame.peel`), assigning
    ``df.atom.atom_z = values`` places one value per entity (:meth:`DataFrame.assign_at`).

    Parameters
    ----------
    frame : DataFrame
        The frame.
    level : int
        The level's position in the frame's schema.

    Examples
    --------
    >>> import grumpy_arrow as gr
    >>> df = gr.dataframe({"mol_id": [1, 2], "atom_q": [[0.5, -0.5], [1.0]]},
    ...                   schema=["mol", "atom"])
    >>> df.atom
    <LevelView 'atom' of 3 entities>
    >>> df.atom.atom_q.to_list()
    [0.5, -0.5, 1.0]
    >>> df.atom.atom_z = [1, 2, 3]
    >>> df["atom_z"].to_list()
    [[1, 2], [3]]
    """

    __slots__ = ()
    _frame: DataFrame

    def __len__(self) -> int:
        return self._frame.count(self._level)

    def __repr__(self) -> str:
        return f"<LevelView {self._frame._level_name(self._level)!r} of {len(self)} entities>"

    def frame(self) -> DataFrame:
        """The frame seen from this level: its entities are the rows, the schema starts here.

        Columns above the level are dropped (they have no value per entity).

        Returns
        -------
        DataFrame
            One row per entity of the level.

        Examples
        --------
        >>> import grumpy_arrow as gr
        >>> df = gr.dataframe({"mol_id": [1, 2], "atom_q": [[0.5, -0.5], [1.0]]},
        ...                   schema=["mol", "atom"])
        >>> df.atom.frame().to_dict()
        {'atom_q': [0.5, -0.5, 1.0]}
        """
        frame, k = self._frame, self._level
        if k == 0:
            return frame
        assert frame.schema is not None
        columns = {
            name: frame.peel(name, k) for name in frame.columns if frame.schema.level_of(name) >= k
        }
        return DataFrame(columns, frame.schema.below(k), frame.count(k))

    def __getitem__(self, key: Any) -> Any:
        """Select entities at this level (``df.molecule[0].residue[1]``)."""
        return self.frame()[key]


def concat_frames(frames: Iterable[DataFrame]) -> DataFrame:
    """Row-wise concatenation of frames with the same schema and columns.

    Raises
    ------
    SchemaError
        When schemas or column names differ.
    """
    frames = list(frames)
    first = frames[0]
    for i, other in enumerate(frames[1:], start=1):
        if other.schema != first.schema:
            raise SchemaError(
                f"cannot concatenate frames with different schemas: frame 0 has "
                f"{first.schema}, frame {i} has {other.schema}"
            )
        if other.columns != first.columns:
            raise SchemaError(
                f"cannot concatenate frames with different columns: frame 0 has "
                f"{first.columns}, frame {i} has {other.columns}"
            )
    columns = {
        name: GrumpyArray(concat_nodes([f[name].to_arrow() for f in frames]))
        for name in first.columns
    }
    return DataFrame(columns, first.schema, sum(len(f) for f in frames))


def from_arrow_table(
    table: pa.Table | pa.RecordBatch, schema: Any = None, *, levels: Any = None
) -> DataFrame:
    """A frame over a ``pa.Table``'s columns (zero-copy for ``large_list`` columns).

    The schema comes from ``schema`` or, when absent, from the table's grumpy metadata.
    """
    if isinstance(table, pa.RecordBatch):
        table = pa.Table.from_batches([table])
    if schema is None:
        raw = (table.schema.metadata or {}).get(METADATA_KEY)
        if raw is not None:
            try:
                schema = json.loads(raw)["schema"]
            except (ValueError, KeyError, TypeError) as err:
                raise SchemaError(f"malformed grumpy_arrow metadata on the table: {raw!r}") from err
    names = table.column_names
    flag_of = {
        name[: -len(lowering.FLAG_SUFFIX)]: name
        for name in names
        if name.endswith(lowering.FLAG_SUFFIX) and name[: -len(lowering.FLAG_SUFFIX)] in names
    }
    columns = {}
    for name in names:
        if name in flag_of.values() and name[: -len(lowering.FLAG_SUFFIX)] in flag_of:
            continue
        column = asarray(table.column(name))
        if name in flag_of:
            flags = asarray(table.column(flag_of[name]), "bool")
            column = GrumpyArray._wrap(lowering.raise_node(column.node, flags.node))
        columns[name] = column
    return DataFrame(columns, _placed(parse_schema(schema), levels), table.num_rows)


def _placed(schema: Schema | None, levels: Any) -> Schema | None:
    """``schema`` with the columns of ``levels=`` placed (a schema is then required)."""
    if levels is None:
        return schema
    if schema is None:
        raise SchemaError("levels= places columns at the levels of a schema; give schema= too")
    return schema.with_columns(levels)


FRAMES[:] = [lambda columns: DataFrame(columns, None)]

CONVERTERS: list[Callable[[Any], GrumpyArray | DataFrame | None]] = []
"""Converters of other libraries' tables (for ``gr.save`` and ``gr.append``): each returns
the converted object, or None for objects it does not know. :mod:`grumpy_arrow.pandas`
registers one for ``pandas.DataFrame`` / ``Series`` when it is imported (which happens as
soon as pandas is), so no layer below it imports pandas."""
