"""Decode an OTLP/HTTP trace export body into plain :class:`SpanRecord` values.

Both wire formats end up in the same shape: ids as lowercase hex, timestamps as aware UTC
datetimes, attribute values as plain JSON values, and every string storable (evalsite/text.py: no
NUL, lone surrogates replaced; protobuf strings are valid UTF-8, so only NUL can occur there). The
protobuf objects are walked directly (no ``json_format``) because this runs once per ingested span.
"""

from __future__ import annotations

import base64
import math
import zlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from google.protobuf.message import DecodeError
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status

from evalsite import text
from evalsite.text import storable_str

# The OTLP exporter caps a serialized batch at 64 MiB; anything larger is not a real export.
DEFAULT_MAX_BYTES = 64 * 1024 * 1024

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_UINT64_LIMIT = 2**64
_INT64_LIMIT = 2**63
_HEX_DIGITS = frozenset("0123456789abcdefABCDEF")
_ZERO_TRACE_ID = "0" * 32
_ZERO_SPAN_ID = "0" * 16


class OtlpDecodeError(ValueError):
    """Base class: the export body cannot be turned into spans. The message says why."""


class InvalidContentType(OtlpDecodeError):
    """The Content-Type is neither protobuf nor JSON."""


class InvalidPayload(OtlpDecodeError):
    """The body is malformed, or some span in it is invalid (the whole batch is rejected)."""


class PayloadTooLarge(OtlpDecodeError):
    """The (decompressed) body is larger than the caller allows."""


@dataclass(frozen=True, slots=True)
class SpanRecord:
    """One OTLP span as plain data.

    ``resource_attributes`` and ``scope_attributes`` are shared by every span of the same
    resource/scope in a batch: treat all dicts here as read-only.
    """

    trace_id: str
    span_id: str
    parent_span_id: str | None
    name: str
    kind: int
    start_time: datetime
    end_time: datetime
    status_code: int
    status_message: str
    attributes: dict[str, Any]
    events: list[dict[str, Any]]
    resource_attributes: dict[str, Any]
    scope_name: str
    scope_version: str
    scope_attributes: dict[str, Any]


