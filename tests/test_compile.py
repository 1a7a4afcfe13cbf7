"""gr.compile: compiled results equal eager ones (both engines), fallbacks, frames, unions."""

from __future__ import annotations

import subprocess
import sys
import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import grumpy_arrow as gr
from grumpy_arrow.compiler import CompileWarning, TraceError, numba_available
from grumpy_arrow.compiler.function import CompileCheckError
from grumpy_arrow.errors import ConversionError, DivisionByZeroError
from grumpy_arrow.testing import assert_array_equal, assert_values_equal
from grumpy_arrow.testing.strategies import dataframes, leaf_values, nested_values

# numba is the optional `compile` extra: without it only the NumPy engine is tested.
BACKENDS = ["numpy", "numba"] if numba_available() else ["numpy"]

RTOL = 1e-9


def rtol_for(x: gr.GrumpyArray) -> float:
    """float32 results accumulate in float64 when compiled: float32 rounding apart."""
    return 1e-5 if x.dtype == gr.float32 else RTOL


def same(got: object, want: object, rtol: float = RTOL) -> None:
    if isinstance(want, tuple):
        assert isinstance(got, tuple) and len(got) == len(want)
        for g, w in zip(got, want, strict=True):
            same(g, w, rtol)
    elif isinstance(want, gr.GrumpyArray):
        assert isinstance(got, gr.GrumpyArray)
        assert_array_equal(got, want, rtol=rtol)
    else:
        assert_values_equal(got, want, rtol=rtol)


# -- the documented examples -------------------------------------------------------------


@pytest.mark.parametrize("backend", BACKENDS)
def test_grumpy_examples_that_grumpy_could_not_compile(backend: str) -> None:
    x = gr.array([[1.0, 2.0, 3.0], [], [4.0, None]])
    affine = gr.compile(lambda batch: batch * 2.0 + 1.0, backend=backend, fallback="error")
    assert affine(x).to_list() == [[3.0, 5.0, 7.0], [], [9.0, None]]
    assert affine.is_compiled and affine.compile_error is None
    means = gr.compile(lambda batch: batch.mean(dim=1), backend=backend, fallback="error")
    assert means(x).to_list() == [2.0, None, 4.0]
    assert means(x).type == "3 * float64"


@pytest.mark.parametrize("backend", BACKENDS)
def test_straight_line_rebinding_helpers_and_loops_trace(backend: str) -> None:
    def scale(b: gr.GrumpyArray, k: float) -> gr.GrumpyArray:
        return b * k

    @gr.compile(backend=backend, fallback="error")
    def fn(batch: gr.GrumpyArray) -> gr.GrumpyArray:
        batch = batch * 2.0
        batch = batch + 1.0
        for k in (1.0, 0.5):  # a static Python loop unrolls while tracing
            batch = scale(batch, k)
        return batch

    x = gr.array([[1.0, -2.0], [3.0]])
    assert fn(x).to_list() == [[1.5, -1.5], [3.5]]


@pytest.mark.parametrize("backend", BACKENDS)
def test_per_row_centring_then_rms(backend: str) -> None:
    @gr.compile(backend=backend, fallback="error")
    def rms(batch: gr.GrumpyArray) -> gr.GrumpyArray:
        c = batch - batch.mean(dim=-1)
        return ((c * c).mean(dim=-1)) ** 0.5

    x = gr.array([[1.0, 3.0], [2.0], [], None, [None, 5.0, 7.0]])
    assert rms(x).to_list() == [1.0, 0.0, None, None, 1.0]


# -- differential: compiled == eager --------------------------------------------------------

