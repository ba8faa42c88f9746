"""What the review shows, computed without a terminal: rows, details, the chart, picks.

The Textual app (`review`) only draws what this module returns and calls its actions, so
it never touches git or processes itself, and everything here is tested without a screen.
A run of 10,000 experiments loads in two queries (experiments, measurements).
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from gitresearch.errors import UsageError
from gitresearch.ledger import Ledger, metric_values
from gitresearch.report import CandidateLine, candidates, llm_usage, measurements_by_experiment, run_of
from gitresearch.runner import read_log_tail
from gitresearch.stats import mean, stdev
from gitresearch.store import Store, run_branch

STATUSES = ("accepted", "discarded", "failed", "rejected", "running", "cancelled", "duplicate", "committed")
LOG_LIMIT = 256 * 1024  # characters of a log shown (its tail)


@dataclass(frozen=True)
class Row:
    """One experiment on the leaderboard."""

    number: int
    status: str
    mean: float | None
    spread: float | None
    delta_base: float | None
    delta_parent: float | None
    runs: int
    seconds: float
    proposer: str
    hypothesis: str
    commit: str | None
    parent: str | None
    rank: int | None = None  # by mean, best first, among those measured


@dataclass
class RunView:
    run: str
    status: str
    metric: str
    direction: str
    base: str
    base_mean: float | None
    base_spread: float | None
    base_runs: int
    best: str | None
    rows: list[Row] = field(default_factory=list)
    candidates: list[CandidateLine] = field(default_factory=list)
    llm: dict[str, Any] = field(default_factory=dict)

    @property
    def better(self) -> str:
        return "lower" if self.direction == "minimize" else "higher"

    def row(self, number: int) -> Row | None:
        for row in self.rows:
            if row.number == number:
                return row
        return None


@dataclass(frozen=True)
class RunDetail:
    seed: int
    purpose: str
    status: str
    value: float | None
    seconds: float | None
    reason: str | None
    detail: str | None
    slot: str | None
    log_path: str | None


@dataclass(frozen=True)
class Detail:
    row: Row
    branch: str | None
    diff: str
    runs: list[RunDetail]
    decision: dict[str, Any]
    violations: list[dict[str, Any]]
    rationale: str
    log: str  # the logs of its runs, newest last, each with a header


def change_marker(ledger: Ledger, run: str) -> tuple[Any, ...]:
    """A cheap fingerprint of the run's state: when it changes, the view is reloaded."""
    e = ledger.db.execute("SELECT COUNT(*), MAX(updated) FROM experiments WHERE run=?", (run,)).fetchone()
    m = ledger.db.execute(
        "SELECT COUNT(*), MAX(finished), SUM(status='running') FROM measurements WHERE run=?", (run,)
    ).fetchone()
    r = ledger.db.execute("SELECT status, best FROM runs WHERE name=?", (run,)).fetchone()
    return (tuple(e), tuple(m), tuple(r) if r else None)


def load(store: Store, ledger: Ledger, run: str) -> RunView:
    meta_row, refs = run_of(store, ledger, run)
    metric = str(meta_row.meta.get("metric", ""))
    direction = str(meta_row.meta.get("direction", "minimize"))
    by_number = measurements_by_experiment(ledger, run)
    base_values = metric_values(by_number.get(0, []), metric, ("baseline",))
    base_mean = mean(base_values) if base_values else None
    view = RunView(
        run,
        meta_row.status,
        metric,
        direction,
        refs.base,
        base_mean,
        stdev(base_values) if len(base_values) > 1 else None,
        len(base_values),
        refs.best,
    )
    for exp in ledger.experiments(run):
        ms = by_number.get(exp.number, [])
        values = metric_values(ms, metric)
        m_ = mean(values) if values else None
        decision = exp.decision or {}
        delta = decision.get("delta")
        view.rows.append(
            Row(
                exp.number,
                exp.status,
                m_,
                stdev(values) if len(values) > 1 else None,
                (m_ - base_mean) if m_ is not None and base_mean is not None else None,
                float(delta) if isinstance(delta, (int, float)) else None,
                len(values),
                sum(m.seconds or 0.0 for m in ms),
                exp.proposer,
                exp.hypothesis,
                exp.commit,
                exp.parent,
            )
        )
    sign = 1.0 if direction == "minimize" else -1.0
    ranked = sorted(
        (sign * r.mean, r.number) for r in view.rows if r.mean is not None and r.status != "failed"
    )
    ranks = {number: i + 1 for i, (_, number) in enumerate(ranked)}
    view.rows = [_with_rank(r, ranks.get(r.number)) for r in view.rows]
    if refs.candidates:
        view.candidates = candidates(store, refs.base, refs.candidates)
    view.llm = llm_usage(store, refs.base, run)
    return view


def detail(store: Store, ledger: Ledger, view: RunView, number: int) -> Detail:
    row = view.row(number)
    if row is None:
        raise UsageError(f"run {view.run} has no experiment #{number:04d}")
    exp = ledger.experiment(view.run, number)
    ms = ledger.measurements(view.run, number)
    diff = ""
    if row.commit and row.parent:
        diff = store.diff(row.parent, row.commit)
    elif exp is not None and exp.patch:
        diff = "(never committed: the proposal was refused before it ran)\n" + _proposed_edits(exp.patch)
    runs = [
        RunDetail(
            m.seed,
            m.purpose,
            m.status,
            m.metrics.get(view.metric),
            m.seconds,
            m.reason,
            m.detail,
            m.slot,
            m.log_path,
        )
        for m in ms
    ]
    logs = []
    for m in ms:
        header = f"── seed {m.seed} ({m.purpose}, {m.status}) {m.log_path or 'no log'} ──"
        logs.append(header + "\n" + (_tail(m.log_path) if m.log_path else ""))
    return Detail(
        row,
        run_branch(view.run, f"{number:04d}") if row.commit else None,
        diff,
        runs,
        dict(exp.decision or {}) if exp else {},
        list(exp.violations or []) if exp else [],
        exp.rationale if exp else "",
        "\n".join(logs) if logs else "(no runs)",
    )


