"""One bad item never fails its batch, and text PostgreSQL would refuse never reaches it (issue 9, item 2).

The platform's rule (evalsite/text.py): NUL characters are removed and lone surrogates become
U+FFFD, wherever text enters (API bodies, the legacy batch, OTLP, import files). Numbers a column
cannot hold (an integer of 401 digits where a count or a score goes) are an error for their item.
The JSON bodies here are written by `json.dumps`, as the SDKs write them: "\\u0000" and "\\ud800"
arrive as escapes.
"""

import json

import pytest

from datasets.models import DatasetItem, ImportStatus
from evalsite.llm.models import LlmConnection
from evalsite.text import OutOfRangeNumber, loads, storable, storable_str
from experiments.models import ExperimentRun
from prompts.models import Prompt
from scoring.models import Score, ScoreConfig
from tests.datasets.factories import DatasetFactory
from tests.ingestion.spans import SpanSpec, json_body, protobuf_body
from traces.models import Observation, Trace

pytestmark = pytest.mark.django_db

NUL = "\x00"
LONE = "\ud800"
BIG = 10**400  # 401 digits
NOW = "2026-01-15T12:00:00Z"


def event(event_id, event_type, body, timestamp=NOW):
    return {"id": event_id, "type": event_type, "timestamp": timestamp, "body": body}


# --- the rule itself ------------------------------------------------------------------------------


def test_nul_is_removed_and_a_lone_surrogate_replaced_but_a_pair_kept():
    assert storable_str(f"a{NUL}b{LONE}c\udc00d") == "ab\ufffdc\ufffdd"
    assert loads('"\\ud83d\\ude00 \\ud83d"') == "\U0001f600 \ufffd"
    assert loads(b'{"k\\u0000": ["\\u0000", {"\\udfff": 1}]}') == {"k": ["", {"\ufffd": 1}]}
    assert loads(b'"\xed\xa0\x80"') == "\ufffd"  # a surrogate written as raw (CESU-8) bytes
    assert storable({"a": "plain", "b": [1, 2.5, None, True]}) == {"a": "plain", "b": [1, 2.5, None, True]}


def test_a_deeply_nested_document_is_cleaned_without_recursion():
    value = "\x00"
    for _ in range(50_000):
        value = [value]
    cleaned = storable(value)
    for _ in range(50_000):
        cleaned = cleaned[0]
    assert cleaned == ""


@pytest.mark.parametrize("document", ["NaN", "[Infinity]", '{"x": -Infinity}'])
def test_nan_and_infinity_are_not_json(document):
    with pytest.raises(ValueError):
        loads(document)


def test_a_number_no_double_can_hold_is_kept_as_the_text_it_was_written_as():
    fits = "1" + "0" * 308  # 10**308, just below the largest double
    beyond = "2" + "0" * 308
    values = loads(f'[1e999, -1e400, {fits}, {beyond}, -{"9" * 5000}, 1.5, 7]')
    assert values == ["1e999", "-1e400", 10**308, beyond, "-" + "9" * 5000, 1.5, 7]
    assert [type(value) for value in values[:5]] == [OutOfRangeNumber, OutOfRangeNumber, int, OutOfRangeNumber, OutOfRangeNumber]


# --- the legacy batch -----------------------------------------------------------------------------


BAD_EVENTS = {
    "nul": (event("bad", "span-create", {"id": "s-1", "traceId": "t-1", "name": f"st{NUL}ep", "input": {f"k{NUL}": f"v{NUL}"}}), None),
    "surrogate": (event("bad", "span-create", {"id": "s-1", "traceId": "t-1", "output": f"x{LONE}", "metadata": {LONE: [LONE]}}), None),
    "offset": (
        event("bad", "span-create", {"id": "s-1", "traceId": "t-1"}, timestamp="9999-12-31T23:59:59-14:00"),
        "timestamp: must be between",
    ),
    "usage": (
        event("bad", "generation-create", {"id": "s-1", "traceId": "t-1", "usage": {"input": BIG}}),
        "body.usage.input: must be a finite number",
    ),
    "usage details": (
        event("bad", "generation-create", {"id": "s-1", "traceId": "t-1", "usageDetails": {"input": 10**30}}),
        "body.usageDetails.input: must be at most 9223372036854775807 in absolute value",
    ),
    "cost": (
        event("bad", "generation-create", {"id": "s-1", "traceId": "t-1", "costDetails": {"total": BIG}}),
        "body.costDetails.total: must be a finite number",
    ),
}


