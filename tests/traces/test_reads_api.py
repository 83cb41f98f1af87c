"""Reads: /traces, /observations, /v2/observations, /sessions, /metrics/daily; trace deletion."""

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from evalsite.tenancy.roles import Role
from scoring.models import Score
from tests.scoring.factories import ScoreFactory
from tests.traces.factories import ObservationFactory, TraceFactory
from traces.models import Observation, Trace

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 1, 10, 9, 0, tzinfo=UTC)
TRACE_WITH_DETAILS_KEYS = {
    "id", "externalId", "projectId", "timestamp", "name", "input", "output", "sessionId", "release", "version", "userId",
    "metadata", "tags", "public", "bookmarked", "environment", "createdAt", "updatedAt", "htmlPath", "latency",
    "totalCost", "observations", "scores",
}


@pytest.fixture
def traces(project):
    """Three traces on two days with observations and scores."""
    first = TraceFactory(
        project=project, trace_id="t1", name="chat", user_id="u1", session_id="s1", tags=["a", "b"],
        environment="prod", release="r1", version="v1", timestamp=T0, input={"q": 1}, metadata={"k": "v"},
    )
    second = TraceFactory(
        project=project, trace_id="t2", name="chat", user_id="u2", session_id="s1", tags=["a"],
        environment="dev", timestamp=T0 + timedelta(hours=1),
    )
    third = TraceFactory(project=project, trace_id="t3", name="batch", tags=["b"], timestamp=T0 + timedelta(days=1))
    ObservationFactory(
        trace=first, observation_id="o1", name="root", start_time=T0, end_time=T0 + timedelta(seconds=2),
        total_cost=Decimal("0.25"), model="gpt", input_tokens=10, output_tokens=5, total_tokens=15, type="GENERATION",
        usage_details={"input": 10, "output": 5}, cost_details={"total": 0.25}, input={"prompt": "x"}, output="y",
        metadata={"short": "s", "long": "z" * 300},
    )
    ObservationFactory(
        trace=first, observation_id="o2", parent_observation_id="o1", name="child",
        start_time=T0 + timedelta(seconds=1), end_time=T0 + timedelta(seconds=3), total_cost=Decimal("0.5"), level="ERROR",
    )
    ObservationFactory(trace=third, observation_id="o3", name="solo", start_time=T0 + timedelta(days=1), model="gpt",
                       total_tokens=7, input_tokens=7, output_tokens=0, type="GENERATION")
    ScoreFactory(project=project, score_id="sc1", trace_id="t1", timestamp=T0)
    ScoreFactory(project=project, score_id="sc2", trace_id="t1", observation_id="o2", timestamp=T0)
    return first, second, third


def ids(response):
    assert response.status_code == 200, response.content
    return [item["id"] for item in response.json()["data"]]


# --- /traces ------------------------------------------------------------------------------


def test_trace_list_returns_traces_with_details_newest_first(api, traces):
    response = api.get("traces")
    body = response.json()
    assert ids(response) == ["t3", "t2", "t1"]
    assert body["meta"] == {"page": 1, "limit": 50, "totalItems": 3, "totalPages": 1}
    first = body["data"][2]
    assert set(first) == TRACE_WITH_DETAILS_KEYS
    assert first["observations"] == ["o1", "o2"]
    assert sorted(first["scores"]) == ["sc1", "sc2"]
    assert first["latency"] == 3.0
    assert first["totalCost"] == 0.75
    assert first["htmlPath"] == f"/projects/{traces[0].project_id}/traces/t1"
    assert first["input"] == {"q": 1} and first["metadata"] == {"k": "v"}