TRANSFORMS = {
    "affine": lambda x: x * 2 + 1,
    "centre": lambda x: x - x.mean(dim=-1),
    "rms": lambda x: np.sqrt(((x - x.mean(dim=-1)) ** 2).mean(dim=-1)),
    "chain_sum": lambda x: (np.sqrt(x * x + 1) * 0.5 + np.sin(x)).sum(dim=-1),
    "compare": lambda x: (x > 1) & (x <= 7),
    "where": lambda x: gr.where(x > 2, x, -x),
    "clip_cast": lambda x: gr.clip(x, 0, 5).astype(gr.float32),
    "minmax": lambda x: x.max(dim=-1) - x.min(dim=-1),
    "counts": lambda x: (x.count(dim=-1), x.count_nonzero(dim=-1), x.any(dim=-1), x.all(dim=-1)),
    "args": lambda x: (x.argmin(dim=-1), x.argmax(dim=-1), x.ptp(dim=-1)),
    "spread": lambda x: (x.var(dim=-1), x.std(dim=-1, ddof=1), x.prod(dim=-1)),
    "totals": lambda x: (
        x.sum(),
        x.mean(),
        x.min(),
        x.max(),
        x.count(),
        x.argmax(),
        x.var(),
        x.std(ddof=1),
        x.any(),
        x.all(),
    ),
    "scale_by_total": lambda x: x / (x.sum() + 1.5),
    "nested_means": lambda x: x.mean(dim=-1).mean(dim=-1) if x.ndim > 2 else x.mean(dim=-1),
    "parent_weights": lambda x: (
        x.sum(dim=-1) / (x.sum(dim=-1).sum(dim=-1) + 1) if x.ndim > 2 else x.sum(dim=-1)
    ),
    "maximum": lambda x: np.maximum(x, 3) + np.minimum(x, 2) + abs(-x),
    "ufuncs": lambda x: np.exp(np.tanh(x)) + np.log1p(np.abs(x)) + np.hypot(x, 2.0),
}
_DTYPES = [gr.float64, gr.float32, gr.int64, gr.int32, gr.uint8, gr.bool_]


def _small(dtype: gr.DType) -> st.SearchStrategy[object]:
    if dtype == gr.bool_:
        return st.booleans()
    if dtype.kind == "f":
        width = 32 if dtype == gr.float32 else 64
        return st.floats(-9, 9, width=width) | st.just(float("nan"))
    lo = 0 if dtype.kind == "u" else -9
    return leaf_values(dtype, min_value=lo, max_value=9)


@st.composite
def chains(draw: st.DrawFn, dtypes: list[gr.DType] = _DTYPES) -> gr.GrumpyArray:
    """List-chain arrays (1-3 list axes) with nulls at every level."""
    d = draw(st.sampled_from(dtypes))
    depth = draw(st.integers(1, 3))
    leaf = _small(d)
    node: st.SearchStrategy[object] = st.none() | leaf
    for _ in range(depth):
        node = st.none() | st.lists(node, max_size=5)
    rows = draw(st.lists(node, min_size=1, max_size=8))
    return gr.array(rows, dtype=d)


def _eager_or_error(fn, x):  # type: ignore[no-untyped-def]
    try:
        return fn(x), None
    except Exception as err:
        return None, err


def _check_transform(name: str, x: gr.GrumpyArray, backend: str) -> None:
    fn = TRANSFORMS[name]
    want, err = _eager_or_error(fn, x)
    compiled = gr.compile(fn, backend=backend, fallback="silent")
    if err is not None:
        with pytest.raises(type(err)):
            compiled(x)
        return
    same(compiled(x), want, rtol_for(x) if name not in ("counts", "compare") else 0.0)


@pytest.mark.parametrize("name", sorted(TRANSFORMS))
@settings(
    max_examples=25, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow]
)
@given(x=chains())
def test_numpy_engine_equals_eager(name: str, x: gr.GrumpyArray) -> None:
    _check_transform(name, x, "numpy")


@pytest.mark.skipif("numba" not in BACKENDS, reason="numba is not installed")
@pytest.mark.parametrize(
    "name",
    [
        "affine",
        "rms",
        "counts",
        "args",
        "spread",
        "totals",
        "parent_weights",
        "ufuncs",
        "where",
        "clip_cast",
    ],
)
@settings(
    max_examples=15, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow]
)
@given(x=chains([gr.float64, gr.int32, gr.bool_]))
def test_numba_engine_equals_eager(name: str, x: gr.GrumpyArray) -> None:
    _check_transform(name, x, "numba")


@pytest.mark.parametrize("backend", BACKENDS)
def test_every_transform_compiles_on_nested_floats(backend: str) -> None:
    x = gr.array([[[1.5, None], [], None], [[2.0, 3.0, -1.0]], None, []])
    for name, fn in TRANSFORMS.items():
        compiled = gr.compile(fn, backend=backend, fallback="error")
        same(compiled(x), fn(x))
        assert compiled.is_compiled, name


