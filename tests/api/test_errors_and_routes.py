import pytest

from evalsite.api.errors import flatten_detail
from tests.support.api import ApiClient

pytestmark = pytest.mark.django_db


def test_health_needs_no_key():
    response = ApiClient().get("health")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "OK" and body["version"]


def test_unknown_api_route_is_a_json_404(api):
    response = api.get("no-such-thing")
    assert response.status_code == 404
    assert response.json()["error"] == "NotFoundError"


def test_routes_do_not_redirect_to_a_trailing_slash(api):
    assert api.get("projects").status_code == 200
    response = api.get("/api/public/projects/")
    assert response.status_code == 404 and "Location" not in response


def test_double_slash_from_a_base_url_with_trailing_slash_still_routes(api):
    # As a WSGI server passes it; the test client would parse "//api" as a host name.
    response = api.client.get("/", PATH_INFO="//api/public/projects", headers={"Authorization": api.authorization})
    assert response.status_code == 200


def test_wrong_method_is_a_json_405(api):
    response = api.post("projects", {})
    assert response.status_code == 405
    assert response.json()["error"] == "MethodNotAllowedError"


def test_validation_messages_name_the_field():
    detail = {"name": ["This field is required."], "config": {"min": ["Must be a number."]}, "items": [{}, {"id": ["bad"]}]}
    assert flatten_detail(detail) == [
        "name: This field is required.",
        "config.min: Must be a number.",
        "items[1].id: bad",
    ]


def test_openapi_schema_and_docs_page_render(client):
    schema = client.get("/api/schema/")
    assert schema.status_code == 200
    assert b"/api/public/projects" in schema.content
    docs = client.get("/api/docs/")
    assert docs.status_code == 200
    assert b"swagger" in docs.content.lower()
