"""Run evaluators: aggregates of item scores written as run-level scores."""

import pytest

from scoring.models import Score
from tests.experiments.factories import ExperimentRunFactory, RunItemFactory
from tests.scoring.factories import ScoreFactory

pytestmark = pytest.mark.django_db


def scored_run(project, rows):
    """rows: [(judge verdict 1/0, expected label)]."""
    run = ExperimentRunFactory(project=project)
    for verdict, expected in rows:
        item = RunItemFactory(run=run, expected_output=expected)
        ScoreFactory(project=project, trace_id=item.trace_id, observation_id=None, name="spam", value=verdict,
                     data_type="BOOLEAN", string_value="True" if verdict else "False")
    return run


def test_precision_recall_and_f1_of_a_boolean_score_against_the_expected_labels(api, project):
    # tp=2, fp=1, fn=1, tn=1 → precision 2/3, recall 2/3, f1 2/3
    run = scored_run(project, [(1, "yes"), (1, "yes"), (1, "no"), (0, "yes"), (0, "no")])
    response = api.post(f"experiments/runs/{run.run_id}/run-evaluations", {"type": "precision_recall_f1", "scoreName": "spam"})
    assert response.status_code == 200, response.json()
    metrics = response.json()["metrics"]
    assert metrics == pytest.approx({"precision": 2 / 3, "recall": 2 / 3, "f1": 2 / 3})
    stored = dict(Score.objects.filter(project=project, dataset_run_id=run.run_id).values_list("name", "value"))
    assert stored == pytest.approx({"spam.precision": 2 / 3, "spam.recall": 2 / 3, "spam.f1": 2 / 3})

    again = api.post(f"experiments/runs/{run.run_id}/run-evaluations", {"type": "precision_recall_f1", "scoreName": "spam"})
    assert again.status_code == 200
    assert Score.objects.filter(project=project, dataset_run_id=run.run_id).count() == 3


def test_the_mean_of_an_item_score(api, project):
    run = scored_run(project, [(1, "x"), (0, "x"), (1, "x"), (1, "x")])
    response = api.post(f"experiments/runs/{run.run_id}/run-evaluations", {"type": "mean", "scoreName": "spam"})
    assert response.json()["metrics"] == {"mean": 0.75}
    assert Score.objects.get(project=project, dataset_run_id=run.run_id).name == "spam.mean"