@pytest.mark.parametrize("backend", BACKENDS)
@settings(max_examples=30, deadline=None, database=None)
@given(values=nested_values(gr.float64, 2, unions=True, nulls=True, leaves=st.floats(-9, 9)))
def test_unions_run_the_same_loop_on_both_pools(backend: str, values: list[object]) -> None:
    x = gr.array(values, dtype=gr.float64)
    fn = gr.compile(lambda b: np.sqrt(b * b + 1.0) - 0.5, backend=backend, fallback="silent")
    same(fn(x), np.sqrt(x * x + 1.0) - 0.5)
    below_rows = x.type.split(" * ", 1)[1]
    if below_rows.count("union") > 1 or "* union" in below_rows:  # below a list: eager
        assert "union" in (fn.compile_error or "")
    else:
        assert fn.is_compiled, (x.type, fn.compile_error)


def test_unions_reductions_run_eagerly_with_the_reason() -> None:
    x = gr.array([1.0, [2.0, 3.0], None])
    fn = gr.compile(lambda b: b.sum(dim=1), backend="numpy")
    with pytest.warns(CompileWarning, match="reductions of scalar-or-list unions"):
        assert fn(x).to_list() == [1.0, 5.0, None]
    assert not fn.is_compiled


# -- errors are eager code's ------------------------------------------------------------------


