"""Traces and observations in the admin (read-only, filtered, scoped) and model prices (through the services)."""

from datetime import UTC, datetime

import pytest
from django.urls import reverse

from evalsite.llm.models import ModelPrice
from evalsite.tenancy.models import AuditLog
from evalsite.tenancy.roles import Role
from tests.scoring.factories import ScoreFactory
from tests.tenancy.factories import user_with_role
from tests.traces.factories import ModelPriceFactory, ObservationFactory, TraceFactory
from traces.models import Observation, Trace

pytestmark = pytest.mark.django_db

TRACES_URL = reverse("admin:traces_trace_changelist")
OBSERVATIONS_URL = reverse("admin:traces_observation_changelist")


@pytest.fixture
def member(client, project):
    client.force_login(user_with_role(project, Role.MEMBER))
    return client


@pytest.fixture
def traces(project, victim_project):
    TraceFactory(project=project, trace_id="t-a", name="chat", user_id="alice", session_id="s-1", tags=["vip", "beta"], environment="prod")
    TraceFactory(project=project, trace_id="t-b", name="search", user_id="bob", tags=["beta"], environment="dev",
                 timestamp=datetime(2020, 1, 1, tzinfo=UTC))
    TraceFactory(project=victim_project, trace_id="t-victim", name="chat", user_id="alice", tags=["vip"])


def listed(response) -> list[str]:
    assert response.status_code == 200
    return sorted(str(row.trace_id) for row in response.context["cl"].result_list)


@pytest.mark.parametrize(
    "params,expected",
    [
        ({}, ["t-a", "t-b"]),
        ({"name": "chat"}, ["t-a"]),
        ({"user": "bob"}, ["t-b"]),
        ({"session": "s-1"}, ["t-a"]),
        ({"tag": "vip"}, ["t-a"]),
        ({"tag": "beta"}, ["t-a", "t-b"]),
        ({"environment": "dev"}, ["t-b"]),
        ({"timestamp__gte": "2021-01-01T00:00:00+00:00"}, ["t-a"]),
    ],
)
def test_the_trace_list_filters_by_name_user_session_tag_environment_and_time(member, traces, params, expected):
    assert listed(member.get(TRACES_URL, params)) == expected


def test_the_trace_list_shows_filter_boxes_and_links_to_the_trace_page(member, project, traces):
    page = member.get(TRACES_URL).content.decode()
    assert 'name="tag"' in page and 'name="user"' in page and 'name="session"' in page
    assert reverse("trace-detail", kwargs={"project_id": project.pk, "trace_id": "t-a"}) in page


def test_traces_and_observations_are_read_only_in_the_admin(member, project, traces):
    trace = Trace.objects.get(project=project, trace_id="t-a")
    ObservationFactory(trace=trace, observation_id="o-1")
    change = reverse("admin:traces_trace_change", args=[trace.pk])
    assert member.get(change).status_code == 200
    member.post(change, {"name": "renamed"})
    trace.refresh_from_db()
    assert trace.name == "chat"
    assert member.get(reverse("admin:traces_trace_add")).status_code == 403
    observation = Observation.objects.get(observation_id="o-1")
    assert member.get(reverse("admin:traces_observation_change", args=[observation.pk])).status_code == 200
    assert listed_observations(member.get(OBSERVATIONS_URL, {"trace": "t-a"})) == ["o-1"]


def listed_observations(response) -> list[str]:
    assert response.status_code == 200
    return [row.observation_id for row in response.context["cl"].result_list]


def test_deleting_a_trace_in_the_admin_removes_its_observations_and_scores(member, project, traces):
    trace = Trace.objects.get(project=project, trace_id="t-a")
    ObservationFactory(trace=trace)
    ScoreFactory(project=project, trace_id="t-a")
    response = member.post(TRACES_URL, {"action": "delete_selected", "_selected_action": [trace.pk], "post": "yes"})
    assert response.status_code == 302
    assert not Trace.objects.filter(project=project, trace_id="t-a").exists()
    assert not Observation.objects.filter(project=project, trace_id="t-a").exists()
    assert AuditLog.objects.filter(project=project, action="trace.delete").exists()
    assert Trace.objects.filter(trace_id="t-victim").exists()


def test_traces_and_observations_can_be_added_to_a_dataset_from_their_lists(member, project, traces):
    from datasets.models import DatasetItem
    from tests.datasets.factories import DatasetFactory

    dataset = DatasetFactory(project=project)
    trace = Trace.objects.get(project=project, trace_id="t-a")
    trace.input, trace.output = {"q": "refund?"}, "yes"
    trace.save()
    observation = ObservationFactory(trace=trace, input="obs-in", output="obs-out")
    for url, source in ((TRACES_URL, trace), (OBSERVATIONS_URL, observation)):
        selection = {"action": "add_to_dataset", "_selected_action": [source.pk]}
        assert member.post(url, selection).status_code == 200
        member.post(url, {**selection, "apply": "1", "dataset": dataset.pk, "input_from": "input", "expected_output_from": "output"})
    items = DatasetItem.objects.filter(dataset=dataset).order_by("created_at", "id")
    assert [(item.input, item.expected_output) for item in items] == [({"q": "refund?"}, "yes"), ("obs-in", "obs-out")]


def test_a_model_price_is_created_in_the_admin_through_the_service(member, project):
    form = {"project": project.pk, "model_name": "gpt-x", "match_pattern": "(?i)^gpt-x$", "unit": "TOKENS",
            "input_price": "0.000001", "output_price": "0.000002", "total_price": "", "tokenizer_id": "", "tokenizer_config": "null",
            "start_date_0": "", "start_date_1": ""}
    response = member.post(reverse("admin:evalsite_modelprice_add"), form)
    assert response.status_code == 302, response.content.decode()[:3000]
    assert ModelPrice.objects.get(project=project).model_name == "gpt-x"
    assert AuditLog.objects.filter(project=project, action="model_price.create").exists()

    bad = member.post(reverse("admin:evalsite_modelprice_add"), {**form, "match_pattern": "(broken"})
    assert bad.status_code == 200 and "Not a valid regular expression" in bad.content.decode()
    both = member.post(reverse("admin:evalsite_modelprice_add"), {**form, "total_price": "1"})
    assert both.status_code == 200 and "not both" in both.content.decode()
    assert ModelPrice.objects.filter(project=project).count() == 1


def test_a_viewer_sees_model_prices_but_cannot_change_them(client, project):
    price = ModelPriceFactory(project=project)
    client.force_login(user_with_role(project, Role.VIEWER))
    change = reverse("admin:evalsite_modelprice_change", args=[price.pk])
    assert client.get(change).status_code == 200
    client.post(change, {"model_name": "changed"})
    price.refresh_from_db()
    assert price.model_name != "changed"
