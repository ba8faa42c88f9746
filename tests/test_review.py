"""`gitresearch review`, driven by Textual's Pilot on real runs in real repositories.

A real run (`gitresearch start` on a small benchmark) is made once per module; a generated
run (branches and notes only, deterministic commit ids) backs the snapshots and the
fetched-run test.
"""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console
from textual.binding import Binding
from textual.pilot import Pilot
from textual.widgets import Static, TabbedContent

from gitresearch.ledger import Ledger
from gitresearch.rebuild import sync_from_git
from gitresearch.runview import load_run
from gitresearch.store import Store
from gitresearch.testing.fakerun import write_fake_run
from gitresearch.tui.app import ReviewApp
from gitresearch.tui.chart import chart
from gitresearch.tui.leaderboard import Heading, Leaderboard
from gitresearch.tui.screens import ChartScreen, ConfirmPick, DetailScreen, HelpScreen
from tests.helpers.repos import GitRepo, make_repo
from tests.helpers.runs import bench_repo, ledger_of, slow_repo, start_in_background

SIZE = (140, 40)


def drive(app: ReviewApp, script: Callable[[Pilot[None]], Awaitable[None]]) -> None:
    async def main() -> None:
        async with app.run_test(size=SIZE) as pilot:
            await pilot.pause()
            await script(pilot)

    asyncio.run(main())


async def until(pilot: Pilot[None], condition: Callable[[], bool], seconds: float = 10.0) -> None:
    """Let the app run until `condition` holds (a modal's callback runs a moment after the key)."""
    end = time.time() + seconds
    while not condition() and time.time() < end:
        await pilot.pause(0.05)
    assert condition()


def text_of(widget: Static) -> str:
    console = Console(width=200, record=True, color_system=None)
    content = (
        widget.content if isinstance(widget, Static) and not isinstance(widget, Heading) else widget.render()
    )
    console.print(content)
    return console.export_text()


@pytest.fixture(scope="module")
def real_run(tmp_path_factory: pytest.TempPathFactory) -> GitRepo:
    repo = bench_repo(tmp_path_factory.mktemp("real") / "repo", experiments=10, jobs=2)
    done = repo.gitresearch("start", "--name", "r")
    assert done.returncode == 0, done.stderr
    return repo


@pytest.fixture
def copy_of_run(real_run: GitRepo, tmp_path: Path) -> GitRepo:
    target = tmp_path / "repo"
    shutil.copytree(real_run.root, target, symlinks=True)
    return GitRepo(target)


@pytest.fixture
def fake_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[GitRepo]:
    monkeypatch.setenv("GIT_AUTHOR_DATE", "1700000000 +0000")
    monkeypatch.setenv("GIT_COMMITTER_DATE", "1700000000 +0000")
    repo = make_repo(tmp_path / "fake", {"params.py": "LR = 0.01\n"})
    store = Store(repo.root)
    write_fake_run(store, "r", 40)
    sync_from_git(store, Ledger(store.ledger_path))
    yield repo


def test_leaderboard_lists_every_experiment_with_its_numbers(real_run: GitRepo) -> None:
    app = ReviewApp(real_run.root, "r")
    experiments = ledger_of(real_run).experiments("r")

    async def script(pilot: Pilot[None]) -> None:
        board = app.query_one(Leaderboard)
        assert {r.number for r in board.rows} == {e.number for e in experiments}
        ranked = [r for r in board.rows if r.rank is not None]
        assert [r.rank for r in ranked] == list(range(1, len(ranked) + 1))  # sorted by rank
        means = [r.mean for r in ranked if r.mean is not None]
        assert means == sorted(means)  # lower loss is better
        summary = text_of(app.query_one("#summary", Static))
        assert "run r" in summary and "loss, lower is better" in summary
        assert f"showing {len(experiments)} of {len(experiments)}" in summary
        best = next(r for r in board.rows if r.status == "accepted")
        assert best.delta_parent is not None and best.delta_parent < 0

    drive(app, script)


def test_sorting_filtering_and_search(real_run: GitRepo) -> None:
    app = ReviewApp(real_run.root, "r")

    async def script(pilot: Pilot[None]) -> None:
        board = app.query_one(Leaderboard)
        await pilot.press("s")  # rank -> number
        assert board.sort_key == "number"
        assert [r.number for r in board.rows] == sorted(r.number for r in board.rows)
        await pilot.press("o")
        assert board.reverse and [r.number for r in board.rows] == sorted(
            (r.number for r in board.rows), reverse=True
        )
        # A click on the "mean ± spread" title sorts by it; a second click reverses.
        heading = app.query_one(Heading)
        x = 2 + sum(w + 1 for w in board.widths(board.scrollable_content_region.width)[:3]) + 3
        await pilot.click(Heading, offset=(x, 0))
        assert board.sort_key == "mean" and not board.reverse
        measured = [r.mean for r in board.rows if r.mean is not None]
        assert measured == sorted(measured)
        await pilot.click(Heading, offset=(x, 0))
        assert board.reverse
        assert "▼" in text_of(heading)
        await pilot.press("f")  # accepted only
        assert board.status_filter == "accepted"
        assert board.rows and all(r.status == "accepted" for r in board.rows)
        assert "filter: accepted" in text_of(app.query_one("#summary", Static))
        for _ in range(
            len(["all", "accepted", "discarded", "failed", "rejected", "running", "cancelled"]) - 1
        ):
            await pilot.press("f")
        assert board.status_filter == "all"
        await pilot.press("slash")
        await pilot.press(*"momentum")
        assert board.search == "momentum"
        assert board.rows and all("momentum" in r.hypothesis.lower() for r in board.rows)
        await pilot.press("enter", "escape")
        assert board.search == "" and len(board.rows) == len(board.all_rows)

    drive(app, script)


