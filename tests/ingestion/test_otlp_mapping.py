import json
import uuid
from datetime import UTC, datetime

import pytest
from langfuse import Langfuse, propagate_attributes
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from ingestion.otlp.decode import SpanRecord, decode_export_request
from ingestion.otlp.mapping import map_span

START = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)
END = datetime(2026, 1, 1, 12, 0, 2, tzinfo=UTC)
TRACE_ID = "5b8efff798038103d269b633813fc60c"
SPAN_ID = "eee19b7ec3c1b174"
PARENT_ID = "eee19b7ec3c1b173"


def make_span(attributes=None, **overrides) -> SpanRecord:
    """A decoded span from a third-party scope with only the given attributes."""
    fields = {
        "trace_id": TRACE_ID,
        "span_id": SPAN_ID,
        "parent_span_id": PARENT_ID,
        "name": "op",
        "kind": 1,
        "start_time": START,
        "end_time": END,
        "status_code": 0,
        "status_message": "",
        "attributes": attributes or {},
        "events": [],
        "resource_attributes": {},
        "scope_name": "some.instrumentation",
        "scope_version": "1.0",
        "scope_attributes": {},
    }
    fields.update(overrides)
    return SpanRecord(**fields)


def langfuse_span(attributes=None, **overrides) -> SpanRecord:
    return make_span(attributes, **{"scope_name": "langfuse-sdk", "scope_version": "5.0.4", **overrides})


def export_and_decode(exporter) -> dict[str, SpanRecord]:
    """Round-trip real SDK spans through the OTLP protobuf encoding and our decoder."""
    body = encode_spans(exporter.get_finished_spans()).SerializeToString()
    return {span.name: span for span in decode_export_request(body, "application/x-protobuf", None)}


@pytest.fixture
def langfuse_client():
    """A real Langfuse v5 client whose spans go to memory instead of the network."""
    exporter = InMemorySpanExporter()
    client = Langfuse(
        public_key=f"pk-lf-{uuid.uuid4().hex}",
        secret_key="sk-lf-test",
        base_url="http://127.0.0.1:9",
        tracer_provider=TracerProvider(),
        span_exporter=exporter,
        environment="production",
        release="r-42",
    )
    yield client, exporter
    client.shutdown()


@pytest.fixture
def langfuse_trace(langfuse_client):
    """A v5 trace: an app-root span with propagated trace attributes and a generation inside."""
    client, exporter = langfuse_client
    with client.start_as_current_observation(name="agent-run", input={"question": "hi"}) as root:
        with propagate_attributes(
            user_id="user-1",
            session_id="session-1",
            tags=["alpha", "beta"],
            metadata={"team": "qa"},
            trace_name="support-bot",
        ):
            generation = client.start_observation(
                name="llm-call",
                as_type="generation",
                model="gpt-4o",
                model_parameters={"temperature": 0.2, "max_tokens": 100},
                input=[{"role": "user", "content": "hi"}],
                usage_details={"input": 10, "output": 5, "total": 15},
                cost_details={"input": 0.001, "output": 0.002},
                completion_start_time=datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC),
                metadata={"count": 1, "code": "123", "nested": {"x": [1]}},
            )
            generation.update(output="hello")
            generation.end()
        root.update(output="done")
    client.flush()
    return export_and_decode(exporter)


# --- Langfuse SDK v5 ---------------------------------------------------------------------


def test_langfuse_v5_generation_maps_model_parameters_usage_cost_and_completion_start(langfuse_trace):
    observation = map_span(langfuse_trace["llm-call"]).observation

    assert observation["type"] == "GENERATION"
    assert observation["model"] == "gpt-4o"
    assert observation["model_parameters"] == {"temperature": 0.2, "max_tokens": 100}
    assert observation["usage_details"] == {"input": 10, "output": 5, "total": 15}
    assert observation["cost_details"] == {"input": 0.001, "output": 0.002}
    assert observation["completion_start_time"] == datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)
    assert observation["input"] == [{"role": "user", "content": "hi"}]
    assert observation["output"] == "hello"
    assert (observation["environment"], observation["release"]) == ("production", "r-42")


