"""Writes to scores and score configs.

Score ingestion is the hot path (`POST /api/public/scores`, the legacy batch's score-create events,
evaluators, annotation): it validates every item in Python (`scoring.validation`), loads the
configs the batch names in one query, and upserts the valid rows in one set-based statement. The
rows travel to the database as one JSON array of row arrays that the database expands itself
(`evalsite.db.Dialect.json_rows`: `jsonb_array_elements` on PostgreSQL, `json_each` on SQLite), so
the statement has the same three parameters whatever the batch size, and no model instance is
built per score.
"""

from dataclasses import dataclass, field
from functools import cache

from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.utils import timezone

from evalsite.db import Dialect
from evalsite.tenancy.actors import SYSTEM, Actor
from evalsite.tenancy.models import Project
from evalsite.tenancy.services import audit_log_record, project_object_delete
from scoring import hooks
from scoring.models import Score, ScoreConfig, ScoreConfigDataType
from scoring.validation import ConfigRule, FieldError, score_config_validate, score_validate

# Written from the validated row dicts, in this order; project_id, created_at and updated_at are
# added by the statement.
UPSERT_COLUMNS = (
    ("score_id", "text"),
    ("name", "text"),
    ("value", "double precision"),
    ("string_value", "text"),
    ("data_type", "text"),
    ("source", "text"),
    ("comment", "text"),
    ("metadata", "jsonb"),
    ("environment", "text"),
    ("timestamp", "timestamptz"),
    ("author_user_id", "bigint"),
    ("config_id", "text"),
    ("queue_id", "text"),
    ("trace_id", "text"),
    ("observation_id", "text"),
    ("session_id", "text"),
    ("dataset_run_id", "text"),
)
CONFIG_RULE_FIELDS = ("id", "name", "data_type", "is_archived", "min_value", "max_value", "categories")


@dataclass
class IngestResult:
    accepted: list[str] = field(default_factory=list)  # score ids, in request order
    errors: list[tuple[int, str]] = field(default_factory=list)  # (item index, "field: message")


def score_config_rules(*, project: Project, config_ids) -> dict[str, ConfigRule]:
    """The configs of `project` among `config_ids`, as validation rules, in one query."""
    rows = ScoreConfig.objects.filter(project=project, id__in=config_ids).values(*CONFIG_RULE_FIELDS)
    return {row["id"]: ConfigRule.from_row(row) for row in rows}


@transaction.atomic
def scores_ingest(
    *, project: Project, items: list, actor: Actor | None = None, source_override: str | None = None
) -> IngestResult:
    """Validate every item and upsert the valid ones by (project, id); invalid ones are reported.

    A retried id updates its row (latest values win, `created_at` stays), never duplicates it;
    within one call the last item with a given id wins. Targets (trace, observation, session,
    run) are not looked up: a score may arrive before what it scores. `source_override` is for
    internal callers (EVAL for evaluators, ANNOTATION for the annotation UI).
    """
    now = timezone.now()
    config_ids = {item["configId"] for item in items if isinstance(item, dict) and isinstance(item.get("configId"), str)}
    configs = score_config_rules(project=project, config_ids=config_ids) if config_ids else {}
    author_id = actor.user.pk if actor is not None and actor.user is not None else None

    result = IngestResult()
    rows: dict[str, dict] = {}
    for index, item in enumerate(items):
        row, errors = score_validate(item, configs=configs, now=now, source_override=source_override)
        if errors:
            result.errors.extend((index, error) for error in errors)
            continue
        row["author_user_id"] = author_id
        rows[row["score_id"]] = row
        result.accepted.append(row["score_id"])
    if rows:
        # In id order, so concurrent batches sharing ids lock their rows in the same order (no deadlock).
        ordered = [rows[score_id] for score_id in sorted(rows)]
        scores_upsert(project_id=project.pk, rows=ordered, now=now)
        if len(hooks.after_scores_written):
            written = {score_id: row["name"] for score_id, row in rows.items()}
            transaction.on_commit(lambda: _after_scores_written(project, written))
    return result


def _after_scores_written(project: Project, written: dict[str, str]) -> None:
    for hook in hooks.after_scores_written:
        hook(project=project, scores=written)


