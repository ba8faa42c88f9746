"""Early stopping: experiments per hour with pruning on and off, and how often it was wrong.

Three parts (`--part fake,late,demo`; the first two by default):

- `fake`: the real search loop, store, ledger and sweep, with the scripted executor of the
  tests (gitresearch.testing.fakeexec) running the `smooth` objective of objectives.py as a
  training run of `--job` seconds that reports 12 intermediate values
  (gitresearch.testing.curves). A learning rate above the best one, or a warmup below it,
  is a late bloomer: it trails its parent for the first 30% (20%) of the run, then catches
  up. Each setting searches for the same wall-clock time (`--wall`) from the same seeds;
  the table gives experiments per hour (normalised to a one-hour run), the true regret of
  the final incumbent, the accepted changes, the pruned experiments (in brackets those
  stopped against the best gate pass held rather than their parent) and the false prunes:
  pruned experiments whose configuration is truly better than the one they were stopped
  against. It also prints the busy slot time by purpose and a ceiling: what an oracle that
  stopped at half of its run every measurement of a change truly worse than its parent or
  than an earlier gate pass on the same parent would give.
- `late`: the rule alone over a family of known-good late bloomers (synthetic curves: a
  handicap of 0.05 to 0.4 held until 0% to 70% of the run, ending 0.01 to 0.1 better), and
  over the demo's own curves (bench/results/demo-curves.json: 24 changes, three seeds each,
  recorded from bench/nanogpt), counting the improvements each setting stops.
- `demo`: the bundled demo (`gitresearch start` in a fresh clone) once per `--demo-settings`
  (off and conservative), `--demo-models` (tpe, the demo's screening as shipped, and auto,
  the default Gaussian process) and `--demo-seeds`, each for `--demo-wall` of wall-clock
  time: experiments per hour and per busy-slot hour, pruned, accepted, the final best
  val_loss, how far behind the discarded ones ended, busy time by purpose, a ceiling, and
  the ratios to off (the median over seeds).

Run: `python bench/harness/pruning.py [--seeds 5] [--wall 40] [--job 1.0] [--part fake,late]`
"""

from __future__ import annotations

import argparse
import ast
import json
import math
import os
import re
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path

from gitresearch.cli.workspace import Overrides, open_workspace
from gitresearch.execute.base import Curve, Job
from gitresearch.loop import Search
from gitresearch.notes import PURPOSES
from gitresearch.propose.choose import make_proposer
from gitresearch.testing.curves import first_stop, recorded_pairs, training_curve
from gitresearch.testing.fakeexec import ScriptedExecutor

sys.path.insert(0, str(Path(__file__).resolve().parent))
from objectives import OBJECTIVES, Value, noisy

ROOT = Path(__file__).resolve().parents[2]
OBJECTIVE = OBJECTIVES["smooth"]

CONFIG = """\
[objective]
command = "python bench.py"
metric = "loss"
sandbox = "off"

[search]
baseline_runs = 3
seed = {seed}
prune = "{prune}"

[budget]
experiments = 10000
wall_clock = "{wall}s"
gpus = "none"
jobs = 2

[[allow]]
path = "bench.py"
regions = {regions}
"""


def config_of(text: str) -> dict[str, Value]:
    config = dict(OBJECTIVE.initial)
    for line in text.splitlines():
        name, sep, rest = line.partition(" = ")
        if sep and name in config:
            config[name] = ast.literal_eval(rest)
    return config


def curve_for(config: Mapping[str, Value], seed: int) -> Curve:
    """A training run of `config` on `seed`: ends at the noisy objective, 1.5 higher at first;
    too high a learning rate trails for 30% of the run, too short a warmup for 20%."""
    final = noisy(OBJECTIVE, config, seed)
    lr, batch = float(config["LR"]), float(config["BATCH"])
    best_lr = 3e-3 * math.sqrt(batch / 64)
    late, late_at = 0.0, 0.0
    if lr > best_lr:
        late, late_at = 0.4 * math.log10(lr / best_lr), 0.3
    if float(config["WARMUP"]) < 50:
        late, late_at = late + 0.2 * math.log10(50 / float(config["WARMUP"])), max(late_at, 0.2)
    key = tuple(sorted((k, str(v)) for k, v in config.items()))
    return training_curve(final, seed, config=key, start=final + 1.5, late=late, late_at=late_at, noise=0.005)


