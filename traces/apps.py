from django.apps import AppConfig


class TracesConfig(AppConfig):
    name = "traces"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from evalsite.tenancy.hooks import project_delete_hooks
        from traces import hooks
        from traces.media.services import media_delete_for_project, media_references_delete

        # Media references go with their traces, stored objects with their last reference or project.
        hooks.trace_delete_hooks.register(media_references_delete)
        project_delete_hooks.register(media_delete_for_project)
