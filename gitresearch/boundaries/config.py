"""boundaries.toml, parsed once into frozen typed objects.

Every mistake becomes a `ConfigError` naming the file, the key, the line (found by
`tomlpos`, since tomllib reports none for keys) and a did-you-mean. Nothing here looks at
the repository's files: resolving `[[allow]]` paths and regions against the code is
`boundaries`' job, so this module stays a pure function of the TOML text.
"""

from __future__ import annotations

import difflib
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, cast, get_args

from gitresearch.boundaries.sources import normalize_relpath
from gitresearch.boundaries.tomlpos import key_lines
from gitresearch.constraints import Constraint, parse_constraint
from gitresearch.durations import parse_duration
from gitresearch.errors import ConfigError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib

CONFIG_NAME = "boundaries.toml"

Direction = Literal["minimize", "maximize"]
COMMAND_TIMEOUT = 1800.0  # a coding agent's run: reading, editing, thinking (seconds)
ProposerName = Literal["sweep", "llm", "command", "hybrid", "auto"]
SweepModel = Literal["auto", "gp", "tpe"]
PruneSetting = Literal["off", "conservative", "aggressive"]
SandboxMode = Literal["auto", "required", "off"]
KnobScale = Literal["log", "linear", "log1m", "int", "log-int"]
KnobValue = int | float | bool | str


@dataclass(frozen=True)
class ObjectiveConfig:
    command: str
    metric: str
    direction: Direction = "minimize"
    timeout: float = 600.0
    repeats: int = 1
    seed_env: str | None = None
    min_improvement: float = 0.0
    record: tuple[str, ...] = ()
    link: tuple[str, ...] = ()
    sandbox: SandboxMode = "auto"  # run every benchmark process in the OS sandbox (execute/sandbox.py)
    network: bool = False  # let the benchmark reach the network (only inside the sandbox's rules)
    deterministic: bool = False  # the benchmark gives the same value on every seed, knowingly
    score: str | None = None  # a protected scorer: the only source of the objective
    metric_pattern: str | None = None  # a regex with one group that finds the metric in any stdout line
    # on recorded metrics (constraints.py); their metrics are recorded
    constraints: tuple[Constraint, ...] = ()
    # other metrics whose Pareto front with the objective the report shows; recorded too
    tradeoffs: tuple[tuple[str, Direction], ...] = ()


@dataclass(frozen=True)
class SearchConfig:
    proposer: ProposerName = "auto"
    baseline_runs: int = 3
    confirm_runs: int = 3  # the most fresh-seed runs; the confirmation stops when decisive
    seed: int = 0
    model: SweepModel = "auto"  # the sweep's model: a Gaussian process when it can, else TPE
    simplicity: bool = False  # fewer lines at equal quality wins; many added lines need more gain
    prune: PruneSetting = "conservative"  # stop a measurement that is clearly losing (prune.py)
    prune_after: float | None = None  # the least fraction of the parent's steps before a stop


@dataclass(frozen=True)
class BudgetConfig:
    experiments: int = 100
    wall_clock: float = 8 * 3600.0
    llm_usd: float = 5.0
    gpus: Literal["all", "none"] | tuple[int, ...] = "all"
    jobs_per_gpu: int = 1
    jobs: int = 1
    max_consecutive_failures: int = 5
    executor: Literal["local", "ray"] = "local"  # where benchmark jobs run (execute/ray.py)


@dataclass(frozen=True)
class AllowRule:
    path: str
    regions: tuple[str, ...] | None  # None: the whole file
    line: int | None = None


@dataclass(frozen=True)
class KnobRule:
    """One [[knob]] entry: how to search a literal `check` lists (or to leave it alone)."""

    name: str  # the knob's label as `gitresearch check` prints it
    path: str | None = None  # only needed when two files have a knob of that name
    low: float | None = None
    high: float | None = None
    scale: KnobScale | None = None
    integer: bool | None = None
    choices: tuple[KnobValue, ...] = ()
    exclude: bool | None = None  # True: never searched; False: searched though left out by default
    line: int | None = None


@dataclass(frozen=True)
class PolicyConfig:
    allow_imports: tuple[str, ...] = ()
    forbid_names: tuple[str, ...] = ()


