"""Record the demo's curves for a set of changes: what `pruning.py --part late` replays.

Each change is the demo (bench/nanogpt) with some constants of train.py set (and, for a
longer run, prepare.py's MAX_STEPS; for another schedule, its `lr_at` replaced), trained on
seeds 0..N-1 in a copy of the folder; its
`step:`/`val_loss:` lines are the curve and `prepare.py score` gives the final value. Two
parents: `B`, the demo as shipped, and `I`, the demo with its learning rate and warmup
fixed (3e-3 and 30 steps); every other change is named after the parent it alters
(`I_lr6e-3` is `I` with a peak learning rate of 6e-3).

Among them, late bloomers: changes that trail their parent for part of the run and end
better (a warmup of 100 steps, a higher learning rate that pays off as it decays, a run
twice as long, which is compared with its parent's curve up to the parent's last step, and
`I_lr1.2e-2_wsd`, which holds its peak until 80% of the run: behind `I_lr1.2e-2`'s cosine
until it cools down). A change is compared with every recorded run its name extends
(gitresearch.testing.curves.recorded_pairs).

Writes a JSON list of [name, seed, [[step, value], ...], final] to `--out`
(bench/results/demo-curves.json by default). About 10 s per run, two runs at a time.

Run: `python bench/harness/demo_curves.py [--seeds 3] [--only I,I_steps600]`
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "bench" / "nanogpt"

FIXED = {"LEARNING_RATE": "3e-3", "WARMUP_STEPS": "30"}
CHANGES: dict[str, dict[str, str]] = {
    "B": {},
    "B_lr1.2e-3": {"LEARNING_RATE": "1.2e-3"},
    "B_lr3e-3": {"LEARNING_RATE": "3e-3"},
    "I": FIXED,
    "I_beta0.95": {**FIXED, "BETAS": "(0.9, 0.95)"},
    "I_drop0.5": {**FIXED, "DROPOUT": "0.5"},
    "I_eps1e-8": {**FIXED, "ADAM_EPS": "1e-8"},
    "I_lr1.2e-2": {**FIXED, "LEARNING_RATE": "1.2e-2"},
    "I_lr1e-3": {**FIXED, "LEARNING_RATE": "1e-3"},
    "I_lr6e-3": {**FIXED, "LEARNING_RATE": "6e-3"},
    "I_lr6e-3_min0": {**FIXED, "LEARNING_RATE": "6e-3", "MIN_LR_RATIO": "0.0"},
    "I_warm0": {**FIXED, "WARMUP_STEPS": "0"},
    "I_warm100": {**FIXED, "WARMUP_STEPS": "100"},
    "I_wd0.1": {**FIXED, "WEIGHT_DECAY": "0.1"},
    # a longer run: prepare.py's budget, which the demo protects (here a change of its own), reported every 25 steps as the parent's
    "I_steps450": {**FIXED, "MAX_STEPS": "450", "REPORT_EVERY": "25"},
    "I_steps600": {**FIXED, "MAX_STEPS": "600", "REPORT_EVERY": "25"},
    "I_lr1.2e-2_warm100": {**FIXED, "LEARNING_RATE": "1.2e-2", "WARMUP_STEPS": "100"},
    # another schedule (train.py's lr_at replaced): warmup, then the peak held until 80% of the
    # run and a linear decay to zero (warmup-stable-decay), or a tenfold drop at 75%
    "I_wsd": {**FIXED, "SCHEDULE": "wsd"},
    "I_lr6e-3_wsd": {**FIXED, "LEARNING_RATE": "6e-3", "SCHEDULE": "wsd"},
    "I_step": {**FIXED, "SCHEDULE": "step"},
    "I_lr6e-3_step": {**FIXED, "LEARNING_RATE": "6e-3", "SCHEDULE": "step"},
    "I_lr1.2e-2_wsd": {**FIXED, "LEARNING_RATE": "1.2e-2", "SCHEDULE": "wsd"},
    "I_lr2.4e-2_wsd": {**FIXED, "LEARNING_RATE": "2.4e-2", "SCHEDULE": "wsd"},
    "I_lr1.2e-2_step": {**FIXED, "LEARNING_RATE": "1.2e-2", "SCHEDULE": "step"},
}

_WARMUP = """def lr_at(step: int) -> float:
    if step < WARMUP_STEPS:
        return LEARNING_RATE * (step + 1) / WARMUP_STEPS
