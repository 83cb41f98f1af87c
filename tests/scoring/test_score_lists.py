"""GET /scores, /v2/scores (page pagination, filters) and /v3/scores (cursor, polymorphic value)."""

from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from scoring.models import Score
from tests.scoring.factories import ScoreConfigFactory, ScoreFactory
from traces.models import Trace

pytestmark = pytest.mark.django_db

T0 = datetime(2025, 1, 1, tzinfo=UTC)


def make_trace(project, trace_id, **fields):
    return Trace.objects.create(project=project, trace_id=trace_id, timestamp=timezone.now(), **fields)


def ids(response) -> list[str]:
    assert response.status_code == 200, response.content
    return [item["id"] for item in response.json()["data"]]


@pytest.fixture
def scores(project, victim_project):
    """A spread of scores in `project`, and one in the victim project that must never show."""
    made = [
        ScoreFactory(project=project, score_id="num", name="accuracy", value=0.2, trace_id="t1", timestamp=T0,
                     environment="prod", config=None),
        ScoreFactory(project=project, score_id="obs", name="accuracy", value=0.9, trace_id="t1", observation_id="o1",
                     timestamp=T0 + timedelta(hours=1), source="EVAL"),
        ScoreFactory(project=project, score_id="cat", name="tone", value=None, string_value="good",
                     data_type="CATEGORICAL", trace_id="t2", timestamp=T0 + timedelta(hours=2), queue_id="q1"),
        ScoreFactory(project=project, score_id="ses", name="helpful", value=1.0, string_value="True",
                     data_type="BOOLEAN", trace_id=None, session_id="s1", timestamp=T0 + timedelta(hours=3),
                     source="ANNOTATION"),
        ScoreFactory(project=project, score_id="run", name="avg", value=0.5, trace_id=None, dataset_run_id="r1",
                     timestamp=T0 + timedelta(hours=4), environment="prod"),
        ScoreFactory(project=project, score_id="txt", name="note", value=None, string_value="meh", data_type="TEXT",
                     trace_id="t3", timestamp=T0 + timedelta(hours=5)),
    ]
    ScoreFactory(project=victim_project, score_id="victim", name="accuracy", trace_id="t1", timestamp=T0)
    return made


@pytest.mark.parametrize("path", ["scores", "v2/scores"])
def test_page_lists_are_newest_first_and_scoped_to_the_project(api, scores, path):
    response = api.get(path)
    assert ids(response) == ["txt", "run", "ses", "cat", "obs", "num"]
    assert response.json()["meta"] == {"page": 1, "limit": 50, "totalItems": 6, "totalPages": 1}


def test_page_pagination_walks_every_score_once(api, scores):
    pages = [api.get("v2/scores", page=p, limit=4) for p in (1, 2, 3)]
    assert ids(pages[0]) == ["txt", "run", "ses", "cat"] and ids(pages[1]) == ["obs", "num"] and ids(pages[2]) == []
    assert pages[1].json()["meta"] == {"page": 2, "limit": 4, "totalItems": 6, "totalPages": 2}


@pytest.mark.parametrize(
    "params,expected",
    [
        ({"name": "accuracy"}, ["obs", "num"]),
        ({"source": "EVAL"}, ["obs"]),
        ({"dataType": "CATEGORICAL"}, ["cat"]),
        ({"traceId": "t1"}, ["obs", "num"]),
        ({"traceId": "t1", "observationId": "o1"}, ["obs"]),
        ({"sessionId": "s1"}, ["ses"]),
        ({"datasetRunId": "r1"}, ["run"]),
        ({"queueId": "q1"}, ["cat"]),
        ({"environment": "prod"}, ["run", "num"]),
        ({"environment": ["prod", "default"]}, ["txt", "run", "ses", "cat", "obs", "num"]),
        ({"fromTimestamp": "2025-01-01T03:00:00Z"}, ["txt", "run", "ses"]),
        ({"toTimestamp": "2025-01-01T02:00:00Z"}, ["obs", "num"]),
        ({"fromTimestamp": "2025-01-01T01:00:00Z", "toTimestamp": "2025-01-01T03:00:00Z"}, ["cat", "obs"]),
        ({"scoreIds": "num, cat,victim"}, ["cat", "num"]),
        ({"operator": ">=", "value": "0.5"}, ["run", "ses", "obs"]),
        ({"operator": "<", "value": "0.5"}, ["num"]),
        ({"operator": "!=", "value": "0.5"}, ["ses", "obs", "num"]),
        ({"operator": "=", "value": "1"}, ["ses"]),
    ],
)
def test_v2_filters_narrow_the_list(api, scores, params, expected):
    assert ids(api.get("v2/scores", **params)) == expected


def test_v2_config_filter_selects_scores_of_that_config(api, project, scores):
    config = ScoreConfigFactory(project=project, name="accuracy")
    Score.objects.filter(score_id="num").update(config=config)
    assert ids(api.get("v2/scores", configId=config.id)) == ["num"]


def test_v2_user_filter_selects_scores_of_that_users_traces(api, project, scores):
    make_trace(project, "t2", user_id="alice", tags=["beta"])
    make_trace(project, "t1", user_id="bob")
    assert ids(api.get("v2/scores", userId="alice")) == ["cat"]


