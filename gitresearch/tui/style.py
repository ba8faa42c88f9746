"""How the review draws values: statuses' colours, numbers, durations, the status filters."""

from __future__ import annotations

from rich.style import Style

from gitresearch.display import num as num  # the one number format, re-exported
from gitresearch.display import spread as spread

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
# The status filter cycles through these (f); "running" also shows committed and measured ones.
FILTERS = ("all", "accepted", "discarded", "failed", "rejected", "running", "cancelled")


def seconds(value: float) -> str:
    if value < 60:
        return f"{value:.0f}s"
    if value < 3600:
        return f"{value / 60:.0f}m{value % 60:02.0f}s"
    return f"{value / 3600:.0f}h{value % 3600 / 60:02.0f}m"
