"""`executor = "ray"` against a real Ray cluster started here: a head and a second node, each
its own raylet with one CPU, so two jobs at a time land on two nodes. `gitresearch start`
runs as a separate process that joins the cluster as a driver, as a user's would."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.helpers.repos import GitRepo, make_repo
from tests.helpers.runs import QUADRATIC, bench_repo, ledger_of, start_in_background, wait_for_experiments

ray = pytest.importorskip("ray", reason="pip install ray (the test extras do)")
from ray.cluster_utils import Cluster  # noqa: E402


@pytest.fixture(scope="module")
def cluster() -> Iterator[Any]:
    c = Cluster(initialize_head=True, head_node_args={"num_cpus": 1}, connect=False)
    c.add_node(num_cpus=1)
    c.wait_for_nodes()
    yield c
    c.shutdown()  # type: ignore[no-untyped-call]


def ray_repo(
    root: Path, address: str, *, experiments: int, bench: str = QUADRATIC, sandbox: str = "auto"
) -> GitRepo:
    repo = bench_repo(root, experiments=experiments, jobs=2, bench=bench)
    config = (
        repo.read("boundaries.toml").replace('gpus = "none"', 'gpus = "none"\nexecutor = "ray"')
        + f'\n[cluster]\naddress = "{address}"\ncpus_per_job = 1\ncache = "{root.parent / "node-cache"}"\n'
    )
    if sandbox != "auto":
        config = config.replace('timeout = "30s"', f'timeout = "30s"\nsandbox = "{sandbox}"')
    repo.write("boundaries.toml", config)
    repo.commit("on the cluster")
    return repo


def nodes_of(repo: GitRepo, run: str) -> Counter[str]:
    rows = [m for e in range(0, 100) for m in ledger_of(repo).measurements(run, e)]
    return Counter((m.slot or "").split("@", 1)[-1] for m in rows if m.status == "ok")


def test_jobs_run_on_both_nodes_and_are_recorded_like_local_ones(cluster: Any, tmp_path: Path) -> None:
    repo = ray_repo(tmp_path / "r", cluster.address, experiments=6)
    check = repo.gitresearch("check")
    assert f"executor:   ray at {cluster.address}: Ray cluster: 2 node(s), 2 CPU(s), 0 GPU(s)" in check.stdout
    done = repo.gitresearch("start", "--name", "night")
    assert done.returncode == 0, done.stderr[-3000:]
    assert "Ray cluster: 2 node(s), 2 CPU(s), 0 GPU(s)" in done.stderr
    assert "slots: 2 Ray job(s) at a time" in done.stderr
    nodes = nodes_of(repo, "night")
    assert len(nodes) == 2, nodes  # both raylets ran jobs
    ledger = ledger_of(repo)
    rows = [m for e in range(0, 10) for m in ledger.measurements("night", e)]
    keys = Counter((m.number, m.purpose, m.seed) for m in rows if m.purpose != "ablation")
    assert all(n == 1 for n in keys.values())  # nothing ran twice
    assert any(e.status == "accepted" for e in ledger.experiments("night"))
    ok = [m for m in rows if m.status == "ok"]
    assert ok and all(m.log_path and Path(m.log_path).read_text().strip() for m in ok)  # logs came back


SLOW = QUADRATIC.replace(
    'print("---")',
    "import time, pathlib\n"
    'pathlib.Path("PIDS", str(os.getpid())).write_text("")\n'
    "time.sleep(4)\n"
    'print("---")',
)  # a job runs in the node's environment, not the driver's: the folder is written in


def test_a_cancelled_run_leaves_no_remote_process(cluster: Any, tmp_path: Path) -> None:
    pids = tmp_path / "pids"
    pids.mkdir()
    repo = ray_repo(
        tmp_path / "r",
        cluster.address,
        experiments=4,
        bench=SLOW.replace('"PIDS"', repr(str(pids))),
        sandbox="off",
    )
    env = dict(os.environ)
    log = tmp_path / "err.txt"
    with open(log, "w") as err:
        proc = subprocess.Popen(
            [sys.executable, "-m", "gitresearch", "start", "--name", "stop", "--no-finalize"],
            cwd=repo.root,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=err,
        )
        deadline = time.monotonic() + 90
        while len(list(pids.iterdir())) < 2 and time.monotonic() < deadline:
            time.sleep(0.2)
        started = [int(p.name) for p in pids.iterdir()]
        assert len(started) >= 2, log.read_text()[-2000:]
        proc.send_signal(signal.SIGINT)  # Ctrl-C: running jobs are cancelled
        proc.wait(timeout=60)
    time.sleep(2)
    alive = [
        pid
        for pid in started
        if Path(f"/proc/{pid}").exists() and "zombie" not in Path(f"/proc/{pid}/status").read_text()
    ]
    assert alive == [], (alive, log.read_text()[-2000:])
    assert "interrupted" in log.read_text() or "stopp" in log.read_text()


def test_an_unreachable_cluster_is_a_clear_error(tmp_path: Path) -> None:
    repo = ray_repo(tmp_path / "r", "127.0.0.1:9", experiments=1)
    done = repo.gitresearch("start", "--name", "x")
    assert done.returncode == 2, done.stderr[-2000:]
    assert 'cannot reach the Ray cluster at "127.0.0.1:9"' in done.stderr and "Traceback" not in done.stderr


def test_a_node_that_dies_mid_job_costs_a_rerun_not_a_result(tmp_path: Path) -> None:
    """Its own cluster (the module's stays whole): the second node is killed while both nodes
    run a job; Ray runs the lost job again on the head, and the run records each job once."""
    c = Cluster(
        initialize_head=True,
        head_node_args={
            "num_cpus": 1,
            "_system_config": {"health_check_period_ms": 500, "health_check_failure_threshold": 2},
        },
        connect=False,
    )
    try:
        worker = c.add_node(num_cpus=1)
        c.wait_for_nodes()
        pids = tmp_path / "pids"
        pids.mkdir()
        repo = ray_repo(
            tmp_path / "r",
            c.address,
            experiments=3,
            bench=SLOW.replace('"PIDS"', repr(str(pids))),
            sandbox="off",
        )
        log = tmp_path / "err.txt"
        with open(log, "w") as err:
            proc = subprocess.Popen(
                [sys.executable, "-m", "gitresearch", "start", "--name", "die", "--no-finalize"],
                cwd=repo.root,
                stdout=subprocess.DEVNULL,
                stderr=err,
            )
            deadline = time.monotonic() + 90
            while len(list(pids.iterdir())) < 2 and time.monotonic() < deadline:
                time.sleep(0.2)
            assert len(list(pids.iterdir())) >= 2, log.read_text()[-2000:]
            c.remove_node(worker, allow_graceful=False)  # both jobs were running: one was on it
            assert proc.wait(timeout=240) == 0, log.read_text()[-3000:]
        ledger = ledger_of(repo)
        rows = [m for e in range(0, 10) for m in ledger.measurements("die", e)]
        keys = Counter((m.number, m.purpose, m.seed) for m in rows)
        assert all(n == 1 for n in keys.values()), keys  # counted once
        assert all(m.status == "ok" for m in rows), [(m.number, m.status, m.detail) for m in rows]
        assert len([e for e in ledger.experiments("die") if e.commit]) == 3
    finally:
        c.shutdown()  # type: ignore[no-untyped-call]


def test_a_killed_start_resumes_on_the_cluster_without_losing_or_doubling(
    cluster: Any, tmp_path: Path
) -> None:
    pause = QUADRATIC.replace('print("---")', 'import time; time.sleep(0.5)\nprint("---")')
    repo = ray_repo(tmp_path / "r", cluster.address, experiments=8, bench=pause)
    proc = start_in_background(repo, "k", tmp_path / "k")
    wait_for_experiments(repo, "k", 3, timeout=120)
    proc.send_signal(signal.SIGKILL)  # the head: the machine running `start`
    proc.wait()
    before = {e.number: e.commit for e in ledger_of(repo).experiments("k") if e.commit}
    assert 0 < len(before) < 8
    done = repo.gitresearch("start", "--resume", "k", "--no-finalize")
    assert done.returncode == 0, done.stderr[-3000:]
    rows = ledger_of(repo).experiments("k")
    assert len([e for e in rows if e.commit]) == 8
    for number, sha in before.items():
        assert next(e for e in rows if e.number == number).commit == sha
    finished = [m for e in range(0, 12) for m in ledger_of(repo).measurements("k", e) if m.status == "ok"]
    keys = Counter((m.number, m.purpose, m.seed) for m in finished)
    assert all(n == 1 for n in keys.values()), keys  # no job recorded twice


def test_a_clear_loser_is_stopped_early_on_the_cluster_too(cluster: Any, tmp_path: Path) -> None:
    """The node posts each running job's curve to the driver, which stops a clear loser as it
    does locally: from the optimum every move of LR loses by far more than the noise."""
    from tests.test_prune import CURVED, CURVED_CONFIG

    config = CURVED_CONFIG.replace('gpus = "none"', 'gpus = "none"\nexecutor = "ray"') + (
        f'\n[cluster]\naddress = "{cluster.address}"\ncpus_per_job = 1\ncache = "{tmp_path / "node-cache"}"\n'
    )
    slow = CURVED.replace("time.sleep(0.15)", "time.sleep(0.6)")  # 6 s: time for the curve to travel
    repo = make_repo(tmp_path / "r", {"bench.py": slow, "boundaries.toml": config})
    done = repo.gitresearch("start", "--name", "cut", "--no-finalize")
    assert done.returncode == 0, done.stderr[-3000:]
    ledger = ledger_of(repo)
    stopped = [e for e in ledger.experiments("cut") if e.decision.pruned is not None]
    assert stopped, [(e.number, e.status, e.decision.reason) for e in ledger.experiments("cut")]
    for e in stopped:
        [m] = [m for m in ledger.measurements("cut", e.number) if m.purpose == "measure"]
        evidence = e.decision.pruned
        assert evidence is not None and 50 <= evidence.step < evidence.last_step == 100
        assert m.status == "pruned" and m.seconds is not None and m.seconds < 5.5
