from django.apps import AppConfig


class AnnotationsConfig(AppConfig):
    name = "annotations"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from annotations.admin_actions import (
            add_observations_to_queue,
            add_run_items_to_queue,
            add_trace_sessions_to_queue,
            add_traces_to_queue,
        )
        from annotations.rules import scores_hand_over
        from annotations.selectors import scores_blind_for_key, scores_visible_to
        from annotations.trace_panel import CommentsPanel
        from evalsite.navigation import register_page
        from evalsite.tenancy.roles import Role
        from experiments import hooks as experiment_hooks
        from scoring import hooks as scoring_hooks
        from traces import hooks as trace_hooks

        register_page("Annotate", "annotation-queues", minimum=Role.ANNOTATOR)
        # Comments on the trace page, and "add to an annotation queue" on the trace and
        # observation admins (traces/hooks.py).
        trace_hooks.trace_page_panels.register(CommentsPanel())
        trace_hooks.trace_admin_actions.register(add_traces_to_queue)
        trace_hooks.trace_admin_actions.register(add_trace_sessions_to_queue)
        trace_hooks.observation_admin_actions.register(add_observations_to_queue)
        experiment_hooks.run_item_admin_actions.register(add_run_items_to_queue)
        # Blind annotation on the trace page's scores panel (scoring/hooks.py).
        scoring_hooks.score_page_filters.register(scores_visible_to)
        scoring_hooks.score_api_filters.register(scores_blind_for_key)
        # Queue rules: new scores under (or over) a threshold bring their traces to a queue, in a
        # worker after the scores' commit (annotations/rules.py).
        scoring_hooks.after_scores_written.register(scores_hand_over)
