"""Reads of datasets and their items, current or as of a version.

A dataset's versions are the distinct `valid_from` times of its item revisions (every create,
update, archive, unarchive or delete of an item writes one). Item lists come in one shape whatever
their source, so callers need not care whether they read the current table or the history: each
row has `item_id, dataset_id, dataset_name, status, input, expected_output, metadata,
source_trace_id, source_observation_id, created_at, updated_at, version`, ordered by
`(created_at, item_id)` — an order that is the same for an item in both sources, so reading a
version gives the same order whether it is served from the current table or from the history.
"""

from collections.abc import Iterable
from datetime import datetime

from django.db.models import CharField, F, Max, OuterRef, QuerySet, Subquery, Value

from datasets import hooks
from datasets.models import Dataset, DatasetItem, DatasetItemRevision, ImportJob, ItemStatus
from evalsite.errors import NotFound
from evalsite.tenancy.models import Project

ITEM_ORDER = ("created_at", "item_id")


def dataset_find_by_name(*, project: Project, name: str) -> Dataset | None:
    return Dataset.objects.filter(project=project, name=name).first()


def dataset_get_by_name(*, project: Project, name: str) -> Dataset:
    """Like dataset_find_by_name, but a missing dataset is a 404."""
    dataset = dataset_find_by_name(project=project, name=name)
    if dataset is None:
        raise NotFound(f"Dataset not found: {name}")
    return dataset


def dataset_ids_existing(*, project: Project, dataset_ids: Iterable[str]) -> set[str]:
    return set(Dataset.objects.filter(project=project, id__in=list(dataset_ids)).values_list("id", flat=True))


def dataset_names_existing(*, project: Project, names: Iterable[str]) -> set[str]:
    return set(Dataset.objects.filter(project=project, name__in=list(names)).values_list("name", flat=True))


def dataset_item_find(*, project: Project, item_id: str) -> DatasetItem | None:
    """The current item with this external id, with its dataset loaded; None when there is none."""
    return DatasetItem.objects.filter(project=project, item_id=item_id).select_related("dataset").first()


def dataset_item_pks_by_item_id(*, project: Project, item_ids: Iterable[str]) -> dict[str, int]:
    """{external item id: row pk} for the items that exist in the project."""
    return dict(DatasetItem.objects.filter(project=project, item_id__in=list(item_ids)).values_list("item_id", "pk"))


def dataset_list(*, project: Project) -> QuerySet[Dataset]:
    return Dataset.objects.filter(project=project).order_by("name")


def dataset_latest_version(*, project: Project, dataset: Dataset) -> datetime | None:
    """The newest version of the dataset (what a run records), or None if no item was ever written."""
    return DatasetItemRevision.objects.filter(project=project, dataset=dataset).aggregate(v=Max("valid_from"))["v"]


def dataset_versions(*, project: Project, dataset: Dataset) -> list[datetime]:
    """Every version of the dataset, newest first."""
    return list(
        DatasetItemRevision.objects.filter(project=project, dataset=dataset)
        .order_by("-valid_from")
        .values_list("valid_from", flat=True)
        .distinct()
    )


def _current_items(*, project: Project, dataset: Dataset | None, include_archived: bool) -> QuerySet:
    items = DatasetItem.objects.filter(project=project)
    if dataset is None:
        items = items.annotate(dataset_name=F("dataset__name"))
    else:
        items = items.filter(dataset=dataset).annotate(dataset_name=Value(dataset.name, output_field=CharField()))
    if not include_archived:
        items = items.filter(status=ItemStatus.ACTIVE)
    return items.annotate(version=F("updated_at")).order_by(*ITEM_ORDER)


