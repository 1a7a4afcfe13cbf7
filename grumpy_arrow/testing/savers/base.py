"""The hooks, capability flags, fixtures and shared checks of :class:`SaverTests`.

The tests themselves are in :mod:`~grumpy_arrow.testing.savers.rows`,
:mod:`~grumpy_arrow.testing.savers.rules` and :mod:`~grumpy_arrow.testing.savers.strings`;
:class:`~grumpy_arrow.testing.savers.SaverTests` joins them.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, ClassVar, Literal

import numpy as np
import pytest

import grumpy_arrow as gr
from grumpy_arrow._typing import Approach
from grumpy_arrow.errors import DatasetNotFoundError, StoreLockedError
from grumpy_arrow.savers import Saver
from grumpy_arrow.storage.writer import lock_file

__all__ = ["Make", "SaverTestsBase", "dead_pid", "is_locked", "rows_of", "target_files"]

#: ``make(approach="append", name="dataset")``: a new saver instance of the test's target.
Make = Callable[..., Any]

# A second "writer": a child process holding the lock file argv[1] until it is killed.
HOLD_LOCK = """
import fcntl, os, sys, time
fd = os.open(sys.argv[1], os.O_CREAT | os.O_RDWR, 0o644)
fcntl.flock(fd, fcntl.LOCK_EX)
print("locked", flush=True)
time.sleep(60)
"""


def rows_of(values: np.ndarray, offsets: np.ndarray | None) -> list[Any]:
    """Python rows of a rectangular array, or of ragged ``values`` + ``offsets``.

    Parameters
    ----------
    values : numpy.ndarray
        The rows (rectangular) or the values of all rows, one after another (ragged).
    offsets : numpy.ndarray or None
        ``rows + 1`` positions into ``values`` (ragged), or ``None`` (rectangular).

    Returns
    -------
    list
        One Python value per row, as :meth:`numpy.ndarray.tolist` gives them.

    Examples
    --------
    >>> import numpy as np
    >>> rows_of(np.array([1, 2, 3]), np.array([0, 2, 2, 3]))
    [[1, 2], [], [3]]
    >>> rows_of(np.array([[1, 2], [3, 4]]), None)
    [[1, 2], [3, 4]]
    """
    if offsets is None:
        return list(values.tolist())
    return [values[a:b].tolist() for a, b in itertools.pairwise(offsets)]


def target_files(root: Path) -> dict[str, bytes]:
    """Every file under ``root`` with its bytes; lock files (``*.lock``, ``.locks/``) aside."""
    out = {}
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root).as_posix()
        if path.is_file() and not rel.endswith(".lock") and ".locks" not in path.parts:
            out[rel] = path.read_bytes()
    return out


def dead_pid() -> int:
    """The pid of a process that has exited (and been reaped)."""
    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid


def is_locked(path: str) -> bool:
    """Whether some process holds the writer lock (an ``flock``) on the lock file ``path``.

    Lock files are never deleted: a free lock is an unlocked file, or no file at all (which
    this check does not create).
    """
    if not os.path.exists(path):
        return False
    try:
        with lock_file(path, f"{path} is locked", timeout=0):
            return False
    except StoreLockedError:
        return True


class SaverTestsBase:
    """Hooks, capabilities, fixtures and checks shared by the tests of :class:`SaverTests`.

    See :class:`~grumpy_arrow.testing.savers.SaverTests` for the contract of a subclass.
    """

    #: The class of the savers :meth:`new` returns (checked by the ``repr`` test).
    saver_cls: ClassVar[type[Saver]]
    #: ``approach="overwrite"`` replaces the dataset (False: those tests are skipped).
    supports_overwrite: ClassVar[bool] = True
    #: ``approach="update"`` writes rows at ``indices=`` (False: those tests are skipped).
    supports_update: ClassVar[bool] = True
    #: Ragged rows (lists of different lengths) are stored and loaded as a ``GrumpyArray``
    #: (False: those tests are skipped).
    supports_ragged: ClassVar[bool] = True
    #: How ``load`` gives back strings (``str`` / ``bytes``): ``"any-length"`` as NumPy
    #: ``object`` arrays (``ZarrSaver``, ``HDF5Saver``), ``"fixed-width"`` as NumPy ``<U`` /
    #: ``S`` arrays as wide as the first batch needs (``NumpySaver``), or ``None`` to skip
    #: the string tests (no strings, or strings loaded otherwise, as ``GrumpySaver`` does).
    strings: ClassVar[Literal["any-length", "fixed-width"] | None] = "any-length"
    #: Rows of another shape, and ragged rows into a rectangular dataset, are refused
    #: (``GrumpySaver`` stores any rows: 2-D batches are lists to it).
    strict_shapes: ClassVar[bool] = True
    #: An update may give a ragged row another length (``GrumpySaver`` rewrites its store);
    #: False: such an update is refused.
    ragged_update_resizes: ClassVar[bool] = False
    #: Test name (with parameters) -> reason: marked ``xfail(strict=True)``.
    KNOWN_BUGS: ClassVar[dict[str, str]] = {}
    #: Refused-call case id -> the rows after it, for a saver that widens the stored type
    #: instead of refusing (``GrumpySaver``: see docs/storage.md "Appends that widen types").
    WIDENED: ClassVar[dict[str, list[Any]]] = {}

    # -- hooks ----------------------------------------------------------------------------

    def target(self, tmp_path: Path) -> str:
        """The path the test's savers write to, inside the empty folder ``tmp_path``."""
        raise NotImplementedError(f"{type(self).__name__} must implement target(tmp_path)")

    def new(self, target: str, approach: str, name: str) -> Saver:
        """A new saver of ``target`` (dataset ``name``, where the saver has datasets)."""
        raise NotImplementedError(
            f"{type(self).__name__} must implement new(target, approach, name)"
        )

    def lock_file(self, saver: Saver) -> str | None:
        """The file ``saver`` locks while it writes, or ``None`` (the lock tests skip)."""
        return None

    def plain(self, make: Make, name: str = "dataset") -> tuple[list[Any], np.dtype[Any]] | None:
        """Rows and stored dtype read with the plain library (no grumpy_arrow), or ``None``.

        ``None`` (the default) skips this check of :meth:`expect`.
        """
        return None

    def as_numpy(self, loaded: Any) -> np.ndarray:
        """``load()`` of rectangular data as NumPy (buffer savers return NumPy itself)."""
        assert isinstance(loaded, np.ndarray), type(loaded)
        return loaded

    # -- fixtures -------------------------------------------------------------------------

    @pytest.fixture(autouse=True)
    def _known_bugs(self, request: pytest.FixtureRequest) -> None:
        reason = self.KNOWN_BUGS.get(request.node.name)
        if reason is not None:
            request.applymarker(pytest.mark.xfail(strict=True, reason=reason))

    @pytest.fixture
    def make(self, tmp_path: Path) -> Make:
        """``make(approach="append", name="dataset")``: a NEW saver instance every call."""
        target = self.target(tmp_path)

        def make(approach: Approach = "append", name: str = "dataset") -> Saver:
            return self.new(target, approach, name)

        return make

    @pytest.fixture
    def lock_holder(self) -> Iterator[Callable[[str], subprocess.Popen[str]]]:
        """``hold(path)``: a live child process (another 'writer') holding the lock ``path``."""
        procs: list[subprocess.Popen[str]] = []

        def hold(path: str) -> subprocess.Popen[str]:
            os.makedirs(os.path.dirname(path), exist_ok=True)
            proc = subprocess.Popen(
                [sys.executable, "-c", HOLD_LOCK, path], stdout=subprocess.PIPE, text=True
            )
            procs.append(proc)
            assert proc.stdout is not None and proc.stdout.readline().strip() == "locked"
            return proc

        try:
            yield hold
        finally:
            for proc in procs:
                if proc.poll() is None:
                    proc.kill()
                proc.wait()
                if proc.stdout is not None:
                    proc.stdout.close()

    # -- shared checks --------------------------------------------------------------------

    def require(self, *needs: str) -> None:
        """Skip the running test unless the saver has each capability in ``needs``.

        A capability is an approach (``"append"``, ``"overwrite"``, ``"update"``),
        ``"ragged"``, ``"strings"`` or ``"any-length strings"``.
        """
        missing = [need for need in needs if not self._has(need)]
        if missing:
            pytest.skip(f"needs {', '.join(missing)}: {self._flags(missing)}")

    def _has(self, need: str) -> bool:
        if need == "append":
            return True
        if need == "strings":
            return self.strings is not None
        if need == "any-length strings":
            return self.strings == "any-length"
        return bool(getattr(self, f"supports_{need}"))

    def _flags(self, needs: list[str]) -> str:
        """The class attributes that turned ``needs`` off, for a skip reason."""
        names = ["strings" if "strings" in need else f"supports_{need}" for need in needs]
        unique = dict.fromkeys(names)
        return ", ".join(f"{type(self).__name__}.{n} = {getattr(self, n)!r}" for n in unique)

    def expect(
        self,
        make: Make,
        rows: list[Any],
        dtype: Any,
        *,
        ragged: bool = False,
        name: str = "dataset",
    ) -> None:
        """``load()`` (of a fresh saver) and the plain reader both give exactly ``rows``."""
        loaded = make(name=name).load()
        if ragged:
            assert isinstance(loaded, gr.GrumpyArray)
            assert loaded.to_list() == rows
            assert np.dtype(loaded.dtype.numpy) == np.dtype(dtype)
        else:
            arr = self.as_numpy(loaded)
            assert arr.dtype == np.dtype(dtype)
            assert arr.tolist() == rows
            assert arr.shape == np.array(rows, dtype=dtype).shape
        plain = self.plain(make, name)
        if plain is not None:
            assert plain == (rows, np.dtype(dtype))

    def state(self, make: Make) -> Any:
        """What ``load()`` gives (rows, dtype, shape or type), or ``"missing"``."""
        try:
            loaded = make().load()
        except DatasetNotFoundError:
            return "missing"
        if isinstance(loaded, np.ndarray):
            return (loaded.tolist(), loaded.dtype, loaded.shape)
        return (loaded.to_list(), str(loaded.type))

    @contextlib.contextmanager
    def unchanged(self, make: Make, tmp_path: Path) -> Iterator[None]:
        """The block must leave the target's bytes and content as they were, no lock held."""
        before_files, before = target_files(tmp_path), self.state(make)
        yield
        assert target_files(tmp_path) == before_files
        assert self.state(make) == before
        lock = self.lock_file(make())
        assert lock is None or not is_locked(lock)
