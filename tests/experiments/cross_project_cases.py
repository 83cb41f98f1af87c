from experiments.models import ExperimentRun
from tests.datasets.factories import DatasetFactory
from tests.experiments.factories import ExperimentRunFactory, RunItemFactory, gate_policy
from tests.support.cross_project import CrossProjectCase


def make_run(project):
    # Names with '/' on both sides: the route must still find (and refuse) the other project's run.
    dataset = DatasetFactory(project=project, name="team/eval set")
    run = ExperimentRunFactory(project=project, dataset=dataset, name="nightly/1")
    RunItemFactory(run=run)
    return {"dataset_name": dataset.name, "run_name": run.name}


def make_dataset(project):
    run = ExperimentRunFactory(project=project, dataset=DatasetFactory(project=project, name="team/runs set"))
    return {"dataset_name": run.dataset.name}


def run_still_there(project, kwargs):
    return ExperimentRun.objects.filter(project=project, name=kwargs["run_name"]).exists()


CASES = [
    CrossProjectCase(
        pattern="api/public/datasets/<path:dataset_name>/runs/<path:run_name>",
        make=make_run,
        still_there=run_still_there,
    ),
    CrossProjectCase(pattern="api/public/datasets/<path:dataset_name>/runs", make=make_dataset),
]


def make_platform_run(project):
    run = ExperimentRunFactory(project=project, status="queued", source="PLATFORM")
    return {"run_id": run.run_id}


def platform_run_untouched(project, kwargs):
    return ExperimentRun.objects.filter(project=project, run_id=kwargs["run_id"], status="queued").exists()


CASES += [
    CrossProjectCase(pattern="api/public/experiments/runs/<str:run_id>", make=make_platform_run),
    CrossProjectCase(
        pattern="api/public/experiments/runs/<str:run_id>/cancel",
        make=make_platform_run,
        still_there=platform_run_untouched,
    ),
]


# Gates (experiments/gates): the policy's name and the runs' ids are the other project's.
def make_gate(project):
    gate_policy(project, "victim-gate")
    return {"gate_name": "victim-gate"}


def gate_untouched(project, kwargs):
    from experiments.gates.models import GatePolicy

    return list(GatePolicy.objects.filter(project=project, name=kwargs["gate_name"]).values_list("version", flat=True)) == [1]


def make_released_run(project):
    from experiments.gates.services import run_release_mark

    run = ExperimentRunFactory(project=project, run_id="victim-run", name="victim-run")
    run_release_mark(project=project, run=run)
    return {"run_id": run.run_id}


def release_untouched(project, kwargs):
    from experiments.gates.models import RunRelease

    return RunRelease.objects.filter(project=project, run__run_id=kwargs["run_id"]).exists()


CASES += [
    CrossProjectCase(
        pattern="api/public/gates/<str:gate_name>",
        make=make_gate,
        body={"rules": [{"type": "maxErrorRate", "threshold": 0.5}]},
        still_there=gate_untouched,
    ),
    CrossProjectCase(pattern="api/public/gates/<str:gate_name>/versions", make=make_gate),
    # The candidate is named by the victim's own run id: neither the gate nor the run may be reached.
    CrossProjectCase(
        pattern="api/public/gates/<str:gate_name>/evaluate",
        make=make_gate,
        body={"candidate": "victim-run"},
        still_there=gate_untouched,
    ),
    CrossProjectCase(
        pattern="api/public/experiments/runs/<str:run_id>/release",
        make=make_released_run,
        still_there=release_untouched,
    ),
    CrossProjectCase(pattern="api/public/experiments/runs/<str:run_id>/gate-results", make=make_released_run),
]
