"""Appends that widen a store's types: the plan a commit follows when a batch's layout is
wider than the store's (docs/storage.md, "Appends that widen types").

The first batch of a run fixes a store's layouts, so a later batch may bring what the
first could not show. :func:`plan` works out, column by column, the layout both fit:

- **scalar-or-list unions**: a list node that meets scalar rows (or a scalar leaf that
  meets list rows) becomes a union whose ``list`` (``scalar``) child is the old node,
  leaves and names unchanged, so the committed rows are *re-described*, not copied: only
  the union's ``type_ids`` and ``value_offsets`` are written for them (all ones, or all
  zeros, and ``0, 1, 2, ...``);
- **int -> float**: a column of integers meeting floats (or of floats meeting integers)
  takes NumPy's promoted float dtype (``int8`` ... ``int32`` with ``float64`` give
  ``float64``, ``int16`` with ``float32`` gives ``float32``) in every leaf, since a
  column has one dtype (a union's scalars and its lists' values too); the side that
  changes is cast (the store's committed values copied into new leaves), and every
  integer must be exact in the float: at most ``2**53`` in magnitude for ``float64``
  (else :class:`SchemaError`);
- **late types**: a node with no committed rows (lists that were all empty, a union child
  never used) takes the batch's layout, a column whose committed values are all null
  takes the batch's dtype, and a batch node with no rows or only nulls takes the store's.

Nothing is written here. The plan names the leaves to create and fill before the commit
(new names: a union's two leaves, a converted leaf ``<path>~<n>-values``, never a name the
committed manifest uses) and the leaves the commit retires; :func:`.writer.commit` writes
the new leaves, appends the batch, commits the manifest naming them, and only then
deletes the retired ones. A crash or an error before the manifest is replaced leaves the
old manifest, which names only old, untouched leaves: the store is as it was.

Examples
--------
>>> import os, tempfile, grumpy_arrow as gr
>>> path = os.path.join(tempfile.mkdtemp(), "late.gr")
>>> gr.save(gr.array([[1, 2], [3]]), path)
>>> gr.append(gr.array([4.5, [5]], dtype=gr.float64), path)
>>> gr.load(path).to_list()
[[1.0, 2.0], [3.0], 4.5, [5.0]]
>>> gr.load(path).type
'4 * union[float64, var * float64]'
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pyarrow as pa

from grumpy_arrow import dtypes as dt
from grumpy_arrow import layout as lay
from grumpy_arrow.errors import SchemaError, StoreFormatError
from grumpy_arrow.storage import buffers as bf
from grumpy_arrow.storage import layouts as ly
from grumpy_arrow.storage.layouts import Layout, LeafLayout, ListLayout, RecordLayout, UnionLayout
from grumpy_arrow.storage.manifest import Manifest
from grumpy_arrow.storage.zarr import LeafStore

__all__ = [
    "LeafWrite",
    "Widening",
    "as_union",
    "empty_node",
    "first_inexact",
    "holds_values",
    "node_signature",
    "plan",
    "renamed",
]

_SUFFIX = re.compile(r"~[0-9]+$")


@dataclass(frozen=True)
class LeafWrite:
    """A leaf a widening commit creates and fills before it appends the batch.

    ``data`` is the whole committed part (``len(data)`` becomes its committed length);
    ``depth`` is the node's list depth (for chunk sizes); ``sample`` every value the leaf
    gets in this commit (to choose its codec and decimal scaling), or None for ``data``;
    ``last`` the last offset of an offsets leaf.
    """

    name: str
    dtype: str
    data: np.ndarray
    depth: int
    sample: np.ndarray | None = None
    last: int | None = None  # an offsets leaf's last offset


@dataclass(frozen=True)
class Widening:
    """What :func:`plan` found: the manifest with wider layouts (its ``leaves`` without the
    retired ones), the batch's columns in those layouts, the leaves to write first and
    the leaves to delete once the commit is done."""

    manifest: Manifest
    columns: dict[str, lay.Node]
    writes: tuple[LeafWrite, ...] = ()
    retired: tuple[str, ...] = ()


class _NoFit(Exception):
    """The batch's node cannot join the store's: the commit's own check reports it."""


