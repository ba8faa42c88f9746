#!/usr/bin/env bash
# Print every harness figure the redesign must keep: validate speed, harness overhead,
# search efficiency, the LLM pipeline and the review at scale. Output goes to stdout and
# to bench/results/<commit>.txt, so two commits can be compared line by line.
# Usage: bash bench/record.sh [label]   (run from a checkout with .venv set up)
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PY:-.venv/bin/python}"
label="${1:-$(git rev-parse --short HEAD)}"
out="bench/results/$label.txt"
mkdir -p bench/results
{
    echo "# bench/record.sh at $label, $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores"
    for cmd in \
        "bench/harness/validate_speed.py" \
        "bench/harness/overhead.py --n 40 --files 10000" \
        "bench/harness/efficiency.py --experiments 30 --seeds 3" \
        "bench/harness/propose_latency.py" \
        "bench/harness/startup.py" \
        "bench/harness/pipeline.py" \
        "bench/harness/tui_scale.py --n 10000"; do
        echo
        echo "## python $cmd"
        # shellcheck disable=SC2086
        "$PY" $cmd 2>/dev/null
    done
} | tee "$out"
echo "wrote $out" >&2
