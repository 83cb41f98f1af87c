"""Evaluate a release gate on the server: the same service as the API, the same table as the CI client."""

import json

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from evalsite.management.commands._options import find_project
from experiments.gates import client, selectors
from experiments.gates.serializers import gate_result_dict
from experiments.gates.services import gate_evaluate


class Command(BaseCommand):
    help = (
        "Judge a candidate run by a gate policy and store the result on the run. Exits 0 on pass, 1 on "
        "fail or cannot tell (0 for cannot tell with --cannot-tell pass)."
    )

    def add_arguments(self, parser):
        parser.add_argument("gate", help="the gate policy's name")
        parser.add_argument("candidate", help="the candidate run's id, or its name (the newest run of that name)")
        parser.add_argument("--project", required=True, help="project id or name")
        parser.add_argument("--cannot-tell", choices=("fail", "pass"), default="fail")
        parser.add_argument("--json", action="store_true", help="print the result as JSON")

    def handle(self, *args, **options):
        project = find_project(options["project"])
        policy = selectors.gate_policy_get(project=project, name=options["gate"])
        if policy is None:
            raise CommandError(f"gate: no gate policy named {options['gate']!r} in project {project.name}")
        try:
            result = gate_evaluate(project=project, policy=policy, candidate=options["candidate"])
        except ValidationError as error:
            raise CommandError("; ".join(f"{field}: {m}" for field, ms in error.message_dict.items() for m in ms)) from None
        data = gate_result_dict(result)
        self.stdout.write(json.dumps(data, indent=2) if options["json"] else client.render(data))
        code = client.exit_code(result.outcome, cannot_tell_passes=options["cannot_tell"] == "pass")
        if code:
            # BaseCommand would print a CommandError's message as an error; the table already says why.
            raise SystemExit(code)
