"""The typed layout trees of ``grumpy.json`` (``grumpy_arrow.storage.layouts``, issue 13).

Every layout of the golden stores and of freshly saved ones parses and gives back its JSON
key for key; hostile trees fail with the exact message; the tree walks, the append rules
(``rebase``) and their inverse (``cut``, behind ``manifest_at``) give exact values.
"""

from __future__ import annotations

import copy
import hashlib
import json
import re
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pytest

import grumpy_arrow as gr
from grumpy_arrow.errors import StoreFormatError
from grumpy_arrow.storage import layouts as ly
from grumpy_arrow.storage.handle import Handle
from grumpy_arrow.storage.layouts import LeafLayout, ListLayout, UnionLayout, from_dict
from grumpy_arrow.storage.manifest import parse_manifest
from grumpy_arrow.storage.stores import manifest_at, read_manifest
from grumpy_arrow.storage.zarr import LeafStore
from grumpy_arrow.testing import assert_values_equal

GOLDEN = Path(__file__).parent / "data" / "golden_v1"
GOLDEN_MANIFESTS = sorted(
    p for p in GOLDEN.rglob("grumpy.json") if json.loads(p.read_text())["kind"] != "sharded"
)


def _frame() -> gr.DataFrame:
    """Every kind of node: fixed and nullable leaves, strings, bytes, dictionary strings,
    lists of a level, a union inside a list."""
    return gr.dataframe(
        {
            "molecule_id": gr.array([1, 2], dtype=gr.int32),
            "molecule_name": ["water", None],
            "atom_el": [["O", "H", "H"], ["C", None]],
            "atom_x": [[0.5, None, 1.0], [2.0, 3.0]],
            "atom_tag": [[1, [2, 3], None], [[], 4]],
            "atom_raw": [[b"a", b"", b"bc"], [b"d", None]],
        },
        schema=["molecule", "atom"],
    )


FRESH: dict[str, Any] = {
    "leaf": lambda: gr.array([1, 2, 3]),
    "nullable": lambda: gr.array([1.5, None]),
    "bools": lambda: gr.array([True, None, False]),
    "strings": lambda: gr.array(["a", None, "bc"]),
    "dictionary_strings": lambda: gr.array(["H", "O"] * 200),
    "bytes": lambda: gr.array([b"a", b"bc"]),
    "nested_lists": lambda: gr.array([[[1, 2], []], [[3]], None]),
    "union": lambda: gr.array(["P1", ["a", "bc"], None], dtype=gr.string),
    "frame_levels": _frame,
}

# The columns of ``_frame()`` saved (dictionary=["atom_el"]) and appended once, as
# grumpy_arrow wrote them before layouts were typed (commit e78eeab), one per line.
FRAME_COLUMNS = """\
{"name": "molecule_id", "level": "molecule", "layout": {"kind": "leaf", "dtype": "int32", "values": "molecule_id/r-values", "validity": "molecule_id/r-validity"}}
{"name": "molecule_name", "level": "molecule", "layout": {"kind": "leaf", "dtype": "string", "arrow": "string", "offsets": "molecule_name/r-offsets", "data": "molecule_name/r-data", "validity": "molecule_name/r-validity"}}
{"name": "atom_el", "level": "atom", "layout": {"kind": "list", "offsets": "_levels/atom-offsets", "validity": "atom_el/r-validity", "level": "atom", "content": {"kind": "leaf", "dtype": "string", "arrow": "string", "offsets": "atom_el/r.c-offsets", "data": "atom_el/r.c-data", "validity": "atom_el/r.c-validity", "indices": "atom_el/r.c-indices"}}}
{"name": "atom_x", "level": "atom", "layout": {"kind": "list", "offsets": "_levels/atom-offsets", "validity": "atom_x/r-validity", "level": "atom", "content": {"kind": "leaf", "dtype": "float64", "values": "atom_x/r.c-values", "validity": "atom_x/r.c-validity"}}}
{"name": "atom_tag", "level": "atom", "layout": {"kind": "list", "offsets": "_levels/atom-offsets", "validity": "atom_tag/r-validity", "level": "atom", "content": {"kind": "union", "type_ids": "atom_tag/r.c-type_ids", "value_offsets": "atom_tag/r.c-value_offsets", "scalar": {"kind": "leaf", "dtype": "int64", "values": "atom_tag/r.c.s-values", "validity": "atom_tag/r.c.s-validity"}, "list": {"kind": "list", "offsets": "atom_tag/r.c.l-offsets", "validity": "atom_tag/r.c.l-validity", "level": null, "content": {"kind": "leaf", "dtype": "int64", "values": "atom_tag/r.c.l.c-values", "validity": "atom_tag/r.c.l.c-validity"}}}}}
{"name": "atom_raw", "level": "atom", "layout": {"kind": "list", "offsets": "_levels/atom-offsets", "validity": "atom_raw/r-validity", "level": "atom", "content": {"kind": "leaf", "dtype": "binary", "arrow": "binary", "offsets": "atom_raw/r.c-offsets", "data": "atom_raw/r.c-data", "validity": "atom_raw/r.c-validity"}}}
"""
# The SHA-256 of that whole grumpy.json (its "creator" set to "X"), from the same commit.
FRAME_MANIFEST_SHA256 = "de978395e9bf25f85ba7a8550d286ebbb80bccba42960c5d8744c6d3dd21f471"


