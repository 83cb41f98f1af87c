"""The one client for every OpenAI-compatible chat endpoint (OpenAI, Azure-compatible gateways, vLLM,
Ollama, LiteLLM proxies), reached through ``base_url``. No Django here: callers pass plain data.

Retries are ours, not the SDK's (it runs with ``max_retries=0``): 408, 429, 5xx, timeouts and
connection errors are retried with capped exponential backoff and jitter, or after the server's
``retry-after-ms``/``Retry-After`` when it sends one; any other 4xx and any malformed answer are
raised at once. Every failure surfaces as an ``LLMError`` whose message can be shown to a user: it
names the endpoint, never the API key.
"""

from __future__ import annotations

import functools
import json
import math
import random
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

import httpx2
import openai

from evalsite.llm import transport

BACKOFF_BASE_SECONDS = 0.5
BACKOFF_CAP_SECONDS = 20.0
RETRY_AFTER_CAP_SECONDS = 60.0
CLIENT_CACHE_SIZE = 64
# Request fields this module controls; letting parameters override them would break parsing.
RESERVED_PARAMETERS = frozenset({"model", "messages", "stream", "stream_options", "response_format", "n"})
# The SDK refuses an empty key, and an absent one would make it send OPENAI_API_KEY from the
# environment to whatever base_url is configured. Keyless servers (Ollama, vLLM) ignore this value.
NO_API_KEY = "EMPTY"

T = TypeVar("T")


# -- errors ------------------------------------------------------------------------------------


class LLMError(Exception):
    """A call failed; ``str(error)`` is fit to show a user."""

    retryable = False

    def __init__(self, message: str, *, status: int | None = None, attempts: int = 1):
        super().__init__(message)
        self.message = message
        self.status = status
        self.attempts = attempts


class LLMServerError(LLMError):
    """A 5xx answer or a failed connection: the endpoint, not the request, is at fault."""

    retryable = True


class LLMRateLimited(LLMError):
    retryable = True


class LLMTimeout(LLMError):
    retryable = True


class LLMBadResponse(LLMError):
    """The endpoint answered 200 with something that is not a usable completion."""


class LLMRequestError(LLMError):
    """The endpoint refused the request (4xx other than 408/429); retrying cannot help."""


# -- data --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Endpoint:
    base_url: str
    api_key: str = field(default="", repr=False)
    extra_headers: Mapping[str, str] = field(default_factory=dict, repr=False)
    timeout: float = 60.0


@dataclass(frozen=True)
class ChatResult:
    text: str
    model: str
    input_tokens: int | None
    output_tokens: int | None
    total_tokens: int | None
    latency_ms: int  # of the attempt that succeeded; backoff waits are not included
    attempts: int
    raw: dict = field(repr=False)

    @property
    def usage(self) -> dict[str, int]:
        """Usage under Langfuse's normalised keys, as ``pricing.compute_cost`` takes it."""
        usage = {"input": self.input_tokens, "output": self.output_tokens, "total": self.total_tokens}
        return {key: value for key, value in usage.items() if value is not None}


@dataclass(frozen=True)
class ConnectionCheck:
    ok: bool
    message: str
    latency_ms: int | None = None


# -- public functions --------------------------------------------------------------------------


