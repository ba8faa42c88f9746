"""`gitresearch review`: browse a run and cherry-pick its winners, in the terminal.

Built with Textual on the headless core: everything it shows comes from `reviewdata`
(which reads the ledger and git through `store`), so the app never calls git or a process
itself. The leaderboard is a Line-API widget that draws only the rows on screen, so a run
of 10,000 experiments opens, scrolls and re-sorts at once. While `gitresearch start` runs
in the same repository the view reloads on its own (a cheap fingerprint query every
second; the reload itself runs in a worker thread with its own connections).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from rich.console import Group, RenderableType
from rich.segment import Segment
from rich.style import Style
from rich.syntax import Syntax
from rich.table import Table
from rich.text import Text
from textual import events, work
from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.geometry import Size
from textual.message import Message
from textual.screen import ModalScreen, Screen
from textual.scroll_view import ScrollView
from textual.strip import Strip
from textual.widgets import Footer, Input, Static, TabbedContent, TabPane

from gitresearch.errors import GitResearchError
from gitresearch.ledger import Ledger
from gitresearch.reviewdata import (
    Detail,
    Row,
    RunView,
    change_marker,
    chart,
    detail,
    load,
    pick,
    pick_targets,
)
from gitresearch.store import Store

STATUS_STYLE = {
    "accepted": Style(color="green", bold=True),
    "discarded": Style(color="bright_black"),
    "failed": Style(color="red"),
    "rejected": Style(color="magenta"),
    "running": Style(color="yellow"),
    "measured": Style(color="yellow"),
    "committed": Style(color="yellow"),
    "cancelled": Style(color="bright_black", italic=True),
    "duplicate": Style(color="bright_black", italic=True),
}
FILTERS = ("all", "accepted", "discarded", "failed", "rejected", "running", "cancelled")


def _num(value: float | None, signed: bool = False) -> str:
    if value is None or not math.isfinite(value):
        return "—"
    return f"{value:+.4g}" if signed else f"{value:.4g}"


def _seconds(value: float) -> str:
    if value < 60:
        return f"{value:.0f}s"
    if value < 3600:
        return f"{value / 60:.0f}m{value % 60:02.0f}s"
    return f"{value / 3600:.0f}h{value % 3600 / 60:02.0f}m"


@dataclass(frozen=True)
class Column:
    key: str
    title: str
    width: int  # 0: takes what is left
    right: bool
    cell: Callable[[Row], str]
    sort: Callable[[Row], Any]


def _none_last(value: float | None) -> tuple[int, float]:
    return (1, 0.0) if value is None or not math.isfinite(value) else (0, value)


COLUMNS: tuple[Column, ...] = (
    Column(
        "rank",
        "rank",
        5,
        True,
        lambda r: str(r.rank) if r.rank else "",
        lambda r: (r.rank is None, r.rank or 0),
    ),
    Column("number", "#", 6, True, lambda r: f"{r.number:04d}", lambda r: r.number),
    Column("status", "status", 10, False, lambda r: r.status, lambda r: r.status),
    Column(
        "mean",
        "mean ± spread",
        18,
        True,
        lambda r: f"{_num(r.mean)} ± {_num(r.spread)}" if r.spread is not None else _num(r.mean),
        lambda r: _none_last(r.mean),
    ),
    Column(
        "delta_base",
        "Δ base",
        10,
        True,
        lambda r: _num(r.delta_base, True),
        lambda r: _none_last(r.delta_base),
    ),
    Column(
        "delta_parent",
        "Δ parent",
        10,
        True,
        lambda r: _num(r.delta_parent, True),
        lambda r: _none_last(r.delta_parent),
    ),
    Column("runs", "runs", 5, True, lambda r: str(r.runs), lambda r: r.runs),
    Column("seconds", "time", 7, True, lambda r: _seconds(r.seconds), lambda r: r.seconds),
    Column("proposer", "proposer", 9, False, lambda r: r.proposer, lambda r: r.proposer),
    Column("hypothesis", "hypothesis", 0, False, lambda r: r.hypothesis, lambda r: r.hypothesis.lower()),
)


class Leaderboard(ScrollView, can_focus=True):
    """Every experiment of the run, one line each; only the visible lines are drawn."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up,k", "cursor(-1)", "up", show=False),
        Binding("down,j", "cursor(1)", "down", show=False),
        Binding("pageup", "page(-1)", "page up", show=False),
        Binding("pagedown", "page(1)", "page down", show=False),
        Binding("home", "edge(0)", "first", show=False),
        Binding("end", "edge(1)", "last", show=False),
    ]
    DEFAULT_CSS = """
    Leaderboard { height: 1fr; }
    """

    class Chosen(Message):
        def __init__(self, row: Row) -> None:
            super().__init__()
            self.row = row

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.all_rows: list[Row] = []
        self.rows: list[Row] = []
        self.marked: set[int] = set()
        self.cursor = 0
        self.sort_key = "rank"
        self.reverse = False
        self.status_filter = "all"
        self.search = ""
        self.direction = "minimize"  # which sign of a delta is good

    # -- data ------------------------------------------------------------------------------

    def set_rows(self, rows: Sequence[Row]) -> None:
        current = self.current()
        self.all_rows = list(rows)
        self._rebuild(keep=current.number if current else None)

    def sort_by(self, key: str) -> None:
        if key == self.sort_key:
            self.reverse = not self.reverse
        else:
            self.sort_key, self.reverse = key, False
        current = self.current()
        self._rebuild(keep=current.number if current else None)

    def set_filter(self, status: str, search: str) -> None:
        self.status_filter, self.search = status, search
        current = self.current()
        self._rebuild(keep=current.number if current else None)

    def _rebuild(self, keep: int | None) -> None:
        rows = self.all_rows
        if self.status_filter != "all":
            wanted = {"running": ("running", "measured", "committed")}.get(
                self.status_filter, (self.status_filter,)
            )
            rows = [r for r in rows if r.status in wanted]
        if self.search:
            needle = self.search.lower()
            rows = [
                r
                for r in rows
                if needle in r.hypothesis.lower()
                or needle in f"{r.number:04d}"
                or needle in r.proposer
                or (r.commit or "").startswith(needle)
            ]
        column = next(c for c in COLUMNS if c.key == self.sort_key)
        self.rows = sorted(rows, key=column.sort, reverse=self.reverse)
        self.cursor = 0
        if keep is not None:
            for i, r in enumerate(self.rows):
                if r.number == keep:
                    self.cursor = i
                    break
        self.virtual_size = Size(self.size.width, len(self.rows))
        self._show_cursor()
        self.refresh()

    def current(self) -> Row | None:
        return self.rows[self.cursor] if 0 <= self.cursor < len(self.rows) else None

    def toggle_mark(self, row: Row) -> None:
        self.marked ^= {row.number}
        self.refresh()

    # -- movement ----------------------------------------------------------------------------

    def _move_to(self, index: int) -> None:
        if not self.rows:
            return
        self.cursor = max(0, min(len(self.rows) - 1, index))
        self._show_cursor()
        self.refresh()

    def _show_cursor(self) -> None:
        height = max(1, self.scrollable_content_region.height)
        top = round(self.scroll_offset.y)
        if self.cursor < top:
            self.scroll_to(y=self.cursor, animate=False, immediate=True)
        elif self.cursor >= top + height:
            self.scroll_to(y=self.cursor - height + 1, animate=False, immediate=True)

    def action_cursor(self, step: int) -> None:
        self._move_to(self.cursor + step)

    def action_page(self, direction: int) -> None:
        self._move_to(self.cursor + direction * max(1, self.scrollable_content_region.height - 1))

    def action_edge(self, last: int) -> None:
        self._move_to(len(self.rows) - 1 if last else 0)

    def on_click(self, event: events.Click) -> None:
        index = round(self.scroll_offset.y) + event.y
        if 0 <= index < len(self.rows):
            if index == self.cursor and event.chain >= 2:
                self.post_message(self.Chosen(self.rows[index]))
            self._move_to(index)

    def on_resize(self, event: events.Resize) -> None:
        self.virtual_size = Size(event.size.width, len(self.rows))

    # -- drawing -----------------------------------------------------------------------------

    def widths(self, total: int) -> list[int]:
        fixed = sum(c.width + 1 for c in COLUMNS if c.width) + 2
        return [c.width if c.width else max(10, total - fixed) for c in COLUMNS]

    def render_line(self, y: int) -> Strip:
        index = round(self.scroll_offset.y) + y
        width = self.scrollable_content_region.width
        if index >= len(self.rows):
            return Strip.blank(width)
        row = self.rows[index]
        selected = index == self.cursor
        base = Style(bgcolor="grey23") if index % 2 else Style()
        if selected:
            base = Style(bgcolor="dark_blue" if self.has_focus else "grey35", bold=True)
        segments = [Segment("● " if row.number in self.marked else "  ", base + Style(color="cyan"))]
        for column, w in zip(COLUMNS, self.widths(width), strict=True):
            text = column.cell(row)
            text = text if len(text) <= w else text[: max(0, w - 1)] + "…"
            text = text.rjust(w) if column.right else text.ljust(w)
            style = base
            if column.key == "status":
                style = base + STATUS_STYLE.get(row.status, Style())
            elif column.key in ("delta_base", "delta_parent") and text.strip() not in ("—", ""):
                good = text.strip().startswith("-") == (self.direction == "minimize")
                style = base + Style(color="green" if good else "red")
            segments.append(Segment(text + " ", style))
        return Strip(segments).adjust_cell_length(width, base)


