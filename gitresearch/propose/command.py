"""A coding agent as the proposer: Claude Code, Codex, aider or any script, inside the boundaries.

`[agent] command` is a command line run once per idea, for example
`claude -p "{prompt}" --allowedTools Edit` or `aider --yes --message "{prompt}" {files}`.
For each idea gitresearch:

1. writes a scratch tree of the incumbent: every committed file but the hidden ones, no
   `.git` of the user's (a fresh repository of its own, for agents that insist on git), the
   brief in `.gitresearch/brief.md`;
2. runs the command there, in the OS sandbox when the run is sandboxed: the scratch tree
   and a home of its own are writable, the user's checkout, `.git`, `$HOME` and `/tmp` are
   not there, the network is open (the agent must reach its model; the benchmark's sandbox
   is unchanged), and only the variables in `pass_env` and the paths in `read_only` (its
   credentials) come in; it is killed with everything it started after `timeout`;
3. takes the *diff* of the scratch tree as the proposal, judged by the validator like any
   other: a refused diff goes back to the agent with the violations, in the same tree, up
   to `MAX_ATTEMPTS` runs per idea. The agent never runs the benchmark and never touches the
   user's git: gitresearch does.

The hypothesis is the first line of `.gitresearch/hypothesis.md` (the rest is the
rationale), else the message of a commit the agent made, else a summary of the diff.
Several agents run at once as slots allow (each on a thread that only waits for its
process); a cost the agent prints (Claude Code's `total_cost_usd`, aider's `Cost: $...`)
is counted against `llm_usd`, and the time each run took is recorded either way.
"""

from __future__ import annotations

import contextlib
import os
import re
import shlex
import shutil
import sys
import threading
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gitresearch.boundaries.config import Config
from gitresearch.boundaries.resolve import Boundaries
from gitresearch.boundaries.sources import glob_match
from gitresearch.boundaries.validator import Violation
from gitresearch.execute.runner import Launch, ProcessOutcome, RunningProcess, read_log_tail
from gitresearch.execute.sandbox import Spec, environment_paths, sandbox_env, wrap
from gitresearch.propose.base import NOT_READY, Context, NotReady, Outcome, Proposal
from gitresearch.propose.briefing import (
    Entry,
    boundaries_text,
    budget_text,
    cut,
    history_text,
    inflight_text,
    objective_text,
    prompt,
)
from gitresearch.store import SCRATCH_IDENTITY, StoreError, init_scratch, scratch_changes

MAX_ATTEMPTS = 3  # runs per idea: the first and up to two after a refusal
MAX_FAILED_RUNS = 5  # agent runs in a row that produced nothing before it stops
MAX_PROMPT_CHARS = 100_000  # one argument of a command line may not exceed 128 KiB on Linux
STATE = ".gitresearch"  # in the scratch tree: the brief in, the hypothesis out; never in the diff
BRIEF = f"{STATE}/brief.md"
HYPOTHESIS = f"{STATE}/hypothesis.md"
BASE_ENV = ("PATH", "LANG", "LC_ALL", "LC_CTYPE", "TERM", "USER", "LOGNAME", "TZ")
_COSTS = (
    re.compile(r'"total_cost_usd"\s*:\s*([0-9.eE+-]+)'),  # Claude Code --output-format json
    re.compile(
        r"Cost: \$[0-9.]+ message, \$([0-9.]+) session"
    ),  # aider: "Cost: $0.0012 message, $0.0034 session."
)


def render_command(template: str, values: Mapping[str, str | Sequence[str]]) -> str:
    """The template with each {name} replaced by its value as one shell word, or a list as
    one word each ("{prompt}" and '{prompt}' too: the quotes people write around a
    placeholder are taken as meant)."""
    out = template
    for name, value in values.items():
        words = shlex.quote(value) if isinstance(value, str) else " ".join(shlex.quote(v) for v in value)
        for form in (f'"{{{name}}}"', f"'{{{name}}}'", f"{{{name}}}"):
            out = out.replace(form, words)
    return out


def program_of(template: str) -> str | None:
    """The program a command line starts (after any VAR=value words), or None if unreadable."""
    try:
        words = shlex.split(template)
    except ValueError:
        return None
    for word in words:
        if "=" in word and not word.startswith(("/", ".")) and word.split("=", 1)[0].isidentifier():
            continue
        return word
    return None


