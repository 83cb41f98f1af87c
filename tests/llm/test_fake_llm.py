"""The fake OpenAI-compatible server, exercised over plain HTTP (no SDK) so it is tested on its own."""

import http.client
import json
import socket
import threading
import time

import pytest

from tests.support.fake_llm import Answer, FakeLLMServer


@pytest.fixture
def llm():
    with FakeLLMServer() as server:
        yield server


def request(server, method, path, body=None, headers=None, timeout=5.0, connection=None):
    """(status, headers, raw body bytes); reuses ``connection`` when given."""
    conn = connection or http.client.HTTPConnection("127.0.0.1", server.port, timeout=timeout)
    payload = json.dumps(body).encode() if body is not None else None
    all_headers = {"Content-Type": "application/json", **(headers or {})}
    conn.request(method, path, body=payload, headers=all_headers)
    response = conn.getresponse()
    raw = response.read()
    result = response.status, {k.lower(): v for k, v in response.getheaders()}, raw
    if connection is None:
        conn.close()
    return result


def chat(server, content, *, messages=None, headers=None, **extra):
    body = {"model": "fake-model", "messages": messages or [{"role": "user", "content": content}], **extra}
    status, response_headers, raw = request(server, "POST", "/v1/chat/completions", body, headers)
    return status, response_headers, raw


def chat_json(server, content, **kwargs):
    status, _, raw = chat(server, content, **kwargs)
    assert status == 200, raw
    return json.loads(raw)


def answer_text(completion):
    return completion["choices"][0]["message"]["content"]


def test_chat_completion_answers_with_a_valid_openai_body_echoing_the_last_user_message(llm):
    completion = chat_json(llm, "hello there")

    assert completion["id"].startswith("chatcmpl-")
    assert completion["object"] == "chat.completion"
    assert isinstance(completion["created"], int)
    assert completion["model"] == "fake-model"
    assert completion["choices"] == [
        {
            "index": 0,
            "message": {"role": "assistant", "content": "echo: hello there"},
            "finish_reason": "stop",
        }
    ]
    usage = completion["usage"]
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]


def test_models_endpoint_lists_the_configured_models():
    with FakeLLMServer(models=("alpha", "beta")) as llm:
        status, _, raw = request(llm, "GET", "/v1/models")

    assert status == 200
    body = json.loads(raw)
    assert body["object"] == "list"
    assert [m["id"] for m in body["data"]] == ["alpha", "beta"]


def test_template_is_formatted_with_the_last_user_message_and_model():
    with FakeLLMServer(template="{model} says: {last_user_message}") as llm:
        messages = [
            {"role": "system", "content": "be brief"},
            {"role": "user", "content": "first"},
            {"role": "assistant", "content": "ok"},
            {"role": "user", "content": [{"type": "text", "text": "second"}]},
        ]
        completion = chat_json(llm, None, messages=messages)

    assert answer_text(completion) == "fake-model says: second"


def test_substring_rule_matches_only_the_last_user_message(llm):
    llm.add_rule(contains="capital of France", answer="Paris")

    assert answer_text(chat_json(llm, "What is the capital of France?")) == "Paris"
    earlier = [
        {"role": "user", "content": "capital of France"},
        {"role": "user", "content": "something else"},
    ]
    assert answer_text(chat_json(llm, None, messages=earlier)) == "echo: something else"


def test_regex_rule_matches_and_the_first_matching_rule_wins(llm):
    llm.add_rule(regex=r"item-\d+", answer="numbered")
    llm.add_rule(contains="item", answer="never reached for numbered items")

    assert answer_text(chat_json(llm, "look at item-42")) == "numbered"
    assert answer_text(chat_json(llm, "look at item-x")) == "never reached for numbered items"


def test_a_dict_answer_is_sent_as_json_text(llm):
    llm.add_rule(contains="judge", answer={"score": 0.8, "reasoning": "close"})

    assert json.loads(answer_text(chat_json(llm, "judge this"))) == {"score": 0.8, "reasoning": "close"}


def test_hook_answers_first_and_returning_none_falls_through_to_rules(llm):
    llm.add_rule(contains="rule", answer="from rule")
    llm.hook = lambda req: "from hook" if "hook" in req.last_user_message else None

    assert answer_text(chat_json(llm, "use the hook and the rule")) == "from hook"
    assert answer_text(chat_json(llm, "use the rule")) == "from rule"


