import json
from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.utils import timezone

from datasets import importing
from datasets.models import DatasetItem, ImportJob, ImportMode, ImportStatus, ItemStatus
from datasets.selectors import dataset_versions
from datasets.tasks import run_import
from evalsite.tenancy.actors import SYSTEM
from tests.datasets.factories import DatasetFactory, DatasetItemFactory

pytestmark = pytest.mark.django_db

SCHEMA = {"type": "object", "properties": {"question": {"type": "string"}, "n": {"type": "integer"}}, "required": ["question"]}

CSV_WITH_BAD_ROWS = (
    "question,context,answer,source\n"
    "What is 2+2?,math,4,book\n"
    "Capital of France?,geo,Paris,web\n"
    ",empty question,x\n"  # line 4: fine for the mapping, but the schema wants a string… it is "" (a string): valid
    "too,many,cells,here,extra\n"  # line 5: more cells than the header
    '"multi\nline question",ctx,ans,src\n'  # lines 6-7: one record spanning two lines
    "short row,ctx\n"  # line 8: no "answer" cell
)


def start(project, dataset, content, *, fmt, mapping=None, mode=ImportMode.SKIP_INVALID, **kw) -> ImportJob:
    """Create the job and let its task run (django-q runs tasks inline under pytest)."""
    job = importing.import_job_create(
        project=project, dataset=dataset, import_format=fmt, content=content, mapping=mapping, mode=mode, actor=SYSTEM, **kw
    )
    run_import(job.pk)
    job.refresh_from_db()
    return job


def items_of(dataset):
    return list(DatasetItem.objects.filter(dataset=dataset).order_by("created_at", "item_id"))


def test_a_csv_with_bad_rows_adds_the_valid_rows_and_reports_the_others_by_line(project):
    dataset = DatasetFactory(project=project, input_schema={"type": "object", "required": ["question"]})
    mapping = {"input": ["question", "context"], "expectedOutput": "answer", "metadata": {"origin": "source?"}}
    job = start(project, dataset, CSV_WITH_BAD_ROWS, fmt="csv", mapping=mapping)
    assert job.status == ImportStatus.COMPLETED
    assert (job.progress_total, job.progress_done, job.progress_failed, job.progress_added) == (6, 6, 2, 4)
    assert job.errors == [
        {"line": 5, "message": "has 5 cells but the header has 4"},
        {"line": 8, "message": "no cell for column 'answer'"},
    ]
    items = items_of(dataset)
    assert items[0].input == {"question": "What is 2+2?", "context": "math"}
    assert items[0].expected_output == "4" and items[0].metadata == {"origin": "book"}
    assert items[3].input["question"] == "multi\nline question"
    assert items[0].item_id == f"{job.pk}-00000002"  # file order, traceable to the import and line


def test_a_csv_with_bad_rows_in_all_or_nothing_mode_adds_nothing(project):
    dataset = DatasetFactory(project=project)
    job = start(project, dataset, CSV_WITH_BAD_ROWS, fmt="csv", mapping={"input": "question", "expectedOutput": "answer"}, mode=ImportMode.ALL_OR_NOTHING)
    assert job.status == ImportStatus.FAILED
    assert [error["line"] for error in job.errors] == [5, 8] and job.progress_failed == 2
    assert "nothing was added" in job.message
    assert items_of(dataset) == [] and dataset_versions(project=project, dataset=dataset) == []


def test_a_jsonl_with_bad_rows_reports_json_mapping_and_schema_errors_by_line(project):
    schema = {**SCHEMA, "properties": {**SCHEMA["properties"], "n": {"type": ["integer", "null"]}}}
    dataset = DatasetFactory(project=project, input_schema=schema)
    lines = [
        {"q": {"text": "ok", "n": 1}, "a": "yes", "tags": ["x", "y"]},
        "not json at all",
        {"q": {"text": "no n"}, "a": "fine"},
        {"q": {"n": 2}, "a": "no text"},
        {"q": {"text": "bad n", "n": "two"}, "a": "x"},
        {"q": {"text": "NaN"}, "a": float("nan")},
    ]
    content = "\n".join(line if isinstance(line, str) else json.dumps(line) for line in lines) + "\n\n"
    mapping = {"input": {"question": "q.text", "n": "q.n?"}, "expectedOutput": "a", "metadata": {"first_tag": "tags.0?"}}
    job = start(project, dataset, content, fmt="jsonl", mapping=mapping)
    assert job.status == ImportStatus.COMPLETED and (job.progress_added, job.progress_failed) == (2, 4)
    assert [(e["line"], e["message"].split(":")[0]) for e in job.errors] == [
        (2, "invalid JSON"),
        (4, "no value at 'q.text'"),
        (5, "input.n"),
        (6, "invalid JSON"),
    ]
    first, second = items_of(dataset)
    assert first.input == {"question": "ok", "n": 1} and first.metadata == {"first_tag": "x"}
    assert second.input == {"question": "no n", "n": None}


