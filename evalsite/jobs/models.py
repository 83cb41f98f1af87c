"""The row every long-running job owns (evalsite/jobs/README.md)."""

from django.db import models


class JobStatus(models.TextChoices):
    QUEUED = "queued"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"


# A job in one of these states still has work to do: it can be claimed, and the sweep resumes it.
ACTIVE_STATUSES = (JobStatus.QUEUED, JobStatus.RUNNING)


class LeasedJob(models.Model):
    """Status, progress and the lease of a job executed by django-q workers.

    The worker that holds the lease (`lease_token`) is the only one that writes the job's results;
    it proves it is alive by moving `heartbeat_at` forward. Only the functions of
    `evalsite.jobs.leases` change `status`, `lease_token`, `heartbeat_at` and `attempts`.
    """

    status = models.CharField(max_length=10, choices=JobStatus.choices, default=JobStatus.QUEUED)
    # Counts, not increments: a worker recounts them from what is recorded, so a replay counts nothing twice.
    progress_total = models.PositiveIntegerField(default=0)
    progress_done = models.PositiveIntegerField(default=0)
    progress_failed = models.PositiveIntegerField(default=0)
    error = models.TextField(null=True, blank=True)
    # How many times a worker has claimed the job; a kind may give up after some number of them.
    attempts = models.PositiveSmallIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    lease_token = models.CharField(max_length=64, null=True, blank=True, editable=False)
    heartbeat_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        abstract = True

    @property
    def is_finished(self) -> bool:
        return self.status not in ACTIVE_STATUSES
