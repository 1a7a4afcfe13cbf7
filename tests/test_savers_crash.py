"""Savers killed mid-replace (issue 12): an overwrite or update is all or nothing.

Every case below is a saver (Zarr, Zarr with sibling datasets in one group, HDF5, ``.npy``,
grumpy store), an approach (``overwrite`` or ``update``) and a form (rectangular, ragged,
or switching between the two). A child process (``multiprocessing`` forkserver, so a
child starts in milliseconds) saves in a loop, save ``k`` writing data that encodes
``k``; the parent SIGKILLs it and checks that the dataset loads and equals, exactly, the
state after the last save the child finished or the one after it: never a mixture, never
nothing. Two ways to pick the moment:

- **random**: at a random time (a pure function of the case and the run number) within
  about two saves' durations, after the child has finished two saves;
- **every step**: the child kills itself just before its ``n``-th filesystem step
  (``rename``, ``replace``, ``remove``, ``unlink``, ``rmdir``, ``link``, ``rmtree``, the
  ``renameat2`` exchange), for ``n = 1, 2, ...`` until a save completes before step ``n``.

After each kill, the next save (another process: the dead child's lock is taken over)
recovers the target, sweeps the leftovers and gives exactly its own data.

Also here: refused overwrites (and updates failing mid-way) leave the old dataset
byte-identical; two processes writing different datasets of one Zarr group; a full disk
(ENOSPC) raises ``StoreError`` naming the target, simulated and (where
``mount -t tmpfs`` works) on a real 2 MiB tmpfs; what a kill left is recovered by the
next open, and a reader never repairs a save whose writer is alive.
"""

from __future__ import annotations

import contextlib
import errno
import json
import multiprocessing
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import grumpy_arrow as gr
from grumpy_arrow.errors import StoreError, StoreLockedError
from grumpy_arrow.savers import GrumpySaver, HDF5Saver, NumpySaver, ZarrSaver
from grumpy_arrow.savers import grumpy as grumpy_saver
from grumpy_arrow.savers import hdf5 as hdf5_saver
from grumpy_arrow.savers import npy as npy_saver
from grumpy_arrow.savers import zarr as zarr_saver
from grumpy_arrow.savers.base import to_batch

try:
    import h5py
except ImportError:  # pragma: no cover - h5py is in the test extra
    h5py = None

pytestmark = pytest.mark.skipif(
    not hasattr(signal, "SIGKILL") or "forkserver" not in multiprocessing.get_all_start_methods(),
    reason="needs SIGKILL and the forkserver start method",
)

ROWS, WIDTH, CHUNK = 2000, 4, 500  # rectangular: 4 chunks of 500 rows (Zarr, HDF5)
RAGGED_ROWS = 600
KILLS, SLOW_KILLS = 5, 50

# -- the cases ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    """One saver, approach and form under test."""

    saver: str  # "zarr", "zarr-group", "hdf5", "npy", "grumpy"
    approach: str  # "overwrite", "update"
    form: str  # "rectangular", "ragged", "switch" (overwrite alternates the two)

    @property
    def id(self) -> str:
        return f"{self.saver}-{self.approach}-{self.form}"


_H5 = [pytest.mark.h5py, pytest.mark.skipif(h5py is None, reason="needs h5py")]
CASES = [
    Case("zarr", "overwrite", "rectangular"),
    Case("zarr", "overwrite", "switch"),
    Case("zarr", "update", "rectangular"),
    Case("zarr", "update", "ragged"),
    Case("zarr-group", "overwrite", "ragged"),
    Case("zarr-group", "update", "rectangular"),
    Case("hdf5", "overwrite", "switch"),
    Case("hdf5", "update", "rectangular"),
    Case("hdf5", "update", "ragged"),
    Case("npy", "overwrite", "rectangular"),
    Case("npy", "overwrite", "ragged"),
    Case("npy", "overwrite", "switch"),
    Case("npy", "update", "rectangular"),
    Case("npy", "update", "ragged"),
    Case("grumpy", "overwrite", "ragged"),
    Case("grumpy", "update", "ragged"),
]
BY_ID = {case.id: case for case in CASES}
PARAMS = [
    pytest.param(case, id=case.id, marks=_H5 if case.saver == "hdf5" else ()) for case in CASES
]

