"""The one place that talks to an LLM: the `openai` client against any compatible server.

`ChatClient` is built once from `[agent]` (model, base_url, api_key_env) with the usual
environment fallbacks (`OPENAI_BASE_URL`, `OPENAI_API_KEY`), checks before the run starts
that the server answers and serves the model (`preflight`), and then completes chats:
asking for a JSON reply with a schema where the server supports it, falling back to JSON
mode and then to plain text (remembered for the rest of the run) where it does not, and
retrying rate limits, timeouts and server errors with backoff before it gives up with an
`LLMError`. It is safe to call from several threads at once (the agent keeps requests in
flight while benchmarks run). An `http_client` can be injected (an `httpx2.Client`).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal

import openai

from gitresearch.boundaries.config import AgentConfig
from gitresearch.errors import GitResearchError, UsageError

OPENAI_URL = "https://api.openai.com/v1"
RETRIES = 3  # after the first try
MAX_BACKOFF = 30.0
# USD per million tokens (input, output) for models whose price is well known; anything
# else needs price_input / price_output in [agent], except on a server of your own.
KNOWN_PRICES: Mapping[str, tuple[float, float]] = {
    "gpt-4.1": (2.0, 8.0),
    "gpt-4.1-mini": (0.4, 1.6),
    "gpt-4.1-nano": (0.1, 0.4),
    "gpt-4o": (2.5, 10.0),
    "gpt-4o-mini": (0.15, 0.6),
}

Mode = Literal["json_schema", "json_object", "plain"]
Message = Mapping[str, str]


class LLMError(GitResearchError):
    """A request that failed for good (after its retries)."""

    def __init__(self, kind: str, message: str, timeouts: int = 0) -> None:
        super().__init__(message)
        self.kind = kind  # rate-limit | timeout | connection | server | refused | empty
        self.timeouts = timeouts  # tries that timed out: a paid server may have billed them


@dataclass(frozen=True)
class Reply:
    text: str
    prompt_tokens: int
    completion_tokens: int
    seconds: float
    retries: int
    mode: Mode
    estimated_usage: bool = False  # the server reported no usage; counted from the text
    finish_reason: str | None = None  # "length": cut off at max_tokens
    timeouts: int = 0  # earlier tries of this request that timed out (retried)


@dataclass(frozen=True)
class Prices:
    input: float  # USD per million tokens
    output: float

    def cost(self, prompt_tokens: int, completion_tokens: int) -> float:
        return (prompt_tokens * self.input + completion_tokens * self.output) / 1e6


def estimate_tokens(text: str) -> int:
    """A conservative token count for budgeting before a request (about 3.5 characters each)."""
    return int(len(text) / 3.5) + 8


class ChatClient:
    def __init__(
        self,
        agent: AgentConfig,
        env: Mapping[str, str],
        *,
        http_client: Any | None = None,
        sleep: Callable[[float], None] = time.sleep,
        config_label: str = "[agent]",
    ) -> None:
        self.agent = agent
        self.model = agent.model
        self.base_url = agent.base_url or env.get("OPENAI_BASE_URL") or None
        self.where = self.base_url or OPENAI_URL
        self.config_label = config_label
        key_env = agent.api_key_env or "OPENAI_API_KEY"
        key = env.get(key_env, "")
        if not key:
            if self.base_url is None or agent.api_key_env is not None:
                raise UsageError(
                    f"{config_label}: the LLM needs an API key and ${key_env} is not set; "
                    f"export {key_env}=... (or set api_key_env to the variable that holds it)"
                )
            key = "none"  # a server of your own that ignores keys
        self.key_env = key_env
        self.prices = self._prices()
        self._sleep = sleep
        self._lock = threading.Lock()
        self._mode: Mode = "json_schema"
        self._tokens_param = "max_tokens"  # newer OpenAI models want max_completion_tokens
        self._send_temperature = agent.temperature is not None
        self._client = openai.OpenAI(
            api_key=key,
            base_url=self.base_url,
            timeout=agent.timeout,
            max_retries=0,  # retried here, so that every retry is seen and counted
            http_client=http_client,
        )

    def _prices(self) -> Prices:
        a = self.agent
        known = KNOWN_PRICES.get(a.model)
        if a.price_input is not None and a.price_output is not None:
            return Prices(a.price_input, a.price_output)
        if known is not None and self.base_url is None:
            return Prices(
                a.price_input if a.price_input is not None else known[0],
                a.price_output if a.price_output is not None else known[1],
            )
        if self.base_url is not None:
            return Prices(a.price_input or 0.0, a.price_output or 0.0)
        raise UsageError(
            f'{self.config_label}: no known price for model "{a.model}"; set price_input and '
            "price_output (USD per million tokens) in [agent] so that budget.llm_usd can be enforced"
        )

    @property
    def mode(self) -> Mode:
        return self._mode

    def preflight(self) -> str:
        """Check that the server answers and serves the model; a line saying so, or UsageError."""
        try:
            listed = self._client.with_options(timeout=min(15.0, self.agent.timeout)).models.list()
            names = [m.id for m in listed.data]
        except openai.AuthenticationError as e:
            raise UsageError(
                f"the LLM server at {self.where} refused the API key in ${self.key_env} ({_short(e)})"
            ) from None
        except openai.NotFoundError:
            names = []  # reachable, but it lists no models; the first request will tell
        except (openai.APIConnectionError, openai.APITimeoutError) as e:
            raise UsageError(
                f"cannot reach the LLM server at {self.where} ({_short(e)}); start it, or fix "
                f"base_url in {self.config_label}"
            ) from None
        except openai.APIStatusError as e:
            raise UsageError(
                f"the LLM server at {self.where} answered {e.status_code}: {_short(e)}"
            ) from None
        if names and self.model not in names:
            # llama.cpp lists the full path it loaded and answers under any name: warn, go on;
            # a server that truly lacks the model refuses the first request, which stops the agent
            shown = ", ".join(sorted(names)[:12]) + (" ..." if len(names) > 12 else "")
            return (
                f'warning: the LLM server at {self.where} does not list model "{self.model}" (it lists: '
                f"{shown}); going on, since some servers answer under any name. If the first "
                f"requests are refused, set model in {self.config_label} to one of those"
            )
        return f"LLM {self.model} at {self.where}"

    def complete(self, messages: Sequence[Message], schema: Mapping[str, Any]) -> Reply:
        """One chat completion (retried on rate limits, timeouts and server errors)."""
        start = time.perf_counter()
        retries = timeouts = 0
        while True:
            mode = self._mode
            try:
                response = self._client.chat.completions.create(**self._request(messages, schema, mode))
            except openai.BadRequestError as e:
                if self._adapt(e):
                    continue
                if mode != "plain" and _about_format(e):
                    self._downgrade(mode)
                    continue
                raise LLMError("refused", f"the server refused the request: {_short(e)}") from None
            except openai.UnprocessableEntityError as e:
                if mode != "plain":
                    self._downgrade(mode)
                    continue
                raise LLMError("refused", f"the server refused the request: {_short(e)}") from None
            except (openai.AuthenticationError, openai.PermissionDeniedError, openai.NotFoundError) as e:
                raise LLMError("refused", f"the server refused the request: {_short(e)}") from None
            except (
                openai.RateLimitError,
                openai.APITimeoutError,
                openai.APIConnectionError,
                openai.InternalServerError,
            ) as e:
                kind = _kind(e)
                timeouts += kind == "timeout"
                if retries >= RETRIES:
                    raise LLMError(kind, f"{kind} after {retries + 1} tries: {_short(e)}", timeouts) from None
                self._sleep(_backoff(e, retries))
                retries += 1
                continue
            except openai.APIStatusError as e:
                if e.status_code >= 500 and retries < RETRIES:
                    self._sleep(_backoff(e, retries))
                    retries += 1
                    continue
                raise LLMError("server", f"the server answered {e.status_code}: {_short(e)}") from None
            return replace(self._reply(response, messages, start, retries, mode), timeouts=timeouts)

    def _request(self, messages: Sequence[Message], schema: Mapping[str, Any], mode: Mode) -> dict[str, Any]:
        request: dict[str, Any] = {
            "model": self.model,
            "messages": [dict(m) for m in messages],
            self._tokens_param: self.agent.max_tokens,
        }
        if self._send_temperature:
            request["temperature"] = self.agent.temperature
        if mode == "json_schema":
            request["response_format"] = {
                "type": "json_schema",
                "json_schema": {"name": "proposal", "schema": dict(schema), "strict": True},
            }
        elif mode == "json_object":
            request["response_format"] = {"type": "json_object"}
        return request

    def _adapt(self, e: openai.BadRequestError) -> bool:
        """Follow a server that names a parameter it does not take; True when worth a retry."""
        text = str(e).lower()
        with self._lock:
            if "max_completion_tokens" in text and self._tokens_param == "max_tokens":
                self._tokens_param = "max_completion_tokens"
                return True
            if "temperature" in text and self._send_temperature:
                self._send_temperature = False
                return True
        return False

    def _downgrade(self, mode: Mode) -> None:
        with self._lock:
            if self._mode == mode:
                self._mode = "json_object" if mode == "json_schema" else "plain"

    def _reply(
        self, response: Any, messages: Sequence[Message], start: float, retries: int, mode: Mode
    ) -> Reply:
        choices = getattr(response, "choices", None) or []
        text = (choices[0].message.content or "") if choices else ""
        finish = getattr(choices[0], "finish_reason", None) if choices else None
        usage = getattr(response, "usage", None)
        prompt = getattr(usage, "prompt_tokens", None) if usage is not None else None
        completion = getattr(usage, "completion_tokens", None) if usage is not None else None
        estimated = prompt is None or completion is None
        if prompt is None:
            prompt = sum(estimate_tokens(m.get("content", "")) for m in messages)
        if completion is None:
            completion = estimate_tokens(text)
        if not text.strip():
            raise LLMError("empty", "the server sent an empty reply")
        return Reply(
            text,
            int(prompt),
            int(completion),
            time.perf_counter() - start,
            retries,
            mode,
            estimated,
            finish_reason=finish if isinstance(finish, str) else None,
        )


def _about_format(e: openai.APIStatusError) -> bool:
    text = str(e).lower()
    return any(word in text for word in ("response_format", "json_schema", "schema", "json mode", "format"))


def _kind(e: Exception) -> str:
    if isinstance(e, openai.RateLimitError):
        return "rate-limit"
    if isinstance(e, openai.APITimeoutError):
        return "timeout"
    if isinstance(e, openai.APIConnectionError):
        return "connection"
    return "server"


def _backoff(e: Exception, retries: int) -> float:
    response = getattr(e, "response", None)
    headers = getattr(response, "headers", None)
    if headers is not None:
        value = headers.get("retry-after")
        if value is not None:
            try:
                return min(MAX_BACKOFF, max(0.0, float(value)))
            except ValueError:
                pass
    return min(MAX_BACKOFF, 2.0**retries)


def _short(e: Exception) -> str:
    text = " ".join(str(e).split())
    return text if len(text) <= 300 else text[:297] + "..."
