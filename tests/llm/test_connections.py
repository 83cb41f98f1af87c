"""LLM connections: encryption at rest, the /api/public/llm-connections API, audit and roles."""

import pytest
from django.core.exceptions import ImproperlyConfigured, ValidationError
from django.db import connection as db
from django.test import override_settings

from evalsite.llm import crypto
from evalsite.llm.client import chat
from evalsite.llm.connections import (
    DEFAULT_BASE_URL,
    display_secret_key,
    llm_connection_get,
    llm_connection_update,
    llm_endpoint_for,
)
from evalsite.llm.models import LlmConnection
from evalsite.tenancy.models import AuditLog
from evalsite.tenancy.roles import Role
from tests.llm.admin_object_factories import make_connection
from tests.support.fake_llm import FakeLLMServer

pytestmark = pytest.mark.django_db

SECRET = "sk-live-9f8e7d6c5b4a39281706"
HEADER_VALUE = "header-secret-value-31337"
OTHER_FERNET_KEY = "dzD0r874UujXl91y3hMrB6hvNJn3Wa80_ozj6V-0UWc="


def raw_row(pk) -> str:
    """Every column of the stored row, as the database holds it."""
    with db.cursor() as cursor:
        cursor.execute(f"SELECT * FROM {LlmConnection._meta.db_table} WHERE id = %s", [pk])
        return " ".join(str(value) for value in cursor.fetchone())


def put_body(**overrides):
    body = {
        "provider": "local-vllm",
        "adapter": "openai",
        "secretKey": SECRET,
        "baseURL": "http://vllm:8000/v1",
        "customModels": ["llama-3", "qwen"],
        "withDefaultModels": False,
        "extraHeaders": {"X-Org": HEADER_VALUE},
        "config": None,
    }
    return {**body, **overrides}


# -- encryption ----------------------------------------------------------------------------------


def test_the_key_and_header_values_are_stored_encrypted(project):
    created = make_connection(project, secret_key=SECRET, extra_headers={"X-Org": HEADER_VALUE})
    row = raw_row(created.pk)
    assert SECRET not in row and SECRET[-8:] not in row
    assert HEADER_VALUE not in row
    assert "X-Org" in row  # header names stay readable
    assert created.display_secret_key == "sk-..." + SECRET[-4:]


def test_the_endpoint_decrypts_key_and_headers_for_a_real_call(project):
    with FakeLLMServer(api_key=SECRET) as llm:
        created = make_connection(
            project, secret_key=SECRET, base_url=llm.base_url, extra_headers={"X-Org": HEADER_VALUE}
        )
        endpoint = llm_endpoint_for(llm_connection_get(project=project, provider=created.provider))
        assert (endpoint.api_key, dict(endpoint.extra_headers)) == (SECRET, {"X-Org": HEADER_VALUE})
        assert chat(endpoint, model="m", messages=[{"role": "user", "content": "hi"}]).text == "echo: hi"
        assert llm.requests[-1].headers["x-org"] == HEADER_VALUE


def test_a_connection_without_base_url_calls_the_default_openai_endpoint(project):
    assert llm_endpoint_for(make_connection(project)).base_url == DEFAULT_BASE_URL


def test_a_changed_encryption_key_gives_a_clear_error_without_the_secret(project):
    created = make_connection(project, secret_key=SECRET)
    with override_settings(ENCRYPTION_KEY=OTHER_FERNET_KEY):
        with pytest.raises(crypto.DecryptionError) as raised:
            llm_endpoint_for(created)
    assert "EVALSITE_ENCRYPTION_KEY" in str(raised.value) and SECRET not in str(raised.value)


def test_keys_can_be_rotated_by_listing_the_old_key_after_the_new_one(project, settings):
    created = make_connection(project, secret_key=SECRET)
    with override_settings(ENCRYPTION_KEY=f"{OTHER_FERNET_KEY},{settings.ENCRYPTION_KEY}"):
        assert llm_endpoint_for(created).api_key == SECRET
        updated = llm_connection_update(connection=created, secret_key="sk-rotated-0000000000000")
    with override_settings(ENCRYPTION_KEY=OTHER_FERNET_KEY):
        assert llm_endpoint_for(updated).api_key == "sk-rotated-0000000000000"


def test_a_malformed_encryption_key_is_a_configuration_error():
    with override_settings(ENCRYPTION_KEY="not-a-fernet-key"):
        with pytest.raises(ImproperlyConfigured, match="Fernet"):
            crypto.encrypt("x")


@pytest.mark.parametrize(
    "secret,shown", [("sk-abcdefghijklmnop1234", "sk-...1234"), ("short-key12", "...12"), ("tiny", "...")]
)
def test_the_display_key_never_reveals_much_of_the_key(secret, shown):
    assert display_secret_key(secret) == shown


# -- API -----------------------------------------------------------------------------------------


