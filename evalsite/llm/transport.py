"""A lean POST for the chat calls, on the standard library's http.client: one keep-alive
connection per thread and endpoint. No Django here.

Why: judges and platform runs make thousands of calls from a worker's thread pool, and the
OpenAI SDK's request pipeline (httpx with its typed options, hooks and stream wrappers) cost about
2 ms of CPU per call on this project's 2-core machine, against 0.3 ms here (bench.evaluators
spent most of its worker CPU there). Everything else stays the SDK's: client.py falls back to it
when a proxy applies to the URL or the server redirects, and failures are raised as the SDK's own
exception types, so retries and error messages do not depend on the path taken.

TLS is verified like httpx does it: against certifi's bundle, or SSL_CERT_FILE when set.
"""

from __future__ import annotations

import http.client
import os
import ssl
import threading
import urllib.request
from dataclasses import dataclass
from functools import cache
from typing import Any
from urllib.parse import urlsplit


class Redirected(Exception):
    """The server answered 3xx: the caller takes the SDK's path, which follows redirects."""


class Timeout(Exception):
    pass


class ConnectionFailed(Exception):
    pass


@dataclass(frozen=True)
class Response:
    status: int
    headers: Any  # http.client.HTTPMessage: case-insensitive .get(), .items()
    content: bytes


_local = threading.local()
# A reused connection the server had already closed fails with one of these before any answer;
# the request is then sent once more on a new connection.
STALE_CONNECTION = (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError)


def uses_proxy(url: str) -> bool:
    """Whether the environment's proxy settings (HTTP(S)_PROXY, NO_PROXY) apply to `url`."""
    parts = urlsplit(url)
    proxies = urllib.request.getproxies()
    return parts.scheme in proxies and not urllib.request.proxy_bypass(parts.hostname or "")


@cache
def _tls_context(cafile: str | None) -> ssl.SSLContext:
    if cafile is None:
        import certifi

        cafile = certifi.where()
    return ssl.create_default_context(cafile=cafile)


def _connection(scheme: str, host: str, port: int | None, timeout: float) -> http.client.HTTPConnection:
    if scheme == "https":
        context = _tls_context(os.environ.get("SSL_CERT_FILE") or None)
        return http.client.HTTPSConnection(host, port, timeout=timeout, context=context)
    return http.client.HTTPConnection(host, port, timeout=timeout)


def post(url: str, *, body: bytes, headers: dict[str, str], timeout: float) -> Response:
    """POST `body` to `url` and read the whole answer, whatever its status. Raises Timeout,
    ConnectionFailed (the OSError as its cause) or Redirected."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConnectionFailed(f"unsupported URL {url!r}")
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    key = (parts.scheme, parts.hostname, parts.port, timeout)
    pool: dict = _local.__dict__.setdefault("connections", {})
    for _ in range(2):
        connection = pool.get(key)
        reused = connection is not None and connection.sock is not None
        if connection is None:
            connection = pool[key] = _connection(parts.scheme, parts.hostname, parts.port, timeout)
        try:
            connection.request("POST", path, body=body, headers=headers)
            response = connection.getresponse()
            content = response.read()
        except STALE_CONNECTION as error:
            _drop(pool, key)
            if reused:
                continue
            raise ConnectionFailed(str(error) or type(error).__name__) from error
        except TimeoutError as error:  # socket.timeout is TimeoutError
            _drop(pool, key)
            raise Timeout() from error
        except (OSError, http.client.HTTPException) as error:
            _drop(pool, key)
            raise ConnectionFailed(str(error) or type(error).__name__) from error
        if response.will_close:
            _drop(pool, key)
        if 300 <= response.status < 400:
            raise Redirected()
        return Response(status=response.status, headers=response.headers, content=content)
    raise AssertionError("unreachable: the second pass uses a new connection, which returns or raises")


def _drop(pool: dict, key) -> None:
    connection = pool.pop(key, None)
    if connection is not None:
        connection.close()