"""
SCHEDULES = {
    "wsd": _WARMUP
    + """    cool = int(0.8 * MAX_STEPS)
    if step < cool:
        return LEARNING_RATE
    return LEARNING_RATE * (MAX_STEPS - step) / (MAX_STEPS - cool)
""",
    "step": _WARMUP + "    return LEARNING_RATE * (1.0 if step < 0.75 * MAX_STEPS else 0.1)\n",
}


def run(name: str, seed: int) -> tuple[str, int, list[list[float]], float]:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "nanogpt"
        shutil.copytree(DEMO, folder, ignore=shutil.ignore_patterns("out", "__pycache__"))
        for constant, value in CHANGES[name].items():
            if constant == "SCHEDULE":
                path = folder / "train.py"
                text, n = re.subn(
                    r"^def lr_at\(.*?(?=\n\n\ndef )", SCHEDULES[value], path.read_text(), flags=re.M | re.S
                )
                if n != 1:
                    raise SystemExit(f"{name}: no single `def lr_at` in {path.name}")
                path.write_text(text)
                continue
            path = folder / ("prepare.py" if constant in ("MAX_STEPS", "REPORT_EVERY") else "train.py")
            text, n = re.subn(
                rf"^{constant} = [^#\n]*", f"{constant} = {value}  ", path.read_text(), flags=re.M
            )
            if n != 1:
                raise SystemExit(f"{name}: no single `{constant} = ...` line in {path.name}")
            path.write_text(text)
        env = {**os.environ, "GITRESEARCH_SEED": str(seed), "GITRESEARCH_OUTPUT": tmp, "TORCH_THREADS": "1"}
        trained = subprocess.run(
            [sys.executable, "train.py"], cwd=folder, env=env, capture_output=True, text=True, check=False
        )
        if trained.returncode != 0:
            raise SystemExit(f"{name} seed {seed}: train.py failed:\n{trained.stderr[-2000:]}")
        curve: list[list[float]] = []
        step: float | None = None
        for line in trained.stdout.splitlines():
            if m := re.fullmatch(r"step: (\S+)", line.strip()):
                step = float(m.group(1))
            elif (m := re.fullmatch(r"val_loss: (\S+)", line.strip())) and step is not None:
                curve.append([step, float(m.group(1))])
                step = None
        scored = subprocess.run(
            [sys.executable, "prepare.py", "score"],
            cwd=folder,
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        final = [float(m.group(1)) for m in re.finditer(r"^val_loss: (\S+)", scored.stdout, flags=re.M)]
        if scored.returncode != 0 or not final:
            raise SystemExit(f"{name} seed {seed}: prepare.py score failed:\n{scored.stderr[-2000:]}")
        return name, seed, curve, final[-1]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--only", help="a comma-separated list of changes (default: all)")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "demo-curves.json")
    args = parser.parse_args()
    names = args.only.split(",") if args.only else list(CHANGES)
    unknown = [n for n in names if n not in CHANGES]
    if unknown:
        raise SystemExit(f"unknown change(s) {', '.join(unknown)}; known: {', '.join(CHANGES)}")
    todo = [(n, s) for n in names for s in range(args.seeds)]
    with ThreadPoolExecutor(args.jobs) as pool:
        rows = []
        for row in pool.map(lambda t: run(*t), todo):
            rows.append(row)
            print(f"{row[0]} seed {row[1]}: final {row[3]:.4f}, {len(row[2])} points", flush=True)
    if args.only and args.out.exists():  # keep the other changes already recorded
        rows = [r for r in json.loads(args.out.read_text()) if r[0] not in names] + rows
    args.out.write_text(json.dumps(rows))
    print(f"wrote {len(rows)} curves to {args.out}")


if __name__ == "__main__":
    main()