@pytest.mark.parametrize("backend", BACKENDS)
def test_integer_division_by_zero_raises_eager_error(backend: str) -> None:
    x = gr.array([[4, 6], [8, 0]], dtype=gr.int32)
    fn = gr.compile(lambda b: b // b.min(dim=1), backend=backend, fallback="error")
    assert fn(gr.array([[4, 6], [8, 2]], dtype=gr.int32)).to_list() == [[1, 1], [4, 1]]
    with pytest.raises(DivisionByZeroError, match="integer floor divide by zero"):
        fn(x)
    power = gr.compile(lambda b: b ** (b - 5), backend=backend, fallback="error")
    with pytest.raises(ConversionError, match="negative integer powers"):
        power(gr.array([[1, 2]], dtype=gr.int64))


@pytest.mark.parametrize("backend", BACKENDS)
def test_integers_wrap_where_eager_code_wraps(backend: str) -> None:
    x = gr.array([[2_000_000_000, 2_000_000_000], [-7]], dtype=gr.int32)
    fn = gr.compile(lambda b: (b + b) * 3 - b.sum(dim=1), backend=backend, fallback="error")
    same(fn(x), (x + x) * 3 - x.sum(dim=1))
    assert fn(x).type == "2 * var * int64"


def test_a_trace_refused_warns_once_and_runs_eagerly() -> None:
    def branchy(b: gr.GrumpyArray) -> gr.GrumpyArray:
        if b.sum() > 0:
            return b * 2
        return b

    fn = gr.compile(branchy, backend="numpy")
    x = gr.array([[1.0], [2.0]])
    with pytest.warns(CompileWarning, match="truth testing"):
        assert fn(x).to_list() == [[2.0], [4.0]]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert fn(x).to_list() == [[2.0], [4.0]]  # the same signature: no second warning
    assert not fn.is_compiled
    assert "truth testing" in (fn.compile_error or "")
    assert fn.explain().startswith("runs eagerly: ")
    strict = gr.compile(branchy, backend="numpy", fallback="error")
    with pytest.raises(TraceError, match=r"cannot compile .*branchy.*truth testing"):
        strict(x)


@pytest.mark.parametrize(
    ("fn", "reason"),
    [
        (lambda b: b.sum(dim=0), "outer axis"),
        (lambda b: b[0], "indexing"),
        (lambda b: b.to_list(), "converting"),
        (lambda b: b * np.arange(2), "captured from outside"),
        (lambda b: b.astype(gr.int32), "float to integer"),
        (lambda b: b.sort(), "x.sort is not supported"),
    ],
    ids=["outer-axis", "indexing", "to_list", "captured", "float-to-int", "sort"],
)
def test_what_runs_eagerly_says_why(fn, reason: str) -> None:  # type: ignore[no-untyped-def]
    x = gr.array([[1.0, 2.0], [3.0, 4.0]])
    compiled = gr.compile(fn, backend="numpy", fallback="silent")
    same(compiled(x), fn(x))
    assert not compiled.is_compiled
    assert reason in (compiled.compile_error or "")


def test_gr_compile_0_turns_compilation_off(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GR_COMPILE", "0")
    fn = gr.compile(lambda b: b + 1, backend="numpy")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert fn(gr.array([[1]])).to_list() == [[2]]
    assert fn.compile_error == "compilation is off (GR_COMPILE=0)"


def test_check_compares_with_eager_and_raises_on_a_difference(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fn = gr.compile(lambda b: b * 2.0, backend="numpy", check=True)
    assert fn(gr.array([[1.0]])).to_list() == [[2.0]]
    from grumpy_arrow.compiler import engines

    real = engines.NumpyEngine.run

    def wrong(self, bound, scalars):  # type: ignore[no-untyped-def]
        out = real(self, bound, scalars)
        return {k: gr.array([99.0]).to_arrow() for k in out}

    monkeypatch.setattr(engines.NumpyEngine, "run", wrong)
    other = gr.compile(lambda b: b * 2.0, backend="numpy", check=True)
    with pytest.raises(CompileCheckError, match=r"99\.0 != 2\.0"):
        other(gr.array([[1.0]]))


def test_new_input_types_trace_again() -> None:
    fn = gr.compile(lambda b: b.sum(dim=-1), backend="numpy", fallback="error")
    assert fn(gr.array([[1, 2]], dtype=gr.int32)).to_list() == [3]
    assert fn(gr.array([[[1.5], [2.5, 1.0]]])).to_list() == [[1.5, 3.5]]
    assert len(fn._entries) == 2


@pytest.mark.parametrize("backend", BACKENDS)
def test_two_arguments_of_one_length_broadcast_rows(backend: str) -> None:
    fn = gr.compile(lambda a, w: a * w + a.mean(dim=1), backend=backend, fallback="error")
    a = gr.array([[1.0, 2.0], [3.0]])
    w = gr.array([10.0, None])
    same(fn(a, w), a * w + a.mean(dim=1))
    with pytest.raises(gr.BroadcastError):  # eager code's error for different lengths
        fn(a, gr.array([1.0, 2.0, 3.0]))


# -- frames ---------------------------------------------------------------------------------


def _molecules() -> gr.DataFrame:
    return gr.dataframe(
        {
            "molecule_id": [1, 2, 3],
            "residue_w": [[0.5, 1.5], [2.0], []],
            "atom_x": [[[1.0, 2.0], [3.0]], [[4.0, None, 6.0]], []],
            "atom_xyz": [
                [[[0.0, 1.0, 2.0]] * 2, [[1.0, 1.0, 1.0]]],
                [[[2.0, 0.0, 0.0]] * 3],
                [],
            ],
        },
        schema=["molecule", "residue", "atom"],
    )


@pytest.mark.parametrize("backend", BACKENDS)
def test_frame_level_views_and_assignments(backend: str) -> None:
    def centre(df: gr.DataFrame) -> gr.DataFrame:
        df["atom_xc"] = df["atom_x"] - df["atom_x"].mean(dim=2)
        df.atom.atom_norm = np.sqrt((df.atom.atom_xyz**2).sum(dim=1))
        df.residue.residue_wx = df.residue.residue_w * df.residue.atom_x.sum(dim=1)
        return df

    fn = gr.compile(centre, backend=backend, fallback="error")
    got, want = fn(_molecules()), centre(_molecules())
    assert fn.is_compiled
    assert got.columns == want.columns
    for name in want.columns:
        same(got[name], want[name])
    assert got["atom_xc"].to_list() == [[[-0.5, 0.5], [0.0]], [[-1.0, None, 1.0]], []]


def test_a_frame_function_that_falls_back_changed_nothing() -> None:
    def bad(df: gr.DataFrame) -> gr.DataFrame:
        df.atom.atom_y = df.atom.atom_x * 2
        if df.atom.atom_y.sum() > 0:  # data-dependent: the trace stops here
            df.atom.atom_y = df.atom.atom_y + 1
        return df

    fn = gr.compile(bad, backend="numpy", fallback="silent")
    df = _molecules()
    out = fn(df)
    assert out["atom_y"].to_list() == [[[3.0, 5.0], [7.0]], [[9.0, None, 13.0]], []]


# -- streams --------------------------------------------------------------------------------


def _ragged(rows: int, seed: int = 0) -> gr.GrumpyArray:
    rng = np.random.default_rng(seed)
    lens = rng.integers(0, 12, rows)
    offsets = np.concatenate([[0], np.cumsum(lens)])
    return gr.from_offsets(gr.array(rng.standard_normal(int(offsets[-1]))), offsets)


def _rms(b: gr.GrumpyArray) -> gr.GrumpyArray:
    c = b - b.mean(dim=1)
    return (c * c).mean(dim=1) ** 0.5


@pytest.mark.parametrize("backend", BACKENDS)
def test_stream_apply_megabatches_equal_per_batch_results(
    backend: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from grumpy_arrow.streaming import megabatch

    monkeypatch.setattr(megabatch, "TARGET_VALUES", 2000)  # megabatches of ~45 batches
    x = _ragged(1000)
    fn = gr.compile(_rms, backend=backend, fallback="error")
    calls = []
    real = fn.__call__

    def counted(*args):  # type: ignore[no-untyped-def]
        calls.append(len(args[0]))
        return real(*args)

    monkeypatch.setattr(type(fn), "__call__", lambda self, *a: counted(*a))
    st_ = gr.stream(x, batch_size=8, shuffle=True, seed=3).apply(fn, lambda b: b * 2.0)
    got = [b.to_list() for b in st_]
    plain = gr.stream(x, batch_size=8, shuffle=True, seed=3).apply(_rms, lambda b: b * 2.0)
    want = [b.to_list() for b in plain]
    assert len(got) == len(want) == 125
    for g, w in zip(got, want, strict=True):
        assert_values_equal(g, w, rtol=RTOL)
    assert len(calls) <= 6  # one call per megabatch (plus the row-local probe)
    assert max(calls) > 300


def test_stream_resume_mid_epoch_with_megabatches(monkeypatch: pytest.MonkeyPatch) -> None:
    from grumpy_arrow.streaming import megabatch

    monkeypatch.setattr(megabatch, "TARGET_VALUES", 300)
    x = _ragged(400, seed=1)
    fn = gr.compile(_rms, backend="numpy", fallback="error")
    full = [b.to_list() for b in gr.stream(x, batch_size=10, shuffle=True, seed=5).apply(fn)]
    st_ = gr.stream(x, batch_size=10, shuffle=True, seed=5).apply(fn)
    it = iter(st_)
    first = [next(it).to_list() for _ in range(13)]
    state = st_.state_dict()
    resumed = gr.stream(x, batch_size=10, shuffle=True, seed=5).apply(fn)
    resumed.load_state_dict(state)
    rest = [b.to_list() for b in resumed]
    # Eager reductions pick a kernel by what a batch holds (empty rows...), so a row's
    # float result may differ in the last bit between megabatch groupings.
    assert_values_equal(first + rest, full, rtol=RTOL)


def test_stream_within_batch_shuffle_and_overlap_keep_order() -> None:
    x = _ragged(300, seed=2)
    fn = gr.compile(lambda b: b * 3.0, backend="numpy", fallback="error")
    got = [b.to_list() for b in gr.stream(x, batch_size=7, shuffle=0, seed=1).apply(fn, cpu=2)]
    want = [(b * 3.0).to_list() for b in gr.stream(x, batch_size=7, shuffle=0, seed=1)]
    assert got == want


def test_totals_are_not_joined_across_batches() -> None:
    x = _ragged(100, seed=4)
    fn = gr.compile(lambda b: b - b.mean(), backend="numpy", fallback="error")
    got = [b.to_list() for b in gr.stream(x, batch_size=10).apply(fn)]
    want = [(b - b.mean()).to_list() for b in gr.stream(x, batch_size=10)]
    assert got == want
    assert not fn.row_local(x)


def test_apply_compile_keyword() -> None:
    x = _ragged(50)
    st_ = gr.stream(x, batch_size=10).apply(_rms, compile="auto")
    fn = st_._transforms[0]
    assert isinstance(fn, gr.CompiledFunction)
    want = [_rms(b).to_list() for b in gr.stream(x, batch_size=10)]
    assert_values_equal([b.to_list() for b in st_], want, rtol=RTOL)
    eager = gr.stream(x, batch_size=10).apply(fn, compile=False)
    assert eager._transforms[0] is _rms
    with pytest.raises(ValueError, match="compile must be"):
        gr.stream(x, batch_size=10).apply(_rms, compile="yes")


# -- pipelines, explain, imports ------------------------------------------------------------


def test_compile_pipeline_and_info() -> None:
    pipe = gr.compile_pipeline(
        [lambda b: b - b.mean(dim=1), lambda b: (b * b).sum(dim=1)],
        backend="numpy",
        fallback="error",
    )
    x = gr.array([[1.0, 3.0], [5.0]])
    assert pipe(x).to_list() == [2.0, 0.0]
    info = gr.compile_pipeline_info([lambda b: b * 2, lambda b: b.to_list()], x, backend="numpy")
    assert (info.fully_compiled, info.fused_ops) == (False, 0)
    assert "converting" in (info.reason or "")
    with pytest.raises(ValueError, match="at least one"):
        gr.compile_pipeline([])


@pytest.mark.skipif("numba" not in BACKENDS, reason="numba is not installed")
def test_explain_shows_the_graph_and_one_fused_loop_nest() -> None:
    fn = gr.compile(_rms, backend="numba", fallback="error")
    x = gr.array([[1.0, 2.0], [3.0]])
    fn(x)
    text = fn.explain(x)
    assert "reduce.mean" in text and "binary.subtract" in text
    assert text.count("def k(") == 1  # both means and the power share one row loop
    assert fn.engine_name == "numba"


def test_importing_grumpy_arrow_does_not_import_numba() -> None:
    code = "import sys, grumpy_arrow; print('numba' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_options_are_checked() -> None:
    with pytest.raises(ValueError, match="backend must be"):
        gr.compile(lambda b: b, backend="jax")
    with pytest.raises(ValueError, match="fallback must be"):
        gr.compile(lambda b: b, fallback="ignore")
    with pytest.raises(TypeError, match="needs a function"):
        gr.compile(3)  # type: ignore[arg-type]


@pytest.mark.parametrize("backend", BACKENDS)
@settings(
    max_examples=20, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow]
)
@given(df=dataframes(max_levels=3, max_columns=3, unions=True, nulls=True))
def test_frame_transforms_equal_eager(backend: str, df: gr.DataFrame) -> None:
    numeric = [c for c in df.columns if df[c].dtype.kind in "iuf" and df[c].dtype != gr.float16]
    if not numeric:
        return
    column = numeric[0]
    schema = df.schema
    assert schema is not None
    level = schema.level_of(column)
    name = schema.names[level]

    def fn(frame: gr.DataFrame) -> gr.DataFrame:
        view = getattr(frame, name)
        v = getattr(view, column)
        setattr(view, f"{name}_scaled", v * 2 + 1)
        if v.ndim > 1:
            setattr(view, f"{name}_centred", v - v.mean(dim=-1))
            setattr(view, f"{name}_total", v.sum(dim=-1))
        return frame

    want_err = None
    try:
        want = fn(df.copy())
    except Exception as err:
        want_err = err
    compiled = gr.compile(fn, backend=backend, fallback="silent")
    if want_err is not None:
        with pytest.raises(type(want_err)):
            compiled(df.copy())
        return
    got = compiled(df.copy())
    assert got.columns == want.columns
    for c in want.columns:
        same(got[c], want[c])


def test_streams_from_a_store_megabatch_in_memory_and_lazily(tmp_path) -> None:  # type: ignore[no-untyped-def]
    x = _ragged(600, seed=7)
    path = tmp_path / "x.grumpy"
    gr.save(x, path, chunk_size=64)
    fn = gr.compile(_rms, backend="numpy", fallback="error")
    want = [_rms(b).to_list() for b in gr.stream(path, batch_size=16, shuffle=True, seed=2)]
    for in_memory in (True, False):
        st_ = gr.stream(path, batch_size=16, shuffle=True, seed=2, in_memory=in_memory)
        got = [b.to_list() for b in st_.apply(fn, cpu=2)]
        assert_values_equal(got, want, rtol=RTOL)


def test_shuffles_inside_the_lists_of_a_batch_are_kept() -> None:
    rng = np.random.default_rng(9)
    x = gr.array(
        [[list(rng.standard_normal(int(k))) for k in rng.integers(0, 4, 3)] for _ in range(120)]
    )
    fn = gr.compile(lambda b: b * 2.0 - b.mean(dim=-1), backend="numpy", fallback="error")
    got = [b.to_list() for b in gr.stream(x, batch_size=6, shuffle=1, seed=4).apply(fn)]
    want = [
        (b * 2.0 - b.mean(dim=-1)).to_list() for b in gr.stream(x, batch_size=6, shuffle=1, seed=4)
    ]
    assert_values_equal(got, want, rtol=RTOL)
    assert len(got) == 20
