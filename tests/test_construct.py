from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

import grumpy_arrow as gr


def test_nested_lists_build_a_large_list_chain() -> None:
    x = gr.array([[[1, 2], [3]], [[4]], []])
    assert x.to_arrow().type == pa.large_list(pa.large_list(pa.int64()))
    assert x.to_list() == [[[1, 2], [3]], [[4]], []]


def test_explicit_dtype_sets_the_leaf_type() -> None:
    x = gr.array([[1, 2, 3], [4, 5]], dtype=gr.int32)
    assert x.to_arrow().type == pa.large_list(pa.int32())
    assert x.dtype is gr.int32


@pytest.mark.parametrize(
    ("value", "dtype"),
    [
        ([True, False], gr.bool_),
        ([1, 2], gr.int64),
        ([1.5, 2], gr.float64),
        ([1, 2.5], gr.float64),
        ([True, 2], gr.int64),
        (["a", None], gr.string),
        ([b"a", b"b"], gr.binary),
        ([[1], [2.5]], gr.float64),
        ([], gr.float64),
        ([[], []], gr.float64),
    ],
    ids=repr,
)
def test_inference_follows_the_spec(value: list[object], dtype: gr.DType) -> None:
    assert gr.array(value).dtype is dtype


def test_bools_mixed_with_ints_become_ints() -> None:
    assert gr.array([[True, 2], [False]]).to_list() == [[1, 2], [0]]


def test_union_at_the_root_round_trips() -> None:
    x = gr.array(["P12345", ["P12345-1", "P12345-2"], None], dtype=gr.string)
    assert x.is_union
    assert x.to_list() == ["P12345", ["P12345-1", "P12345-2"], None]
    arrow = x.to_arrow()
    assert arrow.type == pa.dense_union(
        [pa.field("scalar", pa.string()), pa.field("list", pa.large_list(pa.string()))]
    )
    assert gr.array(arrow).to_list() == ["P12345", ["P12345-1", "P12345-2"], None]


def test_union_inside_a_list() -> None:
    x = gr.array([[1, 2, 3], [[None, 5], [6]]])
    assert not x.is_union
    assert x.to_arrow().type.value_type == pa.dense_union(
        [pa.field("scalar", pa.int64()), pa.field("list", pa.large_list(pa.int64()))]
    )
    assert x.to_list() == [[1, 2, 3], [[None, 5], [6]]]


def test_union_nested_in_a_union_list_child() -> None:
    x = gr.array([1, [2, [3, 4]]])
    assert x.type == "2 * union[int64, var * union[int64, var * int64]]"
    assert x.to_list() == [1, [2, [3, 4]]]


def test_none_among_list_rows_is_a_null_list() -> None:
    x = gr.array([[1, 2], None])
    assert not x.is_union
    assert x.null_count == 1
    assert x.to_list() == [[1, 2], None]


def test_strings_below_lists_are_not_split_into_characters() -> None:
    x = gr.array([["ab"], "cd"])
    assert x.is_union
    assert x.to_list() == [["ab"], "cd"]
    y = gr.array([["ab", "c"], ["d"]], dtype=gr.string)
    assert y.to_list() == [["ab", "c"], ["d"]]


def test_tuples_count_as_lists() -> None:
    assert gr.array([(1, 2), (3,)]).to_list() == [[1, 2], [3]]


def test_python_scalar_becomes_a_length_one_array() -> None:
    assert gr.array(5).to_list() == [5]


def test_list_of_numpy_rows_builds_ragged_lists() -> None:
    rows = [np.array([1.0, 2.0]), np.array([3.0])]
    assert gr.array(rows).to_list() == [[1.0, 2.0], [3.0]]


@pytest.mark.parametrize(
    ("value", "dtype", "message"),
    [
        ([1.5], gr.int32, "cannot convert 1.5 at position [0] to int32"),
        ([[1, 2], [300]], gr.int8, "cannot convert 300 at position [1][0] to int8"),
        ([0, -1], gr.uint8, "cannot convert -1 at position [1] to uint8"),
        ([[1], ["x"]], gr.int64, "cannot convert 'x' at position [1][0] to int64"),
        ([1, 2], gr.bool_, "cannot convert 1 at position [0] to bool_"),
        (["a", 5], gr.string, "cannot convert 5 at position [1] to string"),
    ],
    ids=[
        "float-into-int32",
        "overflow-int8",
        "negative-uint8",
        "text-into-int",
        "int-into-bool",
        "int-into-string",
    ],
)
def test_value_checks_name_value_dtype_and_position(
    value: list[object], dtype: gr.DType, message: str
) -> None:
    with pytest.raises(gr.ConversionError) as info:
        gr.array(value, dtype=dtype)
    assert str(info.value) == message
    assert isinstance(info.value, ValueError)


