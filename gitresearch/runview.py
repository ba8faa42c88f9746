"""One read model of a run, for every reader: `report`, `status`, `pick` and the review.

`load_run` turns the ledger (already in line with git) and the candidates branch into a
`RunSummary`: the base, the incumbent, every experiment (refused ones included, each with
its rank among the measured), the ranked candidates and the LLM spend. Readers filter and
format; none of them walks the ledger itself. A run of 10,000 experiments loads in two
queries (experiments, measurements). `detail` adds what only one experiment's page needs
(its diff, measurements, decision and logs), and `fingerprint` tells a live reader when
to load again.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field, replace
from typing import Any

from gitresearch.errors import UsageError
from gitresearch.execute.runner import read_log_tail
from gitresearch.ledger import ExperimentStatus, Ledger, MeasurementRow, RunRow
from gitresearch.notes import BaseNote, CandidateNote, values
from gitresearch.propose.base import ProposalRecord
from gitresearch.stats import mean, stdev
from gitresearch.store import RunRefs, Store, experiment_branch

LOG_LIMIT = 256 * 1024  # characters of a log shown (its tail)
REFUSED: frozenset[str] = frozenset({"rejected", "duplicate"})  # never committed, never measured


@dataclass(frozen=True, kw_only=True)
class ExperimentSummary:
    """One experiment as every reader shows it."""

    number: int
    status: ExperimentStatus
    mean: float | None
    spread: float | None
    delta_parent: float | None  # mean minus its parent's mean, at the decision
    delta_base: float | None  # mean minus the base's mean
    gain_parent: float | None = None  # the same, as an improvement: positive is better, either direction
    gain_base: float | None = None
    runs: int  # successful measurements (paired and fresh seeds)
    seconds: float  # benchmark time spent on it
    proposer: str
    hypothesis: str
    reason: str
    commit: str | None
    parent: str | None
    finished: float  # when its row last changed
    rank: int | None = None  # by mean, best first, among those measured and not failed
    recorded: dict[str, float] = field(default_factory=dict)  # means of the trade-off metrics
    on_front: bool = False  # on the Pareto front of the objective and the trade-offs
    stopped_at: tuple[float, float] | None = None  # stopped early: (step, its parent's last step)
    # stopped early, an estimate of where it would have ended: the mean of the run it was
    # compared with (its parent, or a held gate pass) plus the gap it showed when it was
    # stopped (what the proposers learn too)
    stopped_estimate: float | None = None
    stopped_against: int | None = None  # stopped against this held gate pass rather than its parent

    @property
    def measured(self) -> bool:
        return self.status not in REFUSED


@dataclass(frozen=True, kw_only=True)
class CandidateSummary:
    """One commit of the candidates branch, in rank order."""

    rank: int
    experiment: int
    commit: str
    hypothesis: str
    delta: float | None
    contribution: float | None  # what leaving it out costs: positive is better, like `gain`
    contribution_note: str
    mean: float | None
    spread: float | None
    runs: int
    diffstat: str

    gain: float | None = None  # `delta` as an improvement: positive is better

    @property
    def pick(self) -> str:
        return f"git cherry-pick {self.commit[:12]}"


@dataclass(kw_only=True)
class RunSummary:
    run: str
    status: str
    metric: str
    direction: str
    base: str
    base_mean: float | None
    base_spread: float | None
    base_runs: int
    best: str | None  # the incumbent's commit
    best_mean: float | None
    best_experiment: int | None
    started: float
    sandbox: str = ""  # "on, bubblewrap …", or why the benchmarks ran without it ("" before it existed)
    experiments: list[ExperimentSummary] = field(default_factory=list)
    candidates: list[CandidateSummary] = field(default_factory=list)
    llm: dict[str, Any] = field(default_factory=dict)  # the agent's spend, when it ran
    tradeoffs: list[tuple[str, str]] = field(
        default_factory=list
    )  # (metric, direction) besides the objective
    base_recorded: dict[str, float] = field(default_factory=dict)
    prune: str = ""  # the early-stopping setting the run used ("" before it existed)
    base_seconds: float | None = None  # the median length of the base's runs: a whole run

    @property
    def stopped_early(self) -> list[ExperimentSummary]:
        return [e for e in self.experiments if e.stopped_at is not None]

    def front(self) -> list[int]:
        """The non-dominated experiments on the objective and the trade-offs (0: the base),
        among those measured with every metric; empty without trade-offs."""
        if not self.tradeoffs:
            return []
        names = [(self.metric, self.direction), *self.tradeoffs]
        points: dict[int, tuple[float, ...]] = {}
        if self.base_mean is not None and all(m in self.base_recorded for m, _ in self.tradeoffs):
            points[0] = _oriented(names, {self.metric: self.base_mean, **self.base_recorded})
        for e in self.experiments:
            if (
                e.mean is not None
                and e.status != "failed"
                and all(m in e.recorded for m, _ in self.tradeoffs)
            ):
                points[e.number] = _oriented(names, {self.metric: e.mean, **e.recorded})
        return sorted(n for n, p in points.items() if not any(_dominates(q, p) for q in points.values()))

    @property
    def better(self) -> str:
        return "lower" if self.direction == "minimize" else "higher"

    @property
    def unsandboxed(self) -> bool:
        return bool(self.sandbox) and not self.sandbox.startswith("on")

    @property
    def measured(self) -> list[ExperimentSummary]:
        return [e for e in self.experiments if e.measured]

    @property
    def rejected(self) -> int:
        return sum(e.status == "rejected" for e in self.experiments)

    def experiment(self, number: int) -> ExperimentSummary | None:
        return next((e for e in self.experiments if e.number == number), None)

    def candidate(self, number: int) -> CandidateSummary | None:
        return next((c for c in self.candidates if c.experiment == number), None)


def _oriented(names: list[tuple[str, str]], values_: dict[str, float]) -> tuple[float, ...]:
    """Every metric as a cost: lower is better."""
    return tuple(values_[m] if d == "minimize" else -values_[m] for m, d in names)


def _dominates(a: tuple[float, ...], b: tuple[float, ...]) -> bool:
    return all(x <= y for x, y in zip(a, b, strict=True)) and any(x < y for x, y in zip(a, b, strict=True))


def run_of(store: Store, ledger: Ledger, run: str) -> tuple[RunRow, RunRefs]:
    """A run's ledger row and branches, or a UsageError naming it."""
    row = ledger.run(run)
    refs = store.run(run)
    if row is None or refs is None:
        raise UsageError(f'no run named "{run}"; `gitresearch runs` lists them')
    return row, refs


