"""Decode an OTLP/HTTP trace export body into plain :class:`SpanRecord` values.

Both wire formats end up in the same shape: ids as lowercase hex, timestamps as aware UTC
datetimes, attribute values as plain JSON values, and every string storable (evalsite/text.py: no
NUL, lone surrogates replaced; protobuf strings are valid UTF-8, so only NUL can occur there). The
protobuf objects are walked directly (no ``json_format``) because this runs once per ingested span.

:func:`open_export_request` parses and checks the whole body (size, span count, ids) before
anything is stored, and then turns spans into records one at a time, so a caller can store a
large export in chunks without ever holding a record for every span.
"""

from __future__ import annotations

import base64
import math
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from operator import itemgetter
from typing import Any

from google.protobuf.message import DecodeError
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status

from evalsite import text
from evalsite.text import storable_str

# The OTLP exporter caps a serialized batch at 64 MiB; anything larger is not a real export.
DEFAULT_MAX_BYTES = 64 * 1024 * 1024
# Output is inflated this much at a time, so a body is never held twice while it grows.
_INFLATE_STEP = 1024 * 1024

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


class TooManySpans(PayloadTooLarge):
    """The export holds more spans than the caller allows in one request."""

    def __init__(self, count: int, limit: int):
        super().__init__(f"body: {count} spans exceed the limit of {limit} spans per request")
        self.count = count
        self.limit = limit


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
    max_spans: int | None = None,
) -> list[SpanRecord]:
    """Decode an ``ExportTraceServiceRequest`` body (protobuf or OTLP/JSON, optionally gzipped)
    into one record per span, in the order of the request.

    Raises :class:`InvalidContentType`, :class:`PayloadTooLarge` (:class:`TooManySpans`) or
    :class:`InvalidPayload`.
    """
    return list(open_export_request(body, content_type, content_encoding, max_bytes=max_bytes, max_spans=max_spans))


def open_export_request(
    body: bytes,
    content_type: str,
    content_encoding: str | None,
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
    max_spans: int | None = None,
) -> ExportRequest:
    """Parse an export body and check it whole: its size (compressed and inflated, at most
    ``max_bytes``), its span count (at most ``max_spans``) and every span's ids. Records are
    made later, one span at a time, by iterating the result.

    Raises like :func:`decode_export_request`. Iterating may still raise :class:`InvalidPayload`
    for an OTLP/JSON span whose other fields are malformed.
    """
    # Check the content type first so a wrong type is never worth decompressing.
    is_protobuf = _is_protobuf(content_type)
    if content_encoding and "gzip" in content_encoding.lower():
        body = gunzip_bounded(body, max_bytes)
    elif len(body) > max_bytes:
        raise PayloadTooLarge(f"body: {len(body)} bytes exceeds the limit of {max_bytes} bytes")
    if is_protobuf:
        return _open_protobuf(body, max_spans)
    return _open_json(body, max_spans)


class ExportRequest:
    """A parsed export whose ids are checked; iterating it yields a :class:`SpanRecord` per span.

    ``len()`` is the number of spans. Iteration follows the request's order;
    :meth:`by_trace` yields the same records grouped by trace id, in ascending order (the spans
    of one trace keep their order), which lets a caller that writes in chunks lock rows in one
    global order.
    """

    def __init__(self, scopes: list, refs: list[tuple], make_record):
        self._scopes = scopes
        # One (trace_id, span_id, parent_span_id, scope index, span index) per span.
        self._refs = refs
        self._make_record = make_record

    def __len__(self) -> int:
        return len(self._refs)

    def __iter__(self) -> Iterator[SpanRecord]:
        return self._records(self._refs)

    def by_trace(self) -> Iterator[SpanRecord]:
        return self._records(sorted(self._refs, key=itemgetter(0)))

    def _records(self, refs: list[tuple]) -> Iterator[SpanRecord]:
        scopes, make_record = self._scopes, self._make_record
        for trace_id, span_id, parent_span_id, scope_index, span_index in refs:
            yield make_record(scopes[scope_index], span_index, trace_id, span_id, parent_span_id)


def _check_span_count(count: int, max_spans: int | None) -> None:
    if max_spans is not None and count > max_spans:
        raise TooManySpans(count, max_spans)


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


def gunzip_bounded(body: bytes, max_bytes: int) -> bytearray:
    """Inflate a gzip body, refusing to produce more than ``max_bytes`` bytes.

    Output is requested in steps of at most 1 MiB and never beyond the remaining budget, so a
    gzip bomb costs at most ``max_bytes`` (plus one step) of memory before it is rejected, and
    a body within the limit is held once. Concatenated gzip members are allowed, as the gzip
    format permits.
    """
    output = bytearray()
    pending = body
    inflater = zlib.decompressobj(wbits=zlib.MAX_WBITS | 16)
    while True:
        step = min(_INFLATE_STEP, max_bytes - len(output) + 1)
        try:
            chunk = inflater.decompress(pending, step)
        except zlib.error as exc:
            raise InvalidPayload(f"body: not valid gzip data ({exc})") from None
        output += chunk
        if len(output) > max_bytes:
            raise PayloadTooLarge(f"body: decompresses to more than the limit of {max_bytes} bytes")
        if inflater.eof:
            pending = inflater.unused_data
            if not pending:
                return output
            inflater = zlib.decompressobj(wbits=zlib.MAX_WBITS | 16)
            continue
        pending = inflater.unconsumed_tail
        # Less than a step came out and no input is left: the stream ended early. (A full step
        # may leave output inside the inflater with no input left; the next call drains it.)
        if not pending and len(chunk) < step:
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


