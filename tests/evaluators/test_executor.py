"""Executing evaluation jobs against the fake OpenAI-compatible server (evaluators/executor.py)."""

from datetime import timedelta
from functools import partial

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from evalsite.llm import client
from evaluators import executor
from evaluators.budgets import project_budget_set
from evaluators.executor import jobs_execute, judge_trace_id
from evaluators.library import TEMPLATES, evaluator_from_template
from evaluators.models import EvaluationJob
from evaluators.offline import run_evaluate
from evaluators.services import evaluator_create, evaluator_delete, evaluator_pause
from scoring.models import Score
from tests.evaluators.setup import MODEL, boolean_judge, check_evaluator, judge_connection, numeric_judge
from tests.experiments.factories import ExperimentRunFactory, RunItemFactory
from tests.support.fake_llm import FakeLLMServer
from traces.models import Trace

pytestmark = pytest.mark.django_db


@pytest.fixture
def llm():
    with FakeLLMServer() as server:
        yield server


@pytest.fixture
def run(project):
    run = ExperimentRunFactory(project=project)
    for index in range(3):
        RunItemFactory(run=run, input=f"question {index}", output=f"answer {index}", expected_output=f"answer {index}")
    return run


def evaluate(project, run, evaluator, **assignment):
    summary = run_evaluate(project=project, run=run, evaluators=[{"evaluatorId": evaluator.pk, **assignment}])
    pks = list(EvaluationJob.objects.filter(project=project, run=run).values_list("pk", flat=True))
    jobs_execute(job_pks=pks)
    return summary


def test_a_judge_scores_every_item_once_with_tokens_cost_and_its_own_trace(project, run, llm):
    judge_connection(project, llm)
    evaluator = boolean_judge(project)
    llm.json_answer = {"reasoning": "It matches the expected answer.", "score": True}

    evaluate(project, run, evaluator)

    jobs = list(EvaluationJob.objects.filter(project=project))
    assert [job.status for job in jobs] == ["completed"] * 3
    scores = Score.objects.filter(project=project, source="EVAL")
    assert scores.count() == 3
    score = scores.get(trace_id=jobs[0].trace_id)
    assert (score.name, score.value, score.data_type) == ("correct", 1.0, "BOOLEAN")
    assert score.comment == "It matches the expected answer."
    assert score.metadata["evaluatorId"] == evaluator.pk and score.metadata["evaluatorVersion"] == 1
    job = jobs[0]
    assert job.input_tokens > 0 and job.output_tokens > 0 and job.cost > 0 and job.latency_ms is not None
    assert job.judge_trace_id == judge_trace_id(job.pk) == score.metadata["judgeTraceId"]
    judge_trace = Trace.objects.get(project=project, trace_id=job.judge_trace_id)
    assert judge_trace.environment == "langfuse-evaluation"
    # The prompt was filled from the item, and structured output was asked for.
    request = llm.chat_requests[0]
    assert "Question: question" in request.last_user_message and "Expected: answer" in request.last_user_message
    assert request.body["response_format"]["type"] == "json_schema"
    assert request.body["model"] == MODEL


def test_a_second_execution_or_backfill_never_judges_again(project, run, llm):
    judge_connection(project, llm)
    evaluator = boolean_judge(project)
    llm.json_answer = {"reasoning": "ok", "score": False}
    evaluate(project, run, evaluator)
    summary = evaluate(project, run, evaluator)

    assert summary["jobsCreated"] == 0 and summary["evaluators"][0]["alreadyEvaluated"] == 3
    assert len(llm.chat_requests) == 3
    assert Score.objects.filter(project=project, source="EVAL").count() == 3


def test_an_answer_that_does_not_fit_is_an_error_with_the_raw_answer_kept(project, run, llm):
    judge_connection(project, llm)
    evaluator = numeric_judge(project)
    llm.json_answer = {"reasoning": "very good", "score": 42}

    evaluate(project, run, evaluator)

    job = EvaluationJob.objects.filter(project=project).first()
    assert job.status == "failed" and "outside the range" in job.error
    assert '"score": 42' in job.raw_answer
    assert not Score.objects.filter(project=project, source="EVAL").exists()


def test_a_text_answer_is_read_when_structured_output_is_refused(project, run, llm):
    judge_connection(project, llm)
    evaluator = numeric_judge(project)

    def hook(request):
        if "response_format" in request.body:
            return None
        return 'Sure! {"reasoning": "decent", "score": 6}'

    llm.fail_when(contains="Rate the answer", structured=True, status=400, message="response_format is not supported")
    llm.hook = hook
    evaluate(project, run, evaluator)

    assert sorted(Score.objects.filter(project=project).values_list("value", flat=True)) == [6.0, 6.0, 6.0]


