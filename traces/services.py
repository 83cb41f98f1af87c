"""Writes of traces and observations: span ingestion (OTLP and the legacy batch) and deletion.

Ingestion is the hot path. A request's spans are turned into trace and observation rows, merged
by id in Python (traces/merge.py), and written with one set-based upsert per table that merges
with the stored rows in SQL (traces/upsert.py), all in one transaction: a 2xx means everything
the request carried is stored. traces/INGESTION.md describes the merge rules.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction
from django.utils import timezone

from evalsite.llm.prices import model_prices_for_pricing
from evalsite.tenancy.actors import SYSTEM, Actor
from evalsite.tenancy.models import Project
from evalsite.tenancy.services import audit_log_record
from experiments.services import experiment_items_record_from_spans
from scoring.services import scores_delete_for_traces, scores_ingest
from traces import merge
from traces.legacy import EventError, parse_event
from traces.models import Observation, Trace
from traces.otlp import MappedSpan
from traces.upsert import Upserter


@dataclass(frozen=True)
class IngestResult:
    """What a request stored: the ids online evaluation would be handed after the commit."""

    trace_ids: list[str]
    observation_ids: list[str]


@dataclass
class BatchEventResult:
    """Per-event outcome of a legacy batch, in the wire shape of its 207 answer."""

    successes: list[dict[str, Any]] = field(default_factory=list)
    errors: list[dict[str, Any]] = field(default_factory=list)


@transaction.atomic
def spans_ingest(*, project: Project, spans: Sequence[MappedSpan]) -> IngestResult:
    """Upsert the traces and observations of mapped OTLP spans (traces.otlp.map_span).

    Experiment item root spans (reference §5) also record their experiment run item, in the
    same transaction.
    """
    batch = merge.Batch()
    experiment_records = []
    for span in spans:
        batch.add_observation(merge.observation_contribution(span.observation))
        batch.add_trace(merge.trace_contribution_from_span(span))
        experiment = span.experiment
        if experiment is not None and experiment.get("is_item_root"):
            observation = span.observation
            experiment_records.append(
                {
                    **experiment,
                    "trace_id": observation["trace_id"],
                    "observation_id": observation["id"],
                    "start_time": observation["start_time"],
                    "end_time": observation["end_time"],
                    "input": observation["input"],
                    "output": observation["output"],
                    "environment": observation["environment"],
                    "level": observation["level"],
                    "status_message": observation["status_message"],
                }
            )
    result = _batch_write(project=project, batch=batch)
    if experiment_records:
        experiment_items_record_from_spans(project=project, records=experiment_records)
    return result


@transaction.atomic
def ingestion_batch_ingest(*, project: Project, events: list, actor: Actor = SYSTEM) -> BatchEventResult:
    """The legacy batch: every valid event is stored, every invalid one reported, in one transaction.

    Trace and observation events go through the same upsert as OTLP spans; score-create events
    through scoring's ingestion (so score configs validate them); sdk-log events are accepted.
    """
    now = timezone.now()
    result = BatchEventResult()
    batch = merge.Batch()
    scores: list[tuple[str, dict]] = []
    stored_ids: list[str] = []
    for event in events:
        try:
            parsed = parse_event(event, now=now)
        except EventError as error:
            event_id = event.get("id") if isinstance(event, dict) and isinstance(event.get("id"), str) else ""
            result.errors.append(_event_error(event_id, str(error)))
            continue
        if parsed.kind == "score":
            scores.append((parsed.event_id, parsed.score))
            continue
        if parsed.observation is not None:
            batch.add_observation(parsed.observation)
        for trace in parsed.traces:
            batch.add_trace(trace)
        stored_ids.append(parsed.event_id)
    if batch:
        _batch_write(project=project, batch=batch)
    result.successes.extend({"id": event_id, "status": 201} for event_id in stored_ids)
    if scores:
        outcome = scores_ingest(project=project, items=[body for _, body in scores], actor=actor)
        failed = {}
        for index, message in outcome.errors:
            failed.setdefault(index, []).append(message)
        for index, (event_id, _) in enumerate(scores):
            if index in failed:
                result.errors.append(_event_error(event_id, "; ".join(failed[index])))
            else:
                result.successes.append({"id": event_id, "status": 201})
    return result


def _event_error(event_id: str, message: str) -> dict[str, Any]:
    return {"id": event_id, "status": 400, "message": message, "error": "InvalidRequestError"}


def _batch_write(*, project: Project, batch: merge.Batch) -> IngestResult:
    observations = list(batch.observations.values())
    if any(merge.needs_price(row) for row in observations):
        prices = model_prices_for_pricing(project=project)
        for row in observations:
            if merge.needs_price(row):
                merge.apply_model_price(row, prices)
    observation_rows = [_observation_row(row) for row in observations]
    trace_rows = [_trace_row(row) for row in batch.traces.values()]
    Upserter().write(project.pk, trace_rows, observation_rows)
    # Online evaluation takes these ids after the commit once evaluator rules exist; until then
    # nothing consumes them, and nothing is enqueued.
    return IngestResult(
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
    """Delete traces of `project` with their observations and scores; the number of traces deleted."""
    trace_ids = sorted(set(trace_ids))
    traces = list(Trace.objects.filter(project=project, trace_id__in=trace_ids).values_list("trace_id", flat=True))
    Observation.objects.filter(project=project, trace_id__in=trace_ids).delete()
    scores_delete_for_traces(project=project, trace_ids=trace_ids)
    deleted, _ = Trace.objects.filter(project=project, trace_id__in=trace_ids).delete()
    if traces:
        audit_log_record(
            actor=actor, action="trace.delete", obj=project, organization=project.organization, project=project,
            trace_ids=traces,
        )
    return deleted