def chat(
    endpoint: Endpoint,
    *,
    model: str,
    messages: list[dict],
    parameters: Mapping[str, Any] | None = None,
    response_format: Mapping[str, Any] | None = None,
    max_retries: int = 4,
    sleep: Callable[[float], None] = time.sleep,
) -> ChatResult:
    """One chat completion. ``parameters`` (temperature, max_tokens, seed, provider-specific keys…)
    are sent as given in the request body."""
    parameters = dict(parameters or {})
    reserved = sorted(RESERVED_PARAMETERS.intersection(parameters))
    if reserved:
        raise LLMRequestError(f"Model parameters may not set {', '.join(reserved)}.")
    body: dict[str, Any] = {**parameters, "model": model, "messages": messages}
    if response_format is not None:
        body["response_format"] = response_format
    client = _client_for(endpoint)
    url = endpoint.base_url.rstrip("/") + "/chat/completions"

    def sdk_post() -> httpx2.Response:
        # The SDK's generic POST: its transport, auth, error types and timeouts, without the typed
        # request transform and response parsing of `chat.completions.create`.
        return client.post("/chat/completions", body=body, cast_to=httpx2.Response)

    def lean_post() -> transport.Response | httpx2.Response:
        try:
            return _lean_post(client, url, body, endpoint.timeout)
        except transport.Redirected:
            return sdk_post()

    # transport.py says why the lean path exists; behind a proxy the SDK's path is taken.
    call = sdk_post if transport.uses_proxy(url) else lean_post
    response, latency_ms, attempts = _with_retries(endpoint, call, max_retries, sleep)
    data = _json_body(endpoint, response.content, attempts)
    return _chat_result(endpoint, data, model, latency_ms, attempts)


def client_prepare(endpoint: Endpoint) -> None:
    """Build the endpoint's shared SDK client now: its HTTP client and TLS context take tens of
    milliseconds, and a thread pool's first calls would all wait on the one thread building it."""
    _headers_of(_client_for(endpoint))


@functools.lru_cache(maxsize=CLIENT_CACHE_SIZE)
def _headers_of(client: openai.OpenAI) -> dict[str, str]:
    """The headers the SDK sends with every request (its own, the connection's extra headers, the
    key), without the ones it leaves out."""
    return {k: v for k, v in {**client.default_headers, **client.auth_headers}.items() if isinstance(v, str)}


def _lean_post(client: openai.OpenAI, url: str, body: dict, timeout: float) -> transport.Response:
    """transport.post with the SDK's headers; a failure is raised as the exception the SDK raises
    for it (built only then), so _with_retries and _translate treat both paths alike."""
    try:
        response = transport.post(url, body=json.dumps(body).encode(), headers=_headers_of(client), timeout=timeout)
    except transport.Timeout as error:
        raise openai.APITimeoutError(request=httpx2.Request("POST", url)) from error
    except transport.ConnectionFailed as error:
        raise openai.APIConnectionError(request=httpx2.Request("POST", url)) from error.__cause__ or error
    if response.status >= 400:
        raise client._make_status_error_from_response(
            httpx2.Response(
                response.status, headers=list(response.headers.items()), content=response.content,
                request=httpx2.Request("POST", url),
            )
        )
    return response


def list_models(endpoint: Endpoint) -> list[str]:
    """The model ids the endpoint offers, sorted."""
    client = _client_for(endpoint)
    response, _, attempts = _with_retries(endpoint, client.models.with_raw_response.list, 0, time.sleep)
    data = _json_body(endpoint, response.http_response.content, attempts)
    models = data.get("data")
    if not isinstance(models, list):
        raise LLMBadResponse(f"{_display_url(endpoint)} answered without a model list.", attempts=attempts)
    return sorted(m["id"] for m in models if isinstance(m, dict) and isinstance(m.get("id"), str))


def check_connection(endpoint: Endpoint, model: str) -> ConnectionCheck:
    """Make one tiny real call, for a "test connection" button."""
    try:
        result = chat(
            endpoint,
            model=model,
            messages=[{"role": "user", "content": "Reply with the single word: ok"}],
            max_retries=0,
        )
    except LLMError as error:
        return ConnectionCheck(ok=False, message=str(error))
    return ConnectionCheck(
        ok=True, message=f"{result.model} answered in {result.latency_ms} ms.", latency_ms=result.latency_ms
    )