def scores_upsert(*, project_id: str, rows: list[dict], now) -> None:
    """One INSERT … ON CONFLICT (project_id, score_id) DO UPDATE for all rows (ids must be distinct)."""
    dialect = Dialect()
    payload = dialect.json_rows_payload(rows, UPSERT_COLUMNS)
    stamp = dialect.datetime_param(now)
    with connection.cursor() as cursor:
        cursor.execute(upsert_sql(connection.vendor), [project_id, stamp, stamp, payload])


@cache
def upsert_sql(vendor: str) -> str:
    """The upsert statement for one database vendor (cached: it depends on nothing else)."""
    quote = connection.ops.quote_name
    table = quote(Score._meta.db_table)
    columns = [quote(column) for column, _ in UPSERT_COLUMNS]
    insert = ", ".join([quote("project_id"), *columns, quote("created_at"), quote("updated_at")])
    updates = ", ".join(f"{c} = excluded.{c}" for c in [*columns[1:], quote("updated_at")])
    values, source = Dialect().json_rows(UPSERT_COLUMNS)
    return (
        f"INSERT INTO {table} ({insert}) SELECT %s, {values}, %s, %s FROM {source} "
        f"ON CONFLICT ({quote('project_id')}, {quote('score_id')}) DO UPDATE SET {updates}"
    )


@transaction.atomic
def score_delete(*, project: Project, score_id: str, actor: Actor) -> bool:
    """Delete one score of `project`; False when it has no score with that id."""
    score = Score.objects.filter(project=project, score_id=score_id).first()
    if score is None:
        return False
    project_object_delete(
        project=project, obj=score, actor=actor, action="score.delete", score_id=score.score_id, name=score.name
    )
    return True


@transaction.atomic
def scores_delete_for_traces(*, project: Project, trace_ids) -> int:
    """Delete the scores of these traces (their observations' scores included); the count deleted.

    The caller (trace deletion) records the audit entry for the whole deletion.
    """
    deleted, _ = Score.objects.filter(project=project, trace_id__in=list(trace_ids)).delete()
    return deleted


def config_errors_raise(errors: list[FieldError]) -> None:
    if errors:
        raise ValidationError({error.field: [error.detail] for error in errors})


@transaction.atomic
def score_config_create(
    *,
    project: Project,
    name: str,
    data_type: str,
    categories: list | None = None,
    min_value: float | None = None,
    max_value: float | None = None,
    description: str | None = None,
    actor: Actor = SYSTEM,
) -> ScoreConfig:
    """A new config; raises ValidationError naming the wire field (name, dataType, categories…)."""
    fields, errors = score_config_validate(
        name=name, data_type=data_type, categories=categories, min_value=min_value, max_value=max_value
    )
    config_errors_raise(errors)
    config = ScoreConfig.objects.create(project=project, description=description, **fields)
    audit_log_record(
        actor=actor, action="score_config.create", obj=config, organization=project.organization, project=project,
        name=config.name, data_type=config.data_type,
    )
    return config


CONFIG_UPDATABLE = ("name", "categories", "min_value", "max_value", "description", "is_archived")


@transaction.atomic
def score_config_update(*, project: Project, config: ScoreConfig, actor: Actor = SYSTEM, **changes) -> ScoreConfig:
    """Change any of name, categories, min_value, max_value, description, is_archived.

    The data type is fixed: scores already stored against the config were validated for it. The
    changed config is validated as a whole, as on creation.
    """
    if config.project_id != project.pk:
        raise ValueError("score_config_update(): the config belongs to another project")
    unknown = set(changes) - set(CONFIG_UPDATABLE)
    if unknown:
        raise TypeError(f"score_config_update() cannot change {', '.join(sorted(unknown))}")
    merged = {name: changes.get(name, getattr(config, name)) for name in CONFIG_UPDATABLE}
    categories = merged["categories"]
    if config.data_type != ScoreConfigDataType.CATEGORICAL and "categories" not in changes:
        categories = None  # BOOLEAN's fixed categories are regenerated, not re-validated as input
    fields, errors = score_config_validate(
        name=merged["name"], data_type=config.data_type, categories=categories,
        min_value=merged["min_value"], max_value=merged["max_value"],
    )
    config_errors_raise(errors)
    for name, value in {**fields, "description": merged["description"], "is_archived": merged["is_archived"]}.items():
        setattr(config, name, value)
    config.save()
    audit_log_record(
        actor=actor, action="score_config.update", obj=config, organization=project.organization,
        project=project, changed=sorted(changes),
    )
    return config
