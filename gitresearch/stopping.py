"""What a search remembers of early stopping between its looks at the running measurements.

prune.py says whether one curve so far loses clearly enough to stop (pure, one call, no
memory). Between calls a search must also know:

- which report of each run it has judged already (a curve is judged once per new report);
- which runs it is stopping, and why (the reason their cancellation is recorded with);
- how many stops the rule has called against each rival: every AUDIT_EVERY-th is let run
  to its end instead, as a check;
- the runs under such an audit (none of their experiment's runs is stopped meanwhile);
- whose curves an audit showed to be no guide (a curve measured on other data, or forged):
  no run is stopped against them again.

The loop gathers what a run is compared with (its `Rival`) and acts on the answer: it
cancels the runs of a stopped experiment and writes the events and notes. A run resumed
from the ledger rebuilds this memory from the notes (`recall`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

from gitresearch.boundaries.config import Direction
from gitresearch.notes import Points
from gitresearch.prune import Setting, Stop, audit_verdict, should_stop
from gitresearch.stats import improvement

AUDIT_EVERY = 8  # every 8th stop the rule calls against one rival runs to its end instead, as a check


@dataclass(frozen=True)
class Rival:
    """What a running measurement is compared with on its seed: its parent's run, or the best
    gate pass held on the same parent (a run clearly behind it cannot be the one confirmed)."""

    commit: str
    number: int | None  # the held gate pass's experiment number; None: the parent
    curve: Points  # its curve on the run's seed
    reference: Sequence[Points]  # curves that give the noise at each step (two at least)


@dataclass(frozen=True)
class Call:
    """The rule called a stop: carry it out, or (`audit`) let the run finish as a check."""

    stop: Stop
    audit: bool


@dataclass
class EarlyStopping:
    rule: Setting | None  # None: prune = "off"
    direction: Direction
    min_improvement: float = 0.0
    stopping: dict[str, Stop] = field(default_factory=dict)  # job key -> why it is being stopped
    judged_at: dict[str, float] = field(default_factory=dict)  # job key -> the last step judged
    calls: dict[str, int] = field(default_factory=dict)  # rival commit -> stops called against it
    audits: dict[str, Stop] = field(default_factory=dict)  # job key -> the stop it runs on past
    audited: set[int] = field(default_factory=set)  # experiments with a run under audit
    unguided: set[str] = field(default_factory=set)  # commits whose curves are no guide

    def may_stop(self, key: str, number: int) -> bool:
        """Whether the running measurement `key` of experiment `number` may still be stopped."""
        return self.rule is not None and key not in self.stopping and number not in self.audited

    def guided(self, *commits: str) -> bool:
        """Whether the curves of all these commits may be trusted to stop a run."""
        return not self.unguided.intersection(commits)

    def judge(
        self, key: str, number: int, seed: int, curve: Points, rival: Rival, final_noise: Callable[[], float]
    ) -> Call | None:
        """Look at the run `key` (of experiment `number`, on `seed`) once per new report;
        `final_noise`: the seed noise of final values (asked only then)."""
        if self.rule is None or not curve or self.judged_at.get(key) == curve[-1][0]:
            return None  # nothing new since the last look
        self.judged_at[key] = curve[-1][0]
        stop = should_stop(
            curve,
            rival.curve,
            rival.reference,
            seed=seed,
            direction=self.direction,
            rule=self.rule,
            final_noise=final_noise(),
            min_improvement=self.min_improvement,
        )
        if stop is None:
            return None
        if rival.number is not None:
            stop = Stop(replace(stop.evidence, against=rival.number))
        calls = self.calls[rival.commit] = self.calls.get(rival.commit, 0) + 1
        if calls % AUDIT_EVERY == 0:  # let this one finish: was the rule right?
            self.audits[key] = stop
            self.audited.add(number)
            return Call(stop, audit=True)
        return Call(stop, audit=False)

    def stopped(self, key: str, stop: Stop) -> None:
        """The loop is cancelling the run `key` for `stop`."""
        self.stopping[key] = stop

    def ended(self, key: str, number: int) -> tuple[Stop | None, Stop | None]:
        """The run `key` of experiment `number` has ended: the stop it was cancelled for, if
        any, and the stop it ran on past as an audit, if any."""
        self.judged_at.pop(key, None)
        audit = self.audits.pop(key, None)
        if audit is not None:
            self.audited.discard(number)
        return self.stopping.pop(key, None), audit

    def audited_run(self, against: str, behind: float, stop: Stop, clearly: float) -> str | None:
        """An audited run ended `behind` the rival `against` on its seed (positive: worse),
        where the rule had called `stop`; `clearly`: the least final gap beyond noise. None:
        the stop was right; else why `against`'s curves are no guide (none is used again)."""
        then = improvement(self.direction, stop.evidence.value, stop.evidence.parent)  # behind then
        why = audit_verdict(behind, then, clearly)
        if why is not None:
            self.unguided.add(against)
        return why

    def recall(self, against: str, stopped: bool, audit: str | None) -> None:
        """What a resumed run's note says of one experiment: whether it was stopped against
        `against`, and how its audit went ("right", "wrong" or None)."""
        if stopped or audit is not None:
            self.calls[against] = self.calls.get(against, 0) + 1
        if audit == "wrong":
            self.unguided.add(against)
