"""PyTorch: tensors from ragged batches, and datasets over stores and streams.

``to_torch(x, pad=0)`` gives a dense tensor and a boolean mask; ``layout="jagged"`` gives a
``torch.nested`` jagged tensor built from the Arrow offsets and values. Union rows appear as
length-1 rows, with an ``is_scalar`` mask. Tensors own their memory unless ``copy=False``
asks for tensors that share the Arrow buffers (torch has no read-only tensors, so a write
into those would change the source).

``Dataset`` is map-style (``__getitems__`` reads a whole batch through the read planner);
``IterableDataset`` splits a stream's batches across DataLoader workers (and, through the
stream, across ranks) without duplicates. Both pickle as paths and parameters, so they work
with fork and spawn workers.
"""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING, Any, cast

import numpy as np

from grumpy_arrow import layout as lay
from grumpy_arrow._optional import require
from grumpy_arrow._typing import TorchLayout
from grumpy_arrow.array import GrumpyArray, asarray
from grumpy_arrow.compute.structure import lift_union
from grumpy_arrow.errors import LayoutError
from grumpy_arrow.frame.dataframe import DataFrame
from grumpy_arrow.storage.api import open_store
from grumpy_arrow.storage.handle import Handle
from grumpy_arrow.storage.shards import ShardedHandle

__all__ = ["Dataset", "IterableDataset", "to_torch"]


_INSTALL = "torch (CPU wheels work)"


def _torch() -> Any:
    return require("torch", what="this", install=_INSTALL)


def to_torch(x: Any, *, pad: Any = 0, layout: TorchLayout = "padded", copy: bool = True) -> Any:
    """A tensor (or tensors) from an array or a frame.

    Parameters
    ----------
    x : GrumpyArray, DataFrame or array-like
        What to convert (array-likes go through :func:`grumpy_arrow.array`).
    pad : scalar
        Fill value of padded layouts.
    layout : {"padded", "jagged"}
        ``"padded"``: ``(values, mask)`` dense tensors (mask True where a value exists);
        arrays whose every axis is fixed (flat ones, ``n * 60 * 80 * 3 * uint8``) and
        that have no nulls give just the tensor, of their shape. ``"jagged"``: a ``torch.nested``
        jagged tensor (one ragged dim: lists of numbers, or lists of fixed-size rows).
    copy : bool
        ``True`` (the default): every tensor owns its memory, so writing into it never
        changes ``x``. ``False``: tensors share memory with ``x``'s Arrow buffers where the
        layout allows it (flat arrays without nulls; the values and offsets of jagged
        tensors). Arrow buffers are meant to be immutable and torch cannot mark a tensor
        read-only, so **writing into such a tensor writes through into** ``x``, into every
        array, frame, slice or in-memory stream sharing those buffers (later epochs of
        ``gr.stream(..., in_memory=True)`` included). Padded tensors of ragged data are
        always new memory.

    Returns
    -------
    tensor, or (tensor, mask), or for unions (…, is_scalar); for frames a dict by column.

    Raises
    ------
    LayoutError
        For strings, or a layout the chosen tensor layout cannot hold (naming it).
    ValueError
        For an unknown ``layout``.
    TypeError
        For a ``copy`` that is not a bool.

    Examples
    --------
    >>> import grumpy_arrow as gr
    >>> x = gr.array([1.0, 2.0, 3.0])
    >>> t = x.to_torch()
    >>> t -= 1
    >>> x.to_list()
    [1.0, 2.0, 3.0]
    >>> shared = x.to_torch(copy=False)  # writes would reach x: read only
    >>> shared.tolist()
    [1.0, 2.0, 3.0]
    """
    if not isinstance(copy, bool):
        raise TypeError(f"to_torch(copy=...) takes True or False, got {copy!r}")
    if isinstance(x, DataFrame):
        return {name: to_torch(x[name], pad=pad, layout=layout, copy=copy) for name in x.columns}
    arr = asarray(x)
    torch = _torch()
    is_scalar = None
    if arr.is_union:
        node = arr.node
        assert isinstance(node, lay.UnionNode)
        is_scalar = _tensor(torch, node.type_ids == 0, copy=False)  # a new array already
    if layout == "jagged":
        out = _jagged(arr, torch, copy)
    elif layout == "padded":
        if _dense(arr):
            # Bools are bit-packed in Arrow: to_numpy builds a new array for them.
            fresh = arr.dtype.kind == "b"
            return _tensor(torch, np.ascontiguousarray(arr.to_numpy()), copy=copy and not fresh)
        values, mask = arr.to_numpy(pad=pad)  # both new arrays
        if values.dtype == object:
            raise LayoutError("strings cannot become tensors; encode them to numbers first")
        out = (_tensor(torch, values, copy=False), _tensor(torch, mask, copy=False))
    else:
        raise ValueError(f"layout must be 'padded' or 'jagged', got {layout!r}")
    if is_scalar is not None:
        return (*out, is_scalar) if isinstance(out, tuple) else (out, is_scalar)
    return out