def fake_search(prune: str, seed: int, wall: float, job_seconds: float) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        repo = Path(tmp)
        lines = [f"{k} = {v!r}" for k, v in OBJECTIVE.initial.items()]
        (repo / "bench.py").write_text("\n".join(lines) + "\nprint('loss: 1.0')\n")
        regions = "[" + ", ".join(f'"{k}"' for k in OBJECTIVE.initial) + "]"
        (repo / "boundaries.toml").write_text(
            CONFIG.format(seed=seed, prune=prune, wall=wall, regions=regions)
        )
        env = {**os.environ, "GIT_AUTHOR_NAME": "b", "GIT_AUTHOR_EMAIL": "b@b"}
        env |= {"GIT_COMMITTER_NAME": "b", "GIT_COMMITTER_EMAIL": "b@b"}
        for step in (["init", "-q"], ["add", "-A"], ["commit", "-qm", "bench"]):
            subprocess.run(["git", *step], cwd=repo, env=env, check=True)
        os.environ.update({k: env[k] for k in env if k.startswith("GIT_")})
        ws = open_workspace(repo, None, Overrides())
        configs: dict[str, dict[str, Value]] = {}

        def config(job_or_commit: Job | str) -> dict[str, Value]:
            commit = job_or_commit.commit if isinstance(job_or_commit, Job) else job_or_commit
            if commit not in configs:
                configs[commit] = config_of((ws.store.source(commit).read_bytes("bench.py") or b"").decode())
            return configs[commit]

        executor = ScriptedExecutor(
            lambda job: curve_for(config(job), job.seed)[-1][1],
            ws.store.state_dir / "fake-logs",
            slots=2,
            seconds=job_seconds,
            curve=lambda job: curve_for(config(job), job.seed),
        )
        proposer = make_proposer(ws.config, ws.boundaries, ws.store.source(ws.store.head()), lambda _: None)
        search = Search(
            store=ws.store,
            ledger=ws.ledger,
            boundaries=ws.boundaries,
            executor=executor,
            proposer=proposer,
            run="p",
            config=ws.config,
        )
        started = time.monotonic()
        search.start()
        search.loop()
        seconds = time.monotonic() - started
        proposer.close()
        true = OBJECTIVE.f
        exps = list(search.experiments.values())
        pruned = [e for e in exps if e.decision.pruned is not None and e.status == "discarded"]

        false = [
            e
            for e in pruned
            if e.decision.pruned
            and true(config(e.commit)) < true(config(search.stopped_against(e, e.decision.pruned)))
        ]
        done = [e for e in exps if e.status in ("accepted", "discarded", "failed")]
        runs = [m for m in ws.ledger.measurements("p") if m.status != "running"]
        busy = sum(m.seconds or 0.0 for m in runs)
        by_purpose = {p: sum(m.seconds or 0.0 for m in runs if m.purpose == p) for p in PURPOSES}
        # the ceiling: an oracle that stopped at half of its run (the earliest a conservative
        # stop may come) every measurement of a change truly worse than its parent or than a
        # gate pass on the same parent before it (what a stop may compare with), the search
        # otherwise unchanged
        leads: dict[str, float] = {}
        worse = set()
        for e in sorted(exps, key=lambda e: e.number):
            mine = true(config(e.commit))
            if mine > min(leads.get(e.parent, math.inf), true(config(e.parent))):
                worse.add(e.number)
            if e.decision.gate is not None and e.decision.gate.passed:
                leads[e.parent] = min(leads.get(e.parent, math.inf), mine)
        saved = sum(
            (m.seconds or 0.0) * 0.5
            for m in runs
            if m.purpose == "measure" and m.status == "ok" and m.number in worse
        )
        return {
            **{f"busy_{p}": v / busy if busy else 0.0 for p, v in by_purpose.items()},
            "ceiling": busy / (busy - saved) if busy > saved else 0.0,
            "per_hour": len(done) / seconds * 3600,
            "per_busy_hour": len(done) / busy * 3600 if busy else 0.0,
            "regret": true(config(search.incumbent)) - true(OBJECTIVE.best),
            "accepted": sum(e.status == "accepted" for e in exps),
            "pruned": len(pruned),
            "false": len(false),
            "against_held": sum(bool(e.decision.pruned and e.decision.pruned.against) for e in pruned),
            "done": len(done),
        }


