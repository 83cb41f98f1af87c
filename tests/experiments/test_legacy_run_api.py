"""The legacy dataset-run endpoints of SDK v2–v4: /dataset-run-items and /datasets/{name}/runs."""

from urllib.parse import quote

import pytest

from evalsite.tenancy.models import AuditLog
from evalsite.tenancy.roles import Role
from experiments.models import ExperimentRun, RunItem
from experiments.services import stable_run_id
from tests.datasets.factories import DatasetFactory, DatasetItemFactory
from tests.experiments.factories import ExperimentRunFactory, RunItemFactory

pytestmark = pytest.mark.django_db

RUN_KEYS = {"id", "name", "description", "metadata", "datasetId", "datasetName", "createdAt", "updatedAt"}
RUN_ITEM_KEYS = {"id", "datasetRunId", "datasetRunName", "datasetItemId", "traceId", "observationId", "createdAt", "updatedAt"}


@pytest.fixture
def dataset(project):
    return DatasetFactory(project=project, name="team/qa set")


def link(api, item, run_name="legacy run", **extra):
    return api.post("dataset-run-items", {"runName": run_name, "datasetItemId": item.item_id, "traceId": "a" * 32, **extra})


def test_linking_an_item_creates_the_run_with_the_id_the_v5_sdk_derives(api, project, dataset):
    item = DatasetItemFactory(dataset=dataset, item_id="q1", input={"q": 1}, expected_output="one")
    response = link(api, item, runDescription="from v3", metadata={"k": "v"}, observationId="b" * 16)
    assert response.status_code == 200, response.content
    body = response.json()
    assert set(body) == RUN_ITEM_KEYS
    run = ExperimentRun.objects.get(project=project)
    assert run.run_id == stable_run_id(project_id=project.pk, dataset_id=dataset.pk, run_name="legacy run")
    assert (run.name, run.description, run.metadata, run.dataset) == ("legacy run", "from v3", {"k": "v"}, dataset)
    assert body["datasetRunId"] == run.run_id and body["datasetRunName"] == "legacy run"
    assert (body["datasetItemId"], body["traceId"], body["observationId"]) == ("q1", "a" * 32, "b" * 16)
    stored = RunItem.objects.get(project=project)
    assert (stored.dataset_item, stored.input, stored.expected_output) == (item, {"q": 1}, "one")


def test_linking_the_same_item_with_another_trace_adds_a_trial_and_with_the_same_trace_updates_it(api, project, dataset):
    item = DatasetItemFactory(dataset=dataset)
    first = link(api, item).json()["traceId"]
    assert link(api, item, traceId="c" * 32).status_code == 200
    assert link(api, item, traceId="c" * 32).status_code == 200
    trials = RunItem.objects.filter(project=project).order_by("trial").values_list("trial", "trace_id")
    assert list(trials) == [(1, first), (2, "c" * 32)]


def test_a_link_needs_a_trace_or_a_known_observation(api, dataset):
    item = DatasetItemFactory(dataset=dataset)
    response = api.post("dataset-run-items", {"runName": "r", "datasetItemId": item.item_id, "traceId": None})
    assert response.status_code == 400
    assert "traceId" in response.json()["message"]
    response = api.post("dataset-run-items", {"runName": "r", "datasetItemId": item.item_id, "observationId": "d" * 16})
    assert response.status_code == 400
    assert "traceId" in response.json()["message"]


def test_linking_an_unknown_or_foreign_item_is_404(api, victim_project):
    foreign = DatasetItemFactory(dataset=DatasetFactory(project=victim_project))
    for item_id in ("missing", foreign.item_id):
        response = api.post("dataset-run-items", {"runName": "r", "datasetItemId": item_id, "traceId": "a" * 32})
        assert response.status_code == 404
    assert not RunItem.objects.exists()


def test_a_viewer_key_cannot_link(api_by_role, dataset):
    item = DatasetItemFactory(dataset=dataset)
    assert link(api_by_role[Role.VIEWER], item).status_code == 403
    assert link(api_by_role[Role.MEMBER], item).status_code == 200


def test_run_items_are_listed_by_dataset_id_and_run_name(api, project, dataset):
    for n in range(3):
        link(api, DatasetItemFactory(dataset=dataset, item_id=f"i{n}"))
    link(api, DatasetItemFactory(dataset=dataset, item_id="other"), run_name="another run")
    response = api.get("dataset-run-items", datasetId=dataset.pk, runName="legacy run", limit=2, page=2)
    assert response.status_code == 200
    body = response.json()
    assert body["meta"] == {"page": 2, "limit": 2, "totalItems": 3, "totalPages": 2}
    assert [row["datasetItemId"] for row in body["data"]] == ["i2"]
    assert api.get("dataset-run-items", datasetId=dataset.pk).status_code == 400


def test_runs_of_a_dataset_whose_name_has_a_slash(api, project, dataset):
    older = ExperimentRunFactory(project=project, dataset=dataset, name="first")
    newer = ExperimentRunFactory(project=project, dataset=dataset, name="second/try")
    ExperimentRunFactory(project=project, name="local run")
    response = api.get(f"datasets/{quote(dataset.name, safe='')}/runs")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["meta"]["totalItems"] == 2
    assert [run["id"] for run in body["data"]] == [newer.run_id, older.run_id]
    assert set(body["data"][0]) == RUN_KEYS
    assert body["data"][0]["datasetName"] == "team/qa set"


def test_one_run_with_its_items_by_names_that_contain_slashes(api, project, dataset):
    run = ExperimentRunFactory(project=project, dataset=dataset, name="v2/runs/final")
    RunItemFactory(run=run, item_key="x")
    RunItemFactory(run=run, item_key="y")
    response = api.get(f"datasets/{quote(dataset.name, safe='')}/runs/{quote(run.name, safe='')}")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["id"] == run.run_id and body["name"] == "v2/runs/final"
    assert [item["datasetItemId"] for item in body["datasetRunItems"]] == ["x", "y"]
    assert set(body["datasetRunItems"][0]) == RUN_ITEM_KEYS


def test_unknown_dataset_or_run_is_404(api, dataset):
    assert api.get("datasets/nope/runs").status_code == 404
    assert api.get(f"datasets/{quote(dataset.name, safe='')}/runs/nope").status_code == 404
    assert api.delete(f"datasets/{quote(dataset.name, safe='')}/runs/nope").status_code == 404


def test_deleting_a_run_removes_it_and_its_items_and_is_audited(api, project, dataset):
    run = ExperimentRunFactory(project=project, dataset=dataset, name="to delete")
    RunItemFactory(run=run)
    keep = ExperimentRunFactory(project=project, dataset=dataset, name="keep")
    response = api.delete(f"datasets/{quote(dataset.name, safe='')}/runs/to%20delete")
    assert response.status_code == 200
    assert response.json() == {"message": "Dataset run successfully deleted"}
    assert list(ExperimentRun.objects.filter(project=project)) == [keep]
    assert not RunItem.objects.filter(project=project).exists()
    log = AuditLog.objects.get(action="experiment_run.delete")
    assert log.project == project and log.actor_api_key is not None


def test_a_viewer_key_cannot_delete_a_run(api_by_role, project, dataset):
    run = ExperimentRunFactory(project=project, dataset=dataset, name="r")
    assert api_by_role[Role.VIEWER].delete(f"datasets/{quote(dataset.name, safe='')}/runs/r").status_code == 403
    assert ExperimentRun.objects.filter(pk=run.pk).exists()
