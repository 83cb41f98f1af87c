"""Repo invariant: every project page, and every SDK link into one, is the same 404 for a member of
another project as for a missing project, whatever the page shows."""

import re
from urllib.parse import quote, urlencode

import pytest

from evalsite.tenancy.roles import Role
from tests.support.cross_project import all_page_cases
from tests.support.routes import all_routes
from tests.tenancy.factories import user_with_role

pytestmark = pytest.mark.django_db

PROJECT_PAGE = re.compile(r"^projects?/<str:project_id>/")
CASES = all_page_cases()


def page_routes():
    return [route for route in all_routes() if PROJECT_PAGE.match(route.pattern)]


def fill(pattern: str, kwargs: dict) -> str:
    return "/" + re.sub(r"<(?:\w+:)?(\w+)>", lambda match: quote(str(kwargs[match.group(1)]), safe=""), pattern)


def test_every_project_page_has_a_page_case():
    covered = {case.pattern for case in CASES}
    missing = [route.pattern for route in page_routes() if route.pattern not in covered]
    assert page_routes() and missing == [], f"add a PageCase for: {missing}"


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.pattern)
def test_a_member_of_another_project_gets_404_for_every_page(client, project, victim_project, case):
    url = fill(case.pattern, {"project_id": victim_project.pk, **case.make(victim_project)})
    url += "?" + urlencode(case.query) if case.query else ""

    client.force_login(user_with_role(project, Role.OWNER, staff=False))
    for method in ("get", "post"):
        assert getattr(client, method)(url).status_code == 404, (method, url)

    client.force_login(user_with_role(victim_project, Role.VIEWER, staff=False))
    assert client.get(url).status_code in (200, 302), url  # the page exists for its own members
