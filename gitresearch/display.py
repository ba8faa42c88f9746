"""Numbers as every reader shows them: the report, the console, the review.

One convention everywhere: a dash for a missing value, four significant digits, a gain
signed so that positive is better whatever the direction, and a spread at the float
resolution of its mean shown as 0 (a benchmark that gives the same value every time has no
spread, not one of 1.36e-16).
"""

from __future__ import annotations

import math

MISSING = "–"


def num(value: float | None, signed: bool = False) -> str:
    if value is None or not math.isfinite(value):
        return MISSING
    return f"{value:+.4g}" if signed else f"{value:.4g}"


def spread(mean: float | None, value: float | None) -> str:
    """A standard deviation next to its mean; float noise (below 1e-12 of the mean) shows as 0."""
    if value is None or not math.isfinite(value):
        return MISSING
    if mean is not None and math.isfinite(mean) and value <= 1e-12 * max(abs(mean), 1e-300):
        return "0"
    return f"{value:.4g}"


def better_or_worse(gain: float) -> str:
    """`better by 0.1` / `worse by 0.1`: the size of a gain in words, no sign to misread."""
    if gain == 0:
        return "no change"
    return f"{'better' if gain > 0 else 'worse'} by {abs(gain):.4g}"
