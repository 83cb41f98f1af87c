"""Queue rules: new scores under (or over) a threshold bring their traces to a queue, after the
commit, in a worker task, sampled reproducibly, filtered like evaluator rules, never across projects."""

import pytest
from django.core.exceptions import ValidationError

from annotations import rules
from annotations.models import QueueItem
from annotations.rules import queue_rule_backfill, queue_rules_apply, sampled
from annotations.services import queue_rule_create, queue_rule_update
from evalsite.tenancy.roles import Role
from evaluators import online
from scoring.services import scores_ingest
from tests.annotations.factories import QueueFactory, QueueRuleFactory
from tests.evaluators.setup import check_evaluator
from tests.ingestion.spans import protobuf_body, sdk_trace
from tests.scoring.factories import ScoreFactory
from tests.support.api import ApiClient
from tests.tenancy.factories import api_key_for
from tests.traces.factories import TraceFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def fresh_rule_caches():
    rules._watched_cache.clear()
    online._enabled_cache.clear()


def queued(queue) -> set[str]:
    return set(QueueItem.objects.filter(queue=queue).values_list("object_id", flat=True))


def score(trace_id: str, value, *, name="judge", **extra) -> dict:
    return {"id": f"s-{name}-{trace_id}", "traceId": trace_id, "name": name, "value": value, **extra}


def test_a_low_score_queues_its_trace_once_and_only_after_the_commit(project, django_capture_on_commit_callbacks):
    queue = QueueFactory(project=project)
    queue_rule_create(project=project, queue=queue, name="low judge", score_name="judge", operator="<", threshold=0.5)
    rules._watched_cache.clear()
    items = [score("t-low", 0.2), score("t-edge", 0.5), score("t-high", 0.9), score("t-other", 0.1, name="other")]
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        scores_ingest(project=project, items=items)
    assert queued(queue) == set()  # nothing is matched inside the writing transaction
    with django_capture_on_commit_callbacks(execute=True):
        for callback in callbacks:
            callback()  # the hook, which enqueues the task; the task runs (sync mode) after this commit
    assert queued(queue) == {"t-low"}
    with django_capture_on_commit_callbacks(execute=True):
        scores_ingest(project=project, items=[score("t-low", 0.1)])  # the same score again
    assert QueueItem.objects.filter(queue=queue).count() == 1


def test_a_rule_never_adds_another_projects_traces(project, victim_project, django_capture_on_commit_callbacks):
    queue = QueueFactory(project=project)
    QueueRuleFactory(queue=queue)
    victim_queue = QueueFactory(project=victim_project)
    with django_capture_on_commit_callbacks(execute=True):
        scores_ingest(project=victim_project, items=[score("victim-trace", 0.1)])
    assert queued(queue) == set() and queued(victim_queue) == set()
    # Even handed the victim's score ids, the task reads scores in its own project only.
    assert queue_rules_apply(project=project, score_ids=["s-judge-victim-trace"]) == {}
    assert queued(queue) == set()


def test_sampling_is_a_stable_draw_per_rule_and_trace(project):
    queue = QueueFactory(project=project)
    rule = QueueRuleFactory(queue=queue, sample_rate=0.4)
    traces = [f"trace-{n}" for n in range(60)]
    for trace_id in traces:
        ScoreFactory(project=project, name="judge", value=0.1, trace_id=trace_id)
    expected = {t for t in traces if sampled(t, rate=0.4, salt=rule.pk)}
    assert 0 < len(expected) < 60
    assert queue_rule_backfill(project=project, rule=rule) == (len(expected), 0)
    assert queued(queue) == expected
    # Run again (as a retried task or a second backfill would): the same draw, nothing new.
    assert queue_rule_backfill(project=project, rule=rule) == (0, len(expected))
    assert queued(queue) == expected


def test_filters_are_the_evaluator_rules_trace_filters(project):
    queue = QueueFactory(project=project)
    rule = QueueRuleFactory(
        queue=queue,
        filter=[{"type": "stringOptions", "column": "environment", "operator": "any of", "value": ["production"]}],
    )
    TraceFactory(project=project, trace_id="prod", environment="production")
    TraceFactory(project=project, trace_id="staging", environment="staging")
    for trace_id in ("prod", "staging", "not-stored-yet"):
        ScoreFactory(project=project, name="judge", value=0.0, trace_id=trace_id)
    queue_rule_backfill(project=project, rule=rule)
    assert queued(queue) == {"prod"}


def test_source_and_data_type_narrow_what_a_rule_sees(project, django_capture_on_commit_callbacks):
    queue = QueueFactory(project=project)
    QueueRuleFactory(queue=queue, score_source="EVAL", operator=">=", threshold=1)
    with django_capture_on_commit_callbacks(execute=True):
        scores_ingest(project=project, items=[score("by-api", 1.0)])
        scores_ingest(project=project, items=[score("by-judge", 1.0)], source_override="EVAL")
        scores_ingest(project=project, items=[score("text", "1", dataType="CATEGORICAL")], source_override="EVAL")
    assert queued(queue) == {"by-judge"}


