"""The decision rule: what one experiment's measurements mean, as a pure function.

This is promise 3 ("luck never counts as progress") in one place. `decide` takes the
phase an experiment is in, its parent's values, its own values, the seed noise and the
settings, and returns one verdict from a closed set; it reads no clock, no git and no
ledger, so the rule is tested as a before/after table (tests/test_decide.py). The loop
only carries verdicts out: it queues confirmation runs, moves the incumbent, or re-applies
a change onto the newer incumbent.

    measure phase: paired seeds against the parent, one-sided t at 90%  -> Confirm | Discard
    confirm phase: fresh seeds only, one-sided t at 99.9%                -> Accept | Reapply | Discard
    any failed measurement                                               -> Fail

A change must beat both the noise bar and `min_improvement`, strictly. A winner whose
parent is no longer the incumbent is never accepted as it is: it is re-applied onto the
incumbent (a new experiment, measured again), or discarded when the budget leaves no room.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from gitresearch.stats import Direction, Level, Noise, Test, compare

Phase = Literal["measure", "confirm"]

GATE_LEVEL: Level = "90"
CONFIRM_LEVEL: Level = "99.9"


@dataclass(frozen=True, kw_only=True)
class Rule:
    """The settings the rule depends on (from [objective] and [search])."""

    direction: Direction
    min_improvement: float = 0.0
    confirm_runs: int = 2


@dataclass(frozen=True, kw_only=True)
class Evidence:
    """What is known about one experiment when a phase of its measurements is complete."""

    phase: Phase
    parent: Sequence[float]  # the parent's values (the base's, or the parent experiment's)
    measured: Sequence[float] = ()  # its own values on the paired seeds
    confirmed: Sequence[float] = ()  # its own values on fresh seeds
    noise: Noise
    failure: str | None = None  # the first failed measurement, as "reason: detail"
    stale: bool = False  # its parent is no longer the incumbent
    room_to_reapply: bool = True  # the budget allows one more experiment


@dataclass(frozen=True)
class Fail:
    reason: str


@dataclass(frozen=True)
class Discard:
    reason: str
    test: Test | None = None


@dataclass(frozen=True)
class Confirm:
    """The gate passed: measure on `Rule.confirm_runs` fresh seeds, then decide again."""

    test: Test


@dataclass(frozen=True)
class Accept:
    test: Test


@dataclass(frozen=True)
class Reapply:
    """It beat a parent that is no longer the incumbent: try the same idea on the incumbent."""

    test: Test


Verdict = Fail | Discard | Confirm | Accept | Reapply

NO_PARENT = "its parent has no successful measurement to compare with"
NO_ROOM = "it beat an older incumbent, but the budget leaves no room to re-apply it on the current one"


def decide(evidence: Evidence, rule: Rule) -> Verdict:
    e = evidence
    if e.failure is not None:
        return Fail(e.failure)
    if not e.parent:
        return Discard(NO_PARENT)
    if e.phase == "measure":
        if not e.measured:
            return Discard("it has no successful measurement")
        gate = compare(rule.direction, e.parent, e.measured, e.noise, rule.min_improvement, GATE_LEVEL)
        if not gate.passed:
            return Discard("gate: " + gate.reason, gate)
        if rule.confirm_runs > 0:
            return Confirm(gate)
        return _conclude(gate, e, "gate: ")
    if not e.confirmed:
        return Discard("confirmation: no successful run on fresh seeds")
    test = compare(rule.direction, e.parent, e.confirmed, e.noise, rule.min_improvement, CONFIRM_LEVEL)
    return _conclude(test, e, "confirmation: ")


def _conclude(test: Test, e: Evidence, stage: str) -> Verdict:
    if not test.passed:
        return Discard(stage + test.reason, test)
    if e.stale:
        return Reapply(test) if e.room_to_reapply else Discard(NO_ROOM, test)
    return Accept(test)
