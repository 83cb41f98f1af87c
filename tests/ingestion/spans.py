"""Building OTLP spans for tests: as decoded records, as protobuf bodies and as OTLP/JSON bodies."""

from __future__ import annotations

import gzip
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue

from ingestion.otlp import SpanRecord, map_span

BASE_TIME = datetime(2026, 1, 15, 12, 0, 0, tzinfo=UTC)


@dataclass
class SpanSpec:
    trace_id: str
    span_id: str
    parent_span_id: str | None = None
    name: str = "span"
    start: float = 0.0  # seconds after BASE_TIME
    end: float = 1.0
    attributes: dict[str, Any] = field(default_factory=dict)
    resource: dict[str, Any] = field(default_factory=dict)
    scope_name: str = "langfuse-sdk"
    scope_version: str = "5.0.4"
    status_code: int = 0

    @property
    def start_time(self) -> datetime:
        return BASE_TIME + timedelta(seconds=self.start)

    @property
    def end_time(self) -> datetime:
        return BASE_TIME + timedelta(seconds=self.end)

    def record(self) -> SpanRecord:
        return SpanRecord(
            trace_id=self.trace_id,
            span_id=self.span_id,
            parent_span_id=self.parent_span_id,
            name=self.name,
            kind=1,
            start_time=self.start_time,
            end_time=self.end_time,
            status_code=self.status_code,
            status_message="",
            attributes=dict(self.attributes),
            events=[],
            resource_attributes=dict(self.resource),
            scope_name=self.scope_name,
            scope_version=self.scope_version,
            scope_attributes={},
        )

    def mapped(self):
        return map_span(self.record())


def _nanos(moment: datetime) -> int:
    return int((moment - datetime(1970, 1, 1, tzinfo=UTC)) / timedelta(microseconds=1)) * 1000


def _any_value(value: Any) -> AnyValue:
    if isinstance(value, bool):
        return AnyValue(bool_value=value)
    if isinstance(value, int):
        return AnyValue(int_value=value)
    if isinstance(value, float):
        return AnyValue(double_value=value)
    if isinstance(value, list):
        result = AnyValue()
        result.array_value.values.extend(_any_value(item) for item in value)
        return result
    return AnyValue(string_value=str(value))


def _key_values(attributes: dict[str, Any]) -> list[KeyValue]:
    return [KeyValue(key=key, value=_any_value(value)) for key, value in attributes.items()]


def protobuf_body(spans: list[SpanSpec], *, gzipped: bool = False) -> bytes:
    """One ExportTraceServiceRequest, one resource and scope per distinct (resource, scope)."""
    request = ExportTraceServiceRequest()
    for test_span in spans:
        resource_spans = request.resource_spans.add()
        resource_spans.resource.attributes.extend(_key_values(test_span.resource))
        scope_spans = resource_spans.scope_spans.add()
        scope_spans.scope.name = test_span.scope_name
        scope_spans.scope.version = test_span.scope_version
        span = scope_spans.spans.add()
        span.trace_id = bytes.fromhex(test_span.trace_id)
        span.span_id = bytes.fromhex(test_span.span_id)
        if test_span.parent_span_id:
            span.parent_span_id = bytes.fromhex(test_span.parent_span_id)
        span.name = test_span.name
        span.start_time_unix_nano = _nanos(test_span.start_time)
        span.end_time_unix_nano = _nanos(test_span.end_time)
        span.status.code = test_span.status_code
        span.attributes.extend(_key_values(test_span.attributes))
    body = request.SerializeToString()
    return gzip.compress(body) if gzipped else body


def _json_value(value: Any) -> dict:
    if isinstance(value, bool):
        return {"boolValue": value}
    if isinstance(value, int):
        return {"intValue": str(value)}
    if isinstance(value, float):
        return {"doubleValue": value}
    if isinstance(value, list):
        return {"arrayValue": {"values": [_json_value(item) for item in value]}}
    return {"stringValue": str(value)}


def json_body(spans: list[SpanSpec]) -> bytes:
    """OTLP/JSON: hex ids and int64 values as strings."""
    resource_spans = []
    for test_span in spans:
        span = {
            "traceId": test_span.trace_id,
            "spanId": test_span.span_id,
            "name": test_span.name,
            "startTimeUnixNano": str(_nanos(test_span.start_time)),
            "endTimeUnixNano": str(_nanos(test_span.end_time)),
            "attributes": [{"key": k, "value": _json_value(v)} for k, v in test_span.attributes.items()],
            "status": {"code": test_span.status_code},
        }
        if test_span.parent_span_id:
            span["parentSpanId"] = test_span.parent_span_id
        resource_spans.append(
            {
                "resource": {"attributes": [{"key": k, "value": _json_value(v)} for k, v in test_span.resource.items()]},
                "scopeSpans": [
                    {"scope": {"name": test_span.scope_name, "version": test_span.scope_version}, "spans": [span]}
                ],
            }
        )
    return json.dumps({"resourceSpans": resource_spans}).encode()


def sdk_trace(trace_id: str = "a" * 32, *, offset: float = 0.0) -> list[SpanSpec]:
    """A small trace as SDK v5 sends it: root span, a child span, a generation under it, an event.

    Listed in the order the SDK exports them (a span ends, and is exported, after its children):
    generation, child, event, root. Span ids are the trace id's last 15 characters + 1…4 (root,
    child, generation, event), so traces built from different ids never share a span id.
    """
    root, child, generation, event = (f"{trace_id[-15:]}{n}" for n in range(1, 5))
    propagated = {
        "user.id": "user-1",
        "session.id": "session-1",
        "langfuse.trace.tags": ["beta", "alpha"],
        "langfuse.trace.metadata.team": json.dumps("qa"),
        "langfuse.version": "v1",
    }
    resource = {"langfuse.environment": "production", "langfuse.release": "r1", "service.name": "app"}
    return [
        SpanSpec(
            trace_id, generation, child, "llm", offset + 0.2, offset + 0.8, resource=resource,
            attributes={
                **propagated,
                "langfuse.observation.type": "generation",
                "langfuse.observation.model.name": "gpt-test",
                "langfuse.observation.usage_details": json.dumps({"input": 100, "output": 50}),
                "langfuse.observation.input": json.dumps([{"role": "user", "content": "hi"}]),
                "langfuse.observation.output": "hello",
            },
        ),
        SpanSpec(
            trace_id, child, root, "retrieve", offset + 0.1, offset + 0.9, resource=resource,
            attributes={**propagated, "langfuse.observation.metadata.k": json.dumps(3)},
        ),
        SpanSpec(
            trace_id, event, root, "note", offset + 0.95, offset + 0.95, resource=resource,
            attributes={**propagated, "langfuse.observation.type": "event"},
        ),
        SpanSpec(
            trace_id, root, None, "handle", offset, offset + 1.0, resource=resource,
            attributes={
                **propagated,
                "langfuse.observation.input": json.dumps({"q": "hi"}),
                "langfuse.observation.output": json.dumps({"a": "hello"}),
            },
        ),
    ]