def _tag_layout() -> ListLayout:
    layout = from_dict(json.loads(FRAME_COLUMNS.splitlines()[4])["layout"])
    assert isinstance(layout, ListLayout)
    return layout


# -- round trips ----------------------------------------------------------------------------


def _assert_round_trips(text: str, where: str) -> None:
    doc = json.loads(text)
    for i, column in enumerate(doc["columns"]):
        layout = from_dict(column["layout"], where=where, field=f"columns[{i}].layout")
        # Equal as JSON text: the same keys in the same order.
        assert json.dumps(layout.to_dict()) == json.dumps(column["layout"])
        assert from_dict(layout.to_dict()) == layout
    assert parse_manifest(text, where).to_json() == text


@pytest.mark.parametrize("path", GOLDEN_MANIFESTS, ids=lambda p: str(p.relative_to(GOLDEN)))
def test_golden_layouts_round_trip_key_for_key(path: Path) -> None:
    _assert_round_trips(path.read_text(), str(path))


@pytest.mark.parametrize("name", list(FRESH))
def test_saved_layouts_round_trip_key_for_key(name: str, tmp_path: Path) -> None:
    obj = FRESH[name]()
    gr.save(obj, tmp_path / "s.gr")
    gr.append(obj, tmp_path / "s.gr")
    _assert_round_trips((tmp_path / "s.gr" / "grumpy.json").read_text(), "s.gr")


def test_a_saved_manifest_is_the_one_written_before_layouts_were_typed(tmp_path: Path) -> None:
    gr.save(_frame(), tmp_path / "f.gr", dictionary=["atom_el"])
    gr.append(_frame(), tmp_path / "f.gr")
    text = (tmp_path / "f.gr" / "grumpy.json").read_text()
    doc = json.loads(text)
    assert "".join(json.dumps(c) + "\n" for c in doc["columns"]) == FRAME_COLUMNS
    normalised = re.sub(r'"creator": "[^"]*"', '"creator": "X"', text)
    assert hashlib.sha256(normalised.encode()).hexdigest() == FRAME_MANIFEST_SHA256


def test_the_manifest_holds_typed_layouts(tmp_path: Path) -> None:
    gr.save(_frame(), tmp_path / "f.gr", dictionary=["atom_el"])
    manifest = read_manifest(LeafStore(tmp_path / "f.gr", read_only=True))
    assert [type(c.layout).__name__ for c in manifest.columns] == [
        "LeafLayout",
        "LeafLayout",
        "ListLayout",
        "ListLayout",
        "ListLayout",
        "ListLayout",
    ]
    assert manifest.column("atom_tag").layout == _tag_layout()


# -- hostile trees --------------------------------------------------------------------------


def _leaf(**extra: Any) -> dict[str, Any]:
    return {
        "kind": "leaf",
        "dtype": "int64",
        "values": "a/r-values",
        "validity": "a/r-validity",
        **extra,
    }


def _text(**extra: Any) -> dict[str, Any]:
    return {
        "kind": "leaf",
        "dtype": "string",
        "arrow": "string",
        "offsets": "a/r-offsets",
        "data": "a/r-data",
        "validity": "a/r-validity",
        **extra,
    }


def _list(content: Any, **extra: Any) -> dict[str, Any]:
    return {
        "kind": "list",
        "offsets": "a/r-offsets",
        "validity": "a/r-validity",
        "level": None,
        "content": content,
        **extra,
    }


def _union(scalar: Any, lists: Any) -> dict[str, Any]:
    return {
        "kind": "union",
        "type_ids": "a/r-type_ids",
        "value_offsets": "a/r-value_offsets",
        "scalar": scalar,
        "list": lists,
    }