@dataclass(frozen=True)
class AgentConfig:
    model: str = ""  # the built-in agent's model; empty when a command is the agent
    base_url: str | None = None  # None: $OPENAI_BASE_URL, else OpenAI itself
    api_key_env: str | None = None  # None: OPENAI_API_KEY, optional for a base_url server
    brief: str | None = None
    price_input: float | None = None  # USD per million prompt tokens (None: known table or 0 locally)
    price_output: float | None = None  # USD per million completion tokens
    max_tokens: int = 4096  # per reply; bounds what one request can cost
    temperature: float | None = None  # None: the server's default
    timeout: float = 180.0  # seconds per request before it is retried (per run of a command agent)
    command: str | None = None  # a coding agent run once per idea (propose/command.py)
    pass_env: tuple[str, ...] = ()  # variables the command agent gets (its own API key)
    read_only: tuple[str, ...] = ()  # paths it may read besides its scratch tree (~/.codex)


@dataclass(frozen=True)
class ClusterConfig:
    """[cluster]: where `executor = "ray"` sends benchmark jobs (docs/cluster.md)."""

    address: str = "auto"  # ray.init's address: "auto", "127.0.0.1:6379", "ray://head:10001"
    jobs: int = 0  # jobs in flight; 0: as many as the cluster's resources allow
    gpus_per_job: float = 0.0  # Ray resources one job asks for
    cpus_per_job: float = 1.0
    cache: str = "~/.cache/gitresearch/ray"  # per node: the run's clone and worktrees


@dataclass(frozen=True)
class Config:
    path: Path  # the boundaries.toml that was read
    objective: ObjectiveConfig
    search: SearchConfig = field(default_factory=SearchConfig)
    budget: BudgetConfig = field(default_factory=BudgetConfig)
    allow: tuple[AllowRule, ...] = ()
    protect: tuple[str, ...] = ()
    hidden: tuple[str, ...] = ()  # seen by the scorer only, never by the experiment
    knobs: tuple[KnobRule, ...] = ()
    policy: PolicyConfig = field(default_factory=PolicyConfig)
    agent: AgentConfig | None = None
    cluster: ClusterConfig = field(default_factory=ClusterConfig)
    lines: Mapping[str, int] = field(default_factory=dict, compare=False, repr=False)


_SECTIONS = ("objective", "search", "budget", "allow", "protect", "knob", "policy", "agent", "cluster")


class _Table:
    """Typed access to one TOML table that reports errors with file, key and line."""

    def __init__(self, path: Path, lines: Mapping[str, int], name: str, data: Any) -> None:
        self.path, self.lines, self.name = path, lines, name
        if not isinstance(data, dict):
            raise ConfigError(
                path, f"`{name}` must be a table, like [{name}]", key=name, line=lines.get(name)
            )
        self.data: dict[str, Any] = data

    def error(self, key: str, message: str, hint: str | None = None) -> ConfigError:
        full = f"{self.name}.{key}"
        line = self.lines.get(full, self.lines.get(self.name))
        return ConfigError(self.path, message, key=full, line=line, hint=hint)

    def check_keys(self, known: tuple[str, ...]) -> None:
        for key in self.data:
            if key not in known:
                close = difflib.get_close_matches(key, known, n=1, cutoff=0.6)
                hint = f"did you mean `{close[0]}`?" if close else "known keys: " + ", ".join(known)
                raise self.error(key, f"unknown key `{key}` in [{self.name}]", hint)

    def require(self, key: str) -> None:
        if key not in self.data:
            raise ConfigError(
                self.path,
                f"[{self.name}] needs `{key}`",
                key=f"{self.name}.{key}",
                line=self.lines.get(self.name),
            )

    def _typed(self, key: str, kinds: tuple[type, ...], label: str, default: Any) -> Any:
        if key not in self.data:
            return default
        value = self.data[key]
        if (isinstance(value, bool) and bool not in kinds) or not isinstance(value, kinds):
            raise self.error(key, f"`{key}` must be {label}, not {_describe(value)}")
        return value

    def string(self, key: str, default: str | None = None, *, nonempty: bool = True) -> str | None:
        value = cast("str | None", self._typed(key, (str,), "a string", default))
        if value is not None and nonempty and not value.strip():
            raise self.error(key, f"`{key}` must not be empty")
        return value

    def integer(self, key: str, default: int, minimum: int) -> int:
        value = cast(int, self._typed(key, (int,), "a whole number", default))
        if value < minimum:
            raise self.error(key, f"`{key}` must be at least {minimum}, not {value}")
        return value

    def number(self, key: str, default: float, minimum: float) -> float:
        value = float(self._typed(key, (int, float), "a number", default))
        if value != value or value < minimum:
            raise self.error(key, f"`{key}` must be a number of at least {minimum:g}, not {value}")
        return value

    def boolean(self, key: str, default: bool) -> bool:
        return bool(self._typed(key, (bool,), "true or false", default))

    def duration(self, key: str, default: float) -> float:
        if key not in self.data:
            return default
        value = self.data[key]
        if not isinstance(value, (str, int, float)) or isinstance(value, bool):
            raise self.error(
                key, f'`{key}` must be a duration such as "90s", "10m" or "8h", not {_describe(value)}'
            )
        try:
            return parse_duration(value)
        except ValueError as exc:
            raise self.error(key, str(exc)) from None

    def strings(self, key: str) -> tuple[str, ...]:
        value = self._typed(key, (list,), "a list of strings", [])
        for item in value:
            if not isinstance(item, str) or not item.strip():
                raise self.error(key, f"`{key}` must be a list of non-empty strings; found {_describe(item)}")
        return tuple(value)

    def choice(self, key: str, options: tuple[str, ...], default: str) -> str:
        value = self.string(key, default)
        assert value is not None
        if value not in options:
            close = difflib.get_close_matches(value, options, n=1, cutoff=0.5)
            hint = f'did you mean "{close[0]}"?' if close else None
            raise self.error(
                key,
                f"`{key}` must be one of " + ", ".join(f'"{o}"' for o in options) + f', not "{value}"',
                hint,
            )
        return value