@pytest.mark.parametrize("case", BAD_EVENTS, ids=list(BAD_EVENTS))
def test_one_bad_legacy_event_never_fails_the_batch(api, project, case):
    bad, error = BAD_EVENTS[case]
    valid = event("good", "trace-create", {"id": "t-1", "name": "chat", "input": {"q": "hello"}})
    response = api.post("ingestion", {"batch": [valid, bad]})
    assert response.status_code == 207
    body = response.json()
    assert Trace.objects.get(project=project).name == "chat"
    if error is None:  # NUL and lone surrogates are cleaned, and the event stored
        assert body["errors"] == [] and {s["id"] for s in body["successes"]} == {"good", "bad"}
        assert api.get("traces/t-1").status_code == 200
        assert api.get("observations/s-1").status_code == 200
    else:
        assert [s["id"] for s in body["successes"]] == ["good"]
        (only,) = body["errors"]
        assert (only["id"], only["status"]) == ("bad", 400) and only["message"].startswith(error)
        assert not Observation.objects.exists()


def test_an_unexpected_error_parsing_one_legacy_event_is_that_events_500_only(api, project, monkeypatch):
    from ingestion import services

    parse = services.parse_event

    def parse_or_fail(event, *, now):
        if event["id"] == "boom":
            raise RuntimeError("a bug")
        return parse(event, now=now)

    monkeypatch.setattr(services, "parse_event", parse_or_fail)
    response = api.post("ingestion", {"batch": [event("boom", "trace-create", {"id": "t-2"}), event("ok", "trace-create", {"id": "t-1"})]})
    assert response.status_code == 207
    assert [s["id"] for s in response.json()["successes"]] == ["ok"]
    assert [(e["id"], e["status"]) for e in response.json()["errors"]] == [("boom", 500)]
    assert list(Trace.objects.values_list("trace_id", flat=True)) == ["t-1"]


def test_legacy_events_are_stored_with_nul_removed_and_lone_surrogates_replaced(api, project):
    response = api.post(
        "ingestion",
        {
            "batch": [
                event("e1", "trace-create", {"id": f"t{NUL}-1", "name": f"ch{NUL}at", "tags": [f"a{LONE}"], "userId": f"u{LONE}"}),
                event("e2", "span-create", {"id": "s-1", "traceId": "t-1", "input": {f"k{NUL}": [f"v{LONE}"]}, "statusMessage": NUL}),
                event("e3", "score-create", {"id": "sc-1", "traceId": "t-1", "name": f"n{NUL}", "value": f"c{LONE}", "comment": NUL}),
            ]
        },
    )
    assert response.status_code == 207 and response.json()["errors"] == []
    trace = Trace.objects.get(project=project)
    assert (trace.trace_id, trace.name, trace.tags, trace.user_id) == ("t-1", "chat", ["a\ufffd"], "u\ufffd")
    observation = Observation.objects.get(project=project)
    assert (observation.input, observation.status_message) == ({"k": ["v\ufffd"]}, "")
    score = Score.objects.get(project=project)
    assert (score.name, score.string_value, score.comment) == ("n", "c\ufffd", "")