def decode_export_request(
    body: bytes,
    content_type: str,
    content_encoding: str | None,
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> list[SpanRecord]:
    """Decode an ``ExportTraceServiceRequest`` body (protobuf or OTLP/JSON, optionally gzipped).

    Raises :class:`InvalidContentType`, :class:`PayloadTooLarge` or :class:`InvalidPayload`.
    """
    # Check the content type first so a wrong type is never worth decompressing.
    is_protobuf = _is_protobuf(content_type)
    if content_encoding and "gzip" in content_encoding.lower():
        body = gunzip_bounded(body, max_bytes)
    elif len(body) > max_bytes:
        raise PayloadTooLarge(f"body: {len(body)} bytes exceeds the limit of {max_bytes} bytes")
    if is_protobuf:
        return _decode_protobuf(body)
    return _decode_json(body)


def _is_protobuf(content_type: str) -> bool:
    lowered = (content_type or "").lower()
    # "contains" matching, so that "; charset=utf-8" and similar suffixes are accepted.
    if "protobuf" in lowered:
        return True
    if "json" in lowered:
        return False
    raise InvalidContentType(
        f"Invalid content type {content_type!r}: expected application/x-protobuf or application/json"
    )


def gunzip_bounded(body: bytes, max_bytes: int) -> bytes:
    """Inflate a gzip body, refusing to produce more than ``max_bytes`` bytes.

    Output is requested in slices of at most ``budget`` bytes, so a gzip bomb costs at most
    ``max_bytes`` of memory before it is rejected. Concatenated gzip members are allowed,
    as the gzip format permits.
    """
    output = bytearray()
    pending = body
    inflater = zlib.decompressobj(wbits=zlib.MAX_WBITS | 16)
    while True:
        budget = max_bytes - len(output) + 1
        try:
            output += inflater.decompress(pending, budget)
        except zlib.error as exc:
            raise InvalidPayload(f"body: not valid gzip data ({exc})") from None
        if len(output) > max_bytes:
            raise PayloadTooLarge(f"body: decompresses to more than the limit of {max_bytes} bytes")
        if inflater.eof:
            pending = inflater.unused_data
            if not pending:
                return bytes(output)
            inflater = zlib.decompressobj(wbits=zlib.MAX_WBITS | 16)
            continue
        pending = inflater.unconsumed_tail
        # Less than the budget came out and no input is left: the stream ended early.
        if not pending:
            raise InvalidPayload("body: gzip data is truncated")


def nanos_to_datetime(nanos: int) -> datetime:
    """Unix nanoseconds to an aware UTC datetime (microsecond precision, no float rounding).

    Always within the stored range (evalsite/timestamps.py): OTLP times are unsigned 64-bit, and
    2**64 ns after 1970 is in 2554.
    """
    return _EPOCH + timedelta(microseconds=nanos // 1000)


def _span_times(start_nanos: int, end_nanos: int) -> tuple[datetime, datetime]:
    # A missing edge (0) borrows the other one, so a sloppy exporter still yields a usable span.
    if not start_nanos:
        start_nanos = end_nanos
    if not end_nanos:
        end_nanos = start_nanos
    if not start_nanos:
        now = datetime.now(UTC)
        return now, now
    return nanos_to_datetime(start_nanos), nanos_to_datetime(end_nanos)


def _span_path(resource_index: int, scope_index: int, span_index: int) -> str:
    return f"resourceSpans[{resource_index}].scopeSpans[{scope_index}].spans[{span_index}]"


def _finite_or_text(number: float) -> float | str:
    # NaN and the infinities have no JSON form; keep them as the strings OTLP/JSON uses.
    if math.isfinite(number):
        return number
    if math.isnan(number):
        return "NaN"
    return "Infinity" if number > 0 else "-Infinity"


def _base64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


# --- protobuf ---------------------------------------------------------------------------


def _decode_protobuf(body: bytes) -> list[SpanRecord]:
    try:
        request = ExportTraceServiceRequest.FromString(body)
    except DecodeError as exc:
        raise InvalidPayload(f"body: not a valid protobuf ExportTraceServiceRequest ({exc})") from None
    records: list[SpanRecord] = []
    for resource_index, resource_spans in enumerate(request.resource_spans):
        resource_attributes = _pb_attributes(resource_spans.resource.attributes)
        for scope_index, scope_spans in enumerate(resource_spans.scope_spans):
            scope = scope_spans.scope
            scope_attributes = _pb_attributes(scope.attributes)
            scope_name, scope_version = storable_str(scope.name), storable_str(scope.version)
            for span_index, span in enumerate(scope_spans.spans):
                ids = _pb_ids(span, resource_index, scope_index, span_index)
                start_time, end_time = _span_times(span.start_time_unix_nano, span.end_time_unix_nano)
                records.append(
                    SpanRecord(
                        trace_id=ids[0],
                        span_id=ids[1],
                        parent_span_id=ids[2],
                        name=storable_str(span.name),
                        kind=span.kind,
                        start_time=start_time,
                        end_time=end_time,
                        status_code=span.status.code,
                        status_message=storable_str(span.status.message),
                        attributes=_pb_attributes(span.attributes),
                        events=[_pb_event(event) for event in span.events],
                        resource_attributes=resource_attributes,
                        scope_name=scope_name,
                        scope_version=scope_version,
                        scope_attributes=scope_attributes,
                    )
                )
    return records


def _pb_ids(
    span: Span, resource_index: int, scope_index: int, span_index: int
) -> tuple[str, str, str | None]:
    trace_id = span.trace_id.hex()
    span_id = span.span_id.hex()
    parent_span_id = span.parent_span_id.hex() or None
    problem = _id_problem(trace_id, span_id, parent_span_id)
    if problem:
        raise InvalidPayload(f"{_span_path(resource_index, scope_index, span_index)}.{problem}")
    return trace_id, span_id, _real_parent(parent_span_id)


def _id_problem(trace_id: str, span_id: str, parent_span_id: str | None) -> str | None:
    """The first thing wrong with a span's (already hex) ids, phrased for an error message."""
    if len(trace_id) != 32 or not _HEX_DIGITS.issuperset(trace_id):
        return "traceId: must be 32 hex characters"
    if trace_id == _ZERO_TRACE_ID:
        return "traceId: must not be all zeros"
    if len(span_id) != 16 or not _HEX_DIGITS.issuperset(span_id):
        return "spanId: must be 16 hex characters"
    if span_id == _ZERO_SPAN_ID:
        return "spanId: must not be all zeros"
    if parent_span_id is not None and (
        len(parent_span_id) != 16 or not _HEX_DIGITS.issuperset(parent_span_id)
    ):
        return "parentSpanId: must be 16 hex characters or empty"
    return None


def _real_parent(parent_span_id: str | None) -> str | None:
    # Some exporters write an all-zero parent id instead of leaving it empty; both mean "root".
    return None if parent_span_id == _ZERO_SPAN_ID else parent_span_id


def _pb_attributes(key_values) -> dict[str, Any]:
    return {storable_str(kv.key): _pb_value(kv.value) for kv in key_values}


def _pb_value(value) -> Any:
    kind = value.WhichOneof("value")
    if kind == "string_value":
        return storable_str(value.string_value)
    if kind == "int_value":
        return value.int_value
    if kind == "bool_value":
        return value.bool_value
    if kind == "double_value":
        return _finite_or_text(value.double_value)
    if kind == "array_value":
        return [_pb_value(item) for item in value.array_value.values]
    if kind == "kvlist_value":
        return _pb_attributes(value.kvlist_value.values)
    if kind == "bytes_value":
        return _base64(value.bytes_value)
    return None


def _pb_event(event) -> dict[str, Any]:
    return {
        "name": storable_str(event.name),
        "time": nanos_to_datetime(event.time_unix_nano),
        "attributes": _pb_attributes(event.attributes),
    }


# --- OTLP/JSON --------------------------------------------------------------------------
#
# Decoded by hand: OTLP/JSON writes ids as hex (json_format would read them as base64) and
# int64 values as strings. Field names may be lowerCamelCase or the original snake_case.


def _decode_json(body: bytes) -> list[SpanRecord]:
    try:
        document = text.loads(body)
    except (ValueError, RecursionError) as exc:
        raise InvalidPayload(f"body: not valid JSON ({exc})") from None
    if not isinstance(document, dict):
        raise InvalidPayload("body: must be a JSON object")
    records: list[SpanRecord] = []
    for resource_index, resource_spans in enumerate(
        _json_list(document, "resourceSpans", "resource_spans", "")
    ):
        path = f"resourceSpans[{resource_index}]"
        resource = _json_object(resource_spans, "resource", "resource", path)
        resource_attributes = _json_attributes(resource, f"{path}.resource")
        for scope_index, scope_spans in enumerate(
            _json_list(resource_spans, "scopeSpans", "scope_spans", path)
        ):
            scope_path = f"{path}.scopeSpans[{scope_index}]"
            scope = _json_object(scope_spans, "scope", "scope", scope_path)
            scope_attributes = _json_attributes(scope, f"{scope_path}.scope")
            scope_name = _json_str(scope, "name", "name", f"{scope_path}.scope")
            scope_version = _json_str(scope, "version", "version", f"{scope_path}.scope")
            for span_index, span in enumerate(_json_list(scope_spans, "spans", "spans", scope_path)):
                span_path = f"{scope_path}.spans[{span_index}]"
                records.append(
                    _json_span(
                        _expect_object(span, span_path),
                        span_path,
                        resource_attributes,
                        scope_name,
                        scope_version,
                        scope_attributes,
                    )
                )
    return records


def _json_span(
    span: dict,
    path: str,
    resource_attributes: dict[str, Any],
    scope_name: str,
    scope_version: str,
    scope_attributes: dict[str, Any],
) -> SpanRecord:
    trace_id = _json_str(span, "traceId", "trace_id", path).lower()
    span_id = _json_str(span, "spanId", "span_id", path).lower()
    parent_span_id = _json_str(span, "parentSpanId", "parent_span_id", path).lower() or None
    problem = _id_problem(trace_id, span_id, parent_span_id)
    if problem:
        raise InvalidPayload(f"{path}.{problem}")
    parent_span_id = _real_parent(parent_span_id)
    start_time, end_time = _span_times(
        _json_uint64(span, "startTimeUnixNano", "start_time_unix_nano", path),
        _json_uint64(span, "endTimeUnixNano", "end_time_unix_nano", path),
    )
    status = _json_object(span, "status", "status", path)
    return SpanRecord(
        trace_id=trace_id,
        span_id=span_id,
        parent_span_id=parent_span_id,
        name=_json_str(span, "name", "name", path),
        kind=_json_enum(span, "kind", "kind", Span.SpanKind, path),
        start_time=start_time,
        end_time=end_time,
        status_code=_json_enum(status, "code", "code", Status.StatusCode, f"{path}.status"),
        status_message=_json_str(status, "message", "message", f"{path}.status"),
        attributes=_json_attributes(span, path),
        events=[
            _json_event(_expect_object(event, f"{path}.events[{index}]"), f"{path}.events[{index}]")
            for index, event in enumerate(_json_list(span, "events", "events", path))
        ],
        resource_attributes=resource_attributes,
        scope_name=scope_name,
        scope_version=scope_version,
        scope_attributes=scope_attributes,
    )


def _json_event(event: dict, path: str) -> dict[str, Any]:
    return {
        "name": _json_str(event, "name", "name", path),
        "time": nanos_to_datetime(_json_uint64(event, "timeUnixNano", "time_unix_nano", path)),
        "attributes": _json_attributes(event, path),
    }


def _json_field(obj: dict, camel: str, snake: str) -> Any:
    value = obj.get(camel)
    if value is None and snake != camel:
        value = obj.get(snake)
    return value


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def _expect_object(value: Any, path: str) -> dict:
    if not isinstance(value, dict):
        raise InvalidPayload(f"{path}: must be an object")
    return value


def _json_object(obj: dict, camel: str, snake: str, path: str) -> dict:
    value = _json_field(obj, camel, snake)
    if value is None:
        return {}
    return _expect_object(value, _join(path, camel))


def _json_list(obj: dict, camel: str, snake: str, path: str) -> list:
    value = _json_field(obj, camel, snake)
    if value is None:
        return []
    if not isinstance(value, list):
        raise InvalidPayload(f"{_join(path, camel)}: must be an array")
    return value


def _json_str(obj: dict, camel: str, snake: str, path: str) -> str:
    value = _json_field(obj, camel, snake)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise InvalidPayload(f"{_join(path, camel)}: must be a string")
    return value


def _json_uint64(obj: dict, camel: str, snake: str, path: str) -> int:
    value = _json_field(obj, camel, snake)
    if value is None:
        return 0
    number = _parse_int(value)
    if number is None or not 0 <= number < _UINT64_LIMIT:
        raise InvalidPayload(f"{_join(path, camel)}: must be an unsigned 64-bit integer")
    return number


def _json_enum(obj: dict, camel: str, snake: str, enum, path: str) -> int:
    # OTLP/JSON requires integers for enums, but protobuf JSON parsers also accept names.
    value = _json_field(obj, camel, snake)
    if value is None:
        return 0
    if isinstance(value, str) and not value.isdigit():
        try:
            return enum.Value(value)
        except ValueError:
            raise InvalidPayload(f"{_join(path, camel)}: unknown value {value!r}") from None
    number = _parse_int(value)
    if number is None:
        raise InvalidPayload(f"{_join(path, camel)}: must be an integer")
    return number


def _parse_int(value: Any) -> int | None:
    """An int from a JSON number or a decimal string (how OTLP/JSON writes int64)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        # Past 20 digits nothing fits 64 bits; int() of thousands of digits is slow, or refused.
        if len(value.strip()) > 21:
            return None
        try:
            return int(value)
        except ValueError:
            return None
    return None


def _json_attributes(obj: dict, path: str) -> dict[str, Any]:
    attributes = {}
    for index, key_value in enumerate(_json_list(obj, "attributes", "attributes", path)):
        item_path = f"{_join(path, 'attributes')}[{index}]"
        key, value = _json_key_value(key_value, item_path)
        attributes[key] = value
    return attributes


def _json_key_value(key_value: Any, path: str) -> tuple[str, Any]:
    key_value = _expect_object(key_value, path)
    key = key_value.get("key")
    if not isinstance(key, str):
        raise InvalidPayload(f"{path}.key: must be a string")
    value = key_value.get("value")
    if value is None:
        return key, None
    return key, _json_any_value(_expect_object(value, f"{path}.value"), f"{path}.value")


def _json_any_value(value: dict, path: str) -> Any:
    for camel, snake, convert in _ANY_VALUE_FIELDS:
        raw = value.get(camel)
        if raw is None:
            raw = value.get(snake)
        if raw is not None:
            return convert(raw, _join(path, camel))
    return None


def _json_string_value(raw: Any, path: str) -> str:
    if not isinstance(raw, str):
        raise InvalidPayload(f"{path}: must be a string")
    return raw


def _json_bool_value(raw: Any, path: str) -> bool:
    if not isinstance(raw, bool):
        raise InvalidPayload(f"{path}: must be a boolean")
    return raw


def _json_int_value(raw: Any, path: str) -> int:
    number = _parse_int(raw)
    if number is None or not -_INT64_LIMIT <= number < _INT64_LIMIT:
        raise InvalidPayload(f"{path}: must be an integer of 64 bits or a decimal string of one")
    return number


def _json_double_value(raw: Any, path: str) -> float | str:
    # Numbers arrive as JSON numbers, or as strings for "NaN"/"Infinity"/"-Infinity".
    if isinstance(raw, bool) or not isinstance(raw, int | float | str):
        raise InvalidPayload(f"{path}: must be a number")
    try:
        return _finite_or_text(float(raw))
    except (ValueError, OverflowError):  # OverflowError: an integer beyond any double
        raise InvalidPayload(f"{path}: must be a number") from None


def _json_array_value(raw: Any, path: str) -> list[Any]:
    values = _json_list(_expect_object(raw, path), "values", "values", path)
    return [
        _json_any_value(_expect_object(item, f"{path}.values[{index}]"), f"{path}.values[{index}]")
        for index, item in enumerate(values)
    ]


def _json_kvlist_value(raw: Any, path: str) -> dict[str, Any]:
    values = _json_list(_expect_object(raw, path), "values", "values", path)
    return dict(_json_key_value(item, f"{path}.values[{index}]") for index, item in enumerate(values))


def _json_bytes_value(raw: Any, path: str) -> str:
    # Only ids are hex in OTLP/JSON; other bytes use the regular protobuf JSON form, base64.
    if not isinstance(raw, str):
        raise InvalidPayload(f"{path}: must be a base64 string")
    return raw


_ANY_VALUE_FIELDS = (
    ("stringValue", "string_value", _json_string_value),
    ("boolValue", "bool_value", _json_bool_value),
    ("intValue", "int_value", _json_int_value),
    ("doubleValue", "double_value", _json_double_value),
    ("arrayValue", "array_value", _json_array_value),
    ("kvlistValue", "kvlist_value", _json_kvlist_value),
    ("bytesValue", "bytes_value", _json_bytes_value),
)
