"""Scoring's panel on the trace page: the scores of the trace and its observations, and the form
with which a MEMBER scores a trace by hand (scoring/pages.py, registered into traces' panels)."""

from datetime import UTC, datetime, timedelta

import pytest
from django.urls import reverse

from evalsite.tenancy.roles import Role
from scoring.models import Score
from tests.scoring.factories import (
    BooleanConfigFactory,
    CategoricalConfigFactory,
    ScoreConfigFactory,
    ScoreFactory,
)
from tests.tenancy.factories import user_with_role
from tests.traces.factories import ObservationFactory, TraceFactory

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 1, 10, 9, 0, tzinfo=UTC)


@pytest.fixture
def trace(project):
    trace = TraceFactory(project=project, trace_id="trace-1", name="support-chat", timestamp=T0)
    ObservationFactory(trace=trace, observation_id="root", name="handle", start_time=T0, end_time=T0 + timedelta(seconds=4))
    ObservationFactory(
        trace=trace, observation_id="gen", parent_observation_id="root", name="llm-call", type="GENERATION",
        start_time=T0 + timedelta(seconds=1), end_time=T0 + timedelta(seconds=3),
    )
    ScoreFactory(project=project, trace_id="trace-1", name="helpfulness", value=0.8)
    ScoreFactory(project=project, trace_id="trace-1", observation_id="gen", name="faithful", value=1.0)
    return trace


def url(project_id, trace_id="trace-1"):
    return reverse("trace-detail", kwargs={"project_id": project_id, "trace_id": trace_id})


def login(client, project, role):
    user = user_with_role(project, role, staff=False)
    client.force_login(user)
    return user


def score_form(config, value, **fields):
    return {"panel": "scores", "config": config.id, "value": value, **fields}


def test_the_trace_page_shows_trace_scores_in_the_panel_and_observation_scores_in_their_rows(client, project, trace):
    login(client, project, Role.VIEWER)
    response = client.get(url(project.pk))
    page = response.content.decode()
    assert "helpfulness" in page and "faithful" in page
    (panel,) = [panel for panel in response.context["panels"] if panel["name"] == "scores"]
    assert [score.name for score in panel["context"]["trace_scores"]] == ["helpfulness"]
    gen = next(node for node in response.context["nodes"] if node.observation.observation_id == "gen")
    assert [score.name for _, items in gen.annotations for score in items] == ["faithful"]
    assert "Add score" not in page  # viewers do not get the form


def test_a_member_adds_a_score_to_an_observation_by_hand(client, project, trace):
    config = CategoricalConfigFactory(project=project, name="tone")
    user = login(client, project, Role.MEMBER)
    assert "Add score" in client.get(url(project.pk)).content.decode()
    response = client.post(url(project.pk), score_form(config, "good", target="gen", comment="nice", score_id="hand-1"))
    assert response.status_code == 302 and response["Location"].endswith("#scores")
    score = Score.objects.get(project=project, score_id="hand-1")
    assert (score.name, score.value, score.string_value, score.source) == ("tone", 1.0, "good", "ANNOTATION")
    assert (score.trace_id, score.observation_id, score.comment, score.author_user) == ("trace-1", "gen", "nice", user)
    # The same form sent twice (a double click) upserts the same score.
    client.post(url(project.pk), score_form(config, "good", target="gen", score_id="hand-1"))
    assert Score.objects.filter(project=project, score_id="hand-1").count() == 1


def test_a_boolean_score_on_the_trace_itself(client, project, trace):
    config = BooleanConfigFactory(project=project, name="resolved")
    login(client, project, Role.MEMBER)
    client.post(url(project.pk), score_form(config, "true", target="trace", score_id="hand-2"))
    score = Score.objects.get(score_id="hand-2")
    assert (score.value, score.string_value, score.observation_id) == (1.0, "True", None)


@pytest.mark.parametrize(
    "make_config,value,message",
    [
        (lambda p: ScoreConfigFactory(project=p, min_value=0, max_value=1), "7", "above the config"),
        (lambda p: ScoreConfigFactory(project=p), "lots", "finite number"),
        (lambda p: CategoricalConfigFactory(project=p), "splendid", "not a category"),
        (lambda p: ScoreConfigFactory(project=p, is_archived=True), "1", "Choose a score config"),
    ],
    ids=["out-of-range", "not-a-number", "unknown-category", "archived-config"],
)
def test_the_score_form_shows_config_validation_errors_and_stores_nothing(client, project, trace, make_config, value, message):
    config = make_config(project)
    login(client, project, Role.MEMBER)
    response = client.post(url(project.pk), score_form(config, value, target="trace"))
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not Score.objects.filter(project=project, source="ANNOTATION").exists()


def test_the_score_form_refuses_a_target_outside_the_trace(client, project, trace):
    config = ScoreConfigFactory(project=project)
    other = ObservationFactory(trace=TraceFactory(project=project))
    login(client, project, Role.MEMBER)
    response = client.post(url(project.pk), score_form(config, "1", target=other.observation_id))
    assert response.status_code == 400
    assert not Score.objects.filter(project=project, source="ANNOTATION").exists()


def test_viewers_cannot_post_scores(client, project, trace):
    config = ScoreConfigFactory(project=project)
    login(client, project, Role.VIEWER)
    response = client.post(url(project.pk), score_form(config, "1", target="trace"))
    assert response.status_code == 403
    assert not Score.objects.filter(project=project, source="ANNOTATION").exists()


def test_an_annotator_scores_a_trace_and_an_observation_by_hand(client, project, trace):
    config = ScoreConfigFactory(project=project)
    observation = ObservationFactory(trace=trace)
    login(client, project, Role.ANNOTATOR)
    page = client.get(url(project.pk))
    assert page.status_code == 200 and b'name="panel" value="scores"' in page.content
    for target in ("trace", observation.observation_id):
        response = client.post(url(project.pk), score_form(config, "1", target=target))
        assert response.status_code == 302
    scores = Score.objects.filter(project=project, source="ANNOTATION", trace_id=trace.trace_id)
    assert sorted(score.observation_id or "" for score in scores) == sorted(["", observation.observation_id])
