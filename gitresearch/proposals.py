"""What a proposer hands the loop, and what the loop tells it back.

A proposal carries its intent (the edits, or the constants it sets), not only a diff, so
that the loop can re-apply it onto a newer incumbent: `Proposer.rebase` turns the same idea
into a patch against another parent, or says it no longer applies.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from gitresearch.sources import FileSource
from gitresearch.validator import RegionEdit, Violation


@dataclass(frozen=True)
class Proposal:
    proposer: str
    hypothesis: str
    rationale: str
    parent: str
    edits: tuple[RegionEdit, ...] = ()  # region replacements, or
    files: Mapping[str, str] = field(default_factory=dict)  # whole new texts of changed files
    meta: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Context:
    """What a proposer may look at: the parent to change, and how the run is going."""

    parent: str
    source: FileSource  # the parent's files
    experiments_done: int
    experiments_left: int


@dataclass(frozen=True)
class Outcome:
    """One finished experiment, as the proposer learns of it."""

    proposal: Proposal
    value: float | None  # mean metric, None when it failed
    accepted: bool
    reason: str


class Proposer(Protocol):
    name: str

    def propose(self, ctx: Context) -> Proposal | None:
        """The next idea against `ctx.parent`, or None when there is nothing left to try."""
        ...

    def rebase(self, proposal: Proposal, ctx: Context) -> Proposal | None:
        """The same idea against another parent, or None when it no longer applies."""
        ...

    def observe(self, outcome: Outcome) -> None: ...

    def rejected(self, proposal: Proposal, violations: Sequence[Violation]) -> None: ...
