import base64
import gzip
import json
import tracemalloc
import zlib
from datetime import UTC, datetime

import pytest
from google.protobuf import json_format
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, Status, StatusCode, format_span_id, format_trace_id

from ingestion.otlp.decode import (
    InvalidContentType,
    InvalidPayload,
    PayloadTooLarge,
    TooManySpans,
    decode_export_request,
    gunzip_bounded,
    open_export_request,
)

PROTOBUF = "application/x-protobuf"
JSON = "application/json"
TRACE_ID = "5b8efff798038103d269b633813fc60c"
SPAN_ID = "eee19b7ec3c1b174"
PARENT_ID = "eee19b7ec3c1b173"


def finished_spans():
    """Two real SDK spans (a server span with a child that has an event and an error status)."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider(
        resource=Resource.create({"service.name": "checkout", "service.version": "1.2"})
    )
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("my.scope", "0.9", attributes={"public_key": "pk-1"})
    with tracer.start_as_current_span("parent", kind=SpanKind.SERVER) as parent:
        parent.set_attribute("http.route", "/pay")
        with tracer.start_as_current_span("child") as child:
            child.add_event("cache.miss", {"key": "k1", "attempt": 2})
            child.set_status(Status(StatusCode.ERROR, "card declined"))
    return exporter.get_finished_spans()


def export_request(spans=None) -> ExportTraceServiceRequest:
    return encode_spans(spans if spans is not None else finished_spans())


def protobuf_body(spans=None) -> bytes:
    return export_request(spans).SerializeToString()


def json_span(**overrides):
    span = {
        "traceId": TRACE_ID,
        "spanId": SPAN_ID,
        "name": "op",
        "kind": 1,
        "startTimeUnixNano": "1700000000123456789",
        "endTimeUnixNano": "1700000001000000000",
        "attributes": [],
    }
    span.update(overrides)
    return span


def json_body(*spans, resource_attributes=(), scope=None) -> bytes:
    document = {
        "resourceSpans": [
            {
                "resource": {"attributes": list(resource_attributes)},
                "scopeSpans": [{"scope": scope or {"name": "s", "version": "1"}, "spans": list(spans)}],
            }
        ]
    }
    return json.dumps(document).encode()


def test_protobuf_body_decodes_to_spans_with_hex_ids_and_parent_links():
    spans = finished_spans()
    child_sdk, parent_sdk = spans

    child, parent = decode_export_request(protobuf_body(spans), PROTOBUF, None)

    assert parent.trace_id == format_trace_id(parent_sdk.context.trace_id)
    assert parent.span_id == format_span_id(parent_sdk.context.span_id)
    assert parent.parent_span_id is None
    assert child.parent_span_id == parent.span_id
    assert child.trace_id == parent.trace_id
    assert len(child.span_id) == 16 and child.span_id == child.span_id.lower()
    # OTLP numbers kinds differently from the Python API: 2 is SPAN_KIND_SERVER.
    assert (parent.name, parent.kind) == ("parent", 2)


def test_protobuf_span_times_are_aware_utc_datetimes_from_unix_nanos():
    child_sdk = finished_spans()[0]

    child = decode_export_request(protobuf_body([child_sdk]), PROTOBUF, None)[0]

    seconds, nanos = divmod(child_sdk.start_time, 10**9)
    assert child.start_time == datetime.fromtimestamp(seconds, UTC).replace(microsecond=nanos // 1000)
    assert child.start_time.tzinfo is UTC
    assert child.end_time >= child.start_time


def test_protobuf_span_carries_status_events_resource_and_scope():
    child, parent = decode_export_request(protobuf_body(), PROTOBUF, None)

    assert (child.status_code, child.status_message) == (2, "card declined")
    assert (parent.status_code, parent.status_message) == (0, "")
    assert child.events[0]["name"] == "cache.miss"
    assert child.events[0]["attributes"] == {"key": "k1", "attempt": 2}
    assert child.events[0]["time"].tzinfo is UTC
    assert parent.attributes == {"http.route": "/pay"}
    assert parent.resource_attributes["service.name"] == "checkout"
    assert (parent.scope_name, parent.scope_version) == ("my.scope", "0.9")
    assert parent.scope_attributes == {"public_key": "pk-1"}


def test_gzip_protobuf_body_decodes_to_spans():
    body = gzip.compress(protobuf_body())

    spans = decode_export_request(body, PROTOBUF, "gzip")

    assert [span.name for span in spans] == ["child", "parent"]


def test_content_type_and_encoding_are_matched_by_containment():
    body = gzip.compress(protobuf_body())

    spans = decode_export_request(body, "application/x-protobuf; charset=binary", "x-gzip")

    assert len(spans) == 2
    assert decode_export_request(json_body(json_span()), "application/json; charset=utf-8", None)


def test_protobuf_attributes_convert_every_any_value_kind():
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    with provider.get_tracer("t").start_as_current_span("op") as span:
        span.set_attributes(
            {"s": "text", "b": True, "i": 2**40, "d": 1.5, "strings": ["a", "b"], "ints": [1, 2]}
        )
    request = export_request(exporter.get_finished_spans())
    attributes = request.resource_spans[0].scope_spans[0].spans[0].attributes
    # The SDK cannot produce kvlist, bytes, nested arrays or empty values; add them on the wire.
    nested = AnyValue()
    nested.kvlist_value.values.add(key="inner", value=AnyValue(int_value=7))
    nested.kvlist_value.values.add(
        key="list", value=AnyValue(array_value={"values": [AnyValue(bool_value=False)]})
    )
    attributes.append(KeyValue(key="kv", value=nested))
    attributes.append(KeyValue(key="raw", value=AnyValue(bytes_value=b"\x00\xffhi")))
    attributes.append(KeyValue(key="empty", value=AnyValue()))
    attributes.append(KeyValue(key="nan", value=AnyValue(double_value=float("nan"))))

    span = decode_export_request(request.SerializeToString(), PROTOBUF, None)[0]

    assert span.attributes == {
        "s": "text",
        "b": True,
        "i": 2**40,
        "d": 1.5,
        "strings": ["a", "b"],
        "ints": [1, 2],
        "kv": {"inner": 7, "list": [False]},
        "raw": base64.b64encode(b"\x00\xffhi").decode(),
        "empty": None,
        "nan": "NaN",
    }


def test_json_body_decodes_hex_ids_and_int64_strings():
    body = json_body(json_span(parentSpanId=PARENT_ID.upper()))

    (span,) = decode_export_request(body, JSON, None)

    assert (span.trace_id, span.span_id, span.parent_span_id) == (TRACE_ID, SPAN_ID, PARENT_ID)
    assert span.start_time == datetime(2023, 11, 14, 22, 13, 20, 123456, tzinfo=UTC)
    assert span.end_time == datetime(2023, 11, 14, 22, 13, 21, tzinfo=UTC)


def test_all_zero_parent_span_id_means_no_parent():
    request = export_request()
    request.resource_spans[0].scope_spans[0].spans[0].parent_span_id = bytes(8)

    (from_json,) = decode_export_request(json_body(json_span(parentSpanId="0" * 16)), JSON, None)
    from_protobuf = decode_export_request(request.SerializeToString(), PROTOBUF, None)[0]

    assert from_json.parent_span_id is None
    assert from_protobuf.parent_span_id is None


def test_json_attributes_convert_every_any_value_kind():
    attributes = [
        {"key": "s", "value": {"stringValue": "text"}},
        {"key": "b", "value": {"boolValue": False}},
        {"key": "i", "value": {"intValue": "9007199254740993"}},
        {"key": "i_number", "value": {"intValue": 3}},
        {"key": "d", "value": {"doubleValue": 0.25}},
        {"key": "inf", "value": {"doubleValue": "Infinity"}},
        {"key": "arr", "value": {"arrayValue": {"values": [{"stringValue": "x"}, {"intValue": "1"}]}}},
        {"key": "kv", "value": {"kvlistValue": {"values": [{"key": "k", "value": {"boolValue": True}}]}}},
        {"key": "bytes", "value": {"bytesValue": "AP9oaQ=="}},
        {"key": "empty", "value": {}},
    ]

    (span,) = decode_export_request(json_body(json_span(attributes=attributes)), JSON, None)

    assert span.attributes == {
        "s": "text",
        "b": False,
        "i": 9007199254740993,
        "i_number": 3,
        "d": 0.25,
        "inf": "Infinity",
        "arr": ["x", 1],
        "kv": {"k": True},
        "bytes": "AP9oaQ==",
        "empty": None,
    }


def test_json_body_accepts_snake_case_keys_and_enum_names():
    span = {
        "trace_id": TRACE_ID,
        "span_id": SPAN_ID,
        "parent_span_id": "",
        "name": "op",
        "kind": "SPAN_KIND_CLIENT",
        "start_time_unix_nano": "1700000000000000000",
        "end_time_unix_nano": 1700000000500000000,
        "status": {"code": "STATUS_CODE_ERROR", "message": "bad"},
        "attributes": [{"key": "n", "value": {"int_value": "5"}}],
        "events": [{"name": "e", "time_unix_nano": "1700000000100000000", "attributes": []}],
    }
    document = {
        "resource_spans": [
            {
                "resource": {"attributes": [{"key": "service.name", "value": {"string_value": "svc"}}]},
                "scope_spans": [{"scope": {"name": "sc"}, "spans": [span]}],
            }
        ]
    }

    (record,) = decode_export_request(json.dumps(document).encode(), JSON, None)

    assert record.parent_span_id is None
    assert (record.kind, record.status_code, record.status_message) == (3, 2, "bad")
    assert record.attributes == {"n": 5}
    assert record.resource_attributes == {"service.name": "svc"}
    assert record.events[0]["time"] == datetime(2023, 11, 14, 22, 13, 20, 100000, tzinfo=UTC)


def test_json_and_protobuf_encodings_of_the_same_export_decode_identically():
    request = export_request()
    document = json_format.MessageToDict(request)
    # OTLP/JSON writes ids as hex; json_format writes base64, so convert them as a real exporter would.
    for resource_spans in document["resourceSpans"]:
        for scope_spans in resource_spans["scopeSpans"]:
            for span in scope_spans["spans"]:
                for field in ("traceId", "spanId", "parentSpanId"):
                    if field in span:
                        span[field] = base64.b64decode(span[field]).hex()

    from_json = decode_export_request(json.dumps(document).encode(), JSON, None)
    from_protobuf = decode_export_request(request.SerializeToString(), PROTOBUF, None)

    assert from_json == from_protobuf


@pytest.mark.parametrize(
    ("span_overrides", "message"),
    [
        ({"spanId": "abc"}, "resourceSpans[0].scopeSpans[0].spans[1].spanId: must be 16 hex characters"),
        ({"spanId": None}, "resourceSpans[0].scopeSpans[0].spans[1].spanId: must be 16 hex characters"),
        ({"traceId": "0" * 32}, "resourceSpans[0].scopeSpans[0].spans[1].traceId: must not be all zeros"),
        ({"traceId": "W46/95gDgQPSabYzgT/GDA=="}, "spans[1].traceId: must be 32 hex characters"),
        ({"traceId": "z" * 32}, "spans[1].traceId: must be 32 hex characters"),
        ({"parentSpanId": "1234"}, "spans[1].parentSpanId: must be 16 hex characters or empty"),
    ],
)
def test_json_span_with_a_bad_id_rejects_the_whole_batch(span_overrides, message):
    body = json_body(json_span(), json_span(**span_overrides))

    with pytest.raises(InvalidPayload) as raised:
        decode_export_request(body, JSON, None)

    assert message in str(raised.value)


def test_protobuf_span_with_a_short_span_id_rejects_the_whole_batch():
    request = export_request()
    request.resource_spans[0].scope_spans[0].spans[1].span_id = b"\x01\x02"

    with pytest.raises(InvalidPayload, match=r"spans\[1\]\.spanId: must be 16 hex characters"):
        decode_export_request(request.SerializeToString(), PROTOBUF, None)


def test_protobuf_span_without_a_trace_id_rejects_the_whole_batch():
    request = export_request()
    request.resource_spans[0].scope_spans[0].spans[0].trace_id = b""

    with pytest.raises(InvalidPayload, match=r"spans\[0\]\.traceId: must be 32 hex characters"):
        decode_export_request(request.SerializeToString(), PROTOBUF, None)


def test_malformed_protobuf_raises_invalid_payload():
    with pytest.raises(InvalidPayload, match="not a valid protobuf"):
        decode_export_request(b"\x0a\xff\xff\xff\xff\x0f garbage", PROTOBUF, None)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"{not json", "body: not valid JSON"),
        (b"[]", "body: must be a JSON object"),
        (b'{"resourceSpans": {}}', "resourceSpans: must be an array"),
        (
            b'{"resourceSpans": [{"scopeSpans": [{"spans": 5}]}]}',
            "resourceSpans[0].scopeSpans[0].spans: must be an array",
        ),
    ],
)
def test_malformed_json_raises_invalid_payload_naming_the_problem(body, message):
    with pytest.raises(InvalidPayload) as raised:
        decode_export_request(body, JSON, None)

    assert message in str(raised.value)


def test_json_attributes_that_are_not_an_array_reject_the_batch():
    body = json_body(json_span(attributes={"key": "x"}))

    with pytest.raises(InvalidPayload, match=r"spans\[0\]\.attributes: must be an array"):
        decode_export_request(body, JSON, None)


def test_json_int_value_that_is_not_a_number_rejects_the_batch():
    attributes = [{"key": "n", "value": {"intValue": "twelve"}}]

    with pytest.raises(InvalidPayload, match=r"attributes\[0\]\.value\.intValue: must be an integer"):
        decode_export_request(json_body(json_span(attributes=attributes)), JSON, None)


@pytest.mark.parametrize("content_type", ["text/plain", "", "application/xml"])
def test_unsupported_content_type_is_rejected(content_type):
    with pytest.raises(InvalidContentType, match="Invalid content type"):
        decode_export_request(protobuf_body(), content_type, None)


def test_gzip_bomb_over_the_limit_raises_payload_too_large_without_inflating_it():
    compressor = zlib.compressobj(9, zlib.DEFLATED, zlib.MAX_WBITS | 16)
    bomb = b"".join(compressor.compress(bytes(1024 * 1024)) for _ in range(64)) + compressor.flush()
    assert len(bomb) < 100_000

    tracemalloc.start()
    try:
        with pytest.raises(PayloadTooLarge):
            decode_export_request(bomb, PROTOBUF, "gzip", max_bytes=1024 * 1024)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert peak < 8 * 1024 * 1024


def test_gzip_body_exactly_at_the_limit_is_accepted():
    body = protobuf_body()

    spans = decode_export_request(gzip.compress(body), PROTOBUF, "gzip", max_bytes=len(body))

    assert len(spans) == 2


def test_uncompressed_body_over_the_limit_raises_payload_too_large():
    body = protobuf_body()

    with pytest.raises(PayloadTooLarge):
        decode_export_request(body, PROTOBUF, None, max_bytes=len(body) - 1)


def test_truncated_or_corrupt_gzip_raises_invalid_payload():
    compressed = gzip.compress(protobuf_body())

    with pytest.raises(InvalidPayload, match="truncated"):
        decode_export_request(compressed[: len(compressed) // 2], PROTOBUF, "gzip")
    with pytest.raises(InvalidPayload, match="not valid gzip"):
        decode_export_request(b"plainly not gzip", PROTOBUF, "gzip")


def test_concatenated_gzip_members_decode_as_one_body():
    first = json.dumps({"resourceSpans": [{"scopeSpans": [{"spans": [json_span()]}]}]}).encode()
    half = len(first) // 2

    spans = decode_export_request(gzip.compress(first[:half]) + gzip.compress(first[half:]), JSON, "gzip")

    assert [span.span_id for span in spans] == [SPAN_ID]


def test_span_missing_one_timestamp_borrows_the_other():
    (span,) = decode_export_request(json_body(json_span(endTimeUnixNano="0")), JSON, None)

    assert span.end_time == span.start_time


@pytest.mark.parametrize(
    ("body", "content_type"), [(b"", PROTOBUF), (b"{}", JSON), (b'{"resourceSpans": []}', JSON)]
)
def test_empty_export_decodes_to_no_spans(body, content_type):
    assert decode_export_request(body, content_type, None) == []


def test_a_gzip_body_larger_than_one_inflate_step_comes_out_exactly():
    # Random bytes (no compression) and a long run of zeros (one long match): both cross the 1 MiB steps.
    body = bytes(range(256)) * 9000 + bytes(5 * 1024 * 1024) + b"end"

    assert gunzip_bounded(gzip.compress(body), len(body)) == body
    with pytest.raises(PayloadTooLarge):
        gunzip_bounded(gzip.compress(body), len(body) - 1)


def three_spans(content_type) -> bytes:
    if content_type == JSON:
        return json_body(*[json_span(spanId=f"{n:016x}") for n in range(1, 4)])
    request = ExportTraceServiceRequest()
    scope = request.resource_spans.add().scope_spans.add()
    for n in range(1, 4):
        span = scope.spans.add()
        span.trace_id, span.span_id = bytes.fromhex(TRACE_ID), n.to_bytes(8, "big")
    return request.SerializeToString()


@pytest.mark.parametrize("content_type", [PROTOBUF, JSON])
def test_more_spans_than_allowed_raise_too_many_spans_naming_count_and_limit(content_type):
    body = three_spans(content_type)

    assert len(open_export_request(body, content_type, None, max_spans=3)) == 3
    with pytest.raises(TooManySpans) as raised:
        open_export_request(body, content_type, None, max_spans=2)
    assert (raised.value.count, raised.value.limit) == (3, 2)
    assert "3 spans exceed the limit of 2 spans" in str(raised.value)


def test_by_trace_groups_spans_by_trace_id_and_keeps_their_order_within_a_trace():
    order = [("b" * 32, "0000000000000001"), ("a" * 32, "0000000000000009"), ("b" * 32, "0000000000000002"),
             ("a" * 32, "0000000000000003")]
    body = json_body(*[json_span(traceId=trace_id, spanId=span_id) for trace_id, span_id in order])

    export = open_export_request(body, JSON, None)

    assert [(r.trace_id, r.span_id) for r in export] == order
    assert [(r.trace_id, r.span_id) for r in export.by_trace()] == [order[1], order[3], order[0], order[2]]