def test_langfuse_v5_metadata_values_are_json_decoded(langfuse_trace):
    observation = map_span(langfuse_trace["llm-call"]).observation

    # "123" stays a string and 1 a number: v5 JSON-encodes every value, strings included.
    assert observation["metadata"] == {"count": 1, "code": "123", "nested": {"x": [1]}, "team": "qa"}


def test_langfuse_v5_observation_ids_and_times_come_from_the_span(langfuse_trace):
    root, generation = langfuse_trace["agent-run"], langfuse_trace["llm-call"]

    observation = map_span(generation).observation

    assert observation["id"] == generation.span_id
    assert observation["trace_id"] == root.trace_id
    assert observation["parent_observation_id"] == root.span_id
    assert (observation["start_time"], observation["end_time"]) == (
        generation.start_time,
        generation.end_time,
    )


def test_langfuse_v5_propagated_attributes_become_trace_fields_on_every_span(langfuse_trace):
    child_trace = map_span(langfuse_trace["llm-call"]).trace

    assert child_trace == {
        "name": "support-bot",
        "user_id": "user-1",
        "session_id": "session-1",
        "tags": ["alpha", "beta"],
        "metadata": {"team": "qa"},
        "environment": "production",
        "release": "r-42",
    }


def test_langfuse_v5_root_span_gives_the_trace_its_io_and_timestamp(langfuse_trace):
    root = langfuse_trace["agent-run"]

    mapped = map_span(root)

    assert mapped.is_root
    assert mapped.observation["type"] == "SPAN"
    assert mapped.trace["input"] == {"question": "hi"}
    assert mapped.trace["output"] == "done"
    assert mapped.trace["timestamp"] == root.start_time
    assert not map_span(langfuse_trace["llm-call"]).is_root


def test_metadata_values_json_encoded_by_older_langfuse_sdks_are_decoded_and_their_raw_strings_kept():
    # Before v5 the SDK sent strings and ints as they are and JSON-encoded everything else.
    attributes = {
        "langfuse.observation.metadata.tags": '["yo"]',
        "langfuse.observation.metadata.score": "0.5",
        "langfuse.observation.metadata.nested": '{"a": {"b": 1}}',
        "langfuse.observation.metadata.note": "plain words",
        "langfuse.observation.metadata.count": 3,
        "langfuse.trace.metadata.flag": "false",
    }
    mapped = map_span(langfuse_span(attributes, scope_version="4.14.3"))

    assert mapped.observation["metadata"] == {
        "tags": ["yo"], "score": 0.5, "nested": {"a": {"b": 1}}, "note": "plain words", "count": 3, "flag": False,
    }  # fmt: skip


def test_metadata_values_of_third_party_instrumentations_stay_as_sent():
    span = langfuse_span({"langfuse.observation.metadata.tags": '["yo"]'}, scope_name="my-instrumentation")

    assert map_span(span).observation["metadata"]["tags"] == '["yo"]'


def test_metadata_value_that_is_not_json_falls_back_to_the_raw_string_for_v5():
    span = langfuse_span({"langfuse.observation.metadata.note": "plain words"})

    assert map_span(span).observation["metadata"] == {"note": "plain words"}


def test_whole_object_metadata_is_merged_under_flattened_keys():
    span = langfuse_span(
        {
            "langfuse.observation.metadata": '{"a": 1, "b": 2}',
            "langfuse.observation.metadata.b": "3",
            "langfuse.trace.metadata": '{"t": "x"}',
        }
    )

    mapped = map_span(span)

    assert mapped.observation["metadata"] == {"t": "x", "a": 1, "b": 3}
    assert mapped.trace["metadata"] == {"t": "x"}


def test_non_object_metadata_is_kept_under_a_metadata_key():
    span = langfuse_span({"langfuse.observation.metadata": '"just text"'})

    assert map_span(span).observation["metadata"] == {"metadata": "just text"}


