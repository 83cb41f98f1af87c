"""Queue rules through a real `manage.py qcluster` (PostgreSQL; the Redis broker when REDIS_URL is
set): the scores API and online evaluation commit scores, a worker fills the queue."""

import pytest
from django_q.conf import Conf

from annotations.models import QueueItem
from evaluators.services import evaluation_rule_create
from tests.annotations.factories import QueueFactory, QueueRuleFactory
from tests.evaluators.setup import check_evaluator
from tests.ingestion.spans import protobuf_body, sdk_trace
from tests.support.worker import qcluster, require_postgresql, wait_for

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.live]


@pytest.fixture(autouse=True)
def enqueue_to_the_real_broker(monkeypatch):
    require_postgresql()
    monkeypatch.setattr(Conf, "SYNC", False)


def test_scores_from_the_api_and_from_an_online_judge_fill_the_queue_in_a_worker(api, project):
    queue = QueueFactory(project=project)
    QueueRuleFactory(queue=queue, score_name="judge", operator="<", threshold=0.5)
    evaluator = check_evaluator(project, {"type": "contains", "value": "goodbye"}, name="says goodbye")
    evaluation_rule_create(
        project=project, name="traces", enabled=True, target="trace", filter=[],
        evaluator_assignments=[{"evaluatorId": evaluator.pk}],
    )
    QueueRuleFactory(queue=queue, score_name="says goodbye", score_source="EVAL", operator="<", threshold=0.5)
    with qcluster():
        answer = api.post("scores", [
            {"id": "low", "traceId": "api-low", "name": "judge", "value": 0.1},
            {"id": "high", "traceId": "api-high", "name": "judge", "value": 0.9},
        ])
        assert answer.status_code == 202, answer.content
        response = api.post("otel/v1/traces", protobuf_body(sdk_trace("d" * 32)), content_type="application/x-protobuf")
        assert response.status_code == 200
        wait_for(
            lambda: set(QueueItem.objects.filter(queue=queue).values_list("object_id", flat=True)) == {"api-low", "d" * 32},
            timeout=90, message="the low API score's trace and the judged trace in the queue",
        )
