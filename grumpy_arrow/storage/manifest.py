"""``grumpy.json``: the store manifest, as frozen dataclasses with strict JSON parsing.

The manifest is written last on every commit; its row count and leaf lengths are the truth
(leaves may hold an uncommitted tail beyond them). ``docs/format.md`` is the normative
description; this module is its implementation.

A manifest is untrusted input: :func:`parse_manifest` checks every field's type and
bounds (counts in ``[0, MAX_LENGTH]``, layout trees at most ``MAX_DEPTH`` nodes deep,
chunk sizes in ``[1, MAX_CHUNK_SIZE]``), that every leaf name resolves inside the store,
that each leaf's dtype fits the role it plays, and that the committed lengths agree with
each other down every layout tree, so a damaged or hostile manifest is refused with a
:class:`~grumpy_arrow.errors.StoreFormatError` naming the store and the field before any
leaf is read.

Examples
--------
>>> import pathlib, tempfile, grumpy_arrow as gr
>>> path = pathlib.Path(tempfile.mkdtemp(), "x.gr")
>>> gr.save(gr.array([[1, 2], [3]]), path)
>>> text = (path / MANIFEST_NAME).read_text()
>>> parse_manifest(text, path).rows
2
>>> parse_manifest(text.replace('"rows": 2', '"rows": -2'), "x.gr")
Traceback (most recent call last):
...
grumpy_arrow.errors.StoreFormatError: x.gr: grumpy.json field 'rows' must be an int >= 0, got -2
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from grumpy_arrow.errors import SchemaError, StoreFormatError
from grumpy_arrow.frame.schema import Schema, parse_schema
from grumpy_arrow.storage.layouts import (
    LAYOUT_DTYPES,
    MAX_DEPTH,
    ZARR_DTYPES,
    Fields,
    LeafLayout,
    ListLayout,
    RecordLayout,
    from_dict,
    stored_dtype,
)
from grumpy_arrow.storage.layouts import Layout as Layout
from grumpy_arrow.storage.layouts import check_leaf_name as _check_leaf_name
from grumpy_arrow.storage.layouts import show as _show
from grumpy_arrow.storage.zarr import COMPRESSORS

__all__ = [
    "FORMAT",
    "LAYOUT_DTYPES",
    "MANIFEST_NAME",
    "MAX_CHUNK_SIZE",
    "MAX_DEPTH",
    "MAX_LENGTH",
    "VERSION",
    "ZARR_DTYPES",
    "ColumnSpec",
    "LeafSpec",
    "LevelSpec",
    "Manifest",
    "ShardSpec",
    "ShardedManifest",
    "is_shard_name",
    "parse_any_manifest",
    "parse_manifest",
]

FORMAT = "grumpy_arrow"
VERSION = 2
READABLE = (1, 2)
"""Store versions this library reads (it writes :data:`VERSION`; appends keep a store's own)."""
MANIFEST_NAME = "grumpy.json"

MAX_LENGTH = 1 << 48
"""The largest row count, leaf length or offset a manifest may give (2**48: 256 Ti)."""
MAX_CHUNK_SIZE = 1 << 40
"""The largest ``chunking.chunk_size``."""

# ``shard_name``'s output exactly: six digits, or more without a leading zero.
_SHARD_NAME = re.compile(r"shard-([0-9]{6}|[1-9][0-9]{6,11})")
_STORE_FIELDS = (
    "format",
    "version",
    "kind",
    "rows",
    "schema",
    "levels",
    "columns",
    "leaves",
    "chunking",
    "compressor",
)
_SHARDED_FIELDS = ("format", "version", "kind", "rows", "shards")


def is_shard_name(name: str) -> bool:
    """Whether ``name`` is a shard directory name exactly as writers spell it."""
    return bool(_SHARD_NAME.fullmatch(name))


@dataclass(frozen=True)
class LeafSpec:
    """One 1-D Zarr array: its dtype, committed length and, for offsets, the last value."""

    dtype: str
    length: int
    last: int | None = None  # the last committed offset (offsets leaves only)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"dtype": self.dtype, "length": self.length}
        if self.last is not None:
            out["last"] = self.last
        return out


@dataclass(frozen=True)
class LevelSpec:
    """A frame level below the outer one and the leaf holding its shared offsets."""

    name: str
    depth: int
    offsets: str


@dataclass(frozen=True)
class ColumnSpec:
    """A column: its name, level (frames) and layout tree of leaf references
    (:mod:`.layouts`)."""

    name: str
    layout: Layout
    level: str | None = None
    codec: str | None = None
    """The codec each row is stored with (:mod:`.codecs`); None: stored as it is."""


@dataclass(frozen=True)
class Manifest:
    """The whole manifest (see ``docs/format.md``)."""

    kind: str
    rows: int
    columns: tuple[ColumnSpec, ...]
    leaves: dict[str, LeafSpec]
    schema: list[Any] | None = None
    levels: tuple[LevelSpec, ...] = ()
    chunk_size: int | None = None
    chunk_dim: Any = None
    shard_size: int | None = None
    compressor: str = "auto"
    creator: str = ""
    version: int = VERSION
    attrs: dict[str, Any] = field(default_factory=dict)
    dictionary_pending: bool = False
    """The store was created empty with ``dictionary=None``: its first rows decide which
    string leaves are dictionary-encoded (written as ``"dictionary": "auto"``)."""

    def to_json(self) -> str:
        """The manifest as pretty JSON text."""
        doc = {
            "format": FORMAT,
            "version": self.version,
            "creator": self.creator,
            "kind": self.kind,
            "rows": self.rows,
            "schema": self.schema,
            "levels": [
                {"name": lv.name, "depth": lv.depth, "offsets": lv.offsets} for lv in self.levels
            ],
            "columns": [
                {"name": c.name, "level": c.level, "layout": c.layout.to_dict()}
                | ({"codec": c.codec} if c.codec is not None else {})
                for c in self.columns
            ],
            "leaves": {name: spec.to_json() for name, spec in sorted(self.leaves.items())},
            "chunking": self._chunking(),
            "compressor": self.compressor,
            "attrs": self.attrs,
        }
        if self.dictionary_pending:
            doc["dictionary"] = "auto"
        return json.dumps(doc, indent=1)

    def _chunking(self) -> dict[str, Any]:
        if self.version == 1:
            return {"chunk_size": self.chunk_size, "chunk_dim": self.chunk_dim}
        return {
            "chunk_size": self.chunk_size,
            "shard_size": self.shard_size,
            "chunk_dim": self.chunk_dim,
        }

    @property
    def codecs(self) -> dict[str, str]:
        """``{column: codec name}`` of the columns stored with a codec."""
        return {c.name: c.codec for c in self.columns if c.codec is not None}

    def column(self, name: str) -> ColumnSpec:
        """The column spec by name (KeyError if absent)."""
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(name)


@dataclass(frozen=True)
class ShardSpec:
    """One shard of a sharded dataset: its directory name and the rows it contributes."""

    name: str
    rows: int


@dataclass(frozen=True)
class ShardedManifest:
    """A sharded dataset's top-level manifest (see ``docs/format.md``, "Sharded datasets").

    ``rows`` is the sum of the shards' listed rows; ``shard_rows`` the rows per shard the
    writers used (None when they differ or are unknown). ``consolidated`` is False for a
    manifest discovered from the shard directories (no top-level ``grumpy.json``).
    """

    rows: int
    shards: tuple[ShardSpec, ...]
    shard_rows: int | None = None
    creator: str = ""
    version: int = VERSION
    consolidated: bool = True

    def to_json(self) -> str:
        """The top-level manifest as pretty JSON text."""
        doc = {
            "format": FORMAT,
            "version": self.version,
            "kind": "sharded",
            "rows": self.rows,
            "shard_rows": self.shard_rows,
            "shards": [{"name": s.name, "rows": s.rows} for s in self.shards],
            "creator": self.creator,
        }
        return json.dumps(doc, indent=1)


# -- parsing --------------------------------------------------------------------------------


def parse_manifest(text: str | bytes, where: str) -> Manifest:
    """Parse and validate manifest text read from store ``where``.

    Raises
    ------
    StoreFormatError
        For malformed JSON, a foreign format, an unknown version, a missing, unknown,
        ill-typed or out-of-bounds field, a leaf name that leaves the store, or lengths
        that disagree — naming the store and the field.
    """
    doc = _document(text, where)
    if doc.get("kind") == "sharded":
        raise StoreFormatError(
            f"{where}: {MANIFEST_NAME} describes a sharded dataset, not a single store; "
            "open it with gr.open or gr.load"
        )
    return _parse_store(doc, _Fields(where))


def parse_any_manifest(text: str | bytes, where: str) -> Manifest | ShardedManifest:
    """Parse a store's manifest or a sharded dataset's top-level manifest.

    Raises
    ------
    StoreFormatError
        As :func:`parse_manifest`, for either kind of manifest.
    """
    doc = _document(text, where)
    if doc.get("kind") == "sharded":
        return _parse_sharded(doc, _Fields(where))
    return _parse_store(doc, _Fields(where))


def _document(text: str | bytes, where: str) -> dict[str, Any]:
    """The JSON object of a manifest, with its format and version checked."""
    try:
        doc = json.loads(text)
    except (ValueError, UnicodeDecodeError) as err:
        raise StoreFormatError(f"{where}: {MANIFEST_NAME} is not valid JSON ({err})") from err
    except RecursionError as err:  # the json module recurses once per nested value
        raise StoreFormatError(
            f"{where}: {MANIFEST_NAME} nests JSON values too deeply to be a manifest "
            f"(layout trees are at most {MAX_DEPTH} nodes deep)"
        ) from err
    if not isinstance(doc, dict):
        raise StoreFormatError(f"{where}: {MANIFEST_NAME} must hold a JSON object")
    if doc.get("format") != FORMAT:
        raise StoreFormatError(
            f"{where}: {MANIFEST_NAME} field 'format' is {_show(doc.get('format'))}; "
            f"expected {FORMAT!r} (not a grumpy_arrow store)"
        )
    version = doc.get("version")
    if type(version) is not int or version not in READABLE:
        raise StoreFormatError(
            f"{where}: {MANIFEST_NAME} field 'version': unknown store version "
            f"{_show(version)}; this grumpy_arrow reads versions "
            f"{', '.join(map(str, READABLE))}"
        )
    return doc


def _bound(n: int) -> str:
    return f"2**{n.bit_length() - 1}" if n > 1024 and n & (n - 1) == 0 else str(n)


class _Fields(Fields):
    """Typed, bounded reads of one manifest's fields; errors name the store and field."""

    def as_list(self, value: Any, field: str) -> list[Any]:
        if not isinstance(value, list):
            raise self.wrong(field, "a list", value)
        return value

    def as_int(self, value: Any, field: str, *, low: int = 0, high: int = MAX_LENGTH) -> int:
        """An int in ``[low, high]`` (JSON ``true`` and ``1.0`` are not ints)."""
        if type(value) is not int or value < low:
            what = "a positive int" if low == 1 else f"an int >= {low}"
            raise self.wrong(field, what, value)
        if value > high:
            raise self.fail(
                f"field '{field}' is {_show(value)}, more than {_bound(high)}, the largest "
                "value it may have"
            )
        return value

    def int_or_null(
        self, value: Any, field: str, *, low: int = 0, high: int = MAX_LENGTH
    ) -> int | None:
        if value is None:
            return None
        if type(value) is not int or value < low:
            what = "a positive int" if low == 1 else f"an int >= {low}"
            raise self.wrong(field, f"{what} or null", value)
        return self.as_int(value, field, low=low, high=high)


# -- store manifests --------------------------------------------------------------------


def _parse_store(doc: dict[str, Any], f: _Fields) -> Manifest:
    if "kind" in doc and doc["kind"] not in ("array", "dataframe"):
        raise f.wrong("kind", "'array', 'dataframe' or 'sharded'", doc["kind"])
    f.as_obj(doc, "", _STORE_FIELDS, ("creator", "attrs", "dictionary"))
    kind: str = doc["kind"]
    rows = f.as_int(doc["rows"], "rows")
    schema = _parse_schema(doc["schema"], kind, f)
    leaves = _parse_leaves(doc["leaves"], f)
    levels = _parse_levels(doc["levels"], schema, leaves, f)
    refs: list[_Ref] = [
        _Ref(lv.offsets, "offsets", f"levels[{i}]", None) for i, lv in enumerate(levels)
    ]
    columns = _parse_columns(doc["columns"], kind, schema, refs, f)
    _check_references(refs, levels, leaves, f)
    for i, column in enumerate(columns):
        _check_lengths(column.layout, rows, leaves, f"columns[{i}].layout", f, root=True)
    keys = (
        ("chunk_size", "chunk_dim")
        if doc["version"] == 1
        else ("chunk_size", "shard_size", "chunk_dim")
    )
    chunking = f.as_obj(doc["chunking"], "chunking", keys)
    chunk_size = chunking["chunk_size"]
    if chunk_size is not None or doc["version"] == 1:  # null (by bytes) from version 2 on
        chunk_size = f.as_int(chunk_size, "chunking.chunk_size", low=1, high=MAX_CHUNK_SIZE)
    shard_size = chunking.get("shard_size")
    if shard_size is not None:
        shard_size = f.as_int(shard_size, "chunking.shard_size", low=1, high=MAX_CHUNK_SIZE)
    compressor = doc["compressor"]
    known = COMPRESSORS if doc["version"] > 1 else tuple(c for c in COMPRESSORS if c != "auto")
    if not isinstance(compressor, str) or compressor not in known:
        raise f.wrong("compressor", f"one of {', '.join(map(repr, known))}", compressor)
    attrs = doc.get("attrs", {})
    if not isinstance(attrs, dict):
        raise f.wrong("attrs", "an object", attrs)
    if "shard_rows" in attrs:  # free-form but for this one, which appends rely on
        f.as_int(attrs["shard_rows"], "attrs.shard_rows", low=1)
    pending = doc.get("dictionary")
    if pending not in (None, "auto"):
        raise f.wrong("dictionary", "'auto' (or absent)", pending)
    return Manifest(
        kind=kind,
        rows=rows,
        columns=columns,
        leaves=leaves,
        schema=doc["schema"],
        levels=levels,
        chunk_size=chunk_size,
        chunk_dim=_parse_chunk_dim(chunking["chunk_dim"], schema, f),
        shard_size=shard_size,
        compressor=compressor,
        creator=f.as_str(doc.get("creator", ""), "creator"),
        version=doc["version"],
        attrs=dict(attrs),
        dictionary_pending=pending == "auto" and rows == 0,
    )


def _parse_schema(value: Any, kind: str, f: _Fields) -> Schema | None:
    if value is None:
        return None
    if kind == "array":
        raise f.wrong("schema", "null for an array store", value)
    if not isinstance(value, list) or not 1 <= len(value) <= MAX_DEPTH:
        raise f.wrong("schema", f"a list of 1 to {MAX_DEPTH} levels, or null", value)
    for i, level in enumerate(value):
        names = level.get("names") if isinstance(level, dict) else level
        if not isinstance(names, str) and not (
            isinstance(names, list) and all(isinstance(name, str) for name in names)
        ):
            raise f.wrong(
                f"schema[{i}]",
                'a level name, a list of aliases, or {"names": [...], "columns": [...]}',
                level,
            )
    try:
        return parse_schema(value)
    except (SchemaError, TypeError) as err:
        raise f.fail(f"field 'schema' is not a schema ({err})") from err


def _parse_leaves(value: Any, f: _Fields) -> dict[str, LeafSpec]:
    if not isinstance(value, dict):
        raise f.wrong("leaves", "an object", value)
    leaves = {}
    for name, spec in value.items():
        field = f"leaves.{name}"
        _check_leaf_name(name, None, "leaves", f)
        f.as_obj(spec, field, ("dtype", "length"), ("last",))
        dtype = spec["dtype"]
        if not isinstance(dtype, str) or dtype not in ZARR_DTYPES:
            raise f.wrong(f"{field}.dtype", f"a Zarr dtype ({', '.join(ZARR_DTYPES)})", dtype)
        length = f.as_int(spec["length"], f"{field}.length")
        leaves[name] = LeafSpec(dtype, length, f.int_or_null(spec.get("last"), f"{field}.last"))
    return leaves


def _parse_levels(
    value: Any, schema: Schema | None, leaves: dict[str, LeafSpec], f: _Fields
) -> tuple[LevelSpec, ...]:
    levels: list[LevelSpec] = []
    items = f.as_list(value, "levels")
    if items and schema is None:
        raise f.fail("field 'levels' lists levels, but field 'schema' is null")
    for i, item in enumerate(items):
        field = f"levels[{i}]"
        f.as_obj(item, field, ("name", "depth", "offsets"))
        name = f.as_str(item["name"], f"{field}.name")
        assert schema is not None
        depth = f.as_int(item["depth"], f"{field}.depth", low=1, high=len(schema) - 1)
        if name != schema.names[depth] or depth in [lv.depth for lv in levels]:
            raise f.fail(
                f"field '{field}' is level {_show(name)} at depth {depth}; the schema's level "
                f"at depth {depth} is {_show(schema.names[depth])}, listed once"
            )
        offsets = f.as_str(item["offsets"], f"{field}.offsets")
        _check_leaf_name(offsets, "offsets", f"{field}.offsets", f)
        if offsets not in leaves:
            raise f.fail(f"field '{field}.offsets' names unknown leaf {offsets!r}")
        levels.append(LevelSpec(name, depth, offsets))
    return tuple(levels)


def _parse_columns(
    value: Any, kind: str, schema: Schema | None, refs: list[_Ref], f: _Fields
) -> tuple[ColumnSpec, ...]:
    columns: list[ColumnSpec] = []
    seen: set[str] = set()
    items = f.as_list(value, "columns")
    for i, item in enumerate(items):
        field = f"columns[{i}]"
        f.as_obj(item, field, ("name", "level", "layout"), ("codec",))
        name = f.as_str(item["name"], f"{field}.name")
        if not name or name in seen:
            raise f.wrong(f"{field}.name", "a distinct, non-empty column name", name)
        seen.add(name)
        level = item["level"]
        if schema is None and level is not None:
            raise f.wrong(f"{field}.level", "null (there is no schema)", level)
        if schema is not None:
            try:
                want = schema.names[schema.level_of(name)]
            except SchemaError as err:
                raise f.fail(f"field '{field}.name' is not a column of the schema ({err})") from err
            if level != want:
                raise f.wrong(
                    f"{field}.level", f"{_show(want)}, the level of column {_show(name)}", level
                )
        layout = from_dict(item["layout"], where=f.where, field=f"{field}.layout")
        refs.extend(
            _Ref(leaf, role, path, node)
            for path, node in layout.named_nodes(f"{field}.layout")
            for role, leaf in node.buffers()
        )
        codec = item.get("codec")
        if codec is not None:
            if not isinstance(codec, str) or not codec or len(codec) > 200:
                raise f.wrong(f"{field}.codec", "a codec name or absent", codec)
            if not (isinstance(layout, LeafLayout) and layout.dtype == "binary"):
                raise f.fail(
                    f"field '{field}.codec' is {_show(codec)}, but the column's layout is not "
                    "one binary value per row (what a codec stores)"
                )
        columns.append(ColumnSpec(name, layout, level, codec))
    names = [c.name for c in columns]
    if kind == "array" and names != ["array"]:
        raise f.fail(
            "field 'columns' of an array store must hold one column, named 'array'; got "
            f"{len(names)} ({', '.join(_show(n) for n in names[:3])})"
        )
    return tuple(columns)


def _parse_chunk_dim(value: Any, schema: Schema | None, f: _Fields) -> Any:
    if value is None or (type(value) is int and 0 <= value <= MAX_DEPTH):
        return value
    if isinstance(value, str) and schema is not None:
        try:
            schema.index(value)
        except SchemaError as err:
            raise f.fail(f"field 'chunking.chunk_dim' names no level ({err})") from err
        return value
    raise f.wrong(
        "chunking.chunk_dim",
        f"null, a level name of the schema or a depth in [0, {MAX_DEPTH}]",
        value,
    )


# -- layout trees -----------------------------------------------------------------------


@dataclass(frozen=True)
class _Ref:
    """A reference to a leaf: its name, the role it plays and where (None: a level)."""

    name: str
    role: str
    field: str
    node: Layout | None


def _check_references(
    refs: list[_Ref], levels: tuple[LevelSpec, ...], leaves: dict[str, LeafSpec], f: _Fields
) -> None:
    """Each leaf has one role with its dtype; only a level's offsets leaf is shared (by the
    list nodes of that level); every listed leaf is used; offsets record their end."""
    shared = {lv.offsets: lv.name for lv in levels}
    by_name = {lv.name: lv.offsets for lv in levels}
    used: dict[str, _Ref] = {}
    for ref in refs:
        where = f"{ref.field}.{ref.role}" if ref.node is not None else f"{ref.field}.offsets"
        node = ref.node
        level = node.level if isinstance(node, ListLayout) and ref.role == "offsets" else None
        if level is not None and by_name.get(level) != ref.name:
            raise f.fail(
                f"field '{ref.field}.level' is {_show(level)}; a list of a level "
                "uses that level's offsets leaf, listed in field 'levels'"
            )
        if ref.name in shared and ref.node is not None and level != shared[ref.name]:
            raise f.fail(
                f"field '{where}' names leaf {ref.name!r}, the offsets of level "
                f"{_show(shared[ref.name])}, in a node that is not a list of that level"
            )
        if ref.name in used and ref.name not in shared:
            raise f.fail(
                f"field '{where}' names leaf {ref.name!r}, which field "
                f"'{used[ref.name].field}' uses too; leaves are not shared"
            )
        used[ref.name] = ref
        spec = leaves.get(ref.name)
        if spec is None:
            # A validity leaf exists only once its node has had a null.
            if ref.role != "validity":
                raise f.fail(
                    f"field '{where}' names leaf {ref.name!r}, which the manifest does not list"
                )
            continue
        _check_spec(ref, spec, f)
    for name in leaves:
        if name not in used:
            raise f.fail(f"field 'leaves' lists leaf {name!r}, which no column or level uses")


def _check_spec(ref: _Ref, spec: LeafSpec, f: _Fields) -> None:
    field = f"leaves.{ref.name}"
    want = "int64" if ref.node is None else stored_dtype(ref.role, ref.node)  # a level: offsets
    if spec.dtype != want:
        raise f.fail(
            f"field '{field}.dtype' is {spec.dtype!r}; the leaf holds the "
            f"{ref.role} of '{ref.field}', stored as {want!r}"
        )
    if ref.role == "offsets" and spec.length and spec.last is None:
        raise f.fail(f"is missing field '{field}.last' (offsets leaves record their last offset)")
    if ref.role != "offsets" and spec.last is not None:
        raise f.fail(
            f"field '{field}.last' is {spec.last}; only offsets leaves have one "
            f"(this one holds {ref.role})"
        )


def _check_lengths(
    node: Layout,
    rows: int,
    leaves: dict[str, LeafSpec],
    field: str,
    f: _Fields,
    *,
    root: bool = False,
) -> None:
    """The committed lengths of a node's leaves agree with its ``rows`` (and recurse)."""

    def expect(role: str, name: str, want: int) -> int | None:
        spec = leaves.get(name)
        if spec is None:  # an absent validity leaf: every row is valid
            return None
        if spec.length != want:
            context = f"field 'rows' is {rows}" if root else f"the node has {rows} rows"
            raise f.fail(
                f"fields disagree: leaf {name!r}, the {role} of '{field}', has "
                f"length {spec.length} (field 'leaves.{name}.length'); {context}, so it "
                f"must have {want}"
            )
        return spec.last

    if node.validity is not None:
        expect("validity", node.validity, rows)
    if isinstance(node, LeafLayout) and node.values is not None:
        expect("values", node.values, rows)
    elif isinstance(node, LeafLayout) and node.indices is not None:
        # The dictionary has its own length.
        expect("indices", node.indices, rows)
        offsets, data = node.text_leaves()
        spec = leaves.get(offsets)
        if spec is not None and spec.length == 0:
            raise f.fail(f"field 'leaves.{offsets}.length' is 0; offsets have >= 1 entry")
        expect("data", data, (spec.last or 0) if spec is not None else 0)
    elif isinstance(node, LeafLayout):
        offsets, data = node.text_leaves()
        expect("data", data, expect("offsets", offsets, rows + 1) or 0)
    elif isinstance(node, RecordLayout):
        for i, (_, child) in enumerate(node.fields):  # every field holds the record's rows
            _check_lengths(child, rows, leaves, f"{field}.fields[{i}].layout", f)
    elif isinstance(node, ListLayout) and node.offsets is None:
        assert node.size is not None
        _check_lengths(node.content, rows * node.size, leaves, f"{field}.content", f)
    elif isinstance(node, ListLayout):
        assert node.offsets is not None
        content = expect("offsets", node.offsets, rows + 1) or 0
        _check_lengths(node.content, content, leaves, f"{field}.content", f)
    else:
        expect("type_ids", node.type_ids, rows)
        expect("value_offsets", node.value_offsets, rows)
        lengths = {name: spec.length for name, spec in leaves.items()}
        scalars, lists = node.scalar.rows(lengths), node.list.rows(lengths)
        if scalars + lists != rows:
            raise f.fail(
                f"fields disagree: the union at '{field}' has {rows} rows, but its children "
                f"hold {scalars} scalar and {lists} list rows (their leaves' lengths)"
            )
        _check_lengths(node.scalar, scalars, leaves, f"{field}.scalar", f)
        _check_lengths(node.list, lists, leaves, f"{field}.list", f)


# -- sharded datasets -------------------------------------------------------------------


def _parse_sharded(doc: dict[str, Any], f: _Fields) -> ShardedManifest:
    f.as_obj(doc, "", _SHARDED_FIELDS, ("shard_rows", "creator"))
    rows = f.as_int(doc["rows"], "rows")
    shard_rows = f.int_or_null(doc.get("shard_rows"), "shard_rows", low=1)
    shards = []
    for i, entry in enumerate(f.as_list(doc["shards"], "shards")):
        field = f"shards[{i}]"
        f.as_obj(entry, field, ("name", "rows"))
        name = entry["name"]
        if not isinstance(name, str) or not is_shard_name(name):
            raise f.fail(
                f"field '{field}.name' must name a shard-NNNNNN directory (as "
                f"writers spell it), got {_show(name)}"
            )
        shards.append(ShardSpec(name, f.as_int(entry["rows"], f"{field}.rows")))
    numbers = [int(s.name[6:]) for s in shards]
    if numbers != sorted(set(numbers)):
        raise f.fail(
            f"field 'shards' must list distinct shards in numeric order, got "
            f"{[s.name for s in shards][:20]}"
        )
    total = sum(s.rows for s in shards)
    if rows != total:
        raise f.fail(f"field 'rows' is {rows}; the shards list {total} (field 'shards')")
    creator = f.as_str(doc.get("creator", ""), "creator")
    return ShardedManifest(rows, tuple(shards), shard_rows, creator, doc["version"])
