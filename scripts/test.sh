#!/usr/bin/env bash
# The whole test suite from a fresh clone: creates .venv, installs gitresearch with its
# test extras (and the CPU build of PyTorch for the demo's smoke test), then runs ruff,
# mypy --strict, the import-linter contracts and pytest.
# Usage: bash scripts/test.sh [extra pytest arguments]
set -euo pipefail
cd "$(dirname "$0")/.."
EXTRAS=test
source scripts/_venv.sh

echo "==> ruff" >&2
.venv/bin/ruff check gitresearch tests bench
.venv/bin/ruff format --check --quiet gitresearch tests bench
echo "==> mypy --strict" >&2
.venv/bin/mypy
echo "==> import-linter" >&2
.venv/bin/lint-imports
echo "==> pytest" >&2
.venv/bin/python -m pytest "$@"