@dataclass
class _Context:
    """One column's widening: what the store holds and what the plan collects."""

    store: LeafStore
    manifest: Manifest
    column: str
    lengths: dict[str, int]
    taken: set[str]
    writes: list[LeafWrite] = field(default_factory=list)
    retired: list[str] = field(default_factory=list)
    nulls: dict[str, bool] = field(default_factory=dict)  # validity leaf -> all null

    def where(self) -> str:
        return f"{self.store.url}: column {self.column!r}"

    def write(self, leaf: LeafWrite) -> None:
        """Plan a new leaf; from now on the walk counts its committed values."""
        self.writes.append(leaf)
        self.lengths[leaf.name] = len(leaf.data)


def plan(store: LeafStore, manifest: Manifest, columns: Mapping[str, lay.Node]) -> Widening:
    """The layouts a commit of ``columns`` (a batch's nodes, by column) widens the store's
    to, and the batch's nodes in them.

    Columns that need no widening, or cannot be widened (a string meeting an integer, a
    frame level's lists meeting scalars), come back as they are: the commit's layout
    check names them. Only reads happen here (the committed values of a leaf that must
    change dtype, to check them and copy them later).

    Raises
    ------
    SchemaError
        When an integer would change value as a float (``2**53 + 1`` as ``float64``),
        naming the column, the value and where it is; nothing is written.
    StoreFormatError
        When a committed leaf read for a conversion does not hold what the manifest says.

    Examples
    --------
    >>> import os, tempfile, grumpy_arrow as gr
    >>> from grumpy_arrow.storage.stores import read_manifest
    >>> path = os.path.join(tempfile.mkdtemp(), "p.gr")
    >>> gr.save(gr.array([[1, 2], [3]]), path)
    >>> store = LeafStore(path)
    >>> wide = plan(store, read_manifest(store), {"array": gr.array([4]).node})
    >>> wide.manifest.columns[0].layout.signature()
    'union<int64, list<int64>>'
    >>> [(w.name, w.data.tolist()) for w in wide.writes]
    [('array/r-type_ids', [1, 1]), ('array/r-value_offsets', [0, 1])]
    """
    lengths = {name: spec.length for name, spec in manifest.leaves.items()}
    taken = set(manifest.leaves)
    for spec in manifest.columns:
        taken.update(spec.layout.leaf_names())
    out: dict[str, lay.Node] = dict(columns)
    new_columns = []
    writes: list[LeafWrite] = []
    retired: list[str] = []
    for spec in manifest.columns:
        node = columns.get(spec.name)
        if node is None or spec.codec is not None or _has_records(spec.layout, node):
            # Records do not widen: a different record layout gets the layout check's error.
            new_columns.append(spec)
            continue
        ctx = _Context(store, manifest, spec.name, lengths, taken)
        try:
            layout, node = _one_dtype(spec.layout, node, ctx)
            layout, fitted = _widen(layout, node, ctx, 0)
        except _NoFit:
            new_columns.append(spec)
            continue
        if layout.rows(ctx.lengths) != manifest.rows:  # a bug, never a store to commit
            raise AssertionError(f"{ctx.where()}: widening lost rows")
        out[spec.name] = fitted
        new_columns.append(replace(spec, layout=layout))
        writes += ctx.writes
        retired += ctx.retired
    leaves = {k: v for k, v in manifest.leaves.items() if k not in set(retired)}
    widened = replace(manifest, columns=tuple(new_columns), leaves=leaves)
    return Widening(widened, out, tuple(writes), tuple(retired))


# -- the walk -------------------------------------------------------------------------------


