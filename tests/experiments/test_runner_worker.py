"""Platform runs through a real `manage.py qcluster` process (PostgreSQL; Redis broker when REDIS_URL is set)."""

import pytest
from django.db.models import Count
from django_q.conf import Conf

from experiments.models import ExperimentRun, RunItem, RunStatus
from tests.experiments.runner_setup import runner_setup, start_body
from tests.support.fake_llm import FakeLLMServer
from tests.support.worker import Worker, qcluster, require_postgresql, wait_for
from traces.models import Observation, Trace

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.live]

# The worker's own settings: a short lease and a frequent sweep, so resumption shows within seconds.
FAST_RESUME = {"EVALSITE_RUN_LEASE_SECONDS": "3", "EVALSITE_RUN_SWEEP_SECONDS": "1"}


@pytest.fixture(autouse=True)
def enqueue_to_the_real_broker(monkeypatch):
    require_postgresql()
    monkeypatch.setattr(Conf, "SYNC", False)


def run_status(run_id):
    return ExperimentRun.objects.values_list("status", flat=True).get(run_id=run_id)


def test_a_worker_process_executes_a_whole_run(api, project):
    with FakeLLMServer(latency=0.01) as llm:
        setup = runner_setup(project, llm, items=12)
        with qcluster(FAST_RESUME):
            started = api.post("experiments/runs", start_body(setup, concurrency=4)).json()
            wait_for(lambda: run_status(started["id"]) == RunStatus.COMPLETED, timeout=60, message="run completed")
    run = ExperimentRun.objects.get(run_id=started["id"])
    items = RunItem.objects.filter(run=run)
    assert items.count() == 12 and not items.filter(error__isnull=False).exists()
    trace_ids = list(items.values_list("trace_id", flat=True))
    assert Trace.objects.filter(project=project, trace_id__in=trace_ids).count() == 12
    assert Observation.objects.filter(project=project, trace_id__in=trace_ids, type="GENERATION").count() == 12
    assert run.total_cost == sum(item.cost for item in items) and run.total_cost > 0
    assert len(llm.chat_requests) == 12


def test_a_killed_worker_s_run_is_resumed_by_the_next_without_calling_twice(api, project):
    with FakeLLMServer(latency=0.15) as llm:
        setup = runner_setup(project, llm, items=30)
        first = Worker(FAST_RESUME)
        try:
            started = api.post("experiments/runs", start_body(setup, concurrency=2)).json()
            run = ExperimentRun.objects.get(run_id=started["id"])
            wait_for(lambda: RunItem.objects.filter(run=run).count() >= 6, timeout=60, message="six items recorded")
        finally:
            first.kill()
        recorded_before_kill = set(RunItem.objects.filter(run=run).values_list("item_key", flat=True))
        assert run_status(started["id"]) == RunStatus.RUNNING
        assert len(recorded_before_kill) < 30

        with qcluster(FAST_RESUME):
            wait_for(lambda: run_status(started["id"]) == RunStatus.COMPLETED, timeout=90, message="resumed run")

        per_item = dict(RunItem.objects.filter(run=run).values_list("item_key").annotate(n=Count("id")))
        assert len(per_item) == 30 and set(per_item.values()) == {1}
        calls = [request.last_user_message for request in llm.chat_requests]
        for item_key in recorded_before_kill:
            assert calls.count(f"Answer briefly: question {item_key}") == 1, item_key
