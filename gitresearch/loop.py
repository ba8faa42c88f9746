"""The research loop: measure the base, then propose, validate, commit, run, decide.

One `Search` owns one run. It is single-threaded: the executor runs benchmarks in its own
threads and hands results back through `wait_any`, so every decision, ledger write and
note happens here, in order. An experiment goes through

    proposed -> (rejected | duplicate | committed) -> measured on the paired seeds
    -> gate (t90 against its parent) -> confirmation on fresh seeds (t99.9, fresh runs only)
    -> accepted (the incumbent advances) | discarded | failed

A measurement run whose curve of intermediate values is clearly losing against its parent's
on the same seed is stopped early (prune.py's rule; stopping.py keeps what it learns between
looks: the audits, the curves found to be no guide) and the experiment discarded as pruned.

and one that passed against a parent that is no longer the incumbent is re-applied onto
the incumbent as a new experiment and measured again. Every finished run rewrites the
experiment's note in git, so a run killed at any instant resumes from what git and the
ledger hold (`resume`).
"""

from __future__ import annotations

import contextlib
import functools
import math
import re
import signal
import time
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from gitresearch.boundaries.config import Config
from gitresearch.boundaries.resolve import Boundaries
from gitresearch.boundaries.validator import Accepted, Validator
from gitresearch.constraints import broken_by
from gitresearch.decide import (
    Accept,
    Confirm,
    ConstraintEvidence,
    Discard,
    Evidence,
    Fail,
    Reapply,
    Rule,
    decide,
)
from gitresearch.display import better_or_worse
from gitresearch.errors import GitResearchError
from gitresearch.execute.base import Executor, Job, RunResult, Slot
from gitresearch.execute.runner import read_log_tail
from gitresearch.ledger import ExperimentRow, ExperimentStatus, Ledger
from gitresearch.notes import (
    Decision,
    ExperimentNote,
    Measurement,
    Points,
    Pruned,
    Purpose,
    Rejection,
    StatTest,
    values,
)
from gitresearch.propose.base import Context, NotReady, Outcome, Proposal, ProposalRecord, Proposer
from gitresearch.prune import Stop
from gitresearch.prune import setting as prune_setting
from gitresearch.record import Recorder
from gitresearch.stats import (
    Noise,
    Pair,
    Test,
    all_alike,
    improvement,
    mean,
    paired_noise,
    pooled_noise,
    stdev,
)
from gitresearch.stopping import AUDIT_EVERY, EarlyStopping, Rival
from gitresearch.store import Store

CONFIRM_SEED_BASE = 100_000  # seeds nobody ran: CONFIRM_SEED_BASE + 100 * experiment + i
MAX_CONSECUTIVE_REJECTIONS = 25
NO_EFFECT_WARNING = 4  # experiments in a row equal to their parent before the console says so
MAX_HYPOTHESIS = 300  # characters kept of a proposal's hypothesis (a commit subject)
# experiments measured after the best held gate pass, none better, before it is confirmed anyway
# (held only where the proposer defers confirmation: the sweep's model, its suggestions whole)
HOLD_PATIENCE = 8
MAX_RATIONALE = 20_000
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def clean_text(text: str, limit: int) -> str:
    """A proposer's words as git can hold them: no NUL or control characters, bounded."""
    cleaned = _CONTROL.sub("", text).strip()
    return cleaned if len(cleaned) <= limit else cleaned[: limit - 1] + "…"


Phase = Literal["measure", "held", "confirm", "done"]


@dataclass
class Experiment:
    """One committed experiment while the search holds it in memory."""

    number: int
    proposal: Proposal
    commit: str
    parent: str
    phase: Phase = "measure"
    measurements: list[Measurement] = field(default_factory=list)
    in_flight: int = 0
    lines: tuple[int, int] | None = None  # (added, removed) against its parent, once known
    status: ExperimentStatus = "committed"
    decision: Decision = field(default_factory=Decision)

    def values(self, metric: str, purposes: tuple[str, ...] = ("measure", "confirm")) -> list[float]:
        return values(self.measurements, metric, purposes)


@dataclass(frozen=True, kw_only=True)
class Snapshot:
    """What a progress display shows of a search, taken on its own thread."""

    done: int
    budget: int
    seconds_left: float
    metric: str
    best: float | None
    gain: float | None  # how much better the best's mean is than the base's (positive: better)
    best_number: int | None
    running: Mapping[str, tuple[Job, Slot]]
    slots: tuple[Slot, ...]
    started: Mapping[str, float]  # job key -> when it started
    llm_usd: float | None
    waiting_s: float | None = None  # how long the agent has waited for its model (or command)
    steps: Mapping[str, float] = field(default_factory=dict)  # job key -> the last step its curve reported


@dataclass(frozen=True, kw_only=True)
class Summary:
    run: str
    stop_reason: str
    experiments: int
    accepted: list[int]
    base_mean: float | None
    best_mean: float | None
    interrupted: bool
    base_failed: bool = False
    tripped: str = ""  # what the tripwire saw change (the run stopped at once)
    seed_ignored: bool = False  # the base gave one value on every seed (the run stopped)


class StopSearch(GitResearchError):
    """The search cannot go on (the base fails, or failures in a row)."""


