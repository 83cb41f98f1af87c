import os

from django.core.management.base import BaseCommand
from django.db import transaction

from evalsite.tenancy.models import Organization, Project
from evalsite.tenancy.roles import Role
from evalsite.tenancy.services import (
    api_key_create,
    organization_create,
    organization_membership_set,
    project_create,
    user_create,
)

DEMO_ORGANIZATION = "Demo organization"
DEMO_PROJECT = "Demo project"
DEMO_USER = "admin"
DEMO_PASSWORD = "admin"


class Command(BaseCommand):
    help = (
        "Create (idempotently) a demo organization, project, admin user and a fresh API key pair, then "
        "print how to sign in and three lines a shell can eval to point the langfuse SDK here."
    )

    def add_arguments(self, parser):
        parser.add_argument("--base-url", default=f"http://127.0.0.1:{os.environ.get('PORT', '8000')}")

    @transaction.atomic
    def handle(self, *args, base_url, **options):
        organization = Organization.objects.filter(name=DEMO_ORGANIZATION).first() or organization_create(
            name=DEMO_ORGANIZATION
        )
        project = Project.objects.filter(organization=organization, name=DEMO_PROJECT).first() or project_create(
            organization=organization, name=DEMO_PROJECT
        )
        # The demo account is the instance's first superuser, as in most self-hosted tools.
        user = user_create(username=DEMO_USER, password=DEMO_PASSWORD, superuser=True)
        organization_membership_set(organization=organization, user=user, role=Role.OWNER)
        created = api_key_create(project=project, note="demo")

        # Human-readable lines go to stderr so `eval "$(manage.py demo)"` sees only the assignments.
        self.stderr.write(f"Sign in at {base_url}/admin/ as {DEMO_USER} / {DEMO_PASSWORD}")
        self.stderr.write(f"Project: {project.name} (id {project.id}); API docs at {base_url}/api/docs/")
        self.stdout.write(f"LANGFUSE_BASE_URL={base_url}")
        self.stdout.write(f"LANGFUSE_PUBLIC_KEY={created.public_key}")
        self.stdout.write(f"LANGFUSE_SECRET_KEY={created.secret_key}")
