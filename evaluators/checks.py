"""Deterministic checks: judged in the worker without an LLM and without running user code.

A check is a JSON object `{"type": …, …}`. `check_clean` validates it and says what it outputs
(BOOLEAN for every check, NUMERIC for a similarity without a threshold); `check_run` applies it
to a `Context` and returns the score's value and a comment saying why.

| type | fields | passes when |
|------|--------|-------------|
| `exact_match` | `expected`?, `caseSensitive`?, `source`? | the text equals `expected` (default: the expected output) |
| `contains` / `not_contains` | `value`, `caseSensitive`?, `source`? | the text contains (does not contain) `value` |
| `regex` | `pattern`, `source`? | the pattern matches somewhere in the text |
| `valid_json` | `source`? | the text parses as JSON (an object or array already is JSON) |
| `json_schema` | `schema`, `source`? | the value (parsed when text) is valid against the JSON Schema |
| `numeric_tolerance` | `expected`?, `tolerance`, `relative`? | |value − expected| ≤ tolerance (× |expected| when relative) |
| `similarity` | `expected`?, `method`? (`ratio`, `token_set_ratio`, `levenshtein`), `threshold`? | NUMERIC 0–1 similarity; BOOLEAN ≥ threshold when one is given |
| `length` | `min`?, `max`?, `unit`? (`characters`, `words`), `source`? | the length is within the bounds |
| `latency` | `maxMs` | the target's latency is at most `maxMs` |
| `cost` | `max` | the target's cost is at most `max` |

`source` is one of the variable-mapping sources (default `output`), with an optional `jsonPath`.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import jsonschema
from django.core.exceptions import ValidationError
from rapidfuzz import fuzz
from rapidfuzz.distance import Levenshtein

from evaluators.context import Context, as_text, extract
from evaluators.definitions import SOURCES, json_path_clean

CHECK_TYPES = (
    "exact_match", "contains", "not_contains", "regex", "valid_json", "json_schema",
    "numeric_tolerance", "similarity", "length", "latency", "cost",
)
SIMILARITY_METHODS = ("ratio", "token_set_ratio", "levenshtein")
MAX_PATTERN_LENGTH = 1_000


@dataclass(frozen=True)
class CheckResult:
    value: float
    comment: str


def _number(check: dict, name: str, *, required: bool = False, minimum: float | None = None) -> float | None:
    value = check.get(name)
    if value is None:
        if required:
            raise ValidationError(f"The {check['type']} check needs {name}.")
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValidationError(f"{name} must be a finite number.")
    if minimum is not None and value < minimum:
        raise ValidationError(f"{name} must be at least {minimum:g}.")
    return float(value)


def check_clean(check: Any) -> tuple[dict, dict]:
    """(the cleaned check, its output definition); raises ValidationError naming what is wrong."""
    if not isinstance(check, dict) or check.get("type") not in CHECK_TYPES:
        raise ValidationError(f"A check is an object whose type is one of {', '.join(CHECK_TYPES)}.")
    kind = check["type"]
    cleaned: dict[str, Any] = {"type": kind}
    if kind not in ("latency", "cost"):
        source = check.get("source", "output")
        if source not in SOURCES:
            raise ValidationError(f"source must be one of {', '.join(SOURCES)}.")
        cleaned["source"] = source
        cleaned["jsonPath"] = json_path_clean(check.get("jsonPath"))
    if "caseSensitive" in check and not isinstance(check["caseSensitive"], bool):
        raise ValidationError("caseSensitive must be true or false.")
    output = {"dataType": "BOOLEAN"}
    if kind == "exact_match":
        if check.get("expected") is not None and not isinstance(check["expected"], str):
            raise ValidationError("expected must be a string; omit it to compare with the expected output.")
        cleaned.update(expected=check.get("expected"), caseSensitive=check.get("caseSensitive", True))
    elif kind in ("contains", "not_contains"):
        if not isinstance(check.get("value"), str) or not check["value"]:
            raise ValidationError(f"The {kind} check needs a non-empty string value.")
        cleaned.update(value=check["value"], caseSensitive=check.get("caseSensitive", True))
    elif kind == "regex":
        pattern = check.get("pattern")
        if not isinstance(pattern, str) or not pattern or len(pattern) > MAX_PATTERN_LENGTH:
            raise ValidationError(f"The regex check needs a pattern of 1 to {MAX_PATTERN_LENGTH} characters.")
        try:
            re.compile(pattern)
        except re.error as error:
            raise ValidationError(f"pattern is not a valid regular expression: {error}.") from None
        cleaned["pattern"] = pattern
    elif kind == "json_schema":
        schema = check.get("schema")
        if not isinstance(schema, (dict, bool)):
            raise ValidationError("The json_schema check needs a schema (a JSON object).")
        try:
            jsonschema.validators.validator_for(schema).check_schema(schema)
        except jsonschema.SchemaError as error:
            raise ValidationError(f"schema is not a valid JSON Schema: {error.message}.") from None
        cleaned["schema"] = schema
    elif kind == "numeric_tolerance":
        cleaned.update(
            expected=_number(check, "expected"),
            tolerance=_number(check, "tolerance", required=True, minimum=0),
            relative=bool(check.get("relative", False)),
        )
    elif kind == "similarity":
        method = check.get("method", "ratio")
        if method not in SIMILARITY_METHODS:
            raise ValidationError(f"method must be one of {', '.join(SIMILARITY_METHODS)}.")
        if check.get("expected") is not None and not isinstance(check["expected"], str):
            raise ValidationError("expected must be a string; omit it to compare with the expected output.")
        threshold = _number(check, "threshold", minimum=0)
        if threshold is not None and threshold > 1:
            raise ValidationError("threshold is a similarity between 0 and 1.")
        cleaned.update(method=method, expected=check.get("expected"), threshold=threshold)
        if threshold is None:
            output = {"dataType": "NUMERIC", "minValue": 0.0, "maxValue": 1.0}
    elif kind == "length":
        low, high = _number(check, "min", minimum=0), _number(check, "max", minimum=0)
        if low is None and high is None:
            raise ValidationError("The length check needs min, max or both.")
        if low is not None and high is not None and low > high:
            raise ValidationError("min must not exceed max.")
        unit = check.get("unit", "characters")
        if unit not in ("characters", "words"):
            raise ValidationError("unit must be characters or words.")
        cleaned.update(min=low, max=high, unit=unit)
    elif kind == "latency":
        cleaned["maxMs"] = _number(check, "maxMs", required=True, minimum=0)
    elif kind == "cost":
        cleaned["max"] = _number(check, "max", required=True, minimum=0)
    return cleaned, output


def _subject(check: dict, context: Context) -> Any:
    return extract(context.source(check["source"]), check.get("jsonPath"))


def _expected_text(check: dict, context: Context) -> str:
    return check["expected"] if check.get("expected") is not None else as_text(context.expected_output)


def _as_number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float, Decimal)):
        return float(value)
    try:
        return float(as_text(value).strip())
    except ValueError:
        return None


def _passed(ok: bool, comment: str) -> CheckResult:
    return CheckResult(1.0 if ok else 0.0, comment)


def check_run(check: dict, context: Context) -> CheckResult:
    """Apply a cleaned check to the context. Never raises on odd data: a value that cannot be
    checked fails the check, and the comment says why."""
    kind = check["type"]
    if kind == "latency":
        if context.latency_ms is None:
            return _passed(False, "The target has no latency recorded.")
        return _passed(context.latency_ms <= check["maxMs"], f"Latency {context.latency_ms:g} ms, limit {check['maxMs']:g} ms.")
    if kind == "cost":
        if context.cost is None:
            return _passed(False, "The target has no cost recorded.")
        return _passed(float(context.cost) <= check["max"], f"Cost {float(context.cost):g}, limit {check['max']:g}.")

    subject = _subject(check, context)
    text = as_text(subject)
    fold = (lambda s: s) if check.get("caseSensitive", True) else str.casefold
    if kind == "exact_match":
        expected = _expected_text(check, context)
        ok = fold(text.strip()) == fold(expected.strip())
        return _passed(ok, "Matches the expected text." if ok else f"Expected {expected[:200]!r}, got {text[:200]!r}.")
    if kind in ("contains", "not_contains"):
        found = fold(check["value"]) in fold(text)
        ok = found if kind == "contains" else not found
        return _passed(ok, f"{check['value']!r} {'found' if found else 'not found'} in the {check['source']}.")
    if kind == "regex":
        match = re.search(check["pattern"], text)
        return _passed(match is not None, f"Matched {match.group(0)[:200]!r}." if match else "No match.")
    if kind in ("valid_json", "json_schema"):
        value = subject
        if isinstance(subject, str) or subject is None:
            try:
                value = json.loads(text)
            except ValueError as error:
                return _passed(False, f"Not valid JSON: {error}.")
        if kind == "valid_json":
            return _passed(True, "Valid JSON.")
        error = jsonschema.exceptions.best_match(jsonschema.validators.validator_for(check["schema"])(check["schema"]).iter_errors(value))
        if error is None:
            return _passed(True, "Valid against the schema.")
        where = "/".join(str(p) for p in error.absolute_path) or "(root)"
        return _passed(False, f"Invalid at {where}: {error.message[:300]}.")
    if kind == "numeric_tolerance":
        actual = _as_number(subject)
        expected = check["expected"] if check.get("expected") is not None else _as_number(context.expected_output)
        if actual is None or expected is None:
            return _passed(False, "The value or the expected value is not a number.")
        limit = check["tolerance"] * (abs(expected) if check["relative"] else 1)
        return _passed(abs(actual - expected) <= limit, f"|{actual:g} − {expected:g}| = {abs(actual - expected):g}, tolerance {limit:g}.")
    if kind == "similarity":
        expected = _expected_text(check, context)
        if check["method"] == "levenshtein":
            similarity = Levenshtein.normalized_similarity(text, expected)
        elif check["method"] == "token_set_ratio":
            similarity = fuzz.token_set_ratio(text, expected) / 100
        else:
            similarity = fuzz.ratio(text, expected) / 100
        comment = f"{check['method']} similarity {similarity:.3f}."
        if check.get("threshold") is None:
            return CheckResult(round(similarity, 6), comment)
        return _passed(similarity >= check["threshold"], comment[:-1] + f", threshold {check['threshold']:g}.")
    if kind == "length":
        length = len(text.split()) if check["unit"] == "words" else len(text)
        ok = (check["min"] is None or length >= check["min"]) and (check["max"] is None or length <= check["max"])
        return _passed(ok, f"{length} {check['unit']}.")
    raise ValueError(f"unknown check type {kind!r}")  # check_clean admits no other
