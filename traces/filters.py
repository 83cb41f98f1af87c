"""The structured `filter` parameter of `GET /api/public/traces`, `/observations` and `/v2/observations`.

A JSON array of conditions `{type, column, operator, value, key?}` (Langfuse's filter format),
turned into one Django `Q`. Columns of the observation's trace (userId, sessionId, traceName,
tags) become a subquery on the project's traces. An unknown column, operator or value type is a
400 naming the condition, never ignored: a silently dropped filter would return the wrong rows.

Every value reaches the database as a parameter of the column's own type, so a condition can only
fail as a 400: each column takes the filter types of its kind (a number is never compared with a
time), numbers are finite and within 64 bits, strings hold no NUL, and a metadata `key` is one
JSON key, never a path of Django lookups (`x__regex` is the key "x__regex").
"""

from __future__ import annotations

import json
import math
import operator as operator_module
from functools import reduce
from typing import Any

from django.db.models import JSONField, Q, Value
from django.db.models.fields.json import KeyTransform
from rest_framework.exceptions import ValidationError

from evalsite import timestamps
from evalsite.db import json_array_contains
from evalsite.json_values import json_value_problem
from evalsite.tenancy.models import Project
from traces.models import Trace

OBSERVATION_COLUMNS = {
    "id": "observation_id",
    "type": "type",
    "name": "name",
    "traceId": "trace_id",
    "startTime": "start_time",
    "endTime": "end_time",
    "environment": "environment",
    "level": "level",
    "statusMessage": "status_message",
    "version": "version",
    "parentObservationId": "parent_observation_id",
    "model": "model",
    "providedModelName": "model",
    "promptName": "prompt_name",
    "promptVersion": "prompt_version",
    "inputTokens": "input_tokens",
    "outputTokens": "output_tokens",
    "totalTokens": "total_tokens",
    "tokens": "total_tokens",
    "totalCost": "total_cost",
}
NUMBER_COLUMNS = {"promptVersion", "inputTokens", "outputTokens", "totalTokens", "tokens", "totalCost"}
DATETIME_COLUMNS = {"startTime", "endTime"}
TRACE_COLUMNS = {"userId": "user_id", "sessionId": "session_id", "traceName": "name"}
# The filter types each kind of column takes ("null" for `is null` / `is not null`: every kind).
KIND_TYPES = {
    "string": {"string", "stringOptions", "categoryOptions", "null"},
    "number": {"number", "null"},
    "datetime": {"datetime", "null"},
}
# Numbers reach BIGINT and DECIMAL columns and SQLite's 64-bit integers: no larger magnitude.
MAX_NUMBER = 2**63 - 1
TAG_COLUMNS = ("traceTags", "tags")
# Columns of `GET /traces?filter=` (Langfuse's names, aliases included) → Trace fields.
TRACE_FILTER_COLUMNS = {
    "id": "trace_id",
    "traceId": "trace_id",
    "name": "name",
    "traceName": "name",
    "timestamp": "timestamp",
    "userId": "user_id",
    "sessionId": "session_id",
    "version": "version",
    "release": "release",
    "environment": "environment",
}
STRING_OPERATORS = {"=": "exact", "contains": "contains", "starts with": "startswith", "ends with": "endswith"}
COMPARISONS = {"=": "exact", ">": "gt", "<": "lt", ">=": "gte", "<=": "lte"}


def trace_tag_q(tag: str) -> Q:
    """A condition on traces: `tag` is one of the trace's tags. The column is left unqualified so
    the condition also holds inside subqueries, where Django renames the trace table's alias."""
    return json_array_contains("tags", tag)


def _fail(index: int, message: str):
    raise ValidationError({"filter": [f"[{index}] {message}"]})


def _refuse_constant(name: str):
    raise ValueError(f"{name} is not valid JSON")


