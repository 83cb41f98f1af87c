from django.apps import AppConfig


class ExperimentsConfig(AppConfig):
    name = "experiments"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from experiments import supervisor

        if supervisor.running_as_worker_cluster():
            supervisor.start()
