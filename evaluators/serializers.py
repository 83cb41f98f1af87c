"""The wire shapes of evaluators and evaluation rules (Langfuse's v2 API, as the SDK's models
describe them), plus the fields we add beside theirs (modelParameters, scoreConfigId, check,
target, delaySeconds, monthlyBudget). Input serializers only check the top-level types; the
services validate the rest and name what is wrong."""

from __future__ import annotations

import base64
import binascii
import json
from datetime import datetime

from rest_framework import serializers
from rest_framework.exceptions import ValidationError

from evalsite import timestamps
from evaluators.models import EvaluationRule, Evaluator, EvaluatorKind, EvaluatorVersion


def creator(user) -> dict | None:
    if user is None:
        return None
    return {"id": str(user.pk), "name": user.get_full_name() or user.get_username()}


def output_definition_wire(definition: dict) -> dict:
    """Without the keys a data type does not have, and without empty instructions."""
    return {key: value for key, value in definition.items() if value is not None}


def version_fields(version: EvaluatorVersion) -> dict:
    fields = {
        "type": "check" if version.check_spec is not None else "llm_as_judge",
        "outputDefinition": output_definition_wire(version.output_definition),
        "scoreConfigId": version.score_config_id,
    }
    if version.check_spec is not None:
        fields["check"] = version.check_spec
        fields.update(prompt=[], variables=[], variableMapping=None, modelConfig=None)
    else:
        fields.update(
            prompt=version.prompt,
            variables=version.variables,
            variableMapping=version.variable_mapping,
            modelConfig={"provider": version.provider, "model": version.model} if version.model else None,
            modelParameters=version.model_parameters,
        )
    return fields


def evaluator_dict(evaluator: Evaluator, version: EvaluatorVersion, assignments: list, *, budget_exhausted: bool = False) -> dict:
    status, reason, message, paused_at = evaluator.status, evaluator.paused_reason, evaluator.paused_message, evaluator.paused_at
    if status == "active" and budget_exhausted and evaluator.kind == EvaluatorKind.LLM_AS_JUDGE:
        status, reason, message = "paused", "BUDGET", "The project's monthly evaluation budget is spent."
    return {
        **version_fields(version),
        "id": evaluator.pk,
        "name": evaluator.name,
        "description": evaluator.description,
        "createdBy": creator(evaluator.created_by),
        "status": status,
        "pausedAt": paused_at,
        "pausedReason": reason,
        "pausedMessage": message,
        "evaluationRuleAssignments": [
            {"evaluationRuleId": a.rule_id, "variableMappingOverride": a.variable_mapping} for a in assignments
        ],
        "createdAt": evaluator.created_at,
        "updatedAt": evaluator.updated_at,
        "versionId": version.pk,
        "version": version.version,
        "versionCreatedAt": version.created_at,
        "versionCreatedBy": creator(version.created_by),
    }


def evaluator_version_dict(version: EvaluatorVersion) -> dict:
    return {
        **version_fields(version),
        "id": version.pk,
        "version": version.version,
        "createdAt": version.created_at,
        "createdBy": creator(version.created_by),
    }


def rule_dict(rule: EvaluationRule, *, budget: dict | None = None) -> dict:
    data = {
        "id": rule.pk,
        "name": rule.name,
        "createdBy": creator(rule.created_by),
        "enabled": rule.enabled,
        "sampling": rule.sampling,
        "filter": rule.filter,
        "evaluatorAssignments": [
            {"evaluatorId": a.evaluator_id, "variableMapping": a.variable_mapping} for a in rule.assignments.all()
        ],
        "createdAt": rule.created_at,
        "updatedAt": rule.updated_at,
        "target": rule.target,
        "delaySeconds": rule.delay_seconds,
        "monthlyBudget": float(rule.monthly_budget) if rule.monthly_budget is not None else None,
    }
    if budget is not None:
        data["status"] = "paused" if budget["exhausted"] else ("active" if rule.enabled else "disabled")
        data["pausedReason"] = "BUDGET" if budget["exhausted"] else None
        data["monthlySpend"] = float(budget["spent"])
    return data