def _widen(stored: Layout, node: lay.Node, ctx: _Context, depth: int) -> tuple[Layout, lay.Node]:
    """``(layout, node)``: the store's node widened to take ``node``, and ``node`` in it."""
    if len(node) == 0:
        return stored, empty_node(stored)
    if _only_nulls(node) and isinstance(stored, LeafLayout):
        return stored, lay.Leaf(pa.nulls(len(node), stored.arrow_type()))
    if _only_nulls(node) and isinstance(stored, ListLayout):
        return stored, _null_lists(stored, len(node))  # null rows: null lists, not scalars
    unused = stored.rows(ctx.lengths) == 0 and not _has_level(stored)
    if unused and node_signature(node) != stored.signature():
        return _replace_empty(stored, node, ctx), node
    if isinstance(stored, UnionLayout):
        return _widen_union(stored, as_union(node, stored), ctx, depth)
    if isinstance(stored, RecordLayout):
        raise _NoFit  # records do not widen (plan() leaves them to the layout check)
    if isinstance(stored, LeafLayout):
        if isinstance(node, lay.Leaf):
            if node_signature(node) != stored.dtype:
                raise _NoFit  # (after _one_dtype: a column of more than one dtype)
            return stored, node
        return _to_union(stored, node, ctx, depth)
    if isinstance(node, lay.ListNode):
        if node.size != stored.size:
            raise _NoFit
        content, inner = _widen(stored.content, node.content, ctx, depth + 1)
        return replace(stored, content=content), node.with_content(inner)
    if stored.level is not None:
        raise _NoFit  # a frame level's lists are shared by its columns
    return _to_union(stored, node, ctx, depth)


def _widen_union(
    stored: UnionLayout, node: lay.UnionNode, ctx: _Context, depth: int
) -> tuple[Layout, lay.Node]:
    scalar, scalars = _widen(stored.scalar, node.scalars, ctx, depth)
    lists, inner = _widen(stored.list, node.lists, ctx, depth)
    if not (isinstance(scalar, LeafLayout) and isinstance(scalars, lay.Leaf)):
        raise _NoFit
    if not (isinstance(lists, ListLayout) and isinstance(inner, lay.ListNode)):
        raise _NoFit
    return replace(stored, scalar=scalar, list=lists), lay.UnionNode(node.type_ids, scalars, inner)


# A union's children by type id (0 scalar, 1 list): layout, node, and the path step
# into the child (buffers.py's naming).
_CHILDREN: tuple[tuple[type[Layout], type[Any], str], ...] = (
    (LeafLayout, lay.Leaf, "s"),
    (ListLayout, lay.ListNode, "l"),
)


def _to_union(
    stored: LeafLayout | ListLayout, node: lay.Node, ctx: _Context, depth: int
) -> tuple[Layout, lay.Node]:
    """Scalar rows meeting list rows, or list rows meeting scalar rows: the store's leaf
    (list) becomes the union's scalar (list) child, which keeps the committed rows, and
    the batch's rows of the other kind get a new child."""
    own = 0 if isinstance(stored, LeafLayout) else 1  # the committed rows' type id
    other = 1 - own
    nodes: list[lay.Node]
    layout: Layout
    if isinstance(node, lay.UnionNode):
        type_ids, nodes = node.type_ids, [node.scalars, node.lists]
        layout, nodes[own] = _widen(stored, nodes[own], ctx, depth)
    else:
        assert isinstance(node, _CHILDREN[other][1])
        type_ids, nodes = np.full(len(node), other, dtype=np.int8), [node, node]
        layout, nodes[own] = stored, empty_node(stored)
    if not (isinstance(layout, _CHILDREN[own][0]) and isinstance(nodes[own], _CHILDREN[own][1])):
        raise _NoFit
    fresh = _fresh_layout(nodes[other], f"{_base(stored)}.{_CHILDREN[other][2]}", ctx)
    scalar, lists = (layout, fresh) if own == 0 else (fresh, layout)
    scalars, inner = nodes
    assert isinstance(scalar, LeafLayout) and isinstance(lists, ListLayout)
    assert isinstance(scalars, lay.Leaf) and isinstance(inner, lay.ListNode)
    committed = np.full(stored.rows(ctx.lengths), own, dtype=np.int8)
    union = _new_union(stored, scalar, lists, committed, ctx, depth)
    return union, lay.UnionNode(type_ids, scalars, inner)


