"""Parquet files for arrays and frames; unions are stored lowered and restored on reading.

Files also carry pandas' metadata (the pandas dtype of every column, and the frame's
schema as ``attrs["grumpy_schema"]``), so ``pd.read_parquet`` gives ``GrumpyDtype`` and
nullable columns back, and ``gr.from_pandas`` of that frame is the frame that was written
(a union column ``c`` is read by pandas as its lowered pair ``c`` / ``c__is_scalar``, which
``gr.from_pandas`` raises again). Files that pandas writes from ``df.to_pandas()`` read back
with :func:`from_parquet` too, schema included.

Examples
--------
>>> import tempfile, os, grumpy_arrow as gr
>>> df = gr.dataframe({"m_go": ["GO:1", ["GO:2", "GO:3"]], "r_w": [[1.0], [2.0, 3.0]]},
...                   schema=["m", "r"])
>>> tmp = tempfile.TemporaryDirectory()
>>> path = os.path.join(tmp.name, "frame.parquet")
>>> gr.to_parquet(df, path)
>>> back = gr.from_parquet(path)
>>> back.schema, back.m_go.to_list()
(Schema(['m', 'r']), ['GO:1', ['GO:2', 'GO:3']])
>>> tmp.cleanup()
"""

from __future__ import annotations

import json
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from grumpy_arrow.array import GrumpyArray, asarray
from grumpy_arrow.compute.lowering import FLAG_SUFFIX
from grumpy_arrow.errors import ColumnNotFoundError, LayoutError, SchemaError
from grumpy_arrow.frame.dataframe import METADATA_KEY, DataFrame, from_arrow_table
from grumpy_arrow.pandas.convert import SCHEMA_ATTR, to_pandas_array

__all__ = ["ARRAY_COLUMN", "PANDAS_ATTRS_KEY", "PANDAS_KEY", "from_parquet", "to_parquet"]

ARRAY_COLUMN = "values"
PANDAS_KEY = b"pandas"  # pyarrow's pandas metadata: each column's pandas dtype
PANDAS_ATTRS_KEY = b"PANDAS_ATTRS"  # where DataFrame.to_parquet / read_parquet keep attrs


def to_parquet(obj: Any, path: Any, *, pandas_metadata: bool = True, **kwargs: Any) -> None:
    """Write an array or a frame to a Parquet file (union columns lowered).

    Parameters
    ----------
    obj : GrumpyArray, DataFrame, or anything ``gr.array`` takes
        An array is stored as a one-column table named ``values``.
    path : str, path or file-like
        Passed to ``pyarrow.parquet.write_table`` with ``**kwargs`` (compression,
        filesystem, ...).
    pandas_metadata : bool, default True
        Also store each column's pandas dtype and the schema the way pandas does, so that
        ``pd.read_parquet`` gives ``GrumpyDtype`` columns. Reading such a file with pandas
        needs ``grumpy_arrow`` imported (pandas looks the dtype names up); pass False for
        files read by pandas without it.
    **kwargs
        Options of ``pyarrow.parquet.write_table`` (``compression="zstd"``, ``filesystem``,
        ``row_group_size``...).

    Raises
    ------
    LayoutError
        For a union inside a union's list child, which Parquet cannot hold.

    Examples
    --------
    >>> import os, tempfile, grumpy_arrow as gr
    >>> tmp = tempfile.TemporaryDirectory()
    >>> path = os.path.join(tmp.name, "x.parquet")
    >>> gr.to_parquet(gr.array([[1, 2], None, 3]), path, compression="zstd")
    >>> gr.from_parquet(path)
    <GrumpyArray [[1, 2], None, 3] type='3 * union[int64, var * int64]'>
    >>> tmp.cleanup()
    """
    table = _to_table(obj)
    if pandas_metadata:
        table = _with_pandas_metadata(table, obj.schema if isinstance(obj, DataFrame) else None)
    pq.write_table(table, path, **kwargs)


