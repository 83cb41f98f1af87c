"""Text the databases can store, and the JSON decoding every outside document goes through.

PostgreSQL refuses two things Python strings can hold: NUL (U+0000) in text and in jsonb (where
`\\u0000` is an "unsupported Unicode escape sequence"), and lone UTF-16 surrogates (U+D800–U+DFFF),
which have no UTF-8 form, so psycopg cannot even send them (SQLite's driver refuses them too). JSON
lets a client write both (`"\\u0000"`, `"\\ud800"`), and one such string failed a whole batch with a
500 that the SDK then retried forever. The platform's one rule, applied where text enters:

- NUL characters are removed;
- every lone surrogate becomes U+FFFD, the replacement character. A valid surrogate pair written
  as two escapes (`"\\ud83d\\ude00"`) is one character to the JSON decoder and is kept.

Dictionary keys are cleaned too. Where it applies: `loads` below decodes the bodies of the API
(`evalsite.api.parsers.JSONParser`, DRF's default parser), the legacy batch, OTLP/JSON and
JSON-encoded OTLP attributes, and import files (datasets/importing.py); the OTLP protobuf decoder
passes its strings through `storable_str`; the trace upsert applies it again to what internal
writers (the platform runner's model outputs) hand it.

`loads` also settles numbers. The NaN and Infinity literals are not JSON and are refused. A number
no double can hold (`1e999`, an integer beyond ±1.8e308 such as one of 401 digits) has no JSON
value every store can keep (Python reads `1e999` as `inf`, which no JSON column takes; SQLite's
JSON functions turn such an integer into `Inf` and then refuse their own output) and no client can
read it, so it becomes an `OutOfRangeNumber`: the string it was written as. Where any JSON is accepted (input, output,
metadata) it is stored as that string; where a number is required (a score's value, token counts,
costs, bounds) it is an error for its item, like any string in a number's place. Other integers
stay exact; fields that need a bounded number (a bigint column) check it themselves.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

import msgspec

REPLACEMENT = "\ufffd"
_REFUSED = re.compile("[\x00\ud800-\udfff]")
_SURROGATE = re.compile("[\ud800-\udfff]")
# In JSON text, the escapes that decode to NUL or to a surrogate (the first half of a pair included).
_REFUSED_ESCAPE = re.compile(r"\\u(?:0000|[dD][89a-fA-F])")


def storable_str(value: str) -> str:
    """`value` without NUL characters, its lone surrogates replaced by U+FFFD."""
    if value.isascii():
        return value.replace("\x00", "") if "\x00" in value else value
    if _REFUSED.search(value) is None:
        return value
    return _SURROGATE.sub(REPLACEMENT, value.replace("\x00", ""))


def is_storable_str(value: str) -> bool:
    """Whether `value` is already what `storable_str` would make of it."""
    if value.isascii():
        return "\x00" not in value
    return _REFUSED.search(value) is None


def storable(value: Any) -> Any:
    """A JSON value with every string (keys included) made storable. Containers are cleaned in
    place and returned; iterative, so a deeply nested document cannot exhaust the stack."""
    if isinstance(value, str):
        return storable_str(value)
    stack = [value]
    while stack:
        node = stack.pop()
        if isinstance(node, list):
            for index, item in enumerate(node):
                if isinstance(item, str):
                    node[index] = storable_str(item)
                elif isinstance(item, list | dict):
                    stack.append(item)
        elif isinstance(node, dict):
            if not all(is_storable_str(key) for key in node if isinstance(key, str)):
                # Rebuilt in place, in order; two keys that become equal keep the later value, as
                # a JSON object with a repeated key does.
                items = [(storable_str(key) if isinstance(key, str) else key, item) for key, item in node.items()]
                node.clear()
                node.update(items)
            for key, item in node.items():
                if isinstance(item, str):
                    node[key] = storable_str(item)
                elif isinstance(item, list | dict):
                    stack.append(item)
    return value


class OutOfRangeNumber(str):
    """A JSON number literal no double can hold, kept as its text (see the module docstring)."""


def _refuse_constant(name: str):
    raise ValueError(f"{name} is not valid JSON")


def _float(literal: str) -> float | OutOfRangeNumber:
    number = float(literal)
    return number if math.isfinite(number) else OutOfRangeNumber(literal)


# Below this many digits an integer always fits a double (10**308 < 1.7976931348623157e308).
_DOUBLE_SAFE_DIGITS = 308


def _int(literal: str) -> int | OutOfRangeNumber:
    if len(literal) > _DOUBLE_SAFE_DIGITS and math.isinf(float(literal)):
        return OutOfRangeNumber(literal)
    return int(literal)


_DECODER = json.JSONDecoder(parse_constant=_refuse_constant, parse_float=_float, parse_int=_int)
# msgspec decodes several times faster and agrees with _DECODER wherever it succeeds: it refuses
# NaN/Infinity, 1e999, lone surrogate escapes and integers of thousands of digits, and those go to
# _DECODER. An integer of 308 digits or more is the one value it would decode differently (exact
# where _DECODER may keep the text), so documents holding such a run skip it.
_FAST_DECODER = msgspec.json.Decoder()
_LONG_DIGITS = re.compile(rf"\d{{{_DOUBLE_SAFE_DIGITS}}}")


def _decode(document: str) -> Any:
    if _LONG_DIGITS.search(document) is None:
        try:
            return _FAST_DECODER.decode(document)
        except Exception:  # any refusal is settled by the standard decoder, as below
            pass
    return _DECODER.decode(document)


def loads(document: bytes | str) -> Any:
    """Decode a JSON document from outside (a request body, a file, a JSON-encoded attribute) into
    values every column can store. ValueError (or RecursionError) when it is not valid JSON, or
    holds NaN or Infinity.

    Bytes may be UTF-8, -16 or -32, as `json.loads` detects them. Only a document whose text holds
    a NUL or surrogate escape, or a raw surrogate, is walked, so clean documents cost one search.
    """
    if isinstance(document, bytes | bytearray):
        document = document.decode(json.detect_encoding(document), "surrogatepass")
    value = _decode(document)
    # "\\" first: a one-character search is a memchr, far cheaper than the regular expression.
    if ("\\" in document and _REFUSED_ESCAPE.search(document)) or (
        not document.isascii() and _SURROGATE.search(document)
    ):
        value = storable(value)
    return value
