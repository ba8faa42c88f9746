"""The report of a run: Markdown, TSV, JSON and a PNG plot of one `runview.RunSummary`.

Renderers only format; what the numbers are is decided once in `runview`, so the report,
`status`, `pick` and the review always agree.
"""

from __future__ import annotations

import csv
import io
import json
import statistics
from dataclasses import asdict
from pathlib import Path
from typing import Any

from gitresearch.display import better_or_worse, num, spread
from gitresearch.errors import UsageError
from gitresearch.runview import RunSummary
from gitresearch.store import run_branch


def render_markdown(d: RunSummary) -> str:
    better = "lower" if d.direction == "minimize" else "higher"
    out = [f"# gitresearch run `{d.run}` ({d.status})", ""]
    if d.unsandboxed:
        out += [f"**Warning: the benchmarks of this run were not sandboxed.** Sandbox {d.sandbox}", ""]
    out.append(
        f"Objective: {d.direction} `{d.metric}` ({better} is better). "
        f"Base `{d.base[:12]}`: {num(d.base_mean)} ± {spread(d.base_mean, d.base_spread)} over {d.base_runs} run(s)."
    )
    if d.best_experiment is not None:
        raw = (d.best_mean or 0.0) - (d.base_mean or 0.0)
        gain = -raw if d.direction == "minimize" else raw
        out.append(
            f"Best: experiment #{d.best_experiment:04d}, {num(d.best_mean)} ({better_or_worse(gain)} than the base)."
        )
    else:
        out.append("No change beat the base beyond the noise.")
    tally = ", ".join(f"{n} {s}" for s, n in sorted(status_counts(d).items()))
    out += [
        f"Experiments: {len(d.measured)} measured ({tally}); {d.rejected} proposal(s) rejected by the boundaries.",
    ]
    out += _early_stopping(d)
    if d.llm and "agent_runs" in d.llm:
        u = d.llm
        cost = f", ${float(u.get('usd', 0)):.4f} reported" if u.get("usd") else ""
        out.append(
            f"Agent: `{u.get('command', '?')}`: {u.get('agent_runs', 0)} run(s) ({u.get('failed_agent_runs', 0)} "
            f"without a proposal, {u.get('timed_out', 0)} timed out), {float(u.get('seconds', 0)):.0f} s{cost}."
        )
    elif d.llm:
        u = d.llm
        out.append(
            f"LLM: {u.get('model', '?')} at {u.get('server', '?')}: {u.get('requests', 0)} request(s)"
            f" ({u.get('failed_requests', 0)} failed, {u.get('malformed_replies', 0)} unusable), "
            f"{u.get('prompt_tokens', 0):,} + {u.get('completion_tokens', 0):,} tokens, ${float(u.get('usd', 0)):.4f}."
        )
    out.append("")
    out += ["## Ranked candidates", ""]
    if not d.candidates:
        out += ["None yet (no accepted change, or the run is not finalized: `gitresearch finalize`).", ""]
    else:
        out += [
            "| rank | exp | contribution | gain at acceptance | mean ± spread | runs | change | diffstat | take it |",
            "| ---: | ---: | ---: | ---: | --- | ---: | --- | --- | --- |",
        ]
        for c in d.candidates:
            out.append(
                f"| {c.rank} | #{c.experiment:04d} | {num(c.contribution, True)} | {num(c.gain, True)} | "
                f"{num(c.mean)} ± {spread(c.mean, c.spread)} | {c.runs} | {c.hypothesis} | {c.diffstat} | `{c.pick}` |"
            )
        out += [
            "",
            f"Take them all, in this order: `gitresearch pick --top {len(d.candidates)}` "
            f"(or `git cherry-pick {d.base[:12]}..{run_branch(d.run, 'candidates')}`).",
            "",
        ]
        for c in d.candidates:
            if c.contribution_note:
                out.append(f"- #{c.experiment:04d}: {c.contribution_note}")
        out.append("")
    out += _front_section(d)
    out += [
        "## Every experiment",
        "",
        "| exp | status | mean ± spread | gain vs parent | gain vs base | runs | time | proposer | hypothesis | why |",
        "| ---: | --- | --- | ---: | ---: | ---: | ---: | --- | --- | --- |",
    ]
    for e in d.measured:
        out.append(
            f"| #{e.number:04d} | {e.status} | {num(e.mean)} ± {spread(e.mean, e.spread)} | "
            f"{num(e.gain_parent, True)} | {num(e.gain_base, True)} | {e.runs} | {e.seconds:.0f}s | {e.proposer} | {e.hypothesis} | "
            f"{e.reason.replace('|', '/')} |"
        )
    return "\n".join(out) + "\n"


