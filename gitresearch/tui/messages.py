"""What the review's workers report back to the app, in the past tense (Textual's rule:
blocking work runs in a worker thread, which never touches a widget, and posts one of these)."""

from __future__ import annotations

from textual.message import Message

from gitresearch.pick import Picked, Target
from gitresearch.runview import Detail, RunSummary


class RunReloaded(Message):
    """The run was read again (it is still going, or `r` was pressed)."""

    def __init__(self, summary: RunSummary) -> None:
        super().__init__()
        self.summary = summary


class DetailLoaded(Message):
    """One experiment's diff, evidence and logs are ready to show."""

    def __init__(self, detail: Detail) -> None:
        super().__init__()
        self.detail = detail


class PickEnded(Message):
    """A cherry-pick finished: `picked` says what landed, or `error` why nothing did."""

    def __init__(self, picked: Picked | None, error: str | None) -> None:
        super().__init__()
        self.picked = picked
        self.error = error


class Failed(Message):
    """A worker could not do its job (shown to the user, never a traceback)."""

    def __init__(self, error: str) -> None:
        super().__init__()
        self.error = error


class PickReady(Message):
    """What a pick would take and onto which branch, for the user to confirm."""

    def __init__(self, targets: list[Target], branch: str) -> None:
        super().__init__()
        self.targets = targets
        self.branch = branch