def _chain(n: int) -> dict[str, Any]:
    node: dict[str, Any] = _leaf()
    for _ in range(n - 1):
        node = _list(node)
    return node


def _without(d: dict[str, Any], key: str) -> dict[str, Any]:
    return {k: v for k, v in d.items() if k != key}


F = "s.gr: grumpy.json field 'columns[0].layout"
HOSTILE = {
    "a_list": ([], f"{F}' must be a layout node (an object), got a list of 0 items"),
    "no_kind": ({}, "s.gr: grumpy.json is missing field 'columns[0].layout.kind'"),
    "unknown_kind": (
        {"kind": "struct"},
        f"{F}.kind' must be 'leaf', 'list', 'union' or 'record' (a layout node), got 'struct'",
    ),
    "no_dtype": (
        _without(_leaf(), "dtype"),
        "s.gr: grumpy.json is missing field 'columns[0].layout.dtype'",
    ),
    "unknown_dtype": (
        _leaf(dtype="int128"),
        f"{F}.dtype' must be a grumpy dtype (int8, int16, int32, int64, uint8, uint16, uint32, "
        "uint64, float16, float32, float64, bool_, string, binary), got 'int128'",
    ),
    "no_values": (
        _without(_leaf(), "values"),
        "s.gr: grumpy.json is missing field 'columns[0].layout.values'",
    ),
    "fixed_width_arrow": (
        _leaf(arrow="string"),
        f"{F}' has an unknown key 'arrow'; expected 'kind', 'dtype', 'values', 'validity'",
    ),
    "unknown_key": (
        _text(extra=1),
        f"{F}' has an unknown key 'extra'; expected 'kind', 'dtype', 'offsets', 'data', "
        "'validity', 'arrow', 'indices'",
    ),
    "arrow_width": (
        _text(arrow="int8"),
        f"{F}.arrow' must be 'string' or 'large_string', got 'int8'",
    ),
    "name_not_a_string": (_leaf(values=7), f"{F}.values' must be a string, got 7"),
    "name_escapes": (
        _leaf(values="../x-values"),
        f"{F}.values' names leaf '../x-values', which is not a leaf name inside the store: "
        "it has an empty, '.' or '..' component",
    ),
    "name_of_another_role": (
        _leaf(values="a/r-offsets"),
        f"{F}.values' names leaf 'a/r-offsets', which is not a leaf name inside the store: "
        "the values leaf of a node is named '...-values'",
    ),
    "indices_name": (
        _text(indices="a/r-data"),
        f"{F}.indices' names leaf 'a/r-data', which is not a leaf name inside the store: "
        "the indices leaf of a node is named '...-indices'",
    ),
    "level_not_a_string": (_list(_leaf(), level=3), f"{F}.level' must be a string, got 3"),
    "list_content": (_list(None), f"{F}.content' must be a layout node (an object), got null"),
    "union_scalar_kind": (
        _union(_list(_leaf()), _list(_leaf())),
        f"{F}.scalar' must be a leaf node, got an object of 5 keys",
    ),
    "union_list_kind": (
        _union(_leaf(), _leaf()),
        f"{F}.list' must be a list node, got an object of 4 keys",
    ),
    "too_deep": (
        _chain(65),
        f"{F}{'.content' * 64}' nests layout nodes deeper than 64, the most a layout tree may have",
    ),
}


@pytest.mark.parametrize("case", list(HOSTILE))
def test_hostile_trees_are_refused_naming_the_field(case: str) -> None:
    d, message = HOSTILE[case]
    with pytest.raises(StoreFormatError) as err:
        from_dict(copy.deepcopy(d), where="s.gr", field="columns[0].layout")
    assert str(err.value) == message


def test_a_class_parses_only_its_own_kind() -> None:
    assert ListLayout.from_dict(_chain(2)) == ListLayout(
        offsets="a/r-offsets",
        validity="a/r-validity",
        level=None,
        content=LeafLayout(dtype="int64", values="a/r-values", validity="a/r-validity"),
    )
    with pytest.raises(StoreFormatError) as err:
        LeafLayout.from_dict(_chain(2), where="s.gr", field="columns[0].layout")
    assert str(err.value) == f"{F}' must be a leaf node, got an object of 5 keys"


def test_the_deepest_tree_allowed_parses() -> None:
    layout = from_dict(_chain(64))
    assert layout.signature() == "list<" * 63 + "int64" + ">" * 63


