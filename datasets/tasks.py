"""django-q entry points: thin, taking ids, re-reading their rows (the services do the work)."""

from datasets.importing import import_job_run


def run_import(job_id: str) -> None:
    """Run or resume an import job; a finished or deleted job, or one a live worker holds, is left
    alone, so a duplicate or a re-enqueue by the sweep is safe."""
    import_job_run(job_id=job_id)