@pytest.mark.parametrize(
    "params,expected",
    [
        ({"userId": "u1"}, ["t1"]),
        ({"name": "chat"}, ["t2", "t1"]),
        ({"sessionId": "s1"}, ["t2", "t1"]),
        ({"fromTimestamp": "2026-01-10T09:30:00Z"}, ["t3", "t2"]),
        ({"toTimestamp": "2026-01-10T09:30:00Z"}, ["t1"]),
        ({"tags": ["a", "b"]}, ["t1"]),
        ({"tags": ["b"]}, ["t3", "t1"]),
        ({"version": "v1"}, ["t1"]),
        ({"release": "r1"}, ["t1"]),
        ({"environment": ["prod", "dev"]}, ["t2", "t1"]),
        ({"orderBy": "timestamp.asc"}, ["t1", "t2", "t3"]),
        ({"orderBy": "name.asc"}, ["t3", "t1", "t2"]),  # ties in creation order
    ],
)
def test_trace_list_filters(api, traces, params, expected):
    assert ids(api.get("traces", **params)) == expected


def test_trace_list_rejects_an_unknown_order_field(api, traces):
    response = api.get("traces", orderBy="secret.asc")
    assert response.status_code == 400
    assert "orderBy" in response.json()["message"]


def test_trace_list_field_groups_leave_out_what_was_not_asked_for(api, traces, django_assert_num_queries):
    response = api.get("traces", fields="core")
    item = response.json()["data"][0]
    assert not {"input", "output", "metadata", "observations", "scores", "latency", "totalCost"} & set(item)
    assert api.get("traces", fields="nonsense").status_code == 400


def test_trace_list_queries_do_not_depend_on_the_page_size(api, project, django_assert_num_queries):
    for n in range(30):
        trace = TraceFactory(project=project, trace_id=f"many-{n}")
        ObservationFactory(trace=trace)
        ScoreFactory(project=project, trace_id=trace.trace_id)
    api.get("traces", limit=1)  # the key's last-used touch happens once
    # key, count, page, observation stats, score ids
    with django_assert_num_queries(5):
        assert len(ids(api.get("traces", limit=2))) == 2
    with django_assert_num_queries(5):
        assert len(ids(api.get("traces", limit=30))) == 30


def test_trace_detail_has_observations_and_scores(api, traces):
    response = api.get("traces/t1")
    assert response.status_code == 200
    body = response.json()
    assert body["id"] == "t1" and body["latency"] == 3.0 and body["totalCost"] == 0.75
    assert body["externalId"] is None  # Langfuse keeps the legacy key, always null
    assert [o["id"] for o in body["observations"]] == ["o1", "o2"]
    root = body["observations"][0]
    assert root["usage"] == {"input": 10, "output": 5, "total": 15, "unit": "TOKENS", "inputCost": None, "outputCost": None, "totalCost": 0.25}
    assert root["latency"] == 2.0 and root["calculatedTotalCost"] == 0.25
    assert {s["id"] for s in body["scores"]} == {"sc1", "sc2"}
    assert api.get("traces/nope").status_code == 404


def test_deleting_a_trace_removes_its_observations_and_scores(api, project, traces):
    response = api.delete("traces/t1")
    assert response.status_code == 200 and "deleted" in response.json()["message"]
    assert not Trace.objects.filter(project=project, trace_id="t1").exists()
    assert not Observation.objects.filter(project=project, trace_id="t1").exists()
    assert not Score.objects.filter(project=project, trace_id="t1").exists()
    assert Trace.objects.filter(project=project).count() == 2
    assert api.delete("traces/t1").status_code == 404


def test_deleting_several_traces_at_once(api, project, traces):
    response = api.delete("traces", {"traceIds": ["t1", "t2", "unknown"]})
    assert response.status_code == 200
    assert list(Trace.objects.filter(project=project).values_list("trace_id", flat=True)) == ["t3"]
    assert api.delete("traces", {"traceIds": []}).status_code == 400


def test_deleting_several_traces_never_touches_another_projects_traces(api, victim_project):
    TraceFactory(project=victim_project, trace_id="victim-trace")
    response = api.delete("traces", {"traceIds": ["victim-trace"]})
    assert response.status_code == 200 and response.json()["message"] == "0 traces deleted"
    assert Trace.objects.filter(project=victim_project, trace_id="victim-trace").exists()


def test_a_viewer_cannot_delete_traces(api_by_role, project, traces):
    assert api_by_role[Role.VIEWER].delete("traces/t1").status_code == 403
    assert api_by_role[Role.VIEWER].delete("traces", {"traceIds": ["t1"]}).status_code == 403
    assert Trace.objects.filter(project=project).count() == 3