# -- walking a tree -------------------------------------------------------------------------


def test_iter_buffers_names_every_leaf_with_role_node_and_depth() -> None:
    layout = _tag_layout()
    union = layout.content
    assert isinstance(union, UnionLayout)
    got = [(name, role, node, depth) for name, role, node, depth in layout.iter_buffers()]
    assert got == [
        ("_levels/atom-offsets", "offsets", layout, 0),
        ("atom_tag/r-validity", "validity", layout, 0),
        ("atom_tag/r.c-type_ids", "type_ids", union, 1),
        ("atom_tag/r.c-value_offsets", "value_offsets", union, 1),
        ("atom_tag/r.c.s-values", "values", union.scalar, 1),
        ("atom_tag/r.c.s-validity", "validity", union.scalar, 1),
        ("atom_tag/r.c.l-offsets", "offsets", union.list, 1),
        ("atom_tag/r.c.l-validity", "validity", union.list, 1),
        ("atom_tag/r.c.l.c-values", "values", union.list.content, 2),
        ("atom_tag/r.c.l.c-validity", "validity", union.list.content, 2),
    ]
    assert layout.leaf_names() == [name for name, _, _, _ in got]


def test_text_leaves_list_offsets_data_validity_then_indices() -> None:
    leaf = from_dict(json.loads(FRAME_COLUMNS.splitlines()[2])["layout"]).find(
        "atom_el/r.c-indices"
    )
    assert isinstance(leaf, LeafLayout) and leaf.is_text
    assert leaf.buffers() == (
        ("offsets", "atom_el/r.c-offsets"),
        ("data", "atom_el/r.c-data"),
        ("validity", "atom_el/r.c-validity"),
        ("indices", "atom_el/r.c-indices"),
    )


def test_find_gives_the_node_naming_a_leaf() -> None:
    layout = _tag_layout()
    union = layout.content
    assert isinstance(union, UnionLayout)
    assert layout.find("atom_tag/r.c-value_offsets") is union
    assert layout.find("atom_tag/r.c.l.c-validity") is union.list.content
    assert layout.find("_levels/atom-offsets") is layout
    assert layout.find("atom_x/r.c-values") is None


def test_nodes_and_their_field_paths() -> None:
    layout = _tag_layout()
    assert [(type(n).__name__, d) for n, d in layout.nodes()] == [
        ("ListLayout", 0),
        ("UnionLayout", 1),
        ("LeafLayout", 1),
        ("ListLayout", 1),
        ("LeafLayout", 2),
    ]
    assert [path for path, _ in layout.named_nodes("columns[4].layout")] == [
        "columns[4].layout",
        "columns[4].layout.content",
        "columns[4].layout.content.scalar",
        "columns[4].layout.content.list",
        "columns[4].layout.content.list.content",
    ]


def test_signatures_drop_leaf_names_and_keep_levels() -> None:
    lines = FRAME_COLUMNS.splitlines()
    got = [from_dict(json.loads(line)["layout"]).signature() for line in lines]
    assert got == [
        "int32",
        "string",
        "list@atom<string>",
        "list@atom<float64>",
        "list@atom<union<int64, list<int64>>>",
        "list@atom<binary>",
    ]


def test_rows_come_from_committed_lengths() -> None:
    layout = _tag_layout()
    union = layout.content
    assert isinstance(union, UnionLayout)
    lengths = {
        "_levels/atom-offsets": 4,
        "atom_tag/r.c-type_ids": 3,
        "atom_tag/r.c.s-values": 2,
        "atom_tag/r.c.l-offsets": 2,
    }
    assert (layout.rows(lengths), union.rows(lengths)) == (3, 3)
    assert (union.scalar.rows(lengths), union.list.rows(lengths)) == (2, 1)
    assert union.list.content.rows(lengths) == 0  # no leaf yet
    assert union.validity is None


def test_arrow_types_and_attributes() -> None:
    layout = _tag_layout()
    assert layout.arrow_type() == pa.large_list(
        pa.dense_union(
            [pa.field("scalar", pa.int64()), pa.field("list", pa.large_list(pa.int64()))],
            type_codes=[0, 1],
        )
    )
    assert isinstance(layout, ListLayout) and isinstance(layout.content, UnionLayout)
    assert layout.offsets == "_levels/atom-offsets"
    assert layout.content.scalar.values == "atom_tag/r.c.s-values"
    assert (layout.kind, layout.level) == ("list", "atom")
    assert layout.content.scalar.indices is None


