"""The leased-job mechanism: claim, renew, finish, cancel and sweep (the algorithm: README.md here).

Every function takes the job's model (or a queryset of it, to choose what a claim loads) and
works on any `LeasedJob`. Each state change is one conditional UPDATE, so it is atomic on SQLite
and on PostgreSQL alike; PostgreSQL additionally lets a claim or a sweep skip rows that another
worker has locked (`SELECT … FOR UPDATE SKIP LOCKED`) instead of waiting for them.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, TypeVar

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F, Q, QuerySet, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from evalsite.db import skip_locked, takes_row_locks, update_rows
from evalsite.hooks import ExtensionPoint
from evalsite.jobs.enqueue import enqueue_after_commit
from evalsite.jobs.models import ACTIVE_STATUSES, JobStatus, LeasedJob

J = TypeVar("J", bound=LeasedJob)

SWEEP_LIMIT = 100


class LeaseLost(Exception):
    """The job is no longer ours (another worker took it over, or it ended): stop without writing."""


class JobCancelled(LeaseLost):
    """The job was cancelled while we held it: stop without writing."""


@dataclass(frozen=True)
class JobKind:
    """A kind of job the sweep resumes: rows of `model` (within `scope`) are re-enqueued as `task(pk)`."""

    name: str  # for task names and logs, e.g. "experiment-run"
    model: type[LeasedJob]
    task: str  # dotted path of the django-q task; it takes the job's primary key
    scope: Q = field(default_factory=Q)  # which rows of the model are jobs of this kind


# Apps register their kinds from their AppConfig.ready(); the sweep visits every one.
job_kinds: ExtensionPoint[JobKind] = ExtensionPoint("leased job kinds")


def lease_seconds() -> float:
    """How long a worker may go without renewing its lease before the job counts as abandoned."""
    return float(settings.EVALSITE_JOB_LEASE_SECONDS)


def sweep_seconds() -> float:
    return float(settings.EVALSITE_JOB_SWEEP_SECONDS)


def _queryset(jobs: type[J] | QuerySet) -> QuerySet:
    return jobs if isinstance(jobs, QuerySet) else jobs._default_manager.all()


def _touch(model: type[LeasedJob], values: dict[str, Any], now: datetime) -> dict[str, Any]:
    """`values` plus the model's auto_now fields, which a queryset UPDATE would otherwise leave alone."""
    for model_field in model._meta.concrete_fields:
        if getattr(model_field, "auto_now", False):
            values.setdefault(model_field.attname, now)
    return values


def _claimable(now: datetime) -> Q:
    expired = now - timedelta(seconds=lease_seconds())
    return Q(status__in=ACTIVE_STATUSES) & (
        Q(lease_token__isnull=True) | Q(heartbeat_at__isnull=True) | Q(heartbeat_at__lt=expired)
    )


def _claim_values(model: type[LeasedJob], token: str, now: datetime) -> dict[str, Any]:
    return _touch(
        model,
        {
            "status": JobStatus.RUNNING,
            "lease_token": token,
            "heartbeat_at": now,
            "attempts": F("attempts") + 1,
            "started_at": Coalesce("started_at", Value(now)),
        },
        now,
    )


def job_claim(jobs: type[J] | QuerySet, *, pk: Any) -> J | None:
    """Take the job's lease with a fresh token, or None when it is finished or a live worker holds it.

    A job is claimable when it is queued or running and nobody holds a live lease on it: no
    token, or a heartbeat older than the lease. The claim makes it `running`, counts an attempt
    and returns the row (loaded through `jobs`, so a caller can defer or join what it needs).
    Of two callers racing for one job exactly one gets it.
    """
    claimed = jobs_claim(jobs, pks=[pk])
    return claimed[0] if claimed else None


