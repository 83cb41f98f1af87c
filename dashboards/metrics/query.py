"""A metrics query, read and checked: every name is looked up in the view's catalogue, so nothing
from the request reaches SQL but bound parameters. Problems are a ValidationError keyed "query"
whose message names the part at fault (`metrics[1].measure: …`)."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.core.exceptions import ValidationError

from dashboards.metrics.catalog import (
    AGGREGATIONS,
    STRING,
    STRING_AGGREGATIONS,
    V2_VIEWS,
    VIEWS,
    Dimension,
    Measure,
    View,
)
from evalsite import timestamps
from evalsite.db import TIME_GRANULARITIES
from evalsite.json_values import json_value_problem

DEFAULT_ROW_LIMIT = 100
MAX_ROW_LIMIT = 1000
# A time series never has more buckets than this: a minute series over a year is refused.
MAX_BUCKETS = 10_000
DEFAULT_BINS = 10
MAX_BINS = 100


@dataclass(frozen=True)
class Metric:
    measure_name: str
    measure: Measure
    aggregation: str

    @property
    def alias(self) -> str:
        return f"{self.aggregation}_{self.measure_name}"


@dataclass(frozen=True)
class Filter:
    column: str
    operator: str
    type: str
    value: Any
    key: str | None
    index: int


@dataclass(frozen=True)
class MetricsQuery:
    view: View
    dimensions: list[tuple[str, Dimension]]
    metrics: list[Metric]
    filters: list[Filter]
    granularity: str | None  # resolved: never "auto"
    from_timestamp: datetime
    to_timestamp: datetime
    order_by: list[tuple[str, str]]  # (output column, "asc"|"desc")
    explicit_order: bool
    row_limit: int | None
    bins: int


def fail(message: str):
    raise ValidationError({"query": [message]})


def parse_query_text(text: Any) -> dict:
    """The `query` parameter: a JSON object."""
    if not isinstance(text, str) or not text.strip():
        fail("is required: a JSON object {view, metrics, fromTimestamp, toTimestamp, …}")
    try:
        document = json.loads(text, parse_constant=_refuse_constant)
    except (ValueError, RecursionError):
        fail("is not valid JSON")
    if not isinstance(document, dict):
        fail("must be a JSON object")
    problem = json_value_problem(document)
    if problem:
        fail(problem)
    return document


def _refuse_constant(name: str):
    raise ValueError(name)


def auto_granularity(start: datetime, end: datetime) -> str:
    """About 50 buckets or fewer, as Langfuse chooses them."""
    hours = (end - start) / timedelta(hours=1)
    if hours < 2:
        return "minute"
    if hours < 72:
        return "hour"
    if hours < 1440:
        return "day"
    if hours < 8760:
        return "week"
    return "month"


def _text(value: Any, where: str) -> str:
    if not isinstance(value, str) or not value:
        fail(f"{where} must be a non-empty string")
    if "\x00" in value:
        fail(f"{where} must not contain NUL characters")
    return value


def _list(document: dict, key: str) -> list:
    value = document.get(key)
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
        fail(f"{key} must be an array of objects")
    return value


def _timestamp(document: dict, key: str) -> datetime:
    if document.get(key) is None:
        fail(f"{key} is required (an ISO-8601 datetime)")
    try:
        return timestamps.parse_timestamp(document[key])
    except timestamps.InvalidTimestamp as problem:
        fail(f"{key} {problem}")


def _int_option(config: dict, key: str, low: int, high: int) -> int | None:
    value = config.get(key)
    if value is None:
        return None
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not math.isfinite(value)
        or int(value) != value
    ):
        fail(f"config.{key} must be an integer from {low} to {high}")
    if not low <= value <= high:
        fail(f"config.{key} must be an integer from {low} to {high}")
    return int(value)


def read_query(document: dict, *, version: int = 1) -> MetricsQuery:
    view_name = document.get("view")
    if view_name not in VIEWS:
        fail(f"view must be one of {', '.join(VIEWS)} (got {view_name!r})")
    if version == 2 and view_name not in V2_VIEWS:
        fail(
            f"view {view_name!r} is not supported by /v2/metrics; one of {', '.join(V2_VIEWS)} (or use /metrics)"
        )
    view = VIEWS[view_name]

    dimensions = []
    for index, item in enumerate(_list(document, "dimensions")):
        field = _text(item.get("field"), f"dimensions[{index}].field")
        if field not in view.dimensions:
            fail(
                f"dimensions[{index}].field: {field!r} is not a dimension of {view.name}; one of {', '.join(view.dimensions)}"
            )
        if version == 2 and view.dimensions[field].high_cardinality:
            fail(
                f"dimensions[{index}].field: {field!r} has one value per row and cannot be grouped by in v2; filter on it instead"
            )
        if any(name == field for name, _ in dimensions):
            fail(f"dimensions[{index}].field: {field!r} is listed twice")
        dimensions.append((field, view.dimensions[field]))
    if sum(1 for _, dimension in dimensions if "tag" in dimension.joins) > 1:
        fail("dimensions: tags may be grouped by once")

    raw_metrics = _list(document, "metrics")
    if not raw_metrics:
        fail("metrics must hold at least one {measure, aggregation}")
    metrics = []
    for index, item in enumerate(raw_metrics):
        name = _text(item.get("measure"), f"metrics[{index}].measure")
        if name not in view.measures:
            fail(
                f"metrics[{index}].measure: {name!r} is not a measure of {view.name}; one of {', '.join(view.measures)}"
            )
        aggregation = item.get("aggregation", item.get("agg"))
        if aggregation not in AGGREGATIONS:
            fail(
                f"metrics[{index}].aggregation must be one of {', '.join(AGGREGATIONS)} (got {aggregation!r})"
            )
        measure = view.measures[name]
        if measure.kind == STRING and aggregation not in STRING_AGGREGATIONS:
            fail(f"metrics[{index}]: {name!r} is not a number; its aggregation must be count or uniq")
        metric = Metric(name, measure, aggregation)
        if any(existing.alias == metric.alias for existing in metrics):
            fail(f"metrics[{index}]: {metric.alias} is listed twice")
        metrics.append(metric)
    if any(metric.aggregation == "histogram" for metric in metrics):
        if len(metrics) > 1:
            fail("metrics: a histogram is the only metric of its query")

    start, end = _timestamp(document, "fromTimestamp"), _timestamp(document, "toTimestamp")
    if end <= start:
        fail("toTimestamp must be after fromTimestamp")

    granularity = None
    time_dimension = document.get("timeDimension")
    if time_dimension is not None:
        if not isinstance(time_dimension, dict):
            fail("timeDimension must be an object {granularity}")
        granularity = time_dimension.get("granularity")
        if granularity not in ("auto", *TIME_GRANULARITIES):
            fail(
                f"timeDimension.granularity must be one of auto, {', '.join(TIME_GRANULARITIES)} (got {granularity!r})"
            )
        if granularity == "auto":
            granularity = auto_granularity(start, end)
        if any(metric.aggregation == "histogram" for metric in metrics):
            fail("timeDimension: a histogram has no time dimension")
        step = {
            "minute": timedelta(minutes=1),
            "hour": timedelta(hours=1),
            "day": timedelta(days=1),
            "week": timedelta(weeks=1),
            "month": timedelta(days=28),
        }[granularity]
        if (end - start) / step > MAX_BUCKETS:
            fail(
                f"timeDimension.granularity: {granularity} buckets over this range are more than {MAX_BUCKETS:,}; pick a coarser one"
            )

    config = document.get("config") or {}
    if not isinstance(config, dict):
        fail("config must be an object {bins, row_limit}")
    row_limit = _int_option(config, "row_limit", 1, MAX_ROW_LIMIT)
    bins = _int_option(config, "bins", 1, MAX_BINS) or DEFAULT_BINS

    filters = []
    for index, item in enumerate(_list(document, "filters")):
        filters.append(
            Filter(
                column=_text(item.get("column"), f"filters[{index}].column"),
                operator=_text(item.get("operator"), f"filters[{index}].operator"),
                type=_text(item.get("type"), f"filters[{index}].type"),
                value=item.get("value"),
                key=item.get("key"),
                index=index,
            )
        )

    outputs = {name: name for name, _ in dimensions} | {metric.alias: metric.alias for metric in metrics}
    if granularity:
        outputs["time_dimension"] = "time_dimension"
    order_by = []
    for index, item in enumerate(_list(document, "orderBy")):
        field = _text(item.get("field"), f"orderBy[{index}].field")
        direction = str(item.get("direction", "asc")).lower()
        if field not in outputs:
            fail(
                f"orderBy[{index}].field: {field!r} is not a dimension or metric of this query; one of {', '.join(outputs)}"
            )
        if direction not in ("asc", "desc"):
            fail(f"orderBy[{index}].direction must be asc or desc")
        order_by.append((field, direction))
    explicit = bool(order_by)
    if not order_by:
        # Langfuse's default: by time, else by the first metric (largest first), else the first dimension.
        if granularity:
            order_by = [("time_dimension", "asc")]
        elif metrics and metrics[0].aggregation != "histogram":
            order_by = [(metrics[0].alias, "desc")]
    # Then every dimension, so ties come back in the same order from either database.
    for name, _ in dimensions:
        if all(name != field for field, _ in order_by):
            order_by.append((name, "asc"))
    if granularity and all(field != "time_dimension" for field, _ in order_by):
        order_by.append(("time_dimension", "asc"))

    if row_limit is None and not granularity:
        row_limit = DEFAULT_ROW_LIMIT
    return MetricsQuery(
        view=view,
        dimensions=dimensions,
        metrics=metrics,
        filters=filters,
        granularity=granularity,
        from_timestamp=start,
        to_timestamp=end,
        order_by=order_by,
        explicit_order=explicit,
        row_limit=row_limit,
        bins=bins,
    )
