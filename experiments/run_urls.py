from django.urls import path

from experiments.run_api import ExperimentRunViewSet

api_urlpatterns = [
    path("experiments/runs", ExperimentRunViewSet.as_view({"get": "list", "post": "create"}), name="api-runs"),
    path("experiments/runs/<str:run_id>", ExperimentRunViewSet.as_view({"get": "retrieve"}), name="api-run"),
    path(
        "experiments/runs/<str:run_id>/cancel",
        ExperimentRunViewSet.as_view({"post": "cancel"}),
        name="api-run-cancel",
    ),
]
