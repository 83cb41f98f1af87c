"""POST /api/public/otel/v1/traces: formats, answers, limits and bad input."""

import gzip
import json

import pytest
from django.test import override_settings

from evalsite.llm.managed_prices import managed_price_list
from evalsite.tenancy.roles import Role
from tests.ingestion.spans import SpanSpec, json_body, protobuf_body, sdk_trace
from tests.support.api import ApiClient
from tests.tenancy.factories import api_key_for
from traces.models import Observation, Trace

pytestmark = pytest.mark.django_db

URL = "otel/v1/traces"
PROTOBUF = "application/x-protobuf"


def post(api, body, content_type=PROTOBUF, headers=None):
    return api.post(URL, body, content_type=content_type, headers=headers)


def nothing_stored(project):
    return not Trace.objects.filter(project=project).exists() and not Observation.objects.filter(project=project).exists()


def test_a_protobuf_export_is_stored_and_answered_with_an_empty_protobuf_body(api, project):
    response = post(api, protobuf_body(sdk_trace()))
    assert response.status_code == 200
    assert response["Content-Type"] == PROTOBUF
    assert response.content == b""
    assert Observation.objects.filter(project=project).count() == 4
    assert Trace.objects.get(project=project).name == "handle"


def test_a_gzipped_protobuf_export_is_decoded(api, project):
    response = post(api, protobuf_body(sdk_trace(), gzipped=True), headers={"Content-Encoding": "gzip"})
    assert response.status_code == 200
    assert Observation.objects.filter(project=project).count() == 4


def test_an_otlp_json_export_is_answered_with_an_empty_json_object(api, project):
    response = post(api, json_body(sdk_trace()), content_type="application/json; charset=utf-8")
    assert response.status_code == 200
    assert response.json() == {}
    generation = Observation.objects.get(project=project, type="GENERATION")
    assert generation.usage_details == {"input": 100, "output": 50, "total": 150}


def test_an_export_without_spans_is_accepted(api, project):
    empty_resource = b"\n\x00"  # one ResourceSpans without scopes or spans
    assert post(api, empty_resource).status_code == 200
    assert post(api, b'{"resourceSpans": []}', content_type="application/json").json() == {}
    assert nothing_stored(project)


@pytest.mark.parametrize(
    "body,content_type,message",
    [
        (b"\x0a\xff\xff\xff\xff\x0f", PROTOBUF, "protobuf"),
        (b"{not json", "application/json", "JSON"),
        (b"<xml/>", "text/xml", "content type"),
        (b'{"resourceSpans": {}}', "application/json", "resourceSpans"),
    ],
    ids=["malformed-protobuf", "malformed-json", "wrong-content-type", "spans-not-an-array"],
)
def test_bad_input_is_a_400_that_says_why_and_stores_nothing(api, project, body, content_type, message):
    response = post(api, body, content_type=content_type)
    assert response.status_code == 400
    assert message in response.json()["message"]
    assert response.json()["error"] == "InvalidRequestError"
    assert nothing_stored(project)


def test_one_span_with_an_invalid_id_rejects_the_whole_batch(api, project):
    spans = json.loads(json_body(sdk_trace()))
    spans["resourceSpans"][2]["scopeSpans"][0]["spans"][0]["spanId"] = "not-hex"
    response = post(api, json.dumps(spans).encode(), content_type="application/json")
    assert response.status_code == 400
    assert "spanId" in response.json()["message"]
    assert nothing_stored(project)


def test_gzip_that_is_not_gzip_is_a_400(api, project):
    response = post(api, b"plain bytes", headers={"Content-Encoding": "gzip"})
    assert response.status_code == 400
    assert nothing_stored(project)


@override_settings(DATA_UPLOAD_MAX_MEMORY_SIZE=2000)
def test_a_body_above_the_limit_is_a_413(api, project):
    body = protobuf_body([SpanSpec("a" * 32, "1" * 16, attributes={"langfuse.observation.input": "x" * 5000})])
    response = post(api, body)
    assert response.status_code == 413
    assert response.json()["error"] == "PayloadTooLargeError"
    assert nothing_stored(project)


@override_settings(DATA_UPLOAD_MAX_MEMORY_SIZE=2000)
def test_a_small_gzip_body_that_inflates_above_the_limit_is_a_413(api, project):
    body = gzip.compress(protobuf_body([SpanSpec("a" * 32, "1" * 16, attributes={"langfuse.observation.input": "x" * 50_000})]))
    assert len(body) < 2000
    response = post(api, body, headers={"Content-Encoding": "gzip"})
    assert response.status_code == 413
    assert nothing_stored(project)


def test_a_viewer_key_cannot_ingest(project):
    response = post(ApiClient(api_key_for(project, Role.VIEWER)), protobuf_body(sdk_trace()))
    assert response.status_code == 403
    assert nothing_stored(project)


def test_a_request_without_a_key_is_refused(project):
    response = post(ApiClient(), protobuf_body(sdk_trace()))
    assert response.status_code == 401
    assert nothing_stored(project)


def test_spans_are_stored_in_the_keys_project_only(api, project, victim_project):
    post(api, protobuf_body(sdk_trace()))
    assert Trace.objects.filter(project=victim_project).count() == 0
    assert Trace.objects.filter(project=project).count() == 1


def test_the_endpoint_makes_the_same_number_of_queries_for_any_batch_size(api, project, django_assert_max_num_queries):
    one = protobuf_body(sdk_trace("1" * 32))
    many = protobuf_body([span for n in range(30) for span in sdk_trace(f"{n + 2:032x}")])
    managed_price_list()  # the built-in prices' first use loads them; not what is counted here
    # key lookup and last-used touch, savepoint, model prices (the project's and the built-in
    # ones: a generation has usage but no cost), traces, observations, release
    with django_assert_max_num_queries(8) as small:
        post(api, one)
    with django_assert_max_num_queries(len(small.captured_queries)):
        post(api, many)
    assert Observation.objects.filter(project=project).count() == 4 * 31
