"""django-q entry points: thin, taking ids (evaluators/executor.py and online.py do the work)."""


def execute_jobs(job_pks) -> None:
    """Execute evaluation jobs; the sweep re-enqueues one job by its primary key."""
    from evaluators.executor import jobs_execute

    jobs_execute(job_pks=[job_pks] if isinstance(job_pks, int) else list(job_pks))


def match_ingested(project_id: str, trace_ids: list, observation_ids: list) -> None:
    """Match what an ingestion request stored against the project's enabled rules."""
    from evalsite.tenancy.models import Project
    from evaluators.online import ingested_match

    project = Project.objects.filter(pk=project_id).first()
    if project is not None:
        ingested_match(project=project, trace_ids=trace_ids, observation_ids=observation_ids)