# -- cursors: opaque, over (created_at, id) newest first ------------------------------------------


def encode_cursor(moment: datetime, pk: str) -> str:
    payload = json.dumps({"v": 1, "t": moment.isoformat(), "id": pk}, separators=(",", ":"))
    return base64.urlsafe_b64encode(payload.encode()).decode().rstrip("=")


def decode_cursor(value: str | None) -> tuple[datetime, str] | None:
    if not value:
        return None
    try:
        data = json.loads(base64.urlsafe_b64decode((value + "=" * (-len(value) % 4)).encode()).decode())
        moment = datetime.fromisoformat(data["t"])
        if data.get("v") != 1 or moment.tzinfo is None or not isinstance(data["id"], str):
            raise ValueError(value)
        return timestamps.to_utc(moment), data["id"]
    except (ValueError, KeyError, TypeError, binascii.Error, UnicodeDecodeError):
        raise ValidationError({"cursor": ["is not a cursor returned by this endpoint"]}) from None


class PageQuerySerializer(serializers.Serializer):
    limit = serializers.IntegerField(min_value=1, max_value=100, default=50)
    cursor = serializers.CharField(required=False, allow_blank=True, max_length=1000)


class EvaluatorListQuerySerializer(PageQuerySerializer):
    type = serializers.ChoiceField(choices=["llm_as_judge", "check"], required=False)


class ModelConfigSerializer(serializers.Serializer):
    provider = serializers.CharField(max_length=100)
    model = serializers.CharField(max_length=200)


class EvaluatorWriteSerializer(serializers.Serializer):
    """Create (every definition field) or update (name/description alone, or a whole definition)."""

    type = serializers.CharField(required=False, max_length=40)
    name = serializers.CharField(required=False, max_length=200)
    description = serializers.CharField(required=False, allow_null=True, allow_blank=True, max_length=10_000)
    prompt = serializers.JSONField(required=False)
    modelConfig = ModelConfigSerializer(required=False, allow_null=True)  # noqa: N815
    modelParameters = serializers.DictField(required=False, allow_null=True)  # noqa: N815
    variableMapping = serializers.ListField(child=serializers.DictField(), required=False, allow_null=True)  # noqa: N815
    outputDefinition = serializers.DictField(required=False)  # noqa: N815
    scoreConfigId = serializers.CharField(required=False, allow_null=True, max_length=64)  # noqa: N815
    check = serializers.DictField(required=False)
    sourceCode = serializers.CharField(required=False, allow_blank=True)  # noqa: N815
    sourceCodeLanguage = serializers.CharField(required=False)  # noqa: N815


class EvaluatorAssignmentSerializer(serializers.Serializer):
    evaluatorId = serializers.CharField(max_length=64)  # noqa: N815
    variableMapping = serializers.ListField(child=serializers.DictField(), required=False, allow_null=True)  # noqa: N815


class RuleWriteSerializer(serializers.Serializer):
    name = serializers.CharField(required=False, max_length=200)
    enabled = serializers.BooleanField(required=False)
    sampling = serializers.FloatField(required=False, min_value=0, max_value=1)
    filter = serializers.ListField(child=serializers.DictField(), required=False)
    evaluatorAssignments = EvaluatorAssignmentSerializer(many=True, required=False)  # noqa: N815
    target = serializers.ChoiceField(choices=["observation", "trace"], required=False)
    delaySeconds = serializers.IntegerField(required=False, min_value=0, max_value=3600)  # noqa: N815
    monthlyBudget = serializers.DecimalField(  # noqa: N815
        required=False, allow_null=True, max_digits=20, decimal_places=6, min_value=0
    )


class RunEvaluationsSerializer(serializers.Serializer):
    evaluators = EvaluatorAssignmentSerializer(many=True)


class RunPairwiseSerializer(serializers.Serializer):
    baselineRunId = serializers.CharField(max_length=128)  # noqa: N815
    evaluatorId = serializers.CharField(max_length=64)  # noqa: N815
    bothOrders = serializers.BooleanField(required=False, default=False)  # noqa: N815
