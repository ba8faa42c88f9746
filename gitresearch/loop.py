"""The research loop: measure the base, then propose, validate, commit, run, decide.

One `Search` owns one run. It is single-threaded: the executor runs benchmarks in its own
threads and hands results back through `wait_any`, so every decision, ledger write and
note happens here, in order. An experiment goes through

    proposed -> (rejected | duplicate | committed) -> measured on the paired seeds
    -> gate (t90 against its parent) -> confirmation on fresh seeds (t99.9, fresh runs only)
    -> accepted (the incumbent advances) | discarded | failed

and one that passed against a parent that is no longer the incumbent is re-applied onto
the incumbent as a new experiment and measured again. Every finished run rewrites the
experiment's note in git, so a run killed at any instant resumes from what git and the
ledger hold (`resume`).
"""

from __future__ import annotations

import contextlib
import json
import signal
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Literal

from gitresearch.boundaries import Boundaries
from gitresearch.config import Config
from gitresearch.errors import GitResearchError
from gitresearch.executor import Executor, Failed, Job, RunResult, Succeeded
from gitresearch.ledger import Ledger
from gitresearch.proposals import Context, NotReady, Outcome, Proposal, Proposer
from gitresearch.runner import read_log_tail
from gitresearch.stats import Noise, Test, compare, improvement, mean, pooled_noise, stdev
from gitresearch.store import Store, run_branch
from gitresearch.validator import Accepted, RegionEdit, Validator

CONFIRM_SEED_BASE = 100_000  # fresh seeds: CONFIRM_SEED_BASE + 100 * experiment + i
MAX_CONSECUTIVE_REJECTIONS = 25

Phase = Literal["measure", "confirm", "done"]


@dataclass
class RunRecord:
    seed: int
    purpose: str
    status: str  # ok | failed | cancelled
    metrics: dict[str, float]
    seconds: float
    exit_code: int | None = None
    reason: str | None = None
    detail: str | None = None
    slot: str | None = None
    log_path: str | None = None
    finished: float | None = None  # wall-clock time the result came in

    def as_note(self, commit: str) -> dict[str, Any]:
        timing = {}
        if self.finished is not None:
            timing = {"started": round(self.finished - self.seconds, 3), "finished": round(self.finished, 3)}
        return {
            **timing,
            "seed": self.seed,
            "purpose": self.purpose,
            "status": self.status,
            "metrics": self.metrics,
            "seconds": round(self.seconds, 3),
            "exit_code": self.exit_code,
            "reason": self.reason,
            "detail": self.detail,
            "slot": self.slot,
            "log_path": self.log_path,
            "commit": commit,
        }


@dataclass
class Experiment:
    number: int
    proposal: Proposal
    commit: str
    parent: str
    phase: Phase = "measure"
    runs: list[RunRecord] = field(default_factory=list)
    in_flight: int = 0
    status: str = "committed"
    decision: dict[str, Any] = field(default_factory=dict)

    def values(self, metric: str, purposes: tuple[str, ...] = ("measure", "confirm")) -> list[float]:
        return [r.metrics[metric] for r in self.runs if r.status == "ok" and r.purpose in purposes]