def part_fake(seeds: int, wall: float, job: float, settings: list[str]) -> None:
    print(f"## fake executor: `smooth` objective, {job:g} s per run, {wall:g} s of wall clock, 2 slots")
    print("(experiments/hour as if a run took one hour's share: the ratios are what matter)\n")
    print(
        "| setting | experiments per hour (median) | per hour of busy slots | final regret (median) "
        "| accepted | pruned (against a held gate pass) | false prunes |"
    )
    print("|---|---|---|---|---|---|---|")
    rows: dict[str, list[dict[str, float]]] = {}
    for prune in settings:
        rows[prune] = [fake_search(prune, seed, wall, job) for seed in range(seeds)]
        r = rows[prune]

        def med(key: str, r: list[dict[str, float]] = r) -> float:
            return statistics.median(x[key] for x in r)

        print(
            f"| {prune} | {med('per_hour'):.0f} | {med('per_busy_hour'):.0f} | {med('regret'):.4f} | "
            f"{sum(x['accepted'] for x in r):.0f} | {sum(x['pruned'] for x in r):.0f} "
            f"({sum(x['against_held'] for x in r):.0f}) of "
            f"{sum(x['done'] for x in r):.0f} | {sum(x['false'] for x in r):.0f} |",
            flush=True,
        )
    for prune, r in rows.items():
        shares = ", ".join(f"{p} {statistics.median(x[f'busy_{p}'] for x in r):.0%}" for p in PURPOSES)
        print(f"\n{prune}: busy slot time by purpose (median): {shares}")
    if "off" in rows:
        ceiling = statistics.median(x["ceiling"] for x in rows["off"])
        print(
            f"\nceiling: an oracle stopping at half of its run every measurement of a change truly worse "
            f"than its parent or an earlier gate pass on it "
            f"would give {ceiling:.2f}x per hour of busy slots over prune = off's runs"
        )
        base = statistics.median(x["per_hour"] for x in rows["off"])
        for prune in settings:
            if prune != "off":
                ratio = statistics.median(x["per_hour"] for x in rows[prune]) / base
                busy = statistics.median(x["per_busy_hour"] for x in rows[prune]) / statistics.median(
                    x["per_busy_hour"] for x in rows["off"]
                )
                print(
                    f"\n{prune}: {ratio:.2f}x the experiments per hour of prune = off, "
                    f"{busy:.2f}x per hour of busy slots (a GPU-hour)"
                )


def part_late() -> None:
    print("## known-good late bloomers: how many each setting stops\n")
    family = []
    for late in (0.05, 0.1, 0.2, 0.4):
        for at in (0.0, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7):
            for gain in (0.01, 0.03, 0.1):
                family.append((late, at, gain))
    ref = [training_curve(1.0, s, config="parent") for s in range(5)]
    print(
        "| setting | synthetic, handicap held to at most half the run: stopped | held past half: stopped "
        "| demo changes that end better: stopped |"
    )
    print("|---|---|---|---|")
    demo = [p for p in recorded_pairs(ROOT / "bench" / "results" / "demo-curves.json") if p.gain > 0]
    for rule in ("conservative", "aggressive"):
        stopped = {False: 0, True: 0}
        tried = {False: 0, True: 0}
        for late, at, gain in family:
            for seed in range(5):
                parent = training_curve(1.0, seed, config="parent")
                child = training_curve(1.0 - gain, seed, config=(late, at, gain), late=late, late_at=at)
                if child[-1][1] >= parent[-1][1]:
                    continue  # the noise ate the gain on this seed: not a known-good change here
                tried[at > 0.5] += 1
                stopped[at > 0.5] += (
                    first_stop(child, parent, ref, rule=rule, seed=seed, final_noise=0.006) is not None
                )
        good = len(demo)
        wrong = sum(
            first_stop(p.curve, p.parent, p.reference, rule=rule, seed=p.seed, final_noise=0.006) is not None
            for p in demo
        )
        print(
            f"| {rule} | {stopped[False]} of {tried[False]} | {stopped[True]} of {tried[True]} | "
            f"{wrong} of {good} |"
        )
    print(
        "\n(synthetic: handicap 0.05-0.4 held until 0-70% of the run, then fading; final 0.01-0.1 better;"
        " 5 seeds; a seed where the noise ate the gain is not counted)"
    )