def test_detail_shows_diff_evidence_and_log(real_run: GitRepo) -> None:
    app = ReviewApp(real_run.root, "r")

    async def script(pilot: Pilot[None]) -> None:
        board = app.query_one(Leaderboard)
        await pilot.press("s", "home")  # by number: #0001 first
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, DetailScreen))  # read in a worker
        screen = app.screen
        assert isinstance(screen, DetailScreen)
        row = screen.info.experiment
        assert row.number == 1
        assert screen.info.branch == "gitresearch/r/0001"
        diff = screen.info.diff
        assert diff.startswith("diff --git a/bench.py b/bench.py") and "\n-" in diff and "\n+" in diff
        evidence = text_of(screen.query_one("#evidence-text", Static))
        assert "decision:" in evidence and "seed" in evidence
        assert str(row.commit) in text_of(screen.query_one("#detail-head", Static))
        await pilot.press("l")
        assert screen.query_one(TabbedContent).active == "log"
        assert "loss:" in text_of(screen.query_one("#log-text", Static))
        await pilot.press("e")
        assert screen.query_one(TabbedContent).active == "evidence"
        await pilot.press("s")  # the leaderboard's keys do nothing here
        assert board.sort_key == "number"
        await pilot.press("escape")
        assert not isinstance(app.screen, DetailScreen)

    drive(app, script)


def test_candidates_chart_copy_and_help(real_run: GitRepo) -> None:
    app = ReviewApp(real_run.root, "r")
    store = Store(real_run.root)
    refs = store.run("r")
    assert refs is not None and refs.candidates

    async def script(pilot: Pilot[None]) -> None:
        await pilot.press("c")
        text = text_of(app.query_one("#candidates-text", Static))
        assert "gitresearch/r/candidates, ranked" in text
        assert refs.candidates is not None
        for line in app.view.candidates:
            assert line.commit[:12] in text
        await pilot.press("c")
        assert app.query_one(Leaderboard).display
        await pilot.press("g")
        assert isinstance(app.screen, ChartScreen)
        chart_text = text_of(app.screen.query_one("#chart", Static))
        assert "●" in chart_text and "━" in chart_text and "best so far" in chart_text
        await pilot.press("escape")
        row = app.query_one(Leaderboard).current()
        assert row is not None and row.commit
        await pilot.press("y")
        assert app.clipboard == row.commit
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        help_text = text_of(app.screen.query_one("#help-text", Static))
        for binding in ReviewApp.BINDINGS:
            assert isinstance(binding, Binding)
            key = binding.key
            first = {"question_mark": "?", "slash": "/", "escape": "esc", "m,space": "m or space"}.get(
                key, key
            )
            assert first.split(",")[0] in help_text, key
        await pilot.press("escape")
        assert not isinstance(app.screen, HelpScreen)

    drive(app, script)


def test_mark_and_pick_onto_the_current_branch(copy_of_run: GitRepo) -> None:
    repo = copy_of_run
    head_before = repo.git("rev-parse", "HEAD").strip()
    app = ReviewApp(repo.root, "r")

    async def script(pilot: Pilot[None]) -> None:
        board = app.query_one(Leaderboard)
        await pilot.press("f")  # accepted
        first = board.current()
        assert first is not None
        await pilot.press("m")
        assert board.marked == {first.number}
        await pilot.press("m")
        assert board.marked == set()
        await pilot.press("m")
        await pilot.press("p")
        await until(pilot, lambda: isinstance(app.screen, ConfirmPick))
        assert isinstance(app.screen, ConfirmPick)
        targets = app.screen.targets
        assert [t.experiment for t in targets] == [first.number]
        shown = text_of(app.screen.query_one("#confirm-text", Static))
        assert targets[0].commit[:12] in shown and "onto main" in shown
        await pilot.press("n")
        assert repo.git("rev-parse", "HEAD").strip() == head_before
        # A dirty checkout is refused, and nothing changes.
        repo.write("bench.py", repo.read("bench.py") + "# local edit\n")
        await pilot.press("p")
        await until(pilot, lambda: isinstance(app.screen, ConfirmPick))
        await pilot.press("y")
        await until(pilot, lambda: any("uncommitted changes" in m for m in app.said))
        assert repo.git("rev-parse", "HEAD").strip() == head_before
        repo.git("checkout", "--", "bench.py")
        await pilot.press("p")
        await until(pilot, lambda: isinstance(app.screen, ConfirmPick))
        await pilot.press("y")
        await until(pilot, lambda: f"picked #{first.number:04d} onto main" in app.said[-1])
        assert repo.git("rev-parse", "HEAD~1").strip() == head_before
        assert board.marked == set()

    drive(app, script)
    assert repo.git("status", "--porcelain") == ""


