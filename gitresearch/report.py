"""What a run found, read from the ledger (rebuilt from git) and the candidates branch.

`gather` builds one plain data model; the renderers (Markdown, TSV, JSON, a PNG plot) only
format it, so the report, `status` and the review read the same numbers.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from gitresearch.errors import UsageError
from gitresearch.ledger import Ledger, MeasurementRow, RunRow, metric_values
from gitresearch.stats import mean, stdev
from gitresearch.store import RunRefs, Store, run_branch


@dataclass
class ExperimentLine:
    number: int
    status: str
    mean: float | None
    spread: float | None
    delta: float | None  # against its parent
    delta_base: float | None  # against the base
    runs: int
    seconds: float
    proposer: str
    hypothesis: str
    reason: str
    commit: str | None
    parent: str | None
    finished: float


@dataclass
class CandidateLine:
    rank: int
    experiment: int
    commit: str
    hypothesis: str
    delta: float | None
    contribution: float | None
    contribution_note: str
    mean: float | None
    spread: float | None
    runs: int
    diffstat: str
    pick: str


@dataclass
class ReportData:
    run: str
    status: str
    metric: str
    direction: str
    base: str
    base_mean: float | None
    base_spread: float | None
    base_runs: int
    best_mean: float | None
    best_experiment: int | None
    started: float
    candidates: list[CandidateLine] = field(default_factory=list)
    experiments: list[ExperimentLine] = field(default_factory=list)
    rejected: int = 0
    llm: dict[str, Any] = field(default_factory=dict)  # the agent's spend, when it ran


def run_of(store: Store, ledger: Ledger, run: str) -> tuple[RunRow, RunRefs]:
    """A run's ledger row and branches, or a UsageError naming it."""
    row = ledger.run(run)
    refs = store.run(run)
    if row is None or refs is None:
        raise UsageError(f'no run named "{run}"; `gitresearch runs` lists them')
    return row, refs


def measurements_by_experiment(ledger: Ledger, run: str) -> dict[int, list[MeasurementRow]]:
    """Every measurement of the run in one query, grouped by experiment number (0: the base)."""
    out: dict[int, list[MeasurementRow]] = {}
    for m in ledger.measurements(run):
        out.setdefault(m.number, []).append(m)
    return out


def llm_usage(store: Store, base: str, run: str) -> dict[str, Any]:
    """What the LLM agent spent in this run, from the run's record on its base commit."""
    record = ((store.read_note(base) or {}).get("runs") or {}).get(run) or {}
    return dict(record["llm"]) if isinstance(record.get("llm"), dict) else {}


def gather(store: Store, ledger: Ledger, run: str) -> ReportData:
    row, refs = run_of(store, ledger, run)
    metric = str(row.meta.get("metric", ""))
    by_number = measurements_by_experiment(ledger, run)
    base_values = metric_values(by_number.get(0, []), metric, ("baseline",))
    base_mean = mean(base_values) if base_values else None
    data = ReportData(
        run,
        row.status,
        metric,
        str(row.meta.get("direction", "minimize")),
        refs.base,
        base_mean,
        stdev(base_values) if len(base_values) > 1 else None,
        len(base_values),
        base_mean,
        None,
        row.started,
    )
    for exp in ledger.experiments(run):
        if exp.status in ("rejected", "duplicate"):
            data.rejected += exp.status == "rejected"
            continue
        ms = [m for m in by_number.get(exp.number, []) if m.purpose in ("measure", "confirm")]
        values = metric_values(ms, metric)
        decision = exp.decision or {}
        m_ = mean(values) if values else None
        data.experiments.append(
            ExperimentLine(
                exp.number,
                exp.status,
                m_,
                stdev(values) if len(values) > 1 else None,
                decision.get("delta"),
                (m_ - base_mean) if m_ is not None and base_mean is not None else None,
                len(values),
                sum(m.seconds or 0.0 for m in ms),
                exp.proposer,
                exp.hypothesis,
                str(decision.get("reason", "")),
                exp.commit,
                exp.parent,
                exp.updated,
            )
        )
        if exp.commit == refs.best:
            data.best_mean, data.best_experiment = m_, exp.number
    if refs.candidates:
        data.candidates = candidates(store, refs.base, refs.candidates)
    data.llm = llm_usage(store, refs.base, run)
    return data


