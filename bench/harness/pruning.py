"""Early stopping: experiments per hour with pruning on and off, and how often it was wrong.

Four parts (`--part fake,late,demo,replay`; the first two by default):

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
  against. It also prints the busy slot time by purpose and the oracle ceilings: what
  stopping, at half or a quarter of its run, every measurement of a change truly worse
  (or worse by more than 2 or 5 seed-noise widths) than its parent or an earlier gate pass
  on the same parent would give.
- `late`: the rule alone over a family of known-good late bloomers (synthetic curves: a
  handicap of 0.05 to 0.4 held until 0% to 70% of the run, ending 0.01 to 0.1 better), and
  over the demo's own curves (bench/results/demo-curves.json: 24 changes, three seeds each,
  recorded from bench/nanogpt), as recorded and with their seed spread halved, counting the
  improvements each setting stops.
- `demo`: the bundled demo (`gitresearch start` in a fresh clone) once per `--demo-settings`
  (off and conservative), `--demo-models` (tpe, the demo's screening as shipped, and auto,
  the default Gaussian process) and `--demo-seeds`, each for `--demo-wall` of wall-clock
  time: experiments per hour and per busy-slot hour, pruned, accepted, the final best
  val_loss, how far behind the discarded ones ended, busy time by purpose, how busy the
  slots were in each quarter of the search (a loop that keeps a slot waiting shows there),
  the oracle ceilings (as the fake's, from the measured values), and the ratios to off (the
  median over seeds). `--demo-keep DIR` keeps each search's ledger, with every run's curve.
- `replay`: the rule, both settings and the default with one guard loosened at a time,
  replayed over the runs of demo searches made with prune = "off" (`--replay` names their
  kept ledgers): the stops, the busy time they would have saved, and the late bloomers of
  `late` each stops. What a guard costs and what it keeps, without a search per variant.

Run: `python bench/harness/pruning.py [--seeds 5] [--wall 40] [--job 1.0] [--part fake,late]`
     `python bench/harness/pruning.py --part demo --demo-settings off --demo-models auto \\
        --demo-seeds 0,1,2 --demo-keep /tmp/ledgers`
     `python bench/harness/pruning.py --part replay --replay /tmp/ledgers/auto-0-off.sqlite,...`
"""

from __future__ import annotations

import argparse
import ast
import json
import math
import os
import re
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from gitresearch.cli.workspace import Overrides, open_workspace
from gitresearch.execute.base import Curve, Job
from gitresearch.loop import Search
from gitresearch.notes import PURPOSES
from gitresearch.propose.choose import make_proposer
from gitresearch.prune import SETTINGS, Setting
from gitresearch.testing.curves import first_stop, recorded_pairs, sharpened, training_curve
from gitresearch.testing.fakeexec import ScriptedExecutor

sys.path.insert(0, str(Path(__file__).resolve().parent))
from objectives import NOISE, OBJECTIVES, Value, noisy