def _tensor(torch: Any, values: np.ndarray, *, copy: bool) -> Any:
    """A tensor of ``values``: its own copy, or (``copy=False``) sharing their memory.

    ``copy=False`` is for arrays made for this tensor alone, and for the explicit
    zero-copy of ``to_torch(copy=False)``. Arrow buffers are read-only, which torch only
    warns about (it has no read-only tensors), so that warning is silenced here: the
    docstring of :func:`to_torch` says what writing does.
    """
    if copy:
        return torch.from_numpy(np.array(values, copy=True, order="C"))
    if values.flags.writeable:
        return torch.from_numpy(values)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return torch.from_numpy(values)


def _dense(arr: GrumpyArray) -> bool:
    """Whether ``arr`` is one dense tensor: numbers, every axis fixed, no nulls."""
    if arr.null_count or arr.dtype.kind not in "iufb" or arr.is_union:
        return False
    node = arr.node
    while isinstance(node, lay.ListNode):
        if node.size is None or node.validity is not None:
            return False
        node = node.content
    return isinstance(node, lay.Leaf) and node.values.null_count == 0


def _jagged(arr: GrumpyArray, torch: Any, copy: bool) -> Any:
    node = lift_union(arr.node)
    if not isinstance(node, lay.ListNode):
        raise LayoutError(f"a jagged tensor needs list rows, got {arr.type}")
    content = node.content
    if isinstance(content, lay.ListNode):
        # Below the ragged dim, every axis has one length (fixed, or equal lists).
        widths: list[int] = []
        inner: lay.Node = content
        while isinstance(inner, lay.ListNode):
            lens = np.diff(inner.offsets)
            if len(lens) and not np.all(lens == lens[0]):
                raise LayoutError(
                    "a jagged tensor has one ragged dim: the inner lists must all have one "
                    f"length, got {arr.type}"
                )
            widths.append(int(lens[0]) if len(lens) else (inner.size or 0))
            inner = inner.content
        if not isinstance(inner, lay.Leaf):
            raise LayoutError(f"cannot make a jagged tensor of {arr.type}")
        values, fresh = _values(inner)
        values = values.reshape(-1, *widths)
    elif isinstance(content, lay.Leaf):
        values, fresh = _values(content)
    else:
        raise LayoutError(f"cannot make a jagged tensor of {arr.type}")
    # The offsets may be the frame's shared level offsets: copied unless copy=False.
    offsets = _tensor(torch, np.ascontiguousarray(node.offsets, dtype=np.int64), copy=copy)
    values_t = _tensor(torch, values, copy=copy and not fresh)
    return torch.nested.nested_tensor_from_jagged(values_t, offsets=offsets)


def _values(leaf: lay.Leaf) -> tuple[np.ndarray, bool]:
    """The leaf's values as NumPy, and whether that array is new (not Arrow's memory)."""
    if leaf.values.null_count:
        raise LayoutError("a jagged tensor cannot hold nulls; fill them first")
    values = leaf.values.to_numpy(zero_copy_only=False)
    if values.dtype == object:
        raise LayoutError("strings cannot become tensors; encode them to numbers first")
    # Arrow's zero-copy views are read-only; bools (bit-packed) come out as a new array.
    fresh = bool(values.flags.writeable) and values.dtype == np.bool_
    return np.ascontiguousarray(values), fresh


if TYPE_CHECKING:  # torch is not followed by the type checker: its classes are Any there
    _MapBase = object
    _IterBase = object
else:
    try:  # real torch datasets when torch is there (this module is imported on first use)
        _data = require("torch.utils.data", what="gr.torch", install=_INSTALL)
    except ImportError:  # pragma: no cover - exercised without torch
        _MapBase = object
        _IterBase = object
    else:
        _MapBase, _IterBase = _data.Dataset, _data.IterableDataset


class Dataset(_MapBase):
    """Map-style dataset over a store: ``ds[i]`` is row ``i``, ``ds.__getitems__(idx)`` a
    batch read through the read planner (what ``DataLoader`` calls with a batch sampler).

    Parameters
    ----------
    source : store path or ``gr.open`` handle
    columns : list of str, optional
    transform : callable, optional
        Applied to every row or batch (e.g. :func:`to_torch`).
    """

    def __init__(
        self, source: Any, *, columns: list[str] | None = None, transform: Any = None
    ) -> None:

        sharded = isinstance(source, ShardedHandle)
        handle = source if isinstance(source, Handle) or sharded else open_store(source)
        self.handle = handle if columns is None else handle[list(columns)]
        self.transform = transform

    def __len__(self) -> int:
        return len(self.handle)

    def __getitem__(self, i: int) -> Any:
        out = self.handle[int(i)]
        return out if self.transform is None else self.transform(out)

    def __getitems__(self, indices: list[int]) -> Any:
        out = self.handle.take(np.asarray(indices, dtype=np.int64))
        return out if self.transform is None else self.transform(out)


