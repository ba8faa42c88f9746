"""How long the sweep takes to propose, once it has seen 100 or 500 measured experiments.

A slot must never wait for a proposal: a benchmark run takes minutes, so a model fit of a
second is free, ten are not. For each model (GP when torch and scipy are installed, TPE)
and each space size, the engine is fed N observations of a noisy quadratic, then asked
for model suggestions; the median and worst time of one suggestion are printed.

Run: `python bench/harness/propose_latency.py [--observations 100,500] [--knobs 9,24]`
"""

from __future__ import annotations

import argparse
import random
import statistics
import time

from gitresearch.propose.searchspace import Value, space_range
from gitresearch.propose.sweep import Dim, SweepEngine, gp_available


def engine(knobs: int, model: str, observations: int) -> SweepEngine:
    initial: dict[str, Value] = {f"K{i:02d}": 0.1 * (i + 1) if i % 3 else 10 * (i + 1) for i in range(knobs)}
    dims = [Dim(k, "int" if isinstance(v, int) else "float", *space_range(v, k)) for k, v in initial.items()]
    e = SweepEngine(dims, initial, "minimize", seed=0, model=model)
    rng = random.Random(0)
    for _ in range(observations):
        changes = {k: d.from_unit(rng.random()) for k, d in list(e.dims.items())[: rng.randint(1, 3)]}
        value = sum(d.to_unit(v) ** 2 for k, v in changes.items() for d in [e.dims[k]]) + rng.gauss(0, 0.05)
        e.observe(changes, dict(e.incumbent), value, False, "local move around the incumbent")
    return e


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--observations", default="100,500")
    parser.add_argument("--knobs", default="9,24")
    parser.add_argument("--asks", type=int, default=5)
    args = parser.parse_args()
    models = ["tpe"] + (["gp"] if gp_available() else [])
    print(f"models: {', '.join(models)}; {args.asks} suggestions each (median, worst)")
    for model in models:
        for knobs in (int(k) for k in args.knobs.split(",")):
            for n in (int(o) for o in args.observations.split(",")):
                e = engine(knobs, model, n)
                times = []
                for _ in range(args.asks):
                    start = time.perf_counter()
                    e._suggest()
                    times.append(time.perf_counter() - start)
                print(
                    f"  {model.upper():<4} {knobs:>3} knobs, {n:>4} observations: "
                    f"{statistics.median(times):7.3f} s  (worst {max(times):.3f} s)",
                    flush=True,
                )


if __name__ == "__main__":
    main()
