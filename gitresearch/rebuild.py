"""Rebuilding the ledger from git alone: branches, commit messages and notes.

This is what makes `.git/gitresearch/` a cache: after a crash, on `--resume`, or for a
run fetched from a colleague (`git fetch origin 'refs/heads/gitresearch/*:refs/heads/gitresearch/*'
refs/notes/gitresearch:refs/notes/gitresearch`), every committed experiment, its
measurements and its decision come back from what git holds. Rows git knows nothing about
(a proposal not yet committed, a measurement in flight) are left as they are.

The notes are read through `notes.py` (schema 1 and 2 alike).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from gitresearch.ledger import TRANSITIONS, Ledger
from gitresearch.notes import BaseNote, ExperimentNote
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
    known = BaseNote.from_json(notes.get(refs.base)).by_run.get(refs.name)
    if ledger.run(refs.name) is None:
        started = known.started if known else 0.0
        ledger.ensure_run(
            refs.name,
            refs.base,
            {"started": started, **(known.meta if known else {})},
            status=known.status if known else "stopped",
        )
    ledger.set_run(refs.name, best=refs.best)
    if known is not None:
        ledger.replace_measurements(
            refs.name, 0, [replace(m, commit=m.commit or refs.base) for m in known.baseline]
        )
        for rejected in known.rejected:
            if ledger.experiment(refs.name, rejected.number) is None:
                ledger.upsert_experiment(
                    refs.name,
                    rejected.number,
                    status="rejected",
                    parent=rejected.parent,
                    commit=None,
                    proposer=rejected.proposer,
                    hypothesis=rejected.hypothesis,
                    rationale=rejected.rationale,
                    violations=rejected.violations,
                )
    for number, sha in refs.experiments.items():
        commit = store.experiment(refs.name, number, sha)
        note = ExperimentNote.from_json(notes.get(sha), commit=sha)
        current = ledger.experiment(refs.name, number)
        if note is None and current is not None and current.commit == sha:
            continue  # the ledger already knows more than git (e.g. it is being measured)
        status = note.status if note else "committed"
        ledger.upsert_experiment(
            refs.name,
            number,
            status=status if status in _STATUSES else "committed",
            parent=commit.parent,
            commit=sha,
            proposer=commit.proposer,
            hypothesis=commit.hypothesis,
            rationale=commit.rationale,
            decision=note.decision if note else None,
        )
        if note is not None:
            ledger.replace_measurements(refs.name, number, note.measurements)
