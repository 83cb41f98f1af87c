"""Media references in text shown on a page: images inline, audio with a player, other files as
download links, all through signed URLs (traces/media/selectors.py `media_links`)."""

from __future__ import annotations

from django.template.defaultfilters import filesizeformat
from django.utils.html import escape, format_html
from django.utils.safestring import SafeString, mark_safe

from traces.media import references
from traces.media.references import MediaRef
from traces.media.selectors import MediaLink


def render_media(text: str, links: dict[str, MediaLink]) -> SafeString:
    """`text`, escaped, with each media reference replaced by what shows the media."""
    if "@@@langfuseMedia:" not in text:
        return escape(text)
    html = []
    for piece in references.split(text):
        html.append(escape(piece) if isinstance(piece, str) else _media_html(piece, links.get(piece.media_id)))
    return mark_safe("".join(html))  # every piece is escaped or built by format_html


def _media_html(ref: MediaRef, link: MediaLink | None) -> str:
    if link is None:
        return format_html(
            '<span class="media media-missing" title="{}">[{} media {}: not available]</span>',
            ref.text, ref.content_type, ref.media_id,
        )
    label = f"{link.content_type} · {filesizeformat(link.content_length)}"
    if link.content_type.startswith("image/"):
        return format_html(
            '<a class="media media-image" href="{}" target="_blank" rel="noopener"><img src="{}" alt="{}" '
            'loading="lazy" style="display:block;max-width:100%;max-height:16rem"></a>',
            link.url, link.url, f"{label} ({link.media_id})",
        )
    if link.content_type.startswith("audio/"):
        return format_html(
            '<span class="media media-audio"><audio controls preload="none" src="{}"></audio> '
            '<a href="{}" target="_blank" rel="noopener">{}</a></span>',
            link.url, link.url, label,
        )
    return format_html(
        '<a class="media media-file" href="{}" target="_blank" rel="noopener">📎 {}</a>', link.url, label
    )
