"""String kernels behind ``GrumpyArray.str`` (pyarrow.compute on whole leaf buffers)."""

from __future__ import annotations

from collections.abc import Callable

import pyarrow as pa
import pyarrow.compute as pc

from grumpy_arrow.errors import DTypeError

__all__ = ["string_kernel"]


def _require_text(values: pa.Array, name: str) -> None:
    typ = values.type
    if not (pa.types.is_string(typ) or pa.types.is_large_string(typ)):
        raise DTypeError(f".str.{name} needs string values, got {typ}")


def string_kernel(name: str, **options: object) -> Callable[[pa.Array], pa.Array]:
    """A leaf kernel for one ``.str`` method with its options bound."""

    def kernel(values: pa.Array) -> pa.Array:
        _require_text(values, name)
        if name == "upper":
            return pc.utf8_upper(values)
        if name == "lower":
            return pc.utf8_lower(values)
        if name == "len":
            return pc.cast(pc.utf8_length(values), pa.int64())
        if name == "strip":
            return pc.utf8_trim_whitespace(values)
        if name == "contains":
            fn = pc.match_substring_regex if options["regex"] else pc.match_substring
            return fn(values, pattern=options["pattern"], ignore_case=options["case"] is False)
        if name == "startswith":
            return pc.starts_with(values, pattern=options["prefix"])
        if name == "endswith":
            return pc.ends_with(values, pattern=options["suffix"])
        if name == "replace":
            fn = pc.replace_substring_regex if options["regex"] else pc.replace_substring
            return fn(values, pattern=options["pattern"], replacement=options["repl"])
        raise AttributeError(f".str has no method {name!r}")

    return kernel
