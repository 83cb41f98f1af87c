"""Platform runs judge their items as they are recorded, with the evaluators they name."""

import pytest

from evaluators.models import EvaluationJob
from experiments.models import ExperimentRun
from scoring.models import Score
from tests.evaluators.setup import boolean_judge, judge_connection
from tests.experiments.runner_setup import runner_setup, start_body
from tests.support.fake_llm import FakeLLMServer

pytestmark = pytest.mark.django_db


def test_a_platform_run_scores_every_item_with_its_judge_and_counts_the_jobs(
    api, project, django_capture_on_commit_callbacks
):
    with FakeLLMServer() as llm:
        setup = runner_setup(project, llm, items=4)
        judge_connection(project, llm, provider="judge")
        judge = boolean_judge(project, provider="judge")
        llm.add_rule(contains="Rate", answer="unused")
        llm.hook = lambda request: (
            {"reasoning": "fine", "score": True} if "response_format" in request.body else None
        )

        with django_capture_on_commit_callbacks(execute=True):
            response = api.post("experiments/runs", start_body(setup, evaluators=[{"evaluatorId": judge.pk}]))
        assert response.status_code == 202, response.json()

    run = ExperimentRun.objects.get(project=project, run_id=response.json()["id"])
    assert run.status == "completed" and run.config["evaluators"] == [
        {"evaluatorId": judge.pk, "variableMapping": None}
    ]
    assert EvaluationJob.objects.filter(project=project, run=run, status="completed").count() == 4
    scored_traces = set(
        Score.objects.filter(project=project, source="EVAL", name="correct").values_list(
            "trace_id", flat=True
        )
    )
    assert scored_traces == set(run.items.values_list("trace_id", flat=True))
    progress = api.get(f"experiments/runs/{run.run_id}").json()["progress"]
    assert progress["evaluations"] == {"total": 4, "done": 4, "failed": 0, "skipped": 0}


def test_a_run_naming_an_unknown_evaluator_is_refused_before_it_starts(api, project):
    with FakeLLMServer() as llm:
        setup = runner_setup(project, llm, items=1)
    response = api.post("experiments/runs", start_body(setup, evaluators=[{"evaluatorId": "nope"}]))
    assert response.status_code == 400 and "evaluators" in response.json()["details"]
    assert not ExperimentRun.objects.filter(project=project).exists()


def test_run_experiment_takes_evaluators_on_the_command_line(project, django_capture_on_commit_callbacks):
    from django.core.management import call_command

    from tests.evaluators.setup import check_evaluator

    with FakeLLMServer() as llm:
        setup = runner_setup(project, llm, items=2)
        check = check_evaluator(project, {"type": "contains", "value": "echo"}, name="echoes")
        with django_capture_on_commit_callbacks(execute=True):
            call_command(
                "run_experiment",
                "--project",
                project.pk,
                "--dataset",
                setup.dataset.name,
                "--run-name",
                "cli",
                "--prompt",
                setup.prompt_name,
                "--provider",
                setup.provider,
                "--model",
                "fake-model",
                "--evaluator",
                check.pk,
                "--here",
                stdout=open("/dev/null", "w"),
            )
    assert sorted(Score.objects.filter(project=project, name="echoes").values_list("value", flat=True)) == [
        1.0,
        1.0,
    ]
