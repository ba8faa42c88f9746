"""What an agent is told about the run: the objective, the boundaries, the history, the
budget. One text for the built-in LLM agent and for a coding agent run as a command
(propose/command.py), so both learn from the same evidence: what was kept, what lost and
by how much, what was refused before it ran and why, what is being measured now.
"""

from __future__ import annotations

import string
from dataclasses import dataclass
from importlib import resources

from gitresearch.boundaries.config import Config
from gitresearch.boundaries.resolve import Boundaries
from gitresearch.durations import format_duration
from gitresearch.propose.base import Context


def prompt(name: str, **values: object) -> str:
    """A prompt template from propose/prompts/, its $names filled in."""
    text = (resources.files("gitresearch.propose") / "prompts" / f"{name}.md").read_text(encoding="utf-8")
    return string.Template(text).safe_substitute({k: str(v) for k, v in values.items()})


@dataclass
class Entry:
    """One experiment (or refused proposal) as an agent remembers it."""

    number: int
    proposer: str
    hypothesis: str
    status: str  # accepted | discarded | pruned | failed | rejected | duplicate
    delta: float | None = None
    reason: str = ""


def objective_text(config: Config, ctx: Context) -> str:
    o = config.objective
    better = "lower" if o.direction == "minimize" else "higher"
    lines = [f"Metric: {o.metric} ({better} is better), printed by `{o.command}`."]
    if ctx.base_value is not None:
        lines.append(f"The base (the code before this run) scores {ctx.base_value:.6g}.")
    if ctx.best_value is not None and ctx.best_value != ctx.base_value:
        lines.append(f"The current best code scores {ctx.best_value:.6g}.")
    if ctx.noise:
        lines.append(
            f"Seed-to-seed noise of one run: σ ≈ {ctx.noise:.3g}; a change must beat the best "
            "by clearly more than that to be kept."
        )
    if o.min_improvement:
        lines.append(f"Improvements smaller than {o.min_improvement:g} are not worth keeping.")
    if o.constraints:
        lines.append(
            "Constraints that must hold on fresh seeds, with confidence, or the change is discarded "
            "whatever its gain ('base' is the code before this run): "
            + "; ".join(c.text for c in o.constraints)
            + "."
        )
    return "\n".join(lines)


def boundaries_text(boundaries: Boundaries, config: Config) -> str:
    lines = []
    for allowed in boundaries.files.values():
        if not allowed.is_python:
            continue
        if allowed.regions is None:
            lines.append(f"- {allowed.path}: any top-level assignment, function or class, by name")
        else:
            lines.append(f"- {allowed.path}: regions {', '.join(allowed.regions)}")
    if boundaries.protect:
        lines.append(f"Fixed (never edit): {', '.join(boundaries.protect)}")
    if config.policy.allow_imports:
        lines.append(f"Imports allowed in new code: {', '.join(config.policy.allow_imports)}")
    return "\n".join(lines)


def history_text(history: list[Entry]) -> str:
    if not history:
        return "Nothing yet: this is the first experiment."
    done = [e for e in history if e.number]
    lines: list[str] = []
    accepted = [e for e in done if e.status == "accepted"]
    if accepted:
        lines.append("Kept (each became the new best):")
        lines += [f"- #{e.number} {_delta(e)}: {e.hypothesis}" for e in accepted[-10:]]
    recent = done[-12:]
    if recent:
        lines.append("Most recent experiments:")
        lines += [
            f"- #{e.number} [{e.proposer}] {e.status} {_delta(e)}: {e.hypothesis} — {cut(e.reason, 140)}"
            for e in recent
        ]
    refused = [e for e in history if e.status in ("rejected", "duplicate")][-5:]
    if refused:
        lines.append("Refused before running:")
        lines += [f"- {e.hypothesis} — {cut(e.reason, 200)}" for e in refused]
    older = [e for e in done[:-12] if e.status != "accepted"][-60:]
    if older:
        lines.append("Earlier ideas already tried (do not repeat them as they were):")
        lines += [f"- {cut(e.hypothesis, 100)} ({e.status} {_delta(e)})" for e in older]
    return "\n".join(lines)


def budget_text(ctx: Context, usd_left: float | None) -> str:
    parts = [f"{ctx.experiments_left} experiment(s)"]
    if ctx.seconds_left is not None:
        parts.append(f"{format_duration(max(0.0, ctx.seconds_left))} of wall clock")
    if usd_left is not None:
        parts.append(f"${max(0.0, usd_left):.2f} of LLM spend")
    return ", ".join(parts) + "."


def inflight_text(pending: list[str]) -> str:
    if not pending:
        return ""
    return (
        "\nBeing measured or about to run, results not in yet (propose something else):\n"
        + "\n".join(f"- {h}" for h in pending)
        + "\n"
    )


def _delta(e: Entry) -> str:
    return f"Δ{e.delta:+.4g}" if e.delta is not None else ""


def cut(text: str, n: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= n else text[: n - 1] + "…"
