"""The numbers behind a decision: means, the seed noise, and the tests a change must pass.

Noise is the spread between seeds of one commit, pooled over every commit measured more
than once (the base's `baseline_runs` first, then confirmations as they accumulate), with
its degrees of freedom, so that a small early sample is judged with Student's t and not
trusted like a large one. A candidate first passes a loose gate on its paired-seed runs
(one-sided t at 90%), then must beat its parent on fresh seeds alone (one-sided, a 0.1%
error spent over the confirmation's looks, decide.py) by more than `min_improvement`: the
gate runs were chosen because they looked good, the confirmation runs were not, so only
they count for acceptance. The strict level is what keeps a night of ~100 experiments on a
pure-noise metric from accepting anything (about 10 reach confirmation, each passing by
luck with probability at most 0.001). Student's t quantiles are computed (the regularized
incomplete beta function, inverted by bisection), not read from a table, since the looks
need levels no table holds.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from statistics import NormalDist
from typing import Literal

Direction = Literal["minimize", "maximize"]


def _betacf(a: float, b: float, x: float) -> float:
    """The continued fraction of the incomplete beta function (modified Lentz)."""
    tiny = 1e-300
    qab, qap, qam = a + b, a + 1.0, a - 1.0
    c, d = 1.0, 1.0 - qab * x / qap
    d = 1.0 / (d if abs(d) > tiny else tiny)
    h = d
    for m in range(1, 300):
        m2 = 2 * m
        aa = m * (b - m) * x / ((qam + m2) * (a + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > tiny else tiny)
        c = 1.0 + aa / c
        c = c if abs(c) > tiny else tiny
        h *= d * c
        aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > tiny else tiny)
        c = 1.0 + aa / c
        c = c if abs(c) > tiny else tiny
        delta = d * c
        h *= delta
        if abs(delta - 1.0) < 1e-14:
            break
    return h


def _betainc(a: float, b: float, x: float) -> float:
    """The regularized incomplete beta function I_x(a, b)."""
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    front = math.exp(
        math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x)
    )
    if x < (a + 1.0) / (a + b + 2.0):
        return front * _betacf(a, b, x) / a
    return 1.0 - front * _betacf(b, a, 1.0 - x) / b


def t_tail(t: float, df: int) -> float:
    """P(T > t) for Student's t with `df` degrees of freedom, t >= 0."""
    return 0.5 * _betainc(df / 2.0, 0.5, df / (df + t * t))


@functools.lru_cache(maxsize=4096)
def t_critical(df: int, alpha: float) -> float:
    """The one-sided critical value: P(T > t) = alpha (Student's t, `df` degrees of freedom)."""
    if df <= 0:
        return math.inf
    z = NormalDist().inv_cdf(1.0 - alpha)
    if df > 100_000:
        return z
    lo, hi = z, z
    while t_tail(hi, df) > alpha:  # the t tail is heavier than the normal's: search upwards
        lo, hi = hi, hi * 2.0
    for _ in range(100):
        mid = (lo + hi) / 2.0
        if t_tail(mid, df) > alpha:
            lo = mid
        else:
            hi = mid
        if hi - lo < 1e-9 * hi:
            break
    return (lo + hi) / 2.0


def confidence(alpha: float) -> str:
    """A one-sided level as people write it: 0.001 -> "99.9", 0.00025 -> "99.975"."""
    return f"{100 * (1 - alpha):.6g}"


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


