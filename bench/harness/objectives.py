"""Synthetic benchmarks with a known optimum, for the efficiency bench: light to import, since
every benchmark run of a search imports this module (`efficiency.render_bench`)."""

from __future__ import annotations

import math
import os
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass

Value = int | float | bool | str
NOISE = 0.02


@dataclass(frozen=True)
class Objective:
    name: str
    initial: dict[str, Value]
    best: dict[str, Value]
    f: Callable[[Mapping[str, Value]], float]


def smooth(x: Mapping[str, Value]) -> float:
    lr, batch = float(x["LR"]), float(x["BATCH"])
    best_lr = 3e-3 * math.sqrt(batch / 64)  # the pair: the best LR moves with the batch size
    f = (math.log10(lr) - math.log10(best_lr)) ** 2 * 4
    f += (math.log2(batch) - math.log2(128)) ** 2 * 0.05
    f += (math.log10(1 - float(x["BETA2"])) - math.log10(0.05)) ** 2 * 0.8
    f += (math.log10(float(x["WARMUP"])) - math.log10(50)) ** 2 * 0.6
    f += (math.log10(float(x["WEIGHT_DECAY"])) - math.log10(0.01)) ** 2 * 0.3
    f += 0.4 if x["DROPOUT"] else 0.0
    return f  # GRAD_CLIP, EPS and N_HEAD do not matter


SMOOTH = Objective(
    "smooth",
    {
        "LR": 1e-3,
        "BATCH": 64,
        "BETA2": 0.999,
        "WARMUP": 500,
        "WEIGHT_DECAY": 0.1,
        "DROPOUT": True,
        "GRAD_CLIP": 1.0,
        "EPS": 1e-8,
        "N_HEAD": 4,
    },
    {
        "LR": 3e-3 * math.sqrt(2),
        "BATCH": 128,
        "BETA2": 0.95,
        "WARMUP": 50,
        "WEIGHT_DECAY": 0.01,
        "DROPOUT": False,
        "GRAD_CLIP": 1.0,
        "EPS": 1e-8,
        "N_HEAD": 4,
    },
    smooth,
)


def sparse(x: Mapping[str, Value]) -> float:
    a, b = math.log10(float(x["K00"])), math.log10(float(x["K07"]))
    f = (a - math.log10(0.3)) ** 2 * 2 + (b - a - 0.5) ** 2 * 1.0  # K07's best depends on K00
    f += (float(x["K11"]) - 0.3) ** 2 * 4
    f += (math.log10(float(x["K16"])) - math.log10(40)) ** 2 * 0.5
    f += (math.log10(1 - float(x["K21"])) - math.log10(0.02)) ** 2 * 0.5
    return f  # the other 19 knobs do nothing


SPARSE_INITIAL: dict[str, Value] = {
    f"K{i:02d}": v
    for i, v in enumerate(
        [
            0.05,
            2.0,
            0.5,
            8,
            0.9,
            1e-4,
            3,
            0.1,
            64,
            0.2,
            1.0,
            0.8,
            16,
            0.01,
            5.0,
            0.7,
            400,
            2,
            0.3,
            128,
            1e-3,
            0.9,
            12,
            0.05,
        ]
    )
}
SPARSE = Objective(
    "sparse",
    SPARSE_INITIAL,
    {**SPARSE_INITIAL, "K00": 0.3, "K07": 0.3 * 10**0.5, "K11": 0.3, "K16": 40, "K21": 0.98},
    sparse,
)
OBJECTIVES = {o.name: o for o in (SMOOTH, SPARSE)}


def noisy(o: Objective, x: Mapping[str, Value], seed: int) -> float:
    """f(x) plus the seed's noise, the same for every configuration on that seed (as when the
    seed sets the data order and the initial weights); with GITRESEARCH_BENCH_NOISE=own in the
    environment, each configuration's own noise on each seed instead (nothing shared)."""
    if os.environ.get("GITRESEARCH_BENCH_NOISE") == "own":
        return o.f(x) + random.Random(f"{sorted(x.items())}/{seed}").gauss(0, NOISE)
    return o.f(x) + random.Random(seed * 7919 + 17).gauss(0, NOISE)
