"""Bounded memory and time per ingestion request: span and event limits, gzip bombs, chunked writes."""

import gzip
import json
import tracemalloc

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from ingestion import services
from tests.ingestion.spans import SpanSpec, json_body, protobuf_body, sdk_trace
from tests.ingestion.test_ingestion_merge import snapshot
from traces.models import Observation, Trace

pytestmark = pytest.mark.django_db

OTLP = "otel/v1/traces"
PROTOBUF = "application/x-protobuf"
NOW = "2026-01-15T12:00:00.000Z"


def traces(count: int) -> list[SpanSpec]:
    """`count` SDK traces of four spans each, with trace ids that do not sort in the order sent."""
    spans = []
    for n in range(count):
        spans += sdk_trace(f"{(n * 7919) % 1000:03d}".rjust(32, "c"), offset=n)
    return spans


def minimal_export(spans: int) -> bytes:
    """One gzip'd export of `spans` spans with only ids, a name and times (1,000 per trace)."""
    request = ExportTraceServiceRequest()
    scope = request.resource_spans.add().scope_spans.add()
    for n in range(spans):
        span = scope.spans.add()
        span.trace_id = (n // 1000 + 1).to_bytes(16, "big")
        span.span_id = (n + 1).to_bytes(8, "big")
        span.name = "s"
        span.start_time_unix_nano = span.end_time_unix_nano = 1_768_478_400_000_000_000
    return gzip.compress(request.SerializeToString())


def nothing_stored(project):
    return not Trace.objects.filter(project=project).exists() and not Observation.objects.filter(project=project).exists()


@pytest.mark.parametrize("encode", [protobuf_body, json_body], ids=["protobuf", "json"])
def test_an_export_above_the_span_limit_is_a_413_json_that_names_the_limit(api, project, settings, encode):
    settings.EVALSITE_MAX_SPANS_PER_REQUEST = 7

    response = api.post(OTLP, encode(traces(2)), content_type="application/json" if encode is json_body else PROTOBUF)

    assert response.status_code == 413
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert body["error"] == "PayloadTooLargeError"
    assert "8 spans" in body["message"] and "at most 7 spans" in body["message"]
    assert "EVALSITE_MAX_SPANS_PER_REQUEST" in body["message"]
    assert nothing_stored(project)


def test_an_export_at_the_span_limit_is_stored_completely_across_several_writes(
    api, project, victim_project, settings, monkeypatch
):
    settings.EVALSITE_MAX_SPANS_PER_REQUEST = 24
    spans = traces(6)
    monkeypatch.setattr(services, "SPANS_PER_WRITE", 5)

    assert api.post(OTLP, protobuf_body(spans), content_type=PROTOBUF).status_code == 200

    # The same spans written in one go give the same rows.
    monkeypatch.setattr(services, "SPANS_PER_WRITE", 1000)
    services.spans_ingest(project=victim_project, spans=[spec.mapped() for spec in spans])
    ours, theirs = snapshot(project), snapshot(victim_project)
    for rows in (*ours, *theirs):
        for row in rows.values():
            row.pop("project_id")
    assert len(ours[0]) == 6 and len(ours[1]) == 24
    assert ours == theirs


def test_an_export_of_as_many_minimal_spans_as_the_default_limit_allows_is_stored_completely(api, project, settings):
    limit = settings.EVALSITE_MAX_SPANS_PER_REQUEST
    assert limit == 10_000

    # How long it takes (inside gunicorn's 30 s worker timeout) is a figure of
    # `python -m bench.ingest --large-spans 10000`, not an assertion here.
    response = api.post(OTLP, minimal_export(limit), content_type=PROTOBUF, headers={"Content-Encoding": "gzip"})

    assert response.status_code == 200
    assert Observation.objects.filter(project=project).count() == limit
    assert Trace.objects.filter(project=project).count() == limit // 1000


def test_a_gzip_bomb_is_a_413_and_is_never_inflated_beyond_the_body_limit(api, project, settings):
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    # 1 GiB of zeros in 16 MiB gzip members: about 1 MB on the wire.
    member = gzip.compress(bytes(16 * 1024 * 1024), compresslevel=9)
    bomb = member * 64
    assert len(bomb) < 2 * 1024 * 1024

    tracemalloc.start()
    try:
        response = api.post(OTLP, bomb, content_type=PROTOBUF, headers={"Content-Encoding": "gzip"})
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert response.status_code == 413
    assert response.json()["error"] == "PayloadTooLargeError"
    assert f"limit of {limit} bytes" in response.json()["message"]
    # The body, what inflated up to the limit, and one step: never the gigabyte.
    assert peak < limit + 16 * 1024 * 1024
    assert nothing_stored(project)


def test_an_otlp_json_span_malformed_after_the_first_write_stores_nothing(api, project, monkeypatch):
    monkeypatch.setattr(services, "SPANS_PER_WRITE", 2)
    document = json.loads(json_body(traces(2)))
    # The last span (in trace order) has attributes that are not an array: found when it is mapped.
    document["resourceSpans"][-1]["scopeSpans"][0]["spans"][0]["attributes"] = {"not": "an array"}

    response = api.post(OTLP, json.dumps(document).encode(), content_type="application/json")

    assert response.status_code == 400
    assert "attributes: must be an array" in response.json()["message"]
    assert nothing_stored(project)


def legacy_events(count: int) -> list[dict]:
    return [
        {"id": f"e{n}", "type": "span-create", "timestamp": NOW, "body": {"id": f"s-{n}", "traceId": "t-1"}}
        for n in range(count)
    ]


def test_a_legacy_batch_above_the_event_limit_is_a_413_json_that_names_the_limit(api, project, settings):
    settings.EVALSITE_MAX_EVENTS_PER_REQUEST = 3

    response = api.post("ingestion", {"batch": legacy_events(4)})

    assert response.status_code == 413
    body = response.json()
    assert body["error"] == "PayloadTooLargeError"
    assert "4 events" in body["message"] and "at most 3 events" in body["message"]
    assert "EVALSITE_MAX_EVENTS_PER_REQUEST" in body["message"]
    assert nothing_stored(project)


def test_a_legacy_batch_at_the_event_limit_is_stored_completely(api, project, settings):
    settings.EVALSITE_MAX_EVENTS_PER_REQUEST = 3

    response = api.post("ingestion", {"batch": legacy_events(3)})

    assert response.status_code == 207
    assert len(response.json()["successes"]) == 3 and response.json()["errors"] == []
    assert Observation.objects.filter(project=project).count() == 3
