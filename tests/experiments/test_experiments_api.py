"""GET /experiments and GET /experiment-items (cursor pages, field groups, filters)."""

import json
from datetime import UTC, datetime, timedelta

import pytest

from experiments.models import RunSource
from tests.datasets.factories import DatasetFactory, DatasetItemFactory
from tests.experiments.factories import ExperimentRunFactory, RunItemFactory
from tests.scoring.factories import ScoreFactory

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 10, 1, tzinfo=UTC)
SINCE = (T0 - timedelta(days=30)).isoformat()


def run_at(project, days, **fields):
    start = T0 + timedelta(days=days)
    return ExperimentRunFactory(project=project, started_at=start, finished_at=start + timedelta(hours=1), **fields)


def test_fromStartTime_is_required(api):
    for path in ("experiments", "experiment-items"):
        response = api.get(path)
        assert response.status_code == 400
        assert "fromStartTime" in response.json()["message"]


def test_experiments_are_listed_newest_activity_first_with_core_fields(api, project, victim_project):
    dataset = DatasetFactory(project=project)
    old = run_at(project, 0, name="old", dataset=dataset, description="d", metadata={"m": 1})
    new = run_at(project, 2, name="new")
    RunItemFactory.create_batch(3, run=old)
    run_at(victim_project, 1, name="theirs")
    run_at(project, -60, name="too old")

    response = api.get("experiments", fromStartTime=SINCE)
    assert response.status_code == 200
    body = response.json()
    assert body["meta"] == {"cursor": None}
    assert [row["name"] for row in body["data"]] == ["new", "old"]
    row = body["data"][1]
    assert row == {
        "id": old.run_id,
        "name": "old",
        "description": "d",
        "startTime": "2026-10-01T00:00:00Z",
        "endTime": "2026-10-01T01:00:00Z",
        "itemCount": 3,
        "datasetId": dataset.pk,
    }
    assert body["data"][0]["id"] == new.run_id
    with_metadata = api.get("experiments", fromStartTime=SINCE, fields="core,metadata").json()["data"][1]
    assert with_metadata["metadata"] == {"m": 1}


def test_experiments_pages_follow_the_cursor_without_gaps_or_repeats(api, project):
    runs = [run_at(project, n % 3, name=f"r{n}") for n in range(7)]  # ties in activity time
    seen, cursor = [], None
    for _ in range(10):
        params = {"fromStartTime": SINCE, "limit": 3, **({"cursor": cursor} if cursor else {})}
        body = api.get("experiments", **params).json()
        seen += [row["id"] for row in body["data"]]
        cursor = body["meta"]["cursor"]
        if cursor is None:
            break
    assert sorted(seen) == sorted(run.run_id for run in runs) and len(seen) == 7
    assert api.get("experiments", fromStartTime=SINCE, cursor="garbage!").status_code == 400


def test_experiments_filter_by_id_name_dataset_and_structured_filter(api, project):
    dataset = DatasetFactory(project=project)
    a = run_at(project, 0, name="alpha", dataset=dataset)
    b = run_at(project, 1, name="beta")
    run_at(project, 2, name="gamma")

    def ids(**params):
        response = api.get("experiments", fromStartTime=SINCE, **params)
        assert response.status_code == 200, response.content
        return {row["id"] for row in response.json()["data"]}

    assert ids(id=f"{a.run_id},{b.run_id}") == {a.run_id, b.run_id}
    assert ids(name="beta") == {b.run_id}
    assert ids(datasetId=dataset.pk) == {a.run_id}
    assert ids(filter=json.dumps([{"column": "name", "operator": "any of", "value": ["alpha", "gamma"]}])) == {
        a.run_id,
        next(iter(ids(name="gamma"))),
    }
    assert ids(toStartTime=(T0 + timedelta(hours=12)).isoformat()) == {a.run_id}
    bad = api.get("experiments", fromStartTime=SINCE, filter=json.dumps([{"column": "secret", "operator": "="}]))
    assert bad.status_code == 400 and "filter" in bad.json()["message"]


def test_run_level_scores_are_returned_with_the_scores_field_group(api, project):
    run = run_at(project, 0)
    ScoreFactory(project=project, trace_id=None, dataset_run_id=run.run_id, name="avg_accuracy", value=0.75)
    ScoreFactory(project=project, trace_id=None, dataset_run_id="someone-else", name="x")
    data = api.get("experiments", fromStartTime=SINCE, fields="scores").json()["data"]
    assert [(s["name"], s["value"], s["subject"]) for s in data[0]["scores"]] == [
        ("avg_accuracy", 0.75, {"kind": "experiment", "id": run.run_id})
    ]
    assert "scores" not in api.get("experiments", fromStartTime=SINCE).json()["data"][0]


