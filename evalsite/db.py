"""Every difference between SQLite and PostgreSQL, behind one module.

SQLite is the embedded default and PostgreSQL the production database (DESIGN.md §2); every
feature works on both. Where the two spell SQL differently, or where PostgreSQL has a faster path
(COPY, `SKIP LOCKED`, jsonb operators), the branch lives here, behind a function whose callers
never ask which database they run on.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import date, datetime
from typing import Any

import psycopg
import psycopg.adapt
from django.db import connection as default_connection
from django.db.models import BooleanField, Q, QuerySet
from django.db.models.expressions import RawSQL
from psycopg.postgres import types as postgres_types
from psycopg.pq import Format

from evalsite import fastjson, timestamps


def is_postgresql(connection=None) -> bool:
    return (connection or default_connection).vendor == "postgresql"


class Dialect:
    """The few SQL spellings that differ between PostgreSQL and SQLite, for hand-written statements."""

    def __init__(self, connection=None):
        self.postgres = is_postgresql(connection)

    def least(self, a: str, b: str) -> str:
        return f"LEAST({a}, {b})" if self.postgres else f"min({a}, {b})"

    def json_literal(self, text: str) -> str:
        return f"'{text}'::jsonb" if self.postgres else f"'{text}'"

    def json_merge(self, old: str, new: str) -> str:
        """Key-wise merge of two JSON objects; `new`'s keys win (shallow, nulls kept)."""
        if self.postgres:
            merged = f"{old} || {new}"
        else:
            # json_patch would merge nested objects and drop null values, unlike jsonb `||`;
            # rebuilding the object from json_each gives the same shallow merge as PostgreSQL.
            # json_each drops the JSON subtype of nested values, so it is restored per type.
            merged = (
                "(SELECT json_group_object(key, json(CASE type WHEN 'text' THEN json_quote(value) "
                "WHEN 'true' THEN 'true' WHEN 'false' THEN 'false' WHEN 'null' THEN 'null' ELSE value END)) "
                f"FROM (SELECT key, value, type FROM json_each({old}) "
                f"WHERE key NOT IN (SELECT key FROM json_each({new})) "
                f"UNION ALL SELECT key, value, type FROM json_each({new})))"
            )
        return f"CASE WHEN {new} = {self.json_literal('{}')} THEN {old} ELSE {merged} END"

    def tags_union(self, old: str, new: str) -> str:
        """The sorted union of two JSON arrays of strings."""
        if self.postgres:
            union = (
                "(SELECT COALESCE(jsonb_agg(tag ORDER BY tag), '[]'::jsonb) FROM "
                f"(SELECT DISTINCT jsonb_array_elements_text({old} || {new}) AS tag) AS tags)"
            )
        else:
            union = (
                "(SELECT json_group_array(value) FROM (SELECT value FROM json_each("
                f"{old}) UNION SELECT value FROM json_each({new}) ORDER BY value))"
            )
        empty = self.json_literal("[]")
        return f"CASE WHEN {new} = {empty} OR {new} = {old} THEN {old} ELSE {union} END"

    def json_rows(self, columns: Sequence[tuple[str, str]]) -> tuple[str, str]:
        """`(select list, FROM clause)` that expand one JSON parameter, an array of row arrays,
        into rows with `columns` (name, PostgreSQL type) in order.

        A statement built on it has the same few parameters whatever the number of rows, and the
        database parses the rows itself: no per-row placeholders, no per-row Python work.
        """
        if self.postgres:
            # jsonb, not json: the document is parsed once, and each element is then an array the
            # columns are read from by index (a json element would be re-scanned for each column).
            values = ", ".join(_postgresql_element(index, sql_type) for index, (_, sql_type) in enumerate(columns))
            return values, "jsonb_array_elements(%s::jsonb) AS r"
        values = ", ".join(f"json_extract(r.value, '$[{index}]')" for index in range(len(columns)))
        # "WHERE true" resolves SQLite's parsing ambiguity between a join's ON and an upsert's ON.
        return values, "json_each(%s) AS r WHERE true"

    def json_rows_payload(self, rows: Iterable[dict], columns: Sequence[tuple[str, str]]) -> str:
        """The JSON parameter for `json_rows`: each row's `columns`, stored as Django's fields would.

        SQLite has no timestamptz or jsonb: datetimes become Django's naive UTC text and JSON
        values JSON text inside the document. PostgreSQL casts ISO timestamps and nested JSON
        itself, so its rows go to the encoder as they are (it writes datetimes in ISO 8601).
        """
        names = [name for name, _ in columns]
        if self.postgres:
            return fastjson.dumps([[row[name] for name in names] for row in rows])
        adapt = default_connection.ops.adapt_datetimefield_value
        converters = {"timestamptz": adapt, "jsonb": json.dumps}
        plan = [(name, converters.get(sql_type)) for name, sql_type in columns]

        def stored(row: dict) -> list:
            return [row[name] if convert is None or row[name] is None else convert(row[name]) for name, convert in plan]

        return fastjson.dumps([stored(row) for row in rows])

    def datetime_param(self, moment):
        """A datetime as a bound parameter of a hand-written statement."""
        return moment if self.postgres else default_connection.ops.adapt_datetimefield_value(moment)


