"""The local index of runs: SQLite under `.git/gitresearch/ledger.sqlite`.

It is a cache of what git holds (branches and notes) plus what git never sees (proposals
being prepared, measurements in flight), so that `status`, `report` and the review read
one table instead of walking refs. Every state change is one transaction, and the file is
in WAL mode with full sync, so a process killed at any instant leaves either the old row
or the new one. The schema grows by numbered migrations recorded in `PRAGMA user_version`.
`rebuild.sync_from_git` rebuilds the rows of every run from branches and notes alone.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from gitresearch.errors import GitResearchError
from gitresearch.notes import Decision, Measurement, Purpose, curve_of

ExperimentStatus = Literal[
    "proposed",
    "rejected",
    "duplicate",
    "committed",
    "running",
    "measured",
    "accepted",
    "discarded",
    "failed",
    "cancelled",
]
MeasurementStatus = Literal["running", "ok", "failed", "cancelled", "pruned"]

# Where an experiment may go from each state. Terminal states only reopen for a re-run
# (cancelled -> committed when a stopped run resumes; measured -> running for confirmations).
TRANSITIONS: dict[str, frozenset[str]] = {
    "proposed": frozenset({"rejected", "duplicate", "committed", "cancelled"}),
    "committed": frozenset({"running", "measured", "failed", "cancelled", "accepted", "discarded"}),
    "running": frozenset({"running", "measured", "failed", "cancelled", "accepted", "discarded"}),
    "measured": frozenset({"running", "accepted", "discarded", "failed", "cancelled"}),
    "cancelled": frozenset({"committed", "running"}),
    "failed": frozenset({"running"}),
    "accepted": frozenset({"running"}),
    "discarded": frozenset({"running"}),
    "rejected": frozenset(),
    "duplicate": frozenset(),
}

MIGRATIONS: tuple[str, ...] = (
    # 1: runs, experiments, measurements
    """
    CREATE TABLE runs (
        name TEXT PRIMARY KEY,
        base TEXT NOT NULL,
        best TEXT,
        status TEXT NOT NULL,
        started REAL NOT NULL,
        updated REAL NOT NULL,
        meta TEXT NOT NULL DEFAULT '{}'
    );
    CREATE TABLE experiments (
        run TEXT NOT NULL REFERENCES runs(name) ON DELETE CASCADE,
        number INTEGER NOT NULL,
        status TEXT NOT NULL,
        parent TEXT,
        commit_sha TEXT,
        proposer TEXT NOT NULL DEFAULT '',
        hypothesis TEXT NOT NULL DEFAULT '',
        rationale TEXT NOT NULL DEFAULT '',
        patch TEXT,
        violations TEXT,
        decision TEXT,
        created REAL NOT NULL,
        updated REAL NOT NULL,
        PRIMARY KEY (run, number)
    );
    CREATE TABLE measurements (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        run TEXT NOT NULL REFERENCES runs(name) ON DELETE CASCADE,
        number INTEGER NOT NULL,
        seed INTEGER NOT NULL,
        purpose TEXT NOT NULL,
        commit_sha TEXT NOT NULL,
        status TEXT NOT NULL,
        slot TEXT,
        metrics TEXT,
        seconds REAL,
        exit_code INTEGER,
        reason TEXT,
        detail TEXT,
        log_path TEXT,
        started REAL NOT NULL,
        finished REAL
    );
    CREATE INDEX measurements_by_experiment ON measurements(run, number);
    """,
    # 2: each measurement's curve of intermediate values (early stopping)
    """
    ALTER TABLE measurements ADD COLUMN curve TEXT
    """,
)


class LedgerError(GitResearchError):
    """The ledger refused a change that would make it inconsistent (a bug, not a user error)."""


@dataclass(frozen=True)
class RunRow:
    name: str
    base: str
    best: str | None
    status: str
    started: float
    updated: float
    meta: dict[str, Any]


@dataclass(frozen=True)
class ExperimentRow:
    run: str
    number: int
    status: ExperimentStatus
    parent: str | None
    commit: str | None
    proposer: str
    hypothesis: str
    rationale: str
    patch: str | None
    violations: list[dict[str, Any]] | None
    decision: Decision
    created: float
    updated: float


@dataclass(frozen=True)
class MeasurementRow:
    id: int
    run: str
    number: int
    seed: int
    purpose: Purpose
    commit: str
    status: MeasurementStatus
    slot: str | None
    metrics: dict[str, float]
    seconds: float | None
    exit_code: int | None
    reason: str | None
    detail: str | None
    log_path: str | None
    started: float
    finished: float | None
    curve: tuple[tuple[float, float], ...] = ()

    def as_measurement(self) -> Measurement:
        """The finished measurement this row records (a running row reads as cancelled)."""
        return Measurement(
            seed=self.seed,
            purpose=self.purpose,
            status="cancelled" if self.status == "running" else self.status,
            metrics=dict(self.metrics),
            seconds=self.seconds or 0.0,
            exit_code=self.exit_code,
            reason=self.reason,
            detail=self.detail,
            slot=self.slot,
            log_path=self.log_path,
            commit=self.commit,
            finished=self.finished,
            curve=self.curve,
        )


def _dumps(value: Any) -> str | None:
    return None if value is None else json.dumps(value, sort_keys=True)


def _loads(text: str | None) -> Any:
    return None if text is None else json.loads(text)


class Ledger:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._depth = 0
        self.db = sqlite3.connect(path, timeout=30.0, isolation_level=None, check_same_thread=False)
        self.db.row_factory = sqlite3.Row
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=FULL")
        self.db.execute("PRAGMA foreign_keys=ON")
        self._migrate()

    def close(self) -> None:
        self.db.close()

    @property
    def version(self) -> int:
        return int(self.db.execute("PRAGMA user_version").fetchone()[0])

    def _migrate(self) -> None:
        current = self.version
        if current > len(MIGRATIONS):
            raise LedgerError(
                f"{self.path} was written by a newer gitresearch (schema {current}); "
                "upgrade gitresearch, or delete the file to rebuild it from git"
            )
        for number, script in enumerate(MIGRATIONS[current:], start=current + 1):
            with self.transaction() as db:
                for statement in script.split(";"):
                    if statement.strip():
                        db.execute(statement)
                db.execute(f"PRAGMA user_version = {number}")

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One atomic write; nested inside another it joins the outer one (a bulk rebuild)."""
        if self._depth:
            self._depth += 1
            try:
                yield self.db
            finally:
                self._depth -= 1
            return
        self.db.execute("BEGIN IMMEDIATE")
        self._depth = 1
        try:
            yield self.db
        except BaseException:
            self._depth = 0
            self.db.execute("ROLLBACK")
            raise
        self._depth = 0
        self.db.execute("COMMIT")

    # -- runs -----------------------------------------------------------------------------

    def ensure_run(
        self, name: str, base: str, meta: Mapping[str, Any] | None = None, status: str = "running"
    ) -> None:
        now = time.time()
        with self.transaction() as db:
            db.execute(
                "INSERT INTO runs(name, base, best, status, started, updated, meta) VALUES (?,?,?,?,?,?,?) "
                "ON CONFLICT(name) DO UPDATE SET status=excluded.status, updated=excluded.updated",
                (
                    name,
                    base,
                    base,
                    status,
                    float((meta or {}).get("started", now)),
                    now,
                    _dumps(dict(meta or {})),
                ),
            )

    def set_run(
        self,
        name: str,
        *,
        status: str | None = None,
        best: str | None = None,
        meta: Mapping[str, Any] | None = None,
    ) -> None:
        with self.transaction() as db:
            row = db.execute("SELECT meta FROM runs WHERE name=?", (name,)).fetchone()
            if row is None:
                raise LedgerError(f"no run {name} in the ledger")
            merged = {**json.loads(row["meta"]), **(meta or {})}
            db.execute(
                "UPDATE runs SET status=COALESCE(?, status), best=COALESCE(?, best), meta=?, updated=? WHERE name=?",
                (status, best, _dumps(merged), time.time(), name),
            )

    def runs(self) -> list[RunRow]:
        rows = self.db.execute("SELECT * FROM runs ORDER BY started").fetchall()
        return [
            RunRow(
                r["name"],
                r["base"],
                r["best"],
                r["status"],
                r["started"],
                r["updated"],
                json.loads(r["meta"]),
            )
            for r in rows
        ]

    def run(self, name: str) -> RunRow | None:
        return next((r for r in self.runs() if r.name == name), None)

    def delete_run(self, name: str) -> None:
        with self.transaction() as db:
            db.execute("DELETE FROM measurements WHERE run=?", (name,))
            db.execute("DELETE FROM experiments WHERE run=?", (name,))
            db.execute("DELETE FROM runs WHERE name=?", (name,))

    # -- experiments ----------------------------------------------------------------------

    def next_number(self, run: str) -> int:
        row = self.db.execute("SELECT MAX(number) FROM experiments WHERE run=?", (run,)).fetchone()
        return int(row[0] or 0) + 1

    def add_experiment(
        self,
        run: str,
        number: int,
        *,
        parent: str | None,
        proposer: str,
        hypothesis: str,
        rationale: str = "",
        patch: str | None = None,
    ) -> None:
        now = time.time()
        with self.transaction() as db:
            db.execute(
                "INSERT INTO experiments(run, number, status, parent, proposer, hypothesis, rationale, patch, "
                "created, updated) VALUES (?,?,?,?,?,?,?,?,?,?)",
                (run, number, "proposed", parent, proposer, hypothesis, rationale, patch, now, now),
            )

    def transition(
        self,
        run: str,
        number: int,
        status: ExperimentStatus,
        *,
        commit: str | None = None,
        violations: list[dict[str, Any]] | None = None,
        decision: Decision | None = None,
    ) -> None:
        with self.transaction() as db:
            row = db.execute(
                "SELECT status FROM experiments WHERE run=? AND number=?", (run, number)
            ).fetchone()
            if row is None:
                raise LedgerError(f"no experiment {run}/{number:04d} in the ledger")
            if status != row["status"] and status not in TRANSITIONS[row["status"]]:
                raise LedgerError(f"experiment {run}/{number:04d} cannot go from {row['status']} to {status}")
            db.execute(
                "UPDATE experiments SET status=?, commit_sha=COALESCE(?, commit_sha), "
                "violations=COALESCE(?, violations), decision=COALESCE(?, decision), updated=? "
                "WHERE run=? AND number=?",
                (
                    status,
                    commit,
                    _dumps(violations),
                    _dumps(decision.to_json() if decision is not None else None),
                    time.time(),
                    run,
                    number,
                ),
            )

    def experiments(self, run: str) -> list[ExperimentRow]:
        rows = self.db.execute("SELECT * FROM experiments WHERE run=? ORDER BY number", (run,)).fetchall()
        return [self._experiment(r) for r in rows]

    def experiment(self, run: str, number: int) -> ExperimentRow | None:
        row = self.db.execute("SELECT * FROM experiments WHERE run=? AND number=?", (run, number)).fetchone()
        return None if row is None else self._experiment(row)

    @staticmethod
    def _experiment(r: sqlite3.Row) -> ExperimentRow:
        return ExperimentRow(
            r["run"],
            r["number"],
            r["status"],
            r["parent"],
            r["commit_sha"],
            r["proposer"],
            r["hypothesis"],
            r["rationale"],
            r["patch"],
            _loads(r["violations"]),
            Decision.from_json(_loads(r["decision"])),
            r["created"],
            r["updated"],
        )

    # -- measurements ---------------------------------------------------------------------

    def start_measurement(
        self,
        run: str,
        number: int,
        seed: int,
        purpose: Purpose,
        commit: str,
        slot: str | None,
        log_path: str | None,
    ) -> int:
        with self.transaction() as db:
            cur = db.execute(
                "INSERT INTO measurements(run, number, seed, purpose, commit_sha, status, slot, log_path, started) "
                "VALUES (?,?,?,?,?,?,?,?,?)",
                (run, number, seed, purpose, commit, "running", slot, log_path, time.time()),
            )
            return int(cur.lastrowid or 0)

    def finish_measurement(self, measurement_id: int, m: Measurement) -> None:
        with self.transaction() as db:
            cur = db.execute(
                "UPDATE measurements SET status=?, metrics=?, seconds=?, exit_code=?, reason=?, detail=?, "
                "log_path=COALESCE(?, log_path), finished=?, slot=COALESCE(?, slot), curve=? "
                "WHERE id=? AND status='running'",
                (
                    m.status,
                    _dumps(dict(m.metrics)),
                    m.seconds,
                    m.exit_code,
                    m.reason,
                    m.detail,
                    m.log_path,
                    m.finished if m.finished is not None else time.time(),
                    m.slot,  # where it ran, as the executor says at the end ("ray1@node")
                    _dumps([list(p) for p in m.curve]) if m.curve else None,
                    measurement_id,
                ),
            )
            if cur.rowcount != 1:
                raise LedgerError(f"measurement {measurement_id} is not running")

    def cancel_unfinished(self, run: str) -> int:
        """After a crash: measurements left running and proposals never committed are cancelled.

        Returns how many measurements were cancelled.
        """
        now = time.time()
        with self.transaction() as db:
            cur = db.execute(
                "UPDATE measurements SET status='cancelled', reason='cancelled', "
                "detail='the gitresearch process stopped while this ran', finished=? "
                "WHERE run=? AND status='running'",
                (now, run),
            )
            db.execute(
                "UPDATE experiments SET status='cancelled', updated=?, decision=? WHERE run=? AND status='proposed'",
                (
                    now,
                    _dumps(
                        Decision(
                            reason="the gitresearch process stopped before this proposal was committed"
                        ).to_json()
                    ),
                    run,
                ),
            )
            return int(cur.rowcount)

    def measurements(self, run: str, number: int | None = None) -> list[MeasurementRow]:
        if number is None:
            rows = self.db.execute("SELECT * FROM measurements WHERE run=? ORDER BY id", (run,)).fetchall()
        else:
            rows = self.db.execute(
                "SELECT * FROM measurements WHERE run=? AND number=? ORDER BY id", (run, number)
            ).fetchall()
        return [
            MeasurementRow(
                r["id"],
                r["run"],
                r["number"],
                r["seed"],
                r["purpose"],
                r["commit_sha"],
                r["status"],
                r["slot"],
                _loads(r["metrics"]) or {},
                r["seconds"],
                r["exit_code"],
                r["reason"],
                r["detail"],
                r["log_path"],
                r["started"],
                r["finished"],
                curve_of(_loads(r["curve"])),
            )
            for r in rows
        ]

    def integrity(self) -> str:
        return str(self.db.execute("PRAGMA integrity_check").fetchone()[0])

    # -- rebuilding from git --------------------------------------------------------------

    def upsert_experiment(
        self,
        run: str,
        number: int,
        *,
        status: str,
        parent: str | None,
        commit: str | None,
        proposer: str,
        hypothesis: str,
        rationale: str,
        violations: list[dict[str, Any]] | None = None,
        decision: Decision | None = None,
    ) -> None:
        """Write what git says about an experiment, whatever the row said before."""
        now = time.time()
        with self.transaction() as db:
            db.execute(
                "INSERT INTO experiments(run, number, status, parent, commit_sha, proposer, hypothesis, rationale, "
                "violations, decision, created, updated) VALUES (?,?,?,?,?,?,?,?,?,?,?,?) "
                "ON CONFLICT(run, number) DO UPDATE SET status=excluded.status, parent=excluded.parent, "
                "commit_sha=excluded.commit_sha, proposer=excluded.proposer, hypothesis=excluded.hypothesis, "
                "rationale=excluded.rationale, violations=COALESCE(excluded.violations, violations), "
                "decision=COALESCE(excluded.decision, decision), updated=excluded.updated",
                (
                    run,
                    number,
                    status,
                    parent,
                    commit,
                    proposer,
                    hypothesis,
                    rationale,
                    _dumps(violations),
                    _dumps(decision.to_json() if decision is not None else None),
                    now,
                    now,
                ),
            )

    def replace_measurements(self, run: str, number: int, records: Sequence[Measurement]) -> None:
        """Make the finished measurements of one experiment exactly `records` (from its note)."""
        now = time.time()
        with self.transaction() as db:
            db.execute(
                "DELETE FROM measurements WHERE run=? AND number=? AND status != 'running'", (run, number)
            )
            for m in records:
                finished = m.finished if m.finished is not None else now
                db.execute(
                    "INSERT INTO measurements(run, number, seed, purpose, commit_sha, status, slot, metrics, seconds, "
                    "exit_code, reason, detail, log_path, started, finished, curve) "
                    "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                    (
                        run,
                        number,
                        m.seed,
                        m.purpose,
                        m.commit,
                        m.status,
                        m.slot,
                        _dumps(dict(m.metrics)),
                        m.seconds,
                        m.exit_code,
                        m.reason,
                        m.detail,
                        m.log_path,
                        m.started if m.finished is not None else now,
                        finished,
                        _dumps([list(p) for p in m.curve]) if m.curve else None,
                    ),
                )