def find_program(template: str, path: str | None = None) -> str | None:
    """Where the command's program is (None: not found)."""
    program = program_of(template)
    if program is None:
        return None
    return shutil.which(program, path=path)


def reported_cost(log: str) -> float | None:
    """What the agent says it spent, in dollars, when its output says so."""
    for pattern in _COSTS:
        found = pattern.findall(log)
        if found:
            with contextlib.suppress(ValueError):
                return float(found[-1])
    return None


@dataclass
class Task:
    """One run of the agent on one idea."""

    request: int
    parent: str
    attempt: int
    folder: Path
    process: RunningProcess
    future: Future[ProcessOutcome]


@dataclass
class Idea:
    """A diff the agent produced, handed to the loop, remembered until it is judged."""

    request: int
    parent: str
    attempt: int
    folder: Path


@dataclass
class AgentUsage:
    runs: int = 0
    failed_runs: int = 0
    timed_out: int = 0
    seconds: float = 0.0
    usd: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "agent_runs": self.runs,
            "failed_agent_runs": self.failed_runs,
            "timed_out": self.timed_out,
            "seconds": round(self.seconds, 3),
            "usd": round(self.usd, 6),
        }


class CommandProposer:
    """Runs `[agent] command` once per idea and proposes the diff it leaves."""

    name = "command"
    defers_confirmation = False  # each idea builds on the incumbent

    def __init__(
        self,
        config: Config,
        boundaries: Boundaries,
        brief: str | None,
        *,
        state_dir: Path,
        root: Path,
        sandboxed: bool,
        env: Mapping[str, str],
        say: Callable[[str], None] = lambda line: None,
        max_concurrency: int = 4,
    ) -> None:
        assert config.agent is not None and config.agent.command
        self.config = config
        self.agent = config.agent
        # one command line: a TOML multi-line string's line breaks (and `\` continuations) are spaces
        self.template: str = config.agent.command.replace("\\\n", " ").replace("\n", " ")
        self.program = program_of(self.template) or self.template
        self.boundaries = boundaries
        self.brief = (brief or "").strip()
        self.state_dir = state_dir
        self.folder = state_dir / "agents"
        self.root = root
        self.sandboxed = sandboxed
        self.say = say
        self.max_concurrency = max_concurrency
        # Taken now: the run drops API keys from its own environment once proposers are built.
        self.env = {k: env[k] for k in (*BASE_ENV, *self.agent.pass_env) if k in env}
        self.home = env.get("HOME")
        # where programs come from (a virtualenv, conda, PATH entries, this interpreter's own
        # prefix), shown again read-only when they live in a hidden folder such as /tmp
        self.tools = [*environment_paths(env), Path(sys.prefix).resolve()]
        self.budget_usd = config.budget.llm_usd
        self.usage_ = AgentUsage()
        self.history: list[Entry] = []
        self.tasks: list[Task] = []
        self.ready: deque[tuple[Proposal, Idea]] = deque()
        self.retries: deque[tuple[Idea, str]] = deque()  # an idea refused: the same tree, the feedback
        self.handed: dict[int, Idea] = {}  # request -> idea, handed to the loop and not judged yet
        self.running: dict[int, str] = {}  # request -> hypothesis, being measured
        self.next_request = 1
        self.starts: dict[Path, str] = {}  # scratch folder -> the commit the agent started from
        self.failed_in_a_row = 0
        self.stopped = ""
        self._closed = False

    # -- the Proposer protocol -----------------------------------------------------------

    def propose(self, ctx: Context) -> Proposal | NotReady | None:
        self.warm(ctx)
        if self.ready:
            proposal, idea = self.ready.popleft()
            self.handed[idea.request] = idea
            self.running[idea.request] = proposal.hypothesis
            return proposal
        if self.tasks or (self.retries and not self.stopped):
            return NOT_READY
        return None

    def warm(self, ctx: Context) -> None:
        self._harvest(ctx)
        if self.stopped or self._closed:
            return
        want = min(max(1, ctx.slots), self.max_concurrency, max(0, ctx.experiments_left - len(self.ready)))
        while len(self.tasks) + len(self.ready) < want:
            if self.usage_.usd >= self.budget_usd:
                if not self.tasks:
                    self._stop(
                        f"the agent has spent ${self.usage_.usd:.4f} of the ${self.budget_usd:g} budget"
                    )
                return
            if self.retries:
                idea, feedback = self.retries.popleft()
                self._launch(idea.request, idea.parent, idea.attempt + 1, idea.folder, ctx, feedback)
            else:
                request = self.next_request
                self.next_request += 1
                folder = self.folder / f"{request:04d}"
                problem = self._scratch(folder, ctx)
                if problem:
                    self._stop(f"could not prepare the agent's scratch tree: {problem}")
                    return
                self._launch(request, ctx.parent, 1, folder, ctx, "")

    def rebase(self, proposal: Proposal, ctx: Context) -> Proposal | None:
        if not proposal.diff:
            return None
        return Proposal(
            proposal.proposer,
            proposal.hypothesis,
            proposal.rationale,
            ctx.parent,
            diff=proposal.diff,
            meta=proposal.meta,
        )

    def observe(self, outcome: Outcome) -> None:
        p = outcome.proposal
        request = int(p.meta.get("request", 0))
        self.running.pop(request, None)
        idea = self.handed.pop(request, None)
        if idea is not None:
            _clean(idea.folder)
        status = "accepted" if outcome.accepted else ("failed" if outcome.value is None else "discarded")
        status = "pruned" if outcome.pruned else status
        self.history.append(
            Entry(outcome.number, p.proposer, p.hypothesis, status, outcome.delta, outcome.reason)
        )

    def rejected(self, proposal: Proposal, violations: Sequence[Violation]) -> None:
        first = violations[0].render() if violations else "rejected"
        self.history.append(Entry(0, proposal.proposer, proposal.hypothesis, "rejected", None, first))
        text = "\n".join(f"- {v.render()}" for v in violations)
        self._again(proposal, prompt("command_rejected", violations=text, hypothesis=HYPOTHESIS))

    def duplicate(self, proposal: Proposal, of: int) -> None:
        which = "the base" if of == 0 else f"experiment #{of}"
        self.history.append(
            Entry(0, proposal.proposer, proposal.hypothesis, "duplicate", None, f"same code as {which}")
        )
        self._again(proposal, prompt("duplicate", which=which).replace(" (same JSON form)", ""))

    def usage(self) -> Mapping[str, Any]:
        return {"command": program_of(self.template) or self.template, **self.usage_.as_dict()}

    def restore_usage(self, usage: Mapping[str, Any]) -> None:
        u = self.usage_
        u.runs += int(usage.get("agent_runs", 0))
        u.failed_runs += int(usage.get("failed_agent_runs", 0))
        u.seconds += float(usage.get("seconds", 0.0))
        u.usd += float(usage.get("usd", 0.0))

    def close(self) -> None:
        """Stop the agents still running (their whole process groups)."""
        self._closed = True
        for task in self.tasks:
            task.process.cancel()
        for task in self.tasks:
            with contextlib.suppress(Exception):
                task.future.result(timeout=15)
        self.tasks.clear()

    # -- running the agent -----------------------------------------------------------------

    def _scratch(self, folder: Path, ctx: Context) -> str | None:
        """The incumbent's files (never the hidden ones) as a fresh repository of its own."""
        shutil.rmtree(folder, ignore_errors=True)
        tree = folder / "tree"
        try:
            for sub in ("tree", "home", "tmp", "out", "cache"):
                (folder / sub).mkdir(parents=True, exist_ok=True)
            for rel in ctx.source.files():
                if self._hidden(rel):
                    continue
                data = ctx.source.read_bytes(rel)
                if data is None:
                    continue
                path = tree / rel
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(data)
            self.starts[folder] = init_scratch(tree, STATE)
        except (OSError, StoreError) as exc:
            return str(exc)
        return None

    def _hidden(self, rel: str) -> bool:
        for hidden in self.config.hidden:
            hidden = hidden.rstrip("/")
            if rel == hidden or rel.startswith(hidden + "/") or glob_match(hidden, rel):
                return True
        return False

    def _launch(
        self, request: int, parent: str, attempt: int, folder: Path, ctx: Context, feedback: str
    ) -> None:
        tree = folder / "tree"
        text = self._prompt(ctx, feedback)
        (tree / STATE).mkdir(exist_ok=True)
        (tree / BRIEF).write_text(text, encoding="utf-8")
        with contextlib.suppress(FileNotFoundError):
            (tree / HYPOTHESIS).unlink()
        files = [a.path for a in self.boundaries.files.values()]
        command = render_command(
            self.template,
            {
                "prompt": text[:MAX_PROMPT_CHARS],
                "brief": str((tree / BRIEF).resolve()),
                "hypothesis": str((tree / HYPOTHESIS).resolve()),
                "files": files,
            },
        )
        env = {
            **self.env,
            **SCRATCH_IDENTITY,
            "HOME": str((folder / "home").resolve()),
            "TMPDIR": str((folder / "tmp").resolve()),
            "GITRESEARCH_BRIEF": str((tree / BRIEF).resolve()),
            "GITRESEARCH_HYPOTHESIS": str((tree / HYPOTHESIS).resolve()),
            "GITRESEARCH_ATTEMPT": str(attempt),
        }
        wrapper: tuple[str, ...] = ()
        if self.sandboxed:
            spec = self._spec(folder)
            env = {**sandbox_env(env, spec), "TMPDIR": env["TMPDIR"]}
            env["HOME"] = str((folder / "home").resolve())
            wrapper = (*wrap(spec), *self._credentials(folder))
        launch = Launch(
            command=command,
            cwd=tree,
            env=env,
            timeout=self.agent.timeout,
            log_path=folder / f"agent-{attempt}.log",
            wrapper=wrapper,
        )
        process = RunningProcess(launch)
        future: Future[ProcessOutcome] = Future()

        def wait() -> None:
            try:
                future.set_result(process.wait())
            except BaseException as e:  # handed to the loop's thread
                future.set_exception(e)

        threading.Thread(target=wait, name="agent-command", daemon=True).start()
        self.tasks.append(Task(request, parent, attempt, folder, process, future))
        self.say(f"agent: idea {request}{f', attempt {attempt}' if attempt > 1 else ''} started")

    def _spec(self, folder: Path) -> Spec:
        hide = [self.root.resolve(), self.state_dir.parent.resolve()]
        if self.home and Path(self.home).is_absolute() and Path(self.home).resolve() != Path("/"):
            hide.append(Path(self.home).resolve())
        shown = [Path(os.path.expanduser(p)).resolve() for p in self.agent.read_only]
        return Spec(
            worktree=(folder / "tree").resolve(),
            scratch=folder.resolve(),
            out=(folder / "out").resolve(),
            cache=(folder / "cache").resolve(),
            hide=hide,
            read_only=[*self.tools, *[p for p in shown if p.exists()]],
            network=True,
        )

    def _credentials(self, folder: Path) -> list[str]:
        """`read_only` paths under the user's home appear in the agent's home too (~/.codex)."""
        if not self.home:
            return []
        home = Path(self.home).resolve()
        args: list[str] = []
        for raw in self.agent.read_only:
            path = Path(os.path.expanduser(raw)).resolve()
            if path.exists() and home in path.parents:
                inside = (folder / "home" / path.relative_to(home)).resolve()
                args += ["--ro-bind", str(path), str(inside)]
        return args

    def _prompt(self, ctx: Context, feedback: str) -> str:
        pending = list(self.running.values()) + [p.hypothesis for p, _ in self.ready]
        return prompt(
            "command",
            brief=self.brief or "(none given: improve the metric)",
            objective=objective_text(self.config, ctx),
            boundaries=boundaries_text(self.boundaries, self.config),
            history=history_text(self.history),
            budget=budget_text(ctx, self.budget_usd - self.usage_.usd),
            inflight=inflight_text(pending),
            hypothesis=HYPOTHESIS,
            feedback=feedback,
        )

    def _harvest(self, ctx: Context) -> None:
        for task in [t for t in self.tasks if t.future.done()]:
            self.tasks.remove(task)
            try:
                outcome = task.future.result()
            except Exception as exc:
                self._failed(task, f"the agent could not be run: {exc}")
                continue
            self._account(outcome)
            if self._closed:
                continue
            idea = Idea(task.request, task.parent, task.attempt, task.folder)
            try:
                diff, commit_message = scratch_changes(task.folder / "tree", self.starts[task.folder], STATE)
            except (StoreError, KeyError) as exc:
                self._failed(task, f"its scratch tree could not be read: {exc}")
                continue
            if outcome.start_error:
                self._failed(task, outcome.start_error)
                continue
            if outcome.timed_out and not diff:
                self._failed(task, f"it ran past the {self.agent.timeout:g} s timeout without an edit")
                continue
            if not diff:
                exit_note = f" (exit {outcome.exit_code})" if outcome.exit_code else ""
                self._failed(task, f"it changed no file{exit_note}; its log: {outcome.log_path}", idea)
                continue
            self.failed_in_a_row = 0
            hypothesis, rationale = self._hypothesis(task.folder / "tree", commit_message, diff)
            meta: dict[str, Any] = {
                "request": task.request,
                "attempt": task.attempt,
                "agent": program_of(self.template) or self.template,
                "seconds": round(outcome.seconds, 3),
                "exit_code": outcome.exit_code,
                "agent_log": str(outcome.log_path),
            }
            cost = reported_cost(read_log_tail(outcome.log_path, 200_000)[0])
            if cost is not None:
                meta["usd"] = cost
            proposal = Proposal(self.name, hypothesis, rationale, task.parent, diff=diff, meta=meta)
            self.ready.append((proposal, idea))

    def _account(self, outcome: ProcessOutcome) -> None:
        u = self.usage_
        u.runs += 1
        u.seconds += outcome.seconds
        u.timed_out += int(outcome.timed_out)
        cost = (
            reported_cost(read_log_tail(outcome.log_path, 200_000)[0]) if outcome.log_path.exists() else None
        )
        if cost is not None:
            u.usd += cost

    def _failed(self, task: Task, why: str, idea: Idea | None = None) -> None:
        self.usage_.failed_runs += 1
        self.failed_in_a_row += 1
        self.say(f"agent: idea {task.request} gave no proposal: {why}")
        if idea is not None and idea.attempt < MAX_ATTEMPTS and self.failed_in_a_row < MAX_FAILED_RUNS:
            self.retries.append(
                (idea, f"Your last run changed no file. Edit the files in place, then write {HYPOTHESIS}.")
            )
        else:
            _clean(task.folder)
        if self.failed_in_a_row >= MAX_FAILED_RUNS:
            self._stop(f"{self.failed_in_a_row} agent runs in a row gave no proposal; the last: {why}")

    @staticmethod
    def _hypothesis(tree: Path, commit_message: str, diff: str) -> tuple[str, str]:
        text = ""
        with contextlib.suppress(OSError, UnicodeDecodeError):
            text = (tree / HYPOTHESIS).read_text(encoding="utf-8").strip()
        text = text or commit_message
        if text:
            first, _, rest = text.partition("\n")
            return first.strip().lstrip("# ").strip(), rest.strip()
        files = sorted(set(re.findall(r"^\+\+\+ b/(.+)$", diff, re.M)))
        return f"(the agent gave no hypothesis) edits {', '.join(files)}", ""

    def _again(self, proposal: Proposal, feedback: str) -> None:
        """A refused diff goes back to the agent, in the same tree, with the reason."""
        if proposal.proposer != self.name:
            return
        request = int(proposal.meta.get("request", 0))
        self.running.pop(request, None)
        idea = self.handed.pop(request, None)
        if idea is None:
            return
        if idea.attempt >= MAX_ATTEMPTS or self.stopped:
            self.say(f"agent: idea {request} refused {idea.attempt} time(s); dropped")
            _clean(idea.folder)
            return
        self.retries.appendleft((idea, feedback))

    def _stop(self, why: str) -> None:
        if not self.stopped:
            self.stopped = why
            self.retries.clear()
            self.say(f"agent stops proposing: {cut(why, 400)}")


def _clean(folder: Path) -> None:
    """An idea is done with: its scratch tree goes, the agent's logs stay (`agent-N.log`)."""
    for sub in ("tree", "home", "tmp", "out", "cache"):
        shutil.rmtree(folder / sub, ignore_errors=True)
