"""Early stopping: whether a running measurement is losing clearly enough to stop it now.

Pure, like decide.py: the loop hands in the experiment's curve so far, its parent's curve on
the same seed (the paired design: same seed, same data order, same initialisation; or, while
gate passes are held, the best held one's: a run clearly behind it cannot be confirmed), the
parent's curves on all its seeds (the base's when the parent has fewer than two: the noise
at each step) and the setting; the answer is a
`Stop` with its evidence, or None. Only measurement runs are ever stopped, never the base,
a confirmation or an ablation (ISSUE-NOTES 16), and stopping only discards: a forged curve
can get its own run stopped, never a change accepted.

A run is stopped at step s only when all of these hold:

1. it has reached `after` of its parent's last reported step on that seed (a quarter by
   default: a run that far behind so early is stopped there, one less far behind later);
2. it is worse than its parent at s by more than `z` times the noise of a paired difference
   at s: sqrt(2) times the seed-to-seed spread of the reference curves there (never less
   than the spread of the final values), plus `min_improvement`;
3. it is further behind than `lead` times all the progress its parent still made after s
   (three times by default: it would have to gain four times what its parent still gains;
   a parent that still drops 0.04 after s is no reason to stop a run 0.03 behind: a step
   decay of the learning rate late in the run can bring a worse-looking run level);
4. it is not catching up: the gap, carried to the end at the fastest rate it closed over
   the last `window` of the run, would still be beyond that bound. The rate is measured
   per unit of the parent's own progress (the parent's curve is the clock: a gap that
   closed by 0.1 while the parent improved by 0.2 closes by half of what the parent still
   gains), since gaps between training runs shrink as learning slows, not linearly in
   steps; and per step at the rate it closed since its previous report, carried to the
   end (a gap closing steadily while the parent has levelled off). A change that
   starts worse and ends better (a shorter warmup, a higher learning rate with decay)
   closes its gap, and is left to finish;
5. (conservative) 2 to 4 held at each of its last `persist` reports, so one bad evaluation
   never stops a run.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from statistics import stdev

from gitresearch.boundaries.config import Direction, PruneSetting
from gitresearch.notes import Points, Pruned

# an audited run that ends behind by less than 1/4 of the gap the curves showed where it would
# have been stopped shows those curves overstating gaps: no guide (a forged curve)
AUDIT_OVERSTATED = 4.0


@dataclass(frozen=True)
class Setting:
    name: PruneSetting
    after: float  # the least fraction of the parent's steps before any stop
    z: float  # how many paired-noise widths worse
    window: float  # the recent part of the run (a fraction of the parent's steps) whose closing rate counts
    persist: int  # consecutive reports that must all say "stop"
    lead: float  # the gap must also exceed this times the parent's progress still to come


SETTINGS: dict[str, Setting] = {
    "conservative": Setting("conservative", after=0.25, z=4.0, window=0.25, persist=2, lead=3.0),
    "aggressive": Setting("aggressive", after=0.25, z=2.5, window=0.2, persist=1, lead=0.25),
}


def setting(name: PruneSetting, after: float | None = None) -> Setting | None:
    """The named setting (with `[search] prune_after` when given); None for "off"."""
    if name == "off":
        return None
    chosen = SETTINGS[name]
    if after is None:
        return chosen
    return replace(chosen, after=after)


def value_at(curve: Points, step: float) -> float | None:
    """The curve at `step`, linear between reported points; None outside them."""
    if not curve or step < curve[0][0] or step > curve[-1][0]:
        return None
    lo, hi = 0, len(curve) - 1
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if curve[mid][0] <= step:
            lo = mid
        else:
            hi = mid
    (s0, v0), (s1, v1) = curve[lo], curve[hi]
    if step <= s0 or s1 == s0:
        return v0 if step <= s0 else v1
    return v0 + (v1 - v0) * (step - s0) / (s1 - s0)


def spread_at(curves: Sequence[Points], step: float) -> float | None:
    """The seed-to-seed standard deviation of the base's curves at `step` (two curves at least)."""
    here = [v for v in (value_at(c, step) for c in curves) if v is not None]
    return stdev(here) if len(here) >= 2 else None


