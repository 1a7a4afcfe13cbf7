"""Helpers of the adversarial store tests: data, damage, and probes run in child processes.

Anything that could crash (a reader handed damaged buffers may segfault) or hang (a writer
waiting for a lock forever) runs in a child interpreter, so a signal or a hang fails the
test that asked for it with a clear message instead of killing or stalling pytest:

- :class:`ProbeServer` keeps one child that runs the ``probe_*`` functions of this module on
  request (imports are paid once); a child killed by a signal or silent past a deadline is
  reported as :class:`ProbeCrash` and replaced on the next call;
- :func:`spawn` starts a child running one ``child_*`` function (writers that are killed,
  lock holders, concurrent appenders) and reads its progress lines.

Every random choice is a pure function of a seed and a step (``rng(...)``), and every
expected value is rebuilt from the deterministic builders below, never read back from a
store under test.
"""

from __future__ import annotations

import contextlib
import errno
import functools
import io
import json
import os
import queue
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

TESTS_DIR = Path(__file__).resolve().parent


def rng(*seed: Any) -> random.Random:
    """A random generator that is a pure function of ``seed`` (strings and ints)."""
    return random.Random("/".join(map(str, seed)))


# -- child processes ----------------------------------------------------------------------

_EOF = object()
_TIMEOUT = object()


class ProbeCrash(AssertionError):
    """A child interpreter died (signal, exit) or hung while running a probe."""


class ProbeError(AssertionError):
    """A probe function raised in the child (a bug of the probe or an unexpected error)."""


def describe_exit(returncode: int | None) -> str:
    if returncode is None:
        return "still running"
    if returncode < 0:
        try:
            name = signal.Signals(-returncode).name
        except ValueError:
            name = f"signal {-returncode}"
        return f"killed by {name} (return code {returncode})"
    return f"exited with status {returncode}"


class LineReader:
    """Lines of a pipe, read by a thread so that waiting for one can time out."""

    def __init__(self, stream: Any) -> None:
        self._queue: queue.Queue[Any] = queue.Queue()
        self._thread = threading.Thread(target=self._pump, args=(stream,), daemon=True)
        self._thread.start()

    def _pump(self, stream: Any) -> None:
        with contextlib.suppress(ValueError, OSError):
            for line in stream:
                self._queue.put(line.rstrip("\n"))
        self._queue.put(_EOF)

    def get(self, timeout: float) -> Any:
        """The next line, ``_EOF`` at the end, ``_TIMEOUT`` after ``timeout`` seconds."""
        try:
            return self._queue.get(timeout=max(timeout, 0.0))
        except queue.Empty:
            return _TIMEOUT


def _tail(handle: Any, limit: int = 3000) -> str:
    with contextlib.suppress(OSError, ValueError):
        handle.seek(0)
        text: str = handle.read().decode(errors="replace")
        return text[-limit:]
    return ""


_SERVER = """
import faulthandler, json, resource, sys, traceback
faulthandler.enable()
# The common soft descriptor limit (1024): stores keep 128 shard files open, so the race
# probes, whose stores have more shard files than that, exercise the pool's evictions.
_, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (min(1024, hard), hard))
sys.path.insert(0, sys.argv[1])
import _store_probes as P
for line in sys.stdin:
    request = json.loads(line)
    try:
        out = {"ok": getattr(P, request["func"])(*request["args"])}
    except BaseException as err:
        out = {"error": f"{type(err).__module__}.{type(err).__qualname__}: {err}",
               "traceback": traceback.format_exc()}
    sys.stdout.write("RESULT " + json.dumps(out, default=str) + "\\n")
    sys.stdout.flush()
"""


