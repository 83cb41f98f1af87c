"""Every timestamp the platform accepts lands in 0001-01-01T00:00:00Z … 9999-12-31T23:59:59.999999Z
(evalsite/timestamps.py), and a row already outside it cannot take a read down (issue 9, item 1).

"9999-12-31T23:59:59-14:00" is year 10000 in UTC and "0001-01-01T00:00:00+01:00" is 1 BC: both
were stored, and psycopg then refused to read the row back, so every list showing it answered 500.
"""

import json
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.urls import reverse

from evalsite.api.cursors import encode_cursor
from evalsite.tenancy.roles import Role
from experiments.models import RunItem
from ingestion.otlp.decode import nanos_to_datetime
from scoring.models import Score
from tests.datasets.factories import DatasetFactory, DatasetItemFactory
from tests.experiments.factories import ExperimentRunFactory, RunItemFactory
from tests.ingestion.spans import SpanSpec, json_body, protobuf_body
from tests.scoring.factories import ScoreFactory
from tests.tenancy.factories import user_with_role
from tests.traces.factories import ObservationFactory, TraceFactory
from traces.models import Observation, Trace

pytestmark = pytest.mark.django_db

AFTER_9999 = "9999-12-31T23:59:59-14:00"  # 10000-01-01T13:59:59Z
BEFORE_YEAR_1 = "0001-01-01T00:00:00+01:00"  # 0000-12-31T23:00:00Z, 1 BC
OUT_OF_RANGE = [AFTER_9999, BEFORE_YEAR_1]
RANGE_MESSAGE = "must be between 0001-01-01T00:00:00Z and 9999-12-31T23:59:59.999999Z once converted to UTC"
postgresql_only = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="only PostgreSQL can hold a timestamp Python cannot read"
)


def score(score_id, **fields):
    return {"id": score_id, "traceId": "trace-1", "name": "accuracy", "value": 1, **fields}


# --- scores -------------------------------------------------------------------------------------


@pytest.mark.parametrize("timestamp", OUT_OF_RANGE)
def test_a_score_whose_timestamp_leaves_the_range_in_utc_is_refused_naming_the_field(api, project, timestamp):
    response = api.post("scores", score("s1", timestamp=timestamp))
    assert response.status_code == 400
    assert response.json()["details"] == {"timestamp": [RANGE_MESSAGE]}
    assert not Score.objects.exists()


@pytest.mark.parametrize("timestamp", OUT_OF_RANGE)
def test_a_score_array_refuses_only_the_item_whose_timestamp_is_out_of_range(api, project, timestamp):
    response = api.post("scores", [score("ok"), score("bad", timestamp=timestamp)])
    assert response.status_code == 207
    assert response.json() == {"accepted": 1, "rejected": 1, "errors": [{"message": f"[1] timestamp: {RANGE_MESSAGE}"}]}
    assert list(Score.objects.values_list("score_id", flat=True)) == ["ok"]


def test_the_edges_of_the_range_are_stored_in_utc_and_read_back_by_every_score_list(api, project):
    TraceFactory(project=project, trace_id="trace-1")
    response = api.post(
        "scores",
        [
            score("first", timestamp="0001-01-01T01:00:00+01:00"),
            score("last", timestamp="9999-12-31T23:59:59.999999Z"),
            score("late", timestamp="9999-12-31T10:00:00-13:59"),
        ],
    )
    assert response.status_code == 202
    stored = dict(Score.objects.values_list("score_id", "timestamp"))
    assert stored["first"] == datetime(1, 1, 1, tzinfo=UTC)
    assert stored["last"] == datetime.max.replace(tzinfo=UTC)
    assert stored["late"] == datetime(9999, 12, 31, 23, 59, tzinfo=UTC)
    for path in ("scores", "v2/scores", "v3/scores", "traces", "traces/trace-1"):
        assert api.get(path).status_code == 200, path
    timestamps = {row["id"]: row["timestamp"] for row in api.get("v3/scores").json()["data"]}
    assert timestamps["first"] == "0001-01-01T00:00:00Z"
    assert timestamps["last"] == "9999-12-31T23:59:59.999999Z"


# --- the legacy batch -----------------------------------------------------------------------------


def event(event_id, event_type, body, timestamp="2026-01-15T12:00:00Z"):
    return {"id": event_id, "type": event_type, "timestamp": timestamp, "body": body}


