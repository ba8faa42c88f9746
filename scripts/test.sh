#!/usr/bin/env bash
# The whole test suite from a fresh clone: creates .venv, installs gitresearch with its
# test extras, then runs ruff, mypy --strict, the import-linter contracts and pytest.
# Usage: bash scripts/test.sh [extra pytest arguments]
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
    echo "==> creating .venv with $($PYTHON --version)" >&2
    "$PYTHON" -m venv .venv
fi
echo "==> installing gitresearch[test]" >&2
.venv/bin/python -m pip install --quiet --disable-pip-version-check --upgrade pip
# The demo's smoke test needs PyTorch: the CPU build is pinned here, for CI only.
if ! .venv/bin/python -c "import torch" 2>/dev/null; then
    .venv/bin/python -m pip install --quiet --disable-pip-version-check "torch==2.13.0"
fi
.venv/bin/python -m pip install --quiet --disable-pip-version-check -e '.[test]'

echo "==> ruff" >&2
.venv/bin/ruff check gitresearch tests bench
.venv/bin/ruff format --check --quiet gitresearch tests bench
echo "==> mypy --strict" >&2
.venv/bin/mypy
echo "==> import-linter" >&2
.venv/bin/lint-imports
echo "==> pytest" >&2
.venv/bin/python -m pytest "$@"