def _items_as_of(*, project: Project, dataset: Dataset, version: datetime, include_archived: bool) -> QuerySet:
    """Each item's newest revision with valid_from <= version, minus deletions (and archived ones).

    One query: a correlated subquery picks, per item, the id of its newest revision not after the
    version (ties on valid_from broken by id), served by the (project, dataset, item_id, valid_from)
    index. The status filters apply to that newest revision, never before choosing it: an item
    archived at T1 and unarchived at T2 is active as of T2 and archived as of T1.
    """
    newest = (
        DatasetItemRevision.objects.filter(
            project=project, dataset=dataset, item_id=OuterRef("item_id"), valid_from__lte=version
        )
        .order_by("-valid_from", "-id")
        .values("id")[:1]
    )
    revisions = DatasetItemRevision.objects.filter(
        project=project, dataset=dataset, valid_from__lte=version, id=Subquery(newest), is_deleted=False
    )
    if not include_archived:
        revisions = revisions.filter(status=ItemStatus.ACTIVE)
    return revisions.annotate(
        dataset_name=Value(dataset.name, output_field=CharField()),
        created_at=F("item_created_at"),
        updated_at=F("valid_from"),
        version=F("valid_from"),
    ).order_by(*ITEM_ORDER)


def dataset_item_list(
    *,
    project: Project,
    dataset: Dataset | None,
    version: datetime | None = None,
    source_trace_id: str | None = None,
    source_observation_id: str | None = None,
    include_archived: bool = False,
) -> QuerySet:
    """The dataset's items (ACTIVE only unless `include_archived`), current or as of `version`.

    `dataset=None` lists the current items of every dataset of the project (no `version` then).
    A version at or after the newest one is the current state, read from the current table: the
    common case (a run reading the version it just recorded) costs no history scan.
    """
    if version is not None:
        if dataset is None:
            raise ValueError("reading a version needs a dataset")
        latest = dataset_latest_version(project=project, dataset=dataset)
        if latest is not None and version < latest:
            items = _items_as_of(project=project, dataset=dataset, version=version, include_archived=include_archived)
        else:
            items = _current_items(project=project, dataset=dataset, include_archived=include_archived)
    else:
        items = _current_items(project=project, dataset=dataset, include_archived=include_archived)
    if source_trace_id is not None:
        items = items.filter(source_trace_id=source_trace_id)
    if source_observation_id is not None:
        items = items.filter(source_observation_id=source_observation_id)
    return items


def dataset_items_for_run(*, project: Project, dataset: Dataset, version: datetime | None) -> list:
    """The ACTIVE items a run over `dataset` at `version` covers, in a stable order.

    Rows have the attributes listed at the top of this module plus `dataset_item_pk`: the primary
    key of the current `DatasetItem` row for RunItem.dataset_item (None if the item was deleted
    since that version). Pass the version from `dataset_latest_version` and record it on the run.
    """
    items = dataset_item_list(project=project, dataset=dataset, version=version)
    if items.model is DatasetItem:
        items = items.annotate(dataset_item_pk=F("pk"))
    else:
        current = DatasetItem.objects.filter(project=project, dataset=dataset, item_id=OuterRef("item_id"))
        items = items.annotate(dataset_item_pk=Subquery(current.values("pk")[:1]))
    return list(items)


def dataset_item_get(*, project: Project, item_id: str) -> DatasetItem:
    """The current item with this external id (any status), with `dataset_name` and `version`."""
    item = (
        DatasetItem.objects.filter(project=project, item_id=item_id)
        .annotate(dataset_name=F("dataset__name"), version=F("updated_at"))
        .first()
    )
    if item is None:
        raise NotFound(f"Dataset item not found: {item_id}")
    return item



def datasets_with_items_and_runs(*, project: Project, datasets: list[Dataset]) -> list[Dataset]:
    """The legacy v1 shape: each dataset gets `.active_items` and `.run_names` (its runs' names),
    in two queries whatever the number of datasets."""
    by_id = {dataset.pk: dataset for dataset in datasets}
    for dataset in datasets:
        dataset.active_items, dataset.run_names = [], []
    items = _current_items(project=project, dataset=None, include_archived=False).filter(dataset_id__in=list(by_id))
    for item in items:
        by_id[item.dataset_id].active_items.append(item)
    # Runs belong to an app above this one, which provides their names (datasets/hooks.py).
    for provider in hooks.dataset_run_names:
        for dataset_id, names in provider(project=project, dataset_ids=list(by_id)).items():
            if dataset_id in by_id:
                by_id[dataset_id].run_names.extend(names)
    return datasets


def import_job_get(*, project: Project, job_id: str) -> ImportJob:
    job = ImportJob.objects.select_related("dataset").defer("content").filter(project=project, pk=job_id).first()
    if job is None:
        raise NotFound(f"Import not found: {job_id}")
    return job
