"""Score analytics over the project's scores: which scores exist, their distribution, trend and
breakdown (through the metrics engine, so the numbers are the metrics API's), the agreement between
two or more scores of the same objects, and a judge's calibration against human gold.

A score series is picked by a `ScoreSpec`: a name, and optionally a source (API, EVAL, ANNOTATION),
an evaluator version (seams.EVALUATOR_VERSION_KEY in the metadata) and an environment.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import Count, Max, TextField
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import Cast

from dashboards.analytics import seams
from dashboards.analytics.statistics import categorical_agreement, numeric_agreement
from dashboards.metrics.engine import bucket_start, isoformat
from dashboards.selectors import metrics_query
from evalsite.tenancy.models import Project
from scoring.models import Score, ScoreSource

# How the summary breaks a score down: the name of the choice → the metrics engine's dimensions.
BREAKDOWNS = {
    "environment": ["environment"],
    "release": ["traceRelease"],
    "promptVersion": ["observationPromptName", "observationPromptVersion"],
    "model": ["observationModelName"],
    "tag": ["tags"],
    "source": ["source"],
}
# Scores compared per object: at most this many of each series, newest first, are read.
MAX_SCORES_PER_SERIES = 100_000
CATEGORY_TYPES = ("CATEGORICAL", "BOOLEAN")


@dataclass(frozen=True)
class ScoreSpec:
    name: str
    source: str | None = None
    evaluator_version: str | None = None
    environment: str | None = None
    config_id: str | None = None

    @property
    def label(self) -> str:
        parts = [self.name]
        if self.source:
            parts.append(self.source)
        if self.evaluator_version is not None:
            parts.append(f"v{self.evaluator_version}")
        if self.environment:
            parts.append(self.environment)
        if self.config_id:
            parts.append(f"config {self.config_id}")
        return " · ".join(parts)

    @classmethod
    def from_wire(cls, value: Any, field: str) -> ScoreSpec:
        """`{"name", "source"?, "evaluatorVersion"?, "environment"?, "configId"?}` or a bare name."""
        if isinstance(value, str):
            value = {"name": value}
        if not isinstance(value, dict) or not isinstance(value.get("name"), str) or not value["name"]:
            raise ValidationError(
                {field: ["must be a score name or {name, source?, evaluatorVersion?, environment?}"]}
            )
        source = value.get("source")
        if source is not None and source not in ScoreSource.values:
            raise ValidationError({field: [f"source must be one of {', '.join(ScoreSource.values)}"]})
        version = value.get("evaluatorVersion")
        if version is not None and (isinstance(version, bool) or not isinstance(version, str | int)):
            raise ValidationError({field: ["evaluatorVersion must be a string or an integer"]})
        environment = value.get("environment")
        if environment is not None and not isinstance(environment, str):
            raise ValidationError({field: ["environment must be a string"]})
        config_id = value.get("configId")
        if config_id is not None and not isinstance(config_id, str):
            raise ValidationError({field: ["configId must be a string"]})
        texts = [value["name"], source or "", environment or "", str(version or ""), config_id or ""]
        if any("\x00" in text for text in texts):
            raise ValidationError({field: ["must not contain NUL characters"]})
        return cls(value["name"], source, None if version is None else str(version), environment, config_id)

    def to_wire(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "source": self.source,
            "evaluatorVersion": self.evaluator_version,
            "environment": self.environment,
            "configId": self.config_id,
            "label": self.label,
        }

    def metric_filters(self) -> list[dict[str, Any]]:
        filters = [{"column": "name", "operator": "=", "value": self.name, "type": "string"}]
        if self.source:
            filters.append({"column": "source", "operator": "=", "value": self.source, "type": "string"})
        if self.environment:
            filters.append(
                {"column": "environment", "operator": "=", "value": self.environment, "type": "string"}
            )
        if self.config_id:
            filters.append({"column": "configId", "operator": "=", "value": self.config_id, "type": "string"})
        if self.evaluator_version is not None:
            filters.append(
                {
                    "column": "metadata",
                    "key": seams.EVALUATOR_VERSION_KEY,
                    "operator": "=",
                    "value": self.evaluator_version,
                    "type": "stringObject",
                }
            )
        return filters


def _version():
    # As text on both databases: SQLite's ->> answers a JSON number as an integer, which never
    # equals the text "2" that PostgreSQL's ->> answers.
    return Cast(KeyTextTransform(seams.EVALUATOR_VERSION_KEY, "metadata"), TextField())


def _scores(*, project: Project, from_timestamp: datetime, to_timestamp: datetime):
    return Score.objects.filter(project=project, timestamp__gte=from_timestamp, timestamp__lte=to_timestamp)


def score_series_list(
    *, project: Project, from_timestamp: datetime, to_timestamp: datetime
) -> list[dict[str, Any]]:
    """Every (name, source, evaluator version, data type) with scores in the range, with counts."""
    rows = (
        _scores(project=project, from_timestamp=from_timestamp, to_timestamp=to_timestamp)
        .exclude(data_type__in=("TEXT", "CORRECTION"))
        .annotate(version=_version())
        .values("name", "source", "version", "data_type")
        .annotate(count=Count("id"), last=Max("timestamp"))
        .order_by("name", "source", "version", "data_type")
    )
    return [
        {
            "name": row["name"],
            "source": row["source"],
            "evaluatorVersion": row["version"],
            "dataType": row["data_type"],
            "count": row["count"],
            "lastTimestamp": isoformat(row["last"]),
        }
        for row in rows
    ]


def score_data_type(*, project: Project, name: str) -> str | None:
    """The data type of a score name (its newest score's): NUMERIC, CATEGORICAL or BOOLEAN."""
    return (
        Score.objects.filter(project=project, name=name)
        .exclude(data_type__in=("TEXT", "CORRECTION"))
        .order_by("-timestamp")
        .values_list("data_type", flat=True)
        .first()
    )


def _view(data_type: str | None) -> str:
    return {"CATEGORICAL": "scores-categorical", "BOOLEAN": "scores-boolean"}.get(
        data_type or "", "scores-numeric"
    )


def score_summary(
    *,
    project: Project,
    spec: ScoreSpec,
    from_timestamp: datetime,
    to_timestamp: datetime,
    breakdown: str = "environment",
    granularity: str = "auto",
    bins: int = 20,
) -> dict[str, Any]:
    """Distribution, trend and breakdown of one score series, each one metrics query."""
    if breakdown not in BREAKDOWNS:
        raise ValidationError({"breakdown": [f"must be one of {', '.join(BREAKDOWNS)}"]})
    data_type = score_data_type(project=project, name=spec.name)
    view = _view(data_type)
    common = {
        "view": view,
        "filters": spec.metric_filters(),
        "fromTimestamp": from_timestamp.isoformat(),
        "toTimestamp": to_timestamp.isoformat(),
    }

    def ask(**query):
        return metrics_query(project=project, query=common | query)

    numeric = view != "scores-categorical"
    summary_metrics = [{"measure": "count", "aggregation": "count"}]
    if numeric:
        summary_metrics += [
            {"measure": "value", "aggregation": agg} for agg in ("avg", "min", "max", "p50", "p90")
        ]
    result: dict[str, Any] = {
        "spec": spec.to_wire(),
        "dataType": data_type,
        "view": view,
        "breakdownBy": breakdown,
    }
    result["summary"] = ask(metrics=summary_metrics)[0]
    if view == "scores-numeric":
        histogram = ask(metrics=[{"measure": "value", "aggregation": "histogram"}], config={"bins": bins})
        result["distribution"] = {"histogram": histogram[0]["histogram_value"] if histogram else []}
    else:
        label = "booleanValue" if view == "scores-boolean" else "stringValue"
        counts = ask(metrics=[{"measure": "count", "aggregation": "count"}], dimensions=[{"field": label}])
        result["distribution"] = {
            "counts": [{"value": row[label], "count": row["count_count"]} for row in counts]
        }
    trend_metrics = [{"measure": "count", "aggregation": "count"}]
    if numeric:
        trend_metrics += [
            {"measure": "value", "aggregation": "avg"},
            {"measure": "value", "aggregation": "p50"},
        ]
    result["trend"] = ask(metrics=trend_metrics, timeDimension={"granularity": granularity})
    breakdown_metrics = [{"measure": "count", "aggregation": "count"}]
    if numeric:
        breakdown_metrics.append({"measure": "value", "aggregation": "avg"})
    dimensions = [{"field": field} for field in BREAKDOWNS[breakdown]]
    if not numeric:
        dimensions.append({"field": "stringValue"})
    result["breakdown"] = ask(metrics=breakdown_metrics, dimensions=dimensions, config={"row_limit": 200})
    return result


# --- comparison of scores on the same objects ----------------------------------------------------------


def _object_key(row: dict) -> tuple:
    return (row["trace_id"], row["observation_id"], row["session_id"], row["dataset_run_id"])


def _series_values(
    *, project: Project, spec: ScoreSpec, from_timestamp: datetime, to_timestamp: datetime, gold: bool = False
) -> dict[tuple, dict[str, Any]]:
    """The series' value per scored object: its newest score there (for human gold, the final
    annotation where one exists, seams.FINAL_ANNOTATION_KEY)."""
    scores = _scores(project=project, from_timestamp=from_timestamp, to_timestamp=to_timestamp).filter(
        name=spec.name
    )
    if spec.source:
        scores = scores.filter(source=spec.source)
    if spec.environment:
        scores = scores.filter(environment=spec.environment)
    if spec.config_id:
        scores = scores.filter(config_id=spec.config_id)
    if spec.evaluator_version is not None:
        scores = scores.annotate(version=_version()).filter(version=spec.evaluator_version)
    fields = (
        "trace_id",
        "observation_id",
        "session_id",
        "dataset_run_id",
        "value",
        "string_value",
        "data_type",
        "timestamp",
        "metadata",
    )
    values: dict[tuple, dict[str, Any]] = {}
    for row in scores.order_by("-timestamp", "-id").values(*fields)[:MAX_SCORES_PER_SERIES]:
        key = _object_key(row)
        if key not in values or (
            gold and seams.is_final_annotation(row["metadata"]) and not values[key]["final"]
        ):
            values[key] = row | {"final": seams.is_final_annotation(row["metadata"])}
    return values


def _label(row: dict) -> str | None:
    if row["data_type"] == "BOOLEAN":
        return "True" if row["value"] == 1 else "False"
    return row["string_value"]


def compare_values(reference: list[dict], other: list[dict]) -> dict[str, Any]:
    """Agreement of matched rows: categorical when either side is categorical or boolean."""
    if any(row["data_type"] in CATEGORY_TYPES for row in reference + other):
        result = categorical_agreement([_label(row) for row in reference], [_label(row) for row in other])
        return {"kind": "categorical"} | result
    return {"kind": "numeric"} | numeric_agreement(
        [row["value"] for row in reference], [row["value"] for row in other]
    )


def score_comparison(
    *, project: Project, specs: list[ScoreSpec], from_timestamp: datetime, to_timestamp: datetime
) -> dict[str, Any]:
    """Every pair of the series, on the objects both scored: a matrix of agreement."""
    if len(specs) < 2:
        raise ValidationError({"scores": ["name at least two score series to compare"]})
    if len(set(specs)) != len(specs):
        raise ValidationError({"scores": ["each series may be named once"]})
    series = [
        _series_values(
            project=project,
            spec=spec,
            from_timestamp=from_timestamp,
            to_timestamp=to_timestamp,
            gold=spec.source == ScoreSource.ANNOTATION,
        )
        for spec in specs
    ]
    pairs, size = [], len(specs)
    headline = [[None] * size for _ in range(size)]
    matched = [[0] * size for _ in range(size)]
    for i in range(size):
        matched[i][i] = len(series[i])
        for j in range(i + 1, size):
            keys = sorted(set(series[i]) & set(series[j]), key=str)
            result = compare_values([series[i][k] for k in keys], [series[j][k] for k in keys])
            pairs.append({"a": i, "b": j} | result)
            value = result.get("kappa") if result["kind"] == "categorical" else result.get("pearson")
            headline[i][j] = headline[j][i] = value
            matched[i][j] = matched[j][i] = result["n"]
    return {
        "scores": [spec.to_wire() for spec in specs],
        "pairs": pairs,
        "matrix": {"headline": headline, "matched": matched},
    }


# --- judge calibration ----------------------------------------------------------------------------------

CALIBRATION_METRICS = {"kappa", "accuracy", "macroF1", "pearson", "spearman", "mae", "rmse"}
# Lower is better for these: "below the threshold" means above it.
ERROR_METRICS = {"mae", "rmse"}


def judge_calibration(
    *,
    project: Project,
    judge: ScoreSpec,
    gold: ScoreSpec,
    from_timestamp: datetime,
    to_timestamp: datetime,
    granularity: str = "week",
    metric: str | None = None,
    threshold: float | None = None,
) -> dict[str, Any]:
    """The judge's agreement with human gold per time bucket (of the judge's score) and per
    evaluator version, with the buckets where it falls past the threshold marked."""
    judge_all = _series_values(
        project=project, spec=judge, from_timestamp=from_timestamp, to_timestamp=to_timestamp
    )
    gold_values = _series_values(
        project=project, spec=gold, from_timestamp=from_timestamp, to_timestamp=to_timestamp, gold=True
    )
    matched = [key for key in judge_all if key in gold_values]
    categorical = any(
        judge_all[k]["data_type"] in CATEGORY_TYPES or gold_values[k]["data_type"] in CATEGORY_TYPES
        for k in matched
    )
    metric = metric or ("kappa" if categorical else "mae")
    if metric not in CALIBRATION_METRICS:
        raise ValidationError({"metric": [f"must be one of {', '.join(sorted(CALIBRATION_METRICS))}"]})
    groups: dict[tuple[str | None, str], list] = defaultdict(list)
    for key in matched:
        row = judge_all[key]
        version = seams.evaluator_version_of(row["metadata"])
        groups[(version, isoformat(bucket_start(row["timestamp"], granularity)))].append(key)
    overall = compare_values([gold_values[k] for k in matched], [judge_all[k] for k in matched])
    series: dict[str | None, list] = defaultdict(list)
    for (version, bucket), keys in sorted(groups.items(), key=lambda item: (str(item[0][0]), item[0][1])):
        result = compare_values([gold_values[k] for k in keys], [judge_all[k] for k in keys])
        value = result.get(metric)
        below = None
        if threshold is not None and value is not None:
            below = value > threshold if metric in ERROR_METRICS else value < threshold
        series[version].append({"time": bucket, "n": result["n"], "value": value, "belowThreshold": below})
    return {
        "judge": judge.to_wire(),
        "gold": gold.to_wire(),
        "metric": metric,
        "threshold": threshold,
        "granularity": granularity,
        "overall": overall,
        "versions": [{"evaluatorVersion": version, "points": points} for version, points in series.items()],
    }
