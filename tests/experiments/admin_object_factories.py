import itertools

from experiments.gates.models import GatePolicy, GateResult
from experiments.gates.services import gate_evaluate
from experiments.models import ExperimentRun, RunItem
from tests.experiments.factories import ExperimentRunFactory, RunItemFactory, gate_policy

GATE_NUMBERS = itertools.count()


def make_gate_result(project):
    run = ExperimentRunFactory(project=project)
    RunItemFactory(run=run)
    return gate_evaluate(project=project, policy=gate_policy(project, f"gate-{next(GATE_NUMBERS)}"), candidate=run.run_id)


FACTORIES = {
    ExperimentRun: lambda project: ExperimentRunFactory(project=project),
    RunItem: lambda project: RunItemFactory(run=ExperimentRunFactory(project=project)),
    GatePolicy: lambda project: gate_policy(project, f"gate-{next(GATE_NUMBERS)}"),
    GateResult: make_gate_result,
}
