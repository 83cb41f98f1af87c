"""Writes to organizations, projects, memberships and keys. Each is atomic and audited."""

from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from evalsite.tenancy import hooks
from evalsite.tenancy.actors import SYSTEM, Actor
from evalsite.tenancy.keys import hash_secret, new_key_pair
from evalsite.tenancy.models import (
    ApiKey,
    AuditLog,
    Organization,
    OrganizationMembership,
    Project,
    ProjectMembership,
)
from evalsite.tenancy.roles import ORGANIZATION_ROLES, Role
from evalsite.tenancy.selectors import role_in_project


def audit_log_record(
    *, actor: Actor, action: str, obj, organization: Organization, project: Project | None = None, **detail
) -> AuditLog:
    return AuditLog.objects.create(
        organization=organization,
        project=project,
        actor_user=actor.user,
        actor_api_key=actor.api_key,
        action=action,
        object_type=type(obj).__name__,
        object_id=str(obj.pk),
        detail=detail,
    )


@transaction.atomic
def project_object_delete(*, project: Project, obj, actor: Actor, action: str, **detail) -> None:
    """Delete one row of `project`, logged first (the log row names what is gone).

    Refuses a row of another project: callers fetch through the project, so that is a bug.
    """
    if obj.project_id != project.pk:
        raise ValueError(f"{type(obj).__name__} of another project")
    audit_log_record(
        actor=actor, action=action, obj=obj, organization=project.organization, project=project, **detail
    )
    obj.delete()


@transaction.atomic
def organization_create(*, name: str, actor: Actor = SYSTEM) -> Organization:
    organization = Organization.objects.create(name=name)
    audit_log_record(actor=actor, action="organization.create", obj=organization, organization=organization)
    return organization


@transaction.atomic
def project_create(*, organization: Organization, name: str, actor: Actor = SYSTEM) -> Project:
    project = Project.objects.create(organization=organization, name=name)
    audit_log_record(
        actor=actor, action="project.create", obj=project, organization=organization, project=project, name=name
    )
    return project


@transaction.atomic
def organization_delete(*, organization: Organization, actor: Actor) -> None:
    """An organization and all it holds. Each project goes through `project_delete`, so its delete
    hooks remove what lives outside the database (stored media); a bare cascade would leave that
    behind. The audit log goes with the organization."""
    for project in Project.objects.filter(organization=organization).select_related("organization"):
        project_delete(project=project, actor=actor)
    organization.delete()


@transaction.atomic
def project_delete(*, project: Project, actor: Actor) -> None:
    # The log row outlives the project only at organization level, so it names what was deleted.
    audit_log_record(
        actor=actor, action="project.delete", obj=project, organization=project.organization, name=project.name
    )
    for hook in hooks.project_delete_hooks:
        hook(project=project)
    project.delete()


# -- memberships ----------------------------------------------------------------------------------
#
# The rules, the same for the admin, the commands and any API (they all call these functions):
#   1. Managing members needs ADMIN where the membership applies (the organization for organization
#      memberships, the project for project overrides).
#   2. Nobody grants a role above their own there.
#   3. Nobody changes or removes the membership of someone whose role is above their own. For a
#      project override, "their role" is the higher of their organization role and the override, so an
#      ADMIN cannot lock the organization's OWNER out of a project with a "no access" override.
#   4. An organization always keeps at least one OWNER (checked under a lock on the organization row,
#      so two owners demoting each other at the same moment cannot both succeed).
#   5. Only members of the project's organization get project overrides; leaving the organization
#      removes its project overrides too, so no access outlives the organization membership.
# Superusers and the system actor (management commands, run by whoever operates the instance) have
# no ceiling, but rules 4 and 5 hold for them too.


def _acting_role_in_organization(actor: Actor, organization: Organization) -> Role | None:
    """The actor's role for rule 1–3 checks; None means no ceiling (superuser or system)."""
    if actor.api_key is not None:
        return Role.NONE  # a key acts for one project, never on its organization
    user = actor.user
    if user is None or user.is_superuser:
        return None
    if not user.is_active:
        return Role.NONE
    role = (
        OrganizationMembership.objects.filter(organization=organization, user=user)
        .values_list("role", flat=True)
        .first()
    )
    return Role(role) if role is not None else Role.NONE


def _acting_role_in_project(actor: Actor, project: Project) -> Role | None:
    if actor.api_key is not None:
        return Role(actor.api_key.role) if actor.api_key.project_id == project.pk else Role.NONE
    user = actor.user
    if user is None or user.is_superuser:
        return None
    return role_in_project(user=user, project=project)


