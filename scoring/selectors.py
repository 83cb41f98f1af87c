"""Reads of scores and score configs. Every function takes the project: nothing here is unscoped."""

from collections.abc import Iterable
from datetime import datetime

from django.db.models import F, QuerySet

from evalsite.tenancy.models import Project
from scoring import hooks
from scoring.models import Score, ScoreConfig
from traces.models import Trace

# Score values compared by `score_list(value_operator=…)`.
VALUE_OPERATORS = {"=": "exact", "!=": None, "<": "lt", "<=": "lte", ">": "gt", ">=": "gte"}


def score_list(
    *,
    project: Project,
    score_ids: Iterable[str] | None = None,
    name: str | None = None,
    source: str | None = None,
    data_type: str | None = None,
    config_id: str | None = None,
    queue_id: str | None = None,
    author_user_id: int | None = None,
    environments: Iterable[str] | None = None,
    trace_id: str | None = None,
    observation_id: str | None = None,
    session_id: str | None = None,
    dataset_run_id: str | None = None,
    user_id: str | None = None,
    from_timestamp: datetime | None = None,
    to_timestamp: datetime | None = None,
    value_operator: str | None = None,
    value: float | None = None,
    value_min: float | None = None,
    value_max: float | None = None,
    string_value: str | None = None,
) -> QuerySet[Score]:
    """Scores of `project`, newest first (ties by row id), narrowed by every filter given.

    `from_timestamp` is inclusive and `to_timestamp` exclusive. `user_id` selects scores of that
    user's traces. `value_operator` (=, !=, <, <=, >, >=) compares the numeric value with `value`.
    """
    queryset = Score.objects.filter(project=project)
    exact = {
        "score_id__in": list(score_ids) if score_ids is not None else None,
        "name": name,
        "source": source,
        "data_type": data_type,
        "config_id": config_id,
        "queue_id": queue_id,
        "author_user_id": author_user_id,
        "environment__in": list(environments) if environments else None,
        "trace_id": trace_id,
        "observation_id": observation_id,
        "session_id": session_id,
        "dataset_run_id": dataset_run_id,
        "timestamp__gte": from_timestamp,
        "timestamp__lt": to_timestamp,
        "value__gte": value_min,
        "value__lte": value_max,
        "string_value": string_value,
    }
    queryset = queryset.filter(**{lookup: v for lookup, v in exact.items() if v is not None})
    if user_id is not None:
        user_traces = Trace.objects.filter(project=project, user_id=user_id).values("trace_id")
        queryset = queryset.filter(trace_id__in=user_traces)
    if value_operator is not None and value is not None:
        lookup = VALUE_OPERATORS[value_operator]
        if lookup is None:
            # As in SQL, a score without a numeric value matches no comparison, "!=" included.
            queryset = queryset.filter(value__isnull=False).exclude(value=value)
        else:
            queryset = queryset.filter(**{f"value__{lookup}": value})
    return queryset.order_by("-timestamp", "-id")


def score_get(*, project: Project, score_id: str) -> Score | None:
    return Score.objects.filter(project=project, score_id=score_id).first()


def scores_readable_by_key(*, project: Project, role, scores: QuerySet[Score]) -> QuerySet[Score]:
    """`scores` less what an API key of `role` may not read (`hooks.score_api_filters`: blind
    annotation, registered by annotations). Every API route that returns scores reads through it."""
    for narrow in hooks.score_api_filters:
        scores = narrow(project=project, role=role, scores=scores)
    return scores


def score_list_for_traces(*, project: Project, trace_ids: Iterable[str], narrow=None) -> list[Score]:
    """Every score on these traces or their observations, newest first; `narrow(queryset)`, when
    given, filters them further (what an API key may read)."""
    scores = Score.objects.filter(project=project, trace_id__in=list(trace_ids))
    if narrow is not None:
        scores = narrow(scores)
    return list(scores.order_by("-timestamp", "-id"))


def score_values_for_traces(*, project: Project, trace_ids) -> list:
    """The scores on these traces as light rows (trace_id, name, data_type, value, string_value,
    source, pairwise), newest first.

    For pages that read thousands (the run comparison): no model instances, and `trace_ids` may be
    a queryset of trace ids, which the database then reads as a subquery instead of a long IN list.
    `pairwise` is the metadata's `pairwise` object of a preference score (experiments/preferences.py),
    null for every other score: only that key is read, never the whole metadata.
    """
    ids = trace_ids if isinstance(trace_ids, QuerySet) else list(trace_ids)
    return list(
        Score.objects.filter(project=project, trace_id__in=ids)
        .annotate(pairwise=F("metadata__pairwise"))
        .order_by("-timestamp", "-id")
        .values_list("trace_id", "name", "data_type", "value", "string_value", "source", "pairwise", named=True)
    )


def score_list_for_runs(*, project: Project, run_ids: Iterable[str]) -> list[Score]:
    """Run-level scores (`dataset_run_id` in `run_ids`), newest first."""
    return list(
        Score.objects.filter(project=project, dataset_run_id__in=list(run_ids)).order_by("-timestamp", "-id")
    )


def score_trace_summaries(*, project: Project, trace_ids: Iterable[str]) -> dict[str, dict]:
    """{trace id: {user_id, tags, environment}} for the traces that exist, in one query."""
    rows = Trace.objects.filter(project=project, trace_id__in=set(trace_ids)).values(
        "trace_id", "user_id", "tags", "environment"
    )
    return {row["trace_id"]: row for row in rows}


def score_config_list(*, project: Project, include_archived: bool = False) -> QuerySet[ScoreConfig]:
    """The project's score configs by name (archived ones only when asked)."""
    queryset = ScoreConfig.objects.filter(project=project)
    if not include_archived:
        queryset = queryset.filter(is_archived=False)
    return queryset.order_by("name", "id")


def score_config_get(*, project: Project, config_id: str) -> ScoreConfig | None:
    return ScoreConfig.objects.filter(project=project, id=config_id).first()
