import io

import pytest
from django.core.management import CommandError, call_command

from evalsite.tenancy.models import ApiKey, Organization, Project
from evalsite.tenancy.roles import Role
from evalsite.tenancy.selectors import role_in_project
from tests.support.api import ApiClient, basic_auth

pytestmark = pytest.mark.django_db


def run(*args) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def parse_env(output: str) -> dict:
    return dict(line.split("=", 1) for line in output.strip().splitlines())


def test_demo_prints_three_eval_lines_whose_key_works():
    env = parse_env(run("demo", "--base-url", "http://127.0.0.1:9999"))
    assert set(env) == {"LANGFUSE_BASE_URL", "LANGFUSE_PUBLIC_KEY", "LANGFUSE_SECRET_KEY"}
    assert env["LANGFUSE_BASE_URL"] == "http://127.0.0.1:9999"
    client = ApiClient(authorization=basic_auth(env["LANGFUSE_PUBLIC_KEY"], env["LANGFUSE_SECRET_KEY"]))
    response = client.get("projects")
    assert response.status_code == 200
    assert response.json()["data"][0]["name"] == "Demo project"


def test_demo_is_idempotent_and_prints_a_fresh_key_each_time():
    first = parse_env(run("demo"))
    second = parse_env(run("demo"))
    assert Organization.objects.count() == 1 and Project.objects.count() == 1
    assert first["LANGFUSE_PUBLIC_KEY"] != second["LANGFUSE_PUBLIC_KEY"]
    assert ApiKey.objects.count() == 2
    for env in (first, second):
        assert ApiClient(authorization=basic_auth(env["LANGFUSE_PUBLIC_KEY"], env["LANGFUSE_SECRET_KEY"])).get(
            "projects"
        ).status_code == 200


def test_create_commands_build_an_organization_project_user_and_key():
    org_id = run("create_organization", "Acme").strip()
    project_id = run("create_project", "Chatbot", "--organization", "Acme").strip()
    assert Project.objects.get(pk=project_id).organization_id == org_id
    run("create_user", "ann", "--password", "pw-123456", "--organization", org_id, "--role", "annotator",
        "--project", project_id, "--project-role", "member")
    from django.contrib.auth import get_user_model

    user = get_user_model().objects.get(username="ann")
    assert role_in_project(user=user, project=Project.objects.get(pk=project_id)) == Role.MEMBER
    env = parse_env(run("create_api_key", "--project", project_id, "--role", "viewer"))
    assert ApiKey.objects.get(public_key=env["LANGFUSE_PUBLIC_KEY"]).role == Role.VIEWER


def test_commands_refuse_unknown_names_and_roles():
    with pytest.raises(CommandError, match="no organization"):
        run("create_project", "X", "--organization", "missing")
    run("create_organization", "Acme")
    with pytest.raises(CommandError, match="unknown role"):
        run("create_user", "bob", "--organization", "Acme", "--role", "emperor")
