#!/usr/bin/env bash
# The bundled demo from a fresh clone: creates .venv, installs gitresearch with the demo
# extras (PyTorch), then searches the tiny GPT in bench/nanogpt for improvements and prints
# the ranked report. About ten minutes on two CPU cores; a GPU is used when present.
# Usage: bash scripts/demo.sh [extra `gitresearch start` options, e.g. --experiments 10]
# TORCH_SPEC chooses the PyTorch build to install when none is there (default torch==2.13.0).
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
    echo "==> creating .venv with $($PYTHON --version)" >&2
    "$PYTHON" -m venv .venv
fi
echo "==> installing gitresearch[demo]" >&2
.venv/bin/python -m pip install --quiet --disable-pip-version-check --upgrade pip
if ! .venv/bin/python -c "import torch" 2>/dev/null; then
    .venv/bin/python -m pip install --quiet --disable-pip-version-check "${TORCH_SPEC:-torch==2.13.0}"
fi
.venv/bin/python -m pip install --quiet --disable-pip-version-check -e '.[demo]'

# The benchmark runs `python`: make it this environment's, with PyTorch.
export PATH="$PWD/.venv/bin:$PATH"
gitresearch check >/dev/null
echo "==> gitresearch start (the report follows; progress on this terminal)" >&2
gitresearch start --name "demo-$(date +%Y%m%d-%H%M%S)" "$@"
