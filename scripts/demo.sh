#!/usr/bin/env bash
# The bundled demo from a fresh clone: creates .venv, installs gitresearch with the demo
# extras (PyTorch), then searches the tiny GPT in bench/nanogpt for improvements and prints
# the ranked report. About ten minutes on two CPU cores; a GPU is used when present.
# Usage: bash scripts/demo.sh [extra `gitresearch start` options, e.g. --experiments 10]
set -euo pipefail
cd "$(dirname "$0")/.."
EXTRAS=demo
source scripts/_venv.sh

# The benchmark runs `python`: make it this environment's, with PyTorch.
export PATH="$PWD/.venv/bin:$PATH"
gitresearch check >/dev/null
echo "==> gitresearch start (the report follows; progress on this terminal)" >&2
gitresearch start --name "demo-$(date +%Y%m%d-%H%M%S)" "$@"
