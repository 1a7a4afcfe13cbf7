"""``grumpy-arrow info``, ``head`` and ``validate``: look at a store without loading it;
``upgrade``: rewrite it in the current format."""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import TYPE_CHECKING, Any

import numpy as np

import grumpy_arrow as gr
from grumpy_arrow.cli.common import EXIT_ERROR
from grumpy_arrow.errors import StoreFormatError
from grumpy_arrow.frame.schema import parse_schema
from grumpy_arrow.storage.layouts import LeafLayout, ListLayout, RecordLayout
from grumpy_arrow.storage.manifest import MANIFEST_NAME, ShardedManifest
from grumpy_arrow.storage.shards import is_sharded, read_any
from grumpy_arrow.storage.stores import read_manifest
from grumpy_arrow.storage.upgrade import upgrade
from grumpy_arrow.storage.validate import store_info, validate
from grumpy_arrow.storage.zarr import LeafStore

if TYPE_CHECKING:
    from grumpy_arrow.storage.layouts import Layout

__all__ = [
    "head_command",
    "head_text",
    "info_command",
    "info_dict",
    "info_json",
    "info_text",
    "short_repr",
    "upgrade_command",
    "validate_command",
    "validate_lines",
]

# Items shown per list by ``head`` (a molecule has hundreds of atoms).
HEAD_ITEMS = 6


def info_dict(path: str) -> dict[str, Any]:
    """``gr.storage.store_info`` plus entity counts per level, and per column its type,
    leaves and bytes on disk."""
    info = store_info(path)
    store = LeafStore(path, None, read_only=True)
    found = read_any(store)
    parts: list[tuple[LeafStore, Any]] = []
    if isinstance(found, ShardedManifest):
        for spec in found.shards:
            child = LeafStore(f"{store.url.rstrip('/')}/{spec.name}", None, read_only=True)
            parts.append((child, read_manifest(child)))
    else:
        parts.append((store, found))
    info["levels"] = _level_counts(info["rows"], parts)
    first = parts[0][1]
    for spec in first.columns:
        leaves = [n for n in spec.layout.leaf_names() if n in first.leaves]
        column = info["columns"][spec.name]
        column["type"] = _type(spec.layout)
        column["leaves"] = len(leaves)
        own = [n for n in leaves if not n.startswith("_")]  # not the shared level offsets
        local = all(s.local for s, _ in parts)
        column["bytes_on_disk"] = sum(_disk(s, own) for s, _ in parts) if local else -1
    return info


def _level_counts(rows: int, parts: list[tuple[Any, Any]]) -> dict[str, int]:
    counts: dict[str, int] = {}
    if parts[0][1].schema:
        counts[parse_schema(parts[0][1].schema).names[0]] = rows  # type: ignore[union-attr]
    for _, manifest in parts:
        for level in manifest.levels:
            spec = manifest.leaves.get(level.offsets)
            if spec is None:
                continue
            n = spec.last if spec.last is not None else max(spec.length - 1, 0)
            counts[level.name] = counts.get(level.name, 0) + n
    return counts


def _type(layout: Layout) -> str:
    """The column's type in ``df.dtypes`` notation, without the row count."""
    if isinstance(layout, LeafLayout):
        return layout.dtype
    if isinstance(layout, ListLayout):
        return f"var * {_type(layout.content)}"
    if isinstance(layout, RecordLayout):
        return "{" + ", ".join(f"{n}: {_type(c)}" for n, c in layout.fields) + "}"
    return f"union[{_type(layout.scalar)}, {_type(layout.list)}]"


def _disk(store: Any, names: list[str]) -> int:
    """Allocated bytes of some leaves of a local store."""
    total = 0
    for name in names:
        for folder, _, files in os.walk(os.path.join(store.root, name)):
            total += sum(os.stat(os.path.join(folder, f)).st_blocks * 512 for f in files)
    return total


