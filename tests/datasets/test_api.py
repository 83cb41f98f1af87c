import pytest
from django.urls import Resolver404, resolve

from datasets.api import DatasetExportViewSet, DatasetV1ViewSet
from datasets.models import DatasetItem, DatasetItemRevision, ItemStatus
from evalsite.tenancy.models import AuditLog
from evalsite.tenancy.roles import Role
from tests.datasets.factories import DatasetFactory, DatasetItemFactory
from tests.support.api import ApiClient
from tests.tenancy.factories import api_key_for

pytestmark = pytest.mark.django_db

DATASET_KEYS = {
    "id",
    "name",
    "description",
    "metadata",
    "inputSchema",
    "expectedOutputSchema",
    "projectId",
    "createdAt",
    "updatedAt",
}
ITEM_KEYS = {
    "id",
    "status",
    "input",
    "expectedOutput",
    "metadata",
    "sourceTraceId",
    "sourceObservationId",
    "datasetId",
    "datasetName",
    "createdAt",
    "updatedAt",
    "version",
    "mediaReferences",
}


def test_creating_a_dataset_returns_every_key_the_sdk_needs(api, project):
    response = api.post("v2/datasets", {"name": "qa", "description": None, "metadata": None, "inputSchema": None})
    assert response.status_code == 200, response.content
    body = response.json()
    assert set(body) == DATASET_KEYS
    assert body["projectId"] == project.pk and body["metadata"] is None and body["description"] is None
    assert body["createdAt"].endswith("Z") and body["updatedAt"].endswith("Z")


def test_posting_a_dataset_name_twice_updates_it_and_null_keeps_stored_values(api, project):
    first = api.post("v2/datasets", {"name": "qa", "description": "first", "metadata": {"team": "a"}}).json()
    second = api.post("v2/datasets", {"name": "qa", "description": None, "metadata": {"team": "b"}}).json()
    assert second["id"] == first["id"]
    assert second["description"] == "first" and second["metadata"] == {"team": "b"}


def test_a_dataset_name_with_slashes_is_read_back_percent_encoded(api):
    api.post("v2/datasets", {"name": "team/evals/qa"})
    response = api.get("v2/datasets/team%2Fevals%2Fqa")
    assert response.status_code == 200 and response.json()["name"] == "team/evals/qa"
    assert api.get("v2/datasets/team%2Fevals%2Fmissing").json()["error"] == "NotFoundError"


def test_the_dataset_list_is_paginated(api, project):
    for name in ("a", "b", "c"):
        DatasetFactory(project=project, name=name)
    body = api.get("v2/datasets", limit=2, page=2).json()
    assert [d["name"] for d in body["data"]] == ["c"]
    assert body["meta"] == {"page": 2, "limit": 2, "totalItems": 3, "totalPages": 2}


def test_an_item_is_returned_with_every_key_including_nulls(api, project):
    DatasetFactory(project=project, name="qa")
    response = api.post("dataset-items", {"datasetName": "qa", "input": {"q": 1}, "id": None, "status": None})
    assert response.status_code == 200, response.content
    body = response.json()
    assert set(body) == ITEM_KEYS
    assert body["mediaReferences"] == [] and body["expectedOutput"] is None and body["sourceTraceId"] is None
    assert body["status"] == "ACTIVE" and body["datasetName"] == "qa"
    assert body["version"] == body["updatedAt"]


def test_posting_the_same_item_id_twice_updates_the_item(api, project):
    DatasetFactory(project=project, name="qa")
    api.post("dataset-items", {"datasetName": "qa", "id": "fixed", "input": "v1", "expectedOutput": "out"})
    body = api.post("dataset-items", {"datasetName": "qa", "id": "fixed", "input": "v2", "expectedOutput": None}).json()
    assert body["input"] == "v2" and body["expectedOutput"] == "out"
    assert DatasetItem.objects.filter(project=project, item_id="fixed").count() == 1
    assert DatasetItemRevision.objects.filter(project=project, item_id="fixed").count() == 2


