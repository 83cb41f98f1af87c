"""Imports through a real `manage.py qcluster` process (PostgreSQL; Redis broker when REDIS_URL is set)."""

import json

import pytest
from django_q.conf import Conf

from datasets import importing
from datasets.models import DatasetItem, ImportJob, ImportStatus
from evalsite.tenancy.actors import SYSTEM
from tests.datasets.factories import DatasetFactory
from tests.support.worker import Worker, qcluster, require_postgresql, wait_for

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.live]

# The worker's own settings: a short lease and a frequent sweep, so resumption shows within seconds.
FAST_RESUME = {"EVALSITE_JOB_LEASE_SECONDS": "3", "EVALSITE_JOB_SWEEP_SECONDS": "1"}
ROWS = 20_000


@pytest.fixture(autouse=True)
def enqueue_to_the_real_broker(monkeypatch):
    require_postgresql()
    monkeypatch.setattr(Conf, "SYNC", False)


def progress(job_id) -> tuple[str, int]:
    return ImportJob.objects.values_list("status", "progress_done").get(pk=job_id)


def test_a_killed_worker_s_import_is_resumed_by_the_next_without_adding_a_row_twice(project):
    dataset = DatasetFactory(project=project)
    content = "".join(json.dumps({"input": n}) + "\n" for n in range(ROWS))
    first = Worker(FAST_RESUME)
    try:
        job = importing.import_job_create(
            project=project, dataset=dataset, import_format="jsonl", content=content, actor=SYSTEM
        )
        wait_for(lambda: progress(job.pk)[1] >= 2 * importing.BATCH_SIZE, timeout=60, message="two batches imported")
    finally:
        first.kill()
    status, done_before_kill = progress(job.pk)
    assert status == ImportStatus.RUNNING and done_before_kill < ROWS
    assert DatasetItem.objects.filter(dataset=dataset).count() == done_before_kill

    # Nothing redelivers the lost task (Redis pops it without acknowledgement, the database
    # broker would wait an hour): the new cluster's sweep re-enqueues the job once its lease expires.
    with qcluster(FAST_RESUME):
        wait_for(lambda: progress(job.pk)[0] == ImportStatus.COMPLETED, timeout=120, message="resumed import")

    job.refresh_from_db()
    assert (job.progress_total, job.progress_done, job.progress_added, job.progress_failed) == (ROWS, ROWS, ROWS, 0)
    assert job.attempts == 2 and job.lease_token is None and job.message == f"Added {ROWS} items"
    inputs = list(DatasetItem.objects.filter(dataset=dataset).values_list("input", flat=True))
    assert len(inputs) == ROWS and sorted(inputs) == list(range(ROWS))