def test_langfuse_span_metadata_has_no_instrumentation_extras():
    span = langfuse_span({"custom": 1}, resource_attributes={"service.name": "svc"})

    assert map_span(span).observation["metadata"] == {}


def test_raw_string_input_that_is_not_json_is_kept_as_text():
    span = langfuse_span({"langfuse.observation.input": "hello {world", "langfuse.observation.output": "42"})

    observation = map_span(span).observation

    assert (observation["input"], observation["output"]) == ("hello {world", 42)


# --- gen_ai semantic conventions ---------------------------------------------------------


def test_gen_ai_only_span_maps_messages_with_system_instructions_first():
    exporter = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource.create({"deployment.environment.name": "staging"}))
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    with provider.get_tracer("opentelemetry.instrumentation.openai", "0.40").start_as_current_span(
        "chat gpt-4o"
    ) as span:
        span.set_attributes(
            {
                "gen_ai.operation.name": "chat",
                "gen_ai.request.model": "gpt-4o",
                "gen_ai.response.model": "gpt-4o-2024-08-06",
                "gen_ai.system_instructions": json.dumps([{"type": "text", "content": "Be brief."}]),
                "gen_ai.input.messages": json.dumps(
                    [{"role": "user", "parts": [{"type": "text", "content": "hi"}]}]
                ),
                "gen_ai.output.messages": json.dumps(
                    [{"role": "assistant", "parts": [{"type": "text", "content": "yo"}]}]
                ),
            }
        )

    observation = map_span(export_and_decode(exporter)["chat gpt-4o"]).observation

    assert observation["type"] == "GENERATION"
    assert observation["model"] == "gpt-4o-2024-08-06"
    assert observation["environment"] == "staging"
    assert observation["input"] == [
        {"role": "system", "parts": [{"type": "text", "content": "Be brief."}]},
        {"role": "user", "parts": [{"type": "text", "content": "hi"}]},
    ]
    assert observation["output"] == [{"role": "assistant", "parts": [{"type": "text", "content": "yo"}]}]


def test_gen_ai_usage_subtracts_cached_tokens_from_input_and_reasoning_tokens_from_output():
    span = make_span(
        {
            "gen_ai.usage.input_tokens": 100,
            "gen_ai.usage.output_tokens": 50,
            "gen_ai.usage.total_tokens": 150,
            "gen_ai.usage.cache_read_input_tokens": 30,
            "gen_ai.usage.cache_creation_input_tokens": 5,
            "gen_ai.usage.reasoning_tokens": 20,
            "gen_ai.usage.cost": 0.25,
        }
    )

    observation = map_span(span).observation

    assert observation["usage_details"] == {
        "input": 70,
        "output": 30,
        "total": 150,
        "input_cached_tokens": 30,
        "input_cache_creation": 5,
        "output_reasoning_tokens": 20,
    }
    assert observation["cost_details"] == {"total": 0.25}


def test_legacy_prompt_and_completion_token_names_are_normalised():
    span = make_span({"gen_ai.usage.prompt_tokens": "12", "gen_ai.usage.completion_tokens": 3})

    assert map_span(span).observation["usage_details"] == {"input": 12, "output": 3, "total": 15}


def test_gen_ai_request_attributes_become_stringified_model_parameters_without_the_model():
    span = make_span(
        {
            "gen_ai.request.model": "m",
            "gen_ai.request.temperature": 0.5,
            "gen_ai.request.max_tokens": 64,
            "gen_ai.request.stop_sequences": ["\n"],
        }
    )

    assert map_span(span).observation["model_parameters"] == {
        "temperature": "0.5",
        "max_tokens": "64",
        "stop_sequences": '["\\n"]',
    }


