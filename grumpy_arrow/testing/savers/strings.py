"""Strings (``str`` and ``bytes``) of any length round trip exactly, over appends and updates.

Part of :class:`~grumpy_arrow.testing.savers.SaverTests`; skipped where the subclass sets
``strings = None``. With ``strings = "fixed-width"`` (``NumpySaver``) the tests that need
strings longer than the stored width are skipped too.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import grumpy_arrow as gr
from grumpy_arrow.testing.savers.base import Make, SaverTestsBase

__all__ = ["StringTests"]


class StringTests(SaverTestsBase):
    """Strings in rectangular and ragged rows: round trips, empties, bytes, updates."""

    # -- round trips ----------------------------------------------------------------------

    def test_strings_append_in_pieces_round_trip_exactly(self, make: Make) -> None:
        self.require("strings")
        make().save(["a", "", "héllo"])
        make().save(np.array(["日本語", "x"]))
        make().save(gr.array(["🙂 ok", "a\x00b"]))
        make().save([])  # nothing
        loaded = self.as_numpy(make().load())
        assert loaded.tolist() == ["a", "", "héllo", "日本語", "x", "🙂 ok", "a\x00b"]
        # strings of any length as objects; fixed width: the first batch's longest (5)
        fixed = self.strings == "fixed-width"
        assert loaded.dtype == (np.dtype("<U5") if fixed else np.dtype(object))

    def test_strings_grow_past_the_first_batch(self, make: Make) -> None:
        self.require("any-length strings")
        make().save(["", ""])
        make().save(["x" * 1000, "ü" * 300])
        assert self.as_numpy(make().load()).tolist() == ["", "", "x" * 1000, "ü" * 300]

    def test_ragged_string_rows_round_trip_exactly(self, make: Make) -> None:
        self.require("strings", "ragged")
        make().save([["C", "O"], [], ["Cl", "", "é"]])
        make().save(gr.array([["Fe"], ["N", "H", "H", "H"]]))
        make().save([np.array(["ab", "c"]), np.array([], dtype="<U1")])
        make().save([["x", "y"], ["z", "w"]])  # rectangular rows join as rows of length 2
        loaded = make().load()
        assert isinstance(loaded, gr.GrumpyArray)
        assert str(loaded.type) == "9 * var * string"
        assert loaded.to_list() == [
            ["C", "O"],
            [],
            ["Cl", "", "é"],
            ["Fe"],
            ["N", "H", "H", "H"],
            ["ab", "c"],
            [],
            ["x", "y"],
            ["z", "w"],
        ]

    def test_string_rows_of_a_fixed_shape(self, make: Make) -> None:
        self.require("strings")
        make().save([["a", "b"], ["c", "dé"]])
        make().save(np.array([["e", ""]]))
        loaded = self.as_numpy(make().load())
        assert loaded.shape == (3, 2)
        assert loaded.tolist() == [["a", "b"], ["c", "dé"], ["e", ""]]

    def test_ragged_string_rows_with_a_trailing_shape(self, make: Make) -> None:
        self.require("strings", "ragged")
        make().save([np.array([["a", "b"], ["c", "d"]]), np.array([["é", ""]])])
        make().save([np.zeros((0, 2), dtype="<U1")])
        loaded = make().load()
        assert str(loaded.type) == "3 * var * 2 * string"
        assert loaded.to_list() == [[["a", "b"], ["c", "d"]], [["é", ""]], []]

    def test_empty_string_datasets_and_rows_of_no_strings(self, make: Make) -> None:
        self.require("strings", "overwrite")
        make("overwrite").save(np.array([], dtype="<U1"))
        empty = self.as_numpy(make().load())
        assert (empty.shape, empty.tolist()) == ((0,), [])
        make().save([""])
        assert self.as_numpy(make().load()).tolist() == [""]
        make("overwrite").save([[], []], dtype=str)  # rows of shape (0,): no strings at all
        make().save(np.zeros((1, 0), dtype="<U1"))
        loaded = self.as_numpy(make().load())
        assert (loaded.shape, loaded.tolist()) == ((3, 0), [[], [], []])

    def test_bytes_round_trip_exactly(self, make: Make, tmp_path: Path) -> None:
        self.require("strings", "ragged")
        make().save([b"ab", b"", b"\xff\x00c"])
        make().save(gr.array([b"z"]))
        assert self.as_numpy(make().load()).tolist() == [b"ab", b"", b"\xff\x00c", b"z"]
        os.makedirs(tmp_path / "r", exist_ok=True)
        target = self.target(tmp_path / "r")
        self.new(target, "append", "dataset").save([[b"a"], [], [b"bc", b""]])
        loaded = self.new(target, "append", "dataset").load()
        assert loaded.to_list() == [[b"a"], [], [b"bc", b""]]
        assert str(loaded.type) == "3 * var * binary"

    def test_overwrite_switches_between_numbers_and_strings(self, make: Make) -> None:
        self.require("strings", "overwrite", "ragged")
        make().save([[1, 2], [3]])
        make("overwrite").save(["a", "bc"])
        assert self.as_numpy(make().load()).tolist() == ["a", "bc"]
        make("overwrite").save([[1.5], []])
        assert make().load().to_list() == [[1.5], []]

    # -- updates --------------------------------------------------------------------------

    @pytest.mark.parametrize(
        ("indices", "values", "expected"),
        [
            (
                [0],
                ["a much longer first string"],
                ["a much longer first string", "bb", "", "dddd", "é"],
            ),
            ([-1, 1], ["", "ß"], ["a", "ß", "", "dddd", ""]),
            (
                np.array([False, False, True, False, True]),
                ["new", "ñ"],
                ["a", "bb", "new", "dddd", "ñ"],
            ),
            (slice(3, None), ["3", "4"], ["a", "bb", "", "3", "4"]),
            (range(0, 5), ["5", "4", "3", "2", "1"], ["5", "4", "3", "2", "1"]),
        ],
        ids=["longer", "negative-shorter", "mask", "slice-tail", "all"],
    )
    def test_string_updates_may_change_lengths(
        self, make: Make, indices: Any, values: list[str], expected: list[str]
    ) -> None:
        self.require("any-length strings", "update")
        make().save(["a", "bb", ""])
        make().save(["dddd", "é"])
        make("update").save(values, indices=indices)
        assert self.as_numpy(make().load()).tolist() == expected
        make().save(["after"])  # appends continue after an update
        assert self.as_numpy(make().load()).tolist() == [*expected, "after"]

    def test_update_of_string_rows_of_a_fixed_shape(self, make: Make) -> None:
        self.require("any-length strings", "update")
        make().save([["a", "b"], ["c", "d"], ["e", "f"]])
        make("update").save([["", "xyz"], ["é", "é"]], indices=[2, 0])
        assert self.as_numpy(make().load()).tolist() == [["é", "é"], ["c", "d"], ["", "xyz"]]