def test_legacy_numbers_no_double_can_hold_are_text_in_free_json_and_an_error_where_a_count_goes(api, project):
    huge = "9" * 5000  # beyond Python's own limit of 4,300 digits for int()
    body = (
        '{"batch": ['
        '{"id": "e1", "type": "span-create", "timestamp": "2026-01-15T12:00:00Z",'
        f' "body": {{"id": "s-1", "traceId": "t-1", "metadata": {{"inf": 1e999, "big": {huge}}}, "input": [-1e400]}}}},'
        '{"id": "e2", "type": "span-update", "timestamp": "2026-01-15T12:00:01Z",'
        f' "body": {{"id": "s-1", "traceId": "t-1", "metadata": {{"more": {huge}}}}}}},'
        '{"id": "e3", "type": "generation-create", "timestamp": "2026-01-15T12:00:00Z",'
        f' "body": {{"id": "g-1", "traceId": "t-1", "usage": {{"input": {huge}}}}}}}'
        "]}"
    )
    response = api.post("ingestion", body.encode())
    assert response.status_code == 207
    assert [s["id"] for s in response.json()["successes"]] == ["e1", "e2"]
    assert [(e["id"], e["message"]) for e in response.json()["errors"]] == [("e3", "body.usage.input: must be a finite number")]
    observation = Observation.objects.get(project=project)
    assert observation.metadata == {"inf": "1e999", "big": huge, "more": huge} and observation.input == ["-1e400"]
    # A later merge of the stored metadata (SQLite's JSON functions would turn a number this size
    # into Inf and refuse their own output) still works.
    response = api.post("ingestion", {"batch": [event("e4", "span-update", {"id": "s-1", "traceId": "t-1", "metadata": {"x": 1}})]})
    assert response.json()["errors"] == []
    assert Observation.objects.get(project=project).metadata["x"] == 1
    assert api.get("observations/s-1").status_code == 200


# --- scores ---------------------------------------------------------------------------------------


def score(score_id, **fields):
    return {"id": score_id, "traceId": "t-1", "name": "accuracy", "value": 1, **fields}


def test_a_score_array_stores_the_valid_items_cleaned_and_reports_each_bad_one(api, project):
    response = api.post(
        "scores",
        [
            score("nul", comment=f"fine{NUL}", metadata={f"k{NUL}": NUL}),
            score("lone", name=f"acc{LONE}", dataType="CATEGORICAL", value=f"good{LONE}"),
            score("offset", timestamp="0001-01-01T00:00:00+01:00"),
            score("huge", value=BIG),
            score("huge categorical", value=BIG, dataType="CATEGORICAL"),
            score("ok", metadata={"big": BIG}),
        ],
    )
    assert response.status_code == 207
    body = response.json()
    assert (body["accepted"], body["rejected"]) == (3, 3)
    messages = [error["message"] for error in body["errors"]]
    assert messages[0].startswith("[2] timestamp: must be between")
    assert messages[1:] == [
        "[3] value: must be a finite number that a double can hold",
        "[4] value: must be a finite number that a double can hold",
    ]
    stored = {s.score_id: s for s in Score.objects.filter(project=project)}
    assert set(stored) == {"nul", "lone", "ok"}
    assert (stored["nul"].comment, stored["nul"].metadata) == ("fine", {"k": ""})
    assert (stored["lone"].name, stored["lone"].string_value) == ("acc\ufffd", "good\ufffd")
    assert stored["ok"].metadata == {"big": str(BIG)}  # beyond a double: kept as the text it was written as
    for path in ("scores", "v3/scores", "scores/ok"):
        assert api.get(path).status_code == 200


def test_one_score_with_a_401_digit_value_is_a_400_naming_value(api):
    response = api.post("scores", score("s", value=BIG))
    assert response.status_code == 400
    assert response.json()["details"] == {"value": ["must be a finite number that a double can hold"]}


def test_a_score_value_written_as_1e999_is_an_error_for_its_item(api, project):
    body = b'[{"id": "a", "traceId": "t", "name": "n", "value": 1e999}, {"id": "b", "traceId": "t", "name": "n", "value": 1}]'
    response = api.post("scores", body)
    assert response.status_code == 207
    assert response.json()["errors"] == [{"message": "[0] value: must be a finite number that a double can hold"}]


@pytest.mark.parametrize("body", [b'[{"value": NaN}]', b'{"value": Infinity}'])
def test_a_score_body_with_nan_or_infinity_is_not_json(api, body):
    response = api.post("scores", body)
    assert response.status_code == 400
    assert response.json()["error"] == "InvalidRequestError"


