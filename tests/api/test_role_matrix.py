"""What each key role may do through the API.

Each view declares the role per action; this drives the declared levels through a real request
for every role, so a view that forgot to declare falls back to the defaults tested here.
"""

import pytest
from rest_framework import mixins
from rest_framework.decorators import action
from rest_framework.response import Response
from rest_framework.test import APIRequestFactory

from evalsite.api.authentication import ApiKeyAuthentication
from evalsite.api.viewsets import ProjectScopedViewSet
from evalsite.tenancy.models import Project
from evalsite.tenancy.roles import Role
from tests.conftest import KEY_ROLES
from tests.support.api import basic_auth
from tests.tenancy.factories import api_key_for

pytestmark = pytest.mark.django_db


class ExampleViewSet(mixins.ListModelMixin, ProjectScopedViewSet):
    queryset = Project.objects.all()
    project_lookup = "id"
    pagination_class = None
    authentication_classes = [ApiKeyAuthentication]
    required_roles = {"annotate": Role.ANNOTATOR, "configure": Role.ADMIN}

    def list(self, request):
        return Response({"ids": list(self.get_queryset().values_list("id", flat=True))})

    def create(self, request):
        return Response({"created": True}, status=201)

    @action(detail=False, methods=["post"])
    def annotate(self, request):
        return Response({"annotated": True})

    @action(detail=False, methods=["post"])
    def configure(self, request):
        return Response({"configured": True})


MINIMUM = {"list": Role.VIEWER, "create": Role.MEMBER, "annotate": Role.ANNOTATOR, "configure": Role.ADMIN}


@pytest.mark.parametrize("role", KEY_ROLES, ids=lambda r: r.name)
@pytest.mark.parametrize("view_action", list(MINIMUM))
def test_each_role_gets_exactly_the_actions_its_level_allows(project, role, view_action):
    created = api_key_for(project, role)
    method = "get" if view_action == "list" else "post"
    view = ExampleViewSet.as_view({method: view_action})
    request = getattr(APIRequestFactory(), method)(
        "/x", HTTP_AUTHORIZATION=basic_auth(created.public_key, created.secret_key)
    )
    response = view(request)
    if role >= MINIMUM[view_action]:
        assert response.status_code in (200, 201)
    else:
        assert response.status_code == 403
        assert response.data["error"] == "AccessDeniedError"


@pytest.mark.parametrize("role", KEY_ROLES, ids=lambda r: r.name)
def test_every_key_role_can_read_its_project(api_by_role, role, project):
    response = api_by_role[role].get("projects")
    assert response.status_code == 200
    assert response.json()["data"][0]["id"] == project.id


def test_a_key_cannot_be_given_the_owner_role(project):
    with pytest.raises(ValueError):
        api_key_for(project, Role.OWNER)
