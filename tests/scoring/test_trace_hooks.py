"""What scoring adds to traces through traces' extension points (traces/hooks.py), registered by
ScoringConfig.ready(): the scores of the trace API, and deleting a trace's scores with it."""

from datetime import UTC, datetime

import pytest

from evalsite.hooks import ExtensionPoint
from scoring.api import TraceScores
from scoring.models import Score
from scoring.pages import ScoresPanel
from scoring.services import scores_delete_for_traces
from tests.scoring.factories import ScoreFactory
from tests.traces.factories import ObservationFactory, TraceFactory
from traces import hooks
from traces.models import Trace
from traces.services import traces_delete

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def scored(project, victim_project):
    trace = TraceFactory(project=project, trace_id="t1", user_id="u1", timestamp=T0)
    ObservationFactory(trace=trace, observation_id="o1")
    TraceFactory(project=project, trace_id="t2", timestamp=T0)
    ScoreFactory(project=project, score_id="on-trace", trace_id="t1", timestamp=T0)
    ScoreFactory(project=project, score_id="on-observation", trace_id="t1", observation_id="o1", timestamp=T0)
    ScoreFactory(project=project, score_id="other-trace", trace_id="t2", timestamp=T0)
    # The same trace id in another project: its scores are not the trace's.
    TraceFactory(project=victim_project, trace_id="t1", timestamp=T0)
    ScoreFactory(project=victim_project, score_id="theirs", trace_id="t1", timestamp=T0)
    return trace


def test_scoring_registers_into_every_trace_point_once():
    assert list(hooks.trace_scores) == [TraceScores()]
    # Other apps add panels of their own (annotations: comments); scoring's is there once.
    assert [panel for panel in hooks.trace_page_panels if isinstance(panel, ScoresPanel)] == [ScoresPanel()]
    assert scores_delete_for_traces in list(hooks.trace_delete_hooks)
    # A ready() that runs again registers nothing new.
    panels = len(hooks.trace_page_panels)
    hooks.trace_scores.register(TraceScores())
    hooks.trace_page_panels.register(ScoresPanel())
    assert (len(hooks.trace_scores), len(hooks.trace_page_panels)) == (1, panels)


def test_get_trace_carries_the_scores_of_the_trace_and_its_observations(api, scored):
    body = api.get("traces/t1").json()
    assert {score["id"] for score in body["scores"]} == {"on-trace", "on-observation"}
    score = next(score for score in body["scores"] if score["id"] == "on-trace")
    assert score["traceId"] == "t1" and score["trace"]["userId"] == "u1"


def test_the_trace_list_carries_score_ids(api, scored):
    rows = {row["id"]: row for row in api.get("traces").json()["data"]}
    assert sorted(rows["t1"]["scores"]) == ["on-observation", "on-trace"]
    assert rows["t2"]["scores"] == ["other-trace"]


def test_a_trace_deleted_through_the_api_loses_its_scores_and_nothing_else(api, project, victim_project, scored):
    assert api.delete("traces/t1").status_code == 200
    assert list(Score.objects.filter(project=project).values_list("score_id", flat=True)) == ["other-trace"]
    assert Score.objects.filter(project=victim_project, score_id="theirs").exists()


def test_trace_deletion_and_its_hooks_are_one_transaction(project, scored, monkeypatch):
    def failing_hook(*, project, trace_ids):
        raise RuntimeError("a hook failed")

    point = ExtensionPoint("trace_delete_hooks for a test")
    for hook in [*hooks.trace_delete_hooks, failing_hook]:
        point.register(hook)
    monkeypatch.setattr(hooks, "trace_delete_hooks", point)
    with pytest.raises(RuntimeError):
        traces_delete(project=project, trace_ids=["t1"])
    assert Trace.objects.filter(project=project, trace_id="t1").exists()
    assert Score.objects.filter(project=project, trace_id="t1").count() == 2
