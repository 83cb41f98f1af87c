"""Writes of media: the upload request, storing verified bytes, the SDK's upload report, deletion.

Every path that serves media requires `Media.uploaded_at`, which only this module sets, and only
after it saw the stored bytes match the declared length and SHA-256: on the local storage when the
upload arrives (`media_content_store`), on an S3 store when the SDK reports its upload
(`media_upload_report`), by reading the object back.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import tempfile
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from evalsite.errors import NotFound
from evalsite.tenancy.models import Project
from traces.media import storage
from traces.media.limits import DATASET_ITEM_FIELDS, MEDIA_CONTENT_TYPES, TRACE_FIELDS, max_bytes
from traces.media.models import Media, MediaReference

UPLOAD_ERROR_LIMIT = 2000  # characters of the SDK's reported upload error kept


def media_id_for(sha256_hash: str) -> str:
    """The SDK's media id for a content: its SHA-256, url-safe base64, first 22 characters."""
    return sha256_hash.replace("+", "-").replace("/", "_")[:22]


@dataclass(frozen=True)
class UploadTicket:
    media: Media
    needs_upload: bool  # False: the project already has these bytes, the SDK skips its upload


@transaction.atomic
def media_upload_request(
    *,
    project: Project,
    content_type: str,
    content_length: int,
    sha256_hash: str,
    field: str,
    trace_id: str | None = None,
    observation_id: str | None = None,
    dataset_id: str | None = None,
    dataset_item_id: str | None = None,
) -> UploadTicket:
    """Record that a trace, observation or dataset item field holds the content with this hash, and
    say whether its bytes still have to be uploaded (not when the project already stores them)."""
    _check_upload_request(
        content_type=content_type, content_length=content_length, sha256_hash=sha256_hash, field=field,
        trace_id=trace_id, observation_id=observation_id, dataset_id=dataset_id, dataset_item_id=dataset_item_id,
    )
    media_id = media_id_for(sha256_hash)
    media, created = Media.objects.get_or_create(
        project=project,
        sha256_hash=sha256_hash,
        defaults={
            "media_id": media_id,
            "content_type": content_type,
            "content_length": content_length,
            "storage_key": f"{project.pk}/{media_id}/{uuid.uuid4().hex}",
        },
    )
    if not created:
        # Locked, so a deletion of the content's last reference cannot interleave with this use.
        media = Media.objects.select_for_update().get(pk=media.pk)
        if media.uploaded_at is None and (media.content_type, media.content_length) != (content_type, content_length):
            # Not stored yet: the latest declaration is the one the next upload URL holds bytes to.
            media.content_type, media.content_length = content_type, content_length
            media.save(update_fields=["content_type", "content_length", "updated_at"])
    MediaReference.objects.get_or_create(
        project=project,
        media=media,
        trace_id=trace_id or "",
        observation_id=observation_id or "",
        dataset_item_id=dataset_item_id or "",
        field=field,
        defaults={"dataset_id": dataset_id or ""},
    )
    return UploadTicket(media=media, needs_upload=media.uploaded_at is None)


def _check_upload_request(
    *, content_type, content_length, sha256_hash, field, trace_id, observation_id, dataset_id, dataset_item_id
) -> None:
    errors: dict[str, str] = {}
    if content_type not in MEDIA_CONTENT_TYPES:
        errors["content_type"] = f"'{content_type}' is not an accepted media type (the langfuse SDK's MediaContentType)"
    if content_length < 1:
        errors["content_length"] = "must be at least 1 byte"
    elif content_length > max_bytes():
        errors["content_length"] = f"{content_length} bytes is above the limit of {max_bytes()} bytes per file"
    try:
        digest = base64.b64decode(sha256_hash, validate=True)
    except (binascii.Error, ValueError):
        digest = b""
    if len(digest) != 32:
        errors["sha256_hash"] = "must be the standard base64 of a 32-byte SHA-256 digest"
    if trace_id:
        if dataset_id or dataset_item_id:
            errors["dataset_id"] = "give a trace or a dataset item, not both"
        elif field not in TRACE_FIELDS:
            errors["field"] = f"must be one of {', '.join(TRACE_FIELDS)} for a trace"
    elif dataset_id and dataset_item_id:
        if observation_id:
            errors["observation_id"] = "only a trace's media has an observation"
        elif field not in DATASET_ITEM_FIELDS:
            errors["field"] = f"must be one of {', '.join(DATASET_ITEM_FIELDS)} for a dataset item"
    else:
        errors["trace_id"] = "a trace id, or a dataset id and a dataset item id, is required"
    if errors:
        raise ValidationError(errors)


