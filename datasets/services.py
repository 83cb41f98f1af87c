"""Writes to datasets and their items.

Invariants kept here:
- Every change to an item (create, update, archive, unarchive, delete) appends a
  `DatasetItemRevision` whose `valid_from` is the operation's single `now`, and the current row's
  `updated_at` is that same `now`. A dataset's versions are the distinct `valid_from` values, so an
  operation on many items (a bulk create, an archive action) is one version.
- A write that leaves an item ACTIVE, or that changes its input or expected output, is validated
  against the dataset's schemas. Archiving is always allowed, so an item that no longer fits can
  be taken out of runs; unarchiving validates it again.
- A schema change is refused while an ACTIVE item violates it (the message names the first
  offending item): every ACTIVE item always matches the current schemas. Archived items are not
  checked then; they are when unarchived.
- A write that changes nothing writes no revision, so retried requests make no new versions.
- Item ids are unique per project: an id already used in another dataset is a 409.
"""

import json
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, connections, router, transaction
from django.db.models import Q
from django.utils import timezone

from datasets.models import Dataset, DatasetItem, DatasetItemRevision, ItemStatus
from datasets.schemas import INPUT, ItemSchemas, schema_problem
from datasets.selectors import ITEM_ORDER, dataset_get_by_name
from evalsite.db import insert_rows
from evalsite.errors import Conflict
from evalsite.json_values import json_value_problem
from evalsite.tenancy.actors import Actor
from evalsite.tenancy.models import Project
from evalsite.tenancy.services import audit_log_record, project_object_delete

ITEM_ID_MAX = DatasetItem._meta.get_field("item_id").max_length
SOURCE_ID_MAX = DatasetItem._meta.get_field("source_trace_id").max_length
NAME_MAX = Dataset._meta.get_field("name").max_length
# Rows per INSERT/lookup statement: far below SQLite's bound-parameter limit, large enough that a
# 100,000-row import is a few hundred statements.
BATCH_SIZE = 1000

CONTENT_FIELDS = ("input", "expected_output", "metadata", "source_trace_id", "source_observation_id")
JSON_CONTENT_FIELDS = ("input", "expected_output", "metadata")


def _revision(item: DatasetItem, now, *, is_deleted: bool = False) -> DatasetItemRevision:
    return DatasetItemRevision(
        project_id=item.project_id,
        dataset_id=item.dataset_id,
        item_id=item.item_id,
        valid_from=now,
        is_deleted=is_deleted,
        status=item.status,
        input=item.input,
        expected_output=item.expected_output,
        metadata=item.metadata,
        source_trace_id=item.source_trace_id,
        source_observation_id=item.source_observation_id,
        item_created_at=item.created_at,
    )


def _schema_field(path: str) -> str:
    """The argument whose schema an item path falls under."""
    return "input_schema" if path == INPUT or path.startswith((INPUT + ".", INPUT + "[")) else "expected_output_schema"


# --- datasets -------------------------------------------------------------------------------------


def _clean_schema(field_name: str, schema: Any) -> dict | None:
    """A valid schema object, or None for "no schema" (`{}` accepts everything, so it means none)."""
    problem = schema_problem(schema)
    if problem:
        raise ValidationError({field_name: [problem]})
    return schema or None


def dataset_schemas_check(
    *, project: Project, dataset: Dataset | None, input_schema: dict | None, expected_output_schema: dict | None
) -> None:
    """Refuse schemas that are invalid, or that an ACTIVE item of the dataset does not match.

    Only the schemas that differ from the dataset's current ones are checked against its items.
    """
    input_schema = _clean_schema("input_schema", input_schema)
    expected_output_schema = _clean_schema("expected_output_schema", expected_output_schema)
    if dataset is None:
        return
    schemas = ItemSchemas(
        input_schema if input_schema != dataset.input_schema else None,
        expected_output_schema if expected_output_schema != dataset.expected_output_schema else None,
    )
    if schemas.empty:
        return
    active = (
        DatasetItem.objects.filter(project=project, dataset=dataset, status=ItemStatus.ACTIVE)
        .order_by(*ITEM_ORDER)
        .values_list("item_id", "input", "expected_output")
    )
    for item_id, item_input, expected_output in active.iterator(chunk_size=2000):
        errors = schemas.errors(item_input, expected_output)
        if errors:
            path, message = next(iter(errors.items()))
            raise ValidationError(
                {
                    _schema_field(path): [
                        f"active item {item_id!r} does not match this schema ({path}: {message}); "
                        "fix or archive the item first"
                    ]
                }
            )