def render_tsv(d: RunSummary) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, delimiter="\t", lineterminator="\n")
    writer.writerow(
        [
            "kind",
            "rank",
            "experiment",
            "status",
            "mean",
            "spread",
            "delta_parent",
            "delta_base",
            "contribution",
            "runs",
            "proposer",
            "commit",
            "hypothesis",
        ]
    )
    for c in d.candidates:
        writer.writerow(
            [
                "candidate",
                c.rank,
                c.experiment,
                "candidate",
                c.mean,
                c.spread,
                c.delta,
                "",
                c.contribution,
                c.runs,
                "",
                c.commit,
                c.hypothesis,
            ]
        )
    for e in d.measured:
        writer.writerow(
            [
                "experiment",
                "",
                e.number,
                e.status,
                e.mean,
                e.spread,
                e.delta_parent,
                e.delta_base,
                "",
                e.runs,
                e.proposer,
                e.commit or "",
                e.hypothesis,
            ]
        )
    return buf.getvalue()


def _early_stopping(d: RunSummary) -> list[str]:
    """One line: how many runs were stopped early, where, and the benchmark time it saved."""
    stopped = d.stopped_early
    if not stopped:
        return []
    share = statistics.mean(step / last for step, last in (e.stopped_at or (0, 1) for e in stopped) if last)
    line = (
        f'Early stopping (`prune = "{d.prune or "?"}"`): {len(stopped)} of {len(d.measured)} experiment(s) '
        f"stopped as clearly losing, on average at {share:.0%} of their parent's steps"
    )
    held = sum(e.stopped_against is not None for e in stopped)
    if held:
        line += f" ({held} of them against the best gate pass held, not their parent)"
    if d.base_seconds:
        saved = sum(max(0.0, d.base_seconds - e.seconds) for e in stopped)
        line += f"; about {saved:.0f} s of benchmark time saved (a whole run: the base's median {d.base_seconds:.1f} s)"
    return [line + "."]


def status_counts(d: RunSummary) -> dict[str, int]:
    counts: dict[str, int] = {}
    for e in d.measured:
        counts[e.status] = counts.get(e.status, 0) + 1
    return counts


def _front_section(d: RunSummary) -> list[str]:
    """The experiments no other beats on every metric at once ([objective] tradeoffs)."""
    if not d.tradeoffs:
        return []
    names = [(d.metric, d.direction), *d.tradeoffs]
    out = [
        "## Trade-offs: the Pareto front",
        "",
        "No other experiment (nor the base) is at least as good on all of "
        + ", ".join(f"`{m}` ({'lower' if k == 'minimize' else 'higher'} is better)" for m, k in names)
        + " and better on one. Means over each experiment's runs; the candidates above are ranked on "
        f"`{d.metric}` alone.",
        "",
        "| exp | status | " + " | ".join(m for m, _ in names) + " | hypothesis |",
        "| ---: | --- | " + " | ".join("---:" for _ in names) + " | --- |",
    ]
    for number in d.front():
        if number == 0:
            cells = [num(d.base_mean), *(num(d.base_recorded.get(m)) for m, _ in d.tradeoffs)]
            out.append("| base | – | " + " | ".join(cells) + " | the code before the run |")
            continue
        e = d.experiment(number)
        assert e is not None
        cells = [num(e.mean), *(num(e.recorded.get(m)) for m, _ in d.tradeoffs)]
        out.append(f"| #{e.number:04d} | {e.status} | " + " | ".join(cells) + f" | {e.hypothesis} |")
    return [*out, ""]


def render_json(d: RunSummary) -> str:
    """The run as JSON, in the shape `report --format json` has always had."""
    experiments = []
    for e in d.measured:
        row = asdict(e)
        row["delta"] = row.pop("delta_parent")
        row.pop("rank")
        experiments.append(row)
    doc: dict[str, Any] = {
        "run": d.run,
        "status": d.status,
        "metric": d.metric,
        "direction": d.direction,
        "base": d.base,
        "base_mean": d.base_mean,
        "base_spread": d.base_spread,
        "base_runs": d.base_runs,
        "best_mean": d.best_mean,
        "best_experiment": d.best_experiment,
        "started": d.started,
        "candidates": [{**asdict(c), "pick": c.pick} for c in d.candidates],
        "experiments": experiments,
        "rejected": d.rejected,
        "llm": d.llm,
        "prune": d.prune,
        "stopped_early": [e.number for e in d.stopped_early],
        **({"tradeoffs": d.tradeoffs, "pareto_front": d.front()} if d.tradeoffs else {}),
    }
    return json.dumps(doc, indent=2, default=str)


