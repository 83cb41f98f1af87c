"""Reads of prompt versions, their labels, and the per-name list of the prompts API.

Every read takes the project, keyword-only: selectors are how the API and the admin scope prompts.
"""

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db.models import Max, QuerySet

from evalsite.db import json_array_contains
from evalsite.tenancy.models import Project
from prompts.models import Prompt, PromptLabel

PRODUCTION_LABEL = "production"
LATEST_LABEL = "latest"


def prompt_versions(*, project: Project, name: str | None = None) -> QuerySet[Prompt]:
    """Prompt versions with their labels prefetched (``p.label_names()`` reads them)."""
    queryset = Prompt.objects.filter(project=project).prefetch_related("label_rows")
    return queryset.filter(name=name) if name is not None else queryset


def prompt_get(
    *, project: Project, name: str, version: int | None = None, label: str | None = None
) -> Prompt:
    """One version of the prompt ``name``: by ``version``, else by ``label``, else the version
    labelled ``production``. Raises ``Prompt.DoesNotExist`` (with a message naming what was
    looked for) when there is none."""
    queryset = prompt_versions(project=project, name=name)
    if version is not None:
        found = queryset.filter(version=version).first()
        wanted = f"version {version}"
    else:
        label = label or PRODUCTION_LABEL
        found = queryset.filter(label_rows__label=label).first()
        wanted = f"label {label!r}"
    if found is None:
        raise Prompt.DoesNotExist(f"Prompt not found: {name!r} with {wanted}")
    return found


def prompt_ids_by_version(*, project: Project, versions: set[tuple[str, int]]) -> dict[tuple[str, int], str]:
    """{(name, version): prompt id} for the given versions that exist, in one query."""
    if not versions:
        return {}
    rows = Prompt.objects.filter(
        project=project,
        name__in={name for name, _ in versions},
        version__in={version for _, version in versions},
    ).values_list("name", "version", "id")
    return {(name, version): prompt_id for name, version, prompt_id in rows if (name, version) in versions}


def prompt_version_numbers(*, project: Project, name: str) -> list[int]:
    return list(
        Prompt.objects.filter(project=project, name=name)
        .order_by("version")
        .values_list("version", flat=True)
    )


def _with_tag(queryset: QuerySet[Prompt], tag: str) -> QuerySet[Prompt]:
    """Versions whose tags include ``tag``."""
    return queryset.filter(json_array_contains("tags", tag, table=Prompt._meta.db_table))


def prompt_filtered_versions(
    *,
    project: Project,
    name: str | None = None,
    label: str | None = None,
    tag: str | None = None,
    from_updated_at: datetime | None = None,
    to_updated_at: datetime | None = None,
) -> QuerySet[Prompt]:
    """The versions the list filters keep (``fromUpdatedAt`` inclusive, ``toUpdatedAt`` exclusive)."""
    queryset = Prompt.objects.filter(project=project)
    if name is not None:
        queryset = queryset.filter(name=name)
    if label is not None:
        queryset = queryset.filter(label_rows__label=label)
    if tag is not None:
        queryset = _with_tag(queryset, tag)
    if from_updated_at is not None:
        queryset = queryset.filter(updated_at__gte=from_updated_at)
    if to_updated_at is not None:
        queryset = queryset.filter(updated_at__lt=to_updated_at)
    return queryset


def prompt_name_list(
    *,
    project: Project,
    name: str | None = None,
    label: str | None = None,
    tag: str | None = None,
    from_updated_at: datetime | None = None,
    to_updated_at: datetime | None = None,
) -> QuerySet:
    """One row per prompt name among the filtered versions, ordered by name: what the list pages over."""
    return (
        prompt_filtered_versions(
            project=project,
            name=name,
            label=label,
            tag=tag,
            from_updated_at=from_updated_at,
            to_updated_at=to_updated_at,
        )
        .values("name")
        .annotate(last_version=Max("version"))
        .order_by("name")
    )


@dataclass(frozen=True)
class PromptMeta:
    name: str
    type: str
    versions: list[int]
    labels: list[str]
    tags: list[str]
    last_updated_at: datetime
    last_config: Any


def prompt_meta_list(
    *,
    project: Project,
    names: list[str],
    name: str | None = None,
    label: str | None = None,
    tag: str | None = None,
    from_updated_at: datetime | None = None,
    to_updated_at: datetime | None = None,
) -> list[PromptMeta]:
    """The list entries for a page of names, in the given order, from the same filtered versions
    as `prompt_name_list`: versions and labels are those of the versions that passed the filters,
    the type, tags and config those of the highest of them. Two queries whatever the page size."""
    rows = list(
        prompt_filtered_versions(
            project=project,
            name=name,
            label=label,
            tag=tag,
            from_updated_at=from_updated_at,
            to_updated_at=to_updated_at,
        )
        .filter(name__in=names)
        .order_by("name", "version")
        .values("id", "name", "version", "type", "tags", "config", "updated_at")
    )
    labels_by_prompt: dict[str, list[str]] = {}
    for prompt_id, label in (
        PromptLabel.objects.filter(prompt_id__in=[row["id"] for row in rows])
        .order_by("label")
        .values_list("prompt_id", "label")
    ):
        labels_by_prompt.setdefault(prompt_id, []).append(label)
    grouped: dict[str, list[dict]] = {}
    for row in rows:
        grouped.setdefault(row["name"], []).append(row)
    metas = []
    for prompt_name in names:
        versions = grouped.get(prompt_name)
        if not versions:
            continue
        last = versions[-1]
        metas.append(
            PromptMeta(
                name=prompt_name,
                type=last["type"],
                versions=[row["version"] for row in versions],
                labels=sorted({label for row in versions for label in labels_by_prompt.get(row["id"], [])}),
                tags=last["tags"],
                last_updated_at=max(row["updated_at"] for row in versions),
                last_config=last["config"],
            )
        )
    return metas
