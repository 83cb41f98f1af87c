import pytest

from tests.support.live import langfuse_client
from tests.tenancy.factories import api_key_for

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.live]


def test_langfuse_sdk_auth_check_succeeds_against_the_server(live_server, project):
    with langfuse_client(live_server, api_key_for(project)) as langfuse:
        assert langfuse.auth_check() is True
        assert langfuse.api.health.health().status == "OK"


def test_langfuse_sdk_auth_check_fails_with_a_wrong_secret(live_server, project):
    created = api_key_for(project)
    bad = type(created)(api_key=created.api_key, secret_key="sk-lf-not-the-secret")
    with langfuse_client(live_server, bad) as langfuse:
        with pytest.raises(Exception) as raised:
            langfuse.auth_check()
        assert "401" in str(raised.value) or "Unauthorized" in type(raised.value).__name__
