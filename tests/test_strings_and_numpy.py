"""The ``.str`` methods, ``map``, and NumPy's protocols (array functions, every ufunc,
``ufunc.reduce``/``accumulate``) with exact expected values."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

import grumpy_arrow as gr
from grumpy_arrow.errors import DTypeError, LayoutError

LINES = gr.array([["def f(x):", "  return x  "], [], ["", None, "a  b\tc"]])


def test_split_without_a_pattern_follows_pythons_str_split() -> None:
    samples = ["  a b  ", "", "   ", "x", "a\t\nb", " lead", "trail "]
    got = gr.array(samples).str.split().to_list()
    assert got == [t.split() for t in samples]
    assert gr.array(samples).str.split(n=1).to_list() == [t.split(None, 1) for t in samples]


def test_split_adds_an_innermost_axis_and_join_removes_it() -> None:
    tokens = LINES.str.split()
    assert tokens.type == "3 * var * var * string"
    assert tokens.to_list() == [
        [["def", "f(x):"], ["return", "x"]],
        [],
        [[], None, ["a", "b", "c"]],
    ]
    assert tokens.str.join(" ").to_list() == [["def f(x):", "return x"], [], ["", None, "a b c"]]
    assert gr.array(["a,b,,c"]).str.split(",").to_list() == [["a", "b", "", "c"]]
    assert gr.array(["a,b,c"]).str.split(",", n=1).to_list() == [["a", "b,c"]]
    assert gr.array(["a1b22c"]).str.split(r"\d+", regex=True).to_list() == [["a", "b", "c"]]


def test_split_and_join_refuse_what_has_no_meaning() -> None:
    with pytest.raises(LayoutError, match="scalar-or-list union"):
        gr.array(["a b", ["c d"]]).str.split()
    with pytest.raises(LayoutError, match="needs lists of strings"):
        gr.array(["a"]).str.join(",")
    with pytest.raises(DTypeError, match="non-empty pattern"):
        gr.array(["a"]).str.split("")


@pytest.mark.parametrize(
    ("call", "want"),
    [
        (lambda s: s.str.slice(1, 3), [["ef", " r"], [], ["", None, "  "]]),
        (
            lambda s: s.str.slice(step=-1),
            [[":)x(f fed", "  x nruter  "], [], ["", None, "c\tb  a"]],
        ),
        (lambda s: s.str.slice(-2), [["):", "  "], [], ["", None, "\tc"]]),
        (lambda s: s.str.strip(), [["def f(x):", "return x"], [], ["", None, "a  b\tc"]]),
        (lambda s: s.str.lstrip(), [["def f(x):", "return x  "], [], ["", None, "a  b\tc"]]),
        (lambda s: s.str.rstrip(" :"), [["def f(x)", "  return x"], [], ["", None, "a  b\tc"]]),
        (lambda s: s.str.strip("d :"), [["ef f(x)", "return x"], [], ["", None, "a  b\tc"]]),
        (lambda s: s.str.count("x"), [[1, 1], [], [0, None, 0]]),
        (lambda s: s.str.count(r"\s+", regex=True), [[1, 3], [], [0, None, 2]]),
        (lambda s: s.str.find("x"), [[6, 9], [], [-1, None, -1]]),
        (lambda s: s.str.match("de"), [[True, False], [], [False, None, False]]),
        (lambda s: s.str.match("ret"), [[False, False], [], [False, None, False]]),
        (lambda s: s.str.contains("ret"), [[False, True], [], [False, None, False]]),
        (lambda s: s.str.fullmatch(r"a\s+b\sc"), [[False, False], [], [False, None, True]]),
        (lambda s: s.str.extract(r"(\w+)\("), [["f", None], [], [None, None, None]]),
        (lambda s: s.str.byte_len(), [[9, 12], [], [0, None, 6]]),
        (lambda s: s.str.title(), [["Def F(X):", "  Return X  "], [], ["", None, "A  B\tC"]]),
    ],
    ids=[
        "slice",
        "reverse",
        "tail",
        "strip",
        "lstrip",
        "rstrip-chars",
        "strip-chars",
        "count",
        "count-regex",
        "find",
        "match",
        "match-start",
        "contains",
        "fullmatch",
        "extract",
        "byte_len",
        "title",
    ],
)
def test_string_methods_give_exact_values(call: object, want: list) -> None:
    assert call(LINES).to_list() == want  # type: ignore[operator]


def test_byte_len_counts_utf8_bytes_and_len_characters() -> None:
    s = gr.array(["Å", "日本", "a"])
    assert s.str.byte_len().to_list() == [2, 6, 1]
    assert s.str.len().to_list() == [1, 2, 1]


def test_extract_all_names_every_group() -> None:
    found = gr.array([["C12", "N3"], ["x"]]).str.extract_all(r"(?P<el>[A-Z])(\d+)")
    assert {k: v.to_list() for k, v in found.items()} == {
        "el": [["C", "N"], [None]],
        "_1": [["12", "3"], [None]],
    }
    with pytest.raises(DTypeError, match="exactly one group"):
        gr.array(["a"]).str.extract(r"(a)(b)")
    with pytest.raises(DTypeError, match="invalid regular expression"):
        gr.array(["a"]).str.extract(r"(a")


def test_group_naming_skips_escapes_classes_and_non_capturing_groups() -> None:
    from grumpy_arrow.compute.strings import name_groups

    assert name_groups(r"\((?:a)[(](b)(?P<x>c)") == (r"\((?:a)[(](?P<_0>b)(?P<x>c)", ["_0", "x"])
    assert gr.array(["(ab)"]).str.extract(r"\((?:a)(b)\)").to_list() == ["b"]


def test_str_works_on_dictionary_encoded_leaves() -> None:
    dictionary = pa.DictionaryArray.from_arrays(pa.array([0, 1, 0]), pa.array(["Ca", "H"]))
    x = gr.GrumpyArray(dictionary)
    assert x.str.upper().to_list() == ["CA", "H", "CA"]
    assert x.map({"Ca": 40.078, "H": 1.008}).to_list() == [40.078, 1.008, 40.078]


def test_map_takes_a_dict_a_series_or_a_function() -> None:
    elements = gr.array([["C", "H", "H"], ["O", "Xx", None], []])
    masses = {"H": 1.008, "C": 12.011, "O": 15.999}
    assert elements.map(masses).to_list() == [[12.011, 1.008, 1.008], [15.999, None, None], []]
    assert elements.map(masses, default=0.0).to_list() == [
        [12.011, 1.008, 1.008],
        [15.999, 0.0, None],
        [],
    ]
    assert elements.map(pd.Series(masses)).to_list() == elements.map(masses).to_list()
    calls: list[str] = []

    def lower(v: str) -> str:
        calls.append(v)
        return v.lower()

    assert elements.map(lower).to_list() == [["c", "h", "h"], ["o", "xx", None], []]
    assert sorted(calls) == ["C", "H", "O", "Xx"]  # once per distinct value
    assert gr.array([1, 2, [3, 1]]).map({1: "one"}).to_list() == ["one", None, [None, "one"]]


def test_map_errors_name_what_was_expected() -> None:
    with pytest.raises(DTypeError, match=r"keys \(string\) do not match the values \(int64\)"):
        gr.array([1, 2]).map({"a": 1})
    with pytest.raises(DTypeError, match="a dict, a pandas Series or a function"):
        gr.array([1]).map([1, 2])
    with pytest.raises(DTypeError, match="scalar keys and scalar values"):
        gr.array([1]).map({1: [1, 2]})


RAGGED = [np.array([1.5, -2.0, 3.25]), np.array([]), np.array([0.5, 4.0])]


@pytest.mark.parametrize(
    "func",
    [
        np.sum,
        np.mean,
        np.min,
        np.max,
        np.prod,
        np.std,
        np.var,
        np.median,
        np.ptp,
        np.argmax,
        np.any,
    ],
)
def test_numpy_reductions_with_axis_map_to_dims(func: object) -> None:
    x = gr.array([r.tolist() for r in RAGGED])
    got = func(x, axis=1).to_list()  # type: ignore[operator]
    for g, r in zip(got, RAGGED, strict=True):
        if len(r) == 0 and func not in (np.sum, np.prod, np.any):
            assert g is None
        else:
            assert g == func(r)  # type: ignore[operator]
    assert func(x) == func(np.concatenate(RAGGED))  # type: ignore[operator]


def test_numpy_keyword_arguments_are_checked() -> None:
    x = gr.array([[1.0, 3.0], [2.0]])
    assert np.std(x, axis=-1, ddof=1).to_list() == [np.std([1.0, 3.0], ddof=1), None]
    with pytest.raises(TypeError, match="keepdims=True is not supported"):
        np.mean(x, axis=1, keepdims=True)
    with pytest.raises(TypeError, match="out= is not supported"):
        np.sum(x, axis=1, out=np.zeros(2))


UNARY = [
    np.square,
    np.log1p,
    np.expm1,
    np.cbrt,
    np.trunc,
    np.deg2rad,
    np.sinh,
    np.tanh,
    np.arcsinh,
    np.exp2,
    np.reciprocal,
    np.fabs,
    np.rint,
    np.positive,
    np.signbit,
]


@pytest.mark.parametrize("ufunc", UNARY, ids=[u.__name__ for u in UNARY])
def test_every_unary_ufunc_matches_numpy_on_the_leaves(ufunc: np.ufunc) -> None:
    x = gr.array([[0.5, None, 2.0], [], [3.0]])
    got = ufunc(x)
    want = ufunc(np.array([0.5, 2.0, 3.0]))
    assert got.to_list() == [[want[0], None, want[1]], [], [want[2]]]


BINARY = [
    np.arctan2,
    np.hypot,
    np.fmod,
    np.copysign,
    np.logaddexp,
    np.float_power,
    np.heaviside,
    np.fmax,
    np.nextafter,
    np.ldexp,
]


@pytest.mark.parametrize("ufunc", BINARY, ids=[u.__name__ for u in BINARY])
def test_every_binary_ufunc_matches_numpy_and_broadcasts(ufunc: np.ufunc) -> None:
    a = gr.array([[0.5, -1.5], [2.0]])
    flat = np.array([0.5, -1.5, 2.0])
    other = 2 if ufunc is np.ldexp else 0.75
    with np.errstate(invalid="ignore"):  # float_power of a negative base: NaN, as ours
        want = ufunc(flat, other)
    got = ufunc(a, other)
    assert got.shape(1).to_list() == [2, 1]
    np.testing.assert_array_equal(np.asarray(got.flatten().to_list(), dtype=float), want)
    per_row = gr.array([3, 1]) if ufunc is np.ldexp else gr.array([3.0, 1.0])
    other_rows = np.array([3, 3, 1]) if ufunc is np.ldexp else np.array([3.0, 3.0, 1.0])
    want_rows = ufunc(flat, other_rows)
    assert ufunc(a, per_row).to_list() == [[want_rows[0], want_rows[1]], [want_rows[2]]]


def test_ufuncs_keep_numpys_dtype_rules_and_nulls() -> None:
    ints = gr.array([[1, 2], [None, 4]], dtype="int32")
    assert np.square(ints).type == "2 * var * int32"
    assert np.square(ints).to_list() == [[1, 4], [None, 16]]
    f32 = gr.array([1.0, 2.0], dtype="float32")
    assert np.arctan2(f32, 2.0).type == "2 * float32"
    q, r = np.divmod(gr.array([[7, -7]]), 3)
    assert (q.to_list(), r.to_list()) == ([[2, -3]], [[1, 2]])
    with pytest.raises(DTypeError, match="numeric values, got string"):
        np.log1p(gr.array(["a"]))


def test_ufunc_reduce_and_accumulate() -> None:
    x = gr.array([[1, 2, 3], [4]])
    assert np.add.reduce(x, axis=1).to_list() == [6, 4]
    assert np.maximum.reduce(x, axis=1).to_list() == [3, 4]
    assert np.add.accumulate(gr.array([1, 2, 3])).to_list() == [1, 3, 6]


def test_array_functions_on_ragged_data() -> None:
    x = gr.array([[3, 1, 2], [], [5, 4]])
    assert np.sort(x).to_list() == [[1, 2, 3], [], [4, 5]]
    assert np.unique(x).to_list() == [1, 2, 3, 4, 5]
    assert np.cumsum(x, axis=1).to_list() == [[3, 4, 6], [], [5, 9]]
    assert np.concatenate([x, x[:1]]).to_list() == [[3, 1, 2], [], [5, 4], [3, 1, 2]]
    assert np.clip(x, 2, 4).to_list() == [[3, 2, 2], [], [4, 4]]
    assert np.where(x > 2, x, 0).to_list() == [[3, 0, 0], [], [5, 4]]
    rows, cols = np.nonzero(x > 2)
    assert (rows.to_list(), cols.to_list()) == ([0, 2, 2], [0, 0, 1])
    assert np.isin(x, [1, 5]).to_list() == [[False, True, False], [], [True, False]]
    assert np.ndim(x) == 2
    assert np.intersect1d(x, [2, 5, 9]).to_list() == [2, 5]
    assert np.union1d(x, [9]).to_list() == [1, 2, 3, 4, 5, 9]
    assert np.setdiff1d(x, [2, 5]).to_list() == [1, 3, 4]


def test_other_numpy_functions_run_on_rectangular_data_and_refuse_ragged_clearly() -> None:
    flat = gr.array([3.0, 4.0])
    assert np.linalg.norm(flat) == 5.0
    assert np.array_equal(gr.array(np.eye(2)), np.eye(2))
    with pytest.raises(TypeError, match=r"numpy.linalg.norm is not supported on ragged"):
        np.linalg.norm(gr.array([[1.0], [2.0, 3.0]]))


def test_new_axis_indexing_says_what_is_supported() -> None:
    x = gr.array([[1, 2], [3]])
    for key in [(slice(None), None), None]:
        with pytest.raises(LayoutError, match=r"None \(np.newaxis\) is not a supported index"):
            x[key]


def test_one_argument_where_is_nonzero_and_where_accepts_none() -> None:
    x = gr.array([[1.5, -2.0], [], [3.0]])
    rows, positions = gr.where(x > 0)
    assert (rows.to_list(), positions.to_list()) == ([0, 2], [0, 0])
    assert gr.where(x > 0, None, x).to_list() == [[None, -2.0], [], [None]]
    assert gr.where(x > 0, x, None).to_list() == [[1.5, None], [], [3.0]]
    assert x.where(x > 0).to_list() == [[1.5, None], [], [3.0]]
    assert x.where(x > 0, 0.0).to_list() == [[1.5, 0.0], [], [3.0]]
    with pytest.raises(TypeError, match="condition alone, or a condition, x and y"):
        gr.where(x > 0, x)


def test_copy_is_independent_and_flatten_but_keeps_the_outer_axes() -> None:
    x = gr.array([[1, 2], [3]])
    y = x.copy()
    y[0, 0] = 10
    assert x.to_list() == [[1, 2], [3]] and y.to_list() == [[10, 2], [3]]
    deep = gr.array([[[[1], [2, 3]], [[4]]], [[[5]]]])
    assert deep.flatten(but=0).to_list() == [[1, 2, 3, 4], [5]]
    assert deep.flatten(but=1).to_list() == [[[1, 2, 3], [4]], [[5]]]
    assert deep.flatten(but=2).to_list() == deep.to_list()
    with pytest.raises(ValueError, match="dim= or but="):
        deep.flatten(1, but=0)


def test_split_without_a_pattern_ignores_what_follows_the_last_string_in_memory() -> None:
    # Arrow's utf8_split_whitespace reads one character past a string ending in
    # whitespace; after the last string that is stale pool memory. Freed blocks full of
    # invalid UTF-8 (0xff) are reused by the next allocations: "trail " must still split.
    for size in (64, 128):
        junk = [pa.allocate_buffer(size) for _ in range(32)]
        for buf in junk:
            memoryview(buf).cast("B")[:] = b"\xff" * size
        del junk
    samples = ["  a b  ", "", "   ", "x", "a\t\nb", " lead", "trail "]
    assert gr.array(samples).str.split().to_list() == [t.split() for t in samples]
    assert gr.array(samples).str.split(n=2).to_list() == [t.split(None, 2) for t in samples]
    assert gr.array(["a b ", "c "]).str.split().to_list() == [["a", "b"], ["c"]]
