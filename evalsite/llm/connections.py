"""LLM connections: the OpenAI-compatible endpoints a project may call (writes and reads).

A connection is named by its ``provider`` (unique in the project). Its secret key and extra headers
are stored encrypted (``evalsite.llm.crypto``); only a masked ``display_secret_key`` and the header
names are kept in clear. Nothing here ever returns a secret except ``llm_endpoint_for``, which hands
the decrypted values to ``evalsite.llm.client`` for a call.

Every create, update and delete is written to the audit log with the acting user or key, and the
audit detail names what changed, never a secret value.

Validators raise ``django.core.exceptions.ValidationError`` with a plain message, so the API's
serializer and the admin's form can attach it to their own field names; the services run them again
and key the errors by the service's argument names.
"""

import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import QuerySet

from evalsite.llm import crypto
from evalsite.llm.client import Endpoint
from evalsite.llm.models import LlmConnection
from evalsite.tenancy.actors import SYSTEM, Actor
from evalsite.tenancy.models import Project
from evalsite.tenancy.services import audit_log_record

ADAPTERS = ("openai",)
# What an "openai" connection without a base URL talks to, as upstream Langfuse does.
DEFAULT_BASE_URL = "https://api.openai.com/v1"
PROVIDER_MAX_LENGTH = LlmConnection._meta.get_field("provider").max_length
BASE_URL_MAX_LENGTH = LlmConnection._meta.get_field("base_url").max_length
MODEL_NAME_MAX_LENGTH = 200
MAX_CUSTOM_MODELS = 500
SECRET_MAX_LENGTH = 4096
# RFC 9110 token characters: anything else in a header name makes the HTTP client refuse the call.
HEADER_NAME = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")


# -- validators ----------------------------------------------------------------------------------


