"""Writes of gate policies (every edit a new version), gate evaluations and released runs.

Refusals are Django `ValidationError`s keyed by the argument that is wrong (`name`, `baseline`,
`method`, `rules`, `candidate`); a message about one rule names it by its place and field
(`[2].alpha: …`). A duplicate policy name is a `Conflict`.
"""

from __future__ import annotations

import math
import re
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from evalsite.errors import Conflict
from evalsite.tenancy.actors import SYSTEM, Actor
from evalsite.tenancy.models import Project
from evalsite.tenancy.services import audit_log_record, project_object_delete
from experiments import comparison as cmp
from experiments.gates import evaluation, selectors
from experiments.gates.models import GatePolicy, GateResult, RunRelease
from experiments.models import ExperimentRun

NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")
MAX_RULES = 50
SCORE_NAME_MAX = 500
DEFAULT_ALPHA = 0.05
DEFAULT_MIN_PAIRS = 10
BASELINE_KINDS = ("run", "latestReleased")
# Per rule type: its required fields and its optional ones with their defaults (filled in on save,
# so the stored policy states every number it decides by).
RULE_FIELDS: dict[str, tuple[tuple[str, ...], dict[str, Any]]] = {
    "minMean": (("score", "threshold"), {"minItems": 1}),
    "noRegression": (("score",), {"alpha": DEFAULT_ALPHA, "minPairs": DEFAULT_MIN_PAIRS, "delta": None}),
    "nonInferiority": (("score", "delta"), {"alpha": DEFAULT_ALPHA, "minPairs": DEFAULT_MIN_PAIRS}),
    "maxErrorRate": (("threshold",), {"minItems": 1}),
    "maxCostPerItem": (("threshold",), {"minItems": 1}),
    "maxLatencyP90": (("threshold",), {"minItems": 1}),
}
RULE_TYPES = tuple(RULE_FIELDS)
POLICY_FIELDS = ("description", "baseline", "method", "rules")


def _actor_name(actor: Actor) -> str:
    return str(actor)[:200]


# --- validation -----------------------------------------------------------------------------------


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return None
    return float(value)