class ProbeServer:
    """A child interpreter running ``probe_*`` functions of this module, one call at a time."""

    def __init__(self) -> None:
        self._proc: subprocess.Popen[str] | None = None
        self._lines: LineReader | None = None
        self._stderr: Any = None

    def _start(self) -> None:
        self._close_stderr()
        self._stderr = tempfile.TemporaryFile()  # noqa: SIM115 - closed with the child
        self._proc = subprocess.Popen(
            [sys.executable, "-c", _SERVER, str(TESTS_DIR)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            text=True,
            bufsize=1,
        )
        self._lines = LineReader(self._proc.stdout)

    def call(self, func: str, *args: Any, timeout: float = 120.0) -> Any:
        """``func(*args)`` in the child; its JSON-able result.

        Raises
        ------
        ProbeCrash
            If the child died (a signal: return code < 0) or did not answer in ``timeout``.
        ProbeError
            If the probe function raised.
        """
        if self._proc is None or self._proc.poll() is not None:
            self._start()
        assert self._proc is not None and self._proc.stdin is not None and self._lines
        what = f"{func}{tuple(args)!r}"[:300]
        try:
            self._proc.stdin.write(json.dumps({"func": func, "args": list(args)}) + "\n")
            self._proc.stdin.flush()
        except (BrokenPipeError, OSError):
            pass  # it died: the read below says how
        deadline = time.monotonic() + timeout
        while True:
            line = self._lines.get(deadline - time.monotonic())
            if line is _TIMEOUT:
                self._kill()
                raise ProbeCrash(f"{what} hung: no answer within {timeout:.0f} s")
            if line is _EOF:
                code = self._proc.wait(timeout=30)
                err = _tail(self._stderr)
                self._end()
                raise ProbeCrash(f"{what}: the child {describe_exit(code)}\n{err}")
            if line.startswith("RESULT "):
                payload = json.loads(line[len("RESULT ") :])
                if "error" in payload:
                    raise ProbeError(f"{what} raised {payload['error']}\n{payload['traceback']}")
                return payload["ok"]

    def _kill(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            self._proc.kill()
            self._proc.wait(timeout=30)
        self._end()

    def _end(self) -> None:
        if self._proc is not None:
            for pipe in (self._proc.stdin, self._proc.stdout):
                with contextlib.suppress(OSError):
                    if pipe is not None:
                        pipe.close()
        self._proc = None

    def _close_stderr(self) -> None:
        if self._stderr is not None:
            self._stderr.close()
            self._stderr = None

    def close(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            assert self._proc.stdin is not None
            with contextlib.suppress(OSError):
                self._proc.stdin.close()
            try:
                self._proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait(timeout=30)
        self._end()
        self._close_stderr()


@contextlib.contextmanager
def probe_server() -> Iterator[ProbeServer]:
    server = ProbeServer()
    try:
        yield server
    finally:
        server.close()


_CHILD = """
import faulthandler, json, sys
faulthandler.enable()
sys.path.insert(0, sys.argv[1])
import _store_probes as P
getattr(P, sys.argv[2])(*json.loads(sys.argv[3]))
"""


class Child:
    """A child process running one ``child_*`` function; it reports through its lines."""

    def __init__(self, func: str, args: list[Any]) -> None:
        self.what = f"{func}{tuple(args)!r}"[:300]
        self._stderr = tempfile.TemporaryFile()  # noqa: SIM115 - closed with the child
        self.proc = subprocess.Popen(
            [sys.executable, "-c", _CHILD, str(TESTS_DIR), func, json.dumps(args)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            text=True,
        )
        self._lines = LineReader(self.proc.stdout)
        self.lines: list[str] = []

    def send(self, message: Any) -> None:
        """One JSON line to the child's stdin."""
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps(message) + "\n")
        self.proc.stdin.flush()

    def wait_for(self, accept: Callable[[str], bool], timeout: float = 60.0) -> str:
        """Read lines until one is accepted; fail on the child's end or a timeout."""
        deadline = time.monotonic() + timeout
        while True:
            line = self._lines.get(deadline - time.monotonic())
            if line is _TIMEOUT:
                self.kill()
                raise ProbeCrash(f"{self.what}: no expected line within {timeout:.0f} s")
            if line is _EOF:
                code = self.proc.wait(timeout=30)
                raise ProbeCrash(
                    f"{self.what}: the child {describe_exit(code)} before the expected line; "
                    f"it said {self.lines[-5:]}\n{self.stderr()}"
                )
            self.lines.append(line)
            if accept(line):
                return str(line)

    def finish(self, timeout: float = 120.0) -> int:
        """Wait for the end; read the remaining lines; the return code."""
        deadline = time.monotonic() + timeout
        while True:
            line = self._lines.get(deadline - time.monotonic())
            if line is _TIMEOUT:
                self.kill()
                raise ProbeCrash(f"{self.what} hung: not finished within {timeout:.0f} s")
            if line is _EOF:
                return self.proc.wait(timeout=30)
            self.lines.append(line)

    def kill(self) -> None:
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=30)

    def stderr(self) -> str:
        return _tail(self._stderr)

    def __enter__(self) -> Child:
        return self

    def __exit__(self, *_: Any) -> None:
        self.close()

    def close(self) -> None:
        """Kill the child if it still runs; close its pipes (again: nothing happens)."""
        if self.proc.poll() is None:
            self.kill()
        for pipe in (self.proc.stdin, self.proc.stdout):
            if pipe is not None:
                with contextlib.suppress(OSError):
                    pipe.close()
        self._stderr.close()

    def result(self) -> Any:
        """The JSON of the child's ``RESULT`` line."""
        found = [line for line in self.lines if line.startswith("RESULT ")]
        assert found, f"{self.what}: no RESULT line; it said {self.lines[-5:]}\n{self.stderr()}"
        return json.loads(found[-1][len("RESULT ") :])


def spawn(func: str, *args: Any) -> Child:
    return Child(func, list(args))


def say(*parts: Any) -> None:
    print(*parts, flush=True)


def report(config: pytest.Config, text: str) -> None:
    """A line on pytest's terminal, shown even with output capture on (``-q``)."""
    terminal = config.pluginmanager.get_plugin("terminalreporter")
    capture = config.pluginmanager.get_plugin("capturemanager")
    if terminal is None or capture is None:
        print(text)
        return
    with capture.global_and_fixture_disabled():
        terminal.write("\n")  # after the progress dots
        terminal.write_line(text)


def assert_same_files(before: dict[str, bytes], after: dict[str, bytes], what: str) -> None:
    """Two :func:`tree_snapshot` results hold the same files with the same content."""
    assert sorted(after.keys() - before.keys()) == [], f"{what}: files were added"
    assert sorted(before.keys() - after.keys()) == [], f"{what}: files were deleted"
    assert sorted(k for k in before if after[k] != before[k]) == [], f"{what}: files changed"


# -- data ---------------------------------------------------------------------------------

KILL_ROWS = 40  # rows per batch of the kill loops
KILL_CHUNK = 64  # elements per inner chunk: batches cross inner-chunk boundaries
KILL_SHARD = 2 * KILL_CHUNK  # elements per shard file: appends replace and add shard files
KILL_SCHEMA = ["mol", "atom"]


LIGHT_COLUMNS = ("mol_name", "atom_x")  # 5 leaves instead of 13: cheaper commits


@functools.lru_cache(maxsize=4096)
def _kill_batch_dict(k: int, rows: int, light: bool = False) -> dict[str, list[Any]]:
    return kill_batch(k, rows, light).to_dict()


def kill_batch(k: int, rows: int = KILL_ROWS, light: bool = False) -> Any:
    """Batch ``k``: a string, a list-of-float, a union, a fixed axis with null rows and
    nullable columns (``light``: the string and list columns only); every value encodes its
    row id ``k * rows + i``, so order, gaps and repeats show."""
    import pyarrow as pa

    import grumpy_arrow as gr

    ids = list(range(k * rows, (k + 1) * rows))
    columns = {
        "mol_id": gr.array(ids, dtype=gr.int64),
        "mol_name": gr.array([None if i % 6 == 1 else f"m{i}" for i in ids], dtype=gr.string),
        "mol_tag": gr.array([None if i % 5 == 2 else [i, -i] if i % 3 == 0 else i for i in ids]),
        "mol_w": gr.array([None if i % 4 == 3 else i / 8 for i in ids], dtype=gr.float64),
        "atom_x": gr.array([[i + j / 16 for j in range(i % 5)] for i in ids], dtype=gr.float64),
        "mol_pos": gr.from_arrow(
            pa.array(
                [None if i % 7 == 5 else [i, -i, i / 4] for i in ids],
                type=pa.list_(pa.float64(), 3),
            )
        ),
    }
    if light:
        columns = {name: columns[name] for name in LIGHT_COLUMNS}
    return gr.dataframe(columns, schema=KILL_SCHEMA)


def kill_prefix(k: int, rows: int = KILL_ROWS, light: bool = False) -> dict[str, list[Any]]:
    """The content of a store holding exactly batches ``0 .. k-1``."""
    out: dict[str, list[Any]] = {name: [] for name in _kill_batch_dict(0, rows, light)}
    for b in range(k):
        for name, values in _kill_batch_dict(b, rows, light).items():
            out[name].extend(values)
    return out


def race_frame() -> Any:
    """3000 rows of 3-lists in 6 columns (over 1000 shard files at ``chunk_size=64,
    shard_size=64``)."""
    import grumpy_arrow as gr

    x = gr.array([[i, i + 1, i + 2] for i in range(3000)])
    return gr.dataframe({f"c{k}": x for k in range(6)})


def count_chunk_files(path: str | Path) -> int:
    """Files inside the ``c/`` chunk directories of every leaf."""
    return sum(len(files) for root, _, files in os.walk(path) if os.path.basename(root) == "c")


def tree_snapshot(path: str | Path) -> dict[str, bytes]:
    """Every file under ``path`` (relative name -> content)."""
    out = {}
    for root, _, files in os.walk(path):
        for name in files:
            full = os.path.join(root, name)
            out[os.path.relpath(full, path)] = Path(full).read_bytes()
    return out


# -- probes: reading and writing sound stores ---------------------------------------------


def probe_save_kill_batches(path: str, batches: list[int], compressor: str, sharded: bool) -> int:
    """Write batches (a store, or a sharded dataset of 3 batches per shard)."""
    import grumpy_arrow as gr

    if sharded:
        with gr.ShardedWriter(
            path,
            shard_rows=3 * KILL_ROWS,
            chunk_size=KILL_CHUNK,
            shard_size=KILL_SHARD,
            compressor=compressor,
            like=kill_batch(0)[0:0],
        ) as w:
            for b in batches:
                w.write(kill_batch(b))
        gr.consolidate(path)
    else:
        gr.save(
            (kill_batch(b) for b in batches),
            path,
            chunk_size=KILL_CHUNK,
            shard_size=KILL_SHARD,
            compressor=compressor,
        )
    return len(gr.open(path))


def probe_load_dict(path: str) -> dict[str, list[Any]]:
    import grumpy_arrow as gr

    got = gr.load(path)
    return got.to_dict() if hasattr(got, "to_dict") else {"array": got.to_list()}


def probe_validate(path: str) -> list[str]:
    import grumpy_arrow as gr

    return list(gr.validate(path))


def _error(err: BaseException) -> dict[str, Any]:
    from grumpy_arrow.errors import StoreError, StoreFormatError, StoreLockedError

    return {
        "type": f"{type(err).__module__}.{type(err).__qualname__}",
        "message": str(err),
        "store_error": isinstance(err, StoreError),
        "format_error": isinstance(err, StoreFormatError),
        "locked_error": isinstance(err, StoreLockedError),
        "errno": getattr(err, "errno", None),
    }


def probe_open_limit() -> int:
    """The open shard files a store keeps in the probe server (see ``_SERVER``)."""
    from grumpy_arrow.storage.local import open_limit

    return open_limit()


def probe_race_loads(path: str, times: int) -> dict[str, Any]:
    """Load the store ``times`` times; every load must equal :func:`race_frame`."""
    import grumpy_arrow as gr

    want = race_frame().to_arrow()
    mismatches, errors = [], []
    for i in range(times):
        try:
            got = gr.load(path).to_arrow()
        except Exception as err:
            errors.append(f"load {i}: {type(err).__name__}: {err}")
            continue
        if not got.equals(want):
            mismatches.append(i)
    return {"mismatches": mismatches, "errors": errors[:5], "n_errors": len(errors)}


def probe_race_takes(path: str, cache: str, threads: int, takes: int) -> dict[str, Any]:
    """``threads`` threads each doing ``takes`` random ``take``s on ONE handle."""
    from concurrent.futures import ThreadPoolExecutor

    import grumpy_arrow as gr

    df = race_frame()
    h = gr.open(path, cache=cache)

    def worker(t: int) -> tuple[list[str], list[str]]:
        gen = np.random.default_rng([20240611, t])
        wrong, errors = [], []
        for i in range(takes):
            rows = gen.integers(0, len(df), size=32)
            try:
                got = h.take(rows).to_dict()
            except Exception as err:
                errors.append(f"thread {t} take {i}: {type(err).__name__}: {err}")
                continue
            if got != df[rows].to_dict():
                wrong.append(f"thread {t} take {i} rows {rows[:8].tolist()}...")
        return wrong, errors

    with ThreadPoolExecutor(threads) as pool:
        results = list(pool.map(worker, range(threads)))
    wrong = [w for r in results for w in r[0]]
    errors = [e for r in results for e in r[1]]
    return {
        "wrong": wrong[:5],
        "n_wrong": len(wrong),
        "errors": errors[:5],
        "n_errors": len(errors),
    }


def probe_timed_append(path: str, row: list[int], timeout: float | None) -> dict[str, Any]:
    """``gr.append`` of one row, timed; its error as data."""
    import grumpy_arrow as gr

    kwargs = {} if timeout is None else {"timeout": timeout}
    start = time.monotonic()
    try:
        gr.append(gr.array([row]), path, **kwargs)
    except Exception as err:
        return {"elapsed": time.monotonic() - start, "error": _error(err)}
    return {"elapsed": time.monotonic() - start, "error": None}


def probe_watch_loads(
    path: str, done_file: str, rows: int, total: int, budget: float
) -> dict[str, Any]:
    """Load (and lazily read) the store over and over while a writer appends; every state
    must be an exact prefix of whole batches of the final content."""
    import grumpy_arrow as gr

    want = kill_prefix(total, rows, light=True)
    states: set[int] = set()
    violations: list[str] = []
    loads = 0
    end = time.monotonic() + budget
    finished = False
    while time.monotonic() < end and not finished:
        finished = os.path.exists(done_file)  # one more round after the writer is done
        try:
            got = gr.load(path).to_dict()
            n = len(got["mol_name"])
            h = gr.open(path)
            tail = list(range(max(0, len(h) - 3), len(h)))
            lazy = h[tail].to_dict()
        except Exception as err:
            violations.append(f"read {loads}: {type(err).__name__}: {err}")
            loads += 1
            continue
        loads += 1
        states.add(n)
        if n % rows:
            violations.append(f"read {loads}: {n} rows, not a whole number of batches")
        elif got != {c: v[:n] for c, v in want.items()}:
            violations.append(f"read {loads}: {n} rows that are not the first {n} rows")
        if lazy != {c: [want[c][i] for i in tail] for c in want}:
            violations.append(f"read {loads}: lazy rows {tail} differ")
    return {
        "loads": loads,
        "states": sorted(states),
        "violations": violations[:10],
        "finished": finished,
    }


# -- children: writers ---------------------------------------------------------------------


def child_append_rows(path: str, writer: int, count: int, timeout: float | None) -> None:
    """Writer ``writer`` appends rows ``[writer, j]``; prints which appends returned."""
    import grumpy_arrow as gr
    from grumpy_arrow.errors import StoreLockedError

    kwargs = {} if timeout is None else {"timeout": timeout}
    ok, locked, other = [], [], []
    for j in range(count):
        try:
            gr.append(gr.array([[writer, j]]), path, **kwargs)
        except StoreLockedError:
            locked.append(j)
        except Exception as err:
            other.append(f"append {j}: {type(err).__module__}.{type(err).__qualname__}: {err}")
        else:
            ok.append(j)
    say("RESULT " + json.dumps({"ok": ok, "locked": locked, "other": other}))


def child_hold_lock(path: str, release_file: str) -> None:
    """``gr.save(generator, mode="a")`` that commits ``[7, 0]``, then holds the store (its
    lock) until ``release_file`` appears, then commits ``[7, 1]``."""
    import grumpy_arrow as gr

    def items() -> Iterator[Any]:
        yield gr.array([[7, 0]])
        say("holding")
        end = time.monotonic() + 60
        while not os.path.exists(release_file) and time.monotonic() < end:
            time.sleep(0.01)
        yield gr.array([[7, 1]])

    gr.save(items(), path, mode="a")
    say("done")


def child_append_batches(path: str, first: int, count: int, rows: int, done_file: str) -> None:
    import grumpy_arrow as gr

    for k in range(first, first + count):
        gr.append(kill_batch(k, rows, light=True), path)
    Path(done_file).touch()
    say("done")


def child_kill_writer(mode: str) -> None:
    """A writer to be killed. It imports, prints ``ready``, then reads its task from stdin
    (JSON: path, compressor, first, count; so it can start while the previous one is being
    checked), writes batches ``first .. first+count-1`` and prints ``committed N`` whenever
    at least ``N`` batches are committed."""
    import grumpy_arrow as gr

    say("ready")
    task = json.loads(sys.stdin.readline())
    path, compressor, first, count = task["path"], task["compressor"], task["first"], task["count"]
    if task.get("parallel"):  # every commit writes its leaves on threads, however small
        from grumpy_arrow.storage import writer

        writer.PARALLEL_WRITE_BYTES, writer.WRITE_THREADS = 0, 4
    batches = [kill_batch(k) for k in range(first, first + count)]
    if mode == "save-generator":

        def items() -> Iterator[Any]:
            for j, batch in enumerate(batches):
                say(f"committed {first + j}")  # the previous items are committed
                yield batch
            say("end")

        gr.save(items(), path, chunk_size=KILL_CHUNK, shard_size=KILL_SHARD, compressor=compressor)
    elif mode == "append":
        for j, batch in enumerate(batches):
            gr.append(batch, path)
            say(f"committed {first + j + 1}")
    elif mode == "sharded":
        with gr.ShardedWriter(
            path,
            shard_rows=3 * KILL_ROWS,
            mode="a",
            chunk_size=KILL_CHUNK,
            shard_size=KILL_SHARD,
            compressor=compressor,
            like=kill_batch(0)[0:0],
        ) as w:
            for j, batch in enumerate(batches):
                w.write(batch)
                say(f"committed {first + j + 1}")
    else:
        raise ValueError(mode)
    say("done")


def probe_check_after_kill(path: str, sharded: bool) -> dict[str, Any]:
    """What a killed writer left: validate, content, then one more append."""
    import grumpy_arrow as gr

    out: dict[str, Any] = {}
    if sharded:
        gr.consolidate(path)  # the killed writer's commits become visible
    out["validate"] = gr.validate(path)
    got = gr.load(path).to_dict()
    n = len(got["mol_id"])
    k = n // KILL_ROWS
    out["rows"] = n
    out["batches"] = k
    out["whole_prefix"] = n % KILL_ROWS == 0 and got == kill_prefix(k)
    gr.append(kill_batch(k), path)
    after = gr.load(path).to_dict()
    out["after_rows"] = len(after["mol_id"])
    out["after_equal"] = after == kill_prefix(k + 1)
    out["after_validate"] = gr.validate(path)
    return out


def child_overwrite(path: str, compressor: str, count: int, rows: int) -> None:
    """``gr.save`` of a generator of ``count`` batches over an existing store."""
    import grumpy_arrow as gr

    batches = [kill_batch(k, rows) for k in range(count)]
    say("ready")

    def items() -> Iterator[Any]:
        for j, batch in enumerate(batches):
            say(f"item {j}")
            yield batch
        say("end")

    gr.save(items(), path, chunk_size=KILL_CHUNK, shard_size=KILL_SHARD, compressor=compressor)
    say("saved")


OLD_STORE_BATCH = 999  # the content of the store that an overwrite replaces


def probe_check_after_overwrite(path: str, count: int, rows: int) -> dict[str, Any]:
    """Old or new store, whole; then a replace works and sweeps what the kill left."""
    import grumpy_arrow as gr

    out: dict[str, Any] = {"validate": gr.validate(path)}
    got = gr.load(path).to_dict()
    if got == _kill_batch_dict(OLD_STORE_BATCH, KILL_ROWS):
        out["state"] = "old"
    elif got == kill_prefix(count, rows):
        out["state"] = "new"
    else:
        out["state"] = f"neither: {len(got['mol_id'])} rows"
    gr.save(kill_batch(OLD_STORE_BATCH), path, chunk_size=KILL_CHUNK, shard_size=KILL_SHARD)
    out["replaced_equal"] = gr.load(path).to_dict() == _kill_batch_dict(OLD_STORE_BATCH, KILL_ROWS)
    parent = os.path.dirname(os.path.abspath(path))
    out["siblings"] = sorted(os.listdir(parent))
    return out


# -- probes: a full disk -------------------------------------------------------------------


class _FullFile:
    """A file opened for writing on a full disk: every write raises ENOSPC."""

    def __init__(self, raw: Any, path: str) -> None:
        self._raw = raw
        self._path = path

    def _full(self, *_: Any) -> Any:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), self._path)

    write = writelines = _full

    def __enter__(self) -> _FullFile:
        return self

    def __exit__(self, *_: Any) -> None:
        self._raw.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._raw, name)


