"""The decision rule simulated: false accepts on pure noise, and what a winner costs.

Drives the pure decision function (`gitresearch.decide.decide`) as the loop does, without
git or processes, so thousands of nights take seconds:

- **Pure noise.** A night: the base measured `--base` times, then `--experiments`
  experiments that change nothing, each measured on `--repeats` runs against the incumbent
  (gate), then confirmed on fresh runs as the rule asks; the noise is pooled over the base
  and every experiment measured more than once, as in the loop; an accepted experiment
  becomes the incumbent. Every accept is a false accept. Printed: the fraction of
  confirmations that end in an accept (the per-test error, at most 0.1% by design), the
  fraction of nights with at least one false accept, and the fresh runs per confirmation.
- **Real effects.** One experiment whose true gain is `d` noise standard deviations, after
  the base: how often it is accepted (power) and how many fresh runs its confirmation used.

Each figure is given for the rule in `gitresearch/decide.py` (sequential: one fresh run at
a time, stopping when decisive either way) and for the rule it replaced (all `confirm_runs`
fresh runs at once, one test at 99.9%), with the same random numbers.
Run: `python bench/harness/decision_sim.py [--nights 20000] [--experiments 40] [--confirm-runs 2]`.
"""

from __future__ import annotations

import argparse
import itertools
import math
import random
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from gitresearch.decide import CONFIRM_ALPHA, Accept, Confirm, Discard, Evidence, Rule, Verdict, decide
from gitresearch.stats import Noise, compare, paired_noise, pooled_noise

sys.path.insert(0, str(Path(__file__).resolve().parent))
from false_accepts import wilson  # the same 95% interval as the real-loop bench

Draw = Callable[[], float]  # one benchmark run's value


@dataclass
class Tally:
    confirmations: int = 0
    accepts: int = 0
    fresh_runs: int = 0
    nights_with_accept: int = 0


def confirm_sequential(
    parent: Sequence[float], draw: Draw, noise: Callable[[list[float]], Noise], rule: Rule
) -> tuple[Verdict, list[float]]:
    """The confirmation as the loop carries it out now: one fresh run, then ask the rule."""
    fresh: list[float] = []
    while True:
        fresh.append(draw())
        verdict = decide(Evidence(phase="confirm", parent=parent, confirmed=fresh, noise=noise(fresh)), rule)
        if not isinstance(verdict, Confirm):
            return verdict, fresh


def confirm_fixed(
    parent: Sequence[float], draw: Draw, noise: Callable[[list[float]], Noise], rule: Rule
) -> tuple[Verdict, list[float]]:
    """The rule before: every fresh run at once, one test at 99.9%."""
    fresh = [draw() for _ in range(rule.confirm_runs)]
    test = compare(rule.direction, parent, fresh, noise(fresh), rule.min_improvement, CONFIRM_ALPHA)
    return (Accept(test) if test.passed else Discard("", test)), fresh


def night(
    rng: random.Random,
    confirmer: Callable[..., tuple[Verdict, list[float]]],
    rule: Rule,
    base_runs: int,
    experiments: int,
    repeats: int,
) -> Tally:
    tally = Tally()
    groups: list[list[float]] = []
    incumbent = [rng.gauss(0, 1) for _ in range(base_runs)]
    groups.append(incumbent)
    for _ in range(experiments):
        own = [rng.gauss(0, 1) for _ in range(repeats)]
        gate = decide(
            Evidence(phase="measure", parent=incumbent, measured=own, noise=pooled_noise(groups)), rule
        )
        if not isinstance(gate, Confirm):
            if len(own) > 1:
                groups.append(own)
            continue
        tally.confirmations += 1
        verdict, fresh = confirmer(
            incumbent,
            lambda: rng.gauss(0, 1),
            lambda fresh, own=own: pooled_noise([*groups, own + fresh]),
            rule,
        )
        tally.fresh_runs += len(fresh)
        groups.append(own + fresh)
        if isinstance(verdict, Accept):
            tally.accepts += 1
            incumbent = own + fresh
    tally.nights_with_accept = int(tally.accepts > 0)
    return tally