def _new_union(
    old: Layout,
    scalar: LeafLayout,
    lists: ListLayout,
    type_ids: np.ndarray,
    ctx: _Context,
    depth: int,
) -> UnionLayout:
    """A union over ``scalar`` and ``lists`` whose committed rows (``type_ids``: all in
    one child) keep their order: value offsets ``0, 1, 2, ...``."""
    names = _fresh_names(ctx, _base(old), ("type_ids", "value_offsets"))
    if len(type_ids):
        offsets = np.arange(len(type_ids), dtype=np.int64)
        ctx.write(LeafWrite(names[0], "int8", type_ids, depth))
        ctx.write(LeafWrite(names[1], "int64", offsets, depth))
    return UnionLayout(type_ids=names[0], value_offsets=names[1], scalar=scalar, list=lists)


def _replace_empty(stored: Layout, node: lay.Node, ctx: _Context) -> Layout:
    """A node without committed rows takes the batch's layout (new leaf names); its old
    leaves are retired."""
    ctx.retired += [name for name in stored.leaf_names() if name in ctx.manifest.leaves]
    return _fresh_layout(node, _base(stored), ctx)


# -- leaf dtypes ----------------------------------------------------------------------------


def _one_dtype(stored: Layout, node: lay.Node, ctx: _Context) -> tuple[Layout, lay.Node]:
    """The column's layout and the batch's node at one leaf dtype (a column has one: the
    scalars and the lists' values of a union too): the store's when the batch brings no
    values, the batch's when the store holds none, the float an integer and a float meet
    at, else :class:`_NoFit`."""
    if not stored.rows(ctx.lengths) and not _has_level(stored):
        return stored, node  # (a column without rows takes the batch's layout whole)
    typed = [leaf for leaf in _leaf_layouts(stored) if leaf.rows(ctx.lengths)]
    have = {leaf.dtype for leaf in typed}
    brings = lay.leaves(node, "widening")
    got = {node_signature(leaf) for leaf in brings if leaf.arrow.null_count < len(leaf)}
    if len(have) > 1 or (got and have and have != got):
        # Leaves of nothing but nulls have no real dtype either (read only here).
        have = {leaf.dtype for leaf in typed if not _all_null(leaf, ctx)}
    if len(have) > 1 or len(got) > 1:
        raise _NoFit  # (not a column grumpy_arrow writes)
    if not got or have == got:
        target = next(iter(have), None)
    elif not have:
        target = next(iter(got))
    else:
        target = _float_of(next(iter(have)), next(iter(got)))
    if target is None:
        return stored, node
    meeting = (next(iter(have), target), next(iter(got), target))
    if any(node_signature(leaf) != target for leaf in brings):
        for leaf in brings:  # integers that become floats must stay exact
            name = node_signature(leaf)
            _check_exact(leaf.values, name, target, ctx, f"the batch's {name} values", meeting)
        node = _cast(node, dt.dtype(target))
    if all(leaf.dtype == target for leaf in _leaf_layouts(stored)):
        return stored, node
    numbers = dt.dtype(target).kind in "iuf"
    sample = [_filled(leaf.values) for leaf in lay.leaves(node, "widening") if numbers]
    return _retype(stored, target, ctx, meeting, np.concatenate([np.zeros(0), *sample])), node


def _float_of(a: str, b: str) -> str:
    """The float dtype an integer and a float dtype meet at (:class:`_NoFit` for other
    pairs: float widths follow the casting rules, ``int32`` and ``int64`` do not meet)."""
    kinds = {dt.dtype(a).kind, dt.dtype(b).kind}
    if kinds not in ({"i", "f"}, {"u", "f"}):
        raise _NoFit
    return str(np.promote_types(np.dtype(a), np.dtype(b)))


