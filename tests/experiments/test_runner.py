"""Platform experiment runs, executed inline (django-q sync mode) against the fake LLM server."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

import evalsite.llm.client
from evalsite.jobs import JobCancelled, job_claim, jobs_sweep
from evalsite.llm.models import LlmConnection
from evalsite.tenancy.roles import Role
from experiments.models import ExperimentRun, RunItem, RunStatus
from experiments.runner import Executor, run_execute
from experiments.services import experiment_run_cancel
from tests.experiments.runner_setup import INPUT_PRICE, OUTPUT_PRICE, runner_setup, start_body
from tests.support.api import ApiClient
from tests.support.fake_llm import FakeLLMServer
from tests.tenancy.factories import api_key_for
from traces.models import Observation, Trace

pytestmark = pytest.mark.django_db


@pytest.fixture
def llm():
    with FakeLLMServer(template="answer to: {last_user_message}") as server:
        yield server


@pytest.fixture(autouse=True)
def fast_backoff(monkeypatch):
    # Retries still happen, in the same order; only the waits between them shrink.
    monkeypatch.setattr(evalsite.llm.client, "BACKOFF_BASE_SECONDS", 0.001)


def start(api, setup, django_capture_on_commit_callbacks, **overrides):
    with django_capture_on_commit_callbacks(execute=True):
        response = api.post("experiments/runs", start_body(setup, **overrides))
    assert response.status_code == 202, response.content
    return response.json()


def test_a_run_records_every_item_with_trace_generation_and_cost(api, project, llm, django_capture_on_commit_callbacks):
    setup = runner_setup(project, llm, items=10)
    started = start(api, setup, django_capture_on_commit_callbacks)
    assert started["status"] == "queued" and started["progress"]["total"] == 10

    status = api.get(f"experiments/runs/{started['id']}").json()
    assert status["status"] == "completed"
    assert status["progress"] == {"total": 10, "done": 10, "failed": 0}

    run = ExperimentRun.objects.get(project=project, run_id=started["id"])
    items = list(RunItem.objects.filter(run=run).order_by("item_key"))
    assert len(items) == 10
    first = items[0]
    assert first.output == "answer to: Answer briefly: question item-0"
    assert first.expected_output == "answer 0" and first.dataset_item is not None
    expected_cost = first.input_tokens * INPUT_PRICE + first.output_tokens * OUTPUT_PRICE
    assert first.cost == pytest.approx(expected_cost)
    assert run.total_cost == pytest.approx(sum(i.cost for i in items))
    assert status["totalCost"] == pytest.approx(float(run.total_cost))

    trace = Trace.objects.get(project=project, trace_id=first.trace_id)
    assert trace.input == {"question": "question item-0"} and trace.output == first.output
    generation = Observation.objects.get(project=project, observation_id=first.observation_id)
    assert generation.type == "GENERATION" and generation.model == "fake-model"
    assert generation.prompt_name == "qa/answer" and generation.prompt_version == 1
    assert generation.input == [{"role": "user", "content": "Answer briefly: question item-0"}]
    assert generation.total_cost == pytest.approx(first.cost)
    assert len(llm.chat_requests) == 10


def test_rate_limits_and_server_errors_are_retried_and_a_persistent_failure_fails_only_its_item(
    api, project, llm, django_capture_on_commit_callbacks
):
    setup = runner_setup(project, llm, items=8)
    llm.fail_next(2, status=429, retry_after=0.01)
    llm.fail_when(contains="item-3", status=500, times=2)
    llm.fail_when(contains="item-5", status=500, times=None)
    started = start(api, setup, django_capture_on_commit_callbacks, concurrency=1)

    run = ExperimentRun.objects.get(project=project, run_id=started["id"])
    assert run.status == RunStatus.COMPLETED
    assert (run.progress_done, run.progress_failed) == (8, 1)
    failed = RunItem.objects.get(run=run, item_key="item-5")
    assert failed.output is None and "500" in failed.error
    recovered = RunItem.objects.get(run=run, item_key="item-3")
    assert recovered.error is None and recovered.output
    assert len(llm.calls_for("item-3")) == 3
    assert Observation.objects.get(project=project, observation_id=failed.observation_id).level == "ERROR"


def test_a_resumed_run_calls_the_model_only_for_items_not_yet_recorded(
    api, project, llm, django_capture_on_commit_callbacks
):
    setup = runner_setup(project, llm, items=6)
    started = start(api, setup, django_capture_on_commit_callbacks)
    run = ExperimentRun.objects.get(project=project, run_id=started["id"])
    # As if the worker died after recording four items: two items lost, lease long expired.
    RunItem.objects.filter(run=run, item_key__in=["item-4", "item-5"]).delete()
    ExperimentRun.objects.filter(pk=run.pk).update(
        status=RunStatus.RUNNING, lease_token="dead-worker", heartbeat_at=timezone.now() - timedelta(hours=1)
    )
    llm.reset()
    with django_capture_on_commit_callbacks(execute=True):
        assert jobs_sweep() == {"experiment-run": [run.pk]}
    run.refresh_from_db()
    assert run.status == RunStatus.COMPLETED
    assert sorted(r.last_user_message for r in llm.chat_requests) == [
        "Answer briefly: question item-4",
        "Answer briefly: question item-5",
    ]
    assert RunItem.objects.filter(run=run).count() == 6


def test_a_retried_task_records_nothing_twice(api, project, llm, django_capture_on_commit_callbacks):
    setup = runner_setup(project, llm, items=3)
    started = start(api, setup, django_capture_on_commit_callbacks)
    run = ExperimentRun.objects.get(project=project, run_id=started["id"])
    run_execute(run_pk=run.pk)
    assert RunItem.objects.filter(run=run).count() == 3
    assert len(llm.chat_requests) == 3


def test_a_run_held_by_a_live_worker_is_not_executed_twice(api, project, llm, django_capture_on_commit_callbacks):
    setup = runner_setup(project, llm, items=3)
    with django_capture_on_commit_callbacks(execute=False):
        started = api.post("experiments/runs", start_body(setup)).json()
    ExperimentRun.objects.filter(run_id=started["id"]).update(
        status=RunStatus.RUNNING, lease_token="other-worker", heartbeat_at=timezone.now()
    )
    run_execute(run_pk=ExperimentRun.objects.get(run_id=started["id"]).pk)
    assert llm.chat_requests == []
    assert jobs_sweep() == {}


def test_a_cancelled_run_stops_and_says_so(api, project, llm, django_capture_on_commit_callbacks):
    setup = runner_setup(project, llm, items=3)
    with django_capture_on_commit_callbacks(execute=False):
        started = api.post("experiments/runs", start_body(setup)).json()
    cancelled = api.post(f"experiments/runs/{started['id']}/cancel")
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    run_execute(run_pk=ExperimentRun.objects.get(run_id=started["id"]).pk)
    assert llm.chat_requests == []
    assert api.get(f"experiments/runs/{started['id']}").json()["status"] == "cancelled"


def test_a_run_cancelled_while_it_executes_stops_at_its_next_flush(api, project, django_capture_on_commit_callbacks):
    with FakeLLMServer(latency=0.05) as slow:
        setup = runner_setup(project, slow, items=30)
        with django_capture_on_commit_callbacks(execute=False):
            started = api.post("experiments/runs", start_body(setup, concurrency=1)).json()
        run = ExperimentRun.objects.get(run_id=started["id"])

        def cancel_after_the_first_flush(done, failed, total):
            if done:
                experiment_run_cancel(project=project, run=run)

        run_execute(run_pk=run.pk, on_progress=cancel_after_the_first_flush)
    run.refresh_from_db()
    recorded = RunItem.objects.filter(run=run).count()
    assert run.status == RunStatus.CANCELLED and run.lease_token is None
    assert 0 < recorded < 30 and run.progress_done == recorded  # the flush after the cancel wrote nothing


def test_a_flush_learns_of_a_cancel_from_its_lease_renewal_alone(api, project, llm, django_capture_on_commit_callbacks):
    setup = runner_setup(project, llm, items=1)
    with django_capture_on_commit_callbacks(execute=False):
        started = api.post("experiments/runs", start_body(setup)).json()
    run = job_claim(ExperimentRun, pk=ExperimentRun.objects.get(run_id=started["id"]).pk)
    executor = Executor(run)
    with CaptureQueriesContext(connection) as queries:
        executor.flush([])
    statements = [query["sql"] for query in queries if not query["sql"].startswith(("SAVEPOINT", "RELEASE"))]
    assert len(statements) == 1 and statements[0].startswith("UPDATE")  # the renewal; no status read
    experiment_run_cancel(project=project, run=ExperimentRun.objects.get(pk=run.pk))
    with pytest.raises(JobCancelled):
        executor.flush([])


def test_a_missing_connection_fails_the_run_with_the_reason(api, project, llm, django_capture_on_commit_callbacks):
    setup = runner_setup(project, llm, items=2)
    with django_capture_on_commit_callbacks(execute=False):
        started = api.post("experiments/runs", start_body(setup)).json()
    run = ExperimentRun.objects.get(run_id=started["id"])
    ExperimentRun.objects.filter(pk=run.pk).update(config={**run.config, "connectionId": "gone"})
    with pytest.raises(LlmConnection.DoesNotExist):
        run_execute(run_pk=run.pk)
    run.refresh_from_db()
    assert run.status == RunStatus.FAILED and "gone" in run.error


@pytest.mark.parametrize(
    "overrides,field",
    [
        ({"datasetName": "nope"}, "datasetName"),
        ({"promptName": "nope"}, "promptName"),
        ({"promptVersion": 9}, "promptName"),
        ({"provider": "nope"}, "provider"),
        ({"concurrency": 0}, "concurrency"),
        ({"trials": 0}, "trials"),
        ({"trials": 21}, "trials"),
        ({"trials": "two"}, "trials"),
        ({"model": ""}, "model"),
        ({"modelParameters": [1]}, "modelParameters"),
        ({"modelParameters": {"messages": []}}, "modelParameters"),
    ],
)
def test_bad_start_requests_are_refused_naming_the_field(api, project, llm, overrides, field):
    setup = runner_setup(project, llm, items=1)
    response = api.post("experiments/runs", start_body(setup, **overrides))
    assert response.status_code == 400, response.content
    assert field in response.json()["message"]
    assert not ExperimentRun.objects.exists()


def test_a_second_run_with_the_same_name_on_a_dataset_is_a_conflict(api, project, llm, django_capture_on_commit_callbacks):
    setup = runner_setup(project, llm, items=1)
    start(api, setup, django_capture_on_commit_callbacks)
    response = api.post("experiments/runs", start_body(setup))
    assert response.status_code == 409
    assert ExperimentRun.objects.count() == 1


@pytest.mark.parametrize("role", [Role.VIEWER, Role.ANNOTATOR], ids=lambda r: r.name)
def test_viewers_and_annotators_cannot_start_or_cancel_runs_but_can_follow_them(project, llm, role, api,
                                                                                 django_capture_on_commit_callbacks):
    setup = runner_setup(project, llm, items=1)
    client = ApiClient(api_key_for(project, role))
    assert client.post("experiments/runs", start_body(setup)).status_code == 403
    started = start(api, setup, django_capture_on_commit_callbacks)
    assert client.get(f"experiments/runs/{started['id']}").status_code == 200
    assert client.post(f"experiments/runs/{started['id']}/cancel").status_code == 403


def test_progress_is_visible_while_a_run_is_queued(api, project, llm, django_capture_on_commit_callbacks):
    setup = runner_setup(project, llm, items=4)
    with django_capture_on_commit_callbacks(execute=False):
        started = api.post("experiments/runs", start_body(setup)).json()
    body = api.get(f"experiments/runs/{started['id']}").json()
    assert body["status"] == "queued"
    assert body["progress"] == {"total": 4, "done": 0, "failed": 0}
    assert body["config"]["promptVersion"] == 1 and body["datasetName"] == "qa/set"
    assert body["totalCost"] is None or Decimal(str(body["totalCost"])) == 0


def test_a_run_with_trials_runs_every_item_that_many_times_each_with_its_own_trace(
    api, project, llm, django_capture_on_commit_callbacks
):
    setup = runner_setup(project, llm, items=4)
    started = start(api, setup, django_capture_on_commit_callbacks, trials=3)
    assert started["progress"]["total"] == 12 and started["config"]["trials"] == 3
    status = api.get(f"experiments/runs/{started['id']}").json()
    assert (status["status"], status["progress"]) == ("completed", {"total": 12, "done": 12, "failed": 0})
    run = ExperimentRun.objects.get(project=project, run_id=started["id"])
    trials = sorted(RunItem.objects.filter(run=run).values_list("item_key", "trial", "trace_id"))
    assert [(key, trial) for key, trial, _ in trials] == [(f"item-{i}", t) for i in range(4) for t in (1, 2, 3)]
    assert len({trace_id for _, _, trace_id in trials}) == 12
    assert Trace.objects.filter(project=project, trace_id__in=[t for _, _, t in trials]).count() == 12
    assert len(llm.chat_requests) == 12
    # Cost counts every trial.
    assert run.total_cost == sum(RunItem.objects.filter(run=run).values_list("cost", flat=True))


def test_a_resumed_run_with_trials_calls_the_model_only_for_trials_not_yet_recorded(
    api, project, llm, django_capture_on_commit_callbacks
):
    setup = runner_setup(project, llm, items=2)
    started = start(api, setup, django_capture_on_commit_callbacks, trials=2)
    run = ExperimentRun.objects.get(project=project, run_id=started["id"])
    RunItem.objects.filter(run=run, item_key="item-1", trial=2).delete()
    ExperimentRun.objects.filter(pk=run.pk).update(
        status=RunStatus.RUNNING, lease_token="dead-worker", heartbeat_at=timezone.now() - timedelta(hours=1)
    )
    llm.reset()
    with django_capture_on_commit_callbacks(execute=True):
        jobs_sweep()
    assert [r.last_user_message for r in llm.chat_requests] == ["Answer briefly: question item-1"]
    assert RunItem.objects.filter(run=run).count() == 4