UPDATE_ROWS = np.arange(0, ROWS, 9)  # rows of every chunk
RAGGED_UPDATE_ROWS = np.arange(0, RAGGED_ROWS, 5)


def target_of(case: Case, root: Path) -> str:
    names = {"zarr": "g.zarr", "zarr-group": "g.zarr", "hdf5": "f.h5", "npy": "a.npy"}
    return str(root / names.get(case.saver, "s.gr"))


def make_saver(case: Case, target: str, approach: str, name: str | None = None) -> Any:
    if case.saver in ("zarr", "zarr-group"):
        default = "sub/d" if case.saver == "zarr-group" else "d"
        return ZarrSaver(target, dataset_name=name or default, approach=approach)
    if case.saver == "hdf5":
        return HDF5Saver(target, dataset_name=name or "d", approach=approach)
    if case.saver == "npy":
        return NumpySaver(target, approach=approach)
    return GrumpySaver(target, approach=approach)


def _ragged(lengths: np.ndarray, start: float) -> gr.GrumpyArray:
    offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    return gr.from_offsets(start + np.arange(offsets[-1], dtype=np.float64), offsets)


def _rectangular(k: int) -> np.ndarray:
    return np.arange(ROWS * WIDTH, dtype=np.float64).reshape(ROWS, WIDTH) + 100_000.0 * k


def _ragged_lengths(k: int) -> np.ndarray:
    return (np.arange(RAGGED_ROWS) * 3 + k) % 7


def full_data(case: Case, k: int) -> Any:
    """What overwrite ``k`` writes (``k = 0``: the initial dataset of every case)."""
    ragged = case.form == "ragged" or (case.form == "switch" and k % 2 == 0)
    return _ragged(_ragged_lengths(k), 100_000.0 * k) if ragged else _rectangular(k)


def update_call(case: Case, k: int) -> tuple[Any, np.ndarray]:
    """Update ``k``: the batch and the rows it writes (ragged rows keep their lengths)."""
    if case.form == "ragged":
        lengths = _ragged_lengths(0)[RAGGED_UPDATE_ROWS]
        return _ragged(lengths, -100_000.0 * k), RAGGED_UPDATE_ROWS
    rows = np.full((len(UPDATE_ROWS), WIDTH), -float(k)) - np.arange(len(UPDATE_ROWS))[:, None]
    return rows, UPDATE_ROWS


def save_k(saver: Any, case: Case, k: int) -> None:
    if case.approach == "overwrite" or k == 0:
        data = full_data(case, k)
        saver.save(data, chunks=_chunks(case, data))
    else:
        batch, rows = update_call(case, k)
        saver.save(batch, indices=rows)


def _chunks(case: Case, data: Any) -> Any:
    if case.saver == "npy":
        return None
    if case.saver == "grumpy":
        return 1000
    return CHUNK if isinstance(data, gr.GrumpyArray) else (CHUNK, WIDTH)


def expected(case: Case, k: int) -> list[Any]:
    """The dataset's rows after save ``k``."""
    if case.approach == "overwrite" or k == 0:
        return _rows(full_data(case, k))
    rows = _rows(full_data(case, 0))
    batch, positions = update_call(case, k)
    for position, row in zip(positions.tolist(), _rows(batch), strict=True):
        rows[position] = row
    return rows


def _rows(data: Any) -> list[Any]:
    return data.to_list() if isinstance(data, gr.GrumpyArray) else data.tolist()


def loaded(case: Case, target: str) -> Any:
    """The dataset's rows, loaded by a fresh saver (or the error's type and message)."""
    try:
        data = make_saver(case, target, "append").load()
    except Exception as err:  # a broken dataset is a finding, reported with the rest
        return f"{type(err).__name__}: {err}"
    return _rows(data)


SIBLINGS = {"zarr-group": ("x", "sub/other"), "hdf5": ("other",)}


def setup(case: Case, root: Path) -> str:
    """The initial dataset (save 0) and, for group cases, sibling datasets."""
    root.mkdir(parents=True, exist_ok=True)
    target = target_of(case, root)
    for k, name in enumerate(SIBLINGS.get(case.saver, ())):
        make_saver(case, target, "append", name).save(np.arange(10.0) + k)
    save_k(make_saver(case, target, "overwrite"), case, 0)
    return target