def pick_targets(view: RunView, numbers: Iterable[int]) -> list[tuple[int, str, str]]:
    """(number, commit, hypothesis) to cherry-pick: a candidate from the candidates branch,
    anything else from its own branch; in candidate rank order, then by number."""
    by_candidate = {c.experiment: c for c in view.candidates}
    out: list[tuple[int, str, str]] = []
    for n in sorted(set(numbers), key=lambda n: (by_candidate[n].rank if n in by_candidate else 10**9, n)):
        if n in by_candidate:
            out.append((n, by_candidate[n].commit, by_candidate[n].hypothesis))
            continue
        row = view.row(n)
        if row is None or row.commit is None:
            raise UsageError(f"#{n:04d} has no commit to pick (it was {row.status if row else 'never made'})")
        out.append((n, row.commit, row.hypothesis))
    return out


def require_clean(store: Store) -> None:
    if not store.checkout_is_clean():
        raise UsageError(
            "your checkout has uncommitted changes; commit or stash them (git stash) first, "
            "so a cherry-pick conflict can never mix with your work"
        )


def pick(store: Store, shas: Sequence[str]) -> str:
    """Cherry-pick onto the current branch; a UsageError says why not."""
    require_clean(store)
    ok, output = store.cherry_pick_into_checkout(list(shas))
    if not ok:
        raise UsageError(
            f"git cherry-pick stopped: {output}\nresolve it and `git cherry-pick --continue`, "
            "or `git cherry-pick --abort` to undo"
        )
    return f"picked {len(shas)} commit(s) onto {store.current_branch() or 'HEAD'}"


def chart(view: RunView, width: int, height: int) -> list[str]:
    """Every measured experiment's mean in order (·), the incumbent over time (━, ● where an
    experiment was accepted), the base (┈)."""
    points = [
        (r.number, r.mean, r.status)
        for r in sorted(view.rows, key=lambda r: r.number)
        if r.mean is not None and math.isfinite(r.mean)
    ]
    width, height = max(20, width), max(5, height)
    if not points:
        return ["(no measured experiment yet)"]
    values = [v for _, v, _ in points]
    if view.base_mean is not None:
        values.append(view.base_mean)
    lo, hi = min(values), max(values)
    if hi == lo:
        hi = lo + 1.0
    label_w = max(len(f"{lo:.4g}"), len(f"{hi:.4g}")) + 1
    plot_w = width - label_w - 1
    grid = [[" "] * plot_w for _ in range(height)]

    def y_of(v: float) -> int:
        return height - 1 - round((v - lo) / (hi - lo) * (height - 1))

    def x_of(i: int) -> int:
        return 0 if len(points) == 1 else round(i / (len(points) - 1) * (plot_w - 1))

    if view.base_mean is not None:
        yb = y_of(view.base_mean)
        grid[yb] = ["┈"] * plot_w
    best: float | None = view.base_mean
    bests: list[float | None] = []
    for _, v, status in points:
        if status == "accepted":
            best = v
        bests.append(best)
    i = 0
    for x in range(plot_w):  # the incumbent as a step line across the whole width
        while i + 1 < len(points) and x_of(i + 1) <= x:
            i += 1
        level = bests[i] if x_of(i) <= x else view.base_mean
        if level is not None:
            grid[y_of(level)][x] = "━"
    for i, (_, v, status) in enumerate(points):
        x, y = x_of(i), y_of(v)
        if status == "accepted":
            grid[y][x] = "●"
        elif grid[y][x] != "●":
            grid[y][x] = "·"
    lines = []
    for k, cells in enumerate(grid):
        label = f"{hi:.4g}" if k == 0 else (f"{lo:.4g}" if k == height - 1 else "")
        lines.append(label.rjust(label_w) + "│" + "".join(cells))
    first, last = points[0][0], points[-1][0]
    axis = " " * label_w + "└" + "─" * plot_w
    ticks = f"#{first}".ljust(plot_w - len(f"#{last}")) + f"#{last}"
    lines += [axis, " " * (label_w + 1) + ticks]
    return lines


def _proposed_edits(patch: str) -> str:
    """The region edits a refused proposal asked for, from the ledger's record of it."""
    try:
        edits = json.loads(patch).get("edits") or []
    except (json.JSONDecodeError, AttributeError):
        return ""
    parts = [f"\n# {path} :: {region}\n{source}" for path, region, source in edits]
    return "\nThe edits it proposed:\n" + "".join(parts) if parts else ""


def _with_rank(row: Row, rank: int | None) -> Row:
    return Row(
        row.number,
        row.status,
        row.mean,
        row.spread,
        row.delta_base,
        row.delta_parent,
        row.runs,
        row.seconds,
        row.proposer,
        row.hypothesis,
        row.commit,
        row.parent,
        rank,
    )


def _tail(path: str) -> str:
    try:
        text, cut = read_log_tail(path, LOG_LIMIT)
    except OSError as e:
        return f"(the log cannot be read: {e.strerror})"
    return ("… (earlier output cut)\n" if cut else "") + text
