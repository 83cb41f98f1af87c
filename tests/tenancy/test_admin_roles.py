"""What each role may do in the admin (the API side is tests/api/test_role_matrix.py)."""

import re

import pytest
from django.urls import reverse

from evalsite.tenancy.models import ApiKey, AuditLog, Project, ProjectMembership
from evalsite.tenancy.roles import Role
from tests.tenancy.factories import ProjectFactory, UserFactory, api_key_for, user_with_role

pytestmark = pytest.mark.django_db

ROLES = [Role.VIEWER, Role.ANNOTATOR, Role.MEMBER, Role.ADMIN, Role.OWNER]


def url(name, *args):
    return reverse(f"admin:evalsite_{name}", args=args)


@pytest.mark.parametrize("role", ROLES, ids=lambda r: r.name)
def test_every_role_can_view_its_project_but_only_admins_see_keys_and_members(client, project, role):
    client.force_login(user_with_role(project, role))
    assert client.get(url("project_change", project.pk)).status_code == 200
    expected = 200 if role >= Role.ADMIN else 403
    assert client.get(url("apikey_changelist")).status_code == expected
    assert client.get(url("projectmembership_changelist")).status_code == expected
    assert client.get(url("auditlog_changelist")).status_code == expected


@pytest.mark.parametrize("role", ROLES, ids=lambda r: r.name)
def test_only_admins_can_create_keys_and_the_secret_is_shown_once(client, project, role):
    client.force_login(user_with_role(project, role))
    response = client.post(url("apikey_add"), {"project": project.pk, "note": "ci", "role": Role.MEMBER}, follow=True)
    if role < Role.ADMIN:
        assert response.status_code == 403
        assert not ApiKey.objects.exists()
        return
    key = ApiKey.objects.get(project=project)
    shown = re.search(r'id="secret-key">(sk-lf-[0-9a-f]+)<', response.content.decode())
    assert shown, "the secret must be shown right after creation"
    assert key.secret_hash != shown.group(1)
    again = client.get(url("apikey_change", key.pk))
    assert shown.group(1) not in again.content.decode()
    assert AuditLog.objects.filter(action="api_key.create", object_id=str(key.pk)).exists()


def test_admin_cannot_create_a_key_for_a_project_they_do_not_administer(client, project, victim_project):
    client.force_login(user_with_role(project, Role.ADMIN))
    response = client.post(url("apikey_add"), {"project": victim_project.pk, "note": "x", "role": Role.ADMIN})
    assert response.status_code == 200  # the form is shown again with an error
    assert "Select a valid choice" in response.content.decode()
    assert not ApiKey.objects.filter(project=victim_project).exists()


def test_admin_revokes_a_key_with_the_admin_action(client, project):
    created = api_key_for(project)
    client.force_login(user_with_role(project, Role.ADMIN))
    client.post(url("apikey_changelist"), {"action": "revoke_selected", "_selected_action": [created.api_key.pk]})
    created.api_key.refresh_from_db()
    assert created.api_key.revoked_at is not None


def test_project_admin_cannot_grant_a_role_above_their_own(client, project):
    admin_user = user_with_role(project, Role.ADMIN)
    target = user_with_role(project, Role.VIEWER, staff=False)
    client.force_login(admin_user)
    response = client.post(url("projectmembership_add"), {"project": project.pk, "user": target.pk, "role": Role.OWNER})
    assert "cannot grant a role above your own" in response.content.decode()
    assert not ProjectMembership.objects.filter(user=target).exists()
    client.post(url("projectmembership_add"), {"project": project.pk, "user": target.pk, "role": Role.MEMBER})
    assert ProjectMembership.objects.get(user=target).role == Role.MEMBER
    assert AuditLog.objects.filter(action="project_membership.create").exists()


@pytest.mark.parametrize("role", [Role.ADMIN, Role.OWNER], ids=lambda r: r.name)
def test_only_the_owner_can_delete_a_project(client, role):
    project = ProjectFactory()
    client.force_login(user_with_role(project, role))
    client.post(url("project_delete", project.pk), {"post": "yes"})
    assert Project.objects.filter(pk=project.pk).exists() == (role < Role.OWNER)


def test_a_project_override_of_none_hides_the_project_in_the_admin(client, project):
    user = user_with_role(project, Role.MEMBER)
    ProjectMembership.objects.create(project=project, user=user, role=Role.NONE)
    client.force_login(user)
    assert client.get(url("project_change", project.pk)).status_code in (302, 403)


def test_a_non_staff_member_cannot_sign_in_to_the_admin(client, project):
    client.force_login(user_with_role(project, Role.OWNER, staff=False))
    assert client.get(url("project_changelist")).status_code == 302


def test_a_superuser_sees_every_project(client, project, victim_project):
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    content = client.get(url("project_changelist")).content.decode()
    assert project.name in content and victim_project.name in content
