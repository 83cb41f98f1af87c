"""Import uploads stream to a temporary file and stop at the size limit, in the API and the admin."""

import json
import tracemalloc

import pytest
from django.test import Client, RequestFactory
from django.test.client import BOUNDARY, encode_multipart
from django.urls import reverse

from datasets import importing, uploads
from datasets.models import ImportJob
from evalsite.tenancy.roles import Role
from tests.datasets.factories import DatasetFactory
from tests.tenancy.factories import user_with_role

pytestmark = pytest.mark.django_db

LIMIT = 1024 * 1024
# Not the test client's MULTIPART_CONTENT object, which would make it encode the body again.
MULTIPART = f"multipart/form-data; boundary={BOUNDARY}"


class NamedBytes:
    """A file for `encode_multipart`, built once before memory is measured."""

    def __init__(self, name: str, content: bytes):
        self.name, self.content = name, content

    def read(self) -> bytes:
        return self.content


def jsonl(size: int) -> bytes:
    line = b'{"input": "' + b"x" * 1000 + b'"}\n'
    return (line * (size // len(line) + 1))[:size]


@pytest.fixture
def small_limit(monkeypatch):
    monkeypatch.setattr(importing, "MAX_IMPORT_BYTES", LIMIT)
    monkeypatch.setattr(uploads, "MAX_IMPORT_BYTES", LIMIT)


def multipart(content: bytes, **fields) -> bytes:
    return encode_multipart(BOUNDARY, {"file": NamedBytes("rows.jsonl", content), **fields})


class StreamedMultipart:
    """A multipart body of one file of `size` bytes, made as it is read (never whole in memory),
    that counts how much of it the server read."""

    def __init__(self, size: int):
        head, tail = multipart(b"\0").split(b"\0")
        self.parts = [(head, len(head)), (None, size), (tail, len(tail))]
        self.length = len(head) + size + len(tail)
        self.position = 0

    def read(self, size: int = -1) -> bytes:
        size = self.length - self.position if size is None or size < 0 else min(size, self.length - self.position)
        out, offset = [], self.position
        for data, length in self.parts:
            if offset >= length:
                offset -= length
                continue
            take = min(length - offset, size - sum(map(len, out)))
            out.append(data[offset : offset + take] if data is not None else b"x" * take)
            offset = 0
            if sum(map(len, out)) >= size:
                break
        chunk = b"".join(out)
        self.position += len(chunk)
        return chunk

    def readline(self, size: int = -1) -> bytes:
        return self.read(size)


def test_an_import_upload_above_the_limit_is_a_413_json_and_is_never_held_in_memory(api, project, small_limit):
    DatasetFactory(project=project, name="qa")
    client = Client()

    def post(body: StreamedMultipart):
        environ = RequestFactory().generic(
            "POST", "/api/public/datasets/qa/imports", b"", headers={"Authorization": api.authorization}
        ).environ
        environ.update({"wsgi.input": body, "CONTENT_LENGTH": str(body.length), "CONTENT_TYPE": MULTIPART})
        return client.handler(environ)

    post(StreamedMultipart(2 * LIMIT))  # the first request fills the process's caches: not measured
    body = StreamedMultipart(64 * LIMIT)
    tracemalloc.start()
    try:
        response = post(body)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert response.status_code == 413
    assert json.loads(response.content) == {"message": "An import file may be at most 1 MiB", "error": "PayloadTooLargeError"}
    # Streamed to a temporary file and stopped at the limit: of the 64 MiB, the server read little
    # more than the limit, and held less than that in memory.
    assert body.position < 2 * LIMIT
    assert peak < LIMIT, peak
    assert not ImportJob.objects.exists()


def test_an_import_upload_that_declares_a_body_above_any_limit_is_refused_before_it_is_read(
    api, project, small_limit, settings
):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    DatasetFactory(project=project, name="qa")
    body = multipart(jsonl(2 * LIMIT))

    response = Client().post(
        "/api/public/datasets/qa/imports", body, content_type=MULTIPART,
        headers={"Authorization": api.authorization},
    )

    assert response.status_code == 413 and response.json()["error"] == "PayloadTooLargeError"
    assert not ImportJob.objects.exists()


def test_an_import_upload_of_exactly_the_limit_is_accepted(api, project, small_limit):
    DatasetFactory(project=project, name="qa")

    response = Client().post(
        "/api/public/datasets/qa/imports", multipart(jsonl(LIMIT)), content_type=MULTIPART,
        headers={"Authorization": api.authorization},
    )

    assert response.status_code == 202, response.content
    assert len(ImportJob.objects.get().content) == LIMIT


@pytest.fixture
def staff_client(project):
    client = Client(enforce_csrf_checks=True)
    client.force_login(user_with_role(project, Role.MEMBER))
    return client


def admin_form(client, url, content: bytes, *, with_token: bool = True) -> bytes:
    client.get(url)  # sets the CSRF cookie
    fields = {"format": "", "input": "input", "mode": "skip_invalid", "cell_format": "text"}
    if with_token:
        fields["csrfmiddlewaretoken"] = client.cookies["csrftoken"].value
    return multipart(content, **fields)


def test_an_admin_import_upload_above_the_limit_is_a_413(staff_client, project, small_limit):
    url = reverse("admin:datasets_dataset_import", args=[DatasetFactory(project=project).pk])

    response = staff_client.post(url, admin_form(staff_client, url, jsonl(4 * LIMIT)), content_type=MULTIPART)

    assert response.status_code == 413
    assert "at most 1 MiB" in response.content.decode()
    assert not ImportJob.objects.exists()


def test_the_admin_import_still_checks_csrf_and_takes_a_file_within_the_limit(staff_client, project, small_limit):
    url = reverse("admin:datasets_dataset_import", args=[DatasetFactory(project=project).pk])

    forged = staff_client.post(url, admin_form(staff_client, url, jsonl(1000), with_token=False), content_type=MULTIPART)
    assert forged.status_code == 403
    assert not ImportJob.objects.exists()

    response = staff_client.post(url, admin_form(staff_client, url, jsonl(LIMIT)), content_type=MULTIPART)
    assert response.status_code == 302
    assert len(ImportJob.objects.get().content) == LIMIT