@contextlib.contextmanager
def disk_full(parent: str, target: str) -> Iterator[list[str]]:
    """Make writes under ``parent`` fail with ENOSPC: ``target`` is ``"chunks"`` (chunk
    files of leaves), ``"manifest"`` (``grumpy.json`` and its temporary files) or
    ``"any"``. Covers ``open``/``io.open``/``Path.open`` and the ``os`` write calls.
    Yields the list of paths whose writes were refused."""
    import builtins

    parent = os.path.abspath(parent)
    refused: list[str] = []

    def hit(path: Any) -> bool:
        try:
            full = os.path.abspath(os.fsdecode(path))
        except TypeError:
            return False
        if not full.startswith(parent + os.sep):
            return False
        if target == "manifest":
            return os.path.basename(full).startswith("grumpy.json")
        if target == "chunks":
            return f"{os.sep}c{os.sep}" in full
        return True

    real_open = builtins.open

    def fake_open(file: Any, mode: str = "r", *args: Any, **kwargs: Any) -> Any:
        raw = real_open(file, mode, *args, **kwargs)
        if isinstance(file, (str, bytes, os.PathLike)) and set(mode) & set("wax+") and hit(file):
            refused.append(os.fsdecode(file))
            return _FullFile(raw, os.fsdecode(file))
        return raw

    def fd_path(fd: int) -> str:
        try:
            return os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            return ""

    def guard(real: Callable[..., Any]) -> Callable[..., Any]:
        def wrapped(fd: int, *args: Any) -> Any:
            path = fd_path(fd)
            if path and hit(path):
                refused.append(path)
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), path)
            return real(fd, *args)

        return wrapped

    patches: list[tuple[Any, str, Any]] = [(builtins, "open", fake_open), (io, "open", fake_open)]
    for name in ("write", "pwrite", "writev", "pwritev"):
        if hasattr(os, name):
            patches.append((os, name, guard(getattr(os, name))))
    saved = [(obj, name, getattr(obj, name)) for obj, name, _ in patches]
    try:
        for obj, name, value in patches:
            setattr(obj, name, value)
        yield refused
    finally:
        for obj, name, value in saved:
            setattr(obj, name, value)


