"""Interoperability: Parquet files and Polars, on top of the Arrow export of arrays and
frames (unions lowered for consumers that cannot take them)."""

from grumpy_arrow.interop.parquet import from_parquet, to_parquet
from grumpy_arrow.interop.polars import to_polars

__all__ = ["from_parquet", "to_parquet", "to_polars"]
