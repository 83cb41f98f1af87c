"""The metrics engine against a direct Python computation over the same rows, on both databases."""

from collections import Counter, defaultdict
from datetime import timedelta

import numpy
import pytest
from django.core.exceptions import ValidationError

from dashboards.metrics.engine import bucket_start, isoformat
from dashboards.selectors import metrics_query
from tests.dashboards.data import START, populate

pytestmark = pytest.mark.django_db

FROM, TO = START.isoformat(), (START + timedelta(days=10)).isoformat()


@pytest.fixture
def data(project, victim_project):
    populate(victim_project, seed=3, traces=20)  # same ids' shape, another project: never counted
    return populate(project)


def query(project, view, metrics, **extra):
    document = {"view": view, "metrics": metrics, "fromTimestamp": FROM, "toTimestamp": TO, **extra}
    return metrics_query(project=project, query=document)


def latency_ms(o):
    return None if o.end_time is None else (o.end_time - o.start_time) / timedelta(milliseconds=1)


def close(a, b):
    if a is None or b is None:
        return a is b
    return a == pytest.approx(b, rel=1e-9, abs=1e-9)


def test_observation_counts_costs_and_latency_percentiles_per_model(project, data):
    rows = query(
        project,
        "observations",
        [
            {"measure": "count", "aggregation": "count"},
            {"measure": "totalCost", "aggregation": "sum"},
            {"measure": "latency", "aggregation": "p95"},
            {"measure": "latency", "aggregation": "avg"},
            {"measure": "totalTokens", "aggregation": "max"},
        ],
        dimensions=[{"field": "providedModelName"}],
    )
    groups = defaultdict(list)
    for o in data["observations"]:
        groups[o.model].append(o)
    assert {row["providedModelName"] for row in rows} == set(groups)
    for row in rows:
        members = groups[row["providedModelName"]]
        latencies = [latency_ms(o) for o in members if o.end_time is not None]
        assert row["count_count"] == len(members)
        assert close(row["sum_totalCost"], float(sum(o.total_cost for o in members)))
        assert close(row["p95_latency"], float(numpy.percentile(latencies, 95)) if latencies else None)
        assert close(row["avg_latency"], float(numpy.mean(latencies)) if latencies else None)
        assert row["max_totalTokens"] == max(o.total_tokens for o in members)
    counts = [row["count_count"] for row in rows]
    assert counts == sorted(counts, reverse=True)  # the first metric, largest first


@pytest.mark.parametrize("granularity", ["hour", "day", "week", "month"])
def test_observations_over_time_fill_every_bucket_of_the_range(project, data, granularity):
    rows = query(
        project,
        "observations",
        [{"measure": "count", "aggregation": "count"}, {"measure": "latency", "aggregation": "p50"}],
        timeDimension={"granularity": granularity},
    )
    expected = Counter(isoformat(bucket_start(o.start_time, granularity)) for o in data["observations"])
    by_time = {row["time_dimension"]: row for row in rows}
    assert {key: row["count_count"] for key, row in by_time.items() if row["count_count"]} == dict(expected)
    assert [row["time_dimension"] for row in rows] == sorted(by_time)
    assert rows[0]["time_dimension"] == isoformat(bucket_start(START, granularity))
    empty = [row for row in rows if row["count_count"] == 0]
    assert all(row["p50_latency"] is None for row in empty)
    for row in rows:
        latencies = [
            latency_ms(o)
            for o in data["observations"]
            if isoformat(bucket_start(o.start_time, granularity)) == row["time_dimension"] and o.end_time
        ]
        assert close(row["p50_latency"], float(numpy.percentile(latencies, 50)) if latencies else None)


def test_error_rate_by_level_and_environment_with_a_filter(project, data):
    rows = query(
        project,
        "observations",
        [{"measure": "count", "aggregation": "count"}],
        dimensions=[{"field": "level"}, {"field": "environment"}],
        filters=[{"column": "type", "operator": "=", "value": "GENERATION", "type": "string"}],
    )
    expected = Counter((o.level, o.environment) for o in data["observations"] if o.type == "GENERATION")
    assert {(row["level"], row["environment"]): row["count_count"] for row in rows} == dict(expected)


def test_trace_dimensions_tags_and_metadata_filters(project, data):
    traces = {t.trace_id: t for t in data["traces"]}
    rows = query(
        project,
        "observations",
        [{"measure": "count", "aggregation": "count"}, {"measure": "inputCost", "aggregation": "sum"}],
        dimensions=[{"field": "tags"}],
        filters=[
            {"column": "metadata", "key": "team", "operator": "=", "value": "x", "type": "stringObject"},
            {
                "column": "traceName",
                "operator": "any of",
                "value": ["chat", "search"],
                "type": "stringOptions",
            },
        ],
    )
    expected, cost = Counter(), defaultdict(float)
    for o in data["observations"]:
        trace = traces[o.trace_id]
        if o.metadata["team"] == "x" and trace.name in ("chat", "search"):
            for tag in trace.tags:
                expected[tag] += 1
                cost[tag] += o.cost_details["input"]
    assert {row["tags"]: row["count_count"] for row in rows} == dict(expected)
    for row in rows:
        assert close(row["sum_inputCost"], cost[row["tags"]])