def siblings_intact(case: Case, target: str) -> bool:
    return all(
        make_saver(case, target, "append", name).load().tolist() == (np.arange(10.0) + k).tolist()
        for k, name in enumerate(SIBLINGS.get(case.saver, ()))
    )


LEFTOVER_MARKS = (".new-", ".old-", ".tmp-", ".commit", ".undo", ".partial")


def leftovers(root: Path) -> list[str]:
    """Files or folders a crash left that the next save should have swept."""
    return sorted(
        str(p.relative_to(root))
        for p in root.rglob("*")
        if any(m in p.name for m in LEFTOVER_MARKS)
    )


# -- the child ----------------------------------------------------------------------------

CTX = multiprocessing.get_context("forkserver")
# The fork server imports these once; each child then starts in milliseconds. (It does
# not see this folder on sys.path, so it cannot preload this module itself.)
CTX.set_forkserver_preload(["numpy", "zarr", "h5py", "pytest", "grumpy_arrow.savers"])
STEP_FUNCTIONS = ("rename", "replace", "remove", "unlink", "rmdir", "link")


def _arm(step: int) -> None:
    """Kill this process just before its ``step``-th filesystem step.

    Steps are counted where grumpy_arrow takes them (not inside Zarr's own chunk writes,
    which all happen in folders no reader sees until the swap).
    """
    from grumpy_arrow.storage import atomic

    count = [0]

    def wrap(fn: Callable[..., Any]) -> Callable[..., Any]:
        def stepped(*args: Any, **kwargs: Any) -> Any:
            caller = sys._getframe(1).f_globals.get("__name__", "")
            if caller.startswith("grumpy_arrow"):
                count[0] += 1
                if count[0] == step:
                    os.kill(os.getpid(), signal.SIGKILL)
            return fn(*args, **kwargs)

        return stepped

    for name in STEP_FUNCTIONS:
        setattr(os, name, wrap(getattr(os, name)))
    shutil.rmtree = wrap(shutil.rmtree)  # type: ignore[assignment]
    atomic._exchange = wrap(atomic._exchange)  # type: ignore[attr-defined]


def child(case_id: str, target: str, done: Any, step: int) -> None:
    """Save 1, 2, ... (forever, or once when ``step`` arms a kill), counting in ``done``."""
    case = BY_ID[case_id]
    saver = make_saver(case, target, case.approach)
    if step:
        _arm(step)
        save_k(saver, case, 1)
        done.value = 1
        return
    for k in range(1, 1_000_000):
        save_k(saver, case, k)
        done.value = k


def _wait(proc: Any, done: Any, count: int, timeout: float = 60.0) -> float:
    deadline = time.monotonic() + timeout
    while done.value < count:
        if not proc.is_alive():
            raise AssertionError(f"the child died with exit code {proc.exitcode}")
        if time.monotonic() > deadline:
            raise AssertionError(f"the child finished {done.value} saves in {timeout} s")
        time.sleep(0.0005)
    return time.monotonic()


@contextlib.contextmanager
def running(case: Case, target: str, step: int = 0) -> Iterator[tuple[Any, Any]]:
    # No lock: a child SIGKILLed while holding one would leave the parent's next read of
    # the count blocked forever (seen once in a full run). One writer, one aligned int64.
    done = CTX.Value("q", 0, lock=False)
    proc = CTX.Process(target=child, args=(case.id, target, done, step))
    proc.start()
    try:
        yield proc, done
    finally:
        if proc.is_alive():
            proc.kill()
        proc.join(30)


@dataclass(frozen=True)
class Outcome:
    """After a kill: the saves the child finished, and what the dataset held."""

    finished: int
    state: str  # "old", "new" or a description of what was wrong

    @property
    def whole(self) -> bool:
        return self.state in ("old", "new")


def judge(case: Case, target: str, finished: int) -> Outcome:
    got = loaded(case, target)
    if got == expected(case, finished):
        state = "old"
    elif got == expected(case, finished + 1):
        state = "new"
    elif isinstance(got, str):
        state = got[:200]
    else:
        state = f"a mixture ({len(got)} rows)"
    if state in ("old", "new") and not siblings_intact(case, target):
        state = "a sibling dataset changed"
    return Outcome(finished, state)


def next_save_recovers(case: Case, target: str, k: int) -> None:
    """A new writer after the kill: takes the lock over, sweeps, and saves exactly."""
    save_k(make_saver(case, target, case.approach), case, k)
    assert loaded(case, target) == expected(case, k)
    assert leftovers(Path(target).parent) == []