def test_a_rate_limit_is_retried_after_retry_after(project, run, llm):
    judge_connection(project, llm)
    evaluator = boolean_judge(project)
    llm.json_answer = {"reasoning": "ok", "score": True}
    llm.fail_next(1, status=429, retry_after=0.05)

    evaluate(project, run, evaluator)

    assert EvaluationJob.objects.filter(project=project, status="completed").count() == 3
    assert len(llm.chat_requests) == 4


def test_a_provider_outage_leaves_jobs_queued_for_later_never_lost(project, run, llm, monkeypatch):
    judge_connection(project, llm)
    evaluator = boolean_judge(project)
    llm.fail_when(contains="Question", status=503)
    # The client's own retries (with their backoff) are tested in tests/llm; one attempt is enough here.
    monkeypatch.setattr(executor, "chat", partial(client.chat, max_retries=0))

    evaluate(project, run, evaluator)

    jobs = EvaluationJob.objects.filter(project=project)
    assert {job.status for job in jobs} == {"queued"}
    assert all(job.retry_at is not None and "503" in job.error and job.lease_token is None for job in jobs)
    assert not Score.objects.filter(project=project).exists()


def test_paused_deleted_and_over_budget_evaluators_skip_with_the_reason(project, run, llm):
    judge_connection(project, llm)
    paused = boolean_judge(project, name="paused")
    evaluator_pause(project=project, evaluator=paused, message="noisy")
    evaluate(project, run, paused)
    assert set(EvaluationJob.objects.filter(evaluator=paused).values_list("status", "skip_reason")) == {("skipped", "paused")}

    project_budget_set(project=project, monthly_budget=0)
    budgeted = boolean_judge(project, name="budgeted")
    evaluate(project, run, budgeted)
    assert set(EvaluationJob.objects.filter(evaluator=budgeted).values_list("status", "skip_reason")) == {("skipped", "budget")}
    assert llm.chat_requests == []

    project_budget_set(project=project, monthly_budget=None)
    deleted = boolean_judge(project, name="deleted")
    run_evaluate(project=project, run=run, evaluators=[{"evaluatorId": deleted.pk}])
    evaluator_delete(project=project, evaluator=deleted)
    assert set(EvaluationJob.objects.filter(evaluator=deleted).values_list("status", "skip_reason")) == {
        ("skipped", "evaluator_deleted")
    }


def test_a_deterministic_check_scores_without_any_llm_call(project, run, llm):
    evaluator = check_evaluator(project, {"type": "exact_match"}, name="exact")
    evaluate(project, run, evaluator)

    scores = Score.objects.filter(project=project, name="exact")
    assert list(scores.values_list("value", flat=True)) == [1.0, 1.0, 1.0]
    assert "Matches" in scores.first().comment
    assert llm.chat_requests == []


def waiting_run(project, items=3):
    """A run whose jobs are created and queued, their task not yet picked up by a worker."""
    run = ExperimentRunFactory(project=project)
    for index in range(items):
        RunItemFactory(run=run, input=f"other question {index}", output=f"other answer {index}")
    return run


def job_pks(project, run):
    return list(EvaluationJob.objects.filter(project=project, run=run).order_by("pk").values_list("pk", flat=True))


def test_a_task_takes_over_its_projects_waiting_jobs_and_their_task_then_has_nothing_to_do(
    project, victim_project, run, llm
):
    judge_connection(project, llm)
    judge_connection(victim_project, llm)
    evaluator = boolean_judge(project)
    llm.json_answer = {"reasoning": "ok", "score": True}
    other, delayed, held = waiting_run(project), waiting_run(project, items=1), waiting_run(project, items=1)
    victims = waiting_run(victim_project)
    for each in (run, other, delayed, held):
        run_evaluate(project=project, run=each, evaluators=[{"evaluatorId": evaluator.pk}])
    run_evaluate(project=victim_project, run=victims, evaluators=[{"evaluatorId": boolean_judge(victim_project).pk}])
    # An online job waiting for its delay, and one another live worker holds, are not waiting jobs.
    EvaluationJob.objects.filter(run=delayed).update(not_before=timezone.now() + timedelta(minutes=5))
    EvaluationJob.objects.filter(run=held).update(status="running", lease_token="another-worker", heartbeat_at=timezone.now())

    jobs_execute(job_pks=job_pks(project, run))

    completed = set(EvaluationJob.objects.filter(status="completed").values_list("pk", flat=True))
    assert completed == set(job_pks(project, run) + job_pks(project, other))
    assert len(llm.chat_requests) == 6
    assert set(EvaluationJob.objects.filter(run=delayed).values_list("status", flat=True)) == {"queued"}
    assert set(EvaluationJob.objects.filter(run=held).values_list("lease_token", flat=True)) == {"another-worker"}
    assert set(EvaluationJob.objects.filter(project=victim_project).values_list("status", flat=True)) == {"queued"}

    # The other run's own task arrives: its jobs are taken, so it calls no judge and writes no score.
    jobs_execute(job_pks=job_pks(project, other))
    assert len(llm.chat_requests) == 6
    assert Score.objects.filter(project=project, source="EVAL").count() == 6


