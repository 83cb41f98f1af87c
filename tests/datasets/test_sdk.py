"""The unmodified langfuse 5.0.4 SDK against a live server: datasets and items round-trip."""

import pytest

from datasets.models import Dataset, DatasetItem
from evalsite.tenancy.roles import Role
from tests.support.live import langfuse_client
from tests.tenancy.factories import api_key_for

pytestmark = [pytest.mark.live, pytest.mark.django_db(transaction=True)]


def test_sdk_creates_a_dataset_with_a_slash_adds_items_and_reads_them_in_small_pages(live_server, project):
    key = api_key_for(project, Role.MEMBER)
    with langfuse_client(live_server, key) as lf:
        created = lf.create_dataset(
            name="compat/qa",
            description="capitals",
            metadata={"team": "eval"},
            input_schema={"type": "object", "required": ["country"]},
        )
        assert created.name == "compat/qa" and created.project_id == project.pk

        first = lf.create_dataset_item(dataset_name="compat/qa", input={"country": "Italy"}, expected_output="Rome")
        lf.create_dataset_item(
            dataset_name="compat/qa", id="fixed-id", input={"country": "France"}, expected_output="Lyon", metadata={"v": 1}
        )
        again = lf.create_dataset_item(dataset_name="compat/qa", id="fixed-id", input={"country": "France"}, expected_output="Paris")
        lf.create_dataset_item(dataset_name="compat/qa", input={"country": "Spain"}, expected_output="Madrid", source_trace_id="t-1")
        assert again.id == "fixed-id" and again.expected_output == "Paris" and again.metadata == {"v": 1}
        assert again.dataset_name == "compat/qa" and again.media_references == []

        dataset = lf.get_dataset("compat/qa", fetch_items_page_size=2)
        earlier = lf.get_dataset("compat/qa", fetch_items_page_size=2, version=first.version)

    assert dataset.name == "compat/qa" and dataset.metadata == {"team": "eval"}
    assert dataset.input_schema == {"type": "object", "required": ["country"]}
    # Newest first, as Langfuse lists them; an upsert keeps the item's place (its creation time).
    assert [(item.input["country"], item.expected_output) for item in dataset.items] == [
        ("Spain", "Madrid"),
        ("France", "Paris"),
        ("Italy", "Rome"),
    ]
    assert dataset.items[2].id == first.id and dataset.items[0].source_trace_id == "t-1"
    assert [item.id for item in earlier.items] == [first.id]

    stored = Dataset.objects.get(project=project, name="compat/qa")
    assert DatasetItem.objects.filter(project=project, dataset=stored).count() == 3
    assert DatasetItem.objects.get(project=project, item_id="fixed-id").expected_output == "Paris"
