"""Property tests for storage (docs/storage.md, docs/format.md): random arrays and frames.

- ``gr.save`` -> ``gr.load`` gives the same array / frame (dtype, layout, nulls, values;
  frames also columns, schema and column types), local and ``memory://``, with small chunks
  and with and without compression;
- saving the first of 1..4 pieces and appending the others gives exactly what one save of
  the whole gives;
- a lazy handle's selections (gathers with repeats and negatives, slices with steps, masks)
  equal the same selections of the in-memory object, with and without the chunk cache.

Inputs come from :mod:`grumpy_arrow.testing.strategies`; examples are kept few so the file
runs in well under 40 s.
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import fsspec
import numpy as np
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import grumpy_arrow as gr
from grumpy_arrow.testing import assert_values_equal
from grumpy_arrow.testing import strategies as gst

SETTINGS = settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

ANY_ARRAYS = gst.arrays(max_depth=3, max_size=8)
ANY_FRAMES = gst.frames(with_schema=None, null_levels=True, max_rows=6)
CHUNKS = st.sampled_from([1, 2, 3, 64, None])
COMPRESSORS = st.sampled_from(["none", "zstd", "blosc"])

# -- helpers (as in test_storage.py) ------------------------------------------------------


def wide_type(typ: pa.DataType) -> pa.DataType:
    """``typ`` with string/binary leaves as their large (int64-offset) forms."""
    if pa.types.is_string(typ):
        return pa.large_string()
    if pa.types.is_binary(typ):
        return pa.large_binary()
    if pa.types.is_large_list(typ):
        field = typ.value_field
        return pa.large_list(field.with_type(wide_type(field.type)))
    if pa.types.is_union(typ):
        fields = [typ.field(i).with_type(wide_type(typ.field(i).type)) for i in range(2)]
        return pa.dense_union(fields, list(typ.type_codes))
    return typ


def assert_same_array(got: Any, want: gr.GrumpyArray) -> None:
    """Same dtype, Arrow type (string leaves may come back with int64 offsets: a known
    bug, see test_storage.py), nulls and values (NaN equal to NaN)."""
    assert isinstance(got, gr.GrumpyArray), type(got)
    assert got.dtype == want.dtype
    assert len(got) == len(want)
    g, w = got.to_arrow(), want.to_arrow()
    g.validate(full=True)
    assert g.type in (w.type, wide_type(w.type)), (g.type, w.type)
    assert got.null_count == want.null_count
    assert_values_equal(got.to_list(), want.to_list())
    if g.type == w.type and not _has_nan(want):
        assert g.equals(w), (got.to_list(), want.to_list())


def _has_nan(x: gr.GrumpyArray) -> bool:
    def walk(v: Any) -> bool:
        if isinstance(v, list):
            return any(walk(i) for i in v)
        return isinstance(v, float) and v != v

    return x.dtype.kind == "f" and walk(x.to_list())


def assert_same_frame(got: Any, want: gr.DataFrame) -> None:
    assert isinstance(got, gr.DataFrame), type(got)
    assert got.columns == want.columns
    assert got.schema == want.schema
    assert len(got) == len(want)
    for name in want.columns:
        assert_same_array(got[name], want[name])
    assert_values_equal(got.to_dict(), want.to_dict())


def assert_same(got: Any, want: Any) -> None:
    if isinstance(want, gr.DataFrame):
        assert_same_frame(got, want)
    else:
        assert_same_array(got, want)


@pytest.fixture(scope="module")
def locations(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """``new(memory)`` -> a fresh store location (hypothesis runs many examples per test,
    so function-scoped tmp_path is not used); memory stores are removed at the end."""
    root = tmp_path_factory.mktemp("props")
    base = f"grumpy-props-{uuid.uuid4().hex}"

    def new(memory: bool) -> str:
        name = uuid.uuid4().hex
        return f"memory://{base}/{name}" if memory else str(Path(root) / name)

    yield new
    fs = fsspec.filesystem("memory")
    if fs.exists(f"/{base}"):
        fs.rm(f"/{base}", recursive=True)


def _null_lists_as_empty(got: Any, want: Any) -> Any:
    """``got`` with None where ``want`` has 0 or [] (a null list has no entities)."""
    if got is None and want in (0, []):
        return want
    if isinstance(got, list) and isinstance(want, list) and len(got) == len(want):
        return [_null_lists_as_empty(g, w) for g, w in zip(got, want, strict=True)]
    return got


def cuts(n: int) -> st.SearchStrategy[list[int]]:
    """Boundaries of 1..4 consecutive pieces of ``n`` rows (pieces may be empty)."""
    return st.lists(st.integers(0, n), max_size=3).map(lambda c: [0, *sorted(c), n])


def selections(n: int) -> st.SearchStrategy[Any]:
    """Row selections of a store of ``n`` rows: gathers, slices and masks."""
    gathers = st.lists(st.integers(-n, n - 1), max_size=8) if n else st.just([])
    steps = st.sampled_from([None, 1, 2, -1, -3])
    bounds = st.none() | st.integers(-n - 2, n + 2)
    slices = st.builds(slice, bounds, bounds, steps)
    masks = st.lists(st.booleans(), min_size=n, max_size=n).map(np.array)
    return gathers | gathers.map(np.array) | slices | masks


# -- round trips --------------------------------------------------------------------------


@SETTINGS
@given(x=ANY_ARRAYS, chunk_size=CHUNKS, compressor=COMPRESSORS, memory=st.booleans())
def test_array_round_trip(
    locations: Any, x: gr.GrumpyArray, chunk_size: int | None, compressor: str, memory: bool
) -> None:
    path = locations(memory)
    gr.save(x, path, chunk_size=chunk_size, compressor=compressor)
    assert_same_array(gr.load(path), x)
    assert len(gr.open(path)) == len(x)


@SETTINGS
@given(spec=ANY_FRAMES, chunk_size=CHUNKS, compressor=COMPRESSORS, memory=st.booleans())
def test_frame_round_trip(
    locations: Any, spec: gst.FrameSpec, chunk_size: int | None, compressor: str, memory: bool
) -> None:
    df = spec.build()
    path = locations(memory)
    gr.save(df, path, chunk_size=chunk_size, compressor=compressor)
    got = gr.load(path)
    assert_same_frame(got, df)
    assert_values_equal(got.to_dict(), spec.columns)
    h = gr.open(path)
    assert (len(h), h.columns, h.schema) == (spec.nrows, list(spec.columns), df.schema)
    if spec.schema is not None:
        for k in range(1, len(spec.schema)):
            if any(level >= k for level in spec.levels.values()):
                # Null lists count 0 entities; the handle reports them as None (a known
                # bug, see test_storage.py::test_handle_shape_of_a_null_level_list).
                want = df.shape(k).to_list()
                assert _null_lists_as_empty(h.shape(k).to_list(), want) == want


# -- append in pieces == save once --------------------------------------------------------


def _append_in_pieces(
    locations: Any,
    obj: Any,
    bounds: list[int],
    chunk_size: int | None,
    compressor: str,
    memory: bool,
) -> None:
    once, pieces = locations(memory), locations(memory)
    gr.save(obj, once, chunk_size=chunk_size, compressor=compressor)
    gr.save(obj[bounds[0] : bounds[1]], pieces, chunk_size=chunk_size, compressor=compressor)
    for a, b in itertools.pairwise(bounds[1:]):
        gr.append(obj[a:b], pieces)
    whole, appended = gr.load(once), gr.load(pieces)
    if isinstance(obj, gr.DataFrame):
        assert appended.columns == whole.columns
        assert appended.schema == whole.schema
        for name in whole.columns:
            assert appended[name].to_arrow().type == whole[name].to_arrow().type
            assert_same_array(appended[name], whole[name])
    else:
        assert appended.to_arrow().type == whole.to_arrow().type
        assert_same_array(appended, whole)
    assert_same(appended, obj)
    h = gr.open(pieces)
    assert len(h) == len(obj)
    if len(obj):
        rows = np.arange(len(obj))[::-1]
        assert_same(h[rows], obj[rows])


@SETTINGS
@given(
    data=ANY_ARRAYS.flatmap(lambda x: st.tuples(st.just(x), cuts(len(x)))),
    chunk_size=st.sampled_from([1, 3, 64]),
    compressor=st.sampled_from(["none", "zstd"]),
    memory=st.booleans(),
)
def test_array_append_in_pieces(
    locations: Any,
    data: tuple[gr.GrumpyArray, list[int]],
    chunk_size: int,
    compressor: str,
    memory: bool,
) -> None:
    x, bounds = data
    _append_in_pieces(locations, x, bounds, chunk_size, compressor, memory)


@SETTINGS
@given(
    data=ANY_FRAMES.map(gst.FrameSpec.build).flatmap(
        lambda df: st.tuples(st.just(df), cuts(len(df)))
    ),
    chunk_size=st.sampled_from([1, 3, 64]),
    compressor=st.sampled_from(["none", "zstd"]),
    memory=st.booleans(),
)
def test_frame_append_in_pieces(
    locations: Any,
    data: tuple[gr.DataFrame, list[int]],
    chunk_size: int,
    compressor: str,
    memory: bool,
) -> None:
    df, bounds = data
    _append_in_pieces(locations, df, bounds, chunk_size, compressor, memory)


# -- lazy selections ----------------------------------------------------------------------


@SETTINGS
@given(
    data=st.one_of(ANY_ARRAYS, ANY_FRAMES.map(gst.FrameSpec.build)).flatmap(
        lambda obj: st.tuples(st.just(obj), st.lists(selections(len(obj)), min_size=1, max_size=4))
    ),
    chunk_size=st.sampled_from([1, 3, 64]),
    cache=st.sampled_from(["chunks", "none"]),
    memory=st.booleans(),
)
def test_handle_selections(
    locations: Any, data: tuple[Any, list[Any]], chunk_size: int, cache: str, memory: bool
) -> None:
    obj, sels = data
    path = locations(memory)
    gr.save(obj, path, chunk_size=chunk_size)
    h = gr.open(path, cache=cache)
    for sel in sels:
        assert_same(h[sel], obj[sel])
        if isinstance(sel, slice):
            sel = np.arange(len(obj))[sel]
        assert_same(h.take(sel), obj[sel])
    if isinstance(obj, gr.DataFrame) and len(obj):
        name = obj.columns[-1]
        rows = [len(obj) - 1, 0, len(obj) - 1]
        assert_same(h.take(rows, columns=[name]), obj[[name]][rows])
        assert_same(h[name][rows], obj[[name]][rows])
