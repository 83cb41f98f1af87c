"""A real OpenAI-compatible HTTP server on 127.0.0.1, so tests and benchmarks never call the internet.

    with FakeLLMServer() as llm:
        llm.add_rule(contains="capital of France", answer="Paris")
        llm.fail_next(2, status=429, retry_after=0.1)
        ...  # point any OpenAI client at llm.base_url
        assert len(llm.calls_for("capital of France")) == 3

It answers ``POST /v1/chat/completions`` and ``GET /v1/models``. A chat answer comes from, in order:
the ``hook`` (a callable; returning None passes), the first rule whose ``contains``/``regex`` matches
the last user message, then for JSON ``response_format`` requests ``json_answer`` or an example built
from the requested schema, and finally ``template`` (``"echo: {last_user_message}"``).

Failures are scripted: ``fail_when`` rules (matched on the text of all messages) are checked first,
then the ``fail_next`` queue, which applies to any API request. A failure is one of an HTTP status
(with ``Retry-After``/``retry-after-ms`` headers when asked), a hang (no answer for ``hang`` seconds,
so the client times out) or a malformed 200 body.

Every request is recorded, in arrival order, before it is answered.
"""

from __future__ import annotations

import itertools
import json
import re
import socket
import socketserver
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

MALFORMED_KINDS = ("invalid_json", "missing_choices", "empty_body")


@dataclass(frozen=True)
class Answer:
    """A scripted answer; token counts left as None are counted from the words."""

    text: str
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    finish_reason: str = "stop"


@dataclass
class RecordedRequest:
    method: str
    path: str
    headers: dict[str, str]  # names lower-cased
    client_address: tuple[str, int]  # the same port for requests on one keep-alive connection
    body: Any  # the decoded JSON body; the raw text when it is not JSON; None when empty
    time: float  # time.monotonic() on arrival
    # time.monotonic() when the answer was sent, set before its first byte so a client that has the
    # answer always sees it; None while in flight.
    finished: float | None = None
    status: int | None = None  # None when no answer was sent (a hang, or the server stopped)

    @property
    def messages(self) -> list[dict]:
        messages = self.body.get("messages") if isinstance(self.body, dict) else None
        return messages if isinstance(messages, list) else []

    @property
    def last_user_message(self) -> str:
        for message in reversed(self.messages):
            if isinstance(message, dict) and message.get("role") == "user":
                return _content_text(message.get("content"))
        return ""

    @property
    def text(self) -> str:
        """The content of every message, one per line."""
        return "\n".join(_content_text(m.get("content")) for m in self.messages if isinstance(m, dict))


@dataclass
class _Failure:
    status: int | None = None
    retry_after: float | str | None = None
    retry_after_ms: float | None = None
    hang: float | None = None
    malformed: str | None = None
    message: str | None = None


@dataclass
class _Matcher:
    contains: str | None
    regex: re.Pattern[str] | None

    def matches(self, text: str) -> bool:
        if self.contains is not None and self.contains not in text:
            return False
        return self.regex is None or self.regex.search(text) is not None


@dataclass
class _Rule:
    matcher: _Matcher
    answer: str | dict | list | Answer


@dataclass
class _ConditionalFailure:
    matcher: _Matcher
    failure: _Failure
    remaining: int | None  # None: fail every time
    structured: bool | None = None  # True / False: only requests with / without a response_format

    def applies_to(self, request: RecordedRequest) -> bool:
        if self.remaining == 0 or not self.matcher.matches(request.text):
            return False
        return self.structured is None or self.structured == ("response_format" in request.body)


