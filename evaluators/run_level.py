"""Run evaluators: aggregates over a run's item scores, written as run-level scores (the score's
`datasetRunId`), as the SDK's `run_evaluators` do.

- `mean`: the mean of a NUMERIC or BOOLEAN item score (`scoreName`) over the run's items → one
  score `<scoreName>.mean`.
- `precision_recall_f1`: a BOOLEAN item score read as a prediction, against a label taken from
  each item's expected output (truthy: `true`, `"true"`, `"yes"`, `1`; `labelPath`, a JSONPath, picks
  a field of it) → three scores `<scoreName>.precision`, `.recall`, `.f1`.

Item scores are the latest of that name on each item's trace. Score ids derive from (run, type,
score name, metric): evaluating again updates the same scores.
"""

from __future__ import annotations

import uuid
from statistics import fmean

from django.core.exceptions import ValidationError
from django.db import transaction

from evalsite.tenancy.models import Project
from evaluators.context import extract
from evaluators.definitions import json_path_clean
from experiments.models import ExperimentRun, RunItem
from scoring.models import Score
from scoring.services import scores_ingest

TYPES = ("mean", "precision_recall_f1")
TRUE_WORDS = {"true", "yes", "1", "y", "positive"}


def _label(value) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)):
        return value == 1
    return isinstance(value, str) and value.strip().lower() in TRUE_WORDS


def _score_id(run: ExperimentRun, kind: str, name: str, metric: str) -> str:
    return uuid.uuid5(uuid.NAMESPACE_URL, f"evalsite-run-evaluator:{run.run_id}:{kind}:{name}:{metric}").hex


@transaction.atomic
def run_evaluator_apply(*, project: Project, run: ExperimentRun, kind: str, score_name: str, label_path: str | None = None) -> dict:
    """Compute the aggregate and write it as run-level scores; returns {metric: value}."""
    if kind not in TYPES:
        raise ValidationError({"kind": [f"type must be one of {', '.join(TYPES)}."]})
    if not isinstance(score_name, str) or not score_name:
        raise ValidationError({"score_name": ["scoreName is required."]})
    try:
        label_path = json_path_clean(label_path)
    except ValidationError as error:
        raise ValidationError({"label_path": error.messages}) from None
    items = list(RunItem.objects.filter(project=project, run=run).values("trace_id", "expected_output"))
    latest: dict[str, float] = {}
    scores = Score.objects.filter(
        project=project, trace_id__in=[i["trace_id"] for i in items if i["trace_id"]], name=score_name,
        observation_id__isnull=True, value__isnull=False,
    ).order_by("timestamp").values_list("trace_id", "value")
    for trace_id, value in scores:
        latest[trace_id] = value
    if kind == "mean":
        values = [latest[i["trace_id"]] for i in items if i["trace_id"] in latest]
        metrics = {"mean": fmean(values) if values else None}
    else:
        pairs = [
            (latest[i["trace_id"]] == 1.0, _label(extract(i["expected_output"], label_path)))
            for i in items if i["trace_id"] in latest
        ]
        tp = sum(1 for predicted, actual in pairs if predicted and actual)
        fp = sum(1 for predicted, actual in pairs if predicted and not actual)
        fn = sum(1 for predicted, actual in pairs if not predicted and actual)
        precision = tp / (tp + fp) if tp + fp else None
        recall = tp / (tp + fn) if tp + fn else None
        f1 = 2 * precision * recall / (precision + recall) if precision and recall else (0.0 if precision == 0 or recall == 0 else None)
        metrics = {"precision": precision, "recall": recall, "f1": f1}
    rows = [
        {
            "id": _score_id(run, kind, score_name, metric), "name": f"{score_name}.{metric}", "value": value,
            "dataType": "NUMERIC", "datasetRunId": run.run_id, "source": "EVAL",
            "comment": f"{metric} of {score_name} over {len(latest)} scored items",
            "metadata": {"runEvaluator": kind, "scoreName": score_name},
        }
        for metric, value in metrics.items() if value is not None
    ]
    if rows:
        result = scores_ingest(project=project, items=rows, source_override="EVAL")
        if result.errors:
            raise ValidationError({"score_name": [str(error) for _, error in result.errors]})
    return {"scoredItems": len(latest), "metrics": metrics}
