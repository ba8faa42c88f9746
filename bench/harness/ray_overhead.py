"""What a job costs on the Ray executor beyond the local one, with an instant benchmark.

Starts a local Ray cluster of two nodes (two raylets, `--cpus` each), makes a repository
whose benchmark prints its metric at once, and runs the same jobs through the local
executor and through the Ray executor: one at a time (the added latency per job, the
figure the target is about: under 100 ms) and `--jobs` at a time on both nodes (jobs per
second). The sandbox follows the machine (bubblewrap when it works), as in a run.
Run: `python bench/harness/ray_overhead.py [--jobs 200] [--cpus 1]`.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from ray.cluster_utils import Cluster

from gitresearch.cli.workspace import make_executor, open_workspace
from gitresearch.execute.base import Executor, Job, RunResult

BENCH = "import os\nprint(f\"loss: {1.0 + int(os.environ['GITRESEARCH_SEED']) * 1e-6}\")\n"
CONFIG = """\
[objective]
command = "{python} bench.py"
metric = "loss"

[budget]
gpus = "none"
jobs = {jobs}
executor = "{executor}"

[cluster]
address = "{address}"
cpus_per_job = 1
cache = "{cache}"

[[allow]]
path = "bench.py"
"""


def repo(root: Path, executor: str, address: str, jobs: int) -> Path:
    root.mkdir(parents=True)
    (root / "bench.py").write_text(BENCH)
    (root / "boundaries.toml").write_text(
        CONFIG.format(
            python=sys.executable, jobs=jobs, executor=executor, address=address, cache=root.parent / "cache"
        )
    )
    ident = ["-c", "user.name=bench", "-c", "user.email=bench@invalid"]
    for step in (["init", "-q"], ["add", "-A"], [*ident, "commit", "-qm", "bench"]):
        subprocess.run(["git", *step], cwd=root, check=True, capture_output=True)
    return root


def one_at_a_time(executor: Executor, base: str, n: int) -> list[float]:
    seconds = []
    for seed in range(n):
        started = time.perf_counter()
        executor.submit(Job("bench", 0, base, seed, "baseline"))
        results: list[RunResult] = []
        while not results:
            results = executor.wait_any(timeout=30)
        assert results[0].ok, results[0]
        seconds.append(time.perf_counter() - started)
    return seconds


def all_at_once(executor: Executor, base: str, n: int) -> float:
    started = time.perf_counter()
    queue = list(range(n))
    done = 0
    while done < n:
        while queue and executor.free_slots() > 0:
            executor.submit(Job("bench", 0, base, 1000 + queue.pop(0), "baseline"))
        for result in executor.wait_any(timeout=30):
            assert result.ok, result
            done += 1
    return n / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--jobs", type=int, default=200)
    parser.add_argument("--cpus", type=int, default=1, help="CPUs of each of the two nodes")
    args = parser.parse_args()
    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": args.cpus}, connect=False)
    cluster.add_node(num_cpus=args.cpus)
    cluster.wait_for_nodes()
    slots = 2 * args.cpus
    try:
        with tempfile.TemporaryDirectory() as tmp:
            figures = {}
            for kind in ("local", "ray"):
                root = repo(Path(tmp) / kind, kind, cluster.address, slots)
                ws = open_workspace(root, None)
                executor = make_executor(ws, lambda line: None)
                base = ws.store.head()
                one_at_a_time(executor, base, 5)  # warm: the node's clone, imports, the worktree
                single = one_at_a_time(executor, base, args.jobs)
                rate = all_at_once(executor, base, args.jobs)
                executor.close()
                figures[kind] = (statistics.median(single), statistics.mean(single), rate)
                print(
                    f"{kind:<5} one job at a time: median {figures[kind][0] * 1000:.0f} ms, "
                    f"mean {figures[kind][1] * 1000:.0f} ms; {slots} at a time: {rate:.1f} jobs/s",
                    flush=True,
                )
            added = figures["ray"][0] - figures["local"][0]
            print(
                f"added by Ray per job: {added * 1000:.0f} ms (median; target under 100 ms); "
                f"{args.jobs} instant jobs on two nodes: {figures['ray'][2]:.1f} jobs/s"
            )
    finally:
        import ray

        ray.shutdown()  # this process joined as a driver (make_executor): leave before the nodes go
        cluster.shutdown()  # type: ignore[no-untyped-call]


if __name__ == "__main__":
    main()
