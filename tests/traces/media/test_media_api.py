"""The media API and its signed upload/download URLs: what they accept, what they refuse."""

import time
from urllib.parse import urlsplit

import pytest
from django.core import signing as django_signing
from django.test import Client

from evalsite.tenancy.roles import Role
from tests.support.api import ApiClient
from tests.tenancy.factories import api_key_for
from tests.traces.media.factories import PDF, png, sha256_b64
from traces.media.models import Media, MediaReference

pytestmark = pytest.mark.django_db


def upload_request(content: bytes, content_type="image/png", **extra) -> dict:
    body = {
        "traceId": "trace-1", "observationId": "obs-1", "contentType": content_type,
        "contentLength": len(content), "sha256Hash": sha256_b64(content), "field": "input",
    }
    return {**body, **extra}


def put(url: str, content: bytes, content_type="image/png", **headers):
    parts = urlsplit(url)
    return Client().generic("PUT", parts.path, content, content_type=content_type, headers=headers)


def test_an_upload_url_takes_the_declared_bytes_and_the_media_is_then_served(api, project):
    image = png()
    answer = api.post("media", upload_request(image))
    assert answer.status_code == 200, answer.content
    media_id, upload_url = answer.json()["mediaId"], answer.json()["uploadUrl"]
    assert media_id == sha256_b64(image).replace("+", "-").replace("/", "_")[:22]  # the SDK's own id
    assert upload_url.startswith("http://testserver/media/upload/")
    assert api.get(f"media/{media_id}").status_code == 404  # not uploaded yet

    assert put(upload_url, image, **{"x-amz-checksum-sha256": sha256_b64(image)}).status_code == 200
    report = {"uploadedAt": "2026-11-30T08:00:00.000Z", "uploadHttpStatus": 200, "uploadHttpError": "", "uploadTimeMs": 12}
    assert api.patch(f"media/{media_id}", report).status_code == 204

    read = api.get(f"media/{media_id}").json()
    assert {k: read[k] for k in ("mediaId", "contentType", "contentLength")} == {
        "mediaId": media_id, "contentType": "image/png", "contentLength": len(image),
    }
    assert read["uploadedAt"] and read["urlExpiry"] > read["uploadedAt"]
    download = Client().get(urlsplit(read["url"]).path)
    assert download.status_code == 200 and b"".join(download.streaming_content) == image
    assert download["Content-Type"] == "image/png" and "sandbox" in download["Content-Security-Policy"]
    media = Media.objects.get(project=project)
    assert (media.upload_http_status, media.upload_time_ms) == (200, 12)


def test_a_pdf_is_served_as_a_download_not_rendered_by_the_site(api):
    answer = api.post("media", upload_request(PDF, "application/pdf")).json()
    assert put(answer["uploadUrl"], PDF, "application/pdf").status_code == 200
    download = Client().get(urlsplit(api.get(f"media/{answer['mediaId']}").json()["url"]).path)
    assert download["Content-Disposition"].startswith("attachment")


def test_the_same_bytes_again_get_no_upload_url_but_a_reference_of_their_own(api, project):
    image = png()
    first = api.post("media", upload_request(image)).json()
    put(first["uploadUrl"], image)
    again = api.post("media", upload_request(image, traceId="trace-2", observationId=None, field="output"))
    assert again.json() == {"mediaId": first["mediaId"], "uploadUrl": None}
    assert Media.objects.filter(project=project).count() == 1
    assert set(MediaReference.objects.values_list("trace_id", "observation_id", "field")) == {
        ("trace-1", "obs-1", "input"), ("trace-2", "", "output"),
    }


def test_bytes_stored_by_one_project_are_not_deduplicated_for_another(api, victim_api):
    image = png()
    put(victim_api.post("media", upload_request(image)).json()["uploadUrl"], image)
    answer = api.post("media", upload_request(image)).json()
    assert answer["uploadUrl"] is not None  # the victim's upload tells this project nothing
    assert api.get(f"media/{answer['mediaId']}").status_code == 404


def test_a_media_not_uploaded_yet_gets_a_fresh_upload_url_again(api):
    image = png()
    first = api.post("media", upload_request(image)).json()
    second = api.post("media", upload_request(image)).json()
    assert second["uploadUrl"] and second["mediaId"] == first["mediaId"]
    assert put(second["uploadUrl"], image).status_code == 200


@pytest.mark.parametrize(
    "change, field",
    [
        ({"contentType": "application/x-msdownload"}, "contentType"),
        ({"contentLength": 0}, "contentLength"),
        ({"contentLength": 10**9}, "contentLength"),
        ({"sha256Hash": "not-base64!"}, "sha256Hash"),
        ({"sha256Hash": "c2hvcnQ="}, "sha256Hash"),
        ({"traceId": None, "observationId": None}, "traceId"),
        ({"field": "expectedOutput"}, "field"),
        ({"datasetId": "d", "datasetItemId": "i"}, "datasetId"),
    ],
)
def test_an_upload_request_outside_the_limits_is_refused_naming_the_field(api, project, change, field):
    response = api.post("media", upload_request(png(), **change))
    assert response.status_code == 400, response.content
    assert field in response.json()["details"] and field in response.json()["message"]
    assert not Media.objects.filter(project=project).exists()