class Search:
    def __init__(
        self,
        *,
        store: Store,
        ledger: Ledger,
        boundaries: Boundaries,
        executor: Executor,
        proposer: Proposer,
        run: str,
        config: Config,
        on_event: Callable[[str], None] = lambda line: None,
        on_tick: Callable[[Search], None] = lambda search: None,
        meta: Mapping[str, Any] | None = None,
        watch_refs: bool = True,
    ) -> None:
        self.store, self.ledger, self.boundaries = store, ledger, boundaries
        self.extra_meta = dict(meta or {})  # what the caller knows of the run (its sandbox)
        self.watch_refs = watch_refs  # the tripwire also watches branches, HEAD, index (no sandbox)
        self.watched: dict[str, str] = {}
        self.tripped = ""
        self.seed_ignored = False  # the base gave one value on every seed: the run stopped
        self.recorder = Recorder(store, ledger, run)
        self.on_tick = on_tick
        self.job_started: dict[str, float] = {}
        self.executor, self.proposer, self.run, self.config = executor, proposer, run, config
        self.metric = config.objective.metric
        self.direction = config.objective.direction
        self.rule = Rule(
            direction=self.direction,
            min_improvement=config.objective.min_improvement,
            confirm_runs=config.search.confirm_runs,
            simplicity=config.search.simplicity,
        )
        self.on_event = on_event
        self.stopping = EarlyStopping(
            prune_setting(config.search.prune, config.search.prune_after),
            self.direction,
            config.objective.min_improvement,
        )
        self.base = ""
        self.incumbent = ""
        self.baseline: list[Measurement] = []
        self.experiments: dict[int, Experiment] = {}
        self.by_commit: dict[str, Experiment] = {}
        self.trees: dict[str, int] = {}  # tree id -> the experiment that measured it (0: the base)
        self.waiting = False  # the proposer is still thinking (NOT_READY)
        self._warmed = 0.0
        self.queue: deque[Job] = deque()
        self.held: list[int] = []  # gate passes waiting for a better one before one is confirmed
        self.started = time.time()
        self.deadline = self.started + config.budget.wall_clock
        self.committed = 0
        self.consecutive_failures = 0
        self.unchanged = 0  # experiments in a row that measured exactly their parent's value
        self.warned_no_effect = False
        self.last_failure = ""
        self.consecutive_rejections = 0
        self.stop_reason = ""
        self.interrupted = 0
        self.exhausted = False
        self.base_failed = False

    # -- set-up ---------------------------------------------------------------------------

    def start(self) -> None:
        self.watched = self.store.tripwire(refs=self.watch_refs)
        self.base = self.store.head()
        self.store.create_run(self.run, self.base)
        self.incumbent = self.base
        self.recorder.begin(self.base, self.started, self._meta())
        for seed in range(self.config.search.baseline_runs):
            self.queue.append(Job(self.run, 0, self.base, seed, "baseline"))
        self.trees[self.store.tree_of(self.base)] = 0

    def _meta(self) -> dict[str, Any]:
        c = self.config
        return {
            "metric": self.metric,
            "direction": self.direction,
            "command": c.objective.command,
            "proposer": self.proposer.name,
            "seed": c.search.seed,
            "repeats": c.objective.repeats,
            "confirm_runs": c.search.confirm_runs,
            "budget_experiments": c.budget.experiments,
            "wall_clock": c.budget.wall_clock,
            "prune": c.search.prune,
            **({"tradeoffs": [list(t) for t in c.objective.tradeoffs]} if c.objective.tradeoffs else {}),
            **self.extra_meta,
        }

    def resume(self) -> None:
        """Continue a stopped or killed run from the ledger (already synced with git)."""
        refs = self.store.run(self.run)
        row = self.ledger.run(self.run)
        if refs is None or row is None:
            raise StopSearch(f'no run named "{self.run}" to resume (see `gitresearch runs`)')
        self.base, self.incumbent = refs.base, refs.best or refs.base
        self.watched = self.store.tripwire(refs=self.watch_refs)
        record = self.recorder.reopen(self.base, row.started, row.meta)
        self.proposer.restore_usage(record.llm)
        self.started = time.time()
        self.deadline = self.started + self.config.budget.wall_clock
        self.trees[self.store.tree_of(self.base)] = 0
        self.baseline = [
            m.as_measurement() for m in self.ledger.measurements(self.run, 0) if m.status in ("ok", "failed")
        ]
        missing = [
            s for s in range(self.config.search.baseline_runs) if s not in {m.seed for m in self.baseline}
        ]
        self.queue.extend(Job(self.run, 0, self.base, s, "baseline") for s in missing)
        for exp_row in self.ledger.experiments(self.run):
            if exp_row.commit is None:
                continue
            proposal = _proposal_from_row(exp_row, self.store)
            exp = Experiment(
                exp_row.number,
                proposal,
                exp_row.commit,
                exp_row.parent or self.base,
                status=exp_row.status,
                decision=exp_row.decision,
            )
            exp.measurements = [
                m.as_measurement()
                for m in self.ledger.measurements(self.run, exp_row.number)
                if m.status in ("ok", "failed", "pruned") and m.purpose in ("measure", "confirm")
            ]
            self.experiments[exp.number] = exp
            self.by_commit[exp.commit] = exp
            self.trees[self.store.tree_of(exp.commit)] = exp.number
            self.committed += 1
            if exp.status == "cancelled":  # stopped in flight: it runs again from where it was
                exp.status = "committed"
                self.recorder.changed(self._note(exp), exp.commit, "committed")
        # once all are in: a stop may have been called against a later-numbered held gate pass
        for exp in self.experiments.values():
            stop = exp.decision.pruned
            against = self.stopped_against(exp, stop) if stop is not None else exp.parent
            self.stopping.recall(against, stop is not None, exp.decision.audit)
            if exp.status in ("accepted", "discarded", "failed"):
                exp.phase = "done"
                self.proposer.observe(self._outcome(exp))
            else:
                self._requeue(exp)
        self._event(
            f"resumed run {self.run}: {self.committed} experiment(s) so far, {len(self.queue)} run(s) to redo"
        )

    def _requeue(self, exp: Experiment) -> None:
        confirmed = any(m.purpose == "confirm" for m in exp.measurements)
        if exp.status == "measured" and not confirmed and self._may_hold(exp):
            self._hold(exp)  # held when it stopped: held again
            return
        done = {(m.purpose, m.seed) for m in exp.measurements}
        wanted: list[tuple[Purpose, int]] = [("measure", s) for s in range(self.config.objective.repeats)]
        if confirmed or exp.status == "measured":
            exp.phase = "confirm"
            if not confirmed:
                wanted.append(("confirm", self._confirm_seed(exp)))
            # with fresh runs in, the rule says whether one more is needed (_phase_complete)
        todo = [(p, s) for p, s in wanted if (p, s) not in done]
        for purpose, seed in todo:
            self.queue.append(Job(self.run, exp.number, exp.commit, seed, purpose))
        exp.in_flight = len(todo)
        if not todo:
            self._phase_complete(exp)

    # -- the loop -------------------------------------------------------------------------

    def loop(self) -> Summary:
        with self._signals():
            while True:
                if self.interrupted or self.base_failed or self.tripped or self.seed_ignored:
                    self.stop_reason = self.stop_reason or "interrupted"
                    break
                if time.time() >= self.deadline:
                    self.stop_reason = "the wall-clock budget is spent"
                    break
                self._warm()
                self._fill()
                if not self.executor.running() and not self.queue and not self.waiting:
                    break
                # Poll briefly while the proposer thinks, so a free slot is filled the moment it can be.
                for result in self.executor.wait_any(timeout=0.05 if self.waiting else 0.5):
                    self._handle(result)
                self._prune()
                self.on_tick(self)
            self._shutdown()
        ended_early = self.interrupted or self.base_failed or self.seed_ignored or self.tripped
        usage = {k: v for k, v in self.proposer.usage().items() if k != "waiting_s"}  # a moment's state
        self.recorder.ended("stopped" if ended_early else "searched", usage)
        accepted = [e.number for e in self.experiments.values() if e.status == "accepted"]
        base_values = self.parent_values(self.base)
        best = self.by_commit.get(self.incumbent)
        base_mean = mean(base_values) if base_values else None
        return Summary(
            run=self.run,
            stop_reason=self.stop_reason or "done",
            experiments=self.committed,
            accepted=accepted,
            base_mean=base_mean,
            best_mean=_mean_or_none(best.values(self.metric)) if best else base_mean,
            interrupted=bool(self.interrupted),
            base_failed=self.base_failed,
            tripped=self.tripped,
            seed_ignored=self.seed_ignored,
        )

    @contextmanager
    def _signals(self) -> Iterator[None]:
        def handler(signum: int, frame: object) -> None:
            del frame
            self.interrupted += 1
            if self.interrupted == 1:
                self._event(
                    f"received {signal.Signals(signum).name}: stopping; cancelling running jobs "
                    "(press Ctrl-C again to stop without finalizing)"
                )
            for key in list(self.executor.running()):
                self.executor.cancel(key)

        previous = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
        try:
            yield
        finally:
            for s, h in previous.items():
                signal.signal(s, h)

    def _shutdown(self) -> None:
        for key in list(self.executor.running()):
            self.executor.cancel(key)
        while self.executor.running():
            for result in self.executor.wait_any(timeout=1.0):
                self._handle(result)
        self.queue.clear()
        if self.held:
            numbers = ", ".join(f"#{n:04d}" for n in sorted(self.held))
            self._event(
                f"{len(self.held)} gate pass(es) held and not confirmed ({numbers}): "
                f"`gitresearch start --resume {self.run}` confirms the best of them"
            )
        if self.interrupted or self.tripped:  # in flight when stopped: `cancelled`, re-run on resume
            for exp in self.experiments.values():
                if exp.status in ("committed", "running") and exp.phase != "done":
                    exp.status = "cancelled"
                    self.recorder.changed(self._note(exp), exp.commit, "cancelled")

    def _baseline_done(self) -> bool:
        return len(self.baseline) >= self.config.search.baseline_runs

    def _may_propose(self) -> bool:
        if self.exhausted or self.stop_reason:
            return False
        if time.time() + self._finalize_reserve() >= self.deadline:
            self.stop_reason = self.stop_reason or "the time left is kept for the final ablation"
            return False
        if self.committed >= self.config.budget.experiments:
            self.stop_reason = (
                self.stop_reason or f"the experiment budget ({self.config.budget.experiments}) is spent"
            )
            return False
        return self._baseline_done()

    def _finalize_reserve(self) -> float:
        """Seconds the leave-one-out ablation of the accepted changes would take on all slots,
        and before it the confirmation of a held gate pass, one fresh seed after another."""
        accepted = sum(e.status == "accepted" for e in self.experiments.values())
        seconds = sorted(
            m.seconds for e in self.experiments.values() for m in e.measurements if m.status == "ok"
        )
        if not seconds:
            return 0.0
        run = seconds[len(seconds) // 2]
        confirming = self.config.search.confirm_runs * run if self.held else 0.0
        if accepted < 2:
            return confirming
        runs = accepted * max(2, self.config.objective.repeats + self.config.search.confirm_runs)
        waves = -(-runs // max(1, len(self.executor.slots)))
        return confirming + waves * run

    def _warm(self) -> None:
        """Let a slow proposer think ahead while benchmarks (or the base) run."""
        if self.stop_reason or self.exhausted or self.interrupted:
            return
        if self.committed >= self.config.budget.experiments:
            return
        now = time.monotonic()
        if now - self._warmed < 0.1:  # the context costs a little; a slow proposer needs no more
            return
        self._warmed = now
        self.proposer.warm(self._context(self.incumbent))

    def _fill(self) -> None:
        self.waiting = False
        self._release_held(ending=False)
        while self.executor.free_slots() > 0 and not self.interrupted:
            if self.queue:
                self._submit(self.queue.popleft())
            elif self._may_propose():
                if not self._new_experiment():
                    return
            elif not self._release_held(ending=True):
                return

    def _submit(self, job: Job) -> None:
        slot = self.executor.submit(job)
        self.job_started[job.key] = time.time()
        self.recorder.started(job, slot)
        exp = self.experiments.get(job.experiment)
        if exp is not None and exp.status in ("committed", "measured"):
            exp.status = "running"
            self.recorder.running(exp.number)

    # -- proposing ------------------------------------------------------------------------

    def _context(self, parent: str) -> Context:
        base_values = self.parent_values(self.base)
        best = self.parent_values(self.incumbent)
        noise = self.noise() if len(base_values) >= 2 else None
        return Context(
            parent,
            self.store.source(parent),
            self.committed,
            self.config.budget.experiments - self.committed,
            slots=len(self.executor.slots),
            seconds_left=self.deadline - time.time(),
            base_value=mean(base_values) if base_values else None,
            best_value=mean(best) if best else None,
            noise=noise.sigma if noise is not None else None,
        )

    def _new_experiment(self) -> bool:
        """Propose, validate and commit one experiment; False when nothing more can be started."""
        for _ in range(MAX_CONSECUTIVE_REJECTIONS + 1):
            proposal = self.proposer.propose(self._context(self.incumbent))
            if isinstance(proposal, NotReady):
                self.waiting = True
                return False
            if proposal is None:
                self.exhausted = True
                why = self.proposer.stopped or "it has nothing new to try"
                self.stop_reason = self.stop_reason or f"the {self.proposer.name} proposer stopped: {why}"
                return False
            if self._commit(proposal):
                return True
            if self.consecutive_rejections >= MAX_CONSECUTIVE_REJECTIONS:
                self.stop_reason = (
                    f"{MAX_CONSECUTIVE_REJECTIONS} proposals in a row were rejected or duplicates"
                )
                return False
        return False

    def _commit(self, proposal: Proposal, reapplied_from: int | None = None) -> bool:
        proposal = replace(
            proposal,
            hypothesis=clean_text(proposal.hypothesis, MAX_HYPOTHESIS) or "(no hypothesis given)",
            rationale=clean_text(proposal.rationale, MAX_RATIONALE),
        )
        number = self.ledger.next_number(self.run)
        self.recorder.proposed(
            number,
            parent=proposal.parent,
            proposer=proposal.proposer,
            hypothesis=proposal.hypothesis,
            rationale=proposal.rationale,
            patch=ProposalRecord.of(proposal, reapplied_from).to_text(),
        )
        validator = Validator(self.boundaries, self.store.source(proposal.parent))
        if proposal.diff:
            verdict = validator.judge_diff(proposal.diff)
        elif proposal.edits:
            verdict = validator.judge_edits(proposal.edits)
        else:
            verdict = validator.judge_files(proposal.files)
        if not isinstance(verdict, Accepted):
            self.recorder.rejected(
                Rejection(
                    number=number,
                    proposer=proposal.proposer,
                    hypothesis=proposal.hypothesis,
                    rationale=proposal.rationale,
                    parent=proposal.parent,
                    violations=[
                        {"path": v.path, "line": v.line, "rule": v.rule, "message": v.message}
                        for v in verdict.violations
                    ],
                )
            )
            self.proposer.rejected(proposal, verdict.violations)
            self.consecutive_rejections += 1
            self._event(f"#{number:04d} rejected: {verdict.violations[0].render()}")
            return False
        changes = {c.path: c.patched.encode("utf-8") for c in verdict.changes}
        tree = self.store.write_tree(proposal.parent, changes)
        # the same code as the experiment it re-applies is still a new comparison: a new parent
        if tree in self.trees and (reapplied_from is None or self.trees[tree] != reapplied_from):
            of = self.trees[tree]
            self.recorder.duplicate(
                number,
                "the same code was already measured" + (f" (experiment #{of})" if of else " (the base)"),
            )
            self.consecutive_rejections += 1
            self.proposer.duplicate(proposal, of)
            return False
        self.trees[tree] = number
        self.consecutive_rejections = 0
        commit = self.store.commit_experiment(
            self.run,
            number,
            proposal.parent,
            changes,
            proposal.hypothesis,
            proposal.rationale,
            proposal.proposer,
            tree=tree,
        )
        exp = Experiment(
            number, proposal, commit.sha, proposal.parent, decision=Decision(reapplied_from=reapplied_from)
        )
        self.experiments[number] = exp
        self.by_commit[commit.sha] = exp
        self.committed += 1
        for seed in range(self.config.objective.repeats):
            self.queue.append(Job(self.run, number, commit.sha, seed, "measure"))
        exp.in_flight = self.config.objective.repeats
        self.recorder.committed(self._note(exp), commit.sha)
        return True

    # -- results --------------------------------------------------------------------------

    def _check_tripwire(self) -> None:
        now = self.store.tripwire(refs=self.watch_refs)
        changed = sorted(k for k in {*now, *self.watched} if now.get(k) != self.watched.get(k))
        if changed and not self.tripped:
            self.tripped = ", ".join(changed[:5])
            self.stop_reason = (
                f"tripwire: {self.tripped} changed in the repository while jobs ran; stopping the run. "
                "Check what changed (git reflog, .git/hooks, .git/config) before you trust this repository"
            )
            self._event("STOPPING: " + self.stop_reason)
            for key in list(self.executor.running()):
                self.executor.cancel(key)

    def _handle(self, result: RunResult) -> None:
        job = result.job
        self.job_started.pop(job.key, None)
        if self.watched:
            self._check_tripwire()
        stop, audit = self.stopping.ended(job.key, job.experiment)
        if stop is not None and not result.ok and result.reason == "cancelled" and not self.interrupted:
            result = replace(result, reason="pruned", detail=stop.describe(self.metric))
        measurement = self.recorder.finished(result)
        if measurement is None or measurement.status == "cancelled":
            return  # re-run on resume; never judged
        if job.purpose == "baseline":
            self._baseline_result(measurement)
            return
        exp = self.experiments.get(job.experiment)
        if exp is None:
            return
        exp.measurements.append(measurement)
        if audit is not None:
            self._audit(exp, measurement, audit)
        exp.in_flight -= 1
        if exp.in_flight > 0:
            self.recorder.changed(self._note(exp), exp.commit)
            return
        self._phase_complete(exp)

    def _baseline_result(self, m: Measurement) -> None:
        self.baseline.append(m)
        self.recorder.baseline_measured(m)
        if m.status != "ok":
            self.stop_reason = (
                f"the base itself fails ({m.reason}: {m.detail}); fix the benchmark "
                f"before searching. Log: {m.log_path}"
            )
            self.base_failed = True
            self._event(self.stop_reason + _log_end(m.log_path))
            return
        if self._baseline_done():
            base_values = self.parent_values(self.base)
            if all_alike(base_values) and not self.config.objective.deterministic:
                self.seed_ignored = True
                self.stop_reason = (
                    f"the base gave {self.metric} = {base_values[0]:.10g} on all {len(base_values)} seeds: "
                    "the benchmark ignores the seed gitresearch passes, so there is no noise to judge a "
                    "change by and any difference would look like progress"
                )
                self._event("stopping: " + self.stop_reason)
                return
            self._event(
                f"base: {self.metric} {mean(base_values):.4g} ± {stdev(base_values):.2g} over "
                f"{len(base_values)} run(s); {self.noise().describe()}"
            )
            if self.stopping.rule is not None and len(self._curves(self.base)) < 2:
                self._event(
                    f"early stopping ({self.config.search.prune}) is idle: the base reported no curve of "
                    f"{self.metric}, so every run goes to its end; print a `step: N` line before each "
                    f"intermediate `{self.metric}: VALUE` to let it stop clear losers (docs/deciding.md)"
                )

    # -- early stopping -------------------------------------------------------------------

    def _prune(self) -> None:
        """Stop each measurement run whose curve so far loses clearly against its parent's."""
        if self.stopping.rule is None or self.interrupted or self.tripped:
            return
        base_curves = self._curves(self.base)
        if len(base_curves) < 2:
            return  # no noise to judge a curve by (or the benchmark reports none)
        # pooled over every experiment: once per tick, when a curve has a new report
        final_noise = functools.cache(lambda: self.noise().sigma or 0.0)
        for key, (job, _) in self.executor.running().items():
            exp = self.experiments.get(job.experiment)
            if job.purpose != "measure" or exp is None or not self.stopping.may_stop(key, exp.number):
                continue  # (one of its runs is being audited: all of it runs to its end)
            # while gate passes are held, against the best of them on the same parent: a run
            # clearly behind it cannot be the one confirmed (else against its parent)
            leader = self._leader(exp, job.seed)
            against = leader.commit if leader is not None else exp.parent
            if not self.stopping.guided(exp.parent, against):
                continue
            parent = self._curve(against, job.seed)
            if len(parent) < 2:
                continue
            reference = self._curves(against)
            if len(reference) < 2:
                reference = self._curves(exp.parent)
            rival = Rival(
                against,
                leader.number if leader is not None else None,
                parent,
                reference if len(reference) >= 2 else base_curves,
            )
            call = self.stopping.judge(
                key, exp.number, job.seed, self.executor.progress(key), rival, final_noise
            )
            if call is None:
                continue
            if call.audit:
                self._event(
                    f"#{exp.number:04d} would be {call.stop.describe(self.metric)}; running it to its end "
                    f"instead (one stop in {AUDIT_EVERY} is checked)"
                )
                continue
            self._stop_experiment(exp, call.stop)

    def _leader(self, exp: Experiment, seed: int) -> Experiment | None:
        """The best gate pass held on `exp`'s parent that reported a curve on `seed`, if any."""
        held = (self.experiments[n] for n in self.held if n != exp.number)
        rivals = [e for e in held if e.parent == exp.parent and len(self._curve(e.commit, seed)) >= 2]
        return max(rivals, key=lambda e: self._held_gain(e.number), default=None)

    def stopped_against(self, exp: Experiment, stop: Pruned) -> str:
        """The commit whose curve a stop compared `exp` with: its parent, or a held gate pass."""
        rival = self.experiments.get(stop.against) if stop.against is not None else None
        return rival.commit if rival is not None else exp.parent

    def _audit(self, exp: Experiment, m: Measurement, stop: Stop) -> None:
        """A run the rule would have stopped has ended: if it did not end clearly behind the
        run it was compared with on that seed (its parent, or the best held gate pass), that
        one's curves do not predict results (a curve measured on other data, or forged), and
        no run is stopped against it again."""
        against = self.stopped_against(exp, stop.evidence)
        parent = self._parent_by_seed(against).get(m.seed)
        if m.status != "ok" or parent is None or self.metric not in m.metrics:
            return
        behind = improvement(self.direction, m.metrics[self.metric], parent)  # how much worse it is
        clearly = 2.0 * math.sqrt(2.0) * (self.noise().sigma or 0.0) + self.config.objective.min_improvement
        why = self.stopping.audited_run(against, behind, stop, clearly)
        # kept in its note, so that a resumed run knows which curves are no guide
        exp.decision = replace(exp.decision, audit="right" if why is None else "wrong")
        self.recorder.changed(self._note(exp), exp.commit)
        whose = "its parent" if stop.evidence.against is None else f"#{stop.evidence.against:04d}"
        if why is None:
            self._event(
                f"#{exp.number:04d} ended {behind:.4g} behind {whose} on seed {m.seed}: "
                "the early stop it escaped was right"
            )
            return
        self._event(
            f"warning: early stopping was wrong about #{exp.number:04d}: stopped at step "
            f"{stop.evidence.step:g} it would have been, yet it ended {behind:.4g} behind {whose} on "
            f"seed {m.seed} ({why}); the curves of {whose} do not predict results, "
            "so no run is stopped against them any more"
        )

    def _stop_experiment(self, exp: Experiment, stop: Stop) -> None:
        """Stop every measurement of `exp` (running or queued): one losing seed discards it."""
        for key, (job, _) in self.executor.running().items():
            if (
                job.experiment == exp.number
                and job.purpose == "measure"
                and self.stopping.may_stop(key, exp.number)
            ):
                self.stopping.stopped(key, stop)
                self.executor.cancel(key)
        queued = [j for j in self.queue if j.experiment == exp.number and j.purpose == "measure"]
        for job in queued:
            self.queue.remove(job)
        exp.in_flight -= len(queued)
        exp.decision = replace(exp.decision, pruned=stop.evidence)
        self._event(f"#{exp.number:04d} {stop.describe(self.metric)}")

    def _curve(self, commit: str, seed: int) -> Points:
        """The curve `commit` reported on `seed` (its base or measurement run), or ()."""
        return next(
            (m.curve for m in self._runs(commit) if m.seed == seed and m.status == "ok" and m.curve), ()
        )

    def _curves(self, commit: str) -> list[Points]:
        """Every curve `commit` reported (base, measurement and confirmation runs)."""
        return [m.curve for m in self._runs(commit) if m.status == "ok" and m.curve]

    def _runs(self, commit: str) -> list[Measurement]:
        """Every run of `commit`: the base's, or an experiment's."""
        if commit == self.base:
            return self.baseline
        exp = self.by_commit.get(commit)
        return exp.measurements if exp else []

    def noise(self) -> Noise:
        groups = [self.parent_values(self.base)]
        groups += [e.values(self.metric) for e in self.experiments.values()]
        return pooled_noise(groups)

    def pair_noise(self, but: Experiment | None = None) -> Noise:
        """The noise of a difference to the parent on the same seed (stats.paired_noise), from
        every experiment but `but`: the estimate a test leans on must not come from the runs it
        judges (the paired test adds the change's own spread separately)."""
        return paired_noise(
            [self._pairs(e, ("measure", "confirm")) for e in self.experiments.values() if e is not but]
        )

    def _parent_by_seed(self, parent: str) -> dict[int, float]:
        return {
            m.seed: m.metrics[self.metric]
            for m in self._runs(parent)
            if m.status == "ok"
            and m.purpose in ("baseline", "measure", "confirm")
            and self.metric in m.metrics
        }

    def _pairs(self, exp: Experiment, purposes: tuple[str, ...]) -> list[Pair]:
        """(own value, the parent's on the same seed) for the runs of `purposes` whose seed the
        parent also ran."""
        parent = self._parent_by_seed(exp.parent)
        return [
            (m.metrics[self.metric], parent[m.seed])
            for m in exp.measurements
            if m.status == "ok" and m.purpose in purposes and self.metric in m.metrics and m.seed in parent
        ]

    def parent_values(self, parent: str) -> list[float]:
        if parent == self.base:
            return values(self.baseline, self.metric, ("baseline",))
        exp = self.by_commit.get(parent)
        return exp.values(self.metric) if exp else []

    def _watch_for_no_effect(self, exp: Experiment) -> None:
        """Warn once when experiment after experiment measures exactly its parent's value: the
        edits do not reach the benchmark (a value overridden by a config file or the command
        line, a metric computed before training), and the search is burning its budget."""
        measured = exp.values(self.metric, ("measure",))
        parent = set(self.parent_values(exp.parent))
        if measured and all(v in parent for v in measured):
            self.unchanged += 1
        else:
            self.unchanged = 0
        if self.unchanged == NO_EFFECT_WARNING and not self.warned_no_effect:
            self.warned_no_effect = True
            self._event(
                f"warning: {NO_EFFECT_WARNING} experiments in a row measured exactly their parent's "
                f"{self.metric} on the same seed: the edits may not reach the benchmark (a value set "
                "again by a config file or a command-line argument, or a metric printed before "
                "training). Check the command and `gitresearch check`, then Ctrl-C and fix it"
            )

    def _phase_complete(self, exp: Experiment) -> None:
        """Every run of a phase is in: ask the rule, then carry out its verdict."""
        pruned = next((m for m in exp.measurements if m.status == "pruned"), None)
        if pruned is not None:
            self.consecutive_failures = 0  # the benchmark ran; the change lost
            self._decide(exp, "discarded", pruned.detail or "stopped early", None)
            return
        exp.decision = replace(exp.decision, pruned=None)  # finished before the stop reached it
        failed = next((m for m in exp.measurements if m.status != "ok"), None)
        verdict = decide(
            Evidence(
                phase="confirm" if exp.phase == "confirm" else "measure",
                parent=self.parent_values(exp.parent),
                measured=exp.values(self.metric, ("measure",)),
                confirmed=exp.values(self.metric, ("confirm",)),
                noise=self.noise(),
                failure=f"{failed.reason}: {failed.detail}" if failed else None,
                stale=exp.parent != self.incumbent,
                room_to_reapply=self.committed < self.config.budget.experiments and not self.stop_reason,
                constraints=self._constraint_evidence(exp),
                gate_pairs=self._pairs(exp, ("measure",)),
                pairs=self._pairs(exp, ("confirm",)),
                pair_noise=self.pair_noise(but=exp),
                **self._line_changes(exp),
            ),
            self.rule,
        )
        if isinstance(verdict, Fail):
            assert failed is not None
            self.consecutive_failures += 1
            self.last_failure = f"{verdict.reason} (log: {failed.log_path})"
            self._decide(exp, "failed", verdict.reason, None)
            if self.consecutive_failures >= self.config.budget.max_consecutive_failures:
                self.stop_reason = (
                    f"{self.consecutive_failures} experiments in a row failed; the last error: "
                    f"{self.last_failure}"
                )
                self._event("stopping: " + self.stop_reason)
                self.exhausted = True
            return
        self.consecutive_failures = 0
        if exp.phase != "confirm":
            self._watch_for_no_effect(exp)
        if isinstance(verdict, Discard):
            self._decide(exp, "discarded", verdict.reason, verdict.test)
        elif isinstance(verdict, Confirm) and exp.phase == "confirm":
            self._confirm_more(exp, verdict.test)
        elif isinstance(verdict, Confirm) and self._may_hold(exp):
            exp.decision = replace(exp.decision, gate=_test_record(verdict.test))
            self._hold(exp)
        elif isinstance(verdict, Confirm):
            self._confirm(exp, verdict.test)
        elif isinstance(verdict, Accept):
            self._decide(exp, "accepted", verdict.test.reason, verdict.test)
            self.incumbent = exp.commit
            self.recorder.incumbent(exp.commit)
            self._drop_held(exp)
        elif isinstance(verdict, Reapply):
            self._reapply(exp, verdict.test)

    def _line_changes(self, exp: Experiment) -> dict[str, int]:
        """The lines the change adds and removes (for [search] simplicity), read from git once."""
        if not self.config.search.simplicity:
            return {}
        if exp.lines is None:
            exp.lines = self.store.line_changes(exp.parent, exp.commit)
        return {"lines_added": exp.lines[0], "lines_removed": exp.lines[1]}

    def _constraint_evidence(self, exp: Experiment) -> list[ConstraintEvidence]:
        """Each constraint's metric: the base's runs, the experiment's, and that metric's noise."""
        out = []
        for c in self.config.objective.constraints:
            base = values(self.baseline, c.metric, ("baseline",))
            groups = [base] + [e.values(c.metric) for e in self.experiments.values()]
            out.append(
                ConstraintEvidence(
                    constraint=c,
                    base=base,
                    measured=exp.values(c.metric, ("measure",)),
                    confirmed=exp.values(c.metric, ("confirm",)),
                    noise=pooled_noise(groups),
                )
            )
        return out

    # -- holding gate passes --------------------------------------------------------------
    # A proposer whose suggestions are whole configurations (the sweep's model) learns from a
    # gate pass at once and does not build on it; confirming each one would spend fresh-seed
    # runs on steps the next suggestion often beats. So a gate pass is held, and only the best
    # held one (by its gate improvement over the same incumbent, on the same seeds) is
    # confirmed: once HOLD_PATIENCE experiments decided after it found none better, or when no
    # more experiments will be proposed. The confirmation is the usual one, on fresh seeds.

    def _may_hold(self, exp: Experiment) -> bool:
        return self.proposer.defers_confirmation and exp.parent == self.incumbent

    def _hold(self, exp: Experiment) -> None:
        exp.phase = "held"
        exp.status = "measured"
        exp.in_flight = 0
        self.held.append(exp.number)
        self.recorder.changed(self._note(exp), exp.commit, "measured")
        self.proposer.observe(replace(self._outcome(exp), held=True))
        gate = exp.decision.gate
        shown = f" ({better_or_worse(gate.improvement)})" if gate is not None else ""
        self._event(
            f"#{exp.number:04d} passes the gate{shown}; held: the best gate pass is confirmed once "
            f"{HOLD_PATIENCE} more experiments find none better, or when the search ends"
        )

    def _release_held(self, ending: bool) -> bool:
        """Start confirming the best held gate pass when its time has come; True if it did."""
        if not self.held or any(e.phase == "confirm" for e in self.experiments.values()):
            return False  # one confirmation at a time: its verdict may settle the others
        best = self.experiments[max(self.held, key=self._held_gain)]
        if ending:  # the best of them all: wait for the measurements still running
            ready = not any(e.phase == "measure" for e in self.experiments.values())
        else:
            after = [e for e in self.experiments.values() if e.number > best.number]
            ready = sum(e.phase in ("held", "done") for e in after) >= HOLD_PATIENCE
        if not ready:
            return False
        self.held.remove(best.number)
        self._confirm(best)
        return True

    def _held_gain(self, number: int) -> float:
        gate = self.experiments[number].decision.gate
        return gate.improvement if gate is not None else -math.inf

    def _drop_held(self, winner: Experiment) -> None:
        """A held gate pass against the incumbent before `winner` no longer applies as it is."""
        for number in list(self.held):
            exp = self.experiments[number]
            if exp.parent == self.incumbent:
                continue
            self.held.remove(number)
            if self._held_gain(number) > self._held_gain(winner.number):
                self._reapply(exp, None)  # it measured better on the gate: try it on the new incumbent
            else:
                self._decide(
                    exp,
                    "discarded",
                    f"it passed the gate; #{winner.number}, better on the same seeds, was confirmed instead",
                    None,
                )

    def _confirm(self, exp: Experiment, gate: Test | None = None) -> None:
        exp.phase = "confirm"
        exp.status = "measured"
        if gate is not None:
            exp.decision = replace(exp.decision, gate=_test_record(gate))
        self.recorder.changed(self._note(exp), exp.commit, "measured")
        self._queue_confirmation(exp)
        passed = exp.decision.gate
        shown = f" ({better_or_worse(passed.improvement)})" if passed is not None else ""
        self._event(
            f"#{exp.number:04d} passes the gate{shown}; confirming on "
            f"fresh seeds, one at a time (at most {self.config.search.confirm_runs})"
        )

    def _confirm_more(self, exp: Experiment, test: Test) -> None:
        """The fresh seeds so far are promising but not decisive: one more."""
        self._queue_confirmation(exp)
        self.recorder.changed(self._note(exp), exp.commit)
        if test.passed:  # beyond the bar; a constraint is not yet shown to hold
            why = "beyond the bar, but a constraint is not yet shown to hold"
        else:
            why = f"needs more than {test.threshold:.4g}"
        self._event(
            f"#{exp.number:04d} on {test.runs} fresh seed(s): {better_or_worse(test.improvement)}, {why}; "
            "one more fresh seed"
        )

    def _queue_confirmation(self, exp: Experiment) -> None:
        # first in line: a confirmation decides the incumbent, new experiments can wait
        self.queue.appendleft(Job(self.run, exp.number, exp.commit, self._confirm_seed(exp), "confirm"))
        exp.in_flight = 1

    def _confirm_seed(self, exp: Experiment) -> int:
        """The next seed to confirm `exp` on: fresh to it (not a seed it was chosen on). First the
        seeds its parent ran that it has not, so each run is paired with the parent's on the same
        seed; then seeds nobody ran, CONFIRM_SEED_BASE + 100 * experiment + i."""
        used = {m.seed for m in exp.measurements}
        for seed in self._parent_by_seed(exp.parent):
            if seed not in used:
                return seed
        i = 0
        while CONFIRM_SEED_BASE + 100 * exp.number + i in used:
            i += 1
        return CONFIRM_SEED_BASE + 100 * exp.number + i

    def _reapply(self, exp: Experiment, test: Test | None) -> None:
        rebased = self.proposer.rebase(exp.proposal, self._context(self.incumbent))
        if rebased is None:
            self._decide(
                exp, "discarded", "it beat its parent, but does not apply to the newer incumbent", test
            )
            return
        self._decide(exp, "discarded", "it beat an older incumbent; re-applied on the current one", test)
        if self._commit(rebased, reapplied_from=exp.number):
            number = max(self.experiments)
            exp.decision = replace(exp.decision, reapplied_as=number)
            self.recorder.changed(self._note(exp), exp.commit)
            self._event(f"#{exp.number:04d} re-applied on the new incumbent as #{number:04d}")

    def _decide(
        self,
        exp: Experiment,
        status: Literal["accepted", "discarded", "failed"],
        reason: str,
        test: Test | None,
    ) -> None:
        exp.phase = "done"
        exp.status = status
        own = exp.values(self.metric)
        parent = self.parent_values(exp.parent)
        delta = gain = None
        if own and parent:
            delta = mean(own) - mean(parent)
            gain = improvement(self.direction, mean(parent), mean(own))
        exp.decision = replace(
            exp.decision,
            status=status,
            reason=reason,
            delta=delta,
            improvement=gain,
            test=_test_record(test) if test is not None else exp.decision.test,
            noise=self.noise().sigma,
        )
        self.recorder.changed(self._note(exp), exp.commit, status)
        self.proposer.observe(self._outcome(exp))
        mark = {"accepted": "ACCEPTED", "discarded": "discarded", "failed": "FAILED"}[status]
        shown = (
            f" ({self.metric} {mean(own):.4g}, {better_or_worse(gain)})" if gain is not None and own else ""
        )
        self._event(f"#{exp.number:04d} {mark}{shown}: {exp.proposal.hypothesis} — {reason}")

    def _outcome(self, exp: Experiment) -> Outcome:
        own = exp.values(self.metric)
        tail = None
        failed = [m for m in exp.measurements if m.status == "failed"]
        if exp.status == "failed" and failed and failed[0].log_path:
            with contextlib.suppress(OSError):
                tail = read_log_tail(failed[0].log_path, 4000)[0]
        value, delta = (_mean_or_none(own) if exp.status != "failed" else None), exp.decision.delta
        stopped = exp.decision.pruned
        parent = self.parent_values(exp.parent)
        pairs = self._pairs(exp, ("measure",))
        shared = mean([c for c, _ in pairs]) if pairs and exp.status != "failed" else None
        shared_parent = mean([p for _, p in pairs]) if pairs else None
        against = self.stopped_against(exp, stopped) if stopped is not None else exp.parent
        rival = self.parent_values(against) if stopped is not None else []
        if stopped is not None and exp.status == "discarded" and parent and rival:
            # what the model learns of a run stopped early: the mean of the run it lost to (its
            # parent, or the best held gate pass), worse by the gap it showed when it was
            # stopped (an estimate: the run never reached its end)
            gap = stopped.value - stopped.parent
            value = mean(rival) + gap
            delta = value - mean(parent)
            by_seed, theirs = self._parent_by_seed(exp.parent), self._parent_by_seed(against)
            seeds = range(self.config.objective.repeats)
            if all(s in by_seed and s in theirs for s in seeds):
                shared_parent = mean([by_seed[s] for s in seeds])
                shared = mean([theirs[s] for s in seeds]) + gap
        return Outcome(
            exp.proposal,
            value,
            exp.status == "accepted",
            exp.decision.reason,
            number=exp.number,
            delta=delta,
            log_tail=tail,
            pruned=stopped is not None and exp.status == "discarded",
            shared_value=shared,
            shared_parent=shared_parent,
            infeasible=exp.status == "discarded"
            and broken_by(exp.decision.reason or "", self.config.objective.constraints) is not None,
        )

    def _note(self, exp: Experiment) -> ExperimentNote:
        own = exp.values(self.metric)
        return ExperimentNote(
            run=self.run,
            experiment=exp.number,
            parent=exp.parent,
            proposer=exp.proposal.proposer,
            status=exp.status,
            metric=self.metric,
            measurements=list(exp.measurements),
            mean=mean(own) if own else None,
            spread=stdev(own) if len(own) > 1 else None,
            decision=exp.decision,
            proposal=dict(exp.proposal.meta),
        )

    def _event(self, line: str) -> None:
        self.on_event(line)

    # -- what the progress display reads ----------------------------------------------------

    def snapshot(self) -> Snapshot:
        best, delta, number = self.best()
        usage = self.proposer.usage()
        usd, waiting = usage.get("usd"), usage.get("waiting_s")
        running = dict(self.executor.running())
        steps = {key: curve[-1][0] for key in running if (curve := self.executor.progress(key))}
        return Snapshot(
            done=self.committed,
            budget=self.config.budget.experiments,
            seconds_left=self.deadline - time.time(),
            metric=self.metric,
            best=best,
            gain=None if delta is None else (-delta if self.direction == "minimize" else delta),
            best_number=number,
            running=running,
            steps=steps,
            slots=tuple(self.executor.slots),
            started=dict(self.job_started),
            llm_usd=float(usd) if isinstance(usd, (int, float)) else None,
            waiting_s=float(waiting) if isinstance(waiting, (int, float)) else None,
        )

    def best(self) -> tuple[float | None, float | None, int | None]:
        """Best mean so far, its delta against the base, and its experiment number."""
        base_values = self.parent_values(self.base)
        if not base_values:
            return None, None, None
        exp = self.by_commit.get(self.incumbent)
        if exp is None:
            return mean(base_values), 0.0, None
        own = exp.values(self.metric)
        return (mean(own), mean(own) - mean(base_values), exp.number) if own else (None, None, exp.number)


def _mean_or_none(xs: list[float]) -> float | None:
    return mean(xs) if xs else None


def _test_record(test: Test) -> StatTest:
    return StatTest(
        passed=test.passed,
        improvement=test.improvement,
        threshold=test.threshold,
        n=test.runs,
        reason=test.reason,
    )


def _proposal_from_row(row: ExperimentRow, store: Store) -> Proposal:
    """The proposal behind a committed experiment, for a resumed run to re-apply or learn from."""
    record = ProposalRecord.from_text(row.patch)
    meta = record.meta
    if not meta and not record.edits and row.commit:
        known = ExperimentNote.from_json(store.read_note(row.commit), commit=row.commit)
        meta = known.proposal if known else {}
    return Proposal(
        row.proposer,
        row.hypothesis,
        row.rationale,
        row.parent or "",
        edits=record.edits,
        diff=record.diff,
        meta=meta,
    )


def _log_end(path: str | None, lines: int = 15) -> str:
    """The last lines of a failed run's log (its traceback, usually), indented for the console."""
    if not path:
        return ""
    try:
        text = read_log_tail(path, 8192)[0]
    except OSError:
        return ""
    end = [line for line in text.splitlines() if line.strip()][-lines:]
    return ("\nthe end of its log:\n" + "\n".join("  | " + line for line in end)) if end else ""