@pytest.mark.parametrize(
    "condition, keep",
    [
        (
            {"column": "tags", "operator": "all of", "value": ["a", "b"], "type": "arrayOptions"},
            lambda o, t: {"a", "b"} <= set(t.tags),
        ),
        (
            {"column": "tags", "operator": "none of", "value": ["a"], "type": "arrayOptions"},
            lambda o, t: "a" not in t.tags,
        ),
        (
            {"column": "name", "operator": "starts with", "value": "ret", "type": "string"},
            lambda o, t: o.name.startswith("ret"),
        ),
        (
            {"column": "name", "operator": "ends with", "value": "ol", "type": "string"},
            lambda o, t: o.name.endswith("ol"),
        ),
        (
            {"column": "name", "operator": "does not contain", "value": "l", "type": "string"},
            lambda o, t: "l" not in o.name,
        ),
        (
            {"column": "providedModelName", "operator": "is null", "value": None, "type": "null"},
            lambda o, t: o.model is None,
        ),
        (
            {"column": "promptVersion", "operator": ">=", "value": 2, "type": "number"},
            lambda o, t: (o.prompt_version or 0) >= 2,
        ),
        (
            {"column": "isRootObservation", "operator": "=", "value": True, "type": "boolean"},
            lambda o, t: o.parent_observation_id is None,
        ),
        (
            {"column": "metadata", "key": "n", "operator": "<", "value": 5, "type": "numberObject"},
            lambda o, t: o.metadata["n"] < 5,
        ),
        (
            {
                "column": "startTime",
                "operator": ">",
                "value": (START + timedelta(days=5)).isoformat(),
                "type": "datetime",
            },
            lambda o, t: o.start_time > START + timedelta(days=5),
        ),
        (
            {"column": "userId", "operator": "none of", "value": ["u1"], "type": "stringOptions"},
            lambda o, t: t.user_id != "u1",
        ),
    ],
)
def test_each_filter_keeps_what_python_keeps(project, data, condition, keep):
    traces = {t.trace_id: t for t in data["traces"]}
    rows = query(project, "observations", [{"measure": "count", "aggregation": "count"}], filters=[condition])
    assert rows[0]["count_count"] == sum(1 for o in data["observations"] if keep(o, traces[o.trace_id]))


def test_traces_view_measures_reach_their_observations(project, data):
    rows = query(
        project,
        "traces",
        [
            {"measure": "count", "aggregation": "count"},
            {"measure": "observationsCount", "aggregation": "sum"},
            {"measure": "totalCost", "aggregation": "sum"},
            {"measure": "uniqueUserIds", "aggregation": "uniq"},
            {"measure": "latency", "aggregation": "max"},
        ],
        dimensions=[{"field": "name"}],
    )
    by_trace = defaultdict(list)
    for o in data["observations"]:
        by_trace[o.trace_id].append(o)
    for row in rows:
        traces = [t for t in data["traces"] if t.name == row["name"]]
        observations = [o for t in traces for o in by_trace[t.trace_id]]
        assert row["count_count"] == len(traces)
        assert row["sum_observationsCount"] == len(observations)
        assert close(row["sum_totalCost"], float(sum(o.total_cost for o in observations)))
        assert row["uniq_uniqueUserIds"] == len({t.user_id for t in traces if t.user_id})
        spans = []
        for t in traces:
            ended = [o.end_time for o in by_trace[t.trace_id] if o.end_time]
            if ended:
                spans.append(
                    (max(ended) - min(o.start_time for o in by_trace[t.trace_id])) / timedelta(milliseconds=1)
                )
        assert close(row["max_latency"], max(spans) if spans else None)


def test_numeric_scores_per_name_and_source_with_daily_trend(project, data):
    numeric = [s for s in data["scores"] if s.data_type in ("NUMERIC", "BOOLEAN")]
    rows = query(
        project,
        "scores-numeric",
        [
            {"measure": "value", "aggregation": "avg"},
            {"measure": "value", "aggregation": "p90"},
            {"measure": "count", "aggregation": "count"},
        ],
        dimensions=[{"field": "name"}, {"field": "source"}],
    )
    for row in rows:
        values = [s.value for s in numeric if (s.name, s.source) == (row["name"], row["source"])]
        assert row["count_count"] == len(values)
        assert close(row["avg_value"], float(numpy.mean(values)))
        assert close(row["p90_value"], float(numpy.percentile(values, 90)))
    trend = query(
        project,
        "scores-numeric",
        [{"measure": "value", "aggregation": "p50"}],
        dimensions=[{"field": "name"}],
        timeDimension={"granularity": "day"},
        filters=[{"column": "name", "operator": "=", "value": "accuracy", "type": "string"}],
    )
    for row in trend:
        values = [
            s.value
            for s in numeric
            if s.name == "accuracy" and isoformat(bucket_start(s.timestamp, "day")) == row["time_dimension"]
        ]
        assert close(row["p50_value"], float(numpy.percentile(values, 50)))


