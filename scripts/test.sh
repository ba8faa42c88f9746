#!/usr/bin/env bash
# The whole test suite from a fresh clone: creates .venv, installs gitresearch with its
# test extras (and the CPU build of PyTorch for the demo's smoke test), then runs ruff,
# mypy --strict, the import-linter contracts and pytest. The sandbox tests need bubblewrap:
# as root (CI) it is installed with apt-get when missing; a normal user installs it once
# (sudo apt-get install bubblewrap). Without it those tests fail; they never skip.
# The aider test needs aider in .venv-aider (installed here when missing, about a minute).
# Usage: bash scripts/test.sh [extra pytest arguments]
set -euo pipefail
cd "$(dirname "$0")/.."
EXTRAS=test
source scripts/_venv.sh

if ! command -v bwrap >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        echo "==> installing bubblewrap (the OS sandbox every benchmark runs in)" >&2
        apt-get update -qq >/dev/null && apt-get install -y -qq bubblewrap >/dev/null
    else
        echo "warning: bubblewrap (bwrap) is missing, so the sandbox tests will fail:" >&2
        echo "         sudo apt-get install bubblewrap" >&2
    fi
fi

# aider, a real open-source coding agent, drives the command-agent test against the local
# Chat Completions test server; in a virtual environment of its own (its pins clash with ours).
if [ ! -x .venv-aider/bin/aider ]; then
    echo "==> installing aider into .venv-aider (for tests/test_command_agent.py)" >&2
    "${PYTHON:-python3}" -m venv .venv-aider
    .venv-aider/bin/python -m pip install --quiet --disable-pip-version-check aider-chat
fi

echo "==> ruff" >&2
.venv/bin/ruff check gitresearch tests bench
.venv/bin/ruff format --check --quiet gitresearch tests bench
echo "==> mypy --strict" >&2
.venv/bin/mypy
echo "==> import-linter" >&2
.venv/bin/lint-imports
echo "==> pytest" >&2
.venv/bin/python -m pytest "$@"
