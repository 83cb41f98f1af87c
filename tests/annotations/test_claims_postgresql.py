"""The claim under concurrency, and its plan, on PostgreSQL (SQLite runs one writer at a time)."""

import random
import threading
from collections import Counter, defaultdict

import pytest
from django.db import connection, connections

from annotations.claims import ScoreInput, claim_sql, queue_item_claim_next, queue_item_submit
from annotations.models import ItemAnnotation, ItemStatus, QueueItem
from evalsite.db import is_postgresql
from evalsite.tenancy.roles import Role
from scoring.models import Score
from tests.annotations.factories import QueueFactory
from tests.scoring.factories import CategoricalConfigFactory
from tests.tenancy.factories import UserFactory, user_with_role

pytestmark = pytest.mark.skipif(not is_postgresql(), reason="row locks and plans are PostgreSQL's")


def bulk_items(project, queue, count, *, status="PENDING", start=0):
    QueueItem.objects.bulk_create(
        [
            QueueItem(project=project, queue=queue, object_type="TRACE", object_id=f"trace-{start + n:06d}", status=status)
            for n in range(count)
        ],
        batch_size=2000,
    )


@pytest.mark.django_db(transaction=True)
def test_sixteen_annotators_share_two_thousand_items_with_two_annotators_each(project):
    config = CategoricalConfigFactory(project=project)
    queue = QueueFactory(project=project, score_config_ids=[config.id], annotators_per_item=2)
    bulk_items(project, queue, 2000)
    annotators = [UserFactory() for _ in range(16)]
    from tests.tenancy.factories import OrganizationMembershipFactory

    for user in annotators:
        OrganizationMembershipFactory(organization=project.organization, user=user, role=Role.ANNOTATOR)
    seen: dict[int, list[str]] = defaultdict(list)
    overlaps: list[str] = []
    holding: dict[str, int] = {}
    guard = threading.Lock()
    errors: list[BaseException] = []

    def work(user):
        try:
            rng = random.Random(user.pk)
            while True:
                item = queue_item_claim_next(project=project, queue=queue, user=user, role=Role.ANNOTATOR)
                if item is None:
                    return
                with guard:
                    if holding.get(item.pk) not in (None, user.pk):
                        overlaps.append(item.pk)
                    holding[item.pk] = user.pk
                    seen[user.pk].append(item.pk)
                label = rng.choice(["good", "ok", "bad"])
                with guard:
                    holding.pop(item.pk, None)
                queue_item_submit(project=project, item=item, user=user, role=Role.ANNOTATOR, scores=[ScoreInput(config.id, label)])
        except BaseException as error:  # noqa: BLE001 - reported by the main thread
            errors.append(error)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=work, args=(user,)) for user in annotators]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert overlaps == []
    for user_id, items in seen.items():
        assert len(items) == len(set(items)), f"user {user_id} got an item twice"
    per_item = Counter(ItemAnnotation.objects.filter(queue=queue).values_list("item_id", flat=True))
    assert set(per_item.values()) == {2} and len(per_item) == 2000
    assert not QueueItem.objects.filter(queue=queue).exclude(status=ItemStatus.COMPLETED).exists()
    assert QueueItem.objects.filter(queue=queue, submissions=2).count() == 2000
    assert Score.objects.filter(queue_id=queue.pk).count() == 4000
    assert Score.objects.filter(queue_id=queue.pk).values("trace_id", "author_user_id").distinct().count() == 4000


@pytest.mark.django_db
def test_the_claim_uses_the_partial_pending_index_on_a_table_of_many_queues(project):
    config = CategoricalConfigFactory(project=project)
    queues = [QueueFactory(project=project, score_config_ids=[config.id]) for _ in range(40)]
    for index, queue in enumerate(queues):
        bulk_items(project, queue, 1500, status="COMPLETED", start=index * 10_000)
        bulk_items(project, queue, 500, start=index * 10_000 + 5_000)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE annotations_queueitem")
        cursor.execute("ANALYZE annotations_itemannotation")
    user = user_with_role(project, Role.ANNOTATOR)
    sql = claim_sql(connection.vendor)
    from django.utils import timezone

    now = timezone.now()
    params = {"user": user.pk, "until": now, "now": now, "project": project.pk, "queue": queues[7].pk}
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN " + sql, params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "queueitem_pending" in plan, plan
    assert "Seq Scan on annotations_queueitem" not in plan, plan
    claimed = queue_item_claim_next(project=project, queue=queues[7], user=user, role=Role.ANNOTATOR)
    assert claimed.queue_id == queues[7].pk and claimed.status == "PENDING"
