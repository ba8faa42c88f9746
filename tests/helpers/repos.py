"""Real git repositories in tmp_path with a known identity, and the files tests put in them."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

# Tests commit in throwaway repositories; they must not depend on the machine's git config.
# conftest.py puts these into the environment for the whole session.
GIT_ENV = {
    "GIT_AUTHOR_NAME": "gitresearch tests",
    "GIT_AUTHOR_EMAIL": "tests@gitresearch.invalid",
    "GIT_COMMITTER_NAME": "gitresearch tests",
    "GIT_COMMITTER_EMAIL": "tests@gitresearch.invalid",
    "GIT_CONFIG_NOSYSTEM": "1",
}

TRAIN_PY = '''\
"""A tiny training script in the autoresearch shape."""
import math

# --- hyperparameters -----------------------------------------------------------
LEARNING_RATE = 3e-4  # tuned by hand
BETAS = (0.9, 0.95)
WARMUP_STEPS = 100
USE_BIAS = True
STEPS = 1000


def configure_optimizer(params, weight_decay=0.1):
    decay = weight_decay * 2
    return dict(lr=LEARNING_RATE, betas=BETAS, weight_decay=decay, eps=1e-8)


def schedule(step):
    if step < WARMUP_STEPS:
        return step / WARMUP_STEPS
    return 0.5 * (1 + math.cos(math.pi * step / STEPS))


class GPT:
    def __init__(self, n_layer=4):
        self.n_layer = n_layer

    def forward(self, x):
        h = x * 2
        return h[:, -1]


def evaluate(model):
    return 1.0


if __name__ == "__main__":
    print("---")
    print(f"val_loss: {evaluate(None):.4f}")
'''

PREPARE_PY = '''\
"""Fixed: data and evaluation."""
DATA = "data.txt"
'''

BOUNDARIES = """\
[objective]
command = "python train.py"
metric = "val_loss"

[[allow]]
path = "train.py"
regions = ["LEARNING_RATE", "BETAS", "WARMUP_STEPS", "configure_optimizer", "GPT.forward"]

[[allow]]
path = "notes.md"

[protect]
paths = ["prepare.py"]
"""


@dataclass
class GitRepo:
    root: Path

    def git(self, *args: str, input: str | None = None) -> str:
        done = subprocess.run(
            ["git", *args], cwd=self.root, check=True, capture_output=True, text=True, input=input
        )
        return done.stdout

    def write(self, rel: str, text: str) -> Path:
        path = self.root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        return path

    def read(self, rel: str) -> str:
        return (self.root / rel).read_text(encoding="utf-8")

    def commit(self, message: str = "commit") -> str:
        self.git("add", "-A")
        self.git("commit", "-q", "--allow-empty", "-m", message)
        return self.git("rev-parse", "HEAD").strip()

    def diff_of(self, rel: str, new_text: str) -> str:
        """The `git diff` of replacing `rel` with `new_text`, leaving the checkout as it was."""
        old = self.read(rel)
        self.write(rel, new_text)
        try:
            return self.git("diff", "--", rel)
        finally:
            self.write(rel, old)

    def gitresearch(self, *args: str, input: str | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "gitresearch", *args],
            cwd=self.root,
            capture_output=True,
            text=True,
            input=input,
            timeout=120,
        )


def make_repo(root: Path, files: dict[str, str]) -> GitRepo:
    root.mkdir(parents=True, exist_ok=True)
    repo = GitRepo(root)
    repo.git("init", "-q", "-b", "main")
    for rel, text in files.items():
        repo.write(rel, text)
    repo.commit("initial")
    return repo


def snapshot(repo: GitRepo) -> dict[str, str]:
    """HEAD, the index file's bytes, and every file outside .git, byte for byte."""
    state = {
        "HEAD": (repo.root / ".git" / "HEAD").read_text(),
        "head-sha": repo.git("rev-parse", "HEAD"),
        "index": hashlib.sha256((repo.root / ".git" / "index").read_bytes()).hexdigest(),
    }
    for dirpath, dirnames, filenames in os.walk(repo.root):
        dirnames[:] = [d for d in dirnames if d != ".git"]
        for name in filenames:
            path = Path(dirpath) / name
            state[str(path.relative_to(repo.root))] = hashlib.sha256(path.read_bytes()).hexdigest()
    return state
