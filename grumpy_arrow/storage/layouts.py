"""Layout trees: the typed form of a column's ``layout`` in ``grumpy.json``.

A column's layout is a tree of four frozen node classes, one per JSON ``kind``
(docs/format.md, "Layout classes"):

- :class:`LeafLayout` — ``{"kind": "leaf"}``: fixed-width ``values``, or the ``offsets``
  and ``data`` of strings and bytes (with ``indices`` when dictionary-encoded);
- :class:`ListLayout` — ``{"kind": "list"}``: ``offsets`` and a ``content`` node, and the
  frame ``level`` whose shared offsets it uses;
- :class:`UnionLayout` — ``{"kind": "union"}``: ``type_ids``, ``value_offsets``, a
  ``scalar`` leaf and a ``list`` child;
- :class:`RecordLayout` — ``{"kind": "record"}``: ``validity`` and the named ``fields``
  (Arrow ``struct``), each field node holding the record's rows.

Each node names its leaves by role (``values``, ``validity``, ``offsets``, ``data``,
``type_ids``, ``value_offsets``, ``indices``). :func:`from_dict` parses and checks
untrusted JSON (unknown kinds and keys, missing or ill-typed ones, leaf names that leave
the store, trees deeper than :data:`MAX_DEPTH`), ``to_dict`` gives back the same JSON,
key for key. The append rules live here too: :func:`rebase` turns a batch's buffer into
the values a commit appends, and :func:`cut` is its inverse, the leaf lengths of a column
when it had fewer rows (what ``manifest_at`` reads).

Examples
--------
>>> node = from_dict({"kind": "list", "offsets": "x/r-offsets", "validity": "x/r-validity",
...                   "level": None, "content": {"kind": "leaf", "dtype": "int64",
...                   "values": "x/r.c-values", "validity": "x/r.c-validity"}})
>>> node.signature(), node.content.values
('list<int64>', 'x/r.c-values')
>>> node.leaf_names()
['x/r-offsets', 'x/r-validity', 'x/r.c-values', 'x/r.c-validity']
>>> from_dict({"kind": "struct"}, where="x.gr", field="columns[0].layout")
Traceback (most recent call last):
...
grumpy_arrow.errors.StoreFormatError: x.gr: grumpy.json field 'columns[0].layout.kind' must be \
'leaf', 'list', 'union' or 'record' (a layout node), got 'struct'
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Container, Iterable, Iterator, Mapping
from dataclasses import dataclass, replace
from typing import Any, ClassVar, Self, cast

import numpy as np
import pyarrow as pa

from grumpy_arrow import dtypes as dt
from grumpy_arrow import layout as lay
from grumpy_arrow.errors import StoreFormatError

__all__ = [
    "LAYOUT_DTYPES",
    "MAX_DEPTH",
    "MAX_SIZE",
    "MAX_FIELDS",
    "ROLES",
    "ZARR_DTYPES",
    "Layout",
    "LeafLayout",
    "ListLayout",
    "RecordLayout",
    "UnionLayout",
    "check_leaf_name",
    "cut",
    "from_dict",
    "rebase",
    "record_signature",
    "stored_dtype",
]

MAX_SIZE = 2**31 - 1
"""The largest size of a fixed axis (Arrow's ``fixed_size_list`` holds an int32)."""
MAX_DEPTH = 64
"""The deepest layout tree (nodes from a column's root to a leaf node, inclusive), and the
most levels a schema may have."""
MAX_FIELDS = 65536
"""The most fields a record node may have (a bound on hostile manifests, far above use)."""

#: The Zarr dtypes leaves are stored with (``leaves.<name>.dtype``).
ZARR_DTYPES = (
    "bool",
    "int8",
    "int16",
    "int32",
    "int64",
    "uint8",
    "uint16",
    "uint32",
    "uint64",
    "float16",
    "float32",
    "float64",
)
#: Layout leaf dtypes and the Zarr dtype of their ``values`` leaf (None: offsets + data).
LAYOUT_DTYPES: dict[str, str | None] = {
    **{name: name for name in ZARR_DTYPES if name != "bool"},
    "bool_": "bool",
    "string": None,
    "binary": None,
}
ROLES = ("values", "validity", "offsets", "data", "type_ids", "value_offsets", "indices")
"""Every role a leaf can play in a layout node (see docs/format.md)."""
# The Zarr dtype of a leaf by its role (``values``: the node's dtype as stored).
_ROLE_DTYPES = {
    "offsets": "int64",
    "value_offsets": "int64",
    "validity": "bool",
    "type_ids": "int8",
    "data": "uint8",
    "indices": "int32",
}
_ARROW_WIDTHS = {"string": ("string", "large_string"), "binary": ("binary", "large_binary")}
_DOCUMENT = "grumpy.json"
# A leaf name component: what ``urllib.parse.quote(name, safe="")`` can produce.
_COMPONENT = re.compile(r"[A-Za-z0-9_.~%-]{1,255}")
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_RESERVED = ("zarr.json", "grumpy.json", "grumpy.lock")


# -- the node classes ---------------------------------------------------------------------


class _Node:
    """What every layout node does: walk its tree, name its leaves, count its rows."""

    __slots__ = ()
    kind: ClassVar[str]

    @classmethod
    def from_dict(cls, d: Any, *, where: str = "<layout>", field: str = "layout") -> Self:
        """Parse and check a node of this class (and its children) from manifest JSON.

        Raises
        ------
        StoreFormatError
            When ``d`` is not a node of this kind, or breaks a rule of :func:`from_dict`.
        """
        if not isinstance(d, dict) or d.get("kind") != cls.kind:
            raise Fields(where).wrong(field, f"a {cls.kind} node", d)
        node = from_dict(d, where=where, field=field)
        assert isinstance(node, cls)
        return node

    def buffers(self) -> tuple[tuple[str, str], ...]:
        """``(role, leaf name)`` of this node's own leaves, in the order of its JSON keys."""
        raise NotImplementedError

    def children(self) -> tuple[tuple[str, Layout, int], ...]:
        """``(JSON key, child, list depth step)`` of this node's children."""
        return ()

    def nodes(self, depth: int = 0) -> Iterator[tuple[Layout, int]]:
        """Every node of the tree with its list depth, parents before children (a list's
        content is one level deeper; a union's children are at the union's depth)."""
        yield cast("Layout", self), depth
        for _, child, step in self.children():
            yield from child.nodes(depth + step)

    def named_nodes(self, field: str = "layout") -> Iterator[tuple[str, Layout]]:
        """Every node of the tree with its field path (``layout.content.scalar``), parents
        before children."""
        yield field, cast("Layout", self)
        for key, child, _ in self.children():
            yield from child.named_nodes(f"{field}.{key}")

    def iter_buffers(self) -> Iterator[tuple[str, str, Layout, int]]:
        """``(leaf name, role, node, list depth)`` of every leaf the tree names, node by
        node (a node's own in JSON key order, then its children's)."""
        for node, depth in self.nodes():
            for role, name in node.buffers():
                yield name, role, node, depth

    def find(self, name: str) -> Layout | None:
        """The node that names leaf ``name`` (in any role; the first one for a level's
        shared offsets), or None."""
        return next((node for leaf, _, node, _ in self.iter_buffers() if leaf == name), None)

    def leaf_names(self) -> list[str]:
        """Every leaf the tree names, in :meth:`iter_buffers` order."""
        return [name for name, _, _, _ in self.iter_buffers()]


@dataclass(frozen=True, slots=True, kw_only=True)
class LeafLayout(_Node):
    """A leaf node: ``values`` (fixed-width dtypes) or ``offsets`` and ``data`` (strings
    and bytes; with ``indices`` they hold the dictionary), and ``validity``.

    ``arrow`` is the Arrow width a string or binary leaf was saved with (``"string"`` or
    ``"large_string"``, ...; None in stores that did not record it).
    """

    kind: ClassVar[str] = "leaf"
    dtype: str
    validity: str
    values: str | None = None
    offsets: str | None = None
    data: str | None = None
    indices: str | None = None
    arrow: str | None = None

    @property
    def is_text(self) -> bool:
        """Whether the leaf holds strings or bytes (``offsets`` and ``data``)."""
        return self.values is None

    def text_leaves(self) -> tuple[str, str]:
        """``(offsets, data)`` of a string or binary leaf."""
        if self.offsets is None or self.data is None:
            raise TypeError(f"a {self.dtype} leaf node has no offsets and data leaves")
        return self.offsets, self.data

    def buffers(self) -> tuple[tuple[str, str], ...]:
        if self.values is not None:
            return (("values", self.values), ("validity", self.validity))
        offsets, data = self.text_leaves()
        out = (("offsets", offsets), ("data", data), ("validity", self.validity))
        return out if self.indices is None else (*out, ("indices", self.indices))

    def rows(self, lengths: Mapping[str, int]) -> int:
        """The node's rows, from the committed lengths of its leaves."""
        if self.values is not None:
            return lengths.get(self.values, 0)
        if self.indices is not None:
            return lengths.get(self.indices, 0)
        return max(lengths.get(self.offsets or "", 0) - 1, 0)

    def signature(self) -> str:
        """The layout with leaf names removed: two batches can share a store iff equal."""
        return self.dtype

    def arrow_type(self) -> pa.DataType:
        """The Arrow type the node describes."""
        d = dt.dtype(self.dtype)
        if d.kind == "U":
            return pa.large_string()
        return pa.large_binary() if d.kind == "S" else d.arrow

    def map_leaves(self, fn: Callable[[LeafLayout], LeafLayout]) -> Layout:
        """The tree with every leaf node replaced by ``fn(leaf)``."""
        return fn(self)

    def to_dict(self) -> dict[str, Any]:
        """The node as manifest JSON (the keys in the order writers put them)."""
        out: dict[str, Any] = {"kind": "leaf", "dtype": self.dtype}
        if self.values is not None:
            out["values"] = self.values
        else:
            if self.arrow is not None:
                out["arrow"] = self.arrow
            out["offsets"], out["data"] = self.text_leaves()
        out["validity"] = self.validity
        if self.indices is not None:
            out["indices"] = self.indices
        return out


@dataclass(frozen=True, slots=True, kw_only=True)
class ListLayout(_Node):
    """A list node (a ``large_list``): ``offsets``, ``validity`` and the ``content`` node;
    ``level`` names the frame level whose shared offsets leaf ``offsets`` is (or None).

    With a ``size`` it is a **fixed axis** (a ``fixed_size_list``): every row owns
    ``size`` content rows, a null row too (its slots hold padding), so row ``i``'s content
    is ``[i * size, (i + 1) * size)`` and no offsets leaf is stored (``offsets`` is None).
    """

    kind: ClassVar[str] = "list"
    offsets: str | None
    validity: str
    level: str | None
    content: Layout
    size: int | None = None

    def buffers(self) -> tuple[tuple[str, str], ...]:
        if self.offsets is None:
            return (("validity", self.validity),)
        return (("offsets", self.offsets), ("validity", self.validity))

    def children(self) -> tuple[tuple[str, Layout, int], ...]:
        return (("content", self.content, 1),)

    def rows(self, lengths: Mapping[str, int]) -> int:
        """The node's rows, from the committed lengths of its leaves."""
        if self.offsets is None:
            assert self.size is not None  # a fixed axis (size >= 1) stored without offsets
            return self.content.rows(lengths) // self.size
        return max(lengths.get(self.offsets, 0) - 1, 0)

    def signature(self) -> str:
        """The layout with leaf names removed: two batches can share a store iff equal."""
        level = f"@{self.level}" if self.level else ""
        size = f"[{self.size}]" if self.size is not None else ""
        return f"list{size}{level}<{self.content.signature()}>"

    def arrow_type(self) -> pa.DataType:
        """The Arrow type the node describes."""
        if self.size is not None:
            return lay.fixed_list_of(self.content.arrow_type(), self.size)
        return lay.list_of(self.content.arrow_type())

    def map_leaves(self, fn: Callable[[LeafLayout], LeafLayout]) -> Layout:
        """The tree with every leaf node replaced by ``fn(leaf)``."""
        return replace(self, content=self.content.map_leaves(fn))

    def to_dict(self) -> dict[str, Any]:
        """The node as manifest JSON (the keys in the order writers put them)."""
        out: dict[str, Any] = {"kind": "list"}
        if self.size is not None:
            out["size"] = self.size
        if self.offsets is not None:
            out["offsets"] = self.offsets
        out.update(validity=self.validity, level=self.level, content=self.content.to_dict())
        return out


@dataclass(frozen=True, slots=True, kw_only=True)
class UnionLayout(_Node):
    """A scalar-or-list dense union: ``type_ids`` (0 ``scalar``, 1 ``list``) and
    ``value_offsets`` (each row's position in its child); children stored compact, in row
    order. A union has no validity leaf of its own (its ``validity`` is always None)."""

    kind: ClassVar[str] = "union"
    validity: ClassVar[None] = None
    type_ids: str
    value_offsets: str
    scalar: LeafLayout
    list: ListLayout

    def buffers(self) -> tuple[tuple[str, str], ...]:
        return (("type_ids", self.type_ids), ("value_offsets", self.value_offsets))

    def children(self) -> tuple[tuple[str, Layout, int], ...]:
        return (("scalar", self.scalar, 0), ("list", self.list, 0))

    def rows(self, lengths: Mapping[str, int]) -> int:
        """The node's rows, from the committed lengths of its leaves."""
        return lengths.get(self.type_ids, 0)

    def signature(self) -> str:
        """The layout with leaf names removed: two batches can share a store iff equal."""
        return f"union<{self.scalar.signature()}, {self.list.signature()}>"

    def arrow_type(self) -> pa.DataType:
        """The Arrow type the node describes."""
        return lay.union_type(self.scalar.arrow_type(), self.list.arrow_type())

    def map_leaves(self, fn: Callable[[LeafLayout], LeafLayout]) -> Layout:
        """The tree with every leaf node replaced by ``fn(leaf)``."""
        lists = self.list.map_leaves(fn)
        assert isinstance(lists, ListLayout)
        return replace(self, scalar=fn(self.scalar), list=lists)

    def to_dict(self) -> dict[str, Any]:
        """The node as manifest JSON (the keys in the order writers put them)."""
        return {
            "kind": "union",
            "type_ids": self.type_ids,
            "value_offsets": self.value_offsets,
            "scalar": self.scalar.to_dict(),
            "list": self.list.to_dict(),
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class RecordLayout(_Node):
    """A record node (an Arrow ``struct``): ``validity`` and the ``fields``, ``(name,
    node)`` pairs in order, each holding the record's rows (a null record's field rows
    too, as Arrow keeps them). Its rows are its first field's."""

    kind: ClassVar[str] = "record"
    validity: str
    fields: tuple[tuple[str, Layout], ...]

    @property
    def names(self) -> tuple[str, ...]:
        """The field names, in order."""
        return tuple(name for name, _ in self.fields)

    def buffers(self) -> tuple[tuple[str, str], ...]:
        return (("validity", self.validity),)

    def children(self) -> tuple[tuple[str, Layout, int], ...]:
        return tuple((f"fields[{i}].layout", node, 0) for i, (_, node) in enumerate(self.fields))

    def rows(self, lengths: Mapping[str, int]) -> int:
        """The node's rows, from the committed lengths of its leaves."""
        return self.fields[0][1].rows(lengths)

    def signature(self) -> str:
        """The layout with leaf names removed: two batches can share a store iff equal."""
        return record_signature((name, node.signature()) for name, node in self.fields)

    def arrow_type(self) -> pa.DataType:
        """The Arrow type the node describes."""
        return pa.struct([pa.field(name, node.arrow_type()) for name, node in self.fields])

    def map_leaves(self, fn: Callable[[LeafLayout], LeafLayout]) -> Layout:
        """The tree with every leaf node replaced by ``fn(leaf)``."""
        return replace(self, fields=tuple((n, node.map_leaves(fn)) for n, node in self.fields))

    def to_dict(self) -> dict[str, Any]:
        """The node as manifest JSON (the keys in the order writers put them)."""
        fields = [{"name": name, "layout": node.to_dict()} for name, node in self.fields]
        return {"kind": "record", "validity": self.validity, "fields": fields}


Layout = LeafLayout | ListLayout | UnionLayout | RecordLayout
"""A layout node of any kind (the root of a column's tree, or a node inside one)."""


def record_signature(fields: Iterable[tuple[str, str]]) -> str:
    """The signature of a record from its fields' ``(name, signature)``: a name as it is
    when a plain identifier, else JSON-quoted (so no two layouts share a signature).

    Examples
    --------
    >>> record_signature([("x", "int64"), ("a b", "list<string>")])
    'record<x: int64, "a b": list<string>>'
    """
    shown = (
        f"{name if _IDENTIFIER.fullmatch(name) else json.dumps(name)}: {sig}"
        for name, sig in fields
    )
    return f"record<{', '.join(shown)}>"


def stored_dtype(role: str, node: Layout) -> str:
    """The Zarr dtype of the leaf playing ``role`` in ``node``."""
    if role == "values":
        assert isinstance(node, LeafLayout)
        stored = LAYOUT_DTYPES[node.dtype]
        assert stored is not None  # only fixed-width leaves have values
        return stored
    return _ROLE_DTYPES[role]


# -- parsing --------------------------------------------------------------------------------


def show(value: Any) -> str:
    """A short description of a JSON value for a message (never a deep or long repr)."""
    if isinstance(value, dict):
        return f"an object of {len(value)} keys"
    if isinstance(value, list):
        return f"a list of {len(value)} items"
    if value is None or isinstance(value, bool):
        return json.dumps(value)
    text = repr(value)
    return text if len(text) <= 80 else f"{text[:60]}... ({len(text)} characters)"


class Fields:
    """Typed reads of one manifest's fields; errors name the store (``where``) and field."""

    def __init__(self, where: str) -> None:
        self.where = where

    def fail(self, message: str) -> StoreFormatError:
        return StoreFormatError(f"{self.where}: {_DOCUMENT} {message}")

    def wrong(self, field: str, expected: str, got: Any) -> StoreFormatError:
        return self.fail(f"field '{field}' must be {expected}, got {show(got)}")

    def as_obj(
        self, value: Any, field: str, required: tuple[str, ...], optional: tuple[str, ...] = ()
    ) -> dict[str, Any]:
        """``value`` as an object with all ``required`` keys and no keys but those."""
        if not isinstance(value, dict):
            raise self.wrong(field, "an object", value)
        prefix = f"{field}." if field else ""
        for key in required:
            if key not in value:
                raise self.fail(f"is missing field '{prefix}{key}'")
        if field:  # unknown keys are refused inside the manifest (the top level: ignored)
            for key in value:
                if key not in required and key not in optional:
                    allowed = ", ".join(repr(k) for k in (*required, *optional))
                    raise self.fail(
                        f"field '{field}' has an unknown key {show(key)}; expected {allowed}"
                    )
        return value

    def as_str(self, value: Any, field: str) -> str:
        if not isinstance(value, str):
            raise self.wrong(field, "a string", value)
        return value


def from_dict(d: Any, *, where: str = "<layout>", field: str = "layout") -> Layout:
    """Parse and check a layout tree from manifest JSON (untrusted input).

    Checks each node's ``kind``, its keys (all required ones, no unknown one), their types,
    the leaf dtype, the Arrow width of strings, that every leaf name is one inside the
    store (:func:`check_leaf_name`) and that the tree is at most :data:`MAX_DEPTH` nodes
    deep. Whether the leaves exist and their lengths agree is the manifest's to check.

    Parameters
    ----------
    d : object
        The JSON value (a ``dict`` for a valid tree).
    where : str
        The store, for messages.
    field : str
        The field holding the tree, for messages (``columns[0].layout``).

    Returns
    -------
    LeafLayout, ListLayout, UnionLayout or RecordLayout

    Raises
    ------
    StoreFormatError
        Saying what was expected, what came and where (store and field path).
    """
    return _parse(d, field, 1, Fields(where))


def _parse(node: Any, field: str, depth: int, f: Fields) -> Layout:
    if depth > MAX_DEPTH:
        raise f.fail(
            f"field '{field}' nests layout nodes deeper than {MAX_DEPTH}, the most "
            "a layout tree may have"
        )
    if not isinstance(node, dict):
        raise f.wrong(field, "a layout node (an object)", node)
    if "kind" not in node:
        raise f.fail(f"is missing field '{field}.kind'")
    kind = node["kind"]
    if kind == "leaf":
        return _parse_leaf(node, field, f)
    if kind == "list":
        return _parse_list(node, field, depth, f)
    if kind == "union":
        f.as_obj(node, field, ("kind", "type_ids", "value_offsets", "scalar", "list"))
        for child, want in (("scalar", "leaf"), ("list", "list")):
            if not isinstance(node[child], dict) or node[child].get("kind") != want:
                raise f.wrong(f"{field}.{child}", f"a {want} node", node[child])
        names = _names(node, ("type_ids", "value_offsets"), field, f)
        scalar = _parse(node["scalar"], f"{field}.scalar", depth + 1, f)
        lists = _parse(node["list"], f"{field}.list", depth + 1, f)
        assert isinstance(scalar, LeafLayout) and isinstance(lists, ListLayout)
        return UnionLayout(type_ids=names[0], value_offsets=names[1], scalar=scalar, list=lists)
    if kind == "record":
        return _parse_record(node, field, depth, f)
    raise f.wrong(f"{field}.kind", "'leaf', 'list', 'union' or 'record' (a layout node)", kind)


def _parse_record(node: dict[str, Any], field: str, depth: int, f: Fields) -> RecordLayout:
    """A record node: ``validity`` and a non-empty list of ``{"name", "layout"}`` fields
    with distinct, non-empty names."""
    f.as_obj(node, field, ("kind", "validity", "fields"))
    (validity,) = _names(node, ("validity",), field, f)
    items = node["fields"]
    if not isinstance(items, list) or not 1 <= len(items) <= MAX_FIELDS:
        raise f.wrong(f"{field}.fields", f"a list of 1 to {MAX_FIELDS} fields", items)
    fields: list[tuple[str, Layout]] = []
    seen: set[str] = set()
    for i, item in enumerate(items):
        at = f"{field}.fields[{i}]"
        f.as_obj(item, at, ("name", "layout"))
        name = item["name"]
        if not isinstance(name, str) or not name:
            raise f.wrong(f"{at}.name", "a non-empty string", name)
        if name in seen:
            raise f.fail(f"field '{at}.name' is {show(name)}, a name an earlier field has")
        seen.add(name)
        fields.append((name, _parse(item["layout"], f"{at}.layout", depth + 1, f)))
    return RecordLayout(validity=validity, fields=tuple(fields))


def _parse_list(node: dict[str, Any], field: str, depth: int, f: Fields) -> ListLayout:
    """A list node; with ``size``, a fixed axis, whose ``offsets`` leaf is absent unless
    it is a level's."""
    size = node.get("size")
    if "size" in node and (
        not isinstance(size, int) or isinstance(size, bool) or not 1 <= size <= MAX_SIZE
    ):
        raise f.wrong(f"{field}.size", f"an integer from 1 to {MAX_SIZE}", size)
    fixed = size is not None and "offsets" not in node
    required = (
        ("kind", "validity", "level", "content")
        if fixed
        else ("kind", "offsets", "validity", "level", "content")
    )
    f.as_obj(node, field, required, ("size", "offsets"))
    level = node["level"]
    if level is not None:
        f.as_str(level, f"{field}.level")
    if fixed and level is not None:
        raise f.fail(
            f"is missing field '{field}.offsets' (a fixed axis of a level keeps the "
            "level's offsets leaf)"
        )
    roles = ("validity",) if fixed else ("offsets", "validity")
    names = _names(node, roles, field, f)
    content = _parse(node["content"], f"{field}.content", depth + 1, f)
    offsets = None if fixed else names[0]
    return ListLayout(offsets=offsets, validity=names[-1], level=level, content=content, size=size)


def _parse_leaf(node: dict[str, Any], field: str, f: Fields) -> LeafLayout:
    if "dtype" not in node:
        raise f.fail(f"is missing field '{field}.dtype'")
    dtype = node["dtype"]
    if not isinstance(dtype, str) or dtype not in LAYOUT_DTYPES:
        raise f.wrong(f"{field}.dtype", f"a grumpy dtype ({', '.join(LAYOUT_DTYPES)})", dtype)
    if LAYOUT_DTYPES[dtype] is not None:
        f.as_obj(node, field, ("kind", "dtype", "values", "validity"))
        values, validity = _names(node, ("values", "validity"), field, f)
        return LeafLayout(dtype=dtype, values=values, validity=validity)
    f.as_obj(node, field, ("kind", "dtype", "offsets", "data", "validity"), ("arrow", "indices"))
    roles: tuple[str, ...] = ("offsets", "data", "validity")
    if "indices" in node:  # dictionary-encoded: offsets and data hold the dictionary
        roles = (*roles, "indices")
    arrow = node.get("arrow")
    if "arrow" in node and arrow not in _ARROW_WIDTHS[dtype]:
        raise f.wrong(f"{field}.arrow", " or ".join(map(repr, _ARROW_WIDTHS[dtype])), arrow)
    names = _names(node, roles, field, f)
    return LeafLayout(
        dtype=dtype,
        offsets=names[0],
        data=names[1],
        validity=names[2],
        indices=names[3] if len(names) > 3 else None,
        arrow=arrow,
    )


def _names(node: dict[str, Any], roles: tuple[str, ...], field: str, f: Fields) -> list[str]:
    """The leaf names of a node's ``roles``, each checked (:func:`check_leaf_name`)."""
    names = []
    for role in roles:
        name = f.as_str(node[role], f"{field}.{role}")
        check_leaf_name(name, role, f"{field}.{role}", f)
        names.append(name)
    return names


def check_leaf_name(name: str, role: str | None, field: str, f: Fields) -> None:
    """A leaf name is ``<column>/<path>-<role>``: two safe components inside the store.

    Raises
    ------
    StoreFormatError
        Naming ``field`` and why the name does not resolve inside the store.
    """
    parts = name.split("/")
    if "\x00" in name or "\\" in name:
        reason = "it holds a NUL or a backslash"
    elif name.startswith("/"):
        reason = "it is an absolute path"
    elif any(p in ("", ".", "..") for p in parts):
        reason = "it has an empty, '.' or '..' component"
    elif len(parts) != 2:
        reason = "a leaf name has two components, '<column>/<path>-<role>'"
    elif not all(_COMPONENT.fullmatch(p) for p in parts):
        reason = (
            "its components must be 1 to 255 letters, digits or '_.~%-' (column "
            "names are URL-quoted)"
        )
    elif parts[0] in _RESERVED:
        reason = f"{parts[0]!r} is a file of the store"
    elif role is not None and not parts[1].endswith(f"-{role}"):
        reason = f"the {role} leaf of a node is named '...-{role}'"
    else:
        return
    raise f.fail(
        f"field '{field}' names leaf {show(name)}, which is not a leaf name inside "
        f"the store: {reason}"
    )


# -- append and its inverse -----------------------------------------------------------------


def rebase(
    node: Layout,
    role: str,
    data: np.ndarray,
    *,
    length: int,
    last: int,
    lengths: Mapping[str, int],
    batch: Mapping[str, np.ndarray],
) -> np.ndarray:
    """A batch's buffer for the leaf playing ``role`` in ``node``, as the values a commit
    writes after the leaf's committed ``length`` values (docs/format.md, "Writing and
    committing").

    Offsets continue from the committed ``last`` offset (the first write keeps the
    leading 0); a union's value offsets from its children's committed rows (``lengths``:
    the committed leaf lengths; ``batch``: the batch's buffers, for its type ids); every
    other role is appended as it is.
    """
    if role == "offsets":
        return data if length == 0 else data[1:] + last
    if role == "value_offsets":
        assert isinstance(node, UnionLayout)
        bases = (node.scalar.rows(lengths), node.list.rows(lengths))
        return data + np.where(batch[node.type_ids] == 1, bases[1], bases[0])
    return data


def cut(
    layout: Layout,
    rows: int,
    value: Callable[[str, int], int],
    present: Container[str],
    out: dict[str, tuple[int, int | None]],
) -> None:
    """Record in ``out`` the ``(length, last)`` every leaf of ``layout`` had when the node
    held ``rows`` rows: the inverse of :func:`rebase`.

    Appends only add values, so those lengths are prefixes of the committed ones. They
    come from one offset per list and string node and two values per union (``type_ids``
    and ``value_offsets`` of the last row), read by ``value(leaf, position)``; ``present``
    holds the leaves that exist (an absent validity leaf stays absent). A level's shared
    offsets leaf is cut once.
    """
    if layout.validity is not None and layout.validity in present:
        out[layout.validity] = (rows, None)
    if isinstance(layout, LeafLayout):
        if layout.values is not None:
            out[layout.values] = (rows, None)
        elif layout.indices is not None:  # a dictionary only grows: it stays whole
            out[layout.indices] = (rows, None)
        else:  # strings and bytes: offsets and data
            offsets, data = layout.text_leaves()
            end = value(offsets, rows)
            out[offsets] = (rows + 1, end)
            out[data] = (end, None)
    elif isinstance(layout, RecordLayout):
        for _, node in layout.fields:  # every field holds the record's rows
            cut(node, rows, value, present, out)
    elif isinstance(layout, ListLayout) and layout.offsets is None:
        assert layout.size is not None
        cut(layout.content, rows * layout.size, value, present, out)
    elif isinstance(layout, ListLayout):
        assert layout.offsets is not None
        done = out.get(layout.offsets)  # a level's shared offsets: cut once
        content = done[1] if done is not None else None
        if content is None:
            content = value(layout.offsets, rows)
            out[layout.offsets] = (rows + 1, content)
        cut(layout.content, content, value, present, out)
    else:
        out[layout.type_ids] = (rows, None)
        out[layout.value_offsets] = (rows, None)
        scalars = 0
        if rows:
            # Children are compact in row order: the last row's position in its child
            # tells how many rows each child had.
            position = value(layout.value_offsets, rows - 1) + 1
            scalars = position if value(layout.type_ids, rows - 1) == 0 else rows - position
        cut(layout.scalar, scalars, value, present, out)
        cut(layout.list, rows - scalars, value, present, out)