class Heading(Static):
    """The column titles; a click sorts by the column under it."""

    def __init__(self, board: Leaderboard, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.board = board

    def _width(self) -> int:
        return self.board.scrollable_content_region.width or self.size.width

    def render(self) -> RenderableType:
        text = Text("  ", style="bold")
        for column, w in zip(COLUMNS, self.board.widths(self._width()), strict=True):
            title = column.title + (
                ("▼" if self.board.reverse else "▲") if column.key == self.board.sort_key else ""
            )
            title = title[:w]
            text.append((title.rjust(w) if column.right else title.ljust(w)) + " ", style="bold")
        return text

    def on_click(self, event: events.Click) -> None:
        x = 2
        for column, w in zip(COLUMNS, self.board.widths(self._width()), strict=True):
            if x <= event.x < x + w + 1:
                self.board.sort_by(column.key)
                self.refresh()
                return
            x += w + 1


# -- screens ---------------------------------------------------------------------------------


class DetailScreen(Screen[None]):
    DEFAULT_CSS = """
    DetailScreen #detail-head { height: auto; padding: 0 1; background: $boost; }
    DetailScreen TabbedContent { height: 1fr; }
    DetailScreen ContentSwitcher { height: 1fr; }
    DetailScreen TabPane { height: 1fr; padding: 0; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q", "app.pop_screen", "back"),
        Binding("d", "tab('diff')", "diff"),
        Binding("e", "tab('evidence')", "evidence"),
        Binding("l", "tab('log')", "log"),
        Binding("y", "app.copy_commit", "copy commit"),
        Binding("m", "app.mark", "mark"),
        Binding("p", "app.pick", "cherry-pick"),
    ]

    def __init__(self, info: Detail) -> None:
        super().__init__()
        self.info = info

    def compose(self) -> ComposeResult:
        row = self.info.row
        head = Text()
        head.append(f"#{row.number:04d} ", style="bold")
        head.append(row.status, style=STATUS_STYLE.get(row.status, Style()))
        head.append(f"  {row.hypothesis}\n", style="bold")
        head.append(
            f"commit {row.commit or '—'}   branch {self.info.branch or '—'}   parent {(row.parent or '—')[:12]}"
        )
        yield Static(head, id="detail-head")
        with TabbedContent(initial="diff"):
            with TabPane("Diff", id="diff"), VerticalScroll():
                diff = self.info.diff or "(no diff)"
                yield Static(Syntax(diff, "diff", theme="ansi_dark", word_wrap=False), id="diff-text")
            with TabPane("Evidence", id="evidence"), VerticalScroll():
                yield Static(self._evidence(), id="evidence-text")
            with TabPane("Log", id="log"), VerticalScroll():
                yield Static(Text(self.info.log), id="log-text")
        yield Footer()

    def _evidence(self) -> RenderableType:
        info = self.info
        table = Table(title="runs", title_justify="left", expand=False)
        for name in ("seed", "purpose", "status", "value", "seconds", "slot", "reason"):
            table.add_column(name, justify="right" if name in ("seed", "value", "seconds") else "left")
        for r in info.runs:
            table.add_row(
                str(r.seed),
                r.purpose,
                r.status,
                _num(r.value),
                f"{r.seconds:.1f}" if r.seconds is not None else "—",
                r.slot or "",
                " ".join(filter(None, [r.reason, r.detail])),
            )
        lines = Text()
        row = info.row
        lines.append(f"mean {_num(row.mean)} ± {_num(row.spread)} over {row.runs} run(s); ")
        lines.append(f"Δ parent {_num(row.delta_parent, True)}, Δ base {_num(row.delta_base, True)}\n")
        d = info.decision
        if d:
            lines.append("decision: ", style="bold")
            lines.append(f"{d.get('status', row.status)} — {d.get('reason', '')}\n")
            for part in ("gate", "test"):
                test = d.get(part)
                if isinstance(test, dict):
                    lines.append(
                        f"{part}: improvement {_num(test.get('improvement'))} vs threshold "
                        f"{_num(test.get('threshold'))} ({test.get('reason', '')})\n"
                    )
            if d.get("noise") is not None:
                lines.append(f"seed noise σ {_num(d.get('noise'))}\n")
        if info.violations:
            lines.append("rejected by the boundaries:\n", style="bold magenta")
            for v in info.violations:
                where = f"{v.get('path')}:{v.get('line')}" if v.get("line") else str(v.get("path"))
                lines.append(f"  {where} [{v.get('rule')}] {v.get('message')}\n")
        if info.rationale:
            lines.append("rationale: ", style="bold")
            lines.append(info.rationale + "\n")
        return Group(lines, table) if info.runs else lines

    def action_tab(self, tab: str) -> None:
        self.query_one(TabbedContent).active = tab


class ChartScreen(Screen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape,q,g", "app.pop_screen", "back")]

    def __init__(self, view: RunView) -> None:
        super().__init__()
        self.view = view

    def compose(self) -> ComposeResult:
        yield Static(id="chart")
        yield Footer()

    def on_mount(self) -> None:
        self.draw()

    def on_resize(self) -> None:
        self.draw()

    def draw(self) -> None:
        v = self.view
        width, height = max(30, self.size.width - 2), max(8, self.size.height - 6)
        title = Text(f"{v.metric} per experiment ({v.better} is better)   ", style="bold")
        title.append("· experiment  ● accepted  ━ best so far  ┈ base", style="dim")
        body = Text("\n".join(chart(v, width, height)))
        self.query_one("#chart", Static).update(Group(title, body))


class ConfirmPick(ModalScreen[bool]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("y,enter", "answer(True)", "yes, pick"),
        Binding("n,escape", "answer(False)", "no"),
    ]
    DEFAULT_CSS = """
    ConfirmPick { align: center middle; }
    ConfirmPick > Vertical { width: 90%; height: auto; max-height: 80%; border: thick $accent; padding: 1 2;
                             background: $surface; }
    """

    def __init__(self, targets: list[tuple[int, str, str]], branch: str) -> None:
        super().__init__()
        self.targets = targets
        self.branch = branch

    def compose(self) -> ComposeResult:
        text = Text(f"Cherry-pick {len(self.targets)} commit(s) onto {self.branch}?\n\n", style="bold")
        for number, sha, hypothesis in self.targets:
            text.append(f"  {sha[:12]}  #{number:04d}  {hypothesis}\n")
        text.append("\n[y] pick   [n] cancel", style="dim")
        with Vertical():
            yield Static(text, id="confirm-text")

    def action_answer(self, yes: bool) -> None:
        self.dismiss(yes)


class HelpScreen(ModalScreen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape,q,question_mark", "dismiss_help", "close")]
    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen > Vertical { width: 110; max-width: 96%; height: auto; max-height: 96%; border: thick $accent;
                            padding: 0 1; background: $surface; overflow-y: auto; }
    """
    KEYS = (
        ("↑ ↓ j k, PgUp PgDn, Home End", "move through the experiments (the mouse works too)"),
        ("enter (or double-click)", "open the experiment: diff, evidence, log"),
        ("s / S", "sort by the next / previous column (click a title: sort by it, again: reverse)"),
        ("o", "reverse the order"),
        ("f", "filter by status: all, accepted, discarded, failed, rejected, running, cancelled"),
        ("/", "search hypotheses, numbers, proposers, commits; esc clears"),
        ("c", "show the candidates branch (ranked, with contributions) / the leaderboard"),
        ("g", "the progress chart: every experiment and the best so far"),
        ("m or space", "mark / unmark the experiment"),
        ("p", "cherry-pick the marked experiments (or the selected one) onto your branch"),
        ("y", "copy the selected experiment's commit id"),
        ("r", "reload now (it also reloads by itself while a run goes on)"),
        ("in a detail: d e l", "the diff, evidence and log tabs; esc goes back"),
        ("?", "this help"),
        ("q", "quit"),
    )

    def compose(self) -> ComposeResult:
        table = Table(title="gitresearch review — keys", box=None, show_header=False, title_style="bold")
        table.add_column(style="bold cyan", no_wrap=True)
        table.add_column()
        for keys, what in self.KEYS:
            table.add_row(keys, what)
        with Vertical():
            yield Static(table, id="help-text")

    def action_dismiss_help(self) -> None:
        self.dismiss(None)


# -- the app ---------------------------------------------------------------------------------


class ReviewApp(App[None]):
    TITLE = "gitresearch review"
    CSS = """
    #summary { height: auto; padding: 0 1; background: $boost; }
    #search { display: none; }
    #search.visible { display: block; }
    #candidates { display: none; height: 1fr; }
    #candidates.visible { display: block; }
    Heading { height: 1; background: $boost; }
    """
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
        self.store = Store(root)
        self.ledger = Ledger(self.store.state_dir / "ledger.sqlite")
        self.view = load(self.store, self.ledger, run)
        self.marker = change_marker(self.ledger, run)
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
        board.set_rows(self.view.rows)
        board.focus()
        self._summary()
        self.set_interval(self.poll, self._poll)

    # -- live --------------------------------------------------------------------------------

    def _poll(self) -> None:
        try:
            marker = change_marker(self.ledger, self.run_name)
        except Exception:  # the ledger being rebuilt this instant: try again next tick
            return
        if marker != self.marker:
            self.marker = marker
            self._reload()

    @work(thread=True, exclusive=True, group="reload")
    def _reload(self) -> None:
        store = Store(self.root)
        ledger = Ledger(store.state_dir / "ledger.sqlite")
        try:
            view = load(store, ledger, self.run_name)
        finally:
            ledger.close()
        self.call_from_thread(self._apply, view)

    def _apply(self, view: RunView) -> None:
        self.view = view
        self.reloads += 1
        self.query_one(Leaderboard).set_rows(view.rows)
        self._summary()
        if self.showing_candidates:
            self._render_candidates()

    def _summary(self) -> None:
        v = self.view
        board = self.query_one(Leaderboard)
        text = Text()
        text.append(f"run {v.run} ", style="bold")
        text.append(f"({v.status})  ")
        text.append(f"{v.metric}, {v.better} is better  ")
        text.append(f"base {_num(v.base_mean)} ± {_num(v.base_spread)} ({v.base_runs} runs)  ")
        best = next((r for r in v.rows if r.commit == v.best), None) if v.best else None
        if best is not None:
            text.append(
                f"best #{best.number:04d} {_num(best.mean)} ({_num(best.delta_base, True)})",
                style="bold green",
            )
        counts: dict[str, int] = {}
        for r in v.rows:
            counts[r.status] = counts.get(r.status, 0) + 1
        text.append("\n" + "  ".join(f"{n} {s}" for s, n in sorted(counts.items())))
        text.append(f"   showing {len(board.rows)} of {len(v.rows)}")
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

    def _open(self, row: Row) -> None:
        try:
            info = detail(self.store, self.ledger, self.view, row.number)
        except GitResearchError as e:
            self.notify(str(e), severity="error")
            return
        self.push_screen(DetailScreen(info))

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
                "Δ at acceptance",
                "mean ± spread",
                "change",
                "commit",
            ):
                table.add_column(name, justify="right" if name in ("rank", "exp", "contribution") else "left")
            for c in v.candidates:
                table.add_row(
                    str(c.rank),
                    f"#{c.experiment:04d}",
                    _num(c.contribution, True),
                    _num(c.delta, True),
                    f"{_num(c.mean)} ± {_num(c.spread)}",
                    c.hypothesis,
                    c.commit[:12],
                )
            body = table
        self.query_one("#candidates-text", Static).update(body)

    def action_chart(self) -> None:
        self.push_screen(ChartScreen(self.view))

    def _selected(self) -> Row | None:
        if isinstance(self.screen, DetailScreen):
            return self.screen.info.row
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
            targets = pick_targets(self.view, numbers)
        except GitResearchError as e:
            self.notify(str(e), severity="error")
            return
        branch = self.store.current_branch() or "HEAD (detached)"

        def done(yes: bool | None) -> None:
            if not yes:
                self.notify("nothing picked", timeout=1.5)
                return
            try:
                message = pick(self.store, [sha for _, sha, _ in targets])
            except GitResearchError as e:
                self.notify(str(e), severity="error", timeout=8)
                return
            board.marked.clear()
            board.refresh()
            self._summary()
            self.notify(message)

        self.push_screen(ConfirmPick(targets, branch), done)

    def action_reload(self) -> None:
        self.marker = change_marker(self.ledger, self.run_name)
        self._reload()

    def action_help(self) -> None:
        self.push_screen(HelpScreen())