def test_trace_ids_with_a_slash_are_routed(api, project):
    TraceFactory(project=project, trace_id="folder/trace")
    assert api.get("traces/folder%2Ftrace").json()["id"] == "folder/trace"


# --- /observations ------------------------------------------------------------------------


def test_v1_observation_list_and_detail(api, traces):
    assert ids(api.get("observations")) == ["o3", "o2", "o1"]
    assert ids(api.get("observations", traceId="t1")) == ["o2", "o1"]
    assert ids(api.get("observations", type="GENERATION")) == ["o3", "o1"]
    assert ids(api.get("observations", userId="u1", level="ERROR")) == ["o2"]
    assert ids(api.get("observations", parentObservationId="o1")) == ["o2"]
    detail = api.get("observations/o1").json()
    assert detail["id"] == "o1" and detail["traceId"] == "t1" and detail["model"] == "gpt"
    assert api.get("observations/missing").status_code == 404
    assert api.get("observations", type="BANANA").status_code == 400


def test_v2_observations_default_to_core_and_basic_fields(api, traces):
    body = api.get("v2/observations", traceId="t1").json()
    assert body["meta"] == {"cursor": None}
    item = body["data"][1]
    assert set(item) == {
        "id", "traceId", "startTime", "endTime", "projectId", "parentObservationId", "type",
        "name", "level", "statusMessage", "version", "environment", "bookmarked", "public", "userId", "sessionId",
        "isRootObservation",
    }
    assert (item["id"], item["userId"], item["sessionId"], item["isRootObservation"]) == ("o1", "u1", "s1", True)


def test_v2_observations_field_groups(api, traces):
    item = api.get("v2/observations", traceId="t1", fields="io,usage,model,metrics,metadata,trace_context,prompt,time").json()["data"][1]
    assert item["input"] == '{"prompt": "x"}' and item["output"] == "y"  # raw strings, as upstream
    assert item["usageDetails"] == {"input": 10, "output": 5} and item["totalCost"] == 0.25
    assert item["model"] == "gpt" and item["latency"] == 2.0
    assert item["metadata"]["short"] == "s" and item["metadata"]["long"] == "z" * 200
    assert item["tags"] == ["a", "b"] and item["traceName"] == "chat" and item["release"] == "r1"
    assert "name" not in item  # basic was not asked for
    expanded = api.get("v2/observations", traceId="t1", fields="metadata", expandMetadata="long").json()["data"][1]
    assert expanded["metadata"]["long"] == "z" * 300


