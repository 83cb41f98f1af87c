from django.apps import AppConfig


class IngestionConfig(AppConfig):
    name = "ingestion"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from evaluators.online import ingested_hand_over
        from ingestion import hooks

        # Online evaluation: what a request stored goes to the rules' matching job after the commit.
        hooks.after_ingest.register(ingested_hand_over)
