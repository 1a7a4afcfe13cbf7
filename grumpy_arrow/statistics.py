"""Statistics methods of :class:`~grumpy_arrow.GrumpyArray` (a mixin, so the array class
stays a thin shell): order statistics, ``nan*`` reductions, running totals, differences,
distinct values per row, histograms and counts. The kernels are in
:mod:`grumpy_arrow.compute.stats`.

The row-wise methods work along the innermost axis (``dim=-1``, NumPy's default for
``diff`` and our default for ``sort``); ``dim=None`` takes every leaf value at once.

Examples
--------
>>> import grumpy_arrow as gr
>>> x = gr.array([[3.0, 1.0, 2.0], [], [5.0, 4.0]])
>>> x.median(dim=1).to_list()
[2.0, None, 4.5]
>>> x.cumsum().to_list()
[[3.0, 4.0, 6.0], [], [5.0, 9.0]]
"""

from __future__ import annotations

import builtins
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, cast

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from grumpy_arrow import layout as lay
from grumpy_arrow._docstrings import name_method, nan_reduction_doc, shared
from grumpy_arrow._typing import QuantileMethod, ReductionMethod, SpreadMethod
from grumpy_arrow.compute import reduce as rd
from grumpy_arrow.compute import stats
from grumpy_arrow.compute.elementwise import map_leaves
from grumpy_arrow.compute.gather import leaf_values
from grumpy_arrow.compute.structure import flatten_node
from grumpy_arrow.errors import LayoutError

if TYPE_CHECKING:
    from grumpy_arrow.array import GrumpyArray

__all__ = ["Statistics"]

_RowFn = Callable[[stats.Segmented, lay.ListNode | None], lay.Node]


def _nan_to_null(values: pa.Array) -> pa.Array:
    if not pa.types.is_floating(values.type):
        return values
    return pc.if_else(pc.is_nan(values), pa.scalar(None, values.type), values)


def _nan_reduction(name: str) -> ReductionMethod:
    """The method ``nan<name>``: the reduction ``name`` with NaN taken as missing."""

    def method(self: Statistics, dim: int | None = None) -> Any:
        return self._without_nan()._reduce(name, dim)

    name_method(method, "Statistics", f"nan{name}", nan_reduction_doc(name))
    return cast(ReductionMethod, method)


def _nan_spread(name: str) -> SpreadMethod:
    """The method ``nanstd`` or ``nanvar``: ``std``/``var`` with NaN taken as missing."""

    def method(self: Statistics, dim: int | None = None, *, ddof: int = 0) -> Any:
        return self._without_nan()._spread(name, dim, ddof)

    name_method(method, "Statistics", f"nan{name}", nan_reduction_doc(name))
    return cast(SpreadMethod, method)