def _content_text(content: Any) -> str:
    """Message content as text; multimodal content is a list of parts."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(part.get("text", "") for part in content if isinstance(part, dict))
    return ""


def count_tokens(text: str) -> int:
    """Deterministic stand-in for a tokenizer: one token per whitespace-separated word."""
    return len(text.split())


def _example_for_schema(schema: Any, text: str) -> Any:
    """A value that satisfies a simple JSON schema, strings filled with ``text``."""
    if not isinstance(schema, dict):
        return text
    if "const" in schema:
        return schema["const"]
    if schema.get("enum"):
        return schema["enum"][0]
    for key in ("anyOf", "oneOf", "allOf"):
        if schema.get(key):
            return _example_for_schema(schema[key][0], text)
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    if kind == "object" or "properties" in schema:
        return {name: _example_for_schema(sub, text) for name, sub in schema.get("properties", {}).items()}
    if kind == "array":
        return []
    if kind in ("number", "integer"):
        return schema.get("minimum", 0)
    if kind == "boolean":
        return True
    if kind == "null":
        return None
    return text


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    # Idle keep-alive connections would otherwise make server_close() wait for their threads.
    block_on_close = False
    request_queue_size = 256
    allow_reuse_address = True

    def __init__(self, fake: FakeLLMServer):
        self.fake = fake
        super().__init__(("127.0.0.1", 0), _Handler)

    def server_bind(self):
        # HTTPServer.server_bind() resolves the host's FQDN, which can take seconds without DNS.
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = self.server_address[:2]


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive; every response carries a Content-Length
    disable_nagle_algorithm = True  # headers and body are separate writes
    server: _HTTPServer
    recorded: RecordedRequest | None = None

    def setup(self):
        super().setup()
        self.server.fake._connection_opened(self.connection)

    def finish(self):
        try:
            super().finish()
        finally:
            self.server.fake._connection_closed(self.connection)

    def log_message(self, format, *args):
        pass

    def do_GET(self):
        self.server.fake._handle(self)

    def do_POST(self):
        self.server.fake._handle(self)

    def send_json(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
        self.send_body(status, json.dumps(payload).encode(), headers)

    def send_body(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
        if self.recorded is not None:
            self.recorded.status, self.recorded.finished = status, time.monotonic()
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True  # the client gave up (e.g. timed out) first


class FakeLLMServer:
    def __init__(
        self,
        *,
        template: str = "echo: {last_user_message}",
        api_key: str | None = None,
        latency: float = 0.0,
        models: tuple[str, ...] = ("fake-model",),
        include_usage: bool = True,
    ):
        self.template = template  # formatted with last_user_message and model
        self.api_key = api_key  # when set, requests need "Authorization: Bearer <api_key>"
        self.latency = latency  # seconds slept before answering each API request
        self.models = models
        self.include_usage = include_usage
        self.hook: Callable[[RecordedRequest], str | dict | list | Answer | None] | None = None
        self.json_answer: str | dict | list | None = None

        self._lock = threading.Lock()
        self._requests: list[RecordedRequest] = []
        self._rules: list[_Rule] = []
        self._failures: deque[_Failure] = deque()
        self._conditional_failures: list[_ConditionalFailure] = []
        self._connections: set[socket.socket] = set()
        self._ids = itertools.count(1)
        self._stopping = threading.Event()
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> FakeLLMServer:
        self._stopping.clear()
        self._httpd = _HTTPServer(self)
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.01}, name="fake-llm", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd is None:
            return
        self._stopping.set()  # wakes handlers sleeping for latency or a hang
        self._httpd.shutdown()
        with self._lock:
            connections = list(self._connections)
        for connection in connections:  # unblocks handlers waiting on idle keep-alive connections
            try:
                connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        self._httpd.server_close()
        self._thread.join()
        self._httpd = self._thread = None

    def __enter__(self) -> FakeLLMServer:
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()

    @property
    def port(self) -> int:
        assert self._httpd is not None, "the server is not running"
        return self._httpd.server_port

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    # -- scripting -------------------------------------------------------------------------

    def add_rule(
        self, *, answer: str | dict | list | Answer, contains: str | None = None, regex: str | None = None
    ) -> None:
        """Answer ``answer`` (a dict or list is sent as JSON text) when the last user message matches."""
        with self._lock:
            self._rules.append(_Rule(_matcher(contains, regex), answer))

    def fail_next(self, times: int = 1, **failure: Any) -> None:
        """Fail the next ``times`` API requests. Keywords: status, retry_after, retry_after_ms,
        hang (seconds without an answer), malformed (one of MALFORMED_KINDS), message."""
        spec = _failure(**failure)
        with self._lock:
            self._failures.extend(spec for _ in range(times))

    def fail_when(
        self,
        *,
        contains: str | None = None,
        regex: str | None = None,
        times: int | None = None,
        structured: bool | None = None,
        **failure: Any,
    ) -> None:
        """Fail chat requests whose messages match, ``times`` times (None: always); with
        ``structured`` True (False), only those that ask (do not ask) for a ``response_format``."""
        spec = _failure(**failure)
        with self._lock:
            self._conditional_failures.append(
                _ConditionalFailure(_matcher(contains, regex), spec, times, structured)
            )

    def reset(self) -> None:
        """Forget rules, pending failures and recorded requests."""
        with self._lock:
            self._rules.clear()
            self._failures.clear()
            self._conditional_failures.clear()
            self._requests.clear()
        self.hook = None
        self.json_answer = None

    # -- inspection ------------------------------------------------------------------------

    @property
    def requests(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._requests)

    @property
    def chat_requests(self) -> list[RecordedRequest]:
        return [r for r in self.requests if r.path.endswith("/chat/completions")]

    def calls_for(self, substring: str) -> list[RecordedRequest]:
        """Chat requests with ``substring`` in any message."""
        return [r for r in self.chat_requests if substring in r.text]

    def max_concurrency(self) -> int:
        """The most requests that were in flight at the same moment."""
        events = []
        for request in self.requests:
            if request.finished is not None:
                # At equal times an end sorts before a start: touching intervals do not overlap.
                events += [(request.time, 1), (request.finished, -1)]
        in_flight = peak = 0
        for _, delta in sorted(events):
            in_flight += delta
            peak = max(peak, in_flight)
        return peak

    # -- serving (runs on handler threads) -------------------------------------------------

    def _connection_opened(self, connection: socket.socket) -> None:
        with self._lock:
            self._connections.add(connection)

    def _connection_closed(self, connection: socket.socket) -> None:
        with self._lock:
            self._connections.discard(connection)

    def _handle(self, handler: _Handler) -> None:
        length = int(handler.headers.get("Content-Length") or 0)
        raw = handler.rfile.read(length) if length else b""
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = raw.decode("utf-8", "replace")
        path = handler.path.split("?", 1)[0].rstrip("/")
        request = RecordedRequest(
            method=handler.command,
            path=path,
            headers={name.lower(): value for name, value in handler.headers.items()},
            client_address=handler.client_address[:2],
            body=body,
            time=time.monotonic(),
        )
        handler.recorded = request
        with self._lock:
            self._requests.append(request)
        try:
            self._respond(handler, request)
        finally:
            handler.recorded = None
            if request.finished is None:
                request.finished = time.monotonic()

    def _respond(self, handler: _Handler, request: RecordedRequest) -> None:
        route = (request.method, request.path)
        if route not in (("POST", "/v1/chat/completions"), ("GET", "/v1/models")):
            _send_error(handler, 404, f"Unknown route {request.method} {request.path}", "not_found")
            return
        if self.api_key is not None and request.headers.get("authorization") != f"Bearer {self.api_key}":
            _send_error(handler, 401, "Incorrect API key provided.", "invalid_api_key")
            return
        is_chat = request.path == "/v1/chat/completions"
        if is_chat and not (
            isinstance(request.body, dict) and request.body.get("model") and request.body.get("messages")
        ):
            _send_error(handler, 400, "'model' and 'messages' are required.", "invalid_request_error")
            return

        failure = self._take_failure(request if is_chat else None)
        if self.latency and self._stopping.wait(self.latency):
            handler.close_connection = True
        elif failure is not None:
            self._send_failure(handler, failure)
        elif is_chat:
            handler.send_json(200, self._completion(request))
        else:
            data = [{"id": m, "object": "model", "created": 0, "owned_by": "fake-llm"} for m in self.models]
            handler.send_json(200, {"object": "list", "data": data})

    def _take_failure(self, request: RecordedRequest | None) -> _Failure | None:
        with self._lock:
            if request is not None:
                for conditional in self._conditional_failures:
                    if conditional.applies_to(request):
                        if conditional.remaining is not None:
                            conditional.remaining -= 1
                        return conditional.failure
            return self._failures.popleft() if self._failures else None

    def _send_failure(self, handler: _Handler, failure: _Failure) -> None:
        if failure.hang is not None:
            self._stopping.wait(failure.hang)
            handler.close_connection = True  # never answer: the client is expected to time out
        elif failure.malformed == "invalid_json":
            handler.send_body(200, b'{"id": "chatcmpl-broken", "choices": [')
        elif failure.malformed == "missing_choices":
            handler.send_json(200, {"id": "chatcmpl-broken", "object": "chat.completion", "model": "fake"})
        elif failure.malformed == "empty_body":
            handler.send_body(200, b"")
        else:
            headers = {}
            if failure.retry_after is not None:
                headers["Retry-After"] = str(failure.retry_after)
            if failure.retry_after_ms is not None:
                headers["retry-after-ms"] = str(failure.retry_after_ms)
            message = failure.message or f"Scripted failure with status {failure.status}."
            kind = "rate_limit_exceeded" if failure.status == 429 else "server_error"
            _send_error(handler, failure.status, message, kind, headers)

    def _completion(self, request: RecordedRequest) -> dict:
        body = request.body
        answer = self._answer(request)
        if not isinstance(answer, Answer):
            answer = Answer(answer if isinstance(answer, str) else json.dumps(answer))
        prompt_tokens = answer.prompt_tokens
        if prompt_tokens is None:
            prompt_tokens = count_tokens(request.text)
        completion_tokens = answer.completion_tokens
        if completion_tokens is None:
            completion_tokens = count_tokens(answer.text)
        completion = {
            "id": f"chatcmpl-fake-{next(self._ids)}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": body["model"],
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": answer.text},
                    "finish_reason": answer.finish_reason,
                }
            ],
        }
        if self.include_usage:
            completion["usage"] = {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": completion_tokens,
                "total_tokens": prompt_tokens + completion_tokens,
            }
        return completion

    def _answer(self, request: RecordedRequest) -> str | dict | list | Answer:
        if self.hook is not None:
            answer = self.hook(request)
            if answer is not None:
                return answer
        last_user_message = request.last_user_message
        with self._lock:
            rules = list(self._rules)
        for rule in rules:
            if rule.matcher.matches(last_user_message):
                return rule.answer
        text = self.template.format(last_user_message=last_user_message, model=request.body["model"])
        response_format = request.body.get("response_format")
        kind = response_format.get("type") if isinstance(response_format, dict) else None
        if kind == "json_schema":
            if self.json_answer is not None:
                return self.json_answer
            schema = (response_format.get("json_schema") or {}).get("schema")
            return _example_for_schema(schema, text) if schema else {"answer": text}
        if kind == "json_object":
            return self.json_answer if self.json_answer is not None else {"answer": text}
        return text


def _matcher(contains: str | None, regex: str | None) -> _Matcher:
    if contains is None and regex is None:
        raise ValueError("give contains= or regex=")
    return _Matcher(contains, re.compile(regex) if regex is not None else None)


def _failure(
    *,
    status: int | None = None,
    retry_after: float | str | None = None,
    retry_after_ms: float | None = None,
    hang: float | None = None,
    malformed: str | None = None,
    message: str | None = None,
) -> _Failure:
    if sum(x is not None for x in (status, hang, malformed)) != 1:
        raise ValueError("give exactly one of status=, hang= or malformed=")
    if malformed is not None and malformed not in MALFORMED_KINDS:
        raise ValueError(f"malformed must be one of {MALFORMED_KINDS}")
    return _Failure(status, retry_after, retry_after_ms, hang, malformed, message)


def _send_error(
    handler: _Handler, status: int, message: str, code: str, headers: dict[str, str] | None = None
) -> None:
    error = {"message": message, "type": code, "param": None, "code": code}
    handler.send_json(status, {"error": error}, headers)
