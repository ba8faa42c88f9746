"""How fast the command line answers: `gitresearch --help`, `--version` and `check` (targets:
under 0.5 s and 1 s), and what `import gitresearch.cli.main` costs.

Usage: python bench/harness/startup.py [--repeat 5]   (from the repository root; `check`
runs on this repository's boundaries.toml, the bundled demo)
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def timed(args: list[str], repeat: int) -> tuple[float, float]:
    """Median and worst wall time of `python -m gitresearch ARGS`, in seconds."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "gitresearch", *args], cwd=ROOT, capture_output=True, check=False
        )
        times.append(time.perf_counter() - start)
    return statistics.median(times), max(times)


def import_cost(module: str) -> float:
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", f"import {module}"],
        capture_output=True,
        text=True,
        check=True,
    )
    last = [line for line in done.stderr.splitlines() if line.rstrip().endswith(f"| {module}")]
    return int(last[-1].split("|")[1]) / 1e6 if last else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    print(f"python {sys.version.split()[0]}; median and worst of {args.repeat} runs, wall time")
    for label, argv, target in (
        ("gitresearch --help", ["--help"], 0.5),
        ("gitresearch --version", ["--version"], 0.5),
        ("gitresearch check", ["check"], 1.0),
        ("gitresearch start --help", ["start", "--help"], None),
    ):
        median, worst = timed(argv, args.repeat)
        verdict = "" if target is None else ("  ok" if median < target else f"  OVER the {target} s target")
        print(f"{label:<26} {median:6.3f} s  (worst {worst:.3f} s){verdict}")
    for module in ("gitresearch.cli.main", "gitresearch.cli.inspect", "gitresearch.cli.runs"):
        print(f"import {module:<24} {import_cost(module):6.3f} s (cumulative, -X importtime)")


if __name__ == "__main__":
    main()