def test_the_first_rounds_are_claimed_alone_and_the_rest_while_they_are_judged(project, run, llm, monkeypatch):
    judge_connection(project, llm)
    summary = run_evaluate(project=project, run=run, evaluators=[{"evaluatorId": boolean_judge(project).pk}])
    assert summary["jobsCreated"] == 3
    monkeypatch.setattr(executor, "FULL_ROUNDS", 1)
    task = executor.Executor(concurrency=1)
    batches = task.batches(job_pks(project, run))

    first = next(batches)
    statuses = list(EvaluationJob.objects.filter(run=run).order_by("pk").values_list("status", flat=True))
    assert [outcome.job.pk for outcome in first] == job_pks(project, run)[:1]
    assert statuses == ["running", "queued", "queued"]
    assert [outcome.job.pk for outcome in next(batches)] == job_pks(project, run)[1:]
    assert set(EvaluationJob.objects.filter(run=run).values_list("status", flat=True)) == {"running"}
    assert next(batches, None) is None  # nothing else waiting in the project


def test_a_task_takes_over_at_most_its_limit_of_waiting_jobs(project, run, llm, monkeypatch):
    judge_connection(project, llm)
    evaluator = boolean_judge(project)
    llm.json_answer = {"reasoning": "ok", "score": True}
    other = waiting_run(project, items=5)
    for each in (run, other):
        run_evaluate(project=project, run=each, evaluators=[{"evaluatorId": evaluator.pk}])
    monkeypatch.setattr(executor, "TAKE_OVER_LIMIT", 2)
    monkeypatch.setattr(executor, "FULL_ROUNDS", 1)  # batches of the pool's width: 1 here

    executor.Executor(concurrency=1).execute(job_pks(project, run))

    # The oldest two of the other run's jobs, one batch at a time.
    statuses = list(EvaluationJob.objects.filter(run=other).order_by("pk").values_list("status", flat=True))
    assert statuses == ["completed", "completed", "queued", "queued", "queued"]
    assert EvaluationJob.objects.filter(run=run, status="completed").count() == 3


def test_an_evaluator_cannot_use_another_projects_connection(project, victim_project, llm):
    judge_connection(victim_project, llm, provider="theirs")
    with pytest.raises(ValidationError) as error:
        boolean_judge(project, provider="theirs")
    assert "model_config" in error.value.message_dict


def test_a_variable_mapping_fills_the_prompt_from_a_json_path(project, llm):
    judge_connection(project, llm)
    run = ExperimentRunFactory(project=project)
    RunItemFactory(run=run, input={"question": "q?", "context": "The sky is green."}, output="green")
    evaluator = evaluator_create(
        project=project, name="grounded", kind="llm_as_judge",
        prompt="Context: {{context}}\nAnswer: {{output}}",
        model_config={"provider": "fake", "model": MODEL},
        output_definition={"dataType": "BOOLEAN"},
        variable_mapping=[{"variable": "context", "source": "input", "jsonPath": "$.context"}],
    )
    llm.json_answer = {"reasoning": "grounded", "score": True}
    evaluate(project, run, evaluator)
    assert "Context: The sky is green." in llm.chat_requests[0].last_user_message


@pytest.mark.parametrize("key", sorted(set(TEMPLATES) - {"pairwise_preference"}))  # test_pairwise.py runs that one
def test_every_built_in_template_makes_a_working_judge(project, llm, key):
    judge_connection(project, llm)
    evaluator = evaluator_from_template(project=project, key=key, model_config={"provider": "fake", "model": MODEL})
    run = ExperimentRunFactory(project=project)
    RunItemFactory(run=run, input="Quelle heure est-il ?", output="Il est midi.", expected_output="midi")
    evaluate(project, run, evaluator, variableMapping=[{"variable": "context", "source": "expected_output"}]
             if key == "hallucination" else None)
    job = EvaluationJob.objects.get(project=project, evaluator=evaluator)
    # The fake server answers with an example of the requested schema: the answer always fits.
    assert job.status == "completed", job.error
    assert "Il est midi." in llm.chat_requests[0].text