def test_categorical_and_boolean_views_count_their_values(project, data):
    rows = query(
        project,
        "scores-categorical",
        [{"measure": "count", "aggregation": "count"}],
        dimensions=[{"field": "stringValue"}],
    )
    assert {row["stringValue"]: row["count_count"] for row in rows} == dict(
        Counter(s.string_value for s in data["scores"] if s.data_type == "CATEGORICAL")
    )
    rows = query(
        project,
        "scores-boolean",
        [{"measure": "value", "aggregation": "avg"}, {"measure": "count", "aggregation": "count"}],
        dimensions=[{"field": "booleanValue"}],
    )
    booleans = [s for s in data["scores"] if s.data_type == "BOOLEAN"]
    assert {row["booleanValue"]: row["count_count"] for row in rows} == dict(
        Counter(s.value == 1 for s in booleans)
    )
    assert {row["booleanValue"]: row["avg_value"] for row in rows} == {True: 1.0, False: 0.0}


def test_histogram_matches_numpy_bins(project, data):
    rows = query(
        project, "observations", [{"measure": "latency", "aggregation": "histogram"}], config={"bins": 7}
    )
    latencies = [latency_ms(o) for o in data["observations"] if o.end_time]
    counts, edges = numpy.histogram(latencies, bins=7)
    bins = rows[0]["histogram_latency"]
    assert [b[2] for b in bins] == [int(c) for c in counts if c]
    kept = [i for i, c in enumerate(counts) if c]
    for (lower, upper, _), i in zip(bins, kept, strict=True):
        assert close(lower, float(edges[i])) and close(upper, float(edges[i + 1]))


def test_another_projects_rows_are_never_counted(project, victim_project, data):
    mine = query(project, "observations", [{"measure": "count", "aggregation": "count"}])
    theirs = query(victim_project, "observations", [{"measure": "count", "aggregation": "count"}])
    assert mine[0]["count_count"] == len(data["observations"])
    assert theirs[0]["count_count"] not in (0, len(data["observations"]))


@pytest.mark.parametrize(
    "change, named",
    [
        ({"view": "spans"}, "view"),
        ({"metrics": []}, "metrics"),
        ({"metrics": [{"measure": "nope", "aggregation": "sum"}]}, "metrics[0].measure"),
        ({"metrics": [{"measure": "latency", "aggregation": "median"}]}, "metrics[0].aggregation"),
        ({"dimensions": [{"field": "colour"}]}, "dimensions[0].field"),
        ({"filters": [{"column": "colour", "operator": "=", "value": "x", "type": "string"}]}, "filters[0]"),
        ({"filters": [{"column": "name", "operator": ">", "value": 3, "type": "number"}]}, "filters[0]"),
        ({"toTimestamp": "2020-01-01T00:00:00Z"}, "toTimestamp"),
        ({"fromTimestamp": "yesterday"}, "fromTimestamp"),
        ({"timeDimension": {"granularity": "fortnight"}}, "timeDimension.granularity"),
        (
            {"timeDimension": {"granularity": "minute"}, "toTimestamp": "2026-01-01T00:00:00Z"},
            "timeDimension.granularity",
        ),
        ({"orderBy": [{"field": "sum_cost", "direction": "asc"}]}, "orderBy[0].field"),
        ({"config": {"row_limit": 0}}, "config.row_limit"),
    ],
)
def test_a_bad_query_is_refused_naming_the_part_at_fault(project, change, named):
    document = {
        "view": "observations",
        "metrics": [{"measure": "count", "aggregation": "count"}],
        "fromTimestamp": FROM,
        "toTimestamp": TO,
        **change,
    }
    with pytest.raises(ValidationError) as refused:
        metrics_query(project=project, query=document)
    assert named in refused.value.message_dict["query"][0]


@pytest.mark.parametrize(
    "view_name", ["traces", "observations", "scores-numeric", "scores-categorical", "scores-boolean"]
)
def test_every_dimension_and_measure_of_every_view_runs_and_counts_every_row(project, data, view_name):
    """Each catalogue entry is valid SQL on this database; grouping by a non-array dimension keeps
    every row (the group counts add up), and every measure answers with every aggregation."""
    from dashboards.metrics.catalog import ARRAY, VIEWS

    view = VIEWS[view_name]
    total = query(project, view_name, [{"measure": "count", "aggregation": "count"}])[0]["count_count"]
    assert total > 0
    for name, dimension in view.dimensions.items():
        rows = query(
            project,
            view_name,
            [{"measure": "count", "aggregation": "count"}],
            dimensions=[{"field": name}],
            config={"row_limit": 1000},
        )
        if dimension.kind != ARRAY:
            assert sum(row["count_count"] for row in rows) == total, name
    for name, measure in view.measures.items():
        aggregations = (
            ["count", "uniq"]
            if measure.kind == "string"
            else ["count", "sum", "avg", "min", "max", "uniq", "p75", "p99"]
        )
        rows = query(project, view_name, [{"measure": name, "aggregation": a} for a in aggregations])
        assert len(rows) == 1, name
