import factory
from django.utils import timezone

from experiments.models import ExperimentRun, RunItem
from tests.tenancy.factories import ProjectFactory


class ExperimentRunFactory(factory.django.DjangoModelFactory):
    """A run on local data; pass `dataset=` (of the same project) for a dataset run."""

    class Meta:
        model = ExperimentRun

    project = factory.SubFactory(ProjectFactory)
    run_id = factory.Sequence(lambda n: f"{n:016x}")
    name = factory.Sequence(lambda n: f"run {n}")
    dataset = None
    started_at = factory.LazyFunction(timezone.now)
    finished_at = factory.LazyFunction(timezone.now)


class RunItemFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = RunItem

    run = factory.SubFactory(ExperimentRunFactory)
    project = factory.SelfAttribute("run.project")
    item_key = factory.Sequence(lambda n: f"item-{n:05d}")
    trace_id = factory.Sequence(lambda n: f"{n:032x}")
    observation_id = factory.Sequence(lambda n: f"{n:016x}")
    input = factory.LazyAttribute(lambda item: {"question": item.item_key})
    expected_output = "expected"
    output = "output"
    latency_ms = 100.0
    started_at = factory.LazyFunction(timezone.now)


def scored_runs(project, columns: dict[str, list], *, score="accuracy", data_type="NUMERIC", latency=None, cost=None):
    """Runs named by `columns` ({run name: [score per item, None = item not in the run]}), one run item
    per value on items item-000, item-001, … with one score each on the item's trace. A list of values
    for an item makes that many trials of it, each with its own trace. Returns the runs."""
    from tests.scoring.factories import ScoreFactory

    runs = []
    for name, values in columns.items():
        run = ExperimentRunFactory(project=project, name=name)
        for index, value in enumerate(values):
            if value is None:
                continue
            for trial, trial_value in enumerate(value if isinstance(value, list) else [value], start=1):
                item = RunItemFactory(
                    run=run,
                    item_key=f"item-{index:03d}",
                    trial=trial,
                    output=f"{name} says {index}",
                    latency_ms=latency(index) if latency else 100.0 + index,
                    cost=cost,
                )
                _score(ScoreFactory, project, item, score, data_type, trial_value)
        runs.append(run)
    return runs


def _score(ScoreFactory, project, item, score, data_type, value):
    if data_type == "BOOLEAN":
        ScoreFactory(
            project=project,
            trace_id=item.trace_id,
            observation_id=item.observation_id,
            name=score,
            data_type="BOOLEAN",
            value=1.0 if value else 0.0,
            string_value="True" if value else "False",
        )
    elif data_type == "CATEGORICAL":
        ScoreFactory(project=project, trace_id=item.trace_id, name=score, data_type="CATEGORICAL", value=None, string_value=value)
    else:
        ScoreFactory(project=project, trace_id=item.trace_id, name=score, value=value)


def gate_policy(project, name="release", *, rules=None, baseline=None, method="wilcoxon"):
    """A gate policy (version 1) made through the service, so its rules carry their defaults."""
    from experiments.gates.services import gate_policy_create

    return gate_policy_create(
        project=project,
        name=name,
        baseline=baseline or {"kind": "latestReleased"},
        method=method,
        rules=rules or [{"type": "maxErrorRate", "threshold": 0.1}],
    )
