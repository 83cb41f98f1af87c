# Routes under /api/public/ (no trailing slashes) and under /projects/<project_id>/.
import re

from django.urls import path, register_converter

from datasets.api import (
    DatasetExportViewSet,
    DatasetImportViewSet,
    DatasetItemViewSet,
    DatasetV1ViewSet,
    DatasetViewSet,
)


class LegacyDatasetNameConverter:
    """A dataset name (it may contain '/') in the legacy `/datasets/{name}…` routes.

    Those routes share their prefix with `/datasets/{name}/runs[/{run}]` (the experiments app's,
    included after ours). A name that would end in a `runs` segment is refused here, which Django
    treats as "no match", so such paths reach the runs routes instead of being read as a dataset
    called `x/runs`. The v2 routes have no such ambiguity and take any name.
    """

    regex = ".+"
    runs_suffix = re.compile(r"/runs(/.*)?$")

    def to_python(self, value: str) -> str:
        if self.runs_suffix.search(value):
            raise ValueError("a runs path, not a dataset name")
        return value

    def to_url(self, value: str) -> str:
        return value


register_converter(LegacyDatasetNameConverter, "legacy_dataset_name")

datasets = DatasetViewSet.as_view({"get": "list", "post": "create"})
dataset = DatasetViewSet.as_view({"get": "retrieve"})
items = DatasetItemViewSet.as_view({"get": "list", "post": "create"})
item = DatasetItemViewSet.as_view({"get": "retrieve", "delete": "destroy"})

api_urlpatterns = [
    path("v2/datasets", datasets, name="api-datasets"),
    path("v2/datasets/<path:dataset_name>", dataset, name="api-dataset"),
    path("dataset-items", items, name="api-dataset-items"),
    path("dataset-items/<path:item_id>", item, name="api-dataset-item"),
    path("datasets", DatasetV1ViewSet.as_view({"get": "list"}), name="api-datasets-v1"),
    # Before the bare `datasets/<name>`: otherwise a name would swallow the `/imports` suffix.
    path(
        "datasets/<legacy_dataset_name:dataset_name>/imports",
        DatasetImportViewSet.as_view({"post": "create"}),
        name="api-dataset-imports",
    ),
    path(
        "datasets/<legacy_dataset_name:dataset_name>/export",
        DatasetExportViewSet.as_view({"get": "export"}),
        name="api-dataset-export",
    ),
    path(
        "datasets/<legacy_dataset_name:dataset_name>",
        DatasetV1ViewSet.as_view({"get": "retrieve"}),
        name="api-dataset-v1",
    ),
    path("dataset-imports/<str:job_id>", DatasetImportViewSet.as_view({"get": "retrieve"}), name="api-dataset-import"),
]
page_urlpatterns = []
