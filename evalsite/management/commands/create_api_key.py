from django.core.management.base import BaseCommand

from evalsite.management.commands._options import find_project, parse_role
from evalsite.tenancy.services import api_key_create


class Command(BaseCommand):
    help = "Create an API key pair for a project. The secret is printed once and never stored."

    def add_arguments(self, parser):
        parser.add_argument("--project", required=True, help="project id or name")
        parser.add_argument("--role", default="ADMIN", help="VIEWER, ANNOTATOR, MEMBER or ADMIN (default)")
        parser.add_argument("--note", default="")

    def handle(self, *args, project, role, note, **options):
        created = api_key_create(project=find_project(project), role=parse_role(role), note=note)
        self.stdout.write(f"LANGFUSE_PUBLIC_KEY={created.public_key}")
        self.stdout.write(f"LANGFUSE_SECRET_KEY={created.secret_key}")
