"""The unmodified langfuse SDK (5.0.4) uploading media against a live server, and reading it back."""

import httpx
import pytest

from tests.support.live import langfuse_client, wait_for_media_uploads
from tests.tenancy.factories import api_key_for
from tests.traces.media.factories import PDF, png, reference
from traces.media.models import Media, MediaReference
from traces.models import Observation, Trace

pytestmark = [pytest.mark.live, pytest.mark.django_db(transaction=True)]


def test_the_sdk_uploads_an_image_and_a_pdf_of_a_traces_input_and_reads_them_back(live_server, project, media_root):
    from langfuse.media import LangfuseMedia

    image, key = png(), api_key_for(project)
    with langfuse_client(live_server, key, flush_interval=60, flush_at=1000) as lf:
        with lf.start_as_current_observation(
            name="describe",
            input={
                "question": "What is in the picture and the document?",
                "picture": LangfuseMedia(content_bytes=image, content_type="image/png"),
                "document": LangfuseMedia(content_bytes=PDF, content_type="application/pdf"),
            },
        ) as root:
            root.update(output="a red square and an empty page")
        trace_id, observation_id = root.trace_id, root.id
        wait_for_media_uploads(lf)
        lf.flush()

        stored = {m.content_type: m for m in Media.objects.filter(project=project)}
        assert set(stored) == {"image/png", "application/pdf"}
        assert all(m.uploaded_at is not None and m.upload_http_status == 200 for m in stored.values())
        for media, content in ((stored["image/png"], image), (stored["application/pdf"], PDF)):
            assert (media_root / media.storage_key).read_bytes() == content
            assert MediaReference.objects.filter(
                project=project, media=media, trace_id=trace_id, observation_id=observation_id, field="input"
            ).exists()
            read = lf.api.media.get(media.media_id)
            assert (read.media_id, read.content_type, read.content_length) == (media.media_id, media.content_type, len(content))
            assert httpx.get(read.url).content == content

        # The SDK's own resolver turns the stored references back into the data URIs.
        observation = Observation.objects.get(project=project, observation_id=observation_id)
        assert observation.input["picture"] == reference(image, "image/png")
        resolved = LangfuseMedia.resolve_media_references(
            obj=observation.input, langfuse_client=lf, resolve_with="base64_data_uri"
        )
        assert resolved["picture"].startswith("data:image/png;base64,")
    assert Trace.objects.get(project=project, trace_id=trace_id).input["document"] == reference(PDF, "application/pdf")


def test_a_second_upload_of_the_same_bytes_is_skipped_and_only_referenced(live_server, project, media_root):
    from langfuse.media import LangfuseMedia

    image = png(rgb=(0, 120, 0))
    with langfuse_client(live_server, api_key_for(project), flush_interval=60, flush_at=1000) as lf:
        with lf.start_as_current_observation(name="first", input={"img": LangfuseMedia(content_bytes=image, content_type="image/png")}):
            pass
        wait_for_media_uploads(lf)
        lf.flush()
        first = Media.objects.get(project=project)
        with lf.start_as_current_observation(name="second", output={"img": LangfuseMedia(content_bytes=image, content_type="image/png")}) as second:
            pass
        wait_for_media_uploads(lf)
        lf.flush()

    media = Media.objects.get(project=project)  # still one content, stored once
    assert media.pk == first.pk and media.updated_at == first.updated_at
    assert sorted(MediaReference.objects.filter(project=project).values_list("field", flat=True)) == ["input", "output"]
    assert MediaReference.objects.filter(media=media, trace_id=second.trace_id, field="output").exists()
    assert [p for p in media_root.rglob("*") if p.is_file()] == [media_root / media.storage_key]


def test_media_refused_by_the_limits_leaves_the_trace_with_its_placeholder(live_server, project, media_root, settings):
    from langfuse.media import LangfuseMedia

    settings.EVALSITE_MEDIA_MAX_BYTES = 100
    big = png(width=64, height=64, rgb=(1, 2, 3)) + b"\x00" * 200
    with langfuse_client(live_server, api_key_for(project), flush_interval=60, flush_at=1000) as lf:
        with lf.start_as_current_observation(
            name="too-big", input={"img": LangfuseMedia(content_bytes=big, content_type="image/png")}
        ) as root:
            pass
        wait_for_media_uploads(lf)
        lf.flush()
    assert not Media.objects.filter(project=project).exists()
    trace = Trace.objects.get(project=project, trace_id=root.trace_id)
    assert trace.input == {"img": reference(big, "image/png")}
