from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from evalsite.management.commands._options import find_organization, find_project, parse_role
from evalsite.tenancy.models import OrganizationMembership
from evalsite.tenancy.roles import Role
from evalsite.tenancy.services import organization_membership_set, project_membership_set, user_create


class Command(BaseCommand):
    help = "Create (or update) a user and give them a role in an organization and/or a project."

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--password", help="sets the password (omit to leave it unusable or unchanged)")
        parser.add_argument("--email", default="")
        parser.add_argument("--organization", help="organization id or name for --role")
        parser.add_argument("--project", help="project id or name for a project-level --project-role")
        parser.add_argument("--role", default="VIEWER", help="organization role: VIEWER … OWNER")
        parser.add_argument("--project-role", help="project override: NONE, VIEWER … OWNER")
        parser.add_argument("--staff", action="store_true", help="may sign in to the admin")
        parser.add_argument("--superuser", action="store_true")

    @transaction.atomic
    def handle(self, *args, username, password, email, organization, project, role, project_role, staff, superuser, **o):
        if project_role and not project:
            raise CommandError("--project-role needs --project")
        user = user_create(username=username, password=password, email=email, staff=staff, superuser=superuser)
        try:
            if organization:
                organization_membership_set(
                    organization=find_organization(organization), user=user, role=parse_role(role)
                )
            if project:
                target = find_project(project)
                # A project override needs an organization membership; an existing one is kept as it is.
                in_organization = OrganizationMembership.objects.filter(
                    organization=target.organization, user=user
                ).exists()
                if not organization and not in_organization:
                    organization_membership_set(organization=target.organization, user=user, role=Role.VIEWER)
                if project_role:
                    project_membership_set(project=target, user=user, role=parse_role(project_role))
        except ValidationError as error:
            raise CommandError("; ".join(error.messages)) from None
        self.stdout.write(f"user {user.get_username()} (id {user.pk})")
