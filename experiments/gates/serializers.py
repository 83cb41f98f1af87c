"""Wire shapes of gate policies, gate results and released runs (camelCase, like the rest of the API).

Input serializers check shapes only; the rules (which fields each rule type takes, their ranges,
whether the baseline run exists) are the service's, which names the offending field."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from experiments import comparison as cmp
from experiments.gates.models import GateResult, RunRelease
from experiments.gates.services import BASELINE_KINDS, RULE_TYPES, SCORE_NAME_MAX


class BaselineSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=BASELINE_KINDS)
    run = serializers.CharField(required=False, max_length=500, help_text="kind `run`: the run's id or name")


class RuleSerializer(serializers.Serializer):
    """One rule; which fields a type takes is in GATES.md (the service refuses the others)."""

    type = serializers.ChoiceField(choices=RULE_TYPES)
    score = serializers.CharField(required=False, max_length=SCORE_NAME_MAX, trim_whitespace=False)
    threshold = serializers.FloatField(required=False)
    alpha = serializers.FloatField(required=False)
    delta = serializers.FloatField(required=False, allow_null=True)
    minPairs = serializers.IntegerField(required=False)
    minItems = serializers.IntegerField(required=False)


class GatePolicyCreateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=100, trim_whitespace=False)
    description = serializers.CharField(required=False, allow_null=True, allow_blank=True)
    baseline = BaselineSerializer()
    method = serializers.ChoiceField(choices=cmp.METHODS, default="wilcoxon")
    rules = RuleSerializer(many=True, allow_empty=False)

    def service_arguments(self) -> dict[str, Any]:
        data = self.validated_data
        return {
            "name": data["name"],
            "description": data.get("description"),
            "baseline": dict(data["baseline"]),
            "method": data["method"],
            "rules": [dict(rule) for rule in data["rules"]],
        }


class GatePolicyUpdateSerializer(serializers.Serializer):
    """Every field optional; the result is a new version of the policy."""

    description = serializers.CharField(required=False, allow_null=True, allow_blank=True)
    baseline = BaselineSerializer(required=False)
    method = serializers.ChoiceField(choices=cmp.METHODS, required=False)
    rules = RuleSerializer(many=True, allow_empty=False, required=False)

    def service_changes(self) -> dict[str, Any]:
        data = self.validated_data
        changes: dict[str, Any] = {}
        if "description" in data:
            changes["description"] = data["description"]
        if "baseline" in data:
            changes["baseline"] = dict(data["baseline"])
        if "method" in data:
            changes["method"] = data["method"]
        if "rules" in data:
            changes["rules"] = [dict(rule) for rule in data["rules"]]
        return changes


class GatePolicySerializer(serializers.Serializer):
    id = serializers.CharField(source="pk")
    projectId = serializers.CharField(source="project_id")
    name = serializers.CharField()
    version = serializers.IntegerField()
    description = serializers.CharField(allow_null=True)
    baseline = serializers.JSONField()
    method = serializers.CharField()
    rules = serializers.JSONField()
    createdBy = serializers.CharField(source="created_by")
    createdAt = serializers.DateTimeField(source="created_at")


class GatePolicyQuerySerializer(serializers.Serializer):
    version = serializers.IntegerField(required=False, min_value=1, max_value=2**31 - 1)


class GateEvaluateSerializer(serializers.Serializer):
    candidate = serializers.CharField(max_length=500, help_text="the candidate run's id, or its name (the newest run of that name)")


def _run_ref(run) -> dict | None:
    if run is None:
        return None
    return {"id": run.run_id, "name": run.name, "datasetId": run.dataset_id}


def gate_result_dict(result: GateResult) -> dict[str, Any]:
    return {
        "id": str(result.pk),
        "gate": result.policy_name,
        "version": result.policy_version,
        "outcome": result.outcome,
        "candidate": _run_ref(result.run),
        "baseline": _run_ref(result.baseline),
        "baselineNote": result.baseline_note,
        "rules": result.rules,
        "policy": result.policy_document,
        "createdBy": result.created_by,
        "createdAt": serializers.DateTimeField().to_representation(result.created_at),
    }


class GateResultResponse(serializers.Serializer):
    """The schema of a gate result (gate_result_dict builds it)."""

    id = serializers.CharField()
    gate = serializers.CharField()
    version = serializers.IntegerField()
    outcome = serializers.ChoiceField(choices=["pass", "fail", "cannot_tell"])
    candidate = serializers.JSONField()
    baseline = serializers.JSONField(allow_null=True)
    baselineNote = serializers.CharField(allow_null=True)
    rules = serializers.JSONField(help_text="every rule: outcome, value, bound, pValue, ciLow, ciHigh, n, requiredN, reason")
    policy = serializers.JSONField()
    createdBy = serializers.CharField()
    createdAt = serializers.DateTimeField()


def run_release_dict(run, release: RunRelease | None) -> dict[str, Any]:
    return {
        "runId": run.run_id,
        "name": run.name,
        "datasetId": run.dataset_id,
        "released": release is not None,
        "releasedAt": serializers.DateTimeField().to_representation(release.released_at) if release else None,
        "releasedBy": release.released_by if release else None,
    }


class RunReleaseResponse(serializers.Serializer):
    runId = serializers.CharField()
    name = serializers.CharField()
    datasetId = serializers.CharField(allow_null=True)
    released = serializers.BooleanField()
    releasedAt = serializers.DateTimeField(allow_null=True)
    releasedBy = serializers.CharField(allow_null=True)

