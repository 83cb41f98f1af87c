"""The URLs a client uploads to and downloads from: the store's presigned URLs (S3), else this
platform's signed ones (traces/media/views.py). Both expire."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.urls import reverse
from django.utils import timezone

from traces.media import signing, storage
from traces.media.limits import download_url_seconds, shown_inline, upload_url_seconds
from traces.media.models import Media


def upload_url(media: Media, *, base_url: str) -> str:
    """Where the SDK PUTs the bytes; `base_url` (scheme and host) makes our own URL absolute."""
    presigned = storage.presigned_upload_url(
        name=media.storage_key, content_type=media.content_type, content_length=media.content_length,
        sha256_hash=media.sha256_hash, expires=upload_url_seconds(),
    )
    return presigned or base_url + reverse("media-upload", args=[signing.upload_token(media)])


def download_url(media: Media, *, base_url: str = "") -> tuple[str, datetime]:
    """A URL that serves the media's bytes until the returned time; relative to the site unless
    `base_url` is given (the API's answer) or the store presigns its own."""
    seconds = download_url_seconds()
    expires = timezone.now() + timedelta(seconds=seconds)
    presigned = storage.presigned_download_url(
        name=media.storage_key, content_type=media.content_type, attachment=not shown_inline(media.content_type),
        expires=seconds,
    )
    return presigned or base_url + reverse("media-download", args=[signing.download_token(media)]), expires
