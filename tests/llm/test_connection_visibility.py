"""Who sees LLM connections, in the admin and in the API alike (issue 9, item 11).

One rule: a MEMBER may start experiment runs, so it may see connection names and their models (never
a secret), in the admin's "start a run" form and through GET /llm-connections; VIEWER and ANNOTATOR
see neither; only ADMIN opens the connection admin or writes through the API.
"""

import re

import pytest
from django.urls import reverse

from evalsite.tenancy.roles import Role
from tests.experiments.runner_setup import MODEL, runner_setup
from tests.support.fake_llm import FakeLLMServer
from tests.tenancy.factories import user_with_role

pytestmark = pytest.mark.django_db


@pytest.fixture
def setup(project):
    with FakeLLMServer() as llm:
        yield runner_setup(project, llm, items=1)


def start_run_form(client, dataset) -> str:
    data = {"action": "start_experiment_run", "_selected_action": [dataset.pk]}
    return client.post(reverse("admin:datasets_dataset_changelist"), data).content.decode()


@pytest.mark.parametrize("role", [Role.VIEWER, Role.ANNOTATOR, Role.MEMBER, Role.ADMIN], ids=lambda r: r.name)
def test_admin_and_api_agree_on_who_sees_connection_names_and_models(client, project, setup, api_by_role, role):
    client.force_login(user_with_role(project, role))
    form = start_run_form(client, setup.dataset)
    in_admin = re.findall(r'<select name="connection"[^>]*>.*?<option value="([^"]+)"', form, re.S)
    response = api_by_role[role].get("llm-connections")
    in_api = [c["provider"] for c in response.json().get("data", [])] if response.status_code == 200 else []

    sees = role >= Role.MEMBER
    assert in_admin == in_api == (["fake"] if sees else [])
    assert (f'<option value="{MODEL}">' in form) == sees
    if sees:
        assert response.json()["data"][0]["customModels"] == [MODEL]
        assert "sk-fake" not in form and "sk-fake" not in response.content.decode()
    else:
        assert response.status_code == 403
    connection_admin = client.get(reverse("admin:evalsite_llmconnection_changelist"))
    assert connection_admin.status_code == (200 if role >= Role.ADMIN else 403)
