"""The SDK's media reference strings: `@@@langfuseMedia:type=<mime>|id=<mediaId>|source=<source>@@@`.

The SDK puts one where a trace's input, output or metadata held the media (a base64 data URI, a
`LangfuseMedia`), alone or inside longer text; parsing follows the SDK's
`LangfuseMedia.parse_reference_string` (key=value pairs split on "|"; type, id and source required).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

REFERENCE = re.compile(r"@@@langfuseMedia:([^@]+)@@@")
# How deep a value is searched, as the SDK's resolver does (max_depth=10) plus room for wrappers.
MAX_DEPTH = 20


@dataclass(frozen=True)
class MediaRef:
    media_id: str
    content_type: str
    source: str
    text: str  # the reference string as it appeared


def parse(match: re.Match) -> MediaRef | None:
    fields = {}
    for pair in match.group(1).split("|"):
        key, sep, value = pair.partition("=")
        if not sep:
            return None
        fields[key] = value
    if not all(fields.get(key) for key in ("type", "id", "source")):
        return None
    return MediaRef(media_id=fields["id"], content_type=fields["type"], source=fields["source"], text=match.group(0))


def split(text: str) -> Iterator[str | MediaRef]:
    """`text` as its pieces in order: plain strings and the references between them."""
    position = 0
    for match in REFERENCE.finditer(text):
        ref = parse(match)
        if ref is None:
            continue
        if match.start() > position:
            yield text[position : match.start()]
        yield ref
        position = match.end()
    if position < len(text):
        yield text[position:]


def strings_in(value: Any, depth: int = 0) -> Iterator[str]:
    """Every string of a JSON value, keys included (metadata keys can hold references too)."""
    if depth > MAX_DEPTH:
        return
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield str(key)
            yield from strings_in(item, depth + 1)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from strings_in(item, depth + 1)


def refs_at_paths(value: Any, path: str = "$", depth: int = 0) -> Iterator[tuple[str, MediaRef]]:
    """(JSONPath of the string holding it, reference) for each reference in the string values of a
    JSON value, in document order; paths in the form of the SDK's example `$['image']`
    (`$['messages'][0]['content']` deeper down, `$` for a string alone)."""
    if depth > MAX_DEPTH:
        return
    if isinstance(value, str):
        if "@@@langfuseMedia:" in value:
            for piece in split(value):
                if isinstance(piece, MediaRef):
                    yield path, piece
    elif isinstance(value, dict):
        for key, item in value.items():
            quoted = str(key).replace("\\", "\\\\").replace("'", "\\'")
            yield from refs_at_paths(item, f"{path}['{quoted}']", depth + 1)
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            yield from refs_at_paths(item, f"{path}[{index}]", depth + 1)


def refs_in(values: Iterable[Any]) -> list[MediaRef]:
    """The references found in `values` (JSON values or text), first appearance first, no repeats."""
    found: dict[str, MediaRef] = {}
    for value in values:
        for text in strings_in(value):
            if "@@@langfuseMedia:" not in text:
                continue
            for piece in split(text):
                if isinstance(piece, MediaRef):
                    found.setdefault(piece.media_id, piece)
    return list(found.values())
