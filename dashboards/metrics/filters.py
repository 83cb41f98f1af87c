"""Filters of a metrics query as SQL conditions with bound parameters.

Langfuse's filter format `{column, operator, type, value, key?}`: the column is one of the view's
dimensions, its time column, or `metadata` (with a key). Each kind of column takes the filter types
of its kind, as in `GET /v2/observations` (traces/filters.py): an unknown column, operator or value
is a 400 naming the filter, never dropped (a dropped filter would answer with the wrong rows).
"""

from __future__ import annotations

import math
from typing import Any

from dashboards.metrics.catalog import ARRAY, BOOLEAN, NUMBER, STRING, TIME_FILTER_COLUMNS, Dimension, View
from dashboards.metrics.query import Filter, fail
from evalsite import timestamps
from evalsite.db import AnalyticsDialect

MAX_NUMBER = 2**63 - 1
COMPARISONS = ("=", ">", "<", ">=", "<=", "!=")
STRING_OPERATORS = ("=", "!=", "contains", "does not contain", "starts with", "ends with")
KIND_TYPES = {
    STRING: {"string", "stringOptions", "categoryOptions", "null"},
    NUMBER: {"number", "null"},
    BOOLEAN: {"boolean", "null"},
    ARRAY: {"arrayOptions"},
}


def _problem(item: Filter, message: str):
    fail(f"filters[{item.index}] ({item.column}): {message}")


def _is_number(value: Any) -> bool:
    return (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and math.isfinite(value)
        and abs(value) <= MAX_NUMBER
    )


def _strings(item: Filter) -> list[str]:
    if not isinstance(item.value, list) or not all(
        isinstance(v, str) and "\x00" not in v for v in item.value
    ):
        _problem(item, f"{item.type} filters take an array of strings")
    return item.value


