"""Loop nests: the graph cut into kernels, and each kernel written as Python source.

Values that must exist as buffers are *materialized*: inputs, reductions, results and
assigned columns. Everything elementwise is inlined into the loops that read it, so no
intermediate leaf buffer is ever written. Materialized values are grouped into kernels:
consecutive values that live at the same depth of one structure share one loop nest, each
adding a pass to the loop body (a per-row mean, then the squared deviations from it, in
one row loop). A reduction to one scalar (``dim=None``) is a kernel of its own.

The source is the same for both engines' purposes (``numba`` compiles it; it is also what
``explain()`` shows). Dtypes follow the graph, which holds eager code's dtypes: every
operation casts its result to its dtype, so integers wrap exactly where eager code wraps.
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass, field
from typing import Any

from grumpy_arrow import dtypes as dt
from grumpy_arrow.compiler.buffers import Bound
from grumpy_arrow.compiler.graph import Op, Program

__all__ = ["NULL_WHEN_EMPTY", "Kernel", "acc_dtype", "materialized", "nullable", "plan", "source"]

NULL_WHEN_EMPTY = {"mean", "min", "max", "std", "var", "ptp", "argmin", "argmax"}

_FLOAT_FUNCS = {
    "sqrt",
    "exp",
    "log",
    "log2",
    "log10",
    "sin",
    "cos",
    "tan",
    "arcsin",
    "arccos",
    "arctan",
    "log1p",
    "expm1",
    "sinh",
    "cosh",
    "tanh",
    "exp2",
}
_CMP = {
    "equal": "==",
    "not_equal": "!=",
    "less": "<",
    "less_equal": "<=",
    "greater": ">",
    "greater_equal": ">=",
}
_ARITH = {"add": "+", "subtract": "-", "multiply": "*"}


@dataclass
class Kernel:
    """One loop nest: ``members`` computed in order, or one ``total``."""

    rows: Hashable
    axes: tuple[Hashable, ...]
    members: list[Op] = field(default_factory=list)
    total: Op | None = None


def materialized(program: Program) -> list[Op]:
    """The array values that must be written: reductions, results and assigned columns."""
    wanted: dict[int, Op] = {}
    for op in program.ops:
        if op.kind == "reduce":
            wanted[op.id] = op
    for a in program.assignments:
        wanted[a.value.id] = a.value

    def visit(item: Any) -> None:
        if isinstance(item, Op):
            if item.shape is not None:
                wanted[item.id] = item
        elif isinstance(item, (tuple, list)):
            for v in item:
                visit(v)
        elif isinstance(item, dict):
            for v in item.values():
                visit(v)

    visit(program.result)
    return [op for op in program.ops if op.id in wanted and op.kind != "input"]


def plan(program: Program, bound: Bound) -> list[Kernel]:
    """The kernels that compute every materialized value and total, in order."""
    kernels: list[Kernel] = []
    wanted = {op.id for op in materialized(program)}
    for op in program.ops:
        if op.kind == "total":
            kernels.append(Kernel(None, (), total=op))
            continue
        if op.id not in wanted:
            continue
        assert op.shape is not None
        rows, axes = bound.rows_of(op.shape), bound.axes_of(op.shape)
        last = kernels[-1] if kernels else None
        if last is not None and last.total is None and (last.rows, last.axes) == (rows, axes):
            last.members.append(op)
        else:
            kernels.append(Kernel(rows, axes, [op]))
    return kernels


# ---------------------------------------------------------------------------------------
# source


def nullable(op: Op, bound: Bound, memo: dict[int, bool]) -> bool:
    """Whether ``op`` can hold nulls in this call (its inputs' validity decides)."""
    if op.id in memo:
        return memo[op.id]
    if op.kind == "input":
        out = bound.leaves[op.attrs["index"]][1] is not None
    elif op.kind in ("const", "total", "pyop"):
        out = False
    elif op.kind == "reduce":
        assert op.args[0].shape is not None
        child = bound.axes_of(op.args[0].shape)[-1]
        out = op.name in NULL_WHEN_EMPTY or bound.axes[child].validity is not None
    else:
        out = any(nullable(a, bound, memo) for a in op.args)
    memo[op.id] = out
    return out


def _np(d: dt.DType) -> str:
    return "np.bool_" if d == dt.bool_ else f"np.{d.numpy.name}"


def _cast(expr: str, src: dt.DType | None, to: dt.DType) -> str:
    if src is not None and src == to:
        return expr
    if to == dt.bool_:
        return f"({expr} != 0)"
    return f"{_np(to)}({expr})"


class _Writer:
    """Emits one kernel's source: loop lines, inlined expressions, reductions."""

    def __init__(self, bound: Bound, kernel: Kernel) -> None:
        self.bound, self.kernel = bound, kernel
        self.lines: list[str] = []
        self.params: list[str] = []
        self.args: list[tuple[str, Any]] = []  # (parameter, what to pass)
        self.memo_null: dict[int, bool] = {}
        self.members = {op.id for op in kernel.members}
        self.kernel_outputs_before: set[int] = set()

    # -- parameters -------------------------------------------------------------------

    def param(self, name: str, what: Any) -> str:
        if name not in self.params:
            self.params.append(name)
            self.args.append((name, what))
        return name

    def depth(self, op: Op) -> int:
        assert op.shape is not None
        return len(self.bound.axes_of(op.shape))

    # -- expressions ------------------------------------------------------------------

    def value(
        self, op: Op, memo: dict[int, tuple[str, str | None]], ind: str
    ) -> tuple[str, str | None]:
        """``(value expression, validity expression or None)`` of ``op`` in this body."""
        if op.id in memo:
            return memo[op.id]
        if op.kind == "const":
            if op.args:
                name = self.param(f"s{op.id}", ("scalar", op))
                out: tuple[str, str | None] = (name, None)
            else:
                assert op.dtype is not None
                out = (_cast(repr(op.attrs["value"]), None, op.dtype), None)
        elif (
            op.kind == "input"
            or op.id in self.members
            or op.kind == "reduce"
            or (op.id in self.kernel_outputs_before)
        ):
            i = f"i{self.depth(op)}"
            buf = self.param(f"b{op.id}", ("values", op))
            valid = None
            if nullable(op, self.bound, self.memo_null):
                valid = f"{self.param(f'v{op.id}', ('validity', op))}[{i}]"
            out = (f"{buf}[{i}]", valid)
        else:
            out = self.elementwise(op, memo, ind)
        memo[op.id] = out
        return out

    def tmp(self, ind: str, name: str, expr: str) -> str:
        self.lines.append(f"{ind}{name} = {expr}")
        return name

    def elementwise(
        self, op: Op, memo: dict[int, tuple[str, str | None]], ind: str
    ) -> tuple[str, str | None]:
        vals = [self.value(a, memo, ind) for a in op.args]
        valids = [v for _, v in vals if v is not None]
        R = op.dtype
        assert R is not None
        xs = [v for v, _ in vals]
        ds = [a.dtype for a in op.args]
        valid: str | None = None
        if op.kind == "where":
            c, a, b = xs
            expr = f"{_cast(a, ds[1], R)} if {c} else {_cast(b, ds[2], R)}"
            vc, va, vb = (v for _, v in vals)
            if va is not None or vb is not None:
                branch = f"({va or 'True'} if {c} else {vb or 'True'})"
                valid = f"({vc} and {branch})" if vc is not None else branch
            elif vc is not None:
                valid = vc
        else:
            if valids:
                valid = " and ".join(f"{v}" for v in valids)
            expr = self.formula(op, xs, ds, R, ind, valid)
        name = self.tmp(ind, f"t{op.id}", expr)
        vname = None if valid is None else self.tmp(ind, f"m{op.id}", valid)
        return name, vname

    def formula(
        self, op: Op, xs: list[str], ds: list[Any], R: dt.DType, ind: str, valid: str | None
    ) -> str:
        name = op.name
        if op.kind == "cast":
            return _cast(xs[0], ds[0], R)
        if op.kind == "unary":
            (x,), (d,) = xs, ds
            if name in _FLOAT_FUNCS:
                return f"{_np(R)}(np.{name}({_cast(x, d, R)}))"
            if name in ("isnan", "isfinite", "isinf"):
                if d.kind != "f":
                    return "True" if name == "isfinite" else "False"
                return f"np.{name}({x})"
            if name in ("floor", "ceil", "trunc"):
                return _cast(x, d, R) if d.kind != "f" else f"{_np(R)}(np.{name}({x}))"
            if name == "negative":
                return f"{_np(R)}(-{_cast(x, d, R)})"
            if name == "absolute":
                return f"{_np(R)}(abs({_cast(x, d, R)}))"
            if name == "sign":
                return f"{_np(R)}(np.sign({_cast(x, d, R)}))"
            if name == "square":
                return f"{_np(R)}({_cast(x, d, R)} * {_cast(x, d, R)})"
            if name == "invert":
                return f"(not {x})" if dt.bool_ == R else f"{_np(R)}(~{_cast(x, d, R)})"
            raise NotImplementedError(name)
        a, b = xs
        da, db = ds
        if name in _CMP:
            common = dt.promote_types(da, db)
            return f"({_cast(a, da, common)} {_CMP[name]} {_cast(b, db, common)})"
        ca, cb = _cast(a, da, R), _cast(b, db, R)
        if name in _ARITH:
            return f"{_np(R)}({ca} {_ARITH[name]} {cb})"
        if name == "true_divide":
            return f"{_np(R)}({ca} / {cb})"
        if name in ("and", "or", "xor"):
            sym = {"and": "&", "or": "|", "xor": "^"}[name]
            return f"{_np(R)}({ca} {sym} {cb})" if dt.bool_ != R else f"({ca} {sym} {cb})"
        if name in ("maximum", "minimum"):
            cmp = ">=" if name == "maximum" else "<="
            if R.kind == "f":
                return f"({ca} if ({ca} {cmp} {cb} or {ca} != {ca}) else {cb})"
            return f"({ca} if {ca} {cmp} {cb} else {cb})"
        if name in ("hypot", "arctan2"):
            return f"{_np(R)}(np.{name}({ca}, {cb}))"
        if R.kind == "f":
            fn = {
                "floor_divide": "np.floor_divide",
                "remainder": "np.remainder",
                "power": "np.power",
            }[name]
            return f"{_np(R)}({fn}({ca}, {cb}))"
        # Integers: a zero divisor (or a negative power) sets the flag; the call then
        # reruns eagerly, which raises eager code's error.
        bad = f"{cb} < 0" if name == "power" else f"{cb} == 0"
        guard = f"{valid} and {bad}" if valid is not None else bad
        self.lines.append(f"{ind}if {guard}:")
        self.lines.append(f"{ind}    flag[0] = 1")
        sym = {"floor_divide": "//", "remainder": "%", "power": "**"}[name]
        return f"{_np(R)}(np.int64({ca}) {sym} np.int64({cb}) if not ({bad}) else 0)"


def source(
    bound: Bound, kernel: Kernel, name: str, parallel: bool, earlier: set[int]
) -> tuple[str, list[tuple[str, Any]]]:
    """The source of ``kernel`` as a function ``name`` and the arguments it takes.

    ``earlier``: ids of values earlier kernels wrote (read as buffers)."""
    w = _Writer(bound, kernel)
    w.kernel_outputs_before = earlier
    if kernel.total is not None:
        _total(w, kernel.total, parallel)
    else:
        _nest(w, kernel, parallel)
    w.param("flag", ("flag", None))
    header = f"def {name}({', '.join(w.params)}):"
    return "\n".join([header, *w.lines, "    return 0"]) + "\n", w.args


def _loops(
    w: _Writer, axes: tuple[Hashable, ...], rows: Hashable, depth: int, parallel: bool
) -> str:
    """Open loops from the rows down to ``depth``; returns the body's indentation."""
    rng = "prange" if parallel else "range"
    n0 = w.param("n0", ("rows", rows))
    w.lines.append(f"    for i0 in {rng}({n0}):")
    ind = "        "
    for m in range(1, depth + 1):
        o = w.param(f"o{m}", ("offsets", axes[m - 1]))
        w.lines.append(f"{ind}for i{m} in range({o}[i{m - 1}], {o}[i{m - 1} + 1]):")
        ind += "    "
    return ind


def _nest(w: _Writer, kernel: Kernel, parallel: bool) -> None:
    d = len(kernel.axes)
    ind = _loops(w, kernel.axes, kernel.rows, d, parallel)
    memo: dict[int, tuple[str, str | None]] = {}
    for op in kernel.members:
        if op.kind == "reduce":
            _reduce(w, op, d, ind, memo)
        else:
            w.members.discard(op.id)
            val, valid = w.value(op, memo, ind)
            w.members.add(op.id)
            out = w.param(f"b{op.id}", ("out", op))
            w.lines.append(f"{ind}{out}[i{d}] = {val}")
            if nullable(op, w.bound, w.memo_null):
                vout = w.param(f"v{op.id}", ("out_validity", op))
                w.lines.append(f"{ind}{vout}[i{d}] = {valid or 'True'}")
        memo[op.id] = (
            f"b{op.id}[i{d}]",
            f"v{op.id}[i{d}]" if nullable(op, w.bound, w.memo_null) else None,
        )


def _accumulate(w: _Writer, op: Op, ind: str, x: str, valid: str | None, start: str) -> None:
    """Update lines of reduction ``op`` for value ``x`` (inside the value loop)."""
    k = op.id
    acc, cnt = f"acc{k}", f"cnt{k}"
    inner = ind + "    " if valid is not None else ind
    if valid is not None:
        w.lines.append(f"{ind}if {valid}:")
    src = op.args[0].dtype
    is_float = src is not None and src.kind == "f"
    nan = f" or {x} != {x}" if is_float else ""
    first_nan = f" or ({x} != {x} and {acc} == {acc})" if is_float else ""
    body = {
        "sum": [f"{acc} += {x}"],
        "prod": [f"{acc} *= {x}"],
        "mean": [f"{acc} += {x}"],
        "var": [f"{acc} += {x}"],
        "std": [f"{acc} += {x}"],
        "count": [],
        "count_nonzero": [f"if {x} != 0:", f"    {acc} += 1"],
        "any": [f"if {x} != 0:", f"    {acc} = True"],
        "all": [f"if {x} == 0:", f"    {acc} = False"],
        "min": [f"if {cnt} == 0 or {x} < {acc}{nan}:", f"    {acc} = {x}"],
        "max": [f"if {cnt} == 0 or {x} > {acc}{nan}:", f"    {acc} = {x}"],
        "argmin": [
            f"if {cnt} == 0 or {x} < {acc}{first_nan}:",
            f"    {acc} = {x}",
            f"    pos{k} = i_ - {start}",
        ],
        "argmax": [
            f"if {cnt} == 0 or {x} > {acc}{first_nan}:",
            f"    {acc} = {x}",
            f"    pos{k} = i_ - {start}",
        ],
        "ptp": [
            f"if {cnt} == 0 or {x} < {acc}{nan}:",
            f"    {acc} = {x}",
            f"if {cnt} == 0 or {x} > hi{k}{nan}:",
            f"    hi{k} = {x}",
        ],
    }[op.name]
    for line in body:
        w.lines.append(f"{inner}{line}")
    w.lines.append(f"{inner}{cnt} += 1")


def acc_dtype(op: Op) -> str:
    """The NumPy type of the accumulator of reduction ``op``."""
    src = op.args[0].dtype
    assert src is not None
    if op.name in ("sum", "prod"):
        return "np.float64" if src.kind == "f" else ("np.uint64" if src.kind == "u" else "np.int64")
    if op.name in ("mean", "var", "std"):
        return "np.float64"
    if op.name in ("count", "count_nonzero"):
        return "np.int64"
    if op.name in ("any", "all"):
        return "np.bool_"
    return _np(src)


def _init(op: Op) -> list[str]:
    k = op.id
    typ = acc_dtype(op)
    first = {"prod": f"{typ}(1)", "all": "True", "any": "False"}.get(op.name, f"{typ}(0)")
    lines = [f"acc{k} = {first}", f"cnt{k} = 0", f"pos{k} = 0", f"mu{k} = 0.0"]
    if op.name == "ptp":
        lines.append(f"hi{k} = {typ}(0)")
    return lines


def _numeric(op: Op, x: str) -> str:
    """The value ``x`` as the accumulator's type (sums and means)."""
    if op.name in ("sum", "prod", "mean", "var", "std"):
        return f"{acc_dtype(op)}({x})"
    return x


def _value_loop(
    w: _Writer, op: Op, child: Hashable, d: int, ind: str, memo_outer: dict[int, Any]
) -> tuple[str, str | None, str]:
    """Open the loop over the children of entity ``i{d}`` and emit the reduced value."""
    c = w.param(f"c{op.id}", ("offsets", child))
    j = f"i{d + 1}"
    w.lines.append(f"{ind}for {j} in range({c}[i{d}], {c}[i{d} + 1]):")
    inner = ind + "    "
    w.lines.append(f"{inner}i_ = {j}")
    memo = dict(memo_outer)
    x, valid = w.value(op.args[0], memo, inner)
    return _numeric(op, x), valid, inner


def _finish(op: Op, ddof: int) -> tuple[str, str]:
    """``(result expression, validity expression)`` of reduction ``op`` after its loops."""
    k = op.id
    acc, cnt = f"acc{k}", f"cnt{k}"
    ok = {
        "mean": f"{cnt} > 0",
        "min": f"{cnt} > 0",
        "max": f"{cnt} > 0",
        "ptp": f"{cnt} > 0",
        "argmin": f"{cnt} > 0",
        "argmax": f"{cnt} > 0",
        "var": f"{cnt} > {ddof}",
        "std": f"{cnt} > {ddof}",
    }.get(op.name, "True")
    final = {
        "mean": f"{acc} / {cnt} if {cnt} > 0 else 0.0",
        "count": cnt,
        "argmin": f"pos{k}",
        "argmax": f"pos{k}",
        "ptp": f"hi{k} - {acc}",
        "var": f"{acc} / ({cnt} - {ddof}) if {cnt} > {ddof} else 0.0",
        "std": f"np.sqrt({acc} / ({cnt} - {ddof})) if {cnt} > {ddof} else 0.0",
    }.get(op.name, acc)
    return final, ok


def _second_pass(w: _Writer, op: Op, ind: str, loop: Any) -> None:
    """var/std: the mean, then the squared deviations from it (a second value loop)."""
    k = op.id
    w.lines.append(f"{ind}mu{k} = acc{k} / cnt{k} if cnt{k} > 0 else 0.0")
    w.lines.append(f"{ind}acc{k} = 0.0")
    x, valid, inner = loop()
    if valid is not None:
        w.lines.append(f"{inner}if {valid}:")
        inner += "    "
    w.lines.append(f"{inner}acc{k} += ({x} - mu{k}) * ({x} - mu{k})")


def _reduce(w: _Writer, op: Op, d: int, ind: str, memo: dict[int, Any]) -> None:
    assert op.args[0].shape is not None and op.dtype is not None
    child = w.bound.axes_of(op.args[0].shape)[-1]
    c = w.param(f"c{op.id}", ("offsets", child))
    for line in _init(op):
        w.lines.append(f"{ind}{line}")
    x, valid, inner = _value_loop(w, op, child, d, ind, memo)
    _accumulate(w, op, inner, x, valid, f"{c}[i{d}]")
    ddof = int(op.attrs.get("ddof", 0))
    if op.name in ("var", "std"):
        _second_pass(w, op, ind, lambda: _value_loop(w, op, child, d, ind, memo))
    final, ok = _finish(op, ddof)
    out = w.param(f"b{op.id}", ("out", op))
    w.lines.append(f"{ind}{out}[i{d}] = {_cast(final, None, op.dtype)}")
    if nullable(op, w.bound, w.memo_null):
        if w.bound.axes[child].validity is not None:
            lv = w.param(f"l{op.id}", ("axis_validity", child))
            ok = f"{lv}[i{d}] and ({ok})"
        vout = w.param(f"v{op.id}", ("out_validity", op))
        w.lines.append(f"{ind}{vout}[i{d}] = {ok}")


def _total(w: _Writer, op: Op, parallel: bool) -> None:
    """A reduction to one value: loops down to the value's depth, one accumulator.

    Serial: a total is one pass over the values (``parallel`` is not used)."""
    arg = op.args[0]
    assert arg.shape is not None
    axes = w.bound.axes_of(arg.shape)
    d = len(axes)
    rows = w.bound.rows_of(arg.shape)
    for line in _init(op):
        w.lines.append(f"    {line}")

    def loop() -> tuple[str, str | None, str]:
        ind = _loops(w, axes, rows, d, False)
        w.lines.append(f"{ind}i_ = i{d}")
        x, valid = w.value(arg, {}, ind)
        return _numeric(op, x), valid, ind

    x, valid, ind = loop()
    _accumulate(w, op, ind, x, valid, "0")
    if op.name in ("var", "std"):
        _second_pass(w, op, "    ", loop)
    k = op.id
    w.param("out_acc", ("total_acc", op))
    w.param("out_cnt", ("total_cnt", op))
    w.lines.append(f"    out_acc[0] = acc{k}")
    w.lines.append(f"    out_acc[1] = hi{k}" if op.name == "ptp" else f"    out_acc[1] = acc{k}")
    w.lines.append(f"    out_cnt[0] = cnt{k}")
    w.lines.append(f"    out_cnt[1] = pos{k}")
