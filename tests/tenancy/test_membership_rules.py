"""Nobody changes or removes someone above them, nobody grants above their own role, an organization
keeps an owner, and project overrides are for the organization's members only: in the services, the
admin and the commands (issue 9, items 6 and 7)."""

import io

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management import CommandError, call_command
from django.urls import reverse

from evalsite.tenancy import services
from evalsite.tenancy.actors import SYSTEM, Actor
from evalsite.tenancy.models import AuditLog, OrganizationMembership, ProjectMembership
from evalsite.tenancy.roles import Role
from evalsite.tenancy.selectors import role_in_project
from tests.tenancy.factories import (
    OrganizationMembershipFactory,
    ProjectFactory,
    ProjectMembershipFactory,
    UserFactory,
    api_key_for,
    user_with_role,
)

pytestmark = pytest.mark.django_db


def org_role(user, project) -> Role:
    return Role(OrganizationMembership.objects.get(organization=project.organization, user=user).role)


def membership_of(user, project) -> OrganizationMembership:
    return OrganizationMembership.objects.get(organization=project.organization, user=user)


@pytest.fixture
def owner(project):
    return user_with_role(project, Role.OWNER)


@pytest.fixture
def admin_user(project, owner):
    return user_with_role(project, Role.ADMIN)


def as_user(user) -> Actor:
    return Actor(user=user)


# -- services ------------------------------------------------------------------------------------


def test_an_admin_cannot_demote_the_owner(project, owner, admin_user):
    with pytest.raises(ValidationError) as raised:
        services.organization_membership_set(
            organization=project.organization, user=owner, role=Role.VIEWER, actor=as_user(admin_user)
        )
    assert "user" in raised.value.message_dict and "above yours" in raised.value.message_dict["user"][0]
    assert org_role(owner, project) == Role.OWNER


def test_an_admin_cannot_lock_the_owner_out_of_a_project_with_a_no_access_override(project, owner, admin_user):
    with pytest.raises(ValidationError) as raised:
        services.project_membership_set(project=project, user=owner, role=Role.NONE, actor=as_user(admin_user))
    assert "user" in raised.value.message_dict
    assert role_in_project(user=owner, project=project) == Role.OWNER


def test_an_admin_cannot_remove_the_owner_or_their_project_override(project, owner, admin_user):
    with pytest.raises(ValidationError) as raised:
        services.membership_delete(membership=membership_of(owner, project), actor=as_user(admin_user))
    assert "membership" in raised.value.message_dict
    # An override that lowers the owner in one project is still the owner's: the organization role counts.
    override = ProjectMembershipFactory(project=project, user=owner, role=Role.VIEWER)
    with pytest.raises(ValidationError):
        services.membership_delete(membership=override, actor=as_user(admin_user))
    with pytest.raises(ValidationError):
        services.project_membership_set(project=project, user=owner, role=Role.MEMBER, actor=as_user(admin_user))
    assert OrganizationMembership.objects.filter(user=owner).exists()
    assert ProjectMembership.objects.get(pk=override.pk).role == Role.VIEWER


@pytest.mark.parametrize("role", [Role.OWNER], ids=lambda r: r.name)
def test_an_admin_cannot_grant_a_role_above_their_own(project, admin_user, role):
    member = user_with_role(project, Role.MEMBER)
    for write in (
        lambda: services.organization_membership_set(
            organization=project.organization, user=member, role=role, actor=as_user(admin_user)
        ),
        lambda: services.project_membership_set(project=project, user=member, role=role, actor=as_user(admin_user)),
        lambda: services.organization_membership_set(
            organization=project.organization, user=admin_user, role=role, actor=as_user(admin_user)
        ),
    ):
        with pytest.raises(ValidationError) as raised:
            write()
        assert "above your own" in raised.value.message_dict["role"][0]
    assert org_role(member, project) == Role.MEMBER and org_role(admin_user, project) == Role.ADMIN


