"""The run commands: start, finalize, status, report, runs, pick, prune.

Thin click wrappers over `cli.workspace`, `loop`, `finalize`, `runview`, `report` and
`pick`; registered on the group in `cli.main`. Results on stdout, progress on stderr.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import click

from gitresearch.boundaries.config import ProposerName
from gitresearch.cli.progress import Progress, status_line
from gitresearch.cli.workspace import (
    Overrides,
    config_option,
    latest_run,
    make_executor,
    open_for_reading,
    open_workspace,
    repo_root,
    run_search,
)
from gitresearch.durations import format_duration, parse_duration
from gitresearch.errors import UsageError
from gitresearch.finalize import finalize
from gitresearch.lock import RepoLock
from gitresearch.loop import Search
from gitresearch.pick import pick as cherry_pick
from gitresearch.pick import require_clean, targets
from gitresearch.rebuild import sync_from_git
from gitresearch.report import plot, render, render_markdown, status_counts
from gitresearch.runview import load_run, run_of
from gitresearch.store import experiment_branch, run_branch


def _duration(ctx: click.Context, param: click.Parameter, value: str | None) -> float | None:
    del ctx, param
    if value is None:
        return None
    try:
        return parse_duration(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


@click.command()
@config_option
@click.option(
    "--name", help="name of the run (default: the date and time); its branches are gitresearch/NAME/*"
)
@click.option(
    "--proposer",
    type=click.Choice(["sweep", "llm", "command", "hybrid", "auto"]),
    help="override [search] proposer",
)
@click.option("--experiments", type=click.IntRange(min=1), help="override [budget] experiments")
@click.option(
    "--time",
    "wall_clock",
    callback=_duration,
    metavar="DURATION",
    help='override [budget] wall_clock, e.g. "30m", "8h"',
)
@click.option("--gpus", help='override [budget] gpus: "all", "none" or ids like 0,1')
@click.option("--jobs", type=click.IntRange(min=1), help="override [budget] jobs (parallel CPU jobs)")
@click.option("--seed", type=click.IntRange(min=0), help="override [search] seed (same seed, same proposals)")
@click.option(
    "--resume",
    "resume",
    is_flag=False,
    flag_value="__latest__",
    default=None,
    metavar="[RUN]",
    help="continue a stopped or killed run (the latest one if no name is given)",
)
@click.option(
    "--ray",
    metavar="ADDRESS",
    help='run the benchmark jobs on the Ray cluster at ADDRESS ("auto", "10.0.0.2:6379"): [budget] executor = "ray"',
)
@click.option("--no-finalize", is_flag=True, help="skip the ablation and candidates branch at the end")
def start(
    config_file: Path | None,
    name: str | None,
    proposer: str | None,
    experiments: int | None,
    wall_clock: float | None,
    gpus: str | None,
    jobs: int | None,
    seed: int | None,
    resume: str | None,
    ray: str | None,
    no_finalize: bool,
) -> None:
    """Search for improvements until a budget ends, then finalize and print the report.

    \b
    Measures the base (your HEAD) baseline_runs times to learn the noise, then
    proposes changes inside the boundaries, commits each on gitresearch/RUN/NNNN,
    runs it on every free slot, and keeps only what beats the incumbent beyond
    the noise on fresh seeds. Ctrl-C stops cleanly (twice: at once). Your checkout
    is never touched, and every benchmark runs in the OS sandbox (`gitresearch
    check` says whether it works here). A benchmark that gives one value on
    every seed is stopped after the base, with the line that fixes its seed.
    boundaries.toml must be committed: a run takes it from its base commit.

    \b
    Examples:
      gitresearch start
      gitresearch start --experiments 30 --time 20m --jobs 2
      gitresearch start --resume            # continue the latest run
      gitresearch start --ray auto          # jobs on the Ray cluster this machine joined
    """
    root = repo_root()
    progress = Progress()
    overrides = Overrides(experiments, wall_clock, gpus, jobs, seed, _proposer(proposer), ray)
    ws = open_workspace(root, config_file, overrides)
    summary = run_search(
        ws,
        name,
        resume=resume,
        finalize_after=not no_finalize,
        say=progress.event,
        on_tick=lambda s: progress.tick(lambda: _status(s)),
        on_loop_end=progress.close,
    )
    store, ledger = open_for_reading(root)
    click.echo(render_markdown(load_run(store, ledger, summary.run)))
    click.echo(
        f"Review it: gitresearch review {summary.run}   |   take the winners: gitresearch pick --top N",
        err=True,
    )
    if summary.base_failed or summary.base_mean is None or summary.tripped:
        sys.exit(3)


def _proposer(value: str | None) -> ProposerName | None:
    if value in ("sweep", "llm", "command", "hybrid", "auto"):
        return value  # type: ignore[return-value]
    return None


def _status(search: Search) -> str:
    return status_line(search.snapshot())


@click.command(name="finalize")
@click.argument("run", required=False)
@config_option
def finalize_cmd(run: str | None, config_file: Path | None) -> None:
    """Measure each accepted change by leave-one-out ablation and rebuild the candidates branch."""
    root = repo_root()
    progress = Progress()
    ws = open_workspace(root, config_file)
    sync_from_git(ws.store, ws.ledger)
    name = run or latest_run(ws.ledger, ws.store)
    with RepoLock(ws.store.state_dir, name):
        refs = ws.store.run(name)
        executor = make_executor(ws, progress.event, base=refs.base if refs else None)
        try:
            finalize(
                store=ws.store,
                ledger=ws.ledger,
                executor=executor,
                config=ws.config,
                run=name,
                on_event=progress.event,
            )
        finally:
            executor.close()
    store, ledger = open_for_reading(root)
    click.echo(render_markdown(load_run(store, ledger, name)))


@click.command()
@click.argument("run", required=False)
@click.option("--format", "fmt", type=click.Choice(["md", "json", "tsv"]), default="md", show_default=True)
@click.option(
    "--plot",
    "plot_path",
    type=click.Path(path_type=Path, dir_okay=False),
    help="also draw every experiment and the running best into this PNG",
)
def report(run: str | None, fmt: str, plot_path: Path | None) -> None:
    """The ranked candidates (with the cherry-pick command), then every experiment."""
    store, ledger = open_for_reading(repo_root())
    data = load_run(store, ledger, run or latest_run(ledger, store))
    click.echo(render(data, fmt), nl=False)
    if plot_path is not None:
        plot(data, plot_path)
        click.echo(f"wrote {plot_path}", err=True)


@click.command()
@click.argument("run", required=False)
@click.option("--json", "as_json", is_flag=True)
def status(run: str | None, as_json: bool) -> None:
    """Where a run stands (live while `gitresearch start` is running)."""
    store, ledger = open_for_reading(repo_root())
    data = load_run(store, ledger, run or latest_run(ledger, store))
    counts = status_counts(data)
    doc = {
        "run": data.run,
        "status": data.status,
        "metric": data.metric,
        "base_mean": data.base_mean,
        "best_mean": data.best_mean,
        "best_experiment": data.best_experiment,
        "experiments": counts,
        "rejected": data.rejected,
        "elapsed_s": round(time.time() - data.started, 1),
        "running": [e.number for e in data.measured if e.status in ("running", "committed", "measured")],
    }
    if as_json:
        click.echo(json.dumps(doc, indent=2))
        return
    click.echo(f"run {data.run}: {data.status}, {format_duration(doc['elapsed_s'])} since it started")  # type: ignore[arg-type]
    click.echo(
        f"  base {data.metric}: {data.base_mean if data.base_mean is None else f'{data.base_mean:.4g}'}"
    )
    if data.best_experiment is not None and data.best_mean is not None and data.base_mean is not None:
        click.echo(
            f"  best: #{data.best_experiment:04d} {data.best_mean:.4g} ({data.best_mean - data.base_mean:+.4g})"
        )
    click.echo(
        "  experiments: "
        + (", ".join(f"{n} {s}" for s, n in sorted(counts.items())) or "none yet")
        + f"; {data.rejected} rejected"
    )
    for e in data.measured[-5:]:
        click.echo(f"  #{e.number:04d} {e.status:<9} {e.hypothesis}")


@click.command()
@click.argument("run", required=False)
def review(run: str | None) -> None:
    """Browse a run in the terminal and cherry-pick its winners (the latest run by default).

    \b
    The leaderboard of every experiment (sort with s or a click on a title,
    filter with f, search with /), each experiment's diff, evidence and log
    (enter), the ranked candidates (c), the progress chart (g); mark with m
    and cherry-pick with p. ? lists every key. It follows a run that is
    still going, and opens runs fetched from another machine.
    """
    root = repo_root()
    store, ledger = open_for_reading(root)
    name = run or latest_run(ledger, store)
    run_of(store, ledger, name)
    ledger.close()
    from gitresearch.tui.app import ReviewApp  # Textual loads only for this command

    ReviewApp(root, name).run()


@click.command()
def runs() -> None:
    """Every run in this repository, newest last."""
    _, ledger = open_for_reading(repo_root())
    rows = sorted(ledger.runs(), key=lambda r: r.started)
    if not rows:
        click.echo("no runs yet; start one with `gitresearch start`", err=True)
        return
    for r in rows:
        exps = ledger.experiments(r.name)
        accepted = sum(e.status == "accepted" for e in exps)
        measured = sum(e.status not in ("rejected", "duplicate") for e in exps)
        when = time.strftime("%Y-%m-%d %H:%M", time.localtime(r.started))
        click.echo(
            f"{r.name:<24} {r.status:<10} {when}  {measured:>4} experiments, {accepted:>3} accepted  "
            f"base {r.base[:10]}"
        )


@click.command()
@click.argument("experiments", nargs=-1, type=int)
@click.option("--top", type=click.IntRange(min=1), help="the N best-ranked candidates")
@click.option("--run", "run_name", help="the run (default: the latest)")
def pick(experiments: tuple[int, ...], top: int | None, run_name: str | None) -> None:
    """Cherry-pick winners onto your current branch (`git cherry-pick`).

    \b
    EXPERIMENTS are experiment numbers; a ranked candidate is taken from the
    candidates branch, anything else from its own branch. The picks land in
    candidate rank order, then by number (the review picks the same way); a
    change already in your branch is skipped, and a conflict undoes the whole
    pick. Refuses to run on a checkout with uncommitted changes.

    \b
    Examples:
      gitresearch pick --top 3          # the three best-ranked candidates
      gitresearch pick 7 12 --run night
    """
    if not experiments and top is None:
        raise UsageError("say which: `gitresearch pick 7 12` or `gitresearch pick --top 3`")
    store, ledger = open_for_reading(repo_root())
    name = run_name or latest_run(ledger, store)
    chosen = targets(load_run(store, ledger, name), experiments, top)
    require_clean(store)
    click.echo(cherry_pick(store, chosen).describe())


@click.command()
@click.argument("run")
@click.option("--losers", is_flag=True, help="only the branches of discarded and failed experiments")
def prune(run: str, losers: bool) -> None:
    """Delete a run's branches and notes (or only its losers' branches)."""
    store, ledger = open_for_reading(repo_root())
    _, refs = run_of(store, ledger, run)
    statuses = {e.number: e.status for e in ledger.experiments(run)}
    doomed = [
        n for n in refs.experiments if not losers or statuses.get(n) in ("discarded", "failed", "cancelled")
    ]
    for n in doomed:
        store.delete_branch(experiment_branch(run, n))
    if not losers:
        for leaf in ("base", "best", "candidates"):
            store.delete_branch(run_branch(run, leaf))
        ledger.delete_run(run)
    store.prune_notes()
    click.echo(f"deleted {len(doomed)} experiment branch(es){'' if losers else ' and the run'} of {run}")
