"""Online rules on ingested traces: filters, sampling, delay, once per version, judge traces."""

import pytest
from django.utils import timezone

from evalsite.tenancy.roles import Role
from evaluators import online
from evaluators.executor import jobs_execute
from evaluators.models import EvaluationJob
from evaluators.online import dispatch_due, sampled_in
from evaluators.services import evaluation_rule_create, evaluation_rule_update
from scoring.models import Score
from tests.evaluators.setup import boolean_judge, check_evaluator, judge_connection
from tests.ingestion.spans import protobuf_body, sdk_trace
from tests.support.fake_llm import FakeLLMServer
from tests.tenancy.factories import user_with_role

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def fresh_rule_cache():
    online._enabled_cache.clear()


def ingest(api, spans, capture):
    with capture(execute=True):
        response = api.post("otel/v1/traces", protobuf_body(spans), content_type="application/x-protobuf")
    assert response.status_code == 200


def generation_rule(project, evaluator, **extra):
    return evaluation_rule_create(
        project=project, name="generations", enabled=True,
        filter=[{"type": "stringOptions", "column": "type", "operator": "any of", "value": ["GENERATION"]}],
        evaluator_assignments=[{"evaluatorId": evaluator.pk}], **extra,
    )


def test_a_rule_judges_the_matching_observations_of_ingested_traces_once(api, project, django_capture_on_commit_callbacks):
    evaluator = check_evaluator(project, {"type": "contains", "value": "hello"}, name="greets")
    generation_rule(project, evaluator)

    ingest(api, sdk_trace("a" * 32), django_capture_on_commit_callbacks)
    ingest(api, sdk_trace("a" * 32), django_capture_on_commit_callbacks)  # the same trace again

    jobs = EvaluationJob.objects.filter(project=project)
    assert jobs.count() == 1 and jobs.get().status == "completed"
    score = Score.objects.get(project=project, name="greets")
    assert score.value == 1.0 and score.observation_id == jobs.get().observation_id


def test_filters_that_do_not_hold_create_no_job(api, project, django_capture_on_commit_callbacks):
    evaluator = check_evaluator(project, {"type": "valid_json"})
    evaluation_rule_create(
        project=project, name="support only", enabled=True, target="trace",
        filter=[{"type": "stringObject", "column": "metadata", "key": "team", "operator": "=", "value": "support"}],
        evaluator_assignments=[{"evaluatorId": evaluator.pk}],
    )
    ingest(api, sdk_trace("b" * 32), django_capture_on_commit_callbacks)
    assert not EvaluationJob.objects.filter(project=project).exists()


def test_sampling_is_reproducible_and_close_to_the_rate():
    decisions = [sampled_in("rule-1", f"obj-{i}", 0.1) for i in range(5000)]
    assert decisions == [sampled_in("rule-1", f"obj-{i}", 0.1) for i in range(5000)]
    assert 400 < sum(decisions) < 600
    assert decisions != [sampled_in("rule-2", f"obj-{i}", 0.1) for i in range(5000)]


def test_a_delayed_job_waits_for_the_dispatcher_and_an_update_pushes_it_back(api, project, django_capture_on_commit_callbacks):
    evaluator = check_evaluator(project, {"type": "contains", "value": "hello"})
    generation_rule(project, evaluator, delay_seconds=30)
    ingest(api, sdk_trace("c" * 32), django_capture_on_commit_callbacks)
    job = EvaluationJob.objects.get(project=project)
    first_due = job.not_before
    assert job.status == "queued" and first_due > timezone.now()
    assert dispatch_due() == []

    ingest(api, sdk_trace("c" * 32), django_capture_on_commit_callbacks)
    job.refresh_from_db()
    assert job.not_before > first_due

    EvaluationJob.objects.filter(pk=job.pk).update(not_before=timezone.now())
    with django_capture_on_commit_callbacks(execute=True):
        assert dispatch_due() == [job.pk]
    job.refresh_from_db()
    assert job.status == "completed"


def test_judge_traces_never_trigger_rules(api, project, django_capture_on_commit_callbacks):
    with FakeLLMServer() as llm:
        judge_connection(project, llm)
        judge = boolean_judge(project)
        evaluation_rule_create(
            project=project, name="every trace", enabled=True, target="trace",
            evaluator_assignments=[{"evaluatorId": judge.pk}],
        )
        llm.json_answer = {"reasoning": "ok", "score": True}
        ingest(api, sdk_trace("d" * 32), django_capture_on_commit_callbacks)
        job = EvaluationJob.objects.get(project=project)
        assert job.status == "completed" and job.judge_trace_id

        # Even handed to matching explicitly, the judge's trace is not judged.
        assert online.ingested_match(project=project, trace_ids=[job.judge_trace_id], observation_ids=[]) == 0
    assert EvaluationJob.objects.filter(project=project).count() == 1


