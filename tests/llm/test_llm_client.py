"""The OpenAI-compatible client (against the fake server), JSON answer parsing, and model pricing."""

import json
import socket
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from email.utils import format_datetime

import pytest

from evalsite.llm import pricing
from evalsite.llm.client import (
    RETRY_AFTER_CAP_SECONDS,
    Endpoint,
    LLMBadResponse,
    LLMError,
    LLMRateLimited,
    LLMRequestError,
    LLMServerError,
    LLMTimeout,
    chat,
    check_connection,
    list_models,
    parse_json_answer,
)
from evalsite.llm.pricing import Price, compute_cost, find_price
from tests.support.fake_llm import Answer, FakeLLMServer

USER_HI = [{"role": "user", "content": "hi"}]


@pytest.fixture
def llm():
    with FakeLLMServer(api_key="sk-test") as server:
        yield server


@pytest.fixture
def sleeps():
    """Backoff waits, recorded instead of slept."""
    return []


def endpoint_for(server, **overrides):
    return Endpoint(**{"base_url": server.base_url, "api_key": "sk-test", "timeout": 5.0, **overrides})


def ask(server, sleeps, content="hi", **kwargs):
    kwargs.setdefault("max_retries", 4)
    messages = [{"role": "user", "content": content}]
    return chat(endpoint_for(server), model="fake-model", messages=messages, sleep=sleeps.append, **kwargs)


# -- answers ---------------------------------------------------------------------------------


def test_chat_returns_text_model_usage_latency_and_raw_body():
    with FakeLLMServer(latency=0.05) as llm:
        result = chat(
            endpoint_for(llm), model="fake-model", messages=[{"role": "user", "content": "one two"}]
        )

    assert result.text == "echo: one two"
    assert result.model == "fake-model"
    assert (result.input_tokens, result.output_tokens, result.total_tokens) == (2, 3, 5)
    assert result.usage == {"input": 2, "output": 3, "total": 5}
    assert result.latency_ms >= 50
    assert result.attempts == 1
    assert result.raw["choices"][0]["message"]["content"] == "echo: one two"


def test_missing_usage_leaves_token_counts_empty():
    with FakeLLMServer(include_usage=False) as llm:
        result = chat(endpoint_for(llm), model="fake-model", messages=USER_HI)

    assert (result.input_tokens, result.output_tokens, result.total_tokens) == (None, None, None)
    assert result.usage == {}


def test_parameters_and_response_format_are_sent_in_the_request_body(llm, sleeps):
    response_format = {"type": "json_object"}
    llm.json_answer = {"score": 1}

    result = ask(llm, sleeps, parameters={"temperature": 0.2, "top_k": 5}, response_format=response_format)

    body = llm.requests[0].body
    assert body["temperature"] == 0.2
    assert body["top_k"] == 5
    assert body["response_format"] == response_format
    assert body["model"] == "fake-model"
    assert json.loads(result.text) == {"score": 1}


def test_parameters_cannot_override_the_fields_the_client_controls(llm, sleeps):
    with pytest.raises(LLMRequestError, match="stream"):
        ask(llm, sleeps, parameters={"stream": True})

    assert llm.requests == []


def test_api_key_and_extra_headers_are_sent(llm):
    endpoint = endpoint_for(llm, extra_headers={"X-Gateway-Team": "evals"})

    chat(endpoint, model="fake-model", messages=USER_HI)

    headers = llm.requests[0].headers
    assert headers["authorization"] == "Bearer sk-test"
    assert headers["x-gateway-team"] == "evals"


