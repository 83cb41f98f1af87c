"""/api/public/v2/prompts: shapes, label rules, list filters, errors and roles."""

from datetime import timedelta
from urllib.parse import quote

import pytest
from django.utils import timezone

from evalsite.tenancy.roles import Role
from prompts.models import Prompt
from tests.prompts.factories import CHAT, chat_prompt, text_prompt

pytestmark = pytest.mark.django_db

PROMPT_KEYS = {
    "id", "name", "version", "type", "prompt", "config", "labels", "tags", "commitMessage",
    "createdAt", "updatedAt", "projectId", "createdBy", "isActive",
}  # fmt: skip


def url(name, *rest):
    return "/".join(["v2/prompts", quote(name, safe=""), *map(str, rest)])


def test_create_answers_201_with_the_prompt_in_the_sdk_shape(api, project):
    response = api.post(
        "v2/prompts",
        {
            "name": "f/text",
            "prompt": "Hi {{x}}",
            "config": None,
            "labels": ["production"],
            "tags": None,
            "commitMessage": None,
        },
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert set(body) == PROMPT_KEYS
    assert body | {"id": None, "createdAt": None, "updatedAt": None} == {
        "id": None, "name": "f/text", "version": 1, "type": "text", "prompt": "Hi {{x}}", "config": {},
        "labels": ["production", "latest"], "tags": [], "commitMessage": None, "createdAt": None,
        "updatedAt": None, "projectId": project.id, "createdBy": "API", "isActive": None,
    }  # fmt: skip
    assert body["createdAt"].endswith("Z")


def test_get_by_name_label_and_version(api, project):
    text_prompt(project, name="a/b", content="one", labels=["production"])
    text_prompt(project, name="a/b", content="two", labels=["staging"])
    assert api.get(url("a/b")).json()["prompt"] == "one"
    assert api.get(url("a/b"), label="staging").json()["version"] == 2
    assert api.get(url("a/b"), version=1).json()["labels"] == ["production"]
    # Django decodes %2F before routing; a raw slash reaches the same prompt.
    assert api.get("v2/prompts/a/b", label="latest").json()["prompt"] == "two"


@pytest.mark.parametrize("query", [{}, {"label": "nope"}, {"version": 7}])
def test_a_missing_prompt_is_a_404_json_error(api, project, query):
    text_prompt(project, name="exists")
    response = api.get(url("exists"), **query)
    assert response.status_code == 404
    assert response.json()["error"] == "NotFoundError"


def test_version_and_label_together_or_a_bad_version_are_400(api, project):
    text_prompt(project, name="x")
    assert api.get(url("x"), version=1, label="latest").status_code == 400
    response = api.get(url("x"), version="abc")
    assert response.status_code == 400 and "version" in response.json()["message"]


def test_chat_prompt_round_trips_messages_and_placeholders(api):
    response = api.post(
        "v2/prompts", {"name": "chat", "type": "chat", "prompt": CHAT, "config": {"temperature": 0}}
    )
    assert response.status_code == 201
    fetched = api.get(url("chat"), label="latest").json()
    assert (fetched["type"], fetched["prompt"], fetched["config"]) == ("chat", CHAT, {"temperature": 0})


def test_changing_the_type_of_an_existing_prompt_is_400_naming_type(api, project):
    text_prompt(project, name="typed")
    response = api.post("v2/prompts", {"name": "typed", "type": "chat", "prompt": CHAT})
    assert response.status_code == 400
    assert "type" in response.json()["details"]
    assert Prompt.objects.filter(name="typed").count() == 1


@pytest.mark.parametrize(
    "body,field",
    [
        ({"prompt": "x"}, "name"),
        ({"name": "n"}, "prompt"),
        ({"name": "n", "prompt": ["not", "a", "string"]}, "prompt"),
        ({"name": "n", "type": "chat", "prompt": "not a list"}, "prompt"),
        ({"name": "n", "type": "image", "prompt": "x"}, "type"),
        ({"name": "n", "prompt": "x", "labels": ["UPPER"]}, "labels"),
        ({"name": "n", "prompt": "x", "tags": "not-a-list"}, "tags"),
        ({"name": "a//b", "prompt": "x"}, "name"),
    ],
)
def test_bad_create_bodies_are_400_naming_the_field(api, body, field):
    response = api.post("v2/prompts", body)
    assert response.status_code == 400, response.content
    assert field in response.json()["details"]
    assert not Prompt.objects.exists()


def test_patch_adds_labels_and_moves_them_from_other_versions(api, project):
    text_prompt(project, name="p", labels=["production"])
    text_prompt(project, name="p")
    response = api.patch(url("p", "versions", 2), {"newLabels": ["production"]})
    assert response.status_code == 200
    assert response.json()["labels"] == ["production", "latest"]  # as Langfuse: the new labels first
    assert api.get(url("p"), version=1).json()["labels"] == []
    assert api.get(url("p")).json()["version"] == 2


def test_patch_refuses_latest_on_an_older_version_and_404s_a_missing_version(api, project):
    text_prompt(project, name="p")
    text_prompt(project, name="p")
    refused = api.patch(url("p", "versions", 1), {"newLabels": ["latest"]})
    assert refused.status_code == 400 and "newLabels" in refused.json()["details"]
    assert api.patch(url("p", "versions", 3), {"newLabels": ["x"]}).status_code == 404


def test_patch_works_on_names_with_slashes(api, project):
    text_prompt(project, name="deep/folder/p")
    assert api.patch(url("deep/folder/p", "versions", 1), {"newLabels": ["staging"]}).status_code == 200
    assert api.get(url("deep/folder/p"), label="staging").status_code == 200


def test_delete_by_version_by_label_and_all(api, project):
    for _ in range(3):
        text_prompt(project, name="d", labels=["production"])
    assert api.delete(url("d") + "?version=3").status_code == 204
    assert api.get(url("d"), label="latest").json()["version"] == 2  # latest moved back
    assert api.delete(url("d") + "?label=production").status_code == 404  # v3 had it, and is gone
    assert api.delete(url("d")).status_code == 204
    assert api.get(url("d"), version=1).status_code == 404
    assert api.delete(url("d")).status_code == 404


def make_list_fixture(project):
    old = timezone.now() - timedelta(days=3)
    text_prompt(project, name="alpha", labels=["production"], tags=["team-a"], config={"model": "m1"})
    text_prompt(project, name="alpha", config={"model": "m2"})
    chat_prompt(project, name="beta/chat", tags=["team-b"])
    text_prompt(project, name="gamma", labels=["production"])
    Prompt.objects.filter(name="gamma").update(updated_at=old)
    return old


def names(response):
    assert response.status_code == 200, response.content
    return [entry["name"] for entry in response.json()["data"]]


def test_list_groups_versions_by_name(api, project):
    make_list_fixture(project)
    body = api.get("v2/prompts").json()
    assert body["meta"] == {"page": 1, "limit": 50, "totalItems": 3, "totalPages": 1}
    alpha = body["data"][0]
    assert {k: v for k, v in alpha.items() if k != "lastUpdatedAt"} == {
        "name": "alpha", "type": "text", "versions": [1, 2], "labels": ["latest", "production"],
        "tags": ["team-a"], "lastConfig": {"model": "m2"},
    }  # fmt: skip
    assert body["data"][1]["type"] == "chat"


def test_list_filters(api, project):
    old = make_list_fixture(project)
    assert names(api.get("v2/prompts", name="alpha")) == ["alpha"]
    assert names(api.get("v2/prompts", label="production")) == ["alpha", "gamma"]
    assert api.get("v2/prompts", label="production").json()["data"][0]["versions"] == [1]
    assert names(api.get("v2/prompts", tag="team-b")) == ["beta/chat"]
    since = (old + timedelta(days=1)).isoformat()
    assert names(api.get("v2/prompts", fromUpdatedAt=since)) == ["alpha", "beta/chat"]
    assert names(api.get("v2/prompts", toUpdatedAt=since)) == ["gamma"]
    bad = api.get("v2/prompts", fromUpdatedAt="yesterday")
    assert bad.status_code == 400 and "fromUpdatedAt" in bad.json()["message"]


def test_list_pages_over_names(api, project):
    for index in range(5):
        text_prompt(project, name=f"n{index}")
        text_prompt(project, name=f"n{index}")
    body = api.get("v2/prompts", limit=2, page=3).json()
    assert [entry["name"] for entry in body["data"]] == ["n4"]
    assert body["meta"] == {"page": 3, "limit": 2, "totalItems": 5, "totalPages": 3}


def test_list_query_count_does_not_grow_with_prompts(api, project, django_assert_max_num_queries):
    for index in range(20):
        text_prompt(project, name=f"n{index}", labels=["production"])
        text_prompt(project, name=f"n{index}")
    api.get("v2/prompts")  # warm the key lookup path
    with django_assert_max_num_queries(6):
        assert len(api.get("v2/prompts", tag="none-such").json()["data"]) == 0
    with django_assert_max_num_queries(6):
        assert len(api.get("v2/prompts").json()["data"]) == 20


def test_get_query_count_is_constant(api, project, django_assert_max_num_queries):
    text_prompt(project, name="q", labels=["production", "a", "b", "c"])
    with django_assert_max_num_queries(4):
        assert api.get(url("q")).status_code == 200


def test_prompts_of_another_project_are_invisible(api, victim_project):
    text_prompt(victim_project, name="secret", labels=["production"])
    assert api.get(url("secret")).status_code == 404
    assert names(api.get("v2/prompts")) == []


@pytest.mark.parametrize("role", [Role.VIEWER, Role.ANNOTATOR])
def test_readers_below_member_can_read_but_not_write(api_by_role, project, role):
    text_prompt(project, name="r", labels=["production"])
    client = api_by_role[role]
    assert client.get(url("r")).status_code == 200
    assert client.get("v2/prompts").status_code == 200
    assert client.post("v2/prompts", {"name": "r", "prompt": "x"}).status_code == 403
    assert client.patch(url("r", "versions", 1), {"newLabels": ["x"]}).status_code == 403
    assert client.delete(url("r")).status_code == 403
    assert Prompt.objects.count() == 1


def test_a_member_key_can_write(api_by_role):
    assert api_by_role[Role.MEMBER].post("v2/prompts", {"name": "m", "prompt": "x"}).status_code == 201
