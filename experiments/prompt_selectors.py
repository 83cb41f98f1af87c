"""Reads of prompt versions, their labels, and the per-name list of the prompts API."""

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import connection as db_connection
from django.db.models import BooleanField, Max, QuerySet
from django.db.models.expressions import RawSQL

from evalsite.tenancy.models import Project
from experiments.models import Prompt, PromptLabel

PRODUCTION_LABEL = "production"
LATEST_LABEL = "latest"


def prompt_versions(*, project: Project, name: str | None = None) -> QuerySet[Prompt]:
    """Prompt versions with their labels prefetched (``prompt_labels(p)`` reads them)."""
    queryset = Prompt.objects.filter(project=project).prefetch_related("label_rows")
    return queryset.filter(name=name) if name is not None else queryset


def prompt_labels(prompt: Prompt) -> list[str]:
    """The version's labels, sorted (prefetch ``label_rows`` to read them without a query)."""
    return sorted(row.label for row in prompt.label_rows.all())


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


def prompt_version_numbers(*, project: Project, name: str) -> list[int]:
    return list(
        Prompt.objects.filter(project=project, name=name)
        .order_by("version")
        .values_list("version", flat=True)
    )


def with_tag(queryset: QuerySet[Prompt], tag: str) -> QuerySet[Prompt]:
    """Versions whose tags include ``tag``. PostgreSQL answers JSON containment itself; SQLite has
    no ``contains`` lookup on JSON, so it looks through ``json_each``."""
    if db_connection.vendor == "postgresql":
        return queryset.filter(tags__contains=[tag])
    table = Prompt._meta.db_table  # our own table name; the tag itself is a query parameter
    has_tag = RawSQL(
        f'EXISTS (SELECT 1 FROM json_each("{table}"."tags") WHERE json_each.value = %s)',
        [tag],
        output_field=BooleanField(),
    )
    return queryset.alias(has_tag=has_tag).filter(has_tag=True)


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
        queryset = with_tag(queryset, tag)
    if from_updated_at is not None:
        queryset = queryset.filter(updated_at__gte=from_updated_at)
    if to_updated_at is not None:
        queryset = queryset.filter(updated_at__lt=to_updated_at)
    return queryset


def prompt_name_list(**filters) -> QuerySet:
    """One row per prompt name among the filtered versions, ordered by name: what the list pages over."""
    return (
        prompt_filtered_versions(**filters)
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


def prompt_meta_for_names(names: list[str], **filters) -> list[PromptMeta]:
    """The list entries for a page of names, in the given order, from the same filtered versions:
    versions and labels are those of the versions that passed the filters, the type, tags and
    config those of the highest of them. Two queries whatever the page size."""
    rows = list(
        prompt_filtered_versions(**filters)
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
    for name in names:
        versions = grouped.get(name)
        if not versions:
            continue
        last = versions[-1]
        metas.append(
            PromptMeta(
                name=name,
                type=last["type"],
                versions=[row["version"] for row in versions],
                labels=sorted({label for row in versions for label in labels_by_prompt.get(row["id"], [])}),
                tags=last["tags"],
                last_updated_at=max(row["updated_at"] for row in versions),
                last_config=last["config"],
            )
        )
    return metas