def _organization_role_of(user, organization: Organization) -> Role | None:
    role = (
        OrganizationMembership.objects.filter(organization=organization, user=user)
        .values_list("role", flat=True)
        .first()
    )
    return Role(role) if role is not None else None


def _highest_override_in(user, organization: Organization) -> Role:
    roles = ProjectMembership.objects.filter(project__organization=organization, user=user).values_list(
        "role", flat=True
    )
    return Role(max(roles, default=Role.NONE))


def _check_ceiling(
    *,
    acting: Role | None,
    place: str,
    target_role: Role | None,
    user,
    role: Role | None,
    target_key: str = "user",
) -> None:
    """Rules 1–3. `target_role` is the current role of the person being changed (None: none yet)."""
    if acting is None:
        return
    if acting < Role.ADMIN:
        raise PermissionDenied(f"Managing members needs the ADMIN role in this {place}.")
    errors = {}
    if target_role is not None and target_role > acting:
        errors[target_key] = [
            f"{user.get_username()} has a role above yours ({Role(target_role).label} > {Role(acting).label}) "
            f"in this {place}: only someone at their level can change or remove it."
        ]
    if role is not None and role > acting:
        errors["role"] = [f"You cannot grant a role above your own ({Role(acting).label})."]
    if errors:
        raise ValidationError(errors)


def _lock_organization(organization: Organization) -> None:
    Organization.objects.select_for_update().filter(pk=organization.pk).first()


def _check_keeps_an_owner(*, organization: Organization, user, key: str) -> None:
    """Rule 4: `user` stops being an OWNER of `organization`; refuse if nobody else is one."""
    owners = OrganizationMembership.objects.filter(organization=organization, role=Role.OWNER)
    if not owners.exclude(user=user).exists():
        raise ValidationError(
            {key: ["An organization keeps at least one owner: make someone else OWNER first."]}
        )


def organization_membership_check(
    *, organization: Organization, user, role: Role, actor: Actor = SYSTEM
) -> None:
    """Raise `PermissionDenied` or `ValidationError` (keyed `user`/`role`) unless `actor` may give
    `user` the role `role` in `organization`. Forms call it to show the reason; the write calls it too."""
    if role not in {value for value, _label in ORGANIZATION_ROLES}:
        raise ValidationError({"role": [f"{role!r} is not an organization role."]})
    current = _organization_role_of(user, organization)
    _check_ceiling(
        acting=_acting_role_in_organization(actor, organization),
        place="organization",
        target_role=current,
        user=user,
        role=role,
    )
    if current == Role.OWNER and role < Role.OWNER:
        _check_keeps_an_owner(organization=organization, user=user, key="role")


def project_membership_check(*, project: Project, user, role: Role, actor: Actor = SYSTEM) -> None:
    """Like `organization_membership_check`, for a project override (NONE takes the project away)."""
    if role not in Role.values:
        raise ValidationError({"role": [f"{role!r} is not a role."]})
    organization_role = _organization_role_of(user, project.organization)
    if organization_role is None:
        raise ValidationError(
            {"user": [f"{user.get_username()} is not a member of this project's organization."]}
        )
    override = (
        ProjectMembership.objects.filter(project=project, user=user).values_list("role", flat=True).first()
    )
    _check_ceiling(
        acting=_acting_role_in_project(actor, project),
        place="project",
        target_role=max(organization_role, Role(override) if override is not None else Role.NONE),
        user=user,
        role=role,
    )


def membership_delete_check(*, membership, actor: Actor = SYSTEM) -> None:
    """Raise unless `actor` may remove `membership` (an organization membership or a project override)."""
    if isinstance(membership, ProjectMembership):
        project = membership.project
        organization_role = _organization_role_of(membership.user, project.organization) or Role.NONE
        _check_ceiling(
            acting=_acting_role_in_project(actor, project),
            place="project",
            target_role=max(organization_role, Role(membership.role)),
            user=membership.user,
            role=None,
            target_key="membership",
        )
        return
    organization = membership.organization
    _check_ceiling(
        acting=_acting_role_in_organization(actor, organization),
        place="organization",
        # Leaving the organization also ends its project overrides (rule 5), which count too.
        target_role=max(Role(membership.role), _highest_override_in(membership.user, organization)),
        user=membership.user,
        role=None,
        target_key="membership",
    )
    if membership.role == Role.OWNER:
        _check_keeps_an_owner(organization=organization, user=membership.user, key="membership")


