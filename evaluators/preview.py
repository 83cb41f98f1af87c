"""The rule preview of the admin: on the most recent objects a rule would judge, what each assigned
evaluator's `{{variables}}` would be filled with. Read-only.

It makes the matcher's own decisions (`online.candidates` and `online.decide`: the judges'
environment, the filters, then sampling) on the latest objects of the rule's target, and fills the
variables the way the executor does (`contexts_for_targets`, then `resolve_variables` with the
assignment's mapping, else the version's), so what it shows is what a job would be sent. The rule
may be unsaved (the edit form's values), so a change can be previewed before it is saved.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from evalsite.tenancy.models import Project
from evaluators.context import MissingVariable, resolve_variables
from evaluators.models import EvaluationRule, EvaluatorKind, RuleTarget
from evaluators.online import candidates, decide
from evaluators.selectors import contexts_for_targets
from evaluators.services import latest_versions
from traces.models import Observation, Trace

PREVIEW_OBJECTS = 5
# How many of the latest objects are tried against the filters: a preview stays one bounded read.
RECENT_SCANNED = 500
VALUE_PREVIEW_CHARS = 600


@dataclass
class FilledEvaluator:
    name: str
    kind: str
    values: dict[str, str] = field(default_factory=dict)
    error: str | None = None


@dataclass
class PreviewRow:
    target_kind: str
    target_id: str
    trace_id: str | None
    sampled_in: bool
    evaluators: list[FilledEvaluator]


@dataclass
class Preview:
    scanned: int
    rows: list[PreviewRow]


def _recent_ids(project: Project, target: str) -> tuple[list[str], list[str]]:
    if target == RuleTarget.TRACE:
        ids = Trace.objects.filter(project=project).order_by("-timestamp").values_list("trace_id", flat=True)
        return list(ids[:RECENT_SCANNED]), []
    ids = Observation.objects.filter(project=project).order_by("-start_time").values_list("observation_id", flat=True)
    return [], list(ids[:RECENT_SCANNED])


def _shortened(text: str) -> str:
    return text if len(text) <= VALUE_PREVIEW_CHARS else text[:VALUE_PREVIEW_CHARS] + f"… ({len(text)} characters)"


def rule_preview(*, project: Project, rule: EvaluationRule, assignments: list[dict], limit: int = PREVIEW_OBJECTS) -> Preview:
    """`assignments`: cleaned ones (`services.assignments_clean`: `{"evaluator", "variable_mapping"}`)."""
    trace_ids, observation_ids = _recent_ids(project, rule.target)
    order = {object_id: index for index, object_id in enumerate(trace_ids or observation_ids)}
    found = candidates(project=project, rule_target=rule.target, trace_ids=trace_ids, observation_ids=observation_ids)
    found.sort(key=lambda candidate: order.get(candidate.target.id, len(order)))
    matching = []
    for candidate in found:
        verdict, _ = decide(rule, candidate)
        if verdict != "filtered":
            matching.append((candidate, verdict == "match"))
        if len(matching) == limit:
            break
    contexts = contexts_for_targets(
        project=project, targets=[(candidate.target.kind, candidate.target.id) for candidate, _ in matching]
    )
    versions = latest_versions(project=project, evaluator_ids=[a["evaluator"].pk for a in assignments])
    rows = []
    for (candidate, sampled), context in zip(matching, contexts, strict=True):
        filled = []
        for assignment in assignments:
            evaluator, version = assignment["evaluator"], versions[assignment["evaluator"].pk]
            entry = FilledEvaluator(name=evaluator.name, kind=evaluator.kind)
            if evaluator.kind == EvaluatorKind.CHECK:
                pass  # a check reads the target itself: it has no variables to fill
            elif context is None:
                entry.error = "The object is gone."
            else:
                mapping = assignment["variable_mapping"] if assignment["variable_mapping"] is not None else version.variable_mapping
                try:
                    values = resolve_variables(version.variables, mapping, context)
                    entry.values = {name: _shortened(value) for name, value in values.items()}
                except MissingVariable as error:
                    entry.error = str(error)
            filled.append(entry)
        rows.append(PreviewRow(
            target_kind=candidate.target.kind, target_id=candidate.target.id, trace_id=candidate.target.trace_id,
            sampled_in=sampled, evaluators=filled,
        ))
    return Preview(scanned=len(found), rows=rows)
