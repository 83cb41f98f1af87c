from django.apps import AppConfig


class DashboardsConfig(AppConfig):
    name = "dashboards"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        # The pages of the navigation bar. Registered here, by the last app, which may name every page;
        # the core navigation names none (STYLE.md, "Between apps").
        from evalsite.navigation import register_page

        register_page("Home", "project-home")
        register_page("Compare runs", "experiment-compare")
        register_page("Score analytics", "score-analytics")
        register_page("Dashboards", "dashboard-list")
