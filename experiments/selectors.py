"""Reads of experiment runs and run items. Every function takes the project and filters by it.

Structured filters (`conditions`) are `(model field, operator, value)` triples, the operators those
of the Langfuse API's `filter` parameter: "=", "!=", "any of", "none of", "contains", "starts with".
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from django.db.models import Count, DateTimeField, Max, QuerySet
from django.db.models.functions import Coalesce

from datasets import selectors as dataset_selectors
from datasets.models import Dataset
from evalsite.tenancy.models import Project
from experiments.models import ExperimentRun, RunItem

Condition = tuple[str, str, Any]


def _apply_conditions(queryset: QuerySet, conditions: Iterable[Condition]) -> QuerySet:
    for field, operator, value in conditions:
        if operator == "=":
            queryset = queryset.filter(**{field: value})
        elif operator == "!=":
            queryset = queryset.exclude(**{field: value})
        elif operator == "any of":
            queryset = queryset.filter(**{f"{field}__in": value})
        elif operator == "none of":
            queryset = queryset.exclude(**{f"{field}__in": value})
        elif operator == "contains":
            queryset = queryset.filter(**{f"{field}__contains": value})
        else:  # "starts with"
            queryset = queryset.filter(**{f"{field}__startswith": value})
    return queryset


def _filter_in(queryset: QuerySet, values_by_field: dict[str, Sequence[str] | None]) -> QuerySet:
    """`field__in=values` for every field given a non-empty list (an empty or None list filters nothing)."""
    for field, values in values_by_field.items():
        if values:
            queryset = queryset.filter(**{f"{field}__in": list(values)})
    return queryset


def experiment_run_list_by_ids(*, project: Project, run_ids: Iterable[str]) -> dict[str, ExperimentRun]:
    """{run_id: run} for the ids that exist in the project; one query."""
    runs = ExperimentRun.objects.filter(project=project, run_id__in=list(run_ids)).select_related("dataset")
    return {run.run_id: run for run in runs}


def experiment_run_list(
    *,
    project: Project,
    active_since: datetime | None = None,
    started_before: datetime | None = None,
    run_ids: Sequence[str] | None = None,
    names: Sequence[str] | None = None,
    dataset_ids: Sequence[str] | None = None,
    conditions: Iterable[Condition] = (),
) -> QuerySet[ExperimentRun]:
    """The project's runs with their item count, `activity_at` (when the run last saw an item) and
    `start_at` (its start, else its creation).

    `active_since` keeps runs active at or after that moment, `started_before` runs that started
    before it; the id, name and dataset lists keep runs matching any of their values.
    """
    runs = (
        ExperimentRun.objects.filter(project=project)
        .select_related("dataset")
        .annotate(
            item_count=Count("items"),
            activity_at=Coalesce("finished_at", "started_at", "created_at", output_field=DateTimeField()),
            start_at=Coalesce("started_at", "created_at", output_field=DateTimeField()),
        )
    )
    if active_since is not None:
        runs = runs.filter(activity_at__gte=active_since)
    if started_before is not None:
        runs = runs.filter(start_at__lt=started_before)
    runs = _filter_in(runs, {"run_id": run_ids, "name": names, "dataset_id": dataset_ids})
    return _apply_conditions(runs, conditions)


def experiment_run_list_recent(*, project: Project) -> QuerySet[ExperimentRun]:
    """The project's runs with their dataset, newest first."""
    return ExperimentRun.objects.filter(project=project).select_related("dataset").order_by("-created_at", "-pk")


def experiment_run_list_for_dataset(*, project: Project, dataset: Dataset) -> QuerySet[ExperimentRun]:
    return ExperimentRun.objects.filter(project=project, dataset=dataset).select_related("dataset").order_by(
        "-created_at", "-pk"
    )


def experiment_run_list_by_name(*, project: Project, dataset: Dataset, name: str) -> QuerySet[ExperimentRun]:
    """Runs of a dataset with this name, newest first (names are not unique: explicit SDK ids may repeat one)."""
    return experiment_run_list_for_dataset(project=project, dataset=dataset).filter(name=name)


def experiment_run_list_by_path(*, project: Project, dataset_name: str, run_name: str) -> QuerySet[ExperimentRun] | None:
    """The runs that a legacy `datasets/{dataset}/runs/{run}` URL names; None when no dataset matches.

    Both names may contain '/', so "<a>/runs/<b>" can be split more than one way; the split whose
    dataset exists wins (the longest dataset name on a tie).
    """
    parts = f"{dataset_name}/runs/{run_name}".split("/runs/")
    splits = [("/runs/".join(parts[:i]), "/runs/".join(parts[i:])) for i in range(1, len(parts))]
    existing = dataset_selectors.dataset_names_existing(project=project, names=[name for name, _ in splits])
    for name, run in sorted(splits, key=lambda split: len(split[0]), reverse=True):
        if name in existing:
            return experiment_run_list_recent(project=project).filter(dataset__name=name, name=run)
    return None