def test_put_creates_a_connection_and_answers_without_the_key(api, project):
    response = api.put("llm-connections", put_body())
    assert response.status_code == 200, response.content
    body = response.json()
    assert SECRET not in response.content.decode() and HEADER_VALUE not in response.content.decode()
    assert body | {"id": None, "createdAt": None, "updatedAt": None} == {
        "id": None, "provider": "local-vllm", "adapter": "openai", "displaySecretKey": "sk-..." + SECRET[-4:],
        "baseURL": "http://vllm:8000/v1", "customModels": ["llama-3", "qwen"], "withDefaultModels": False,
        "extraHeaderKeys": ["X-Org"], "config": None, "createdAt": None, "updatedAt": None,
    }  # fmt: skip
    assert LlmConnection.objects.get(pk=body["id"]).project == project


def test_put_upserts_by_provider_and_keeps_omitted_fields(api):
    first = api.put("llm-connections", put_body()).json()
    second = api.put(
        "llm-connections",
        {
            "provider": "local-vllm",
            "adapter": "openai",
            "secretKey": "sk-new-key-00000000001111",
            "customModels": None,
        },
    ).json()
    assert second["id"] == first["id"]
    assert LlmConnection.objects.count() == 1
    assert (second["baseURL"], second["customModels"], second["extraHeaderKeys"]) == (
        "http://vllm:8000/v1",
        ["llama-3", "qwen"],
        ["X-Org"],
    )
    assert second["displaySecretKey"] == "sk-...1111"
    assert llm_endpoint_for(LlmConnection.objects.get()).api_key == "sk-new-key-00000000001111"
    cleared = api.put("llm-connections", put_body(extraHeaders={}, customModels=[])).json()
    assert (cleared["extraHeaderKeys"], cleared["customModels"]) == ([], [])


def test_get_lists_connections_with_pagination_and_never_the_key(api, project, django_assert_max_num_queries):
    for index in range(3):
        api.put("llm-connections", put_body(provider=f"p{index}"))
    with django_assert_max_num_queries(4):
        response = api.get("llm-connections", limit=2)
    assert response.status_code == 200
    assert SECRET not in response.content.decode() and HEADER_VALUE not in response.content.decode()
    body = response.json()
    assert [c["provider"] for c in body["data"]] == ["p0", "p1"]
    assert body["meta"] == {"page": 1, "limit": 2, "totalItems": 3, "totalPages": 2}


def test_delete_removes_the_connection_and_is_404_afterwards(api):
    created = api.put("llm-connections", put_body()).json()
    response = api.delete(f"llm-connections/{created['id']}")
    assert response.status_code == 200 and response.json() == {"message": "LLM connection deleted"}
    assert not LlmConnection.objects.exists()
    assert api.delete(f"llm-connections/{created['id']}").status_code == 404


@pytest.mark.parametrize(
    "overrides,field",
    [
        ({"adapter": "anthropic"}, "adapter"),
        ({"provider": ""}, "provider"),
        ({"provider": None}, "provider"),
        ({"secretKey": ""}, "secretKey"),
        ({"baseURL": "ftp://example.com"}, "baseURL"),
        ({"extraHeaders": {"Bad Header": "x"}}, "extraHeaders"),
        ({"extraHeaders": {"X-A": "line\nbreak"}}, "extraHeaders"),
        ({"customModels": "gpt-4"}, "customModels"),
        ({"config": [1, 2]}, "config"),
    ],
)
def test_bad_bodies_are_400_naming_the_field_and_store_nothing(api, overrides, field):
    response = api.put("llm-connections", put_body(**overrides))
    assert response.status_code == 400, response.content
    assert field in response.json()["details"]
    assert not LlmConnection.objects.exists()


def test_an_unsupported_adapter_is_named_in_the_error(api):
    message = api.put("llm-connections", put_body(adapter="bedrock")).json()["message"]
    assert "adapter" in message and "bedrock" in message


def test_every_write_is_audited_with_the_key_and_without_secrets(api, project):
    created = api.put("llm-connections", put_body()).json()
    api.put("llm-connections", put_body(baseURL="http://other:9000/v1"))
    api.put("llm-connections", put_body(baseURL="http://other:9000/v1"))  # nothing changed: no entry
    api.delete(f"llm-connections/{created['id']}")
    logs = AuditLog.objects.filter(object_type="LlmConnection").order_by("created_at", "id")
    assert [log.action for log in logs] == [
        "llm_connection.create",
        "llm_connection.update",
        "llm_connection.delete",
    ]
    assert all(log.actor_api_key == api.key.api_key for log in logs)
    assert logs[1].detail["changed"] == ["base_url"]
    assert all(SECRET not in str(log.detail) and HEADER_VALUE not in str(log.detail) for log in logs)


def test_a_connection_of_another_project_cannot_be_reached(api, victim_project):
    theirs = make_connection(victim_project, provider="local-vllm")
    assert api.get("llm-connections").json()["data"] == []
    assert api.delete(f"llm-connections/{theirs.pk}").status_code == 404
    api.put("llm-connections", put_body())  # same provider name, our own project: a new row
    assert LlmConnection.objects.filter(provider="local-vllm").count() == 2
    assert llm_endpoint_for(LlmConnection.objects.get(pk=theirs.pk)).api_key != SECRET


