"""The git store: runs, plumbing commits, notes, and the user's checkout left untouched."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from gitresearch.boundaries.resolve import load_boundaries
from gitresearch.errors import UsageError
from gitresearch.execute.base import Job, Slot, Succeeded
from gitresearch.execute.local import LocalExecutor, PoolSettings
from gitresearch.ledger import Ledger
from gitresearch.notes import Decision
from gitresearch.rebuild import sync_from_git
from gitresearch.store import Store, StoreError
from tests.helpers.repos import TRAIN_PY, GitRepo, make_repo, snapshot


def test_run_branches_and_experiment_commit(repo: GitRepo) -> None:
    store = Store(repo.root)
    base = store.head()
    store.create_run("r1", base)
    new = TRAIN_PY.replace("3e-4", "1e-3").encode()
    exp = store.commit_experiment(
        "r1",
        1,
        base,
        {"train.py": new},
        "Raise the learning rate",
        "The run is short.\nA higher rate helps.",
        "sweep",
    )
    assert exp.branch == "gitresearch/r1/0001"
    assert repo.git("rev-parse", "gitresearch/r1/0001").strip() == exp.sha
    assert repo.git("rev-parse", "gitresearch/r1/0001^").strip() == base
    assert repo.git("rev-parse", "gitresearch/r1/base").strip() == base
    assert repo.git("rev-parse", "gitresearch/r1/best").strip() == base
    message = repo.git("log", "-1", "--format=%B", exp.sha)
    assert message.startswith("Raise the learning rate\n\nThe run is short.\nA higher rate helps.\n")
    trailers = repo.git("interpret-trailers", "--parse", input=message)
    assert trailers == "Gitresearch-Run: r1\nGitresearch-Experiment: 0001\nGitresearch-Proposer: sweep\n"
    assert repo.git("show", f"{exp.sha}:train.py").encode() == new
    assert repo.git("diff", "--name-only", base, exp.sha).split() == ["train.py"]
    assert repo.git("fsck", "--strict") == ""
    assert store.experiment("r1", 1) == exp
    store.set_branch("gitresearch/r1/best", exp.sha)
    (refs,) = store.runs()
    assert refs.name == "r1" and refs.best == exp.sha and refs.experiments == {1: exp.sha}


def test_nested_paths_and_missing_files(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "r", {"a/b/c.py": "x = 1\n", "a/d.py": "y = 2\n", "e.txt": "e\n"})
    store = Store(repo.root)
    base = store.head()
    store.create_run("n", base)
    exp = store.commit_experiment("n", 1, base, {"a/b/c.py": b"x = 3\n", "e.txt": b"E\n"}, "h", "", "llm")
    assert repo.git("diff", "--name-only", base, exp.sha).split() == ["a/b/c.py", "e.txt"]
    assert repo.git("show", f"{exp.sha}:a/d.py") == "y = 2\n"
    with pytest.raises(StoreError, match="does not exist"):
        store.commit_experiment("n", 2, base, {"a/new.py": b""}, "h", "", "llm")
    with pytest.raises(StoreError, match="does not exist"):
        store.commit_experiment("n", 2, base, {"zz/new.py": b""}, "h", "", "llm")


def test_run_names(repo: GitRepo) -> None:
    store = Store(repo.root)
    store.create_run("ok-name_1.2", store.head())
    with pytest.raises(UsageError, match="already exists"):
        store.create_run("ok-name_1.2", store.head())
    for bad in ["", "has space", "a/b", "x..y", "-lead", "x.lock", "a" * 65]:
        with pytest.raises(UsageError, match="not usable as a branch name"):
            store.create_run(bad, store.head())


def test_notes_round_trip_with_fanout(repo: GitRepo) -> None:
    store = Store(repo.root)
    base = store.head()
    store.create_run("r", base)
    shas = []
    for i in range(1, 301):  # enough notes for git to fan the notes tree out
        exp = store.commit_experiment("r", i, base, {"notes.md": f"n{i}\n".encode()}, f"h{i}", "", "sweep")
        shas.append(exp.sha)
    for i, sha in enumerate(shas):
        store.write_note(sha, {"i": i})
    tree = repo.git("ls-tree", "--name-only", "refs/notes/gitresearch")
    assert all(len(name) == 2 for name in tree.split()), "git did not fan out; the test lost its point"
    assert store.read_note(shas[7]) == {"i": 7}
    assert store.read_note(base) is None
    notes = store.all_notes()
    assert len(notes) == 300 and notes[shas[299]] == {"i": 299}
    store.write_note(shas[7], {"i": "again"})
    assert store.read_note(shas[7]) == {"i": "again"}
    assert repo.git("notes", "--ref", "gitresearch", "show", shas[7]).strip().startswith("{")


def test_user_checkout_is_bit_for_bit_identical(repo: GitRepo, tmp_path: Path) -> None:
    repo.write(".gitignore", "ignored/\n")
    repo.commit("ignore")
    repo.write("train.py", TRAIN_PY + "# uncommitted edit\n")
    repo.write("notes.md", "# staged\n")
    repo.git("add", "notes.md")
    repo.write("untracked.txt", "mine\n")
    repo.write("ignored/cache.bin", "cache\n")
    status_before = repo.git("status", "--porcelain=v2", "--untracked-files=all", "--ignored")
    before = snapshot(repo)  # after `git status`, which may refresh the index's stat data

    store = Store(repo.root)
    base = store.head()
    store.create_run("r", base)
    exp = store.commit_experiment(
        "r", 1, base, {"train.py": TRAIN_PY.replace("3e-4", "2e-4").encode()}, "h", "r", "sweep"
    )
    store.write_note(exp.sha, {"status": "measured"})
    store.set_branch("gitresearch/r/best", exp.sha)
    boundaries = load_boundaries(repo.root / "boundaries.toml", repo.root)
    executor = LocalExecutor(
        store,
        boundaries.config,
        [Slot(0, "cpu0", "")],
        PoolSettings(store.state_dir, repo.root, ("prepare.py",), grace=0.5),
    )
    executor.submit(Job("r", 1, exp.sha, 0))
    (result,) = executor.wait_any(timeout=60)
    executor.close()
    assert isinstance(result, Succeeded), result
    assert result.metrics["val_loss"] == 1.0

    after = snapshot(repo)
    assert after == before
    assert repo.git("status", "--porcelain=v2", "--untracked-files=all", "--ignored") == status_before


def test_rebuild_from_git_on_another_machine(repo: GitRepo, tmp_path: Path) -> None:
    store = Store(repo.root)
    base = store.head()
    store.create_run("r", base)
    run_note = {
        "runs": {
            "r": {
                "started": 100.0,
                "meta": {"proposer": "sweep"},
                "baseline": [
                    {
                        "seed": 0,
                        "purpose": "baseline",
                        "status": "ok",
                        "metrics": {"val_loss": 2.0},
                        "seconds": 1.0,
                        "exit_code": 0,
                    }
                ],
                "rejected": [
                    {
                        "number": 2,
                        "proposer": "llm",
                        "hypothesis": "escape",
                        "violations": [{"rule": "forbidden-name"}],
                    }
                ],
            }
        }
    }
    store.write_note(base, run_note)
    one = store.commit_experiment("r", 1, base, {"notes.md": b"1\n"}, "first", "why", "sweep")
    store.write_note(
        one.sha,
        {
            "status": "accepted",
            "decision": {"delta": -0.1, "reason": "beats noise"},
            "runs": [
                {
                    "seed": 0,
                    "purpose": "measure",
                    "status": "ok",
                    "metrics": {"val_loss": 1.9},
                    "seconds": 1.0,
                    "exit_code": 0,
                },
                {
                    "seed": 1,
                    "purpose": "confirm",
                    "status": "ok",
                    "metrics": {"val_loss": 1.91},
                    "seconds": 1.0,
                    "exit_code": 0,
                },
            ],
        },
    )
    three = store.commit_experiment(
        "r", 3, one.sha, {"notes.md": b"3\n"}, "third", "", "llm"
    )  # never measured
    store.set_branch("gitresearch/r/best", one.sha)

    clone = tmp_path / "colleague"
    subprocess.run(["git", "clone", "-q", str(repo.root), str(clone)], check=True)
    subprocess.run(
        [
            "git",
            "-C",
            str(clone),
            "fetch",
            "-q",
            "origin",
            "refs/heads/gitresearch/*:refs/heads/gitresearch/*",
            "refs/notes/gitresearch:refs/notes/gitresearch",
        ],
        check=True,
    )
    other = Store(clone)
    ledger = Ledger(other.ledger_path)
    assert sync_from_git(other, ledger) == ["r"]
    run = ledger.run("r")
    assert run is not None and run.base == base and run.best == one.sha and run.meta["proposer"] == "sweep"
    rows = {e.number: e for e in ledger.experiments("r")}
    assert rows[1].status == "accepted" and rows[1].hypothesis == "first" and rows[1].rationale == "why"
    assert rows[1].decision == Decision(delta=-0.1, reason="beats noise") and rows[1].parent == base
    assert rows[2].status == "rejected" and rows[2].violations == [{"rule": "forbidden-name"}]
    assert rows[3].status == "committed" and rows[3].commit == three.sha and rows[3].proposer == "llm"
    measurements = ledger.measurements("r", 1)
    assert [(m.seed, m.purpose, m.metrics["val_loss"]) for m in measurements] == [
        (0, "measure", 1.9),
        (1, "confirm", 1.91),
    ]
    assert [m.metrics for m in ledger.measurements("r", 0)] == [{"val_loss": 2.0}]
    # syncing twice changes nothing
    sync_from_git(other, ledger)
    assert len(ledger.measurements("r")) == 3 and len(ledger.experiments("r")) == 3