def test_a_legacy_event_whose_timestamp_overflows_gets_its_own_error_and_the_others_are_stored(api, project):
    response = api.post(
        "ingestion",
        {
            "batch": [
                event("ok", "trace-create", {"id": "t-ok", "name": "fine"}),
                event("event-time", "trace-create", {"id": "t-1"}, timestamp=AFTER_9999),
                event("trace-time", "trace-create", {"id": "t-2", "timestamp": BEFORE_YEAR_1}),
                event("start", "span-create", {"id": "s-1", "traceId": "t-ok", "startTime": AFTER_9999}),
                event("end", "span-create", {"id": "s-2", "traceId": "t-ok", "endTime": BEFORE_YEAR_1}),
                event("completion", "generation-create", {"id": "g-1", "traceId": "t-ok", "completionStartTime": AFTER_9999}),
                event("span-ok", "span-create", {"id": "s-3", "traceId": "t-ok", "startTime": "9999-12-31T23:00:00+01:00"}),
            ]
        },
    )
    assert response.status_code == 207
    body = response.json()
    assert sorted(success["id"] for success in body["successes"]) == ["ok", "span-ok"]
    assert {error["id"]: (error["status"], error["message"]) for error in body["errors"]} == {
        "event-time": (400, f"timestamp: {RANGE_MESSAGE}"),
        "trace-time": (400, f"body.timestamp: {RANGE_MESSAGE}"),
        "start": (400, f"body.startTime: {RANGE_MESSAGE}"),
        "end": (400, f"body.endTime: {RANGE_MESSAGE}"),
        "completion": (400, f"body.completionStartTime: {RANGE_MESSAGE}"),
    }
    assert list(Trace.objects.values_list("trace_id", flat=True)) == ["t-ok"]
    assert Observation.objects.get().start_time == datetime(9999, 12, 31, 22, tzinfo=UTC)
    assert api.get("traces/t-ok").status_code == 200


# --- OTLP -----------------------------------------------------------------------------------------


def test_otlp_span_times_are_always_in_range_even_at_the_largest_unsigned_64_bit_value():
    assert nanos_to_datetime(2**64 - 1) == datetime(2554, 7, 21, 23, 34, 33, 709551, tzinfo=UTC)


@pytest.mark.parametrize("encode", [protobuf_body, json_body], ids=["protobuf", "json"])
def test_an_otlp_timestamp_attribute_out_of_range_is_ignored_and_the_span_stored(api, project, encode):
    span = SpanSpec(
        trace_id="a" * 32,
        span_id="b" * 16,
        attributes={
            "langfuse.observation.type": "generation",
            "langfuse.observation.completion_start_time": json.dumps(AFTER_9999),
            "langfuse.experiment.id": "run-1",
            "langfuse.experiment.item.id": "item-1",
            "langfuse.experiment.item.root_observation_id": "b" * 16,
            "langfuse.experiment.item.version": BEFORE_YEAR_1,
        },
    )
    content_type = "application/x-protobuf" if encode is protobuf_body else "application/json"
    response = api.post("otel/v1/traces", encode([span]), content_type=content_type)
    assert response.status_code == 200
    observation = Observation.objects.get(project=project)
    assert observation.completion_start_time is None
    assert RunItem.objects.get(project=project).item_version is None
    assert api.get(f"observations/{'b' * 16}").status_code == 200


# --- query parameters, filters, cursors and other inputs ---------------------------------------------


@pytest.mark.parametrize(
    "path,parameter,extra",
    [
        ("traces", "fromTimestamp", {}),
        ("traces", "toTimestamp", {}),
        ("observations", "fromStartTime", {}),
        ("v2/observations", "toStartTime", {}),
        ("sessions", "fromTimestamp", {}),
        ("metrics/daily", "toTimestamp", {}),
        ("scores", "fromTimestamp", {}),
        ("v2/scores", "toTimestamp", {}),
        ("v3/scores", "fromTimestamp", {}),
        ("dataset-items", "version", {"datasetName": "qa"}),
        ("datasets/qa/export", "version", {}),
        ("v2/prompts", "fromUpdatedAt", {}),
        ("experiments", "fromStartTime", {}),
        ("experiment-items", "toStartTime", {"fromStartTime": "2026-01-01T00:00:00Z"}),
    ],
)
@pytest.mark.parametrize("value", OUT_OF_RANGE)
def test_a_query_timestamp_out_of_range_is_a_400_naming_the_parameter(api, project, path, parameter, extra, value):
    DatasetFactory(project=project, name="qa")
    response = api.get(path, **{parameter: value, **extra})
    assert response.status_code == 400, response.content
    assert response.json()["details"] == {parameter: [RANGE_MESSAGE]}


@pytest.mark.parametrize("value", OUT_OF_RANGE)
def test_a_v2_observations_datetime_filter_out_of_range_is_a_400_naming_the_condition(api, value):
    condition = {"type": "datetime", "column": "startTime", "operator": ">=", "value": value}
    response = api.get("v2/observations", filter=json.dumps([condition]))
    assert response.status_code == 400
    assert response.json()["details"] == {"filter": [f"[0] value {RANGE_MESSAGE}"]}


def test_a_v3_scores_cursor_naming_a_time_out_of_range_is_a_400(api):
    cursor = encode_cursor(datetime.fromisoformat(AFTER_9999), 1)
    response = api.get("v3/scores", cursor=cursor)
    assert response.status_code == 400
    assert "cursor" in response.json()["details"]


