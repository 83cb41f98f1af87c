"""traces_upsert: the typed write every trace writer goes through (ingestion, the platform runner)."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from tests.traces.factories import ModelPriceFactory
from traces import merge
from traces.models import Observation, Trace
from traces.services import UpsertResult, traces_upsert

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 2, 1, 9, 0, tzinfo=UTC)


def generation(**fields):
    observation = {
        "id": "g1", "trace_id": "t1", "parent_observation_id": None, "type": "GENERATION", "name": "llm",
        "start_time": T0, "end_time": T0 + timedelta(seconds=1), "completion_start_time": None, "level": None,
        "status_message": None, "model": "gpt-x", "model_parameters": None, "usage_details": {"input": 10, "output": 5},
        "cost_details": {}, "prompt_name": None, "prompt_version": None, "environment": None, "release": None,
        "version": None, "input": "q", "output": "a", "metadata": {},
    }
    return merge.observation_contribution({**observation, **fields})


def test_a_batch_is_upserted_and_its_ids_returned(project, victim_project):
    ModelPriceFactory(project=project, model_name="gpt-x", match_pattern="(?i)^gpt-x$", input_price=Decimal("0.5"), output_price=Decimal("1"))
    batch = merge.Batch()
    batch.add_observation(generation())
    batch.add_trace(merge.trace_contribution(trace_id="t1", timestamp=T0, root_observation_id="g1", name="chat", input="q"))

    assert traces_upsert(project=project, batch=batch) == UpsertResult(trace_ids=["t1"], observation_ids=["g1"])

    trace = Trace.objects.get(project=project, trace_id="t1")
    assert (trace.name, trace.input, trace.root_observation_id) == ("chat", "q", "g1")
    observation = Observation.objects.get(project=project, observation_id="g1")
    assert (observation.total_tokens, observation.total_cost) == (15, Decimal("10"))  # priced from the project's price
    assert not Trace.objects.filter(project=victim_project).exists()


def test_a_later_batch_merges_into_the_stored_rows(project):
    first = merge.Batch()
    first.add_observation(generation())
    first.add_trace(merge.trace_contribution(trace_id="t1", timestamp=T0, tags=["a"]))
    traces_upsert(project=project, batch=first)
    later = merge.Batch()
    later.add_observation(generation(output=None, level="ERROR", metadata={"k": "v"}))
    later.add_trace(merge.trace_contribution(trace_id="t1", timestamp=T0 + timedelta(hours=1), tags=["b"]))
    traces_upsert(project=project, batch=later)

    observation = Observation.objects.get(project=project, observation_id="g1")
    assert (observation.output, observation.level, observation.metadata) == ("a", "ERROR", {"k": "v"})
    trace = Trace.objects.get(project=project, trace_id="t1")
    assert (trace.tags, trace.timestamp) == (["a", "b"], T0)
