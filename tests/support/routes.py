"""Walks the URL configuration, so invariant tests see every route, including ones added later."""

from dataclasses import dataclass

from django.urls import URLPattern, URLResolver, get_resolver


@dataclass(frozen=True)
class Route:
    pattern: str  # e.g. "api/public/v2/datasets/<path:name>"
    name: str | None
    callback: object

    @property
    def view_class(self):
        return getattr(self.callback, "cls", None) or getattr(self.callback, "view_class", None)

    @property
    def actions(self) -> dict:
        return getattr(self.callback, "actions", None) or {}


def all_routes(resolver: URLResolver | None = None, prefix: str = "") -> list[Route]:
    resolver = resolver or get_resolver()
    routes = []
    for entry in resolver.url_patterns:
        if isinstance(entry, URLResolver):
            routes += all_routes(entry, prefix + str(entry.pattern))
        elif isinstance(entry, URLPattern):
            routes.append(Route(prefix + str(entry.pattern), entry.name, entry.callback))
    return routes


def api_routes() -> list[Route]:
    return [route for route in all_routes() if route.pattern.startswith("api/public/")]