class FilterCompiler:
    """Collects the joins the filters need and turns them into SQL with parameters."""

    def __init__(self, view: View, dialect: AnalyticsDialect):
        self.view, self.dialect = view, dialect
        self.joins: set[str] = set()

    def compile(self, filters: list[Filter]) -> tuple[list[str], list[Any]]:
        conditions, params = [], []
        for item in filters:
            sql, values = self._one(item)
            conditions.append(sql)
            params += values
        return conditions, params

    def _one(self, item: Filter) -> tuple[str, list]:
        view, d = self.view, self.dialect
        if item.column == "metadata":
            return self._metadata(item)
        if TIME_FILTER_COLUMNS.get(item.column) == view.time_column or item.column == view.time_column:
            return self._datetime(item, f"b.{view.time_column}")
        dimension = view.dimensions.get(item.column)
        if dimension is None:
            _problem(
                item, f"unknown column; one of {', '.join(view.dimensions)}, {view.time_column}, metadata"
            )
        if dimension.kind == ARRAY:
            return self._tags(item)
        if item.type not in KIND_TYPES[dimension.kind]:
            allowed = ", ".join(sorted(KIND_TYPES[dimension.kind]))
            _problem(item, f"a {dimension.kind} column; its filter type must be one of {allowed}")
        self.joins.update(dimension.joins)
        column = dimension.sql(d) if callable(dimension.sql) else dimension.sql
        return self._field(item, column, dimension)

    def _field(self, item: Filter, column: str, dimension: Dimension) -> tuple[str, list]:
        kind, operator, value = item.type, item.operator, item.value
        if kind == "null":
            if operator not in ("is null", "is not null"):
                _problem(item, "null filters take operator 'is null' or 'is not null'")
            return f"({column} IS {'NULL' if operator == 'is null' else 'NOT NULL'})", []
        if kind == "string":
            return self._string(item, column)
        if kind in ("stringOptions", "categoryOptions"):
            values = _strings(item)
            if operator not in ("any of", "none of"):
                _problem(item, "options filters take operator 'any of' or 'none of'")
            if not values:
                return ("(1 = 0)" if operator == "any of" else "(1 = 1)"), []
            placeholders = ", ".join(["%s"] * len(values))
            if operator == "any of":
                return f"({column} IN ({placeholders}))", list(values)
            return f"({column} IS NULL OR {column} NOT IN ({placeholders}))", list(values)
        if kind == "number":
            if not _is_number(value) or operator not in COMPARISONS:
                _problem(item, f"number filters take a number and one of {', '.join(COMPARISONS)}")
            sql_operator = "<>" if operator == "!=" else operator
            return f"({column} {sql_operator} %s)", [value]
        if kind == "boolean":
            if not isinstance(value, bool) or operator not in ("=", "<>", "!="):
                _problem(item, "boolean filters take true or false and operator = or <>")
            wanted = value if operator == "=" else not value
            return (f"({column})" if wanted else f"(NOT {column})"), []
        _problem(item, f"type {kind!r} is not supported")

    def _string(self, item: Filter, column: str) -> tuple[str, list]:
        operator, value = item.operator, item.value
        if not isinstance(value, str) or "\x00" in value:
            _problem(item, "string filters take a string value")
        if operator not in STRING_OPERATORS:
            _problem(item, f"string operator must be one of {', '.join(STRING_OPERATORS)}")
        if operator == "=":
            return f"({column} = %s)", [value]
        if operator == "!=":
            return f"({column} IS NULL OR {column} <> %s)", [value]
        if operator == "contains":
            return self.dialect.contains(column), [value]
        if operator == "does not contain":
            return f"({column} IS NULL OR NOT {self.dialect.contains(column)})", [value]
        if operator == "starts with":
            return f"(substr({column}, 1, length(%s)) = %s)", [value, value]
        return (
            f"(length({column}) >= length(%s) AND substr({column}, length({column}) - length(%s) + 1) = %s)",
            [value, value, value],
        )

    def _datetime(self, item: Filter, column: str) -> tuple[str, list]:
        if item.type != "datetime" or item.operator not in (">", "<", ">=", "<="):
            _problem(item, "time filters take type datetime, an ISO-8601 value and one of >, <, >=, <=")
        try:
            moment = timestamps.parse_timestamp(item.value)
        except timestamps.InvalidTimestamp as problem:
            _problem(item, f"value {problem}")
        return f"({column} {item.operator} %s)", [self.dialect.datetime_param(moment)]

    def _tags(self, item: Filter) -> tuple[str, list]:
        values = (
            _strings(item) if item.type == "arrayOptions" else _problem(item, "tags take type arrayOptions")
        )
        if item.operator not in ("any of", "none of", "all of"):
            _problem(item, "tag operator must be 'any of', 'none of' or 'all of'")
        tags = "b.tags" if self.view.name == "traces" else "t.tags"
        if tags == "t.tags":
            self.joins.add("t")
        has = self.dialect.json_array_has(tags)
        if not values:
            return ("(1 = 1)" if item.operator != "any of" else "(1 = 0)"), []
        if item.operator == "all of":
            return "(" + " AND ".join([has] * len(values)) + ")", list(values)
        any_of = "(" + " OR ".join([has] * len(values)) + ")"
        if item.operator == "any of":
            return any_of, list(values)
        return f"({tags} IS NULL OR NOT {any_of})", list(values)

    def _metadata(self, item: Filter) -> tuple[str, list]:
        key = item.key
        if not isinstance(key, str) or not key or "\x00" in key:
            _problem(item, "metadata filters need a key (one top-level key of the metadata object)")
        if item.type == "stringObject":
            sql, make = self.dialect.json_text("b.metadata")
            condition, params = self._string(item, sql)
        elif item.type == "numberObject":
            sql, make = self.dialect.json_number("b.metadata")
            if not _is_number(item.value) or item.operator not in COMPARISONS:
                _problem(item, f"numberObject filters take a number and one of {', '.join(COMPARISONS)}")
            condition, params = f"({sql} {'<>' if item.operator == '!=' else item.operator} %s)", [item.value]
        else:
            _problem(item, "metadata filters take type stringObject or numberObject with a key")
        key_params = make(key)
        key_params = list(key_params) if isinstance(key_params, tuple) else [key_params]
        # The key's placeholders come first in the column expression, each time it appears.
        occurrences = condition.count(sql)
        return condition, _interleave(condition, sql, key_params, params, occurrences)


def _interleave(condition: str, sql: str, key_params: list, params: list, occurrences: int) -> list:
    """The parameters of `condition` in placeholder order: the metadata expression `sql` (with the
    key's parameters) appears `occurrences` times among the condition's own placeholders."""
    ordered, rest = [], list(params)
    position = 0
    while True:
        next_expression = condition.find(sql, position)
        chunk = condition[position : len(condition) if next_expression < 0 else next_expression]
        for _ in range(chunk.count("%s")):
            ordered.append(rest.pop(0))
        if next_expression < 0:
            break
        ordered += key_params
        position = next_expression + len(sql)
    return ordered
