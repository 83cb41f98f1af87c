"""Limits on failed authentications, per client.

Sign-ins (the pages' and the admin's) are limited by django-axes, configured in settings.py; it asks
`client_ip` who the client is. Failed API-key authentications are limited here, with a fixed-window
counter in the "ratelimit" cache: the first failure of a client opens a window of `window` seconds;
once `limit` failures fall in it, every request of that client that carries credentials is refused
with 429 and Retry-After until the window closes, valid credentials included (else a guesser would
simply carry on). Requests without credentials are not counted, and a success does not reset the
count (else one valid key would let its holder guess at others).

With Redis (REDIS_URL) the counters are shared by every web process; without it each process counts
on its own, so the effective limit is the limit times the number of processes.
"""

import math
import time
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import caches


def client_ip(request) -> str:
    """REMOTE_ADDR, or behind EVALSITE_TRUSTED_PROXIES proxies, the address the outermost one saw.

    Each proxy appends the address it received the request from to X-Forwarded-For, so with N trusted
    proxies the N-th entry from the right is the client; anything left of it is the client's own claim.
    """
    meta = request.META
    proxies = settings.EVALSITE_TRUSTED_PROXIES
    if proxies > 0:
        forwarded = [part.strip() for part in meta.get("HTTP_X_FORWARDED_FOR", "").split(",") if part.strip()]
        if len(forwarded) >= proxies:
            return forwarded[-proxies]
    return meta.get("REMOTE_ADDR") or "unknown"


@dataclass(frozen=True)
class FailureLimit:
    scope: str
    limit: int
    window_seconds: int

    def _keys(self, client: str) -> tuple[str, str]:
        return f"{self.scope}:{client}:failures", f"{self.scope}:{client}:window-end"

    def retry_after(self, client: str) -> int | None:
        """Seconds until `client` may try again, or None when it is not blocked."""
        cache = caches["ratelimit"]
        count_key, end_key = self._keys(client)
        if (cache.get(count_key) or 0) < self.limit:
            return None
        window_end = cache.get(end_key)
        return max(1, math.ceil(window_end - time.time())) if window_end else self.window_seconds

    def record_failure(self, client: str) -> None:
        cache = caches["ratelimit"]
        count_key, end_key = self._keys(client)
        if cache.add(count_key, 0, timeout=self.window_seconds):
            cache.set(end_key, time.time() + self.window_seconds, timeout=self.window_seconds)
        try:
            cache.incr(count_key)
        except ValueError:  # the window closed between add() and incr(): this failure opens a new one
            cache.set(count_key, 1, timeout=self.window_seconds)
            cache.set(end_key, time.time() + self.window_seconds, timeout=self.window_seconds)


def api_key_failures() -> FailureLimit:
    return FailureLimit(
        scope="api-key-auth",
        limit=settings.API_AUTH_FAILURE_LIMIT,
        window_seconds=settings.API_AUTH_FAILURE_WINDOW_SECONDS,
    )
