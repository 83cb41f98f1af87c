"""Writes to evaluators, their versions and evaluation rules (jobs: evaluators/jobs.py).

Every service is keyword-only, runs in a transaction, raises ValidationError keyed by its argument
names (or NotFound), and writes an audit entry. Editing an evaluator's definition adds a version;
no version is ever changed.
"""

from __future__ import annotations

import math
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from evalsite.errors import NotFound
from evalsite.llm.connections import llm_connection_get
from evalsite.llm.models import LlmConnection
from evalsite.tenancy.actors import SYSTEM, Actor
from evalsite.tenancy.models import Project
from evalsite.tenancy.services import audit_log_record
from evaluators import definitions
from evaluators.checks import check_clean
from evaluators.filters import filters_clean
from evaluators.models import (
    EvaluationRule,
    Evaluator,
    EvaluatorKind,
    EvaluatorStatus,
    EvaluatorVersion,
    PauseReason,
    RuleAssignment,
    RuleTarget,
)
from scoring.models import ScoreConfig

NAME_MAX_LENGTH = 200
MAX_ASSIGNMENTS = 20
MAX_DELAY_SECONDS = 3_600
CODE_REFUSED = (
    "Code evaluators (type: code) are not supported: this platform runs no user code. Use a "
    "deterministic check instead (type: check; exact_match, contains, not_contains, regex, valid_json, "
    "json_schema, numeric_tolerance, similarity, length, latency, cost) or an LLM judge (type: llm_as_judge)."
)


def _name(value: Any, field: str = "name") -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValidationError({field: ["A name is required."]})
    if len(value.strip()) > NAME_MAX_LENGTH:
        raise ValidationError({field: [f"A name has at most {NAME_MAX_LENGTH} characters."]})
    return value.strip()


def _keyed(field: str, call, *args, **kwargs):
    """Run a validator, keying its plain ValidationError by `field`."""
    try:
        return call(*args, **kwargs)
    except ValidationError as error:
        raise ValidationError({field: error.messages}) from None


def _audit(*, actor: Actor, action: str, obj, project: Project, **detail) -> None:
    audit_log_record(actor=actor, action=action, obj=obj, organization=project.organization, project=project, **detail)


# -- evaluator definitions ----------------------------------------------------------------------


def _definition(
    *,
    project: Project,
    kind: str,
    prompt: Any = None,
    model_config: dict | None = None,
    model_parameters: dict | None = None,
    variable_mapping: Any = None,
    output_definition: Any = None,
    score_config_id: str | None = None,
    check: Any = None,
) -> dict[str, Any]:
    """The validated fields of a new version."""
    if kind == "code":
        raise ValidationError({"type": [CODE_REFUSED]})
    if kind not in EvaluatorKind.values:
        raise ValidationError({"type": ["type must be llm_as_judge or check."]})
    fields: dict[str, Any] = {}
    if kind == EvaluatorKind.CHECK:
        cleaned, output = _keyed("check", check_clean, check)
        fields.update(check_spec=cleaned, output_definition=output, prompt=[], variables=[])
    else:
        messages = _keyed("prompt", definitions.prompt_clean, prompt)
        variables = definitions.prompt_variables(messages)
        fields.update(
            prompt=messages,
            variables=variables,
            variable_mapping=_keyed(
                "variable_mapping", definitions.variable_mapping_clean, variable_mapping, variables=variables
            ),
            output_definition=_keyed("output_definition", definitions.output_definition_clean, output_definition),
        )
        fields.update(_model(project=project, model_config=model_config, model_parameters=model_parameters))
    if score_config_id is not None:
        config = ScoreConfig.objects.filter(project=project, pk=score_config_id, is_archived=False).first()
        if config is None:
            raise ValidationError({"score_config_id": [f"No score config {score_config_id!r} in this project."]})
        if config.data_type != fields["output_definition"]["dataType"]:
            raise ValidationError({"score_config_id": [
                f"The score config is {config.data_type}; the evaluator outputs {fields['output_definition']['dataType']}."
            ]})
        fields["score_config"] = config
    return fields


