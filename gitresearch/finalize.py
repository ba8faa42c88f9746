"""Finalizing a run: how much each accepted change is worth, and the ranked candidates branch.

Each accepted change's contribution is measured by leave-one-out ablation: the final stack
rebuilt from the base without that change (each other change re-applied line by line with
`store.pick_onto`, so nothing is checked out) and benchmarked on paired seeds; the contribution is how much worse that
stack is than the full one. `gitresearch/<run>/candidates` is then rebuilt from the base
with one commit per accepted change, largest contribution first; a change that does not
apply before the ones it builds on waits for them (dependency order kept). Every candidate
commit carries a note with its evidence. Every measurement and note goes through the
run's `Recorder`, as in the loop.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from gitresearch.boundaries.config import Config
from gitresearch.errors import GitResearchError
from gitresearch.execute.base import Executor, Job, RunResult, Succeeded
from gitresearch.ledger import ExperimentRow, Ledger
from gitresearch.notes import Ablation, CandidateNote, values
from gitresearch.propose.base import ProposalRecord
from gitresearch.record import Recorder
from gitresearch.stats import improvement, mean, stdev
from gitresearch.store import Store


@dataclass(kw_only=True)
class RankedChange:
    """One accepted change (or a line search of several on the same constants) being ranked."""

    experiment: int
    commit: str  # the experiment's own commit
    hypothesis: str
    improvement: float | None  # at acceptance, against its parent (positive is better)
    delta: float | None  # at acceptance, metric difference against its parent
    contribution: float | None = None  # leave-one-out, positive is better
    contribution_note: str = ""
    values: list[float]
    ablation: Ablation | None = None
    candidate_commit: str | None = None
    source_parent: str | None = None  # where the change starts (the first member's parent)
    members: list[int] = field(default_factory=list)  # the accepted experiments it stands for
    message: str | None = None  # the candidate commit's message, when not the experiment's own

    @property
    def rank_key(self) -> float:
        value = self.contribution if self.contribution is not None else self.improvement
        return value if value is not None else float("-inf")


def accepted_chain(ledger: Ledger, store: Store, run: str) -> list[ExperimentRow]:
    """The accepted experiments from the base to `best`, in the order they were accepted."""
    refs = store.run(run)
    if refs is None or refs.best is None:
        return []
    by_commit = {e.commit: e for e in ledger.experiments(run) if e.commit}
    chain: list[ExperimentRow] = []
    sha = refs.best
    while sha != refs.base and sha in by_commit:
        row = by_commit[sha]
        chain.append(row)
        sha = row.parent or refs.base
    return list(reversed(chain))


def run_batch(
    executor: Executor,
    recorder: Recorder,
    jobs: Sequence[Job],
    deadline: float | None = None,
    on_event: Callable[[str], None] = lambda line: None,
) -> list[RunResult]:
    """Run `jobs` on every free slot, recording each measurement; results in completion order.

    At `deadline` (a time.time() value) nothing more is started and what runs is cancelled.
    Each finished run is said on `on_event` (finalize can take as long as many experiments).
    """
    pending, results = list(jobs), []
    started = time.time()
    while pending or executor.running():
        if deadline is not None and time.time() >= deadline:
            pending.clear()
            for key in list(executor.running()):
                executor.cancel(key)
        while pending and executor.free_slots() > 0:
            job = pending.pop(0)
            recorder.started(job, executor.submit(job))
        for result in executor.wait_any(timeout=0.5):
            if recorder.finished(result) is not None:  # None: not one of this batch's jobs
                results.append(result)
                done, total = len(results), len(jobs)
                left = (time.time() - started) / done * (total - done)
                on_event(
                    f"finalize: run {done}/{total} done (#{result.job.experiment:04d} left out, seed "
                    f"{result.job.seed}){f'; about {left:.0f} s to go' if done < total else ''}"
                )
    return results


def finalize(
    *,
    store: Store,
    ledger: Ledger,
    executor: Executor | None,
    config: Config,
    run: str,
    on_event: Callable[[str], None] = lambda line: None,
    deadline: float | None = None,
) -> list[RankedChange]:
    """Ablate and rank; the ablation stops at `deadline` (the run's wall clock), ranking what it has."""
    metric, direction = config.objective.metric, config.objective.direction
    refs = store.run(run)
    if refs is None:
        return []
    recorder = Recorder(store, ledger, run, refs.base)
    chain = accepted_chain(ledger, store, run)
    values = {row.number: _values(ledger, run, row.number, metric) for row in chain}
    candidates = [_candidate(group, values, store, run) for group in _groups(chain)]
    if not candidates:
        on_event("finalize: no accepted change; no candidates branch")
        recorder.candidates([], None, [])
        return []
    base_values = _values(ledger, run, 0, metric, ("baseline",))
    best_values = values[chain[-1].number]
    if len(candidates) == 1:
        only = candidates[0]
        if base_values and best_values:
            only.contribution = improvement(direction, mean(base_values), mean(best_values))
            only.contribution_note = "the only accepted change: its gain over the base"
    elif executor is None:
        for c in candidates:
            c.contribution_note = "not ablated (finalize was interrupted); ranked by the gain at acceptance"
    else:
        _ablate(
            store, recorder, executor, config, run, refs.base, candidates, best_values, on_event, deadline
        )
    _build_candidates(store, recorder, run, refs.base, candidates, config)
    return sorted(candidates, key=lambda c: -c.rank_key)


def _knob_labels(row: ExperimentRow) -> frozenset[str]:
    knobs = ProposalRecord.from_text(row.patch).meta.get("knobs", {})
    return frozenset(knobs) if isinstance(knobs, dict) else frozenset()


def _groups(chain: list[ExperimentRow]) -> list[list[ExperimentRow]]:
    """Consecutive accepted changes of the same constants become one candidate (a line search)."""
    groups: list[list[ExperimentRow]] = []
    for row in chain:
        labels = _knob_labels(row)
        if groups and labels and _knob_labels(groups[-1][-1]) == labels:
            groups[-1].append(row)
        else:
            groups.append([row])
    return groups


_SET = re.compile(r"^Set (\S+) to (\S+) \(was (\S+)\)$")


def _sum(xs: list[float | None]) -> float | None:
    known = [x for x in xs if x is not None]
    return sum(known) if len(known) == len(xs) else None


def _candidate(
    group: list[ExperimentRow], by_number: dict[int, list[float]], store: Store, run: str
) -> RankedChange:
    first, last = group[0], group[-1]
    candidate = RankedChange(
        experiment=last.number,
        commit=last.commit or "",
        hypothesis=last.hypothesis,
        improvement=_sum([r.decision.improvement for r in group]),
        delta=_sum([r.decision.delta for r in group]),
        values=by_number[last.number],
        source_parent=first.parent,
        members=[r.number for r in group],
    )
    if len(group) > 1:
        a, b = _SET.match(first.hypothesis), _SET.match(last.hypothesis)
        steps = ", ".join(f"#{r.number:04d}" for r in group)
        candidate.hypothesis = (
            f"Set {a.group(1)} to {b.group(2)} (was {a.group(3)})"
            if a and b and a.group(1) == b.group(1)
            else f"{last.hypothesis} (after {steps})"
        )
        proposer = last.proposer or "sweep"
        candidate.message = (
            f"{candidate.hypothesis}\n\nThe accepted steps {steps} of run {run}, taken as one "
            f"change.\n\nGitresearch-Run: {run}\nGitresearch-Experiment: {last.number:04d}\n"
            f"Gitresearch-Proposer: {proposer}\n"
        )
    return candidate


def _values(
    ledger: Ledger, run: str, number: int, metric: str, purposes: tuple[str, ...] = ("measure", "confirm")
) -> list[float]:
    return values(ledger.measurements(run, number), metric, purposes)


def _ablate(
    store: Store,
    recorder: Recorder,
    executor: Executor,
    config: Config,
    run: str,
    base: str,
    candidates: list[RankedChange],
    best_values: list[float],
    on_event: Callable[[str], None],
    deadline: float | None,
) -> None:
    runs = max(2, config.objective.repeats + config.search.confirm_runs)
    jobs: list[Job] = []
    stacks: dict[int, str] = {}
    for c in candidates:
        stack: str | None = base
        for other in candidates:
            if other is not c and stack is not None:
                stack = store.pick_onto(stack, other.commit, parent=other.source_parent)
        if stack is None:
            c.contribution_note = (
                "cannot be removed alone (later changes build on it); ranked by its gain at acceptance"
            )
            continue
        stacks[c.experiment] = stack
        jobs += [Job(run, c.experiment, stack, seed, "ablation") for seed in range(runs)]
    on_event(f"finalize: leave-one-out ablation of {len(stacks)} change(s), {len(jobs)} run(s)")
    results = run_batch(executor, recorder, jobs, deadline, on_event)
    metric, direction = config.objective.metric, config.objective.direction
    for c in candidates:
        if c.experiment not in stacks:
            continue
        loo = [
            r.metrics[metric]
            for r in results
            if r.job.experiment == c.experiment and isinstance(r, Succeeded) and metric in r.metrics
        ]
        c.ablation = Ablation(commit=stacks[c.experiment], values=loo)
        if loo and best_values:
            c.contribution = improvement(direction, mean(loo), mean(best_values))
            c.contribution_note = (
                f"leave-one-out over {len(loo)} run(s): without it, {metric} is {mean(loo):.4g}"
            )
        elif any(r.job.experiment == c.experiment and not r.ok for r in results):
            c.contribution_note = "the ablation did not finish (failed, or the wall clock ran out); ranked by its gain at acceptance"
        else:
            c.contribution_note = (
                "not ablated: the wall-clock budget ran out; ranked by its gain at acceptance"
            )


def _build_candidates(
    store: Store, recorder: Recorder, run: str, base: str, candidates: list[RankedChange], config: Config
) -> None:
    ranked = sorted(candidates, key=lambda c: -c.rank_key)
    placed = _place(store, base, ranked, config)
    if placed is None:  # some change only applies after ones ranked below it: keep acceptance order
        placed = _place(store, base, candidates, config)
    if placed is None:
        raise GitResearchError(
            "the accepted changes do not re-apply onto the base in acceptance order; "
            f"the chain gitresearch/{run}/best is intact, but no candidates branch was built"
        )
    notes: list[tuple[CandidateNote, str]] = []
    for rank, (c, sha) in enumerate(placed, start=1):
        c.candidate_commit = sha
        note = CandidateNote(
            run=run,
            rank=rank,
            experiment=c.experiment,
            members=c.members,
            source_commit=c.commit,
            hypothesis=c.hypothesis,
            metric=config.objective.metric,
            delta=c.delta,
            improvement=c.improvement,
            contribution=c.contribution,
            contribution_note=c.contribution_note,
            values=c.values,
            mean=mean(c.values) if c.values else None,
            spread=stdev(c.values) if len(c.values) > 1 else None,
            ablation=c.ablation,
        )
        notes.append((note, sha))
    summary = [
        {"experiment": c.experiment, "contribution": c.contribution, "commit": c.candidate_commit}
        for c in ranked
    ]
    recorder.candidates(notes, placed[-1][1] if placed else base, summary)


def _place(
    store: Store, base: str, order: Sequence[RankedChange], config: Config
) -> list[tuple[RankedChange, str]] | None:
    placed: list[tuple[RankedChange, str]] = []
    waiting = list(order)
    tip = base
    while waiting:
        progress = False
        for c in list(waiting):
            message = _with_trailer(c.message or store.message(c.commit), c, config)
            sha = store.pick_onto(tip, c.commit, message, parent=c.source_parent)
            if sha is not None:
                placed.append((c, sha))
                tip = sha
                waiting.remove(c)
                progress = True
                break  # re-scan from the highest-ranked waiting change
        if not progress:
            return None
    return placed


def _with_trailer(message: str, c: RankedChange, config: Config) -> str:
    value = "unknown" if c.contribution is None else f"{c.contribution:+.6g}"
    return message.rstrip("\n") + f"\nGitresearch-Contribution: {value} {config.objective.metric}\n"
