import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from datasets.models import Dataset, DatasetItem, DatasetItemRevision, ImportJob, ImportStatus, ItemStatus
from evalsite.tenancy.roles import Role
from tests.datasets.factories import DatasetFactory, DatasetItemFactory
from tests.tenancy.factories import user_with_role
from tests.traces.factories import ObservationFactory, TraceFactory

pytestmark = pytest.mark.django_db

SCHEMA = {"type": "object", "required": ["question"]}


@pytest.fixture
def member(client, project):
    client.force_login(user_with_role(project, Role.MEMBER))
    return client


def change_form_data(dataset, items, **overrides):
    """The POST of the dataset's change page, with its inline item forms."""
    data = {
        "name": dataset.name,
        "description": dataset.description or "",
        "metadata": json.dumps(dataset.metadata),
        "input_schema": json.dumps(dataset.input_schema),
        "expected_output_schema": json.dumps(dataset.expected_output_schema),
        "items-TOTAL_FORMS": str(len(items)),
        "items-INITIAL_FORMS": str(sum(1 for item in items if item.get("pk"))),
        "items-MIN_NUM_FORMS": "0",
        "items-MAX_NUM_FORMS": "1000",
    }
    for index, item in enumerate(items):
        prefix = f"items-{index}-"
        data[prefix + "id"] = item.get("pk", "")
        data[prefix + "dataset"] = dataset.pk
        data[prefix + "item_id"] = item.get("item_id", "")
        data[prefix + "status"] = item.get("status", ItemStatus.ACTIVE)
        for field in ("input", "expected_output", "metadata"):
            data[prefix + field] = json.dumps(item.get(field))
        if item.get("delete"):
            data[prefix + "DELETE"] = "on"
    data.update(overrides)
    return data


def change_url(dataset):
    return reverse("admin:datasets_dataset_change", args=[dataset.pk])


def test_editing_an_item_inline_writes_a_revision(member, project):
    dataset = DatasetFactory(project=project)
    item = DatasetItemFactory(dataset=dataset, input={"question": "old"})
    assert member.get(change_url(dataset)).status_code == 200
    data = change_form_data(
        dataset,
        [
            {"pk": item.pk, "item_id": item.item_id, "input": {"question": "new"}, "expected_output": "a"},
            {"item_id": "added-inline", "input": {"question": "added"}},
        ],
    )
    response = member.post(change_url(dataset), data)
    assert response.status_code == 302, response.context["errors"] if response.context else response
    item.refresh_from_db()
    assert item.input == {"question": "new"} and item.expected_output == "a"
    assert DatasetItemRevision.objects.filter(item_id=item.item_id).count() == 2
    assert DatasetItem.objects.get(item_id="added-inline").dataset == dataset


def test_the_change_page_edits_only_the_most_recently_changed_items_inline(member, project, monkeypatch):
    import datasets.admin

    monkeypatch.setattr(datasets.admin, "MAX_INLINE_ITEMS", 2)
    dataset = DatasetFactory(project=project)
    items = [DatasetItemFactory(dataset=dataset) for _ in range(3)]
    formset = member.get(change_url(dataset)).context["inline_admin_formsets"][0].formset
    assert sorted(form.instance.item_id for form in formset.initial_forms) == [items[1].item_id, items[2].item_id]


def test_an_inline_item_violating_the_schema_is_a_form_error_not_a_save(member, project):
    dataset = DatasetFactory(project=project, input_schema=SCHEMA)
    item = DatasetItemFactory(dataset=dataset, input={"question": "q"})
    data = change_form_data(dataset, [{"pk": item.pk, "item_id": item.item_id, "input": {"no": "question"}}])
    response = member.post(change_url(dataset), data)
    assert response.status_code == 200
    assert "input: &#x27;question&#x27; is a required property" in response.content.decode()
    item.refresh_from_db()
    assert item.input == {"question": "q"}


