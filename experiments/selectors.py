"""Reads of experiment runs and run items. Every function takes the project and filters by it."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from django.db.models import Count, DateTimeField, Max, QuerySet
from django.db.models.functions import Coalesce

from datasets.models import Dataset
from evalsite.tenancy.models import Project
from experiments.models import ExperimentRun, RunItem


def experiment_run_get(*, project: Project, run_id: str) -> ExperimentRun | None:
    """A run by its external id (the SDK's experiment id)."""
    return ExperimentRun.objects.filter(project=project, run_id=run_id).select_related("dataset").first()


def experiment_run_list_by_ids(*, project: Project, run_ids: Iterable[str]) -> dict[str, ExperimentRun]:
    """{run_id: run} for the ids that exist in the project; one query."""
    runs = ExperimentRun.objects.filter(project=project, run_id__in=list(run_ids)).select_related("dataset")
    return {run.run_id: run for run in runs}


def experiment_run_list(*, project: Project) -> QuerySet[ExperimentRun]:
    """The project's runs with their item count and `activity_at`: when the run last saw an item."""
    return (
        ExperimentRun.objects.filter(project=project)
        .select_related("dataset")
        .annotate(
            item_count=Count("items"),
            activity_at=Coalesce("finished_at", "started_at", "created_at", output_field=DateTimeField()),
        )
    )


def experiment_run_list_for_dataset(*, project: Project, dataset: Dataset) -> QuerySet[ExperimentRun]:
    return ExperimentRun.objects.filter(project=project, dataset=dataset).select_related("dataset").order_by(
        "-created_at", "-pk"
    )


def experiment_run_list_by_name(*, project: Project, dataset: Dataset, name: str) -> QuerySet[ExperimentRun]:
    """Runs of a dataset with this name, newest first (names are not unique: explicit SDK ids may repeat one)."""
    return experiment_run_list_for_dataset(project=project, dataset=dataset).filter(name=name)


def experiment_run_siblings(*, project: Project, dataset_ids: Iterable[str], limit: int = 50) -> list[ExperimentRun]:
    """The latest runs on these datasets: what the comparison page offers to add."""
    return list(
        ExperimentRun.objects.filter(project=project, dataset_id__in=list(dataset_ids)).order_by("-created_at", "-pk")[
            :limit
        ]
    )


def run_item_list(*, project: Project) -> QuerySet[RunItem]:
    return RunItem.objects.filter(project=project).select_related("run", "dataset_item")


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