def experiment_run_siblings(*, project: Project, dataset_ids: Iterable[str], limit: int = 50) -> list[ExperimentRun]:
    """The latest runs on these datasets: what the comparison page offers to add."""
    return list(
        ExperimentRun.objects.filter(project=project, dataset_id__in=list(dataset_ids)).order_by("-created_at", "-pk")[
            :limit
        ]
    )


def run_item_list(
    *,
    project: Project,
    started_since: datetime | None = None,
    started_before: datetime | None = None,
    run_ids: Sequence[str] | None = None,
    run_names: Sequence[str] | None = None,
    item_keys: Sequence[str] | None = None,
    dataset_ids: Sequence[str] | None = None,
    conditions: Iterable[Condition] = (),
) -> QuerySet[RunItem]:
    """The project's run items with their run and dataset item, and `start_at` (their start, else
    their creation), which `started_since` (inclusive) and `started_before` (exclusive) bound."""
    items = (
        RunItem.objects.filter(project=project)
        .select_related("run", "dataset_item")
        .annotate(start_at=Coalesce("started_at", "created_at", output_field=DateTimeField()))
    )
    if started_since is not None:
        items = items.filter(start_at__gte=started_since)
    if started_before is not None:
        items = items.filter(start_at__lt=started_before)
    items = _filter_in(
        items,
        {"run__run_id": run_ids, "run__name": run_names, "item_key": item_keys, "run__dataset_id": dataset_ids},
    )
    return _apply_conditions(items, conditions)


def run_item_list_for_dataset_run(*, project: Project, dataset_id: str, run_name: str) -> QuerySet[RunItem]:
    """The items of a dataset's runs of that name, oldest first (the legacy `GET /dataset-run-items`)."""
    return (
        RunItem.objects.filter(project=project, run__dataset_id=dataset_id, run__name=run_name)
        .select_related("run")
        .order_by("created_at", "pk")
    )


def run_item_list_for_run(*, project: Project, run: ExperimentRun) -> QuerySet[RunItem]:
    return (
        RunItem.objects.filter(project=project, run=run)
        .select_related("run", "run__dataset", "dataset_item")
        .order_by("created_at", "pk")
    )


def run_item_rows_for_runs(*, project: Project, runs: Iterable[ExperimentRun]) -> list[dict]:
    """Every item of these runs as plain dicts (no model instances: the comparison reads thousands)."""
    return list(
        RunItem.objects.filter(project=project, run__in=list(runs))
        .order_by()
        .values(
            "run_id",
            "item_key",
            "dataset_item_id",
            "dataset_item__input",
            "dataset_item__expected_output",
            "dataset_item__created_at",
            "input",
            "expected_output",
            "output",
            "trace_id",
            "latency_ms",
            "cost",
            "error",
            "started_at",
            "trial",
        )
    )


def run_item_trace_ids(*, project: Project, runs: Iterable[ExperimentRun]) -> QuerySet:
    """The trace ids of these runs' items, as a queryset other selectors can use as a subquery."""
    return RunItem.objects.filter(project=project, run__in=list(runs), trace_id__isnull=False).values_list(
        "trace_id", flat=True
    )


def run_item_latest_starts(*, project: Project, run_pks: Iterable[int]) -> dict[int, datetime | None]:
    """{run pk: start of its latest item}: decides whether a span's run attributes are the newest."""
    rows = (
        RunItem.objects.filter(project=project, run_id__in=list(run_pks))
        .order_by()
        .values("run_id")
        .annotate(latest=Max("started_at"))
    )
    return {row["run_id"]: row["latest"] for row in rows}


def experiment_run_names_by_dataset(*, project: Project, dataset_ids: Iterable[str]) -> dict[str, list[str]]:
    """{dataset id: its runs' names, oldest first}, in one query."""
    names: dict[str, list[str]] = {}
    runs = ExperimentRun.objects.filter(project=project, dataset_id__in=list(dataset_ids)).order_by("created_at", "pk")
    for dataset_id, name in runs.values_list("dataset_id", "name"):
        names.setdefault(dataset_id, []).append(name)
    return names


def run_item_trace_exists(*, project: Project, trace_id: str) -> bool:
    """Whether some run item of the project has this trace (what the comparison page may score)."""
    return bool(trace_id) and RunItem.objects.filter(project=project, trace_id=trace_id).exists()
