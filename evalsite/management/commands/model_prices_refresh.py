from pathlib import Path

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from evalsite.llm.managed_prices import DATA_FILE, managed_prices_refresh


class Command(BaseCommand):
    help = (
        "Make the built-in model prices equal to a price file: the one this release ships "
        "(evalsite/llm/model_prices.json) unless --file names another. Project prices are untouched."
    )

    def add_arguments(self, parser):
        parser.add_argument("--file", type=Path, default=DATA_FILE, help="a JSON price file in the shipped format")

    def handle(self, *args, file, **options):
        try:
            result = managed_prices_refresh(path=file)
        except ValidationError as problem:
            raise CommandError("; ".join(problem.messages)) from None
        self.stdout.write(f"built-in model prices: {result.created} added, {result.updated} updated, {result.deleted} removed")