def _postgresql_element(index: int, sql_type: str) -> str:
    """Element `index` of the row array `r.value`, typed for its column."""
    if sql_type == "jsonb":
        # A JSON null must become SQL NULL, as Django stores None in a nullable JSONField.
        return f"NULLIF(r.value -> {index}, 'null'::jsonb)"
    return f"(r.value ->> {index})::{sql_type}"


def server_binding_cursor(connection=None):
    """A PostgreSQL cursor whose parameters the server binds, for hand-written bulk statements.

    Django's psycopg cursors bind client-side: every value is quoted into the SQL text, and an
    array of thousands of strings is escaped element by element in Python. With this cursor a
    `%b` placeholder sends its value in binary (arrays included) and a statement run often on a
    connection is prepared once. It is wrapped like Django's own cursors, so query logging,
    `execute_wrapper` and query counts see it (`_prepare_cursor` is what `connection.cursor()`
    itself calls; Django is pinned to 5.2). Prepared statements need a direct connection or a
    pooler that keeps them (PgBouncer 1.21+). Use it as a context manager.
    """
    from django.db.backends.postgresql.base import ServerBindingCursor

    connection = connection or default_connection
    connection.ensure_connection()
    with connection.wrap_database_errors:
        return connection._prepare_cursor(ServerBindingCursor(connection.connection))


def json_array_contains(column: str, value: str, *, table: str | None = None) -> Q:
    """A condition: the JSON array in `column` holds the string `value`.

    PostgreSQL answers jsonb containment itself. SQLite has no `contains` lookup on JSON, so it
    looks through `json_each`. Without `table` the column is unqualified, which keeps the
    condition valid inside subqueries where Django renames the table's alias.
    """
    if is_postgresql():
        return Q(**{f"{column}__contains": [value]})
    quote = default_connection.ops.quote_name
    qualified = f"{quote(table)}.{quote(column)}" if table else quote(column)
    return Q(
        RawSQL(
            f"EXISTS (SELECT 1 FROM json_each({qualified}) WHERE json_each.value = %s)",
            (value,),
            output_field=BooleanField(),
        )
    )


