"""The review's screens: one experiment in full, the progress chart, the pick confirmation, help."""

from __future__ import annotations

from typing import Any, ClassVar

from rich.console import Group, RenderableType
from rich.style import Style
from rich.syntax import Syntax
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen, Screen
from textual.widgets import Footer, Static, TabbedContent, TabPane

from gitresearch.pick import Target
from gitresearch.runview import Detail, RunSummary
from gitresearch.tui.chart import chart, curve_chart
from gitresearch.tui.style import STATUS_STYLE, num


class DetailScreen(Screen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q", "app.pop_screen", "back"),
        Binding("d", "tab('diff')", "diff"),
        Binding("e", "tab('evidence')", "evidence"),
        Binding("l", "tab('log')", "log"),
        Binding("c", "tab('curve')", "curve"),
        Binding("y", "app.copy_commit", "copy commit"),
        Binding("m", "app.mark", "mark"),
        Binding("p", "app.pick", "cherry-pick"),
    ]

    def __init__(self, info: Detail) -> None:
        super().__init__()
        self.info = info

    def compose(self) -> ComposeResult:
        row = self.info.experiment
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
            with TabPane("Curve", id="curve"), VerticalScroll():
                yield Static(self._curve(), id="curve-text")
            with TabPane("Log", id="log"), VerticalScroll():
                yield Static(Text(self.info.log), id="log-text")
        yield Footer()

    def _evidence(self) -> RenderableType:
        info = self.info
        table = Table(title="runs", title_justify="left", expand=False)
        for name in ("seed", "purpose", "status", "value", "seconds", "slot", "reason"):
            table.add_column(name, justify="right" if name in ("seed", "value", "seconds") else "left")
        for r in info.measurements:
            table.add_row(
                str(r.seed),
                r.purpose,
                r.status,
                num(r.value),
                f"{r.seconds:.1f}" if r.seconds is not None else "—",
                r.slot or "",
                " ".join(filter(None, [r.reason, r.detail])),
            )
        lines = Text()
        row = info.experiment
        lines.append(f"mean {num(row.mean)} ± {num(row.spread)} over {row.runs} run(s); ")
        lines.append(
            f"gain vs parent {num(row.gain_parent, True)}, vs base {num(row.gain_base, True)} (positive is better)\n"
        )
        d = info.decision
        if d:
            lines.append("decision: ", style="bold")
            lines.append(f"{d.get('status', row.status)} — {d.get('reason', '')}\n")
            for part in ("gate", "test"):
                test = d.get(part)
                if isinstance(test, dict):
                    lines.append(
                        f"{part}: improvement {num(test.get('improvement'))} vs threshold "
                        f"{num(test.get('threshold'))} ({test.get('reason', '')})\n"
                    )
            if d.get("noise") is not None:
                lines.append(f"seed noise σ {num(d.get('noise'))}\n")
            pruned = d.get("pruned")
            if isinstance(pruned, dict):
                lines.append(
                    f"stopped early: step {num(pruned.get('step'))} of {num(pruned.get('last_step'))}, seed "
                    f"{pruned.get('seed')}: {num(pruned.get('value'))} vs {_rival(pruned, 'parent')} "
                    f"{num(pruned.get('parent'))}, "
                    f"bound {num(pruned.get('bound'))} ({pruned.get('setting')}); the Curve tab (c) shows it\n"
                )
        if info.violations:
            lines.append("rejected by the boundaries:\n", style="bold magenta")
            for v in info.violations:
                where = f"{v.get('path')}:{v.get('line')}" if v.get("line") else str(v.get("path"))
                lines.append(f"  {where} [{v.get('rule')}] {v.get('message')}\n")
        if info.rationale:
            lines.append("rationale: ", style="bold")
            lines.append(info.rationale + "\n")
        return Group(lines, table) if info.measurements else lines

    def _curve(self) -> Text:
        width = max(40, min(self.app.size.width - 4, 120))
        text = Text("\n".join(curve_chart(self.info.curves, width, 16)))
        pruned = self.info.decision.get("pruned")
        if isinstance(pruned, dict):
            whose = _rival(pruned, "the parent's", "'s")
            text.append(
                f"\nstopped at step {num(pruned.get('step'))} of {num(pruned.get('last_step'))} on seed "
                f"{pruned.get('seed')}: {num(pruned.get('value'))} against {whose} "
                f"{num(pruned.get('parent'))} (bound {num(pruned.get('bound'))}, {pruned.get('setting')})",
                style="bold",
            )
        return text

    def action_tab(self, tab: str) -> None:
        self.query_one(TabbedContent).active = tab


class ChartScreen(Screen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape,q,g", "app.pop_screen", "back")]

    def __init__(self, view: RunSummary) -> None:
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

    def __init__(self, targets: list[Target], branch: str) -> None:
        super().__init__()
        self.targets = targets
        self.branch = branch

    def compose(self) -> ComposeResult:
        text = Text(f"Cherry-pick {len(self.targets)} commit(s) onto {self.branch}?\n\n", style="bold")
        for t in self.targets:
            rank = f"candidate {t.rank}" if t.rank is not None else "own branch"
            text.append(f"  {t.commit[:12]}  #{t.experiment:04d}  ({rank})  {t.hypothesis}\n")
        text.append(
            "\nIn this order; a change already in the branch is skipped, and a conflict undoes the pick.\n"
        )
        text.append("\n[y] pick   [n] cancel", style="dim")
        with Vertical():
            yield Static(text, id="confirm-text")

    def action_answer(self, yes: bool) -> None:
        self.dismiss(yes)


class HelpScreen(ModalScreen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape,q,question_mark", "dismiss_help", "close")]
    KEYS = (
        ("↑ ↓ j k, PgUp PgDn, Home End", "move through the experiments (the mouse works too)"),
        ("enter (or double-click)", "open the experiment: diff, evidence, curve, log"),
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
        ("in a detail: d e c l", "the diff, evidence, curve and log tabs; esc goes back"),
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


def _rival(pruned: dict[str, Any], parent: str, whose: str = "") -> str:
    """Whose curve a stopped run lost to: its parent's, or the best gate pass held then."""
    against = pruned.get("against")
    return f"#{against:04d}{whose} (the best gate pass held)" if isinstance(against, int) else parent
