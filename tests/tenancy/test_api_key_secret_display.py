"""A new API key's secret is shown once, on the page that answers "Save", and travels nowhere else:
not in the messages cookie, the session, a redirect or a log (issue 9, item 9)."""

import logging
import re

import pytest
from django.contrib.sessions.models import Session
from django.urls import reverse

from evalsite.tenancy.keys import hash_secret
from evalsite.tenancy.models import ApiKey
from evalsite.tenancy.roles import Role
from tests.tenancy.factories import user_with_role

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("button", ["_save", "_continue", "_addanother"])
def test_the_secret_is_on_the_response_page_and_nowhere_else(client, project, caplog, button):
    client.force_login(user_with_role(project, Role.ADMIN))
    caplog.set_level(logging.DEBUG)
    response = client.post(
        reverse("admin:evalsite_apikey_add"), {"project": project.pk, "note": "ci", "role": Role.MEMBER, button: "1"}
    )
    assert response.status_code == 200  # the page itself, not a redirect to a page that reads a cookie
    page = response.content.decode()
    secret = re.search(r'id="secret-key">(sk-lf-[0-9a-f]+)<', page).group(1)
    key = ApiKey.objects.get(project=project)
    assert key.secret_hash == hash_secret(secret) and key.public_key in page
    assert "no-store" in response["Cache-Control"]

    assert all(secret not in morsel.value for morsel in response.cookies.values())
    assert all(secret not in morsel.value for morsel in client.cookies.values())
    assert all(secret not in str(session.get_decoded()) for session in Session.objects.all())
    assert secret not in caplog.text
    for url in (reverse("admin:evalsite_apikey_changelist"), reverse("admin:evalsite_apikey_change", args=[key.pk])):
        assert secret not in client.get(url).content.decode()