def validate_provider(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValidationError("A provider name is required.")
    value = value.strip()
    if len(value) > PROVIDER_MAX_LENGTH:
        raise ValidationError(f"A provider name has at most {PROVIDER_MAX_LENGTH} characters.")
    return value


def validate_adapter(value: Any) -> str:
    if value not in ADAPTERS:
        raise ValidationError(
            f"Only the 'openai' adapter (any OpenAI-compatible endpoint) is supported, got {value!r}."
        )
    return value


def validate_base_url(value: Any) -> str:
    """An empty value means the adapter's default; otherwise an http(s) URL with a host (service
    names such as ``http://vllm:8000/v1`` included, which Django's URLValidator would refuse)."""
    if value is None:
        return ""
    if not isinstance(value, str):
        raise ValidationError("The base URL must be a string.")
    value = value.strip()
    if not value:
        return ""
    if len(value) > BASE_URL_MAX_LENGTH:
        raise ValidationError(f"The base URL has at most {BASE_URL_MAX_LENGTH} characters.")
    if not re.match(r"^https?://[^/\s?#]+(/[^\s]*)?$", value):
        raise ValidationError("The base URL must start with http:// or https:// and name a host.")
    return value.rstrip("/")


def validate_secret_key(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValidationError("A secret key is required (keyless servers accept any placeholder).")
    value = value.strip()
    if len(value) > SECRET_MAX_LENGTH:
        raise ValidationError(f"The secret key has at most {SECRET_MAX_LENGTH} characters.")
    if any(ch in value for ch in "\r\n\0"):
        raise ValidationError("The secret key may not contain line breaks.")
    return value


def validate_extra_headers(value: Any) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ValidationError(
            'Extra headers must be an object of header names to values, e.g. {"X-Team": "a"}.'
        )
    headers = {}
    for name, header_value in value.items():
        if not isinstance(name, str) or not HEADER_NAME.match(name):
            raise ValidationError(f"{name!r} is not a valid HTTP header name.")
        if not isinstance(header_value, str):
            raise ValidationError(f"The value of header {name!r} must be a string.")
        if any(ch in header_value for ch in "\r\n\0"):
            raise ValidationError(f"The value of header {name!r} may not contain line breaks.")
        headers[name] = header_value
    return headers


def validate_custom_models(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str) or not isinstance(value, Sequence):
        raise ValidationError("Custom models must be a list of model names.")
    models: list[str] = []
    for model in value:
        if not isinstance(model, str) or not model.strip():
            raise ValidationError("Each custom model must be a non-empty string.")
        model = model.strip()
        if len(model) > MODEL_NAME_MAX_LENGTH:
            raise ValidationError(f"A model name has at most {MODEL_NAME_MAX_LENGTH} characters.")
        if model not in models:
            models.append(model)
    if len(models) > MAX_CUSTOM_MODELS:
        raise ValidationError(f"At most {MAX_CUSTOM_MODELS} custom models.")
    return models


def validate_config(value: Any) -> dict | None:
    if value is not None and not isinstance(value, Mapping):
        raise ValidationError("The config must be a JSON object.")
    return dict(value) if value is not None else None


def display_secret_key(secret: str) -> str:
    """A hint that tells keys apart without revealing them: "sk-...abcd". Short keys show less, so
    the hint never gives away a meaningful part of the key."""
    if len(secret) >= 16:
        return f"{secret[:3]}...{secret[-4:]}"
    if len(secret) >= 8:
        return f"...{secret[-2:]}"
    return "..."


# -- services ------------------------------------------------------------------------------------

FIELD_VALIDATORS = {
    "provider": validate_provider,
    "adapter": validate_adapter,
    "base_url": validate_base_url,
    "secret_key": validate_secret_key,
    "extra_headers": validate_extra_headers,
    "custom_models": validate_custom_models,
    "config": validate_config,
}


def _cleaned(changes: dict[str, Any]) -> dict[str, Any]:
    """Validate each given field; errors are collected and keyed by field name."""
    cleaned, errors = {}, {}
    for name, value in changes.items():
        if name == "with_default_models":
            if not isinstance(value, bool):
                errors[name] = ["Must be true or false."]
            cleaned[name] = value
            continue
        try:
            cleaned[name] = FIELD_VALIDATORS[name](value)
        except ValidationError as error:
            errors[name] = error.messages
    if errors:
        raise ValidationError(errors)
    return cleaned


def _apply(connection: LlmConnection, cleaned: dict[str, Any]) -> list[str]:
    """Write cleaned values onto the row (not saved); returns the names of the fields that changed."""
    changed = []
    for name in ("provider", "adapter", "base_url", "custom_models", "with_default_models", "config"):
        if name in cleaned and getattr(connection, name) != cleaned[name]:
            setattr(connection, name, cleaned[name])
            changed.append(name)
    if "secret_key" in cleaned:
        if _stored_differs(connection.secret_key_encrypted, cleaned["secret_key"]):
            changed.append("secret_key")
        connection.secret_key_encrypted = crypto.encrypt(cleaned["secret_key"])
        connection.display_secret_key = display_secret_key(cleaned["secret_key"])
    if "extra_headers" in cleaned:
        headers = cleaned["extra_headers"]
        if _stored_differs(connection.extra_headers_encrypted, _dump(headers)):
            changed.append("extra_headers")
        connection.extra_headers_encrypted = crypto.encrypt(_dump(headers)) if headers else ""
        connection.extra_header_keys = sorted(headers)
    return changed


def _dump(headers: dict[str, str]) -> str:
    return json.dumps(headers, sort_keys=True) if headers else ""


def _stored_differs(token: str, value: str) -> bool:
    """Whether the encrypted ``token`` ("" when nothing is stored) holds something else than ``value``."""
    if not token:
        return value != ""
    try:
        return crypto.decrypt(token) != value
    except crypto.DecryptionError:
        return True


def _audit(*, actor: Actor, action: str, connection: LlmConnection, changed: list[str] | None = None) -> None:
    detail = {
        "provider": connection.provider,
        "adapter": connection.adapter,
        "base_url": connection.base_url,
        "custom_models": connection.custom_models,
        "extra_header_keys": connection.extra_header_keys,
    }
    if changed is not None:
        detail["changed"] = changed
    audit_log_record(
        actor=actor,
        action=action,
        obj=connection,
        organization=connection.project.organization,
        project=connection.project,
        **detail,
    )


def validate_destination_change(
    connection: LlmConnection,
    *,
    base_url: str | None = None,
    secret_key: str | None = None,
    extra_headers: Mapping[str, str] | None = None,
) -> None:
    """The stored secrets only ever go where they were entered for.

    Whoever changes where a connection's calls go (the base URL) or what they carry (the extra
    headers) must enter the secret key again, and, for a new base URL, the stored header values too
    (``{}`` removes them): otherwise an ADMIN could point a connection at their own server, press
    "Test connection", and read a key they were never shown. Arguments are cleaned values, None
    meaning "keep the stored one"; errors are keyed by those argument names.
    """
    moves = base_url is not None and (base_url or DEFAULT_BASE_URL) != (connection.base_url or DEFAULT_BASE_URL)
    new_headers = extra_headers is not None and _stored_differs(
        connection.extra_headers_encrypted, _dump(dict(extra_headers))
    )
    errors = {}
    if (moves or new_headers) and secret_key is None:
        errors["secret_key"] = ["Enter the secret key again to change the base URL or the extra headers."]
    if moves and extra_headers is None and connection.extra_headers_encrypted:
        errors["extra_headers"] = [
            "Enter the extra headers again (or {} to remove them) to change the base URL."
        ]
    if errors:
        raise ValidationError(errors)


def _provider_taken(provider: str) -> ValidationError:
    return ValidationError({"provider": [f"This project already has a connection named {provider!r}."]})


@transaction.atomic
def llm_connection_create(
    *,
    project: Project,
    provider: str,
    secret_key: str,
    adapter: str = "openai",
    base_url: str | None = "",
    custom_models: Sequence[str] | None = None,
    with_default_models: bool = True,
    extra_headers: Mapping[str, str] | None = None,
    config: Mapping[str, Any] | None = None,
    actor: Actor = SYSTEM,
) -> LlmConnection:
    cleaned = _cleaned(
        {
            "provider": provider,
            "adapter": adapter,
            "base_url": base_url,
            "secret_key": secret_key,
            "custom_models": custom_models,
            "with_default_models": with_default_models,
            "extra_headers": extra_headers,
            "config": config,
        }
    )
    connection = LlmConnection(project=project)
    _apply(connection, cleaned)
    try:
        with transaction.atomic():
            connection.save()
    except IntegrityError:
        raise _provider_taken(cleaned["provider"]) from None
    _audit(actor=actor, action="llm_connection.create", connection=connection)
    return connection


@transaction.atomic
def llm_connection_update(
    *, connection: LlmConnection, actor: Actor = SYSTEM, **changes: Any
) -> LlmConnection:
    """Change the given fields (provider, adapter, base_url, secret_key, custom_models,
    with_default_models, extra_headers, config); a field passed as None keeps its value.

    A new base URL or new extra headers need the secret key in the same call (see
    ``validate_destination_change``)."""
    unknown = set(changes) - set(FIELD_VALIDATORS) - {"with_default_models"}
    if unknown:
        raise TypeError(f"llm_connection_update() got unexpected fields: {', '.join(sorted(unknown))}")
    cleaned = _cleaned({name: value for name, value in changes.items() if value is not None})
    locked = (
        LlmConnection.objects.select_for_update()
        .select_related("project__organization")
        .get(pk=connection.pk)
    )
    validate_destination_change(
        locked,
        base_url=cleaned.get("base_url"),
        secret_key=cleaned.get("secret_key"),
        extra_headers=cleaned.get("extra_headers"),
    )
    changed = _apply(locked, cleaned)
    if changed:
        try:
            with transaction.atomic():
                locked.save()
        except IntegrityError:
            raise _provider_taken(cleaned["provider"]) from None
        _audit(actor=actor, action="llm_connection.update", connection=locked, changed=changed)
    return locked


@transaction.atomic
def llm_connection_upsert(
    *,
    project: Project,
    provider: str,
    adapter: str,
    secret_key: str,
    base_url: str | None = None,
    custom_models: Sequence[str] | None = None,
    with_default_models: bool | None = None,
    extra_headers: Mapping[str, str] | None = None,
    config: Mapping[str, Any] | None = None,
    actor: Actor = SYSTEM,
) -> tuple[LlmConnection, bool]:
    """Create the project's connection named ``provider``, or update it (the API's PUT).

    On update, optional fields passed as None keep their stored value. Returns (connection, created).
    """
    provider = _cleaned({"provider": provider})["provider"]
    fields = {
        "adapter": adapter,
        "secret_key": secret_key,
        "base_url": base_url,
        "custom_models": custom_models,
        "with_default_models": with_default_models,
        "extra_headers": extra_headers,
        "config": config,
    }
    for _attempt in range(2):
        existing = llm_connection_list(project=project).select_for_update().filter(provider=provider).first()
        if existing is not None:
            return llm_connection_update(connection=existing, actor=actor, **fields), False
        try:
            created = llm_connection_create(
                project=project,
                provider=provider,
                actor=actor,
                **{name: value for name, value in fields.items() if value is not None},
            )
            return created, True
        except ValidationError as error:
            # Another request created the same provider between our read and our insert: update it.
            if "provider" not in getattr(error, "error_dict", {}):
                raise
    raise ValidationError({"provider": [f"Could not save the connection {provider!r}; try again."]})


@transaction.atomic
def llm_connection_delete(*, connection: LlmConnection, actor: Actor = SYSTEM) -> None:
    _audit(actor=actor, action="llm_connection.delete", connection=connection)
    connection.delete()


# -- selectors -----------------------------------------------------------------------------------


def llm_connection_list(*, project: Project) -> QuerySet[LlmConnection]:
    return LlmConnection.objects.filter(project=project).order_by("provider")


def llm_connection_get(*, project: Project, provider: str) -> LlmConnection:
    """The project's connection named ``provider``; raises ``LlmConnection.DoesNotExist``."""
    connection = llm_connection_list(project=project).filter(provider=provider).first()
    if connection is None:
        raise LlmConnection.DoesNotExist(f"LLM connection not found: {provider}")
    return connection


def llm_connection_get_by_id(*, project: Project, connection_id: str) -> LlmConnection:
    connection = llm_connection_list(project=project).filter(pk=connection_id).first()
    if connection is None:
        raise LlmConnection.DoesNotExist(f"LLM connection not found: {connection_id}")
    return connection


def llm_connection_extra_headers(connection: LlmConnection) -> dict[str, str]:
    """The decrypted extra headers; raises ``crypto.DecryptionError`` when the key changed."""
    if not connection.extra_headers_encrypted:
        return {}
    return json.loads(crypto.decrypt(connection.extra_headers_encrypted))


def llm_endpoint_for(connection: LlmConnection, *, timeout: float = 60.0) -> Endpoint:
    """What ``evalsite.llm.client`` needs to call this connection, with its secrets decrypted.

    Raises ``crypto.DecryptionError`` (a message fit for a user, without secrets) when the stored
    values cannot be decrypted with the configured key.
    """
    return Endpoint(
        base_url=connection.base_url or DEFAULT_BASE_URL,
        api_key=crypto.decrypt(connection.secret_key_encrypted),
        extra_headers=llm_connection_extra_headers(connection),
        timeout=timeout,
    )