def test_an_endpoint_without_a_key_never_sends_the_environments_openai_key(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-from-environment")
    with FakeLLMServer() as llm:
        chat(Endpoint(base_url=llm.base_url), model="fake-model", messages=USER_HI)

    assert "sk-from-environment" not in llm.requests[0].headers["authorization"]


def test_json_schema_judge_answer_parses_into_the_requested_fields(llm, sleeps):
    schema = {"type": "object", "properties": {"score": {"type": "number"}, "reasoning": {"type": "string"}}}
    response_format = {"type": "json_schema", "json_schema": {"name": "verdict", "schema": schema}}

    result = ask(llm, sleeps, "grade", response_format=response_format)

    assert parse_json_answer(result.text) == {"score": 0, "reasoning": "echo: grade"}


def test_equal_endpoints_share_one_client_and_its_keep_alive_connection(llm):
    for _ in range(3):
        chat(endpoint_for(llm, extra_headers={"X-A": "1"}), model="fake-model", messages=USER_HI)

    assert len({r.client_address for r in llm.requests}) == 1


def test_32_concurrent_calls_are_in_flight_at_once():
    with FakeLLMServer(latency=0.05) as llm:
        # The server answers only once all 32 calls have arrived, so the shared client must really
        # run them in parallel (a smaller connection pool would break the barrier).
        all_in = threading.Barrier(32, timeout=10)

        def wait_for_all(request):
            all_in.wait()  # then fall through to the default answer

        llm.hook = wait_for_all
        endpoint = endpoint_for(llm)

        def call(i):
            return chat(
                endpoint, model="fake-model", messages=[{"role": "user", "content": f"item-{i}"}]
            ).text

        with ThreadPoolExecutor(max_workers=32) as pool:
            texts = list(pool.map(call, range(32)))

        assert texts == [f"echo: item-{i}" for i in range(32)]
        assert llm.max_concurrency() == 32


# -- retries ---------------------------------------------------------------------------------


def test_rate_limited_call_is_retried_after_retry_after(llm, sleeps):
    llm.fail_next(2, status=429, retry_after=0.1)

    result = ask(llm, sleeps)

    assert result.text == "echo: hi"
    assert result.attempts == 3
    assert sleeps == [0.1, 0.1]
    assert len(llm.requests) == 3


def test_retry_after_ms_is_preferred_to_retry_after(llm, sleeps):
    llm.fail_next(status=429, retry_after=5, retry_after_ms=250)

    ask(llm, sleeps)

    assert sleeps == [0.25]


def test_retry_after_as_an_http_date_waits_until_that_date(llm, sleeps):
    llm.fail_next(
        status=503, retry_after=format_datetime(datetime.now(UTC) + timedelta(seconds=30), usegmt=True)
    )

    ask(llm, sleeps)

    assert len(sleeps) == 1
    assert 27 <= sleeps[0] <= 30


def test_a_huge_retry_after_is_capped(llm, sleeps):
    llm.fail_next(status=429, retry_after=3600)

    ask(llm, sleeps)

    assert sleeps == [RETRY_AFTER_CAP_SECONDS]


def test_server_errors_are_retried_with_growing_jittered_backoff(llm, sleeps):
    llm.fail_next(2, status=500)

    result = ask(llm, sleeps)

    assert result.attempts == 3
    assert len(sleeps) == 2
    assert 0.25 <= sleeps[0] <= 0.5
    assert 0.5 <= sleeps[1] <= 1.0


def test_persistent_server_error_raises_after_max_retries_with_attempts_recorded(llm, sleeps):
    llm.fail_when(contains="item-7", status=500, message="upstream exploded")

    with pytest.raises(LLMServerError) as caught:
        ask(llm, sleeps, "item-7", max_retries=2)

    assert caught.value.attempts == 3
    assert caught.value.status == 500
    assert "HTTP 500" in str(caught.value)
    assert "upstream exploded" in str(caught.value)
    assert "Gave up after 3 attempts" in str(caught.value)
    assert len(llm.calls_for("item-7")) == 3
    assert len(sleeps) == 2


def test_persistent_rate_limit_raises_rate_limited(llm, sleeps):
    llm.fail_next(2, status=429, retry_after=0)

    with pytest.raises(LLMRateLimited) as caught:
        ask(llm, sleeps, max_retries=1)

    assert caught.value.attempts == 2
    assert caught.value.retryable


def test_timeout_raises_llm_timeout():
    with FakeLLMServer() as llm:
        llm.fail_next(hang=5)
        endpoint = endpoint_for(llm, timeout=0.2)

        with pytest.raises(LLMTimeout, match="did not answer within 0.2 s"):
            chat(endpoint, model="fake-model", messages=USER_HI, max_retries=0)


def test_a_timed_out_call_is_retried(llm, sleeps):
    llm.fail_next(hang=5)
    endpoint = endpoint_for(llm, timeout=0.2)

    result = chat(endpoint, model="fake-model", messages=USER_HI, sleep=sleeps.append)

    assert result.attempts == 2
    assert len(sleeps) == 1


def test_connection_errors_are_retried_then_raised(sleeps):
    with socket.socket() as probe:  # a port with nothing listening
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    endpoint = Endpoint(base_url=f"http://127.0.0.1:{port}/v1", api_key="sk-test", timeout=1)

    with pytest.raises(LLMServerError, match="Could not connect") as caught:
        chat(endpoint, model="fake-model", messages=USER_HI, max_retries=2, sleep=sleeps.append)

    assert caught.value.attempts == 3
    assert len(sleeps) == 2


@pytest.mark.parametrize("kind", ["invalid_json", "missing_choices", "empty_body"])
def test_malformed_body_raises_bad_response_without_retry(llm, sleeps, kind):
    llm.fail_next(malformed=kind)

    with pytest.raises(LLMBadResponse):
        ask(llm, sleeps)

    assert len(llm.requests) == 1
    assert sleeps == []


def test_an_answer_without_text_is_a_bad_response(llm, sleeps):
    llm.add_rule(contains="hi", answer=Answer("", finish_reason="content_filter"))

    with pytest.raises(LLMBadResponse, match="content_filter"):
        ask(llm, sleeps)


def test_bad_request_is_raised_at_once_without_retry(llm, sleeps):
    llm.fail_next(status=400, message="max_tokens is too large")

    with pytest.raises(LLMRequestError) as caught:
        ask(llm, sleeps)

    assert caught.value.status == 400
    assert caught.value.attempts == 1
    assert not caught.value.retryable
    assert "max_tokens is too large" in str(caught.value)
    assert len(llm.requests) == 1
    assert sleeps == []


def test_a_wrong_api_key_is_refused_without_retry_and_without_showing_the_key(llm, sleeps):
    endpoint = endpoint_for(llm, api_key="sk-wrong-secret")

    with pytest.raises(LLMRequestError, match="Check the API key") as caught:
        chat(endpoint, model="fake-model", messages=USER_HI, sleep=sleeps.append)

    assert caught.value.status == 401
    assert "sk-wrong-secret" not in str(caught.value)
    assert "sk-wrong-secret" not in repr(endpoint)
    assert len(llm.requests) == 1


def test_every_client_error_is_an_llm_error():
    for error in (LLMRateLimited, LLMTimeout, LLMBadResponse, LLMRequestError, LLMServerError):
        assert issubclass(error, LLMError)


# -- models and connection check -------------------------------------------------------------


def test_list_models_returns_sorted_ids():
    with FakeLLMServer(models=("zeta", "alpha")) as llm:
        assert list_models(endpoint_for(llm)) == ["alpha", "zeta"]


def test_check_connection_reports_success_with_latency(llm):
    check = check_connection(endpoint_for(llm), "fake-model")

    assert check.ok
    assert check.latency_ms is not None
    assert "fake-model" in check.message
    assert len(llm.chat_requests) == 1


def test_check_connection_reports_the_failure_without_retrying(llm):
    llm.fail_next(2, status=404, message="The model 'nope' does not exist")

    check = check_connection(endpoint_for(llm), "nope")

    assert not check.ok
    assert "HTTP 404" in check.message
    assert "does not exist" in check.message
    assert len(llm.requests) == 1


# -- parse_json_answer -----------------------------------------------------------------------


def test_parse_json_answer_reads_a_plain_json_object():
    assert parse_json_answer(' {"score": 1, "reasoning": "ok"} ') == {"score": 1, "reasoning": "ok"}


def test_parse_json_answer_prefers_a_fenced_json_block():
    text = 'Thinking {not json}.\n```json\n{"score": 0.5, "reasoning": "half"}\n```\nDone.'

    assert parse_json_answer(text) == {"score": 0.5, "reasoning": "half"}


def test_parse_json_answer_reads_a_fence_without_a_language():
    assert parse_json_answer('```\n{"score": 2}\n```') == {"score": 2}


def test_parse_json_answer_finds_the_first_balanced_object_in_prose():
    text = 'My verdict: {"score": 1, "reasoning": "uses {braces} and \\"quotes\\"", "tags": {"a": [1]}} - end {"x": 2}'

    assert parse_json_answer(text) == {
        "score": 1,
        "reasoning": 'uses {braces} and "quotes"',
        "tags": {"a": [1]},
    }


def test_parse_json_answer_skips_braces_that_are_not_json():
    assert parse_json_answer('Set {a, b} then {"score": 3}') == {"score": 3}


@pytest.mark.parametrize(
    "text", ["", "no json here", "[1, 2, 3]", '```json\n"just a string"\n```', "{broken: json"]
)
def test_parse_json_answer_raises_bad_response_without_an_object(text):
    with pytest.raises(LLMBadResponse, match="no JSON object"):
        parse_json_answer(text)


# -- pricing ---------------------------------------------------------------------------------

JAN = datetime(2025, 1, 1, tzinfo=UTC)
JUN = datetime(2025, 6, 1, tzinfo=UTC)


def test_price_pattern_matches_the_whole_model_name_case_insensitively():
    prices = [Price("gpt-4o", input_price=1), Price("gpt-4o-mini", input_price=2)]

    assert find_price(prices, "GPT-4o", JUN).input_price == 1
    assert find_price(prices, "gpt-4o-mini", JUN).input_price == 2
    assert find_price(prices, "gpt-4o-2024", JUN) is None
    assert find_price(prices, "", JUN) is None


def test_newest_price_started_by_the_call_wins():
    prices = [
        Price(r"claude-.*", input_price=1, start_date=JAN),
        Price(r"claude-3.*", input_price=2, start_date=JUN),
        Price(r"claude-.*", input_price=3, start_date=JUN + timedelta(days=30)),
    ]

    assert find_price(prices, "claude-3-opus", JUN + timedelta(days=1)).input_price == 2
    assert find_price(prices, "claude-3-opus", JAN + timedelta(days=1)).input_price == 1
    assert find_price(prices, "claude-2", JUN + timedelta(days=1)).input_price == 1


def test_an_undated_price_applies_always_but_loses_to_an_applicable_dated_one():
    prices = [Price("m", input_price=1), Price("m", input_price=2, start_date=JUN)]

    assert find_price(prices, "m", JAN).input_price == 1
    assert find_price(prices, "m", JUN).input_price == 2


def test_naive_dates_are_taken_as_utc():
    prices = [Price("m", input_price=2, start_date=datetime(2025, 6, 1))]

    assert find_price(prices, "m", JUN).input_price == 2
    assert find_price(prices, "m", datetime(2025, 5, 31)) is None


def test_an_invalid_pattern_prices_nothing_instead_of_failing():
    prices = [Price("gpt-(", input_price=9), Price("gpt-.*", input_price=1)]

    assert find_price(prices, "gpt-4", JUN).input_price == 1


def test_patterns_are_compiled_once():
    prices = [Price("cached-pattern-.*", input_price=1)]
    find_price(prices, "cached-pattern-a", JUN)
    misses = pricing._compiled.cache_info().misses

    find_price(prices, "cached-pattern-b", JUN)

    assert pricing._compiled.cache_info().misses == misses


def test_cost_is_input_and_output_tokens_times_their_prices():
    price = Price("m", input_price=Decimal("0.0000025"), output_price=1e-05)

    cost = compute_cost(
        price, {"input": 1_000_000, "output": 200_000, "total": 1_200_000, "input_cached_tokens": 50}
    )

    assert cost == {"input": 2.5, "output": 2.0, "total": 4.5}


def test_cost_uses_the_total_price_only_without_input_and_output_prices():
    assert compute_cost(Price("m", total_price=0.5), {"input": 3, "output": 1})["total"] == 2.0
    assert compute_cost(Price("m", total_price=0.5), {"total": 10})["total"] == 5.0
    assert compute_cost(Price("m", input_price=1, total_price=100), {"input": 3, "total": 10})["total"] == 3.0


def test_chat_usage_feeds_compute_cost(llm, sleeps):
    result = ask(llm, sleeps, "one two three")  # 3 input words, 4 output words

    cost = compute_cost(Price("fake-.*", input_price=1, output_price=10), result.usage)

    assert cost == {"input": 3.0, "output": 40.0, "total": 43.0}
