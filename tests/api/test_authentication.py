import base64
from datetime import timedelta

import pytest
from django.utils import timezone

from evalsite.tenancy.actors import Actor
from evalsite.tenancy.models import ApiKey, AuditLog
from evalsite.tenancy.services import api_key_revoke
from tests.support.api import ApiClient, basic_auth
from tests.tenancy.factories import api_key_for

pytestmark = pytest.mark.django_db


def assert_unauthorized(response):
    assert response.status_code == 401, response.content
    body = response.json()
    assert body["error"] == "UnauthorizedError"
    assert body["message"]


def test_valid_key_reads_its_own_project(api, project):
    response = api.get("projects")
    assert response.status_code == 200
    assert response.json() == {
        "data": [
            {
                "id": project.id,
                "name": project.name,
                "organization": {"id": project.organization.id, "name": project.organization.name},
                "metadata": {},
                "retentionDays": None,
            }
        ]
    }


def test_missing_header_is_unauthorized(project):
    assert_unauthorized(ApiClient().get("projects"))


@pytest.mark.parametrize(
    "authorization",
    [
        "Bearer pk-lf-123",
        "Basic",
        "Basic !!!not-base64!!!",
        "Basic " + base64.b64encode(b"no-colon-here").decode(),
        "Basic " + base64.b64encode(b":only-secret").decode(),
        "Basic " + base64.b64encode(b"only-public:").decode(),
    ],
)
def test_malformed_header_is_unauthorized(project, authorization):
    assert_unauthorized(ApiClient(authorization=authorization).get("projects"))


def test_wrong_secret_is_unauthorized(project):
    created = api_key_for(project)
    assert_unauthorized(ApiClient(authorization=basic_auth(created.public_key, "sk-lf-wrong")).get("projects"))


def test_unknown_public_key_is_unauthorized(project):
    assert_unauthorized(ApiClient(authorization=basic_auth("pk-lf-unknown", "sk-lf-unknown")).get("projects"))


def test_secret_of_another_key_is_unauthorized(project, victim_project):
    mine, theirs = api_key_for(project), api_key_for(victim_project)
    assert_unauthorized(ApiClient(authorization=basic_auth(mine.public_key, theirs.secret_key)).get("projects"))


def test_revoked_key_is_unauthorized_and_the_revocation_is_audited(project):
    created = api_key_for(project)
    client = ApiClient(created)
    assert client.get("projects").status_code == 200
    api_key_revoke(api_key=created.api_key, actor=Actor())
    assert_unauthorized(client.get("projects"))
    assert AuditLog.objects.filter(action="api_key.revoke", object_id=str(created.api_key.pk)).exists()


def test_key_of_another_project_sees_only_its_own_project(api, victim_api, project, victim_project):
    assert [p["id"] for p in victim_api.get("projects").json()["data"]] == [victim_project.id]
    assert [p["id"] for p in api.get("projects").json()["data"]] == [project.id]


def test_only_a_hash_of_the_secret_is_stored(project):
    created = api_key_for(project)
    row = ApiKey.objects.filter(pk=created.api_key.pk).values().get()
    assert created.secret_key not in str(row)
    assert row["display_secret_key"].endswith(created.secret_key[-4:])


def test_last_used_at_is_written_at_most_once_per_interval(project, django_assert_num_queries):
    created = api_key_for(project)
    client = ApiClient(created)
    client.get("projects")
    first = ApiKey.objects.get(pk=created.api_key.pk).last_used_at
    assert first is not None
    # Within the interval: the key lookup and the project read, no UPDATE.
    with django_assert_num_queries(2):
        client.get("projects")
    assert ApiKey.objects.get(pk=created.api_key.pk).last_used_at == first
    ApiKey.objects.filter(pk=created.api_key.pk).update(last_used_at=timezone.now() - timedelta(hours=1))
    client.get("projects")
    assert ApiKey.objects.get(pk=created.api_key.pk).last_used_at > first
