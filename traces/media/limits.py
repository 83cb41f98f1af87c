"""What media the platform accepts: the content types of the langfuse SDK, up to a size.

The types are the SDK's `MediaContentType` (langfuse/api/media/types/media_content_type.py in SDK
5.0.4), copied because the SDK is a test dependency only. The size limit is a setting
(EVALSITE_MEDIA_MAX_BYTES), read on each call so tests and operators can change it.
"""

from django.conf import settings

MEDIA_CONTENT_TYPES: tuple[str, ...] = (
    "image/png", "image/jpeg", "image/jpg", "image/webp", "image/gif", "image/svg+xml", "image/tiff",
    "image/bmp", "image/avif", "image/heic",
    "audio/mpeg", "audio/mp3", "audio/wav", "audio/ogg", "audio/oga", "audio/aac", "audio/mp4",
    "audio/flac", "audio/opus", "audio/webm",
    "video/mp4", "video/webm", "video/ogg", "video/mpeg", "video/quicktime", "video/x-msvideo",
    "video/x-matroska",
    "text/plain", "text/html", "text/css", "text/csv", "text/markdown", "text/x-python",
    "application/javascript", "text/x-typescript", "application/x-yaml",
    "application/pdf", "application/msword", "application/vnd.ms-excel",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "application/zip",
    "application/json", "application/xml", "application/octet-stream",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "application/vnd.openxmlformats-officedocument.presentationml.presentation", "application/rtf",
    "application/x-ndjson", "application/vnd.apache.parquet", "application/gzip", "application/x-tar",
    "application/x-7z-compressed",
)

# Fields of a trace or observation that hold media, and of a dataset item (the SDK's two contexts).
TRACE_FIELDS = ("input", "output", "metadata")
DATASET_ITEM_FIELDS = ("input", "expectedOutput", "metadata")


def max_bytes() -> int:
    return settings.EVALSITE_MEDIA_MAX_BYTES


def upload_url_seconds() -> int:
    return settings.EVALSITE_MEDIA_UPLOAD_URL_SECONDS


def download_url_seconds() -> int:
    return settings.EVALSITE_MEDIA_DOWNLOAD_URL_SECONDS


def shown_inline(content_type: str) -> bool:
    """Types a browser shows in the page (img, audio); everything else is offered as a download,
    since serving HTML or PDF inline from our own origin would run or render it as ours."""
    return content_type.startswith(("image/", "audio/", "video/"))
