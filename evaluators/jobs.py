"""Writes to the execution ledger: creating jobs (one per evaluator version and target, never
two), skipping, retrying, and handing them to workers. Executing them: evaluators/executor.py."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from evalsite.db import insert_from_arrays, inserts_from_arrays, skip_locked
from evalsite.errors import Conflict
from evalsite.jobs import enqueue_after_commit
from evalsite.tenancy.actors import SYSTEM, Actor
from evalsite.tenancy.models import Project
from evalsite.tenancy.services import audit_log_record
from evaluators.models import EvaluationJob, EvaluationJobStatus, Evaluator, EvaluatorVersion

EXECUTE_TASK = "evaluators.tasks.execute_jobs"
# Jobs per task: one task runs its jobs on a thread pool, so a batch is as wide as the pool allows.
JOBS_PER_TASK = 500


@dataclass(frozen=True)
class Target:
    kind: str  # JobTarget
    id: str
    trace_id: str | None = None
    observation_id: str | None = None


@dataclass
class JobSummary:
    created: int = 0
    already: int = 0  # this version had judged (or was judging) the target already
    skipped: dict[str, int] = field(default_factory=dict)
    job_ids: list[int] = field(default_factory=list)


def jobs_create(
    *,
    project: Project,
    version: EvaluatorVersion,
    targets: list[Target],
    variable_mapping: list | None = None,
    rule_id: str | None = None,
    run_id: int | None = None,
    not_before: datetime | None = None,
    skip_reason: str | None = None,
    enqueue: bool = True,
    options: dict | None = None,
) -> JobSummary:
    """A job per target that this version has none for yet (the unique constraint decides, so two
    callers racing for one target make one job). New jobs are queued, or skipped with `skip_reason`;
    queued ones due now are enqueued after the commit, later ones are left to the dispatcher."""
    summary = JobSummary()
    if not targets:
        return summary
    status = EvaluationJobStatus.SKIPPED if skip_reason else EvaluationJobStatus.QUEUED
    now = timezone.now()
    enqueue_now = enqueue and not skip_reason and (not_before is None or not_before <= now)
    common = {
        # Jobs handed to workers at once carry the heartbeat jobs_enqueue would give them.
        "heartbeat_at": now if enqueue_now else None,
        "project": project, "evaluator_id": version.evaluator_id, "evaluator_version": version, "rule_id": rule_id,
        "run_id": run_id, "variable_mapping": variable_mapping, "options": options, "not_before": not_before,
        "status": status, "skip_reason": skip_reason, "finished_at": now if skip_reason else None,
    }
    with transaction.atomic():
        if inserts_from_arrays():
            created = _insert_new(EvaluationJob(**common), targets)
        else:
            created = _bulk_create_new(project, version, common, targets, now)
        summary.already = len({(t.kind, t.id) for t in targets}) - len(created)
        for pk, job_status, reason in created:
            summary.job_ids.append(pk)
            if job_status == EvaluationJobStatus.SKIPPED:
                summary.skipped[reason] = summary.skipped.get(reason, 0) + 1
            else:
                summary.created += 1
        if enqueue_now:
            jobs_enqueue([pk for pk, job_status, _ in created if job_status == EvaluationJobStatus.QUEUED], heartbeat_set=True)
    return summary


# The columns that differ between the jobs of one jobs_create call.
TARGET_COLUMNS = ("target_kind", "target_id", "trace_id", "observation_id")


def _insert_new(template: EvaluationJob, targets: list[Target]) -> list[tuple[int, str, str | None]]:
    """PostgreSQL: every target in one INSERT, the columns common to all given once (db.py's
    insert_from_arrays): (pk, status, skip_reason) of the new jobs. Building a model instance and
    compiling 30 values per row (bulk_create) took a 2,000-job backfill most of a second."""
    meta = EvaluationJob._meta
    constant = [f for f in meta.concrete_fields if not f.primary_key and f.attname not in TARGET_COLUMNS]
    return insert_from_arrays(
        meta.db_table,
        constant=[(f, f.get_db_prep_save(f.pre_save(template, add=True), connection)) for f in constant],
        varying=[
            (meta.get_field("target_kind"), [t.kind for t in targets]),
            (meta.get_field("target_id"), [t.id for t in targets]),
            (meta.get_field("trace_id"), [t.trace_id for t in targets]),
            (meta.get_field("observation_id"), [t.observation_id for t in targets]),
        ],
        returning=[meta.pk.column, "status", "skip_reason"],
    )


def _bulk_create_new(project, version, common: dict, targets: list[Target], now) -> list[tuple[int, str, str | None]]:
    """SQLite: bulk_create what is not there yet, then read back the rows created now."""
    existing = set(
        EvaluationJob.objects.filter(
            project=project, evaluator_version=version, target_id__in=[t.id for t in targets]
        ).values_list("target_kind", "target_id")
    )
    fresh = [
        EvaluationJob(**common, target_kind=t.kind, target_id=t.id, trace_id=t.trace_id, observation_id=t.observation_id)
        for t in targets
        if (t.kind, t.id) not in existing
    ]
    EvaluationJob.objects.bulk_create(fresh, ignore_conflicts=True, batch_size=500)
    return list(
        EvaluationJob.objects.filter(
            project=project, evaluator_version=version, target_id__in=[row.target_id for row in fresh],
            created_at__gte=now,
        ).values_list("pk", "status", "skip_reason")
    )


def jobs_enqueue(job_pks: list[int], *, heartbeat_set: bool = False) -> None:
    """Hand queued jobs to workers after the commit, JOBS_PER_TASK to a task.

    Their heartbeat is set now (unless the caller wrote it with the rows): the dispatcher hands out
    only jobs without one, so a job is not enqueued twice, and the sweep re-enqueues it if its
    task is lost (a heartbeat a lease old)."""
    if not heartbeat_set:
        EvaluationJob.objects.filter(pk__in=job_pks, status=EvaluationJobStatus.QUEUED).update(heartbeat_at=timezone.now())
    for start in range(0, len(job_pks), JOBS_PER_TASK):
        enqueue_after_commit(EXECUTE_TASK, job_pks[start : start + JOBS_PER_TASK], task_name=f"evaluate-{job_pks[start]}")


@transaction.atomic
def jobs_skip_pending(*, project: Project, evaluator: Evaluator, reason: str) -> int:
    """Skip the evaluator's jobs nobody holds yet (a worker holding one finds it finished)."""
    return EvaluationJob.objects.filter(
        project=project, evaluator=evaluator, status=EvaluationJobStatus.QUEUED
    ).update(status=EvaluationJobStatus.SKIPPED, skip_reason=reason, finished_at=timezone.now(), lease_token=None)


