"""Failed API-key authentications are limited per client: 429 JSON with Retry-After (issue 9, item 10)."""

import pytest
from django.test import Client

from evalsite.tenancy.roles import Role
from tests.support.api import basic_auth
from tests.tenancy.factories import api_key_for

pytestmark = pytest.mark.django_db

LIMIT, WINDOW = 3, 120


@pytest.fixture(autouse=True)
def small_limits(settings):
    settings.API_AUTH_FAILURE_LIMIT = LIMIT
    settings.API_AUTH_FAILURE_WINDOW_SECONDS = WINDOW


def get(authorization=None, address="10.0.0.1", **headers):
    if authorization:
        headers["HTTP_AUTHORIZATION"] = authorization
    return Client(REMOTE_ADDR=address).get("/api/public/projects", **headers)


def test_after_the_limit_of_failures_a_client_gets_429_even_with_a_valid_key(project):
    created = api_key_for(project, Role.VIEWER)
    valid = basic_auth(created.public_key, created.secret_key)
    wrong = basic_auth(created.public_key, "sk-lf-guess")
    for _ in range(LIMIT):
        assert get(wrong).status_code == 401
    refused = get(valid)
    assert refused.status_code == 429
    assert set(refused.json()) == {"message", "error"} and refused.json()["error"] == "RateLimitError"
    assert 0 < int(refused["Retry-After"]) <= WINDOW
    assert get("Basic !!not-base64").status_code == 429
    # Another client is not affected, and requests without credentials were never counted.
    assert get(valid, address="10.0.0.2").status_code == 200


def test_requests_without_credentials_and_successes_do_not_count(project):
    created = api_key_for(project, Role.VIEWER)
    valid = basic_auth(created.public_key, created.secret_key)
    for _ in range(LIMIT * 2):
        assert get().status_code == 401
        assert get(valid).status_code == 200
    for _ in range(LIMIT - 1):
        get(basic_auth(created.public_key, "sk-lf-guess"))
    assert get(valid).status_code == 200


def test_behind_a_trusted_proxy_the_forwarded_address_is_the_client(project, settings):
    settings.EVALSITE_TRUSTED_PROXIES = 1
    created = api_key_for(project, Role.VIEWER)
    valid = basic_auth(created.public_key, created.secret_key)
    wrong = basic_auth(created.public_key, "sk-lf-guess")
    for _ in range(LIMIT):
        # The client's own claim (left) is ignored; the proxy's entry (right) names the client.
        get(wrong, address="10.9.9.9", HTTP_X_FORWARDED_FOR="1.1.1.1, 203.0.113.7")
    assert get(valid, address="10.9.9.9", HTTP_X_FORWARDED_FOR="203.0.113.7").status_code == 429
    assert get(valid, address="10.9.9.9", HTTP_X_FORWARDED_FOR="203.0.113.8").status_code == 200