def test_an_admin_changes_and_removes_peers_and_people_below(project, admin_user):
    peer = user_with_role(project, Role.ADMIN)
    member = user_with_role(project, Role.MEMBER)
    services.organization_membership_set(
        organization=project.organization, user=peer, role=Role.MEMBER, actor=as_user(admin_user)
    )
    services.project_membership_set(project=project, user=member, role=Role.NONE, actor=as_user(admin_user))
    services.membership_delete(membership=membership_of(peer, project), actor=as_user(admin_user))
    assert role_in_project(user=peer, project=project) == Role.NONE
    assert role_in_project(user=member, project=project) == Role.NONE


@pytest.mark.parametrize("role", [Role.VIEWER, Role.ANNOTATOR, Role.MEMBER], ids=lambda r: r.name)
def test_members_below_admin_cannot_manage_members(project, role):
    actor = user_with_role(project, role)
    viewer = user_with_role(project, Role.VIEWER)
    with pytest.raises(PermissionDenied):
        services.organization_membership_set(
            organization=project.organization, user=viewer, role=Role.VIEWER, actor=as_user(actor)
        )
    with pytest.raises(PermissionDenied):
        services.project_membership_set(project=project, user=viewer, role=Role.NONE, actor=as_user(actor))
    with pytest.raises(PermissionDenied):
        services.membership_delete(membership=membership_of(viewer, project), actor=as_user(actor))


def test_a_project_admin_by_override_manages_that_project_below_their_level_only(project):
    project_admin = user_with_role(project, Role.MEMBER)
    ProjectMembershipFactory(project=project, user=project_admin, role=Role.ADMIN)
    viewer = user_with_role(project, Role.VIEWER)
    organization_owner = user_with_role(project, Role.OWNER)
    services.project_membership_set(project=project, user=viewer, role=Role.MEMBER, actor=as_user(project_admin))
    assert role_in_project(user=viewer, project=project) == Role.MEMBER
    with pytest.raises(ValidationError):
        services.project_membership_set(
            project=project, user=organization_owner, role=Role.NONE, actor=as_user(project_admin)
        )
    # An organization role needs the organization's ADMIN: a project override does not give it.
    with pytest.raises(PermissionDenied):
        services.organization_membership_set(
            organization=project.organization, user=viewer, role=Role.MEMBER, actor=as_user(project_admin)
        )


def test_an_admin_key_of_the_project_obeys_the_same_ceiling(project, owner):
    key = api_key_for(project, Role.ADMIN).api_key
    member = user_with_role(project, Role.MEMBER)
    services.project_membership_set(project=project, user=member, role=Role.ADMIN, actor=Actor(api_key=key))
    with pytest.raises(ValidationError):
        services.project_membership_set(project=project, user=owner, role=Role.NONE, actor=Actor(api_key=key))
    with pytest.raises(PermissionDenied):
        services.organization_membership_set(
            organization=project.organization, user=member, role=Role.VIEWER, actor=Actor(api_key=key)
        )
    other_key = api_key_for(ProjectFactory(organization=project.organization), Role.ADMIN).api_key
    with pytest.raises(PermissionDenied):
        services.project_membership_set(project=project, user=member, role=Role.VIEWER, actor=Actor(api_key=other_key))


@pytest.mark.parametrize(
    "actor", ["owner", "superuser", "system"], ids=["the owner", "a superuser", "a command"]
)
def test_an_organization_always_keeps_an_owner(project, owner, actor):
    acting = {
        "owner": as_user(owner),
        "superuser": as_user(UserFactory(is_staff=True, is_superuser=True)),
        "system": SYSTEM,
    }[actor]
    with pytest.raises(ValidationError) as raised:
        services.organization_membership_set(
            organization=project.organization, user=owner, role=Role.ADMIN, actor=acting
        )
    assert "at least one owner" in raised.value.message_dict["role"][0]
    with pytest.raises(ValidationError) as raised:
        services.membership_delete(membership=membership_of(owner, project), actor=acting)
    assert "at least one owner" in raised.value.message_dict["membership"][0]
    assert org_role(owner, project) == Role.OWNER

    second = user_with_role(project, Role.OWNER)
    services.organization_membership_set(organization=project.organization, user=owner, role=Role.ADMIN, actor=acting)
    with pytest.raises(ValidationError):
        services.membership_delete(membership=membership_of(second, project), actor=acting)
    assert org_role(second, project) == Role.OWNER


