"""Score analytics: series, summary, comparison matrix and judge calibration, over the API."""

import json
import random
from datetime import UTC, datetime, timedelta

import numpy
import pytest
from scipy import stats
from statsmodels.stats.inter_rater import cohens_kappa

from dashboards.analytics import seams
from dashboards.analytics.statistics import confusion
from scoring.models import Score

pytestmark = pytest.mark.django_db

START = datetime(2025, 5, 5, tzinfo=UTC)  # a Monday
WINDOW = {"fromTimestamp": START.isoformat(), "toTimestamp": (START + timedelta(days=28)).isoformat()}
LABELS = ["good", "ok", "bad"]


def score(
    project,
    score_id,
    name,
    trace,
    *,
    value=None,
    label=None,
    source="EVAL",
    version=None,
    day=0,
    final=None,
    data_type="NUMERIC",
    environment="production",
):
    metadata = {}
    if version is not None:
        metadata[seams.EVALUATOR_VERSION_KEY] = version
    if final is not None:
        metadata[seams.FINAL_ANNOTATION_KEY] = final
    return Score.objects.create(
        project=project,
        score_id=score_id,
        name=name,
        trace_id=trace,
        value=value,
        string_value=label,
        data_type=data_type,
        source=source,
        metadata=metadata or None,
        environment=environment,
        timestamp=START + timedelta(days=day, hours=1),
    )


@pytest.fixture
def judged(project, victim_project):
    """40 traces: a numeric judge in two versions, a second numeric judge, a categorical judge and
    human gold (with some traces also holding a later non-final annotation)."""
    rng = random.Random(5)
    truth = {}
    for number in range(40):
        trace = f"t{number:04d}"
        day = number % 28
        gold = rng.choice(LABELS)
        truth[trace] = gold
        score(
            project,
            f"gold-{number}",
            "quality",
            trace,
            label=gold,
            source="ANNOTATION",
            day=day,
            final=True,
            data_type="CATEGORICAL",
            value=float(LABELS.index(gold)),
        )
        if number % 5 == 0:  # a later draft: gold must stay the final one
            score(
                project,
                f"draft-{number}",
                "quality",
                trace,
                label="bad" if gold != "bad" else "good",
                source="ANNOTATION",
                day=day,
                final=False,
                data_type="CATEGORICAL",
            )
        # The judge degrades in its second version (days 14+).
        version = 1 if day < 14 else 2
        right = rng.random() < (0.9 if version == 1 else 0.4)
        judged_label = gold if right else rng.choice([label for label in LABELS if label != gold])
        score(
            project,
            f"judge-{number}",
            "quality",
            trace,
            label=judged_label,
            version=version,
            day=day,
            data_type="CATEGORICAL",
            value=float(LABELS.index(judged_label)),
        )
        value = rng.random()
        score(project, f"acc1-{number}", "accuracy", trace, value=value, version=1, day=day)
        if number % 4:
            score(
                project,
                f"acc2-{number}",
                "helpfulness",
                trace,
                value=min(1, value + rng.gauss(0, 0.1)),
                day=day,
                environment=rng.choice(["production", "staging"]),
            )
        score(victim_project, f"victim-{number}", "accuracy", trace, value=0.0, version=1, day=day)
    return truth


def get(api, path, **params):
    response = api.get(f"analytics/scores{path}", **params)
    assert response.status_code == 200, response.content
    return response.json()


def test_series_lists_name_source_version_and_type_with_counts(api, judged):
    series = get(api, "", **WINDOW)["data"]
    by_key = {(s["name"], s["source"], s["evaluatorVersion"]): s for s in series}
    assert by_key[("quality", "EVAL", "1")]["count"] + by_key[("quality", "EVAL", "2")]["count"] == 40
    assert by_key[("quality", "ANNOTATION", None)]["count"] == 48
    assert by_key[("accuracy", "EVAL", "1")] == by_key[("accuracy", "EVAL", "1")] | {
        "count": 40,
        "dataType": "NUMERIC",
    }


def test_summary_of_a_numeric_score_matches_python(api, project, judged):
    values = list(
        Score.objects.filter(project=project, name="helpfulness").values_list("value", "environment")
    )
    body = get(api, "/summary", score="helpfulness", granularity="week", breakdown="environment", **WINDOW)
    numbers = [v for v, _ in values]
    assert body["summary"]["count_count"] == len(numbers)
    assert body["summary"]["p50_value"] == pytest.approx(float(numpy.percentile(numbers, 50)))
    assert sum(b[2] for b in body["distribution"]["histogram"]) == len(numbers)
    assert [row["time_dimension"][:10] for row in body["trend"]] == [
        "2025-05-05",
        "2025-05-12",
        "2025-05-19",
        "2025-05-26",
        "2025-06-02",
    ]
    assert sum(row["count_count"] for row in body["trend"]) == len(numbers)
    breakdown = {row["environment"]: row for row in body["breakdown"]}
    for environment in ("production", "staging"):
        mine = [v for v, e in values if e == environment]
        assert breakdown[environment]["count_count"] == len(mine)
        assert breakdown[environment]["avg_value"] == pytest.approx(float(numpy.mean(mine)))


