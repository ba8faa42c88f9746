"""The runner and the local executor against real scripts in real worktrees."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from gitresearch.boundaries.resolve import load_boundaries
from gitresearch.errors import UsageError
from gitresearch.execute.base import Failed, Job, RunResult, Slot, Succeeded
from gitresearch.execute.local import LocalExecutor, PoolSettings
from gitresearch.store import Store
from tests.helpers.repos import GitRepo, make_repo

BENCH = """\
import json, os, sys, time, subprocess, signal
mode = os.environ.get("MODE", "ok")
seed = int(os.environ["GITRESEARCH_SEED"])
if mode == "ok":
    print("training...")
    print(f"score: {1.0 + seed / 10}")
    print("other: 7")
    print("leak: 3")  # not in `record`: never stored
elif mode == "crash":
    print("score: 1.0")
    raise SystemExit("boom: diverged")
elif mode == "nan":
    print("score: nan")
elif mode == "nothing":
    print("done, but no metric")
elif mode == "json":
    with open(os.environ["GITRESEARCH_RESULT"], "w") as f:
        json.dump({"score": 0.25, "seconds": 3, "name": "x"}, f)
elif mode == "badjson":
    with open(os.environ["GITRESEARCH_RESULT"], "w") as f:
        f.write("{oops")
elif mode == "tamper":
    with open("prepare.py", "a") as f:
        f.write("# sneaky\\n")
    print("score: 0.0")
elif mode == "flood":
    chunk = "x" * 1023 + "\\n"
    for _ in range(20 * 1024):
        sys.stdout.write(chunk)
    print("score: 2.5")
elif mode == "hang":
    child = subprocess.Popen([sys.executable, "-c",
        "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(600)"])
    with open(os.environ["PIDFILE"], "w") as f:
        f.write(str(child.pid))
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    time.sleep(600)
elif mode == "env":
    keys = ["GITRESEARCH_SEED", "SEED", "CUDA_VISIBLE_DEVICES", "GITRESEARCH_EXPERIMENT", "GITRESEARCH_RUN",
            "OPENAI_API_KEY", "MY_LLM_KEY", "GIT_DIR", "HARMLESS"]
    with open(os.environ["GITRESEARCH_RESULT"], "w") as f:
        json.dump({"score": 1, "env": {k: os.environ.get(k) for k in keys}, "cwd": os.getcwd()}, f)
    with open(os.environ["ENVFILE"], "w") as f:
        json.dump({k: os.environ.get(k) for k in keys} | {"cwd": os.getcwd(), "data": os.listdir("data")}, f)
elif mode == "leftover":
    existed = os.path.exists("leftover.txt")
    open("leftover.txt", "w").write("x")
    print(f"score: {int(existed)}")
"""

CONFIG = """\
[objective]
command = "python bench.py"
metric = "score"
timeout = "{timeout}"
seed_env = "SEED"
link = ["data"]
record = ["other", "seconds"]

[[allow]]
path = "bench.py"

[protect]
paths = ["prepare.py"]

