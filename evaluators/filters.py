"""Rule filters in Langfuse's shape (`{"type", "column", "operator", "value", "key"?}`): which
columns exist, which filter type each takes, and how an object's facts are matched.

Each column accepts exactly one filter type; anything else is refused (a 400 on the wire) with a
message that names the filter, the column and what it takes. Matching is pure: `filters_match`
takes the facts of one object (a dict built by evaluators/online.py) and says whether every filter
holds, and when not, which one failed and why — the "why didn't it fire" panel shows that text.
"""

from __future__ import annotations

import math
from typing import Any

from django.core.exceptions import ValidationError

OPERATORS = {
    "string": ("=", "contains", "does not contain", "starts with", "ends with"),
    "number": ("=", ">", "<", ">=", "<="),
    "stringOptions": ("any of", "none of"),
    "arrayOptions": ("any of", "none of", "all of"),
    "stringObject": ("=", "contains", "does not contain", "starts with", "ends with", "is set", "is not set"),
    "boolean": ("=", "<>"),
    "null": ("is null", "is not null"),
}
# column → (filter type, applies to traces as well as observations)
COLUMNS = {
    "type": ("stringOptions", False),
    "name": ("stringOptions", True),
    "environment": ("stringOptions", True),
    "level": ("stringOptions", False),
    "version": ("string", True),
    "release": ("string", True),
    "model": ("stringOptions", False),
    "traceName": ("stringOptions", True),
    "userId": ("string", True),
    "sessionId": ("string", True),
    "tags": ("arrayOptions", True),
    "metadata": ("stringObject", True),
    "isRootObservation": ("boolean", False),
    "parentObservationId": ("null", False),
    "experimentId": ("stringOptions", True),
    "isExperimentItemRootSpan": ("boolean", True),
    "calledToolNames": ("arrayOptions", False),
    "toolCalls": ("number", False),
    "datasetId": ("stringOptions", True),
}
OBSERVATION_TYPES = ("SPAN", "EVENT", "GENERATION", "AGENT", "TOOL", "CHAIN", "RETRIEVER", "EVALUATOR", "EMBEDDING", "GUARDRAIL")
LEVELS = ("DEBUG", "DEFAULT", "WARNING", "ERROR")
MAX_FILTERS = 50


def filters_clean(filters: Any, *, target: str = "observation") -> list[dict]:
    if not isinstance(filters, list):
        raise ValidationError("filter must be a list of filter objects.")
    if len(filters) > MAX_FILTERS:
        raise ValidationError(f"At most {MAX_FILTERS} filters.")
    return [_filter_clean(index, f, target) for index, f in enumerate(filters)]


def _filter_clean(index: int, entry: Any, target: str) -> dict:
    where = f"filter[{index}]"
    if not isinstance(entry, dict):
        raise ValidationError(f"{where} must be an object with type, column, operator and value.")
    column, kind, operator, value = entry.get("column"), entry.get("type"), entry.get("operator"), entry.get("value")
    if column not in COLUMNS:
        raise ValidationError(f"{where}: unknown column {column!r}; one of {', '.join(COLUMNS)}.")
    expected, on_traces = COLUMNS[column]
    if kind != expected:
        raise ValidationError(f"{where}: the column {column} takes a filter of type {expected}, not {kind!r}.")
    if target == "trace" and not on_traces:
        raise ValidationError(f"{where}: the column {column} applies to observations; this rule targets traces.")
    if operator not in OPERATORS[kind]:
        raise ValidationError(f"{where}: operator for {kind} is one of {', '.join(OPERATORS[kind])}.")
    cleaned = {"type": kind, "column": column, "operator": operator}
    if kind == "string":
        if not isinstance(value, str):
            raise ValidationError(f"{where}: value must be a string.")
    elif kind == "number":
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise ValidationError(f"{where}: value must be a number.")
    elif kind in ("stringOptions", "arrayOptions"):
        if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
            raise ValidationError(f"{where}: value must be a non-empty list of strings.")
        allowed = OBSERVATION_TYPES if column == "type" else LEVELS if column == "level" else None
        if allowed and any(v not in allowed for v in value):
            raise ValidationError(f"{where}: {column} values are among {', '.join(allowed)}.")
    elif kind == "stringObject":
        key = entry.get("key")
        if not isinstance(key, str) or not key:
            raise ValidationError(f"{where}: a {column} filter needs a key.")
        if value is None and operator in ("is set", "is not set"):
            value = ""
        if not isinstance(value, str):
            raise ValidationError(f"{where}: value must be a string.")
        cleaned["key"] = key
    elif kind == "boolean":
        if not isinstance(value, bool):
            raise ValidationError(f"{where}: value must be true or false.")
    elif kind == "null":
        if value not in (None, ""):
            raise ValidationError(f"{where}: a null filter takes no value.")
        value = ""
    cleaned["value"] = value
    return cleaned


def _string_match(operator: str, actual: Any, value: str) -> bool:
    if actual is None:
        return operator == "does not contain"
    actual = actual if isinstance(actual, str) else str(actual)
    return {
        "=": lambda: actual == value,
        "contains": lambda: value in actual,
        "does not contain": lambda: value not in actual,
        "starts with": lambda: actual.startswith(value),
        "ends with": lambda: actual.endswith(value),
    }[operator]()


def filter_match(entry: dict, facts: dict[str, Any]) -> bool:
    kind, column, operator, value = entry["type"], entry["column"], entry["operator"], entry["value"]
    actual = facts.get(column)
    if kind == "string":
        return _string_match(operator, actual, value)
    if kind == "number":
        if actual is None:
            return False
        return {"=": actual == value, ">": actual > value, "<": actual < value, ">=": actual >= value, "<=": actual <= value}[operator]
    if kind == "stringOptions":
        return (actual in value) == (operator == "any of")
    if kind == "arrayOptions":
        present = set(actual or [])
        if operator == "any of":
            return bool(present.intersection(value))
        if operator == "none of":
            return not present.intersection(value)
        return set(value) <= present
    if kind == "stringObject":
        metadata = actual if isinstance(actual, dict) else {}
        is_set = entry["key"] in metadata
        if operator == "is set" or (operator in ("contains", "starts with", "ends with") and value == ""):
            return is_set
        if operator == "is not set":
            return not is_set
        found = metadata.get(entry["key"])
        if found is not None and not isinstance(found, str):
            found = str(found).lower() if isinstance(found, bool) else str(found)
        return _string_match(operator, found, value)
    if kind == "boolean":
        return (bool(actual) == value) == (operator == "=")
    if kind == "null":
        return (actual is None) == (operator == "is null")
    return False


def describe(entry: dict) -> str:
    key = f".{entry['key']}" if entry.get("key") else ""
    value = "" if entry["type"] == "null" else f" {entry['value']!r}"
    return f"{entry['column']}{key} {entry['operator']}{value}"


def filters_match(filters: list[dict], facts: dict[str, Any]) -> tuple[bool, str | None]:
    """(True, None) when every filter holds; else (False, "which filter failed, and the value seen")."""
    for entry in filters:
        if not filter_match(entry, facts):
            actual = facts.get(entry["column"])
            if entry.get("key") and isinstance(actual, dict):
                actual = actual.get(entry["key"])
            return False, f"{describe(entry)} did not hold (value: {actual!r})"
    return True, None
