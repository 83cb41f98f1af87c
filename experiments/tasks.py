"""django-q entry points: thin, stable dotted names, primitive arguments."""

from experiments.run_services import experiment_runs_resume_stale
from experiments.runner import run_execute


def execute_run(run_pk: int) -> None:
    run_execute(run_pk=run_pk)


def resume_stale_runs() -> list[int]:
    return experiment_runs_resume_stale()