def test_a_jsonl_with_one_bad_row_in_all_or_nothing_mode_adds_nothing(project):
    dataset = DatasetFactory(project=project, input_schema=SCHEMA)
    content = "\n".join(json.dumps({"input": {"question": f"q{n}"}}) for n in range(5)) + '\n{"input": {"question": 3}}\n'
    job = start(project, dataset, content, fmt="jsonl", mode=ImportMode.ALL_OR_NOTHING)
    assert job.status == ImportStatus.FAILED and job.errors == [{"line": 6, "message": "input.question: 3 is not of type 'string'"}]
    assert items_of(dataset) == []
    good = start(project, dataset, content.rsplit("\n", 2)[0] + "\n", fmt="jsonl", mode=ImportMode.ALL_OR_NOTHING)
    assert good.status == ImportStatus.COMPLETED and len(items_of(dataset)) == 5


def test_csv_cells_can_be_read_as_json(project):
    dataset = DatasetFactory(project=project)
    content = 'input,expectedOutput\n"{""a"": 1}",42\nplain text,\n'
    start(project, dataset, content, fmt="csv", cell_format="json")
    assert [(item.input, item.expected_output) for item in items_of(dataset)] == [({"a": 1}, 42), ("plain text", None)]


def test_a_mapping_naming_a_missing_column_is_refused_before_the_job_starts(project):
    dataset = DatasetFactory(project=project)
    with pytest.raises(Exception) as raised:
        importing.import_job_create(
            project=project, dataset=dataset, import_format="csv", content="question\nq\n", mapping={"input": "questoin"}, actor=SYSTEM
        )
    assert raised.value.message_dict == {"mapping.input": ["column 'questoin' is not in the file's header (question)"]}
    assert not ImportJob.objects.exists()


@pytest.mark.parametrize(
    "mapping,where",
    [
        ({"expectedOutput": "a"}, "mapping.input"),
        ({"input": "q", "extra": "x"}, "mapping.extra"),
        ({"input": {"nested": 3}}, "mapping.input.nested"),
        ({"input": ["q", ""]}, "mapping.input[1]"),
        ({"input": "q", "sourceTraceId": ["a", "b"]}, "mapping.sourceTraceId"),
        ("q", "mapping"),
    ],
)
def test_a_malformed_mapping_is_refused_naming_where(mapping, where):
    with pytest.raises(Exception) as raised:
        importing.compile_mapping(mapping, "jsonl")
    assert list(raised.value.message_dict) == [where]


