"""One writer for a run's events: the ledger row and the git note, together.

Git holds the truth and the ledger is its cache (promise 5), so every event that changes
what a run knows must reach both, in the same order everywhere: the search loop, the
finalize step and a resume all go through a `Recorder`, and nothing else writes a note or
a ledger row of a run. Each method is one event: an experiment proposed, refused, found to
be a duplicate, committed, measured, decided; a measurement started and finished; the
candidates written. The note comes from `notes.py`, which alone knows its keys.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from gitresearch.execute.base import Job, RunResult, Slot, Succeeded
from gitresearch.ledger import ExperimentStatus, Ledger
from gitresearch.notes import (
    BaseNote,
    CandidateNote,
    Decision,
    ExperimentNote,
    Measurement,
    Rejection,
    RunNote,
    RunStatus,
    compact_curve,
)
from gitresearch.store import Store, run_branch


def measurement_of(result: RunResult, *, finished: float | None = None) -> Measurement:
    """What a finished job becomes in the ledger and the notes."""
    job = result.job
    when = time.time() if finished is None else finished
    common: dict[str, Any] = {
        "seed": job.seed,
        "purpose": job.purpose,
        "metrics": dict(result.metrics),
        "seconds": result.seconds,
        "slot": result.slot.name,
        "commit": job.commit,
        "finished": when,
        "curve": compact_curve(result.curve),
    }
    if isinstance(result, Succeeded):
        return Measurement(status="ok", exit_code=0, log_path=str(result.log_path), **common)
    ending = {"cancelled": "cancelled", "pruned": "pruned"}.get(result.reason, "failed")
    return Measurement(
        status=ending,  # type: ignore[arg-type]
        exit_code=result.exit_code,
        reason=result.reason,
        detail=result.detail,
        log_path=str(result.log_path) if result.log_path else None,
        **common,
    )


class Recorder:
    """Writes one run's events to the ledger and to git notes."""

    def __init__(self, store: Store, ledger: Ledger, run: str, base: str = "") -> None:
        self.store, self.ledger, self.run = store, ledger, run
        self.base = base
        self.run_note = RunNote()
        self._started: dict[str, int] = {}  # job key -> measurement id in the ledger

    # -- the run ------------------------------------------------------------------------------

    def begin(self, base: str, started: float, meta: Mapping[str, Any]) -> None:
        self.base = base
        self.run_note = RunNote(started=started, meta=dict(meta), status="running")
        self.ledger.ensure_run(self.run, base, {"started": started, **meta})
        self._write_run_note()

    def reopen(self, base: str, fallback_started: float, fallback_meta: Mapping[str, Any]) -> RunNote:
        """A resumed run: its record as git has it, marked running again."""
        self.base = base
        known = BaseNote.from_json(self.store.read_note(base)).by_run.get(self.run)
        if known is None:
            known = RunNote(started=fallback_started, meta=dict(fallback_meta))
        self.run_note = replace(known, status="running")
        self.ledger.cancel_unfinished(self.run)
        self.ledger.set_run(self.run, status="running")
        return self.run_note

    def baseline_measured(self, measurement: Measurement) -> None:
        self.run_note = replace(self.run_note, baseline=[*self.run_note.baseline, measurement])
        self._write_run_note()

    def ended(self, status: RunStatus, llm_usage: Mapping[str, Any]) -> None:
        self.ledger.set_run(self.run, status=status)
        self.run_note = replace(self.run_note, status=status, llm=dict(llm_usage) or self.run_note.llm)
        self._write_run_note()

    def incumbent(self, sha: str) -> None:
        self.store.set_branch(run_branch(self.run, "best"), sha)
        self.ledger.set_run(self.run, best=sha)

    def _write_run_note(self) -> None:
        note = BaseNote.from_json(self.store.read_note(self.base)).with_run(self.run, self.run_note)
        self.store.write_note(self.base, note.to_json())

    # -- an experiment ------------------------------------------------------------------------

    def proposed(
        self, number: int, *, parent: str, proposer: str, hypothesis: str, rationale: str, patch: str
    ) -> None:
        self.ledger.add_experiment(
            self.run,
            number,
            parent=parent,
            proposer=proposer,
            hypothesis=hypothesis,
            rationale=rationale,
            patch=patch,
        )

    def rejected(self, rejection: Rejection) -> None:
        self.ledger.transition(self.run, rejection.number, "rejected", violations=rejection.violations)
        self.run_note = replace(self.run_note, rejected=[*self.run_note.rejected, rejection])
        self._write_run_note()

    def duplicate(self, number: int, reason: str) -> None:
        self.ledger.transition(self.run, number, "duplicate", decision=Decision(reason=reason))

    def committed(self, note: ExperimentNote, commit: str) -> None:
        self.ledger.transition(self.run, note.experiment, "committed", commit=commit)
        self.store.write_note(commit, note.to_json())

    def running(self, number: int) -> None:
        self.ledger.transition(self.run, number, "running")

    def changed(self, note: ExperimentNote, commit: str, status: ExperimentStatus | None = None) -> None:
        """A new measurement, a phase or a decision: the note again, and the row when `status`."""
        if status is not None:
            decision = note.decision if status in ("accepted", "discarded", "failed") else None
            self.ledger.transition(self.run, note.experiment, status, decision=decision)
        self.store.write_note(commit, note.to_json())

    # -- measurements ---------------------------------------------------------------------------

    def started(self, job: Job, slot: Slot) -> None:
        self._started[job.key] = self.ledger.start_measurement(
            self.run, job.experiment, job.seed, job.purpose, job.commit, slot.name, None
        )

    def finished(self, result: RunResult) -> Measurement | None:
        """The measurement, recorded in the ledger; None for a job this recorder did not start."""
        mid = self._started.pop(result.job.key, None)
        if mid is None:
            return None
        measurement = measurement_of(result)
        self.ledger.finish_measurement(mid, measurement)
        return measurement

    # -- finalize -------------------------------------------------------------------------------

    def candidates(
        self, placed: Sequence[tuple[CandidateNote, str]], tip: str | None, summary: list[dict[str, Any]]
    ) -> None:
        """The candidates' notes, then the branch that points at them, then the run's row."""
        for note, sha in placed:
            self.store.write_note(sha, note.to_json())
        if tip is not None:
            self.store.set_branch(run_branch(self.run, "candidates"), tip)
        self.ledger.set_run(self.run, status="finalized", meta={"candidates": summary})
        known = BaseNote.from_json(self.store.read_note(self.base)).by_run.get(self.run)
        if known is not None:
            self.run_note = replace(known, status="finalized")
            self._write_run_note()