def _check_name(name: str) -> None:
    if not name:
        raise ValidationError({"name": ["must not be empty"]})
    if len(name) > NAME_MAX:
        raise ValidationError({"name": [f"must be at most {NAME_MAX} characters"]})


@transaction.atomic
def dataset_create(
    *,
    project: Project,
    name: str,
    description: str | None = None,
    metadata: Any = None,
    input_schema: dict | None = None,
    expected_output_schema: dict | None = None,
    actor: Actor,
) -> Dataset:
    _check_name(name)
    dataset_schemas_check(
        project=project, dataset=None, input_schema=input_schema, expected_output_schema=expected_output_schema
    )
    if Dataset.objects.filter(project=project, name=name).exists():
        raise ValidationError({"name": [f"a dataset named {name!r} already exists in this project"]})
    dataset = Dataset.objects.create(
        project=project,
        name=name,
        description=description,
        metadata=metadata,
        input_schema=input_schema or None,
        expected_output_schema=expected_output_schema or None,
    )
    audit_log_record(
        actor=actor, action="dataset.create", obj=dataset, organization=project.organization, project=project, name=name
    )
    return dataset


@transaction.atomic
def dataset_update(
    *,
    project: Project,
    dataset: Dataset,
    name: str,
    description: str | None,
    metadata: Any,
    input_schema: dict | None,
    expected_output_schema: dict | None,
    actor: Actor,
) -> Dataset:
    """Replace the dataset's fields (the admin's edit; the API's upsert merges, then calls this)."""
    if dataset.project_id != project.pk:
        raise ValueError("dataset of another project")
    _check_name(name)
    if name != dataset.name and Dataset.objects.filter(project=project, name=name).exists():
        raise ValidationError({"name": [f"a dataset named {name!r} already exists in this project"]})
    dataset_schemas_check(
        project=project, dataset=dataset, input_schema=input_schema, expected_output_schema=expected_output_schema
    )
    input_schema, expected_output_schema = input_schema or None, expected_output_schema or None
    schemas_changed = (input_schema, expected_output_schema) != (dataset.input_schema, dataset.expected_output_schema)
    if not schemas_changed and (name, description, metadata) == (dataset.name, dataset.description, dataset.metadata):
        return dataset  # a repeated upsert leaves updatedAt alone
    dataset.name, dataset.description, dataset.metadata = name, description, metadata
    dataset.input_schema, dataset.expected_output_schema = input_schema, expected_output_schema
    dataset.save()
    if schemas_changed:
        # A schema decides what every later write may contain: worth a line in the audit log.
        audit_log_record(
            actor=actor,
            action="dataset.schema_change",
            obj=dataset,
            organization=project.organization,
            project=project,
            input_schema=input_schema,
            expected_output_schema=expected_output_schema,
        )
    return dataset


@transaction.atomic
def dataset_upsert(
    *,
    project: Project,
    name: str,
    description: str | None = None,
    metadata: Any = None,
    input_schema: dict | None = None,
    expected_output_schema: dict | None = None,
    actor: Actor,
) -> Dataset:
    """Create the dataset `name`, or update it: None means "not provided" and keeps the stored value.

    A schema of `{}` removes that schema (it would accept everything anyway).
    """
    dataset = Dataset.objects.select_for_update().filter(project=project, name=name).first()
    if dataset is None:
        try:
            with transaction.atomic():
                return dataset_create(
                    project=project,
                    name=name,
                    description=description,
                    metadata=metadata,
                    input_schema=input_schema,
                    expected_output_schema=expected_output_schema,
                    actor=actor,
                )
        except IntegrityError:
            # Created by a concurrent request between our read and our insert: update it instead.
            dataset = Dataset.objects.select_for_update().get(project=project, name=name)
    return dataset_update(
        project=project,
        dataset=dataset,
        name=name,
        description=dataset.description if description is None else description,
        metadata=dataset.metadata if metadata is None else metadata,
        input_schema=dataset.input_schema if input_schema is None else input_schema,
        expected_output_schema=dataset.expected_output_schema if expected_output_schema is None else expected_output_schema,
        actor=actor,
    )