def power(
    rng: random.Random,
    confirmer: Callable[..., tuple[Verdict, list[float]]],
    rule: Rule,
    gain: float,
    base_runs: int,
    repeats: int,
    trials: int,
    df: int,
) -> tuple[float, float]:
    """(fraction accepted, mean fresh runs per confirmation) for a change better by `gain` σ,
    with `df` degrees of freedom of noise already measured earlier in the night."""
    accepted = confirmations = fresh_runs = 0
    for _ in range(trials):
        earlier = [rng.gauss(0, 1) for _ in range(df + 1)] if df else []
        base = [rng.gauss(0, 1) for _ in range(base_runs)]
        own = [rng.gauss(-gain, 1) for _ in range(repeats)]
        gate = decide(
            Evidence(phase="measure", parent=base, measured=own, noise=pooled_noise([earlier, base])), rule
        )
        if not isinstance(gate, Confirm):
            continue
        confirmations += 1
        verdict, fresh = confirmer(
            base,
            lambda: rng.gauss(-gain, 1),
            lambda fresh, e=earlier, b=base, own=own: pooled_noise([e, b, own + fresh]),
            rule,
        )
        fresh_runs += len(fresh)
        accepted += isinstance(verdict, Accept)
    return accepted / trials, fresh_runs / max(1, confirmations)


@dataclass
class Run:
    """One commit in a paired night: its values by seed, and how its noise is made."""

    rho: float  # the share of a run's noise variance that is the seed's, common to every commit
    values: dict[int, float]
    gain: float = 0.0  # how much better than the base it truly is, in σ
    parent: Run | None = None


def pairs_of(run: Run, seeds: Sequence[int]) -> list[tuple[float, float]]:
    """(its value, its parent's) on those of `seeds` its parent ran."""
    p = run.parent
    return [(run.values[s], p.values[s]) for s in seeds if p is not None and s in p.values]


def paired_evidence(phase: str, run: Run, confirmed: list[int], done: list[Run], pairing: bool) -> Evidence:
    """What the loop hands decide.py for `run` (its gate on seed 0, its fresh seeds so far)."""
    assert run.parent is not None
    fresh = pairs_of(run, confirmed)
    return Evidence(
        phase=phase,  # type: ignore[arg-type]
        parent=list(run.parent.values.values()),
        measured=[run.values[0]],
        confirmed=[run.values[s] for s in confirmed],
        noise=pooled_noise([list(r.values.values()) for r in [*done, run]]),
        gate_pairs=pairs_of(run, [0]) if pairing else [],
        pairs=fresh if pairing else [],
        pair_noise=paired_noise([pairs_of(r, list(r.values)) for r in done]) if pairing else Noise(0.0, 0),
    )