def test_deleting_an_item_inline_goes_through_the_service(member, project):
    dataset = DatasetFactory(project=project)
    item = DatasetItemFactory(dataset=dataset)
    response = member.post(change_url(dataset), change_form_data(dataset, [{"pk": item.pk, "item_id": item.item_id, "input": item.input, "delete": True}]))
    assert response.status_code == 302
    assert not DatasetItem.objects.filter(pk=item.pk).exists()
    assert DatasetItemRevision.objects.filter(item_id=item.item_id, is_deleted=True).exists()


def test_a_schema_that_items_violate_is_a_form_error_naming_the_item(member, project):
    dataset = DatasetFactory(project=project)
    item = DatasetItemFactory(dataset=dataset, item_id="plain", input="text")
    data = change_form_data(dataset, [{"pk": item.pk, "item_id": item.item_id, "input": "text"}], input_schema=json.dumps(SCHEMA))
    response = member.post(change_url(dataset), data)
    assert response.status_code == 200 and "&#x27;plain&#x27;" in response.content.decode()
    dataset.refresh_from_db()
    assert dataset.input_schema is None


def test_a_viewer_cannot_change_a_dataset(client, project):
    dataset = DatasetFactory(project=project)
    client.force_login(user_with_role(project, Role.VIEWER))
    response = client.post(change_url(dataset), change_form_data(dataset, [], name="renamed"))
    assert response.status_code == 403
    dataset.refresh_from_db()
    assert dataset.name != "renamed"


def test_archive_and_unarchive_actions_respect_the_schema(member, project):
    dataset = DatasetFactory(project=project)
    fits = DatasetItemFactory(dataset=dataset, input={"question": "q"})
    misfit = DatasetItemFactory(dataset=dataset, input="text")
    changelist = reverse("admin:datasets_datasetitem_changelist")
    member.post(changelist, {"action": "archive_selected", "_selected_action": [fits.pk, misfit.pk]})
    assert set(DatasetItem.objects.values_list("status", flat=True)) == {ItemStatus.ARCHIVED}

    dataset.input_schema = SCHEMA
    dataset.save()
    response = member.post(changelist, {"action": "unarchive_selected", "_selected_action": [fits.pk, misfit.pk]}, follow=True)
    fits.refresh_from_db(), misfit.refresh_from_db()
    assert (fits.status, misfit.status) == (ItemStatus.ACTIVE, ItemStatus.ARCHIVED)
    assert f"Item {misfit.item_id} stays archived" in response.content.decode()


def test_the_dataset_and_import_lists_render_with_counts_and_links(member, project):
    dataset = DatasetFactory(project=project, name="team/qa")
    DatasetItemFactory(dataset=dataset)
    DatasetItemFactory(dataset=dataset, status=ItemStatus.ARCHIVED)
    page = member.get(reverse("admin:datasets_dataset_changelist")).content.decode()
    assert "team/qa" in page and '<td class="field-active_items">1</td>' in page
    assert reverse("admin:datasets_dataset_import", args=[dataset.pk]) in page
    assert member.get(reverse("admin:datasets_importjob_changelist")).status_code == 200


def test_the_item_list_can_be_filtered_to_one_dataset(member, project):
    mine = DatasetItemFactory(dataset=DatasetFactory(project=project))
    other = DatasetItemFactory(dataset=DatasetFactory(project=project))
    page = member.get(reverse("admin:datasets_datasetitem_changelist"), {"dataset__exact": mine.dataset_id}).content.decode()
    assert mine.item_id in page and other.item_id not in page


