"""The leased-job mechanism (evalsite/jobs), on SQLite and PostgreSQL.

Import jobs stand in for any LeasedJob: the functions only see the abstract model's fields.
"""

import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.db.models import Q
from django.utils import timezone

from datasets.models import ImportFormat, ImportJob
from evalsite.jobs import (
    JobCancelled,
    JobKind,
    JobStatus,
    LeaseLost,
    job_cancel,
    job_claim,
    job_finish,
    job_kind_sweep,
    job_kinds,
    job_renew,
    jobs_claim,
    jobs_finish,
)
from tests.datasets.factories import DatasetFactory, ImportJobFactory

LEASE = 30
RESUMED: list = []
KIND = JobKind(name="test-import", model=ImportJob, task="tests.jobs.test_leases.record_resume")


def record_resume(pk) -> None:
    """The task the test kind enqueues (run inline: django-q's sync mode under pytest)."""
    RESUMED.append(pk)


@pytest.fixture(autouse=True)
def lease(settings):
    settings.EVALSITE_JOB_LEASE_SECONDS = LEASE
    RESUMED.clear()


def ago(seconds: float):
    return timezone.now() - timedelta(seconds=seconds)


def new_job(**fields) -> ImportJob:
    job = ImportJobFactory(dataset=DatasetFactory())
    if fields:
        ImportJob.objects.filter(pk=job.pk).update(**fields)
        job.refresh_from_db()
    return job


@pytest.mark.django_db
def test_of_two_claims_of_a_queued_job_only_the_first_gets_it():
    job = new_job()
    first = job_claim(ImportJob, pk=job.pk)
    second = job_claim(ImportJob, pk=job.pk)
    assert first is not None and second is None
    assert (first.status, first.attempts) == (JobStatus.RUNNING, 1) and first.lease_token
    stored = ImportJob.objects.get(pk=job.pk)
    assert (stored.status, stored.lease_token, stored.attempts) == (JobStatus.RUNNING, first.lease_token, 1)
    assert stored.started_at is not None and stored.heartbeat_at is not None


@pytest.mark.django_db
def test_finished_cancelled_and_missing_jobs_cannot_be_claimed():
    for status in (JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.CANCELLED):
        assert job_claim(ImportJob, pk=new_job(status=status).pk) is None
    assert job_claim(ImportJob, pk="no-such-job") is None


@pytest.mark.django_db
def test_a_claim_loads_the_job_through_the_given_queryset(django_assert_num_queries):
    job = new_job()
    claimed = job_claim(ImportJob.objects.defer("content").select_related("dataset"), pk=job.pk)
    with django_assert_num_queries(0):
        assert claimed.dataset.pk == job.dataset_id
    assert "content" in claimed.get_deferred_fields()


@pytest.mark.django_db
def test_a_batch_claim_takes_the_claimable_jobs_in_the_order_asked_in_a_few_queries_whatever_their_number(django_assert_num_queries):
    queued, held, done, expired = new_job(), new_job(), new_job(status=JobStatus.COMPLETED), new_job()
    holder = job_claim(ImportJob, pk=held.pk)
    job_claim(ImportJob, pk=expired.pk)
    ImportJob.objects.filter(pk=expired.pk).update(heartbeat_at=ago(LEASE + 1))

    asked = [expired.pk, done.pk, "no-such-job", held.pk, queued.pk]
    # Lock and update (PostgreSQL) or update (SQLite), then load; plus SAVEPOINT and RELEASE.
    with django_assert_num_queries(5 if connection.vendor == "postgresql" else 4):
        claimed = jobs_claim(ImportJob.objects.defer("content"), pks=asked)
    assert [job.pk for job in claimed] == [expired.pk, queued.pk]
    assert len({job.lease_token for job in claimed}) == 1 and holder.lease_token not in {j.lease_token for j in claimed}
    assert [job.attempts for job in claimed] == [2, 1] and all(job.status == JobStatus.RUNNING for job in claimed)
    job_renew(holder)  # the live lease stayed with its holder
    assert jobs_claim(ImportJob, pks=[]) == [] and jobs_claim(ImportJob, pks=[queued.pk]) == []


