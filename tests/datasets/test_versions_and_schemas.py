import pytest
from django.core.exceptions import ValidationError

from datasets import selectors, services
from datasets.models import DatasetItem, DatasetItemRevision, ItemStatus
from evalsite.errors import Conflict
from evalsite.tenancy.actors import SYSTEM
from tests.datasets.factories import DatasetFactory, DatasetItemFactory

pytestmark = pytest.mark.django_db

QUESTION_SCHEMA = {"type": "object", "properties": {"question": {"type": "string"}}, "required": ["question"]}


def upsert(dataset, item_id, **fields):
    return services.dataset_item_upsert(
        project=dataset.project, dataset_name=dataset.name, item_id=item_id, actor=SYSTEM, **fields
    )


def as_of(dataset, version, **kw):
    rows = selectors.dataset_item_list(project=dataset.project, dataset=dataset, version=version, **kw)
    return {row.item_id: (row.input, row.status) for row in rows}


def test_items_read_as_of_an_earlier_version_show_the_earlier_state(project):
    dataset = DatasetFactory(project=project)
    v1 = upsert(dataset, "a", input="first").updated_at
    v2 = upsert(dataset, "a", input="second").updated_at
    upsert(dataset, "b", input="other")
    assert as_of(dataset, v1) == {"a": ("first", ItemStatus.ACTIVE)}
    assert as_of(dataset, v2) == {"a": ("second", ItemStatus.ACTIVE)}
    assert selectors.dataset_versions(project=project, dataset=dataset)[1:] == [v2, v1]


def test_archived_and_deleted_items_are_gone_from_later_versions_but_not_from_earlier_ones(project):
    dataset = DatasetFactory(project=project)
    archived, deleted = DatasetItemFactory(dataset=dataset), DatasetItemFactory(dataset=dataset)
    before = selectors.dataset_latest_version(project=project, dataset=dataset)
    services.dataset_item_archive(project=project, item=archived, actor=SYSTEM)
    services.dataset_item_delete(project=project, item=deleted, actor=SYSTEM)
    after = selectors.dataset_latest_version(project=project, dataset=dataset)

    assert set(as_of(dataset, before)) == {archived.item_id, deleted.item_id}
    assert as_of(dataset, after) == {}
    assert list(selectors.dataset_item_list(project=project, dataset=dataset)) == []
    assert as_of(dataset, after, include_archived=True) == {archived.item_id: (archived.input, ItemStatus.ARCHIVED)}
    assert DatasetItemRevision.objects.filter(item_id=deleted.item_id, is_deleted=True).count() == 1


def test_an_unarchived_item_is_back_from_its_version_on(project):
    dataset = DatasetFactory(project=project)
    item = DatasetItemFactory(dataset=dataset)
    archived_at = services.dataset_item_archive(project=project, item=item, actor=SYSTEM).updated_at
    back_at = services.dataset_item_unarchive(project=project, item=item, actor=SYSTEM).updated_at
    upsert(dataset, "later", input="x")  # so both versions are in the past, read from the history
    assert as_of(dataset, archived_at) == {}
    assert set(as_of(dataset, back_at)) == {item.item_id}


def test_one_bulk_operation_is_one_version(project):
    dataset = DatasetFactory(project=project)
    result = services.dataset_items_create_many(
        project=project, dataset=dataset, items=[services.NewItem(input=n) for n in range(5)], actor=SYSTEM
    )
    assert len(result.created_ids) == 5
    assert len(selectors.dataset_versions(project=project, dataset=dataset)) == 1
    services.dataset_items_archive(project=project, items=DatasetItem.objects.filter(dataset=dataset), actor=SYSTEM)
    assert len(selectors.dataset_versions(project=project, dataset=dataset)) == 2


def test_a_write_that_changes_nothing_makes_no_version(project):
    dataset = DatasetFactory(project=project)
    upsert(dataset, "a", input="same", metadata={"k": 1})
    upsert(dataset, "a", input="same", metadata=None)
    assert DatasetItemRevision.objects.filter(item_id="a").count() == 1


def test_true_and_1_are_different_values(project):
    dataset = DatasetFactory(project=project)
    upsert(dataset, "a", input=1)
    assert upsert(dataset, "a", input=True).input is True
    assert DatasetItemRevision.objects.filter(item_id="a").count() == 2


def test_the_version_shown_for_an_item_reads_the_item_back(project):
    dataset = DatasetFactory(project=project)
    item = upsert(dataset, "a", input="v1")
    upsert(dataset, "a", input="v2")
    assert as_of(dataset, item.updated_at) == {"a": ("v1", ItemStatus.ACTIVE)}


def test_items_for_a_run_are_the_active_items_of_the_version_in_a_stable_order(project):
    dataset = DatasetFactory(project=project)
    first, second = DatasetItemFactory(dataset=dataset), DatasetItemFactory(dataset=dataset)
    version = selectors.dataset_latest_version(project=project, dataset=dataset)
    services.dataset_item_archive(project=project, item=first, actor=SYSTEM)
    DatasetItemFactory(dataset=dataset)

    rows = selectors.dataset_items_for_run(project=project, dataset=dataset, version=version)
    assert [(row.item_id, row.dataset_item_pk) for row in rows] == [(first.item_id, first.pk), (second.item_id, second.pk)]
    current = selectors.dataset_items_for_run(project=project, dataset=dataset, version=None)
    assert first.item_id not in [row.item_id for row in current] and len(current) == 2


