"""The demo on whatever accelerator is here: one timed benchmark run, then a short search.

Prints the device, the seconds of one demo run, and for a short `gitresearch start` on a
copy of the demo: experiments per hour and the fraction of the wall time the slots were
busy running benchmarks (the rest is the harness, proposing, and waiting at the end).
Issue 5 asks for these figures on a GPU machine; on a CPU-only machine it measures the CPU.
Run: `python bench/harness/demo_throughput.py [--experiments 16] [--time 3m]`.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def sh(
    *args: str, cwd: Path, env: dict[str, str] | None = None, show_progress: bool = False
) -> subprocess.CompletedProcess[str]:
    """Run a command; with `show_progress` its stderr (the live progress) passes through."""
    return subprocess.run(
        list(args),
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=None if show_progress else subprocess.PIPE,
        text=True,
        check=False,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--experiments", type=int, default=16)
    parser.add_argument("--time", default="3m", help="wall-clock budget of the search")
    parser.add_argument("--jobs-per-gpu", type=int, default=1)
    args = parser.parse_args()
    env = dict(os.environ)
    # The demo's command runs `python`: make it this interpreter (the one with PyTorch).
    env["PATH"] = os.path.dirname(sys.executable) + os.pathsep + env.get("PATH", "")
    try:
        import torch

        device = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "CPU only"
    except ImportError:
        device = "no torch"
    print(f"device: {device}")
    with tempfile.TemporaryDirectory() as tmp:
        repo = Path(tmp) / "demo"
        shutil.copytree(
            ROOT / "bench" / "nanogpt",
            repo / "bench" / "nanogpt",
            ignore=shutil.ignore_patterns("__pycache__", "out"),
        )
        config = (ROOT / "boundaries.toml").read_text()
        config = re.sub(r"(?m)^jobs = .*$", f"jobs = 2\njobs_per_gpu = {args.jobs_per_gpu}", config)
        (repo / "boundaries.toml").write_text(config)
        for step in (
            ["init", "-q"],
            ["add", "-A"],
            ["-c", "user.name=demo", "-c", "user.email=demo@invalid", "commit", "-qm", "demo"],
        ):
            sh("git", *step, cwd=repo)
        env_one = {**env, "GITRESEARCH_OUTPUT": str(Path(tmp) / "out")}
        start = time.perf_counter()
        one = sh(sys.executable, "bench/nanogpt/train.py", cwd=repo, env=env_one)
        single = time.perf_counter() - start
        start = time.perf_counter()
        scored = sh(sys.executable, "bench/nanogpt/prepare.py", "score", cwd=repo, env=env_one)
        scoring = time.perf_counter() - start
        loss = re.search(r"val_loss: (\S+)", scored.stdout)
        print(
            f"one demo run: {single:.1f} s wall training (exit {one.returncode}) + {scoring:.1f} s "
            f"the scorer (val_loss {loss.group(1) if loss else '?'}, exit {scored.returncode})"
        )
        start = time.perf_counter()
        done = sh(
            sys.executable,
            "-m",
            "gitresearch",
            "start",
            "--name",
            "throughput",
            "--experiments",
            str(args.experiments),
            "--time",
            args.time,
            cwd=repo,
            env=env,
            show_progress=True,
        )
        wall = time.perf_counter() - start
        print(f"search: exit {done.returncode}, {wall:.0f} s wall", flush=True)
        ledger = sqlite3.connect(repo / ".git" / "gitresearch" / "ledger.sqlite")
        busy = ledger.execute("SELECT COALESCE(SUM(seconds), 0), COUNT(*) FROM measurements").fetchone()
        experiments = ledger.execute(
            "SELECT COUNT(*) FROM experiments WHERE commit_sha IS NOT NULL"
        ).fetchone()[0]
        accepted = ledger.execute("SELECT COUNT(*) FROM experiments WHERE status = 'accepted'").fetchone()[0]
        slot_names = [
            row[0] for row in ledger.execute("SELECT DISTINCT slot FROM measurements ORDER BY slot")
        ]
        n_slots = max(1, len(slot_names))
        print(f"slots: {', '.join(str(name) for name in slot_names)}")
        print(f"experiments: {experiments} ({accepted} accepted), benchmark runs: {busy[1]}")
        print(f"experiments per hour: {experiments / wall * 3600:.0f}")
        print(
            f"slot busy fraction: {busy[0] / (wall * n_slots):.2f} ({busy[0]:.0f} s of benchmark time over "
            f"{n_slots} slot(s) x {wall:.0f} s)"
        )
        tail = [
            line for line in done.stdout.splitlines() if line.startswith(("Best:", "Experiments:", "| 1 |"))
        ]
        print("\n".join(tail))
        if done.returncode != 0:
            for log in sorted((repo / ".git" / "gitresearch" / "logs").rglob("*.log"))[:1]:
                print(f"--- {log.name}\n" + log.read_text()[-2000:])


if __name__ == "__main__":
    main()
