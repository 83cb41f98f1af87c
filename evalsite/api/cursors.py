"""Keyset pagination: one opaque cursor format and one page function for every cursor list.

A page is ordered newest first by `(sort_field, pk)`; the cursor names the last row returned, and
the next page holds the rows strictly after it in that order. Unlike an offset, a cursor neither
skips nor repeats rows when new ones arrive between two pages, and each page costs one index range
scan however deep the client has paged.

Cursors are opaque to clients: base64url of `{"v": 1, "t": <sort value>, "id": <row pk>}`.
"""

from __future__ import annotations

import base64
import binascii
import json
from datetime import datetime

from django.db.models import Q, QuerySet
from rest_framework.exceptions import ValidationError

from evalsite import timestamps

CURSOR_VERSION = 1
CURSOR_ERROR = "is not a cursor returned by this endpoint"

Key = tuple[datetime, int]


def encode_cursor(moment: datetime, pk: int) -> str:
    payload = json.dumps({"v": CURSOR_VERSION, "t": moment.isoformat(), "id": pk}, separators=(",", ":"))
    return base64.urlsafe_b64encode(payload.encode()).decode().rstrip("=")


def decode_cursor(value: str | None, *, field: str | None = "cursor") -> Key | None:
    """The key a cursor names, None for no cursor; a 400 naming `field` for anything else
    (`field=None` inside a serializer's `validate_<field>`, which names the field itself)."""
    if not value:
        return None
    try:
        data = json.loads(base64.urlsafe_b64decode((value + "=" * (-len(value) % 4)).encode()).decode())
        moment = datetime.fromisoformat(data["t"])
        pk = data["id"]
        if data.get("v") != CURSOR_VERSION or moment.tzinfo is None or type(pk) is not int:
            raise ValueError(value)
        moment = timestamps.to_utc(moment)
    except (ValueError, KeyError, TypeError, binascii.Error, UnicodeDecodeError):
        raise ValidationError({field: [CURSOR_ERROR]} if field else [CURSOR_ERROR]) from None
    return moment, pk


def keyset_page(queryset: QuerySet, *, sort_field: str, after: Key | None, limit: int) -> tuple[list, str | None]:
    """One page of `queryset`, newest first, and the cursor of the next page (None on the last)."""
    if after is not None:
        moment, pk = after
        queryset = queryset.filter(Q(**{f"{sort_field}__lt": moment}) | Q(**{sort_field: moment, "pk__lt": pk}))
    rows = list(queryset.order_by(f"-{sort_field}", "-pk")[: limit + 1])
    if len(rows) <= limit:
        return rows, None
    rows = rows[:limit]
    return rows, encode_cursor(getattr(rows[-1], sort_field), rows[-1].pk)