def test_the_import_page_starts_a_job_and_shows_its_progress(member, project, django_capture_on_commit_callbacks):
    dataset = DatasetFactory(project=project)
    url = reverse("admin:datasets_dataset_import", args=[dataset.pk])
    assert member.get(url).status_code == 200
    upload = SimpleUploadedFile("rows.csv", b"question,answer,src\nq1,a1,s\nq2,a2,s\n,,\n,,,\n")
    form = {"file": upload, "format": "", "input": "question", "expected_output": "answer", "metadata": "src", "mode": "skip_invalid", "cell_format": "text"}
    with django_capture_on_commit_callbacks(execute=True):
        response = member.post(url, form)
    job = ImportJob.objects.get(dataset=dataset)
    assert response.status_code == 302 and response["Location"] == reverse("admin:datasets_importjob_change", args=[job.pk])
    assert job.status == ImportStatus.COMPLETED and (job.progress_added, job.progress_failed) == (3, 1)
    page = member.get(response["Location"]).content.decode()
    assert "4 / 4 rows (100%) · 3 added · 1 invalid" in page and "has 4 cells but the header has 3" in page
    assert 'http-equiv="refresh"' not in page
    assert DatasetItem.objects.filter(dataset=dataset, input="q1", metadata="s").exists()


def test_the_import_page_shows_mapping_errors_on_the_form(member, project):
    dataset = DatasetFactory(project=project)
    url = reverse("admin:datasets_dataset_import", args=[dataset.pk])
    upload = SimpleUploadedFile("rows.csv", b"question\nq1\n")
    response = member.post(url, {"file": upload, "input": "questoin", "mode": "skip_invalid", "cell_format": "text"})
    assert response.status_code == 200 and "column &#x27;questoin&#x27; is not in the file" in response.content.decode()
    assert not ImportJob.objects.exists()


def test_the_export_link_streams_the_dataset(member, project):
    dataset = DatasetFactory(project=project)
    DatasetItemFactory(dataset=dataset, input={"question": "q"})
    response = member.get(reverse("admin:datasets_dataset_export", args=[dataset.pk]), {"format": "csv"})
    assert response.streaming
    assert '"{""question"": ""q""}"' in b"".join(response.streaming_content).decode()


def test_the_dataset_page_links_to_the_comparison_of_its_runs(member, project):
    from experiments.models import ExperimentRun

    dataset = DatasetFactory(project=project)
    runs = [ExperimentRun.objects.create(project=project, dataset=dataset, name=f"run {n}", run_id=f"r{n}") for n in range(2)]
    page = member.get(change_url(dataset)).content.decode()
    ids = ",".join(run.run_id for run in reversed(runs))
    assert f"/projects/{project.pk}/experiments/compare?runs={ids.replace(',', '%2C')}" in page