class IterableDataset(_IterBase):
    """Iterable dataset over a stream: each DataLoader worker takes every
    ``num_workers``-th batch of this rank's stream, so no batch is seen twice.

    Use ``DataLoader(IterableDataset(stream), batch_size=None)``: the stream already
    batches. ``set_epoch`` forwards to the stream.

    Parameters
    ----------
    stream : Stream
        What to read (its batches, shuffle, ranks and transforms).
    format : {"grumpy", "torch"}
        ``"grumpy"``: batches as the stream gives them (frames or arrays).
        ``"torch"``: a frame becomes ``{column: tensors}`` (an array, its tensors), each
        numeric column as :func:`to_torch` makes it with ``pad`` and its ``layout``;
        string columns stay Python lists.
    layout : str or dict
        ``"padded"`` or ``"jagged"`` for every column, or ``{column: layout}`` (columns
        not named are padded). Columns of one value a row are plain tensors either way.
    pad : scalar
        Fill value of padded tensors.
    transform : callable, optional
        Applied to every batch after the conversion.

    Notes
    -----
    Resuming: ``state_dict()`` / ``load_state_dict()`` follow ``torchdata``'s
    ``StatefulDataLoader``, which keeps one state per worker. A worker's state is the
    stream's position when the epoch's iteration began plus the batches this worker has
    yielded, so a resumed loader reads only the batches still to come. It never reads and
    discards ("fast-forwards") the ones already seen.
    """

    def __init__(
        self,
        stream: Any,
        *,
        format: str = "grumpy",
        layout: Any = "padded",
        pad: Any = 0,
        transform: Any = None,
    ) -> None:
        if format not in ("grumpy", "torch"):
            raise ValueError(f"format must be 'grumpy' or 'torch', got {format!r}")
        layouts = layout.values() if isinstance(layout, dict) else [layout]
        for value in layouts:
            if value not in ("padded", "jagged"):
                raise ValueError(f"layout must be 'padded' or 'jagged', got {value!r}")
        self.stream = stream
        self.format, self.layout, self.pad = format, layout, pad
        self.transform = transform
        self._begin: dict[str, Any] | None = None  # the stream's state when iteration began
        self._yielded = 0
        self._resume: dict[str, Any] | None = None

    def set_epoch(self, epoch: int) -> None:
        self.stream.set_epoch(epoch)

    def __len__(self) -> int:
        return len(self.stream)

    def state_dict(self) -> dict[str, Any]:
        """This worker's position: the stream's state when the epoch's iteration began
        and the batches this worker has yielded since."""
        begin = self._begin if self._begin is not None else self.stream.state_dict()
        return {"stream": begin, "yielded": self._yielded}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Resume after ``state`` (applied when iteration starts, in the worker)."""
        if not isinstance(state, dict) or "stream" not in state or "yielded" not in state:
            raise ValueError(
                f"an IterableDataset state holds 'stream' and 'yielded', got {state!r}"
            )
        self._resume = state

    def __iter__(self) -> Any:
        torch = _torch()
        info = torch.utils.data.get_worker_info()
        worker, workers = (info.id, info.num_workers) if info is not None else (0, 1)
        stream = self.stream
        skip = 0
        if self._resume is not None:
            stream.load_state_dict(self._resume["stream"])
            skip = int(self._resume["yielded"])
            self._resume = None
        self._begin = stream.state_dict()
        start = self._begin["batches_consumed"]
        # This worker's share of the rest of the epoch, less what it has yielded already.
        part = stream[start:][worker::workers][skip:]
        self._yielded = skip
        for batch in part:
            self._yielded += 1
            out = self._convert(batch) if self.format == "torch" else batch
            yield out if self.transform is None else self.transform(out)

    def _convert(self, batch: Any) -> Any:
        """A batch as tensors (see ``format="torch"``)."""
        if not isinstance(batch, DataFrame):
            return self._column(batch, self._layout_of(None))
        return {name: self._column(batch[name], self._layout_of(name)) for name in batch.columns}

    def _layout_of(self, name: str | None) -> TorchLayout:
        """The column's layout (checked in ``__init__``)."""
        value = self.layout.get(name, "padded") if isinstance(self.layout, dict) else self.layout
        return cast(TorchLayout, value)

    def _column(self, column: GrumpyArray, layout: TorchLayout) -> Any:
        if column.dtype.kind in "US":
            return column.to_list()  # strings stay Python values
        if column.ndim == 1:
            layout = "padded"  # one value a row: a plain tensor in either layout
        return to_torch(column, pad=self.pad, layout=layout)