def kill_at_random(case: Case, root: Path, run: int) -> Outcome:
    target = setup(case, root)
    rng = random.Random(f"{case.id}/{run}")
    with running(case, target) as (proc, done):
        first = _wait(proc, done, 1)
        per_save = _wait(proc, done, 2) - first
        time.sleep(rng.uniform(0.0, 2.0 * per_save))
        os.kill(proc.pid, signal.SIGKILL)
        proc.join(30)
        assert proc.exitcode == -signal.SIGKILL
        outcome = judge(case, target, done.value)
    if outcome.whole:
        next_save_recovers(case, target, outcome.finished + 3)
    return outcome


def kill_at_step(case: Case, root: Path, step: int) -> Outcome | None:
    """The outcome of a kill before filesystem step ``step``; None: the save finished."""
    target = setup(case, root)
    with running(case, target, step) as (proc, _):
        proc.join(60)
        if proc.exitcode == 0:
            assert loaded(case, target) == expected(case, 1)
            return None
        assert proc.exitcode == -signal.SIGKILL, proc.exitcode
        outcome = judge(case, target, 0)
    if outcome.whole:
        next_save_recovers(case, target, 3)
    return outcome


def check_kills(case: Case, tmp_path: Path, kills: int) -> None:
    outcomes = [kill_at_random(case, tmp_path / f"run{run}", run) for run in range(kills)]
    broken = [o for o in outcomes if not o.whole]
    assert broken == [], f"{len(broken)} of {kills} kills broke the dataset: {broken[:3]}"


# -- kill tests ---------------------------------------------------------------------------


@pytest.mark.parametrize("case", PARAMS)
def test_a_kill_at_a_random_moment_leaves_old_or_new(case: Case, tmp_path: Path) -> None:
    check_kills(case, tmp_path, KILLS)


@pytest.mark.slow
@pytest.mark.parametrize("case", PARAMS)
def test_many_kills_at_random_moments_leave_old_or_new(case: Case, tmp_path: Path) -> None:
    check_kills(case, tmp_path, SLOW_KILLS)


@pytest.mark.parametrize("case", PARAMS)
def test_a_kill_before_any_filesystem_step_leaves_old_or_new(case: Case, tmp_path: Path) -> None:
    outcomes: list[tuple[int, Outcome]] = []
    for step in range(1, 500):
        outcome = kill_at_step(case, tmp_path / f"step{step}", step)
        if outcome is None:
            break
        outcomes.append((step, outcome))
    else:  # pragma: no cover - a save of hundreds of steps is a bug of its own
        raise AssertionError("the save never finished")
    broken = [(step, o.state) for step, o in outcomes if not o.whole]
    assert broken == [], f"kills before these steps broke the dataset: {broken}"
    states = {o.state for _, o in outcomes}
    assert outcomes and states <= {"old", "new"}
    assert outcomes[0][1].state == "old"  # killed before its first step: nothing changed


# -- refused overwrites -------------------------------------------------------------------


def tree_bytes(root: Path) -> dict[str, bytes]:
    """Every file under ``root`` with its bytes, lock files aside (they are never deleted)."""
    return {
        str(p.relative_to(root)): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and not p.name.endswith(".lock")
    }


REFUSED = [
    pytest.param(
        "zarr",
        {"compression": "lz77"},
        ValueError,
        "compression must be one of",
        id="zarr-bad-compression",
    ),
    pytest.param(
        "zarr",
        {"chunks": (0,)},
        ValueError,
        r"chunks must be a positive int",
        id="zarr-zero-chunks",
    ),
    pytest.param(
        "hdf5",
        {"compression": "nope"},
        ValueError,
        "h5py refused",
        id="hdf5-bad-compression",
        marks=_H5,
    ),
    pytest.param("npy", {"chunks": 10}, ValueError, "no chunks", id="npy-chunks"),
    pytest.param(
        "grumpy",
        {"compression": "lz77"},
        ValueError,
        "compressor must be one of",
        id="grumpy-bad-compression",
    ),
]


