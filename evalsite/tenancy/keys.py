"""API key material. Prefixes follow Langfuse's so users recognise them; nothing depends on them."""

import hashlib
import secrets


def new_key_pair() -> tuple[str, str]:
    return f"pk-lf-{secrets.token_hex(16)}", f"sk-lf-{secrets.token_hex(32)}"


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()
