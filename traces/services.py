"""Writes of traces and observations: the typed upsert every writer goes through, and deletion.

`traces_upsert` is the hot path of ingestion (ingestion/services.py) and of the platform runner
(experiments/runner.py). Contributions are merged by id in Python (traces/merge.py) and written
with one set-based upsert per table that merges with the stored rows in SQL (traces/upsert.py),
in the caller's transaction. traces/INGESTION.md describes the merge rules.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.db import transaction

from evalsite.llm.prices import model_prices_for_pricing
from evalsite.tenancy.actors import SYSTEM, Actor
from evalsite.tenancy.models import Project
from evalsite.tenancy.services import audit_log_record
from traces import hooks, merge
from traces.models import Observation, Trace
from traces.upsert import Upserter


@dataclass(frozen=True)
class UpsertResult:
    """The ids of the traces and observations written."""

    trace_ids: list[str]
    observation_ids: list[str]


# No savepoint: callers (one ingestion request, one runner flush) already hold the transaction,
# and a savepoint would add two statements to the hot path for nothing to roll back to.
@transaction.atomic(savepoint=False)
def traces_upsert(*, project: Project, batch: merge.Batch) -> UpsertResult:
    """Merge a batch of trace and observation contributions (traces/merge.py) into `project`'s rows.

    Priced calls without a cost get one from the project's model prices, text is fitted to its
    column, and every row is upserted with the merge rules of traces/INGESTION.md: the same
    contributions in any order, split over any number of calls, end in the same rows.
    """
    observations = list(batch.observations.values())
    if any(merge.needs_price(row) for row in observations):
        prices = model_prices_for_pricing(project=project)
        for row in observations:
            if merge.needs_price(row):
                merge.apply_model_price(row, prices)
    observation_rows = [_observation_row(row) for row in observations]
    trace_rows = [_trace_row(row) for row in batch.traces.values()]
    Upserter().write(project.pk, trace_rows, observation_rows)
    return UpsertResult(
        trace_ids=[row["trace_id"] for row in trace_rows],
        observation_ids=[row["observation_id"] for row in observation_rows],
    )


def _observation_row(row: dict[str, Any]) -> dict[str, Any]:
    """The merged contribution with its derived columns, fitted to the columns' limits."""
    for key, limit in merge.OBSERVATION_TEXT_LIMITS.items():
        row[key] = merge.clean_text(row[key], limit)
    row["status_message"] = merge.clean_text(row["status_message"])
    row["prompt_version"] = merge.clean_positive_int(row["prompt_version"])
    row["input_tokens"], row["output_tokens"], row["total_tokens"] = merge.usage_totals(row["usage_details"])
    row["total_cost"] = merge.cost_total(row["cost_details"])
    return row


def _trace_row(row: dict[str, Any]) -> dict[str, Any]:
    for key, limit in merge.TRACE_TEXT_LIMITS.items():
        row[key] = merge.clean_text(row[key], limit)
    row["tags"] = [merge.clean_text(tag) for tag in row["tags"]]
    return row


@transaction.atomic
def traces_delete(*, project: Project, trace_ids: Iterable[str], actor: Actor = SYSTEM) -> int:
    """Delete traces of `project` with their observations, and with what the apps above keep
    by trace id (their `trace_delete_hooks`: scores); the number of traces deleted."""
    trace_ids = sorted(set(trace_ids))
    traces = list(Trace.objects.filter(project=project, trace_id__in=trace_ids).values_list("trace_id", flat=True))
    Observation.objects.filter(project=project, trace_id__in=trace_ids).delete()
    for hook in hooks.trace_delete_hooks:
        hook(project=project, trace_ids=trace_ids)
    deleted, _ = Trace.objects.filter(project=project, trace_id__in=trace_ids).delete()
    if traces:
        audit_log_record(
            actor=actor, action="trace.delete", obj=project, organization=project.organization, project=project,
            trace_ids=traces,
        )
    return deleted
