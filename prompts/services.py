"""Writes to prompt versions and their labels.

Invariants kept here (and nowhere else):
* versions of a name count up from 1 (a new version is the highest + 1) and all share one type;
* a label points at one version of a name (the unique constraint on PromptLabel backs this up),
  so assigning it to a version takes it away from the version that had it;
* ``latest`` is always on the highest version: it moves on create and delete, and cannot be
  assigned by hand to another version or removed from the highest one;
* tags belong to the name: setting them on one version sets them on all.

Every write to a name first locks that name's version rows (``SELECT … FOR UPDATE`` on PostgreSQL;
SQLite takes its write lock up front), so concurrent creates and label moves on one name queue up.
The very first version has no row to lock: a concurrent duplicate then fails on the unique
constraint and is retried with the next number.

Refusals are Django ``ValidationError``s keyed by the argument they refuse (``name``,
``prompt_type``, ``content``, ``labels``, ``tags``, ``commit_message``); a version that does not
exist is the core's ``NotFound``.
"""

import re
from collections.abc import Iterable
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from evalsite.errors import NotFound
from evalsite.tenancy.actors import SYSTEM, Actor
from evalsite.tenancy.models import Project
from evalsite.tenancy.services import audit_log_record
from prompts.models import Prompt, PromptLabel, PromptType
from prompts.selectors import LATEST_LABEL, prompt_get

NAME_MAX_LENGTH = Prompt._meta.get_field("name").max_length
LABEL_PATTERN = re.compile(r"^[a-z0-9_.\-]{1,36}$")
TAG_MAX_LENGTH = 100
COMMIT_MESSAGE_MAX_LENGTH = 2000
CREATE_ATTEMPTS = 3
LOCK_ATTEMPTS = 20


# -- validation ----------------------------------------------------------------------------------


def validate_prompt_name(name: Any) -> str:
    if not isinstance(name, str) or not name.strip():
        raise ValidationError("A prompt name is required.")
    if len(name) > NAME_MAX_LENGTH:
        raise ValidationError(f"A prompt name has at most {NAME_MAX_LENGTH} characters.")
    if name != name.strip():
        raise ValidationError("A prompt name may not start or end with spaces.")
    # '/' separates folders, so an empty folder name ("a//b", "/a", "a/") would be ambiguous.
    if any(not part for part in name.split("/")):
        raise ValidationError("A prompt name may not start or end with '/' or contain '//'.")
    if any(ord(ch) < 32 for ch in name):
        raise ValidationError("A prompt name may not contain control characters.")
    return name


def validate_prompt_type(prompt_type: Any) -> str:
    if prompt_type not in PromptType.values:
        raise ValidationError(f"The type must be 'text' or 'chat', got {prompt_type!r}.")
    return prompt_type


def validate_prompt_content(prompt_type: str, content: Any) -> str | list[dict]:
    """A text prompt is a string; a chat prompt a list of ``{role, content}`` messages and
    ``{type: "placeholder", name}`` placeholders, stored in exactly that shape."""
    if prompt_type == PromptType.TEXT:
        if not isinstance(content, str):
            raise ValidationError("A text prompt must be a string.")
        return content
    if not isinstance(content, list):
        raise ValidationError("A chat prompt must be a list of messages ({role, content}) and placeholders.")
    messages = []
    for index, message in enumerate(content):
        if not isinstance(message, dict):
            raise ValidationError(f"Message {index} must be an object.")
        if message.get("type") == "placeholder":
            name = message.get("name")
            if not isinstance(name, str) or not name.strip():
                raise ValidationError(f"Placeholder {index} needs a non-empty 'name'.")
            messages.append({"type": "placeholder", "name": name})
            continue
        role, text = message.get("role"), message.get("content")
        if not isinstance(role, str) or not role.strip():
            raise ValidationError(f"Message {index} needs a non-empty 'role'.")
        if not isinstance(text, str):
            raise ValidationError(f"Message {index} needs a 'content' string.")
        messages.append({"role": role, "content": text})
    return messages


def validate_labels(labels: Any) -> list[str]:
    if labels is None:
        return []
    if isinstance(labels, str) or not isinstance(labels, Iterable):
        raise ValidationError("Labels must be a list of strings.")
    cleaned: list[str] = []
    for label in labels:
        if not isinstance(label, str) or not LABEL_PATTERN.match(label):
            raise ValidationError(
                f"Invalid label {label!r}: use 1 to 36 lowercase letters, digits, '_', '-' or '.'."
            )
        if label not in cleaned:
            cleaned.append(label)
    return cleaned


def validate_tags(tags: Any) -> list[str]:
    if isinstance(tags, str) or not isinstance(tags, Iterable):
        raise ValidationError("Tags must be a list of strings.")
    cleaned: list[str] = []
    for tag in tags:
        if not isinstance(tag, str) or not tag.strip():
            raise ValidationError("Each tag must be a non-empty string.")
        if len(tag) > TAG_MAX_LENGTH:
            raise ValidationError(f"A tag has at most {TAG_MAX_LENGTH} characters.")
        if tag not in cleaned:
            cleaned.append(tag)
    return cleaned


