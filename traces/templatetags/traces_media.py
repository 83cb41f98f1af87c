"""`{% load traces_media %}` … `{% media_inline text %}`: text with its media references shown.

The page may put `media_links` (media id → link, from `traces.media.selectors.media_links`, one
query for the whole page) in its context; without it each tag looks up its own references in the
context's `project` (one query per text that holds any).
"""

from django import template

from traces.media.rendering import render_media
from traces.media.selectors import media_links

register = template.Library()


@register.simple_tag(takes_context=True)
def media_inline(context, text):
    text = "" if text is None else str(text)
    links = context.get("media_links")
    if links is None:
        project = context.get("project")
        links = media_links(project=project, values=[text]) if project is not None and "@@@langfuseMedia:" in text else {}
    return render_media(text, links)
