# Types of the compiled kernels (grumpy_arrow/_kernels.c); see grumpy_arrow/_native.py.
from typing_extensions import Buffer

def take_ranges(src: Buffer, starts: Buffer, lens: Buffer, out: Buffer, /) -> int: ...
def segment_sum(values: Buffer, offsets: Buffer, out: Buffer, /) -> None: ...
def compare_bits(x: Buffer, y: Buffer, op: int, out: Buffer, /) -> None: ...
def int_rows(
    rows: object, itemsize: int, signed: bool, /
) -> tuple[bytearray, bytearray] | None: ...
def crc32c_rows(data: Buffer, width: int, out: Buffer, /) -> None: ...
def blosc_chunks(
    source: Buffer | int,
    offsets: Buffer,
    sizes: Buffer,
    out: Buffer,
    want: int,
    decode: int,
    bad: Buffer,
    /,
) -> int: ...
def blosc_files(
    fds: Buffer,
    offsets: Buffer,
    sizes: Buffer,
    out: Buffer,
    want: int,
    decode: int,
    bad: Buffer,
    /,
) -> int: ...
def blosc_encode(
    rows: Buffer,
    width: int,
    out: Buffer,
    sizes: Buffer,
    clevel: int,
    shuffle: int,
    typesize: int,
    cname: str,
    encode: int,
    /,
) -> int: ...
def take_rows(
    values: Buffer, offsets: Buffer, rows: Buffer, new_offsets: Buffer, out: Buffer | None, /
) -> int: ...
