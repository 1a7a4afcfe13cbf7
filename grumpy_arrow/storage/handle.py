"""``gr.open``: lazy handles that read only the leaf ranges a selection needs.

The read path has three parts:

- the **planner** (here): a set of rows becomes sorted row ranges, and each column's
  layout tree is walked level by level with whole-array NumPy work — offsets of all the
  ranges first (one gather per level, shared by the columns of a frame level), then the
  ranges of the content they point to — down to one gather per leaf;
- the **backend** (:meth:`.zarr.LeafStore.backend`): the direct local reader
  (:mod:`.local`) or zarr-python (:class:`.zarr.ZarrLeaves`), which turns a leaf's
  ranges into the inner chunks they touch and gathers the values;
- the **cache** (:mod:`.cache`): decoded inner chunks, one key type and one LRU with a
  byte budget per handle.

``stats()`` counts the bytes and chunks read so partial I/O is testable.
"""

from __future__ import annotations

import functools
import itertools
import math
import weakref
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np
import pyarrow as pa

from grumpy_arrow import dtypes as dt
from grumpy_arrow import layout as lay
from grumpy_arrow._typing import CacheMode
from grumpy_arrow.array import GrumpyArray
from grumpy_arrow.compute.gather import Ranges, expand_ranges, offsets_from_lengths, take_rows
from grumpy_arrow.errors import (
    ColumnNotFoundError,
    SchemaError,
    StoreFormatError,
)
from grumpy_arrow.frame.dataframe import DataFrame
from grumpy_arrow.storage import checks as ck
from grumpy_arrow.storage.buffers import _check_utf8, compact_fixed
from grumpy_arrow.storage.buffers import bitmap as _bitmap
from grumpy_arrow.storage.codecs import decode_columns
from grumpy_arrow.storage.dictionary import decode, encoded, strings
from grumpy_arrow.storage.fragments import (
    location,
    parse_rows_per_fragment,
    register_opener,
    store_fragments,
)
from grumpy_arrow.storage.keys import parse_rows as parse
from grumpy_arrow.storage.layouts import (
    Layout,
    LeafLayout,
    ListLayout,
    RecordLayout,
    UnionLayout,
)
from grumpy_arrow.storage.manifest import ColumnSpec, Manifest
from grumpy_arrow.storage.stores import (
    check_column_names,
    codecs_of,
    load_manifest,
    manifest_at,
    read_manifest,
)
from grumpy_arrow.storage.views import StoreView, chunk_cache, handle_options
from grumpy_arrow.storage.writer import ARRAY_COLUMN
from grumpy_arrow.storage.zarr import ChunkCache, LeafStore

if TYPE_CHECKING:
    from grumpy_arrow.storage.fragments import Fragment

__all__ = ["Handle", "parse_rows"]

DEFAULT_CACHE = 256 * 2**20
SMALL_WINDOW = 64  # offsets windows up to this long are checked as Python ints
PARALLEL_ROWS = 4096  # read columns on threads only for selections larger than this
_POOL: list[ThreadPoolExecutor] = []


def _pool() -> ThreadPoolExecutor:
    """One shared pool for column reads (created on first use, per process)."""
    if not _POOL or _POOL[0]._shutdown:
        _POOL[:] = [ThreadPoolExecutor(max_workers=4, thread_name_prefix="grumpy-read")]
    return _POOL[0]


