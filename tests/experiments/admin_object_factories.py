from experiments.models import ExperimentRun, RunItem
from tests.experiments.factories import ExperimentRunFactory, RunItemFactory

FACTORIES = {
    ExperimentRun: lambda project: ExperimentRunFactory(project=project),
    RunItem: lambda project: RunItemFactory(run=ExperimentRunFactory(project=project)),
}
