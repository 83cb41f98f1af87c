import pytest

from evalsite.tenancy.roles import Role
from evalsite.tenancy.selectors import role_in_project, roles_by_project
from tests.tenancy.factories import (
    OrganizationMembershipFactory,
    ProjectFactory,
    ProjectMembershipFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db


def test_roles_are_ordered_from_viewer_to_owner():
    assert Role.NONE < Role.VIEWER < Role.ANNOTATOR < Role.MEMBER < Role.ADMIN < Role.OWNER


def test_organization_role_applies_to_every_project_of_the_organization(project):
    other = ProjectFactory(organization=project.organization)
    user = UserFactory()
    OrganizationMembershipFactory(organization=project.organization, user=user, role=Role.ANNOTATOR)
    assert role_in_project(user=user, project=project) == Role.ANNOTATOR
    assert role_in_project(user=user, project=other) == Role.ANNOTATOR


def test_project_override_can_raise_lower_or_remove_access(project):
    raised, lowered, removed = ProjectFactory.create_batch(3, organization=project.organization)
    user = UserFactory()
    OrganizationMembershipFactory(organization=project.organization, user=user, role=Role.MEMBER)
    ProjectMembershipFactory(project=raised, user=user, role=Role.ADMIN)
    ProjectMembershipFactory(project=lowered, user=user, role=Role.VIEWER)
    ProjectMembershipFactory(project=removed, user=user, role=Role.NONE)
    assert role_in_project(user=user, project=raised) == Role.ADMIN
    assert role_in_project(user=user, project=lowered) == Role.VIEWER
    assert role_in_project(user=user, project=removed) == Role.NONE
    visible = roles_by_project(user=user)
    assert removed.pk not in visible
    assert visible[raised.pk] == Role.ADMIN and visible[project.pk] == Role.MEMBER


def test_user_of_another_organization_has_no_role(project, victim_project):
    user = UserFactory()
    OrganizationMembershipFactory(organization=victim_project.organization, user=user, role=Role.OWNER)
    assert role_in_project(user=user, project=project) == Role.NONE
    assert project.pk not in roles_by_project(user=user)


def test_superuser_is_owner_everywhere_and_inactive_user_is_nobody(project):
    superuser = UserFactory(is_superuser=True)
    assert role_in_project(user=superuser, project=project) == Role.OWNER
    inactive = UserFactory(is_active=False)
    OrganizationMembershipFactory(organization=project.organization, user=inactive, role=Role.OWNER)
    assert role_in_project(user=inactive, project=project) == Role.NONE


def test_roles_by_project_takes_a_fixed_number_of_queries(project, django_assert_num_queries):
    user = UserFactory()
    OrganizationMembershipFactory(organization=project.organization, user=user, role=Role.MEMBER)
    ProjectFactory.create_batch(5, organization=project.organization)
    with django_assert_num_queries(3):
        roles = roles_by_project(user=user)
    assert len(roles) == 6