@pytest.mark.parametrize("role", [Role.VIEWER, Role.ANNOTATOR], ids=lambda r: r.name)
def test_keys_below_member_can_neither_see_nor_change_connections(api_by_role, project, role):
    existing = make_connection(project)
    client = api_by_role[role]
    assert client.get("llm-connections").status_code == 403
    assert client.get(f"llm-connections/{existing.pk}").status_code == 403
    assert client.put("llm-connections", put_body()).status_code == 403
    assert client.delete(f"llm-connections/{existing.pk}").status_code == 403
    assert list(LlmConnection.objects.values_list("provider", flat=True)) == [existing.provider]


def test_a_member_key_reads_names_and_models_without_any_key_material_but_cannot_write(api_by_role, project):
    # Issue 9, item 11: a MEMBER starts runs, so it may pick a connection and a model, as in the admin.
    existing = make_connection(
        project, provider="gateway", secret_key=SECRET, custom_models=["m1", "m2"], extra_headers={"X-Org": HEADER_VALUE}
    )
    member = api_by_role[Role.MEMBER]
    listed = member.get("llm-connections")
    one = member.get(f"llm-connections/{existing.pk}")
    assert listed.status_code == 200 and one.status_code == 200
    assert [(c["provider"], c["customModels"]) for c in listed.json()["data"]] == [("gateway", ["m1", "m2"])]
    assert one.json() == listed.json()["data"][0]
    for response in (listed, one):
        content = response.content.decode()
        assert SECRET not in content and SECRET[-4:] not in content and HEADER_VALUE not in content
        assert '"displaySecretKey":"..."' in content.replace(" ", "")
    assert member.put("llm-connections", put_body()).status_code == 403
    assert member.delete(f"llm-connections/{existing.pk}").status_code == 403
    assert api_by_role[Role.ADMIN].get(f"llm-connections/{existing.pk}").json()["displaySecretKey"] == "sk-..." + SECRET[-4:]


def test_an_admin_key_manages_connections(api_by_role):
    assert api_by_role[Role.ADMIN].put("llm-connections", put_body()).status_code == 200


# -- a new destination needs the key again (issue 9, item 8) -------------------------------------


def test_a_new_base_url_without_the_key_is_refused_so_the_stored_key_never_travels_there(project):
    connection = make_connection(project, secret_key=SECRET, base_url="http://vllm:8000/v1")
    with pytest.raises(ValidationError) as raised:
        llm_connection_update(connection=connection, base_url="http://attacker.example/v1")
    assert "secret_key" in raised.value.message_dict
    assert LlmConnection.objects.get(pk=connection.pk).base_url == "http://vllm:8000/v1"
    updated = llm_connection_update(
        connection=connection, base_url="http://other:9000/v1", secret_key="sk-entered-again-000000"
    )
    assert (updated.base_url, llm_endpoint_for(updated).api_key) == ("http://other:9000/v1", "sk-entered-again-000000")


def test_new_extra_headers_without_the_key_are_refused(project):
    connection = make_connection(project, secret_key=SECRET)
    with pytest.raises(ValidationError) as raised:
        llm_connection_update(connection=connection, extra_headers={"X-Forward-To": "attacker"})
    assert "secret_key" in raised.value.message_dict
    assert LlmConnection.objects.get(pk=connection.pk).extra_header_keys == []
    llm_connection_update(connection=connection, custom_models=["m"])  # other fields need no key


def test_a_new_base_url_needs_the_stored_header_values_again_too(project):
    connection = make_connection(project, secret_key=SECRET, extra_headers={"X-Org": HEADER_VALUE})
    with pytest.raises(ValidationError) as raised:
        llm_connection_update(connection=connection, base_url="http://attacker.example/v1", secret_key="sk-mine-00000000000")
    assert list(raised.value.message_dict) == ["extra_headers"]
    updated = llm_connection_update(
        connection=connection, base_url="http://other:9000/v1", secret_key="sk-mine-00000000000", extra_headers={}
    )
    assert llm_endpoint_for(updated).extra_headers == {}


def test_the_api_refuses_a_new_base_url_that_keeps_the_stored_headers(api):
    api.put("llm-connections", put_body())
    response = api.put("llm-connections", put_body(baseURL="http://attacker.example/v1", extraHeaders=None))
    assert response.status_code == 400 and "extraHeaders" in response.json()["details"]
    assert LlmConnection.objects.get().base_url == "http://vllm:8000/v1"
    assert api.put("llm-connections", put_body(baseURL="http://other:9000/v1")).status_code == 200


# -- services and selectors ----------------------------------------------------------------------


def test_renaming_onto_another_connection_s_provider_is_refused(project):
    make_connection(project, provider="a")
    second = make_connection(project, provider="b")
    with pytest.raises(ValidationError) as raised:
        llm_connection_update(connection=second, provider="a")
    assert "provider" in raised.value.message_dict


def test_llm_connection_get_raises_for_a_missing_provider(project, victim_project):
    make_connection(victim_project, provider="theirs")
    with pytest.raises(LlmConnection.DoesNotExist):
        llm_connection_get(project=project, provider="theirs")