@transaction.atomic
def dataset_delete(*, project: Project, dataset: Dataset, actor: Actor) -> None:
    """Delete the dataset with its items, history and imports; its runs stay, unlinked."""
    project_object_delete(project=project, obj=dataset, actor=actor, action="dataset.delete", name=dataset.name)


# --- one item -------------------------------------------------------------------------------------


def _content_problems(values: dict) -> dict[str, str]:
    """The item's JSON fields among `values` that are beyond the platform's bounds (too deep…)."""
    problems = {}
    for name in JSON_CONTENT_FIELDS:
        problem = json_value_problem(values.get(name))
        if problem:
            problems[name] = problem
    return problems


def _validate_item(schemas: ItemSchemas, item: DatasetItem) -> None:
    errors = schemas.errors(item.input, item.expected_output)
    if errors:
        raise ValidationError({path: [message] for path, message in errors.items()})


def _check_content(values: dict) -> None:
    problems = _content_problems(values)
    if problems:
        raise ValidationError({name: [problem] for name, problem in problems.items()})


def _item_save_new(*, project: Project, dataset: Dataset, item_id: str, values: dict, now) -> DatasetItem:
    _check_content(values)
    item = DatasetItem(project=project, dataset=dataset, item_id=item_id, created_at=now, updated_at=now, **values)
    _validate_item(ItemSchemas.of(dataset), item)
    item.save(force_insert=True)
    _revision(item, now).save()
    return item


def _same(stored: Any, new: Any) -> bool:
    """JSON equality: Python's == would take `true` for `1` and `1.0` for `1`, and skip the write."""
    return stored == new and json.dumps(stored, sort_keys=True) == json.dumps(new, sort_keys=True)


def _item_apply(*, dataset: Dataset, item: DatasetItem, changes: dict, now) -> DatasetItem:
    _check_content(changes)
    changed = {name: value for name, value in changes.items() if not _same(getattr(item, name), value)}
    if not changed:
        return item
    for name, value in changed.items():
        setattr(item, name, value)
    if item.status == ItemStatus.ACTIVE or {"input", "expected_output"} & changed.keys():
        _validate_item(ItemSchemas.of(dataset), item)
    item.updated_at = now
    item.save(update_fields=[*changed, "updated_at"])
    _revision(item, now).save()
    return item


def _other_dataset_conflict(item_id: str, dataset_id: str) -> Conflict:
    other = Dataset.objects.filter(pk=dataset_id).values_list("name", flat=True).first()
    return Conflict(
        f"Dataset item {item_id!r} already exists in dataset {other!r}: item ids are unique in a project "
        "and an item cannot move between datasets"
    )


@transaction.atomic
def dataset_item_upsert(
    *,
    project: Project,
    dataset_name: str,
    item_id: str | None = None,
    input: Any = None,
    expected_output: Any = None,
    metadata: Any = None,
    source_trace_id: str | None = None,
    source_observation_id: str | None = None,
    status: str | None = None,
    actor: Actor,
) -> DatasetItem:
    """Create the item, or update the item with this id in the same dataset (404 for an unknown
    dataset, 409 for an id used in another dataset). None means "not provided": the SDK sends every
    field, null when unset, so an update keeps what it does not name. A new item is ACTIVE unless
    `status` says otherwise."""
    dataset = dataset_get_by_name(project=project, name=dataset_name)
    item_id = item_id or str(uuid.uuid4())
    provided = {
        "input": input,
        "expected_output": expected_output,
        "metadata": metadata,
        "source_trace_id": source_trace_id,
        "source_observation_id": source_observation_id,
        "status": status,
    }
    now = timezone.now()
    item = DatasetItem.objects.select_for_update().filter(project=project, item_id=item_id).first()
    if item is None:
        values = {**provided, "status": status or ItemStatus.ACTIVE}
        try:
            with transaction.atomic():
                return _item_save_new(project=project, dataset=dataset, item_id=item_id, values=values, now=now)
        except IntegrityError:
            # Inserted by a concurrent request with the same id: update that row instead.
            item = DatasetItem.objects.select_for_update().get(project=project, item_id=item_id)
    if item.dataset_id != dataset.pk:
        raise _other_dataset_conflict(item_id, item.dataset_id)
    item.dataset = dataset
    return _item_apply(
        dataset=dataset, item=item, changes={k: v for k, v in provided.items() if v is not None}, now=now
    )