def test_the_size_limit_is_a_setting(api, settings):
    settings.EVALSITE_MEDIA_MAX_BYTES = 10
    response = api.post("media", upload_request(png()))
    assert response.status_code == 400 and "above the limit of 10 bytes" in response.json()["message"]


def test_a_dataset_items_media_is_accepted_as_the_sdk_sends_it(api, project):
    body = upload_request(PDF, "application/pdf", traceId=None, observationId=None, datasetId="ds-1",
                          datasetItemId="item-1", field="expectedOutput")
    assert api.post("media", body).status_code == 200
    assert MediaReference.objects.get(project=project).dataset_item_id == "item-1"


def test_a_viewer_key_cannot_ask_for_an_upload_url(project):
    viewer = ApiClient(api_key_for(project, Role.VIEWER))
    assert viewer.post("media", upload_request(png())).status_code == 403


# --- the upload URL refuses everything but the declared bytes ---------------------------------


def upload_url(api, content=None, content_type="image/png"):
    return api.post("media", upload_request(content or png(), content_type)).json()["uploadUrl"]


def assert_nothing_stored(project, media_root):
    assert Media.objects.get(project=project).uploaded_at is None
    assert [path for path in media_root.rglob("*") if path.is_file()] == []


def test_bytes_that_do_not_match_the_declared_hash_are_refused(api, project, media_root):
    image = png()
    forged = bytearray(image)
    forged[-13] ^= 0xFF  # same length, other bytes
    response = put(upload_url(api, image), bytes(forged))
    assert response.status_code == 400 and response.json()["error"] == "BadDigestError"
    assert "SHA-256" in response.json()["message"]
    assert_nothing_stored(project, media_root)


def test_a_checksum_header_other_than_the_declared_hash_is_refused(api, project, media_root):
    image = png()
    response = put(upload_url(api, image), image, **{"x-amz-checksum-sha256": sha256_b64(b"other")})
    assert response.status_code == 400 and "x-amz-checksum-sha256" in response.json()["message"]
    assert_nothing_stored(project, media_root)


def test_another_length_than_declared_is_refused(api, project, media_root):
    image = png()
    response = put(upload_url(api, image), image + b"more")
    assert response.status_code == 400 and "Content-Length" in response.json()["message"]
    assert_nothing_stored(project, media_root)


def test_another_content_type_than_declared_is_refused(api, project, media_root):
    image = png()
    response = put(upload_url(api, image), image, content_type="text/html")
    assert response.status_code == 400 and "Content-Type" in response.json()["message"]
    assert_nothing_stored(project, media_root)


def test_a_tampered_upload_url_is_refused(api, project, media_root):
    image = png()
    url = upload_url(api, image)
    head, _, signature = url.rpartition(":")
    tampered = head + ":" + ("A" if signature[0] != "A" else "B") + signature[1:]
    response = put(tampered, image)
    assert response.status_code == 403 and response.json()["error"] == "AccessDeniedError"
    assert_nothing_stored(project, media_root)


def test_an_upload_url_signed_with_another_key_is_refused(api, project, media_root, settings):
    image = png()
    url = upload_url(api, image)
    settings.SECRET_KEY = "another-secret-key-for-this-test-only"
    assert put(url, image).status_code == 403
    assert_nothing_stored(project, media_root)


def test_an_expired_upload_url_is_refused(api, project, media_root, monkeypatch):
    image = png()
    real_time = time.time
    monkeypatch.setattr(django_signing.time, "time", lambda: real_time() - 3601)  # signed an hour ago
    url = upload_url(api, image)
    monkeypatch.setattr(django_signing.time, "time", real_time)
    response = put(url, image)
    assert response.status_code == 403 and "expired" in response.json()["message"]
    assert_nothing_stored(project, media_root)


def test_an_expired_or_tampered_download_url_is_refused(api, monkeypatch):
    image = png()
    media_id = api.post("media", upload_request(image)).json()["mediaId"]
    real_time = time.time
    monkeypatch.setattr(django_signing.time, "time", lambda: real_time() - 3600)
    put(upload_url(api, image), image)
    old = urlsplit(api.get(f"media/{media_id}").json()["url"]).path
    monkeypatch.setattr(django_signing.time, "time", real_time)
    assert Client().get(old).status_code == 403
    fresh = urlsplit(api.get(f"media/{media_id}").json()["url"]).path
    assert Client().get(fresh).status_code == 200
    assert Client().get(fresh[:-3] + "xyz").status_code == 403


def test_a_download_url_dies_with_its_media(api, project):
    from traces.services import traces_delete

    image = png()
    media_id = api.post("media", upload_request(image)).json()["mediaId"]
    put(upload_url(api, image), image)
    url = urlsplit(api.get(f"media/{media_id}").json()["url"]).path
    traces_delete(project=project, trace_ids=["trace-1"])
    assert Client().get(url).status_code == 404
