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
