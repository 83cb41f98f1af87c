"""GET /api/public/metrics and /api/public/v2/metrics, over HTTP and through the unmodified SDK."""

import json
from datetime import timedelta

import pytest

from tests.dashboards.data import START, populate
from tests.support.live import langfuse_client
from tests.tenancy.factories import api_key_for

FROM, TO = START.isoformat(), (START + timedelta(days=10)).isoformat()
COUNT_BY_MODEL = {
    "view": "observations",
    "dimensions": [{"field": "providedModelName"}],
    "metrics": [{"measure": "count", "aggregation": "count"}, {"measure": "latency", "aggregation": "p95"}],
    "fromTimestamp": FROM,
    "toTimestamp": TO,
}


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["metrics", "v2/metrics"])
def test_both_routes_answer_data_rows_of_the_keys_project_only(api, project, victim_project, path):
    made = populate(project, traces=8)
    populate(victim_project, seed=3, traces=8)
    response = api.get(path, query=json.dumps(COUNT_BY_MODEL))
    assert response.status_code == 200, response.content
    rows = response.json()["data"]
    assert sum(row["count_count"] for row in rows) == len(made["observations"])
    assert set(rows[0]) == {"providedModelName", "count_count", "p95_latency"}


@pytest.mark.django_db
@pytest.mark.parametrize(
    "query, named",
    [
        (None, "query"),
        ("{not json", "query"),
        (json.dumps({**COUNT_BY_MODEL, "view": "spans"}), "view"),
        (
            json.dumps({**COUNT_BY_MODEL, "metrics": [{"measure": "cost", "aggregation": "sum"}]}),
            "metrics[0].measure",
        ),
    ],
)
def test_a_bad_query_is_a_400_naming_what_is_wrong(api, query, named):
    response = api.get("v2/metrics", **({} if query is None else {"query": query}))
    assert response.status_code == 400
    body = response.json()
    assert body["error"] == "InvalidRequestError" and named in body["message"]


@pytest.mark.django_db
def test_v2_refuses_the_traces_view_and_grouping_by_ids_as_langfuse_does(api):
    traces = {
        **COUNT_BY_MODEL,
        "view": "traces",
        "dimensions": [],
        "metrics": [{"measure": "count", "aggregation": "count"}],
    }
    assert api.get("v2/metrics", query=json.dumps(traces)).status_code == 400
    assert api.get("metrics", query=json.dumps(traces)).status_code == 200
    by_trace = {**COUNT_BY_MODEL, "dimensions": [{"field": "traceId"}]}
    response = api.get("v2/metrics", query=json.dumps(by_trace))
    assert response.status_code == 400 and "traceId" in response.json()["message"]


@pytest.mark.django_db(transaction=True)
@pytest.mark.live
def test_the_sdk_parses_metrics_answers_and_raises_its_error_on_a_bad_query(live_server, project):
    from langfuse.api.commons.errors.error import Error

    made = populate(project, traces=6)
    with langfuse_client(live_server, api_key_for(project)) as lf:
        answer = lf.api.metrics.metrics(
            query=json.dumps({**COUNT_BY_MODEL, "timeDimension": {"granularity": "day"}, "dimensions": []})
        )
        with pytest.raises(Error) as refused:
            lf.api.metrics.metrics(query=json.dumps({**COUNT_BY_MODEL, "view": "nope"}))
    assert len(answer.data) == 11  # ten days and the bucket of toTimestamp itself
    assert sum(row["count_count"] for row in answer.data) == len(made["observations"])
    assert refused.value.status_code == 400 and "view" in refused.value.body["message"]
