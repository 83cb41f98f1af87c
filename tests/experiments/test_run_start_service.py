"""experiment_run_start knows nothing of HTTP: it refuses with Django's ValidationError keyed by its
own argument names, or the core's Conflict; the API and the admin translate (test_runner.py and
test_run_admin.py check what they show)."""

import pytest
from django.core.exceptions import ValidationError

from evalsite.api.errors import validation_error_for_wire
from evalsite.errors import Conflict
from experiments.models import ExperimentRun
from experiments.services import experiment_run_start
from tests.experiments.runner_setup import MODEL, runner_setup
from tests.support.fake_llm import FakeLLMServer

pytestmark = pytest.mark.django_db


@pytest.fixture
def llm():
    with FakeLLMServer() as server:
        yield server


def start(project, setup, **overrides):
    arguments = {
        "project": project,
        "dataset_name": setup.dataset.name,
        "run_name": "run-1",
        "prompt_name": setup.prompt_name,
        "provider": setup.provider,
        "model": MODEL,
        "enqueue": False,
        **overrides,
    }
    return experiment_run_start(**arguments)


@pytest.mark.parametrize(
    "overrides,argument",
    [
        ({"dataset_name": "nope"}, "dataset_name"),
        ({"prompt_name": "nope"}, "prompt_name"),
        ({"prompt_version": 1, "prompt_label": "production"}, "prompt_version"),
        ({"provider": "nope"}, "provider"),
        ({"model": ""}, "model"),
        ({"model_parameters": {"messages": []}}, "model_parameters"),
        ({"concurrency": 0}, "concurrency"),
        ({"run_name": ""}, "run_name"),
    ],
)
def test_the_start_service_names_the_refused_argument(project, llm, overrides, argument):
    setup = runner_setup(project, llm, items=1)
    with pytest.raises(ValidationError) as refused:
        start(project, setup, **overrides)
    assert list(refused.value.message_dict) == [argument]
    assert not ExperimentRun.objects.exists()


def test_a_second_run_of_the_same_name_is_a_core_conflict(project, llm):
    setup = runner_setup(project, llm, items=1)
    start(project, setup)
    with pytest.raises(Conflict, match="already has a run named 'run-1'"):
        start(project, setup)


def test_the_api_renames_argument_keys_to_wire_fields_and_keeps_the_others():
    error = ValidationError({"run_name": ["required"], "model": ["required"]})
    assert validation_error_for_wire(error, {"run_name": "runName"}).detail == {
        "runName": ["required"],
        "model": ["required"],
    }
    assert validation_error_for_wire(ValidationError("no field"), {}).detail == ["no field"]