def paired_night(
    rng: random.Random,
    rule: Rule,
    base_runs: int,
    experiments: int,
    rhos: Callable[[], float],
    gain: float = 0.0,
    pairing: bool = True,
) -> tuple[Tally, int]:
    """A night as the loop runs it when the seed sets part of the noise: a run's value is its
    true value + σ(√ρ·z_seed + √(1-ρ)·ε), z shared by every commit on that seed. The base runs
    seeds 0..base-1; each experiment (its ρ from `rhos`, truly better than its parent by
    `gain` σ) runs seed 0 (the gate), then is confirmed on the seeds its parent ran that it has
    not, then on seeds nobody ran, with the paired test where decide.py chooses it (`pairing`
    False: the rule before, seeds nobody ran and no pairs). Returns the tally and how many
    confirmations used the paired test at least once."""
    z: dict[int, float] = {}

    def draw(run: Run, seed: int) -> float:
        if seed not in z:
            z[seed] = rng.gauss(0, 1)
        shared = math.sqrt(run.rho) * z[seed] + math.sqrt(1 - run.rho) * rng.gauss(0, 1)
        run.values[seed] = -run.gain + shared
        return run.values[seed]

    tally, paired_used = Tally(), 0
    base = Run(rhos(), {})
    for seed in range(base_runs):
        draw(base, seed)
    incumbent, done = base, [base]
    fresh_seed = 1000
    for _ in range(experiments):
        run = Run(rhos(), {}, incumbent.gain + gain, parent=incumbent)
        draw(run, 0)
        verdict = decide(paired_evidence("measure", run, [], done, pairing), rule)
        if isinstance(verdict, Confirm):
            tally.confirmations += 1
            confirmed: list[int] = []
            used_paired = False
            while isinstance(verdict, Confirm):
                known = next((s for s in incumbent.values if s not in run.values and pairing), None)
                if known is None:
                    fresh_seed += 1
                seed = fresh_seed if known is None else known
                draw(run, seed)
                confirmed.append(seed)
                verdict = decide(paired_evidence("confirm", run, confirmed, done, pairing), rule)
                test = getattr(verdict, "test", None)
                used_paired |= test is not None and "paired" in test.reason
            tally.fresh_runs += len(confirmed)
            paired_used += used_paired
            if isinstance(verdict, Accept):
                tally.accepts += 1
                incumbent = run
        done.append(run)
    tally.nights_with_accept = int(tally.accepts > 0)
    return tally, paired_used


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--nights", type=int, default=20000, help="pure-noise nights per rule")
    parser.add_argument("--experiments", type=int, default=40)
    parser.add_argument("--base", type=int, default=3, help="baseline_runs")
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--confirm-runs", type=int, default=3, help="the most fresh runs (now)")
    parser.add_argument("--before-runs", type=int, default=2, help="the fresh runs of the rule before")
    parser.add_argument("--trials", type=int, default=20000, help="trials per effect size")
    parser.add_argument(
        "--df", type=int, default=20, help="noise degrees of freedom measured before the real effect"
    )
    parser.add_argument("--paired-nights", type=int, default=4000, help="nights per paired-noise setting")
    parser.add_argument("--skip-unpaired", action="store_true", help="only the paired-seed figures")
    parser.add_argument("--only", default="", help="only the paired settings whose name holds this")
    args = parser.parse_args()
    paired_figures(args)
    if args.skip_unpaired:
        return
    rules = {
        "sequential (now)": (confirm_sequential, Rule(direction="minimize", confirm_runs=args.confirm_runs)),
        "fixed (before)": (confirm_fixed, Rule(direction="minimize", confirm_runs=args.before_runs)),
    }
    print(
        f"pure noise: {args.nights} nights of {args.experiments} experiments, {args.base} base runs, "
        f"{args.repeats} paired run(s) each; now at most {args.confirm_runs} fresh runs per confirmation, "
        f"before {args.before_runs} at once"
    )
    for name, (confirmer, rule) in rules.items():
        started = time.perf_counter()
        rng = random.Random(1)
        total = Tally()
        for _ in range(args.nights):
            t = night(rng, confirmer, rule, args.base, args.experiments, args.repeats)
            total.confirmations += t.confirmations
            total.accepts += t.accepts
            total.fresh_runs += t.fresh_runs
            total.nights_with_accept += t.nights_with_accept
        lo, hi = wilson(total.accepts, total.confirmations)
        nlo, nhi = wilson(total.nights_with_accept, args.nights)
        print(
            f"  {name:<17} accepts per confirmation {total.accepts / max(1, total.confirmations):.5f} "
            f"(95% {lo:.5f}-{hi:.5f}, {total.confirmations} confirmations); nights with a false accept "
            f"{total.nights_with_accept / args.nights:.4f} ({nlo:.4f}-{nhi:.4f}); fresh runs per confirmation "
            f"{total.fresh_runs / max(1, total.confirmations):.2f}  [{time.perf_counter() - started:.0f} s]"
        )
    print(
        f"real effects: {args.trials} trials each, the base's {args.base} runs as the parent, "
        f"{args.df} degrees of freedom of noise measured before"
    )
    print(f"  {'gain (σ)':>8}  " + "  ".join(f"{name:>32}" for name in rules))
    for gain in (0.5, 1.0, 1.5, 2.0, 3.0, 5.0, 10.0):
        cells = []
        for confirmer, rule in rules.values():
            p, runs = power(
                random.Random(2), confirmer, rule, gain, args.base, args.repeats, args.trials, args.df
            )
            cells.append(f"accepted {p:6.1%}, {runs:.2f} fresh runs")
        print(f"  {gain:>8}  " + "  ".join(f"{c:>32}" for c in cells))