[agent]
model = "m"
api_key_env = "MY_LLM_KEY"
"""


@pytest.fixture
def bench_repo(tmp_path: Path) -> GitRepo:
    repo = make_repo(
        tmp_path / "repo",
        {
            "bench.py": BENCH,
            "prepare.py": "X = 1\n",
            "boundaries.toml": CONFIG.format(timeout="20s"),
            ".gitignore": "data/\n",
        },
    )
    repo.write("data/train.bin", "0123")
    return repo


class Harness:
    def __init__(self, repo: GitRepo, slots: int = 1, timeout: str = "20s", sandboxed: bool = False) -> None:
        repo.write("boundaries.toml", CONFIG.format(timeout=timeout))
        boundaries = load_boundaries(repo.root / "boundaries.toml", repo.root)
        self.store = Store(repo.root)
        self.head = self.store.head()
        self.sandboxed = sandboxed
        self.executor = LocalExecutor(
            self.store,
            boundaries.config,
            [Slot(i, f"cpu{i}", "") for i in range(slots)],
            PoolSettings(
                self.store.state_dir,
                repo.root,
                ("prepare.py",),
                sandboxed=sandboxed,
                links=boundaries.config.objective.link,  # what `start` expands the globs to
                grace=0.5,
                log_head=4096,
                log_tail=4096,
            ),
        )

    def run(self, mode: str, seed: int = 0, **env: str) -> RunResult:
        self.executor.environ.update({"MODE": mode, **env})
        self.executor.submit(Job("r", 1, self.head, seed))
        results: list[RunResult] = []
        while not results:
            results = self.executor.wait_any(timeout=60)
        return results[0]


@pytest.fixture(params=[False, True], ids=["bare", "sandboxed"])
def harness(bench_repo: GitRepo, request: pytest.FixtureRequest) -> Iterator[Harness]:
    """Every executor test runs bare and inside the OS sandbox (bubblewrap; the test script
    installs it, and a missing one fails these tests rather than skipping them)."""
    h = Harness(bench_repo, sandboxed=request.param)
    h.sandboxed = request.param
    yield h
    h.executor.close()


def test_success_parses_metrics_last_wins(harness: Harness) -> None:
    result = harness.run("ok", seed=3)
    assert isinstance(result, Succeeded), result
    assert result.metrics == {"score": 1.3, "other": 7.0}
    assert "training..." in result.log_path.read_text()


def test_crash(harness: Harness) -> None:
    result = harness.run("crash")
    assert isinstance(result, Failed) and result.reason == "crash"
    assert result.exit_code == 1 and "boom: diverged" in result.log_tail


def test_nan(harness: Harness) -> None:
    result = harness.run("nan")
    assert isinstance(result, Failed) and result.reason == "nan"


def test_no_metric(harness: Harness) -> None:
    result = harness.run("nothing")
    assert isinstance(result, Failed) and result.reason == "no-metric"
    assert "no `score: <number>` line" in result.detail


def test_json_result_file(harness: Harness) -> None:
    result = harness.run("json")
    assert isinstance(result, Succeeded)
    assert result.metrics == {"score": 0.25, "seconds": 3.0}


def test_bad_json_result_file(harness: Harness) -> None:
    result = harness.run("badjson")
    assert isinstance(result, Failed) and result.reason == "no-metric" and "not valid JSON" in result.detail


def test_tampering_with_a_protected_file(harness: Harness, bench_repo: GitRepo) -> None:
    result = harness.run("tamper")
    if harness.sandboxed:  # mounted read-only: the write itself fails
        assert isinstance(result, Failed) and result.reason == "crash" and result.log_path is not None
        assert "Read-only file system" in result.log_path.read_text()
    else:  # bare: detected after the run
        assert isinstance(result, Failed) and result.reason == "tampered"
        assert "prepare.py" in result.detail
    assert bench_repo.read("prepare.py") == "X = 1\n"  # the user's copy is untouched
    assert isinstance(harness.run("ok"), Succeeded)  # the worktree was reset for the next job


def test_flood_is_capped_and_the_metric_still_found(harness: Harness) -> None:
    result = harness.run("flood")
    assert isinstance(result, Succeeded) and result.metrics["score"] == 2.5
    log = result.log_path.read_bytes()
    assert len(log) < 4096 * 2 + 200
    assert b"bytes of output omitted" in log and log.rstrip().endswith(b"score: 2.5")


def test_timeout_kills_the_group_with_a_child_ignoring_sigterm(bench_repo: GitRepo, tmp_path: Path) -> None:
    h = Harness(bench_repo, timeout="2s")
    pidfile = tmp_path / "child.pid"
    start = time.monotonic()
    result = h.run("hang", PIDFILE=str(pidfile))
    assert isinstance(result, Failed) and result.reason == "timeout"
    assert time.monotonic() - start < 15
    child = int(pidfile.read_text())
    deadline = time.monotonic() + 5
    while _alive(child) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(child), "the grandchild that ignored SIGTERM survived"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie is dead for our purpose
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except OSError:
        return False


def test_environment(bench_repo: GitRepo, tmp_path: Path) -> None:
    harness = Harness(bench_repo)
    envfile = tmp_path / "env.json"
    result = harness.run(
        "env",
        seed=4,
        ENVFILE=str(envfile),
        OPENAI_API_KEY="sk-secret",
        MY_LLM_KEY="k2",
        GIT_DIR="/nope",
        HARMLESS="yes",
    )
    assert isinstance(result, Succeeded), result
    seen = json.loads(envfile.read_text())
    assert seen["GITRESEARCH_SEED"] == "4" and seen["SEED"] == "4"
    assert seen["CUDA_VISIBLE_DEVICES"] == ""
    assert seen["GITRESEARCH_EXPERIMENT"] == "r/0001" and seen["GITRESEARCH_RUN"] == "r"
    assert seen["OPENAI_API_KEY"] is None and seen["MY_LLM_KEY"] is None and seen["GIT_DIR"] is None
    assert seen["HARMLESS"] == "yes"
    assert Path(seen["cwd"]) == harness.executor.worktree(harness.executor.slots[0])
    assert seen["data"] == ["train.bin"]  # the linked untracked folder
    assert "sk-secret" not in result.log_path.read_text()


def test_worktree_leftovers_are_removed(harness: Harness) -> None:
    first = harness.run("leftover")
    second = harness.run("leftover")
    assert isinstance(first, Succeeded) and isinstance(second, Succeeded)
    assert second.metrics["score"] == 0.0


def test_parallel_slots_and_cancel(bench_repo: GitRepo, tmp_path: Path) -> None:
    h = Harness(bench_repo, slots=2, timeout="60s")
    try:
        h.executor.environ.update({"MODE": "hang", "PIDFILE": str(tmp_path / "p")})
        a = h.executor.submit(Job("r", 1, h.head, 0))
        b = h.executor.submit(Job("r", 2, h.head, 0))
        assert {a.name, b.name} == {"cpu0", "cpu1"} and h.executor.free_slots() == 0
        with pytest.raises(RuntimeError):
            h.executor.submit(Job("r", 3, h.head, 0))
        time.sleep(0.5)
        assert h.executor.cancel(Job("r", 1, h.head, 0).key)
        assert h.executor.cancel(Job("r", 2, h.head, 0).key)
        results: list[RunResult] = []
        while len(results) < 2:
            results += h.executor.wait_any(timeout=30)
        assert all(isinstance(r, Failed) and r.reason == "cancelled" for r in results)
        assert h.executor.free_slots() == 2
    finally:
        h.executor.close()


def test_setup_failure_is_a_value(harness: Harness) -> None:
    blocker = harness.store.state_dir / "worktrees"
    blocker.parent.mkdir(parents=True, exist_ok=True)
    blocker.write_text("a file where the worktrees folder should be")
    harness.executor.submit(Job("r", 1, harness.head, 0))
    (result,) = harness.executor.wait_any(timeout=60)
    assert isinstance(result, Failed) and result.reason == "setup"
    assert harness.executor.free_slots() == 1


def test_unknown_commit_is_refused_at_submit(harness: Harness) -> None:
    with pytest.raises(UsageError, match="no commit named"):
        harness.executor.submit(Job("r", 1, "0" * 40, 0))
    assert harness.executor.free_slots() == 1
