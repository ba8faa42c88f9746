"""Small real benchmarks for `gitresearch start`, and ways to watch a run from outside."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from gitresearch.ledger import Ledger
from gitresearch.rebuild import sync_from_git
from gitresearch.store import Store
from tests.helpers.repos import GitRepo, make_repo

QUADRATIC = """\
import math, os, random
# --- knobs ---
LR = 0.01        # best near 0.1
MOMENTUM = 0.5   # best near 0.9
WIDTH = 8        # best near 32
USE_NORM = False # True helps
seed = int(os.environ["GITRESEARCH_SEED"])
rng = random.Random(seed)
loss = ((math.log10(LR) + 1) ** 2 + 0.3 * (math.log(1 - MOMENTUM) - math.log(0.1)) ** 2
        + 0.1 * (math.log2(WIDTH) - 5) ** 2 + (0 if USE_NORM else 0.5))
loss += rng.gauss(0, NOISE)
print("---")
print(f"loss: {loss:.6f}")
print(f"seconds: {0.01 * seed}")
"""

CONFIG = """\
[objective]
command = "python bench.py"
metric = "loss"
timeout = "30s"
record = ["seconds"]

[search]
baseline_runs = 3
confirm_runs = 2

[budget]
experiments = {experiments}
gpus = "none"
jobs = {jobs}
max_consecutive_failures = 3

[[allow]]
path = "bench.py"
regions = ["LR", "MOMENTUM", "WIDTH", "USE_NORM"]
"""


def bench_repo(
    root: Path, *, noise: float = 0.02, experiments: int = 20, jobs: int = 2, bench: str = QUADRATIC
) -> GitRepo:
    config = CONFIG.format(experiments=experiments, jobs=jobs)
    if noise == 0.0:  # the same value on every seed: a benchmark deterministic on purpose
        config = config.replace(
            'record = ["seconds"]', 'record = ["seconds"]\ndeterministic = true\nmin_improvement = 0.001'
        )
    return make_repo(root, {"bench.py": bench.replace("NOISE", repr(noise)), "boundaries.toml": config})


def ledger_of(repo: GitRepo) -> Ledger:
    store = Store(repo.root)
    ledger = Ledger(store.ledger_path)
    sync_from_git(store, ledger)
    return ledger


def slow_repo(root: Path, experiments: int, pause: float = 0.3) -> GitRepo:
    slow = QUADRATIC.replace('print("---")', f'import time; time.sleep({pause})\nprint("---")')
    return bench_repo(root, experiments=experiments, bench=slow)


def start_in_background(repo: GitRepo, name: str, out: Path) -> subprocess.Popen[str]:
    """`gitresearch start` as a separate process; its output goes to files, never to a pipe nobody reads."""
    return subprocess.Popen(
        [sys.executable, "-m", "gitresearch", "start", "--name", name],
        cwd=repo.root,
        stdout=open(out.with_suffix(".out"), "w"),
        stderr=open(out.with_suffix(".err"), "w"),
        text=True,
    )


def experiment_branches(repo: GitRepo, run: str) -> int:
    """How many experiments a run has committed so far, read from git alone (safe while it runs)."""
    refs = repo.git("for-each-ref", "--format=%(refname:short)", f"refs/heads/gitresearch/{run}/")
    return sum(ref.rsplit("/", 1)[-1].isdigit() for ref in refs.split())


def wait_for_experiments(repo: GitRepo, run: str, n: int, timeout: float = 90.0) -> int:
    """Block until the run has committed at least `n` experiments (instead of sleeping a guess)."""
    deadline = time.monotonic() + timeout
    while (have := experiment_branches(repo, run)) < n:
        if time.monotonic() > deadline:
            raise AssertionError(f"run {run} committed {have} of {n} experiments in {timeout:.0f} s")
        time.sleep(0.1)
    return have
