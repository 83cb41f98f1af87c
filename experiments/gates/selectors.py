"""Reads of gate policies, gate results and released runs. Every function takes the project."""

from __future__ import annotations

from collections.abc import Iterable

from django.db.models import Max, OuterRef, QuerySet, Subquery

from experiments.gates.models import GatePolicy, GateResult, RunRelease
from experiments.models import ExperimentRun

RESULTS_SCANNED = 500


def gate_policy_list(*, project) -> QuerySet[GatePolicy]:
    """The current (highest) version of each of the project's policies, by name."""
    latest = (
        GatePolicy.objects.filter(project=project, name=OuterRef("name"))
        .order_by()
        .values("name")
        .annotate(top=Max("version"))
        .values("top")
    )
    return GatePolicy.objects.filter(project=project, version=Subquery(latest)).order_by("name")


def gate_policy_get(*, project, name: str, version: int | None = None) -> GatePolicy | None:
    """A policy by name: the given version, else the current one."""
    policies = GatePolicy.objects.filter(project=project, name=name)
    if version is not None:
        return policies.filter(version=version).first()
    return policies.order_by("-version").first()


def gate_policy_versions(*, project, name: str) -> QuerySet[GatePolicy]:
    return GatePolicy.objects.filter(project=project, name=name).order_by("-version")


def gate_run_find(*, project, ref: str) -> ExperimentRun | None:
    """A run named by its id, else by its name (the newest run of that name: names may repeat)."""
    runs = ExperimentRun.objects.filter(project=project).select_related("dataset")
    return runs.filter(run_id=ref).first() or runs.filter(name=ref).order_by("-created_at", "-pk").first()


def run_release_latest(*, project, dataset_id: str, exclude: ExperimentRun | None = None) -> ExperimentRun | None:
    """The run of this dataset most recently marked as released (the candidate itself left out)."""
    releases = RunRelease.objects.filter(project=project, run__dataset_id=dataset_id).select_related("run__dataset")
    if exclude is not None:
        releases = releases.exclude(run=exclude)
    release = releases.order_by("-released_at", "-pk").first()
    return release.run if release else None


def run_release_get(*, project, run: ExperimentRun) -> RunRelease | None:
    return RunRelease.objects.filter(project=project, run=run).first()


def gate_result_list_for_runs(*, project, runs: Iterable[ExperimentRun]) -> list[GateResult]:
    """The latest result of each policy on each of these runs, newest first; one query.

    Reads at most `RESULTS_SCANNED` of the runs' newest results: a run evaluated by CI on every push
    may hold thousands, and the latest of each gate is among the newest.
    """
    seen: set[tuple[int, str]] = set()
    latest = []
    results = GateResult.objects.filter(project=project, run__in=list(runs)).select_related("baseline")
    for result in results.order_by("-created_at", "-pk")[:RESULTS_SCANNED]:
        key = (result.run_id, result.policy_name)
        if key not in seen:
            seen.add(key)
            latest.append(result)
    return latest


def gate_result_list(*, project, run: ExperimentRun) -> QuerySet[GateResult]:
    return GateResult.objects.filter(project=project, run=run).select_related("baseline").order_by("-created_at", "-pk")
