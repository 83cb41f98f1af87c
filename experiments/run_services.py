"""Starting, cancelling and resuming platform experiment runs (the runner itself is runner.py)."""

from __future__ import annotations

from datetime import timedelta

from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone
from rest_framework.exceptions import ValidationError

from datasets.models import Dataset
from datasets.selectors import dataset_find_by_name, dataset_items_for_run, dataset_latest_version
from evalsite.api.errors import Conflict
from evalsite.jobs import enqueue_after_commit
from evalsite.llm.client import RESERVED_PARAMETERS
from evalsite.llm.connections import llm_connection_get
from evalsite.llm.models import LlmConnection
from evalsite.tenancy.actors import SYSTEM, Actor
from evalsite.tenancy.models import Project
from evalsite.tenancy.services import audit_log_record
from experiments.models import ExperimentRun, Prompt, RunSource, RunStatus
from experiments.prompt_selectors import prompt_get
from experiments.runner import lease_seconds

MAX_CONCURRENCY = 64
RUN_NAME_MAX = ExperimentRun._meta.get_field("name").max_length
EXECUTE_TASK = "experiments.tasks.execute_run"


def _dataset(project: Project, name: str) -> Dataset:
    dataset = dataset_find_by_name(project=project, name=name)
    if dataset is None:
        raise ValidationError({"datasetName": [f"no dataset named {name!r} in this project"]})
    return dataset


def _prompt(project: Project, name: str, version: int | None, label: str | None) -> Prompt:
    if version is not None and label is not None:
        raise ValidationError({"promptVersion": ["give promptVersion or promptLabel, not both"]})
    try:
        return prompt_get(project=project, name=name, version=version, label=label)
    except Prompt.DoesNotExist as missing:
        raise ValidationError({"promptName": [str(missing)]}) from None


def _connection(project: Project, provider: str) -> LlmConnection:
    try:
        return llm_connection_get(project=project, provider=provider)
    except LlmConnection.DoesNotExist:
        raise ValidationError({"provider": [f"no LLM connection named {provider!r} in this project"]}) from None


@transaction.atomic
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
    description: str | None = None,
    metadata: dict | None = None,
    actor: Actor = SYSTEM,
    enqueue: bool = True,
) -> ExperimentRun:
    """Create a queued platform run over the dataset's latest version and enqueue its execution.

    `enqueue=False` is for a caller that executes the run itself (the command line's --here); the
    workers' sweep still picks the run up if that caller dies before claiming it.

    Every reference is checked now, so a bad request fails with a 400 naming the field instead of
    becoming a failed run later.
    """
    if not model or not isinstance(model, str):
        raise ValidationError({"model": ["a model name is required"]})
    if not isinstance(concurrency, int) or not 1 <= concurrency <= MAX_CONCURRENCY:
        raise ValidationError({"concurrency": [f"must be an integer from 1 to {MAX_CONCURRENCY}"]})
    if model_parameters is not None and not isinstance(model_parameters, dict):
        raise ValidationError({"modelParameters": ["must be an object"]})
    reserved = sorted(RESERVED_PARAMETERS.intersection(model_parameters or {}))
    if reserved:
        # Refused now rather than by the client on every item of the run.
        raise ValidationError({"modelParameters": [f"may not set {', '.join(reserved)}"]})
    if not run_name or not isinstance(run_name, str):
        raise ValidationError({"runName": ["a run name is required"]})
    if len(run_name) > RUN_NAME_MAX:
        raise ValidationError({"runName": [f"must be at most {RUN_NAME_MAX} characters"]})
    dataset = _dataset(project, dataset_name)
    prompt = _prompt(project, prompt_name, prompt_version, prompt_label)
    llm_connection = _connection(project, provider)
    if ExperimentRun.objects.filter(project=project, dataset=dataset, name=run_name).exists():
        raise Conflict(f"dataset {dataset_name!r} already has a run named {run_name!r}")
    version = dataset_latest_version(project=project, dataset=dataset)
    total = len(dataset_items_for_run(project=project, dataset=dataset, version=version))
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
    """Queued or running runs stop; the worker notices at its next flush. Finished runs are left as they are."""
    updated = ExperimentRun.objects.filter(
        project=project, pk=run.pk, status__in=[RunStatus.QUEUED, RunStatus.RUNNING]
    ).update(status=RunStatus.CANCELLED, finished_at=timezone.now(), lease_token=None, updated_at=timezone.now())
    if updated:
        audit_log_record(
            actor=actor, action="experiment_run.cancel", obj=run, organization=project.organization, project=project,
            run_id=run.run_id,
        )
    run.refresh_from_db()
    return run


def experiment_runs_resume_stale() -> list[int]:
    """Re-enqueue platform runs whose worker died: running with an expired lease, or queued too long.

    A system sweep across projects (it only re-enqueues; the runner re-checks everything). Rows are
    claimed with SKIP LOCKED where the database has it, so several sweepers never enqueue one run twice.
    """
    stale_before = timezone.now() - timedelta(seconds=lease_seconds())
    with transaction.atomic():
        candidates = ExperimentRun.objects.filter(source=RunSource.PLATFORM).filter(
            Q(status=RunStatus.RUNNING, heartbeat_at__lt=stale_before)
            | Q(status=RunStatus.QUEUED, heartbeat_at__isnull=True, created_at__lt=stale_before)
            | Q(status=RunStatus.QUEUED, heartbeat_at__lt=stale_before)
        )
        if connection.features.has_select_for_update_skip_locked:
            candidates = candidates.select_for_update(skip_locked=True)
        run_pks = list(candidates.values_list("pk", flat=True)[:100])
        # Clearing the lease lets the next claim succeed; touching the heartbeat stops the next
        # sweep from enqueueing the same run again before a worker picks it up.
        ExperimentRun.objects.filter(pk__in=run_pks).update(lease_token=None, heartbeat_at=timezone.now())
        for run_pk in run_pks:
            enqueue_after_commit(EXECUTE_TASK, run_pk, task_name=f"experiment-run-resume-{run_pk}")
    return run_pks
