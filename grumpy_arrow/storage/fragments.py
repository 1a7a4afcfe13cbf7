"""Fragments: picklable row ranges of a store, the unit of work of Dask and Ray readers.

``h.fragments()`` cuts a store (or a sharded dataset) into consecutive row ranges that
cover every row exactly once, in order. A fragment never crosses a shard of a sharded
dataset, and its ends sit on inner-chunk boundaries of the outer (row-level) leaves, so
two fragments never decode the same inner chunk; with the default size a fragment is one
shard file of rows (of the row-level leaf with the smallest shards). A
:class:`Fragment` is a small frozen value (path, options, row range, shard, columns): it
pickles to another process or machine, where :meth:`Fragment.to_arrow` and
:meth:`Fragment.to_grumpy` open the store (once per process) and read the range through the
read planner.

Examples
--------
>>> import os, tempfile, pickle, grumpy_arrow as gr
>>> tmp = tempfile.TemporaryDirectory()
>>> path = os.path.join(tmp.name, "frags.gr")
>>> gr.save(gr.array([[i] * (i % 3) for i in range(10)]), path, shard_rows=6, chunk_size=4)
>>> frags = gr.open(path).fragments(rows_per_fragment=4)
>>> [(f.start, f.stop, f.shard) for f in frags]
[(0, 4, 'shard-000000'), (4, 6, 'shard-000000'), (6, 10, 'shard-000001')]
>>> pickle.loads(pickle.dumps(frags[1])).to_grumpy().to_list()
[[4], [5, 5]]
>>> tmp.cleanup()
"""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, cast

import numpy as np
import pyarrow as pa

from grumpy_arrow._typing import Unions
from grumpy_arrow._validate import check_int
from grumpy_arrow.errors import ColumnNotFoundError, SchemaError
from grumpy_arrow.frame.dataframe import METADATA_KEY, DataFrame
from grumpy_arrow.storage.layouts import RecordLayout
from grumpy_arrow.storage.manifest import MANIFEST_NAME
from grumpy_arrow.storage.zarr import ChunkCache, LeafStore

if TYPE_CHECKING:
    from grumpy_arrow.storage.handle import Handle
    from grumpy_arrow.storage.layouts import Layout
    from grumpy_arrow.storage.shards import ShardedHandle

__all__ = [
    "FRAGMENT_CACHE",
    "TABLE_COLUMN",
    "Fragment",
    "location",
    "parse_rows_per_fragment",
    "register_opener",
    "store_fragments",
    "table_of",
]

FRAGMENT_CACHE = 64 * 2**20  # the chunk cache the fragment handles of a process share
TABLE_COLUMN = "values"  # an array store's column in tables and frames (as gr.to_parquet)
_ROW_KEYS = ("values", "validity", "offsets", "type_ids", "value_offsets", "indices")
_OPEN_LIMIT = 16  # handles kept open per process


