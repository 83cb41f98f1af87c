"""The trace page /projects/<id>/traces/<trace_id>: the trace, its observation tree, its panels.

The scores panel (scoring's) is tested in tests/scoring/test_trace_page_scores.py."""

from datetime import UTC, datetime, timedelta

import pytest
from django.urls import reverse

from evalsite.tenancy.roles import Role
from tests.tenancy.factories import user_with_role
from tests.traces.factories import ObservationFactory, TraceFactory
from traces import hooks

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
    return trace


def url(project_id, trace_id="trace-1"):
    return reverse("trace-detail", kwargs={"project_id": project_id, "trace_id": trace_id})


def login(client, project, role):
    user = user_with_role(project, role, staff=False)
    client.force_login(user)
    return user


def test_the_trace_page_shows_the_observation_tree_with_timings_and_cost(client, project, trace, django_assert_max_num_queries):
    login(client, project, Role.VIEWER)
    # session, user, project, role, trace, observations, then the panels': scores, score configs,
    # comments, the evaluation rules' decisions, and the media the inputs and outputs reference
    with django_assert_max_num_queries(11):
        response = client.get(url(project.pk))
    assert response.status_code == 200
    page = response.content.decode()
    for text in ("support-chat", "handle", "llm-call", "gpt-x", "$0.004200", "&quot;answer&quot;", "refund?", "late"):
        assert text in page, text
    nodes = response.context["nodes"]
    assert [(node.observation.observation_id, node.depth) for node in nodes] == [("root", 0), ("gen", 1), ("orphan", 0)]
    gen = nodes[1]
    assert (gen.offset_percent, gen.width_percent, gen.duration) == (20.0, 40.0, "2.00 s")


def test_another_projects_trace_is_a_404(client, project, victim_project):
    TraceFactory(project=victim_project, trace_id="theirs")
    login(client, project, Role.OWNER)
    assert client.get(url(victim_project.pk, "theirs")).status_code == 404
    assert client.get(url(project.pk, "theirs")).status_code == 404


def test_the_page_shows_the_panels_the_apps_above_register(client, project, trace):
    login(client, project, Role.VIEWER)
    panels = client.get(url(project.pk)).context["panels"]
    assert [panel["name"] for panel in panels] == [panel.name for panel in hooks.trace_page_panels]
    assert "scores" in [panel["name"] for panel in panels]  # scoring's, registered by ScoringConfig.ready()


def test_a_post_that_names_no_panel_form_is_refused(client, project, trace):
    login(client, project, Role.OWNER)
    assert client.post(url(project.pk), {"value": "1"}).status_code == 400
    assert client.post(url(project.pk), {"panel": "nope"}).status_code == 400