def jobs_claim(jobs: type[J] | QuerySet, *, pks: list[Any]) -> list[J]:
    """`job_claim` for many jobs at once, in two statements whatever their number: the ones that
    are claimable, all under one fresh token, in the order of `pks`. A task that executes hundreds
    of jobs (evaluation) claims them together rather than in hundreds of round trips."""
    if not pks:
        return []
    queryset = _queryset(jobs)
    model = queryset.model
    now = timezone.now()
    token = uuid.uuid4().hex
    with transaction.atomic():
        if takes_row_locks():
            # A row another claimer (or the sweep) has locked is skipped, not waited for: it is
            # being taken right now, and will not be claimable when its lock goes.
            rows = skip_locked(model._default_manager.filter(_claimable(now), pk__in=pks), of=("self",))
            taken = list(rows.values_list("pk", flat=True))
            if not taken:
                return []
            model._default_manager.filter(pk__in=taken).update(**_claim_values(model, token, now))
        # SQLite: writers are serialised, and the UPDATE re-checks the condition as it writes.
        elif not model._default_manager.filter(_claimable(now), pk__in=pks).update(**_claim_values(model, token, now)):
            return []
        by_pk = {job.pk: job for job in queryset.filter(pk__in=pks, lease_token=token)}
    return [by_pk[pk] for pk in pks if pk in by_pk]


def _held(job: LeasedJob) -> QuerySet:
    """The job's row while `job`'s lease holds; empty otherwise (never a null token's rows: IS NULL)."""
    rows = type(job)._default_manager.filter(pk=job.pk, status=JobStatus.RUNNING)
    return rows.filter(lease_token=job.lease_token) if job.lease_token else rows.none()


def job_renew(job: LeasedJob) -> None:
    """Move the heartbeat forward, or raise LeaseLost / JobCancelled when the job is no longer ours.

    One UPDATE when the lease holds (the usual case). Called inside the transaction that writes a
    batch of results, it also locks the row until that transaction commits, so the batch is
    written by the lease holder or not at all.
    """
    now = timezone.now()
    model = type(job)
    if _held(job).update(heartbeat_at=now):
        job.heartbeat_at = now
        return
    # Only on the way out: find out why, so the caller can tell a cancel from a takeover.
    status = model._default_manager.filter(pk=job.pk).values_list("status", flat=True).first()
    if status == JobStatus.CANCELLED:
        raise JobCancelled(f"{model.__name__} {job.pk} was cancelled")
    raise LeaseLost(f"{model.__name__} {job.pk} is no longer held by this worker")


def job_finish(job: LeasedJob, *, status: str, error: str | None = None, **values: Any) -> bool:
    """End the job (completed or failed) and drop the lease; False when the lease was no longer ours.

    Only the lease holder may finish a job, so a cancelled or taken-over job is never marked
    completed by a worker that did not notice. `values` are further fields to set in the same UPDATE.
    """
    now = timezone.now()
    model = type(job)
    values = _touch(model, {"status": status, "error": error, "finished_at": now, "lease_token": None, **values}, now)
    if not _held(job).update(**values):
        return False
    for name, value in values.items():
        setattr(job, name, value)
    return True


def jobs_finish(finishes: list[tuple[J, dict[str, Any]]]) -> list[J]:
    """`job_finish` for many jobs of one model, each with its own values (`status` included, `error`
    None unless given): lock the rows whose lease the caller still holds, then one parameterised
    UPDATE sent for all of them at once (`executemany`, pipelined by psycopg), rather than a
    compiled statement per job. Returns the jobs finished; the others' leases were lost, and they
    are left as they are."""
    if not finishes:
        return []
    model = type(finishes[0][0])
    now = timezone.now()
    held = held_q([job for job, _ in finishes])
    if held is None:
        return []
    rows = model._default_manager.filter(held, status=JobStatus.RUNNING)
    with transaction.atomic():
        locked = rows.select_for_update() if takes_row_locks() else rows
        taken = set(locked.values_list("pk", flat=True))
        per_job = {
            job.pk: (job, _touch(model, {"error": None, "finished_at": now, "lease_token": None, **values}, now))
            for job, values in finishes
            if job.pk in taken
        }
        _update_each(model, [(job, values) for job, values in per_job.values()])
    for job, values in per_job.values():
        for name, value in values.items():
            setattr(job, name, value)
    return [job for job, _ in finishes if job.pk in per_job]


