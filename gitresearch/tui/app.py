"""`gitresearch review`: browse a run and cherry-pick its winners, in the terminal.

The app draws what the headless core returns: `runview` (the run, one experiment in
full), `pick` (what a pick takes, and the pick), `tui.chart` (the progress chart). Work
that reads git or files (loading the run, an experiment's diff and logs, a pick) runs in
worker threads, each with its own connections, and comes back as a message from
`tui.messages`; widgets are only touched on the UI thread. While `gitresearch start`
runs in the same repository the view reloads on its own: a cheap fingerprint query
every `poll` seconds, and a reload in a worker when it changes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

from rich.console import RenderableType
from rich.table import Table
from rich.text import Text
from textual import work
from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.widgets import Footer, Input, Static

from gitresearch.errors import GitResearchError
from gitresearch.ledger import Ledger
from gitresearch.pick import Target, pick, targets
from gitresearch.runview import ExperimentSummary, detail, fingerprint, load_run
from gitresearch.store import Store
from gitresearch.tui.leaderboard import COLUMNS, Heading, Leaderboard
from gitresearch.tui.messages import DetailLoaded, Failed, PickEnded, PickReady, RunReloaded
from gitresearch.tui.screens import ChartScreen, ConfirmPick, DetailScreen, HelpScreen
from gitresearch.tui.style import FILTERS, num, spread


def open_readers(root: Path) -> tuple[Store, Ledger]:
    store = Store(root)
    return store, Ledger(store.ledger_path)


class ReviewApp(App[None]):
    TITLE = "gitresearch review"
    CSS_PATH = "review.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("q", "quit", "quit"),
        Binding("question_mark", "help", "help"),
        Binding("enter", "open", "open"),
        Binding("s", "sort(1)", "sort"),
        Binding("S", "sort(-1)", "sort back", show=False),
        Binding("o", "reverse", "reverse", show=False),
        Binding("f", "filter", "filter"),
        Binding("slash", "search", "search"),
        Binding("c", "candidates", "candidates"),
        Binding("g", "chart", "chart"),
        Binding("m,space", "mark", "mark"),
        Binding("p", "pick", "pick"),
        Binding("y", "copy_commit", "copy id"),
        Binding("r", "reload", "reload", show=False),
        Binding("escape", "clear", "clear", show=False),
    ]

    def __init__(self, root: Path, run: str, *, poll: float = 1.0) -> None:
        super().__init__()
        self.root = root
        self.run_name = run
        self.poll = poll
        self.store, self.ledger = open_readers(root)
        self.view = load_run(self.store, self.ledger, run)
        self.marker = fingerprint(self.ledger, run)
        self.showing_candidates = False
        self.reloads = 0
        self.filter_index = 0
        self.said: list[str] = []  # every message shown, oldest first

    def notify(self, message: str, **kwargs: Any) -> None:
        self.said.append(message)
        super().notify(message, **kwargs)

    def compose(self) -> ComposeResult:
        yield Static(id="summary")
        yield Input(
            placeholder="search: text, #number, proposer or commit; enter keeps it, esc clears", id="search"
        )
        board = Leaderboard(id="board")
        yield Heading(board, id="heading")
        yield board
        with VerticalScroll(id="candidates"):
            yield Static(id="candidates-text")
        yield Footer()

    def on_mount(self) -> None:
        board = self.query_one(Leaderboard)
        board.direction = self.view.direction
        board.set_rows(self.view.experiments)
        board.focus()
        self._summary()
        self.set_interval(self.poll, self._poll)

    # -- live --------------------------------------------------------------------------------

    def _poll(self) -> None:
        try:
            marker = fingerprint(self.ledger, self.run_name)
        except Exception:  # the ledger being rebuilt this instant: try again next tick
            return
        if marker != self.marker:
            self.marker = marker
            self._reload()

    @work(thread=True, exclusive=True, group="reload")
    def _reload(self) -> None:
        store, ledger = open_readers(self.root)  # a thread's own connections
        try:
            self.post_message(RunReloaded(load_run(store, ledger, self.run_name)))
        except GitResearchError as e:
            self.post_message(Failed(str(e)))
        finally:
            ledger.close()

    def on_run_reloaded(self, message: RunReloaded) -> None:
        self.view = message.summary
        self.reloads += 1
        self.query_one(Leaderboard).set_rows(self.view.experiments)
        self._summary()
        if self.showing_candidates:
            self._render_candidates()

    def _summary(self) -> None:
        v = self.view
        board = self.query_one(Leaderboard)
        text = Text()
        text.append(f"run {v.run} ", style="bold")
        text.append(f"({v.status})  ")
        if v.unsandboxed:
            text.append("NOT SANDBOXED  ", style="bold red")
        text.append(f"{v.metric}, {v.better} is better  ")
        text.append(f"base {num(v.base_mean)} ± {num(v.base_spread)} ({v.base_runs} runs)  ")
        best = v.experiment(v.best_experiment) if v.best_experiment is not None else None
        if best is not None:
            text.append(
                f"best #{best.number:04d} {num(best.mean)} ({num(best.delta_base, True)})",
                style="bold green",
            )
        counts: dict[str, int] = {}
        for r in v.experiments:
            counts[r.status] = counts.get(r.status, 0) + 1
        text.append("\n" + "  ".join(f"{n} {s}" for s, n in sorted(counts.items())))
        text.append(f"   showing {len(board.rows)} of {len(v.experiments)}")
        if board.status_filter != "all":
            text.append(f"   filter: {board.status_filter}", style="bold yellow")
        if board.search:
            text.append(f"   search: {board.search!r}", style="bold yellow")
        if board.marked:
            text.append(f"   marked: {', '.join(f'#{n:04d}' for n in sorted(board.marked))}", style="cyan")
        if v.llm:
            text.append(f"   LLM ${float(v.llm.get('usd', 0)):.3f}, {v.llm.get('requests', 0)} requests")
        self.query_one("#summary", Static).update(text)

    # -- actions -----------------------------------------------------------------------------

    def on_leaderboard_chosen(self, message: Leaderboard.Chosen) -> None:
        self._open(message.row)

    MAIN_ONLY = frozenset(
        {"open", "sort", "reverse", "filter", "search", "candidates", "chart", "clear", "reload"}
    )

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """The leaderboard's keys act only while the leaderboard is the screen shown."""
        del parameters
        return not (action in self.MAIN_ONLY and len(self.screen_stack) > 1)

    def action_open(self) -> None:
        if self.showing_candidates:
            return
        row = self.query_one(Leaderboard).current()
        if row is not None:
            self._open(row)

    @work(thread=True, exclusive=True, group="detail")
    def _open(self, row: ExperimentSummary) -> None:
        """The diff and the logs come from git and files: read them off the UI thread."""
        store, ledger = open_readers(self.root)
        try:
            self.post_message(DetailLoaded(detail(store, ledger, self.view, row.number)))
        except GitResearchError as e:
            self.post_message(Failed(str(e)))
        finally:
            ledger.close()

    def on_detail_loaded(self, message: DetailLoaded) -> None:
        if len(self.screen_stack) == 1:  # still on the leaderboard
            self.push_screen(DetailScreen(message.detail))

    def on_failed(self, message: Failed) -> None:
        self.notify(message.error, severity="error", timeout=8)

    def action_sort(self, step: int) -> None:
        board = self.query_one(Leaderboard)
        keys = [c.key for c in COLUMNS]
        board.sort_by(keys[(keys.index(board.sort_key) + step) % len(keys)])
        self.query_one(Heading).refresh()
        self.notify(f"sorted by {board.sort_key}", timeout=1.5)

    def action_reverse(self) -> None:
        board = self.query_one(Leaderboard)
        board.sort_by(board.sort_key)
        self.query_one(Heading).refresh()

    def action_filter(self) -> None:
        board = self.query_one(Leaderboard)
        self.filter_index = (self.filter_index + 1) % len(FILTERS)
        board.set_filter(FILTERS[self.filter_index], board.search)
        self._summary()

    def action_search(self) -> None:
        box = self.query_one("#search", Input)
        box.add_class("visible")
        box.focus()

    def on_input_changed(self, event: Input.Changed) -> None:
        board = self.query_one(Leaderboard)
        board.set_filter(board.status_filter, event.value.strip())
        self._summary()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        del event
        self.query_one(Leaderboard).focus()

    def action_clear(self) -> None:
        box = self.query_one("#search", Input)
        board = self.query_one(Leaderboard)
        if box.has_class("visible") or board.search:
            box.value = ""
            box.remove_class("visible")
            board.set_filter(board.status_filter, "")
            board.focus()
            self._summary()
        elif self.showing_candidates:
            self.action_candidates()

    def action_candidates(self) -> None:
        self.showing_candidates = not self.showing_candidates
        panel = self.query_one("#candidates")
        board = self.query_one(Leaderboard)
        heading = self.query_one(Heading)
        panel.set_class(self.showing_candidates, "visible")
        board.display = not self.showing_candidates
        heading.display = not self.showing_candidates
        if self.showing_candidates:
            self._render_candidates()
        else:
            board.focus()

    def _render_candidates(self) -> None:
        v = self.view
        if not v.candidates:
            body: RenderableType = Text(
                "No ranked candidates yet: the run has no accepted change, or it is not finalized "
                f"(`gitresearch finalize {v.run}`).\nPress c to go back."
            )
        else:
            table = Table(title=f"gitresearch/{v.run}/candidates, ranked (c: back)", title_justify="left")
            for name in (
                "rank",
                "exp",
                "contribution",
                "gain at acceptance",
                "mean ± spread",
                "change",
                "commit",
            ):
                table.add_column(name, justify="right" if name in ("rank", "exp", "contribution") else "left")
            for c in v.candidates:
                table.add_row(
                    str(c.rank),
                    f"#{c.experiment:04d}",
                    num(c.contribution, True),
                    num(c.gain, True),
                    f"{num(c.mean)} ± {spread(c.mean, c.spread)}",
                    c.hypothesis,
                    c.commit[:12],
                )
            body = table
        self.query_one("#candidates-text", Static).update(body)

    def action_chart(self) -> None:
        self.push_screen(ChartScreen(self.view))

    def _selected(self) -> ExperimentSummary | None:
        if isinstance(self.screen, DetailScreen):
            return self.screen.info.experiment
        return self.query_one(Leaderboard).current()

    def action_mark(self) -> None:
        board = self.query_one(Leaderboard)
        row = self._selected()
        if row is not None:
            board.toggle_mark(row)
            state = "marked" if row.number in board.marked else "unmarked"
            self.notify(f"#{row.number:04d} {state}", timeout=1.5)
            self._summary()

    def action_copy_commit(self) -> None:
        row = self._selected()
        if row is None or row.commit is None:
            self.notify("this experiment has no commit (it was refused before it ran)", severity="warning")
            return
        self.copy_to_clipboard(row.commit)
        self.notify(f"copied {row.commit}", timeout=2)

    def action_pick(self) -> None:
        board = self.query_one(Leaderboard)
        numbers = sorted(board.marked)
        if not numbers:
            row = self._selected()
            numbers = [row.number] if row is not None else []
        if not numbers:
            self.notify("nothing to pick: select or mark (m) an experiment", severity="warning")
            return
        try:
            chosen = targets(self.view, numbers)
        except GitResearchError as e:
            self.notify(str(e), severity="error")
            return
        self._prepare_pick(chosen)

    @work(thread=True, exclusive=True, group="pick")
    def _prepare_pick(self, chosen: list[Target]) -> None:
        self.post_message(PickReady(chosen, Store(self.root).current_branch() or "HEAD (detached)"))

    def on_pick_ready(self, message: PickReady) -> None:
        def answered(yes: bool | None) -> None:
            if yes:
                self._pick(message.targets)
            else:
                self.notify("nothing picked", timeout=1.5)

        self.push_screen(ConfirmPick(message.targets, message.branch), answered)

    @work(thread=True, exclusive=True, group="pick")
    def _pick(self, chosen: list[Target]) -> None:
        try:
            self.post_message(PickEnded(pick(Store(self.root), chosen), None))
        except GitResearchError as e:
            self.post_message(PickEnded(None, str(e)))

    def on_pick_ended(self, message: PickEnded) -> None:
        if message.picked is None:
            self.notify(message.error or "the pick failed", severity="error", timeout=8)
            return
        board = self.query_one(Leaderboard)
        board.marked.clear()
        board.refresh()
        self._summary()
        self.notify(message.picked.describe())

    def action_reload(self) -> None:
        self.marker = fingerprint(self.ledger, self.run_name)
        self._reload()

    def action_help(self) -> None:
        self.push_screen(HelpScreen())
