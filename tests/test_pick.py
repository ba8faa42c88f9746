"""`gitresearch pick`: one order everywhere, changes already there skipped, a conflict undone whole.

The run is made in-process with the scripted executor (seconds, not a benchmark), then
picked the way a user does, through the command line, in the user's own checkout.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from gitresearch.finalize import finalize
from gitresearch.pick import targets
from gitresearch.runview import load_run
from tests.helpers.repos import GitRepo
from tests.helpers.search import ScriptedProposer, harness, knob_repo, quadratic


@pytest.fixture
def finalized(tmp_path: Path) -> GitRepo:
    """A run `p` with two accepted changes (MOMENTUM ranks first, LR second) and one discarded."""
    repo = knob_repo(tmp_path / "r", experiments=3)
    h = harness(repo, quadratic)
    search = h.search("p", ScriptedProposer([{"LR": "0.1"}, {"WIDTH": "16"}, {"MOMENTUM": "0.9"}]))
    search.start()
    assert search.loop().accepted == [1, 3]
    ranked = finalize(store=h.ws.store, ledger=h.ws.ledger, executor=h.executor, config=h.ws.config, run="p")
    assert [c.experiment for c in ranked] == [3, 1]
    h.ws.ledger.close()
    return repo


def subjects(repo: GitRepo, since: str) -> list[str]:
    return repo.git("log", "--reverse", "--format=%s", f"{since}..HEAD").splitlines()


def no_pick_in_progress(repo: GitRepo) -> bool:
    return not (repo.root / ".git" / "CHERRY_PICK_HEAD").exists() and repo.git("status", "--porcelain") == ""


def test_the_cli_and_the_review_pick_in_one_order(finalized: GitRepo) -> None:
    repo = finalized
    head = repo.git("rev-parse", "HEAD").strip()
    # asked for in the "wrong" order, with a non-candidate among them
    done = repo.gitresearch("pick", "2", "1", "3", "--run", "p")
    assert done.returncode == 0, done.stderr
    assert subjects(repo, head) == ["Set MOMENTUM to 0.9", "Set LR to 0.1", "Set WIDTH to 16"]
    assert "picked #0003" in done.stdout.splitlines()[0]
    # the review asks the same function with its marks: the same order
    from gitresearch.ledger import Ledger
    from gitresearch.store import Store

    store = Store(repo.root)
    summary = load_run(store, Ledger(store.ledger_path), "p")
    assert [t.experiment for t in targets(summary, {1, 2, 3})] == [3, 1, 2]
    assert [t.experiment for t in targets(summary, [2], top=1)] == [3, 2]


def test_picking_what_is_already_there_skips_it_and_says_so(finalized: GitRepo) -> None:
    repo = finalized
    head = repo.git("rev-parse", "HEAD").strip()
    assert repo.gitresearch("pick", "--top", "1", "--run", "p").returncode == 0
    done = repo.gitresearch("pick", "--top", "2", "--run", "p")
    assert done.returncode == 0, done.stderr
    assert "skipped #0003 (already in main)" in done.stdout and "picked #0001" in done.stdout
    assert subjects(repo, head) == ["Set MOMENTUM to 0.9", "Set LR to 0.1"]
    again = repo.gitresearch("pick", "--top", "2", "--run", "p")
    assert again.returncode == 0 and "nothing to pick" in again.stdout
    assert len(subjects(repo, head)) == 2 and no_pick_in_progress(repo)


def test_a_conflict_undoes_the_whole_pick_and_says_what_happened(finalized: GitRepo) -> None:
    repo = finalized
    # the user changed the LR line on their branch meanwhile
    repo.write("bench.py", repo.read("bench.py").replace("LR = 0.01", "LR = 0.02"))
    head = repo.commit("tune LR by hand")
    done = repo.gitresearch("pick", "--top", "2", "--run", "p")
    assert done.returncode == 2
    assert "#0001 (Set LR to 0.1) does not apply to main" in done.stderr
    assert "the earlier picks (#0003) were undone too" in done.stderr and "Traceback" not in done.stderr
    assert repo.git("rev-parse", "HEAD").strip() == head and no_pick_in_progress(repo)
    assert "LR = 0.02" in repo.read("bench.py")


def test_pick_refuses_a_dirty_checkout_and_unknown_numbers(finalized: GitRepo) -> None:
    repo = finalized
    missing = repo.gitresearch("pick", "99", "--run", "p")
    assert missing.returncode == 2 and "no committed experiment #0099" in missing.stderr
    repo.write("bench.py", repo.read("bench.py") + "# mine\n")
    dirty = repo.gitresearch("pick", "--top", "1", "--run", "p")
    assert dirty.returncode == 2 and "uncommitted changes" in dirty.stderr
    assert "# mine" in repo.read("bench.py")