@pytest.mark.django_db
def test_a_batch_finish_writes_each_job_s_own_values_only_where_the_lease_still_holds():
    ours = jobs_claim(ImportJob, pks=[new_job().pk for _ in range(3)])
    lost = ours[2]
    ImportJob.objects.filter(pk=lost.pk).update(lease_token="someone-else")

    finished = jobs_finish([
        (ours[0], {"status": JobStatus.COMPLETED, "progress_done": 7, "progress_added": 5}),
        (ours[1], {"status": JobStatus.FAILED, "error": "bad row 3"}),
        (lost, {"status": JobStatus.COMPLETED, "progress_done": 99}),
    ])

    assert [job.pk for job in finished] == [ours[0].pk, ours[1].pk]
    rows = {job.pk: job for job in ImportJob.objects.filter(pk__in=[job.pk for job in ours])}
    first, second, third = rows[ours[0].pk], rows[ours[1].pk], rows[lost.pk]
    assert (first.status, first.progress_done, first.progress_added, first.error) == (JobStatus.COMPLETED, 7, 5, None)
    assert (second.status, second.error, second.progress_done) == (JobStatus.FAILED, "bad row 3", 0)
    assert first.lease_token is None and second.lease_token is None and first.finished_at is not None
    assert (third.status, third.lease_token, third.progress_done) == (JobStatus.RUNNING, "someone-else", 0)
    assert ours[0].status == JobStatus.COMPLETED and ours[0].lease_token is None  # the objects follow
    assert jobs_finish([]) == [] and jobs_finish([(first, {"status": JobStatus.COMPLETED})]) == []


@pytest.mark.django_db
def test_an_expired_lease_is_claimed_again_with_a_new_token_and_the_old_holder_is_told():
    job = new_job()
    dead = job_claim(ImportJob, pk=job.pk)
    ImportJob.objects.filter(pk=job.pk).update(heartbeat_at=ago(LEASE + 1))
    heir = job_claim(ImportJob, pk=job.pk)
    assert heir is not None and heir.lease_token != dead.lease_token and heir.attempts == 2
    with pytest.raises(LeaseLost) as lost:
        job_renew(dead)
    assert not isinstance(lost.value, JobCancelled)
    assert job_finish(dead, status=JobStatus.COMPLETED) is False
    assert ImportJob.objects.get(pk=job.pk).status == JobStatus.RUNNING


@pytest.mark.django_db
def test_a_live_lease_is_not_taken_even_by_a_later_claim():
    job = new_job()
    holder = job_claim(ImportJob, pk=job.pk)
    ImportJob.objects.filter(pk=job.pk).update(heartbeat_at=ago(LEASE - 5))
    assert job_claim(ImportJob, pk=job.pk) is None
    job_renew(holder)
    assert ImportJob.objects.get(pk=job.pk).heartbeat_at > ago(5)


@pytest.mark.django_db
def test_renewal_costs_one_query_while_the_lease_holds(django_assert_num_queries):
    holder = job_claim(ImportJob, pk=new_job().pk)
    with django_assert_num_queries(1):
        job_renew(holder)


@pytest.mark.django_db
def test_a_cancel_is_seen_at_the_next_renewal_and_stays_cancelled():
    job = new_job()
    holder = job_claim(ImportJob, pk=job.pk)
    assert job_cancel(ImportJob, pk=job.pk) is True
    with pytest.raises(JobCancelled):
        job_renew(holder)
    assert job_finish(holder, status=JobStatus.COMPLETED) is False
    stored = ImportJob.objects.get(pk=job.pk)
    assert (stored.status, stored.lease_token) == (JobStatus.CANCELLED, None) and stored.finished_at
    assert job_claim(ImportJob, pk=job.pk) is None


@pytest.mark.django_db
def test_a_copy_read_after_the_cancel_has_no_token_and_still_cannot_renew_or_finish():
    job = new_job()
    holder = job_claim(ImportJob, pk=job.pk)
    job_cancel(ImportJob, pk=job.pk)
    holder.refresh_from_db()  # lease_token is None now: it must not match the cancelled row's null token
    with pytest.raises(JobCancelled):
        job_renew(holder)
    assert job_finish(holder, status=JobStatus.COMPLETED) is False
    assert ImportJob.objects.get(pk=job.pk).status == JobStatus.CANCELLED


@pytest.mark.django_db
def test_a_finished_job_cannot_be_cancelled():
    job = new_job()
    holder = job_claim(ImportJob, pk=job.pk)
    assert job_finish(holder, status=JobStatus.FAILED, error="boom", progress_done=3) is True
    assert job_cancel(ImportJob, pk=job.pk) is False
    stored = ImportJob.objects.get(pk=job.pk)
    assert (stored.status, stored.error, stored.progress_done, stored.lease_token) == (JobStatus.FAILED, "boom", 3, None)
    assert holder.status == JobStatus.FAILED and holder.finished_at is not None