def test_json_schema_request_gets_json_that_fits_the_schema(llm):
    schema = {
        "type": "object",
        "properties": {
            "score": {"type": "number", "minimum": 1},
            "verdict": {"enum": ["pass", "fail"]},
            "reasoning": {"type": "string"},
        },
    }
    response_format = {"type": "json_schema", "json_schema": {"name": "judge", "schema": schema}}

    answer = json.loads(answer_text(chat_json(llm, "grade it", response_format=response_format)))

    assert answer == {"score": 1, "verdict": "pass", "reasoning": "echo: grade it"}


def test_json_object_request_returns_the_scripted_json_answer(llm):
    llm.json_answer = {"score": 3}

    completion = chat_json(llm, "grade it", response_format={"type": "json_object"})

    assert json.loads(answer_text(completion)) == {"score": 3}


def test_usage_counts_words_deterministically(llm):
    completion = chat_json(llm, "one two three")  # answer: "echo: one two three"

    assert completion["usage"] == {"prompt_tokens": 3, "completion_tokens": 4, "total_tokens": 7}


def test_scripted_answer_sets_usage_and_finish_reason(llm):
    llm.add_rule(
        contains="long", answer=Answer("cut", prompt_tokens=100, completion_tokens=7, finish_reason="length")
    )

    completion = chat_json(llm, "a long question")

    assert completion["usage"] == {"prompt_tokens": 100, "completion_tokens": 7, "total_tokens": 107}
    assert completion["choices"][0]["finish_reason"] == "length"


def test_usage_can_be_left_out_like_some_gateways_do():
    with FakeLLMServer(include_usage=False) as llm:
        assert "usage" not in chat_json(llm, "hi")


def test_latency_delays_each_answer():
    with FakeLLMServer(latency=0.1) as llm:
        started = time.monotonic()
        chat_json(llm, "slow")
        assert time.monotonic() - started >= 0.1


