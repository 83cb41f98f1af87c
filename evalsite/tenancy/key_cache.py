"""A short-lived cache of active API keys in each process, by public key.

Every API request authenticates, and looking its key up through the ORM (the query, its join to
the project and organization, and building three model instances) was a third of the CPU of a
small ingestion request (profiled under `bench.ingest`). Clients send many requests with one key,
so each process keeps the keys it has just seen for `EVALSITE_API_KEY_CACHE_SECONDS`.

What the cache may and may not change:
- The secret is still checked on every request, against the cached hash: a wrong secret for a
  cached public key is refused as before.
- Only keys that authenticated are kept: an unknown or revoked key is looked up every time (and
  its failures rate-limited), so nobody can fill the cache.
- A change to a key, its project or its organization (revoking a key, changing its role, deleting
  the project) forgets the entry at once in the process that made it, again when its transaction
  commits, and in every other process when the entry expires: a revoked key stops working
  everywhere within the cache time (5 s by default; 0 turns the cache off).
- Memory is bounded: at most `MAX_ENTRIES` keys, the oldest dropped first.
"""

import threading
import time

from django.conf import settings
from django.db import transaction

from evalsite.tenancy.models import ApiKey

MAX_ENTRIES = 10_000

_entries: dict[str, tuple[float, ApiKey]] = {}
_lock = threading.Lock()


def cached_api_key(public_key: str) -> ApiKey | None:
    """The key cached under `public_key` if it has not expired, else None."""
    entry = _entries.get(public_key)
    if entry is None:
        return None
    expires, api_key = entry
    if time.monotonic() >= expires:
        _entries.pop(public_key, None)
        return None
    return api_key


def cache_api_key(api_key: ApiKey) -> None:
    seconds = settings.API_KEY_CACHE_SECONDS
    if seconds <= 0:
        return
    with _lock:
        _entries.pop(api_key.public_key, None)  # re-inserted last, so it is dropped last
        while len(_entries) >= MAX_ENTRIES:
            del _entries[next(iter(_entries))]
        _entries[api_key.public_key] = (time.monotonic() + seconds, api_key)


def forget_api_key(public_key: str) -> None:
    _entries.pop(public_key, None)


def forget_all_api_keys() -> None:
    _entries.clear()


def forget_on_change(public_key: str | None = None) -> None:
    """Forget now, and again after the current transaction commits.

    The second time covers a request of this process that read the old row between the change
    and its commit and cached it.
    """

    def forget():
        if public_key is None:
            forget_all_api_keys()
        else:
            forget_api_key(public_key)

    forget()
    transaction.on_commit(forget)


def forget_changed_keys() -> None:
    """Connect the signals that forget a key when it, its project or its organization changes."""
    from django.db.models.signals import post_delete, post_save

    from evalsite.tenancy.models import Organization, Project

    def key_changed(sender, instance, **kwargs):
        forget_on_change(instance.public_key)

    def owner_changed(sender, instance, **kwargs):
        # Rare (renaming or deleting a project or organization), so every key is forgotten.
        forget_on_change()

    for signal in (post_save, post_delete):
        signal.connect(key_changed, sender=ApiKey, weak=False, dispatch_uid=f"key_cache.key.{id(signal)}")
        for owner in (Project, Organization):
            signal.connect(owner_changed, sender=owner, weak=False, dispatch_uid=f"key_cache.{owner.__name__}.{id(signal)}")
