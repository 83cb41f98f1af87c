"""django-q entry points: thin, taking ids (evaluators/executor.py and online.py do the work)."""


def execute_jobs(job_pks) -> None:
    """Execute evaluation jobs; the sweep re-enqueues one job by its primary key."""
    from evaluators.executor import jobs_execute

    jobs_execute(job_pks=[job_pks] if isinstance(job_pks, int) else list(job_pks))
