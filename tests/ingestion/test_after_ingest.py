"""`after_ingest` (ingestion/hooks.py): what a request stored is handed on after the commit, never before."""

import pytest

from evalsite.hooks import ExtensionPoint
from ingestion import hooks
from ingestion.services import IngestResult, spans_ingest
from tests.ingestion.spans import protobuf_body, sdk_trace

pytestmark = pytest.mark.django_db

NOW = "2026-01-15T12:00:00.000Z"


@pytest.fixture
def handed(monkeypatch):
    """Records what `after_ingest` hands on, registered for this test only."""
    calls = []
    point = ExtensionPoint("after_ingest for a test")
    point.register(lambda *, project, result: calls.append((project.pk, result)))
    monkeypatch.setattr(hooks, "after_ingest", point)
    return calls


def test_online_evaluation_is_what_is_registered():
    from evaluators.online import ingested_hand_over

    assert list(hooks.after_ingest) == [ingested_hand_over]


def test_otlp_ids_are_handed_on_after_the_commit(api, project, handed, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = api.post("otel/v1/traces", protobuf_body(sdk_trace()), content_type="application/x-protobuf")
        assert response.status_code == 200
        assert handed == []  # not before the commit
    assert len(callbacks) == 1
    ((project_id, result),) = handed
    assert project_id == project.pk
    assert isinstance(result, IngestResult)
    assert result.trace_ids == ["a" * 32] and len(result.observation_ids) == len(sdk_trace())


def test_legacy_batch_ids_are_handed_on_after_the_commit(api, project, handed, django_capture_on_commit_callbacks):
    batch = [
        {"id": "e1", "type": "trace-create", "timestamp": NOW, "body": {"id": "t-1", "name": "chat"}},
        {"id": "e2", "type": "span-create", "timestamp": NOW, "body": {"id": "s-1", "traceId": "t-1"}},
    ]
    with django_capture_on_commit_callbacks(execute=True):
        assert api.post("ingestion", {"batch": batch}).status_code == 207
    ((_, result),) = handed
    assert (result.trace_ids, result.observation_ids) == (["t-1"], ["s-1"])


def test_a_request_that_fails_hands_nothing_on(project, handed, monkeypatch, django_capture_on_commit_callbacks):
    def broken_record(*, project, records):
        raise RuntimeError("the experiments write failed")

    monkeypatch.setattr("ingestion.services.experiment_items_record_from_spans", broken_record)
    specs = sdk_trace()
    specs[0].attributes.update({"langfuse.experiment.id": "run-1", "langfuse.experiment.item.id": "item-1",
                                "langfuse.experiment.item.root_observation_id": specs[0].span_id})
    with django_capture_on_commit_callbacks(execute=True) as callbacks, pytest.raises(RuntimeError):
        spans_ingest(project=project, spans=[spec.mapped() for spec in specs])
    assert callbacks == [] and handed == []


def test_an_export_written_in_several_chunks_is_handed_on_once_with_every_id(
    api, project, handed, monkeypatch, django_capture_on_commit_callbacks
):
    monkeypatch.setattr("ingestion.services.SPANS_PER_WRITE", 3)
    spans = sdk_trace("a" * 32) + sdk_trace("b" * 32)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = api.post("otel/v1/traces", protobuf_body(spans), content_type="application/x-protobuf")
        assert response.status_code == 200
    assert len(callbacks) == 1
    ((_, result),) = handed
    assert result.trace_ids == ["a" * 32, "b" * 32]
    assert sorted(result.observation_ids) == sorted(spec.span_id for spec in spans)