class Handle(StoreView):
    """A lazy view of a store; picklable (it reopens from its path in a new process).

    Open one with :func:`grumpy_arrow.open`. ``h[rows]`` reads rows (an int, a slice, a
    mask or indices) into memory, ``h[name]`` or ``h[[names]]`` is a view of some columns;
    see docs/lazy-access.md. The members it shares with
    :class:`~grumpy_arrow.storage.shards.ShardedHandle` are those of
    :class:`~grumpy_arrow.storage.views.StoreView`.

    Parameters
    ----------
    path : str or path
        The store: a local path or an fsspec URL.
    cache : {"chunks", "none"}
        Keep decoded chunks in an LRU of ``cache_bytes`` bytes, or read every time.
    cache_bytes : int
        The cache's budget (default 256 MiB).
    storage_options : dict, optional
        Passed to fsspec for URLs.
    columns : list of str, optional
        The columns of this view (default: all of them).
    rows : int, optional
        Read the store at this committed row count (at most the manifest's): the state it
        had when it held ``rows`` rows, whatever was appended since. Sharded datasets
        read each shard at the row count their top-level manifest lists.

    Raises
    ------
    StoreFormatError
        If the path holds no grumpy store or a malformed manifest.
    ColumnNotFoundError
        For a name in ``columns`` the store does not have.

    Examples
    --------
    >>> import grumpy_arrow as gr
    >>> q = [[0.5, -0.5], [1.0], [0.1, 0.2, 0.3]]
    >>> df = gr.dataframe({"mol_id": [1, 2, 3], "atom_q": q}, schema=["mol", "atom"])
    >>> gr.save(df, "memory://mols.gr")
    >>> h = gr.open("memory://mols.gr")
    >>> h
    <grumpy store 'memory://mols.gr': dataframe, 3 rows, columns ['mol_id', 'atom_q']>
    >>> h[1:].to_dict()
    {'mol_id': [2, 3], 'atom_q': [[1.0], [0.1, 0.2, 0.3]]}
    >>> gr.Handle("memory://mols.gr", columns=["atom_q"])[0].to_dict()
    {'atom_q': [[0.5, -0.5]]}
    """

    def __init__(
        self,
        path: Any,
        *,
        cache: CacheMode = "chunks",
        cache_bytes: int = DEFAULT_CACHE,
        storage_options: dict[str, Any] | None = None,
        columns: list[str] | None = None,
        rows: int | None = None,
        _manifest: Manifest | None = None,
        _cache: ChunkCache | None = None,
    ) -> None:
        super().__init__(path, handle_options(cache, cache_bytes, storage_options), columns)
        self._at = rows
        self._open(_manifest, _cache)

    def _open(self, manifest: Manifest | None = None, cache: ChunkCache | None = None) -> None:
        self._store = LeafStore(self._path, self._options["storage_options"], read_only=True)
        self._manifest = read_manifest(self._store) if manifest is None else manifest
        if self._at is not None:
            self._manifest = manifest_at(self._store, self._manifest, self._at)
        self._selection_id = 0
        # Level offsets read in the current selection, by (leaf, ranges): every column of
        # a level uses them (one entry per level; emptied when a selection starts).
        self._memo: dict[Any, np.ndarray] = {}
        self._lengths: dict[str, int] | None = None
        self._dictionaries: dict[str, pa.Array] = {}
        self._typed: set[str] = set()
        # Resident leaves (see _trusted) already checked whole, by leaf: the array itself,
        # so a leaf read into the cache again (after eviction) is checked again.
        self._checked: weakref.WeakValueDictionary[str, np.ndarray] = weakref.WeakValueDictionary()
        self._unions: dict[str, bool] = {}  # columns whose layout holds a union
        self._chains: dict[tuple[str, ...], list[_Chain] | None] = {}  # see _level_chains
        # The leaves _resident_batch fetches per set of columns, and those checked whole.
        self._batch_leaves: dict[tuple[str, ...], tuple[tuple[str, ...], frozenset[str]]] = {}
        self._recipes: dict[tuple[str, ...], list[_Recipe | None]] = {}  # see _recipes_of
        self._window_plans: dict[tuple[str, ...], Any] = {}  # see _window_plan
        self._trees: dict[tuple[str, ...], list[tuple[int, ListLayout]]] = {}  # see _walk_tree
        self._codecs = codecs_of(self._manifest, self._store.url)  # columns kept encoded
        self._cache = cache if cache is not None else chunk_cache(self._options)
        if self._columns is not None:
            names = [c.name for c in self._manifest.columns]
            check_column_names(names, self._columns, self._store.url)

    def __getstate__(self) -> dict[str, Any]:
        state = super().__getstate__()
        if self._at is not None:
            state["rows"] = self._at
        return state

    def _reopen(self, state: dict[str, Any]) -> None:
        self._at = state.get("rows")
        self._open()

    # -- metadata ---------------------------------------------------------------------

    @property
    def manifest(self) -> Manifest:
        """The committed manifest.

        Examples
        --------
        >>> import grumpy_arrow as gr
        >>> gr.save(gr.dataframe({"id": [1, 2, 3], "x": [[0.5], [], [1.0]]}), "memory://m.gr")
        >>> m = gr.open("memory://m.gr").manifest
        >>> m.kind, m.rows, [c.name for c in m.columns]
        ('dataframe', 3, ['id', 'x'])
        """
        return self._manifest

    def _specs(self) -> list[ColumnSpec]:
        if self._columns is None:
            return list(self._manifest.columns)
        return [self._manifest.column(c) for c in self._columns]

    def shape(self, dim: Any = 0) -> Any:
        """Rows for dim 0; entity counts of a level (read from offsets leaves only).

        Parameters
        ----------
        dim : int or str, default 0
            0 (the rows), a level of a frame store (its name or position), or an axis of an
            array store.

        Returns
        -------
        int or GrumpyArray
            The row count for 0; else the counts, as ``DataFrame.shape`` or
            ``GrumpyArray.shape`` give them.

        Raises
        ------
        SchemaError
            For a level of a store without a schema, or a level without columns.

        Examples
        --------
        >>> import grumpy_arrow as gr
        >>> df = gr.dataframe({"mol_id": [1, 2, 3], "atom_q": [[0.5, -0.5], [1.0], [0.1, 0.2]]},
        ...                   schema=["mol", "atom"])
        >>> gr.save(df, "memory://shape.gr")
        >>> h = gr.open("memory://shape.gr")
        >>> h.shape(), h.shape("atom").to_list()
        (3, [2, 1, 2])
        """
        if dim == 0:
            return len(self)
        if self._manifest.kind == "dataframe":
            return self._frame_shape(dim)
        spec = self._specs()[0]
        node = self._read_rows(spec, np.arange(len(self), dtype=np.int64), depth_limit=dim)
        return GrumpyArray._wrap(node).shape(dim)

    def _frame_shape(self, dim: Any) -> Any:
        """As ``DataFrame.shape``: entity counts from the levels' shared offsets leaves, null
        where a parent is null in every column reaching the level (validity leaves)."""
        schema = self.schema
        if schema is None:
            raise SchemaError(f"level {dim!r} needs a schema; this store has none")
        k = schema.index(dim)
        if k == 0:
            return len(self)
        by_name = {lv.name: lv.offsets for lv in self._manifest.levels}

        def offsets(j: int) -> np.ndarray:
            name = by_name.get(schema.levels[j].name)
            if name is None:
                raise SchemaError(
                    f"level {schema.levels[j].name!r} has no columns, so its offsets are unknown"
                )
            values = self._store.read_whole(name, self._manifest.leaves[name].length)
            ck.check_offsets(values, int(values[-1]) if len(values) else 0, self._store.url, name)
            return values

        valid = self._level_validity(k)
        counts = pa.array(np.diff(offsets(k)), mask=None if valid is None else ~valid)
        node: lay.Node = lay.Leaf(counts)
        for j in range(k - 1, 0, -1):
            node = lay.ListNode(offsets(j), self._level_validity(j), node)
        return GrumpyArray._wrap(node)

    def _level_validity(self, k: int) -> np.ndarray | None:
        """Which parents have a list at level ``k``: null where every column reaching the
        level is null (as ``DataFrame.shape`` decides); None when none is null."""
        schema = self.schema
        valid: np.ndarray | None = None
        for spec in self._specs():
            if schema.level_of(spec.name) < k:
                continue
            layout = spec.layout
            for _ in range(k - 1):
                layout = layout.content if isinstance(layout, ListLayout) else layout
            name = layout.validity
            if not isinstance(layout, ListLayout) or not name or name not in self._manifest.leaves:
                return None
            mine = self._store.read_whole(name, self._manifest.leaves[name].length).astype(bool)
            valid = mine if valid is None else valid | mine
        return None if valid is None or valid.all() else valid

    def stats(self) -> dict[str, int]:
        """Bytes, chunks and read calls so far (and cache hits).

        Returns
        -------
        dict of str to int
            ``bytes_read``, ``chunks_read``, ``calls`` and ``cache_hits``, since the handle
            was opened.

        Examples
        --------
        >>> import grumpy_arrow as gr
        >>> gr.save(gr.array([[1, 2], [3], [4, 5, 6]]), "memory://stats.gr")
        >>> h = gr.open("memory://stats.gr")
        >>> sorted(h.stats())
        ['bytes_read', 'cache_hits', 'calls', 'chunks_read']
        >>> before = h.stats()["chunks_read"]
        >>> _ = h[0]
        >>> h.stats()["chunks_read"] > before
        True
        """
        return self._store.stats.as_dict()

    def fragments(self, rows_per_fragment: int | None = None) -> list[Fragment]:
        """Picklable row ranges covering every row once, in order, for parallel readers.

        Fragments end on chunk boundaries of the row-level leaves: by default each is one
        chunk of rows; ``rows_per_fragment`` is rounded down to whole chunks (smaller
        values cut chunks into pieces of that many rows). See
        :mod:`grumpy_arrow.storage.fragments`.

        Parameters
        ----------
        rows_per_fragment : int, optional
            The rows of each fragment (default: one chunk of rows).

        Returns
        -------
        list of Fragment
            In row order; ``fragment.to_grumpy()`` reads one.

        Raises
        ------
        ValueError
            If ``rows_per_fragment`` is not None or an int >= 1.

        Examples
        --------
        >>> import grumpy_arrow as gr
        >>> gr.save(gr.array([[1, 2], [3], [4, 5, 6]]), "memory://fragments.gr")
        >>> fragments = gr.open("memory://fragments.gr").fragments(rows_per_fragment=2)
        >>> [(f.start, f.stop) for f in fragments]
        [(0, 2), (2, 3)]
        >>> fragments[1].to_grumpy().to_list()
        [[4, 5, 6]]
        """
        size = parse_rows_per_fragment(rows_per_fragment)
        return store_fragments(self, size, path=location(self), shard=None, offset=0)

    def __repr__(self) -> str:
        return (
            f"<grumpy store {self._store.url!r}: {self.kind}, {len(self)} rows, "
            f"columns {self.columns}>"
        )

    # -- reads ------------------------------------------------------------------------

    def load(self) -> Any:
        """Everything (or this view's columns) in memory.

        Returns
        -------
        GrumpyArray or DataFrame
            What was saved (a frame of this view's columns for a view).

        Raises
        ------
        StoreFormatError
            For leaves that do not match the manifest (corrupt or truncated).

        Examples
        --------
        >>> import grumpy_arrow as gr
        >>> gr.save(gr.dataframe({"id": [1, 2], "x": [[0.5, -0.5], [1.0]]}), "memory://load.gr")
        >>> h = gr.open("memory://load.gr")
        >>> h.load().to_dict()
        {'id': [1, 2], 'x': [[0.5, -0.5], [1.0]]}
        >>> h["id"].load().to_dict()
        {'id': [1, 2]}
        """
        columns = None if self._manifest.kind == "array" else self.columns
        return load_manifest(self._store, self._manifest, columns)

    def _view(self, columns: list[str]) -> Handle:
        out = super()._view(columns)
        out._selection_id, out._memo = 0, {}  # the level offsets of its own selections
        return out

    def _rows(self, key: Any) -> np.ndarray:
        return parse_rows(key, len(self))

    def _take(self, indices: Any, columns: list[str] | None) -> Any:
        rows = self._rows(indices)
        view = self if columns is None else self._view(columns)
        self._selection_id += 1
        return self._take_planned(rows, view._specs())

    def _take_planned(self, rows: np.ndarray, specs: list[ColumnSpec]) -> Any:
        """Rows read through the planner (the store is not resident)."""
        chains = self._level_chains(specs)
        if chains is not None:
            return self._take_levels(rows, specs, chains)
        plan = _plan_rows(rows)  # worked out once for every column
        if len(rows) <= PARALLEL_ROWS or len(specs) == 1:
            # Small plans are a few dozen reads that hold the GIL between syscalls: threads
            # only add their start-up cost (measured in benchmarks/bench_storage.py).
            nodes = [self._read_rows(s, rows, plan=plan) for s in specs]
        else:
            nodes = list(_pool().map(lambda s: self._read_rows(s, rows, plan=plan), specs))
        return self._result(specs, nodes, len(rows))

    def _level_chains(self, specs: list[ColumnSpec]) -> list[_Chain] | None:
        """Each column as the frame's level lists, then lists of its own, above one leaf
        (see :class:`_Chain`), when every column is such a chain at its schema level:
        what :meth:`_take_levels` reads. None for anything else (unions, fixed axes with
        nulls or above a variable list), which the per-column planner reads. Worked out
        once per set of columns."""
        key = tuple(s.name for s in specs)
        if key in self._chains:
            return self._chains[key]
        shared = {lv.depth: lv.offsets for lv in self._manifest.levels}
        schema = self.schema if self._manifest.kind == "dataframe" else None
        chains: list[_Chain] | None = []
        tree: dict[tuple[str, ...], int] = {(): 0}  # a list's offsets path -> its node
        for spec in specs:
            node: Layout = spec.layout
            lists: list[ListLayout] = []
            while (
                isinstance(node, ListLayout)
                and node.offsets is not None
                and node.offsets == shared.get(len(lists) + 1)
            ):
                lists.append(node)
                node = node.content
            levels = len(lists)
            while isinstance(node, ListLayout) and node.offsets is not None:  # its own
                lists.append(node)
                node = node.content
            sizes: list[int] = []
            while (
                isinstance(node, ListLayout)
                and node.offsets is None
                and node.size
                and node.validity not in self._manifest.leaves
            ):
                sizes.append(node.size)
                node = node.content
            try:
                level = schema.level_of(spec.name) if schema is not None else 0
            except SchemaError:
                level = -1
            if not isinstance(node, LeafLayout) or level != levels:
                chains = None
                break
            assert chains is not None
            path: tuple[str, ...] = ()
            nodes = []
            for layout in lists:
                assert layout.offsets is not None
                path = (*path, layout.offsets)
                nodes.append(tree.setdefault(path, len(tree)))
            chains.append(_Chain(node, tuple(lists), tuple(sizes), tuple(nodes), levels))
        self._chains[key] = chains
        return chains

    @staticmethod
    def _walk_tree(chains: list[_Chain]) -> list[tuple[int, ListLayout]]:
        """The lists of :meth:`_take_levels`' walk, once each, parents first: node ``i +
        1`` is ``(parent node, list)``; node 0 is the selected rows."""
        tree: dict[int, tuple[int, ListLayout]] = {}
        for chain in chains:
            parent = 0
            for node, layout in zip(chain.nodes, chain.lists, strict=True):
                tree.setdefault(node, (parent, layout))
                parent = node
        return [tree[i] for i in range(1, len(tree) + 1)]

    def _take_levels(self, rows: np.ndarray, specs: list[ColumnSpec], chains: list[_Chain]) -> Any:
        """Rows (any order, repeats allowed) of columns that are level chains: each list's
        offsets read once for all its columns (the rows as runs in the requested order,
        then the content ranges they point to, list by list down the walk's tree:
        :meth:`_walk_tree`), then one gather per leaf straight into the requested order,
        and the frame built on the shared level offsets with no second check (they are
        the planner's own arrays). The path of random batches and ``h[i]``: a few NumPy
        calls per list and per leaf.

        When every leaf the columns need is resident and checked (see :meth:`_trusted`),
        one look-up fetches them all (:meth:`_resident_batch`) and the walk reads them
        directly, with none of the per-leaf cache, bounds and null steps: a warm shuffled
        epoch spends its time copying values."""
        key = tuple(s.name for s in specs)
        tree = self._trees.get(key)
        if tree is None:
            tree = self._trees[key] = self._walk_tree(chains)
        wholes = self._resident_batch(specs, chains)
        # The ranges of each node of the walk (the rows, then each list below them), with
        # their bounds and positions worked out once.
        spans = [Ranges(*(_runs(rows) if len(rows) else (rows, rows)))]
        if wholes is None and len(spans[0].starts) == 1:
            # One run of rows (h[i], h[a:b]): each leaf's window read in one piece, then
            # the rows built from the windows as from resident leaves.
            lo, hi = int(spans[0].starts[0]), int(spans[0].stops[0])
            wholes = self._windows(specs, chains, tree, lo, hi)
            spans = [Ranges.one(0, hi - lo)]
        offsets: list[np.ndarray] = [np.zeros(0, dtype=np.int64)]
        for parent, layout in tree:
            up = spans[parent]
            if wholes is not None:
                assert layout.offsets is not None
                node_offsets, child_starts, child_stops = _within(wholes[layout.offsets], up)
            else:
                node_offsets, child_starts, child_stops = self._ranges_of(layout, up)
            offsets.append(node_offsets)
            spans.append(Ranges(child_starts, child_stops))

        # Each node's offsets as one Arrow buffer, shared by the lists of every column.
        buffers: dict[int, pa.Buffer] = {}
        recipes: list[_Recipe | None] = [None] * len(chains)
        if wholes is not None:
            recipes = self._recipes_of(specs, chains, wholes)
            buffers = {i: pa.py_buffer(offsets[i]) for i in range(1, len(offsets))}

        def read(chain: _Chain, recipe: _Recipe | None) -> GrumpyArray:
            last = chain.nodes[-1] if chain.nodes else 0
            if recipe is not None:
                assert wholes is not None
                return _cook(recipe, spans[last], wholes, chain.nodes, offsets, buffers)
            span = spans[last]
            if chain.sizes:  # fixed axes below the lists: each entry owns prod(sizes) values
                width = math.prod(chain.sizes)
                span = span.memo.get(width) or span.memo.setdefault(
                    width, Ranges(span.starts * width, span.stops * width)
                )
            if wholes is not None:
                validity = _resident_validity(chain.leaf, span, wholes)
                leaf = self._resident_leaf(chain.leaf, span, wholes, validity)
            else:
                validity = self._validity(chain.leaf, span.starts, span.stops)
                leaf = self._leaf(chain.leaf, span.starts, span.stops, validity, span)
            node: lay.Node = leaf
            for size in reversed(chain.sizes):
                node = lay.fixed_list(node, size)
            arr = leaf.arrow if not chain.sizes else lay.to_arrow(node)
            for d in range(len(chain.lists), 0, -1):
                i = chain.nodes[d - 1]
                up = spans[chain.nodes[d - 2] if d > 1 else 0]
                if wholes is not None:
                    validity = _resident_validity(chain.lists[d - 1], up, wholes)
                else:
                    validity = self._validity(chain.lists[d - 1], up.starts, up.stops)
                node = lay.ListNode(offsets[i], validity, node)
                if arr is not None and validity is None:
                    buf = buffers.get(i) or buffers.setdefault(i, pa.py_buffer(offsets[i]))
                    arr = pa.Array.from_buffers(
                        _list_type(arr.type), len(offsets[i]) - 1, [None, buf], children=[arr]
                    )
                else:
                    arr = None
            if arr is None:
                return GrumpyArray._wrap(node)
            return GrumpyArray(arr, node=node)

        if len(rows) <= PARALLEL_ROWS or len(chains) == 1:
            columns = [read(c, r) for c, r in zip(chains, recipes, strict=True)]
        else:
            columns = list(_pool().map(read, chains, recipes))
        arrays = {s.name: c for s, c in zip(specs, columns, strict=True)}
        arrays = decode_columns(arrays, self._codecs, self._store.url)
        if self._manifest.kind == "array":
            return arrays[ARRAY_COLUMN]
        levels = {}  # each schema level's offsets (the node of its shared list)
        for chain in chains:
            for d in range(1, chain.levels + 1):
                levels[d] = offsets[chain.nodes[d - 1]]
        return DataFrame._of_levels(arrays, self.schema, len(rows), levels)

    def read(
        self, i: int, *, ranges: dict[str, slice] | None = None, columns: list[str] | None = None
    ) -> Any:
        """Row ``i``, reading only ``ranges`` (``{column: slice}``) of its ragged columns.

        The slice applies to the row's first list axis: ``ranges={"atom_x": slice(32, 42)}``
        reads elements 32..41 of that row's ``atom_x`` list, nothing else of it.

        Parameters
        ----------
        i : int
            The row.
        ranges : dict of str to slice, optional
            The part of each listed column's row to read (the whole row for other columns).
        columns : list of str, optional
            The columns to read (default: this view's).

        Returns
        -------
        GrumpyArray or DataFrame
            One row (a frame without levels when a range cuts a level's lists).

        Raises
        ------
        OutOfBoundsError
            For a row outside the store.
        ColumnNotFoundError
            For a column of ``ranges`` or ``columns`` the store (or view) does not have.

        Examples
        --------
        >>> import grumpy_arrow as gr
        >>> gr.save(gr.dataframe({"id": [1, 2], "x": [[0.5], [0.1, 0.2, 0.3]]}), "memory://read.gr")
        >>> gr.open("memory://read.gr").read(1, ranges={"x": slice(1, 3)}).to_dict()
        {'id': [2], 'x': [[0.2, 0.3]]}
        """
        rows = self._rows(int(i))
        specs = (self if columns is None else self._view(columns))._specs()
        self._selection_id += 1
        ranges = ranges or {}
        for name in ranges:
            if name not in [s.name for s in specs]:
                raise ColumnNotFoundError(
                    f"{self._store.url}: no column {name!r} to read a range of"
                )
        plan = _plan_rows(rows)
        nodes = [self._read_rows(s, rows, inner=ranges.get(s.name), plan=plan) for s in specs]
        return self._result(specs, nodes, 1)

    def _result(self, specs: list[ColumnSpec], nodes: list[lay.Node], nrows: int) -> Any:
        arrays = {s.name: GrumpyArray._wrap(n) for s, n in zip(specs, nodes, strict=True)}
        arrays = decode_columns(arrays, self._codecs, self._store.url)
        if self._manifest.kind == "array":
            return arrays[ARRAY_COLUMN]
        schema = self.schema
        try:
            return DataFrame(arrays, schema, nrows)
        except SchemaError:
            # An inner range cuts a level's lists: the result keeps its columns, not levels.
            return DataFrame(arrays, None, nrows)

    # -- the planner ------------------------------------------------------------------

    def _read_rows(
        self,
        spec: ColumnSpec,
        rows: np.ndarray,
        *,
        inner: slice | None = None,
        depth_limit: int | None = None,
        plan: _RowPlan | None = None,
    ) -> lay.Node:
        """The node of ``rows`` (any order, repeats allowed) of one column (``plan``:
        :func:`_plan_rows` of ``rows``, when the caller reads several columns)."""
        plan = plan if plan is not None else _plan_rows(rows)
        if plan.order is not None and not self._has_union(spec):
            # Lists and leaves read their ranges in any order: read them as requested
            # (repeats read again), with no reordering afterwards.
            return self._read_ranges(spec.layout, *plan.given, inner, depth_limit, 0)
        node = self._read_ranges(spec.layout, plan.starts, plan.stops, inner, depth_limit, 0)
        if plan.order is not None:
            # Union value offsets are checked to increase per child: read in row order.
            node = take_rows(node, plan.order)
        return node

    def _has_union(self, spec: ColumnSpec) -> bool:
        found = self._unions.get(spec.name)
        if found is None:
            found = self._unions[spec.name] = any(
                isinstance(node, UnionLayout) for node, _ in spec.layout.nodes()
            )
        return found

    def _read_ranges(
        self,
        layout: Layout,
        starts: np.ndarray,
        stops: np.ndarray,
        inner: slice | None,
        depth_limit: int | None,
        depth: int,
    ) -> lay.Node:
        if isinstance(layout, ListLayout):
            inner = inner if depth == 0 else None
            ranges = self._list_ranges if layout.offsets is not None else self._fixed_ranges
            validity, offsets, child_starts, child_stops = ranges(layout, starts, stops, inner)
            if depth_limit is not None and depth + 1 >= depth_limit:
                total = int((child_stops - child_starts).sum())
                content: lay.Node = lay.Leaf(pa.nulls(total, pa.int8()))
            else:
                content = self._read_ranges(
                    layout.content, child_starts, child_stops, None, depth_limit, depth + 1
                )
            if offsets is None:  # a fixed axis stored without offsets
                assert layout.size
                return compact_fixed(lay.fixed_list(content, layout.size, validity))
            if layout.size is not None and inner is None:
                assert layout.offsets is not None
                ck.check_fixed(offsets, validity, layout.size, self._store.url, layout.offsets)
                return lay.ListNode(offsets, validity, content, layout.size)
            return lay.ListNode(offsets, validity, content)
        validity = self._validity(layout, starts, stops)
        if isinstance(layout, LeafLayout):
            return self._leaf(layout, starts, stops, validity)
        if isinstance(layout, RecordLayout):
            # Fields hold the record's rows: the same ranges (a record has no axis, so
            # ``inner`` is not its fields').
            fields = tuple(
                self._read_ranges(node, starts, stops, None, depth_limit, depth)
                for _, node in layout.fields
            )
            return lay.RecordNode(layout.names, fields, validity, int((stops - starts).sum()))
        type_ids = self._gather(layout.type_ids, starts, stops).astype(np.int8)
        where = self._store.url
        ck.check_type_ids(type_ids, where, layout.type_ids, _locator(starts, stops))
        positions = self._gather(layout.value_offsets, starts, stops)
        children = (self._rows_of(layout.scalar), self._rows_of(layout.list))
        ck.check_positions(
            type_ids,
            positions,
            where,
            layout.value_offsets,
            whole=False,
            locate=_locator(starts, stops),
            children=children,
        )
        scalar = self._read_rows_in(layout.scalar, positions[type_ids == 0], depth_limit, depth)
        lists = self._read_rows_in(
            layout.list, positions[type_ids == 1], depth_limit, depth, inner if depth == 0 else None
        )
        assert isinstance(scalar, lay.Leaf) and isinstance(lists, lay.ListNode)
        return lay.UnionNode(type_ids, scalar, lists)

    def _fixed_ranges(
        self, layout: ListLayout, starts: np.ndarray, stops: np.ndarray, inner: slice | None
    ) -> tuple[np.ndarray | None, np.ndarray | None, np.ndarray, np.ndarray]:
        """:meth:`_list_ranges` of a fixed axis stored without offsets: row ``i``'s content
        is ``[i * size, (i + 1) * size)``, so there are no offsets (None; null rows'
        padding is dropped after the read), except for ``inner``: a slice of one row's
        values, which is no longer fixed, with its offsets."""
        size = layout.size
        assert size
        validity = self._validity(layout, starts, stops)
        child_starts, child_stops = starts * size, stops * size
        if inner is None:
            return validity, None, child_starts, child_stops
        child_starts, child_stops, lengths = _cut(child_starts, child_stops, inner)
        if validity is not None:
            lengths = np.where(validity, lengths, 0)
            child_stops = np.where(validity, child_stops, child_starts)
        return validity, offsets_from_lengths(lengths), child_starts, child_stops

    def _list_ranges(
        self, layout: ListLayout, starts: np.ndarray, stops: np.ndarray, inner: slice | None
    ) -> tuple[np.ndarray | None, np.ndarray, np.ndarray, np.ndarray]:
        """``(validity, offsets, child_starts, child_stops)`` of the lists in row ranges
        ``[starts, stops)`` of a list node: the result's offsets and the content range of
        each row range. Every column of a level shares that level's offsets leaf, so the
        answer is worked out once per selection and reused (the same offsets array, which
        the frame then compares in O(1))."""
        assert layout.offsets is not None
        shared = inner is None and layout.offsets.startswith("_levels/")
        if shared:
            validity_leaf: str | None = layout.validity
            if validity_leaf not in self._manifest.leaves:
                validity_leaf = None  # named in the layout, never written: no nulls
            memo_key = (
                "list",
                self._selection_id,
                layout.offsets,
                validity_leaf,
                starts.tobytes(),
                stops.tobytes(),
            )
            found = self._memo.get(memo_key)
            if found is not None:
                return found  # type: ignore[return-value]
        validity = self._validity(layout, starts, stops)
        if inner is None:
            ranges = (validity, *self._ranges_of(layout, Ranges(starts, stops)))
        else:
            bounds = self._offsets(layout.offsets, starts, stops, self._rows_of(layout.content))
            child_starts, child_stops, row_lengths = _cut(bounds[:1], bounds[-1:], inner)
            ranges = (validity, offsets_from_lengths(row_lengths), child_starts, child_stops)
        if shared:
            self._remember(memo_key, ranges)
        return ranges

    def _ranges_of(
        self, layout: ListLayout, up: Ranges
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """:meth:`_level_ranges` of the ranges ``up``; from a resident offsets leaf,
        checked whole once (:meth:`_trusted`), that is three gathers and no check."""
        assert layout.offsets is not None
        whole = self._trusted_offsets(layout.offsets, self._rows_of(layout.content))
        if whole is None:
            return self._level_ranges(layout, up.starts, up.stops)
        return _within(whole, up)

    def _level_ranges(
        self, layout: ListLayout, starts: np.ndarray, stops: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(offsets, child_starts, child_stops)`` of the lists in row ranges ``[starts,
        stops)`` of a list node: the result's offsets and the content range of each row
        range (one checked gather of the offsets leaf)."""
        assert layout.offsets is not None
        bounds = self._offsets(layout.offsets, starts, stops, self._rows_of(layout.content))
        lens = stops - starts
        # Offsets of each range, then the content range each one covers.
        ends = np.cumsum(lens + 1)
        begins = ends - lens - 1
        child_starts = bounds[begins]
        child_stops = bounds[ends - 1]
        if len(starts) <= 1:
            row_lengths = np.diff(bounds)
        else:
            keep = np.ones(len(bounds) - 1, dtype=bool)
            keep[ends[:-1] - 1] = False  # the seam between two ranges is not a row
            row_lengths = np.diff(bounds)[keep]
        return offsets_from_lengths(row_lengths), child_starts, child_stops

    def _remember(self, key: Any, value: Any) -> None:
        if len(self._memo) > 64:  # an earlier selection's (each level is read once)
            self._memo.clear()
        self._memo[key] = value

    def _offsets(
        self, name: str, starts: np.ndarray, stops: np.ndarray, content: int
    ) -> np.ndarray:
        """Offsets ``[starts[i], stops[i] + 1)`` of each row range, checked: within
        ``[0, content]`` and never decreasing, from the offset before each range on (so a
        row whose start offset fell below its predecessor's is caught too)."""
        lead = (starts > 0).astype(np.int64)
        raw = self._gather(name, starts - lead, stops + 1)
        lens = stops + 1 - starts + lead
        ends = np.cumsum(lens)
        ck.check_range_bounds(
            raw, ends[:-1] - 1, content, self._store.url, name, _locator(starts - lead, stops + 1)
        )
        if not lead.any():
            return raw
        keep = np.ones(len(raw), dtype=bool)
        keep[(ends - lens)[lead == 1]] = False
        return raw[keep]

    def _rows_of(self, layout: Layout) -> int:
        """The committed rows of a node (from its leaves' lengths in the manifest)."""
        if self._lengths is None:
            self._lengths = {k: v.length for k, v in self._manifest.leaves.items()}
        return layout.rows(self._lengths)

    def _read_rows_in(
        self,
        layout: Layout,
        rows: np.ndarray,
        depth_limit: int | None,
        depth: int,
        inner: slice | None = None,
    ) -> lay.Node:
        starts, stops = _runs(rows) if len(rows) else (rows, rows)
        return self._read_ranges(layout, starts, stops, inner, depth_limit, depth)

    def _validity(self, layout: Layout, starts: np.ndarray, stops: np.ndarray) -> np.ndarray | None:
        name = layout.validity
        if not name or name not in self._manifest.leaves:
            return None
        valid = self._gather(name, starts, stops).astype(bool)
        return None if valid.all() else valid

    def _leaf(
        self,
        layout: LeafLayout,
        starts: np.ndarray,
        stops: np.ndarray,
        validity: np.ndarray | None,
        span: Ranges | None = None,
    ) -> lay.Leaf:
        d = _dtype(layout.dtype)
        if d.kind in "US" and layout.indices:
            dictionary = self._dictionary(layout)
            whole = None if span is None else self._trusted_indices(layout.indices, dictionary)
            if span is not None and whole is not None:
                return lay.Leaf(encoded(span.take_from(whole), dictionary, validity))
            indices = self._gather(layout.indices, starts, stops, span)
            arr = decode(
                indices,
                dictionary,
                validity,
                self._store.url,
                layout.indices,
                _locator(starts, stops),
            )
            return lay.Leaf(arr)
        if d.kind in "US":
            offsets_name, data_name = layout.text_leaves()
            data_length = self._manifest.leaves[data_name].length
            whole = None if span is None else self._trusted_offsets(offsets_name, data_length)
            if span is not None and whole is not None:
                sizes, data_span = _text_ranges(whole, span)
                data = self._gather(data_name, data_span.starts, data_span.stops, data_span)
            else:
                bounds = self._offsets(offsets_name, starts, stops, data_length)
                lens = stops - starts
                ends = np.cumsum(lens + 1)
                begins = ends - lens - 1
                keep = np.ones(len(bounds), dtype=bool)
                keep[begins[1:]] = False
                data = self._gather(data_name, bounds[begins], bounds[ends - 1])
                sizes = np.diff(bounds)[keep[1:]] if len(bounds) > 1 else np.zeros(0, np.int64)
            return _text_leaf(layout, d, sizes, data, validity)
        assert layout.values is not None
        return _values_leaf(self._gather(layout.values, starts, stops, span), d, validity)

    def _resident_batch(
        self, specs: list[ColumnSpec], chains: list[_Chain]
    ) -> dict[str, np.ndarray] | None:
        """Every leaf the level walk of these columns reads (level offsets, validity,
        values, indices, text offsets and data), by name, when all of them are resident
        and those with a whole-leaf check were checked (:meth:`_trusted`); else None (the
        per-leaf walk reads them, and makes them resident as it goes)."""
        if self._cache is None:
            return None
        key = tuple(s.name for s in specs)
        plan = self._batch_leaves.get(key)
        if plan is None:
            plan = self._batch_leaves[key] = self._walk_leaves(chains)
        names, must_check = plan
        leaves = self._manifest.leaves
        found = self._store.resident_many([(n, leaves[n].length) for n in names], self._cache)
        if found is None:
            return None
        checked = self._checked
        for name, whole in zip(names, found, strict=True):
            if name in must_check and checked.get(name) is not whole:
                return None  # read in again since it was checked: the walk checks it
        return dict(zip(names, found, strict=True))

    def _recipes_of(
        self, specs: list[ColumnSpec], chains: list[_Chain], wholes: dict[str, np.ndarray]
    ) -> list[_Recipe | None]:
        """How each chain of a resident column set is built (:func:`_cook`), worked out
        once per column set: None for a chain the general walk reads (a validity leaf
        stored for it or a list above it, a fixed axis, booleans, narrow raw strings)."""
        key = tuple(s.name for s in specs)
        found = self._recipes.get(key)
        if found is None:
            found = self._recipes[key] = [self._recipe(c, wholes) for c in chains]
        return found

    def _recipe(self, chain: _Chain, wholes: dict[str, np.ndarray]) -> _Recipe | None:
        leaf = chain.leaf
        if chain.sizes or leaf.validity in wholes:
            return None
        if any(layout.validity in wholes for layout in chain.lists):
            return None
        d = _dtype(leaf.dtype)
        if d.kind in "US":
            if leaf.indices:
                if wholes[leaf.indices].dtype != np.int32:
                    return None
                dictionary = self._dictionary(leaf)
                typ = pa.dictionary(pa.int32(), dictionary.type)
                kind, first, second = _INDICES, leaf.indices, ""
            else:
                if leaf.arrow in ("string", "binary"):  # saved narrow: the walk casts
                    return None
                dictionary = None
                typ = pa.large_string() if d.kind == "U" else pa.large_binary()
                kind, (first, second) = _TEXT, leaf.text_leaves()
        elif d.kind in "iuf":
            assert leaf.values is not None
            dictionary, typ, kind, first, second = None, d.arrow, _VALUES, leaf.values, ""
        else:
            return None
        types = [typ]
        for _ in chain.lists:
            types.append(_list_type(types[-1]))
        return _Recipe(len(chain.lists), kind, first, second, tuple(types), dictionary)

    def _windows(
        self,
        specs: list[ColumnSpec],
        chains: list[_Chain],
        tree: list[tuple[int, ListLayout]],
        lo: int,
        hi: int,
    ) -> dict[str, np.ndarray]:
        """Every leaf the level walk of ``chains`` reads (:meth:`_walk_leaves`), cut to
        the window rows ``[lo, hi)`` reach in it: one contiguous read per leaf, checked as
        the walk checks what it reads (offsets within their content and never decreasing
        from the offset before the window on, dictionary indices inside the dictionary),
        offsets rebased to the start of their content's window. :meth:`_take_levels` then
        builds rows ``[0, hi - lo)`` of them as it builds a batch of resident leaves: a
        dozen calls a column instead of the per-leaf walk (``h[i]`` with the cache off:
        0.54-0.72x the time on the molecule benchmark). The steps are worked out once per
        column set (:meth:`_window_plan`)."""
        key = tuple(s.name for s in specs)
        steps = self._window_plans.get(key)
        if steps is None:
            steps = self._window_plans[key] = self._window_plan(chains)
        out: dict[str, np.ndarray] = {}
        bounds = [(lo, hi)]
        for parent, layout in tree:  # each list's window from its parent's
            assert layout.offsets is not None
            raw = self._window_offsets(
                layout.offsets, *bounds[parent], self._rows_of(layout.content)
            )
            out[layout.offsets] = raw - raw[0]
            bounds.append((int(raw[0]), int(raw[-1])))
        requests: list[tuple[str, int, int, int]] = []
        for kind, name, node, width, extra in steps:
            a, b = bounds[node]
            a, b = a * width, b * width
            if kind == _TEXT:
                raw = self._window_offsets(name, a, b, self._manifest.leaves[extra].length)
                out[name] = raw - raw[0]
                out[extra] = self._window(extra, int(raw[0]), int(raw[-1]))
            else:
                requests.append((name, a, b, self._readable(name, a, b)))
        # The other leaves read together (their compressed chunks in one compiled call).
        found = self._store.windows(requests, self._cache, selection=self._selection_id)
        for (kind, name, _node, _width, extra), (_name, a, b, _length), values in zip(
            [step for step in steps if step[0] != _TEXT], requests, found, strict=True
        ):
            out[name] = values
            if kind == _INDICES:
                where = _locator(*_one(a, b))
                ck.check_indices(values, extra, self._store.url, name, where)
        return out

    def _window_plan(self, chains: list[_Chain]) -> list[tuple[int, str, int, int, Any]]:
        """What :meth:`_windows` reads for these chains besides the lists' offsets: each
        other leaf once as ``(kind, name, node, width, extra)``: the node of the walk
        whose window it follows, scaled by ``width`` (fixed axes), and the dictionary's
        size (indices) or the data leaf (text)."""
        stored = self._manifest.leaves
        steps: list[tuple[int, str, int, int, Any]] = []
        seen: set[str] = set()

        def add(kind: int, name: str, node: int, width: int, extra: Any = None) -> None:
            if name not in seen:
                seen.add(name)
                steps.append((kind, name, node, width, extra))

        for chain in chains:
            parents = (0, *chain.nodes)
            for parent, layout in zip(parents, chain.lists, strict=False):
                if layout.validity in stored:
                    add(_VALUES, layout.validity, parent, 1)
            leaf, node = chain.leaf, parents[-1]
            width = math.prod(chain.sizes)
            if leaf.validity in stored:
                add(_VALUES, leaf.validity, node, width)
            if _dtype(leaf.dtype).kind not in "US":
                assert leaf.values is not None
                add(_VALUES, leaf.values, node, width)
            elif leaf.indices:
                add(_INDICES, leaf.indices, node, width, len(self._dictionary(leaf)))
            else:
                offsets_name, data_name = leaf.text_leaves()
                add(_TEXT, offsets_name, node, width, data_name)
        return steps

    def _window_offsets(self, name: str, a: int, b: int, content: int) -> np.ndarray:
        """Offsets ``[a, b + 1)`` of an offsets leaf (the lists ``[a, b)``), checked as
        :meth:`_offsets` checks a range: within ``[0, content]`` and never decreasing from
        the offset before them on (a few, the usual case, checked as Python ints)."""
        lead = 1 if a > 0 else 0
        raw = self._window(name, a - lead, b + 1)
        if len(raw) <= SMALL_WINDOW:
            values = raw.tolist()
            sound = values[0] >= 0 and values[-1] <= content
            if sound and all(x <= y for x, y in itertools.pairwise(values)):
                return raw[lead:]
        where, seams = _locator(*_one(a - lead, b + 1)), np.zeros(0, dtype=np.int64)
        ck.check_range_bounds(raw, seams, content, self._store.url, name, where)
        return raw[lead:]

    def _window(self, name: str, a: int, b: int) -> np.ndarray:
        """Values ``[a, b)`` of a leaf: :meth:`_gather` of one range."""
        length = self._readable(name, a, b)
        return self._store.window(name, a, b, length, self._cache, selection=self._selection_id)

    def _readable(self, name: str, lo: int, hi: int) -> int:
        """The committed length of a leaf to be read from ``lo`` up to ``hi``, checked to
        hold them (and the leaf's dtype and shape, once)."""
        length = self._manifest.leaves[name].length
        if hi > length or lo < 0:
            raise StoreFormatError(
                f"{self._store.url}: leaf {name!r} is read from {lo} up to {hi} but commits "
                f"{length} values"
            )
        if name not in self._typed:
            self._check_typed(name)
        return length

    def _walk_leaves(self, chains: list[_Chain]) -> tuple[tuple[str, ...], frozenset[str]]:
        """The leaves :meth:`_resident_batch` fetches for these chains, and those among
        them that :meth:`_trusted` checks whole (offsets and dictionary indices)."""
        stored = self._manifest.leaves
        names: dict[str, None] = {}
        checked: set[str] = set()
        for chain in chains:
            nodes: list[ListLayout | LeafLayout] = [*chain.lists, chain.leaf]
            names.update(dict.fromkeys(n.validity for n in nodes if n.validity in stored))
            for layout in chain.lists:
                assert layout.offsets is not None
                names[layout.offsets] = None
                checked.add(layout.offsets)
            leaf = chain.leaf
            if _dtype(leaf.dtype).kind in "US":
                if leaf.indices:
                    names[leaf.indices] = None
                    checked.add(leaf.indices)
                    self._dictionary(leaf)
                else:
                    offsets_name, data_name = leaf.text_leaves()
                    names[offsets_name] = names[data_name] = None
                    checked.add(offsets_name)
            else:
                assert leaf.values is not None
                names[leaf.values] = None
        return tuple(names), frozenset(checked)

    def _resident_leaf(
        self,
        layout: LeafLayout,
        span: Ranges,
        wholes: dict[str, np.ndarray],
        validity: np.ndarray | None,
    ) -> lay.Leaf:
        """:meth:`_leaf` of ranges ``span`` from the resident, checked leaves of
        :meth:`_resident_batch`."""
        d = _dtype(layout.dtype)
        if d.kind in "US" and layout.indices:
            indices = span.take_from(wholes[layout.indices])
            return lay.Leaf(encoded(indices, self._dictionary(layout), validity))
        if d.kind in "US":
            offsets_name, data_name = layout.text_leaves()
            sizes, data_span = _text_ranges(wholes[offsets_name], span)
            return _text_leaf(layout, d, sizes, data_span.take_from(wholes[data_name]), validity)
        assert layout.values is not None
        return _values_leaf(span.take_from(wholes[layout.values]), d, validity)

    def _dictionary(self, layout: LeafLayout) -> pa.Array:
        """The committed dictionary of a dictionary-encoded leaf, read whole and checked
        once per handle (dictionaries are small: one entry per distinct value)."""
        key, data_name = layout.text_leaves()
        found = self._dictionaries.get(key)
        if found is None:
            leaves = self._manifest.leaves
            offsets = self._store.read_whole(key, leaves[key].length)
            data = self._store.read_whole(data_name, leaves[data_name].length)
            ck.check_offsets(offsets, len(data), self._store.url, key)
            found = strings(offsets, data, layout.dtype == "binary")
            if layout.dtype == "string" and not self._store.checksummed(data_name):
                _check_utf8(found, self._store.url, data_name)
            if layout.arrow in ("string", "binary"):  # the width it was saved with
                found = found.cast(pa.string() if layout.arrow == "string" else pa.binary())
            self._dictionaries[key] = found
        return found

    def _check_typed(self, name: str) -> None:
        """The leaf's stored dtype and length agree with the manifest (once per leaf)."""
        store = self._store
        length = self._manifest.leaves[name].length
        dtype = store.format(name).logical
        ck.check_dtype(np.zeros(0, dtype), self._manifest.leaves[name].dtype, store.url, name)
        shape = store.leaf_length(name)
        if shape < length:
            raise StoreFormatError(
                f"{store.url}: leaf {name!r} has {shape} values (positions {shape} on are "
                f"missing); the manifest commits {length}"
            )
        self._typed.add(name)

    def _trusted(self, name: str, check: Callable[[np.ndarray], None]) -> np.ndarray | None:
        """The leaf's resident form (:meth:`.zarr.LeafStore.resident`), checked whole by
        ``check`` the first time this array is seen, so reads from it need no check per
        selection; None while the leaf is not resident (cache off, too large for it, or
        not selected often enough yet)."""
        if self._cache is None:
            return None
        if name not in self._typed:
            self._check_typed(name)
        length = self._manifest.leaves[name].length
        whole = self._store.resident(name, length, self._cache, self._selection_id)
        if whole is not None and self._checked.get(name) is not whole:
            check(whole)
            self._checked[name] = whole
        return whole

    def _trusted_offsets(self, name: str, content: int) -> np.ndarray | None:
        """:meth:`_trusted` of an offsets leaf over ``content`` entries."""
        url = self._store.url
        return self._trusted(name, lambda whole: ck.check_offsets(whole, content, url, name))

    def _trusted_indices(self, name: str, dictionary: pa.Array) -> np.ndarray | None:
        """:meth:`_trusted` of a dictionary's indices leaf."""
        url, size = self._store.url, len(dictionary)
        return self._trusted(name, lambda whole: ck.check_indices(whole, size, url, name))

    def _gather(
        self, name: str, starts: np.ndarray, stops: np.ndarray, span: Ranges | None = None
    ) -> np.ndarray:
        """Values of ``[starts[i], stops[i])`` concatenated: one whole-array gather per
        leaf by the store's backend, through the chunk cache (``span``: the same ranges,
        with the bounds and positions the leaves of a level share)."""
        store = self._store
        if span is not None:
            lo, hi = span.lo, span.hi
        else:
            lo, hi = (int(starts.min()), int(stops.max())) if len(starts) else (0, 0)
        length = self._readable(name, lo, hi)
        # Columns of one level share its offsets leaf: read those ranges once per selection.
        shared = name.startswith("_levels/")
        if shared:
            memo_key = (self._selection_id, name, starts.tobytes(), stops.tobytes())
            found = self._memo.get(memo_key)
            if found is not None:
                return found
        out = store.gather(
            name, starts, stops, length, self._cache, selection=self._selection_id, span=span
        )
        if shared:
            self._remember(memo_key, out)
        return out


def parse_rows(key: Any, n: int) -> np.ndarray:
    """Row numbers (int64, any order) selected by an int, slice, bool mask or indices
    (see :func:`grumpy_arrow.storage.keys.parse_rows`).

    Raises
    ------
    DTypeError
        For floats, bools, tuples and nested indices.
    OutOfBoundsError
        For a row outside ``[-n, n)`` or a mask whose length is not ``n``.
    """
    return parse(key, n)


def _one(a: int, b: int) -> tuple[np.ndarray, np.ndarray]:
    """The one range ``[a, b)`` as ``(starts, stops)`` (see :meth:`.gather.Ranges.one`)."""
    one = Ranges.one(a, b)
    return one.starts, one.stops


def _locator(starts: np.ndarray, stops: np.ndarray) -> ck.Locate:
    """Position ``i`` of values gathered from ranges ``[starts, stops)`` -> leaf position
    (worked out only when a check fails)."""
    return lambda i: int(expand_ranges(starts, stops - starts)[i])


def _one_chunk(column: pa.ChunkedArray) -> pa.Array:
    return column.chunk(0) if column.num_chunks == 1 else column.combine_chunks()


class _Chain(NamedTuple):
    """A column read by the level walk (:meth:`Handle._take_levels`): its leaf, the
    variable list nodes above it, outermost first (first those on its levels' shared
    offsets, then lists of the column's own: the tokens of a document column, the bonds of
    an atom), and the sizes of the fixed axes between the last list and the leaf (stored
    without offsets and without nulls: ``n * var * 3`` points under the atom level).
    ``nodes`` numbers each list's ranges in the walk's tree (:meth:`Handle._walk_tree`):
    lists on the same offsets leaf below the same parent share them; ``levels`` is how
    many of the lists are levels."""

    leaf: LeafLayout
    lists: tuple[ListLayout, ...]
    sizes: tuple[int, ...] = ()
    nodes: tuple[int, ...] = ()
    levels: int = 0


_VALUES, _INDICES, _TEXT = 0, 1, 2  # what a recipe's leaf holds


class _Recipe(NamedTuple):
    """How :func:`_cook` builds one column of a resident batch: the column's list depth,
    what its leaf holds (numbers, dictionary indices, text offsets and bytes) and the
    leaves' names, the Arrow type at each depth (the leaf's first), and the dictionary."""

    depth: int
    kind: int
    first: str
    second: str
    types: tuple[pa.DataType, ...]
    dictionary: pa.Array | None


def _cook(
    recipe: _Recipe,
    span: Ranges,
    wholes: dict[str, np.ndarray],
    nodes: tuple[int, ...],
    offsets: list[np.ndarray],
    buffers: dict[int, pa.Buffer],
) -> GrumpyArray:
    """One column of a resident batch, by its recipe (:meth:`Handle._recipes_of`): its
    leaf's values in ranges ``span`` gathered once, then the Arrow arrays and layout nodes
    built straight on them and on the ``offsets`` (and their ``buffers``) of its lists'
    ``nodes``, shared with the other columns (a dozen calls a column: the warm shuffled
    epoch's Python per batch, with no nulls to look for)."""
    types = recipe.types
    if recipe.kind == _VALUES:
        data = span.take_from(wholes[recipe.first])
        arr = pa.Array.from_buffers(types[0], len(data), [None, pa.py_buffer(data)])
    elif recipe.kind == _INDICES:
        data = span.take_from(wholes[recipe.first])
        codes = pa.Array.from_buffers(pa.int32(), len(data), [None, pa.py_buffer(data)])
        arr = pa.DictionaryArray.from_arrays(codes, recipe.dictionary, safe=False)
    else:
        sizes, data_span = _text_ranges(wholes[recipe.first], span)
        bounds = offsets_from_lengths(sizes)
        text = data_span.take_from(wholes[recipe.second])
        arr = pa.Array.from_buffers(
            types[0], len(sizes), [None, pa.py_buffer(bounds), pa.py_buffer(text)]
        )
    node: lay.Node = lay.Leaf(arr)
    for d in range(recipe.depth, 0, -1):
        i = nodes[d - 1]
        node = lay.ListNode(offsets[i], None, node)
        arr = pa.Array.from_buffers(
            types[recipe.depth - d + 1], len(offsets[i]) - 1, [None, buffers[i]], children=[arr]
        )
    return GrumpyArray(arr, node=node)


class _RowPlan(NamedTuple):
    """How a selection of rows is read (worked out once for all its columns)."""

    starts: np.ndarray
    """The distinct rows as ascending ``[start, stop)`` runs of consecutive rows..."""
    stops: np.ndarray
    order: np.ndarray | None
    """...and the positions that put what they read into the requested order (None when
    the rows are ascending and distinct already)."""
    given: tuple[np.ndarray, np.ndarray]
    """The rows as runs in the requested order, repeats included."""


def _plan_rows(rows: np.ndarray) -> _RowPlan:
    """The :class:`_RowPlan` of ``rows`` (int64, any order, repeats allowed)."""
    if len(rows) == 0:
        empty = np.zeros(0, dtype=np.int64)
        return _RowPlan(empty, empty, None, (empty, empty))
    if len(rows) == 1 or bool(np.all(rows[1:] > rows[:-1])):
        starts, stops = _runs(rows)
        return _RowPlan(starts, stops, None, (starts, stops))
    unique, order = np.unique(rows, return_inverse=True)
    starts, stops = _runs(unique)
    return _RowPlan(starts, stops, order, _runs(rows))


def _runs(rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rows as ``[start, stop)`` runs of consecutive rows, in their order (``rows`` not
    empty)."""
    rows = np.asarray(rows, dtype=np.int64)
    first = np.empty(len(rows), dtype=bool)
    first[0] = True
    np.not_equal(rows[1:] - rows[:-1], 1, out=first[1:])
    begins = np.flatnonzero(first)
    if len(begins) == len(rows):  # no two consecutive rows (random picks): one run each
        return rows.copy(), rows + 1
    ends = np.empty_like(begins)
    ends[:-1] = begins[1:] - 1
    ends[-1] = len(rows) - 1
    return rows[begins], rows[ends] + 1


def _within(whole: np.ndarray, up: Ranges) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(offsets, child_starts, child_stops)`` of the lists in ranges ``up`` of a whole,
    checked offsets array (see :meth:`Handle._level_ranges`): slices for one run of rows,
    else three gathers."""
    if len(up.starts) == 1:  # one run of rows: slices
        bounds = whole[up.lo : up.hi + 1]
        return bounds - bounds[0], bounds[:1].copy(), bounds[-1:].copy()
    pos = up.positions()
    begins = whole[pos]
    return offsets_from_lengths(whole[pos + 1] - begins), whole[up.starts], whole[up.stops]


def _text_ranges(whole: np.ndarray, span: Ranges) -> tuple[np.ndarray, Ranges]:
    """The byte sizes of the strings in ranges ``span`` of a text leaf, from its whole,
    checked offsets, and the ranges of their bytes in the data leaf."""
    pos = span.positions()
    return whole[pos + 1] - whole[pos], Ranges(whole[span.starts], whole[span.stops])


def _resident_validity(
    layout: Layout, span: Ranges, wholes: dict[str, np.ndarray]
) -> np.ndarray | None:
    """The validity of ranges ``span`` of a node from its resident validity leaf (None:
    no such leaf, or no null in the ranges), as :meth:`Handle._validity` reads it."""
    name = layout.validity
    if not name or name not in wholes:
        return None
    valid = span.take_from(wholes[name]).astype(bool)
    return None if valid.all() else valid


def _text_leaf(
    layout: LeafLayout,
    d: dt.DType,
    sizes: np.ndarray,
    data: np.ndarray,
    validity: np.ndarray | None,
) -> lay.Leaf:
    """A string or binary leaf of strings of ``sizes`` bytes, ``data`` their bytes in
    order, at the width (large or not) it was saved with."""
    offsets = offsets_from_lengths(sizes)
    typ = pa.large_string() if d.kind == "U" else pa.large_binary()
    bufs = [
        None if validity is None else _bitmap(validity),
        pa.py_buffer(offsets),
        pa.py_buffer(np.ascontiguousarray(data)),
    ]
    arr = pa.Array.from_buffers(typ, len(offsets) - 1, bufs)
    if layout.arrow in ("string", "binary"):  # the width it was saved with
        arr = arr.cast(pa.string() if layout.arrow == "string" else pa.binary())
    return lay.Leaf(arr)


def _values_leaf(values: np.ndarray, d: dt.DType, validity: np.ndarray | None) -> lay.Leaf:
    """A leaf of fixed-width values, null where ``validity`` is false."""
    if validity is None and d.kind in "iuf" and values.flags.c_contiguous:
        # No nulls: the gathered array is the Arrow data buffer as it is.
        buffers = [None, pa.py_buffer(values)]
        return lay.Leaf(pa.Array.from_buffers(d.arrow, len(values), buffers))
    mask = None if validity is None else ~validity
    return lay.Leaf(pa.array(values, type=d.arrow, mask=mask))


@functools.lru_cache(maxsize=256)
def _dtype(name: str) -> dt.DType:
    """:func:`.dtypes.dtype` of a layout's dtype name (once per name)."""
    return dt.dtype(name)


@functools.lru_cache(maxsize=256)
def _list_type(typ: pa.DataType) -> pa.DataType:
    """:func:`.layout.list_of` (once per content type)."""
    return lay.list_of(typ)


def _cut(
    starts: np.ndarray, stops: np.ndarray, key: slice
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Apply a slice (step 1) inside one row's content range."""
    if key.step not in (None, 1):
        raise ValueError(f"range reads take slices with step 1, got {key}")
    length = int(stops[0] - starts[0])
    a, b, _ = key.indices(length)
    b = max(a, b)
    return starts + a, starts + b, np.array([b - a], dtype=np.int64)


# Fragments (the layer below) open their stores with this class.
register_opener(Handle)