def test_32_requests_with_latency_are_all_in_flight_at_once():
    with FakeLLMServer(latency=0.05) as llm:
        # Each answer waits until all 32 requests are being handled: a server with fewer than 32
        # workers breaks the barrier (after its timeout) and the requests fail.
        all_in = threading.Barrier(32, timeout=10)

        def wait_for_all(request):
            all_in.wait()  # then fall through to the default answer

        llm.hook = wait_for_all
        answers = {}

        def call(i):
            answers[i] = answer_text(chat_json(llm, f"item-{i}"))

        threads = [threading.Thread(target=call, args=(i,)) for i in range(32)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

        assert answers == {i: f"echo: item-{i}" for i in range(32)}
        assert llm.max_concurrency() == 32


def test_sequential_requests_never_overlap(llm):
    for i in range(3):
        chat_json(llm, f"item-{i}")

    assert llm.max_concurrency() == 1


def test_fail_next_answers_429_with_retry_after_then_recovers(llm):
    llm.fail_next(2, status=429, retry_after=0.1)

    for _ in range(2):
        status, headers, raw = chat(llm, "hi")
        assert status == 429
        assert headers["retry-after"] == "0.1"
        assert json.loads(raw)["error"]["code"] == "rate_limit_exceeded"
    assert chat(llm, "hi")[0] == 200


def test_fail_next_can_send_retry_after_ms(llm):
    llm.fail_next(status=429, retry_after_ms=250)

    status, headers, _ = chat(llm, "hi")

    assert status == 429
    assert headers["retry-after-ms"] == "250"
    assert "retry-after" not in headers


@pytest.mark.parametrize("status", [500, 503])
def test_fail_next_answers_server_errors_in_openai_error_format(llm, status):
    llm.fail_next(status=status, message="overloaded")

    code, _, raw = chat(llm, "hi")

    assert code == status
    assert json.loads(raw)["error"]["message"] == "overloaded"
    assert chat(llm, "hi")[0] == 200


def test_fail_next_also_applies_to_the_models_endpoint(llm):
    llm.fail_next(status=503)

    assert request(llm, "GET", "/v1/models")[0] == 503
    assert request(llm, "GET", "/v1/models")[0] == 200


def test_fail_when_fails_only_matching_messages_the_given_number_of_times(llm):
    llm.fail_when(contains="item-7", status=500, times=2)

    assert chat(llm, "item-6")[0] == 200
    assert chat(llm, "item-7")[0] == 500
    assert chat(llm, "item-7")[0] == 500
    assert chat(llm, "item-7")[0] == 200


def test_fail_when_without_times_fails_every_time(llm):
    llm.fail_when(regex=r"item-[89]", status=500)

    assert [chat(llm, "item-8")[0] for _ in range(5)] == [500] * 5
    assert chat(llm, "item-1")[0] == 200


def test_fail_when_is_checked_before_the_fail_next_queue(llm):
    llm.fail_next(status=503)
    llm.fail_when(contains="special", status=500, times=1)

    assert chat(llm, "special")[0] == 500
    assert chat(llm, "plain")[0] == 503


def test_hang_keeps_the_client_waiting_past_its_timeout(llm):
    llm.fail_next(hang=5)

    with pytest.raises(TimeoutError):
        request(
            llm,
            "POST",
            "/v1/chat/completions",
            {"model": "m", "messages": [{"role": "user", "content": "x"}]},
            timeout=0.2,
        )
    assert chat(llm, "next one is fine")[0] == 200


def test_malformed_invalid_json_body(llm):
    llm.fail_next(malformed="invalid_json")

    status, _, raw = chat(llm, "hi")

    assert status == 200
    with pytest.raises(ValueError):
        json.loads(raw)


def test_malformed_body_without_choices(llm):
    llm.fail_next(malformed="missing_choices")

    status, _, raw = chat(llm, "hi")

    assert status == 200
    assert "choices" not in json.loads(raw)


def test_malformed_empty_body(llm):
    llm.fail_next(malformed="empty_body")

    status, headers, raw = chat(llm, "hi")

    assert (status, headers["content-length"], raw) == (200, "0", b"")


def test_a_failure_needs_exactly_one_kind(llm):
    with pytest.raises(ValueError):
        llm.fail_next(status=500, hang=1)
    with pytest.raises(ValueError):
        llm.fail_next(malformed="nonsense")


def test_expected_api_key_is_enforced_with_401():
    with FakeLLMServer(api_key="sk-test") as llm:
        assert chat(llm, "hi")[0] == 401
        assert chat(llm, "hi", headers={"Authorization": "Bearer wrong"})[0] == 401
        assert chat(llm, "hi", headers={"Authorization": "Bearer sk-test"})[0] == 200
        assert request(llm, "GET", "/v1/models")[0] == 401


def test_unknown_routes_and_incomplete_requests_are_refused(llm):
    assert request(llm, "GET", "/v1/nothing")[0] == 404
    assert request(llm, "POST", "/v1/chat/completions", {"model": "m"})[0] == 400


def test_requests_are_recorded_with_path_body_headers_and_time(llm):
    before = time.monotonic()
    chat(llm, "item-1 question", headers={"X-Trace": "abc"}, temperature=0)
    request(llm, "GET", "/v1/models")

    first, second = llm.requests
    assert (first.method, first.path) == ("POST", "/v1/chat/completions")
    assert first.body["temperature"] == 0
    assert first.headers["x-trace"] == "abc"
    assert before <= first.time <= first.finished
    assert first.status == 200
    assert (second.method, second.path) == ("GET", "/v1/models")
    assert llm.chat_requests == [first]


def test_calls_for_finds_chat_requests_mentioning_a_substring_in_any_message(llm):
    chat(llm, None, messages=[{"role": "system", "content": "item-7"}, {"role": "user", "content": "go"}])
    chat(llm, "item-8")

    assert [r.last_user_message for r in llm.calls_for("item-7")] == ["go"]
    assert llm.calls_for("item-9") == []


def test_keep_alive_connection_serves_several_requests(llm):
    connection = http.client.HTTPConnection("127.0.0.1", llm.port, timeout=5)
    body = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}
    try:
        for _ in range(3):
            status, headers, raw = request(llm, "POST", "/v1/chat/completions", body, connection=connection)
            assert status == 200
            assert int(headers["content-length"]) == len(raw)
    finally:
        connection.close()

    assert len({r.client_address for r in llm.requests}) == 1


def test_server_starts_and_stops_fast_and_cleanly_with_idle_and_hanging_connections():
    threads_before = set(threading.enumerate())
    llm = FakeLLMServer().start()

    idle = http.client.HTTPConnection("127.0.0.1", llm.port, timeout=5)
    request(llm, "GET", "/v1/models", connection=idle)  # now an idle keep-alive connection
    llm.fail_next(hang=30)
    hanging = socket.create_connection(("127.0.0.1", llm.port))
    body = b'{"model": "m", "messages": [{"role": "user", "content": "x"}]}'
    hanging.sendall(
        b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)
    )
    while len(llm.requests) < 2:
        time.sleep(0.005)

    port = llm.port
    stopping = time.monotonic()
    llm.stop()
    # The hanging request would hold a stop that waited for it for 30 s.
    assert time.monotonic() - stopping < 10
    try:
        # The handler threads end although both clients still hold their connections open.
        deadline = time.monotonic() + 1
        while set(threading.enumerate()) - threads_before and time.monotonic() < deadline:
            time.sleep(0.005)
        assert set(threading.enumerate()) - threads_before == set()
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", port), timeout=1)
    finally:
        idle.close()
        hanging.close()
