"""Choosing and building the run's proposer from `[search] proposer` and `[agent]`.

`sweep` needs tunable literals in the regions; `llm` and `hybrid` need an `[agent]` whose
server answers before the run starts (a missing key, an unreachable server or an unknown
model is a usage error, not a failure an hour in); `auto` takes `hybrid` when the agent is
configured and reachable, else `sweep`, and says which and why.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

from gitresearch.boundaries.config import Config
from gitresearch.boundaries.resolve import Boundaries
from gitresearch.boundaries.sources import FileSource
from gitresearch.errors import UsageError
from gitresearch.propose.base import Proposer

if TYPE_CHECKING:
    from gitresearch.propose.agent import LLMProposer

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
    if choice in ("llm", "hybrid"):
        if config.agent is None:
            raise UsageError(
                f'proposer "{choice}" needs an [agent] section in {config.path.name} '
                '(model, and base_url for a server of your own); see README "The LLM agent"'
            )
        agent = _agent(config, boundaries, base_source, say, env)
        if choice == "llm":
            say(f"proposer: llm ({agent.client.model} at {agent.client.where})")
            return agent
        say(f"proposer: hybrid ({agent.client.model} at {agent.client.where}, and the sweep)")
        return HybridProposer(agent, sweep if sweep.size else None)
    # auto
    if config.agent is None:
        say(f"proposer: sweep ({sweep.describe()}; no [agent] configured)")
    else:
        try:
            agent = _agent(config, boundaries, base_source, say, env)
        except UsageError as e:
            say(f"proposer: sweep ({sweep.describe()}; the [agent] is not usable: {e})")
        else:
            say(f"proposer: hybrid ({agent.client.model} at {agent.client.where}, and the sweep)")
            return HybridProposer(agent, sweep if sweep.size else None)
    if sweep.size == 0:
        raise UsageError(NO_KNOBS)
    return sweep


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
    client.preflight()
    brief = None
    if config.agent.brief:
        data = base_source.read_bytes(config.agent.brief)
        brief = data.decode("utf-8", "replace") if data is not None else None
    return LLMProposer(client, boundaries, config, brief, say=say)