def test_experiment_items_carry_the_sdk_fields(api, project, victim_project):
    dataset = DatasetFactory(project=project)
    dataset_item = DatasetItemFactory(dataset=dataset, item_id="q1", metadata={"topic": "math"})
    run = run_at(project, 0, name="nightly", dataset=dataset, metadata={"model": "m"}, source=RunSource.SDK)
    item = RunItemFactory(
        run=run,
        item_key="q1",
        dataset_item=dataset_item,
        started_at=T0,
        latency_ms=1500.0,
        input={"q": "1+1"},
        output="2",
        expected_output="2",
        item_version=T0,
    )
    failed = RunItemFactory(run=run, item_key="q2", started_at=T0 + timedelta(seconds=1), error="boom")
    RunItemFactory(run=run_at(victim_project, 0), started_at=T0)
    ScoreFactory(project=project, trace_id=item.trace_id, observation_id=item.observation_id, name="exact", value=1)

    response = api.get("experiment-items", fromStartTime=SINCE, fields="core,dataset,io,itemMetadata,experimentMetadata,scores")
    assert response.status_code == 200
    rows = response.json()["data"]
    assert [row["experimentItemId"] for row in rows] == ["q2", "q1"]
    row = rows[1]
    assert {key: row[key] for key in ("id", "traceId", "startTime", "endTime", "level", "environment")} == {
        "id": item.observation_id,
        "traceId": item.trace_id,
        "startTime": "2026-10-01T00:00:00Z",
        "endTime": "2026-10-01T00:00:01.500000Z",
        "level": "DEFAULT",
        "environment": "sdk-experiment",
    }
    assert (row["experimentId"], row["experimentName"], row["experimentDatasetId"]) == (run.run_id, "nightly", dataset.pk)
    assert (row["input"], row["output"], row["expectedOutput"]) == ({"q": "1+1"}, "2", "2")
    assert row["experimentItemMetadata"] == {"topic": "math"}
    assert row["experimentMetadata"] == {"model": "m"}
    assert row["experimentItemVersion"] == "2026-10-01T00:00:00Z"
    assert [(s["name"], s["value"], s["subject"]["kind"]) for s in row["scores"]] == [("exact", 1.0, "observation")]
    assert rows[0]["level"] == "ERROR" and rows[0]["traceId"] == failed.trace_id
    default = api.get("experiment-items", fromStartTime=SINCE).json()["data"][1]
    assert "input" not in default and "experimentDatasetId" in default


def test_experiment_items_filter_and_page(api, project):
    first, second = run_at(project, 0, name="one"), run_at(project, 1, name="two")
    for n in range(5):
        RunItemFactory(run=first, started_at=T0 + timedelta(minutes=n))
    RunItemFactory(run=second, item_key="special", started_at=T0)
    ids = [row["experimentItemId"] for row in api.get("experiment-items", fromStartTime=SINCE, experimentName="two").json()["data"]]
    assert ids == ["special"]
    assert len(api.get("experiment-items", fromStartTime=SINCE, experimentId=first.run_id).json()["data"]) == 5
    page = api.get("experiment-items", fromStartTime=SINCE, limit=4).json()
    rest = api.get("experiment-items", fromStartTime=SINCE, limit=4, cursor=page["meta"]["cursor"]).json()
    assert len(page["data"]) == 4 and len(rest["data"]) == 2 and rest["meta"]["cursor"] is None
    assert api.get("experiment-items", fromStartTime=SINCE, fields="core,bogus").status_code == 400


def test_listing_queries_do_not_grow_with_the_page(api, project, django_assert_max_num_queries):
    for n in range(30):
        run = run_at(project, n % 5)
        RunItemFactory(run=run)
        ScoreFactory(project=project, trace_id=None, dataset_run_id=run.run_id)
    with django_assert_max_num_queries(6):
        assert len(api.get("experiments", fromStartTime=SINCE, fields="core,metadata,scores", limit=30).json()["data"]) == 30
    with django_assert_max_num_queries(6):
        rows = api.get("experiment-items", fromStartTime=SINCE, fields="core,dataset,io,itemMetadata,scores", limit=30)
        assert len(rows.json()["data"]) == 30
