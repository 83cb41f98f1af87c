"""Concurrent ingestion of the same traces on PostgreSQL equals ingesting them one by one."""

import random
import threading

import pytest
from django.db import connection

from ingestion.services import spans_ingest
from tests.ingestion.spans import sdk_trace
from tests.ingestion.test_ingestion_merge import snapshot

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        connection.vendor != "postgresql",
        reason="SQLite runs one writer at a time (IMMEDIATE transactions): there is no concurrent write to test",
    ),
]

THREADS = 8
TRACES = 24


def test_threads_ingesting_the_same_traces_at_once_store_what_a_sequential_run_stores(project, victim_project):
    spans = [span for n in range(TRACES) for span in sdk_trace(f"{n + 1:032x}", offset=n)]
    # Each thread sends every span of its share, in its own order, in three requests; the shares
    # overlap, so most spans arrive two or three times and from different threads at once.
    rng = random.Random(7)
    shares = []
    for thread in range(THREADS):
        share = [span for index, span in enumerate(spans) if index % THREADS != thread]
        rng.shuffle(share)
        shares.append([share[i::3] for i in range(3)])

    barrier = threading.Barrier(THREADS)
    errors = []

    def work(requests):
        try:
            barrier.wait()
            for request in requests:
                spans_ingest(project=project, spans=[span.mapped() for span in request])
        except Exception as error:  # reported below: a deadlock or lost update fails the test
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=work, args=(share,)) for share in shares]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []

    for span in spans:
        spans_ingest(project=victim_project, spans=[span.mapped()])
    concurrent, sequential = snapshot(project), snapshot(victim_project)
    for rows in (*concurrent, *sequential):
        for row in rows.values():
            row.pop("project_id")
    assert len(concurrent[0]) == TRACES and len(concurrent[1]) == TRACES * 4
    assert concurrent == sequential
