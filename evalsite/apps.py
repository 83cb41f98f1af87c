from django.apps import AppConfig


class EvalsiteConfig(AppConfig):
    name = "evalsite"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from django.db.backends.signals import connection_created

        import evalsite.api.schema  # noqa: F401  (registers the schema extension)
        from evalsite.db import read_out_of_range_datetimes_clamped, register_sqlite_functions
        from evalsite.jobs.cluster_loops import cluster_loops
        from evalsite.jobs.sweeper import SWEEPER
        from evalsite.tenancy.key_cache import forget_changed_keys

        connection_created.connect(read_out_of_range_datetimes_clamped, dispatch_uid="evalsite.clamped_datetimes")
        forget_changed_keys()
        connection_created.connect(register_sqlite_functions, dispatch_uid="evalsite.sqlite_functions")
        cluster_loops.register(SWEEPER)