def info_text(path: str) -> str:
    """What ``grumpy-arrow info`` prints."""
    info = info_dict(path)
    lines = [f"{info['path']}: {info['kind']}, {info['rows']} rows"]
    if "shards" in info:
        how = "consolidated" if info["consolidated"] else "not consolidated: discovered"
        size = f" of up to {info['shard_rows']} rows" if info["shard_rows"] else ""
        lines.append(f"  shards: {len(info['shards'])}{size} ({how})")
    if info["schema"] is not None:
        lines.append(f"  schema: {parse_schema(info['schema'])}")
        counts = ", ".join(f"{name} {n}" for name, n in info["levels"].items())
        lines.append(f"  entities: {counts}")
    local = all(c["bytes_on_disk"] >= 0 for c in info["columns"].values())
    lines.append(
        f"  columns ({len(info['columns'])}): name, dtype, [level], layout, leaves"
        + (", MB on disk" if local else "")
    )
    cells = [
        [name, col["type"], f"[{col['level'] or '-'}]", col["layout"], str(col["leaves"])]
        + ([f"{col['bytes_on_disk'] / 1e6:.2f}"] if local else [])
        for name, col in info["columns"].items()
    ]
    widths = [max(len(row[k]) for row in cells) for k in range(len(cells[0]))] if cells else []
    for row in cells:
        text = "  ".join(
            c.ljust(w) if k < 4 else c.rjust(w)
            for k, (c, w) in enumerate(zip(row, widths, strict=True))
        )
        lines.append(f"    {text}")
    size = info["bytes_on_disk"]
    lines.append(
        f"  leaves: {info['leaves']}; on disk: {size / 1e6:.2f} MB"
        if size >= 0
        else f"  leaves: {info['leaves']}"
    )
    lines.append(
        f"  chunking: chunk_size={info['chunk_size']} chunk_dim={info['chunk_dim']} "
        f"(leaf chunks {info['leaf_chunks']}); compressor: {info['compressor']}"
    )
    lines.append(f"  written by {info['creator']}")
    return "\n".join(lines)


def info_json(path: str) -> str:
    """``info --json``: the same facts, machine-readable."""
    return json.dumps(info_dict(path), indent=2, default=str)


def short_repr(value: Any, *, float32: bool = False, depth: int = 0) -> str:
    """``repr`` with long lists cut to their first items (fewer in inner lists) and a count
    of the rest; ``float32`` values print at float32 precision."""
    if isinstance(value, list):
        items = HEAD_ITEMS if depth == 0 else HEAD_ITEMS // 2
        shown = [short_repr(v, float32=float32, depth=depth + 1) for v in value[:items]]
        if len(value) > items:
            shown.append(f"... +{len(value) - items}")
        return "[" + ", ".join(shown) + "]"
    if float32 and isinstance(value, float):
        return str(np.float32(value))
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def head_text(path: str, n: int, columns: list[str] | None) -> str:
    """What ``grumpy-arrow head`` prints: one line per row, long lists shortened."""
    handle = gr.open(path, cache="none")
    if columns:
        if handle.kind == "array":
            raise StoreFormatError(
                f"{path}: --columns applies to frames; this store holds an array"
            )
        handle = handle[columns]
    rows = handle[: min(n, len(handle))]
    if isinstance(rows, gr.GrumpyArray):
        f32 = rows.dtype == gr.float32
        return "\n".join(
            f"{i}: {short_repr(row, float32=f32)}" for i, row in enumerate(rows.to_list())
        )
    table = rows.to_dict()
    f32s = {name: rows[name].dtype == gr.float32 for name in table}
    lines = []
    for i in range(len(rows)):
        cells = ", ".join(f"{k}={short_repr(v[i], float32=f32s[k])}" for k, v in table.items())
        lines.append(f"{i}: {cells}")
    return "\n".join(lines)


def validate_lines(path: str) -> list[str]:
    """The problems ``gr.validate`` finds (empty when the store is sound).

    Raises
    ------
    FileNotFoundError, StoreFormatError
        When there is no store at ``path`` at all (an error, not a corrupt store).
    """
    store = LeafStore(path, None, read_only=True)
    if store.local and not os.path.exists(store.root):
        raise FileNotFoundError(f"{path}: no such file or directory")
    if not store.exists(MANIFEST_NAME) and not is_sharded(store):
        raise StoreFormatError(
            f"{path}: not a grumpy_arrow store (no {MANIFEST_NAME}); expected a directory "
            "written by gr.save"
        )
    return validate(path)


# -- the commands -----------------------------------------------------------------------------


def info_command(args: argparse.Namespace) -> int:
    """``grumpy-arrow info PATH [--json]``."""
    print(info_json(args.path) if args.json else info_text(args.path))
    return 0


def head_command(args: argparse.Namespace) -> int:
    """``grumpy-arrow head PATH [-n N] [--columns COL ...]`` (names may be comma-separated)."""
    columns = [c for part in args.columns or () for c in part.split(",") if c]
    text = head_text(args.path, args.n, columns or None)
    if text:
        print(text)
    return 0


def validate_command(args: argparse.Namespace) -> int:
    """``grumpy-arrow validate PATH``: ``ok``, or each problem on stderr and exit status 1."""
    path = args.path
    problems = validate_lines(path)
    if not problems:
        print(f"{path}: ok")
        return 0
    for problem in problems:
        print(f"grumpy-arrow: corrupt: {' '.join(problem.split())}", file=sys.stderr)
    count = f"{len(problems)} problem{'s' if len(problems) > 1 else ''}"
    print(f"grumpy-arrow: error: {path}: {count} found", file=sys.stderr)
    return EXIT_ERROR


def upgrade_command(args: argparse.Namespace) -> int:
    """``grumpy-arrow upgrade PATH [--compressor NAME]``."""
    print(upgrade(args.path, compressor=args.compressor))
    return 0
