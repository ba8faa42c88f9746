"""Constraints on recorded metrics, as researchers state them, and the test each must pass.

`[objective] constraints = ["accuracy >= 0.97", "peak_memory_mb <= 1.1 * base",
"train_seconds <= base + 30"]`: a metric the benchmark prints (added to `record`), a
comparison, and a bound that is a number or a linear function of the base's mean of the
same metric (`base`, `k * base`, `base * k`, `base + c`, `base - c`, `k * base + c`).

A change is kept only when, on its fresh-seed confirmation runs, every constraint holds
*with confidence*: the distance from the runs' mean to the bound must exceed Student's t
(at the same level as the objective's test at that look) standard errors, the spread of
that metric pooled over every commit measured more than once, and for a relative bound the
base's own uncertainty counted too. A constraint that is violated beyond the noise, at the
gate already, is the recorded reason of a discard. Like the objective, a constraint
measured by the experiment's own output is only as trustworthy as that output: with a
protected scorer, let the scorer print the constrained metrics.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from gitresearch.stats import Noise, mean, t_critical

_NUMBER = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?"
_FORM = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_.\-/]*)\s*(<=|>=)\s*(.+?)\s*$")
_ABSOLUTE = re.compile(rf"^({_NUMBER})$")
_RELATIVE = re.compile(rf"^(?:({_NUMBER})\s*\*\s*)?base(?:\s*\*\s*({_NUMBER}))?(?:\s*([-+])\s*({_NUMBER}))?$")


def _bound(rhs: str) -> tuple[float, float, bool] | None:
    """(scale, offset, relative) of a bound, or None when it is not one."""
    absolute = _ABSOLUTE.match(rhs)
    if absolute:
        return 0.0, float(absolute[1]), False
    m = _RELATIVE.match(rhs)
    if not m or (m[1] and m[2]):
        return None
    scale = float(m[1] or m[2] or 1.0)
    offset = float(m[4]) * (-1 if m[3] == "-" else 1) if m[4] else 0.0
    return scale, offset, True


@dataclass(frozen=True)
class Constraint:
    text: str  # as written
    metric: str
    op: Literal["<=", ">="]
    scale: float = 0.0  # bound = scale * mean(base) + offset when relative
    offset: float = 0.0
    relative: bool = False

    def bound(self, base: Sequence[float]) -> float | None:
        if not self.relative:
            return self.offset
        return self.scale * mean(base) + self.offset if base else None


def parse_constraint(text: str) -> Constraint:
    """ValueError with what is wrong and what a constraint looks like."""
    found = _FORM.match(text)
    if not found:
        raise ValueError(
            f'"{text}" is not a constraint; write METRIC <= BOUND or METRIC >= BOUND, where BOUND is a '
            'number or uses base ("accuracy >= 0.97", "peak_memory_mb <= 1.1 * base", "seconds <= base + 30")'
        )
    metric, op, rhs = found[1], found[2], " ".join(found[3].split())
    found_bound = _bound(rhs)
    if found_bound is not None:
        scale, offset, relative = found_bound
        return Constraint(text.strip(), metric, "<=" if op == "<=" else ">=", scale, offset, relative)
    raise ValueError(
        f'the bound "{rhs}" in "{text}" is not a number nor one of base, K * base, base + C, base - C, '
        "K * base + C"
    )


@dataclass(frozen=True)
class ConstraintTest:
    constraint: Constraint
    holds: bool  # shown to hold beyond the noise
    violated: bool  # shown to be violated beyond the noise
    value: float | None  # the runs' mean
    bound: float | None
    threshold: float  # the margin it had to show
    reason: str


def judge(
    c: Constraint, base: Sequence[float], runs: Sequence[float], noise: Noise, alpha: float
) -> ConstraintTest:
    """Does the mean of `runs` satisfy `c` beyond the noise at one-sided level `alpha`?"""
    bound = c.bound(base)
    if not runs or bound is None:
        missing = "the runs" if not runs else "the base"
        return ConstraintTest(
            c, False, True, None, bound, 0.0, f"{c.text}: {c.metric} is not reported by {missing}"
        )
    value = mean(runs)
    margin = bound - value if c.op == "<=" else value - bound  # positive: it holds
    var = 1 / len(runs) + ((c.scale**2) / len(base) if c.relative else 0.0)
    se = noise.sigma * math.sqrt(var)
    threshold = t_critical(noise.df, alpha) * se if noise.df else 0.0
    holds = margin > threshold or (threshold == 0.0 and margin >= 0.0)
    violated = -margin > threshold
    where = f"{c.metric} {value:.4g} against the bound {bound:.4g}"
    if holds:
        reason = f"{c.text} holds: {where} (margin {margin:.3g} > {threshold:.3g})"
    elif violated:
        reason = f"{c.text} is violated: {where}, beyond the noise ({-margin:.3g} > {threshold:.3g})"
    else:
        reason = (
            f"{c.text} is not shown to hold: {where}, within the noise (needed a margin > {threshold:.3g})"
        )
    return ConstraintTest(c, holds, violated, value, bound, threshold, reason)


def broken_by(reason: str, constraints: Sequence[Constraint]) -> Constraint | None:
    """The constraint a decision's reason (as `judge` wrote it) says was not met, if any."""
    for c in constraints:
        if any(f"{c.text}{tail}" in reason for tail in (" is violated", " is not shown to hold", ": ")):
            return c
    return None