def load_run(store: Store, ledger: Ledger, run: str) -> RunSummary:
    row, refs = run_of(store, ledger, run)
    metric = str(row.meta.get("metric", ""))
    direction = str(row.meta.get("direction", "minimize"))
    by_number: dict[int, list[MeasurementRow]] = {}
    for m in ledger.measurements(run):
        by_number.setdefault(m.number, []).append(m)
    base_values = values(by_number.get(0, []), metric, ("baseline",))
    base_mean = mean(base_values) if base_values else None
    summary = RunSummary(
        run=run,
        status=row.status,
        metric=metric,
        direction=direction,
        base=refs.base,
        base_mean=base_mean,
        base_spread=stdev(base_values) if len(base_values) > 1 else None,
        base_runs=len(base_values),
        best=refs.best,
        best_mean=base_mean,
        best_experiment=None,
        started=row.started,
        sandbox=str(row.meta.get("sandbox", "")),
        llm=_llm_usage(store, refs.base, run),
        tradeoffs=[(str(m), str(d)) for m, d in row.meta.get("tradeoffs", [])],
        prune=str(row.meta.get("prune", "")),
        base_seconds=_median([m.seconds for m in by_number.get(0, []) if m.status == "ok" and m.seconds]),
    )
    for name, _ in summary.tradeoffs:
        base_metric = values(by_number.get(0, []), name, ("baseline",))
        if base_metric:
            summary.base_recorded[name] = mean(base_metric)
    means: dict[str, float] = {refs.base: base_mean} if base_mean is not None else {}
    heading: dict[
        int, tuple[float | None, float]
    ] = {}  # a stopped run: (its parent's mean, the gap when stopped)
    for exp in ledger.experiments(run):
        ms = [m for m in by_number.get(exp.number, []) if m.purpose in ("measure", "confirm")]
        own = values(ms, metric)
        m_ = mean(own) if own else None
        if exp.commit is not None and m_ is not None:
            means[exp.commit] = m_
        stop = exp.decision.pruned if exp.status == "discarded" else None
        parent_mean = means.get(exp.parent or refs.base)
        summary.experiments.append(
            ExperimentSummary(
                number=exp.number,
                status=exp.status,
                mean=m_,
                spread=stdev(own) if len(own) > 1 else None,
                delta_parent=exp.decision.delta,
                delta_base=(m_ - base_mean) if m_ is not None and base_mean is not None else None,
                runs=len(own),
                seconds=sum(m.seconds or 0.0 for m in ms),
                proposer=exp.proposer,
                hypothesis=exp.hypothesis,
                reason=exp.decision.reason,
                commit=exp.commit,
                parent=exp.parent,
                finished=exp.updated,
                recorded={name: mean(vs) for name, _ in summary.tradeoffs if (vs := values(ms, name))},
                stopped_at=(stop.step, stop.last_step) if stop is not None else None,
                stopped_against=stop.against if stop is not None else None,
            )
        )
        if exp.commit is not None and exp.commit == refs.best:
            summary.best_mean, summary.best_experiment = m_, exp.number
        if stop is not None:
            heading[exp.number] = (parent_mean, stop.value - stop.parent)
    # a stopped run: where the mean of the run it lost to (its parent, or a held gate pass,
    # perhaps numbered later) says it was heading, worse by the gap it showed
    by_number_mean = {e.number: e.mean for e in summary.experiments}
    for i, e in enumerate(summary.experiments):
        if e.number in heading:
            parent_mean, gap = heading[e.number]
            rival = parent_mean if e.stopped_against is None else by_number_mean.get(e.stopped_against)
            if rival is not None:
                summary.experiments[i] = replace(e, stopped_estimate=rival + gap)
    sign = 1.0 if direction == "minimize" else -1.0
    # best mean first; at an equal mean an accepted change before one that was not
    ranked = sorted(
        (sign * e.mean, e.status != "accepted", e.number)
        for e in summary.experiments
        if e.mean is not None and e.status != "failed"
    )
    ranks = {number: i + 1 for i, (_, _, number) in enumerate(ranked)}
    summary.experiments = [
        replace(
            e,
            rank=ranks.get(e.number),
            gain_parent=_gain(sign, e.delta_parent),
            gain_base=_gain(sign, e.delta_base),
        )
        for e in summary.experiments
    ]
    front = set(summary.front())
    if front:
        summary.experiments = [replace(e, on_front=e.number in front) for e in summary.experiments]
    if refs.candidates:
        summary.candidates = [
            replace(c, gain=_gain(sign, c.delta)) for c in _candidates(store, refs.base, refs.candidates)
        ]
    return summary