def test_an_id_in_another_dataset_conflicts_and_changes_nothing(project):
    a, b = DatasetFactory(project=project), DatasetFactory(project=project)
    upsert(a, "shared", input=1)
    with pytest.raises(Conflict):
        upsert(b, "shared", input=2)
    assert DatasetItem.objects.get(item_id="shared").dataset == a


def test_item_ids_are_unique_per_project_not_globally(project, victim_project):
    mine, theirs = DatasetFactory(project=project, name="qa"), DatasetFactory(project=victim_project, name="qa")
    upsert(mine, "same-id", input="mine")
    upsert(theirs, "same-id", input="theirs")
    assert DatasetItem.objects.get(project=project, item_id="same-id").input == "mine"


def test_an_item_violating_the_expected_output_schema_names_the_nested_path(project):
    dataset = DatasetFactory(
        project=project, expected_output_schema={"type": "object", "properties": {"labels": {"type": "array", "items": {"type": "string"}}}}
    )
    with pytest.raises(ValidationError) as raised:
        upsert(dataset, "a", input="q", expected_output={"labels": ["ok", 3]})
    assert raised.value.message_dict == {"expectedOutput.labels[1]": ["3 is not of type 'string'"]}


def test_a_schema_that_an_active_item_violates_is_refused_naming_the_item(project):
    dataset = DatasetFactory(project=project)
    DatasetItemFactory(dataset=dataset, item_id="fits", input={"question": "q"})
    DatasetItemFactory(dataset=dataset, item_id="misfit", input="not an object")
    with pytest.raises(ValidationError) as raised:
        services.dataset_upsert(project=project, name=dataset.name, input_schema=QUESTION_SCHEMA, actor=SYSTEM)
    message = raised.value.message_dict["input_schema"][0]
    assert "'misfit'" in message and "input: 'not an object' is not of type 'object'" in message
    dataset.refresh_from_db()
    assert dataset.input_schema is None


def test_archived_items_do_not_block_a_schema_but_cannot_be_unarchived_against_it(project):
    dataset = DatasetFactory(project=project)
    misfit = DatasetItemFactory(dataset=dataset, input="not an object")
    services.dataset_item_archive(project=project, item=misfit, actor=SYSTEM)
    services.dataset_upsert(project=project, name=dataset.name, input_schema=QUESTION_SCHEMA, actor=SYSTEM)
    with pytest.raises(ValidationError) as raised:
        services.dataset_item_unarchive(project=project, item=misfit, actor=SYSTEM)
    assert "input: 'not an object' is not of type 'object'" in raised.value.message_dict["status"][0]
    misfit.refresh_from_db()
    assert misfit.status == ItemStatus.ARCHIVED


def test_an_item_that_no_longer_fits_can_still_be_archived(project):
    dataset = DatasetFactory(project=project)
    item = DatasetItemFactory(dataset=dataset, input="text")
    dataset.input_schema = QUESTION_SCHEMA  # as if set before the rule existed: archiving must still work
    dataset.save()
    assert services.dataset_item_archive(project=project, item=item, actor=SYSTEM).status == ItemStatus.ARCHIVED


def test_an_empty_schema_removes_the_schema(project):
    dataset = services.dataset_upsert(project=project, name="qa", input_schema=QUESTION_SCHEMA, actor=SYSTEM)
    assert services.dataset_upsert(project=project, name="qa", input_schema={}, actor=SYSTEM).input_schema is None
    assert dataset.pk == services.dataset_upsert(project=project, name="qa", actor=SYSTEM).pk


def test_create_many_skips_existing_ids_and_reports_invalid_items(project):
    dataset = DatasetFactory(project=project, input_schema=QUESTION_SCHEMA)
    other = DatasetFactory(project=project)
    DatasetItemFactory(dataset=dataset, item_id="kept", input={"question": "old"})
    DatasetItemFactory(dataset=other, item_id="elsewhere", input={"question": "q"})
    items = [
        services.NewItem(item_id="kept", input={"question": "new"}),
        services.NewItem(item_id="fresh", input={"question": "q"}),
        services.NewItem(item_id="bad", input={"question": 1}),
        services.NewItem(item_id="elsewhere", input={"question": "q"}),
        services.NewItem(item_id="fresh", input={"question": "twice"}),
    ]
    with pytest.raises(ValidationError):
        services.dataset_items_create_many(project=project, dataset=dataset, items=items, actor=SYSTEM)
    assert not DatasetItem.objects.filter(item_id="fresh").exists()

    result = services.dataset_items_create_many(project=project, dataset=dataset, items=items, actor=SYSTEM, skip_invalid=True)
    assert result.created_ids == ["fresh"] and result.existing == [0]
    assert result.invalid == {
        2: "input.question: 1 is not of type 'string'",
        3: "id: 'elsewhere' already exists in another dataset of this project",
        4: "id: 'fresh' appears twice",
    }
    assert DatasetItem.objects.get(item_id="kept").input == {"question": "old"}