def _integer(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return value if isinstance(value, int) else None


def _rule_errors(index: int, rule: Any) -> tuple[dict | None, list[str]]:
    where = f"[{index}]"
    if not isinstance(rule, dict):
        return None, [f"{where}: must be an object with a `type`"]
    kind = rule.get("type")
    if kind not in RULE_FIELDS:
        return None, [f"{where}.type: must be one of {', '.join(RULE_TYPES)}"]
    required, optional = RULE_FIELDS[kind]
    errors = []
    unknown = sorted(set(rule) - {"type", *required, *optional})
    if unknown:
        errors.append(f"{where}: {kind} rules take no {', '.join(unknown)}")
    clean: dict[str, Any] = {"type": kind}
    for name in required:
        if rule.get(name) is None:
            errors.append(f"{where}.{name}: required for {kind} rules")
    for name, default in optional.items():
        clean[name] = default
    for name in (*required, *optional):
        value = rule.get(name)
        if value is None:
            continue
        problem, clean_value = _field_problem(kind, name, value)
        if problem:
            errors.append(f"{where}.{name}: {problem}")
        else:
            clean[name] = clean_value
    return clean, errors


def _field_problem(kind: str, name: str, value: Any) -> tuple[str | None, Any]:
    if name == "score":
        if not isinstance(value, str) or not value.strip() or len(value) > SCORE_NAME_MAX:
            return f"must be a score name of 1 to {SCORE_NAME_MAX} characters", None
        return None, value
    if name in ("minItems", "minPairs"):
        number = _integer(value)
        low = 2 if name == "minPairs" else 1
        if number is None or not low <= number <= 1_000_000:
            return f"must be a whole number from {low} to 1000000", None
        return None, number
    number = _number(value)
    if number is None:
        return "must be a finite number", None
    if name == "alpha" and not 0 < number < 0.5:
        return "must lie strictly between 0 and 0.5", None
    if name == "delta" and not number > 0:
        return "must be greater than 0 (a margin on the score's scale)", None
    if name == "threshold":
        if kind == "maxErrorRate" and not 0 <= number <= 1:
            return "must lie between 0 and 1 (a share of the items)", None
        if kind in ("maxCostPerItem", "maxLatencyP90") and number < 0:
            return "must not be negative", None
    return None, number


def _validated_rules(rules: Any) -> list[dict]:
    if not isinstance(rules, list) or not rules:
        raise ValidationError({"rules": ["must be a non-empty list of rules"]})
    if len(rules) > MAX_RULES:
        raise ValidationError({"rules": [f"at most {MAX_RULES} rules"]})
    clean, errors, seen = [], [], {}
    for index, rule in enumerate(rules):
        rule_clean, rule_errors = _rule_errors(index, rule)
        errors += rule_errors
        if rule_clean is None:
            continue
        key = (rule_clean["type"], rule_clean.get("score"))
        if key in seen and not rule_errors:
            errors.append(f"[{index}]: repeats rule [{seen[key]}] ({key[0]}{' on ' + key[1] if key[1] else ''})")
        seen.setdefault(key, index)
        clean.append(rule_clean)
    if errors:
        raise ValidationError({"rules": errors})
    return clean


def _validated_baseline(project: Project, baseline: Any) -> dict:
    if not isinstance(baseline, dict) or baseline.get("kind") not in BASELINE_KINDS:
        raise ValidationError({"baseline": [f"must be an object whose `kind` is one of {', '.join(BASELINE_KINDS)}"]})
    if baseline["kind"] == "latestReleased":
        if set(baseline) - {"kind"}:
            raise ValidationError({"baseline": ["a latestReleased baseline takes no other field"]})
        return {"kind": "latestReleased"}
    run = baseline.get("run")
    if set(baseline) - {"kind", "run"} or not isinstance(run, str) or not run.strip():
        raise ValidationError({"baseline": ["a run baseline names the run: {\"kind\": \"run\", \"run\": <id or name>}"]})
    if selectors.gate_run_find(project=project, ref=run) is None:
        raise ValidationError({"baseline": [f"no experiment run with the id or name {run!r} in this project"]})
    return {"kind": "run", "run": run}


def gate_policy_validate(project: Project, *, baseline: Any, method: Any, rules: Any) -> dict:
    """The policy's baseline, method and rules as stored (defaults filled in); raises ValidationError."""
    if method not in cmp.METHODS:
        raise ValidationError({"method": [f"must be one of {', '.join(cmp.METHODS)}"]})
    return {"baseline": _validated_baseline(project, baseline), "method": method, "rules": _validated_rules(rules)}


# --- policies ---------------------------------------------------------------------------------------


@transaction.atomic
def gate_policy_create(
    *,
    project: Project,
    name: str,
    baseline: Any,
    rules: Any,
    method: str = "wilcoxon",
    description: str | None = None,
    actor: Actor = SYSTEM,
) -> GatePolicy:
    """Version 1 of a new policy; a name already in use is a Conflict (edit it to add a version)."""
    if not isinstance(name, str) or not NAME_PATTERN.fullmatch(name):
        raise ValidationError({"name": ["1 to 100 letters, digits, '.', '_' or '-', starting with a letter or digit"]})
    fields = gate_policy_validate(project, baseline=baseline, method=method, rules=rules)
    if selectors.gate_policy_get(project=project, name=name) is not None:
        raise Conflict(f"A gate policy named {name!r} exists; edit it to add a version")
    try:
        with transaction.atomic():
            policy = GatePolicy.objects.create(
                project=project, name=name, version=1, description=description, created_by=_actor_name(actor), **fields
            )
    except IntegrityError:  # created by a concurrent request between the check and the insert
        raise Conflict(f"A gate policy named {name!r} exists; edit it to add a version") from None
    audit_log_record(
        actor=actor, action="gate_policy.create", obj=policy, organization=project.organization, project=project,
        name=name, version=1,
    )
    return policy


@transaction.atomic
def gate_policy_update(*, project: Project, policy: GatePolicy, actor: Actor = SYSTEM, **changes) -> GatePolicy:
    """A new version with `changes` (description, baseline, method, rules) over the current one.

    Versions are never edited in place: a stored result names the version it was judged by. A change
    that changes nothing adds no version.
    """
    if policy.project_id != project.pk:
        raise ValueError("gate_policy_update(): the policy belongs to another project")
    unknown = set(changes) - set(POLICY_FIELDS)
    if unknown:
        raise TypeError(f"gate_policy_update() cannot change {', '.join(sorted(unknown))}")
    # Lock the versions of this name, so two edits cannot both become version n + 1.
    current = (
        GatePolicy.objects.select_for_update().filter(project=project, name=policy.name).order_by("-version").first()
    )
    merged = {name: changes.get(name, getattr(current, name)) for name in POLICY_FIELDS}
    fields = gate_policy_validate(project, baseline=merged["baseline"], method=merged["method"], rules=merged["rules"])
    fields["description"] = merged["description"]
    if all(fields[name] == getattr(current, name) for name in POLICY_FIELDS):
        return current
    version = current.version + 1
    new = GatePolicy.objects.create(
        project=project, name=current.name, version=version, created_by=_actor_name(actor), **fields
    )
    audit_log_record(
        actor=actor, action="gate_policy.update", obj=new, organization=project.organization, project=project,
        name=new.name, version=version, changed=sorted(name for name in POLICY_FIELDS if fields[name] != getattr(current, name)),
    )
    return new


@transaction.atomic
def gate_policy_delete(*, project: Project, name: str, actor: Actor = SYSTEM) -> int:
    """Delete every version of a policy; its results stay, with the policy document they were judged by."""
    versions = list(selectors.gate_policy_versions(project=project, name=name))
    for policy in versions:
        project_object_delete(project=project, obj=policy, actor=actor, action="gate_policy.delete", name=name, version=policy.version)
    return len(versions)


# --- evaluation -------------------------------------------------------------------------------------


def _baseline_for(project: Project, policy: GatePolicy, candidate: ExperimentRun) -> tuple[ExperimentRun | None, str | None]:
    """The policy's baseline for this candidate, or None and why not."""
    if policy.baseline["kind"] == "run":
        baseline = selectors.gate_run_find(project=project, ref=policy.baseline["run"])
        if baseline is None:
            return None, f"the policy's baseline run {policy.baseline['run']!r} no longer exists"
        if baseline.pk == candidate.pk:
            return None, "the candidate is the policy's baseline run itself"
        return baseline, None
    if candidate.dataset_id is None:
        return None, "the candidate ran on local data, not a dataset, so it has no latest released run to compare with"
    baseline = selectors.run_release_latest(project=project, dataset_id=candidate.dataset_id, exclude=candidate)
    if baseline is None:
        return None, f"no run of dataset {candidate.dataset.name!r} is marked as released yet"
    return baseline, None


@transaction.atomic
def gate_evaluate(*, project: Project, policy: GatePolicy, candidate: str, actor: Actor = SYSTEM) -> GateResult:
    """Judge the candidate run (id or name) by the policy and store the result on it."""
    if policy.project_id != project.pk:
        raise ValueError("gate_evaluate(): the policy belongs to another project")
    run = selectors.gate_run_find(project=project, ref=candidate) if isinstance(candidate, str) else None
    if run is None:
        raise ValidationError({"candidate": [f"no experiment run with the id or name {candidate!r} in this project"]})
    baseline, note = _baseline_for(project, policy, run)
    run_ids = [baseline.run_id, run.run_id] if baseline is not None else [run.run_id]
    comparison = cmp.comparison_build(
        project=project,
        run_ids=run_ids,
        baseline_id=baseline.run_id if baseline is not None else None,
        method=policy.method,
    )
    results = evaluation.judge(
        rules=policy.rules, comparison=comparison, candidate_index=len(run_ids) - 1, baseline_note=note
    )
    return GateResult.objects.create(
        project=project,
        run=run,
        baseline=baseline,
        policy=policy,
        policy_name=policy.name,
        policy_version=policy.version,
        policy_document=policy.document(),
        outcome=evaluation.overall_outcome(results),
        rules=[result.to_dict() for result in results],
        baseline_note=note,
        created_by=_actor_name(actor),
    )


# --- released runs ----------------------------------------------------------------------------------


@transaction.atomic
def run_release_mark(*, project: Project, run: ExperimentRun, actor: Actor = SYSTEM) -> RunRelease:
    """Mark the run as released (again: the mark moves to now, so baselines follow the newest mark)."""
    if run.project_id != project.pk:
        raise ValueError("run_release_mark(): the run belongs to another project")
    release, _ = RunRelease.objects.update_or_create(
        run=run, defaults={"project": project, "released_at": timezone.now(), "released_by": _actor_name(actor)}
    )
    audit_log_record(
        actor=actor, action="experiment_run.release", obj=run, organization=project.organization, project=project,
        run_id=run.run_id,
    )
    return release


@transaction.atomic
def run_release_unmark(*, project: Project, run: ExperimentRun, actor: Actor = SYSTEM) -> bool:
    """Take the released mark off the run; False when it had none."""
    if run.project_id != project.pk:
        raise ValueError("run_release_unmark(): the run belongs to another project")
    deleted, _ = RunRelease.objects.filter(project=project, run=run).delete()
    if deleted:
        audit_log_record(
            actor=actor, action="experiment_run.unrelease", obj=run, organization=project.organization, project=project,
            run_id=run.run_id,
        )
    return bool(deleted)