def probe_disk_full(parent: str, compressor: str, op: str, target: str) -> dict[str, Any]:
    """An append (or a replacing save) on a full disk: the error, then the store."""
    import grumpy_arrow as gr

    path = os.path.join(parent, "store.gr")
    gr.save(
        (kill_batch(k) for k in range(2)),
        path,
        chunk_size=KILL_CHUNK,
        shard_size=KILL_SHARD,
        compressor=compressor,
    )
    before = gr.load(path).to_dict()
    out: dict[str, Any] = {"path": path, "error": None}
    with disk_full(parent, target) as refused:
        try:
            if op == "append":
                gr.append(kill_batch(2), path)
            else:
                gr.save(
                    (kill_batch(k) for k in range(5, 8)),
                    path,
                    chunk_size=KILL_CHUNK,
                    shard_size=KILL_SHARD,
                    compressor=compressor,
                )
        except Exception as err:
            out["error"] = _error(err)
    out["refused"] = len(refused)
    out["unchanged"] = gr.load(path).to_dict() == before
    out["validate"] = gr.validate(path)
    gr.append(kill_batch(2), path)  # space is back
    out["append_after"] = gr.load(path).to_dict() == kill_prefix(3)
    return out


# -- the corruption matrix -------------------------------------------------------------------

CORRUPT_ROWS = 150
CORRUPT_CHUNK = 32  # values per inner chunk
CORRUPT_SHARD = 64  # values per shard file: two inner chunks (an index of 36 bytes)
CORRUPT_SCHEMA = ["mol", "res", "atom"]