def _strings(value: Any):
    """Every string in a parsed JSON value, keys included (iterative: the depth is already bounded)."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            yield item
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)


def _storable_text(text: str) -> bool:
    """PostgreSQL refuses NUL in text parameters, and a lone surrogate cannot be encoded at all."""
    if "\x00" in text:
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def parse_filter(raw: str) -> list[dict[str, Any]]:
    try:
        conditions = json.loads(raw, parse_constant=_refuse_constant)
    except (ValueError, RecursionError):
        raise ValidationError({"filter": ["must be a JSON array of filter conditions"]}) from None
    if not isinstance(conditions, list) or not all(isinstance(item, dict) for item in conditions):
        raise ValidationError({"filter": ["must be a JSON array of filter conditions"]})
    problem = json_value_problem(conditions)
    if problem:
        raise ValidationError({"filter": [problem]})
    if not all(_storable_text(text) for text in _strings(conditions)):
        raise ValidationError({"filter": ["must not contain NUL characters or unpaired surrogates"]})
    return conditions


def observation_filter_q(*, project: Project, conditions: list[dict[str, Any]]) -> Q:
    query = Q()
    for index, condition in enumerate(conditions):
        query &= _condition(project, index, condition)
    return query


def _condition(project: Project, index: int, condition: dict[str, Any]) -> Q:
    column, operator, value = condition.get("column"), condition.get("operator"), condition.get("value")
    kind = condition.get("type")
    if column == "metadata":
        return _metadata(index, condition.get("key"), operator, value)
    if column in TAG_COLUMNS:
        return _trace_subquery(project, _tags(index, operator, value))
    if column == "isRootObservation":
        if kind != "boolean" or operator not in ("=", "<>") or not isinstance(value, bool):
            _fail(index, "isRootObservation takes a boolean with operator = or <>")
        is_root = value if operator == "=" else not value
        return Q(parent_observation_id__isnull=is_root)
    if column in TRACE_COLUMNS:
        return _trace_subquery(project, _field(index, TRACE_COLUMNS[column], kind, operator, value))
    if column in OBSERVATION_COLUMNS:
        column_kind = "number" if column in NUMBER_COLUMNS else "datetime" if column in DATETIME_COLUMNS else "string"
        if kind not in KIND_TYPES[column_kind]:
            allowed = ", ".join(sorted(KIND_TYPES[column_kind]))
            _fail(index, f"{column} is a {column_kind} column: its filter type must be one of {allowed}")
        return _field(index, OBSERVATION_COLUMNS[column], kind, operator, value)
    _fail(index, f"unknown column {column!r}")


def trace_filter_q(*, conditions: list[dict[str, Any]]) -> Q:
    """One `Q` on traces for the conditions of `GET /traces?filter=` (all must hold)."""
    query = Q()
    for index, condition in enumerate(conditions):
        query &= _trace_condition(index, condition)
    return query


def trace_filter_fields(conditions: list[dict[str, Any]]) -> set[str]:
    """The Trace fields the conditions constrain: the single-value parameters on the same fields
    give way to them, as upstream ("advanced filters take precedence")."""
    fields = set()
    for condition in conditions:
        column = condition.get("column")
        if column in TRACE_FILTER_COLUMNS:
            fields.add(TRACE_FILTER_COLUMNS[column])
        elif column in TAG_COLUMNS:
            fields.add("tags")
    return fields


def _trace_condition(index: int, condition: dict[str, Any]) -> Q:
    column, operator, value = condition.get("column"), condition.get("operator"), condition.get("value")
    kind = condition.get("type")
    if column == "metadata":
        return _metadata(index, condition.get("key"), operator, value)
    if column in TAG_COLUMNS:
        return _tags(index, operator, value)
    if column == "bookmarked":
        if kind != "boolean" or operator not in ("=", "<>") or not isinstance(value, bool):
            _fail(index, "bookmarked takes a boolean with operator = or <>")
        return Q(bookmarked=value if operator == "=" else not value)
    if column in TRACE_FILTER_COLUMNS:
        column_kind = "datetime" if column == "timestamp" else "string"
        if kind not in KIND_TYPES[column_kind]:
            allowed = ", ".join(sorted(KIND_TYPES[column_kind]))
            _fail(index, f"{column} is a {column_kind} column: its filter type must be one of {allowed}")
        return _field(index, TRACE_FILTER_COLUMNS[column], kind, operator, value)
    known = ", ".join([*TRACE_FILTER_COLUMNS, *TAG_COLUMNS, "metadata", "bookmarked"])
    _fail(index, f"unknown column {column!r}; trace filters take {known}")


def _trace_subquery(project: Project, trace_q: Q) -> Q:
    return Q(trace_id__in=Trace.objects.filter(trace_q, project=project).values("trace_id"))


def _field(index: int, field: str, kind: str, operator: str, value: Any) -> Q:
    if kind == "null":
        if operator not in ("is null", "is not null"):
            _fail(index, "null filters take operator 'is null' or 'is not null'")
        return Q(**{f"{field}__isnull": operator == "is null"})
    if kind == "string":
        if not isinstance(value, str):
            _fail(index, "string filters take a string value")
        if operator == "does not contain":
            return ~Q(**{f"{field}__contains": value})
        if operator not in STRING_OPERATORS:
            _fail(index, f"string operator must be one of {', '.join([*STRING_OPERATORS, 'does not contain'])}")
        return Q(**{f"{field}__{STRING_OPERATORS[operator]}": value})
    if kind in ("stringOptions", "categoryOptions"):
        if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
            _fail(index, "options filters take an array of strings")
        if operator == "any of":
            return Q(**{f"{field}__in": value})
        if operator == "none of":
            return ~Q(**{f"{field}__in": value})
        _fail(index, "options operator must be 'any of' or 'none of'")
    if kind == "datetime":
        if operator not in COMPARISONS or operator == "=":
            _fail(index, "datetime filters take an ISO-8601 value and one of >, <, >=, <=")
        try:
            moment = timestamps.parse_timestamp(value)
        except timestamps.InvalidTimestamp as problem:
            _fail(index, f"value {problem}")
        return Q(**{f"{field}__{COMPARISONS[operator]}": moment})
    if kind == "number":
        if not _is_number(value) or operator not in COMPARISONS:
            _fail(index, f"number filters take a number (at most {MAX_NUMBER} in magnitude) and one of =, >, <, >=, <=")
        return Q(**{f"{field}__{COMPARISONS[operator]}": value})
    _fail(index, f"type {kind!r} is not supported for this column")


def _tags(index: int, operator: str, value: Any) -> Q:
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        _fail(index, "tag filters take an array of strings")
    if operator not in ("any of", "none of", "all of"):
        _fail(index, "tag operator must be 'any of', 'none of' or 'all of'")
    parts = [trace_tag_q(tag) for tag in value]
    if operator == "all of":
        return reduce(operator_module.and_, parts, Q())
    if not parts:
        return Q() if operator == "none of" else Q(pk__in=[])
    combined = reduce(operator_module.or_, parts)
    return combined if operator == "any of" else ~combined


def _is_number(value: Any) -> bool:
    return (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and math.isfinite(value)
        and abs(value) <= MAX_NUMBER
    )


def _metadata(index: int, key: Any, operator: str, value: Any) -> Q:
    if not isinstance(key, str) or not key:
        _fail(index, "metadata filters need a key")
    if operator != "=" or not (isinstance(value, str) or _is_number(value)):
        _fail(index, "metadata filters take operator '=' with a string or number value")
    # One top-level key, as an expression: `metadata__{key}` would read "x__regex" as a lookup.
    key_value = KeyTransform(key, "metadata")
    return Q(key_value.get_lookup("exact")(key_value, Value(value, output_field=JSONField())))

