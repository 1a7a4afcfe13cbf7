"""A commit writes the leaves of a local store on several threads (storage.writer,
``_write_leaves``): the same files as one thread, decimal-scaled leaves that must convert,
and a leaf that fails leaving the store at its last commit."""

from __future__ import annotations

import errno
from pathlib import Path

import numpy as np
import pytest

import grumpy_arrow as gr
from grumpy_arrow.storage import local, writer


def _batch(k: int, rows: int = 3000) -> gr.DataFrame:
    """Molecules of residues of atoms: ~150k atoms (3 MB of coordinates), 3 decimals."""
    rng = np.random.default_rng(k)
    residues = rng.integers(1, 6, rows)
    atoms = rng.integers(0, 20, int(residues.sum()))
    n = int(atoms.sum())
    res_off = np.concatenate([[0], np.cumsum(residues)])
    atom_off = np.concatenate([[0], np.cumsum(atoms)])
    xyz = (rng.standard_normal((3, n)) * 30).round(3).astype(np.float32)
    elements = np.array(["C", "N", "O", "H", "S"])[rng.integers(0, 5, n)]

    def atoms_of(values: np.ndarray) -> list[list[list[object]]]:
        flat = values.tolist()
        per_res = [flat[atom_off[j] : atom_off[j + 1]] for j in range(len(atoms))]
        return [per_res[res_off[i] : res_off[i + 1]] for i in range(rows)]

    return gr.dataframe(
        {
            "molecule_id": np.arange(k * rows, (k + 1) * rows, dtype=np.int64),
            "atom_x": gr.array(atoms_of(xyz[0]), dtype="float32"),
            "atom_y": gr.array(atoms_of(xyz[1]), dtype="float32"),
            "atom_z": gr.array(atoms_of(xyz[2]), dtype="float32"),
            "atom_element": atoms_of(elements),
        },
        schema=["molecule", "residue", "atom"],
    )


@pytest.fixture(scope="module")
def batches() -> list[gr.DataFrame]:
    return [_batch(k) for k in range(3)]


def _files(path: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(path)): p.read_bytes()
        for p in sorted(path.rglob("*"))
        if p.is_file() and p.name != "grumpy.lock"
    }


@pytest.mark.parametrize("compressor", ["default", "blosc", "none"])
def test_threads_write_the_files_one_thread_writes(
    batches: list[gr.DataFrame], compressor: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[int] = []
    real = writer._write_leaves

    def spy(store: object, jobs: list[writer._LeafWrite]) -> list[bool]:
        calls.append(sum(job.values.nbytes for job in jobs))
        return real(store, jobs)  # type: ignore[arg-type]

    monkeypatch.setattr(writer, "_write_leaves", spy)
    stores = {}
    for threads in (1, 4):
        monkeypatch.setattr(writer, "WRITE_THREADS", threads)
        path = stores[threads] = tmp_path / f"t{threads}.gr"
        gr.save(batches[0], path, compressor=compressor)
        for batch in batches[1:]:
            gr.append(batch, path, durable=False)
    assert min(calls[1:]) >= writer.PARALLEL_WRITE_BYTES  # the appends took the threads
    one, four = _files(stores[1]), _files(stores[4])
    assert sorted(one) == sorted(four)
    assert [k for k in one if one[k] != four[k]] == []
    got = gr.load(stores[4])
    want = gr.concat(batches)
    for column in ("molecule_id", "atom_x", "atom_element"):
        assert got[column].to_list() == want[column].to_list()


def test_a_scaled_leaf_that_must_convert_in_the_threaded_path(
    batches: list[gr.DataFrame], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Coordinates stored as 3-decimal integers, then a batch with a fourth decimal: the
    leaf converts (nothing of it written by the threads) and every value reads back."""
    monkeypatch.setattr(writer, "WRITE_THREADS", 4)
    path = tmp_path / "s.gr"
    gr.save(batches[0], path)
    before = {p.name for p in path.iterdir()}
    finer = _batch(7)
    y = finer["atom_y"].to_list()
    y[0][0][0] = 1.2345  # no longer 3 decimals
    finer = gr.dataframe(
        {
            **{c: finer[c] for c in finer.columns},
            "atom_y": gr.array(y, dtype="float32"),
        },
        schema=["molecule", "residue", "atom"],
    )
    gr.append(finer, path, durable=False)
    got = gr.load(path)
    assert finer["atom_y"].to_list()[0][0][0] == float(np.float32(1.2345))
    assert got["atom_y"].to_list() == batches[0]["atom_y"].to_list() + finer["atom_y"].to_list()
    assert got["atom_x"].to_list() == batches[0]["atom_x"].to_list() + finer["atom_x"].to_list()
    assert {p.name for p in path.iterdir()} == before  # no column folder added or left
    assert gr.validate(path) == []


def test_a_leaf_that_fails_leaves_the_last_commit(
    batches: list[gr.DataFrame], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A full disk while the threads write one leaf: the append raises the store's error,
    the store reads as its last commit, and the next append works."""
    monkeypatch.setattr(writer, "WRITE_THREADS", 4)
    path = tmp_path / "s.gr"
    gr.save(batches[0], path)
    real = local.LocalShards.write

    def full(self: local.LocalShards, name: str, *args: object) -> None:
        if name.startswith("atom_z"):
            raise OSError(errno.ENOSPC, "No space left on device")
        real(self, name, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(local.LocalShards, "write", full)
    with pytest.raises(gr.errors.StoreError, match="no space left"):
        gr.append(batches[1], path, durable=False)
    got = gr.load(path)
    assert len(got) == len(batches[0])
    assert got["atom_z"].to_list() == batches[0]["atom_z"].to_list()
    assert got["atom_x"].to_list() == batches[0]["atom_x"].to_list()
    assert gr.validate(path) == []
    monkeypatch.setattr(local.LocalShards, "write", real)
    gr.append(batches[1], path, durable=False)
    got = gr.load(path)
    assert (
        got["atom_z"].to_list() == batches[0]["atom_z"].to_list() + batches[1]["atom_z"].to_list()
    )
