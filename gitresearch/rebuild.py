"""Rebuilding the ledger from git alone: branches, commit messages and notes.

This is what makes `.git/gitresearch/` a cache: after a crash, on `--resume`, or for a
run fetched from a colleague (`git fetch origin 'refs/heads/gitresearch/*:refs/heads/gitresearch/*'
refs/notes/gitresearch:refs/notes/gitresearch`), every committed experiment, its
measurements and its decision come back from what git holds. Rows git knows nothing about
(a proposal not yet committed, a measurement in flight) are left as they are.

The notes this reads are the ones the loop writes:
- on an experiment commit: {"status", "runs": [measurement records], "decision": {...}}
- on a run's base commit: {"runs": {<run>: {"started", "meta", "baseline": [records],
  "rejected": [{"number", "proposer", "hypothesis", "rationale", "violations"}]}}}
"""

from __future__ import annotations

from typing import Any

from gitresearch.ledger import TRANSITIONS, Ledger
from gitresearch.store import RunRefs, Store

_STATUSES = frozenset(TRANSITIONS)


def sync_from_git(store: Store, ledger: Ledger, only: str | None = None) -> list[str]:
    """Bring the ledger in line with git for every run (or `only` one); returns the run names."""
    notes = store.all_notes()
    names = []
    for refs in store.runs(only=only):
        names.append(refs.name)
        with ledger.transaction():  # one commit per run: a 10,000-experiment run rebuilds in seconds
            _sync_run(store, ledger, refs, notes)
    return names


def _sync_run(store: Store, ledger: Ledger, refs: RunRefs, notes: dict[str, dict[str, Any]]) -> None:
    record = _run_record(notes.get(refs.base), refs.name)
    if ledger.run(refs.name) is None:
        ledger.ensure_run(
            refs.name,
            refs.base,
            {"started": record.get("started", 0.0), **record.get("meta", {})},
            status=str(record.get("status", "stopped")),
        )
    ledger.set_run(refs.name, best=refs.best)
    if isinstance(record.get("baseline"), list):
        ledger.replace_measurements(refs.name, 0, record["baseline"])
    for rejected in record.get("rejected", []):
        if (
            isinstance(rejected, dict)
            and ledger.experiment(refs.name, int(rejected.get("number", 0))) is None
        ):
            ledger.upsert_experiment(
                refs.name,
                int(rejected["number"]),
                status="rejected",
                parent=rejected.get("parent"),
                commit=None,
                proposer=str(rejected.get("proposer", "")),
                hypothesis=str(rejected.get("hypothesis", "")),
                rationale=str(rejected.get("rationale", "")),
                violations=rejected.get("violations"),
            )
    for number, sha in refs.experiments.items():
        commit = store.experiment(refs.name, number, sha)
        note = notes.get(sha) or {}
        status = str(note.get("status", "committed"))
        current = ledger.experiment(refs.name, number)
        if not note and current is not None and current.commit == sha:
            continue  # the ledger already knows more than git (e.g. it is being measured)
        ledger.upsert_experiment(
            refs.name,
            number,
            status=status if status in _STATUSES else "committed",
            parent=commit.parent,
            commit=sha,
            proposer=commit.proposer,
            hypothesis=commit.hypothesis,
            rationale=commit.rationale,
            decision=note.get("decision") if isinstance(note.get("decision"), dict) else None,
        )
        if isinstance(note.get("runs"), list):
            ledger.replace_measurements(
                refs.name,
                number,
                [dict(r, commit=r.get("commit", sha)) for r in note["runs"] if isinstance(r, dict)],
            )


def _run_record(note: dict[str, Any] | None, run: str) -> dict[str, Any]:
    if not note or not isinstance(note.get("runs"), dict):
        return {}
    record = note["runs"].get(run)
    return record if isinstance(record, dict) else {}
