"""Layout nodes <-> named 1-D buffers (one per Arrow buffer), named by a column's layout
tree (:mod:`.layouts`).

Leaf names are deterministic: ``<column>/<path>-<role>`` where ``path`` is ``r`` for the
column's root node, ``.c`` steps into a list's content, ``.s`` / ``.l`` into a union's
scalar / list child and ``.f<i>`` into field ``i`` of a record; roles are ``values``,
``validity``, ``offsets``, ``data`` (string bytes), ``type_ids`` and
``value_offsets``. List axes of a frame level use the level's shared offsets leaf
``_levels/<level>-offsets`` instead of their own.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from urllib.parse import quote

import numpy as np
import pyarrow as pa

from grumpy_arrow import dtypes as dt
from grumpy_arrow import layout as lay
from grumpy_arrow.compute.gather import offsets_from_lengths, take_rows
from grumpy_arrow.errors import StoreFormatError
from grumpy_arrow.storage import checks as ck
from grumpy_arrow.storage import dictionary
from grumpy_arrow.storage.layouts import (
    Layout,
    LeafLayout,
    ListLayout,
    RecordLayout,
    UnionLayout,
)

__all__ = [
    "Reader",
    "arrow_type",
    "assemble",
    "column_buffers",
    "compact_fixed",
    "fixed_rows",
    "leaf_name",
    "level_leaf",
]

Reader = Callable[[str], np.ndarray]


def leaf_name(column: str, path: str, role: str) -> str:
    """The deterministic leaf name of a buffer (column names are URL-quoted)."""
    return f"{quote_name(column)}/{path}-{role}"


_TAKEN = frozenset({".", "..", "zarr.json", "grumpy.json", "grumpy.lock", "_levels"})


def quote_name(name: str) -> str:
    """A column or level name as one folder name: URL-quoted, and a name the folder cannot
    hold as it is (``.``, ``..``, the store's own files, ``_levels``) with its first
    character quoted too (``%2E.``, ``%7Aarr.json``)."""
    quoted = quote(name, safe="")
    return f"%{ord(quoted[0]):02X}{quoted[1:]}" if quoted in _TAKEN else quoted


def level_leaf(level: str) -> str:
    """The leaf holding a frame level's shared offsets."""
    return f"_levels/{quote_name(level)}-offsets"


def column_buffers(
    node: lay.Node, column: str, level_names: Mapping[int, str] | None = None
) -> tuple[Layout, dict[str, np.ndarray]]:
    """The layout tree of a column and its buffers for this batch.

    Offsets buffers start at 0 and have ``rows + 1`` entries; validity buffers appear only
    where the batch has nulls. ``level_names`` maps a list depth to the frame level whose
    shared offsets that depth uses.
    """
    buffers: dict[str, np.ndarray] = {}
    layout = _walk(node, column, "r", 0, level_names or {}, buffers, True)
    return layout, buffers


def _walk(
    node: lay.Node,
    column: str,
    path: str,
    depth: int,
    levels: Mapping[int, str],
    out: dict[str, np.ndarray],
    level_axis: bool,
) -> Layout:
    validity_name = leaf_name(column, path, "validity")
    if isinstance(node, lay.Leaf):
        return _leaf(node.values, column, path, validity_name, out)
    if isinstance(node, lay.RecordNode):
        if node.validity is not None and not node.validity.all():
            out[validity_name] = node.validity
        fields = tuple(
            (name, _walk(child, column, f"{path}.f{i}", depth, levels, out, False))
            for i, (name, child) in enumerate(zip(node.names, node.fields, strict=True))
        )
        return RecordLayout(validity=validity_name, fields=fields)
    if isinstance(node, lay.ListNode):
        level = levels.get(depth + 1) if level_axis else None
        fixed = bool(node.size) and not level  # a fixed axis: no offsets leaf, no level
        offsets_name = None
        if not fixed:
            offsets_name = level_leaf(level) if level else leaf_name(column, path, "offsets")
            out[offsets_name] = np.asarray(node.offsets, dtype=np.int64)
        if node.validity is not None and not node.validity.all():
            out[validity_name] = node.validity
        inner, on_level = (_slotted(node), False) if fixed else (node.content, level is not None)
        content = _walk(inner, column, path + ".c", depth + 1, levels, out, on_level)
        return ListLayout(
            offsets=offsets_name,
            validity=validity_name,
            level=None if fixed else level,
            content=content,
            size=node.size,
        )
    type_ids_name = leaf_name(column, path, "type_ids")
    value_offsets_name = leaf_name(column, path, "value_offsets")
    is_list = node.type_ids.astype(bool)
    out[type_ids_name] = node.type_ids.astype(np.int8)
    out[value_offsets_name] = np.where(is_list, np.cumsum(is_list) - 1, np.cumsum(~is_list) - 1)
    scalar = _walk(node.scalars, column, path + ".s", depth, levels, out, False)
    lists = _walk(node.lists, column, path + ".l", depth, levels, out, False)
    assert isinstance(scalar, LeafLayout) and isinstance(lists, ListLayout)
    return UnionLayout(
        type_ids=type_ids_name, value_offsets=value_offsets_name, scalar=scalar, list=lists
    )


def _slotted(node: lay.ListNode) -> lay.Node:
    """The content of a fixed axis as stored: every row owns ``size`` content rows, so
    null rows get padding slots (null values) to keep row ``i`` at
    ``[i * size, (i + 1) * size)``."""
    if node.validity is not None and not node.validity.all():
        return lay.from_arrow(lay.to_arrow(node).values)  # Arrow's: with the slots
    return node.content


def _leaf(
    values: pa.Array, column: str, path: str, validity_name: str, out: dict[str, np.ndarray]
) -> LeafLayout:
    d = dt.from_arrow_type(values.type)
    if values.null_count:
        out[validity_name] = np.asarray(values.is_valid().to_numpy(zero_copy_only=False))
    if d.kind in "US":
        typ = pa.large_string() if d.kind == "U" else pa.large_binary()
        arr = values.cast(typ) if values.type != typ else values
        bufs = arr.buffers()
        raw_offsets = np.frombuffer(bufs[1], dtype=np.int64)[arr.offset : arr.offset + len(arr) + 1]
        start, stop = int(raw_offsets[0]), int(raw_offsets[-1])
        data = (
            np.frombuffer(bufs[2], dtype=np.uint8)[start:stop]
            if bufs[2]
            else np.zeros(0, dtype=np.uint8)
        )
        offsets_name, data_name = (
            leaf_name(column, path, "offsets"),
            leaf_name(column, path, "data"),
        )
        out[offsets_name] = raw_offsets - start
        out[data_name] = data
        return LeafLayout(
            dtype=d.name,
            arrow=str(values.type),
            offsets=offsets_name,
            data=data_name,
            validity=validity_name,
        )
    name = leaf_name(column, path, "values")
    filled = (
        values.fill_null(pa.scalar(False if d.kind == "b" else 0, values.type))
        if (values.null_count)
        else values
    )
    out[name] = np.asarray(filled.to_numpy(zero_copy_only=False))
    return LeafLayout(dtype=d.name, values=name, validity=validity_name)


def arrow_type(layout: Layout) -> pa.DataType:
    """The Arrow type a layout tree describes."""
    return layout.arrow_type()


def assemble(
    layout: Layout,
    read: Reader,
    present: Callable[[str], bool],
    where: str = "store",
    verified: frozenset[str] = frozenset(),
) -> lay.Node:
    """Rebuild a node from whole leaves (``read(name)`` gives a leaf's committed values).

    Every buffer is checked before Arrow sees it (:mod:`grumpy_arrow.storage.checks`):
    offsets start at 0, never decrease and end at their content's length, union type ids
    are 0 or 1 with value offsets that match them, validity covers the node's rows, and
    text is valid UTF-8 unless its data leaf is in ``verified`` (read whole with every
    chunk's checksum verified: it holds the bytes that were written, checked then).

    Raises
    ------
    StoreFormatError
        When a leaf breaks one of these rules or lengths disagree, naming ``where`` (the
        store), the leaf and the first bad position.
    """
    name = layout.validity
    validity = read(name).astype(bool) if name and present(name) else None
    node: lay.Node
    if isinstance(layout, LeafLayout):
        node = _assemble_leaf(layout, read, validity, where, verified)
    elif isinstance(layout, RecordLayout):
        node = _assemble_record(layout, read, present, where, verified)
    elif isinstance(layout, ListLayout) and layout.offsets is None:
        content = assemble(layout.content, read, present, where, verified)
        node = fixed_rows(layout, content, validity, where)
        if validity is not None:
            ck.check_length(validity, len(node), where, str(name))
            node = compact_fixed(node)
        return node
    elif isinstance(layout, ListLayout):
        assert layout.offsets is not None
        offsets = np.asarray(read(layout.offsets), dtype=np.int64)
        content = assemble(layout.content, read, present, where, verified)
        ck.check_offsets(offsets, len(content), where, layout.offsets)
        if layout.size is not None:
            ck.check_fixed(offsets, validity, layout.size, where, layout.offsets)
        node = lay.ListNode(offsets, validity, content, layout.size)
    else:
        type_ids = np.asarray(read(layout.type_ids), dtype=np.int8)
        ck.check_type_ids(type_ids, where, layout.type_ids)
        positions = read(layout.value_offsets)
        ck.check_length(positions, len(type_ids), where, layout.value_offsets)
        ck.check_positions(type_ids, positions, where, layout.value_offsets, whole=True)
        scalar = assemble(layout.scalar, read, present, where, verified)
        lists = assemble(layout.list, read, present, where, verified)
        scalars = int(np.count_nonzero(type_ids == 0))
        if len(scalar) != scalars or len(lists) != len(type_ids) - scalars:
            raise StoreFormatError(
                f"{where}: leaf {layout.type_ids!r} has {scalars} scalar and "
                f"{len(type_ids) - scalars} list rows; the children hold {len(scalar)} and "
                f"{len(lists)}"
            )
        assert isinstance(scalar, lay.Leaf) and isinstance(lists, lay.ListNode)
        node = lay.UnionNode(type_ids, scalar, lists)
    if validity is not None:
        ck.check_length(validity, len(node), where, str(name))
        if isinstance(node, lay.RecordNode):
            node = node.with_fields(node.fields, validity, len(node))
    return node


def _assemble_record(
    layout: RecordLayout,
    read: Reader,
    present: Callable[[str], bool],
    where: str,
    verified: frozenset[str],
) -> lay.RecordNode:
    """A record from its fields, each holding the record's rows (checked)."""
    fields = tuple(assemble(node, read, present, where, verified) for _, node in layout.fields)
    rows = len(fields[0])
    for (name, _), field in zip(layout.fields, fields, strict=True):
        if len(field) != rows:
            raise StoreFormatError(
                f"{where}: the record whose validity leaf is {layout.validity!r} has "
                f"{rows} rows in field {layout.fields[0][0]!r} and {len(field)} in field "
                f"{name!r}; every field holds the record's rows"
            )
    return lay.RecordNode(layout.names, fields, None, rows)


def fixed_rows(
    layout: ListLayout, content: lay.Node, validity: np.ndarray | None, where: str
) -> lay.ListNode:
    """The rows of a fixed axis stored without offsets over its padded ``content``
    (``size`` content rows each; null rows' slots still in place: see
    :func:`compact_fixed`).

    Raises
    ------
    StoreFormatError
        When the content does not hold a whole number of rows.
    """
    size = layout.size
    assert size
    if len(content) % size:
        raise StoreFormatError(
            f"{where}: a fixed axis of size {size} ('{layout.validity}' names its validity) "
            f"has {len(content)} content values, not a multiple of {size}"
        )
    return lay.fixed_list(content, size, validity)


def compact_fixed(node: lay.ListNode) -> lay.ListNode:
    """A fixed axis read with its null rows' padding slots, as grumpy holds it: null rows
    own no content (one gather of the valid rows' slots; nothing when none is null)."""
    size = node.size
    assert size is not None
    if node.validity is None or node.validity.all():
        return lay.ListNode(node.offsets, None, node.content, size)
    keep = np.flatnonzero(np.repeat(node.validity, size))
    offsets = offsets_from_lengths(np.where(node.validity, size, 0))
    return lay.ListNode(offsets, node.validity, take_rows(node.content, keep), size)


def _assemble_leaf(
    layout: LeafLayout,
    read: Reader,
    validity: np.ndarray | None,
    where: str,
    verified: frozenset[str],
) -> lay.Leaf:
    d = dt.dtype(layout.dtype)
    mask = None if validity is None else ~validity
    if layout.values is None:
        offsets_name, data_name = layout.text_leaves()
        offsets = np.asarray(read(offsets_name), dtype=np.int64)
        data = read(data_name)
        ck.check_offsets(offsets, len(data), where, offsets_name)
        if validity is not None and not layout.indices:
            ck.check_length(validity, len(offsets) - 1, where, layout.validity)
        typ = pa.large_string() if d.kind == "U" else pa.large_binary()
        indices = read(layout.indices) if layout.indices else None
        buffers = [
            None if mask is None or indices is not None else bitmap(validity),
            pa.py_buffer(np.ascontiguousarray(offsets, dtype=np.int64)),
            pa.py_buffer(np.ascontiguousarray(data)),
        ]
        arr = pa.Array.from_buffers(typ, len(offsets) - 1, buffers)
        if d.kind == "U" and data_name not in verified:
            _check_utf8(arr, where, data_name)
        if layout.arrow in ("string", "binary"):  # the width it was saved with (a
            # dictionary is cast before it is decoded: a few entries, not every value)
            arr = arr.cast(pa.string() if layout.arrow == "string" else pa.binary())
        if indices is not None:
            assert layout.indices is not None
            if validity is not None:
                ck.check_length(validity, len(indices), where, layout.validity)
            arr = dictionary.decode(indices, arr, validity, where, layout.indices)
        return lay.Leaf(arr)
    values = read(layout.values)
    if validity is not None:
        ck.check_length(validity, len(values), where, layout.validity)
    return lay.Leaf(pa.array(values, type=d.arrow, mask=mask))


def _check_utf8(arr: pa.Array, where: str, leaf: str) -> None:
    """Text leaves hold valid UTF-8 (a flipped bit in an unchecksummed store may not)."""
    try:
        arr.validate(full=True)
    except pa.ArrowInvalid as err:
        raise StoreFormatError(f"{where}: leaf {leaf!r} holds invalid text ({err})") from err


def bitmap(valid: np.ndarray | None) -> pa.Buffer | None:
    """An Arrow validity bitmap from booleans (None when there is nothing to mask)."""
    return None if valid is None else pa.py_buffer(np.packbits(valid, bitorder="little"))
