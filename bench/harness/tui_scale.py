"""The review on a big run: time to first paint and to re-sort 10,000 experiments.

Generates a run the way another machine would hand it over (branches and notes only, one
commit per experiment, written with `git fast-import`), rebuilds the ledger from it (what
opening a fetched run costs, printed too), then opens `ReviewApp` headless at 160x48 and
times the first paint, a re-sort (the `s` key), a reverse sort, a jump to the last row, a
status filter and a search.
Target (issue 7): under one second for the first paint and for a re-sort.
Run: `python bench/harness/tui_scale.py [--n 10000]`.
"""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import tempfile
import time
from pathlib import Path

from gitresearch.ledger import Ledger
from gitresearch.rebuild import sync_from_git
from gitresearch.store import Store
from gitresearch.testing.fakerun import write_fake_run
from gitresearch.tui.app import ReviewApp
from gitresearch.tui.leaderboard import Leaderboard

RUN = "scale"


def generate(root: Path, n: int) -> None:
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    (root / "params.py").write_text("LR = 0.01\n")
    subprocess.run(["git", "add", "-A"], cwd=root, check=True)
    subprocess.run(
        ["git", "-c", "user.name=bench", "-c", "user.email=bench@invalid", "commit", "-qm", "base"],
        cwd=root,
        check=True,
    )
    write_fake_run(Store(root), RUN, n)


async def measure(root: Path) -> dict[str, float]:
    times: dict[str, float] = {}
    start = time.perf_counter()
    app = ReviewApp(root, RUN, poll=3600)
    async with app.run_test(size=(160, 48)) as pilot:
        await pilot.pause()
        times["first paint"] = time.perf_counter() - start
        board = app.query_one(Leaderboard)
        for label, keys in (
            ("re-sort (s: by #)", ["s"]),
            ("reverse sort (S then s)", ["S", "s"]),
            ("jump to the last row (end)", ["end"]),
            ("filter by status (f)", ["f"]),
            ("search (/ then 4 characters)", ["escape", "slash", "0", ".", "0", "0"]),
        ):
            t = time.perf_counter()
            for key in keys:
                await pilot.press(key)
            await pilot.pause()
            times[label] = time.perf_counter() - t
        times["rows shown after the search"] = float(len(board.rows))
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--n", type=int, default=10_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "repo"
        t = time.perf_counter()
        generate(root, args.n)
        print(f"generated {args.n} experiments with notes in {time.perf_counter() - t:.1f} s")
        store = Store(root)
        ledger = Ledger(store.ledger_path)
        t = time.perf_counter()
        sync_from_git(store, ledger)
        print(
            f"ledger rebuilt from branches and notes (opening a fetched run): {time.perf_counter() - t:.1f} s"
        )
        ledger.close()
        for label, value in asyncio.run(measure(root)).items():
            print(f"{label}: {value:.0f}" if label.startswith("rows") else f"{label}: {value:.3f} s")


if __name__ == "__main__":
    main()
