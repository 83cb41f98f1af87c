"""Media in a judge's messages: a user message whose filled text holds the SDK's media references
(`@@@langfuseMedia:type=…|id=…|source=…@@@`, e.g. `{{input}}` of a trace whose image the SDK
uploaded) is sent as OpenAI-style content parts, with the media inline
(`traces.media.selectors.media_resolve`: `image_url` data URIs, `input_audio`, `file`).

Only user messages take parts: OpenAI-compatible providers refuse images in system and assistant
messages, so references there stay text. All media of one call share one budget,
EVALSITE_EVAL_MEDIA_MAX_BYTES; media beyond it, missing, of another project, or of a type a model
cannot take stays a text part describing it. A message without media stays a plain string.

The bytes are read from storage (one query per message, one read per media) by the executor's
coordinating thread just before the call is handed to the pool, so only the calls about to run
hold them in memory.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings

from evalsite.tenancy.models import Project
from traces.media.references import refs_in
from traces.media.selectors import media_resolve


def max_total_bytes() -> int:
    return settings.EVALSITE_EVAL_MEDIA_MAX_BYTES


def _has_media(message: dict) -> bool:
    content = message.get("content")
    return message.get("role") == "user" and isinstance(content, str) and bool(refs_in([content]))


def holds_media(messages: list[dict]) -> bool:
    """Whether some user message refers to media (cheap: no query, no storage read)."""
    return any(_has_media(message) for message in messages)


def messages_with_media(*, project: Project, messages: list[dict], budget: int | None = None) -> list[dict]:
    """`messages` with each user message that refers to media as content parts carrying the media
    of `project`, at most `budget` bytes (default EVALSITE_EVAL_MEDIA_MAX_BYTES) in all."""
    remaining = max_total_bytes() if budget is None else budget
    result = []
    for message in messages:
        if not _has_media(message):
            result.append(message)
            continue
        parts = media_resolve(project=project, value=message["content"], max_total_bytes=remaining)
        remaining -= sum(part_bytes(part) for part in parts)
        result.append({**message, "content": parts})
    return result


def part_bytes(part: dict[str, Any]) -> int:
    """The bytes of media a content part carries (0 for text): the length of its base64 decoded."""
    kind = part.get("type")
    if kind == "image_url":
        encoded = part["image_url"]["url"].partition("base64,")[2]
    elif kind == "input_audio":
        encoded = part["input_audio"]["data"]
    elif kind == "file":
        encoded = part["file"]["file_data"].partition("base64,")[2]
    else:
        return 0
    # Counted from the length (base64 has no line breaks here), not decoded: no copy of the bytes.
    return len(encoded) * 3 // 4 - (len(encoded) - len(encoded.rstrip("=")))