def test_a_disabled_rule_does_nothing_and_bad_rules_are_refused_by_field(project, django_capture_on_commit_callbacks):
    queue = QueueFactory(project=project)
    rule = QueueRuleFactory(queue=queue)
    queue_rule_update(project=project, rule=rule, enabled=False)
    rules._watched_cache.clear()
    with django_capture_on_commit_callbacks(execute=True):
        scores_ingest(project=project, items=[score("t", 0.0)])
    assert queued(queue) == set()
    with pytest.raises(ValidationError) as refused:
        queue_rule_create(
            project=project, queue=queue, name="", score_name="judge", operator="~", threshold=float("nan"),
            sample_rate=0, filter=[{"type": "stringOptions", "column": "model", "operator": "any of", "value": ["x"]}],
        )
    assert set(refused.value.message_dict) == {"name", "operator", "threshold", "sample_rate", "filter"}
    assert "applies to observations" in refused.value.message_dict["filter"][0]


def test_an_evaluator_judging_an_ingested_trace_low_brings_it_to_the_queue(api, project, django_capture_on_commit_callbacks):
    """The online loop end to end: ingestion → evaluator rule → EVAL score → queue rule → queue."""
    from evaluators.services import evaluation_rule_create

    evaluator = check_evaluator(project, {"type": "contains", "value": "goodbye"}, name="says goodbye")
    evaluation_rule_create(
        project=project, name="traces", enabled=True, target="trace", filter=[],
        evaluator_assignments=[{"evaluatorId": evaluator.pk}],
    )
    queue = QueueFactory(project=project)
    QueueRuleFactory(queue=queue, score_name="says goodbye", score_source="EVAL", operator="<", threshold=0.5)
    with django_capture_on_commit_callbacks(execute=True):
        response = api.post("otel/v1/traces", protobuf_body(sdk_trace("c" * 32)), content_type="application/x-protobuf")
    assert response.status_code == 200
    assert queued(queue) == {"c" * 32}


def test_rules_over_the_api_are_created_edited_listed_deleted_and_backfilled(api, project, django_capture_on_commit_callbacks):
    queue = QueueFactory(project=project)
    base = f"annotation-queues/{queue.pk}/rules"
    body = {"name": "low judge", "scoreName": "judge", "operator": "<", "threshold": 0.5, "sampleRate": 1}
    created = api.post(base, body)
    assert created.status_code == 201, created.content
    rule = created.json()
    assert rule["queueId"] == queue.pk and rule["scoreSource"] is None and rule["filter"] == [] and rule["enabled"]
    bad = api.post(base, {**body, "sampleRate": 2, "filter": [{"type": "string", "column": "nope"}]})
    assert bad.status_code == 400 and "sampleRate" in bad.json()["message"] and "filter" in bad.json()["message"]
    patched = api.patch(f"{base}/{rule['id']}", {"threshold": 0.3, "scoreSource": "EVAL"})
    assert patched.status_code == 200 and patched.json()["threshold"] == 0.3 and patched.json()["scoreSource"] == "EVAL"
    assert [r["id"] for r in api.get(base).json()["data"]] == [rule["id"]]
    ScoreFactory(project=project, name="judge", value=0.1, trace_id="old-trace")
    ScoreFactory(project=project, name="judge", value=0.1, trace_id="old-trace-by-judge", source="EVAL")
    ScoreFactory(project=project, name="judge", value=0.9, trace_id="old-trace-high", source="EVAL")
    with django_capture_on_commit_callbacks(execute=True):
        backfill = api.post(f"{base}/{rule['id']}/backfill")
    assert backfill.status_code == 202 and backfill.json() == {"status": "queued"}
    assert queued(queue) == {"old-trace-by-judge"}  # EVAL scores under 0.3 only
    assert api.delete(f"{base}/{rule['id']}").status_code == 204
    assert api.get(f"{base}/{rule['id']}").status_code == 404


def test_a_viewer_key_reads_rules_but_cannot_write_them(project):
    queue = QueueFactory(project=project)
    QueueRuleFactory(queue=queue)
    viewer = ApiClient(api_key_for(project, Role.VIEWER))
    assert viewer.get(f"annotation-queues/{queue.pk}/rules").status_code == 200
    refused = viewer.post(f"annotation-queues/{queue.pk}/rules", {"name": "x", "scoreName": "judge", "operator": "<", "threshold": 1})
    assert refused.status_code == 403


def test_the_rule_routes_are_in_the_openapi_schema(client):
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/json").content.decode()
    assert "/api/public/annotation-queues/{queue_id}/rules/{rule_id}/backfill" in schema
    assert "QueueRuleWrite" in schema


def test_scores_posted_to_the_scores_api_fill_the_queue(api, project, django_capture_on_commit_callbacks):
    queue = QueueFactory(project=project)
    QueueRuleFactory(queue=queue, operator=">", threshold=0.8, score_source="API")
    with django_capture_on_commit_callbacks(execute=True):
        answer = api.post("scores", [score("api-high", 0.95), score("api-mid", 0.5)])
        single = api.post("scores", score("api-single", 1.0))
    assert answer.status_code == 202 and single.status_code == 200
    assert queued(queue) == {"api-high", "api-single"}
