"""Repo invariants: every public API route is project-scoped, and the base class cannot be bypassed."""

import pytest

from evalsite.api.views import HealthView
from evalsite.api.viewsets import ProjectScopedViewSet
from tests.support.routes import api_routes

# Routes allowed outside ProjectScopedViewSet, each for a reason: health is for load balancers and
# takes no key; the schema and docs live outside /api/public/ and describe, not expose, data.
UNSCOPED_ALLOWED = {HealthView}


def test_every_public_api_route_is_a_project_scoped_viewset():
    offenders = [
        route.pattern
        for route in api_routes()
        if route.view_class not in UNSCOPED_ALLOWED
        and not (isinstance(route.view_class, type) and issubclass(route.view_class, ProjectScopedViewSet))
    ]
    assert offenders == [], f"API routes not scoped by ProjectScopedViewSet: {offenders}"


def test_public_api_routes_have_no_trailing_slash():
    assert [r.pattern for r in api_routes() if r.pattern.endswith("/")] == []


@pytest.mark.parametrize("method", ["get_queryset", "get_object", "get_permissions", "initial"])
def test_a_viewset_cannot_override_the_scoping_methods(method):
    with pytest.raises(TypeError, match="project scoping"):
        type("Sneaky", (ProjectScopedViewSet,), {method: lambda self: None})


def test_every_project_page_is_a_project_page_view():
    import re

    from evalsite.pages import ProjectPageView
    from tests.support.routes import all_routes

    # One project's pages, and the SDK's links into them; /projects/ itself is the user's project list.
    pages = [route for route in all_routes() if re.match(r"^projects?/<str:project_id>/", route.pattern)]
    assert pages, "the project pages should be registered"
    offenders = [
        route.pattern
        for route in pages
        if not (isinstance(route.view_class, type) and issubclass(route.view_class, ProjectPageView))
    ]
    assert offenders == [], f"project pages not scoped by ProjectPageView: {offenders}"
