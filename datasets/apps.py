from django.apps import AppConfig


class DatasetsConfig(AppConfig):
    name = "datasets"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from datasets.admin_actions import add_to_dataset
        from datasets.importing import IMPORT_TASK
        from datasets.models import ImportJob
        from evalsite.jobs import JobKind, job_kinds
        from traces import hooks as trace_hooks

        # The sweep of every worker cluster resumes imports whose worker died (evalsite/jobs).
        job_kinds.register(JobKind(name="dataset-import", model=ImportJob, task=IMPORT_TASK))
        # "Add to a dataset" on the Trace and Observation admins (traces/hooks.py).
        trace_hooks.trace_admin_actions.register(add_to_dataset)
        trace_hooks.observation_admin_actions.register(add_to_dataset)
