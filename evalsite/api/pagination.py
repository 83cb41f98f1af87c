import math

from rest_framework.exceptions import ValidationError
from rest_framework.pagination import BasePagination
from rest_framework.response import Response

DEFAULT_LIMIT = 50
MAX_LIMIT = 1000
# The largest value any integer query parameter takes (PostgreSQL's `integer`): a page number, a
# version. Beyond it, `page` would ask the database for an offset it cannot represent.
MAX_INT_PARAM = 2**31 - 1


def positive_int_param(request, name: str, default: int, maximum: int = MAX_INT_PARAM) -> int:
    raw = request.query_params.get(name)
    if raw in (None, ""):
        return default
    try:
        value = int(raw)
    except ValueError:  # also a string of more digits than Python converts
        raise ValidationError({name: [f"must be a positive integer, got {raw[:50]!r}"]}) from None
    if value < 1:
        raise ValidationError({name: [f"must be at least 1, got {value}"]})
    if value > maximum:
        raise ValidationError({name: [f"must be at most {maximum}"]})
    return value


class PagePagination(BasePagination):
    """Langfuse's page pagination: `?page=1&limit=50` → `{data, meta: {page, limit, totalItems, totalPages}}`."""

    def paginate_queryset(self, queryset, request, view=None):
        self.page = positive_int_param(request, "page", 1)
        self.limit = positive_int_param(request, "limit", DEFAULT_LIMIT, MAX_LIMIT)
        self.total_items = queryset.count()
        offset = (self.page - 1) * self.limit
        return list(queryset[offset : offset + self.limit])

    def get_paginated_response(self, data):
        return Response({"data": data, "meta": self.meta()})

    def meta(self) -> dict:
        return {
            "page": self.page,
            "limit": self.limit,
            "totalItems": self.total_items,
            "totalPages": math.ceil(self.total_items / self.limit),
        }

    def get_paginated_response_schema(self, schema):
        return {
            "type": "object",
            "required": ["data", "meta"],
            "properties": {
                "data": schema,
                "meta": {
                    "type": "object",
                    "required": ["page", "limit", "totalItems", "totalPages"],
                    "properties": {k: {"type": "integer"} for k in ("page", "limit", "totalItems", "totalPages")},
                },
            },
        }
