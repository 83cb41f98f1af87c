"""Jobs: enqueue after commit, and the one leased-job mechanism (README.md here).

A long piece of work owns a row (a `LeasedJob`); its django-q task takes only the row's id and
calls `job_claim`, `job_renew` while it works, and `job_finish`. Apps register their job kinds in
`job_kinds` from their AppConfig.ready(), and the sweeper thread of every worker cluster
re-enqueues the ones whose worker died.
"""

from evalsite.jobs.enqueue import enqueue_after_commit
from evalsite.jobs.leases import (
    JobCancelled,
    JobKind,
    LeaseLost,
    held_q,
    job_cancel,
    job_claim,
    job_finish,
    job_kind_sweep,
    job_kinds,
    job_renew,
    jobs_claim,
    jobs_finish,
    jobs_sweep,
    lease_seconds,
)
from evalsite.jobs.models import ACTIVE_STATUSES, JobStatus, LeasedJob

__all__ = [
    "held_q",
    "ACTIVE_STATUSES",
    "JobCancelled",
    "JobKind",
    "JobStatus",
    "LeaseLost",
    "LeasedJob",
    "enqueue_after_commit",
    "job_cancel",
    "job_claim",
    "job_finish",
    "job_kind_sweep",
    "job_kinds",
    "job_renew",
    "jobs_claim",
    "jobs_finish",
    "jobs_sweep",
    "lease_seconds",
]
