"""Runs a checked metrics query (query.py) as one SQL statement over the view's table.

    SELECT <dimensions>, <time bucket> AS time_dimension, <aggregations> AS <agg>_<measure>
    FROM <table> b [LEFT JOIN traces t] [LEFT JOIN observations o] [, <tags of t> tag]
    WHERE b.project_id = %s AND b.<time> >= %s AND b.<time> <= %s [AND segment] [AND filters]
    GROUP BY <dimensions>, time_dimension ORDER BY … LIMIT …

The project and the time range bound every statement, so the (project, time) indexes serve it and
no query reads another project's rows or a project's whole history. Joined tables are matched on
the same project. Histograms take two statements (the range of values, then the count per bin).
"""

from __future__ import annotations

import calendar
import contextlib
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.db import connections, transaction

from dashboards.metrics.catalog import OBSERVATION_TABLE, PERCENTILES, TRACE_TABLE, Dimension, Measure
from dashboards.metrics.filters import FilterCompiler
from dashboards.metrics.query import MAX_BUCKETS, MetricsQuery
from evalsite import timestamps
from evalsite.db import AnalyticsDialect
from evalsite.tenancy.models import Project

# Aggregations whose empty bucket reads as 0 rather than "no value".
ZERO_WHEN_EMPTY = ("count", "sum", "uniq")


def _sql(fragment, dialect: AnalyticsDialect) -> str:
    return fragment(dialect) if callable(fragment) else fragment


def _aggregate(aggregation: str, value: str, dialect: AnalyticsDialect) -> str:
    if aggregation == "count":
        return f"count({value})"
    if aggregation == "uniq":
        return f"count(DISTINCT {value})"
    if aggregation in ("sum", "avg", "min", "max"):
        return f"{aggregation}({dialect.as_float(value)})"
    return dialect.percentile(dialect.as_float(value), PERCENTILES[aggregation])


class Statement:
    """The FROM and WHERE of a query, shared by its main statement and a histogram's range."""

    def __init__(self, *, project: Project, query: MetricsQuery, dialect: AnalyticsDialect):
        self.query, self.dialect = query, dialect
        view = query.view
        compiler = FilterCompiler(view, dialect)
        conditions, filter_params = compiler.compile(query.filters)
        joins = set(compiler.joins)
        for _, dimension in query.dimensions:
            joins.update(dimension.joins)
        for metric in query.metrics:
            joins.update(metric.measure.joins)
        time = f"b.{view.time_column}"
        self.where = ["b.project_id = %s", f"{time} >= %s", f"{time} <= %s"]
        self.params: list[Any] = [
            project.pk,
            dialect.datetime_param(query.from_timestamp),
            dialect.datetime_param(query.to_timestamp),
        ]
        if view.segment:
            self.where.append(view.segment)
        self.where += conditions
        self.params += filter_params
        from_items = [f"{view.table} b"]
        if view.name != "traces" and joins & {"t", "tag"}:
            from_items.append(
                f"LEFT JOIN {TRACE_TABLE} t ON t.project_id = b.project_id AND t.trace_id = b.trace_id"
            )
        if "o" in joins:
            from_items.append(
                f"LEFT JOIN {OBSERVATION_TABLE} o ON o.project_id = b.project_id AND o.observation_id = b.observation_id"
            )
        if "tag" in joins:
            tags = "b.tags" if view.name == "traces" else "t.tags"
            # An implicit lateral join: one row per tag (a row without tags drops out, as in Langfuse).
            from_items.append(f"CROSS JOIN {dialect.json_array_elements(tags, 'tag')}")
        self.from_sql = " ".join(from_items)

    @property
    def where_sql(self) -> str:
        return " AND ".join(self.where)


