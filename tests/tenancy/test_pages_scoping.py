import pytest
from django.contrib.auth.models import AnonymousUser
from django.http import HttpResponse
from django.test import RequestFactory

from evalsite.pages import ProjectPageView
from evalsite.tenancy.roles import Role
from tests.tenancy.factories import user_with_role

pytestmark = pytest.mark.django_db


class ExamplePage(ProjectPageView):
    required_roles = {"GET": Role.VIEWER, "POST": Role.MEMBER}

    def get(self, request, project_id):
        return HttpResponse(self.project.name)

    def post(self, request, project_id):
        return HttpResponse("written")


def call(method, user, project_id):
    request = getattr(RequestFactory(), method)("/p")
    request.user = user
    return ExamplePage.as_view()(request, project_id=project_id)


@pytest.mark.parametrize("role", [Role.VIEWER, Role.ANNOTATOR, Role.MEMBER, Role.ADMIN], ids=lambda r: r.name)
def test_page_roles_follow_the_declared_levels(project, role):
    user = user_with_role(project, role, staff=False)
    assert call("get", user, project.pk).status_code == 200
    if role >= Role.MEMBER:
        assert call("post", user, project.pk).status_code == 200
    else:
        with pytest.raises(Exception) as raised:
            call("post", user, project.pk)
        assert type(raised.value).__name__ == "PermissionDenied"


def test_another_projects_page_is_the_same_404_as_a_missing_one(project, victim_project):
    from django.http import Http404

    user = user_with_role(project, Role.OWNER, staff=False)
    for project_id in (victim_project.pk, "does-not-exist"):
        with pytest.raises(Http404):
            call("get", user, project_id)


def test_anonymous_visitors_are_sent_to_sign_in(project):
    response = call("get", AnonymousUser(), project.pk)
    assert response.status_code == 302 and "login" in response["Location"]


def test_plotly_is_served_from_the_installed_package(client):
    response = client.get("/vendor/plotly.min.js")
    assert response.status_code == 200
    assert b"plotly" in b"".join(response.streaming_content)[:5000].lower()


def test_a_project_member_who_is_not_staff_signs_in_and_reaches_a_page(client, project):
    user = user_with_role(project, Role.VIEWER, staff=False)
    response = client.get(f"/projects/{project.pk}/experiments/compare")
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")
    page = client.get(response["Location"])
    assert page.status_code == 200 and b"Sign in" in page.content
    signed_in = client.post(
        "/accounts/login/",
        {"username": user.username, "password": "pw-for-tests", "next": f"/projects/{project.pk}/experiments/compare"},
    )
    assert signed_in.status_code == 302
    assert client.get(signed_in["Location"]).status_code == 200
