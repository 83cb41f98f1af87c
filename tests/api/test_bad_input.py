"""Bad input is a 4xx JSON error naming what is wrong, on every route, never a 500.

Several of these failed only on PostgreSQL (it refuses NUL in text parameters, and checks JSON
before storing it): CI runs them there.
"""

import json
import re
from urllib.parse import quote

import pytest
from django.test import override_settings

from evalsite.json_values import MAX_JSON_DEPTH
from tests.datasets.factories import DatasetFactory
from tests.support.api import ApiClient, basic_auth
from tests.support.cross_project import all_cases
from tests.support.routes import api_routes

pytestmark = pytest.mark.django_db

WRITE_METHODS = ("post", "put", "patch")


def route_url(pattern: str, value: str) -> str:
    """The route with every path parameter set to `value` (integers to 1)."""

    def fill(match):
        return "1" if match.group(1) == "int" else quote(value, safe="")

    return "/" + re.sub(r"<(?:(\w+):)?(\w+)>", fill, pattern)


def route_params(*, with_path_parameters: bool, methods=None):
    for route in api_routes():
        if ("<" in route.pattern) != with_path_parameters:
            continue
        for method in sorted(route.actions):
            if methods is None or method in methods:
                yield pytest.param(route, method, id=f"{method.upper()} {route.pattern}")


def assert_json_error(response, status: int | tuple[int, ...]):
    statuses = (status,) if isinstance(status, int) else status
    assert response.status_code in statuses, (response.status_code, response.content[:300])
    assert response["Content-Type"].startswith("application/json")
    return response.json()


# --- NUL characters -------------------------------------------------------------------------------


@pytest.mark.parametrize("route,method", list(route_params(with_path_parameters=True)))
def test_a_nul_in_a_path_id_is_a_400_naming_the_parameter(api, route, method):
    response = api.request(method.upper(), route_url(route.pattern, "a\x00b"), {} if method in WRITE_METHODS else None)
    body = assert_json_error(response, 400)
    named = re.findall(r"<(?:\w+:)?(\w+)>", route.pattern)
    assert any(name in body["details"] for name in named), body
    assert "NUL" in body["message"]


@pytest.mark.parametrize("path", ["traces", "scores", "v2/scores", "v3/scores", "v2/observations", "dataset-items"])
def test_a_nul_in_a_query_parameter_is_a_400_naming_it(api, path):
    body = assert_json_error(api.get(path, name="a\x00b"), 400)
    assert "name" in body["details"]


def test_a_nul_in_a_parameter_a_view_reads_itself_is_a_400(api):
    # `label` is read straight from the query string by the prompt view, past any serializer.
    body = assert_json_error(api.get("v2/prompts/greeting", label="x\x00"), 400)
    assert "label" in body["details"]


def test_a_nul_in_the_api_key_is_a_401():
    client = ApiClient(authorization=basic_auth("pk-lf-\x00", "sk-lf-x"))
    assert_json_error(client.get("traces"), 401)


# --- integer parameters ---------------------------------------------------------------------------

PAGED = ["traces", "observations", "sessions", "scores", "v2/scores", "score-configs", "v2/datasets", "datasets",
         "dataset-items", "v2/prompts", "metrics/daily", "models", "experiments/runs"]


@pytest.mark.parametrize("name", ["page", "limit"])
@pytest.mark.parametrize("path", PAGED)
def test_a_page_or_limit_of_thirty_digits_is_a_400_naming_it(api, path, name):
    body = assert_json_error(api.get(path, **{name: "9" * 30}), 400)
    assert name in body["details"], body


def test_a_prompt_version_of_thirty_digits_is_a_400(api):
    body = assert_json_error(api.get("v2/prompts/greeting", version="9" * 30), 400)
    assert "version" in body["details"]


def test_more_query_parameters_than_django_accepts_is_a_400(api):
    query = "&".join(f"p{n}=1" for n in range(10_050))
    response = api.client.get(f"/api/public/traces?{query}", headers={"Authorization": api.authorization})
    body = assert_json_error(response, 400)
    assert "DATA_UPLOAD_MAX_NUMBER_FIELDS" in body["message"]


# --- bodies ---------------------------------------------------------------------------------------