def test_score_configs_are_stored_cleaned_and_a_401_digit_bound_is_a_400(api, project):
    response = api.post("score-configs", {"name": f"qual{NUL}ity", "dataType": "NUMERIC", "description": f"d{LONE}"})
    assert response.status_code == 200, response.content
    config = ScoreConfig.objects.get(project=project)
    assert (config.name, config.description) == ("quality", "d\ufffd")
    response = api.post("score-configs", {"name": "bounded", "dataType": "NUMERIC", "maxValue": BIG})
    assert response.status_code == 400 and "maxValue" in response.json()["details"]
    response = api.post(
        "score-configs", {"name": "cats", "dataType": "CATEGORICAL", "categories": [{"label": f"a{LONE}", "value": 1}]}
    )
    assert response.status_code == 200
    assert ScoreConfig.objects.get(name="cats").categories == [{"label": "a\ufffd", "value": 1.0}]


# --- datasets, prompts, LLM connections --------------------------------------------------------------


def test_dataset_items_are_stored_cleaned(api, project):
    assert api.post("v2/datasets", {"name": f"q{NUL}a", "description": f"d{LONE}", "metadata": {NUL: LONE}}).status_code == 200
    response = api.post(
        "dataset-items",
        {"datasetName": "qa", "id": f"i{NUL}1", "input": {"q": f"2+2{NUL}"}, "expectedOutput": LONE, "metadata": {f"{LONE}k": 1}},
    )
    assert response.status_code == 200, response.content
    item = DatasetItem.objects.get(project=project)
    assert (item.item_id, item.input, item.expected_output, item.metadata) == ("i1", {"q": "2+2"}, "\ufffd", {"\ufffdk": 1})
    assert api.get("dataset-items", datasetName="qa").status_code == 200


def test_imported_files_are_stored_cleaned(api, project, django_capture_on_commit_callbacks):
    dataset = DatasetFactory(project=project, name="qa")
    jsonl = '{"input": "a\\u0000b", "meta": {"k": "\\ud800"}}\n{"input": "c' + NUL + 'd"}\n'
    with django_capture_on_commit_callbacks(execute=True):
        response = api.post(
            "datasets/qa/imports",
            {"content": jsonl, "format": "jsonl", "mapping": {"input": "input", "metadata": "meta?"}},
        )
    assert response.status_code == 202, response.content
    assert api.get(f"dataset-imports/{response.json()['id']}").json()["status"] == ImportStatus.COMPLETED
    csv = f"question,answer\nwhat{NUL}?,\"{{\"\"x\"\": \"\"\\ud800\"\"}}\"\n"
    with django_capture_on_commit_callbacks(execute=True):
        response = api.post(
            "datasets/qa/imports",
            {"content": csv, "format": "csv", "cellFormat": "json", "mapping": {"input": "question", "expectedOutput": "answer"}},
        )
    assert response.status_code == 202, response.content
    items = DatasetItem.objects.filter(dataset=dataset)
    assert sorted((item.input, item.expected_output, item.metadata) for item in items) == [
        ("ab", None, {"k": "\ufffd"}),
        ("cd", None, None),
        ("what?", {"x": "\ufffd"}, None),
    ]


def test_an_uploaded_file_with_nul_characters_is_imported_without_them(project):
    from datasets import importing
    from datasets.tasks import run_import
    from evalsite.tenancy.actors import SYSTEM

    dataset = DatasetFactory(project=project)
    content = importing.decode_upload(b"question\nwh\x00at\n")
    job = importing.import_job_create(
        project=project, dataset=dataset, import_format="csv", content=content, mapping={"input": "question"}, actor=SYSTEM
    )
    run_import(job.pk)
    assert DatasetItem.objects.get(dataset=dataset).input == "what"


