"""POST /api/public/ingestion: the legacy batch format, always 207 with per-event results."""

import pytest

from scoring.models import Score
from tests.scoring.factories import ScoreConfigFactory
from traces.models import Observation, Trace

pytestmark = pytest.mark.django_db

NOW = "2026-01-15T12:00:00.000Z"


def event(event_id, event_type, body, timestamp=NOW):
    return {"id": event_id, "type": event_type, "timestamp": timestamp, "body": body}


def ingest(api, *events):
    return api.post("ingestion", {"batch": list(events)})


def test_a_legacy_batch_creates_traces_and_observations_and_answers_207(api, project):
    response = ingest(
        api,
        event("e1", "trace-create", {"id": "t-1", "name": "chat", "userId": "u", "tags": ["a"], "input": {"q": 1}, "timestamp": NOW}),
        event("e2", "span-create", {"id": "s-1", "traceId": "t-1", "name": "step", "startTime": "2026-01-15T12:00:01Z"}),
        event(
            "e3",
            "generation-create",
            {
                "id": "g-1",
                "traceId": "t-1",
                "parentObservationId": "s-1",
                "name": "llm",
                "model": "gpt-4o",
                "modelParameters": {"temperature": 0},
                "startTime": "2026-01-15T12:00:02Z",
                "usage": {"input": 10, "output": 4, "totalCost": 0.5},
                "promptName": "p",
                "promptVersion": 3,
            },
        ),
        event("e4", "generation-update", {"id": "g-1", "traceId": "t-1", "endTime": "2026-01-15T12:00:03Z", "output": "hi"}),
        event("e5", "event-create", {"id": "ev-1", "traceId": "t-1", "name": "log", "startTime": "2026-01-15T12:00:04Z"}),
        event("e6", "tool-create", {"id": "tool-1", "traceId": "t-1", "name": "search", "level": "WARNING"}),
        event("e7", "sdk-log", {"log": "hello"}),
    )
    assert response.status_code == 207
    body = response.json()
    assert body["errors"] == []
    assert [s["id"] for s in body["successes"]] == ["e1", "e2", "e3", "e4", "e5", "e6", "e7"]
    assert {s["status"] for s in body["successes"]} == {201}

    trace = Trace.objects.get(project=project, trace_id="t-1")
    assert (trace.name, trace.user_id, trace.tags, trace.input) == ("chat", "u", ["a"], {"q": 1})
    observations = {o.observation_id: o for o in Observation.objects.filter(project=project)}
    generation = observations["g-1"]
    assert (generation.type, generation.model, generation.parent_observation_id) == ("GENERATION", "gpt-4o", "s-1")
    assert generation.output == "hi" and generation.end_time is not None
    assert generation.usage_details == {"input": 10, "output": 4, "total": 14}  # total filled as Langfuse does
    assert generation.cost_details == {"total": 0.5}
    assert (generation.prompt_name, generation.prompt_version) == ("p", 3)
    assert observations["ev-1"].type == "EVENT" and observations["ev-1"].end_time == observations["ev-1"].start_time
    assert (observations["tool-1"].type, observations["tool-1"].level) == ("TOOL", "WARNING")


def test_invalid_events_are_reported_inside_the_207_and_the_valid_ones_stored(api, project):
    response = ingest(
        api,
        event("ok", "span-create", {"id": "s-1", "traceId": "t-1"}),
        event("bad-level", "span-create", {"id": "s-2", "traceId": "t-1", "level": "LOUD"}),
        event("bad-type", "unknown-create", {"id": "x"}),
        event("no-body", "span-create", None),
        event("bad-time", "span-create", {"id": "s-3", "traceId": "t-1", "startTime": "yesterday"}),
        event("bad-env", "trace-create", {"id": "t-2", "environment": "Langfuse Prod"}),
        event("update-without-trace", "span-update", {"id": "s-1"}),
        "not an object",
    )
    assert response.status_code == 207
    body = response.json()
    assert [s["id"] for s in body["successes"]] == ["ok"]
    errors = {e["id"]: e for e in body["errors"]}
    assert set(errors) == {"bad-level", "bad-type", "no-body", "bad-time", "bad-env", "update-without-trace", ""}
    assert all(e["status"] == 400 and e["error"] == "InvalidRequestError" for e in body["errors"])
    assert "body.level" in errors["bad-level"]["message"]
    assert "body.startTime" in errors["bad-time"]["message"]
    assert "body.environment" in errors["bad-env"]["message"]
    assert list(Observation.objects.filter(project=project).values_list("observation_id", flat=True)) == ["s-1"]
    assert not Trace.objects.filter(project=project, trace_id="t-2").exists()