@pytest.mark.urls("tests.datasets.action_site")
class TestAddToDataset:
    def run_action(self, client, model, sources, **form):
        url = reverse(f"admin:traces_{model}_changelist")
        selection = {"action": "add_to_dataset", "_selected_action": [source.pk for source in sources]}
        page = client.post(url, selection)
        assert page.status_code == 200 and b"Add to the dataset" in page.content
        return client.post(url, {**selection, "apply": "1", **form}, follow=True)

    def test_observations_become_linked_items_and_duplicates_are_refused_unless_asked(self, member, project):
        dataset = DatasetFactory(project=project)
        trace = TraceFactory(project=project)
        observations = [
            ObservationFactory(trace=trace, input={"question": n}, output=f"answer {n}", metadata={"user": "u", "noise": 1})
            for n in range(2)
        ]
        form = {"dataset": dataset.pk, "input_from": "input", "expected_output_from": "output", "metadata_keys": ["user"]}
        response = self.run_action(member, "observation", observations, **form)
        assert "Added 2 item(s)" in response.content.decode()
        item = DatasetItem.objects.get(source_observation_id=observations[0].observation_id)
        assert (item.input, item.expected_output, item.metadata) == ({"question": 0}, "answer 0", {"user": "u"})
        assert item.source_trace_id == trace.trace_id

        again = self.run_action(member, "observation", observations, **form).content.decode()
        assert "Added 0 item(s)" in again and "Skipped 2 already in the dataset" in again
        assert DatasetItem.objects.filter(dataset=dataset).count() == 2

        self.run_action(member, "observation", observations[:1], allow_duplicates="on", **form)
        assert DatasetItem.objects.filter(dataset=dataset).count() == 3

    def test_a_trace_is_a_duplicate_only_of_an_item_made_from_the_trace_itself(self, member, project):
        dataset = DatasetFactory(project=project)
        trace = TraceFactory(project=project, input="in", output="out")
        ObservationFactory(trace=trace)
        DatasetItemFactory(dataset=dataset, source_trace_id=trace.trace_id, source_observation_id="some-span")
        form = {"dataset": dataset.pk, "input_from": "output", "expected_output_from": ""}
        self.run_action(member, "trace", [trace], **form)
        item = DatasetItem.objects.get(source_trace_id=trace.trace_id, source_observation_id=None)
        assert (item.input, item.expected_output, item.metadata) == ("out", None, None)
        assert "Skipped 1" in self.run_action(member, "trace", [trace], **form).content.decode()

    def test_sources_refused_by_the_schema_are_reported(self, member, project):
        dataset = DatasetFactory(project=project, input_schema=SCHEMA)
        trace = TraceFactory(project=project, input="not an object")
        response = self.run_action(member, "trace", [trace], dataset=dataset.pk, input_from="input", expected_output_from="output")
        assert "does not match the dataset" in response.content.decode()
        assert not DatasetItem.objects.exists()

    def test_only_the_projects_datasets_are_offered(self, member, project, victim_project):
        theirs = DatasetFactory(project=victim_project, name="their dataset")
        trace = TraceFactory(project=project)
        url = reverse("admin:traces_trace_changelist")
        page = member.post(url, {"action": "add_to_dataset", "_selected_action": [trace.pk]}).content.decode()
        assert "their dataset" not in page
        response = member.post(url, {"action": "add_to_dataset", "_selected_action": [trace.pk], "apply": "1", "dataset": theirs.pk, "input_from": "input"})
        assert response.status_code == 200 and not DatasetItem.objects.exists()

    def test_a_viewer_cannot_add_to_a_dataset(self, client, project):
        client.force_login(user_with_role(project, Role.VIEWER))
        dataset = DatasetFactory(project=project)
        trace = TraceFactory(project=project)
        response = self.run_action_as_viewer(client, trace, dataset)
        assert "needs the MEMBER role" in response.content.decode() and not DatasetItem.objects.exists()

    def run_action_as_viewer(self, client, trace, dataset):
        url = reverse("admin:traces_trace_changelist")
        return client.post(
            url, {"action": "add_to_dataset", "_selected_action": [trace.pk], "apply": "1", "dataset": dataset.pk, "input_from": "input"}, follow=True
        )


def test_a_member_creates_a_dataset_with_the_add_form(member, project):
    # A new dataset has its id before it is saved: the form must not look it up as a stored one.
    response = member.post(
        reverse("admin:datasets_dataset_add"),
        {
            "project": project.pk, "name": "fresh", "description": "", "metadata": "null",
            "input_schema": json.dumps(SCHEMA), "expected_output_schema": "null",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    dataset = Dataset.objects.get(project=project, name="fresh")
    assert dataset.input_schema == SCHEMA


def test_the_add_form_without_a_project_shows_an_error(member, project):
    response = member.post(
        reverse("admin:datasets_dataset_add"),
        {"project": "", "name": "fresh", "description": "", "metadata": "null", "input_schema": "null",
         "expected_output_schema": "null"},
    )
    assert response.status_code == 200 and "This field is required" in response.content.decode()
    assert not Dataset.objects.filter(name="fresh").exists()


def test_an_item_nested_deeper_than_the_limit_is_a_form_error_in_the_admin(member, project):
    dataset = DatasetFactory(project=project)
    deep = '{"a":' * 2000 + "1" + "}" * 2000
    data = change_form_data(dataset, [{"item_id": "deep"}], **{"items-0-input": deep})
    response = member.post(reverse("admin:datasets_dataset_change", args=[dataset.pk]), data)
    assert response.status_code == 200
    assert "nested more than 100 levels deep" in response.content.decode()
    assert not DatasetItem.objects.filter(dataset=dataset).exists()
