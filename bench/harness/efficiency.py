"""Sample efficiency counted as a user pays for it: benchmark runs, seed noise included.

Each objective is a real benchmark script in a fresh repository (constants at the top,
Gaussian seed noise from $GITRESEARCH_SEED), searched by the real `gitresearch start`
(`--no-finalize`: the ablation is reported apart). Every benchmark run the search made is
counted: the base's runs, each experiment's measurements and its confirmations. Optuna's
samplers then get exactly that many runs of the same noisy benchmark, evaluated in this
process (the base configuration as their first trial, the same ranges `gitresearch check`
derives), and each ends with the configuration of its best observed value, which is what a
user of Optuna would take. Quality is the *true* (noise-free) regret of the configuration
each method ends with: f(config) - f(optimum).

Objectives:
- `smooth`: 9 knobs, 6 matter, a learning rate whose best value moves with the batch size;
- `sparse`: 24 knobs, 5 matter (two of them interacting), 19 that do nothing.

Run: `python bench/harness/efficiency.py [--experiments 30] [--seeds 3] [--first-seed 0] [--objectives smooth,sparse] [--samplers gp]`
Optuna's GPSampler is included when torch and scipy are installed (`pip install scipy`),
CMA-ES when cmaes is (`pip install cmaes`).
"""

from __future__ import annotations

import argparse
import ast
import importlib.util
import json
import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import optuna

from gitresearch.propose.searchspace import Value, space_range
from gitresearch.propose.sweep import Dim

sys.path.insert(0, str(Path(__file__).resolve().parent))
from objectives import NOISE, OBJECTIVES, Objective, noisy


def render_bench(o: Objective) -> str:
    """The benchmark script: the knobs, then the objective's code, noise from the seed."""
    lines = ["import math, os, random, sys", "# --- knobs ---"]
    for k, v in o.initial.items():
        lines.append(f"{k} = {v!r}")
    lines += [
        "# --- end of knobs ---",
        f"sys.path.insert(0, {str(Path(__file__).resolve().parent)!r})",
        "from objectives import OBJECTIVES, noisy",
        "seed = int(os.environ['GITRESEARCH_SEED'])",
        f"value = noisy(OBJECTIVES[{o.name!r}], {{k: globals()[k] for k in {list(o.initial)!r}}}, seed)",
        "print(f'loss: {value:.6f}')",
    ]
    return "\n".join(lines) + "\n"


CONFIG = """\
[objective]
command = "python bench.py"
metric = "loss"
timeout = "30s"
sandbox = "off"

[search]
baseline_runs = 3
seed = {seed}
model = "{model}"

[budget]
experiments = {experiments}
gpus = "none"
jobs = {jobs}

[[allow]]
path = "bench.py"
regions = {regions}
"""


def run_sweep(
    o: Objective, experiments: int, seed: int, model: str = "auto", jobs: int = 1
) -> tuple[float, int, float, float]:
    """(true regret of the final incumbent, benchmark runs made, seconds, true regret of the
    best-measured experiment) for `gitresearch start`."""
    with tempfile.TemporaryDirectory() as tmp:
        repo = Path(tmp) / "repo"
        repo.mkdir()
        (repo / "bench.py").write_text(render_bench(o))
        regions = "[" + ", ".join(f'"{k}"' for k in o.initial) + "]"
        (repo / "boundaries.toml").write_text(
            CONFIG.format(seed=seed, experiments=experiments, regions=regions, model=model, jobs=jobs)
        )
        env = {
            **os.environ,
            "GIT_AUTHOR_NAME": "b",
            "GIT_AUTHOR_EMAIL": "b@b",
            "GIT_COMMITTER_NAME": "b",
            "GIT_COMMITTER_EMAIL": "b@b",
            "PATH": os.path.dirname(sys.executable) + os.pathsep + os.environ["PATH"],
        }
        for step in (["init", "-q"], ["add", "-A"], ["commit", "-qm", "bench"]):
            subprocess.run(["git", *step], cwd=repo, env=env, check=True)
        started = time.perf_counter()
        done = subprocess.run(
            [sys.executable, "-m", "gitresearch", "start", "--name", "e", "--no-finalize"],
            cwd=repo,
            env=env,
            capture_output=True,
            text=True,
        )
        seconds = time.perf_counter() - started
        if done.returncode != 0:
            raise SystemExit(f"gitresearch start failed:\n{done.stderr[-3000:]}")
        db = sqlite3.connect(repo / ".git" / "gitresearch" / "ledger.sqlite")
        runs = db.execute(
            "SELECT COUNT(*) FROM measurements WHERE run='e' AND purpose IN ('baseline','measure','confirm') "
            "AND status IN ('ok','failed')"
        ).fetchone()[0]
        best = db.execute("SELECT best, base FROM runs WHERE name='e'").fetchone()

        def regret_at(sha: str) -> float:
            text = subprocess.run(
                ["git", "show", f"{sha}:bench.py"], cwd=repo, capture_output=True, text=True, check=True
            ).stdout
            config = dict(o.initial)
            for line in text.splitlines():
                name, sep, rest = line.partition(" = ")
                if sep and name in config:
                    config[name] = ast.literal_eval(rest)
            return o.f(config) - o.f(o.best)

        # The best-measured experiment, confirmed or not: what the proposals found, before the
        # acceptance rule's noise bar (the incumbent is only what beat it on fresh seeds).
        means: dict[int, list[float]] = {}
        for number, metrics in db.execute(
            "SELECT number, metrics FROM measurements WHERE run='e' AND number > 0 AND status='ok'"
        ):
            means.setdefault(number, []).append(json.loads(metrics)["loss"])
        top = min(means, key=lambda n: statistics.mean(means[n])) if means else None
        top_sha = db.execute(
            "SELECT commit_sha FROM experiments WHERE run='e' AND number=?", (top,)
        ).fetchone()
        measured = regret_at(top_sha[0]) if top_sha and top_sha[0] else regret_at(best[1])
        return regret_at(best[0] or best[1]), int(runs), seconds, measured


