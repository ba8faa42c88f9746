"""SIGKILL at random points while experiments are written; git and the ledger stay whole."""

from __future__ import annotations

import json
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

from gitresearch.ledger import Ledger
from gitresearch.notes import ExperimentNote
from gitresearch.rebuild import sync_from_git
from gitresearch.store import Store
from tests.helpers.repos import GitRepo

# The loop's write path for one experiment, through the same Recorder: ledger proposal,
# commit + branch, ledger "committed" + note, measurement row, note, decision + note, best.
# A long hypothesis makes each note big enough for a kill to land in the middle of a write.
WRITER = r"""
import sys
from pathlib import Path
from gitresearch.execute.base import Job, Slot, Succeeded
from gitresearch.ledger import Ledger
from gitresearch.notes import Decision, ExperimentNote
from gitresearch.rebuild import sync_from_git
from gitresearch.record import Recorder
from gitresearch.store import Store

root = Path(sys.argv[1])
store = Store(root)
ledger = Ledger(store.ledger_path)
store.clear_stale_locks()  # the loop does this right after taking the repository lock
recorder = Recorder(store, ledger, "r")
if store.run("r") is None:
    store.create_run("r", store.head())
    recorder.begin(store.head(), 0.0, {"metric": "loss"})
sync_from_git(store, ledger, only="r")
recorder.reopen(store.run("r").base, 0.0, {})
refs = store.run("r")
number = max(ledger.next_number("r"), max(refs.experiments, default=0) + 1)
slot = Slot(0, "cpu0", None)
print("ready", flush=True)
while True:
    parent = store.run("r").best
    hypothesis = f"try {number} " + "x" * 20000
    recorder.proposed(number, parent=parent, proposer="sweep", hypothesis=hypothesis, rationale="", patch="{}")
    exp = store.commit_experiment("r", number, parent, {"notes.md": f"{number}\n".encode()}, f"try {number}", "", "sweep")
    note = ExperimentNote(run="r", experiment=number, parent=parent, proposer=hypothesis, status="committed", metric="loss")
    recorder.committed(note, exp.sha)
    job = Job("r", number, exp.sha, 0)
    recorder.started(job, slot)
    m = recorder.finished(Succeeded(job, slot, {"loss": 1.0 / number}, 0.01, Path("/dev/null"), ""))
    note = ExperimentNote(
        run="r", experiment=number, parent=parent, proposer=hypothesis, status="accepted", metric="loss",
        measurements=[m], decision=Decision(status="accepted", delta=-0.01),
    )
    recorder.changed(note, exp.sha, "accepted")
    recorder.incumbent(exp.sha)
    number += 1
"""


def test_sigkill_at_random_points_loses_nothing(repo: GitRepo) -> None:
    rng = random.Random(1234)
    for _ in range(8):
        proc = subprocess.Popen(
            [sys.executable, "-c", WRITER, str(repo.root)], stdout=subprocess.PIPE, text=True
        )
        assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
        time.sleep(rng.uniform(0.05, 0.6))
        proc.send_signal(signal.SIGKILL)
        proc.wait()

    store = Store(repo.root)
    ledger = Ledger(store.ledger_path)
    assert ledger.integrity() == "ok"
    refs = store.run("r")
    assert refs is not None and len(refs.experiments) >= 8
    # every commit the ledger knows is a branch in git
    for row in ledger.experiments("r"):
        if row.commit is not None:
            assert refs.experiments[row.number] == row.commit
    # a number without a branch is a proposal a kill interrupted: cancelled on the next start
    rows = {e.number: e for e in ledger.experiments("r")}
    assert set(refs.experiments) <= set(rows)
    last = max(rows)
    for number, row in rows.items():
        if number not in refs.experiments:
            assert row.commit is None and row.status == ("proposed" if number == last else "cancelled")
    # every note is whole JSON and belongs to its commit
    notes = store.all_notes()
    for number, sha in refs.experiments.items():
        if sha in notes:
            note = ExperimentNote.from_json(notes[sha], commit=sha)
            assert note is not None and note.experiment == number and len(note.proposer) > 20000
    assert repo.git("fsck", "--strict", "--no-dangling") == ""
    # rebuilding from git alone gives back every committed experiment with its measurements
    fresh = Ledger(Path(repo.root) / ".git" / "gitresearch" / "rebuilt.sqlite")
    sync_from_git(store, fresh)
    rebuilt = {e.number: e for e in fresh.experiments("r")}
    assert set(rebuilt) == set(refs.experiments)
    for number, sha in refs.experiments.items():
        assert rebuilt[number].commit == sha
        if sha in notes and notes[sha]["status"] == "accepted":
            assert rebuilt[number].status == "accepted"
            assert [m.metrics for m in fresh.measurements("r", number)] == [{"loss": 1.0 / number}]
    # and syncing the damaged-by-kills ledger converges to the same rows
    sync_from_git(store, ledger)
    synced = {e.number: (e.commit, e.status) for e in ledger.experiments("r") if e.commit is not None}
    assert synced == {n: (e.commit, e.status) for n, e in rebuilt.items()}
    assert json.loads(json.dumps(notes))  # notes are plain JSON all the way down