def validate_commit_message(message: Any) -> str | None:
    if message is not None and (not isinstance(message, str) or len(message) > COMMIT_MESSAGE_MAX_LENGTH):
        raise ValidationError(
            f"A commit message is a string of at most {COMMIT_MESSAGE_MAX_LENGTH} characters."
        )
    return message


def _checked(**checks) -> list:
    """Run ``field=(validator, *args)`` checks, raising one ValidationError keyed by field."""
    values, errors = [], {}
    for field, (validator, *args) in checks.items():
        try:
            values.append(validator(*args))
        except ValidationError as error:
            errors[field] = error.messages
            values.append(None)
    if errors:
        raise ValidationError(errors)
    return values


def _created_by(actor: Actor) -> str | None:
    if actor.api_key is not None:
        return "API"
    if actor.user is not None:
        return actor.user.get_username()
    return None


# -- label bookkeeping ---------------------------------------------------------------------------


def _lock_versions(project: Project, name: str) -> list[Prompt]:
    """The name's versions, highest first, every one of them locked until the transaction ends.

    Rows are locked in version order, so writers queue on the lowest version instead of holding
    each other's rows (an update moves a row physically, and an unordered scan would lock in a
    different order in each snapshot). Under READ COMMITTED a ``SELECT … FOR UPDATE`` that had to
    wait returns the rows of the snapshot it started with, so a version committed meanwhile by the
    writer it waited for is missing: the rows are read again, and locked again until none is
    missing. A writer that locked nothing because the name had no version yet is caught by the
    unique constraint in ``prompt_create``.
    """
    versions = Prompt.objects.filter(project=project, name=name)
    for _attempt in range(LOCK_ATTEMPTS):
        locked = set(versions.select_for_update().order_by("version").values_list("pk", flat=True))
        current = list(versions.order_by("-version").only("id", "project", "name", "version", "type", "tags"))
        if all(version.pk in locked for version in current):
            return current
    raise ValidationError({"name": [f"{name!r} is being changed by many requests at once; try again."]})


def _move_labels(*, project: Project, name: str, labels: Iterable[str], target: Prompt) -> None:
    """Put ``labels`` on ``target``, taking them from whichever version of ``name`` had them."""
    labels = list(labels)
    if not labels:
        return
    elsewhere = PromptLabel.objects.filter(project=project, name=name, label__in=labels).exclude(
        prompt=target
    )
    losing = set(elsewhere.values_list("prompt_id", flat=True))
    elsewhere.delete()
    present = set(PromptLabel.objects.filter(prompt=target, label__in=labels).values_list("label", flat=True))
    PromptLabel.objects.bulk_create(
        [
            PromptLabel(project=project, prompt=target, name=name, label=label)
            for label in labels
            if label not in present
        ]
    )
    if losing:
        # A version's labels are part of what it looks like: its update time moves with them.
        Prompt.objects.filter(pk__in=losing).update(updated_at=timezone.now())


def _touch(prompt: Prompt) -> None:
    prompt.updated_at = timezone.now()
    Prompt.objects.filter(pk=prompt.pk).update(updated_at=prompt.updated_at)


# -- services ------------------------------------------------------------------------------------


@transaction.atomic
def prompt_create(
    *,
    project: Project,
    name: str,
    content: str | list[dict],
    prompt_type: str = PromptType.TEXT,
    config: Any = None,
    labels: Iterable[str] | None = None,
    tags: Iterable[str] | None = None,
    commit_message: str | None = None,
    actor: Actor = SYSTEM,
) -> Prompt:
    """Add the next version of ``name``. ``labels`` move to it (``latest`` always does); ``tags``
    replace the tags of every version of the name, and None keeps the current ones."""
    name, prompt_type, commit_message = _checked(
        name=(validate_prompt_name, name),
        prompt_type=(validate_prompt_type, prompt_type),
        commit_message=(validate_commit_message, commit_message),
    )
    content, labels = _checked(
        content=(validate_prompt_content, prompt_type, content), labels=(validate_labels, labels)
    )
    if tags is not None:
        (tags,) = _checked(tags=(validate_tags, tags))

    for _attempt in range(CREATE_ATTEMPTS):
        existing = _lock_versions(project, name)
        latest = existing[0] if existing else None
        if latest is not None and latest.type != prompt_type:
            refusal = (
                f"{name!r} is a {latest.type} prompt: a new version cannot change its type to {prompt_type}."
            )
            raise ValidationError({"prompt_type": [refusal]})
        final_tags = tags if tags is not None else (latest.tags if latest else [])
        try:
            with transaction.atomic():
                created = Prompt.objects.create(
                    project=project,
                    name=name,
                    version=(latest.version + 1) if latest else 1,
                    type=prompt_type,
                    prompt=content,
                    config=config if config is not None else {},
                    tags=final_tags,
                    commit_message=commit_message,
                    created_by=_created_by(actor),
                )
        except IntegrityError:
            continue  # a concurrent create took this number: read the versions again
        break
    else:
        raise ValidationError({"name": [f"Versions of {name!r} are being created concurrently; try again."]})

    if tags is not None and any(version.tags != final_tags for version in existing):
        Prompt.objects.filter(project=project, name=name).exclude(pk=created.pk).update(tags=final_tags)
    _move_labels(project=project, name=name, labels=[*labels, LATEST_LABEL], target=created)
    return prompt_get(project=project, name=name, version=created.version)


