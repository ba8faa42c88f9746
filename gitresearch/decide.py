"""The decision rule: what one experiment's measurements mean, as a pure function.

This is promise 3 ("luck never counts as progress") in one place. `decide` takes the
phase an experiment is in, its parent's values, its own values, the seed noise and the
settings, and returns one verdict from a closed set; it reads no clock, no git and no
ledger, so the rule is tested as a before/after table (tests/test_decide.py). The loop
only carries verdicts out: it queues confirmation runs, moves the incumbent, or re-applies
a change onto the newer incumbent.

    measure phase: paired seeds against the parent, one-sided t at 90%   -> Confirm | Discard
      (on the differences to the parent on the same seeds when that bar is the lower)
    confirm phase, after each fresh seed k of at most K = confirm_runs:
      fresh seeds only, one-sided t at the level spent on look k           -> Accept | Reapply
      (while each fresh seed is one the parent ran and the paired noise is known: the
      paired test and the usual one, each at half that level; either may accept)
      below half the last look's bar, before the last look                 -> Discard (futility)
      in between, before the last look                                     -> Confirm (one more)
      at the last look, not beyond the bar                                 -> Discard
    beyond the bar, and a constraint violated / not shown to hold (last) -> Discard
    beyond the bar, a constraint not yet shown to hold (before the last) -> Confirm (one more)
    any failed measurement                                                -> Fail

The confirmation is a group-sequential test: its 0.1% error is spent over the looks
(`look_alpha`: α·(k/K)² - α·((k-1)/K)², little at the first look, most at the last), so by
the union bound the chance that pure noise is accepted at *any* look stays at most 0.1%,
as with K fixed runs at once, while a clear winner is accepted after one fresh run. An
experiment whose fresh seeds so far show less than half the gain the last look would need
(at the noise known now) stops at once: stopping for futility only ever refuses, so it
cannot raise the error. `bench/harness/decision_sim.py` measures both against the rule of
K fixed runs (false accepts on pure noise, power and fresh runs per confirmation).

A change must beat both the noise bar and `min_improvement`, strictly. A winner whose
parent is no longer the incumbent is never accepted as it is: it is re-applied onto the
incumbent (a new experiment, measured again), or discarded when the budget leaves no room.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Literal

from gitresearch.constraints import Constraint, judge
from gitresearch.stats import (
    Direction,
    Noise,
    Pair,
    Test,
    compare,
    compare_paired,
    confidence,
    improvement,
    mean,
    noise_threshold,
    paired_threshold,
    t_critical,
)

Phase = Literal["measure", "confirm"]
NO_NOISE = Noise(0.0, 0)  # nothing measured yet

GATE_ALPHA = 0.10  # one-sided: the gate is loose; it only decides what is worth confirming
CONFIRM_ALPHA = 0.001  # one-sided, spent over the confirmation's looks
FUTILITY = 0.5  # before the last look, less than this fraction of the last look's bar stops it
FREE_LINES = 5  # with simplicity on, a change may add this many lines at no extra cost
LINE_COST = 0.05  # ... and each line beyond costs this fraction of one run's seed noise in gain


def simplicity_terms(e: Evidence, rule: Rule) -> tuple[bool, float]:
    """(the change removes code, the extra gain its added lines must show) under `simplicity`.

    A change whose diff removes more lines than it adds is judged for *non-inferiority*: it is
    kept when it is not worse than its parent beyond the margin t·σ (one run's seed noise at
    the test's level), shown with confidence on its runs. A change that adds more than
    FREE_LINES lines must gain LINE_COST·σ more per line beyond them.
    """
    if not rule.simplicity:
        return False, 0.0
    if e.lines_removed > e.lines_added:
        return True, 0.0
    return False, LINE_COST * e.noise.sigma * max(0, e.lines_added - e.lines_removed - FREE_LINES)


def look_alpha(k: int, looks: int) -> float:
    """The error spent at look `k` (after fresh run k) of at most `looks`; they sum to CONFIRM_ALPHA."""
    return CONFIRM_ALPHA * ((k / looks) ** 2 - ((k - 1) / looks) ** 2)


@dataclass(frozen=True, kw_only=True)
class Rule:
    """The settings the rule depends on (from [objective] and [search])."""

    direction: Direction
    min_improvement: float = 0.0
    confirm_runs: int = 3  # the most fresh runs; the confirmation stops earlier when decisive
    simplicity: bool = False  # [search] simplicity: fewer lines at equal quality is a win


@dataclass(frozen=True, kw_only=True)
class ConstraintEvidence:
    """One constraint's metric: the base's values (for a relative bound), the experiment's."""

    constraint: Constraint
    base: Sequence[float]
    measured: Sequence[float]
    confirmed: Sequence[float]
    noise: Noise  # that metric's spread, pooled as the objective's is


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
    constraints: Sequence[ConstraintEvidence] = ()
    lines_added: int = 0  # the change's diff against its parent
    lines_removed: int = 0
    # The same runs as (own value, the parent's value on the same seed), for the seeds the
    # parent ran: the paired seeds' (`measured`) and the fresh seeds' (`confirmed`); a test is
    # paired only when every one of its runs has its pair. `pair_noise`: the noise of such
    # differences.
    gate_pairs: Sequence[Pair] = ()
    pairs: Sequence[Pair] = ()
    pair_noise: Noise = NO_NOISE


@dataclass(frozen=True)
class Fail:
    reason: str


@dataclass(frozen=True)
class Discard:
    reason: str
    test: Test | None = None


@dataclass(frozen=True)
class Confirm:
    """Measure on one more fresh seed, then decide again: after the gate (the first), or
    when the fresh seeds so far are neither decisive nor hopeless."""

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
        simpler, extra = simplicity_terms(e, rule)
        paired = len(e.gate_pairs) == len(e.measured) and _paired_is_sharper(
            e, len(e.measured), GATE_ALPHA, simpler
        )
        pairs = e.gate_pairs if paired else ()
        gate = _compare(rule, e, e.measured, GATE_ALPHA, simpler, extra, gate=True, pairs=pairs)
        if not gate.passed:
            return Discard("gate: " + gate.reason, gate)
        for c in e.constraints:  # on the paired runs only a clear violation decides
            check = judge(c.constraint, c.base, c.measured, c.noise, GATE_ALPHA)
            if check.violated or (rule.confirm_runs == 0 and not check.holds):
                return Discard("gate: " + check.reason, gate)
        if rule.confirm_runs > 0:
            return Confirm(gate)
        return _conclude(gate, e, "gate: ")
    if not e.confirmed:
        return Discard("confirmation: no successful run on fresh seeds")
    k = len(e.confirmed)
    looks = max(rule.confirm_runs, k)
    alpha = look_alpha(k, looks)
    simpler, extra = simplicity_terms(e, rule)
    paired = len(e.pairs) == k and bool(e.pair_noise.df) and not simpler
    final_alpha = look_alpha(looks, looks)
    if paired:
        # Both tests, each at half the look's level: by the union bound pure noise passes
        # either at most at the look's level, whichever noise estimate happens to be low.
        alpha, final_alpha = alpha / 2, final_alpha / 2
        tests = [
            _compare(rule, e, e.confirmed, alpha, simpler, extra, pairs=e.pairs),
            _compare(rule, e, e.confirmed, alpha, simpler, extra),
        ]
        # the one that passed (paired first), else the one nearer its bar
        test = next((t for t in tests if t.passed), max(tests, key=lambda t: t.improvement - t.threshold))
        # futility only when neither test could reach its last look's bar
        futile = all(
            t.improvement <= FUTILITY * bar
            for t, bar in zip(
                tests,
                (
                    max(rule.min_improvement, paired_threshold(e.pair_noise, looks, final_alpha) + extra),
                    max(
                        rule.min_improvement,
                        noise_threshold(e.noise, looks, len(e.parent), final_alpha) + extra,
                    ),
                ),
                strict=True,
            )
        )
    else:
        test = _compare(rule, e, e.confirmed, alpha, simpler, extra)
    test = replace(test, reason=f"confirmation ({k} of at most {looks} fresh seeds): {test.reason}")
    if test.passed:
        # every constraint must hold with confidence too, at the same level, on the fresh runs
        checks = [judge(c.constraint, c.base, c.confirmed, c.noise, alpha) for c in e.constraints]
        broken = next((c for c in checks if c.violated), None)
        if broken is not None:
            return Discard(f"{test.reason.split(':')[0]}: {broken.reason}", test)
        unsure = next((c for c in checks if not c.holds), None)
        if unsure is None:
            return _conclude(test, e, "")
        if k >= looks:
            return Discard(f"{test.reason.split(':')[0]}: {unsure.reason}", test)
        return Confirm(test)
    if k >= looks:
        return _conclude(test, e, "")
    if paired:
        if futile:
            return Discard(f"{test.reason}; stopped early: below half of what {looks} seeds would need", test)
        return Confirm(test)
    final_bar = max(rule.min_improvement, noise_threshold(e.noise, looks, len(e.parent), final_alpha))
    if simpler:
        # non-inferiority: the last look's bar sits below zero (it allows the margin t·σ);
        # stop early only when the runs so far fall short of it by half its size again
        t = t_critical(e.noise.df, final_alpha) if e.noise.df else 0.0
        final_bar = noise_threshold(e.noise, looks, len(e.parent), final_alpha) - t * e.noise.sigma
        if test.improvement <= final_bar - FUTILITY * abs(final_bar):
            return Discard(
                f"{test.reason}; stopped early: clearly short of the {final_bar:.4g} allowed", test
            )
        return Confirm(test)
    if test.improvement <= FUTILITY * final_bar:
        return Discard(
            f"{test.reason}; stopped early: below half of the {final_bar:.4g} that "
            f"{looks} fresh seeds would need",
            test,
        )
    return Confirm(test)


def _paired_is_sharper(e: Evidence, runs: int, alpha: float, simpler: bool) -> bool:
    """At the gate: judge on the differences to the parent on the same seeds rather than on the
    means? Where the pooled paired noise is known and its bar is lower than the unpaired one
    (the gate only chooses what to confirm; the confirmation's error is bounded on its own).
    A simplification is always judged unpaired."""
    if simpler or not e.pair_noise.df or not e.noise.df:
        return False
    return paired_threshold(e.pair_noise, runs, alpha) < noise_threshold(e.noise, runs, len(e.parent), alpha)


def _compare(
    rule: Rule,
    e: Evidence,
    runs: Sequence[float],
    alpha: float,
    simpler: bool,
    extra: float,
    gate: bool = False,
    pairs: Sequence[Pair] = (),
) -> Test:
    """The objective's test: superiority as usual (on the paired seeds' differences when
    `pairs` are given: the caller chose pairing), or non-inferiority for a simplification (at the
    gate only "not clearly worse": the confirmation is where it must be shown)."""
    if not simpler:
        if pairs:
            also = [] if gate else list(e.gate_pairs)
            test = compare_paired(rule.direction, pairs, e.pair_noise, rule.min_improvement, alpha, also)
        else:
            test = compare(rule.direction, e.parent, runs, e.noise, rule.min_improvement, alpha)
        if extra <= 0:
            return test
        added = e.lines_added - e.lines_removed
        threshold = test.threshold + extra  # the bar, plus the price of the lines it adds
        if test.improvement > threshold:
            why = f"improves by {test.improvement:.4g} > {threshold:.4g}"
        else:
            why = f"improvement {test.improvement:.4g} is within the noise (needed > {threshold:.4g})"
        reason = f"{why}: the bar {test.threshold:.4g} plus {extra:.3g} for {added} added line(s)"
        return replace(test, passed=test.improvement > threshold, threshold=threshold, reason=reason)
    gain = improvement(rule.direction, mean(e.parent), mean(runs))
    t = t_critical(e.noise.df, alpha) if e.noise.df else 0.0
    margin = t * e.noise.sigma  # one run's seed noise at this level
    bar = noise_threshold(e.noise, len(runs), len(e.parent), alpha)
    threshold = -bar if gate else bar - margin
    removed = f"{e.lines_removed - e.lines_added} line(s) fewer"
    if gain > threshold or (not e.noise.df and gain >= 0):
        reason = (
            f"simpler ({removed}) and not worse beyond the noise: gain {gain:.4g} > {threshold:.4g} "
            f"(non-inferiority, margin t{confidence(alpha)} × σ = {margin:.3g})"
        )
    else:
        reason = (
            f"simpler ({removed}) but worse beyond the noise: gain {gain:.4g}, needed > {threshold:.4g} "
            f"(non-inferiority, margin {margin:.3g})"
        )
    passed = gain > threshold or (not e.noise.df and gain >= 0)  # no noise known: equal is not worse
    return Test(passed, gain, threshold, len(runs), reason)


def _conclude(test: Test, e: Evidence, stage: str) -> Verdict:
    if not test.passed:
        return Discard(stage + test.reason, test)
    if e.stale:
        return Reapply(test) if e.room_to_reapply else Discard(NO_ROOM, test)
    return Accept(test)
