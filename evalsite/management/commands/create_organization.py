from django.core.management.base import BaseCommand

from evalsite.tenancy.services import organization_create


class Command(BaseCommand):
    help = "Create an organization and print its id."

    def add_arguments(self, parser):
        parser.add_argument("name")

    def handle(self, *args, name, **options):
        organization = organization_create(name=name)
        self.stdout.write(organization.id)
