"""``ZarrSaver``: datasets in a Zarr v3 group (local path or any fsspec URL).

Layout of a dataset named ``name`` inside the group:

* rectangular: a Zarr array ``name`` of shape ``(rows, *shape)``;
* ragged: a group ``name`` holding arrays ``values`` ``(total, *shape)`` and ``offsets``
  ``(rows + 1,)`` int64.

Either node carries the attribute ``"grumpy_saver": {"form": ..., "rows": n}``. ``rows``
is the commit: an append resizes and writes the data, then updates ``rows``; a crash in
between leaves extra rows past ``rows`` that the next append overwrites (plain Zarr
readers should read ``[:rows]`` after a crash; ``saver.load()`` does).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import uuid
from collections.abc import Iterator
from typing import Any

import fsspec
import numpy as np
import zarr
import zarr.codecs
from fsspec.implementations.local import LocalFileSystem

from grumpy_arrow.errors import StoreError, StoreFormatError
from grumpy_arrow.savers.base import Batch, BufferSaver, Info, default_chunks, parse_dataset_name

__all__ = ["ZarrSaver"]

ATTR = "grumpy_saver"
COMPRESSIONS = ("none", "zstd", "gzip", "blosc")


def zarr_compressors(compression: Any, level: Any) -> Any:
    """The zarr ``compressors=`` value for a compression name and level."""
    if compression is None or compression == "none":
        return None
    if compression == "zstd":
        return zarr.codecs.ZstdCodec(level=3 if level is None else int(level))
    if compression == "gzip":
        return zarr.codecs.GzipCodec(level=5 if level is None else int(level))
    if compression == "blosc":
        clevel = 5 if level is None else int(level)
        return zarr.codecs.BloscCodec(cname="lz4", clevel=clevel, shuffle="shuffle")
    raise ValueError(
        f"compression must be one of {', '.join(COMPRESSIONS)} or None for ZarrSaver, "
        f"got {compression!r}"
    )


class ZarrSaver(BufferSaver):
    """Save batches to a dataset of a Zarr v3 group.

    Parameters
    ----------
    path : str or path
        The group: a local directory or an fsspec URL (``memory://``, ``s3://``...).
    dataset_name : str
        The dataset's path inside the group; ``/`` makes subgroups. Several datasets
        share one group.
    approach : {"append", "overwrite", "update"}
        See :class:`~grumpy_arrow.savers.Saver`.
    ragged : bool, optional
        As for :class:`~grumpy_arrow.savers.NumpySaver`: ``True`` always stores values +
        offsets, ``None`` takes the form of the first batch.
    storage_options : dict, optional
        Passed to fsspec for URLs.

    Examples
    --------
    >>> import os, tempfile
    >>> from grumpy_arrow.savers import ZarrSaver
    >>> path = os.path.join(tempfile.mkdtemp(), "results.zarr")
    >>> saver = ZarrSaver(path, dataset_name="scores")
    >>> saver.save([1.0, 2.0])
    >>> saver.save([3.0])
    >>> saver.load().tolist()
    [1.0, 2.0, 3.0]
    >>> ZarrSaver(path, dataset_name="coords").save([[[0, 0, 0]], [[1, 1, 1], [2, 2, 2]]])
    >>> ZarrSaver(path, dataset_name="coords").load().to_list()
    [[[0, 0, 0]], [[1, 1, 1], [2, 2, 2]]]
    """

    _lock_dir_owned = True

    def __init__(
        self,
        path: Any,
        dataset_name: str = "dataset",
        approach: str = "append",
        *,
        ragged: bool | None = None,
        storage_options: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(approach=approach, ragged=ragged)
        self.path = os.fspath(path) if isinstance(path, os.PathLike) else str(path)
        self.dataset_name = parse_dataset_name(dataset_name)
        self.storage_options = dict(storage_options or {})
        fs, root = fsspec.core.url_to_fs(self.path, **self.storage_options)
        self._local = isinstance(fs, LocalFileSystem)
        self._root = os.path.abspath(root) if self._local else root

    # -- naming -------------------------------------------------------------------------

    def _where(self) -> str:
        return f"{self.path}::{self.dataset_name}"

    def _key(self) -> str:
        return f"zarr:{self._root}::{self.dataset_name}"

    def _lock_path(self) -> str | None:
        if not self._local:
            return None
        # Beside the group, not in it: Zarr readers warn about foreign files in a group.
        parent, name = os.path.split(self._root)
        locks = os.path.join(parent, f".{name}.locks")
        return os.path.join(locks, self.dataset_name.replace("/", "%2F") + ".lock")

    @contextlib.contextmanager
    def _session(self) -> Iterator[None]:
        """One save opens the group once."""
        self._session_group: Any = None
        self._session_node: Any = None
        self._in_session = True
        try:
            yield
        finally:
            self._in_session = False
            self._session_group = self._session_node = None

    def _group(self, mode: str = "a") -> Any:
        """The group; ``"r"`` needs it to exist, ``"a"`` creates it."""
        if not getattr(self, "_in_session", False):
            return self._open_group(mode)
        if self._session_group is None:
            # Inside a save: open for writing at once, the same object serves the reads.
            self._session_group = self._open_group("r+" if mode == "r" else mode)
        return self._session_group

    def _open_group(self, mode: str) -> Any:
        try:
            if self._local:
                return zarr.open_group(self._root, mode=mode)
            return zarr.open_group(
                self.path, mode=mode, storage_options=self.storage_options or None
            )
        except (FileNotFoundError, zarr.errors.GroupNotFoundError):
            return None
        except (ValueError, TypeError, zarr.errors.ContainsArrayError) as err:
            raise StoreError(f"{self.path}: not a Zarr v3 group ({err})") from err

    def _node(self) -> Any:
        """The dataset's node, or None (looked up once per save)."""
        cached = getattr(self, "_session_node", None)
        if cached is not None and getattr(self, "_in_session", False):
            return cached
        group = self._group("r") if self._exists_root() else None
        if group is None:
            return None
        try:
            node = group[self.dataset_name]
        except KeyError:
            return None
        if getattr(self, "_in_session", False):
            self._session_node = node
        return node

    def _exists_root(self) -> bool:
        if self._local:
            return os.path.exists(os.path.join(self._root, "zarr.json"))
        return True

    # -- primitives ---------------------------------------------------------------------

    def _info(self) -> Info | None:
        node = self._node()
        if node is None:
            return None
        meta = dict(node.attrs).get(ATTR)
        if meta is None and isinstance(node, zarr.Array) and node.ndim >= 1:
            # An array written by other code: its rows are its length.
            return Info(int(node.shape[0]), False, tuple(node.shape[1:]), node.dtype)
        if not isinstance(meta, dict) or meta.get("form") not in ("rectangular", "ragged"):
            raise StoreFormatError(
                f"{self._where()}: this node was not written by a grumpy_arrow saver (no "
                f"{ATTR!r} attribute); choose another dataset_name or approach 'overwrite'"
            )
        if meta["form"] == "ragged":
            values = node["values"]
            return Info(int(meta["rows"]), True, tuple(values.shape[1:]), values.dtype)
        return Info(int(meta["rows"]), False, tuple(node.shape[1:]), node.dtype)

    def _create(self, batch: Batch, options: dict[str, Any], *, replace: bool) -> None:
        group = self._group("a")
        target = self.dataset_name
        swap = replace and self._node() is not None
        if swap:
            target = f"{self.dataset_name}.tmp-{uuid.uuid4().hex[:8]}"
        compressors = zarr_compressors(options.get("compression"), options.get("compression_opts"))
        chunks = options.get("chunks")
        if batch.ragged:
            assert batch.offsets is not None
            node = group.create_group(target, overwrite=True)
            self._new_array(node, "values", batch.values, chunks, compressors)
            self._new_array(node, "offsets", batch.offsets, None, None)
            node.attrs[ATTR] = {"form": "ragged", "rows": len(batch)}
        else:
            node = self._new_array(group, target, batch.values, chunks, compressors)
            node.attrs[ATTR] = {"form": "rectangular", "rows": len(batch)}
        if swap:
            self._swap(group, target)
        self._session_node = None  # the dataset is new: look it up again

    @staticmethod
    def _new_array(group: Any, name: str, data: np.ndarray, chunks: Any, compressors: Any) -> Any:
        chunk_shape = default_chunks(tuple(data.shape[1:]), data.dtype)
        if chunks is not None:
            chunk_shape = tuple(chunks) if isinstance(chunks, (tuple, list)) else (int(chunks),)
            chunk_shape = chunk_shape + tuple(data.shape[len(chunk_shape) :])
        arr = group.create_array(
            name,
            shape=data.shape,
            dtype=data.dtype,
            chunks=chunk_shape,
            compressors=compressors,
            fill_value=0,
            overwrite=True,
        )
        if data.size:
            arr[...] = data
        return arr

    def _swap(self, group: Any, tmp: str) -> None:
        """Replace the dataset by the freshly written ``tmp`` (a rename where local)."""
        if self._local:
            final = os.path.join(self._root, self.dataset_name)
            trash = f"{final}.old-{uuid.uuid4().hex[:8]}"
            os.rename(final, trash)
            os.rename(os.path.join(self._root, tmp), final)
            shutil.rmtree(trash, ignore_errors=True)
            return
        fs, _ = fsspec.core.url_to_fs(self.path, **self.storage_options)
        final = f"{self._root.rstrip('/')}/{self.dataset_name}"
        fs.rm(final, recursive=True)
        fs.mv(f"{self._root.rstrip('/')}/{tmp}", final, recursive=True)

    def _append(self, batch: Batch, info: Info) -> None:
        node = self._node()
        if batch.ragged:
            assert batch.offsets is not None
            offsets_arr, values_arr = node["offsets"], node["values"]
            base = int(offsets_arr[info.rows])
            _put(values_arr, base, batch.values)
            _put(offsets_arr, info.rows + 1, batch.offsets[1:] + base)
        else:
            _put(node, info.rows, batch.values)
        form = "ragged" if batch.ragged else "rectangular"
        node.attrs[ATTR] = {"form": form, "rows": info.rows + len(batch)}

    def _write_rows(self, rows: np.ndarray, values: np.ndarray) -> None:
        self._node().oindex[rows] = values

    def _write_values(self, positions: np.ndarray, values: np.ndarray) -> None:
        self._node()["values"].oindex[positions] = values

    def _offsets_at(self, rows: np.ndarray) -> np.ndarray:
        offsets = self._node()["offsets"]
        order = np.argsort(rows, kind="stable")
        picked = np.empty((len(rows), 2), dtype=np.int64)
        picked[order, 0] = offsets.oindex[rows[order]]
        picked[order, 1] = offsets.oindex[rows[order] + 1]
        return picked

    def _read(self, info: Info) -> tuple[np.ndarray, np.ndarray | None]:
        node = self._node()
        if info.ragged:
            offsets = np.asarray(node["offsets"][: info.rows + 1], dtype=np.int64)
            return np.asarray(node["values"][: int(offsets[-1])]), offsets
        return np.asarray(node[: info.rows]), None

    def _check_options(self, options: dict[str, Any]) -> None:
        zarr_compressors(options.get("compression"), options.get("compression_opts"))


def _put(arr: Any, start: int, data: np.ndarray) -> None:
    """Write ``data`` at row ``start`` and end the array there (drops an uncommitted tail)."""
    arr.resize((start + len(data), *arr.shape[1:]))
    if len(data):
        arr[start:] = data
