"""grumpy_arrow: ragged, nested and union arrays on Apache Arrow.

>>> import grumpy_arrow as gr
>>> x = gr.array([[1, 2, 3], [4, 5]])
>>> (x * 2).sum(dim=1).to_list()
[12, 18]
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from grumpy_arrow import errors
from grumpy_arrow._lazy import load_with_pandas
from grumpy_arrow._version import __version__
from grumpy_arrow.array import GrumpyArray
from grumpy_arrow.dtypes import (
    DType,
    binary,
    bool_,
    can_cast,
    dtype,
    float16,
    float32,
    float64,
    int8,
    int16,
    int32,
    int64,
    promote_types,
    string,
    uint8,
    uint16,
    uint32,
    uint64,
)
from grumpy_arrow.errors import (
    BroadcastError,
    ConversionError,
    DTypeError,
    GrumpyError,
    LayoutError,
    OutOfBoundsError,
    SchemaError,
)
from grumpy_arrow.frame import DataFrame, LevelView, Schema, dataframe
from grumpy_arrow.functions import (
    arccos,
    arcsin,
    arctan,
    array,
    ceil,
    clip,
    concat,
    cos,
    exp,
    floor,
    from_arrow,
    from_numpy,
    from_offsets,
    full_like,
    isfinite,
    isinf,
    isnan,
    log,
    log2,
    log10,
    nonzero,
    ones_like,
    round,
    sign,
    sin,
    sqrt,
    stack,
    tan,
    where,
    zeros_like,
)
from grumpy_arrow.geometry import neighbors, pairwise_distances
from grumpy_arrow.numpy_api import intersect1d, setdiff1d, union1d
from grumpy_arrow.strings import StringMethods

if TYPE_CHECKING:  # loaded on first use (see _LAZY)
    from grumpy_arrow import savers
    from grumpy_arrow.compiler import (
        CompiledFunction,
        compile,
        compile_pipeline,
        compile_pipeline_info,
    )
    from grumpy_arrow.interop import from_parquet, to_parquet, to_polars
    from grumpy_arrow.pandas import GrumpyDtype, GrumpyList, from_pandas
    from grumpy_arrow.savers.runner import run
    from grumpy_arrow.storage import (
        Fragment,
        Handle,
        ShardedHandle,
        ShardedWriter,
        append,
        codecs,
        consolidate,
        load,
        save,
    )
    from grumpy_arrow.storage import open_store as open
    from grumpy_arrow.storage.upgrade import upgrade
    from grumpy_arrow.storage.validate import validate
    from grumpy_arrow.streaming.mix import Mix, mix
    from grumpy_arrow.streaming.stream import Stream, stream

__all__ = [
    "BroadcastError",
    "CompiledFunction",
    "ConversionError",
    "DType",
    "DTypeError",
    "DataFrame",
    "Fragment",
    "GrumpyArray",
    "GrumpyDtype",
    "GrumpyError",
    "GrumpyList",
    "Handle",
    "LayoutError",
    "LevelView",
    "Mix",
    "OutOfBoundsError",
    "Schema",
    "SchemaError",
    "ShardedHandle",
    "ShardedWriter",
    "Stream",
    "StringMethods",
    "__version__",
    "append",
    "arccos",
    "arcsin",
    "arctan",
    "array",
    "binary",
    "bool_",
    "can_cast",
    "ceil",
    "clip",
    "codecs",
    "compile",
    "compile_pipeline",
    "compile_pipeline_info",
    "concat",
    "consolidate",
    "cos",
    "dataframe",
    "dtype",
    "errors",
    "exp",
    "float16",
    "float32",
    "float64",
    "floor",
    "from_arrow",
    "from_numpy",
    "from_offsets",
    "from_pandas",
    "from_parquet",
    "full_like",
    "int16",
    "int32",
    "int64",
    "int8",
    "intersect1d",
    "isfinite",
    "isinf",
    "isnan",
    "load",
    "log",
    "log10",
    "log2",
    "mix",
    "neighbors",
    "nonzero",
    "ones_like",
    "open",
    "pairwise_distances",
    "promote_types",
    "round",
    "run",
    "save",
    "savers",
    "setdiff1d",
    "sign",
    "sin",
    "sqrt",
    "stack",
    "stream",
    "string",
    "tan",
    "to_parquet",
    "to_polars",
    "uint16",
    "uint32",
    "uint64",
    "uint8",
    "union1d",
    "upgrade",
    "validate",
    "where",
    "zeros_like",
]


# Names whose modules import zarr, fsspec, pandas or pyarrow.parquet, or that most programs
# never use (compilation, streaming): ``import grumpy_arrow`` loads numpy and pyarrow only,
# and each of these loads on first use (PEP 562).
# module -> the names it provides, separated by spaces
_LAZY_BY_MODULE: dict[str, str] = {
    "grumpy_arrow.compiler": "CompiledFunction compile compile_pipeline compile_pipeline_info",
    "grumpy_arrow.streaming": "Mix Stream mix stream",
    "grumpy_arrow.storage": "Fragment Handle ShardedHandle ShardedWriter append consolidate load"
    " save upgrade validate",
    "grumpy_arrow.pandas": "GrumpyDtype GrumpyList from_pandas",
    "grumpy_arrow.interop.parquet": "from_parquet to_parquet",
    "grumpy_arrow.interop.polars": "to_polars",
    "grumpy_arrow.savers.runner": "run",
}
# name -> (module, attribute; None: the module itself). The optional integrations (torch,
# dask, ray) need PyTorch, Dask and Ray: their functions raise an ImportError naming the
# extra without.
_LAZY: dict[str, tuple[str, str | None]] = {
    **{n: (module, n) for module, names in _LAZY_BY_MODULE.items() for n in names.split()},
    "open": ("grumpy_arrow.storage", "open_store"),
    "codecs": ("grumpy_arrow.storage.codecs", None),
    "savers": ("grumpy_arrow.savers", None),
    "torch": ("grumpy_arrow.interop.torch", None),
    "dask": ("grumpy_arrow.interop.dask", None),
    "ray": ("grumpy_arrow.interop.ray", None),
}


def __getattr__(name: str) -> object:
    """The names of :data:`_LAZY`, imported on first use and then kept."""
    found = _LAZY.get(name)
    if found is None:
        raise AttributeError(f"module 'grumpy_arrow' has no attribute {name!r}")
    module = importlib.import_module(found[0])
    value = module if found[1] is None else getattr(module, found[1])
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


load_with_pandas()