SETTINGS: dict[str, Callable[[random.Random], float]] = {
    "ρ 0 (the seed shares nothing)": lambda r: 0.0,
    "ρ 0.5": lambda r: 0.5,
    "ρ 0.9": lambda r: 0.9,
    "ρ 0.99": lambda r: 0.99,
    "ρ 1 (the seed is all the noise)": lambda r: 1.0,
    "ρ uniform 0.5-1 (each change its own)": lambda r: r.uniform(0.5, 1.0),
    "ρ 0.99, one change in 10 at 0": lambda r: 0.0 if r.random() < 0.1 else 0.99,
    "ρ 0.999, one change in 5 at 0.5": lambda r: 0.5 if r.random() < 0.2 else 0.999,
}


def paired_figures(args: argparse.Namespace) -> None:
    rule = Rule(direction="minimize", confirm_runs=args.confirm_runs)
    print(
        f"pure noise with paired seeds: {args.paired_nights} nights of {args.experiments} experiments per "
        f"setting, {args.base} base runs, confirmed first on seeds the parent ran (ρ: the share of a "
        "run's noise variance that its seed sets, common to every commit)"
    )
    for (name, rho), pairing in itertools.product(SETTINGS.items(), (True, False)):
        if args.only not in name:
            continue
        started = time.perf_counter()
        rng = random.Random(3)
        total, used = Tally(), 0
        if not pairing:
            name = "  the same, unpaired (before)"
        for _ in range(args.paired_nights):
            t, u = paired_night(rng, rule, args.base, args.experiments, partial(rho, rng), pairing=pairing)
            total.confirmations += t.confirmations
            total.accepts += t.accepts
            total.fresh_runs += t.fresh_runs
            total.nights_with_accept += t.nights_with_accept
            used += u
        lo, hi = wilson(total.accepts, total.confirmations)
        print(
            f"  {name:<38} accepts per confirmation {total.accepts / max(1, total.confirmations):.5f} "
            f"(95% {lo:.5f}-{hi:.5f}, {total.confirmations}); nights with one "
            f"{total.nights_with_accept / args.paired_nights:.4f}; decided by the paired test "
            f"{used / max(1, total.confirmations):.0%}; fresh runs {total.fresh_runs / max(1, total.confirmations):.2f}"
            f"  [{time.perf_counter() - started:.0f} s]"
        )
    print(
        "real gains with paired seeds: nights of 40 experiments, each truly better than its parent by the gain"
    )
    for rho_name, rho_value in (("ρ 0", 0.0), ("ρ 0.9", 0.9), ("ρ 0.99", 0.99)):
        cells = []
        for gain in (0.25, 0.5, 1.0, 2.0):
            rng = random.Random(4)
            total = Tally()
            for _ in range(max(1, args.paired_nights // 20)):
                t, _u = paired_night(rng, rule, args.base, 40, partial(float, rho_value), gain)
                total.confirmations += t.confirmations
                total.accepts += t.accepts
                total.fresh_runs += t.fresh_runs
            nights = max(1, args.paired_nights // 20)
            cells.append(
                f"{gain}σ: {total.accepts / (40 * nights):5.1%} accepted, "
                f"{total.fresh_runs / max(1, total.confirmations):.2f} fresh runs"
            )
        print(f"  {rho_name:<7} " + "; ".join(cells))


if __name__ == "__main__":
    main()
