"""`gitresearch start` end to end on small real benchmarks: noisy, pure noise, crashing, killed."""

from __future__ import annotations

import json
import signal
from pathlib import Path

import pytest

from gitresearch.notes import CandidateNote, ExperimentNote
from tests.helpers.repos import make_repo, snapshot
from tests.helpers.runs import (
    CONFIG,
    QUADRATIC,
    bench_repo,
    ledger_of,
    slow_repo,
    start_in_background,
    wait_for_experiments,
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
    note = ExperimentNote.from_json(json.loads(repo.git("notes", "--ref", "gitresearch", "show", best)))
    assert note is not None and note.status == "accepted"
    base_runs = [m.metrics["loss"] for m in ledger.measurements("night", 0) if m.status == "ok"]
    # (against the base, as said: the last step alone may be small when two slots interleave)
    assert note.mean is not None and sum(base_runs) / len(base_runs) - note.mean > 0.1
    assert {m.purpose for m in note.measurements} == {"measure", "confirm"}
    # candidates: one commit per accepted change, on top of the base, with evidence in notes
    base = repo.git("rev-parse", "gitresearch/night/base").strip()
    cands = repo.git("rev-list", "--reverse", f"{base}..gitresearch/night/candidates").split()
    notes = [
        CandidateNote.from_json(json.loads(repo.git("notes", "--ref", "gitresearch", "show", c)))
        for c in cands
    ]
    members = [n.members for n in notes if n is not None]
    # every accepted change is in exactly one candidate; a line search on one constant is one candidate
    assert sorted(n for group in members for n in group) == [e.number for e in accepted]
    first = notes[0]
    assert first is not None and first.rank == 1 and first.values
    contributions = [n.contribution for n in notes if n is not None]
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
    # every change diverges (any other LR alone would leave the trip to the proposals' order)
    crash = 'assert (LR, MOMENTUM, WIDTH, USE_NORM) == (0.01, 0.5, 8, False), "boom: diverged"'
    bench = QUADRATIC.replace('print("---")', crash + '\nprint("---")')
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
    wait_for_experiments(repo, "k", 4)
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
    wait_for_experiments(repo, "c", 3)
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
        target = row.decision.reapplied_as
        if target is not None:
            assert rows[target].parent != row.parent
            assert "re-applied" in row.decision.reason
            assert rows[target].decision.reapplied_from == row.number


@pytest.mark.parametrize("option", [["--time", "soon"], ["--gpus", "x"], ["--experiments", "0"]])
def test_bad_options_are_usage_errors(tmp_path: Path, option: list[str]) -> None:
    repo = bench_repo(tmp_path / "r")
    done = repo.gitresearch("start", *option)
    assert done.returncode == 2 and "Traceback" not in done.stderr


def test_status_is_live_while_a_run_goes(tmp_path: Path) -> None:
    repo = slow_repo(tmp_path / "r", experiments=40)
    proc = start_in_background(repo, "live", tmp_path / "live")
    try:
        wait_for_experiments(repo, "live", 2)
        first = json.loads(repo.gitresearch("status", "--json").stdout)
        wait_for_experiments(repo, "live", sum(first["experiments"].values()) + 2)
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
