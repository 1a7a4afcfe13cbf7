"""The compiled kernels (grumpy_arrow._kernels via grumpy_arrow._native) and the NumPy
paths that stand in without them: the same values both ways, every dtype and length, and
clear errors (never a crash) for ranges, offsets and buffers that do not fit."""

from __future__ import annotations

import dataclasses
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import textwrap
import threading
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pytest

import grumpy_arrow as gr
from grumpy_arrow import _native
from grumpy_arrow.compute import gather

needs_kernels = pytest.mark.skipif(
    _native.kernels is None, reason="grumpy_arrow._kernels is not built (no C compiler)"
)

OPS = {
    "equal": np.equal,
    "not_equal": np.not_equal,
    "less": np.less,
    "less_equal": np.less_equal,
    "greater": np.greater,
    "greater_equal": np.greater_equal,
}
INTS = ["int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64"]
LENGTHS = [0, 1, 7, 8, 15, 16, 17, 31, 32, 33, 100, 2047, 2048, 2049, 5000]


@pytest.fixture(params=["native", "numpy"])
def paths(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Run a test with the kernels, then with them off (the NumPy paths)."""
    if request.param == "native" and _native.kernels is None:
        pytest.skip("grumpy_arrow._kernels is not built")
    if request.param == "numpy":
        monkeypatch.setattr(_native, "kernels", None)
    return str(request.param)


def test_the_kernels_are_built_where_a_compiler_is() -> None:
    """An install on a machine with a C compiler builds the extension (setup.py marks it
    optional only for machines without one)."""
    if os.environ.get("GRUMPY_ARROW_NATIVE", "1") == "0":
        pytest.skip("turned off by GRUMPY_ARROW_NATIVE=0")
    compiler = (sysconfig.get_config_var("CC") or "cc").split()[0]
    if shutil.which(compiler) is None:
        pytest.skip(f"no C compiler ({compiler}) on this machine")
    assert _native.available()
    assert _native.kernels is not None
    assert _native.kernels.__name__ == "grumpy_arrow._kernels"
    # Built from this source: every function of its method table is there. (A failed
    # rebuild of an editable install keeps the old module without a word, since the
    # extension is optional: this is where that shows.)
    source = (Path(_native.__file__).parent / "_kernels.c").read_text()
    table = re.findall(r'\{"(\w+)", \w+, METH_VARARGS', source)
    assert len(table) >= 10 and "scaled_floats" in table
    missing = [name for name in table if not hasattr(_native.kernels, name)]
    assert not missing, f"the built extension lacks {missing}: rebuild it"


def test_turned_off_by_the_environment() -> None:
    code = "from grumpy_arrow import _native; print(_native.available())"
    env = {**os.environ, "GRUMPY_ARROW_NATIVE": "0"}
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "False"


# -- take_ranges ----------------------------------------------------------------------------


def _ranges(rng: np.random.Generator, n: int, count: int) -> tuple[np.ndarray, np.ndarray]:
    starts = rng.integers(0, n + 1, count)
    lens = rng.integers(0, 40, count)
    lens = np.minimum(lens, n - starts)
    return starts.astype(np.int64), lens.astype(np.int64)


@needs_kernels
@pytest.mark.parametrize(
    "dtype",
    [*INTS, "float32", "float64", "bool", "datetime64[ms]", "timedelta64[s]", "complex64"],
)
def test_take_ranges_every_dtype(dtype: str) -> None:
    rng = np.random.default_rng(7)
    x = (rng.integers(0, 250, 3000)).astype(dtype)
    starts, lens = _ranges(rng, len(x), 400)
    want = np.concatenate([x[a : a + b] for a, b in zip(starts, lens, strict=True)])
    got = _native.take_ranges(x, starts, lens, int(lens.sum()))
    assert got is not None
    assert got.dtype == x.dtype
    np.testing.assert_array_equal(got, want)


@needs_kernels
def test_take_ranges_edges() -> None:
    x = np.arange(10, dtype=np.int32)
    empty = np.zeros(0, dtype=np.int64)
    assert _native.take_ranges(x, empty, empty, 0).tolist() == []
    got = _native.take_ranges(x, np.array([0, 10, 3, 9]), np.array([0, 0, 2, 1]), 3)
    assert got.tolist() == [3, 4, 9]
    whole = _native.take_ranges(x, np.array([0, 0]), np.array([10, 10]), 20)
    assert whole.tolist() == list(range(10)) * 2
    # Not contiguous, objects: not for the kernel (the caller's NumPy path does them).
    assert _native.take_ranges(x[::2], np.array([0]), np.array([1]), 1) is None
    objects = np.array(["a", "b"], dtype=object)
    assert _native.take_ranges(objects, np.array([0]), np.array([1]), 1) is None


@needs_kernels
@pytest.mark.parametrize(
    ("starts", "lens"),
    [
        ([-1], [1]),
        ([0], [-1]),
        ([5], [6]),
        ([11], [0]),
        ([2**62], [1]),
        ([1], [2**62]),
        ([0, 4], [5, 7]),
    ],
)
def test_take_ranges_refuses_ranges_outside_the_source(starts: list[int], lens: list[int]) -> None:
    x = np.arange(10, dtype=np.int64)
    out = np.full(64, -7, dtype=np.int64)
    with pytest.raises(IndexError, match="outside the source's 10 items"):
        _native.kernels.take_ranges(x, np.array(starts), np.array(lens), out)  # type: ignore[union-attr]
    assert (out == -7).all()  # nothing copied


@needs_kernels
def test_take_ranges_refuses_a_short_output_and_bad_buffers() -> None:
    k = _native.kernels
    x = np.arange(10, dtype=np.int32)
    s, n = np.array([0, 2]), np.array([5, 5])
    with pytest.raises(IndexError, match="or the output's 9"):
        k.take_ranges(x, s, n, np.empty(9, dtype=np.int32))  # type: ignore[union-attr]
    with pytest.raises(ValueError, match="output items of 8 bytes, source 4"):
        k.take_ranges(x, s, n, np.empty(10, dtype=np.int64))  # type: ignore[union-attr]
    with pytest.raises(TypeError, match="expected int64 values, got format 'i'"):
        k.take_ranges(x, s.astype(np.int32), n, np.empty(10, dtype=np.int32))  # type: ignore[union-attr]
    with pytest.raises(ValueError, match="2 starts but 1 lengths"):
        k.take_ranges(x, s, n[:1], np.empty(10, dtype=np.int32))  # type: ignore[union-attr]
    with pytest.raises(BufferError, match="not writable"):
        k.take_ranges(x, s, n, bytes(40))  # type: ignore[union-attr]
    with pytest.raises(ValueError, match="not C-contiguous"):
        k.take_ranges(np.arange(20, dtype=np.int32)[::2], s, n, np.empty(10, dtype=np.int32))  # type: ignore[union-attr]


def test_take_ranges_both_paths(paths: str) -> None:
    """gather.take_ranges (and the blocks it copies without the kernels) gives the same
    values both ways, for lengths of one size, of nearby sizes and of scattered sizes."""
    rng = np.random.default_rng(3)
    x = rng.standard_normal(50_000).astype(np.float32)
    for lo, hi in [(256, 257), (250, 258), (1, 3000), (0, 4)]:
        lens = rng.integers(lo, hi, 300).astype(np.int64)
        starts = rng.integers(0, len(x) - 3000, 300).astype(np.int64)
        want = np.concatenate([x[a : a + b] for a, b in zip(starts, lens, strict=True)])
        np.testing.assert_array_equal(gather.take_ranges(x, starts, lens), want)


def test_ranges_take_from_both_paths(paths: str) -> None:
    x = np.arange(100_000, dtype=np.int64) * 3
    starts = np.array([50, 10, 99_990, 7, 7], dtype=np.int64)
    stops = np.array([60, 10, 100_000, 8, 400], dtype=np.int64)
    got = gather.Ranges(starts, stops).take_from(x)
    want = np.concatenate([x[a:b] for a, b in zip(starts, stops, strict=True)])
    assert got.tolist() == want.tolist()


# -- segment_sum ----------------------------------------------------------------------------


@needs_kernels
@pytest.mark.parametrize("dtype", [*INTS, "bool"])
def test_segment_sum_every_dtype(dtype: str) -> None:
    rng = np.random.default_rng(11)
    info = np.iinfo(dtype) if dtype != "bool" else None
    if info is None:
        x = rng.integers(0, 2, 5000).astype(bool)
    else:
        x = rng.integers(info.min, int(info.max) + 1, 5000, dtype=dtype)
    lens = rng.integers(0, 60, 200)
    offsets = np.concatenate([[0], np.cumsum(lens)]).astype(np.int64)
    offsets = offsets[offsets <= len(x)]
    got = _native.segment_sum(x, offsets)
    assert got is not None
    assert got.dtype == (np.uint64 if dtype.startswith("uint") else np.int64)
    mod = 2**64
    for i in range(len(offsets) - 1):
        want = sum(int(v) for v in x[offsets[i] : offsets[i + 1]]) % mod
        assert int(got[i]) % mod == want, (dtype, i)


@needs_kernels
def test_segment_sum_wraps_as_numpy_does() -> None:
    x = np.array([2**62, 2**62, 2**62, -5], dtype=np.int64)
    got = _native.segment_sum(x, np.array([0, 3, 4]))
    assert got.tolist() == np.add.reduceat(x, [0, 3]).tolist()
    assert got.tolist() == [-(2**62), -5]
    assert _native.segment_sum(x, np.array([0])).tolist() == []
    assert _native.segment_sum(np.zeros(3, np.float64), np.array([0, 3])) is None


@needs_kernels
@pytest.mark.parametrize("offsets", [[0, 5, 3], [-1, 2], [0, 11], [4, 2]])
def test_segment_sum_refuses_bad_offsets(offsets: list[int]) -> None:
    x = np.ones(10, dtype=np.int32)
    with pytest.raises(ValueError, match="never decrease and end inside the 10 values"):
        _native.segment_sum(x, np.array(offsets))


@needs_kernels
def test_segment_sum_refuses_bad_buffers() -> None:
    k = _native.kernels
    x = np.ones(10, dtype=np.int32)
    with pytest.raises(TypeError, match="expected integer or bool values, got 'd'"):
        k.segment_sum(np.ones(10), np.array([0, 10]), np.empty(1, np.int64))  # type: ignore[union-attr]
    with pytest.raises(ValueError, match="one more offset than outputs"):
        k.segment_sum(x, np.array([0, 10]), np.empty(2, np.int64))  # type: ignore[union-attr]
    with pytest.raises(ValueError, match="8-byte items"):
        k.segment_sum(x, np.array([0, 10]), np.empty(2, np.int32))  # type: ignore[union-attr]


def test_int64_sums_wrap_both_paths(paths: str) -> None:
    a = gr.array([[2**62, 2**62, 2**62], [-5], []], dtype="int64")
    assert a.sum(dim=1).to_list() == [-(2**62), -5, 0]


def test_sum_and_mean_per_row_both_paths(paths: str) -> None:
    rng = np.random.default_rng(5)
    rows = [rng.integers(-(2**31), 2**31, int(n)).tolist() for n in rng.integers(0, 30, 300)]
    rows[5] = []
    for dtype in ["int8", "int16", "int32", "int64", "uint32", "bool"]:
        if dtype == "bool":
            data = [[v % 2 == 0 for v in r] for r in rows]
        elif dtype == "int64":  # (sums well inside float64's exact integers)
            data = [[v * 1000 for v in r] for r in rows]
        else:
            info = np.iinfo(dtype)
            data = [
                [v % (int(info.max) - int(info.min) + 1) + int(info.min) for v in r] for r in rows
            ]
        a = gr.array(data, dtype=dtype)
        sums = a.sum(dim=1).to_list()
        means = a.mean(dim=1).to_list()
        for r, s, m in zip(data, sums, means, strict=True):
            total = sum(int(v) for v in r)
            assert s == total
            assert m == (None if not r else np.float64(sum(int(v) for v in r)) / len(r))


# -- compare_bits ---------------------------------------------------------------------------


def _values(dtype: str, n: int, rng: np.random.Generator) -> np.ndarray:
    if dtype.startswith("float"):
        x = rng.integers(-3, 4, n).astype(dtype)
        special = np.array([np.nan, np.inf, -np.inf, -0.0, 0.0], dtype=dtype)
        x[rng.integers(0, max(n, 1), n // 4)] = special[rng.integers(0, 5, n // 4)]
        return x
    info = np.iinfo(dtype)
    extremes = np.array([info.min, info.max, 0, 1, info.max // 2 + 1], dtype=dtype)
    x = rng.integers(0, 5, n).astype(dtype) + np.asarray(2, dtype=dtype)
    x[rng.integers(0, max(n, 1), n // 4)] = extremes[rng.integers(0, 5, n // 4)]
    return x


@needs_kernels
@pytest.mark.parametrize("dtype", [*INTS, "float32", "float64"])
@pytest.mark.parametrize("op", list(OPS))
def test_compare_bits_matches_numpy(dtype: str, op: str) -> None:
    rng = np.random.default_rng(abs(hash((dtype, op))) % 2**32)
    for n in LENGTHS:
        x = _values(dtype, n, rng)
        for y in (_values(dtype, n, rng), x[:1] if n else np.zeros(1, dtype)):
            got = _native.compare_bits(x, y, op)
            assert got is not None
            want = np.packbits(OPS[op](x, y), bitorder="little")
            assert got.tolist() == want.tolist(), (dtype, op, n, len(y))
        # A scalar on the left: the mirrored comparison.
        t = x[:1] if n else np.zeros(1, dtype)
        got = _native.compare_bits(t.reshape(()), x, op)
        assert got.tolist() == np.packbits(OPS[op](t[0], x), bitorder="little").tolist()


@needs_kernels
def test_compare_bits_declines_what_it_does_not_cover() -> None:
    x = np.arange(5, dtype=np.int32)
    assert _native.compare_bits(x, np.arange(5, dtype=np.int64), "less") is None
    assert _native.compare_bits(x.astype(bool), x.astype(bool), "equal") is None
    assert _native.compare_bits(x.astype(np.float16), x.astype(np.float16), "less") is None
    assert _native.compare_bits(x, x, "add") is None
    assert _native.compare_bits(x, x[:3], "less") is None
    k = _native.kernels
    with pytest.raises(ValueError, match=r"op 6 is not one of 0\.\.5"):
        k.compare_bits(x, x, 6, np.empty(1, np.uint8))  # type: ignore[union-attr]
    with pytest.raises(ValueError, match="into 0 bytes \\(1 needed\\)"):
        k.compare_bits(x, x, 0, np.empty(0, np.uint8))  # type: ignore[union-attr]
    with pytest.raises(TypeError, match="one format on both sides"):
        k.compare_bits(x, x.astype(np.uint32), 0, np.empty(1, np.uint8))  # type: ignore[union-attr]


@pytest.mark.parametrize("dtype", ["int8", "int32", "uint64", "float32", "float64"])
def test_comparisons_of_arrays_both_paths(paths: str, dtype: str) -> None:
    rng = np.random.default_rng(2)
    n = rng.integers(0, 40, 120)
    offsets = np.concatenate([[0], np.cumsum(n)])
    flat = _values(dtype, int(offsets[-1]), rng)
    a = gr.array(pa.LargeListArray.from_arrays(pa.array(offsets), pa.array(flat)))
    rows = [flat[offsets[i] : offsets[i + 1]] for i in range(len(n))]
    t = 3
    for name, fn in OPS.items():
        for got, want in [
            (getattr(a, f"__{_DUNDER[name]}__")(t), [fn(r, t).tolist() for r in rows]),
            (getattr(a, f"__{_DUNDER[name]}__")(a), [fn(r, r).tolist() for r in rows]),
        ]:
            assert got.to_list() == want, (dtype, name)
    assert (t < a).to_list() == [(t < r).tolist() for r in rows]


_DUNDER = {
    "equal": "eq",
    "not_equal": "ne",
    "less": "lt",
    "less_equal": "le",
    "greater": "gt",
    "greater_equal": "ge",
}


def test_fancy_get_both_paths(paths: str) -> None:
    rng = np.random.default_rng(9)
    rows = [rng.integers(0, 100, int(k)).tolist() for k in rng.integers(0, 300, 500)]
    a = gr.array(rows, dtype="int32")
    idx = rng.integers(0, 500, 1000)
    assert a[idx].to_list() == [rows[i] for i in idx]


# -- threads and hostile buffers -------------------------------------------------------------


@needs_kernels
def test_kernels_give_exact_results_on_several_threads() -> None:
    """The kernels release the GIL: four threads at once, each result exact."""
    rng = np.random.default_rng(4)
    x = rng.integers(-1000, 1000, 400_000).astype(np.int32)
    offsets = np.arange(0, len(x) + 1, 400, dtype=np.int64)
    starts, lens = offsets[:-1][::-1].copy(), np.full(len(offsets) - 1, 400, dtype=np.int64)
    sums = np.add.reduceat(x, offsets[:-1], dtype=np.int64)
    bits = np.packbits(x > 10, bitorder="little")
    backwards = x.reshape(-1, 400)[::-1].reshape(-1)
    bad: list[str] = []

    def work() -> None:
        for _ in range(30):
            if not np.array_equal(_native.segment_sum(x, offsets), sums):
                bad.append("sum")
            if not np.array_equal(
                _native.compare_bits(x, np.array([10], np.int32), "greater"), bits
            ):
                bad.append("compare")
            if not np.array_equal(_native.take_ranges(x, starts, lens, len(x)), backwards):
                bad.append("take")

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert bad == []


def _run_hostile(code: str) -> list[int]:
    """Run ``code`` in a fresh interpreter (a crash fails the test, not pytest) and return
    the integers it prints."""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    return [int(v) for v in out.stdout.split()]


@needs_kernels
def test_hostile_ranges_and_offsets_never_crash() -> None:
    """Random starts, lengths and offsets, most of them outside their buffers, thrown at
    the kernels in a subprocess (a crash fails the test instead of pytest): every call
    either raises the documented error or gives NumPy's values."""
    code = textwrap.dedent(
        """
        import numpy as np
        from grumpy_arrow import _native
        k = _native.kernels
        rng = np.random.default_rng(0)
        raised = exact = 0
        for trial in range(3000):
            n = int(rng.integers(0, 50))
            x = rng.integers(-9, 9, n).astype(np.int16)
            m = int(rng.integers(0, 8))
            big = [0, 1, n, n + 1, -1, 2**31, 2**62, -2**63, 2**63 - 1]
            pick = lambda: int(rng.choice(big)) if rng.random() < 0.3 else int(rng.integers(-3, n + 3))
            starts = np.array([pick() for _ in range(m)], dtype=np.int64)
            lens = np.array([pick() for _ in range(m)], dtype=np.int64)
            out = np.empty(int(rng.integers(0, 60)), dtype=np.int16)
            try:
                got = k.take_ranges(x, starts, lens, out)
            except IndexError:
                raised += 1
            else:
                want = np.concatenate([x[a:a + b] for a, b in zip(starts, lens)] + [x[:0]])
                assert got == len(want) and out[:got].tolist() == want.tolist()
                exact += 1
            offsets = np.array(sorted(pick() for _ in range(m + 1)), dtype=np.int64)
            if rng.random() < 0.3:
                offsets = offsets[::-1].copy()
            try:
                sums = _native.segment_sum(x, offsets)
            except ValueError:
                raised += 1
            else:
                want = [int(x[a:b].sum()) for a, b in zip(offsets[:-1], offsets[1:])]
                assert sums.tolist() == want
                exact += 1
        print(raised, exact)
        """
    )
    raised, exact = _run_hostile(code)
    assert raised > 1000
    assert exact > 1000


# -- int_rows (construction) ----------------------------------------------------------------


@needs_kernels
@pytest.mark.parametrize("dtype", INTS)
def test_int_rows_every_width(dtype: str) -> None:
    info = np.iinfo(dtype)
    rows = [[int(info.min), 0, int(info.max)], [], (1, 2), [int(info.max) - 1]]
    got = _native.int_rows(rows, np.dtype(dtype))
    assert got is not None
    offsets, values = got
    assert offsets.tolist() == [0, 3, 3, 5, 6]
    assert values.dtype == np.dtype(dtype)
    assert values.tolist() == [int(info.min), 0, int(info.max), 1, 2, int(info.max) - 1]


@needs_kernels
@pytest.mark.parametrize(
    "rows",
    [
        [[1, 2], None],
        [[1, None]],
        [[1, True]],
        [[1, 2.0]],
        [[1, np.int32(2)]],
        [[1, [2]]],
        [[1, 128]],
        [[-129]],
        "ab",
        [[1], "ab"],
        [np.array([1, 2])],
    ],
)
def test_int_rows_declines_anything_else(rows: object) -> None:
    assert _native.int_rows(rows, np.dtype("int8")) is None


@needs_kernels
def test_int_rows_declines_out_of_range_unsigned_and_64_bit() -> None:
    assert _native.int_rows([[-1]], np.dtype("uint64")) is None
    assert _native.int_rows([[2**64]], np.dtype("uint64")) is None
    assert _native.int_rows([[2**63]], np.dtype("int64")) is None
    assert _native.int_rows([[256]], np.dtype("uint8")) is None
    assert _native.int_rows([[2**64 - 1]], np.dtype("uint64"))[1].tolist() == [2**64 - 1]
    assert _native.int_rows([[1]], np.dtype("float64")) is None


@pytest.mark.parametrize("dtype", [None, "int8", "int32", "uint16", "int64", "uint64"])
def test_construction_from_lists_both_paths(paths: str, dtype: str | None) -> None:
    """gr.array of list-of-lists gives the same Arrow array with and without the kernel,
    and the rows the kernel declines (nulls, bools, floats, out of range) build or fail
    as the general path says."""
    rows = [[1, 2, 3], [], [4], [0, 5, 6, 7]]
    a = gr.array(rows, dtype=dtype)
    assert a.to_list() == rows
    assert str(a.dtype) == (dtype or "int64")
    assert a.to_arrow().type == pa.large_list(pa.field("item", gr.dtype(dtype or "int64").arrow))
    assert gr.array([[1, None], None], dtype=dtype).to_list() == [[1, None], None]
    assert gr.array([[1, 2.0]], dtype=dtype).to_list() == [[1, 2]]
    with pytest.raises(gr.errors.GrumpyError):
        gr.array([[1, 2.5]], dtype=dtype or "int64")
    if dtype in ("int8", "uint16"):
        with pytest.raises(gr.errors.GrumpyError):
            gr.array([[1, 70_000]], dtype=dtype)


# -- crc32c and Blosc chunks (the store's reads) ----------------------------------------------


@needs_kernels
@pytest.mark.parametrize("width", [1, 3, 8, 9, 64, 4096, 32768])
def test_crc32c_rows_matches_google_crc32c(width: int) -> None:
    google_crc32c = pytest.importorskip("google_crc32c")
    data = np.random.default_rng(width).integers(0, 256, width * 13 + 5, dtype=np.uint8)
    got = _native.crc32c_rows(data, width)
    assert got is not None
    assert got.dtype == np.uint32
    rows = len(data) // width  # (the bytes past the last whole row are not a row)
    want = [google_crc32c.value(data[j * width : (j + 1) * width].tobytes()) for j in range(rows)]
    assert got.tolist() == want


def _blosc_shard(values: np.ndarray, chunk: int) -> tuple[bytes, np.ndarray, np.ndarray]:
    """Inner chunks as the store writes them: a Blosc frame, then its crc32c."""
    from grumpy_arrow.storage import sharding as sh

    fmt = sh.plan_format(values.dtype, "blosc", chunk=chunk, shard=len(values))
    blob, offsets, sizes = sh.encode_chunks(fmt, values)
    return bytes(memoryview(blob).cast("B")), offsets, sizes


@needs_kernels
def test_blosc_chunks_decode_and_flag_damage() -> None:
    from grumpy_arrow.storage import sharding as sh

    decode = sh.blosc_decoder()
    if decode is None:
        pytest.skip("this numcodecs build does not export c-blosc's functions")
    values = (np.random.default_rng(1).standard_normal(2048 * 20) * 1000).astype(np.int32)
    data, offsets, sizes = _blosc_shard(values, 2048)
    out = np.zeros_like(values)
    bad = _native.blosc_chunks(data, offsets, sizes, out, 8192, decode)
    assert bad is not None
    assert bad.tolist() == [0] * 20
    assert out.tolist() == values.tolist()
    # A flipped byte (checksum), a chunk past the end, a size too small for a frame, a
    # header that claims another size: each flagged and left alone, the others decoded.
    damaged = bytearray(data)
    damaged[int(offsets[3]) + 20] ^= 1
    off, size = offsets.copy(), sizes.copy()
    off[5] = len(data) - 8
    size[7] = 19
    out[:] = -1
    bad = _native.blosc_chunks(bytes(damaged), off, size, out, 8192, decode)
    assert np.flatnonzero(bad).tolist() == [3, 5, 7]
    for j in range(20):
        part = out[j * 2048 : (j + 1) * 2048]
        if j in (3, 5, 7):
            assert (part == -1).all()
        else:
            assert part.tolist() == values[j * 2048 : (j + 1) * 2048].tolist()
    out[:] = -1
    bad = _native.blosc_chunks(data, offsets, sizes, out, 4096, decode)  # the wrong size
    assert bad.tolist() == [1] * 20 and (out == -1).all()


@needs_kernels
def test_hostile_blosc_chunks_never_crash() -> None:
    """Random bytes, offsets and sizes, and real frames with random bytes changed, thrown
    at the Blosc loop in a subprocess: every chunk is either flagged or decoded exactly."""
    code = textwrap.dedent(
        """
        import numpy as np
        from grumpy_arrow import _native
        from grumpy_arrow.storage import sharding as sh
        decode = sh.blosc_decoder()
        if decode is None:
            print(0, 0); raise SystemExit
        fmt = sh.plan_format(np.dtype("int32"), "blosc", chunk=1024, shard=1024 * 8)
        values = np.random.default_rng(0).integers(-50, 50, 1024 * 8).astype(np.int32)
        blob, offsets, sizes = sh.encode_chunks(fmt, values)
        blob = bytes(memoryview(blob).cast("B"))
        rng = np.random.default_rng(1)
        flagged = exact = 0
        for trial in range(400):
            data = bytearray(blob)
            for _ in range(int(rng.integers(0, 4))):
                data[int(rng.integers(0, len(data)))] = int(rng.integers(0, 256))
            off, size = offsets.copy(), sizes.copy()
            if rng.random() < 0.3:
                off[int(rng.integers(0, 8))] = int(rng.integers(-5, len(data) + 5))
            if rng.random() < 0.3:
                size[int(rng.integers(0, 8))] = int(rng.choice([0, 19, 20, 2**40, -1]))
            out = np.zeros(1024 * 8, np.int32)
            bad = _native.blosc_chunks(bytes(data), off, size, out, 4096, decode)
            for j in range(8):
                part = out[j * 1024 : (j + 1) * 1024]
                if bad[j]:
                    flagged += 1
                else:
                    assert part.tolist() == values[j * 1024 : (j + 1) * 1024].tolist(), j
                    exact += 1
        print(flagged, exact)
        """
    )
    flagged, exact = _run_hostile(code)
    assert flagged > 100
    assert exact > 1000


@pytest.mark.parametrize("compressor", ["blosc", "none"])
def test_whole_loads_both_paths(paths: str, compressor: str, tmp_path: Path) -> None:
    """A store of several shards per leaf loads the same values with and without the
    kernels (shards decoded on threads with them), and a damaged inner chunk is named."""
    rng = np.random.default_rng(8)
    rows = [rng.integers(-1000, 1000, int(k)).tolist() for k in rng.integers(0, 400, 3000)]
    a = gr.array(rows, dtype="int32")
    path = tmp_path / "s.gr"
    gr.save(a, path, compressor=compressor, shard_size=1 << 16)
    assert gr.load(path).to_list() == rows
    h = gr.open(path, cache="none")
    assert h[[5, 2999, 0]].to_list() == [rows[5], rows[2999], rows[0]]
    values = next(p for p in path.rglob("c/*") if p.is_file() and "values" in str(p))
    raw = bytearray(values.read_bytes())
    raw[100] ^= 0xFF
    values.write_bytes(bytes(raw))
    with pytest.raises(gr.errors.StoreFormatError, match="chunk 0"):
        gr.load(path)


@needs_kernels
@pytest.mark.parametrize("dtype", ["int8", "int32", "float64", "datetime64[s]"])
def test_take_rows_matches_numpy(dtype: str) -> None:
    rng = np.random.default_rng(12)
    lens = rng.integers(0, 30, 200)
    offsets = np.concatenate([[0], np.cumsum(lens)]).astype(np.int64)
    values = rng.integers(0, 100, int(offsets[-1])).astype(dtype)
    rows = rng.integers(-200, 200, 500)
    got = _native.take_rows(values, offsets, rows)
    assert got is not None
    new, picked = got
    want = [values[offsets[r] : offsets[r + 1]] for r in (rows % 200)]
    assert new.tolist() == np.concatenate([[0], np.cumsum([len(w) for w in want])]).tolist()
    assert picked.dtype == values.dtype
    assert picked.tolist() == np.concatenate(want).tolist()
    empty = _native.take_rows(values, offsets, np.zeros(0, dtype=np.int64))
    assert empty[0].tolist() == [0] and len(empty[1]) == 0


@needs_kernels
@pytest.mark.parametrize(
    ("offsets", "rows"),
    [([0, 2, 5], [2]), ([0, 2, 5], [-3]), ([0, 6, 5], [1]), ([0, 2, 11], [1]), ([-1, 2], [0])],
)
def test_take_rows_refuses_rows_and_offsets_outside(offsets: list[int], rows: list[int]) -> None:
    values = np.arange(10, dtype=np.int32)
    with pytest.raises(IndexError, match=r"outside the [12] rows"):
        _native.take_rows(values, np.array(offsets), np.array(rows))


@needs_kernels
def test_take_rows_copy_checks_the_offsets_it_is_given() -> None:
    k = _native.kernels
    values = np.arange(10, dtype=np.int32)
    offsets, rows = np.array([0, 4, 10]), np.array([1, 0])
    new = np.empty(3, dtype=np.int64)
    assert k.take_rows(values, offsets, rows, new, None) == 10  # type: ignore[union-attr]
    assert new.tolist() == [0, 6, 10]
    new[1] = 3  # not what the rows give: refused, nothing copied
    out = np.full(10, -1, dtype=np.int32)
    with pytest.raises(IndexError):
        k.take_rows(values, offsets, rows, new, out)  # type: ignore[union-attr]
    assert (out == -1).all()
    new[1] = 6
    with pytest.raises(IndexError):  # an output too short
        k.take_rows(values, offsets, rows, new, np.empty(9, dtype=np.int32))  # type: ignore[union-attr]


@needs_kernels
def test_blosc_chunks_from_a_file(tmp_path: Path) -> None:
    """Given a file descriptor, blosc_chunks preads, checks and decodes chunks of the
    file; a damaged, short or misplaced chunk is flagged and left alone."""
    from grumpy_arrow.storage import sharding as sh

    decode = sh.blosc_decoder()
    if decode is None:
        pytest.skip("this numcodecs build does not export c-blosc's functions")
    values = (np.random.default_rng(3).standard_normal(1024 * 12) * 100).astype(np.int32)
    data, offsets, sizes = _blosc_shard(values, 1024)
    path = tmp_path / "shard"
    damaged = bytearray(data)
    damaged[int(offsets[4]) + 17] ^= 0x10
    path.write_bytes(bytes(damaged[: int(offsets[11]) + 10]))  # chunk 11 cut short
    off, size = offsets.copy(), sizes.copy()
    off[6] = -4
    size[8] = 4096 + 21  # more than a frame of 4096 bytes can take
    out = np.full(len(values), -7, dtype=np.int32)
    fd = os.open(path, os.O_RDONLY)
    try:
        bad = _native.blosc_chunks(fd, off, size, out, 4096, decode)
    finally:
        os.close(fd)
    assert np.flatnonzero(bad).tolist() == [4, 6, 8, 11]
    for j in range(12):
        part = out[j * 1024 : (j + 1) * 1024]
        if j in (4, 6, 8, 11):
            assert (part == -7).all()
        else:
            assert part.tolist() == values[j * 1024 : (j + 1) * 1024].tolist()


@pytest.mark.parametrize("rows", [[0, 1, 2], [5, 2999, 0, 17, 17], list(range(0, 3000, 7))])
def test_cache_off_reads_both_paths(paths: str, rows: list[int], tmp_path: Path) -> None:
    """Random rows of a Blosc store with the cache off (blosc_files from the file, with
    the kernels) give the same values both ways; a damaged chunk is named either way."""
    rng = np.random.default_rng(4)
    data = [
        (rng.standard_normal(int(k)) * 10).round(3).tolist() for k in rng.integers(0, 300, 3000)
    ]
    a = gr.array(data, dtype="float64")
    path = tmp_path / "s.gr"
    gr.save(a, path, compressor="blosc", chunk_size=256)
    h = gr.open(path, cache="none")
    assert h[rows].to_list() == [data[r] for r in rows]
    shard = next(p for p in sorted(path.rglob("c/*")) if p.is_file() and "values" in str(p))
    raw = bytearray(shard.read_bytes())
    raw[60] ^= 0xFF
    shard.write_bytes(bytes(raw))
    with pytest.raises(gr.errors.StoreFormatError, match="chunk 0"):
        gr.open(path, cache="none")[list(range(0, 40))]


@needs_kernels
def test_blosc_files_reads_each_chunk_from_its_own_file(tmp_path: Path) -> None:
    """blosc_files takes a descriptor per chunk: chunks of three shard files decode in one
    call, in the order asked; a negative or closed descriptor, a damaged or misplaced
    chunk is flagged and left alone."""
    from grumpy_arrow.storage import sharding as sh

    decode = sh.blosc_decoder()
    if decode is None:
        pytest.skip("this numcodecs build does not export c-blosc's functions")
    rng = np.random.default_rng(11)
    files, shards = [], []
    for f in range(3):
        values = (rng.standard_normal(1024 * 6) * 100).astype(np.int32)
        data, offsets, sizes = _blosc_shard(values, 1024)
        if f == 1:  # a flipped bit in chunk 2 of the second file
            damaged = bytearray(data)
            damaged[int(offsets[2]) + 19] ^= 0x04
            data = bytes(damaged)
        path = tmp_path / f"shard{f}"
        path.write_bytes(data)
        files.append(os.open(path, os.O_RDONLY))
        shards.append((values, offsets, sizes))
    closed = os.open(tmp_path / "shard0", os.O_RDONLY)
    os.close(closed)
    # (file, chunk) in the order asked, then what each slot of the call is given
    asked = [(2, 5), (0, 0), (1, 2), (1, 3), (0, 4), (2, 0), (0, 1), (1, 0)]
    fds = np.array([files[f] for f, _ in asked], dtype=np.int64)
    offsets = np.array([shards[f][1][c] for f, c in asked], dtype=np.int64)
    sizes = np.array([shards[f][2][c] for f, c in asked], dtype=np.int64)
    fds[5] = -1  # no descriptor
    fds[6] = closed  # not open any more
    offsets[7] += 1  # not where the chunk starts
    out = np.full((len(asked), 1024), -9, dtype=np.int32)
    try:
        bad = _native.blosc_files(fds, offsets, sizes, out, 4096, decode)
    finally:
        for fd in files:
            os.close(fd)
    assert bad is not None
    assert np.flatnonzero(bad).tolist() == [2, 5, 6, 7]
    for n, (f, c) in enumerate(asked):
        if n in (2, 5, 6, 7):
            assert (out[n] == -9).all()
        else:
            assert out[n].tolist() == shards[f][0][c * 1024 : (c + 1) * 1024].tolist()
    with pytest.raises(ValueError, match="descriptors"):  # one descriptor short
        _native.kernels.blosc_files(  # type: ignore[union-attr]
            fds[:-1], offsets, sizes, out, 4096, 1, np.empty(len(asked), dtype=np.uint8)
        )


@pytest.mark.parametrize("limit", [4, 1024])
def test_cache_off_reads_across_many_shards(
    paths: str, limit: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Random rows touching dozens of shard files of a Blosc leaf (one compiled call per
    leaf with the kernels, shard by shard without; a few shards held at a time under a
    small open-file limit) give the stored values, with the cache off and on; a damaged
    chunk in a middle shard is named, with its shard, either way."""
    from grumpy_arrow.storage import local

    monkeypatch.setattr(local, "open_limit", lambda: limit)
    calls: list[int] = []  # shard-spanning calls: chunks in each
    real = _native.blosc_files

    def spy(fds: np.ndarray, *args: Any) -> np.ndarray | None:
        calls.append(len(np.unique(fds)))
        return real(fds, *args)

    monkeypatch.setattr(_native, "blosc_files", spy)
    rng = np.random.default_rng(5)
    data = [(rng.standard_normal(int(k)) * 10).round(3).tolist() for k in rng.integers(0, 60, 4000)]
    path = tmp_path / "s.gr"
    gr.save(
        gr.array(data, dtype="float64"), path, compressor="blosc", chunk_size=256, shard_size=2048
    )
    leaf = path / "array" / "r.c-values"
    shard_files = sorted((leaf / "c").iterdir(), key=lambda p: int(p.name))
    assert len(shard_files) >= 50
    rows = rng.permutation(4000)[:700].tolist()
    for cache in ("none", "chunks"):
        h = gr.open(path, cache=cache)
        assert h[rows].to_list() == [data[r] for r in rows]
        assert h[rows[:40]].to_list() == [data[r] for r in rows[:40]]
    if paths == "native" and local.sh.blosc_decoder() is not None:
        # a call holds at most half the (small) limit's shards, else many (all a read
        # touches, or this store's share of the process's allowance when other stores
        # hold open shards too)
        if limit == 4:
            assert max(calls) == 2
        else:
            assert 2 < max(calls) <= len(shard_files)
    else:
        assert calls == []
    middle = shard_files[len(shard_files) // 2]
    raw = bytearray(middle.read_bytes())
    raw[40] ^= 0xFF
    middle.write_bytes(bytes(raw))
    for cache in ("none", "chunks"):
        with pytest.raises(gr.errors.StoreFormatError, match=rf"shard {middle.name} .*chunk 0"):
            gr.open(path, cache=cache)[list(range(4000))]


def test_hostile_blosc_files_never_crash(tmp_path: Path) -> None:
    """Damaged shard files, random offsets and sizes, and descriptors that are negative,
    huge, closed, a pipe or another file, thrown at blosc_files in a subprocess: every
    chunk is either flagged or decoded exactly."""
    code = textwrap.dedent(
        f"""
        import os
        import numpy as np
        from grumpy_arrow import _native
        from grumpy_arrow.storage import sharding as sh
        decode = sh.blosc_decoder()
        if decode is None or _native.kernels is None:
            print(0, 0); raise SystemExit
        fmt = sh.plan_format(np.dtype("int32"), "blosc", chunk=1024, shard=1024 * 8)
        values = np.random.default_rng(0).integers(-50, 50, 1024 * 8).astype(np.int32)
        blob, offsets, sizes = sh.encode_chunks(fmt, values)
        blob = bytes(memoryview(blob).cast("B"))
        rng = np.random.default_rng(2)
        read_end, write_end = os.pipe()
        flagged = exact = 0
        for trial in range(200):
            data = bytearray(blob)
            for _ in range(int(rng.integers(0, 4))):
                data[int(rng.integers(0, len(data)))] = int(rng.integers(0, 256))
            path = os.path.join({str(tmp_path)!r}, "shard")
            with open(path, "wb") as fh:
                fh.write(bytes(data[: int(rng.integers(len(data) // 2, len(data) + 1))]))
            fd = os.open(path, os.O_RDONLY)
            closed = os.open(path, os.O_RDONLY)
            os.close(closed)
            fds = np.full(8, fd, dtype=np.int64)
            off, size = offsets.copy(), sizes.copy()
            if rng.random() < 0.5:
                j = int(rng.integers(0, 8))
                fds[j] = int(rng.choice([-1, 2**40, closed, read_end, write_end, 0]))
            if rng.random() < 0.3:
                off[int(rng.integers(0, 8))] = int(rng.integers(-5, len(data) + 5))
            if rng.random() < 0.3:
                size[int(rng.integers(0, 8))] = int(rng.choice([0, 19, 20, 2**40, -1]))
            out = np.zeros(1024 * 8, np.int32)
            bad = _native.blosc_files(fds, off, size, out, 4096, decode)
            os.close(fd)
            for j in range(8):
                part = out[j * 1024 : (j + 1) * 1024]
                if bad[j]:
                    flagged += 1
                else:
                    assert part.tolist() == values[j * 1024 : (j + 1) * 1024].tolist(), j
                    exact += 1
        print(flagged, exact)
        """
    )
    flagged, exact = _run_hostile(code)
    if _native.kernels is None:
        assert (flagged, exact) == (0, 0)
        return
    assert flagged > 100
    assert exact > 500


@pytest.mark.parametrize("shuffle", ["shuffle", "bitshuffle", "noshuffle"])
@pytest.mark.parametrize("count", [1, 7, 64])
def test_blosc_encode_matches_the_python_steps(
    shuffle: str, count: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Inner chunks compressed and checksummed in one compiled loop are the bytes, places
    and sizes the ctypes steps give, and decode back to the values (the last chunk
    zero-padded)."""
    from grumpy_arrow.storage import sharding as sh

    if sh.blosc_encoder() is None:
        pytest.skip("this numcodecs build does not export c-blosc's functions")
    fmt = sh.plan_format(np.dtype("int32"), "blosc", chunk=1024, shard=1024 * 64)
    fmt = dataclasses.replace(fmt, blosc=("lz4", 5, shuffle))
    rng = np.random.default_rng(count)
    values = rng.integers(-300, 300, 1024 * count - 3).astype(np.int32)
    blob, offsets, sizes = sh.encode_chunks(fmt, values)
    monkeypatch.setattr(_native, "kernels", None)
    want_blob, want_offsets, want_sizes = sh.encode_chunks(fmt, values)
    monkeypatch.undo()
    assert bytes(memoryview(blob).cast("B")) == bytes(memoryview(want_blob).cast("B"))
    assert offsets.tolist() == want_offsets.tolist()
    assert sizes.tolist() == want_sizes.tolist()
    data = bytes(memoryview(blob).cast("B"))
    got = np.concatenate(
        [
            sh.decode_chunk(fmt, data[a : a + n], f"chunk {j}")
            for j, (a, n) in enumerate(zip(offsets.tolist(), sizes.tolist(), strict=True))
        ]
    )
    assert got[: len(values)].tolist() == values.tolist()
    assert got[len(values) :].tolist() == [0, 0, 0]


@needs_kernels
def test_blosc_encode_refuses_what_does_not_fit() -> None:
    """Rows that are not whole, too little room, a codec c-blosc does not know: a clear
    error, never a write past the buffers."""
    from grumpy_arrow.storage import sharding as sh

    encode = sh.blosc_encoder()
    if encode is None:
        pytest.skip("this numcodecs build does not export c-blosc's functions")
    import ctypes

    address = ctypes.cast(encode, ctypes.c_void_p).value
    k = _native.kernels
    rows = np.zeros((4, 4096), dtype=np.uint8)
    sizes = np.empty(4, dtype=np.int64)
    with pytest.raises(ValueError, match="room"):
        k.blosc_encode(rows, 4096, np.empty(4 * 4096, np.uint8), sizes, 5, 1, 4, "lz4", address)  # type: ignore[union-attr]
    with pytest.raises(ValueError, match="whole rows"):
        k.blosc_encode(
            rows, 4095, np.empty(8 * 4116, np.uint8), np.empty(4, np.int64), 5, 1, 4, "lz4", address
        )  # type: ignore[union-attr]
    with pytest.raises(ValueError, match="encoder"):
        k.blosc_encode(rows, 4096, np.empty(4 * 4116, np.uint8), sizes, 5, 1, 4, "lz4", 0)  # type: ignore[union-attr]
    with pytest.raises(ValueError, match="inner chunk 0"):
        _native.blosc_encode(rows, 5, 1, 4, "no-such-codec", encode)


# -- scaled_floats --------------------------------------------------------------------------


@needs_kernels
def test_scaled_floats_refuses_what_it_does_not_cover() -> None:
    """int32 -> float32 and int64 -> float64 of one length only: anything else is a
    ValueError naming both sides, and nothing is written."""
    k = _native.kernels
    q32, q64 = np.arange(8, dtype=np.int32), np.arange(8, dtype=np.int64)
    for q, out in [
        (q32, np.zeros(8, np.float64)),  # widths differ
        (q64, np.zeros(8, np.float32)),
        (q32, np.zeros(7, np.float32)),  # lengths differ
        (q32.astype(np.uint32), np.zeros(8, np.float32)),  # not signed
        (q32.astype(np.float32), np.zeros(8, np.float32)),  # not integers
        (q32.astype(np.int16), np.zeros(8, np.float16)),  # other widths
    ]:
        before = out.copy()
        with pytest.raises(ValueError, match="scaled_floats: expected int32 -> float32"):
            k.scaled_floats(q, 1000.0, out)
        assert np.array_equal(out, before)
    out = np.zeros(8, np.float32)
    k.scaled_floats(q32, 1000.0, out)
    assert out.tolist() == (np.arange(8) / 1000.0).astype(np.float32).tolist()
    with pytest.raises(ValueError, match="contiguous"):
        k.scaled_floats(np.arange(16, dtype=np.int32)[::2], 10.0, out)
