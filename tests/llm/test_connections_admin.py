"""The LLM connection admin: ADMINs only, a write-only secret, and the "test connection" action."""

import json

import pytest
from django.urls import reverse

from evalsite.llm.connections import llm_endpoint_for
from evalsite.llm.models import LlmConnection
from evalsite.tenancy.models import AuditLog
from evalsite.tenancy.roles import Role
from tests.llm.admin_object_factories import make_connection
from tests.support.fake_llm import FakeLLMServer
from tests.tenancy.factories import user_with_role

pytestmark = pytest.mark.django_db

SECRET = "sk-admin-5a4b3c2d1e0f99887766"
HEADER_VALUE = "header-value-never-shown-4242"


def admin_url(name, *args):
    return reverse(f"admin:evalsite_llmconnection_{name}", args=args)


def form_data(project, **overrides):
    data = {
        "project": project.pk,
        "provider": "gateway",
        "adapter": "openai",
        "url": "http://gateway:4000/v1",
        "secret_key": SECRET,
        "extra_headers": json.dumps({"X-Team": HEADER_VALUE}),
        "models": "model-a\nmodel-b",
        "with_default_models": "",
        "config": "null",
    }
    return {**data, **overrides}


@pytest.fixture
def admin_client(client, project):
    client.force_login(user_with_role(project, Role.ADMIN))
    return client


def test_an_admin_adds_a_connection_and_the_key_is_never_rendered(admin_client, project):
    response = admin_client.post(admin_url("add"), form_data(project))
    assert response.status_code == 302, response.content.decode()[:3000]
    connection = LlmConnection.objects.get(project=project)
    assert (connection.base_url, connection.custom_models, connection.extra_header_keys) == (
        "http://gateway:4000/v1",
        ["model-a", "model-b"],
        ["X-Team"],
    )
    assert llm_endpoint_for(connection).api_key == SECRET
    for page in (
        admin_url("changelist"),
        admin_url("change", connection.pk),
        admin_url("history", connection.pk),
    ):
        content = admin_client.get(page).content.decode()
        assert SECRET not in content and HEADER_VALUE not in content, page
    change_page = admin_client.get(admin_url("change", connection.pk)).content.decode()
    assert connection.display_secret_key in change_page and "X-Team" in change_page
    log = AuditLog.objects.get(action="llm_connection.create")
    assert log.actor_user is not None and SECRET not in str(log.detail)


def test_a_form_with_errors_does_not_echo_the_key(admin_client, project):
    response = admin_client.post(admin_url("add"), form_data(project, url="not a url"))
    assert response.status_code == 200
    content = response.content.decode()
    assert "must start with http" in content
    assert SECRET not in content and HEADER_VALUE not in content
    assert not LlmConnection.objects.exists()


def test_editing_with_a_blank_key_and_headers_keeps_them(admin_client, project):
    connection = make_connection(project, secret_key=SECRET, extra_headers={"X-Team": HEADER_VALUE})
    data = form_data(project, secret_key="", extra_headers="", url="", models="m")
    data.pop("project")
    response = admin_client.post(admin_url("change", connection.pk), data)
    assert response.status_code == 302, response.content.decode()[:3000]
    endpoint = llm_endpoint_for(LlmConnection.objects.get(pk=connection.pk))
    assert (endpoint.api_key, dict(endpoint.extra_headers)) == (SECRET, {"X-Team": HEADER_VALUE})
    assert LlmConnection.objects.get(pk=connection.pk).custom_models == ["m"]

    data.update(secret_key="sk-replaced-000000000000", extra_headers="{}")
    admin_client.post(admin_url("change", connection.pk), data)
    endpoint = llm_endpoint_for(LlmConnection.objects.get(pk=connection.pk))
    assert (endpoint.api_key, dict(endpoint.extra_headers)) == ("sk-replaced-000000000000", {})