@transaction.atomic
def dataset_item_create(
    *,
    project: Project,
    dataset: Dataset,
    item_id: str | None = None,
    input: Any = None,
    expected_output: Any = None,
    metadata: Any = None,
    source_trace_id: str | None = None,
    source_observation_id: str | None = None,
    status: str = ItemStatus.ACTIVE,
    actor: Actor,
) -> DatasetItem:
    """Create a new item (the admin's add); an id already used in the project is refused."""
    if dataset.project_id != project.pk:
        raise ValueError("dataset of another project")
    item_id = item_id or str(uuid.uuid4())
    existing = DatasetItem.objects.filter(project=project, item_id=item_id).values_list("dataset_id", flat=True).first()
    if existing == dataset.pk:
        raise Conflict(f"Dataset item {item_id!r} already exists in this dataset")
    if existing is not None:
        raise _other_dataset_conflict(item_id, existing)
    values = {
        "input": input,
        "expected_output": expected_output,
        "metadata": metadata,
        "source_trace_id": source_trace_id,
        "source_observation_id": source_observation_id,
        "status": status,
    }
    return _item_save_new(project=project, dataset=dataset, item_id=item_id, values=values, now=timezone.now())


@transaction.atomic
def dataset_item_update(
    *,
    project: Project,
    item: DatasetItem,
    input: Any,
    expected_output: Any,
    metadata: Any,
    source_trace_id: str | None,
    source_observation_id: str | None,
    actor: Actor,
) -> DatasetItem:
    """Replace the item's content (None clears a field). Status changes go through archive/unarchive."""
    locked = _locked_items(project=project, items=[item])
    if not locked:
        raise DatasetItem.DoesNotExist(f"Dataset item {item.item_id} is gone")
    item = locked[0]
    values = (input, expected_output, metadata, source_trace_id, source_observation_id)
    changes = dict(zip(CONTENT_FIELDS, values, strict=True))
    return _item_apply(dataset=item.dataset, item=item, changes=changes, now=timezone.now())


# --- many items -----------------------------------------------------------------------------------


def _locked_items(*, project: Project, items: Iterable[DatasetItem]) -> list[DatasetItem]:
    """The current rows of `items` that still exist in `project`, locked for this transaction
    (in primary key order, so two bulk actions cannot deadlock on each other)."""
    pks = [item.pk for item in items]
    if not pks:
        return []
    return list(
        DatasetItem.objects.select_for_update(of=("self",))
        .select_related("dataset")
        .filter(project=project, pk__in=pks)
        .order_by("pk")
    )


@dataclass
class UnarchiveResult:
    unarchived: int = 0
    refused: dict[str, str] = field(default_factory=dict)  # item id → why it does not match the schema


def _set_status(items: list[DatasetItem], status: str, now) -> None:
    for item in items:
        item.status, item.updated_at = status, now
    DatasetItem.objects.bulk_update(items, ["status", "updated_at"], batch_size=BATCH_SIZE)
    DatasetItemRevision.objects.bulk_create([_revision(item, now) for item in items], batch_size=BATCH_SIZE)


