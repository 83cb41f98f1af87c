"""What each view of the metrics engine offers: its table, time column, dimensions and measures.

Every SQL fragment here is fixed text over the view's table aliases: `b` is the view's own table,
`t` the trace of the row (LEFT JOIN on project and trace id), `o` the observation a score targets
(LEFT JOIN on project and observation id), and `tag` one tag of the trace (a lateral FROM item, one
row per tag). A fragment may be a callable taking the dialect, for SQL that differs per database.
Names follow Langfuse's data model (web/src/features/query/dataModel.ts).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from evalsite.db import AnalyticsDialect
from scoring.models import Score
from traces.models import Observation, Trace

Sql = str | Callable[[AnalyticsDialect], str]

# Kinds of values; they decide which filter types and which aggregations apply.
STRING, NUMBER, BOOLEAN, ARRAY, DATETIME = "string", "number", "boolean", "array", "datetime"


@dataclass(frozen=True)
class Dimension:
    sql: Sql
    kind: str = STRING
    joins: tuple[str, ...] = ()  # "t", "o", "tag"
    # Langfuse's v2 refuses to group by ids (one group per row); filters may still use them.
    high_cardinality: bool = False


@dataclass(frozen=True)
class Measure:
    sql: Sql  # the value of one row, aggregated by the metric's aggregation
    kind: str = NUMBER  # NUMBER takes every aggregation; STRING only count and uniq
    unit: str = ""
    joins: tuple[str, ...] = ()


@dataclass(frozen=True)
class View:
    name: str
    model: type
    time_column: str
    dimensions: dict[str, Dimension]
    measures: dict[str, Measure]
    # A fixed condition on `b` (the score views split the score table by data type).
    segment: str = ""
    trace_id_column: str = "b.trace_id"
    extra_joins: dict[str, str] = field(default_factory=dict)

    @property
    def table(self) -> str:
        return self.model._meta.db_table


def _trace_join_dimensions(prefix: bool) -> dict[str, Dimension]:
    """Dimensions read from the row's trace (observations and scores)."""
    name = "traceName" if prefix else "name"
    return {
        name: Dimension("t.name", joins=("t",)),
        "tags": Dimension("tag.value", kind=ARRAY, joins=("t", "tag")),
        "userId": Dimension("t.user_id", joins=("t",), high_cardinality=True),
        "sessionId": Dimension("t.session_id", joins=("t",), high_cardinality=True),
        "traceRelease": Dimension("t.release", joins=("t",)),
        "traceVersion": Dimension("t.version", joins=("t",)),
    }


def _month(column: str) -> Callable[[AnalyticsDialect], str]:
    return lambda d: (
        f"to_char({column} AT TIME ZONE 'UTC', 'YYYY-MM')" if d.postgres else f"strftime('%%Y-%%m', {column})"
    )


def _day(column: str) -> Callable[[AnalyticsDialect], str]:
    return lambda d: (
        f"to_char({column} AT TIME ZONE 'UTC', 'YYYY-MM-DD')"
        if d.postgres
        else f"strftime('%%Y-%%m-%%d', {column})"
    )


def _ms(start: str, end: str) -> Callable[[AnalyticsDialect], str]:
    return lambda d: d.duration_ms(start, end)


def _cost_key(key: str) -> Callable[[AnalyticsDialect], str]:
    def sql(d: AnalyticsDialect) -> str:
        if d.postgres:
            return f"(CASE WHEN jsonb_typeof(b.cost_details -> '{key}') = 'number' THEN (b.cost_details ->> '{key}')::float8 END)"
        return f"(CASE WHEN json_type(b.cost_details, '$.{key}') IN ('integer', 'real') THEN json_extract(b.cost_details, '$.{key}') END)"

    return sql


def _per_second(tokens: str, start: str) -> Callable[[AnalyticsDialect], str]:
    return lambda d: f"({d.as_float(tokens)} / NULLIF({d.duration_ms(start, 'b.end_time')} / 1000.0, 0))"