def held_q(jobs: list[LeasedJob]) -> Q | None:
    """The rows of `jobs` under their own leases, one `pk IN (…)` per token (a batch claim gives
    all its jobs one), or None when none has a token: a copy without one holds nothing."""
    by_token: dict[str, list] = {}
    for job in jobs:
        if job.lease_token:
            by_token.setdefault(job.lease_token, []).append(job.pk)
    held = None
    for token, pks in by_token.items():
        condition = Q(lease_token=token, pk__in=pks)
        held = condition if held is None else held | condition
    return held


def _update_each(model: type[LeasedJob], rows: list[tuple[LeasedJob, dict[str, Any]]]) -> None:
    """Each row's own values, one statement per set of column names, under the row's lease."""
    meta = model._meta
    groups: dict[tuple[str, ...], list[tuple[LeasedJob, dict[str, Any]]]] = {}
    for job, values in rows:
        groups.setdefault(tuple(sorted(values)), []).append((job, values))
    for names, members in groups.items():
        set_fields = [meta.get_field(name) for name in names]
        update_rows(
            meta.db_table, set_fields=set_fields, key_fields=[meta.pk, meta.get_field("lease_token")],
            rows=[
                [field.get_db_prep_save(values[name], connection) for name, field in zip(names, set_fields, strict=True)]
                + [job.pk, job.lease_token]
                for job, values in members
            ],
        )


def job_cancel(jobs: type[LeasedJob] | QuerySet, *, pk: Any) -> bool:
    """Cancel a queued or running job; False when it had already ended.

    The lease is dropped with it, so the worker executing the job finds out at its next renewal
    (JobCancelled) and stops without writing that batch.
    """
    queryset = _queryset(jobs)
    now = timezone.now()
    values = _touch(
        queryset.model, {"status": JobStatus.CANCELLED, "finished_at": now, "lease_token": None}, now
    )
    return bool(queryset.filter(pk=pk, status__in=ACTIVE_STATUSES).update(**values))


def _abandoned(now: datetime) -> Q:
    expired = now - timedelta(seconds=lease_seconds())
    return Q(status__in=ACTIVE_STATUSES) & (
        Q(heartbeat_at__lt=expired) | Q(heartbeat_at__isnull=True, created_at__lt=expired)
    )


def job_kind_sweep(kind: JobKind, *, limit: int = SWEEP_LIMIT) -> list:
    """Re-enqueue this kind's abandoned jobs; returns their primary keys.

    Abandoned: queued or running, with a heartbeat older than the lease, or with none at all and
    created longer than a lease ago (the enqueue was lost, or the worker died before claiming).
    The sweep drops their lease, so the next claim succeeds, and sets their heartbeat to now, so
    the next sweep leaves them alone for one lease while the task waits for a worker.
    """
    now = timezone.now()
    manager = kind.model._default_manager
    with transaction.atomic():
        abandoned = manager.filter(kind.scope).filter(_abandoned(now)).order_by()
        # Two sweepers (one per worker cluster) never pick the same job in the same round.
        abandoned = skip_locked(abandoned)
        pks = list(abandoned.values_list("pk", flat=True)[:limit])
        if pks:
            # The condition again: a worker that renewed since the SELECT keeps its lease (SQLite
            # takes no row locks); its task, enqueued anyway, then finds the job held and returns.
            released = _touch(kind.model, {"lease_token": None, "heartbeat_at": now}, now)
            manager.filter(_abandoned(now), pk__in=pks).update(**released)
            for pk in pks:
                enqueue_after_commit(kind.task, pk, task_name=f"{kind.name}-resume-{pk}")
    return pks


def jobs_sweep(*, limit: int = SWEEP_LIMIT) -> dict[str, list]:
    """Sweep every registered kind: {kind name: re-enqueued primary keys} for the kinds that had any."""
    swept = {}
    for kind in job_kinds:
        pks = job_kind_sweep(kind, limit=limit)
        if pks:
            swept[kind.name] = pks
    return swept