@pytest.mark.parametrize("field", ["createdAt", "datasetVersion"])
def test_a_dataset_run_item_with_a_timestamp_out_of_range_is_a_400_naming_it(api, project, field):
    item = DatasetItemFactory(dataset=DatasetFactory(project=project))
    response = api.post(
        "dataset-run-items", {"runName": "r", "datasetItemId": item.item_id, "traceId": "a" * 32, field: AFTER_9999}
    )
    assert response.status_code == 400
    assert response.json()["details"] == {field: [RANGE_MESSAGE]}


def test_a_model_price_starting_out_of_range_is_a_400_naming_startDate(api):
    response = api.post("models", {"modelName": "m", "matchPattern": "m", "startDate": BEFORE_YEAR_1, "inputPrice": 1})
    assert response.status_code == 400
    assert response.json()["details"] == {"startDate": [RANGE_MESSAGE]}


# --- rows stored out of range before this rule ----------------------------------------------------


@pytest.fixture
def poisoned(project):
    """A trace, its observation, its scores and a run item on it, with times PostgreSQL stores but
    psycopg cannot read, written by hand as an older release (or a person with psql) could."""
    trace = TraceFactory(project=project, trace_id="trace-1", session_id="session-1")
    observation = ObservationFactory(trace=trace, observation_id="obs-1", end_time=trace.timestamp + timedelta(seconds=1))
    future = ScoreFactory(project=project, score_id="future", trace_id="trace-1")
    past = ScoreFactory(project=project, score_id="past", trace_id="trace-1", observation_id="obs-1")
    ScoreFactory(project=project, score_id="normal", trace_id="trace-1")
    run = ExperimentRunFactory(project=project, started_at=datetime(2026, 1, 2, tzinfo=UTC))
    RunItemFactory(run=run, trace_id="trace-1", observation_id="obs-1", started_at=datetime(2026, 1, 2, tzinfo=UTC))
    with connection.cursor() as cursor:
        cursor.execute("UPDATE traces_trace SET timestamp = 'infinity' WHERE id = %s", [trace.pk])
        cursor.execute(
            "UPDATE traces_observation SET start_time = '-infinity', end_time = '10000-01-01 13:59:59+00' WHERE id = %s",
            [observation.pk],
        )
        cursor.execute("UPDATE scoring_score SET timestamp = '10000-01-01 13:59:59+00' WHERE id = %s", [future.pk])
        cursor.execute("UPDATE scoring_score SET timestamp = '0001-12-31 23:00:00+00 BC' WHERE id = %s", [past.pk])
    return trace


@postgresql_only
def test_rows_already_out_of_range_are_read_clamped_to_the_edges(api, project, poisoned):
    assert Trace.objects.get(pk=poisoned.pk).timestamp == datetime.max.replace(tzinfo=UTC)
    observation = Observation.objects.get(project=project)
    assert (observation.start_time, observation.end_time) == (datetime.min.replace(tzinfo=UTC), datetime.max.replace(tzinfo=UTC))
    timestamps = {row["id"]: row["timestamp"] for row in api.get("v3/scores").json()["data"]}
    assert timestamps["future"] == "9999-12-31T23:59:59.999999Z"
    assert timestamps["past"] == "0001-01-01T00:00:00Z"


@postgresql_only
@pytest.mark.parametrize(
    "path,params",
    [
        ("traces/trace-1", {}),
        ("traces", {}),
        ("observations", {}),
        ("observations/obs-1", {}),
        ("v2/observations", {}),
        ("sessions", {}),
        ("sessions/session-1", {}),
        ("metrics/daily", {}),
        ("scores", {}),
        ("scores/future", {}),
        ("v2/scores", {}),
        ("v3/scores", {}),
        ("v3/scores", {"limit": 1}),
        ("experiment-items", {"fromStartTime": "2026-01-01T00:00:00Z", "fields": "core,scores"}),
    ],
)
def test_no_api_read_fails_on_rows_already_out_of_range(api, poisoned, path, params):
    response = api.get(path, **params)
    assert response.status_code == 200, response.content


@postgresql_only
def test_the_trace_page_and_the_admin_lists_show_rows_already_out_of_range(client, project, poisoned, django_user_model):
    client.force_login(user_with_role(project, Role.VIEWER, staff=False))
    assert client.get(reverse("trace-detail", kwargs={"project_id": project.pk, "trace_id": "trace-1"})).status_code == 200
    for user in (user_with_role(project, Role.MEMBER), django_user_model.objects.create_superuser("root", password="x")):
        client.force_login(user)
        for name in ("scoring_score", "traces_trace", "traces_observation", "experiments_runitem"):
            response = client.get(reverse(f"admin:{name}_changelist"))
            assert response.status_code == 200, (user, name)
        score = Score.objects.get(score_id="future")
        assert client.get(reverse("admin:scoring_score_change", args=[score.pk])).status_code == 200


@postgresql_only
def test_a_score_already_out_of_range_can_be_deleted(api, poisoned):
    assert api.delete("scores/future").status_code == 204
    assert api.delete("scores/past").status_code == 204
    assert list(Score.objects.values_list("score_id", flat=True)) == ["normal"]