@dataclass(frozen=True, slots=True)
class _Scope:
    """What the spans of one scope share, decoded once: their records share these dicts."""

    resource_attributes: dict[str, Any]
    scope_name: str
    scope_version: str
    scope_attributes: dict[str, Any]
    spans: Any  # the scope's spans: a protobuf repeated field, or an OTLP/JSON list
    path: str  # where the scope's spans are, for error messages


def _open_protobuf(body: bytes, max_spans: int | None) -> ExportRequest:
    try:
        request = ExportTraceServiceRequest.FromString(body)
    except DecodeError as exc:
        raise InvalidPayload(f"body: not a valid protobuf ExportTraceServiceRequest ({exc})") from None
    _check_span_count(
        sum(len(scope_spans.spans) for resource in request.resource_spans for scope_spans in resource.scope_spans),
        max_spans,
    )
    scopes: list[_Scope] = []
    refs: list[tuple] = []
    for resource_index, resource_spans in enumerate(request.resource_spans):
        resource_attributes = _pb_attributes(resource_spans.resource.attributes)
        for scope_index, scope_spans in enumerate(resource_spans.scope_spans):
            scope = scope_spans.scope
            spans = scope_spans.spans
            scope_number = len(scopes)
            scopes.append(
                _Scope(
                    resource_attributes,
                    storable_str(scope.name),
                    storable_str(scope.version),
                    _pb_attributes(scope.attributes),
                    spans,
                    "",
                )
            )
            for span_index, span in enumerate(spans):
                ids = _pb_ids(span, resource_index, scope_index, span_index)
                refs.append((*ids, scope_number, span_index))
    return ExportRequest(scopes, refs, _pb_record)


def _pb_record(scope: _Scope, span_index: int, trace_id: str, span_id: str, parent_span_id: str | None) -> SpanRecord:
    span = scope.spans[span_index]
    start_time, end_time = _span_times(span.start_time_unix_nano, span.end_time_unix_nano)
    status = span.status
    return SpanRecord(
        trace_id=trace_id,
        span_id=span_id,
        parent_span_id=parent_span_id,
        name=storable_str(span.name),
        kind=span.kind,
        start_time=start_time,
        end_time=end_time,
        status_code=status.code,
        status_message=storable_str(status.message),
        attributes=_pb_attributes(span.attributes),
        events=[_pb_event(event) for event in span.events],
        resource_attributes=scope.resource_attributes,
        scope_name=scope.scope_name,
        scope_version=scope.scope_version,
        scope_attributes=scope.scope_attributes,
    )


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


def _open_json(body: bytes, max_spans: int | None) -> ExportRequest:
    try:
        document = text.loads(body)
    except (ValueError, RecursionError) as exc:
        raise InvalidPayload(f"body: not valid JSON ({exc})") from None
    if not isinstance(document, dict):
        raise InvalidPayload("body: must be a JSON object")
    scopes: list[_Scope] = []
    for resource_index, resource_spans in enumerate(
        _json_list(document, "resourceSpans", "resource_spans", "")
    ):
        path = f"resourceSpans[{resource_index}]"
        resource_spans = _expect_object(resource_spans, path)
        resource = _json_object(resource_spans, "resource", "resource", path)
        resource_attributes = _json_attributes(resource, f"{path}.resource")
        for scope_index, scope_spans in enumerate(
            _json_list(resource_spans, "scopeSpans", "scope_spans", path)
        ):
            scope_path = f"{path}.scopeSpans[{scope_index}]"
            scope_spans = _expect_object(scope_spans, scope_path)
            scope = _json_object(scope_spans, "scope", "scope", scope_path)
            scopes.append(
                _Scope(
                    resource_attributes,
                    _json_str(scope, "name", "name", f"{scope_path}.scope"),
                    _json_str(scope, "version", "version", f"{scope_path}.scope"),
                    _json_attributes(scope, f"{scope_path}.scope"),
                    _json_list(scope_spans, "spans", "spans", scope_path),
                    scope_path,
                )
            )
    _check_span_count(sum(len(scope.spans) for scope in scopes), max_spans)
    refs: list[tuple] = []
    for scope_number, scope in enumerate(scopes):
        for span_index, span in enumerate(scope.spans):
            refs.append((*_json_ids(span, f"{scope.path}.spans[{span_index}]"), scope_number, span_index))
    return ExportRequest(scopes, refs, _json_record)


def _json_ids(span: Any, path: str) -> tuple[str, str, str | None]:
    span = _expect_object(span, path)
    trace_id = _json_str(span, "traceId", "trace_id", path).lower()
    span_id = _json_str(span, "spanId", "span_id", path).lower()
    parent_span_id = _json_str(span, "parentSpanId", "parent_span_id", path).lower() or None
    problem = _id_problem(trace_id, span_id, parent_span_id)
    if problem:
        raise InvalidPayload(f"{path}.{problem}")
    return trace_id, span_id, _real_parent(parent_span_id)


def _json_record(scope: _Scope, span_index: int, trace_id: str, span_id: str, parent_span_id: str | None) -> SpanRecord:
    span = scope.spans[span_index]
    path = f"{scope.path}.spans[{span_index}]"
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
        resource_attributes=scope.resource_attributes,
        scope_name=scope.scope_name,
        scope_version=scope.scope_version,
        scope_attributes=scope.scope_attributes,
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
