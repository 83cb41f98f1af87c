"""End to end: the unmodified langfuse 5.0.4 SDK runs experiments against a live server.

Datasets and items go through the REST API, runs arrive only as OTLP spans, item scores and run
scores through POST /scores; the server must tie them all together (reference §3.3, §3.5, §5).
"""

import hashlib
import json

import pytest

from datasets.models import Dataset, DatasetItem
from experiments.comparison import comparison_build
from experiments.models import ExperimentRun, RunItem
from experiments.services import stable_run_id
from scoring.models import Score
from tests.support.live import langfuse_client
from tests.tenancy.factories import ProjectFactory, api_key_for
from traces.models import Observation

pytestmark = [pytest.mark.live, pytest.mark.django_db(transaction=True)]

DATASET = "team/arithmetic"
# Words, not digits: the SDK sends string outputs raw and the server JSON-decodes what it can (§4).
ANSWERS = {"1+1": "two", "10-3": "seven", "2*3": "six", "5+5": "ten", "9-1": "eight"}


def solve(question: str) -> str:
    return ANSWERS[question]


def test_sdk_experiments_become_runs_with_items_scores_and_run_scores(live_server):
    from langfuse import Evaluation

    project = ProjectFactory()
    key = api_key_for(project)

    def exact(*, input, output, expected_output, **kwargs):
        return Evaluation(name="exact", value=1.0 if output == expected_output else 0.0)

    def short(*, output, **kwargs):
        return Evaluation(name="short", value=1.0 if len(str(output)) <= 4 else 0.0, data_type="BOOLEAN")

    def mean_exact(*, item_results, **kwargs):
        values = [e.value for result in item_results for e in result.evaluations if e.name == "exact"]
        return Evaluation(name="mean_exact", value=sum(values) / len(values))

    def careless(*, item, **kwargs):
        return "zero"

    def careful(*, item, **kwargs):
        # Dataset items are objects, local data items are dicts.
        return solve(item["input"]["q"] if isinstance(item, dict) else item.input["q"])

    with langfuse_client(live_server, key) as lf:
        lf.create_dataset(name=DATASET, description="sums and differences")
        lf.create_dataset_item(dataset_name=DATASET, id="q-add", input={"q": "1+1"}, expected_output="two")
        lf.create_dataset_item(dataset_name=DATASET, id="q-sub", input={"q": "10-4"}, expected_output="six")
        lf.create_dataset_item(dataset_name=DATASET, id="q-sub", input={"q": "10-3"}, expected_output="seven")  # upsert
        lf.create_dataset_item(dataset_name=DATASET, input={"q": "2*3"}, expected_output="six")  # id from the SDK

        dataset = lf.get_dataset(DATASET, fetch_items_page_size=2)
        assert sorted(item.input["q"] for item in dataset.items) == ["1+1", "10-3", "2*3"]

        first = dataset.run_experiment(
            name="calculator", run_name="calc v1", task=careless, evaluators=[exact, short], run_evaluators=[mean_exact]
        )
        again = dataset.run_experiment(
            name="calculator", run_name="calc v1", task=careful, evaluators=[exact, short], run_evaluators=[mean_exact]
        )
        local = lf.run_experiment(
            name="local check",
            data=[{"input": {"q": "5+5"}, "expected_output": "ten"}, {"input": {"q": "9-1"}, "expected_output": "eight"}],
            task=careful,
            evaluators=[exact],
            run_evaluators=[mean_exact],
        )
        lf.flush()

    stored = Dataset.objects.get(project=project, name=DATASET)
    items = {item.item_id: item for item in DatasetItem.objects.filter(project=project, dataset=stored)}
    assert len(items) == 3 and items["q-sub"].input == {"q": "10-3"}
    third_id = next(item_id for item_id in items if item_id not in ("q-add", "q-sub"))

    # The same run name on the same dataset is one run, with the id the SDK derives.
    assert first.experiment_id == again.experiment_id
    assert first.experiment_id == stable_run_id(project_id=project.pk, dataset_id=stored.pk, run_name="calc v1")
    run = ExperimentRun.objects.get(project=project, run_id=first.experiment_id)
    assert (run.name, run.dataset) == ("calc v1", stored)

    # Each call sent every item once more: the run holds two trials of each, one per trace.
    trials_by_item: dict[str, list[RunItem]] = {}
    for run_item in RunItem.objects.filter(project=project, run=run).order_by("trial"):
        trials_by_item.setdefault(run_item.item_key, []).append(run_item)
    assert set(trials_by_item) == {"q-add", "q-sub", third_id}
    traces_of = {
        "careless": {result.item.id: result.trace_id for result in first.item_results},
        "careful": {result.item.id: result.trace_id for result in again.item_results},
    }
    for item_key, trials in trials_by_item.items():
        assert [trial.trial for trial in trials] == [1, 2]
        assert {trial.trace_id for trial in trials} == {traces_of["careless"][item_key], traces_of["careful"][item_key]}
        for run_item in trials:
            assert run_item.dataset_item == items[item_key]
            careful_trial = run_item.trace_id == traces_of["careful"][item_key]
            assert run_item.output == (solve(items[item_key].input["q"]) if careful_trial else "zero")
            task = Observation.objects.get(project=project, observation_id=run_item.observation_id)
            assert (task.trace_id, task.name) == (run_item.trace_id, "experiment-item-task")
            assert run_item.expected_output == items[item_key].expected_output
            assert run_item.latency_ms is not None and run_item.error is None

            item_scores = Score.objects.filter(project=project, trace_id=run_item.trace_id)
            assert {(s.name, s.observation_id, s.value) for s in item_scores} == {
                ("exact", run_item.observation_id, 1.0 if careful_trial else 0.0),
                ("short", run_item.observation_id, 1.0 if len(run_item.output) <= 4 else 0.0),
            }

    run_scores = Score.objects.filter(project=project, dataset_run_id=run.run_id, name="mean_exact")
    assert sorted(score.value for score in run_scores) == [0.0, 1.0]  # one per call of run_experiment

    local_run = ExperimentRun.objects.get(project=project, run_id=local.experiment_id)
    assert local_run.dataset is None and local_run.name == local.run_name
    local_keys = set(RunItem.objects.filter(run=local_run).values_list("item_key", flat=True))
    expected_keys = {
        hashlib.sha256(json.dumps({"q": q}).encode()).hexdigest()[:16] for q in ("5+5", "9-1")
    }
    assert local_keys == expected_keys
    assert not RunItem.objects.filter(run=local_run, dataset_item__isnull=False).exists()
    assert Score.objects.filter(project=project, dataset_run_id=local.experiment_id, name="mean_exact").count() == 1

    # And the comparison reads it all: each item's trials averaged (one right, one wrong: 0.5), every
    # item's "exact" flips between its trials, and the later run-level score wins.
    comparison = comparison_build(project=project, run_ids=[run.run_id])
    (summary,) = comparison.summaries
    assert (summary.item_count, summary.trial_count, summary.max_trials) == (3, 6, 2)
    assert summary.scores["exact"].mean == 0.5
    assert summary.variation["exact"] == {"items": 3, "varying": 3, "shareVarying": 1.0, "meanVariance": pytest.approx(0.5)}
    assert all("exact" in row.flips for row in comparison.rows)
    assert comparison.score_kinds == {"exact": "numeric", "short": "boolean"}
    assert [(s["name"], s["value"]) for s in summary.run_scores] == [("mean_exact", 1.0)]
