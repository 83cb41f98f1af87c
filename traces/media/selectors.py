"""Reads of media: one media, the links a page shows for the references in some values, and the
content parts a judge receives. Every function takes the project; media of another project is
never found, whatever the reference says."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from evalsite.tenancy.models import Project
from traces.media import links, references, storage
from traces.media.limits import max_bytes, shown_inline
from traces.media.models import Media
from traces.media.references import MediaRef


def media_get(*, project: Project | str, media_id: str, uploaded: bool = False) -> Media | None:
    """The media `media_id` of `project` (a Project or its id); `uploaded`: only once its bytes
    are stored and verified."""
    media = Media.objects.filter(project_id=getattr(project, "pk", project), media_id=media_id)
    if uploaded:
        media = media.filter(uploaded_at__isnull=False)
    return media.first()


@dataclass(frozen=True)
class MediaLink:
    media_id: str
    content_type: str
    content_length: int
    url: str  # a signed URL, valid for EVALSITE_MEDIA_DOWNLOAD_URL_SECONDS
    inline: bool  # an image, audio or video a page may show in place
    expires_at: datetime  # when `url` stops working


def media_links(*, project: Project | str, values: Iterable[Any], base_url: str = "") -> dict[str, MediaLink]:
    """Media id → link, for every stored media that `values` (JSON values or text) refer to.

    One query whatever the number of references; references to media not (yet) stored, or of
    another project, have no link.
    """
    refs = references.refs_in(values)
    if not refs:
        return {}
    found = Media.objects.filter(
        project=project, media_id__in=[ref.media_id for ref in refs], uploaded_at__isnull=False
    )
    result = {}
    for media in found:
        url, expires_at = links.download_url(media, base_url=base_url)
        result[media.media_id] = MediaLink(
            media_id=media.media_id, content_type=media.content_type, content_length=media.content_length,
            url=url, inline=shown_inline(media.content_type), expires_at=expires_at,
        )
    return result


@dataclass(frozen=True)
class ResolvedReference:
    field: str
    json_path: str  # of the string holding the reference, within the field
    reference: MediaRef
    link: MediaLink


def media_references_resolved(
    *, project: Project | str, fields: dict[str, Any], links: dict[str, MediaLink] | None = None, base_url: str = ""
) -> list[ResolvedReference]:
    """Each reference in `fields` (field name → JSON value) to media `project` stores, field by field
    in the order given, in document order within a field. `links`: from `media_links` of the same
    project over many values at once (one query for a page); without it they are looked up here. A reference to media
    not stored (or of another project) is left out: it has nothing to resolve to."""
    if links is None:
        links = media_links(project=project, values=fields.values(), base_url=base_url)
    resolved = []
    for name, value in fields.items():
        for path, ref in references.refs_at_paths(value):
            link = links.get(ref.media_id)
            if link is not None:
                resolved.append(ResolvedReference(field=name, json_path=path, reference=ref, link=link))
    return resolved


# OpenAI's input_audio part takes these formats only.
AUDIO_FORMATS = {"audio/wav": "wav", "audio/mpeg": "mp3", "audio/mp3": "mp3"}


def media_resolve(*, project: Project, value: Any, max_total_bytes: int | None = None) -> list[dict[str, Any]]:
    """`value` (a trace's input, an output, any JSON or text) as OpenAI-style chat content parts,
    with its media in place: images as `image_url` parts, WAV/MP3 as `input_audio`, PDFs as `file`
    parts, all carrying their bytes inline (data URIs / base64), since a model endpoint cannot reach
    this platform's signed URLs. Text around them is `text` parts (non-string values as JSON).

    A reference whose media is missing, of another type, or beyond `max_total_bytes` (default:
    EVALSITE_MEDIA_MAX_BYTES, all media of the value together) stays a text part describing it.
    One query plus one storage read per media shown.
    """
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, indent=2, default=str)
    pieces = list(references.split(text))
    refs = [piece for piece in pieces if isinstance(piece, MediaRef)]
    stored = (
        {m.media_id: m for m in Media.objects.filter(project=project, media_id__in=[r.media_id for r in refs], uploaded_at__isnull=False)}
        if refs
        else {}
    )
    budget = max_bytes() if max_total_bytes is None else max_total_bytes
    parts: list[dict[str, Any]] = []
    for piece in pieces:
        if isinstance(piece, str):
            _add_text(parts, piece)
            continue
        media = stored.get(piece.media_id)
        part = None
        if media is not None and media.content_length <= budget:
            part = _media_part(media)
            if part is not None:
                budget -= media.content_length
        if part is None:
            state = "not stored" if media is None else "not shown"
            _add_text(parts, f"[media {piece.content_type}, id {piece.media_id}: {state}]")
        else:
            parts.append(part)
    return parts


def _media_part(media: Media) -> dict[str, Any] | None:
    content_type = media.content_type
    if not (content_type.startswith("image/") or content_type in AUDIO_FORMATS or content_type == "application/pdf"):
        return None
    encoded = base64.b64encode(storage.read(media.storage_key)).decode("ascii")
    if content_type.startswith("image/"):
        return {"type": "image_url", "image_url": {"url": f"data:{content_type};base64,{encoded}"}}
    if content_type in AUDIO_FORMATS:
        return {"type": "input_audio", "input_audio": {"data": encoded, "format": AUDIO_FORMATS[content_type]}}
    return {
        "type": "file",
        "file": {"filename": f"{media.media_id}.pdf", "file_data": f"data:application/pdf;base64,{encoded}"},
    }


def _add_text(parts: list[dict[str, Any]], text: str) -> None:
    if not text:
        return
    if parts and parts[-1]["type"] == "text":
        parts[-1]["text"] += text
    else:
        parts.append({"type": "text", "text": text})
