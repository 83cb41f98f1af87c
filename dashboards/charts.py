"""Chart descriptions for the pages: what a chart shows, built from metrics rows on the server and
drawn by one small script (templates/dashboards/_charts.html) with plotly, served locally.

A chart always has a title, a unit and the time range it covers; a chart with nothing to show says
so (`empty`) instead of drawing empty axes.
"""

from __future__ import annotations

from collections import OrderedDict
from datetime import datetime
from typing import Any


def time_range_label(start: datetime, end: datetime) -> str:
    return f"{start:%Y-%m-%d %H:%M} – {end:%Y-%m-%d %H:%M} UTC"


def chart(chart_id: str, title: str, *, unit: str, time_range: str, type: str, **data) -> dict[str, Any]:
    spec = {"id": chart_id, "title": title, "unit": unit, "range": time_range, "type": type, **data}
    spec["empty"] = _is_empty(spec)
    return spec


def _is_empty(spec: dict) -> bool:
    if spec["type"] == "number":
        return spec.get("value") is None
    if spec["type"] == "table":
        return not spec.get("rows")
    if spec["type"] == "heatmap":
        return not spec.get("z")
    series = spec.get("series") or []
    return not any(value not in (None, 0) for line in series for value in line.get("y", []))


def time_series(
    rows: list[dict], metric: str, *, split_by: str | None = None, label=str
) -> tuple[list, list[dict]]:
    """`(x, series)` for a line/area/bar time series: one series per value of `split_by`."""
    times = sorted({row["time_dimension"] for row in rows})
    if split_by is None:
        by_time = {row["time_dimension"]: row[metric] for row in rows}
        return times, [{"name": metric, "y": [by_time.get(t) for t in times]}]
    groups: OrderedDict[Any, dict] = OrderedDict()
    for row in sorted(rows, key=lambda r: str(r[split_by])):
        groups.setdefault(row[split_by], {})[row["time_dimension"]] = row[metric]
    return times, [
        {"name": label(key), "y": [values.get(t) for t in times]} for key, values in groups.items()
    ]


def categories(rows: list[dict], dimension: str, metric: str, *, label=str) -> tuple[list, list[dict]]:
    """`(x, series)` for a bar or pie chart over the values of one dimension."""
    return [label(row[dimension]) for row in rows], [{"name": metric, "y": [row[metric] for row in rows]}]
