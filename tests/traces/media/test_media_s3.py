"""The S3 path of the media storage, against moto's S3-compatible server on 127.0.0.1.

Skipped when the optional dependencies (django-storages with boto3, moto's server) are not
installed; the `test` extra installs them.
"""

import socket

import httpx
import pytest

from tests.support.live import langfuse_client, wait_for_media_uploads
from tests.tenancy.factories import api_key_for
from tests.traces.media.factories import PDF, png, sha256_b64
from traces.media.models import Media

pytest.importorskip("storages.backends.s3")
moto_server = pytest.importorskip("moto.server")

pytestmark = [pytest.mark.live, pytest.mark.django_db(transaction=True)]
BUCKET = "evalsite-media"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def s3(settings):
    import boto3

    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=free_port(), verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{server._port}"
    httpx.post(f"{endpoint}/moto-api/reset").raise_for_status()  # moto keeps its state per process
    credentials = {"aws_access_key_id": "test-key", "aws_secret_access_key": "test-secret", "region_name": "us-east-1"}
    client = boto3.client("s3", endpoint_url=endpoint, **credentials)
    client.create_bucket(Bucket=BUCKET)
    settings.STORAGES = {
        **settings.STORAGES,
        "media": {
            "BACKEND": "storages.backends.s3.S3Storage",
            "OPTIONS": {
                "bucket_name": BUCKET, "endpoint_url": endpoint, "access_key": "test-key", "secret_key": "test-secret",
                "region_name": "us-east-1", "addressing_style": "path", "signature_version": "s3v4",
                "location": "media", "file_overwrite": True,
            },
        },
    }
    yield client
    server.stop()


def objects(client) -> dict[str, bytes]:
    listed = client.list_objects_v2(Bucket=BUCKET).get("Contents", [])
    return {item["Key"]: client.get_object(Bucket=BUCKET, Key=item["Key"])["Body"].read() for item in listed}


def test_the_sdk_uploads_to_the_store_with_presigned_urls_and_reads_back_through_them(live_server, project, s3):
    from langfuse.media import LangfuseMedia

    image = png(rgb=(10, 20, 30))
    with langfuse_client(live_server, api_key_for(project), flush_interval=60, flush_at=1000) as lf:
        with lf.start_as_current_observation(
            name="s3", input={"img": LangfuseMedia(content_bytes=image, content_type="image/png"),
                              "pdf": LangfuseMedia(content_bytes=PDF, content_type="application/pdf")},
        ):
            pass
        wait_for_media_uploads(lf)
        lf.flush()
        stored = {m.content_type: m for m in Media.objects.filter(project=project)}
        assert all(m.uploaded_at is not None for m in stored.values())  # verified when the SDK reported
        assert objects(s3) == {f"media/{stored['image/png'].storage_key}": image,
                               f"media/{stored['application/pdf'].storage_key}": PDF}
        read = lf.api.media.get(stored["image/png"].media_id)
        assert read.url.startswith(f"{s3.meta.endpoint_url}/{BUCKET}/media/") and "X-Amz-Signature" in read.url
        assert httpx.get(read.url).content == image


def test_bytes_put_to_a_presigned_url_that_do_not_match_the_declared_hash_are_never_served(api, project, s3):
    image = png()
    answer = api.post("media", {"traceId": "t", "contentType": "image/png", "contentLength": len(image),
                                "sha256Hash": sha256_b64(image), "field": "input"}).json()
    assert "X-Amz-Signature" in answer["uploadUrl"]
    forged = bytearray(image)
    forged[-13] ^= 0xFF
    put = httpx.put(answer["uploadUrl"], content=bytes(forged),
                    headers={"Content-Type": "image/png", "x-amz-checksum-sha256": sha256_b64(image)})
    # A real S3 refuses this PUT (the checksum header is signed and checked); moto stores it: the
    # platform's own check when the SDK reports the upload is what keeps it from being served.
    api.patch(f"media/{answer['mediaId']}", {"uploadedAt": "2026-11-30T09:00:00Z", "uploadHttpStatus": put.status_code})
    assert Media.objects.get(project=project).uploaded_at is None
    assert api.get(f"media/{answer['mediaId']}").status_code == 404


def test_a_deleted_traces_media_leaves_the_store(api, project, s3):
    from traces.services import traces_delete

    image = png()
    answer = api.post("media", {"traceId": "t", "contentType": "image/png", "contentLength": len(image),
                                "sha256Hash": sha256_b64(image), "field": "input"}).json()
    httpx.put(answer["uploadUrl"], content=image,
              headers={"Content-Type": "image/png", "x-amz-checksum-sha256": sha256_b64(image)}).raise_for_status()
    api.patch(f"media/{answer['mediaId']}", {"uploadedAt": "2026-11-30T09:00:00Z", "uploadHttpStatus": 200})
    assert Media.objects.get(project=project).uploaded_at is not None and len(objects(s3)) == 1
    traces_delete(project=project, trace_ids=["t"])
    assert objects(s3) == {}