def test_prompts_are_stored_cleaned(api, project):
    response = api.post(
        "v2/prompts", {"name": f"gree{NUL}ting", "type": "text", "prompt": f"Hello {LONE}{{{{name}}}}", "config": {NUL: 1}}
    )
    assert response.status_code in (200, 201), response.content
    chat = [{"role": "user", "content": f"hi{NUL}{LONE}"}]
    assert api.post("v2/prompts", {"name": "chat", "type": "chat", "prompt": chat}).status_code in (200, 201)
    prompts = {prompt.name: prompt for prompt in Prompt.objects.filter(project=project)}
    assert set(prompts) == {"greeting", "chat"}
    assert (prompts["greeting"].config, prompts["chat"].prompt) == ({"": 1}, [{"role": "user", "content": "hi\ufffd"}])
    assert api.get("v2/prompts/greeting", version=1).status_code == 200


def test_llm_connection_names_are_stored_cleaned(api, project):
    body = {"provider": f"local{NUL}-vllm{LONE}", "adapter": "openai", "secretKey": "sk-test-1234567890", "baseURL": "http://vllm:8000/v1"}
    response = api.put("llm-connections", body)
    assert response.status_code == 200, response.content
    assert LlmConnection.objects.get(project=project).provider == "local-vllm\ufffd"


# --- OTLP -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("encode", [protobuf_body, json_body], ids=["protobuf", "json"])
def test_otlp_spans_are_stored_with_nul_removed_and_lone_surrogates_replaced(api, project, encode):
    attributes = {
        "langfuse.observation.input": json.dumps({"text": f"a{NUL}b", LONE: [LONE]}),
        "langfuse.observation.metadata.note": json.dumps(f"n{NUL}"),
        "langfuse.trace.name": f"tr{NUL}ace",
        "langfuse.experiment.id": "run-1",
        "langfuse.experiment.name": f"ni{NUL}ghtly",
        "langfuse.experiment.item.id": "item-1",
        "langfuse.experiment.item.root_observation_id": "b" * 16,
        "langfuse.observation.usage_details": json.dumps({"input": BIG, "output": 7}),
        "langfuse.observation.cost_details": json.dumps({"total": BIG, "input": 0.5}),
        "gen_ai.usage.input_tokens": "9" * 5000,
        "langfuse.observation.type": "generation",
    }
    if encode is json_body:  # a protobuf string must be valid UTF-8: only OTLP/JSON can carry a lone surrogate
        attributes["langfuse.observation.output"] = f"out{LONE}"
    span = SpanSpec(trace_id="a" * 32, span_id="b" * 16, name=f"sp{NUL}an", attributes=attributes)
    content_type = "application/x-protobuf" if encode is protobuf_body else "application/json"
    response = api.post("otel/v1/traces", encode([span]), content_type=content_type)
    assert response.status_code == 200, response.content
    observation = Observation.objects.get(project=project)
    assert observation.name == "span" and observation.input == {"text": "ab", "\ufffd": ["\ufffd"]}
    assert observation.metadata["note"] == "n"
    assert (observation.usage_details, observation.cost_details) == ({"output": 7, "total": 7}, {"input": 0.5})
    if encode is json_body:
        assert observation.output == "out\ufffd"
    assert Trace.objects.get(project=project).name == "trace"
    assert ExperimentRun.objects.get(project=project).name == "nightly"
    assert api.get("traces/" + "a" * 32).status_code == 200


def test_otlp_json_numbers_beyond_their_range(api, project):
    span = json.loads(json_body([SpanSpec(trace_id="a" * 32, span_id="b" * 16, scope_name="an-instrumentation")]))
    attributes = span["resourceSpans"][0]["scopeSpans"][0]["spans"][0]["attributes"]

    def post(value):
        attributes[:] = [{"key": "x", "value": value}]
        body = json.dumps(span).replace('"@@"', "1e999").replace('"@big@"', "9" * 400).encode()
        return api.post("otel/v1/traces", body, content_type="application/json")

    assert post({"doubleValue": "@@"}).status_code == 200  # a double beyond range reads as "Infinity", as OTLP writes it
    assert Observation.objects.get(project=project).metadata["attributes"] == {"x": "Infinity"}
    response = post({"intValue": "@big@"})
    assert response.status_code == 400 and "must be an integer of 64 bits" in response.json()["message"]
    assert api.post("otel/v1/traces", b"[NaN]", content_type="application/json").status_code == 400