def test_owners_step_down_once_another_owner_exists(project, owner):
    successor = user_with_role(project, Role.ADMIN)
    services.organization_membership_set(
        organization=project.organization, user=successor, role=Role.OWNER, actor=as_user(owner)
    )
    services.membership_delete(membership=membership_of(owner, project), actor=as_user(owner))
    assert list(OrganizationMembership.objects.values_list("user", "role")) == [(successor.pk, Role.OWNER)]


def test_project_overrides_are_only_for_members_of_the_project_s_organization(project, victim_project, owner):
    outsider = user_with_role(victim_project, Role.OWNER)
    for actor in (as_user(owner), SYSTEM):
        with pytest.raises(ValidationError) as raised:
            services.project_membership_set(project=project, user=outsider, role=Role.VIEWER, actor=actor)
        assert "not a member of this project's organization" in raised.value.message_dict["user"][0]
    assert role_in_project(user=outsider, project=project) == Role.NONE


def test_leaving_the_organization_ends_its_project_overrides(project, owner):
    member = user_with_role(project, Role.VIEWER)
    services.project_membership_set(project=project, user=member, role=Role.MEMBER, actor=as_user(owner))
    services.membership_delete(membership=membership_of(member, project), actor=as_user(owner))
    assert role_in_project(user=member, project=project) == Role.NONE
    assert not ProjectMembership.objects.filter(user=member).exists()
    assert set(AuditLog.objects.filter(action__endswith=".delete").values_list("action", flat=True)) == {
        "organizationmembership.delete",
        "projectmembership.delete",
    }


def test_an_admin_cannot_remove_someone_whose_project_override_is_above_theirs(project, admin_user):
    project_owner = user_with_role(project, Role.VIEWER)
    ProjectMembershipFactory(project=project, user=project_owner, role=Role.OWNER)
    with pytest.raises(ValidationError):
        services.membership_delete(membership=membership_of(project_owner, project), actor=as_user(admin_user))
    assert role_in_project(user=project_owner, project=project) == Role.OWNER


# -- admin ---------------------------------------------------------------------------------------


def admin_url(name, *args):
    return reverse(f"admin:evalsite_{name}", args=args)


def test_in_the_admin_an_admin_sees_the_owner_s_membership_read_only_and_cannot_demote_it(
    client, project, owner, admin_user
):
    client.force_login(admin_user)
    membership = membership_of(owner, project)
    page = client.get(admin_url("organizationmembership_change", membership.pk))
    assert page.status_code == 200 and 'name="role"' not in page.content.decode()
    response = client.post(admin_url("organizationmembership_change", membership.pk), {"role": Role.VIEWER})
    assert response.status_code == 403
    assert client.post(admin_url("organizationmembership_delete", membership.pk), {"post": "yes"}).status_code == 403
    bulk = client.post(
        admin_url("organizationmembership_changelist"),
        {"action": "delete_selected", "_selected_action": [membership.pk], "post": "yes"},
    )
    assert bulk.status_code == 403
    assert org_role(owner, project) == Role.OWNER


def test_in_the_admin_a_no_access_override_for_the_owner_is_a_form_error(client, project, owner, admin_user):
    client.force_login(admin_user)
    response = client.post(
        admin_url("projectmembership_add"), {"project": project.pk, "user": owner.pk, "role": Role.NONE}
    )
    assert response.status_code == 200 and "above yours" in response.content.decode()
    assert not ProjectMembership.objects.exists()
    assert role_in_project(user=owner, project=project) == Role.OWNER


