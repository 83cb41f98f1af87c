"""Where media bytes live: Django's storage API, alias "media" of the STORAGES setting.

By default a directory (var/media/, FileSystemStorage): uploads and downloads then go through this
platform's own signed URLs (traces/media/views.py). When the alias is django-storages' S3Storage
(any S3-compatible store, EVALSITE_MEDIA_S3_*), the SDK uploads straight to the store with a
presigned PUT that signs the declared type, length and SHA-256 checksum, so the store refuses
other bytes; downloads are presigned GETs. Anything else Django can store in works too, through
the platform's own URLs.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterator
from typing import IO

from django.core.files import File
from django.core.files.storage import Storage, storages

STORAGE_ALIAS = "media"
CHUNK_BYTES = 1024 * 1024


def media_storage() -> Storage:
    return storages[STORAGE_ALIAS]


def s3_storage(storage: Storage | None = None):
    """The storage when it is django-storages' S3Storage (an optional dependency), else None."""
    storage = storage or media_storage()
    try:
        from storages.backends.s3 import S3Storage
    except ImportError:
        return None
    return storage if isinstance(storage, S3Storage) else None


def _s3_key(storage, name: str) -> str:
    from storages.utils import clean_name

    return storage._normalize_name(clean_name(name))  # prefixes the storage's `location`


def presigned_upload_url(*, name: str, content_type: str, content_length: int, sha256_hash: str, expires: int) -> str | None:
    """A presigned PUT of the store for exactly these bytes, or None when the store has none."""
    storage = s3_storage()
    if storage is None:
        return None
    client = storage.bucket.meta.client
    return client.generate_presigned_url(
        "put_object",
        Params={
            "Bucket": storage.bucket_name,
            "Key": _s3_key(storage, name),
            "ContentType": content_type,
            "ContentLength": content_length,
            "ChecksumSHA256": sha256_hash,
        },
        ExpiresIn=expires,
    )


def presigned_download_url(*, name: str, content_type: str, attachment: bool, expires: int) -> str | None:
    storage = s3_storage()
    if storage is None:
        return None
    parameters = {"ResponseContentType": content_type}
    if attachment:
        parameters["ResponseContentDisposition"] = "attachment"
    return storage.url(name, parameters=parameters, expire=expires)


def stored_size(name: str) -> int | None:
    storage = media_storage()
    try:
        return storage.size(name) if storage.exists(name) else None
    except OSError:
        return None


def sha256_of_stored(name: str) -> str:
    with media_storage().open(name, "rb") as stored:
        return sha256_base64(iter(lambda: stored.read(CHUNK_BYTES), b""))


def sha256_base64(chunks: Iterator[bytes]) -> str:
    digest = hashlib.sha256()
    for chunk in chunks:
        digest.update(chunk)
    return base64.b64encode(digest.digest()).decode("ascii")


def save(name: str, content: IO[bytes]) -> str:
    """Store `content` under `name`, replacing what is there (a retried upload); the name used."""
    storage = media_storage()
    if storage.exists(name):
        storage.delete(name)
    return storage.save(name, File(content, name=name))


def open_stored(name: str) -> IO[bytes]:
    return media_storage().open(name, "rb")


def read(name: str) -> bytes:
    with open_stored(name) as stored:
        return stored.read()


def delete(names: list[str]) -> None:
    storage = media_storage()
    for name in names:
        storage.delete(name)