def _median(xs: list[float]) -> float | None:
    return statistics.median(xs) if xs else None


def _gain(sign: float, delta: float | None) -> float | None:
    """A difference of means as an improvement (positive is better, whatever the direction)."""
    return None if delta is None else -sign * delta


def _llm_usage(store: Store, base: str, run: str) -> dict[str, Any]:
    record = BaseNote.from_json(store.read_note(base)).by_run.get(run)
    return dict(record.llm) if record else {}


def _candidates(store: Store, base: str, tip: str) -> list[CandidateSummary]:
    chain: list[tuple[str, str]] = []
    sha = tip
    for _ in range(10_000):
        if sha == base:
            break
        parent = store.parent_of(sha)
        chain.append((sha, parent))
        sha = parent
    out: list[CandidateSummary] = []
    for sha, parent in reversed(chain):
        note = CandidateNote.from_json(store.read_note(sha) or {}, rank=len(out) + 1)
        assert note is not None  # a dict always reads as a note
        out.append(
            CandidateSummary(
                rank=note.rank,
                experiment=note.experiment,
                commit=sha,
                hypothesis=note.hypothesis or store.message(sha).splitlines()[0],
                delta=note.delta,
                contribution=note.contribution,
                contribution_note=note.contribution_note,
                mean=note.mean,
                spread=note.spread,
                runs=len(note.values),
                diffstat=store.diffstat(parent, sha),
            )
        )
    return out


# -- one experiment in full -----------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class MeasurementLine:
    seed: int
    purpose: str
    status: str
    value: float | None
    seconds: float | None
    reason: str | None
    detail: str | None
    slot: str | None
    log_path: str | None
    curve: tuple[tuple[float, float], ...] = ()


@dataclass(frozen=True, kw_only=True)
class CurveLine:
    """One run's curve of intermediate values, for the detail's chart."""

    label: str  # "#0007 s0 (pruned)", "parent s0"
    # this experiment's run (else the one it was compared with on that seed: its parent's,
    # or the held gate pass it was stopped against)
    own: bool
    points: tuple[tuple[float, float], ...]


