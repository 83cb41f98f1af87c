from experiments.models import ExperimentRun
from tests.datasets.factories import DatasetFactory
from tests.experiments.factories import ExperimentRunFactory, RunItemFactory
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
