"""Ingestion: what one OTLP export or legacy batch stores, in one transaction, and who hears of it.

A request's spans or events become trace and observation contributions (traces/merge.py), written
by `traces.services.traces_upsert`; scores of a legacy batch go through
`scoring.services.scores_ingest`; experiment item root spans record their run items through
`experiments.services.experiment_items_record_from_spans`. All of it commits together: a 2xx means
everything the request carried is stored. After the commit the new ids go to `after_ingest`
(ingestion/hooks.py). ingestion/README.md describes the request path, traces/INGESTION.md the
merge rules.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import partial
from itertools import islice
from typing import Any

from django.db import transaction
from django.utils import timezone

from evalsite.tenancy.actors import SYSTEM, Actor
from evalsite.tenancy.models import Project
from experiments.services import experiment_items_record_from_spans
from ingestion import hooks
from ingestion.legacy import EventError, parse_event
from ingestion.otlp import MappedSpan
from scoring.services import scores_ingest
from traces import merge
from traces.services import traces_upsert

logger = logging.getLogger(__name__)

# Spans merged and written per traces_upsert call: what a request holds in memory at once, whatever
# its size (ingestion/README.md, "Bounded memory and time").
SPANS_PER_WRITE = 2_000


@dataclass(frozen=True)
class IngestResult:
    """What a request stored: the ids handed to `after_ingest` after the commit."""

    trace_ids: list[str]
    observation_ids: list[str]


@dataclass
class BatchEventResult:
    """Per-event outcome of a legacy batch, in the wire shape of its 207 answer."""

    successes: list[dict[str, Any]] = field(default_factory=list)
    errors: list[dict[str, Any]] = field(default_factory=list)


@transaction.atomic
def spans_ingest(*, project: Project, spans: Iterable[MappedSpan]) -> IngestResult:
    """Upsert the traces and observations of mapped OTLP spans (ingestion.otlp.map_span).

    Spans are merged and written SPANS_PER_WRITE at a time, all in this one transaction: each
    write merges with the rows of the writes before it (the merge rules do not depend on how
    spans are split), and a lazy iterable is consumed as it goes, so memory follows the chunk,
    not the request. Pass many spans grouped by trace id in ascending order (as
    `ExportRequest.by_trace` yields them): rows are then locked in one order across the writes.

    Experiment item root spans (reference §5) also record their experiment run item, in the
    same transaction, after every span is written.
    """
    trace_ids: dict[str, None] = {}
    observation_ids: list[str] = []
    experiment_records = []
    spans = iter(spans)
    while chunk := list(islice(spans, SPANS_PER_WRITE)):
        batch = merge.Batch()
        for span in chunk:
            batch.add_observation(merge.observation_contribution(span.observation))
            batch.add_trace(trace_contribution_from_span(span))
            experiment = span.experiment
            if experiment is not None and experiment.get("is_item_root"):
                experiment_records.append(_experiment_record(experiment, span.observation))
        del chunk
        written = traces_upsert(project=project, batch=batch)
        trace_ids.update(dict.fromkeys(written.trace_ids))
        observation_ids += written.observation_ids
    result = IngestResult(trace_ids=list(trace_ids), observation_ids=observation_ids)
    if experiment_records:
        experiment_items_record_from_spans(project=project, records=experiment_records)
    _after_commit(project=project, result=result)
    return result


def _experiment_record(experiment: dict[str, Any], observation: dict[str, Any]) -> dict[str, Any]:
    return {
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
            result.errors.append(_event_error(_event_id(event), str(error)))
            continue
        except Exception:
            # A bug in parsing one event must not fail the others (the SDK would retry the whole
            # batch forever): it is logged and reported for that event alone, as a 500.
            logger.exception("legacy ingestion: event %r could not be parsed", _event_id(event))
            result.errors.append({"id": _event_id(event), "status": 500, "message": "Internal error", "error": "InternalServerError"})
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
        written = traces_upsert(project=project, batch=batch)
        _after_commit(
            project=project, result=IngestResult(trace_ids=written.trace_ids, observation_ids=written.observation_ids)
        )
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


def trace_contribution_from_span(span: MappedSpan) -> dict[str, Any]:
    """The trace row one mapped span contributes (traces/merge.py's `trace_contribution`)."""
    observation, trace, is_root = span.observation, span.trace, span.is_root
    # A root span contributes its own name and input/output as the trace's; those are derived
    # values that an explicit langfuse.trace.* attribute on any span overrides.
    return merge.trace_contribution(
        trace_id=observation["trace_id"],
        timestamp=trace.get("timestamp") or observation["start_time"],
        root_observation_id=observation["id"] if is_root else None,
        name=trace.get("name"),
        name_explicit=not (is_root and trace.get("name") == observation["name"]),
        input=trace.get("input"),
        input_explicit=not (is_root and trace.get("input") == observation["input"]),
        output=trace.get("output"),
        output_explicit=not (is_root and trace.get("output") == observation["output"]),
        user_id=trace.get("user_id"),
        session_id=trace.get("session_id"),
        release=trace.get("release"),
        version=trace.get("version"),
        environment=trace.get("environment"),
        tags=trace.get("tags"),
        metadata=trace.get("metadata"),
        public=trace.get("public"),
    )


def _event_id(event: Any) -> str:
    return event["id"] if isinstance(event, dict) and isinstance(event.get("id"), str) else ""


def _event_error(event_id: str, message: str) -> dict[str, Any]:
    return {"id": event_id, "status": 400, "message": message, "error": "InvalidRequestError"}


def _after_commit(*, project: Project, result: IngestResult) -> None:
    """Hand what a request stored to `after_ingest`, once the request's transaction commits."""
    for hook in hooks.after_ingest:
        transaction.on_commit(partial(hook, project=project, result=result))