def test_gen_ai_span_events_become_input_messages_and_choice_output():
    def event(name, **attributes):
        return {"name": name, "time": START, "attributes": attributes}

    span = make_span(
        {"gen_ai.system": "openai"},
        events=[
            event("gen_ai.system.message", content="Be brief."),
            event("gen_ai.user.message", content="hi"),
            event("unrelated"),
            event("gen_ai.choice", index=0, finish_reason="stop", message='{"content": "yo"}'),
        ],
    )

    observation = map_span(span).observation

    assert observation["input"] == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "hi"},
    ]
    assert observation["output"] == {"index": 0, "finish_reason": "stop", "message": '{"content": "yo"}'}


def test_flattened_gen_ai_prompt_and_completion_become_message_lists():
    span = make_span(
        {
            "gen_ai.prompt.1.role": "user",
            "gen_ai.prompt.1.content": "second",
            "gen_ai.prompt.0.role": "system",
            "gen_ai.prompt.0.content": "first",
            "gen_ai.completion.0.role": "assistant",
            "gen_ai.completion.0.tool_calls.0.name": "lookup",
        }
    )

    observation = map_span(span).observation

    assert observation["input"] == [
        {"role": "system", "content": "first"},
        {"role": "user", "content": "second"},
    ]
    assert observation["output"] == [{"role": "assistant", "tool_calls": [{"name": "lookup"}]}]


def test_gen_ai_tool_span_is_a_tool_named_after_the_tool_with_arguments_and_result():
    span = make_span(
        {
            "gen_ai.operation.name": "execute_tool",
            "gen_ai.tool.name": "get_weather",
            "gen_ai.tool.call.arguments": '{"city": "Oslo"}',
            "gen_ai.tool.call.result": "sunny",
        },
        name="execute_tool get_weather",
    )

    observation = map_span(span).observation

    assert (observation["type"], observation["name"]) == ("TOOL", "get_weather")
    assert (observation["input"], observation["output"]) == ({"city": "Oslo"}, "sunny")


def test_gen_ai_conversation_id_becomes_the_session_id():
    span = make_span({"gen_ai.conversation.id": "conv-7"})

    assert map_span(span).trace["session_id"] == "conv-7"


# --- OpenInference and other conventions -------------------------------------------------


def test_openinference_llm_span_maps_type_io_model_parameters_and_token_counts():
    span = make_span(
        {
            "openinference.span.kind": "LLM",
            "llm.model_name": "claude-3",
            "llm.invocation_parameters": '{"temperature": 0}',
            "input.value": '{"messages": [{"role": "user", "content": "hi"}]}',
            "input.mime_type": "application/json",
            "output.value": "hello",
            "llm.input_messages.0.message.role": "user",
            "llm.token_count.prompt": 9,
            "llm.token_count.completion": 4,
            "llm.token_count.total": 13,
            "llm.token_count.prompt_details.cache_read": 2,
            "llm.cost.total": 0.5,
        },
        scope_name="openinference.instrumentation.anthropic",
    )

    observation = map_span(span).observation

    assert observation["type"] == "GENERATION"
    assert observation["model"] == "claude-3"
    assert observation["model_parameters"] == {"temperature": 0}
    assert observation["input"] == {"messages": [{"role": "user", "content": "hi"}]}
    assert observation["output"] == "hello"
    assert observation["usage_details"] == {"input": 7, "output": 4, "total": 13, "input_cached_tokens": 2}
    assert observation["cost_details"] == {"total": 0.5}


def test_openinference_messages_are_used_and_unwrapped_without_input_value():
    span = make_span(
        {
            "openinference.span.kind": "LLM",
            "llm.input_messages.0.message.role": "user",
            "llm.input_messages.0.message.content": "hi",
            "llm.output_messages.0.message.role": "assistant",
            "llm.output_messages.0.message.content": "yo",
        }
    )

    observation = map_span(span).observation

    assert observation["input"] == [{"role": "user", "content": "hi"}]
    assert observation["output"] == [{"role": "assistant", "content": "yo"}]


def test_openinference_plain_text_value_is_not_json_decoded():
    span = make_span({"input.value": "42", "input.mime_type": "text/plain"})

    assert map_span(span).observation["input"] == "42"


