"""Stores under attack (issue 12): threads, concurrent processes, SIGKILL, full disks.

The contract these tests define:

1. descriptor race: loads and threads sharing one handle over a store of more shard files
   than the pool of open shard files holds (so shards are evicted and reopened while
   other threads read them) read exactly the stored data;
2. concurrent writers: every append that returned is there exactly once, in order; a
   writer that cannot get the lock waits (``timeout=``) or raises ``StoreLockedError``;
   readers never see a torn state;
3. a writer killed at a random moment (save from a generator, append, ``ShardedWriter``)
   leaves a valid store holding a whole prefix of the batches, and the next append works;
4. replacing a store never loses it: a failed conversion or an empty iterator keep the old
   store; a killed overwrite leaves the old or the new store, whole; a folder that is not a
   store is refused and left alone;
5. the chunk cache serves a repeated selection without reading the store again;
6. ``durable=False`` writes the same data without fsync;
7. a full disk gives a ``StoreError`` naming the store, which stays as committed.

Whatever could crash or hang runs in a child process (``_store_probes``), so a signal or a
hang fails the test with a message saying so.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import signal
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from _store_probes import (
    KILL_CHUNK,
    KILL_ROWS,
    KILL_SHARD,
    OLD_STORE_BATCH,
    Child,
    ProbeServer,
    assert_same_files,
    count_chunk_files,
    describe_exit,
    kill_batch,
    kill_prefix,
    probe_server,
    race_frame,
    report,
    rng,
    spawn,
    tree_snapshot,
)

import grumpy_arrow as gr
from grumpy_arrow.errors import DTypeError, StoreError

pytestmark = pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")


@pytest.fixture(scope="module")
def server() -> Iterator[ProbeServer]:
    with probe_server() as s:
        yield s


def _without_lock(snapshot: dict[str, bytes]) -> dict[str, bytes]:
    """A store's files except its lock file (which may stay, unlocked, between writers)."""
    return {k: v for k, v in snapshot.items() if os.path.basename(k) != "grumpy.lock"}


# -- 1. descriptor race -------------------------------------------------------------------


@pytest.fixture(scope="module")
def race_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("race") / "race.gr"
    gr.save(race_frame(), path, chunk_size=64, shard_size=64)
    return path


