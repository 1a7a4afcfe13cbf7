#!/usr/bin/env bash
# The project's whole check: lint, format, types, the import layers, the docs site, then the
# test suite (doctests included).
set -euo pipefail
cd "$(dirname "$0")/.."
ruff check grumpy_arrow tests benchmarks
ruff format --check grumpy_arrow tests benchmarks
mypy
# The layers of docs/architecture.md: nothing imports upward (pyproject.toml's contract).
lint-imports --no-cache > /dev/null || lint-imports --no-cache
# The documentation site builds without a warning (broken links, anchors, docstrings), into a
# temporary directory so no site/ is left behind; its log is shown only when it fails. Not
# --quiet: that drops the warnings before --strict counts them. NO_MKDOCS_2_WARNING silences
# a banner.
site_dir="$(mktemp -d)"
trap 'rm -rf "$site_dir"' EXIT
if ! docs_log="$(NO_MKDOCS_2_WARNING=1 mkdocs build --strict --site-dir "$site_dir" 2>&1)"; then
  printf '%s\n' "$docs_log" >&2
  exit 1
fi
# The benchmark scripts must keep working: every suite's tiny smoke run, in sequence
# (timings are meaningless here); the log is shown only when a suite crashes.
if ! bench_log="$(python benchmarks/run_all.py --smoke 2>&1)"; then
  printf '%s\n' "$bench_log" >&2
  exit 1
fi
pytest -q "$@"