@pytest.mark.parametrize(("saver", "options", "error", "match"), REFUSED)
@pytest.mark.parametrize("form", ["rectangular", "ragged"])
def test_a_refused_overwrite_leaves_the_old_dataset_byte_identical(
    saver: str,
    options: dict[str, Any],
    error: type[Exception],
    match: str,
    form: str,
    tmp_path: Path,
) -> None:
    case = Case(saver, "overwrite", form)
    target = setup(case, tmp_path)
    before = tree_bytes(tmp_path)
    with pytest.raises(error, match=match):
        make_saver(case, target, "overwrite").save(full_data(case, 1), **options)
    assert tree_bytes(tmp_path) == before
    assert loaded(case, target) == expected(case, 0)
    assert leftovers(tmp_path) == []


@pytest.mark.parametrize("case", [p for p in PARAMS if p.values[0].approach == "update"])
def test_an_update_failing_mid_way_leaves_the_old_dataset_byte_identical(
    case: Case, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The rows are written (to the stage, or in place after the journal) and then the
    save fails: nothing of it may be visible."""
    target = setup(case, tmp_path)
    before = tree_bytes(tmp_path)
    # the last step before the commit: the swap of the clone, the sync of the copy or rows
    module, name = {
        "zarr": (zarr_saver, "swap_in"),
        "zarr-group": (zarr_saver, "swap_in"),
        "grumpy": (grumpy_saver, "swap_in"),
        "hdf5": (hdf5_saver, "fsync_file"),
        "npy": (npy_saver, "fsync_file"),
    }[case.saver]

    def fail(*args: Any, **kwargs: Any) -> None:
        raise OSError(errno.EIO, "injected I/O error")

    monkeypatch.setattr(module, name, fail)
    with pytest.raises(OSError, match="injected I/O error"):
        save_k(make_saver(case, target, case.approach), case, 1)
    monkeypatch.undo()
    assert loaded(case, target) == expected(case, 0)
    assert tree_bytes(tmp_path) == before
    save_k(make_saver(case, target, case.approach), case, 2)  # recovers, sweeps
    assert loaded(case, target) == expected(case, 2)
    assert leftovers(tmp_path) == []


# -- two processes, one Zarr group ---------------------------------------------------------


def append_many(target: str, name: str, count: int, start: Any) -> None:
    """Append ``count`` batches of 3 rows to one dataset (a child process)."""
    start.wait(30)
    for k in range(count):
        ZarrSaver(target, dataset_name=name).save(np.arange(3 * k, 3 * k + 3))


def test_two_processes_write_different_datasets_of_one_group(tmp_path: Path) -> None:
    target = str(tmp_path / "g.zarr")
    start = CTX.Event()
    names = ["a", "b/c", "d"]
    procs = [CTX.Process(target=append_many, args=(target, n, 60, start)) for n in names]
    for proc in procs:
        proc.start()
    start.set()
    for proc in procs:
        proc.join(120)
    assert [proc.exitcode for proc in procs] == [0, 0, 0]
    for name in names:
        got = ZarrSaver(target, dataset_name=name).load()
        assert got.tolist() == list(range(180))
    assert sorted(os.listdir(tmp_path / ".g.zarr.locks")) == ["a.lock", "b%2Fc.lock", "d.lock"]


# -- a full disk ---------------------------------------------------------------------------


def no_space(*args: Any, **kwargs: Any) -> Any:
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


@pytest.mark.h5py
@pytest.mark.skipif(h5py is None, reason="needs h5py")
@pytest.mark.parametrize("approach", ["append", "overwrite", "update"])
def test_hdf5_flush_failure_raises_store_error_and_keeps_the_committed_rows(
    approach: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """h5py reports a failed write at flush (or silently at close): each save checks."""
    path = str(tmp_path / "f.h5")
    HDF5Saver(path, dataset_name="d").save(np.arange(6.0).reshape(3, 2))
    monkeypatch.setattr(h5py.File, "flush", no_space)
    saver = HDF5Saver(path, dataset_name="d", approach=approach)
    indices = [1] if approach == "update" else None
    with pytest.raises(StoreError, match=r"f\.h5::d: the save needs free space") as info:
        saver.save(np.full((1, 2), -1.0), indices=indices)
    assert info.value.errno == errno.ENOSPC
    assert isinstance(info.value.__cause__, OSError) and "flush" in str(info.value)
    monkeypatch.undo()
    assert HDF5Saver(path, dataset_name="d").load().tolist() == [[0, 1], [2, 3], [4, 5]]
    assert leftovers(tmp_path) == []


@pytest.mark.h5py
@pytest.mark.skipif(h5py is None, reason="needs h5py")
def test_hdf5_save_refuses_when_the_disk_lacks_room(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = str(tmp_path / "f.h5")
    HDF5Saver(path, dataset_name="d").save([1.0, 2.0])
    before = tree_bytes(tmp_path)

    class Full:
        f_bavail, f_frsize = 10, 4096

    monkeypatch.setattr(os, "statvfs", lambda path: Full())
    for approach in ("append", "overwrite"):
        with pytest.raises(
            StoreError,
            match=r"needs about \d+ bytes of free disk space; got "
            r"40960 free",
        ) as info:
            HDF5Saver(path, dataset_name="d", approach=approach).save([3.0])
        assert info.value.errno == errno.ENOSPC
    assert tree_bytes(tmp_path) == before


@pytest.mark.parametrize(
    ("saver", "patch"),
    [
        pytest.param("npy", "npy", id="npy"),
        pytest.param("zarr", "zarr", id="zarr"),
        pytest.param("grumpy", "api", id="grumpy"),
    ],
)
@pytest.mark.parametrize("approach", ["append", "overwrite"])
def test_enospc_from_any_saver_is_a_store_error_naming_the_target(
    saver: str, patch: str, approach: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    case = Case(saver, approach, "rectangular")
    target = setup(case, tmp_path)
    if patch == "npy":
        monkeypatch.setattr(npy_saver, "stage_file", no_space)  # overwrite's staged file
        monkeypatch.setattr(npy_saver, "_grow", no_space)  # append's in-place write
    elif patch == "api":
        from grumpy_arrow.storage import api

        monkeypatch.setattr(api, "save", no_space)
        monkeypatch.setattr(api, "append", no_space)
    else:
        import zarr.storage

        async def full(*args: Any, **kwargs: Any) -> None:
            no_space()

        monkeypatch.setattr(zarr.storage.LocalStore, "set", full)
    with pytest.raises(StoreError, match="the save needs free space on the disk") as info:
        make_saver(case, target, approach).save(_rectangular(7)[:10])
    assert info.value.errno == errno.ENOSPC
    where = make_saver(case, target, approach)._where() if saver != "grumpy" else target
    assert str(info.value).startswith(f"[Errno 28] {where}: ")
    monkeypatch.undo()
    assert loaded(case, target) == expected(case, 0)


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 2 MiB tmpfs (needs root and ``mount``; skipped where it cannot be mounted)."""
    disk = tmp_path / "disk"
    disk.mkdir()
    try:
        done = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(disk)],
            capture_output=True,
            timeout=30,
            check=False,
        )
    except (OSError, subprocess.SubprocessError) as err:
        pytest.skip(f"cannot mount a tmpfs here: {err}")
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode(errors='replace').strip()}")
    try:
        yield disk
    finally:
        subprocess.run(["umount", "-l", str(disk)], capture_output=True, timeout=30, check=False)


