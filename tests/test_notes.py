"""The git-note format: today's records round-trip, and runs written by older versions load.

`fixtures/schema1/` is a real run written by gitresearch 206c401 (schema 1, before the
note format had an owner), handed over as a git bundle; what that version printed for it
is kept beside it. Today's code must read it the same way, through every reader.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from gitresearch.ledger import Ledger
from gitresearch.notes import (
    Ablation,
    BaseNote,
    CandidateNote,
    Decision,
    ExperimentNote,
    Measurement,
    Rejection,
    RunNote,
    StatTest,
)
from gitresearch.rebuild import sync_from_git
from gitresearch.runview import detail, load_run
from gitresearch.store import Store
from tests.helpers.repos import GitRepo

FIXTURE = Path(__file__).parent / "fixtures" / "schema1"

MEASUREMENT = Measurement(
    seed=3,
    purpose="confirm",
    status="ok",
    metrics={"loss": 1.25, "seconds": 4.0},
    seconds=4.5,
    exit_code=0,
    slot="gpu0",
    log_path="/logs/3.log",
    commit="abc",
    finished=1000.0,
)


def test_every_record_round_trips() -> None:
    decision = Decision(
        status="accepted",
        reason="improves",
        delta=-0.5,
        improvement=0.5,
        gate=StatTest(passed=True, improvement=0.5, threshold=0.1, n=2, reason="gate"),
        test=StatTest(passed=True, improvement=0.5, threshold=0.3, n=2, reason="confirm"),
        noise=0.05,
        reapplied_from=4,
    )
    exp = ExperimentNote(
        run="r",
        experiment=7,
        parent="p",
        proposer="sweep",
        status="accepted",
        metric="loss",
        measurements=[MEASUREMENT],
        mean=1.25,
        decision=decision,
        proposal={"knobs": {"LR": 0.1}},
    )
    assert ExperimentNote.from_json(json.loads(json.dumps(exp.to_json()))) == exp
    run = RunNote(
        started=5.0,
        meta={"metric": "loss"},
        baseline=[MEASUREMENT],
        rejected=[Rejection(number=2, proposer="llm", violations=[{"rule": "forbidden-name"}])],
        status="finalized",
        llm={"usd": 0.5},
    )
    base = BaseNote(extra={"someone": "else"}).with_run("r", run)
    assert BaseNote.from_json(json.loads(json.dumps(base.to_json()))) == base
    cand = CandidateNote(
        run="r",
        rank=1,
        experiment=7,
        members=[5, 7],
        values=[1.0, 1.5],
        contribution=0.2,
        ablation=Ablation(commit="x", values=[1.4]),
    )
    assert CandidateNote.from_json(json.loads(json.dumps(cand.to_json()))) == cand
    # the three uses of one old key have three names now
    assert "measurements" in exp.to_json() and "by_run" in base.to_json() and "values" in cand.to_json()
    assert not {"runs"} & (exp.to_json().keys() | base.to_json().keys() | cand.to_json().keys())


@pytest.mark.parametrize(
    "junk",
    [None, [], "text", 3, {"runs": "x"}, {"measurements": [1, None, {"seed": "x"}]}, {"decision": []}],
)
def test_a_malformed_note_reads_as_defaults_never_an_exception(junk: object) -> None:
    exp = ExperimentNote.from_json(junk)
    assert exp is None or all(isinstance(m, Measurement) for m in exp.measurements)
    assert isinstance(BaseNote.from_json(junk), BaseNote)
    assert CandidateNote.from_json(junk) is None or isinstance(CandidateNote.from_json(junk), CandidateNote)
    bad = Measurement.from_json({"status": "exploded", "purpose": "?", "metrics": {"loss": "NaN", "x": 1}})
    assert bad is not None and bad.status == "failed" and bad.metrics == {"x": 1.0}


def clone_of_the_old_run(tmp_path: Path) -> GitRepo:
    root = tmp_path / "colleague"
    subprocess.run(["git", "clone", "-q", str(FIXTURE / "run.bundle"), str(root)], check=True)
    repo = GitRepo(root)
    repo.git(
        "fetch",
        "-q",
        "origin",
        "refs/heads/gitresearch/*:refs/heads/gitresearch/*",
        "refs/notes/gitresearch:refs/notes/gitresearch",
    )
    return repo


def test_a_schema1_run_reports_as_it_did(tmp_path: Path) -> None:
    repo = clone_of_the_old_run(tmp_path)
    for fmt, expected in (("md", "report.md"), ("tsv", "report.tsv")):
        done = repo.gitresearch("report", "old", "--format", fmt)
        assert done.returncode == 0, done.stderr
        assert done.stdout == (FIXTURE / expected).read_text()
    status = json.loads(repo.gitresearch("status", "old", "--json").stdout)
    assert status["experiments"] == {"accepted": 4, "discarded": 10} and status["best_experiment"] == 8


def test_a_schema1_run_opens_in_the_review_model(tmp_path: Path) -> None:
    repo = clone_of_the_old_run(tmp_path)
    store = Store(repo.root)
    ledger = Ledger(store.ledger_path)
    assert sync_from_git(store, ledger) == ["old"]
    view = load_run(store, ledger, "old")
    assert view.base_runs == 3 and len(view.experiments) == 14 and len(view.candidates) == 4
    assert [c.rank for c in view.candidates] == [1, 2, 3, 4] and all(c.runs == 3 for c in view.candidates)
    best = view.experiment(8)
    assert best is not None and best.status == "accepted" and best.runs == 3  # 1 paired + 2 fresh seeds
    info = detail(store, ledger, view, 8)
    assert {m.purpose for m in info.measurements} == {"measure", "confirm"}
    assert info.decision["status"] == "accepted" and info.decision["test"]["n"] == 2
    assert "LR" in info.diff
