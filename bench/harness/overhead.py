"""The harness's own time per experiment, with a benchmark that returns at once.

For each experiment, through the loop's own `Recorder`: commit a one-line change with
plumbing and write its first note (`commit`; before 2026-11 this phase left the note out,
which the loop always wrote), hand the job to the local executor, which resets the slot's worktree, launches the benchmark and parses
its metric (`job`, of which the benchmark process itself is `process`), then record the
measurement and decision in the ledger and the JSON note in git (`record`). Printed for a
small repository (bare, then with every job in the OS sandbox, and the sandbox's cost per
job, then with a protected scorer and its cost per job) and for a generated one of 10,000
files.
Target (issue 3): under 50 ms median per experiment on the small repository.
Run: `python bench/harness/overhead.py [--n 40] [--files 10000]`.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import tempfile
import time
from dataclasses import replace
from pathlib import Path

from gitresearch.boundaries.config import parse_config
from gitresearch.execute.base import Job, Slot, Succeeded
from gitresearch.execute.local import LocalExecutor, PoolSettings
from gitresearch.execute.sandbox import probe
from gitresearch.ledger import Ledger
from gitresearch.notes import ExperimentNote
from gitresearch.record import Recorder
from gitresearch.store import Store

CONFIG = """
[objective]
command = "echo 'score: 1.0'"
metric = "score"

[[allow]]
path = "src/params.py"

[protect]
paths = ["src/eval.py"]
"""


def git(root: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=root, check=True, capture_output=True)


def make_repo(root: Path, files: int) -> None:
    root.mkdir(parents=True)
    (root / "src").mkdir()
    (root / "src" / "params.py").write_text("LR = 0.001\n")
    (root / "src" / "eval.py").write_text("def score():\n    return 1.0\n")
    (root / "boundaries.toml").write_text(CONFIG)
    for i in range(files):
        folder = root / "data" / f"d{i // 100:03d}"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"f{i:05d}.txt").write_text(f"file {i}\n")
    git(root, "init", "-q")
    git(root, "add", "-A")
    git(root, "-c", "user.name=bench", "-c", "user.email=bench@invalid", "commit", "-qm", "init")


def measure(
    root: Path, n: int, sandboxed: bool = False, run: str = "bench", scored: bool = False
) -> dict[str, list[float]]:
    text = (
        CONFIG.replace('metric = "score"', 'metric = "score"\nscore = "echo \'score: 1.0\'"')
        if scored
        else CONFIG
    )
    config = parse_config(text, root / "boundaries.toml")
    store = Store(root)
    ledger = Ledger(store.ledger_path)
    base = store.head()
    store.create_run(run, base)
    recorder = Recorder(store, ledger, run)
    recorder.begin(base, time.time(), {"metric": "score"})
    executor = LocalExecutor(
        store,
        config,
        [Slot(0, "cpu0", None)],
        PoolSettings(store.state_dir, root, ("src/eval.py", "boundaries.toml"), sandboxed=sandboxed),
    )
    phases: dict[str, list[float]] = {k: [] for k in ("commit", "job", "process", "record", "total")}
    parent = base
    for i in range(1, n + 2):
        t0 = time.perf_counter()
        recorder.proposed(i, parent=parent, proposer="bench", hypothesis=f"LR {i}", rationale="", patch="{}")
        exp = store.commit_experiment(
            run, i, parent, {"src/params.py": f"LR = {0.001 * i:.4f}\n".encode()}, f"LR {i}", "", "bench"
        )
        note = ExperimentNote(
            run=run, experiment=i, parent=parent, proposer="bench", status="committed", metric="score"
        )
        recorder.committed(note, exp.sha)
        t1 = time.perf_counter()
        job = Job(run, i, exp.sha, 0)
        recorder.started(job, executor.submit(job))
        (result,) = executor.wait_any(timeout=60)
        t2 = time.perf_counter()
        assert isinstance(result, Succeeded), result
        measurement = recorder.finished(result)
        assert measurement is not None
        recorder.changed(replace(note, status="measured", measurements=[measurement]), exp.sha, "measured")
        t3 = time.perf_counter()
        if i == 1:
            continue  # the first job also creates the worktree
        phases["commit"].append(t1 - t0)
        phases["job"].append(t2 - t1)
        phases["process"].append(result.seconds)
        phases["record"].append(t3 - t2)
        phases["total"].append(t3 - t0)
    executor.close()
    return phases


def report(label: str, phases: dict[str, list[float]]) -> None:
    med = {k: statistics.median(v) * 1000 for k, v in phases.items()}
    harness = [(t - p) * 1000 for t, p in zip(phases["total"], phases["process"], strict=True)]
    print(f"{label}: median per experiment over {len(phases['total'])} experiments")
    print(
        f"  commit {med['commit']:.1f} ms | job {med['job']:.1f} ms (benchmark process {med['process']:.1f} ms) "
        f"| record {med['record']:.1f} ms"
    )
    print(
        f"  total {med['total']:.1f} ms; harness's own time (total minus the process) "
        f"{statistics.median(harness):.1f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--n", type=int, default=40, help="experiments per repository")
    parser.add_argument("--files", type=int, default=10_000, help="files in the large repository")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        small = Path(tmp) / "small"
        make_repo(small, 10)
        bare = measure(small, args.n)
        report("small repo (13 files)", bare)
        status = probe()
        if status.works:
            boxed = measure(small, args.n, sandboxed=True, run="boxed")
            report(f"small repo, every job in the sandbox ({status.tool})", boxed)
            cost = 1000 * (statistics.median(boxed["job"]) - statistics.median(bare["job"]))
            print(f"  sandbox cost per job: {cost:+.1f} ms (target: under 15 ms)")
            scored = measure(small, args.n, sandboxed=True, run="scored", scored=True)
            report("small repo, sandboxed, with a protected scorer ([objective] score)", scored)
            extra = 1000 * (statistics.median(scored["job"]) - statistics.median(boxed["job"]))
            print(f"  the scorer's cost per job (its checkout, sandbox and process): {extra:+.1f} ms")
        else:
            print(f"sandbox: {status.describe()}; its cost is not measured")
        large = Path(tmp) / "large"
        start = time.perf_counter()
        make_repo(large, args.files)
        print(f"(generated {args.files} files in {time.perf_counter() - start:.1f} s)")
        report(f"large repo ({args.files + 3} files)", measure(large, args.n))
    print("target: < 50 ms median harness time on the small repo")


if __name__ == "__main__":
    main()
