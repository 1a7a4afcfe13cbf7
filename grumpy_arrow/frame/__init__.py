"""DataFrames whose columns live at named nested levels (docs/dataframes.md)."""

from grumpy_arrow.frame.dataframe import DataFrame, LevelView, concat_frames, dataframe
from grumpy_arrow.frame.schema import Level, Schema, parse_schema

__all__ = [
    "DataFrame",
    "Level",
    "LevelView",
    "Schema",
    "concat_frames",
    "dataframe",
    "parse_schema",
]