@transaction.atomic
def jobs_retry(*, project: Project, job_pks: list[int] | None = None, actor: Actor = SYSTEM) -> int:
    """Queue failed jobs again (all the project's failed ones when `job_pks` is None) and enqueue
    them; a job that is not failed is left alone. Returns how many were queued."""
    jobs = EvaluationJob.objects.filter(project=project, status=EvaluationJobStatus.FAILED)
    if job_pks is not None:
        jobs = jobs.filter(pk__in=job_pks)
    pks = list(jobs.values_list("pk", flat=True)[:10_000])
    EvaluationJob.objects.filter(pk__in=pks).update(
        status=EvaluationJobStatus.QUEUED, error=None, raw_answer=None, finished_at=None, lease_token=None,
        attempts=0, retry_at=None, not_before=None,
    )
    jobs_enqueue(pks)
    if pks:
        audit_log_record(
            actor=actor, action="evaluation_job.retry", obj=project, organization=project.organization,
            project=project, count=len(pks),
        )
    return len(pks)


def job_retry(*, project: Project, job: EvaluationJob, actor: Actor = SYSTEM) -> EvaluationJob:
    if job.status != EvaluationJobStatus.FAILED:
        raise Conflict(f"Only a failed job can be retried; this one is {job.get_status_display()}.")
    jobs_retry(project=project, job_pks=[job.pk], actor=actor)
    job.refresh_from_db()
    return job


def waiting_jobs_q(now: datetime) -> Q:
    """Queued jobs whose delay and retry wait are over and that no worker holds."""
    return (
        Q(status=EvaluationJobStatus.QUEUED, lease_token__isnull=True)
        & (Q(not_before__isnull=True) | Q(not_before__lte=now))
        & (Q(retry_at__isnull=True) | Q(retry_at__lte=now))
    )


def due_jobs_q(now: datetime) -> Q:
    """Waiting jobs that have not been handed to a task yet (the dispatcher's)."""
    return waiting_jobs_q(now) & Q(heartbeat_at__isnull=True)


def waiting_job_pks(*, project: Project, limit: int) -> list[int]:
    """The project's oldest waiting jobs, locked for a claim in the caller's transaction; rows
    another claimer holds are passed over. Their task may still be waiting for a worker: whoever
    claims a job first judges it, and the other finds it taken."""
    jobs = EvaluationJob.objects.filter(waiting_jobs_q(timezone.now()), project=project).order_by("created_at", "pk")
    return list(skip_locked(jobs).values_list("pk", flat=True)[:limit])
