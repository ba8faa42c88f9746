"""How often does a run accept a change that does nothing? The real loop on pure noise.

Runs `gitresearch start` `--runs` times on a benchmark whose metric is fresh Gaussian noise
(it ignores the knobs and the seed), with the settings of issue 4's test: 40 experiments,
3 base runs, the default confirmation (at most 3 fresh seeds, one at a time), two slots. Every accept is a false accept. Prints the
false accepts per run and the fraction of runs with at least one, with a 95% interval;
`--seeded` makes the noise a function of the seed instead (the paired-seed case); `--mixed`
makes 80% of its variance the seed's, shared by every commit on that seed, and the rest each
run's own (where the paired test decides: the paired test's home ground). `--wide` gives the
benchmark 12 knobs instead of 4: the sweep then uses its Gaussian process on whole
suggestions, and holds gate passes so that only the best is confirmed (docs/deciding.md).
Run: `python bench/harness/false_accepts.py [--runs 40] [--experiments 40] [--seeded | --mixed] [--wide]`.
"""

from __future__ import annotations

import argparse
import math
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BENCH = """\
import os, random
LR = 0.01
MOMENTUM = 0.5
WIDTH = 8
USE_NORM = False
{wide}rng = random.Random(int(os.environ["GITRESEARCH_SEED"]) * 7919 + {salt})
own = random.SystemRandom()
print(f"loss: {{{value}:.6f}}")
"""
FRESH = "own.gauss(0, 1)"  # nothing from the seed
SEEDED = "rng.gauss(0, 1)"  # all from the seed
MIXED = "0.894 * rng.gauss(0, 1) + 0.447 * own.gauss(0, 1)"  # 80% of the variance the seed's

CONFIG = """\
[objective]
command = "{python} bench.py"
metric = "loss"
timeout = "30s"

[search]
proposer = "sweep"
baseline_runs = {baseline}
seed = {seed}

[budget]
experiments = {experiments}
gpus = "none"
jobs = 2

[[allow]]
path = "bench.py"
regions = ["LR", "MOMENTUM", "WIDTH", "USE_NORM"{wide}]
"""
WIDE = [f"K{i}" for i in range(8)]  # 8 more knobs: 12, beyond the sweep's screening


def git(root: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=root, check=True, capture_output=True)


def wilson(k: int, n: int) -> tuple[float, float]:
    if n == 0:
        return 0.0, 1.0
    z = 1.96
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--runs", type=int, default=40)
    parser.add_argument("--experiments", type=int, default=40)
    parser.add_argument("--baseline", type=int, default=3)
    kinds = parser.add_mutually_exclusive_group()
    kinds.add_argument("--seeded", action="store_true", help="noise as a function of the seed")
    kinds.add_argument("--mixed", action="store_true", help="80%% of the noise the seed's, 20%% each run's")
    parser.add_argument("--wide", action="store_true", help="12 knobs: the sweep's GP, gate passes held")
    args = parser.parse_args()
    accepts: list[int] = []
    start = time.time()
    for i in range(args.runs):
        with tempfile.TemporaryDirectory() as tmp:
            repo = Path(tmp)
            value = SEEDED if args.seeded else MIXED if args.mixed else FRESH
            extra = "".join(f"{k} = {0.1 * (j + 1)}\n" for j, k in enumerate(WIDE)) if args.wide else ""
            bench = BENCH.format(salt=i, value=value, wide=extra)
            (repo / "bench.py").write_text(bench)
            (repo / "boundaries.toml").write_text(
                CONFIG.format(
                    python=sys.executable,
                    baseline=args.baseline,
                    seed=i,
                    experiments=args.experiments,
                    wide="".join(f', "{k}"' for k in WIDE) if args.wide else "",
                )
            )
            git(repo, "init", "-q")
            git(repo, "add", "-A")
            git(repo, "-c", "user.name=bench", "-c", "user.email=bench@invalid", "commit", "-qm", "noise")
            done = subprocess.run(
                [sys.executable, "-m", "gitresearch", "start", "--name", "noise", "--no-finalize"],
                cwd=repo,
                capture_output=True,
                text=True,
            )
            if done.returncode != 0:
                print(done.stderr[-2000:])
                raise SystemExit(f"run {i} failed with exit {done.returncode}")
            db = sqlite3.connect(repo / ".git" / "gitresearch" / "ledger.sqlite")
            n = db.execute("SELECT COUNT(*) FROM experiments WHERE status='accepted'").fetchone()[0]
            gates = db.execute(
                "SELECT COUNT(*) FROM experiments WHERE decision LIKE '%\"gate\"%'"
            ).fetchone()[0]
            paired = db.execute(
                "SELECT COUNT(*) FROM experiments WHERE decision LIKE '%paired on%'"
            ).fetchone()[0]
            confirmed = db.execute(
                "SELECT COUNT(DISTINCT number) FROM measurements WHERE purpose='confirm'"
            ).fetchone()[0]
            db.close()
            accepts.append(int(n))
            print(
                f"run {i + 1}/{args.runs}: {n} false accept(s), {gates} passed the gate, "
                f"{confirmed} confirmed, {paired} judged by the paired test at last",
                flush=True,
            )
    runs_with = sum(1 for a in accepts if a)
    lo, hi = wilson(runs_with, len(accepts))
    kind = "seeded" if args.seeded else "mixed (80% the seed's)" if args.mixed else "fresh"
    kind += ", 12 knobs (GP, held gate passes)" if args.wide else ""
    print(
        f"{kind} noise, {args.experiments} experiments, {args.baseline} base runs, at most 3 fresh seeds per confirmation: "
        f"{sum(accepts)} false accept(s) in {len(accepts)} runs; runs with one: {runs_with / len(accepts):.1%} "
        f"(95% interval {lo:.1%} to {hi:.1%}); {time.time() - start:.0f} s"
    )


if __name__ == "__main__":
    main()
