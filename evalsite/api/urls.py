from django.urls import path

from evalsite.api.views import HealthView, ProjectViewSet

api_urlpatterns = [
    path("health", HealthView.as_view(), name="api-health"),
    path("projects", ProjectViewSet.as_view({"get": "list"}), name="api-projects"),
]