def test_in_the_admin_the_last_owner_cannot_step_down(client, project, owner):
    client.force_login(owner)
    membership = membership_of(owner, project)
    response = client.post(admin_url("organizationmembership_change", membership.pk), {"role": Role.ADMIN})
    assert response.status_code == 200 and "at least one owner" in response.content.decode()
    assert client.post(admin_url("organizationmembership_delete", membership.pk), {"post": "yes"}).status_code == 403
    assert org_role(owner, project) == Role.OWNER


def test_in_the_admin_an_admin_demotes_a_member_and_the_change_is_audited(client, project, admin_user):
    member = user_with_role(project, Role.MEMBER)
    client.force_login(admin_user)
    membership = membership_of(member, project)
    response = client.post(admin_url("organizationmembership_change", membership.pk), {"role": Role.VIEWER})
    assert response.status_code == 302
    assert org_role(member, project) == Role.VIEWER
    assert AuditLog.objects.filter(action="organization_membership.update", actor_user=admin_user).exists()
    removed = client.post(
        admin_url("organizationmembership_changelist"),
        {"action": "delete_selected", "_selected_action": [membership.pk], "post": "yes"},
    )
    assert removed.status_code == 302
    assert not OrganizationMembership.objects.filter(user=member).exists()


def test_the_project_membership_admin_offers_only_members_of_the_project_s_organization(client, project):
    # ADMIN in the project's organization, a mere VIEWER in another one whose owner must stay out of reach.
    admin_user = user_with_role(project, Role.ADMIN)
    other = ProjectFactory(name="Other organization's project")
    OrganizationMembershipFactory(organization=other.organization, user=admin_user, role=Role.VIEWER)
    their_owner = user_with_role(other, Role.OWNER, username="their-owner")
    colleague = user_with_role(project, Role.VIEWER, username="colleague")
    client.force_login(admin_user)

    for query in ("", f"?project={project.pk}"):
        content = client.get(admin_url("projectmembership_add") + query).content.decode()
        assert "colleague" in content and "their-owner" not in content

    response = client.post(
        admin_url("projectmembership_add"), {"project": project.pk, "user": their_owner.pk, "role": Role.ADMIN}
    )
    assert response.status_code == 200 and "Select a valid choice" in response.content.decode()
    assert role_in_project(user=their_owner, project=project) == Role.NONE
    client.post(admin_url("projectmembership_add"), {"project": project.pk, "user": colleague.pk, "role": Role.MEMBER})
    assert role_in_project(user=colleague, project=project) == Role.MEMBER


def test_a_superuser_cannot_give_a_project_override_to_someone_outside_the_organization(
    client, project, victim_project
):
    outsider = user_with_role(victim_project, Role.OWNER, username="outsider")
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    response = client.post(
        admin_url("projectmembership_add"), {"project": project.pk, "user": outsider.pk, "role": Role.ADMIN}
    )
    assert response.status_code == 200
    assert not ProjectMembership.objects.exists()


# -- commands ------------------------------------------------------------------------------------


def run(*args) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def test_create_user_cannot_demote_the_last_owner(project, owner):
    with pytest.raises(CommandError, match="at least one owner"):
        run("create_user", owner.username, "--organization", project.organization.pk, "--role", "viewer")
    assert org_role(owner, project) == Role.OWNER


def test_create_user_with_only_a_project_keeps_the_organization_role(project, owner):
    second = user_with_role(project, Role.ADMIN)
    run("create_user", second.username, "--project", project.pk, "--project-role", "member")
    assert org_role(second, project) == Role.ADMIN
    assert role_in_project(user=second, project=project) == Role.MEMBER
    run("create_user", "newcomer", "--project", project.pk)
    newcomer = OrganizationMembership.objects.get(user__username="newcomer")
    assert newcomer.role == Role.VIEWER
