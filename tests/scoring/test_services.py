"""The scoring services and selectors as other apps call them."""

import pytest

from evalsite.tenancy.actors import Actor
from scoring.models import Score, ScoreConfig
from scoring.selectors import (
    score_config_get,
    score_config_list,
    score_get,
    score_list_for_runs,
    score_list_for_traces,
)
from scoring.services import (
    score_config_create,
    score_config_update,
    score_delete,
    scores_delete_for_traces,
    scores_ingest,
)
from tests.scoring.factories import ScoreConfigFactory, ScoreFactory
from tests.tenancy.factories import UserFactory

pytestmark = pytest.mark.django_db


def test_ingest_reports_accepted_ids_and_indexed_field_errors(project):
    result = scores_ingest(
        project=project,
        items=[{"id": "a", "name": "x", "value": 1, "traceId": "t"}, {"id": "b", "value": 1, "traceId": "t"}, "junk"],
    )
    assert result.accepted == ["a"]
    assert [(index, str(error)) for index, error in result.errors] == [
        (1, "name: is required and must be a non-empty string"),
        (2, "body: each score must be a JSON object"),
    ]
    assert result.errors[0][1].field == "name"
    assert list(Score.objects.values_list("score_id", flat=True)) == ["a"]


def test_ingest_records_the_acting_user_as_author(project):
    user = UserFactory()
    scores_ingest(project=project, items=[{"id": "a", "name": "x", "value": 1, "traceId": "t"}], actor=Actor(user=user))
    assert Score.objects.get(score_id="a").author_user == user


def test_a_source_override_marks_evaluator_scores(project):
    scores_ingest(project=project, items=[{"id": "a", "name": "judge", "value": 0.7, "traceId": "t"}], source_override="EVAL")
    assert Score.objects.get(score_id="a").source == "EVAL"


def test_annotation_scores_from_the_ui_must_name_a_config(project):
    config = ScoreConfigFactory(project=project, name="quality", min_value=1, max_value=5)
    result = scores_ingest(
        project=project,
        items=[{"name": "quality", "value": 4, "traceId": "t"}, {"name": "quality", "value": 4, "traceId": "t", "configId": config.id}],
        source_override="ANNOTATION",
    )
    assert len(result.accepted) == 1 and result.errors[0][0] == 0 and result.errors[0][1].field == "configId"
    stored = Score.objects.get(project=project)
    assert (stored.source, stored.config_id) == ("ANNOTATION", config.id)


def test_ingest_stores_every_column(project):
    config = ScoreConfigFactory(project=project, name="m", min_value=0, max_value=2)
    scores_ingest(project=project, items=[{
        "id": "full", "traceId": "t1", "observationId": "o1", "sessionId": "s1", "datasetRunId": "r1", "name": "m",
        "value": 1.5, "dataType": "NUMERIC", "comment": "c", "metadata": {"nested": {"a": [1, None, "x"]}},
        "configId": config.id, "environment": "env-1", "timestamp": "2025-06-01T00:00:00+02:00", "queueId": "q",
        "source": "API",
    }])
    s = Score.objects.get(score_id="full")
    assert (s.trace_id, s.observation_id, s.session_id, s.dataset_run_id) == ("t1", "o1", "s1", "r1")
    assert (s.name, s.value, s.string_value, s.data_type, s.comment) == ("m", 1.5, None, "NUMERIC", "c")
    assert s.metadata == {"nested": {"a": [1, None, "x"]}} and s.config == config and s.queue_id == "q"
    assert s.environment == "env-1" and s.timestamp.isoformat() == "2025-05-31T22:00:00+00:00"
    assert s.created_at is not None and s.updated_at is not None


@pytest.mark.parametrize("metadata", ["plain string", [1, 2], 3.5, True])
def test_metadata_may_be_any_json_value(project, metadata):
    scores_ingest(project=project, items=[{"id": "m", "name": "x", "value": 1, "traceId": "t", "metadata": metadata}])
    assert Score.objects.get(score_id="m").metadata == metadata


def test_absent_metadata_is_stored_as_null(project):
    scores_ingest(project=project, items=[{"id": "m", "name": "x", "value": 1, "traceId": "t", "metadata": None}])
    assert Score.objects.filter(score_id="m", metadata__isnull=True).exists()


def test_scores_of_traces_and_of_runs_are_listed_by_their_ids(project, victim_project):
    on_t1 = ScoreFactory(project=project, trace_id="t1")
    on_t1_obs = ScoreFactory(project=project, trace_id="t1", observation_id="o1")
    ScoreFactory(project=project, trace_id="t2")
    ScoreFactory(project=victim_project, trace_id="t1")
    on_run = ScoreFactory(project=project, trace_id=None, dataset_run_id="r1")
    ScoreFactory(project=project, trace_id=None, dataset_run_id="r2")
    assert {s.pk for s in score_list_for_traces(project=project, trace_ids=["t1", "t9"])} == {on_t1.pk, on_t1_obs.pk}
    assert [s.pk for s in score_list_for_runs(project=project, run_ids={"r1"})] == [on_run.pk]
    assert score_list_for_traces(project=project, trace_ids=[]) == []


def test_deleting_the_scores_of_traces_leaves_the_rest(project, victim_project):
    ScoreFactory(project=project, trace_id="t1")
    ScoreFactory(project=project, trace_id="t1", observation_id="o1")
    keep = ScoreFactory(project=project, trace_id="t2")
    theirs = ScoreFactory(project=victim_project, trace_id="t1")
    assert scores_delete_for_traces(project=project, trace_ids=["t1"]) == 2
    assert set(Score.objects.values_list("pk", flat=True)) == {keep.pk, theirs.pk}


def test_score_delete_is_scoped_to_the_project(project, victim_project):
    theirs = ScoreFactory(project=victim_project, score_id="s1")
    assert score_delete(project=project, score_id="s1", actor=Actor()) is False
    assert Score.objects.filter(pk=theirs.pk).exists()
    assert score_get(project=project, score_id="s1") is None
    assert score_get(project=victim_project, score_id="s1") == theirs


def test_config_selectors_hide_archived_configs_unless_asked(project, victim_project):
    active = ScoreConfigFactory(project=project, name="b")
    archived = ScoreConfigFactory(project=project, name="a", is_archived=True)
    ScoreConfigFactory(project=victim_project, name="c")
    assert list(score_config_list(project=project)) == [active]
    assert list(score_config_list(project=project, include_archived=True)) == [archived, active]
    assert score_config_get(project=project, config_id=archived.id) == archived
    assert score_config_get(project=victim_project, config_id=archived.id) is None


def test_config_services_raise_validation_errors_naming_the_field(project):
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError) as error:
        score_config_create(project=project, name="bad/name", data_type="NUMERIC")
    assert set(error.value.message_dict) == {"name"}
    config = score_config_create(project=project, name="ok", data_type="NUMERIC", min_value=0)
    with pytest.raises(ValidationError):
        score_config_update(project=project, config=config, max_value=-1)
    assert ScoreConfig.objects.get(pk=config.pk).max_value is None


def test_config_update_refuses_a_config_of_another_project_and_unknown_changes(project, victim_project):
    theirs = ScoreConfigFactory(project=victim_project)
    with pytest.raises(ValueError):
        score_config_update(project=project, config=theirs, name="mine")
    with pytest.raises(TypeError):
        score_config_update(project=victim_project, config=theirs, data_type="TEXT")