@contextlib.contextmanager
def _cursor(connection, dialect: AnalyticsDialect):
    """A cursor whose statements run with the engine's planner settings (PostgreSQL: in a
    transaction, the caller's if there is one, since the settings end with it; SQLite: as they
    are, since a transaction there would take the write lock for a read). No savepoint: nothing
    here catches a database error to carry on in the caller's transaction."""
    settings = dialect.short_statement_settings()
    scope = transaction.atomic(using=connection.alias, savepoint=False) if settings else contextlib.nullcontext()
    with scope, connection.cursor() as cursor:
        if settings:
            cursor.execute(settings)
        yield cursor


def run_query(*, project: Project, query: MetricsQuery, using: str = "default") -> list[dict[str, Any]]:
    connection = connections[using]
    dialect = AnalyticsDialect(connection)
    statement = Statement(project=project, query=query, dialect=dialect)
    if query.metrics[0].aggregation == "histogram":
        return _histogram(connection, dialect, statement)

    # Output columns are grouped and ordered by position: a name such as "name" would be read as
    # an ambiguous input column by PostgreSQL's GROUP BY once traces are joined.
    select, names = [], []
    for name, dimension in query.dimensions:
        select.append(f"{_sql(dimension.sql, dialect)} AS {_quote(name)}")
        names.append(name)
    if query.granularity:
        select.append(
            f"{dialect.time_bucket(f'b.{query.view.time_column}', query.granularity)} AS time_dimension"
        )
        names.append("time_dimension")
    group = [str(position) for position in range(1, len(names) + 1)]
    for metric in query.metrics:
        value = _sql(metric.measure.sql, dialect)
        select.append(f"{_aggregate(metric.aggregation, value, dialect)} AS {_quote(metric.alias)}")
        names.append(metric.alias)
    sql = f"SELECT {', '.join(select)} FROM {statement.from_sql} WHERE {statement.where_sql}"
    if group:
        sql += f" GROUP BY {', '.join(group)}"
    order = [
        f"{names.index(field) + 1} {direction.upper()} NULLS {'LAST' if direction == 'asc' else 'FIRST'}"
        for field, direction in query.order_by
    ]
    if order:
        sql += f" ORDER BY {', '.join(order)}"
    limit = query.row_limit or MAX_BUCKETS
    sql += f" LIMIT {int(limit)}"
    with _cursor(connection, dialect) as cursor:
        cursor.execute(sql, statement.params)
        names = [column[0] for column in cursor.description]
        rows = [_row(names, values, query, dialect) for values in cursor.fetchall()]
    if query.granularity and not query.dimensions and not query.explicit_order:
        rows = _fill_time_series(rows, query)
    return rows


def _quote(name: str) -> str:
    # Output names are catalogue names and `<agg>_<measure>`: letters, digits and underscores only.
    return f'"{name}"'


def _number(value: Any) -> Any:
    if isinstance(value, Decimal):
        return float(value)
    return value


def _row(names: list[str], values, query: MetricsQuery, dialect: AnalyticsDialect) -> dict[str, Any]:
    kinds = {name: dimension.kind for name, dimension in query.dimensions}
    row = {}
    for name, value in zip(names, values, strict=True):
        if name == "time_dimension":
            row[name] = isoformat(dialect.datetime_from_db(value))
        elif kinds.get(name) == "boolean":
            row[name] = None if value is None else bool(value)
        elif name in kinds:
            row[name] = _number(value)
        elif name.startswith(("count_", "uniq_")):
            row[name] = int(value or 0)
        else:
            row[name] = None if value is None else float(value)
    return row


