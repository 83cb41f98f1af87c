"""What the langfuse 4.x SDK sends over OTLP reads back as Langfuse shows it (issue 15): its
JSON-encoded metadata values decoded, the root span's metadata on the trace, an empty output null."""

import pytest

from tests.support.sdk4 import run_sdk4
from tests.tenancy.factories import api_key_for
from traces.models import Observation, Trace

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.live]


def test_4x_metadata_values_are_decoded_and_the_root_spans_reach_the_trace(live_server, project):
    result = run_sdk4(
        live_server,
        api_key_for(project),
        """
        from langfuse import propagate_attributes
        metadata = {"tags": ["yo"], "zero": 0.0, "flag": False, "nested": {"a": {"b": 1}}, "note": "plain", "n": 3}
        with lf.start_as_current_observation(name="root", input={"q": 1}, metadata=metadata) as root:
            with propagate_attributes(metadata={"team": "qa"}):
                with lf.start_as_current_observation(name="child", metadata={"list": [1, 2]}) as child:
                    child.update(output="")
            root.update(output={"a": 2})
        result = {"trace": root.trace_id, "root": root.id, "child": child.id}
        """,
    )
    root = Observation.objects.get(project=project, observation_id=result["root"])
    decoded = {"tags": ["yo"], "zero": 0.0, "flag": False, "nested": {"a": {"b": 1}}, "note": "plain", "n": 3}
    assert root.metadata == {**decoded, "team": "qa"}  # propagation also reaches the current span
    child = Observation.objects.get(project=project, observation_id=result["child"])
    assert child.metadata == {"list": [1, 2], "team": "qa"}
    assert child.output is None

    trace = Trace.objects.get(project=project, trace_id=result["trace"])
    assert trace.metadata == {**decoded, "team": "qa"}
    assert (trace.input, trace.output) == ({"q": 1}, {"a": 2})
