"""Choosing and building the run's proposer from `[search] proposer` and `[agent]`.

`sweep` needs tunable literals in the regions; `llm` and `hybrid` need an `[agent]` whose
server answers before the run starts (a missing key, an unreachable server or an unknown
model is a usage error, not a failure an hour in); `command` (and `hybrid` with an
`[agent] command`) needs the command's program on PATH; `auto` takes `hybrid` when the agent
is configured and usable, else `sweep`, and says which and why.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from gitresearch.boundaries.config import Config
from gitresearch.boundaries.resolve import Boundaries
from gitresearch.boundaries.sources import FileSource
from gitresearch.errors import UsageError
from gitresearch.propose.base import Proposer

if TYPE_CHECKING:
    from gitresearch.propose.agent import LLMProposer
    from gitresearch.propose.command import CommandProposer


@dataclass(frozen=True)
class Place:
    """Where a command agent runs: its scratch trees under `state_dir`, the repository at
    `root` hidden from it, inside the sandbox when the run is sandboxed."""

    state_dir: Path
    root: Path
    sandboxed: bool


NO_KNOBS = (
    "the allowed regions hold no tunable literal, so the sweep has nothing to search; "
    "run `gitresearch check` to see the regions and the search space"
)


def make_proposer(
    config: Config,
    boundaries: Boundaries,
    base_source: FileSource,
    say: Callable[[str], None],
    env: Mapping[str, str] | None = None,
    place: Place | None = None,
) -> Proposer:
    # Imported here, not at the top: the OpenAI client and Optuna cost a second to import,
    # and only `start` needs them (`gitresearch --help` and `check` stay fast).
    from gitresearch.propose.hybrid import HybridProposer
    from gitresearch.propose.sweep import SweepProposer

    env = os.environ if env is None else env
    choice = config.search.proposer
    sweep = SweepProposer(
        boundaries, base_source, config.objective.direction, config.search.seed, config.search.model
    )
    if choice == "sweep":
        if sweep.size == 0:
            raise UsageError(NO_KNOBS)
        return sweep
    if choice == "command" and (config.agent is None or not config.agent.command):
        raise UsageError(
            f'proposer "command" needs `command` in the [agent] section of {config.path.name}, '
            "for example command = 'claude -p \"{prompt}\" --allowedTools Edit' (docs/agents.md)"
        )
    if choice in ("llm", "hybrid", "command"):
        if config.agent is None:
            raise UsageError(
                f'proposer "{choice}" needs an [agent] section in {config.path.name} '
                '(model, and base_url for a server of your own; or a command); see README "The LLM agent"'
            )
        agent = _any_agent(config, boundaries, base_source, say, env, place)
        if choice in ("llm", "command"):
            say(f"proposer: {agent.name} ({_where(agent)})")
            return agent
        say(f"proposer: hybrid ({_where(agent)}, and the sweep)")
        return HybridProposer(agent, sweep if sweep.size else None)
    # auto
    if config.agent is None:
        say(f"proposer: sweep ({sweep.describe()}; no [agent] configured)")
    else:
        try:
            agent = _any_agent(config, boundaries, base_source, say, env, place)
        except UsageError as e:
            say(f"proposer: sweep ({sweep.describe()}; the [agent] is not usable: {e})")
        else:
            say(f"proposer: hybrid ({_where(agent)}, and the sweep)")
            return HybridProposer(agent, sweep if sweep.size else None)
    if sweep.size == 0:
        raise UsageError(NO_KNOBS)
    return sweep


def _where(agent: LLMProposer | CommandProposer) -> str:
    from gitresearch.propose.command import CommandProposer

    if isinstance(agent, CommandProposer):
        line = " ".join(agent.template.split())
        return f"the command `{line if len(line) <= 60 else line[:59] + '…'}`"
    return f"{agent.client.model} at {agent.client.where}"


def _any_agent(
    config: Config,
    boundaries: Boundaries,
    base_source: FileSource,
    say: Callable[[str], None],
    env: Mapping[str, str],
    place: Place | None,
) -> LLMProposer | CommandProposer:
    assert config.agent is not None
    if config.agent.command:
        return _command(config, boundaries, base_source, say, env, place)
    return _agent(config, boundaries, base_source, say, env)


def _brief(config: Config, base_source: FileSource) -> str | None:
    if config.agent is None or not config.agent.brief:
        return None
    data = base_source.read_bytes(config.agent.brief)
    return data.decode("utf-8", "replace") if data is not None else None


def _command(
    config: Config,
    boundaries: Boundaries,
    base_source: FileSource,
    say: Callable[[str], None],
    env: Mapping[str, str],
    place: Place | None,
) -> CommandProposer:
    from gitresearch.propose.command import CommandProposer, find_program, program_of

    assert config.agent is not None and config.agent.command
    line = config.lines.get("agent.command") or config.lines.get("agent")
    label = f"{config.path.name}" + (f":{line}" if line else "") + " [agent] command"
    if program_of(config.agent.command) is None:
        raise UsageError(f"{label}: the command line cannot be read (unbalanced quotes?)")
    if find_program(config.agent.command, env.get("PATH")) is None:
        raise UsageError(
            f"{label}: `{program_of(config.agent.command)}` is not installed or not on PATH; "
            "docs/agents.md says what each agent needs"
        )
    if place is None:
        raise UsageError("a command agent needs a repository to run in")
    return CommandProposer(
        config,
        boundaries,
        _brief(config, base_source),
        state_dir=place.state_dir,
        root=place.root,
        sandboxed=place.sandboxed,
        env=env,
        say=say,
    )


def _agent(
    config: Config,
    boundaries: Boundaries,
    base_source: FileSource,
    say: Callable[[str], None],
    env: Mapping[str, str],
) -> LLMProposer:
    from gitresearch.propose.agent import LLMProposer
    from gitresearch.propose.llm import ChatClient

    assert config.agent is not None
    line = config.lines.get("agent.model") or config.lines.get("agent")
    label = f"{config.path.name}" + (f":{line}" if line else "") + " [agent]"
    client = ChatClient(config.agent, env, config_label=label)
    found = client.preflight()
    if found.startswith("warning:"):
        say(found)
    return LLMProposer(client, boundaries, config, _brief(config, base_source), say=say)