def test_a_rule_never_sees_another_projects_traces(api, victim_api, project, victim_project, django_capture_on_commit_callbacks):
    evaluator = check_evaluator(project, {"type": "valid_json"})
    evaluation_rule_create(project=project, name="all", enabled=True, target="trace",
                           evaluator_assignments=[{"evaluatorId": evaluator.pk}])
    ingest(victim_api, sdk_trace("e" * 32), django_capture_on_commit_callbacks)
    online.ingested_match(project=project, trace_ids=["e" * 32], observation_ids=[])
    assert not EvaluationJob.objects.exists()


def test_experiment_item_rules_judge_every_new_item_of_the_dataset(api, project, django_capture_on_commit_callbacks):
    from tests.datasets.factories import DatasetFactory
    from tests.experiments.factories import ExperimentRunFactory, RunItemFactory
    from tests.traces.factories import ObservationFactory, TraceFactory

    dataset = DatasetFactory(project=project)
    evaluator = check_evaluator(project, {"type": "exact_match"})
    rule = evaluation_rule_create(
        project=project, name="every item", enabled=True,
        filter=[
            {"type": "boolean", "column": "isExperimentItemRootSpan", "operator": "=", "value": True},
            {"type": "stringOptions", "column": "datasetId", "operator": "any of", "value": [dataset.pk]},
        ],
        evaluator_assignments=[{"evaluatorId": evaluator.pk}],
    )
    run = ExperimentRunFactory(project=project, dataset=dataset)
    item = RunItemFactory(run=run, output="x", expected_output="x")
    trace = TraceFactory(project=project, trace_id=item.trace_id)
    root = ObservationFactory(project=project, trace_id=trace.trace_id, observation_id=item.observation_id, output="x")
    child = ObservationFactory(project=project, trace_id=trace.trace_id, parent_observation_id=root.observation_id)
    other_run = ExperimentRunFactory(project=project)
    other = RunItemFactory(run=other_run)
    ObservationFactory(project=project, trace_id=other.trace_id, observation_id=other.observation_id)

    with django_capture_on_commit_callbacks(execute=True):
        online.ingested_match(project=project, trace_ids=[], observation_ids=[root.observation_id, child.observation_id, other.observation_id])
    job = EvaluationJob.objects.get(project=project)
    assert job.target_id == root.observation_id and job.rule_id == rule.pk and job.status == "completed"
    assert Score.objects.get(project=project, observation_id=root.observation_id).value == 1.0

    evaluation_rule_update(project=project, rule=rule, enabled=False)
    jobs_execute(job_pks=[job.pk])  # finished: nothing happens
    assert Score.objects.filter(project=project).count() == 1


def test_why_didnt_it_fire_names_the_filter_sampling_and_job_of_each_rule(api, client, project, django_capture_on_commit_callbacks):
    evaluator = check_evaluator(project, {"type": "contains", "value": "hello"}, name="greets")
    generation_rule(project, evaluator)
    evaluation_rule_create(
        project=project, name="never", enabled=True, target="trace", sampling=0.0,
        evaluator_assignments=[{"evaluatorId": evaluator.pk}],
    )
    ingest(api, sdk_trace("f" * 32), django_capture_on_commit_callbacks)

    decisions = api.get("v2/evaluation-rules/decisions", traceId="f" * 32).json()["data"]
    by_rule = {}
    for d in decisions:
        by_rule.setdefault(d["ruleName"], []).append(d)
    assert [d["decision"] for d in by_rule["never"]] == ["sampled_out"]
    generations = [d for d in by_rule["generations"] if d["decision"] == "done"]
    assert len(generations) == 1 and generations[0]["scoreId"]
    assert any(d["decision"] == "filtered" and "type any of ['GENERATION']" in d["reason"] for d in by_rule["generations"])

    client.force_login(user_with_role(project, Role.VIEWER, staff=False))
    page = client.get(f"/projects/{project.pk}/traces/{'f' * 32}")
    assert page.status_code == 200
    assert b'id="evaluations"' in page.content and b"sampled out at sampling 0" in page.content


def test_a_rule_backfill_estimates_first_then_creates_the_jobs(api, project, django_capture_on_commit_callbacks):
    from tests.traces.factories import TraceFactory

    with FakeLLMServer() as llm:
        judge_connection(project, llm)
        judge = boolean_judge(project)
    for index in range(4):
        TraceFactory(project=project, trace_id=f"{index:032x}", timestamp=timezone.now())
    rule = evaluation_rule_create(project=project, name="old", enabled=False, target="trace",
                                  evaluator_assignments=[{"evaluatorId": judge.pk}])
    window = {"fromTimestamp": "2020-01-01T00:00:00Z", "toTimestamp": "2100-01-01T00:00:00Z"}

    estimate = api.post(f"v2/evaluation-rules/{rule.pk}/backfill", window).json()["estimate"]
    assert (estimate["objects"], estimate["sampled"]) == (4, 4)
    assert estimate["estimatedTokens"] > 0 and estimate["estimatedCost"] > 0
    assert not EvaluationJob.objects.exists()

    response = api.post(f"v2/evaluation-rules/{rule.pk}/backfill", {**window, "confirm": True})
    assert response.status_code == 202 and response.json()["jobsCreated"] == 4
