"""The unmodified langfuse SDK posting and reading scores and score configs against a live server."""

from datetime import UTC, datetime

import pytest

from scoring.models import Score
from tests.support.live import langfuse_client
from tests.tenancy.factories import api_key_for

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.live]

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
OBSERVATION = "00f067aa0ba902b7"
SESSION = "session-sdk-1"
RUN = "experiment-run-1"
TARGETS = {
    "trace": {"trace_id": TRACE},
    "observation": {"trace_id": TRACE, "observation_id": OBSERVATION},
    "session": {"session_id": SESSION},
    "run": {"dataset_run_id": RUN},
}
VALUES = {
    "NUMERIC": (0.87, (0.87, None)),
    "BOOLEAN": (1, (1.0, "True")),
    "CATEGORICAL": ("relevant", (None, "relevant")),
    "TEXT": ("Concise and correct.", (None, "Concise and correct.")),
}
STAMP = datetime(2025, 2, 3, 4, 5, 6, 789000, tzinfo=UTC)


def test_sdk_scores_of_every_type_on_every_target_are_stored_field_by_field(live_server, project):
    sent = {}
    with langfuse_client(live_server, api_key_for(project), flush_at=5, flush_interval=0.2, environment="sdk-test") as lf:
        for target, ids in TARGETS.items():
            for data_type, (value, _) in VALUES.items():
                score_id = f"{target[:3]}{data_type[:3].lower()}".ljust(16, "0")
                lf.create_score(
                    name=f"{data_type.lower()}-score", value=value, data_type=data_type, score_id=score_id,
                    comment=f"{target} {data_type}", metadata={"target": target, "n": [1, 2]}, timestamp=STAMP,
                    **ids,
                )
                sent[score_id] = (target, data_type)
        lf.flush()

    stored = {s.score_id: s for s in Score.objects.filter(project=project)}
    assert set(stored) == set(sent)  # no trace, observation, session or run exists: none was refused
    for score_id, (target, data_type) in sent.items():
        s = stored[score_id]
        assert (s.name, s.data_type, s.source) == (f"{data_type.lower()}-score", data_type, "API")
        assert (s.value, s.string_value) == VALUES[data_type][1]
        assert s.comment == f"{target} {data_type}" and s.metadata == {"target": target, "n": [1, 2]}
        assert s.environment == "sdk-test" and s.timestamp == STAMP
        assert (s.trace_id, s.observation_id, s.session_id, s.dataset_run_id) == (
            TARGETS[target].get("trace_id"), TARGETS[target].get("observation_id"),
            TARGETS[target].get("session_id"), TARGETS[target].get("dataset_run_id"),
        )
        assert s.config_id is None and s.author_user_id is None and s.queue_id is None


def test_sdk_reads_configs_and_scores_it_created_through_the_generated_client(live_server, project):
    from langfuse.api import ConfigCategory

    with langfuse_client(live_server, api_key_for(project), flush_at=2, flush_interval=0.2) as lf:
        tone = lf.api.score_configs.create(
            name="tone", data_type="CATEGORICAL",
            categories=[ConfigCategory(value=1, label="warm"), ConfigCategory(value=0, label="cold")],
        )
        flag = lf.api.score_configs.create(name="flag", data_type="BOOLEAN")
        assert [c.label for c in flag.categories] == ["True", "False"]
        assert lf.api.score_configs.get_by_id(tone.id).categories[0].label == "warm"
        assert {c.name for c in lf.api.score_configs.get().data} == {"tone", "flag"}

        lf.create_score(name="tone", value="warm", trace_id=TRACE, config_id=tone.id, score_id="tone000000000001")
        lf.create_score(name="flag", value=0, data_type="BOOLEAN", trace_id=TRACE, observation_id=OBSERVATION,
                        config_id=flag.id, score_id="flag000000000001")
        lf.create_score(name="tone", value="tepid", trace_id=TRACE, config_id=tone.id, score_id="tone000000000002")
        lf.flush()

        stored = {s.score_id: s for s in Score.objects.filter(project=project)}
        assert set(stored) == {"tone000000000001", "flag000000000001"}  # "tepid" is not a category of tone
        assert (stored["tone000000000001"].value, stored["tone000000000001"].string_value) == (1.0, "warm")
        assert (stored["flag000000000001"].value, stored["flag000000000001"].string_value) == (0.0, "False")

        page = lf.api.scores.get_many(limit=1)
        assert len(page.data) == 1 and page.meta.cursor
        rest = lf.api.scores.get_many(limit=10, cursor=page.meta.cursor)
        values = {s.id: s.value for s in [*page.data, *rest.data]}
        assert values == {"tone000000000001": "warm", "flag000000000001": False}
        by_trace = lf.api.scores.get_many(trace_id=TRACE, data_type="BOOLEAN")
        assert [s.subject.kind for s in by_trace.data] == ["observation"]

        lf.api.score_configs.update(tone.id, is_archived=True)
        assert lf.api.score_configs.get_by_id(tone.id).is_archived is True
        lf.api.scores.delete("flag000000000001")
        assert not Score.objects.filter(score_id="flag000000000001").exists()
