"""The numbers behind a decision: means, the seed noise, and the two tests a change must pass.

Noise is the spread between seeds of one commit, pooled over every commit measured more
than once (the base's `baseline_runs` first, then confirmations as they accumulate), with
its degrees of freedom, so that a small early sample is judged with Student's t and not
trusted like a large one. A candidate first passes a loose gate on its paired-seed runs
(one-sided t at 90%), then must beat its parent on fresh seeds alone (one-sided t at
99.9%) by more than `min_improvement`: the gate runs were chosen because they looked good,
the confirmation runs were not, so only they count for acceptance. The strict level is
what keeps a night of ~100 experiments on a pure-noise metric from accepting anything
(about 10 reach confirmation, each passing by luck with probability 0.001).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

Direction = Literal["minimize", "maximize"]

# One-sided Student t critical values by degrees of freedom.
_T90 = {
    1: 3.078,
    2: 1.886,
    3: 1.638,
    4: 1.533,
    5: 1.476,
    6: 1.440,
    7: 1.415,
    8: 1.397,
    9: 1.383,
    10: 1.372,
    12: 1.356,
    15: 1.341,
    20: 1.325,
    30: 1.310,
    60: 1.296,
    120: 1.289,
}
_T999 = {
    1: 318.3,
    2: 22.33,
    3: 10.21,
    4: 7.173,
    5: 5.893,
    6: 5.208,
    7: 4.785,
    8: 4.501,
    9: 4.297,
    10: 4.144,
    12: 3.930,
    15: 3.733,
    20: 3.552,
    30: 3.385,
    60: 3.232,
    120: 3.160,
}
_TINF = {"90": 1.282, "99.9": 3.090}
Level = Literal["90", "99.9"]


def t_critical(df: int, level: Level) -> float:
    table = _T90 if level == "90" else _T999
    if df <= 0:
        return math.inf
    if df in table:
        return table[df]
    keys = sorted(table)
    if df > keys[-1]:
        return _TINF[level] + (table[keys[-1]] - _TINF[level]) * keys[-1] / df
    lo = max(k for k in keys if k < df)
    hi = min(k for k in keys if k > df)
    frac = (1 / df - 1 / hi) / (1 / lo - 1 / hi)  # interpolate in 1/df, as the tables do
    return table[hi] + frac * (table[lo] - table[hi])


def mean(values: Sequence[float]) -> float:
    return sum(values) / len(values)


def stdev(values: Sequence[float]) -> float:
    if len(values) < 2:
        return 0.0
    m = mean(values)
    return math.sqrt(sum((v - m) ** 2 for v in values) / (len(values) - 1))


@dataclass(frozen=True)
class Noise:
    sigma: float
    df: int

    def describe(self) -> str:
        return f"seed noise σ={self.sigma:.4g} ({self.df} degrees of freedom)"


def pooled_noise(groups: Sequence[Sequence[float]]) -> Noise:
    """Pooled standard deviation over groups of repeated measurements of one commit each."""
    ss, df = 0.0, 0
    for group in groups:
        if len(group) >= 2:
            m = mean(group)
            ss += sum((v - m) ** 2 for v in group)
            df += len(group) - 1
    return Noise(math.sqrt(ss / df) if df else 0.0, df)


def improvement(direction: Direction, parent: float, candidate: float) -> float:
    """How much better `candidate` is than `parent`, positive when it is better."""
    return parent - candidate if direction == "minimize" else candidate - parent


RESOLUTION = 1e-9  # relative: differences below this fraction of the metric are float noise


def resolution_floor(*groups: Sequence[float]) -> float:
    """The smallest difference that is more than float rounding, relative to the values' size."""
    size = max((abs(v) for g in groups for v in g), default=0.0)
    return RESOLUTION * size + 1e-300


def all_alike(values: Sequence[float]) -> bool:
    """The values differ by no more than float rounding (a benchmark that ignores its seed)."""
    return len(values) >= 2 and max(values) - min(values) <= resolution_floor(values)


@dataclass(frozen=True)
class Test:
    passed: bool
    improvement: float  # in metric units, positive is better
    threshold: float  # what the improvement had to exceed
    runs: int
    reason: str


def compare(
    direction: Direction,
    parent: Sequence[float],
    candidate: Sequence[float],
    noise: Noise,
    min_improvement: float,
    level: Level,
) -> Test:
    """Does `candidate` beat `parent` by more than the noise (at `level`) and `min_improvement`?"""
    gain = improvement(direction, mean(parent), mean(candidate))
    se = noise.sigma * math.sqrt(1 / len(candidate) + 1 / len(parent))
    noise_bar = t_critical(noise.df, level) * se if noise.df else 0.0
    threshold = max(min_improvement, noise_bar, resolution_floor(parent, candidate))
    passed = gain > threshold
    if passed:
        reason = f"improves by {gain:.4g} > {threshold:.4g} (t{level} × se {se:.3g}, min_improvement {min_improvement:g})"
    elif gain <= 0:
        reason = (
            f"no better than its parent (worse by {-gain:.4g})" if gain < 0 else "no change from its parent"
        )
    else:
        reason = f"improvement {gain:.4g} is within the noise (needed > {threshold:.4g})"
    return Test(passed, gain, threshold, len(candidate), reason)