def noise_threshold(noise: Noise, runs: int, parent_runs: int, alpha: float) -> float:
    """The gain `runs` runs must show over a parent measured `parent_runs` times to be beyond
    the noise at one-sided level `alpha`: t × σ × sqrt(1/runs + 1/parent_runs)."""
    if not noise.df:
        return 0.0
    return t_critical(noise.df, alpha) * noise.sigma * math.sqrt(1 / runs + 1 / parent_runs)


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
    alpha: float,
) -> Test:
    """Does `candidate` beat `parent` by more than the noise (one-sided, at level `alpha`) and
    `min_improvement`?"""
    gain = improvement(direction, mean(parent), mean(candidate))
    se = noise.sigma * math.sqrt(1 / len(candidate) + 1 / len(parent))
    noise_bar = noise_threshold(noise, len(candidate), len(parent), alpha)
    threshold = max(min_improvement, noise_bar, resolution_floor(parent, candidate))
    passed = gain > threshold
    if passed:
        reason = f"improves by {gain:.4g} > {threshold:.4g} (t{confidence(alpha)} × se {se:.3g}, min_improvement {min_improvement:g})"
    elif gain <= 0:
        reason = (
            f"no better than its parent (worse by {-gain:.4g})" if gain < 0 else "no change from its parent"
        )
    else:
        reason = f"improvement {gain:.4g} is within the noise (needed > {threshold:.4g})"
    return Test(passed, gain, threshold, len(candidate), reason)


Pair = tuple[float, float]  # (candidate, parent) on one seed


def paired_noise(groups: Sequence[Sequence[Pair]]) -> Noise:
    """The seed noise of a *difference* between two commits run on the same seed, pooled over
    experiments measured on two or more seeds their parent also ran.

    Within one experiment the true difference is the same on every seed, so the spread of
    its differences is noise alone. When the seed sets the data order and the initial
    weights, most of each run's noise is shared by a change and its parent, and this spread is
    far below σ·√2 (zero when the noise is entirely the seed's). An experiment equal to its
    parent on every seed is left out: a change that does nothing says nothing about the noise
    of one that does. Its first seeds chose it (the gate), which can only widen the spread.
    """
    ss, df = 0.0, 0
    for pairs in groups:
        if len(pairs) < 2:
            continue
        size = resolution_floor([v for pair in pairs for v in pair])
        if all(abs(c - p) <= size for c, p in pairs):
            continue
        diffs = [c - p for c, p in pairs]
        m = mean(diffs)
        ss += sum((d - m) ** 2 for d in diffs)
        df += len(diffs) - 1
    return Noise(math.sqrt(ss / df) if df else 0.0, df)


def paired_threshold(noise: Noise, pairs: int, alpha: float) -> float:
    """The mean difference over `pairs` seeds needed to be beyond the paired noise at `alpha`."""
    if not noise.df:
        return math.inf
    return t_critical(noise.df, alpha) * noise.sigma / math.sqrt(pairs)


def compare_paired(
    direction: Direction,
    pairs: Sequence[Pair],
    noise: Noise,
    min_improvement: float,
    alpha: float,
    also: Sequence[Pair] = (),
) -> Test:
    """Does the candidate beat its parent on the same seeds by more than the paired noise (one-
    sided, at level `alpha`) and `min_improvement`? The noise used is the larger of the pooled
    paired noise and this candidate's own spread of differences over `pairs` and `also` (its
    other paired seeds): a change unlike the others may pair less well."""
    gains = [improvement(direction, p, c) for c, p in pairs]
    gain = mean(gains)
    own = stdev(gains + [improvement(direction, p, c) for c, p in also])
    sigma = max(noise.sigma, own)
    bar = paired_threshold(Noise(sigma, noise.df), len(pairs), alpha)
    threshold = max(min_improvement, bar, resolution_floor([v for pair in pairs for v in pair]))
    passed = gain > threshold
    se = sigma / math.sqrt(len(pairs))
    how = f"paired on {len(pairs)} seed(s) its parent ran, t{confidence(alpha)} × se {se:.3g}"
    if passed:
        reason = f"improves by {gain:.4g} > {threshold:.4g} ({how}, min_improvement {min_improvement:g})"
    elif gain <= 0:
        reason = (
            f"no better than its parent on the same seeds (worse by {-gain:.4g})"
            if gain < 0
            else "no change from its parent on the same seeds"
        )
    else:
        reason = f"improvement {gain:.4g} is within the paired noise (needed > {threshold:.4g}; {how})"
    return Test(passed, gain, threshold, len(pairs), reason)
