"""django-q entry points: thin, taking ids, re-reading their rows (the services do the work)."""

from datasets.importing import import_job_run


def run_import(job_id: str) -> None:
    """Run or resume an import job; a finished or deleted job is left alone, so retries are safe."""
    import_job_run(job_id=job_id)
