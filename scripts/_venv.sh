# Sourced by demo.sh and test.sh: create .venv if missing, make sure PyTorch is there, then
# install gitresearch with the extras named in $EXTRAS.
# TORCH_SPEC chooses the PyTorch build when none is installed (default torch==2.13.0, the CPU
# build CI uses; any build works for the demo).
PYTHON="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
    echo "==> creating .venv with $($PYTHON --version)" >&2
    "$PYTHON" -m venv .venv
fi
echo "==> installing gitresearch[$EXTRAS]" >&2
pip_install() { .venv/bin/python -m pip install --quiet --disable-pip-version-check "$@"; }
pip_install --upgrade pip
if ! .venv/bin/python -c "import torch" 2>/dev/null; then
    pip_install "${TORCH_SPEC:-torch==2.13.0}"
fi
pip_install -e ".[$EXTRAS]"