def test_summary_of_one_evaluator_version_counts_only_its_scores(api, judged):
    spec = json.dumps({"name": "quality", "source": "EVAL", "evaluatorVersion": 1})
    body = get(api, "/summary", score=spec, **WINDOW)
    assert body["dataType"] == "CATEGORICAL"
    assert (
        sum(row["count"] for row in body["distribution"]["counts"])
        == body["summary"]["count_count"]
        == sum(1 for number in range(40) if number % 28 < 14)
    )


def test_comparison_matrix_matches_scipy_on_matched_objects(api, project, judged):
    specs = [{"name": "accuracy"}, {"name": "helpfulness"}, {"name": "quality", "source": "EVAL"}]
    body = get(api, "/comparison", scores=json.dumps(specs), **WINDOW)
    accuracy = dict(Score.objects.filter(project=project, name="accuracy").values_list("trace_id", "value"))
    helpful = dict(Score.objects.filter(project=project, name="helpfulness").values_list("trace_id", "value"))
    keys = sorted(set(accuracy) & set(helpful))
    pair = next(p for p in body["pairs"] if (p["a"], p["b"]) == (0, 1))
    assert pair["kind"] == "numeric" and pair["n"] == len(keys) == body["matrix"]["matched"][0][1]
    assert pair["pearson"] == pytest.approx(
        stats.pearsonr([accuracy[k] for k in keys], [helpful[k] for k in keys])[0]
    )
    assert pair["spearman"] == pytest.approx(
        stats.spearmanr([accuracy[k] for k in keys], [helpful[k] for k in keys])[0]
    )
    assert (
        body["matrix"]["headline"][0][1] == body["matrix"]["headline"][1][0] == pytest.approx(pair["pearson"])
    )
    assert body["matrix"]["matched"][2][2] == 40


def test_judge_against_final_human_gold_gives_statsmodels_kappa(api, project, judged):
    specs = [{"name": "quality", "source": "ANNOTATION"}, {"name": "quality", "source": "EVAL"}]
    body = get(api, "/comparison", scores=json.dumps(specs), **WINDOW)
    pair = body["pairs"][0]
    judge = dict(
        Score.objects.filter(project=project, name="quality", source="EVAL").values_list(
            "trace_id", "string_value"
        )
    )
    traces = sorted(judged)
    labels, table = confusion([judged[t] for t in traces], [judge[t] for t in traces])
    assert pair["kind"] == "categorical" and pair["n"] == 40
    assert pair["confusionMatrix"] == table.tolist() and pair["labels"] == labels
    assert pair["kappa"] == pytest.approx(cohens_kappa(table).kappa)


def test_calibration_marks_the_buckets_where_the_judge_falls_below_the_threshold(api, judged):
    body = get(
        api,
        "/calibration",
        judge=json.dumps({"name": "quality", "source": "EVAL"}),
        gold=json.dumps({"name": "quality", "source": "ANNOTATION"}),
        metric="accuracy",
        threshold=0.7,
        granularity="week",
        **WINDOW,
    )
    versions = {v["evaluatorVersion"]: v["points"] for v in body["versions"]}
    assert set(versions) == {"1", "2"}
    assert sum(p["n"] for points in versions.values() for p in points) == 40
    for points in versions.values():
        for point in points:
            assert point["belowThreshold"] == (point["value"] < 0.7)
    assert any(p["belowThreshold"] for p in versions["2"])
    assert not any(p["belowThreshold"] for p in versions["1"])


@pytest.mark.parametrize(
    "path, params, named",
    [
        (
            "/summary",
            {"score": "x", "fromTimestamp": "soon", "toTimestamp": WINDOW["toTimestamp"]},
            "fromTimestamp",
        ),
        ("/summary", {"score": "x", "breakdown": "colour", **WINDOW}, "breakdown"),
        ("/summary", {"score": '{"name": "x", "source": "HUMAN"}', **WINDOW}, "score"),
        ("/comparison", {"scores": '["only-one"]', **WINDOW}, "scores"),
        ("/comparison", {"scores": "[1, 2", **WINDOW}, "scores"),
        ("/calibration", {"judge": "a", "gold": "b", "metric": "vibes", **WINDOW}, "metric"),
        ("", {"fromTimestamp": WINDOW["toTimestamp"], "toTimestamp": WINDOW["fromTimestamp"]}, "toTimestamp"),
    ],
)
def test_bad_analytics_input_is_a_400_naming_the_field(api, path, params, named):
    response = api.get(f"analytics/scores{path}", **params)
    assert response.status_code == 400, response.content
    assert named in response.json()["message"]


def test_a_series_may_be_picked_by_its_score_config(api, project, judged):
    from tests.scoring.factories import ScoreConfigFactory

    config = ScoreConfigFactory(project=project, name="accuracy")
    Score.objects.filter(
        project=project, name="accuracy", score_id__in=["acc1-1", "acc1-2", "acc1-3"]
    ).update(config=config)
    body = get(api, "/summary", score=json.dumps({"name": "accuracy", "configId": config.id}), **WINDOW)
    expected = list(Score.objects.filter(project=project, config=config).values_list("value", flat=True))
    assert body["summary"]["count_count"] == 3
    assert body["summary"]["avg_value"] == pytest.approx(float(numpy.mean(expected)))
    assert body["spec"]["configId"] == config.id
