"""Ingestion semantics: upsert by id, merge later into earlier, any arrival order, retries change nothing."""

import itertools
import json
import random
from decimal import Decimal

import pytest

from evalsite.llm.managed_prices import managed_price_list
from experiments.models import RunItem
from ingestion.services import spans_ingest
from tests.ingestion.spans import SpanSpec, sdk_trace
from tests.traces.factories import ModelPriceFactory
from traces.models import Observation, Trace

pytestmark = pytest.mark.django_db

VOLATILE = {"id", "created_at", "updated_at"}


def ingest(project, specs):
    return spans_ingest(project=project, spans=[spec.mapped() for spec in specs])


def snapshot(project):
    """Every stored trace and observation, without the columns that record when rows were written."""
    traces = {
        row["trace_id"]: {k: v for k, v in row.items() if k not in VOLATILE}
        for row in Trace.objects.filter(project=project).values()
    }
    observations = {
        row["observation_id"]: {k: v for k, v in row.items() if k not in VOLATILE}
        for row in Observation.objects.filter(project=project).values()
    }
    return traces, observations


def test_a_trace_from_the_sdk_is_stored_with_root_span_rules(project):
    ingest(project, sdk_trace())
    trace = Trace.objects.get(project=project)
    assert trace.trace_id == "a" * 32
    assert trace.name == "handle"  # no langfuse.trace.name: the root span's name
    assert trace.input == {"q": "hi"} and trace.output == {"a": "hello"}
    assert trace.timestamp == sdk_trace()[-1].start_time
    assert (trace.user_id, trace.session_id, trace.version, trace.release) == ("user-1", "session-1", "v1", "r1")
    assert trace.environment == "production"
    assert trace.tags == ["alpha", "beta"]
    assert trace.metadata == {"team": "qa"}
    assert trace.root_observation_id == "a" * 15 + "1"
    generation = Observation.objects.get(project=project, observation_id="a" * 15 + "3")
    assert (generation.type, generation.model, generation.output) == ("GENERATION", "gpt-test", "hello")
    assert (generation.input_tokens, generation.output_tokens, generation.total_tokens) == (100, 50, 150)
    assert generation.total_cost is None  # no price and no cost given


def test_the_same_spans_sent_twice_change_nothing(project):
    ingest(project, sdk_trace())
    first = snapshot(project)
    ingest(project, sdk_trace())
    assert snapshot(project) == first
    assert Trace.objects.count() == 1 and Observation.objects.count() == 4


def test_children_before_parents_give_the_same_trace_as_parents_first(project, victim_project):
    ingest(project, sdk_trace())  # SDK order: children first
    ingest(victim_project, list(reversed(sdk_trace())))  # root first
    ours, theirs = snapshot(project), snapshot(victim_project)
    for rows in (*ours, *theirs):
        for row in rows.values():
            row.pop("project_id")
    assert ours == theirs


def test_a_trace_split_over_three_requests_equals_one_request(project, victim_project):
    spans = sdk_trace()
    ingest(project, spans)
    for part in ([spans[3]], [spans[0], spans[2]], [spans[1]]):
        ingest(victim_project, part)
    ours, theirs = snapshot(project), snapshot(victim_project)
    for rows in (*ours, *theirs):
        for row in rows.values():
            row.pop("project_id")
    assert ours == theirs


@pytest.mark.parametrize("seed", range(6))
def test_any_order_and_any_split_of_conflicting_spans_gives_the_same_rows(project, victim_project, seed):
    # Spans that disagree: an explicit trace name on a child vs the root's own name, two roots,
    # metadata and tags spread over spans, an observation re-sent with a later level.
    trace_id = "b" * 32
    specs = [
        SpanSpec(trace_id, "1" * 16, None, "root", 1.0, 5.0, attributes={"langfuse.observation.input": '"root-in"'}),
        SpanSpec(trace_id, "2" * 16, "1" * 16, "child", 2.0, 3.0, attributes={"langfuse.trace.name": "explicit", "langfuse.trace.tags": ["x"]}),
        SpanSpec(trace_id, "3" * 16, "9" * 16, "app-root", 0.5, 4.0, attributes={"langfuse.internal.is_app_root": True, "langfuse.observation.output": '"early"'}),
        SpanSpec(trace_id, "4" * 16, "1" * 16, "meta", 2.5, 2.6, attributes={"langfuse.trace.metadata.a": '"1"', "langfuse.trace.tags": ["y", "x"]}),
        SpanSpec(trace_id, "5" * 16, "1" * 16, "warn", 3.0, 3.5, attributes={"langfuse.observation.level": "WARNING", "langfuse.environment": "prod"}),
    ]
    ingest(project, specs)
    expected = snapshot(project)

    shuffled = list(specs)
    random.Random(seed).shuffle(shuffled)
    cut_a, cut_b = sorted(random.Random(seed + 100).sample(range(1, len(shuffled)), 2))
    for part in (shuffled[:cut_a], shuffled[cut_a:cut_b], shuffled[cut_b:]):
        ingest(victim_project, part)
    actual = snapshot(victim_project)
    for rows in (*expected, *actual):
        for row in rows.values():
            row.pop("project_id")
    assert actual == expected
    trace = expected[0][trace_id]
    assert trace["name"] == "explicit"  # an explicit trace name beats any root's own name
    assert trace["root_observation_id"] == "3" * 16  # the earliest root is the trace's root
    # The earliest root has no input: the other root's input fills the gap.
    assert trace["output"] == "early" and trace["input"] == "root-in"
    assert trace["tags"] == ["x", "y"] and trace["metadata"] == {"a": "1"}


