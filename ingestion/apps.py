from django.apps import AppConfig


class IngestionConfig(AppConfig):
    name = "ingestion"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from ingestion.prompt_links import PromptLinks
        from traces import hooks

        # Generations name their prompt by name and version; the trace API shows its id.
        hooks.prompt_ids.register(PromptLinks())
