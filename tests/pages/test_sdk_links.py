"""The links the SDK prints to Langfuse's own UI routes open our pages (issue 9, item 13)."""

import pytest

from evalsite.tenancy.roles import Role
from tests.experiments.factories import ExperimentRunFactory
from tests.support.live import langfuse_client
from tests.tenancy.factories import api_key_for, user_with_role
from tests.traces.factories import TraceFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def viewer(client, project):
    client.force_login(user_with_role(project, Role.VIEWER, staff=False))
    return client


def test_the_trace_link_redirects_to_the_trace_page(viewer, project):
    TraceFactory(project=project, trace_id="a/b c", name="linked trace")
    response = viewer.get(f"/project/{project.pk}/traces/a%2Fb%20c")
    assert response.status_code == 302
    assert response["Location"] == f"/projects/{project.pk}/traces/a/b%20c"
    page = viewer.get(response["Location"])
    assert page.status_code == 200 and "linked trace" in page.content.decode()


def test_the_experiment_link_opens_the_comparison_with_that_run_picked(viewer, project):
    run = ExperimentRunFactory(project=project, run_id="0123abcd", name="sdk run")
    response = viewer.get(f"/project/{project.pk}/experiments/results", {"baseline": run.run_id})
    assert response.status_code == 302
    assert response["Location"] == f"/projects/{project.pk}/experiments/compare?runs=0123abcd&baseline=0123abcd"
    page = viewer.get(response["Location"])
    assert page.status_code == 200 and "sdk run" in page.content.decode()
    picker = viewer.get(f"/project/{project.pk}/experiments/results")
    assert picker["Location"] == f"/projects/{project.pk}/experiments/compare"


def test_the_links_need_sign_in_and_a_role_in_the_project(client, project, victim_project):
    TraceFactory(project=victim_project, trace_id="theirs")
    for url in (f"/project/{project.pk}/traces/x", f"/project/{project.pk}/experiments/results?baseline=r"):
        assert client.get(url)["Location"].startswith("/accounts/login/")
    client.force_login(user_with_role(project, Role.OWNER, staff=False))
    assert client.get(f"/project/{victim_project.pk}/traces/theirs").status_code == 404
    assert client.get("/project/no-such-project/traces/theirs").status_code == 404


@pytest.mark.django_db(transaction=True)
@pytest.mark.live
def test_the_url_the_sdk_prints_for_a_trace_opens_its_page(live_server, project, client):
    TraceFactory(project=project, trace_id="f" * 32, name="printed by the sdk")
    with langfuse_client(live_server, api_key_for(project)) as langfuse:
        url = langfuse.get_trace_url(trace_id="f" * 32)
    assert url.startswith(live_server.url)
    client.force_login(user_with_role(project, Role.VIEWER, staff=False))
    page = client.get(url.removeprefix(live_server.url), follow=True)
    assert page.status_code == 200 and "printed by the sdk" in page.content.decode()
