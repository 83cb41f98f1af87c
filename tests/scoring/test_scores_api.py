"""POST /scores (single, array, 202/207/400), reads by id, delete, roles and query counts."""

from datetime import UTC, datetime

import pytest

from evalsite.tenancy.models import AuditLog
from evalsite.tenancy.roles import Role
from scoring.models import Score
from tests.scoring.factories import CategoricalConfigFactory, ScoreConfigFactory, ScoreFactory

pytestmark = pytest.mark.django_db

TRACE = "0123456789abcdef0123456789abcdef"


def score(i: int = 0, **fields) -> dict:
    return {
        "id": f"{i:016x}",
        "traceId": TRACE,
        "name": "accuracy",
        "value": 0.5,
        "dataType": "NUMERIC",
        "timestamp": "2025-01-31T10:00:00.000Z",
        **fields,
    }


def test_a_single_score_object_gets_200_with_its_id(api, project):
    response = api.post("scores", score(1, comment="fine", metadata={"k": [1, 2]}, environment="prod"))
    assert response.status_code == 200, response.content
    assert response.json() == {"id": "0000000000000001"}
    stored = Score.objects.get(project=project, score_id="0000000000000001")
    assert (stored.name, stored.value, stored.data_type, stored.source) == ("accuracy", 0.5, "NUMERIC", "API")
    assert (stored.comment, stored.metadata, stored.environment) == ("fine", {"k": [1, 2]}, "prod")
    assert stored.timestamp == datetime(2025, 1, 31, 10, tzinfo=UTC)
    assert stored.trace_id == TRACE and stored.author_user is None


def test_a_single_score_without_id_gets_a_generated_one(api, project):
    body = score()
    del body["id"]
    response = api.post("scores", body)
    assert response.status_code == 200
    assert Score.objects.get(project=project).score_id == response.json()["id"]


def test_an_invalid_single_score_is_a_400_naming_the_field(api, project):
    response = api.post("scores", score(1, name=None))
    assert response.status_code == 400
    body = response.json()
    assert body["error"] == "InvalidRequestError" and "name" in body["details"]
    assert "name:" in body["message"]
    assert not Score.objects.exists()


def test_an_all_valid_array_gets_202_accepted(api, project):
    response = api.post("scores", [score(i) for i in range(3)])
    assert response.status_code == 202
    assert response.json() == {"message": "Accepted"}
    assert Score.objects.filter(project=project).count() == 3


def test_a_partly_invalid_array_gets_207_and_stores_the_valid_ones(api, project):
    items = [score(0), score(1, value="x" * 501, dataType="TEXT"), score(2), score(3, environment="UPPER", name=None)]
    response = api.post("scores", items)
    assert response.status_code == 207
    body = response.json()
    assert (body["accepted"], body["rejected"]) == (2, 2)
    messages = [e["message"] for e in body["errors"]]
    assert messages[0].startswith("[1] value: ")
    assert any(m.startswith("[3] name: ") for m in messages) and any(m.startswith("[3] environment: ") for m in messages)
    assert set(Score.objects.values_list("score_id", flat=True)) == {f"{0:016x}", f"{2:016x}"}


def test_an_all_invalid_array_is_a_400_with_per_item_errors_and_stores_nothing(api):
    response = api.post("scores", [score(0, name=""), score(1, traceId=None)])
    assert response.status_code == 400
    body = response.json()
    assert body["error"] == "InvalidRequestError"
    assert (body["accepted"], body["rejected"]) == (0, 2)
    assert [e["message"].split(" ")[0:2] for e in body["errors"]] == [["[0]", "name:"], ["[1]", "traceId:"]]
    assert not Score.objects.exists()


def test_an_empty_array_is_accepted_and_stores_nothing(api):
    response = api.post("scores", [])
    assert response.status_code == 202 and not Score.objects.exists()


@pytest.mark.parametrize("body", ['"a string"', "42", "null"])
def test_a_body_that_is_neither_object_nor_array_is_a_400(api, body):
    response = api.request("POST", "scores", body)
    assert response.status_code == 400
    assert "body" in response.json()["details"]


