#!/usr/bin/env bash
# The project's whole check: lint, format, types, then the test suite (doctests included).
set -euo pipefail
cd "$(dirname "$0")/.."
ruff check grumpy_arrow tests benchmarks
ruff format --check grumpy_arrow tests benchmarks
mypy
# The benchmark scripts must keep working: a tiny smoke run (timings are meaningless here).
python benchmarks/bench_compute.py --smoke > /dev/null
python benchmarks/bench_frame.py --smoke > /dev/null
python benchmarks/bench_pandas.py --smoke > /dev/null
python benchmarks/bench_storage.py --smoke --no-lance > /dev/null 2>&1
python benchmarks/bench_stream.py --smoke --no-hf > /dev/null 2>&1
python benchmarks/bench_savers.py --smoke > /dev/null 2>&1
pytest -q "$@"