def test_changing_the_base_url_in_the_admin_needs_the_key_entered_again(admin_client, project):
    # Issue 9, item 8: else "Test connection" would send the stored key to the new URL.
    with FakeLLMServer() as attacker:
        connection = make_connection(project, secret_key=SECRET, base_url="http://gateway:4000/v1", custom_models=["m"])
        data = form_data(project, secret_key="", extra_headers="", url=attacker.base_url, models="m")
        data.pop("project")
        response = admin_client.post(admin_url("change", connection.pk), data)
        assert response.status_code == 200
        assert "Enter the secret key again" in response.content.decode()
        assert LlmConnection.objects.get(pk=connection.pk).base_url == "http://gateway:4000/v1"
        run_action(admin_client, [connection])
        assert attacker.chat_requests == []

        headers_only = form_data(project, secret_key="", extra_headers='{"X-Via": "me"}', url="http://gateway:4000/v1")
        headers_only.pop("project")
        response = admin_client.post(admin_url("change", connection.pk), headers_only)
        assert response.status_code == 200 and "Enter the secret key again" in response.content.decode()

        data.update(secret_key="sk-entered-again-0000000")
        assert admin_client.post(admin_url("change", connection.pk), data).status_code == 302
        run_action(admin_client, [connection])
    assert [request.headers["authorization"] for request in attacker.chat_requests] == [
        "Bearer sk-entered-again-0000000"
    ]


def test_the_secret_is_required_when_adding(admin_client, project):
    response = admin_client.post(admin_url("add"), form_data(project, secret_key=""))
    assert response.status_code == 200 and "secret key is required" in response.content.decode()


def test_a_duplicate_provider_is_a_form_error(admin_client, project):
    make_connection(project, provider="gateway")
    response = admin_client.post(admin_url("add"), form_data(project))
    assert response.status_code == 200 and "already has a connection named" in response.content.decode()
    assert LlmConnection.objects.count() == 1


def test_deleting_in_the_admin_is_audited(admin_client, project):
    connection = make_connection(project)
    assert admin_client.post(admin_url("delete", connection.pk), {"post": "yes"}).status_code == 302
    assert not LlmConnection.objects.exists()
    assert AuditLog.objects.filter(action="llm_connection.delete", actor_user__isnull=False).exists()


@pytest.mark.parametrize("role", [Role.VIEWER, Role.ANNOTATOR, Role.MEMBER], ids=lambda r: r.name)
def test_staff_below_admin_cannot_see_connection_settings(client, project, role):
    connection = make_connection(project)
    client.force_login(user_with_role(project, role))
    assert client.get(admin_url("changelist")).status_code == 403
    assert client.get(admin_url("change", connection.pk)).status_code in (302, 403)
    assert client.post(admin_url("add"), form_data(project, provider="new")).status_code == 403
    assert LlmConnection.objects.count() == 1


def run_action(client, connections, **extra):
    data = {"action": "test_connection", "_selected_action": [c.pk for c in connections], **extra}
    return client.post(admin_url("changelist"), data, follow=True)


def messages_of(response) -> list[tuple[str, str]]:
    return [(m.level_tag, m.message) for m in response.context["messages"]]


def test_test_connection_reports_success_with_the_first_custom_model(admin_client, project):
    with FakeLLMServer(api_key=SECRET) as llm:
        connection = make_connection(
            project, secret_key=SECRET, base_url=llm.base_url, custom_models=["first", "second"]
        )
        response = run_action(admin_client, [connection])
        assert [r.body["model"] for r in llm.chat_requests] == ["first"]
    [(level, message)] = messages_of(response)
    assert level == "success" and connection.provider in message and "first" in message
    assert SECRET not in response.content.decode()


def test_test_connection_reports_a_refused_key(admin_client, project):
    with FakeLLMServer(api_key="sk-the-right-one-000000") as llm:
        connection = make_connection(project, secret_key=SECRET, base_url=llm.base_url, custom_models=["m"])
        response = run_action(admin_client, [connection])
    [(level, message)] = messages_of(response)
    assert level == "error" and "401" in message
    assert SECRET not in response.content.decode()


def test_test_connection_reports_a_server_error_after_one_call(admin_client, project):
    with FakeLLMServer() as llm:
        llm.fail_next(3, status=500)
        connection = make_connection(project, base_url=llm.base_url, custom_models=["m"])
        response = run_action(admin_client, [connection])
        assert len(llm.chat_requests) == 1  # a check is one call, not a retried run
    [(level, message)] = messages_of(response)
    assert level == "error" and "500" in message


def test_test_connection_asks_for_a_model_when_there_are_no_custom_models(admin_client, project):
    with FakeLLMServer() as llm:
        connection = make_connection(project, base_url=llm.base_url)
        form = admin_client.post(
            admin_url("changelist"), {"action": "test_connection", "_selected_action": [connection.pk]}
        )
        assert form.status_code == 200 and 'name="model"' in form.content.decode()
        assert llm.chat_requests == []
        response = run_action(admin_client, [connection], model="chosen-model", apply="1")
        assert [r.body["model"] for r in llm.chat_requests] == ["chosen-model"]
    [(level, _message)] = messages_of(response)
    assert level == "success"
