"""The score analytics page, /projects/<id>/analytics/scores: pick score series (name · source ·
evaluator version) in a date range; see the first one's distribution, trend and breakdown, the
agreement matrix of all picked, and a judge's calibration against human gold."""

from __future__ import annotations

import json

from django.core.exceptions import ValidationError
from django.shortcuts import render

from dashboards.analytics.scores import (
    BREAKDOWNS,
    CALIBRATION_METRICS,
    ScoreSpec,
    judge_calibration,
    score_comparison,
    score_series_list,
    score_summary,
)
from dashboards.charts import chart, time_range_label
from dashboards.pages import date_range
from evalsite.pages import ProjectPageView


def _spec_value(series: dict) -> str:
    return json.dumps(
        {"name": series["name"], "source": series["source"], "evaluatorVersion": series["evaluatorVersion"]}
    )


def _spec(text: str | None, field: str) -> ScoreSpec | None:
    if not text:
        return None
    try:
        return ScoreSpec.from_wire(json.loads(text), field)
    except (ValueError, ValidationError):
        return None


def _number(value) -> str:
    return "–" if value is None else f"{value:.3g}"


class ScoreAnalyticsPage(ProjectPageView):
    template_name = "dashboards/score_analytics.html"

    def get(self, request, project_id):
        window = date_range(request.GET)
        span = time_range_label(window["from"], window["to"])
        between = {"from_timestamp": window["from"], "to_timestamp": window["to"]}
        series = score_series_list(project=self.project, **between)
        for item in series:
            item["value"] = _spec_value(item)
            item["label"] = ScoreSpec.from_wire(json.loads(item["value"]), "s").label
        picked = [spec for spec in (_spec(text, "s") for text in request.GET.getlist("s")) if spec][:8]
        breakdown = (
            request.GET.get("breakdown") if request.GET.get("breakdown") in BREAKDOWNS else "environment"
        )
        charts, context = (
            [],
            {"summary": None, "comparison": None, "calibration": None, "calibration_value": None},
        )

        if picked:
            summary = score_summary(project=self.project, spec=picked[0], breakdown=breakdown, **between)
            context["summary"] = summary
            label = picked[0].label
            if "histogram" in summary["distribution"]:
                bins = summary["distribution"]["histogram"]
                charts.append(
                    chart(
                        "distribution",
                        f"Distribution of {label}",
                        unit="scores",
                        time_range=span,
                        type="histogram",
                        x=[(lo + hi) / 2 for lo, hi, _ in bins],
                        widths=[(hi - lo) or 0.01 for lo, hi, _ in bins],
                        labels=[f"{lo:.3g} – {hi:.3g}" for lo, hi, _ in bins],
                        series=[{"name": "scores", "y": [n for *_, n in bins]}],
                    )
                )
            else:
                counts = summary["distribution"]["counts"]
                charts.append(
                    chart(
                        "distribution",
                        f"Distribution of {label}",
                        unit="scores",
                        time_range=span,
                        type="vbar",
                        x=[str(row["value"]) for row in counts],
                        series=[{"name": "scores", "y": [row["count"] for row in counts]}],
                    )
                )
            trend = summary["trend"]
            lines = [{"name": "count", "y": [row["count_count"] for row in trend]}]
            unit = "scores"
            if "avg_value" in (trend[0] if trend else {}):
                lines = [
                    {"name": "mean", "y": [row["avg_value"] for row in trend]},
                    {"name": "median", "y": [row["p50_value"] for row in trend]},
                ]
                unit = "score"
            charts.append(
                chart(
                    "trend",
                    f"Trend of {label}",
                    unit=unit,
                    time_range=span,
                    type="line",
                    x=[row["time_dimension"] for row in trend],
                    series=lines,
                )
            )
            dims = BREAKDOWNS[breakdown] + ([] if "avg_value" in summary["summary"] else ["stringValue"])
            metrics = [
                key for key in (summary["breakdown"][0] if summary["breakdown"] else {}) if key not in dims
            ]
            charts.append(
                chart(
                    "breakdown",
                    f"{label} by {breakdown}",
                    unit="",
                    time_range=span,
                    type="table",
                    columns=[*dims, *metrics],
                    rows=[
                        [row[key] if row[key] is not None else "(none)" for key in dims]
                        + [row[m] for m in metrics]
                        for row in summary["breakdown"]
                    ],
                )
            )

        if len(picked) >= 2:
            comparison = score_comparison(project=self.project, specs=picked, **between)
            context["comparison"] = comparison
            names = [item["label"] for item in comparison["scores"]]
            headline = comparison["matrix"]["headline"]
            charts.append(
                chart(
                    "matrix",
                    "Agreement matrix (Pearson for numeric pairs, Cohen's kappa for categorical)",
                    unit="",
                    time_range=span,
                    type="heatmap",
                    x=names,
                    y=names,
                    zmin=-1,
                    zmax=1,
                    z=[
                        [1.0 if i == j else value for j, value in enumerate(row)]
                        for i, row in enumerate(headline)
                    ],
                    text=[
                        [
                            f"{_number(1.0 if i == j else value)}<br>n={comparison['matrix']['matched'][i][j]}"
                            for j, value in enumerate(row)
                        ]
                        for i, row in enumerate(headline)
                    ],
                )
            )
            for pair in comparison["pairs"]:
                pair["a_label"], pair["b_label"] = names[pair["a"]], names[pair["b"]]

        judge, gold = _spec(request.GET.get("judge"), "judge"), _spec(request.GET.get("gold"), "gold")
        metric = request.GET.get("metric") if request.GET.get("metric") in CALIBRATION_METRICS else None
        try:
            threshold = float(request.GET["threshold"]) if request.GET.get("threshold") else None
        except ValueError:
            threshold = None
        if judge and gold:
            calibration = judge_calibration(
                project=self.project,
                judge=judge,
                gold=gold,
                metric=metric,
                threshold=threshold,
                granularity="week",
                **between,
            )
            context["calibration"] = calibration
            context["calibration_value"] = calibration["overall"].get(calibration["metric"])
            times = sorted({p["time"] for v in calibration["versions"] for p in v["points"]})
            lines = []
            for version in calibration["versions"]:
                by_time = {p["time"]: p for p in version["points"]}
                points = [by_time.get(t) for t in times]
                lines.append(
                    {
                        "name": f"version {version['evaluatorVersion']}"
                        if version["evaluatorVersion"]
                        else "no version",
                        "y": [p["value"] if p else None for p in points],
                        "colors": ["#dc2626" if p and p["belowThreshold"] else "#2563eb" for p in points],
                        "symbols": ["x" if p and p["belowThreshold"] else "circle" for p in points],
                    }
                )
            shapes = []
            if threshold is not None:
                shapes = [
                    {
                        "type": "line",
                        "xref": "paper",
                        "x0": 0,
                        "x1": 1,
                        "y0": threshold,
                        "y1": threshold,
                        "line": {"color": "#dc2626", "dash": "dash", "width": 1},
                    }
                ]
            charts.append(
                chart(
                    "calibration",
                    f"{judge.label} against {gold.label}: {calibration['metric']} per week",
                    unit=calibration["metric"],
                    time_range=span,
                    type="line",
                    x=times,
                    series=lines,
                    shapes=shapes,
                )
            )

        return render(
            request,
            self.template_name,
            self.page_context(
                window=window,
                series=series,
                picked=[
                    s.to_wire()
                    | {
                        "value": json.dumps(
                            {"name": s.name, "source": s.source, "evaluatorVersion": s.evaluator_version}
                        )
                    }
                    for s in picked
                ],
                picked_values=request.GET.getlist("s"),
                breakdowns=list(BREAKDOWNS),
                breakdown=breakdown,
                metrics=sorted(CALIBRATION_METRICS),
                metric=metric,
                threshold=threshold,
                judge_value=request.GET.get("judge", ""),
                gold_value=request.GET.get("gold", ""),
                charts=charts,
                **context,
            ),
        )
