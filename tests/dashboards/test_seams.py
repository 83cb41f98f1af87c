"""Analytics and the home dashboard read what evaluators and annotation queues really write
(dashboards/analytics/seams.py): no hand-made metadata here, only the apps' own writes."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from annotations.claims import ScoreInput, queue_item_adjudicate, queue_item_claim_next, queue_item_submit
from dashboards.analytics import seams
from evalsite.tenancy.roles import Role
from evaluators.executor import jobs_execute
from evaluators.models import EvaluationJob
from evaluators.offline import run_evaluate
from evaluators.services import evaluator_update
from scoring.models import Score
from tests.annotations.factories import QueueFactory, QueueItemFactory
from tests.evaluators.setup import check_evaluator
from tests.experiments.factories import ExperimentRunFactory, RunItemFactory
from tests.scoring.factories import CategoricalConfigFactory
from tests.tenancy.factories import user_with_role

pytestmark = pytest.mark.django_db


def evaluated_run(project, evaluator, items: int):
    run = ExperimentRunFactory(project=project)
    for index in range(items):
        RunItemFactory(run=run, input=f"q{index}", output=f"answer {index}", expected_output=f"answer {index}")
    run_evaluate(project=project, run=run, evaluators=[{"evaluatorId": evaluator.pk}])
    jobs_execute(job_pks=list(EvaluationJob.objects.filter(project=project, run=run).values_list("pk", flat=True)))
    return run


@pytest.fixture
def two_versions(project):
    """A check evaluator judged 3 items at version 1 and 2 items at version 2."""
    evaluator = check_evaluator(project, {"type": "contains", "value": "answer"}, name="mentions answer")
    evaluated_run(project, evaluator, 3)
    evaluator_update(project=project, evaluator=evaluator, kind="check", check={"type": "contains", "value": "1"})
    evaluated_run(project, evaluator, 2)
    return evaluator


def window() -> dict:
    now = timezone.now()
    return {"fromTimestamp": (now - timedelta(hours=1)).isoformat(), "toTimestamp": (now + timedelta(hours=1)).isoformat()}


def test_the_analytics_api_breaks_an_evaluators_scores_down_by_the_version_that_judged(api, project, two_versions):
    scores = Score.objects.filter(project=project, name="mentions answer")
    assert {seams.evaluator_version_of(s.metadata) for s in scores} == {"1", "2"}
    assert {s.metadata[seams.EVALUATOR_ID_KEY] for s in scores} == {two_versions.pk}
    response = api.get("analytics/scores", **window())
    assert response.status_code == 200, response.content
    rows = [row for row in response.json()["data"] if row["name"] == "mentions answer"]
    assert {row["evaluatorVersion"]: row["count"] for row in rows} == {"1": 3, "2": 2}
    summary = api.get(
        "analytics/scores/summary", score='{"name": "mentions answer", "evaluatorVersion": 2}', **window()
    ).json()
    assert summary["summary"]["count_count"] == 2


def test_the_analytics_page_lists_each_evaluator_version_as_a_series(client, project, two_versions):
    client.force_login(user_with_role(project, Role.VIEWER, staff=False))
    today = timezone.now().date().isoformat()  # whole UTC days: the default range ends at this second
    response = client.get(f"/projects/{project.pk}/analytics/scores", {"from": today, "to": today})
    assert response.status_code == 200
    labels = {item["label"] for item in response.context["series"]}
    assert {"mentions answer · EVAL · v1", "mentions answer · EVAL · v2"} <= labels


def test_the_adjudicated_score_is_what_analytics_takes_as_final(project):
    config = CategoricalConfigFactory(project=project, name="quality")
    queue = QueueFactory(project=project, score_config_ids=[config.id])
    item = QueueItemFactory(queue=queue)
    annotator, admin = user_with_role(project, Role.ANNOTATOR), user_with_role(project, Role.ADMIN)
    queue_item_claim_next(project=project, queue=queue, user=annotator, role=Role.ANNOTATOR)
    queue_item_submit(project=project, item=item, user=annotator, role=Role.ANNOTATOR, scores=[ScoreInput(config.id, "good")])
    queue_item_adjudicate(project=project, item=item, user=admin, role=Role.ADMIN, scores=[ScoreInput(config.id, "bad")])
    finals = {s.author_user_id: seams.is_final_annotation(s.metadata) for s in Score.objects.filter(project=project)}
    assert finals == {annotator.pk: False, admin.pk: True}


def test_the_home_dashboard_shows_evaluator_spend_and_queue_progress_of_its_project_only(
    client, project, victim_project
):
    evaluator = check_evaluator(project, {"type": "contains", "value": "answer"}, name="mentions answer")
    evaluated_run(project, evaluator, 3)
    now = timezone.now() - timedelta(minutes=1)  # the page's range ends at the current whole second
    jobs = list(EvaluationJob.objects.filter(project=project).order_by("pk"))
    for job, cost in zip(jobs, ("0.25", "0.5", "0.125"), strict=True):
        EvaluationJob.objects.filter(pk=job.pk).update(cost=Decimal(cost), finished_at=now)
    victim_evaluator = check_evaluator(victim_project, {"type": "contains", "value": "x"}, name="victim judge")
    evaluated_run(victim_project, victim_evaluator, 1)
    EvaluationJob.objects.filter(project=victim_project).update(cost=Decimal(9), finished_at=now)

    queue = QueueFactory(project=project, name="Review")
    items = [QueueItemFactory(queue=queue) for _ in range(4)]
    items[0].status = "COMPLETED"
    items[0].save()
    QueueItemFactory(queue=QueueFactory(project=victim_project, name="Victim queue"))

    client.force_login(user_with_role(project, Role.VIEWER, staff=False))
    response = client.get(f"/projects/{project.pk}/")
    assert response.status_code == 200
    charts = {chart["id"]: chart for chart in response.context["charts"]}
    spend = charts["evaluator_spend"]
    assert spend["x"] == [now.date().isoformat()] and not spend["empty"]
    assert spend["series"] == [{"name": "mentions answer", "y": [0.875]}]
    assert charts["queue_progress"]["rows"] == [["Review", 4, 1, 3, 0]]
    html = response.content.decode()
    assert 'id="chart-evaluator_spend"' in html and 'id="chart-queue_progress"' in html
