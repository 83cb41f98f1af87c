import factory
from django.utils import timezone

from scoring.models import Score, ScoreConfig, ScoreDataType
from tests.tenancy.factories import ProjectFactory


class ScoreConfigFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ScoreConfig

    project = factory.SubFactory(ProjectFactory)
    name = factory.Sequence(lambda n: f"config-{n}")
    data_type = ScoreDataType.NUMERIC


class CategoricalConfigFactory(ScoreConfigFactory):
    data_type = ScoreDataType.CATEGORICAL
    categories = factory.LazyFunction(
        lambda: [{"value": 1.0, "label": "good"}, {"value": 0.5, "label": "ok"}, {"value": 0.0, "label": "bad"}]
    )


class BooleanConfigFactory(ScoreConfigFactory):
    data_type = ScoreDataType.BOOLEAN
    categories = factory.LazyFunction(lambda: [{"value": 1.0, "label": "True"}, {"value": 0.0, "label": "False"}])


class ScoreFactory(factory.django.DjangoModelFactory):
    """A numeric API score on a trace; a `config` passed in must belong to the same project."""

    class Meta:
        model = Score

    project = factory.SubFactory(ProjectFactory)
    score_id = factory.Sequence(lambda n: f"score{n:012x}")
    name = "accuracy"
    value = 0.5
    data_type = ScoreDataType.NUMERIC
    trace_id = factory.Sequence(lambda n: f"{n:032x}")
    timestamp = factory.LazyFunction(timezone.now)
