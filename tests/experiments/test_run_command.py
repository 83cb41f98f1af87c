import io

import pytest
from django.core.management import CommandError, call_command

import evalsite.llm.client
from experiments.models import ExperimentRun, RunItem
from tests.experiments.runner_setup import runner_setup
from tests.support.fake_llm import FakeLLMServer

pytestmark = pytest.mark.django_db(transaction=True)


def test_run_experiment_executes_here_with_a_progress_bar(project, capsys, monkeypatch):
    monkeypatch.setattr(evalsite.llm.client, "BACKOFF_BASE_SECONDS", 0.001)
    with FakeLLMServer() as llm:
        setup = runner_setup(project, llm, items=5)
        out = io.StringIO()
        call_command(
            "run_experiment", "--project", project.pk, "--dataset", setup.dataset.name, "--run-name", "cli",
            "--prompt", setup.prompt_name, "--provider", "fake", "--model", "fake-model",
            "--param", "temperature=0.2", "--concurrency", "2", "--here", stdout=out,
        )
    run = ExperimentRun.objects.get(name="cli")
    assert RunItem.objects.filter(run=run).count() == 5
    assert run.config["modelParameters"] == {"temperature": 0.2}
    assert "completed: 5 succeeded, 0 failed" in out.getvalue()
    assert "5/5" in capsys.readouterr().err


def test_run_experiment_refuses_bad_references_with_the_field(project):
    with FakeLLMServer() as llm:
        runner_setup(project, llm, items=1)
        with pytest.raises(CommandError, match="provider"):
            call_command("run_experiment", "--project", project.pk, "--dataset", "qa/set", "--run-name", "x",
                         "--prompt", "qa/answer", "--provider", "missing", "--model", "m", stdout=io.StringIO())


def test_run_experiment_queues_for_the_workers_and_follows_the_run(project, capsys, monkeypatch):
    monkeypatch.setattr(evalsite.llm.client, "BACKOFF_BASE_SECONDS", 0.001)
    with FakeLLMServer() as llm:
        setup = runner_setup(project, llm, items=3)
        out = io.StringIO()
        # Under pytest the queued task runs as soon as the start commits (django-q sync mode).
        call_command("run_experiment", "--project", project.pk, "--dataset", setup.dataset.name, "--run-name", "q",
                     "--prompt", setup.prompt_name, "--provider", "fake", "--model", "fake-model", stdout=out)
    assert "completed: 3 succeeded, 0 failed" in out.getvalue()
    assert "3/3" in capsys.readouterr().err