def test_an_item_id_used_in_another_dataset_is_a_409_naming_that_dataset(api, project):
    DatasetFactory(project=project, name="a")
    DatasetFactory(project=project, name="b")
    api.post("dataset-items", {"datasetName": "a", "id": "shared", "input": 1})
    response = api.post("dataset-items", {"datasetName": "b", "id": "shared", "input": 2})
    assert response.status_code == 409
    assert response.json()["error"] == "ConflictError" and "'a'" in response.json()["message"]
    assert DatasetItem.objects.get(project=project, item_id="shared").input == 1


def test_an_item_for_an_unknown_dataset_is_a_404(api):
    response = api.post("dataset-items", {"datasetName": "nope", "input": 1})
    assert response.status_code == 404 and "nope" in response.json()["message"]


def test_an_item_violating_the_schema_is_refused_naming_the_field_path(api, project):
    schema = {"type": "object", "properties": {"question": {"type": "integer"}}, "required": ["question"]}
    DatasetFactory(project=project, name="qa", input_schema=schema)
    response = api.post("dataset-items", {"datasetName": "qa", "input": {"question": "x"}})
    assert response.status_code == 400
    assert "input.question: 'x' is not of type 'integer'" in response.json()["message"]
    assert not DatasetItem.objects.filter(project=project).exists()


def test_an_invalid_json_schema_is_refused_naming_the_field(api):
    response = api.post("v2/datasets", {"name": "qa", "expectedOutputSchema": {"type": "not-a-type"}})
    assert response.status_code == 400
    assert response.json()["message"].startswith("Invalid request data: expectedOutputSchema:")


def test_the_item_list_returns_only_active_items_of_the_dataset(api, project):
    dataset = DatasetFactory(project=project, name="qa")
    active = DatasetItemFactory(dataset=dataset)
    DatasetItemFactory(dataset=dataset, status=ItemStatus.ARCHIVED)
    DatasetItemFactory(dataset=DatasetFactory(project=project, name="other"))
    body = api.get("dataset-items", datasetName="qa").json()
    assert [item["id"] for item in body["data"]] == [active.item_id]
    assert body["meta"]["totalItems"] == 1


def test_without_a_dataset_name_the_item_list_covers_every_dataset_of_the_project(api, project, victim_project):
    a = DatasetItemFactory(dataset=DatasetFactory(project=project, name="a"))
    b = DatasetItemFactory(dataset=DatasetFactory(project=project, name="b"))
    DatasetItemFactory(dataset=DatasetFactory(project=victim_project, name="a"))
    body = api.get("dataset-items").json()
    assert sorted((item["id"], item["datasetName"]) for item in body["data"]) == [(a.item_id, "a"), (b.item_id, "b")]


def test_the_item_list_filters_by_source(api, project):
    dataset = DatasetFactory(project=project, name="qa")
    DatasetItemFactory(dataset=dataset, source_trace_id="t1", source_observation_id="o1")
    DatasetItemFactory(dataset=dataset, source_trace_id="t2")
    assert len(api.get("dataset-items", datasetName="qa", sourceTraceId="t1").json()["data"]) == 1
    assert len(api.get("dataset-items", datasetName="qa", sourceObservationId="o1").json()["data"]) == 1
    assert len(api.get("dataset-items", datasetName="qa", sourceTraceId="t3").json()["data"]) == 0


def test_the_item_list_reads_an_earlier_version(api, project):
    DatasetFactory(project=project, name="qa")
    first = api.post("dataset-items", {"datasetName": "qa", "id": "x", "input": "old"}).json()
    api.post("dataset-items", {"datasetName": "qa", "id": "x", "input": "new"})
    api.post("dataset-items", {"datasetName": "qa", "id": "y", "input": "later"})
    then = api.get("dataset-items", datasetName="qa", version=first["version"]).json()
    assert [(item["id"], item["input"]) for item in then["data"]] == [("x", "old")]
    now = api.get("dataset-items", datasetName="qa").json()
    assert sorted((item["id"], item["input"]) for item in now["data"]) == [("x", "new"), ("y", "later")]


