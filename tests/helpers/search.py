"""The search loop in-process: a real repository, store, ledger and validator, with a
scripted executor (the metric is a function of the commit's constants and the seed) and,
where a test needs exact proposals, a scripted proposer."""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gitresearch.boundaries.validator import Violation
from gitresearch.cli.workspace import Overrides, Workspace, open_workspace
from gitresearch.execute.base import Curve, Job
from gitresearch.loop import Search
from gitresearch.propose.base import Context, Outcome, Proposal, Proposer
from gitresearch.propose.choose import make_proposer
from gitresearch.store import Store
from gitresearch.testing.fakeexec import Crash, ScriptedExecutor
from tests.helpers.repos import GitRepo, make_repo

KNOBS = """\
# the learning rate
LR = 0.01

# the momentum
MOMENTUM = 0.5

# the width
WIDTH = 8
print("loss: 1.0")
"""

CONFIG = """\
[objective]
command = "python bench.py"
metric = "loss"
min_improvement = {min_improvement}

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
regions = ["LR", "MOMENTUM", "WIDTH"]
"""


def knob_repo(
    root: Path,
    *,
    experiments: int = 10,
    jobs: int = 1,
    min_improvement: float = 0.0,
    deterministic: bool = False,
) -> GitRepo:
    toml = CONFIG.format(experiments=experiments, jobs=jobs, min_improvement=min_improvement)
    if deterministic:
        toml = toml.replace("[search]", "deterministic = true\n\n[search]")
    return make_repo(root, {"bench.py": KNOBS, "boundaries.toml": toml})


def constants(store: Store, commit: str) -> dict[str, float]:
    text = (store.source(commit).read_bytes("bench.py") or b"").decode()
    return {name: float(value) for name, value in re.findall(r"^(\w+) = ([-+.\deE]+)", text, re.M)}


def quadratic(store: Store, noise: float = 0.02) -> Callable[[Job], float | Crash]:
    """Best at LR 0.1, MOMENTUM 0.9; WIDTH does nothing. Noise is a function of the seed."""

    def score(job: Job) -> float:
        k = constants(store, job.commit)
        loss = (k["LR"] - 0.1) ** 2 * 100 + (k["MOMENTUM"] - 0.9) ** 2 * 10
        return loss + random.Random(job.seed).gauss(0, noise)

    return score


@dataclass
class Harness:
    ws: Workspace
    executor: ScriptedExecutor
    events: list[str] = field(default_factory=list)

    def search(self, run: str, proposer: Proposer | None = None) -> Search:
        chosen = proposer or make_proposer(
            self.ws.config, self.ws.boundaries, self.ws.store.source(self.ws.store.head()), self.events.append
        )
        return Search(
            store=self.ws.store,
            ledger=self.ws.ledger,
            boundaries=self.ws.boundaries,
            executor=self.executor,
            proposer=chosen,
            run=run,
            config=self.ws.config,
            on_event=self.events.append,
        )


def harness(
    repo: GitRepo,
    score: Callable[[Store], Callable[[Job], Any]],
    *,
    slots: int = 1,
    seconds: float | Callable[[Job], float] = 0.0,
    curve: Callable[[Store], Callable[[Job], Curve]] | None = None,
) -> Harness:
    ws = open_workspace(repo.root, None, Overrides())
    executor = ScriptedExecutor(
        score(ws.store),
        ws.store.state_dir / "fake-logs",
        slots=slots,
        seconds=seconds,
        curve=curve(ws.store) if curve is not None else None,
    )
    return Harness(ws, executor)


class ScriptedProposer:
    """Proposes the given constant settings in order, each against the current incumbent."""

    name = "scripted"
    stopped = ""

    def __init__(self, settings: Sequence[Mapping[str, str]], defers: bool = False) -> None:
        self.defers_confirmation = defers  # whole settings: a gate pass may be held
        self.todo = list(settings)
        self.outcomes: list[Outcome] = []

    def propose(self, ctx: Context) -> Proposal | None:
        if not self.todo:
            return None
        return self._build(self.todo.pop(0), ctx)

    def _build(self, setting: Mapping[str, str], ctx: Context) -> Proposal:
        text = (ctx.source.read_bytes("bench.py") or b"").decode()
        for name, value in setting.items():
            text = re.sub(rf"^{name} = .*$", f"{name} = {value}", text, flags=re.M)
        what = " and ".join(f"{k} to {v}" for k, v in setting.items())
        return Proposal(
            "scripted", f"Set {what}", "scripted", ctx.parent, files={"bench.py": text}, meta=dict(setting)
        )

    def rebase(self, proposal: Proposal, ctx: Context) -> Proposal | None:
        return self._build({k: str(v) for k, v in proposal.meta.items()}, ctx)

    def observe(self, outcome: Outcome) -> None:
        self.outcomes.append(outcome)

    def warm(self, ctx: Context) -> None:
        del ctx

    def duplicate(self, proposal: Proposal, of: int) -> None:
        del proposal, of

    def rejected(self, proposal: Proposal, violations: Sequence[Violation]) -> None:
        del proposal, violations

    def usage(self) -> Mapping[str, Any]:
        return {}

    def restore_usage(self, usage: Mapping[str, Any]) -> None:
        del usage

    def close(self) -> None:
        pass
