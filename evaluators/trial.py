""""Try it": one evaluator on one chosen trace, observation or run item, judged exactly as the
executor would judge a job on it, with nothing written (no job, no score, no judge trace).

The target's context comes from the selectors the executor uses (`contexts_for_targets` is
`contexts_for_jobs` on unsaved probes); a check runs through `check_run`; a judge goes through the
executor's own `prepare_judge` (variables, filled messages, answer format, the connection's
endpoint) and `judge` (the model call with its `response_format` fallback, then `parse_answer`) on
an `Outcome` around an unsaved job. The executor only writes in `flush`, which is never called here.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from decimal import Decimal

from django.core.exceptions import ValidationError

from evalsite.llm.pricing import compute_cost
from evalsite.tenancy.models import Project
from evaluators.checks import CheckResult, check_run
from evaluators.executor import Executor, Outcome
from evaluators.judge import JudgeScore
from evaluators.models import EvaluationJob, Evaluator, EvaluatorKind, EvaluatorVersion, JobTarget
from evaluators.selectors import contexts_for_targets

TARGET_LABELS = {JobTarget.TRACE: "trace", JobTarget.OBSERVATION: "observation", JobTarget.RUN_ITEM: "run item"}


@dataclass
class Trial:
    version: EvaluatorVersion
    messages: list[dict] | None = None  # the filled messages a judge was sent
    raw_answer: str | None = None
    score: JudgeScore | CheckResult | None = None
    error: str | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    cost: Decimal | None = None
    latency_ms: int | None = None

    @property
    def shown_messages(self) -> list[tuple[str, str]]:
        """(role, text) of each message sent; content that is not plain text (parts) as JSON."""
        return [
            (m["role"], m["content"] if isinstance(m["content"], str) else json.dumps(m["content"], indent=2, ensure_ascii=False))
            for m in self.messages or []
        ]

    @property
    def values(self) -> list:
        if isinstance(self.score, CheckResult):
            return [self.score.value]
        return list(self.score.values) if self.score is not None else []

    @property
    def explanation(self) -> str | None:
        if isinstance(self.score, CheckResult):
            return self.score.comment
        return self.score.reasoning if self.score is not None else None


def evaluator_try(
    *,
    project: Project,
    evaluator: Evaluator,
    target_kind: str,
    target_id: str,
    version: EvaluatorVersion | None = None,
    variable_mapping: list | None = None,
) -> Trial:
    """Judge one target with `version` (default: the latest), with a mapping override like a rule
    assignment's. Raises ValidationError keyed `target_id` when the target is not in the project."""
    if evaluator.project_id != project.pk:
        raise ValueError("evaluator_try(): the evaluator belongs to another project")
    if target_kind not in TARGET_LABELS:
        raise ValidationError({"target_kind": [f"target_kind must be one of {', '.join(TARGET_LABELS)}."]})
    target_id = (target_id or "").strip()
    label = TARGET_LABELS[target_kind]
    # A run item's id is its number (a bigint): anything else names no run item, and must reach
    # neither int() nor the database.
    not_a_number = not (target_id.isascii() and target_id.isdigit() and len(target_id) <= 18)
    if not target_id or (target_kind == JobTarget.RUN_ITEM and not_a_number):
        raise ValidationError({"target_id": [f"Give the id of a {label} of this project."]})
    context = contexts_for_targets(project=project, targets=[(target_kind, target_id)])[0]
    if context is None:
        raise ValidationError({"target_id": [f"No {label} {target_id!r} in this project."]})
    version = version or evaluator.versions.select_related("connection").order_by("-version").first()
    job = EvaluationJob(
        project=project, evaluator=evaluator, evaluator_version=version, target_kind=target_kind,
        target_id=target_id, variable_mapping=variable_mapping,
    )
    outcome = Outcome(job=job, context=context)
    executor = Executor(concurrency=1)
    if evaluator.kind == EvaluatorKind.CHECK:
        outcome.score = check_run(version.check_spec, context)
    else:
        executor.prepare_judge(outcome)
        if outcome.error is None:
            executor.attach_media(outcome)  # images go to the judge as they would from a job
            executor.judge(outcome)
    trial = Trial(
        version=version, messages=outcome.messages, raw_answer=outcome.raw_answer, score=outcome.score,
        error=outcome.error,
    )
    result = outcome.result
    if result is not None:
        trial.input_tokens, trial.output_tokens, trial.latency_ms = result.input_tokens, result.output_tokens, result.latency_ms
        price = executor.price_for(project, result.model)
        if price is not None:
            trial.cost = Decimal(str(compute_cost(price, result.usage)["total"]))
    return trial
