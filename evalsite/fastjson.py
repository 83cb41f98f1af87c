"""JSON for the ingestion hot path: msgspec's speed, the standard library's answers.

Ingestion parses and writes several JSON values per span (attribute payloads in, jsonb columns
out); msgspec does each several times faster than the `json` module. Where the two could disagree,
msgspec refuses (a lone surrogate, a number beyond a double such as 1e999, an integer of
thousands of digits) and the `json` module decides, so a value decodes exactly as `json` would
decode it, and encodes to the same JSON value.

Where `json` raised, `dumps` writes instead: a non-finite float (which only `json`'s own parser
makes, from 1e999) as null; a datetime in ISO 8601 (the score upsert relies on it); other values
that are not JSON, such as Decimals, as msgspec spells them. Decoding accepts about four more
levels of nesting before a RecursionError. No Django here: `ingestion/otlp` uses it.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import msgspec


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


_decoder = msgspec.json.Decoder()
_encoder = msgspec.json.Encoder()
# NaN and Infinity are not JSON; rejecting them keeps every parsed value storable as JSON.
_standard_decoder = json.JSONDecoder(parse_constant=_reject_constant)


def _iso_datetime(value: Any) -> str:
    # msgspec writes datetimes in ISO 8601: so does the fallback, for the same rows.
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


_standard_encoder = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False, default=_iso_datetime)


def loads(text: str) -> Any:
    """`json.loads(text)` without NaN/Infinity: raises ValueError or RecursionError as it does."""
    try:
        return _decoder.decode(text)
    except Exception:  # any refusal is settled by the standard parser
        return _standard_decoder.decode(text)


def dumps(value: Any) -> str:
    """Compact JSON text, not ASCII-escaped (`json.dumps(value, ensure_ascii=False,
    separators=(",", ":"))`), with the differences in the module docstring."""
    try:
        return _encoder.encode(value).decode()
    except Exception:  # e.g. a lone surrogate: the standard encoder's answer, or its error
        return _standard_encoder.encode(value)