OBSERVATION_TABLE = Observation._meta.db_table
SCORE_TABLE = Score._meta.db_table
TRACE_TABLE = Trace._meta.db_table

OBSERVATIONS = View(
    name="observations",
    model=Observation,
    time_column="start_time",
    dimensions={
        "id": Dimension("b.observation_id", high_cardinality=True),
        "traceId": Dimension("b.trace_id", high_cardinality=True),
        "environment": Dimension("b.environment"),
        "parentObservationId": Dimension("b.parent_observation_id", high_cardinality=True),
        "type": Dimension("b.type"),
        "name": Dimension("b.name"),
        "level": Dimension("b.level"),
        "version": Dimension("b.version"),
        "release": Dimension("b.release"),
        "providedModelName": Dimension("b.model"),
        "promptName": Dimension("b.prompt_name"),
        "promptVersion": Dimension("b.prompt_version", kind=NUMBER),
        "isRootObservation": Dimension("(b.parent_observation_id IS NULL)", kind=BOOLEAN),
        "startTimeMonth": Dimension(_month("b.start_time")),
        **_trace_join_dimensions(prefix=True),
    },
    measures={
        "count": Measure("1", unit="observations"),
        "latency": Measure(_ms("b.start_time", "b.end_time"), unit="ms"),
        "streamingLatency": Measure(_ms("b.completion_start_time", "b.end_time"), unit="ms"),
        "timeToFirstToken": Measure(_ms("b.start_time", "b.completion_start_time"), unit="ms"),
        "inputTokens": Measure("b.input_tokens", unit="tokens"),
        "outputTokens": Measure("b.output_tokens", unit="tokens"),
        "totalTokens": Measure("b.total_tokens", unit="tokens"),
        "outputTokensPerSecond": Measure(
            _per_second("b.output_tokens", "b.completion_start_time"), unit="tokens/s"
        ),
        "tokensPerSecond": Measure(_per_second("b.total_tokens", "b.start_time"), unit="tokens/s"),
        "inputCost": Measure(_cost_key("input"), unit="USD"),
        "outputCost": Measure(_cost_key("output"), unit="USD"),
        "totalCost": Measure("b.total_cost", unit="USD"),
        "countScores": Measure(
            f"(SELECT count(*) FROM {SCORE_TABLE} s2 WHERE s2.project_id = b.project_id "
            "AND s2.trace_id = b.trace_id AND s2.observation_id = b.observation_id)",
            unit="scores",
        ),
    },
)

TRACES = View(
    name="traces",
    model=Trace,
    time_column="timestamp",
    dimensions={
        "id": Dimension("b.trace_id", high_cardinality=True),
        "name": Dimension("b.name"),
        "tags": Dimension("tag.value", kind=ARRAY, joins=("tag",)),
        "userId": Dimension("b.user_id", high_cardinality=True),
        "sessionId": Dimension("b.session_id", high_cardinality=True),
        "release": Dimension("b.release"),
        "version": Dimension("b.version"),
        "environment": Dimension("b.environment"),
        "timestampMonth": Dimension(_month("b.timestamp")),
    },
    measures={
        "count": Measure("1", unit="traces"),
        "observationsCount": Measure(
            f"(SELECT count(*) FROM {OBSERVATION_TABLE} o2 WHERE o2.project_id = b.project_id AND o2.trace_id = b.trace_id)",
            unit="observations",
        ),
        "scoresCount": Measure(
            f"(SELECT count(*) FROM {SCORE_TABLE} s2 WHERE s2.project_id = b.project_id AND s2.trace_id = b.trace_id)",
            unit="scores",
        ),
        "uniqueUserIds": Measure("b.user_id", kind=STRING, unit="users"),
        "uniqueSessionIds": Measure("b.session_id", kind=STRING, unit="sessions"),
        "latency": Measure(
            lambda d: (
                f"(SELECT {d.duration_ms('min(o2.start_time)', 'max(o2.end_time)')} FROM {OBSERVATION_TABLE} o2 "
                "WHERE o2.project_id = b.project_id AND o2.trace_id = b.trace_id)"
            ),
            unit="ms",
        ),
        "totalTokens": Measure(
            f"(SELECT sum(o2.total_tokens) FROM {OBSERVATION_TABLE} o2 WHERE o2.project_id = b.project_id AND o2.trace_id = b.trace_id)",
            unit="tokens",
        ),
        "totalCost": Measure(
            f"(SELECT sum(o2.total_cost) FROM {OBSERVATION_TABLE} o2 WHERE o2.project_id = b.project_id AND o2.trace_id = b.trace_id)",
            unit="USD",
        ),
    },
)