@pytest.mark.parametrize(
    ("attributes", "expected"),
    [
        ({"traceloop.entity.input": '{"a": 1}', "traceloop.entity.output": "x"}, ({"a": 1}, "x")),
        ({"mlflow.spanInputs": "[1, 2]", "mlflow.spanOutputs": '{"ok": true}'}, ([1, 2], {"ok": True})),
        ({"input": "question", "output": '"answer"'}, ("question", "answer")),
        ({"langfuse.observation.input": "lf", "input.value": "oi"}, ("lf", None)),
        ({"gen_ai.input.messages": "[]", "traceloop.entity.input": "tl"}, ([], None)),
        ({}, (None, None)),
    ],
)
def test_input_and_output_come_from_the_first_convention_present(attributes, expected):
    observation = map_span(make_span(attributes)).observation

    assert (observation["input"], observation["output"]) == expected


def test_third_party_span_keeps_leftover_attributes_resource_and_scope_in_metadata():
    span = make_span(
        {"http.method": "GET", "input.value": "big payload", "llm.input_messages.0.message.role": "user"},
        resource_attributes={"service.name": "svc"},
        scope_attributes={"lib": "x"},
    )

    metadata = map_span(span).observation["metadata"]

    assert metadata == {
        "attributes": {"http.method": "GET"},
        "resourceAttributes": {"service.name": "svc"},
        "scope": {"name": "some.instrumentation", "version": "1.0", "attributes": {"lib": "x"}},
    }


# --- type, level, status ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("attributes", "expected"),
    [
        ({"langfuse.observation.type": "event"}, "EVENT"),
        ({"langfuse.observation.type": "guardrail", "openinference.span.kind": "LLM"}, "GUARDRAIL"),
        ({"langfuse.observation.type": "unknown-type", "openinference.span.kind": "RETRIEVER"}, "RETRIEVER"),
        ({"openinference.span.kind": "llm"}, "GENERATION"),
        ({"openinference.span.kind": "EVALUATOR"}, "EVALUATOR"),
        ({"gen_ai.operation.name": "embeddings"}, "EMBEDDING"),
        ({"gen_ai.operation.name": "invoke_agent", "gen_ai.request.model": "m"}, "AGENT"),
        ({"gen_ai.operation.name": "generate_content"}, "GENERATION"),
        ({"gen_ai.tool.call.id": "call_1"}, "TOOL"),
        ({"gen_ai.tool.name": "t", "gen_ai.request.model": "m"}, "TOOL"),
        ({"model": "m"}, "GENERATION"),
        ({"gen_ai.response.model": "m"}, "GENERATION"),
        ({"http.method": "GET"}, "SPAN"),
    ],
)
def test_observation_type_follows_the_first_matching_rule(attributes, expected):
    assert map_span(make_span(attributes)).observation["type"] == expected


@pytest.mark.parametrize(
    ("level", "expected"),
    [
        ("DEBUG", "DEBUG"),
        ("info", "DEFAULT"),
        ("DEFAULT", "DEFAULT"),
        ("WARN", "WARNING"),
        ("warning", "WARNING"),
        ("FATAL", "ERROR"),
        ("CRITICAL", "ERROR"),
        ("ERROR", "ERROR"),
    ],
)
def test_level_attribute_and_its_aliases_map_to_langfuse_levels(level, expected):
    # An error status would make the level ERROR, so only a recognised level yields anything else.
    span = make_span({"langfuse.observation.level": level}, status_code=2)

    assert map_span(span).observation["level"] == expected


def test_error_status_code_makes_the_level_error_when_no_level_is_set():
    mapped = map_span(make_span(status_code=2, status_message="boom")).observation

    assert (mapped["level"], mapped["status_message"]) == ("ERROR", "boom")
    assert map_span(make_span(status_code=1)).observation["level"] == "DEFAULT"


def test_explicit_level_and_status_message_win_over_the_span_status():
    span = make_span(
        {"langfuse.observation.level": "WARNING", "langfuse.observation.status_message": "slow"},
        status_code=2,
        status_message="boom",
    )

    observation = map_span(span).observation

    assert (observation["level"], observation["status_message"]) == ("WARNING", "slow")


