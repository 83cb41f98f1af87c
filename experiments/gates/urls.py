from django.urls import path

from experiments.gates.api import GatePolicyViewSet, RunGateViewSet

# Under /api/public/. Gate names are plain (letters, digits, '.', '_', '-'), so <str:> suffices.
api_urlpatterns = [
    path("gates", GatePolicyViewSet.as_view({"get": "list", "post": "create"}), name="api-gates"),
    path(
        "gates/<str:gate_name>",
        GatePolicyViewSet.as_view({"get": "retrieve", "patch": "partial_update", "delete": "destroy"}),
        name="api-gate",
    ),
    path("gates/<str:gate_name>/versions", GatePolicyViewSet.as_view({"get": "versions"}), name="api-gate-versions"),
    path("gates/<str:gate_name>/evaluate", GatePolicyViewSet.as_view({"post": "evaluate"}), name="api-gate-evaluate"),
    path(
        "experiments/runs/<str:run_id>/release",
        RunGateViewSet.as_view({"get": "release_get", "post": "release", "delete": "unrelease"}),
        name="api-run-release",
    ),
    path(
        "experiments/runs/<str:run_id>/gate-results",
        RunGateViewSet.as_view({"get": "gate_results"}),
        name="api-run-gate-results",
    ),
]