def test_race_store_has_more_shard_files_than_the_open_shard_pool(
    race_store: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Per column: 3001 offsets and 9000 values in shard files of 64: 47 + 141 files.
    assert count_chunk_files(race_store) == 6 * (47 + 141)
    import resource

    # The probe server runs under the common soft descriptor limit of 1024, as here.
    monkeypatch.setattr(resource, "getrlimit", lambda _: (1024, 1 << 20))
    h = gr.open(race_store)
    pool = h._store.shards
    assert pool.limit == 128  # LocalShards: open shard files a handle keeps at most
    assert count_chunk_files(race_store) > 4 * pool.limit
    h.load()  # opens every shard file once: the pool stays within its limit (its share
    # of it, when other stores of the process hold open shards too)
    assert 0 < len(pool._open) <= pool.limit


def test_probes_run_with_an_open_shard_pool_smaller_than_the_race_store(
    race_store: Path, server: ProbeServer
) -> None:
    assert server.call("probe_open_limit") == 128 < count_chunk_files(race_store) // 4


def test_hundred_loads_equal_the_in_memory_frame(race_store: Path, server: ProbeServer) -> None:
    got = server.call("probe_race_loads", str(race_store), 100, timeout=600)
    assert got == {"mismatches": [], "errors": [], "n_errors": 0}


@pytest.mark.parametrize(("cache", "takes"), [("chunks", 50), ("none", 20)], ids=["chunks", "none"])
def test_six_threads_taking_rows_from_one_handle_read_exact_rows(
    cache: str, takes: int, race_store: Path, server: ProbeServer
) -> None:
    got = server.call("probe_race_takes", str(race_store), cache, 6, takes, timeout=600)
    assert got == {"wrong": [], "n_wrong": 0, "errors": [], "n_errors": 0}


# -- 2. concurrent writers ------------------------------------------------------------------


@pytest.mark.parametrize(
    "timeout",
    # A generous wait in the default run (a loaded CI machine can hold 3 writers ahead of
    # one for more than the default 10 s); the default wait under the slow marker.
    [
        pytest.param(120.0, id="timeout-120s"),
        pytest.param(None, id="default-wait", marks=pytest.mark.slow),
    ],
)
def test_four_appending_processes_land_every_row_once_in_order(
    timeout: float | None, tmp_path: Path, server: ProbeServer
) -> None:
    path = tmp_path / "w.gr"
    gr.save(gr.array([[-1, -1]]), path)
    with contextlib.ExitStack() as stack:
        writers = [
            stack.enter_context(spawn("child_append_rows", str(path), k, 100, timeout))
            for k in range(4)
        ]
        for w in writers:
            code = w.finish(timeout=300)
            assert code == 0, f"{w.what}: {describe_exit(code)}\n{w.stderr()}"
        results = [w.result() for w in writers]
    rows = server.call("probe_load_dict", str(path))["array"]
    assert rows[0] == [-1, -1]
    for k, result in enumerate(results):
        assert result["other"] == [], f"writer {k}: errors other than StoreLockedError"
        assert [j for w, j in rows[1:] if w == k] == result["ok"], f"writer {k}"
    assert len(rows) == 1 + sum(len(r["ok"]) for r in results)
    gave_up = [len(r["locked"]) for r in results]
    assert [len(r["ok"]) for r in results] == [100, 100, 100, 100], (
        f"appends per writer that gave up waiting for the lock: {gave_up}"
    )
    assert server.call("probe_validate", str(path)) == []


def test_append_during_another_process_writing_raises_store_locked_error(
    tmp_path: Path, server: ProbeServer
) -> None:
    path = tmp_path / "locked.gr"
    gr.save(gr.array([[-1, -1]]), path)
    release = tmp_path / "release"
    with spawn("child_hold_lock", str(path), str(release)) as holder:
        holder.wait_for(lambda line: line == "holding")
        before = server.call("probe_load_dict", str(path))
        assert before == {"array": [[-1, -1], [7, 0]]}
        quick = server.call("probe_timed_append", str(path), [9, 9], 0.2, timeout=30)
        assert quick["error"] is not None, "the append went through a held lock"
        assert quick["error"]["locked_error"], quick["error"]
        assert str(path) in quick["error"]["message"]
        assert quick["elapsed"] < 1.0
        assert server.call("probe_load_dict", str(path)) == before
        release.touch()
        code = holder.finish(timeout=60)
        assert code == 0, f"{describe_exit(code)}\n{holder.stderr()}"
    assert server.call("probe_load_dict", str(path)) == {"array": [[-1, -1], [7, 0], [7, 1]]}


@pytest.mark.slow
def test_append_with_the_default_wait_raises_store_locked_error_after_lock_timeout(
    tmp_path: Path, server: ProbeServer
) -> None:
    from grumpy_arrow.storage.writer import LOCK_TIMEOUT

    path = tmp_path / "locked.gr"
    gr.save(gr.array([[-1, -1]]), path)
    release = tmp_path / "release"
    with spawn("child_hold_lock", str(path), str(release)) as holder:
        holder.wait_for(lambda line: line == "holding")
        got = server.call("probe_timed_append", str(path), [9, 8], None, timeout=LOCK_TIMEOUT + 60)
        assert got["error"] is not None and got["error"]["locked_error"], got
        assert LOCK_TIMEOUT <= got["elapsed"] < LOCK_TIMEOUT + 5
        release.touch()
        code = holder.finish(timeout=60)
        assert code == 0, f"{describe_exit(code)}\n{holder.stderr()}"
    assert server.call("probe_load_dict", str(path)) == {"array": [[-1, -1], [7, 0], [7, 1]]}


def test_readers_see_only_whole_committed_appends(tmp_path: Path, server: ProbeServer) -> None:
    path = tmp_path / "torn.gr"
    rows, appends = 5, 200
    gr.save(kill_batch(0, rows, light=True), path, chunk_size=KILL_CHUNK, shard_size=KILL_SHARD)
    done = tmp_path / "done"
    with spawn("child_append_batches", str(path), 1, appends, rows, str(done)) as writer:
        seen = server.call(
            "probe_watch_loads", str(path), str(done), rows, appends + 1, 240.0, timeout=300
        )
        code = writer.finish(timeout=120)
        assert code == 0, f"{describe_exit(code)}\n{writer.stderr()}"
    assert seen["violations"] == []
    assert seen["finished"], "the writer did not finish within the reader's budget"
    assert seen["states"][-1] == (appends + 1) * rows
    # The reader saw the store grow (else this test could not catch a torn state).
    assert len(seen["states"]) >= 3, seen
    assert server.call("probe_load_dict", str(path)) == kill_prefix(appends + 1, rows, light=True)


# -- 3. SIGKILL at random moments -----------------------------------------------------------

# Kills per writer kind: (default run, slow run); at least 20 and 200 in all.
KILLS = {"save-generator": (7, 70), "append": (7, 70), "sharded": (6, 60)}
KILL_PARAMS = [
    pytest.param(mode, n, id=f"{mode}-{n}-kills", marks=[pytest.mark.slow] if slow else [])
    for mode, counts in KILLS.items()
    for slow, n in enumerate(counts)
]


def _kill_once(child: Child, mode: str, task: dict[str, Any], step: int) -> int:
    """Give a started writer its task (batches ``first ..``), SIGKILL it at a random moment
    after it has committed some; the highest count of committed batches it reported."""
    r = rng("kill", mode, step)
    target = task["first"] + r.randint(1, 4)
    child.wait_for(lambda line: line == "ready")
    child.send(task)
    child.wait_for(lambda line: line.startswith("committed ") and int(line.split()[1]) >= target)
    time.sleep(r.uniform(0.0, 0.15))  # anywhere in the next commit or two
    child.kill()
    child.finish(timeout=30)
    assert child.proc.returncode == -signal.SIGKILL, (
        f"{mode} kill {step}: the writer {describe_exit(child.proc.returncode)} before "
        f"the kill; it said {child.lines[-3:]}\n{child.stderr()}"
    )
    return max(int(x.split()[1]) for x in child.lines if x.startswith("committed "))


@pytest.mark.parametrize(("mode", "kills"), KILL_PARAMS)
def test_killed_writer_leaves_a_whole_prefix_and_the_next_append_works(
    mode: str, kills: int, tmp_path: Path, server: ProbeServer, request: pytest.FixtureRequest
) -> None:
    compressors = ("none", "zstd", "blosc")
    stores = [tmp_path / f"{c}.gr" for c in compressors]
    committed = [0] * len(compressors)
    if mode != "save-generator":  # one store per compressor, killed again and again
        for i, c in enumerate(compressors):
            rows = server.call("probe_save_kill_batches", str(stores[i]), [0], c, mode == "sharded")
            committed[i] = rows // KILL_ROWS
    done = 0
    child = spawn("child_kill_writer", mode)
    try:
        for step in range(kills):
            which = step % len(compressors)
            if mode == "save-generator":  # a fresh store each time
                path, first, count = tmp_path / f"gen-{step}.gr", 0, 30
            else:
                path, first, count = stores[which], committed[which], 12
            task = {
                "path": str(path),
                "compressor": compressors[which],
                "first": first,
                "count": count,
                # every other round of compressors writes its leaves on threads
                "parallel": (step // len(compressors)) % 2 == 1,
            }
            reported = _kill_once(child, mode, task, step)
            child.close()
            if step + 1 < kills:  # the next writer imports while this store is checked
                child = spawn("child_kill_writer", mode)
            where = f"{mode} kill {step} ({compressors[which]}; the writer reported {reported})"
            facts = server.call("probe_check_after_kill", str(path), mode == "sharded")
            assert facts["validate"] == [], where
            assert facts["whole_prefix"], f"{where}: {facts['rows']} rows are not whole batches"
            assert reported <= facts["batches"] <= reported + 1, f"{where}: {facts['batches']}"
            assert facts["after_rows"] == (facts["batches"] + 1) * KILL_ROWS, where
            assert facts["after_equal"], f"{where}: the append after the kill"
            assert facts["after_validate"] == [], where
            committed[which] = facts["batches"] + 1
            done += 1
    finally:
        child.close()
    report(request.config, f"{mode}: {done} writers killed with SIGKILL, each store whole after")
    assert done == kills


# -- 4. replacing a store ------------------------------------------------------------------


@pytest.fixture
def old_store(tmp_path: Path) -> Path:
    path = tmp_path / "old.gr"
    gr.save(kill_batch(OLD_STORE_BATCH), path, chunk_size=KILL_CHUNK, shard_size=KILL_SHARD)
    return path


def test_save_of_an_unconvertible_object_keeps_the_old_store(old_store: Path) -> None:
    before = _without_lock(tree_snapshot(old_store))
    with pytest.raises(DTypeError, match="cannot mix numbers with 'a'"):
        gr.save([1, "a"], old_store)
    assert_same_files(before, _without_lock(tree_snapshot(old_store)), "the old store")
    assert gr.load(old_store).to_dict() == kill_batch(OLD_STORE_BATCH).to_dict()


def test_save_of_an_empty_iterator_keeps_the_old_store(old_store: Path) -> None:
    before = _without_lock(tree_snapshot(old_store))
    with pytest.raises(ValueError, match="empty iterator"):
        gr.save(iter([]), old_store)
    assert_same_files(before, _without_lock(tree_snapshot(old_store)), "the old store")
    assert gr.load(old_store).to_dict() == kill_batch(OLD_STORE_BATCH).to_dict()


@pytest.mark.parametrize(
    "kills",
    [pytest.param(5, id="5-kills"), pytest.param(50, id="50-kills", marks=pytest.mark.slow)],
)
def test_killed_overwrite_leaves_the_old_or_the_new_store_whole(
    kills: int, tmp_path: Path, server: ProbeServer, request: pytest.FixtureRequest
) -> None:
    """``gr.save`` of 10 batches of 200 rows over a store, killed during an item, after
    the last item, or up to 0.3 s later (while the new store replaces the old one)."""
    count, rows = 10, 200
    states: Counter[str] = Counter()
    step = 0
    while states["old"] + states["new"] < kills:
        assert step < 3 * kills, f"only {dict(states)} in {step} attempts"
        r = rng("overwrite", step)
        compressor = ("none", "zstd")[step % 2]
        path = tmp_path / f"o{step}" / "store.gr"
        path.parent.mkdir()
        gr.save(
            kill_batch(OLD_STORE_BATCH),
            path,
            chunk_size=KILL_CHUNK,
            shard_size=KILL_SHARD,
            compressor=compressor,
        )
        target = r.randint(0, count + 1)  # an item; `count`, `count + 1`: after the last one
        with spawn("child_overwrite", str(path), compressor, count, rows) as child:
            child.wait_for(lambda line: line == "ready")
            child.wait_for(lambda line, t=target: line == (f"item {t}" if t < count else "end"))
            time.sleep(r.uniform(0.0, 0.1) if target <= count else r.uniform(0.01, 0.3))
            child.kill()
            child.finish(timeout=30)
            killed = child.proc.returncode == -signal.SIGKILL
            assert killed or "saved" in child.lines, (
                f"overwrite {step}: {describe_exit(child.proc.returncode)}\n{child.stderr()}"
            )
        facts = server.call("probe_check_after_overwrite", str(path), count, rows)
        where = f"overwrite {step} ({compressor}, target {target} of {count} items)"
        assert facts["validate"] == [], where
        assert facts["state"] in ("old", "new"), f"{where}: {facts['state']}"
        assert facts["replaced_equal"], where
        assert facts["siblings"] == ["store.gr"], f"{where}: leftovers of the killed replace"
        states[facts["state"] if killed else "finished before the kill"] += 1
        step += 1
    report(request.config, f"overwrites killed with SIGKILL, then found: {dict(states)}")


def _unrelated_folder(folder: Path, manifest: str | None) -> None:
    (folder / "figures").mkdir(parents=True)
    (folder / "chapter1.tex").write_text("\\section{Results}\n")
    (folder / "figures" / "plot.png").write_bytes(bytes(range(256)))
    if manifest == "foreign":
        (folder / "grumpy.json").write_text(json.dumps({"cat": "grumpy", "mood": "always"}))
    elif manifest == "grumpy":  # a real store's manifest, copied among other files
        store = folder.parent / "real.gr"
        gr.save(gr.array([1, 2]), store)
        (folder / "grumpy.json").write_bytes((store / "grumpy.json").read_bytes())


@pytest.mark.parametrize(
    "manifest",
    [
        pytest.param("foreign", id="foreign-grumpy-json"),
        pytest.param("grumpy", id="copied-grumpy-manifest"),
        pytest.param(None, id="no-grumpy-json"),
    ],
)
def test_save_refuses_a_folder_that_is_not_a_store_and_deletes_nothing(
    manifest: str | None, tmp_path: Path
) -> None:
    folder = tmp_path / "thesis"
    _unrelated_folder(folder, manifest)
    before = tree_snapshot(folder)
    with pytest.raises(StoreError) as info:
        gr.save(gr.array([1, 2, 3]), folder)
    # A clear message: the folder, and what in it is not a store.
    assert str(folder) in str(info.value)
    assert "chapter1.tex" in str(info.value)
    assert_same_files(before, tree_snapshot(folder), "the refused folder")


def test_save_into_an_empty_folder_writes_the_store(tmp_path: Path) -> None:
    folder = tmp_path / "empty"
    folder.mkdir()
    gr.save(gr.array([[1, 2], [3]]), folder)
    assert gr.load(folder).to_list() == [[1, 2], [3]]
    assert gr.validate(folder) == []


# -- 5. the chunk cache --------------------------------------------------------------------


@pytest.fixture(scope="module")
def big_store(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Any]:
    """200 000 rows (about 5 MB in 9 leaves), 64 rows of which are selected."""
    path = tmp_path_factory.mktemp("cache") / "big.gr"
    frame = kill_batch(0, 200_000)
    # zstd for every leaf: the chunk cache holds decoded chunks of compressed leaves (raw
    # ones are gathered from their memory-mapped files, and counted, at every read).
    gr.save(frame, path, chunk_size=4096, compressor="zstd")
    return path, frame


@pytest.fixture(scope="module")
def rows64() -> np.ndarray:
    return np.random.default_rng(64).choice(200_000, size=64, replace=False)


def test_repeated_take_is_served_from_the_cache(
    big_store: tuple[Path, Any], rows64: np.ndarray
) -> None:
    path, frame = big_store
    h = gr.open(path)
    first = h.take(rows64).to_dict()
    after_first = h.stats()
    second = h.take(rows64).to_dict()
    after_second = h.stats()
    assert first == second == frame[rows64].to_dict()
    assert after_first["bytes_read"] > 0
    assert after_second["bytes_read"] == after_first["bytes_read"]
    assert after_second["cache_hits"] > after_first["cache_hits"]


def test_repeated_take_without_cache_reads_the_same_bytes_again(
    big_store: tuple[Path, Any], rows64: np.ndarray
) -> None:
    path, frame = big_store
    h = gr.open(path, cache="none")
    first = h.take(rows64).to_dict()
    after_first = h.stats()
    second = h.take(rows64).to_dict()
    after_second = h.stats()
    assert first == second == frame[rows64].to_dict()
    assert after_first["bytes_read"] > 0
    assert after_second["bytes_read"] == 2 * after_first["bytes_read"]
    assert after_second["cache_hits"] == 0


# -- 6. durability -------------------------------------------------------------------------


def test_durable_false_writes_the_same_data(tmp_path: Path) -> None:
    durable, fast = tmp_path / "durable.gr", tmp_path / "fast.gr"
    gr.save(kill_batch(0), durable, chunk_size=KILL_CHUNK, shard_size=KILL_SHARD)
    gr.append(kill_batch(1), durable)
    gr.save(kill_batch(0), fast, chunk_size=KILL_CHUNK, shard_size=KILL_SHARD, durable=False)
    gr.append(kill_batch(1), fast, durable=False)
    assert gr.load(fast).to_dict() == gr.load(durable).to_dict() == kill_prefix(2)
    assert gr.validate(fast) == []
    assert _without_lock(tree_snapshot(fast)).keys() == _without_lock(tree_snapshot(durable)).keys()


@pytest.mark.parametrize("durable", [True, False], ids=["durable", "not-durable"])
def test_durable_switch_decides_whether_writes_are_synced(
    durable: bool, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    synced: list[str] = []
    for name in ("fsync", "fdatasync"):
        real = getattr(os, name)
        monkeypatch.setattr(
            os, name, lambda fd, real=real, name=name: (synced.append(name), real(fd))[1]
        )
    path = tmp_path / "s.gr"
    gr.save(kill_batch(0), path, chunk_size=KILL_CHUNK, shard_size=KILL_SHARD, durable=durable)
    after_save = len(synced)
    gr.append(kill_batch(1), path, durable=durable)
    if durable:
        assert after_save > 0 and len(synced) > after_save
    else:
        assert synced == []
    assert gr.load(path).to_dict() == kill_prefix(2)


# -- 7. a full disk ------------------------------------------------------------------------

FULL_DISK = [
    pytest.param(compressor, op, target, id=f"{compressor}-{op}-{target}")
    for compressor in ("none", "zstd")
    for op in ("append", "replace")
    for target in ("chunks", "manifest", "any")
]


@pytest.mark.parametrize(("compressor", "op", "target"), FULL_DISK)
def test_full_disk_gives_a_store_error_and_keeps_the_committed_state(
    compressor: str, op: str, target: str, tmp_path: Path, server: ProbeServer
) -> None:
    facts = server.call("probe_disk_full", str(tmp_path), compressor, op, target)
    err = facts["error"]
    assert facts["refused"] > 0, "no write reached the full disk"
    assert err is not None, "the write on a full disk returned normally"
    assert err["store_error"], f"{err['type']}: {err['message']}"
    assert facts["path"] in err["message"]
    assert err["errno"] == errno.ENOSPC or "No space left on device" in err["message"], err
    assert facts["unchanged"], "the store is not at its previous committed state"
    assert facts["validate"] == []
    assert facts["append_after"], "the append after space came back"
