"""``ZarrSaver``: datasets in a Zarr v3 group (local path or any fsspec URL).

Layout of a dataset named ``name`` inside the group:

* rectangular: a Zarr array ``name`` of shape ``(rows, *shape)``;
* ragged: a group ``name`` holding arrays ``values`` ``(total, *shape)`` and ``offsets``
  ``(rows + 1,)`` int64.

* strings (``str`` or ``bytes`` of any length): a group ``name`` holding ``value_offsets``
  ``(strings + 1,)`` int64 and ``data`` uint8 (string ``j`` is
  ``data[value_offsets[j]:value_offsets[j + 1]]``, UTF-8 for text), plus ``offsets`` when
  ragged (in elements; an element of shape ``shape`` is ``prod(shape)`` strings).

Either node carries the attribute ``"grumpy_saver": {"form": ..., "rows": n}`` (string
datasets add ``"dtype": "text"`` or ``"binary"`` and ``"shape"``, the element shape). ``rows``
is the commit: an append resizes and writes the data, then updates ``rows``; a crash in
between leaves extra rows past ``rows`` that the next append overwrites (plain Zarr
readers should read ``[:rows]`` after a crash; ``saver.load()`` does).

Local groups replace a dataset's folder in one step, so a kill leaves the old dataset or
the new one, whole (the other datasets of the group are never touched):

* **overwrite** (and the creation of a dataset) builds the new node in a staging folder
  beside the group (``.<group>.staging/``: inside the group, Zarr readers would list it),
  then swaps it in with :func:`~grumpy_arrow.storage.atomic.swap_in`;
* **update** clones the dataset's folder there with hard links, rewrites only the chunk
  files it touches (each first given an inode of its own), and swaps the clone in. It
  costs one hard link per chunk file of the dataset plus the touched chunks. Strings may
  change length: their ``value_offsets`` and ``data`` are rewritten from the first
  updated string on.

Every save and load first calls :func:`~grumpy_arrow.storage.atomic.recover` on the
dataset's folder; an overwrite or update first sweeps what killed saves of the dataset
left in the staging folder.
Remote (fsspec) groups have no rename: there an overwrite removes the old node before
moving the new one in, and an update writes in place.
"""

from __future__ import annotations

import contextlib
import os
import posixpath
import shutil
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import fsspec
import numpy as np
import zarr
import zarr.codecs
from fsspec.implementations.local import LocalFileSystem

from grumpy_arrow._typing import Approach
from grumpy_arrow.errors import StoreError, StoreFormatError
from grumpy_arrow.savers import text
from grumpy_arrow.savers.base import OPTIONS, BufferSaver, parse_dataset_name
from grumpy_arrow.savers.batch import Batch, Info, default_chunks, first_chunk
from grumpy_arrow.savers.files import clone_tree, unshare
from grumpy_arrow.savers.zarr_codecs import Codecs, parse_codecs
from grumpy_arrow.storage.atomic import recover, swap_in, sweep

__all__ = ["ZarrSaver"]

