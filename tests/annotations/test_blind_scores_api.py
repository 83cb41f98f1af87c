"""Blind annotation on GET /api/public/scores: an ANNOTATOR key (an annotation tool's) does not
read queue annotations of items still pending; every other key reads the Langfuse wire unchanged."""

import pytest

from annotations.claims import ScoreInput, queue_item_claim_next, queue_item_submit
from evalsite.tenancy.roles import Role
from tests.annotations.factories import QueueFactory, QueueItemFactory
from tests.scoring.factories import CategoricalConfigFactory, ScoreFactory
from tests.support.api import ApiClient
from tests.tenancy.factories import api_key_for, user_with_role
from tests.traces.factories import TraceFactory

pytestmark = pytest.mark.django_db


def annotate(project, queue, user, label):
    item = queue_item_claim_next(project=project, queue=queue, user=user, role=Role.ANNOTATOR)
    queue_item_submit(project=project, item=item, user=user, role=Role.ANNOTATOR, scores=[ScoreInput(queue.score_config_ids[0], label)])


def test_an_annotator_key_reads_queue_annotations_only_once_the_item_is_complete(project):
    config = CategoricalConfigFactory(project=project, name="quality")
    queue = QueueFactory(project=project, score_config_ids=[config.id], annotators_per_item=2)
    TraceFactory(project=project, trace_id="t1")
    QueueItemFactory(queue=queue, object_id="t1")
    ScoreFactory(project=project, name="accuracy", trace_id="t1", score_id="api-score")
    first, second = user_with_role(project, Role.ANNOTATOR), user_with_role(project, Role.ANNOTATOR)
    annotate(project, queue, first, "good")

    annotator_key = ApiClient(api_key_for(project, Role.ANNOTATOR))
    admin_key = ApiClient(api_key_for(project, Role.ADMIN))
    seen = annotator_key.get("scores", traceId="t1").json()
    assert [s["id"] for s in seen["data"]] == ["api-score"] and seen["meta"]["totalItems"] == 1
    hidden_id = next(s["id"] for s in admin_key.get("scores", traceId="t1").json()["data"] if s["queueId"])
    assert annotator_key.get(f"scores/{hidden_id}").status_code == 404
    assert admin_key.get(f"scores/{hidden_id}").status_code == 200
    assert ApiClient(api_key_for(project, Role.VIEWER)).get("scores", traceId="t1").json()["meta"]["totalItems"] == 2
    # The trace API carries the same scores as the scores API, for each key.
    assert [s["id"] for s in annotator_key.get("traces/t1").json()["scores"]] == ["api-score"]
    assert annotator_key.get("traces").json()["data"][0]["scores"] == ["api-score"]
    assert hidden_id in [s["id"] for s in admin_key.get("traces/t1").json()["scores"]]

    annotate(project, queue, second, "bad")  # the item's N-th submission: complete, no longer blind
    assert annotator_key.get("scores", traceId="t1").json()["meta"]["totalItems"] == 3
    assert annotator_key.get(f"scores/{hidden_id}").status_code == 200
    assert len(annotator_key.get("traces/t1").json()["scores"]) == 3