def candidates(store: Store, base: str, tip: str) -> list[CandidateLine]:
    chain: list[tuple[str, str]] = []
    sha = tip
    for _ in range(10_000):
        if sha == base:
            break
        parent = store.parent_of(sha)
        chain.append((sha, parent))
        sha = parent
    lines: list[CandidateLine] = []
    for sha, parent in reversed(chain):
        note = store.read_note(sha) or {}
        values = [float(v) for v in note.get("runs", [])]
        lines.append(
            CandidateLine(
                int(note.get("candidate_rank", len(lines) + 1)),
                int(note.get("experiment", 0)),
                sha,
                str(note.get("hypothesis", store.message(sha).splitlines()[0])),
                note.get("delta"),
                note.get("contribution"),
                str(note.get("contribution_note", "")),
                note.get("mean"),
                note.get("spread"),
                len(values),
                store.diffstat(parent, sha),
                f"git cherry-pick {sha[:12]}",
            )
        )
    return lines


def _num(value: float | None, signed: bool = False) -> str:
    if value is None:
        return "–"
    return f"{value:+.4g}" if signed else f"{value:.4g}"


def render_markdown(d: ReportData) -> str:
    better = "lower" if d.direction == "minimize" else "higher"
    out = [f"# gitresearch run `{d.run}` ({d.status})", ""]
    out.append(
        f"Objective: {d.direction} `{d.metric}` ({better} is better). "
        f"Base `{d.base[:12]}`: {_num(d.base_mean)} ± {_num(d.base_spread)} over {d.base_runs} run(s)."
    )
    if d.best_experiment is not None:
        gain = (d.best_mean or 0.0) - (d.base_mean or 0.0)
        out.append(
            f"Best: experiment #{d.best_experiment:04d}, {_num(d.best_mean)} ({gain:+.4g} against the base)."
        )
    else:
        out.append("No change beat the base beyond the noise.")
    counts: dict[str, int] = {}
    for e in d.experiments:
        counts[e.status] = counts.get(e.status, 0) + 1
    tally = ", ".join(f"{n} {s}" for s, n in sorted(counts.items()))
    out += [
        f"Experiments: {len(d.experiments)} measured ({tally}); {d.rejected} proposal(s) rejected by the boundaries.",
    ]
    if d.llm:
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
            "| rank | exp | contribution | Δ at acceptance | mean ± spread | runs | change | diffstat | take it |",
            "| ---: | ---: | ---: | ---: | --- | ---: | --- | --- | --- |",
        ]
        for c in d.candidates:
            out.append(
                f"| {c.rank} | #{c.experiment:04d} | {_num(c.contribution, True)} | {_num(c.delta, True)} | "
                f"{_num(c.mean)} ± {_num(c.spread)} | {c.runs} | {c.hypothesis} | {c.diffstat} | `{c.pick}` |"
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
    out += [
        "## Every experiment",
        "",
        "| exp | status | mean ± spread | Δ parent | Δ base | runs | time | proposer | hypothesis | why |",
        "| ---: | --- | --- | ---: | ---: | ---: | ---: | --- | --- | --- |",
    ]
    for e in d.experiments:
        out.append(
            f"| #{e.number:04d} | {e.status} | {_num(e.mean)} ± {_num(e.spread)} | {_num(e.delta, True)} | "
            f"{_num(e.delta_base, True)} | {e.runs} | {e.seconds:.0f}s | {e.proposer} | {e.hypothesis} | "
            f"{e.reason.replace('|', '/')} |"
        )
    return "\n".join(out) + "\n"


def render_tsv(d: ReportData) -> str:
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
    for e in d.experiments:
        writer.writerow(
            [
                "experiment",
                "",
                e.number,
                e.status,
                e.mean,
                e.spread,
                e.delta,
                e.delta_base,
                "",
                e.runs,
                e.proposer,
                e.commit or "",
                e.hypothesis,
            ]
        )
    return buf.getvalue()


def render_json(d: ReportData) -> str:
    return json.dumps(asdict(d), indent=2, default=str)


def render(d: ReportData, fmt: str) -> str:
    return {"md": render_markdown, "tsv": render_tsv, "json": render_json}[fmt](d)


def plot(d: ReportData, path: Path) -> None:
    """Every experiment's mean over time, and the running best, as a PNG."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise UsageError("--plot needs matplotlib: pip install 'gitresearch[plot]'") from None
    points = sorted((e for e in d.experiments if e.mean is not None), key=lambda e: e.number)
    fig, ax = plt.subplots(figsize=(9, 4.5), dpi=110)
    colors = {"accepted": "tab:green", "discarded": "tab:gray", "failed": "tab:red"}
    for status, color in colors.items():
        xs = [e.number for e in points if e.status == status]
        ys = [float(e.mean) for e in points if e.status == status and e.mean is not None]
        if xs:
            ax.scatter(xs, ys, s=22, color=color, label=status, zorder=3)
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
    ax.legend(loc="best", fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
