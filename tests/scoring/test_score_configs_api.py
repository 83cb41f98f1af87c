"""/score-configs: list, create, get, patch; the name and type rules; roles."""

import pytest

from evalsite.tenancy.models import AuditLog
from evalsite.tenancy.roles import Role
from scoring.models import ScoreConfig
from tests.scoring.factories import CategoricalConfigFactory, ScoreConfigFactory

pytestmark = pytest.mark.django_db

CONFIG_KEYS = {
    "id", "name", "createdAt", "updatedAt", "projectId", "dataType", "isArchived", "minValue", "maxValue",
    "categories", "description",
}


def test_creating_a_numeric_config_returns_it_in_the_wire_shape(api, project):
    response = api.post("score-configs", {"name": "Accuracy (v2)", "dataType": "NUMERIC", "minValue": 0, "maxValue": 1,
                                          "description": "share correct", "categories": None})
    assert response.status_code == 200, response.content
    body = response.json()
    assert set(body) == CONFIG_KEYS
    assert (body["name"], body["dataType"], body["minValue"], body["maxValue"]) == ("Accuracy (v2)", "NUMERIC", 0.0, 1.0)
    assert body["projectId"] == project.id and body["isArchived"] is False and body["categories"] is None
    assert ScoreConfig.objects.get(pk=body["id"]).project == project
    assert AuditLog.objects.filter(project=project, action="score_config.create").count() == 1


def test_a_boolean_config_gets_true_and_false_categories(api):
    body = api.post("score-configs", {"name": "correct", "dataType": "BOOLEAN"}).json()
    assert body["categories"] == [{"value": 1.0, "label": "True"}, {"value": 0.0, "label": "False"}]


def test_a_categorical_config_keeps_its_categories(api):
    categories = [{"value": 2, "label": "great"}, {"value": 1, "label": "fine"}]
    body = api.post("score-configs", {"name": "tone", "dataType": "CATEGORICAL", "categories": categories}).json()
    assert body["categories"] == [{"value": 2.0, "label": "great"}, {"value": 1.0, "label": "fine"}]


@pytest.mark.parametrize(
    "body,field",
    [
        ({"name": "x" * 36, "dataType": "NUMERIC"}, "name"),
        ({"name": "bad/name", "dataType": "NUMERIC"}, "name"),
        ({"dataType": "NUMERIC"}, "name"),
        ({"name": "a", "dataType": "CORRECTION"}, "dataType"),
        ({"name": "a", "dataType": "NUMERIC", "minValue": 2, "maxValue": 1}, "minValue"),
        ({"name": "a", "dataType": "NUMERIC", "categories": [{"value": 1, "label": "x"}]}, "categories"),
        ({"name": "a", "dataType": "CATEGORICAL"}, "categories"),
        ({"name": "a", "dataType": "CATEGORICAL", "categories": [{"value": 1, "label": "x"}, {"value": 2, "label": "x"}]},
         "categories[1].label"),
        ({"name": "a", "dataType": "CATEGORICAL", "categories": [{"label": "x"}]}, "categories"),
        ({"name": "a", "dataType": "TEXT", "maxValue": 3}, "maxValue"),
    ],
)
def test_invalid_configs_are_a_400_naming_the_field(api, body, field):
    response = api.post("score-configs", body)
    assert response.status_code == 400, response.content
    assert response.json()["message"].count(f"{field}") >= 1
    assert not ScoreConfig.objects.exists()


def test_list_is_paged_by_name_and_includes_archived_configs(api, project, victim_project):
    for name in ("b", "a", "c"):
        ScoreConfigFactory(project=project, name=name)
    ScoreConfigFactory(project=project, name="old", is_archived=True)
    ScoreConfigFactory(project=victim_project, name="aa")
    first = api.get("score-configs", limit=2).json()
    assert [c["name"] for c in first["data"]] == ["a", "b"]
    assert first["meta"] == {"page": 1, "limit": 2, "totalItems": 4, "totalPages": 2}
    second = api.get("score-configs", limit=2, page=2).json()
    assert [(c["name"], c["isArchived"]) for c in second["data"]] == [("c", False), ("old", True)]


def test_list_query_count_is_fixed(api, project, django_assert_num_queries):
    ScoreConfigFactory.create_batch(12, project=project)
    api.get("projects")
    with django_assert_num_queries(3):  # key, count, page
        assert len(api.get("score-configs").json()["data"]) == 12


def test_get_by_id(api, project):
    config = CategoricalConfigFactory(project=project, name="tone")
    body = api.get(f"score-configs/{config.id}").json()
    assert body["id"] == config.id and body["categories"][0] == {"value": 1.0, "label": "good"}
    assert api.get("score-configs/nope").status_code == 404


def test_patch_renames_rebounds_and_archives(api, project):
    config = ScoreConfigFactory(project=project, name="accuracy", min_value=0, max_value=1)
    response = api.patch(f"score-configs/{config.id}", {"name": "accuracy v2", "maxValue": 10, "isArchived": True,
                                                         "description": None})
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["name"], body["minValue"], body["maxValue"], body["isArchived"]) == ("accuracy v2", 0.0, 10.0, True)
    config.refresh_from_db()
    assert config.is_archived and config.name == "accuracy v2"
    assert api.patch(f"score-configs/{config.id}", {"isArchived": False}).json()["isArchived"] is False


def test_patch_is_validated_like_create(api, project):
    config = ScoreConfigFactory(project=project, name="accuracy", min_value=0, max_value=1)
    response = api.patch(f"score-configs/{config.id}", {"minValue": 5})
    assert response.status_code == 400 and "minValue" in response.json()["message"]
    response = api.patch(f"score-configs/{config.id}", {"name": "no/slashes"})
    assert response.status_code == 400 and "name" in response.json()["details"]
    config.refresh_from_db()
    assert (config.name, config.min_value) == ("accuracy", 0.0)


def test_patch_cannot_give_a_boolean_config_categories(api, project):
    created = api.post("score-configs", {"name": "ok", "dataType": "BOOLEAN"}).json()
    assert api.patch(f"score-configs/{created['id']}", {"description": "d"}).status_code == 200
    response = api.patch(f"score-configs/{created['id']}", {"categories": [{"value": 2, "label": "maybe"}]})
    assert response.status_code == 400 and "categories" in response.json()["details"]


def test_patch_can_replace_categories_of_a_categorical_config(api, project):
    config = CategoricalConfigFactory(project=project, name="tone")
    body = api.patch(f"score-configs/{config.id}", {"categories": [{"value": 3, "label": "superb"}]}).json()
    assert body["categories"] == [{"value": 3.0, "label": "superb"}]


@pytest.mark.parametrize("role", [Role.VIEWER, Role.ANNOTATOR])
def test_keys_below_member_read_but_cannot_write_configs(api_by_role, project, role):
    config = ScoreConfigFactory(project=project, name="accuracy")
    client = api_by_role[role]
    assert client.get("score-configs").status_code == 200
    assert client.get(f"score-configs/{config.id}").status_code == 200
    assert client.post("score-configs", {"name": "x", "dataType": "NUMERIC"}).status_code == 403
    assert client.patch(f"score-configs/{config.id}", {"isArchived": True}).status_code == 403
    config.refresh_from_db()
    assert not config.is_archived and ScoreConfig.objects.count() == 1