def corruption_frame() -> Any:
    """Every leaf role: int and float values, validity, string offsets and data, own and
    level offsets, union type_ids and value_offsets (at the root and inside lists)."""
    import pyarrow as pa

    import grumpy_arrow as gr

    n = range(CORRUPT_ROWS)
    x = gr.array(
        [[[i + j / 10 + k / 100 for k in range((i + j) % 3)] for j in range(i % 4)] for i in n]
    )
    return gr.dataframe(
        {
            "mol_id": gr.array(list(n), dtype=gr.int64),
            "mol_w": gr.array([None if i % 3 == 0 else i * 0.5 for i in n], dtype=gr.float64),
            "mol_name": gr.array([None if i % 7 == 2 else f"name{i}" for i in n], dtype=gr.string),
            "mol_tag": gr.array([None if i % 11 == 5 else i if i % 2 else [i, i + 1] for i in n]),
            "res_name": gr.array([[f"r{i}.{j}" for j in range(i % 4)] for i in n]),
            "res_tag": gr.array([[j if j % 2 else [i, j] for j in range(i % 4)] for i in n]),
            "res_pairs": gr.array(
                [[[i + j + k for k in range((i + j) % 3)] for j in range(i % 4)] for i in n]
            ),
            "atom_x": x,
            # A fixed axis with null rows (padding slots in the values), and fixed points
            # under the atom level (a values leaf only).
            "mol_pos": gr.from_arrow(
                pa.array(
                    [None if i % 5 == 1 else [i, -i / 2] for i in n], type=pa.list_(pa.float64(), 2)
                )
            ),
            "atom_xyz": gr.stack([x, x * 2.0, -x]),
        },
        schema=CORRUPT_SCHEMA,
    )


