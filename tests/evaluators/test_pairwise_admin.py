"""The ExperimentRun admin's "Judge pairwise against a baseline run" (evaluators/admin_pairwise.py)."""

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse

from evalsite.tenancy.roles import Role
from evaluators.models import EvaluationJob
from tests.evaluators.setup import boolean_judge, judge_connection, pairwise_judge
from tests.experiments.factories import ExperimentRunFactory, RunItemFactory
from tests.support.fake_llm import FakeLLMServer
from tests.tenancy.factories import user_with_role

pytestmark = pytest.mark.django_db

RUNS = "admin:experiments_experimentrun_changelist"


@pytest.fixture
def setup(project):
    with FakeLLMServer() as llm:
        judge_connection(project, llm)
        baseline = ExperimentRunFactory(project=project, name="baseline")
        candidate = ExperimentRunFactory(project=project, name="candidate")
        for index in range(3):
            for run in (baseline, candidate):
                RunItemFactory(run=run, item_key=f"item-{index}")
        yield baseline, candidate, pairwise_judge(project), boolean_judge(project)


def act(client, candidate, **fields):
    data = {"action": "judge_pairwise", "_selected_action": [candidate.pk], **fields}
    return client.post(reverse(RUNS), data)


def test_a_member_picks_a_baseline_and_a_pairwise_judge_and_the_pairs_are_queued(client, project, setup, victim_project):
    baseline, candidate, judge, _ = setup
    foreign = ExperimentRunFactory(project=victim_project)
    client.force_login(user_with_role(project, Role.MEMBER))

    form = act(client, candidate).context["form"]
    assert list(form.fields["baseline"].queryset) == [baseline]  # not the candidate, nor another project's run
    assert list(form.fields["evaluator"].queryset) == [judge]  # pairwise judges only

    refused = act(client, candidate, apply="1", baseline=foreign.pk, evaluator=judge.pk)
    assert "baseline" in refused.context["form"].errors and not EvaluationJob.objects.exists()

    response = act(client, candidate, apply="1", baseline=baseline.pk, evaluator=judge.pk, both_orders="on")
    assert response.status_code == 302
    assert [str(m) for m in get_messages(response.wsgi_request)][-1].startswith("3 pair(s) queued for judging")
    jobs = EvaluationJob.objects.filter(project=project, evaluator=judge)
    assert jobs.count() == 3 and {job.options["bothOrders"] for job in jobs} == {True}


@pytest.mark.parametrize("role", [Role.VIEWER, Role.ANNOTATOR])
def test_viewers_and_annotators_are_not_offered_the_action(client, project, setup, role):
    baseline, candidate, judge, _ = setup
    client.force_login(user_with_role(project, role))
    assert "judge_pairwise" not in client.get(reverse(RUNS)).content.decode()
    act(client, candidate, apply="1", baseline=baseline.pk, evaluator=judge.pk)
    assert not EvaluationJob.objects.exists()
