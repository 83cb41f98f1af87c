"""Reads about who may do what. Every role decision in the platform goes through `role_in_project`."""

import hmac

from evalsite.tenancy.key_cache import cache_api_key, cached_api_key
from evalsite.tenancy.keys import hash_secret
from evalsite.tenancy.models import ApiKey, OrganizationMembership, Project, ProjectMembership
from evalsite.tenancy.roles import Role


def role_in_project(*, user, project: Project) -> Role:
    """The effective role: superuser → OWNER; a project override wins; else the organization role."""
    if user is None or not user.is_authenticated or not user.is_active:
        return Role.NONE
    if user.is_superuser:
        return Role.OWNER
    override = ProjectMembership.objects.filter(project=project, user=user).values_list("role", flat=True).first()
    if override is not None:
        return Role(override)
    org_role = (
        OrganizationMembership.objects.filter(organization_id=project.organization_id, user=user)
        .values_list("role", flat=True)
        .first()
    )
    return Role(org_role) if org_role is not None else Role.NONE


def roles_by_project(*, user) -> dict[str, Role]:
    """Every project the user can see (role above NONE), in two queries whatever their number."""
    if user is None or not user.is_authenticated or not user.is_active:
        return {}
    if user.is_superuser:
        return {pid: Role.OWNER for pid in Project.objects.values_list("id", flat=True)}
    roles: dict[str, Role] = {}
    org_roles = dict(OrganizationMembership.objects.filter(user=user).values_list("organization_id", "role"))
    for pid, org_id in Project.objects.filter(organization_id__in=org_roles).values_list("id", "organization_id"):
        roles[pid] = Role(org_roles[org_id])
    for pid, role in ProjectMembership.objects.filter(user=user).values_list("project_id", "role"):
        roles[pid] = Role(role)
    return {pid: role for pid, role in roles.items() if role > Role.NONE}


def project_ids_with_role(*, user, minimum: Role) -> list[str]:
    return [pid for pid, role in roles_by_project(user=user).items() if role >= minimum]


def project_list_with_roles(*, user) -> list[tuple[Project, Role]]:
    """The projects the user can see, each with the user's role, by organization then name."""
    roles = roles_by_project(user=user)
    projects = Project.objects.filter(id__in=list(roles)).select_related("organization")
    return [(project, roles[project.pk]) for project in projects.order_by("organization__name", "name", "id")]


def api_key_get_by_credentials(*, public_key: str, secret_key: str) -> ApiKey | None:
    """The active key matching both halves, with its project and organization loaded; else None.

    Keys that authenticate are kept a few seconds in this process (`key_cache`).
    """
    api_key = cached_api_key(public_key)
    looked_up = api_key is None
    if looked_up:
        api_key = _api_key_lookup(public_key)
    if api_key is None or not hmac.compare_digest(api_key.secret_hash, hash_secret(secret_key)):
        return None
    if looked_up:
        # Only a fresh read is cached: re-caching a hit would keep a key alive forever in a
        # process that never hears of its revocation.
        cache_api_key(api_key)
    return api_key


def _api_key_lookup(public_key: str) -> ApiKey | None:
    # Public keys are unique: no ORDER BY (`first()` would add one), which every API request pays
    # for in building the query.
    return next(
        iter(
            ApiKey.objects.select_related("project__organization").filter(
                public_key=public_key, revoked_at__isnull=True
            )[:1]
        ),
        None,
    )


def project_member_list(*, project: Project) -> list[tuple[object, Role]]:
    """The project's members (organization members and project-only members) with their effective
    role, by e-mail; users whose project override is "no access" are not members. Three queries."""
    from django.contrib.auth import get_user_model

    roles = dict(
        OrganizationMembership.objects.filter(organization_id=project.organization_id).values_list("user_id", "role")
    )
    roles.update(ProjectMembership.objects.filter(project=project).values_list("user_id", "role"))
    members = {user_id: Role(role) for user_id, role in roles.items() if role > Role.NONE}
    users = get_user_model().objects.filter(pk__in=list(members), is_active=True).order_by("email", "pk")
    return [(user, members[user.pk]) for user in users]
