"""Polars: frames and arrays go over the Arrow PyCapsule protocol with unions lowered.

``pl.DataFrame(df)`` and ``pl.Series(x)`` already work; :func:`to_polars` adds the option
to force native unions and turns anything Polars raises about them (errors or Rust panics,
which derive from ``BaseException``) into a :class:`~grumpy_arrow.errors.LayoutError`.
"""

from __future__ import annotations

from typing import Any

from grumpy_arrow._optional import require
from grumpy_arrow._typing import Unions
from grumpy_arrow.array import asarray
from grumpy_arrow.errors import LayoutError
from grumpy_arrow.frame.dataframe import DataFrame

__all__ = ["to_polars"]


def to_polars(obj: Any, *, unions: Unions = "lowered") -> Any:
    """A ``polars.DataFrame`` (for frames) or ``polars.Series`` (for arrays).

    Parameters
    ----------
    obj : GrumpyArray, DataFrame or array-like
        What to convert (array-likes go through :func:`grumpy_arrow.array`).
    unions : {"lowered", "native"}
        Union columns as ``struct<values, is_scalar>`` (the default: Polars has no union
        type), or as Arrow's dense unions.

    Returns
    -------
    polars.DataFrame or polars.Series
        Zero-copy where Polars can take the Arrow buffers as they are.

    Raises
    ------
    ImportError
        Without polars (``pip install grumpy_arrow[test]`` or ``pip install polars``).
    LayoutError
        When Polars cannot take the data (native unions), whatever Polars raised.

    Examples
    --------
    >>> import grumpy_arrow as gr
    >>> df = gr.dataframe({"mol_id": [1, 2], "atom_q": [[0.5, -0.5], [1.0]]},
    ...                   schema=["mol", "atom"])
    >>> gr.to_polars(df).to_dict(as_series=False)
    {'mol_id': [1, 2], 'atom_q': [[0.5, -0.5], [1.0]]}
    >>> gr.to_polars(gr.array([1, [2, 3]])).to_list()
    [{'values': [1], 'is_scalar': True}, {'values': [2, 3], 'is_scalar': False}]
    """
    pl = require("polars", what="to_polars", install="polars")
    source = obj if isinstance(obj, DataFrame) else asarray(obj)
    data = source.to_arrow(unions=unions)
    try:
        return pl.from_arrow(data)
    except (KeyboardInterrupt, SystemExit):
        raise
    except BaseException as err:
        raise LayoutError(
            f"polars cannot take this data ({type(err).__name__}: {err}); export unions "
            "lowered (the default)"
        ) from err
