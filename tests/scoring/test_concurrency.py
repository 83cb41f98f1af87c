"""Concurrent batches sharing score ids (PostgreSQL: real row locks between connections)."""

import threading

import pytest
from django.db import connection, connections

from scoring.models import Score
from scoring.services import scores_ingest

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="row-lock ordering matters on PostgreSQL only"),
]


def test_concurrent_batches_with_shared_ids_neither_deadlock_nor_duplicate(project):
    ids = [f"{i:016x}" for i in range(60)]
    failures = []

    def send(worker: int):
        try:
            # Each worker sends the shared ids in its own order.
            order = ids[worker * 15 :] + ids[: worker * 15]
            for _ in range(3):
                items = [{"id": i, "name": "n", "value": worker, "traceId": "t"} for i in order]
                assert scores_ingest(project=project, items=items).errors == []
        except Exception as error:  # reported below: a thread's exception would otherwise vanish
            failures.append(error)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=send, args=(w,)) for w in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    assert Score.objects.filter(project=project).count() == 60
    assert set(Score.objects.values_list("value", flat=True)) <= {0.0, 1.0, 2.0, 3.0}
