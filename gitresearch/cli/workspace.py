"""Assembling a run from the command line's options: config, lock, store, ledger, slots, proposer.

`start`, `finalize` and the read-only commands share this so that the click layer stays a
thin translation of options, and so that every command sees the same resolved config.
`run_search` is one search session as `start` runs it (lock, executor, proposer, loop,
finalize), callable without click.
"""

from __future__ import annotations

import contextlib
import ctypes
import dataclasses
import os
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import click

from gitresearch.boundaries.config import CONFIG_NAME, Config, ProposerName
from gitresearch.boundaries.resolve import Boundaries, load_boundaries
from gitresearch.boundaries.seeds import benchmark_files, find_fixed_seeds
from gitresearch.boundaries.sources import expand_links, find_repo_root
from gitresearch.durations import format_duration
from gitresearch.errors import ConfigError, UsageError
from gitresearch.execute.base import Executor, Slot
from gitresearch.execute.gpus import detect, plan_slots
from gitresearch.execute.local import SECRET_VARIABLES, LocalExecutor, PoolSettings
from gitresearch.execute.sandbox import INSTALL_HINT, probe
from gitresearch.finalize import finalize
from gitresearch.ledger import Ledger
from gitresearch.lock import RepoLock, is_held
from gitresearch.loop import Search, Summary
from gitresearch.propose.choose import Place, make_proposer
from gitresearch.rebuild import sync_from_git
from gitresearch.store import Store, check_run_name

# `--config` on every command that reads boundaries.toml; the value arrives as `config_file`.
config_option = click.option(
    "--config",
    "config_file",
    type=click.Path(path_type=Path, dir_okay=False),
    help="boundaries file (default: boundaries.toml at the repository root)",
)


@dataclass(frozen=True)
class Overrides:
    experiments: int | None = None
    wall_clock: float | None = None
    gpus: str | None = None  # "all" | "none" | "0,1"
    jobs: int | None = None
    seed: int | None = None
    proposer: ProposerName | None = None
    ray: str | None = None  # run the jobs on the Ray cluster at this address


def repo_root(start: Path | None = None) -> Path:
    here = start or Path.cwd()
    root = find_repo_root(here)
    if root is None:
        raise UsageError(
            f"{here.resolve()} is not inside a git repository; gitresearch works on git repositories "
            "(run `git init` first)"
        )
    return root


def config_path(root: Path, given: Path | None) -> Path:
    path = given if given is not None else root / CONFIG_NAME
    if not path.exists():
        raise UsageError(
            f"no {path.name} in {path.parent}: run `gitresearch init` to write one "
            "(it says what may change and how to measure), then `gitresearch check`"
        )
    return path


def apply_overrides(config: Config, o: Overrides) -> Config:
    budget, search = config.budget, config.search
    if o.experiments is not None:
        budget = dataclasses.replace(budget, experiments=o.experiments)
    if o.wall_clock is not None:
        budget = dataclasses.replace(budget, wall_clock=o.wall_clock)
    if o.jobs is not None:
        budget = dataclasses.replace(budget, jobs=o.jobs)
    if o.gpus is not None:
        budget = dataclasses.replace(budget, gpus=parse_gpus(o.gpus))
    if o.seed is not None:
        search = dataclasses.replace(search, seed=o.seed)
    if o.proposer is not None:
        search = dataclasses.replace(search, proposer=o.proposer)
    cluster = config.cluster
    if o.ray is not None:
        budget = dataclasses.replace(budget, executor="ray")
        cluster = dataclasses.replace(cluster, address=o.ray)
    return dataclasses.replace(config, budget=budget, search=search, cluster=cluster)


