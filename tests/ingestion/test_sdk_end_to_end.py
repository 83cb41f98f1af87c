"""The unmodified langfuse 5.0.4 SDK against a live server: what it sends is stored field by field."""

from decimal import Decimal

import pytest

from evalsite.tenancy.roles import Role
from scoring.models import Score
from tests.support.api import ApiClient
from tests.support.live import langfuse_client
from tests.tenancy.factories import api_key_for
from traces.models import Observation, Trace

pytestmark = [pytest.mark.live, pytest.mark.django_db(transaction=True)]


def test_sdk_trace_with_nested_spans_generation_event_and_scores_is_stored_field_by_field(live_server, project):
    from langfuse import propagate_attributes

    key = api_key_for(project, Role.MEMBER)
    with langfuse_client(live_server, key, flush_at=200, flush_interval=60, environment="staging", release="r-42") as lf:
        with lf.start_as_current_observation(name="handle-request", input={"question": "2+2?"}) as root:
            with propagate_attributes(
                user_id="user-1",
                session_id="session-1",
                tags=["beta", "alpha"],
                metadata={"team": "qa", "tier": "1"},
                version="v7",
                trace_name="qa-trace",
            ):
                with lf.start_as_current_observation(name="retrieve", input="plain text", metadata={"k": 3}) as child:
                    with lf.start_as_current_observation(
                        name="llm-call",
                        as_type="generation",
                        model="gpt-test",
                        model_parameters={"temperature": 0.2, "max_tokens": 64},
                        usage_details={"input": 10, "output": 5, "total": 15},
                        cost_details={"input": 0.01, "output": 0.02, "total": 0.03},
                        input=[{"role": "user", "content": "2+2?"}],
                    ) as generation:
                        generation.update(output={"role": "assistant", "content": "4"})
                    child.update(output=["doc-1", "doc-2"])
                event = lf.create_event(name="cache-miss", input={"key": "q"}, metadata={"hit": False})
            root.update(output="four")
        trace_id, root_id = root.trace_id, root.id
        child_id, generation_id, event_id = child.id, generation.id, event.id

        lf.create_score(name="accuracy", value=0.9, trace_id=trace_id, comment="close enough")
        lf.create_score(name="helpful", value=1, data_type="BOOLEAN", trace_id=trace_id, observation_id=generation_id)
        lf.create_score(name="mood", value="happy", data_type="CATEGORICAL", session_id="session-1")
        lf.create_score(name="note", value="reads well", data_type="TEXT", trace_id=trace_id)
        lf.flush()

    trace = Trace.objects.get(project=project, trace_id=trace_id)
    assert trace.name == "qa-trace"
    assert trace.user_id == "user-1"
    assert trace.session_id == "session-1"
    assert trace.tags == ["alpha", "beta"]
    assert trace.metadata == {"team": "qa", "tier": "1"}
    assert trace.version == "v7"
    assert trace.release == "r-42"
    assert trace.environment == "staging"
    assert trace.input == {"question": "2+2?"}  # the root span's input
    assert trace.output == "four"  # a plain string output arrives raw and stays a string
    assert trace.root_observation_id == root_id

    observations = {o.observation_id: o for o in Observation.objects.filter(project=project)}
    assert set(observations) == {root_id, child_id, generation_id, event_id}
    assert all(o.trace_id == trace_id for o in observations.values())

    root_row = observations[root_id]
    assert (root_row.type, root_row.name, root_row.parent_observation_id) == ("SPAN", "handle-request", None)
    assert root_row.input == {"question": "2+2?"} and root_row.output == "four"

    child_row = observations[child_id]
    assert (child_row.type, child_row.parent_observation_id) == ("SPAN", root_id)
    assert child_row.input == "plain text"
    assert child_row.output == ["doc-1", "doc-2"]
    # Observation metadata is decoded per key, and carries the propagated trace metadata.
    assert child_row.metadata == {"k": 3, "team": "qa", "tier": "1"}
    assert (child_row.environment, child_row.release, child_row.version) == ("staging", "r-42", "v7")

    gen = observations[generation_id]
    assert (gen.type, gen.parent_observation_id, gen.model) == ("GENERATION", child_id, "gpt-test")
    assert gen.model_parameters == {"temperature": 0.2, "max_tokens": 64}
    assert gen.usage_details == {"input": 10, "output": 5, "total": 15}
    assert gen.cost_details == {"input": 0.01, "output": 0.02, "total": 0.03}
    assert (gen.input_tokens, gen.output_tokens, gen.total_tokens) == (10, 5, 15)
    assert gen.total_cost == Decimal("0.03")
    assert gen.input == [{"role": "user", "content": "2+2?"}]
    assert gen.output == {"role": "assistant", "content": "4"}
    assert gen.start_time <= gen.end_time

    event_row = observations[event_id]
    assert (event_row.type, event_row.parent_observation_id) == ("EVENT", root_id)
    assert event_row.start_time == event_row.end_time
    assert event_row.metadata["hit"] is False

    scores = {s.name: s for s in Score.objects.filter(project=project)}
    assert set(scores) == {"accuracy", "helpful", "mood", "note"}
    assert (scores["accuracy"].value, scores["accuracy"].data_type, scores["accuracy"].trace_id) == (0.9, "NUMERIC", trace_id)
    assert scores["accuracy"].comment == "close enough"
    assert (scores["helpful"].value, scores["helpful"].string_value) == (1.0, "True")
    assert (scores["helpful"].trace_id, scores["helpful"].observation_id) == (trace_id, generation_id)
    assert (scores["mood"].string_value, scores["mood"].session_id, scores["mood"].trace_id) == ("happy", "session-1", None)
    assert (scores["note"].data_type, scores["note"].string_value) == ("TEXT", "reads well")

    # The legacy read API shows the same trace, with its observations and scores.
    detail = ApiClient(key).get(f"traces/{trace_id}").json()
    assert detail["name"] == "qa-trace" and detail["userId"] == "user-1"
    assert detail["totalCost"] == pytest.approx(0.03)
    assert {o["id"] for o in detail["observations"]} == set(observations)
    assert {s["name"] for s in detail["scores"]} == {"accuracy", "helpful", "note"}


def test_sdk_reads_observations_through_the_v2_api(live_server, project):
    key = api_key_for(project, Role.MEMBER)
    with langfuse_client(live_server, key, flush_at=200, flush_interval=60) as lf:
        with lf.start_as_current_observation(name="parent", input={"a": 1}) as parent:
            for index in range(3):
                with lf.start_as_current_observation(name=f"step-{index}", as_type="tool", output=index):
                    pass
        lf.flush()

        first = lf.api.observations.get_many(trace_id=parent.trace_id, limit=2, fields="core,basic,io")
        assert len(first.data) == 2 and first.meta.cursor
        rest = lf.api.observations.get_many(trace_id=parent.trace_id, limit=2, cursor=first.meta.cursor, fields="core,basic,io")
        assert rest.meta.cursor is None
        seen = [*first.data, *rest.data]
        assert sorted(o.name for o in seen) == ["parent", "step-0", "step-1", "step-2"]
        by_name = {o.name: o for o in seen}
        # v2 returns input/output as the SDK sent them (JSON text), as upstream does.
        assert by_name["parent"].input == '{"a": 1}'
        assert by_name["step-2"].output == "2" and by_name["step-2"].type == "TOOL"
        assert by_name["parent"].is_root_observation is True and by_name["step-0"].is_root_observation is False
