"""A dataset item's `mediaReferences`: the SDK's media references in its input, expected output and
metadata, resolved to the project's stored media (the SDK's `DatasetItem.media_references`)."""

from urllib.parse import urlsplit

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from langfuse.api import DatasetItem as SdkDatasetItem
from langfuse.api.core.pydantic_utilities import parse_obj_as

from tests.datasets.factories import DatasetFactory, DatasetItemFactory
from tests.traces.media.factories import PDF, png, reference, sha256_b64
from traces.media.services import media_content_store, media_upload_request

pytestmark = pytest.mark.django_db


def stored_for_item(project, item, content: bytes, content_type: str, field: str):
    """As the SDK does for a dataset item: the upload request naming the item, then the bytes."""
    ticket = media_upload_request(
        project=project, content_type=content_type, content_length=len(content), sha256_hash=sha256_b64(content),
        field=field, dataset_id=item.dataset.pk, dataset_item_id=item.item_id,
    )
    media = ticket.media
    if ticket.needs_upload:
        media_content_store(
            project_id=project.pk, media_id=media.media_id, storage_key=media.storage_key,
            content_length=media.content_length, sha256_hash=media.sha256_hash, chunks=iter([content]),
        )
    return media


def item_with_media(project, image, item_id="with-media"):
    dataset = DatasetFactory(project=project, name=f"qa-{item_id}")
    item = DatasetItemFactory(
        dataset=dataset, item_id=item_id,
        input={"question": "Which colour?", "images": [reference(image, "image/png")]},
        expected_output=f"Red, as the report says: {reference(PDF, 'application/pdf')}",
        metadata={"unstored": reference(b"never uploaded", "image/jpeg")},
    )
    stored_for_item(project, item, image, "image/png", "input")
    stored_for_item(project, item, PDF, "application/pdf", "expectedOutput")
    return item


def test_an_item_s_stored_media_is_resolved_with_signed_urls_as_the_sdk_reads_it(api, client, project, media_root):
    image = png(rgb=(200, 0, 0))
    item = item_with_media(project, image)

    response = api.get(f"dataset-items/{item.item_id}")

    assert response.status_code == 200, response.content
    references = response.json()["mediaReferences"]
    assert [(r["field"], r["jsonPath"]) for r in references] == [("input", "$['images'][0]"), ("expectedOutput", "$")]
    assert references[0]["referenceString"] == reference(image, "image/png")
    assert references[0]["media"]["contentType"] == "image/png" and references[0]["media"]["contentLength"] == len(image)
    sdk_item = parse_obj_as(SdkDatasetItem, response.json())
    assert sdk_item.media_references[1].media.media_id == references[1]["media"]["mediaId"]
    url = urlsplit(references[0]["media"]["url"])
    assert url.scheme == "http" and url.netloc == "testserver"
    served = client.get(url.path)
    assert served.status_code == 200 and b"".join(served.streaming_content) == image
    # The legacy `GET /datasets/{name}` (SDK v2–v4) nests the same items.
    legacy = api.get(f"datasets/{item.dataset.name}").json()["items"][0]["mediaReferences"]
    assert [r["media"]["mediaId"] for r in legacy] == [r["media"]["mediaId"] for r in references]


def test_the_item_list_resolves_every_item_s_media_in_one_query(api, project, media_root):
    dataset = item_with_media(project, png(rgb=(0, 200, 0))).dataset
    for n in range(3):
        DatasetItemFactory(dataset=dataset, item_id=f"more-{n}", input={"image": reference(png(rgb=(0, 200, 0)), "image/png")})

    with CaptureQueriesContext(connection) as queries:
        body = api.get("dataset-items", datasetName=dataset.name).json()

    assert [len(item["mediaReferences"]) for item in body["data"]] == [1, 1, 1, 2]
    assert len([q for q in queries.captured_queries if "traces_media" in q["sql"]]) == 1


def test_another_project_s_item_naming_the_same_media_resolves_nothing(api, victim_api, project, victim_project, media_root):
    image = png(rgb=(0, 0, 200))
    item_with_media(project, image)
    victim_dataset = DatasetFactory(project=victim_project, name="theirs")
    DatasetItemFactory(dataset=victim_dataset, item_id="theirs", input={"image": reference(image, "image/png")})

    body = victim_api.get("dataset-items/theirs").json()

    assert body["mediaReferences"] == []
    assert victim_api.get("datasets/theirs").json()["items"][0]["mediaReferences"] == []
