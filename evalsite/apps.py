from django.apps import AppConfig


class EvalsiteConfig(AppConfig):
    name = "evalsite"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        import evalsite.api.schema  # noqa: F401  (registers the schema extension)
        from evalsite.jobs import sweeper

        if sweeper.running_as_worker_cluster():
            sweeper.start()