@pytest.mark.parametrize("body", [[], {"events": []}, {"batch": "x"}, '"text"'], ids=["array", "no-batch", "batch-not-array", "string"])
def test_a_body_that_is_not_a_batch_object_is_a_400(api, body):
    response = api.post("ingestion", body)
    assert response.status_code == 400
    assert "batch" in response.json()["message"]


def test_malformed_json_is_a_400(api):
    response = api.post("ingestion", b'{"batch": [NaN]}', content_type="application/json")
    assert response.status_code == 400


def test_an_update_arriving_before_its_create_merges_into_one_observation(api, project):
    ingest(api, event("u", "generation-update", {"id": "g", "traceId": "t", "output": "done", "endTime": "2026-01-15T12:00:09Z"}, "2026-01-15T12:00:09Z"))
    ingest(api, event("c", "generation-create", {"id": "g", "traceId": "t", "name": "llm", "model": "m", "startTime": "2026-01-15T12:00:00Z"}))
    generation = Observation.objects.get(project=project)
    assert (generation.name, generation.model, generation.output) == ("llm", "m", "done")
    assert generation.start_time.isoformat() == "2026-01-15T12:00:00+00:00"  # the create's start, not the update's time
    assert generation.end_time.isoformat() == "2026-01-15T12:00:09+00:00"


def test_an_observation_without_a_trace_id_gets_a_trace_of_its_own_and_a_retry_reuses_it(api, project):
    for _ in range(2):
        ingest(api, event("e", "span-create", {"id": "lonely", "name": "x"}))
    assert list(Trace.objects.filter(project=project).values_list("trace_id", flat=True)) == ["lonely"]
    assert Observation.objects.get(project=project).trace_id == "lonely"


def test_score_create_events_are_validated_by_their_config(api, project):
    config = ScoreConfigFactory(project=project, name="quality", data_type="NUMERIC", min_value=0, max_value=1)
    response = ingest(
        api,
        event("s-ok", "score-create", {"id": "score-1", "traceId": "t-1", "name": "quality", "value": 0.5, "configId": config.id}),
        event("s-range", "score-create", {"id": "score-2", "traceId": "t-1", "name": "quality", "value": 5, "configId": config.id}),
        event("s-unknown", "score-create", {"id": "score-3", "traceId": "t-1", "name": "quality", "value": 1, "configId": "nope"}),
    )
    body = response.json()
    assert [s["id"] for s in body["successes"]] == ["s-ok"]
    errors = {e["id"]: e["message"] for e in body["errors"]}
    assert "above" in errors["s-range"] and "configId" in errors["s-unknown"]
    assert list(Score.objects.filter(project=project).values_list("score_id", flat=True)) == ["score-1"]


def test_a_viewer_key_cannot_use_the_batch_endpoint(api_by_role, project):
    from evalsite.tenancy.roles import Role

    response = api_by_role[Role.VIEWER].post("ingestion", {"batch": [event("e", "trace-create", {"id": "t"})]})
    assert response.status_code == 403
    assert not Trace.objects.filter(project=project).exists()


def test_a_batch_above_the_body_limit_is_a_413(api, project, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 500
    response = ingest(api, event("e", "trace-create", {"id": "t", "input": "x" * 1000}))
    assert response.status_code == 413
    assert not Trace.objects.filter(project=project).exists()
