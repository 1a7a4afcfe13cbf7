"""``h[key]`` of a lazy handle equals ``gr.load(path)[key]`` (issue 12, item 3).

Handle key parsing used to cast every key with ``astype(np.int64)``: ``h[1.9]`` read row
1, ``h[1, 0]`` read rows 1 and 0, nested index lists were flattened. A handle now takes
exactly the keys the in-memory array or frame takes and returns the same result, or raises
the same error type. The differential Hypothesis test compares both on arrays and frames,
on plain stores and on sharded datasets (``gr.save(..., shard_rows=...)``).
"""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import grumpy_arrow as gr
from grumpy_arrow.errors import DTypeError, OutOfBoundsError
from grumpy_arrow.storage.handle import parse_rows
from grumpy_arrow.testing import strategies as gst
from grumpy_arrow.testing.asserts import values_equal

DIFFERENTIAL = settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
KEYS_PER_STORE = 12
_COUNTER = itertools.count()


# -- what the two sides give -----------------------------------------------------------------


def outcome(obj: Any, key: Any) -> tuple[str, Any]:
    """``("value", result)`` or ``("error", exception type)`` of ``obj[key]``."""
    try:
        return ("value", obj[key])
    except Exception as err:  # the type is what is compared
        return ("error", type(err))


def same(got: Any, want: Any) -> bool:
    """The same result: arrays by type and values, frames by columns, schema and values."""
    if isinstance(want, gr.GrumpyArray):
        return (
            isinstance(got, gr.GrumpyArray)
            and got.type == want.type
            and values_equal(got.to_list(), want.to_list())
        )
    if isinstance(want, gr.DataFrame):
        return (
            isinstance(got, gr.DataFrame)
            and len(got) == len(want)
            and got.columns == want.columns
            and got.schema == want.schema
            and got.dtypes == want.dtypes
            and values_equal(got.to_dict(), want.to_dict())
        )
    return type(got) is type(want) and values_equal(got, want)


def assert_same_outcome(handle: Any, loaded: Any, key: Any) -> None:
    got, want = outcome(handle, key), outcome(loaded, key)
    assert got[0] == want[0], (key, got, want)
    if want[0] == "error":
        assert got[1] is want[1], (key, got[1], want[1])
    else:
        assert same(got[1], want[1]), (key, got[1], want[1])


