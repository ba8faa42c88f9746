"""Do the slots wait for the LLM? A slow model against a slow benchmark on two slots.

A local Chat Completions server (gitresearch.testing.fakellm) answers every request after
`--think` seconds (2 s) with a new, valid proposal; the benchmark sleeps `--bench` seconds
(3 s) and prints a metric. `gitresearch start --proposer llm` runs on two CPU slots with no
confirmation runs, so every benchmark run needs a fresh proposal: one every 1.5 s, faster
than one request can answer. Printed: the fraction of the whole command's wall time the
slots were busy running benchmarks, and how many requests were in flight at once.
Target (issue 6): 90% or more.
Run: `python bench/harness/pipeline.py [--experiments 30] [--think 2] [--bench 3]`.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from gitresearch.notes import BaseNote
from gitresearch.testing.fakellm import FakeLLM, Step, proposal

BENCH = """\
import math, os, time
LR = 0.01  # best near 0.1
time.sleep({bench})
seed = int(os.environ["GITRESEARCH_SEED"])
print("---")
print(f"loss: {{(math.log10(LR) + 1) ** 2 + 0.001 * (seed % 7):.6f}}")
"""

CONFIG = """\
[objective]
command = "{python} bench.py"
metric = "loss"
timeout = "1m"

[search]
proposer = "llm"
baseline_runs = 2
confirm_runs = 0

[budget]
experiments = {experiments}
gpus = "none"
jobs = 2

[[allow]]
path = "bench.py"
regions = ["LR"]

[agent]
model = "bench-model"
base_url = "{url}"
"""


def git(root: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=root, check=True, capture_output=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--experiments", type=int, default=30)
    parser.add_argument("--think", type=float, default=2.0, help="seconds the fake model takes per reply")
    parser.add_argument("--bench", type=float, default=3.0, help="seconds one benchmark run takes")
    args = parser.parse_args()
    rng = random.Random(0)
    lock = threading.Lock()
    concurrent = {"now": 0, "max": 0}

    def think(request: Mapping[str, Any]) -> Step:
        del request
        with lock:
            concurrent["now"] += 1
            concurrent["max"] = max(concurrent["max"], concurrent["now"])
            value = 10 ** rng.uniform(-3, 0)
        time.sleep(args.think)
        with lock:
            concurrent["now"] -= 1
        return Step(proposal(f"Set LR to {value:.4g}", [("bench.py", "LR", f"LR = {value:.4g}")]))

    with tempfile.TemporaryDirectory() as tmp, FakeLLM(fallback=think, models=["bench-model"]) as server:
        repo = Path(tmp) / "repo"
        repo.mkdir()
        (repo / "bench.py").write_text(BENCH.format(bench=args.bench))
        (repo / "boundaries.toml").write_text(
            CONFIG.format(python=sys.executable, experiments=args.experiments, url=server.url)
        )
        git(repo, "init", "-q")
        git(repo, "add", "-A")
        git(repo, "-c", "user.name=bench", "-c", "user.email=bench@invalid", "commit", "-qm", "bench")
        env = {k: v for k, v in os.environ.items() if k not in ("OPENAI_API_KEY", "OPENAI_BASE_URL")}
        start = time.time()
        done = subprocess.run(
            [sys.executable, "-m", "gitresearch", "start", "--name", "pipeline", "--no-finalize"],
            cwd=repo,
            capture_output=True,
            text=True,
            env=env,
        )
        wall = time.time() - start
        if done.returncode != 0:
            print(done.stderr[-3000:])
            raise SystemExit(f"gitresearch start failed with exit {done.returncode}")
        ledger = sqlite3.connect(repo / ".git" / "gitresearch" / "ledger.sqlite")
        busy, runs = ledger.execute("SELECT SUM(seconds), COUNT(*) FROM measurements").fetchone()
        experiments = ledger.execute(
            "SELECT COUNT(*) FROM experiments WHERE commit_sha IS NOT NULL"
        ).fetchone()[0]
        note = json.loads(
            subprocess.run(
                ["git", "notes", "--ref=gitresearch", "show", "gitresearch/pipeline/base"],
                cwd=repo,
                capture_output=True,
                text=True,
                check=True,
            ).stdout
        )
        usage = BaseNote.from_json(note).by_run["pipeline"].llm
    slots = 2
    print(
        f"model {args.think:g} s per reply, benchmark {args.bench:g} s, {slots} slots, no confirmation runs"
    )
    print(f"experiments: {experiments}, benchmark runs: {runs}, LLM requests: {usage.get('requests')}")
    print(f"requests in flight at once: up to {concurrent['max']}")
    print(
        f"slots busy: {busy / (wall * slots):.1%} ({busy:.1f} s of benchmark time on {slots} slots over the "
        f"whole command, {wall:.1f} s, Python start-up and the server check included)"
    )


if __name__ == "__main__":
    main()