DEEP_BODY = "[" * 100_000 + "]" * 100_000
CASES = {case.pattern: case for case in all_cases()}
# Writes that read no body at all (nothing in it can be too deep or too large).
BODILESS = {
    ("post", "api/public/experiments/runs/<str:run_id>/cancel"),
    ("post", "api/public/experiments/runs/<str:run_id>/release"),
}


def write_params():
    """Every write of every route; a route with path parameters names an object made by its
    cross-project case (tests/support/cross_project.py), so the view gets as far as the body."""
    for route in api_routes():
        for method in sorted(route.actions):
            if method in WRITE_METHODS and (method, route.pattern) not in BODILESS:
                yield pytest.param(route, method, id=f"{method.upper()} {route.pattern}")


def write_url(route, project) -> str:
    if "<" not in route.pattern:
        return "/" + route.pattern
    kwargs = CASES[route.pattern].make(project)
    return "/" + re.sub(r"<(?:(\w+):)?(\w+)>", lambda m: quote(str(kwargs[m.group(2)]), safe=""), route.pattern)


@pytest.mark.parametrize("route,method", list(write_params()))
def test_a_body_nested_100k_deep_is_a_400_on_every_endpoint(api, project, route, method):
    body = assert_json_error(api.request(method.upper(), write_url(route, project), DEEP_BODY), 400)
    assert body["error"] == "InvalidRequestError"


@pytest.mark.parametrize("route,method", list(write_params()))
def test_a_body_above_the_size_limit_is_a_413_on_every_endpoint(api, project, route, method):
    url = write_url(route, project)
    with override_settings(DATA_UPLOAD_MAX_MEMORY_SIZE=1000):
        response = api.request(method.upper(), url, {"name": "x" * 2000})
    body = assert_json_error(response, 413)
    assert body["error"] == "PayloadTooLargeError" and "1000 bytes" in body["message"]


@pytest.mark.parametrize("number", ["1e999", "-1e999"])
def test_a_number_no_double_can_hold_is_kept_as_the_text_it_was_written_as(api, number):
    # The platform's one rule for such numbers (evalsite/text.py): free-form JSON keeps their text.
    response = api.post("v2/datasets", f'{{"name": "d", "metadata": {{"x": {number}}}}}')
    assert response.status_code == 200, response.content
    assert api.get("v2/datasets/d").json()["metadata"] == {"x": number}


@pytest.mark.parametrize("depth", [MAX_JSON_DEPTH + 1, 2000])
def test_a_dataset_item_nested_beyond_the_limit_is_a_400(api, project, depth):
    DatasetFactory(project=project, name="deep")
    nested = '{"a":' * depth + "1" + "}" * depth
    body = assert_json_error(api.post("dataset-items", f'{{"datasetName": "deep", "input": {nested}}}'), 400)
    assert f"nested more than {MAX_JSON_DEPTH} levels deep" in body["message"]


def test_a_dataset_item_at_the_depth_limit_is_stored_validated_and_read_back(api, project):
    # A self-referencing schema walks the whole depth of the item when validating it.
    tree = {"$defs": {"node": {"type": "object", "properties": {"a": {"$ref": "#/$defs/node"}}}}, "$ref": "#/$defs/node"}
    DatasetFactory(project=project, name="deep", input_schema=tree)
    # The body is one JSON value too: the item's input sits one level inside it.
    nested = '{"a":' * (MAX_JSON_DEPTH - 2) + "{}" + "}" * (MAX_JSON_DEPTH - 2)
    response = api.post("dataset-items", f'{{"datasetName": "deep", "id": "d1", "input": {nested}}}')
    assert response.status_code == 200, response.content[:300]
    read = api.get("dataset-items/d1")
    assert read.status_code == 200 and read.json()["input"] == json.loads(nested)
    assert api.get("dataset-items", datasetName="deep").json()["meta"]["totalItems"] == 1


def every_route():
    for route in api_routes():
        yield pytest.param(route, id=route.pattern)


@pytest.mark.parametrize("route", list(every_route()))
def test_options_describes_every_route_without_a_server_error(api, project, route):
    # DRF's default OPTIONS built each view's serializer and fetched the object by a lookup our views
    # do not use: a 500 on most routes.
    url = write_url(route, project) if "<" not in route.pattern or route.pattern in CASES else route_url(route.pattern, "x")
    response = api.request("OPTIONS", url)
    assert response.status_code == 200, response.content[:300]
    assert response.json()["name"]
