"""The sweep against plain Optuna TPE and random search at the same number of experiments.

The objective is synthetic, with a known optimum, and shaped like a hand-tuned training
config: a learning rate three times too low whose best value depends on the batch size
(an interacting pair), an Adam beta2 too close to 1 for a short run, a warmup ten times too
long, a weight decay ten times too high, a dropout that should be off, and three knobs
that do nothing. All methods see the same ranges (the ones `gitresearch check` derives
from the initial values); every method gets N evaluations of the noise-free objective,
and the regret is f(best found) − f(optimum). The sweep's decisions here are the loop's
with zero noise (any strict improvement is accepted); in a real run confirmations cost
extra runs, which this comparison of proposal quality leaves out.
Run: `python bench/harness/search_efficiency.py [--n 40] [--seeds 10]`.
"""

from __future__ import annotations

import argparse
import math
import statistics
from collections.abc import Callable, Mapping

import optuna

from gitresearch.propose.searchspace import Value, space_range
from gitresearch.propose.sweep import Dim, SweepEngine

INITIAL: dict[str, Value] = {
    "LR": 1e-3,
    "BATCH": 64,
    "BETA2": 0.999,
    "WARMUP": 500,
    "WEIGHT_DECAY": 0.1,
    "DROPOUT": True,
    "GRAD_CLIP": 1.0,
    "EPS": 1e-8,
    "N_HEAD": 4,
}


def objective(x: Mapping[str, Value]) -> float:
    lr, batch = float(x["LR"]), float(x["BATCH"])
    best_lr = 3e-3 * math.sqrt(batch / 64)  # the pair: the best LR moves with the batch size
    f = (math.log10(lr) - math.log10(best_lr)) ** 2 * 4
    f += (math.log2(batch) - math.log2(128)) ** 2 * 0.05
    f += (math.log10(1 - float(x["BETA2"])) - math.log10(0.05)) ** 2 * 0.8
    f += (math.log10(float(x["WARMUP"])) - math.log10(50)) ** 2 * 0.6
    f += (math.log10(float(x["WEIGHT_DECAY"])) - math.log10(0.01)) ** 2 * 0.3
    f += 0.4 if x["DROPOUT"] else 0.0
    return f  # GRAD_CLIP, EPS and N_HEAD do not matter


def optimum() -> float:
    return objective(
        {
            **INITIAL,
            "LR": 3e-3 * math.sqrt(2),
            "BATCH": 128,
            "BETA2": 0.95,
            "WARMUP": 50,
            "WEIGHT_DECAY": 0.01,
            "DROPOUT": False,
        }
    )


def dims() -> list[Dim]:
    out = []
    for label, value in INITIAL.items():
        low, high, scale = space_range(value)
        kind = "bool" if isinstance(value, bool) else ("int" if isinstance(value, int) else "float")
        out.append(Dim(label, kind, low, high, scale))
    return out


def run_sweep(n: int, seed: int) -> float:
    engine = SweepEngine(dims(), INITIAL, "minimize", seed)
    incumbent = dict(INITIAL)
    best = objective(incumbent)
    for _ in range(n):
        found = engine.propose()
        if found is None:
            break
        changes, how = found
        value = objective({**incumbent, **changes})
        accepted = value < best
        engine.observe(changes, incumbent, value, accepted, how)
        if accepted:
            incumbent.update(changes)
            best = value
    return best


def run_optuna(n: int, seed: int, sampler: optuna.samplers.BaseSampler) -> float:
    ds = {d.label: d for d in dims()}
    study = optuna.create_study(direction="minimize", sampler=sampler)

    def trial_fn(trial: optuna.Trial) -> float:
        x: dict[str, Value] = {}
        for label, d in ds.items():
            if d.kind == "bool":
                x[label] = trial.suggest_categorical(label, [False, True])
            else:
                x[label] = d.from_unit(trial.suggest_float(label, 0.0, 1.0))
        return objective(x)

    study.enqueue_trial(
        {label: (v if isinstance(v, bool) else ds[label].to_unit(v)) for label, v in INITIAL.items()}
    )
    study.optimize(trial_fn, n_trials=n)
    return float(study.best_value)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--n", type=int, default=40, help="experiments per method")
    parser.add_argument("--seeds", type=int, default=10)
    args = parser.parse_args()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    f_star = optimum()
    methods: dict[str, Callable[[int, int], float]] = {
        "sweep": run_sweep,
        "tpe": lambda n, s: run_optuna(n, s, optuna.samplers.TPESampler(seed=s)),
        "random": lambda n, s: run_optuna(n, s, optuna.samplers.RandomSampler(seed=s)),
    }
    regrets: dict[str, list[float]] = {m: [] for m in methods}
    for seed in range(args.seeds):
        for name, method in methods.items():
            regrets[name].append(method(args.n, seed) - f_star)
    print(
        f"objective: 9 knobs (6 matter, one interacting pair); f(initial) - f* = {objective(INITIAL) - f_star:.3f}"
    )
    print(f"{args.n} experiments per method, {args.seeds} seeds; regret = f(best found) - f(optimum)")
    for name, values in regrets.items():
        print(
            f"  {name:<7} mean regret {statistics.mean(values):.4f}   median {statistics.median(values):.4f}"
        )
    for other in ("tpe", "random"):
        ratio = statistics.mean(regrets["sweep"]) / statistics.mean(regrets[other])
        print(f"regret ratio sweep / {other}: {ratio:.2f}  (below 1: the sweep is better)")


if __name__ == "__main__":
    main()
