"""Encryption of secrets kept in the database (LLM provider keys and extra headers).

Fernet (AES-128-CBC with an HMAC-SHA256 tag) keyed by ``settings.ENCRYPTION_KEY``, which comes from
``EVALSITE_ENCRYPTION_KEY``. The setting may list several keys separated by commas to rotate them:
the first one encrypts, every one of them can decrypt, so old rows stay readable until re-saved.

Messages raised here never contain a secret or a key.
"""

from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

GENERATE_HINT = "generate one with: python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())'"


class DecryptionError(Exception):
    """A stored secret cannot be decrypted with the configured key(s)."""


@lru_cache(maxsize=4)
def _fernet_for(key_setting: str) -> MultiFernet:
    keys = [key.strip() for key in key_setting.split(",") if key.strip()]
    if not keys:
        raise ImproperlyConfigured(f"EVALSITE_ENCRYPTION_KEY is empty; {GENERATE_HINT}")
    try:
        return MultiFernet([Fernet(key) for key in keys])
    except (ValueError, TypeError):
        raise ImproperlyConfigured(
            f"EVALSITE_ENCRYPTION_KEY must be one or more comma-separated Fernet keys (32 url-safe "
            f"base64-encoded bytes each); {GENERATE_HINT}"
        ) from None


def _fernet() -> MultiFernet:
    # Cached per setting value, so a changed setting (tests, key rotation) takes effect at once.
    return _fernet_for(settings.ENCRYPTION_KEY)


def encrypt(plaintext: str) -> str:
    return _fernet().encrypt(plaintext.encode()).decode()


def decrypt(token: str) -> str:
    try:
        return _fernet().decrypt(token.encode()).decode()
    except InvalidToken:
        raise DecryptionError(
            "A stored secret could not be decrypted: EVALSITE_ENCRYPTION_KEY is not the key it was "
            "encrypted with, or the stored value is damaged. Restore the previous key (it can be listed "
            "after the new one, separated by a comma) or enter the secret again."
        ) from None
