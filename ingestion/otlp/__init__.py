"""OTLP/HTTP trace export decoding and span → Trace/Observation mapping (no Django imports)."""

from .decode import (
    DEFAULT_MAX_BYTES,
    ExportRequest,
    InvalidContentType,
    InvalidPayload,
    OtlpDecodeError,
    PayloadTooLarge,
    SpanRecord,
    TooManySpans,
    decode_export_request,
    open_export_request,
)
from .mapping import MappedSpan, map_span

__all__ = [
    "DEFAULT_MAX_BYTES",
    "ExportRequest",
    "InvalidContentType",
    "InvalidPayload",
    "MappedSpan",
    "OtlpDecodeError",
    "PayloadTooLarge",
    "SpanRecord",
    "TooManySpans",
    "decode_export_request",
    "map_span",
    "open_export_request",
]
