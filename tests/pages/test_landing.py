"""Where a person lands (issue 9, item 12): / and /projects/, each project's home, the navigation
bar of every project page, and signing in without `next`."""

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

import dashboards.pages
from evalsite.tenancy.models import ProjectMembership
from evalsite.tenancy.roles import Role
from tests.datasets.factories import DatasetFactory
from tests.experiments.factories import ExperimentRunFactory
from tests.tenancy.factories import ProjectFactory, user_with_role
from tests.traces.factories import TraceFactory

pytestmark = pytest.mark.django_db


def home(project) -> str:
    return f"/projects/{project.pk}/"


def links(html: str) -> dict[str, str]:
    return {text.strip(): href.replace("&amp;", "&") for href, text in re.findall(r'<a href="([^"]+)"[^>]*>([^<]+)</a>', html)}


def test_the_root_sends_a_signed_in_user_to_their_projects_and_anyone_else_to_sign_in(client, project):
    assert client.get("/")["Location"] == "/accounts/login/"
    client.force_login(user_with_role(project, Role.VIEWER, staff=False))
    assert client.get("/")["Location"] == "/projects/"


def test_signing_in_without_next_lands_on_the_projects_page(client, project):
    user = user_with_role(project, Role.VIEWER, staff=False)
    response = client.post("/accounts/login/", {"username": user.username, "password": "pw-for-tests"})
    assert response.status_code == 302 and response["Location"] == "/projects/"
    page = client.get("/projects/")
    assert page.status_code == 200 and project.name in page.content.decode()


def test_the_projects_page_lists_what_the_user_can_see_with_their_role(client, project, victim_project):
    user = user_with_role(project, Role.MEMBER, staff=False)
    raised = ProjectFactory(organization=project.organization, name="Raised")
    hidden = ProjectFactory(organization=project.organization, name="Hidden")
    ProjectMembership.objects.create(project=raised, user=user, role=Role.ADMIN)
    ProjectMembership.objects.create(project=hidden, user=user, role=Role.NONE)
    client.force_login(user)
    html = client.get("/projects/").content.decode()
    rows = re.findall(r'<a href="/projects/([^/]+)/">([^<]+)</a></td>\s*<td>([^<]+)</td>', html)
    assert sorted(rows) == sorted([(project.pk, project.name, "Member"), (raised.pk, "Raised", "Admin")])
    assert victim_project.name not in html and "Hidden" not in html


def test_the_projects_page_needs_sign_in(client):
    assert client.get("/projects/")["Location"].startswith("/accounts/login/")


def test_the_home_shows_recent_traces_datasets_and_runs_with_counts(client, project, victim_project):
    for index in range(12):
        TraceFactory(project=project, name=f"mine-{index:02d}")
    TraceFactory(project=project, trace_id="folder/with?odd#chars", name="odd-id")
    TraceFactory(project=victim_project, name="theirs")
    DatasetFactory(project=project, name="qa/golden", description="The golden set")
    run = ExperimentRunFactory(project=project, name="nightly")
    ExperimentRunFactory(project=victim_project, name="their-run")
    client.force_login(user_with_role(project, Role.VIEWER, staff=False))
    html = client.get(home(project)).content.decode()
    counts = dict(re.findall(r'<h2 id="(\w+)">[^<]*<span class="count">([^<]+) in all</span>', html))
    assert counts == {"traces": "13", "datasets": "1", "runs": "1"}
    assert html.count("mine-") == 9 and "odd-id" in html  # the ten newest
    assert "qa/golden" in html and "The golden set" in html
    assert links(html)["odd-id"] == f"/projects/{project.pk}/traces/folder%2Fwith%3Fodd%23chars"
    assert client.get(links(html)["odd-id"]).status_code == 200
    assert links(html)["nightly"] == f"/projects/{project.pk}/experiments/compare?runs={run.run_id}"
    assert "theirs" not in html and "their-run" not in html


def test_counts_stop_at_the_cap(client, project, monkeypatch):
    monkeypatch.setattr(dashboards.pages, "COUNT_CAP", 3)
    for _ in range(5):
        TraceFactory(project=project)
    client.force_login(user_with_role(project, Role.VIEWER, staff=False))
    assert '<span class="count">3+ in all</span>' in client.get(home(project)).content.decode()


@pytest.mark.parametrize("role", [Role.VIEWER, Role.ANNOTATOR, Role.MEMBER, Role.ADMIN, Role.OWNER], ids=lambda r: r.name)
def test_the_home_links_every_page_the_role_allows(client, project, role):
    client.force_login(user_with_role(project, role, staff=True))
    found = links(client.get(home(project)).content.decode())
    assert found["Compare runs"] == f"/projects/{project.pk}/experiments/compare"
    for label in ("Traces", "Datasets", "Experiment runs", "Scores", "Score configs", "Prompts"):
        assert found[label].endswith(f"?project__id__exact={project.pk}"), label
        assert client.get(found[label]).status_code == 200, label
    for label in ("Llm connections", "Api keys", "Project memberships", "Audit logs"):
        assert (label in found) == (role >= Role.ADMIN), label
    assert found["Admin"] == f"/admin/evalsite/project/{project.pk}/change/"


def test_members_who_are_not_staff_get_no_admin_links(client, project):
    client.force_login(user_with_role(project, Role.ADMIN, staff=False))
    html = client.get(home(project)).content.decode()
    assert "/admin/" not in html and "open to staff accounts only" in html


def test_the_home_takes_the_same_number_of_queries_for_a_few_and_many_rows(client, project):
    client.force_login(user_with_role(project, Role.VIEWER, staff=False))

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert client.get(home(project)).status_code == 200
        return len(captured)

    TraceFactory(project=project)
    few = queries()
    for _ in range(30):
        TraceFactory(project=project)
        DatasetFactory(project=project)
        ExperimentRunFactory(project=project)
    # 12 for the lists and counts, two per query of the built-in dashboard (dashboards/builtin.py:
    # its planner settings, then the query; metrics/engine.py), and at most one each for its
    # evaluator spend and queue progress panels.
    assert queries() == few <= 12 + 2 * 7 + 2


def test_every_project_page_has_the_navigation_bar(client, project):
    trace = TraceFactory(project=project)
    client.force_login(user_with_role(project, Role.VIEWER, staff=False))
    for url in (home(project), f"/projects/{project.pk}/traces/{trace.trace_id}", f"/projects/{project.pk}/experiments/compare"):
        html = client.get(url).content.decode()
        nav = re.search(r'<nav aria-label="Project">(.*?)</nav>', html, re.S).group(1)
        assert links(nav) == {
            "Home": home(project),
            "Compare runs": f"/projects/{project.pk}/experiments/compare",
            "Score analytics": f"/projects/{project.pk}/analytics/scores",
            "Dashboards": f"/projects/{project.pk}/dashboards",
        }, url
        assert "Sign out" in html and "· Viewer" in html