@transaction.atomic
def dataset_items_archive(*, project: Project, items: Iterable[DatasetItem], actor: Actor) -> int:
    """Archive the items (one version for all of them); returns how many were not archived yet."""
    targets = [item for item in _locked_items(project=project, items=items) if item.status != ItemStatus.ARCHIVED]
    _set_status(targets, ItemStatus.ARCHIVED, timezone.now())
    return len(targets)


@transaction.atomic
def dataset_items_unarchive(*, project: Project, items: Iterable[DatasetItem], actor: Actor) -> UnarchiveResult:
    """Unarchive the items that match their dataset's schemas; the others stay archived and are
    reported, so one misfit does not block the rest."""
    result = UnarchiveResult()
    schemas: dict[str, ItemSchemas] = {}
    targets = []
    for item in _locked_items(project=project, items=items):
        if item.status == ItemStatus.ACTIVE:
            continue
        checker = schemas.setdefault(item.dataset_id, ItemSchemas.of(item.dataset))
        problem = checker.first_error(item.input, item.expected_output)
        if problem:
            result.refused[item.item_id] = problem
        else:
            targets.append(item)
    _set_status(targets, ItemStatus.ACTIVE, timezone.now())
    result.unarchived = len(targets)
    return result


def dataset_item_archive(*, project: Project, item: DatasetItem, actor: Actor) -> DatasetItem:
    dataset_items_archive(project=project, items=[item], actor=actor)
    item.refresh_from_db()
    return item


def dataset_item_unarchive(*, project: Project, item: DatasetItem, actor: Actor) -> DatasetItem:
    result = dataset_items_unarchive(project=project, items=[item], actor=actor)
    if result.refused:
        raise ValidationError({"status": [f"cannot unarchive: {result.refused[item.item_id]}"]})
    item.refresh_from_db()
    return item


@transaction.atomic
def dataset_items_delete(*, project: Project, items: Iterable[DatasetItem], actor: Actor) -> int:
    """Delete the items: gone from the current state, kept in the history (a deletion revision), so
    versions before the deletion still show them."""
    targets = _locked_items(project=project, items=items)
    if not targets:
        return 0
    now = timezone.now()
    DatasetItemRevision.objects.bulk_create(
        [_revision(item, now, is_deleted=True) for item in targets], batch_size=BATCH_SIZE
    )
    by_dataset: dict[str, list[DatasetItem]] = {}
    for item in targets:
        by_dataset.setdefault(item.dataset_id, []).append(item)
    for dataset_items in by_dataset.values():
        audit_log_record(
            actor=actor,
            action="dataset_item.delete",
            obj=dataset_items[0].dataset,
            organization=project.organization,
            project=project,
            item_ids=[item.item_id for item in dataset_items],
        )
    DatasetItem.objects.filter(pk__in=[item.pk for item in targets]).delete()
    return len(targets)


def dataset_item_delete(*, project: Project, item: DatasetItem, actor: Actor) -> None:
    dataset_items_delete(project=project, items=[item], actor=actor)


@dataclass(frozen=True)
class NewItem:
    input: Any = None
    expected_output: Any = None
    metadata: Any = None
    source_trace_id: str | None = None
    source_observation_id: str | None = None
    item_id: str | None = None  # None: a new uuid4
    status: str = ItemStatus.ACTIVE


@dataclass
class CreateManyResult:
    created_ids: list[str] = field(default_factory=list)
    existing: list[int] = field(default_factory=list)  # positions whose id is already in this dataset
    invalid: dict[int, str] = field(default_factory=dict)  # position → why it was refused


def _new_item_problem(new: NewItem, schemas: ItemSchemas) -> str | None:
    if len(new.item_id) > ITEM_ID_MAX:
        return f"id: must be at most {ITEM_ID_MAX} characters"
    for name, value in (("sourceTraceId", new.source_trace_id), ("sourceObservationId", new.source_observation_id)):
        if value is not None and (not isinstance(value, str) or len(value) > SOURCE_ID_MAX):
            return f"{name}: must be a string of at most {SOURCE_ID_MAX} characters"
    if new.status not in ItemStatus.values:
        return f"status: must be one of {', '.join(ItemStatus.values)}"
    problems = _content_problems(new.__dict__)
    if problems:
        return "; ".join(f"{name}: {problem}" for name, problem in problems.items())
    return schemas.first_error(new.input, new.expected_output)