@dataclass
class Summary:
    run: str
    stop_reason: str
    experiments: int
    accepted: list[int]
    base_mean: float | None
    best_mean: float | None
    interrupted: bool
    base_failed: bool = False


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
    ) -> None:
        self.store, self.ledger, self.boundaries = store, ledger, boundaries
        self.on_tick = on_tick
        self.job_started: dict[str, float] = {}
        self.executor, self.proposer, self.run, self.config = executor, proposer, run, config
        self.metric = config.objective.metric
        self.direction = config.objective.direction
        self.on_event = on_event
        self.base = ""
        self.incumbent = ""
        self.baseline: list[RunRecord] = []
        self.experiments: dict[int, Experiment] = {}
        self.by_commit: dict[str, Experiment] = {}
        self.trees: dict[str, int] = {}  # tree id -> the experiment that measured it (0: the base)
        self.waiting = False  # the proposer is still thinking (NOT_READY)
        self._warmed = 0.0
        self.queue: deque[Job] = deque()
        self.measurement_ids: dict[str, int] = {}
        self.started = time.time()
        self.deadline = self.started + config.budget.wall_clock
        self.committed = 0
        self.consecutive_failures = 0
        self.last_failure = ""
        self.consecutive_rejections = 0
        self.stop_reason = ""
        self.interrupted = 0
        self.exhausted = False
        self.base_failed = False
        self.run_record: dict[str, Any] = {}

    # -- set-up ---------------------------------------------------------------------------

    def start(self) -> None:
        self.base = self.store.head()
        self.store.create_run(self.run, self.base)
        self.incumbent = self.base
        self.run_record = {
            "started": self.started,
            "meta": self._meta(),
            "baseline": [],
            "rejected": [],
            "status": "running",
        }
        self.ledger.ensure_run(self.run, self.base, {"started": self.started, **self._meta()})
        self._write_run_record()
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
        }

    def resume(self) -> None:
        """Continue a stopped or killed run from the ledger (already synced with git)."""
        refs = self.store.run(self.run)
        row = self.ledger.run(self.run)
        if refs is None or row is None:
            raise StopSearch(f'no run named "{self.run}" to resume (see `gitresearch runs`)')
        self.base, self.incumbent = refs.base, refs.best or refs.base
        note = self.store.read_note(self.base) or {}
        self.run_record = dict(note.get("runs", {}).get(self.run, {})) or {
            "started": row.started,
            "meta": row.meta,
        }
        self.run_record.setdefault("rejected", [])
        self.run_record["status"] = "running"
        self.proposer.restore_usage(self.run_record.get("llm", {}))
        self.started = time.time()
        self.deadline = self.started + self.config.budget.wall_clock
        self.ledger.cancel_unfinished(self.run)
        self.ledger.set_run(self.run, status="running")
        self.trees[self.store.tree_of(self.base)] = 0
        self.baseline = [
            _record(m) for m in self.ledger.measurements(self.run, 0) if m.status in ("ok", "failed")
        ]
        missing = [
            s for s in range(self.config.search.baseline_runs) if s not in {r.seed for r in self.baseline}
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
                decision=exp_row.decision or {},
            )
            exp.runs = [
                _record(m)
                for m in self.ledger.measurements(self.run, exp_row.number)
                if m.status in ("ok", "failed") and m.purpose in ("measure", "confirm")
            ]
            self.experiments[exp.number] = exp
            self.by_commit[exp.commit] = exp
            self.trees[self.store.tree_of(exp.commit)] = exp.number
            self.committed += 1
            if exp.status in ("accepted", "discarded", "failed"):
                exp.phase = "done"
                self.proposer.observe(self._outcome(exp))
            else:
                self._requeue(exp)
        self._event(
            f"resumed run {self.run}: {self.committed} experiment(s) so far, {len(self.queue)} run(s) to redo"
        )

    def _requeue(self, exp: Experiment) -> None:
        done = {(r.purpose, r.seed) for r in exp.runs}
        wanted = [("measure", s) for s in range(self.config.objective.repeats)]
        if any(r.purpose == "confirm" for r in exp.runs) or exp.status == "measured":
            exp.phase = "confirm"
            wanted += [
                ("confirm", self._confirm_seed(exp, i)) for i in range(self.config.search.confirm_runs)
            ]
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
                if self.interrupted or self.base_failed:
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
                self.on_tick(self)
            self._shutdown()
        self.ledger.set_run(self.run, status="stopped" if self.interrupted else "searched")
        self._record_usage()
        accepted = [e.number for e in self.experiments.values() if e.status == "accepted"]
        base_values = [r.metrics[self.metric] for r in self.baseline if r.status == "ok"]
        best = self.by_commit.get(self.incumbent)
        return Summary(
            self.run,
            self.stop_reason or "done",
            self.committed,
            accepted,
            mean(base_values) if base_values else None,
            _mean_or_none(best.values(self.metric)) if best else (mean(base_values) if base_values else None),
            bool(self.interrupted),
            self.base_failed,
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
        """Seconds the leave-one-out ablation of the accepted changes would take on all slots."""
        accepted = sum(e.status == "accepted" for e in self.experiments.values())
        if accepted < 2:
            return 0.0
        seconds = sorted(r.seconds for e in self.experiments.values() for r in e.runs if r.status == "ok")
        if not seconds:
            return 0.0
        runs = accepted * max(2, self.config.objective.repeats + self.config.search.confirm_runs)
        waves = -(-runs // max(1, len(self.executor.slots)))
        return waves * seconds[len(seconds) // 2]

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

    def _record_usage(self) -> None:
        usage = dict(self.proposer.usage())
        if usage:
            self.run_record["llm"] = usage
            self._write_run_record()

    def _fill(self) -> None:
        self.waiting = False
        while self.executor.free_slots() > 0 and not self.interrupted:
            if self.queue:
                self._submit(self.queue.popleft())
            elif self._may_propose():
                if not self._new_experiment():
                    return
            else:
                return

    def _submit(self, job: Job) -> None:
        slot = self.executor.submit(job)
        self.job_started[job.key] = time.time()
        self.measurement_ids[job.key] = self.ledger.start_measurement(
            self.run, job.experiment, job.seed, job.purpose, job.commit, slot.name, None
        )
        if job.experiment in self.experiments:
            exp = self.experiments[job.experiment]
            if exp.status in ("committed", "measured"):
                self.ledger.transition(self.run, exp.number, "running")
                exp.status = "running"

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
                why = getattr(self.proposer, "stopped", "") or "it has nothing new to try"
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
        number = self.ledger.next_number(self.run)
        self.ledger.add_experiment(
            self.run,
            number,
            parent=proposal.parent,
            proposer=proposal.proposer,
            hypothesis=proposal.hypothesis,
            rationale=proposal.rationale,
            patch=_proposal_json(proposal, reapplied_from),
        )
        validator = Validator(self.boundaries, self.store.source(proposal.parent))
        verdict = (
            validator.judge_edits(proposal.edits) if proposal.edits else validator.judge_files(proposal.files)
        )
        if not isinstance(verdict, Accepted):
            violations = [
                {"path": v.path, "line": v.line, "rule": v.rule, "message": v.message}
                for v in verdict.violations
            ]
            self.ledger.transition(self.run, number, "rejected", violations=violations)
            self.run_record["rejected"].append(
                {
                    "number": number,
                    "proposer": proposal.proposer,
                    "hypothesis": proposal.hypothesis,
                    "rationale": proposal.rationale,
                    "parent": proposal.parent,
                    "violations": violations,
                }
            )
            self._write_run_record()
            self.proposer.rejected(proposal, verdict.violations)
            self.consecutive_rejections += 1
            self._event(f"#{number:04d} rejected: {verdict.violations[0].render()}")
            return False
        changes = {c.path: c.patched.encode("utf-8") for c in verdict.changes}
        tree = self.store.write_tree(proposal.parent, changes)
        if tree in self.trees:
            of = self.trees[tree]
            self.ledger.transition(
                self.run,
                number,
                "duplicate",
                decision={
                    "reason": "the same code was already measured"
                    + (f" (experiment #{of})" if of else " (the base)")
                },
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
        self.ledger.transition(self.run, number, "committed", commit=commit.sha)
        exp = Experiment(number, proposal, commit.sha, proposal.parent)
        if reapplied_from is not None:
            exp.decision["reapplied_from"] = reapplied_from
        self.experiments[number] = exp
        self.by_commit[commit.sha] = exp
        self.committed += 1
        for seed in range(self.config.objective.repeats):
            self.queue.append(Job(self.run, number, commit.sha, seed, "measure"))
        exp.in_flight = self.config.objective.repeats
        self._write_note(exp)
        return True

    # -- results --------------------------------------------------------------------------

    def _handle(self, result: RunResult) -> None:
        job = result.job
        record = run_record(result)
        measurement = self.measurement_ids.pop(job.key, None)
        self.job_started.pop(job.key, None)
        if measurement is not None:
            status = (
                "ok" if record.status == "ok" else ("cancelled" if record.status == "cancelled" else "failed")
            )
            self.ledger.finish_measurement(
                measurement,
                status,  # type: ignore[arg-type]
                metrics=record.metrics,
                seconds=record.seconds,
                exit_code=record.exit_code,
                reason=record.reason,
                detail=record.detail,
            )
        if record.status == "cancelled":
            return  # re-run on resume; never judged
        if job.purpose == "baseline":
            self._baseline_result(record)
            return
        exp = self.experiments.get(job.experiment)
        if exp is None:
            return
        exp.runs.append(record)
        exp.in_flight -= 1
        self._write_note(exp)
        if exp.in_flight <= 0:
            self._phase_complete(exp)

    def _baseline_result(self, record: RunRecord) -> None:
        self.baseline.append(record)
        self.run_record["baseline"] = [r.as_note(self.base) for r in self.baseline]
        self._write_run_record()
        if record.status != "ok":
            self.stop_reason = (
                f"the base itself fails ({record.reason}: {record.detail}); fix the benchmark "
                f"before searching. Log: {record.log_path}"
            )
            self.base_failed = True
            self._event(self.stop_reason)
            return
        if self._baseline_done():
            values = [r.metrics[self.metric] for r in self.baseline]
            noise = self.noise()
            self._event(
                f"base: {self.metric} {mean(values):.4g} ± {stdev(values):.2g} over {len(values)} run(s); "
                f"{noise.describe()}"
            )

    def noise(self) -> Noise:
        groups = [[r.metrics[self.metric] for r in self.baseline if r.status == "ok"]]
        groups += [e.values(self.metric) for e in self.experiments.values()]
        return pooled_noise(groups)

    def parent_values(self, parent: str) -> list[float]:
        if parent == self.base:
            return [r.metrics[self.metric] for r in self.baseline if r.status == "ok"]
        exp = self.by_commit.get(parent)
        return exp.values(self.metric) if exp else []

    def _phase_complete(self, exp: Experiment) -> None:
        failures = [r for r in exp.runs if r.status != "ok"]
        if failures:
            first = failures[0]
            self.consecutive_failures += 1
            self.last_failure = f"{first.reason}: {first.detail} (log: {first.log_path})"
            self._decide(exp, "failed", f"{first.reason}: {first.detail}", None)
            if self.consecutive_failures >= self.config.budget.max_consecutive_failures:
                self.stop_reason = (
                    f"{self.consecutive_failures} experiments in a row failed; the last error: "
                    f"{self.last_failure}"
                )
                self._event("stopping: " + self.stop_reason)
                self.exhausted = True
            return
        self.consecutive_failures = 0
        parent_values = self.parent_values(exp.parent)
        if not parent_values:
            self._decide(exp, "discarded", "its parent has no successful measurement to compare with", None)
            return
        if exp.phase == "measure":
            test = compare(
                self.direction,
                parent_values,
                exp.values(self.metric, ("measure",)),
                self.noise(),
                self.config.objective.min_improvement,
                "90",
            )
            if not test.passed:
                self._decide(exp, "discarded", "gate: " + test.reason, test)
            elif self.config.search.confirm_runs == 0:
                self._conclude(exp, test)
            else:
                exp.phase = "confirm"
                self.ledger.transition(self.run, exp.number, "measured")
                exp.status = "measured"
                exp.decision["gate"] = _test_json(test)
                for i in range(self.config.search.confirm_runs):
                    self.queue.appendleft(
                        Job(self.run, exp.number, exp.commit, self._confirm_seed(exp, i), "confirm")
                    )
                exp.in_flight = self.config.search.confirm_runs
                self._event(
                    f"#{exp.number:04d} passes the gate ({test.improvement:+.4g}); confirming on "
                    f"{self.config.search.confirm_runs} fresh seed(s)"
                )
            return
        fresh = exp.values(self.metric, ("confirm",))
        test = compare(
            self.direction, parent_values, fresh, self.noise(), self.config.objective.min_improvement, "99.9"
        )
        self._conclude(exp, test)

    def _confirm_seed(self, exp: Experiment, i: int) -> int:
        return CONFIRM_SEED_BASE + 100 * exp.number + i

    def _conclude(self, exp: Experiment, test: Test) -> None:
        if not test.passed:
            self._decide(exp, "discarded", "confirmation: " + test.reason, test)
            return
        if exp.parent != self.incumbent:
            self._reapply(exp, test)
            return
        self._decide(exp, "accepted", test.reason, test)
        self.incumbent = exp.commit
        self.store.set_branch(run_branch(self.run, "best"), exp.commit)
        self.ledger.set_run(self.run, best=exp.commit)

    def _reapply(self, exp: Experiment, test: Test) -> None:
        if self.committed >= self.config.budget.experiments or self.stop_reason:
            self._decide(
                exp,
                "discarded",
                "it beat an older incumbent, but the budget leaves no room to re-apply it on the current one",
                test,
            )
            return
        rebased = self.proposer.rebase(exp.proposal, self._context(self.incumbent))
        if rebased is None:
            self._decide(
                exp, "discarded", "it beat its parent, but does not apply to the newer incumbent", test
            )
            return
        self._decide(exp, "discarded", "it beat an older incumbent; re-applied on the current one", test)
        if self._commit(rebased, reapplied_from=exp.number):
            number = max(self.experiments)
            exp.decision["reapplied_as"] = number
            self._write_note(exp)
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
        values = exp.values(self.metric)
        parent_values = self.parent_values(exp.parent)
        exp.decision.update({"status": status, "reason": reason})
        if values and parent_values:
            exp.decision["delta"] = mean(values) - mean(parent_values)
            exp.decision["improvement"] = improvement(self.direction, mean(parent_values), mean(values))
        if test is not None:
            exp.decision["test"] = _test_json(test)
        exp.decision["noise"] = self.noise().sigma
        self.ledger.transition(self.run, exp.number, status, decision=exp.decision)
        self._write_note(exp)
        self.proposer.observe(self._outcome(exp))
        mark = {"accepted": "ACCEPTED", "discarded": "discarded", "failed": "FAILED"}[status]
        delta = f" ({exp.decision['delta']:+.4g})" if "delta" in exp.decision else ""
        self._event(f"#{exp.number:04d} {mark}{delta}: {exp.proposal.hypothesis} — {reason}")

    def _outcome(self, exp: Experiment) -> Outcome:
        values = exp.values(self.metric)
        delta = exp.decision.get("delta")
        tail = None
        failed = [r for r in exp.runs if r.status == "failed"]
        if exp.status == "failed" and failed and failed[0].log_path:
            with contextlib.suppress(OSError):
                tail = read_log_tail(failed[0].log_path, 4000)[0]
        return Outcome(
            exp.proposal,
            _mean_or_none(values) if exp.status != "failed" else None,
            exp.status == "accepted",
            str(exp.decision.get("reason", "")),
            number=exp.number,
            delta=float(delta) if isinstance(delta, (int, float)) else None,
            log_tail=tail,
        )

    # -- notes ----------------------------------------------------------------------------

    def _write_note(self, exp: Experiment) -> None:
        values = exp.values(self.metric)
        note: dict[str, Any] = {
            "gitresearch": 1,
            "run": self.run,
            "experiment": exp.number,
            "parent": exp.parent,
            "proposer": exp.proposal.proposer,
            "status": exp.status,
            "metric": self.metric,
            "runs": [r.as_note(exp.commit) for r in exp.runs],
            "mean": mean(values) if values else None,
            "spread": stdev(values) if len(values) > 1 else None,
            "decision": exp.decision,
            "proposal": dict(exp.proposal.meta),
        }
        self.store.write_note(exp.commit, note)

    def _write_run_record(self) -> None:
        note = self.store.read_note(self.base) or {}
        runs = dict(note.get("runs", {})) if isinstance(note.get("runs"), dict) else {}
        runs[self.run] = self.run_record
        self.store.write_note(self.base, {**note, "gitresearch": 1, "runs": runs})

    def _event(self, line: str) -> None:
        self.on_event(line)

    # -- what the progress display reads ----------------------------------------------------

    def best(self) -> tuple[float | None, float | None, int | None]:
        """Best mean so far, its delta against the base, and its experiment number."""
        base_values = self.parent_values(self.base)
        if not base_values:
            return None, None, None
        exp = self.by_commit.get(self.incumbent)
        if exp is None:
            return mean(base_values), 0.0, None
        values = exp.values(self.metric)
        return (
            (mean(values), mean(values) - mean(base_values), exp.number)
            if values
            else (None, None, exp.number)
        )


def run_record(result: RunResult) -> RunRecord:
    """What a finished job becomes in the ledger and the notes (status ok | failed | cancelled)."""
    job = result.job
    if isinstance(result, Succeeded):
        return RunRecord(
            job.seed,
            job.purpose,
            "ok",
            dict(result.metrics),
            result.seconds,
            0,
            None,
            None,
            result.slot.name,
            str(result.log_path),
            time.time(),
        )
    assert isinstance(result, Failed)
    status = "cancelled" if result.reason == "cancelled" else "failed"
    return RunRecord(
        job.seed,
        job.purpose,
        status,
        dict(result.metrics),
        result.seconds,
        result.exit_code,
        result.reason,
        result.detail,
        result.slot.name,
        str(result.log_path) if result.log_path else None,
        time.time(),
    )


def _record(m: Any) -> RunRecord:
    return RunRecord(
        m.seed,
        m.purpose,
        m.status,
        dict(m.metrics),
        m.seconds or 0.0,
        m.exit_code,
        m.reason,
        m.detail,
        m.slot,
        m.log_path,
        m.finished,
    )


def _mean_or_none(values: list[float]) -> float | None:
    return mean(values) if values else None


def _test_json(test: Test) -> dict[str, Any]:
    return {
        "passed": test.passed,
        "improvement": test.improvement,
        "threshold": test.threshold,
        "runs": test.runs,
        "reason": test.reason,
    }


def _proposal_json(proposal: Proposal, reapplied_from: int | None) -> str:
    return json.dumps(
        {
            "meta": dict(proposal.meta),
            "edits": [[e.path, e.region, e.source] for e in proposal.edits],
            "reapplied_from": reapplied_from,
        },
        sort_keys=True,
    )


def _proposal_from_row(row: Any, store: Store) -> Proposal:
    data: dict[str, Any] = {}
    if row.patch:
        try:
            data = json.loads(row.patch)
        except json.JSONDecodeError:
            data = {}
    if not data and row.commit:
        data = {"meta": (store.read_note(row.commit) or {}).get("proposal", {})}
    edits = tuple(RegionEdit(p, r, s) for p, r, s in data.get("edits", []))
    return Proposal(
        row.proposer, row.hypothesis, row.rationale, row.parent or "", edits=edits, meta=data.get("meta", {})
    )