def test_strings_mixed_with_numbers_name_the_first_offender() -> None:
    with pytest.raises(gr.DTypeError) as info:
        gr.array([[1, 2], [3, "a"]])
    assert str(info.value) == (
        "cannot mix numbers with 'a' at position [1][1]; all values of an array share one dtype"
    )
    assert isinstance(info.value, TypeError)


def test_union_mix_error_names_the_position() -> None:
    with pytest.raises(gr.DTypeError, match=r"cannot mix strings with 3 at position \[1\]\[0\]"):
        gr.array(["a", [3]])


def test_all_null_without_dtype_suggests_dtype() -> None:
    with pytest.raises(gr.DTypeError, match="all-null values; pass dtype="):
        gr.array([None, [None]])
    assert gr.array([None, None], dtype=gr.int8).to_list() == [None, None]


def test_unsupported_python_values_are_named() -> None:
    with pytest.raises(
        gr.DTypeError,
        match=r"unsupported value \{'a': 1\} of type dict at "
        r"position \[1\]",
    ):
        gr.array([1, {"a": 1}])


def test_unsupported_object_type() -> None:
    with pytest.raises(gr.DTypeError, match="cannot build an array from object"):
        gr.array(object())


def test_numpy_rectangular_becomes_fixed_axes_sharing_values() -> None:
    base = np.arange(12, dtype=np.int32).reshape(3, 4)
    x = gr.array(base)
    assert x.type == "3 * 4 * int32"
    assert x.to_list() == base.tolist()
    values = x.to_arrow().values
    assert values.buffers()[1].address == base.ctypes.data


def test_numpy_masked_array_gives_leaf_nulls() -> None:
    m = np.ma.masked_array([1.0, 2.0, 3.0], mask=[False, True, False])
    assert gr.array(m).to_list() == [1.0, None, 3.0]


def test_numpy_strings_and_zero_sized_axes() -> None:
    assert gr.array(np.array(["a", "bc"])).to_list() == ["a", "bc"]
    empty = gr.array(np.zeros((2, 0, 3)))
    assert empty.to_list() == [[], []]
    assert empty.type == "2 * var * 3 * float64"  # an axis of length 0 is not a fixed axis
    assert gr.from_numpy(np.arange(3)).to_list() == [0, 1, 2]


def test_numpy_object_array_goes_through_python_path() -> None:
    obj = np.empty(2, dtype=object)
    obj[0], obj[1] = [1, 2], 3
    assert gr.array(obj).to_list() == [[1, 2], 3]


def test_pyarrow_list_widens_to_large_list_and_fixed_size_list_stays_fixed() -> None:
    small = pa.array([[1, 2], [3]], type=pa.list_(pa.int16()))
    fixed = pa.array([[1, 2], [3, 4]], type=pa.list_(pa.int64(), 2))
    assert gr.array(small).to_arrow().type == pa.large_list(pa.int16())
    assert gr.array(fixed).to_list() == [[1, 2], [3, 4]]
    assert gr.array(fixed).to_arrow().type == pa.list_(pa.int64(), 2)
    empty = pa.array([[], []], type=pa.list_(pa.int64(), 0))  # size 0: variable lists
    assert gr.array(empty).to_arrow().type == pa.large_list(pa.int64())
    assert gr.array(empty).to_list() == [[], []]


def test_pyarrow_sliced_list_with_null_backed_by_values() -> None:
    offsets = pa.array([0, 2, 4, 5], type=pa.int32())
    values = pa.array([1, 2, 3, 4, 5])
    lists = pa.ListArray.from_arrays(offsets, values, mask=pa.array([False, True, False]))
    x = gr.array(lists)
    assert x.to_list() == [[1, 2], None, [5]]
    assert x.sum(dim=1).to_list() == [3, None, 5]
    assert x.flatten().to_list() == [1, 2, 5]


def test_chunked_arrays_and_dictionaries() -> None:
    assert gr.array(pa.chunked_array([[1, 2], [3]])).to_list() == [1, 2, 3]
    assert gr.array(pa.chunked_array([], type=pa.int8())).dtype is gr.int8
    dictionary = pa.array(["a", "b", "a"]).dictionary_encode()
    assert gr.array(dictionary).to_list() == ["a", "b", "a"]


