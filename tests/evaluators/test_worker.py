"""Evaluation through a real `manage.py qcluster` (PostgreSQL; the Redis broker when REDIS_URL is set)."""

import pytest
from django.db.models import Count
from django_q.conf import Conf

from evaluators.models import EvaluationJob
from evaluators.services import evaluation_rule_create
from scoring.models import Score
from tests.evaluators.setup import boolean_judge, judge_connection
from tests.experiments.factories import ExperimentRunFactory, RunItemFactory
from tests.ingestion.spans import protobuf_body, sdk_trace
from tests.support.fake_llm import FakeLLMServer
from tests.support.worker import Worker, qcluster, require_postgresql, wait_for

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.live]

FAST_RESUME = {"EVALSITE_JOB_LEASE_SECONDS": "3", "EVALSITE_JOB_SWEEP_SECONDS": "1"}


def wait_until_ready():
    """Until the cluster reports itself (its workers forked): a loaded machine can take seconds."""
    from django_q.status import Stat

    wait_for(lambda: any(stat.status in ("Idle", "Working") for stat in Stat.get_all()), timeout=60,
             interval=0.5, message="the worker cluster to start")


@pytest.fixture(autouse=True)
def enqueue_to_the_real_broker(monkeypatch):
    require_postgresql()
    monkeypatch.setattr(Conf, "SYNC", False)


def test_an_online_rule_judges_ingested_sdk_traces_once_each_in_a_worker(api, project):
    with FakeLLMServer(latency=0.02) as llm:
        judge_connection(project, llm)
        judge = boolean_judge(project, prompt="Is {{output}} a greeting?")
        llm.json_answer = {"reasoning": "it greets", "score": True}
        evaluation_rule_create(
            project=project, name="generations", enabled=True, delay_seconds=1,
            filter=[{"type": "stringOptions", "column": "type", "operator": "any of", "value": ["GENERATION"]}],
            evaluator_assignments=[{"evaluatorId": judge.pk}],
        )
        with qcluster(FAST_RESUME):
            wait_until_ready()
            for index in range(5):
                trace = sdk_trace(f"{index + 1:032x}")  # an all-zero trace id is invalid in OTLP
                for _ in range(2):  # each trace arrives twice: still judged once
                    response = api.post("otel/v1/traces", protobuf_body(trace), content_type="application/x-protobuf")
                    assert response.status_code == 200
            wait_for(
                lambda: EvaluationJob.objects.filter(project=project, status="completed").count() == 5,
                timeout=60, message="five judged generations",
            )
        assert len(llm.chat_requests) == 5
    per_observation = dict(
        Score.objects.filter(project=project, source="EVAL").values_list("observation_id").annotate(n=Count("id"))
    )
    assert len(per_observation) == 5 and set(per_observation.values()) == {1}


def test_a_killed_worker_s_jobs_are_resumed_without_a_second_score_or_judge_call(api, project):
    run = ExperimentRunFactory(project=project)
    for index in range(30):
        RunItemFactory(run=run, input=f"q{index}", output=f"marker-{index:02d}-end", expected_output="x")
    with FakeLLMServer(latency=0.2) as llm:
        judge_connection(project, llm)
        judge = boolean_judge(project, prompt="Is {{output}} right?")
        llm.json_answer = {"reasoning": "fine", "score": False}
        first = Worker({**FAST_RESUME, "EVALSITE_EVAL_CONCURRENCY": "2"})
        try:
            wait_until_ready()
            response = api.post(f"experiments/runs/{run.run_id}/evaluations", {"evaluators": [{"evaluatorId": judge.pk}]})
            assert response.status_code == 202
            wait_for(lambda: EvaluationJob.objects.filter(project=project, status="completed").count() >= 6,
                     timeout=60, message="six jobs recorded")
        finally:
            first.kill()
        recorded = list(EvaluationJob.objects.filter(project=project, status="completed").values_list("target_id", flat=True))
        assert len(recorded) < 30

        with qcluster({**FAST_RESUME, "EVALSITE_EVAL_CONCURRENCY": "4"}):
            wait_for(lambda: EvaluationJob.objects.filter(project=project, status="completed").count() == 30,
                     timeout=90, message="every job done after the resumption")

        calls = [request.last_user_message for request in llm.chat_requests]
    outputs = dict(run.items.values_list("pk", "output"))
    for target_id in recorded:
        marker = outputs[int(target_id)]
        assert sum(marker in call for call in calls) == 1, marker
    per_trace = dict(Score.objects.filter(project=project, source="EVAL").values_list("trace_id").annotate(n=Count("id")))
    assert len(per_trace) == 30 and set(per_trace.values()) == {1}