def dims(o: Objective) -> dict[str, Dim]:
    out = {}
    for label, value in o.initial.items():
        kind = "bool" if isinstance(value, bool) else "int" if isinstance(value, int) else "float"
        out[label] = Dim(label, kind, *space_range(value, label))
    return out


def run_optuna(o: Objective, runs: int, seed: int, sampler: optuna.samplers.BaseSampler) -> float:
    """True regret of the best observed trial after `runs` noisy evaluations (the base first)."""
    ds = dims(o)
    study = optuna.create_study(direction="minimize", sampler=sampler)

    def trial_fn(trial: optuna.Trial) -> float:
        x: dict[str, Value] = {}
        for label, d in ds.items():
            if d.kind == "bool":
                x[label] = trial.suggest_categorical(label, [False, True])
            else:
                x[label] = d.from_unit(trial.suggest_float(label, 0.0, 1.0))
        trial.set_user_attr("x", x)
        return noisy(o, x, seed * 100_003 + trial.number)

    study.enqueue_trial(
        {label: (v if isinstance(v, bool) else ds[label].to_unit(v)) for label, v in o.initial.items()}
    )
    study.optimize(trial_fn, n_trials=runs)
    return o.f(study.best_trial.user_attrs["x"]) - o.f(o.best)


SAMPLER_NAMES = {"gp": "optuna GP", "tpe": "optuna TPE", "cmaes": "optuna CMA-ES", "random": "random"}


def samplers(seed: int) -> dict[str, optuna.samplers.BaseSampler]:
    found: dict[str, optuna.samplers.BaseSampler] = {
        "optuna TPE": optuna.samplers.TPESampler(seed=seed),
        "random": optuna.samplers.RandomSampler(seed=seed),
    }
    if importlib.util.find_spec("cmaes"):  # `pip install cmaes`
        found["optuna CMA-ES"] = optuna.samplers.CmaEsSampler(seed=seed, warn_independent_sampling=False)
    if importlib.util.find_spec("torch") and importlib.util.find_spec("scipy"):
        found["optuna GP"] = optuna.samplers.GPSampler(seed=seed)
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--experiments", type=int, default=30, help="the sweep's experiment budget")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument(
        "--first-seed", type=int, default=0, help="seeds first-seed .. first-seed + seeds - 1"
    )
    parser.add_argument("--objectives", default="smooth,sparse")
    parser.add_argument("--models", default="tpe,gp", help="the sweep's [search] model values to compare")
    parser.add_argument("--sweep-only", action="store_true", help="leave the Optuna samplers out")
    parser.add_argument(
        "--samplers",
        default="",
        help="only these of Optuna's samplers, comma-separated (gp,tpe,cmaes,random; default: all installed)",
    )
    parser.add_argument(
        "--jobs", type=int, default=1, help="the sweep's slots (1: sequential, as the Optuna samplers run)"
    )
    args = parser.parse_args()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    print(f"noise sigma {NOISE}; true regret of the configuration each method ends with (lower is better)")
    for name in args.objectives.split(","):
        o = OBJECTIVES[name]
        regrets: dict[str, list[float]] = {}
        all_runs: list[int] = []
        for seed in range(args.first_seed, args.first_seed + args.seeds):
            runs_this_seed = []
            for model in args.models.split(","):
                regret, runs, seconds, measured = run_sweep(o, args.experiments, seed, model, args.jobs)
                runs_this_seed.append(runs)
                regrets.setdefault(f"sweep ({model})", []).append(regret)
                regrets.setdefault(f"  best measured ({model})", []).append(measured)
                print(
                    f"  [{name} seed {seed}: the {model} sweep made {runs} benchmark runs in {seconds:.0f} s]",
                    flush=True,
                )
            runs = round(statistics.mean(runs_this_seed))
            all_runs.append(runs)
            wanted = {SAMPLER_NAMES[s] for s in args.samplers.split(",") if s} if args.samplers else None
            for label, sampler in ({} if args.sweep_only else samplers(seed)).items():
                if wanted is not None and label not in wanted:
                    continue
                regrets.setdefault(label, []).append(run_optuna(o, runs, seed, sampler))
        print(
            f"{name}: {len(o.initial)} knobs, f(initial) - f* = {o.f(o.initial) - o.f(o.best):.3f}; "
            f"{args.experiments} experiments = {statistics.mean(all_runs):.0f} benchmark runs on average "
            f"(every method gets the same runs, seed by seed)"
        )
        for label, values in regrets.items():
            print(
                f"  {label:<18} median {statistics.median(values):.4f}   mean {statistics.mean(values):.4f}"
                f"   per seed {' '.join(f'{v:.3f}' for v in values)}"
            )
        for model in args.models.split(","):
            ours, theirs = regrets.get(f"sweep ({model})"), regrets.get("optuna GP")
            if ours and theirs:
                wins = sum(a <= b for a, b in zip(ours, theirs, strict=True))
                print(f"  sweep ({model}) at least as good as optuna GP on {wins} of {len(ours)} seeds")


if __name__ == "__main__":
    main()