def demo_search(prune: str, wall: str, model: str, seed: int) -> dict[str, float | str]:
    """One `gitresearch start` of the demo in a fresh clone: its figures, from its ledger."""
    with tempfile.TemporaryDirectory() as tmp:
        clone = Path(tmp) / "repo"
        subprocess.run(["git", "clone", "-q", str(ROOT), str(clone)], check=True)
        toml = (clone / "boundaries.toml").read_text()
        for key, value in (
            ("experiments", "1000"),
            ("wall_clock", f'"{wall}"'),
            ("prune", f'"{prune}"'),
            ("model", f'"{model}"'),
            ("seed", str(seed)),
        ):
            toml, n = re.subn(rf"^{key} = .*$", f"{key} = {value}", toml, count=1, flags=re.M)
            if n != 1:
                raise SystemExit(f"the demo's boundaries.toml has no `{key} = ...` line")
        (clone / "boundaries.toml").write_text(toml)
        env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
        subprocess.run(["git", "commit", "-qam", f"prune {prune}"], cwd=clone, env=env, check=True)
        started = time.monotonic()
        done = subprocess.run(
            [sys.executable, "-m", "gitresearch", "start", "--name", "d", "--no-finalize"],
            cwd=clone,
            env=env,
            capture_output=True,
            text=True,
        )
        seconds = time.monotonic() - started
        if done.returncode != 0:
            raise SystemExit(f"gitresearch start failed:\n{done.stderr[-3000:]}")
        db = sqlite3.connect(clone / ".git" / "gitresearch" / "ledger.sqlite")
        rows = db.execute("SELECT status, decision FROM experiments WHERE run='d'").fetchall()
        finished = [r for r in rows if r[0] in ("accepted", "discarded", "failed")]
        busy = db.execute("SELECT SUM(seconds) FROM measurements WHERE run='d'").fetchone()[0] or 0.0
        best = db.execute("SELECT best FROM runs WHERE name='d'").fetchone()[0]
        means = [
            json.loads(m)["val_loss"]
            for (m,) in db.execute(
                "SELECT m.metrics FROM measurements m JOIN experiments e ON e.run=m.run AND e.number=m.number "
                "WHERE m.run='d' AND e.commit_sha=? AND m.status='ok'",
                (best,),
            )
        ]
        if not means:  # nothing accepted: the base's own runs
            means = [
                json.loads(m)["val_loss"]
                for (m,) in db.execute(
                    "SELECT metrics FROM measurements WHERE run='d' AND purpose='baseline'"
                )
            ]
        by_purpose = dict(
            db.execute(
                "SELECT purpose, SUM(seconds) FROM measurements WHERE run='d' GROUP BY purpose"
            ).fetchall()
        )
        # the most any rule that lets a run pass half its steps could save: half of every
        # measurement of a discarded experiment (its start-up and scoring counted as saved too)
        losing = (
            db.execute(
                "SELECT SUM(m.seconds) FROM measurements m JOIN experiments e ON e.run=m.run AND e.number=m.number "
                "WHERE m.run='d' AND m.purpose='measure' AND e.status='discarded'"
            ).fetchone()[0]
            or 0.0
        )
        db.close()
        return {
            "done": len(finished),
            "per_hour": len(finished) / seconds * 3600,
            "per_busy_hour": len(finished) / busy * 3600 if busy else 0.0,
            "pruned": sum("pruned" in json.loads(r[1] or "{}") for r in finished),
            "accepted": sum(r[0] == "accepted" for r in finished),
            "best": statistics.mean(means),
            "ceiling": busy / (busy - losing / 2) if busy else 0.0,
            "sizes": _loser_sizes(finished),
            "shares": ", ".join(f"{p} {(by_purpose.get(p) or 0.0) / busy:.0%}" for p in PURPOSES)
            if busy
            else "",
        }


