"""Production settings and sign-in limits (issue 9, item 10): `check --deploy` is clean with DEBUG off
and the README's production variables, and failed sign-ins are limited per client."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.test import Client

from evalsite.tenancy.roles import Role
from tests.tenancy.factories import user_with_role

ROOT = Path(__file__).resolve().parent.parent.parent

# The production variables the README documents, as an operator behind a TLS-terminating proxy sets them.
PRODUCTION_ENV = {
    "DEBUG": "false",
    "EVALSITE_SECRET_KEY": "k9V2c1Qm-7rT0xZb4Hs8Lw3Ny6Pe5Ju2Ga1Df0Ck9Bi8Ah7Zq6Xo5Wn4Vm3Ul2Tk1S",
    "EVALSITE_ENCRYPTION_KEY": "dzD0r874UujXl91y3hMrB6hvNJn3Wa80_ozj6V-0UWc=",
    "ALLOWED_HOSTS": "evals.example.com",
    "EVALSITE_PROXY_SSL_HEADER": "X-Forwarded-Proto",
    "EVALSITE_TRUSTED_PROXIES": "1",
}


def manage(*args, **env):
    environment = {key: value for key, value in os.environ.items() if not key.startswith("EVALSITE_")}
    environment.update(env)
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=environment, capture_output=True, text=True, timeout=120
    )


SETTINGS = (
    "s.SECURE_PROXY_SSL_HEADER, s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE, s.SECURE_SSL_REDIRECT, "
    "s.SECURE_HSTS_SECONDS, s.X_FRAME_OPTIONS, s.SECURE_REFERRER_POLICY"
)


def test_check_deploy_reports_nothing_with_the_documented_production_variables():
    # One process: the deploy checks, then the settings they passed with.
    code = (
        "from django.core.management import call_command; from django.conf import settings as s; "
        f"call_command('check', deploy=True, fail_level='WARNING'); print({SETTINGS})"
    )
    result = manage("shell", "-v", "0", "-c", code, **PRODUCTION_ENV)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout
    assert result.stdout.strip().splitlines()[-1] == (
        "('HTTP_X_FORWARDED_PROTO', 'https') True True True 31536000 DENY same-origin"
    )


def test_plain_http_is_one_variable_away_for_a_private_network():
    code = f"from django.conf import settings as s; print({SETTINGS})"
    result = manage("shell", "-v", "0", "-c", code, **PRODUCTION_ENV, EVALSITE_HTTPS="false")
    assert result.stdout.strip() == "('HTTP_X_FORWARDED_PROTO', 'https') False False False 0 DENY same-origin", (
        result.stderr
    )


@pytest.mark.django_db
@pytest.mark.parametrize("url", ["/accounts/login/", "/admin/login/"])
def test_failed_sign_ins_are_limited_per_client(project, settings, url):
    settings.AXES_FAILURE_LIMIT = 3  # each attempt hashes a password: keep the test quick
    user = user_with_role(project, Role.VIEWER, staff=True)
    attacker, neighbour = Client(REMOTE_ADDR="10.0.0.1"), Client(REMOTE_ADDR="10.0.0.2")
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        assert attacker.post(url, {"username": user.username, "password": "wrong"}).status_code == 200
    locked = attacker.post(url, {"username": user.username, "password": "wrong"})
    assert locked.status_code == 429 and b"Too many failed sign-ins" in locked.content
    # Locked out means locked out: the right password does not get through either.
    assert attacker.post(url, {"username": user.username, "password": "pw-for-tests"}).status_code == 429
    assert neighbour.post(url, {"username": user.username, "password": "pw-for-tests"}).status_code == 302
