"""`hybrid`: the LLM agent for structural ideas and the sweep for constants, one history.

Turns alternate between the two; when it is the agent's turn but it is still thinking, the
sweep takes the slot (a GPU never waits for the model), and when one of them has nothing
left the other goes on alone. Both are told every outcome: the agent's prompt shows what the
sweep tried and found, and the sweep proposes against the incumbent as it stands, whoever
moved it (it learns values only from its own proposals).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from gitresearch.boundaries.validator import Violation
from gitresearch.propose.agent import LLMProposer
from gitresearch.propose.base import Context, NotReady, Outcome, Proposal
from gitresearch.propose.command import CommandProposer
from gitresearch.propose.sweep import SweepProposer


class HybridProposer:
    name = "hybrid"
    defers_confirmation = False  # the agent's ideas build on the incumbent

    def __init__(self, agent: LLMProposer | CommandProposer, sweep: SweepProposer | None) -> None:
        self.agent = agent
        self.sweep = sweep  # None when the regions hold no tunable literal
        self.sweep_done = sweep is None
        self.counts = {agent.name: 0, "sweep": 0}

    @property
    def stopped(self) -> str:
        return self.agent.stopped

    def propose(self, ctx: Context) -> Proposal | NotReady | None:
        agent_first = self.sweep_done or self.counts[self.agent.name] <= self.counts["sweep"]
        if agent_first:
            found = self.agent.propose(ctx)
            if isinstance(found, Proposal):
                self.counts[self.agent.name] += 1
                return found
            swept = self._sweep(ctx)
            return swept if swept is not None else found
        swept = self._sweep(ctx)
        if swept is not None:
            return swept
        return self.agent.propose(ctx)

    def _sweep(self, ctx: Context) -> Proposal | None:
        if self.sweep is None or self.sweep_done:
            return None
        found = self.sweep.propose(ctx)
        if not isinstance(found, Proposal):
            self.sweep_done = True
            return None
        self.counts["sweep"] += 1
        return found

    def warm(self, ctx: Context) -> None:
        self.agent.warm(ctx)

    def rebase(self, proposal: Proposal, ctx: Context) -> Proposal | None:
        if proposal.proposer == "sweep" and self.sweep is not None:
            return self.sweep.rebase(proposal, ctx)
        return self.agent.rebase(proposal, ctx)

    def observe(self, outcome: Outcome) -> None:
        self.agent.observe(outcome)
        if self.sweep is not None:
            self.sweep.observe(outcome)

    def rejected(self, proposal: Proposal, violations: Sequence[Violation]) -> None:
        self.agent.rejected(proposal, violations)

    def duplicate(self, proposal: Proposal, of: int) -> None:
        self.agent.duplicate(proposal, of)

    def usage(self) -> Mapping[str, Any]:
        return {**self.agent.usage(), "proposals": dict(self.counts)}

    def restore_usage(self, usage: Mapping[str, Any]) -> None:
        self.agent.restore_usage(usage)

    def close(self) -> None:
        self.agent.close()