@dataclass(frozen=True)
class Stop:
    evidence: Pruned

    def describe(self, metric: str) -> str:
        e = self.evidence
        worse = abs(e.value - e.parent)
        whose = "its parent's" if e.against is None else f"#{e.against:04d}'s (the best gate pass held)"
        return (
            f"stopped early at step {e.step:g} of {e.last_step:g} (seed {e.seed}): {metric} "
            f"{e.value:.4g} against {whose} {e.parent:.4g} on the same seed, worse by "
            f"{worse:.4g} (bound {e.bound:.4g}, {e.setting}) and not catching up"
        )


def should_stop(
    curve: Points,
    parent: Points,
    reference: Sequence[Points],
    *,
    seed: int,
    direction: Direction,
    rule: Setting,
    final_noise: float = 0.0,
    min_improvement: float = 0.0,
) -> Stop | None:
    """Stop the run whose curve so far is `curve`, or None to let it go on."""
    if not curve or len(parent) < 2:
        return None
    sign = 1.0 if direction == "minimize" else -1.0
    last = parent[-1][0]
    if last <= 0:
        return None
    # the run's reports from `after` of the parent's steps until before its last one (a stop at
    # the last step would save nothing: the run is done)
    checks = [(s, v) for s, v in curve if rule.after * last <= s < last]
    if len(checks) < rule.persist:
        return None
    verdicts = [
        _verdict(curve, parent, reference, s, sign, last, rule, final_noise, min_improvement)
        for s, _ in checks[-rule.persist :]
    ]
    if any(v is None for v in verdicts):
        return None
    step, value = checks[-1]
    bound = verdicts[-1]
    assert bound is not None
    theirs = value_at(parent, step)
    assert theirs is not None
    return Stop(Pruned(seed, step, last, value, theirs, bound, rule.name))


def _verdict(
    curve: Points,
    parent: Points,
    reference: Sequence[Points],
    step: float,
    sign: float,
    last: float,
    rule: Setting,
    final_noise: float,
    min_improvement: float,
) -> float | None:
    """The bound the gap at `step` exceeds, projected to the end too; None: no stop here."""
    gap = _gap(curve, parent, step, sign)
    if gap is None:
        return None
    spread = spread_at(reference, step)
    if spread is None or not math.isfinite(spread):
        return None
    bound = rule.z * math.sqrt(2.0) * max(spread, final_noise) + min_improvement
    here, end = value_at(parent, step), parent[-1][1]
    assert here is not None
    bound = max(bound, rule.lead * sign * (here - end))
    if gap <= bound:
        return None
    # catching up? the fastest the gap closed over the recent window, carried to the end
    still = sign * (here - end)  # what the parent gains from here to its end
    start = step - rule.window * last
    projected = gap
    for s, _ in curve:
        if not start <= s < step:
            continue
        earlier, then = _gap(curve, parent, s, sign), value_at(parent, s)
        if earlier is None or then is None or earlier <= gap:
            continue
        progress = sign * (then - here)  # the parent's own improvement from s to here
        if progress > 1e-12:
            projected = min(projected, gap - (earlier - gap) / progress * max(still, 0.0))
    # and per step, at the rate it closed since its previous report (a gap that closes
    # steadily while the parent has levelled off: a late decay of the learning rate)
    before = [s for s, _ in curve if s < step]
    if before:
        earlier = _gap(curve, parent, before[-1], sign)
        if earlier is not None and earlier > gap:
            projected = min(projected, gap - (earlier - gap) / (step - before[-1]) * (last - step))
    if projected <= bound:
        return None
    return bound


def _gap(curve: Points, parent: Points, step: float, sign: float) -> float | None:
    """How much worse the run is than its parent at `step` (positive: worse)."""
    mine, theirs = value_at(curve, step), value_at(parent, step)
    if mine is None or theirs is None:
        return None
    return sign * (mine - theirs)


def audit_verdict(behind: float, then: float, clearly: float) -> str | None:
    """Whether a stop the rule called, and let run to its end as a check, was right: None when
    it was; else why the curves it compared are no guide. `behind`: how much worse the run
    ended than the run it was compared with on that seed; `then`: how much worse it was where
    it would have been stopped; `clearly`: the least final gap that is more than noise. A
    curve that overstated the gap many times over (a forged one) is no guide either, even
    when the audited change happens to be a true loser."""
    if behind <= clearly:
        return f"not beyond {clearly:.4g}"
    if behind * AUDIT_OVERSTATED < then:
        return f"{then:.4g} behind at that step: the curves overstated the gap more than {AUDIT_OVERSTATED:g} times"
    return None
