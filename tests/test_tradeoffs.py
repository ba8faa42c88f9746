"""`[objective] tradeoffs`: the report shows the experiments no other beats on every metric
(the Pareto front of the objective and the trade-offs), and plots it."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

from gitresearch.runview import ExperimentSummary, RunSummary
from tests.helpers.repos import make_repo

BENCH = """\
import os, random
LR = 0.01      # best near 0.1
WIDTH = 8      # wider: lower loss, higher cost
rng = random.Random(int(os.environ["GITRESEARCH_SEED"]))
loss = (LR - 0.1) ** 2 * 100 + 8.0 / WIDTH + rng.gauss(0, 0.01)
print(f"loss: {loss:.6f}")
print(f"cost: {WIDTH * (1 + rng.gauss(0, 0.001)):.4f}")
"""

CONFIG = """\
[objective]
command = "python bench.py"
metric = "loss"
timeout = "30s"
tradeoffs = { cost = "minimize" }

[search]
proposer = "sweep"
baseline_runs = 3

[budget]
experiments = 10
gpus = "none"
jobs = 2

[[allow]]
path = "bench.py"
regions = ["LR", "WIDTH"]
"""


def exp(number: int, loss: float, cost: float, status: str = "discarded") -> ExperimentSummary:
    return ExperimentSummary(
        number=number, status=status, mean=loss, spread=None, delta_parent=None, delta_base=None,  # type: ignore[arg-type]
        runs=1, seconds=0.0, proposer="sweep", hypothesis=f"#{number}", reason="", commit=None,
        parent=None, finished=0.0, recorded={"cost": cost},
    )  # fmt: skip


def test_the_front_keeps_what_nothing_beats_on_every_metric() -> None:
    d = RunSummary(
        run="r", status="finalized", metric="loss", direction="minimize", base="b", base_mean=2.0,
        base_spread=None, base_runs=3, best=None, best_mean=None, best_experiment=None, started=0.0,
        tradeoffs=[("cost", "minimize")], base_recorded={"cost": 8.0},
    )  # fmt: skip
    d.experiments = [
        exp(1, 1.0, 16.0),  # better loss, higher cost: on the front
        exp(2, 1.5, 16.0),  # dominated by #1
        exp(3, 3.0, 4.0),  # worse loss, cheaper: on the front
        exp(4, 2.0, 8.0),  # equal to the base: neither dominates, both stay
        exp(5, 2.5, 9.0),  # dominated by the base
    ]
    assert d.front() == [0, 1, 3, 4]
    maximize = RunSummary(**{**d.__dict__, "tradeoffs": [("cost", "maximize")]})
    assert maximize.front() == [1]  # lowest loss and highest cost at once


def test_the_report_shows_and_plots_the_front(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "r", {"bench.py": BENCH, "boundaries.toml": CONFIG})
    done = repo.gitresearch("start", "--name", "t", "--no-finalize")
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(repo.gitresearch("report", "t", "--format", "json").stdout)
    front = report["pareto_front"]
    assert report["tradeoffs"] == [["cost", "minimize"]] and front
    points = {
        e["number"]: (e["mean"], e["recorded"]["cost"])
        for e in report["experiments"]
        if e["mean"] is not None
    }
    for n in front:  # nothing in the run beats a front member on both
        if n:
            loss, cost = points[n]
            assert not any(
                (lo <= loss and co <= cost) and (lo < loss or co < cost) for lo, co in points.values()
            )
    marked = {e["number"] for e in report["experiments"] if e["on_front"]}
    assert marked == set(front) - {0}  # the review marks them (◆ by the status)
    from gitresearch.tui.leaderboard import COLUMNS

    status = next(c for c in COLUMNS if c.key == "status")
    assert status.cell(exp(1, 1.0, 2.0)) == "discarded"
    assert status.cell(replace(exp(1, 1.0, 2.0), on_front=True)) == "discarded ◆"
    md = repo.gitresearch("report", "t").stdout
    assert "## Trade-offs: the Pareto front" in md and "| exp | status | loss | cost | hypothesis |" in md
    done = repo.gitresearch("report", "t", "--plot", str(tmp_path / "p.png"))
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "p-front.png").stat().st_size > 1000