@dataclass(frozen=True)
class Fragment:
    """Rows ``[start, stop)`` of a store: a picklable unit of parallel reading.

    Plan them with :meth:`Handle.fragments <grumpy_arrow.storage.handle.Handle.fragments>`
    rather than building one; :meth:`to_grumpy` and :meth:`to_arrow` read the rows.

    Parameters
    ----------
    path : str
        The store or sharded dataset (an absolute path for local stores, else its URL).
    start, stop : int
        The global row range.
    kind : {"array", "dataframe"}
        What the store holds.
    shard : str or None
        The shard directory holding the rows (sharded datasets).
    offset : int
        The global row number of the first row of the store or shard read.
    rows : int
        The committed rows the store or shard is read at (a snapshot: rows appended after
        the fragments were planned are not seen).
    columns : tuple of str or None
        The columns to read (None: all).
    nbytes : int
        An estimate of the fragment's bytes in memory (from the leaves' sizes).
    token : str
        A fingerprint of the store's manifest file when the fragment was planned: a
        process reading fragments reuses its open handle of the store only while the
        token is the same.
    storage_options : dict or None
        fsspec options of the store.

    Examples
    --------
    >>> import os, pickle, tempfile, grumpy_arrow as gr
    >>> tmp = tempfile.TemporaryDirectory()
    >>> path = os.path.join(tmp.name, "ds.gr")
    >>> gr.save(gr.array([[i] * (i % 3) for i in range(10)]), path, shard_rows=4)
    >>> fragment = gr.open(path).fragments()[1]
    >>> fragment.start, fragment.stop, fragment.shard, len(fragment)
    (4, 8, 'shard-000001', 4)
    >>> pickle.loads(pickle.dumps(fragment)).to_grumpy().to_list()
    [[4], [5, 5], [], [7]]
    >>> tmp.cleanup()
    """

    path: str
    start: int
    stop: int
    kind: str = "dataframe"
    shard: str | None = None
    offset: int = 0
    rows: int = 0
    columns: tuple[str, ...] | None = None
    nbytes: int = 0
    token: str = ""
    storage_options: dict[str, Any] | None = field(default=None, hash=False)

    def __len__(self) -> int:
        return self.stop - self.start

    @property
    def store_path(self) -> str:
        """The store the rows are read from (the shard's, for sharded datasets)."""
        return self.path if self.shard is None else f"{self.path.rstrip('/')}/{self.shard}"

    def _columns(self, columns: Any) -> list[str] | None:
        if columns is None:
            return None if self.columns is None else list(self.columns)
        if isinstance(columns, str):
            columns = [columns]
        columns = list(columns)
        if self.kind == "array":
            raise SchemaError(f"{self.path}: column selections apply to frames")
        if self.columns is not None:
            for c in columns:
                if c not in self.columns:
                    raise ColumnNotFoundError(
                        f"{self.path}: no column {c!r} in this fragment; its columns are "
                        f"{', '.join(self.columns)}"
                    )
        return cast("list[str] | None", columns)

    def to_grumpy(self, columns: Any = None) -> Any:
        """The rows in memory: a ``GrumpyArray`` or a ``DataFrame``.

        Parameters
        ----------
        columns : list of str, optional
            A subset of the fragment's columns (frames only).

        Raises
        ------
        ColumnNotFoundError
            For a column the store (or the fragment) does not have.
        SchemaError
            For ``columns`` on an array store.
        """
        names = self._columns(columns)
        handle = _handle(self)
        if self.start == self.offset and self.stop == self.offset + self.rows:
            # A whole store or shard: the bulk load path (whole leaves, no read plan).
            return (handle if names is None else handle[names]).load()
        rows = np.arange(self.start - self.offset, self.stop - self.offset, dtype=np.int64)
        return handle.take(rows, names)

    def to_arrow(self, columns: Any = None, *, unions: Unions = "lowered") -> pa.Table:
        """The rows as a ``pa.Table`` (an array store gives one column, ``values``).

        Parameters
        ----------
        columns : list of str, optional
            A subset of the fragment's columns (frames only).
        unions : {"lowered", "native"}
            ``"lowered"`` gives each union column ``c`` as a list column plus a boolean
            ``c__is_scalar`` column (docs/interop.md); ``"native"`` keeps dense unions.
        """
        if unions not in ("lowered", "native"):
            raise ValueError(f"unions must be 'lowered' or 'native', got {unions!r}")
        return table_of(self.to_grumpy(columns), unions=unions)


def table_of(obj: Any, *, unions: Unions = "lowered") -> pa.Table:
    """A frame's table, or an array's one-column (``values``) table marked as an array."""
    if isinstance(obj, DataFrame):
        return obj.to_arrow(unions=unions)
    table = DataFrame({TABLE_COLUMN: obj}, None).to_arrow(unions=unions)
    info = json.loads(table.schema.metadata[METADATA_KEY])
    info["kind"] = "array"
    return table.replace_schema_metadata({METADATA_KEY: json.dumps(info).encode()})


# -- planning ---------------------------------------------------------------------------


def parse_rows_per_fragment(value: Any) -> int | None:
    """``rows_per_fragment`` checked: None or an int >= 1."""
    return check_int(value, "rows_per_fragment", minimum=1, optional=True)


def store_fragments(
    handle: Handle, size: int | None, *, path: str, shard: str | None, offset: int
) -> list[Fragment]:
    """The fragments of one store (or one shard of a dataset, at global row ``offset``):
    what :meth:`Handle.fragments` returns; ``size`` is ``rows_per_fragment`` checked."""
    n = len(handle)
    if n == 0:
        return []
    chunk, per_file = outer_chunk(handle)
    bounds = _bounds(n, chunk, per_file if size is None else size)
    columns = None if handle._columns is None else tuple(handle._columns)
    per_row = _store_bytes(handle) / n
    common: dict[str, Any] = {
        "kind": handle.kind,
        "shard": shard,
        "offset": offset,
        "rows": n,
        "columns": columns,
        "token": store_token(handle._store),
        "storage_options": handle._options["storage_options"],
    }
    return [
        Fragment(path, offset + a, offset + b, nbytes=int(per_row * (b - a)), **common)
        for a, b in itertools.pairwise(bounds.tolist())
    ]


