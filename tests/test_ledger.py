"""The SQLite ledger: migrations, transitions, and consistency."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from gitresearch.ledger import MIGRATIONS, Ledger, LedgerError
from gitresearch.notes import Decision, Measurement


def test_migrations_set_the_version_and_survive_reopening(tmp_path: Path) -> None:
    path = tmp_path / "ledger.sqlite"
    ledger = Ledger(path)
    assert ledger.version == len(MIGRATIONS)
    ledger.ensure_run("r", "abc")
    ledger.close()
    again = Ledger(path)
    assert again.version == len(MIGRATIONS) and [r.name for r in again.runs()] == ["r"]


def test_a_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "ledger.sqlite"
    db = sqlite3.connect(path)
    db.execute(f"PRAGMA user_version = {len(MIGRATIONS) + 1}")
    db.close()
    with pytest.raises(LedgerError, match="newer gitresearch"):
        Ledger(path)


def test_experiment_lifecycle_and_refused_transitions(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path / "l.sqlite")
    ledger.ensure_run("r", "base")
    assert ledger.next_number("r") == 1
    ledger.add_experiment("r", 1, parent="base", proposer="sweep", hypothesis="lr up", patch="diff")
    ledger.add_experiment("r", 2, parent="base", proposer="llm", hypothesis="escape")
    assert ledger.next_number("r") == 3
    ledger.transition("r", 2, "rejected", violations=[{"rule": "forbidden-name", "line": 3}])
    with pytest.raises(LedgerError, match="cannot go from rejected to committed"):
        ledger.transition("r", 2, "committed")
    ledger.transition("r", 1, "committed", commit="c1")
    mid = ledger.start_measurement("r", 1, 0, "measure", "c1", "cpu0", "/log")
    ledger.transition("r", 1, "running")
    done = Measurement(
        seed=0, purpose="measure", status="ok", metrics={"loss": 1.5}, seconds=2.0, exit_code=0
    )
    ledger.finish_measurement(mid, done)
    with pytest.raises(LedgerError, match="not running"):
        ledger.finish_measurement(mid, done)
    ledger.transition("r", 1, "accepted", decision=Decision(delta=-0.2))
    row = ledger.experiment("r", 1)
    assert (
        row is not None
        and row.status == "accepted"
        and row.commit == "c1"
        and row.decision == Decision(delta=-0.2)
    )
    (m,) = ledger.measurements("r", 1)
    assert m.status == "ok" and m.metrics == {"loss": 1.5} and m.slot == "cpu0"
    rejected = ledger.experiment("r", 2)
    assert rejected is not None and rejected.violations == [{"rule": "forbidden-name", "line": 3}]
    with pytest.raises(LedgerError, match="no experiment"):
        ledger.transition("r", 9, "committed")


def test_unfinished_measurements_are_cancelled_on_resume(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path / "l.sqlite")
    ledger.ensure_run("r", "base")
    ledger.add_experiment("r", 1, parent="base", proposer="sweep", hypothesis="h")
    ledger.start_measurement("r", 1, 0, "measure", "c", "cpu0", None)
    assert ledger.cancel_unfinished("r") == 1
    (m,) = ledger.measurements("r")
    assert m.status == "cancelled" and m.finished is not None


def test_a_failed_transaction_leaves_nothing(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path / "l.sqlite")
    ledger.ensure_run("r", "base")
    with pytest.raises(RuntimeError), ledger.transaction() as db:
        db.execute(
            "INSERT INTO experiments(run, number, status, created, updated) VALUES ('r', 5, 'proposed', 0, 0)"
        )
        raise RuntimeError("killed halfway")
    assert ledger.experiments("r") == []
    assert ledger.integrity() == "ok"