def part_demo(wall: str, settings: list[str], models: list[str], seeds: list[int]) -> None:
    print(f"\n## the demo, {wall} of wall clock each (`gitresearch start`, bench/nanogpt, 2 CPU jobs)\n")
    print(
        "| [search] model | seed | prune | experiments | per hour | per hour of busy slots | pruned "
        "| accepted | best val_loss |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    results: dict[tuple[str, str], list[dict[str, float | str]]] = {}
    for model in models:
        for seed in seeds:
            for prune in settings:
                r = demo_search(prune, wall, model, seed)
                results.setdefault((model, prune), []).append(r)
                print(
                    f"| {model} | {seed} | {prune} | {r['done']} | {r['per_hour']:.0f} | {r['per_busy_hour']:.0f} "
                    f"| {r['pruned']} | {r['accepted']} | {r['best']:.4f} |",
                    flush=True,
                )
    for (model, prune), rs in results.items():
        for seed, r in zip(seeds, rs):
            line = f"{model}, seed {seed}, {prune}: {r['sizes']}; busy slot time by purpose: {r['shares']}"
            if prune == "off":
                line += (
                    f"; ceiling: stopping every discarded experiment's measurement at half its run "
                    f"would give {r['ceiling']:.2f}x per hour of busy slots"
                )
            print(f"\n{line}")
    for model in models:
        off = results.get((model, "off"))
        for prune in settings:
            if prune == "off" or off is None:
                continue
            on = results[(model, prune)]
            wall_x = [float(a["per_hour"]) / float(b["per_hour"]) for a, b in zip(on, off)]
            busy_x = [float(a["per_busy_hour"]) / float(b["per_busy_hour"]) for a, b in zip(on, off)]
            no_worse = sum(float(a["best"]) <= float(b["best"]) for a, b in zip(on, off))
            print(
                f"\n{model}, {prune}: {statistics.median(wall_x):.2f}x the experiments per hour of prune = off "
                f"(median over {len(on)} seed(s); {', '.join(f'{x:.2f}' for x in wall_x)}), "
                f"{statistics.median(busy_x):.2f}x per hour of busy slots "
                f"({', '.join(f'{x:.2f}' for x in busy_x)}); final best no worse on {no_worse} of {len(on)}"
            )


def _loser_sizes(rows: list[tuple[str, str]]) -> str:
    """How far behind their parent the discarded experiments ended, in seed-noise widths: what
    any early stopping could hope to stop (one far behind) and what it must let finish."""
    bins = {"< 2σ": 0, "2-5σ": 0, "5-10σ": 0, "> 10σ": 0, "better": 0}
    for status, decision in rows:
        d = json.loads(decision or "{}")
        delta, noise = d.get("delta"), d.get("noise")
        if status != "discarded" or delta is None or not noise or "pruned" in d:
            continue
        worse = delta / noise  # val_loss: minimize, so positive is worse
        key = "better" if worse <= 0 else "< 2σ" if worse < 2 else "2-5σ" if worse < 5 else "5-10σ"
        bins["> 10σ" if worse >= 10 else key] += 1
    return "discarded experiments that ran to the end, by how much worse than their parent: " + ", ".join(
        f"{k}: {v}" for k, v in bins.items()
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--part", default="fake,late")
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--wall", type=float, default=40.0, help="seconds of search per setting and seed")
    parser.add_argument("--job", type=float, default=1.0, help="seconds per fake benchmark run")
    parser.add_argument("--settings", default="off,conservative,aggressive")
    parser.add_argument("--demo-wall", default="8m")
    parser.add_argument("--demo-settings", default="off,conservative")
    parser.add_argument(
        "--demo-models",
        default="tpe,auto",
        help="the demo's [search] model: tpe as shipped; auto, the GP (the default)",
    )
    parser.add_argument("--demo-seeds", default="0", help="the demo's [search] seed, one search per seed")
    args = parser.parse_args()
    parts = args.part.split(",")
    if "fake" in parts:
        part_fake(args.seeds, args.wall, args.job, args.settings.split(","))
    if "late" in parts:
        part_late()
    if "demo" in parts:
        part_demo(
            args.demo_wall,
            args.demo_settings.split(","),
            args.demo_models.split(","),
            [int(x) for x in args.demo_seeds.split(",")],
        )


if __name__ == "__main__":
    main()
