"""The langfuse 4.x SDK's scores: sent through the legacy `/ingestion` batch, read back through
`/v2/scores` and `GET /traces/{id}`, whose v1 models type a categorical value as a number."""

from datetime import UTC, datetime

import pytest

from scoring.models import Score
from tests.scoring.factories import ScoreConfigFactory
from tests.support.sdk4 import LANGFUSE_4_VERSION, run_sdk4, sdk4_version
from tests.tenancy.factories import api_key_for

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.live]

STAMP = "2025-02-03T04:05:06.789000+00:00"


def test_the_second_client_is_the_pinned_4x_release():
    assert sdk4_version() == LANGFUSE_4_VERSION


def test_categorical_scores_read_back_through_the_4x_models_with_their_numeric_value(live_server, project):
    tone = ScoreConfigFactory(
        project=project, name="tone", data_type="CATEGORICAL",
        categories=[{"value": 2, "label": "warm"}, {"value": 0, "label": "cold"}],
    )  # fmt: skip
    result = run_sdk4(
        live_server,
        api_key_for(project),
        f"""
        with lf.start_as_current_observation(name="answer") as root:
            trace_id = root.trace_id
        lf.create_score(name="mood", value="happy", data_type="CATEGORICAL", trace_id=trace_id, score_id="mood000000000001")
        lf.create_score(name="tone", value="warm", trace_id=trace_id, config_id="{tone.id}", score_id="tone000000000001")
        lf.create_score(name="exact", value=1.0, trace_id=trace_id, score_id="exct000000000001")
        lf.flush()
        import time
        for _ in range(50):
            trace = lf.api.trace.get(trace_id)
            if len(trace.scores) == 3:
                break
            time.sleep(0.1)
        listed = lf.api.scores.get_many(data_type="CATEGORICAL")
        one = lf.api.scores.get_by_id("mood000000000001")
        result = {{
            "trace": sorted([s.data_type, s.value, getattr(s, "string_value", None)] for s in trace.scores),
            "listed": sorted([s.id, s.value, s.string_value] for s in listed.data),
            "one": [one.data_type, one.value, one.string_value],
        }}
        """,
    )
    assert result["trace"] == [["CATEGORICAL", 0.0, "happy"], ["CATEGORICAL", 2.0, "warm"], ["NUMERIC", 1.0, None]]
    assert result["listed"] == [["mood000000000001", 0.0, "happy"], ["tone000000000001", 2.0, "warm"]]
    assert result["one"] == ["CATEGORICAL", 0.0, "happy"]
    # Stored as sent: the 0 is how the wire shows a category without a config's value.
    assert Score.objects.get(project=project, score_id="mood000000000001").value is None


def test_a_4x_score_keeps_the_timestamp_it_was_created_with(live_server, project):
    run_sdk4(
        live_server,
        api_key_for(project),
        f"""
        from datetime import datetime
        lf.create_score(name="late", value=0.5, trace_id="4bf92f3577b34da6a3ce929d0e0e4736",
                        score_id="late000000000001", timestamp=datetime.fromisoformat("{STAMP}"))
        lf.create_score(name="now", value=0.5, trace_id="4bf92f3577b34da6a3ce929d0e0e4736", score_id="now0000000000001")
        """,
    )
    stored = {s.score_id: s for s in Score.objects.filter(project=project)}
    assert stored["late000000000001"].timestamp == datetime.fromisoformat(STAMP)
    assert stored["now0000000000001"].timestamp > datetime(2026, 1, 1, tzinfo=UTC)