def test_empty_status_message_becomes_none():
    assert map_span(make_span()).observation["status_message"] is None


def test_completion_start_time_accepts_an_unquoted_iso_string():
    span = make_span({"langfuse.observation.completion_start_time": "2026-01-01T12:00:00.5+01:00"})

    assert map_span(span).observation["completion_start_time"] == datetime(
        2026, 1, 1, 11, 0, 0, 500000, tzinfo=UTC
    )


def test_prompt_name_and_version_are_kept_only_for_generations():
    prompt = {"langfuse.observation.prompt.name": "greeting", "langfuse.observation.prompt.version": 3}

    generation = map_span(make_span({**prompt, "langfuse.observation.type": "generation"})).observation
    span = map_span(make_span({**prompt, "langfuse.observation.type": "span"})).observation

    assert (generation["prompt_name"], generation["prompt_version"]) == ("greeting", 3)
    assert (span["prompt_name"], span["prompt_version"]) == (None, None)


# --- environment, release, version ---------------------------------------------------------


def test_environment_defaults_to_default_but_the_trace_gets_no_opinion():
    mapped = map_span(make_span())

    assert mapped.observation["environment"] == "default"
    assert "environment" not in mapped.trace


def test_span_environment_wins_over_the_resource_and_langfuse_key_wins_over_deployment_keys():
    span = make_span(
        {"deployment.environment": "span-deploy"},
        resource_attributes={
            "langfuse.environment": "resource-langfuse",
            "deployment.environment": "res-deploy",
        },
    )

    assert map_span(span).observation["environment"] == "resource-langfuse"
    assert (
        map_span(make_span({"deployment.environment": "span-deploy"})).observation["environment"]
        == "span-deploy"
    )


def test_version_falls_back_to_the_service_version_and_release_to_the_resource():
    span = make_span(resource_attributes={"service.version": "2.0", "langfuse.release": "rel-1"})

    mapped = map_span(span)

    assert (mapped.observation["version"], mapped.observation["release"]) == ("2.0", "rel-1")
    assert (mapped.trace["version"], mapped.trace["release"]) == ("2.0", "rel-1")
    assert (
        map_span(
            make_span({"langfuse.version": "v9"}, resource_attributes={"service.version": "2.0"})
        ).observation["version"]
        == "v9"
    )


# --- root and trace rules ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("parent_span_id", "attributes", "expected"),
    [
        (None, {}, True),
        (PARENT_ID, {}, False),
        (PARENT_ID, {"langfuse.internal.as_root": True}, True),
        (PARENT_ID, {"langfuse.internal.is_app_root": True}, True),
        (PARENT_ID, {"langfuse.internal.as_root": "true"}, True),
        (PARENT_ID, {"langfuse.internal.as_root": False}, False),
    ],
)
def test_root_is_a_span_without_parent_or_one_marked_as_root(parent_span_id, attributes, expected):
    assert map_span(make_span(attributes, parent_span_id=parent_span_id)).is_root is expected


def test_root_span_names_the_trace_unless_a_trace_name_is_given():
    assert map_span(make_span(parent_span_id=None, name="handler")).trace["name"] == "handler"
    named = make_span({"langfuse.trace.name": "explicit"}, parent_span_id=None, name="handler")
    assert map_span(named).trace["name"] == "explicit"
    assert "name" not in map_span(make_span(name="child")).trace


def test_non_root_span_contributes_no_trace_io_or_timestamp():
    span = make_span({"langfuse.observation.input": "q", "langfuse.observation.output": "a"})

    assert map_span(span).trace == {}


def test_trace_io_attributes_win_over_the_root_observation_io_and_count_on_any_span():
    attributes = {
        "langfuse.observation.input": "obs in",
        "langfuse.trace.input": '{"trace": "in"}',
        "langfuse.trace.output": "trace out",
    }

    root = map_span(make_span(attributes, parent_span_id=None)).trace
    child = map_span(make_span(attributes)).trace

    assert (root["input"], root["output"]) == ({"trace": "in"}, "trace out")
    assert (child["input"], child["output"]) == ({"trace": "in"}, "trace out")