def _model(*, project: Project, model_config: Any, model_parameters: Any) -> dict[str, Any]:
    if model_parameters is not None and not isinstance(model_parameters, dict):
        raise ValidationError({"model_parameters": ["Model parameters must be an object."]})
    if model_config is None:
        # Langfuse would use a project default model; we have none, so the evaluator shows
        # paused (MODEL_CONFIG_MISSING) until a definition names one.
        return {"connection": None, "provider": None, "model": None, "model_parameters": model_parameters}
    if not isinstance(model_config, dict):
        raise ValidationError({"model_config": ["modelConfig must be an object with provider and model."]})
    provider, model = model_config.get("provider"), model_config.get("model")
    if not isinstance(provider, str) or not provider or not isinstance(model, str) or not model.strip():
        raise ValidationError({"model_config": ["modelConfig needs a provider and a model."]})
    try:
        # Looked up in this project only: another project's connection is simply not found.
        connection = llm_connection_get(project=project, provider=provider)
    except LlmConnection.DoesNotExist:
        raise ValidationError({"model_config": [f"No LLM connection {provider!r} in this project."]}) from None
    return {"connection": connection, "provider": provider, "model": model.strip(), "model_parameters": model_parameters}


def _add_version(*, evaluator: Evaluator, fields: dict, actor: Actor) -> EvaluatorVersion:
    latest = evaluator.versions.aggregate(latest=Max("version"))["latest"] or 0
    return EvaluatorVersion.objects.create(
        project_id=evaluator.project_id, evaluator=evaluator, version=latest + 1, created_by=actor.user, **fields
    )


def _model_status(evaluator: Evaluator, version: EvaluatorVersion) -> None:
    """A judge without a model cannot run: it shows paused until a definition names one."""
    if evaluator.kind != EvaluatorKind.LLM_AS_JUDGE:
        return
    if version.model is None and evaluator.status == EvaluatorStatus.ACTIVE:
        _pause(evaluator, PauseReason.MODEL_CONFIG_MISSING, "No model configured: set modelConfig.")
    elif version.model is not None and evaluator.paused_reason == PauseReason.MODEL_CONFIG_MISSING:
        _unpause(evaluator)


def _pause(evaluator: Evaluator, reason: str, message: str) -> None:
    evaluator.status, evaluator.paused_at = EvaluatorStatus.PAUSED, timezone.now()
    evaluator.paused_reason, evaluator.paused_message = reason, message


def _unpause(evaluator: Evaluator) -> None:
    evaluator.status = EvaluatorStatus.ACTIVE
    evaluator.paused_at = evaluator.paused_reason = evaluator.paused_message = None


@transaction.atomic
def evaluator_create(
    *, project: Project, name: Any, kind: Any, description: str | None = None, actor: Actor = SYSTEM, **definition
) -> Evaluator:
    """A new evaluator at version 1. `definition`: prompt, model_config, model_parameters,
    variable_mapping, output_definition, score_config_id (judges) or check (checks)."""
    name = _name(name)
    fields = _definition(project=project, kind=kind, **definition)
    evaluator = Evaluator.objects.create(
        project=project, name=name, description=description, kind=kind, created_by=actor.user
    )
    version = _add_version(evaluator=evaluator, fields=fields, actor=actor)
    _model_status(evaluator, version)
    evaluator.save()
    _audit(actor=actor, action="evaluator.create", obj=evaluator, project=project, name=name, kind=kind)
    return evaluator


@transaction.atomic
def evaluator_update(
    *, project: Project, evaluator: Evaluator, actor: Actor = SYSTEM, kind: Any = None, **changes
) -> Evaluator:
    """Change the name or description (no new version), or replace the whole definition (a new
    version). The kind of an evaluator cannot change."""
    if evaluator.project_id != project.pk:
        raise ValueError("evaluator_update(): the evaluator belongs to another project")
    metadata = {key: changes.pop(key) for key in ("name", "description") if key in changes}
    if "name" in metadata:
        evaluator.name = _name(metadata["name"])
    if "description" in metadata:
        evaluator.description = metadata["description"]
    version = None
    if kind is not None or changes:
        kind = kind or evaluator.kind
        if kind == "code":
            raise ValidationError({"type": [CODE_REFUSED]})
        if kind != evaluator.kind:
            raise ValidationError({"type": [f"The type of an evaluator cannot change (it is {evaluator.kind})."]})
        version = _add_version(evaluator=evaluator, fields=_definition(project=project, kind=kind, **changes), actor=actor)
        _model_status(evaluator, version)
    elif not metadata:
        raise ValidationError({"name": ["Give at least one field to change."]})
    evaluator.save()
    _audit(
        actor=actor, action="evaluator.update", obj=evaluator, project=project,
        changed=sorted(metadata) + (["definition"] if version else []),
        version=version.version if version else None,
    )
    return evaluator


@transaction.atomic
def evaluator_delete(*, project: Project, evaluator: Evaluator, actor: Actor = SYSTEM) -> None:
    """Delete an evaluator: it leaves the lists and its rule assignments; its scores stay, and its
    pending jobs are skipped with the reason "evaluator deleted"."""
    from evaluators.jobs import jobs_skip_pending

    evaluator.deleted_at = timezone.now()
    evaluator.save(update_fields=["deleted_at", "updated_at"])
    RuleAssignment.objects.filter(project=project, evaluator=evaluator).delete()
    jobs_skip_pending(project=project, evaluator=evaluator, reason="evaluator_deleted")
    _audit(actor=actor, action="evaluator.delete", obj=evaluator, project=project, name=evaluator.name)