def corruption_array() -> Any:
    """An array store: null list rows (list validity), a union inside the lists."""
    import grumpy_arrow as gr

    n = range(CORRUPT_ROWS)
    return gr.array(
        [None if i % 7 == 3 else [j if j % 3 else [i, j] for j in range(i % 5)] for i in n]
    )


# Every leaf of the two stores, by role (the names follow docs/format.md).
CORRUPT_ARRAY_LEAVES = {
    "array/r-offsets": "offsets",
    "array/r-validity": "validity",
    "array/r.c-type_ids": "type_ids",
    "array/r.c-value_offsets": "value_offsets",
    "array/r.c.l-offsets": "offsets",
    "array/r.c.l.c-values": "values",
    "array/r.c.s-values": "values",
}
CORRUPT_LEAVES = {
    "_levels/atom-offsets": "offsets",
    "_levels/res-offsets": "offsets",
    "atom_x/r.c.c-values": "values",
    "atom_xyz/r.c.c.c-values": "values",
    "mol_id/r-values": "values",
    "mol_name/r-data": "data",
    "mol_name/r-offsets": "offsets",
    "mol_name/r-validity": "validity",
    "mol_pos/r-validity": "validity",
    "mol_pos/r.c-validity": "validity",
    "mol_pos/r.c-values": "values",
    "mol_tag/r-type_ids": "type_ids",
    "mol_tag/r-value_offsets": "value_offsets",
    "mol_tag/r.l-offsets": "offsets",
    "mol_tag/r.l.c-values": "values",
    "mol_tag/r.s-validity": "validity",
    "mol_tag/r.s-values": "values",
    "mol_w/r-validity": "validity",
    "mol_w/r-values": "values",
    "res_name/r.c-data": "data",
    "res_name/r.c-offsets": "offsets",
    "res_pairs/r.c-offsets": "offsets",
    "res_pairs/r.c.c-values": "values",
    "res_tag/r.c-type_ids": "type_ids",
    "res_tag/r.c-value_offsets": "value_offsets",
    "res_tag/r.c.l-offsets": "offsets",
    "res_tag/r.c.l.c-values": "values",
    "res_tag/r.c.s-values": "values",
}

