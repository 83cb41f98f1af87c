"""Pair queues (annotations/pairs/): humans see two runs' outputs side by side, sides shuffled and
hidden, and answer a / b / t; the preference reaches the comparison apart from the judges'."""

import pytest
from django.urls import reverse

from annotations.models import QueueItem
from annotations.pairs.models import QueueItemPair
from evalsite.tenancy.roles import Role
from experiments.comparison import comparison_build
from scoring.models import Score
from tests.annotations.factories import QueueFactory
from tests.experiments.factories import ExperimentRunFactory, RunItemFactory
from tests.tenancy.factories import user_with_role

pytestmark = pytest.mark.django_db

ITEMS = 12


@pytest.fixture
def runs(project):
    baseline = ExperimentRunFactory(project=project, name="baseline")
    candidate = ExperimentRunFactory(project=project, name="candidate")
    for index in range(ITEMS):
        for run in (baseline, candidate):
            RunItemFactory(run=run, item_key=f"item-{index:02d}", input=f"question {index}",
                           output=f"{run.name} answer {index}")
    return baseline, candidate


@pytest.fixture
def queue(project, api, runs):
    baseline, candidate = runs
    queue = QueueFactory(project=project, name="pairs")
    response = api.post(f"annotation-queues/{queue.pk}/pairs", {"runId": candidate.run_id, "baselineRunId": baseline.run_id})
    assert response.status_code == 201, response.json()
    assert response.json()["added"] == ITEMS
    return queue


def page(project, queue):
    return reverse("annotation-pair-workspace", kwargs={"project_id": project.pk, "queue_id": queue.pk})


def test_adding_the_pairs_again_changes_nothing(api, project, runs, queue):
    baseline, candidate = runs
    again = api.post(f"annotation-queues/{queue.pk}/pairs", {"runId": candidate.run_id, "baselineRunId": baseline.run_id})
    assert again.json()["added"] == 0 and again.json()["alreadyInQueue"] == ITEMS
    assert QueueItemPair.objects.filter(project=project).count() == ITEMS == QueueItem.objects.filter(queue=queue).count()


def test_a_bad_baseline_is_a_400_naming_it(api, project, runs, queue, victim_project):
    _, candidate = runs
    foreign = ExperimentRunFactory(project=victim_project)
    for baseline_id in ("", "nope", candidate.run_id, foreign.run_id):
        response = api.post(f"annotation-queues/{queue.pk}/pairs", {"runId": candidate.run_id, "baselineRunId": baseline_id})
        assert response.status_code == 400 and "baselineRunId" in response.content.decode()


def test_the_workspace_shows_both_outputs_with_hidden_shuffled_sides_and_stores_the_choice(client, project, runs, queue):
    baseline, candidate = runs
    annotator = user_with_role(project, Role.ANNOTATOR, staff=False)
    client.force_login(annotator)
    lefts = []
    for _ in range(ITEMS):
        response = client.get(page(project, queue))
        assert response.status_code == 200
        html = response.content.decode()
        assert "baseline answer" in html and "candidate answer" in html
        assert ">baseline<" not in html and ">candidate<" not in html  # no run names on the page
        pair = response.context["pair"]
        left_is_candidate = html.index("candidate answer") < html.index("baseline answer")
        assert left_is_candidate == pair.candidate_first
        lefts.append(left_is_candidate)
        # The annotator always prefers the candidate: the key depends on its side.
        response = client.post(page(project, queue), {"item_id": pair.item_id, "choice": "a" if pair.candidate_first else "b"})
        assert response.status_code == 302, response.content.decode()
    assert set(lefts) == {True, False}
    assert client.get(page(project, queue)).context["item"] is None  # nothing left

    scores = Score.objects.filter(project=project, source="ANNOTATION", name="preference")
    assert scores.count() == ITEMS and {score.string_value for score in scores} == {"B"}
    assert {score.author_user_id for score in scores} == {annotator.pk}
    comparison = comparison_build(project=project, run_ids=[baseline.run_id, candidate.run_id], baseline_id=baseline.run_id)
    [human] = comparison.preferences
    assert human.rater == "human" and (human.pairs[0].test.wins, human.pairs[0].test.losses) == (ITEMS, 0)


def test_a_tie_and_a_bad_key(client, project, queue):
    client.force_login(user_with_role(project, Role.ANNOTATOR, staff=False))
    pair = client.get(page(project, queue)).context["pair"]

    bad = client.post(page(project, queue), {"item_id": pair.item_id, "choice": "x"})
    assert bad.status_code == 400 and "choice" in bad.content.decode()
    assert not Score.objects.filter(project=project).exists()

    client.post(page(project, queue), {"item_id": pair.item_id, "choice": "t"})
    score = Score.objects.get(project=project, source="ANNOTATION")
    assert score.string_value == "tie" and score.metadata["pairwise"]["winner"] == "tie"


def test_a_pair_whose_lock_was_taken_is_not_stored(client, project, queue):
    first = user_with_role(project, Role.ANNOTATOR, staff=False)
    client.force_login(first)
    pair = client.get(page(project, queue)).context["pair"]
    QueueItem.objects.filter(pk=pair.item_id).update(locked_by=None, locked_until=None)

    response = client.post(page(project, queue), {"item_id": pair.item_id, "choice": "a"})

    assert response.status_code == 409
    assert not Score.objects.filter(project=project).exists()


@pytest.mark.parametrize("role", [Role.VIEWER, Role.ANNOTATOR, Role.MEMBER, Role.ADMIN, Role.OWNER])
def test_the_pair_workspace_opens_for_every_role(client, project, queue, role):
    client.force_login(user_with_role(project, role, staff=False))
    response = client.get(page(project, queue))
    assert response.status_code == (302 if role == Role.VIEWER else 200)
    if role == Role.VIEWER:
        assert client.post(page(project, queue), {"item_id": "x", "choice": "a"}).status_code == 403


def test_the_general_workspace_sends_a_pair_queue_to_the_pair_page_without_claiming(client, project, queue):
    client.force_login(user_with_role(project, Role.ANNOTATOR, staff=False))
    general = reverse("annotation-workspace", kwargs={"project_id": project.pk, "queue_id": queue.pk})
    response = client.get(general)
    assert response.status_code == 302 and response["Location"] == page(project, queue)
    assert not QueueItem.objects.filter(queue=queue, locked_by__isnull=False).exists()