ATTR = "grumpy_saver"


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

    Notes
    -----
    Besides ``dtype``, ``compression`` (``"zstd"``, ``"gzip"``, ``"blosc"``),
    ``compression_opts`` (its level) and ``chunks``, ``save`` takes raygent's / zarr v2's
    ``compressor=`` (one numcodecs or zarr v3 bytes-to-bytes codec, or None) and
    ``filters=`` (numcodecs or zarr v3 array-to-array codecs), translated to zarr v3
    codecs (:mod:`grumpy_arrow.savers.zarr_codecs`). All apply when the dataset is
    created; compressors apply to the values (the ``data`` bytes of strings), filters to
    numeric values only.

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
    >>> import numcodecs
    >>> names = ZarrSaver(path, dataset_name="names")
    >>> names.save([["C", "O"], ["Cl"]], compressor=numcodecs.Blosc(cname="zstd"))
    >>> names.save([["Fe", "é"]])
    >>> names.load().to_list()
    [['C', 'O'], ['Cl'], ['Fe', 'é']]
    """

    options = (*OPTIONS, "compressor", "filters")

    def __init__(
        self,
        path: Any,
        dataset_name: str = "dataset",
        approach: Approach = "append",
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
        return os.path.join(self._beside("locks"), self._flat_name() + ".lock")

    def _beside(self, what: str) -> str:
        """A folder beside the group, shared by its datasets (``.<group>.<what>``)."""
        parent, name = os.path.split(self._root)
        return os.path.join(parent, f".{name}.{what}")

    def _flat_name(self) -> str:
        return self.dataset_name.replace("/", "%2F")

    def _dataset_dir(self) -> str:
        return os.path.join(self._root, *self.dataset_name.split("/"))

    def _stage(self) -> str:
        """A new folder name in the staging folder, for this dataset (whose leftovers of
        killed saves are removed first: the caller holds the dataset's lock)."""
        staging = self._beside("staging")
        os.makedirs(staging, exist_ok=True)  # shared and never removed, like the locks
        prefix = f"{self._flat_name()}.new-"
        for entry in os.listdir(staging):
            if entry.startswith(prefix):
                shutil.rmtree(os.path.join(staging, entry), ignore_errors=True)
        sweep(self._dataset_dir())  # ``.<name>.old-`` of a swap without exchange
        return os.path.join(staging, f"{prefix}{uuid.uuid4().hex[:12]}")

    def _recover(self, *, locked: bool) -> None:
        """Undo a swap cut between its two renames (where there is no exchange)."""
        if self._local:
            recover(self._dataset_dir())

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
            return self._try_open_group(mode)
        except zarr.errors.ContainsGroupError:
            # Another process created the group between zarr's look and its create
            # (processes writing different datasets of one group): open that one.
            return self._try_open_group(mode)

    def _try_open_group(self, mode: str) -> Any:
        try:
            if self._local:
                return zarr.open_group(self._root, mode=mode)
            return zarr.open_group(
                self.path, mode=mode, storage_options=self.storage_options or None
            )
        except (FileNotFoundError, zarr.errors.GroupNotFoundError):
            return None
        except zarr.errors.ContainsGroupError:
            raise
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
        ragged = meta["form"] == "ragged"
        if meta.get("dtype") is not None:
            dtype = text.from_name(meta["dtype"], self._where())
            return Info(int(meta["rows"]), ragged, tuple(meta.get("shape", ())), dtype)
        if ragged:
            values = node["values"]
            return Info(int(meta["rows"]), True, tuple(values.shape[1:]), values.dtype)
        return Info(int(meta["rows"]), False, tuple(node.shape[1:]), node.dtype)

    def _create(self, batch: Batch, options: dict[str, Any], *, replace: bool) -> None:
        """Build the node in the staging folder, then swap it in (local groups)."""
        codecs = parse_codecs(options, self._where())
        if codecs.filters and text.is_strings(batch.dtype):
            raise ValueError(
                f"{self._where()}: filters apply to numeric values; the batch is "
                f"{text.describe(batch.dtype)} (compressor= applies to its bytes)"
            )
        codecs.check_dtype(batch.dtype, self._where())
        if not self._local:
            self._create_remote(batch, options, codecs, replace=replace)
            return
        group = self._group("a")
        parent = posixpath.dirname(self.dataset_name)
        if parent:
            _require_group(group, parent)
        staged = self._stage()
        try:
            self._build(staged, None, batch, options, codecs)
            swap_in(staged, self._dataset_dir())
        except BaseException:
            shutil.rmtree(staged, ignore_errors=True)
            raise
        self._session_node = None  # the dataset is new: look it up again

    def _build(
        self, parent: Any, name: str | None, batch: Batch, options: dict[str, Any], codecs: Codecs
    ) -> None:
        """Write ``batch`` as a complete node (array or group): ``name`` in the group
        ``parent``, or (``name=None``) at the folder ``parent``."""
        compressors, filters = codecs.build()
        chunks = options.get("chunks")
        form = "ragged" if batch.ragged else "rectangular"
        if not batch.ragged and not text.is_variable(batch.dtype):
            node = self._new_array(parent, name, batch.values, chunks, compressors, filters)
            node.attrs[ATTR] = {"form": form, "rows": len(batch)}
            return
        if name is None:
            node = zarr.open_group(parent, mode="w")
        else:
            node = parent.create_group(name, overwrite=True)
        meta: dict[str, Any] = {"form": form, "rows": len(batch)}
        if text.is_variable(batch.dtype):
            value_offsets, data = batch.strings
            first = None if chunks is None else first_chunk(chunks)
            self._new_array(node, "value_offsets", value_offsets, first, (), ())
            self._new_array(node, "data", data, None, compressors, ())
            meta.update(dtype=text.name_of(batch.dtype), shape=list(batch.shape))
        else:
            self._new_array(node, "values", batch.values, chunks, compressors, filters)
        if batch.offsets is not None:
            self._new_array(node, "offsets", batch.offsets, None, (), ())
        node.attrs[ATTR] = meta

    def _create_remote(
        self, batch: Batch, options: dict[str, Any], codecs: Codecs, *, replace: bool
    ) -> None:
        group = self._group("a")
        target = self.dataset_name
        swap = replace and self._node() is not None
        if swap:
            target = f"{self.dataset_name}.tmp-{uuid.uuid4().hex[:8]}"
        self._build(group, target, batch, options, codecs)
        if swap:
            self._swap(group, target)
        self._session_node = None

    @staticmethod
    def _new_array(
        parent: Any, name: str | None, data: np.ndarray, chunks: Any, compressors: Any, filters: Any
    ) -> Any:
        """An array ``name`` of the group ``parent``, or (``name=None``) at the folder
        ``parent``, holding ``data``."""
        chunk_shape = default_chunks(tuple(data.shape[1:]), data.dtype)
        if chunks is not None:
            chunk_shape = tuple(chunks) if isinstance(chunks, (tuple, list)) else (int(chunks),)
            chunk_shape = chunk_shape + tuple(data.shape[len(chunk_shape) :])
        spec = {
            "shape": data.shape,
            "dtype": data.dtype,
            "chunks": chunk_shape,
            "compressors": compressors,
            "filters": filters,
            "fill_value": 0,
            "overwrite": True,
        }
        if name is None:
            arr = zarr.create_array(parent, **spec)
        else:
            arr = parent.create_array(name, **spec)
        if data.size:
            arr[...] = data
        return arr

    def _swap(self, group: Any, tmp: str) -> None:
        """Replace the remote dataset by the freshly written ``tmp`` (not atomic)."""
        fs, _ = fsspec.core.url_to_fs(self.path, **self.storage_options)
        final = f"{self._root.rstrip('/')}/{self.dataset_name}"
        fs.rm(final, recursive=True)
        fs.mv(f"{self._root.rstrip('/')}/{tmp}", final, recursive=True)

    def _append(self, batch: Batch, info: Info) -> None:
        node = self._node()
        if text.is_variable(info.dtype):
            text.append(node, batch, info, _put)
        elif batch.ragged:
            assert batch.offsets is not None
            offsets_arr, values_arr = node["offsets"], node["values"]
            base = int(offsets_arr[info.rows])
            _put(values_arr, base, batch.values)
            _put(offsets_arr, info.rows + 1, batch.offsets[1:] + base)
        else:
            _put(node, info.rows, batch.values)
        meta = dict(node.attrs).get(ATTR) or {"form": "rectangular"}
        node.attrs[ATTR] = {**meta, "rows": info.rows + len(batch)}

    def _write_rows(self, rows: np.ndarray, values: np.ndarray) -> None:
        if not self._local:
            self._node().oindex[rows] = values
            return
        self._rewrite(None, rows, values)

    def _write_values(self, positions: np.ndarray, values: np.ndarray) -> None:
        if not self._local:
            self._node()["values"].oindex[positions] = values
            return
        self._rewrite("values", positions, values)

    def _rewrite(self, member: str | None, positions: np.ndarray, values: np.ndarray) -> None:
        """Update a hard-linked clone of the dataset (touched chunks unshared), swap it in."""

        def edit(staged: str) -> None:
            path = staged if member is None else os.path.join(staged, member)
            arr = zarr.open_array(path, mode="r+")
            for chunk_file in _chunk_files(arr, path, positions):
                unshare(chunk_file)
            arr.oindex[positions] = values

        self._in_clone(edit)

    def _in_clone(self, edit: Callable[[str], None]) -> None:
        """``edit(folder)`` a hard-linked clone of the dataset's folder, then swap it in."""
        staged = self._stage()
        try:
            clone_tree(self._dataset_dir(), staged)
            edit(staged)
            swap_in(staged, self._dataset_dir())
        except BaseException:
            shutil.rmtree(staged, ignore_errors=True)
            raise
        self._session_node = None

    def _read_strings(self, info: Info, first: int) -> tuple[np.ndarray, np.ndarray]:
        node = self._node()
        stop = self._string_count(node, info)
        value_offsets = np.asarray(node["value_offsets"][first : stop + 1], dtype=np.int64)
        data = np.asarray(node["data"][int(value_offsets[0]) : int(value_offsets[-1])])
        return value_offsets, data

    def _write_strings(self, first: int, value_offsets: np.ndarray, data: np.ndarray) -> None:
        """Rewrite the strings' tails (in a clone for local groups: only the chunks from
        the first changed one on are unshared and written)."""
        tails = {"value_offsets": (first, value_offsets), "data": (int(value_offsets[0]), data)}
        if not self._local:
            node = self._node()
            for member, (start, new) in tails.items():
                _put(node[member], start, new)
            return

        def edit(staged: str) -> None:
            for member, (start, new) in tails.items():
                path = os.path.join(staged, member)
                arr = zarr.open_array(path, mode="r+")
                grid = int(arr.metadata.chunk_grid.chunk_shape[0])
                stop = max(int(arr.shape[0]), start + 1)
                for chunk_file in _chunk_files(arr, path, np.arange(start, stop, grid)):
                    unshare(chunk_file)
                _put(arr, start, new)

        self._in_clone(edit)

    @staticmethod
    def _string_count(node: Any, info: Info) -> int:
        """Committed strings: committed elements times the strings of one element."""
        elements = int(node["offsets"][info.rows]) if info.ragged else info.rows
        return elements * text.element_size(info.shape)

    def _offsets_at(self, rows: np.ndarray) -> np.ndarray:
        offsets = self._node()["offsets"]
        order = np.argsort(rows, kind="stable")
        picked = np.empty((len(rows), 2), dtype=np.int64)
        picked[order, 0] = offsets.oindex[rows[order]]
        picked[order, 1] = offsets.oindex[rows[order] + 1]
        return picked

    def _read(self, info: Info) -> tuple[np.ndarray, np.ndarray | None]:
        node = self._node()
        offsets = None
        if info.ragged:
            offsets = np.asarray(node["offsets"][: info.rows + 1], dtype=np.int64)
        if text.is_variable(info.dtype):
            return self._read_text(info, offsets), offsets
        if offsets is not None:
            return np.asarray(node["values"][: int(offsets[-1])]), offsets
        return np.asarray(node[: info.rows]), None

    def _check_options(self, options: dict[str, Any]) -> None:
        parse_codecs(options, self._where())
        chunks = options.get("chunks")
        sizes = chunks if isinstance(chunks, (tuple, list)) else (chunks,)
        if chunks is not None and not (sizes and all(_is_positive_int(c) for c in sizes)):
            raise ValueError(
                f"{self._where()}: chunks must be a positive int (rows per chunk) or a tuple "
                f"of positive ints (rows, then the row's axes), got {chunks!r}"
            )


def _is_positive_int(value: Any) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool) and bool(value > 0)