ROOT = Path(__file__).resolve().parents[2]
OBJECTIVE = OBJECTIVES["smooth"]
# the oracle ceilings: (the share of its run at which a measurement is stopped, how many
# seed-noise widths worse than what it is compared with a change must end to be stopped)
CEILINGS = [(0.5, 0.0), (0.5, 2.0), (0.25, 2.0), (0.5, 5.0), (0.25, 5.0)]

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
        # the ceilings: an oracle that stopped at `share` of its run every measurement of a change
        # truly worse, by more than `margin` seed-noise widths, than its parent or than a gate
        # pass on the same parent before it (what a stop may compare with), the search otherwise
        # unchanged. Half and a margin of 0 is the most any rule may save that lets every run
        # pass half its steps; a larger margin leaves the near-ties, which no noise-aware rule
        # can tell from an improvement, to finish
        leads: dict[str, float] = {}
        behind: dict[int, float] = {}
        for e in sorted(exps, key=lambda e: e.number):
            mine = true(config(e.commit))
            behind[e.number] = (mine - min(leads.get(e.parent, math.inf), true(config(e.parent)))) / NOISE
            if e.decision.gate is not None and e.decision.gate.passed:
                leads[e.parent] = min(leads.get(e.parent, math.inf), mine)
        ceilings = {}
        for share, margin in CEILINGS:
            saved = sum(
                (m.seconds or 0.0) * (1.0 - share)
                for m in runs
                if m.purpose == "measure" and m.status == "ok" and behind.get(m.number, -1.0) > margin
            )
            ceilings[f"ceiling {share:g} {margin:g}"] = busy / (busy - saved) if busy > saved else 0.0
        return {
            **{f"busy_{p}": v / busy if busy else 0.0 for p, v in by_purpose.items()},
            **ceilings,
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
        print(f"\n{_ceilings(rows['off'], 'every change truly worse')}")
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


@dataclass(frozen=True)
class LateStops:
    """The known-good late bloomers a rule stops: (stopped, tried) for each family."""

    held_to_half: tuple[int, int]  # synthetic, the handicap held until at most half the run
    held_past_half: tuple[int, int]
    demo: tuple[int, int]  # the demo's recorded changes that end better than their parent
    demo_precise: tuple[int, int]  # the same, the seed spread of the curves halved


def late_stops(rule: Setting) -> LateStops:
    stopped = {False: 0, True: 0}
    tried = {False: 0, True: 0}
    ref = [training_curve(1.0, s, config="parent") for s in range(5)]
    for late in (0.05, 0.1, 0.2, 0.4):
        for at in (0.0, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7):
            for gain in (0.01, 0.03, 0.1):
                for seed in range(5):
                    parent = training_curve(1.0, seed, config="parent")
                    child = training_curve(1.0 - gain, seed, config=(late, at, gain), late=late, late_at=at)
                    if child[-1][1] >= parent[-1][1]:
                        continue  # the noise ate the gain on this seed: not a known-good change here
                    tried[at > 0.5] += 1
                    stop = first_stop(child, parent, ref, rule=rule, seed=seed, final_noise=0.006)
                    stopped[at > 0.5] += stop is not None
    demo = [p for p in recorded_pairs(ROOT / "bench" / "results" / "demo-curves.json") if p.gain > 0]
    wrong = sum(
        first_stop(p.curve, p.parent, p.reference, rule=rule, seed=p.seed, final_noise=0.006) is not None
        for p in demo
    )
    precise = sum(
        first_stop(p.curve, p.parent, sharpened(p.reference, 0.5), rule=rule, seed=p.seed, final_noise=0.003)
        is not None
        for p in demo
    )
    return LateStops(
        (stopped[False], tried[False]),
        (stopped[True], tried[True]),
        (wrong, len(demo)),
        (precise, len(demo)),
    )


def part_late() -> None:
    print("## known-good late bloomers: how many each setting stops\n")
    print(
        "| setting | synthetic, handicap held to at most half the run: stopped | held past half: stopped "
        "| demo changes that end better: stopped | the same, curves twice as precise |"
    )
    print("|---|---|---|---|---|")
    for name in ("conservative", "aggressive"):
        r = late_stops(SETTINGS[name])
        print(
            f"| {name} | {_of(r.held_to_half)} | {_of(r.held_past_half)} | {_of(r.demo)} | {_of(r.demo_precise)} |"
        )
    print(
        "\n(synthetic: handicap 0.05-0.4 held until 0-70% of the run, then fading; final 0.01-0.1 better;"
        " 5 seeds; a seed where the noise ate the gain is not counted. Twice as precise: the seed-to-seed"
        " spread of the reference curves and the final noise halved)"
    )


def _of(pair: tuple[int, int]) -> str:
    return f"{pair[0]} of {pair[1]}"


def variants() -> dict[str, Setting]:
    """The two settings, the earlier default, and the default with one guard loosened at a time."""
    c = SETTINGS["conservative"]
    return {
        "conservative": c,
        "aggressive": SETTINGS["aggressive"],
        "from half, lead 1 (the earlier default)": replace(c, after=0.5, lead=1.0),
        "conservative, z 2.5": replace(c, z=2.5),
        "conservative, 1 report": replace(c, persist=1),
        "conservative, lead 1": replace(c, lead=1.0),
        "conservative, no lead guard": replace(c, lead=0.0),
    }


@dataclass(frozen=True)
class Replayed:
    stops: int
    share: float  # where they came, on average: a share of the parent's steps
    ratio: float  # the busy slot time of the search over that time less what the stops save
    ahead: int  # stopped runs that ended ahead of the run they were compared with


Experiment = tuple[int, str, str, str, str]  # number, status, parent, commit, decision (JSON)


def passes_before(exps: list[Experiment], first_value: Mapping[int, float]) -> dict[int, tuple[float, str]]:
    """For each experiment, the best gate pass on the same parent before it (its first
    measured value and commit): what the loop compares a run with instead of its parent
    while gate passes are held (the loop: the best one held at the time)."""
    best: dict[str, tuple[float, str]] = {}
    before: dict[int, tuple[float, str]] = {}
    for number, _, parent, commit, decision in exps:
        if parent in best:
            before[number] = best[parent]
        passed = bool((json.loads(decision or "{}").get("gate") or {}).get("passed"))
        mine = first_value.get(number)
        if passed and mine is not None and (parent not in best or mine < best[parent][0]):
            best[parent] = (mine, commit)
    return before


@dataclass(frozen=True)
class SearchRuns:
    """A demo search made with prune = "off", read from its kept ledger once."""

    base: str
    busy: float
    curves: dict[str, dict[int, Curve]]  # commit -> seed -> the run's curve
    final: dict[tuple[str, int], float]  # (commit, seed) -> the run's val_loss
    measured: list[tuple[int, int, float, Curve, float]]  # number, seed, seconds, curve, val_loss
    against: dict[int, str]  # experiment -> the commit its runs are compared with
    parent: dict[int, str]
    noise: dict[int, float]


def search_runs(ledger: Path) -> SearchRuns:
    db = sqlite3.connect(ledger)
    base = db.execute("SELECT base FROM runs").fetchone()[0]
    exps: list[Experiment] = db.execute(
        "SELECT number, status, parent, commit_sha, decision FROM experiments ORDER BY number"
    ).fetchall()
    commit_of = {number: commit for number, _, _, commit, _ in exps} | {0: base}
    curves: dict[str, dict[int, Curve]] = {}
    final: dict[tuple[str, int], float] = {}
    measured: list[tuple[int, int, float, Curve, float]] = []
    for number, seed, purpose, seconds, curve, metrics in db.execute(
        "SELECT number, seed, purpose, seconds, curve, metrics FROM measurements WHERE status='ok'"
    ):
        points = tuple((float(s), float(v)) for s, v in json.loads(curve or "[]"))
        value = float(json.loads(metrics)["val_loss"])
        curves.setdefault(commit_of[number], {})[seed] = points
        final[(commit_of[number], seed)] = value
        if purpose == "measure" and points:
            measured.append((number, seed, seconds or 0.0, points, value))
    busy = db.execute("SELECT SUM(seconds) FROM measurements").fetchone()[0] or 0.0
    db.close()
    first_value = {number: value for number, _, _, _, value in reversed(measured)}
    before = passes_before(exps, first_value)
    parent = {number: p for number, _, p, _, _ in exps}
    return SearchRuns(
        base,
        busy,
        curves,
        final,
        measured,
        {number: before[number][1] if number in before else parent[number] for number in parent},
        parent,
        {number: float(json.loads(d or "{}").get("noise") or 0.0) for number, _, _, _, d in exps},
    )


def replayed(search: SearchRuns, rule: Setting) -> Replayed:
    """The rule replayed over the measurement runs of a search made with prune = "off", as
    the loop would have judged each report: against the parent's run on the same seed or,
    when a gate pass on the same parent came before, the best such pass's; the noise from
    the curves of the run compared with on all its seeds (the base's when it has fewer than
    two). A stop at a share f of the run is counted as saving 1 - f of its seconds."""
    stops, shares, saved, ahead = 0, [], 0.0, 0
    for number, seed, seconds, points, value in search.measured:
        against = search.against.get(number, "")
        if seed not in search.curves.get(against, {}):
            against = search.parent[number]
        theirs = search.curves.get(against, {})
        if seed not in theirs:
            continue
        reference = list(theirs.values()) if len(theirs) >= 2 else list(search.curves[search.base].values())
        step = first_stop(
            points, theirs[seed], reference, rule=rule, seed=seed, final_noise=search.noise[number]
        )
        if step is None:
            continue
        share = step / theirs[seed][-1][0]
        stops, saved = stops + 1, saved + seconds * (1.0 - share)
        shares.append(share)
        ahead += value < search.final[(against, seed)]
    busy = search.busy
    return Replayed(stops, statistics.mean(shares) if shares else 0.0, busy / (busy - saved), ahead)


def part_replay(ledgers: list[Path]) -> None:
    if not ledgers:
        raise SystemExit("--part replay needs --replay LEDGER.sqlite[,...] (kept with --demo-keep)")
    print(f"\n## the rule replayed over {len(ledgers)} demo search(es) made without pruning\n")
    print(
        "| rule | late bloomers stopped: held to half, past half, demo, demo precise "
        "| stops (where, on average) | per hour of busy slots | stopped that ended ahead |"
    )
    print("|---|---|---|---|---|")
    searches = [search_runs(ledger) for ledger in ledgers]
    for name, rule in variants().items():
        late = late_stops(rule)
        runs = [replayed(search, rule) for search in searches]
        print(
            f"| {name} | {_of(late.held_to_half)}, {_of(late.held_past_half)}, {_of(late.demo)}, "
            f"{_of(late.demo_precise)} | {', '.join(f'{r.stops} ({r.share:.0%})' for r in runs)} "
            f"| {', '.join(f'{r.ratio:.2f}x' for r in runs)} | {sum(r.ahead for r in runs)} |",
            flush=True,
        )
    print(
        "\n(each search's busy slot time over that time less what the stops would have saved; "
        "searches that pruned would then have tried other changes: a first-order figure)"
    )


def demo_search(prune: str, wall: str, model: str, seed: int, keep: Path | None) -> dict[str, float | str]:
    """One `gitresearch start` of the demo in a fresh clone: its figures, from its ledger (a
    copy kept in `keep` when given, as MODEL-SEED-PRUNE.sqlite: the curves of every run)."""
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
        ledger = clone / ".git" / "gitresearch" / "ledger.sqlite"
        if keep is not None:
            keep.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(ledger, keep / f"{model}-{seed}-{prune}.sqlite")
        db = sqlite3.connect(ledger)
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
        ceilings = _demo_ceilings(db, busy)
        quarters = _busy_by_quarter(db, slots=2)
        db.close()
        return {
            "done": len(finished),
            "per_hour": len(finished) / seconds * 3600,
            "per_busy_hour": len(finished) / busy * 3600 if busy else 0.0,
            "pruned": sum("pruned" in json.loads(r[1] or "{}") for r in finished),
            "accepted": sum(r[0] == "accepted" for r in finished),
            "best": statistics.mean(means),
            **ceilings,
            "sizes": _loser_sizes(finished),
            "shares": ", ".join(f"{p} {(by_purpose.get(p) or 0.0) / busy:.0%}" for p in PURPOSES)
            if busy
            else "",
            "quarters": ", ".join(f"{q:.0%}" for q in quarters),
        }


def _busy_by_quarter(db: sqlite3.Connection, slots: int) -> list[float]:
    """How busy the `slots` were in each quarter of a search's wall clock (run `d`, from its
    first run's start to its last one's end): a loop that keeps a free slot waiting, or
    cannot stop a run because it is busy elsewhere, shows as a quarter well below the rest."""
    spans = db.execute(
        "SELECT started, finished FROM measurements WHERE run='d' AND finished IS NOT NULL"
    ).fetchall()
    if not spans:
        return []
    start, end = min(a for a, _ in spans), max(b for _, b in spans)
    width = (end - start) / 4
    out = []
    for i in range(4):
        lo, hi = start + i * width, start + (i + 1) * width
        busy = sum(max(0.0, min(b, hi) - max(a, lo)) for a, b in spans)
        out.append(busy / (slots * width) if width > 0 else 0.0)
    return out


def _demo_ceilings(db: sqlite3.Connection, busy: float) -> dict[str, float]:
    """The oracle ceilings of a demo search (run `d` in its ledger) with `busy` slot seconds."""
    # the ceilings (as the fake's): stopping at `share` of its run every measurement of a
    # discarded experiment that ended more than `margin` seed-noise widths worse than its
    # parent's mean or than an earlier gate pass on the same parent (what a stop may compare
    # with); `share` of the run's seconds is spent (its start-up and scoring counted as saved
    # too). Half and a margin of 0 counts every discarded one, ties and all
    values: dict[tuple[int, str], list[float]] = {}
    for number, purpose, metrics in db.execute(
        "SELECT number, purpose, metrics FROM measurements WHERE run='d' AND status='ok'"
    ):
        values.setdefault((number, purpose), []).append(json.loads(metrics)["val_loss"])
    base_commit = db.execute("SELECT base FROM runs WHERE name='d'").fetchone()[0]
    mean_of = {base_commit: statistics.mean(values[(0, "baseline")])}
    exps: list[Experiment] = db.execute(
        "SELECT number, status, parent, commit_sha, decision FROM experiments WHERE run='d' ORDER BY number"
    ).fetchall()
    before = passes_before(exps, {n: v[0] for (n, purpose), v in values.items() if purpose == "measure"})
    behind: dict[int, float] = {}
    for number, status, parent, commit, decision in exps:
        d = json.loads(decision or "{}")
        mine = values.get((number, "measure"))
        if mine and commit:
            mean_of[commit] = statistics.mean(mine + values.get((number, "confirm"), []))
        if mine and status == "discarded" and parent in mean_of and d.get("noise"):
            rival = min(before.get(number, (math.inf, ""))[0], mean_of[parent])
            behind[number] = (mine[0] - rival) / d["noise"]
    measured = db.execute(
        "SELECT number, seconds FROM measurements WHERE run='d' AND purpose='measure' AND status='ok'"
    ).fetchall()
    ceilings = {}
    for share, margin in CEILINGS:
        saved = sum(
            (seconds or 0.0) * (1.0 - share)
            for number, seconds in measured
            if behind.get(number, -math.inf) > margin or (margin == 0.0 and number in behind)
        )
        ceilings[f"ceiling {share:g} {margin:g}"] = busy / (busy - saved) if busy > saved else 0.0
    return ceilings


def part_demo(wall: str, settings: list[str], models: list[str], seeds: list[int], keep: Path | None) -> None:
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
                r = demo_search(prune, wall, model, seed, keep)
                results.setdefault((model, prune), []).append(r)
                print(
                    f"| {model} | {seed} | {prune} | {r['done']} | {r['per_hour']:.0f} | {r['per_busy_hour']:.0f} "
                    f"| {r['pruned']} | {r['accepted']} | {r['best']:.4f} |",
                    flush=True,
                )
    for (model, prune), rs in results.items():
        for seed, r in zip(seeds, rs):
            line = (
                f"{model}, seed {seed}, {prune}: {r['sizes']}; busy slot time by purpose: {r['shares']}; "
                f"slots busy in each quarter of the search: {r['quarters']}"
            )
            if prune == "off":
                line += f"; {_ceilings([r], 'every discarded change, ties and all')}"
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


def _ceilings(rows: Sequence[Mapping[str, float | str]], all_of: str) -> str:
    """The oracle ceilings of prune = off's searches (the median over them), per hour of busy
    slots; `all_of` names what a margin of 0 stops."""
    parts = []
    for share, margin in CEILINGS:
        ratio = statistics.median(float(r[f"ceiling {share:g} {margin:g}"]) for r in rows)
        who = all_of if margin == 0 else f"every change ending > {margin:g} noise widths worse"
        parts.append(f"{ratio:.2f}x ({who}, stopped at {share:.0%} of its run)")
    return "oracle ceilings per hour of busy slots: " + "; ".join(parts)


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
    parser.add_argument("--demo-keep", type=Path, help="a folder to keep each demo search's ledger in")
    parser.add_argument("--replay", default="", help="kept ledgers of demo searches with prune = off")
    args = parser.parse_args()
    parts = args.part.split(",")
    if "fake" in parts:
        part_fake(args.seeds, args.wall, args.job, args.settings.split(","))
    if "late" in parts:
        part_late()
    if "replay" in parts:
        part_replay([Path(x) for x in args.replay.split(",") if x])
    if "demo" in parts:
        part_demo(
            args.demo_wall,
            args.demo_settings.split(","),
            args.demo_models.split(","),
            [int(x) for x in args.demo_seeds.split(",")],
            args.demo_keep,
        )


if __name__ == "__main__":
    main()
