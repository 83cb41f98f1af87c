"""Runs and run items derived from experiment item root spans (reference §5)."""

import itertools
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from experiments.models import ExperimentRun, RunItem
from experiments.services import experiment_items_record_from_spans
from tests.datasets.factories import DatasetFactory, DatasetItemFactory

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


def span(item_id="item-1", *, run_id="0123456789abcdef", name="nightly", seconds=0, observation_id=None, **extra):
    start = T0 + timedelta(seconds=seconds)
    observation_id = observation_id or f"{abs(hash((run_id, item_id, seconds))) % 16**16:016x}"
    record = {
        "id": run_id,
        "name": name,
        "description": None,
        "metadata": None,
        "dataset_id": None,
        "item_id": item_id,
        "item_version": None,
        "item_metadata": None,
        "item_root_observation_id": observation_id,
        "item_expected_output": {"answer": item_id},
        "is_item_root": True,
        "trace_id": f"{abs(hash((observation_id, 't'))) % 16**32:032x}",
        "observation_id": observation_id,
        "start_time": start,
        "end_time": start + timedelta(milliseconds=250),
        "input": {"question": item_id},
        "output": f"answer to {item_id} at {seconds}",
        "environment": "sdk-experiment",
    }
    record.update(extra)
    return record


def state(project):
    runs = [
        (r.run_id, r.name, r.description, r.metadata, r.dataset_id, r.started_at, r.finished_at)
        for r in ExperimentRun.objects.filter(project=project).order_by("run_id")
    ]
    items = [
        (i.run.run_id, i.item_key, i.trace_id, i.observation_id, i.output, i.latency_ms, i.started_at, i.error)
        for i in RunItem.objects.filter(project=project)
        .select_related("run")
        .order_by("run__run_id", "item_key", "started_at")
    ]
    return runs, items


def test_item_root_spans_create_a_run_and_its_items(project):
    dataset = DatasetFactory(project=project)
    linked = DatasetItemFactory(dataset=dataset, item_id="item-1")
    records = [
        span("item-1", dataset_id=dataset.pk, description="first try", metadata={"model": "m1"}),
        span("local-hash", seconds=5),
    ]
    experiment_items_record_from_spans(project=project, records=records)

    run = ExperimentRun.objects.get(project=project)
    assert (run.run_id, run.name, run.description, run.metadata) == ("0123456789abcdef", "nightly", "first try", {"model": "m1"})
    assert run.dataset == dataset
    assert run.started_at == T0 and run.finished_at == T0 + timedelta(seconds=5, milliseconds=250)
    items = {item.item_key: item for item in run.items.all()}
    assert set(items) == {"item-1", "local-hash"}
    first = items["item-1"]
    assert first.dataset_item == linked
    assert first.project == project
    assert (first.trace_id, first.observation_id) == (records[0]["trace_id"], records[0]["observation_id"])
    assert first.input == {"question": "item-1"} and first.expected_output == {"answer": "item-1"}
    assert first.output == "answer to item-1 at 0"
    assert first.latency_ms == pytest.approx(250.0)
    assert first.started_at == T0 and first.error is None
    assert items["local-hash"].dataset_item is None


def test_spans_in_any_order_and_any_batching_give_the_same_result(project, victim_project):
    records = [
        span("a", seconds=0),
        span("b", seconds=1),
        span("a", seconds=10, name="nightly", description="rerun"),
        span("c", seconds=3, run_id="fedcba9876543210", name="other"),
        span("b", seconds=-5),
    ]
    experiment_items_record_from_spans(project=project, records=records)
    expected = state(project)
    for order in itertools.islice(itertools.permutations(records), 0, None, 17):
        ExperimentRun.objects.filter(project=project).delete()
        for record in order:  # one span per batch, in this order
            experiment_items_record_from_spans(project=project, records=[record])
        assert state(project) == expected
    # Each trace of an item is a trial of it: both are kept, whatever the order they came in.
    assert [item[4] for item in expected[1]] == [
        "answer to a at 0", "answer to a at 10", "answer to b at -5", "answer to b at 1", "answer to c at 3",
    ]


def test_resending_the_same_spans_changes_nothing(project):
    records = [span("a"), span("b", seconds=2, level="ERROR", status_message="boom")]
    experiment_items_record_from_spans(project=project, records=records)
    before = state(project)
    experiment_items_record_from_spans(project=project, records=records)
    experiment_items_record_from_spans(project=project, records=list(reversed(records)))
    assert state(project) == before
    assert RunItem.objects.filter(project=project).count() == 2


