"""PyTorch: tensors from ragged batches, and datasets over stores and streams.

``to_torch(x, pad=0)`` gives a dense tensor and a boolean mask; ``layout="jagged"`` gives a
``torch.nested`` jagged tensor built from the Arrow offsets and values (no copy where torch
allows). Union rows appear as length-1 rows, with an ``is_scalar`` mask.

``Dataset`` is map-style (``__getitems__`` reads a whole batch through the read planner);
``IterableDataset`` splits a stream's batches across DataLoader workers (and, through the
stream, across ranks) without duplicates. Both pickle as paths and parameters, so they work
with fork and spawn workers.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from grumpy_arrow import layout as lay
from grumpy_arrow.array import GrumpyArray, asarray
from grumpy_arrow.errors import LayoutError

__all__ = ["Dataset", "IterableDataset", "to_torch"]


def _torch() -> Any:
    try:
        import torch
    except ImportError as err:  # pragma: no cover - exercised without torch
        raise ImportError("this needs PyTorch: pip install torch (CPU wheels work)") from err
    return torch


def to_torch(x: Any, *, pad: Any = 0, layout: str = "padded") -> Any:
    """A tensor (or tensors) from an array or a frame.

    Parameters
    ----------
    pad : scalar
        Fill value of padded layouts.
    layout : {"padded", "jagged"}
        ``"padded"``: ``(values, mask)`` dense tensors (mask True where a value exists);
        flat arrays without nulls give just the tensor. ``"jagged"``: a ``torch.nested``
        jagged tensor (one ragged dim: lists of numbers, or lists of fixed-size rows).

    Returns
    -------
    tensor, or (tensor, mask), or for unions (…, is_scalar); for frames a dict by column.
    """
    from grumpy_arrow.frame.dataframe import DataFrame

    if isinstance(x, DataFrame):
        return {name: to_torch(x[name], pad=pad, layout=layout) for name in x.columns}
    arr = asarray(x)
    torch = _torch()
    is_scalar = None
    if arr.is_union:
        node = arr.node
        assert isinstance(node, lay.UnionNode)
        is_scalar = _tensor(torch, node.type_ids == 0)
    if layout == "jagged":
        out = _jagged(arr, torch)
    elif layout == "padded":
        if arr.ndim == 1 and arr.null_count == 0 and arr.dtype.kind in "iufb":
            return _tensor(torch, np.ascontiguousarray(arr.to_numpy()))
        values, mask = arr.to_numpy(pad=pad)
        if values.dtype == object:
            raise LayoutError("strings cannot become tensors; encode them to numbers first")
        out = (_tensor(torch, values), _tensor(torch, mask))
    else:
        raise ValueError(f"layout must be 'padded' or 'jagged', got {layout!r}")
    if is_scalar is not None:
        return (*out, is_scalar) if isinstance(out, tuple) else (out, is_scalar)
    return out


def _tensor(torch: Any, values: np.ndarray) -> Any:
    """A tensor sharing ``values``' memory. Arrow buffers are read-only, which torch only
    warns about; the tensors are views for reading (copy before writing into them)."""
    if values.flags.writeable:
        return torch.from_numpy(values)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return torch.from_numpy(values)


def _jagged(arr: GrumpyArray, torch: Any) -> Any:
    from grumpy_arrow.compute.structure import lift_union

    node = lift_union(arr.node)
    if not isinstance(node, lay.ListNode):
        raise LayoutError(f"a jagged tensor needs list rows, got {arr.type}")
    content = node.content
    if isinstance(content, lay.ListNode):
        lens = np.diff(content.offsets)
        if len(lens) and not np.all(lens == lens[0]):
            raise LayoutError(
                "a jagged tensor has one ragged dim: the inner lists must all have one "
                f"length, got {arr.type}"
            )
        width = int(lens[0]) if len(lens) else 0
        leaf = content.content
        if not isinstance(leaf, lay.Leaf):
            raise LayoutError(f"cannot make a jagged tensor of {arr.type}")
        values = _values(leaf).reshape(-1, width)
    elif isinstance(content, lay.Leaf):
        values = _values(content)
    else:
        raise LayoutError(f"cannot make a jagged tensor of {arr.type}")
    offsets = _tensor(torch, np.ascontiguousarray(node.offsets, dtype=np.int64))
    return torch.nested.nested_tensor_from_jagged(_tensor(torch, values), offsets=offsets)


def _values(leaf: lay.Leaf) -> np.ndarray:
    if leaf.values.null_count:
        raise LayoutError("a jagged tensor cannot hold nulls; fill them first")
    values = leaf.values.to_numpy(zero_copy_only=False)
    if values.dtype == object:
        raise LayoutError("strings cannot become tensors; encode them to numbers first")
    return np.ascontiguousarray(values)


try:  # real torch datasets when torch is there (this module is imported on first use)
    from torch.utils.data import Dataset as _MapBase
    from torch.utils.data import IterableDataset as _IterBase
except ImportError:  # pragma: no cover - exercised without torch
    _MapBase = object
    _IterBase = object


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

    def __init__(self, source: Any, *, columns: list[str] | None = None,
                 transform: Any = None) -> None:  # fmt: skip
        from grumpy_arrow.storage.handle import Handle, open_store
        from grumpy_arrow.storage.shards import ShardedHandle

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
    """

    def __init__(self, stream: Any, *, transform: Any = None) -> None:
        self.stream = stream
        self.transform = transform

    def set_epoch(self, epoch: int) -> None:
        self.stream.set_epoch(epoch)

    def __len__(self) -> int:
        return len(self.stream)

    def __iter__(self) -> Any:
        torch = _torch()
        info = torch.utils.data.get_worker_info()
        stream = self.stream
        if info is not None and info.num_workers > 1:
            # Resume where the stream stands, then deal the rest out to the workers.
            start = stream.state_dict()["batches_consumed"]
            stream = stream[start:][info.id :: info.num_workers]
        for batch in stream:
            yield batch if self.transform is None else self.transform(batch)
