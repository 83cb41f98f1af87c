"""What the langfuse 5.0.4 SDK sends reads back as Langfuse shows it (issue 15): the root span's
metadata on the trace, an empty generator's output as null, model parameters as strings or
numbers."""

import pytest

from evalsite.tenancy.roles import Role
from tests.support.api import ApiClient
from tests.support.live import langfuse_client
from tests.tenancy.factories import api_key_for
from tests.traces.factories import ModelPriceFactory
from traces.models import Observation

pytestmark = [pytest.mark.live, pytest.mark.django_db(transaction=True)]


def test_run_experiment_traces_carry_the_root_observations_metadata(live_server, project):
    key = api_key_for(project, Role.MEMBER)
    with langfuse_client(live_server, key) as lf:
        result = lf.run_experiment(
            name="wire check",
            run_name="wire check #1",
            data=[{"input": {"q": "1+1"}, "expected_output": "two", "metadata": {"topic": "sums"}}],
            task=lambda *, item, **kwargs: "two",
            metadata={"model": "m1"},
        )
        lf.flush()
    trace_id = result.item_results[0].trace_id

    trace = ApiClient(key).get(f"traces/{trace_id}").json()
    assert trace["metadata"]["experiment_name"] == "wire check"
    assert trace["metadata"]["experiment_run_name"] == "wire check #1"
    assert trace["metadata"]["topic"] == "sums" and trace["metadata"]["model"] == "m1"
    assert trace["input"] == {"q": "1+1"} and trace["output"] == "two"
    root = next(o for o in trace["observations"] if o["parentObservationId"] is None)
    assert trace["metadata"] == root["metadata"]


def test_an_empty_generator_has_a_null_output_and_model_parameters_are_strings_or_numbers(live_server, project):
    from langfuse import observe

    key = api_key_for(project, Role.MEMBER)
    with langfuse_client(live_server, key) as lf:

        @observe(name="silent-stream")
        def silent_stream():
            yield from ()

        assert list(silent_stream(langfuse_public_key=key.public_key)) == []
        with lf.start_as_current_observation(
            name="call", as_type="generation", model="m",
            model_parameters={"temperature": 0.2, "max_tokens": 64, "stop": ["\n", "END"], "stream": True},
        ) as generation:  # fmt: skip
            generation.update(output="hi")
        lf.flush()

    stream = Observation.objects.get(project=project, name="silent-stream")
    assert stream.output is None
    api = ApiClient(key)
    assert api.get(f"traces/{stream.trace_id}").json()["output"] is None
    read = api.get(f"observations/{generation.id}").json()
    assert read["modelParameters"] == {"temperature": 0.2, "max_tokens": 64, "stop": '["\\n","END"]', "stream": "true"}


def test_openai_shaped_usage_is_normalised_and_priced(live_server, project):
    ModelPriceFactory(
        project=project, model_name="m-priced", match_pattern="m-priced", input_price="0.001", output_price="0.002"
    )
    key = api_key_for(project, Role.MEMBER)
    usage = {
        "prompt_tokens": 100, "completion_tokens": 50, "total_tokens": 150,
        "prompt_tokens_details": {"cached_tokens": 40}, "completion_tokens_details": {"reasoning_tokens": 10},
    }  # fmt: skip
    with langfuse_client(live_server, key) as lf:
        with lf.start_as_current_observation(name="call", as_type="generation", model="m-priced", usage_details=usage):
            pass
        with lf.start_as_current_observation(
            name="no-total", as_type="generation", model="m-priced", usage_details={"input": 3, "output": 4}
        ):
            pass
        lf.flush()

    call = Observation.objects.get(project=project, name="call")
    assert call.usage_details == {
        "input": 60, "input_cached_tokens": 40, "output": 40, "output_reasoning_tokens": 10, "total": 150,
    }  # fmt: skip
    # Cached and reasoning tokens have no price of their own here: input 60 × 0.001 + output 40 × 0.002.
    assert call.cost_details == {"input": 0.06, "output": 0.08, "total": 0.14}
    no_total = Observation.objects.get(project=project, name="no-total")
    assert no_total.usage_details == {"input": 3, "output": 4, "total": 7} and no_total.total_tokens == 7
