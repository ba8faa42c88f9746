"""Synthetic training curves, for the early-stopping tests and bench.

`training_curve` draws the curve of intermediate values a training run would report: a
power-law descent from `start` to `final` over `steps`, plus seed noise that shrinks as
the run goes on. Part of the noise is the seed's own (the same seed gives the same data
order and initialisation, so a parent and its child on one seed move together, as in the
paired design) and part is the configuration's. `late` adds a late bloomer's handicap: the
run is worse by `late` until `late_at` of its steps, then the handicap fades linearly to
nothing at the end (a higher learning rate that pays off once it decays, a shorter warmup
that is noisy early): such a run ends at `final`, better than a parent it trailed for most
of the run.
"""

from __future__ import annotations

import hashlib
import json
import random
from dataclasses import dataclass
from pathlib import Path
from statistics import mean

from gitresearch.boundaries.config import Direction, PruneSetting
from gitresearch.execute.base import Curve
from gitresearch.notes import Points
from gitresearch.prune import Setting, setting, should_stop, value_at


def _rng(*key: object) -> random.Random:
    digest = hashlib.sha256(repr(key).encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))


def training_curve(
    final: float,
    seed: int,
    *,
    config: object = "",
    steps: int = 300,
    every: int = 25,
    start: float | None = None,
    late: float = 0.0,
    late_at: float = 0.8,
    noise: float = 0.01,
) -> Curve:
    """(step, value) every `every` steps up to `steps`; the last value is `final` plus noise."""
    start = final + 1.0 if start is None else start
    shared, own = _rng("seed", seed), _rng("config", config, seed)
    first = every / steps
    out = []
    for step in range(every, steps + 1, every):
        x = step / steps
        descent = (x**-0.6 - 1.0) / (first**-0.6 - 1.0)  # 1 at the first report, 0 at the end
        handicap = late if x <= late_at else late * (1.0 - x) / (1.0 - late_at)
        sigma = noise * (1.0 + 3.0 * (1.0 - x))
        value = final + (start - final) * descent + handicap
        value += shared.gauss(0.0, sigma) + own.gauss(0.0, sigma / 2.0)
        out.append((float(step), value))
    return tuple(out)


@dataclass(frozen=True)
class RecordedPair:
    """One recorded run of a change and its parent's run on the same seed."""

    change: str
    against: str  # the parent's name
    seed: int
    curve: Curve
    parent: Curve
    reference: list[Curve]  # the parent's curves on every seed: the noise at each step
    gain: float  # how much better the change ended than its parent (negative: worse)


def recorded_pairs(path: Path) -> list[RecordedPair]:
    """The demo's recorded runs (bench/harness/demo_curves.py writes them: [name, seed, curve,
    final] rows), each paired on the same seed with every recorded run its name extends
    (`I_lr1.2e-2_wsd` with `I_lr1.2e-2` and with `I`): a change and the parent it alters.
    For the minimize direction."""
    runs: dict[str, dict[int, tuple[Curve, float]]] = {}
    for name, seed, curve, final in json.loads(path.read_text()):
        runs.setdefault(name, {})[seed] = (tuple((float(a), float(b)) for a, b in curve), final)
    out = []
    for name, by_seed in sorted(runs.items()):
        for parent in sorted(p for p in runs if name.startswith(p + "_")):
            reference = [c for c, _ in runs[parent].values()]
            for seed, (curve, final) in by_seed.items():
                if seed not in runs[parent]:
                    continue
                parent_curve, parent_final = runs[parent][seed]
                out.append(
                    RecordedPair(name, parent, seed, curve, parent_curve, reference, parent_final - final)
                )
    return out


def first_stop(
    child: Points,
    parent: Points,
    reference: list[Points],
    *,
    rule: PruneSetting | Setting = "conservative",
    seed: int = 0,
    direction: Direction = "minimize",
    final_noise: float = 0.0,
    min_improvement: float = 0.0,
) -> float | None:
    """Replay a run against `parent` report by report, as the loop sees it: the step the rule
    stops it at, or None when it runs to its end. `rule`: a setting's name, or a `Setting`
    with some of its guards changed (what a guard is for: the runs it alone lets finish)."""
    chosen = rule if isinstance(rule, Setting) else setting(rule)
    if chosen is None:
        return None
    for i in range(1, len(child) + 1):
        stop = should_stop(
            child[:i],
            parent,
            reference,
            seed=seed,
            direction=direction,
            rule=chosen,
            final_noise=final_noise,
            min_improvement=min_improvement,
        )
        if stop is not None:
            return stop.evidence.step
    return None


def sharpened(curves: list[Points], factor: float) -> list[Points]:
    """The same curves with their seed-to-seed spread scaled by `factor` at every step, about
    the mean of the curves that reach it (a benchmark whose runs agree more closely, as
    larger models and evaluation sets do)."""
    steps = {s for c in curves for s, _ in c}
    means = {s: mean(v for v in (value_at(c, s) for c in curves) if v is not None) for s in steps}
    return [tuple((s, means[s] + factor * (v - means[s])) for s, v in c) for c in curves]