def _retype(
    stored: Layout,
    target: str,
    ctx: _Context,
    meeting: tuple[str, str],
    sample: np.ndarray,
    depth: int = 0,
) -> Layout:
    """``stored`` with every leaf at ``target``: leaves without rows take new names, the
    others' committed values are converted into new leaves."""
    if isinstance(stored, LeafLayout):
        if stored.dtype == target:
            return stored
        if not stored.rows(ctx.lengths):
            empty = lay.Leaf(pa.array([], type=dt.dtype(target).arrow))
            return _replace_empty(stored, empty, ctx)
        if _all_null(stored, ctx):
            return _nulls_as(stored, target, ctx, depth)
        return _convert(stored, target, ctx, depth, meeting, sample)
    if isinstance(stored, ListLayout):
        content = _retype(stored.content, target, ctx, meeting, sample, depth + 1)
        return replace(stored, content=content)
    if isinstance(stored, RecordLayout):
        raise _NoFit  # records do not widen
    scalar = _retype(stored.scalar, target, ctx, meeting, sample, depth)
    lists = _retype(stored.list, target, ctx, meeting, sample, depth)
    assert isinstance(scalar, LeafLayout) and isinstance(lists, ListLayout)
    return replace(stored, scalar=scalar, list=lists)


def _convert(
    stored: LeafLayout,
    target: str,
    ctx: _Context,
    depth: int,
    meeting: tuple[str, str],
    batch: np.ndarray,
) -> LeafLayout:
    """The store's leaf as ``target``: its committed values, checked, for a new leaf."""
    if stored.values is None or dt.dtype(stored.dtype).kind not in "iuf":
        raise _NoFit
    rows = stored.rows(ctx.lengths)
    committed = ctx.store.read_whole(stored.values, rows)
    if committed.dtype != np.dtype(stored.dtype):
        raise StoreFormatError(
            f"{ctx.store.url}: leaf {stored.values!r} holds {committed.dtype} values; the "
            f"manifest says {stored.dtype}"
        )
    valid = _validity(stored, rows, ctx)
    checked = committed if valid is None else np.where(valid, committed, 0)
    _check_exact(checked, stored.dtype, target, ctx, f"leaf {stored.values!r}", meeting)
    data = committed.astype(target)
    (name,) = _fresh_names(ctx, _base(stored), ("values",))
    sample = np.concatenate([data, batch.astype(target)])
    ctx.write(LeafWrite(name, target, data, depth, sample))
    ctx.retired.append(stored.values)
    return replace(stored, dtype=target, values=name)


def _cast(node: lay.Node, target: dt.DType) -> lay.Node:
    """The batch's node with every leaf cast to ``target`` (checked before: exact)."""
    if isinstance(node, lay.Leaf):
        if node_signature(node) == target.name:
            return node
        return lay.Leaf(node.values.cast(target.arrow, safe=False))
    if isinstance(node, lay.ListNode):
        return node.with_content(_cast(node.content, target))
    if isinstance(node, lay.RecordNode):
        raise lay.record_error("widening", node)
    scalars, lists = _cast(node.scalars, target), _cast(node.lists, target)
    assert isinstance(scalars, lay.Leaf) and isinstance(lists, lay.ListNode)
    return lay.UnionNode(node.type_ids, scalars, lists)


def _leaf_layouts(layout: Layout) -> list[LeafLayout]:
    return [n for n, _ in layout.nodes() if isinstance(n, LeafLayout)]


def _all_null(leaf: LeafLayout, ctx: _Context) -> bool:
    """Whether every committed value of the leaf is null (its validity leaf is read)."""
    if leaf.validity not in ctx.nulls:
        valid = _validity(leaf, leaf.rows(ctx.lengths), ctx)
        ctx.nulls[leaf.validity] = valid is not None and not valid.any()
    return ctx.nulls[leaf.validity]


