"""Start a platform experiment run from the command line and follow it with a progress bar."""

import json
import time

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from evalsite.errors import ServiceError
from evalsite.management.commands._options import find_project
from evalsite.progress import ProgressLine
from experiments.models import ExperimentRun, RunStatus
from experiments.runner import run_execute
from experiments.services import experiment_run_start

FINISHED = {RunStatus.COMPLETED, RunStatus.FAILED, RunStatus.CANCELLED}


def parse_parameter(text: str) -> tuple[str, object]:
    key, sep, raw = text.partition("=")
    if not sep or not key:
        raise CommandError(f"--param takes key=value, got {text!r}")
    try:
        return key, json.loads(raw)
    except json.JSONDecodeError:
        return key, raw


class Command(BaseCommand):
    progress: ProgressLine | None = None
    help = (
        "Run a prompt version × model over a dataset. By default the run is queued for the workers and "
        "this command shows its progress; --here executes it in this process instead."
    )

    def add_arguments(self, parser):
        parser.add_argument("--project", required=True, help="project id or name")
        parser.add_argument("--dataset", required=True)
        parser.add_argument("--run-name", required=True)
        parser.add_argument("--prompt", required=True, help="prompt name")
        version = parser.add_mutually_exclusive_group()
        version.add_argument("--prompt-version", type=int)
        version.add_argument("--prompt-label")
        parser.add_argument("--provider", required=True, help="LLM connection name")
        parser.add_argument("--model", required=True)
        parser.add_argument("--param", action="append", default=[], help="model parameter key=value (repeatable)")
        parser.add_argument("--concurrency", type=int, default=8)
        parser.add_argument("--trials", type=int, default=1, help="run every item this many times (1-20)")
        parser.add_argument("--evaluator", action="append", default=[],
                            help="evaluator id whose latest version scores each item (repeatable)")
        parser.add_argument("--here", action="store_true", help="execute in this process instead of a worker")
        parser.add_argument("--no-wait", action="store_true", help="queue the run and return at once")

    def handle(self, *args, **o):
        project = find_project(o["project"])
        try:
            run = experiment_run_start(
                project=project,
                dataset_name=o["dataset"],
                run_name=o["run_name"],
                prompt_name=o["prompt"],
                prompt_version=o["prompt_version"],
                prompt_label=o["prompt_label"],
                provider=o["provider"],
                model=o["model"],
                model_parameters=dict(parse_parameter(p) for p in o["param"]),
                concurrency=o["concurrency"],
                trials=o["trials"],
                evaluators=[{"evaluatorId": evaluator_id} for evaluator_id in o["evaluator"]] or None,
                enqueue=not o["here"],
            )
        except ValidationError as error:
            problems = error.message_dict.items() if hasattr(error, "error_dict") else [("", error.messages)]
            raise CommandError(
                "; ".join(f"{argument}: {message}" if argument else message
                          for argument, messages in problems for message in messages)
            ) from None
        except ServiceError as error:
            raise CommandError(error.message) from None
        self.stdout.write(f"run {run.run_id} ({run.progress_total} items)")
        if o["no_wait"]:
            return
        if o["here"]:
            self.draw(run.name, 0, 0, run.progress_total, "running")
            run_execute(
                run_pk=run.pk,
                on_progress=lambda done, failed, total: self.draw(run.name, done, failed, total, "running"),
            )
            run.refresh_from_db()
            self.draw(run.name, run.progress_done, run.progress_failed, run.progress_total, run.status)
        else:
            self.follow(run.pk)
        run.refresh_from_db()
        self.stdout.write(f"{run.status}: {run.progress_done - run.progress_failed} succeeded, "
                          f"{run.progress_failed} failed, cost {run.total_cost or 0}")
        if run.status != RunStatus.COMPLETED:
            raise CommandError(run.error or f"run {run.status}")

    def follow(self, run_pk: int) -> None:
        """Poll the run a worker is executing until it finishes."""
        while True:
            run = ExperimentRun.objects.get(pk=run_pk)
            self.draw(run.name, run.progress_done, run.progress_failed, run.progress_total, run.status)
            if run.status in FINISHED:
                    return
            time.sleep(0.5)

    def draw(self, name: str, done: int, failed: int, total: int, status: str) -> None:
        if self.progress is None:
            self.progress = ProgressLine(name)
        self.progress.update(done, total, f"failed {failed} {status}", final=status in FINISHED)