def media_content_store(
    *, project_id: str, media_id: str, storage_key: str, content_length: int, sha256_hash: str, chunks: Iterator[bytes]
) -> Media:
    """Store the uploaded bytes of a media, after checking they are the declared length and hash.

    The bytes go to a temporary file first (never more than the declared length plus one chunk is
    read), so nothing unverified ever reaches the media storage.
    """
    media = Media.objects.filter(project_id=project_id, media_id=media_id, storage_key=storage_key).first()
    if media is None:
        raise NotFound("Media not found")
    with tempfile.SpooledTemporaryFile(max_size=8 * 1024 * 1024) as spool:
        received = 0
        digest = hashlib.sha256()
        for chunk in chunks:
            received += len(chunk)
            if received > content_length:
                break
            digest.update(chunk)
            spool.write(chunk)
        if received != content_length:
            raise ValidationError({"content_length": f"received {received} bytes, declared {content_length}"})
        if base64.b64encode(digest.digest()).decode("ascii") != sha256_hash:
            raise ValidationError({"sha256_hash": "the bytes do not match the declared SHA-256"})
        spool.seek(0)
        name = storage.save(storage_key, spool)
    with transaction.atomic():
        media = Media.objects.select_for_update().filter(pk=media.pk, storage_key=storage_key).first()
        if media is None or name != storage_key:
            # Deleted (or replaced) while the bytes were coming: they belong to nothing.
            transaction.on_commit(lambda: storage.delete([name]))
            raise NotFound("Media not found")
        if media.uploaded_at is None:
            media.uploaded_at = timezone.now()
            media.save(update_fields=["uploaded_at", "updated_at"])
    return media


@transaction.atomic
def media_upload_report(
    *,
    project: Project,
    media_id: str,
    uploaded_at: datetime | None,
    upload_http_status: int,
    upload_http_error: str | None = None,
    upload_time_ms: int | None = None,
) -> Media:
    """Keep what the SDK says about its upload; on a success, verify the stored bytes (a store the
    SDK uploaded to directly, S3) and from then on serve them."""
    media = Media.objects.select_for_update().filter(project=project, media_id=media_id).first()
    if media is None:
        raise NotFound(f"Media not found: {media_id}")
    media.upload_http_status = upload_http_status
    media.upload_http_error = (upload_http_error or "")[:UPLOAD_ERROR_LIMIT] or None
    media.upload_time_ms = upload_time_ms
    if media.uploaded_at is None and 200 <= upload_http_status < 300 and _stored_bytes_verified(media):
        media.uploaded_at = timezone.now()
    media.save(update_fields=["upload_http_status", "upload_http_error", "upload_time_ms", "uploaded_at", "updated_at"])
    return media


def _stored_bytes_verified(media: Media) -> bool:
    # Read back, not the store's own checksum: an S3-compatible store may keep the checksum header
    # it was sent without checking it (moto does), and the presigned URL is all a client needs.
    if storage.stored_size(media.storage_key) != media.content_length:
        return False
    return storage.sha256_of_stored(media.storage_key) == media.sha256_hash


# --- deletion -------------------------------------------------------------------------------


@transaction.atomic
def media_references_delete(
    *, project: Project, trace_ids: Iterable[str] = (), dataset_item_ids: Iterable[str] = ()
) -> int:
    """Delete the media references of these traces (their observations' included) or dataset items,
    then every content of them left without a reference, with its stored object after the commit.
    The number of contents deleted."""
    trace_ids, dataset_item_ids = sorted(set(trace_ids)), sorted(set(dataset_item_ids))
    references = MediaReference.objects.filter(project=project)
    if trace_ids and dataset_item_ids:
        references = references.filter(trace_id__in=trace_ids) | references.filter(dataset_item_id__in=dataset_item_ids)
    elif trace_ids:
        references = references.filter(trace_id__in=trace_ids)
    elif dataset_item_ids:
        references = references.filter(dataset_item_id__in=dataset_item_ids)
    else:
        return 0
    media_pks = set(references.values_list("media_id", flat=True))
    if not media_pks:
        return 0
    references.delete()
    # Locked before the check, as media_upload_request locks before adding a reference: a content
    # gets a new use or goes, never both.
    orphans = list(
        Media.objects.select_for_update()
        .filter(project=project, pk__in=media_pks)
        .exclude(pk__in=MediaReference.objects.filter(project=project, media_id__in=media_pks).values("media_id"))
        .values_list("pk", "storage_key")
    )
    return _media_delete(project=project, rows=orphans)


def media_delete_for_project(*, project: Project) -> None:
    """Before a project is deleted (its rows go by cascade): its stored objects go after the commit."""
    rows = list(Media.objects.filter(project=project).values_list("pk", "storage_key"))
    _media_delete(project=project, rows=rows)


def _media_delete(*, project: Project, rows: list[tuple[int, str]]) -> int:
    if not rows:
        return 0
    Media.objects.filter(project=project, pk__in=[pk for pk, _ in rows]).delete()
    names = [name for _, name in rows]
    # After the commit: a rolled-back deletion keeps its bytes.
    transaction.on_commit(lambda: storage.delete(names))
    return len(rows)