def test_malformed_json_is_a_400(api):
    response = api.request("POST", "scores", "[{")
    assert response.status_code == 400 and response.json()["error"] == "InvalidRequestError"


def test_an_oversized_body_is_a_413(api):
    response = api.request("POST", "scores", "[" + " " * (5 * 1024 * 1024) + "]")
    assert response.status_code == 413 and response.json()["error"] == "PayloadTooLargeError"


def test_retrying_the_same_ids_never_duplicates_and_keeps_the_latest_values(api, project):
    assert api.post("scores", [score(i, value=0.1) for i in range(5)]).status_code == 202
    first = Score.objects.get(project=project, score_id=f"{0:016x}")
    assert api.post("scores", [score(i, value=0.9, comment="retried") for i in range(5)]).status_code == 202
    assert Score.objects.filter(project=project).count() == 5
    again = Score.objects.get(project=project, score_id=f"{0:016x}")
    assert (again.value, again.comment) == (0.9, "retried")
    assert again.pk == first.pk and again.created_at == first.created_at and again.updated_at >= first.updated_at


def test_the_same_id_twice_in_one_array_keeps_the_last(api, project):
    assert api.post("scores", [score(7, value=0.1), score(7, value=0.2)]).status_code == 202
    assert list(Score.objects.values_list("value", flat=True)) == [0.2]


def test_the_same_score_id_in_two_projects_is_two_scores(api, victim_api, project, victim_project):
    assert api.post("scores", score(1, value=0.1)).status_code == 200
    assert victim_api.post("scores", score(1, value=0.9)).status_code == 200
    assert Score.objects.get(project=project).value == 0.1
    assert Score.objects.get(project=victim_project).value == 0.9


def test_a_score_before_its_trace_is_stored(api, project):
    unknown = "f" * 32
    response = api.post("scores", [score(1, traceId=unknown, observationId="e" * 16)])
    assert response.status_code == 202
    stored = Score.objects.get(project=project)
    assert (stored.trace_id, stored.observation_id) == (unknown, "e" * 16)


def test_session_and_run_scores_are_stored_without_a_trace(api, project):
    items = [score(1, traceId=None, sessionId="session-1"), score(2, traceId=None, datasetRunId="run-1")]
    assert api.post("scores", items).status_code == 202
    by_id = {s.score_id: s for s in Score.objects.filter(project=project)}
    assert by_id[f"{1:016x}"].session_id == "session-1" and by_id[f"{1:016x}"].trace_id is None
    assert by_id[f"{2:016x}"].dataset_run_id == "run-1"


def test_a_category_label_is_stored_with_its_config_value(api, project):
    config = CategoricalConfigFactory(project=project, name="tone")
    response = api.post("scores", score(1, name="tone", value="ok", dataType=None, configId=config.id))
    assert response.status_code == 200, response.content
    stored = Score.objects.get(project=project)
    assert (stored.value, stored.string_value, stored.data_type, stored.config_id) == (0.5, "ok", "CATEGORICAL", config.id)


@pytest.mark.parametrize(
    "fields,field",
    [
        ({"configId": "no-such-config"}, "configId"),
        ({"value": 11}, "value"),
        ({"dataType": "CATEGORICAL", "value": "x"}, "dataType"),
    ],
    ids=["unknown config", "out of range", "type mismatch"],
)
def test_scores_that_break_their_config_are_refused(api, project, fields, field):
    config = ScoreConfigFactory(project=project, name="accuracy", min_value=0, max_value=10)
    response = api.post("scores", score(1, **{"configId": config.id, **fields}))
    assert response.status_code == 400
    assert field in response.json()["details"]
    assert not Score.objects.exists()


def test_a_category_not_in_the_config_is_refused_inside_a_207(api, project):
    config = CategoricalConfigFactory(project=project, name="tone")
    items = [score(0), score(1, name="tone", value="superb", dataType="CATEGORICAL", configId=config.id)]
    response = api.post("scores", items)
    assert response.status_code == 207
    assert response.json()["errors"][0]["message"].startswith("[1] value: 'superb' is not a category")
    assert Score.objects.count() == 1


