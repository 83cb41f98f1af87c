from django.apps import AppConfig


class ExperimentsConfig(AppConfig):
    name = "experiments"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        self._register_dataset_hooks()

        from django.db.models import Q

        from evalsite.jobs import JobKind, job_kinds
        from experiments.models import ExperimentRun, RunSource
        from experiments.services import EXECUTE_TASK

        # The sweep of every worker cluster resumes platform runs whose worker died (evalsite/jobs).
        job_kinds.register(
            JobKind(name="experiment-run", model=ExperimentRun, task=EXECUTE_TASK, scope=Q(source=RunSource.PLATFORM))
        )

    def _register_dataset_hooks(self):
        """What experiments add to the datasets app, which knows nothing of runs (datasets/hooks.py)."""
        from datasets import hooks
        from experiments import admin, selectors

        hooks.dataset_run_names.register(selectors.experiment_run_names_by_dataset)
        hooks.dataset_admin_actions.register(admin.start_experiment_run)
        hooks.dataset_admin_overview_sections.register(admin.dataset_runs_overview)
