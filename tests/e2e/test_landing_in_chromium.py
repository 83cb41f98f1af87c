"""A member who is not staff signs in, lands on their projects, opens a project's home and follows
its navigation, in headless Chromium (issue 9, item 12)."""

import pytest

from evalsite.tenancy.roles import Role
from tests.datasets.factories import DatasetFactory
from tests.e2e.test_pages_in_chromium import CHROMIUM, browser, signed_in_page  # noqa: F401 (fixture)
from tests.experiments.factories import ExperimentRunFactory
from tests.tenancy.factories import user_with_role
from tests.traces.factories import TraceFactory

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.live,
    pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed (.ci/run installs it)"),
]


def test_a_member_lands_on_their_projects_and_finds_their_way(browser, live_server, project, tmp_path):  # noqa: F811
    TraceFactory(project=project, name="first trace")
    DatasetFactory(project=project, name="qa/golden")
    ExperimentRunFactory(project=project, name="nightly")
    user = user_with_role(project, Role.MEMBER, staff=False)

    page = signed_in_page(browser, live_server, user)
    page.wait_for_url(f"{live_server.url}/projects/")
    page.click(f"text={project.name}")
    page.wait_for_url(f"{live_server.url}/projects/{project.pk}/")
    assert page.locator("h2#traces").inner_text().endswith("1 in all")
    assert page.locator("text=qa/golden").count() == 1
    page.screenshot(path=str(tmp_path / "home.png"), full_page=True)

    page.click("text=first trace")
    page.wait_for_url(f"{live_server.url}/projects/{project.pk}/traces/**")
    page.click("nav >> text=Compare runs")
    page.wait_for_url(f"{live_server.url}/projects/{project.pk}/experiments/compare")
    assert page.locator("text=nightly").count() >= 1
    page.click("nav >> text=Home")
    page.wait_for_url(f"{live_server.url}/projects/{project.pk}/")
    page.click("text=Sign out")
    page.wait_for_url(f"{live_server.url}/accounts/login/")
