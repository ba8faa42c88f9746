"""A small local server speaking the Chat Completions API, with scripted replies.

For tests and benchmarks of the agent (and for a dry run of an `[agent]` set-up without a
real model): it listens on 127.0.0.1, serves `GET /v1/models` and
`POST /v1/chat/completions`, records every request, and answers each completion with the
next scripted `Step` (a reply, an HTTP error such as 429, a delay), or, when the script
is used up, with what the `fallback` function returns for the request. It can play a
server without JSON-schema support (400 on `response_format: json_schema`, as llama.cpp
and older vLLM builds answer).

    with FakeLLM([Step(proposal({...})), Step(status=429)]) as server:
        server.url  # "http://127.0.0.1:PORT/v1"
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any


@dataclass(frozen=True)
class Step:
    content: str = ""  # the assistant's message
    status: int = 200  # an HTTP error instead of a reply (429, 500, 400 ...)
    delay: float = 0.0  # seconds before answering
    headers: Mapping[str, str] = field(default_factory=dict)  # e.g. {"retry-after": "0"}
    prompt_tokens: int | None = 1000  # None: no usage block, as some servers do
    completion_tokens: int | None = 200
    finish_reason: str = "stop"  # "length": the reply was cut off at max_tokens


def proposal(hypothesis: str, edits: Iterable[tuple[str, str, str]], rationale: str = "") -> str:
    """A well-formed proposal reply: edits are (path, region, new source)."""
    return json.dumps(
        {
            "hypothesis": hypothesis,
            "rationale": rationale or f"because {hypothesis.lower()}",
            "edits": [{"path": p, "region": r, "source": s} for p, r, s in edits],
        }
    )


Fallback = Callable[[Mapping[str, Any]], Step]


class FakeLLM:
    def __init__(
        self,
        script: Iterable[Step] = (),
        *,
        models: Iterable[str] = ("test-model",),
        json_schema: bool = True,
        fallback: Fallback | None = None,
    ) -> None:
        self.script: deque[Step] = deque(script)
        self.models = list(models)
        self.json_schema = json_schema
        self.fallback = fallback
        self.requests: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}/v1"

    def __enter__(self) -> FakeLLM:
        self._thread.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, value: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def add(self, *steps: Step) -> None:
        with self._lock:
            self.script.extend(steps)

    def completions(self) -> list[dict[str, Any]]:
        with self._lock:
            return [r for r in self.requests if r.get("_path", "").endswith("/chat/completions")]

    def _next(self, request: Mapping[str, Any]) -> Step:
        with self._lock:
            if self.script:
                return self.script.popleft()
        if self.fallback is not None:
            return self.fallback(request)
        return Step(status=500, content="the script of this fake server is used up")

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                del format, args

            def _send(self, status: int, body: Mapping[str, Any], headers: Mapping[str, str] = {}) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                for k, v in headers.items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                with server._lock:
                    server.requests.append({"_path": self.path})
                if self.path.rstrip("/").endswith("/models"):
                    self._send(
                        200,
                        {"object": "list", "data": [{"id": m, "object": "model"} for m in server.models]},
                    )
                else:
                    self._send(404, {"error": {"message": "not found", "type": "not_found"}})

            def do_POST(self) -> None:
                length = int(self.headers.get("content-length", "0"))
                try:
                    request = json.loads(self.rfile.read(length) or b"{}")
                except json.JSONDecodeError:
                    self._send(400, {"error": {"message": "the body is not JSON", "type": "invalid_request"}})
                    return
                request["_path"] = self.path
                with server._lock:
                    server.requests.append(request)
                if not self.path.rstrip("/").endswith("/chat/completions"):
                    self._send(404, {"error": {"message": "not found", "type": "not_found"}})
                    return
                fmt = request.get("response_format") or {}
                if not server.json_schema and fmt.get("type") == "json_schema":
                    self._send(
                        400,
                        {
                            "error": {
                                "message": "response_format type json_schema is not supported",
                                "type": "invalid_request_error",
                            }
                        },
                    )
                    return
                step = server._next(request)
                if step.delay:
                    time.sleep(step.delay)
                if step.status != 200:
                    headers = dict(step.headers)
                    if step.status == 429:
                        headers.setdefault("retry-after", "0")
                    self._send(
                        step.status,
                        {"error": {"message": step.content or f"error {step.status}", "type": "scripted"}},
                        headers,
                    )
                    return
                body: dict[str, Any] = {
                    "id": f"chatcmpl-{len(server.requests)}",
                    "object": "chat.completion",
                    "created": int(time.time()),
                    "model": request.get("model", ""),
                    "choices": [
                        {
                            "index": 0,
                            "message": {"role": "assistant", "content": step.content},
                            "finish_reason": step.finish_reason,
                        }
                    ],
                }
                if step.prompt_tokens is not None and step.completion_tokens is not None:
                    body["usage"] = {
                        "prompt_tokens": step.prompt_tokens,
                        "completion_tokens": step.completion_tokens,
                        "total_tokens": step.prompt_tokens + step.completion_tokens,
                    }
                self._send(200, body, step.headers)

        return Handler
