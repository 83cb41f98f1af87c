"""Writes to organizations, projects, memberships and keys. Each is atomic and audited."""

from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

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
from evalsite.tenancy.roles import Role


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
def project_delete(*, project: Project, actor: Actor) -> None:
    # The log row outlives the project only at organization level, so it names what was deleted.
    audit_log_record(
        actor=actor, action="project.delete", obj=project, organization=project.organization, name=project.name
    )
    project.delete()


@transaction.atomic
def organization_membership_set(*, organization: Organization, user, role: Role, actor: Actor = SYSTEM):
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
def membership_delete(*, membership, actor: Actor) -> None:
    project = getattr(membership, "project", None)
    organization = project.organization if project else membership.organization
    audit_log_record(
        actor=actor,
        action=f"{type(membership).__name__.lower()}.delete",
        obj=membership,
        organization=organization,
        project=project,
        user=membership.user.get_username(),
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
