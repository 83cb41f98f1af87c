"""The per-process API key cache: it saves the lookup, and never lets a key do more than before."""

import pytest

from evalsite.tenancy import key_cache
from evalsite.tenancy.actors import Actor
from evalsite.tenancy.models import ApiKey
from evalsite.tenancy.roles import Role
from evalsite.tenancy.selectors import api_key_get_by_credentials
from evalsite.tenancy.services import api_key_revoke
from tests.support.api import ApiClient, basic_auth
from tests.tenancy.factories import api_key_for

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def empty_cache(settings):
    settings.API_KEY_CACHE_SECONDS = 5  # off by default under pytest
    key_cache.forget_all_api_keys()
    yield
    key_cache.forget_all_api_keys()


def test_a_key_seen_a_moment_ago_is_not_looked_up_again(project, django_assert_num_queries):
    created = api_key_for(project)
    with django_assert_num_queries(1):
        assert api_key_get_by_credentials(public_key=created.public_key, secret_key=created.secret_key)
    with django_assert_num_queries(0):
        assert api_key_get_by_credentials(public_key=created.public_key, secret_key=created.secret_key)


def test_a_wrong_secret_for_a_cached_key_is_refused(project, victim_project):
    mine, theirs = api_key_for(project), api_key_for(victim_project)
    client = ApiClient(mine)
    assert client.get("projects").status_code == 200
    forged = ApiClient(authorization=basic_auth(mine.public_key, theirs.secret_key))
    assert forged.get("projects").status_code == 401


def test_unknown_keys_are_not_cached(project):
    assert api_key_get_by_credentials(public_key="pk-lf-nobody", secret_key="sk-lf-x") is None
    assert key_cache.cached_api_key("pk-lf-nobody") is None


def test_revoking_a_cached_key_takes_effect_at_once_in_this_process(project):
    created = api_key_for(project)
    client = ApiClient(created)
    assert client.get("projects").status_code == 200
    api_key_revoke(api_key=ApiKey.objects.get(pk=created.api_key.pk), actor=Actor())
    assert client.get("projects").status_code == 401


def test_deleting_the_project_forgets_its_keys(project):
    created = api_key_for(project)
    assert ApiClient(created).get("projects").status_code == 200
    project.delete()
    assert key_cache.cached_api_key(created.public_key) is None
    assert ApiClient(created).get("projects").status_code == 401


def test_a_revocation_made_by_another_process_holds_once_the_entry_expires(project, settings, monkeypatch):
    settings.API_KEY_CACHE_SECONDS = 5
    clock = [1000.0]
    monkeypatch.setattr(key_cache.time, "monotonic", lambda: clock[0])
    created = api_key_for(project)
    assert api_key_get_by_credentials(public_key=created.public_key, secret_key=created.secret_key)
    # Another process revokes: a bulk UPDATE here sends no signal, as nothing reaches this process.
    ApiKey.objects.filter(pk=created.api_key.pk).update(revoked_at="2026-01-01T00:00:00Z")
    clock[0] += 4.9
    assert api_key_get_by_credentials(public_key=created.public_key, secret_key=created.secret_key)
    clock[0] += 0.2
    assert api_key_get_by_credentials(public_key=created.public_key, secret_key=created.secret_key) is None


def test_hits_do_not_extend_an_entry(project, settings, monkeypatch, django_assert_num_queries):
    settings.API_KEY_CACHE_SECONDS = 5
    clock = [1000.0]
    monkeypatch.setattr(key_cache.time, "monotonic", lambda: clock[0])
    created = api_key_for(project)
    # Ten seconds of use once a second: read afresh at 0 s and at 5 s, however often it was used.
    with django_assert_num_queries(2):
        for _ in range(10):
            assert api_key_get_by_credentials(public_key=created.public_key, secret_key=created.secret_key)
            clock[0] += 1


def test_zero_seconds_turns_the_cache_off(project, settings):
    settings.API_KEY_CACHE_SECONDS = 0
    created = api_key_for(project)
    assert api_key_get_by_credentials(public_key=created.public_key, secret_key=created.secret_key)
    assert key_cache.cached_api_key(created.public_key) is None


def test_the_cache_holds_at_most_its_bound(project, monkeypatch):
    monkeypatch.setattr(key_cache, "MAX_ENTRIES", 3)
    keys = [api_key_for(project, Role.MEMBER) for _ in range(5)]
    for created in keys:
        assert api_key_get_by_credentials(public_key=created.public_key, secret_key=created.secret_key)
    assert list(key_cache._entries) == [k.public_key for k in keys[2:]]
