from datasets.models import DatasetItem, ImportJob
from tests.datasets.factories import DatasetFactory, DatasetItemFactory, ImportJobFactory
from tests.support.cross_project import CrossProjectCase


def make_dataset(project):
    # A '/' in the name: the cross-project check goes through the percent-decoding path too.
    return {"dataset_name": DatasetFactory(project=project, name="victim/dataset").name}


def make_item(project):
    return {"item_id": DatasetItemFactory(dataset=DatasetFactory(project=project)).item_id}


def item_still_there(project, kwargs):
    return DatasetItem.objects.filter(project=project, item_id=kwargs["item_id"]).exists()


def no_import_started(project, kwargs):
    return not ImportJob.objects.filter(project=project).exists()


CASES = [
    CrossProjectCase(pattern="api/public/v2/datasets/<path:dataset_name>", make=make_dataset),
    CrossProjectCase(pattern="api/public/datasets/<legacy_dataset_name:dataset_name>", make=make_dataset),
    CrossProjectCase(
        pattern="api/public/datasets/<legacy_dataset_name:dataset_name>/imports",
        make=make_dataset,
        body={"format": "jsonl", "content": '{"input": 1}\n'},
        still_there=no_import_started,
    ),
    CrossProjectCase(pattern="api/public/datasets/<legacy_dataset_name:dataset_name>/export", make=make_dataset),
    CrossProjectCase(
        pattern="api/public/dataset-items/<path:item_id>",
        make=make_item,
        body={},
        still_there=item_still_there,
    ),
    CrossProjectCase(
        pattern="api/public/dataset-imports/<str:job_id>",
        make=lambda project: {"job_id": ImportJobFactory(dataset=DatasetFactory(project=project)).pk},
    ),
]
