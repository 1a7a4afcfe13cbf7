"""Conversions between grumpy arrays/frames and pandas Series/DataFrames.

grumpy -> pandas: nested and union arrays become :class:`GrumpyDtype` columns (zero-copy);
flat arrays become the matching nullable pandas dtype (``Int64``, ``UInt8``, ``Float32``,
``boolean``, ``string``) with nulls as ``pd.NA`` and NaN kept as a value. ``float16`` and
``binary`` have no nullable pandas dtype and stay ``GrumpyDtype`` leaves.

pandas -> grumpy: ``GrumpyDtype``, ``pd.ArrowDtype`` and nullable columns go through Arrow
(zero-copy where Arrow allows); NumPy columns become leaves (NaN is a value, as in NumPy);
object columns holding lists are built like ``gr.array(list_of_rows)``; a lowered union
pair ``c`` / ``c__is_scalar`` (what ``pd.read_parquet`` gives for a file of
``gr.to_parquet``) is raised into ``c``. So every dtype, null and union written by
:func:`frame_to_pandas` or ``gr.to_parquet`` comes back exactly.

Examples
--------
>>> import grumpy_arrow as gr
>>> from grumpy_arrow.pandas import from_pandas, to_pandas
>>> s = to_pandas(gr.array([1, [2, 3], None]))
>>> s.dtype, to_pandas(gr.array([1, None])).dtype
(GrumpyDtype('union[int64, var * int64]'), Int64Dtype())
>>> from_pandas(s).to_list()
[1, [2, 3], None]
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, overload

import numpy as np
import pandas as pd
import pyarrow as pa
from pandas.api.extensions import ExtensionArray

from grumpy_arrow import dtypes as dt
from grumpy_arrow import layout as lay
from grumpy_arrow.array import GrumpyArray
from grumpy_arrow.compute.gather import expand_ranges, take_rows
from grumpy_arrow.compute.lowering import FLAG_SUFFIX, raise_node
from grumpy_arrow.construct import parse_object
from grumpy_arrow.errors import DTypeError, LayoutError
from grumpy_arrow.frame import DataFrame, dataframe
from grumpy_arrow.pandas.cast import fit_array, null_node
from grumpy_arrow.pandas.dtype import GrumpyDtype, is_grumpy_array, normalize_type
from grumpy_arrow.pandas.scalar import is_na, unbox

if TYPE_CHECKING:
    from grumpy_arrow.pandas.array import GrumpyExtensionArray

__all__ = [
    "SCHEMA_ATTR",
    "as_grumpy",
    "explode",
    "frame_to_pandas",
    "from_pandas",
    "raise_lowered",
    "row_lengths",
    "to_pandas",
    "to_pandas_array",
]

SCHEMA_ATTR = "grumpy_schema"

_MASKED: dict[str, Any] = {
    "i": pd.arrays.IntegerArray,
    "u": pd.arrays.IntegerArray,
    "f": pd.arrays.FloatingArray,
}


def to_pandas_array(arr: GrumpyArray) -> Any:
    """The pandas array for ``arr``: GrumpyExtensionArray when nested, else nullable."""
    data = arr.to_arrow()
    if lay.has_record(data.type):  # records: pandas' own Arrow-backed struct columns
        return pd.arrays.ArrowExtensionArray(data)
    if lay.arrow_depth(data.type) or pa.types.is_union(data.type):
        return _extension_array(data)
    leaf = arr.dtype
    if leaf.kind in _MASKED and leaf != dt.float16:
        filled = data.fill_null(0.0 if leaf.kind == "f" else 0) if data.null_count else data
        values = np.asarray(filled.to_numpy(zero_copy_only=False))
        return _MASKED[leaf.kind](values, _null_mask(data))
    if leaf == dt.bool_:
        filled = data.fill_null(False) if data.null_count else data
        values = np.asarray(filled.to_numpy(zero_copy_only=False), dtype=bool)
        return pd.arrays.BooleanArray(values, _null_mask(data))
    if leaf == dt.string:
        string = pd.StringDtype(na_value=pd.NA)
        return data.to_pandas(types_mapper=lambda _: string).array
    return _extension_array(data)


def _extension_array(data: pa.Array) -> GrumpyExtensionArray:
    # The array module imports this one: its class comes through the dtype (pandas' way).
    return GrumpyDtype.construct_array_type()(data)


def _null_mask(data: pa.Array) -> np.ndarray:
    if data.null_count == 0:
        return np.zeros(len(data), dtype=bool)
    return np.asarray(data.is_null().to_numpy(zero_copy_only=False), dtype=bool)


def to_pandas(arr: GrumpyArray, *, index: Any = None, name: Any = None) -> pd.Series:
    """``arr`` as a pandas Series (see the module docstring for the dtypes).

    Parameters
    ----------
    arr : GrumpyArray
    index : pandas Index or array-like, optional
        The Series index (default: a RangeIndex).
    name : hashable, optional
        The Series name.

    Examples
    --------
    >>> import grumpy_arrow as gr
    >>> to_pandas(gr.array([[1.5, 2.0], []]), name="x").dtype.name
    'grumpy[var * float64]'
    """
    if not isinstance(arr, GrumpyArray):
        raise TypeError(f"to_pandas needs a GrumpyArray, got {type(arr).__name__}")
    return pd.Series(to_pandas_array(arr), index=index, name=name, copy=False)


def frame_to_pandas(frame: DataFrame) -> pd.DataFrame:
    """A grumpy DataFrame as a pandas DataFrame; its schema goes to ``attrs["grumpy_schema"]``.

    Examples
    --------
    >>> import grumpy_arrow as gr
    >>> df = gr.dataframe({"mol_id": [1, 2], "atom_z": [[6, 1], [8]]}, schema=["mol", "atom"])
    >>> pdf = frame_to_pandas(df)
    >>> pdf.dtypes.astype(str).tolist(), pdf.attrs["grumpy_schema"]
    (['Int64', 'grumpy[var * int64]'], ['mol', 'atom'])
    """
    if not isinstance(frame, DataFrame):
        raise TypeError(f"frame_to_pandas needs a grumpy DataFrame, got {type(frame).__name__}")
    columns = {name: to_pandas_array(frame[name]) for name in frame.columns}
    out = pd.DataFrame(columns, index=pd.RangeIndex(len(frame)), copy=False)
    if frame.schema is not None:
        out.attrs[SCHEMA_ATTR] = frame.schema.to_json()
    return out


@overload
def from_pandas(obj: pd.Series, schema: None = None) -> GrumpyArray: ...


@overload
def from_pandas(obj: pd.DataFrame, schema: Any = None) -> DataFrame: ...


def from_pandas(obj: pd.DataFrame | pd.Series, schema: Any = None) -> GrumpyArray | DataFrame:
    """A pandas DataFrame as a grumpy DataFrame, or a Series as a GrumpyArray.

    Parameters
    ----------
    obj : pandas.DataFrame or pandas.Series
        Columns of GrumpyDtype, ``pd.ArrowDtype``, nullable or NumPy dtypes, or object
        columns of (nested) lists. The index is not kept (``reset_index()`` first to keep
        it as a column).
    schema : list of levels, optional
        For frames: the schema; default ``obj.attrs["grumpy_schema"]`` when present.

    Returns
    -------
    DataFrame or GrumpyArray
        A frame for a DataFrame (lowered union pairs ``c`` / ``c__is_scalar`` raised back
        into ``c``), an array for a Series.

    Raises
    ------
    TypeError
        For other objects, a schema given with a Series, or columns grumpy cannot hold
        (:class:`~grumpy_arrow.errors.DTypeError`).
    SchemaError
        When the columns break the schema.
    ValueError
        For column names that are not unique.

    Examples
    --------
    >>> import pandas as pd
    >>> from grumpy_arrow.pandas import from_pandas
    >>> df = pd.DataFrame({"mol_id": [1, 2], "atom_z": [[6, 1], [8]]})
    >>> frame = from_pandas(df, schema=["mol", "atom"])
    >>> frame.atom_z.to_list(), frame["mol_id"].dtype
    ([6, 1, 8], dtype('int64'))
    >>> from_pandas(pd.Series([[1, 2], [3]]))
    <GrumpyArray [[1, 2], [3]] type='2 * var * int64'>
    """
    if isinstance(obj, pd.Series):
        if schema is not None:
            raise TypeError("schema= applies to DataFrames, not to a Series")
        return as_grumpy(obj)
    if not isinstance(obj, pd.DataFrame):
        raise TypeError(f"from_pandas needs a pandas DataFrame or Series, got {type(obj).__name__}")
    if schema is None:
        schema = obj.attrs.get(SCHEMA_ATTR)
    names = [str(c) for c in obj.columns]
    if len(set(names)) != len(names):
        raise ValueError(f"column names must be unique, got {names}")
    columns = {name: as_grumpy(obj.iloc[:, i]) for i, name in enumerate(names)}
    return dataframe(raise_lowered(columns), schema)


def raise_lowered(columns: dict[str, GrumpyArray]) -> dict[str, GrumpyArray]:
    """Columns with each lowered union pair ``c`` / ``c__is_scalar`` raised into ``c``.

    That is how pandas reads a union column of a file written by ``gr.to_parquet``; the
    pair is recognised by the name suffix, as :func:`grumpy_arrow.from_arrow` does.

    Raises
    ------
    LayoutError
        When the flags do not fit their values column.

    Examples
    --------
    >>> import grumpy_arrow as gr
    >>> values, flags = gr.array([[7], [1, 2]]), gr.array([True, False])
    >>> raised = raise_lowered({"c": values, "c__is_scalar": flags})
    >>> list(raised), raised["c"].to_list()
    (['c'], [7, [1, 2]])
    """
    out = {}
    for name, column in columns.items():
        base = name[: -len(FLAG_SUFFIX)] if name.endswith(FLAG_SUFFIX) else None
        if base is not None and base in columns:
            continue
        flags = columns.get(name + FLAG_SUFFIX)
        if flags is not None:
            if flags.dtype != dt.bool_:
                raise LayoutError(
                    f"column {name + FLAG_SUFFIX!r} holds the is_scalar flags of {name!r} and "
                    f"must be boolean, got {flags.dtype.name}"
                )
            column = GrumpyArray._wrap(raise_node(column.node, flags.node))
        out[name] = column
    return out


def as_grumpy(values: Any) -> GrumpyArray:
    """A pandas Series / array (or anything ``gr.array`` takes) as a GrumpyArray.

    Raises
    ------
    DTypeError
        (a TypeError) For columns grumpy cannot hold: datetimes, all-null object columns,
        strings mixed with numbers...
    """
    if isinstance(values, (pd.Series, pd.Index)):
        values = values.array
    if is_grumpy_array(values):
        return values.to_array()
    if isinstance(values, pd.arrays.NumpyExtensionArray):
        values = values.to_numpy()
    dtype = getattr(values, "dtype", type(values).__name__)
    try:
        if isinstance(values, np.ndarray) and values.dtype == object:
            rows = [None if is_na(v) else unbox(v) for v in values.tolist()]
            return GrumpyArray(parse_object(rows, None))
        if isinstance(values, np.ndarray) and values.dtype.kind in "mMV":
            raise DTypeError(f"NumPy dtype {values.dtype} has no grumpy equivalent")
        if hasattr(values, "__arrow_array__"):
            values = values.__arrow_array__()
        elif isinstance(values, ExtensionArray):  # e.g. Categorical: pyarrow knows it
            values = pa.array(values)
        return GrumpyArray(_normalized(parse_object(values, None)))
    except (DTypeError, LayoutError, pa.ArrowException) as err:
        raise DTypeError(f"a column of dtype {dtype} cannot become a grumpy array: {err}") from err


def _normalized(arr: pa.Array) -> pa.Array:
    """``large_string`` leaves (pandas' Arrow strings) back to grumpy's ``string``."""
    target = normalize_type(arr.type)
    if target.equals(arr.type):
        return arr
    if lay.has_record(target):  # records (pd.ArrowDtype structs): Arrow's cast fits them
        return arr.cast(target)
    return fit_array(arr, target)


def explode(arr: GrumpyArray) -> tuple[Any, np.ndarray]:
    """``Series.explode`` for grumpy rows: each list's elements, then per-row counts.

    Empty lists and null rows give one NA each; scalar rows of a union give themselves.
    """
    if arr.ndim == 1 and not arr.is_union:
        return to_pandas_array(arr), np.ones(len(arr), dtype=np.uint64)
    lens = row_lengths(arr)
    content = arr.flatten(dim=1)
    offsets = np.zeros(len(lens) + 1, dtype=np.int64)
    np.cumsum(lens, out=offsets[1:])
    counts = np.maximum(lens, 1)
    valid = np.repeat(lens > 0, counts)
    if valid.any():
        positions = expand_ranges(offsets[:-1], counts)
        node = take_rows(content.node, positions, None if valid.all() else valid)
    else:
        node = null_node(content.to_arrow().type, len(valid))
    return to_pandas_array(GrumpyArray._wrap(node)), counts.astype(np.uint64)


def row_lengths(arr: GrumpyArray) -> np.ndarray:
    """The int64 length of each row of ``arr`` (0 for null rows, 1 for scalar rows of a union)."""
    return np.asarray(arr.shape(1).to_arrow().fill_null(0).to_numpy(), dtype=np.int64)
