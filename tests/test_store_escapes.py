"""A store never reads, writes or deletes outside itself (issue 12, "Stores you can trust").

- leaf names in a manifest that would leave the store (``..``, absolute, backslashes, NUL,
  empty components...) are refused when the manifest is parsed, naming the field, before
  anything is read or written;
- a sharded dataset's shard names are ``shard-NNNNNN`` exactly;
- shard directories that are symbolic links are refused by readers and writers (naming
  the link), and nothing is deleted through a link: not the link's target, nor what links
  inside a shard point to;
- ``ShardedWriter(mode="w")`` refuses a folder that holds anything but a dataset;
- leaf folders and chunk files that are links are refused by ``gr.load`` and ``gr.append``
  (the checks live in ``storage/zarr.py``).

Each test snapshots the files outside the store and checks they are unchanged.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import grumpy_arrow as gr
from grumpy_arrow.errors import StoreError, StoreFormatError

MANIFEST = "grumpy.json"
LEAF = "array/r-values"


def _files(root: Path) -> dict[str, bytes]:
    """Every file under ``root`` and its content (a link: its target; links are not
    followed; lock files, which writers take and keep, are left out)."""
    out = {}
    for folder, dirs, files in os.walk(root):
        for name in files + [d for d in dirs if os.path.islink(os.path.join(folder, d))]:
            path = os.path.join(folder, name)
            if name != "grumpy.lock":
                link = os.path.islink(path)
                content = os.readlink(path).encode() if link else Path(path).read_bytes()
                out[os.path.relpath(path, root)] = content
    return out


def _edit(path: Path, edit: Any) -> None:
    doc = json.loads((path / MANIFEST).read_text())
    edit(doc)
    (path / MANIFEST).write_text(json.dumps(doc))


def _rename_leaf(doc: dict[str, Any], old: str, new: str) -> None:
    doc["leaves"][new] = doc["leaves"].pop(old)
    layout = doc["columns"][0]["layout"]
    for role, name in list(layout.items()):
        if name == old:
            layout[role] = new


@pytest.fixture
def pair(tmp_path: Path) -> tuple[Path, Path]:
    """A store ``a.gr`` ([1, 2, 3]) and, beside it, ``other.gr`` ([7, 8, 9])."""
    gr.save(gr.array(np.array([1, 2, 3])), tmp_path / "a.gr")
    gr.save(gr.array(np.array([7, 8, 9])), tmp_path / "other.gr")
    return tmp_path / "a.gr", tmp_path / "other.gr"


# -- leaf names ---------------------------------------------------------------------------

ESCAPES = {
    "dotdot": ("../other.gr/r-values", "it has an empty, '.' or '..' component"),
    "dotdot-deep": (
        "array/../../other.gr/array/r-values",
        "it has an empty, '.' or '..' component",
    ),
    "dotdot-two-parts": ("../r-values", "it has an empty, '.' or '..' component"),
    "dot": ("./r-values", "it has an empty, '.' or '..' component"),
    "empty-component": ("array//r-values", "it has an empty, '.' or '..' component"),
    "trailing-slash": ("array/r-values/", "it has an empty, '.' or '..' component"),
    "absolute": ("/tmp/other.gr/r-values", "it is an absolute path"),
    "backslash": ("array\\..\\..\\other.gr\\r-values", "it holds a NUL or a backslash"),
    "nul": ("array/r-values\x00", "it holds a NUL or a backslash"),
    "three-components": (
        "other.gr/array/r-values",
        "a leaf name has two components, '<column>/<path>-<role>'",
    ),
    "url": (
        "file:/r-values",
        "its components must be 1 to 255 letters, digits or '_.~%-' (column names are URL-quoted)",
    ),
    "too-long": (
        "a" * 256 + "/r-values",
        "its components must be 1 to 255 letters, digits or '_.~%-' (column names are URL-quoted)",
    ),
    "reserved": ("zarr.json/r-values", "'zarr.json' is a file of the store"),
}


@pytest.mark.parametrize("name", list(ESCAPES))
def test_a_leaf_name_that_leaves_the_store_is_refused(name: str, pair: tuple[Path, Path]) -> None:
    store, other = pair
    hostile, reason = ESCAPES[name]
    _edit(store, lambda d: _rename_leaf(d, LEAF, hostile))
    before, mine = _files(other), _files(store)
    # (names longer than 80 characters are shown cut)
    expected = f"{store}: grumpy.json field 'leaves' names leaf {repr(hostile)[:60]}"
    reason = f", which is not a leaf name inside the store: {reason}"
    for call in (
        lambda: gr.load(store),
        lambda: gr.open(store).load(),
        lambda: gr.append(gr.array(np.array([4])), store),
        lambda: gr.save(gr.array(np.array([4])), store, mode="a"),
    ):
        with pytest.raises(StoreFormatError) as info:
            call()
        assert str(info.value).startswith(expected)
        assert str(info.value).endswith(reason)
    assert [p.startswith(expected) for p in gr.validate(store)] == [True]
    assert _files(other) == before and _files(store) == mine


def test_a_layout_leaf_name_must_end_with_its_role(pair: tuple[Path, Path]) -> None:
    store, _ = pair
    _edit(store, lambda d: _rename_leaf(d, LEAF, "array/r-offsets"))
    with pytest.raises(StoreFormatError) as info:
        gr.load(store)
    assert str(info.value) == (
        f"{store}: grumpy.json field 'columns[0].layout.values' names leaf 'array/r-offsets', "
        "which is not a leaf name inside the store: the values leaf of a node is named "
        "'...-values'"
    )


def test_a_level_offsets_leaf_name_is_checked_too(tmp_path: Path) -> None:
    frame = gr.dataframe({"b_x": [[1.0], [2.0, 3.0]]}, schema=["a", "b"])
    gr.save(frame, tmp_path / "f.gr")
    _edit(tmp_path / "f.gr", lambda d: d["levels"][0].__setitem__("offsets", "../b-offsets"))
    with pytest.raises(StoreFormatError) as info:
        gr.load(tmp_path / "f.gr")
    assert str(info.value) == (
        f"{tmp_path / 'f.gr'}: grumpy.json field 'levels[0].offsets' names leaf "
        "'../b-offsets', which is not a leaf name inside the store: it has an empty, '.' or "
        "'..' component"
    )


# -- shard names --------------------------------------------------------------------------


@pytest.fixture
def dataset(tmp_path: Path) -> Path:
    """A consolidated dataset of 4 rows in shards of 2: ``shard-000000``, ``shard-000001``."""
    gr.save(gr.array(np.arange(4)), tmp_path / "d.gr", shard_rows=2)
    return tmp_path / "d.gr"


@pytest.mark.parametrize(
    "hostile",
    [
        "../other.gr",
        "shard-000001/../../other.gr",
        "/tmp/shard-000001",
        "shard-0000001",
        "shard-1",
        "shard-000001/",
        "shard-00000a",
        "shard-000001\x00",
        "SHARD-000001",
    ],
    ids=[
        "dotdot",
        "dotdot-inside",
        "absolute",
        "extra-zero",
        "short",
        "slash",
        "letter",
        "nul",
        "upper",
    ],
)
def test_a_shard_name_must_be_shard_nnnnnn_exactly(hostile: str, dataset: Path) -> None:
    gr.save(gr.array(np.arange(2)), dataset.parent / "other.gr")
    before = _files(dataset.parent / "other.gr")
    _edit(dataset, lambda d: d["shards"][1].__setitem__("name", hostile))
    expected = (
        f"{dataset}: grumpy.json field 'shards[1].name' must name a shard-NNNNNN directory "
        f"(as writers spell it), got {hostile!r}"
    )
    for call in (
        lambda: gr.load(dataset),
        lambda: gr.open(dataset),
        lambda: gr.append(gr.array(np.arange(2)), dataset),
    ):
        with pytest.raises(StoreFormatError) as info:
            call()
        assert str(info.value) == expected
    assert gr.validate(dataset) == [expected]
    assert _files(dataset.parent / "other.gr") == before


# -- shard directories that are links ---------------------------------------------------


def _link_shard(dataset: Path, name: str, target: Path) -> None:
    shutil.rmtree(dataset / name)
    os.symlink(target, dataset / name)


def _link_message(dataset: Path, name: str, target: Path) -> str:
    return (
        f"{dataset}: shard directory {name!r} is a symbolic link (to {str(target)!r}); a "
        "dataset's shards must be directories inside it, and nothing is read, written or "
        "deleted through a link"
    )


@pytest.mark.parametrize("consolidated", [True, False], ids=["listed", "discovered"])
def test_readers_refuse_a_shard_that_is_a_link(consolidated: bool, dataset: Path) -> None:
    outside = dataset.parent / "outside.gr"
    gr.save(gr.array(np.array([70, 80])), outside)
    _link_shard(dataset, "shard-000001", outside)
    if not consolidated:
        (dataset / MANIFEST).unlink()
    before = _files(outside)
    message = _link_message(dataset, "shard-000001", outside)
    with pytest.raises(StoreFormatError) as info:
        gr.load(dataset)
    assert message in str(info.value)
    with pytest.raises(StoreFormatError) as info:
        gr.open(dataset).load()
    assert message in str(info.value)
    problems = gr.validate(dataset)
    assert len(problems) == 1 and message in problems[0]
    assert _files(outside) == before


def test_writers_refuse_a_shard_that_is_a_link_and_delete_nothing_through_it(
    dataset: Path,
) -> None:
    # The bug: ShardedWriter(mode="w") emptied the folder a shard-000000 link points to.
    outside = dataset.parent / "precious"
    outside.mkdir()
    (outside / "thesis.tex").write_text("years of work")
    (outside / "data").mkdir()
    (outside / "data" / "run.csv").write_text("1,2,3")
    _link_shard(dataset, "shard-000000", outside)
    before, mine = _files(outside), _files(dataset)
    message = _link_message(dataset, "shard-000000", outside)
    for call in (
        lambda: gr.ShardedWriter(dataset, shard_rows=2, mode="w"),
        lambda: gr.ShardedWriter(dataset, shard_rows=2, mode="a"),
        lambda: gr.ShardedWriter(dataset, shard_start=1, shard_step=2, shard_rows=2, mode="w"),
        lambda: gr.save(gr.array(np.arange(3)), dataset, shard_rows=2),
        lambda: gr.save(gr.array(np.arange(3)), dataset, shard_rows=2, mode="a"),
        lambda: gr.append(gr.array(np.arange(3)), dataset),
        lambda: gr.consolidate(dataset),
    ):
        with pytest.raises(StoreFormatError) as info:
            call()
        assert message in str(info.value)
        assert _files(outside) == before and _files(dataset) == mine
    # A plain save over the dataset may remove it, never what the link points to.
    with contextlib.suppress(OSError):
        gr.save(gr.array(np.arange(3)), dataset)
    assert _files(outside) == before


def test_removing_a_shard_removes_links_inside_it_without_following_them(
    dataset: Path,
) -> None:
    outside = dataset.parent / "precious"
    outside.mkdir()
    (outside / "keep.txt").write_text("keep")
    os.symlink(outside, dataset / "shard-000000" / "array-link")
    os.symlink(outside / "keep.txt", dataset / "shard-000000" / "file-link")
    os.symlink(outside, dataset / "shard-000000" / "array" / "nested-link")
    with gr.ShardedWriter(dataset, shard_rows=2, mode="w") as writer:
        writer.write(gr.array(np.array([5, 6])))
    assert _files(outside) == {"keep.txt": b"keep"}
    left = set(os.listdir(dataset / "shard-000000")) - {"grumpy.lock"}
    assert left == {"array", "grumpy.json", "zarr.json"}
    assert gr.load(dataset / "shard-000000").to_list() == [5, 6]


# -- ShardedWriter(mode="w") deletes only in a dataset ----------------------------------


def test_sharded_writer_mode_w_refuses_a_folder_holding_other_files(tmp_path: Path) -> None:
    folder = tmp_path / "mixed"
    gr.save(gr.array(np.arange(4)), folder, shard_rows=2)
    (folder / "notes.txt").write_text("mine")
    (folder / "results").mkdir()
    before = _files(folder)
    with pytest.raises(StoreError) as info:
        gr.ShardedWriter(folder, shard_rows=2, mode="w")
    assert str(info.value) == (
        f"{folder}: holds 'notes.txt' (and 1 more), which is not part of a sharded dataset "
        "(only shard-NNNNNN directories, grumpy.json and grumpy.lock are); "
        "ShardedWriter(mode='w') deletes shards only in a dataset's own directory"
    )
    with pytest.raises(StoreError, match=r"holds 'notes\.txt'"):
        gr.save(gr.array(np.arange(3)), folder, shard_rows=2)
    assert _files(folder) == before


def test_save_with_shard_rows_leaves_a_foreign_folder_untouched(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(StoreError, match=r"holds 'notes\.txt', which is not part of a sharded"):
        gr.save(gr.array(np.arange(3)), tmp_path, shard_rows=2)
    assert os.listdir(tmp_path) == ["notes.txt"]  # not even a lock file


def test_sharded_writer_mode_w_accepts_a_dataset_with_an_interrupted_manifest_write(
    dataset: Path,
) -> None:
    (dataset / "grumpy.json.tmp-123-456").write_text("{")
    with gr.ShardedWriter(dataset, shard_rows=2, mode="w") as writer:
        writer.write(gr.array(np.array([9])))
    assert gr.load(dataset).to_list() == [9]


# -- leaf folders and chunk files that are links ------------------------------------------

LEAF_LINKS = "leaf symlink checks land with the zarr.py rewrite"


def _link_leaf(store: Path, other: Path) -> None:
    shutil.rmtree(store / LEAF)
    os.symlink(other / LEAF, store / LEAF)


def _link_chunk(store: Path, target: Path) -> None:
    (store / LEAF / "c" / "0").unlink()
    os.symlink(target, store / LEAF / "c" / "0")


def test_load_refuses_a_leaf_folder_that_links_outside(pair: tuple[Path, Path]) -> None:
    store, other = pair
    _link_leaf(store, other)
    before = _files(other)
    with pytest.raises(StoreError, match=LEAF):
        gr.load(store)
    with pytest.raises(StoreError, match=LEAF):
        gr.open(store)[0]
    assert _files(other) == before


def test_append_never_writes_through_a_leaf_folder_link(pair: tuple[Path, Path]) -> None:
    store, other = pair
    _link_leaf(store, other)
    before = _files(other)
    with pytest.raises(StoreError, match=LEAF):
        gr.append(gr.array(np.array([4])), store)
    assert _files(other) == before


def test_load_refuses_a_chunk_file_that_links_outside(pair: tuple[Path, Path]) -> None:
    store, other = pair
    _link_chunk(store, other / LEAF / "c" / "0")
    before = _files(other)
    with pytest.raises(StoreError, match=LEAF):
        gr.load(store)
    assert _files(other) == before


def test_append_never_writes_through_a_chunk_file_link(pair: tuple[Path, Path]) -> None:
    store, _ = pair
    outside = store.parent / "outside.bin"
    outside.write_bytes((store / LEAF / "c" / "0").read_bytes())
    _link_chunk(store, outside)
    before = outside.read_bytes()
    with pytest.raises(StoreError, match=LEAF):
        gr.append(gr.array(np.array([4])), store)
    assert outside.read_bytes() == before
