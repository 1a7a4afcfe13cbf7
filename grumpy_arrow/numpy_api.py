"""NumPy's protocols on :class:`~grumpy_arrow.GrumpyArray`: ``np.mean(x, axis=1)`` and
the other array functions (``__array_function__``), and every ufunc
(``__array_ufunc__``), including those without an Arrow kernel (``np.hypot``,
``np.log1p``...), which run on the leaf buffers with NumPy's own dtype rules.

A function NumPy has but this module does not map gets the array converted with
``to_numpy()`` (rectangular data: exactly NumPy's answer); ragged data gets a
``TypeError`` that names the function and says what is supported.

Examples
--------
>>> import numpy as np
>>> import grumpy_arrow as gr
>>> x = gr.array([[1.0, 2.0, 3.0], [4.0]])
>>> np.mean(x, axis=1).to_list()
[2.0, 4.0]
>>> np.hypot(x, 0.0).to_list()
[[1.0, 2.0, 3.0], [4.0]]
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol, cast

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from grumpy_arrow import functions as fn
from grumpy_arrow._docstrings import (
    NAN_REDUCTIONS,
    REDUCTIONS,
    example_section,
    name_method,
    shared,
)
from grumpy_arrow.array import NUMPY_PROTOCOL, GrumpyArray, asarray, broadcast_apply, is_scalar
from grumpy_arrow.compute.elementwise import map_leaves
from grumpy_arrow.errors import DTypeError

__all__ = [
    "array_function",
    "array_ufunc",
    "intersect1d",
    "setdiff1d",
    "union1d",
]


# -- ufuncs ----------------------------------------------------------------------------


def _leaf_numpy(values: pa.Array) -> tuple[np.ndarray, np.ndarray | None]:
    typ = values.type
    if not (pa.types.is_integer(typ) or pa.types.is_floating(typ) or pa.types.is_boolean(typ)):
        raise DTypeError(f"NumPy ufuncs need numeric values, got {typ}")
    if not values.null_count:
        return values.to_numpy(zero_copy_only=False), None
    valid = values.is_valid().to_numpy(zero_copy_only=False)
    filled = values.fill_null(False if pa.types.is_boolean(typ) else 0)
    return filled.to_numpy(zero_copy_only=False), valid


def _ufunc_kernel(
    ufunc: np.ufunc, out_index: int, scalars: dict[int, Any], n_args: int
) -> Callable[..., pa.Array]:
    """A leaf kernel: ``ufunc`` on the leaves' NumPy views (nulls stay null), with the
    Python scalars among the operands passed through (NumPy's weak-scalar dtype rules)."""

    def kernel(*leaves: pa.Array) -> pa.Array:
        it = iter(leaves)
        operands: list[Any] = []
        valid: np.ndarray | None = None
        for i in range(n_args):
            if i in scalars:
                operands.append(scalars[i])
                continue
            x, v = _leaf_numpy(next(it))
            operands.append(x)
            if v is not None:
                valid = v if valid is None else valid & v
        with np.errstate(all="ignore"):  # filled null slots must not warn
            res = ufunc(*operands)
        res = res[out_index] if ufunc.nout > 1 else res
        return pa.array(np.asarray(res), mask=None if valid is None else ~valid)

    return kernel


def _apply_generic(ufunc: np.ufunc, inputs: tuple[Any, ...]) -> Any:
    scalars = {i: x for i, x in enumerate(inputs) if is_scalar(x) and x is not None}
    arrays = [asarray(x) for i, x in enumerate(inputs) if i not in scalars]
    if not arrays or len(arrays) > 2:
        return NotImplemented
    outs = []
    for k in range(ufunc.nout):
        kernel = _ufunc_kernel(ufunc, k, scalars, len(inputs))
        if len(arrays) == 1:
            outs.append(GrumpyArray._wrap(map_leaves(arrays[0].node, kernel)))
        else:
            outs.append(GrumpyArray._wrap(broadcast_apply(arrays, kernel)))
    return tuple(outs) if ufunc.nout > 1 else outs[0]


_REDUCE = {
    "add": "sum",
    "multiply": "prod",
    "maximum": "max",
    "minimum": "min",
    "logical_and": "all",
    "logical_or": "any",
    "fmax": "nanmax",
    "fmin": "nanmin",
}
_ACCUMULATE = {"add": "cumsum", "multiply": "cumprod"}


def array_ufunc(
    ufunc: np.ufunc, method: str, inputs: tuple[Any, ...], kwargs: dict[str, Any]
) -> Any:
    """``x.__array_ufunc__``: Arrow kernels where they exist, NumPy on the leaves else;
    ``ufunc.reduce`` / ``ufunc.accumulate`` map to reductions and running totals."""
    name = ufunc.__name__
    if method in ("reduce", "accumulate") and len(inputs) == 1:
        table = _REDUCE if method == "reduce" else _ACCUMULATE
        extra = set(kwargs) - {"axis"}
        if name not in table or extra:
            return NotImplemented
        x = asarray(inputs[0])
        return getattr(x, table[name])(dim=kwargs.get("axis", 0))
    if method != "__call__" or kwargs:
        return NotImplemented
    out = fn.apply_ufunc(ufunc, inputs)
    if out is not NotImplemented:
        return out
    if ufunc.nin != len(inputs):
        return NotImplemented
    return _apply_generic(ufunc, inputs)


# -- array functions -------------------------------------------------------------------


def _axis(kwargs: dict[str, Any], default: Any = None) -> Any:
    for key in ("out", "dtype", "where", "initial"):
        if kwargs.pop(key, None) is not None:
            raise TypeError(f"{key}= is not supported on grumpy arrays")
    if kwargs.pop("keepdims", False):
        raise TypeError(
            "keepdims=True is not supported on grumpy arrays: rows keep their "
            "own lengths, so a reduced axis cannot stay as length 1"
        )
    return kwargs.pop("axis", default)


def _reduction(method: str) -> Callable[..., Any]:
    ddof = method.removeprefix("nan") in ("std", "var")  # they take ``ddof=``

    def call(a: Any, axis: Any = None, **kwargs: Any) -> Any:
        kwargs["axis"] = axis
        dim = _axis(kwargs)
        options = {"ddof": kwargs.pop("ddof", 0)} if ddof else {}
        if kwargs:
            raise TypeError(f"unsupported arguments {sorted(kwargs)} for np.{method}")
        return getattr(asarray(a), method)(dim=dim, **options)

    return call


def _quantile(method: str, scale: float) -> Callable[..., Any]:
    def call(a: Any, q: Any, axis: Any = None, **kwargs: Any) -> Any:
        kwargs["axis"] = axis
        dim = _axis(kwargs)
        how = kwargs.pop("method", "linear")
        if kwargs:
            raise TypeError(f"unsupported arguments {sorted(kwargs)} for np.{method}")
        return getattr(asarray(a), method)(np.asarray(q) / scale, dim=dim, method=how)

    return call


def _sort(method: str) -> Callable[..., Any]:
    def call(a: Any, axis: int = -1, kind: Any = None, order: Any = None) -> Any:
        if order is not None:
            raise TypeError(f"np.{method}(order=) is not supported on grumpy arrays")
        return getattr(asarray(a), method)(dim=axis)

    return call


@shared
def union1d(a: Any, b: Any) -> GrumpyArray:
    """Sorted distinct non-null values found in ``a`` or ``b`` (all leaves).

    $set_operands

    Raises
    ------
    DTypeError
        If the leaf dtypes of ``a`` and ``b`` do not promote (strings with numbers).

    Examples
    --------
    >>> import grumpy_arrow as gr
    >>> gr.union1d([[3, 1], [1]], [2]).to_list()
    [1, 2, 3]
    """
    return cast("GrumpyArray", fn.concat([asarray(a).flatten(), asarray(b).flatten()]).unique())


class _SetOperation(Protocol):
    def __call__(self, a: Any, b: Any) -> GrumpyArray: ...


def _membership(name: str, keep_in: bool, where: str, example: str, output: str) -> _SetOperation:
    """``intersect1d`` (``keep_in``) / ``setdiff1d``: the distinct values of ``a`` that are
    (or are not) among those of ``b``; the docstring shows ``gr.<name>(<example>)``."""

    def function(a: Any, b: Any) -> GrumpyArray:
        left, right = asarray(a).unique().to_arrow(), asarray(b).unique().to_arrow()
        found = pc.is_in(left, value_set=right)
        return GrumpyArray(left.filter(found if keep_in else pc.invert(found)))

    summary = f"Sorted distinct non-null values {where} (all leaves)."
    examples = example_section(f"gr.{name}({example}).to_list()", output)
    name_method(function, "", name, f"{summary}\n\n$set_operands\n\n{examples}")
    return shared(function)


intersect1d = _membership(
    "intersect1d", True, "found in both ``a`` and ``b``", "[[1, 2, 2], [5]], [2, 5, 7]", "[2, 5]"
)
setdiff1d = _membership(
    "setdiff1d", False, "of ``a`` that are not in ``b``", "[[3, 1], [2]], [2]", "[1, 3]"
)


def _unique(
    a: Any,
    return_index: bool = False,
    return_inverse: bool = False,
    return_counts: bool = False,
    axis: Any = None,
    **kwargs: Any,
) -> Any:
    if return_index or return_inverse or return_counts or axis is not None or kwargs:
        raise TypeError(
            "np.unique on grumpy arrays gives the sorted distinct values only; "
            "use x.value_counts() for counts"
        )
    return asarray(a).unique()


def _histogram(
    a: Any, bins: Any = 10, range: Any = None, density: Any = None, weights: Any = None
) -> Any:
    if density or weights is not None:
        raise TypeError("np.histogram(density=, weights=) is not supported on grumpy arrays")
    return asarray(a).histogram(bins, range=range)


# NumPy's reductions are the methods of the same name (there is no ``np.count``).
_FUNCTIONS: dict[Any, Callable[..., Any]] = {
    **{getattr(np, name): _reduction(name) for name in (*REDUCTIONS, "median") if name != "count"},
    **{getattr(np, f"nan{name}"): _reduction(f"nan{name}") for name in (*NAN_REDUCTIONS, "median")},
    np.amin: _reduction("min"),
    np.amax: _reduction("max"),
    np.quantile: _quantile("quantile", 1.0),
    np.nanquantile: _quantile("nanquantile", 1.0),
    np.percentile: _quantile("quantile", 100.0),
    np.nanpercentile: _quantile("nanquantile", 100.0),
    np.cumsum: lambda a, axis=None: asarray(a).cumsum(dim=axis),
    np.cumprod: lambda a, axis=None: asarray(a).cumprod(dim=axis),
    np.diff: lambda a, n=1, axis=-1: asarray(a).diff(n, dim=axis),
    np.sort: _sort("sort"),
    np.argsort: _sort("argsort"),
    np.unique: _unique,
    np.where: fn.where,
    np.nonzero: fn.nonzero,
    np.concatenate: lambda arrays, axis=0: fn.concat(list(arrays), dim=axis),
    np.stack: lambda arrays, axis=0: fn.stack(list(arrays), axis=axis),
    np.clip: lambda a, a_min=None, a_max=None: fn.clip(a, a_min, a_max),
    np.round: lambda a, decimals=0: fn.round(a, decimals),
    np.around: lambda a, decimals=0: fn.round(a, decimals),
    np.isin: lambda element, test_elements: asarray(element).isin(test_elements),
    np.histogram: _histogram,
    np.bincount: lambda x, weights=None, minlength=0: asarray(x).bincount(minlength=minlength),
    np.intersect1d: lambda a, b: intersect1d(a, b),
    np.union1d: lambda a, b: union1d(a, b),
    np.setdiff1d: lambda a, b: setdiff1d(a, b),
    np.ndim: lambda a: asarray(a).ndim,
    np.copy: lambda a, **kwargs: asarray(a).copy(),
}


def _to_numpy(obj: Any, func: Any) -> Any:
    if isinstance(obj, GrumpyArray):
        try:
            return obj.to_numpy()
        except Exception as err:
            supported = sorted(f.__name__ for f in _FUNCTIONS)
            raise TypeError(
                f"{func.__module__}.{func.__name__} is not supported on ragged grumpy arrays "
                f"({obj.type}); supported: {', '.join(supported)}"
            ) from err
    if isinstance(obj, (list, tuple)):
        return type(obj)(_to_numpy(o, func) for o in obj)
    return obj


def array_function(func: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """``x.__array_function__``: a grumpy implementation, or NumPy on ``to_numpy()``."""
    impl = _FUNCTIONS.get(func)
    if impl is not None:
        return impl(*args, **kwargs)
    args = tuple(_to_numpy(a, func) for a in args)
    kwargs = {k: _to_numpy(v, func) for k, v in kwargs.items()}
    return func(*args, **kwargs)


NUMPY_PROTOCOL.update(ufunc=array_ufunc, function=array_function)
