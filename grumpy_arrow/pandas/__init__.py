"""pandas integration: the ``GrumpyDtype`` extension dtype, its array, and ``.gr`` accessors.

Importing this package registers ``GrumpyDtype`` (so ``pd.api.types.pandas_dtype(
"grumpy[var * int64]")`` works, and ``pd.read_parquet`` finds the dtypes named in a file's
metadata) and the ``s.gr`` / ``df.gr`` accessors (``s.gr.str`` for strings).

Examples
--------
>>> import pandas as pd
>>> import grumpy_arrow as gr
>>> from grumpy_arrow.pandas import to_pandas
>>> s = to_pandas(gr.array([[1, 2, 3], [], [4, 5]]))
>>> s
0    [1, 2, 3]
1           []
2       [4, 5]
dtype: grumpy[var * int64]
>>> s.gr.mean(dim=-1).tolist()
[2.0, <NA>, 4.5]
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from grumpy_arrow.array import GrumpyArray
from grumpy_arrow.frame.dataframe import CONVERTERS, DataFrame

# The modules import one way, each only from those before it: format, keys, cast; scalar;
# dtype, ordering; convert; ops, accessor; array. The dtype reaches its array class through
# dtype.ARRAY_TYPE, which array fills when it is imported (below, so always).
from grumpy_arrow.pandas.accessor import (
    GrumpyFrameAccessor,
    GrumpySeriesAccessor,
    GrumpyStringAccessor,
)
from grumpy_arrow.pandas.array import GrumpyExtensionArray
from grumpy_arrow.pandas.convert import (
    as_grumpy,
    frame_to_pandas,
    from_pandas,
    to_pandas,
    to_pandas_array,
)
from grumpy_arrow.pandas.dtype import GrumpyDtype, parse_type
from grumpy_arrow.pandas.scalar import GrumpyList

__all__ = [
    "GrumpyDtype",
    "GrumpyExtensionArray",
    "GrumpyFrameAccessor",
    "GrumpyList",
    "GrumpySeriesAccessor",
    "GrumpyStringAccessor",
    "as_grumpy",
    "frame_to_pandas",
    "from_pandas",
    "parse_type",
    "to_pandas",
    "to_pandas_array",
]


def _saved_as(obj: Any) -> GrumpyArray | DataFrame | None:
    """``gr.save`` / ``gr.append`` of a pandas DataFrame or Series (else None)."""
    return from_pandas(obj) if isinstance(obj, (pd.DataFrame, pd.Series)) else None


CONVERTERS.append(_saved_as)