def read_out_of_range_datetimes_clamped(sender, connection, **kwargs) -> None:
    """`connection_created` receiver: a PostgreSQL connection reads timestamps outside Python's
    range clamped to its edges instead of raising.

    Everything the platform writes is in range (evalsite/timestamps.py), but a row stored before
    that rule, or by hand (`infinity`, year 10000, 1 BC), would otherwise make psycopg raise while
    reading it, and every list, page and admin view that shows the row answer 500. Such a value
    reads as 0001-01-01T00:00:00Z or 9999-12-31T23:59:59.999999Z (a date as 0001-01-01 or
    9999-12-31), so the row can be seen, fixed and deleted. Django reads results as text; the
    loaders it registered (its time zone for timestamptz) are wrapped, not replaced. SQLite holds
    what Django wrote, which is always in range.
    """
    if not is_postgresql(connection):
        return
    adapters = connection.connection.adapters
    for type_name, (low, high) in CLAMPED_TYPES.items():
        oid = postgres_types[type_name].oid
        registered = adapters.get_loader(oid, Format.TEXT)
        zone = getattr(registered, "timezone", None)
        if zone is not None:
            # Django's time-zone loader subclasses psycopg's pure-Python parser; psycopg's C loader
            # (the global default) reads a value several times faster, and the wrapper then gives
            # it in Django's zone, as Django's loader would.
            base = psycopg.adapters.get_loader(oid, Format.TEXT)
            adapters.register_loader(oid, _clamping_loader(base, low, high, timezone=zone))
        else:
            adapters.register_loader(oid, _clamping_loader(registered, low, high))


# PostgreSQL type → the values its out-of-range readings become (earliest, latest).
CLAMPED_TYPES = {
    "timestamptz": (timestamps.EARLIEST, timestamps.LATEST),
    "timestamp": (datetime.min, datetime.max),
    "date": (date.min, date.max),
}


def _clamping_loader(base: type, low, high, *, timezone=None) -> type:
    """A loader that reads with `base` and clamps what it refuses; with `timezone`, the value is
    given in that zone, as that tzinfo object (what Django's own loader gives)."""
    # A wrapper, not a subclass: psycopg's C loaders cannot be subclassed.
    zone = timezone

    class ClampingLoader(psycopg.adapt.Loader):
        # Django compares this with its connection's time zone before every cursor, and registers
        # its own loader again when they differ.
        timezone = zone if zone is not None else getattr(base, "timezone", None)

        def __init__(self, oid, context=None):
            super().__init__(oid, context)
            self.loader = base(oid, context)

        def load(self, data):
            try:
                value = self.loader.load(data)
            except psycopg.DataError:
                # psycopg refuses only what Python cannot hold: the infinities, and years after
                # 9999 or before 1 (PostgreSQL writes those with a trailing " BC").
                text = bytes(data)
                return low if text.startswith(b"-") or text.endswith(b" BC") else high
            return value if zone is None else value.astimezone(zone)

    return ClampingLoader


def skip_locked(queryset: QuerySet, *, of: tuple[str, ...] = ()) -> QuerySet:
    """Lock the rows a claim takes, passing over rows another transaction holds.

    PostgreSQL locks rows (`FOR UPDATE SKIP LOCKED`, only the tables named in `of` when given),
    so claimers never queue behind each other; SQLite writes one transaction at a time, so the
    plain queryset is already exclusive there.
    """
    features = default_connection.features
    if features.has_select_for_update_skip_locked and (not of or features.has_select_for_update_of):
        return queryset.select_for_update(skip_locked=True, of=of)
    return queryset


def takes_row_locks() -> bool:
    """Whether `skip_locked` locks rows (PostgreSQL) rather than relying on one writer (SQLite)."""
    return default_connection.features.has_select_for_update_skip_locked


# SQLite's executemany is fastest in batches of a few thousand rows.
SQLITE_INSERT_BATCH = 2_000