def _bounds(n: int, chunk: int, size: int) -> np.ndarray:
    """Fragment boundaries in ``[0, n]``: every ``step`` rows, where ``step`` is a whole
    number of chunks (at most ``size``, at least one); a ``size`` below one chunk cuts
    every chunk into pieces of ``size`` rows, so no fragment straddles a chunk boundary."""
    if size >= chunk:
        step = (size // chunk) * chunk
        starts = np.arange(0, n, step, dtype=np.int64)
    else:
        within = np.arange(0, chunk, size, dtype=np.int64)
        firsts = np.arange(0, n, chunk, dtype=np.int64)
        starts = (firsts[:, None] + within[None, :]).ravel()
        starts = starts[starts < n]
    return np.concatenate([starts, [n]])


def outer_chunk(handle: Handle) -> tuple[int, int]:
    """``(chunk, shard)`` in rows of the row-level leaves of the handle's columns: the
    largest inner chunk (a multiple of the others: every default chunk length is a power
    of two, and ``chunk_size=`` gives all leaves one) and the smallest shard, rounded down
    to whole chunks (a fragment of that many rows reads whole shard files)."""
    manifest = handle.manifest
    store = handle._store
    formats = [
        store.format(name)
        for spec in handle._specs()
        for name in _row_leaves(spec.layout)
        if name in manifest.leaves
    ]
    if not formats:
        rows = max(len(handle), 1)
        return rows, rows
    chunk = max(f.chunk for f in formats)
    shard = min(f.shard for f in formats)
    return chunk, max(chunk, shard // chunk * chunk)


def _row_leaves(layout: Layout) -> list[str]:
    """The leaves of a column's root node with an entry per row (offsets: one more), so
    neither string data nor a dictionary's offsets (a record's fields hold its rows: theirs
    too)."""
    if isinstance(layout, RecordLayout):
        return [layout.validity] + [n for _, c in layout.fields for n in _row_leaves(c)]
    own = layout.buffers()
    dictionary = any(role == "indices" for role, _ in own)
    return [
        name for role, name in own if role in _ROW_KEYS and not (role == "offsets" and dictionary)
    ]


def _store_bytes(handle: Handle) -> int:
    leaves = handle.manifest.leaves
    return sum(spec.length * np.dtype(spec.dtype).itemsize for spec in leaves.values())


def location(handle: Handle | ShardedHandle) -> str:
    """Where worker processes find the store: an absolute path for local stores (workers
    may run in another directory), the URL otherwise."""
    store = handle._store
    return store.root if store.local else store.url


# -- reading ----------------------------------------------------------------------------


class _Opened:
    """The handles a process has opened for fragments, and the chunk cache they share.

    A handle is keyed by its store, rows and token (a rewritten store has a new token, so
    a worker never reads it through a stale handle); the least recently used beyond
    ``_OPEN_LIMIT`` are dropped (their file descriptors close with them). A forked child
    starts afresh: handles hold descriptors, pools and locks.
    """

    def __init__(self) -> None:
        self.pid = os.getpid()
        self.handles: OrderedDict[tuple[Any, ...], Handle] = OrderedDict()
        self.cache = ChunkCache(FRAGMENT_CACHE)


_OPENED: list[_Opened] = []
_OPEN_LOCK = threading.Lock()


# What opens a fragment's store: ``Handle``, registered by ``storage.handle`` (a layer of
# the storage package above this module; the package imports it, so it is set before any
# fragment, planned here or unpickled in a worker, is read).
_OPENER: list[Callable[..., Handle]] = []


def register_opener(opener: Callable[..., Handle]) -> None:
    """Set the class that opens a fragment's store (``storage.handle`` calls it)."""
    _OPENER[:] = [opener]


def _handle(fragment: Fragment) -> Handle:
    """The process's handle of the fragment's store (or shard) at its planned rows."""
    options = fragment.storage_options
    key = (
        fragment.store_path,
        fragment.rows,
        fragment.token,
        json.dumps(options, sort_keys=True, default=str),
    )
    with _OPEN_LOCK:
        if not _OPENED or _OPENED[0].pid != os.getpid():
            _OPENED[:] = [_Opened()]
        opened = _OPENED[0]
        handle = opened.handles.get(key)
        if handle is not None:
            opened.handles.move_to_end(key)
            return handle
    scope = "\x01".join(str(part) for part in key)
    handle = _OPENER[0](
        fragment.store_path,
        storage_options=options,
        rows=fragment.rows,
        _cache=opened.cache.scoped(scope),
    )
    with _OPEN_LOCK:
        opened.handles[key] = handle
        while len(opened.handles) > _OPEN_LIMIT:
            opened.handles.popitem(last=False)
    return handle


def store_token(store: LeafStore) -> str:
    """A fingerprint of a store's committed manifest file (its identity and modification
    time where the filesystem reports them): it changes whenever the store is rewritten or
    appended to, since every commit replaces the manifest."""
    try:
        info = store.fs.info(store.file_path(MANIFEST_NAME))
    except (FileNotFoundError, OSError):
        return ""
    fields = ("ino", "mtime", "created", "size", "ETag", "etag", "LastModified", "generation")
    seen = [(k, str(info[k])) for k in fields if k in info]
    return hashlib.sha1(repr(seen).encode(), usedforsecurity=False).hexdigest()[:16]