def _nulls_as(stored: LeafLayout, target: str, ctx: _Context, depth: int) -> LeafLayout:
    """A leaf of nothing but nulls as a ``target`` leaf of as many nulls (new leaves; the
    validity leaf stays)."""
    rows = stored.rows(ctx.lengths)
    ctx.retired += [
        name
        for role, name in stored.buffers()
        if role != "validity" and name in ctx.manifest.leaves
    ]
    if dt.dtype(target).kind in "US":
        offsets, data = _fresh_names(ctx, _base(stored), ("offsets", "data"))
        ctx.write(LeafWrite(offsets, "int64", np.zeros(rows + 1, dtype=np.int64), depth, last=0))
        ctx.write(LeafWrite(data, "uint8", np.zeros(0, dtype=np.uint8), depth))
        return LeafLayout(dtype=target, offsets=offsets, data=data, validity=stored.validity)
    (values,) = _fresh_names(ctx, _base(stored), ("values",))
    zeros = np.zeros(rows, dtype=dt.dtype(target).numpy)
    stored_as = ly.LAYOUT_DTYPES[target]  # (bool_ leaves are Zarr bool)
    assert stored_as is not None
    ctx.write(LeafWrite(values, stored_as, zeros, depth))
    return LeafLayout(dtype=target, values=values, validity=stored.validity)


def _validity(stored: LeafLayout, rows: int, ctx: _Context) -> np.ndarray | None:
    if stored.validity not in ctx.manifest.leaves:
        return None
    return np.asarray(ctx.store.read_whole(stored.validity, rows), dtype=bool)


def _filled(values: pa.Array) -> np.ndarray:
    """Values as NumPy, nulls as 0."""
    if values.null_count:
        values = values.fill_null(pa.scalar(0, values.type))
    return np.asarray(values.to_numpy(zero_copy_only=False))


def first_inexact(values: np.ndarray | pa.Array, target: str) -> int | None:
    """The position of the first integer of ``values`` that a ``target`` float does not
    hold exactly (beyond ``2**53`` in magnitude for ``float64``; nulls count as 0), or
    None (also for values that are not integers, or a ``target`` that is not a float).

    Examples
    --------
    >>> import numpy as np
    >>> first_inexact(np.array([1, 2**53, -(2**53) - 1]), "float64")
    2
    >>> first_inexact(np.array([2**24], dtype=np.int32), "float32") is None
    True
    """
    if isinstance(values, pa.Array):
        if not pa.types.is_integer(values.type):
            return None
        values = _filled(values)
    if values.dtype.kind not in "iu" or dt.dtype(target).kind != "f" or not len(values):
        return None
    limit = 2 ** (np.finfo(dt.dtype(target).numpy).nmant + 1)
    big = (values > limit) if values.dtype.kind == "u" else (values > limit) | (values < -limit)
    bad = np.flatnonzero(big)
    return int(bad[0]) if len(bad) else None


def holds_values(layout: Layout, lengths: Mapping[str, int]) -> bool:
    """Whether a column's leaves hold any committed value (``lengths``: the committed
    leaf lengths): a column of empty lists does not, and takes the first real dtype.

    Examples
    --------
    >>> leaf = LeafLayout(dtype="float64", values="x/r-values", validity="x/r-validity")
    >>> holds_values(leaf, {"x/r-values": 0}), holds_values(leaf, {"x/r-values": 3})
    (False, True)
    """
    return any(leaf.rows(lengths) for leaf in _leaf_layouts(layout))


def _check_exact(
    values: np.ndarray | pa.Array,
    dtype: str,
    target: str,
    ctx: _Context,
    what: str,
    meeting: tuple[str, str],
) -> None:
    """Every integer of ``values`` (``dtype``; nulls count as 0) is exact as a ``target``
    float; ``what`` says where the values are, ``meeting`` the store's and the batch's
    dtypes."""
    if isinstance(values, pa.Array) and pa.types.is_integer(values.type):
        values = _filled(values)
    i = first_inexact(values, target)
    if i is not None:
        assert isinstance(values, np.ndarray)
        bits = np.finfo(dt.dtype(target).numpy).nmant + 1
        raise SchemaError(
            f"{ctx.where()} holds {meeting[0]} values and the batch brings {meeting[1]} "
            f"values, so the column would become {target}; but {dtype} value "
            f"{int(values[i])} (value {i} of {what}) is not exact as a {target}, which holds "
            f"integers exactly up to 2**{bits} in magnitude. Nothing was written; cast the "
            "data yourself or save to a new store"
        )