def test_map_leaves_replaces_every_leaf_node() -> None:
    def widen(leaf: LeafLayout) -> LeafLayout:
        return LeafLayout(dtype="float64", values=leaf.values, validity=leaf.validity)

    layout = _tag_layout().map_leaves(widen)
    assert layout.signature() == "list@atom<union<float64, list<float64>>>"
    assert layout.leaf_names() == _tag_layout().leaf_names()


# -- append rules and their inverse ---------------------------------------------------------


def test_rebase_continues_offsets_and_union_positions() -> None:
    union = _tag_layout().content
    assert isinstance(union, UnionLayout)
    lengths = {"atom_tag/r.c.s-values": 5, "atom_tag/r.c.l-offsets": 3}
    batch = {"atom_tag/r.c-type_ids": np.array([0, 1, 1, 0], dtype=np.int8)}

    def rebase(role: str, data: list[int], length: int, last: int) -> list[int]:
        out = ly.rebase(
            union, role, np.array(data), length=length, last=last, lengths=lengths, batch=batch
        )
        return out.tolist()

    assert rebase("offsets", [0, 2, 5], 0, 0) == [0, 2, 5]  # the first write keeps its 0
    assert rebase("offsets", [0, 2, 5], 4, 7) == [9, 12]
    assert rebase("value_offsets", [0, 0, 1, 1], 9, 0) == [5, 2, 3, 6]
    assert rebase("type_ids", [0, 1, 1, 0], 9, 0) == [0, 1, 1, 0]


def test_cut_reads_one_value_per_list_and_two_per_union() -> None:
    layout = _tag_layout()
    values = {
        "_levels/atom-offsets": [0, 3, 5, 9],
        "atom_tag/r.c-type_ids": [0, 1, 0, 0, 1, 1, 0, 1, 0],
        "atom_tag/r.c-value_offsets": [0, 0, 1, 2, 1, 2, 3, 3, 4],
        "atom_tag/r.c.l-offsets": [0, 2, 2, 3, 5],
    }
    reads = []

    def value(name: str, i: int) -> int:
        reads.append((name, i))
        return values[name][i]

    out: dict[str, tuple[int, int | None]] = {}
    present = {"atom_tag/r-validity", "atom_tag/r.c.s-validity"}
    ly.cut(layout, 2, value, present, out)
    assert out == {
        "atom_tag/r-validity": (2, None),
        "_levels/atom-offsets": (3, 5),
        "atom_tag/r.c-type_ids": (5, None),
        "atom_tag/r.c-value_offsets": (5, None),
        "atom_tag/r.c.s-validity": (3, None),
        "atom_tag/r.c.s-values": (3, None),
        "atom_tag/r.c.l-offsets": (3, 2),
        "atom_tag/r.c.l.c-values": (2, None),
    }
    assert reads == [
        ("_levels/atom-offsets", 2),
        ("atom_tag/r.c-value_offsets", 4),
        ("atom_tag/r.c-type_ids", 4),
        ("atom_tag/r.c.l-offsets", 2),
    ]


def test_manifest_at_gives_each_earlier_commit_back(tmp_path: Path) -> None:
    path = tmp_path / "f.gr"
    frame = _frame()
    pieces = [frame[:1], frame[1:], frame, frame[:0], frame[1:]]
    gr.save(pieces[0], path, dictionary=["atom_el"])
    store = LeafStore(path, read_only=True)
    earlier = [read_manifest(store)]
    for piece in pieces[1:]:
        gr.append(piece, path)
        earlier.append(read_manifest(LeafStore(path, read_only=True)))
    last = earlier[-1]
    for manifest in earlier:
        cut = manifest_at(LeafStore(path, read_only=True), last, manifest.rows)
        assert cut.rows == manifest.rows
        # Validity leaves created later are cut to the node's rows (all valid before), and
        # a dictionary stays whole (it only grows: committed indices never change).
        later = {name for name in cut.leaves if name not in manifest.leaves}
        assert all(name.endswith("-validity") for name in later)
        whole = {"atom_el/r.c-offsets", "atom_el/r.c-data"}
        assert {n: cut.leaves[n] for n in whole} == {n: last.leaves[n] for n in whole}
        kept = {n: s for n, s in cut.leaves.items() if n not in later | whole}
        assert kept == {n: s for n, s in manifest.leaves.items() if n not in whole}
        at, full = Handle(path, rows=manifest.rows).load(), gr.load(path)[: manifest.rows]
        for name in frame.columns:
            assert_values_equal(at[name].to_list(), full[name].to_list())
