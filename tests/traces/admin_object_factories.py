from evalsite.llm.models import ModelPrice
from tests.traces.factories import ModelPriceFactory, ObservationFactory, TraceFactory
from traces.models import Observation, Trace

FACTORIES = {
    Trace: lambda project: TraceFactory(project=project),
    Observation: lambda project: ObservationFactory(trace=TraceFactory(project=project)),
    ModelPrice: lambda project: ModelPriceFactory(project=project),
}
