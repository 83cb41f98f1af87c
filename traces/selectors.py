"""Reads of traces, observations, sessions and daily metrics. Every function takes the project."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal

from django.db.models import Count, Min, QuerySet, Sum
from django.db.models.functions import TruncDate

from evalsite.tenancy.models import Project
from traces.filters import trace_tag_q
from traces.models import Observation, Trace

TRACE_ORDER_FIELDS = {
    "timestamp": "timestamp",
    "name": "name",
    "userId": "user_id",
    "sessionId": "session_id",
    "release": "release",
    "version": "version",
    "environment": "environment",
    "createdAt": "created_at",
    "updatedAt": "updated_at",
    "id": "trace_id",
}


# --- traces -------------------------------------------------------------------------------


def trace_list(
    *,
    project: Project,
    user_id: str | None = None,
    name: str | None = None,
    session_id: str | None = None,
    from_timestamp: datetime | None = None,
    to_timestamp: datetime | None = None,
    tags: Iterable[str] | None = None,
    version: str | None = None,
    release: str | None = None,
    environments: Iterable[str] | None = None,
    order_by: tuple[str, str] = ("timestamp", "desc"),
) -> QuerySet[Trace]:
    """Traces of `project`, narrowed by every filter given; `tags`: all must be present.

    `from_timestamp` is inclusive, `to_timestamp` exclusive. `order_by` is (wire field, asc|desc).
    """
    queryset = Trace.objects.filter(project=project)
    exact = {
        "user_id": user_id,
        "name": name,
        "session_id": session_id,
        "timestamp__gte": from_timestamp,
        "timestamp__lt": to_timestamp,
        "version": version,
        "release": release,
        "environment__in": list(environments) if environments else None,
    }
    queryset = queryset.filter(**{lookup: value for lookup, value in exact.items() if value is not None})
    for tag in sorted(set(tags or ())):
        queryset = queryset.filter(trace_tag_q(tag))
    column, direction = order_by
    column = TRACE_ORDER_FIELDS[column]
    prefix = "-" if direction == "desc" else ""
    return queryset.order_by(f"{prefix}{column}", f"{prefix}id")


def trace_get(*, project: Project, trace_id: str) -> Trace | None:
    return Trace.objects.filter(project=project, trace_id=trace_id).first()


@dataclass
class TraceStats:
    observation_ids: list[str] = field(default_factory=list)
    start: datetime | None = None
    end: datetime | None = None
    total_cost: Decimal = Decimal(0)

    @property
    def latency_seconds(self) -> float:
        if self.start is None or self.end is None:
            return 0.0
        return max((self.end - self.start).total_seconds(), 0.0)


def trace_stats(*, project: Project, trace_ids: Iterable[str]) -> dict[str, TraceStats]:
    """Per trace: its observation ids (by start), time span and total cost, in one query."""
    stats: dict[str, TraceStats] = defaultdict(TraceStats)
    rows = (
        Observation.objects.filter(project=project, trace_id__in=list(trace_ids))
        .order_by("trace_id", "start_time", "observation_id")
        .values_list("trace_id", "observation_id", "start_time", "end_time", "total_cost")
    )
    for trace_id, observation_id, start, end, cost in rows:
        entry = stats[trace_id]
        entry.observation_ids.append(observation_id)
        entry.start = start if entry.start is None else min(entry.start, start)
        last = end or start
        entry.end = last if entry.end is None else max(entry.end, last)
        if cost is not None:
            entry.total_cost += cost
    return dict(stats)


def trace_cost_totals(*, project: Project, trace_ids) -> dict[str, Decimal]:
    """{trace id: summed observation cost} for the traces that have priced observations.

    `trace_ids` may be a queryset of trace ids (read as a subquery rather than a long IN list).
    """
    ids = trace_ids if isinstance(trace_ids, QuerySet) else list(trace_ids)
    rows = (
        Observation.objects.filter(project=project, trace_id__in=ids, total_cost__isnull=False)
        .values("trace_id")
        .annotate(total=Sum("total_cost"))
        .values_list("trace_id", "total")
    )
    return {trace_id: total for trace_id, total in rows}


# --- observations -------------------------------------------------------------------------


def observation_list(
    *,
    project: Project,
    trace_id: str | None = None,
    name: str | None = None,
    type: str | None = None,
    user_id: str | None = None,
    session_id: str | None = None,
    parent_observation_id: str | None = None,
    level: str | None = None,
    environments: Iterable[str] | None = None,
    version: str | None = None,
    from_start_time: datetime | None = None,
    to_start_time: datetime | None = None,
) -> QuerySet[Observation]:
    """Observations of `project`, narrowed by every filter given.

    `user_id` / `session_id` select observations of that user's / session's traces.
    `parent_observation_id=""` selects observations without a parent.
    """
    queryset = Observation.objects.filter(project=project)
    exact = {
        "trace_id": trace_id,
        "name": name,
        "type": type,
        "level": level,
        "version": version,
        "environment__in": list(environments) if environments else None,
        "start_time__gte": from_start_time,
        "start_time__lt": to_start_time,
    }
    queryset = queryset.filter(**{lookup: value for lookup, value in exact.items() if value is not None})
    if parent_observation_id is not None:
        if parent_observation_id == "":
            queryset = queryset.filter(parent_observation_id__isnull=True)
        else:
            queryset = queryset.filter(parent_observation_id=parent_observation_id)
    trace_filter = {"user_id": user_id, "session_id": session_id}
    trace_filter = {key: value for key, value in trace_filter.items() if value is not None}
    if trace_filter:
        traces = Trace.objects.filter(project=project, **trace_filter).values("trace_id")
        queryset = queryset.filter(trace_id__in=traces)
    return queryset


def observation_get(*, project: Project, observation_id: str) -> Observation | None:
    return Observation.objects.filter(project=project, observation_id=observation_id).first()


def observations_for_traces(*, project: Project, trace_ids: Iterable[str]) -> dict[str, list[Observation]]:
    """{trace id: its observations by start time}, in one query; traces without any are absent."""
    grouped: dict[str, list[Observation]] = defaultdict(list)
    queryset = Observation.objects.filter(project=project, trace_id__in=list(trace_ids)).order_by(
        "trace_id", "start_time", "observation_id"
    )
    for observation in queryset:
        grouped[observation.trace_id].append(observation)
    return dict(grouped)


def trace_context(*, project: Project, trace_ids: Iterable[str]) -> dict[str, dict]:
    """{trace id: name, user_id, session_id, tags, release, public, bookmarked, root} in one query."""
    rows = Trace.objects.filter(project=project, trace_id__in=set(trace_ids)).values(
        "trace_id", "name", "user_id", "session_id", "tags", "release", "public", "bookmarked",
        "root_observation_id",
    )
    return {row["trace_id"]: row for row in rows}


# --- sessions -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Session:
    """A session is the set of traces that share a session id; it has no row of its own."""

    id: str
    created_at: datetime
    environment: str
    project_id: str


def session_list(
    *,
    project: Project,
    from_timestamp: datetime | None = None,
    to_timestamp: datetime | None = None,
    environments: Iterable[str] | None = None,
) -> QuerySet:
    """Sessions of `project` as rows {session_id, created_at, environment}, newest first.

    A session's time is its first trace's; the time filters apply to it.
    """
    queryset = Trace.objects.filter(project=project, session_id__isnull=False)
    if environments:
        queryset = queryset.filter(environment__in=list(environments))
    queryset = queryset.values("session_id").annotate(created_at=Min("timestamp"), environment=Min("environment"))
    if from_timestamp is not None:
        queryset = queryset.filter(created_at__gte=from_timestamp)
    if to_timestamp is not None:
        queryset = queryset.filter(created_at__lt=to_timestamp)
    return queryset.order_by("-created_at", "-session_id")


def session_get(*, project: Project, session_id: str) -> tuple[Session, list[Trace]] | None:
    """The session and its traces (oldest first), or None when no trace has that session id."""
    traces = list(Trace.objects.filter(project=project, session_id=session_id).order_by("timestamp", "trace_id"))
    if not traces:
        return None
    session = Session(
        id=session_id,
        created_at=traces[0].timestamp,
        environment=min(trace.environment for trace in traces),
        project_id=project.pk,
    )
    return session, traces


# --- daily metrics ------------------------------------------------------------------------


@dataclass
class ModelUsage:
    model: str | None
    input_usage: int = 0
    output_usage: int = 0
    total_usage: int = 0
    count_observations: int = 0
    count_traces: int = 0
    total_cost: float = 0.0


@dataclass
class DailyMetrics:
    date: date
    count_traces: int = 0
    count_observations: int = 0
    total_cost: float = 0.0
    usage: list[ModelUsage] = field(default_factory=list)


def daily_metrics(
    *,
    project: Project,
    trace_name: str | None = None,
    user_id: str | None = None,
    tags: Iterable[str] | None = None,
    from_timestamp: datetime | None = None,
    to_timestamp: datetime | None = None,
    environments: Iterable[str] | None = None,
) -> list[DailyMetrics]:
    """Per UTC day, newest first: the selected traces (by their timestamp's day) and their
    observations (by the day each started) with cost and usage per model. Two grouped queries."""
    traces = trace_list(
        project=project,
        name=trace_name,
        user_id=user_id,
        tags=tags,
        from_timestamp=from_timestamp,
        to_timestamp=to_timestamp,
        environments=environments,
    ).order_by()
    per_day = {
        row["day"]: DailyMetrics(date=row["day"], count_traces=row["count"])
        for row in traces.annotate(day=TruncDate("timestamp")).values("day").annotate(count=Count("id"))
    }
    # Observations of the selected traces, by the day each started.
    grouped = (
        Observation.objects.filter(project=project, trace_id__in=traces.values("trace_id"))
        .annotate(day=TruncDate("start_time"))
        .values("day", "model")
        .annotate(
            count=Count("id"),
            traces=Count("trace_id", distinct=True),
            input_usage=Sum("input_tokens"),
            output_usage=Sum("output_tokens"),
            total_usage=Sum("total_tokens"),
            cost=Sum("total_cost"),
        )
        .order_by()
    )
    for row in grouped:
        day = per_day.setdefault(row["day"], DailyMetrics(date=row["day"]))
        cost = float(row["cost"] or 0)
        day.count_observations += row["count"]
        day.total_cost += cost
        day.usage.append(
            ModelUsage(
                model=row["model"],
                input_usage=row["input_usage"] or 0,
                output_usage=row["output_usage"] or 0,
                total_usage=row["total_usage"] or 0,
                count_observations=row["count"],
                count_traces=row["traces"],
                total_cost=cost,
            )
        )
    for day in per_day.values():
        day.usage.sort(key=lambda usage: (usage.model is None, usage.model or ""))
    return sorted(per_day.values(), key=lambda day: day.date, reverse=True)

