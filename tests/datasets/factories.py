import factory

from datasets.models import Dataset, DatasetItem, ImportFormat, ImportJob, ItemStatus
from datasets.services import dataset_item_create
from evalsite.tenancy.actors import SYSTEM
from tests.tenancy.factories import ProjectFactory


class DatasetFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Dataset

    project = factory.SubFactory(ProjectFactory)
    name = factory.Sequence(lambda n: f"dataset-{n}")


class DatasetItemFactory(factory.django.DjangoModelFactory):
    """Takes its project from its dataset, and creates through the service, so every item has the
    revision that makes it part of a version."""

    class Meta:
        model = DatasetItem

    dataset = factory.SubFactory(DatasetFactory)
    item_id = factory.Sequence(lambda n: f"item-{n:05d}")
    input = factory.Sequence(lambda n: {"question": f"question {n}"})
    expected_output = factory.Sequence(lambda n: f"answer {n}")
    metadata = None
    source_trace_id = None
    source_observation_id = None
    status = ItemStatus.ACTIVE

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        dataset = kwargs.pop("dataset")
        return dataset_item_create(project=dataset.project, dataset=dataset, actor=SYSTEM, **kwargs)


class ImportJobFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ImportJob

    dataset = factory.SubFactory(DatasetFactory)
    project = factory.LazyAttribute(lambda job: job.dataset.project)
    format = ImportFormat.JSONL
    mapping = factory.LazyFunction(lambda: {"input": "q"})
    content = '{"q": 1}\n'
