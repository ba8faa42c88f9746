"""Benchmarks as research code writes them: free-form progress lines, untracked data, crashes.

Each runs end to end through `gitresearch check` and `gitresearch start`, as a new user would.
"""

from __future__ import annotations

from pathlib import Path

from tests.helpers.repos import GitRepo, make_repo
from tests.helpers.runs import ledger_of

# A trainer that prints the way most do: no `name: value` line anywhere.
CHATTY = """\
import math, os, random
LR = 0.01
random.seed(int(os.environ["GITRESEARCH_SEED"]))
data = open("data/shard_0.txt").read().strip()
for step in range(0, 200, 50):
    loss = (math.log10(LR) + 2) ** 2 + 1 / (step + 1) + random.gauss(0, 0.01)
    print(f"step {step}: train loss {loss + 0.1:.4f}, val loss {loss:.4f}", flush=True)
"""

CONFIG = """\
[objective]
command = "python bench.py"
metric = "val_loss"
metric_pattern = 'val loss ([0-9.]+)'
timeout = "30s"
link = ["data/shard_*.txt"]

[search]
baseline_runs = 3
confirm_runs = 1

[budget]
experiments = 4
gpus = "none"
jobs = 2

[[allow]]
path = "bench.py"
regions = ["LR"]
"""


def chatty_repo(tmp_path: Path, config: str = CONFIG, data: bool = True) -> GitRepo:
    repo = make_repo(tmp_path / "r", {"bench.py": CHATTY, "boundaries.toml": config, ".gitignore": "data/\n"})
    if data:
        (repo.root / "data").mkdir()
        (repo.root / "data" / "shard_0.txt").write_text("tokens\n")  # untracked, like a real data set
    return repo


def test_metric_pattern_reads_free_form_output_and_links_expand_globs(tmp_path: Path) -> None:
    repo = chatty_repo(tmp_path)
    check = repo.gitresearch("check")
    assert check.returncode == 0, check.stderr
    assert "linked into each worktree" in check.stdout and "  data/shard_0.txt" in check.stdout
    done = repo.gitresearch("start", "--name", "p")
    assert done.returncode == 0, done.stderr[-3000:]
    ledger = ledger_of(repo)
    base = [m for m in ledger.measurements("p") if m.number == 0]
    assert len(base) == 3 and all(m.status == "ok" for m in base)
    # the last progress line's value: (log10(0.01) + 2)^2 + 1/151 + noise
    assert all(abs(m.metrics["val_loss"] - 1 / 151) < 0.05 for m in base)
    measured = [m for m in ledger.measurements("p") if m.number > 0]
    assert measured and all(m.status == "ok" and "val_loss" in m.metrics for m in measured)


def test_check_log_shows_what_a_run_would_read(tmp_path: Path) -> None:
    repo = chatty_repo(tmp_path)
    log = tmp_path / "out.log"
    log.write_text(
        "loading...\nstep 0: train loss 3.1, val loss 2.9\nstep 50: train loss 2.8, val loss 2.83\ntrain_seconds: 12\n"
    )
    done = repo.gitresearch("check", "--log", str(log))
    assert done.returncode == 0, done.stderr
    assert "val_loss: 2.83 (line 3; the last of 2 value(s)" in done.stdout
    nothing = tmp_path / "empty.log"
    nothing.write_text("epoch 1 done\n")
    missed = repo.gitresearch("check", "--log", str(nothing))
    assert missed.returncode == 1
    assert "found nothing" in missed.stderr and "metric_pattern" in missed.stderr


def test_a_bad_metric_pattern_is_a_clear_error(tmp_path: Path) -> None:
    repo = chatty_repo(tmp_path, CONFIG.replace("'val loss ([0-9.]+)'", "'val (loss) ([0-9.]+)'"))
    done = repo.gitresearch("check")
    assert done.returncode == 2
    assert "exactly one group" in done.stderr and "boundaries.toml:4" in done.stderr
    assert "Traceback" not in done.stderr


def test_a_link_that_names_nothing_is_reported_and_refused_before_anything_runs(tmp_path: Path) -> None:
    repo = chatty_repo(tmp_path, data=False)
    check = repo.gitresearch("check")
    assert check.returncode == 0
    assert 'link "data/shard_*.txt" names nothing' in check.stderr
    done = repo.gitresearch("start", "--name", "p")
    assert done.returncode == 2, done.stderr[-2000:]
    assert 'link "data/shard_*.txt" names nothing' in done.stderr and "boundaries.toml:6" in done.stderr
    assert ledger_of(repo).runs() == []  # nothing was started


def test_a_failing_base_shows_the_end_of_its_log(tmp_path: Path) -> None:
    config = CONFIG.replace('link = ["data/shard_*.txt"]\n', "")
    repo = chatty_repo(tmp_path, config, data=False)  # the benchmark opens data it cannot find
    done = repo.gitresearch("start", "--name", "p")
    assert done.returncode != 0
    assert "the base itself fails" in done.stderr
    assert (
        "FileNotFoundError" in done.stderr and "data/shard_0.txt" in done.stderr
    )  # the traceback, on the console


def test_resume_keeps_the_budget_the_run_started_with(tmp_path: Path) -> None:
    repo = chatty_repo(tmp_path)
    first = repo.gitresearch("start", "--name", "p", "--experiments", "2", "--no-finalize")
    assert first.returncode == 0, first.stderr[-2000:]
    again = repo.gitresearch("start", "--resume", "p")  # the config says 4; the run was started with 2
    assert again.returncode == 0, again.stderr[-2000:]
    assert "resuming p with the run's own budget: 2 experiment(s) (2 done)" in again.stderr
    assert len([e for e in ledger_of(repo).experiments("p") if e.commit]) == 2
    more = repo.gitresearch("start", "--resume", "p", "--experiments", "3")
    assert "resuming p with the run's wall clock budget: 3 experiment(s) (2 done)" in more.stderr
    assert len([e for e in ledger_of(repo).experiments("p") if e.commit]) == 3
