"""The structured `filter` parameter of `GET /api/public/v2/observations`.

A JSON array of conditions `{type, column, operator, value, key?}` (Langfuse's filter format),
turned into one Django `Q`. Columns of the observation's trace (userId, sessionId, traceName,
tags) become a subquery on the project's traces. An unknown column, operator or value type is a
400 naming the condition, never ignored: a silently dropped filter would return the wrong rows.
"""

from __future__ import annotations

import json
import operator as operator_module
from functools import reduce
from typing import Any

from django.db.models import Q
from rest_framework.exceptions import ValidationError

from evalsite import timestamps
from evalsite.db import json_array_contains
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
TRACE_COLUMNS = {"userId": "user_id", "sessionId": "session_id", "traceName": "name"}
TAG_COLUMNS = ("traceTags", "tags")
STRING_OPERATORS = {"=": "exact", "contains": "contains", "starts with": "startswith", "ends with": "endswith"}
COMPARISONS = {"=": "exact", ">": "gt", "<": "lt", ">=": "gte", "<=": "lte"}


def trace_tag_q(tag: str) -> Q:
    """A condition on traces: `tag` is one of the trace's tags. The column is left unqualified so
    the condition also holds inside subqueries, where Django renames the trace table's alias."""
    return json_array_contains("tags", tag)


def _fail(index: int, message: str):
    raise ValidationError({"filter": [f"[{index}] {message}"]})


def parse_filter(raw: str) -> list[dict[str, Any]]:
    try:
        conditions = json.loads(raw)
    except ValueError:
        raise ValidationError({"filter": ["must be a JSON array of filter conditions"]}) from None
    if not isinstance(conditions, list) or not all(isinstance(item, dict) for item in conditions):
        raise ValidationError({"filter": ["must be a JSON array of filter conditions"]})
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
        return _field(index, OBSERVATION_COLUMNS[column], kind, operator, value)
    _fail(index, f"unknown column {column!r}")


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
        if isinstance(value, bool) or not isinstance(value, int | float) or operator not in COMPARISONS:
            _fail(index, "number filters take a number and one of =, >, <, >=, <=")
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


def _metadata(index: int, key: Any, operator: str, value: Any) -> Q:
    if not isinstance(key, str) or not key:
        _fail(index, "metadata filters need a key")
    lookup = f"metadata__{key}"
    if operator == "=" and isinstance(value, str | int | float) and not isinstance(value, bool):
        return Q(**{lookup: value})
    _fail(index, "metadata filters take operator '=' with a string or number value")