@transaction.atomic
def prompt_labels_add(
    *, project: Project, name: str, version: int, labels: Iterable[str], actor: Actor = SYSTEM
) -> Prompt:
    """Add ``labels`` to one version (the API's PATCH ``newLabels``): its other labels stay, and
    each new one leaves the version that had it. Raises ``NotFound`` for a missing version."""
    (labels,) = _checked(labels=(validate_labels, labels))
    versions = _lock_versions(project, name)
    target = next((v for v in versions if v.version == version), None)
    if target is None:
        raise NotFound(f"Prompt not found: {name!r} with version {version}")
    if LATEST_LABEL in labels and target.version != versions[0].version:
        refusal = f"'{LATEST_LABEL}' always marks the newest version (v{versions[0].version}); it cannot be assigned."
        raise ValidationError({"labels": [refusal]})
    # The wire lists a version's labels in the order they were put on it (`Prompt.labels_in_order`),
    # and Langfuse puts the new labels before those the version already had: the kept ones are
    # put on again after the new ones.
    kept = [label for label in target.labels_in_order() if label not in labels]
    PromptLabel.objects.filter(prompt=target, label__in=kept).delete()
    _move_labels(project=project, name=name, labels=[*labels, *kept], target=target)
    _touch(target)
    return prompt_get(project=project, name=name, version=version)


@transaction.atomic
def prompt_labels_set(*, prompt: Prompt, labels: Iterable[str], actor: Actor = SYSTEM) -> Prompt:
    """Make ``labels`` exactly the labels of this version (the admin's label field)."""
    (labels,) = _checked(labels=(validate_labels, labels))
    project, name = prompt.project, prompt.name
    versions = _lock_versions(project, name)
    target = next((v for v in versions if v.pk == prompt.pk), None)
    if target is None:
        raise NotFound(f"Prompt not found: {prompt.name!r} with version {prompt.version}")
    is_newest = target.version == versions[0].version
    if (LATEST_LABEL in labels) != is_newest:
        refusal = f"'{LATEST_LABEL}' is always on the newest version (v{versions[0].version}) and only there."
        raise ValidationError({"labels": [refusal]})
    current = set(PromptLabel.objects.filter(prompt=target).values_list("label", flat=True))
    removed = current - set(labels)
    if removed:
        PromptLabel.objects.filter(prompt=target, label__in=removed).delete()
    added = [label for label in labels if label not in current]
    _move_labels(project=project, name=name, labels=added, target=target)
    if removed or added:
        _touch(target)
    return prompt_get(project=project, name=name, version=target.version)


@transaction.atomic
def prompt_tags_set(*, project: Project, name: str, tags: Iterable[str], actor: Actor = SYSTEM) -> int:
    """Set the tags of every version of ``name``; returns how many versions there are."""
    (tags,) = _checked(tags=(validate_tags, tags))
    versions = _lock_versions(project, name)
    Prompt.objects.filter(project=project, name=name).update(tags=tags)
    return len(versions)


@transaction.atomic
def prompt_delete(
    *,
    project: Project,
    name: str,
    version: int | None = None,
    label: str | None = None,
    actor: Actor = SYSTEM,
) -> int:
    """Delete one version (by ``version`` and/or ``label``) or, with neither, every version of
    ``name``. ``latest`` moves to the highest remaining version. Returns how many were deleted;
    raises ``NotFound`` when nothing matches."""
    versions = _lock_versions(project, name)
    doomed = [v for v in versions if version is None or v.version == version]
    if label is not None:
        labelled = PromptLabel.objects.filter(project=project, name=name, label=label)
        labelled = set(labelled.values_list("prompt_id", flat=True))
        doomed = [v for v in doomed if v.pk in labelled]
    if not doomed:
        wanted = ([f"version {version}"] if version is not None else []) + (
            [f"label {label!r}"] if label else []
        )
        raise NotFound(
            f"Prompt not found: {name!r}" + (" with " + " and ".join(wanted) if wanted else "")
        )
    for prompt in doomed:
        audit_log_record(
            actor=actor,
            action="prompt.delete",
            obj=prompt,
            organization=project.organization,
            project=project,
            name=prompt.name,
            version=prompt.version,
        )
    Prompt.objects.filter(pk__in=[v.pk for v in doomed]).delete()
    remaining = [v for v in versions if v not in doomed]
    if remaining and not PromptLabel.objects.filter(project=project, name=name, label=LATEST_LABEL).exists():
        _move_labels(project=project, name=name, labels=[LATEST_LABEL], target=remaining[0])
    return len(doomed)
