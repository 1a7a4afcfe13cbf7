"""``grumpy.json``: the store manifest, as frozen dataclasses with strict JSON parsing.

The manifest is written last on every commit; its row count and leaf lengths are the truth
(leaves may hold an uncommitted tail beyond them). ``docs/format.md`` is the normative
description; this module is its implementation.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from grumpy_arrow.errors import StoreFormatError

__all__ = [
    "FORMAT",
    "MANIFEST_NAME",
    "VERSION",
    "ColumnSpec",
    "LeafSpec",
    "LevelSpec",
    "Manifest",
    "ShardSpec",
    "ShardedManifest",
    "parse_any_manifest",
    "parse_manifest",
]

FORMAT = "grumpy_arrow"
VERSION = 1
MANIFEST_NAME = "grumpy.json"
_NODE_KINDS = {"leaf", "list", "union"}
_SHARD_NAME = re.compile(r"shard-[0-9]{6,}")


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
    """A column: its name, level (frames) and layout tree of leaf references."""

    name: str
    layout: dict[str, Any]
    level: str | None = None


@dataclass(frozen=True)
class Manifest:
    """The whole manifest (see ``docs/format.md``)."""

    kind: str
    rows: int
    columns: tuple[ColumnSpec, ...]
    leaves: dict[str, LeafSpec]
    schema: list[Any] | None = None
    levels: tuple[LevelSpec, ...] = ()
    chunk_size: int = 0
    chunk_dim: Any = None
    compressor: str = "none"
    creator: str = ""
    version: int = VERSION
    attrs: dict[str, Any] = field(default_factory=dict)

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
                {"name": c.name, "level": c.level, "layout": c.layout} for c in self.columns
            ],
            "leaves": {name: spec.to_json() for name, spec in sorted(self.leaves.items())},
            "chunking": {"chunk_size": self.chunk_size, "chunk_dim": self.chunk_dim},
            "compressor": self.compressor,
            "attrs": self.attrs,
        }
        return json.dumps(doc, indent=1)

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


def _parse_sharded(doc: dict[str, Any], where: str) -> ShardedManifest:
    rows = _field(doc, "rows", int, where)
    shard_rows = doc.get("shard_rows")
    if shard_rows is not None and (
        not isinstance(shard_rows, int) or isinstance(shard_rows, bool) or shard_rows < 1
    ):
        raise StoreFormatError(
            f"{where}: {MANIFEST_NAME} field 'shard_rows' must be a positive int or null, got "
            f"{shard_rows!r}"
        )
    shards = []
    for i, entry in enumerate(_field(doc, "shards", list, where)):
        if not isinstance(entry, dict):
            raise StoreFormatError(f"{where}: field 'shards[{i}]' must be an object")
        name = _field(entry, "name", str, where, f"shards[{i}].")
        count = _field(entry, "rows", int, where, f"shards[{i}].")
        if not _SHARD_NAME.fullmatch(name) or count < 0:
            raise StoreFormatError(
                f"{where}: field 'shards[{i}]' must name a shard-NNNNNN directory with rows "
                f">= 0, got {entry!r}"
            )
        shards.append(ShardSpec(name, count))
    numbers = [int(s.name[6:]) for s in shards]
    if numbers != sorted(set(numbers)):
        raise StoreFormatError(
            f"{where}: field 'shards' must list distinct shards in numeric order, got "
            f"{[s.name for s in shards]}"
        )
    if rows != sum(s.rows for s in shards):
        raise StoreFormatError(
            f"{where}: field 'rows' is {rows}; the shards list {sum(s.rows for s in shards)}"
        )
    return ShardedManifest(
        rows, tuple(shards), shard_rows, str(doc.get("creator", "")), doc["version"]
    )


def parse_manifest(text: str | bytes, where: str) -> Manifest:
    """Parse and validate manifest text read from store ``where``.

    Raises
    ------
    StoreFormatError
        For malformed JSON, a foreign format, an unknown version, or a missing or
        ill-typed field — naming the store and the field.
    """
    doc = _document(text, where)
    if doc.get("kind") == "sharded":
        raise StoreFormatError(
            f"{where}: {MANIFEST_NAME} describes a sharded dataset, not a single store; "
            "open it with gr.open or gr.load"
        )
    return _parse_store(doc, where)


def parse_any_manifest(text: str | bytes, where: str) -> Manifest | ShardedManifest:
    """Parse a store's manifest or a sharded dataset's top-level manifest.

    Raises
    ------
    StoreFormatError
        As :func:`parse_manifest`, for either kind of manifest.
    """
    doc = _document(text, where)
    if doc.get("kind") == "sharded":
        return _parse_sharded(doc, where)
    return _parse_store(doc, where)


def _document(text: str | bytes, where: str) -> dict[str, Any]:
    """The JSON object of a manifest, with its format and version checked."""
    try:
        doc = json.loads(text)
    except (ValueError, UnicodeDecodeError) as err:
        raise StoreFormatError(f"{where}: {MANIFEST_NAME} is not valid JSON ({err})") from err
    if not isinstance(doc, dict):
        raise StoreFormatError(f"{where}: {MANIFEST_NAME} must hold a JSON object")
    if doc.get("format") != FORMAT:
        raise StoreFormatError(
            f"{where}: {MANIFEST_NAME} field 'format' is {doc.get('format')!r}; expected "
            f"{FORMAT!r} (not a grumpy_arrow store)"
        )
    version = doc.get("version")
    if version != VERSION:
        raise StoreFormatError(
            f"{where}: unknown store version {version!r} in {MANIFEST_NAME}; this "
            f"grumpy_arrow reads version {VERSION}"
        )
    return doc


def _parse_store(doc: dict[str, Any], where: str) -> Manifest:
    version = doc["version"]
    kind = _field(doc, "kind", str, where)
    if kind not in ("array", "dataframe"):
        raise StoreFormatError(
            f"{where}: field 'kind' must be 'array', 'dataframe' or 'sharded', got {kind!r}"
        )
    rows = _field(doc, "rows", int, where)
    leaves = {}
    for name, spec in _field(doc, "leaves", dict, where).items():
        if not isinstance(spec, dict):
            raise StoreFormatError(f"{where}: field 'leaves.{name}' must be an object")
        leaves[name] = LeafSpec(
            dtype=_field(spec, "dtype", str, where, f"leaves.{name}."),
            length=_field(spec, "length", int, where, f"leaves.{name}."),
            last=spec.get("last"),
        )
    columns = []
    for i, col in enumerate(_field(doc, "columns", list, where)):
        if not isinstance(col, dict):
            raise StoreFormatError(f"{where}: field 'columns[{i}]' must be an object")
        layout = _field(col, "layout", dict, where, f"columns[{i}].")
        _check_layout(layout, leaves, where, f"columns[{i}].layout")
        columns.append(
            ColumnSpec(_field(col, "name", str, where, f"columns[{i}]."), layout, col.get("level"))
        )
    levels = []
    raw_levels = doc.get("levels") or []
    if not isinstance(raw_levels, list):
        raise StoreFormatError(f"{where}: field 'levels' must be a list")
    schema = doc.get("schema")
    if schema is not None:
        from grumpy_arrow.errors import SchemaError
        from grumpy_arrow.frame.schema import parse_schema

        try:
            parse_schema(schema)
        except (SchemaError, TypeError) as err:
            raise StoreFormatError(f"{where}: field 'schema' is not a schema ({err})") from err
    for i, lv in enumerate(raw_levels):
        if not isinstance(lv, dict):
            raise StoreFormatError(f"{where}: field 'levels[{i}]' must be an object")
        offsets = _field(lv, "offsets", str, where, f"levels[{i}].")
        if offsets not in leaves:
            raise StoreFormatError(
                f"{where}: field 'levels[{i}].offsets' names unknown leaf {offsets!r}"
            )
        levels.append(
            LevelSpec(
                _field(lv, "name", str, where, f"levels[{i}]."),
                _field(lv, "depth", int, where, f"levels[{i}]."),
                offsets,
            )
        )
    chunking = doc.get("chunking") or {}
    return Manifest(
        kind=kind,
        rows=rows,
        columns=tuple(columns),
        leaves=leaves,
        schema=doc.get("schema"),
        levels=tuple(levels),
        chunk_size=int(chunking.get("chunk_size") or 0),
        chunk_dim=chunking.get("chunk_dim"),
        compressor=str(doc.get("compressor", "none")),
        creator=str(doc.get("creator", "")),
        version=version,
        attrs=dict(doc.get("attrs") or {}),
    )


def _field(doc: dict[str, Any], key: str, typ: type, where: str, prefix: str = "") -> Any:
    if key not in doc:
        raise StoreFormatError(f"{where}: {MANIFEST_NAME} is missing field '{prefix}{key}'")
    value = doc[key]
    if not isinstance(value, typ) or (typ is int and isinstance(value, bool)):
        raise StoreFormatError(
            f"{where}: {MANIFEST_NAME} field '{prefix}{key}' must be {typ.__name__}, got "
            f"{type(value).__name__}"
        )
    return value


_ROLES = ("values", "validity", "offsets", "data", "type_ids", "value_offsets")


def _check_layout(node: Any, leaves: dict[str, LeafSpec], where: str, path: str) -> None:
    if not isinstance(node, dict) or node.get("kind") not in _NODE_KINDS:
        raise StoreFormatError(f"{where}: field '{path}' is not a layout node")
    if node["kind"] == "leaf":
        from grumpy_arrow import dtypes as dt
        from grumpy_arrow.errors import DTypeError

        try:
            if not isinstance(node.get("dtype"), str):
                raise TypeError("missing")
            dt.dtype(node["dtype"])
        except (DTypeError, TypeError) as err:
            raise StoreFormatError(
                f"{where}: field '{path}.dtype' is {node.get('dtype')!r}, not a grumpy dtype"
            ) from err
    for role in _ROLES:
        ref = node.get(role)
        # A validity leaf exists only once its node has had a null.
        if ref is not None and ref not in leaves and role != "validity":
            raise StoreFormatError(
                f"{where}: field '{path}.{role}' names leaf {ref!r}, which the manifest does "
                "not list"
            )
    if node["kind"] == "list":
        _check_layout(node.get("content"), leaves, where, f"{path}.content")
    elif node["kind"] == "union":
        _check_layout(node.get("scalar"), leaves, where, f"{path}.scalar")
        _check_layout(node.get("list"), leaves, where, f"{path}.list")