VALUE_DAMAGES = {  # damage -> the roles it applies to
    "offsets-decreasing": ("offsets",),
    "offsets-last-past-data": ("offsets",),
    "offsets-first-negative": ("offsets",),
    "type-ids-7": ("type_ids",),
    "value-offsets-past-child": ("value_offsets",),
    "validity-shorter": ("validity",),
}
FILE_DAMAGES = ("chunk-truncated", "chunk-missing", "chunk-bit-flip", "chunk-zero-length")


CORRUPT_STORES = {"frame": CORRUPT_LEAVES, "array": CORRUPT_ARRAY_LEAVES}


def corruption_cases(compressors: tuple[str, ...]) -> list[dict[str, str]]:
    cases = []
    for compressor in compressors:
        for store, leaves in CORRUPT_STORES.items():
            for leaf, role in leaves.items():
                damages = [d for d, roles in VALUE_DAMAGES.items() if role in roles]
                for damage in [*damages, *FILE_DAMAGES]:
                    cases.append(
                        {"compressor": compressor, "store": store, "leaf": leaf, "damage": damage}
                    )
    return cases


def case_id(case: dict[str, str]) -> str:
    """``compressor-leaf-damage`` (leaf names tell the stores apart)."""
    return f"{case['compressor']}-{case['leaf']}-{case['damage']}"


@functools.lru_cache(maxsize=2)
def _corruption_data(store: str) -> Any:
    """The undamaged content: ``to_dict`` of the frame, ``to_list`` of the array."""
    if store == "frame":
        return corruption_frame().to_dict()
    return corruption_array().to_list()


def _rows_of(data: Any, rows: np.ndarray) -> Any:
    if isinstance(data, dict):
        return {c: [v[i] for i in rows] for c, v in data.items()}
    return [data[i] for i in rows]


def _content(obj: Any) -> Any:
    return obj.to_dict() if hasattr(obj, "to_dict") else obj.to_list()


def probe_build_corruption_store(path: str, compressor: str, store: str) -> list[str]:
    import grumpy_arrow as gr

    obj = corruption_frame() if store == "frame" else corruption_array()
    gr.save(obj, path, chunk_size=CORRUPT_CHUNK, shard_size=CORRUPT_SHARD, compressor=compressor)
    return sorted(json.loads(Path(path, "grumpy.json").read_text())["leaves"])


def _leaf_geometry(path: str, leaf: str) -> tuple[int, int, int, int]:
    """``(committed length, inner chunk length, shard length, itemsize)`` of a version-2
    leaf, from the manifest and the leaf's ``zarr.json`` (docs/format.md: the chunk grid
    gives the shard length, the ``sharding_indexed`` codec the inner chunk length)."""
    manifest = json.loads(Path(path, "grumpy.json").read_text())
    if leaf not in manifest["leaves"]:
        raise KeyError(f"the manifest has no leaf {leaf!r}")
    meta = json.loads(Path(path, leaf, "zarr.json").read_text())
    shard = int(meta["chunk_grid"]["configuration"]["chunk_shape"][0])
    (sharding,) = meta["codecs"]
    assert sharding["name"] == "sharding_indexed", meta["codecs"]
    chunk = int(sharding["configuration"]["chunk_shape"][0])
    itemsize = np.dtype(meta["data_type"]).itemsize
    return int(manifest["leaves"][leaf]["length"]), chunk, shard, itemsize


