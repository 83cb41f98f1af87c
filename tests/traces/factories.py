import factory
from django.utils import timezone

from evalsite.llm.models import ModelPrice
from tests.tenancy.factories import ProjectFactory
from traces.models import Observation, Trace


class TraceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Trace

    project = factory.SubFactory(ProjectFactory)
    trace_id = factory.Sequence(lambda n: f"{n + 1:032x}")
    name = factory.Sequence(lambda n: f"trace-{n}")
    timestamp = factory.LazyFunction(timezone.now)


class ObservationFactory(factory.django.DjangoModelFactory):
    """An observation of `trace` (its project and trace id come from the trace)."""

    class Meta:
        model = Observation

    class Params:
        trace = factory.SubFactory(TraceFactory)

    project = factory.LazyAttribute(lambda o: o.trace.project)
    trace_id = factory.LazyAttribute(lambda o: o.trace.trace_id)
    observation_id = factory.Sequence(lambda n: f"{n + 1:016x}")
    name = factory.Sequence(lambda n: f"span-{n}")
    start_time = factory.LazyFunction(timezone.now)


class ModelPriceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ModelPrice

    project = factory.SubFactory(ProjectFactory)
    model_name = factory.Sequence(lambda n: f"model-{n}")
    match_pattern = factory.LazyAttribute(lambda p: f"(?i)^{p.model_name}$")
    input_price = "0.000001"
    output_price = "0.000002"
