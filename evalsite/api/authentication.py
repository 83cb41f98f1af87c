"""HTTP Basic auth with a project API key: public key as the user name, secret key as the password."""

import base64
import binascii
from dataclasses import dataclass

from django.conf import settings
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.exceptions import AuthenticationFailed, Throttled

from evalsite.ratelimit import api_key_failures, client_ip
from evalsite.tenancy.models import ApiKey
from evalsite.tenancy.selectors import api_key_get_by_credentials
from evalsite.tenancy.services import api_key_touch


@dataclass(frozen=True)
class ApiKeyUser:
    """What `request.user` is for a key: authenticated, acting for exactly one project."""

    api_key: ApiKey
    is_authenticated = True
    is_active = True
    is_superuser = False
    is_staff = False

    def __str__(self) -> str:
        return self.api_key.public_key


class ApiKeyAuthentication(BaseAuthentication):
    def authenticate(self, request):
        header = get_authorization_header(request)
        if not header:
            return None  # the permission check answers 401 "not authenticated"
        # Failed authentications are limited per client (evalsite/ratelimit.py): 429 with Retry-After.
        client, failures = client_ip(request), api_key_failures()
        wait = failures.retry_after(client)
        if wait is not None:
            raise Throttled(wait=wait, detail="Too many failed authentications from this client.")
        try:
            api_key = self.api_key_from(header)
        except AuthenticationFailed:
            failures.record_failure(client)
            raise
        api_key_touch(api_key=api_key, resolution_seconds=settings.API_KEY_LAST_USED_RESOLUTION_SECONDS)
        return ApiKeyUser(api_key), api_key

    def api_key_from(self, header: bytes) -> ApiKey:
        scheme, _, encoded = header.partition(b" ")
        if scheme.lower() != b"basic" or not encoded.strip():
            raise AuthenticationFailed("Invalid authorization header: expected HTTP Basic auth with an API key pair")
        try:
            decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            raise AuthenticationFailed("Invalid authorization header: credentials are not valid base64") from None
        public_key, sep, secret_key = decoded.partition(":")
        if not sep or not public_key or not secret_key:
            raise AuthenticationFailed("Invalid authorization header: expected '<public key>:<secret key>'")
        if "\x00" in decoded:
            # No key holds one, and PostgreSQL refuses NUL in a query parameter.
            raise AuthenticationFailed("Invalid credentials: unknown, revoked or mismatched API key")
        api_key = api_key_get_by_credentials(public_key=public_key, secret_key=secret_key)
        if api_key is None:
            raise AuthenticationFailed("Invalid credentials: unknown, revoked or mismatched API key")
        return api_key

    def authenticate_header(self, request) -> str:
        # Any value makes DRF answer 401 (not 403) to a missing or bad key.
        return 'Basic realm="api"'
