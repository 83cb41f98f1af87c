from django.apps import AppConfig


class EvaluatorsConfig(AppConfig):
    name = "evaluators"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from django.db.models import Q
        from django.db.models.functions import Now

        from evalsite.jobs import JobKind, job_kinds
        from evaluators.jobs import EXECUTE_TASK
        from evaluators.models import EvaluationJob

        # The sweep resumes jobs whose worker died; a job still waiting for its delay or for a
        # retry after a provider failure is not due, and is left to the dispatcher (online.py).
        due = (Q(not_before__isnull=True) | Q(not_before__lte=Now())) & (Q(retry_at__isnull=True) | Q(retry_at__lte=Now()))
        job_kinds.register(JobKind(name="evaluation-job", model=EvaluationJob, task=EXECUTE_TASK, scope=due))
        self._register_experiment_hooks()

        from evaluators.pages import EvaluationsPanel
        from traces import hooks as trace_hooks

        trace_hooks.trace_page_panels.register(EvaluationsPanel())

        from evalsite.jobs.cluster_loops import cluster_loops
        from evaluators import online

        cluster_loops.register(online.DISPATCHER)

    def _register_experiment_hooks(self):
        """Platform runs judge their items with the evaluators they name (experiments/hooks.py)."""
        from evaluators import offline, selectors
        from experiments import hooks

        hooks.run_evaluators_clean.register(offline.evaluator_assignments_clean)
        hooks.run_items_recorded.register(offline.run_items_evaluate)
        hooks.run_evaluation_progress.register(selectors.run_evaluation_progress)

        from evaluators.admin_actions import evaluate_runs
        from evaluators.admin_pairwise import judge_pairwise

        hooks.run_admin_actions.register(evaluate_runs)
        hooks.run_admin_actions.register(judge_pairwise)