def isoformat(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    return (
        moment.astimezone(timestamps.UTC).strftime("%Y-%m-%dT%H:%M:%S.")
        + f"{moment.microsecond // 1000:03d}Z"
    )


def bucket_start(moment: datetime, granularity: str) -> datetime:
    """The bucket `moment` (aware UTC) falls in, as the databases' time_bucket computes it."""
    moment = moment.astimezone(timestamps.UTC)
    if granularity == "minute":
        return moment.replace(second=0, microsecond=0)
    if granularity == "hour":
        return moment.replace(minute=0, second=0, microsecond=0)
    day = moment.replace(hour=0, minute=0, second=0, microsecond=0)
    if granularity == "day":
        return day
    if granularity == "week":
        return day - timedelta(days=day.weekday())
    return day.replace(day=1)


def next_bucket(start: datetime, granularity: str) -> datetime:
    if granularity == "month":
        days = calendar.monthrange(start.year, start.month)[1]
        return start + timedelta(days=days)
    step = {
        "minute": timedelta(minutes=1),
        "hour": timedelta(hours=1),
        "day": timedelta(days=1),
        "week": timedelta(weeks=1),
    }
    return start + step[granularity]


def bucket_starts(start: datetime, end: datetime, granularity: str) -> list[datetime]:
    buckets, moment = [], bucket_start(start, granularity)
    while moment <= end:
        buckets.append(moment)
        moment = next_bucket(moment, granularity)
    return buckets


def _fill_time_series(rows: list[dict], query: MetricsQuery) -> list[dict]:
    """Every bucket from fromTimestamp to toTimestamp, as Langfuse's WITH FILL: a bucket without rows
    has 0 for count, sum and uniq and null for the other aggregations (an average of nothing)."""
    by_time = {row["time_dimension"]: row for row in rows}
    filled = []
    for moment in bucket_starts(query.from_timestamp, query.to_timestamp, query.granularity):
        key = isoformat(moment)
        filled.append(
            by_time.get(key)
            or {"time_dimension": key}
            | {m.alias: (0 if m.aggregation in ZERO_WHEN_EMPTY else None) for m in query.metrics}
        )
    return filled


def _histogram(connection, dialect: AnalyticsDialect, statement: Statement) -> list[dict[str, Any]]:
    """Equal-width bins between the smallest and the largest value of the whole query; per group of
    the dimensions, `histogram_<measure>` is `[[lower, upper, count], …]` over the bins with rows."""
    query = statement.query
    metric = query.metrics[0]
    value = dialect.as_float(_sql(metric.measure.sql, dialect))
    base = f"FROM {statement.from_sql} WHERE {statement.where_sql} AND {value} IS NOT NULL"
    with _cursor(connection, dialect) as cursor:
        cursor.execute(f"SELECT min({value}), max({value}) {base}", statement.params)
        low, high = cursor.fetchone()
        if low is None:
            return []
        width = (high - low) / query.bins if high > low else 1.0
        # The top value belongs to the last bin, as in numpy.histogram.
        index = f"CASE WHEN {value} >= %s THEN %s ELSE CAST(floor(({value} - %s) / %s) AS INTEGER) END"
        index_params = [high, query.bins - 1, low, width] if high > low else [high, 0, low, width]
        dims = [f"{_sql(d.sql, dialect)} AS {_quote(name)}" for name, d in query.dimensions]
        group = [str(position) for position in range(1, len(dims) + 2)]
        cursor.execute(
            f"SELECT {', '.join([*dims, f'{index} AS bin', 'count(*) AS n'])} {base} "
            f"GROUP BY {', '.join(group)} ORDER BY {', '.join(position + ' NULLS LAST' for position in group)}",
            index_params + statement.params,
        )
        groups: dict[tuple, list] = {}
        for row in cursor.fetchall():
            key, bin_index, count = tuple(_number(v) for v in row[: len(dims)]), int(row[-2]), int(row[-1])
            lower = low + bin_index * width
            upper = high if bin_index == query.bins - 1 or high == low else low + (bin_index + 1) * width
            groups.setdefault(key, []).append([lower, upper, count])
    names = [name for name, _ in query.dimensions]
    rows = [dict(zip(names, key, strict=True)) | {metric.alias: bins} for key, bins in groups.items()]
    return rows[: query.row_limit] if query.row_limit else rows


__all__ = ["run_query", "Dimension", "Measure", "isoformat", "bucket_starts", "bucket_start"]