def parse_json_answer(text: str) -> dict:
    """The JSON object in a model's answer: the whole text, else a fenced code block, else the first
    ``{…}`` that parses. Raises LLMBadResponse when there is none: a judge's unreadable answer is an
    error, never a made-up score."""
    candidates = [text]
    candidates += re.findall(r"```[a-zA-Z]*[ \t]*\n?(.*?)```", text, flags=re.DOTALL)
    for candidate in candidates:
        try:
            value = json.loads(candidate)
        except ValueError:
            continue
        if isinstance(value, dict):
            return value
    decoder = json.JSONDecoder()
    start = text.find("{")
    while start != -1:
        try:
            value, _ = decoder.raw_decode(text, start)
        except ValueError:
            value = None
        if isinstance(value, dict):
            return value
        start = text.find("{", start + 1)
    snippet = text.strip()[:200] or "(empty)"
    raise LLMBadResponse(f"The model's answer contains no JSON object: {snippet}")


# -- clients -----------------------------------------------------------------------------------

_clients: OrderedDict[tuple, openai.OpenAI] = OrderedDict()
_clients_lock = threading.Lock()


def _client_for(endpoint: Endpoint) -> openai.OpenAI:
    """A shared SDK client per endpoint configuration, so concurrent calls reuse its connections."""
    key = (
        endpoint.base_url,
        endpoint.api_key,
        tuple(sorted(endpoint.extra_headers.items())),
        float(endpoint.timeout),
    )
    with _clients_lock:
        client = _clients.get(key)
        if client is not None:
            _clients.move_to_end(key)
            return client
        client = openai.OpenAI(
            base_url=endpoint.base_url,
            api_key=endpoint.api_key or NO_API_KEY,
            default_headers=dict(endpoint.extra_headers),
            timeout=endpoint.timeout,
            max_retries=0,
        )
        _clients[key] = client
        if len(_clients) > CLIENT_CACHE_SIZE:
            # Dropped, not closed: another thread may still be using it.
            _clients.popitem(last=False)
        return client


# -- retries -----------------------------------------------------------------------------------


def _with_retries(
    endpoint: Endpoint, call: Callable[[], T], max_retries: int, sleep: Callable[[float], None]
) -> tuple[T, int, int]:
    """``(result, latency_ms of the successful attempt, attempts)``."""
    attempt = 0
    while True:
        attempt += 1
        started = time.perf_counter()
        try:
            result = call()
        except (openai.APIStatusError, openai.APIConnectionError) as exc:
            error = _translate(endpoint, exc)
            error.attempts = attempt
            if not error.retryable or attempt > max_retries:
                if attempt > 1:
                    error.message = _sentence(error.message) + f" Gave up after {attempt} attempts."
                    error.args = (error.message,)
                raise error from exc
            retry_after = None
            if isinstance(exc, openai.APIStatusError):
                retry_after = _retry_after_seconds(exc.response.headers)
            sleep(retry_after if retry_after is not None else _backoff_seconds(attempt))
        else:
            return result, round((time.perf_counter() - started) * 1000), attempt


def _backoff_seconds(attempt: int) -> float:
    """Exponential backoff with "equal jitter": between half and all of base·2^(attempt-1), capped."""
    ceiling = min(BACKOFF_CAP_SECONDS, BACKOFF_BASE_SECONDS * 2 ** (attempt - 1))
    return ceiling / 2 + random.uniform(0, ceiling / 2)


def _retry_after_seconds(headers: Mapping[str, str]) -> float | None:
    """The wait a server asked for: ``retry-after-ms``, else ``Retry-After`` in seconds or as an
    HTTP date; capped so a far-off date cannot stall a worker."""
    seconds = None
    try:
        if headers.get("retry-after-ms"):
            seconds = float(headers["retry-after-ms"]) / 1000
    except ValueError:
        pass
    value = headers.get("retry-after")
    if seconds is None and value:
        try:
            seconds = float(value)
        except ValueError:
            try:
                moment = parsedate_to_datetime(value)
            except (TypeError, ValueError):
                return None
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=UTC)
            seconds = (moment - datetime.now(UTC)).total_seconds()
    if seconds is None or not math.isfinite(seconds):
        return None
    return min(max(seconds, 0.0), RETRY_AFTER_CAP_SECONDS)


