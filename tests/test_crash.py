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
from gitresearch.rebuild import sync_from_git
from gitresearch.store import Store
from tests.conftest import GitRepo

# The write order the loop uses for one experiment: ledger proposal, commit + branch,
# ledger "committed", measurement rows, the note, the ledger decision.
WRITER = r"""
import sys, time, json
from pathlib import Path
from gitresearch.ledger import Ledger
from gitresearch.rebuild import sync_from_git
from gitresearch.store import Store

root = Path(sys.argv[1])
store = Store(root)
ledger = Ledger(store.state_dir / "ledger.sqlite")
store.clear_stale_locks()  # the loop does this right after taking the repository lock
if store.run("r") is None:
    store.create_run("r", store.head())
    ledger.ensure_run("r", store.head())
sync_from_git(store, ledger, only="r")
ledger.cancel_unfinished("r")
refs = store.run("r")
number = max(ledger.next_number("r"), max(refs.experiments, default=0) + 1)
print("ready", flush=True)
while True:
    parent = store.run("r").best
    ledger.add_experiment("r", number, parent=parent, proposer="sweep", hypothesis=f"try {number}")
    exp = store.commit_experiment("r", number, parent, {"notes.md": f"{number}\n".encode()}, f"try {number}", "", "sweep")
    ledger.transition("r", number, "committed", commit=exp.sha)
    mid = ledger.start_measurement("r", number, 0, "measure", exp.sha, "cpu0", None)
    ledger.finish_measurement(mid, "ok", metrics={"loss": 1.0 / number}, seconds=0.01, exit_code=0)
    runs = [{"seed": 0, "purpose": "measure", "status": "ok", "metrics": {"loss": 1.0 / number}, "pad": "x" * 20000}]
    store.write_note(exp.sha, {"experiment": number, "status": "accepted", "runs": runs})
    ledger.transition("r", number, "accepted", decision={"delta": -0.01})
    store.set_branch("gitresearch/r/best", exp.sha)
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
    ledger = Ledger(store.state_dir / "ledger.sqlite")
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
            assert notes[sha]["experiment"] == number and len(notes[sha]["runs"][0]["pad"]) == 20000
    assert repo.git("fsck", "--strict", "--no-dangling") == ""
    # rebuilding from git alone gives back every committed experiment with its measurements
    fresh = Ledger(Path(repo.root) / ".git" / "gitresearch" / "rebuilt.sqlite")
    sync_from_git(store, fresh)
    rebuilt = {e.number: e for e in fresh.experiments("r")}
    assert set(rebuilt) == set(refs.experiments)
    for number, sha in refs.experiments.items():
        assert rebuilt[number].commit == sha
        if sha in notes:
            assert rebuilt[number].status == "accepted"
            assert [m.metrics for m in fresh.measurements("r", number)] == [{"loss": 1.0 / number}]
    # and syncing the damaged-by-kills ledger converges to the same rows
    sync_from_git(store, ledger)
    synced = {e.number: (e.commit, e.status) for e in ledger.experiments("r") if e.commit is not None}
    assert synced == {n: (e.commit, e.status) for n, e in rebuilt.items()}
    assert json.loads(json.dumps(notes))  # notes are plain JSON all the way down