def _describe(value: Any) -> str:
    if isinstance(value, bool):
        return f"the boolean {str(value).lower()}"
    if isinstance(value, str):
        return f'the string "{value}"'
    if isinstance(value, (int, float)):
        return f"the number {value}"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a table"
    return type(value).__name__


def load_config(path: Path) -> Config:
    """Read and check `path`; raises ConfigError for anything a user could get wrong."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(
            path, "file not found", hint="run `gitresearch init` to write one, or pass --config PATH"
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(path, f"cannot read the file: {exc}") from None
    return parse_config(text, path)


def parse_config(text: str, path: Path) -> Config:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        # Python < 3.14 gives the position only inside the message: "... (at line 5, column 27)".
        found = re.search(r"\(at line (\d+), column (\d+)\)", str(exc))
        message = re.sub(r"\s*\(at line \d+, column \d+\)", "", str(exc))
        line = int(found.group(1)) if found else None
        column = f", column {found.group(2)}" if found else ""
        raise ConfigError(path, f"not valid TOML{column}: {message}", line=line) from None
    lines = key_lines(text)
    for key in data:
        if key not in _SECTIONS:
            close = difflib.get_close_matches(key, _SECTIONS, n=1, cutoff=0.6)
            hint = f"did you mean [{close[0]}]?" if close else "sections: " + ", ".join(_SECTIONS)
            raise ConfigError(path, f"unknown section `{key}`", key=key, line=lines.get(key), hint=hint)
    if "objective" not in data:
        raise ConfigError(
            path,
            "missing the [objective] section",
            key="objective",
            hint='add [objective] with command = "..." and metric = "..."',
        )
    protect, hidden = _protect(_Table(path, lines, "protect", data.get("protect", {})))
    return Config(
        path=path,
        objective=_objective(_Table(path, lines, "objective", data["objective"])),
        search=_search(_Table(path, lines, "search", data.get("search", {}))),
        budget=_budget(_Table(path, lines, "budget", data.get("budget", {}))),
        allow=_allow(path, lines, data.get("allow", [])),
        protect=protect + hidden,  # hidden paths are protected too: no patch may touch them
        hidden=hidden,
        knobs=_knobs(path, lines, data.get("knob", [])),
        policy=_policy(_Table(path, lines, "policy", data.get("policy", {}))),
        agent=_agent(_Table(path, lines, "agent", data["agent"])) if "agent" in data else None,
        cluster=_cluster(_Table(path, lines, "cluster", data.get("cluster", {}))),
        lines=lines,
    )


def _objective(t: _Table) -> ObjectiveConfig:
    t.check_keys(
        (
            "command",
            "metric",
            "direction",
            "timeout",
            "repeats",
            "seed_env",
            "min_improvement",
            "record",
            "constraints",
            "tradeoffs",
            "link",
            "sandbox",
            "network",
            "deterministic",
            "score",
            "metric_pattern",
        )
    )
    t.require("command")
    t.require("metric")
    deterministic = t.boolean("deterministic", False)
    if deterministic and t.number("min_improvement", 0.0, 0.0) <= 0:
        raise t.error(
            "deterministic",
            "`deterministic = true` needs `min_improvement` above zero: with no seed noise to judge "
            "by, the smallest change worth keeping is the only bar a change must clear",
            "add min_improvement = 0.01 (in metric units) to [objective]",
        )
    link = t.strings("link")
    for item in link:
        if normalize_relpath(item) is None:
            raise t.error("link", f'link path "{item}" must be relative and inside the repository')
    constraints = _constraints(t)
    tradeoffs = _tradeoffs(t)
    return ObjectiveConfig(
        command=cast(str, t.string("command")),
        metric=cast(str, t.string("metric")),
        direction=cast(Direction, t.choice("direction", get_args(Direction), "minimize")),
        timeout=t.duration("timeout", 600.0),
        repeats=t.integer("repeats", 1, 1),
        seed_env=t.string("seed_env"),
        min_improvement=t.number("min_improvement", 0.0, 0.0),
        record=tuple(
            dict.fromkeys(
                [*t.strings("record"), *(c.metric for c in constraints), *(m for m, _ in tradeoffs)]
            )
        ),
        tradeoffs=tradeoffs,
        constraints=constraints,
        link=link,
        sandbox=cast(SandboxMode, t.choice("sandbox", get_args(SandboxMode), "auto")),
        network=t.boolean("network", False),
        deterministic=deterministic,
        score=t.string("score"),
        metric_pattern=_pattern(t),
    )


def _pattern(t: _Table) -> str | None:
    pattern = t.string("metric_pattern")
    if pattern is None:
        return None
    try:
        groups = re.compile(pattern).groups
    except re.error as exc:
        raise t.error(
            "metric_pattern", f"`metric_pattern` is not a valid regular expression: {exc}"
        ) from None
    if groups != 1:
        raise t.error(
            "metric_pattern",
            f"`metric_pattern` must have exactly one group, the number; it has {groups}",
            r"for example metric_pattern = 'val loss ([0-9.eE+-]+)' (use (?:...) for other groups)",
        )
    return pattern


def _search(t: _Table) -> SearchConfig:
    t.check_keys(
        ("proposer", "baseline_runs", "confirm_runs", "seed", "model", "simplicity", "prune", "prune_after")
    )
    prune_after = t.number("prune_after", -1.0, 0.0) if "prune_after" in t.data else None
    if prune_after is not None and prune_after > 1.0:
        raise t.error(
            "prune_after",
            f"`prune_after` is a fraction of the run's steps, between 0 and 1, not {prune_after:g}",
            "for example prune_after = 0.5: never stop a run before half of its parent's steps",
        )
    return SearchConfig(
        proposer=cast(ProposerName, t.choice("proposer", get_args(ProposerName), "auto")),
        baseline_runs=t.integer("baseline_runs", 3, 1),
        confirm_runs=t.integer("confirm_runs", 3, 0),
        seed=t.integer("seed", 0, 0),
        model=cast(SweepModel, t.choice("model", get_args(SweepModel), "auto")),
        simplicity=t.boolean("simplicity", False),
        prune=cast(PruneSetting, t.choice("prune", get_args(PruneSetting), "conservative")),
        prune_after=prune_after,
    )


def _budget(t: _Table) -> BudgetConfig:
    t.check_keys(
        (
            "experiments",
            "wall_clock",
            "llm_usd",
            "gpus",
            "jobs_per_gpu",
            "jobs",
            "max_consecutive_failures",
            "executor",
        )
    )
    return BudgetConfig(
        experiments=t.integer("experiments", 100, 1),
        wall_clock=t.duration("wall_clock", 8 * 3600.0),
        llm_usd=t.number("llm_usd", 5.0, 0.0),
        gpus=_gpus(t),
        jobs_per_gpu=t.integer("jobs_per_gpu", 1, 1),
        jobs=t.integer("jobs", 1, 1),
        max_consecutive_failures=t.integer("max_consecutive_failures", 5, 1),
        executor=cast(Literal["local", "ray"], t.choice("executor", ("local", "ray"), "local")),
    )


def _tradeoffs(t: _Table) -> tuple[tuple[str, Direction], ...]:
    """`tradeoffs = { train_seconds = "minimize", accuracy = "maximize" }`."""
    value = t.data.get("tradeoffs", {})
    if not isinstance(value, dict) or not all(
        isinstance(v, str) and v in ("minimize", "maximize") for v in value.values()
    ):
        raise t.error(
            "tradeoffs",
            '`tradeoffs` must be a table of metric = "minimize" or "maximize", like '
            '{ train_seconds = "minimize", accuracy = "maximize" }',
        )
    return tuple((str(k), cast(Direction, v)) for k, v in value.items())


def _constraints(t: _Table) -> tuple[Constraint, ...]:
    out = []
    for text in t.strings("constraints"):
        try:
            out.append(parse_constraint(text))
        except ValueError as exc:
            raise t.error("constraints", str(exc)) from None
    return tuple(out)


def _cluster(t: _Table) -> ClusterConfig:
    t.check_keys(("address", "jobs", "gpus_per_job", "cpus_per_job", "cache"))
    return ClusterConfig(
        address=t.string("address", "auto") or "auto",
        jobs=t.integer("jobs", 0, 0),
        gpus_per_job=t.number("gpus_per_job", 0.0, 0.0),
        cpus_per_job=t.number("cpus_per_job", 1.0, 0.0),
        cache=t.string("cache", "~/.cache/gitresearch/ray") or "~/.cache/gitresearch/ray",
    )


def _gpus(t: _Table) -> Literal["all", "none"] | tuple[int, ...]:
    value = t.data.get("gpus", "all")
    if isinstance(value, str):
        return cast(Literal["all", "none"], t.choice("gpus", ("all", "none"), "all"))
    if (
        isinstance(value, list)
        and value
        and all(isinstance(i, int) and not isinstance(i, bool) and i >= 0 for i in value)
    ):
        if len(set(value)) != len(value):
            raise t.error("gpus", "`gpus` lists the same GPU twice")
        return tuple(value)
    raise t.error(
        "gpus", f'`gpus` must be "all", "none" or a list of GPU indices like [0, 1], not {_describe(value)}'
    )


def _allow(path: Path, lines: Mapping[str, int], data: Any) -> tuple[AllowRule, ...]:
    if not isinstance(data, list):
        raise ConfigError(
            path,
            "`allow` must be an array of tables: write each entry as [[allow]]",
            key="allow",
            line=lines.get("allow"),
        )
    if not data:
        raise ConfigError(
            path,
            "no [[allow]] entry: nothing may change, so there is nothing to search",
            key="allow",
            hint='add [[allow]] with path = "train.py" and the regions to open',
        )
    rules = []
    for index, entry in enumerate(data):
        t = _Table(path, lines, f"allow[{index}]", entry)
        t.check_keys(("path", "regions"))
        t.require("path")
        raw = cast(str, t.string("path"))
        clean = normalize_relpath(raw)
        if clean is None:
            raise t.error(
                "path",
                f'path "{raw}" leaves the repository',
                "write a path relative to the repository root, without leading / or ..",
            )
        regions = t.strings("regions") if "regions" in t.data else None
        if regions is not None and not regions:
            raise t.error(
                "regions", "`regions` is empty; list region names, or remove the key to allow the whole file"
            )
        if regions is not None and len(set(regions)) != len(regions):
            raise t.error("regions", "`regions` names the same region twice")
        rules.append(AllowRule(clean, regions, lines.get(f"allow[{index}].path")))
    return tuple(rules)


def _protect(t: _Table) -> tuple[tuple[str, ...], tuple[str, ...]]:
    t.check_keys(("paths", "hidden"))
    found = []
    for key in ("paths", "hidden"):
        paths = t.strings(key)
        for item in paths:
            if normalize_relpath(item) is None:
                raise t.error(
                    key, f'{"hidden" if key == "hidden" else "protected"} path "{item}" leaves the repository'
                )
        found.append(tuple(cast(str, normalize_relpath(p)) for p in paths))
    return found[0], found[1]


def _knobs(path: Path, lines: Mapping[str, int], data: Any) -> tuple[KnobRule, ...]:
    if not isinstance(data, list):
        raise ConfigError(
            path,
            "`knob` must be an array of tables: write each entry as [[knob]]",
            key="knob",
            line=lines.get("knob"),
        )
    rules, seen = [], set()
    for index, entry in enumerate(data):
        t = _Table(path, lines, f"knob[{index}]", entry)
        t.check_keys(("name", "path", "range", "scale", "integer", "choices", "exclude"))
        t.require("name")
        name = cast(str, t.string("name"))
        where = t.string("path")
        if where is not None and normalize_relpath(where) is None:
            raise t.error("path", f'path "{where}" leaves the repository')
        where = normalize_relpath(where) if where is not None else None
        if (name, where) in seen:
            raise t.error("name", f'a second [[knob]] for "{name}"', "merge the two entries into one")
        seen.add((name, where))
        low = high = None
        if "range" in t.data:
            value = t.data["range"]
            if not (
                isinstance(value, list)
                and len(value) == 2
                and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value)
            ):
                raise t.error("range", f"`range` must be two numbers, [low, high], not {_describe(value)}")
            low, high = float(value[0]), float(value[1])
            if not low < high:
                raise t.error("range", f"`range` must go from low to high; [{value[0]}, {value[1]}] does not")
        scale = cast(
            "KnobScale | None", t.choice("scale", get_args(KnobScale), "log") if "scale" in t.data else None
        )
        if scale in ("log", "log-int") and low is not None and low <= 0:
            raise t.error(
                "range",
                f'a "{scale}" scale needs a range above zero, not from {low:g}',
                'use scale = "linear"',
            )
        if scale == "log1m" and low is not None and high is not None and not (low >= 0 and high < 1):
            raise t.error("range", '`scale = "log1m"` (momenta, betas) needs a range inside [0, 1)')
        choices: tuple[KnobValue, ...] = ()
        if "choices" in t.data:
            value = t.data["choices"]
            if not isinstance(value, list) or len(value) < 2:
                raise t.error("choices", "`choices` must be a list of at least two values")
            families = {
                "str" if isinstance(v, str) else "bool" if isinstance(v, bool) else "number" for v in value
            }
            if len(families) != 1 or not all(isinstance(v, (int, float, bool, str)) for v in value):
                raise t.error("choices", "`choices` must all be numbers, all true/false, or all strings")
            if len(set(value)) != len(value):
                raise t.error("choices", "`choices` lists a value twice")
            if low is not None or scale is not None:
                raise t.error("choices", "give either `choices` or `range`/`scale`, not both")
            choices = tuple(value)
        exclude = t.boolean("exclude", False) if "exclude" in t.data else None
        integer = t.boolean("integer", False) if "integer" in t.data else None
        rules.append(
            KnobRule(
                name, where, low, high, scale, integer, choices, exclude, lines.get(f"knob[{index}].name")
            )
        )
    return tuple(rules)


def _policy(t: _Table) -> PolicyConfig:
    t.check_keys(("allow_imports", "forbid_names"))
    return PolicyConfig(allow_imports=t.strings("allow_imports"), forbid_names=t.strings("forbid_names"))


def _agent(t: _Table) -> AgentConfig:
    t.check_keys(
        (
            "model",
            "base_url",
            "api_key_env",
            "brief",
            "price_input",
            "price_output",
            "max_tokens",
            "temperature",
            "timeout",
            "command",
            "pass_env",
            "read_only",
        )
    )
    command = t.string("command")
    if command is None:
        t.require("model")
    return AgentConfig(
        model=t.string("model") or "",
        command=command,
        pass_env=t.strings("pass_env"),
        read_only=t.strings("read_only"),
        base_url=t.string("base_url"),
        api_key_env=t.string("api_key_env"),
        brief=t.string("brief"),
        price_input=t.number("price_input", 0.0, 0.0) if "price_input" in t.data else None,
        price_output=t.number("price_output", 0.0, 0.0) if "price_output" in t.data else None,
        max_tokens=t.integer("max_tokens", 4096, 64),
        temperature=t.number("temperature", 0.0, 0.0) if "temperature" in t.data else None,
        timeout=t.duration("timeout", COMMAND_TIMEOUT if command else 180.0),
    )
