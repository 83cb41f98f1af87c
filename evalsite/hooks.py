"""Extension points: how an app low in the order (DESIGN.md §3) lets the apps above it plug in.

A lower app declares a point in its own `hooks.py` ("the trace page shows panels", "the dataset
admin has actions"); a higher app registers into it from its `AppConfig.ready()`. The lower app
reads what was registered and never imports the app above it, the way `django.contrib.admin`
knows nothing of the apps that register their models with it.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Generic, TypeVar

T = TypeVar("T")


class ExtensionPoint(Generic[T]):
    """An ordered set of registered items (callables, classes, descriptions).

    Registering the same item twice keeps one copy, so a `ready()` that runs again (as it can in
    tests) changes nothing. Items are read in registration order, which follows INSTALLED_APPS.
    """

    def __init__(self, name: str):
        self.name = name
        self._items: list[T] = []

    def register(self, item: T) -> T:
        """Add `item`; returns it, so this works as a decorator."""
        if item not in self._items:
            self._items.append(item)
        return item

    def __iter__(self) -> Iterator[T]:
        return iter(list(self._items))

    def __len__(self) -> int:
        return len(self._items)

    def __repr__(self) -> str:
        return f"<ExtensionPoint {self.name}: {len(self._items)} registered>"
