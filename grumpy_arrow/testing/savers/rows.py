"""Approach parsing, appends, overwrites and updates: what a saver stores, exactly.

Part of :class:`~grumpy_arrow.testing.savers.SaverTests`. Every test builds a new saver
instance for every call (``make()``), so each call re-opens the target.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import grumpy_arrow as gr
from grumpy_arrow.errors import SchemaError
from grumpy_arrow.testing.savers.base import Make, SaverTestsBase

__all__ = ["INDEX_FORMS", "RowTests"]

ZEROS10 = [0] * 10

#: Update index forms over ``arange(10)``: (indices, positions the batch lands on).
INDEX_FORMS = [
    pytest.param([2, 5, 8], [2, 5, 8], id="list"),
    pytest.param([9, 0, 4], [9, 0, 4], id="list-unsorted"),
    pytest.param([-1, -10], [9, 0], id="list-negative"),
    pytest.param(range(3, 6), [3, 4, 5], id="range"),
    pytest.param(range(1, 8, 3), [1, 4, 7], id="range-step"),
    pytest.param(range(-3, 0), [7, 8, 9], id="range-negative"),
    pytest.param(slice(7, None), [7, 8, 9], id="slice-stop-none"),
    pytest.param(slice(None, None), [0, 1, 2], id="slice-all-none"),
    pytest.param(slice(-3, None), [7, 8, 9], id="slice-negative-start"),
    pytest.param(slice(-4, -1), [6, 7, 8], id="slice-negative-both"),
    pytest.param(slice(1, 7, 2), [1, 3, 5], id="slice-step"),
    pytest.param(slice(8, 2, -3), [8, 5], id="slice-negative-step"),
    pytest.param(slice(-1, None, -1), [9, 8, 7], id="slice-negative-step-stop-none"),
    pytest.param(slice(2, None, -1), [2, 1, 0], id="slice-negative-step-to-row-0"),
    pytest.param(np.array([6, 3]), [6, 3], id="numpy-int64"),
    pytest.param(np.array([0, 9], dtype=np.int32), [0, 9], id="numpy-int32"),
    pytest.param(np.array([-2, 1], dtype=np.int64), [8, 1], id="numpy-negative"),
    pytest.param(np.arange(10) % 4 == 0, [0, 4, 8], id="numpy-bool"),
    pytest.param(np.array([], dtype=np.int64), [], id="numpy-empty"),
]


class RowTests(SaverTestsBase):
    """Approach parsing, appends, overwrites and updates."""

    # -- approach -------------------------------------------------------------------------

    @pytest.mark.parametrize(
        ("given", "parsed"),
        [
            ("append", "append"),
            (" Append ", "append"),
            ("OVER write", "overwrite"),
            ("over\twrite\n", "overwrite"),
            ("UpDaTe", "update"),
        ],
        ids=["plain", "spaces-case", "inner-space", "tabs-newline", "mixed-case"],
    )
    def test_approach_is_parsed(self, make: Make, given: str, parsed: str) -> None:
        assert make(given).approach == parsed

    def test_approach_setter_parses_and_is_used(self, make: Make) -> None:
        self.require("overwrite", "update")
        saver = make()
        saver.approach = " OverWrite "
        assert saver.approach == "overwrite"
        saver.save(ZEROS10)
        saver = make()
        saver.approach = "Update"
        saver.save([99, 88, 77], indices=[2, 5, 8])
        self.expect(make, [0, 0, 99, 0, 0, 88, 0, 0, 77, 0], "int64")

    @pytest.mark.parametrize("bad", ["add", "", "appendd", "append overwrite", None, 1], ids=repr)
    def test_bad_approach_raises_listing_the_three(self, make: Make, bad: Any) -> None:
        with pytest.raises(ValueError, match=r"append, overwrite, update") as info:
            make(bad)
        assert repr(bad) in str(info.value)
        saver = make("update")
        with pytest.raises(ValueError, match=r"append, overwrite, update"):
            saver.approach = bad
        assert saver.approach == "update"

    def test_repr_names_class_path_and_approach(self, make: Make) -> None:
        saver = make(" UPDATE ")
        assert type(saver) is self.saver_cls
        assert repr(saver) == f"{type(saver).__name__}({saver.path!r}, approach='update')"

    # -- append ---------------------------------------------------------------------------

    @pytest.mark.parametrize(
        ("batches", "rows", "dtype"),
        [
            pytest.param([[1, 2, 3], [4, 5]], [1, 2, 3, 4, 5], "int64", id="lists-int"),
            pytest.param([[0.5], [1.5, 2.5]], [0.5, 1.5, 2.5], "float64", id="lists-float"),
            pytest.param([[True, False], [True]], [True, False, True], "bool", id="lists-bool"),
            pytest.param(
                [np.array([1, 2], np.int32), np.array([3], np.int32)],
                [1, 2, 3],
                "int32",
                id="numpy-1d-int32",
            ),
            pytest.param(
                [np.array([0.25, 0.5], np.float32), np.array([0.75], np.float32)],
                [0.25, 0.5, 0.75],
                "float32",
                id="numpy-1d-float32",
            ),
            pytest.param(
                [np.arange(6).reshape(2, 3), np.arange(6, 9).reshape(1, 3)],
                [[0, 1, 2], [3, 4, 5], [6, 7, 8]],
                "int64",
                id="numpy-2d",
            ),
            pytest.param(
                [np.arange(24.0).reshape(2, 3, 4), np.arange(24.0, 36.0).reshape(1, 3, 4)],
                np.arange(36.0).reshape(3, 3, 4).tolist(),
                "float64",
                id="numpy-3d",
            ),
            pytest.param(
                [[[1, 2], [3, 4]], np.array([[5, 6]])],
                [[1, 2], [3, 4], [5, 6]],
                "int64",
                id="list-2d-then-numpy-2d",
            ),
            pytest.param(
                [gr.array([1.0, 2.0]), gr.array([3.0])],
                [1.0, 2.0, 3.0],
                "float64",
                id="grumpy-array",
            ),
            pytest.param(
                [[10, 20], gr.array([30]), np.array([40])],
                [10, 20, 30, 40],
                "int64",
                id="mixed-list-grumpy-numpy",
            ),
        ],
    )
    def test_append_round_trips(
        self, make: Make, batches: list[Any], rows: list[Any], dtype: str
    ) -> None:
        for batch in batches:
            make().save(batch)
        self.expect(make, rows, dtype)

    def test_append_grumpy_rows_of_equal_length_to_rectangular(self, make: Make) -> None:
        make().save(np.zeros((1, 3)))
        make().save(gr.array(np.ones((2, 3))))
        self.expect(make, [[0.0] * 3, [1.0] * 3, [1.0] * 3], "float64")

    @pytest.mark.parametrize(
        ("batches", "rows", "dtype"),
        [
            pytest.param(
                [[[1, 2], [3], []], [[4, 5, 6]]],
                [[1, 2], [3], [], [4, 5, 6]],
                "int64",
                id="lists",
            ),
            pytest.param(
                [[[], [0.5]], [[1.5, 2.5], [3.5]]],
                [[], [0.5], [1.5, 2.5], [3.5]],
                "float64",
                id="lists-first-row-empty",
            ),
            pytest.param(
                [gr.array([[1, 2], [3]]), gr.array([[4], [], [5, 6, 7]])],
                [[1, 2], [3], [4], [], [5, 6, 7]],
                "int64",
                id="grumpy-array",
            ),
            pytest.param(
                [gr.array([[9], [1, 2], [3]])[1:], [[4]]],
                [[1, 2], [3], [4]],
                "int64",
                id="grumpy-array-sliced",
            ),
            pytest.param(
                [[np.array([1, 2], np.int32), np.array([3], np.int32)], [np.array([4], np.int32)]],
                [[1, 2], [3], [4]],
                "int32",
                id="numpy-rows",
            ),
            pytest.param(
                [[[1, 2], [3]], np.array([[7, 8], [9, 10]])],
                [[1, 2], [3], [7, 8], [9, 10]],
                "int64",
                id="rectangular-joins-ragged",
            ),
        ],
    )
    def test_append_ragged_round_trips(
        self, make: Make, batches: list[Any], rows: list[Any], dtype: str
    ) -> None:
        self.require("ragged")
        for batch in batches:
            make().save(batch)
        self.expect(make, rows, dtype, ragged=True)

    def test_append_ragged_rows_with_trailing_shape(self, make: Make) -> None:
        self.require("ragged")
        a = np.arange(6.0).reshape(2, 3)
        b = np.arange(6.0, 9.0).reshape(1, 3)
        c = np.arange(9.0, 21.0).reshape(4, 3)
        make().save([a, b])
        make().save([np.zeros((0, 3)), c])
        rows = [a.tolist(), b.tolist(), [], c.tolist()]
        self.expect(make, rows, "float64", ragged=True)
        loaded = make().load()
        assert [loaded[i].to_numpy().shape for i in (0, 1, 3)] == [(2, 3), (1, 3), (4, 3)]

    @pytest.mark.parametrize("form", ["1d", "2d", "ragged"])
    def test_append_in_pieces_equals_one_save(self, make: Make, tmp_path: Path, form: str) -> None:
        if form == "ragged":
            self.require("ragged")
        rng = np.random.default_rng(7)
        batches: list[Any] = []
        for _ in range(12):
            n = int(rng.integers(1, 6))
            if form == "1d":
                batches.append(rng.normal(size=n))
            elif form == "2d":
                batches.append(rng.integers(-100, 100, size=(n, 2)))
            else:
                batches.append([rng.normal(size=int(rng.integers(0, 4))) for _ in range(n)])
        for batch in batches:
            make().save(batch)
        os.makedirs(tmp_path / "once")
        # one save: an overwrite, or an append to the empty target if there are no overwrites
        approach = "overwrite" if self.supports_overwrite else "append"
        one = self.new(self.target(tmp_path / "once"), approach, "dataset")
        if form == "ragged":
            whole: Any = [row for batch in batches for row in batch]
        else:
            whole = np.concatenate(batches)
        one.save(whole)
        pieces, once = make().load(), self.new(one.path, "append", "dataset").load()
        if form == "ragged":
            assert pieces.to_list() == once.to_list() == [r.tolist() for r in whole]
        else:
            assert self.as_numpy(pieces).tolist() == self.as_numpy(once).tolist()
            assert self.as_numpy(pieces).tolist() == whole.tolist()
            assert self.as_numpy(pieces).dtype == whole.dtype

    def test_empty_append_writes_nothing(self, make: Make, tmp_path: Path) -> None:
        with self.unchanged(make, tmp_path):
            make().save([])
        assert self.state(make) == "missing"
        make().save([1, 2])
        with self.unchanged(make, tmp_path):
            make().save([])
            make().save(np.zeros(0, dtype=np.int64))

    # -- overwrite ------------------------------------------------------------------------

    @pytest.mark.parametrize(
        ("first", "second", "rows", "dtype", "ragged"),
        [
            pytest.param([1, 2, 3], [7.5], [7.5], "float64", False, id="int-to-float-shorter"),
            pytest.param(
                [1.0],
                np.arange(6, dtype=np.int16).reshape(3, 2),
                [[0, 1], [2, 3], [4, 5]],
                "int16",
                False,
                id="1d-to-2d-int16",
            ),
            pytest.param(
                np.ones((2, 3)),
                [[1, 2], [3]],
                [[1, 2], [3]],
                "int64",
                True,
                id="rectangular-to-ragged",
            ),
            pytest.param(
                [[1, 2], [3]],
                [4, 5, 6, 7],
                [4, 5, 6, 7],
                "int64",
                False,
                id="ragged-to-rectangular",
            ),
            pytest.param(
                [[1, 2], [3]],
                [[0.5], [], [1.5, 2.5]],
                [[0.5], [], [1.5, 2.5]],
                "float64",
                True,
                id="ragged-to-ragged-float",
            ),
        ],
    )
    def test_overwrite_replaces(
        self,
        make: Make,
        first: Any,
        second: Any,
        rows: list[Any],
        dtype: str,
        ragged: bool,
        request: pytest.FixtureRequest,
    ) -> None:
        self.require("overwrite", *(["ragged"] if "ragged" in request.node.callspec.id else []))
        make().save(first)
        make(" over write ").save(second)
        self.expect(make, rows, dtype, ragged=ragged)

    def test_overwrite_creates_a_missing_dataset(self, make: Make) -> None:
        self.require("overwrite")
        make("overwrite").save([3, 1, 2])
        self.expect(make, [3, 1, 2], "int64")

    # -- update ---------------------------------------------------------------------------

    def test_update_seed_example(self, make: Make) -> None:
        self.require("overwrite", "update")
        make("overwrite").save(ZEROS10)
        make("update").save([99, 88, 77], indices=[2, 5, 8])
        self.expect(make, [0, 0, 99, 0, 0, 88, 0, 0, 77, 0], "int64")

    @pytest.mark.parametrize(("indices", "positions"), INDEX_FORMS)
    def test_update_index_forms(self, make: Make, indices: Any, positions: list[int]) -> None:
        self.require("update")
        make().save(np.arange(10))
        batch = [100 + k for k in range(len(positions))]
        make("update").save(batch, indices=indices)
        expected = np.arange(10)
        expected[positions] = batch
        self.expect(make, expected.tolist(), "int64")

    def test_update_rows_of_a_2d_dataset(self, make: Make) -> None:
        self.require("update")
        make().save(np.zeros((4, 2)))
        make("update").save(np.array([[1.0, 2.0], [3.0, 4.0]]), indices=np.array([3, 1]))
        self.expect(make, [[0.0, 0.0], [3.0, 4.0], [0.0, 0.0], [1.0, 2.0]], "float64")

    def test_update_casts_same_kind(self, make: Make) -> None:
        self.require("update")
        make().save([0.5, 1.5, 2.5])
        make("update").save([7, 8], indices=[0, 2])
        self.expect(make, [7.0, 1.5, 8.0], "float64")

    def test_update_ragged_rows_of_the_same_length(self, make: Make) -> None:
        self.require("update", "ragged")
        make().save([[1, 2], [3], [], [4, 5, 6]])
        make("update").save([[7, 8, 9], [], [10, 11]], indices=[3, 2, 0])
        self.expect(make, [[10, 11], [3], [], [7, 8, 9]], "int64", ragged=True)

    def test_update_ragged_rows_with_trailing_shape(self, make: Make) -> None:
        self.require("update", "ragged")
        make().save([np.zeros((2, 3)), np.zeros((1, 3))])
        make("update").save([np.ones((1, 3))], indices=[-1])
        self.expect(make, [[[0.0] * 3] * 2, [[1.0] * 3]], "float64", ragged=True)

    def test_update_ragged_row_with_another_length(self, make: Make, tmp_path: Path) -> None:
        self.require("update", "ragged")
        make().save([[1, 2], [3], []])
        if self.ragged_update_resizes:
            make("update").save([[7, 7, 7], [8]], indices=[1, 2])
            self.expect(make, [[1, 2], [7, 7, 7], [8]], "int64", ragged=True)
            return
        refused = pytest.raises(SchemaError, match=r"row 1 holds 1 values; the update gives 3")
        with self.unchanged(make, tmp_path), refused:
            make("update").save([[7, 7, 7]], indices=[1])

    def test_empty_update_is_a_no_op(self, make: Make, tmp_path: Path) -> None:
        self.require("update")
        make().save([1, 2, 3])
        with self.unchanged(make, tmp_path):
            make("update").save([], indices=[])