def damage_store(path: str, leaf: str, damage: str, compressor: str) -> dict[str, Any]:
    """Damage one leaf of the store at ``path``; what was done (position, chunk, bytes)."""
    import zarr

    length, chunk, shard, itemsize = _leaf_geometry(path, leaf)
    info: dict[str, Any] = {"length": length, "chunk": chunk, "shard": shard}
    if damage in VALUE_DAMAGES:
        arr = zarr.open_array(os.path.join(path, leaf), mode="r+")
        values = np.asarray(arr[:length])
        mid = length // 2
        if damage == "offsets-decreasing":
            i = next(j for j in range(mid, length - 1) if values[j - 1] >= 1)
            arr[i] = values[i - 1] - 1
        elif damage == "offsets-last-past-data":
            i = length - 1
            arr[i] = values[i] + 1000
        elif damage == "offsets-first-negative":
            i = 0
            arr[i] = -3
        elif damage == "type-ids-7":
            i = mid
            arr[i] = 7
        elif damage == "value-offsets-past-child":
            i = mid
            arr[i] = 1_000_000
        else:  # validity-shorter
            i = mid
            arr.resize((i,))
        info["position"] = int(i)
        return info
    # The middle shard file holding committed values (every leaf has several).
    shards = -(-length // shard)
    k = shards // 2
    committed = min(chunk, length - k * shard) * itemsize  # committed bytes of its chunk 0
    index = (shard // chunk) * 16 + 4  # (offset, nbytes) per inner chunk, then a crc32c
    file = Path(path, leaf, "c", str(k))
    size = file.stat().st_size
    info.update(shards=shards, shard_index=k, file=str(file), file_size=size, index_bytes=index)
    if damage == "chunk-missing":
        file.unlink()
    elif damage == "chunk-zero-length":
        file.write_bytes(b"")
    elif damage == "chunk-truncated":
        # Cut to fewer bytes than the shard's index (which ends the file): the cut removes
        # committed data, and the reader can tell the file is too short.
        cut = index // 2
        with open(file, "r+b") as fh:
            fh.truncate(cut)
        info["cut"] = cut
    else:  # chunk-bit-flip: bit 0 of a byte inside the committed values (or the stream)
        data = bytearray(file.read_bytes())
        # A raw shard holds its inner chunk 0's values from byte 0; a compressed one,
        # its chunks' streams, then the index: the middle byte is one of them.
        at = committed // 2 if compressor == "none" else size // 2
        data[at] ^= 0x01
        file.write_bytes(bytes(data))
        info["flipped_byte"] = at
    return info


def _outcome(read: Callable[[], Any], want: Any) -> dict[str, Any]:
    try:
        got = read()
    except Exception as err:
        return {"kind": "error", **_error(err)}
    return {"kind": "data", "equal": got == want}


def probe_corruption_case(case: dict[str, str], pristine: str, workdir: str) -> dict[str, Any]:
    """Damage a copy of the pristine store; what load, open, validate and the CLI do."""
    import grumpy_arrow as gr
    from grumpy_arrow.cli import main as cli_main

    path = os.path.join(workdir, re.sub(r"[^\w.-]+", "_", case_id(case)))
    shutil.rmtree(path, ignore_errors=True)
    shutil.copytree(pristine, path)
    out: dict[str, Any] = {"path": path}
    out["damage"] = damage_store(path, case["leaf"], case["damage"], case["compressor"])
    want = _corruption_data(case["store"])
    every = np.random.default_rng(7).permutation(CORRUPT_ROWS)
    few = np.array([0, 3, CORRUPT_ROWS // 2, 77, CORRUPT_ROWS - 1])

    def select(rows: np.ndarray) -> Callable[[], Any]:
        return lambda: _content(gr.open(path)[rows])

    out["load"] = _outcome(lambda: _content(gr.load(path)), want)
    out["take_all"] = _outcome(select(every), _rows_of(want, every))
    out["take_few"] = _outcome(select(few), _rows_of(want, few))

    def rows_bare() -> list[Any]:
        # One row at a time with the cache off: the window path, where a row's Blosc
        # leaves are decoded together in one compiled call.
        h = gr.open(path, cache="none")
        return [_content(h[int(i) : int(i) + 1]) for i in few]

    out["rows_bare"] = _outcome(rows_bare, [_rows_of(want, np.array([i])) for i in few])
    try:
        out["validate"] = {"kind": "problems", "problems": gr.validate(path)}
    except Exception as err:
        out["validate"] = {"kind": "error", **_error(err)}
    stdout, stderr = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        try:
            code = cli_main(["validate", path])
        except BaseException as err:  # main() must not raise
            code = f"raised {type(err).__name__}: {err}"
    out["cli"] = {"code": code, "output": stdout.getvalue() + stderr.getvalue()}
    return out


def kill_when_ready(code: str, args: list[str], delay: float, timeout: float) -> list[int]:
    """Run ``python -c code *args``, wait for its ``ready`` line, SIGKILL it ``delay``
    seconds later, and return the integers it printed after ``ready`` (what it reported
    done). Fails when the child did not die of the SIGKILL."""
    proc = subprocess.Popen(
        [sys.executable, "-c", code, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        ready = proc.stdout.readline() if proc.stdout else ""
        assert ready.strip() == "ready", (ready, proc.stderr.read() if proc.stderr else "")
        time.sleep(delay)
        os.kill(proc.pid, signal.SIGKILL)
        out, err = proc.communicate(timeout=timeout)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == -signal.SIGKILL, err
    return [int(line) for line in out.split()]