# -- names ----------------------------------------------------------------------------------


def _base(layout: Layout) -> str:
    """The path part of a node's leaf names (``r.c`` of ``x/r.c-validity``), without a
    ``~n`` suffix."""
    name = layout.type_ids if isinstance(layout, UnionLayout) else layout.validity
    return _SUFFIX.sub("", name.split("/", 1)[1].rsplit("-", 1)[0])


def _suffixes() -> Iterator[str]:
    yield ""
    n = 1
    while True:
        yield f"~{n}"
        n += 1


def _fresh_names(ctx: _Context, base: str, roles: tuple[str, ...]) -> list[str]:
    """Names ``<column>/<base>[~n]-<role>`` no committed manifest uses (the smallest ``n``),
    reserved for this plan."""
    column = bf.quote_name(ctx.column)
    for suffix in _suffixes():
        names = [f"{column}/{base}{suffix}-{role}" for role in roles]
        if not any(name in ctx.taken for name in names):
            ctx.taken.update(names)
            return names
    raise AssertionError("unreachable")  # pragma: no cover


def _fresh_layout(node: lay.Node, base: str, ctx: _Context) -> Layout:
    """The layout of a batch's node under new leaf names rooted at ``base`` (``r`` of the
    node's own naming becomes ``base[~n]``)."""
    template, _ = bf.column_buffers(node, ctx.column)
    column = bf.quote_name(ctx.column)
    names = template.leaf_names()
    for suffix in _suffixes():
        mapping = {name: f"{column}/{base}{suffix}{name.split('/', 1)[1][1:]}" for name in names}
        if not any(new in ctx.taken for new in mapping.values()):
            ctx.taken.update(mapping.values())
            return renamed(template, mapping)
    raise AssertionError("unreachable")  # pragma: no cover


def renamed(layout: Layout, mapping: Mapping[str, str]) -> Layout:
    """``layout`` with every leaf name in ``mapping`` replaced (any role).

    Examples
    --------
    >>> leaf = LeafLayout(dtype="int64", values="x/r-values", validity="x/r-validity")
    >>> renamed(leaf, {"x/r-values": "x/r~1-values"}).values
    'x/r~1-values'
    """

    def name(value: str | None) -> Any:
        return None if value is None else mapping.get(value, value)

    if isinstance(layout, LeafLayout):
        return replace(
            layout,
            values=name(layout.values),
            validity=name(layout.validity),
            offsets=name(layout.offsets),
            data=name(layout.data),
            indices=name(layout.indices),
        )
    if isinstance(layout, ListLayout):
        return replace(
            layout,
            offsets=name(layout.offsets),
            validity=name(layout.validity),
            content=renamed(layout.content, mapping),
        )
    if isinstance(layout, RecordLayout):
        fields = tuple((n, renamed(child, mapping)) for n, child in layout.fields)
        return replace(layout, validity=name(layout.validity), fields=fields)
    scalar, lists = renamed(layout.scalar, mapping), renamed(layout.list, mapping)
    assert isinstance(scalar, LeafLayout) and isinstance(lists, ListLayout)
    return replace(
        layout,
        type_ids=name(layout.type_ids),
        value_offsets=name(layout.value_offsets),
        scalar=scalar,
        list=lists,
    )


# -- nodes ----------------------------------------------------------------------------------