def render(d: RunSummary, fmt: str) -> str:
    return {"md": render_markdown, "tsv": render_tsv, "json": render_json}[fmt](d)


def plot(d: RunSummary, path: Path) -> None:
    """Every experiment's mean over time, and the running best, as a PNG."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise UsageError("--plot needs matplotlib: pip install 'gitresearch[plot]'") from None
    fig, ax = progress_axes(d, plt)
    _save(fig, ax, path, plt)
    if d.tradeoffs:
        _plot_front(d, path.with_name(f"{path.stem}-front{path.suffix}"), plt)


def progress_axes(d: RunSummary, plt: Any) -> tuple[Any, Any]:
    """The progress chart's figure and axes: each experiment's mean (a stopped one where it
    was heading), the running best and the base."""
    points = sorted((e for e in d.measured if e.mean is not None), key=lambda e: e.number)
    fig, ax = plt.subplots(figsize=(9, 4.5), dpi=110)
    colors = {"accepted": "tab:green", "discarded": "tab:gray", "failed": "tab:red"}
    for status, color in colors.items():
        xs = [e.number for e in points if e.status == status]
        ys = [float(e.mean) for e in points if e.status == status and e.mean is not None]
        if xs:
            ax.scatter(xs, ys, s=22, color=color, label=status, zorder=3)
    stopped = [e for e in d.experiments if e.stopped_estimate is not None]
    if stopped:  # never reached its end: hollow, where its gap when stopped says it was heading
        ax.scatter(
            [e.number for e in stopped],
            [float(e.stopped_estimate or 0.0) for e in stopped],
            s=22,
            facecolors="none",
            edgecolors="tab:gray",
            label="stopped early (estimate)",
            zorder=3,
        )
    best_x: list[float] = [0.0]
    best_y: list[Any] = [d.base_mean]
    current = d.base_mean
    for e in points:
        if e.status == "accepted":
            current = e.mean
        best_x.append(e.number)
        best_y.append(current)
    if d.base_mean is not None:
        ax.step(best_x, best_y, where="post", color="tab:blue", label="running best", zorder=2)
        ax.axhline(d.base_mean, color="tab:blue", alpha=0.25, linestyle="--", label="base")
    ax.set_xlabel("experiment")
    ax.set_ylabel(d.metric)
    ax.set_title(f"gitresearch run {d.run}: {d.direction} {d.metric}")
    return fig, ax


def _plot_front(d: RunSummary, path: Path, plt: Any) -> None:
    """The objective against the first trade-off, every experiment, the front joined."""
    other, _ = d.tradeoffs[0]
    front = set(d.front())
    fig, ax = plt.subplots(figsize=(6.5, 5), dpi=110)
    pts = [(e.recorded.get(other), e.mean, e.number) for e in d.measured if e.mean is not None]
    pts = [(x, y, n) for x, y, n in pts if x is not None]
    ax.scatter([x for x, _, _ in pts], [y for _, y, _ in pts], s=18, color="tab:gray", label="experiments")
    on = sorted((x, y) for x, y, n in pts if n in front)
    if 0 in front and d.base_mean is not None and other in d.base_recorded:
        on = sorted([*on, (d.base_recorded[other], d.base_mean)])
        ax.scatter([d.base_recorded[other]], [d.base_mean], s=40, color="tab:blue", label="base", zorder=4)
    if on:
        ax.plot(
            [x for x, _ in on], [y for _, y in on], "o-", color="tab:green", label="Pareto front", zorder=3
        )
    ax.set_xlabel(other)
    ax.set_ylabel(d.metric)
    ax.set_title(f"gitresearch run {d.run}: {d.metric} against {other}")
    _save(fig, ax, path, plt)


def _save(fig: Any, ax: Any, path: Path, plt: Any) -> None:
    """Legend, grid and layout as every plot of the report has them, then the PNG."""
    ax.legend(loc="best", fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