def test_a_killed_import_resumes_without_duplicating_rows(project, monkeypatch):
    dataset = DatasetFactory(project=project)
    content = "".join(json.dumps({"input": n}) + "\n" for n in range(2500))
    job = importing.import_job_create(project=project, dataset=dataset, import_format="jsonl", content=content, actor=SYSTEM)

    real_run_batch, calls = importing._run_batch, []

    def dies_on_the_second_batch(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise SystemExit("worker killed")
        return real_run_batch(*args, **kwargs)

    monkeypatch.setattr(importing, "_run_batch", dies_on_the_second_batch)
    with pytest.raises(SystemExit):
        run_import(job.pk)
    job.refresh_from_db()
    assert (job.status, job.progress_done, DatasetItem.objects.filter(dataset=dataset).count()) == ("running", 1000, 1000)

    monkeypatch.setattr(importing, "_run_batch", real_run_batch)
    run_import(job.pk)  # the dead worker's lease has not expired yet: nobody else may take the job
    assert DatasetItem.objects.filter(dataset=dataset).count() == 1000
    # Even with the cursor lost (as if the batch had committed but not the progress), the ids that
    # are derived from the job and line make the replay add nothing twice.
    ImportJob.objects.filter(pk=job.pk).update(progress_done=0, heartbeat_at=timezone.now() - timedelta(hours=1))
    run_import(job.pk)
    job.refresh_from_db()
    assert job.status == ImportStatus.COMPLETED and job.progress_done == 2500
    assert DatasetItem.objects.filter(dataset=dataset).count() == 2500
    assert sorted(DatasetItem.objects.filter(dataset=dataset).values_list("input", flat=True)) == list(range(2500))


def test_running_a_finished_import_again_does_nothing(project, django_assert_max_num_queries):
    dataset = DatasetFactory(project=project)
    job = start(project, dataset, '{"input": 1}\n', fmt="jsonl")
    with django_assert_max_num_queries(3):  # one locking read, inside a savepoint
        run_import(job.pk)
    assert DatasetItem.objects.filter(dataset=dataset).count() == 1
    run_import("no-such-job")  # a deleted job is not an error either


def test_a_job_that_keeps_crashing_is_failed_after_the_last_attempt(project):
    dataset = DatasetFactory(project=project)
    job = importing.import_job_create(project=project, dataset=dataset, import_format="jsonl", content='{"input": 1}\n', actor=SYSTEM)
    ImportJob.objects.filter(pk=job.pk).update(attempts=importing.MAX_ATTEMPTS, status="running")
    run_import(job.pk)
    job.refresh_from_db()
    assert job.status == ImportStatus.FAILED and "Gave up" in job.message
    assert DatasetItem.objects.filter(dataset=dataset).count() == 0


def test_an_error_on_the_last_attempt_fails_the_job_instead_of_leaving_it_running(project, monkeypatch):
    dataset = DatasetFactory(project=project)
    job = importing.import_job_create(project=project, dataset=dataset, import_format="jsonl", content='{"input": 1}\n', actor=SYSTEM)
    ImportJob.objects.filter(pk=job.pk).update(attempts=importing.MAX_ATTEMPTS - 1)

    def broken(*args, **kwargs):
        raise RuntimeError("database went away")

    monkeypatch.setattr(importing, "_run_batch", broken)
    with pytest.raises(RuntimeError):
        run_import(job.pk)
    job.refresh_from_db()
    assert job.status == ImportStatus.FAILED and "database went away" in job.message


def test_a_100000_row_import_finishes_as_a_job_with_progress(project, api, django_capture_on_commit_callbacks):
    dataset = DatasetFactory(project=project, name="big/one", input_schema=SCHEMA)
    content = "question,n,answer\n" + "".join(f"question {i},{i},answer {i}\n" for i in range(100_000))
    with django_capture_on_commit_callbacks(execute=True):
        response = api.post(
            "datasets/big%2Fone/imports",
            {"format": "csv", "content": content, "cellFormat": "json", "mapping": {"input": ["question", "n"], "expectedOutput": "answer"}},
        )
    assert response.status_code == 202, response.content
    job_id = response.json()["id"]
    body = api.get(f"dataset-imports/{job_id}").json()
    assert body["status"] == "completed", body["message"]
    assert body["progress"] == {"total": 100_000, "done": 100_000, "failed": 0, "added": 100_000}
    assert DatasetItem.objects.filter(dataset=dataset).count() == 100_000
    assert len(dataset_versions(project=project, dataset=dataset)) == 100  # one per batch of 1,000
    last = DatasetItem.objects.get(item_id=f"{job_id}-00100001")
    assert last.input == {"question": "question 99999", "n": 99999}


def test_the_import_api_takes_a_multipart_file_and_reports_the_job(api, project, django_capture_on_commit_callbacks):
    DatasetFactory(project=project, name="qa")
    upload = SimpleUploadedFile("rows.jsonl", b'\xef\xbb\xbf{"input": "a"}\n{"input": "b"}\n', content_type="application/x-ndjson")
    client = Client()
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            "/api/public/datasets/qa/imports",
            {"file": upload, "mapping": json.dumps({"input": "input"}), "mode": "all_or_nothing"},
            headers={"Authorization": api.authorization},
        )
    assert response.status_code == 202, response.content
    body = api.get(f"dataset-imports/{response.json()['id']}").json()
    assert body["format"] == "jsonl" and body["mode"] == "all_or_nothing" and body["filename"] == "rows.jsonl"
    assert body["status"] == "completed" and body["progress"]["added"] == 2 and body["errors"] == []


def test_the_import_api_refuses_bad_requests_naming_the_field(api, project):
    DatasetFactory(project=project, name="qa")
    no_format = api.post("datasets/qa/imports", {"content": "input\nx\n"})
    assert no_format.status_code == 400 and "format" in no_format.json()["message"]
    both = api.post("datasets/qa/imports", {"content": "x"})
    assert both.status_code == 400
    bad_mapping = api.post("datasets/qa/imports", {"content": "q\nx\n", "format": "csv", "mapping": {"input": "nope"}})
    assert "mapping.input" in bad_mapping.json()["message"]
    assert api.post("datasets/missing/imports", {"content": "q\nx\n", "format": "csv"}).status_code == 404
    assert not ImportJob.objects.exists()