def node_signature(node: lay.Node) -> str:
    """A batch node's layout without leaf names or levels, as
    :meth:`~.layouts.LeafLayout.signature` writes it.

    Examples
    --------
    >>> import grumpy_arrow as gr
    >>> node_signature(gr.array([[1, [2]], []]).node)
    'list<union<int64, list<int64>>>'
    """
    if isinstance(node, lay.Leaf):
        return dt.from_arrow_type(lay.arrow_leaf_type(node.arrow.type)).name
    if isinstance(node, lay.ListNode):
        size = f"[{node.size}]" if node.size is not None else ""
        return f"list{size}<{node_signature(node.content)}>"
    if isinstance(node, lay.RecordNode):
        pairs = zip(node.names, node.fields, strict=True)
        return ly.record_signature((n, node_signature(f)) for n, f in pairs)
    return f"union<{node_signature(node.scalars)}, {node_signature(node.lists)}>"


def _has_records(layout: Layout, node: lay.Node) -> bool:
    """Whether the store's layout or the batch's node holds records anywhere."""
    return any(isinstance(n, RecordLayout) for n, _ in layout.nodes()) or lay.has_record(
        node_type(node)
    )


def node_type(node: lay.Node) -> pa.DataType:
    """The Arrow type of a batch's node (no values converted)."""
    if isinstance(node, lay.Leaf):
        return node.arrow.type
    if isinstance(node, lay.ListNode):
        return lay.list_of(node_type(node.content))
    if isinstance(node, lay.RecordNode):
        return pa.struct(
            [pa.field(n, node_type(f)) for n, f in zip(node.names, node.fields, strict=True)]
        )
    return lay.union_type(node_type(node.scalars), node_type(node.lists))


def _only_nulls(node: lay.Node) -> bool:
    return isinstance(node, lay.Leaf) and node.arrow.null_count == len(node)


def _null_lists(layout: ListLayout, rows: int) -> lay.ListNode:
    """``rows`` null lists of the layout's types."""
    offsets = np.zeros(rows + 1, dtype=np.int64)
    return lay.ListNode(
        offsets, np.zeros(rows, dtype=bool), empty_node(layout.content), layout.size
    )


def _has_level(layout: Layout) -> bool:
    return any(isinstance(n, ListLayout) and n.level for n, _ in layout.nodes())


def as_union(node: lay.Node, layout: UnionLayout) -> lay.UnionNode:
    """Plain scalar or list rows as rows of a union like ``layout``.

    Examples
    --------
    >>> import grumpy_arrow as gr
    >>> layout, _ = bf.column_buffers(gr.array([1, [2]]).node, "x")
    >>> as_union(gr.array([[3, 4], [5]]).node, layout).type_ids.tolist()
    [1, 1]
    """
    if isinstance(node, lay.UnionNode):
        return node
    if isinstance(node, lay.Leaf):
        lists = empty_node(layout.list)
        assert isinstance(lists, lay.ListNode)
        return lay.UnionNode(np.zeros(len(node), dtype=np.int8), node, lists)
    if isinstance(node, lay.RecordNode):
        raise lay.record_error("a store", node)
    scalars = empty_node(layout.scalar)
    assert isinstance(scalars, lay.Leaf)
    return lay.UnionNode(np.ones(len(node), dtype=np.int8), scalars, node)


def empty_node(layout: Layout) -> lay.Node:
    """A node of no rows with the layout's types (Arrow cannot build empty unions).

    Examples
    --------
    >>> leaf = LeafLayout(dtype="int8", values="x/r-values", validity="x/r-validity")
    >>> empty_node(leaf).arrow.type, len(empty_node(leaf))
    (DataType(int8), 0)
    """
    if isinstance(layout, LeafLayout):
        return lay.Leaf(pa.array([], type=layout.arrow_type()))
    if isinstance(layout, ListLayout):
        return lay.ListNode(
            np.zeros(1, dtype=np.int64), None, empty_node(layout.content), layout.size
        )
    if isinstance(layout, RecordLayout):
        return lay.RecordNode(layout.names, tuple(empty_node(c) for _, c in layout.fields), None, 0)
    scalar = empty_node(layout.scalar)
    lists = empty_node(layout.list)
    assert isinstance(scalar, lay.Leaf) and isinstance(lists, lay.ListNode)
    return lay.UnionNode(np.zeros(0, dtype=np.int8), scalar, lists)
