"""`gitresearch start` end to end on small real benchmarks: noisy, pure noise, crashing, killed."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from gitresearch.ledger import Ledger
from gitresearch.rebuild import sync_from_git
from gitresearch.store import Store
from tests.conftest import GitRepo, make_repo
from tests.test_store import snapshot

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
    return make_repo(
        root,
        {
            "bench.py": bench.replace("NOISE", repr(noise)),
            "boundaries.toml": CONFIG.format(experiments=experiments, jobs=jobs),
        },
    )


def ledger_of(repo: GitRepo) -> Ledger:
    store = Store(repo.root)
    ledger = Ledger(store.state_dir / "ledger.sqlite")
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


def test_start_finds_improvements_and_ranks_them(tmp_path: Path) -> None:
    repo = bench_repo(tmp_path / "r")
    repo.write("scratch.txt", "my untracked notes\n")
    before = snapshot(repo)
    done = repo.gitresearch("start", "--name", "night")
    assert done.returncode == 0, done.stderr[-3000:]
    assert snapshot(repo) == before  # the checkout is untouched
    out = done.stdout
    assert "## Ranked candidates" in out and "| 1 | #" in out
    assert "gitresearch pick --top" in out
    assert "base: loss" in done.stderr and "ACCEPTED" in done.stderr
    ledger = ledger_of(repo)
    accepted = [e for e in ledger.experiments("night") if e.status == "accepted"]
    assert len(accepted) >= 2
    # the incumbent is the last accepted change, and it beats the base by far more than the noise
    best = repo.git("rev-parse", "gitresearch/night/best").strip()
    assert best == accepted[-1].commit
    note = json.loads(repo.git("notes", "--ref", "gitresearch", "show", best))
    assert note["status"] == "accepted" and note["decision"]["improvement"] > 0.1
    assert {r["purpose"] for r in note["runs"]} == {"measure", "confirm"}
    # candidates: one commit per accepted change, on top of the base, with evidence in notes
    base = repo.git("rev-parse", "gitresearch/night/base").strip()
    cands = repo.git("rev-list", "--reverse", f"{base}..gitresearch/night/candidates").split()
    members = [json.loads(repo.git("notes", "--ref", "gitresearch", "show", c))["experiments"] for c in cands]
    # every accepted change is in exactly one candidate; a line search on one constant is one candidate
    assert sorted(n for group in members for n in group) == [e.number for e in accepted]
    first = json.loads(repo.git("notes", "--ref", "gitresearch", "show", cands[0]))
    assert first["candidate_rank"] == 1 and "contribution" in first and first["runs"]
    contributions = [
        json.loads(repo.git("notes", "--ref", "gitresearch", "show", c))["contribution"] for c in cands
    ]
    measured = [c for c in contributions if c is not None]
    assert measured == sorted(measured, reverse=True) or len(measured) < len(contributions)
    # the candidates stack has the same code as the incumbent
    assert repo.git("diff", "gitresearch/night/best", "gitresearch/night/candidates") == ""
    # every experiment branch carries the DESIGN trailers
    message = repo.git("log", "-1", "--format=%B", accepted[0].commit or "")
    assert "Gitresearch-Run: night" in message and "Gitresearch-Proposer: sweep" in message


def test_report_status_runs_formats_and_plot(tmp_path: Path) -> None:
    repo = bench_repo(tmp_path / "r", experiments=8)
    assert repo.gitresearch("start", "--name", "a").returncode == 0
    as_json = json.loads(repo.gitresearch("report", "--format", "json").stdout)
    assert as_json["run"] == "a" and as_json["metric"] == "loss" and len(as_json["experiments"]) == 8
    tsv = repo.gitresearch("report", "a", "--format", "tsv").stdout.splitlines()
    assert tsv[0].split("\t")[:4] == ["kind", "rank", "experiment", "status"] and len(tsv) > 8
    plot = tmp_path / "progress.png"
    assert repo.gitresearch("report", "--plot", str(plot)).returncode == 0
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    status = json.loads(repo.gitresearch("status", "--json").stdout)
    assert (
        status["run"] == "a" and status["status"] == "finalized" and sum(status["experiments"].values()) == 8
    )
    runs = repo.gitresearch("runs").stdout
    assert runs.startswith("a ") and "8 experiments" in runs


def test_pure_noise_accepts_nothing(tmp_path: Path) -> None:
    # Pure seed noise, knobs ignored. Seeded, so the verdict is reproducible in CI: the
    # measure runs all share seed 0, and every confirmation gets its own fresh seeds.
    bench = (
        "import os, random\nLR = 0.01\nMOMENTUM = 0.5\nWIDTH = 8\nUSE_NORM = False\n"
        'rng = random.Random(int(os.environ["GITRESEARCH_SEED"]) * 7919 + 17)\n'
        'print(f"loss: {rng.gauss(0, 1):.6f}")\n'
    )
    repo = bench_repo(tmp_path / "r", experiments=40, bench=bench)
    done = repo.gitresearch("start", "--name", "noise")
    assert done.returncode == 0, done.stderr[-2000:]
    statuses = [e.status for e in ledger_of(repo).experiments("noise")]
    assert len(statuses) == 40 and "accepted" not in statuses
    assert repo.git("rev-parse", "gitresearch/noise/best") == repo.git("rev-parse", "gitresearch/noise/base")
    assert "No change beat the base beyond the noise." in done.stdout


def test_crashing_experiments_trip_the_breaker(tmp_path: Path) -> None:
    bench = QUADRATIC.replace('print("---")', 'assert LR == 0.01, "boom: diverged"\nprint("---")')
    repo = bench_repo(tmp_path / "r", experiments=30, jobs=1, bench=bench)
    done = repo.gitresearch("start", "--name", "crashy", "--seed", "3")
    assert done.returncode == 0, done.stderr[-2000:]
    assert "experiments in a row failed; the last error: crash" in done.stderr
    rows = ledger_of(repo).experiments("crashy")
    assert len(rows) < 30 and rows[-1].status == "failed"


def test_a_failing_base_stops_at_once(tmp_path: Path) -> None:
    repo = bench_repo(tmp_path / "r", bench="raise SystemExit('no data found')\nLR = 0.01\n")
    repo.write(
        "boundaries.toml",
        CONFIG.format(experiments=5, jobs=1).replace(
            'regions = ["LR", "MOMENTUM", "WIDTH", "USE_NORM"]', 'regions = ["LR"]'
        ),
    )
    repo.commit("config")
    done = repo.gitresearch("start", "--name", "broken")
    assert done.returncode == 3
    assert "the base itself fails (crash: exited with status 1)" in done.stderr
    assert "Traceback" not in done.stderr


def test_same_seed_same_proposals(tmp_path: Path) -> None:
    hypotheses = []
    for name in ("one", "two"):
        repo = bench_repo(tmp_path / name, noise=0.0, experiments=10, jobs=1)
        assert repo.gitresearch("start", "--name", "s", "--seed", "7", "--no-finalize").returncode == 0
        hypotheses.append([e.hypothesis for e in ledger_of(repo).experiments("s")])
    assert hypotheses[0] == hypotheses[1] and len(hypotheses[0]) == 10


def test_killed_mid_run_then_resumed(tmp_path: Path) -> None:
    repo = slow_repo(tmp_path / "r", experiments=14, pause=0.25)
    proc = start_in_background(repo, "k", tmp_path / "k")
    time.sleep(6.0)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    before = {e.number: e.commit for e in ledger_of(repo).experiments("k") if e.commit}
    assert 0 < len(before) < 14
    done = repo.gitresearch("start", "--resume", "k")
    assert done.returncode == 0, done.stderr[-3000:]
    assert "resumed run k" in done.stderr
    rows = ledger_of(repo).experiments("k")
    committed = [e for e in rows if e.commit]
    assert len(committed) == 14  # the budget counts what ran before the kill
    for number, sha in before.items():  # nothing lost, nothing rewritten
        assert next(e for e in rows if e.number == number).commit == sha
    assert all(
        e.status in ("accepted", "discarded", "failed", "cancelled", "duplicate", "rejected") for e in rows
    )
    numbers = [e.number for e in rows]
    assert len(numbers) == len(set(numbers))


def test_ctrl_c_stops_cleanly_and_reports(tmp_path: Path) -> None:
    repo = slow_repo(tmp_path / "r", experiments=50)
    proc = start_in_background(repo, "c", tmp_path / "c")
    time.sleep(5.0)
    proc.send_signal(signal.SIGINT)
    proc.wait(timeout=60)
    out, err = (tmp_path / "c.out").read_text(), (tmp_path / "c.err").read_text()
    assert proc.returncode == 0, err[-2000:]
    assert "received SIGINT: stopping" in err and "## Every experiment" in out
    ledger = ledger_of(repo)
    run = ledger.run("c")
    assert run is not None and run.status == "finalized"
    assert not [m for m in ledger.measurements("c") if m.status == "running"]


def test_pick_and_prune(tmp_path: Path) -> None:
    repo = bench_repo(tmp_path / "r", experiments=12)
    assert repo.gitresearch("start", "--name", "p").returncode == 0
    head = repo.git("rev-parse", "HEAD").strip()
    repo.write("bench.py", repo.read("bench.py") + "# local edit\n")
    refused = repo.gitresearch("pick", "--top", "1")
    assert refused.returncode == 2 and "uncommitted changes" in refused.stderr
    repo.git("checkout", "bench.py")
    done = repo.gitresearch("pick", "--top", "2")
    assert done.returncode == 0, done.stderr
    assert repo.git("rev-list", "--count", f"{head}..HEAD").strip() == "2"
    assert repo.git("status", "--porcelain") == ""
    discarded = [e.number for e in ledger_of(repo).experiments("p") if e.status == "discarded"]
    assert repo.gitresearch("prune", "p", "--losers").returncode == 0
    branches = repo.git("branch", "--list", "gitresearch/p/*").split()
    assert all(f"gitresearch/p/{n:04d}" not in branches for n in discarded)
    assert "gitresearch/p/candidates" in branches
    assert repo.gitresearch("prune", "p").returncode == 0
    assert repo.git("branch", "--list", "gitresearch/p/*") == ""


def test_start_without_boundaries_points_at_init(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "r", {"train.py": "LR = 1\n"})
    done = repo.gitresearch("start")
    assert done.returncode == 2 and "gitresearch init" in done.stderr and "Traceback" not in done.stderr


def test_reapplied_experiments_point_at_each_other(tmp_path: Path) -> None:
    repo = bench_repo(tmp_path / "r", experiments=20, jobs=2)
    assert repo.gitresearch("start", "--name", "ra", "--no-finalize").returncode == 0
    rows = {e.number: e for e in ledger_of(repo).experiments("ra")}
    for row in rows.values():
        target = (row.decision or {}).get("reapplied_as")
        if target is not None:
            assert rows[target].parent != row.parent
            assert "re-applied" in (row.decision or {}).get("reason", "")


@pytest.mark.parametrize("option", [["--time", "soon"], ["--gpus", "x"], ["--experiments", "0"]])
def test_bad_options_are_usage_errors(tmp_path: Path, option: list[str]) -> None:
    repo = bench_repo(tmp_path / "r")
    done = repo.gitresearch("start", *option)
    assert done.returncode == 2 and "Traceback" not in done.stderr


def test_status_is_live_while_a_run_goes(tmp_path: Path) -> None:
    repo = slow_repo(tmp_path / "r", experiments=40)
    proc = start_in_background(repo, "live", tmp_path / "live")
    try:
        time.sleep(5.0)
        first = json.loads(repo.gitresearch("status", "--json").stdout)
        time.sleep(2.0)
        second = json.loads(repo.gitresearch("status", "--json").stdout)
        assert first["run"] == "live" and first["status"] == "running"
        assert sum(second["experiments"].values()) > sum(first["experiments"].values())
        again = repo.gitresearch("start", "--name", "other")
        assert again.returncode == 2 and "another gitresearch run holds this repository" in again.stderr
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=60)


def test_a_base_that_fails_on_one_seed_stops_the_run(tmp_path: Path) -> None:
    flaky = QUADRATIC.replace('print("---")', 'assert seed != 1, "diverged on seed 1"\nprint("---")')
    repo = bench_repo(tmp_path / "r", experiments=5, bench=flaky)
    done = repo.gitresearch("start", "--name", "flaky")
    assert done.returncode == 3, done.stderr[-2000:]
    assert "the base itself fails (crash: exited with status 1)" in done.stderr
    assert [e for e in ledger_of(repo).experiments("flaky")] == []