def parse_gpus(text: str) -> Literal["all", "none"] | tuple[int, ...]:
    if text == "all":
        return "all"
    if text == "none":
        return "none"
    try:
        ids = tuple(int(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise UsageError(f'--gpus takes "all", "none" or ids like 0,1; not "{text}"') from None
    if not ids or any(i < 0 for i in ids):
        raise UsageError(f'--gpus takes "all", "none" or ids like 0,1; not "{text}"')
    return ids


@dataclass
class Workspace:
    root: Path
    store: Store
    ledger: Ledger
    boundaries: Boundaries
    config: Config
    overrides: Overrides = Overrides()


def open_workspace(root: Path, config_file: Path | None, overrides: Overrides = Overrides()) -> Workspace:
    path = config_path(root, config_file)
    store = Store(root)
    base_source = store.source(store.head())
    boundaries = load_boundaries(path, root, base_source)
    config = apply_overrides(boundaries.config, overrides)
    boundaries = dataclasses.replace(boundaries, config=config)
    ledger = Ledger(store.ledger_path)
    return Workspace(root, store, ledger, boundaries, config, overrides)


def resumed_budget(ws: Workspace, run: str, say: Callable[[str], None]) -> Workspace:
    """`ws` with the budget the run was started with, unless this command overrides it; says which."""
    row = ws.ledger.run(run)
    meta = row.meta if row is not None else {}
    budget = ws.config.budget
    kept = []
    if ws.overrides.experiments is None and isinstance(meta.get("budget_experiments"), int):
        budget = dataclasses.replace(budget, experiments=int(meta["budget_experiments"]))
        kept.append("experiments")
    if ws.overrides.wall_clock is None and isinstance(meta.get("wall_clock"), (int, float)):
        budget = dataclasses.replace(budget, wall_clock=float(meta["wall_clock"]))
        kept.append("wall clock")
    done = len([e for e in ws.ledger.experiments(run) if e.commit])
    origin = (
        "the run's own" if len(kept) == 2 else ("the run's " + ", ".join(kept) if kept else "this command's")
    )
    say(
        f"resuming {run} with {origin} budget: {budget.experiments} experiment(s) ({done} done), "
        f"{format_duration(budget.wall_clock)} of wall clock from now"
        + ("" if len(kept) == 2 else "; --experiments/--time set the rest")
    )
    config = dataclasses.replace(ws.config, budget=budget)
    return dataclasses.replace(
        ws, config=config, boundaries=dataclasses.replace(ws.boundaries, config=config)
    )


def open_for_reading(root: Path) -> tuple[Store, Ledger]:
    """Store and ledger, the ledger brought in line with git (runs fetched from elsewhere too).

    While a run holds the repository, its process keeps the ledger current and git a step
    behind it, so the ledger is read as it is.
    """
    store = Store(root)
    ledger = Ledger(store.ledger_path)
    if not is_held(store.state_dir):
        sync_from_git(store, ledger)
    return store, ledger


def sandbox_decision(config: Config) -> tuple[bool, str]:
    """Whether this run's jobs are sandboxed, and the line that says so (or why not).

    `required` without a working sandbox is a usage error; `auto` without one runs bare
    with a warning; `off` runs bare because the user said so."""
    mode = config.objective.sandbox
    if mode == "off":
        return False, 'off ([objective] sandbox = "off"): benchmarks run with your full user rights'
    status = probe()
    if status.works:
        return True, f"on, {status.tool}" + (" (network allowed)" if config.objective.network else "")
    if mode == "required":
        raise UsageError(
            f'[objective] sandbox = "required" in {config.path}, but the sandbox is {status.describe()}'
        )
    return False, f"OFF: {status.problem}; benchmarks run with your full user rights ({INSTALL_HINT})"


def make_executor(
    ws: Workspace,
    say: Callable[[str], None],
    sandbox: tuple[bool, str] | None = None,
    base: str | None = None,
) -> Executor:
    """The executor for `ws` (local, or Ray's with `executor = "ray"`); `sandbox` is the run's
    `sandbox_decision`, made here when not given; `base` the run's base (HEAD when not given)."""
    ray = None
    if ws.config.budget.executor == "ray":
        from gitresearch.execute.cluster import connect, describe

        ray = connect(ws.config.cluster.address)
        say(describe(ray))
        slots: Sequence[Slot] = []
    else:
        detection = detect(os.environ)
        slots, line = plan_slots(ws.config, detection)
        say(f"slots: {line}")
    sandboxed, why = sandbox if sandbox is not None else sandbox_decision(ws.config)
    if ws.config.hidden and not sandboxed:
        raise UsageError(
            f"[protect] hidden in {ws.config.path} needs the sandbox to keep those paths from the "
            f"experiment, and the sandbox is {why}"
        )
    say(f"sandbox: {why}" if sandboxed else f"WARNING: sandbox {why}")
    base = ws.store.head()
    source = ws.store.source(base)
    protected = tuple(p for p in source.files() if ws.boundaries.protected(p) and not p.startswith(".git"))
    links, missing = expand_links(ws.root, ws.config.objective.link)
    if missing:
        raise ConfigError(
            ws.config.path,
            "link " + ", ".join(f'"{m}"' for m in missing) + f" names nothing in {ws.root}",
            key="objective.link",
            line=ws.config.lines.get("objective.link"),
            hint="create it first (download or prepare the data), or fix the path; `gitresearch check` lists links",
        )
    settings = PoolSettings(ws.store.state_dir, ws.root, protected, sandboxed=sandboxed, links=tuple(links))
    if ray is not None:
        from gitresearch.execute.cluster import RayExecutor

        executor = RayExecutor(ws.store, ws.config, settings, base or ws.store.head(), ray)
        say(f"slots: {len(executor.slots)} Ray job(s) at a time (the sandbox applies on each node)")
        return executor
    return LocalExecutor(ws.store, ws.config, slots, settings)


def default_run_name() -> str:
    return time.strftime("%Y%m%d-%H%M%S")


def latest_run(ledger: Ledger, store: Store) -> str:
    names = [r.name for r in sorted(ledger.runs(), key=lambda r: r.started)]
    if not names:
        names = [r.name for r in store.runs()]
    if not names:
        raise UsageError("no gitresearch run in this repository yet; start one with `gitresearch start`")
    return names[-1]


def run_search(
    ws: Workspace,
    name: str | None,
    *,
    resume: str | None,
    finalize_after: bool,
    say: Callable[[str], None],
    on_tick: Callable[[Search], None] = lambda search: None,
    on_loop_end: Callable[[], None] = lambda: None,
) -> Summary:
    """One search session: take the lock, start (or resume: a run name or "__latest__") a
    run, search until a budget ends, and finalize unless told not to or stopped twice."""
    require_committed_config(ws)
    if resume is not None:
        sync_from_git(ws.store, ws.ledger)
        name = latest_run(ws.ledger, ws.store) if resume == "__latest__" else resume
    name = check_run_name(name or default_run_name())
    lock = RepoLock(ws.store.state_dir, name).acquire()
    try:
        if lock.took_over:
            say(lock.took_over)
        for stale in ws.store.clear_stale_locks():
            say(f"removed a stale git lock left by a killed run: {stale}")
        dirty = ws.store.dirty_paths()
        if dirty and resume is None:
            say(
                f"note: {len(dirty)} file(s) with uncommitted changes are not part of the run "
                f"(it starts from HEAD): {', '.join(dirty[:5])}{' ...' if len(dirty) > 5 else ''}"
            )
        if resume is None:
            base = ws.store.head()
        else:
            refs = ws.store.run(name)
            if refs is None:
                raise UsageError(f'no run named "{name}" to resume; `gitresearch runs` lists them')
            base = refs.base
            ws = resumed_budget(ws, name, say)
        sandboxed, why = sandbox_decision(ws.config)
        executor = make_executor(ws, say, (sandboxed, why), base)
        try:
            proposer = make_proposer(
                ws.config,
                ws.boundaries,
                ws.store.source(base),
                say,
                place=Place(ws.store.state_dir, ws.root, sandboxed),
            )
            harden_process(ws.config)  # the proposer holds its key now; no child ever gets it
            if (
                proposer.name in ("llm", "hybrid", "command")
                and not sandboxed
                and ws.config.objective.sandbox != "off"
            ):
                proposer.close()
                raise UsageError(
                    f"the {proposer.name} proposer runs code a model wrote, and the sandbox is {why}. "
                    'Install it, or write [objective] sandbox = "off" to run model code bare knowingly'
                )
            search = Search(
                store=ws.store,
                ledger=ws.ledger,
                boundaries=ws.boundaries,
                executor=executor,
                proposer=proposer,
                run=name,
                config=ws.config,
                on_event=say,
                on_tick=on_tick,
                meta={"sandbox": why},
                watch_refs=not sandboxed,  # a sandboxed job cannot reach them; you may commit meanwhile
            )
            if resume is None:
                search.start()
                say(
                    f"run {name}: base {base[:12]}; budget {ws.config.budget.experiments} experiment(s), "
                    f"{format_duration(ws.config.budget.wall_clock)}; branches gitresearch/{name}/*"
                )
            else:
                search.resume()
            try:
                summary = search.loop()
            finally:
                proposer.close()
            on_loop_end()
            say(
                f"search ended: {summary.stop_reason}; {summary.experiments} experiment(s), "
                f"{len(summary.accepted)} accepted"
            )
            if summary.seed_ignored:
                raise UsageError(seed_advice(ws, base, summary.stop_reason))
            if (
                finalize_after
                and search.interrupted < 2
                and summary.base_mean is not None
                and not summary.tripped
            ):
                finalize(
                    store=ws.store,
                    ledger=ws.ledger,
                    executor=None if summary.interrupted else executor,
                    config=ws.config,
                    run=name,
                    on_event=say,
                    deadline=search.deadline,
                )
        finally:
            executor.close()
    finally:
        lock.release()
    return summary


def harden_process(config: Config) -> None:
    """Drop LLM keys from this process's environment (every child, git included, inherits it)
    and make the process non-dumpable, so its memory and /proc/<pid>/environ are closed to
    other processes of the same user."""
    secrets = set(SECRET_VARIABLES)
    if config.agent is not None and config.agent.api_key_env:
        secrets.add(config.agent.api_key_env)
    for name in secrets:
        os.environ.pop(name, None)
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(4, 0, 0, 0, 0)  # PR_SET_DUMPABLE = 4


def require_committed_config(ws: Workspace) -> None:
    """A run's boundaries are those of the commit it starts from: a boundaries.toml inside the
    repository must be committed as it is (an uncommitted edit would silently widen the run)."""
    path, root = ws.config.path.resolve(), ws.root.resolve()
    if root not in path.parents:
        return  # a --config outside the repository: the user's own file, read as it is
    rel = path.relative_to(root).as_posix()
    committed = ws.store.source(ws.store.head()).read_bytes(rel)
    if committed is None:
        raise UsageError(
            f"{rel} is not committed; a run takes its boundaries from the commit it starts from. "
            f'Commit it first: git add {rel} && git commit -m "gitresearch boundaries"'
        )
    if committed != path.read_bytes():
        raise UsageError(
            f"{rel} has uncommitted changes; a run takes its boundaries from the commit it starts "
            f"from, so commit them (git commit {rel}) or stash them (git stash) first"
        )


def seed_advice(ws: Workspace, base: str, why: str) -> str:
    """Why a run stopped on a seed-blind base, and the lines to change (found statically)."""
    source = ws.store.source(base)
    files = list(source.files())
    found = find_fixed_seeds(source, benchmark_files(ws.config.objective.command, ws.boundaries.files, files))
    if not found:  # the base is proven seed-blind: look further, protected files included
        found = find_fixed_seeds(source, [p for p in files if p.endswith(".py")][:2000])
    seed_env = ws.config.objective.seed_env
    variable = "$GITRESEARCH_SEED" + (f" (or ${seed_env})" if seed_env else "")
    lines = [f"{why}.", f"Make the benchmark read its seed from {variable}."]
    if found:
        lines.append("These lines fix the seed:")
        lines += [f"  {f.render()}" for f in found[:10]]
    else:
        lines.append("No literal seed was found in the Python files; look for one read from a config file.")
    lines.append(
        "If the benchmark is deterministic on purpose, say so: [objective] deterministic = true, "
        "with a min_improvement above zero (the smallest change worth keeping)."
    )
    return "\n".join(lines)
