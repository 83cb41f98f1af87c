"""The set-based upsert of trace and observation rows, on PostgreSQL and on SQLite.

One `INSERT … ON CONFLICT DO UPDATE` per table writes a whole request, and the merge with what
is stored happens in SQL (the same rules as traces/merge.py, see traces/INGESTION.md), so no
row is read back into Python. Rows are written in key order: two requests that touch the same
traces lock their rows in the same order and cannot deadlock.

PostgreSQL gets one array parameter per column (`unnest`), sent in binary through a cursor the
server binds (`evalsite.db.server_binding_cursor`), so a statement has a fixed, small number of
parameters however many rows it carries, no value is quoted into the SQL text, and the statement
is prepared once per connection. SQLite gets a multi-row VALUES list, in chunks below its limit on
bound parameters.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.db import connection
from django.utils import timezone

from evalsite import fastjson
from evalsite.db import Dialect, server_binding_cursor
from evalsite.text import is_storable_str, storable
from traces.models import Observation, Trace

# (column, PostgreSQL array type); the order is the order of the VALUES.
OBSERVATION_COLUMNS = (
    ("observation_id", "text"),
    ("trace_id", "text"),
    ("parent_observation_id", "text"),
    ("type", "text"),
    ("name", "text"),
    ("start_time", "timestamptz"),
    ("end_time", "timestamptz"),
    ("completion_start_time", "timestamptz"),
    ("level", "text"),
    ("status_message", "text"),
    ("model", "text"),
    ("model_parameters", "jsonb"),
    ("usage_details", "jsonb"),
    ("cost_details", "jsonb"),
    ("input_tokens", "bigint"),
    ("output_tokens", "bigint"),
    ("total_tokens", "bigint"),
    ("total_cost", "numeric"),
    ("prompt_name", "text"),
    ("prompt_version", "integer"),
    ("environment", "text"),
    ("release", "text"),
    ("version", "text"),
    ("input", "jsonb"),
    ("output", "jsonb"),
    ("metadata", "jsonb"),
)
TRACE_COLUMNS = (
    ("trace_id", "text"),
    ("name", "text"),
    ("user_id", "text"),
    ("session_id", "text"),
    ("release", "text"),
    ("version", "text"),
    ("environment", "text"),
    ("tags", "jsonb"),
    ("metadata", "jsonb"),
    ("input", "jsonb"),
    ("output", "jsonb"),
    ("public", "boolean"),
    ("timestamp", "timestamptz"),
    ("root_observation_id", "text"),
    ("explicit_fields", "integer"),
)
JSON_OBSERVATION_COLUMNS = frozenset(name for name, kind in OBSERVATION_COLUMNS if kind == "jsonb")
JSON_TRACE_COLUMNS = frozenset(name for name, kind in TRACE_COLUMNS if kind == "jsonb")
DATETIME_OBSERVATION_COLUMNS = frozenset(name for name, kind in OBSERVATION_COLUMNS if kind == "timestamptz")
DATETIME_TRACE_COLUMNS = frozenset(name for name, kind in TRACE_COLUMNS if kind == "timestamptz")

# SQLite refuses statements with more than 32766 bound parameters.
SQLITE_MAX_PARAMS = 32000


def observation_merge_sql(d: Dialect) -> dict[str, str]:
    """SET expressions for an observation conflict: `t` is the stored row, `excluded` the new one."""

    def non_null(column: str) -> str:
        return f"COALESCE(excluded.{column}, t.{column})"

    def unless_weak(column: str, weak: str) -> str:
        return f"CASE WHEN excluded.{column} = '{weak}' THEN t.{column} ELSE excluded.{column} END"

    def replace_unless_empty(column: str) -> str:
        return f"CASE WHEN excluded.{column} = {d.json_literal('{}')} THEN t.{column} ELSE excluded.{column} END"

    return {
        "trace_id": "excluded.trace_id",
        "parent_observation_id": non_null("parent_observation_id"),
        "type": unless_weak("type", "SPAN"),
        "name": non_null("name"),
        "start_time": d.least("t.start_time", "excluded.start_time"),
        "end_time": non_null("end_time"),
        "completion_start_time": non_null("completion_start_time"),
        "level": unless_weak("level", "DEFAULT"),
        "status_message": non_null("status_message"),
        "model": non_null("model"),
        "model_parameters": non_null("model_parameters"),
        "usage_details": replace_unless_empty("usage_details"),
        "cost_details": replace_unless_empty("cost_details"),
        "input_tokens": non_null("input_tokens"),
        "output_tokens": non_null("output_tokens"),
        "total_tokens": non_null("total_tokens"),
        "total_cost": non_null("total_cost"),
        "prompt_name": non_null("prompt_name"),
        "prompt_version": non_null("prompt_version"),
        "environment": unless_weak("environment", "default"),
        "release": non_null("release"),
        "version": non_null("version"),
        "input": non_null("input"),
        "output": non_null("output"),
        "metadata": d.json_merge("t.metadata", "excluded.metadata"),
        "updated_at": "excluded.updated_at",
    }


def trace_merge_sql(d: Dialect) -> dict[str, str]:
    """SET expressions for a trace conflict (see merge.merge_trace for the same rules in Python)."""
    root_wins = (
        "(excluded.root_observation_id IS NOT NULL AND (t.root_observation_id IS NULL "
        "OR excluded.timestamp < t.timestamp OR (excluded.timestamp = t.timestamp "
        "AND excluded.root_observation_id <= t.root_observation_id)))"
    )

    def non_null(column: str) -> str:
        return f"COALESCE(excluded.{column}, t.{column})"

    def ranked(column: str, bit: int) -> str:
        return (
            f"CASE WHEN excluded.{column} IS NULL THEN t.{column} "
            f"WHEN (excluded.explicit_fields & {bit}) <> 0 THEN excluded.{column} "
            f"WHEN (t.explicit_fields & {bit}) <> 0 THEN t.{column} "
            f"WHEN {root_wins} THEN excluded.{column} "
            f"ELSE COALESCE(t.{column}, excluded.{column}) END"
        )

    return {
        "name": ranked("name", 1),
        "user_id": non_null("user_id"),
        "session_id": non_null("session_id"),
        "release": non_null("release"),
        "version": non_null("version"),
        "environment": "CASE WHEN excluded.environment = 'default' THEN t.environment ELSE excluded.environment END",
        "tags": d.tags_union("t.tags", "excluded.tags"),
        "metadata": d.json_merge("t.metadata", "excluded.metadata"),
        "input": ranked("input", 2),
        "output": ranked("output", 4),
        "public": "(t.public OR excluded.public)",
        "timestamp": (
            f"CASE WHEN {root_wins} THEN excluded.timestamp "
            "WHEN t.root_observation_id IS NOT NULL THEN t.timestamp "
            f"ELSE {d.least('t.timestamp', 'excluded.timestamp')} END"
        ),
        "root_observation_id": f"CASE WHEN {root_wins} THEN excluded.root_observation_id ELSE t.root_observation_id END",
        "explicit_fields": "(t.explicit_fields | excluded.explicit_fields)",
        "updated_at": "excluded.updated_at",
    }


def _dumps(value: Any) -> str:
    text = fastjson.dumps(value)
    # NUL is escaped as \u0000 even without ASCII escaping; a lone surrogate is written as itself.
    if "\\u0000" in text or not is_storable_str(text):
        text = fastjson.dumps(storable(value))
    return text


def _json_or_null(value: Any) -> str | None:
    return None if value is None else _dumps(value)


class Upserter:
    """Builds and runs the two statements for one database connection's vendor."""

    def __init__(self):
        self.dialect = Dialect(connection)
        self.ops = connection.ops

    def write(self, project_id: str, traces: Sequence[dict], observations: Sequence[dict]) -> None:
        now = timezone.now()
        # Traces first, then observations, in key order: the same lock order in every request.
        if traces:
            self._upsert(
                Trace._meta.db_table,
                "trace_id",
                TRACE_COLUMNS,
                JSON_TRACE_COLUMNS,
                DATETIME_TRACE_COLUMNS,
                trace_merge_sql(self.dialect),
                project_id,
                sorted(traces, key=lambda row: row["trace_id"]),
                now,
                extra={"bookmarked": False},
            )
        if observations:
            self._upsert(
                Observation._meta.db_table,
                "observation_id",
                OBSERVATION_COLUMNS,
                JSON_OBSERVATION_COLUMNS,
                DATETIME_OBSERVATION_COLUMNS,
                observation_merge_sql(self.dialect),
                project_id,
                sorted(observations, key=lambda row: row["observation_id"]),
                now,
            )

    def _upsert(self, table, key, columns, json_columns, datetime_columns, merge, project_id, rows, now, extra=None):
        extra = extra or {}
        names = [name for name, _ in columns]
        insert_columns = ["project_id", "created_at", "updated_at", *extra, *names]
        set_clause = ", ".join(f"{column} = {expression}" for column, expression in merge.items())
        conflict = f"ON CONFLICT (project_id, {key}) DO UPDATE SET {set_clause}"
        if self.dialect.postgres:
            arrays = [
                [_json_or_null(row[name]) for row in rows] if name in json_columns else [row[name] for row in rows]
                for name in names
            ]
            unnest = ", ".join(f"%b::{'text' if kind == 'jsonb' else kind}[]" for _, kind in columns)
            casts = ", ".join(f"v.{name}::jsonb" if kind == "jsonb" else f"v.{name}" for name, kind in columns)
            constants = ", ".join(["%s", "%s", "%s", *(["%s"] * len(extra))])
            sql = (
                f"INSERT INTO {table} AS t ({', '.join(insert_columns)}) "
                f"SELECT {constants}, {casts} FROM unnest({unnest}) AS v({', '.join(names)}) "
                f"ORDER BY v.{key} {conflict}"
            )
            with server_binding_cursor() as cursor:
                cursor.execute(sql, [project_id, now, now, *extra.values(), *arrays])
            return
        with connection.cursor() as cursor:
            # SQLite: plain VALUES rows, with values adapted the way Django stores them.
            created = self.ops.adapt_datetimefield_value(now)
            per_row = len(insert_columns)
            placeholders = "(" + ", ".join(["%s"] * per_row) + ")"
            chunk = max(1, SQLITE_MAX_PARAMS // per_row)
            for start in range(0, len(rows), chunk):
                part = rows[start : start + chunk]
                params: list[Any] = []
                for row in part:
                    params += [project_id, created, created, *extra.values()]
                    for name in names:
                        value = row[name]
                        if name in json_columns:
                            value = _json_or_null(value)
                        elif name in datetime_columns:
                            value = self.ops.adapt_datetimefield_value(value)
                        elif name == "total_cost" and value is not None:
                            value = str(value)
                        params.append(value)
                sql = (
                    f"INSERT INTO {table} AS t ({', '.join(insert_columns)}) "
                    f"VALUES {', '.join([placeholders] * len(part))} {conflict}"
                )
                cursor.execute(sql, params)