def _with_pandas_metadata(table: pa.Table, schema: Any) -> pa.Table:
    """``table`` with pandas' metadata: the dtypes :func:`frame_to_pandas` gives each column
    (taken from pyarrow's own metadata of a zero-row frame), and the schema in ``attrs``."""
    empty = pd.DataFrame(
        {
            name: to_pandas_array(asarray(table.column(name).slice(0, 0)))
            for name in table.column_names
        },
        index=pd.RangeIndex(0),
    )
    metadata = dict(table.schema.metadata or {})
    metadata[PANDAS_KEY] = pa.Schema.from_pandas(empty, preserve_index=False).metadata[PANDAS_KEY]
    if schema is not None:
        metadata[PANDAS_ATTRS_KEY] = json.dumps({SCHEMA_ATTR: schema.to_json()}).encode()
    return table.replace_schema_metadata(metadata)


def _to_table(obj: Any) -> pa.Table:
    if isinstance(obj, DataFrame):
        return obj.to_arrow(unions="lowered")
    arr = asarray(obj)
    frame = DataFrame({ARRAY_COLUMN: arr}, None)
    table = frame.to_arrow(unions="lowered")
    info = json.loads(table.schema.metadata[METADATA_KEY])
    info["kind"] = "array"
    return table.replace_schema_metadata({METADATA_KEY: json.dumps(info).encode()})


def from_parquet(
    path: Any, *, columns: list[str] | None = None, schema: Any = None, **kwargs: Any
) -> Any:
    """Read a Parquet file written by :func:`to_parquet` (or any Parquet file as a frame).

    Parameters
    ----------
    path : str, path or file-like
        Passed to ``pyarrow.parquet.read_table``.
    columns : list of str, optional
        Columns to read; a union column's ``__is_scalar`` companion is read with it.
    schema : list of levels, optional
        The frame's schema (default: the one stored in the file).
    **kwargs
        Options of ``pyarrow.parquet.read_table`` (``filesystem``, ``filters``...).

    Returns
    -------
    GrumpyArray or DataFrame
        An array when the file holds one written with ``to_parquet(array)``.

    Raises
    ------
    ColumnNotFoundError
        For a requested column the file does not have.
    LayoutError
        For a file marked as an array whose columns are not one ``values`` column.

    Examples
    --------
    >>> import io, grumpy_arrow as gr
    >>> df = gr.dataframe({"mol_id": [1, 2], "atom_q": [[0.5, -0.5], [1.0]]},
    ...                   schema=["mol", "atom"])
    >>> buffer = io.BytesIO()  # a file-like object works as well as a path
    >>> gr.to_parquet(df, buffer)
    >>> back = gr.from_parquet(buffer, columns=["atom_q"])
    >>> back.schema, back.to_dict()
    (Schema(['mol', 'atom']), {'atom_q': [[0.5, -0.5], [1.0]]})
    """
    wanted = None
    if columns is not None:
        names = pq.read_schema(path, **_schema_kwargs(kwargs)).names
        missing = [c for c in columns if c not in names]
        if missing:
            raise ColumnNotFoundError(
                f"no column {missing[0]!r} in {path}; the columns are {', '.join(names)}"
            )
        wanted = [n for n in names if n in columns or _flag_base(n) in columns]
    table = pq.read_table(path, columns=wanted, **kwargs)
    metadata = table.schema.metadata or {}
    if schema is None and METADATA_KEY not in metadata:
        schema = _pandas_schema(metadata, path)
    frame = from_arrow_table(table, schema)
    info = json.loads(metadata.get(METADATA_KEY, b"{}"))
    if info.get("kind") == "array":
        if frame.columns != [ARRAY_COLUMN]:
            raise LayoutError(f"{path} holds an array but its columns are {frame.columns}")
        column: GrumpyArray = frame[ARRAY_COLUMN]
        return column
    return frame


def _pandas_schema(metadata: dict[bytes, bytes], path: Any) -> Any:
    """The schema pandas kept in ``attrs`` (a file written by ``df.to_pandas().to_parquet``)."""
    raw = metadata.get(PANDAS_ATTRS_KEY)
    if raw is None:
        return None
    try:
        attrs = json.loads(raw)
    except ValueError as err:
        raise SchemaError(f"{path}: malformed pandas attrs in the file metadata: {raw!r}") from err
    return attrs.get(SCHEMA_ATTR) if isinstance(attrs, dict) else None


def _flag_base(name: str) -> str | None:
    return name[: -len(FLAG_SUFFIX)] if name.endswith(FLAG_SUFFIX) else None


def _schema_kwargs(kwargs: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in kwargs.items() if k in ("filesystem", "memory_map")}
