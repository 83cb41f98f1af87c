from django.apps import AppConfig


class IngestionConfig(AppConfig):
    name = "ingestion"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from evaluators.online import ingested_hand_over
        from ingestion import hooks as ingestion_hooks
        from ingestion.prompt_links import PromptLinks
        from traces import hooks as trace_hooks

        # Generations name their prompt by name and version; the trace API shows its id.
        trace_hooks.prompt_ids.register(PromptLinks())
        # Online evaluation: what a request stored goes to the rules' matching job after the commit.
        ingestion_hooks.after_ingest.register(ingested_hand_over)