@dataclass(frozen=True, kw_only=True)
class Detail:
    experiment: ExperimentSummary
    branch: str | None
    diff: str
    measurements: list[MeasurementLine]
    decision: dict[str, Any]
    violations: list[dict[str, Any]]
    rationale: str
    log: str  # the logs of its runs, newest last, each with a header
    curves: list[CurveLine] = field(default_factory=list)  # its runs' curves and its parent's, same seeds


def detail(store: Store, ledger: Ledger, summary: RunSummary, number: int) -> Detail:
    exp = summary.experiment(number)
    if exp is None:
        raise UsageError(f"run {summary.run} has no experiment #{number:04d}")
    row = ledger.experiment(summary.run, number)
    ms = ledger.measurements(summary.run, number)
    diff = ""
    if exp.commit and exp.parent:
        diff = store.diff(exp.parent, exp.commit)
    elif row is not None and row.patch:
        diff = "(never committed: the proposal was refused before it ran)\n" + _proposed_edits(row.patch)
    logs = []
    for m in ms:
        header = f"── seed {m.seed} ({m.purpose}, {m.status}) {m.log_path or 'no log'} ──"
        logs.append(header + "\n" + (_tail(m.log_path) if m.log_path else ""))
    return Detail(
        experiment=exp,
        branch=experiment_branch(summary.run, number) if exp.commit else None,
        diff=diff,
        measurements=[
            MeasurementLine(
                seed=m.seed,
                purpose=m.purpose,
                status=m.status,
                value=m.metrics.get(summary.metric),
                seconds=m.seconds,
                reason=m.reason,
                detail=m.detail,
                slot=m.slot,
                log_path=m.log_path,
                curve=m.curve,
            )
            for m in ms
        ],
        curves=_curves(ledger, summary, exp, ms),
        decision=row.decision.to_json() if row else {},
        violations=list(row.violations or []) if row else [],
        rationale=row.rationale if row else "",
        log="\n".join(logs) if logs else "(no runs)",
    )


def _curves(
    ledger: Ledger, summary: RunSummary, exp: ExperimentSummary, ms: list[MeasurementRow]
) -> list[CurveLine]:
    """The experiment's curves, then its parent's on the same seeds (the pairs a stop compared)."""
    own = [
        CurveLine(label=f"#{exp.number:04d} s{m.seed} ({m.status})", own=True, points=m.curve)
        for m in ms
        if m.curve
    ]
    if not own:
        return []
    if exp.parent is None or exp.number == 0:
        return own
    parent_number = next((e.number for e in summary.experiments if e.commit == exp.parent), 0)
    row = ledger.experiment(summary.run, exp.number)
    stop = row.decision.pruned if row is not None else None
    name = "parent"
    if stop is not None and stop.against is not None:  # stopped against the best held gate pass
        parent_number, name = stop.against, f"#{stop.against:04d}"
    seeds = {m.seed for m in ms if m.curve}
    theirs = [
        CurveLine(label=f"{name} s{m.seed}", own=False, points=m.curve)
        for m in ledger.measurements(summary.run, parent_number)
        if m.curve and m.seed in seeds and m.status == "ok" and m.purpose in ("baseline", "measure")
    ]
    return own + theirs


def fingerprint(ledger: Ledger, run: str) -> tuple[Any, ...]:
    """A cheap fingerprint of the run's state: when it changes, a live view loads again."""
    e = ledger.db.execute("SELECT COUNT(*), MAX(updated) FROM experiments WHERE run=?", (run,)).fetchone()
    m = ledger.db.execute(
        "SELECT COUNT(*), MAX(finished), SUM(status='running') FROM measurements WHERE run=?", (run,)
    ).fetchone()
    r = ledger.db.execute("SELECT status, best FROM runs WHERE name=?", (run,)).fetchone()
    return (tuple(e), tuple(m), tuple(r) if r else None)


def _proposed_edits(patch: str) -> str:
    """The region edits a refused proposal asked for, from the ledger's record of it."""
    edits = ProposalRecord.from_text(patch).edits
    parts = [f"\n# {e.path} :: {e.region}\n{e.source}" for e in edits]
    return "\nThe edits it proposed:\n" + "".join(parts) if parts else ""


def _tail(path: str) -> str:
    try:
        text, cut = read_log_tail(path, LOG_LIMIT)
    except OSError as e:
        return f"(the log cannot be read: {e.strerror})"
    return ("… (earlier output cut)\n" if cut else "") + text