def test_pyarrow_with_dtype_casts_safely() -> None:
    assert gr.array(pa.array([[1, 2]]), dtype=gr.float32).to_arrow().type == pa.large_list(
        pa.float32()
    )
    with pytest.raises(gr.ConversionError, match="cannot convert float64 values to int32"):
        gr.array(pa.array([1.5]), dtype=gr.int32)


@pytest.mark.parametrize(
    "arrow",
    [
        pa.array([{"a": 1}], type=pa.map_(pa.string(), pa.int64())),
        pa.array([1], type=pa.date32()),
    ],
    ids=["map", "date"],
)
def test_unsupported_arrow_layouts_raise_layout_error(arrow: pa.Array) -> None:
    with pytest.raises(gr.LayoutError, match="is not supported"):
        gr.array(arrow)


def test_foreign_union_shapes_are_refused() -> None:
    sparse = pa.UnionArray.from_sparse(
        pa.array([0, 1], pa.int8()), [pa.array([1, 2]), pa.array([[1], [2]])]
    )
    with pytest.raises(gr.LayoutError, match="expected a dense union with type codes"):
        gr.array(sparse)


def test_foreign_dense_union_with_32_bit_lists_is_canonicalised() -> None:
    union = pa.UnionArray.from_dense(
        pa.array([1, 0, 1], pa.int8()),
        pa.array([0, 0, 1], pa.int32()),
        [pa.array([7]), pa.array([[1, 2], [3]], type=pa.list_(pa.int64()))],
        ["s", "l"],
        [0, 1],
    )
    x = gr.array(union)
    assert x.to_list() == [[1, 2], 7, [3]]
    assert x.to_arrow().type.field(1).type == pa.large_list(pa.int64())


def test_pycapsule_objects_are_accepted() -> None:
    class ArrayExporter:
        def __arrow_c_array__(self, requested_schema: object = None) -> object:
            return pa.array([[1, 2], [3]]).__arrow_c_array__(requested_schema)

    class StreamExporter:
        def __arrow_c_stream__(self, requested_schema: object = None) -> object:
            return pa.chunked_array([[1], [2, 3]]).__arrow_c_stream__(requested_schema)

    assert gr.array(ArrayExporter()).to_list() == [[1, 2], [3]]
    assert gr.array(StreamExporter()).to_list() == [1, 2, 3]


def test_grumpy_array_input_is_shared_or_cast() -> None:
    x = gr.array([[1, 2]])
    assert gr.array(x) is x
    assert gr.array(x, dtype=gr.float64).to_list() == [[1.0, 2.0]]


def test_from_offsets_builds_lists_over_values() -> None:
    x = gr.from_offsets(np.arange(5), [0, 2, 2, 5], validity=[True, False, True])
    assert x.to_list() == [[0, 1], None, [2, 3, 4]]


@pytest.mark.parametrize(
    ("offsets", "message"),
    [
        ([0, 3, 2], "decreasing at position 2"),
        ([0, 9], r"within \[0, 5\]; got first 0, last 9"),
        ([[0, 1]], "non-empty 1-D integer array"),
    ],
)
def test_from_offsets_rejects_bad_offsets(offsets: list[object], message: str) -> None:
    with pytest.raises(gr.errors.OffsetsError, match=message):
        gr.from_offsets(np.arange(5), offsets)


def test_from_offsets_null_rows_must_be_empty() -> None:
    with pytest.raises(gr.errors.OffsetsError, match="null rows must be empty"):
        gr.from_offsets([1, 2], [0, 1, 2], validity=[False, True])


def test_zeros_ones_full_like_keep_structure() -> None:
    x = gr.array([1, [2, 3]])
    assert gr.zeros_like(x).to_list() == [0, [0, 0]]
    assert gr.ones_like(x, dtype=gr.float32).to_list() == [1.0, [1.0, 1.0]]
    assert gr.full_like(gr.array([["a"], []]), "z").to_list() == [["z"], []]
    with pytest.raises(gr.ConversionError, match="fill value 300 does not fit int8"):
        gr.full_like(gr.array([1], dtype=gr.int8), 300)


def test_all_null_arrow_input_needs_a_dtype() -> None:
    with pytest.raises(gr.DTypeError, match=r"all-null Arrow array \(null\); pass dtype="):
        gr.array(pa.array([None, None]))
    assert gr.array(pa.array([None, None]), dtype=gr.int8).to_list() == [None, None]
    nested = gr.array(pa.array([[None], []]), dtype=gr.float32)
    assert nested.type == "2 * var * float32"


def test_text_is_not_parsed_into_numbers_at_construction() -> None:
    with pytest.raises(gr.ConversionError, match=r"cannot convert '1' at position \[0\] to int64"):
        gr.array(["1", "2"], dtype=gr.int64)
    assert gr.array(["1", "2"]).astype(gr.int64).to_list() == [1, 2]


