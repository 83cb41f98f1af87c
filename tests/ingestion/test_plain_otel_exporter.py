"""Spans from a plain OpenTelemetry SDK (no Langfuse code) with only gen_ai.* attributes."""

import json

import pytest

from evalsite.tenancy.roles import Role
from tests.ingestion.spans import SpanSpec, json_body
from tests.support.api import ApiClient, basic_auth
from tests.tenancy.factories import api_key_for
from traces.models import Observation, Trace


@pytest.mark.live
@pytest.mark.django_db(transaction=True)
def test_the_otlp_http_protobuf_exporter_sends_generations_with_model_messages_and_usage(live_server, project):
    from opentelemetry.exporter.otlp.proto.http import Compression
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor

    key = api_key_for(project, Role.MEMBER)
    exporter = OTLPSpanExporter(
        endpoint=f"{live_server.url}/api/public/otel/v1/traces",
        headers={"Authorization": basic_auth(key.public_key, key.secret_key)},
        compression=Compression.Gzip,
    )
    provider = TracerProvider(resource=Resource.create({"service.name": "plain-app", "deployment.environment": "qa"}))
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("my.genai.instrumentation")
    messages_in = [{"role": "user", "parts": [{"type": "text", "content": "Capital of France?"}]}]
    messages_out = [{"role": "assistant", "parts": [{"type": "text", "content": "Paris"}], "finish_reason": "stop"}]
    with tracer.start_as_current_span("chat gpt-4o") as span:
        span.set_attribute("gen_ai.operation.name", "chat")
        span.set_attribute("gen_ai.request.model", "gpt-4o")
        span.set_attribute("gen_ai.response.model", "gpt-4o-2024-08-06")
        span.set_attribute("gen_ai.request.temperature", 0.1)
        span.set_attribute("gen_ai.usage.input_tokens", 12)
        span.set_attribute("gen_ai.usage.output_tokens", 7)
        span.set_attribute("gen_ai.input.messages", json.dumps(messages_in))
        span.set_attribute("gen_ai.output.messages", json.dumps(messages_out))
        trace_id = format(span.get_span_context().trace_id, "032x")
        span_id = format(span.get_span_context().span_id, "016x")
    provider.shutdown()

    generation = Observation.objects.get(project=project, observation_id=span_id)
    assert generation.trace_id == trace_id
    assert generation.type == "GENERATION"
    assert generation.model == "gpt-4o-2024-08-06"  # the response model: what actually ran
    assert generation.model_parameters == {"temperature": "0.1"}
    assert generation.input == messages_in and generation.output == messages_out
    assert generation.usage_details == {"input": 12, "output": 7, "total": 19}
    assert (generation.input_tokens, generation.output_tokens, generation.total_tokens) == (12, 7, 19)
    assert generation.environment == "qa"
    assert generation.metadata["scope"]["name"] == "my.genai.instrumentation"
    trace = Trace.objects.get(project=project, trace_id=trace_id)
    assert trace.name == "chat gpt-4o" and trace.input == messages_in and trace.output == messages_out


@pytest.mark.django_db
def test_an_otlp_json_body_with_flattened_gen_ai_prompt_attributes_becomes_a_generation(project):
    spec = SpanSpec(
        "9" * 32,
        "8" * 16,
        None,
        "openai.chat",
        scope_name="opentelemetry.instrumentation.openai",
        scope_version="0.40.0",
        attributes={
            "gen_ai.system": "openai",
            "gen_ai.request.model": "gpt-4o-mini",
            "gen_ai.prompt.0.role": "system",
            "gen_ai.prompt.0.content": "Be brief.",
            "gen_ai.prompt.1.role": "user",
            "gen_ai.prompt.1.content": "Hi",
            "gen_ai.completion.0.role": "assistant",
            "gen_ai.completion.0.content": "Hello!",
            "gen_ai.usage.prompt_tokens": 9,
            "gen_ai.usage.completion_tokens": 2,
            "gen_ai.usage.total_tokens": 11,
        },
    )
    response = ApiClient(api_key_for(project, Role.MEMBER)).post(
        "otel/v1/traces", json_body([spec]), content_type="application/json"
    )
    assert response.status_code == 200 and response.json() == {}
    generation = Observation.objects.get(project=project)
    assert (generation.type, generation.model) == ("GENERATION", "gpt-4o-mini")
    assert generation.input == [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}]
    assert generation.output == [{"role": "assistant", "content": "Hello!"}]
    assert generation.usage_details == {"input": 9, "output": 2, "total": 11}
    assert generation.total_tokens == 11
