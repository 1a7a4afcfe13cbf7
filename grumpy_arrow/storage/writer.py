"""Writing stores: first save, true append, atomic commit, the writer lock.

A commit writes every leaf's new data first (at the committed length, cutting off any
uncommitted tail a crashed writer left), then the manifest, atomically. Readers trust only
the manifest's lengths, so a crash at any point leaves the previous state readable.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from grumpy_arrow import layout as lay
from grumpy_arrow._version import __version__
from grumpy_arrow.array import GrumpyArray
from grumpy_arrow.errors import GrumpyError, SchemaError, StoreError, StoreLockedError
from grumpy_arrow.frame.dataframe import DataFrame
from grumpy_arrow.frame.schema import parse_schema
from grumpy_arrow.storage import buffers as bf
from grumpy_arrow.storage import checks as ck
from grumpy_arrow.storage import codecs as codecs_
from grumpy_arrow.storage import dictionary, widening
from grumpy_arrow.storage import layouts as ly
from grumpy_arrow.storage.layouts import (
    Layout,
    LeafLayout,
    ListLayout,
    RecordLayout,
    UnionLayout,
)
from grumpy_arrow.storage.manifest import (
    MANIFEST_NAME,
    ColumnSpec,
    LeafSpec,
    LevelSpec,
    Manifest,
)
from grumpy_arrow.storage.zarr import LeafStore, NotDecimal

__all__ = [
    "ARRAY_COLUMN",
    "DEFAULT_CHUNK",
    "LOCK_TIMEOUT",
    "Batch",
    "commit",
    "lock",
    "lock_file",
    "manifest_options",
    "new_manifest",
]

ARRAY_COLUMN = "array"
DEFAULT_CHUNK = None  # elements per inner chunk: None sizes them by bytes (sharding.INNER_BYTES)
FEW_PER_ROW = 8
"""A leaf whose first batch holds at most this many values per outer row (the row-level
leaves, and below them e.g. the offsets of a molecule's few residues) is judged like a
row-level one by ``auto`` (:func:`.zarr.choose_codec`: raw): a random row reads a few of
its values, which compression would turn into decoding a whole inner chunk, and such
leaves hold a small share of a store's bytes. On the molecule benchmark the residue
offsets and residue-name indices, about 5 values a molecule, took 57 of the 225 chunk
decodes of a random 32-molecule batch, for 0.5 % of the store."""
LOCK_NAME = "grumpy.lock"
LOCK_TIMEOUT = 10.0  # seconds a second writer waits for the lock by default


@dataclass(frozen=True)
class Batch:
    """One batch to write: its kind, columns and schema."""

    kind: str
    columns: dict[str, GrumpyArray]
    schema: Any
    rows: int

    @classmethod
    def of(cls, obj: GrumpyArray | DataFrame) -> Batch:
        if isinstance(obj, DataFrame):
            schema = None if obj.schema is None else obj.schema.to_json()
            return cls("dataframe", {c: obj[c] for c in obj.columns}, schema, len(obj))
        return cls("array", {ARRAY_COLUMN: obj}, None, len(obj))


def _level_names(schema: Any) -> dict[int, str]:
    if schema is None:
        return {}

    parsed = parse_schema(schema)  # (levels may be names, alias lists or placed columns)
    assert parsed is not None
    return {depth: parsed.names[depth] for depth in range(1, len(parsed.names))}


def _column_level(schema: Any, name: str) -> int:
    parsed = parse_schema(schema)
    return 0 if parsed is None else parsed.level_of(name)


def _buffers_of(
    batch: Batch,
) -> tuple[dict[str, Layout], dict[str, np.ndarray], dict[str, int]]:
    """Layouts, buffers and per-validity-leaf row counts of a batch."""
    layouts: dict[str, Layout] = {}
    buffers: dict[str, np.ndarray] = {}
    rows: dict[str, int] = {}
    levels = _level_names(batch.schema)
    for name, column in batch.columns.items():
        own = _column_level(batch.schema, name)
        reach = {d: lv for d, lv in levels.items() if d <= own}
        layout, bufs = bf.column_buffers(column.node, name, reach)
        layouts[name] = layout
        for key, value in bufs.items():
            buffers.setdefault(key, value)  # shared level offsets: the first column's
        lengths = {k: len(v) for k, v in bufs.items()}
        for node, _ in layout.nodes():  # the rows of each validity leaf's node
            if node.validity is not None:
                rows[node.validity] = node.rows(lengths)
    return layouts, buffers, rows


def new_manifest(
    batch: Batch,
    *,
    chunk_size: int | None,
    chunk_dim: Any,
    compressor: str,
    shard_size: int | None = None,
    dictionary: Any = None,
    codecs: dict[str, str] | None = None,
) -> Manifest:
    """An empty manifest (0 rows) with the batch's columns and levels; string leaves are
    dictionary-encoded as :mod:`.dictionary` decides (``dictionary``: True, False, None
    for automatic, or a list of the column names to encode). ``codecs`` names the codec
    of the columns the batch holds encoded (:mod:`.codecs`)."""
    layouts, buffers, _ = _buffers_of(batch)
    for name, layout in layouts.items():
        option = dictionary
        if isinstance(dictionary, (list, tuple, set, frozenset)):
            option = name in dictionary  # the columns named: always; the others: never
        layouts[name] = _mark_dictionaries(layout, buffers, option)
    levels = _level_names(batch.schema)
    level_specs = tuple(
        LevelSpec(name, depth, bf.level_leaf(name))
        for depth, name in sorted(levels.items())
        if any(bf.level_leaf(name) in lay_.leaf_names() for lay_ in layouts.values())
    )
    leaves: dict[str, LeafSpec] = {}
    columns = []
    for name, layout in layouts.items():
        level = None
        if batch.schema is not None:
            level = levels.get(_column_level(batch.schema, name)) or _first_level(batch.schema)
        columns.append(ColumnSpec(name, layout, level, (codecs or {}).get(name)))
    return Manifest(
        kind=batch.kind,
        rows=0,
        columns=tuple(columns),
        leaves=leaves,
        schema=batch.schema,
        levels=level_specs,
        chunk_size=int(chunk_size) if chunk_size else DEFAULT_CHUNK,
        chunk_dim=chunk_dim,
        shard_size=int(shard_size) if shard_size else None,
        compressor=compressor,
        creator=f"grumpy_arrow {__version__}",
        dictionary_pending=batch.rows == 0 and dictionary is None,
    )


def manifest_options(
    chunk_size: int | None, chunk_dim: Any, compressor: str, shard_size: int | None, dictionary: Any
) -> dict[str, Any]:
    """The layout options of :func:`new_manifest` by name, as ``gr.save`` and the sharded
    writers keep them for a new store (``codecs`` aside: each passes it its own way)."""
    return {
        "chunk_size": chunk_size,
        "chunk_dim": chunk_dim,
        "compressor": compressor,
        "shard_size": shard_size,
        "dictionary": dictionary,
    }


def _mark_dictionaries(layout: Layout, buffers: dict[str, np.ndarray], option: Any) -> Layout:
    """The layout of a new column with an ``indices`` leaf for each string leaf that
    :func:`.dictionary.worth_it` picks (their offsets and data then hold the dictionary)."""

    def mark(leaf: LeafLayout) -> LeafLayout:
        if leaf.values is not None:
            return leaf
        offsets, data = leaf.text_leaves()
        if not dictionary.worth_it(buffers[offsets], buffers[data], leaf.dtype == "binary", option):
            return leaf
        return replace(leaf, indices=offsets[: -len("offsets")] + "indices")

    return layout.map_leaves(mark)


def _encode_dictionaries(
    store: LeafStore, manifest: Manifest, buffers: dict[str, np.ndarray]
) -> None:
    """Turn the batch buffers of dictionary-encoded leaves into indices and the values
    their dictionaries gain (in place)."""
    for column in manifest.columns:
        for leaf in _dictionary_leaves(column.layout):
            assert leaf.indices is not None
            offsets_name, data_name = leaf.text_leaves()
            if offsets_name not in buffers:
                continue
            known = None
            spec = manifest.leaves.get(offsets_name)
            if spec is not None and spec.length > 1:
                d_offsets = store.read_whole(offsets_name, spec.length)
                d_data = store.read_whole(data_name, manifest.leaves[data_name].length)
                ck.check_offsets(d_offsets, len(d_data), store.url, offsets_name)
                known = dictionary.strings(d_offsets, d_data, leaf.dtype == "binary")
            indices, new_offsets, new_data = dictionary.encode(
                buffers[offsets_name], buffers[data_name], leaf.dtype == "binary", known
            )
            buffers[leaf.indices] = indices
            buffers[offsets_name] = new_offsets
            buffers[data_name] = new_data


def _dictionary_leaves(layout: Layout) -> list[LeafLayout]:
    return [node for node, _ in layout.nodes() if isinstance(node, LeafLayout) and node.indices]


def _first_level(schema: Any) -> str:
    parsed = parse_schema(schema)  # (levels may be names, alias lists or placed columns)
    assert parsed is not None
    return parsed.names[0]


def _check_compatible(
    manifest: Manifest, batch: Batch, layouts: dict[str, Layout], where: str, *, widen: bool
) -> None:
    if batch.kind != manifest.kind:
        raise SchemaError(f"{where}: cannot append a {batch.kind} to a store of a {manifest.kind}")
    if batch.schema != manifest.schema:
        raise SchemaError(
            f"{where}: the batch's schema {batch.schema} differs from the store's {manifest.schema}"
        )
    stored = [c.name for c in manifest.columns]
    if sorted(layouts) != sorted(stored):
        raise SchemaError(f"{where}: the batch has columns {list(layouts)}; the store has {stored}")
    for column in manifest.columns:
        want = column.layout.signature()
        got = layouts[column.name].signature()
        if want != got:
            why = (
                "appends widen scalars and lists to a union, integers to floats and columns "
                "without values, not this"
                if widen
                else "the shards of a dataset keep one layout"
            )
            raise SchemaError(
                f"{where}: column {column.name!r} has layout {got}; the store holds {want} ({why})"
            )


def _chunk_for(depth: int, manifest: Manifest) -> tuple[int | None, int | None]:
    """``(chunk_size, shard_size)`` of a new leaf at ``depth`` (None: sized by bytes)."""
    if manifest.chunk_dim is None:
        return manifest.chunk_size, manifest.shard_size
    target = manifest.chunk_dim
    if isinstance(target, str):
        schema = parse_schema(manifest.schema)
        target = schema.index(target) if schema is not None else -1  # aliases too
    if depth == target:
        return manifest.chunk_size, manifest.shard_size
    return None, None


def commit(
    store: LeafStore,
    manifest: Manifest,
    obj: GrumpyArray | DataFrame,
    *,
    encoded: bool = False,
    widen: bool = True,
) -> Manifest:
    """Append ``obj`` after the committed rows and commit; returns the new manifest.

    Columns the store keeps with a codec are encoded first (unless ``encoded``: the
    caller did it). With ``widen`` (the default) a batch wider than the store widens its
    layouts (:mod:`.widening`: list or scalar columns to scalar-or-list unions, integers
    to floats, nodes without rows to the batch's types) in the same commit; the shards of
    a dataset, which must all keep one layout, do not.

    Raises
    ------
    SchemaError
        If the batch does not fit the store, or an integer would not be exact as the
        float its column widens to (nothing is written then).
    """
    if not encoded:  # (an array store's one column is named "array", as codecs= names it)
        obj = codecs_.encode_batch(obj, manifest.codecs, store.url)
    batch = _fit_layouts(Batch.of(obj), manifest)
    wide = widening.Widening(manifest, {})
    if widen and batch.rows:
        wide = widening.plan(store, manifest, {k: v.node for k, v in batch.columns.items()})
        wrapped = {k: GrumpyArray._wrap(v) for k, v in wide.columns.items()}
        manifest, batch = wide.manifest, replace(batch, columns=wrapped)
    order = [c.name for c in manifest.columns]
    if set(batch.columns) == set(order):  # same columns in another order: the store's order
        batch = replace(batch, columns={name: batch.columns[name] for name in order})
    layouts, buffers, validity_rows = _buffers_of(batch)
    _check_compatible(manifest, batch, layouts, store.url, widen=widen)
    manifest = _write_first(store, manifest, wide.writes, batch.rows)
    names = _stored_names(manifest, layouts)
    buffers = {names.get(k, k): v for k, v in buffers.items()}
    validity_rows = {names.get(k, k): v for k, v in validity_rows.items()}
    if manifest.dictionary_pending and batch.rows:
        # A store created empty: its first rows decide, as a first save's would.
        columns = tuple(
            replace(c, layout=_mark_dictionaries(c.layout, buffers, None)) for c in manifest.columns
        )
        manifest = replace(manifest, columns=columns, dictionary_pending=False)
    _encode_dictionaries(store, manifest, buffers)
    # Every leaf once, with its role, node and list depth (a level's shared offsets: the
    # first list node naming them).
    owners: dict[str, tuple[str, Layout, int]] = {}
    for column in manifest.columns:
        for name, role, node, depth in column.layout.iter_buffers():
            owners.setdefault(name, (role, node, depth))
    lengths = {k: v.length for k, v in manifest.leaves.items()}
    leaves = dict(manifest.leaves)
    renamed: dict[str, str] = {}  # decimal-scaled leaves converted for this batch
    jobs: list[_LeafWrite] = []
    for name, (role, node, depth) in owners.items():
        old = leaves.get(name)
        data = buffers.get(name)
        if role == "validity":
            if data is None and old is None:
                continue
            if data is None:
                data = np.ones(validity_rows.get(name, 0), dtype=bool)
        if data is None:
            continue
        dtype = ly.stored_dtype(role, node)
        if old is None or (old.length == 0 and len(data) and manifest.compressor == "auto"):
            # A new leaf, or one that holds nothing yet (a store created from an empty
            # batch): its codec is chosen from these first values.
            chunk, shard = _chunk_for(depth, manifest)
            few = depth == 0 or len(data) <= FEW_PER_ROW * (batch.rows + 1)
            store.create(
                name,
                dtype,
                manifest.compressor,
                chunk=chunk,
                shard=shard,
                sample=data,
                row_level=few,
            )
            if role == "validity" and manifest.rows:
                # The first nulls of a node: the rows before them were all valid.
                fill = node.rows(lengths)
                store.write(name, 0, np.ones(fill, dtype=bool))
                old = LeafSpec(dtype, fill)
            else:
                old = LeafSpec(dtype, 0, 0 if role == "offsets" else None)
        values = ly.rebase(
            node,
            role,
            data,
            length=old.length,
            last=int(old.last or 0),
            lengths=lengths,
            batch=buffers,
        )
        last = int(old.last or 0) + int(data[-1]) if role == "offsets" else None
        jobs.append(_LeafWrite(name, old, values, dtype, depth, last))
    for job, fits in zip(jobs, _write_leaves(store, jobs), strict=True):
        name, old = job.name, job.old
        if not fits:  # floats with more decimal places than the leaf keeps
            leaves.pop(name)
            chunking = _chunk_for(job.depth, manifest)
            fresh = _convert(store, manifest, name, job.dtype, job.values, set(leaves), *chunking)
            renamed[name] = name = fresh
            store.write(name, old.length, job.values)
        leaves[name] = LeafSpec(old.dtype, old.length + len(job.values), job.last)
    columns = manifest.columns
    if renamed:
        columns = tuple(replace(c, layout=_renamed(c.layout, renamed)) for c in columns)
    new = replace(manifest, rows=manifest.rows + batch.rows, leaves=leaves, columns=columns)
    store.sync()  # the data is on the disk before the manifest that commits it
    store.write_atomic(MANIFEST_NAME, new.to_json().encode())
    for old_name in (*renamed, *wide.retired):  # no committed manifest names them any more
        store.remove(old_name)
    return new


WRITE_THREADS = min(4, os.cpu_count() or 1)
"""Threads that write the leaves of one commit to a local store (each leaf's new values
encoded, its last shard file replaced); 1 writes them in turn."""
PARALLEL_WRITE_BYTES = 1 << 20
"""A commit writes its leaves on :data:`WRITE_THREADS` threads from this many new bytes."""


@dataclass(frozen=True)
class _LeafWrite:
    """One leaf's part of a commit: its new ``values`` after ``old`` (the committed spec),
    with what a decimal-scaled leaf's conversion needs."""

    name: str
    old: LeafSpec
    values: np.ndarray
    dtype: Any
    depth: int
    last: int | None


def _write_leaves(store: LeafStore, jobs: list[_LeafWrite]) -> list[bool]:
    """Write each job's values after its leaf's committed length; per job, False where a
    decimal-scaled leaf cannot keep the values (:class:`.zarr.NotDecimal`: nothing of it
    written), else True.

    The leaves :mod:`.local` writes are written on :data:`WRITE_THREADS` threads when the
    batch holds :data:`PARALLEL_WRITE_BYTES` or more (others in turn, after): the work
    per leaf (scaling floats, compressing and checksumming inner chunks, copying the last
    shard's committed chunks, creating the new shard file, the rename over the old one)
    runs in NumPy, the compiled kernels or system calls that release the GIL; on ext4 the
    create and the rename alone took ~1.9 ms per leaf of the molecule benchmark's appends
    (measured 2026-12-07). Leaves are independent files until the manifest commits them,
    so their order does not matter; should one fail, the others' new files still hold
    every committed chunk, and the manifest is not written."""

    def one(job: _LeafWrite) -> bool:
        try:
            store.write(job.name, job.old.length, job.values)
        except NotDecimal:
            return False
        return True

    total = sum(job.values.nbytes for job in jobs)
    threads = min(WRITE_THREADS, len(jobs))
    if threads < 2 or total < PARALLEL_WRITE_BYTES or not store.local:
        return [one(job) for job in jobs]
    direct = [store.direct(job.name) for job in jobs]
    done: dict[int, bool] = {}
    # The largest leaves first, so the threads finish together.
    order = sorted((i for i in range(len(jobs)) if direct[i]), key=lambda i: -jobs[i].values.nbytes)
    with ThreadPoolExecutor(max_workers=threads) as pool:
        futures = {i: pool.submit(one, jobs[i]) for i in order}
        for i, future in futures.items():
            done[i] = future.result()
    for i in range(len(jobs)):
        if not direct[i]:
            done[i] = one(jobs[i])
    return [done[i] for i in range(len(jobs))]


def _write_first(
    store: LeafStore, manifest: Manifest, writes: tuple[widening.LeafWrite, ...], rows: int
) -> Manifest:
    """Create and fill the leaves a widening commit needs before its batch (under names
    the committed manifest does not use); the manifest listing them (not committed)."""
    if not writes:
        return manifest
    leaves = dict(manifest.leaves)
    for w in writes:
        chunk, shard = _chunk_for(w.depth, manifest)
        few = w.depth == 0 or len(w.data) <= FEW_PER_ROW * (manifest.rows + rows + 1)
        sample = w.data if w.sample is None else w.sample
        store.create(
            w.name,
            w.dtype,
            manifest.compressor,
            chunk=chunk,
            shard=shard,
            sample=sample,
            row_level=few,
            exact=w.sample is not None,
        )
        if len(w.data):
            store.write(w.name, 0, w.data)
        leaves[w.name] = LeafSpec(w.dtype, len(w.data), w.last)
    return replace(manifest, leaves=leaves)


def _stored_names(manifest: Manifest, layouts: dict[str, Layout]) -> dict[str, str]:
    """The store's leaf name of each of the batch's buffers whose name differs: a batch
    names its buffers from the column alone, while a store keeps the names its leaves
    were given (a converted decimal-scaled leaf, see :func:`_convert`; the children of a
    union an append widened, see :mod:`.widening`)."""
    names: dict[str, str] = {}
    for column in manifest.columns:
        pairs = zip(layouts[column.name].nodes(), column.layout.nodes(), strict=True)
        for (mine, _), (stored, _) in pairs:
            theirs = dict(stored.buffers())
            for role, name in mine.buffers():
                if theirs.get(role, name) != name:
                    names[name] = theirs[role]
    return names


def _convert(
    store: LeafStore,
    manifest: Manifest,
    name: str,
    dtype: str,
    values: np.ndarray,
    taken: set[str],
    chunk: int | None,
    shard: int | None,
) -> str:
    """A copy of the decimal-scaled values leaf ``name`` under a new name, made for the
    ``values`` to append that it cannot hold exactly: scaled again if the committed values
    and these share some places (:func:`.zarr.choose_decimals` over all of them), plain
    floats otherwise. One rewrite of the leaf, once: the old leaf stays untouched until
    the manifest naming the new one is committed."""
    spec = manifest.leaves[name]
    committed = store.read_whole(name, spec.length)
    head, role = name.rsplit("-", 1)
    head = re.sub(r"~[0-9]+$", "", head)  # converted before: r.c~1-values -> r.c~2-values
    n = 1
    while f"{head}~{n}-{role}" in taken or store.exists(f"{head}~{n}-{role}/zarr.json"):
        n += 1
    fresh = f"{head}~{n}-{role}"
    every = np.concatenate([committed, np.asarray(values, dtype=committed.dtype)])
    store.create(
        fresh, dtype, manifest.compressor, chunk=chunk, shard=shard, sample=every, exact=True
    )
    store.write(fresh, 0, committed)
    return fresh


def _renamed(layout: Layout, renamed: dict[str, str]) -> Layout:
    """``layout`` with the values leaves in ``renamed`` under their new names."""

    def rename(leaf: LeafLayout) -> LeafLayout:
        if leaf.values in renamed:
            return replace(leaf, values=renamed[leaf.values])
        return leaf

    return layout.map_leaves(rename)


def _fit_layouts(batch: Batch, manifest: Manifest) -> Batch:
    """Columns of scalar rows only (or list rows only) join a union column as its rows,
    at the root or inside lists (``list<int64>`` rows into ``list<union<...>>``); fixed
    axes join variable ones as lists, and lists of the right length join a fixed axis."""
    columns = dict(batch.columns)
    for spec in manifest.columns:
        column = columns.get(spec.name)
        if column is None:
            continue
        try:
            columns[spec.name] = GrumpyArray._wrap(_as_layout(column.node, spec.layout))
        except (GrumpyError, ValueError, TypeError):  # no fit: the layout check names it
            continue
    return replace(batch, columns=columns)


def _as_layout(node: lay.Node, layout: Layout) -> lay.Node:
    """``node`` with a union wherever ``layout`` has one and ``node`` has plain rows."""
    if isinstance(layout, UnionLayout):
        union = widening.as_union(node, layout)
        lists = _as_layout(union.lists, layout.list)
        assert isinstance(lists, lay.ListNode)
        return lay.UnionNode(union.type_ids, union.scalars, lists)
    if isinstance(layout, ListLayout) and isinstance(node, lay.ListNode):
        content = _as_layout(node.content, layout.content)
        size = layout.size
        if size is not None and not lay.fits_size(np.diff(node.offsets), node.validity, size):
            size = None  # rows of other lengths: the layout check reports it
        return lay.ListNode(node.offsets, node.validity, content, size)
    if (
        isinstance(layout, RecordLayout)
        and isinstance(node, lay.RecordNode)
        and layout.names == node.names
    ):
        fields = tuple(
            _as_layout(f, child) for f, (_, child) in zip(node.fields, layout.fields, strict=True)
        )
        return node.with_fields(fields, node.validity, len(node))
    return node


@contextlib.contextmanager
def lock(store: LeafStore, *, timeout: float | None = None) -> Iterator[None]:
    """Hold the store's writer lock (local stores; see :func:`lock_file`).

    Remote (fsspec) stores have no lock: one writer at a time is the caller's duty there
    (docs/storage.md, "Writers and locks").
    """
    if not store.local:
        yield
        return
    try:
        os.makedirs(store.root, exist_ok=True)
    except OSError as err:
        raise StoreError(f"{store.url}: cannot write a store here ({err})") from err
    path = os.path.join(store.root, LOCK_NAME)
    busy = (
        f"{store.url}: another writer holds the lock ({path}); one writer at a time "
        "(parallel writers use shards)"
    )
    with lock_file(path, busy, timeout=timeout):
        yield


@contextlib.contextmanager
def lock_file(path: str, busy: str, *, timeout: float | None = None) -> Iterator[None]:
    """Hold an exclusive ``flock`` on the file ``path`` (created if missing, never deleted).

    The operating system releases the lock when its holder's process ends, however it
    ends, so a killed writer never leaves a stale lock behind. A second writer waits up to
    ``timeout`` seconds (default :data:`LOCK_TIMEOUT`; 0 means do not wait), then raises
    ``StoreLockedError(busy)``. If the file was replaced while we waited (a store swapped
    in by an overwrite), the lock is taken again on the new file.
    """
    wait = LOCK_TIMEOUT if timeout is None else float(timeout)
    if not wait >= 0:
        raise ValueError(f"timeout must be a number of seconds >= 0, got {timeout!r}")
    deadline = time.monotonic() + wait
    while True:
        try:
            fd = os.open(path, os.O_CREAT | os.O_RDWR | getattr(os, "O_NOFOLLOW", 0), 0o644)
        except OSError as err:
            raise StoreError(f"cannot open the lock file {path} ({err})") from err
        try:
            _flock(fd, fcntl, deadline, f"{busy} (waited {wait:g} s)")
            try:
                held = os.path.samestat(os.fstat(fd), os.stat(path, follow_symlinks=False))
            except FileNotFoundError:
                held = False
        except BaseException:
            os.close(fd)
            raise
        if held:
            break
        os.close(fd)
    try:
        yield
    finally:
        os.close(fd)  # releases the lock


def _flock(fd: int, fcntl: Any, deadline: float, busy: str) -> None:
    """Take the exclusive lock on ``fd``, polling until ``deadline``."""
    delay = 0.001
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            left = deadline - time.monotonic()
            if left <= 0:
                raise StoreLockedError(busy) from None
            time.sleep(min(delay, left))
            delay = min(delay * 2, 0.02)