def test_an_archived_config_is_refused(api, project):
    config = ScoreConfigFactory(project=project, name="accuracy", is_archived=True)
    response = api.post("scores", score(1, configId=config.id))
    assert response.status_code == 400 and "archived" in response.json()["message"]


def test_another_projects_config_is_unknown(api, victim_project):
    config = ScoreConfigFactory(project=victim_project, name="accuracy")
    response = api.post("scores", score(1, configId=config.id))
    assert response.status_code == 400 and "configId" in response.json()["details"]


def test_posting_100_scores_takes_a_fixed_number_of_queries(api, project, django_assert_num_queries):
    config = ScoreConfigFactory(project=project, name="accuracy", min_value=0, max_value=1)
    api.get("projects")  # the key's last-use stamp is written once per interval; not part of this count
    items = [score(i, configId=config.id if i % 2 else None) for i in range(100)]
    # key lookup, savepoint, configs of the batch, one upsert, release savepoint
    with django_assert_num_queries(5):
        response = api.post("scores", items)
    assert response.status_code == 202
    assert Score.objects.count() == 100


def test_scores_without_configs_skip_the_config_query(api, project, django_assert_num_queries):
    api.get("projects")
    with django_assert_num_queries(4):
        assert api.post("scores", [score(i) for i in range(100)]).status_code == 202


@pytest.mark.parametrize("role", [Role.VIEWER, Role.ANNOTATOR])
def test_keys_below_member_cannot_post_scores(api_by_role, role):
    response = api_by_role[role].post("scores", [score(1)])
    assert response.status_code == 403 and response.json()["error"] == "AccessDeniedError"
    assert not Score.objects.exists()


def test_a_member_key_can_post_scores(api_by_role):
    assert api_by_role[Role.MEMBER].post("scores", [score(1)]).status_code == 202


def test_a_viewer_key_can_read_but_not_delete_scores(api_by_role, project):
    ScoreFactory(project=project, score_id="s1")
    viewer = api_by_role[Role.VIEWER]
    assert viewer.get("scores/s1").status_code == 200
    assert viewer.delete("scores/s1").status_code == 403
    assert Score.objects.filter(score_id="s1").exists()


def test_get_by_id_answers_on_v1_and_v2_paths_with_the_score_shape(api, project):
    ScoreFactory(
        project=project, score_id="s1", name="tone", value=1.0, string_value="good", data_type="CATEGORICAL",
        trace_id=TRACE, observation_id="a" * 16, comment="c", metadata={"x": 1}, environment="prod", queue_id="q1",
    )
    for path in ("scores/s1", "v2/scores/s1"):
        body = api.get(path).json()
        assert body["id"] == "s1" and body["projectId"] == project.id
        assert (body["name"], body["value"], body["stringValue"], body["dataType"]) == ("tone", 1.0, "good", "CATEGORICAL")
        assert (body["traceId"], body["observationId"], body["sessionId"], body["datasetRunId"]) == (TRACE, "a" * 16, None, None)
        assert (body["comment"], body["metadata"], body["environment"], body["queueId"]) == ("c", {"x": 1}, "prod", "q1")
        assert body["source"] == "API" and body["configId"] is None and body["authorUserId"] is None
        assert body["trace"] is None  # the trace has not arrived
        for key in ("timestamp", "createdAt", "updatedAt"):
            assert body[key].endswith("Z") or "+" in body[key]


def test_get_of_an_unknown_score_is_404(api):
    response = api.get("scores/nope")
    assert response.status_code == 404 and response.json()["error"] == "NotFoundError"


def test_delete_removes_the_score_audits_it_and_a_second_delete_is_404(api, project):
    ScoreFactory(project=project, score_id="s1")
    ScoreFactory(project=project, score_id="s2")
    response = api.delete("scores/s1")
    assert response.status_code == 204
    assert list(Score.objects.values_list("score_id", flat=True)) == ["s2"]
    assert AuditLog.objects.filter(project=project, action="score.delete", detail__score_id="s1").count() == 1
    assert api.delete("scores/s1").status_code == 404
