from django.apps import AppConfig


class ScoringConfig(AppConfig):
    name = "scoring"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from scoring.api import TraceScores
        from scoring.pages import ScoresPanel
        from scoring.services import scores_delete_for_traces
        from traces import hooks

        # What traces shows of scores, and what goes with a deleted trace (traces/hooks.py).
        hooks.trace_scores.register(TraceScores())
        hooks.trace_page_panels.register(ScoresPanel())
        hooks.trace_delete_hooks.register(scores_delete_for_traces)