def test_v2_items_carry_their_trace_when_it_has_arrived(api, project, scores, django_assert_max_num_queries):
    make_trace(project, "t2", user_id="alice", tags=["beta"], environment="prod")
    with django_assert_max_num_queries(5):  # key, count, page, traces of the page (+ last-use stamp)
        data = api.get("v2/scores").json()["data"]
    by_id = {item["id"]: item for item in data}
    assert by_id["cat"]["trace"] == {"userId": "alice", "tags": ["beta"], "environment": "prod"}
    assert by_id["num"]["trace"] is None and by_id["ses"]["trace"] is None


def test_v2_list_query_count_does_not_grow_with_the_page(api, project, django_assert_num_queries):
    for i in range(30):
        ScoreFactory(project=project, trace_id=f"trace-{i}")
    api.get("projects")
    with django_assert_num_queries(4):  # key, count, page, trace summaries
        assert len(ids(api.get("v2/scores", limit=30))) == 30


@pytest.mark.parametrize(
    "params,field",
    [
        ({"dataType": "PERCENT"}, "dataType"),
        ({"source": "HUMAN"}, "source"),
        ({"fromTimestamp": "yesterday"}, "fromTimestamp"),
        ({"operator": "~", "value": "1"}, "operator"),
        ({"operator": ">"}, "operator"),
        ({"traceTags": "beta"}, "traceTags"),
        ({"limit": "0"}, "limit"),
        ({"page": "x"}, "page"),
    ],
)
def test_bad_list_parameters_are_a_400_naming_them(api, scores, params, field):
    response = api.get("v2/scores", **params)
    assert response.status_code == 400
    assert field in response.json()["message"]


# v3


def test_v3_items_have_a_typed_value_and_a_subject(api, project, scores):
    data = {item["id"]: item for item in api.get("v3/scores").json()["data"]}
    assert data["num"]["value"] == 0.2 and data["num"]["subject"] == {"kind": "trace", "id": "t1"}
    assert data["obs"]["subject"] == {"kind": "observation", "id": "o1", "traceId": "t1"}
    assert data["cat"]["value"] == "good" and data["cat"]["dataType"] == "CATEGORICAL"
    assert data["ses"]["value"] is True and data["ses"]["subject"] == {"kind": "session", "id": "s1"}
    assert data["run"]["subject"] == {"kind": "experiment", "id": "r1"}
    assert data["txt"]["value"] == "meh"
    item = data["num"]
    assert item["projectId"] == project.id and item["source"] == "API" and item["environment"] == "prod"
    assert {"timestamp", "createdAt", "updatedAt", "comment", "configId", "metadata", "authorUserId", "queueId"} <= set(item)


def test_v3_wraps_non_object_metadata_so_sdk_clients_can_parse_it(api, project):
    ScoreFactory(project=project, score_id="list-meta", metadata=[1, 2])
    ScoreFactory(project=project, score_id="obj-meta", metadata={"a": 1})
    data = {item["id"]: item for item in api.get("v3/scores").json()["data"]}
    assert data["list-meta"]["metadata"] == {"value": [1, 2]} and data["obj-meta"]["metadata"] == {"a": 1}


def test_v3_cursor_walks_every_score_exactly_once_even_with_equal_timestamps(api, project):
    for i in range(7):
        ScoreFactory(project=project, score_id=f"same-{i}", timestamp=T0)
    for i in range(4):
        ScoreFactory(project=project, score_id=f"later-{i}", timestamp=T0 + timedelta(minutes=i))
    seen, cursor, pages = [], None, 0
    while True:
        params = {"limit": 3, **({"cursor": cursor} if cursor else {})}
        body = api.get("v3/scores", **params).json()
        assert body["meta"]["limit"] == 3
        seen += [item["id"] for item in body["data"]]
        pages += 1
        cursor = body["meta"]["cursor"]
        if cursor is None:
            break
    assert len(seen) == 11 and len(set(seen)) == 11 and pages == 4
    assert seen[:4] == ["later-3", "later-2", "later-1", "later-0"]


def test_v3_last_page_has_no_cursor(api, scores):
    assert api.get("v3/scores", limit=6).json()["meta"]["cursor"] is None


@pytest.mark.parametrize(
    "params,expected",
    [
        ({"id": "cat"}, ["cat"]),
        ({"name": "accuracy"}, ["obs", "num"]),
        ({"experimentId": "r1"}, ["run"]),
        ({"value": "good"}, ["cat"]),
        ({"valueMin": "0.5", "valueMax": "0.95"}, ["run", "obs"]),
        ({"sessionId": "s1"}, ["ses"]),
        ({"traceId": "t1", "source": "API"}, ["num"]),
        ({"fields": "score,subject"}, ["txt", "run", "ses", "cat", "obs", "num"]),
    ],
)
def test_v3_filters_narrow_the_list(api, scores, params, expected):
    assert ids(api.get("v3/scores", **params)) == expected


def test_v3_refuses_a_cursor_it_did_not_make(api, scores):
    response = api.get("v3/scores", cursor="not-a-cursor")
    assert response.status_code == 400 and "cursor" in response.json()["message"]


def test_v3_query_count_is_fixed(api, project, django_assert_num_queries):
    ScoreFactory.create_batch(20, project=project)
    api.get("projects")
    with django_assert_num_queries(2):  # key, one page query
        assert len(api.get("v3/scores", limit=20).json()["data"]) == 20
