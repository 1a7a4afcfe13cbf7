"""Damaged stores (issue 12): every leaf x every damage is reported, never misread.

Two pristine stores hold every leaf role: a frame (int and float values, validity, string
offsets and data, own and shared level offsets, union type_ids and value_offsets at the
root and inside lists) and an array (null list rows, a union inside lists). They are
written with ``chunk_size=32, shard_size=64`` (every leaf spans several shard files of two
inner chunks) and compressor ``none``, ``zstd`` and ``blosc`` (whose chunks the compiled
kernels check and decode, when they are built). Each case damages one leaf of a copy:

- value damages, written through zarr into the leaf named by the manifest (so checksums
  stay valid): offsets that decrease, whose last entry points past the data, or whose first
  is negative; a union type id 7; a union value offset past its child; a validity leaf cut
  short;
- file damages of the middle shard file of the leaf (inside the committed range):
  truncated (to half of its index, which ends the file), missing, one flipped bit (in the
  values of a raw shard; in the middle of a compressed one), zero length.

Then, in a child process (a segfault or a hang fails the case, not the run):
``gr.load(p).to_dict()`` (``to_list()`` for the array), ``gr.open(p)[rows]`` for every row
(shuffled) and for a few rows, ``gr.validate(p)`` and the ``validate`` command. Each read
gives a ``StoreFormatError`` naming the store and the leaf (value damages: also the first
bad position; bit flips: a checksum; truncation: the bytes left) or data exactly
equal to the undamaged data - never a signal, another exception type, or silently wrong
data. Bit flips must be caught by a whole read. ``gr.validate`` reports a problem naming
the store and the leaf (and the position, checksum or byte figures), and the command exits
with status 1 naming the leaf.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from _store_probes import (
    CORRUPT_LEAVES,
    CORRUPT_STORES,
    VALUE_DAMAGES,
    ProbeCrash,
    ProbeServer,
    case_id,
    corruption_cases,
    probe_server,
    report,
)

COMPRESSORS = ("none", "zstd", "blosc")
CASES = corruption_cases(COMPRESSORS)
# Default run: every value damage; for compressor "none" a bit flip in every leaf and the
# other file damages in one leaf per role; for zstd the file damages of an offsets and a
# values leaf (zarr decodes every zstd chunk the same way); for blosc the same, and a bit
# flip in every leaf (the compiled loop checks each chunk). The slow run: every case.
_ONE_PER_ROLE = tuple(
    next(leaf for leaf, r in CORRUPT_LEAVES.items() if r == role)
    for role in ("offsets", "values", "data", "validity", "type_ids", "value_offsets")
)
_ZSTD_FILE_LEAVES = ("_levels/res-offsets", "mol_w/r-values")


def _is_default(case: dict[str, str]) -> bool:
    if case["damage"] in VALUE_DAMAGES:
        return True
    if case["compressor"] == "none":
        return case["damage"] == "chunk-bit-flip" or case["leaf"] in _ONE_PER_ROLE
    if case["compressor"] == "blosc" and case["damage"] == "chunk-bit-flip":
        return True
    return case["leaf"] in _ZSTD_FILE_LEAVES


PARAMS = [
    pytest.param(case, id=case_id(case), marks=() if _is_default(case) else pytest.mark.slow)
    for case in CASES
]


# -- running the matrix -------------------------------------------------------------------


class Matrix:
    """Runs the selected cases once, in two child processes at a time, and keeps facts."""

    def __init__(self, root: Path, cases: list[dict[str, str]]) -> None:
        self.root = root
        self.cases = cases
        self.facts: dict[str, Any] = {}
        self.pristine: dict[str, str] = {}
        self.leaves: dict[str, list[str]] = {}
        self._done = False

    def run(self) -> None:
        if self._done:
            return
        self._done = True
        with probe_server() as server:
            for compressor in COMPRESSORS:
                for store in CORRUPT_STORES:
                    key = f"{compressor}-{store}"
                    path = str(self.root / f"pristine-{key}.gr")
                    self.leaves[key] = server.call(
                        "probe_build_corruption_store", path, compressor, store
                    )
                    self.pristine[key] = path
        halves = [self.cases[0::2], self.cases[1::2]]
        threads = [threading.Thread(target=self._run_some, args=(h,)) for h in halves]
        for t in threads:
            t.start()
        for t in threads:
            t.join()

    def _run_some(self, cases: list[dict[str, str]]) -> None:
        server = ProbeServer()
        work = self.root / "cases"
        work.mkdir(exist_ok=True)
        try:
            for case in cases:
                try:
                    pristine = self.pristine[f"{case['compressor']}-{case['store']}"]
                    facts = server.call(
                        "probe_corruption_case", case, pristine, str(work), timeout=60
                    )
                except ProbeCrash as err:
                    facts = {"crash": str(err)}
                self.facts[case_id(case)] = facts
        finally:
            server.close()


def _selected_cases(request: pytest.FixtureRequest) -> list[dict[str, str]]:
    """The cases of the tests this session runs (slow ones only when slow is selected)."""
    expr = request.config.getoption("markexpr", "") or ""
    slow = "slow" in expr and "not slow" not in expr
    out = {}
    for item in request.session.items:
        params = getattr(getattr(item, "callspec", None), "params", {})
        if getattr(item, "module", None) is not sys.modules[__name__] or "case" not in params:
            continue
        if item.get_closest_marker("slow") is None or slow:
            out[case_id(params["case"])] = params["case"]
    return list(out.values()) or [c for c in CASES if _is_default(c)]


@pytest.fixture(scope="module")
def matrix(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Matrix:
    m = Matrix(tmp_path_factory.mktemp("corruption"), _selected_cases(request))
    m.run()
    return m


# -- judging a case -----------------------------------------------------------------------


def _message_gaps(case: dict[str, str], facts: dict[str, Any], message: str) -> list[str]:
    """What a StoreFormatError message (or a validate problem) fails to say."""
    gaps = []
    damage, info = case["damage"], facts["damage"]
    if facts["path"] not in message:
        gaps.append("the store path")
    if case["leaf"] not in message:
        gaps.append(f"the leaf {case['leaf']!r}")
    if damage in VALUE_DAMAGES and not re.search(
        rf"(?<![\w.]){info['position']}(?![\w.])", message
    ):
        gaps.append(f"the first bad position {info['position']}")
    if damage == "chunk-bit-flip" and "checksum" not in message.lower():
        gaps.append("a checksum")
    if damage == "chunk-truncated":
        figures = [int(a or b) for a, b in re.findall(r"(\d+) bytes|found (\d+)", message)]
        limit = info["file_size"]  # no figure larger than the undamaged file
        if info["cut"] not in figures or any(f > limit for f in figures):
            gaps.append(f"the byte figures ({info['cut']} bytes found, at most {limit} expected)")
    return gaps


def judge(case: dict[str, str], facts: dict[str, Any]) -> tuple[str, list[str]]:
    """``(category, complaints)``; category is detected, exact, wrong, bad-error or crashed."""
    if "crash" in facts:
        return "crashed", [facts["crash"]]
    complaints: list[str] = []
    wrong = False
    exact = False
    for op in ("load", "take_all", "take_few", "rows_bare"):
        got = facts[op]
        some = op in ("take_few", "rows_bare")  # (a few rows: the damage may lie elsewhere)
        if got["kind"] == "data":
            if not got["equal"]:
                wrong = True
                complaints.append(f"{op} returned silently wrong data")
            elif case["damage"] == "chunk-bit-flip" and not some:
                complaints.append(f"{op} did not catch the flipped bit (exact data)")
            elif not some:
                exact = True
            continue
        if not got["format_error"]:
            complaints.append(f"{op} raised {got['type']}: {got['message'][:300]}")
            continue
        gaps = _message_gaps(case, facts, got["message"])
        if gaps:
            complaints.append(f"{op}'s message lacks {', '.join(gaps)}: {got['message'][:300]}")
    checked = facts["validate"]
    if checked["kind"] == "error":
        complaints.append(f"validate raised {checked['type']}: {checked['message'][:300]}")
    elif not checked["problems"]:
        complaints.append("validate found no problem")
    elif all(_message_gaps(case, facts, p) for p in checked["problems"]):
        gaps = _message_gaps(case, facts, checked["problems"][0])
        complaints.append(f"no validate problem says {', '.join(gaps)}: {checked['problems'][:3]}")
    cli = facts["cli"]
    if cli["code"] != 1 or case["leaf"] not in cli["output"]:
        complaints.append(f"`grumpy-arrow validate` gave {cli['code']!r}: {cli['output'][:300]}")
    if wrong:
        return "wrong", complaints
    if complaints:
        return "bad-error", complaints
    return ("exact" if exact else "detected"), complaints


# -- tests --------------------------------------------------------------------------------


def test_pristine_stores_hold_every_leaf_role(matrix: Matrix) -> None:
    for key, leaves in matrix.leaves.items():
        assert leaves == sorted(CORRUPT_STORES[key.split("-")[1]]), key
        for leaf in leaves:  # several shard files: a file damage spares the others
            shards = os.listdir(Path(matrix.pristine[key], leaf, "c"))
            assert len(shards) >= 2 and "0" in shards and "1" in shards, (key, leaf, shards)
    assert set(CORRUPT_LEAVES.values()) == {
        "values",
        "validity",
        "offsets",
        "data",
        "type_ids",
        "value_offsets",
    }


@pytest.mark.parametrize("case", PARAMS)
def test_damage_is_reported_or_harmless(case: dict[str, str], matrix: Matrix) -> None:
    facts = matrix.facts[case_id(case)]
    category, complaints = judge(case, facts)
    assert category in ("detected", "exact"), (
        f"{category}: {case_id(case)} ({facts.get('damage')}):\n  " + "\n  ".join(complaints)
    )


def _cli_command() -> list[str]:
    script = Path(sys.executable).parent / "grumpy-arrow"
    return [str(script)] if script.exists() else [sys.executable, "-m", "grumpy_arrow"]


def _representative(case: dict[str, str]) -> bool:
    """A value damage, a missing chunk and a bit flip (compressor none): the command's
    wiring and exit status (every case runs ``cli.main`` in the matrix's child)."""
    first = {}
    for c in CASES:
        if c["compressor"] == "none":
            first.setdefault(c["damage"], case_id(c))
    picked = ("offsets-decreasing", "chunk-missing", "chunk-bit-flip")
    return case_id(case) in [first[d] for d in picked]


@pytest.mark.parametrize(
    "subset",
    [
        pytest.param("representative", id="three-cases"),
        pytest.param("all", id="every-case", marks=pytest.mark.slow),
    ],
)
def test_validate_command_exits_1_naming_the_leaf(subset: str, matrix: Matrix) -> None:
    """The installed ``grumpy-arrow validate`` on the damaged copies (run concurrently)."""
    cases = [c for c in matrix.cases if subset == "all" or _representative(c)]
    cases = [c for c in cases if "path" in matrix.facts.get(case_id(c), {})]
    assert cases
    failures = []
    for start in range(0, len(cases), 8):
        batch = cases[start : start + 8]
        procs = [
            subprocess.Popen(
                [*_cli_command(), "validate", matrix.facts[case_id(c)]["path"]],
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
            )
            for c in batch
        ]
        for case, proc in zip(batch, procs, strict=True):
            try:
                out, _ = proc.communicate(timeout=120)
            except subprocess.TimeoutExpired:
                proc.kill()
                out, _ = proc.communicate()
                failures.append(f"{case_id(case)}: hung")
                continue
            if proc.returncode != 1 or case["leaf"] not in out or "Traceback" in out:
                failures.append(f"{case_id(case)}: exit {proc.returncode}: {out[-300:]}")
    assert failures == [], "\n".join(failures)


@pytest.mark.parametrize(
    "run",
    [
        pytest.param("default", id="default-run"),
        pytest.param("slow", id="slow-run", marks=pytest.mark.slow),
    ],
)
def test_corruption_summary(run: str, matrix: Matrix, request: pytest.FixtureRequest) -> None:
    """Counts per category (printed on the terminal): every case detected or exact."""
    counts: Counter[str] = Counter()
    by_damage: dict[str, Counter[str]] = {}
    for case in matrix.cases:
        category, _ = judge(case, matrix.facts[case_id(case)])
        counts[category] += 1
        by_damage.setdefault(f"{case['compressor']}/{case['damage']}", Counter())[category] += 1
    order = ("detected", "exact", "wrong", "bad-error", "crashed")
    lines = [
        f"corruption matrix ({run} run): {len(matrix.cases)} cases: "
        + ", ".join(f"{counts[c]} {c}" for c in order)
    ]
    for key, c in sorted(by_damage.items()):
        lines.append(f"  {key:40s} " + " ".join(f"{k}={c[k]}" for k in order if c[k]))
    report(request.config, "\n".join(lines))
    assert counts["detected"] + counts["exact"] == len(matrix.cases), dict(counts)