@transaction.atomic
def dataset_items_create_many(
    *, project: Project, dataset: Dataset, items: Sequence[NewItem], actor: Actor, skip_invalid: bool = False
) -> CreateManyResult:
    """Create many items at once (imports, add-from-trace): set-based inserts, one version.

    Items whose id is already in this dataset are left as they are and listed in `existing`, so a
    replayed batch (a resumed import) adds nothing twice. Invalid items (schema, an id used in
    another dataset or twice in `items`) are refused: with `skip_invalid` the others are still
    created and the refusals returned; otherwise nothing is created and a ValidationError names them.
    """
    if dataset.project_id != project.pk:
        raise ValueError("dataset of another project")
    result = CreateManyResult()
    schemas = ItemSchemas.of(dataset)
    items = [new if new.item_id else _with_id(new) for new in items]
    seen: set[str] = set()
    for position, new in enumerate(items):
        problem = _new_item_problem(new, schemas)
        if problem is None and new.item_id in seen:
            problem = f"id: {new.item_id!r} appears twice"
        seen.add(new.item_id)
        if problem:
            result.invalid[position] = problem

    stored: dict[str, str] = {}
    ids = [new.item_id for new in items]
    for start in range(0, len(ids), BATCH_SIZE):
        stored.update(
            DatasetItem.objects.filter(project=project, item_id__in=ids[start : start + BATCH_SIZE]).values_list(
                "item_id", "dataset_id"
            )
        )
    for position, new in enumerate(items):
        if position in result.invalid or new.item_id not in stored:
            continue
        if stored[new.item_id] == dataset.pk:
            result.existing.append(position)
        else:
            result.invalid[position] = f"id: {new.item_id!r} already exists in another dataset of this project"

    if result.invalid and not skip_invalid:
        first = sorted(result.invalid.items())[:20]
        raise ValidationError({f"items[{position}]": [problem] for position, problem in first})

    skip = set(result.invalid) | set(result.existing)
    now = timezone.now()
    created = [new for position, new in enumerate(items) if position not in skip]
    connection = connections[router.db_for_write(DatasetItem)]
    # Each value is converted for the database once, and serves both the item and its revision.
    content = _prepared(DatasetItem, ITEM_CONTENT, [[getattr(new, name) for name in ITEM_CONTENT] for new in created], connection)
    _insert_rows(
        DatasetItem, {"project_id": project.pk, "dataset_id": dataset.pk, "created_at": now, "updated_at": now}, content
    )
    _insert_rows(
        DatasetItemRevision,
        {"project_id": project.pk, "dataset_id": dataset.pk, "valid_from": now, "item_created_at": now, "is_deleted": False},
        content,
    )
    result.created_ids = [new.item_id for new in created]
    return result


# The columns of an item's content, in NewItem's names (the same on DatasetItem and its revisions).
ITEM_CONTENT = ("item_id", "status", "input", "expected_output", "metadata", "source_trace_id", "source_observation_id")


def _prepared(model, names: tuple[str, ...], rows: list[list], connection) -> list[list]:
    fields = [model._meta.get_field(name) for name in names]
    return [[field.get_db_prep_save(value, connection) for field, value in zip(fields, row, strict=True)] for row in rows]


def _insert_rows(model, constants: dict, content: list[list]) -> None:
    """INSERT one row per `content` entry (values for ITEM_CONTENT, already converted for the
    database) plus the `constants`, through `evalsite.db.insert_rows` (COPY on PostgreSQL).

    `bulk_create` compiles every value of every row through the ORM's SQL compiler, which for a
    100,000-row import costs several times what the database spends storing it. Here each value
    is still converted by its own field's `get_db_prep_save` (JSON adapted for the backend,
    datetimes made naive for SQLite…), so what is stored is exactly what `bulk_create` would
    store. The auto primary key is left to the database.
    """
    if not content:
        return
    connection = connections[router.db_for_write(model)]
    names = [*constants, *ITEM_CONTENT]
    columns = [model._meta.get_field(name).column for name in names]  # "project_id" finds the FK by its column
    fixed = [model._meta.get_field(name).get_db_prep_save(value, connection) for name, value in constants.items()]
    insert_rows(model._meta.db_table, columns, (fixed + row for row in content), connection=connection)


