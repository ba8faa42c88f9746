#!/usr/bin/env bash
# The bundled demo from a fresh clone: creates .venv, installs gitresearch with the demo
# extras (PyTorch), then searches the tiny GPT in bench/nanogpt for improvements and prints
# the ranked report. About ten minutes on two CPU cores; a GPU is used when present.
# With --ray ADDRESS the jobs go to a Ray cluster: Ray is installed, and with `--ray auto`
# and no cluster running, a one-machine cluster is started (stop it: .venv/bin/ray stop).
# Usage: bash scripts/demo.sh [extra `gitresearch start` options, e.g. --experiments 10]
set -euo pipefail
cd "$(dirname "$0")/.."
EXTRAS=demo
RAY=""
prev=""
for arg in "$@"; do
    if [ "$prev" = "--ray" ]; then RAY="$arg"; fi
    prev="$arg"
done
if [ -n "$RAY" ]; then EXTRAS=demo,ray; fi
source scripts/_venv.sh

# The benchmark runs `python`: make it this environment's, with PyTorch.
export PATH="$PWD/.venv/bin:$PATH"
if [ "$RAY" = "auto" ] && ! ray status >/dev/null 2>&1; then
    echo "==> starting a one-machine Ray cluster (stop it with: .venv/bin/ray stop)" >&2
    ray start --head --num-cpus 2 --disable-usage-stats >/dev/null
fi
gitresearch check >/dev/null
echo "==> gitresearch start (the report follows; progress on this terminal)" >&2
gitresearch start --name "demo-$(date +%Y%m%d-%H%M%S)" "$@"