def _translate(endpoint: Endpoint, exc: openai.APIStatusError | openai.APIConnectionError) -> LLMError:
    where = _display_url(endpoint)
    if isinstance(exc, openai.APITimeoutError):
        return LLMTimeout(f"{where} did not answer within {endpoint.timeout:g} s.")
    if isinstance(exc, openai.APIConnectionError):
        return LLMServerError(_sentence(f"Could not connect to {where}: {exc.__cause__ or exc}"))
    status = exc.status_code
    detail = _error_detail(exc.body)
    if status == 429:
        return LLMRateLimited(f"{where} is rate-limiting requests (HTTP 429){detail}", status=status)
    if status == 408:
        return LLMTimeout(f"{where} timed out (HTTP 408){detail}", status=status)
    if status >= 500:
        return LLMServerError(f"{where} failed with HTTP {status}{detail}", status=status)
    if status in (401, 403):
        hint = " Check the API key."
        return LLMRequestError(
            f"{where} refused the credentials (HTTP {status}){detail}{hint}", status=status
        )
    if status == 404:
        hint = " Check the base URL and the model name."
        return LLMRequestError(f"{where} answered not found (HTTP 404){detail}{hint}", status=status)
    return LLMRequestError(f"{where} rejected the request (HTTP {status}){detail}", status=status)


def _error_detail(body: object) -> str:
    """The provider's own explanation, shortened, to end a sentence: ``": <message>."``, else ``"."``."""
    message = body.get("message") if isinstance(body, Mapping) else body
    if not isinstance(message, str) or not message.strip():
        return "."
    message = " ".join(message.split())
    if len(message) > 300:
        message = message[:299] + "…"
    return f": {message.rstrip('.')}."


def _sentence(text: str) -> str:
    return text if text.endswith((".", "!", "?")) else text + "."


def _display_url(endpoint: Endpoint) -> str:
    """The base URL without credentials or query string, for messages."""
    parts = urlsplit(endpoint.base_url)
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


# -- answers -----------------------------------------------------------------------------------


def _json_body(endpoint: Endpoint, content: bytes, attempts: int) -> dict:
    if not content.strip():
        raise LLMBadResponse(f"{_display_url(endpoint)} answered with an empty body.", attempts=attempts)
    try:
        data = json.loads(content)
    except ValueError:
        raise LLMBadResponse(
            f"{_display_url(endpoint)} answered with a body that is not JSON.", attempts=attempts
        ) from None
    if not isinstance(data, dict):
        raise LLMBadResponse(f"{_display_url(endpoint)} answered with unexpected JSON.", attempts=attempts)
    return data


def _chat_result(endpoint: Endpoint, data: dict, model: str, latency_ms: int, attempts: int) -> ChatResult:
    where = _display_url(endpoint)
    choices = data.get("choices")
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
        raise LLMBadResponse(f"{where} answered without any choices.", attempts=attempts)
    message = choices[0].get("message")
    content = message.get("content") if isinstance(message, dict) else None
    if isinstance(content, list):  # some providers return content as a list of parts
        content = "".join(
            p.get("text", "") for p in content if isinstance(p, dict) and p.get("type") == "text"
        )
    if not isinstance(content, str) or not content:
        reason = choices[0].get("finish_reason")
        because = f" (finish_reason: {reason})" if reason else ""
        raise LLMBadResponse(f"{where} answered with no text{because}.", attempts=attempts)

    usage = data.get("usage") if isinstance(data.get("usage"), dict) else {}
    input_tokens = _int_or_none(usage.get("prompt_tokens"))
    output_tokens = _int_or_none(usage.get("completion_tokens"))
    total_tokens = _int_or_none(usage.get("total_tokens"))
    if total_tokens is None and input_tokens is not None and output_tokens is not None:
        total_tokens = input_tokens + output_tokens
    answered_model = data.get("model")
    return ChatResult(
        text=content,
        model=answered_model if isinstance(answered_model, str) and answered_model else model,
        input_tokens=input_tokens,
        output_tokens=output_tokens,
        total_tokens=total_tokens,
        latency_ms=latency_ms,
        attempts=attempts,
        raw=data,
    )


def _int_or_none(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None
