"""django-q entry points: thin, stable dotted names, primitive arguments."""

from experiments.runner import run_execute


def execute_run(run_pk: int) -> None:
    run_execute(run_pk=run_pk)