@pytest.mark.parametrize(
    ("attributes", "expected"),
    [
        ({"langfuse.trace.tags": ["a", "b"]}, ["a", "b"]),
        ({"langfuse.trace.tags": '["x", "y"]'}, ["x", "y"]),
        ({"langfuse.trace.tags": "one, two ,three"}, ["one", "two", "three"]),
        ({"langfuse.trace.tags": "solo"}, ["solo"]),
        ({"langfuse.trace.tags": ["dup", "dup", ""]}, ["dup"]),
    ],
)
def test_trace_tags_accept_arrays_json_array_strings_and_comma_separated_strings(attributes, expected):
    assert map_span(make_span(attributes)).trace["tags"] == expected


@pytest.mark.parametrize(
    ("attributes", "user_id", "session_id"),
    [
        ({"user.id": "u1", "session.id": "s1"}, "u1", "s1"),
        ({"langfuse.user.id": "u2", "langfuse.session.id": "s2"}, "u2", "s2"),
        (
            {
                "langfuse.trace.metadata.langfuse_user_id": '"u3"',
                "langfuse.trace.metadata.langfuse_session_id": '"s3"',
            },
            "u3",
            "s3",
        ),
    ],
)
def test_user_and_session_ids_accept_their_aliases(attributes, user_id, session_id):
    trace = map_span(langfuse_span(attributes)).trace

    assert (trace["user_id"], trace["session_id"]) == (user_id, session_id)


@pytest.mark.parametrize(
    ("attributes", "expected"),
    [
        ({"langfuse.trace.public": True}, True),
        ({"langfuse.public": "true"}, True),
        ({"langfuse.trace.public": False}, False),
    ],
)
def test_public_flag_is_read_from_either_attribute(attributes, expected):
    assert map_span(make_span(attributes)).trace["public"] is expected


# --- experiments ---------------------------------------------------------------------------


def experiment_attributes(root_observation_id):
    return {
        "langfuse.experiment.id": "0123456789abcdef",
        "langfuse.experiment.name": "baseline - 2026-01-01T00:00:00Z",
        "langfuse.experiment.description": "first try",
        "langfuse.experiment.metadata": '{"model": "gpt-4o"}',
        "langfuse.experiment.dataset.id": "ds-1",
        "langfuse.experiment.item.id": "item-1",
        "langfuse.experiment.item.version": "2026-01-01T00:00:00Z",
        "langfuse.experiment.item.metadata": '{"difficulty": "hard"}',
        "langfuse.experiment.item.root_observation_id": root_observation_id,
        "langfuse.experiment.item.expected_output": '{"answer": 42}',
        "langfuse.environment": "sdk-experiment",
    }


def test_experiment_attributes_describe_the_run_and_mark_the_item_root_span():
    mapped = map_span(langfuse_span(experiment_attributes(SPAN_ID)))

    assert mapped.experiment == {
        "id": "0123456789abcdef",
        "name": "baseline - 2026-01-01T00:00:00Z",
        "description": "first try",
        "metadata": {"model": "gpt-4o"},
        "dataset_id": "ds-1",
        "item_id": "item-1",
        "item_version": datetime(2026, 1, 1, tzinfo=UTC),
        "item_metadata": {"difficulty": "hard"},
        "item_root_observation_id": SPAN_ID,
        "item_expected_output": {"answer": 42},
        "is_item_root": True,
    }
    assert mapped.observation["environment"] == "sdk-experiment"


def test_experiment_span_that_is_not_the_item_root_is_not_marked():
    mapped = map_span(langfuse_span(experiment_attributes(PARENT_ID)))

    assert mapped.experiment["is_item_root"] is False


def test_span_without_experiment_id_has_no_experiment():
    assert map_span(langfuse_span({"langfuse.experiment.name": "orphan"})).experiment is None