def test_follows_a_run_that_is_still_going(tmp_path: Path) -> None:
    repo = slow_repo(tmp_path / "repo", experiments=6, pause=0.4)
    proc = start_in_background(repo, "live", tmp_path / "start")
    try:
        ledger_path = repo.root / ".git" / "gitresearch" / "ledger.sqlite"
        deadline = time.time() + 60
        while time.time() < deadline:
            if ledger_path.exists() and Store(repo.root).run("live") is not None:
                break
            time.sleep(0.2)
        app = ReviewApp(repo.root, "live", poll=0.2)

        async def script(pilot: Pilot[None]) -> None:
            board = app.query_one(Leaderboard)
            seen = len(board.all_rows)
            end = time.time() + 60
            while time.time() < end and (app.reloads == 0 or len(board.all_rows) <= seen):
                await pilot.press("down")  # keys keep working while it reloads
                await pilot.pause(0.2)
            assert app.reloads > 0 and len(board.all_rows) > seen

        drive(app, script)
    finally:
        proc.wait(timeout=120)
    assert proc.returncode == 0


def test_opens_a_run_fetched_from_another_machine(real_run: GitRepo, tmp_path: Path) -> None:
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", str(real_run.root), str(clone)], check=True)
    subprocess.run(
        [
            "git",
            "fetch",
            "-q",
            "origin",
            "refs/heads/gitresearch/*:refs/heads/gitresearch/*",
            "refs/notes/gitresearch:refs/notes/gitresearch",
        ],
        cwd=clone,
        check=True,
    )
    before = time.time()
    done = subprocess.run(
        [sys.executable, "-m", "gitresearch", "report", "r", "--format", "tsv"],
        cwd=clone,
        capture_output=True,
        text=True,
        check=True,
    )
    assert done.stdout  # the ledger was rebuilt from branches and notes
    # ...with the measurements' times from the notes, not the time of the rebuild.
    rebuilt = Ledger(clone / ".git/gitresearch/ledger.sqlite").measurements("r")
    assert rebuilt and all(m.finished is not None and m.finished < before for m in rebuilt)
    app = ReviewApp(clone, "r")
    original = load_run(Store(real_run.root), ledger_of(real_run), "r")

    async def script(pilot: Pilot[None]) -> None:
        board = app.query_one(Leaderboard)
        assert sorted((r.number, r.status, r.mean) for r in board.all_rows) == sorted(
            (r.number, r.status, r.mean) for r in original.experiments
        )
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, DetailScreen))
        assert isinstance(app.screen, DetailScreen) and app.screen.info.diff

    drive(app, script)


def test_review_command_errors_are_clear(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "empty", {"a.py": "A = 1\n"})
    done = repo.gitresearch("review")
    assert done.returncode == 2 and "no gitresearch run in this repository yet" in done.stderr
    assert "Traceback" not in done.stderr
    done = repo.gitresearch("review", "nope")
    assert done.returncode == 2 and 'no run named "nope"' in done.stderr


def test_chart_of_a_generated_run(fake_run: GitRepo) -> None:
    store = Store(fake_run.root)
    view = load_run(store, Ledger(store.ledger_path), "r")
    lines = chart(view, 80, 12)
    assert len(lines) == 14 and all(len(line) <= 80 for line in lines)
    measured = [r.number for r in view.experiments if r.mean is not None]
    assert lines[-1].strip().startswith(f"#{min(measured)}") and lines[-1].strip().endswith(
        f"#{max(measured)}"
    )
    assert sum(line.count("●") for line in lines) == sum(r.status == "accepted" for r in view.experiments)


@pytest.mark.parametrize(
    ("name", "press"),
    [("leaderboard", []), ("detail", ["s", "home", "enter"]), ("help", ["question_mark"]), ("chart", ["g"])],
)
def test_snapshots(fake_run: GitRepo, snap_compare: Any, name: str, press: list[str]) -> None:
    app = ReviewApp(fake_run.root, "r", poll=3600)

    async def settle(pilot: Pilot[None]) -> None:
        await pilot.press(*press)
        await app.workers.wait_for_complete()  # the detail is read in a worker
        await pilot.pause()

    assert snap_compare(app, run_before=settle, terminal_size=(120, 32)), name
