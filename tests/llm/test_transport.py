"""The lean POST of the chat calls (evalsite/llm/transport.py): keep-alive, a connection the
server closed, redirects and proxies, which go to the SDK's path."""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from evalsite.llm import transport
from evalsite.llm.client import Endpoint, LLMServerError, chat
from tests.support.fake_llm import FakeLLMServer

USER_HI = [{"role": "user", "content": "hi"}]
COMPLETION = {
    "id": "x", "object": "chat.completion", "created": 0, "model": "m",
    "choices": [{"index": 0, "message": {"role": "assistant", "content": "hello"}, "finish_reason": "stop"}],
}


class _Server:
    """A server whose handler the test writes; counts the connections it accepted."""

    def __init__(self, handle):
        outer = self
        self.connections = 0

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def setup(self):
                super().setup()
                outer.connections += 1

            def log_message(self, *args):
                pass

            def do_POST(self):
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                handle(self)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def _answer(handler, body: dict, *, close_after: bool = False) -> None:
    data = json.dumps(body).encode()
    handler.send_response(200)
    handler.send_header("Content-Type", "application/json")
    handler.send_header("Content-Length", str(len(data)))
    handler.end_headers()
    handler.wfile.write(data)
    # Closes without saying so (no "Connection: close"): the client keeps a dead connection.
    handler.close_connection = close_after


@pytest.fixture
def no_proxy(monkeypatch):
    for name in ("http_proxy", "https_proxy", "all_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)


def test_calls_reuse_one_connection_per_thread(no_proxy):
    with FakeLLMServer() as server:
        endpoint = Endpoint(base_url=server.base_url, api_key="sk")
        for _ in range(3):
            assert chat(endpoint, model="m", messages=USER_HI, max_retries=0).text
        ports = {request.client_address[1] for request in server.chat_requests}
        assert len(server.chat_requests) == 3 and len(ports) == 1


def test_a_connection_the_server_closed_is_replaced_and_the_call_sent_once_more(no_proxy):
    server = _Server(lambda handler: _answer(handler, COMPLETION, close_after=True))
    try:
        endpoint = Endpoint(base_url=server.url, api_key="sk")
        for _ in range(3):
            assert chat(endpoint, model="m", messages=USER_HI, max_retries=0).text == "hello"
        assert server.connections == 3
    finally:
        server.close()


def test_a_redirect_is_followed_through_the_sdk(no_proxy):
    with FakeLLMServer() as target:
        def redirect(handler):
            handler.send_response(307)
            handler.send_header("Location", target.base_url.rstrip("/") + "/chat/completions")
            handler.send_header("Content-Length", "0")
            handler.end_headers()

        server = _Server(redirect)
        try:
            result = chat(Endpoint(base_url=server.url, api_key="sk"), model="m", messages=USER_HI, max_retries=0)
        finally:
            server.close()
        assert result.text and len(target.chat_requests) == 1


def test_behind_a_proxy_the_sdk_sends_the_call(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("the lean path was taken behind a proxy")

    monkeypatch.setattr(transport, "post", refuse)
    monkeypatch.setattr(transport, "uses_proxy", lambda url: True)
    with FakeLLMServer() as server:
        assert chat(Endpoint(base_url=server.base_url, api_key="sk"), model="m", messages=USER_HI, max_retries=0).text


def test_proxy_settings_apply_unless_the_host_is_bypassed(monkeypatch, no_proxy):
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.internal:3128")
    monkeypatch.setenv("NO_PROXY", "llm.internal")
    assert transport.uses_proxy("https://api.openai.com/v1/chat/completions")
    assert not transport.uses_proxy("https://llm.internal/v1/chat/completions")
    assert not transport.uses_proxy("http://127.0.0.1:8000/v1/chat/completions")  # no HTTP_PROXY


def test_a_refused_connection_is_the_sdks_connection_error(no_proxy):
    with FakeLLMServer() as server:
        url = server.base_url
    with pytest.raises(LLMServerError, match="Could not connect"):
        chat(Endpoint(base_url=url, api_key="sk"), model="m", messages=USER_HI, max_retries=0)
