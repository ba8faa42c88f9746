"""The leaderboard: every experiment of a run, one line each, and its column titles.

A Line-API widget: only the lines on screen are drawn, so a run of 10,000 experiments
opens, scrolls and re-sorts at once. It holds `runview.ExperimentSummary` values and posts
`Chosen` when one is opened; sorting, the status filter, the search and the marks are its
own state.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from rich.console import RenderableType
from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual import events
from textual.binding import Binding, BindingType
from textual.geometry import Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip
from textual.widgets import Static

from gitresearch.runview import ExperimentSummary
from gitresearch.tui.style import STATUS_STYLE, num, seconds, spread

Row = ExperimentSummary


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
    Column(  # ◆: on the Pareto front of the objective and the trade-offs
        "status", "status", 10, False, lambda r: r.status + (" ◆" if r.on_front else ""), lambda r: r.status
    ),
    Column(
        "mean",
        "mean ± spread",
        18,
        True,
        lambda r: f"{num(r.mean)} ± {spread(r.mean, r.spread)}" if r.spread is not None else num(r.mean),
        lambda r: (_none_last(r.mean), r.status != "accepted"),
    ),
    Column(
        "gain_base",
        "gain base",
        10,
        True,
        lambda r: num(r.gain_base, True),
        lambda r: _none_last(None if r.gain_base is None else -r.gain_base),
    ),
    Column(
        "gain_parent",
        "gain parent",
        11,
        True,
        lambda r: num(r.gain_parent, True),
        lambda r: _none_last(None if r.gain_parent is None else -r.gain_parent),
    ),
    Column("runs", "runs", 5, True, lambda r: str(r.runs), lambda r: r.runs),
    Column("seconds", "time", 7, True, lambda r: seconds(r.seconds), lambda r: r.seconds),
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