def test_full_like_checks_the_fill_value() -> None:
    with pytest.raises(gr.ConversionError, match=r"fill value 1\.5 does not fit int64"):
        gr.full_like(gr.array([[1], [3]]), 1.5)
    assert gr.full_like(gr.array([[1], [3]]), None).to_list() == [[None], [None]]


@pytest.mark.parametrize(
    ("build", "error", "message"),
    [
        (lambda: gr.from_numpy([1, 2]), TypeError, "from_numpy needs a numpy.ndarray, got list"),
        (
            lambda: gr.array(np.array([1j])),
            gr.DTypeError,
            "NumPy dtype complex128 has no grumpy_arrow equivalent",
        ),
        (
            lambda: gr.from_numpy(np.array(["2020-01-01"], dtype="M8[D]")),
            gr.DTypeError,
            "datetime64",
        ),
        (
            lambda: gr.from_arrow(pa.array([{"a": 1}], type=pa.map_(pa.string(), pa.int64()))),
            gr.LayoutError,
            "is not supported",
        ),
        (lambda: gr.from_arrow(pa.array([None])), gr.DTypeError, "all-null Arrow array"),
        (lambda: gr.array([1, 2], dtype="int31"), gr.DTypeError, "unknown dtype 'int31'"),
        (lambda: gr.from_offsets([1, 2], [2, 1]), gr.errors.OffsetsError, "non-decreasing"),
        (lambda: gr.from_arrow([1, 2]), TypeError, "from_arrow needs a pyarrow Array"),
    ],
    ids=[
        "from_numpy-list",
        "numpy-complex",
        "numpy-datetime",
        "arrow-map",
        "arrow-null",
        "bad-dtype-name",
        "from_offsets-decreasing",
        "from_arrow-list",
    ],
)
def test_every_constructor_path_reports_bad_input(build: object, error: type, message: str) -> None:
    with pytest.raises(error, match=message):
        build()  # type: ignore[operator]


@pytest.mark.parametrize("dtype", ["int8", "int16", "int32", "uint8", "uint16", "uint32"])
def test_small_integer_dtypes_take_ints_bools_and_whole_floats_exactly(dtype: str) -> None:
    # Built through Arrow's float64 builder and a safe cast: every value must come out as
    # the integer it is, whatever Python type it came as.
    rng = np.random.default_rng(7)
    info = np.iinfo(dtype)
    rows: list[list[object] | None] = []
    want: list[list[int | None] | None] = []
    for n in rng.integers(0, 6, 300):
        values = rng.integers(max(info.min, -(2**31)), info.max, n, endpoint=True).tolist()
        row: list[object] = []
        for k, v in enumerate(values):
            kind = (k + n) % 4
            row.append(None if kind == 3 else float(v) if kind == 1 else v)
        row.append(True)
        rows.append(row)
        want.append([None if x is None else int(x) for x in row])
    rows.append(None)
    want.append(None)
    got = gr.array(rows, dtype=dtype).to_arrow()
    assert got.equals(pa.array(want, type=pa.large_list(gr.dtype(dtype).arrow)))


@pytest.mark.parametrize(
    ("rows", "dtype", "message"),
    [
        ([[1, 2], [3, 2.5]], "int32", r"cannot convert 2.5 at position \[1\]\[1\] to int32"),
        ([[1, float("nan")]], "int16", r"cannot convert nan at position \[0\]\[1\] to int16"),
        ([[255, 256]], "uint8", r"cannot convert 256 at position \[0\]\[1\] to uint8"),
        ([[0, -1]], "uint32", r"cannot convert -1 at position \[0\]\[1\] to uint32"),
        ([[1, "2"]], "int8", r"cannot convert '2' at position \[0\]\[1\] to int8"),
    ],
    ids=["fraction", "nan", "overflow", "negative-unsigned", "text"],
)
def test_small_integer_dtypes_name_the_value_they_cannot_take(
    rows: list[list[object]], dtype: str, message: str
) -> None:
    with pytest.raises(gr.errors.ConversionError, match=message):
        gr.array(rows, dtype=dtype)


def test_64_bit_integers_beyond_float64_precision_stay_exact() -> None:
    # Only integers of at most 32 bits go through float64; wider ones never lose a digit.
    assert gr.array([[2**53 + 1, -(2**63)]], dtype="int64").to_list() == [[2**53 + 1, -(2**63)]]
    assert gr.array([[2**64 - 1]], dtype="uint64").to_list() == [[2**64 - 1]]
