from django.core.management.base import BaseCommand

from evalsite.management.commands._options import find_organization
from evalsite.tenancy.services import project_create


class Command(BaseCommand):
    help = "Create a project in an organization (by id or name) and print its id."

    def add_arguments(self, parser):
        parser.add_argument("name")
        parser.add_argument("--organization", required=True, help="organization id or name")

    def handle(self, *args, name, organization, **options):
        project = project_create(organization=find_organization(organization), name=name)
        self.stdout.write(project.id)