def test_a_later_write_merges_into_the_stored_row(project):
    trace_id, span_id = "c" * 32, "1" * 16
    ingest(project, [SpanSpec(trace_id, span_id, None, "root", attributes={"langfuse.observation.metadata.a": "1", "langfuse.trace.tags": ["t1"]})])
    ingest(
        project,
        [
            SpanSpec(
                trace_id,
                span_id,
                None,
                "root",
                attributes={
                    "langfuse.observation.metadata.b": "2",
                    "langfuse.trace.tags": ["t2"],
                    "langfuse.observation.level": "ERROR",
                    "langfuse.observation.model.name": "m",
                },
            )
        ],
    )
    observation = Observation.objects.get(project=project, observation_id=span_id)
    assert observation.metadata == {"a": 1, "b": 2}
    assert observation.level == "ERROR" and observation.model == "m"
    assert Trace.objects.get(project=project).tags == ["t1", "t2"]


def test_an_observation_whose_trace_never_gets_a_root_has_a_placeholder_trace(project):
    ingest(project, [SpanSpec("d" * 32, "2" * 16, "1" * 16, "orphan", 3.0, 4.0), SpanSpec("d" * 32, "3" * 16, "1" * 16, "orphan-2", 2.0, 4.0)])
    trace = Trace.objects.get(project=project)
    assert trace.name is None and trace.root_observation_id is None
    assert trace.timestamp == SpanSpec("d" * 32, "x", start=2.0).start_time  # the earliest span's start
    assert trace.environment == "default"


def test_cost_is_computed_from_the_projects_model_price_when_usage_has_no_cost(project, victim_project):
    ModelPriceFactory(project=project, model_name="gpt-test", match_pattern="(?i)^gpt-test$", input_price="0.001", output_price="0.002")
    ModelPriceFactory(project=victim_project, model_name="gpt-test", match_pattern="(?i)^gpt-test$", input_price="1", output_price="1")
    ingest(project, sdk_trace())
    generation = Observation.objects.get(project=project, observation_id="a" * 15 + "3")
    assert generation.cost_details == {"input": 0.1, "output": 0.1, "total": 0.2}
    assert generation.total_cost == Decimal("0.2")


def test_a_cost_sent_with_the_span_is_kept_over_the_price(project):
    ModelPriceFactory(project=project, model_name="gpt-test", match_pattern="gpt-test", input_price="1", output_price="1")
    specs = sdk_trace()
    specs[0].attributes["langfuse.observation.cost_details"] = json.dumps({"total": 0.5})
    ingest(project, specs)
    generation = Observation.objects.get(project=project, observation_id="a" * 15 + "3")
    assert generation.cost_details == {"total": 0.5} and generation.total_cost == Decimal("0.5")


def test_text_that_postgresql_cannot_store_is_cleaned_not_fatal(project):
    ingest(
        project,
        [
            SpanSpec(
                "e" * 32,
                "1" * 16,
                None,
                "nul\x00name" + "x" * 2000,
                attributes={"langfuse.observation.input": json.dumps({"text": "a\x00b"}), "langfuse.environment": "e" * 80},
            )
        ],
    )
    observation = Observation.objects.get(project=project)
    assert observation.name.startswith("nulname") and len(observation.name) == 1000
    assert observation.input == {"text": "ab"}
    assert observation.environment == "e" * 40


def test_experiment_item_root_spans_record_their_run_item(project):
    trace_id, task_id = "f" * 32, "2" * 16
    experiment = {
        "langfuse.experiment.id": "run0000000000001",
        "langfuse.experiment.name": "run one",
        "langfuse.experiment.item.id": "item-1",
        "langfuse.experiment.item.root_observation_id": task_id,
        "langfuse.experiment.item.expected_output": json.dumps("4"),
    }
    ingest(
        project,
        [
            SpanSpec(trace_id, task_id, "1" * 16, "experiment-item-task", 1, 2, attributes={**experiment, "langfuse.observation.output": '"4"'}),
            SpanSpec(trace_id, "1" * 16, None, "experiment-item-run", 0, 3, attributes=experiment),
        ],
    )
    item = RunItem.objects.get(project=project)
    assert (item.run.run_id, item.item_key, item.trace_id, item.observation_id) == ("run0000000000001", "item-1", trace_id, task_id)
    assert item.expected_output == "4" and item.output == "4"


def test_ingestion_queries_do_not_grow_with_the_batch(project, django_assert_num_queries):
    def batch(count, offset):
        return list(itertools.chain.from_iterable(sdk_trace(f"{offset + n:032x}") for n in range(count)))

    ModelPriceFactory(project=project, model_name="gpt-test", match_pattern="gpt-test")
    managed_price_list()  # the built-in prices' first use loads them; not what is counted here
    small, large = batch(2, 1), batch(40, 100)
    # savepoint + project prices + built-in prices + traces + observations (+ release)
    with django_assert_num_queries(6) as small_queries:
        ingest(project, small)
    with django_assert_num_queries(len(small_queries.captured_queries)):
        ingest(project, large)
    assert Observation.objects.filter(project=project).count() == 4 * 42