def test_a_viewer_cannot_start_an_import(project, api_by_role):
    from evalsite.tenancy.roles import Role

    DatasetFactory(project=project, name="qa")
    response = api_by_role[Role.VIEWER].post("datasets/qa/imports", {"content": '{"input": 1}', "format": "jsonl"})
    assert response.status_code == 403


def read_stream(response) -> str:
    assert response.streaming
    return b"".join(response.streaming_content).decode()


def test_a_jsonl_export_imports_back_identically(api, project):
    source = DatasetFactory(project=project, name="team/source")
    for n in range(3):
        DatasetItemFactory(
            dataset=source, input={"q": n, "nested": [1, "two"]}, expected_output=None if n else "x", metadata={"n": n}, source_trace_id=f"t{n}"
        )
    DatasetItemFactory(dataset=source, status=ItemStatus.ARCHIVED)
    response = api.get("datasets/team%2Fsource/export", format="jsonl")
    assert response.status_code == 200 and response["Content-Type"].startswith("application/x-ndjson")
    assert 'filename="team_source.jsonl"' in response["Content-Disposition"]
    text = read_stream(response)
    assert len(text.splitlines()) == 3  # ACTIVE only

    target = DatasetFactory(project=project)
    start(project, target, text, fmt="jsonl", mapping={"input": "input", "expectedOutput": "expectedOutput", "metadata": "metadata", "sourceTraceId": "sourceTraceId"})
    copied = [(i.input, i.expected_output, i.metadata, i.source_trace_id) for i in items_of(target)]
    original = [(i.input, i.expected_output, i.metadata, i.source_trace_id) for i in items_of(source) if i.status == "ACTIVE"]
    assert copied == original


def test_a_csv_export_imports_back_with_json_cells(api, project):
    source = DatasetFactory(project=project, name="qa")
    DatasetItemFactory(dataset=source, input={"question": "a, \"quoted\"\nline"}, expected_output="plain answer", metadata=None)
    DatasetItemFactory(dataset=source, input=["list", 2], expected_output=3.5, metadata={"k": True})
    text = read_stream(api.get("datasets/qa/export", format="csv"))
    assert text.splitlines()[0] == "id,input,expectedOutput,metadata,sourceTraceId,sourceObservationId,status,createdAt,version"
    target = DatasetFactory(project=project)
    start(project, target, text, fmt="csv", cell_format="json")  # the default mapping is the export layout
    assert [(i.input, i.expected_output, i.metadata) for i in items_of(target)] == [
        (i.input, i.expected_output, i.metadata) for i in items_of(source)
    ]


def test_an_export_can_read_an_earlier_version_and_archived_items(api, project):
    dataset = DatasetFactory(project=project, name="qa")
    item = DatasetItemFactory(dataset=dataset, input="old")
    version = item.updated_at
    DatasetItemFactory(dataset=dataset, input="new", status=ItemStatus.ARCHIVED)
    then = read_stream(api.get("datasets/qa/export", format="jsonl", version=version.isoformat()))
    assert [json.loads(line)["input"] for line in then.splitlines()] == ["old"]
    everything = read_stream(api.get("datasets/qa/export", format="jsonl", includeArchived="true"))
    assert [json.loads(line)["status"] for line in everything.splitlines()] == ["ACTIVE", "ARCHIVED"]
    assert api.get("datasets/qa/export", format="xml").status_code == 400


def test_an_import_line_nested_2000_deep_is_reported_and_the_others_are_added(project):
    dataset = DatasetFactory(project=project)
    deep = '{"input": ' + '{"a":' * 2000 + "1" + "}" * 2000 + "}"
    beyond = '{"input": ' + '{"a":' * 101 + "1" + "}" * 101 + "}"
    content = "\n".join([json.dumps({"input": "fine"}), deep, beyond, '{"input": 1e999}']) + "\n"
    job = start(project, dataset, content, fmt="jsonl")
    assert job.status == ImportStatus.COMPLETED and (job.progress_added, job.progress_failed) == (2, 2)
    assert [error["line"] for error in job.errors] == [2, 3]
    assert "nested more than 100 levels deep" in job.errors[0]["message"]
    # A number no double can hold keeps the text it was written as (evalsite/text.py).
    assert sorted(item.input for item in items_of(dataset)) == ["1e999", "fine"]
