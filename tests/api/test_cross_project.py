import re

import pytest
from django.urls import reverse  # noqa: F401  (kept for cases that build URLs by name)

from tests.support.cross_project import all_cases
from tests.support.routes import api_routes

pytestmark = pytest.mark.django_db

CASES = all_cases()
WRITE_METHODS = {"post", "put", "patch", "delete"}


def fill(pattern: str, kwargs: dict) -> str:
    from urllib.parse import quote

    def value(match):
        return quote(str(kwargs[match.group(2)]), safe="")

    return "/" + re.sub(r"<(?:(\w+):)?(\w+)>", value, pattern)


def parameterised_routes():
    return [route for route in api_routes() if "<" in route.pattern]


def test_every_parameterised_api_route_has_a_cross_project_case():
    covered = {case.pattern for case in CASES}
    missing = [route.pattern for route in parameterised_routes() if route.pattern not in covered]
    assert missing == [], f"add a CrossProjectCase for: {missing}"


def case_params():
    routes = {route.pattern: route for route in parameterised_routes()}
    for case in CASES:
        route = routes.get(case.pattern)
        methods = sorted(route.actions) if route and route.actions else ["get"]
        for method in methods:
            yield pytest.param(case, method, id=f"{method.upper()} {case.pattern}")


@pytest.mark.parametrize("case,method", list(case_params()))
def test_a_key_of_another_project_gets_404_for_every_object(api, victim_project, case, method):
    kwargs = case.make(victim_project)
    response = api.request(method.upper(), fill(case.pattern, kwargs), case.body if method in WRITE_METHODS else None)
    assert response.status_code == 404, (response.status_code, response.content[:300])
    assert response.json()["error"] == "NotFoundError"
    if method in WRITE_METHODS and case.still_there is not None:
        assert case.still_there(victim_project, kwargs)
