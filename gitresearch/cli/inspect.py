"""`gitresearch check` and `gitresearch init`: what the boundaries allow, and a first boundaries.toml.

Loaded only when one of them runs (`cli.main` is a lazy group), so `gitresearch --help`
never pays for libcst or the repository.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

from gitresearch.boundaries.config import CONFIG_NAME, Config
from gitresearch.boundaries.initgen import Metric, guess_command, guess_metric, render, scan, untracked_data
from gitresearch.boundaries.resolve import Boundaries, load_boundaries
from gitresearch.boundaries.seeds import FixedSeed, benchmark_files, find_fixed_seeds
from gitresearch.boundaries.sources import DirectorySource, FileSource, expand_links, glob_match
from gitresearch.boundaries.validator import Accepted, Validator, Verdict
from gitresearch.cli.workspace import config_option, repo_root
from gitresearch.durations import format_duration, parse_duration
from gitresearch.errors import GitResearchError, UsageError
from gitresearch.execute.runner import (
    Launch,
    RunningProcess,
    scan_metrics,
)
from gitresearch.execute.sandbox import INSTALL_HINT, probe
from gitresearch.propose.searchspace import knob_space
from gitresearch.store import head_source


@dataclass(frozen=True)
class Located:
    root: Path
    config: Path


def locate(config: Path | None) -> Located:
    root = repo_root(config.parent if config is not None else None)
    return Located(root, config if config is not None else root / CONFIG_NAME)


@click.command()
@config_option
@click.option(
    "--patch",
    "patch",
    type=click.File("r"),
    metavar="DIFF|-",
    help="judge this unified diff ('-' reads stdin) instead of listing the boundaries",
)
@click.option(
    "--against",
    "against",
    default="HEAD",
    show_default=True,
    metavar="REV",
    help="the commit the patch applies to (a run starts from HEAD)",
)
@click.option("--worktree", is_flag=True, help="judge the patch against the working tree instead of a commit")
@click.option(
    "--log",
    "sample_log",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    metavar="FILE",
    help="read a benchmark's saved output and show the metric values a run would take from it",
)
@click.option("--json", "as_json", is_flag=True, help="print a JSON document on stdout")
def check(
    config_file: Path | None, patch: Any, against: str, worktree: bool, sample_log: Path | None, as_json: bool
) -> None:
    """Validate boundaries.toml, or judge a patch against it.

    \b
    Without --patch: print the editable regions (path, name, kind, lines), the
    protected files, and every tunable literal in the regions with the range and
    scale a search would use.
    With --patch: the verdict on the diff applied to HEAD (what `git diff HEAD`
    writes), or to --against REV or the working tree. Exit 0 accepted, 1
    rejected (violations on stderr), 2 usage or configuration error.
    With --log: the values of the metric (and `record`) found in a saved output,
    by `name: value` lines or `metric_pattern`; exit 1 when the metric is not there.

    \b
    Examples:
      gitresearch check
      git diff | gitresearch check --patch -
      gitresearch check --patch fix.diff --json
      python train.py > out.log; gitresearch check --log out.log
    """
    where = locate(config_file)
    source: FileSource = DirectorySource(where.root)
    if sample_log is not None:
        _check_log(load_boundaries(where.config, where.root, source).config, sample_log)
        return
    if patch is None:
        _print_boundaries(load_boundaries(where.config, where.root, source), source, as_json)
        return
    if not worktree:
        commit = head_source(where.root, against)
        if commit is None:
            click.echo("note: the repository has no commit yet; judging against the working tree", err=True)
        else:
            source = commit
    boundaries = load_boundaries(where.config, where.root, source)
    verdict = Validator(boundaries, source).judge_diff(patch.read())
    _print_verdict(verdict, as_json)
    if not isinstance(verdict, Accepted):
        sys.exit(1)


def _prune_after(cfg: Config) -> float | None:
    from gitresearch.prune import setting

    chosen = setting(cfg.search.prune, cfg.search.prune_after)
    return chosen.after if chosen is not None else None


def _prune_line(cfg: Config) -> str:
    """What [search] prune does, in one line."""
    after = _prune_after(cfg)
    if after is None:
        return 'off ([search] prune = "off"): every measurement runs to its end'
    return (
        f"{cfg.search.prune}: a measurement run whose `step:` curve of {cfg.objective.metric} is clearly "
        f"worse than its parent's on the same seed is stopped, never before {after:.0%} of its steps "
        "(a benchmark that reports no curve always runs to its end)"
    )


def _agent_facts(cfg: Config) -> dict[str, Any] | None:
    """The [agent] as `check` shows it: a command and whether its program is installed, or a model."""
    from gitresearch.propose.command import find_program, program_of

    agent = cfg.agent
    if agent is None:
        return None
    if agent.command:
        return {
            "command": agent.command,
            "program": program_of(agent.command),
            "found": find_program(agent.command),
            "timeout_s": agent.timeout,
            "pass_env": list(agent.pass_env),
            "read_only": list(agent.read_only),
        }
    return {"model": agent.model, "base_url": agent.base_url}


def _print_boundaries(boundaries: Boundaries, source: FileSource, as_json: bool) -> None:
    regions = boundaries.resolved_regions(source)
    whole = [f.path for f in boundaries.files.values() if f.regions is None]
    protected = sorted({p for p in source.files() if boundaries.protected(p)} | {boundaries.config_relpath})
    space = knob_space(boundaries, source)
    knobs = [k for k in space if k.skip is None]
    skipped = [k for k in space if k.skip is not None]
    cfg = boundaries.config
    sandbox = probe()
    links, missing = expand_links(boundaries.root, cfg.objective.link)
    seeds = find_fixed_seeds(source, benchmark_files(cfg.objective.command, boundaries.files, source.files()))
    if as_json:
        click.echo(
            json.dumps(
                {
                    "config": str(boundaries.config.path),
                    "root": str(boundaries.root),
                    "objective": {
                        "command": cfg.objective.command,
                        "metric": cfg.objective.metric,
                        "direction": cfg.objective.direction,
                        "timeout_s": cfg.objective.timeout,
                        "score": cfg.objective.score,
                        "constraints": [c.text for c in cfg.objective.constraints],
                        "tradeoffs": [list(t) for t in cfg.objective.tradeoffs],
                    },
                    "hidden": list(cfg.hidden),
                    "links": links,
                    "links_missing": missing,
                    "regions": [
                        {
                            "path": a.path,
                            "name": r.name,
                            "kind": r.kind,
                            "start_line": r.start_line,
                            "end_line": r.end_line,
                        }
                        for a, r in regions
                    ],
                    "whole_files": whole,
                    "protected": protected,
                    "protected_patterns": [*boundaries.protect, ".git"],
                    "fixed_seeds": [
                        {"path": f.path, "line": f.line, "code": f.code, "fix": f.fix} for f in seeds
                    ],
                    "sandbox": {
                        "mode": cfg.objective.sandbox,
                        "works": sandbox.works,
                        "tool": sandbox.tool,
                        "problem": sandbox.problem,
                        "install": None if sandbox.works else INSTALL_HINT,
                        "network": cfg.objective.network,
                    },
                    "agent": _agent_facts(cfg),
                    "prune": {"setting": cfg.search.prune, "after": _prune_after(cfg)},
                    "search_space": [
                        {
                            "path": k.path,
                            "line": k.line,
                            "region": k.region,
                            "label": k.label,
                            "kind": k.kind,
                            "value": k.value,
                            "text": k.text,
                            "low": k.low,
                            "high": k.high,
                            "scale": k.scale,
                            "choices": list(k.choices),
                        }
                        for k in knobs
                    ],
                    "not_searched": [
                        {"path": k.path, "line": k.line, "label": k.label, "text": k.text, "why": k.skip}
                        for k in skipped
                    ],
                },
                indent=2,
            )
        )
        return
    obj = cfg.objective
    click.echo(f"boundaries: {cfg.path}")
    click.echo(
        f"objective:  {obj.direction} {obj.metric} from `{obj.command}` "
        f"(timeout {format_duration(obj.timeout)}, {obj.repeats} run(s) per experiment)"
    )
    if obj.score is not None:
        click.echo(f"scorer:     `{obj.score}` gives {obj.metric}, from a clean checkout, after each run")
    if cfg.hidden:
        click.echo(f"hidden:     {', '.join(cfg.hidden)} (the scorer's alone; masked for the experiment)")
    if obj.constraints:
        click.echo(
            f"constraints: {'; '.join(c.text for c in obj.constraints)} (must hold on fresh seeds, with confidence)"
        )
    if obj.tradeoffs:
        click.echo(
            f"tradeoffs:  {', '.join(f'{m} ({d})' for m, d in obj.tradeoffs)} (the report's Pareto front)"
        )
    click.echo(f"early stop: {_prune_line(cfg)}")
    if cfg.objective.sandbox == "off":
        click.echo('sandbox:    off ([objective] sandbox = "off"): benchmarks run with your full user rights')
    else:
        click.echo(f"sandbox:    {sandbox.describe()}")
        if not sandbox.works and cfg.objective.sandbox == "required":
            click.echo(
                'error: [objective] sandbox = "required", and `gitresearch start` will refuse to run',
                err=True,
            )
    if cfg.budget.executor == "ray":
        from gitresearch.execute.cluster import connect, describe

        try:
            click.echo(f"executor:   ray at {cfg.cluster.address}: {describe(connect(cfg.cluster.address))}")
        except UsageError as exc:
            click.echo(f"executor:   ray at {cfg.cluster.address}")
            click.echo(f"error: {exc}", err=True)
    agent = _agent_facts(cfg)
    if agent is not None and agent.get("command"):
        if agent["found"]:
            click.echo(f"agent:      `{agent['command']}` once per idea ({agent['found']} found)")
        else:
            click.echo(f"agent:      `{agent['command']}` once per idea")
            click.echo(
                f"error: [agent] command: `{agent['program']}` is not installed or not on PATH; "
                "docs/agents.md says what each agent needs",
                err=True,
            )
    elif agent is not None:
        click.echo(f"agent:      {agent['model']} at {agent['base_url'] or 'OpenAI (or $OPENAI_BASE_URL)'}")
    click.echo("")
    click.echo(f"editable regions ({len(regions)}):")
    width = max((len(r.name) for _, r in regions), default=4)
    for allowed, r in regions:
        click.echo(f"  {allowed.path}  {r.name:<{width}}  {r.kind:<10}  lines {r.start_line}-{r.end_line}")
    for path in whole:
        click.echo(f"  {path}  (whole file)")
    click.echo("")
    click.echo("protected (never changed; hash-checked after every run):")
    for path in protected:
        click.echo(f"  {path}")
    click.echo("  .git/ (always)")
    for pattern in boundaries.protect:
        if any(glob_match(pattern, f) for f in protected):
            continue
        click.echo(f'warning: protected path "{pattern}" matches no file yet', err=True)
    if cfg.objective.link:
        click.echo("")
        click.echo("linked into each worktree (read-only; untracked data the benchmark needs):")
        for path in links:
            click.echo(f"  {path}")
        for pattern in missing:
            click.echo(
                f'error: link "{pattern}" names nothing in {boundaries.root}; `gitresearch start` refuses to run '
                "until it exists (prepare the data, or fix the path)",
                err=True,
            )
    _warn_fixed_seeds(seeds, cfg.objective.deterministic)
    click.echo("")
    click.echo(f"search space ({len(knobs)} tunable literal{'s' if len(knobs) != 1 else ''}):")
    at = max((len(f"{k.path}:{k.line}") for k in space), default=18)
    name = max((len(k.label) for k in space), default=28)
    for k in knobs:
        where = f"{k.path}:{k.line}"
        click.echo(
            f"  {where:<{at}} {k.label:<{name}} {k.kind:<6} {k.text:>10}  {k.describe_range()} {k.scale}"
        )
    if skipped:
        click.echo("")
        click.echo(f"not searched ({len(skipped)}; a [[knob]] entry with its name opts one in):")
        for k in skipped:
            where = f"{k.path}:{k.line}"
            click.echo(f"  {where:<{at}} {k.label:<{name}} {k.text[:10]:>10}  {k.skip}")
    regions_without = sorted({r.name for _, r in regions} - {k.region for k in space})
    for region in regions_without:
        click.echo(
            f'note: region "{region}" holds no literal a search could move; only an agent (an LLM) can edit it',
            err=True,
        )
    if agent is not None and agent.get("command") and not agent["found"]:
        sys.exit(2)  # `start` would refuse: say so with the exit status too


def _check_log(cfg: Config, path: Path) -> None:
    """What a run would read from this output: every value found, and the one that counts."""
    obj = cfg.objective
    with path.open("rb") as handle:
        named, matched = scan_metrics(
            handle, {obj.metric: obj.metric_pattern} if obj.metric_pattern else None
        )
    found = {**named}
    for name, values in matched.items():  # as a run merges them, in line order
        found[name] = sorted(found.get(name, []) + values, key=lambda at: at[0])
    how = (
        f"metric_pattern {obj.metric_pattern!r}" if obj.metric_pattern else f"`{obj.metric}: <number>` lines"
    )
    for name in (obj.metric, *obj.record):
        values = found.get(name, [])
        if not values:
            click.echo(f"{name}: not found in {path}", err=name == obj.metric)
            continue
        at, value = values[-1]
        shown = ", ".join(f"{v:g}" for _, v in values[-5:])
        click.echo(f"{name}: {value:g} (line {at}; the last of {len(values)} value(s): ... {shown})")
    if not found.get(obj.metric):
        click.echo(
            f"error: a run would fail with 'no metric': {how} found nothing in {path}; the benchmark must print "
            "`name: value` lines or set [objective] metric_pattern (docs/boundaries.md)",
            err=True,
        )
        sys.exit(1)


def _warn_fixed_seeds(seeds: list[FixedSeed], deterministic: bool) -> None:
    if not seeds or deterministic:
        return
    click.echo(
        f"warning: {len(seeds)} literal seed(s) in the benchmark's code; if they fix the training's "
        "randomness, every run gives the same value, no noise can be measured and `gitresearch "
        "start` stops after the base (a fixed dataset seed is fine):",
        err=True,
    )
    for f in seeds[:10]:
        click.echo(f"  {f.render()}", err=True)


def _print_verdict(verdict: Verdict, as_json: bool) -> None:
    if isinstance(verdict, Accepted):
        if as_json:
            click.echo(
                json.dumps(
                    {"accepted": True, "files": [c.path for c in verdict.changes], "violations": []}, indent=2
                )
            )
        else:
            files = ", ".join(c.path for c in verdict.changes)
            click.echo(f"accepted: the patch stays inside the boundaries ({files})")
        return
    if as_json:
        click.echo(
            json.dumps(
                {
                    "accepted": False,
                    "files": [],
                    "violations": [
                        {"path": v.path, "line": v.line, "rule": v.rule, "message": v.message}
                        for v in verdict.violations
                    ],
                },
                indent=2,
            )
        )
    else:
        click.echo("rejected", err=False)
    for violation in verdict.violations:
        click.echo(violation.render(), err=True)


@click.command()
@click.option("--print", "print_only", is_flag=True, help="print the proposed file instead of writing it")
@click.option(
    "--try",
    "try_it",
    is_flag=True,
    help="run the guessed command once (seed 0, in your checkout, not sandboxed) to confirm the metric",
)
@click.option(
    "--try-timeout",
    default="5m",
    show_default=True,
    metavar="DURATION",
    help="stop the trial run after this long (what it printed until then still counts)",
)
def init(print_only: bool, try_it: bool, try_timeout: str) -> None:
    """Write a first, commented boundaries.toml at the repository root.

    \b
    It reads the repository as a researcher would: the commands in the README (or
    run.sh, a Makefile), the training script they run (never a download or data
    preparation script), its hyperparameters (UPPER_SNAKE constants, lowercase
    config variables, literal dicts, hyperparameter classes, argparse defaults in a
    function), the metric it prints (a `name: value` line, or a progress line read
    with a metric_pattern) and its direction, and the data and evaluation modules
    to protect. Each guess is explained in a comment. It never overwrites a file.

    \b
    With --try it runs the command once, reports the metric values it printed and
    writes the metric found in that output.
    """
    where = locate(None)
    if where.config.exists() and not print_only:
        raise UsageError(
            f"{where.config} already exists; gitresearch init never overwrites it "
            "(edit it, or run `gitresearch check` to see what it allows)"
        )
    # What a run starts from: the committed files (not a virtualenv or prepared data beside them).
    source: FileSource = head_source(where.root, "HEAD") or DirectorySource(where.root)
    candidates = scan(source)
    if not candidates:
        raise UsageError(
            f"no Python entry script or constant block found under {where.root}; "
            "write boundaries.toml by hand (see docs/boundaries.md)"
        )
    best = candidates[0]
    metric = None
    if try_it:
        command, _ = guess_command(best, source)
        metric = _try_command(where.root, command, best.metrics, parse_duration(try_timeout))
    links = untracked_data(where.root, set(source.files()))
    text = render(candidates, source, metric, links)
    if print_only:
        click.echo(text, nl=False)
        return
    where.config.write_text(text, encoding="utf-8")
    chosen = metric or guess_metric(best.metrics)
    click.echo(f"wrote {where.config}", err=True)
    click.echo(f"  command:  {guess_command(best, source)[0]}", err=True)
    click.echo(
        f"  metric:   {chosen.name + (' (read with a metric_pattern)' if chosen.pattern else '') if chosen else 'not found: edit it'}",
        err=True,
    )
    click.echo(f"  regions:  {', '.join(best.regions + best.functions) or 'the whole file'}", err=True)
    if best.left_out:
        click.echo(
            f"  left out: {', '.join(n for n, _ in best.left_out[:8])} (structural; see the comments)",
            err=True,
        )
    click.echo(
        "next: read the comments, run `gitresearch check`, and commit it"
        + (
            ""
            if try_it
            else " (`gitresearch init --try --print` runs the command once to confirm the metric)"
        ),
        err=True,
    )
    click.echo(
        "      (a run takes its boundaries from the commit it starts from): "
        'git add boundaries.toml && git commit -m "gitresearch boundaries"',
        err=True,
    )
    try:
        load_boundaries(where.config, where.root, source)
    except GitResearchError as exc:
        click.echo(f"warning: the written file needs an edit before use:\n{exc}", err=True)
    try:
        written = load_boundaries(where.config, where.root, source)
        paths = benchmark_files(written.config.objective.command, written.files, source.files())
        _warn_fixed_seeds(find_fixed_seeds(source, paths), False)
    except GitResearchError:
        pass  # already said above


def _try_command(root: Path, command: str, guesses: list[Metric], timeout: float) -> Metric | None:
    """Run `command` once and return the metric its output confirms (None: none was found)."""
    log = Path(tempfile.mkdtemp(prefix="gitresearch-init-")) / "try.log"
    env = {**os.environ, "GITRESEARCH_SEED": "0", "PYTHONUNBUFFERED": "1"}
    click.echo(f"trying `{command}` (up to {format_duration(timeout)}; output in {log}) ...", err=True)
    outcome = RunningProcess(Launch(command=command, cwd=root, env=env, timeout=timeout, log_path=log)).wait()
    state = "timed out" if outcome.timed_out else f"exit {outcome.exit_code}"
    click.echo(f"  {state} after {outcome.seconds:.1f} s", err=True)
    lines = log.read_bytes().splitlines() if log.exists() else []
    named, matched = scan_metrics(lines, {g.name: g.pattern for g in guesses if g.pattern is not None})
    seen: list[tuple[Metric, list[float]]] = []
    for guess in guesses:
        values = [v for _, v in (named if guess.pattern is None else matched).get(guess.name, [])]
        if values:
            seen.append((guess, values))
    for guess, values in seen:
        varies = "changes during the run" if len(set(values)) > 1 else "printed once"
        click.echo(f"  found {guess.name} = {values[-1]:g} ({len(values)} value(s); {varies})", err=True)
    if not seen:
        click.echo(
            "  no metric the script's code suggests was printed; the written metric needs an edit", err=True
        )
        if outcome.exit_code not in (0, None) and outcome.log_tail:
            click.echo(
                "  the end of its output:\n"
                + "\n".join("  | " + t for t in outcome.log_tail.splitlines()[-10:]),
                err=True,
            )
        return None
    return seen[0][0]