def test_a_bad_version_or_limit_is_a_400_naming_the_parameter(api, project):
    DatasetFactory(project=project, name="qa")
    assert "version" in api.get("dataset-items", datasetName="qa", version="yesterday").json()["message"]
    assert "limit" in api.get("dataset-items", datasetName="qa", limit=1001).json()["message"]
    assert "version" in api.get("dataset-items", version="2026-01-01T00:00:00Z").json()["message"]


def test_an_item_is_read_and_deleted_by_its_id_even_with_a_slash(api, project):
    item = DatasetItemFactory(dataset=DatasetFactory(project=project, name="qa"), item_id="a/b")
    assert api.get("dataset-items/a/b").json()["id"] == "a/b"
    response = api.delete("dataset-items/a/b")
    assert response.status_code == 200 and set(response.json()) == {"message"}
    assert not DatasetItem.objects.filter(pk=item.pk).exists()
    assert AuditLog.objects.filter(project=project, action="dataset_item.delete").exists()
    assert api.get("dataset-items/a/b").status_code == 404


def test_a_viewer_key_reads_but_cannot_write_items(project):
    DatasetFactory(project=project, name="qa")
    viewer = ApiClient(api_key_for(project, Role.VIEWER))
    assert viewer.get("dataset-items", datasetName="qa").status_code == 200
    assert viewer.post("dataset-items", {"datasetName": "qa", "input": 1}).status_code == 403
    assert viewer.post("v2/datasets", {"name": "new"}).status_code == 403


def test_the_item_list_takes_the_same_queries_for_any_page_size(api, project, django_assert_num_queries):
    dataset = DatasetFactory(project=project, name="qa")
    for _ in range(30):
        DatasetItemFactory(dataset=dataset)
    api.get("dataset-items", datasetName="qa", limit=1)  # the key's last-used time is written once
    # key lookup, dataset, count, the page's ids, the page's rows
    with django_assert_num_queries(5):
        assert len(api.get("dataset-items", datasetName="qa", limit=5, page=3).json()["data"]) == 5
    with django_assert_num_queries(5):
        assert len(api.get("dataset-items", datasetName="qa", limit=1000).json()["data"]) == 30
    # … plus the dataset's newest version when a version is asked for
    version = DatasetItem.objects.filter(project=project).order_by("updated_at").first().updated_at
    with django_assert_num_queries(6):
        assert len(api.get("dataset-items", datasetName="qa", version=version.isoformat()).json()["data"]) == 1


def test_pages_of_items_follow_the_list_order_without_gaps(api, project):
    dataset = DatasetFactory(project=project, name="qa")
    created = [DatasetItemFactory(dataset=dataset).item_id for _ in range(7)]
    expected = created[::-1]  # newest first, as Langfuse lists them
    pages = [api.get("dataset-items", datasetName="qa", limit=3, page=page).json() for page in (1, 2, 3, 4)]
    assert [item["id"] for page in pages for item in page["data"]] == expected
    assert pages[0]["meta"] == {"page": 1, "limit": 3, "totalItems": 7, "totalPages": 3} and pages[3]["data"] == []


def test_the_legacy_dataset_read_has_items_and_run_names(api, project):
    from experiments.models import ExperimentRun

    dataset = DatasetFactory(project=project, name="team/qa")
    item = DatasetItemFactory(dataset=dataset)
    ExperimentRun.objects.create(project=project, dataset=dataset, name="run 1")
    body = api.get("datasets/team%2Fqa").json()
    assert body["name"] == "team/qa" and body["runs"] == ["run 1"]
    assert [i["id"] for i in body["items"]] == [item.item_id] and set(body["items"][0]) == ITEM_KEYS
    listed = api.get("datasets").json()
    assert listed["data"][0]["runs"] == ["run 1"] and len(listed["data"][0]["items"]) == 1


def test_legacy_run_paths_are_not_read_as_dataset_names():
    assert resolve("/api/public/datasets/team/qa").func.cls is DatasetV1ViewSet
    for path in ("/api/public/datasets/team/qa/runs", "/api/public/datasets/qa/runs/export"):
        try:
            view = resolve(path).func.cls
        except Resolver404:
            continue  # without the experiments app's runs routes nothing matches, which is also fine
        assert view not in (DatasetV1ViewSet, DatasetExportViewSet)