def _require_group(group: Any, name: str) -> None:
    """``group.require_group(name)``, tolerating another process creating it meanwhile."""
    try:
        group.require_group(name)
    except zarr.errors.ContainsGroupError:
        group.require_group(name)


def _chunk_files(arr: Any, path: str, positions: np.ndarray) -> list[str]:
    """The files of the chunks holding rows ``positions`` of the array at ``path``.

    Metadata this reader does not know (another chunk grid, a Zarr version's other
    attributes) gives every file of the array: all of them are then unshared.
    """
    try:
        meta = arr.metadata
        grid = tuple(int(c) for c in meta.chunk_grid.chunk_shape)
        counts = [-(-int(n) // c) for n, c in zip(arr.shape, grid, strict=True)]
        firsts = np.unique(positions // grid[0]).tolist()
        keys = [
            meta.encode_chunk_key((int(i), *rest))
            for i in firsts
            for rest in np.ndindex(*counts[1:])
        ]
    except (AttributeError, TypeError, ValueError):
        keys = [
            os.path.relpath(os.path.join(folder, name), path)
            for folder, _, names in os.walk(path)
            for name in names
            if name not in ("zarr.json", ".zarray", ".zattrs")
        ]
    return [os.path.join(path, *key.replace(os.sep, "/").split("/")) for key in keys]


def _put(arr: Any, start: int, data: np.ndarray) -> None:
    """Write ``data`` at row ``start`` and end the array there (drops an uncommitted tail)."""
    arr.resize((start + len(data), *arr.shape[1:]))
    if len(data):
        arr[start:] = data