def test_v2_observations_cursor_walks_every_row_once(api, project, django_assert_num_queries):
    trace = TraceFactory(project=project, trace_id="big")
    for n in range(7):
        ObservationFactory(trace=trace, observation_id=f"obs-{n}", start_time=T0 + timedelta(seconds=n // 2))
    seen, cursor = [], None
    api.get("v2/observations", limit=1)
    while True:
        params = {"limit": 3, **({"cursor": cursor} if cursor else {})}
        # key, page, trace context
        with django_assert_num_queries(3):
            body = api.get("v2/observations", **params).json()
        seen += [item["id"] for item in body["data"]]
        cursor = body["meta"]["cursor"]
        if not cursor:
            break
    assert sorted(seen) == [f"obs-{n}" for n in range(7)] and len(seen) == 7
    assert api.get("v2/observations", cursor="garbage").status_code == 400


def test_v2_observations_structured_filter(api, traces):
    conditions = [
        {"type": "string", "column": "type", "operator": "=", "value": "GENERATION"},
        {"type": "arrayOptions", "column": "traceTags", "operator": "any of", "value": ["a"]},
    ]
    assert ids(api.get("v2/observations", filter=json.dumps(conditions))) == ["o1"]
    by_time = [{"type": "datetime", "column": "startTime", "operator": ">=", "value": "2026-01-10T09:00:01Z"}]
    assert ids(api.get("v2/observations", filter=json.dumps(by_time))) == ["o3", "o2"]
    by_metadata = [{"type": "stringObject", "column": "metadata", "key": "short", "operator": "=", "value": "s"}]
    assert ids(api.get("v2/observations", filter=json.dumps(by_metadata))) == ["o1"]
    unknown = [{"type": "string", "column": "secret", "operator": "=", "value": "x"}]
    response = api.get("v2/observations", filter=json.dumps(unknown))
    assert response.status_code == 400 and "secret" in response.json()["message"]
    assert api.get("v2/observations", filter="{").status_code == 400


@pytest.mark.parametrize("value", ["1e999", "-1e999", "NaN", "Infinity", "-Infinity", "1e30"])
@pytest.mark.parametrize(
    "condition",
    [
        '{"type": "number", "column": "inputTokens", "operator": ">", "value": %s}',
        '{"type": "number", "column": "totalCost", "operator": "=", "value": %s}',
        '{"type": "stringObject", "column": "metadata", "key": "x", "operator": "=", "value": %s}',
    ],
    ids=["tokens", "cost", "metadata"],
)
def test_v2_observations_filter_numbers_that_are_not_finite_or_too_large_are_a_400(api, traces, condition, value):
    response = api.get("v2/observations", filter="[" + condition % value + "]")
    assert response.status_code == 400, response.content
    assert "filter" in response.json()["details"]


@pytest.mark.parametrize("key", ["x__regex", "x__isnull", "x__in", "a__b__c"])
def test_a_metadata_filter_key_is_one_key_never_a_lookup(api, project, traces, key):
    trace = TraceFactory(project=project, trace_id="t-meta")
    ObservationFactory(trace=trace, observation_id="o-meta", metadata={key: "("})
    condition = [{"type": "stringObject", "column": "metadata", "key": key, "operator": "=", "value": "("}]
    assert ids(api.get("v2/observations", filter=json.dumps(condition))) == ["o-meta"]


@pytest.mark.parametrize(
    "condition",
    [
        {"type": "number", "column": "startTime", "operator": ">", "value": 1},
        {"type": "datetime", "column": "inputTokens", "operator": ">", "value": "2026-01-01T00:00:00Z"},
        {"type": "string", "column": "totalCost", "operator": "=", "value": "1"},
        {"type": "string", "column": "name", "operator": "=", "value": "a\x00b"},
        {"type": "string", "column": "name", "operator": "=", "value": "\ud800"},
        {"type": "stringObject", "column": "metadata", "key": "k\x00", "operator": "=", "value": "v"},
        {"type": "datetime", "column": "startTime", "operator": ">", "value": "9999-12-31T23:59:59-14:00"},
    ],
    ids=["number-on-time", "time-on-number", "string-on-number", "nul", "lone-surrogate", "nul-key", "past-9999"],
)
def test_v2_observations_filters_the_database_cannot_take_are_a_400_naming_the_filter(api, traces, condition):
    response = api.get("v2/observations", filter=json.dumps([condition]))
    assert response.status_code == 400, response.content
    assert "filter" in response.json()["details"]


def test_a_filter_nested_deeper_than_the_limit_is_a_400(api, traces):
    response = api.get("v2/observations", filter="[" * 100_000 + "]" * 100_000)
    assert response.status_code == 400 and "filter" in response.json()["details"]


def test_v2_observations_refuse_parse_io_as_json(api, traces):
    assert api.get("v2/observations", parseIoAsJson="true").status_code == 400


# --- /sessions and /metrics/daily ------------------------------------------------------------


def test_sessions_list_and_detail(api, project, traces):
    body = api.get("sessions").json()
    assert body["data"] == [{"id": "s1", "createdAt": "2026-01-10T09:00:00Z", "projectId": project.pk, "environment": "dev"}]
    assert body["meta"]["totalItems"] == 1
    detail = api.get("sessions/s1").json()
    assert [t["id"] for t in detail["traces"]] == ["t1", "t2"]
    assert api.get("sessions/unknown").status_code == 404
    assert api.get("sessions", fromTimestamp="2026-01-11T00:00:00Z").json()["data"] == []


def test_daily_metrics_count_traces_observations_cost_and_usage_per_model(api, traces):
    body = api.get("metrics/daily").json()
    assert [day["date"] for day in body["data"]] == ["2026-01-11", "2026-01-10"]
    day_two, day_one = body["data"]
    assert (day_one["countTraces"], day_one["countObservations"], day_one["totalCost"]) == (2, 2, 0.75)
    gpt = next(usage for usage in day_one["usage"] if usage["model"] == "gpt")
    assert (gpt["inputUsage"], gpt["outputUsage"], gpt["totalUsage"], gpt["countTraces"]) == (10, 5, 15, 1)
    assert day_two["usage"][0]["totalUsage"] == 7
    filtered = api.get("metrics/daily", traceName="batch").json()
    assert [day["date"] for day in filtered["data"]] == ["2026-01-11"]
    assert api.get("metrics/daily", tags=["a"], environment=["prod"]).json()["data"][0]["countTraces"] == 1


@pytest.mark.parametrize(
    "path,queries",
    [
        ("observations", 3),  # key, count, page
        ("sessions", 3),  # key, count, page
        ("metrics/daily", 3),  # key, traces per day, observations per day and model
    ],
)
def test_list_queries_do_not_depend_on_the_page_size(api, project, path, queries, django_assert_num_queries):
    for n in range(12):
        trace = TraceFactory(project=project, session_id=f"session-{n}", timestamp=T0 - timedelta(days=n))
        ObservationFactory(trace=trace, start_time=trace.timestamp, model="m", total_tokens=1)
    api.get(path, limit=1)  # the key's last-used touch happens once
    with django_assert_num_queries(queries):
        assert len(api.get(path, limit=2).json()["data"]) == 2
    with django_assert_num_queries(queries):
        assert len(api.get(path, limit=12).json()["data"]) == 12


def test_the_trace_list_honours_its_structured_filter_over_the_single_value_parameters(api, project):
    TraceFactory(project=project, trace_id="f1", name="checkout", user_id="u1", metadata={"plan": "pro"}, timestamp=T0)
    TraceFactory(project=project, trace_id="f2", name="checkout", user_id="u2", bookmarked=True, timestamp=T0 + timedelta(hours=1))
    TraceFactory(project=project, trace_id="f3", name="search", user_id="u1", timestamp=T0 + timedelta(hours=2))

    def listed(conditions, **params):
        return ids(api.get("traces", filter=json.dumps(conditions), **params))

    assert listed([{"type": "string", "column": "name", "operator": "=", "value": "nothing"}]) == []
    assert listed([{"type": "stringOptions", "column": "traceName", "operator": "any of", "value": ["checkout"]}]) == ["f2", "f1"]
    assert listed([{"type": "stringObject", "column": "metadata", "key": "plan", "operator": "=", "value": "pro"}]) == ["f1"]
    assert listed([{"type": "boolean", "column": "bookmarked", "operator": "=", "value": True}]) == ["f2"]
    after = [{"type": "datetime", "column": "timestamp", "operator": ">=", "value": (T0 + timedelta(hours=1)).isoformat()}]
    assert listed(after) == ["f3", "f2"]
    # A condition on a field replaces that field's parameter; the other parameters still apply.
    on_name = [{"type": "string", "column": "name", "operator": "=", "value": "search"}]
    assert listed(on_name, name="checkout") == ["f3"]
    assert listed(on_name, userId="u2") == []

    refused = api.get("traces", filter=json.dumps([{"type": "number", "column": "latency", "operator": ">", "value": 1}]))
    assert refused.status_code == 400 and "latency" in refused.content.decode()


def test_the_v1_observation_list_honours_a_structured_filter(api, project):
    trace = TraceFactory(project=project, trace_id="t1")
    ObservationFactory(trace=trace, observation_id="o1", name="retrieve")
    ObservationFactory(trace=trace, observation_id="o2", name="generate")
    conditions = [{"type": "string", "column": "name", "operator": "=", "value": "generate"}]
    assert ids(api.get("observations", filter=json.dumps(conditions))) == ["o2"]