def saved(root: Path, obj: Any, shard_rows: int | None) -> tuple[Any, Any]:
    """``(gr.open(path), gr.load(path))`` of ``obj`` saved under ``root`` as a plain store
    or a sharded dataset."""
    path = root / f"s{next(_COUNTER)}.gr"
    gr.save(obj, path, shard_rows=shard_rows)
    return gr.open(path), gr.load(path)


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One directory for the stores of the Hypothesis examples (module-scoped: Hypothesis
    runs many examples per test call)."""
    return tmp_path_factory.mktemp("keys")


# -- key strategies ------------------------------------------------------------------------


def row_keys(n: int) -> st.SearchStrategy[Any]:
    """First-axis keys, valid and not: ints (Python and NumPy), slices, gathers (lists,
    NumPy arrays of several dtypes, GrumpyArrays), masks of the right and wrong length,
    and the keys that were misread (floats, bools, None, strings, nested lists, 2-D)."""
    index = st.integers(-n - 2, n + 2)
    ints = st.lists(index, max_size=5)
    return st.one_of(
        index,
        index.map(np.int64),
        st.integers(-n, max(n - 1, -n)).map(np.int8) if n < 100 else index,
        st.builds(
            slice, st.none() | index, st.none() | index, st.sampled_from([None, 1, 2, -1, -3, 0])
        ),
        ints,
        ints.map(lambda v: np.asarray(v, dtype=np.int64)),
        st.lists(st.integers(0, max(n - 1, 0)), max_size=4).map(
            lambda v: np.asarray(v, dtype=np.uint32)
        ),
        ints.map(lambda v: gr.array(v, dtype=gr.int64)),
        st.lists(st.booleans(), min_size=n, max_size=n),
        st.lists(st.booleans(), min_size=n, max_size=n).map(np.asarray),
        st.lists(st.booleans(), min_size=max(n - 1, 0), max_size=n + 1),
        st.sampled_from([1.9, 0.0, -1.5, True, False, np.bool_(True), None, "a", ...]),
        st.lists(st.floats(-3, 3, allow_nan=False), min_size=1, max_size=3),
        st.lists(st.lists(index, max_size=3), min_size=n, max_size=n),  # ragged, n rows
        st.lists(st.lists(index, max_size=3), max_size=3),  # nested, any row count
        st.lists(index, min_size=2, max_size=2).map(lambda v: np.asarray([v, v])),  # 2-D
        st.just([]),
        st.just(()),
    )


def inner_keys() -> st.SearchStrategy[Any]:
    """Keys for the axes after the first."""
    small = st.integers(-3, 3)
    return st.one_of(
        small,
        st.builds(slice, st.none() | small, st.none() | small, st.sampled_from([None, 1, -1, 2])),
        st.lists(small, max_size=3),
        st.just(...),
        st.sampled_from([1.5, None, "x"]),
    )


def array_keys(n: int) -> st.SearchStrategy[Any]:
    tuples = st.tuples(row_keys(n), st.lists(inner_keys(), max_size=2)).map(lambda t: (t[0], *t[1]))
    return st.one_of(row_keys(n), tuples, st.tuples(st.just(...), inner_keys()))


def frame_keys(n: int, columns: list[str]) -> st.SearchStrategy[Any]:
    tuples = st.tuples(row_keys(n), inner_keys())
    names = st.lists(st.sampled_from(columns), min_size=1, max_size=2, unique=True)
    return st.one_of(row_keys(n), tuples, names)


SHARDS = st.none() | st.integers(1, 4)


# -- the differential test -----------------------------------------------------------------


@DIFFERENTIAL
@given(x=gst.arrays(max_size=7), shard_rows=SHARDS, data=st.data())
def test_array_store_keys_match_the_loaded_array(
    root: Path, x: gr.GrumpyArray, shard_rows: int | None, data: st.DataObject
) -> None:
    h, loaded = saved(root, x, shard_rows)
    for _ in range(KEYS_PER_STORE):
        assert_same_outcome(h, loaded, data.draw(array_keys(len(x)), label="key"))


@DIFFERENTIAL
@given(spec=gst.frames(max_rows=6), shard_rows=SHARDS, data=st.data())
def test_frame_store_keys_match_the_loaded_frame(
    root: Path, spec: gst.FrameSpec, shard_rows: int | None, data: st.DataObject
) -> None:
    df = spec.build()
    h, loaded = saved(root, df, shard_rows)
    for _ in range(KEYS_PER_STORE):
        key = data.draw(frame_keys(len(df), df.columns), label="key")
        if isinstance(key, list) and key and all(isinstance(k, str) for k in key):
            view = h[key]  # column names give a lazy view: compare what it loads
            assert same(view.load(), loaded[key])
            continue
        if isinstance(key, str) and key in df.columns:
            # A string row key ("a") that names a column: ``h[name]`` is a lazy one-column
            # view (docs/lazy-access.md), whose loaded column is the loaded frame's.
            view = h[key]
            assert view.columns == [key]
            assert same(view.load()[key], loaded[key])
            continue
        assert_same_outcome(h, loaded, key)


# -- the keys of the issue, with exact values -----------------------------------------------


@pytest.fixture(params=[None, 2], ids=["plain", "sharded"])
def ragged_store(request: pytest.FixtureRequest, tmp_path: Path) -> Any:
    x = gr.array([[1, 2], [3], [4, 5, 6]])
    gr.save(x, tmp_path / "x.gr", shard_rows=request.param)
    return gr.open(tmp_path / "x.gr")


def test_a_float_key_is_refused_not_truncated(ragged_store: Any) -> None:
    with pytest.raises(DTypeError, match="index arrays must be integer or boolean, got float64"):
        ragged_store[1.9]
    with pytest.raises(DTypeError, match="got float64"):
        ragged_store[[0.0, 2.0]]
    with pytest.raises(DTypeError, match="row indices must be integers or a boolean mask"):
        ragged_store.take([1.9])


def test_a_tuple_key_reaches_inside_rows(ragged_store: Any) -> None:
    assert ragged_store[1, 0] == 3
    assert ragged_store[2, -1] == 6
    assert ragged_store[:, 0].to_list() == [1, 3, 4]
    assert ragged_store[[2, 0], 1:].to_list() == [[5, 6], [2]]
    assert ragged_store[..., -1].to_list() == [2, 3, 6]
    with pytest.raises(OutOfBoundsError, match="index 1 is out of bounds for axis 1"):
        ragged_store[1, 1]


def test_nested_index_lists_are_ragged_not_flattened(ragged_store: Any) -> None:
    assert ragged_store[[[1, 0], [], [2]]].to_list() == [[2, 1], [], [6]]
    assert ragged_store[np.array([[0], [0], [1]])].to_list() == [[1], [3], [5]]
    with pytest.raises(OutOfBoundsError, match="ragged index has 2 rows but the array has 3"):
        ragged_store[[[0, 1], [2, 0]]]


def test_array_store_rows_as_before(ragged_store: Any) -> None:
    assert ragged_store[2].to_list() == [4, 5, 6]
    assert ragged_store[-3].to_list() == [1, 2]
    assert ragged_store[[2, 0, 2]].to_list() == [[4, 5, 6], [1, 2], [4, 5, 6]]
    assert ragged_store[np.array([True, False, True])].to_list() == [[1, 2], [4, 5, 6]]
    assert ragged_store[::-2].to_list() == [[4, 5, 6], [1, 2]]
    assert ragged_store[[]].to_list() == []
    with pytest.raises(DTypeError, match="arrays are indexed by position, got the string 'a'"):
        ragged_store["a"]
    with pytest.raises(DTypeError, match="a single bool is not a valid index"):
        ragged_store[True]


def test_frame_store_keys(tmp_path: Path) -> None:
    df = gr.dataframe(
        {"molecule_id": [7, 8, 9], "atom_x": [[1.0, 2.0], None, [3.0]]},
        schema=["molecule", "atom"],
    )
    gr.save(df, tmp_path / "f.gr", shard_rows=2)
    h = gr.open(tmp_path / "f.gr")
    assert h[1].to_dict() == {"molecule_id": [8], "atom_x": [None]}
    assert h[...].to_dict() == df.to_dict()
    assert h[[2, 0]].to_dict() == {"molecule_id": [9, 7], "atom_x": [[3.0], [1.0, 2.0]]}
    assert h[gr.array([False, True, True])].to_dict() == {
        "molecule_id": [8, 9],
        "atom_x": [None, [3.0]],
    }
    for key in [(1, 0), 1.9]:
        with pytest.raises(DTypeError):
            h[key]
        with pytest.raises(DTypeError):
            df[key]
    # ragged keys select inside rows, on the store as in memory
    gather = [[1, 0], [], [0]]
    assert (
        h[gather].to_dict()
        == df[gather].to_dict()
        == {"molecule_id": [7, 8, 9], "atom_x": [[2.0, 1.0], None, [3.0]]}
    )
    with pytest.raises(OutOfBoundsError, match="out of bounds for axis 1 with length 0 in row 1"):
        h[[[0], [1], [0]]]
    with pytest.raises(OutOfBoundsError, match="row 3 is out of bounds for a frame with 3 rows"):
        h[[3]]


@pytest.mark.parametrize(
    ("key", "rows"),
    [
        (2, [2]),
        (-1, [4]),
        (slice(None, None, -2), [4, 2, 0]),
        ([3, -5], [3, 0]),
        (np.array([1, 1], dtype=np.uint8), [1, 1]),
        ([True, False, False, False, True], [0, 4]),
        ([], []),
        (np.int16(0), [0]),
    ],
    ids=["int", "negative", "slice", "list", "uint8", "mask", "empty", "numpy-int"],
)
def test_parse_rows_selects_rows(key: Any, rows: list[int]) -> None:
    got = parse_rows(key, 5)
    assert got.dtype == np.int64
    assert got.tolist() == rows


@pytest.mark.parametrize(
    ("key", "error", "message"),
    [
        (1.9, DTypeError, "row indices must be integers or a boolean mask, got float64"),
        ([0.0], DTypeError, "row indices must be integers or a boolean mask, got float64"),
        ((1, 0), DTypeError, r"rows are selected along one axis; got the tuple \(1, 0\)"),
        ([[0, 1], [2, 0]], DTypeError, r"a 2-D index of shape \(2, 2\)"),
        ([[0, 1], [2]], DTypeError, "rows are an int, a slice, a 1-D integer array"),
        (True, DTypeError, "a single bool is not a valid row index"),
        (["a"], DTypeError, "got <U1"),
        ([5], OutOfBoundsError, "row 5 is out of bounds for a store with 5 rows"),
        (np.array([7], dtype=np.uint64), OutOfBoundsError, "row 7 is out of bounds"),
        ([True, False], OutOfBoundsError, "boolean index has length 2; the store has 5"),
    ],
    ids=[
        "float",
        "float-list",
        "tuple",
        "2-D",
        "ragged",
        "bool",
        "strings",
        "out-of-bounds",
        "uint64",
        "short-mask",
    ],
)
def test_parse_rows_refuses_what_is_not_rows(key: Any, error: type, message: str) -> None:
    with pytest.raises(error, match=message):
        parse_rows(key, 5)
