from datasets.models import Dataset, DatasetItem, ImportJob
from tests.datasets.factories import DatasetFactory, DatasetItemFactory, ImportJobFactory

FACTORIES = {
    Dataset: lambda project: DatasetFactory(project=project),
    DatasetItem: lambda project: DatasetItemFactory(dataset=DatasetFactory(project=project)),
    ImportJob: lambda project: ImportJobFactory(dataset=DatasetFactory(project=project)),
}
