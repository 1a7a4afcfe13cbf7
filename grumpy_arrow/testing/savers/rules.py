"""Refused calls write nothing; storage options; threads, processes and lock files.

Part of :class:`~grumpy_arrow.testing.savers.SaverTests`.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from grumpy_arrow.errors import DatasetNotFoundError, OutOfBoundsError, SchemaError, StoreError
from grumpy_arrow.storage import writer
from grumpy_arrow.testing.savers.base import (
    Make,
    SaverTestsBase,
    dead_pid,
    is_locked,
    target_files,
)

__all__ = ["RuleTests"]


_STORED = (1, 2, 3)


def _refused(
    case_id: str,
    approach: str,
    data: Any,
    indices: Any,
    error: type[Exception],
    match: str,
    *,
    setup: tuple[int, ...] | None = _STORED,
    options: dict[str, Any] | None = None,
) -> Any:
    """A case of ``test_refused_call_writes_nothing``: the dataset holds ``setup`` (None:
    there is none), then ``approach`` saves ``data`` and must raise ``error``."""
    stored = None if setup is None else list(setup)
    return pytest.param(stored, approach, data, indices, options or {}, error, match, id=case_id)


_REFUSED_CALLS = [
    _refused(
        "update-missing-dataset",
        "update",
        [1],
        [0],
        DatasetNotFoundError,
        "update needs an existing",
        setup=None,
    ),
    _refused(
        "index-past-end",
        "update",
        [9],
        [3],
        OutOfBoundsError,
        "index 3 is out of range for a dataset of 3 rows",
    ),
    _refused(
        "negative-index-past-start",
        "update",
        [9],
        [-4],
        OutOfBoundsError,
        "out of range for a dataset of 3 rows",
    ),
    _refused(
        "slice-past-end",
        "update",
        [8, 9],
        slice(2, None),
        OutOfBoundsError,
        "index 3 is out of range",
    ),
    _refused(
        "range-past-end", "update", [8, 9], range(2, 4), OutOfBoundsError, "index 3 is out of range"
    ),
    _refused(
        "bool-mask-length",
        "update",
        [8],
        np.array([True, False]),
        OutOfBoundsError,
        "boolean index needs 3 entries",
    ),
    _refused(
        "count-mismatch",
        "update",
        [7, 8, 9],
        [0, 1],
        SchemaError,
        "2 indices for a batch of 3 rows",
    ),
    _refused("duplicate-indices", "update", [8, 9], [1, 1], ValueError, "indices repeat a row"),
    _refused(
        "duplicate-after-negative", "update", [8, 9], [2, -1], ValueError, "indices repeat a row"
    ),
    _refused("update-without-indices", "update", [8], None, ValueError, "needs indices="),
    _refused("float-indices", "update", [8], [0.5], TypeError, "indices must be integers"),
    _refused("update-not-same-kind", "update", [1.5], [0], SchemaError, "int64"),
    _refused("append-not-same-kind", "append", [1.5], None, SchemaError, "int64"),
    _refused(
        "append-rank-mismatch",
        "append",
        [[1, 2]],
        None,
        SchemaError,
        r"rows have shape \(\)|store holds int64",
    ),
    _refused(
        "append-ragged-into-scalars",
        "append",
        [[1], [2, 3]],
        None,
        SchemaError,
        "batch is ragged|store holds int64",
    ),
    _refused(
        "indices-with-append",
        "append",
        [4],
        [0],
        ValueError,
        "indices= applies to approach 'update', not 'append'",
    ),
    _refused(
        "indices-with-overwrite",
        "overwrite",
        [4],
        [0],
        ValueError,
        "indices= applies to approach 'update', not 'overwrite'",
    ),
    _refused(
        "unknown-option",
        "append",
        [4],
        None,
        TypeError,
        "unknown option.*compresion",
        options={"compresion": "gzip"},
    ),
    _refused(
        "unknown-option-overwrite",
        "overwrite",
        [4],
        None,
        TypeError,
        "unknown option.*level",
        options={"level": 3},
    ),
]


class RuleTests(SaverTestsBase):
    """Refused calls, the storage options, threads, and the lock against other processes."""

    # -- refused calls write nothing ------------------------------------------------------

    @pytest.mark.parametrize(
        ("setup", "approach", "data", "indices", "options", "error", "match"), _REFUSED_CALLS
    )
    def test_refused_call_writes_nothing(
        self,
        make: Make,
        tmp_path: Path,
        setup: Any,
        approach: str,
        data: Any,
        indices: Any,
        options: dict[str, Any],
        error: type[Exception],
        match: str,
        request: pytest.FixtureRequest,
    ) -> None:
        self.require(approach)
        if setup is not None:
            make().save(setup)
        widened = self.WIDENED.get(request.node.callspec.id)
        if widened is not None:  # this saver widens the store instead of refusing
            make(approach).save(data, indices=indices, **options)
            assert make().load().to_list() == widened
            return
        with self.unchanged(make, tmp_path), pytest.raises(error, match=match) as info:
            make(approach).save(data, indices=indices, **options)
        if error is ValueError:  # not a subclass (SchemaError is a ValueError too)
            assert info.type is ValueError
        if error is DatasetNotFoundError:
            assert isinstance(info.value, FileNotFoundError)

    @pytest.mark.parametrize(
        ("approach", "data", "indices", "grumpy_rows"),
        [
            pytest.param(
                "append",
                np.ones((1, 4)),
                None,
                [[0.0] * 3, [0.0] * 3, [1.0] * 4],
                id="append-row-shape",
            ),
            pytest.param(
                "append",
                [[1.0, 2.0, 3.0], [4.0, 5.0]],
                None,
                [[0.0] * 3, [0.0] * 3, [1.0, 2.0, 3.0], [4.0, 5.0]],
                id="append-ragged-into-rectangular",
            ),
            pytest.param(
                "append",
                [np.ones((2, 3)), np.ones((1, 3))],
                None,
                [[0.0] * 3, [0.0] * 3, [[1.0] * 3, [1.0] * 3], [[1.0] * 3]],
                id="append-ragged-rows-into-rectangular",
            ),
            pytest.param(
                "update", np.ones((1, 4)), [0], [[1.0] * 4, [0.0] * 3], id="update-row-shape"
            ),
        ],
    )
    def test_rows_of_another_shape(
        self, make: Make, tmp_path: Path, approach: str, data: Any, indices: Any, grumpy_rows: Any
    ) -> None:
        """Buffer savers refuse them (nothing written); GrumpySaver stores other lengths as
        lists (its 2-D rows are lists) and widens to other depths (a union)."""
        self.require(approach)
        make().save(np.zeros((2, 3)))
        if self.strict_shapes or grumpy_rows is SchemaError:
            with self.unchanged(make, tmp_path), pytest.raises(SchemaError, match=r"shape|ragged"):
                make(approach).save(data, indices=indices)
        else:
            make(approach).save(data, indices=indices)
            assert make().load().to_list() == grumpy_rows

    # -- options --------------------------------------------------------------------------

    def test_dtype_option_sets_the_stored_dtype(self, make: Make) -> None:
        make().save([1, 2, 3], dtype="float32")
        self.expect(make, [1.0, 2.0, 3.0], "float32")
        make().save(np.array([4.5], dtype=np.float32))
        self.expect(make, [1.0, 2.0, 3.0, 4.5], "float32")

    def test_dtype_option_on_ragged_rows(self, make: Make) -> None:
        self.require("ragged")
        make().save([[1, 2], [3]], dtype="int16")
        self.expect(make, [[1, 2], [3]], "int16", ragged=True)

    def test_append_casts_same_kind_to_the_stored_dtype(self, make: Make) -> None:
        make().save([0.5], dtype="float32")
        make().save([1, 2])  # int64 -> float32: same_kind
        make().save(np.array([2.25]))  # float64 -> float32: same_kind
        self.expect(make, [0.5, 1.0, 2.0, 2.25], "float32")

    # -- threads and processes ------------------------------------------------------------

    @pytest.mark.parametrize("instances", [1, 2], ids=["one-instance", "two-instances"])
    def test_threads_append_without_loss(self, make: Make, instances: int) -> None:
        savers = [make() for _ in range(instances)]

        def work(t: int) -> None:
            for j in range(25):
                base = (t * 25 + j) * 3
                savers[t % instances].save(np.arange(base, base + 3))

        with ThreadPoolExecutor(8) as pool:
            for future in [pool.submit(work, t) for t in range(8)]:
                future.result()
        got = self.as_numpy(make().load()).tolist()
        assert sorted(got) == list(range(600))  # no row lost or duplicated
        assert [got[k : k + 3] for k in range(0, 600, 3)] == [
            [v, v + 1, v + 2] for v in got[::3]
        ]  # each batch contiguous
        assert {v % 3 for v in got[::3]} == {0}

    def test_lock_of_a_live_process_refuses_then_is_taken_over(
        self,
        make: Make,
        tmp_path: Path,
        lock_holder: Callable[[str], subprocess.Popen[str]],
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        lock = self.lock_file(make())
        if lock is None:
            pytest.skip(f"needs a lock file: {type(self).__name__}.lock_file gives None")
        make().save([1, 2, 3])
        monkeypatch.setattr(writer, "LOCK_TIMEOUT", 0.05)  # a second writer's wait
        holder = lock_holder(lock)
        before = target_files(tmp_path)
        calls = [("append", [4], None), ("update", [9], [0]), ("overwrite", [5], None)]
        for approach, data, indices in [call for call in calls if self._has(call[0])]:
            with pytest.raises(StoreError, match="another process is writing") as info:
                make(approach).save(data, indices=indices)
            assert isinstance(info.value, OSError)
        assert is_locked(lock)  # the other writer's lock stays
        assert target_files(tmp_path) == before
        assert self.as_numpy(make().load()).tolist() == [1, 2, 3]
        holder.kill()
        holder.wait()
        make().save([4])  # the dead writer's lock is taken over
        self.expect(make, [1, 2, 3, 4], "int64")
        assert not is_locked(lock)

    def test_stale_lock_is_taken_over(self, make: Make) -> None:
        lock = self.lock_file(make())
        if lock is None:
            pytest.skip(f"needs a lock file: {type(self).__name__}.lock_file gives None")
        os.makedirs(os.path.dirname(lock), exist_ok=True)
        Path(lock).write_text(str(dead_pid()))
        make().save([1, 2])
        Path(lock).write_text(str(dead_pid()))
        make().save([3])
        self.expect(make, [1, 2, 3], "int64")
        assert not is_locked(lock)

    def test_load_of_nothing_raises(self, make: Make) -> None:
        with pytest.raises(DatasetNotFoundError, match="no") as info:
            make().load()
        assert isinstance(info.value, FileNotFoundError)
