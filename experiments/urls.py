from django.urls import path

from experiments.api import (
    DatasetRunItemViewSet,
    DatasetRunViewSet,
    ExperimentItemViewSet,
    ExperimentRunViewSet,
    ExperimentViewSet,
)
from experiments.gates.urls import api_urlpatterns as gate_api_urlpatterns
from experiments.pages import ExperimentComparePage

# Routes under /api/public/ (no trailing slashes) and under /projects/<project_id>/.
#
# Dataset and run names may contain '/', so both use <path:>. The datasets app's legacy
# `datasets/<name>…` routes come first in evalsite/urls.py but refuse a name ending in a `runs`
# segment, so "…/runs" and "…/runs/…" reach these. "<a>/runs/<b>" can still split more than one way;
# DatasetRunViewSet picks the split whose dataset exists.
api_urlpatterns = [
    path("experiments/runs", ExperimentRunViewSet.as_view({"get": "list", "post": "create"}), name="api-runs"),
    path("experiments/runs/<str:run_id>", ExperimentRunViewSet.as_view({"get": "retrieve"}), name="api-run"),
    path(
        "experiments/runs/<str:run_id>/cancel",
        ExperimentRunViewSet.as_view({"post": "cancel"}),
        name="api-run-cancel",
    ),
    path("experiments", ExperimentViewSet.as_view({"get": "list"}), name="api-experiments"),
    path("experiments/compare", ExperimentViewSet.as_view({"get": "compare"}), name="api-experiments-compare"),
    path("experiment-items", ExperimentItemViewSet.as_view({"get": "list"}), name="api-experiment-items"),
    path(
        "dataset-run-items",
        DatasetRunItemViewSet.as_view({"get": "list", "post": "create"}),
        name="api-dataset-run-items",
    ),
    path(
        "datasets/<path:dataset_name>/runs/<path:run_name>",
        DatasetRunViewSet.as_view({"get": "retrieve", "delete": "destroy"}),
        name="api-dataset-run",
    ),
    path("datasets/<path:dataset_name>/runs", DatasetRunViewSet.as_view({"get": "list"}), name="api-dataset-runs"),
    *gate_api_urlpatterns,
]
page_urlpatterns = [
    path("experiments/compare", ExperimentComparePage.as_view(), name="experiment-compare"),
]
