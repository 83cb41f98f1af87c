"""Queue instructions and comments: markdown rendered to HTML, then sanitised.

markdown-it-py renders CommonMark (with its raw-HTML pass-through switched off), and nh3 (the
Ammonia sanitiser) keeps only an allow-list of tags and attributes, drops every `on…` handler and
`javascript:` URL, and adds `rel="noopener noreferrer"` to links. Rendering alone is not enough:
markdown links and images can still carry dangerous URLs, so every rendering goes through both.
"""

import nh3
from django.utils.safestring import SafeString, mark_safe
from markdown_it import MarkdownIt

_renderer = MarkdownIt("commonmark", {"html": False, "linkify": False}).enable("table").enable("strikethrough")

ALLOWED_TAGS = {
    "p", "br", "hr", "h1", "h2", "h3", "h4", "h5", "h6", "strong", "em", "del", "s", "code", "pre",
    "blockquote", "ul", "ol", "li", "a", "img", "table", "thead", "tbody", "tr", "th", "td",
}
ALLOWED_ATTRIBUTES = {"a": {"href", "title"}, "img": {"src", "alt", "title"}, "th": {"style"}, "td": {"style"}}
URL_SCHEMES = {"http", "https", "mailto"}


def render_markdown(text: str | None) -> SafeString:
    """`text` as HTML safe to put into any page."""
    html = _renderer.render(text or "")
    return mark_safe(  # noqa: S308 - nh3 has just sanitised it
        nh3.clean(
            html,
            tags=ALLOWED_TAGS,
            attributes=ALLOWED_ATTRIBUTES,
            url_schemes=URL_SCHEMES,
            link_rel="noopener noreferrer",
            # Only table alignment: no overlays or hidden text from a `style`.
            filter_style_properties={"text-align"},
        )
    )