@transaction.atomic
def organization_membership_set(*, organization: Organization, user, role: Role, actor: Actor = SYSTEM):
    _lock_organization(organization)
    organization_membership_check(organization=organization, user=user, role=role, actor=actor)
    membership, created = OrganizationMembership.objects.update_or_create(
        organization=organization, user=user, defaults={"role": role}
    )
    audit_log_record(
        actor=actor,
        action="organization_membership.create" if created else "organization_membership.update",
        obj=membership,
        organization=organization,
        user=user.get_username(),
        role=Role(role).label,
    )
    return membership


@transaction.atomic
def project_membership_set(*, project: Project, user, role: Role, actor: Actor = SYSTEM):
    _lock_organization(project.organization)
    project_membership_check(project=project, user=user, role=role, actor=actor)
    membership, created = ProjectMembership.objects.update_or_create(
        project=project, user=user, defaults={"role": role}
    )
    audit_log_record(
        actor=actor,
        action="project_membership.create" if created else "project_membership.update",
        obj=membership,
        organization=project.organization,
        project=project,
        user=user.get_username(),
        role=Role(role).label,
    )
    return membership


@transaction.atomic
def membership_delete(*, membership, actor: Actor = SYSTEM) -> None:
    project = getattr(membership, "project", None)
    organization = project.organization if project else membership.organization
    _lock_organization(organization)
    membership_delete_check(membership=membership, actor=actor)
    if project is None:
        overrides = ProjectMembership.objects.filter(project__organization=organization, user=membership.user)
        for override in overrides.select_related("project"):
            _membership_delete_logged(
                membership=override, actor=actor, organization=organization, reason="left organization"
            )
    _membership_delete_logged(membership=membership, actor=actor, organization=organization)


def _membership_delete_logged(*, membership, actor: Actor, organization: Organization, **detail) -> None:
    project = getattr(membership, "project", None)
    audit_log_record(
        actor=actor,
        action=f"{type(membership).__name__.lower()}.delete",
        obj=membership,
        organization=organization,
        project=project,
        user=membership.user.get_username(),
        **detail,
    )
    membership.delete()


@transaction.atomic
def user_create(*, username: str, password: str | None, email: str = "", staff: bool = False, superuser: bool = False):
    User = get_user_model()
    user, _ = User.objects.get_or_create(username=username, defaults={"email": email})
    user.email = email or user.email
    user.is_staff = staff or superuser
    user.is_superuser = superuser
    if password:
        user.set_password(password)
    user.save()
    return user


@dataclass(frozen=True)
class CreatedApiKey:
    """The only moment the secret exists in clear: show it, then forget it."""

    api_key: ApiKey
    secret_key: str

    @property
    def public_key(self) -> str:
        return self.api_key.public_key


@transaction.atomic
def api_key_create(
    *, project: Project, actor: Actor = SYSTEM, note: str = "", role: Role = Role.ADMIN
) -> CreatedApiKey:
    if not Role.VIEWER <= role <= Role.ADMIN:
        raise ValueError("an API key's role must be between VIEWER and ADMIN")
    public_key, secret = new_key_pair()
    api_key = ApiKey.objects.create(
        project=project,
        public_key=public_key,
        secret_hash=hash_secret(secret),
        display_secret_key=f"{secret[:6]}...{secret[-4:]}",
        note=note,
        role=role,
        created_by=actor.user,
    )
    audit_log_record(
        actor=actor,
        action="api_key.create",
        obj=api_key,
        organization=project.organization,
        project=project,
        public_key=api_key.public_key,
        role=Role(role).label,
    )
    return CreatedApiKey(api_key=api_key, secret_key=secret)


@transaction.atomic
def api_key_revoke(*, api_key: ApiKey, actor: Actor) -> ApiKey:
    if api_key.revoked_at is None:
        api_key.revoked_at = timezone.now()
        api_key.save(update_fields=["revoked_at"])
        audit_log_record(
            actor=actor,
            action="api_key.revoke",
            obj=api_key,
            organization=api_key.project.organization,
            project=api_key.project,
            public_key=api_key.public_key,
        )
    return api_key


def api_key_touch(*, api_key: ApiKey, resolution_seconds: int) -> None:
    """Keep `last_used_at` to within `resolution_seconds` with at most one write per interval."""
    now = timezone.now()
    if api_key.last_used_at is not None and (now - api_key.last_used_at).total_seconds() < resolution_seconds:
        return
    ApiKey.objects.filter(pk=api_key.pk).update(last_used_at=now)
    api_key.last_used_at = now