def _with_id(new: NewItem) -> NewItem:
    return NewItem(**{**new.__dict__, "item_id": str(uuid.uuid4())})


# --- add from production --------------------------------------------------------------------------

SOURCE_FIELDS = ("input", "output")


@dataclass(frozen=True)
class SourceMapping:
    """How a trace or observation becomes an item: which of its fields is the input and which the
    expected output (None: no expected output), and which metadata keys to copy."""

    input: str = "input"
    expected_output: str | None = "output"
    metadata_keys: tuple[str, ...] = ()

    def __post_init__(self):
        if self.input not in SOURCE_FIELDS or self.expected_output not in (*SOURCE_FIELDS, None):
            raise ValueError(f"a source field is one of {SOURCE_FIELDS}")


@dataclass
class AddFromSourcesResult:
    added: int = 0
    duplicates: list[str] = field(default_factory=list)  # source ids already in the dataset
    invalid: dict[str, str] = field(default_factory=dict)  # source id → why the item was refused


def _source_key(source) -> tuple[str, str | None]:
    """(trace id, observation id or None) of a Trace or an Observation."""
    return source.trace_id, getattr(source, "observation_id", None)


def _identity(trace_id: str, observation_id: str | None) -> tuple[str, str]:
    """What a duplicate is matched on: the observation for an observation, else the trace."""
    return ("observation", observation_id) if observation_id else ("trace", trace_id)


@transaction.atomic
def dataset_items_add_from_sources(
    *,
    project: Project,
    dataset: Dataset,
    sources: Sequence,
    mapping: SourceMapping,
    allow_duplicates: bool,
    actor: Actor,
) -> AddFromSourcesResult:
    """Turn traces and observations into items linked to them (source trace / observation ids).

    A source that already has an item in this dataset is a duplicate: skipped and reported unless
    `allow_duplicates`. A trace's item is one with its trace id and no observation id; an
    observation's item is one with its observation id.
    """
    if dataset.project_id != project.pk or any(source.project_id != project.pk for source in sources):
        raise ValueError("sources and dataset must belong to the project")
    result = AddFromSourcesResult()
    keys = [_source_key(source) for source in sources]
    taken: set[tuple[str, str]] = set()
    if not allow_duplicates:
        trace_ids = [trace_id for trace_id, observation_id in keys if observation_id is None]
        observation_ids = [observation_id for _, observation_id in keys if observation_id is not None]
        linked = DatasetItem.objects.filter(project=project, dataset=dataset).filter(
            Q(source_trace_id__in=trace_ids, source_observation_id__isnull=True)
            | Q(source_observation_id__in=observation_ids)
        )
        for trace_id, observation_id in linked.values_list("source_trace_id", "source_observation_id"):
            taken.add(_identity(trace_id, observation_id))
    new_items, picked = [], []
    for source, (trace_id, observation_id) in zip(sources, keys, strict=True):
        identity = _identity(trace_id, observation_id)
        if not allow_duplicates and identity in taken:
            result.duplicates.append(identity[1])
            continue
        taken.add(identity)
        picked.append(identity[1])
        source_metadata = source.metadata if isinstance(source.metadata, dict) else {}
        new_items.append(
            NewItem(
                input=getattr(source, mapping.input),
                expected_output=getattr(source, mapping.expected_output) if mapping.expected_output else None,
                metadata={key: source_metadata[key] for key in mapping.metadata_keys if key in source_metadata}
                if mapping.metadata_keys
                else None,
                source_trace_id=trace_id,
                source_observation_id=observation_id,
            )
        )
    created = dataset_items_create_many(
        project=project, dataset=dataset, items=new_items, actor=actor, skip_invalid=True
    )
    for position, problem in created.invalid.items():
        result.invalid[picked[position]] = problem
    result.added = len(created.created_ids)
    return result
