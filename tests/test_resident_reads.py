"""Random rows from resident leaves (issue 13): once a leaf is read whole into the chunk
cache, the level walk reads offsets, dictionary indices and values straight from it. Each
resident leaf is checked whole once (offsets: from 0, never decreasing, ending at their
content; indices: inside the dictionary), so a damaged store is reported there, and the
rows read from it are exactly the rows of the frame that was saved."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
import zarr
from _threads import run_threads

import grumpy_arrow as gr
from grumpy_arrow import _native
from grumpy_arrow.compute.gather import LONG_RANGES, Ranges
from grumpy_arrow.errors import StoreFormatError
from grumpy_arrow.storage import checks as ck
from grumpy_arrow.storage.zarr import RESIDENT_AFTER

ROWS = 3_000


def molecules(n: int, seed: int = 0) -> gr.DataFrame:
    """Molecules -> residues -> atoms: empty molecules and residues, float nulls, element
    symbols (few distinct: dictionary-encoded), residue names (raw strings), an id."""
    rng = np.random.default_rng(seed)
    residues = rng.integers(0, 5, n)
    elements = ["C", "H", "O", "N", "S"]
    atoms = [[int(a) for a in rng.integers(0, 9, int(r))] for r in residues]
    return gr.dataframe(
        {
            "mol_id": list(range(n)),
            "mol_name": [None if i % 13 == 4 else f"m{i * 7919 % 10007}" for i in range(n)],
            "res_name": [
                [f"R{(i + j) % 37}x{i}" for j in range(len(a))] for i, a in enumerate(atoms)
            ],
            "atom_x": [
                [
                    [
                        None if (i + j + k) % 17 == 0 else (i * 100 + j * 10 + k) / 8
                        for k in range(c)
                    ]
                    for j, c in enumerate(a)
                ]
                for i, a in enumerate(atoms)
            ],
            "atom_el": [
                [[elements[(i + j + k) % 5] for k in range(c)] for j, c in enumerate(a)]
                for i, a in enumerate(atoms)
            ],
        },
        schema=["mol", "res", "atom"],
    )


@pytest.fixture(scope="module")
def saved(tmp_path_factory: pytest.TempPathFactory) -> tuple[gr.DataFrame, dict[str, Path]]:
    df = molecules(ROWS)
    root = tmp_path_factory.mktemp("resident")
    paths = {}
    for compressor in ("auto", "none", "zstd"):
        paths[compressor] = root / f"{compressor}.gr"
        # Small inner chunks and shards: every leaf spans many shard files.
        gr.save(df, paths[compressor], compressor=compressor, chunk_size=256, shard_size=1024)
    return df, paths


def _batches(seed: int) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    out = [rng.choice(ROWS, 32, replace=False) for _ in range(12)]
    out += [
        np.array([ROWS - 1]),
        np.array([5, 5, 5, 0]),
        np.arange(100, 140),
        rng.integers(0, ROWS, 300),
        np.array([], dtype=np.int64),
    ]
    return out


@pytest.mark.parametrize("compressor", ["auto", "none", "zstd"])
def test_resident_takes_equal_the_saved_rows(
    compressor: str, saved: tuple[gr.DataFrame, dict[str, Path]]
) -> None:
    df, paths = saved
    h = gr.open(paths[compressor])
    for rows in _batches(1):
        got = h.take(rows)
        assert got.to_arrow().equals(df[rows].to_arrow()), rows
        assert got.to_dict() == df[rows].to_dict()
    # The level offsets and the dictionary indices became resident and were checked whole.
    checked = set(h._checked)
    assert {"_levels/res-offsets", "_levels/atom-offsets", "atom_el/r.c.c-indices"} <= checked
    # Single rows (h[i]) from the resident leaves, and the same rows with the cache off.
    cold = gr.open(paths[compressor], cache="none")
    for i in (0, 1, 4, ROWS // 2, ROWS - 1):
        assert h[i].to_dict() == df[[i]].to_dict() == cold[i].to_dict()


def _damage(path: Path, leaf: str, position: int, value: int) -> None:
    """Write one value through zarr (its checksum stays valid)."""
    arr = zarr.open_array(str(path / leaf), mode="r+")
    arr[position] = value


def _copy(src: Path, dst: Path) -> Path:
    import shutil

    shutil.copytree(src, dst)
    return dst


@pytest.mark.parametrize(
    ("leaf", "damage", "message"),
    [
        ("_levels/atom-offsets", "decrease", r"decreases at position {p} "),
        ("_levels/res-offsets", "negative", r"starts at -3 \(position 0\)"),
        ("atom_el/r.c.c-indices", "outside", r"holds 99 at position {p}; the dictionary has 5"),
    ],
)
def test_a_resident_leaf_is_checked_whole(
    leaf: str,
    damage: str,
    message: str,
    saved: tuple[gr.DataFrame, dict[str, Path]],
    tmp_path: Path,
) -> None:
    df, paths = saved
    path = _copy(paths["none"], tmp_path / "s")
    length = gr.open(path).manifest.leaves[leaf].length
    values = np.asarray(zarr.open_array(str(path / leaf), mode="r")[:length])
    if damage == "decrease":
        p = int(np.flatnonzero(values[: length - 1] >= 1)[-1]) + 1  # late: rows 0-38 miss it
        _damage(path, leaf, p, int(values[p - 1]) - 1)
    elif damage == "negative":
        p = 0
        _damage(path, leaf, p, -3)
    else:
        p = length - 1
        _damage(path, leaf, p, 99)
    h = gr.open(path)
    early = np.arange(0, 40, 2)  # not one run of rows: the walk (one run reads windows)
    # Before the leaf is resident, rows that never reach the damage read exactly
    # (a damage at position 0 is on every read's way: it is reported at once).
    for _ in range(RESIDENT_AFTER - 1):
        if p == 0:
            with pytest.raises(StoreFormatError, match=leaf):
                h.take(early)
        else:
            assert h.take(early).to_dict() == df[early].to_dict()
    # At the selection that reads it whole, the whole leaf is checked: the damage is
    # reported with the leaf and the first bad position, even for these rows.
    with pytest.raises(StoreFormatError) as err:
        h.take(early)
    text = str(err.value)
    assert str(path) in text and leaf in text
    assert re.search(message.format(p=p), text), text
    # ...and stays reported.
    with pytest.raises(StoreFormatError, match=leaf):
        h.take(early)


def test_a_resident_leaf_is_checked_once_per_read_of_it(
    saved: tuple[gr.DataFrame, dict[str, Path]], monkeypatch: pytest.MonkeyPatch
) -> None:
    df, paths = saved
    calls: list[str] = []
    real = ck.check_offsets
    monkeypatch.setattr(
        ck,
        "check_offsets",
        lambda values, content, where, leaf: (
            calls.append(leaf),
            real(values, content, where, leaf),
        ),
    )
    h = gr.open(paths["auto"])
    for rows in _batches(2):
        assert h.take(rows).to_dict() == df[rows].to_dict()
    levels = ["_levels/res-offsets", "_levels/atom-offsets"]
    assert sorted(c for c in calls if c.startswith("_levels/")) == sorted(levels)
    # Dropped from the cache, a leaf is read whole again, and checked again (once).
    h._cache.clear()
    for rows in _batches(3):
        assert h.take(rows).to_dict() == df[rows].to_dict()
    assert sorted(c for c in calls if c.startswith("_levels/")) == sorted(levels * 2)


def test_a_cache_too_small_for_residency_reads_the_same_rows(
    saved: tuple[gr.DataFrame, dict[str, Path]],
) -> None:
    df, paths = saved
    h = gr.open(paths["auto"], cache_bytes=4096)
    for rows in _batches(4):
        assert h.take(rows).to_dict() == df[rows].to_dict()
    assert not set(h._checked)


@pytest.mark.parametrize("native", [True, False])
@pytest.mark.parametrize("lengths", [[300, 0, 1000, 256], [3, 1, 0, 7, 2], [5000], []])
def test_ranges_take_from_copies_the_ranges_in_order(
    lengths: list[int], native: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    if native and _native.kernels is None:
        pytest.skip("grumpy_arrow._kernels is not built")
    if not native:
        monkeypatch.setattr(_native, "kernels", None)
    values = np.arange(20_000, dtype=np.float32) * 0.5
    rng = np.random.default_rng(len(lengths))
    starts = rng.integers(0, 20_000 - 5_000, len(lengths)).astype(np.int64)
    stops = starts + np.asarray(lengths, dtype=np.int64)
    span = Ranges(starts, stops)
    want = (
        np.concatenate([values[a:b] for a, b in zip(starts, stops, strict=True)])
        if lengths
        else np.zeros(0, np.float32)
    )
    got = span.take_from(values)
    assert got.dtype == np.float32 and np.array_equal(got, want)
    assert span.total == sum(lengths)
    got[:1] = -1  # a copy: the whole array is untouched
    assert np.array_equal(values, np.arange(20_000, dtype=np.float32) * 0.5)
    # With the kernels every range is a memcpy (no positions); without them long ranges
    # are copied as slices and short ones through the expanded positions.
    long = len(lengths) > 1 and sum(lengths) >= LONG_RANGES * len(lengths)
    assert (span._positions is None) == (native or long or len(lengths) <= 1)


def test_ranges_positions_of_one_range_and_of_several() -> None:
    one = Ranges(np.array([7], dtype=np.int64), np.array([12], dtype=np.int64))
    assert one.positions().tolist() == [7, 8, 9, 10, 11] and one.total == 5
    empty = Ranges(np.array([3], dtype=np.int64), np.array([3], dtype=np.int64))
    assert empty.positions().tolist() == [] and empty.take_from(np.arange(9)).tolist() == []
    many = Ranges(np.array([5, 0, 9], dtype=np.int64), np.array([7, 0, 11], dtype=np.int64))
    assert many.positions().tolist() == [5, 6, 9, 10]


def _counting(monkeypatch: pytest.MonkeyPatch, name: str) -> list[int]:
    """Count the calls of ``Handle.<name>`` (the per-leaf walk's steps)."""
    from grumpy_arrow.storage.handle import Handle

    calls: list[int] = []
    real = getattr(Handle, name)

    def counted(self: Handle, *args: object, **kwargs: object) -> object:
        calls.append(1)
        return real(self, *args, **kwargs)

    monkeypatch.setattr(Handle, name, counted)
    return calls


@pytest.mark.parametrize("compressor", ["auto", "none"])
def test_warm_batches_read_the_resident_leaves_in_one_lookup(
    compressor: str,
    saved: tuple[gr.DataFrame, dict[str, Path]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    df, paths = saved
    h = gr.open(paths[compressor])
    for rows in _batches(5)[: RESIDENT_AFTER + 1]:  # every leaf becomes resident
        h.take(rows)
    leaf_calls = _counting(monkeypatch, "_leaf")
    validity_calls = _counting(monkeypatch, "_validity")
    before = h.stats()
    for rows in _batches(6):
        got = h.take(rows)
        assert got.to_arrow().equals(df[rows].to_arrow()), rows
    # Warm: no per-leaf step and no byte read; one cache hit per leaf per batch (the
    # columns' leaves: level offsets, validity, values, indices, text offsets and data).
    assert leaf_calls == [] and validity_calls == []
    after = h.stats()
    assert after["bytes_read"] == before["bytes_read"]
    assert after["chunks_read"] == before["chunks_read"]
    batches = len(_batches(6))
    assert (after["cache_hits"] - before["cache_hits"]) % batches == 0
    per_batch = (after["cache_hits"] - before["cache_hits"]) // batches
    # mol_id values; mol_name offsets and data; res_name (a list of strings) its
    # text offsets and data; atom_x values; atom_el indices; 2 level offsets; validity.
    manifest = h.manifest.leaves
    stored_validity = [n for n in manifest if n.endswith("-validity")]
    assert per_batch == 9 + len(stored_validity), (per_batch, stored_validity)
    # Dropped from the cache, the leaves are read (and checked) again by the per-leaf
    # walk, with the same rows.
    h._cache.clear()
    for rows in _batches(7)[: RESIDENT_AFTER + 1]:
        assert h.take(rows).to_arrow().equals(df[rows].to_arrow())
    assert leaf_calls and validity_calls


def test_warm_batches_without_nulls_and_with_fixed_axes(tmp_path: Path) -> None:
    """A frame with no null anywhere (no validity leaf) and a fixed axis under its atom
    level (``var * 3`` points): warm batches, single rows and repeats equal the saved
    rows, through the one-lookup path."""
    rng = np.random.default_rng(8)
    n = 400
    counts = rng.integers(0, 6, n)
    points = [rng.integers(-9, 9, (int(c), 3)).astype(np.float32) for c in counts]
    df = gr.dataframe(
        {
            "mol_id": np.arange(n, dtype=np.int32),
            "mol_label": [f"l{i % 3}" for i in range(n)],
            "atom_xyz": gr.array(points),
            "atom_el": [
                [["C", "H", "O"][(i + k) % 3] for k in range(int(c))] for i, c in enumerate(counts)
            ],
        },
        schema=["mol", "atom"],
    )
    assert df["atom_xyz"].type == f"{n} * var * 3 * float32"
    path = tmp_path / "fixed.gr"
    gr.save(df, path)
    h = gr.open(path)
    assert not [name for name in h.manifest.leaves if name.endswith("-validity")]
    picks = [rng.choice(n, 32, replace=False) for _ in range(12)]
    picks += [np.array([7, 7, 0]), np.arange(n), np.array([], dtype=np.int64)]
    for k, rows in enumerate(picks):
        got = h.take(rows)
        assert got.to_arrow().equals(df[rows].to_arrow()), k
        assert got["atom_xyz"].type == f"{len(rows)} * var * 3 * float32"
    assert h._resident_batch(h._specs(), h._level_chains(h._specs())) is not None
    assert h[n - 1].to_dict() == df[[n - 1]].to_dict()


def test_warm_batches_on_threads_equal_the_saved_rows(
    saved: tuple[gr.DataFrame, dict[str, Path]],
) -> None:
    """Several threads read random batches of one handle while another empties its cache
    now and then: the resident look-up, the per-leaf walk and the re-check of leaves read
    in again interleave, and every batch is exactly the saved rows."""
    import threading

    df, paths = saved
    h = gr.open(paths["auto"])
    want = df.to_arrow()
    stop = threading.Event()

    def reader(seed: int) -> None:
        rng = np.random.default_rng(seed)
        for _ in range(40):
            rows = rng.choice(ROWS, 32, replace=False)
            assert h.take(rows).to_arrow().equals(want.take(rows))

    def clearer() -> None:
        while not stop.wait(0.02):
            h._cache.clear()

    wiper = threading.Thread(target=clearer)
    wiper.start()
    errors = run_threads(reader, range(4))
    stop.set()
    wiper.join()
    assert errors == []


def _recipe_frame(n: int, seed: int) -> tuple[gr.DataFrame, list[str]]:
    """Molecules -> residues -> atoms with one column of each kind a warm batch builds:
    numbers at every depth, dictionary-encoded and raw text at two depths (large and
    narrow Arrow strings), booleans, a column with nulls and a fixed axis. Returns the
    frame and the columns that warm batches build by recipe (the rest take the walk)."""
    import pyarrow as pa

    rng = np.random.default_rng(seed)
    residues = rng.integers(0, 6, n)
    atoms = [rng.integers(0, 7, int(r)) for r in residues]
    nested = [
        [[(i + j + k) % 11 for k in range(int(c))] for j, c in enumerate(a)]
        for i, a in enumerate(atoms)
    ]

    def atoms_of(f: object, typ: pa.DataType) -> pa.Array:
        rows = [
            [[f(i, j, k) for k in range(len(r))] for j, r in enumerate(m)]
            for i, m in enumerate(nested)
        ]  # type: ignore[operator]
        return pa.array(rows, type=pa.large_list(pa.large_list(typ)))

    def residues_of(f: object, typ: pa.DataType) -> pa.Array:
        rows = [[f(i, j) for j in range(len(m))] for i, m in enumerate(nested)]  # type: ignore[operator]
        return pa.array(rows, type=pa.large_list(typ))

    elements = ["C", "H", "O", "N", "S", "Fe"]
    table = pa.table(
        {
            "molecule_id": pa.array(np.arange(n, dtype=np.int64) * 3 - 7),
            "molecule_name": pa.array(
                [f"mol-{i * 7919 % 10007}" for i in range(n)], pa.large_string()
            ),
            "molecule_code": pa.array([f"c{i * 13}" for i in range(n)], pa.string()),
            "molecule_kind": pa.array([f"k{i % 5}" for i in range(n)], pa.string()),
            "molecule_flag": pa.array([i % 3 == 0 for i in range(n)]),
            "residue_seq": residues_of(lambda i, j: (i * 31 + j) % 65536, pa.uint16()),
            "residue_name": residues_of(
                lambda i, j: ["ALA", "GLY", "SER"][(i + j) % 3], pa.large_string()
            ),
            "residue_label": residues_of(lambda i, j: f"r{i}-{j}", pa.large_string()),
            "atom_x": atoms_of(lambda i, j, k: np.float32((i - j * 3 + k) / 8), pa.float32()),
            "atom_q": atoms_of(
                lambda i, j, k: None if (i + j + k) % 9 == 0 else float(i * k), pa.float64()
            ),
            "atom_element": atoms_of(
                lambda i, j, k: elements[(i * 3 + j + k) % 6], pa.large_string()
            ),
            "atom_index": atoms_of(lambda i, j, k: i * 1000 + j * 10 + k, pa.int32()),
        }
    )
    df = gr.from_arrow(table, schema=["molecule", "residue", "atom"])
    recipes = [
        "molecule_id",
        "molecule_name",
        "molecule_kind",
        "residue_seq",
        "residue_name",
        "residue_label",
        "atom_x",
        "atom_element",
        "atom_index",
    ]
    return df, recipes


@pytest.mark.parametrize("compressor", ["auto", "none"])
def test_warm_batches_build_columns_by_recipe(
    compressor: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Warm batches build the columns with no nulls, no fixed axis and a numeric,
    dictionary or large-text leaf straight from their recipe (one ``_cook`` per such
    column per batch); the others (narrow strings, booleans, nulls) take the walk. Every
    batch, single row, repeat and empty selection equals the saved rows, types and
    dictionaries included."""
    from grumpy_arrow.storage import handle as hd

    n = 600
    df, by_recipe = _recipe_frame(n, 3)
    path = tmp_path / "recipes.gr"
    gr.save(df, path, compressor=compressor, chunk_size=256, shard_size=1024)
    h = gr.open(path)
    rng = np.random.default_rng(4)
    for _ in range(RESIDENT_AFTER + 1):
        h.take(rng.choice(n, 32, replace=False))
    specs = h._specs()
    recipes = h._recipes[tuple(s.name for s in specs)]
    built = [s.name for s, r in zip(specs, recipes, strict=True) if r is not None]
    assert built == by_recipe
    kinds = {s.name: r.kind for s, r in zip(specs, recipes, strict=True) if r is not None}
    assert kinds["residue_name"] == kinds["atom_element"] == kinds["molecule_kind"] == hd._INDICES
    assert kinds["molecule_name"] == kinds["residue_label"] == hd._TEXT
    cooked: list[int] = []
    real = hd._cook

    def counted(*args: object) -> object:
        cooked.append(1)
        return real(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(hd, "_cook", counted)
    picks = [rng.choice(n, 32, replace=False) for _ in range(15)]
    picks += [
        np.array([n - 1]),
        np.array([4, 4, 0, 4]),
        np.arange(50, 90),
        np.array([], dtype=np.int64),
    ]
    for k, rows in enumerate(picks):
        got = h.take(rows)
        want = df[rows]
        assert got.to_arrow().equals(want.to_arrow()), k
        assert got.to_dict() == want.to_dict(), k
        for name in ("atom_element", "molecule_kind", "molecule_code"):
            assert got[name].to_arrow().type == want[name].to_arrow().type, name
        for name in by_recipe:  # the layout nodes compute reads agree with the arrays
            rebuilt = gr.GrumpyArray._wrap(got[name].node)
            assert rebuilt.to_arrow().equals(want[name].to_arrow()), (k, name)
        assert got["atom_index"].sum(dim=2).to_list() == want["atom_index"].sum(dim=2).to_list()
    assert len(cooked) == len(picks) * len(by_recipe)
    assert h[n // 2].to_dict() == df[[n // 2]].to_dict()
