"""What a proposer hands the loop, and what the loop tells it back.

A proposal carries its intent (the edits, or the constants it sets), not only a diff, so
that the loop can re-apply it onto a newer incumbent: `Proposer.rebase` turns the same idea
into a patch against another parent, or says it no longer applies.

A slow proposer (the LLM agent) thinks while benchmarks run: the loop calls `warm` on every
tick so it can keep requests in flight, and `propose` may answer `NOT_READY` instead of
blocking the loop; the loop then polls again a moment later.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, Protocol

from gitresearch.boundaries.sources import FileSource
from gitresearch.boundaries.validator import RegionEdit, Violation


@dataclass(frozen=True)
class Proposal:
    proposer: str
    hypothesis: str
    rationale: str
    parent: str
    edits: tuple[RegionEdit, ...] = ()  # region replacements, or
    files: Mapping[str, str] = field(default_factory=dict)  # whole new texts of changed files, or
    diff: str = ""  # a unified diff (a coding agent's edits of its scratch tree)
    meta: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True)
class ProposalRecord:
    """What the ledger keeps of a proposal beyond its hypothesis: its intent, to re-apply it
    on resume and to show a refused one in the review."""

    meta: Mapping[str, Any] = field(default_factory=dict)
    edits: tuple[RegionEdit, ...] = ()
    diff: str = ""
    reapplied_from: int | None = None

    def to_text(self) -> str:
        return json.dumps(
            {
                "meta": dict(self.meta),
                "edits": [[e.path, e.region, e.source] for e in self.edits],
                **({"diff": self.diff} if self.diff else {}),
                "reapplied_from": self.reapplied_from,
            },
            sort_keys=True,
        )

    @classmethod
    def of(cls, proposal: Proposal, reapplied_from: int | None = None) -> ProposalRecord:
        return cls(
            meta=proposal.meta, edits=proposal.edits, diff=proposal.diff, reapplied_from=reapplied_from
        )

    @classmethod
    def from_text(cls, text: str | None) -> ProposalRecord:
        """Tolerant: an unreadable record is an empty one."""
        try:
            data = json.loads(text or "{}")
        except json.JSONDecodeError:
            return cls()
        if not isinstance(data, dict):
            return cls()
        edits = tuple(
            RegionEdit(str(e[0]), str(e[1]), str(e[2]))
            for e in data.get("edits") or []
            if isinstance(e, list) and len(e) == 3
        )
        meta = data.get("meta")
        back = data.get("reapplied_from")
        diff = data.get("diff")
        return cls(
            meta=meta if isinstance(meta, dict) else {},
            edits=edits,
            diff=diff if isinstance(diff, str) else "",
            reapplied_from=back if isinstance(back, int) else None,
        )


class NotReady:
    """`propose`'s answer while a slow proposer is still thinking (not the end of ideas)."""

    def __repr__(self) -> str:
        return "NOT_READY"


NOT_READY: Final = NotReady()


@dataclass(frozen=True)
class Context:
    """What a proposer may look at: the parent to change, and how the run is going."""

    parent: str
    source: FileSource  # the parent's files
    experiments_done: int
    experiments_left: int
    slots: int = 1
    seconds_left: float | None = None
    base_value: float | None = None  # the base's mean metric, once measured
    best_value: float | None = None  # the incumbent's mean metric
    noise: float | None = None  # the seed noise (one run's standard deviation)


@dataclass(frozen=True)
class Outcome:
    """One finished experiment, as the proposer learns of it."""

    proposal: Proposal
    value: float | None  # mean metric, None when it failed
    accepted: bool
    reason: str
    number: int = 0
    delta: float | None = None  # mean minus the parent's mean
    log_tail: str | None = None  # the end of a failed run's log
    infeasible: bool = False  # discarded because a constraint was not met (its value is no guide)
    pruned: bool = False  # stopped early as clearly losing: `value` is its parent's mean plus the gap then
    # Its mean on the seeds every experiment runs first (0..repeats-1), and its parent's on the
    # same seeds: comparable across experiments where the seed sets much of the noise (None
    # when it has no such run, or its parent none on those seeds)
    shared_value: float | None = None
    shared_parent: float | None = None
    # It passed the gate and waits, held, while the search looks for a better one (only a
    # proposer that `defers_confirmation` is told this); its decided outcome follows later.
    held: bool = False


class Proposer(Protocol):
    name: str

    @property
    def stopped(self) -> str:
        """Why it has no more ideas, once `propose` returned None ("" when it never said)."""
        ...

    @property
    def defers_confirmation(self) -> bool:
        """True when its proposals do not build on the incumbent (whole configurations): a
        gate pass may then wait until the best of several is confirmed, and `observe` hears
        of a held experiment twice, held (`Outcome.held`) and decided."""
        ...

    def propose(self, ctx: Context) -> Proposal | NotReady | None:
        """The next idea against `ctx.parent`; NOT_READY while thinking; None when out of ideas."""
        ...

    def warm(self, ctx: Context) -> None:
        """Start thinking about the next proposals now (called on every tick of the loop)."""
        ...

    def duplicate(self, proposal: Proposal, of: int) -> None:
        """The proposal's code was already measured (as experiment `of`, 0 for the base)."""
        ...

    def usage(self) -> Mapping[str, Any]:
        """What the proposer spent (tokens, dollars), for the run's record; empty when free."""
        ...

    def restore_usage(self, usage: Mapping[str, Any]) -> None:
        """Continue counting from what a resumed run had already spent."""
        ...

    def rebase(self, proposal: Proposal, ctx: Context) -> Proposal | None:
        """The same idea against another parent, or None when it no longer applies."""
        ...

    def observe(self, outcome: Outcome) -> None: ...

    def rejected(self, proposal: Proposal, violations: Sequence[Violation]) -> None: ...

    def close(self) -> None:
        """Stop any background work (requests in flight); called once, when the search ends."""
        ...
