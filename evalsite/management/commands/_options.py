from django.core.management.base import CommandError

from evalsite.tenancy.models import Organization, Project
from evalsite.tenancy.roles import Role


def parse_role(value: str) -> Role:
    try:
        return Role[value.strip().upper()]
    except KeyError:
        names = ", ".join(r.name for r in Role)
        raise CommandError(f"unknown role {value!r}; choose one of {names}") from None


def find_organization(value: str) -> Organization:
    organization = Organization.objects.filter(id=value).first() or Organization.objects.filter(name=value).first()
    if organization is None:
        raise CommandError(f"no organization with id or name {value!r}")
    return organization


def find_project(value: str) -> Project:
    project = Project.objects.filter(id=value).first()
    if project is None:
        matches = list(Project.objects.filter(name=value)[:2])
        if len(matches) > 1:
            raise CommandError(f"several projects are named {value!r}; pass the project id")
        project = matches[0] if matches else None
    if project is None:
        raise CommandError(f"no project with id or name {value!r}")
    return project