def _score_dimensions() -> dict[str, Dimension]:
    return {
        "id": Dimension("b.score_id", high_cardinality=True),
        "environment": Dimension("b.environment"),
        "name": Dimension("b.name"),
        "source": Dimension("b.source"),
        "dataType": Dimension("b.data_type"),
        "traceId": Dimension("b.trace_id", high_cardinality=True),
        "observationId": Dimension("b.observation_id", high_cardinality=True),
        "configId": Dimension("b.config_id"),
        "queueId": Dimension("b.queue_id"),
        "timestampMonth": Dimension(_month("b.timestamp")),
        "timestampDay": Dimension(_day("b.timestamp")),
        **_trace_join_dimensions(prefix=True),
        # Langfuse's v2 name for the trace's release.
        "release": Dimension("t.release", joins=("t",)),
        "observationName": Dimension("o.name", joins=("o",)),
        "observationModelName": Dimension("o.model", joins=("o",)),
        "observationPromptName": Dimension("o.prompt_name", joins=("o",)),
        "observationPromptVersion": Dimension("o.prompt_version", kind=NUMBER, joins=("o",)),
    }


SCORES_NUMERIC = View(
    name="scores-numeric",
    model=Score,
    time_column="timestamp",
    dimensions={**_score_dimensions(), "value": Dimension("b.value", kind=NUMBER)},
    measures={"count": Measure("1", unit="scores"), "value": Measure("b.value")},
    segment="b.data_type IN ('NUMERIC', 'BOOLEAN')",
)
SCORES_BOOLEAN = View(
    name="scores-boolean",
    model=Score,
    time_column="timestamp",
    dimensions={
        **_score_dimensions(),
        "value": Dimension("b.value", kind=NUMBER),
        "booleanValue": Dimension("(b.value = 1)", kind=BOOLEAN),
        "stringValue": Dimension("b.string_value"),
    },
    measures={"count": Measure("1", unit="scores"), "value": Measure("b.value")},
    segment="b.data_type = 'BOOLEAN'",
)
SCORES_CATEGORICAL = View(
    name="scores-categorical",
    model=Score,
    time_column="timestamp",
    dimensions={**_score_dimensions(), "stringValue": Dimension("b.string_value")},
    measures={"count": Measure("1", unit="scores")},
    segment="b.data_type = 'CATEGORICAL'",
)

VIEWS = {
    view.name: view for view in (TRACES, OBSERVATIONS, SCORES_NUMERIC, SCORES_CATEGORICAL, SCORES_BOOLEAN)
}
# Langfuse's v2 reads observations and scores only (its traces live in the events table).
V2_VIEWS = ("observations", "scores-numeric", "scores-categorical", "scores-boolean")
# The time column of each view, by the name a filter may use for it.
TIME_FILTER_COLUMNS = {"startTime": "start_time", "timestamp": "timestamp", "start_time": "start_time"}

AGGREGATIONS = ("count", "sum", "avg", "min", "max", "uniq", "p50", "p75", "p90", "p95", "p99", "histogram")
PERCENTILES = {"p50": 0.5, "p75": 0.75, "p90": 0.9, "p95": 0.95, "p99": 0.99}
STRING_AGGREGATIONS = ("count", "uniq")