@transaction.atomic
def evaluator_pause(*, project: Project, evaluator: Evaluator, message: str = "", actor: Actor = SYSTEM) -> Evaluator:
    _pause(evaluator, PauseReason.MANUAL, message or "Paused by hand.")
    evaluator.save()
    _audit(actor=actor, action="evaluator.pause", obj=evaluator, project=project, message=message)
    return evaluator


@transaction.atomic
def evaluator_resume(*, project: Project, evaluator: Evaluator, actor: Actor = SYSTEM) -> Evaluator:
    version = evaluator.versions.order_by("-version").first()
    _unpause(evaluator)
    _model_status(evaluator, version)
    evaluator.save()
    _audit(actor=actor, action="evaluator.resume", obj=evaluator, project=project)
    return evaluator


# -- rules -------------------------------------------------------------------------------------


def _sampling(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or not 0 <= value <= 1:
        raise ValidationError({"sampling": ["sampling must be a number from 0 to 1."]})
    return float(value)


def _delay(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_DELAY_SECONDS:
        raise ValidationError({"delay_seconds": [f"delaySeconds must be a whole number from 0 to {MAX_DELAY_SECONDS}."]})
    return value


def _budget(value: Any):
    from decimal import Decimal, InvalidOperation

    if value is None:
        return None
    try:
        amount = Decimal(str(value))
    except (InvalidOperation, ValueError):
        amount = None
    if isinstance(value, bool) or amount is None or not amount.is_finite() or amount < 0 or amount > Decimal("1e12"):
        raise ValidationError({"monthly_budget": ["monthlyBudget must be a non-negative number, or null."]})
    return amount


def assignments_clean(*, project: Project, assignments: Any, field: str = "evaluator_assignments") -> list[dict]:
    """`[{"evaluatorId", "variableMapping"?}]` → `[{"evaluator", "variable_mapping"}]`, each evaluator
    of this project, not deleted, once; a mapping must name only the evaluator's variables."""
    if not isinstance(assignments, list):
        raise ValidationError({field: ["A list of {evaluatorId, variableMapping} is required."]})
    if len(assignments) > MAX_ASSIGNMENTS:
        raise ValidationError({field: [f"At most {MAX_ASSIGNMENTS} evaluators."]})
    ids = [a.get("evaluatorId") if isinstance(a, dict) else None for a in assignments]
    if not all(isinstance(i, str) and i for i in ids):
        raise ValidationError({field: ["Each assignment needs an evaluatorId."]})
    if len(set(ids)) != len(ids):
        raise ValidationError({field: ["An evaluator is assigned at most once."]})
    evaluators = {e.pk: e for e in Evaluator.objects.filter(project=project, pk__in=ids, deleted_at__isnull=True)}
    versions = latest_versions(project=project, evaluator_ids=list(evaluators))
    cleaned = []
    for index, (evaluator_id, assignment) in enumerate(zip(ids, assignments, strict=True)):
        evaluator = evaluators.get(evaluator_id)
        if evaluator is None:
            raise ValidationError({field: [f"No evaluator {evaluator_id!r} in this project."]})
        if definitions.is_pairwise(versions[evaluator_id].variables):
            raise ValidationError({field: [
                f"{evaluator.name!r} is a pairwise evaluator ({{{{output_a}}}}, {{{{output_b}}}}): it compares two runs; "
                "start it with POST /api/public/experiments/runs/{runId}/pairwise."
            ]})
        try:
            mapping = definitions.variable_mapping_clean(
                assignment.get("variableMapping"), variables=versions[evaluator_id].variables
            )
        except ValidationError as error:
            raise ValidationError({field: [f"[{index}] {error.messages[0]}"]}) from None
        cleaned.append({"evaluator": evaluator, "variable_mapping": mapping})
    return cleaned


def latest_versions(*, project: Project, evaluator_ids: list[str]) -> dict[str, EvaluatorVersion]:
    """evaluator id → its latest version, in one query."""
    versions: dict[str, EvaluatorVersion] = {}
    for version in EvaluatorVersion.objects.filter(project=project, evaluator_id__in=evaluator_ids).order_by(
        "evaluator_id", "-version"
    ):
        versions.setdefault(version.evaluator_id, version)
    return versions


def _set_assignments(rule: EvaluationRule, assignments: list[dict]) -> None:
    RuleAssignment.objects.filter(project_id=rule.project_id, rule=rule).delete()
    RuleAssignment.objects.bulk_create(
        RuleAssignment(
            project_id=rule.project_id, rule=rule, evaluator=a["evaluator"], variable_mapping=a["variable_mapping"],
            position=position,
        )
        for position, a in enumerate(assignments)
    )


@transaction.atomic
def evaluation_rule_create(
    *,
    project: Project,
    name: Any,
    enabled: Any,
    evaluator_assignments: Any,
    sampling: Any = 1.0,
    filter: Any = None,  # noqa: A002  (the wire's name)
    target: Any = RuleTarget.OBSERVATION,
    delay_seconds: Any = 0,
    monthly_budget: Any = None,
    actor: Actor = SYSTEM,
) -> EvaluationRule:
    if not isinstance(enabled, bool):
        raise ValidationError({"enabled": ["enabled must be true or false."]})
    if target not in RuleTarget.values:
        raise ValidationError({"target": [f"target must be one of {', '.join(RuleTarget.values)}."]})
    assignments = assignments_clean(project=project, assignments=evaluator_assignments)
    if enabled and not assignments:
        raise ValidationError({"evaluator_assignments": ["An enabled rule needs at least one evaluator."]})
    rule = EvaluationRule.objects.create(
        project=project,
        name=_name(name),
        enabled=enabled,
        target=target,
        sampling=_sampling(sampling),
        filter=_keyed("filter", filters_clean, filter if filter is not None else [], target=target),
        delay_seconds=_delay(delay_seconds),
        monthly_budget=_budget(monthly_budget),
        created_by=actor.user,
    )
    _set_assignments(rule, assignments)
    _audit(actor=actor, action="evaluation_rule.create", obj=rule, project=project, name=rule.name, enabled=enabled)
    return rule


RULE_UPDATABLE = ("name", "enabled", "sampling", "filter", "evaluator_assignments", "target", "delay_seconds", "monthly_budget")


@transaction.atomic
def evaluation_rule_update(*, project: Project, rule: EvaluationRule, actor: Actor = SYSTEM, **changes) -> EvaluationRule:
    """Change any of RULE_UPDATABLE; an empty assignment list disables the rule."""
    if rule.project_id != project.pk:
        raise ValueError("evaluation_rule_update(): the rule belongs to another project")
    unknown = set(changes) - set(RULE_UPDATABLE)
    if unknown:
        raise TypeError(f"evaluation_rule_update() cannot change {', '.join(sorted(unknown))}")
    if not changes:
        raise ValidationError({"name": ["Give at least one field to change."]})
    if "name" in changes:
        rule.name = _name(changes["name"])
    if "enabled" in changes:
        if not isinstance(changes["enabled"], bool):
            raise ValidationError({"enabled": ["enabled must be true or false."]})
        rule.enabled = changes["enabled"]
    if "sampling" in changes:
        rule.sampling = _sampling(changes["sampling"])
    if "target" in changes:
        if changes["target"] not in RuleTarget.values:
            raise ValidationError({"target": [f"target must be one of {', '.join(RuleTarget.values)}."]})
        rule.target = changes["target"]
    if "filter" in changes or "target" in changes:
        rule.filter = _keyed("filter", filters_clean, changes.get("filter", rule.filter) or [], target=rule.target)
    if "delay_seconds" in changes:
        rule.delay_seconds = _delay(changes["delay_seconds"])
    if "monthly_budget" in changes:
        rule.monthly_budget = _budget(changes["monthly_budget"])
    if "evaluator_assignments" in changes:
        assignments = assignments_clean(project=project, assignments=changes["evaluator_assignments"])
        _set_assignments(rule, assignments)
        if not assignments:
            rule.enabled = False
    if rule.enabled and not rule.assignments.exists():
        raise ValidationError({"evaluator_assignments": ["An enabled rule needs at least one evaluator."]})
    rule.save()
    _audit(actor=actor, action="evaluation_rule.update", obj=rule, project=project, changed=sorted(changes))
    return rule


@transaction.atomic
def evaluation_rule_delete(*, project: Project, rule: EvaluationRule, actor: Actor = SYSTEM) -> None:
    _audit(actor=actor, action="evaluation_rule.delete", obj=rule, project=project, name=rule.name)
    rule.delete()


def evaluator_get(*, project: Project, evaluator_id: str) -> Evaluator:
    evaluator = Evaluator.objects.filter(project=project, pk=evaluator_id, deleted_at__isnull=True).first()
    if evaluator is None:
        raise NotFound(f"Evaluator not found: {evaluator_id}")
    return evaluator