class Statistics:
    """The statistics half of :class:`~grumpy_arrow.GrumpyArray`'s methods."""

    if TYPE_CHECKING:  # provided by GrumpyArray

        @property
        def node(self) -> lay.Node: ...

        @property
        def ndim(self) -> int: ...

        @classmethod
        def _wrap(cls, node: lay.Node) -> GrumpyArray: ...

        def _reduce(self, op: builtins.str, dim: int | None) -> Any: ...

        def _spread(self, op: builtins.str, dim: int | None, ddof: int) -> Any: ...

    # -- helpers ------------------------------------------------------------------------

    def _innermost(self, dim: int | None, what: builtins.str, *, flat_ok: bool = True) -> bool:
        """Whether ``dim`` asks for all values (None); otherwise check it is innermost."""
        if dim is None:
            if not flat_ok:
                raise LayoutError(f"{what} works along one axis: give dim=-1")
            return True
        k = rd.normalize_dim(dim, self.ndim)
        if k != self.ndim - 1:
            raise LayoutError(
                f"{what} works along the innermost dim ({self.ndim - 1} or -1) "
                f"or over all values (dim=None), got dim={dim}"
            )
        return False

    def _rowwise(self, dim: int | None, what: builtins.str, fn: _RowFn) -> Any:
        """``fn`` per innermost row; over all values (``dim=None``) as one segment."""
        if self._innermost(dim, what):
            flat = lay.Leaf(leaf_values(self.node))
            return stats.map_innermost(flat, fn, what)
        return stats.map_innermost(self.node, fn, what)

    def _one_or_rows(self, node: lay.Node, dim: int | None) -> Any:
        """A scalar (or NumPy vector) for ``dim=None`` / a flat array; else an array."""
        if dim is None or self.ndim == 1:
            values = lay.to_arrow(node)
            if isinstance(node, lay.ListNode):
                return np.asarray(values.flatten().to_numpy(zero_copy_only=False))
            return values[0].as_py()
        return self._wrap(node)

    def _without_nan(self) -> GrumpyArray:
        return self._wrap(map_leaves(self.node, _nan_to_null))

    # -- order statistics --------------------------------------------------------------

    @shared
    def median(self, dim: int | None = None) -> Any:
        """Median of the valid values (NumPy's: the mean of the two middle values of an
        even count; NaN if a NaN is among them; integers give float64). ``dim=None``
        gives one number, ``dim=-1`` one per innermost row (empty rows give null).

        $median_parameters

        Examples
        --------
        >>> import grumpy_arrow as gr
        >>> gr.array([[1, 4, 2, 8], [5], []]).median(dim=1).to_list()
        [3.0, 5.0, None]
        >>> gr.array([[1, 4, 2, 8], [5], []]).median()
        4.0
        """
        return self._median(dim, "median", skip_nan=False)

    @shared
    def nanmedian(self, dim: int | None = None) -> Any:
        """:meth:`median` ignoring NaN (as ``np.nanmedian``).

        $median_parameters

        Examples
        --------
        >>> import grumpy_arrow as gr
        >>> x = gr.array([[1.0, float("nan"), 3.0], [float("nan")]])
        >>> x.nanmedian(), x.nanmedian(dim=1).to_list()
        (2.0, [2.0, None])
        """
        return self._median(dim, "nanmedian", skip_nan=True)

    def _median(self, dim: int | None, what: builtins.str, *, skip_nan: bool) -> Any:
        qs = np.array([0.5])
        node = self._rowwise(
            dim, what, lambda s, n: stats.quantile(s, n, qs, "linear", skip_nan, True)
        )
        return self._one_or_rows(node, dim)

    @shared
    def quantile(self, q: Any, dim: int | None = None, *, method: QuantileMethod = "linear") -> Any:
        """Quantile(s) ``q`` (in [0, 1]) of the valid values, with NumPy's ``method``
        (``linear lower higher nearest midpoint``) and its results bit for bit.

        With several ``q``, a row's quantiles are a fixed axis of ``len(q)`` *inside*
        the row (``n * 3 * float64``); NumPy puts the quantile axis first.

        $quantile_parameters

        Examples
        --------
        >>> import grumpy_arrow as gr
        >>> x = gr.array([[1.0, 2.0, 3.0, 4.0], [10.0]])
        >>> x.quantile(0.25, dim=1).to_list()
        [1.75, 10.0]
        >>> x.quantile([0.0, 1.0], dim=1).to_list()
        [[1.0, 4.0], [10.0, 10.0]]
        """
        return self._quantile(q, dim, method, skip_nan=False)

    @shared
    def nanquantile(
        self, q: Any, dim: int | None = None, *, method: QuantileMethod = "linear"
    ) -> Any:
        """:meth:`quantile` ignoring NaN (as ``np.nanquantile``).

        $quantile_parameters

        Examples
        --------
        >>> import grumpy_arrow as gr
        >>> x = gr.array([[1.0, float("nan"), 3.0], [float("nan")]])
        >>> x.nanquantile(0.5, dim=1).to_list()
        [2.0, None]
        """
        return self._quantile(q, dim, method, skip_nan=True)

    def _quantile(self, q: Any, dim: int | None, method: builtins.str, *, skip_nan: bool) -> Any:
        if method not in stats.QUANTILE_METHODS:
            raise ValueError(
                f"quantile method must be one of {stats.QUANTILE_METHODS}, got {method!r}"
            )
        qs, scalar = stats.parse_quantiles(q)
        node = self._rowwise(
            dim, "quantile", lambda s, n: stats.quantile(s, n, qs, method, skip_nan, False, scalar)
        )
        out = self._one_or_rows(node, dim)
        if not scalar and (dim is None or self.ndim == 1) and not isinstance(out, np.ndarray):
            return np.asarray([out])
        return out

    # -- NaN-ignoring reductions -------------------------------------------------------

    nansum = _nan_reduction("sum")
    nanprod = _nan_reduction("prod")
    nanmean = _nan_reduction("mean")
    nanmin = _nan_reduction("min")
    nanmax = _nan_reduction("max")
    nanstd = _nan_spread("std")
    nanvar = _nan_spread("var")

    # -- running totals and differences ------------------------------------------------

    @shared
    def cumsum(self, dim: int | None = -1) -> GrumpyArray:
        """Running sum inside every innermost row (``dim=None``: over all values, flat).
        Small integers widen to int64 as in NumPy; a null stays null and the total runs
        on past it (pandas' rule).

        $running

        Examples
        --------
        >>> import grumpy_arrow as gr
        >>> gr.array([[1, 2, None, 4], [5]]).cumsum().to_list()
        [[1, 3, None, 7], [5]]
        >>> gr.array([[1, 2], [3]]).cumsum(dim=None).to_list()
        [1, 3, 6]
        """
        return self._wrap(
            self._rowwise(dim, "cumsum", lambda s, n: stats.cumulative(s, n, "cumsum"))
        )

    @shared
    def cumprod(self, dim: int | None = -1) -> GrumpyArray:
        """Running product inside every innermost row (see :meth:`cumsum`).

        $running

        Examples
        --------
        >>> import grumpy_arrow as gr
        >>> gr.array([[1, 2, 3], [4, None, 5]]).cumprod().to_list()
        [[1, 2, 6], [4, None, 20]]
        """
        return self._wrap(
            self._rowwise(dim, "cumprod", lambda s, n: stats.cumulative(s, n, "cumprod"))
        )

    def diff(self, n: int = 1, dim: int = -1) -> GrumpyArray:
        """``n``-th differences inside every innermost row (a row of k values gives
        ``max(k - n, 0)``); booleans give ``!=`` as in NumPy.

        Parameters
        ----------
        n : int, default 1
            How many times to take differences (0 returns the array as it is).
        dim : int, default -1
            The innermost axis (the only one supported).

        Returns
        -------
        GrumpyArray
            The same structure with shorter innermost rows.

        Raises
        ------
        ValueError
            If ``n`` is not a non-negative integer.
        LayoutError
            For a ``dim`` that is not the innermost axis.

        Examples
        --------
        >>> import grumpy_arrow as gr
        >>> gr.array([[1, 4, 9], [2], []]).diff().to_list()
        [[3, 5], [], []]
        >>> gr.array([[1, 4, 9, 16]]).diff(n=2).to_list()
        [[2, 2]]
        """
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 0:
            raise ValueError(f"diff order n must be a non-negative integer, got {n!r}")
        self._innermost(dim, "diff", flat_ok=False)
        node = self.node
        for _ in range(int(n)):
            node = stats.map_innermost(node, stats.diff, "diff")
        return self._wrap(node)

    # -- distinct values and counts ----------------------------------------------------

    @shared
    def n_unique(self, dim: int | None = None) -> Any:
        """How many distinct non-null values: over all leaves (``dim=None``, an int) or
        in every innermost row (``dim=-1``).

        Parameters
        ----------
        $rowwise_dim

        Returns
        -------
        int or GrumpyArray
            One count for ``dim=None`` (or a flat array), else one per innermost row.

        $rowwise_raises

        Examples
        --------
        >>> import grumpy_arrow as gr
        >>> x = gr.array([["C", "H", "H"], ["O"], []])
        >>> x.n_unique(), x.n_unique(dim=1).to_list()
        (3, [2, 1, 0])
        """
        node = self._rowwise(dim, "n_unique", stats.n_unique)
        return self._one_or_rows(node, dim)

    @shared
    def histogram(
        self, bins: Any = 10, *, range: tuple[float, float] | None = None, dim: int | None = None
    ) -> tuple[Any, np.ndarray]:
        """Counts of the valid values in ``bins`` (a count or the edges) over ``range``,
        with ``np.histogram``'s edges and rules; nulls and NaN are not counted.

        For ``dim=None`` the counts are a NumPy vector; for ``dim=-1`` one row of counts per
        innermost row (a fixed axis), all rows on the same edges (worked out from all values).

        Parameters
        ----------
        bins : int or sequence of float, default 10
            The number of equal-width bins, or the bin edges.
        range : (float, float), optional
            The lower and upper edge (default: the smallest and largest valid value).
        $rowwise_dim

        Returns
        -------
        counts : numpy.ndarray or GrumpyArray
            The counts per bin, over all values or per innermost row.
        edges : numpy.ndarray
            The ``len(counts) + 1`` bin edges (float64).

        $rowwise_raises

        Examples
        --------
        >>> import grumpy_arrow as gr
        >>> counts, edges = gr.array([[1, 2, 2], [4]]).histogram(3, dim=1)
        >>> counts.to_list(), edges.tolist()
        ([[1, 2, 0], [0, 0, 1]], [1.0, 2.0, 3.0, 4.0])
        """
        flat = leaf_values(self.node)
        finite = _nan_to_null(flat).drop_null().to_numpy(zero_copy_only=False)
        edges = np.histogram_bin_edges(finite.astype(np.float64, copy=False), bins, range)
        node = self._rowwise(dim, "histogram", lambda s, n: stats.histogram(s, n, edges))
        if dim is None or self.ndim == 1:
            return np.asarray(lay.to_arrow(node).to_numpy(zero_copy_only=False)), edges
        return self._wrap(node), edges

    @shared
    def bincount(self, *, minlength: int = 0, dim: int | None = None) -> Any:
        """How often each non-negative integer occurs: a NumPy vector (``dim=None``, as
        ``np.bincount``) or one fixed row of counts per innermost row (``dim=-1``).

        Parameters
        ----------
        minlength : int, default 0
            The least number of counts (bins) returned.
        $rowwise_dim

        Returns
        -------
        numpy.ndarray or GrumpyArray
            ``max(value) + 1`` (or ``minlength``) counts, over all values or per innermost row.

        Raises
        ------
        ValueError
            If ``minlength`` is not a non-negative integer.
        DTypeError
            For a negative value, or values that are not integers.
        $rowwise_layout_error

        Examples
        --------
        >>> import grumpy_arrow as gr
        >>> x = gr.array([[0, 2, 2], [1]])
        >>> x.bincount().tolist(), x.bincount(dim=1).to_list()
        ([1, 1, 2], [[1, 0, 2], [0, 1, 0]])
        >>> x.bincount(minlength=5).tolist()
        [1, 1, 2, 0, 0]
        """
        if (
            isinstance(minlength, bool)
            or not isinstance(minlength, (int, np.integer))
            or (minlength < 0)
        ):
            raise ValueError(f"minlength must be a non-negative integer, got {minlength!r}")
        node = self._rowwise(dim, "bincount", lambda s, n: stats.bincount(s, n, int(minlength)))
        if dim is None or self.ndim == 1:
            return np.asarray(lay.to_arrow(node).to_numpy(zero_copy_only=False))
        return self._wrap(node)

    def flatten_below(self, but: int) -> GrumpyArray:
        """Every axis below ``but`` merged into it (see ``flatten(but=)``).

        Parameters
        ----------
        but : int
            The deepest axis kept as it is (negative counts from the innermost axis); axis
            ``but + 1`` receives every deeper value.

        Returns
        -------
        GrumpyArray
            At most ``but + 2`` axes.

        Raises
        ------
        OutOfBoundsError
            If ``but`` is outside ``[-ndim, ndim)``.

        Examples
        --------
        >>> import grumpy_arrow as gr
        >>> x = gr.array([[[[1], [2, 3]], [[4]]], [[[5]]]])
        >>> x.flatten_below(0).to_list(), x.flatten_below(1).to_list()
        ([[1, 2, 3, 4], [5]], [[[1, 2, 3], [4]], [[5]]])
        """
        k = rd.normalize_dim(but, self.ndim)
        node = self.node
        ndim = self.ndim
        while ndim > k + 2:
            node = flatten_node(node, k + 2)
            ndim -= 1
        return self._wrap(node)
