"""Writes of experiment runs and run items, and starting, cancelling and resuming platform runs.

Platform runs are executed by runner.py; this module creates them (`experiment_run_start`) and
cancels them (`experiment_run_cancel`). They are leased jobs (evalsite/jobs): the sweep that
re-enqueues abandoned ones is core's, for the kind experiments registers in its AppConfig.
Refusals are Django `ValidationError`s keyed by the refused argument's name (`run_name`,
`prompt_version`…) or a core `Conflict`; the API renames the keys to its own fields.

SDK runs arrive only as spans (reference §5): the traces ingestion hands every experiment item root
span (the `experiment-item-task` span) to `experiment_items_record_from_spans`, inside its own
transaction. Spans come in any order, in any batch, possibly twice; so the merge is defined by
the data, not by arrival:

- a run is upserted by (project, run id); each of its name, description, metadata, dataset and
  dataset version comes from the newest span (latest start time) that carries a value for it, so a
  null never erases a value;
- a run item is a trial of its dataset item, and a trial is its trace: spans of a trace the run
  already holds update that trial (the latest start time wins, ties broken by observation id, so
  re-sending a span changes nothing); a new trace for an item already in the run (an SDK run that
  repeats items, or a re-run with the same run name, which derives the same run id) is a new
  trial, numbered after the item's trials so far, oldest start first within a batch;
- `started_at` / `finished_at` of the run span its items (min start, max end).

The batch is handled with a fixed number of queries, whatever its size.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from datasets import selectors as dataset_selectors
from datasets.models import Dataset, DatasetItem
from datasets.selectors import dataset_find_by_name, dataset_items_for_run, dataset_latest_version
from evalsite.errors import Conflict
from evalsite.jobs import enqueue_after_commit, job_cancel
from evalsite.llm.client import RESERVED_PARAMETERS
from evalsite.llm.connections import llm_connection_get
from evalsite.llm.models import LlmConnection
from evalsite.tenancy.actors import SYSTEM, Actor
from evalsite.tenancy.models import Project
from evalsite.tenancy.services import audit_log_record
from experiments import hooks, selectors
from experiments.models import ExperimentRun, RunItem, RunSource, RunStatus
from prompts.models import Prompt
from prompts.selectors import prompt_get

RUN_ID_MAX = ExperimentRun._meta.get_field("run_id").max_length
RUN_NAME_MAX = ExperimentRun._meta.get_field("name").max_length
MAX_CONCURRENCY = 64
MAX_TRIALS = 20
EXECUTE_TASK = "experiments.tasks.execute_run"
ITEM_KEY_MAX = RunItem._meta.get_field("item_key").max_length
# Run attribute ← record key.
RUN_ATTRIBUTES = {
    "name": "name",
    "description": "description",
    "metadata": "metadata",
    "dataset_id": "dataset_id",
    "dataset_version": "item_version",
}
RUN_ITEM_SPAN_FIELDS = [
    "dataset_item",
    "item_version",
    "trace_id",
    "observation_id",
    "input",
    "expected_output",
    "output",
    "latency_ms",
    "error",
    "started_at",
]


def stable_run_id(*, project_id: str, dataset_id: str, run_name: str) -> str:
    """The SDK's (and upstream's) experiment id of a dataset run: re-runs with one name share it."""
    payload = json.dumps(
        ["langfuse-experiment-v1", project_id, dataset_id, run_name], separators=(",", ":"), ensure_ascii=False
    )
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()[:16]


def _recency(start: datetime | None, observation_id: str | None) -> tuple:
    """Orders versions of an item: later start wins; without a start time, any version with one wins."""
    return (start is not None, start or datetime.min.replace(tzinfo=UTC), observation_id or "")


def _newest_first_key(record: dict) -> tuple:
    return _recency(record.get("start_time"), record.get("observation_id"))


def _item_error(record: dict) -> str | None:
    if record.get("level") != "ERROR":
        return None
    return record.get("status_message") or "The task failed"


def _latency_ms(start: datetime | None, end: datetime | None) -> float | None:
    if start is None or end is None:
        return None
    return max((end - start).total_seconds() * 1000.0, 0.0)


@transaction.atomic
def experiment_items_record_from_spans(*, project: Project, records: list[dict[str, Any]]) -> None:
    """Upsert the runs and run items named by experiment item root spans (see the module docstring).

    Each record carries the span's `langfuse.experiment.*` fields (id, name, description, metadata,
    dataset_id, item_id, item_version, item_metadata, item_root_observation_id,
    item_expected_output, is_item_root) and trace_id, observation_id, start_time, end_time, input,
    output, environment; `level` and `status_message`, when present, mark a failed task.
    """
    records = [
        r
        for r in records
        if r.get("id")
        and r.get("item_id")
        # Ids longer than the columns cannot be stored, and cutting them could merge distinct ones.
        and len(str(r["id"])) <= RUN_ID_MAX
        and len(str(r["item_id"])) <= ITEM_KEY_MAX
        and (r.get("is_item_root") or _is_root_by_ids(r))
    ]
    if not records:
        return

    # Per run and attribute, the newest record that has a value; per (run, item, trace), the newest record.
    run_values: dict[str, dict[str, tuple[tuple, Any]]] = {}
    newest_per_item: dict[tuple[str, str, str | None], dict] = {}
    span_per_run: dict[str, tuple[datetime | None, datetime | None]] = {}
    for record in records:
        run_id, recency = record["id"], _newest_first_key(record)
        values = run_values.setdefault(run_id, {})
        for attribute, key in RUN_ATTRIBUTES.items():
            value = record.get(key)
            if attribute == "name" and isinstance(value, str):
                value = value[:RUN_NAME_MAX]
            if value not in (None, "") and (attribute not in values or recency > values[attribute][0]):
                values[attribute] = (recency, value)
        item_key = (run_id, record["item_id"], record.get("trace_id"))
        if item_key not in newest_per_item or recency > _newest_first_key(newest_per_item[item_key]):
            newest_per_item[item_key] = record
        first, last = span_per_run.get(run_id, (None, None))
        start, end = record.get("start_time"), record.get("end_time") or record.get("start_time")
        span_per_run[run_id] = (_min(first, start), _max(last, end))

    known_datasets = dataset_selectors.dataset_ids_existing(
        project=project,
        dataset_ids={values["dataset_id"][1] for values in run_values.values() if "dataset_id" in values},
    )

    # Create the runs not seen before; a concurrent batch may create the same ones, hence ignore_conflicts.
    ExperimentRun.objects.bulk_create(
        [
            ExperimentRun(project=project, run_id=run_id, name=values.get("name", (None, run_id))[1], source=RunSource.SDK)
            for run_id, values in run_values.items()
        ],
        ignore_conflicts=True,
    )
    # Lock the runs (ordered by pk, so concurrent batches cannot deadlock): batches touching the same
    # run serialise, and each sees the items the previous one committed.
    runs = {
        run.run_id: run
        for run in ExperimentRun.objects.select_for_update()
        .filter(project=project, run_id__in=list(run_values))
        .order_by("pk")
    }
    latest_item_start = selectors.run_item_latest_starts(project=project, run_pks=[run.pk for run in runs.values()])

    changed_runs = []
    for run_id, values in run_values.items():
        run = runs[run_id]
        if _run_merge(run, values, latest_item_start.get(run.pk), span_per_run[run_id], known_datasets):
            changed_runs.append(run)
    if changed_runs:
        ExperimentRun.objects.bulk_update(changed_runs, [*RUN_ATTRIBUTES, "started_at", "finished_at", "updated_at"])

    item_ids = {item_id for _, item_id, _ in newest_per_item}
    dataset_item_pks = dataset_selectors.dataset_item_pks_by_item_id(project=project, item_ids=item_ids)
    existing: dict[tuple[int, str, str | None], RunItem] = {}
    trials_so_far: dict[tuple[int, str], int] = {}
    for item in RunItem.objects.filter(project=project, run__in=list(runs.values()), item_key__in=item_ids):
        existing[(item.run_id, item.item_key, item.trace_id)] = item
        trials_so_far[(item.run_id, item.item_key)] = max(trials_so_far.get((item.run_id, item.item_key), 0), item.trial)
    to_create, to_update = [], []
    now = timezone.now()
    # Oldest first, so that the trials a batch adds are numbered in the order they started.
    for (run_id, item_id, trace_id), record in sorted(newest_per_item.items(), key=lambda kv: _newest_first_key(kv[1])):
        run = runs[run_id]
        current = existing.get((run.pk, item_id, trace_id))
        if current is not None and _newest_first_key(record) < _recency(current.started_at, current.observation_id):
            continue  # an older span of a trial the run already holds in a newer version
        if current is None:
            trial = trials_so_far[(run.pk, item_id)] = trials_so_far.get((run.pk, item_id), 0) + 1
            item = RunItem(project=project, run=run, item_key=item_id, trial=trial)
        else:
            item = current
        item.dataset_item_id = dataset_item_pks.get(item_id)
        item.item_version = record.get("item_version")
        item.trace_id = record.get("trace_id")
        item.observation_id = record.get("observation_id")
        item.input = record.get("input")
        item.expected_output = record.get("item_expected_output")
        item.output = record.get("output")
        item.latency_ms = _latency_ms(record.get("start_time"), record.get("end_time"))
        item.error = _item_error(record)
        item.started_at = record.get("start_time")
        item.updated_at = now
        (to_update if current is not None else to_create).append(item)
    if to_create:
        RunItem.objects.bulk_create(to_create)
    if to_update:
        RunItem.objects.bulk_update(to_update, [*RUN_ITEM_SPAN_FIELDS, "updated_at"])


def _is_root_by_ids(record: dict) -> bool:
    return bool(record.get("observation_id")) and record.get("observation_id") == record.get(
        "item_root_observation_id"
    )


def _run_merge(
    run: ExperimentRun,
    values: dict[str, tuple[tuple, Any]],
    latest_known_start: datetime | None,
    time_span: tuple[datetime | None, datetime | None],
    known_datasets: set[str],
) -> bool:
    """Fold a batch's newest attribute values into a run; True when something changed.

    A value replaces the stored one when the span it came from is at least as new as the run's
    newest stored item, or when nothing is stored yet.
    """
    fields = [*RUN_ATTRIBUTES, "started_at", "finished_at"]
    before = [getattr(run, field) for field in fields]
    for attribute, (recency, value) in values.items():
        if attribute == "dataset_id" and value not in known_datasets:
            continue  # not one of this project's datasets: never linked
        start = recency[1] if recency[0] else None
        newest = latest_known_start is None or start is None or start >= latest_known_start
        if newest or getattr(run, attribute) is None:
            setattr(run, attribute, value)
    run.started_at = _min(run.started_at, time_span[0])
    run.finished_at = _max(run.finished_at, time_span[1])
    if [getattr(run, field) for field in fields] == before:
        return False
    run.updated_at = timezone.now()
    return True


def _min(a, b):
    return b if a is None else a if b is None else min(a, b)


def _max(a, b):
    return b if a is None else a if b is None else max(a, b)


@transaction.atomic
def dataset_run_item_link(
    *,
    project: Project,
    dataset_item: DatasetItem,
    run_name: str,
    run_description: str | None = None,
    metadata: Any = None,
    trace_id: str,
    observation_id: str | None = None,
    dataset_version: datetime | None = None,
    created_at: datetime | None = None,
) -> RunItem:
    """The legacy `POST /dataset-run-items` (SDK v2–v4 `item.link()`): put a trace into a named run.

    The run is the dataset's run of that name, or a new one with the id the v5 SDK would derive, so
    legacy links and v5 spans of one run name land in one run. Linking the item again with the same
    trace updates its trial; with another trace it is the item's next trial.
    """
    dataset = dataset_item.dataset
    run = selectors.experiment_run_list_by_name(project=project, dataset=dataset, name=run_name).first()
    if run is None:
        run, _ = ExperimentRun.objects.get_or_create(
            project=project,
            run_id=stable_run_id(project_id=project.pk, dataset_id=dataset.pk, run_name=run_name),
            defaults={"name": run_name, "dataset": dataset, "source": RunSource.SDK},
        )
    # The same lock as span ingestion takes: writers of one run's items go one at a time.
    run = ExperimentRun.objects.select_for_update().get(pk=run.pk)
    started = created_at or timezone.now()
    changed = False
    if run.dataset_id is None:
        run.dataset, changed = dataset, True
    if run_description is not None and run.description != run_description:
        run.description, changed = run_description, True
    if metadata is not None and run.metadata != metadata:
        run.metadata, changed = metadata, True
    if dataset_version is not None and run.dataset_version != dataset_version:
        run.dataset_version, changed = dataset_version, True
    if run.started_at is None or started < run.started_at:
        run.started_at, changed = started, True
    if run.finished_at is None or started > run.finished_at:
        run.finished_at, changed = started, True
    if changed:
        run.save()

    trials = list(RunItem.objects.filter(project=project, run=run, item_key=dataset_item.item_id))
    item = next((trial for trial in trials if trial.trace_id == trace_id), None)
    if item is None:
        item = RunItem(
            project=project,
            run=run,
            item_key=dataset_item.item_id,
            trial=max((trial.trial for trial in trials), default=0) + 1,
            trace_id=trace_id,
        )
    item.dataset_item = dataset_item
    item.item_version = dataset_version
    item.observation_id = observation_id
    item.input = dataset_item.input
    item.expected_output = dataset_item.expected_output
    item.started_at = started
    item.save()
    return item


@transaction.atomic
def experiment_run_delete(*, project: Project, runs: list[ExperimentRun], actor: Actor = SYSTEM) -> int:
    """Delete runs and their items (scores stay: they belong to their traces). Audited; returns the count."""
    for run in runs:
        if run.project_id != project.pk:
            raise ValueError("run of another project")
        audit_log_record(
            actor=actor,
            action="experiment_run.delete",
            obj=run,
            organization=project.organization,
            project=project,
            run_id=run.run_id,
            name=run.name,
        )
    deleted = ExperimentRun.objects.filter(project=project, pk__in=[run.pk for run in runs]).delete()
    return deleted[1].get(ExperimentRun._meta.label, 0)


def _dataset(project: Project, name: str) -> Dataset:
    dataset = dataset_find_by_name(project=project, name=name)
    if dataset is None:
        raise ValidationError({"dataset_name": [f"no dataset named {name!r} in this project"]})
    return dataset


def _prompt(project: Project, name: str, version: int | None, label: str | None) -> Prompt:
    if version is not None and label is not None:
        raise ValidationError({"prompt_version": ["give a prompt version or a prompt label, not both"]})
    try:
        return prompt_get(project=project, name=name, version=version, label=label)
    except Prompt.DoesNotExist as missing:
        raise ValidationError({"prompt_name": [str(missing)]}) from None


def _connection(project: Project, provider: str) -> LlmConnection:
    try:
        return llm_connection_get(project=project, provider=provider)
    except LlmConnection.DoesNotExist:
        raise ValidationError({"provider": [f"no LLM connection named {provider!r} in this project"]}) from None


@transaction.atomic
def _run_evaluators(project: Project, evaluators) -> list | None:
    """The evaluators a platform run judges its items with, cleaned by the app that owns them."""
    if not evaluators:
        return None
    cleaners = list(hooks.run_evaluators_clean)
    if not cleaners:
        raise ValidationError({"evaluators": ["evaluators are not available on this installation"]})
    for clean in cleaners:
        evaluators = clean(project=project, evaluators=evaluators)
    return evaluators


def experiment_run_start(
    *,
    project: Project,
    dataset_name: str,
    run_name: str,
    prompt_name: str,
    provider: str,
    model: str,
    prompt_version: int | None = None,
    prompt_label: str | None = None,
    model_parameters: dict | None = None,
    concurrency: int = 8,
    trials: int = 1,
    description: str | None = None,
    metadata: dict | None = None,
    evaluators: list | None = None,
    actor: Actor = SYSTEM,
    enqueue: bool = True,
) -> ExperimentRun:
    """Create a queued platform run over the dataset's latest version and enqueue its execution.

    `enqueue=False` is for a caller that executes the run itself (the command line's --here); the
    workers' sweep still picks the run up if that caller dies before claiming it.

    Every reference is checked now, so a bad request is refused naming the argument instead of
    becoming a failed run later.
    """
    if not model or not isinstance(model, str):
        raise ValidationError({"model": ["a model name is required"]})
    if not isinstance(concurrency, int) or not 1 <= concurrency <= MAX_CONCURRENCY:
        raise ValidationError({"concurrency": [f"must be an integer from 1 to {MAX_CONCURRENCY}"]})
    if isinstance(trials, bool) or not isinstance(trials, int) or not 1 <= trials <= MAX_TRIALS:
        raise ValidationError({"trials": [f"must be an integer from 1 to {MAX_TRIALS}"]})
    if model_parameters is not None and not isinstance(model_parameters, dict):
        raise ValidationError({"model_parameters": ["must be an object"]})
    reserved = sorted(RESERVED_PARAMETERS.intersection(model_parameters or {}))
    if reserved:
        # Refused now rather than by the client on every item of the run.
        raise ValidationError({"model_parameters": [f"may not set {', '.join(reserved)}"]})
    if not run_name or not isinstance(run_name, str):
        raise ValidationError({"run_name": ["a run name is required"]})
    if len(run_name) > RUN_NAME_MAX:
        raise ValidationError({"run_name": [f"must be at most {RUN_NAME_MAX} characters"]})
    dataset = _dataset(project, dataset_name)
    prompt = _prompt(project, prompt_name, prompt_version, prompt_label)
    llm_connection = _connection(project, provider)
    if ExperimentRun.objects.filter(project=project, dataset=dataset, name=run_name).exists():
        raise Conflict(f"dataset {dataset_name!r} already has a run named {run_name!r}")
    evaluators = _run_evaluators(project, evaluators)
    version = dataset_latest_version(project=project, dataset=dataset)
    total = len(dataset_items_for_run(project=project, dataset=dataset, version=version)) * trials
    run = ExperimentRun.objects.create(
        project=project,
        name=run_name,
        description=description,
        metadata=metadata,
        dataset=dataset,
        dataset_version=version,
        source=RunSource.PLATFORM,
        status=RunStatus.QUEUED,
        progress_total=total,
        created_by=actor.user,
        config={
            "promptName": prompt.name,
            "promptVersion": prompt.version,
            "promptId": prompt.pk,
            "provider": llm_connection.provider,
            "connectionId": llm_connection.pk,
            "model": model,
            "modelParameters": model_parameters or {},
            "concurrency": concurrency,
            "trials": trials,
            **({"evaluators": evaluators} if evaluators else {}),
        },
    )
    audit_log_record(
        actor=actor, action="experiment_run.start", obj=run, organization=project.organization, project=project,
        run_id=run.run_id, dataset=dataset.name, model=model,
    )
    if enqueue:
        enqueue_after_commit(EXECUTE_TASK, run.pk, task_name=f"experiment-run-{run.run_id}")
    return run


@transaction.atomic
def experiment_run_cancel(*, project: Project, run: ExperimentRun, actor: Actor = SYSTEM) -> ExperimentRun:
    """Queued or running runs stop; finished runs are left as they are.

    The cancel drops the run's lease, so a worker executing it finds out when it next renews the
    lease (at its next flush, within about a second) and stops without writing that batch.
    """
    if job_cancel(ExperimentRun.objects.filter(project=project), pk=run.pk):
        audit_log_record(
            actor=actor, action="experiment_run.cancel", obj=run, organization=project.organization, project=project,
            run_id=run.run_id,
        )
    run.refresh_from_db()
    return run