DISK_SAVERS = [
    pytest.param("zarr", True, id="zarr"),
    pytest.param("hdf5", True, id="hdf5", marks=_H5),
    pytest.param("hdf5", False, id="hdf5-past-the-free-space-check", marks=_H5),
    pytest.param("npy", True, id="npy"),
    pytest.param("grumpy", True, id="grumpy"),
]


@pytest.mark.parametrize(("saver", "room_check"), DISK_SAVERS)
def test_a_full_disk_raises_and_keeps_every_acknowledged_row(
    saver: str, room_check: bool, small_disk: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Append 128 KiB batches of random floats to a 2 MiB disk: the save that does not
    fit raises StoreError (ENOSPC, naming the target); every acknowledged row loads; an
    overwrite then fails the same way and leaves the dataset as it was. (Before the fix, HDF5 acknowledged
    every append and the file then crashed ``load``.)"""
    if not room_check:  # HDF5's own write error must surface too
        monkeypatch.setattr(hdf5_saver, "check_room", lambda *args: None)
    case = Case(saver, "overwrite", "rectangular")
    target = target_of(case, small_disk)
    batches: list[list[Any]] = []
    for k in range(40):
        # 128 KiB of random floats: no codec shrinks them much (constant batches would
        # compress to almost nothing in a store whose default compressor is "auto").
        batch = np.random.default_rng(k).random((4096, 4))
        try:
            make_saver(case, target, "append").save(batch, chunks=_chunks(case, batch))
        except StoreError as err:
            assert err.errno == errno.ENOSPC
            assert target in str(err)
            break
        batches.extend(batch.tolist())
    else:
        raise AssertionError("40 batches of 128 KiB fit on a 2 MiB disk")
    assert len(batches) > 0
    assert loaded(case, target) == batches
    with pytest.raises(StoreError) as info:
        bigger = np.random.default_rng(40).random((len(batches) + 4096, 4))
        make_saver(case, target, "overwrite").save(bigger)
    assert info.value.errno == errno.ENOSPC
    assert loaded(case, target) == batches


# -- recovery on open ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "case",
    [
        Case("zarr", "overwrite", "rectangular"),
        Case("zarr-group", "overwrite", "ragged"),
        Case("grumpy", "overwrite", "ragged"),
    ],
    ids=lambda case: case.saver,
)
@pytest.mark.parametrize("opener", ["load", "save"])
def test_a_swap_cut_between_its_two_renames_is_undone_by_the_next_open(
    case: Case, opener: str, tmp_path: Path
) -> None:
    """Where there is no ``renameat2`` exchange, a swap is two renames; a kill between them
    leaves the dataset's folder at ``.<name>.old-<hex>`` and nothing at its name."""
    from grumpy_arrow.storage import atomic

    target = setup(case, tmp_path)
    folder = target
    if case.saver.startswith("zarr"):
        folder = make_saver(case, target, "append")._dataset_dir()
    os.rename(folder, atomic.sibling(folder, "old"))
    if opener == "load":
        assert loaded(case, target) == expected(case, 0)
    else:
        save_k(make_saver(case, target, "overwrite"), case, 5)
        assert loaded(case, target) == expected(case, 5)
    assert os.path.isdir(folder)
    assert siblings_intact(case, target)


@pytest.mark.parametrize("leftover", ["commit", "undo"])
def test_a_reader_never_repairs_a_save_whose_writer_is_alive(
    leftover: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A commit record or an undo journal with the lock held by a live process: ``load``
    waits for the lock (here briefly), then raises instead of touching the files."""
    from grumpy_arrow.savers import files
    from grumpy_arrow.storage import writer

    case = Case("npy", "update", "rectangular")
    target = setup(case, tmp_path)
    record = tmp_path / f".a.npy.{leftover}"
    record.write_bytes(b"left by a writer that is still running")
    before = tree_bytes(tmp_path)
    monkeypatch.setattr(writer, "LOCK_TIMEOUT", 0.05)
    monkeypatch.setattr(files, "LOCK_WAIT", 0.2)
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_LOCK, target + ".lock"], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        with pytest.raises(StoreLockedError, match=r"a\.npy: expected the writer's lock"):
            make_saver(case, target, "append").load()
    finally:
        holder.kill()
        holder.wait()
        if holder.stdout is not None:
            holder.stdout.close()
    assert tree_bytes(tmp_path) == before


HOLD_LOCK = """
import fcntl, os, sys, time
fd = os.open(sys.argv[1], os.O_CREAT | os.O_RDWR, 0o644)
fcntl.flock(fd, fcntl.LOCK_EX)
print("locked", flush=True)
time.sleep(60)
"""


def test_a_commit_record_left_by_a_dead_writer_is_rolled_forward_by_load(tmp_path: Path) -> None:
    """Staged pair + record (the kill came after the commit point): ``load`` finishes it."""
    case = Case("npy", "overwrite", "ragged")
    target = setup(case, tmp_path)
    batch = to_batch(full_data(case, 1))
    assert batch.offsets is not None
    side = npy_saver.offsets_path(target)
    moves = {
        npy_saver._stage_npy(target, batch.values): target,
        npy_saver._stage_npy(side, batch.offsets): side,
    }
    record = tmp_path / ".a.npy.commit"
    doc = {
        "moves": {os.path.basename(k): os.path.basename(v) for k, v in moves.items()},
        "removals": [],
    }
    record.write_text(json.dumps(doc))
    os.replace(next(iter(moves)), target)  # killed after the first of the two renames
    assert loaded(case, target) == expected(case, 1)
    assert not record.exists()
    assert leftovers(tmp_path) == []