def insert_rows(table: str, columns: Sequence[str], rows: Iterable[Sequence[Any]], connection=None) -> None:
    """INSERT `rows` (values already converted for the database) into `table`.

    PostgreSQL streams every row through one COPY; psycopg dumps each value with the adapter the
    caller's conversion chose (Jsonb for JSON, timestamptz for datetimes). SQLite takes batched
    `executemany` INSERTs. Columns and table are quoted here.
    """
    connection = connection or default_connection
    quote = connection.ops.quote_name
    table_sql, columns_sql = quote(table), ", ".join(quote(column) for column in columns)
    with connection.cursor() as cursor:
        if is_postgresql(connection):
            with cursor.cursor.copy(f"COPY {table_sql} ({columns_sql}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
            return
        sql = f"INSERT INTO {table_sql} ({columns_sql}) VALUES ({', '.join(['%s'] * len(columns))})"
        batch: list[Sequence[Any]] = []
        for row in rows:
            batch.append(row)
            if len(batch) >= SQLITE_INSERT_BATCH:
                cursor.executemany(sql, batch)
                batch = []
        if batch:
            cursor.executemany(sql, batch)


def update_rows(table: str, *, set_fields: Sequence, key_fields: Sequence, rows: list[list[Any]], connection=None) -> None:
    """UPDATE each row of `table` matched by `key_fields` to its own values of `set_fields`; a row of
    `rows` holds those values (converted for the database) then the keys' (Django fields give the
    columns and types).

    PostgreSQL: one statement joining the table to the rows, a column to an array (unnest),
    rather than a statement per row: 500 pipelined UPDATEs cost the caller a second of CPU under
    load. Every array is cast, since a column NULL in every row would otherwise be text. The text
    depends only on the columns, so psycopg parses it once. SQLite runs in-process: executemany.
    """
    connection = connection or default_connection
    quote = connection.ops.quote_name
    with connection.cursor() as cursor:
        if not is_postgresql(connection):
            assignments = ", ".join(f"{quote(field.column)} = %s" for field in set_fields)
            keys = " AND ".join(f"{quote(field.column)} = %s" for field in key_fields)
            cursor.executemany(f"UPDATE {quote(table)} SET {assignments} WHERE {keys}", rows)
            return
        fields = [*set_fields, *key_fields]
        arrays = ", ".join(f"CAST(%s AS {field.db_type(connection)}[])" for field in fields)
        aliases = [f"v{index}" for index in range(len(fields))]
        assignments = ", ".join(f"{quote(field.column)} = v.{alias}" for field, alias in zip(set_fields, aliases, strict=False))
        keys = " AND ".join(
            f"t.{quote(field.column)} = v.{alias}" for field, alias in zip(key_fields, aliases[len(set_fields):], strict=True)
        )
        cursor.execute(
            f"UPDATE {quote(table)} AS t SET {assignments} FROM unnest({arrays}) AS v({', '.join(aliases)}) WHERE {keys}",
            [list(column) for column in zip(*rows, strict=True)],
        )


def inserts_from_arrays() -> bool:
    """Whether `insert_from_arrays` is available (PostgreSQL); SQLite callers use the ORM."""
    return is_postgresql()


def insert_from_arrays(
    table: str, *, constant: Sequence[tuple[Any, Any]], varying: Sequence[tuple[Any, list]], returning: Sequence[str]
) -> list[tuple]:
    """PostgreSQL: one INSERT … SELECT FROM unnest(…) ON CONFLICT DO NOTHING RETURNING `returning`.
    `constant` pairs a Django field with the value every row takes, sent once; `varying` pairs a
    field with its value per row, as an array. Rows that conflict are left out, of the insert and
    of the answer."""
    quote = default_connection.ops.quote_name
    fields = [field for field, _ in constant] + [field for field, _ in varying]
    values = ", ".join(f"CAST(%s AS {field.db_type(default_connection)})" for field, _ in constant)
    arrays = ", ".join(f"CAST(%s AS {field.db_type(default_connection)}[])" for field, _ in varying)
    with default_connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {quote(table)} ({', '.join(quote(field.column) for field in fields)}) "
            f"SELECT {values}, v.* FROM unnest({arrays}) AS v ON CONFLICT DO NOTHING "
            f"RETURNING {', '.join(quote(column) for column in returning)}",
            [value for _, value in constant] + [values_ for _, values_ in varying],
        )
        return [tuple(row) for row in cursor.fetchall()]


