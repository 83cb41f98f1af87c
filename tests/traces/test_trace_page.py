"""The trace page /projects/<id>/traces/<trace_id>, and scoring a trace by hand on it."""

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
    trace = TraceFactory(project=project, trace_id="trace-1", name="support-chat", input={"question": "refund?"}, output="yes", timestamp=T0)
    ObservationFactory(trace=trace, observation_id="root", name="handle", start_time=T0, end_time=T0 + timedelta(seconds=4))
    ObservationFactory(
        trace=trace, observation_id="gen", parent_observation_id="root", name="llm-call", type="GENERATION", model="gpt-x",
        start_time=T0 + timedelta(seconds=1), end_time=T0 + timedelta(seconds=3), input_tokens=12, output_tokens=3,
        total_tokens=15, total_cost="0.0042", output={"answer": "yes"}, metadata={"k": "v"},
    )
    ObservationFactory(trace=trace, observation_id="orphan", parent_observation_id="not-arrived", name="late", start_time=T0 + timedelta(seconds=5))
    ScoreFactory(project=project, trace_id="trace-1", name="helpfulness", value=0.8)
    ScoreFactory(project=project, trace_id="trace-1", observation_id="gen", name="faithful", value=1.0)
    return trace


def url(project_id, trace_id="trace-1"):
    return reverse("trace-detail", kwargs={"project_id": project_id, "trace_id": trace_id})


def login(client, project, role):
    user = user_with_role(project, role, staff=False)
    client.force_login(user)
    return user


def test_the_trace_page_shows_the_observation_tree_with_timings_cost_and_scores(client, project, trace, django_assert_max_num_queries):
    login(client, project, Role.VIEWER)
    # session, user, project, role, trace, observations, scores, score configs
    with django_assert_max_num_queries(10):
        response = client.get(url(project.pk))
    assert response.status_code == 200
    page = response.content.decode()
    for text in ("support-chat", "handle", "llm-call", "gpt-x", "$0.004200", "helpfulness", "faithful", "&quot;answer&quot;", "refund?", "late"):
        assert text in page, text
    nodes = response.context["nodes"]
    assert [(node.observation.observation_id, node.depth) for node in nodes] == [("root", 0), ("gen", 1), ("orphan", 0)]
    gen = nodes[1]
    assert (gen.offset_percent, gen.width_percent, gen.duration) == (20.0, 40.0, "2.00 s")
    assert [score.name for score in gen.scores] == ["faithful"]
    assert "Add score" not in page  # viewers do not get the form


def test_another_projects_trace_is_a_404(client, project, victim_project):
    TraceFactory(project=victim_project, trace_id="theirs")
    login(client, project, Role.OWNER)
    assert client.get(url(victim_project.pk, "theirs")).status_code == 404
    assert client.get(url(project.pk, "theirs")).status_code == 404


def test_a_member_adds_a_score_to_an_observation_by_hand(client, project, trace):
    config = CategoricalConfigFactory(project=project, name="tone")
    user = login(client, project, Role.MEMBER)
    assert "Add score" in client.get(url(project.pk)).content.decode()
    response = client.post(url(project.pk), {"config": config.id, "value": "good", "target": "gen", "comment": "nice", "score_id": "hand-1"})
    assert response.status_code == 302
    score = Score.objects.get(project=project, score_id="hand-1")
    assert (score.name, score.value, score.string_value, score.source) == ("tone", 1.0, "good", "ANNOTATION")
    assert (score.trace_id, score.observation_id, score.comment, score.author_user) == ("trace-1", "gen", "nice", user)
    # The same form sent twice (a double click) upserts the same score.
    client.post(url(project.pk), {"config": config.id, "value": "good", "target": "gen", "score_id": "hand-1"})
    assert Score.objects.filter(project=project, score_id="hand-1").count() == 1


def test_a_boolean_score_on_the_trace_itself(client, project, trace):
    config = BooleanConfigFactory(project=project, name="resolved")
    login(client, project, Role.MEMBER)
    client.post(url(project.pk), {"config": config.id, "value": "true", "target": "trace", "score_id": "hand-2"})
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
    response = client.post(url(project.pk), {"config": config.id, "value": value, "target": "trace"})
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not Score.objects.filter(project=project, source="ANNOTATION").exists()


def test_the_score_form_refuses_a_target_outside_the_trace(client, project, trace):
    config = ScoreConfigFactory(project=project)
    other = ObservationFactory(trace=TraceFactory(project=project))
    login(client, project, Role.MEMBER)
    response = client.post(url(project.pk), {"config": config.id, "value": "1", "target": other.observation_id})
    assert response.status_code == 400
    assert not Score.objects.filter(project=project, source="ANNOTATION").exists()


def test_annotators_and_viewers_cannot_post_scores(client, project, trace):
    config = ScoreConfigFactory(project=project)
    login(client, project, Role.ANNOTATOR)
    response = client.post(url(project.pk), {"config": config.id, "value": "1", "target": "trace"})
    assert response.status_code == 403
    assert not Score.objects.filter(project=project, source="ANNOTATION").exists()