@pytest.mark.django_db
def test_the_sweep_re_enqueues_only_abandoned_jobs(django_capture_on_commit_callbacks):
    abandoned = [
        new_job(status=JobStatus.RUNNING, lease_token="dead", heartbeat_at=ago(LEASE + 1)),
        new_job(status=JobStatus.QUEUED, created_at=ago(LEASE + 1)),  # its enqueue was lost
        new_job(status=JobStatus.QUEUED, heartbeat_at=ago(LEASE + 1)),  # re-enqueued, never picked up
    ]
    alive = [
        new_job(status=JobStatus.RUNNING, lease_token="alive", heartbeat_at=ago(LEASE - 5)),
        new_job(status=JobStatus.QUEUED),  # just created: its task is on its way
        new_job(status=JobStatus.QUEUED, heartbeat_at=ago(1)),  # just re-enqueued
        new_job(status=JobStatus.COMPLETED, heartbeat_at=ago(LEASE * 10), created_at=ago(LEASE * 10)),
        new_job(status=JobStatus.CANCELLED, created_at=ago(LEASE * 10)),
    ]
    with django_capture_on_commit_callbacks(execute=True):
        swept = job_kind_sweep(KIND)
    assert sorted(swept) == sorted(job.pk for job in abandoned) == sorted(RESUMED)
    for job in ImportJob.objects.filter(pk__in=swept):
        assert job.lease_token is None and job.heartbeat_at > ago(5)
    assert ImportJob.objects.get(pk=alive[0].pk).lease_token == "alive"
    # The heartbeat the sweep set keeps the next sweeps off these jobs for one lease.
    with django_capture_on_commit_callbacks(execute=True):
        assert job_kind_sweep(KIND) == []
    # And the job a dead worker held is now claimable at once.
    assert job_claim(ImportJob, pk=abandoned[0].pk) is not None


@pytest.mark.django_db
def test_the_sweep_keeps_to_its_kind_s_scope(django_capture_on_commit_callbacks):
    csv_job = new_job(format=ImportFormat.CSV, created_at=ago(LEASE + 1))
    new_job(format=ImportFormat.JSONL, created_at=ago(LEASE + 1))
    csv_only = JobKind(name="csv", model=ImportJob, task=KIND.task, scope=Q(format=ImportFormat.CSV))
    with django_capture_on_commit_callbacks(execute=True):
        assert job_kind_sweep(csv_only) == [csv_job.pk]


def test_apps_register_their_job_kinds():
    registered = {kind.name: kind for kind in job_kinds}
    assert registered["dataset-import"].task == "datasets.tasks.run_import"
    assert registered["experiment-run"].task == "experiments.tasks.execute_run"


@pytest.mark.django_db(transaction=True)
def test_of_claims_racing_in_threads_exactly_one_wins():
    if connection.vendor == "sqlite":
        pytest.skip("threads cannot share the in-memory SQLite test database; runs on PostgreSQL")
    jobs = [new_job() for _ in range(5)]
    for job in jobs:
        barrier, won = threading.Barrier(4), []

        def claim(pk=job.pk, barrier=barrier, won=won):
            try:
                barrier.wait()
                won.append(job_claim(ImportJob, pk=pk))
            finally:
                connection.close()

        threads = [threading.Thread(target=claim) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        winners = [claimed for claimed in won if claimed is not None]
        assert len(winners) == 1 and ImportJob.objects.get(pk=job.pk).lease_token == winners[0].lease_token


@pytest.mark.django_db(transaction=True)
def test_of_batch_claims_racing_in_threads_each_job_goes_to_exactly_one():
    if connection.vendor == "sqlite":
        pytest.skip("threads cannot share the in-memory SQLite test database; runs on PostgreSQL")
    pks = [new_job().pk for _ in range(40)]
    barrier, claimed = threading.Barrier(4), []

    def claim(offset):
        try:
            barrier.wait()
            claimed.extend(jobs_claim(ImportJob, pks=pks[offset:] + pks[:offset]))
        finally:
            connection.close()

    threads = [threading.Thread(target=claim, args=(offset,)) for offset in (0, 10, 20, 30)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(job.pk for job in claimed) == sorted(pks)
    stored = dict(ImportJob.objects.filter(pk__in=pks).values_list("pk", "lease_token"))
    assert all(stored[job.pk] == job.lease_token for job in claimed)
