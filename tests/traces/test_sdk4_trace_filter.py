"""`GET /traces?filter=`: the 4.x SDK's batch evaluation of traces depends on the structured filter."""

import json

import pytest

from scoring.models import Score
from tests.support.sdk4 import run_sdk4
from tests.tenancy.factories import api_key_for
from tests.traces.factories import TraceFactory

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.live]


def test_4x_batch_evaluation_scores_only_the_traces_its_filter_selects(live_server, project):
    TraceFactory(project=project, trace_id="a" * 32, name="checkout", tags=["prod"], output="fine")
    TraceFactory(project=project, trace_id="b" * 32, name="checkout", tags=["dev"], output="fine")
    TraceFactory(project=project, trace_id="c" * 32, name="search", tags=["prod"], output="fine")
    checkout_in_prod = json.dumps([
        {"type": "stringOptions", "column": "name", "operator": "any of", "value": ["checkout"]},
        {"type": "arrayOptions", "column": "tags", "operator": "any of", "value": ["prod"]},
    ])  # fmt: skip
    result = run_sdk4(
        live_server,
        api_key_for(project),
        f"""
        from langfuse import Evaluation
        from langfuse.batch_evaluation import EvaluatorInputs

        def mapper(*, item, **kwargs):
            return EvaluatorInputs(input=item.input, output=item.output, metadata={{"id": item.id}})

        def says_fine(*, output, **kwargs):
            return Evaluation(name="fine", value=1.0 if output == "fine" else 0.0)

        outcome = lf.run_batched_evaluation(
            scope="traces", mapper=mapper, evaluators=[says_fine], filter={checkout_in_prod!r},
        )
        nothing = lf.api.trace.list(filter='[{{"type": "string", "column": "name", "operator": "=", "value": "nope"}}]')
        result = {{"fetched": outcome.total_items_fetched, "unmatched": len(nothing.data)}}
        """,
    )
    assert result == {"fetched": 1, "unmatched": 0}
    assert list(Score.objects.filter(project=project).values_list("trace_id", "name", "value")) == [("a" * 32, "fine", 1.0)]
