"""The run admin: list, "compare selected runs", links to the comparison and to the items."""

from urllib.parse import parse_qs, urlparse

import pytest
from django.urls import reverse

from evalsite.tenancy.models import AuditLog
from evalsite.tenancy.roles import Role
from experiments.models import ExperimentRun
from tests.experiments.factories import ExperimentRunFactory, RunItemFactory
from tests.tenancy.factories import user_with_role

pytestmark = pytest.mark.django_db

CHANGELIST = "admin:experiments_experimentrun_changelist"


@pytest.fixture
def member(client, project):
    client.force_login(user_with_role(project, Role.MEMBER))
    return client


def run_action(client, runs):
    return client.post(
        reverse(CHANGELIST),
        {"action": "compare_selected_runs", "_selected_action": [run.pk for run in runs]},
    )


def test_compare_selected_runs_opens_the_comparison_with_the_oldest_as_baseline(member, project):
    first = ExperimentRunFactory(project=project)
    second = ExperimentRunFactory(project=project)
    response = run_action(member, [second, first])
    assert response.status_code == 302
    url = urlparse(response["Location"])
    assert url.path == reverse("experiment-compare", kwargs={"project_id": project.pk})
    assert parse_qs(url.query) == {"runs": [f"{first.run_id},{second.run_id}"], "baseline": [first.run_id]}


def test_comparing_more_than_five_runs_is_refused(member, project):
    runs = ExperimentRunFactory.create_batch(6, project=project)
    response = run_action(member, runs)
    assert response.status_code == 302
    assert urlparse(response["Location"]).path == reverse(CHANGELIST)
    messages = [str(m) for m in response.wsgi_request._messages]
    assert messages == ["Select 1 to 5 runs to compare."]


def test_the_changelist_shows_item_counts_and_a_comparison_link_per_run(member, project):
    run = ExperimentRunFactory(project=project, name="listed run")
    RunItemFactory.create_batch(3, run=run)
    html = member.get(reverse(CHANGELIST)).content.decode()
    assert "listed run" in html
    assert f"runs={run.run_id}" in html
    assert '<td class="field-item_count">3</td>' in html


def test_the_run_page_links_to_its_items(member, project):
    run = ExperimentRunFactory(project=project)
    mine = RunItemFactory(run=run, item_key="mine")
    RunItemFactory(run=ExperimentRunFactory(project=project), item_key="other run")
    html = member.get(reverse("admin:experiments_experimentrun_change", args=[run.pk])).content.decode()
    assert f"run__id__exact={run.pk}" in html
    items = member.get(reverse("admin:experiments_runitem_changelist"), {"run__id__exact": run.pk}).content.decode()
    assert mine.item_key in items and "other run" not in items


def test_deleting_a_run_in_the_admin_is_audited(member, project):
    run = ExperimentRunFactory(project=project)
    response = member.post(reverse("admin:experiments_experimentrun_delete", args=[run.pk]), {"post": "yes"})
    assert response.status_code == 302
    assert not ExperimentRun.objects.filter(pk=run.pk).exists()
    assert AuditLog.objects.filter(action="experiment_run.delete", project=project).exists()