def skip_locked_clause() -> str:
    """The end of a hand-written claim's inner SELECT: `FOR UPDATE SKIP LOCKED` where the database
    locks rows (PostgreSQL), nothing where one writer at a time already makes it exclusive (SQLite)."""
    return " FOR UPDATE SKIP LOCKED" if takes_row_locks() else ""


# --- analytics: time buckets, percentiles, durations (dashboards/METRICS.md) -------------------------

TIME_GRANULARITIES = ("minute", "hour", "day", "week", "month")
# SQLite keeps Django's naive UTC text ("YYYY-MM-DD HH:MM:SS[.ffffff]"): a bucket is that text cut
# down, and a week starts on the Monday on or before the day, as PostgreSQL's date_trunc('week').
_SQLITE_BUCKETS = {
    "minute": "strftime('%%Y-%%m-%%d %%H:%%M:00', {column})",
    "hour": "strftime('%%Y-%%m-%%d %%H:00:00', {column})",
    "day": "strftime('%%Y-%%m-%%d 00:00:00', {column})",
    "week": "strftime('%%Y-%%m-%%d 00:00:00', {column}, '-6 days', 'weekday 1')",
    "month": "strftime('%%Y-%%m-01 00:00:00', {column})",
}


class AnalyticsDialect(Dialect):
    """SQL spellings of the metrics engine. Every method returns SQL text for a `%s`-parameterised
    statement; columns come from the engine's declarations, never from a request."""

    def short_statement_settings(self) -> str | None:
        """A statement that makes the rest of the transaction plan as the metrics engine wants
        (PostgreSQL), or None.

        Its statements read one project's rows of a bounded time range: tens of milliseconds.
        At that size PostgreSQL's parallel workers and JIT compilation cost as much as they save:
        over 10M observations a 30-day count took 40 ms with two workers and 13 ms without, and
        JIT added 19 ms to a cost-by-model sum. Their planner thresholds follow the table's whole
        size, not the range read, so the same query also switched plans as a project's history
        grew. Both are off for these statements only (set_config(…, true) ends with the
        transaction).
        """
        if self.postgres:
            return "SELECT set_config('jit', 'off', true), set_config('max_parallel_workers_per_gather', '0', true)"
        return None

    def time_bucket(self, column: str, granularity: str) -> str:
        """The start of `column`'s bucket as naive UTC: a timestamp (PostgreSQL) or its text (SQLite)."""
        if granularity not in TIME_GRANULARITIES:
            raise ValueError(granularity)
        if self.postgres:
            return f"date_trunc('{granularity}', {column} AT TIME ZONE 'UTC')"
        return _SQLITE_BUCKETS[granularity].format(column=column)

    def duration_ms(self, start: str, end: str) -> str:
        """Milliseconds from `start` to `end` (NULL when either is NULL), as a double, exact to the
        microsecond on both databases.

        SQLite's julianday() loses tens of microseconds at today's dates, so there the whole seconds
        come from strftime('%s') and the microseconds from the stored text's fraction, each
        subtracted before they are added.

        PostgreSQL's EXTRACT returns numeric, whose arithmetic made a latency percentile over 80,000
        rows a fifth slower; date_part's double, rounded to whole microseconds, is as exact.
        """
        if self.postgres:
            return f"(round(date_part('epoch', {end} - {start}) * 1000000) / 1000)"
        seconds = f"(CAST(strftime('%%s', {end}) AS INTEGER) - CAST(strftime('%%s', {start}) AS INTEGER))"
        micros = f"(CAST(substr({end}, 21) AS INTEGER) - CAST(substr({start}, 21) AS INTEGER))"
        return f"({seconds} * 1000.0 + {micros} / 1000.0)"

    def percentile(self, expression: str, fraction: float) -> str:
        """The continuous percentile (linear interpolation between the two nearest values, NULLs
        ignored): PostgreSQL's percentile_cont, and the same function registered on SQLite."""
        if self.postgres:
            return f"percentile_cont({float(fraction)!r}) WITHIN GROUP (ORDER BY {expression})"
        return f"percentile_cont({expression}, {float(fraction)!r})"

    def as_float(self, expression: str) -> str:
        return f"CAST({expression} AS {'double precision' if self.postgres else 'REAL'})"

    def json_text(self, column: str) -> tuple[str, Any]:
        """`(sql, parameter-maker)` reading one top-level key of a JSON object column as text.

        The key is a bound parameter; a nested object or array reads as its JSON text.
        """
        if self.postgres:
            return f"({column} ->> %s)", lambda key: key
        return f"CAST(json_extract({column}, %s) AS TEXT)", _sqlite_json_path

    def json_number(self, column: str) -> tuple[str, Any]:
        """Like json_text, but the key's value as a double when it is a JSON number, else NULL."""
        if self.postgres:
            return (
                f"(CASE WHEN jsonb_typeof({column} -> %s) = 'number' THEN ({column} ->> %s)::float8 END)",
                lambda key: (key, key),
            )
        return (
            f"(CASE WHEN json_type({column}, %s) IN ('integer', 'real') THEN json_extract({column}, %s) END)",
            lambda key: (_sqlite_json_path(key), _sqlite_json_path(key)),
        )

    def json_array_elements(self, column: str, alias: str) -> str:
        """A FROM item with one row per string of the JSON array `column`; the string is `alias`.value."""
        if self.postgres:
            return f"jsonb_array_elements_text(COALESCE({column}, '[]'::jsonb)) AS {alias}(value)"
        return f"json_each(COALESCE({column}, '[]')) AS {alias}"

    def json_array_has(self, column: str) -> str:
        """A condition with one parameter: the JSON array `column` holds that string."""
        if self.postgres:
            return f"({column} @> jsonb_build_array(%s::text))"
        return f"EXISTS (SELECT 1 FROM json_each({column}) WHERE json_each.value = %s)"

    def contains(self, column: str) -> str:
        """Case-sensitive substring test with one parameter (LIKE would need escaping, and SQLite's
        LIKE ignores case)."""
        return f"(strpos({column}, %s) > 0)" if self.postgres else f"(instr({column}, %s) > 0)"

    def datetime_from_db(self, value) -> datetime | None:
        """A bucket or timestamp read back from `time_bucket` or a raw column, as an aware UTC datetime."""
        if value is None:
            return None
        if isinstance(value, str):
            value = datetime.fromisoformat(value)
        return timestamps.to_utc(value)


def _sqlite_json_path(key: str) -> str:
    # A quoted label, so dots and brackets in the key are part of the name.
    return '$."' + key.replace("\\", "\\\\").replace('"', '\\"') + '"'


class _Percentile:
    """SQLite aggregate `percentile_cont(value, fraction)`: PostgreSQL's percentile_cont, NULLs ignored."""

    def __init__(self):
        self.values: list[float] = []
        self.fraction = 0.5

    def step(self, value, fraction):
        self.fraction = fraction
        if value is not None:
            self.values.append(value)

    def finalize(self):
        if not self.values:
            return None
        values = sorted(self.values)
        position = (len(values) - 1) * self.fraction
        low = int(position)
        high = min(low + 1, len(values) - 1)
        return values[low] + (values[high] - values[low]) * (position - low)


def register_sqlite_functions(sender, connection, **kwargs) -> None:
    """`connection_created` receiver: the SQL functions SQLite lacks and the analytics use."""
    if connection.vendor != "sqlite":
        return
    connection.connection.create_aggregate("percentile_cont", 2, _Percentile)