def test_a_rerun_with_the_same_run_name_merges_into_one_run_as_second_trials(project):
    dataset = DatasetFactory(project=project)
    DatasetItemFactory(dataset=dataset, item_id="q1")
    DatasetItemFactory(dataset=dataset, item_id="q2")
    second_run = [span("q1", seconds=100, dataset_id=dataset.pk), span("q2", seconds=101, dataset_id=dataset.pk)]
    first_run = [span("q1", seconds=0, dataset_id=dataset.pk), span("q2", seconds=1, dataset_id=dataset.pk)]
    # The re-run's spans are exported first: arrival order must not matter.
    experiment_items_record_from_spans(project=project, records=second_run)
    experiment_items_record_from_spans(project=project, records=first_run)

    run = ExperimentRun.objects.get(project=project)
    trials = sorted(run.items.values_list("item_key", "trial", "output"))
    # The re-run arrived first, so its traces are trial 1: trials are numbered as they arrive.
    assert trials == [
        ("q1", 1, "answer to q1 at 100"), ("q1", 2, "answer to q1 at 0"),
        ("q2", 1, "answer to q2 at 101"), ("q2", 2, "answer to q2 at 1"),
    ]
    assert run.started_at == T0
    assert run.finished_at == T0 + timedelta(seconds=101, milliseconds=250)


def test_run_attributes_come_from_the_newest_span_and_a_null_never_erases(project):
    experiment_items_record_from_spans(
        project=project, records=[span("a", seconds=10, description="new", metadata={"v": 2})]
    )
    experiment_items_record_from_spans(
        project=project, records=[span("b", seconds=0, description="old", metadata={"v": 1})]
    )
    experiment_items_record_from_spans(project=project, records=[span("c", seconds=20)])
    run = ExperimentRun.objects.get(project=project)
    assert (run.description, run.metadata) == ("new", {"v": 2})


def test_spans_that_are_not_the_item_root_are_ignored(project):
    child = span("a", is_item_root=False, item_root_observation_id="ffffffffffffffff")
    experiment_items_record_from_spans(project=project, records=[child])
    assert not ExperimentRun.objects.filter(project=project).exists()


def test_a_failed_task_is_recorded_as_the_items_error(project):
    experiment_items_record_from_spans(
        project=project, records=[span("a", level="ERROR", status_message="Task failed: timeout", output="Error: x")]
    )
    assert RunItem.objects.get(project=project).error == "Task failed: timeout"


def test_another_projects_dataset_and_items_are_never_linked(project, victim_project):
    their_dataset = DatasetFactory(project=victim_project)
    DatasetItemFactory(dataset=their_dataset, item_id="shared-id")
    experiment_items_record_from_spans(project=project, records=[span("shared-id", dataset_id=their_dataset.pk)])
    item = RunItem.objects.select_related("run").get(project=project)
    assert item.run.dataset_id is None
    assert item.dataset_item_id is None


def test_the_same_run_id_in_two_projects_makes_two_runs(project, victim_project):
    experiment_items_record_from_spans(project=project, records=[span("a")])
    experiment_items_record_from_spans(project=victim_project, records=[span("a", output="theirs")])
    assert ExperimentRun.objects.filter(run_id="0123456789abcdef").count() == 2
    assert RunItem.objects.get(project=project).output == "answer to a at 0"


def test_a_batch_takes_the_same_number_of_queries_whatever_its_size(project):
    counts = []
    # 40 items stay within one INSERT even on SQLite (999 parameters per statement).
    for size, run_id in ((3, "1111111111111111"), (40, "2222222222222222")):
        records = [span(f"item-{n}", run_id=run_id, seconds=n) for n in range(size)]
        with CaptureQueriesContext(connection) as queries:
            experiment_items_record_from_spans(project=project, records=records)
        counts.append(len(queries))
        # and once more, now as updates of existing items
        records = [span(f"item-{n}", run_id=run_id, seconds=n + 1000) for n in range(size)]
        with CaptureQueriesContext(connection) as queries:
            experiment_items_record_from_spans(project=project, records=records)
        counts.append(len(queries))
    assert counts[0] == counts[2] and counts[1] == counts[3], counts
    assert max(counts) <= 10


def test_ids_too_long_to_store_are_skipped_and_long_run_names_are_cut(project):
    experiment_items_record_from_spans(
        project=project,
        records=[span("x" * 201), span("ok", run_id="r" * 129), span("fine", name="n" * 600)],
    )
    run = ExperimentRun.objects.get(project=project)
    assert run.name == "n" * 500
    assert list(run.items.values_list("item_key", flat=True)) == ["fine"]
