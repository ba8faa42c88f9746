"""The LLM agent: structured patch proposals with feedback, memory and a dollar budget.

Every request is built fresh from what the run knows now (the brief, the objective, the
boundaries, the incumbent's code of every region, a compact history, the budget left), so a
long run never outgrows the model's context. Replies are JSON (hypothesis, rationale, region
edits), parsed robustly when the server ignores the schema.

Feedback stays in the conversation it answers: a reply that is not usable JSON, a patch the
boundaries rejected, or code that was already measured goes back to the model with the
reason, `MAX_ATTEMPTS` times at most per idea. A crashed experiment of the agent's is
followed by one fix request that sees the end of its log.

The agent thinks while benchmarks run: `warm` keeps up to one request per slot in flight on
a small thread pool (only the HTTP call runs there; prompts, parsing and all state stay on
the loop's thread), and `propose` hands out a ready proposal or `NOT_READY`. Before each
request the worst case (its prompt plus `max_tokens` of reply, plus what is in flight) is
checked against `budget.llm_usd`; the agent stops proposing rather than overspend.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

from gitresearch.boundaries.config import Config
from gitresearch.boundaries.policy import DEFAULT_FORBIDDEN
from gitresearch.boundaries.regions import SyntaxProblem, parse
from gitresearch.boundaries.resolve import Boundaries
from gitresearch.boundaries.validator import RegionEdit, Violation
from gitresearch.propose.base import NOT_READY, Context, NotReady, Outcome, Proposal
from gitresearch.propose.briefing import (
    Entry,
    boundaries_text,
    budget_text,
    history_text,
    inflight_text,
    objective_text,
    prompt,
)
from gitresearch.propose.llm import ChatClient, Reply, estimate_tokens

MAX_ATTEMPTS = 3  # replies per idea: the first and up to two corrections
MAX_FAILED_REQUESTS = 5  # requests in a row that failed (after retries) before the agent stops
MAX_BRIEF_CHARS = 8000
MAX_FILE_CHARS = 16000
MAX_LOG_CHARS = 3000

SCHEMA: Mapping[str, Any] = {
    "type": "object",
    "properties": {
        "hypothesis": {"type": "string"},
        "rationale": {"type": "string"},
        "edits": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "path": {"type": "string"},
                    "region": {"type": "string"},
                    "source": {"type": "string"},
                },
                "required": ["path", "region", "source"],
                "additionalProperties": False,
            },
        },
    },
    "required": ["hypothesis", "rationale", "edits"],
    "additionalProperties": False,
}


class Malformed(ValueError):
    """A reply that is not a usable proposal; the message goes back to the model."""


def parse_reply(text: str) -> tuple[str, str, tuple[RegionEdit, ...]]:
    """hypothesis, rationale and edits from a reply: bare JSON, fenced, or JSON amid prose."""
    data = _json_object(text)
    if not isinstance(data, dict):
        raise Malformed("the reply is not a JSON object")
    hypothesis = data.get("hypothesis")
    if not isinstance(hypothesis, str) or not hypothesis.strip():
        raise Malformed('"hypothesis" is missing or not a non-empty string')
    rationale = data.get("rationale", "")
    if not isinstance(rationale, str):
        raise Malformed('"rationale" must be a string')
    raw = data.get("edits")
    if not isinstance(raw, list) or not raw:
        raise Malformed('"edits" must be a non-empty list of {"path", "region", "source"} objects')
    edits: list[RegionEdit] = []
    for i, item in enumerate(raw):
        if not isinstance(item, dict) or not all(
            isinstance(item.get(k), str) for k in ("path", "region", "source")
        ):
            raise Malformed(f'edit {i + 1} must be an object with string "path", "region" and "source"')
        edits.append(RegionEdit(item["path"].strip(), item["region"].strip(), item["source"]))
    return " ".join(hypothesis.split()), rationale.strip(), tuple(edits)


def _json_object(text: str) -> Any:
    stripped = text.strip()
    fenced = re.search(r"```(?:json)?\s*\n(.*?)```", stripped, re.DOTALL)
    candidates = [stripped] + ([fenced.group(1)] if fenced else [])
    decoder = json.JSONDecoder()
    for candidate in candidates:
        try:
            return json.loads(candidate)
        except json.JSONDecodeError:
            pass
    # The first decodable object in the text (models like to explain around it).
    for match in re.finditer(r"\{", stripped):
        try:
            obj, _ = decoder.raw_decode(stripped, match.start())
        except json.JSONDecodeError:
            continue
        if isinstance(obj, dict):
            return obj
    raise Malformed("no JSON object was found in the reply")


@dataclass
class Conversation:
    messages: list[dict[str, str]]
    parent: str
    attempt: int = 1
    kind: str = "idea"  # idea | fix
    fix_of: int | None = None
    snapshot: Mapping[tuple[str, str], str] = field(default_factory=dict)  # region texts shown


@dataclass
class Request:
    conversation: Conversation
    future: Future[Reply]
    worst_usd: float
    started: float = field(default_factory=time.monotonic)


@dataclass
class Usage:
    requests: int = 0
    failed_requests: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    usd: float = 0.0
    malformed: int = 0
    truncated: int = 0  # replies cut off at max_tokens
    retries: int = 0
    timed_out_tries: int = 0  # counted at a conservative estimate: prompt + max_tokens each
    seconds: float = 0.0
    response_format: str | None = None  # the mode the server took, once it answered

    def as_dict(self) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "failed_requests": self.failed_requests,
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "usd": round(self.usd, 6),
            "malformed_replies": self.malformed,
            "truncated_replies": self.truncated,
            "timed_out_tries": self.timed_out_tries,
            "retries": self.retries,
            "seconds": round(self.seconds, 3),
            **({"response_format": self.response_format} if self.response_format else {}),
        }


class LLMProposer:
    name = "llm"
    defers_confirmation = False  # each idea builds on the incumbent

    def __init__(
        self,
        client: ChatClient,
        boundaries: Boundaries,
        config: Config,
        brief: str | None,
        *,
        say: Callable[[str], None] = lambda line: None,
        max_concurrency: int = 4,
    ) -> None:
        self.client = client
        self.boundaries = boundaries
        self.config = config
        self.brief = (brief or "").strip()
        self.say = say
        self.budget_usd = config.budget.llm_usd
        self.usage_ = Usage()
        self.history: list[Entry] = []
        self.ready: deque[tuple[Proposal, Conversation]] = deque()
        self.followups: deque[Conversation | Outcome] = deque()  # corrections first, then fix requests
        self.inflight: list[Request] = []
        self.sent: dict[int, Conversation] = {}  # request id in proposal.meta -> its conversation
        self.running: dict[int, str] = {}  # request id -> hypothesis, handed out and not finished
        self.next_id = 1
        self.failed_in_a_row = 0
        self.stopped = ""
        self.max_concurrency = max_concurrency
        forbidden = sorted(DEFAULT_FORBIDDEN | set(config.policy.forbid_names))
        self.system = prompt("system", forbidden=", ".join(forbidden))

    # -- the Proposer protocol -----------------------------------------------------------

    def propose(self, ctx: Context) -> Proposal | NotReady | None:
        self.warm(ctx)
        if self.ready:
            proposal, conversation = self.ready.popleft()
            self.sent[int(proposal.meta["request"])] = conversation
            self.running[int(proposal.meta["request"])] = proposal.hypothesis
            if proposal.parent != ctx.parent and self._untouched(proposal, conversation.snapshot, ctx):
                proposal = _with_parent(proposal, ctx.parent)
            return proposal
        if self.inflight or (self.followups and not self.stopped):
            return NOT_READY
        return None

    def warm(self, ctx: Context) -> None:
        self._harvest()
        if self.stopped:
            return
        want = min(max(1, ctx.slots), self.max_concurrency, max(0, ctx.experiments_left - len(self.ready)))
        while len(self.inflight) + len(self.ready) < want:
            conversation = self._next_conversation(ctx)
            if not self._send(conversation):
                return

    def rebase(self, proposal: Proposal, ctx: Context) -> Proposal | None:
        return _with_parent(proposal, ctx.parent) if proposal.edits else None

    def observe(self, outcome: Outcome) -> None:
        p = outcome.proposal
        self.running.pop(int(p.meta.get("request", 0)), None)
        status = "accepted" if outcome.accepted else ("failed" if outcome.value is None else "discarded")
        status = "pruned" if outcome.pruned else status
        self.history.append(
            Entry(outcome.number, p.proposer, p.hypothesis, status, outcome.delta, outcome.reason)
        )
        if (
            p.proposer == self.name
            and status == "failed"
            and p.meta.get("kind") != "fix"
            and not self.stopped
        ):
            self.followups.append(outcome)

    def rejected(self, proposal: Proposal, violations: Sequence[Violation]) -> None:
        self.running.pop(int(proposal.meta.get("request", 0)), None)
        first = violations[0].render() if violations else "rejected"
        self.history.append(Entry(0, proposal.proposer, proposal.hypothesis, "rejected", None, first))
        text = "\n".join(f"- {v.render()}" for v in violations)
        self._correct(proposal, prompt("rejected", violations=text))

    def duplicate(self, proposal: Proposal, of: int) -> None:
        self.running.pop(int(proposal.meta.get("request", 0)), None)
        which = "the base" if of == 0 else f"experiment #{of}"
        self.history.append(
            Entry(0, proposal.proposer, proposal.hypothesis, "duplicate", None, f"same code as {which}")
        )
        self._correct(proposal, prompt("duplicate", which=which))

    def usage(self) -> Mapping[str, Any]:
        waiting = self.waiting()
        return {
            "model": self.client.model,
            "server": self.client.where,
            **self.usage_.as_dict(),
            **({"waiting_s": round(waiting, 1)} if waiting else {}),
        }

    def restore_usage(self, usage: Mapping[str, Any]) -> None:
        u = self.usage_
        u.requests += int(usage.get("requests", 0))
        u.failed_requests += int(usage.get("failed_requests", 0))
        u.prompt_tokens += int(usage.get("prompt_tokens", 0))
        u.completion_tokens += int(usage.get("completion_tokens", 0))
        u.usd += float(usage.get("usd", 0.0))

    def close(self) -> None:
        """Forget requests in flight (their daemon threads end with the process)."""
        self.inflight.clear()

    # -- requests --------------------------------------------------------------------------

    def _next_conversation(self, ctx: Context) -> Conversation:
        item = self.followups.popleft() if self.followups else None
        if isinstance(item, Conversation):
            return item
        code, snapshot = _code(self.boundaries, ctx)
        brief = self._brief(ctx, code)
        if item is None:
            return Conversation(
                [{"role": "system", "content": self.system}, {"role": "user", "content": brief}],
                ctx.parent,
                snapshot=snapshot,
            )
        crashed = prompt(
            "crashed",
            number=item.number,
            hypothesis=item.proposal.hypothesis,
            reason=item.reason,
            edits=_render_edits(item.proposal.edits),
            log=(item.log_tail or "(no log)")[-MAX_LOG_CHARS:],
        )
        return Conversation(
            [
                {"role": "system", "content": self.system},
                {"role": "user", "content": brief + "\n\n" + crashed},
            ],
            ctx.parent,
            kind="fix",
            fix_of=item.number,
            snapshot=snapshot,
        )

    def _send(self, conversation: Conversation) -> bool:
        prompt_tokens = sum(estimate_tokens(m["content"]) for m in conversation.messages)
        worst = self.client.prices.cost(
            prompt_tokens, self.config.agent.max_tokens if self.config.agent else 4096
        )
        committed = self.usage_.usd + sum(r.worst_usd for r in self.inflight)
        if committed + worst > self.budget_usd:
            if not self.inflight:
                self._stop(
                    f"the LLM budget would be exceeded by the next request (spent ${self.usage_.usd:.4f} "
                    f"of ${self.budget_usd:g}; the next could cost up to ${worst:.4f})"
                )
            return False
        future: Future[Reply] = Future()
        messages = list(conversation.messages)

        def call() -> None:
            try:
                future.set_result(self.client.complete(messages, SCHEMA))
            except BaseException as e:  # handed to the loop's thread, which decides
                future.set_exception(e)

        # Daemon threads: a request still waiting on a slow server never holds up the exit.
        threading.Thread(target=call, name="llm-request", daemon=True).start()
        self.inflight.append(Request(conversation, future, worst))
        return True

    def _harvest(self) -> None:
        done = [r for r in self.inflight if r.future.done()]
        for request in done:
            self.inflight.remove(request)
            try:
                reply = request.future.result()
            except Exception as e:  # LLMError, or anything else the client raised: a failed request
                self._timed_out(request, getattr(e, "timeouts", 0))
                self.usage_.failed_requests += 1
                self.failed_in_a_row += 1
                self.say(f"LLM request failed: {e}")
                if self.failed_in_a_row >= MAX_FAILED_REQUESTS:
                    self._stop(f"{self.failed_in_a_row} LLM requests in a row failed; the last: {e}")
                continue
            self.failed_in_a_row = 0
            self._timed_out(request, reply.timeouts)
            self._account(reply)
            self._take(request.conversation, reply)

    def _timed_out(self, request: Request, tries: int) -> None:
        """Tries that timed out may still be billed: count each as its prompt plus a full reply."""
        if tries <= 0:
            return
        prompt_tokens = sum(estimate_tokens(m["content"]) for m in request.conversation.messages)
        max_tokens = self.config.agent.max_tokens if self.config.agent else 4096
        u = self.usage_
        u.timed_out_tries += tries
        u.prompt_tokens += tries * prompt_tokens
        u.completion_tokens += tries * max_tokens
        u.usd += tries * self.client.prices.cost(prompt_tokens, max_tokens)

    def waiting(self) -> float:
        """Seconds the oldest request in flight has been waiting for the model (0: none)."""
        inflight = list(self.inflight)
        return time.monotonic() - min(r.started for r in inflight) if inflight else 0.0

    def _account(self, reply: Reply) -> None:
        u = self.usage_
        u.requests += 1
        u.retries += reply.retries
        u.seconds += reply.seconds
        u.prompt_tokens += reply.prompt_tokens
        u.completion_tokens += reply.completion_tokens
        u.usd += self.client.prices.cost(reply.prompt_tokens, reply.completion_tokens)
        u.response_format = reply.mode

    def _take(self, conversation: Conversation, reply: Reply) -> None:
        if reply.finish_reason == "length":  # cut off at max_tokens: say so, not "a field is missing"
            self.usage_.malformed += 1
            self.usage_.truncated += 1
            max_tokens = self.config.agent.max_tokens if self.config.agent else 4096
            self.say(
                f"LLM reply cut off at max_tokens ({max_tokens})"
                + ("; asking for a shorter one" if conversation.attempt < MAX_ATTEMPTS else "")
            )
            self._continue(conversation, reply.text, prompt("truncated", max_tokens=max_tokens))
            return
        try:
            hypothesis, rationale, edits = parse_reply(reply.text)
        except Malformed as e:
            self.usage_.malformed += 1
            self.say(
                f"LLM reply unusable ({e}){'; asking again' if conversation.attempt < MAX_ATTEMPTS else ''}"
            )
            self._continue(conversation, reply.text, prompt("malformed", error=str(e)))
            return
        request_id = self.next_id
        self.next_id += 1
        meta: dict[str, Any] = {
            "request": request_id,
            "kind": conversation.kind,
            "attempt": conversation.attempt,
            "model": self.client.model,
            "reply": reply.text,
        }
        if conversation.fix_of is not None:
            meta["fix_of"] = conversation.fix_of
        conversation.messages.append({"role": "assistant", "content": reply.text})
        proposal = Proposal(self.name, hypothesis, rationale, conversation.parent, edits=edits, meta=meta)
        self.ready.append((proposal, conversation))

    def _correct(self, proposal: Proposal, feedback: str) -> None:
        if proposal.proposer != self.name:
            return
        conversation = self.sent.pop(int(proposal.meta.get("request", 0)), None)
        if conversation is None:
            return
        self._continue(conversation, None, feedback)

    def _continue(self, conversation: Conversation, assistant: str | None, feedback: str) -> None:
        if conversation.attempt >= MAX_ATTEMPTS or self.stopped:
            return
        messages = list(conversation.messages)
        if assistant is not None:
            messages.append({"role": "assistant", "content": assistant})
        messages.append({"role": "user", "content": feedback})
        self.followups.appendleft(
            Conversation(
                messages,
                conversation.parent,
                conversation.attempt + 1,
                conversation.kind,
                conversation.fix_of,
                conversation.snapshot,
            )
        )

    def _stop(self, why: str) -> None:
        if not self.stopped:
            self.stopped = why
            self.followups.clear()
            self.say(f"LLM agent stops proposing: {why}")

    # -- what the model sees ---------------------------------------------------------------

    def _untouched(self, proposal: Proposal, snapshot: Mapping[tuple[str, str], str], ctx: Context) -> bool:
        """Whether every region the proposal edits reads on ctx.parent as it did when the model saw it.

        Then the proposal can run on the newer incumbent at once, instead of being measured
        against an old one and re-applied later."""
        now = _code(self.boundaries, ctx)[1]
        return all(
            (e.path, e.region) in snapshot and snapshot[(e.path, e.region)] == now.get((e.path, e.region))
            for e in proposal.edits
        )

    def _brief(self, ctx: Context, code: str) -> str:
        return prompt(
            "propose",
            brief=self.brief[:MAX_BRIEF_CHARS] or "(none given: improve the metric)",
            objective=objective_text(self.config, ctx),
            boundaries=boundaries_text(self.boundaries, self.config),
            regions=code,
            history=history_text(self.history),
            budget=budget_text(ctx, self.budget_usd - self.usage_.usd),
            inflight=inflight_text(list(self.running.values()) + [p.hypothesis for p, _ in self.ready]),
            metric=self.config.objective.metric,
        )


def _with_parent(proposal: Proposal, parent: str) -> Proposal:
    return Proposal(
        proposal.proposer,
        proposal.hypothesis,
        proposal.rationale,
        parent,
        edits=proposal.edits,
        files=proposal.files,
        meta=proposal.meta,
    )


def _code(boundaries: Boundaries, ctx: Context) -> tuple[str, dict[tuple[str, str], str]]:
    """The editable code of ctx.parent, read once: the prompt's section showing it, and the
    text of every named region (to tell later whether the model's view is still current)."""
    parts: list[str] = []
    snapshot: dict[tuple[str, str], str] = {}
    texts: dict[str, str] = {}

    def text_of(path: str) -> str:
        if path not in texts:
            texts[path] = (ctx.source.read_bytes(path) or b"").decode("utf-8", "replace")
        return texts[path]

    for allowed, region in boundaries.resolved_regions(ctx.source):
        code = region.text(text_of(allowed.path))
        snapshot[(allowed.path, region.name)] = code
        parts.append(
            f"## {allowed.path} :: {region.name} (lines {region.start_line}-{region.end_line})\n"
            f"```python\n{code}\n```"
        )
    for allowed in boundaries.files.values():
        if allowed.regions is not None or not allowed.is_python:
            continue
        text = text_of(allowed.path)
        parsed = parse(text)
        names = ""
        if not isinstance(parsed, SyntaxProblem):
            names = ", ".join(sorted(parsed.regions))
            for name in parsed.regions:
                found = parsed.region(name)
                if found is not None:
                    snapshot[(allowed.path, name)] = found.text(text)
        shown = text if len(text) <= MAX_FILE_CHARS else text[:MAX_FILE_CHARS] + "\n# ... (cut)"
        parts.append(f"## {allowed.path} (the whole file; regions: {names})\n```python\n{shown}\n```")
    return "\n\n".join(parts), snapshot


def _render_edits(edits: Sequence[RegionEdit]) -> str:
    return "\n".join(f"{e.path} :: {e.region}\n```python\n{e.source}\n```" for e in edits) or "(none)"
