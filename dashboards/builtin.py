"""The built-in project dashboard (the project's home): a fixed set of metrics queries, each drawn
as one chart. The queries are public (`builtin_queries`) so the tests can ask the metrics API the
same questions and compare, and the benchmark can time them one by one."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import Any

from dashboards.analytics import seams
from dashboards.charts import categories, chart, time_range_label, time_series
from dashboards.metrics.engine import isoformat
from dashboards.selectors import metrics_query
from evalsite.tenancy.models import Project

COUNT = {"measure": "count", "aggregation": "count"}
PERCENTILES = ("p50", "p90", "p95", "p99")


def builtin_queries(
    *, from_timestamp: datetime, to_timestamp: datetime, environments: list[str]
) -> dict[str, dict]:
    """Every query of the dashboard, by name, in the metrics API's shape."""
    window = {"fromTimestamp": isoformat(from_timestamp), "toTimestamp": isoformat(to_timestamp)}
    where = (
        [{"column": "environment", "operator": "any of", "value": environments, "type": "stringOptions"}]
        if environments
        else []
    )
    auto = {"timeDimension": {"granularity": "auto"}}
    return {
        "traces_over_time": {"view": "traces", "metrics": [COUNT], "filters": where, **auto, **window},
        "observations_over_time": {
            "view": "observations",
            "metrics": [COUNT],
            "filters": where,
            **auto,
            **window,
        },
        "latency_percentiles": {
            "view": "observations",
            "filters": where,
            **auto,
            **window,
            "metrics": [{"measure": "latency", "aggregation": p} for p in PERCENTILES],
        },
        "cost_by_model": {
            "view": "observations",
            "dimensions": [{"field": "providedModelName"}],
            "filters": where,
            **window,
            "metrics": [{"measure": "totalCost", "aggregation": "sum"}, COUNT],
            "config": {"row_limit": 20},
        },
        "levels_over_time": {
            "view": "observations",
            "dimensions": [{"field": "level"}],
            "metrics": [COUNT],
            "filters": where,
            **auto,
            **window,
        },
        "scores_over_time": {
            "view": "scores-numeric",
            "dimensions": [{"field": "name"}],
            "filters": where,
            **auto,
            **window,
            "metrics": [{"measure": "value", "aggregation": "avg"}, COUNT],
        },
        "environments": {
            "view": "traces",
            "dimensions": [{"field": "environment"}],
            "metrics": [COUNT],
            **window,
        },
    }


def project_dashboard(
    *, project: Project, from_timestamp: datetime, to_timestamp: datetime, environments: list[str]
) -> dict[str, Any]:
    queries = builtin_queries(
        from_timestamp=from_timestamp, to_timestamp=to_timestamp, environments=environments
    )
    rows = {name: metrics_query(project=project, query=query) for name, query in queries.items()}
    span = time_range_label(from_timestamp, to_timestamp)

    traces_x, traces_y = time_series(rows["traces_over_time"], "count_count")
    observations_x, observations_y = time_series(rows["observations_over_time"], "count_count")
    latency = rows["latency_percentiles"]
    latency_x = [row["time_dimension"] for row in latency]
    latency_series = [{"name": p, "y": [row[f"{p}_latency"] for row in latency]} for p in PERCENTILES]
    cost_x, cost_y = categories(
        rows["cost_by_model"], "providedModelName", "sum_totalCost", label=lambda m: m or "(no model)"
    )

    # Error rate per bucket: ERROR observations over all observations of the bucket.
    per_bucket: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for row in rows["levels_over_time"]:
        per_bucket[row["time_dimension"]][row["level"]] += row["count_count"]
    error_x = observations_x
    error_y = [
        (per_bucket[t]["ERROR"] / sum(per_bucket[t].values()) * 100) if sum(per_bucket[t].values()) else None
        for t in error_x
    ]
    scores_x, scores_series = time_series(rows["scores_over_time"], "avg_value", split_by="name")

    total_observations = sum(y for y in observations_y[0]["y"] if y)
    total_errors = sum(counts["ERROR"] for counts in per_bucket.values())
    numbers = {
        "traces": sum(y for y in traces_y[0]["y"] if y),
        "observations": total_observations,
        "cost": sum(row["sum_totalCost"] or 0 for row in rows["cost_by_model"]),
        "error_rate": (total_errors / total_observations * 100) if total_observations else None,
    }
    charts = [
        chart("traces", "Traces", unit="traces", time_range=span, type="bar", x=traces_x, series=traces_y),
        chart(
            "observations",
            "Observations",
            unit="observations",
            time_range=span,
            type="bar",
            x=observations_x,
            series=observations_y,
        ),
        chart(
            "latency",
            "Observation latency percentiles",
            unit="ms",
            time_range=span,
            type="line",
            x=latency_x,
            series=latency_series,
        ),
        chart("cost", "Cost by model", unit="USD", time_range=span, type="hbar", x=cost_x, series=cost_y),
        chart(
            "errors",
            "Error rate (level ERROR)",
            unit="%",
            time_range=span,
            type="line",
            x=error_x,
            series=[{"name": "error rate", "y": error_y}],
        ),
        chart(
            "scores",
            "Numeric scores over time (mean per name)",
            unit="score",
            time_range=span,
            type="line",
            x=scores_x,
            series=scores_series,
        ),
    ]
    # From the evaluators' job ledger and the annotation queues (dashboards/analytics/seams.py).
    spend = seams.evaluator_spend(project=project, from_timestamp=from_timestamp, to_timestamp=to_timestamp)
    progress = seams.queue_progress(project=project)
    charts += [evaluator_spend_chart(spend, span), queue_progress_chart(progress)]
    return {
        "numbers": numbers,
        "charts": charts,
        "environments": sorted(row["environment"] for row in rows["environments"] if row["environment"]),
        "evaluator_spend": spend,
        "queue_progress": progress,
    }


def evaluator_spend_chart(spend: list[dict], span: str) -> dict:
    """Bars per UTC day, one series per evaluator (days without spend are absent, not zero)."""
    days = sorted({row["day"] for row in spend})
    names: dict[str, str] = {}
    cost: dict[tuple, float] = {}
    for row in spend:
        names.setdefault(row["evaluator_id"], row["evaluator_name"])
        cost[(row["evaluator_id"], row["day"])] = float(row["cost"])
    series = [
        {"name": name, "y": [cost.get((evaluator_id, day)) for day in days]} for evaluator_id, name in names.items()
    ]
    x = [day.isoformat() for day in days]
    return chart("evaluator_spend", "Evaluator spend per day", unit="USD", time_range=span, type="vbar", x=x, series=series)


def queue_progress_chart(progress: list[dict]) -> dict:
    rows = [[q["name"], q["total"], q["completed"], q["pending"], q["in_progress"]] for q in progress]
    return chart(
        "queue_progress", "Annotation queue progress", unit="", time_range="now", type="table",
        columns=["queue", "items", "completed", "pending", "in progress"], rows=rows,
    )
